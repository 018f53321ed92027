/*
 * fsx.c - seeded differential file-operation tester (in the spirit of fsx).
 *
 * Usage:
 *   fsx -d TESTDIR -r REFDIR [-s SEED] [-n OPS] [-N NFILES] [-S MAXSIZE] [-q]
 *
 *   -d TESTDIR  directory under test (e.g. a dossierfs mount)
 *   -r REFDIR   reference directory on a native filesystem
 *   -s SEED     64-bit PRNG seed (decimal or 0x hex); default from time+pid
 *   -n OPS      number of operations (default 100000)
 *   -N NFILES   files f0..f{N-1} are created; names up to f{2N-1} serve as
 *               rename/recreate targets (default 4, max 64)
 *   -S MAXSIZE  files never grow beyond MAXSIZE bytes (default 1048576)
 *   -q          no progress output
 *
 * The same pseudo-random sequence of operations (write, read, truncate,
 * fallocate, mmap write/read, rename, close+reopen, fsync, unlink+recreate)
 * is applied to files in both directories.  After every operation the
 * return values, errno, data read and st_size (fstat and stat by name) of the
 * touched files must agree; every 1000 operations and at the end the full
 * content of every file is compared.  Existing files named f0..f{2N-1} in
 * both directories are removed at start; the files are left behind at exit
 * for inspection.  Offsets and lengths favour 4096-byte block boundaries.
 *
 * Exit status: 0 all operations matched, 1 mismatch (details, the seed and a
 * replay command line are printed to stderr), 2 usage or setup error.
 * Replaying with the same seed, -N and -S reproduces the same operations.
 *
 * Build: cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o fsx tests/fsx.c
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#define _FILE_OFFSET_BITS 64

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BS 4096u         /* block size whose boundaries we aim at */
#define MAXFILES 64
#define HIST 16          /* recent op descriptions kept for failure reports */
#define U(x) ((unsigned long long)(x))
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

enum { REF, TST };       /* side index */
enum op { OP_WRITE, OP_READ, OP_TRUNC, OP_FALLOC, OP_MAPWRITE, OP_MAPREAD,
	  OP_RENAME, OP_REOPEN, OP_FSYNC, OP_RECREATE, NOPS };
static const char *const opname[NOPS] = { "write", "read", "truncate",
	"fallocate", "mapwrite", "mapread", "rename", "reopen", "fsync",
	"recreate" };
static const unsigned opweight[NOPS] = { 20, 20, 8, 5, 8, 8, 4, 6, 4, 3 };

struct res { long long v; int err; };   /* syscall result + errno */

static uint64_t seed, rng;
static unsigned long long opno, nops = 100000, count[NOPS], skipped;
static unsigned nfiles = 4, nnames;
static uint64_t maxsize = 1u << 20;
static size_t pagesz;
static int quiet, in_check;
static const char *dir[2];
static int dfd[2];
static int fds[2 * MAXFILES][2];        /* fds[file][side], -1 if closed */
static int exists[2 * MAXFILES];
static char names[2 * MAXFILES][12];
static uint8_t *wbuf, *rbuf[2];
static char hist[HIST][200];
static char sigbus_tail[128];

/* ---- PRNG (splitmix64) ---- */

static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rndn(uint64_t n)        /* 0..n-1, 0 if n == 0 */
{
	return n ? rnd() % n : 0;
}

static void fill(uint8_t *b, size_t n)
{
	if (rndn(20) == 0) {                    /* zero-filled writes too */
		memset(b, 0, n);
		return;
	}
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rnd();
		memcpy(b + i, &v, n - i < 8 ? n - i : 8);
	}
}

/* ---- reporting ---- */

#define PRINTF(a, b) __attribute__((format(printf, a, b)))

static _Noreturn PRINTF(1, 2) void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fsx: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

static PRINTF(1, 2) void desc(const char *fmt, ...)
{
	char *h = hist[opno % HIST];
	int n = snprintf(h, sizeof hist[0], "op %llu: ", opno);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h + n, sizeof hist[0] - (size_t)n, fmt, ap);
	va_end(ap);
}

