/*
 * Unit tests of key wrapping (include/keywrap.h): KDF parameters, the
 * 160-byte vault config record and sealed client keys.
 *
 * Argon2id runs only where a passphrase is the point of the test, with the
 * "interactive" cost (about 0.1 s and 64 MiB a derivation); everything else
 * uses a key-file KEK (32 random bytes), which needs no derivation.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "keywrap.h"
#include "check_main.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define CFG_AD      56u   /* config bytes that are associated data */
#define CFG_SEALED  (CFG_AD + 24u + KW_KEYBYTES + 16u) /* end of nonce+ct */
#define CLI_AD      8u

/* ---- helpers ---------------------------------------------------------- */

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void assert_params_eq(const struct kw_params *a,
                             const struct kw_params *b)
{
	ck_assert_uint_eq(a->version, b->version);
	ck_assert_int_eq(a->cipher, b->cipher);
	ck_assert_int_eq(a->source, b->source);
	ck_assert_uint_eq(a->opslimit, b->opslimit);
	ck_assert_uint_eq(a->memlimit, b->memlimit);
	ck_assert_mem_eq(a->salt, b->salt, KW_SALTBYTES);
}

/* A config record for a key-file vault: kek and master are random. */
static void keyfile_config(enum bc_cipher c, struct kw_params *p,
                           unsigned char *kek, unsigned char *master,
                           unsigned char *cfg)
{
	ck_assert_int_eq(kw_params_new(p, c, KW_KEYFILE, "interactive"), 0);
	randombytes_buf(kek, KW_KEYBYTES);
	randombytes_buf(master, KW_KEYBYTES);
	kw_config_seal(p, kek, master, cfg);
}

/* Parses cfg and opens it with kek: the code of the first step that
 * fails, 0 if both work (master then holds the key). */
static int parse_and_open(const unsigned char *cfg, const unsigned char *kek,
                          unsigned char *master, int *parse_rc)
{
	struct kw_params p;

	*parse_rc = kw_config_parse(cfg, KW_CONFIG_BYTES, &p);
	if (*parse_rc != 0)
		return *parse_rc;
	return kw_config_open(cfg, kek, master);
}

/* ---- core ------------------------------------------------------------- */

START_TEST(test_params_costs)
{
	static const struct {
		const char *name;
		uint64_t ops, mem;
	} costs[] = {
		{ "interactive", crypto_pwhash_OPSLIMIT_INTERACTIVE,
		  crypto_pwhash_MEMLIMIT_INTERACTIVE },
		{ "moderate", crypto_pwhash_OPSLIMIT_MODERATE,
		  crypto_pwhash_MEMLIMIT_MODERATE },
		{ "sensitive", crypto_pwhash_OPSLIMIT_SENSITIVE,
		  crypto_pwhash_MEMLIMIT_SENSITIVE },
	};
	struct kw_params p, q;

	for (size_t i = 0; i < NELEM(costs); i++) {
		ck_assert_int_eq(kw_params_new(&p, BC_XCHACHA20POLY1305,
		                               KW_PASSPHRASE, costs[i].name), 0);
		ck_assert_uint_eq(p.version, KW_VERSION);
		ck_assert_int_eq(p.cipher, BC_XCHACHA20POLY1305);
		ck_assert_int_eq(p.source, KW_PASSPHRASE);
		ck_assert_uint_eq(p.opslimit, costs[i].ops);
		ck_assert_uint_eq(p.memlimit, costs[i].mem);
		ck_assert(!sodium_is_zero(p.salt, KW_SALTBYTES));
		/* A fresh salt every time. */
		ck_assert_int_eq(kw_params_new(&q, BC_AES256GCM, KW_KEYFILE,
		                               costs[i].name), 0);
		ck_assert_int_eq(q.cipher, BC_AES256GCM);
		ck_assert_int_eq(q.source, KW_KEYFILE);
		ck_assert_mem_ne(p.salt, q.salt, KW_SALTBYTES);
	}
}
END_TEST

