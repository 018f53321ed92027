/*
 * Unit tests of the block codec (include/blockcodec.h): block and header
 * round trips, the size arithmetic, and every way a stored block or header
 * can be altered, which must all end in -EIO (or -EPROTONOSUPPORT for a
 * newer format version).
 *
 * Loop tests run once per cipher; AES-256-GCM is skipped (the test passes
 * without doing anything) on a CPU where libsodium does not offer it.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "blockcodec.h"
#include "check_main.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define MAXSTORED (BC_BLOCK + 64u)     /* room for any stored block */
#define GIB (1024ull * 1024 * 1024)

static const enum bc_cipher ciphers[] = { BC_AES256GCM, BC_XCHACHA20POLY1305 };
static const size_t block_lens[] = { 1, 100, 4095, 4096 };

/* ---- helpers ---------------------------------------------------------- */

/* The cipher of loop iteration i, or false if this CPU cannot run it. */
static bool cipher_of(int i, enum bc_cipher *c)
{
	*c = ciphers[i];
	return *c != BC_AES256GCM || crypto_aead_aes256gcm_is_available();
}

/* Random bytes with no zero byte: a wiped buffer then never matches. */
static void fill_nonzero(unsigned char *p, size_t n)
{
	randombytes_buf(p, n);
	for (size_t i = 0; i < n; i++)
		if (p[i] == 0)
			p[i] = 0x5a;
}

/* Number of positions at which a and b hold the same byte. */
static size_t same_bytes(const unsigned char *a, const unsigned char *b,
                         size_t n)
{
	size_t same = 0;

	for (size_t i = 0; i < n; i++)
		same += a[i] == b[i];
	return same;
}

static void new_file(enum bc_cipher c, const unsigned char *wrap,
                     unsigned flags, unsigned char *hdr, struct bc_key *k)
{
	ck_assert_int_eq(bc_file_new(c, wrap, flags, hdr, k), 0);
	ck_assert_int_eq(k->cipher, c);
	ck_assert_uint_eq(k->flags, flags);
}

/* Encrypts pt[0..len) as block index; returns the stored length. */
static size_t seal_block(const struct bc_key *k, uint64_t index,
                         const unsigned char *pt, size_t len,
                         unsigned char *out)
{
	ck_assert_int_eq(bc_encrypt(k, index, pt, len, out), 0);
	return len + bc_overhead(k->cipher);
}

/* bc_decrypt must fail with -EIO and leave none of orig (the block's
 * plaintext) in the output buffer, which starts out differing from orig
 * at every position. */
static void assert_rejected(const struct bc_key *k, uint64_t index,
                            const unsigned char *in, size_t inlen,
                            const unsigned char *orig, size_t len,
                            const char *what)
{
	unsigned char pt[BC_BLOCK];
	int rc;

	for (size_t i = 0; i < len; i++)
		pt[i] = (unsigned char)~orig[i];
	rc = bc_decrypt(k, index, in, inlen, pt);
	ck_assert_msg(rc == -EIO, "%s: bc_decrypt returned %d, not -EIO",
	              what, rc);
	ck_assert_msg(same_bytes(pt, orig, len) == 0,
	              "%s: %zu plaintext bytes left in the output", what,
	              same_bytes(pt, orig, len));
}

static unsigned header_version(const unsigned char *hdr)
{
	return hdr[4] | (unsigned)hdr[5] << 8;
}

/* ---- core ------------------------------------------------------------- */

START_TEST(test_block_roundtrip)
{
	static const uint64_t indexes[] = { 0, 1, 7, UINT32_MAX + 1ull,
	                                    UINT64_MAX };
	unsigned char wrap[BC_KEYBYTES], hdr[BC_HEADER];
	unsigned char pt[BC_BLOCK], out[BC_BLOCK], st[MAXSTORED];
	struct bc_key k;
	enum bc_cipher c;

	if (!cipher_of(_i, &c))
		return;
	randombytes_buf(wrap, sizeof(wrap));
	new_file(c, wrap, 0, hdr, &k);
	for (size_t l = 0; l < NELEM(block_lens); l++) {
		for (size_t x = 0; x < NELEM(indexes); x++) {
			size_t len = block_lens[l], n;

			randombytes_buf(pt, len);
			n = seal_block(&k, indexes[x], pt, len, st);
			memset(out, 0xee, sizeof(out));
			ck_assert_int_eq(bc_decrypt(&k, indexes[x], st, n, out),
			                 (int)len);
			ck_assert_mem_eq(out, pt, len);
			/* The stored form does not show the plaintext. */
			if (len >= 16)
				ck_assert_ptr_null(memmem(st, n, pt, 16));
		}
	}
	bc_key_wipe(&k);
}
END_TEST

