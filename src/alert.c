/* Alert engine: see include/alert.h for the contract and
 * policy/README.md for the [alert] rules. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "alert.h"

#define SKEW_US   1000000LL     /* further back than this: the clock moved */
#define SWEEP_US  60000000LL    /* idle users are swept at most this often */
#define RING_MIN  8u            /* first allocation of a count */
#define BUCKETS_MIN 64u

/* What one rule counts for one user. Other kinds: the times of the last
 * n events, oldest at head, in a ring of cap. clients: n distinct
 * clients (tag) with the time each was last accessed, in no order. */
struct count {
	int64_t *t;
	uint64_t *tag;
	uint32_t cap, head, n;
	int64_t quiet_until;      /* the rule does not fire before */
};

struct user {
	struct user *next;        /* in its bucket */
	uint64_t hash;
	uid_t uid;
	char *name;               /* NULL: a uid without a name */
	int64_t newest;           /* the time its latest event counted at */
	struct count *c;          /* one per rule, NULL until needed */
};

struct rule {
	struct policy_alert a;
	int64_t window_us;
	uint32_t limit;           /* threshold + 1: what a count keeps */
};

struct alert_engine {
	const struct policy *p;
	struct rule *rules;
	size_t nrules;
	int64_t keep_us;          /* the longest window */
	unsigned char key[crypto_shorthash_KEYBYTES];
	unsigned char *counted;   /* per rule: this event counts; under lock */
	pthread_mutex_t lock;     /* protects counted and everything below */
	struct user **bucket;
	size_t nbuckets;          /* a power of two */
	size_t nusers;
	int64_t swept;            /* the time of the last sweep */
};

/* ---- the engine -------------------------------------------------------- */

int alert_new(const struct policy *p, struct alert_engine **out)
{
	struct alert_engine *e;
	size_t n;

	if (p == NULL || out == NULL)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -ENOMEM;
	n = policy_nalerts(p);
	e->p = p;
	e->rules = calloc(n + 1, sizeof(*e->rules));
	e->counted = calloc(n + 1, 1);
	e->nbuckets = BUCKETS_MIN;
	e->bucket = calloc(e->nbuckets, sizeof(*e->bucket));
	if (e->rules == NULL || e->counted == NULL || e->bucket == NULL ||
	    pthread_mutex_init(&e->lock, NULL) != 0) {
		free(e->rules);
		free(e->counted);
		free(e->bucket);
		free(e);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct rule *r = &e->rules[i];
		unsigned w;

		policy_alert_at(p, i, &r->a);
		w = r->a.window_s != 0 ? r->a.window_s : ALERT_OFFHOURS_S;
		r->a.window_s = w;
		r->window_us = (int64_t)w * 1000000;
		r->limit = (uint32_t)r->a.threshold + 1;
		if (r->window_us > e->keep_us)
			e->keep_us = r->window_us;
	}
	e->nrules = n;
	randombytes_buf(e->key, sizeof(e->key));
	*out = e;
	return 0;
}

static void forget_counts(struct user *u, size_t nrules)
{
	if (u->c == NULL)
		return;
	for (size_t i = 0; i < nrules; i++) {
		free(u->c[i].t);
		free(u->c[i].tag);
	}
	free(u->c);
	u->c = NULL;
}

static void user_free(struct user *u, size_t nrules)
{
	forget_counts(u, nrules);
	free(u->name);
	free(u);
}

void alert_free(struct alert_engine *e)
{
	if (e == NULL)
		return;
	for (size_t b = 0; b < e->nbuckets; b++)
		for (struct user *u = e->bucket[b], *nx; u != NULL; u = nx) {
			nx = u->next;
			user_free(u, e->nrules);
		}
	pthread_mutex_destroy(&e->lock);
	free(e->bucket);
	free(e->counted);
	free(e->rules);
	sodium_memzero(e->key, sizeof(e->key));
	free(e);
}

size_t alert_nusers(struct alert_engine *e)
{
	size_t n;

	pthread_mutex_lock(&e->lock);
	n = e->nusers;
	pthread_mutex_unlock(&e->lock);
	return n;
}

/* ---- users ------------------------------------------------------------- */