START_TEST(test_config_roundtrip)
{
	static const enum bc_cipher ciphers[] = { BC_AES256GCM,
	                                          BC_XCHACHA20POLY1305 };
	unsigned char kek[KW_KEYBYTES], master[KW_KEYBYTES];
	unsigned char back[KW_KEYBYTES], cfg[KW_CONFIG_BYTES];
	unsigned char cfg2[KW_CONFIG_BYTES];
	struct kw_params p, q;

	for (size_t i = 0; i < NELEM(ciphers); i++) {
		keyfile_config(ciphers[i], &p, kek, master, cfg);
		ck_assert_mem_eq(cfg, "DSFVAULT", 8);
		ck_assert_ptr_null(memmem(cfg, KW_CONFIG_BYTES, master, 8));
		ck_assert_int_eq(kw_config_parse(cfg, sizeof(cfg), &q), 0);
		assert_params_eq(&p, &q);
		memset(back, 0, sizeof(back));
		ck_assert_int_eq(kw_config_open(cfg, kek, back), 0);
		ck_assert_mem_eq(back, master, KW_KEYBYTES);
		/* Sealed with a fresh nonce: two records differ. */
		kw_config_seal(&p, kek, master, cfg2);
		ck_assert_mem_eq(cfg2, cfg, CFG_AD);
		ck_assert_mem_ne(cfg2 + CFG_AD, cfg + CFG_AD,
		                 CFG_SEALED - CFG_AD);
		ck_assert_int_eq(kw_config_open(cfg2, kek, back), 0);
		ck_assert_mem_eq(back, master, KW_KEYBYTES);
	}
}
END_TEST

/* The passphrase path end to end: seal under Argon2id(pass), parse the
 * record back, derive again from the parsed parameters, open; then the
 * wrong passphrase. Three derivations. */
START_TEST(test_passphrase)
{
	static const char pass[] = "correct horse battery staple";
	static const char wrong[] = "correct horse battery stapler";
	unsigned char kek[KW_KEYBYTES], kek2[KW_KEYBYTES];
	unsigned char master[KW_KEYBYTES], back[KW_KEYBYTES];
	unsigned char cfg[KW_CONFIG_BYTES];
	struct kw_params p, q;

	ck_assert_int_eq(kw_params_new(&p, BC_XCHACHA20POLY1305,
	                               KW_PASSPHRASE, "interactive"), 0);
	ck_assert_int_eq(kw_kek_from_passphrase(&p, pass, strlen(pass), kek),
	                 0);
	randombytes_buf(master, sizeof(master));
	kw_config_seal(&p, kek, master, cfg);

	ck_assert_int_eq(kw_config_parse(cfg, sizeof(cfg), &q), 0);
	assert_params_eq(&p, &q);
	ck_assert_int_eq(kw_kek_from_passphrase(&q, pass, strlen(pass), kek2),
	                 0);
	ck_assert_mem_eq(kek2, kek, KW_KEYBYTES);
	ck_assert_int_eq(kw_config_open(cfg, kek2, back), 0);
	ck_assert_mem_eq(back, master, KW_KEYBYTES);

	ck_assert_int_eq(kw_kek_from_passphrase(&q, wrong, strlen(wrong),
	                                        kek2), 0);
	ck_assert_mem_ne(kek2, kek, KW_KEYBYTES);
	memset(back, 0, sizeof(back));
	ck_assert_int_eq(kw_config_open(cfg, kek2, back), -EACCES);
	ck_assert_ptr_null(memmem(back, sizeof(back), master, 4));
}
END_TEST

START_TEST(test_client_roundtrip)
{
	unsigned char master[KW_KEYBYTES], key[KW_KEYBYTES], back[KW_KEYBYTES];
	unsigned char dirid[16], c1[KW_CLIENT_BYTES], c2[KW_CLIENT_BYTES];

	randombytes_buf(master, sizeof(master));
	randombytes_buf(key, sizeof(key));
	randombytes_buf(dirid, sizeof(dirid));
	kw_client_seal(master, dirid, key, c1);
	ck_assert_mem_eq(c1, "DSFK", 4);
	ck_assert_uint_eq(get32(c1 + 4), KW_VERSION);
	ck_assert_ptr_null(memmem(c1, sizeof(c1), key, 8));
	ck_assert_int_eq(kw_client_open(master, dirid, c1, back), 0);
	ck_assert_mem_eq(back, key, KW_KEYBYTES);
	kw_client_seal(master, dirid, key, c2);
	ck_assert_mem_ne(c1, c2, KW_CLIENT_BYTES);
	ck_assert_int_eq(kw_client_open(master, dirid, c2, back), 0);
	ck_assert_mem_eq(back, key, KW_KEYBYTES);
}
END_TEST

/* ---- limits ----------------------------------------------------------- */

START_TEST(test_config_length)
{
	unsigned char kek[KW_KEYBYTES], master[KW_KEYBYTES];
	unsigned char cfg[KW_CONFIG_BYTES + 1] = { 0 };
	struct kw_params p, q;

	keyfile_config(BC_XCHACHA20POLY1305, &p, kek, master, cfg);
	ck_assert_int_eq(kw_config_parse(cfg, KW_CONFIG_BYTES - 1, &q),
	                 -EINVAL);
	ck_assert_int_eq(kw_config_parse(cfg, KW_CONFIG_BYTES + 1, &q),
	                 -EINVAL);
	ck_assert_int_eq(kw_config_parse(cfg, 0, &q), -EINVAL);
	ck_assert_int_eq(kw_config_parse(cfg, 8, &q), -EINVAL);
	ck_assert_int_eq(kw_config_parse(cfg, KW_CONFIG_BYTES, &q), 0);
}
END_TEST