START_TEST(test_overhead)
{
	ck_assert_uint_eq(bc_overhead(BC_AES256GCM),
	                  crypto_aead_aes256gcm_NPUBBYTES +
	                  crypto_aead_aes256gcm_ABYTES);
	ck_assert_uint_eq(bc_overhead(BC_XCHACHA20POLY1305),
	                  crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
	                  crypto_aead_xchacha20poly1305_ietf_ABYTES);
	for (size_t i = 0; i < NELEM(ciphers); i++) {
		enum bc_cipher c = ciphers[i];
		uint64_t ds = BC_BLOCK + bc_overhead(c);

		ck_assert_uint_eq(bc_block_offset(c, 0), BC_HEADER);
		ck_assert_uint_eq(bc_block_offset(c, 1), BC_HEADER + ds);
		ck_assert_uint_eq(bc_block_offset(c, 5 * GIB / BC_BLOCK),
		                  BC_HEADER + 5 * GIB / BC_BLOCK * ds);
	}
}
END_TEST

START_TEST(test_header_roundtrip)
{
	static const unsigned flag_sets[] = { 0, BC_F_HOLES };
	unsigned char wrap[BC_KEYBYTES], hdr[BC_HEADER];
	unsigned char pt[BC_BLOCK], out[BC_BLOCK], st[MAXSTORED];
	struct bc_key k, o;
	enum bc_cipher c;

	if (!cipher_of(_i, &c))
		return;
	randombytes_buf(wrap, sizeof(wrap));
	for (size_t f = 0; f < NELEM(flag_sets); f++) {
		size_t n;

		new_file(c, wrap, flag_sets[f], hdr, &k);
		ck_assert_mem_eq(hdr, "DSFC", 4);
		ck_assert_uint_eq(header_version(hdr), BC_VERSION);
		ck_assert_uint_eq(hdr[6], (unsigned)c);
		/* The raw file key does not appear in the header. */
		ck_assert_ptr_null(memmem(hdr, BC_HEADER, k.raw, 8));

		ck_assert_int_eq(bc_file_open(c, wrap, hdr, &o), 0);
		ck_assert_int_eq(o.cipher, c);
		ck_assert_uint_eq(o.flags, flag_sets[f]);
		ck_assert_mem_eq(o.raw, k.raw, BC_KEYBYTES);
		ck_assert_mem_eq(o.id, k.id, BC_IDBYTES);

		/* Blocks written with one key open with the other. */
		randombytes_buf(pt, BC_BLOCK);
		n = seal_block(&k, 3, pt, BC_BLOCK, st);
		ck_assert_int_eq(bc_decrypt(&o, 3, st, n, out), (int)BC_BLOCK);
		ck_assert_mem_eq(out, pt, BC_BLOCK);
		n = seal_block(&o, 4, pt, 10, st);
		ck_assert_int_eq(bc_decrypt(&k, 4, st, n, out), 10);
		ck_assert_mem_eq(out, pt, 10);
		bc_key_wipe(&k);
		bc_key_wipe(&o);
	}
}
END_TEST

START_TEST(test_new_files_differ)
{
	unsigned char wrap[BC_KEYBYTES], h1[BC_HEADER], h2[BC_HEADER];
	struct bc_key a, b;
	enum bc_cipher c;

	if (!cipher_of(_i, &c))
		return;
	randombytes_buf(wrap, sizeof(wrap));
	new_file(c, wrap, 0, h1, &a);
	new_file(c, wrap, 0, h2, &b);
	ck_assert_mem_ne(a.raw, b.raw, BC_KEYBYTES);
	ck_assert_mem_ne(a.id, b.id, BC_IDBYTES);
	ck_assert_mem_ne(h1, h2, BC_HEADER);
}
END_TEST