static _Noreturn PRINTF(1, 2) void fail(const char *fmt, ...)
{
	unsigned long long k = opno >= HIST ? opno - HIST + 1 : 1;
	va_list ap;

	if (in_check)
		fprintf(stderr, "fsx: MISMATCH in full content check after op %llu\n", opno);
	else
		fprintf(stderr, "fsx: MISMATCH at %s\n", hist[opno % HIST]);
	fprintf(stderr, "fsx:   ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nfsx: recent ops:\n");
	for (; k <= opno; k++)
		fprintf(stderr, "fsx:   %s\n", hist[k % HIST]);
	fprintf(stderr, "fsx: seed %llu\nfsx: replay: fsx -d %s -r %s -s %llu -n %llu -N %u -S %llu\n",
		U(seed), dir[TST], dir[REF], U(seed), opno, nfiles, U(maxsize));
	exit(1);
}

static _Noreturn void on_sigbus(int sig)
{
	static const char m[] = "fsx: SIGBUS (mmap access beyond backing store) at ";
	const char *h = hist[opno % HIST];
	ssize_t w;

	(void)sig;
	w = write(2, m, sizeof m - 1);
	w = write(2, h, strlen(h));
	w = write(2, sigbus_tail, strlen(sigbus_tail));
	(void)w;
	_exit(1);
}

static struct res R(long long v)
{
	struct res r = { v, v < 0 ? errno : 0 };
	return r;
}

static const char *fmtres(struct res r, char *buf, size_t n)
{
	if (r.v < 0)
		snprintf(buf, n, "%lld (errno %d: %s)", r.v, r.err, strerror(r.err));
	else
		snprintf(buf, n, "%lld", r.v);
	return buf;
}

/* Compare results of a call on both sides; the reference may fail only if
 * ref_may_fail (otherwise the environment is broken: exit 2). */
static void cmp_res(const char *call, const struct res r[2], int ref_may_fail)
{
	char a[128], b[128];

	if (!ref_may_fail && r[REF].v < 0)
		die("%s failed on the reference side at op %llu: %s", call,
		    opno, strerror(r[REF].err));
	if (r[REF].v != r[TST].v || r[REF].err != r[TST].err)
		fail("%s: return value differs: expected %s, got %s", call,
		     fmtres(r[REF], a, sizeof a), fmtres(r[TST], b, sizeof b));
}

static void hexdump(char *out, size_t n, const uint8_t *p, size_t len)
{
	size_t k = 0;

	out[0] = '\0';
	for (size_t i = 0; i < len && k + 4 < n; i++)
		k += (size_t)snprintf(out + k, n - k, "%02x ", p[i]);
}

static void cmp_data(const char *what, const uint8_t *exp, const uint8_t *got,
		     size_t n, uint64_t base)
{
	size_t first = 0, ndiff = 0, ctx, len;
	char a[64], b[64];

	if (memcmp(exp, got, n) == 0)
		return;
	for (size_t i = n; i-- > 0;)
		if (exp[i] != got[i]) {
			first = i;
			ndiff++;
		}
	ctx = first & ~(size_t)15;
	len = n - ctx < 16 ? n - ctx : 16;
	hexdump(a, sizeof a, exp + ctx, len);
	hexdump(b, sizeof b, got + ctx, len);
	fail("%s: %zu of %zu bytes differ, first differing byte at file offset %llu "
	     "(expected 0x%02x, got 0x%02x)\nfsx:   expected @%llu: %s\nfsx:   got      @%llu: %s",
	     what, ndiff, n, U(base + first), exp[first], got[first],
	     U(base + ctx), a, U(base + ctx), b);
}

/* ---- helpers acting on both sides ---- */

static long long pread_full(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (long long)done;
}

static uint64_t ref_size(int i)
{
	struct stat st;

	if (fstat(fds[i][REF], &st) < 0)
		die("fstat %s on reference side: %s", names[i], strerror(errno));
	return (uint64_t)st.st_size;
}

static void cmp_sizes(const char *how, int i, const struct stat st[2])
{
	if (st[REF].st_size != st[TST].st_size)
		fail("st_size of %s (%s) differs: expected %lld, got %lld", names[i],
		     how, (long long)st[REF].st_size, (long long)st[TST].st_size);
}