/* Parameters out of their ranges are not a vault record (-EINVAL). */
START_TEST(test_config_field_ranges)
{
	static const struct {
		size_t off, width;
		uint64_t value;
	} bad[] = {
		{ 12, 4, 0 }, { 12, 4, 3 },                /* cipher */
		{ 16, 4, 0 }, { 16, 4, 3 },                /* key source */
		{ 20, 4, BC_BLOCK * 2 }, { 20, 4, 0 },     /* block size */
		{ 24, 8, crypto_pwhash_OPSLIMIT_MIN - 1 },
		{ 24, 8, crypto_pwhash_OPSLIMIT_SENSITIVE + 1 },
		{ 32, 8, crypto_pwhash_MEMLIMIT_MIN - 1 },
		{ 32, 8, (uint64_t)crypto_pwhash_MEMLIMIT_SENSITIVE + 1 },
		{ 8, 4, 0 },                               /* version 0 */
	};
	unsigned char kek[KW_KEYBYTES], master[KW_KEYBYTES];
	unsigned char cfg[KW_CONFIG_BYTES], c[KW_CONFIG_BYTES];
	struct kw_params p, q;

	keyfile_config(BC_XCHACHA20POLY1305, &p, kek, master, cfg);
	for (size_t i = 0; i < NELEM(bad); i++) {
		memcpy(c, cfg, sizeof(c));
		if (bad[i].width == 4)
			put32(c + bad[i].off, (uint32_t)bad[i].value);
		else
			put64(c + bad[i].off, bad[i].value);
		ck_assert_msg(kw_config_parse(c, sizeof(c), &q) == -EINVAL,
		              "field at %zu = %llu accepted", bad[i].off,
		              (unsigned long long)bad[i].value);
	}
}
END_TEST

START_TEST(test_params_unknown_cost)
{
	static const char *const names[] = { "fast", "", "Interactive",
	                                     "moderate ", "min" };
	struct kw_params p;

	for (size_t i = 0; i < NELEM(names); i++)
		ck_assert_msg(kw_params_new(&p, BC_XCHACHA20POLY1305,
		                            KW_PASSPHRASE, names[i]) == -EINVAL,
		              "cost \"%s\" accepted", names[i]);
}
END_TEST

/* ---- errors ----------------------------------------------------------- */

START_TEST(test_config_wrong_kek)
{
	unsigned char kek[KW_KEYBYTES], master[KW_KEYBYTES];
	unsigned char back[KW_KEYBYTES], cfg[KW_CONFIG_BYTES];
	struct kw_params p;

	keyfile_config(BC_XCHACHA20POLY1305, &p, kek, master, cfg);
	kek[0] ^= 0x80;
	ck_assert_int_eq(kw_config_open(cfg, kek, back), -EACCES);
	memset(kek, 0, sizeof(kek));
	ck_assert_int_eq(kw_config_open(cfg, kek, back), -EACCES);
}
END_TEST

START_TEST(test_config_version)
{
	static const uint32_t newer[] = { KW_VERSION + 1, 7, 0x100,
	                                  UINT32_MAX };
	unsigned char kek[KW_KEYBYTES], master[KW_KEYBYTES];
	unsigned char cfg[KW_CONFIG_BYTES];
	struct kw_params p, q;

	keyfile_config(BC_XCHACHA20POLY1305, &p, kek, master, cfg);
	for (size_t i = 0; i < NELEM(newer); i++) {
		put32(cfg + 8, newer[i]);
		ck_assert_msg(kw_config_parse(cfg, sizeof(cfg), &q) ==
		              -EPROTONOSUPPORT, "version %u", newer[i]);
	}
}
END_TEST

START_TEST(test_config_bad_magic)
{
	unsigned char kek[KW_KEYBYTES], master[KW_KEYBYTES];
	unsigned char cfg[KW_CONFIG_BYTES], zero[KW_CONFIG_BYTES] = { 0 };
	struct kw_params p, q;

	keyfile_config(BC_XCHACHA20POLY1305, &p, kek, master, cfg);
	for (size_t i = 0; i < 8; i++) {
		cfg[i] ^= 0x20;
		ck_assert_int_eq(kw_config_parse(cfg, sizeof(cfg), &q), -EINVAL);
		cfg[i] ^= 0x20;
	}
	ck_assert_int_eq(kw_config_parse(zero, sizeof(zero), &q), -EINVAL);
	/* A newer version behind a bad magic is still not a vault. */
	put32(cfg + 8, KW_VERSION + 1);
	cfg[0] = 'X';
	ck_assert_int_eq(kw_config_parse(cfg, sizeof(cfg), &q), -EINVAL);
}
END_TEST

