/*
 * guard: the policy in force and the callers' identities; see
 * include/guard.h.
 *
 * A snapshot is one loaded policy with a reference count: one reference
 * for being in force, one per cached caller built under it. Callers are
 * cached by uid; an entry is rebuilt when it is older than the TTL or was
 * built under an older snapshot, so a reload reaches every caller at once.
 * g->mu guards the snapshot pointer, every reference count and the cache.
 * A snapshot also keeps the subjects of the ACL view, rebuilt now and
 * then; whoever uses one holds a caller, and so the snapshot, meanwhile.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "guard.h"

#define CACHE_SIZE   256u
#define MAX_GROUPS   256
#define QUIET_MS     50          /* an edit is a burst of events */
#define MAX_MESSAGES 16          /* kept for the status file */

/* Subjects of the ACL view: one reference for being the snapshot's
 * current set, one per user. */
struct subjects {
	struct aclview_subjects *s;
	unsigned long refs;
	time_t expires;            /* monotonic seconds */
	struct subjects *next;     /* all sets of the guard, for the put */
};

struct snap {
	struct policy *p;
	struct alert_engine *alerts;  /* for p's [alert]s, or NULL: none */
	unsigned long refs;
	time_t loaded;
	struct subjects *subj;     /* current set, or NULL */
};

struct entry {
	struct caller pub;
	struct entry *next;         /* hash chain */
	unsigned long refs;         /* the cache's and the holders' */
	struct snap *snap;
	time_t expires;             /* monotonic seconds */
	struct policy_who *who;
	char *user;
	char **groups;
	char *roles;
};

struct guard {
	char *dir;
	char *status;
	pthread_mutex_t mu;
	struct snap *cur;                /* under mu */
	struct entry *cache[CACHE_SIZE]; /* under mu */
	struct subjects *subjs;          /* under mu: every set in use */
	int efd;                         /* eventfd: kick and stop */
	int stop;                        /* under mu */
	guard_listener listener;
	void *listener_ctx;
	pthread_t thread;
	int started;
	/* the last rejected load, for the status file (reload thread only) */
	time_t rejected;
	char messages[MAX_MESSAGES][256];
	size_t nmessages;
};

static time_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

/* ---- snapshots -------------------------------------------------------- */

static void subjects_put_locked(struct guard *g, struct subjects *sj)
{
	struct subjects **pp;

	if (--sj->refs > 0)
		return;
	for (pp = &g->subjs; *pp; pp = &(*pp)->next)
		if (*pp == sj) {
			*pp = sj->next;
			break;
		}
	aclview_subjects_free(sj->s);
	free(sj);
}

static void snap_put_locked(struct guard *g, struct snap *s)
{
	if (--s->refs > 0)
		return;
	if (s->subj != NULL)
		subjects_put_locked(g, s->subj);
	alert_free(s->alerts);
	policy_free(s->p);
	free(s);
}

/* ---- loading and the status file ------------------------------------- */

struct load_ctx {
	struct guard *g;
	size_t errors;
};

static void on_problem(void *ctx, const char *file, int line, int warning,
                       const char *msg)
{
	struct load_ctx *c = ctx;
	struct guard *g = c->g;
	char text[256];

	if (line > 0)
		snprintf(text, sizeof(text), "%s:%d: %s%s", file, line,
		         warning ? "warning: " : "", msg);
	else
		snprintf(text, sizeof(text), "%s: %s%s", file,
		         warning ? "warning: " : "", msg);
	if (!warning) {
		if (c->errors < MAX_MESSAGES)
			memcpy(g->messages[c->errors], text, sizeof(text));
		c->errors++;
	}
	/* Warnings (a member that does not exist on this system, say) are
	 * for the log; `dossierctl policy check` shows them to the admin. */
	syslog(warning ? LOG_WARNING : LOG_ERR, "policy: %s", text);
	if (!warning)
		fprintf(stderr, "dossierfs: policy: %s\n", text);
}

static void utc(time_t t, char buf[32])
{
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, 32, "never");
	else
		strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Rewrites the status file whole (temporary file, then rename), so that
 * a reader never sees half of it. */
