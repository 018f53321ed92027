/*
 * Unit tests of the name codec (include/namecodec.h): deterministic name
 * encryption per directory, the long-name stand-ins, symlink targets and
 * sealed values, and every alteration of a stored form, which must end in
 * -EIO.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "namecodec.h"
#include "check_main.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const size_t name_lens[] = { 1, 15, 16, 17, 100, 159, 160, 175,
                                    200, 255 };

/* ---- helpers ---------------------------------------------------------- */

/* A fresh random client key's name keys and a random directory ID. */
static void new_keys(struct nc_key *k, unsigned char *dirid)
{
	unsigned char key[32];

	randombytes_buf(key, sizeof(key));
	nc_key_derive(k, key);
	sodium_memzero(key, sizeof(key));
	if (dirid != NULL)
		randombytes_buf(dirid, NC_DIRIDBYTES);
}

/* len random bytes, none of them '/' or NUL; not NUL-terminated. */
static void random_name(char *out, size_t len)
{
	randombytes_buf(out, len);
	for (size_t i = 0; i < len; i++)
		if (out[i] == '/' || out[i] == '\0')
			out[i] = 'x';
}

static bool only_b64url(const char *s, size_t len)
{
	return strspn(s, b64url) == len;
}

/* Length of the stored form: base64 (no padding) of SIV and padded name. */
static size_t stored_len(size_t len)
{
	size_t bytes = 16 + (len / 16 + 1) * 16;

	return (bytes * 4 + 2) / 3;
}

/* Encrypts name, checks the stored form's shape and that it decrypts
 * back; returns the stored length. */
static int roundtrip(const struct nc_key *k, const unsigned char *dirid,
                     const char *name, size_t len, char *enc)
{
	char dec[NC_NAME_MAX + 1];
	int n;

	n = nc_encrypt(k, dirid, name, len, enc);
	ck_assert_msg(n > 0, "nc_encrypt of a %zu-byte name: %d", len, n);
	ck_assert_uint_eq((size_t)n, strlen(enc));
	ck_assert_uint_eq((size_t)n, stored_len(len));
	ck_assert_uint_lt((size_t)n, NC_ENC_MAX);
	ck_assert_msg(only_b64url(enc, (size_t)n),
	              "stored name \"%s\" has characters outside "
	              "[A-Za-z0-9_-]", enc);
	ck_assert_msg(enc[0] != '.', "stored name starts with a dot");
	memset(dec, 0x55, sizeof(dec));
	ck_assert_int_eq(nc_decrypt(k, dirid, enc, (size_t)n, dec), (int)len);
	ck_assert_mem_eq(dec, name, len);
	ck_assert_int_eq(dec[len], '\0');
	return n;
}

/* nc_decrypt of enc[0..len) must be -EIO. */
static void assert_bad_name(const struct nc_key *k, const unsigned char *dirid,
                            const char *enc, size_t len, const char *what)
{
	char dec[NC_NAME_MAX + 1];
	int rc = nc_decrypt(k, dirid, enc, len, dec);

	ck_assert_msg(rc == -EIO, "%s: nc_decrypt returned %d, not -EIO",
	              what, rc);
}

/* ---- core ------------------------------------------------------------- */

START_TEST(test_roundtrip_lengths)
{
	unsigned char dirid[NC_DIRIDBYTES];
	char name[NC_NAME_MAX], enc[NC_ENC_MAX];
	struct nc_key k;

	new_keys(&k, dirid);
	for (size_t l = 0; l < NELEM(name_lens); l++) {
		for (int rep = 0; rep < 50; rep++) {
			random_name(name, name_lens[l]);
			roundtrip(&k, dirid, name, name_lens[l], enc);
		}
	}
	/* Every length, once. */
	for (size_t len = 1; len <= NC_NAME_MAX; len++) {
		random_name(name, len);
		roundtrip(&k, dirid, name, len, enc);
	}
	nc_key_wipe(&k);
}
END_TEST

