/* Locked-out users: see include/lockout.h for the contract and the file
 * format. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lockout.h"
#include "util.h"

#define LOCK_FILE  LOCKOUT_FILE ".lock"
#define TMP_FILE   LOCKOUT_FILE ".tmp"
/* The longest line: two names, two tabs, 19 digits and the newline. */
#define LINE_MAX_  (2 * LOCKOUT_NAME_MAX + 2 + 19 + 1)
#define FILE_MAX   ((size_t)LOCKOUT_MAX * LINE_MAX_)

/* Which file the list in memory came from. */
struct file_id {
	int exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct lockout {
	int dirfd;
	pthread_mutex_t change;    /* one change at a time in this process */
	pthread_rwlock_t rw;       /* protects v, n and id */
	struct lockout_entry *v;   /* by user, strcmp order */
	size_t n;
	struct file_id id;
};

/* A list and where it came from. */
struct list {
	struct lockout_entry *v;
	size_t n;
	struct file_id id;
};

static void id_of(const struct stat *st, struct file_id *id)
{
	id->exists = 1;
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
}

static int same_id(const struct file_id *a, const struct file_id *b)
{
	if (!a->exists || !b->exists)
		return a->exists == b->exists;
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static int good_field(const char *s, size_t n)
{
	if (n == 0 || n > LOCKOUT_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (iscntrl((unsigned char)s[i]))
			return 0;
	return 1;
}

static int by_user(const void *a, const void *b)
{
	return strcmp(((const struct lockout_entry *)a)->user,
	              ((const struct lockout_entry *)b)->user);
}

/* ---- the file ---------------------------------------------------------- */

/* One line without its newline into *e; 0 or -EBADMSG. */
static int parse_line(const char *s, size_t len, struct lockout_entry *e)
{
	const char *t1 = memchr(s, '\t', len), *t2, *d;
	uint64_t v = 0;

	if (t1 == NULL ||
	    (t2 = memchr(t1 + 1, '\t', len - (size_t)(t1 + 1 - s))) == NULL)
		return -EBADMSG;
	if (!good_field(s, (size_t)(t1 - s)) ||
	    !good_field(t1 + 1, (size_t)(t2 - t1 - 1)))
		return -EBADMSG;
	d = t2 + 1;
	if (d == s + len || s + len - d > 19)
		return -EBADMSG;
	for (; d < s + len; d++) {
		if (!isdigit((unsigned char)*d))
			return -EBADMSG;
		v = v * 10 + (uint64_t)(*d - '0');
	}
	if (v > INT64_MAX)
		return -EBADMSG;
	memcpy(e->user, s, (size_t)(t1 - s));
	e->user[t1 - s] = '\0';
	memcpy(e->rule, t1 + 1, (size_t)(t2 - t1 - 1));
	e->rule[t2 - t1 - 1] = '\0';
	e->time_us = (int64_t)v;
	return 0;
}

static int parse(const char *buf, size_t size, struct list *l)
{
	const char *s = buf, *end = buf + size, *nl;
	size_t lines = 0;

	for (const char *p = buf; p < end; p++)
		lines += *p == '\n';
	if (lines > LOCKOUT_MAX)
		return -EBADMSG;
	if ((l->v = calloc(lines + 1, sizeof(*l->v))) == NULL)
		return -ENOMEM;
	for (; s < end; s = nl + 1) {
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL ||
		    parse_line(s, (size_t)(nl - s), &l->v[l->n]) != 0)
			return -EBADMSG;
		l->n++;
	}
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), by_user);
	for (size_t i = 1; i < l->n; i++)
		if (strcmp(l->v[i - 1].user, l->v[i].user) == 0)
			return -EBADMSG;
	return 0;
}

