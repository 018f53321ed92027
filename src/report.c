/*
 * report: the KPI report, counted in one pass over the audit records of a
 * range and written as text, CSV or HTML. See include/report.h.
 *
 * Counts live in hash tables (open addressing, SipHash under a random
 * key); report_finish() sorts each table once into an array of entry
 * pointers, which the queries and the writers read.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "report.h"

#define US_PER_S     INT64_C(1000000)
#define US_PER_HOUR  (INT64_C(3600) * US_PER_S)
#define US_PER_DAY   (INT64_C(86400) * US_PER_S)
#define TEXT_COL_MAX 40u         /* widest padded text column */
#define TEXT_LABEL   40          /* width of a figure's label */
#define CHART_ROWS   20u         /* most bars of a horizontal chart */
#define LABEL_CHARS  28u         /* characters of a chart label */
#define NOT_COUNTED  "not computed (give --mount and --as)"

_Static_assert(crypto_shorthash_BYTES == 8, "a table hash is 64 bits");

/* One entry: its key blob (key, and for two-key tables a NUL and key2,
 * NUL-terminated) and its counts. key NULL marks a free slot. */
struct slot {
	char *key;
	size_t len;                  /* bytes of the blob, without the NUL */
	uint64_t hash;
	uint64_t n[3];
};

struct table {
	struct slot *s;
	size_t cap;                  /* a power of two, or 0 */
	size_t used;
	int two;                     /* entries have key2 */
	const struct slot **order;   /* report_finish(): sorted entries */
};

struct report {
	int64_t since, until, scan_from, window;
	unsigned char hkey[crypto_shorthash_KEYBYTES];
	struct table t[REPORT_NTABLES];
	enum report_unit unit;
	size_t nb;
	int64_t *start;              /* nb bucket starts */
	uint64_t *count;             /* nb bucket counts */
	char *scratch;               /* a key blob being looked up */
	size_t scap;
	struct report_totals tot;
	int finished;
};

static const char *const share_actions[] = {
	"share-request", "share-approve", "share-reject", "share-export",
	"share-receipt",
};
#define NSHARE (sizeof(share_actions) / sizeof(share_actions[0]))

/* ---- tables ------------------------------------------------------------ */

/* The blob of key (klen bytes) and key2 (NULL for none) in r->scratch. */
static int blob(struct report *r, const char *key, size_t klen,
                const char *key2, size_t *len)
{
	size_t k2 = key2 ? strlen(key2) : 0, need;
	char *nb;

	if (klen > SIZE_MAX / 2 || k2 > SIZE_MAX / 2)
		return -ENOMEM;
	need = klen + 1 + (key2 ? k2 + 1 : 0);
	if (need > r->scap) {
		if ((nb = realloc(r->scratch, need)) == NULL)
			return -ENOMEM;
		r->scratch = nb;
		r->scap = need;
	}
	memcpy(r->scratch, key, klen);
	r->scratch[klen] = '\0';
	*len = klen;
	if (key2) {
		memcpy(r->scratch + klen + 1, key2, k2 + 1);
		*len = klen + 1 + k2;
	}
	return 0;
}

static uint64_t hash(const struct report *r, const char *b, size_t len)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t x;

	crypto_shorthash(h, (const unsigned char *)b, len, r->hkey);
	memcpy(&x, h, sizeof(x));
	return x;
}

/* The slot of blob b in t: the entry, or the free slot it would take. */
static struct slot *probe(struct table *t, const char *b, size_t len,
                          uint64_t h)
{
	size_t i = (size_t)h & (t->cap - 1);

	while (t->s[i].key != NULL && (t->s[i].hash != h ||
	       t->s[i].len != len || memcmp(t->s[i].key, b, len) != 0))
		i = (i + 1) & (t->cap - 1);
	return &t->s[i];
}

static int grow(struct table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 16;
	struct slot *old = t->s, *s;
	size_t ocap = t->cap;

	if (cap > SIZE_MAX / sizeof(*s) ||
	    (s = calloc(cap, sizeof(*s))) == NULL)
		return -ENOMEM;
	t->s = s;
	t->cap = cap;
	for (size_t i = 0; i < ocap; i++) {
		if (old[i].key != NULL)
			*probe(t, old[i].key, old[i].len, old[i].hash) = old[i];
	}
	free(old);
	return 0;
}

/*
 * The entry of (key, key2) in table t, created with zero counts when
 * absent and create is set; NULL when absent (create 0) or out of
 * memory (*rc then -ENOMEM).
 */
static struct slot *lookup(struct report *r, enum report_table which,
                           const char *key, size_t klen, const char *key2,
                           int create, int *rc)
{
	struct table *t = &r->t[which];
	struct slot *s;
	size_t len;
	uint64_t h;

	*rc = 0;
	if ((*rc = blob(r, key, klen, t->two ? (key2 ? key2 : "") : NULL,
	                &len)) != 0)
		return NULL;
	h = hash(r, r->scratch, len);
	if (t->cap > 0) {
		s = probe(t, r->scratch, len, h);
		if (s->key != NULL || !create)
			return s->key != NULL ? s : NULL;
	} else if (!create) {
		return NULL;
	}
	if ((t->used + 1) * 10 > t->cap * 7 && (*rc = grow(t)) != 0)
		return NULL;
	s = probe(t, r->scratch, len, h);
	if ((s->key = malloc(len + 1)) == NULL) {
		*rc = -ENOMEM;
		return NULL;
	}
	memcpy(s->key, r->scratch, len + 1);
	s->len = len;
	s->hash = h;
	memset(s->n, 0, sizeof(s->n));
	t->used++;
	return s;
}

/* Adds one to count i of (key, key2) in table which. */
static int bump(struct report *r, enum report_table which, const char *key,
                const char *key2, int i)
{
	int rc;
	struct slot *s = lookup(r, which, key, strlen(key), key2, 1, &rc);

	if (s == NULL)
		return rc;
	s->n[i]++;
	return 0;
}

static const char *key2_of(const struct table *t, const struct slot *s)
{
	return t->two ? s->key + strlen(s->key) + 1 : NULL;
}

