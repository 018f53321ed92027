/*
 * Unit tests of the .audit views (include/auditview.h), on real SQLite
 * stores: the content of every file against text built here from the
 * store with a cursor of its own and audit_format() (so the module's
 * table, counting pass and readers are checked against an independent
 * loop), sizes and mtimes as records are committed, random offsets
 * after the marks have been thinned, every read size from 1 byte to
 * 128 KiB, reading at the end and polling, scopes (one client, the
 * whole vault, more scopes than are kept), a damaged record, verify.txt
 * for a good and a tampered store, two threads on one reader, and that
 * no read transaction is held between reads.
 *
 * Each test works in its own directory under a base directory made
 * before the tcase forks its tests and removed after it.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include <sqlite3.h>

#include "audit.h"
#include "auditview.h"
#include "check_main.h"

#define NSTREAMS  AV_VERIFY_TXT
#define LINE_MAX_ 65536u          /* more than any line of these stores */

/* ---- fixtures --------------------------------------------------------- */

static char base[128];
static char dir[PATH_MAX];        /* this test's vault directory */
static int vfd = -1;              /* ... opened */
static unsigned char *secret;     /* sodium_malloc'd */

static void make_base(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(base, sizeof(base), "%s/check_auditview.XXXXXX",
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
	memset(secret, 0x5a, AUDIT_SECRETBYTES);
}

static void teardown(void)
{
	close(vfd);
	sodium_free(secret);
}

/* ---- the store -------------------------------------------------------- */

static struct audit *wopen(void)
{
	struct audit_config cfg = { .node = "test-node" };
	struct audit *a = NULL;
	int rc = audit_open(vfd, secret, &cfg, &a);

	ck_assert_msg(rc == 0, "audit_open: %s", strerror(-rc));
	return a;
}

static struct av *views_of(struct audit *a)
{
	struct av *v = NULL;

	ck_assert_int_eq(av_new(a, vfd, &v), 0);
	return v;
}

static const char *const clients[] = { "Acme", "Beta", NULL };

/* Record i of a varied run: three scopes, every file, names and details
 * that need quoting and escaping, and now and then a long field. */
static void rec_one(struct audit *a, unsigned i, const char *client)
{
	static char big[AUDIT_TEXT_MAX + 1];
	static const char *const actions[] = {
		"open", "close", "list", "rename", "destroy", "create", "unlink",
	};
	char path[64], path2[64];
	struct audit_event e = {
		.uid = 1000 + i % 4, .user = i % 9 ? "dsfuser" : NULL,
		.roles = i % 3 ? "manager,legal" : NULL, .pid = 4000 + (int)i,
		.exe = "/usr/bin/cat", .action = actions[i % 7],
		.client = client, .path = path, .outcome = AUDIT_ALLOWED,
		.rule = "role manager", .policy = "0123456789abcdef",
	};

	snprintf(path, sizeof(path), i % 13 ? "dir/f%u.txt" :
	         "M\xc3\xbcller, \"H\"\n%u \xff.txt", i);
	if (i % 7 == 3) {
		snprintf(path2, sizeof(path2), "dir/g%u.txt", i);
		e.path2 = path2;
	}
	if (i % 5 == 0) {
		e.outcome = AUDIT_DENIED;
		e.err = EACCES;
	} else if (i % 11 == 0) {
		e.outcome = AUDIT_ERROR;
		e.err = EIO;
	}
	if (i % 2) {
		e.has_bytes = 1;
		e.bytes = (uint64_t)i * 977;
	}
	if (i % 17 == 0)
		e.detail = "a, \"quoted\"\ttab =eq \xe2\x80\xae bidi";
	if (i % 7 == 4) {
		; /* destructions stay as they are */
	} else if (i % 23 == 4) {
		e.action = i % 2 ? "share-export" : "share-request";
		e.detail = "id=7; package=0a1b; recipient=\"f,1\"; files=2";
	} else if (i % 29 == 6) {
		e.action = i % 2 ? "alert" : "lockout";
	}
	if (i % 97 == 50) {
		/* Longer than a reader's first buffer once escaped. */
		memset(big, '\x01', AUDIT_TEXT_MAX);
		e.detail = big;
	}
	ck_assert_int_eq(audit_record_nowait(a, &e), 0);
}

/* n records from number first on, spread over the scopes of clients. */
static void fill(struct audit *a, unsigned first, unsigned n)
{
	for (unsigned i = first; i < first + n; i++)
		rec_one(a, i, clients[i % 3]);
	ck_assert_int_eq(audit_flush(a), 0);
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

/* ---- what a file must hold, built independently ----------------------- */

struct text {
	char *p;
	size_t len, cap;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->p = realloc(t->p, t->cap);
		ck_assert_ptr_nonnull(t->p);
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static enum audit_format fmt_of(unsigned f)
{
	switch (f) {
	case AV_EVENTS_CSV:
		return AUDIT_FMT_CSV;
	case AV_EVENTS_JSONL:
		return AUDIT_FMT_JSON;
	default:
		return AUDIT_FMT_TEXT;
	}
}

/* destructions.csv: its header, and its columns in order, with the
 * detail key each one is read from (NULL: a field of the record). */
#define CERT_HEADER "seq,time,id,outcome,reason,user,uid,roles,rule," \
	"policy,client,path,bytes,digest,method_type,method,tool," \
	"verification,requested,started,ended,error\r\n"

static const char *const cert_cols[][2] = {
	{ "seq", NULL }, { "time", NULL }, { "id", "id" },
	{ "outcome", NULL }, { "reason", "reason" }, { "user", NULL },
	{ "uid", NULL }, { "roles", NULL }, { "rule", NULL },
	{ "policy", NULL }, { "client", NULL }, { "path", NULL },
	{ "bytes", NULL }, { "digest", "digest" },
	{ "method_type", "method-type" }, { "method", "method" },
	{ "tool", "tool" }, { "verification", "verification" },
	{ "requested", "requested" }, { "started", "started" },
	{ "ended", "ended" }, { "error", "error" },
};
#define NCOLS (sizeof(cert_cols) / sizeof(cert_cols[0]))

/* The time of r as audit_format() prints it, into out (64 bytes). */
static void row_time(const struct audit_row *r, char *out)
{
	char line[LINE_MAX_];
	size_t n = audit_format(r, AUDIT_FMT_TEXT, line, sizeof(line));

	ck_assert_uint_lt(n, sizeof(line));
	n = strcspn(line, " ");
	ck_assert_uint_lt(n, 64);
	memcpy(out, line, n);
	out[n] = '\0';
}

static void csv_field(struct text *t, const char *s)
{
	if (s == NULL || strpbrk(s, ",\"\r\n") == NULL) {
		text_add(t, s ? s : "", s ? strlen(s) : 0);
		return;
	}
	text_add(t, "\"", 1);
	for (; *s; s++) {
		if (*s == '"')
			text_add(t, "\"", 1);
		text_add(t, s, 1);
	}
	text_add(t, "\"", 1);
}

/* Row r of destructions.csv, built column by column from the list. */
static void cert_row(struct text *t, const struct audit_row *r)
{
	const struct audit_event *e = &r->ev;
	char *detail = strdup(e->detail ? e->detail : "");
	const char *val[NCOLS] = { 0 };
	char num[4][64];
	char *p, *next;

	ck_assert_ptr_nonnull(detail);
	for (p = detail; p != NULL && *p; p = next) {
		char *eq;

		if ((next = strstr(p, "; ")) != NULL) {
			*next = '\0';
			next += 2;
		}
		if ((eq = strchr(p, '=')) == NULL)
			continue;
		*eq = '\0';
		for (size_t c = 0; c < NCOLS; c++)
			if (cert_cols[c][1] && !strcmp(cert_cols[c][1], p) &&
			    val[c] == NULL)
				val[c] = eq + 1;
	}
	snprintf(num[0], 64, "%llu", (unsigned long long)r->seq);
	row_time(r, num[1]);
	snprintf(num[2], 64, "%u", (unsigned)e->uid);
	snprintf(num[3], 64, "%llu", (unsigned long long)e->bytes);
	val[0] = num[0];
	val[1] = num[1];
	val[3] = e->outcome == AUDIT_ALLOWED ? "done" :
	         e->outcome == AUDIT_ERROR ? "failed" : "denied";
	val[5] = e->user;
	val[6] = num[2];
	val[7] = e->roles;
	val[8] = e->rule;
	val[9] = e->policy;
	val[10] = e->client;
	val[11] = e->path;
	val[12] = e->has_bytes ? num[3] : NULL;
	for (size_t c = 0; c < NCOLS; c++) {
		if (c > 0)
			text_add(t, ",", 1);
		csv_field(t, val[c]);
	}
	text_add(t, "\r\n", 2);
	free(detail);
}

/* shares.csv: its header, and a row built from its description in
 * auditview.h. */
#define SHARE_HEADER "seq,time,id,step,outcome,user,uid,roles,client," \
	"path,reason,recipient,package,files,bytes,rule,detail\r\n"

/* The value of key in a detail of "key=value; ..." pairs, in buf. */
static const char *detail_key(const char *detail, const char *key,
                              char *buf, size_t cap)
{
	size_t k = strlen(key);

	for (const char *p = detail; p != NULL && *p;) {
		const char *end = strstr(p, "; ");
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n > k && p[k] == '=' && memcmp(p, key, k) == 0) {
			snprintf(buf, cap, "%.*s", (int)(n - k - 1), p + k + 1);
			return buf;
		}
		p = end ? end + 2 : NULL;
	}
	return NULL;
}

static void share_row(struct text *t, const struct audit_row *r)
{
	const struct audit_event *e = &r->ev;
	char num[4][64], kv[4][256];
	const char *val[17];

	snprintf(num[0], 64, "%llu", (unsigned long long)r->seq);
	row_time(r, num[1]);
	snprintf(num[2], 64, "%u", (unsigned)e->uid);
	snprintf(num[3], 64, "%llu", (unsigned long long)e->bytes);
	val[0] = num[0];
	val[1] = num[1];
	val[2] = detail_key(e->detail, "id", kv[0], 256);
	val[3] = e->action + strlen("share-");
	val[4] = audit_outcome_name(e->outcome);
	val[5] = e->user;
	val[6] = num[2];
	val[7] = e->roles;
	val[8] = e->client;
	val[9] = e->path;
	val[10] = e->path2;
	val[11] = detail_key(e->detail, "recipient", kv[1], 256);
	val[12] = detail_key(e->detail, "package", kv[2], 256);
	val[13] = detail_key(e->detail, "files", kv[3], 256);
	val[14] = e->has_bytes ? num[3] : NULL;
	val[15] = e->rule;
	val[16] = e->detail;
	for (size_t c = 0; c < 17; c++) {
		if (c > 0)
			text_add(t, ",", 1);
		csv_field(t, val[c]);
	}
	text_add(t, "\r\n", 2);
}

/* The stand-in line the header describes for a record that does not
 * decode: its seq, action "damaged-record", outcome "error", EBADMSG. */
static void damaged_row(uint64_t seq, struct audit_row *r)
{
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->ev.node = "?";
	r->ev.action = "damaged-record";
	r->ev.outcome = AUDIT_ERROR;
	r->ev.err = EBADMSG;
	r->ev.detail = "record does not decode; run dossierctl audit verify";
}

static int in_file(unsigned f, const struct audit_row *r, int damaged)
{
	switch (f) {
	case AV_DENIED_LOG:
		return !damaged && r->ev.outcome == AUDIT_DENIED;
	case AV_DESTRUCTIONS_CSV:
		return !damaged && strcmp(r->ev.action, "destroy") == 0;
	case AV_SHARES_CSV:
		return !damaged && strncmp(r->ev.action, "share-", 6) == 0;
	case AV_ALERTS_LOG:
		return !damaged && (!strcmp(r->ev.action, "alert") ||
		                    !strcmp(r->ev.action, "alert-notify") ||
		                    !strcmp(r->ev.action, "lockout") ||
		                    !strcmp(r->ev.action, "unlock"));
	default:
		return 1;
	}
}

/* File f of scope client as it must read now; the scope's record count
 * and newest record time into *records and *newest if not NULL. */
static struct text expect(struct audit *a, const char *client, unsigned f,
                          uint64_t *records, int64_t *newest)
{
	struct audit_filter flt = { .client = client };
	struct audit_cursor *c;
	struct audit_row r;
	struct text t = { 0 };
	char *line = malloc(LINE_MAX_);
	size_t n;
	int rc;

	ck_assert_ptr_nonnull(line);
	text_add(&t, "", 0);
	n = audit_format_header(fmt_of(f), line, LINE_MAX_);
	if (fmt_of(f) == AUDIT_FMT_CSV)
		ck_assert_uint_gt(n, 0);
	if (f == AV_DESTRUCTIONS_CSV)
		text_add(&t, CERT_HEADER, strlen(CERT_HEADER));
	else if (f == AV_SHARES_CSV)
		text_add(&t, SHARE_HEADER, strlen(SHARE_HEADER));
	else
		text_add(&t, line, n);
	if (records)
		*records = 0;
	if (newest)
		*newest = 0;
	ck_assert_int_eq(audit_cursor_open(a, &flt, &c), 0);
	while ((rc = audit_cursor_next(c, &r)) != 0) {
		int damaged = rc == -EBADMSG;

		ck_assert_msg(rc == 1 || damaged, "cursor: %d", rc);
		if (damaged)
			damaged_row(r.seq, &r);
		else if (newest && r.time_us > *newest)
			*newest = r.time_us;
		if (records)
			(*records)++;
		if (!in_file(f, &r, damaged))
			continue;
		if (f == AV_DESTRUCTIONS_CSV) {
			cert_row(&t, &r);
			continue;
		}
		if (f == AV_SHARES_CSV) {
			share_row(&t, &r);
			continue;
		}
		n = audit_format(&r, fmt_of(f), line, LINE_MAX_);
		ck_assert_uint_lt(n, LINE_MAX_);
		text_add(&t, line, n);
	}
	audit_cursor_close(c);
	free(line);
	return t;
}

/* The whole file, read from offset 0 with reads of chunk bytes. */
static struct text read_all(struct av_reader *r, size_t chunk)
{
	struct text t = { 0 };
	char *buf = malloc(chunk);
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	text_add(&t, "", 0);
	while ((n = av_read(r, buf, chunk, t.len)) > 0) {
		ck_assert_uint_le((size_t)n, chunk);
		text_add(&t, buf, (size_t)n);
	}
	ck_assert_int_eq(n, 0);
	free(buf);
	return t;
}

static struct text read_file(struct av *v, const char *client, unsigned f,
                             size_t chunk)
{
	struct av_reader *r = NULL;
	struct text t;

	ck_assert_int_eq(av_open(v, client, f, &r), 0);
	t = read_all(r, chunk);
	av_close(r);
	return t;
}

#define TEXT_EQ(got, want, what) do {                                    \
	ck_assert_msg((got).len == (want).len, "%s: %zu bytes, want %zu", \
	              what, (got).len, (want).len);                        \
	ck_assert_msg(memcmp((got).p, (want).p, (want).len) == 0,          \
	              "%s: content differs", what);                        \
} while (0)

/* Every stream file of scope client reads and stats as it must. */
static void check_scope(struct av *v, struct audit *a, const char *client,
                        size_t chunk)
{
	for (unsigned f = 0; f < NSTREAMS; f++) {
		uint64_t records;
		int64_t newest;
		struct text want = expect(a, client, f, &records, &newest);
		struct text got = read_file(v, client, f, chunk);
		struct av_stat st;
		char what[128];

		snprintf(what, sizeof(what), "%s of %s", av_file_name(f),
		         client ? client : "the vault");
		TEXT_EQ(got, want, what);
		ck_assert_int_eq(av_stat(v, client, f, &st), 0);
		ck_assert_uint_eq(st.size, want.len);
		ck_assert_uint_eq(st.records, records);
		if (records > 0)
			ck_assert_int_eq(st.mtime_us, newest);
		free(want.p);
		free(got.p);
	}
}

/* ---- content ---------------------------------------------------------- */

START_TEST(test_names)
{
	ck_assert_str_eq(av_file_name(AV_EVENTS_LOG), "events.log");
	ck_assert_str_eq(av_file_name(AV_VERIFY_TXT), "verify.txt");
	ck_assert_ptr_null(av_file_name(AV_NFILES));
	for (unsigned f = 0; f < AV_NFILES; f++)
		ck_assert_int_eq(av_file_find(av_file_name(f)), (int)f);
	ck_assert_int_eq(av_file_find("events"), -ENOENT);
	ck_assert_int_eq(av_file_find("events.log/"), -ENOENT);
	ck_assert_int_eq(av_file_find(""), -ENOENT);
	ck_assert_int_eq(av_file_find(NULL), -ENOENT);
}
END_TEST

START_TEST(test_content)
{
	struct audit *a = wopen();
	struct av *v = views_of(a);

	fill(a, 0, 400);
	check_scope(v, a, NULL, 4096);
	check_scope(v, a, "Acme", 4096);
	check_scope(v, a, "Beta", 4096);
	av_free(v);
	ck_assert_int_eq(audit_close(a), 0);
}
END_TEST

/* What each file may hold, said directly rather than rebuilt. */
START_TEST(test_selection)
{
	struct audit *a = wopen();
	struct av *v = views_of(a);
	struct text t;
	char *line, *save = NULL;
	int n = 0;

	fill(a, 0, 120);
	t = read_file(v, "Acme", AV_EVENTS_LOG, 1000);
	ck_assert_ptr_nonnull(strstr(t.p, "client=Acme"));
	ck_assert_ptr_null(strstr(t.p, "client=Beta"));
	free(t.p);
	t = read_file(v, NULL, AV_DENIED_LOG, 1000);
	for (line = strtok_r(t.p, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), n++)
		ck_assert_msg(strstr(line, " outcome=denied") != NULL, "%s",
		              line);
	ck_assert_int_eq(n, 120 / 5);
	free(t.p);
	t = read_file(v, "Beta", AV_DESTRUCTIONS_CSV, 1000);
	ck_assert_int_eq(strncmp(t.p, CERT_HEADER, strlen(CERT_HEADER)), 0);
	/* i % 7 == 4 and i % 3 == 1 (Beta): i = 4, 25, 46, ... (seq i + 1;
	 * no path of these needs quotes, so a row is a line). */
	n = 0;
	save = NULL;
	for (line = strtok_r(t.p + strlen(CERT_HEADER), "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), n++) {
		unsigned seq = (unsigned)atoi(line);

		ck_assert_uint_eq((seq - 1) % 7, 4);
		ck_assert_uint_eq((seq - 1) % 3, 1);
		ck_assert_ptr_nonnull(strstr(line, ",Beta,dir/f"));
	}
	ck_assert_int_eq(n, 6);
	free(t.p);
	av_free(v);
	ck_assert_int_eq(audit_close(a), 0);
}
END_TEST

START_TEST(test_empty)
{
	struct audit *a = wopen();
	int64_t t0 = (int64_t)time(NULL) * 1000000 - 1000000;
	struct av *v = views_of(a);
	struct av_stat st;
	struct text t;

	ck_assert_int_eq(av_stat(v, NULL, AV_EVENTS_LOG, &st), 0);
	ck_assert_uint_eq(st.size, 0);
	ck_assert_uint_eq(st.records, 0);
	ck_assert_int_ge(st.mtime_us, t0);
	ck_assert_int_eq(av_stat(v, "Nobody", AV_EVENTS_CSV, &st), 0);
	ck_assert_uint_eq(st.size, audit_format_header(AUDIT_FMT_CSV,
	                                               NULL, 0));
	t = read_file(v, "Nobody", AV_EVENTS_CSV, 7);
	ck_assert_str_eq(t.p, "seq,time,node,uid,user,roles,pid,exe,action,"
	                 "client,path,path2,outcome,errno,rule,policy,bytes,"
	                 "detail\r\n");
	free(t.p);
	fill(a, 0, 30);
	check_scope(v, a, "Nobody", 4096);
	check_scope(v, a, NULL, 4096);
	av_free(v);
	ck_assert_int_eq(audit_close(a), 0);
}
END_TEST

/* ---- destructions.csv, said directly ---------------------------------- */

#define D_ID1  "9bc7a64c0a64ce090178893d7b8e7c0b"
#define D_ID2  "0f3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e"
#define D_DIG  "blake2b-256:cacb5c2e4e7ae1d1f0e4a5b7c9d3f1e2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4"
#define D_METHOD "cryptographic erase (file key destroyed) and one " \
	"overwrite pass (pseudo-random)"
#define D_VERIFY "read back 136 bytes (O_DIRECT) and compared: match"
#define D_TIMES "requested=2026-11-29T23:34:06.258653Z; " \
	"started=2026-11-29T23:34:06.259852Z; ended=2026-11-29T23:34:06.266299Z"
#define D_TIMES_CSV "2026-11-29T23:34:06.258653Z,2026-11-29T23:34:06.259852Z," \
	"2026-11-29T23:34:06.266299Z"

static void rec_destroy(struct audit *a, const char *client, const char *path,
                        enum audit_outcome o, const char *detail)
{
	struct audit_event e = {
		.uid = 1001, .user = "alice", .roles = "manager,legal",
		.pid = 4242, .exe = "/usr/bin/rm", .action = "destroy",
		.client = client, .path = path, .outcome = o,
		.err = o == AUDIT_ERROR ? EIO : 0, .rule = "role manager",
		.policy = "0123456789abcdef", .has_bytes = 1, .bytes = 136,
		.detail = detail,
	};

	ck_assert_int_eq(audit_record(a, &e, NULL), 0);
}

/* The record time of every seq (1 to n) as audit_format() prints it. */
static void times_of(struct audit *a, char (*when)[64], unsigned n)
{
	struct audit_cursor *c;
	struct audit_row r;

	ck_assert_int_eq(audit_cursor_open(a, NULL, &c), 0);
	while (audit_cursor_next(c, &r) == 1) {
		ck_assert_uint_ge(r.seq, 1);
		ck_assert_uint_le(r.seq, n);
		row_time(&r, when[r.seq]);
		/* The format is the one the header promises. */
		ck_assert_uint_eq(strlen(when[r.seq]), 27);
		ck_assert_int_eq(when[r.seq][10], 'T');
		ck_assert_int_eq(when[r.seq][26], 'Z');
	}
	audit_cursor_close(c);
}

START_TEST(test_destructions)
{
	struct audit *a = wopen();
	struct av *v = views_of(a);
	struct audit_event other = {
		.uid = 1001, .action = "unlink", .client = "Acme",
		.path = "x.txt", .outcome = AUDIT_ALLOWED,
		.detail = "id=" D_ID1,
	};
	struct audit_event bare = {
		.uid = 0, .action = "destroy", .client = "Beta", .path = "",
		.outcome = AUDIT_ALLOWED,
	};
	char when[8][64], want[4096];
	struct av_stat st;
	struct text t;
	size_t acme;
	int n;

	/* 1: done; 2: failed; 3: a path with a comma and a quote; 4: a
	 * detail short of keys, with unknown and repeated ones; 5: no
	 * destruction; 6: no detail, no bytes, no names. */
	rec_destroy(a, "Acme", "contracts/2025/nda.pdf", AUDIT_ALLOWED,
	            "id=" D_ID1 "; reason=unlink; digest=" D_DIG "; "
	            "method-type=purge; method=" D_METHOD "; "
	            "tool=dossierfs 0.5; verification=" D_VERIFY "; " D_TIMES);
	rec_destroy(a, "Acme", "contracts/2025/old.pdf", AUDIT_ERROR,
	            "id=" D_ID2 "; reason=replace; digest=" D_DIG "; "
	            "method-type=purge; method=" D_METHOD "; "
	            "tool=dossierfs 0.5; verification=not done; " D_TIMES "; "
	            "error=overwrite or read-back failed (mismatch or I/O "
	            "error)");
	rec_destroy(a, "Beta", "M\xc3\xbcller, \"draft\".txt", AUDIT_ALLOWED,
	            "id=" D_ID1 "; reason=unlink; method-type=clear");
	rec_destroy(a, "Beta", "notes.txt", AUDIT_ALLOWED,
	            "reason=truncate; colour=blue; id=" D_ID2 "; "
	            "reason=unlink; tool=dossierfs 0.5; no pair here; "
	            "verification=a=b, \"c\"");
	ck_assert_int_eq(audit_record(a, &other, NULL), 0);
	ck_assert_int_eq(audit_record(a, &bare, NULL), 0);
	times_of(a, when, 6);

	n = snprintf(want, sizeof(want), CERT_HEADER
	    "1,%s," D_ID1 ",done,unlink,alice,1001,\"manager,legal\","
	    "role manager,0123456789abcdef,Acme,contracts/2025/nda.pdf,136,"
	    D_DIG ",purge," D_METHOD ",dossierfs 0.5," D_VERIFY ","
	    D_TIMES_CSV ",\r\n"
	    "2,%s," D_ID2 ",failed,replace,alice,1001,\"manager,legal\","
	    "role manager,0123456789abcdef,Acme,contracts/2025/old.pdf,136,"
	    D_DIG ",purge," D_METHOD ",dossierfs 0.5,not done,"
	    D_TIMES_CSV ",overwrite or read-back failed (mismatch or I/O "
	    "error)\r\n"
	    "3,%s," D_ID1 ",done,unlink,alice,1001,\"manager,legal\","
	    "role manager,0123456789abcdef,Beta,"
	    "\"M\xc3\xbcller, \"\"draft\"\".txt\",136,,clear,,,,,,,\r\n"
	    "4,%s," D_ID2 ",done,truncate,alice,1001,\"manager,legal\","
	    "role manager,0123456789abcdef,Beta,notes.txt,136,,,,"
	    "dossierfs 0.5,\"a=b, \"\"c\"\"\",,,,\r\n"
	    "6,%s,,done,,,0,,,,Beta,,,,,,,,,,,\r\n",
	    when[1], when[2], when[3], when[4], when[6]);
	ck_assert_int_lt(n, (int)sizeof(want));

	t = read_file(v, NULL, AV_DESTRUCTIONS_CSV, 4096);
	ck_assert_str_eq(t.p, want);
	ck_assert_int_eq(av_stat(v, NULL, AV_DESTRUCTIONS_CSV, &st), 0);
	ck_assert_uint_eq(st.size, strlen(want));
	free(t.p);

	/* A client's file: the header and its rows (1 and 2), the same
	 * bytes. */
	acme = (size_t)(strstr(want, "\r\n3,") + 2 - want);
	t = read_file(v, "Acme", AV_DESTRUCTIONS_CSV, 5);
	ck_assert_uint_eq(t.len, acme);
	ck_assert_int_eq(memcmp(t.p, want, acme), 0);
	free(t.p);
	check_scope(v, a, NULL, 7);
	check_scope(v, a, "Beta", 4096);
	av_free(v);
	ck_assert_int_eq(audit_close(a), 0);
}
END_TEST

/* Reads of 1, 7, 4096 and 131072 bytes; a full-size read is full. */
START_TEST(test_read_sizes)
{
	static const size_t sizes[] = { 1, 7, 4096, 131072 };
	struct audit *a = wopen();
	struct av *v = views_of(a);
	struct av_reader *r;
	struct text want;
	char *buf = malloc(131072);

	fill(a, 0, 700);
	for (unsigned f = 0; f < NSTREAMS; f++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			/* Byte by byte only the smallest scope, for time. */
			const char *client = i == 0 ? "Beta" : NULL;
			struct text got = read_file(v, client, f, sizes[i]);

			want = expect(a, client, f, NULL, NULL);
			TEXT_EQ(got, want, av_file_name(f));
			free(got.p);
			free(want.p);
		}
	}
	want = expect(a, NULL, AV_EVENTS_JSONL, NULL, NULL);
	ck_assert_uint_gt(want.len, 2 * 131072);
	ck_assert_int_eq(av_open(v, NULL, AV_EVENTS_JSONL, &r), 0);
	ck_assert_int_eq(av_read(r, buf, 131072, 0), 131072);
	ck_assert_int_eq(av_read(r, buf, 131072, 131072), 131072);
	ck_assert_int_eq(memcmp(buf, want.p + 131072, 131072), 0);
	ck_assert_int_eq(av_read(r, buf, 131072, 1000), 131072);
	ck_assert_int_eq(memcmp(buf, want.p + 1000, 131072), 0);
	ck_assert_int_eq(av_read(r, buf, 0, 5), 0);
	av_close(r);
	free(want.p);
	free(buf);
	av_free(v);
	ck_assert_int_eq(audit_close(a), 0);
}
END_TEST

/* ---- growth and polling ----------------------------------------------- */

START_TEST(test_growth)
{
	struct audit *a = wopen();
	struct av *v = views_of(a);
	struct av_reader *r, *rd;
	struct av_stat st, st2;
	struct text want, t;
	char buf[8192];
	uint64_t end;
	ssize_t n;

	fill(a, 0, 50);
	ck_assert_int_eq(av_open(v, "Acme", AV_EVENTS_CSV, &r), 0);
	ck_assert_int_eq(av_open(v, NULL, AV_DENIED_LOG, &rd), 0);
	t = read_all(r, 999);
	end = t.len;
	free(t.p);
	ck_assert_int_eq(av_stat(v, "Acme", AV_EVENTS_CSV, &st), 0);
	ck_assert_uint_eq(st.size, end);
	ck_assert_int_eq(av_read(r, buf, sizeof(buf), end), 0);
	ck_assert_int_eq(av_read(r, buf, sizeof(buf), end + 10), 0);

	/* New records: the size grows, and the same offset reads them. */
	usleep(2000);
	fill(a, 50, 30);
	ck_assert_int_eq(av_stat(v, "Acme", AV_EVENTS_CSV, &st2), 0);
	want = expect(a, "Acme", AV_EVENTS_CSV, NULL, NULL);
	ck_assert_uint_eq(st2.size, want.len);
	ck_assert_uint_gt(st2.size, st.size);
	ck_assert_int_gt(st2.mtime_us, st.mtime_us);
	ck_assert_uint_eq(st2.records, st.records + 10);
	n = av_read(r, buf, sizeof(buf), end);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(memcmp(buf, want.p + end, (size_t)n), 0);
	free(want.p);

	/* A reader that never asked for the size sees them too. */
	t = read_all(rd, 4096);
	want = expect(a, NULL, AV_DENIED_LOG, NULL, NULL);
	TEXT_EQ(t, want, "denied.log");
	free(t.p);
	free(want.p);
	end = t.len;
	ck_assert_int_eq(av_read(rd, buf, sizeof(buf), end), 0);
	fill(a, 80, 20);
	want = expect(a, NULL, AV_DENIED_LOG, NULL, NULL);
	ck_assert_uint_gt(want.len, end);
	n = av_read(rd, buf, sizeof(buf), end);
	ck_assert_int_eq((size_t)n, want.len - end);
	ck_assert_int_eq(memcmp(buf, want.p + end, (size_t)n), 0);
	ck_assert_int_eq(av_read(rd, buf, sizeof(buf), want.len), 0);
	free(want.p);
	av_close(r);
	av_close(rd);
	check_scope(v, a, "Acme", 4096);
	av_free(v);
	ck_assert_int_eq(audit_close(a), 0);
}
END_TEST

/* ---- random offsets --------------------------------------------------- */

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* count reads at random offsets of r, each checked against want. */
static void random_reads(struct av_reader *r, const struct text *want,
                         uint64_t seed, int count)
{
	char *buf = malloc(20000);
	uint64_t s = seed;

	for (int i = 0; i < count; i++) {
		uint64_t off = rnd(&s) % (want->len + 100);
		size_t size = 1 + rnd(&s) % (i % 4 == 0 ? 20000 : 300);
		size_t exp = off >= want->len ? 0 :
		             want->len - off < size ? want->len - off : size;
		ssize_t n = av_read(r, buf, size, off);

		ck_assert_msg(n == (ssize_t)exp, "read %zu at %llu: %zd, want "
		              "%zu", size, (unsigned long long)off, n, exp);
		ck_assert_msg(memcmp(buf, want->p + off, exp) == 0,
		              "read %zu at %llu: wrong bytes", size,
		              (unsigned long long)off);
	}
	free(buf);
}

START_TEST(test_random_offsets)
{
	/* Enough records that the marks were thinned three times. */
	unsigned nrec = AV_MARKS * 6;
	struct audit *a = wopen();
	struct av *v = views_of(a);
	struct av_reader *r;
	struct av_stat st;

	fill(a, 0, nrec);
	for (unsigned f = 0; f < NSTREAMS; f++) {
		const char *client = f % 2 ? "Acme" : NULL;
		struct text want = expect(a, client, f, NULL, NULL);

		/* One with the size counted first, one without. */
		if (f % 3 == 0) {
			ck_assert_int_eq(av_stat(v, client, f, &st), 0);
			ck_assert_uint_eq(st.size, want.len);
		}
		ck_assert_int_eq(av_open(v, client, f, &r), 0);
		random_reads(r, &want, 0x1234 + f, 150);
		av_close(r);
		free(want.p);
	}
	av_free(v);
	ck_assert_int_eq(audit_close(a), 0);
}
END_TEST

/* ---- scopes ----------------------------------------------------------- */

START_TEST(test_many_scopes)
{
	unsigned nscope = AV_SCOPES + 6;
	struct audit *a = wopen();
	struct av *v = views_of(a);
	struct av_reader *r;
	struct av_stat st;
	struct text want;
	char name[32], buf[300];
	ssize_t n;

	for (unsigned i = 0; i < 3 * nscope; i++) {
		snprintf(name, sizeof(name), "client-%u", i % nscope);
		rec_one(a, i, name);
	}
	ck_assert_int_eq(audit_flush(a), 0);

	/* A reader part-way through one scope while all the others are
	 * counted, twice over, so that its map is reused. */
	want = expect(a, "client-0", AV_EVENTS_JSONL, NULL, NULL);
	ck_assert_int_eq(av_open(v, "client-0", AV_EVENTS_JSONL, &r), 0);
	ck_assert_int_eq(av_read(r, buf, 100, 0), 100);
	for (int round = 0; round < 2; round++) {
		for (unsigned i = 0; i < nscope; i++) {
			snprintf(name, sizeof(name), "client-%u", i);
			ck_assert_int_eq(av_stat(v, name, AV_EVENTS_LOG, &st),
			                 0);
			ck_assert_uint_eq(st.records, 3);
		}
	}
	n = av_read(r, buf, sizeof(buf), 100);
	ck_assert_int_eq(n, sizeof(buf));
	ck_assert_int_eq(memcmp(buf, want.p + 100, sizeof(buf)), 0);
	random_reads(r, &want, 99, 40);
	av_close(r);
	free(want.p);
	for (unsigned i = 0; i < nscope; i += 7) {
		snprintf(name, sizeof(name), "client-%u", i);
		check_scope(v, a, name, 512);
	}
	av_free(v);
	ck_assert_int_eq(audit_close(a), 0);
}
END_TEST

/* ---- damage and verification ------------------------------------------ */

START_TEST(test_damaged)
{
	struct audit *a = wopen();
	struct av *v = views_of(a);
	struct text t;
	sqlite3 *db;

	fill(a, 0, 30);
	/* Record 16 (i = 15: Acme, denied) no longer decodes. */
	db = raw();
	sql(db, "UPDATE events SET path = zeroblob(length(path)) WHERE "
	    "seq = 16");
	sqlite3_close(db);
	check_scope(v, a, NULL, 100);
	check_scope(v, a, "Acme", 4096);
	t = read_file(v, "Acme", AV_EVENTS_LOG, 4096);
	ck_assert_ptr_nonnull(strstr(t.p, "\n1970-01-01T00:00:00.000000Z "
	                             "seq=16 node=? uid=0 pid=0 "
	                             "action=damaged-record outcome=error "
	                             "errno=EBADMSG detail=\"record does not "
	                             "decode; run dossierctl audit verify\""
	                             "\n"));
	ck_assert_ptr_nonnull(strstr(t.p, " seq=19 "));
	free(t.p);
	t = read_file(v, NULL, AV_EVENTS_JSONL, 4096);
	ck_assert_ptr_nonnull(strstr(t.p, "{\"seq\":16,"));
	ck_assert_ptr_nonnull(strstr(t.p, "\"action\":\"damaged-record\""));
	free(t.p);
	t = read_file(v, NULL, AV_DENIED_LOG, 4096);
	ck_assert_ptr_null(strstr(t.p, " seq=16 "));
	ck_assert_ptr_nonnull(strstr(t.p, " seq=11 "));
	ck_assert_ptr_nonnull(strstr(t.p, " seq=21 "));
	free(t.p);
	t = read_file(v, "Acme", AV_DESTRUCTIONS_CSV, 4096);
	ck_assert_ptr_null(strstr(t.p, "damaged"));
	free(t.p);
	av_free(v);
	ck_assert_int_eq(audit_close(a), 0);
}
END_TEST

static struct text verify_text(struct av *v, const char *client)
{
	struct av_reader *r = NULL;
	struct av_stat st;
	struct text t;

	ck_assert_int_eq(av_stat(v, client, AV_VERIFY_TXT, &st), 0);
	ck_assert_uint_eq(st.size, 0);
	ck_assert_int_eq(av_open(v, client, AV_VERIFY_TXT, &r), 0);
	t = read_all(r, 13);
	/* The report stays the one made at open. */
	ck_assert_int_eq(av_read(r, t.p, 5, 0), 5);
	av_close(r);
	return t;
}

START_TEST(test_verify)
{
	struct audit *a = wopen();
	struct av *v = views_of(a);
	struct audit_verify res;
	char want[160];
	struct text t;
	sqlite3 *db;

	fill(a, 0, 20);
	ck_assert_int_eq(audit_checkpoint(a, NULL), 1);
	fill(a, 20, 5);
	ck_assert_int_eq(audit_verify(vfd, &res), 0);
	t = verify_text(v, NULL);
	ck_assert_ptr_nonnull(strstr(t.p, "checked at:      20"));
	ck_assert_ptr_nonnull(strstr(t.p, "\nresult:          OK\n"));
	ck_assert_ptr_nonnull(strstr(t.p, "\nrecords:         25\n"));
	ck_assert_ptr_nonnull(strstr(t.p, "\ncheckpoints:     1\n"));
	ck_assert_ptr_nonnull(strstr(t.p, "\nlast checkpoint: seq 20\n"));
	ck_assert_ptr_nonnull(strstr(t.p, "\nnot signed yet:  5 records"));
	snprintf(want, sizeof(want), "\nsigning key:     %s (audit.pub)\n",
	         res.pubkey);
	ck_assert_ptr_nonnull(strstr(t.p, want));
	ck_assert_ptr_nonnull(strstr(t.p, "whole vault"));
	free(t.p);
	t = verify_text(v, "Beta");
	ck_assert_ptr_nonnull(strstr(t.p, "\nresult:          OK\n"));
	ck_assert_ptr_nonnull(strstr(t.p, "whole vault"));
	free(t.p);

	db = raw();
	sql(db, "UPDATE events SET user = 'mallory' WHERE seq = 7");
	sqlite3_close(db);
	t = verify_text(v, "Acme");
	ck_assert_ptr_nonnull(strstr(t.p, "\nresult:          BAD at seq 7: "));
	ck_assert_ptr_nonnull(strstr(t.p, "\nrecords:         6 "));
	free(t.p);
	av_free(v);
	ck_assert_int_eq(audit_close(a), 0);
}
END_TEST

/* ---- concurrency and transactions ------------------------------------- */

struct worker {
	struct av_reader *r;
	const struct text *want;
	uint64_t seed;
};

static void *worker_run(void *p)
{
	struct worker *w = p;

	random_reads(w->r, w->want, w->seed, 200);
	return NULL;
}

START_TEST(test_threads)
{
	struct audit *a = wopen();
	struct av *v = views_of(a);
	struct av_reader *r;
	struct worker w[2];
	pthread_t t[2];
	struct text want;

	fill(a, 0, 1500);
	want = expect(a, NULL, AV_EVENTS_CSV, NULL, NULL);
	ck_assert_int_eq(av_open(v, NULL, AV_EVENTS_CSV, &r), 0);
	for (int i = 0; i < 2; i++) {
		w[i] = (struct worker){ r, &want, 77 + (uint64_t)i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_run,
		                                &w[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	av_close(r);
	free(want.p);
	av_free(v);
	ck_assert_int_eq(audit_close(a), 0);
}
END_TEST

struct scope_worker {
	struct av *v;
	const struct text *want;     /* events.log of each scope */
	unsigned nscope;
	uint64_t seed;
};

static void *scope_worker_run(void *p)
{
	struct scope_worker *w = p;
	uint64_t s = w->seed;
	char name[32];

	for (int k = 0; k < 150; k++) {
		unsigned i = (unsigned)(rnd(&s) % w->nscope);
		struct av_reader *r;
		struct av_stat st;

		snprintf(name, sizeof(name), "client-%u", i);
		ck_assert_int_eq(av_stat(w->v, name, AV_EVENTS_LOG, &st), 0);
		ck_assert_uint_eq(st.size, w->want[i].len);
		if (k % 5 == 0) {
			ck_assert_int_eq(av_open(w->v, name, AV_EVENTS_LOG,
			                         &r), 0);
			random_reads(r, &w->want[i], s, 3);
			av_close(r);
		}
	}
	return NULL;
}

/* Threads on more scopes than are kept at once: maps are taken, shared,
 * waited for and reused under them. */
START_TEST(test_threads_scopes)
{
	enum { NT = 4 };
	unsigned nscope = AV_SCOPES + 16;
	struct audit *a = wopen();
	struct av *v = views_of(a);
	struct scope_worker w[NT];
	struct text *want = calloc(nscope, sizeof(*want));
	pthread_t t[NT];
	char name[32];

	for (unsigned i = 0; i < 2 * nscope; i++) {
		snprintf(name, sizeof(name), "client-%u", i % nscope);
		rec_one(a, i, name);
	}
	ck_assert_int_eq(audit_flush(a), 0);
	for (unsigned i = 0; i < nscope; i++) {
		snprintf(name, sizeof(name), "client-%u", i);
		want[i] = expect(a, name, AV_EVENTS_LOG, NULL, NULL);
	}
	for (int i = 0; i < NT; i++) {
		w[i] = (struct scope_worker){ v, want, nscope, 5 + (uint64_t)i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, scope_worker_run,
		                                &w[i]), 0);
	}
	for (int i = 0; i < NT; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	for (unsigned i = 0; i < nscope; i++)
		free(want[i].p);
	free(want);
	av_free(v);
	ck_assert_int_eq(audit_close(a), 0);
}
END_TEST

/* 1 if a TRUNCATE checkpoint of the WAL could not finish (a reader holds
 * a snapshot). */
static int wal_busy(sqlite3 *db)
{
	sqlite3_stmt *s;
	int busy;

	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint("
	                 "TRUNCATE)", -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	busy = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return busy;
}

START_TEST(test_no_read_transaction)
{
	struct audit *a = wopen();
	struct av *v = views_of(a);
	struct audit_cursor *c;
	struct audit_row row;
	struct av_reader *r;
	char buf[64];
	sqlite3 *db;

	fill(a, 0, 600);
	db = raw();
	sqlite3_busy_timeout(db, 50);

	/* The control: a cursor stopped in a page holds a snapshot... */
	ck_assert_int_eq(audit_cursor_open(a, NULL, &c), 0);
	ck_assert_int_eq(audit_cursor_next(c, &row), 1);
	ck_assert_int_eq(wal_busy(db), 1);
	/* ... which a pause lets go of; it then goes on at seq 2. */
	audit_cursor_pause(c);
	ck_assert_int_eq(wal_busy(db), 0);
	ck_assert_int_eq(audit_cursor_next(c, &row), 1);
	ck_assert_uint_eq(row.seq, 2);
	audit_cursor_close(c);

	fill(a, 600, 10);
	ck_assert_int_eq(av_open(v, NULL, AV_EVENTS_LOG, &r), 0);
	ck_assert_int_eq(av_read(r, buf, 1, 0), 1);
	ck_assert_int_eq(wal_busy(db), 0);
	fill(a, 610, 10);
	ck_assert_int_eq(av_read(r, buf, sizeof(buf), 30000), sizeof(buf));
	ck_assert_int_eq(wal_busy(db), 0);
	av_close(r);
	sqlite3_close(db);
	av_free(v);
	ck_assert_int_eq(audit_close(a), 0);
}
END_TEST

/* ---- errors ----------------------------------------------------------- */

START_TEST(test_errors)
{
	struct audit *a = wopen();
	struct av *v = views_of(a);
	struct av_reader *r = NULL;
	struct av_stat st;
	char *long_name = malloc(AUDIT_TEXT_MAX + 2);
	char buf[8];

	memset(long_name, 'x', AUDIT_TEXT_MAX + 1);
	long_name[AUDIT_TEXT_MAX + 1] = '\0';
	ck_assert_int_eq(av_new(NULL, vfd, &v), -EINVAL);
	ck_assert_int_eq(av_new(a, -1, &v), -EINVAL);
	ck_assert_int_eq(av_stat(v, NULL, AV_NFILES, &st), -EINVAL);
	ck_assert_int_eq(av_stat(v, NULL, AV_EVENTS_LOG, NULL), -EINVAL);
	ck_assert_int_eq(av_stat(v, long_name, AV_EVENTS_LOG, &st), -EINVAL);
	ck_assert_int_eq(av_open(v, NULL, AV_NFILES, &r), -EINVAL);
	ck_assert_int_eq(av_open(v, long_name, AV_EVENTS_LOG, &r), -EINVAL);
	ck_assert_int_eq(av_read(NULL, buf, 1, 0), -EINVAL);
	ck_assert_int_eq(av_open(v, NULL, AV_EVENTS_LOG, &r), 0);
	ck_assert_int_eq(av_read(r, NULL, 1, 0), -EINVAL);
	ck_assert_int_eq(av_read(r, buf, sizeof(buf), 0), 0);
	av_close(r);
	av_close(NULL);
	av_free(NULL);
	free(long_name);
	av_free(v);
	ck_assert_int_eq(audit_close(a), 0);
}
END_TEST

/* ---- the suite -------------------------------------------------------- */

static TCase *tcase(const char *name, int timeout)
{
	TCase *tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, make_base, remove_base);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, timeout);
	return tc;
}

static Suite *auditview_suite(void)
{
	Suite *s = suite_create("auditview");
	TCase *tc;

	tc = tcase("content", 60);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_content);
	tcase_add_test(tc, test_selection);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_destructions);
	tcase_add_test(tc, test_read_sizes);
	suite_add_tcase(s, tc);

	tc = tcase("offsets", 60);
	tcase_add_test(tc, test_growth);
	tcase_add_test(tc, test_random_offsets);
	tcase_add_test(tc, test_many_scopes);
	suite_add_tcase(s, tc);

	tc = tcase("damage", 60);
	tcase_add_test(tc, test_damaged);
	tcase_add_test(tc, test_verify);
	suite_add_tcase(s, tc);

	tc = tcase("concurrency", 60);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_threads_scopes);
	tcase_add_test(tc, test_no_read_transaction);
	suite_add_tcase(s, tc);

	tc = tcase("errors", 10);
	tcase_add_test(tc, test_errors);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(auditview_suite)