static void write_status(struct guard *g, const char *state)
{
	char tmp[4096 + 8], when[32];
	struct snap *s;
	FILE *f;

	if (g->status == NULL || g->cur == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", g->status);
	f = fopen(tmp, "we");
	if (f == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	s = g->cur;
	fprintf(f, "state %s\npid %ld\ndir %s\nversion %s\n", state,
	        (long)getpid(), g->dir, policy_version(s->p));
	utc(s->loaded, when);
	fprintf(f, "loaded %s\n", when);
	pthread_mutex_unlock(&g->mu);
	utc(g->rejected, when);
	fprintf(f, "rejected %s\n", when);
	for (size_t i = 0; g->rejected && i < g->nmessages; i++)
		fprintf(f, "reason %s\n", g->messages[i]);
	if (fclose(f) != 0 || rename(tmp, g->status) != 0) {
		syslog(LOG_WARNING, "policy: cannot write %s", g->status);
		unlink(tmp);
	}
}

/* Loads the directory and puts it in force; 0, or -EINVAL and the last
 * good policy stays. */
static int reload(struct guard *g)
{
	struct load_ctx c = { .g = g };
	struct policy *p = NULL;
	struct snap *s, *old;
	int rc;

	rc = policy_load(g->dir, on_problem, &c, &p);
	if (rc != 0) {
		if (c.errors == 0) {
			snprintf(g->messages[0], sizeof(g->messages[0]),
			         "%s: %s", g->dir, strerror(-rc));
			c.errors = 1;
		}
		g->rejected = time(NULL);
		g->nmessages = c.errors < MAX_MESSAGES ? c.errors
		                                      : MAX_MESSAGES;
		syslog(LOG_ERR, "policy: %s rejected (%zu problems); the "
		       "policy in force stays", g->dir, c.errors);
		if (g->listener != NULL)
			g->listener(g->listener_ctx, 0, NULL, g->messages[0]);
		fprintf(stderr, "dossierfs: policy: %s rejected; the policy "
		        "in force stays\n", g->dir);
		write_status(g, "mounted");
		return -EINVAL;
	}
	pthread_mutex_lock(&g->mu);
	old = g->cur;
	if (old != NULL &&
	    strcmp(policy_version(old->p), policy_version(p)) == 0) {
		/* Touched, not changed: keep the caches. */
		pthread_mutex_unlock(&g->mu);
		policy_free(p);
		return 0;
	}
	pthread_mutex_unlock(&g->mu);
	s = calloc(1, sizeof(*s));
	if (s == NULL ||
	    (policy_nalerts(p) > 0 && alert_new(p, &s->alerts) != 0)) {
		free(s);
		policy_free(p);
		return -ENOMEM;
	}
	s->p = p;
	s->refs = 1;
	s->loaded = time(NULL);
	pthread_mutex_lock(&g->mu);
	g->cur = s;
	if (old != NULL)
		snap_put_locked(g, old);
	pthread_mutex_unlock(&g->mu);
	syslog(LOG_NOTICE, "policy: %s version %s in force", g->dir,
	       policy_version(p));
	if (g->listener != NULL)
		g->listener(g->listener_ctx, 1, policy_version(p), NULL);
	write_status(g, "mounted");
	return 0;
}

int guard_open(const char *dir, struct guard **out)
{
	struct guard *g;
	int rc;

	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return -ENOMEM;
	pthread_mutex_init(&g->mu, NULL);
	g->efd = -1;
	g->dir = strdup(dir);
	if (g->dir == NULL) {
		guard_close(g);
		return -ENOMEM;
	}
	g->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g->efd < 0) {
		rc = -errno;
		guard_close(g);
		return rc;
	}
	if ((rc = reload(g)) != 0) {
		guard_close(g);
		return rc;
	}
	*out = g;
	return 0;
}

/* ---- the reload thread ------------------------------------------------ */

static int watch(int ifd, const char *dir)
{
	return inotify_add_watch(ifd, dir, IN_CLOSE_WRITE | IN_MODIFY |
	                         IN_CREATE | IN_DELETE | IN_MOVED_FROM |
	                         IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF |
	                         IN_MOVE_SELF | IN_ONLYDIR);
}

/* Reads what is pending on fd; returns whether anything was. */
static int drain(int fd)
{
	char buf[4096] __attribute__((aligned(8)));
	int any = 0;

	while (read(fd, buf, sizeof(buf)) > 0)
		any = 1;
	return any;
}

static int stopping(struct guard *g)
{
	int s;

	pthread_mutex_lock(&g->mu);
	s = g->stop;
	pthread_mutex_unlock(&g->mu);
	return s;
}

/*
 * Waits for events on the directory (or a kick), lets a burst of them
 * settle for QUIET_MS, and reloads. If the directory itself goes away
 * (replaced by a rename, say), the watch is set up again once a second
 * and the directory reloaded when it is back.
 */
static void *reloader(void *arg)
{
	struct guard *g = arg;
	struct pollfd pf[2];
	int ifd, wd, n;

	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0) {
		syslog(LOG_ERR, "policy: inotify: %s; reload with SIGHUP",
		       strerror(errno));
		fprintf(stderr, "dossierfs: policy: inotify: %s; reload "
		        "with SIGHUP\n", strerror(errno));
	}
	wd = ifd >= 0 ? watch(ifd, g->dir) : -1;
	pf[0].fd = g->efd;
	pf[0].events = POLLIN;
	pf[1].fd = ifd;
	pf[1].events = POLLIN;
	while (!stopping(g)) {
		n = poll(pf, ifd >= 0 ? 2 : 1, wd >= 0 || ifd < 0 ? -1 : 1000);
		if (n < 0 && errno != EINTR)
			break;
		if (stopping(g))
			break;
		if (n == 0) {
			/* Waiting for the directory to come back. */
			if ((wd = watch(ifd, g->dir)) >= 0)
				reload(g);
			continue;
		}
		int kicked = drain(g->efd), changed = ifd >= 0 && drain(ifd);

		if (!kicked && !changed)
			continue;
		/* Let the burst settle. */
		while (ifd >= 0 && poll(&pf[1], 1, QUIET_MS) > 0)
			drain(ifd);
		if (ifd >= 0) {
			/* The watch is gone if the directory was removed or
			 * renamed; re-adding it also covers a new one. */
			inotify_rm_watch(ifd, wd);
			drain(ifd);
			wd = watch(ifd, g->dir);
		}
		reload(g);
	}
	if (ifd >= 0)
		close(ifd);
	return NULL;
}

