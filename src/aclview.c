/*
 * aclview: a system.posix_acl_access value synthesised from the policy.
 *
 * aclview_subjects_new() does the slow part once: it copies the passwd
 * database out under pw_lock, resolves each user the way the daemon
 * resolves a caller (getgrouplist, then one name per gid), keeps those
 * with a role, and adds the "@group" members of roles. aclview_build()
 * then only decides, and writes the value in the kernel's xattr layout,
 * little-endian on any host.
 */
#include <endian.h>
#include <errno.h>
#include <grp.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <pthread.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aclview.h"
#include "policy.h"

#define UNDEF_ID   0xffffffffu  /* ACL_UNDEFINED_ID, never a real id */
#define GROUPS_MAX 65537        /* NGROUPS_MAX and the primary group */
#define GRBUF_MAX  (1u << 24)   /* largest group entry we try to read */
#ifndef STACK_MAX
#define STACK_MAX  512          /* subjects whose bits aclview_build() keeps */
#endif

_Static_assert(sizeof(uid_t) == 4 && sizeof(gid_t) == 4, "ids fit e_id");

/* getpwent() has one cursor and one result buffer per process. */
static pthread_mutex_t pw_lock = PTHREAD_MUTEX_INITIALIZER;

/* A user, or a group asked about as the user "@name" whose only group it
 * is. */
struct subject {
	uint32_t id;
	char *name;
	char **groups;
	size_t ngroups;
	struct policy_who *who;
};

struct aclview_subjects {
	const struct policy *p;
	struct subject *v;         /* users by uid, then groups by gid */
	size_t n, nusers, cap;
};

/* One passwd entry. seq is its place in the walk, so that of two names
 * for one uid the first is kept, as getpwuid() would find it. */
struct account {
	char *name;
	uid_t uid;
	gid_t gid;
	size_t seq;
};

/* v itself if it has room for element n, else v grown (or NULL, and v
 * left as it was, if memory runs out). */
