/*
 * dossierctl policy: check a policy directory, explain one decision, and
 * print the permission-review table.
 *
 *   policy check [DIR]
 *   policy explain [--policy DIR] [--at "YYYY-MM-DD HH:MM"] USER PATH ACTION
 *   policy review [--policy DIR] [--mount MNT] [--at "YYYY-MM-DD HH:MM"]
 *   policy status MOUNTPOINT|VAULT
 *
 * PATH is CLIENT[/PATH-IN-CLIENT], / for the mount root, or a path inside
 * a mounted vault: then the client folder's owner is read from the mount
 * too. Users and their groups come from the system (getpwnam,
 * getgrouplist), as in the daemon.
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include "ctl.h"
#include "guard.h"
#include "policy.h"

#define MAX_GROUPS 256

static const char *prog = "dossierctl policy";

struct popts {
	const char *dir;
	const char *mount;
	const char *at;
	struct tm when;
	char *args[4];
	int nargs;
};

/* A user's name and group names, resolved from the system. */
struct who {
	char name[64];
	const char *groups[MAX_GROUPS];
	char *buf;                 /* owns the group name strings */
	size_t ngroups;
};

static int who_load(const char *user, struct who *w)
{
	struct passwd *pw = getpwnam(user);
	gid_t gids[MAX_GROUPS];
	int n = MAX_GROUPS;
	size_t used = 0, cap = 0;

	memset(w, 0, sizeof(*w));
	if (pw == NULL)
		return -ENOENT;
	snprintf(w->name, sizeof(w->name), "%s", pw->pw_name);
	if (getgrouplist(pw->pw_name, pw->pw_gid, gids, &n) < 0)
		n = MAX_GROUPS;
	cap = (size_t)n * 64;
	w->buf = malloc(cap ? cap : 1);
	if (w->buf == NULL)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		struct group *g = getgrgid(gids[i]);
		size_t len;

		if (g == NULL)
			continue;
		len = strlen(g->gr_name) + 1;
		if (used + len > cap)
			break;
		memcpy(w->buf + used, g->gr_name, len);
		w->groups[w->ngroups++] = w->buf + used;
		used += len;
	}
	return 0;
}

static void who_free(struct who *w)
{
	free(w->buf);
	w->buf = NULL;
}

static void print_problem(void *ctx, const char *file, int line,
                          int warning, const char *msg)
{
	int *errors = ctx;

	if (!warning)
		(*errors)++;
	if (line > 0)
		fprintf(stderr, "%s:%d: %s: %s\n", file, line,
		        warning ? "warning" : "error", msg);
	else
		fprintf(stderr, "%s: %s: %s\n", file,
		        warning ? "warning" : "error", msg);
}

/* Loads dir; quiet suppresses warnings (for explain and review). */
static int load(const char *dir, int quiet, struct policy **p)
{
	int errors = 0, rc;

	rc = policy_load(dir, quiet ? NULL : print_problem, &errors, p);
	if (rc != 0 && quiet)
		rc = policy_load(dir, print_problem, &errors, p);
	if (rc != 0) {
		if (errors == 0)
			fprintf(stderr, "%s: %s: %s\n", prog, dir, strerror(-rc));
		fprintf(stderr, "%s: policy %s rejected\n", prog, dir);
	}
	return rc;
}

static int do_check(struct popts *o)
{
	struct policy *p;

	if (o->nargs > 1)
		return 2;
	if (o->nargs == 1)
		o->dir = o->args[0];
	if (load(o->dir, 0, &p) != 0)
		return 1;
	printf("policy %s ok: version %s, %zu roles, %zu clients\n", o->dir,
	       policy_version(p), policy_nroles(p), policy_nclients(p));
	policy_free(p);
	return 0;
}

/* The mount root of absolute path real: the topmost directory on the
 * same device. Writes its length into *len. */
static int mount_root(const char *real, size_t *len)
{
	char buf[PATH_MAX];
	struct stat st, up;
	size_t n = strlen(real);

	if (stat(real, &st) != 0 || n >= sizeof(buf))
		return -errno;
	memcpy(buf, real, n + 1);
	for (;;) {
		char *slash = strrchr(buf, '/');

		if (slash == NULL || slash == buf)
			break;
		*slash = '\0';
		if (stat(buf, &up) != 0 || up.st_dev != st.st_dev) {
			*slash = '/';
			break;
		}
		n = (size_t)(slash - buf);
	}
	*len = n;
	return 0;
}

