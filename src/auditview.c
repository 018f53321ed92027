/* The files of the .audit directories, as streams: see include/auditview.h. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "audit.h"
#include "auditview.h"
#include "util.h"

#define NSTREAMS   AV_VERIFY_TXT    /* the files made of records */
#define LINE_START 8192u            /* first size of a reader's buffer */
#define LINE_ROUND 4096u            /* it grows by multiples of this */
#define DAMAGED_ACTION "damaged-record"
#define DAMAGED_DETAIL "record does not decode; run dossierctl audit verify"

_Static_assert(AV_VERIFY_TXT == AV_NFILES - 1, "verify.txt comes last");
_Static_assert(AV_MARKS >= 2 && AV_MARKS % 2 == 0, "marks thin by halves");
_Static_assert(AV_SCOPES >= 1, "at least one scope");

/* How the lines of a file are made from records: format_line(). */
enum line_fmt {
	LINE_TEXT,                   /* audit_format() TEXT */
	LINE_CSV,                    /* audit_format() CSV */
	LINE_JSON,                   /* audit_format() JSON */
	LINE_CERT,                   /* a row of the destruction table */
	LINE_SHARE,                  /* a row of the sharing table */
	NLINE_FMTS
};

/*
 * One file: its name, the format of its lines and which records it
 * shows. Its header is format_header() of its format. A record that
 * does not decode is shown, as a stand-in line, only by the files that
 * select no action and no outcome (events.*): readers pass action and
 * outcome to their cursor as a prefilter, which must never hide a line
 * the counting pass (no prefilter) sees.
 */
struct view {
	const char *name;
	enum line_fmt fmt;
	const char *action;          /* only records of this action, or NULL */
	enum audit_outcome outcome;  /* only records of this outcome, or 0 */
	const char *const *actions;  /* or of one of these (no prefilter) */
};

static const char *const share_actions[] = {
	"share-request", "share-approve", "share-reject", "share-export",
	"share-file", "share-receipt", NULL
};
static const char *const alert_actions[] = {
	"alert", "alert-notify", "lockout", "unlock", NULL
};

static const struct view views[AV_NFILES] = {
	[AV_EVENTS_LOG]       = { "events.log", LINE_TEXT, NULL, 0 },
	[AV_EVENTS_CSV]       = { "events.csv", LINE_CSV, NULL, 0 },
	[AV_EVENTS_JSONL]     = { "events.jsonl", LINE_JSON, NULL, 0 },
	[AV_DENIED_LOG]       = { "denied.log", LINE_TEXT, NULL,
	                          AUDIT_DENIED },
	[AV_DESTRUCTIONS_CSV] = { "destructions.csv", LINE_CERT,
	                          "destroy", 0 },
	[AV_SHARES_CSV]       = { "shares.csv", LINE_SHARE, NULL, 0,
	                          share_actions },
	[AV_ALERTS_LOG]       = { "alerts.log", LINE_TEXT, NULL, 0,
	                          alert_actions },
	/* A report made at open: none of the fields below is used. */
	[AV_VERIFY_TXT]       = { "verify.txt", LINE_TEXT, NULL, 0 },
};

/* The records of a scope with seq below seq make off[f] bytes of file f
 * (header included). */
struct mark {
	uint64_t seq;
	uint64_t off[NSTREAMS];
};

/*
 * What is known of one scope. A map is pinned (users > 0) by a call
 * that works with it, and only an unpinned map is reused for another
 * scope, so a pinned map's client and mu are stable.
 */
struct av_map {
	pthread_mutex_t mu;          /* guards the fields below it */
	char *client;                /* the scope; NULL: the whole vault */
	uint64_t users;              /* under av.mu */
	uint64_t used;               /* av.clock at the last pin, under av.mu */

	uint64_t next_seq;           /* every record before it is counted */
	uint64_t len[NSTREAMS];      /* bytes of each file so far */
	uint64_t records;            /* records counted */
	int64_t mtime_us;            /* newest record's time, or av.born_us */
	uint64_t stride;             /* records from one mark to the next */
	uint64_t since_mark;         /* records counted after the last mark */
	size_t nmarks;
	struct mark marks[AV_MARKS]; /* marks[0] is the start: seq 1 */
};

