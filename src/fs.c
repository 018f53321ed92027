/*
 * FUSE low-level handlers: see include/fs.h.
 *
 * Every request maps a FUSE inode to a backing inode held open O_PATH, and
 * reaches the backing store only fd-relative, never following symlinks.
 * Names are encrypted per directory (namecodec.h), content per block
 * (fsio.h). Directories directly under the root are client folders: each
 * has its own key, and everything inside is keyed by it.
 *
 * Lock order: fs->lock (inode table, client list) before inode->mu; the
 * content lock inode->io is taken with neither held.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "aclview.h"
#include "audit.h"
#include "auditview.h"
#include "erase.h"
#include "fs.h"
#include "fsio.h"
#include "guard.h"
#include "monitor.h"
#include "namecodec.h"

#define HASH_SIZE 4096u
#define XATTR_USER "user."
#define XATTR_ACL_ACCESS  "system.posix_acl_access"
#define XATTR_ACL_DEFAULT "system.posix_acl_default"
#define XATTR_MAX  65536u
#define STREAM_WRITE (256u << 10)
/* Free space file content may not eat into: the audit store's, so that
 * a full disk still lets accesses be recorded (and files be deleted). */
#define AUDIT_ROOM   (8ull << 20)

/* Key material of one client folder, or of the vault root. Never freed
 * before fs_free(), so a pointer to it stays valid while an inode moves. */
struct client {
	struct client *next;       /* fs->clients, under fs->lock */
	dev_t dev;                 /* identity of the client folder */
	ino_t ino;
	unsigned char *key;        /* sodium_malloc, 32 bytes, read-only */
	struct nc_key *names;      /* sodium_malloc, read-only */
};

/* IK_VIEW is a .audit directory, IK_VFILE a file in one: virtual, with no
 * backing file (fd -1), keyed by the backing identity of the folder whose
 * view they are plus kind and file. */
enum ikind { IK_ROOT, IK_CLIENT, IK_OTHER, IK_VIEW, IK_VFILE };

struct inode {
	struct inode *next;        /* hash chain, under fs->lock */
	uint64_t nlookup;          /* under fs->lock */
	int fd;                    /* O_PATH | O_NOFOLLOW, read-only */
	dev_t dev;                 /* backing identity, read-only */
	ino_t ino;
	mode_t type;               /* S_IFMT bits, read-only */
	enum ikind kind;           /* read-only */
	unsigned view;             /* IK_VFILE: its enum av_file; read-only */
	pthread_mutex_t mu;
	struct client *cl;         /* under mu: a file may change client */
	bool has_dirid;            /* under mu */
	unsigned char dirid[NC_DIRIDBYTES]; /* under mu, set once */
	struct bc_key *key;        /* under mu; file key while opens > 0 */
	unsigned opens;            /* under mu */
	pthread_rwlock_t io;       /* content: shared reads, exclusive writes */
	/* Where the inode was last seen, for the policy's paths: a hard
	 * link is known by the name it was last looked up by. A parent is
	 * kept while it has children in the table. */
	struct inode *parent;      /* under fs->lock; NULL for the root */
	char *name;                /* under fs->lock; plaintext */
	unsigned long kids;        /* under fs->lock */
};

struct fs {
	struct vault *v;
	struct guard *guard;
	struct audit *audit;       /* NULL until fs_attach_audit() */
	struct av *av;             /* the .audit views; NULL without audit */
	struct fuse_session *se;   /* for notifications; NULL until set */
	struct eraser *eraser;     /* secure erasure; NULL without audit */
	struct monitor *monitor;   /* alert rules, lockouts; or NULL */
	struct timespec started;   /* times of the .audit directories */
	uint64_t growing;          /* bytes being added to files now (atomic) */
	enum bc_cipher cipher;
	double timeout;
	int writeback;
	pthread_mutex_t lock;
	struct inode *table[HASH_SIZE];   /* under lock */
	struct client *clients;           /* under lock */
	struct client root_client;
	struct inode root;
};

/* An open file. */
struct fh {
	int fd;                    /* the backing file, O_RDWR or O_RDONLY */
	uint64_t read, written;    /* bytes, for the audit (atomic) */
	uid_t uid;                 /* who opened it, for the audit */
	pid_t pid;
	struct av_reader *view;    /* a .audit file (fd is -1), or NULL */
};

/* An open directory. */
struct dh {
	DIR *dp;                   /* NULL for a .audit directory */
	struct dirent *entry;
	off_t offset;
};

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct inode *ino_of(fuse_req_t req, fuse_ino_t n)
{
	return n == FUSE_ROOT_ID ? &fs_of(req)->root : (struct inode *)n;
}

static void procpath(int fd, char buf[64])
{
	snprintf(buf, 64, "/proc/self/fd/%d", fd);
}

static void warn_integrity(const char *what, struct inode *dir)
{
	syslog(LOG_WARNING, "integrity: %s in directory (backing inode %lu)",
	       what, dir ? (unsigned long)dir->ino : 0ul);
	fprintf(stderr, "dossierfs: integrity: %s\n", what);
}

/* ---- clients and directory IDs -------------------------------------- */

static int client_init(struct client *c, const unsigned char *key)
{
	c->key = sodium_malloc(KW_KEYBYTES);
	c->names = sodium_malloc(sizeof(*c->names));
	if (c->key == NULL || c->names == NULL)
		return -ENOMEM;
	memcpy(c->key, key, KW_KEYBYTES);
	nc_key_derive(c->names, key);
	return 0;
}

static void client_wipe(struct client *c)
{
	if (c->key)
		sodium_free(c->key);
	if (c->names)
		sodium_free(c->names);
}

/* Finds or loads the client of the client folder fd (identity st). */
static int client_get(struct fs *fs, int fd, const struct stat *st,
                      struct client **out)
{
	unsigned char id[NC_DIRIDBYTES], *key = NULL;
	struct client *c;
	int rc;

	pthread_mutex_lock(&fs->lock);
	for (c = fs->clients; c; c = c->next)
		if (c->dev == st->st_dev && c->ino == st->st_ino)
			break;
	pthread_mutex_unlock(&fs->lock);
	if (c) {
		*out = c;
		return 0;
	}
	key = sodium_malloc(KW_KEYBYTES);
	c = calloc(1, sizeof(*c));
	if (key == NULL || c == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = vault_dirid_read(fd, id)) != 0 ||
	    (rc = vault_client_key_load(fs->v, fd, id, key)) != 0) {
		if (rc != -ENOMEM)
			warn_integrity("client folder key does not unwrap",
			               NULL);
		rc = rc == -ENOMEM ? rc : -EIO;
		goto out;
	}
	if ((rc = client_init(c, key)) != 0)
		goto out;
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	pthread_mutex_lock(&fs->lock);
	c->next = fs->clients;
	fs->clients = c;
	pthread_mutex_unlock(&fs->lock);
	*out = c;
	c = NULL;
out:
	if (c) {
		client_wipe(c);
		free(c);
	}
	if (key)
		sodium_free(key);
	return rc;
}

static struct client *client_of(struct inode *i)
{
	struct client *c;

	pthread_mutex_lock(&i->mu);
	c = i->cl;
	pthread_mutex_unlock(&i->mu);
	return c;
}

/* The names key and directory ID for entries of directory d. */
static int dir_keys(struct inode *d, const struct nc_key **k,
                    const unsigned char **dirid)
{
	int rc = 0;

	if (!S_ISDIR(d->type))
		return -ENOTDIR;
	pthread_mutex_lock(&d->mu);
	if (!d->has_dirid) {
		rc = vault_dirid_read(d->fd, d->dirid);
		if (rc == 0)
			d->has_dirid = true;
		else if (rc == -ENOENT || rc == -EIO) {
			warn_integrity("directory without a valid .dirid", d);
			rc = -EIO;
		}
	}
	*k = d->cl->names;
	*dirid = d->dirid;
	pthread_mutex_unlock(&d->mu);
	return rc;
}

/*
 * The backing name of a plaintext name in directory d: stored gets the
 * entry's name, side the sidecar's name for a long one ("" otherwise),
 * full the whole encrypted name (what the sidecar holds).
 */
struct sname {
	char stored[NC_ENC_MAX];
	char side[NC_LONG_LEN + 1];
	char full[NC_ENC_MAX];
	int fulllen;
};

static int stored_name(struct inode *d, const char *name, struct sname *s)
{
	const struct nc_key *k;
	const unsigned char *dirid;
	int rc;

	if ((rc = dir_keys(d, &k, &dirid)) != 0)
		return rc;
	rc = nc_encrypt(k, dirid, name, strlen(name), s->full);
	if (rc < 0)
		return rc == -EINVAL ? -ENOENT : rc;
	s->fulllen = rc;
	if ((size_t)rc <= NC_MAX_STORED) {
		memcpy(s->stored, s->full, (size_t)rc + 1);
		s->side[0] = '\0';
	} else {
		nc_long_name(s->full, (size_t)rc, NC_LONG_PREFIX, s->stored);
		nc_long_name(s->full, (size_t)rc, NC_SIDE_PREFIX, s->side);
	}
	return 0;
}

/* Writes the sidecar of a long name; *made says whether it is new. */
static int side_put(struct inode *d, const struct sname *s, bool *made)
{
	int rc;

	*made = false;
	if (!s->side[0])
		return 0;
	rc = vault_write_small(d->fd, s->side, s->full, (size_t)s->fulllen);
	if (rc == -EEXIST)
		return 0;
	if (rc == 0)
		*made = true;
	return rc;
}

static void side_drop(struct inode *d, const struct sname *s)
{
	if (s->side[0])
		unlinkat(d->fd, s->side, 0);
}

/* ---- the inode table ------------------------------------------------- */

static size_t hash_of(dev_t dev, ino_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) ^ dev) % HASH_SIZE;
}

static void inode_free(struct inode *i)
{
	if (i->key) {
		bc_key_wipe(i->key);
		free(i->key);
	}
	if (i->fd >= 0)
		close(i->fd);
	pthread_mutex_destroy(&i->mu);
	pthread_rwlock_destroy(&i->io);
	free(i->name);
	free(i);
}

static bool is_view(const struct inode *i)
{
	return i->kind == IK_VIEW || i->kind == IK_VFILE;
}

/* The inode of backing (dev, ino), or NULL. Call with fs->lock held. */
static struct inode *table_find(struct fs *fs, dev_t dev, ino_t ino)
{
	struct inode *i;

	for (i = fs->table[hash_of(dev, ino)]; i; i = i->next)
		if (i->dev == dev && i->ino == ino && !is_view(i))
			break;
	return i;
}

/*
 * Takes inode i out of the table if nothing refers to it any more, and
 * then its parent, and so on up. Call with fs->lock held; the inodes to
 * free are chained on *dead (through next) for after the lock.
 */
static void drop_locked(struct fs *fs, struct inode *i, struct inode **dead)
{
	struct inode **pp, *parent;

	while (i != NULL && i != &fs->root && i->nlookup == 0 && i->kids == 0) {
		for (pp = &fs->table[hash_of(i->dev, i->ino)]; *pp;
		     pp = &(*pp)->next)
			if (*pp == i) {
				*pp = i->next;
				break;
			}
		parent = i->parent;
		i->parent = NULL;
		i->next = *dead;
		*dead = i;
		if (parent == NULL)
			break;
		parent->kids--;
		i = parent;
	}
}

static void free_dead(struct inode *dead)
{
	struct inode *next;

	for (; dead; dead = next) {
		next = dead->next;
		inode_free(dead);
	}
}

/* Records that i is known as name in parent. name is consumed. */
static void place_locked(struct fs *fs, struct inode *i, struct inode *parent,
                         char *name, struct inode **dead)
{
	struct inode *old = i->parent;

	if (i == &fs->root || name == NULL) {
		free(name);
		return;
	}
	parent->kids++;
	free(i->name);
	i->name = name;
	i->parent = parent;
	if (old != NULL) {
		old->kids--;
		drop_locked(fs, old, dead);
	}
}

/* Records that i is now known as name in parent (after a rename). */
static void inode_place(struct fs *fs, struct inode *i, struct inode *parent,
                        const char *name)
{
	struct inode *dead = NULL;
	char *copy = strdup(name);

	pthread_mutex_lock(&fs->lock);
	if (copy != NULL)
		place_locked(fs, i, parent, copy, &dead);
	pthread_mutex_unlock(&fs->lock);
	free_dead(dead);
}

/*
 * Returns the inode for backing fd (stat st) found as name in directory
 * parent, taking one lookup reference. fd is consumed.
 */
static int inode_get(struct fs *fs, struct inode *parent, int fd,
                     const struct stat *st, const char *name,
                     struct inode **out)
{
	struct client *cl = NULL;
	struct inode *i, *n = NULL, *dead = NULL;
	size_t h = hash_of(st->st_dev, st->st_ino);
	char *copy;
	int rc;