static uint64_t tag_of(const struct alert_engine *e, const char *s)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, (const unsigned char *)s, strlen(s), e->key);
	memcpy(&v, h, sizeof(v));
	return v;
}

static uint64_t user_hash(const struct alert_engine *e, uid_t uid,
                          const char *name)
{
	return (name != NULL ? tag_of(e, name) : 0x5bd1e995u) ^
	       ((uint64_t)uid * 0x9e3779b97f4a7c15u);
}

static int same_user(const struct user *u, uid_t uid, const char *name)
{
	if (u->uid != uid)
		return 0;
	if (u->name == NULL || name == NULL)
		return u->name == name;
	return strcmp(u->name, name) == 0;
}

static struct user *find_user(const struct alert_engine *e, uint64_t h,
                              uid_t uid, const char *name)
{
	for (struct user *u = e->bucket[h & (e->nbuckets - 1)]; u != NULL;
	     u = u->next)
		if (u->hash == h && same_user(u, uid, name))
			return u;
	return NULL;
}

static void unlink_user(struct alert_engine *e, struct user *u)
{
	struct user **pp = &e->bucket[u->hash & (e->nbuckets - 1)];

	while (*pp != u)
		pp = &(*pp)->next;
	*pp = u->next;
	user_free(u, e->nrules);
	e->nusers--;
}

/* Drops every user idle at now; with all set, and nothing idle, the
 * user whose newest event is the oldest. */
static void sweep(struct alert_engine *e, int64_t now, int all)
{
	struct user *stalest = NULL;
	size_t before = e->nusers;

	for (size_t b = 0; b < e->nbuckets; b++)
		for (struct user *u = e->bucket[b], *nx; u != NULL; u = nx) {
			nx = u->next;
			if (now - u->newest >= e->keep_us)
				unlink_user(e, u);
			else if (stalest == NULL || u->newest < stalest->newest)
				stalest = u;
		}
	if (all && e->nusers == before && stalest != NULL)
		unlink_user(e, stalest);
	e->swept = now;
}

/* Doubles the buckets while there are more users than buckets. A failed
 * allocation only leaves the chains longer. */
static void grow_buckets(struct alert_engine *e)
{
	size_t n = e->nbuckets * 2;
	struct user **b;

	if (e->nusers <= e->nbuckets || e->nbuckets >= ALERT_USERS_MAX ||
	    (b = calloc(n, sizeof(*b))) == NULL)
		return;
	for (size_t i = 0; i < e->nbuckets; i++)
		for (struct user *u = e->bucket[i], *nx; u != NULL; u = nx) {
			nx = u->next;
			u->next = b[u->hash & (n - 1)];
			b[u->hash & (n - 1)] = u;
		}
	free(e->bucket);
	e->bucket = b;
	e->nbuckets = n;
}

static struct user *add_user(struct alert_engine *e, uint64_t h, uid_t uid,
                             const char *name, int64_t now)
{
	struct user *u;

	if (e->nusers >= ALERT_USERS_MAX)
		sweep(e, now, 1);
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	if (name != NULL && (u->name = strdup(name)) == NULL) {
		free(u);
		return NULL;
	}
	u->hash = h;
	u->uid = uid;
	u->newest = now;
	u->next = e->bucket[h & (e->nbuckets - 1)];
	e->bucket[h & (e->nbuckets - 1)] = u;
	e->nusers++;
	grow_buckets(e);
	return u;
}

/* ---- counting ---------------------------------------------------------- */

/* Whether rule i counts in: 1, 0, or -EINVAL. */
static int counts(const struct alert_engine *e, size_t i,
                  const struct alert_input *in)
{
	const struct rule *r = &e->rules[i];
	int ok = !in->denied;
	int r2;

	switch (r->a.kind) {
	case POL_ALERT_READS:
		ok = ok && in->is_read;
		break;
	case POL_ALERT_CLIENTS:
		ok = ok && in->client != NULL;
		break;
	case POL_ALERT_OFF_HOURS:
		if ((r2 = policy_alert_in_hours(e->p, i, in->local)) < 0)
			return r2;
		ok = r2 == 0;
		break;
	case POL_ALERT_DENIALS:
		ok = in->denied;
		break;
	case POL_ALERT_MASS_CHANGE:
		ok = ok && (in->is_delete || in->is_rename);
		break;
	case POL_ALERT_SENSITIVE:
		ok = ok && in->is_read && in->client != NULL &&
		     in->path != NULL &&
		     policy_alert_path_matches(e->p, i, in->path) == 1;
		break;
	default:
		ok = 0;
	}
	if (!ok)
		return 0;
	if (in->user == NULL)
		return r->a.any_role;
	r2 = policy_alert_watches(e->p, i, in->user, in->groups, in->ngroups,
	                          in->who);
	return r2 < 0 ? r2 : r2 == 1;
}