/*
 * Lock order: a reader's mu, then av.mu or a map's mu, never both of the
 * last two: av.mu is held only to find, pin and unpin maps. A thread
 * pins at most one map at a time, so waiting for a map to come free
 * cannot deadlock.
 */
struct av {
	struct audit *a;
	int dirfd;
	int64_t born_us;
	uint64_t hdr[NSTREAMS];      /* header bytes of each file */
	pthread_mutex_t mu;          /* guards maps[], clock */
	pthread_cond_t unpinned;     /* some map's users fell to 0 */
	uint64_t clock;
	struct av_map *maps[AV_SCOPES];
};

/*
 * One open file. The stream offset of the next unread byte is
 * base + lpos. For verify.txt line holds the whole report and c is
 * NULL. For the others line holds the current line, and c (NULL until
 * the first read) yields the records after it.
 */
struct av_reader {
	pthread_mutex_t mu;          /* serialises av_read(); guards it all */
	struct av *v;
	unsigned f;
	char *client;
	struct audit_cursor *c;
	char *line;                  /* decrypted text: wiped when freed */
	size_t cap;
	size_t llen;                 /* bytes in line */
	size_t lpos;                 /* ... of which read */
	uint64_t base;               /* stream offset of line[0] */
};

/* A place to start reading from: a mark, or the end of what is counted. */
struct spot {
	uint64_t seq;
	uint64_t off;
};

const char *av_file_name(unsigned f)
{
	return f < AV_NFILES ? views[f].name : NULL;
}

int av_file_find(const char *name)
{
	for (unsigned f = 0; name != NULL && f < AV_NFILES; f++)
		if (strcmp(name, views[f].name) == 0)
			return (int)f;
	return -ENOENT;
}

/* ---- the destruction table (destructions.csv) ------------------------ */

/* The keys of a destruction record's detail that the table shows, in
 * the order of its columns; each column is named like its key, with '_'
 * for '-'. */
enum cert_key {
	K_ID, K_REASON, K_DIGEST, K_METHOD_TYPE, K_METHOD, K_TOOL,
	K_VERIFICATION, K_REQUESTED, K_STARTED, K_ENDED, K_ERROR, NCERT_KEYS
};

static const char *const cert_keys[NCERT_KEYS] = {
	[K_ID] = "id", [K_REASON] = "reason", [K_DIGEST] = "digest",
	[K_METHOD_TYPE] = "method-type", [K_METHOD] = "method",
	[K_TOOL] = "tool", [K_VERIFICATION] = "verification",
	[K_REQUESTED] = "requested", [K_STARTED] = "started",
	[K_ENDED] = "ended", [K_ERROR] = "error",
};

#define CERT_HEADER "seq,time,id,outcome,reason,user,uid,roles,rule," \
	"policy,client,path,bytes,digest,method_type,method,tool," \
	"verification,requested,started,ended,error\r\n"

/* Part of a string: n bytes from p (p NULL: no value). */
struct span {
	const char *p;
	size_t n;
};

/* An snprintf-like builder: len counts what the whole line needs. */
struct out {
	char *buf;
	size_t cap;
	size_t len;
};

static void out_put(struct out *o, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++, o->len++)
		if (o->len + 1 < o->cap)
			o->buf[o->len] = p[i];
}

