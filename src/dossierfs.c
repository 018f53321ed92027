/*
 * dossierfs: mounts a vault.
 *
 *   dossierfs VAULT MOUNTPOINT [-f] [-s] [-d] [-o OPTS]
 *             [--passphrase-file FILE | --key-file FILE]
 *
 * Loads the role policy (-o policy=DIR, default GUARD_POLICY_DIR) and
 * refuses to start without a valid one, unlocks the vault (passphrase
 * from FILE or the terminal, or a key file), mounts it with allow_other
 * and default_permissions, and serves requests until SIGTERM, SIGINT or
 * fusermount3 -u. Daemonizes once mounted unless -f is given. SIGHUP
 * reloads the policy (so does any change in its directory).
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <sodium.h>

#include "audit.h"
#include "control.h"
#include "fs.h"
#include "guard.h"
#include "monitor.h"
#include "secret.h"
#include "share.h"
#include "unlock.h"

static const char *prog = "dossierfs";
static struct guard *the_guard;      /* for the SIGHUP handler */

/* The daemon's own events, in the audit store. */
static void record(struct audit *a, const char *action,
                   enum audit_outcome o, const char *detail)
{
	struct audit_event ev = {
		.uid = getuid(), .user = "dossierfs", .pid = getpid(),
		.action = action, .outcome = o, .detail = detail,
	};

	if (a != NULL && audit_record(a, &ev, NULL) != 0)
		syslog(LOG_ERR, "audit: cannot record %s", action);
}

static void on_reload(void *ctx, int ok, const char *version,
                      const char *reason)
{
	char detail[300];

	snprintf(detail, sizeof(detail), "%s %s", ok ? "version" : "rejected:",
	         ok ? version : reason);
	record(ctx, ok ? "policy-loaded" : "policy-rejected",
	       ok ? AUDIT_ALLOWED : AUDIT_ERROR, detail);
}

/*
 * Signs the head of the audit chain every few seconds while records come
 * in (audit_checkpoint does nothing when nothing is new), until stopped.
 */
struct signer {
	struct audit *a;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	pthread_t thread;
};

#define CHECKPOINT_SECONDS 5