static void expire(struct count *c, int clients, int64_t since)
{
	uint32_t k = 0;

	if (!clients) {
		while (c->n > 0 && c->t[c->head] <= since) {
			c->head = (c->head + 1) % c->cap;
			c->n--;
		}
		return;
	}
	for (uint32_t j = 0; j < c->n; j++)
		if (c->t[j] > since) {
			c->t[k] = c->t[j];
			c->tag[k++] = c->tag[j];
		}
	c->n = k;
}

/* Room for one more time, up to limit; the ring is laid out again from
 * 0. 0 or -ENOMEM (c unchanged). */
static int make_room(struct count *c, int clients, uint32_t limit)
{
	uint32_t cap;
	int64_t *t;
	uint64_t *tag = NULL;

	if (c->n < c->cap || c->cap >= limit)
		return 0;
	cap = c->cap < RING_MIN ? RING_MIN : c->cap * 2;
	if (cap > limit || cap < c->cap)
		cap = limit;
	if ((t = malloc(cap * sizeof(*t))) == NULL)
		return -ENOMEM;
	if (clients && (tag = malloc(cap * sizeof(*tag))) == NULL) {
		free(t);
		return -ENOMEM;
	}
	for (uint32_t j = 0; j < c->n; j++) {
		t[j] = c->t[(c->head + j) % c->cap];
		if (clients)
			tag[j] = c->tag[j];
	}
	free(c->t);
	free(c->tag);
	c->t = t;
	c->tag = tag;
	c->cap = cap;
	c->head = 0;
	return 0;
}

static void push(struct count *c, int clients, uint64_t tag, int64_t now)
{
	uint32_t j, old = 0;

	if (!clients) {
		if (c->n == c->cap) {     /* full at limit: the oldest goes */
			c->head = (c->head + 1) % c->cap;
			c->n--;
		}
		c->t[(c->head + c->n) % c->cap] = now;
		c->n++;
		return;
	}
	for (j = 0; j < c->n; j++) {
		if (c->tag[j] == tag) {
			c->t[j] = now;
			return;
		}
		if (c->t[j] < c->t[old])
			old = j;
	}
	/* Full at limit: the client accessed longest ago goes; it would
	 * leave the window before any client kept. */
	j = c->n < c->cap ? c->n++ : old;
	c->t[j] = now;
	c->tag[j] = tag;
}

/* The time in->time_us counts at for u, after forgetting what no longer
 * counts (an idle user, a clock set back). */
static int64_t settle(struct alert_engine *e, struct user *u, int64_t t)
{
	if (u->newest - t > SKEW_US || t - u->newest >= e->keep_us) {
		forget_counts(u, e->nrules);
		u->newest = t;
	}
	if (t < u->newest)
		t = u->newest;
	u->newest = t;
	return t;
}

int alert_feed(struct alert_engine *e, const struct alert_input *in,
               struct alert_hit *hits, size_t max)
{
	struct user *u;
	uint64_t h, tag = 0;
	int64_t now;
	size_t any = 0, nhits = 0;
	int rc = 0, r;

