/*
 * control: the daemon's control socket (see include/control.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

/* ---- where ----------------------------------------------------------- */

/* Copies the octal-escaped mount point field [f, end) into out. */
static void unescape(const char *f, const char *end, char *out, size_t cap)
{
	size_t n = 0;

	for (const char *q = f; q < end && n + 1 < cap; q++) {
		if (q[0] == '\\' && end - q >= 4) {
			out[n++] = (char)((q[1] - '0') * 64 + (q[2] - '0') * 8 +
			                  (q[3] - '0'));
			q += 3;
		} else {
			out[n++] = *q;
		}
	}
	out[n] = '\0';
}

int control_mount_dev(const char *path, char dev[32])
{
	char line[8192], mp[PATH_MAX];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int found = 0;

	if (f == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		/* Field 3 is major:minor, field 5 the mount point. */
		char *fields[5] = { line }, *p, *end;

		for (int k = 1; k < 5; k++) {
			p = strchr(fields[k - 1], ' ');
			fields[k] = p ? p + 1 : NULL;
			if (fields[k] == NULL)
				break;
		}
		if (fields[4] == NULL || (end = strchr(fields[4], ' ')) == NULL)
			continue;
		unescape(fields[4], end, mp, sizeof(mp));
		if (strcmp(mp, path) != 0)
			continue;
		found = 1;    /* the last one listed is on top */
		if (dev != NULL)
			snprintf(dev, 32, "%.*s", (int)strcspn(fields[2], " "),
			         fields[2]);
	}
	fclose(f);
	return found;
}

/* The socket path of the mount at real, a path without symbolic links:
 * stats nothing, so that the daemon can ask before it serves its mount. */
static int sock_path(const char *real, char *out, size_t cap)
{
	char dev[32];
	int rc;

	if ((rc = control_mount_dev(real, dev)) < 0)
		return rc;
	if (rc == 0)
		return -ENOENT;
	if ((size_t)snprintf(out, cap, "%s/ctl-%s.sock", CONTROL_DIR, dev) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

int control_path(const char *path, char *out, size_t cap)
{
	char real[PATH_MAX];

	if (realpath(path, real) == NULL)
		return -errno;
	return sock_path(real, out, cap);
}

/* ---- messages -------------------------------------------------------- */

static void kv_put(struct kvbuf *b, const char *s, size_t n)
{
	if (b->err != 0)
		return;
	if (b->len + n + 1 > CONTROL_MSG_MAX) {
		b->err = -E2BIG;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->err = -ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void kv_add(struct kvbuf *b, const char *key, const char *value)
{
	static const char hexd[] = "0123456789ABCDEF";

	if (value == NULL)
		return;
	kv_put(b, key, strlen(key));
	kv_put(b, "=", 1);
	for (const unsigned char *v = (const unsigned char *)value; *v; v++) {
		if (*v >= 0x20 && *v <= 0x7e && *v != '%') {
			kv_put(b, (const char *)v, 1);
		} else {
			char e[3] = { '%', hexd[*v >> 4], hexd[*v & 15] };

			kv_put(b, e, 3);
		}
	}
	kv_put(b, "\n", 1);
}

void kv_addf(struct kvbuf *b, const char *key, const char *fmt, ...)
{
	char v[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	kv_add(b, key, v);
}

void kv_free(struct kvbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int kv_parse(const char *buf, size_t len, struct kvmsg *out)
{
	size_t lines = 0, k = 0, o = 0;
	char *mem;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n')
			lines++;
	if (len == 0 || buf[len - 1] != '\n')
		return -EINVAL;
	out->keys = calloc(lines, sizeof(char *));
	out->values = calloc(lines, sizeof(char *));
	out->mem = mem = malloc(len + lines + 1);
	if (out->keys == NULL || out->values == NULL || mem == NULL) {
		kv_msg_free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < len;) {
		const char *eol = memchr(buf + i, '\n', len - i);
		const char *eq = memchr(buf + i, '=', (size_t)(eol - buf) - i);

		if (eq == NULL || eq == buf + i)
			goto bad;
		out->keys[k] = mem + o;
		for (const char *q = buf + i; q < eq; q++) {
			if (*q < 0x21 || *q > 0x7e || *q == '%')
				goto bad;
			mem[o++] = *q;
		}
		mem[o++] = '\0';
		out->values[k] = mem + o;
		for (const char *q = eq + 1; q < eol; q++) {
			int hi, lo;

			if ((unsigned char)*q < 0x20 || *q == 0x7f)
				goto bad;
			if (*q != '%') {
				mem[o++] = *q;
				continue;
			}
			if (eol - q < 3 || (hi = hexval(q[1])) < 0 ||
			    (lo = hexval(q[2])) < 0 || (hi | lo) == 0)
				goto bad;
			mem[o++] = (char)(hi * 16 + lo);
			q += 2;
		}
		mem[o++] = '\0';
		k++;
		i = (size_t)(eol - buf) + 1;
	}
	out->n = k;
	return 0;
bad:
	kv_msg_free(out);
	return -EINVAL;
}

void kv_msg_free(struct kvmsg *m)
{
	free(m->keys);
	free(m->values);
	free(m->mem);
	memset(m, 0, sizeof(*m));
}

const char *kv_get(const struct kvmsg *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->keys[i], key) == 0)
			return m->values[i];
	return NULL;
}

/* ---- sending and receiving ------------------------------------------ */

static int send_msg(int s, const char *p, size_t len, int fd)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { (void *)p, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.b;
		mh.msg_controllen = sizeof(u.b);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(s, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* Receives one message into a new buffer (*out, *len) and at most one
 * descriptor (*fd, or -1; any more are closed). */
static int recv_msg(int s, char **out, size_t *len, int *fd)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(4 * sizeof(int))];
	} u;
	char *p = malloc(CONTROL_MSG_MAX);
	struct iovec iov = { p, CONTROL_MSG_MAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	                     .msg_control = u.b, .msg_controllen = sizeof(u.b) };
	ssize_t n;

	*fd = -1;
	if (p == NULL)
		return -ENOMEM;
	do
		n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = errno == EAGAIN ? -ETIMEDOUT : -errno;

		free(p);
		return e;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL;
	     c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t i = 0; i < k; i++) {
			int one;

			memcpy(&one, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*fd < 0)
				*fd = one;
			else
				close(one);
		}
	}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n == 0) {
		free(p);
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return n == 0 ? -ECONNRESET : -E2BIG;
	}
	*out = p;
	*len = (size_t)n;
	return 0;
}