static void out_str(struct out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

static size_t out_end(struct out *o)
{
	if (o->cap > 0)
		o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
	return o->len;
}

/* A field, RFC 4180: quoted when it holds ',', '"', CR or LF, quotes
 * doubled; no value and "" are both an empty field. */
static void out_csv(struct out *o, struct span s)
{
	size_t i, from;

	if (s.p == NULL)
		return;
	for (i = 0; i < s.n && memchr(",\"\r\n", s.p[i], 4) == NULL; i++)
		;
	if (i == s.n) {
		out_put(o, s.p, s.n);
		return;
	}
	out_put(o, "\"", 1);
	for (from = 0, i = 0; i < s.n; i++) {
		if (s.p[i] == '"') {
			out_put(o, s.p + from, i + 1 - from);
			from = i;
		}
	}
	out_put(o, s.p + from, s.n - from);
	out_put(o, "\"", 1);
}

static struct span str(const char *s)
{
	return (struct span){ s, s != NULL ? strlen(s) : 0 };
}

/* A time as audit_format() prints it: 2026-11-29T23:34:06.258653Z. */
static void out_time(struct out *o, int64_t us)
{
	int64_t sec = us / 1000000, frac = us % 1000000;
	char day[32], buf[64];
	time_t t;
	struct tm tm;

	if (frac < 0) {
		frac += 1000000;
		sec--;
	}
	t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(day, sizeof(day), "@%" PRId64, sec);
	snprintf(buf, sizeof(buf), "%s.%06" PRId64 "Z", day, frac);
	out_str(o, buf);
}

/* The values of the keys a table shows, from a detail of "key=value"
 * pairs joined by "; ": the first of each key; unknown keys are skipped,
 * missing ones have no value. */
static void detail_split(const char *detail, const char *const *keys,
                         unsigned nkeys, struct span *v)
{
	const char *p = detail, *end, *eq;
	size_t n, klen;

	memset(v, 0, nkeys * sizeof(*v));
	while (p != NULL && *p != '\0') {
		end = strstr(p, "; ");
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if ((eq = memchr(p, '=', n)) != NULL) {
			klen = (size_t)(eq - p);
			for (unsigned k = 0; k < nkeys; k++) {
				if (v[k].p == NULL &&
				    strlen(keys[k]) == klen &&
				    memcmp(p, keys[k], klen) == 0) {
					v[k] = (struct span){ eq + 1,
					                      n - klen - 1 };
					break;
				}
			}
		}
		p = end != NULL ? end + 2 : NULL;
	}
}

/* "done" for a destruction that was verified, "failed" for a failed
 * attempt; any other outcome by its name. */
static const char *cert_outcome(enum audit_outcome o)
{
	return o == AUDIT_ALLOWED ? "done" : o == AUDIT_ERROR ? "failed"
	       : audit_outcome_name(o);
}

/* A field after the first: the comma, then the field. */
static void out_col(struct out *o, struct span s)
{
	out_put(o, ",", 1);
	out_csv(o, s);
}

/* Row r of the table, columns as in CERT_HEADER. */
static void format_cert(struct out *o, const struct audit_row *r)
{
	const struct audit_event *e = &r->ev;
	struct span d[NCERT_KEYS];
	char num[32];

	detail_split(e->detail, cert_keys, NCERT_KEYS, d);
	snprintf(num, sizeof(num), "%" PRIu64 ",", r->seq);
	out_str(o, num);
	out_time(o, r->time_us);
	out_col(o, d[K_ID]);
	out_col(o, str(cert_outcome(e->outcome)));
	out_col(o, d[K_REASON]);
	out_col(o, str(e->user));
	snprintf(num, sizeof(num), "%u", (unsigned)e->uid);
	out_col(o, str(num));
	out_col(o, str(e->roles));
	out_col(o, str(e->rule));
	out_col(o, str(e->policy));
	out_col(o, str(e->client));
	out_col(o, str(e->path));
	snprintf(num, sizeof(num), "%" PRIu64, e->bytes);
	out_col(o, str(e->has_bytes ? num : NULL));
	for (unsigned k = K_DIGEST; k < NCERT_KEYS; k++)
		out_col(o, d[k]);
	out_str(o, "\r\n");
}

/* The sharing table (shares.csv): one row per step of a request. */
enum share_key { S_ID, S_RECIPIENT, S_PACKAGE, S_FILES, NSHARE_KEYS };

static const char *const share_keys[NSHARE_KEYS] = {
	[S_ID] = "id", [S_RECIPIENT] = "recipient", [S_PACKAGE] = "package",
	[S_FILES] = "files",
};

#define SHARE_HEADER "seq,time,id,step,outcome,user,uid,roles,client," \
	"path,reason,recipient,package,files,bytes,rule,detail\r\n"

/* Row r of the sharing table: step is the action without "share-". */
static void format_share(struct out *o, const struct audit_row *r)
{
	const struct audit_event *e = &r->ev;
	struct span d[NSHARE_KEYS];
	char num[32];

	detail_split(e->detail, share_keys, NSHARE_KEYS, d);
	snprintf(num, sizeof(num), "%" PRIu64 ",", r->seq);
	out_str(o, num);
	out_time(o, r->time_us);
	out_col(o, d[S_ID]);
	out_col(o, str(strncmp(e->action, "share-", 6) == 0 ?
	               e->action + 6 : e->action));
	out_col(o, str(audit_outcome_name(e->outcome)));
	out_col(o, str(e->user));
	snprintf(num, sizeof(num), "%u", (unsigned)e->uid);
	out_col(o, str(num));
	out_col(o, str(e->roles));
	out_col(o, str(e->client));
	out_col(o, str(e->path));
	out_col(o, str(e->path2));
	out_col(o, d[S_RECIPIENT]);
	out_col(o, d[S_PACKAGE]);
	out_col(o, d[S_FILES]);
	snprintf(num, sizeof(num), "%" PRIu64, e->bytes);
	out_col(o, str(e->has_bytes ? num : NULL));
	out_col(o, str(e->rule));
	out_col(o, str(e->detail));
	out_str(o, "\r\n");
}

/* ---- the one definition of a file's lines ----------------------------- */

/* The audit_format() of the formats that are one. */
static const enum audit_format audit_fmt[LINE_CERT] = {
	[LINE_TEXT] = AUDIT_FMT_TEXT,
	[LINE_CSV]  = AUDIT_FMT_CSV,
	[LINE_JSON] = AUDIT_FMT_JSON,
};

/* Line of record r in format f into buf, like audit_format(): the
 * length the whole line needs, NUL-terminated when cap > 0. */
static size_t format_line(enum line_fmt f, const struct audit_row *r,
                          char *buf, size_t cap)
{
	struct out o = { buf, cap, 0 };

	if (f < LINE_CERT)
		return audit_format(r, audit_fmt[f], buf, cap);
	if (f == LINE_CERT)
		format_cert(&o, r);
	else
		format_share(&o, r);
	return out_end(&o);
}

/* The header of format f: a CSV's first line, "" for the others. */
static size_t format_header(enum line_fmt f, char *buf, size_t cap)
{
	struct out o = { buf, cap, 0 };

	if (f < LINE_CERT)
		return audit_format_header(audit_fmt[f], buf, cap);
	out_str(&o, f == LINE_CERT ? CERT_HEADER : SHARE_HEADER);
	return out_end(&o);
}

/* The line shown for a record that does not decode. */
static void stand_in(uint64_t seq, struct audit_row *r)
{
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->ev.node = "?";
	r->ev.action = DAMAGED_ACTION;
	r->ev.outcome = AUDIT_ERROR;
	r->ev.err = EBADMSG;
	r->ev.detail = DAMAGED_DETAIL;
}

/* Whether r (a stand-in if damaged) is a line of file f. */
static int belongs(unsigned f, const struct audit_row *r, int damaged)
{
	const struct view *w = &views[f];

	if (damaged)
		return w->action == NULL && w->outcome == 0 &&
		       w->actions == NULL;
	if (w->actions != NULL) {
		const char *const *a = w->actions;

		while (*a != NULL && strcmp(r->ev.action, *a) != 0)
			a++;
		if (*a == NULL)
			return 0;
	}
	return (w->action == NULL || strcmp(r->ev.action, w->action) == 0) &&
	       (w->outcome == 0 || r->ev.outcome == w->outcome);
}

/*
 * The next record of cursor c into *r: 1 (*damaged set when it is the
 * stand-in of a record that does not decode), 0 at the end, or -EIO.
 */
static int next_row(struct audit_cursor *c, struct audit_row *r,
                    int *damaged)
{
	int rc = audit_cursor_next(c, r);

	*damaged = 0;
	if (rc == -EBADMSG && r->seq > 0) {
		stand_in(r->seq, r);
		*damaged = 1;
		return 1;
	}
	return rc < 0 ? -EIO : rc;
}

/* A cursor over the records of scope client from seq on, prefiltered
 * for file f (NSTREAMS: for all of them). */
static int cursor_at(struct av *v, const char *client, unsigned f,
                     uint64_t seq, struct audit_cursor **out)
{
	struct audit_filter flt = { .from_seq = seq, .client = client };
	int rc;

	if (f < NSTREAMS) {
		flt.action = views[f].action;
		flt.outcome = views[f].outcome;
	}
	rc = audit_cursor_open(v->a, &flt, out);
	return rc == -ENOMEM ? rc : rc < 0 ? -EIO : 0;
}

/* ---- scope maps ------------------------------------------------------- */

static int same_scope(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

/* Forgets all counts: nothing counted yet. */
static void map_reset(const struct av *v, struct av_map *m)
{
	m->next_seq = 1;
	m->records = 0;
	m->mtime_us = v->born_us;
	m->stride = 1;
	m->since_mark = 0;
	m->nmarks = 1;
	m->marks[0].seq = 1;
	for (unsigned f = 0; f < NSTREAMS; f++)
		m->len[f] = m->marks[0].off[f] = v->hdr[f];
}

/* Takes a map for the scope client out of the table (creating one, or
 * reusing the least recently used unpinned one) and pins it. */
static int map_get(struct av *v, const char *client, struct av_map **out)
{
	struct av_map *m;
	char *copy = NULL;
	int rc = 0;

	if (client != NULL && (copy = strdup(client)) == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&v->mu);
	for (;;) {
		size_t i, empty = AV_SCOPES, lru = AV_SCOPES;

		for (i = 0; i < AV_SCOPES; i++) {
			m = v->maps[i];
			if (m == NULL) {
				empty = empty < AV_SCOPES ? empty : i;
			} else if (same_scope(m->client, client)) {
				break;
			} else if (m->users == 0 && (lru == AV_SCOPES ||
			           m->used < v->maps[lru]->used)) {
				lru = i;
			}
		}
		if (i < AV_SCOPES) {
			m = v->maps[i];
			break;
		}
		if (empty < AV_SCOPES) {
			if ((m = calloc(1, sizeof(*m))) == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			pthread_mutex_init(&m->mu, NULL);
			v->maps[empty] = m;
		} else if (lru < AV_SCOPES) {
			m = v->maps[lru];
			free(m->client);
		} else {
			pthread_cond_wait(&v->unpinned, &v->mu);
			continue;
		}
		m->client = copy;
		copy = NULL;
		map_reset(v, m);
		break;
	}
	m->users++;
	m->used = ++v->clock;
	*out = m;
out:
	pthread_mutex_unlock(&v->mu);
	free(copy);
	return rc;
}

static void map_put(struct av *v, struct av_map *m)
{
	pthread_mutex_lock(&v->mu);
	assert(m->users > 0);
	if (--m->users == 0)
		pthread_cond_broadcast(&v->unpinned);
	pthread_mutex_unlock(&v->mu);
}

/* Marks where record seq starts; when the marks are full, every other
 * one goes and they are twice as far apart. */
static void add_mark(struct av_map *m, uint64_t seq)
{
	struct mark *k;

	if (m->nmarks == AV_MARKS) {
		for (size_t i = 1; i < AV_MARKS / 2; i++)
			m->marks[i] = m->marks[2 * i];
		m->nmarks = AV_MARKS / 2;
		m->stride *= 2;
	}
	k = &m->marks[m->nmarks++];
	k->seq = seq;
	memcpy(k->off, m->len, sizeof(k->off));
	m->since_mark = 0;
}

/* Counts record r of m's scope into every file it belongs to. */
static int count_row(struct av_map *m, const struct audit_row *r,
                     int damaged)
{
	uint64_t add[NSTREAMS];
	size_t n[NLINE_FMTS];
	int have[NLINE_FMTS] = { 0 };

	for (unsigned f = 0; f < NSTREAMS; f++) {
		enum line_fmt fmt = views[f].fmt;

		add[f] = 0;
		if (!belongs(f, r, damaged))
			continue;
		if (!have[fmt]) {
			n[fmt] = format_line(fmt, r, NULL, 0);
			have[fmt] = 1;
		}
		add[f] = n[fmt];
		/* Offsets must fit an off_t; len[f] <= INT64_MAX holds. */
		if (add[f] > (uint64_t)INT64_MAX - m->len[f])
			return -EOVERFLOW;
	}
	if (m->since_mark == m->stride && m->stride <= UINT64_MAX / 2)
		add_mark(m, r->seq);
	for (unsigned f = 0; f < NSTREAMS; f++)
		m->len[f] += add[f];
	m->records++;
	m->since_mark++;
	m->next_seq = r->seq + 1;
	if (!damaged && r->time_us > m->mtime_us)
		m->mtime_us = r->time_us;
	return 0;
}

/* Counts the records of m's scope committed since it last counted.
 * Called with m->mu held. */
static int map_refresh(struct av *v, struct av_map *m)
{
	struct audit_cursor *c;
	struct audit_row r;
	int rc, damaged;

	if ((rc = cursor_at(v, m->client, NSTREAMS, m->next_seq, &c)) != 0)
		return rc;
	while ((rc = next_row(c, &r, &damaged)) == 1)
		if ((rc = count_row(m, &r, damaged)) != 0)
			break;
	audit_cursor_close(c);
	return rc;
}

/* The last mark at or before offset off of file f, or the end of what is
 * counted when that is nearer; counts first if off lies beyond it. */
static int find_spot(struct av *v, const char *client, unsigned f,
                     uint64_t off, struct spot *s)
{
	struct av_map *m;
	size_t lo, hi;
	int rc;

	if ((rc = map_get(v, client, &m)) != 0)
		return rc;
	pthread_mutex_lock(&m->mu);
	if (off > m->len[f] && (rc = map_refresh(v, m)) != 0)
		goto out;
	if (off >= m->len[f]) {
		s->seq = m->next_seq;
		s->off = m->len[f];
		goto out;
	}
	/* marks[].off[f] never decreases; find the last one <= off. */
	lo = 0;
	hi = m->nmarks;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->marks[mid].off[f] <= off)
			lo = mid;
		else
			hi = mid;
	}
	s->seq = m->marks[lo].seq;
	s->off = m->marks[lo].off[f];
out:
	pthread_mutex_unlock(&m->mu);
	map_put(v, m);
	return rc;
}

/* ---- the views -------------------------------------------------------- */

int av_new(struct audit *a, int dirfd, struct av **out)
{
	struct av *v;

	if (a == NULL || dirfd < 0 || out == NULL)
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	v->a = a;
	v->dirfd = dirfd;
	v->born_us = now_us();
	for (unsigned f = 0; f < NSTREAMS; f++) {
		/* A prefilter must not hide a stand-in line (see views). */
		assert(belongs(f, NULL, 1) == (views[f].action == NULL &&
		                               views[f].outcome == 0 &&
		                               views[f].actions == NULL));
		v->hdr[f] = format_header(views[f].fmt, NULL, 0);
	}
	pthread_mutex_init(&v->mu, NULL);
	pthread_cond_init(&v->unpinned, NULL);
	*out = v;
	return 0;
}

void av_free(struct av *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < AV_SCOPES; i++) {
		struct av_map *m = v->maps[i];

		if (m == NULL)
			continue;
		assert(m->users == 0);
		pthread_mutex_destroy(&m->mu);
		free(m->client);
		free(m);
	}
	pthread_cond_destroy(&v->unpinned);
	pthread_mutex_destroy(&v->mu);
	free(v);
}

