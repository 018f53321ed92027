/*
 * dossierctl retention due|run MOUNTPOINT --as USER [--policy DIR]
 *                              [--at YYYY-MM-DD]
 *
 * Walks the mounted vault as USER (the tool drops root for that user and
 * its groups, so the daemon checks and records every access as USER's)
 * and weighs every file against the retention periods and legal holds of
 * the policy (policy_keep()). `due` lists the files whose retention
 * ended; `run` deletes them through the mount, which makes the daemon
 * destroy each one (reason "retention" in its destruction record). The
 * policy decides who may: in the example, the records-office role.
 *
 * ctl_retention_due_count() is the same walk for dossierctl report: in a
 * child process that becomes USER, silent, with the count sent back
 * through a pipe, so that the caller stays root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auditview.h"
#include "ctl.h"
#include "guard.h"
#include "policy.h"

static const char *prog = "dossierctl";

struct ropts {
	const char *mount, *as, *dir, *at;
	bool run;
	bool quiet;                  /* count only: print nothing */
	const struct policy *p;
	time_t now;
	unsigned due, held, kept, done, failed;
};

static void report(void *ctx, const char *file, int line, int warning,
                   const char *msg)
{
	(void)ctx;
	if (!warning)
		fprintf(stderr, "%s:%d: %s\n", file, line, msg);
}

/* Becomes user name for good: its groups, gid and uid. */
static int become(const char *name)
{
	struct passwd *pw = getpwnam(name);

	if (pw == NULL) {
		fprintf(stderr, "%s: no user %s\n", prog, name);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
	    setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		fprintf(stderr, "%s: cannot become %s: %s (run as root)\n",
		        prog, name, strerror(errno));
		return -1;
	}
	return 0;
}

static void day(time_t t, char out[16])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 16, "%Y-%m-%d", &tm);
}

/* One file: its verdict, and with run its deletion. */
static void weigh(struct ropts *o, int dirfd, const char *name,
                  const char *client, const char *path,
                  const struct stat *st)
{
	struct policy_keep k;
	char when[16];

	policy_keep(o->p, client, st->st_mtime, o->now, &k);
	if (k.hold != NULL) {
		o->held++;
		if (!o->quiet)
			printf("held  %s/%s: %s\n", client, path, k.why);
		return;
	}
	if (!k.due) {
		o->kept++;
		return;
	}
	o->due++;
	day(k.due_at, when);
	if (o->quiet)
		return;
	if (!o->run) {
		printf("due   %s/%s: %s on %s\n", client, path, k.why, when);
		return;
	}
	if (unlinkat(dirfd, name, 0) != 0) {
		o->failed++;
		printf("FAIL  %s/%s: %s\n", client, path, strerror(errno));
	} else {
		o->done++;
		printf("gone  %s/%s: %s on %s; destroyed by the daemon\n",
		       client, path, k.why, when);
	}
}

/* Walks directory fd of client, path the path of fd in the client ("" at
 * its top). Never follows symbolic links. */
static int walk(struct ropts *o, int fd, const char *client, const char *path)
{
	DIR *d = fdopendir(fd);
	struct dirent *e;
	char sub[PATH_MAX];
	int rc = 0;

	if (d == NULL) {
		close(fd);
		return -errno;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		int cfd;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    (path[0] == '\0' && strcmp(e->d_name, AV_DIR) == 0))
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s%s%s", path,
		                     path[0] ? "/" : "", e->d_name) >= sizeof(sub))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (!o->quiet)
				printf("skip  %s/%s: %s\n", client, sub,
				       strerror(errno));
			continue;
		}
		if (S_ISREG(st.st_mode)) {
			weigh(o, dirfd(d), e->d_name, client, sub, &st);
		} else if (S_ISDIR(st.st_mode)) {
			cfd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY |
			             O_NOFOLLOW | O_CLOEXEC);
			if ((cfd < 0 || walk(o, cfd, client, sub) != 0) &&
			    !o->quiet)
				printf("skip  %s/%s: cannot list it\n", client,
				       sub);
		}
	}
	closedir(d);
	return rc;
}