START_TEST(test_client_wrong_dirid_or_master)
{
	unsigned char master[KW_KEYBYTES], key[KW_KEYBYTES], back[KW_KEYBYTES];
	unsigned char dirid[16], other[16], sealed[KW_CLIENT_BYTES];

	randombytes_buf(master, sizeof(master));
	randombytes_buf(key, sizeof(key));
	randombytes_buf(dirid, sizeof(dirid));
	kw_client_seal(master, dirid, key, sealed);

	memcpy(other, dirid, sizeof(other));
	other[15] ^= 0x01;
	ck_assert_int_eq(kw_client_open(master, other, sealed, back), -EIO);
	master[31] ^= 0x01;
	ck_assert_int_eq(kw_client_open(master, dirid, sealed, back), -EIO);
	master[31] ^= 0x01;
	ck_assert_int_eq(kw_client_open(master, dirid, sealed, back), 0);
	ck_assert_mem_eq(back, key, KW_KEYBYTES);
}
END_TEST

START_TEST(test_client_version)
{
	unsigned char master[KW_KEYBYTES], key[KW_KEYBYTES], back[KW_KEYBYTES];
	unsigned char dirid[16], sealed[KW_CLIENT_BYTES];

	randombytes_buf(master, sizeof(master));
	randombytes_buf(key, sizeof(key));
	randombytes_buf(dirid, sizeof(dirid));
	kw_client_seal(master, dirid, key, sealed);
	put32(sealed + 4, KW_VERSION + 1);
	ck_assert_int_eq(kw_client_open(master, dirid, sealed, back),
	                 -EPROTONOSUPPORT);
	put32(sealed + 4, 0);
	ck_assert_int_eq(kw_client_open(master, dirid, sealed, back), -EIO);
	memcpy(sealed, "XXXX", 4);
	put32(sealed + 4, KW_VERSION + 1);
	ck_assert_int_eq(kw_client_open(master, dirid, sealed, back), -EIO);
}
END_TEST

/* ---- tamper ----------------------------------------------------------- */

/* Every single-bit change of the record's authenticated part: the 56-byte
 * AD must be rejected by kw_config_parse (-EINVAL, -EPROTONOSUPPORT) or
 * else make kw_config_open fail with -EACCES; a change of the nonce or
 * the sealed key parses and fails to open with -EACCES. */
START_TEST(test_tamper_config_every_bit)
{
	unsigned char kek[KW_KEYBYTES], master[KW_KEYBYTES];
	unsigned char back[KW_KEYBYTES], cfg[KW_CONFIG_BYTES];
	struct kw_params p;

	keyfile_config(BC_XCHACHA20POLY1305, &p, kek, master, cfg);
	for (size_t pos = 0; pos < CFG_SEALED; pos++) {
		for (int bit = 0; bit < 8; bit++) {
			int prc, rc;

			cfg[pos] ^= (unsigned char)(1u << bit);
			memset(back, 0, sizeof(back));
			rc = parse_and_open(cfg, kek, back, &prc);
			if (pos >= CFG_AD)
				ck_assert_msg(prc == 0 && rc == -EACCES,
				              "byte %zu bit %d: parse %d open %d",
				              pos, bit, prc, rc);
			else
				ck_assert_msg(prc == -EINVAL ||
				              prc == -EPROTONOSUPPORT ||
				              (prc == 0 && rc == -EACCES),
				              "byte %zu bit %d: parse %d open %d",
				              pos, bit, prc, rc);
			ck_assert_msg(sodium_is_zero(back, sizeof(back)),
			              "byte %zu bit %d: key output", pos, bit);
			cfg[pos] ^= (unsigned char)(1u << bit);
		}
	}
	ck_assert_int_eq(kw_config_open(cfg, kek, back), 0);
	ck_assert_mem_eq(back, master, KW_KEYBYTES);
}
END_TEST

/* Every AD byte flipped whole, and kw_config_open asked directly (as if
 * the caller skipped parsing): -EACCES every time. */