/* ---- the server ------------------------------------------------------ */

struct control {
	int sock;
	int stop[2];                 /* a pipe: written to stop */
	char path[108];
	control_fn fn;
	void *ctx;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned calls;              /* under mu */
	uid_t caller[CONTROL_CALLS]; /* under mu: whose call each slot serves */
	bool used[CONTROL_CALLS];    /* under mu */
};

struct call {
	struct control *c;
	int s;
	unsigned slot;
	struct ucred cred;
};

static void reply_error(struct kvbuf *r, const char *msg)
{
	kv_add(r, "status", "error");
	kv_add(r, "message", msg);
}

static void *serve_call(void *arg)
{
	struct call *k = arg;
	struct control *c = k->c;
	struct control_peer peer = { .pid = k->cred.pid, .uid = k->cred.uid,
	                             .gid = k->cred.gid };
	struct kvbuf reply = { 0 };
	struct kvmsg req;
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, rc;

	if ((rc = recv_msg(k->s, &buf, &len, &fd)) != 0)
		goto out;
	if (kv_parse(buf, len, &req) != 0) {
		reply_error(&reply, "malformed request");
	} else {
		c->fn(c->ctx, &peer, &req, fd, &reply);
		kv_msg_free(&req);
	}
	if (reply.err != 0) {
		kv_free(&reply);
		reply_error(&reply, "reply too large");
	}
	send_msg(k->s, reply.p, reply.len, -1);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	kv_free(&reply);
	close(k->s);
	pthread_mutex_lock(&c->mu);
	c->used[k->slot] = false;
	c->calls--;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	free(k);
	return NULL;
}

/* Calls uid has being served, under c->mu. */
static unsigned calls_of(const struct control *c, uid_t uid)
{
	unsigned n = 0;

	for (unsigned i = 0; i < CONTROL_CALLS; i++)
		n += c->used[i] && c->caller[i] == uid;
	return n;
}

/* Answers call s, not served, with msg and closes it. */
static void turn_away(int s, const char *msg)
{
	struct kvbuf reply = { 0 };

	reply_error(&reply, msg);
	if (reply.err == 0)
		send_msg(s, reply.p, reply.len, -1);
	kv_free(&reply);
	close(s);
}