static int scope_ok(const char *client)
{
	return client == NULL || strnlen(client, AUDIT_TEXT_MAX + 1) <=
	       AUDIT_TEXT_MAX;
}

int av_stat(struct av *v, const char *client, enum av_file f,
            struct av_stat *out)
{
	struct av_map *m;
	int rc;

	if (v == NULL || out == NULL || (unsigned)f >= AV_NFILES ||
	    !scope_ok(client))
		return -EINVAL;
	if ((rc = map_get(v, client, &m)) != 0)
		return rc;
	pthread_mutex_lock(&m->mu);
	if ((rc = map_refresh(v, m)) == 0) {
		out->size = f == AV_VERIFY_TXT ? 0 : m->len[f];
		out->mtime_us = m->mtime_us;
		out->records = m->records;
	}
	pthread_mutex_unlock(&m->mu);
	map_put(v, m);
	return rc;
}

/* ---- readers ---------------------------------------------------------- */

/* Makes room for a line of n bytes (and its NUL) in r->line. */
static int line_room(struct av_reader *r, size_t n)
{
	size_t cap;
	char *p;

	if (n < r->cap)
		return 0;
	if (n > SIZE_MAX - LINE_ROUND)
		return -EOVERFLOW;
	cap = (n / LINE_ROUND + 1) * LINE_ROUND;
	if ((p = malloc(cap)) == NULL)
		return -ENOMEM;
	if (r->line != NULL) {
		sodium_memzero(r->line, r->cap);
		free(r->line);
	}
	r->line = p;
	r->cap = cap;
	r->llen = r->lpos = 0;
	return 0;
}