static void cmp_fstat(int i)
{
	struct stat st[2];
	struct res r[2];

	for (int s = 0; s < 2; s++)
		r[s] = R(fstat(fds[i][s], &st[s]));
	cmp_res("fstat", r, 0);
	cmp_sizes("fstat", i, st);
}

/* Compare fstat (if open) and stat-by-name of file i on both sides. */
static void cmp_stat(int i)
{
	struct stat st[2];
	struct res r[2];

	if (exists[i])
		cmp_fstat(i);
	for (int s = 0; s < 2; s++)
		r[s] = R(fstatat(dfd[s], names[i], &st[s], 0));
	cmp_res("stat by name", r, !exists[i]);
	if (!exists[i] && r[REF].v == 0)
		die("internal error: %s exists on the reference side", names[i]);
	if (r[REF].v == 0)
		cmp_sizes("stat by name", i, st);
}

static void close_pair(int f[2], const char *what)
{
	struct res r[2];

	for (int s = 0; s < 2; s++) {
		r[s] = R(close(f[s]));
		f[s] = -1;
	}
	cmp_res(what, r, 0);
}

static void open_pair(int f[2], int i, int flags, const char *what)
{
	struct res r[2];

	for (int s = 0; s < 2; s++) {
		f[s] = openat(dfd[s], names[i], flags, 0644);
		r[s] = R(f[s] < 0 ? -1 : 0);
	}
	cmp_res(what, r, 0);
}

/* Map [moff, moff+mlen) of file i on both sides. */
static void map_pair(int i, int prot, uint64_t moff, size_t mlen, uint8_t *p[2])
{
	struct res r[2];

	for (int s = 0; s < 2; s++) {
		void *m = mmap(NULL, mlen, prot, MAP_SHARED, fds[i][s], (off_t)moff);
		p[s] = m == MAP_FAILED ? NULL : m;
		r[s] = R(m == MAP_FAILED ? -1 : 0);
	}
	cmp_res("mmap", r, 0);
}

static void unmap_pair(uint8_t *p[2], size_t mlen)
{
	struct res r[2];

	for (int s = 0; s < 2; s++)
		r[s] = R(munmap(p[s], mlen));
	cmp_res("munmap", r, 0);
}

/* ---- choosing offsets and sizes ---- */

static uint64_t clampadd(uint64_t base, int64_t d, uint64_t hi)
{
	int64_t v = (int64_t)base + d;

	return v < 0 ? 0 : (uint64_t)v > hi ? hi : (uint64_t)v;
}

static uint64_t near_block(uint64_t hi)  /* k*BS-1, k*BS or k*BS+1 */
{
	return clampadd(rndn(hi / BS + 1) * BS, (int64_t)rndn(3) - 1, hi);
}

static uint64_t pick_len(void)
{
	static const uint64_t special[] = { 0, 1, 2, 511, 512, 4095, 4096, 4097,
					    8191, 8192, 8193, 12288 };
	uint64_t r = rndn(100), len;

	if (r < 15)
		len = special[rndn(NELEM(special))];
	else if (r < 35)
		len = clampadd((1 + rndn(8)) * BS, (int64_t)rndn(3) - 1, UINT32_MAX);
	else if (r < 65)
		len = 1 + rndn(64);
	else if (r < 90)
		len = 1 + rndn(4 * BS);
	else if (r < 98)
		len = 1 + rndn(128 * 1024);
	else
		len = 1 + rndn(maxsize);
	return len > maxsize ? maxsize : len;
}

static uint64_t pick_off(uint64_t size)
{
	uint64_t r = rndn(100);

	if (r < 10)
		return 0;
	if (r < 35)
		return rndn(size + 1);
	if (r < 55)
		return near_block(maxsize);
	if (r < 65)                                     /* around EOF */
		return clampadd(size, (int64_t)rndn(201) - 100, maxsize);
	if (r < 75)                                     /* EOF's block edge */
		return clampadd(size / BS * BS, (int64_t)rndn(3) - 1, maxsize);
	if (r < 90)                                     /* past EOF: holes */
		return size + rndn(64 * 1024);
	return rndn(maxsize);
}

