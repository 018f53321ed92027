/*
 * guard: the role policy in force on a mount, and who is asking.
 *
 * guard_open() loads the policy directory; a daemon must not serve
 * without a valid one. guard_start() starts a thread that reloads it
 * within a second of any change in the directory (inotify) and whenever
 * guard_kick() is called (from the SIGHUP handler). A policy that does not
 * load is rejected as a whole, each problem logged as "file:line: reason"
 * to syslog and stderr, and the last good policy stays in force. Every
 * load and rejection is also written to the status file, which
 * `dossierctl policy status` reads.
 *
 * guard_caller() gives the identity of a uid as the system knows it (user
 * name, primary and supplementary groups; looked up again after
 * GUARD_CALLER_TTL seconds) together with the policy snapshot in force
 * and the caller's memberships under it. The caller holds a reference on
 * that snapshot, so one request is decided by one policy even if a reload
 * happens meanwhile. All functions are thread-safe.
 */
#ifndef DOSSIER_GUARD_H
#define DOSSIER_GUARD_H

#include <sys/types.h>

#include "aclview.h"
#include "policy.h"

#define GUARD_CALLER_TTL  2                       /* seconds */
#define GUARD_ACL_TTL     10                      /* seconds */
#define GUARD_POLICY_DIR  "/etc/dossierfs/policy"   /* the default */
#define GUARD_STATUS_FILE "policy.status"           /* in the vault */

struct guard;

struct caller {
	uid_t uid;
	const char *user;             /* NULL: the uid has no name */
	const char *const *groups;    /* group names */
	size_t ngroups;
	const char *roles;            /* its roles, comma-separated, or NULL */
	const struct policy *policy;  /* the snapshot in force */
	const struct policy_who *who; /* memberships under it, or NULL */
	struct alert_engine *alerts;  /* its [alert]s (alert.h), or NULL
	                               * when it has none; counts start
	                               * again with each new policy */
};

/* Loads dir; on failure reports every problem to stderr and syslog and
 * returns a negative errno. */
int guard_open(const char *dir, struct guard **out);

/* Writes the status file (its path, or NULL for none) and starts the
 * reload thread; call after the process has daemonized. */
int guard_start(struct guard *g, const char *status);

/* Asks for a reload. Async-signal-safe. */
void guard_kick(struct guard *g);

/* Called after every reload in the reload thread: ok 1 with the version
 * now in force, or ok 0 with the first reason of the rejection. Set it
 * before guard_start(). */
typedef void (*guard_listener)(void *ctx, int ok, const char *version,
                               const char *reason);
void guard_listen(struct guard *g, guard_listener fn, void *ctx);

/* Stops the thread, marks the status file stopped and frees g. Callers
 * still held are freed too: call it when no request runs any more. */
void guard_close(struct guard *g);

/* The caller of uid, or NULL when out of memory (then deny). Release it
 * with guard_caller_put(). */
const struct caller *guard_caller(struct guard *g, uid_t uid);
void guard_caller_put(struct guard *g, const struct caller *c);

/* The subjects of the ACL view (aclview.h) under the policy of caller c,
 * built at most every GUARD_ACL_TTL seconds (they come from the whole
 * passwd and group databases). NULL when they cannot be built. Release
 * with guard_subjects_put() before c. */
const struct aclview_subjects *guard_subjects(struct guard *g,
                                              const struct caller *c);
void guard_subjects_put(struct guard *g, const struct aclview_subjects *s);

/* The node name of the policy in force ([settings] node) into buf, ""
 * if it has none. */
void guard_node(struct guard *g, char *buf, size_t size);

#endif