START_TEST(test_roundtrip_special)
{
	static const char *const names[] = {
		"a", ".", "..", ".hidden", ".dirid", ".key", "with space",
		" leading", "trailing ", "new\nline", "tab\there", "\r\n",
		"caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.txt",
		"\xf0\x9f\x93\x81 dossier", "\x80", "x\x80", "\x80\x80\x80",
		"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80",
		"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80",
		"\xff\xfe\x01", "0123456789abcdef", "backslash\\name",
	};
	unsigned char dirid[NC_DIRIDBYTES];
	char enc[NC_ENC_MAX];
	struct nc_key k;

	new_keys(&k, dirid);
	for (size_t i = 0; i < NELEM(names); i++)
		roundtrip(&k, dirid, names[i], strlen(names[i]), enc);
	nc_key_wipe(&k);
}
END_TEST

START_TEST(test_deterministic)
{
	unsigned char dirid[NC_DIRIDBYTES];
	char name[NC_NAME_MAX], e1[NC_ENC_MAX], e2[NC_ENC_MAX];
	struct nc_key k, k2;
	unsigned char key[32];

	randombytes_buf(key, sizeof(key));
	randombytes_buf(dirid, sizeof(dirid));
	nc_key_derive(&k, key);
	nc_key_derive(&k2, key);               /* derivation is stable too */
	for (size_t l = 0; l < NELEM(name_lens); l++) {
		random_name(name, name_lens[l]);
		roundtrip(&k, dirid, name, name_lens[l], e1);
		roundtrip(&k2, dirid, name, name_lens[l], e2);
		ck_assert_str_eq(e1, e2);
		/* A one-byte change of the name changes the whole SIV. */
		name[name_lens[l] - 1] ^= 0x01;
		if (name[name_lens[l] - 1] == '/' || name[name_lens[l] - 1] == 0)
			name[name_lens[l] - 1] = 'q';
		roundtrip(&k, dirid, name, name_lens[l], e2);
		ck_assert_str_ne(e1, e2);
		ck_assert_mem_ne(e1, e2, 21);  /* first 16 bytes: the SIV */
	}
	/* Names that differ only in length (a prefix) differ. */
	roundtrip(&k, dirid, "abc", 3, e1);
	roundtrip(&k, dirid, "abcd", 4, e2);
	ck_assert_str_ne(e1, e2);
	nc_key_wipe(&k);
	nc_key_wipe(&k2);
}
END_TEST

START_TEST(test_dirid_binds)
{
	unsigned char d1[NC_DIRIDBYTES], d2[NC_DIRIDBYTES];
	char name[NC_NAME_MAX], e1[NC_ENC_MAX], e2[NC_ENC_MAX];
	struct nc_key k;
	int n;

	new_keys(&k, d1);
	for (size_t l = 0; l < NELEM(name_lens); l++) {
		memcpy(d2, d1, sizeof(d2));
		d2[l % NC_DIRIDBYTES] ^= 0x40;
		random_name(name, name_lens[l]);
		n = roundtrip(&k, d1, name, name_lens[l], e1);
		roundtrip(&k, d2, name, name_lens[l], e2);
		ck_assert_str_ne(e1, e2);
		ck_assert_mem_ne(e1, e2, 21);
		assert_bad_name(&k, d2, e1, (size_t)n, "wrong dirid");
	}
	nc_key_wipe(&k);
}
END_TEST