static void *sign_loop(void *arg)
{
	struct signer *s = arg;
	struct timespec t;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_sec += CHECKPOINT_SECONDS;
		pthread_cond_timedwait(&s->cv, &s->mu, &t);
		if (s->stop)
			break;
		pthread_mutex_unlock(&s->mu);
		if (audit_checkpoint(s->a, NULL) < 0)
			syslog(LOG_ERR, "audit: cannot sign the chain head");
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void signer_stop(struct signer *s)
{
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
}

/*
 * A failed unlock cannot be recorded in the audit store: its keys are
 * what failed. It is noted in VAULT/audit.pending (root-only, one line
 * each) and moved into the store by the next mount that unlocks.
 */
#define AUDIT_PENDING "audit.pending"

static void note_unlock_failure(const char *vault, int err)
{
	char path[PATH_MAX + 32], line[256], when[32];
	time_t now = time(NULL);
	struct tm tm;
	int fd, n;

	snprintf(path, sizeof(path), "%s/%s", vault, AUDIT_PENDING);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	          O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(line, sizeof(line), "%s %u %d %d\n", when,
	             (unsigned)getuid(), (int)getpid(), -err);
	if (n > 0 && write(fd, line, (size_t)n) != n)
		syslog(LOG_ERR, "cannot note the failed unlock in %s", path);
	close(fd);
}

/* Moves the noted unlock failures into the store. */
static void import_unlock_failures(struct audit *a, struct vault *v)
{
	char line[256], when[32], detail[300];
	unsigned uid;
	int pid, err, fd;
	FILE *f;

	fd = openat(vault_dir_fd(v), AUDIT_PENDING, O_RDONLY | O_NOFOLLOW |
	            O_CLOEXEC);
	if (fd < 0 || (f = fdopen(fd, "r")) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct audit_event ev = { .action = "unlock-failed",
		                          .outcome = AUDIT_ERROR };

		if (sscanf(line, "%31s %u %d %d", when, &uid, &pid, &err) != 4)
			continue;
		snprintf(detail, sizeof(detail), "at %s: %s", when,
		         strerror(err));
		ev.uid = uid;
		ev.pid = pid;
		ev.err = err;
		ev.detail = detail;
		audit_record_nowait(a, &ev);
	}
	fclose(f);
	if (audit_flush(a) == 0)
		unlinkat(vault_dir_fd(v), AUDIT_PENDING, 0);
}

/*
 * One daemon per vault: two would work one audit store and one erase
 * queue at once. The lock (flock on VAULT/dossierfs.lock) is held by the
 * open file, so it passes to the daemonized child and goes when it
 * exits. A daemon just unmounted may still be finishing an erasure:
 * wait for it up to 30 s. The descriptor is left open on purpose.
 */
#define VAULT_LOCK "dossierfs.lock"
static int lock_vault(struct vault *v)
{
	int fd = openat(vault_dir_fd(v), VAULT_LOCK, O_RDWR | O_CREAT |
	                O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	for (int i = 0; i < 300; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK)
			break;
		usleep(100000);
	}
	close(fd);
	return -EBUSY;
}

/* Opens the vault's audit store and records the mount. */
static int audit_start(struct vault *v, const char *node, struct audit **out)
{
	struct audit_config cfg = { .node = node, .syslog = 1 };
	unsigned char *secret = sodium_malloc(AUDIT_SECRETBYTES);
	int rc;

	if (secret == NULL)
		return -ENOMEM;
	vault_subkey(v, AUDIT_KDF_ID, AUDIT_KDF_CTX, secret);
	rc = audit_open(vault_dir_fd(v), secret, &cfg, out);
	sodium_free(secret);
	return rc;
}

static void on_hup(int sig)
{
	(void)sig;
	guard_kick(the_guard);
}

static void usage(void)
{
	fprintf(stderr, "usage: %s VAULT MOUNTPOINT [-f] [-s] [-d] [-o OPTS] "
	        "[--passphrase-file FILE | --key-file FILE]\n", prog);
	exit(2);
}

struct args {
	const char *vault;
	const char *mnt;
	char opts[4096];           /* every -o list, joined by ',' */
	size_t nopts;              /* its length */
	struct unlock_src src;
	int foreground;
	int single;
	int debug;
};

static void add_opts(struct args *a, const char *o)
{
	size_t len = strlen(o);

	if (a->nopts + len + 2 > sizeof(a->opts)) {
		fprintf(stderr, "%s: -o options too long\n", prog);
		exit(2);
	}
	if (a->nopts > 0)
		a->opts[a->nopts++] = ',';
	memcpy(a->opts + a->nopts, o, len + 1);
	a->nopts += len;
}

static void parse(int argc, char **argv, struct args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (strcmp(s, "-f") == 0)
			a->foreground = 1;
		else if (strcmp(s, "-s") == 0)
			a->single = 1;
		else if (strcmp(s, "-d") == 0)
			a->debug = a->foreground = 1;
		else if (strcmp(s, "-o") == 0 && i + 1 < argc)
			add_opts(a, argv[++i]);
		else if (strcmp(s, "--passphrase-file") == 0 && i + 1 < argc)
			a->src.passphrase_file = argv[++i];
		else if (strcmp(s, "--key-file") == 0 && i + 1 < argc)
			a->src.key_file = argv[++i];
		else if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0)
			usage();
		else if (s[0] == '-')
			usage();
		else if (a->vault == NULL)
			a->vault = s;
		else if (a->mnt == NULL)
			a->mnt = s;
		else
			usage();
	}
	if (a->vault == NULL || a->mnt == NULL)
		usage();
	if (a->src.passphrase_file && a->src.key_file) {
		fprintf(stderr, "%s: give either --passphrase-file or "
		        "--key-file\n", prog);
		exit(2);
	}
}

/*
 * The kernel caps a FUSE mount's read-ahead at 128 KiB whatever the
 * daemon offers; sequential reads then cost a round trip per 128 KiB.
 * Raise this mount's own window to 1 MiB (root only; a failure is
 * harmless).
 */
static void raise_readahead(const char *mnt)
{
	char dev[32], path[96];
	FILE *f;

	if (control_mount_dev(mnt, dev) <= 0)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	f = fopen(path, "we");
	if (f == NULL)
		return;
	fputs("1024\n", f);
	if (fclose(f) != 0)
		syslog(LOG_INFO, "cannot raise read-ahead of %s", mnt);
}

static int check_mountpoint(const char *mnt, char *real)
{
	struct stat st;

	if (realpath(mnt, real) == NULL || stat(real, &st) != 0) {
		if (errno == ENOTCONN)
			fprintf(stderr, "%s: mountpoint %s is a dead mount (its "
			        "daemon was killed?): run fusermount3 -u %s "
			        "first\n", prog, mnt, mnt);
		else
			fprintf(stderr, "%s: mountpoint %s: %s\n", prog, mnt,
			        strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: mountpoint %s: not a directory\n", prog,
		        mnt);
		return -1;
	}
	if (control_mount_dev(real, NULL) > 0) {
		fprintf(stderr, "%s: mountpoint %s is busy: something is "
		        "mounted there already\n", prog, mnt);
		return -1;
	}
	return 0;
}