START_TEST(test_fresh_nonce)
{
	unsigned char wrap[BC_KEYBYTES], hdr[BC_HEADER], pt[BC_BLOCK];
	unsigned char s1[MAXSTORED], s2[MAXSTORED];
	struct bc_key k;
	enum bc_cipher c;
	size_t n, nl;

	if (!cipher_of(_i, &c))
		return;
	nl = bc_overhead(c) - 16;
	randombytes_buf(wrap, sizeof(wrap));
	new_file(c, wrap, 0, hdr, &k);
	for (size_t l = 0; l < NELEM(block_lens); l++) {
		randombytes_buf(pt, block_lens[l]);
		n = seal_block(&k, 9, pt, block_lens[l], s1);
		ck_assert_uint_eq(seal_block(&k, 9, pt, block_lens[l], s2), n);
		ck_assert_mem_ne(s1, s2, nl);              /* nonce */
		ck_assert_mem_ne(s1 + nl, s2 + nl, n - nl); /* ct and tag */
	}
	bc_key_wipe(&k);
}
END_TEST

START_TEST(test_rewrap)
{
	unsigned char w1[BC_KEYBYTES], w2[BC_KEYBYTES];
	unsigned char h1[BC_HEADER], h2[BC_HEADER];
	unsigned char pt[BC_BLOCK], out[BC_BLOCK], st[MAXSTORED];
	struct bc_key k, o;
	enum bc_cipher c;
	size_t n;

	if (!cipher_of(_i, &c))
		return;
	randombytes_buf(w1, sizeof(w1));
	randombytes_buf(w2, sizeof(w2));
	new_file(c, w1, 0, h1, &k);
	randombytes_buf(pt, 500);
	n = seal_block(&k, 0, pt, 500, st);

	/* Move to another wrap key and turn on holes on the way. */
	k.flags = BC_F_HOLES;
	ck_assert_int_eq(bc_file_wrap(&k, w2, h2), 0);
	ck_assert_int_eq(bc_file_open(c, w2, h2, &o), 0);
	ck_assert_mem_eq(o.raw, k.raw, BC_KEYBYTES);
	ck_assert_mem_eq(o.id, k.id, BC_IDBYTES);
	ck_assert_uint_eq(o.flags, BC_F_HOLES);
	ck_assert_int_eq(bc_decrypt(&o, 0, st, n, out), 500);
	ck_assert_mem_eq(out, pt, 500);

	/* The new header does not open with the old key, and vice versa. */
	ck_assert_int_eq(bc_file_open(c, w1, h2, &o), -EIO);
	ck_assert_int_eq(bc_file_open(c, w2, h1, &o), -EIO);
	bc_key_wipe(&k);
}
END_TEST

START_TEST(test_cipher_names)
{
	enum bc_cipher c;

	for (size_t i = 0; i < NELEM(ciphers); i++) {
		if (!cipher_of((int)i, &c))
			continue;
		ck_assert_int_eq(bc_cipher_parse(bc_cipher_name(c), &c), 0);
		ck_assert_int_eq(c, ciphers[i]);
	}
	ck_assert_str_eq(bc_cipher_name(BC_AES256GCM), "aes256gcm");
	ck_assert_str_eq(bc_cipher_name(BC_XCHACHA20POLY1305),
	                 "xchacha20poly1305");
	ck_assert_int_eq(bc_cipher_parse("chacha", &c), -EINVAL);
	ck_assert_int_eq(bc_cipher_parse("", &c), -EINVAL);
	ck_assert_int_eq(bc_cipher_default(),
	                 crypto_aead_aes256gcm_is_available() ?
	                 BC_AES256GCM : BC_XCHACHA20POLY1305);
}
END_TEST

/* ---- limits ----------------------------------------------------------- */