static int blob_cmp(const struct slot *a, const struct slot *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->key, b->key, n);

	if (c != 0)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

/* Most first, then by key and key2. */
static int cmp_count(const void *x, const void *y)
{
	const struct slot *a = *(const struct slot *const *)x;
	const struct slot *b = *(const struct slot *const *)y;

	if (a->n[0] != b->n[0])
		return a->n[0] > b->n[0] ? -1 : 1;
	return blob_cmp(a, b);
}

static int cmp_key(const void *x, const void *y)
{
	return blob_cmp(*(const struct slot *const *)x,
	                *(const struct slot *const *)y);
}

static size_t share_rank(const struct slot *s)
{
	size_t i;

	for (i = 0; i < NSHARE; i++)
		if (strcmp(s->key, share_actions[i]) == 0)
			break;
	return i;
}

static int cmp_share(const void *x, const void *y)
{
	const struct slot *a = *(const struct slot *const *)x;
	const struct slot *b = *(const struct slot *const *)y;
	size_t ra = share_rank(a), rb = share_rank(b);

	if (ra != rb)
		return ra < rb ? -1 : 1;
	return blob_cmp(a, b);
}

static int sort_table(struct table *t, enum report_table which)
{
	size_t k = 0;

	t->order = calloc(t->used ? t->used : 1, sizeof(*t->order));
	if (t->order == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->s[i].key != NULL)
			t->order[k++] = &t->s[i];
	qsort(t->order, k, sizeof(*t->order), which == REPORT_SHARE ?
	      cmp_share : which == REPORT_GRANT ? cmp_key : cmp_count);
	return 0;
}

/* ---- the report -------------------------------------------------------- */

/* The next local midnight after t (seconds), or t + 1 day. */
static int64_t next_midnight(int64_t t)
{
	time_t x = (time_t)t, y;
	struct tm tm;

	if (localtime_r(&x, &tm) == NULL)
		return t + 86400;
	tm.tm_mday++;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	if ((y = mktime(&tm)) == (time_t)-1 || (int64_t)y <= t)
		return t + 86400;
	return (int64_t)y;
}

static int make_buckets(struct report *r)
{
	size_t cap = r->unit == REPORT_HOUR ? REPORT_HOUR_DAYS * 24 + 1
	                                    : REPORT_MAX_DAYS + 2;
	int64_t t = r->since;

	r->start = calloc(cap, sizeof(*r->start));
	r->count = calloc(cap, sizeof(*r->count));
	if (r->start == NULL || r->count == NULL)
		return -ENOMEM;
	while (t < r->until && r->nb < cap) {
		r->start[r->nb++] = t;
		if (r->unit == REPORT_HOUR) {
			t += US_PER_HOUR;
		} else {
			/* floor division: a start before 1970 stays in range */
			int64_t s = t / US_PER_S - (t % US_PER_S < 0);

			t = next_midnight(s) * US_PER_S;
		}
	}
	return 0;
}

int report_new(int64_t since_us, int64_t until_us, struct report **out)
{
	struct report *r;
	int rc;

	if (out == NULL || since_us < 0 || since_us >= until_us)
		return -EINVAL;
	if (until_us - since_us > (int64_t)REPORT_MAX_DAYS * US_PER_DAY)
		return -ERANGE;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	r->since = since_us;
	r->until = until_us;
	r->window = until_us - (int64_t)REPORT_GRANT_DAYS * US_PER_DAY;
	r->scan_from = r->window < since_us ? r->window : since_us;
	if (r->scan_from < 0)
		r->scan_from = 0;
	r->unit = until_us - since_us <= (int64_t)REPORT_HOUR_DAYS * US_PER_DAY
	          ? REPORT_HOUR : REPORT_DAY;
	r->t[REPORT_LEAK].two = 1;
	r->t[REPORT_ALERT_RULE].two = 1;
	r->t[REPORT_GRANT].two = 1;
	r->tot.since_us = since_us;
	r->tot.until_us = until_us;
	r->tot.scan_from_us = r->scan_from;
	r->tot.retention = -1;
	crypto_shorthash_keygen(r->hkey);
	if ((rc = make_buckets(r)) != 0)
		goto fail;
	for (size_t i = 0; i < NSHARE; i++) {
		if (lookup(r, REPORT_SHARE, share_actions[i],
		           strlen(share_actions[i]), NULL, 1, &rc) == NULL)
			goto fail;
	}
	*out = r;
	return 0;
fail:
	report_free(r);
	return rc;
}

void report_free(struct report *r)
{
	if (r == NULL)
		return;
	/* Client and user names are personal data: wiped, not just freed. */
	for (int i = 0; i < REPORT_NTABLES; i++) {
		for (size_t k = 0; k < r->t[i].cap; k++) {
			if (r->t[i].s[k].key == NULL)
				continue;
			sodium_memzero(r->t[i].s[k].key, r->t[i].s[k].len);
			free(r->t[i].s[k].key);
		}
		free(r->t[i].s);
		free(r->t[i].order);
	}
	free(r->start);
	free(r->count);
	if (r->scratch != NULL)
		sodium_memzero(r->scratch, r->scap);
	free(r->scratch);
	sodium_memzero(r->hkey, sizeof(r->hkey));
	free(r);
}

int64_t report_scan_from(const struct report *r)
{
	return r->scan_from;
}

int report_grant(struct report *r, const char *role, const char *user)
{
	int rc;

	if (r == NULL || role == NULL || user == NULL || r->finished)
		return -EINVAL;
	if (lookup(r, REPORT_GRANT, role, strlen(role), user, 1, &rc) == NULL)
		return rc;
	return 0;
}

static int is_share(const char *a)
{
	return strncmp(a, "share-", 6) == 0;
}

/* alert, alert-notify, lockout, unlock: the alerting's own records. */
static int is_alerting(const char *a)
{
	return strcmp(a, "alert") == 0 || strcmp(a, "alert-notify") == 0 ||
	       strcmp(a, "lockout") == 0 || strcmp(a, "unlock") == 0;
}

