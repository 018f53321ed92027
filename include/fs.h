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

#endif