/* The backing size of plain bytes, from the format description. */
static uint64_t expected_disk(enum bc_cipher c, uint64_t plain)
{
	uint64_t ov = bc_overhead(c);

	return BC_HEADER + plain / BC_BLOCK * (BC_BLOCK + ov) +
	       (plain % BC_BLOCK ? plain % BC_BLOCK + ov : 0);
}

START_TEST(test_size_inverse)
{
	static const uint64_t sizes[] = {
		0, 1, 2, 15, 16, 100, 4095, 4096, 4097, 8191, 8192, 8193,
		12288, 1000000, 1048576, 4 * GIB - 1, 4 * GIB, 4 * GIB + 1,
		5 * GIB, 5 * GIB + 1, 1ull << 40, (1ull << 50) + 12345,
	};
	enum bc_cipher c = ciphers[_i];
	uint64_t disk, plain;

	for (size_t i = 0; i < NELEM(sizes); i++) {
		disk = bc_disk_size(c, sizes[i]);
		ck_assert_uint_eq(disk, expected_disk(c, sizes[i]));
		plain = UINT64_MAX;
		ck_assert_int_eq(bc_plain_size(c, disk, &plain), 0);
		ck_assert_uint_eq(plain, sizes[i]);
	}
	for (int r = 0; r < 10000; r++) {
		uint64_t p = ((uint64_t)randombytes_random() << 32 |
		              randombytes_random()) >> (randombytes_uniform(40) + 8);

		ck_assert_int_eq(bc_plain_size(c, bc_disk_size(c, p), &plain),
		                 0);
		ck_assert_uint_eq(plain, p);
	}
	/* An empty backing file is an empty file, as is a bare header. */
	ck_assert_int_eq(bc_plain_size(c, 0, &plain), 0);
	ck_assert_uint_eq(plain, 0);
	ck_assert_int_eq(bc_plain_size(c, BC_HEADER, &plain), 0);
	ck_assert_uint_eq(plain, 0);
}
END_TEST

/* Every disk size up to a few blocks is either the image of exactly one
 * plaintext size or -EIO. */
START_TEST(test_size_sweep)
{
	enum bc_cipher c = ciphers[_i];
	uint64_t ov = bc_overhead(c), ds = BC_BLOCK + ov;

	for (uint64_t disk = 1; disk <= BC_HEADER + 3 * ds + 50; disk++) {
		uint64_t plain = 7, rem = (disk - BC_HEADER) % ds;
		bool valid = disk >= BC_HEADER && (rem == 0 || rem > ov);
		int rc = bc_plain_size(c, disk, &plain);

		if (!valid) {
			ck_assert_msg(rc == -EIO,
			              "disk size %llu gave %d, not -EIO",
			              (unsigned long long)disk, rc);
			continue;
		}
		ck_assert_msg(rc == 0, "disk size %llu gave %d",
		              (unsigned long long)disk, rc);
		ck_assert_uint_eq(bc_disk_size(c, plain), disk);
	}
}
END_TEST

START_TEST(test_invalid_disk_sizes)
{
	static const uint64_t blocks[] = { 0, 1, 2, 1ull << 20, 5 * GIB / BC_BLOCK };
	enum bc_cipher c = ciphers[_i];
	uint64_t ov = bc_overhead(c), plain;

	for (uint64_t d = 1; d < BC_HEADER; d++)
		ck_assert_int_eq(bc_plain_size(c, d, &plain), -EIO);
	/* A last partial block with no room for one plaintext byte. */
	for (size_t b = 0; b < NELEM(blocks); b++)
		for (uint64_t r = 1; r <= ov; r++)
			ck_assert_int_eq(bc_plain_size(c,
			    bc_block_offset(c, blocks[b]) + r, &plain), -EIO);
	/* One byte more is a one-byte block. */
	ck_assert_int_eq(bc_plain_size(c, bc_block_offset(c, 2) + ov + 1,
	                               &plain), 0);
	ck_assert_uint_eq(plain, 2 * BC_BLOCK + 1);
}
END_TEST