static int is_access(const char *a)
{
	static const char *const not_access[] = {
		"close", "destroy", "mount", "unmount", "policy-loaded",
		"policy-rejected", "unlock-failed",
	};

	if (is_share(a) || is_alerting(a))
		return 0;
	for (size_t i = 0; i < sizeof(not_access) / sizeof(not_access[0]); i++)
		if (strcmp(a, not_access[i]) == 0)
			return 0;
	return 1;
}

/* The value of key in an alert's detail ("kind=reads; class=...; ..."),
 * into buf; REPORT_UNKNOWN when it is not there or empty. */
static void detail_value(const char *detail, const char *key, char *buf,
                         size_t cap)
{
	size_t klen = strlen(key);
	const char *p = detail;

	while (p != NULL && *p != '\0') {
		size_t n;

		while (*p == ' ' || *p == ';')
			p++;
		n = strcspn(p, ";");
		if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			const char *v = p + klen + 1;
			size_t vn = n - klen - 1;

			while (vn > 0 && v[vn - 1] == ' ')
				vn--;
			if (vn > 0 && vn < cap) {
				memcpy(buf, v, vn);
				buf[vn] = '\0';
				return;
			}
		}
		p += n;
	}
	snprintf(buf, cap, "%s", REPORT_UNKNOWN);
}

/* Adds one to count 0 of every role named in roles (comma-separated,
 * spaces around names ignored), or of REPORT_NO_ROLE when there is none. */
