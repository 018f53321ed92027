/*
 * Unit tests of plaintext I/O on encrypted backing files (include/fsio.h),
 * on real files: each test makes a mkdtemp directory under $TMPDIR (or
 * /tmp), creates its backing file there and unlinks file and directory at
 * once, working on the open descriptor, so nothing is left behind even
 * when a test fails. No FUSE.
 *
 * The reference-model test applies a seeded random sequence of writes,
 * truncates, allocations and reads to a backing file and to a plain
 * buffer and compares them after every step. Every failure message names
 * the seed; set FSIO_SEED=<seed> to replay it.
 *
 * Loop tests run once per cipher; AES-256-GCM is skipped (the test passes
 * without doing anything) on a CPU where libsodium does not offer it.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "blockcodec.h"
#include "fsio.h"
#include "check_main.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define B        ((uint64_t)BC_BLOCK)
#define MIB      (1024ull * 1024)
#define GIB      (1024ull * MIB)

static const enum bc_cipher ciphers[] = { BC_AES256GCM, BC_XCHACHA20POLY1305 };

/* One encrypted file under test. */
struct file {
	int fd;
	enum bc_cipher cipher;
	unsigned char wrap[BC_KEYBYTES];  /* the client key */
	struct bc_key key;
};

/* ---- helpers ---------------------------------------------------------- */

static bool cipher_of(int i, enum bc_cipher *c)
{
	*c = ciphers[i];
	return *c != BC_AES256GCM || crypto_aead_aes256gcm_is_available();
}

/* An empty backing file in a fresh mkdtemp directory; file and directory
 * are unlinked at once, the descriptor stays valid. */
static int open_backing(void)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096], path[4200];
	int fd;

	snprintf(dir, sizeof(dir), "%s/check_fsio.XXXXXX",
	         tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp %s: %s", dir,
	              strerror(errno));
	snprintf(path, sizeof(path), "%s/backing", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	return fd;
}

/* A new empty encrypted file (header written) under a random wrap key. */
static void file_new(struct file *f, enum bc_cipher c)
{
	f->fd = open_backing();
	f->cipher = c;
	randombytes_buf(f->wrap, sizeof(f->wrap));
	ck_assert_int_eq(fsio_key_load(f->fd, c, f->wrap, true, &f->key), 0);
}

static void file_close(struct file *f)
{
	bc_key_wipe(&f->key);
	close(f->fd);
	f->fd = -1;
}

static uint64_t file_size(const struct file *f)
{
	uint64_t size = UINT64_MAX;

	ck_assert_int_eq(fsio_size(f->fd, f->cipher, &size), 0);
	return size;
}

static struct stat backing_stat(int fd)
{
	struct stat st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	return st;
}

static void write_ok(struct file *f, const void *buf, size_t len,
                     uint64_t off)
{
	ssize_t n = fsio_write(f->fd, &f->key, f->wrap, buf, len, off);

	ck_assert_msg(n == (ssize_t)len, "fsio_write(%zu at %llu): %zd", len,
	              (unsigned long long)off, n);
}

/* Reads [off, off+len) and checks it is exactly want[0..wantlen). */
static void read_expect(const struct file *f, uint64_t off, size_t len,
                        const unsigned char *want, size_t wantlen)
{
	unsigned char *buf = malloc(len ? len : 1);
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	memset(buf, 0xa5, len);
	n = fsio_read(f->fd, &f->key, buf, len, off);
	ck_assert_msg(n == (ssize_t)wantlen, "fsio_read(%zu at %llu): %zd, "
	              "want %zu", len, (unsigned long long)off, n, wantlen);
	ck_assert_msg(memcmp(buf, want, wantlen) == 0,
	              "fsio_read(%zu at %llu): wrong bytes", len,
	              (unsigned long long)off);
	free(buf);
}

/* Reads [off, off+len) and checks it is all zeros. */
static void read_zeros(const struct file *f, uint64_t off, size_t len)
{
	unsigned char *zero = calloc(1, len);

	ck_assert_ptr_nonnull(zero);
	read_expect(f, off, len, zero, len);
	free(zero);
}

/* Random bytes with no zero byte: a wiped buffer then never matches. */
static void fill_nonzero(unsigned char *p, size_t n)
{
	randombytes_buf(p, n);
	for (size_t i = 0; i < n; i++)
		if (p[i] == 0)
			p[i] = 0x5a;
}

static size_t same_bytes(const unsigned char *a, const unsigned char *b,
                         size_t n)
{
	size_t same = 0;

	for (size_t i = 0; i < n; i++)
		same += a[i] == b[i];
	return same;
}

/* fsio_read of [off, off+len) must be -EIO and leave none of the file's
 * plaintext (data, the whole file from offset 0) in the buffer. */
static void read_rejected(const struct file *f, uint64_t off, size_t len,
                          const unsigned char *data, const char *what)
{
	unsigned char *buf = malloc(len);
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)~data[off + i];
	n = fsio_read(f->fd, &f->key, buf, len, off);
	ck_assert_msg(n == -EIO, "%s: fsio_read(%zu at %llu) = %zd, not -EIO",
	              what, len, (unsigned long long)off, n);
	ck_assert_msg(same_bytes(buf, data + off, len) == 0,
	              "%s: plaintext left in the buffer", what);
	free(buf);
}

/* A new file holding len random non-zero bytes, written in one call. */
static unsigned char *file_with_data(struct file *f, enum bc_cipher c,
                                     size_t len)
{
	unsigned char *data = malloc(len);

	ck_assert_ptr_nonnull(data);
	fill_nonzero(data, len);
	file_new(f, c);
	write_ok(f, data, len, 0);
	ck_assert_uint_eq(file_size(f), len);
	return data;
}

static void raw_read(int fd, void *buf, size_t len, uint64_t off)
{
	ck_assert_int_eq(pread(fd, buf, len, (off_t)off), (ssize_t)len);
}