/*
 * Splits PATH into client and path-in-client. A path inside a mounted
 * vault is taken relative to the mount root, and the owner of its client
 * folder is read from the mount (owner gets "" otherwise). Returns 0, 1
 * for the mount root itself ("/" or a mounted vault's root: client is
 * ""), or -EINVAL.
 */
static int split_path(const char *arg, char *client, char *rest,
                      char *owner)
{
	char real[PATH_MAX], dir[PATH_MAX];
	const char *rel = arg;
	struct stat st;
	size_t n, root = 0;

	owner[0] = '\0';
	if (arg[0] == '/' && realpath(arg, real) != NULL &&
	    mount_root(real, &root) == 0) {
		rel = real + root;
		while (*rel == '/')
			rel++;
		n = strcspn(rel, "/");
		if (snprintf(dir, sizeof(dir), "%.*s", (int)(rel - real + n),
		             real) < (int)sizeof(dir) && stat(dir, &st) == 0) {
			struct passwd *pw = getpwuid(st.st_uid);

			if (pw)
				snprintf(owner, 64, "%s", pw->pw_name);
		}
	}
	while (*rel == '/')
		rel++;
	if (*rel == '\0' && arg[0] == '/') {
		client[0] = rest[0] = '\0';
		return 1;
	}
	n = strcspn(rel, "/");
	if (n == 0 || n > NAME_MAX)
		return -EINVAL;
	memcpy(client, rel, n);
	client[n] = '\0';
	rel += n;
	while (*rel == '/')
		rel++;
	snprintf(rest, PATH_MAX, "%s", rel);
	n = strlen(rest);
	while (n > 0 && rest[n - 1] == '/')
		rest[--n] = '\0';
	return 0;
}

static void trace(void *ctx, const char *entry, int effect, const char *why)
{
	(void)ctx;
	printf("  %-32s %s%s%s\n", entry,
	       effect > 0 ? "allows" : effect < 0 ? "denies" : "does not apply",
	       why && effect == 0 ? ": " : "", why && effect == 0 ? why : "");
}

static int do_explain(struct popts *o)
{
	char client[NAME_MAX + 1], rest[PATH_MAX], owner[64];
	struct policy_decision d;
	struct policy_req r;
	struct policy *p = NULL;
	struct who w;
	unsigned perm;
	int rc = 1, root;

	if (o->nargs != 3)
		return 2;
	if (policy_perm_parse(o->args[2], &perm) != 0 || perm == POL_ALL) {
		fprintf(stderr, "%s: unknown action %s\n", prog, o->args[2]);
		return 2;
	}
	if ((root = split_path(o->args[1], client, rest, owner)) < 0) {
		fprintf(stderr, "%s: %s: not CLIENT[/PATH], / (the mount root) "
		        "nor a path in a mounted vault\n", prog, o->args[1]);
		return 2;
	}
	if (who_load(o->args[0], &w) != 0) {
		fprintf(stderr, "%s: no such user: %s\n", prog, o->args[0]);
		return 1;
	}
	if (load(o->dir, 1, &p) != 0)
		goto out;
	r = (struct policy_req){
		.user = w.name, .groups = w.groups, .ngroups = w.ngroups,
		.client = root ? NULL : client,
		.client_owner = !root && owner[0] ? owner : NULL,
		.path = root ? NULL : rest, .perm = perm, .when = &o->when,
	};
	printf("%s %s %s%s%s (policy %s):\n", w.name, policy_perm_name(perm),
	       root ? "/ (the mount root)" : client, root ? "" : "/", rest,
	       policy_version(p));
	policy_explain(p, &r, trace, NULL, &d);
	printf("%s by %s\n", d.allow ? "ALLOWED" : "DENIED", d.rule);
	rc = d.allow ? 0 : 1;
out:
	policy_free(p);
	who_free(&w);
	return rc;
}

/* The client names to review: the policy's [client] sections and, with
 * --mount, every client folder of the mount. */
static int review_clients(const struct policy *p, const char *mount,
                          char ***out, size_t *n)
{
	struct policy_client c;
	size_t cap = policy_nclients(p) + 64, k = 0;
	char **names = calloc(cap, sizeof(*names));
	struct dirent *e;
	DIR *d;

	if (names == NULL)
		return -ENOMEM;
	for (size_t i = 0; policy_client_at(p, i, &c) == 0; i++)
		names[k++] = strdup(c.name);
	if (mount && (d = opendir(mount)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			int seen = e->d_name[0] == '.';

			for (size_t i = 0; i < k && !seen; i++)
				seen = strcmp(names[i], e->d_name) == 0;
			if (seen)
				continue;
			if (k == cap) {
				char **more = realloc(names, 2 * cap *
				                      sizeof(*names));
				if (more == NULL)
					break;
				names = more;
				cap *= 2;
			}
			names[k++] = strdup(e->d_name);
		}
		closedir(d);
	}
	*out = names;
	*n = k;
	return 0;
}