START_TEST(test_block_length_limits)
{
	unsigned char wrap[BC_KEYBYTES], hdr[BC_HEADER];
	unsigned char pt[BC_BLOCK + 1], out[BC_BLOCK], st[MAXSTORED + 1];
	struct bc_key k;
	enum bc_cipher c;
	size_t ov;

	if (!cipher_of(_i, &c))
		return;
	ov = bc_overhead(c);
	randombytes_buf(wrap, sizeof(wrap));
	new_file(c, wrap, 0, hdr, &k);
	randombytes_buf(pt, sizeof(pt));
	ck_assert_int_eq(bc_encrypt(&k, 0, pt, 0, st), -EINVAL);
	ck_assert_int_eq(bc_encrypt(&k, 0, pt, BC_BLOCK + 1, st), -EINVAL);

	/* A stored block longer than a full block is not a block. */
	seal_block(&k, 0, pt, BC_BLOCK, st);
	st[BC_BLOCK + ov] = 0;
	ck_assert_int_eq(bc_decrypt(&k, 0, st, BC_BLOCK + ov + 1, out), -EIO);
	bc_key_wipe(&k);
}
END_TEST

START_TEST(test_new_bad_cipher)
{
	unsigned char wrap[BC_KEYBYTES] = { 0 }, hdr[BC_HEADER];
	struct bc_key k;

	ck_assert_int_eq(bc_file_new((enum bc_cipher)0, wrap, 0, hdr, &k),
	                 -EINVAL);
	ck_assert_int_eq(bc_file_new((enum bc_cipher)3, wrap, 0, hdr, &k),
	                 -EINVAL);
}
END_TEST

/* ---- errors ----------------------------------------------------------- */

START_TEST(test_wrong_wrap_key)
{
	unsigned char w1[BC_KEYBYTES], w2[BC_KEYBYTES], hdr[BC_HEADER];
	struct bc_key k, o;
	enum bc_cipher c;

	if (!cipher_of(_i, &c))
		return;
	randombytes_buf(w1, sizeof(w1));
	memcpy(w2, w1, sizeof(w2));
	w2[31] ^= 0x01;
	new_file(c, w1, 0, hdr, &k);
	ck_assert_int_eq(bc_file_open(c, w2, hdr, &o), -EIO);
	ck_assert_int_eq(bc_file_open(c, w1, hdr, &o), 0);
}
END_TEST

START_TEST(test_header_version)
{
	unsigned char wrap[BC_KEYBYTES], hdr[BC_HEADER], h[BC_HEADER];
	struct bc_key k, o;
	enum bc_cipher c;

	if (!cipher_of(_i, &c))
		return;
	randombytes_buf(wrap, sizeof(wrap));
	new_file(c, wrap, 0, hdr, &k);

	memcpy(h, hdr, BC_HEADER);
	h[4] = BC_VERSION + 1;
	ck_assert_int_eq(bc_file_open(c, wrap, h, &o), -EPROTONOSUPPORT);
	memcpy(h, hdr, BC_HEADER);
	h[5] = 1;                               /* version 257 */
	ck_assert_int_eq(bc_file_open(c, wrap, h, &o), -EPROTONOSUPPORT);
	memcpy(h, hdr, BC_HEADER);
	h[4] = 0;                               /* version 0: not a header */
	ck_assert_int_eq(bc_file_open(c, wrap, h, &o), -EIO);
}
END_TEST

START_TEST(test_header_cipher)
{
	unsigned char wrap[BC_KEYBYTES], hdr[BC_HEADER], h[BC_HEADER];
	struct bc_key k, o;
	enum bc_cipher c, other;

	if (!cipher_of(_i, &c))
		return;
	other = c == BC_AES256GCM ? BC_XCHACHA20POLY1305 : BC_AES256GCM;
	randombytes_buf(wrap, sizeof(wrap));
	new_file(c, wrap, 0, hdr, &k);

	/* The header names c: opening it as the other cipher fails. */
	ck_assert_int_eq(bc_file_open(other, wrap, hdr, &o), -EIO);
	/* Changing the cipher byte fails whichever cipher is asked for. */
	memcpy(h, hdr, BC_HEADER);
	h[6] = (unsigned char)other;
	ck_assert_int_eq(bc_file_open(c, wrap, h, &o), -EIO);
	ck_assert_int_eq(bc_file_open(other, wrap, h, &o), -EIO);
	h[6] = 0x7f;
	ck_assert_int_eq(bc_file_open(c, wrap, h, &o), -EIO);
}
END_TEST