/* Replaces the current line by the next line of the file: 1, 0 at the
 * end (the line is then empty, at the same offset), or a negative errno. */
static int next_line(struct av_reader *r)
{
	struct audit_row row;
	int rc, damaged;
	size_t n;

	if (r->llen > UINT64_MAX - r->base)
		return -EOVERFLOW;
	r->base += r->llen;
	r->llen = r->lpos = 0;
	while ((rc = next_row(r->c, &row, &damaged)) == 1) {
		if (!belongs(r->f, &row, damaged))
			continue;
		n = format_line(views[r->f].fmt, &row, r->line, r->cap);
		if (n >= r->cap) {
			if ((rc = line_room(r, n)) != 0)
				return rc;
			format_line(views[r->f].fmt, &row, r->line, r->cap);
		}
		r->llen = n;
		return 1;
	}
	return rc;
}

/* Starts reading again at spot s: a new cursor; at seq 1, the header. */
static int reopen(struct av_reader *r, const struct spot *s)
{
	struct audit_cursor *c;
	int rc;

	if ((rc = cursor_at(r->v, r->client, r->f, s->seq, &c)) != 0)
		return rc;
	audit_cursor_close(r->c);
	r->c = c;
	r->llen = r->lpos = 0;
	r->base = s->off;
	if (s->seq == 1) {
		assert(s->off == r->v->hdr[r->f]);
		r->base = 0;
		r->llen = format_header(views[r->f].fmt, r->line, r->cap);
		if (r->llen >= r->cap)
			return -EOVERFLOW;
	}
	return 0;
}