/* A range [off, off+len) that ends at or below maxsize. */
static void pick_range(uint64_t size, uint64_t *off, uint64_t *len)
{
	*len = pick_len();
	*off = pick_off(size);
	if (*off + *len > maxsize)
		*off = maxsize - *len;
}

static uint64_t pick_tsize(uint64_t size)
{
	uint64_t r = rndn(100);

	if (r < 15)
		return 0;
	if (r < 45)
		return near_block(maxsize);
	if (r < 65)
		return clampadd(size, (int64_t)rndn(2 * BS + 1) - BS, maxsize);
	return rndn(maxsize + 1);
}

/* A page-aligned mapping [moff, size) and a non-empty range inside it. */
static void pick_map(uint64_t size, uint64_t *moff, uint64_t *off, uint64_t *len)
{
	uint64_t o, l;

	*moff = rndn(2) ? 0 : rndn((size - 1) / pagesz + 1) * pagesz;
	o = pick_off(size);
	if (o < *moff || o >= size)
		o = *moff + o % (size - *moff);
	l = pick_len();
	*off = o;
	*len = l < 1 ? 1 : l > size - o ? size - o : l;
}

/* ---- operations; each returns 0 if it was skipped ---- */

static int op_write(int i)
{
	struct res r[2];
	uint64_t off, len;

	pick_range(ref_size(i), &off, &len);
	fill(wbuf, len);
	desc("write %s off=%llu len=%llu", names[i], U(off), U(len));
	for (int s = 0; s < 2; s++)
		r[s] = R(pwrite(fds[i][s], wbuf, len, (off_t)off));
	cmp_res("pwrite", r, 0);
	cmp_stat(i);
	return 1;
}

static int op_read(int i)
{
	struct res r[2];
	uint64_t off, len;

	pick_range(ref_size(i), &off, &len);
	desc("read %s off=%llu len=%llu", names[i], U(off), U(len));
	for (int s = 0; s < 2; s++)
		r[s] = R(pread_full(fds[i][s], rbuf[s], len, off));
	cmp_res("pread", r, 0);
	cmp_data("pread data", rbuf[REF], rbuf[TST], (size_t)r[REF].v, off);
	cmp_stat(i);
	return 1;
}

static int op_trunc(int i)
{
	struct res r[2];
	uint64_t size = pick_tsize(ref_size(i));

	desc("truncate %s to %llu", names[i], U(size));
	for (int s = 0; s < 2; s++)
		r[s] = R(ftruncate(fds[i][s], (off_t)size));
	cmp_res("ftruncate", r, 0);
	cmp_stat(i);
	return 1;
}

static int op_falloc(int i)
{
	struct res r[2];
	uint64_t off, len;

	pick_range(ref_size(i), &off, &len);
	desc("fallocate %s mode 0 off=%llu len=%llu", names[i], U(off), U(len));
	for (int s = 0; s < 2; s++)
		r[s] = R(fallocate(fds[i][s], 0, (off_t)off, (off_t)len));
	if (r[TST].v < 0 && r[TST].err == EOPNOTSUPP)
		fail("fallocate mode 0 returned EOPNOTSUPP on the test side");
	cmp_res("fallocate", r, len == 0);          /* len 0 is EINVAL */
	cmp_stat(i);
	return 1;
}

static int op_mapwrite(int i)
{
	uint64_t size = ref_size(i), moff, off, len;
	struct res r[2];
	uint8_t *p[2];
	size_t mlen;

	if (size == 0) {
		desc("mapwrite %s skipped (empty file)", names[i]);
		return 0;
	}
	pick_map(size, &moff, &off, &len);
	mlen = size - moff;
	fill(wbuf, len);
	desc("mapwrite %s map=%llu+%llu off=%llu len=%llu", names[i], U(moff),
	     U(mlen), U(off), U(len));
	map_pair(i, PROT_READ | PROT_WRITE, moff, mlen, p);
	for (int s = 0; s < 2; s++)
		memcpy(p[s] + (off - moff), wbuf, len);
	for (int s = 0; s < 2; s++)
		r[s] = R(msync(p[s], mlen, MS_SYNC));
	cmp_res("msync", r, 0);
	unmap_pair(p, mlen);
	for (int s = 0; s < 2; s++)
		r[s] = R(pread_full(fds[i][s], rbuf[s], len, off));
	cmp_res("pread after mapwrite", r, 0);
	cmp_data("data after mapwrite", rbuf[REF], rbuf[TST], (size_t)r[REF].v, off);
	cmp_stat(i);
	return 1;
}

