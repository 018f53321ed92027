/*
 * monitor: the daemon's side of the alert rules (see include/monitor.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "lockout.h"
#include "monitor.h"
#include "util.h"

#define HITS_MAX  16u           /* alerts answered for one event */
#define JSON_MAX  4096u

struct monitor {
	struct audit *a;
	struct lockout *locks;
	pthread_mutex_t mu;
	pthread_cond_t idle;
	unsigned running;           /* notify threads, under mu */
};

/* One notify command to run, with what its record needs. */
struct notify {
	struct monitor *m;
	char *cmd, *json, *user, *roles, *client, *rule, *policy;
	uid_t uid;
	unsigned timeout_s;
};

int monitor_open(int dirfd, struct audit *a, struct monitor **out)
{
	struct monitor *m = calloc(1, sizeof(*m));
	int rc;

	if (m == NULL)
		return -ENOMEM;
	if ((rc = lockout_open(dirfd, &m->locks)) != 0) {
		free(m);
		return rc;
	}
	m->a = a;
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->idle, NULL);
	*out = m;
	return 0;
}

void monitor_close(struct monitor *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	while (m->running > 0)
		pthread_cond_wait(&m->idle, &m->mu);
	pthread_mutex_unlock(&m->mu);
	lockout_free(m->locks);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->idle);
	free(m);
}

int monitor_locked(struct monitor *m, const char *user)
{
	return user != NULL && lockout_is_locked(m->locks, user) != 0;
}

int monitor_unlock(struct monitor *m, const char *user)
{
	return lockout_unlock(m->locks, user);
}

void monitor_list(struct monitor *m, struct kvbuf *reply)
{
	struct lockout_entry *e;
	size_t n = lockout_list(m->locks, NULL, 0), k;

	if (n == 0 || (e = calloc(n, sizeof(*e))) == NULL)
		return;
	k = lockout_list(m->locks, e, n);
	for (size_t i = 0; i < k && i < n; i++)
		kv_addf(reply, "locked", "%s\t%s\t%" PRId64, e[i].user,
		        e[i].rule, e[i].time_us);
	free(e);
}

static void notify_free(struct notify *n)
{
	free(n->cmd);
	free(n->json);
	free(n->user);
	free(n->roles);
	free(n->client);
	free(n->rule);
	free(n->policy);
	free(n);
}

/* Records how a notification ended. */
static void notified(struct monitor *m, const struct notify *n, int ok,
                     const char *status)
{
	char detail[320];
	struct audit_event ev = {
		.uid = n->uid, .user = n->user, .roles = n->roles,
		.action = "alert-notify", .client = n->client,
		.outcome = ok ? AUDIT_ALLOWED : AUDIT_ERROR, .rule = n->rule,
		.policy = n->policy, .detail = detail,
	};

	snprintf(detail, sizeof(detail), "status=%s", status);
	audit_record_nowait(m->a, &ev);
}

static void *notify_main(void *arg)
{
	struct notify *n = arg;
	struct monitor *m = n->m;
	char status[256] = "";
	int rc;

	rc = alert_notify_run(n->cmd, n->json, n->timeout_s, status,
	                      sizeof(status));
	notified(m, n, rc == 0, rc == 0 ? "exit 0" : status);
	notify_free(n);
	pthread_mutex_lock(&m->mu);
	if (--m->running == 0)
		pthread_cond_broadcast(&m->idle);
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

/* Starts the notify command for hit h in a thread of its own. */
static void notify_start(struct monitor *m, const struct caller *c,
                         const struct alert_hit *h, const char *rule,
                         const char *node)
{
	struct notify *n = calloc(1, sizeof(*n));
	const char *cmd = policy_notify(c->policy);
	pthread_attr_t at;
	pthread_t t;
	bool started = false;

	if (n == NULL)
		return;
	n->m = m;
	n->uid = h->uid;
	n->timeout_s = policy_notify_timeout_s(c->policy);
	n->cmd = strdup_or_null(cmd);
	n->json = malloc(JSON_MAX);
	n->user = strdup_or_null(h->user);
	n->roles = strdup_or_null(h->roles);
	n->client = strdup_or_null(h->client);
	n->rule = malloc(strlen(rule) + 7);
	if (n->rule != NULL)
		sprintf(n->rule, "alert %s", rule);
	n->policy = strdup_or_null(policy_version(c->policy));
	if (n->json == NULL || n->rule == NULL || n->policy == NULL) {
		notify_free(n);
		return;
	}
	alert_json(h, node, n->json, JSON_MAX);
	if (cmd == NULL) {
		notified(m, n, 0, "no notify command in [settings]");
		notify_free(n);
		return;
	}
	pthread_mutex_lock(&m->mu);
	if (m->running < MONITOR_NOTIFY) {
		m->running++;
		started = true;
	}
	pthread_mutex_unlock(&m->mu);
	if (!started) {
		notified(m, n, 0, "not run: too many notifications running");
		notify_free(n);
		return;
	}
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &at, notify_main, n) != 0) {
		notified(m, n, 0, "not run: no thread");
		notify_free(n);
		pthread_mutex_lock(&m->mu);
		if (--m->running == 0)
			pthread_cond_broadcast(&m->idle);
		pthread_mutex_unlock(&m->mu);
	}
	pthread_attr_destroy(&at);
}