/* Reads lockouts into *l (a missing file is an empty list). */
static int read_list(int dirfd, struct list *l)
{
	struct stat st;
	char *buf = NULL, *nb;
	size_t size = 0, cap = 0;
	ssize_t r;
	int fd, rc;

	memset(l, 0, sizeof(*l));
	fd = openat(dirfd, LOCKOUT_FILE, O_RDONLY | O_NOFOLLOW | O_NOCTTY |
	            O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	rc = -EBADMSG;
	if (!S_ISREG(st.st_mode))
		goto out;
	rc = -EPERM;
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
		goto out;
	for (;;) {
		if (size == cap) {
			rc = -EBADMSG;
			if (cap > FILE_MAX)
				goto out;
			cap = cap == 0 ? 4096 : cap * 2;
			rc = -ENOMEM;
			if ((nb = realloc(buf, cap)) == NULL)
				goto out;
			buf = nb;
		}
		if ((r = read(fd, buf + size, cap - size)) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		size += (size_t)r;
	}
	if ((rc = parse(buf, size, l)) == 0)
		id_of(&st, &l->id);
out:
	if (rc != 0) {
		free(l->v);
		memset(l, 0, sizeof(*l));
	}
	free(buf);
	close(fd);
	return rc;
}

/* Writes l as the new lockouts, durably; sets l->id. */
static int write_list(int dirfd, struct list *l)
{
	char line[LINE_MAX_ + 1];
	char *buf = NULL;
	size_t size = 0;
	struct stat st;
	int fd = -1, rc = -ENOMEM, n;

	if ((buf = malloc(l->n * LINE_MAX_ + 1)) == NULL)
		goto out;
	for (size_t i = 0; i < l->n; i++) {
		n = snprintf(line, sizeof(line), "%s\t%s\t%" PRId64 "\n",
		             l->v[i].user, l->v[i].rule, l->v[i].time_us);
		if (n < 0 || (size_t)n >= sizeof(line)) {
			rc = -EINVAL;
			goto out;
		}
		memcpy(buf + size, line, (size_t)n);
		size += (size_t)n;
	}
	if (unlinkat(dirfd, TMP_FILE, 0) != 0 && errno != ENOENT) {
		rc = -errno;
		goto out;
	}
	fd = openat(dirfd, TMP_FILE, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	            O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = write_all(fd, buf, size)) != 0)
		goto fail;
	if (fchmod(fd, 0600) != 0 || fsync(fd) != 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = -errno;
		goto fail;
	}
	fd = -1;
	if (renameat(dirfd, TMP_FILE, dirfd, LOCKOUT_FILE) != 0) {
		rc = -errno;
		goto fail;
	}
	if (fsync(dirfd) != 0) {
		rc = -errno;
		goto out;
	}
	id_of(&st, &l->id);
	rc = 0;
	goto out;
fail:
	unlinkat(dirfd, TMP_FILE, 0);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

/* ---- the store --------------------------------------------------------- */

/* Makes l the list in memory (and frees the one it replaces). */
static void install(struct lockout *lk, struct list *l)
{
	struct lockout_entry *old;

	pthread_rwlock_wrlock(&lk->rw);
	old = lk->v;
	lk->v = l->v;
	lk->n = l->n;
	lk->id = l->id;
	pthread_rwlock_unlock(&lk->rw);
	free(old);
	l->v = NULL;
}

int lockout_open(int dirfd, struct lockout **out)
{
	struct lockout *lk;
	struct list l;
	int rc;

	if (dirfd < 0 || out == NULL)
		return -EINVAL;
	if ((lk = calloc(1, sizeof(*lk))) == NULL)
		return -ENOMEM;
	if ((lk->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3)) < 0) {
		rc = -errno;
		free(lk);
		return rc;
	}
	if ((rc = read_list(lk->dirfd, &l)) != 0) {
		close(lk->dirfd);
		free(lk);
		return rc;
	}
	if (pthread_mutex_init(&lk->change, NULL) != 0) {
		close(lk->dirfd);
		free(l.v);
		free(lk);
		return -ENOMEM;
	}
	if (pthread_rwlock_init(&lk->rw, NULL) != 0) {
		pthread_mutex_destroy(&lk->change);
		close(lk->dirfd);
		free(l.v);
		free(lk);
		return -ENOMEM;
	}
	install(lk, &l);
	*out = lk;
	return 0;
}

void lockout_free(struct lockout *lk)
{
	if (lk == NULL)
		return;
	pthread_rwlock_destroy(&lk->rw);
	pthread_mutex_destroy(&lk->change);
	close(lk->dirfd);
	free(lk->v);
	free(lk);
}

int lockout_refresh(struct lockout *lk)
{
	struct file_id now = { 0 }, had;
	struct stat st;
	struct list l;
	int rc;

	if (lk == NULL)
		return -EINVAL;
	if (fstatat(lk->dirfd, LOCKOUT_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0)
		id_of(&st, &now);
	else if (errno != ENOENT)
		return -errno;
	pthread_rwlock_rdlock(&lk->rw);
	had = lk->id;
	pthread_rwlock_unlock(&lk->rw);
	if (same_id(&now, &had))
		return 0;
	pthread_mutex_lock(&lk->change);
	if ((rc = read_list(lk->dirfd, &l)) == 0)
		install(lk, &l);
	pthread_mutex_unlock(&lk->change);
	return rc;
}

static struct lockout_entry *find(struct lockout_entry *v, size_t n,
                                  const char *user)
{
	struct lockout_entry key;
	size_t len = strlen(user);

	if (n == 0 || len > LOCKOUT_NAME_MAX)
		return NULL;
	memcpy(key.user, user, len + 1);
	return bsearch(&key, v, n, sizeof(*v), by_user);
}

/* Under lockouts.lock: reads the file, and for a lock (rule != NULL)
 * adds user, for an unlock removes it, writes the file if that changed
 * it and makes it the list in memory. */
static int change(struct lockout *lk, const char *user, const char *rule,
                  int64_t time_us)
{
	struct lockout_entry *e, *v;
	struct list l = { 0 };
	size_t at;
	int lfd, rc;

	pthread_mutex_lock(&lk->change);
	lfd = openat(lk->dirfd, LOCK_FILE, O_RDWR | O_CREAT | O_NOFOLLOW |
	             O_CLOEXEC, 0600);
	if (lfd < 0) {
		rc = -errno;
		goto out;
	}
	while ((rc = flock(lfd, LOCK_EX)) != 0 && errno == EINTR)
		;
	if (rc != 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = read_list(lk->dirfd, &l)) != 0)
		goto out;
	e = find(l.v, l.n, user);
	if (rule == NULL && e == NULL) {
		rc = -ENOENT;
	} else if (rule == NULL) {
		at = (size_t)(e - l.v);
		memmove(e, e + 1, (l.n - at - 1) * sizeof(*e));
		l.n--;
		rc = write_list(lk->dirfd, &l);
	} else if (e != NULL) {
		rc = 1;
	} else if (l.n >= LOCKOUT_MAX) {
		rc = -ENOSPC;
	} else if ((v = realloc(l.v, (l.n + 1) * sizeof(*v))) == NULL) {
		rc = -ENOMEM;
	} else {
		l.v = v;
		for (at = 0; at < l.n && strcmp(v[at].user, user) < 0; at++)
			;
		memmove(v + at + 1, v + at, (l.n - at) * sizeof(*v));
		memset(&v[at], 0, sizeof(v[at]));
		memcpy(v[at].user, user, strlen(user) + 1);
		memcpy(v[at].rule, rule, strlen(rule) + 1);
		v[at].time_us = time_us;
		l.n++;
		rc = write_list(lk->dirfd, &l);
	}
	/* What the file now holds, whether this changed it or not. */
	if (rc >= 0 || rc == -ENOENT || rc == -ENOSPC)
		install(lk, &l);
out:
	free(l.v);
	if (lfd >= 0)
		close(lfd);
	pthread_mutex_unlock(&lk->change);
	return rc;
}

int lockout_lock(struct lockout *lk, const char *user, const char *rule,
                 int64_t time_us)
{
	if (lk == NULL || user == NULL || rule == NULL || time_us < 0 ||
	    !good_field(user, strlen(user)) || !good_field(rule, strlen(rule)))
		return -EINVAL;
	return change(lk, user, rule, time_us);
}

int lockout_unlock(struct lockout *lk, const char *user)
{
	if (lk == NULL || user == NULL || !good_field(user, strlen(user)))
		return -EINVAL;
	return change(lk, user, NULL, 0);
}

int lockout_find(struct lockout *lk, const char *user,
                 struct lockout_entry *out)
{
	const struct lockout_entry *e;
	int rc = -ENOENT;

	if (lk == NULL || user == NULL)
		return -EINVAL;
	pthread_rwlock_rdlock(&lk->rw);
	if ((e = find(lk->v, lk->n, user)) != NULL) {
		if (out != NULL)
			*out = *e;
		rc = 0;
	}
	pthread_rwlock_unlock(&lk->rw);
	return rc;
}

int lockout_is_locked(struct lockout *lk, const char *user)
{
	if (lk == NULL)
		return -EINVAL;
	return user != NULL && lockout_find(lk, user, NULL) == 0;
}

size_t lockout_list(struct lockout *lk, struct lockout_entry *out,
                    size_t max)
{
	size_t n;

	if (lk == NULL)
		return 0;
	pthread_rwlock_rdlock(&lk->rw);
	n = lk->n;
	for (size_t i = 0; i < n && i < max; i++)
		out[i] = lk->v[i];
	pthread_rwlock_unlock(&lk->rw);
	return n;
}