START_TEST(test_tamper_config_open_direct)
{
	unsigned char kek[KW_KEYBYTES], master[KW_KEYBYTES];
	unsigned char back[KW_KEYBYTES], cfg[KW_CONFIG_BYTES];
	struct kw_params p;

	keyfile_config(BC_AES256GCM, &p, kek, master, cfg);
	for (size_t pos = 0; pos < CFG_SEALED; pos++) {
		cfg[pos] ^= 0xff;
		ck_assert_msg(kw_config_open(cfg, kek, back) == -EACCES,
		              "byte %zu inverted: opened", pos);
		cfg[pos] ^= 0xff;
	}
}
END_TEST

/* A record of another vault (another salt) with this vault's sealed key,
 * and a KDF cost lowered in place: both -EACCES. */
START_TEST(test_tamper_config_splice)
{
	unsigned char kek[KW_KEYBYTES], master[KW_KEYBYTES];
	unsigned char back[KW_KEYBYTES], cfg[KW_CONFIG_BYTES];
	unsigned char c[KW_CONFIG_BYTES];
	struct kw_params p, q;

	keyfile_config(BC_XCHACHA20POLY1305, &p, kek, master, cfg);
	q = p;
	randombytes_buf(q.salt, KW_SALTBYTES);
	kw_config_seal(&q, kek, master, c);
	memcpy(c + CFG_AD, cfg + CFG_AD, KW_CONFIG_BYTES - CFG_AD);
	ck_assert_int_eq(kw_config_parse(c, sizeof(c), &q), 0);
	ck_assert_int_eq(kw_config_open(c, kek, back), -EACCES);

	memcpy(c, cfg, sizeof(c));
	put64(c + 24, crypto_pwhash_OPSLIMIT_MIN);
	put64(c + 32, crypto_pwhash_MEMLIMIT_MIN);
	ck_assert_int_eq(kw_config_parse(c, sizeof(c), &q), 0);
	ck_assert_int_eq(kw_config_open(c, kek, back), -EACCES);
}
END_TEST

START_TEST(test_tamper_client_every_bit)
{
	unsigned char master[KW_KEYBYTES], key[KW_KEYBYTES], back[KW_KEYBYTES];
	unsigned char dirid[16], sealed[KW_CLIENT_BYTES];

	randombytes_buf(master, sizeof(master));
	randombytes_buf(key, sizeof(key));
	randombytes_buf(dirid, sizeof(dirid));
	kw_client_seal(master, dirid, key, sealed);
	for (size_t pos = 0; pos < KW_CLIENT_BYTES; pos++) {
		for (int bit = 0; bit < 8; bit++) {
			int want, rc;

			sealed[pos] ^= (unsigned char)(1u << bit);
			want = pos >= 4 && pos < CLI_AD &&
			       get32(sealed + 4) > KW_VERSION ?
			       -EPROTONOSUPPORT : -EIO;
			memset(back, 0, sizeof(back));
			rc = kw_client_open(master, dirid, sealed, back);
			ck_assert_msg(rc == want, "byte %zu bit %d: %d, want %d",
			              pos, bit, rc, want);
			ck_assert(sodium_is_zero(back, sizeof(back)));
			sealed[pos] ^= (unsigned char)(1u << bit);
		}
	}
	ck_assert_int_eq(kw_client_open(master, dirid, sealed, back), 0);
}
END_TEST

/* ---- suite ------------------------------------------------------------ */

static Suite *keywrap_suite(void)
{
	Suite *s = suite_create("keywrap");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");
	TCase *tamper = tcase_create("tamper");

	tcase_set_timeout(core, 120);          /* Argon2id, maybe sanitized */
	tcase_add_test(core, test_params_costs);
	tcase_add_test(core, test_config_roundtrip);
	tcase_add_test(core, test_passphrase);
	tcase_add_test(core, test_client_roundtrip);

	tcase_add_test(limits, test_config_length);
	tcase_add_test(limits, test_config_field_ranges);
	tcase_add_test(limits, test_params_unknown_cost);

	tcase_add_test(errors, test_config_wrong_kek);
	tcase_add_test(errors, test_config_version);
	tcase_add_test(errors, test_config_bad_magic);
	tcase_add_test(errors, test_client_wrong_dirid_or_master);
	tcase_add_test(errors, test_client_version);

	tcase_set_timeout(tamper, 60);
	tcase_add_test(tamper, test_tamper_config_every_bit);
	tcase_add_test(tamper, test_tamper_config_open_direct);
	tcase_add_test(tamper, test_tamper_config_splice);
	tcase_add_test(tamper, test_tamper_client_every_bit);

	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	suite_add_tcase(s, errors);
	suite_add_tcase(s, tamper);
	return s;
}

CHECK_MAIN(keywrap_suite)
