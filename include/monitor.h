/*
 * monitor: the daemon's side of the alert rules (policy/README.md,
 * [alert NAME]; the engine is alert.h): every recorded access is weighed
 * as it is recorded, and each alert that fires is answered.
 *
 * An alert is one audit record of action "alert", as done by the user
 * who made it fire (uid, user, roles, process), client the client of
 * that event, rule "alert NAME", outcome allowed, detail alert_detail()'s
 * "kind=...; class=...; count=...; threshold=...; window=...s;
 * response=...". Then, as the rule's response says:
 *   lockout  the user is added to the vault's lockout store (lockout.h)
 *            and recorded as action "lockout" (detail "user=NAME"); from
 *            then on the policy grants that user nothing on this mount
 *            (monitor_locked()) until an admin unlocks them
 *            (dossierctl unlock, recorded as action "unlock");
 *   notify   the policy's notify command runs in a thread of its own with
 *            the alert as one JSON line on its standard input
 *            (alert_json()), killed after notify_timeout; its end is
 *            recorded as action "alert-notify", outcome allowed (exit 0)
 *            or error, detail "status=...". At most MONITOR_NOTIFY run at
 *            once; an alert past that is recorded as a failed
 *            notification, not queued.
 * These records are queued without waiting (audit_record_nowait()) and
 * are not weighed themselves.
 */
#ifndef DOSSIER_MONITOR_H
#define DOSSIER_MONITOR_H

#include <sys/types.h>

#include "audit.h"
#include "control.h"
#include "guard.h"

#define MONITOR_NOTIFY  8u     /* notify commands running at once */

/* What kind of access an event is, for the alert rules. */
#define MON_READ    0x1u       /* a file opened for reading */
#define MON_DELETE  0x2u       /* unlink, rmdir, a rename over a file */
#define MON_RENAME  0x4u

struct monitor;

/* Opens the lockout store of the vault directory dirfd (-EBADMSG,
 * -EPERM, -ELOOP: a lockout file that cannot be trusted; the daemon
 * must not serve then) and records alerts in a. */
int monitor_open(int dirfd, struct audit *a, struct monitor **out);

/* Waits for the notify commands still running, then frees m. */
void monitor_close(struct monitor *m);

/* Weighs the event ev, just recorded, of caller c; kind is MON_ bits. */
void monitor_event(struct monitor *m, const struct caller *c,
                   const struct audit_event *ev, unsigned kind);

/* 1 if user is locked out (or the store cannot say: fail closed), 0 if
 * not. */
int monitor_locked(struct monitor *m, const char *user);

/* Unlocks user: 0, -ENOENT when it was not locked, or a negative errno
 * when the store cannot be written. */
int monitor_unlock(struct monitor *m, const char *user);

/* The users locked out now, one "user<TAB>rule<TAB>time_us" value of
 * key "locked" each, added to reply. */
void monitor_list(struct monitor *m, struct kvbuf *reply);

#endif