int guard_start(struct guard *g, const char *status)
{
	int rc;

	if (status != NULL && (g->status = strdup(status)) == NULL)
		return -ENOMEM;
	write_status(g, "mounted");
	if ((rc = pthread_create(&g->thread, NULL, reloader, g)) != 0)
		return -rc;
	g->started = 1;
	return 0;
}

void guard_listen(struct guard *g, guard_listener fn, void *ctx)
{
	g->listener = fn;
	g->listener_ctx = ctx;
}

void guard_kick(struct guard *g)
{
	uint64_t one = 1;
	ssize_t n;

	if (g != NULL && g->efd >= 0)
		n = write(g->efd, &one, sizeof(one));
	(void)n;
}

/* ---- callers ---------------------------------------------------------- */

static void entry_free(struct entry *e)
{
	policy_who_free(e->who);
	if (e->groups != NULL)
		for (size_t i = 0; i < e->pub.ngroups; i++)
			free(e->groups[i]);
	free(e->groups);
	free(e->user);
	free(e->roles);
	free(e);
}

static struct entry *entry_of(const struct caller *c)
{
	return (struct entry *)((char *)c - offsetof(struct entry, pub));
}

/* Drops one reference; call with g->mu held. */
static void entry_put_locked(struct guard *g, struct entry *e)
{
	if (--e->refs > 0)
		return;
	snap_put_locked(g, e->snap);
	entry_free(e);
}

/* The user name and group names of uid, from the system. A uid without
 * a name gets a caller without one (denied everything). */
static int identify(struct entry *e, uid_t uid)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp;
	gid_t gids[MAX_GROUPS];
	int n = MAX_GROUPS;
	char buf[16384];

	e->pub.uid = uid;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) != 0 || pwp == NULL)
		return 0;
	if ((e->user = strdup(pw.pw_name)) == NULL)
		return -ENOMEM;
	if (getgrouplist(pw.pw_name, pw.pw_gid, gids, &n) < 0)
		n = MAX_GROUPS;    /* more than MAX_GROUPS: the first ones */
	e->groups = calloc((size_t)n + 1, sizeof(*e->groups));
	if (e->groups == NULL)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		grp = NULL;
		if (getgrgid_r(gids[i], &gr, buf, sizeof(buf), &grp) != 0 ||
		    grp == NULL)
			continue;
		if ((e->groups[e->pub.ngroups] = strdup(gr.gr_name)) == NULL)
			return -ENOMEM;
		e->pub.ngroups++;
	}
	return 0;
}

/* The names of the roles of e under p, joined by ',' (NULL if none). */
static int role_list(const struct policy *p, struct entry *e)
{
	const char *names[64];
	size_t n, len = 0;

	n = policy_user_roles(p, e->user, (const char *const *)e->groups,
	                      e->pub.ngroups, names, 64);
	if (n > 64)
		n = 64;
	for (size_t i = 0; i < n; i++)
		len += strlen(names[i]) + 1;
	if (n == 0)
		return 0;
	if ((e->roles = malloc(len)) == NULL)
		return -ENOMEM;
	len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t m = strlen(names[i]);

		memcpy(e->roles + len, names[i], m);
		len += m;
		e->roles[len++] = i + 1 < n ? ',' : '\0';
	}
	return 0;
}

/* A new entry for uid under snapshot s (whose reference it takes). */
static struct entry *entry_build(struct snap *s, uid_t uid)
{
	struct entry *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	if (identify(e, uid) != 0 ||
	    (e->user != NULL &&
	     (policy_who_new(s->p, e->user, (const char *const *)e->groups,
	                     e->pub.ngroups, &e->who) != 0 ||
	      role_list(s->p, e) != 0))) {
		entry_free(e);
		return NULL;
	}
	e->pub.user = e->user;
	e->pub.roles = e->roles;
	e->pub.groups = (const char *const *)e->groups;
	e->pub.policy = s->p;
	e->pub.who = e->who;
	e->pub.alerts = s->alerts;
	e->snap = s;
	e->refs = 1;
	e->expires = mono_now() + GUARD_CALLER_TTL;
	return e;
}