static int op_mapread(int i)
{
	uint64_t size = ref_size(i), moff, off, len;
	size_t mlen, tail;
	uint8_t *p[2];

	if (size == 0) {
		desc("mapread %s skipped (empty file)", names[i]);
		return 0;
	}
	pick_map(size, &moff, &off, &len);
	mlen = size - moff;
	tail = (pagesz - mlen % pagesz) % pagesz;
	desc("mapread %s map=%llu+%llu off=%llu len=%llu", names[i], U(moff),
	     U(mlen), U(off), U(len));
	map_pair(i, PROT_READ, moff, mlen, p);
	cmp_data("mmap data", p[REF] + (off - moff), p[TST] + (off - moff), len, off);
	cmp_data("mmap bytes past EOF in last page", p[REF] + mlen, p[TST] + mlen,
		 tail, size);
	unmap_pair(p, mlen);
	cmp_stat(i);
	return 1;
}

static int op_rename(int i)
{
	unsigned j = (unsigned)rndn(nnames - 1);
	int closed = rndn(4) == 0;
	struct res r[2];

	j += j >= (unsigned)i;
	desc("rename %s -> %s%s%s", names[i], names[j],
	     exists[j] ? " (replacing)" : "", closed ? " (closed first)" : "");
	if (closed)
		close_pair(fds[i], "close before rename");
	for (int s = 0; s < 2; s++)
		r[s] = R(renameat(dfd[s], names[i], dfd[s], names[j]));
	cmp_res("rename", r, 0);
	if (exists[j])
		close_pair(fds[j], "close of replaced file");
	for (int s = 0; s < 2; s++) {
		fds[j][s] = fds[i][s];
		fds[i][s] = -1;
	}
	exists[j] = 1;
	exists[i] = 0;
	if (closed)
		open_pair(fds[j], (int)j, O_RDWR, "open after rename");
	cmp_stat(i);
	cmp_stat((int)j);
	return 1;
}

static int op_reopen(int i)
{
	struct res r[2];
	int old[2];
	uint64_t size, len;

	switch (rndn(4)) {
	case 0:
		desc("reopen %s", names[i]);
		close_pair(fds[i], "close");
		open_pair(fds[i], i, O_RDWR, "open");
		break;
	case 1:
		desc("reopen %s with O_TRUNC", names[i]);
		close_pair(fds[i], "close");
		open_pair(fds[i], i, O_RDWR | O_TRUNC, "open O_TRUNC");
		break;
	case 2:
		desc("reopen %s (new fd opened before old one is closed)", names[i]);
		old[REF] = fds[i][REF];
		old[TST] = fds[i][TST];
		open_pair(fds[i], i, O_RDWR, "open");
		close_pair(old, "close of old fd");
		break;
	default:
		size = ref_size(i);
		len = pick_len();
		len = len > maxsize - size ? maxsize - size : len;
		fill(wbuf, len);
		desc("reopen %s with O_APPEND, append len=%llu", names[i], U(len));
		close_pair(fds[i], "close");
		open_pair(fds[i], i, O_RDWR | O_APPEND, "open O_APPEND");
		for (int s = 0; s < 2; s++)
			r[s] = R(write(fds[i][s], wbuf, len));
		cmp_res("append write", r, 0);
		cmp_stat(i);
		close_pair(fds[i], "close of O_APPEND fd");
		open_pair(fds[i], i, O_RDWR, "open");
		break;
	}
	cmp_stat(i);
	return 1;
}