/* The node the alert is from: the event's, the policy's, the host's. */
static const char *node_of(const struct caller *c,
                           const struct audit_event *ev)
{
	static __thread char host[256];

	if (ev->node != NULL)
		return ev->node;
	if (policy_node(c->policy) != NULL)
		return policy_node(c->policy);
	if (host[0] == '\0' && gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "unknown");
	return host;
}

/* Answers one alert. */
static void answer(struct monitor *m, const struct caller *c,
                   const struct audit_event *ev, const struct alert_hit *h)
{
	char detail[256], rule[128], lock[320];
	struct audit_event a = {
		.uid = h->uid, .user = h->user, .roles = h->roles,
		.pid = ev->pid, .exe = ev->exe, .node = ev->node,
		.action = "alert", .client = h->client,
		.outcome = AUDIT_ALLOWED, .rule = rule,
		.policy = policy_version(c->policy), .detail = detail,
	};
	int rc;

	snprintf(rule, sizeof(rule), "alert %s", h->rule);
	alert_detail(h, detail, sizeof(detail));
	audit_record_nowait(m->a, &a);
	if ((h->response & POL_RESPONSE_LOCKOUT) && h->user != NULL) {
		rc = lockout_lock(m->locks, h->user, h->rule, h->time_us);
		if (rc != 1) {
			snprintf(lock, sizeof(lock), "user=%s%s%s", h->user,
			         rc == 0 ? "" : "; error=",
			         rc == 0 ? "" : strerror(-rc));
			a.action = "lockout";
			a.outcome = rc == 0 ? AUDIT_ALLOWED : AUDIT_ERROR;
			a.detail = lock;
			audit_record_nowait(m->a, &a);
		}
	}
	if (h->response & POL_RESPONSE_NOTIFY)
		notify_start(m, c, h, h->rule, node_of(c, ev));
}

void monitor_event(struct monitor *m, const struct caller *c,
                   const struct audit_event *ev, unsigned kind)
{
	struct alert_hit hits[HITS_MAX];
	struct alert_input in;
	time_t t;
	struct tm local;
	int n;

	if (m == NULL || c == NULL || c->alerts == NULL)
		return;
	memset(&in, 0, sizeof(in));
	in.time_us = now_us();
	t = (time_t)(in.time_us / 1000000);
	localtime_r(&t, &local);
	in.uid = ev->uid;
	in.user = c->user;
	in.groups = c->groups;
	in.ngroups = c->ngroups;
	in.who = c->who;
	in.roles = c->roles;
	in.action = ev->action;
	in.is_read = (kind & MON_READ) != 0;
	in.is_delete = (kind & MON_DELETE) != 0;
	in.is_rename = (kind & MON_RENAME) != 0;
	in.denied = ev->outcome == AUDIT_DENIED;
	in.client = ev->client;
	in.path = ev->path;
	in.local = &local;
	n = alert_feed(c->alerts, &in, hits, HITS_MAX);
	for (int i = 0; i < n; i++)
		answer(m, c, ev, &hits[i]);
}