	if (e == NULL || in == NULL || (hits == NULL && max > 0) ||
	    in->local == NULL || in->time_us < 0 ||
	    (in->ngroups > 0 && in->groups == NULL))
		return -EINVAL;
	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; i < e->nrules; i++) {
		if ((r = counts(e, i, in)) < 0) {
			rc = r;
			goto out;
		}
		e->counted[i] = (unsigned char)r;
		any += (size_t)r;
	}
	now = in->time_us;
	if (e->nusers > 0 && now - e->swept >= SWEEP_US)
		sweep(e, now, 0);
	if (any == 0)
		goto out;
	h = user_hash(e, in->uid, in->user);
	if ((u = find_user(e, h, in->uid, in->user)) == NULL &&
	    (u = add_user(e, h, in->uid, in->user, now)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	now = settle(e, u, now);
	if (u->c == NULL && (u->c = calloc(e->nrules, sizeof(*u->c))) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	/* Room first, so that an event is counted by all its rules or by
	 * none. */
	for (size_t i = 0; i < e->nrules; i++) {
		const struct rule *ru = &e->rules[i];
		int clients = ru->a.kind == POL_ALERT_CLIENTS;

		if (!e->counted[i])
			continue;
		expire(&u->c[i], clients, now - ru->window_us);
		if (make_room(&u->c[i], clients, ru->limit) != 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (in->client != NULL)
		tag = tag_of(e, in->client);
	for (size_t i = 0; i < e->nrules; i++) {
		const struct rule *ru = &e->rules[i];
		struct count *c = &u->c[i];

		if (!e->counted[i])
			continue;
		push(c, ru->a.kind == POL_ALERT_CLIENTS, tag, now);
		if (c->n < ru->limit || now < c->quiet_until || nhits >= max)
			continue;
		c->quiet_until = now + ru->window_us;
		hits[nhits++] = (struct alert_hit){
			.rule = ru->a.name, .kind = ru->a.kind,
			.response = ru->a.response, .count = c->n,
			.threshold = ru->a.threshold,
			.window_s = ru->a.window_s, .user = in->user,
			.uid = in->uid, .client = in->client,
			.roles = in->roles, .action = in->action,
			.time_us = in->time_us,
		};
	}
	rc = (int)nhits;
out:
	pthread_mutex_unlock(&e->lock);
	return rc;
}

/* ---- text -------------------------------------------------------------- */

const char *alert_class(enum policy_alert_kind kind)
{
	switch (kind) {
	case POL_ALERT_READS:
	case POL_ALERT_CLIENTS:
	case POL_ALERT_SENSITIVE:
		return "exfiltration";
	case POL_ALERT_OFF_HOURS:
		return "abnormal";
	case POL_ALERT_DENIALS:
		return "abuse";
	case POL_ALERT_MASS_CHANGE:
		return "ransomware";
	}
	return NULL;
}

/* Text built like snprintf: len counts everything, buf gets what fits. */
struct out {
	char *buf;
	size_t cap, len;
};

static void put_bytes(struct out *o, const char *s, size_t n)
{
	if (o->len < o->cap) {
		size_t room = o->cap - o->len - 1;

		memcpy(o->buf + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

__attribute__((format(printf, 2, 3)))
static void put_fmt(struct out *o, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put_bytes(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n
		                                           : sizeof(tmp) - 1);
}

static size_t finish(struct out *o)
{
	if (o->cap > 0)
		o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
	return o->len;
}

/* Length of the UTF-8 sequence at s (at most n bytes), 0 if it is not
 * one (overlong forms, surrogates and code points past U+10FFFF are
 * not). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp, min;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2; cp = s[0] & 0x1fu; min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3; cp = s[0] & 0x0fu; min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4; cp = s[0] & 0x07u; min = 0x10000;
	} else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void put_json_string(struct out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, len;

	if (s == NULL) {
		put_bytes(o, "null", 4);
		return;
	}
	n = strlen(s);
	put_bytes(o, "\"", 1);
	while (n > 0) {
		if (*p == '"' || *p == '\\') {
			put_bytes(o, "\\", 1);
			put_bytes(o, (const char *)p, 1);
		} else if (*p == '\n')
			put_bytes(o, "\\n", 2);
		else if (*p == '\r')
			put_bytes(o, "\\r", 2);
		else if (*p == '\t')
			put_bytes(o, "\\t", 2);
		else if (*p < 0x20 || *p == 0x7f)
			put_fmt(o, "\\u%04x", *p);
		else if ((len = utf8_len(p, n)) == 0) {
			put_bytes(o, "\\ufffd", 6);
			len = 1;
		} else {
			put_bytes(o, (const char *)p, len);
			p += len;
			n -= len;
			continue;
		}
		p++;
		n--;
	}
	put_bytes(o, "\"", 1);
}

/* "notify,lockout", "notify", "lockout" or "record". */
static void put_response(struct out *o, unsigned response)
{
	const char *sep = "";

	for (unsigned bit = POL_RESPONSE_NOTIFY; bit <= POL_RESPONSE_LOCKOUT;
	     bit <<= 1)
		if (response & bit) {
			put_fmt(o, "%s%s", sep,
			        policy_alert_response_name(bit));
			sep = ",";
		}
	if (*sep == '\0')
		put_bytes(o, "record", 6);
}

static void put_time(struct out *o, int64_t us)
{
	time_t s = (time_t)(us / 1000000);
	long frac = (long)(us % 1000000);
	struct tm tm;

	if (frac < 0) {
		frac += 1000000;
		s--;
	}
	if (gmtime_r(&s, &tm) == NULL) {
		put_bytes(o, "null", 4);
		return;
	}
	put_fmt(o, "\"%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ\"",
	        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	        tm.tm_min, tm.tm_sec, frac);
}

static const char *name_or(const char *s, const char *dflt)
{
	return s != NULL ? s : dflt;
}

size_t alert_json(const struct alert_hit *h, const char *node, char *buf,
                  size_t cap)
{
	struct out o = { buf, cap, 0 };

	put_bytes(&o, "{\"rule\":", 8);
	put_json_string(&o, h->rule);
	put_bytes(&o, ",\"kind\":", 8);
	put_json_string(&o, policy_alert_kind_name(h->kind));
	put_bytes(&o, ",\"class\":", 9);
	put_json_string(&o, alert_class(h->kind));
	put_bytes(&o, ",\"user\":", 8);
	put_json_string(&o, h->user);
	put_fmt(&o, ",\"uid\":%lu,\"client\":", (unsigned long)h->uid);
	put_json_string(&o, h->client);
	put_fmt(&o, ",\"count\":%" PRIu64 ",\"threshold\":%" PRIu64
	        ",\"window_s\":%u,\"response\":\"", h->count, h->threshold,
	        h->window_s);
	put_response(&o, h->response);
	put_bytes(&o, "\",\"time\":", 9);
	put_time(&o, h->time_us);
	put_bytes(&o, ",\"node\":", 8);
	put_json_string(&o, node);
	put_bytes(&o, "}", 1);
	return finish(&o);
}

size_t alert_detail(const struct alert_hit *h, char *buf, size_t cap)
{
	struct out o = { buf, cap, 0 };

	put_fmt(&o, "kind=%s; class=%s; count=%" PRIu64 "; threshold=%"
	        PRIu64 "; window=%us; response=",
	        name_or(policy_alert_kind_name(h->kind), "?"),
	        name_or(alert_class(h->kind), "?"), h->count, h->threshold,
	        h->window_s);
	put_response(&o, h->response);
	return finish(&o);
}

/* ---- the notify command ------------------------------------------------ */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* write() that cannot raise SIGPIPE in this process: the signal is
 * blocked in this thread and, if the write raised it, taken back. */
static ssize_t write_nosig(int fd, const char *p, size_t n)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t pipe_set, old, pending;
	int was_pending, saved;
	ssize_t r;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	r = write(fd, p, n);
	saved = errno;
	if (r < 0 && saved == EPIPE && !was_pending)
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 &&
		       errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return r;
}

/* A descriptor of fd at 3 or above, so that it cannot be one of the
 * child's 0, 1 or 2 (the daemon may have closed those). */
static int above_stdio(int fd)
{
	int nfd;

	if (fd < 0 || fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

static int spawn(const char *cmd, int in, pid_t *pid)
{
	static const char path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	char *const argv[] = { (char *)cmd, NULL };
	char *const envp[] = { (char *)path, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	int rc;

	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return rc;
	if ((rc = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return rc;
	}
	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	if ((rc = posix_spawn_file_actions_adddup2(&fa, in, 0)) == 0 &&
	    (rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null",
	                                           O_WRONLY, 0)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, 1, 2)) == 0 &&
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0 &&
	    (rc = posix_spawn_file_actions_addchdir_np(&fa, "/")) == 0 &&
	    (rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
	                                   POSIX_SPAWN_SETSIGMASK |
	                                   POSIX_SPAWN_SETSIGDEF)) == 0 &&
	    (rc = posix_spawnattr_setpgroup(&at, 0)) == 0 &&
	    (rc = posix_spawnattr_setsigmask(&at, &none)) == 0 &&
	    (rc = posix_spawnattr_setsigdefault(&at, &all)) == 0)
		rc = posix_spawn(pid, cmd, &fa, &at, argv, envp);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* Reaps pid, waiting if block; 1 once reaped (*st set), 0 if it still
 * runs, -errno. */
static int reap(pid_t pid, int block, int *st)
{
	pid_t r;

	while ((r = waitpid(pid, st, block ? 0 : WNOHANG)) < 0 &&
	       errno == EINTR)
		;
	if (r < 0)
		return -errno;
	return r == pid;
}

__attribute__((format(printf, 3, 4)))
static void say(char *status, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (status == NULL || cap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(status, cap, fmt, ap);
	va_end(ap);
}

int alert_notify_run(const char *cmd, const char *json, unsigned timeout_s,
                     char *status, size_t cap)
{
	int fds[2] = { -1, -1 }, pidfd = -1, st = 0, rc, done = 0;
	size_t len, off = 0;
	int64_t deadline;
	char *msg = NULL;
	pid_t pid;

	say(status, cap, "not run");
	if (cmd == NULL || cmd[0] != '/' || json == NULL || timeout_s == 0) {
		say(status, cap, "cannot run: invalid arguments");
		return -EINVAL;
	}
	len = strlen(json);
	if ((msg = malloc(len + 2)) == NULL) {
		say(status, cap, "cannot run: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	memcpy(msg, json, len);
	msg[len++] = '\n';
	if (pipe2(fds, O_CLOEXEC) != 0 || (fds[0] = above_stdio(fds[0])) < 0 ||
	    (fds[1] = above_stdio(fds[1])) < 0 ||
	    fcntl(fds[1], F_SETFL, O_NONBLOCK) != 0) {
		rc = -errno;
		say(status, cap, "cannot run: %s", strerror(-rc));
		goto out;
	}
	if ((rc = spawn(cmd, fds[0], &pid)) != 0) {
		say(status, cap, "cannot run: %s", strerror(rc));
		rc = -rc;
		goto out;
	}
	close(fds[0]);
	fds[0] = -1;
	/* Without pidfds (before Linux 5.3) the loop polls every 10 ms. */
	pidfd = pidfd_open(pid, 0);
	deadline = mono_ms() + (int64_t)timeout_s * 1000;
	for (;;) {
		struct pollfd pf[2];
		nfds_t n = 0;
		int64_t left;
		ssize_t w;

		while (fds[1] >= 0 && off < len &&
		       (w = write_nosig(fds[1], msg + off, len - off)) > 0)
			off += (size_t)w;
		/* All written, or the reader is gone. */
		if (fds[1] >= 0 && (off == len || (errno != EAGAIN &&
		                                   errno != EINTR))) {
			close(fds[1]);
			fds[1] = -1;
		}
		if ((done = reap(pid, 0, &st)) != 0)
			break;
		if ((left = deadline - mono_ms()) <= 0)
			break;
		if (pidfd >= 0)
			pf[n++] = (struct pollfd){ .fd = pidfd,
			                           .events = POLLIN };
		if (fds[1] >= 0)
			pf[n++] = (struct pollfd){ .fd = fds[1],
			                           .events = POLLOUT };
		if (pidfd < 0 && left > 10)
			left = 10;
		poll(pf, n, (int)left);
	}
	if (done < 0) {
		rc = done;
		say(status, cap, "cannot wait: %s", strerror(-rc));
		kill(-pid, SIGKILL);
		goto out;
	}
	if (done == 0) {
		/* The group, and the command itself should it have left it. */
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		reap(pid, 1, &st);
		say(status, cap, "timed out after %u s, killed", timeout_s);
		rc = -ETIMEDOUT;
	} else if (WIFEXITED(st)) {
		say(status, cap, "exit %d", WEXITSTATUS(st));
		rc = WEXITSTATUS(st) == 0 ? 0 : -EIO;
	} else {
		say(status, cap, "killed by signal %d",
		    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		rc = -EIO;
	}
out:
	if (pidfd >= 0)
		close(pidfd);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	free(msg);
	return rc;
}
