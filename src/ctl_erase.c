/*
 * dossierctl erase: where a vault's secure erasure stands.
 *
 *   erase status VAULT [--passphrase-file F | --key-file F]
 *                      [--format table|csv]
 *   erase certificate ..., erase verify-certificate ...: src/ctl_cert.c
 *
 * Unlocks the vault like audit query (key from a file or the terminal,
 * never argv or the environment), then lists the jobs still queued in
 * VAULT/erase (erase_list.h: state, when and by whom requested, what),
 * the destructions the audit store holds (records of action "destroy":
 * done, or failed attempts with their error) and totals: pending jobs,
 * done, failed attempts, and failed jobs with no done record after their
 * last failure (still failing). It only reads, so it may run while the
 * daemon works the queue.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "audit.h"
#include "ctl.h"
#include "ctlutil.h"
#include "erase_list.h"
#include "unlock.h"
#include "util.h"

static const char *prog = "dossierctl erase";

struct eopts {
	const char *vault;
	struct unlock_src src;
	const char *format;
	int csv;
};

/* One destruction record. Names are malloc'd and wiped. */
struct drow {
	uint64_t seq;
	int64_t time_us;
	enum audit_outcome outcome;
	int err;
	char id[ERASE_IDLEN + 1];        /* "" when the detail names none */
	uid_t uid;
	char *user, *client, *path, *error, *requested;
	int has_bytes;
	uint64_t bytes;
};

/* The records of one job ID, joined. */
struct idsum {
	const char *id;
	unsigned fails;
	uint64_t last_fail, last_done;   /* seq, or 0 */
	const struct drow *last;         /* the last failed attempt */
	int queued;                      /* the job is still in the queue */
};

struct status {
	struct erase_job *jobs;
	size_t njobs;
	struct drow *rows;
	size_t nrows, cap;
	struct idsum *ids;
	size_t nids;
	uint64_t done, failed, failing, failing_queued;
	int no_store;                    /* the vault has no audit.db yet */
};

static int usage(void)
{
	fprintf(stderr, "usage:\n"
	        "  dossierctl erase status VAULT [--passphrase-file F | "
	        "--key-file F]\n"
	        "      [--format table|csv]\n"
	        "  dossierctl erase certificate VAULT ID [--passphrase-file F "
	        "| --key-file F]\n"
	        "  dossierctl erase certificate VAULT --client NAME "
	        "[--since TIME] [--until TIME]\n"
	        "      [--passphrase-file F | --key-file F]\n"
	        "  dossierctl erase verify-certificate VAULT FILE\n"
	        "TIME is \"YYYY-MM-DD[ HH:MM[:SS]]\" local time; --since is "
	        "inclusive, --until exclusive\n");
	return 2;
}

/* ---- reading ---------------------------------------------------------- */

/* The value of key in a destruction record's detail ("key=value" pairs
 * joined by "; "), malloc'd; NULL when it has none (or on no memory). */
static char *detail_get(const char *detail, const char *key)
{
	size_t klen = strlen(key), n;
	const char *p = detail, *end;

	while (p != NULL && *p != '\0') {
		end = strstr(p, "; ");
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n > klen && p[klen] == '=' && memcmp(p, key, klen) == 0)
			return strndup(p + klen + 1, n - klen - 1);
		p = end != NULL ? end + 2 : NULL;
	}
	return NULL;
}