static void raw_write(int fd, const void *buf, size_t len, uint64_t off)
{
	ck_assert_int_eq(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
}

static void flip_byte(int fd, uint64_t off, unsigned char mask)
{
	unsigned char b;

	raw_read(fd, &b, 1, off);
	b ^= mask;
	raw_write(fd, &b, 1, off);
}

/* Length on disk of stored block i of a file of plaintext size size. */
static size_t stored_len(const struct file *f, uint64_t i, uint64_t size)
{
	uint64_t len = size - i * B < B ? size - i * B : B;

	return (size_t)len + bc_overhead(f->cipher);
}

/* ---- the reference model ---------------------------------------------- */

#define MODEL_MAX (96 * B)    /* the model file never grows beyond this */
#define MODEL_OPS 3000

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)       /* splitmix64 */
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rng_below(struct rng *r, uint64_t n)
{
	return n ? rng_next(r) % n : 0;
}

static uint64_t test_seed(void)
{
	const char *s = getenv("FSIO_SEED");

	if (s != NULL && *s != '\0')
		return strtoull(s, NULL, 0);
	return (uint64_t)randombytes_random() << 32 | randombytes_random();
}

/* An offset in [0, limit], biased to block boundaries and their
 * neighbours. */
static uint64_t pick_offset(struct rng *r, uint64_t limit)
{
	uint64_t off;

	if (rng_below(r, 4) == 0) {
		off = rng_below(r, limit / B + 2) * B + rng_below(r, 3);
		off = off > 0 ? off - 1 : 0;
	} else {
		off = rng_below(r, limit + 1);
	}
	return off < limit ? off : limit;
}

static size_t pick_len(struct rng *r)
{
	switch (rng_below(r, 8)) {
	case 0:
	case 1:
		return 1 + (size_t)rng_below(r, 16);
	case 2:
		return B;
	case 3:
		return B - 1 + 2 * (size_t)rng_below(r, 2);
	default:
		return 1 + (size_t)rng_below(r, 3 * B);
	}
}

struct model {
	unsigned char *data;     /* MODEL_MAX bytes; [size, MODEL_MAX) zero */
	uint64_t size;
};

/* Grows or shrinks the model to n bytes, zeros beyond the end. */
static void model_resize(struct model *m, uint64_t n)
{
	if (n < m->size)
		memset(m->data + n, 0, m->size - n);
	m->size = n;
}

/* After every operation: the size, the backing size, and (every so
 * often) the whole content agree with the model. */
static void model_check(const struct file *f, const struct model *m,
                        const char *ctx, bool full)
{
	uint64_t size = UINT64_MAX;
	unsigned char *buf;
	ssize_t n;
	int rc;

	rc = fsio_size(f->fd, f->cipher, &size);
	ck_assert_msg(rc == 0 && size == m->size,
	              "%s: fsio_size rc %d size %llu, model %llu", ctx, rc,
	              (unsigned long long)size, (unsigned long long)m->size);
	ck_assert_msg((uint64_t)backing_stat(f->fd).st_size ==
	              bc_disk_size(f->cipher, m->size),
	              "%s: backing size %lld for %llu bytes", ctx,
	              (long long)backing_stat(f->fd).st_size,
	              (unsigned long long)m->size);
	if (!full)
		return;
	buf = malloc(MODEL_MAX + B);
	ck_assert_ptr_nonnull(buf);
	n = fsio_read(f->fd, &f->key, buf, MODEL_MAX + B, 0);
	ck_assert_msg(n == (ssize_t)m->size, "%s: full read %zd, model %llu",
	              ctx, n, (unsigned long long)m->size);
	ck_assert_msg(memcmp(buf, m->data, m->size) == 0,
	              "%s: full read differs from the model", ctx);
	free(buf);
}