static int bump_roles(struct report *r, enum report_table which,
                      const char *roles)
{
	const char *p = roles;
	int rc, named = 0;

	while (p != NULL && *p != '\0') {
		size_t n = strcspn(p, ","), k = n;
		const char *s = p;
		struct slot *e;

		while (k > 0 && *s == ' ') {
			s++;
			k--;
		}
		while (k > 0 && s[k - 1] == ' ')
			k--;
		if (k > 0) {
			if ((e = lookup(r, which, s, k, NULL, 1, &rc)) == NULL)
				return rc;
			e->n[0]++;
			named = 1;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return named ? 0 : bump(r, which, REPORT_NO_ROLE, NULL, 0);
}

static size_t bucket_of(const struct report *r, int64_t t)
{
	size_t lo = 0, hi = r->nb;

	/* the last start <= t; start[0] is since <= t */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->start[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static int add_alert(struct report *r, const struct audit_event *e,
                     const char *user)
{
	const char *rule = e->rule ? e->rule : REPORT_UNKNOWN;
	char kind[64], cls[64];
	int rc;

	detail_value(e->detail, "kind", kind, sizeof(kind));
	detail_value(e->detail, "class", cls, sizeof(cls));
	r->tot.alerts++;
	if ((rc = bump(r, REPORT_ALERT_RULE, rule, kind, 0)) != 0 ||
	    (rc = bump(r, REPORT_ALERT_CLASS, cls, NULL, 0)) != 0)
		return rc;
	if (strcmp(cls, "exfiltration") != 0)
		return 0;
	r->tot.leak++;
	r->tot.leak_alerts++;
	return bump(r, REPORT_LEAK, rule, user, 0);
}

static int add_share(struct report *r, const struct audit_event *e,
                     const char *user)
{
	int i = e->outcome == AUDIT_ALLOWED ? 0 :
	        e->outcome == AUDIT_DENIED ? 1 : 2;
	int rc = bump(r, REPORT_SHARE, e->action, NULL, i);

	if (rc != 0 || e->outcome != AUDIT_DENIED)
		return rc;
	r->tot.leak++;
	r->tot.leak_shares++;
	return bump(r, REPORT_LEAK, e->action, user, 0);
}

static void add_destroy(struct report *r, const struct audit_event *e)
{
	uint64_t b = e->has_bytes ? e->bytes : 0;

	if (e->outcome == AUDIT_ALLOWED) {
		r->tot.destroyed++;
		r->tot.destroyed_bytes += b;
	} else if (e->outcome == AUDIT_ERROR) {
		r->tot.destroy_failed++;
		r->tot.destroy_failed_bytes += b;
	}
}

int report_add(struct report *r, const struct audit_row *row)
{
	const struct audit_event *e;
	const char *user;
	int64_t t;
	int rc = 0;

	if (r == NULL || row == NULL || row->ev.action == NULL || r->finished)
		return -EINVAL;
	e = &row->ev;
	t = row->time_us;
	user = e->user ? e->user : REPORT_NO_USER;
	if (t < r->scan_from || t >= r->until)
		return 0;
	if (t >= r->window && e->outcome == AUDIT_ALLOWED && e->user &&
	    e->rule && strncmp(e->rule, "role ", 5) == 0) {
		struct slot *g = lookup(r, REPORT_GRANT, e->rule + 5,
		                        strlen(e->rule + 5), e->user, 0, &rc);

		if (g != NULL)
			g->n[0]++;
		else if (rc != 0)
			return rc;
	}
	if (t < r->since)
		return 0;
	r->tot.records++;
	if (strcmp(e->action, "alert") == 0)
		return add_alert(r, e, user);
	if (strcmp(e->action, "lockout") == 0 && e->outcome == AUDIT_ALLOWED)
		r->tot.lockouts++;
	else if (strcmp(e->action, "unlock") == 0 &&
	         e->outcome == AUDIT_ALLOWED)
		r->tot.unlocks++;
	else if (strcmp(e->action, "alert-notify") == 0 &&
	         e->outcome == AUDIT_ERROR)
		r->tot.notify_failed++;
	if (is_share(e->action))
		return add_share(r, e, user);
	if (strcmp(e->action, "destroy") == 0)
		add_destroy(r, e);
	if (e->outcome == AUDIT_DENIED && !is_alerting(e->action)) {
		r->tot.abuse++;
		if ((rc = bump(r, REPORT_ABUSE_USER, user, NULL, 0)) != 0 ||
		    (rc = bump_roles(r, REPORT_ABUSE_ROLE, e->roles)) != 0)
			return rc;
	}
	if (e->outcome == AUDIT_ALLOWED && is_access(e->action)) {
		r->tot.accesses++;
		r->count[bucket_of(r, t)]++;
		if (e->client != NULL &&
		    (rc = bump(r, REPORT_CLIENT, e->client, NULL, 0)) != 0)
			return rc;
		return bump_roles(r, REPORT_ROLE, e->roles);
	}
	return 0;
}

void report_damaged(struct report *r)
{
	if (r != NULL)
		r->tot.damaged++;
}

void report_set_retention(struct report *r, int64_t files)
{
	if (r != NULL)
		r->tot.retention = files < 0 ? -1 : files;
}

int report_finish(struct report *r)
{
	int rc;

	if (r == NULL)
		return -EINVAL;
	if (r->finished)
		return 0;
	for (int i = 0; i < REPORT_NTABLES; i++)
		if ((rc = sort_table(&r->t[i], (enum report_table)i)) != 0)
			return rc;
	r->tot.grants = r->t[REPORT_GRANT].used;
	r->tot.grants_unused = 0;
	for (size_t i = 0; i < r->t[REPORT_GRANT].used; i++)
		if (r->t[REPORT_GRANT].order[i]->n[0] == 0)
			r->tot.grants_unused++;
	r->finished = 1;
	return 0;
}

void report_totals(const struct report *r, struct report_totals *t)
{
	*t = r->tot;
}

size_t report_count(const struct report *r, enum report_table t)
{
	if (r == NULL || !r->finished || (unsigned)t >= REPORT_NTABLES)
		return 0;
	return r->t[t].used;
}

int report_entry(const struct report *r, enum report_table t, size_t i,
                 struct report_entry *e)
{
	const struct slot *s;

	if (r == NULL || e == NULL || !r->finished ||
	    (unsigned)t >= REPORT_NTABLES)
		return -EINVAL;
	if (i >= r->t[t].used)
		return -ENOENT;
	s = r->t[t].order[i];
	e->key = s->key;
	e->key2 = key2_of(&r->t[t], s);
	memcpy(e->n, s->n, sizeof(e->n));
	return 0;
}

enum report_unit report_unit(const struct report *r)
{
	return r->unit;
}

size_t report_nbuckets(const struct report *r)
{
	return r->nb;
}

int report_bucket(const struct report *r, size_t i, int64_t *start_us,
                  uint64_t *accesses)
{
	if (r == NULL)
		return -EINVAL;
	if (i >= r->nb)
		return -ENOENT;
	if (start_us)
		*start_us = r->start[i];
	if (accesses)
		*accesses = r->count[i];
	return 0;
}

/* ---- escaping ---------------------------------------------------------- */

/* The length of the valid UTF-8 character at s (NUL-terminated) and its
 * code point, or 0 when the bytes there are not one. */
static size_t utf8_char(const unsigned char *s, uint32_t *cp)
{
	size_t need;
	uint32_t c = s[0], min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1, min = 0x80, c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2, min = 0x800, c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3, min = 0x10000, c &= 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	*cp = c;
	return need + 1;
}

/* Control characters, and the ones that reorder or break lines. */
static int unsafe_cp(uint32_t c)
{
	return c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) ||
	       c == 0x61c || c == 0x200e || c == 0x200f ||
	       (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/* Writes s for a terminal (f NULL: only measures); returns its columns,
 * counting one per character. */
static size_t text_put(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t cols = 0, n;
	uint32_t c;

	while (*p != '\0') {
		n = utf8_char(p, &c);
		if (n == 0 || unsafe_cp(c)) {
			for (size_t i = 0; i < (n ? n : 1); i++) {
				if (f)
					fprintf(f, "\\x%02x", p[i]);
				cols += 4;
			}
			p += n ? n : 1;
			continue;
		}
		if (c == '\\') {
			if (f)
				fputs("\\\\", f);
			cols += 2;
		} else {
			if (f)
				fwrite(p, 1, n, f);
			cols++;
		}
		p += n;
	}
	return cols;
}

static void text_pad(FILE *f, const char *s, size_t width, int right)
{
	size_t w = text_put(NULL, s);

	if (right)
		for (size_t i = w; i < width; i++)
			fputc(' ', f);
	text_put(f, s);
	if (!right)
		for (size_t i = w; i < width; i++)
			fputc(' ', f);
}

/* Writes s as HTML text, at most max characters (0: all; a cut name ends
 * with an ellipsis). */
static void html_put(FILE *f, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t chars = 0, total = 0, n;
	uint32_t c;

	for (const unsigned char *q = p; max > 0 && *q != '\0'; total++) {
		n = utf8_char(q, &c);
		q += n ? n : 1;
	}
	while (*p != '\0') {
		if (max > 0 && total > max && chars + 1 == max) {
			fputs("&#x2026;", f);
			return;
		}
		n = utf8_char(p, &c);
		chars++;
		if (n == 0 || unsafe_cp(c)) {
			fputs("&#xfffd;", f);
			p += n ? n : 1;
			continue;
		}
		switch (c) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fwrite(p, 1, n, f);
		}
		p += n;
	}
}

/* Writes s as one CSV field (RFC 4180), guarded against formulas. */
static void csv_put(FILE *f, const char *s)
{
	int quote = strpbrk(s, ",\"\r\n") != NULL;
	int guard = s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL;

	if (quote)
		fputc('"', f);
	if (guard)
		fputc('\'', f);
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '"')
			fputc('"', f);
		fputc(*p, f);
	}
	if (quote)
		fputc('"', f);
}

/* ---- writing ----------------------------------------------------------- */

struct out {
	FILE *f;
	enum report_format fmt;
	const struct report *r;
	const struct report_totals *t;
	int in_figures;              /* HTML: a figures table is open */
};

/* One row of a table. */
struct trow {
	const char *c[2];
	uint64_t v[3];
	char buf[32];                /* a bucket's label */
};

struct tdesc;
/* Row i of a table into *row: 1, 0 to skip it, -ENOENT past the end. */
typedef int (*row_fn)(const struct out *o, const struct tdesc *d, size_t i,
                      struct trow *row);

struct tdesc {
	const char *id;              /* the CSV section and the HTML id */
	const char *head[5];         /* text columns, then number columns */
	int ntext, nval;
	const char *sub[3];          /* CSV subkey of each number (nval > 1) */
	row_fn row;
	enum report_table table;
};

static void local_time(int64_t us, const char *fmt, char *buf, size_t cap)
{
	time_t t = (time_t)(us / US_PER_S - (us % US_PER_S < 0));
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL || strftime(buf, cap, fmt, &tm) == 0)
		snprintf(buf, cap, "@%" PRId64, us / US_PER_S);
}

static int row_entry(const struct out *o, const struct tdesc *d, size_t i,
                     struct trow *row)
{
	struct report_entry e;

	if (report_entry(o->r, d->table, i, &e) != 0)
		return -ENOENT;
	row->c[0] = e.key;
	row->c[1] = e.key2;
	memcpy(row->v, e.n, sizeof(row->v));
	return 1;
}

static int row_unused(const struct out *o, const struct tdesc *d, size_t i,
                      struct trow *row)
{
	int rc = row_entry(o, d, i, row);

	return rc == 1 && row->v[0] != 0 ? 0 : rc;
}

static const char *bucket_fmt(const struct report *r)
{
	return r->unit == REPORT_HOUR ? "%Y-%m-%d %H:%M" : "%Y-%m-%d";
}

static int row_bucket(const struct out *o, const struct tdesc *d, size_t i,
                      struct trow *row)
{
	int64_t start;

	(void)d;
	if (report_bucket(o->r, i, &start, &row->v[0]) != 0)
		return -ENOENT;
	local_time(start, bucket_fmt(o->r), row->buf, sizeof(row->buf));
	row->c[0] = row->buf;
	row->c[1] = NULL;
	return 1;
}

static void figures_end(struct out *o)
{
	if (o->fmt == REPORT_HTML && o->in_figures)
		fputs("</table>\n", o->f);
	o->in_figures = 0;
}

static void section(struct out *o, int num, const char *id, const char *title)
{
	figures_end(o);
	if (o->fmt == REPORT_TEXT)
		fprintf(o->f, "\n%d. %s\n", num, title);
	else if (o->fmt == REPORT_HTML)
		fprintf(o->f, "<section id=\"s-%s\">\n<h2>%d. %s</h2>\n", id,
		        num, title);
}

static void section_end(struct out *o)
{
	figures_end(o);
	if (o->fmt == REPORT_HTML)
		fputs("</section>\n", o->f);
}

/* One figure: a number, or text when text is not NULL. */
static void figure(struct out *o, const char *id, const char *key,
                   const char *sub, const char *label, const char *text,
                   uint64_t n)
{
	char num[24];
	const char *v = text;

	if (v == NULL) {
		snprintf(num, sizeof(num), "%" PRIu64, n);
		v = num;
	}
	switch (o->fmt) {
	case REPORT_TEXT:
		fprintf(o->f, "     %-*s ", TEXT_LABEL, label);
		text_pad(o->f, v, 12, text == NULL);
		fputc('\n', o->f);
		break;
	case REPORT_CSV:
		fprintf(o->f, "%s,", id);
		csv_put(o->f, key);
		fputc(',', o->f);
		csv_put(o->f, sub ? sub : "");
		fputc(',', o->f);
		if (text)
			csv_put(o->f, text);
		else
			fputs(v, o->f);
		fputs("\r\n", o->f);
		break;
	case REPORT_HTML:
		if (!o->in_figures)
			fprintf(o->f, "<table class=\"figures\" id=\"%s\">\n",
			        id);
		o->in_figures = 1;
		fprintf(o->f, "<tr data-key=\"%s\"", key);
		if (sub)
			fprintf(o->f, " data-subkey=\"%s\"", sub);
		fputs("><th>", o->f);
		html_put(o->f, label, 0);
		fprintf(o->f, "</th><td%s>", text ? "" : " class=\"n\"");
		html_put(o->f, v, 0);
		fputs("</td></tr>\n", o->f);
		break;
	}
}

static void text_table(struct out *o, const struct tdesc *d)
{
	size_t w[2] = { 0, 0 }, wn[3] = { 0, 0, 0 }, rows = 0;
	struct trow row;
	char num[24];
	int rc;

	for (int c = 0; c < d->ntext; c++)
		w[c] = strlen(d->head[c]);
	for (int c = 0; c < d->nval; c++)
		wn[c] = strlen(d->head[d->ntext + c]);
	for (size_t i = 0; (rc = d->row(o, d, i, &row)) >= 0; i++) {
		if (rc == 0)
			continue;
		rows++;
		for (int c = 0; c < d->ntext; c++) {
			size_t x = text_put(NULL, row.c[c] ? row.c[c] : "");

			if (x > w[c])
				w[c] = x > TEXT_COL_MAX ? TEXT_COL_MAX : x;
		}
		for (int c = 0; c < d->nval; c++) {
			size_t x = (size_t)snprintf(num, sizeof(num),
			                            "%" PRIu64, row.v[c]);
			if (x > wn[c])
				wn[c] = x;
		}
	}
	fputs("\n     ", o->f);
	for (int c = 0; c < d->ntext + d->nval; c++) {
		const char *h = d->head[c];
		size_t width = c < d->ntext ? w[c] : wn[c - d->ntext];

		if (c > 0)
			fputs("  ", o->f);
		if (c >= d->ntext)
			for (size_t k = strlen(h); k < width; k++)
				fputc(' ', o->f);
		for (const char *p = h; *p; p++)
			fputc(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p,
			      o->f);
		if (c < d->ntext)
			for (size_t k = strlen(h); k < width; k++)
				fputc(' ', o->f);
	}
	fputc('\n', o->f);
	if (rows == 0)
		fputs("     (none)\n", o->f);
	for (size_t i = 0; (rc = d->row(o, d, i, &row)) >= 0; i++) {
		if (rc == 0)
			continue;
		fputs("     ", o->f);
		for (int c = 0; c < d->ntext; c++) {
			text_pad(o->f, row.c[c] ? row.c[c] : "", w[c], 0);
			fputs("  ", o->f);
		}
		for (int c = 0; c < d->nval; c++) {
			snprintf(num, sizeof(num), "%" PRIu64, row.v[c]);
			text_pad(o->f, num, wn[c], 1);
			fputs(c + 1 < d->nval ? "  " : "\n", o->f);
		}
	}
}

static void csv_table(struct out *o, const struct tdesc *d)
{
	struct trow row;
	int rc;

	for (size_t i = 0; (rc = d->row(o, d, i, &row)) >= 0; i++) {
		if (rc == 0)
			continue;
		for (int c = 0; c < d->nval; c++) {
			fprintf(o->f, "%s,", d->id);
			csv_put(o->f, row.c[0] ? row.c[0] : "");
			fputc(',', o->f);
			csv_put(o->f, d->ntext > 1 && row.c[1] ? row.c[1] :
			        d->nval > 1 ? d->sub[c] : "");
			fprintf(o->f, ",%" PRIu64 "\r\n", row.v[c]);
		}
	}
}

static void html_table(struct out *o, const struct tdesc *d)
{
	struct trow row;
	size_t rows = 0;
	int rc;

	fprintf(o->f, "<table class=\"entries\" id=\"%s\">\n<thead><tr>",
	        d->id);
	for (int c = 0; c < d->ntext + d->nval; c++)
		fprintf(o->f, "<th%s>%s</th>",
		        c >= d->ntext ? " class=\"n\"" : "", d->head[c]);
	fputs("</tr></thead>\n<tbody>\n", o->f);
	for (size_t i = 0; (rc = d->row(o, d, i, &row)) >= 0; i++) {
		if (rc == 0)
			continue;
		rows++;
		fputs("<tr>", o->f);
		for (int c = 0; c < d->ntext; c++) {
			fputs("<td>", o->f);
			html_put(o->f, row.c[c] ? row.c[c] : "", 0);
			fputs("</td>", o->f);
		}
		for (int c = 0; c < d->nval; c++)
			fprintf(o->f, "<td class=\"n\">%" PRIu64 "</td>",
			        row.v[c]);
		fputs("</tr>\n", o->f);
	}
	if (rows == 0)
		fprintf(o->f, "<tr class=\"none\"><td colspan=\"%d\">none</td>"
		        "</tr>\n", d->ntext + d->nval);
	fputs("</tbody>\n</table>\n", o->f);
}

static void table(struct out *o, const struct tdesc *d)
{
	figures_end(o);
	if (o->fmt == REPORT_TEXT)
		text_table(o, d);
	else if (o->fmt == REPORT_CSV)
		csv_table(o, d);
	else
		html_table(o, d);
}

/* ---- charts (HTML) ----------------------------------------------------- */

#define CHART_W 760

static uint64_t max_of(const uint64_t *v, size_t n)
{
	uint64_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (v[i] > m)
			m = v[i];
	return m;
}

/* Vertical bars: one per time bucket. */
static void chart_activity(struct out *o)
{
	const double left = 56, top = 14, pw = CHART_W - 56 - 14, ph = 200;
	size_t n = report_nbuckets(o->r), step = (n + 5) / 6;
	uint64_t m = 0, v;
	char label[32], tick[32];
	int64_t start;

	for (size_t i = 0; report_bucket(o->r, i, NULL, &v) == 0; i++)
		if (v > m)
			m = v;
	fprintf(o->f, "<figure>\n<figcaption>Accesses per %s</figcaption>\n"
	        "<svg id=\"chart-activity\" class=\"chart\" width=\"%d\" "
	        "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
	        "aria-label=\"accesses per %s\">\n",
	        o->r->unit == REPORT_HOUR ? "hour" : "day", CHART_W, 260,
	        CHART_W, 260, o->r->unit == REPORT_HOUR ? "hour" : "day");
	fprintf(o->f, "<line class=\"axis\" x1=\"%.0f\" y1=\"%.0f\" "
	        "x2=\"%.0f\" y2=\"%.0f\"/>\n", left, top + ph, left + pw,
	        top + ph);
	fprintf(o->f, "<text class=\"tick\" x=\"%.0f\" y=\"%.0f\" "
	        "text-anchor=\"end\">%" PRIu64 "</text>\n<text class=\"tick\" "
	        "x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">0</text>\n",
	        left - 6, top + 4, m, left - 6, top + ph);
	for (size_t i = 0; report_bucket(o->r, i, &start, &v) == 0; i++) {
		double bw = pw / (double)n;
		double h = m ? (double)v * ph / (double)m : 0;

		local_time(start, bucket_fmt(o->r), label, sizeof(label));
		local_time(start, o->r->unit == REPORT_HOUR ? "%m-%d %H:%M" :
		           "%Y-%m-%d", tick, sizeof(tick));
		fprintf(o->f, "<rect class=\"bar\" x=\"%.2f\" y=\"%.2f\" "
		        "width=\"%.2f\" height=\"%.2f\"><title>%s: %" PRIu64
		        " accesses</title></rect>\n", left + bw * (double)i +
		        bw * 0.1, top + ph - h, bw * 0.8, h, label, v);
		if (i % step == 0)
			fprintf(o->f, "<text class=\"tick\" x=\"%.2f\" "
			        "y=\"%.0f\" text-anchor=\"middle\">%s</text>\n",
			        left + bw * ((double)i + 0.5), top + ph + 16,
			        tick);
	}
	if (m == 0)
		fprintf(o->f, "<text class=\"empty\" x=\"%.0f\" y=\"%.0f\" "
		        "text-anchor=\"middle\">no accesses</text>\n",
		        left + pw / 2, top + ph / 2);
	fputs("</svg>\n</figure>\n", o->f);
}

/* Horizontal bars: the first CHART_ROWS (or max) entries of a table. */
static void chart_entries(struct out *o, const char *id, const char *caption,
                          enum report_table t, size_t max, const char *what)
{
	const double left = 220, top = 8, row_h = 22, pw = CHART_W - 220 - 70;
	size_t n = report_count(o->r, t);
	uint64_t v[CHART_ROWS], m;
	struct report_entry e;
	double height;

	if (max > CHART_ROWS)
		max = CHART_ROWS;
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++) {
		report_entry(o->r, t, i, &e);
		v[i] = e.n[0];
	}
	height = top * 2 + row_h * (double)(n ? n : 1);
	fprintf(o->f, "<figure>\n<figcaption>%s</figcaption>\n<svg id=\"%s\" "
	        "class=\"chart\" width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d "
	        "%.0f\" role=\"img\" aria-label=\"%s\">\n", caption, id,
	        CHART_W, height, CHART_W, height, caption);
	m = max_of(v, n);
	for (size_t i = 0; i < n; i++) {
		double y = top + row_h * (double)i;
		double w = m ? (double)v[i] * pw / (double)m : 0;

		report_entry(o->r, t, i, &e);
		fprintf(o->f, "<text class=\"label\" x=\"%.0f\" y=\"%.0f\" "
		        "text-anchor=\"end\">", left - 8, y + 15);
		html_put(o->f, e.key, LABEL_CHARS);
		fprintf(o->f, "</text>\n<rect class=\"bar\" x=\"%.0f\" "
		        "y=\"%.0f\" width=\"%.2f\" height=\"%.0f\"><title>",
		        left, y + 3, w, row_h - 6);
		html_put(o->f, e.key, 0);
		fprintf(o->f, ": %" PRIu64 " %s</title></rect>\n<text "
		        "class=\"value\" x=\"%.2f\" y=\"%.0f\">%" PRIu64
		        "</text>\n", v[i], what, left + w + 6, y + 15, v[i]);
	}
	if (n == 0)
		fprintf(o->f, "<text class=\"empty\" x=\"%.0f\" y=\"%.0f\">"
		        "none</text>\n", left, top + 15);
	fputs("</svg>\n</figure>\n", o->f);
}

