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

/* Records every access from now on in a (audit.h), before the session
 * loop starts. */
struct audit;
void fs_attach_audit(struct fs *fs, struct audit *a);
void fs_free(struct fs *fs);

#endif