START_TEST(test_model)
{
	uint64_t seed = test_seed();
	unsigned char *buf;
	struct model m;
	struct rng r;
	struct file f;
	enum bc_cipher c;
	char ctx[200];

	if (!cipher_of(_i, &c))
		return;
	buf = malloc(4 * B);
	m.data = calloc(1, MODEL_MAX + 4 * B);
	m.size = 0;
	ck_assert(buf != NULL && m.data != NULL);
	r.s = seed;
	file_new(&f, c);
	for (int op = 0; op < MODEL_OPS; op++) {
		uint64_t off, n;
		size_t len;
		ssize_t got;
		int rc;

		switch (rng_below(&r, 20)) {
		case 0: case 1: case 2: case 3: case 4: case 5: case 6:
		case 7:                                   /* write */
			off = rng_below(&r, 8) == 0 ?
			      m.size + rng_below(&r, 24 * B) :
			      pick_offset(&r, m.size + B);
			len = pick_len(&r);
			if (off + len > MODEL_MAX)
				off = MODEL_MAX - len;
			snprintf(ctx, sizeof(ctx), "%s seed %llu op %d: "
			         "write %zu at %llu (size %llu)",
			         bc_cipher_name(c), (unsigned long long)seed,
			         op, len, (unsigned long long)off,
			         (unsigned long long)m.size);
			for (size_t i = 0; i < len; i++)
				buf[i] = (unsigned char)rng_next(&r);
			got = fsio_write(f.fd, &f.key, f.wrap, buf, len, off);
			ck_assert_msg(got == (ssize_t)len, "%s: returned %zd",
			              ctx, got);
			if (off > m.size)
				model_resize(&m, off);
			memcpy(m.data + off, buf, len);
			if (off + len > m.size)
				m.size = off + len;
			break;
		case 8: case 9: case 10:                  /* truncate */
			n = rng_below(&r, 4) == 0 ? m.size + rng_below(&r, 12 * B)
			                          : pick_offset(&r, m.size);
			if (rng_below(&r, 30) == 0)
				n = 0;
			if (n > MODEL_MAX)
				n = MODEL_MAX;
			snprintf(ctx, sizeof(ctx), "%s seed %llu op %d: "
			         "truncate to %llu (size %llu)",
			         bc_cipher_name(c), (unsigned long long)seed,
			         op, (unsigned long long)n,
			         (unsigned long long)m.size);
			rc = fsio_truncate(f.fd, &f.key, f.wrap, n);
			ck_assert_msg(rc == 0, "%s: returned %d", ctx, rc);
			model_resize(&m, n);
			break;
		case 11:                                  /* allocate */
			off = pick_offset(&r, m.size + B);
			n = 1 + rng_below(&r, 3 * B);
			if (off + n > MODEL_MAX)
				off = MODEL_MAX - n;
			snprintf(ctx, sizeof(ctx), "%s seed %llu op %d: "
			         "allocate %llu at %llu (size %llu)",
			         bc_cipher_name(c), (unsigned long long)seed,
			         op, (unsigned long long)n,
			         (unsigned long long)off,
			         (unsigned long long)m.size);
			rc = fsio_allocate(f.fd, &f.key, f.wrap, off, n);
			ck_assert_msg(rc == 0, "%s: returned %d", ctx, rc);
			if (off + n > m.size)
				model_resize(&m, off + n);
			break;
		case 12:                                  /* reload the key */
			snprintf(ctx, sizeof(ctx), "%s seed %llu op %d: "
			         "reload key", bc_cipher_name(c),
			         (unsigned long long)seed, op);
			{
				struct bc_key k2;

				rc = fsio_key_load(f.fd, c, f.wrap, false, &k2);
				ck_assert_msg(rc == 0, "%s: %d", ctx, rc);
				ck_assert_msg(k2.flags == f.key.flags &&
				              memcmp(k2.raw, f.key.raw,
				                     BC_KEYBYTES) == 0 &&
				              memcmp(k2.id, f.key.id,
				                     BC_IDBYTES) == 0,
				              "%s: header does not match the key "
				              "(flags %u vs %u)", ctx, k2.flags,
				              f.key.flags);
				f.key = k2;
			}
			break;
		default:                                  /* read */
			off = pick_offset(&r, m.size + 2 * B);
			len = pick_len(&r);
			snprintf(ctx, sizeof(ctx), "%s seed %llu op %d: "
			         "read %zu at %llu (size %llu)",
			         bc_cipher_name(c), (unsigned long long)seed,
			         op, len, (unsigned long long)off,
			         (unsigned long long)m.size);
			n = off >= m.size ? 0 :
			    (m.size - off < len ? m.size - off : len);
			memset(buf, 0xa5, len);
			got = fsio_read(f.fd, &f.key, buf, len, off);
			ck_assert_msg(got == (ssize_t)n, "%s: returned %zd, "
			              "want %llu", ctx, got,
			              (unsigned long long)n);
			ck_assert_msg(memcmp(buf, m.data + off, n) == 0,
			              "%s: wrong bytes", ctx);
			break;
		}
		model_check(&f, &m, ctx, op % 200 == 199);
	}
	snprintf(ctx, sizeof(ctx), "%s seed %llu: end", bc_cipher_name(c),
	         (unsigned long long)seed);
	model_check(&f, &m, ctx, true);
	file_close(&f);
	free(m.data);
	free(buf);
}
END_TEST

/* ---- core ------------------------------------------------------------- */

START_TEST(test_key_load_create)
{
	unsigned char hdr[BC_HEADER];
	struct bc_key k, k2;
	enum bc_cipher c;
	struct file f;

	if (!cipher_of(_i, &c))
		return;
	f.fd = open_backing();
	f.cipher = c;
	randombytes_buf(f.wrap, sizeof(f.wrap));
	ck_assert_int_eq(fsio_key_load(f.fd, c, f.wrap, false, &k), -ENODATA);
	ck_assert_int_eq(backing_stat(f.fd).st_size, 0);

	ck_assert_int_eq(fsio_key_load(f.fd, c, f.wrap, true, &f.key), 0);
	ck_assert_int_eq(backing_stat(f.fd).st_size, BC_HEADER);
	ck_assert_uint_eq(file_size(&f), 0);
	ck_assert_int_eq(f.key.cipher, c);
	ck_assert_uint_eq(f.key.flags, 0);

	/* The header on disk is bc_file_new's and opens with the wrap key. */
	raw_read(f.fd, hdr, sizeof(hdr), 0);
	ck_assert_int_eq(bc_file_open(c, f.wrap, hdr, &k2), 0);
	ck_assert_mem_eq(k2.raw, f.key.raw, BC_KEYBYTES);
	ck_assert_mem_eq(k2.id, f.key.id, BC_IDBYTES);

	/* Loading again, with or without create, gives the same key and
	 * leaves the header alone. */
	ck_assert_int_eq(fsio_key_load(f.fd, c, f.wrap, false, &k), 0);
	ck_assert_mem_eq(k.raw, f.key.raw, BC_KEYBYTES);
	ck_assert_mem_eq(k.id, f.key.id, BC_IDBYTES);
	ck_assert_int_eq(fsio_key_load(f.fd, c, f.wrap, true, &k), 0);
	ck_assert_mem_eq(k.raw, f.key.raw, BC_KEYBYTES);
	ck_assert_int_eq(backing_stat(f.fd).st_size, BC_HEADER);
	bc_key_wipe(&k);
	bc_key_wipe(&k2);
	file_close(&f);
}
END_TEST

START_TEST(test_write_read)
{
	static const char msg[] = "client file: confidential content";
	unsigned char *disk;
	enum bc_cipher c;
	struct file f;
	struct stat st;

	if (!cipher_of(_i, &c))
		return;
	file_new(&f, c);
	write_ok(&f, msg, sizeof(msg), 0);
	ck_assert_uint_eq(file_size(&f), sizeof(msg));
	ck_assert_int_eq(backing_stat(f.fd).st_size,
	                 bc_disk_size(c, sizeof(msg)));
	read_expect(&f, 0, sizeof(msg), (const unsigned char *)msg,
	            sizeof(msg));
	read_expect(&f, 7, 4, (const unsigned char *)msg + 7, 4);
	read_expect(&f, 7, 1000, (const unsigned char *)msg + 7,
	            sizeof(msg) - 7);

	/* No plaintext on disk. */
	st = backing_stat(f.fd);
	disk = malloc((size_t)st.st_size);
	ck_assert_ptr_nonnull(disk);
	raw_read(f.fd, disk, (size_t)st.st_size, 0);
	ck_assert_ptr_null(memmem(disk, (size_t)st.st_size, "confidential",
	                          12));
	free(disk);
	file_close(&f);
}
END_TEST