START_TEST(test_long_names)
{
	unsigned char dirid[NC_DIRIDBYTES];
	char name[NC_NAME_MAX], enc[NC_ENC_MAX], enc2[NC_ENC_MAX];
	char lname[NC_LONG_LEN + 1], sname[NC_LONG_LEN + 1];
	char lname2[NC_LONG_LEN + 1];
	struct nc_key k;

	new_keys(&k, dirid);
	for (size_t l = 0; l < NELEM(name_lens); l++) {
		size_t len = name_lens[l];
		int n;

		random_name(name, len);
		n = roundtrip(&k, dirid, name, len, enc);
		/* 159 bytes is the longest name stored as it is. */
		ck_assert_msg(((size_t)n > NC_MAX_STORED) == (len >= 160),
		              "%zu-byte name stored in %d characters", len, n);
		if ((size_t)n <= NC_MAX_STORED) {
			ck_assert_int_eq(nc_is_entry(enc), 1);
			continue;
		}
		memset(lname, '#', sizeof(lname));
		memset(sname, '#', sizeof(sname));
		nc_long_name(enc, (size_t)n, NC_LONG_PREFIX, lname);
		nc_long_name(enc, (size_t)n, NC_SIDE_PREFIX, sname);
		ck_assert_uint_eq(strlen(lname), NC_LONG_LEN);
		ck_assert_uint_eq(strlen(sname), NC_LONG_LEN);
		ck_assert_mem_eq(lname, NC_LONG_PREFIX, 2);
		ck_assert_mem_eq(sname, NC_SIDE_PREFIX, 2);
		ck_assert(only_b64url(lname + 2, NC_LONG_LEN - 2));
		ck_assert_str_eq(lname + 2, sname + 2);
		ck_assert_int_eq(nc_is_entry(lname), 1);
		ck_assert_int_eq(nc_is_entry(sname), 0);

		/* Stable, and distinct for another stored name. */
		nc_long_name(enc, (size_t)n, NC_LONG_PREFIX, lname2);
		ck_assert_str_eq(lname, lname2);
		name[0] = name[0] == 'a' ? 'b' : 'a';
		roundtrip(&k, dirid, name, len, enc2);
		nc_long_name(enc2, strlen(enc2), NC_LONG_PREFIX, lname2);
		ck_assert_str_ne(lname, lname2);
	}
	nc_key_wipe(&k);
}
END_TEST

START_TEST(test_is_entry)
{
	static const char *const reserved[] = {
		".dirid", ".key", ".", "..", ".N", ".Nxxx", ".L", ".Lshort",
		".hidden",
	};
	unsigned char dirid[NC_DIRIDBYTES];
	char name[NC_NAME_MAX], enc[NC_ENC_MAX], shaped[NC_LONG_LEN + 2];
	struct nc_key k;

	for (size_t i = 0; i < NELEM(reserved); i++)
		ck_assert_msg(nc_is_entry(reserved[i]) == 0,
		              "nc_is_entry(\"%s\") accepted", reserved[i]);
	/* ".L" and 32 characters is a stand-in; ".N" or another length not. */
	memset(shaped, 'A', sizeof(shaped));
	memcpy(shaped, NC_LONG_PREFIX, 2);
	shaped[NC_LONG_LEN] = '\0';
	ck_assert_int_eq(nc_is_entry(shaped), 1);
	shaped[NC_LONG_LEN - 1] = '\0';
	ck_assert_int_eq(nc_is_entry(shaped), 0);
	shaped[NC_LONG_LEN - 1] = 'A';
	shaped[NC_LONG_LEN] = 'A';
	shaped[NC_LONG_LEN + 1] = '\0';
	ck_assert_int_eq(nc_is_entry(shaped), 0);
	shaped[NC_LONG_LEN] = '\0';
	memcpy(shaped, NC_SIDE_PREFIX, 2);
	ck_assert_int_eq(nc_is_entry(shaped), 0);

	new_keys(&k, dirid);
	for (int rep = 0; rep < 200; rep++) {
		size_t len = 1 + randombytes_uniform(159);

		random_name(name, len);
		roundtrip(&k, dirid, name, len, enc);
		ck_assert_msg(nc_is_entry(enc) == 1, "stored \"%s\" rejected",
		              enc);
	}
	nc_key_wipe(&k);
}
END_TEST