START_TEST(test_header_magic)
{
	unsigned char wrap[BC_KEYBYTES], hdr[BC_HEADER];
	struct bc_key k, o;
	enum bc_cipher c;

	if (!cipher_of(_i, &c))
		return;
	randombytes_buf(wrap, sizeof(wrap));
	new_file(c, wrap, 0, hdr, &k);
	hdr[0] = 'X';
	ck_assert_int_eq(bc_file_open(c, wrap, hdr, &o), -EIO);
	memset(hdr, 0, BC_HEADER);
	ck_assert_int_eq(bc_file_open(c, wrap, hdr, &o), -EIO);
}
END_TEST

START_TEST(test_zero_block)
{
	unsigned char wrap[BC_KEYBYTES], hdr[BC_HEADER];
	unsigned char zero[MAXSTORED] = { 0 }, pt[BC_BLOCK], orig[BC_BLOCK];
	struct bc_key plain_k, holes_k;
	enum bc_cipher c;

	if (!cipher_of(_i, &c))
		return;
	randombytes_buf(wrap, sizeof(wrap));
	new_file(c, wrap, 0, hdr, &plain_k);
	new_file(c, wrap, BC_F_HOLES, hdr, &holes_k);
	fill_nonzero(orig, sizeof(orig));
	for (size_t l = 0; l < NELEM(block_lens); l++) {
		size_t len = block_lens[l], n = len + bc_overhead(c);

		assert_rejected(&plain_k, 5, zero, n, orig, len,
		                "zero block without holes");
		memcpy(pt, orig, len);
		ck_assert_int_eq(bc_decrypt(&holes_k, 5, zero, n, pt), (int)len);
		ck_assert_uint_eq(same_bytes(pt, zero, len), len);
	}
	/* A hole is all zeros: one stray byte makes it a forgery. */
	zero[17] = 1;
	assert_rejected(&holes_k, 5, zero, BC_BLOCK + bc_overhead(c), orig,
	                BC_BLOCK, "almost-zero block with holes");
}
END_TEST

/* ---- tamper ----------------------------------------------------------- */

/* Every single-bit change of a stored block, for a short and a full
 * block, with and without holes. */
START_TEST(test_tamper_every_bit)
{
	static const unsigned flag_sets[] = { 0, BC_F_HOLES };
	static const size_t lens[] = { 1, 100, BC_BLOCK };
	unsigned char wrap[BC_KEYBYTES], hdr[BC_HEADER];
	unsigned char pt[BC_BLOCK], st[MAXSTORED];
	struct bc_key k;
	enum bc_cipher c;
	char what[80];

	if (!cipher_of(_i, &c))
		return;
	randombytes_buf(wrap, sizeof(wrap));
	for (size_t f = 0; f < NELEM(flag_sets); f++) {
		new_file(c, wrap, flag_sets[f], hdr, &k);
		for (size_t l = 0; l < NELEM(lens); l++) {
			size_t n;

			fill_nonzero(pt, lens[l]);
			n = seal_block(&k, 2, pt, lens[l], st);
			for (size_t pos = 0; pos < n; pos++) {
				for (int bit = 0; bit < 8; bit++) {
					st[pos] ^= (unsigned char)(1u << bit);
					snprintf(what, sizeof(what),
					         "len %zu flags %u byte %zu bit %d",
					         lens[l], flag_sets[f], pos, bit);
					assert_rejected(&k, 2, st, n, pt, lens[l],
					                what);
					st[pos] ^= (unsigned char)(1u << bit);
				}
			}
		}
		bc_key_wipe(&k);
	}
}
END_TEST