/* Weighs every file of every client folder of the mount. */
static int walk_mount(struct ropts *o)
{
	DIR *top;
	struct dirent *e;
	int fd;

	if ((top = opendir(o->mount)) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", prog, o->mount, strerror(errno));
		return -1;
	}
	while ((e = readdir(top)) != NULL) {
		if (e->d_name[0] == '.')
			continue;    /* ., .., .audit: client names start otherwise */
		fd = openat(dirfd(top), e->d_name, O_RDONLY | O_DIRECTORY |
		            O_NOFOLLOW | O_CLOEXEC);
		if ((fd < 0 || walk(o, fd, e->d_name, "") != 0) && !o->quiet)
			printf("skip  %s: cannot list it\n", e->d_name);
	}
	closedir(top);
	return 0;
}

static int run(struct ropts *o)
{
	if (walk_mount(o) != 0)
		return 1;
	if (o->run)
		printf("%u past retention: %u deleted (destroyed by the daemon), "
		       "%u failed; %u held, %u kept\n", o->due, o->done,
		       o->failed, o->held, o->kept);
	else
		printf("%u past retention, %u held, %u kept\n", o->due, o->held,
		       o->kept);
	return o->failed ? 1 : 0;
}

int ctl_retention_due_count(const char *mount, const char *user,
                            const struct policy *p, time_t now,
                            unsigned *due)
{
	struct ropts o = { .mount = mount, .quiet = true, .p = p, .now = now };
	unsigned got = 0;
	int fds[2], status = -1;
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) != 0) {
		fprintf(stderr, "%s: pipe: %s\n", prog, strerror(errno));
		return 1;
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		fprintf(stderr, "%s: fork: %s\n", prog, strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return 1;
	}
	if (pid == 0) {
		close(fds[0]);
		if (become(user) != 0 || walk_mount(&o) != 0 ||
		    write(fds[1], &o.due, sizeof(o.due)) != sizeof(o.due))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	do
		n = read(fds[0], &got, sizeof(got));
	while (n < 0 && errno == EINTR);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n != sizeof(got) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "%s: cannot weigh the files of %s as %s\n", prog,
		        mount, user);
		return 1;
	}
	*due = got;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage:\n"
	        "  dossierctl retention due MOUNTPOINT --as USER [--policy DIR] "
	        "[--at YYYY-MM-DD]\n"
	        "  dossierctl retention run MOUNTPOINT --as USER [--policy DIR]\n"
	        "USER is who works through the mount (its role must allow "
	        "list, and for run delete); DIR defaults to "
	        GUARD_POLICY_DIR "\n");
	return 2;
}

int ctl_retention(int argc, char **argv)
{
	struct ropts o = { .dir = GUARD_POLICY_DIR };
	struct policy *p = NULL;
	int rc;

	if (argc < 4)
		return usage();
	if (strcmp(argv[2], "run") == 0)
		o.run = true;
	else if (strcmp(argv[2], "due") != 0)
		return usage();
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--as") == 0 && i + 1 < argc)
			o.as = argv[++i];
		else if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc)
			o.dir = argv[++i];
		else if (strcmp(argv[i], "--at") == 0 && i + 1 < argc && !o.run)
			o.at = argv[++i];
		else if (argv[i][0] == '-' || o.mount != NULL)
			return usage();
		else
			o.mount = argv[i];
	}
	if (o.mount == NULL || o.as == NULL)
		return usage();
	o.now = time(NULL);
	if (o.at != NULL) {
		struct tm t = { 0 };
		char *end = strptime(o.at, "%Y-%m-%d", &t);

		if (end == NULL || *end != '\0') {
			fprintf(stderr, "%s: --at wants YYYY-MM-DD\n", prog);
			return 2;
		}
		o.now = timegm(&t);
	}
	if ((rc = policy_load(o.dir, report, NULL, &p)) != 0) {
		fprintf(stderr, "%s: %s: the policy does not load\n", prog, o.dir);
		return 1;
	}
	o.p = p;
	rc = become(o.as) != 0 ? 1 : run(&o);
	policy_free(p);
	return rc;
}