START_TEST(test_rewrap)
{
	unsigned char w2[BC_KEYBYTES], *data;
	struct bc_key k;
	enum bc_cipher c;
	struct file f;

	if (!cipher_of(_i, &c))
		return;
	data = file_with_data(&f, c, 3 * B + 10);
	/* A hole, so that the flag must survive the rewrap. */
	ck_assert_int_eq(fsio_truncate(f.fd, &f.key, f.wrap, 10 * B), 0);
	ck_assert_uint_eq(f.key.flags & BC_F_HOLES, BC_F_HOLES);

	randombytes_buf(w2, sizeof(w2));
	ck_assert_int_eq(fsio_rewrap(f.fd, &f.key, w2), 0);
	ck_assert_int_eq(fsio_key_load(f.fd, c, f.wrap, false, &k), -EIO);
	ck_assert_int_eq(fsio_key_load(f.fd, c, w2, false, &k), 0);
	ck_assert_mem_eq(k.raw, f.key.raw, BC_KEYBYTES);
	ck_assert_mem_eq(k.id, f.key.id, BC_IDBYTES);
	ck_assert_uint_eq(k.flags, f.key.flags);
	f.key = k;
	memcpy(f.wrap, w2, sizeof(w2));
	read_expect(&f, 0, 3 * B + 10, data, 3 * B + 10);
	read_zeros(&f, 3 * B + 10, 7 * B - 10);
	/* Writes keep working under the new key. */
	write_ok(&f, "x", 1, 20 * B);
	ck_assert_int_eq(fsio_key_load(f.fd, c, w2, false, &k), 0);
	ck_assert_uint_eq(k.flags, f.key.flags);
	free(data);
	file_close(&f);
}
END_TEST

START_TEST(test_holes)
{
	unsigned char buf[8];
	enum bc_cipher c;
	struct bc_key k;
	struct file f;
	struct stat st;

	if (!cipher_of(_i, &c))
		return;
	file_new(&f, c);
	write_ok(&f, "start", 5, 0);
	ck_assert_uint_eq(f.key.flags, 0);
	write_ok(&f, "A", 1, GIB);
	ck_assert_uint_eq(file_size(&f), GIB + 1);
	ck_assert_uint_eq(f.key.flags & BC_F_HOLES, BC_F_HOLES);
	ck_assert_int_eq(fsio_key_load(f.fd, c, f.wrap, false, &k), 0);
	ck_assert_uint_eq(k.flags & BC_F_HOLES, BC_F_HOLES);

	st = backing_stat(f.fd);
	ck_assert_int_eq(st.st_size, bc_disk_size(c, GIB + 1));
	ck_assert_msg((uint64_t)st.st_blocks * 512 < MIB,
	              "1 GiB hole uses %llu bytes of disk",
	              (unsigned long long)st.st_blocks * 512);

	read_expect(&f, 0, 5, (const unsigned char *)"start", 5);
	read_zeros(&f, 5, B);
	read_zeros(&f, 512 * MIB + 3, 3 * B + 7);
	memset(buf, 0, sizeof(buf));
	buf[5] = 'A';
	read_expect(&f, GIB - 5, 100, buf, 6);

	/* Writing into the middle of the hole. */
	write_ok(&f, "hello", 5, 100 * MIB + 10);
	read_expect(&f, 100 * MIB + 10, 5, (const unsigned char *)"hello", 5);
	read_zeros(&f, 100 * MIB - B, B + 10);
	read_zeros(&f, 100 * MIB + 15, 2 * B);

	/* Growing by truncate makes holes too. */
	ck_assert_int_eq(fsio_truncate(f.fd, &f.key, f.wrap, 2 * GIB), 0);
	ck_assert_uint_eq(file_size(&f), 2 * GIB);
	read_zeros(&f, GIB + 1, B);
	read_zeros(&f, 2 * GIB - B - 1, B + 1);
	ck_assert_msg((uint64_t)backing_stat(f.fd).st_blocks * 512 < MIB,
	              "2 GiB of holes use %llu bytes of disk",
	              (unsigned long long)backing_stat(f.fd).st_blocks * 512);
	bc_key_wipe(&k);
	file_close(&f);
}
END_TEST

/* Files written without gaps never get the holes flag, so a zeroed block
 * stays a forgery for them. */
START_TEST(test_no_holes_without_gaps)
{
	unsigned char data[3 * BC_BLOCK];
	enum bc_cipher c;
	struct file f;

	if (!cipher_of(_i, &c))
		return;
	fill_nonzero(data, sizeof(data));
	file_new(&f, c);
	write_ok(&f, data, 100, 0);
	write_ok(&f, data, 100, 4000);            /* a gap in one block */
	write_ok(&f, data, 100, B + 50);          /* into the next block */
	write_ok(&f, data, sizeof(data), 2 * B);
	ck_assert_int_eq(fsio_truncate(f.fd, &f.key, f.wrap, 5 * B + 3), 0);
	ck_assert_int_eq(fsio_truncate(f.fd, &f.key, f.wrap, 5 * B + 3000), 0);
	ck_assert_int_eq(fsio_allocate(f.fd, &f.key, f.wrap, 0, 20 * B), 0);
	ck_assert_uint_eq(f.key.flags, 0);
	file_close(&f);
}
END_TEST

