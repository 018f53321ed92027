/*
 * alert: the alert engine, which weighs every access the daemon records
 * against the [alert] rules of a policy (policy/README.md) and says which
 * fire; the text and JSON of an alert; and the notify command's runner.
 *
 * The engine keeps, per user and per rule, the times of the user's
 * latest events that the rule counts: for `clients` the distinct client
 * folders with the time each was last accessed, for the other kinds the
 * event times. A rule fires for a user when the count within its window
 * (the window_s before the event, the event itself included; an event
 * exactly window_s old is out) goes over its threshold: with threshold
 * N, the (N+1)th event fires, the Nth does not. At most threshold + 1
 * times (or clients) are kept per user and rule, allocated as they come,
 * so the count is exact up to the threshold and memory stays bounded; a
 * count reported in a hit is therefore threshold + 1 (for `clients`, the
 * distinct clients kept): "more than threshold". An off-hours rule
 * written without a window counts over one hour.
 *
 * What each kind counts, of the events fed: reads, a file opened for
 * reading and allowed; clients, any allowed event with a client; off-
 * hours, any event (allowed or denied) whose local time is outside the
 * rule's days and hours; denials, denied events; mass-change, allowed
 * deletions and renames; sensitive, allowed reads of a file of a client
 * whose path matches the rule's files. A rule counts only the events of
 * the users it watches (policy_alert_watches()). A user is a uid and a
 * name together; an event without a name is counted under its uid
 * alone, and only by rules that watch every user.
 *
 * Quiet period: after a rule fires for a user at time t it does not fire
 * again for that user before t + window (no alert storm during one
 * burst); the first event at or after that which finds the count over
 * the threshold fires again, so a burst that goes on gives one alert per
 * window. Events keep being counted while a rule is quiet.
 *
 * Idle users are forgotten: the state of a user whose newest event is
 * older than the longest window of the policy is dropped (checked when
 * the user comes back and in a sweep at most once a minute), which
 * changes nothing, since none of its events would count any more and no
 * rule would still be quiet. At most ALERT_USERS_MAX users are tracked;
 * when a new user comes and the table is full, idle users are dropped,
 * and if none is idle, the user whose newest event is the oldest is
 * forgotten (its counts start again from zero; it may then fire later
 * than it would have). Events should come in time order; an event a
 * little older than the user's newest (threads racing) counts as if it
 * came at that newest time; one more than a second older (the clock was
 * set back) makes the engine forget the user's counts and quiet periods.
 *
 * Thread safety: any number of threads may call alert_feed() on one
 * engine at once (one mutex inside); the other functions are pure or
 * hold no state. The engine keeps a pointer to the policy, which must
 * outlive it; after a policy reload make a new engine (counts start
 * again). Strings in a hit point into the policy (rule) and the input
 * (user, client, roles, action) and live as long as those.
 *
 * Errors: 0 (or what is stated) or a negative errno: -EINVAL for bad
 * arguments, -ENOMEM.
 */
#ifndef DOSSIER_ALERT_H
#define DOSSIER_ALERT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "policy.h"

#define ALERT_USERS_MAX   65536u  /* users tracked at once */
#define ALERT_OFFHOURS_S  3600u   /* window of an off-hours rule without one */

struct alert_engine;

/* One event, as the daemon records it. user NULL: a uid without a name.
 * groups (ngroups of them) or who (the caller's memberships made by
 * policy_who_new() from the engine's policy; it wins when set) decide
 * which rules watch the user. client NULL: an event of no client (the
 * mount root); path is the path inside the client (as in policy.h),
 * needed by sensitive rules. local is time_us as local time (days and
 * hours of off-hours rules; tm_wday, tm_hour and tm_min are used).
 * roles and action are not weighed, only handed back in hits. */
struct alert_input {
	int64_t time_us;             /* UTC, microseconds since the epoch */
	uid_t uid;
	const char *user;
	const char *const *groups;
	size_t ngroups;
	const struct policy_who *who;
	const char *roles;           /* as recorded, or NULL */
	const char *action;          /* "open", "unlink", ..., or NULL */
	int is_read;                 /* a file opened for reading */
	int is_delete;               /* unlink, rmdir, destroy */
	int is_rename;
	int denied;                  /* the policy (or a lock) refused it */
	const char *client;
	const char *path;
	const struct tm *local;
};