/* Puts r at offset off: at the end instead when the file is shorter. */
static int seek(struct av_reader *r, uint64_t off)
{
	struct spot s = { 0, 0 };
	int rc;

	if (r->c != NULL && off >= r->base && off - r->base <= r->llen) {
		r->lpos = (size_t)(off - r->base);
		return 0;
	}
	if ((rc = find_spot(r->v, r->client, r->f, off, &s)) != 0)
		return rc;
	/* Reading on from here beats a mark that is not nearer. */
	if ((r->c == NULL || off < r->base || s.off > r->base + r->llen) &&
	    (rc = reopen(r, &s)) != 0)
		return rc;
	while (off - r->base > r->llen) {
		if ((rc = next_line(r)) <= 0) {
			r->lpos = r->llen;
			return rc;
		}
	}
	r->lpos = (size_t)(off - r->base);
	return 0;
}

/* The verify.txt report into r->line. */
static int report(struct av_reader *r)
{
	struct audit_verify res;
	char when[32];
	struct tm tm;
	time_t t = time(NULL);
	size_t len = 0;
	int rc, n;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -EIO;
	rc = audit_verify(r->v->dirfd, &res);
#define PUT(...) do {                                                    \
		n = snprintf(r->line + len, r->cap - len, __VA_ARGS__);  \
		if (n < 0 || (size_t)n >= r->cap - len)                  \
			return -EOVERFLOW;                               \
		len += (size_t)n;                                        \
	} while (0)
	PUT("checked at:      %s\n", when);
	if (rc == 0)
		PUT("result:          OK\n");
	else if (rc == -EBADMSG && res.bad_seq > 0)
		PUT("result:          BAD at seq %" PRIu64 ": %s\n",
		    res.bad_seq, res.reason);
	else if (rc == -EBADMSG)
		PUT("result:          BAD: %s\n", res.reason);
	else
		PUT("result:          cannot check: %s\n", strerror(-rc));
	if (rc == 0 || rc == -EBADMSG) {
		PUT("records:         %" PRIu64 "%s\n", res.records,
		    rc == 0 ? "" : " (checked before the problem)");
		PUT("checkpoints:     %" PRIu64 "\n", res.checkpoints);
		PUT("last checkpoint: seq %" PRIu64 "\n", res.last_checkpoint);
		PUT("not signed yet:  %" PRIu64 " records after it\n",
		    res.unsigned_records);
	}
	if (res.pubkey[0] != '\0')
		PUT("signing key:     %s (%s)\n", res.pubkey, AUDIT_PUB);
	PUT("covers:          the whole vault: one chain holds the records "
	    "of every client folder\n");