START_TEST(test_link_roundtrip)
{
	static const size_t lens[] = { 1, 2, 100, 1000, 2999, NC_LINK_MAX };
	char target[NC_LINK_MAX], enc[PATH_MAX], dec[PATH_MAX], enc2[PATH_MAX];
	struct nc_key k;
	int n;

	new_keys(&k, NULL);
	for (size_t l = 0; l < NELEM(lens); l++) {
		random_name(target, lens[l]);
		target[0] = '/';                /* targets may hold slashes */
		n = nc_link_encrypt(&k, target, lens[l], enc);
		ck_assert_int_gt(n, 0);
		ck_assert_uint_eq((size_t)n, strlen(enc));
		ck_assert_int_lt(n, PATH_MAX);
		ck_assert(only_b64url(enc, (size_t)n));
		memset(dec, 0x55, sizeof(dec));
		ck_assert_int_eq(nc_link_decrypt(&k, enc, (size_t)n, dec),
		                 (int)lens[l]);
		ck_assert_mem_eq(dec, target, lens[l]);
		ck_assert_int_eq(dec[lens[l]], '\0');
		/* Sealed with a fresh nonce each time. */
		ck_assert_int_eq(nc_link_encrypt(&k, target, lens[l], enc2), n);
		ck_assert_str_ne(enc, enc2);
	}
	n = nc_link_encrypt(&k, "../clients/a b/file.pdf", 23, enc);
	ck_assert_int_eq(nc_link_decrypt(&k, enc, (size_t)n, dec), 23);
	ck_assert_str_eq(dec, "../clients/a b/file.pdf");
	nc_key_wipe(&k);
}
END_TEST

START_TEST(test_seal_roundtrip)
{
	static const size_t lens[] = { 0, 1, 64, 1000, 65536 };
	static const char ad[] = "inode 42 xattr user.note";
	unsigned char *pt = malloc(65536), *out = malloc(65536 + 64);
	unsigned char *back = malloc(65536);
	struct nc_key k;

	ck_assert(pt && out && back);
	new_keys(&k, NULL);
	for (size_t l = 0; l < NELEM(lens); l++) {
		randombytes_buf(pt, lens[l]);
		ck_assert_int_eq(nc_seal(&k, ad, sizeof(ad), pt, lens[l], out),
		                 (int)(lens[l] + NC_SEAL_OVERHEAD));
		ck_assert_int_eq(nc_open(&k, ad, sizeof(ad), out,
		                         lens[l] + NC_SEAL_OVERHEAD, back),
		                 (int)lens[l]);
		ck_assert_mem_eq(back, pt, lens[l]);
	}
	/* No AD at all works too, and must stay no AD. */
	nc_seal(&k, NULL, 0, pt, 10, out);
	ck_assert_int_eq(nc_open(&k, NULL, 0, out, 10 + NC_SEAL_OVERHEAD,
	                         back), 10);
	ck_assert_mem_eq(back, pt, 10);
	nc_key_wipe(&k);
	free(pt);
	free(out);
	free(back);
}
END_TEST

START_TEST(test_key_derive)
{
	unsigned char key[32];
	struct nc_key a, b;

	randombytes_buf(key, sizeof(key));
	nc_key_derive(&a, key);
	key[0] ^= 1;
	nc_key_derive(&b, key);
	ck_assert_mem_ne(a.mac, b.mac, 32);
	ck_assert_mem_ne(a.mac, a.enc, 32);
	ck_assert_mem_ne(a.enc, a.seal, 32);
	ck_assert_mem_ne(a.mac, a.seal, 32);
	nc_key_wipe(&a);
	ck_assert_uint_eq(sodium_is_zero((unsigned char *)&a, sizeof(a)), 1);
}
END_TEST

/* ---- limits ----------------------------------------------------------- */

START_TEST(test_name_too_long)
{
	unsigned char dirid[NC_DIRIDBYTES];
	char name[1000], enc[NC_ENC_MAX];
	struct nc_key k;

	new_keys(&k, dirid);
	random_name(name, sizeof(name));
	ck_assert_int_eq(nc_encrypt(&k, dirid, name, NC_NAME_MAX + 1, enc),
	                 -ENAMETOOLONG);
	ck_assert_int_eq(nc_encrypt(&k, dirid, name, 256, enc), -ENAMETOOLONG);
	ck_assert_int_eq(nc_encrypt(&k, dirid, name, sizeof(name), enc),
	                 -ENAMETOOLONG);
	ck_assert_int_gt(nc_encrypt(&k, dirid, name, 255, enc), 0);
	nc_key_wipe(&k);
}
END_TEST