static int op_fsync(int i)
{
	int data = (int)rndn(2);
	struct res r[2];

	desc("%s %s", data ? "fdatasync" : "fsync", names[i]);
	for (int s = 0; s < 2; s++)
		r[s] = R(data ? fdatasync(fds[i][s]) : fsync(fds[i][s]));
	cmp_res(data ? "fdatasync" : "fsync", r, 0);
	cmp_stat(i);
	return 1;
}

static int op_recreate(int i)
{
	unsigned n = 0, cand[2 * MAXFILES], j;
	int unl = 1, orphan = (int)rndn(2);
	uint64_t off, len;
	struct res r[2];

	for (unsigned k = 0; k < nnames; k++)
		n += exists[k] != 0;
	if (n < nfiles)
		unl = 0;                        /* only create: refill the set */
	n = 0;
	for (unsigned k = 0; k < nnames; k++)
		if (!exists[k] || (unl && k == (unsigned)i))
			cand[n++] = k;
	j = cand[rndn(n)];
	pick_range(ref_size(i), &off, &len);
	fill(wbuf, len);
	if (!unl)
		desc("create %s", names[j]);
	else if (orphan)
		desc("unlink %s while open, pwrite+pread off=%llu len=%llu on the "
		     "orphan, close, create %s", names[i], U(off), U(len), names[j]);
	else
		desc("close+unlink %s, create %s", names[i], names[j]);
	if (unl) {
		if (!orphan)
			close_pair(fds[i], "close before unlink");
		for (int s = 0; s < 2; s++)
			r[s] = R(unlinkat(dfd[s], names[i], 0));
		cmp_res("unlink", r, 0);
		if (orphan) {
			for (int s = 0; s < 2; s++)
				r[s] = R(pwrite(fds[i][s], wbuf, len, (off_t)off));
			cmp_res("pwrite to unlinked file", r, 0);
			for (int s = 0; s < 2; s++)
				r[s] = R(pread_full(fds[i][s], rbuf[s], len, off));
			cmp_res("pread from unlinked file", r, 0);
			cmp_data("data of unlinked file", rbuf[REF], rbuf[TST],
				 (size_t)r[REF].v, off);
			cmp_fstat(i);
			close_pair(fds[i], "close of unlinked file");
		}
		exists[i] = 0;
		cmp_stat(i);
	}
	open_pair(fds[j], (int)j, O_RDWR | O_CREAT | O_EXCL, "create");
	exists[j] = 1;
	cmp_stat((int)j);
	return 1;
}

static int (*const opfn[NOPS])(int) = { op_write, op_read, op_trunc, op_falloc,
	op_mapwrite, op_mapread, op_rename, op_reopen, op_fsync, op_recreate };

/* ---- whole-state comparison ---- */

static void full_check(void)
{
	struct res r[2];
	int f[2];

	in_check = 1;
	for (unsigned i = 0; i < nnames; i++) {
		cmp_stat((int)i);
		if (!exists[i])
			continue;
		uint64_t size = ref_size((int)i);
		open_pair(f, (int)i, O_RDONLY, "open for full check");
		for (int s = 0; s < 2; s++)
			r[s] = R(pread_full(f[s], rbuf[s], size + 1, 0));
		cmp_res("full read", r, 0);
		cmp_data(names[i], rbuf[REF], rbuf[TST], size, 0);
		close_pair(f, "close after full check");
	}
	in_check = 0;
}

static unsigned long long parse_num(const char *arg, char opt)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 0);
	if (errno || end == arg || *end || arg[0] == '-')
		die("invalid number for -%c: %s", opt, arg);
	return v;
}

static _Noreturn void usage(void)
{
	fprintf(stderr, "usage: fsx -d TESTDIR -r REFDIR [-s SEED] [-n OPS] "
		"[-N NFILES] [-S MAXSIZE] [-q]\n");
	exit(2);
}