#undef PUT
	r->llen = len;
	return 0;
}

int av_open(struct av *v, const char *client, enum av_file f,
            struct av_reader **out)
{
	struct av_reader *r;
	int rc;

	if (v == NULL || out == NULL || (unsigned)f >= AV_NFILES ||
	    !scope_ok(client))
		return -EINVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	pthread_mutex_init(&r->mu, NULL);
	r->v = v;
	r->f = f;
	rc = -ENOMEM;
	if (client != NULL && (r->client = strdup(client)) == NULL)
		goto out;
	if ((rc = line_room(r, LINE_START - 1)) != 0 ||
	    (f == AV_VERIFY_TXT && (rc = report(r)) != 0))
		goto out;
	*out = r;
	r = NULL;
out:
	av_close(r);
	return rc;
}

ssize_t av_read(struct av_reader *r, char *buf, size_t size, uint64_t off)
{
	size_t n = 0, k;
	int rc = 0;

	if (r == NULL || (buf == NULL && size > 0))
		return -EINVAL;
	if (size > SSIZE_MAX)
		size = SSIZE_MAX;
	pthread_mutex_lock(&r->mu);
	if (r->f == AV_VERIFY_TXT) {
		if (off < r->llen) {
			n = r->llen - (size_t)off;
			n = n < size ? n : size;
			memcpy(buf, r->line + off, n);
		}
		goto out;
	}
	if ((rc = seek(r, off)) < 0 || r->base + r->lpos != off)
		goto out;
	while (n < size) {
		if (r->lpos == r->llen && (rc = next_line(r)) <= 0)
			break;
		k = r->llen - r->lpos;
		k = k < size - n ? k : size - n;
		memcpy(buf + n, r->line + r->lpos, k);
		r->lpos += k;
		n += k;
	}
out:
	if (rc < 0) {
		/* A record may be lost to the line: start over from a mark. */
		audit_cursor_close(r->c);
		r->c = NULL;
	}
	/* No read transaction is held until the next call. */
	audit_cursor_pause(r->c);
	pthread_mutex_unlock(&r->mu);
	return n > 0 || rc >= 0 ? (ssize_t)n : rc;
}

void av_close(struct av_reader *r)
{
	if (r == NULL)
		return;
	audit_cursor_close(r->c);
	if (r->line != NULL) {
		sodium_memzero(r->line, r->cap);
		free(r->line);
	}
	free(r->client);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
