/*
 * fs: the FUSE low-level handlers over an unlocked vault.
 *
 * fs_new() builds the state the handlers share (the inode table, the root
 * inode, the client keys); fs_ops() is the handler table to pass to
 * fuse_session_new() with that state as userdata. Handlers return errors to
 * the kernel as errno values and never exit the daemon. fs_free() releases
 * everything, wiping the keys; call it after the session has ended.
 */
#ifndef DOSSIER_FS_H
#define DOSSIER_FS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "audit.h"
#include "guard.h"
#include "vault.h"

struct fs;

struct fs_options {
	double timeout;        /* entry and attribute cache, seconds */
	int writeback;         /* kernel write-back cache */
	struct guard *guard;   /* the role policy in force (guard.h) */
};

int fs_new(struct vault *v, const struct fs_options *o, struct fs **out);
const struct fuse_lowlevel_ops *fs_ops(void);

/* The session fs serves, for the notifications it sends the kernel; set
 * it before the session loop starts. */
void fs_set_session(struct fs *fs, struct fuse_session *se);

/* Records every access from now on in a (audit.h) and shows it in the
 * .audit views (auditview.h); call it before the session loop starts.
 * Returns 0, or a negative errno (nothing attached). */
struct audit;
int fs_attach_audit(struct fs *fs, struct audit *a);

/* Undoes fs_attach_audit(), after the session loop has ended and before
 * the store is closed. */
void fs_detach_audit(struct fs *fs);
void fs_free(struct fs *fs);

/*
 * For the control socket (control.h), which serves callers outside any
 * FUSE request.
 *
 * fs_decide_as() asks the policy in force for want (POL_ bits) of uid on
 * path inside client folder client ("" for the folder), like a file
 * operation of uid: every permission of want and list on the way there.
 * 0, -EACCES (why says which rule), -EINVAL for a malformed client or
 * path.
 *
 * fs_reader_open() opens a regular file of a client folder by its path
 * for reading its plaintext (no policy check: the caller decides first),
 * following no symbolic link: -ENOENT, -ENOTDIR, -EISDIR, -EINVAL for
 * anything but a regular file, or -EIO when a name or header does not
 * authenticate. fs_reader_pread() is a sharepkg_file reader: it returns
 * what fsio_read() returns (-EIO for a block that does not
 * authenticate). The size is the one at open.
 *
 * fs_record_as() records e as done by uid (process pid) and waits for
 * the commit: 0 or -EIO.
 */
struct fs_reader;
int fs_decide_as(struct fs *fs, uid_t uid, const char *client,
                 const char *path, unsigned want,
                 struct policy_decision *why);
int fs_reader_open(struct fs *fs, const char *client, const char *path,
                   struct fs_reader **out);
uint64_t fs_reader_size(const struct fs_reader *r);
ssize_t fs_reader_pread(void *arg, void *buf, size_t len, uint64_t off);
void fs_reader_close(struct fs_reader *r);

struct fs_event {
	const char *action;
	const char *client;          /* NULL: none */
	const char *path;            /* inside client, or NULL */
	const char *path2;
	enum audit_outcome outcome;
	int err;
	const char *rule;
	const char *detail;
	int64_t bytes;               /* < 0: none */
};
int fs_record_as(struct fs *fs, uid_t uid, pid_t pid,
                 const struct fs_event *e);
struct audit *fs_audit(struct fs *fs);

/* Weighs every recorded access against the alert rules and refuses
 * everything to users locked out (monitor.h); set it before the session
 * loop starts, and clear it (NULL) after it ended. */
struct monitor;
void fs_set_monitor(struct fs *fs, struct monitor *m);

/* 1 if the policy in force grants uid admin at the mount root (over
 * every client, no deny of admin anywhere, in its days and hours) and it
 * is not locked out, with the deciding role or rule in why; 0 if not,
 * with the reason in why. */
int fs_is_admin(struct fs *fs, uid_t uid, char *why, size_t cap);

#endif