	if ((copy = strdup(name)) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	pthread_mutex_lock(&fs->lock);
	if ((i = table_find(fs, st->st_dev, st->st_ino)) != NULL) {
		i->nlookup++;
		place_locked(fs, i, parent, copy, &dead);
		pthread_mutex_unlock(&fs->lock);
		free_dead(dead);
		close(fd);
		*out = i;
		return 0;
	}
	pthread_mutex_unlock(&fs->lock);

	if (parent->kind == IK_ROOT && S_ISDIR(st->st_mode)) {
		if ((rc = client_get(fs, fd, st, &cl)) != 0)
			goto fail;
	} else {
		cl = client_of(parent);
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	n->fd = fd;
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->type = st->st_mode & S_IFMT;
	n->kind = parent->kind == IK_ROOT && S_ISDIR(st->st_mode) ? IK_CLIENT
	                                                          : IK_OTHER;
	n->cl = cl;
	n->nlookup = 1;
	pthread_mutex_init(&n->mu, NULL);
	pthread_rwlock_init(&n->io, NULL);

	pthread_mutex_lock(&fs->lock);
	if ((i = table_find(fs, st->st_dev, st->st_ino)) != NULL) {
		/* Another thread inserted it meanwhile. */
		i->nlookup++;
		place_locked(fs, i, parent, copy, &dead);
		pthread_mutex_unlock(&fs->lock);
		free_dead(dead);
		inode_free(n);
		*out = i;
		return 0;
	}
	n->next = fs->table[h];
	fs->table[h] = n;
	place_locked(fs, n, parent, copy, &dead);
	pthread_mutex_unlock(&fs->lock);
	free_dead(dead);
	*out = n;
	return 0;
fail:
	free(copy);
	close(fd);
	return rc;
}

static struct inode *inode_find(struct fs *fs, dev_t dev, ino_t ino)
{
	struct inode *i;

	pthread_mutex_lock(&fs->lock);
	i = table_find(fs, dev, ino);
	pthread_mutex_unlock(&fs->lock);
	return i;
}

static void inode_unref(struct fs *fs, struct inode *i, uint64_t n)
{
	struct inode *dead = NULL;

	if (i == &fs->root)
		return;
	pthread_mutex_lock(&fs->lock);
	if (n > i->nlookup)
		n = i->nlookup;
	i->nlookup -= n;
	drop_locked(fs, i, &dead);
	pthread_mutex_unlock(&fs->lock);
	free_dead(dead);
}

/* ---- the policy ------------------------------------------------------ */

/*
 * Every handler that lists, opens, creates, renames, deletes or changes
 * something asks the role policy first (include/guard.h). The kernel has
 * checked the mode bits already (default_permissions): the policy comes
 * on top, never instead. The object is named by where it sits: its
 * client folder (a directory directly under the root) and its path in
 * there, worked out from the names inodes were last seen by.
 */
struct place {
	bool root;                 /* the mount root itself */
	char client[NAME_MAX + 1];
	char path[PATH_MAX];       /* inside the client; "" for the folder */
	uid_t owner;               /* of the client folder */
	bool has_owner;
};

/* The local time of this second, for time windows. */
static const struct tm *now_tm(void)
{
	static __thread time_t last = -1;
	static __thread struct tm tm;
	time_t t = time(NULL);

	if (t != last) {
		localtime_r(&t, &tm);
		last = t;
	}
	return &tm;
}

/* The place of child in the mount root: a client folder. Its owner comes
 * from the backing entry, if there is one. */
static int place_root_child(struct fs *fs, const char *child,
                            struct place *pl)
{
	struct sname s;
	struct stat st;
	int rc;

	if (strlen(child) > NAME_MAX)
		return -ENAMETOOLONG;
	strcpy(pl->client, child);
	pl->path[0] = '\0';
	if ((rc = stored_name(&fs->root, child, &s)) != 0)
		return rc;
	if (fstatat(fs->root.fd, s.stored, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		pl->owner = st.st_uid;
		pl->has_owner = true;
	}
	return 0;
}

/*
 * The place of i, or of its entry child when child is not NULL. Walks up
 * the names inodes were last seen by, under fs->lock.
 */
static int place_of(struct fs *fs, struct inode *i, const char *child,
                    struct place *pl)
{
	const char *names[PATH_MAX / 2];
	struct inode *c = NULL, *up, *top = NULL;
	size_t n = 0, len = 0, k;
	struct stat st;

	memset(pl, 0, sizeof(*pl));
	if (child != NULL && strlen(child) > NAME_MAX)
		return -ENAMETOOLONG;
	if (i == &fs->root) {
		pl->root = child == NULL;
		return child == NULL ? 0 : place_root_child(fs, child, pl);
	}
	pthread_mutex_lock(&fs->lock);
	for (up = i; up != NULL && up->kind != IK_CLIENT && up->kind != IK_ROOT;
	     up = up->parent) {
		if (up->name == NULL || n == sizeof(names) / sizeof(*names))
			break;
		names[n++] = up->name;
		top = up;
	}
	/* The root's .audit and what is in it: at the root, with a path. */
	if (up == &fs->root && top != NULL && top->kind == IK_VIEW) {
		pl->root = true;
	} else if (up == NULL || up->kind != IK_CLIENT || up->name == NULL ||
	           strlen(up->name) > NAME_MAX) {
		pthread_mutex_unlock(&fs->lock);
		return -ENOENT;
	} else {
		c = up;
		strcpy(pl->client, c->name);
	}
	for (k = n; k-- > 0;) {
		size_t m = strlen(names[k]);

		if (len + m + 2 > sizeof(pl->path))
			break;
		if (len > 0)
			pl->path[len++] = '/';
		memcpy(pl->path + len, names[k], m);
		len += m;
	}
	pl->path[len] = '\0';
	pthread_mutex_unlock(&fs->lock);
	if (k != (size_t)-1)
		return -ENAMETOOLONG;
	if (child != NULL) {
		size_t m = strlen(child);

		if (len + m + 2 > sizeof(pl->path))
			return -ENAMETOOLONG;
		if (len > 0)
			pl->path[len++] = '/';
		memcpy(pl->path + len, child, m + 1);
	}
	/* The client folder's inode is held by its child i (or is i). */
	if (c != NULL && fstatat(c->fd, "", &st, AT_EMPTY_PATH) == 0) {
		pl->owner = st.st_uid;
		pl->has_owner = true;
	}
	return 0;
}

/*
 * The permissions (POL_ bits among want) uid has at pl. why, if not NULL,
 * gets the decision that settled it: the first permission refused, or
 * else the last one granted.
 */
static unsigned grants_uid(struct fs *fs, uid_t uid, const struct place *pl,
                           unsigned want, struct policy_decision *why)
{
	struct guard *g = fs->guard;
	const struct caller *c, *o = NULL;
	struct policy_decision d = { .allow = 0, .rule = "unknown caller" };
	struct policy_req r;
	unsigned got = 0;
	bool refused = false;

	c = guard_caller(g, uid);
	if (c == NULL || c->user == NULL)
		goto out;
	if (fs->monitor != NULL && monitor_locked(fs->monitor, c->user)) {
		snprintf(d.rule, sizeof(d.rule), "locked out by an alert "
		         "(dossierctl unlock)");
		goto out;
	}
	if (pl->has_owner && !pl->root)
		o = guard_caller(g, pl->owner);
	memset(&r, 0, sizeof(r));
	r.user = c->user;
	r.groups = c->groups;
	r.ngroups = c->ngroups;
	r.client = pl->root ? NULL : pl->client;
	r.client_owner = o != NULL ? o->user : NULL;
	r.path = pl->path;
	r.when = now_tm();
	r.who = c->who;
	for (unsigned bit = 1; bit & POL_ALL; bit <<= 1) {
		struct policy_decision one;

		if (!(want & bit))
			continue;
		r.perm = bit;
		policy_decide(c->policy, &r, &one);
		if (one.allow)
			got |= bit;
		if (!refused)
			d = one;
		refused = refused || !one.allow;
	}
out:
	if (why != NULL)
		*why = d;
	guard_caller_put(g, o);
	guard_caller_put(g, c);
	return got;
}

static unsigned grants(fuse_req_t req, const struct place *pl, unsigned want,
                       struct policy_decision *why)
{
	return grants_uid(fs_of(req), fuse_req_ctx(req)->uid, pl, want, why);
}

/*
 * Whether uid may list every folder on the way to pl inside its client,
 * the client folder included. The kernel's name cache is shared by all
 * users, so a path walk may not have asked for each of them.
 */
static bool on_the_way(struct fs *fs, uid_t uid, const struct place *pl,
                       struct policy_decision *why)
{
	struct place up = *pl;
	char *slash;

	if (pl->root)
		return true;
	for (;;) {
		slash = strrchr(up.path, '/');
		if (slash != NULL)
			*slash = '\0';
		else if (up.path[0] != '\0')
			up.path[0] = '\0';
		else
			return true;
		if (grants_uid(fs, uid, &up, POL_LIST, why) != POL_LIST)
			return false;
		if (up.path[0] == '\0')
			return true;
	}
}

/* 0 if uid has every permission of want at pl and may list the folders
 * on the way there, else -EACCES; why as for grants_uid(). */
static int decide_uid(struct fs *fs, uid_t uid, const struct place *pl,
                      unsigned want, struct policy_decision *why)
{
	struct policy_decision way;

	if (grants_uid(fs, uid, pl, want, why) != want)
		return -EACCES;
	if (!on_the_way(fs, uid, pl, &way)) {
		if (why != NULL)
			*why = way;
		return -EACCES;
	}
	return 0;
}

static int decide(fuse_req_t req, const struct place *pl, unsigned want,
                  struct policy_decision *why)
{
	return decide_uid(fs_of(req), fuse_req_ctx(req)->uid, pl, want, why);
}

/* ---- the audit -------------------------------------------------------- */

/* One access as the audit records it. */
struct access {
	const char *action;        /* "open", "rename", ...; NULL: not kept */
	struct place pl;
	const char *path2;         /* the other name, or NULL */
	const char *detail;        /* or NULL */
	unsigned want;             /* the POL_ bits asked for, or 0 */
	struct policy_decision why;
};

/* What kind of access a is, for the alert rules. */
static unsigned monitor_kind(const struct access *a)
{
	if (strcmp(a->action, "open") == 0)
		return (a->want & POL_READ) ? MON_READ : 0;
	if (strcmp(a->action, "unlink") == 0 ||
	    strcmp(a->action, "rmdir") == 0 ||
	    strcmp(a->action, "replace") == 0)
		return MON_DELETE;
	return strcmp(a->action, "rename") == 0 ? MON_RENAME : 0;
}

/*
 * Records a as done by uid in process pid (its executable looked up when
 * exe is true: a process may be gone by the time its file is closed),
 * with outcome o and errno err, and bytes unless bytes < 0. Waits for the
 * commit when wait. Returns what the audit store answered.
 */
static int record(struct fs *fs, uid_t uid, pid_t pid, bool exe,
                  const struct access *a, enum audit_outcome o, int err,
                  int64_t bytes, bool wait)
{
	const struct caller *c = guard_caller(fs->guard, uid);
	struct audit_event ev = {
		.uid = uid, .pid = pid, .action = a->action,
		.client = a->pl.root ? NULL : a->pl.client,
		.path = a->pl.root && !a->pl.path[0] ? NULL : a->pl.path,
		.path2 = a->path2, .detail = a->detail,
		.rule = a->why.rule[0] ? a->why.rule : NULL,
		.outcome = o, .err = err,
		.has_bytes = bytes >= 0, .bytes = bytes >= 0 ? (uint64_t)bytes : 0,
	};
	char path[PATH_MAX], proc[32];
	ssize_t n;
	int rc;

	snprintf(proc, sizeof(proc), "/proc/%d/exe", (int)pid);
	if (exe && (n = readlink(proc, path, sizeof(path) - 1)) > 0) {
		path[n] = '\0';
		ev.exe = path;
	}
	if (c != NULL) {
		ev.user = c->user;
		ev.roles = c->roles;
		ev.policy = policy_version(c->policy);
	}
	rc = wait ? audit_record(fs->audit, &ev, NULL)
	          : audit_record_nowait(fs->audit, &ev);
	/* Only a policy with [alert]s has an engine to feed. */
	if (rc == 0 && fs->monitor != NULL && c != NULL && c->alerts != NULL)
		monitor_event(fs->monitor, c, &ev, monitor_kind(a));
	guard_caller_put(fs->guard, c);
	return rc;
}

/*
 * Records a: its outcome is rc (0 allowed, -EACCES or -EPERM from the
 * policy denied, else an error). An allowed access is committed before it
 * is granted: if the store cannot be written, -EIO is returned and the
 * access must be refused. Denials and errors are queued without waiting.
 * Returns rc, or -EIO.
 */
static int audit_access(fuse_req_t req, const struct access *a, int rc,
                        bool denied)
{
	struct fs *fs = fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	enum audit_outcome o = rc == 0 ? AUDIT_ALLOWED
	                               : denied ? AUDIT_DENIED : AUDIT_ERROR;

	if (fs->audit == NULL || a->action == NULL)
		return rc;
	if (record(fs, ctx->uid, ctx->pid, true, a, o, rc < 0 ? -rc : 0, -1,
	           rc == 0) != 0 && rc == 0)
		return -EIO;
	return rc;
}

/*
 * Asks the policy for want on i (or its entry child) and records the
 * answer as action (NULL: record denials only, as "lookup"). Returns 0,
 * -EACCES, -EIO when the audit store cannot record an allowed access, or
 * the error of finding the place. allow_as() takes the access (action
 * set) and leaves in it the place and the decision.
 */
static int allow_as(fuse_req_t req, struct access *a, struct inode *i,
                    const char *child, unsigned want)
{
	int rc;

	if ((rc = place_of(fs_of(req), i, child, &a->pl)) != 0)
		return rc == -ENOENT ? -EACCES : rc;
	a->want = want;
	rc = decide(req, &a->pl, want, &a->why);
	if (a->action == NULL) {
		if (rc == 0)
			return 0;
		a->action = "lookup";
	}
	return audit_access(req, a, rc, rc == -EACCES);
}

static int allow(fuse_req_t req, const char *action, struct inode *i,
                 const char *child, unsigned want)
{
	struct access a = { .action = action };

	return allow_as(req, &a, i, child, want);
}

/* Records that action on i (or child), allowed, then failed with rc
 * (detail may say how). */
static void audit_failed(fuse_req_t req, const char *action, struct inode *i,
                         const char *child, int rc, const char *detail)
{
	struct access a = { .action = action, .detail = detail };

	if (rc == 0 || fs_of(req)->audit == NULL ||
	    place_of(fs_of(req), i, child, &a.pl) != 0)
		return;
	audit_access(req, &a, rc, false);
}

/* The bytes an open read and wrote, recorded at close (without waiting:
 * the open itself was recorded before it was granted). The kernel's
 * write-back cache may write a file's pages through any of its open
 * handles, so "written" is per file rather than per open there. */
static void audit_closed(fuse_req_t req, struct inode *i,
                         const struct fh *h)
{
	struct fs *fs = fs_of(req);
	struct access a = { .action = "close" };
	char detail[64];

	if (fs->audit == NULL || place_of(fs, i, NULL, &a.pl) != 0)
		return;
	snprintf(detail, sizeof(detail), "read %llu, written %llu",
	         (unsigned long long)h->read, (unsigned long long)h->written);
	a.detail = detail;
	record(fs, h->uid, h->pid, false, &a, AUDIT_ALLOWED, 0,
	       (int64_t)(h->read + h->written), false);
}

/* The permissions of a moved or linked object that must not widen: what
 * the caller may see, read and change. */
#define CONTENT_PERMS (POL_LIST | POL_READ | POL_WRITE)

/* 0 if the caller may see and use under the new name (place to) no more
 * than under the old one (place from). */
static int no_widening(fuse_req_t req, const struct place *from,
                       const struct place *to)
{
	unsigned before = grants(req, from, CONTENT_PERMS, NULL);
	unsigned after = grants(req, to, CONTENT_PERMS, NULL);

	return (after & ~before) ? -EACCES : 0;
}

/* The permissions an open with flags needs. */
static unsigned open_perms(int flags)
{
	unsigned p = 0;

	if ((flags & O_ACCMODE) != O_WRONLY)
		p |= POL_READ;
	if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))
		p |= POL_WRITE;
	return p;
}

/* ---- the .audit views ----------------------------------------------- */

/*
 * The root and every client folder hold a virtual, read-only directory
 * AV_DIR whose files auditview.h produces from the audit store. Only a
 * caller with `audit` on the client folder (at the root: on every
 * client, policy.h) sees it; for anyone else it does not exist (ENOENT),
 * and the attempt is recorded. Reads are recorded like any open; anything
 * that would change the view is refused with EROFS and recorded. A view
 * inode is shown as owned by whoever asks, mode 0755 or 0644, so that
 * the kernel's mode check lets a change through to be refused and
 * recorded here rather than refused unseen.
 */

#define VIEW_RULE "read-only audit view"

/* The inode number shown for a view inode. Above any backing inode
 * number: ext4 and the like use 32 bits. */
static ino_t view_ino(ino_t folder, enum ikind kind, unsigned file)
{
	return (ino_t)((1ull << 63) | ((uint64_t)folder << 4) |
	               (kind == IK_VIEW ? 0 : 1 + file));
}

/* Whether name in directory d is d's view. A backing entry of that name
 * is hidden. */
static bool view_name(struct fs *fs, const struct inode *d, const char *name)
{
	return fs->av != NULL && (d->kind == IK_ROOT || d->kind == IK_CLIENT) &&
	       strcmp(name, AV_DIR) == 0;
}

/* The place of view inode i (or its entry child), or of the view of the
 * root or client folder i. */
static int view_place(struct fs *fs, struct inode *i, const char *child,
                      struct place *pl)
{
	int rc;