/*
 * Takes dossierfs's own options out of the -o lists: writeback (default) /
 * no_writeback, policy=DIR. The rest is passed to libfuse after the fixed
 * options; the vault's path is the mount's source (as df shows it) when
 * it can be written as an option. Returns 0, or -1 with a message.
 */
static int own_options(const struct args *a, const char *vault,
                       struct fs_options *fo, char *out, size_t cap,
                       char *policy, size_t pcap)
{
	char *copy = NULL, *tok, *save = NULL;
	size_t n;
	int rc = -1;

	n = (size_t)snprintf(out, cap, "allow_other,default_permissions,"
	                     "fsname=%s,subtype=dossierfs",
	                     strpbrk(vault, ",\\") ? "dossierfs" : vault);
	snprintf(policy, pcap, "%s", GUARD_POLICY_DIR);
	if (a->nopts == 0)
		return 0;
	copy = strdup(a->opts);
	if (copy == NULL)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "writeback") == 0) {
			fo->writeback = 1;
		} else if (strcmp(tok, "no_writeback") == 0) {
			fo->writeback = 0;
		} else if (strncmp(tok, "policy=", 7) == 0) {
			if (tok[7] == '\0' ||
			    (size_t)snprintf(policy, pcap, "%s", tok + 7)
			    >= pcap) {
				fprintf(stderr, "%s: -o policy=DIR: bad "
				        "directory\n", prog);
				goto out;
			}
		} else {
			n += (size_t)snprintf(out + n, n < cap ? cap - n : 0,
			                      ",%s", tok);
			if (n >= cap) {
				fprintf(stderr, "%s: -o options too long\n",
				        prog);
				goto out;
			}
		}
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