static void *accept_loop(void *arg)
{
	struct control *c = arg;
	struct pollfd p[2] = { { c->sock, POLLIN, 0 }, { c->stop[0], POLLIN, 0 } };

	for (;;) {
		struct timeval tv = { CONTROL_RECV_S, 0 };
		struct ucred cred;
		socklen_t cl = sizeof(cred);
		struct call *k;
		pthread_attr_t at;
		pthread_t t;
		unsigned slot = 0;
		int s;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		s = accept4(c->sock, NULL, NULL, SOCK_CLOEXEC);
		if (s < 0)
			continue;
		if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0) {
			close(s);
			continue;
		}
		/* A caller that sends nothing does not hold a thread for
		 * long, and one user cannot hold them all: past
		 * CONTROL_PER_UID calls at once (root excepted), the next is
		 * turned away at once. */
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		pthread_mutex_lock(&c->mu);
		if (cred.uid != 0 && calls_of(c, cred.uid) >= CONTROL_PER_UID) {
			pthread_mutex_unlock(&c->mu);
			turn_away(s, "too many calls of yours at once");
			continue;
		}
		while (c->calls >= CONTROL_CALLS)
			pthread_cond_wait(&c->cv, &c->mu);
		while (c->used[slot])
			slot++;
		c->used[slot] = true;
		c->caller[slot] = cred.uid;
		c->calls++;
		pthread_mutex_unlock(&c->mu);
		k = malloc(sizeof(*k));
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (k == NULL) {
			close(s);
		} else {
			k->c = c;
			k->s = s;
			k->slot = slot;
			k->cred = cred;
			if (pthread_create(&t, &at, serve_call, k) == 0) {
				pthread_attr_destroy(&at);
				continue;
			}
			free(k);
			close(s);
		}
		pthread_attr_destroy(&at);
		pthread_mutex_lock(&c->mu);
		c->used[slot] = false;
		c->calls--;
		pthread_mutex_unlock(&c->mu);
	}
	return NULL;
}

/* Makes CONTROL_DIR, or checks it: a directory of root's that nobody
 * else may write to. */
static int control_dir(void)
{
	struct stat st;

	if (mkdir(CONTROL_DIR, 0755) != 0 && errno != EEXIST)
		return -errno;
	if (lstat(CONTROL_DIR, &st) != 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
		return -EPERM;
	return 0;
}

int control_start(const char *mountpoint, control_fn fn, void *ctx,
                  struct control **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct control *c;
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	c->sock = c->stop[0] = c->stop[1] = -1;
	c->fn = fn;
	c->ctx = ctx;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if ((rc = control_dir()) != 0 ||
	    (rc = sock_path(mountpoint, c->path, sizeof(c->path))) != 0)
		goto fail;
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	c->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->sock < 0 || pipe2(c->stop, O_CLOEXEC) != 0) {
		rc = -errno;
		goto fail;
	}
	/* A socket left by a daemon that was killed. */
	unlink(c->path);
	if (bind(c->sock, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(c->path, 0666) != 0 || listen(c->sock, 64) != 0) {
		rc = -errno;
		unlink(c->path);
		goto fail;
	}
	if ((rc = -pthread_create(&c->thread, NULL, accept_loop, c)) != 0) {
		unlink(c->path);
		goto fail;
	}
	*out = c;
	return 0;
fail:
	if (c->sock >= 0)
		close(c->sock);
	if (c->stop[0] >= 0) {
		close(c->stop[0]);
		close(c->stop[1]);
	}
	free(c);
	return rc;
}

void control_stop(struct control *c)
{
	if (c == NULL)
		return;
	unlink(c->path);
	if (write(c->stop[1], "x", 1) < 0)
		perror("control");
	pthread_join(c->thread, NULL);
	pthread_mutex_lock(&c->mu);
	while (c->calls > 0)
		pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
	close(c->sock);
	close(c->stop[0]);
	close(c->stop[1]);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

/* ---- the client ------------------------------------------------------ */

int control_call(const char *mountpoint, const struct kvbuf *req, int fd,
                 struct kvmsg *reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	char *buf = NULL;
	size_t len;
	int s, rc, extra = -1;

	memset(reply, 0, sizeof(*reply));
	if (req->err != 0)
		return req->err;
	if ((rc = control_path(mountpoint, sa.sun_path,
	                       sizeof(sa.sun_path))) != 0)
		return rc;
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		rc = -errno;
		goto out;
	}
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0) {
		rc = -errno;
		goto out;
	}
	if (cred.uid != 0) {
		rc = -EPERM;
		goto out;
	}
	if ((rc = send_msg(s, req->p, req->len, fd)) != 0 ||
	    (rc = recv_msg(s, &buf, &len, &extra)) != 0)
		goto out;
	if (extra >= 0)
		close(extra);
	rc = kv_parse(buf, len, reply);
out:
	free(buf);
	close(s);
	return rc;
}