static const char css[] =
	"body{font-family:sans-serif;margin:2em;color:#222;max-width:60em}"
	"h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em;"
	"border-bottom:1px solid #ccc}"
	"table{border-collapse:collapse;margin:.6em 0}"
	"th,td{padding:.2em .8em;border-bottom:1px solid #e4e4e4;"
	"text-align:left;vertical-align:top}"
	".n{text-align:right;font-variant-numeric:tabular-nums}"
	"table.figures th{font-weight:normal;min-width:18em}"
	"tr.none td{color:#888;font-style:italic}"
	".alarm{border:3px solid #b00;background:#fee;color:#700;"
	"padding:1em;font-size:1.2em;margin:1em 0}"
	".ok{color:#060}.bad{color:#b00;font-weight:bold}"
	"figure{margin:1em 0}figcaption{font-weight:bold;margin:.3em 0}"
	"svg.chart{background:#fafafa;border:1px solid #ddd}"
	"svg .axis{stroke:#888}svg text{font-size:11px;fill:#333}"
	"#chart-activity .bar{fill:#3b6fb6}"
	"#chart-denials .bar{fill:#c0392b}"
	"#chart-clients .bar{fill:#2e8b57}"
	"svg .empty{fill:#888;font-style:italic}";

/* ---- the sections ------------------------------------------------------ */

