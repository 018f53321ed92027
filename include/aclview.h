/*
 * aclview: the POSIX ACL that shows who the policy lets into a client
 * folder or file, so that getfacl on the mount answers "who can open
 * this?" without reading the policy.
 *
 * The view is synthesised on every call and never stored: it is a
 * picture of the policy, not a second policy. Named users are the users
 * of the system (the passwd database) that the policy allows something
 * on the target; named groups are the "@group" members of roles, with
 * what membership of the group alone grants. The mode of the object
 * gives the owner, group and other entries.
 *
 * It comes in two stages. aclview_subjects_new() reads the system's user
 * and group databases once and keeps everyone who could appear in a view
 * under one policy; aclview_build() then only asks the policy about each
 * of them, which is cheap enough for every getxattr of `ls -l`.
 *
 * The value may grant a named user more than the mode bits do; it is for
 * display only. A filesystem that lets the kernel enforce POSIX ACLs
 * (FUSE_POSIX_ACL with default_permissions) must not serve it, or the
 * picture would become an access path that bypasses the mode bits.
 *
 * Thread safety: a subjects set is never modified once made, so any
 * number of threads may call aclview_build() at once on the same policy
 * and subjects. aclview_subjects_new() walks the passwd database under a
 * lock of this module; code elsewhere in the process that calls
 * getpwent() without it would race with it.
 */
#ifndef DOSSIER_ACLVIEW_H
#define DOSSIER_ACLVIEW_H

#include <sys/types.h>
#include <time.h>

struct policy;
struct aclview_subjects;

/* What the view is of. path follows the rules of policy_req: "" for the
 * client folder itself. uid is the owner of the object; the value does
 * not use it (the kernel fills ACL_USER_OBJ from the mode). */
struct aclview_target {
	const char *client;        /* client folder name, not NULL */
	const char *client_owner;  /* user name of its owner, or NULL */
	const char *path;          /* path inside the client folder */
	mode_t mode;               /* st_mode: type and permission bits */
	uid_t uid;
	const struct tm *when;     /* local time the view is computed for */
};

/* Who could appear in a view under policy p: every user of the system
 * (passwd database) that is a member of at least one role of p, with its
 * group names (getgrouplist + getgrgid_r) and its memberships
 * (policy_who_new), and every group named as "@group" in the members of a
 * role and existing on the system (asked about as user "@name" with that
 * one group). Users are kept in uid order, the first passwd entry of a uid
 * only; groups in gid order, each once; uid and gid -1 are left out.
 * Reads the whole passwd and group databases: the daemon builds it once
 * per policy and refreshes it every few seconds.
 * Returns 0 and sets *out, or -EINVAL (NULL p or out), -ENOMEM, -EIO (the
 * passwd walk yields no account at all) or another -errno from the group
 * database; *out is untouched on failure. */
int aclview_subjects_new(const struct policy *p,
                         struct aclview_subjects **out);

/* Frees s; NULL is ignored. Call it before the policy it was made from
 * is freed. */
void aclview_subjects_free(struct aclview_subjects *s);

/* Writes the value of the system.posix_acl_access extended attribute, in the
 * Linux xattr format (struct { le32 a_version = 2; } then entries
 * { le16 e_tag; le16 e_perm; le32 e_id; }), describing who policy p lets into
 * t, among the subjects s made from that same p. With size 0 returns the
 * size needed and writes nothing. Returns the number of bytes or -ERANGE if
 * size is too small.
 *
 * Entries come in the order the kernel requires (owner, named users by
 * uid, group, named groups by gid, mask, other), one per id; a mask is
 * present exactly when there is a named entry, and then it masks nothing.
 * A NULL p is "no policy": only the three entries of the mode, and s is
 * not looked at. Also -EINVAL for a NULL t, client, path or when, a NULL
 * buf with a size, or (p set) a NULL s or one made from another policy.
 * Nothing is written unless the call succeeds.
 *
 * No system database access, no lock and no allocation: only policy
 * decisions, at most four per subject (twice that for subjects past the
 * 512th when size is not 0). A size query and the call that follows agree
 * as long as they use the same s and t. A value over XATTR_SIZE_MAX
 * (64 KiB: more than 8191 entries) is built, but the kernel will not pass
 * it on. */
ssize_t aclview_build(const struct policy *p,
                      const struct aclview_subjects *s,
                      const struct aclview_target *t, void *buf,
                      size_t size);

#endif