static void wipe_free(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

/* Appends record r to st->rows. */
static int add_row(struct status *st, const struct audit_row *r)
{
	struct drow *d, *more;
	char *id;

	if (st->nrows == st->cap) {
		st->cap = st->cap ? 2 * st->cap : 64;
		more = reallocarray(st->rows, st->cap, sizeof(*more));
		if (more == NULL)
			return -ENOMEM;
		st->rows = more;
	}
	d = &st->rows[st->nrows];
	memset(d, 0, sizeof(*d));
	d->seq = r->seq;
	d->time_us = r->time_us;
	d->outcome = r->ev.outcome;
	d->err = r->ev.err;
	d->has_bytes = r->ev.has_bytes;
	d->bytes = r->ev.bytes;
	if ((id = detail_get(r->ev.detail, "id")) != NULL &&
	    strlen(id) == ERASE_IDLEN)
		memcpy(d->id, id, ERASE_IDLEN + 1);
	free(id);
	d->uid = r->ev.uid;
	d->user = strdup_or_null(r->ev.user);
	d->client = strdup_or_null(r->ev.client);
	d->path = strdup_or_null(r->ev.path);
	d->error = detail_get(r->ev.detail, "error");
	d->requested = detail_get(r->ev.detail, "requested");
	/* The row is kept either way, so that status_free() frees it. */
	st->nrows++;
	if ((r->ev.user != NULL && d->user == NULL) ||
	    (r->ev.client != NULL && d->client == NULL) ||
	    (r->ev.path != NULL && d->path == NULL))
		return -ENOMEM;
	return 0;
}

/* The vault's audit store for reading: 0, 1 when it has none, -1 (with
 * a line on stderr) on failure. */
static int open_store(const struct eopts *o, struct vault *v,
                      struct audit **out)
{
	unsigned char *secret;
	struct stat sb;
	int rc;

	if (fstatat(vault_dir_fd(v), AUDIT_DB, &sb, AT_SYMLINK_NOFOLLOW) != 0
	    && errno == ENOENT)
		return 1;
	if ((secret = sodium_malloc(AUDIT_SECRETBYTES)) == NULL)
		return -1;
	vault_subkey(v, AUDIT_KDF_ID, AUDIT_KDF_CTX, secret);
	rc = audit_open_read(vault_dir_fd(v), secret, out);
	sodium_free(secret);
	if (rc == -ENOENT)
		return 1;
	if (rc == -EKEYREJECTED)
		fprintf(stderr, "%s: the audit store of %s was not made with "
		        "this vault's key\n", prog, o->vault);
	else if (rc != 0)
		fprintf(stderr, "%s: cannot open the audit store of %s: %s\n",
		        prog, o->vault, strerror(-rc));
	return rc == 0 ? 0 : -1;
}

/* Every destruction record of the store into st->rows: 0, or 1 (with a
 * line on stderr) if any could not be read. */
static int read_records(const struct eopts *o, struct vault *v,
                        struct status *st)
{
	struct audit_filter f = { .action = "destroy" };
	struct audit *a = NULL;
	struct audit_cursor *c = NULL;
	struct audit_row r;
	int rc, bad = 0;

	if ((rc = open_store(o, v, &a)) != 0) {
		st->no_store = rc == 1;
		return rc == 1 ? 0 : 1;
	}
	if ((rc = audit_cursor_open(a, &f, &c)) != 0) {
		fprintf(stderr, "%s: cannot read the audit store of %s: %s\n",
		        prog, o->vault, strerror(-rc));
		audit_close(a);
		return 1;
	}
	while ((rc = audit_cursor_next(c, &r)) != 0) {
		if (rc == -EBADMSG && r.seq > 0) {
			fprintf(stderr, "%s: seq %" PRIu64 ": damaged record "
			        "(run dossierctl audit verify)\n", prog, r.seq);
			bad = 1;
			continue;
		}
		if (rc < 0 || (rc = add_row(st, &r)) != 0) {
			fprintf(stderr, "%s: cannot read the audit store: %s\n",
			        prog, strerror(-rc));
			bad = 1;
			break;
		}
		if (r.ev.outcome == AUDIT_ALLOWED)
			st->done++;
		else
			st->failed++;
	}
	audit_cursor_close(c);
	audit_close(a);
	return bad;
}

static int row_by_id(const void *a, const void *b)
{
	const struct drow *x = *(const struct drow *const *)a;
	const struct drow *y = *(const struct drow *const *)b;
	int c = strcmp(x->id, y->id);

	return c != 0 ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int sum_by_id(const void *key, const void *elem)
{
	return strcmp(key, ((const struct idsum *)elem)->id);
}

static struct idsum *find_id(const struct status *st, const char *id)
{
	if (st->nids == 0)
		return NULL;
	return bsearch(id, st->ids, st->nids, sizeof(*st->ids), sum_by_id);
}

/* Joins the records by job ID (st->ids) and the queue to them: failed
 * attempts, and whether the last failure has a done record after it. */
static int join(struct status *st)
{
	const struct drow **idx;
	size_t n = 0;

	if (st->nrows == 0)
		return 0;
	idx = calloc(st->nrows, sizeof(*idx));
	st->ids = calloc(st->nrows, sizeof(*st->ids));
	if (idx == NULL || st->ids == NULL) {
		free(idx);
		return -ENOMEM;
	}
	for (size_t i = 0; i < st->nrows; i++)
		if (st->rows[i].id[0] != '\0')
			idx[n++] = &st->rows[i];
	qsort(idx, n, sizeof(*idx), row_by_id);
	for (size_t i = 0; i < n; i++) {
		struct idsum *s = &st->ids[st->nids];

		if (st->nids == 0 || strcmp(s[-1].id, idx[i]->id) != 0)
			st->nids++;
		else
			s--;
		s->id = idx[i]->id;
		if (idx[i]->outcome == AUDIT_ALLOWED) {
			s->last_done = idx[i]->seq;
		} else {
			s->fails++;
			s->last_fail = idx[i]->seq;
			s->last = idx[i];
		}
	}
	free(idx);
	for (size_t i = 0; i < st->njobs; i++) {
		struct idsum *s = find_id(st, st->jobs[i].id);

		if (s != NULL)
			s->queued = 1;
	}
	for (size_t i = 0; i < st->nids; i++) {
		if (st->ids[i].last_fail > st->ids[i].last_done) {
			st->failing++;
			st->failing_queued += (uint64_t)st->ids[i].queued;
		}
	}
	return 0;
}

static void status_free(struct status *st)
{
	erase_list_free(st->jobs, st->njobs);
	for (size_t i = 0; i < st->nrows; i++) {
		free(st->rows[i].user);
		wipe_free(st->rows[i].client);
		wipe_free(st->rows[i].path);
		free(st->rows[i].error);
		free(st->rows[i].requested);
	}
	free(st->rows);
	free(st->ids);
}

/* ---- printing --------------------------------------------------------- */

/* A time as the audit records print it (2026-11-29T23:34:06.258653Z);
 * "-" for none. */
static void iso_time(int64_t us, char out[48])
{
	time_t t = (time_t)(us / 1000000);
	char day[32];
	struct tm tm;

	if (us <= 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(out, 48, "-");
		return;
	}
	snprintf(out, 48, "%s.%06dZ", day, (int)(us % 1000000));
}

static const char *state_name(const struct erase_job *j)
{
	switch (j->state) {
	case ERASE_QUEUED:
		return j->data ? "queued" : "queued, no data file";
	case ERASE_SUMMED:
		return "digest taken, overwriting";
	case ERASE_VERIFIED:
		return "verified, finishing";
	default:
		return "data file, no job file";
	}
}

static const char *outcome_name(enum audit_outcome o)
{
	return o == AUDIT_ALLOWED ? "done" : o == AUDIT_ERROR ? "failed"
	       : audit_outcome_name(o);
}

/*
 * Writes s for a terminal: C0 and C1 controls, DEL, bidi controls and
 * the line and paragraph separators as escapes, so that a name cannot
 * act on the terminal. Returns the columns it took (one per character).
 */
static int put_safe(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "?");
	int cols = 0;

	for (; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			cols += printf("\\x%02x", *p);
		} else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			cols += printf("\\u%04x", p[1]);
			p++;
		} else if (p[0] == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xa8 &&
		           p[2] <= 0xae) || (p[1] == 0x81 && p[2] >= 0xa6 &&
		           p[2] <= 0xa9))) {
			cols += printf("\\u%04x", 0x2000 | (p[1] & 0x3f) << 6 |
			               (p[2] & 0x3f));
			p += 2;
		} else {
			putchar(*p);
			cols += (*p & 0xc0) != 0x80;
		}
	}
	return cols;
}

