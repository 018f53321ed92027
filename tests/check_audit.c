/*
 * Unit tests of the audit store (include/audit.h), on real SQLite files:
 * records and their hash chain (recomputed here from the encoding the
 * header documents, independently of the module), checkpoints and
 * audit.pub, reopening, a writer killed with SIGKILL, group commit from
 * 8 threads, the non-waiting variant, fail closed (a store locked by
 * another connection, a damaged head) and recovery without a gap, every
 * kind of tampering audit_verify() must name, names absent from the raw
 * database and WAL bytes, cursors (filters, paging, polling, a damaged
 * name), signed documents (their prefix, apart from checkpoints) and
 * single record hashes, and the three output formats.
 *
 * Each test works in its own directory under a base directory made
 * before the tcase forks its tests and removed after it, so nothing is
 * left behind even when a test crashes. The timing figures (per-record
 * cost, commits under concurrency) are printed, not asserted.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include <sqlite3.h>

#include "audit.h"
#include "check_main.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- fixtures --------------------------------------------------------- */

static char base[128];
static char dir[PATH_MAX];        /* this test's vault directory */
static int vfd = -1;              /* ... opened */
static unsigned char *secret;     /* sodium_malloc'd */

static void make_base(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(base, sizeof(base), "%s/check_audit.XXXXXX",
	         tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(base) == NULL)
		abort();
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_base(void)
{
	nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	static int n;

	snprintf(dir, sizeof(dir), "%s/v%d.%d", base, (int)getpid(), n++);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	vfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(vfd, 0);
	secret = sodium_malloc(AUDIT_SECRETBYTES);
	ck_assert_ptr_nonnull(secret);
	randombytes_buf(secret, AUDIT_SECRETBYTES);
}

static void teardown(void)
{
	close(vfd);
	sodium_free(secret);
}

/* ---- helpers ---------------------------------------------------------- */

static struct audit_event ev(const char *action, const char *client,
                             const char *path)
{
	struct audit_event e = {
		.uid = 1000, .user = "dsfuser", .roles = "manager,legal",
		.pid = 4242, .exe = "/usr/bin/cat", .action = action,
		.client = client, .path = path, .outcome = AUDIT_ALLOWED,
		.rule = "role manager", .policy = "0123456789abcdef",
	};
	return e;
}

static struct audit *wopen_busy(unsigned busy_ms)
{
	struct audit_config cfg = { .node = "test-node", .busy_ms = busy_ms };
	struct audit *a = NULL;
	int rc = audit_open(vfd, secret, &cfg, &a);

	ck_assert_msg(rc == 0, "audit_open: %s", strerror(-rc));
	return a;
}

static struct audit *wopen(void)
{
	return wopen_busy(0);
}

static uint64_t rec(struct audit *a, const struct audit_event *e)
{
	uint64_t seq = 0;
	int rc = audit_record(a, e, &seq);

	ck_assert_msg(rc == 0, "audit_record: %s", strerror(-rc));
	return seq;
}

/* n plain records on client "Acme", path "f<i>". */
static void rec_n(struct audit *a, int n)
{
	char path[32];

	for (int i = 0; i < n; i++) {
		struct audit_event e = ev("open", "Acme", path);

		snprintf(path, sizeof(path), "f%d", i);
		rec(a, &e);
	}
}

static sqlite3 *raw(void)
{
	char path[PATH_MAX + 16];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, AUDIT_DB);
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
	                                 NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 2000);
	return db;
}

static void sql(sqlite3 *db, const char *q)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, q, NULL, NULL, &err);

	ck_assert_msg(rc == SQLITE_OK, "%s: %s", q, err ? err : "?");
}

static int64_t sql_int(sqlite3 *db, const char *q)
{
	sqlite3_stmt *s;
	int64_t v;

	ck_assert_int_eq(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static int verify(struct audit_verify *v)
{
	return audit_verify(vfd, v);
}

#define VERIFY_BAD(v, seq, text) do {                                     \
	int rc_ = verify(v);                                             \
	ck_assert_msg(rc_ == -EBADMSG, "verify: want -EBADMSG, got %d "  \
	              "(%s)", rc_, (v)->reason);                          \
	ck_assert_msg((v)->bad_seq == (seq) &&                           \
	              strstr((v)->reason, text) != NULL,                 \
	              "verify: want seq %d '%s', got seq %llu '%s'",     \
	              (int)(seq), text,                                  \
	              (unsigned long long)(v)->bad_seq, (v)->reason);    \
} while (0)

/* The record hash as the header documents it, from a row of
 * "SELECT <the 20 columns> ...": written here again on purpose. */
static void doc_hash(sqlite3_stmt *s, unsigned char *out)
{
	crypto_generichash_state st;
	const char *dom = "dossierfs-audit-v1";

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const unsigned char *)dom,
	                          strlen(dom));
	for (int i = 0; i < 20; i++) {
		unsigned char h[9] = { 0 };
		int t = sqlite3_column_type(s, i);
		uint64_t x;
		const void *p = NULL;
		size_t n = 0;

		if (t == SQLITE_INTEGER) {
			h[0] = 1;
			x = (uint64_t)sqlite3_column_int64(s, i);
			for (int b = 0; b < 8; b++)
				h[1 + b] = (unsigned char)(x >> (56 - 8 * b));
			crypto_generichash_update(&st, h, 9);
			continue;
		}
		if (t == SQLITE_NULL) {
			crypto_generichash_update(&st, h, 1);
			continue;
		}
		ck_assert(t == SQLITE_TEXT || t == SQLITE_BLOB);
		h[0] = t == SQLITE_TEXT ? 3 : 4;
		p = t == SQLITE_TEXT ? (const void *)sqlite3_column_text(s, i)
		                     : sqlite3_column_blob(s, i);
		n = (size_t)sqlite3_column_bytes(s, i);
		for (int b = 0; b < 4; b++)
			h[1 + b] = (unsigned char)(n >> (24 - 8 * b));
		crypto_generichash_update(&st, h, 5);
		crypto_generichash_update(&st, p, n);
	}
	crypto_generichash_final(&st, out, 32);
}

#define COLS "seq, time_us, uid, user, roles, pid, exe, node, action, " \
	"client_tag, client, path, path2, outcome, errno, rule, policy, " \
	"bytes, detail, prev"

/* Recomputes prev and hash of every record from seq on, as a forger who
 * knows the format (but not the signing key) would. */
static void rechain(sqlite3 *db, int64_t from)
{
	unsigned char prev[32] = { 0 }, h[32];
	int64_t last = sql_int(db, "SELECT max(seq) FROM events");
	sqlite3_stmt *get, *setp, *seth, *ph;

	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT hash FROM events "
	                 "WHERE seq = ?1", -1, &ph, NULL), SQLITE_OK);
	sqlite3_bind_int64(ph, 1, from - 1);
	if (sqlite3_step(ph) == SQLITE_ROW)
		memcpy(prev, sqlite3_column_blob(ph, 0), 32);
	sqlite3_finalize(ph);
	sqlite3_prepare_v2(db, "SELECT " COLS " FROM events WHERE seq = ?1",
	                   -1, &get, NULL);
	sqlite3_prepare_v2(db, "UPDATE events SET prev = ?2 WHERE seq = ?1",
	                   -1, &setp, NULL);
	sqlite3_prepare_v2(db, "UPDATE events SET hash = ?2 WHERE seq = ?1",
	                   -1, &seth, NULL);
	for (int64_t s = from; s <= last; s++) {
		sqlite3_bind_int64(setp, 1, s);
		sqlite3_bind_blob(setp, 2, prev, 32, SQLITE_STATIC);
		ck_assert_int_eq(sqlite3_step(setp), SQLITE_DONE);
		sqlite3_reset(setp);
		sqlite3_bind_int64(get, 1, s);
		ck_assert_int_eq(sqlite3_step(get), SQLITE_ROW);
		doc_hash(get, h);
		sqlite3_reset(get);
		sqlite3_bind_int64(seth, 1, s);
		sqlite3_bind_blob(seth, 2, h, 32, SQLITE_STATIC);
		ck_assert_int_eq(sqlite3_step(seth), SQLITE_DONE);
		sqlite3_reset(seth);
		memcpy(prev, h, 32);
	}
	sqlite3_finalize(get);
	sqlite3_finalize(setp);
	sqlite3_finalize(seth);
}