	if (is_view(i))
		return place_of(fs, i, child, pl);
	if ((rc = place_of(fs, i, NULL, pl)) == 0)
		strcpy(pl->path, AV_DIR);
	return rc;
}

/* The place whose `audit` permission opens view place pl. */
static void view_scope(const struct place *pl, struct place *scope)
{
	*scope = *pl;
	scope->path[0] = '\0';
}

/* Whether the caller may see the view of root or client folder d. */
static bool view_visible(fuse_req_t req, struct inode *d)
{
	struct place pl, scope;

	if (view_place(fs_of(req), d, NULL, &pl) != 0)
		return false;
	view_scope(&pl, &scope);
	return grants(req, &scope, POL_AUDIT, NULL) == POL_AUDIT;
}

/*
 * Asks for `audit` on the view of i (a view inode, or the root or client
 * folder whose view is looked up) and records the answer as action (NULL:
 * record a refusal only, as "lookup"). A refusal is ENOENT: the view does
 * not exist for this caller. Returns 0, -ENOENT or -EIO.
 */
static int view_allow(fuse_req_t req, const char *action, struct inode *i)
{
	struct access a = { .action = action };
	struct place scope;
	int rc;

	if (view_place(fs_of(req), i, NULL, &a.pl) != 0)
		return -ENOENT;
	view_scope(&a.pl, &scope);
	rc = grants(req, &scope, POL_AUDIT, &a.why) == POL_AUDIT ? 0 : -ENOENT;
	if (action == NULL) {
		if (rc == 0)
			return 0;
		a.action = "lookup";
	}
	return audit_access(req, &a, rc, rc != 0);
}

/*
 * Refuses action on view inode i (or on its entry child, or on the view
 * of folder i when child is AV_DIR) and records it: EROFS for a caller
 * who sees the view, and for anyone else EACCES (the name is reserved).
 * Returns the errno to answer, negative.
 */
static int view_refuse(fuse_req_t req, const char *action, struct inode *i,
                       const char *child)
{
	struct fs *fs = fs_of(req);
	struct access a = { .action = action };
	bool folder = !is_view(i);
	int rc = folder && !view_visible(req, i) ? -EACCES : -EROFS;

	snprintf(a.why.rule, sizeof(a.why.rule), "%s",
	         rc == -EROFS ? VIEW_RULE : "name reserved for the audit view");
	if (view_place(fs, i, folder ? NULL : child, &a.pl) == 0)
		audit_access(req, &a, rc, true);
	return rc;
}

/* For a handler about to change name in directory d (name NULL: d
 * itself): 0 when no view is concerned, else the refusal to answer. */
static int view_change(fuse_req_t req, const char *action, struct inode *d,
                       const char *name)
{
	if (is_view(d))
		return view_refuse(req, action, d, name);
	if (name != NULL && view_name(fs_of(req), d, name))
		return view_refuse(req, action, d, AV_DIR);
	return 0;
}

/* The view inode of kind (IK_VIEW, or IK_VFILE with file) in d, named
 * name, taking one lookup reference. */
static int view_get(struct fs *fs, struct inode *d, enum ikind kind,
                    unsigned file, const char *name, struct inode **out)
{
	struct inode *i, *n, *dead = NULL;
	size_t h = hash_of(d->dev, d->ino);
	char *copy = strdup(name);

	n = calloc(1, sizeof(*n));
	if (n == NULL || copy == NULL) {
		free(n);
		free(copy);
		return -ENOMEM;
	}
	n->fd = -1;
	n->dev = d->dev;
	n->ino = d->ino;
	n->type = kind == IK_VIEW ? S_IFDIR : S_IFREG;
	n->kind = kind;
	n->view = kind == IK_VFILE ? file : 0;
	n->cl = client_of(d);
	n->nlookup = 1;
	pthread_mutex_init(&n->mu, NULL);
	pthread_rwlock_init(&n->io, NULL);
	pthread_mutex_lock(&fs->lock);
	for (i = fs->table[h]; i; i = i->next)
		if (i->dev == d->dev && i->ino == d->ino && i->kind == kind &&
		    i->view == n->view)
			break;
	if (i != NULL) {
		i->nlookup++;
		pthread_mutex_unlock(&fs->lock);
		free(copy);
		inode_free(n);
		*out = i;
		return 0;
	}
	n->next = fs->table[h];
	fs->table[h] = n;
	place_locked(fs, n, d, copy, &dead);
	pthread_mutex_unlock(&fs->lock);
	free_dead(dead);
	*out = n;
	return 0;
}

/*
 * Tells the kernel that view file i is now size bytes long. With the
 * write-back cache the kernel keeps a regular file's size itself and
 * ignores the one getattr reports, so a growing view would look frozen
 * to tail -f. Storing the stream's last byte (every line, and so every
 * view, ends with '\n') at size - 1 makes it grow the size; view files
 * are read with direct_io, so the stored byte is never read back. A
 * kernel that does not know the inode yet (a first lookup) takes the
 * size from the reply.
 */
static void view_grow(fuse_req_t req, struct inode *i, uint64_t size)
{
	struct fs *fs = fs_of(req);
	char nl = '\n';
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(1);

	if (!fs->writeback || fs->se == NULL || size == 0)
		return;
	bv.buf[0].mem = &nl;
	fuse_lowlevel_notify_store(fs->se, (fuse_ino_t)i, (off_t)size - 1,
	                           &bv, 0);
}

/* The attributes of view inode i, as the caller of req sees them. */
static int view_attr(fuse_req_t req, struct inode *i, struct stat *st)
{
	struct fs *fs = fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct av_stat as;
	struct place pl;
	int rc;

	memset(st, 0, sizeof(*st));
	st->st_ino = view_ino(i->ino, i->kind, i->view);
	st->st_uid = ctx->uid;
	st->st_gid = ctx->gid;
	st->st_atim = st->st_mtim = st->st_ctim = fs->started;
	st->st_blksize = 128 << 10;
	if (i->kind == IK_VIEW) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	st->st_mode = S_IFREG | 0644;
	st->st_nlink = 1;
	if ((rc = view_place(fs, i, NULL, &pl)) != 0 ||
	    (rc = av_stat(fs->av, pl.root ? NULL : pl.client, i->view, &as)) != 0)
		return rc;
	st->st_size = (off_t)as.size;
	view_grow(req, i, as.size);
	st->st_blocks = (blkcnt_t)((as.size + 511) / 512);
	st->st_mtim.tv_sec = (time_t)(as.mtime_us / 1000000);
	st->st_mtim.tv_nsec = (long)(as.mtime_us % 1000000) * 1000;
	st->st_ctim = st->st_mtim;
	return 0;
}

/* Fills e for view inode i. Attributes are never cached: the owner is
 * whoever asks, and the files grow. The .audit entry itself is looked up
 * afresh on every path walk, like a client folder. */
static int view_entry(fuse_req_t req, struct inode *i,
                      struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = (fuse_ino_t)i;
	e->entry_timeout = i->kind == IK_VIEW ? 0 : fs_of(req)->timeout;
	return view_attr(req, i, &e->attr);
}

/* Looks up name in d, where d is a view inode or name is AV_DIR. */
static int view_lookup(fuse_req_t req, struct inode *d, const char *name,
                       struct fuse_entry_param *e, struct inode **out)
{
	struct fs *fs = fs_of(req);
	struct inode *i;
	int f = -1, rc;

	if (d->kind == IK_VFILE)
		return -ENOTDIR;
	if (d->kind == IK_VIEW && (f = av_file_find(name)) < 0)
		return -ENOENT;
	if (d->kind != IK_VIEW && (rc = view_allow(req, NULL, d)) != 0)
		return rc;
	rc = view_get(fs, d, d->kind == IK_VIEW ? IK_VFILE : IK_VIEW,
	              f < 0 ? 0 : (unsigned)f, name, &i);
	if (rc == 0 && (rc = view_entry(req, i, e)) != 0)
		inode_unref(fs, i, 1);
	if (rc == 0 && out != NULL)
		*out = i;
	return rc;
}

/* Opens view file i for reading; anything else is refused. */
static int view_open(fuse_req_t req, struct inode *i,
                     struct fuse_file_info *fi, struct fh **out)
{
	struct fs *fs = fs_of(req);
	struct place pl;
	struct fh *h;
	int rc;

	if (i->kind != IK_VFILE)
		return -EISDIR;
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		return view_refuse(req, "open", i, NULL);
	if ((rc = view_allow(req, "audit-read", i)) != 0)
		return rc;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		rc = -ENOMEM;
	else if ((rc = view_place(fs, i, NULL, &pl)) == 0)
		rc = av_open(fs->av, pl.root ? NULL : pl.client, i->view,
		             &h->view);
	if (rc != 0) {
		free(h);
		audit_failed(req, "audit-read", i, NULL, rc, NULL);
		return rc;
	}
	h->fd = -1;
	*out = h;
	return 0;
}

/* ---- secure erasure ------------------------------------------------- */

/*
 * The last name of a regular file going away (unlink, or a rename over
 * it) is a destruction: the backing file is handed to the eraser
 * (erase.h), which overwrites, verifies and records it in the
 * background. The cut-off part of a truncation is erased at once. A
 * client folder's key is erased with the folder.
 */

/* A destruction request of the caller of req: strings borrowed from the
 * caller's cache entry (released by erase_req_done()) and from buf. */
struct erasing {
	const struct caller *c;
	char exe[PATH_MAX];
	struct erase_req r;
};

static void erase_req_fill(fuse_req_t req, const char *reason,
                           const struct access *a, struct erasing *x)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	char proc[32];
	ssize_t n;

	memset(&x->r, 0, sizeof(x->r));
	x->c = guard_caller(fs_of(req)->guard, ctx->uid);
	x->r.reason = reason;
	x->r.uid = ctx->uid;
	x->r.pid = ctx->pid;
	snprintf(proc, sizeof(proc), "/proc/%d/exe", (int)ctx->pid);
	if ((n = readlink(proc, x->exe, sizeof(x->exe) - 1)) > 0) {
		x->exe[n] = '\0';
		x->r.exe = x->exe;
	}
	if (x->c != NULL) {
		x->r.user = x->c->user;
		x->r.roles = x->c->roles;
		x->r.policy = policy_version(x->c->policy);
	}
	x->r.rule = a->why.rule[0] ? a->why.rule : NULL;
	x->r.client = a->pl.root ? NULL : a->pl.client;
	x->r.path = a->pl.path;
}

static void erase_req_done(struct fs *fs, struct erasing *x)
{
	guard_caller_put(fs->guard, x->c);
}

/*
 * A legal hold (policy_keep()) on the client of i (or of its entry
 * child) forbids every destruction there: refused with EPERM and
 * recorded as action. 0 when no hold applies.
 */
static int hold_check(fuse_req_t req, const char *action, struct inode *i,
                      const char *child)
{
	struct fs *fs = fs_of(req);
	struct access a = { .action = action };
	const struct caller *c;
	struct policy_keep k;

	if (place_of(fs, i, child, &a.pl) != 0 || a.pl.root)
		return 0;
	c = guard_caller(fs->guard, fuse_req_ctx(req)->uid);
	if (c == NULL)
		return 0;         /* without a role, the policy refuses */
	policy_keep(c->policy, a.pl.client, 0, time(NULL), &k);
	guard_caller_put(fs->guard, c);
	if (k.hold == NULL)
		return 0;
	snprintf(a.why.rule, sizeof(a.why.rule), "legal hold (%s)", k.hold_by);
	a.detail = k.hold;
	audit_access(req, &a, -EPERM, true);
	return -EPERM;
}

/* "retention" when the retention of the file st in pl's client has
 * ended, else "unlink": the reason a deletion gives its destruction. */
static const char *unlink_reason(fuse_req_t req, const struct place *pl,
                                 const struct stat *st)
{
	struct fs *fs = fs_of(req);
	const struct caller *c = guard_caller(fs->guard, fuse_req_ctx(req)->uid);
	struct policy_keep k = { .due = 0 };

	if (c != NULL && !pl->root)
		policy_keep(c->policy, pl->client, st->st_mtime, time(NULL), &k);
	guard_caller_put(fs->guard, c);
	return k.due ? "retention" : "unlink";
}

/*
 * Queues the destruction of regular file stored in directory d (link: a
 * rename will replace it, see eraser_queue()); a is the allowed access
 * that asked for it. *id gets the job's ID.
 */
static int destroy_queue(fuse_req_t req, struct inode *d, const char *stored,
                         bool link, const struct access *a,
                         const char *reason, char *id)
{
	struct fs *fs = fs_of(req);
	struct erasing x;
	struct bc_key k;
	struct stat st;
	uint64_t size = 0;
	bool has = false;
	int fd, rc;

	erase_req_fill(req, reason, a, &x);
	fd = openat(d->fd, stored, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 &&
	    bc_plain_size(fs->cipher, (uint64_t)st.st_size, &size) != 0)
		x.r.note = "the file size is not a valid ciphertext size";
	if (fd >= 0) {
		rc = fsio_key_load(fd, fs->cipher, client_of(d)->key, false, &k);
		has = rc == 0;
		if (rc != 0 && rc != -ENODATA)
			x.r.note = "the file header does not authenticate";
		close(fd);
	}
	rc = eraser_queue(fs->eraser, d->fd, stored, link, has ? &k : NULL,
	                  size, &x.r, id);
	if (has)
		bc_key_wipe(&k);
	erase_req_done(fs, &x);
	return rc;
}

/* Whether the eraser is busy-blocked by (dev, ino): the daemon has it
 * open. */
static bool erase_busy(void *ctx, dev_t dev, ino_t ino)
{
	struct fs *fs = ctx;
	struct inode *i;
	bool busy = false;

	pthread_mutex_lock(&fs->lock);
	if ((i = table_find(fs, dev, ino)) != NULL) {
		pthread_mutex_lock(&i->mu);
		busy = i->opens > 0;
		pthread_mutex_unlock(&i->mu);
	}
	pthread_mutex_unlock(&fs->lock);
	return busy;
}

/* Destroys regular file stored in d, of no data, at once
 * (eraser_empty()). */
static int destroy_empty(fuse_req_t req, struct inode *d, const char *stored,
                         const struct access *a, const char *reason)
{
	struct erasing x;
	int rc;

	erase_req_fill(req, reason, a, &x);
	rc = eraser_empty(fs_of(req)->eraser, d->fd, stored, &x.r);
	erase_req_done(fs_of(req), &x);
	return rc;
}

/* Removes entry s of d (not a directory): the last name of a regular
 * file is destroyed, anything else just unlinked. */