START_TEST(test_allocate)
{
	unsigned char *data, *zero;
	enum bc_cipher c;
	struct file f;
	struct stat st;
	uint64_t size;

	if (!cipher_of(_i, &c))
		return;
	zero = calloc(1, 11 * B);
	ck_assert_ptr_nonnull(zero);
	data = file_with_data(&f, c, 10);
	ck_assert_int_eq(fsio_allocate(f.fd, &f.key, f.wrap, 0, 3 * B + 5), 0);
	ck_assert_uint_eq(file_size(&f), 3 * B + 5);
	read_expect(&f, 0, 10, data, 10);
	read_zeros(&f, 10, 3 * B - 5);

	/* Past the end, leaving a gap: filled with encrypted zeros. */
	ck_assert_int_eq(fsio_allocate(f.fd, &f.key, f.wrap, 10 * B, B), 0);
	size = file_size(&f);
	ck_assert_uint_eq(size, 11 * B);
	ck_assert_uint_eq(f.key.flags & BC_F_HOLES, 0);
	read_zeros(&f, 10, (size_t)size - 10);
	st = backing_stat(f.fd);
	ck_assert_int_eq(st.st_size, bc_disk_size(c, 11 * B));
	ck_assert_msg((uint64_t)st.st_blocks * 512 >= 11 * B,
	              "allocated file uses only %llu bytes",
	              (unsigned long long)st.st_blocks * 512);

	/* Inside the file: nothing changes. */
	ck_assert_int_eq(fsio_allocate(f.fd, &f.key, f.wrap, 0, 100), 0);
	ck_assert_int_eq(fsio_allocate(f.fd, &f.key, f.wrap, 5 * B + 1, B), 0);
	ck_assert_uint_eq(file_size(&f), 11 * B);
	read_expect(&f, 0, 10, data, 10);
	read_zeros(&f, 10, 11 * B - 10);

	/* Allocated zeros are real blocks: zeroing one on disk is caught. */
	{
		unsigned char *z = calloc(1, B + 64);

		raw_write(f.fd, z, stored_len(&f, 5, size),
		          bc_block_offset(c, 5));
		free(z);
	}
	ck_assert_int_eq(fsio_read(f.fd, &f.key, zero, B, 5 * B), -EIO);
	free(zero);
	free(data);
	file_close(&f);
}
END_TEST

START_TEST(test_over_4gib)
{
	unsigned char buf[16], v = 0x5a;
	static const unsigned char eight[8] = "12345678";
	enum bc_cipher c;
	struct file f;

	if (!cipher_of(_i, &c))
		return;
	file_new(&f, c);
	write_ok(&f, &v, 1, 5 * GIB);
	ck_assert_uint_eq(file_size(&f), 5 * GIB + 1);
	ck_assert_int_eq(backing_stat(f.fd).st_size,
	                 bc_disk_size(c, 5 * GIB + 1));
	ck_assert_msg((uint64_t)backing_stat(f.fd).st_blocks * 512 < MIB,
	              "5 GiB of holes use %llu bytes of disk",
	              (unsigned long long)backing_stat(f.fd).st_blocks * 512);

	read_zeros(&f, 4 * GIB - 10, 20);
	read_zeros(&f, 4 * GIB - B, 2 * B);
	read_zeros(&f, 4 * GIB, 1);
	memset(buf, 0, sizeof(buf));
	buf[1] = v;
	read_expect(&f, 5 * GIB - 1, 10, buf, 2);
	read_expect(&f, 5 * GIB + 1, 10, buf, 0);
	read_expect(&f, 6 * GIB, 10, buf, 0);

	/* Across the 4 GiB boundary. */
	write_ok(&f, eight, 8, 4 * GIB - 4);
	read_expect(&f, 4 * GIB - 4, 8, eight, 8);
	memset(buf, 0, sizeof(buf));
	memcpy(buf + 4, eight, 8);
	read_expect(&f, 4 * GIB - 8, 16, buf, 16);

	ck_assert_int_eq(fsio_truncate(f.fd, &f.key, f.wrap, 4 * GIB + 2), 0);
	ck_assert_uint_eq(file_size(&f), 4 * GIB + 2);
	read_expect(&f, 4 * GIB - 4, 100, eight, 6);
	ck_assert_int_eq(fsio_truncate(f.fd, &f.key, f.wrap, 4 * GIB - 2), 0);
	ck_assert_uint_eq(file_size(&f), 4 * GIB - 2);
	read_expect(&f, 4 * GIB - 4, 100, eight, 2);
	file_close(&f);
}
END_TEST

/* ---- limits ----------------------------------------------------------- */

START_TEST(test_empty_and_eof)
{
	unsigned char buf[16], *data;
	enum bc_cipher c;
	struct file f;

	if (!cipher_of(_i, &c))
		return;
	file_new(&f, c);
	ck_assert_int_eq(fsio_read(f.fd, &f.key, buf, sizeof(buf), 0), 0);
	ck_assert_int_eq(fsio_write(f.fd, &f.key, f.wrap, buf, 0, 0), 0);
	ck_assert_int_eq(fsio_write(f.fd, &f.key, f.wrap, buf, 0, 5 * B), 0);
	ck_assert_uint_eq(file_size(&f), 0);
	ck_assert_int_eq(backing_stat(f.fd).st_size, BC_HEADER);
	ck_assert_int_eq(fsio_truncate(f.fd, &f.key, f.wrap, 0), 0);
	ck_assert_int_eq(backing_stat(f.fd).st_size, BC_HEADER);
	file_close(&f);

	data = file_with_data(&f, c, B + 1);
	ck_assert_int_eq(fsio_read(f.fd, &f.key, buf, sizeof(buf), B + 1), 0);
	ck_assert_int_eq(fsio_read(f.fd, &f.key, buf, sizeof(buf), 9 * B), 0);
	ck_assert_int_eq(fsio_read(f.fd, &f.key, buf, 0, 0), 0);
	read_expect(&f, B, sizeof(buf), data + B, 1);
	ck_assert_int_eq(fsio_truncate(f.fd, &f.key, f.wrap, B + 1), 0);
	ck_assert_int_eq(fsio_truncate(f.fd, &f.key, f.wrap, 0), 0);
	ck_assert_uint_eq(file_size(&f), 0);
	ck_assert_int_eq(backing_stat(f.fd).st_size, BC_HEADER);
	ck_assert_int_eq(fsio_read(f.fd, &f.key, buf, sizeof(buf), 0), 0);
	free(data);
	file_close(&f);
}
END_TEST