START_TEST(test_tamper_index)
{
	unsigned char wrap[BC_KEYBYTES], hdr[BC_HEADER];
	unsigned char p0[BC_BLOCK], p1[BC_BLOCK];
	unsigned char s0[MAXSTORED], s1[MAXSTORED];
	struct bc_key k;
	enum bc_cipher c;
	size_t n;

	if (!cipher_of(_i, &c))
		return;
	randombytes_buf(wrap, sizeof(wrap));
	new_file(c, wrap, 0, hdr, &k);
	fill_nonzero(p0, BC_BLOCK);
	fill_nonzero(p1, BC_BLOCK);
	n = seal_block(&k, 0, p0, BC_BLOCK, s0);
	seal_block(&k, 1, p1, BC_BLOCK, s1);
	/* Blocks 0 and 1 swapped. */
	assert_rejected(&k, 1, s0, n, p0, BC_BLOCK, "block 0 read as 1");
	assert_rejected(&k, 0, s1, n, p1, BC_BLOCK, "block 1 read as 0");
	/* Indexes differing only above bit 31, and at bit 63. */
	assert_rejected(&k, 1ull << 32, s0, n, p0, BC_BLOCK,
	                "block 0 read as 2^32");
	assert_rejected(&k, 1ull << 63, s0, n, p0, BC_BLOCK,
	                "block 0 read as 2^63");
	bc_key_wipe(&k);
}
END_TEST

START_TEST(test_tamper_other_file)
{
	unsigned char wrap[BC_KEYBYTES], ha[BC_HEADER], hb[BC_HEADER];
	unsigned char pt[BC_BLOCK], st[MAXSTORED];
	struct bc_key a, b, mix;
	enum bc_cipher c;
	size_t n;

	if (!cipher_of(_i, &c))
		return;
	randombytes_buf(wrap, sizeof(wrap));
	new_file(c, wrap, 0, ha, &a);
	new_file(c, wrap, 0, hb, &b);
	fill_nonzero(pt, BC_BLOCK);
	n = seal_block(&a, 4, pt, BC_BLOCK, st);
	assert_rejected(&b, 4, st, n, pt, BC_BLOCK, "block of another file");

	/* Same key, another file ID: the ID alone binds the block. */
	mix = a;
	memcpy(mix.id, b.id, BC_IDBYTES);
	assert_rejected(&mix, 4, st, n, pt, BC_BLOCK, "same key, other ID");
	/* Same ID, another key. */
	memcpy(mix.raw, b.raw, BC_KEYBYTES);
	mix.aes = b.aes;
	memcpy(mix.id, a.id, BC_IDBYTES);
	assert_rejected(&mix, 4, st, n, pt, BC_BLOCK, "same ID, other key");
	bc_key_wipe(&a);
	bc_key_wipe(&b);
	bc_key_wipe(&mix);
}
END_TEST

START_TEST(test_tamper_truncated)
{
	unsigned char wrap[BC_KEYBYTES], hdr[BC_HEADER];
	unsigned char pt[BC_BLOCK], st[MAXSTORED];
	struct bc_key k;
	enum bc_cipher c;
	size_t ov;

	if (!cipher_of(_i, &c))
		return;
	ov = bc_overhead(c);
	randombytes_buf(wrap, sizeof(wrap));
	new_file(c, wrap, 0, hdr, &k);
	for (size_t l = 0; l < NELEM(block_lens); l++) {
		size_t len = block_lens[l], n;

		fill_nonzero(pt, len);
		n = seal_block(&k, 6, pt, len, st);
		assert_rejected(&k, 6, st, n - 1, pt, len - 1 ? len - 1 : 0,
		                "one byte short");
		ck_assert_int_eq(bc_decrypt(&k, 6, st, ov, pt), -EIO);
		ck_assert_int_eq(bc_decrypt(&k, 6, st, ov - 1, pt), -EIO);
		ck_assert_int_eq(bc_decrypt(&k, 6, st, 0, pt), -EIO);
		if (len > 1)
			assert_rejected(&k, 6, st, ov + 1, pt, 1,
			                "overhead plus one byte");
	}
	bc_key_wipe(&k);
}
END_TEST

