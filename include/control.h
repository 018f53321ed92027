/*
 * control: the daemon's control socket, through which dossierctl asks a
 * mounted vault for what is not a file operation (share requests and
 * approvals, unlocking a user).
 *
 * One socket per mount, a Unix SOCK_SEQPACKET socket named after the
 * mount's device number, CONTROL_DIR "/ctl-MAJOR:MINOR.sock". The
 * directory belongs to root and only root can make entries in it, so
 * that nobody else can put a socket there first; the socket itself is
 * mode 0666: anyone may ask, and the daemon decides. Who asks comes from
 * the kernel (SO_PEERCRED), never from the request, and is weighed by the
 * role policy like a file operation of that uid; the client in turn
 * checks that the peer is root. CONTROL_CALLS calls are served at once,
 * at most CONTROL_PER_UID of them for one user other than root (the next
 * is answered "too many calls of yours at once"), and a caller that
 * sends nothing is dropped after CONTROL_RECV_S.
 *
 * A call is one request message and one reply message. A message is text:
 * "key=value" lines, the value with every byte outside 0x20..0x7e and
 * every '%' written as %XX (uppercase hex), keys repeated where a list is
 * meant. A request may carry one open file descriptor (SCM_RIGHTS), for
 * an output the caller opened itself: the daemon writes to it and never
 * opens a path for a caller. A reply starts with "status=ok" or
 * "status=error" and "message=...".
 *
 * Errors: 0 (or what is stated) or a negative errno.
 */
#ifndef DOSSIER_CONTROL_H
#define DOSSIER_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

#define CONTROL_DIR      "/run/dossierfs"
#define CONTROL_MSG_MAX  (256u << 10)   /* bytes of one message */
#define CONTROL_CALLS    16u            /* calls served at once */
#define CONTROL_PER_UID  4u             /* of them for one user (not root) */
#define CONTROL_RECV_S   10             /* seconds to send a request */

/* The "major:minor" of the mount at path (the last one mounted there,
 * as /proc/self/mountinfo lists it) into dev. 1 if path is a mount
 * point, 0 if not, negative errno if mountinfo cannot be read. */
int control_mount_dev(const char *path, char dev[32]);

/* The socket path of the mount at path into out (cap bytes). */
int control_path(const char *path, char *out, size_t cap);

/* ---- messages -------------------------------------------------------- */

/* A message being built: on any failure err is set and later calls do
 * nothing. */
struct kvbuf {
	char *p;
	size_t len, cap;
	int err;
};

void kv_add(struct kvbuf *b, const char *key, const char *value);
void kv_addf(struct kvbuf *b, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void kv_free(struct kvbuf *b);

/* A message parsed: n pairs, keys and decoded values NUL-terminated (a
 * value holding %00 is refused). */
struct kvmsg {
	size_t n;
	char **keys, **values;
	char *mem;
};

/* Parses buf[0..len): -EINVAL for a malformed message. */
int kv_parse(const char *buf, size_t len, struct kvmsg *out);
void kv_msg_free(struct kvmsg *m);

/* The first value of key, or NULL. */
const char *kv_get(const struct kvmsg *m, const char *key);

/* ---- the server ------------------------------------------------------ */

struct control;

/* Who called, from SO_PEERCRED. */
struct control_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/*
 * Serves one call: req is the request, fd the descriptor it carried or
 * -1 (the handler does not close it), reply the message to send back
 * (the handler adds status and message). Runs in a thread of its own;
 * several may run at once.
 */
typedef void (*control_fn)(void *ctx, const struct control_peer *peer,
                           const struct kvmsg *req, int fd,
                           struct kvbuf *reply);

/* Binds the socket of the mount at mountpoint, a path with no symbolic
 * link in it (realpath()'s; it is not resolved here, so that the daemon
 * can call this before it serves its mount), replacing a stale one, and
 * starts serving it in a thread. */
int control_start(const char *mountpoint, control_fn fn, void *ctx,
                  struct control **out);

/* Stops accepting, waits for calls in progress, removes the socket. */
void control_stop(struct control *c);

/* ---- the client ------------------------------------------------------ */

/*
 * Sends req (with fd, if fd >= 0) to the daemon of the mount at
 * mountpoint and waits for the reply, which is parsed into *reply.
 * Refuses a peer that is not root (-EPERM). -ENOENT / -ECONNREFUSED when
 * no daemon listens there.
 */
int control_call(const char *mountpoint, const struct kvbuf *req, int fd,
                 struct kvmsg *reply);

#endif