static void head_field(struct out *o, const char *key, const char *label,
                       const char *v)
{
	switch (o->fmt) {
	case REPORT_TEXT:
		fprintf(o->f, "  %-13s ", label);
		text_put(o->f, v);
		fputc('\n', o->f);
		break;
	case REPORT_CSV:
		fprintf(o->f, "report,%s,,", key);
		csv_put(o->f, v);
		fputs("\r\n", o->f);
		break;
	case REPORT_HTML:
		fprintf(o->f, "<tr data-key=\"%s\"><th>%s</th><td%s>", key,
		        label, strcmp(key, "chain") != 0 ? "" :
		        strcmp(v, "OK") == 0 ? " class=\"ok\"" :
		        " class=\"bad\"");
		html_put(o->f, v, 0);
		fputs("</td></tr>\n", o->f);
		break;
	}
}

static void write_head(struct out *o, const struct report_head *h)
{
	const struct report_totals *t = o->t;
	char since[48], until[48], gen[48], num[24], dmg[24];
	const char *chain = h->chain ? h->chain : "not checked";

	local_time(t->since_us, "%Y-%m-%d %H:%M:%S %z", since, sizeof(since));
	local_time(t->until_us, "%Y-%m-%d %H:%M:%S %z", until, sizeof(until));
	local_time(h->generated_us, "%Y-%m-%d %H:%M:%S %z", gen, sizeof(gen));
	snprintf(num, sizeof(num), "%" PRIu64, t->records);
	snprintf(dmg, sizeof(dmg), "%" PRIu64, t->damaged);
	if (o->fmt == REPORT_TEXT) {
		fputs("dossierfs KPI report\n", o->f);
		if (!h->chain_ok) {
			fputs("\n*** AUDIT CHAIN BAD: ", o->f);
			text_put(o->f, chain);
			fputs("\n*** The figures below come from an audit "
			      "store that failed verification.\n\n", o->f);
		}
	} else if (o->fmt == REPORT_CSV) {
		fputs("section,key,subkey,value\r\n", o->f);
	} else {
		fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
		      "<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-"
		      "Security-Policy\" content=\"default-src 'none'; "
		      "style-src 'unsafe-inline'\">\n"
		      "<title>dossierfs KPI report: ", o->f);
		html_put(o->f, h->vault ? h->vault : "", 0);
		fprintf(o->f, "</title>\n<style>%s</style>\n</head>\n<body>\n"
		        "<h1>dossierfs KPI report</h1>\n", css);
		if (!h->chain_ok) {
			fputs("<div class=\"alarm\" id=\"chain-bad\">"
			      "<strong>AUDIT CHAIN BAD:</strong> ", o->f);
			html_put(o->f, chain, 0);
			fputs("<br>The figures below come from an audit "
			      "store that failed verification.</div>\n", o->f);
		}
		fputs("<table class=\"figures\" id=\"report\">\n", o->f);
	}
	head_field(o, "vault", "vault:", h->vault ? h->vault : "");
	head_field(o, "since", "since:", since);
	head_field(o, "until", "until:", until);
	head_field(o, "generated", "generated:", gen);
	head_field(o, "policy", "policy:", h->policy ? h->policy : "none");
	head_field(o, "chain", "audit chain:", h->chain_ok ? "OK" : "BAD");
	head_field(o, "chain-detail", "  detail:", chain);
	head_field(o, "records", "records:", num);
	head_field(o, "damaged", "damaged:", dmg);
	head_field(o, "bucket", "buckets:",
	           o->r->unit == REPORT_HOUR ? "hour" : "day");
	if (h->retention_by)
		head_field(o, "retention-by", "retention by:", h->retention_by);
	if (o->fmt == REPORT_HTML)
		fputs("</table>\n", o->f);
}