static void perms_text(unsigned set, char *buf, size_t cap)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned bit = 1; bit <= POL_ADMIN; bit <<= 1)
		if (set & bit)
			used += (size_t)snprintf(buf + used, used < cap ?
			                         cap - used : 0, "%s%s",
			                         used ? "," : "",
			                         policy_perm_name(bit));
}

static int do_review(struct popts *o)
{
	struct policy *p = NULL;
	struct passwd *pw;
	char **clients = NULL, perms[128], owner[64];
	const char *roles[32];
	size_t nclients = 0;

	if (o->nargs != 0)
		return 2;
	if (load(o->dir, 1, &p) != 0)
		return 1;
	if (review_clients(p, o->mount, &clients, &nclients) != 0) {
		policy_free(p);
		return 1;
	}
	printf("# permission review, policy %s\n", policy_version(p));
	printf("user\troles\tclient\tpermissions\n");
	setpwent();
	while ((pw = getpwent()) != NULL) {
		struct who w;
		size_t nr;

		if (who_load(pw->pw_name, &w) != 0)
			continue;
		nr = policy_user_roles(p, w.name, w.groups, w.ngroups, roles,
		                       32);
		if (nr > 0) {
			char rl[512] = "";
			size_t used = 0;

			for (size_t i = 0; i < nr && i < 32; i++)
				used += (size_t)snprintf(rl + used, used <
				    sizeof(rl) ? sizeof(rl) - used : 0, "%s%s",
				    i ? "," : "", roles[i]);
			for (size_t c = 0; c < nclients; c++) {
				struct policy_req r = {
					.user = w.name, .groups = w.groups,
					.ngroups = w.ngroups,
					.client = clients[c], .path = "",
					.when = &o->when,
				};
				struct stat st;
				char path[PATH_MAX];

				owner[0] = '\0';
				if (o->mount && snprintf(path, sizeof(path),
				    "%s/%s", o->mount, clients[c]) <
				    (int)sizeof(path) && stat(path, &st) == 0) {
					struct passwd *opw = getpwuid(st.st_uid);

					if (opw)
						snprintf(owner, sizeof(owner),
						         "%s", opw->pw_name);
				}
				r.client_owner = owner[0] ? owner : NULL;
				perms_text(policy_allowed(p, &r), perms,
				           sizeof(perms));
				if (perms[0])
					printf("%s\t%s\t%s\t%s\n", w.name, rl,
					       clients[c], perms);
			}
		}
		who_free(&w);
	}
	endpwent();
	for (size_t c = 0; c < nclients; c++)
		free(clients[c]);
	free(clients);
	policy_free(p);
	return 0;
}

/*
 * The vault mounted on mnt: the source of its dossierfs mount in
 * /proc/self/mountinfo ("... MOUNTPOINT ... - fuse.dossierfs SOURCE ...").
 * Returns 0, or -ENOENT if mnt is not a dossierfs mount point.
 */
static int vault_of_mount(const char *mnt, char *vault, size_t cap)
{
	char line[3 * PATH_MAX], real[PATH_MAX], mp[PATH_MAX], src[PATH_MAX];
	int rc = -ENOENT;
	FILE *f;

	if (realpath(mnt, real) == NULL)
		return -errno;
	f = fopen("/proc/self/mountinfo", "re");
	if (f == NULL)
		return -errno;
	while (rc != 0 && fgets(line, sizeof(line), f) != NULL) {
		char *dash = strstr(line, " - "), type[64];

		if (dash == NULL ||
		    sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
		    sscanf(dash, " - %63s %4095s", type, src) != 2)
			continue;
		/* Spaces in paths are written as \040; a path with one is
		 * not matched, and the caller can name the vault instead. */
		if (strcmp(type, "fuse.dossierfs") == 0 &&
		    strcmp(mp, real) == 0 && src[0] == '/') {
			snprintf(vault, cap, "%s", src);
			rc = 0;
		}
	}
	fclose(f);
	return rc;
}