const struct caller *guard_caller(struct guard *g, uid_t uid)
{
	struct entry **pp, *e, *n;
	struct snap *s;
	size_t h = (size_t)uid % CACHE_SIZE;

	pthread_mutex_lock(&g->mu);
	for (e = g->cache[h]; e; e = e->next)
		if (e->pub.uid == uid)
			break;
	if (e != NULL && e->snap == g->cur && mono_now() < e->expires) {
		e->refs++;
		pthread_mutex_unlock(&g->mu);
		return &e->pub;
	}
	s = g->cur;
	s->refs++;
	pthread_mutex_unlock(&g->mu);

	/* The system's databases are read without the lock held. */
	n = entry_build(s, uid);

	pthread_mutex_lock(&g->mu);
	if (n == NULL) {
		snap_put_locked(g, s);
		pthread_mutex_unlock(&g->mu);
		return NULL;
	}
	for (pp = &g->cache[h]; *pp; pp = &(*pp)->next)
		if ((*pp)->pub.uid == uid) {
			e = *pp;
			*pp = e->next;
			entry_put_locked(g, e);
			break;
		}
	n->next = g->cache[h];
	g->cache[h] = n;
	n->refs++;                  /* the cache's and ours */
	pthread_mutex_unlock(&g->mu);
	return &n->pub;
}

void guard_caller_put(struct guard *g, const struct caller *c)
{
	struct entry *e;

	if (c == NULL)
		return;
	e = entry_of(c);
	pthread_mutex_lock(&g->mu);
	entry_put_locked(g, e);
	pthread_mutex_unlock(&g->mu);
}

const struct aclview_subjects *guard_subjects(struct guard *g,
                                              const struct caller *c)
{
	struct snap *s = entry_of(c)->snap;
	struct subjects *sj;

	pthread_mutex_lock(&g->mu);
	sj = s->subj;
	if (sj != NULL && mono_now() < sj->expires) {
		sj->refs++;
		pthread_mutex_unlock(&g->mu);
		return sj->s;
	}
	pthread_mutex_unlock(&g->mu);

	/* The caller holds the snapshot; build without the lock. */
	sj = calloc(1, sizeof(*sj));
	if (sj == NULL)
		return NULL;
	if (aclview_subjects_new(s->p, &sj->s) != 0) {
		free(sj);
		return NULL;
	}
	sj->expires = mono_now() + GUARD_ACL_TTL;
	sj->refs = 2;               /* the snapshot's and ours */
	pthread_mutex_lock(&g->mu);
	sj->next = g->subjs;
	g->subjs = sj;
	if (s->subj != NULL)
		subjects_put_locked(g, s->subj);
	s->subj = sj;
	pthread_mutex_unlock(&g->mu);
	return sj->s;
}

void guard_subjects_put(struct guard *g, const struct aclview_subjects *s)
{
	struct subjects *sj;

	if (s == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	for (sj = g->subjs; sj; sj = sj->next)
		if (sj->s == s)
			break;
	if (sj != NULL)
		subjects_put_locked(g, sj);
	pthread_mutex_unlock(&g->mu);
}

void guard_node(struct guard *g, char *buf, size_t size)
{
	const char *node;

	pthread_mutex_lock(&g->mu);
	node = policy_node(g->cur->p);
	snprintf(buf, size, "%s", node != NULL ? node : "");
	pthread_mutex_unlock(&g->mu);
}

void guard_close(struct guard *g)
{
	struct entry *e, *next;

	if (g == NULL)
		return;
	if (g->started) {
		pthread_mutex_lock(&g->mu);
		g->stop = 1;
		pthread_mutex_unlock(&g->mu);
		guard_kick(g);
		pthread_join(g->thread, NULL);
	}
	if (g->cur != NULL)
		write_status(g, "stopped");
	pthread_mutex_lock(&g->mu);
	for (size_t h = 0; h < CACHE_SIZE; h++)
		for (e = g->cache[h]; e; e = next) {
			next = e->next;
			entry_put_locked(g, e);
		}
	if (g->cur != NULL) {
		struct snap *s = g->cur;

		g->cur = NULL;
		snap_put_locked(g, s);
	}
	pthread_mutex_unlock(&g->mu);
	if (g->efd >= 0)
		close(g->efd);
	pthread_mutex_destroy(&g->mu);
	free(g->dir);
	free(g->status);
	free(g);
}