static void put_where(const char *client, const char *path)
{
	put_safe(client);
	putchar('/');
	put_safe(path);
}

/* The error of failed attempt d and its errno, and the line end. */
static void put_errors(const struct drow *d)
{
	put_safe(d->error);
	if (d->err != 0)
		printf(" (%s)", strerror(d->err));
	putchar('\n');
}

/* A line under queued job j when there is more to say: why it does not
 * open, that it will not run, its failed attempts (s: its records). */
static void put_job_note(const struct erase_job *j, const struct idsum *s)
{
	const char *pad = "                                    ";

	if (j->err == -ENOENT && j->data)
		printf("%sno job file: destroyed as an orphan at the next "
		       "mount\n", pad);
	else if (j->err != 0 && j->data)
		printf("%sjob file does not open (%s): the data is destroyed "
		       "as an orphan at the next mount\n", pad,
		       strerror(-j->err));
	else if (j->err != 0)
		printf("%sjob file does not open (%s): damaged, partly "
		       "erased, or another vault's\n", pad, strerror(-j->err));
	else if (j->state == ERASE_QUEUED && !j->data)
		printf("%sno data file: the eraser drops the job when it "
		       "next starts\n", pad);
	if (s != NULL && s->last_done > s->last_fail)
		printf("%srecorded done at seq %" PRIu64 ": a leftover "
		       "file\n", pad, s->last_done);
	else if (s != NULL && s->fails > 0) {
		printf("%s%u failed attempt%s, the last at seq %" PRIu64 ": ",
		       pad, s->fails, s->fails == 1 ? "" : "s", s->last_fail);
		put_errors(s->last);
	}
}