START_TEST(test_stored_too_long)
{
	unsigned char dirid[NC_DIRIDBYTES];
	char enc[2 * NC_ENC_MAX];
	struct nc_key k;

	new_keys(&k, dirid);
	memset(enc, 'A', sizeof(enc));
	enc[sizeof(enc) - 1] = '\0';
	/* Too long to be any name, however it decodes. */
	assert_bad_name(&k, dirid, enc, NC_ENC_MAX, "NC_ENC_MAX characters");
	assert_bad_name(&k, dirid, enc, sizeof(enc) - 1, "800 characters");
	/* The length of a stored 255-byte name, and more than its buffer. */
	assert_bad_name(&k, dirid, enc, stored_len(255), "363 characters");
	assert_bad_name(&k, dirid, enc, stored_len(256), "384 characters");
	assert_bad_name(&k, dirid, enc, 0, "empty stored name");
	nc_key_wipe(&k);
}
END_TEST

START_TEST(test_link_too_long)
{
	char target[NC_LINK_MAX + 2], enc[PATH_MAX];
	struct nc_key k;

	new_keys(&k, NULL);
	random_name(target, sizeof(target));
	ck_assert_int_eq(nc_link_encrypt(&k, target, NC_LINK_MAX + 1, enc),
	                 -ENAMETOOLONG);
	ck_assert_int_eq(nc_link_encrypt(&k, target, NC_LINK_MAX + 2, enc),
	                 -ENAMETOOLONG);
	ck_assert_int_gt(nc_link_encrypt(&k, target, NC_LINK_MAX, enc), 0);
	nc_key_wipe(&k);
}
END_TEST

/* ---- errors ----------------------------------------------------------- */

START_TEST(test_invalid_names)
{
	static const char *const slashy[] = {
		"/", "/a", "a/", "a/b", "//", "a b/c d",
	};
	unsigned char dirid[NC_DIRIDBYTES];
	char enc[NC_ENC_MAX], name[NC_NAME_MAX];
	struct nc_key k;

	new_keys(&k, dirid);
	ck_assert_int_eq(nc_encrypt(&k, dirid, "", 0, enc), -EINVAL);
	ck_assert_int_eq(nc_encrypt(&k, dirid, "abc", 0, enc), -EINVAL);
	for (size_t i = 0; i < NELEM(slashy); i++)
		ck_assert_msg(nc_encrypt(&k, dirid, slashy[i],
		                         strlen(slashy[i]), enc) == -EINVAL,
		              "\"%s\" accepted", slashy[i]);
	/* A NUL inside the given length. */
	ck_assert_int_eq(nc_encrypt(&k, dirid, "ab\0cd", 5, enc), -EINVAL);
	ck_assert_int_eq(nc_encrypt(&k, dirid, "ab\0", 3, enc), -EINVAL);
	/* A slash at the end of a long name. */
	random_name(name, sizeof(name));
	name[sizeof(name) - 1] = '/';
	ck_assert_int_eq(nc_encrypt(&k, dirid, name, sizeof(name), enc),
	                 -EINVAL);
	nc_key_wipe(&k);
}
END_TEST

START_TEST(test_wrong_key)
{
	unsigned char dirid[NC_DIRIDBYTES];
	char name[NC_NAME_MAX], enc[NC_ENC_MAX], enc2[NC_ENC_MAX];
	struct nc_key k, other;
	int n;

	new_keys(&k, dirid);
	new_keys(&other, NULL);
	for (size_t l = 0; l < NELEM(name_lens); l++) {
		random_name(name, name_lens[l]);
		n = roundtrip(&k, dirid, name, name_lens[l], enc);
		roundtrip(&other, dirid, name, name_lens[l], enc2);
		ck_assert_str_ne(enc, enc2);
		assert_bad_name(&other, dirid, enc, (size_t)n, "wrong key");
	}
	nc_key_wipe(&k);
	nc_key_wipe(&other);
}
END_TEST