/* One alert that fired: what the daemon records and notifies. */
struct alert_hit {
	const char *rule;            /* the [alert]'s name */
	enum policy_alert_kind kind;
	unsigned response;           /* POL_RESPONSE_ bits */
	uint64_t count;              /* threshold + 1: "more than" */
	uint64_t threshold;
	unsigned window_s;           /* the window counted over */
	const char *user;            /* of the event that made it fire */
	uid_t uid;
	const char *client;
	const char *roles;
	const char *action;
	int64_t time_us;
};

/* An engine for the [alert]s of p (possibly none). Free with
 * alert_free(), before p. Returns 0, -EINVAL or -ENOMEM. */
int alert_new(const struct policy *p, struct alert_engine **out);

/* Frees e; NULL is ignored. */
void alert_free(struct alert_engine *e);

/*
 * Counts one event and returns how many rules fired for it (usually 0),
 * each stored in hits[] in file order of the rules. At most max fire at
 * once: a rule that would fire beyond max does not, stays armed and
 * fires on the user's next event it counts; max >= policy_nalerts()
 * never holds one back. -EINVAL for a bad input (no local time, a
 * negative time, groups missing, a who from another policy), -ENOMEM
 * when the user's state cannot grow (the event is then not counted by
 * any rule).
 */
int alert_feed(struct alert_engine *e, const struct alert_input *in,
               struct alert_hit *hits, size_t max);

/* Users whose state the engine holds now (for tests and statistics). */
size_t alert_nusers(struct alert_engine *e);

/* "exfiltration" (reads, clients, sensitive), "abnormal" (off-hours),
 * "abuse" (denials), "ransomware" (mass-change); NULL for anything
 * else. */
const char *alert_class(enum policy_alert_kind kind);

/*
 * h as one JSON object, without a newline:
 *   {"rule":R,"kind":K,"class":C,"user":U,"uid":N,"client":C,"count":N,
 *    "threshold":N,"window_s":N,"response":R,"time":T,"node":N}
 * in that order, without spaces; user, client and node null when NULL;
 * response as in alert_detail(); time in UTC with microseconds
 * ("2026-11-29T23:34:06.266310Z"). Strings are escaped for JSON (quote,
 * backslash and control characters; bytes that are not UTF-8 become
 * U+FFFD). Like snprintf: writes at most cap bytes with the NUL and
 * returns the length of the whole text.
 */
size_t alert_json(const struct alert_hit *h, const char *node, char *buf,
                  size_t cap);

/* The detail text of the alert's audit record, like snprintf:
 *   kind=KIND; class=CLASS; count=N; threshold=T; window=Ws; response=R
 * where R is "notify", "lockout" or "notify,lockout" from the response,
 * or "record" when it has neither. */
size_t alert_detail(const struct alert_hit *h, char *buf, size_t cap);

/*
 * Runs the notify command cmd (an absolute path; argv is cmd alone, no
 * shell) with json and a newline on its standard input, and waits for
 * it at most timeout_s seconds. The command gets only
 * PATH=/usr/sbin:/usr/bin:/sbin:/bin in its environment, "/" as its
 * working directory, /dev/null as standard output and error, no other
 * file descriptor, default signal handling and an empty signal mask, in
 * a process group of its own. Its standard input is written without
 * blocking (a command that never reads it cannot hold this up) and
 * closed once written. On timeout the process group is killed with
 * SIGKILL and the command reaped. Safe to call from any thread; it
 * needs SIGCHLD not to be ignored and no other thread to reap children
 * it did not start (wait(-1)).
 *
 * status (cap bytes, may be NULL) gets what happened: "exit 0", "exit
 * 3", "killed by signal 9", "timed out after 10 s, killed", "cannot
 * run: No such file or directory". Returns 0 when the command exited
 * with status 0; -EIO when it exited otherwise or was killed by a
 * signal; -ETIMEDOUT when it timed out; the negative errno of a command
 * that could not be started (-ENOENT, -EACCES, -ENOEXEC, ...); -EINVAL
 * for a cmd that is not an absolute path, a NULL json or a timeout of 0.
 */
int alert_notify_run(const char *cmd, const char *json, unsigned timeout_s,
                     char *status, size_t cap);

#endif