static void print_table(const struct eopts *o, const struct status *st)
{
	char when[48];

	printf("queue (%s/%s): %zu job%s\n", o->vault, ERASE_DIR, st->njobs,
	       st->njobs == 1 ? "" : "s");
	if (st->njobs > 0)
		printf("  %-32s  %-26s  %-27s  %12s  %-10s  %s\n", "ID",
		       "STATE", "REQUESTED", "BYTES", "BY", "CLIENT/PATH");
	for (size_t i = 0; i < st->njobs; i++) {
		const struct erase_job *j = &st->jobs[i];
		const struct idsum *s = find_id(st, j->id);
		int w;

		iso_time(j->requested_us, when);
		if (j->err != 0) {
			printf("  %-32s  %-26s  %-27s  %12s  %-10s  ?\n", j->id,
			       state_name(j), "?", "?", "?");
			put_job_note(j, s);
			continue;
		}
		printf("  %-32s  %-26s  %-27s  %12" PRIu64 "  ", j->id,
		       state_name(j), when, j->size);
		if (j->user != NULL)
			w = put_safe(j->user);
		else
			w = printf("uid %" PRIu32, j->uid);
		printf("%*s  ", w < 10 ? 10 - w : 0, "");
		put_where(j->client, j->path);
		putchar('\n');
		put_job_note(j, s);
	}
	if (st->no_store) {
		printf("destructions recorded: none (no audit store yet)\n");
	} else {
		printf("destructions recorded: %zu\n", st->nrows);
		if (st->nrows > 0)
			printf("  %8s  %-27s  %-7s  %-32s  %12s  %s\n", "SEQ",
			       "TIME", "OUTCOME", "ID", "BYTES",
			       "CLIENT/PATH");
	}
	for (size_t i = 0; i < st->nrows; i++) {
		const struct drow *d = &st->rows[i];

		iso_time(d->time_us, when);
		printf("  %8" PRIu64 "  %-27s  %-7s  %-32s  ", d->seq, when,
		       outcome_name(d->outcome), d->id[0] ? d->id : "?");
		if (d->has_bytes)
			printf("%12" PRIu64 "  ", d->bytes);
		else
			printf("%12s  ", "-");
		put_where(d->client, d->path);
		putchar('\n');
		if (d->outcome != AUDIT_ALLOWED) {
			printf("  %10serror: ", "");
			put_errors(d);
		}
	}
	printf("totals: pending %zu, done %" PRIu64 ", failed attempts %"
	       PRIu64 ", still failing %" PRIu64 " (%" PRIu64 " of them "
	       "queued)\n", st->njobs, st->done, st->failed, st->failing,
	       st->failing_queued);
}

/* A CSV field (RFC 4180): quoted when it holds ',', '"', CR or LF. */
static void put_csv(const char *s)
{
	if (s == NULL)
		return;
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static void csv_line(const char *const f[], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			putchar(',');
		put_csv(f[i]);
	}
	fputs("\r\n", stdout);
}

#define CSV_COLS 12