START_TEST(test_tamper_header_every_bit)
{
	unsigned char wrap[BC_KEYBYTES], hdr[BC_HEADER];
	struct bc_key k, o;
	enum bc_cipher c;

	if (!cipher_of(_i, &c))
		return;
	randombytes_buf(wrap, sizeof(wrap));
	new_file(c, wrap, 0, hdr, &k);
	for (size_t pos = 0; pos < BC_HEADER; pos++) {
		for (int bit = 0; bit < 8; bit++) {
			int want, rc;

			hdr[pos] ^= (unsigned char)(1u << bit);
			want = header_version(hdr) > BC_VERSION ?
			       -EPROTONOSUPPORT : -EIO;
			rc = bc_file_open(c, wrap, hdr, &o);
			ck_assert_msg(rc == want,
			              "header byte %zu bit %d: %d, want %d",
			              pos, bit, rc, want);
			hdr[pos] ^= (unsigned char)(1u << bit);
		}
	}
	ck_assert_int_eq(bc_file_open(c, wrap, hdr, &o), 0);
}
END_TEST

START_TEST(test_tamper_header_swapped)
{
	unsigned char wrap[BC_KEYBYTES], ha[BC_HEADER], hb[BC_HEADER];
	unsigned char pt[BC_BLOCK], st[MAXSTORED];
	struct bc_key a, b, o;
	enum bc_cipher c;
	size_t n;

	if (!cipher_of(_i, &c))
		return;
	randombytes_buf(wrap, sizeof(wrap));
	new_file(c, wrap, 0, ha, &a);
	new_file(c, wrap, 0, hb, &b);
	fill_nonzero(pt, BC_BLOCK);
	n = seal_block(&a, 0, pt, 700, st);
	/* File a with b's header: the header opens, a's blocks do not. */
	ck_assert_int_eq(bc_file_open(c, wrap, hb, &o), 0);
	assert_rejected(&o, 0, st, n, pt, 700, "blocks under another header");
	bc_key_wipe(&a);
	bc_key_wipe(&b);
	bc_key_wipe(&o);
}
END_TEST

/* ---- suite ------------------------------------------------------------ */

static Suite *blockcodec_suite(void)
{
	Suite *s = suite_create("blockcodec");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");
	TCase *tamper = tcase_create("tamper");
	int nc = (int)NELEM(ciphers);

	tcase_add_loop_test(core, test_block_roundtrip, 0, nc);
	tcase_add_test(core, test_overhead);
	tcase_add_loop_test(core, test_header_roundtrip, 0, nc);
	tcase_add_loop_test(core, test_new_files_differ, 0, nc);
	tcase_add_loop_test(core, test_fresh_nonce, 0, nc);
	tcase_add_loop_test(core, test_rewrap, 0, nc);
	tcase_add_test(core, test_cipher_names);

	tcase_add_loop_test(limits, test_size_inverse, 0, nc);
	tcase_add_loop_test(limits, test_size_sweep, 0, nc);
	tcase_add_loop_test(limits, test_invalid_disk_sizes, 0, nc);
	tcase_add_loop_test(limits, test_block_length_limits, 0, nc);
	tcase_add_test(limits, test_new_bad_cipher);

	tcase_add_loop_test(errors, test_wrong_wrap_key, 0, nc);
	tcase_add_loop_test(errors, test_header_version, 0, nc);
	tcase_add_loop_test(errors, test_header_cipher, 0, nc);
	tcase_add_loop_test(errors, test_header_magic, 0, nc);
	tcase_add_loop_test(errors, test_zero_block, 0, nc);

	tcase_set_timeout(tamper, 60);
	tcase_add_loop_test(tamper, test_tamper_every_bit, 0, nc);
	tcase_add_loop_test(tamper, test_tamper_index, 0, nc);
	tcase_add_loop_test(tamper, test_tamper_other_file, 0, nc);
	tcase_add_loop_test(tamper, test_tamper_truncated, 0, nc);
	tcase_add_loop_test(tamper, test_tamper_header_every_bit, 0, nc);
	tcase_add_loop_test(tamper, test_tamper_header_swapped, 0, nc);

	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	suite_add_tcase(s, errors);
	suite_add_tcase(s, tamper);
	return s;
}

CHECK_MAIN(blockcodec_suite)