/* Writes and truncates at and around every block boundary of a few
 * blocks, each checked against the expected content. */
START_TEST(test_block_boundaries)
{
	static const int64_t deltas[] = { -1, 0, 1 };
	static const size_t lens[] = { 1, 2, BC_BLOCK - 1, BC_BLOCK,
	                               BC_BLOCK + 1, 2 * BC_BLOCK + 1 };
	unsigned char *want, *src;
	enum bc_cipher c;
	struct file f;

	if (!cipher_of(_i, &c))
		return;
	want = calloc(1, 8 * B);
	src = malloc(3 * B);
	ck_assert(want != NULL && src != NULL);
	file_new(&f, c);
	for (uint64_t blk = 1; blk <= 3; blk++) {
		for (size_t d = 0; d < NELEM(deltas); d++) {
			for (size_t l = 0; l < NELEM(lens); l++) {
				uint64_t off = blk * B + (uint64_t)deltas[d];
				uint64_t size = file_size(&f);

				fill_nonzero(src, lens[l]);
				write_ok(&f, src, lens[l], off);
				memcpy(want + off, src, lens[l]);
				if (off + lens[l] > size)
					size = off + lens[l];
				ck_assert_uint_eq(file_size(&f), size);
				read_expect(&f, 0, 8 * B, want, (size_t)size);
			}
			/* Cut at the boundary and check again. */
			ck_assert_int_eq(fsio_truncate(f.fd, &f.key, f.wrap,
			    blk * B + (uint64_t)deltas[d]), 0);
			memset(want + blk * B + deltas[d], 0,
			       8 * B - (size_t)(blk * B + (uint64_t)deltas[d]));
			read_expect(&f, 0, 8 * B, want,
			            (size_t)(blk * B + (uint64_t)deltas[d]));
		}
	}
	free(want);
	free(src);
	file_close(&f);
}
END_TEST

START_TEST(test_large_io)
{
	size_t len = 3 * MIB + 3;
	unsigned char *data, *back;
	enum bc_cipher c;
	struct file f;

	if (!cipher_of(_i, &c))
		return;
	data = malloc(len);
	back = malloc(len);
	ck_assert(data != NULL && back != NULL);
	randombytes_buf(data, len);
	file_new(&f, c);
	write_ok(&f, data, len, 7);
	ck_assert_uint_eq(file_size(&f), len + 7);
	ck_assert_int_eq(fsio_read(f.fd, &f.key, back, len, 7), (ssize_t)len);
	ck_assert_mem_eq(back, data, len);
	read_zeros(&f, 0, 7);
	free(data);
	free(back);
	file_close(&f);
}
END_TEST

START_TEST(test_overflow)
{
	unsigned char buf[16] = { 0 };
	enum bc_cipher c;
	struct file f;

	if (!cipher_of(_i, &c))
		return;
	file_new(&f, c);
	ck_assert_int_eq(fsio_write(f.fd, &f.key, f.wrap, buf, sizeof(buf),
	                            UINT64_MAX - 5), -EFBIG);
	ck_assert_int_eq(fsio_allocate(f.fd, &f.key, f.wrap, UINT64_MAX - 5,
	                               16), -EFBIG);
	ck_assert_uint_eq(file_size(&f), 0);
	ck_assert_uint_eq(f.key.flags, 0);
	file_close(&f);
}
END_TEST

/* ---- errors ----------------------------------------------------------- */

START_TEST(test_wrong_wrap_key)
{
	unsigned char other[BC_KEYBYTES];
	struct bc_key k;
	enum bc_cipher c, oc;
	struct file f;

	if (!cipher_of(_i, &c))
		return;
	file_new(&f, c);
	randombytes_buf(other, sizeof(other));
	ck_assert_int_eq(fsio_key_load(f.fd, c, other, false, &k), -EIO);
	ck_assert_int_eq(fsio_key_load(f.fd, c, other, true, &k), -EIO);
	/* A header of one cipher read as the other. */
	oc = c == BC_AES256GCM ? BC_XCHACHA20POLY1305 : BC_AES256GCM;
	ck_assert_int_eq(fsio_key_load(f.fd, oc, f.wrap, false, &k), -EIO);
	file_close(&f);
}
END_TEST

START_TEST(test_short_header)
{
	unsigned char hdr[BC_HEADER];
	struct bc_key k;
	enum bc_cipher c;
	struct file f;

	if (!cipher_of(_i, &c))
		return;
	file_new(&f, c);
	raw_read(f.fd, hdr, sizeof(hdr), 0);
	ck_assert_int_eq(ftruncate(f.fd, 50), 0);
	ck_assert_int_eq(fsio_key_load(f.fd, c, f.wrap, false, &k), -EIO);
	ck_assert_int_eq(fsio_key_load(f.fd, c, f.wrap, true, &k), -EIO);
	ck_assert_int_eq(ftruncate(f.fd, BC_HEADER - 1), 0);
	ck_assert_int_eq(fsio_key_load(f.fd, c, f.wrap, false, &k), -EIO);
	file_close(&f);
}
END_TEST