/* Reads a whole file into a malloc'd buffer; NULL and *len 0 if absent. */
static unsigned char *slurp(const char *name, size_t *len)
{
	char path[PATH_MAX + 16];
	unsigned char *buf = NULL;
	struct stat st;
	FILE *f;

	*len = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	ck_assert_int_eq(fstat(fileno(f), &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	*len = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	return buf;
}

static int file_has(const char *name, const char *needle)
{
	size_t len;
	unsigned char *buf = slurp(name, &len);
	int found = buf && memmem(buf, len, needle, strlen(needle)) != NULL;

	free(buf);
	return found;
}

/* stderr goes to a file for the rest of the test; returns its path. */
static const char *capture_stderr(void)
{
	static char path[PATH_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/stderr.log", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, 2), 2);
	close(fd);
	return path;
}

static int count_lines_with(const char *path, const char *text)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, text) != NULL;
	fclose(f);
	return n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- core ------------------------------------------------------------- */

START_TEST(test_record_and_read)
{
	struct audit *a = wopen(), *r = NULL;
	struct audit_event e[4] = {
		ev("open", "Acme", "contracts/a.pdf"),
		ev("rename", "Acme", "old name.txt"),
		ev("mount", NULL, NULL),
		ev("close", "Zeta", ""),
	};
	struct audit_cursor *c;
	struct audit_row row;
	int64_t last = 0;

	e[1].path2 = "new name.txt";
	e[1].outcome = AUDIT_DENIED;
	e[1].err = EACCES;
	e[1].rule = "default deny";
	e[2].user = NULL;
	e[2].roles = NULL;
	e[2].exe = NULL;
	e[2].rule = NULL;
	e[2].policy = NULL;
	e[2].detail = "mounted on /srv/clients";
	e[3].has_bytes = 1;
	e[3].bytes = 123456789012ull;
	e[3].node = "other-node";
	for (size_t i = 0; i < NELEM(e); i++)
		ck_assert_uint_eq(rec(a, &e[i]), i + 1);
	ck_assert_int_eq(audit_open_read(vfd, secret, &r), 0);
	ck_assert_int_eq(audit_cursor_open(r, NULL, &c), 0);
	for (size_t i = 0; i < NELEM(e); i++) {
		ck_assert_int_eq(audit_cursor_next(c, &row), 1);
		ck_assert_uint_eq(row.seq, i + 1);
		ck_assert_int_ge(row.time_us, last);
		last = row.time_us;
		ck_assert_str_eq(row.ev.action, e[i].action);
		ck_assert_pstr_eq(row.ev.client, e[i].client);
		ck_assert_pstr_eq(row.ev.path, e[i].path);
		ck_assert_pstr_eq(row.ev.path2, e[i].path2);
		ck_assert_pstr_eq(row.ev.user, e[i].user);
		ck_assert_pstr_eq(row.ev.roles, e[i].roles);
		ck_assert_pstr_eq(row.ev.exe, e[i].exe);
		ck_assert_pstr_eq(row.ev.rule, e[i].rule);
		ck_assert_pstr_eq(row.ev.policy, e[i].policy);
		ck_assert_pstr_eq(row.ev.detail, e[i].detail);
		ck_assert_str_eq(row.ev.node, e[i].node ? e[i].node
		                                        : "test-node");
		ck_assert_int_eq(row.ev.outcome, e[i].outcome);
		ck_assert_int_eq(row.ev.err, e[i].err);
		ck_assert_int_eq(row.ev.uid, 1000);
		ck_assert_int_eq(row.ev.pid, 4242);
		ck_assert_int_eq(row.ev.has_bytes, e[i].has_bytes);
		ck_assert_uint_eq(row.ev.bytes, e[i].bytes);
	}
	ck_assert_int_eq(audit_cursor_next(c, &row), 0);
	audit_cursor_close(c);
	ck_assert_int_eq(audit_close(r), 0);
	ck_assert_int_eq(audit_close(a), 0);
}
END_TEST

START_TEST(test_chain_hashes)
{
	struct audit *a = wopen();
	unsigned char prev[32] = { 0 }, h[32];
	struct audit_verify v;
	sqlite3_stmt *s;
	sqlite3 *db;
	int64_t n = 0;

	rec_n(a, 50);
	ck_assert_int_eq(audit_close(a), 0);
	db = raw();
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT " COLS ", hash FROM "
	                 "events ORDER BY seq", -1, &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		ck_assert_int_eq(sqlite3_column_int64(s, 0), ++n);
		ck_assert_int_eq(sqlite3_column_bytes(s, 19), 32);
		ck_assert_mem_eq(sqlite3_column_blob(s, 19), prev, 32);
		doc_hash(s, h);
		ck_assert_int_eq(sqlite3_column_bytes(s, 20), 32);
		ck_assert_mem_eq(sqlite3_column_blob(s, 20), h, 32);
		memcpy(prev, h, 32);
	}
	ck_assert_int_eq(n, 50);
	sqlite3_finalize(s);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s,
	                                    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	ck_assert_int_eq(sql_int(db, "SELECT count(*) FROM events WHERE "
	                 "client_tag IS NULL OR length(client_tag) != 16"), 0);
	sqlite3_close(db);
	ck_assert_int_eq(verify(&v), 0);
	ck_assert_uint_eq(v.records, 50);
	ck_assert_uint_eq(v.checkpoints, 0);
	ck_assert_uint_eq(v.unsigned_records, 50);
}
END_TEST

START_TEST(test_checkpoints)
{
	struct audit *a = NULL;
	struct audit_head h;
	struct audit_verify v;
	struct stat st;
	char line[200], path[PATH_MAX + 16];
	FILE *f;

	a = wopen();
	ck_assert_int_eq(audit_checkpoint(a, &h), 0);     /* empty store */
	rec_n(a, 5);
	ck_assert_int_eq(audit_checkpoint(a, &h), 1);
	ck_assert_uint_eq(h.seq, 5);
	ck_assert_int_eq(audit_checkpoint(a, &h), 0);     /* nothing new */
	rec_n(a, 3);
	ck_assert_int_eq(audit_checkpoint(a, &h), 1);
	ck_assert_uint_eq(h.seq, 8);
	ck_assert_int_eq(verify(&v), 0);
	ck_assert_uint_eq(v.records, 8);
	ck_assert_uint_eq(v.checkpoints, 2);
	ck_assert_uint_eq(v.last_checkpoint, 8);
	ck_assert_uint_eq(v.unsigned_records, 0);
	rec_n(a, 2);
	ck_assert_int_eq(verify(&v), 0);           /* writer still open */
	ck_assert_uint_eq(v.unsigned_records, 2);
	ck_assert_int_eq(audit_close(a), 0);

	ck_assert_int_eq(fstatat(vfd, AUDIT_PUB, &st, 0), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0644);
	ck_assert_int_eq(fstatat(vfd, AUDIT_DB, &st, 0), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	snprintf(path, sizeof(path), "%s/%s", dir, AUDIT_PUB);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	ck_assert_int_eq(strncmp(line, "dossierfs-audit-ed25519 ", 24), 0);
	ck_assert_int_eq(strlen(line), 24 + 64 + 1);
	ck_assert_int_eq(strncmp(line + 24, v.pubkey, 64), 0);
}
END_TEST

START_TEST(test_reopen_and_keys)
{
	unsigned char *other = sodium_malloc(AUDIT_SECRETBYTES);
	struct audit *a = wopen(), *b = NULL;
	struct audit_event e = ev("open", "Acme", "x");
	char path[PATH_MAX + 16];
	FILE *f;

	rec_n(a, 3);
	ck_assert_int_eq(audit_close(a), 0);
	a = wopen();
	ck_assert_uint_eq(rec(a, &e), 4);        /* continues the chain */
	ck_assert_int_eq(audit_close(a), 0);

	randombytes_buf(other, AUDIT_SECRETBYTES);
	ck_assert_int_eq(audit_open(vfd, other, NULL, &b), -EKEYREJECTED);
	ck_assert_int_eq(audit_open_read(vfd, other, &b), -EKEYREJECTED);
	ck_assert_ptr_null(b);
	sodium_free(other);

	/* An audit.pub that is not this store's key stops the writer. */
	snprintf(path, sizeof(path), "%s/%s", dir, AUDIT_PUB);
	f = fopen(path, "w");
	fprintf(f, "dossierfs-audit-ed25519 %064d\n", 0);
	fclose(f);
	ck_assert_int_eq(audit_open(vfd, secret, NULL, &b), -EKEYREJECTED);
	/* A lost audit.pub is written again from the key. */
	ck_assert_int_eq(unlink(path), 0);
	a = wopen();
	ck_assert_int_eq(access(path, R_OK), 0);
	ck_assert_int_eq(audit_close(a), 0);
	ck_assert_int_eq(audit_open_read(vfd, secret, &b), 0);
	ck_assert_int_eq(audit_close(b), 0);
}
END_TEST

START_TEST(test_sigkill)
{
	struct audit_verify v;
	uint64_t seq = 0, got = 0;
	int p[2], status;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct audit_config cfg = { .node = "child" };
		struct audit *a;
		struct audit_event e = ev("open", "Acme", "killed.txt");

		close(p[0]);
		if (audit_open(vfd, secret, &cfg, &a) != 0)
			_exit(1);
		for (;;) {
			if (audit_record(a, &e, &seq) != 0 ||
			    write(p[1], &seq, sizeof(seq)) != sizeof(seq))
				_exit(1);
		}
	}
	close(p[1]);
	/* Every seq the child reported had been committed by then. */
	while (got < 200 && read(p[0], &seq, sizeof(seq)) == sizeof(seq))
		got = seq;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(p[0]);
	ck_assert_uint_eq(got, 200);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(verify(&v), 0);
	ck_assert_uint_ge(v.records, got);
	{
		struct audit *a = wopen();
		struct audit_event e = ev("open", "Acme", "after");

		ck_assert_uint_eq(rec(a, &e), v.records + 1);
		ck_assert_int_eq(audit_close(a), 0);
	}
	ck_assert_int_eq(verify(&v), 0);
}
END_TEST

/* ---- concurrency ------------------------------------------------------ */

#define THREADS 8
#define PER_THREAD 500

struct worker {
	struct audit *a;
	int id;
	uint64_t seqs[PER_THREAD];
	int failed;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	char path[32];

	for (int i = 0; i < PER_THREAD; i++) {
		struct audit_event e = ev("open", w->id % 2 ? "Odd" : "Even",
		                          path);

		snprintf(path, sizeof(path), "t%d/f%d", w->id, i);
		if (audit_record(w->a, &e, &w->seqs[i]) != 0)
			w->failed++;
	}
	return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

START_TEST(test_threads)
{
	static struct worker w[THREADS];
	static uint64_t all[THREADS * PER_THREAD];
	struct audit *a = wopen();
	struct audit_stats st;
	struct audit_verify v;
	pthread_t t[THREADS];
	double t0 = now_s(), dt;

	for (int i = 0; i < THREADS; i++) {
		w[i].a = a;
		w[i].id = i;
		ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	dt = now_s() - t0;
	for (int i = 0; i < THREADS; i++) {
		ck_assert_int_eq(w[i].failed, 0);
		memcpy(all + i * PER_THREAD, w[i].seqs, sizeof(w[i].seqs));
		for (int j = 1; j < PER_THREAD; j++)   /* per thread: in order */
			ck_assert_uint_gt(w[i].seqs[j], w[i].seqs[j - 1]);
	}
	qsort(all, NELEM(all), sizeof(all[0]), cmp_u64);
	for (size_t i = 0; i < NELEM(all); i++)
		ck_assert_uint_eq(all[i], i + 1);
	audit_stats(a, &st);
	ck_assert_uint_eq(st.records, THREADS * PER_THREAD);
	ck_assert_uint_eq(st.head_seq, THREADS * PER_THREAD);
	ck_assert_uint_lt(st.commits, st.records);
	printf("group commit: %d threads x %d records: %llu commits "
	       "(%.2f records per commit, largest batch %llu), %.1f us per "
	       "record\n", THREADS, PER_THREAD,
	       (unsigned long long)st.commits,
	       (double)st.records / (double)st.commits,
	       (unsigned long long)st.max_batch,
	       dt * 1e6 / (THREADS * PER_THREAD));
	ck_assert_int_eq(audit_close(a), 0);
	ck_assert_int_eq(verify(&v), 0);
	ck_assert_uint_eq(v.records, THREADS * PER_THREAD);
}
END_TEST

static int count_rows(struct audit *a, const struct audit_filter *f)
{
	struct audit_cursor *c;
	struct audit_row r;
	int n = 0, rc;

	ck_assert_int_eq(audit_cursor_open(a, f, &c), 0);
	while ((rc = audit_cursor_next(c, &r)) == 1)
		n++;
	ck_assert_int_eq(rc, 0);
	audit_cursor_close(c);
	return n;
}

START_TEST(test_nowait)
{
	struct audit *a = wopen(), *r;
	struct audit_stats st0, st;
	struct audit_cursor *c;
	struct audit_row row;
	char path[32] = "written.bin";
	struct audit_event e = ev("close", "Acme", path), s;

	e.has_bytes = 1;
	for (int i = 0; i < 10; i++) {
		e.bytes = (uint64_t)i;
		ck_assert_int_eq(audit_record_nowait(a, &e), 0);
	}
	strcpy(path, "CHANGED");             /* the record holds a copy */
	audit_stats(a, &st);
	ck_assert_uint_eq(st.queued, 10);
	ck_assert_uint_eq(st.records, 0);
	ck_assert_int_eq(audit_open_read(vfd, secret, &r), 0);
	ck_assert_int_eq(count_rows(r, NULL), 0);
	ck_assert_int_eq(audit_flush(a), 0);
	ck_assert_int_eq(count_rows(r, NULL), 10);

	/* Queued records go with the next waiting caller's commit. */
	audit_stats(a, &st0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(audit_record_nowait(a, &e), 0);
	s = ev("open", "Acme", "sync");
	ck_assert_uint_eq(rec(a, &s), 16);
	audit_stats(a, &st);
	ck_assert_uint_eq(st.commits, st0.commits + 1);
	ck_assert_uint_eq(st.records, 16);
	ck_assert_uint_eq(st.queued, 0);

	ck_assert_int_eq(audit_cursor_open(r, NULL, &c), 0);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(audit_cursor_next(c, &row), 1);
		ck_assert_str_eq(row.ev.path, "written.bin");
		ck_assert_uint_eq(row.ev.bytes, (uint64_t)i);
	}
	audit_cursor_close(c);
	/* A burst: whoever finds AUDIT_QUEUE_LEAD records queued commits. */
	audit_stats(a, &st0);
	for (unsigned i = 0; i < 2 * AUDIT_QUEUE_LEAD + 88; i++)
		ck_assert_int_eq(audit_record_nowait(a, &e), 0);
	audit_stats(a, &st);
	ck_assert_uint_eq(st.commits, st0.commits + 2);
	ck_assert_uint_eq(st.queued, 88);
	/* And audit_close() commits what is left. */
	ck_assert_int_eq(audit_record_nowait(a, &e), 0);
	ck_assert_int_eq(audit_close(a), 0);
	ck_assert_int_eq(count_rows(r, NULL), 17 + 2 * AUDIT_QUEUE_LEAD + 88);
	ck_assert_int_eq(audit_close(r), 0);
}
END_TEST

START_TEST(test_perf)
{
	struct audit *a = wopen();
	struct audit_event e = ev("open", "Acme Holdings",
	                          "contracts/2024/sale-agreement.pdf");
	const int n = 3000;
	double t0, dt;

	rec_n(a, 100);                               /* warm up */
	t0 = now_s();
	for (int i = 0; i < n; i++)
		rec(a, &e);
	dt = now_s() - t0;
	printf("audit_record, one caller at a time: %.1f us per record "
	       "(%d records)\n", dt * 1e6 / n, n);
	t0 = now_s();
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(audit_record_nowait(a, &e), 0);
	ck_assert_int_eq(audit_flush(a), 0);
	dt = now_s() - t0;
	printf("audit_record_nowait (a commit every %u): %.1f us per "
	       "record\n", AUDIT_QUEUE_LEAD, dt * 1e6 / n);
	ck_assert_int_eq(audit_close(a), 0);
}
END_TEST

/* ---- errors and fail closed ------------------------------------------- */

START_TEST(test_invalid_events)
{
	struct audit *a = wopen();
	struct audit_event e = ev("open", "Acme", "x");
	char *big = malloc(AUDIT_TEXT_MAX + 2);
	struct audit_stats st;

	memset(big, 'a', AUDIT_TEXT_MAX + 1);
	big[AUDIT_TEXT_MAX + 1] = '\0';
	e.action = NULL;
	ck_assert_int_eq(audit_record(a, &e, NULL), -EINVAL);
	e.action = "";
	ck_assert_int_eq(audit_record(a, &e, NULL), -EINVAL);
	e.action = "open";
	e.outcome = 0;
	ck_assert_int_eq(audit_record(a, &e, NULL), -EINVAL);
	e.outcome = AUDIT_ALLOWED;
	e.path = big;
	ck_assert_int_eq(audit_record(a, &e, NULL), -EINVAL);
	ck_assert_int_eq(audit_record_nowait(a, &e), -EINVAL);
	big[AUDIT_TEXT_MAX] = '\0';                 /* exactly the maximum */
	ck_assert_uint_eq(rec(a, &e), 1);
	e.path = "x";
	e.has_bytes = 1;
	e.bytes = (uint64_t)INT64_MAX + 1;
	ck_assert_int_eq(audit_record(a, &e, NULL), -EINVAL);
	audit_stats(a, &st);
	ck_assert_uint_eq(st.records, 1);
	ck_assert_int_eq(audit_close(a), 0);
	free(big);
}
END_TEST

START_TEST(test_fail_closed_locked)
{
	const char *log = capture_stderr();
	struct audit *a = wopen_busy(50);
	struct audit_event e = ev("open", "Acme", "x");
	struct audit_stats st;
	struct audit_verify v;
	sqlite3 *db;
	uint64_t seq = 0;

	rec_n(a, 3);
	ck_assert_int_eq(audit_record_nowait(a, &e), 0);
	db = raw();
	sql(db, "BEGIN EXCLUSIVE");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(audit_record(a, &e, &seq), -EIO);
	ck_assert_int_eq(audit_record_nowait(a, &e), -EIO);
	ck_assert_int_eq(audit_checkpoint(a, NULL), -EIO);
	audit_stats(a, &st);
	ck_assert(st.failing);
	ck_assert_uint_eq(st.refused, 4);
	ck_assert_uint_eq(st.queued, 1);           /* the nowait record waits */
	ck_assert_int_eq(count_lines_with(log, "cannot write"), 1);
	sql(db, "ROLLBACK");
	ck_assert_int_eq(audit_record(a, &e, &seq), 0);
	ck_assert_uint_eq(seq, 5);              /* 4 was the queued record */
	audit_stats(a, &st);
	ck_assert(!st.failing);
	ck_assert_uint_eq(st.queued, 0);
	ck_assert_int_eq(count_lines_with(log, "works again;"), 1);
	ck_assert_int_eq(count_lines_with(log, "4 records were refused"), 1);
	ck_assert_int_eq(count_lines_with(log, "database is locked"), 1);
	ck_assert_int_eq(audit_close(a), 0);
	sqlite3_close(db);
	ck_assert_int_eq(verify(&v), 0);
	ck_assert_uint_eq(v.records, 5);
}
END_TEST

START_TEST(test_fail_closed_damaged)
{
	const char *log = capture_stderr();
	struct audit *a = wopen();
	struct audit_event e = ev("open", "Acme", "x");
	struct audit_verify v;
	sqlite3 *db;
	uint64_t seq;

	rec_n(a, 3);
	db = raw();
	sql(db, "CREATE TABLE keep AS SELECT hash FROM events WHERE seq = 3");
	sql(db, "UPDATE events SET hash = x'00' WHERE seq = 3");
	ck_assert_int_eq(audit_record(a, &e, &seq), -EIO);
	ck_assert_int_eq(count_lines_with(log, "malformed"), 1);
	sql(db, "UPDATE events SET hash = (SELECT hash FROM keep) "
	    "WHERE seq = 3");
	sql(db, "DROP TABLE keep");
	ck_assert_int_eq(audit_record(a, &e, &seq), 0);
	ck_assert_uint_eq(seq, 4);
	sqlite3_close(db);
	ck_assert_int_eq(audit_close(a), 0);
	ck_assert_int_eq(verify(&v), 0);
}
END_TEST

START_TEST(test_readonly_handle)
{
	struct audit *a = wopen(), *r;
	struct audit_event e = ev("open", "Acme", "x");

	ck_assert_int_eq(audit_close(a), 0);
	ck_assert_int_eq(audit_open_read(vfd, secret, &r), 0);
	ck_assert_int_eq(audit_record(r, &e, NULL), -EBADF);
	ck_assert_int_eq(audit_record_nowait(r, &e), -EBADF);
	ck_assert_int_eq(audit_checkpoint(r, NULL), -EBADF);
	ck_assert_int_eq(audit_close(r), 0);
}
END_TEST

START_TEST(test_no_store)
{
	struct audit *r = NULL;
	struct audit_verify v;

	ck_assert_int_eq(audit_open_read(vfd, secret, &r), -ENOENT);
	ck_assert_int_eq(verify(&v), -ENOENT);
	ck_assert_int_eq(faccessat(vfd, AUDIT_DB, F_OK, 0), -1);
}
END_TEST

/* ---- tampering -------------------------------------------------------- */

/* 20 records; a checkpoint at 15. The writer is closed. */
static void tamper_setup(void)
{
	struct audit *a;
	struct audit_head h;

	setup();
	a = wopen();
	rec_n(a, 15);
	ck_assert_int_eq(audit_checkpoint(a, &h), 1);
	rec_n(a, 5);
	ck_assert_int_eq(audit_close(a), 0);
}

START_TEST(test_tamper_modify)
{
	struct audit_verify v;
	sqlite3 *db = raw();

	sql(db, "UPDATE events SET user = 'mallory' WHERE seq = 7");
	sqlite3_close(db);
	VERIFY_BAD(&v, 7, "altered");
	ck_assert_uint_eq(v.records, 6);
}
END_TEST

START_TEST(test_tamper_modify_rehashed)
{
	struct audit_verify v;
	sqlite3 *db = raw();
	int64_t last;

	/* The forger also fixes the record's own hash: the next link
	 * breaks. */
	sql(db, "UPDATE events SET action = 'list' WHERE seq = 7");
	sql(db, "CREATE TEMP TABLE tail AS SELECT * FROM events WHERE seq > 7");
	sql(db, "DELETE FROM events WHERE seq > 7");
	rechain(db, 7);
	sql(db, "INSERT INTO events SELECT * FROM temp.tail");
	last = sql_int(db, "SELECT max(seq) FROM events");
	ck_assert_int_eq(last, 20);
	sqlite3_close(db);
	VERIFY_BAD(&v, 8, "chain broken");
}
END_TEST

START_TEST(test_tamper_modify_type)
{
	struct audit_verify v;
	sqlite3 *db = raw();

	/* Same bytes, other type: the encoding tells them apart. */
	sql(db, "PRAGMA writable_schema = ON");
	sql(db, "UPDATE sqlite_schema SET sql = replace(sql, ') STRICT', ')')"
	    " WHERE name = 'events'");
	sqlite3_close(db);
	db = raw();
	sql(db, "UPDATE events SET user = CAST(user AS BLOB) WHERE seq = 9");
	sqlite3_close(db);
	VERIFY_BAD(&v, 9, "altered");
}
END_TEST

START_TEST(test_tamper_sealed)
{
	struct audit_verify v;
	sqlite3 *db = raw();

	sql(db, "UPDATE events SET path = (SELECT path FROM events WHERE "
	    "seq = 3) WHERE seq = 4");
	sqlite3_close(db);
	VERIFY_BAD(&v, 4, "altered");
}
END_TEST

START_TEST(test_tamper_delete)
{
	struct audit_verify v;
	sqlite3 *db = raw();

	sql(db, "DELETE FROM events WHERE seq = 7");
	sqlite3_close(db);
	VERIFY_BAD(&v, 7, "missing");
	db = raw();
	sql(db, "DELETE FROM events WHERE seq IN (8, 9)");
	sqlite3_close(db);
	VERIFY_BAD(&v, 7, "records 7 to 9 missing");
}
END_TEST

START_TEST(test_tamper_delete_first)
{
	struct audit_verify v;
	sqlite3 *db = raw();

	sql(db, "DELETE FROM events WHERE seq = 1");
	sqlite3_close(db);
	VERIFY_BAD(&v, 1, "missing");
}
END_TEST

/* Makes room at seq 12 and puts a copy of record 5 there. */
static void insert_at_12(sqlite3 *db)
{
	sql(db, "UPDATE events SET seq = -seq WHERE seq >= 12");
	sql(db, "UPDATE events SET seq = 1 - seq WHERE seq < 0");
	sql(db, "INSERT INTO events SELECT 12, time_us, uid, user, roles, "
	    "pid, exe, node, action, client_tag, client, path, path2, "
	    "outcome, errno, rule, policy, bytes, detail, prev, hash "
	    "FROM events WHERE seq = 5");
	ck_assert_int_eq(sql_int(db, "SELECT max(seq) FROM events"), 21);
}

START_TEST(test_tamper_insert)
{
	struct audit_verify v;
	sqlite3 *db = raw();

	insert_at_12(db);
	sqlite3_close(db);
	VERIFY_BAD(&v, 12, "altered");
}
END_TEST

START_TEST(test_tamper_insert_rehashed)
{
	struct audit_verify v;
	sqlite3 *db = raw();

	/* The forger fixes the new record's prev and hash: the next link
	 * breaks. */
	insert_at_12(db);
	sql(db, "UPDATE events SET prev = (SELECT hash FROM events WHERE "
	    "seq = 11) WHERE seq = 12");
	sqlite3_close(db);
	db = raw();
	{
		unsigned char h[32];
		sqlite3_stmt *s, *u;

		sqlite3_prepare_v2(db, "SELECT " COLS " FROM events WHERE "
		                   "seq = 12", -1, &s, NULL);
		ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
		doc_hash(s, h);
		sqlite3_finalize(s);
		sqlite3_prepare_v2(db, "UPDATE events SET hash = ?1 WHERE "
		                   "seq = 12", -1, &u, NULL);
		sqlite3_bind_blob(u, 1, h, 32, SQLITE_STATIC);
		ck_assert_int_eq(sqlite3_step(u), SQLITE_DONE);
		sqlite3_finalize(u);
	}
	sqlite3_close(db);
	VERIFY_BAD(&v, 13, "altered");     /* the old 12, now at 13 */
	/* ... and fixes the whole chain after it: the checkpoint at 15
	 * signed another record. */
	db = raw();
	rechain(db, 12);
	sqlite3_close(db);
	VERIFY_BAD(&v, 15, "checkpoint 1 signed another record");
}
END_TEST

START_TEST(test_tamper_swap)
{
	struct audit_verify v;
	sqlite3 *db = raw();

	sql(db, "UPDATE events SET seq = -8 WHERE seq = 8");
	sql(db, "UPDATE events SET seq = 8 WHERE seq = 9");
	sql(db, "UPDATE events SET seq = 9 WHERE seq = -8");
	sqlite3_close(db);
	VERIFY_BAD(&v, 8, "altered");
}
END_TEST

START_TEST(test_tamper_truncate)
{
	struct audit_verify v;
	sqlite3 *db = raw();

	/* Cutting only unsigned records cannot be seen: verify says how
	 * many there are. */
	sql(db, "DELETE FROM events WHERE seq > 17");
	sqlite3_close(db);
	ck_assert_int_eq(verify(&v), 0);
	ck_assert_uint_eq(v.records, 17);
	ck_assert_uint_eq(v.unsigned_records, 2);
	ck_assert_uint_eq(v.last_checkpoint, 15);
	db = raw();
	sql(db, "DELETE FROM events WHERE seq >= 10");
	sqlite3_close(db);
	VERIFY_BAD(&v, 10, "records 10 to 15 missing");
	ck_assert_ptr_nonnull(strstr(v.reason, "tail cut"));
}
END_TEST

START_TEST(test_tamper_rewrite_signed)
{
	struct audit_verify v;
	sqlite3 *db = raw();

	/* A consistent rewrite of signed records: the checkpoint says no. */
	sql(db, "UPDATE events SET user = 'mallory' WHERE seq = 2");
	rechain(db, 2);
	sqlite3_close(db);
	VERIFY_BAD(&v, 15, "signed another record");
	/* A consistent rewrite of unsigned records: only the count says. */
	db = raw();
	sql(db, "DELETE FROM checkpoints");
	sqlite3_close(db);
	ck_assert_int_eq(verify(&v), 0);
	ck_assert_uint_eq(v.unsigned_records, 20);
}
END_TEST

START_TEST(test_tamper_signature)
{
	struct audit_verify v;
	sqlite3 *db = raw();

	sql(db, "UPDATE checkpoints SET sig = randomblob(64)");
	sqlite3_close(db);
	VERIFY_BAD(&v, 15, "signature does not verify");
}
END_TEST

START_TEST(test_tamper_forged_checkpoint)
{
	unsigned char pk[32], sk[64], sig[64], msg[21 + 8 + 32 + 8];
	struct audit_verify v;
	sqlite3 *db = raw();
	sqlite3_stmt *s;
	int64_t t = 1;

	/* A well-formed checkpoint at 20, signed with another key. */
	crypto_sign_keypair(pk, sk);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT hash FROM events "
	                 "WHERE seq = 20", -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	memcpy(msg, "dossierfs-audit-cp-v1", 21);
	memset(msg + 21, 0, 8);
	msg[28] = 20;
	memcpy(msg + 29, sqlite3_column_blob(s, 0), 32);
	memset(msg + 61, 0, 8);
	msg[68] = (unsigned char)t;
	sqlite3_finalize(s);
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "INSERT INTO checkpoints "
	                 "(seq, hash, time_us, sig) VALUES (20, ?1, ?2, ?3)",
	                 -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_blob(s, 1, msg + 29, 32, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, t);
	sqlite3_bind_blob(s, 3, sig, 64, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	sqlite3_close(db);
	VERIFY_BAD(&v, 20, "checkpoint 2: signature does not verify");
	ck_assert_uint_eq(v.checkpoints, 1);
}
END_TEST

START_TEST(test_tamper_checkpoint_order)
{
	struct audit *a;
	struct audit_verify v;
	sqlite3 *db;

	a = wopen();
	rec_n(a, 3);
	ck_assert_int_eq(audit_checkpoint(a, NULL), 1);
	ck_assert_int_eq(audit_close(a), 0);
	ck_assert_int_eq(verify(&v), 0);
	ck_assert_uint_eq(v.checkpoints, 2);
	/* Checkpoints 1 (seq 15) and 2 (seq 23) change places. */
	db = raw();
	sql(db, "UPDATE checkpoints SET id = -id");
	sql(db, "UPDATE checkpoints SET id = 3 + id");
	sqlite3_close(db);
	VERIFY_BAD(&v, 15, "out of order");
}
END_TEST

START_TEST(test_tamper_pubkey)
{
	char path[PATH_MAX + 16];
	unsigned char pk[32], sk[64];
	char hex[65];
	struct audit_verify v;
	FILE *f;

	crypto_sign_keypair(pk, sk);
	sodium_bin2hex(hex, sizeof(hex), pk, sizeof(pk));
	snprintf(path, sizeof(path), "%s/%s", dir, AUDIT_PUB);
	f = fopen(path, "w");
	fprintf(f, "dossierfs-audit-ed25519 %s\n", hex);
	fclose(f);
	VERIFY_BAD(&v, 0, "another key");
	f = fopen(path, "w");
	fprintf(f, "not a key\n");
	fclose(f);
	ck_assert_int_eq(verify(&v), -EINVAL);
}
END_TEST

/* ---- privacy and cursors ---------------------------------------------- */

START_TEST(test_names_not_stored)
{
	const char *client = "Acme-Holdings-Secret-Client";
	const char *path = "contracts/merger-plan-2024.pdf";
	const char *path2 = "contracts/renamed-merger-plan.pdf";
	struct audit *a = wopen();
	struct audit_event e = ev("rename", client, path);
	struct audit_head h;
	const char *files[] = { AUDIT_DB, AUDIT_DB "-wal" };

	e.path2 = path2;
	e.user = "marker-user-name";
	for (int i = 0; i < 20; i++)
		rec(a, &e);
	ck_assert_int_eq(audit_checkpoint(a, &h), 1);
	/* While open, the records are in the WAL. */
	ck_assert(file_has(AUDIT_DB "-wal", "marker-user-name"));
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < NELEM(files); i++) {
			ck_assert_msg(!file_has(files[i], client),
			              "client name in %s", files[i]);
			ck_assert_msg(!file_has(files[i], path),
			              "path in %s", files[i]);
			ck_assert_msg(!file_has(files[i], path2),
			              "path2 in %s", files[i]);
			ck_assert_msg(!file_has(files[i], "merger"),
			              "part of a name in %s", files[i]);
		}
		if (round == 0)
			ck_assert_int_eq(audit_close(a), 0);
	}
	/* After close, the WAL was checkpointed into the database. */
	ck_assert(file_has(AUDIT_DB, "marker-user-name"));
}
END_TEST

START_TEST(test_cursor_filters)
{
	struct audit *a = wopen(), *r;
	struct audit_filter f = { 0 };
	struct audit_cursor *c;
	struct audit_row row;
	char path[32];
	int64_t mid = 0;

	/* 700 records: every third for Beta; Beta's are more than two
	 * pages. */
	for (int i = 0; i < 700; i++) {
		struct audit_event e = ev(i % 2 ? "open" : "list",
		                          i % 3 == 0 ? "Beta" : "Alpha", path);

		snprintf(path, sizeof(path), "p%d", i);
		if (i % 7 == 0)
			e.client = NULL;
		if (i % 5 == 0) {
			e.outcome = AUDIT_DENIED;
			e.user = "eve";
		}
		rec(a, &e);
		if (i == 349) {
			struct timespec ts = { 0, 2000000 }, now;

			nanosleep(&ts, NULL);
			clock_gettime(CLOCK_REALTIME, &now);
			mid = (int64_t)now.tv_sec * 1000000 +
			      now.tv_nsec / 1000;
			nanosleep(&ts, NULL);
		}
	}
	ck_assert_int_eq(audit_open_read(vfd, secret, &r), 0);
	f.client = "Beta";
	ck_assert_int_eq(audit_cursor_open(r, &f, &c), 0);
	for (int i = 0; i < 700; i++) {
		if (i % 3 != 0 || i % 7 == 0)
			continue;
		ck_assert_int_eq(audit_cursor_next(c, &row), 1);
		ck_assert_uint_eq(row.seq, (uint64_t)i + 1);
		ck_assert_str_eq(row.ev.client, "Beta");
	}
	ck_assert_int_eq(audit_cursor_next(c, &row), 0);
	audit_cursor_close(c);
	ck_assert_int_eq(count_rows(r, &f), 200);
	f.client = "Nobody";
	ck_assert_int_eq(count_rows(r, &f), 0);
	f.client = NULL;
	f.user = "eve";
	ck_assert_int_eq(count_rows(r, &f), 140);
	f.outcome = AUDIT_DENIED;
	f.action = "list";                       /* i % 10 == 0 */
	ck_assert_int_eq(count_rows(r, &f), 70);
	memset(&f, 0, sizeof(f));
	f.from_seq = 651;
	ck_assert_int_eq(count_rows(r, &f), 50);
	memset(&f, 0, sizeof(f));
	f.until_us = mid;
	ck_assert_int_eq(count_rows(r, &f), 350);
	f.until_us = 0;
	f.since_us = mid;
	ck_assert_int_eq(count_rows(r, &f), 350);
	f.outcome = 9;
	ck_assert_int_eq(audit_cursor_open(r, &f, &c), -EINVAL);
	ck_assert_int_eq(audit_close(r), 0);
	ck_assert_int_eq(audit_close(a), 0);
}
END_TEST

START_TEST(test_cursor_polls)
{
	struct audit *a = wopen();
	struct audit_filter f = { .client = "Acme" };
	struct audit_event other = ev("open", "Else", "y");
	struct audit_cursor *c;
	struct audit_row row;

	rec_n(a, 3);
	/* A cursor on the writer's handle, as the daemon's .audit files. */
	ck_assert_int_eq(audit_cursor_open(a, &f, &c), 0);
	for (int i = 1; i <= 3; i++)
		ck_assert_int_eq(audit_cursor_next(c, &row), 1);
	ck_assert_int_eq(audit_cursor_next(c, &row), 0);
	rec(a, &other);
	rec_n(a, 2);
	ck_assert_int_eq(audit_cursor_next(c, &row), 1);
	ck_assert_uint_eq(row.seq, 5);
	ck_assert_int_eq(audit_cursor_next(c, &row), 1);
	ck_assert_uint_eq(row.seq, 6);
	ck_assert_int_eq(audit_cursor_next(c, &row), 0);
	audit_cursor_close(c);
	ck_assert_int_eq(audit_close(a), 0);
}
END_TEST

START_TEST(test_cursor_damaged_name)
{
	struct audit *a = wopen();
	struct audit_cursor *c;
	struct audit_row row;
	sqlite3 *db;

	rec_n(a, 4);
	db = raw();
	/* A sealed name moved to another record does not open there. */
	sql(db, "UPDATE events SET path = (SELECT path FROM events WHERE "
	    "seq = 1) WHERE seq = 2");
	sqlite3_close(db);
	ck_assert_int_eq(audit_cursor_open(a, NULL, &c), 0);
	ck_assert_int_eq(audit_cursor_next(c, &row), 1);
	ck_assert_int_eq(audit_cursor_next(c, &row), -EBADMSG);
	ck_assert_uint_eq(row.seq, 2);
	ck_assert_int_eq(audit_cursor_next(c, &row), 1);
	ck_assert_uint_eq(row.seq, 3);
	audit_cursor_close(c);
	ck_assert_int_eq(audit_close(a), 0);
}
END_TEST

/* ---- signed documents and single hashes ------------------------------ */

/* audit.pub's key, read here on purpose rather than through the module. */
static void pub_key(unsigned char pk[32])
{
	size_t len, got;
	unsigned char *buf = slurp(AUDIT_PUB, &len);

	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(len, 24 + 64 + 1);
	ck_assert_int_eq(sodium_hex2bin(pk, 32, (const char *)buf + 24, 64,
	                                NULL, &got, NULL), 0);
	ck_assert_uint_eq(got, 32);
	free(buf);
}

/* The signature of a document as the header documents it:
 * Ed25519 over "dossierfs-audit-doc-v1\n" || msg. */
static int doc_sig_ok(const unsigned char pk[32], const char *msg,
                      const unsigned char sig[64])
{
	char m[256];

	ck_assert_int_lt(snprintf(m, sizeof(m), "dossierfs-audit-doc-v1\n%s",
	                          msg), (int)sizeof(m));
	return crypto_sign_verify_detached(sig, (const unsigned char *)m,
	                                   strlen(m), pk) == 0;
}

START_TEST(test_doc_sign_check)
{
	const char *msg = "dossierfs certificate of sanitization\nseq: 3\n";
	unsigned char sig[64], sig2[64], bad[64], pk[32];
	unsigned char *other = sodium_malloc(AUDIT_SECRETBYTES);
	char *flip = strdup(msg), odir[PATH_MAX + 8];
	struct audit *a = wopen(), *r, *b;
	int ofd;

	rec_n(a, 3);
	ck_assert_int_eq(audit_sign_doc(a, msg, strlen(msg), sig), 0);
	ck_assert_int_eq(audit_check_doc(vfd, msg, strlen(msg), sig), 0);
	/* The prefix, checked independently of the module. */
	pub_key(pk);
	ck_assert(doc_sig_ok(pk, msg, sig));
	ck_assert_int_eq(crypto_sign_verify_detached(sig,
	                 (const unsigned char *)msg, strlen(msg), pk), -1);
	/* A read-only handle signs with the same key (Ed25519 is
	 * deterministic: the same signature). */
	ck_assert_int_eq(audit_open_read(vfd, secret, &r), 0);
	ck_assert_int_eq(audit_sign_doc(r, msg, strlen(msg), sig2), 0);
	ck_assert_mem_eq(sig, sig2, 64);
	ck_assert_int_eq(audit_close(r), 0);
	/* Every flipped byte of the message, and of the signature, fails. */
	for (size_t i = 0; i < strlen(msg); i++) {
		flip[i] ^= 0x01;
		ck_assert_int_eq(audit_check_doc(vfd, flip, strlen(msg), sig),
		                 -EBADMSG);
		flip[i] ^= 0x01;
	}
	for (size_t i = 0; i < 64; i++) {
		memcpy(bad, sig, 64);
		bad[i] ^= 0x80;
		ck_assert_int_eq(audit_check_doc(vfd, msg, strlen(msg), bad),
		                 -EBADMSG);
	}
	ck_assert_int_eq(audit_check_doc(vfd, msg, strlen(msg) - 1, sig),
	                 -EBADMSG);
	/* The empty document. */
	ck_assert_int_eq(audit_sign_doc(a, NULL, 0, sig2), 0);
	ck_assert_int_eq(audit_check_doc(vfd, "", 0, sig2), 0);
	ck_assert(doc_sig_ok(pk, "", sig2));
	ck_assert_int_eq(audit_sign_doc(NULL, msg, 1, sig2), -EINVAL);
	ck_assert_int_eq(audit_sign_doc(a, NULL, 1, sig2), -EINVAL);
	ck_assert_int_eq(audit_close(a), 0);

	/* Another store's audit.pub does not check it. */
	snprintf(odir, sizeof(odir), "%s.other", dir);
	ck_assert_int_eq(mkdir(odir, 0700), 0);
	ofd = open(odir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(ofd, 0);
	randombytes_buf(other, AUDIT_SECRETBYTES);
	ck_assert_int_eq(audit_open(ofd, other, NULL, &b), 0);
	ck_assert_int_eq(audit_check_doc(ofd, msg, strlen(msg), sig),
	                 -EBADMSG);
	ck_assert_int_eq(audit_sign_doc(b, msg, strlen(msg), sig2), 0);
	ck_assert_int_eq(audit_check_doc(vfd, msg, strlen(msg), sig2),
	                 -EBADMSG);
	ck_assert_int_eq(audit_close(b), 0);
	close(ofd);
	sodium_free(other);
	free(flip);

	/* No audit.pub: no check. */
	ck_assert_int_eq(unlinkat(vfd, AUDIT_PUB, 0), 0);
	ck_assert_int_eq(audit_check_doc(vfd, msg, strlen(msg), sig), -ENOENT);
}
END_TEST

static void be64(unsigned char *b, uint64_t x)
{
	for (int i = 7; i >= 0; i--, x >>= 8)
		b[i] = (unsigned char)x;
}

/* Neither kind of signature passes as the other. */
START_TEST(test_doc_domains)
{
	unsigned char cp[21 + 8 + 32 + 8], cpsig[64], sig[64];
	struct audit *a = wopen();
	struct audit_head h;
	struct audit_verify v;
	sqlite3_stmt *s;
	sqlite3 *db;

	rec_n(a, 4);
	ck_assert_int_eq(audit_checkpoint(a, &h), 1);
	db = raw();
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT seq, hash, time_us, "
	                 "sig FROM checkpoints", -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	memcpy(cp, "dossierfs-audit-cp-v1", 21);
	be64(cp + 21, (uint64_t)sqlite3_column_int64(s, 0));
	memcpy(cp + 29, sqlite3_column_blob(s, 1), 32);
	be64(cp + 61, (uint64_t)sqlite3_column_int64(s, 2));
	memcpy(cpsig, sqlite3_column_blob(s, 3), 64);
	sqlite3_finalize(s);

	/* A checkpoint's signature is no document signature, for the
	 * checkpoint's bytes with or without their prefix. */
	ck_assert_int_eq(audit_check_doc(vfd, cp, sizeof(cp), cpsig), -EBADMSG);
	ck_assert_int_eq(audit_check_doc(vfd, cp + 21, sizeof(cp) - 21,
	                                 cpsig), -EBADMSG);

	/* A document holding a checkpoint's bytes, signed, is no
	 * checkpoint signature: audit_verify() rejects it in its place. */
	ck_assert_int_eq(audit_sign_doc(a, cp, sizeof(cp), sig), 0);
	ck_assert_int_eq(audit_check_doc(vfd, cp, sizeof(cp), sig), 0);
	ck_assert_int_eq(audit_close(a), 0);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "UPDATE checkpoints SET "
	                 "sig = ?1", -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_blob(s, 1, sig, 64, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	VERIFY_BAD(&v, 4, "signature does not verify");
	/* ... nor is the same without the checkpoint prefix. */
	a = wopen();
	ck_assert_int_eq(audit_sign_doc(a, cp + 21, sizeof(cp) - 21, sig), 0);
	ck_assert_int_eq(audit_close(a), 0);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "UPDATE checkpoints SET "
	                 "sig = ?1", -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_blob(s, 1, sig, 64, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	VERIFY_BAD(&v, 4, "signature does not verify");
	/* The real signature back: all is well. */
	ck_assert_int_eq(sqlite3_prepare_v2(db, "UPDATE checkpoints SET "
	                 "sig = ?1", -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_blob(s, 1, cpsig, 64, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	sqlite3_close(db);
	ck_assert_int_eq(verify(&v), 0);
}
END_TEST

START_TEST(test_hash_at)
{
	struct audit *a = wopen();
	struct audit_cursor *c;
	struct audit_row row;
	unsigned char h[32], d[32], last[32];
	sqlite3_stmt *s;
	sqlite3 *db;
	uint64_t n = 0;

	ck_assert_int_eq(audit_hash_at(vfd, 1, h), -ENOENT);  /* empty */
	rec_n(a, 300);                           /* more than one page */
	db = raw();
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT " COLS " FROM events "
	                 "WHERE seq = ?1", -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(audit_cursor_open(a, NULL, &c), 0);
	while (audit_cursor_next(c, &row) == 1) {
		ck_assert_uint_eq(row.seq, ++n);
		ck_assert_int_eq(audit_hash_at(vfd, row.seq, h), 0);
		ck_assert_mem_eq(h, row.hash, 32);
		/* ... and it is the record's hash as documented. */
		sqlite3_bind_int64(s, 1, (int64_t)row.seq);
		ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
		doc_hash(s, d);
		sqlite3_reset(s);
		ck_assert_mem_eq(d, row.hash, 32);
		memcpy(last, row.hash, 32);
	}
	audit_cursor_close(c);
	sqlite3_finalize(s);
	ck_assert_uint_eq(n, 300);
	ck_assert_int_eq(audit_hash_at(vfd, 301, h), -ENOENT);
	ck_assert_int_eq(audit_hash_at(vfd, 0, h), -EINVAL);
	ck_assert_int_eq(audit_hash_at(vfd, UINT64_MAX, h), -EINVAL);
	/* Read while the writer is open, and after. */
	ck_assert_int_eq(audit_close(a), 0);
	ck_assert_int_eq(audit_hash_at(vfd, 300, h), 0);
	ck_assert_mem_eq(h, last, 32);
	/* A malformed stored hash: -EBADMSG from both. */
	sql(db, "UPDATE events SET hash = x'00' WHERE seq = 7");
	ck_assert_int_eq(audit_hash_at(vfd, 7, h), -EBADMSG);
	ck_assert_int_eq(audit_open_read(vfd, secret, &a), 0);
	ck_assert_int_eq(audit_cursor_open(a, &(struct audit_filter){
	                 .from_seq = 7 }, &c), 0);
	ck_assert_int_eq(audit_cursor_next(c, &row), -EBADMSG);
	ck_assert_uint_eq(row.seq, 7);
	ck_assert_int_eq(audit_cursor_next(c, &row), 1);
	ck_assert_uint_eq(row.seq, 8);
	audit_cursor_close(c);
	ck_assert_int_eq(audit_close(a), 0);
	sqlite3_close(db);
	/* No store. */
	ck_assert_int_eq(unlinkat(vfd, AUDIT_DB, 0), 0);
	ck_assert_int_eq(audit_hash_at(vfd, 1, h), -ENOENT);
}
END_TEST

/* ---- formats ---------------------------------------------------------- */

static struct audit_row sample(void)
{
	struct audit_row r = { .seq = 42, .time_us = 1714567890123456LL };

	r.ev = ev("rename", "Müller, \"Hans\"", "a\nb.txt");
	r.ev.node = "n1";
	r.ev.path2 = "";
	r.ev.detail = NULL;
	r.ev.outcome = AUDIT_DENIED;
	r.ev.err = EACCES;
	r.ev.has_bytes = 1;
	r.ev.bytes = 7;
	return r;
}

START_TEST(test_format_csv)
{
	struct audit_row r = sample();
	char buf[1024];
	size_t n;

	n = audit_format_header(AUDIT_FMT_CSV, buf, sizeof(buf));
	ck_assert_str_eq(buf, "seq,time,node,uid,user,roles,pid,exe,action,"
	                 "client,path,path2,outcome,errno,rule,policy,bytes,"
	                 "detail\r\n");
	ck_assert_uint_eq(n, strlen(buf));
	n = audit_format(&r, AUDIT_FMT_CSV, buf, sizeof(buf));
	ck_assert_str_eq(buf, "42,2024-05-01T12:51:30.123456Z,n1,1000,dsfuser,"
	                 "\"manager,legal\",4242,/usr/bin/cat,rename,"
	                 "\"Müller, \"\"Hans\"\"\",\"a\nb.txt\",\"\",denied,13,"
	                 "role manager,0123456789abcdef,7,\r\n");
	ck_assert_uint_eq(n, strlen(buf));
	ck_assert_uint_eq(audit_format_header(AUDIT_FMT_JSON, buf, 8), 0);
	ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(test_format_json)
{
	struct audit_row r = sample();
	char buf[2048];

	r.ev.detail = "q\" b\\ t\t c\x01 d\x7f u\xc3\xa9 bad\xff cut\xc3";
	r.ev.roles = NULL;
	r.ev.has_bytes = 0;
	audit_format(&r, AUDIT_FMT_JSON, buf, sizeof(buf));
	ck_assert_str_eq(buf, "{\"seq\":42,\"time\":\"2024-05-01T12:51:30."
	                 "123456Z\",\"time_us\":1714567890123456,\"node\":\"n1\","
	                 "\"uid\":1000,\"user\":\"dsfuser\",\"roles\":null,"
	                 "\"pid\":4242,\"exe\":\"/usr/bin/cat\",\"action\":"
	                 "\"rename\",\"client\":\"Müller, \\\"Hans\\\"\","
	                 "\"path\":\"a\\nb.txt\",\"path2\":\"\",\"outcome\":"
	                 "\"denied\",\"errno\":13,\"rule\":\"role manager\","
	                 "\"policy\":\"0123456789abcdef\",\"bytes\":null,"
	                 "\"detail\":\"q\\\" b\\\\ t\\t c\\u0001 d\\u007f "
	                 "u\xc3\xa9 bad\\u00ff cut\\u00c3\"}\n");
}
END_TEST

START_TEST(test_format_text)
{
	struct audit_row r = sample();
	char buf[1024];

	r.ev.detail = "bidi \xe2\x80\xae here";       /* U+202E */
	r.ev.exe = NULL;
	audit_format(&r, AUDIT_FMT_TEXT, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2024-05-01T12:51:30.123456Z seq=42 node=n1 "
	                 "uid=1000 user=dsfuser roles=manager,legal pid=4242 "
	                 "action=rename client=\"Müller, \\\"Hans\\\"\" "
	                 "path=\"a\\nb.txt\" path2=\"\" outcome=denied "
	                 "errno=EACCES rule=\"role manager\" "
	                 "policy=0123456789abcdef bytes=7 "
	                 "detail=\"bidi \\u202e here\"\n");
}
END_TEST

START_TEST(test_format_short_buffer)
{
	struct audit_row r = sample();
	char full[1024], small[16];
	size_t n, m;

	for (int f = AUDIT_FMT_TEXT; f <= AUDIT_FMT_JSON; f++) {
		n = audit_format(&r, f, full, sizeof(full));
		ck_assert_uint_eq(n, strlen(full));
		m = audit_format(&r, f, small, sizeof(small));
		ck_assert_uint_eq(m, n);
		ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
		ck_assert_int_eq(strncmp(small, full, sizeof(small) - 1), 0);
		ck_assert_uint_eq(audit_format(&r, f, NULL, 0), n);
	}
}
END_TEST

/* ---- the suite -------------------------------------------------------- */

static TCase *tcase(const char *name, void (*fixture)(void), int timeout)
{
	TCase *tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, make_base, remove_base);
	tcase_add_checked_fixture(tc, fixture, teardown);
	tcase_set_timeout(tc, timeout);
	return tc;
}

static Suite *audit_suite(void)
{
	Suite *s = suite_create("audit");
	TCase *tc;

	tc = tcase("core", setup, 60);
	tcase_add_test(tc, test_record_and_read);
	tcase_add_test(tc, test_chain_hashes);
	tcase_add_test(tc, test_checkpoints);
	tcase_add_test(tc, test_reopen_and_keys);
	tcase_add_test(tc, test_sigkill);
	suite_add_tcase(s, tc);

	tc = tcase("concurrency", setup, 120);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_nowait);
	tcase_add_test(tc, test_perf);
	suite_add_tcase(s, tc);

	tc = tcase("errors", setup, 60);
	tcase_add_test(tc, test_invalid_events);
	tcase_add_test(tc, test_fail_closed_locked);
	tcase_add_test(tc, test_fail_closed_damaged);
	tcase_add_test(tc, test_readonly_handle);
	tcase_add_test(tc, test_no_store);
	suite_add_tcase(s, tc);

	tc = tcase("tamper", tamper_setup, 60);
	tcase_add_test(tc, test_tamper_modify);
	tcase_add_test(tc, test_tamper_modify_rehashed);
	tcase_add_test(tc, test_tamper_modify_type);
	tcase_add_test(tc, test_tamper_sealed);
	tcase_add_test(tc, test_tamper_delete);
	tcase_add_test(tc, test_tamper_delete_first);
	tcase_add_test(tc, test_tamper_insert);
	tcase_add_test(tc, test_tamper_insert_rehashed);
	tcase_add_test(tc, test_tamper_swap);
	tcase_add_test(tc, test_tamper_truncate);
	tcase_add_test(tc, test_tamper_rewrite_signed);
	tcase_add_test(tc, test_tamper_signature);
	tcase_add_test(tc, test_tamper_forged_checkpoint);
	tcase_add_test(tc, test_tamper_checkpoint_order);
	tcase_add_test(tc, test_tamper_pubkey);
	suite_add_tcase(s, tc);

	tc = tcase("read", setup, 60);
	tcase_add_test(tc, test_names_not_stored);
	tcase_add_test(tc, test_cursor_filters);
	tcase_add_test(tc, test_cursor_polls);
	tcase_add_test(tc, test_cursor_damaged_name);
	suite_add_tcase(s, tc);

	tc = tcase("documents", setup, 60);
	tcase_add_test(tc, test_doc_sign_check);
	tcase_add_test(tc, test_doc_domains);
	tcase_add_test(tc, test_hash_at);
	suite_add_tcase(s, tc);

	tc = tcase("format", setup, 10);
	tcase_add_test(tc, test_format_csv);
	tcase_add_test(tc, test_format_json);
	tcase_add_test(tc, test_format_text);
	tcase_add_test(tc, test_format_short_buffer);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(audit_suite)