/*
 * The daemon holds a descriptor for every inode the kernel knows of the
 * mount, and the kernel keeps inodes as long as memory allows: a vault of
 * tens of thousands of files needs that many. As root, the limit goes up
 * to the system's ceiling (fs.nr_open), else to the hard limit.
 */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	unsigned long long cap = 0;
	FILE *f;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (geteuid() == 0 && (f = fopen("/proc/sys/fs/nr_open", "re"))) {
		if (fscanf(f, "%llu", &cap) == 1 && cap > rl.rlim_max)
			rl.rlim_max = (rlim_t)cap;
		fclose(f);
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && getrlimit(RLIMIT_NOFILE,
	                                                    &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The control socket's calls (control.h). */
struct controls {
	struct share *share;
	struct monitor *monitor;
	struct fs *fs;
};

static void reply_error(struct kvbuf *reply, const char *msg)
{
	kv_add(reply, "status", "error");
	kv_add(reply, "message", msg);
}

/* unlock (user=NAME) and lockouts: an admin's (fs_is_admin()), every
 * try recorded as action "unlock". */
static void lockout_call(struct controls *c, const struct control_peer *peer,
                         const struct kvmsg *req, struct kvbuf *reply,
                         bool unlock)
{
	const char *user = kv_get(req, "user");
	char why[192], detail[320];
	struct fs_event e = { .action = "unlock", .detail = detail,
	                      .bytes = -1, .rule = why };
	int rc;

	if (!fs_is_admin(c->fs, peer->uid, why, sizeof(why))) {
		snprintf(detail, sizeof(detail), "user=%s; not an admin",
		         user ? user : "");
		e.outcome = AUDIT_DENIED;
		e.err = EACCES;
		if (unlock)
			fs_record_as(c->fs, peer->uid, peer->pid, &e);
		reply_error(reply, "only an admin may do this");
		return;
	}
	if (!unlock) {
		kv_add(reply, "status", "ok");
		monitor_list(c->monitor, reply);
		return;
	}
	if (user == NULL || *user == '\0') {
		reply_error(reply, "no user named");
		return;
	}
	rc = monitor_unlock(c->monitor, user);
	snprintf(detail, sizeof(detail), "user=%s%s%s", user,
	         rc == 0 ? "" : "; ", rc == 0 ? "" :
	         rc == -ENOENT ? "not locked out" : strerror(-rc));
	e.outcome = rc == 0 ? AUDIT_ALLOWED : AUDIT_ERROR;
	e.err = rc < 0 ? -rc : 0;
	if (fs_record_as(c->fs, peer->uid, peer->pid, &e) != 0 && rc == 0)
		syslog(LOG_ERR, "unlock of %s not recorded", user);
	if (rc == -ENOENT)
		reply_error(reply, "that user is not locked out");
	else if (rc != 0)
		reply_error(reply, "the lockout store cannot be written");
	else
		kv_add(reply, "status", "ok");
}

static void on_control(void *ctx, const struct control_peer *peer,
                       const struct kvmsg *req, int fd, struct kvbuf *reply)
{
	struct controls *c = ctx;
	const char *op = kv_get(req, "op");

	if (op != NULL && strncmp(op, "share-", 6) == 0 && c->share != NULL)
		share_call(c->share, peer, req, fd, reply);
	else if (op != NULL && c->monitor != NULL &&
	         (strcmp(op, "unlock") == 0 || strcmp(op, "lockouts") == 0))
		lockout_call(c, peer, req, reply, strcmp(op, "unlock") == 0);
	else
		reply_error(reply, "unknown request");
}

/* Starts the control socket; the mount works without it (no sharing). */
static struct control *controls_start(struct vault *v, struct fs *fs,
                                      const char *mnt, struct controls *c)
{
	struct control *ctl = NULL;
	int err;

	if ((err = share_open(v, fs, &c->share)) != 0)
		syslog(LOG_ERR, "sharing unavailable: cannot open the request "
		       "store: %s", strerror(-err));
	if ((err = control_start(mnt, on_control, c, &ctl)) != 0)
		syslog(LOG_ERR, "no control socket in %s: %s (sharing and "
		       "unlocking unavailable)", CONTROL_DIR, strerror(-err));
	return ctl;
}

int main(int argc, char **argv)
{
	struct fuse_args fargs = FUSE_ARGS_INIT(0, NULL);
	struct fs_options fo = { .timeout = 1.0, .writeback = 1 };
	struct fuse_loop_config *lc = NULL;
	struct fuse_session *se = NULL;
	struct vault *v = NULL;
	struct fs *fs = NULL;
	char real[PATH_MAX], vault[PATH_MAX], opts[2 * PATH_MAX + 4096];
	char policy[PATH_MAX], status[PATH_MAX + 32], node[256];
	struct guard *g = NULL;
	struct audit *au = NULL;
	struct signer sg = { .mu = PTHREAD_MUTEX_INITIALIZER,
	                     .cv = PTHREAD_COND_INITIALIZER };
	struct controls ctls = { NULL, NULL, NULL };
	struct monitor *mon = NULL;
	struct control *ctl = NULL;
	struct sigaction sa;
	struct args a;
	int rc = 1, err;

	secret_harden_process();
	parse(argc, argv, &a);
	if (sodium_init() < 0) {
		fprintf(stderr, "%s: cannot initialise libsodium\n", prog);
		return 1;
	}
	if (check_mountpoint(a.mnt, real) != 0)
		return 1;
	if (realpath(a.vault, vault) == NULL)
		snprintf(vault, sizeof(vault), "%s", a.vault);
	openlog(prog, LOG_PID, LOG_DAEMON);
	if (own_options(&a, vault, &fo, opts, sizeof(opts), policy,
	                sizeof(policy)) != 0)
		return 1;
	/* No policy, no service: everything would be denied anyway, and a
	 * typo in the option must not go unnoticed. */
	if ((err = guard_open(policy, &g)) != 0) {
		fprintf(stderr, "%s: no valid policy in %s: refusing to "
		        "mount\n", prog, policy);
		return 1;
	}
	if ((err = unlock_vault(prog, a.vault, &a.src, &v)) != 0) {
		if (err == -EACCES)
			note_unlock_failure(vault, err);
		guard_close(g);
		return 1;
	}
	if (lock_vault(v) != 0) {
		fprintf(stderr, "%s: %s: the vault is in use by another "
		        "dossierfs (still running after 30 s): refusing to "
		        "mount\n", prog, a.vault);
		rc = 1;
		goto out;
	}
	umask(0);
	raise_fd_limit();

	fo.guard = g;
	if ((err = fs_new(v, &fo, &fs)) != 0) {
		fprintf(stderr, "%s: %s: cannot open the vault's tree: %s\n",
		        prog, a.vault, strerror(-err));
		goto out;
	}
	if (fuse_opt_add_arg(&fargs, prog) || fuse_opt_add_arg(&fargs, "-o") ||
	    fuse_opt_add_arg(&fargs, opts) ||
	    (a.debug && fuse_opt_add_arg(&fargs, "-d")))
		goto out;
	se = fuse_session_new(&fargs, fs_ops(), sizeof(*fs_ops()), fs);
	if (se == NULL) {
		fprintf(stderr, "%s: cannot start the FUSE session (bad -o "
		        "option?)\n", prog);
		goto out;
	}
	fs_set_session(fs, se);
	/* libfuse leaves an ignored signal ignored (a daemon started in the
	 * background of a script inherits SIGINT ignored); ours must always
	 * unmount cleanly on SIGTERM and SIGINT. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	/* SIGHUP reloads the policy instead of ending the session. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hup;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	the_guard = g;
	sigaction(SIGHUP, &sa, NULL);
	if (fuse_session_mount(se, real) != 0) {
		fprintf(stderr, "%s: cannot mount on %s\n", prog, a.mnt);
		goto out_handlers;
	}
	raise_readahead(real);
	if (fuse_daemonize(a.foreground) != 0)
		goto out_unmount;
	/* SQLite must be opened after the fork of daemonizing. No audit
	 * store, no service: every access would go unrecorded. */
	guard_node(g, node, sizeof(node));
	if ((err = audit_start(v, node[0] ? node : NULL, &au)) != 0) {
		fprintf(stderr, "%s: %s: cannot open the audit store: %s\n",
		        prog, a.vault, strerror(-err));
		syslog(LOG_ERR, "cannot open the audit store of %s: %s",
		       a.vault, strerror(-err));
		goto out_unmount;
	}
	if ((err = fs_attach_audit(fs, au)) != 0) {
		syslog(LOG_ERR, "cannot set up the .audit views: %s",
		       strerror(-err));
		goto out_unmount;
	}
	/* A lockout list that cannot be trusted: no service, or a locked
	 * user would get in again. */
	if ((err = monitor_open(vault_dir_fd(v), au, &mon)) != 0) {
		fprintf(stderr, "%s: %s: the lockout list cannot be read: %s\n",
		        prog, a.vault, strerror(-err));
		syslog(LOG_ERR, "the lockout list of %s cannot be read: %s",
		       a.vault, strerror(-err));
		goto out_unmount;
	}
	fs_set_monitor(fs, mon);
	ctls.monitor = mon;
	ctls.fs = fs;
	guard_listen(g, on_reload, au);
	import_unlock_failures(au, v);
	record(au, "mount", AUDIT_ALLOWED, real);
	sg.a = au;
	if ((err = pthread_create(&sg.thread, NULL, sign_loop, &sg)) != 0) {
		sg.a = NULL;
		goto out_unmount;
	}
	snprintf(status, sizeof(status), "%s/%s", vault, GUARD_STATUS_FILE);
	if ((err = guard_start(g, status)) != 0) {
		fprintf(stderr, "%s: cannot watch the policy: %s\n", prog,
		        strerror(-err));
		goto out_unmount;
	}
	ctl = controls_start(v, fs, real, &ctls);
	syslog(LOG_INFO, "mounted %s on %s", a.vault, real);
	if (a.single) {
		err = fuse_session_loop(se);
	} else {
		lc = fuse_loop_cfg_create();
		fuse_loop_cfg_set_max_threads(lc, 16);
		fuse_loop_cfg_set_idle_threads(lc, 8);
		err = fuse_session_loop_mt(se, lc);
		fuse_loop_cfg_destroy(lc);
	}
	/* The loop returns the number of the signal that ended it, 0 for an
	 * unmount, or -errno. */
	syslog(LOG_INFO, "unmounted %s", real);
	rc = err >= 0 ? 0 : 1;
out_unmount:
	control_stop(ctl);
	share_close(ctls.share);
	fuse_session_unmount(se);
	if (sg.a != NULL)
		signer_stop(&sg);
	fs_set_monitor(fs, NULL);
	monitor_close(mon);
	if (au != NULL) {
		fs_detach_audit(fs);
		record(au, "unmount", AUDIT_ALLOWED, real);
		if (audit_checkpoint(au, NULL) < 0 || audit_close(au) != 0)
			syslog(LOG_ERR, "audit: records lost at unmount");
		au = NULL;
	}
out_handlers:
	fuse_remove_signal_handlers(se);
out:
	if (se)
		fuse_session_destroy(se);
	fuse_opt_free_args(&fargs);
	fs_free(fs);
	guard_close(g);
	vault_close(v);
	return rc;
}