/* A backing file whose size no file can have. */
START_TEST(test_bad_backing_size)
{
	unsigned char buf[64], *data;
	uint64_t size;
	enum bc_cipher c;
	struct file f;

	if (!cipher_of(_i, &c))
		return;
	data = file_with_data(&f, c, B);
	ck_assert_int_eq(ftruncate(f.fd, (off_t)(bc_block_offset(c, 1) + 10)),
	                 0);
	ck_assert_int_eq(fsio_size(f.fd, c, &size), -EIO);
	ck_assert_int_eq(fsio_read(f.fd, &f.key, buf, sizeof(buf), 0), -EIO);
	ck_assert_int_eq(fsio_write(f.fd, &f.key, f.wrap, buf, 1, 0), -EIO);
	ck_assert_int_eq(fsio_truncate(f.fd, &f.key, f.wrap, 1), -EIO);
	ck_assert_int_eq(fsio_allocate(f.fd, &f.key, f.wrap, 0, 1), -EIO);
	ck_assert_int_eq(ftruncate(f.fd, BC_HEADER / 2), 0);
	ck_assert_int_eq(fsio_size(f.fd, c, &size), -EIO);
	free(data);
	file_close(&f);
}
END_TEST

/* ---- tamper ----------------------------------------------------------- */

#define TLEN (3 * BC_BLOCK + 100)     /* blocks 0..2 full, block 3 partial */

START_TEST(test_tamper_flip)
{
	enum bc_cipher c;
	struct file f;
	unsigned char *data, *copy;
	size_t ov, nl, ds;
	char what[96];

	if (!cipher_of(_i, &c))
		return;
	ov = bc_overhead(c);
	nl = ov - 16;
	ds = B + ov;
	copy = malloc(ds);
	ck_assert_ptr_nonnull(copy);
	data = file_with_data(&f, c, TLEN);
	raw_read(f.fd, copy, ds, bc_block_offset(c, 1));

	/* Nonce, ciphertext and tag of block 1, and random positions. */
	size_t spots[12] = { 0, nl - 1, nl, nl + 1, nl + B / 2, nl + B - 1,
	                     nl + B, ds - 1 };
	for (size_t i = 8; i < NELEM(spots); i++)
		spots[i] = randombytes_uniform((uint32_t)ds);
	for (size_t i = 0; i < NELEM(spots); i++) {
		uint64_t at = bc_block_offset(c, 1) + spots[i];

		flip_byte(f.fd, at, 0x10);
		snprintf(what, sizeof(what), "block 1 byte %zu flipped",
		         spots[i]);
		read_rejected(&f, 0, TLEN, data, what);     /* whole file */
		read_rejected(&f, B, B, data, what);        /* the block */
		read_rejected(&f, B + 100, 10, data, what); /* inside it */
		read_rejected(&f, B - 10, 20, data, what);  /* across */
		read_expect(&f, 0, B, data, B);             /* neighbours */
		read_expect(&f, 2 * B, B, data + 2 * B, B);
		/* A partial write needs the block's old content: refused,
		 * and the stored block is not rewritten. */
		ck_assert_int_eq(fsio_write(f.fd, &f.key, f.wrap, "z", 1,
		                            B + 5), -EIO);
		flip_byte(f.fd, at, 0x10);
		{
			unsigned char *now = malloc(ds);

			raw_read(f.fd, now, ds, bc_block_offset(c, 1));
			ck_assert_mem_eq(now, copy, ds);
			free(now);
		}
		read_expect(&f, 0, TLEN, data, TLEN);
	}

	/* The last, partial block: first and last stored byte. */
	flip_byte(f.fd, bc_block_offset(c, 3), 0x01);
	read_rejected(&f, 3 * B, 100, data, "block 3 nonce");
	flip_byte(f.fd, bc_block_offset(c, 3), 0x01);
	flip_byte(f.fd, bc_disk_size(c, TLEN) - 1, 0x80);
	read_rejected(&f, 3 * B + 99, 1, data, "block 3 tag");
	read_rejected(&f, 0, TLEN, data, "block 3 tag, whole file");
	flip_byte(f.fd, bc_disk_size(c, TLEN) - 1, 0x80);
	read_expect(&f, 0, TLEN, data, TLEN);
	free(copy);
	free(data);
	file_close(&f);
}
END_TEST

START_TEST(test_tamper_zero_block)
{
	unsigned char *zero, *data;
	enum bc_cipher c;
	struct file f;

	if (!cipher_of(_i, &c))
		return;
	zero = calloc(1, B + 64);
	ck_assert_ptr_nonnull(zero);
	data = file_with_data(&f, c, TLEN);
	ck_assert_uint_eq(f.key.flags & BC_F_HOLES, 0);
	raw_write(f.fd, zero, stored_len(&f, 1, TLEN), bc_block_offset(c, 1));
	read_rejected(&f, B, B, data, "zeroed full block");
	read_rejected(&f, 0, TLEN, data, "zeroed full block, whole file");
	raw_write(f.fd, zero, stored_len(&f, 3, TLEN), bc_block_offset(c, 3));
	read_rejected(&f, 3 * B, 100, data, "zeroed last block");
	/* Zeroing the rest of the file does not make it a hole file. */
	raw_write(f.fd, zero, stored_len(&f, 0, TLEN), bc_block_offset(c, 0));
	raw_write(f.fd, zero, stored_len(&f, 2, TLEN), bc_block_offset(c, 2));
	read_rejected(&f, 0, TLEN, data, "all blocks zeroed");
	free(zero);
	free(data);
	file_close(&f);
}
END_TEST

