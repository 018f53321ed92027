/*
 * lockout: the users locked out of a mount by an alert with response
 * lockout, kept in the vault directory until an admin unlocks them.
 *
 * File, in the vault directory:
 *   lockouts        mode 0600, one line per locked user:
 *                   USER <TAB> RULE <TAB> TIME_US <LF>
 *                   USER and RULE 1 to LOCKOUT_NAME_MAX bytes without
 *                   control characters, TIME_US the decimal UTC time in
 *                   microseconds when the lock was set; no two lines of
 *                   the same user, at most LOCKOUT_MAX lines
 *   lockouts.lock   empty; flock()ed by whoever changes lockouts
 *   lockouts.tmp    a new lockouts being written
 *
 * A missing lockouts is an empty list. Anything else that does not read
 * as above (a line cut short, an extra field, a bad time, a duplicate
 * user, a symbolic link, not a regular file, group or others may write
 * it, another owner) refuses the whole file: fail closed, the daemon
 * must not run with a list it cannot trust.
 *
 * Every change (lockout_lock(), lockout_unlock()) takes lockouts.lock,
 * reads the file again, so that changes made by another process (the
 * admin tool unlocking while the daemon locks) are kept, applies itself,
 * writes lockouts.tmp, fsyncs it, renames it over lockouts and fsyncs
 * the directory: once it returns, the change survives a crash or power
 * cut, and a reader never sees half a file. The list in memory is that
 * file; lockout_refresh() reads the file again when another process has
 * replaced it since.
 *
 * Thread safety: any number of threads may use one store at once;
 * lockout_is_locked() takes a read lock and a binary search, cheap
 * enough for every access.
 *
 * Errors: 0 (or what is stated) or a negative errno: -EINVAL for bad
 * arguments, -EBADMSG for a damaged file, -EPERM for one that is not
 * safe (owner, mode), -ELOOP for a symbolic link, -ENOSPC past
 * LOCKOUT_MAX users, -ENOMEM, or the errno of a failed read or write.
 */
#ifndef DOSSIER_LOCKOUT_H
#define DOSSIER_LOCKOUT_H

#include <stddef.h>
#include <stdint.h>

#define LOCKOUT_FILE      "lockouts"
#define LOCKOUT_NAME_MAX  255u     /* bytes of a user or rule name */
#define LOCKOUT_MAX       65536u   /* users locked at once */

struct lockout;

/* One locked user. */
struct lockout_entry {
	char user[LOCKOUT_NAME_MAX + 1];
	char rule[LOCKOUT_NAME_MAX + 1];   /* the alert that locked it */
	int64_t time_us;                   /* when */
};

/* Reads lockouts from the directory dirfd (which is duplicated: the
 * caller keeps dirfd). On success *out is the store, to be freed with
 * lockout_free(); on failure *out is untouched. */
int lockout_open(int dirfd, struct lockout **out);

/* Frees lk; NULL is ignored. */
void lockout_free(struct lockout *lk);

/* Reads the file again if it was replaced (another inode, size or
 * time) since this store last read or wrote it. On failure the list in
 * memory is kept as it was and the error returned. */
int lockout_refresh(struct lockout *lk);

/* Locks user out (rule and time_us are recorded). Returns 0, or 1 if
 * the user was locked already (the first lock is kept, nothing is
 * written). */
int lockout_lock(struct lockout *lk, const char *user, const char *rule,
                 int64_t time_us);

/* Lifts the lock of user. Returns 0, or -ENOENT if it had none. */
int lockout_unlock(struct lockout *lk, const char *user);

/* 1 if user is locked out, 0 if not (a NULL user: 0). A NULL store
 * gives -EINVAL, which a caller testing for non-zero takes as locked:
 * fail closed. */
int lockout_is_locked(struct lockout *lk, const char *user);

/* The lock of user into *out: 0, or -ENOENT. */
int lockout_find(struct lockout *lk, const char *user,
                 struct lockout_entry *out);

/* Copies up to max locks, in strcmp order of users, into out[] and
 * returns how many there are (which may be more than max). */
size_t lockout_list(struct lockout *lk, struct lockout_entry *out,
                    size_t max);

#endif