START_TEST(test_not_base64)
{
	static const char *const junk[] = {
		"hello.txt", "a+b", "abc=", "====", "AAAA AAAA",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.", "A",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};
	unsigned char dirid[NC_DIRIDBYTES];
	struct nc_key k;

	new_keys(&k, dirid);
	for (size_t i = 0; i < NELEM(junk); i++)
		assert_bad_name(&k, dirid, junk[i], strlen(junk[i]), junk[i]);
	nc_key_wipe(&k);
}
END_TEST

START_TEST(test_link_errors)
{
	char enc[PATH_MAX], dec[PATH_MAX];
	struct nc_key k, other;
	int n;

	new_keys(&k, NULL);
	new_keys(&other, NULL);
	n = nc_link_encrypt(&k, "target", 6, enc);
	ck_assert_int_eq(nc_link_decrypt(&other, enc, (size_t)n, dec), -EIO);
	ck_assert_int_eq(nc_link_decrypt(&k, "not a link!", 11, dec), -EIO);
	ck_assert_int_eq(nc_link_decrypt(&k, "", 0, dec), -EIO);
	ck_assert_int_eq(nc_link_decrypt(&k, "AAAA", 4, dec), -EIO);
	nc_key_wipe(&k);
	nc_key_wipe(&other);
}
END_TEST

START_TEST(test_seal_errors)
{
	static const char ad[] = "inode 42", ad2[] = "inode 43";
	unsigned char pt[100], out[100 + NC_SEAL_OVERHEAD], back[100];
	struct nc_key k, other;
	size_t n = sizeof(out);

	new_keys(&k, NULL);
	new_keys(&other, NULL);
	randombytes_buf(pt, sizeof(pt));
	nc_seal(&k, ad, sizeof(ad), pt, sizeof(pt), out);
	ck_assert_int_eq(nc_open(&k, ad2, sizeof(ad2), out, n, back), -EIO);
	ck_assert_int_eq(nc_open(&k, ad, sizeof(ad) - 1, out, n, back), -EIO);
	ck_assert_int_eq(nc_open(&k, NULL, 0, out, n, back), -EIO);
	ck_assert_int_eq(nc_open(&other, ad, sizeof(ad), out, n, back), -EIO);
	ck_assert_int_eq(nc_open(&k, ad, sizeof(ad), out, n - 1, back), -EIO);
	ck_assert_int_eq(nc_open(&k, ad, sizeof(ad), out,
	                         NC_SEAL_OVERHEAD - 1, back), -EIO);
	ck_assert_int_eq(nc_open(&k, ad, sizeof(ad), out, 0, back), -EIO);
	ck_assert_int_eq(nc_open(&k, ad, sizeof(ad), out, n, back),
	                 (int)sizeof(pt));
	nc_key_wipe(&k);
	nc_key_wipe(&other);
}
END_TEST

/* ---- tamper ----------------------------------------------------------- */

/* Every position of a stored name replaced by every other ASCII byte (in
 * the alphabet or not); bytes 0x80..0xff are test_tamper_high_byte's. */
START_TEST(test_tamper_every_char)
{
	static const size_t lens[] = { 1, 17, 159, 160, 255 };
	unsigned char dirid[NC_DIRIDBYTES];
	char name[NC_NAME_MAX], enc[NC_ENC_MAX], what[64];
	struct nc_key k;

	new_keys(&k, dirid);
	for (size_t l = 0; l < NELEM(lens); l++) {
		size_t n;

		random_name(name, lens[l]);
		n = (size_t)roundtrip(&k, dirid, name, lens[l], enc);
		for (size_t pos = 0; pos < n; pos++) {
			char orig = enc[pos];

			for (int c = 0x01; c < 0x80; c++) {
				if (c == orig)
					continue;
				enc[pos] = (char)c;
				snprintf(what, sizeof(what),
				         "len %zu: char %zu '%c' -> 0x%02x",
				         lens[l], pos, orig, c);
				assert_bad_name(&k, dirid, enc, n, what);
			}
			enc[pos] = orig;
		}
		roundtrip(&k, dirid, name, lens[l], enc);
	}
	nc_key_wipe(&k);
}
END_TEST

/* A stored name holding '_', so that the aliasing below is exercised. */
static size_t name_with_underscore(const struct nc_key *k,
                                   const unsigned char *dirid, size_t len,
                                   char *enc)
{
	char name[NC_NAME_MAX];

	for (int tries = 0; tries < 10000; tries++) {
		random_name(name, len);
		roundtrip(k, dirid, name, len, enc);
		if (strchr(enc, '_') != NULL)
			return strlen(enc);
	}
	ck_abort_msg("no stored name with '_' in 10000 tries");
	return 0;
}

/* Every position of a stored name replaced by every byte 0x80..0xff: no
 * such byte is base64url, so none may decode. */
START_TEST(test_tamper_high_byte)
{
	static const size_t lens[] = { 1, 255 };
	unsigned char dirid[NC_DIRIDBYTES];
	char enc[NC_ENC_MAX], what[80];
	struct nc_key k;

	new_keys(&k, dirid);
	for (size_t l = 0; l < NELEM(lens); l++) {
		size_t n = name_with_underscore(&k, dirid, lens[l], enc);

		for (size_t pos = 0; pos < n; pos++) {
			char orig = enc[pos];

			for (int c = 0x80; c <= 0xff; c++) {
				enc[pos] = (char)c;
				snprintf(what, sizeof(what),
				         "len %zu: char %zu '%c' -> 0x%02x",
				         lens[l], pos, orig, c);
				assert_bad_name(&k, dirid, enc, n, what);
			}
			enc[pos] = orig;
		}
	}
	nc_key_wipe(&k);
}
END_TEST

START_TEST(test_tamper_truncate_extend)
{
	static const size_t lens[] = { 1, 16, 100, 200, 255 };
	unsigned char dirid[NC_DIRIDBYTES];
	char name[NC_NAME_MAX], enc[NC_ENC_MAX + 8], what[64];
	struct nc_key k;

	new_keys(&k, dirid);
	for (size_t l = 0; l < NELEM(lens); l++) {
		size_t n;

		random_name(name, lens[l]);
		n = (size_t)roundtrip(&k, dirid, name, lens[l], enc);
		for (size_t cut = 0; cut < n; cut++) {
			snprintf(what, sizeof(what), "len %zu cut to %zu",
			         lens[l], cut);
			assert_bad_name(&k, dirid, enc, cut, what);
		}
		/* Appended characters. */
		for (size_t extra = 1; extra <= 4; extra++) {
			memset(enc + n, 'A', extra);
			enc[n + extra] = '\0';
			snprintf(what, sizeof(what), "len %zu plus %zu",
			         lens[l], extra);
			assert_bad_name(&k, dirid, enc, n + extra, what);
		}
	}
	nc_key_wipe(&k);
}
END_TEST

/* The SIV of one name with the ciphertext of another of the same length. */
START_TEST(test_tamper_splice)
{
	unsigned char dirid[NC_DIRIDBYTES];
	char a[40], b[40], ea[NC_ENC_MAX], eb[NC_ENC_MAX];
	struct nc_key k;
	size_t n;

	new_keys(&k, dirid);
	random_name(a, sizeof(a));
	random_name(b, sizeof(b));
	n = (size_t)roundtrip(&k, dirid, a, sizeof(a), ea);
	roundtrip(&k, dirid, b, sizeof(b), eb);
	/* 16 bytes of SIV are the first 21 characters and 2 bits of the
	 * 22nd; 24 characters are 18 bytes exactly. */
	memcpy(ea + 24, eb + 24, n - 24);
	assert_bad_name(&k, dirid, ea, n, "spliced SIV and ciphertext");
	nc_key_wipe(&k);
}
END_TEST

START_TEST(test_tamper_link)
{
	char target[1000], enc[PATH_MAX], dec[PATH_MAX];
	struct nc_key k;
	size_t n;

	new_keys(&k, NULL);
	random_name(target, sizeof(target));
	n = (size_t)nc_link_encrypt(&k, target, sizeof(target), enc);
	for (size_t pos = 0; pos < n; pos++) {
		char orig = enc[pos];

		enc[pos] = orig == 'A' ? 'B' : 'A';
		ck_assert_msg(nc_link_decrypt(&k, enc, n, dec) == -EIO,
		              "link char %zu changed: not -EIO", pos);
		ck_assert_ptr_null(memmem(dec, sizeof(target), target, 16));
		enc[pos] = orig;
	}
	for (size_t cut = 0; cut < n; cut += 7)
		ck_assert_msg(nc_link_decrypt(&k, enc, cut, dec) == -EIO,
		              "link cut to %zu: not -EIO", cut);
	ck_assert_int_eq(nc_link_decrypt(&k, enc, n - 1, dec), -EIO);
	ck_assert_int_eq(nc_link_decrypt(&k, enc, n, dec), (int)sizeof(target));
	nc_key_wipe(&k);
}
END_TEST

/* A stored link target with a '_' replaced by a byte 0x80..0xff. */
START_TEST(test_tamper_link_high_byte)
{
	char target[100], enc[PATH_MAX], dec[PATH_MAX];
	struct nc_key k;
	size_t n = 0, pos;

	new_keys(&k, NULL);
	for (int tries = 0; tries < 10000 && n == 0; tries++) {
		random_name(target, sizeof(target));
		n = (size_t)nc_link_encrypt(&k, target, sizeof(target), enc);
		if (strchr(enc, '_') == NULL)
			n = 0;
	}
	ck_assert_uint_gt(n, 0);
	pos = (size_t)(strchr(enc, '_') - enc);
	for (int c = 0x80; c <= 0xff; c++) {
		enc[pos] = (char)c;
		ck_assert_msg(nc_link_decrypt(&k, enc, n, dec) == -EIO,
		              "link char %zu '_' -> 0x%02x: not -EIO", pos, c);
	}
	nc_key_wipe(&k);
}
END_TEST

START_TEST(test_tamper_seal)
{
	static const char ad[] = "ad";
	unsigned char pt[64], out[64 + NC_SEAL_OVERHEAD], back[64];
	struct nc_key k;

	new_keys(&k, NULL);
	randombytes_buf(pt, sizeof(pt));
	nc_seal(&k, ad, sizeof(ad), pt, sizeof(pt), out);
	for (size_t pos = 0; pos < sizeof(out); pos++) {
		for (int bit = 0; bit < 8; bit++) {
			out[pos] ^= (unsigned char)(1u << bit);
			ck_assert_msg(nc_open(&k, ad, sizeof(ad), out, sizeof(out),
			                      back) == -EIO,
			              "sealed byte %zu bit %d: not -EIO", pos, bit);
			out[pos] ^= (unsigned char)(1u << bit);
		}
	}
	nc_key_wipe(&k);
}
END_TEST

/* ---- suite ------------------------------------------------------------ */

static Suite *namecodec_suite(void)
{
	Suite *s = suite_create("namecodec");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");
	TCase *tamper = tcase_create("tamper");

	tcase_add_test(core, test_roundtrip_lengths);
	tcase_add_test(core, test_roundtrip_special);
	tcase_add_test(core, test_deterministic);
	tcase_add_test(core, test_dirid_binds);
	tcase_add_test(core, test_long_names);
	tcase_add_test(core, test_is_entry);
	tcase_add_test(core, test_link_roundtrip);
	tcase_add_test(core, test_seal_roundtrip);
	tcase_add_test(core, test_key_derive);

	tcase_add_test(limits, test_name_too_long);
	tcase_add_test(limits, test_stored_too_long);
	tcase_add_test(limits, test_link_too_long);

	tcase_add_test(errors, test_invalid_names);
	tcase_add_test(errors, test_wrong_key);
	tcase_add_test(errors, test_not_base64);
	tcase_add_test(errors, test_link_errors);
	tcase_add_test(errors, test_seal_errors);

	tcase_set_timeout(tamper, 60);
	tcase_add_test(tamper, test_tamper_every_char);
	tcase_add_test(tamper, test_tamper_high_byte);
	tcase_add_test(tamper, test_tamper_truncate_extend);
	tcase_add_test(tamper, test_tamper_splice);
	tcase_add_test(tamper, test_tamper_link);
	tcase_add_test(tamper, test_tamper_link_high_byte);
	tcase_add_test(tamper, test_tamper_seal);

	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	suite_add_tcase(s, errors);
	suite_add_tcase(s, tamper);
	return s;
}

CHECK_MAIN(namecodec_suite)