START_TEST(test_tamper_swap)
{
	unsigned char *b0, *b1, *data;
	enum bc_cipher c;
	struct file f;
	size_t ds;

	if (!cipher_of(_i, &c))
		return;
	ds = B + bc_overhead(c);
	b0 = malloc(ds);
	b1 = malloc(ds);
	ck_assert(b0 != NULL && b1 != NULL);
	data = file_with_data(&f, c, TLEN);
	raw_read(f.fd, b0, ds, bc_block_offset(c, 0));
	raw_read(f.fd, b1, ds, bc_block_offset(c, 1));
	raw_write(f.fd, b1, ds, bc_block_offset(c, 0));
	raw_write(f.fd, b0, ds, bc_block_offset(c, 1));
	read_rejected(&f, 0, B, data, "block 1 in place of block 0");
	read_rejected(&f, B, B, data, "block 0 in place of block 1");
	read_rejected(&f, 0, TLEN, data, "blocks swapped, whole file");
	read_expect(&f, 2 * B, TLEN - 2 * B, data + 2 * B, TLEN - 2 * B);
	/* A copy of block 0 over block 1 (duplicated block). */
	raw_write(f.fd, b0, ds, bc_block_offset(c, 0));
	raw_write(f.fd, b0, ds, bc_block_offset(c, 1));
	read_expect(&f, 0, B, data, B);
	read_rejected(&f, B, B, data, "block 0 duplicated over block 1");
	free(b0);
	free(b1);
	free(data);
	file_close(&f);
}
END_TEST

/* Blocks and headers of another file (same client key). */
START_TEST(test_tamper_other_file)
{
	unsigned char hdr[BC_HEADER], *blk, *data, *odata;
	struct file f, g;
	struct bc_key k;
	enum bc_cipher c;
	size_t ds;

	if (!cipher_of(_i, &c))
		return;
	ds = B + bc_overhead(c);
	blk = malloc(ds);
	ck_assert_ptr_nonnull(blk);
	data = file_with_data(&f, c, TLEN);
	odata = file_with_data(&g, c, TLEN);
	memcpy(g.wrap, f.wrap, sizeof(g.wrap));
	ck_assert_int_eq(fsio_rewrap(g.fd, &g.key, g.wrap), 0);

	/* g's block 1 at f's block 1. */
	raw_read(g.fd, blk, ds, bc_block_offset(c, 1));
	raw_write(f.fd, blk, ds, bc_block_offset(c, 1));
	read_rejected(&f, B, B, data, "block of another file");
	read_rejected(&f, B, B, odata, "block of another file (its data)");

	/* g's header on f: the key loads (it is g's), f's blocks fail. */
	raw_read(g.fd, hdr, sizeof(hdr), 0);
	raw_write(f.fd, hdr, sizeof(hdr), 0);
	ck_assert_int_eq(fsio_key_load(f.fd, c, f.wrap, false, &k), 0);
	ck_assert_mem_eq(k.id, g.key.id, BC_IDBYTES);
	f.key = k;
	read_rejected(&f, 0, B, data, "blocks under another header");
	read_rejected(&f, 2 * B, B, data, "blocks under another header");

	/* A header bit flipped: the key does not load. */
	hdr[40] ^= 0x04;
	raw_write(f.fd, hdr, sizeof(hdr), 0);
	ck_assert_int_eq(fsio_key_load(f.fd, c, f.wrap, false, &k), -EIO);
	free(blk);
	free(data);
	free(odata);
	file_close(&f);
	file_close(&g);
}
END_TEST

/* The backing file cut short inside its last block. */
START_TEST(test_tamper_truncated)
{
	unsigned char *data;
	enum bc_cipher c;
	struct file f;
	uint64_t disk;

	if (!cipher_of(_i, &c))
		return;
	data = file_with_data(&f, c, TLEN);
	disk = bc_disk_size(c, TLEN);
	ck_assert_int_eq(ftruncate(f.fd, (off_t)disk - 1), 0);
	ck_assert_uint_eq(file_size(&f), TLEN - 1);
	read_rejected(&f, 3 * B, 99, data, "last block one byte short");
	read_rejected(&f, 0, TLEN - 1, data, "last block one byte short, "
	              "whole file");
	/* A full block cut by one byte looks like a partial block. */
	ck_assert_int_eq(ftruncate(f.fd, (off_t)bc_block_offset(c, 3) - 1), 0);
	ck_assert_uint_eq(file_size(&f), 3 * B - 1);
	read_rejected(&f, 2 * B, B - 1, data, "full block one byte short");
	read_expect(&f, 0, 2 * B, data, 2 * B);
	free(data);
	file_close(&f);
}
END_TEST

/* ---- suite ------------------------------------------------------------ */

static Suite *fsio_suite(void)
{
	Suite *s = suite_create("fsio");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");
	TCase *tamper = tcase_create("tamper");
	int nc = (int)NELEM(ciphers);

	tcase_set_timeout(core, 300);
	tcase_add_loop_test(core, test_key_load_create, 0, nc);
	tcase_add_loop_test(core, test_write_read, 0, nc);
	tcase_add_loop_test(core, test_model, 0, nc);
	tcase_add_loop_test(core, test_rewrap, 0, nc);
	tcase_add_loop_test(core, test_holes, 0, nc);
	tcase_add_loop_test(core, test_no_holes_without_gaps, 0, nc);
	tcase_add_loop_test(core, test_allocate, 0, nc);
	tcase_add_loop_test(core, test_over_4gib, 0, nc);

	tcase_set_timeout(limits, 60);
	tcase_add_loop_test(limits, test_empty_and_eof, 0, nc);
	tcase_add_loop_test(limits, test_block_boundaries, 0, nc);
	tcase_add_loop_test(limits, test_large_io, 0, nc);
	tcase_add_loop_test(limits, test_overflow, 0, nc);

	tcase_add_loop_test(errors, test_wrong_wrap_key, 0, nc);
	tcase_add_loop_test(errors, test_short_header, 0, nc);
	tcase_add_loop_test(errors, test_bad_backing_size, 0, nc);

	tcase_set_timeout(tamper, 60);
	tcase_add_loop_test(tamper, test_tamper_flip, 0, nc);
	tcase_add_loop_test(tamper, test_tamper_zero_block, 0, nc);
	tcase_add_loop_test(tamper, test_tamper_swap, 0, nc);
	tcase_add_loop_test(tamper, test_tamper_other_file, 0, nc);
	tcase_add_loop_test(tamper, test_tamper_truncated, 0, nc);

	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	suite_add_tcase(s, errors);
	suite_add_tcase(s, tamper);
	return s;
}

CHECK_MAIN(fsio_suite)