static int remove_entry(fuse_req_t req, struct inode *d, const struct sname *s,
                        const struct access *a)
{
	struct fs *fs = fs_of(req);
	struct stat st;
	bool last;
	int rc;

	last = fs->eraser != NULL &&
	       fstatat(d->fd, s->stored, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode) && st.st_nlink == 1;
	/* A file of no bytes at all (no data, no key) nobody has open is
	 * destroyed at once: nothing to overwrite. One that is open may
	 * still get data from the kernel's write-back cache: queued. */
	if (last && st.st_size == 0 &&
	    !erase_busy(fs, st.st_dev, st.st_ino) &&
	    destroy_empty(req, d, s->stored, a,
	                  unlink_reason(req, &a->pl, &st)) == 0)
		rc = 0;
	else if (last)
		rc = destroy_queue(req, d, s->stored, false, a,
		                   unlink_reason(req, &a->pl, &st), NULL);
	else
		rc = unlinkat(d->fd, s->stored, 0) != 0 ? -errno : 0;
	if (rc == 0)
		side_drop(d, s);
	return rc;
}

/*
 * File managers move a deleted file into a trash folder at the top of
 * the mount (.Trash or .Trash-UID) instead of deleting it: a hidden copy,
 * never destroyed. Making such a folder is refused, so that they offer to
 * delete for good, which here is a destruction. 0, or -EACCES recorded.
 */
static int trash_check(fuse_req_t req, const char *action, struct inode *d,
                       const char *name)
{
	struct access a = { .action = action };

	if (d->kind != IK_ROOT || (strcmp(name, ".Trash") != 0 &&
	                           strncmp(name, ".Trash-", 7) != 0))
		return 0;
	snprintf(a.why.rule, sizeof(a.why.rule), "no trash folders: "
	         "deleting is destroying");
	if (place_of(fs_of(req), d, name, &a.pl) == 0)
		audit_access(req, &a, -EACCES, true);
	return -EACCES;
}


/* ---- attributes ------------------------------------------------------ */

static int link_target(struct inode *i, char *out)
{
	char stored[PATH_MAX];
	ssize_t n;
	struct client *cl = client_of(i);

	n = readlinkat(i->fd, "", stored, sizeof(stored) - 1);
	if (n < 0)
		return -errno;
	stored[n] = '\0';
	n = nc_link_decrypt(cl->names, stored, (size_t)n, out);
	if (n < 0)
		warn_integrity("symlink target does not authenticate", NULL);
	return (int)n;
}

/* Turns the backing stat of inode i into the plaintext one (sizes). */
static int attr_fix(struct fs *fs, struct inode *i, struct stat *st)
{
	char target[PATH_MAX];
	uint64_t size;
	int rc;

	if (S_ISREG(st->st_mode)) {
		if (bc_plain_size(fs->cipher, (uint64_t)st->st_size, &size)) {
			warn_integrity("file size is not a valid ciphertext "
			               "size", NULL);
			return -EIO;
		}
		st->st_size = (off_t)size;
	} else if (S_ISLNK(st->st_mode)) {
		if ((rc = link_target(i, target)) < 0)
			return rc;
		st->st_size = rc;
		sodium_memzero(target, sizeof(target));
	}
	return 0;
}