/* Prints the policy status a running daemon keeps in its vault. */
static int do_status(struct popts *o)
{
	char vault[PATH_MAX], path[PATH_MAX + 32], line[512];
	char key[32], val[480];
	long pid = 0;
	int alive, stopped = 0, rc;
	bool mounted;
	struct stat st;
	FILE *f;

	if (o->nargs != 1)
		return 2;
	/* A mount point first: looking inside the mount would be an access
	 * of its own (and recorded as one). */
	mounted = vault_of_mount(o->args[0], vault, sizeof(vault)) == 0;
	if (!mounted)
		snprintf(vault, sizeof(vault), "%s", o->args[0]);
	snprintf(path, sizeof(path), "%s/%s", vault, GUARD_STATUS_FILE);
	/* A daemon that has just mounted writes the file once it is set up
	 * (after daemonizing): give it a moment. */
	for (int i = 0; (rc = stat(path, &st)) != 0 && mounted && i < 30; i++)
		usleep(100000);
	if (rc != 0) {
		fprintf(stderr, "%s: %s: not a mounted dossierfs vault (no "
		        "%s)\n", prog, o->args[0], GUARD_STATUS_FILE);
		return 1;
	}
	f = fopen(path, "re");
	if (f == NULL) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return 1;
	}
	printf("vault:              %s\n", vault);
	while (fgets(line, sizeof(line), f) != NULL) {
		val[0] = '\0';
		if (sscanf(line, "%31s %479[^\n]", key, val) < 1)
			continue;
		if (strcmp(key, "state") == 0)
			stopped = strcmp(val, "stopped") == 0;
		else if (strcmp(key, "pid") == 0)
			pid = strtol(val, NULL, 10);
		else if (strcmp(key, "dir") == 0)
			printf("policy directory:   %s\n", val);
		else if (strcmp(key, "version") == 0)
			printf("version in force:   %s\n", val);
		else if (strcmp(key, "loaded") == 0)
			printf("loaded:             %s\n", val);
		else if (strcmp(key, "rejected") == 0)
			printf("last rejected edit: %s\n", val);
		else if (strcmp(key, "reason") == 0)
			printf("  %s\n", val);
	}
	fclose(f);
	alive = !stopped && pid > 0 && (kill((pid_t)pid, 0) == 0 ||
	                                errno == EPERM);
	printf("daemon:             %s", alive ? "running" : "not running");
	if (alive)
		printf(" (pid %ld)", pid);
	printf("\n");
	return alive ? 0 : 1;
}

static int usage(void)
{
	fprintf(stderr, "usage:\n"
	        "  dossierctl policy check [DIR]\n"
	        "  dossierctl policy explain [--policy DIR] [--at TIME] "
	        "USER PATH ACTION\n"
	        "  dossierctl policy review [--policy DIR] [--mount MNT] "
	        "[--at TIME]\n"
	        "  dossierctl policy status MOUNTPOINT|VAULT\n"
	        "DIR defaults to " GUARD_POLICY_DIR "; TIME is "
	        "\"YYYY-MM-DD HH:MM\" local time (default: now)\n");
	return 2;
}

int ctl_policy(int argc, char **argv)
{
	struct popts o = { .dir = GUARD_POLICY_DIR };
	time_t now = time(NULL);
	const char *sub;
	int rc;

	if (argc < 3)
		return usage();
	sub = argv[2];
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc)
			o.dir = argv[++i];
		else if (strcmp(argv[i], "--mount") == 0 && i + 1 < argc)
			o.mount = argv[++i];
		else if (strcmp(argv[i], "--at") == 0 && i + 1 < argc)
			o.at = argv[++i];
		else if (argv[i][0] == '-' || o.nargs == 4)
			return usage();
		else
			o.args[o.nargs++] = argv[i];
	}
	localtime_r(&now, &o.when);
	if (o.at) {
		struct tm t = { 0 };
		char *end = strptime(o.at, "%Y-%m-%d %H:%M", &t);

		if (end == NULL || *end != '\0') {
			fprintf(stderr, "%s: --at wants \"YYYY-MM-DD HH:MM\"\n",
			        prog);
			return 2;
		}
		t.tm_isdst = -1;
		now = mktime(&t);
		localtime_r(&now, &o.when);
	}
	if (strcmp(sub, "check") == 0)
		rc = do_check(&o);
	else if (strcmp(sub, "explain") == 0)
		rc = do_explain(&o);
	else if (strcmp(sub, "review") == 0)
		rc = do_review(&o);
	else if (strcmp(sub, "status") == 0)
		rc = do_status(&o);
	else
		rc = 2;
	return rc == 2 ? usage() : rc;
}