static void setup(void)
{
	struct sigaction sa;
	long ps = sysconf(_SC_PAGESIZE);

	if (ps <= 0)
		die("sysconf(_SC_PAGESIZE) failed");
	pagesz = (size_t)ps;
	wbuf = malloc(maxsize + BS);
	rbuf[REF] = malloc(maxsize + BS);
	rbuf[TST] = malloc(maxsize + BS);
	if (!wbuf || !rbuf[REF] || !rbuf[TST])
		die("out of memory");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigbus;
	if (sigemptyset(&sa.sa_mask) < 0 || sigaction(SIGBUS, &sa, NULL) < 0)
		die("sigaction: %s", strerror(errno));
	nnames = 2 * nfiles;
	for (unsigned i = 0; i < nnames; i++) {
		snprintf(names[i], sizeof names[i], "f%u", i);
		fds[i][REF] = fds[i][TST] = -1;
	}
	for (int s = 0; s < 2; s++) {
		dfd[s] = open(dir[s], O_RDONLY | O_DIRECTORY);
		if (dfd[s] < 0)
			die("cannot open directory %s: %s", dir[s], strerror(errno));
		for (unsigned i = 0; i < nnames; i++) {
			if (unlinkat(dfd[s], names[i], 0) < 0 && errno != ENOENT)
				die("cannot remove %s/%s: %s", dir[s], names[i], strerror(errno));
			if (i >= nfiles)
				continue;
			fds[i][s] = openat(dfd[s], names[i], O_RDWR | O_CREAT | O_EXCL, 0644);
			if (fds[i][s] < 0)
				die("cannot create %s/%s: %s", dir[s], names[i], strerror(errno));
			exists[i] = 1;
		}
	}
}

static uint64_t default_seed(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		die("clock_gettime: %s", strerror(errno));
	rng = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	rng ^= (uint64_t)getpid() << 40;
	return rnd();
}

int main(int argc, char **argv)
{
	int c, seeded = 0;
	unsigned total = 0;

	while ((c = getopt(argc, argv, "d:r:s:n:N:S:q")) != -1) {
		switch (c) {
		case 'd': dir[TST] = optarg; break;
		case 'r': dir[REF] = optarg; break;
		case 's': seed = parse_num(optarg, 's'); seeded = 1; break;
		case 'n': nops = parse_num(optarg, 'n'); break;
		case 'N': nfiles = (unsigned)parse_num(optarg, 'N');
			  if (nfiles < 1 || nfiles > MAXFILES)
				  die("-N must be 1..%d", MAXFILES);
			  break;
		case 'S': maxsize = parse_num(optarg, 'S');
			  if (maxsize < 1 || maxsize > (1u << 30))
				  die("-S must be 1..1073741824");
			  break;
		case 'q': quiet = 1; break;
		default: usage();
		}
	}
	if (optind != argc || !dir[TST] || !dir[REF])
		usage();
	if (!seeded)
		seed = default_seed();
	rng = seed;
	printf("fsx: seed %llu\n", U(seed));
	if (fflush(stdout) == EOF)
		die("cannot write to stdout");
	snprintf(sigbus_tail, sizeof sigbus_tail, "\nfsx: seed %llu\n", U(seed));
	setup();

	for (int o = 0; o < NOPS; o++)
		total += opweight[o];
	for (opno = 1; opno <= nops; opno++) {
		uint64_t r = rndn(total);
		unsigned cand[2 * MAXFILES], n = 0;
		int o = 0;

		while (r >= opweight[o])
			r -= opweight[o++];
		for (unsigned k = 0; k < nnames; k++)
			if (exists[k])
				cand[n++] = k;
		desc("%s", opname[o]);
		if (opfn[o]((int)cand[rndn(n)]))
			count[o]++;
		else
			skipped++;
		if (opno % 1000 == 0)
			full_check();
		if (!quiet && opno % 10000 == 0) {
			printf("fsx: %llu ops ok\n", opno);
			fflush(stdout);
		}
	}
	opno = nops;
	full_check();

	for (unsigned i = 0; i < nnames; i++)
		if (exists[i])
			close_pair(fds[i], "final close");
	printf("fsx: %llu ops ok (seed %llu):", nops, U(seed));
	for (int o = 0; o < NOPS; o++)
		printf(" %s=%llu", opname[o], count[o]);
	printf(" skipped=%llu\n", skipped);
	if (fflush(stdout) == EOF)
		die("cannot write to stdout");
	return 0;
}