static void *grow(void *v, size_t *cap, size_t n, size_t elem)
{
	size_t want = *cap ? *cap * 2 : 16;
	void *more;

	if (n < *cap)
		return v;
	if (want > SIZE_MAX / elem)
		return NULL;
	more = realloc(v, want * elem);
	if (more != NULL)
		*cap = want;
	return more;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int by_uid(const void *a, const void *b)
{
	const struct account *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int by_id(const void *a, const void *b)
{
	const struct subject *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Looks a group up by name (name set) or by *gid; sets *gid and, if
 * copy is set, *copy to a new copy of its name. Returns 0, -ENOENT for no
 * such group, or another -errno. */
static int group_get(const char *name, gid_t *gid, char **copy)
{
	struct group gr, *res = NULL;
	char *b = NULL, *more;
	size_t len = 1024;
	int err;

	do {
		more = len <= GRBUF_MAX ? realloc(b, len) : NULL;
		if (more == NULL) {
			err = ENOMEM;
			break;
		}
		b = more;
		err = name != NULL ? getgrnam_r(name, &gr, b, len, &res) :
		                     getgrgid_r(*gid, &gr, b, len, &res);
		len *= 2;
	} while (err == ERANGE);
	/* getgrnam_r(3): these also mean "not found" on some backends. */
	if ((err == 0 && res == NULL) || err == ENOENT || err == ESRCH ||
	    err == EBADF || err == EPERM)
		err = ENOENT;
	if (err == 0) {
		*gid = gr.gr_gid;
		if (copy != NULL && (*copy = strdup(gr.gr_name)) == NULL)
			err = ENOMEM;
	}
	free(b);
	return -err;
}

/* Every gid of a, primary first, as getgrouplist() gives them. */
static int gid_list(const struct account *a, gid_t **out, int *n)
{
	gid_t *gids = NULL, *more;
	int cap = 0;

	/* glibc says in *n how many there are when they do not fit. */
	*n = 32;
	do {
		if (*n <= cap)
			*n = cap * 2;
		more = *n <= GROUPS_MAX ?
		       realloc(gids, (size_t)*n * sizeof(*gids)) : NULL;
		if (more == NULL) {
			free(gids);
			return *n <= GROUPS_MAX ? -ENOMEM : -E2BIG;
		}
		gids = more;
		cap = *n;
	} while (getgrouplist(a->name, a->gid, gids, n) < 0);
	*out = gids;
	return 0;
}

static void subject_clear(struct subject *u)
{
	free(u->name);
	strv_free(u->groups, u->ngroups);
	policy_who_free(u->who);
}

/* Adds user as subject id if p gives it a role, with the names of gids as
 * its groups, as the daemon resolves a caller. A gid without a name cannot
 * be named by the policy and is left out. */
static int subject_add(struct aclview_subjects *s, uint32_t id,
                       const char *user, gid_t *gids, size_t ngids)
{
	struct subject u = { .id = id }, *v;
	int rc = 0;

	u.name = strdup(user);
	u.groups = calloc(ngids + 1, sizeof(*u.groups));
	if (u.name == NULL || u.groups == NULL)
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < ngids; i++) {
		rc = group_get(NULL, &gids[i], &u.groups[u.ngroups]);
		if (rc == 0)
			u.ngroups++;
		else if (rc == -ENOENT)
			rc = 0;
	}
	if (rc != 0 || policy_user_roles(s->p, user, (const char *const *)
	                                 u.groups, u.ngroups, NULL, 0) == 0)
		goto out;
	v = grow(s->v, &s->cap, s->n, sizeof(*v));
	if (v == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	s->v = v;
	rc = policy_who_new(s->p, user, (const char *const *)u.groups,
	                    u.ngroups, &u.who);
	if (rc == 0) {
		v[s->n++] = u;
		return 0;
	}
out:
	subject_clear(&u);
	return rc;
}

/* The users with a role, in uid order, one per uid; uid -1 is left out.
 * The passwd database is copied out under pw_lock, then resolved. */
static int add_users(struct aclview_subjects *s)
{
	struct account *as = NULL, *more;
	size_t n = 0, cap = 0;
	struct passwd *pw;
	char *name;
	gid_t *gids;
	int ngids, rc = 0;

	pthread_mutex_lock(&pw_lock);
	setpwent();
	for (;;) {
		errno = 0;
		pw = getpwent();
		if (pw == NULL) {
			/* The end, or a failure dressed as one: glibc ends
			 * the walk at once, errno EHOSTDOWN, when it cannot
			 * open /etc/passwd. There is always root, so a walk
			 * with no account failed, and showing nobody would
			 * be a lie. */
			if (errno == ENOMEM)
				rc = -ENOMEM;
			else if (n == 0)
				rc = -EIO;
			break;
		}
		more = grow(as, &cap, n, sizeof(*as));
		if (more != NULL)
			as = more;
		name = more != NULL ? strdup(pw->pw_name) : NULL;
		if (name == NULL) {
			rc = -ENOMEM;
			break;
		}
		as[n] = (struct account){ name, pw->pw_uid, pw->pw_gid, n };
		n++;
	}
	endpwent();
	pthread_mutex_unlock(&pw_lock);
	if (rc == 0)
		qsort(as, n, sizeof(*as), by_uid);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if ((i > 0 && as[i - 1].uid == as[i].uid) ||
		    as[i].uid == (uid_t)UNDEF_ID)
			continue;
		rc = gid_list(&as[i], &gids, &ngids);
		if (rc != 0)
			break;
		rc = subject_add(s, as[i].uid, as[i].name, gids,
		                 (size_t)ngids);
		free(gids);
	}
	for (size_t i = 0; i < n; i++)
		free(as[i].name);
	free(as);
	s->nusers = s->n;
	return rc;
}

/* Group member (a name), if it exists and is not there yet, as a request
 * by "@name", a user name no account can have, whose only group is its
 * gid under the name the system gives it (the name a member's request
 * would carry). */
static int add_group(struct aclview_subjects *s, const char *member)
{
	char *name, *user;
	gid_t gid;
	int rc = group_get(member, &gid, NULL);

	for (size_t i = s->nusers; rc == 0 && i < s->n; i++)
		if (s->v[i].id == gid)
			return 0;
	if (rc == 0 && gid != (gid_t)UNDEF_ID)
		rc = group_get(NULL, &gid, &name);
	if (rc != 0 || gid == (gid_t)UNDEF_ID)
		return rc == -ENOENT ? 0 : rc;
	rc = -ENOMEM;
	if (asprintf(&user, "@%s", name) >= 0) {
		rc = subject_add(s, gid, user, &gid, 1);
		free(user);
	}
	free(name);
	return rc;
}

/* The "@group" members of every role that exist here, in gid order. */
static int add_groups(struct aclview_subjects *s)
{
	struct policy_role role;
	int rc = 0;

	for (size_t i = 0; rc == 0 && policy_role_at(s->p, i, &role) == 0; i++)
		for (size_t m = 0; rc == 0 && m < role.nmembers; m++)
			if (role.members[m][0] == '@')
				rc = add_group(s, role.members[m] + 1);
	if (rc == 0 && s->n > s->nusers)
		qsort(s->v + s->nusers, s->n - s->nusers, sizeof(*s->v), by_id);
	return rc;
}

int aclview_subjects_new(const struct policy *p,
                         struct aclview_subjects **out)
{
	struct aclview_subjects *s;
	int rc;

	if (p == NULL || out == NULL)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->p = p;
	rc = add_users(s);
	if (rc == 0)
		rc = add_groups(s);
	if (rc != 0) {
		aclview_subjects_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void aclview_subjects_free(struct aclview_subjects *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		subject_clear(&s->v[i]);
	free(s->v);
	free(s);
}

static int can(const struct policy *p, struct policy_req *r, unsigned perm)
{
	struct policy_decision d;

	r->perm = perm;
	policy_decide(p, r, &d);
	return d.allow;
}

/* What p lets u do to t, in rwx. A directory is read and searched with
 * list, written with anything that changes its entries; any other object
 * follows read and write, and is executable by readers only if its mode
 * makes it executable at all. */
static uint16_t rwx(const struct policy *p, const struct subject *u,
                    const struct aclview_target *t)
{
	struct policy_req r = {
		.user = u->name, .groups = (const char *const *)u->groups,
		.ngroups = u->ngroups, .who = u->who, .client = t->client,
		.client_owner = t->client_owner, .path = t->path,
		.when = t->when,
	};
	uint16_t x = t->mode & (S_IXUSR | S_IXGRP | S_IXOTH) ? ACL_EXECUTE : 0;

	if (S_ISDIR(t->mode))
		return (can(p, &r, POL_LIST) ? ACL_READ | ACL_EXECUTE : 0) |
		       (can(p, &r, POL_CREATE) || can(p, &r, POL_DELETE) ||
		        can(p, &r, POL_RENAME) ? ACL_WRITE : 0);
	return (can(p, &r, POL_READ) ? ACL_READ | x : 0) |
	       (can(p, &r, POL_WRITE) ? ACL_WRITE : 0);
}

static unsigned char *put(unsigned char *o, uint16_t tag, uint16_t perm,
                          uint32_t id)
{
	struct posix_acl_xattr_entry e = {
		htole16(tag), htole16(perm), htole32(id)
	};

	memcpy(o, &e, sizeof(e));
	return o + sizeof(e);
}

/* Decides every subject, counting the entries and keeping their bits on
 * the stack, then writes them in the canonical order posix_acl_valid()
 * insists on. When there are too many subjects to keep, the second pass
 * decides again (decisions are pure) rather than allocate. The mask is
 * the mode's group bits, as on any file with an ACL: the mode stays what
 * it is when a tool copies the ACL (cp -a out of the mount). The kernel
 * does not enforce the view, so getfacl's "#effective" comments do not
 * apply: access is the policy and the mode bits, both. */
ssize_t aclview_build(const struct policy *p,
                      const struct aclview_subjects *s,
                      const struct aclview_target *t, void *buf,
                      size_t size)
{
	static const struct aclview_subjects nobody;
	struct posix_acl_xattr_header head;
	uint16_t kept[STACK_MAX], b, group;
	unsigned char *o = buf;
	size_t named = 0, need, i;

	if (t == NULL || t->client == NULL || t->path == NULL ||
	    t->when == NULL || (buf == NULL && size != 0) ||
	    (p != NULL && (s == NULL || s->p != p)))
		return -EINVAL;
	if (p == NULL)
		s = &nobody;
	group = (t->mode >> 3) & 7;
	for (i = 0; i < s->n; i++) {
		b = rwx(p, &s->v[i], t);
		named += b != 0;
		if (i < STACK_MAX)
			kept[i] = b;
	}
	need = sizeof(head) + (3 + named + (named > 0)) *
	       sizeof(struct posix_acl_xattr_entry);
	if (size == 0 || size < need)
		return size == 0 ? (ssize_t)need : -ERANGE;
	head.a_version = htole32(POSIX_ACL_XATTR_VERSION);
	memcpy(o, &head, sizeof(head));
	o = put(o + sizeof(head), ACL_USER_OBJ, (t->mode >> 6) & 7, UNDEF_ID);
	for (i = 0; i < s->n; i++) {
		if (i == s->nusers)
			o = put(o, ACL_GROUP_OBJ, group, UNDEF_ID);
		b = i < STACK_MAX ? kept[i] : rwx(p, &s->v[i], t);
		if (b != 0)
			o = put(o, i < s->nusers ? ACL_USER : ACL_GROUP, b,
			        s->v[i].id);
	}
	if (s->nusers == s->n)
		o = put(o, ACL_GROUP_OBJ, group, UNDEF_ID);
	if (named > 0)
		o = put(o, ACL_MASK, group, UNDEF_ID);
	put(o, ACL_OTHER, t->mode & 7, UNDEF_ID);
	return (ssize_t)need;
}