static void write_body(struct out *o)
{
	const struct report_totals *t = o->t;
	static const struct tdesc leak_src = { "leak-source",
		{ "source", "user", "events" }, 2, 1, { 0 }, row_entry,
		REPORT_LEAK };
	static const struct tdesc ab_user = { "abuse-user",
		{ "user", "denied" }, 1, 1, { 0 }, row_entry,
		REPORT_ABUSE_USER };
	static const struct tdesc ab_role = { "abuse-role",
		{ "role", "denied" }, 1, 1, { 0 }, row_entry,
		REPORT_ABUSE_ROLE };
	static const struct tdesc al_rule = { "abnormal-rule",
		{ "rule", "kind", "alerts" }, 2, 1, { 0 }, row_entry,
		REPORT_ALERT_RULE };
	static const struct tdesc al_class = { "abnormal-class",
		{ "class", "alerts" }, 1, 1, { 0 }, row_entry,
		REPORT_ALERT_CLASS };
	static const struct tdesc act_client = { "activity-client",
		{ "client", "accesses" }, 1, 1, { 0 }, row_entry,
		REPORT_CLIENT };
	static const struct tdesc act_role = { "activity-role",
		{ "role", "accesses" }, 1, 1, { 0 }, row_entry, REPORT_ROLE };
	static const struct tdesc act_hour = { "activity-time",
		{ "hour", "accesses" }, 1, 1, { 0 }, row_bucket, 0 };
	static const struct tdesc act_day = { "activity-time",
		{ "day", "accesses" }, 1, 1, { 0 }, row_bucket, 0 };
	static const struct tdesc unused = { "grant-unused",
		{ "role", "user", "uses" }, 2, 1, { 0 }, row_unused,
		REPORT_GRANT };
	static const struct tdesc share = { "share",
		{ "action", "allowed", "refused", "error" }, 1, 3,
		{ "allowed", "refused", "error" }, row_entry, REPORT_SHARE };
	char ret[24];

	section(o, 1, "leak", "Information-leak events");
	figure(o, "leak", "total", NULL, "total", NULL, t->leak);
	figure(o, "leak", "exfiltration-alerts", NULL, "exfiltration alerts",
	       NULL, t->leak_alerts);
	figure(o, "leak", "refused-shares", NULL, "refused share attempts",
	       NULL, t->leak_shares);
	table(o, &leak_src);
	section_end(o);

	section(o, 2, "abuse", "Permission abuse (denied attempts)");
	figure(o, "abuse", "total", NULL, "total", NULL, t->abuse);
	table(o, &ab_user);
	table(o, &ab_role);
	section_end(o);

	section(o, 3, "abnormal", "Abnormal access (alerts)");
	figure(o, "abnormal", "total", NULL, "total", NULL, t->alerts);
	figure(o, "abnormal", "lockouts", NULL, "users locked out", NULL,
	       t->lockouts);
	figure(o, "abnormal", "unlocks", NULL, "unlocked by an admin", NULL,
	       t->unlocks);
	figure(o, "abnormal", "notify-failed", NULL, "notifications failed",
	       NULL, t->notify_failed);
	table(o, &al_rule);
	table(o, &al_class);
	section_end(o);

	section(o, 4, "activity", "Activity (allowed accesses)");
	figure(o, "activity", "total", NULL, "total", NULL, t->accesses);
	table(o, &act_client);
	table(o, &act_role);
	table(o, o->r->unit == REPORT_HOUR ? &act_hour : &act_day);
	section_end(o);

	section(o, 5, "destruction", "Destructions");
	figure(o, "destruction", "done", "count", "done", NULL, t->destroyed);
	figure(o, "destruction", "done", "bytes", "done, bytes", NULL,
	       t->destroyed_bytes);
	figure(o, "destruction", "failed", "count", "failed", NULL,
	       t->destroy_failed);
	figure(o, "destruction", "failed", "bytes", "failed, bytes", NULL,
	       t->destroy_failed_bytes);
	section_end(o);

	section(o, 6, "retention", "Retention overdue");
	snprintf(ret, sizeof(ret), "%" PRId64, t->retention);
	figure(o, "retention", "overdue", NULL, "files past retention",
	       t->retention < 0 ? NOT_COUNTED : NULL,
	       t->retention < 0 ? 0 : (uint64_t)t->retention);
	section_end(o);

	section(o, 7, "grants", "Grants not used in the 90 days before until");
	figure(o, "grants", "checked", NULL, "grants checked", NULL, t->grants);
	figure(o, "grants", "unused", NULL, "not used", NULL, t->grants_unused);
	table(o, &unused);
	section_end(o);

	section(o, 8, "share", "Sharing");
	table(o, &share);
	section_end(o);
}

int report_write(const struct report *r, const struct report_head *h,
                 enum report_format f, FILE *out)
{
	struct report_totals t;
	struct out o = { .f = out, .fmt = f, .r = r, .t = &t };

	if (r == NULL || h == NULL || out == NULL || !r->finished ||
	    (f != REPORT_TEXT && f != REPORT_CSV && f != REPORT_HTML))
		return -EINVAL;
	report_totals(r, &t);
	write_head(&o, h);
	if (f == REPORT_HTML) {
		fputs("<section id=\"charts\">\n<h2>Charts</h2>\n", out);
		chart_activity(&o);
		chart_entries(&o, "chart-denials", "Denied attempts by role",
		              REPORT_ABUSE_ROLE, CHART_ROWS, "denied");
		chart_entries(&o, "chart-clients", "Top 10 clients by accesses",
		              REPORT_CLIENT, REPORT_TOP_CLIENTS, "accesses");
		fputs("</section>\n", out);
	}
	write_body(&o);
	if (f == REPORT_HTML)
		fputs("</body>\n</html>\n", out);
	else if (f == REPORT_TEXT)
		fputc('\n', out);
	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}