static void print_csv(const struct status *st)
{
	static const char *const head[CSV_COLS] = {
		"type", "id", "state", "seq", "time", "requested", "user",
		"uid", "client", "path", "bytes", "error",
	};
	char seq[24], when[48], req[48], uid[16], bytes[24];

	csv_line(head, CSV_COLS);
	for (size_t i = 0; i < st->njobs; i++) {
		const struct erase_job *j = &st->jobs[i];
		const struct idsum *s = find_id(st, j->id);
		const char *err = NULL;
		char why[96];

		snprintf(why, sizeof(why), "job file does not open: %s",
		         strerror(-j->err));
		if (j->err == -ENOENT)
			err = "no job file";
		else if (j->err != 0)
			err = why;
		else if (s != NULL && s->last_fail > s->last_done)
			err = s->last->error;
		iso_time(j->requested_us, req);
		snprintf(uid, sizeof(uid), "%" PRIu32, j->uid);
		snprintf(bytes, sizeof(bytes), "%" PRIu64, j->size);
		csv_line((const char *const[CSV_COLS]){ "pending", j->id,
		         state_name(j), NULL, NULL, j->err ? NULL : req,
		         j->user, j->err ? NULL : uid, j->client, j->path,
		         j->err ? NULL : bytes, err }, CSV_COLS);
	}
	for (size_t i = 0; i < st->nrows; i++) {
		const struct drow *d = &st->rows[i];

		snprintf(seq, sizeof(seq), "%" PRIu64, d->seq);
		snprintf(uid, sizeof(uid), "%u", (unsigned)d->uid);
		iso_time(d->time_us, when);
		snprintf(bytes, sizeof(bytes), "%" PRIu64, d->bytes);
		csv_line((const char *const[CSV_COLS]){ "destruction", d->id,
		         outcome_name(d->outcome), seq, when, d->requested,
		         d->user, uid, d->client, d->path,
		         d->has_bytes ? bytes : NULL, d->error }, CSV_COLS);
	}
}

/* ---- the command ------------------------------------------------------ */

static int do_status(struct eopts *o)
{
	struct status st = { 0 };
	struct vault *v = NULL;
	int rc = 1, bad, e;

	if (o->format != NULL && strcmp(o->format, "table") != 0 &&
	    !(o->csv = strcmp(o->format, "csv") == 0)) {
		fprintf(stderr, "%s: --format is table or csv\n", prog);
		return 2;
	}
	if (unlock_vault(prog, o->vault, &o->src, &v) != 0)
		return 1;
	if ((e = erase_list(v, &st.jobs, &st.njobs)) != 0) {
		fprintf(stderr, "%s: cannot read the queue %s/%s: %s\n", prog,
		        o->vault, ERASE_DIR, strerror(-e));
		goto out;
	}
	bad = read_records(o, v, &st);
	if (join(&st) != 0) {
		fprintf(stderr, "%s: %s\n", prog, strerror(ENOMEM));
		goto out;
	}
	if (o->csv)
		print_csv(&st);
	else
		print_table(o, &st);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write the output: %s\n", prog,
		        strerror(errno));
		goto out;
	}
	rc = bad;
out:
	status_free(&st);
	vault_close(v);
	return rc;
}

static int parse(int argc, char **argv, struct eopts *o)
{
	const struct ctl_flag flags[] = {
		{ "--passphrase-file", &o->src.passphrase_file },
		{ "--key-file", &o->src.key_file },
		{ "--format", &o->format },
	};

	if (ctl_flags(argc, argv, 3, flags, sizeof(flags) / sizeof(flags[0]),
	              &o->vault, 1) < 0)
		return 2;
	return o->vault ? 0 : 2;
}

int ctl_erase(int argc, char **argv)
{
	struct eopts o = { 0 };
	int rc;

	if (argc < 3)
		return usage();
	if (strcmp(argv[2], "certificate") == 0)
		rc = ctl_erase_certificate(argc, argv);
	else if (strcmp(argv[2], "verify-certificate") == 0)
		rc = ctl_erase_verify_certificate(argc, argv);
	else if (parse(argc, argv, &o) != 0)
		rc = 2;
	else if (strcmp(argv[2], "status") == 0)
		rc = do_status(&o);
	else
		rc = 2;
	return rc == 2 ? usage() : rc;
}