/* Stats inode i, with the plaintext size. */
static int attr_get(struct fs *fs, struct inode *i, struct stat *st)
{
	if (fstatat(i->fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	return attr_fix(fs, i, st);
}

/* Fills e for inode i from its backing stat st. */
static int entry_fill(struct fs *fs, struct inode *i, const struct stat *st,
                      struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = (fuse_ino_t)i;
	e->attr_timeout = fs->timeout;
	/* Client folders are looked up afresh on every path walk: the
	 * kernel's name cache is shared by all users, and who may see a
	 * client is decided per caller. */
	e->entry_timeout = i->kind == IK_CLIENT ? 0 : fs->timeout;
	e->attr = *st;
	return attr_fix(fs, i, &e->attr);
}

/* Looks up the backing entry stored in directory d, taking a reference. */
static int lookup_stored(struct fs *fs, struct inode *d, const char *stored,
                         const char *name, struct fuse_entry_param *e,
                         struct inode **out)
{
	struct stat st;
	struct inode *i;
	int fd, rc;

	fd = openat(d->fd, stored, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if ((rc = inode_get(fs, d, fd, &st, name, &i)) != 0)
		return rc;
	if ((rc = entry_fill(fs, i, &st, e)) != 0) {
		inode_unref(fs, i, 1);
		return rc;
	}
	if (out)
		*out = i;
	return 0;
}

static int do_lookup(struct fs *fs, struct inode *d, const char *name,
                     struct fuse_entry_param *e)
{
	struct sname s;
	int rc;

	if ((rc = stored_name(d, name, &s)) != 0)
		return rc;
	return lookup_stored(fs, d, s.stored, name, e, NULL);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct inode *d = ino_of(req, parent);
	struct fuse_entry_param e;
	int rc;

	if (is_view(d) || view_name(fs_of(req), d, name)) {
		rc = view_lookup(req, d, name, &e, NULL);
		if (rc != 0)
			fuse_reply_err(req, -rc);
		else
			fuse_reply_entry(req, &e);
		return;
	}
	/* A client folder the caller may not list does not exist for
	 * them; inside a client, a name they may not list is refused. */
	rc = allow(req, NULL, d, name, POL_LIST);
	if (rc == -EACCES && d->kind == IK_ROOT)
		rc = -ENOENT;
	if (rc == 0)
		rc = do_lookup(fs_of(req), d, name, &e);
	if (rc != 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t n, uint64_t nlookup)
{
	inode_unref(fs_of(req), ino_of(req, n), nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
                            struct fuse_forget_data *f)
{
	for (size_t k = 0; k < count; k++)
		inode_unref(fs_of(req), ino_of(req, f[k].ino), f[k].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t n,
                       struct fuse_file_info *fi)
{
	struct stat st;
	int rc;

	struct inode *i = ino_of(req, n);

	(void)fi;
	rc = is_view(i) ? view_attr(req, i, &st) : attr_get(fs_of(req), i, &st);
	if (rc != 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, is_view(i) ? 0 : fs_of(req)->timeout);
}

/* ---- file content ---------------------------------------------------- */

/* Loads the file key of i (on its first open) and counts the open. */
static int key_ref(struct fs *fs, struct inode *i, int fd, bool writable)
{
	struct bc_key *k;
	int rc = 0;

	pthread_mutex_lock(&i->mu);
	if (i->key == NULL) {
		k = malloc(sizeof(*k));
		if (k == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		rc = fsio_key_load(fd, fs->cipher, i->cl->key, writable, k);
		if (rc == -ENODATA && !writable) {
			/* An empty file that was never written: nothing to
			 * decrypt until a writer creates the header. */
			free(k);
			rc = 0;
		} else if (rc != 0) {
			free(k);
			if (rc == -EIO || rc == -EPROTONOSUPPORT)
				warn_integrity("file header does not "
				               "authenticate", NULL);
			rc = rc == -EPROTONOSUPPORT ? -EIO : rc;
			goto out;
		} else {
			i->key = k;
		}
	}
	i->opens++;
out:
	pthread_mutex_unlock(&i->mu);
	return rc;
}

static void key_unref(struct inode *i)
{
	pthread_mutex_lock(&i->mu);
	if (--i->opens == 0 && i->key) {
		bc_key_wipe(i->key);
		free(i->key);
		i->key = NULL;
	}
	pthread_mutex_unlock(&i->mu);
}

/* Opens the backing file of i; returns the fd or a negative errno. */
static int backing_open(struct inode *i, int flags)
{
	char path[64];
	int fd;

	/* The magic link resolves to the inode itself, which was opened
	 * O_NOFOLLOW; O_NOFOLLOW here would refuse the magic link. */
	procpath(i->fd, path);
	fd = open(path, flags | O_CLOEXEC | O_NOATIME);
	return fd < 0 ? -errno : fd;
}

static int file_open(struct fs *fs, struct inode *i, int flags,
                     struct fh **out)
{
	bool w = (flags & O_ACCMODE) != O_RDONLY;
	struct fh *h;
	int fd, rc;

	if (!S_ISREG(i->type))
		return S_ISDIR(i->type) ? -EISDIR : -EINVAL;
	fd = backing_open(i, w ? O_RDWR : O_RDONLY);
	if (fd < 0)
		return fd;
	/* A larger read-ahead window on the backing file: the kernel's own
	 * read-ahead on the mount asks for big runs of blocks. */
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if ((rc = key_ref(fs, i, fd, w)) != 0) {
		close(fd);
		return rc;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		key_unref(i);
		close(fd);
		return -ENOMEM;
	}
	h->fd = fd;
	*out = h;
	return 0;
}

static void fi_set(fuse_req_t req, struct fuse_file_info *fi, struct fh *h)
{
	h->uid = fuse_req_ctx(req)->uid;
	h->pid = fuse_req_ctx(req)->pid;
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->keep_cache = 1;
}

static struct fh *fh_of(struct fuse_file_info *fi)
{
	return (struct fh *)(uintptr_t)fi->fh;
}

static void fh_free(struct inode *i, struct fh *h)
{
	if (h->view != NULL) {
		av_close(h->view);
	} else {
		key_unref(i);
		close(h->fd);
	}
	free(h);
}

static void op_open(fuse_req_t req, fuse_ino_t n, struct fuse_file_info *fi)
{
	struct inode *i = ino_of(req, n);
	struct fh *h;
	int rc;

	if (is_view(i)) {
		rc = view_open(req, i, fi, &h);
	} else {
		rc = allow(req, "open", i, NULL, open_perms(fi->flags));
		if (rc == 0 &&
		    (rc = file_open(fs_of(req), i, fi->flags, &h)) != 0)
			audit_failed(req, "open", i, NULL, rc, NULL);
	}
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi_set(req, fi, h);
	if (h->view != NULL) {
		/* Streams: reads go to the daemon whatever the size says. */
		fi->direct_io = 1;
		fi->keep_cache = 0;
	}
	if (fuse_reply_open(req, fi) == -ENOENT)
		fh_free(i, h);
}

static void op_release(fuse_req_t req, fuse_ino_t n,
                       struct fuse_file_info *fi)
{
	struct fh *h = fh_of(fi);

	audit_closed(req, ino_of(req, n), h);
	fh_free(ino_of(req, n), h);
	fuse_reply_err(req, 0);
}

static void op_read(fuse_req_t req, fuse_ino_t n, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	struct inode *i = ino_of(req, n);
	unsigned char *buf;
	ssize_t r = 0;

	buf = fsio_scratch(0, size ? size : 1);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (fh_of(fi)->view != NULL) {
		r = av_read(fh_of(fi)->view, (char *)buf, size, (uint64_t)off);
		goto out;
	}
	pthread_rwlock_rdlock(&i->io);
	pthread_mutex_lock(&i->mu);
	struct bc_key *k = i->key;
	pthread_mutex_unlock(&i->mu);
	if (k)
		r = fsio_read(fh_of(fi)->fd, k, buf, size, (uint64_t)off);
	pthread_rwlock_unlock(&i->io);
	if (r == -EIO) {
		warn_integrity("file block does not authenticate", NULL);
		audit_failed(req, "integrity", i, NULL, -EIO,
		             "file block does not authenticate");
	}
out:
	if (r > 0)
		__atomic_add_fetch(&fh_of(fi)->read, (uint64_t)r,
		                   __ATOMIC_RELAXED);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_buf(req, (const char *)buf, (size_t)r);
	if (r > 0)
		sodium_memzero(buf, (size_t)r);
}

/*
 * With the kernel's write-back cache the kernel owns mtime: it stamps it at
 * write(2) time and sends it in a later setattr, while the data may reach
 * us after that. The backing mtime is therefore kept as it was, so that a
 * late page flush cannot move it.
 */
static ssize_t write_keep_mtime(struct fs *fs, int fd, struct bc_key *k,
                                const unsigned char *wrap, const char *buf,
                                size_t size, off_t off)
{
	struct timespec tv[2] = { { .tv_nsec = UTIME_OMIT } };
	uint64_t end = bc_block_offset(k->cipher, ((uint64_t)off + size +
	                                           BC_BLOCK - 1) / BC_BLOCK);
	uint64_t grow = 0, busy;
	struct statvfs sv;
	struct stat st;
	ssize_t r;

	if (fstat(fd, &st) != 0)
		return -errno;
	/* A write that grows the file must leave the audit its room, counting
	 * the other writes growing files at the same time. */
	if (end > (uint64_t)st.st_size) {
		grow = end - (uint64_t)st.st_size;
		busy = __atomic_add_fetch(&fs->growing, grow, __ATOMIC_RELAXED);
		if (fstatvfs(fd, &sv) == 0 &&
		    (uint64_t)sv.f_bavail * sv.f_frsize < busy + AUDIT_ROOM) {
			__atomic_sub_fetch(&fs->growing, grow, __ATOMIC_RELAXED);
			return -ENOSPC;
		}
	}
	r = fsio_write(fd, k, wrap, buf, size, (uint64_t)off);
	__atomic_sub_fetch(&fs->growing, grow, __ATOMIC_RELAXED);
	/* Large writes are a stream: start writing them to disk now rather
	 * than leave it all to the next fsync. */
	if (r >= (ssize_t)STREAM_WRITE)
		sync_file_range(fd, (off64_t)bc_block_offset(k->cipher,
		                (uint64_t)off / BC_BLOCK), (off64_t)size +
		                (off64_t)size / 64, SYNC_FILE_RANGE_WRITE);
	if (r > 0 && fs->writeback) {
		tv[1] = st.st_mtim;
		futimens(fd, tv);
	}
	return r;
}

static void op_write(fuse_req_t req, fuse_ino_t n, const char *buf,
                     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct inode *i = ino_of(req, n);
	struct client *cl;
	ssize_t r;

	pthread_rwlock_wrlock(&i->io);
	pthread_mutex_lock(&i->mu);
	cl = i->cl;
	pthread_mutex_unlock(&i->mu);
	r = write_keep_mtime(fs_of(req), fh_of(fi)->fd, i->key, cl->key, buf,
	                     size, off);
	pthread_rwlock_unlock(&i->io);
	if (r == -EIO) {
		warn_integrity("file block does not authenticate", NULL);
		audit_failed(req, "integrity", i, NULL, -EIO,
		             "file block does not authenticate");
	}
	if (r > 0)
		__atomic_add_fetch(&fh_of(fi)->written, (uint64_t)r,
		                   __ATOMIC_RELAXED);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_write(req, (size_t)r);
}

static void op_flush(fuse_req_t req, fuse_ino_t n, struct fuse_file_info *fi)
{
	(void)n; (void)fi;
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t n, int datasync,
                     struct fuse_file_info *fi)
{
	int fd = fh_of(fi)->fd;

	(void)n;
	if (fd < 0)
		fuse_reply_err(req, 0);         /* a .audit file */
	else
		fuse_reply_err(req, (datasync ? fdatasync(fd) : fsync(fd))
		                    ? errno : 0);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t n, int mode, off_t off,
                         off_t len, struct fuse_file_info *fi)
{
	struct inode *i = ino_of(req, n);
	int rc;

	if ((rc = view_change(req, "fallocate", i, NULL)) != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (mode != 0) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (off < 0 || len <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	pthread_rwlock_wrlock(&i->io);
	rc = fsio_allocate(fh_of(fi)->fd, i->key, client_of(i)->key,
	                   (uint64_t)off, (uint64_t)len);
	pthread_rwlock_unlock(&i->io);
	fuse_reply_err(req, -rc);
}

/* Truncates i to size through fd (opened here if fd < 0). */
/* Truncates i to size; cutting data off destroys it (erase.h), for
 * the request x, when there is an eraser. */
static int do_truncate(struct fs *fs, struct inode *i, int fd, off_t size,
                       const struct erasing *x)
{
	bool own = fd < 0;
	int rc;

	if (!S_ISREG(i->type))
		return S_ISDIR(i->type) ? -EISDIR : -EINVAL;
	if (size < 0)
		return -EINVAL;
	if (own) {
		fd = backing_open(i, O_RDWR);
		if (fd < 0)
			return fd;
		if ((rc = key_ref(fs, i, fd, true)) != 0) {
			close(fd);
			return rc;
		}
	}
	pthread_rwlock_wrlock(&i->io);
	if (fs->eraser != NULL && x != NULL && i->key != NULL)
		rc = eraser_cut(fs->eraser, fd, i->key, client_of(i)->key,
		                (uint64_t)size, &x->r);
	else
		rc = fsio_truncate(fd, i->key, client_of(i)->key,
		                   (uint64_t)size);
	pthread_rwlock_unlock(&i->io);
	if (own) {
		key_unref(i);
		close(fd);
	}
	return rc;
}

/* ---- attributes: setattr --------------------------------------------- */

static int set_times(struct inode *i, const struct stat *a, int valid,
                     int fd)
{
	struct timespec tv[2] = {
		{ .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT },
	};

	if (valid & FUSE_SET_ATTR_ATIME_NOW)
		tv[0].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_ATIME)
		tv[0] = a->st_atim;
	if (valid & FUSE_SET_ATTR_MTIME_NOW)
		tv[1].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_MTIME)
		tv[1] = a->st_mtim;
	if (fd >= 0)
		return futimens(fd, tv) ? -errno : 0;
	return utimensat(i->fd, "", tv, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)
	       ? -errno : 0;
}

/* The audit's name for a setattr. */
static const char *setattr_action(int valid)
{
	if (valid & FUSE_SET_ATTR_SIZE)
		return "truncate";
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		return "chown";
	if (valid & FUSE_SET_ATTR_MODE)
		return "chmod";
	return "utimens";
}

static void op_setattr(fuse_req_t req, fuse_ino_t n, struct stat *a,
                       int valid, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct inode *i = ino_of(req, n);
	struct access acc = { .action = setattr_action(valid) };
	struct erasing x;
	struct stat st;
	char path[64];
	int fd = fi ? fh_of(fi)->fd : -1, rc;
	unsigned want = 0;
	bool cut = false;

	if ((rc = view_change(req, setattr_action(valid), i, NULL)) != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	/* Changing a file needs write; giving a client folder another
	 * owner changes who its client belongs to: that needs admin. */
	if (valid & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_SIZE |
	             FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
	             FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW))
		want |= POL_WRITE;
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		want |= i->kind == IK_CLIENT ? POL_ADMIN : POL_WRITE;
	/* With the write-back cache the kernel owns mtime and ctime and
	 * sends them back after writes, renames and unlinks: bookkeeping of
	 * accesses checked and recorded already, not a request of its own. */
	if (fs->writeback &&
	    !(valid & ~(FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_CTIME)))
		want = 0;
	/* Cutting data off destroys it: that needs delete too. */
	if ((valid & FUSE_SET_ATTR_SIZE) && fs->eraser != NULL &&
	    S_ISREG(i->type) && attr_get(fs, i, &st) == 0 &&
	    a->st_size < st.st_size) {
		if ((rc = hold_check(req, "truncate", i, NULL)) != 0)
			goto out;
		want |= POL_DELETE;
		cut = true;
	}
	if (want && (rc = allow_as(req, &acc, i, NULL, want)))
		goto out;
	if (valid & FUSE_SET_ATTR_MODE) {
		procpath(i->fd, path);
		if (S_ISLNK(i->type))
			rc = -EOPNOTSUPP;
		else if ((fd >= 0 ? fchmod(fd, a->st_mode)
		                  : chmod(path, a->st_mode)) != 0)
			rc = -errno;
		if (rc)
			goto out;
	}
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t u = valid & FUSE_SET_ATTR_UID ? a->st_uid : (uid_t)-1;
		gid_t g = valid & FUSE_SET_ATTR_GID ? a->st_gid : (gid_t)-1;

		if (fchownat(i->fd, "", u, g, AT_EMPTY_PATH |
		             AT_SYMLINK_NOFOLLOW) != 0) {
			rc = -errno;
			goto out;
		}
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		if (cut)
			erase_req_fill(req, "truncate", &acc, &x);
		rc = do_truncate(fs, i, fd, a->st_size, cut ? &x : NULL);
		if (cut)
			erase_req_done(fs, &x);
		if (rc != 0)
			goto out;
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
	             FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)) {
		if ((rc = set_times(i, a, valid, fd)) != 0)
			goto out;
	}
	rc = attr_get(fs, i, &st);
out:
	if (rc != 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, fs->timeout);
}

/* ---- creating entries ------------------------------------------------ */

/* The owner of a new entry: the caller, with the group of a setgid
 * parent directory like a local filesystem. */
static void owner_of(fuse_req_t req, struct inode *d, uid_t *u, gid_t *g,
                     bool *setgid)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat st;

	*u = ctx->uid;
	*g = ctx->gid;
	*setgid = false;
	if (fstatat(d->fd, "", &st, AT_EMPTY_PATH) == 0 &&
	    (st.st_mode & S_ISGID)) {
		*g = st.st_gid;
		*setgid = true;
	}
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
                      mode_t mode, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct inode *d = ino_of(req, parent), *i = NULL;
	struct fuse_entry_param e;
	struct sname s;
	struct stat st;
	struct fh *h = NULL;
	bool made = false, sg;
	uid_t u;
	gid_t g;
	int fd = -1, pfd, rc = 0;
	bool asked = false;        /* allowed (and recorded) */

	if ((rc = view_change(req, "create", d, name)) != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	/* The root holds client folders only. */
	if (d->kind == IK_ROOT)
		rc = -EACCES;
	if (rc != 0 || (rc = allow(req, "create", d, name, POL_CREATE)))
		goto out;
	asked = true;
	if ((rc = stored_name(d, name, &s)) != 0 ||
	    (rc = side_put(d, &s, &made)) != 0)
		goto out;
	owner_of(req, d, &u, &g, &sg);
	fd = openat(d->fd, s.stored, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW |
	            O_NOATIME | O_CLOEXEC, mode & 07777);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	pfd = openat(d->fd, s.stored, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0 || fchown(fd, u, g) != 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		if (pfd >= 0)
			close(pfd);
		goto undo;
	}
	if ((rc = inode_get(fs, d, pfd, &st, name, &i)) != 0)
		goto undo;
	h = calloc(1, sizeof(*h));
	if (h == NULL || (rc = key_ref(fs, i, fd, true)) != 0) {
		rc = h ? rc : -ENOMEM;
		inode_unref(fs, i, 1);
		goto undo;
	}
	h->fd = fd;
	/* The header write changed the times; report what is stored. */
	if (fstat(fd, &e.attr) == 0)
		st = e.attr;
	st.st_size = 0;
	memset(&e, 0, sizeof(e));
	e.ino = (fuse_ino_t)i;
	e.attr = st;
	e.attr_timeout = e.entry_timeout = fs->timeout;
	fi_set(req, fi, h);
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		key_unref(i);
		close(fd);
		free(h);
		inode_unref(fs, i, 1);
	}
	return;
undo:
	/* Lose nothing, leave nothing: the new entry goes again. */
	free(h);
	unlinkat(d->fd, s.stored, 0);
out:
	if (made)
		side_drop(d, &s);
	if (fd >= 0)
		close(fd);
	if (asked)
		audit_failed(req, "create", d, name, rc, NULL);
	fuse_reply_err(req, -rc);
}

/* Makes the backing directory for a new plaintext directory: built under
 * a temporary name with its .dirid (and .key for a client folder), then
 * renamed into place so that no half-made directory is ever visible. */
static int make_dir(struct fs *fs, struct inode *d, const struct sname *s,
                    mode_t mode, uid_t u, gid_t g, bool sg)
{
	unsigned char id[NC_DIRIDBYTES], *key = NULL;
	char tmp[32];
	int fd = -1, rc;

	snprintf(tmp, sizeof(tmp), ".tmp-%08x%08x", randombytes_random(),
	         randombytes_random());
	if (mkdirat(d->fd, tmp, 0700) != 0)
		return -errno;
	fd = openat(d->fd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	            O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto undo;
	}
	if ((rc = vault_dirid_write(fd, id)) != 0)
		goto undo;
	if (d->kind == IK_ROOT) {
		key = sodium_malloc(KW_KEYBYTES);
		if (key == NULL) {
			rc = -ENOMEM;
			goto undo;
		}
		if ((rc = vault_client_key_new(fs->v, fd, id, key)) != 0)
			goto undo;
	}
	if (fchown(fd, u, g) != 0 ||
	    fchmod(fd, (mode & 07777) | (sg ? S_ISGID : 0)) != 0 ||
	    fsync(fd) != 0) {
		rc = -errno;
		goto undo;
	}
	if (renameat2(d->fd, tmp, d->fd, s->stored, RENAME_NOREPLACE) != 0) {
		rc = -errno;
		goto undo;
	}
	rc = 0;
	goto out;
undo:
	if (fd >= 0) {
		unlinkat(fd, VAULT_DIRID, 0);
		unlinkat(fd, VAULT_KEY, 0);
	}
	unlinkat(d->fd, tmp, AT_REMOVEDIR);
out:
	if (key)
		sodium_free(key);
	if (fd >= 0)
		close(fd);
	return rc;
}

static void reply_new_entry(fuse_req_t req, struct inode *d,
                            const char *name, const struct sname *s,
                            bool made, int rc)
{
	struct fuse_entry_param e;

	if (rc == 0)
		rc = lookup_stored(fs_of(req), d, s->stored, name, &e, NULL);
	if (rc != 0) {
		if (made)
			side_drop(d, s);
		fuse_reply_err(req, -rc);
		return;
	}
	fuse_reply_entry(req, &e);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
                     mode_t mode)
{
	struct inode *d = ino_of(req, parent);
	struct sname s;
	bool made = false, sg, asked;
	uid_t u;
	gid_t g;
	int rc;

	if ((rc = view_change(req, "mkdir", d, name)) != 0 ||
	    (rc = trash_check(req, "mkdir", d, name)) != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	/* A new client folder is a new client: register, and the creator
	 * owns it. */
	rc = allow(req, "mkdir", d, name, d->kind == IK_ROOT ? POL_REGISTER
	                                                     : POL_CREATE);
	asked = rc == 0;
	if (rc == 0 && (rc = stored_name(d, name, &s)) == 0 &&
	    (rc = side_put(d, &s, &made)) == 0) {
		owner_of(req, d, &u, &g, &sg);
		rc = make_dir(fs_of(req), d, &s, mode, u, g, sg);
	}
	if (asked)
		audit_failed(req, "mkdir", d, name, rc, NULL);
	reply_new_entry(req, d, name, &s, made, rc);
}

static void op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent,
                       const char *name)
{
	struct inode *d = ino_of(req, parent);
	char stored[PATH_MAX];
	struct sname s;
	bool made = false, sg, asked = false;
	uid_t u;
	gid_t g;
	int rc;

	if ((rc = view_change(req, "symlink", d, name)) != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (d->kind == IK_ROOT)
		rc = -EACCES;
	else
		rc = allow(req, "symlink", d, name, POL_CREATE);
	if (rc != 0)
		goto out;
	asked = true;
	if ((rc = stored_name(d, name, &s)) != 0)
		goto out;
	rc = nc_link_encrypt(client_of(d)->names, target, strlen(target),
	                     stored);
	if (rc < 0 || (rc = side_put(d, &s, &made)) != 0)
		goto out;
	owner_of(req, d, &u, &g, &sg);
	if (symlinkat(stored, d->fd, s.stored) != 0) {
		rc = -errno;
		goto out;
	}
	if (fchownat(d->fd, s.stored, u, g, AT_SYMLINK_NOFOLLOW) != 0) {
		rc = -errno;
		unlinkat(d->fd, s.stored, 0);
	}
out:
	if (asked)
		audit_failed(req, "symlink", d, name, rc, NULL);
	reply_new_entry(req, d, name, &s, made, rc);
}

static void op_readlink(fuse_req_t req, fuse_ino_t n)
{
	char target[PATH_MAX];
	struct inode *i = ino_of(req, n);
	int rc = is_view(i) ? -EINVAL : link_target(i, target);

	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_readlink(req, target);
	sodium_memzero(target, sizeof(target));
}

/* A new name for i needs create there and read of i, and must not let
 * the caller do more with it than under its old name. */
static int link_allowed(fuse_req_t req, struct inode *i, struct inode *d,
                        const char *newname)
{
	struct access a = { .action = "link" };
	struct place from;
	int rc;

	if ((rc = place_of(fs_of(req), i, NULL, &from)) != 0 ||
	    (rc = place_of(fs_of(req), d, newname, &a.pl)) != 0)
		return rc == -ENOENT ? -EACCES : rc;
	a.path2 = from.path;
	if ((rc = decide(req, &from, POL_READ, &a.why)) == 0 &&
	    (rc = decide(req, &a.pl, POL_CREATE, &a.why)) == 0 &&
	    (rc = no_widening(req, &from, &a.pl)) != 0)
		a.detail = "would widen access";
	return audit_access(req, &a, rc, rc == -EACCES);
}

static void op_link(fuse_req_t req, fuse_ino_t n, fuse_ino_t newparent,
                    const char *newname)
{
	struct inode *i = ino_of(req, n), *d = ino_of(req, newparent);
	struct sname s;
	char path[64];
	bool made = false;
	int rc;

	if ((rc = view_change(req, "link", i, NULL)) != 0 ||
	    (rc = view_change(req, "link", d, newname)) != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (S_ISDIR(i->type)) {
		rc = -EPERM;
		goto out;
	}
	/* A file has one client: its key is wrapped under that client's. */
	if (d->kind == IK_ROOT || client_of(i) != client_of(d)) {
		rc = d->kind == IK_ROOT ? -EACCES : -EXDEV;
		goto out;
	}
	if ((rc = link_allowed(req, i, d, newname)) != 0 ||
	    (rc = stored_name(d, newname, &s)) != 0)
		goto out;
	if ((rc = side_put(d, &s, &made)) != 0)
		goto out;
	procpath(i->fd, path);
	if (linkat(AT_FDCWD, path, d->fd, s.stored, AT_SYMLINK_FOLLOW) != 0)
		rc = -errno;
out:
	reply_new_entry(req, d, newname, &s, made, rc);
}

/* ---- removing and renaming ------------------------------------------- */

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct inode *d = ino_of(req, parent);
	struct access a = { .action = "unlink" };
	struct sname s;
	int rc;

	if ((rc = view_change(req, "unlink", d, name)) != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if ((rc = hold_check(req, "unlink", d, name)) != 0 ||
	    (rc = allow_as(req, &a, d, name, POL_DELETE)) != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if ((rc = stored_name(d, name, &s)) == 0)
		rc = remove_entry(req, d, &s, &a);
	audit_failed(req, "unlink", d, name, rc, NULL);
	fuse_reply_err(req, -rc);
}

/* Checks that backing directory fd holds no entries of ours, then removes
 * its bookkeeping files. */
/* Opens directory fd for listing: a DIR, or NULL with errno set. */
static DIR *dir_list(int fd)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp;

	if (dfd < 0)
		return NULL;
	if ((dp = fdopendir(dfd)) == NULL)
		close(dfd);
	return dp;
}

/* 0 if directory fd holds no entry of ours (only its .dirid, its .key
 * and sidecars), else -ENOTEMPTY. */
static int dir_empty_check(int fd)
{
	struct dirent *e;
	DIR *dp = dir_list(fd);
	int rc = 0;

	if (dp == NULL)
		return -errno;
	while ((e = readdir(dp)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, VAULT_DIRID) == 0 ||
		    strcmp(e->d_name, VAULT_KEY) == 0 ||
		    strncmp(e->d_name, NC_SIDE_PREFIX, 2) == 0)
			continue;
		rc = -ENOTEMPTY;
		break;
	}
	closedir(dp);
	return rc;
}

/* dir_empty_check(), and if empty, removes those dot files. */
static int dir_empty_out(int fd)
{
	struct dirent *e;
	DIR *dp;
	int rc;

	if ((rc = dir_empty_check(fd)) != 0)
		return rc;
	if ((dp = dir_list(fd)) == NULL)
		return -errno;
	while ((e = readdir(dp)) != NULL)
		if (e->d_name[0] == '.' && strcmp(e->d_name, ".") &&
		    strcmp(e->d_name, ".."))
			unlinkat(dirfd(dp), e->d_name, 0);
	closedir(dp);
	return 0;
}

/* Erases the key of the client folder fd, for rmdir (access a). */
static int destroy_client_key(fuse_req_t req, int fd, const struct access *a)
{
	struct fs *fs = fs_of(req);
	struct erasing x;
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (dfd < 0)
		return -errno;
	erase_req_fill(req, "client-folder", a, &x);
	rc = eraser_file(fs->eraser, dfd, VAULT_KEY, &x.r);
	erase_req_done(fs, &x);
	close(dfd);
	return rc == -ENOENT ? 0 : rc;
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct inode *d = ino_of(req, parent);
	struct access a = { .action = "rmdir" };
	struct sname s;
	int fd = -1, rc;

	if ((rc = view_change(req, "rmdir", d, name)) != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if ((rc = hold_check(req, "rmdir", d, name)) != 0 ||
	    (rc = allow_as(req, &a, d, name, POL_DELETE)) != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if ((rc = stored_name(d, name, &s)) != 0)
		goto out;
	fd = openat(d->fd, s.stored, O_PATH | O_DIRECTORY | O_NOFOLLOW |
	            O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	/* The kernel holds the directory's lock across rmdir, so no entry
	 * can be created in it between the check and the removal. A client
	 * folder takes its key with it: erased first, then the rest. */
	if (d->kind == IK_ROOT && fs_of(req)->eraser != NULL &&
	    (rc = dir_empty_check(fd)) == 0)
		rc = destroy_client_key(req, fd, &a);
	if (rc != 0 || (rc = dir_empty_out(fd)) != 0)
		goto out;
	if (unlinkat(d->fd, s.stored, AT_REMOVEDIR) != 0)
		rc = -errno;
	else
		side_drop(d, &s);
out:
	if (fd >= 0)
		close(fd);
	audit_failed(req, "rmdir", d, name, rc, NULL);
	fuse_reply_err(req, -rc);
}

/* A directory renamed over an existing empty directory replaces it; the
 * target's bookkeeping files (.dirid, .key) would make the backing rename
 * fail with ENOTEMPTY, so an empty target is emptied out first. The
 * kernel holds both directories' locks, so it stays empty. */
static int clear_target_dir(struct inode *nd, const char *stored,
                            unsigned int flags)
{
	struct stat st;
	int fd, rc;

	if (fstatat(nd->fd, stored, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (flags & RENAME_NOREPLACE)
		return -EEXIST;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	fd = openat(nd->fd, stored, O_PATH | O_DIRECTORY | O_NOFOLLOW |
	            O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = dir_empty_out(fd);
	close(fd);
	return rc;
}

/* Moves regular file i from client 'from' to client 'to': its key is
 * rewrapped; its content and name stay as they are. */
static int move_client(struct fs *fs, struct inode *i, struct client *to)
{
	struct bc_key k;
	int fd, rc;

	fd = backing_open(i, O_RDWR);
	if (fd < 0)
		return fd;
	pthread_rwlock_wrlock(&i->io);
	pthread_mutex_lock(&i->mu);
	rc = fsio_key_load(fd, fs->cipher, i->cl->key, true, &k);
	if (rc == 0)
		rc = fsio_rewrap(fd, &k, to->key);
	if (rc == 0)
		i->cl = to;
	pthread_mutex_unlock(&i->mu);
	pthread_rwlock_unlock(&i->io);
	bc_key_wipe(&k);
	close(fd);
	return rc;
}

/* Rewraps the key of regular file stored in d (stat st) from client
 * 'from' to client 'to', through its inode if it is known, else through
 * a temporary one. */
static int rewrap_at(struct fs *fs, struct inode *d, const char *stored,
                     const struct stat *st, struct client *from,
                     struct client *to)
{
	struct inode tmp = { .fd = -1, .cl = from, .type = S_IFREG };
	struct inode *i = inode_find(fs, st->st_dev, st->st_ino);
	int rc;

	/* The kernel holds the source entry across rename, so a known
	 * inode cannot be forgotten meanwhile. */
	if (i)
		return move_client(fs, i, to);
	tmp.fd = openat(d->fd, stored, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (tmp.fd < 0)
		return -errno;
	pthread_mutex_init(&tmp.mu, NULL);
	pthread_rwlock_init(&tmp.io, NULL);
	rc = move_client(fs, &tmp, to);
	close(tmp.fd);
	pthread_mutex_destroy(&tmp.mu);
	pthread_rwlock_destroy(&tmp.io);
	return rc;
}

/* The inode of backing st, if known, is now name in d. */
static void moved(struct fs *fs, const struct stat *st, struct inode *d,
                  const char *name)
{
	struct inode *i;

	pthread_mutex_lock(&fs->lock);
	i = table_find(fs, st->st_dev, st->st_ino);
	if (i != NULL)
		i->nlookup++;       /* held while it is placed */
	pthread_mutex_unlock(&fs->lock);
	if (i == NULL)
		return;
	inode_place(fs, i, d, name);
	inode_unref(fs, i, 1);
}

/*
 * A rename needs rename on both names. A client folder is renamed within
 * the root and its new name is registered; anything else stays below the
 * root. The object must not become more visible, readable or writable
 * to the caller under its new name (both ways for an exchange). Replacing
 * an existing entry also deletes it, which the caller checks once it
 * knows there is one.
 */
static int rename_allowed(fuse_req_t req, struct inode *d, const char *name,
                          struct inode *nd, const char *newname,
                          unsigned int flags)
{
	struct fs *fs = fs_of(req);
	struct access a = { .action = "rename" }, b;
	struct place *from = &a.pl, to;
	int rc;

	if ((d->kind == IK_ROOT) != (nd->kind == IK_ROOT))
		return -EXDEV;
	if ((rc = place_of(fs, d, name, from)) != 0 ||
	    (rc = place_of(fs, nd, newname, &to)) != 0)
		return rc == -ENOENT ? -EACCES : rc;
	if (d->kind == IK_ROOT)
		rc = decide(req, from, POL_RENAME, &a.why) ||
		     decide(req, &to, POL_REGISTER, &a.why) ? -EACCES : 0;
	else if ((rc = decide(req, from, POL_RENAME, &a.why)) == 0 &&
	         (rc = decide(req, &to, POL_RENAME, &a.why)) == 0 &&
	         ((rc = no_widening(req, from, &to)) != 0 ||
	          ((flags & RENAME_EXCHANGE) &&
	           (rc = no_widening(req, &to, from)) != 0)))
		a.detail = "would widen access";
	/* Each client's records tell its whole story: a move between two
	 * clients is recorded in both. */
	if (strcmp(from->client, to.client) == 0 || d->kind == IK_ROOT) {
		a.path2 = d->kind == IK_ROOT ? to.client : to.path;
		return audit_access(req, &a, rc, rc == -EACCES);
	}
	b = a;
	b.pl = to;
	a.detail = a.detail ? a.detail : "moved to another client";
	b.detail = b.detail ? b.detail : "moved from another client";
	rc = audit_access(req, &a, rc, rc == -EACCES);
	return audit_access(req, &b, rc, rc == -EACCES);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
                      fuse_ino_t newparent, const char *newname,
                      unsigned int flags)
{
	struct fs *fs = fs_of(req);
	struct inode *d = ino_of(req, parent), *nd = ino_of(req, newparent);
	struct client *from = client_of(d), *to = client_of(nd);
	struct sname s, ns;
	struct stat st, tst;
	struct access ra = { .action = "replace" };
	char job[ERASE_IDLEN + 1];
	bool made = false, target, doomed;
	int rc;

	if ((rc = view_change(req, "rename", d, name)) != 0 ||
	    (rc = view_change(req, "rename", nd, newname)) != 0 ||
	    (rc = trash_check(req, "rename", nd, newname)) != 0 ||
	    (rc = rename_allowed(req, d, name, nd, newname, flags)) != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if ((rc = stored_name(d, name, &s)) != 0 ||
	    (rc = stored_name(nd, newname, &ns)) != 0)
		goto out;
	if (fstatat(d->fd, s.stored, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		rc = -errno;
		goto out;
	}
	/* Client folders are the keying unit: a file changes client by
	 * rewrapping its key; a folder or symlink cannot, so the caller
	 * (mv) copies instead. A client folder stays at the top
	 * (rename_allowed). */
	if (from != to && (!S_ISREG(st.st_mode) || st.st_nlink > 1 ||
	                   (flags & RENAME_EXCHANGE))) {
		rc = -EXDEV;
		goto out;
	}
	target = fstatat(nd->fd, ns.stored, &tst, AT_SYMLINK_NOFOLLOW) == 0;
	/* A regular file replaced by the rename is destroyed: that needs
	 * delete and write on it. */
	doomed = target && !(flags & RENAME_EXCHANGE) && S_ISREG(tst.st_mode) &&
	         tst.st_nlink == 1 && tst.st_ino != st.st_ino &&
	         fs->eraser != NULL;
	if (target && !(flags & RENAME_EXCHANGE) &&
	    (rc = hold_check(req, "replace", nd, newname)) != 0)
		goto out;
	if (target && !(flags & RENAME_EXCHANGE) &&
	    (rc = allow_as(req, &ra, nd, newname, S_ISREG(tst.st_mode)
	                   ? POL_DELETE | POL_WRITE : POL_DELETE)) != 0)
		goto out;
	if (S_ISDIR(st.st_mode) && !(flags & RENAME_EXCHANGE) &&
	    (rc = clear_target_dir(nd, ns.stored, flags)) != 0)
		goto out;
	if ((rc = side_put(nd, &ns, &made)) != 0)
		goto out;
	if (doomed && (rc = destroy_queue(req, nd, ns.stored, true, &ra,
	                                  "replace", job)) != 0)
		goto out;
	if (from != to && (rc = rewrap_at(fs, d, s.stored, &st, from, to))) {
		if (doomed)
			eraser_abort(fs->eraser, job);
		goto out;
	}
	if (renameat2(d->fd, s.stored, nd->fd, ns.stored, flags) != 0) {
		rc = -errno;
		if (doomed)
			eraser_abort(fs->eraser, job);
		/* The file stays where it was: give it its key back. */
		if (from != to && rewrap_at(fs, d, s.stored, &st, to, from))
			warn_integrity("file key could not be restored after "
			               "a failed move", d);
		goto out;
	}
	if (doomed)
		eraser_release(fs->eraser, job);
	if (!(flags & RENAME_EXCHANGE) &&
	    !(d == nd && strcmp(s.stored, ns.stored) == 0))
		side_drop(d, &s);
	made = false;
	moved(fs, &st, nd, newname);
	if (target && (flags & RENAME_EXCHANGE))
		moved(fs, &tst, d, name);
out:
	if (made)
		side_drop(nd, &ns);
	audit_failed(req, "rename", d, name, rc, NULL);
	fuse_reply_err(req, -rc);
}

/* ---- directories ----------------------------------------------------- */

static void op_opendir(fuse_req_t req, fuse_ino_t n,
                       struct fuse_file_info *fi)
{
	struct inode *i = ino_of(req, n);
	struct dh *h;
	int fd, rc;

	if (is_view(i))
		rc = i->kind == IK_VIEW ? view_allow(req, "list", i) : -ENOTDIR;
	else
		rc = allow(req, "list", i, NULL, POL_LIST);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->cache_readdir = 0;
	if (is_view(i)) {
		fi->fh = (uint64_t)(uintptr_t)h;
		fuse_reply_open(req, fi);
		return;
	}
	fd = openat(i->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (h->dp = fdopendir(fd)) == NULL) {
		rc = errno;
		if (fd >= 0)
			close(fd);
		free(h);
		fuse_reply_err(req, rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	fuse_reply_open(req, fi);
}

/* The plaintext name of backing entry e of directory d; 0 if it is one
 * of ours, 1 to skip it. */
static int entry_name(struct inode *d, const char *stored, char *out)
{
	const struct nc_key *k;
	const unsigned char *dirid;
	char full[NC_ENC_MAX];
	const char *enc = stored;
	size_t len = strlen(stored);
	struct stat st;
	int rc;

	if (!nc_is_entry(stored))
		return 1;
	if ((rc = dir_keys(d, &k, &dirid)) != 0)
		return rc;
	if (stored[0] == '.') {
		char side[NC_LONG_LEN + 1];
		int fd;
		ssize_t n;

		memcpy(side, NC_SIDE_PREFIX, 2);
		memcpy(side + 2, stored + 2, NC_LONG_LEN - 1);
		fd = openat(d->fd, side, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			goto bad;
		n = fstat(fd, &st) == 0 && st.st_size < NC_ENC_MAX
		    ? read(fd, full, NC_ENC_MAX - 1) : -1;
		close(fd);
		if (n <= (ssize_t)NC_MAX_STORED)
			goto bad;
		full[n] = '\0';
		char check[NC_LONG_LEN + 1];
		nc_long_name(full, (size_t)n, NC_LONG_PREFIX, check);
		if (strcmp(check, stored) != 0)
			goto bad;
		enc = full;
		len = (size_t)n;
	}
	if (nc_decrypt(k, dirid, enc, len, out) >= 0)
		return 0;
bad:
	warn_integrity("entry with a name that does not authenticate hidden",
	               d);
	return 1;
}

/* Whether the caller may see entry name (stored as stored) of directory
 * d, whose place is dpl. */
static bool visible(fuse_req_t req, struct inode *d, const struct place *dpl,
                    const char *stored, const char *name)
{
	struct place pl;
	struct stat st;
	size_t len, m = strlen(name);

	if (d->kind == IK_ROOT) {
		memset(&pl, 0, sizeof(pl));
		if (m > NAME_MAX)
			return false;
		memcpy(pl.client, name, m + 1);
		if (fstatat(d->fd, stored, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			pl.owner = st.st_uid;
			pl.has_owner = true;
		}
	} else {
		pl = *dpl;
		len = strlen(pl.path);
		if (len + m + 2 > sizeof(pl.path))
			return false;
		if (len > 0)
			pl.path[len++] = '/';
		memcpy(pl.path + len, name, m + 1);
	}
	return grants(req, &pl, POL_LIST, NULL) == POL_LIST;
}

/* Adds the entry of view inode i to a listing; sets *used to what it
 * took or, if it does not fit, to more than rem and drops the lookup
 * reference readdirplus took. */
static int view_dirent(fuse_req_t req, struct inode *d, const char *name,
                       bool plus, char *p, size_t rem, off_t next,
                       size_t *used)
{
	struct fuse_entry_param e;
	struct inode *child = NULL;
	bool dir = d->kind != IK_VIEW;
	int f = dir ? 0 : av_file_find(name), rc;

	memset(&e, 0, sizeof(e));
	e.attr.st_ino = view_ino(d->ino, dir ? IK_VIEW : IK_VFILE,
	                         (unsigned)f);
	e.attr.st_mode = dir ? S_IFDIR : S_IFREG;
	if (plus && (rc = view_lookup(req, d, name, &e, &child)) != 0)
		return rc;
	*used = plus ? fuse_add_direntry_plus(req, p, rem, name, &e, next)
	             : fuse_add_direntry(req, p, rem, name, &e.attr, next);
	if (*used > rem && child != NULL)
		inode_unref(fs_of(req), child, 1);
	return 0;
}

/* Lists view directory d: ".", "..", then its files; an offset is the
 * index of the next entry. */
static void view_readdir(fuse_req_t req, struct inode *d, size_t size,
                         off_t off, bool plus)
{
	char *buf = calloc(1, size), *p = buf;
	size_t rem = size, used;

	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (off_t k = off < 0 ? 0 : off; k < 2 + AV_NFILES; k++) {
		if (k < 2) {
			struct fuse_entry_param e = { .attr.st_mode = S_IFDIR };
			const char *dot = k ? ".." : ".";

			used = plus ? fuse_add_direntry_plus(req, p, rem, dot,
			                                     &e, k + 1)
			            : fuse_add_direntry(req, p, rem, dot,
			                                &e.attr, k + 1);
		} else if (view_dirent(req, d, av_file_name((unsigned)k - 2),
		                       plus, p, rem, k + 1, &used) != 0) {
			continue;
		}
		if (used > rem)
			break;
		p += used;
		rem -= used;
	}
	fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void readdir_common(fuse_req_t req, fuse_ino_t n, size_t size,
                           off_t off, struct fuse_file_info *fi, bool plus)
{
	struct fs *fs = fs_of(req);
	struct inode *d = ino_of(req, n);
	struct dh *h = (struct dh *)(uintptr_t)fi->fh;
	char *buf, *p, name[NC_NAME_MAX + 1];
	struct place dpl;
	size_t rem = size;
	int err = 0;

	if (h->dp == NULL) {
		view_readdir(req, d, size, off, plus);
		return;
	}
	/* Entries the caller may not list are left out. */
	if ((err = place_of(fs, d, NULL, &dpl)) != 0) {
		fuse_reply_err(req, err == -ENOENT ? EACCES : -err);
		return;
	}
	buf = calloc(1, size);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off != h->offset) {
		seekdir(h->dp, off);
		h->entry = NULL;
		h->offset = off;
	}
	p = buf;
	for (;;) {
		struct fuse_entry_param e;
		struct inode *child = NULL;
		const char *shown;
		size_t used;
		off_t next;
		int rc;

		if (h->entry == NULL) {
			errno = 0;
			h->entry = readdir(h->dp);
			if (h->entry == NULL) {
				err = errno;
				break;
			}
		}
		next = h->entry->d_off;
		shown = h->entry->d_name;
		if (strcmp(shown, ".") && strcmp(shown, "..")) {
			rc = entry_name(d, h->entry->d_name, name);
			if (rc != 0) {
				if (rc < 0) {
					err = -rc;
					break;
				}
				goto skip;
			}
			if (view_name(fs, d, name) ||
			    !visible(req, d, &dpl, h->entry->d_name, name))
				goto skip;
			shown = name;
		}
		memset(&e, 0, sizeof(e));
		e.attr.st_ino = h->entry->d_ino;
		e.attr.st_mode = (mode_t)h->entry->d_type << 12;
		if (plus && shown == name) {
			if (lookup_stored(fs, d, h->entry->d_name, name, &e,
			                  &child) != 0)
				goto skip;
		}
		used = plus ? fuse_add_direntry_plus(req, p, rem, shown, &e,
		                                     next)
		            : fuse_add_direntry(req, p, rem, shown, &e.attr,
		                                next);
		if (used > rem) {
			if (child)
				inode_unref(fs, child, 1);
			break;
		}
		/* The view follows "..", with the same offset: both or
		 * neither go into this reply. */
		if (strcmp(shown, "..") == 0 && view_name(fs, d, AV_DIR) &&
		    view_visible(req, d)) {
			size_t vused = 0;

			if (view_dirent(req, d, AV_DIR, plus, p + used,
			                rem - used, next, &vused) == 0 &&
			    vused > rem - used)
				break;
			used += vused;
		}
		p += used;
		rem -= used;
skip:
		h->entry = NULL;
		h->offset = next;
	}
	if (err && rem == size)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t n, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
	readdir_common(req, n, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t n, size_t size,
                           off_t off, struct fuse_file_info *fi)
{
	readdir_common(req, n, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t n,
                          struct fuse_file_info *fi)
{
	struct dh *h = (struct dh *)(uintptr_t)fi->fh;

	(void)n;
	if (h->dp != NULL)
		closedir(h->dp);
	free(h);
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t n, int datasync,
                        struct fuse_file_info *fi)
{
	struct dh *h = (struct dh *)(uintptr_t)fi->fh;
	int fd = h->dp != NULL ? dirfd(h->dp) : -1;

	(void)n;
	if (fd < 0)
		fuse_reply_err(req, 0);         /* a .audit directory */
	else
		fuse_reply_err(req, (datasync ? fdatasync(fd) : fsync(fd))
		                    ? errno : 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t n)
{
	struct statvfs sv;

	(void)n;
	if (fstatvfs(fs_of(req)->root.fd, &sv) != 0) {
		fuse_reply_err(req, errno);
		return;
	}
	sv.f_namemax = NC_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

static void op_access(fuse_req_t req, fuse_ino_t n, int mask)
{
	/* The kernel has checked the mode bits (default_permissions). */
	(void)n; (void)mask;
	fuse_reply_err(req, 0);
}

/* ---- extended attributes --------------------------------------------- */

/* user.NAME is stored as user.<encrypted NAME>, its value sealed and
 * bound to that stored name. Other namespaces are not offered. */
static const unsigned char xattr_dirid[NC_DIRIDBYTES] = "xattr-names-v1.";

static int xattr_stored(struct inode *i, const char *name, char *out)
{
	char enc[NC_ENC_MAX];
	int rc;

	if (strncmp(name, XATTR_USER, 5) != 0 || name[5] == '\0')
		return -EOPNOTSUPP;
	rc = nc_encrypt(client_of(i)->names, xattr_dirid, name + 5,
	                strlen(name + 5), enc);
	if (rc < 0)
		return rc == -ENAMETOOLONG ? -ERANGE : rc;
	if (rc + 5 > XATTR_NAME_MAX)
		return -ERANGE;
	memcpy(out, XATTR_USER, 5);
	memcpy(out + 5, enc, (size_t)rc + 1);
	return 0;
}

/* ACL entry tags (the Linux xattr format of acl(5)). */
enum { ACL_TAG_USER_OBJ = 0x01, ACL_TAG_USER = 0x02, ACL_TAG_GROUP_OBJ = 0x04,
       ACL_TAG_GROUP = 0x08, ACL_TAG_MASK = 0x10, ACL_TAG_OTHER = 0x20 };

static unsigned acl_tag(const unsigned char *e)
{
	return e[0] | (unsigned)e[1] << 8;
}

/* Whether v (n bytes) is a well-formed ACL value of version 2. */
static bool acl_valid(const unsigned char *v, size_t n)
{
	return n >= 4 && (n - 4) % 8 == 0 && v[0] == 2 && !v[1] && !v[2] &&
	       !v[3];
}

/* Whether the named entries (users and groups) of two ACL values are the
 * same, in the same (canonical) order. */
static bool acl_same_named(const unsigned char *a, size_t na,
                           const unsigned char *b, size_t nb)
{
	size_t i = 4, j = 4;

	for (;;) {
		while (i < na && acl_tag(a + i) != ACL_TAG_USER &&
		       acl_tag(a + i) != ACL_TAG_GROUP)
			i += 8;
		while (j < nb && acl_tag(b + j) != ACL_TAG_USER &&
		       acl_tag(b + j) != ACL_TAG_GROUP)
			j += 8;
		if (i >= na || j >= nb)
			return i >= na && j >= nb;
		if (memcmp(a + i, b + j, 8) != 0)
			return false;
		i += 8;
		j += 8;
	}
}

/* The mode bits an ACL value gives: owner, group and other entries. The
 * mask is not the group class here: in the policy's view it only covers
 * the named entries, which the mode does not hold. */
static mode_t acl_mode(const unsigned char *v, size_t n)
{
	unsigned u = 0, g = 0, o = 0;

	for (size_t k = 4; k + 8 <= n; k += 8) {
		unsigned perm = v[k + 2] & 7;

		switch (acl_tag(v + k)) {
		case ACL_TAG_USER_OBJ: u = perm; break;
		case ACL_TAG_GROUP_OBJ: g = perm; break;
		case ACL_TAG_OTHER: o = perm; break;
		}
	}
	return (mode_t)(u << 6 | g << 3 | o);
}

/*
 * The ACL that shows who the policy in force lets into i (aclview.h),
 * into *out (malloc'ed); for display only, the kernel does not enforce
 * it. Returns its length or -errno.
 */
static ssize_t acl_value(fuse_req_t req, struct inode *i, unsigned char **out)
{
	struct fs *fs = fs_of(req);
	struct guard *g = fs->guard;
	const struct caller *c = NULL, *o = NULL;
	const struct aclview_subjects *sj = NULL;
	struct aclview_target t;
	struct place pl;
	struct stat st;
	ssize_t n;
	int rc;

	*out = NULL;
	if (i->kind == IK_ROOT || S_ISLNK(i->type))
		return -ENODATA;
	if ((rc = place_of(fs, i, NULL, &pl)) != 0)
		return rc == -ENOENT ? -ENODATA : rc;
	if (decide(req, &pl, POL_LIST, NULL) != 0)
		return -EACCES;
	if (fstatat(i->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	c = guard_caller(g, fuse_req_ctx(req)->uid);
	if (c == NULL || (sj = guard_subjects(g, c)) == NULL) {
		n = -EIO;
		goto out;
	}
	o = pl.has_owner ? guard_caller(g, pl.owner) : NULL;
	t.client = pl.client;
	t.client_owner = o != NULL ? o->user : NULL;
	t.path = pl.path;
	t.mode = st.st_mode;
	t.uid = st.st_uid;
	t.when = now_tm();
	n = aclview_build(c->policy, sj, &t, NULL, 0);
	if (n >= 0 && (*out = malloc((size_t)n)) == NULL)
		n = -ENOMEM;
	if (n >= 0)
		n = aclview_build(c->policy, sj, &t, *out, (size_t)n);
	if (n < 0) {
		free(*out);
		*out = NULL;
	}
out:
	guard_subjects_put(g, sj);
	guard_caller_put(g, o);
	guard_caller_put(g, c);
	return n;
}

/* getfacl. Replies and returns 0, or returns an error to reply. */
static int acl_view(fuse_req_t req, struct inode *i, size_t size)
{
	unsigned char *v;
	ssize_t n = acl_value(req, i, &v);

	if (n >= 0 && size > 0 && (size_t)n > size)
		n = -ERANGE;
	if (n >= 0 && size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else if (n >= 0)
		fuse_reply_buf(req, (const char *)v, (size_t)n);
	free(v);
	return n < 0 ? (int)n : 0;
}

/*
 * setfacl and the ACL copy of cp -a. Who may access client files is set
 * in the policy files, never by ACLs, so:
 * - an ACL with only the owner, group and other entries says no more
 *   than the mode: "not supported", as on a filesystem without ACLs, so
 *   that callers fall back to chmod;
 * - one whose named entries are exactly the policy's view of i (cp -a
 *   copying a file of the mount) is accepted for its mode bits, as a
 *   chmod by the owner;
 * - anything else is refused with EPERM, and the log says why.
 * Default ACLs (of directories) are never set. Returns 0 or -errno.
 */
static int acl_set(fuse_req_t req, struct inode *i, const char *name,
                   const unsigned char *v, size_t size)
{
	unsigned char *view = NULL;
	bool minimal = true;
	struct stat st;
	char path[64];
	ssize_t n;
	int rc = -EPERM;

	if (!acl_valid(v, size))
		return -EINVAL;
	for (size_t k = 4; k < size; k += 8)
		if (acl_tag(v + k) == ACL_TAG_USER ||
		    acl_tag(v + k) == ACL_TAG_GROUP)
			minimal = false;
	if (minimal)
		return -EOPNOTSUPP;
	if (strcmp(name, XATTR_ACL_ACCESS) == 0 &&
	    (n = acl_value(req, i, &view)) >= 0 &&
	    acl_same_named(v, size, view, (size_t)n)) {
		if (fstatat(i->fd, "", &st, AT_EMPTY_PATH) != 0)
			rc = -errno;
		else if (fuse_req_ctx(req)->uid != 0 &&
		         fuse_req_ctx(req)->uid != st.st_uid)
			rc = -EPERM;
		else if ((rc = allow(req, "chmod", i, NULL, POL_WRITE)) == 0) {
			procpath(i->fd, path);
			rc = chmod(path, (st.st_mode & 07000) |
			           acl_mode(v, size)) ? -errno : 0;
		}
		free(view);
		return rc;
	}
	free(view);
	syslog(LOG_NOTICE, "setfacl refused: who may access client files is "
	       "set in the role policy files, not by ACLs");
	return -EPERM;
}

static bool is_acl(const char *name)
{
	return strcmp(name, XATTR_ACL_ACCESS) == 0 ||
	       strcmp(name, XATTR_ACL_DEFAULT) == 0;
}

static void op_setxattr(fuse_req_t req, fuse_ino_t n, const char *name,
                        const char *value, size_t size, int flags)
{
	struct inode *i = ino_of(req, n);
	char stored[XATTR_NAME_MAX + 1], path[64];
	unsigned char *sealed = NULL;
	int rc;

	if ((rc = view_change(req, "setxattr", i, NULL)) != 0)
		goto out;
	if (is_acl(name)) {
		rc = acl_set(req, i, name, (const unsigned char *)value, size);
		goto out;
	}
	if ((rc = allow(req, "setxattr", i, NULL, POL_WRITE)) != 0 ||
	    (rc = xattr_stored(i, name, stored)) != 0)
		goto out;
	if (S_ISLNK(i->type)) {
		rc = -EPERM;
		goto out;
	}
	if (size > XATTR_MAX - NC_SEAL_OVERHEAD) {
		rc = -E2BIG;
		goto out;
	}
	sealed = malloc(size + NC_SEAL_OVERHEAD);
	if (sealed == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	nc_seal(client_of(i)->names, stored, strlen(stored), value, size,
	        sealed);
	procpath(i->fd, path);
	if (setxattr(path, stored, sealed, size + NC_SEAL_OVERHEAD, flags))
		rc = -errno;
out:
	free(sealed);
	fuse_reply_err(req, -rc);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t n, const char *name,
                        size_t size)
{
	struct inode *i = ino_of(req, n);
	char stored[XATTR_NAME_MAX + 1], path[64];
	unsigned char *sealed = NULL, *plain = NULL;
	ssize_t len;
	int rc;

	/* Only user.* and the ACL view are offered. "Not supported" rather
	 * than "no such attribute" for the rest (security.selinux above all)
	 * lets ls -l and the like stop asking for every file of the mount. */
	if (strncmp(name, XATTR_USER, 5) != 0 && !is_acl(name)) {
		rc = -EOPNOTSUPP;
		goto out;
	}
	if (is_view(i)) {
		rc = -ENODATA;
		goto out;
	}
	if (strcmp(name, XATTR_ACL_ACCESS) == 0) {
		if ((rc = acl_view(req, i, size)) == 0)
			rc = 1;
		goto out;
	}
	if ((rc = xattr_stored(i, name, stored)) != 0) {
		/* Left here: the default ACL (no directory has one) and a
		 * bare "user.", neither of which exists. */
		rc = rc == -EOPNOTSUPP ? -ENODATA : rc;
		goto out;
	}
	/* Extended attributes are content: reading them needs read. */
	if ((rc = allow(req, NULL, i, NULL, POL_READ)) != 0)
		goto out;
	if (S_ISLNK(i->type)) {
		rc = -ENODATA;
		goto out;
	}
	sealed = malloc(XATTR_MAX);
	plain = malloc(XATTR_MAX);
	if (sealed == NULL || plain == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	procpath(i->fd, path);
	len = getxattr(path, stored, sealed, XATTR_MAX);
	if (len < 0) {
		rc = -errno;
		goto out;
	}
	rc = nc_open(client_of(i)->names, stored, strlen(stored), sealed,
	             (size_t)len, plain);
	if (rc < 0) {
		warn_integrity("xattr value does not authenticate", NULL);
		goto out;
	}
	if (size == 0) {
		fuse_reply_xattr(req, (size_t)rc);
		rc = 1;
	} else if ((size_t)rc > size) {
		rc = -ERANGE;
	} else {
		fuse_reply_buf(req, (const char *)plain, (size_t)rc);
		rc = 1;
	}
out:
	if (plain)
		sodium_memzero(plain, XATTR_MAX);
	free(plain);
	free(sealed);
	if (rc <= 0)
		fuse_reply_err(req, -rc);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t n, size_t size)
{
	struct inode *i = ino_of(req, n);
	const struct nc_key *k = client_of(i)->names;
	char *raw = NULL, *out = NULL, path[64], name[NC_NAME_MAX + 1];
	ssize_t len = 0;
	size_t used = 0;
	int rc = 0;

	if (is_view(i) || S_ISLNK(i->type) ||
	    allow(req, NULL, i, NULL, POL_READ) != 0)
		goto reply;
	procpath(i->fd, path);
	len = listxattr(path, NULL, 0);
	if (len < 0) {
		rc = -errno;
		goto reply;
	}
	raw = malloc((size_t)len + 1);
	out = malloc((size_t)len + 1);
	if (raw == NULL || out == NULL) {
		rc = -ENOMEM;
		goto reply;
	}
	len = listxattr(path, raw, (size_t)len);
	if (len < 0) {
		rc = -errno;
		goto reply;
	}
	for (char *p = raw; p < raw + len; p += strlen(p) + 1) {
		int m;

		if (strncmp(p, XATTR_USER, 5) != 0)
			continue;
		m = nc_decrypt(k, xattr_dirid, p + 5, strlen(p + 5), name);
		if (m < 0)
			continue;
		/* "user." + name + NUL is never longer than the stored form. */
		used += (size_t)snprintf(out + used, (size_t)len + 1 - used,
		                         XATTR_USER "%s", name) + 1;
	}
reply:
	if (rc != 0)
		fuse_reply_err(req, -rc);
	else if (size == 0)
		fuse_reply_xattr(req, used);
	else if (used > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, out, used);
	free(raw);
	free(out);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t n, const char *name)
{
	struct inode *i = ino_of(req, n);
	char stored[XATTR_NAME_MAX + 1], path[64];
	int rc = 0;

	if ((rc = view_change(req, "removexattr", i, NULL)) != 0)
		goto out;
	/* Removing the view would say "no policy here": refused. */
	if (is_acl(name))
		rc = strcmp(name, XATTR_ACL_ACCESS) == 0 ? -EPERM : -ENODATA;
	if (rc == 0 && (rc = allow(req, "removexattr", i, NULL, POL_WRITE)) == 0 &&
	    (rc = xattr_stored(i, name, stored)) == 0) {
		procpath(i->fd, path);
		if (S_ISLNK(i->type))
			rc = -ENODATA;
		else if (removexattr(path, stored) != 0)
			rc = -errno;
	}
out:
	fuse_reply_err(req, -rc);
}

/* ---- setup ----------------------------------------------------------- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;

	if (conn->capable & FUSE_CAP_SPLICE_READ)
		conn->want &= ~FUSE_CAP_SPLICE_READ;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	if (conn->capable & FUSE_CAP_READDIRPLUS_AUTO)
		conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
	if (fs->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	conn->max_write = 1u << 20;
	conn->max_readahead = 1u << 20;
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.access = op_access,
	.create = op_create,
	.fallocate = op_fallocate,
};

const struct fuse_lowlevel_ops *fs_ops(void)
{
	return &ops;
}

/* ---- for the control socket ----------------------------------------- */

/* A path inside a client folder as the policy takes it: "" or
 * components of 1 to NAME_MAX bytes joined by '/', none "." or "..". */
static bool plain_path_ok(const char *path)
{
	const char *p = path, *slash;
	size_t n;

	if (strlen(path) >= PATH_MAX)
		return false;
	if (*p == '\0')
		return true;
	for (;;) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n > NAME_MAX || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (slash == NULL)
			return true;
		p = slash + 1;
	}
}

int fs_decide_as(struct fs *fs, uid_t uid, const char *client,
                 const char *path, unsigned want,
                 struct policy_decision *why)
{
	struct place pl;
	int rc;

	memset(&pl, 0, sizeof(pl));
	if (why != NULL)
		snprintf(why->rule, sizeof(why->rule), "invalid request");
	if (client == NULL || *client == '\0' || strchr(client, '/') ||
	    strcmp(client, ".") == 0 || strcmp(client, "..") == 0 ||
	    path == NULL || !plain_path_ok(path))
		return -EINVAL;
	if ((rc = place_root_child(fs, client, &pl)) != 0)
		return rc;
	strcpy(pl.path, path);
	return decide_uid(fs, uid, &pl, want, why);
}

#define READER_DEPTH 256u

struct fs_reader {
	struct fs *fs;
	struct inode *walk[READER_DEPTH];   /* each holds one lookup ref */
	size_t n;
	int fd;
	uint64_t size;
};

void fs_reader_close(struct fs_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0) {
		key_unref(r->walk[r->n - 1]);
		close(r->fd);
	}
	while (r->n > 0)
		inode_unref(r->fs, r->walk[--r->n], 1);
	free(r);
}

int fs_reader_open(struct fs *fs, const char *client, const char *path,
                   struct fs_reader **out)
{
	struct fs_reader *r;
	char comp[NAME_MAX + 1];
	const char *p = path;
	int rc;

	if (client == NULL || path == NULL || *path == '\0' ||
	    !plain_path_ok(path) || strchr(client, '/'))
		return -EINVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	r->fs = fs;
	r->fd = -1;
	snprintf(comp, sizeof(comp), "%s", client);
	for (;;) {
		struct inode *d = r->n ? r->walk[r->n - 1] : &fs->root;
		struct fuse_entry_param e;
		struct sname s;
		struct inode *i;

		if (r->n == READER_DEPTH) {
			rc = -ENAMETOOLONG;
			goto fail;
		}
		if ((rc = stored_name(d, comp, &s)) != 0 ||
		    (rc = lookup_stored(fs, d, s.stored, comp, &e, &i)) != 0)
			goto fail;
		r->walk[r->n++] = i;
		if (*p == '\0')
			break;
		if (!S_ISDIR(i->type)) {
			rc = -ENOTDIR;
			goto fail;
		}
		size_t len = strcspn(p, "/");

		memcpy(comp, p, len);
		comp[len] = '\0';
		p += len + (p[len] == '/');
	}
	struct inode *f = r->walk[r->n - 1];

	if (!S_ISREG(f->type)) {
		rc = S_ISDIR(f->type) ? -EISDIR : -EINVAL;
		goto fail;
	}
	if ((rc = backing_open(f, O_RDONLY)) < 0)
		goto fail;
	r->fd = rc;
	if ((rc = key_ref(fs, f, r->fd, false)) != 0) {
		close(r->fd);
		r->fd = -1;
		goto fail;
	}
	if ((rc = fsio_size(r->fd, fs->cipher, &r->size)) != 0)
		goto fail;
	*out = r;
	return 0;
fail:
	fs_reader_close(r);
	return rc;
}

uint64_t fs_reader_size(const struct fs_reader *r)
{
	return r->size;
}

ssize_t fs_reader_pread(void *arg, void *buf, size_t len, uint64_t off)
{
	struct fs_reader *r = arg;
	struct inode *i = r->walk[r->n - 1];
	struct bc_key *k;
	ssize_t n = 0;

	pthread_rwlock_rdlock(&i->io);
	pthread_mutex_lock(&i->mu);
	k = i->key;
	pthread_mutex_unlock(&i->mu);
	if (k != NULL)
		n = fsio_read(r->fd, k, buf, len, off);
	pthread_rwlock_unlock(&i->io);
	if (n == -EIO)
		warn_integrity("file block does not authenticate", NULL);
	return n;
}

int fs_record_as(struct fs *fs, uid_t uid, pid_t pid,
                 const struct fs_event *e)
{
	struct access a = { .action = e->action, .path2 = e->path2,
	                    .detail = e->detail };

	if (fs->audit == NULL)
		return -EIO;
	a.pl.root = e->client == NULL;
	if (e->client != NULL &&
	    (strlen(e->client) > NAME_MAX ||
	     (e->path != NULL && strlen(e->path) >= PATH_MAX)))
		return -ENAMETOOLONG;
	if (e->client != NULL)
		strcpy(a.pl.client, e->client);
	if (e->path != NULL)
		strcpy(a.pl.path, e->path);
	if (e->rule != NULL)
		snprintf(a.why.rule, sizeof(a.why.rule), "%s", e->rule);
	return record(fs, uid, pid, true, &a, e->outcome, e->err, e->bytes,
	              true);
}

struct audit *fs_audit(struct fs *fs)
{
	return fs->audit;
}

void fs_set_monitor(struct fs *fs, struct monitor *m)
{
	fs->monitor = m;
}

int fs_is_admin(struct fs *fs, uid_t uid, char *why, size_t cap)
{
	/* admin at the mount root: over every client, like the root's
	 * .audit, and a deny of admin anywhere takes it away. */
	struct place root = { .root = true };
	struct policy_decision d;
	int rc = decide_uid(fs, uid, &root, POL_ADMIN, &d);

	snprintf(why, cap, "%s", d.rule);
	return rc == 0;
}

int fs_attach_audit(struct fs *fs, struct audit *a)
{
	int rc = av_new(a, vault_dir_fd(fs->v), &fs->av);

	if (rc == 0 &&
	    (rc = eraser_open(fs->v, a, erase_busy, fs, &fs->eraser)) != 0) {
		av_free(fs->av);
		fs->av = NULL;
	}
	if (rc == 0)
		fs->audit = a;
	return rc;
}

void fs_set_session(struct fs *fs, struct fuse_session *se)
{
	fs->se = se;
}

void fs_detach_audit(struct fs *fs)
{
	eraser_close(fs->eraser);
	fs->eraser = NULL;
	av_free(fs->av);
	fs->av = NULL;
	fs->audit = NULL;
}

int fs_new(struct vault *v, const struct fs_options *o, struct fs **out)
{
	struct fs *fs;
	struct stat st;
	int rc;

	fs = calloc(1, sizeof(*fs));
	if (fs == NULL)
		return -ENOMEM;
	fs->v = v;
	fs->guard = o->guard;
	fs->cipher = vault_cipher(v);
	fs->timeout = o->timeout;
	fs->writeback = o->writeback;
	clock_gettime(CLOCK_REALTIME, &fs->started);
	pthread_mutex_init(&fs->lock, NULL);
	if ((rc = client_init(&fs->root_client, vault_root_key(v))) != 0)
		goto fail;
	fs->root.fd = openat(vault_data_fd(v), ".", O_PATH | O_DIRECTORY |
	                     O_CLOEXEC);
	if (fs->root.fd < 0 || fstat(fs->root.fd, &st) != 0) {
		rc = -errno;
		goto fail;
	}
	fs->root.dev = st.st_dev;
	fs->root.ino = st.st_ino;
	fs->root.type = S_IFDIR;
	fs->root.kind = IK_ROOT;
	fs->root.cl = &fs->root_client;
	fs->root.nlookup = 2;
	pthread_mutex_init(&fs->root.mu, NULL);
	pthread_rwlock_init(&fs->root.io, NULL);
	if ((rc = vault_dirid_read(fs->root.fd, fs->root.dirid)) != 0)
		goto fail;
	fs->root.has_dirid = true;
	*out = fs;
	return 0;
fail:
	client_wipe(&fs->root_client);
	if (fs->root.fd > 0)
		close(fs->root.fd);
	free(fs);
	return rc;
}

void fs_free(struct fs *fs)
{
	struct client *c, *cn;
	struct inode *i, *in;

	if (fs == NULL)
		return;
	eraser_close(fs->eraser);
	av_free(fs->av);
	for (size_t h = 0; h < HASH_SIZE; h++)
		for (i = fs->table[h]; i; i = in) {
			in = i->next;
			inode_free(i);
		}
	for (c = fs->clients; c; c = cn) {
		cn = c->next;
		client_wipe(c);
		free(c);
	}
	client_wipe(&fs->root_client);
	close(fs->root.fd);
	pthread_mutex_destroy(&fs->root.mu);
	pthread_rwlock_destroy(&fs->root.io);
	pthread_mutex_destroy(&fs->lock);
	free(fs);
}
