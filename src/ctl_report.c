/*
 * dossierctl report VAULT --since TIME --until TIME
 *                   [--format text|csv|html] [--policy DIR]
 *                   [--passphrase-file F | --key-file F]
 *                   [--mount MNT --as USER] [--out FILE]
 *
 * The KPI report of a time range; include/report.h says what each figure
 * counts. The chain is verified first (audit.pub only); a bad chain is
 * said at the top of the report and on stderr, not refused. The store is
 * then read as root with the vault's key, with one cursor from
 * min(since, until - 90 days) to until. With --mount and --as, the files
 * past retention are counted afterwards by a child that walks the mount
 * as USER (the daemon checks and records that walk as USER's). The
 * grants come from the policy: every member of every role, an @group
 * standing for the members the group database lists and the users whose
 * primary group it is. The report goes to stdout, or to FILE, created
 * new with mode 0600: client names are personal data.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "audit.h"
#include "ctl.h"
#include "ctlutil.h"
#include "guard.h"
#include "policy.h"
#include "report.h"
#include "unlock.h"
#include "util.h"

static const char *prog = "dossierctl report";

struct ropts {
	const char *vault, *dir, *mount, *as, *out;
	const char *since_text, *until_text, *format;
	struct unlock_src src;
	int64_t since, until;
	enum report_format fmt;
};

static int usage(void)
{
	fprintf(stderr, "usage:\n"
	        "  dossierctl report VAULT --since TIME --until TIME\n"
	        "      [--format text|csv|html] [--policy DIR]\n"
	        "      [--passphrase-file F | --key-file F]\n"
	        "      [--mount MNT --as USER] [--out FILE]\n"
	        "TIME is \"YYYY-MM-DD[ HH:MM[:SS]]\" local time; --since is "
	        "inclusive, --until exclusive;\nDIR defaults to "
	        GUARD_POLICY_DIR "; FILE is created new, mode 0600\n");
	return 2;
}

static int parse(int argc, char **argv, struct ropts *o)
{
	const struct ctl_flag flags[] = {
		{ "--passphrase-file", &o->src.passphrase_file },
		{ "--key-file", &o->src.key_file },
		{ "--since", &o->since_text },
		{ "--until", &o->until_text },
		{ "--format", &o->format },
		{ "--policy", &o->dir },
		{ "--mount", &o->mount },
		{ "--as", &o->as },
		{ "--out", &o->out },
	};

	if (ctl_flags(argc, argv, 2, flags, sizeof(flags) / sizeof(flags[0]),
	              &o->vault, 1) < 0)
		return 2;
	if (o->vault == NULL || o->since_text == NULL || o->until_text == NULL)
		return 2;
	return 0;
}

/* Turns the options' text into values; 2 with a line on stderr. */
static int check_options(struct ropts *o)
{
	static const char *const fmts[] = { "text", "csv", "html" };
	int found = o->format == NULL;

	if (ctl_parse_time(o->since_text, &o->since) != 0 ||
	    ctl_parse_time(o->until_text, &o->until) != 0) {
		fprintf(stderr, "%s: a time is \"YYYY-MM-DD[ HH:MM[:SS]]\"\n",
		        prog);
		return 2;
	}
	if (o->since < 0) {
		fprintf(stderr, "%s: --since is before 1970\n", prog);
		return 2;
	}
	if (o->since >= o->until) {
		fprintf(stderr, "%s: --since must be before --until\n", prog);
		return 2;
	}
	for (int i = 0; o->format && i < 3; i++) {
		if (strcmp(o->format, fmts[i]) == 0) {
			o->fmt = (enum report_format)i;
			found = 1;
		}
	}
	if (!found) {
		fprintf(stderr, "%s: --format is text, csv or html\n", prog);
		return 2;
	}
	if ((o->mount == NULL) != (o->as == NULL)) {
		fprintf(stderr, "%s: --mount and --as go together\n", prog);
		return 2;
	}
	if (o->as && getpwnam(o->as) == NULL) {
		fprintf(stderr, "%s: no user %s\n", prog, o->as);
		return 2;
	}
	return 0;
}

_Static_assert(REPORT_TEXT == 0 && REPORT_CSV == 1 && REPORT_HTML == 2,
               "check_options() maps names by order");

static void print_problem(void *ctx, const char *file, int line,
                          int warning, const char *msg)
{
	(void)ctx;
	if (!warning)
		fprintf(stderr, "%s:%d: %s\n", file, line, msg);
}

/* What audit_verify() says of the store of dirfd, into text; 1 if all
 * is well. */
static int verify(int dirfd, char *text, size_t cap)
{
	struct audit_verify v;
	int rc = audit_verify(dirfd, &v);

	if (rc == 0) {
		snprintf(text, cap, "%" PRIu64 " records, %" PRIu64
		         " checkpoints, last checkpoint at seq %" PRIu64 ", %"
		         PRIu64 " records after it (not signed yet)", v.records,
		         v.checkpoints, v.last_checkpoint, v.unsigned_records);
		return 1;
	}
	if (rc == -EBADMSG && v.bad_seq > 0)
		snprintf(text, cap, "seq %" PRIu64 ": %s", v.bad_seq, v.reason);
	else if (rc == -EBADMSG)
		snprintf(text, cap, "%s", v.reason);
	else
		snprintf(text, cap, "could not be checked: %s", strerror(-rc));
	return 0;
}

/* Counts every record of [report_scan_from(r), until) into r. */
static int read_store(struct ropts *o, struct report *r)
{
	struct audit_filter f = { .since_us = report_scan_from(r),
	                          .until_us = o->until };
	struct audit *a = NULL;
	struct audit_cursor *c = NULL;
	struct audit_row row;
	int rc, ret = -1;

	if (ctl_open_store(prog, o->vault, &o->src, &a) != 0)
		return -1;
	if ((rc = audit_cursor_open(a, &f, &c)) != 0)
		goto fail;
	while ((rc = audit_cursor_next(c, &row)) != 0) {
		if (rc == -EBADMSG && row.seq > 0) {
			fprintf(stderr, "%s: seq %" PRIu64 ": damaged record, "
			        "not counted (run dossierctl audit verify)\n",
			        prog, row.seq);
			report_damaged(r);
			continue;
		}
		if (rc < 0 || (rc = report_add(r, &row)) != 0)
			goto fail;
	}
	ret = 0;
	goto out;
fail:
	fprintf(stderr, "%s: cannot read the audit store of %s: %s\n", prog,
	        o->vault, strerror(-rc));
out:
	audit_cursor_close(c);
	audit_close(a);
	return ret;
}

/* The members of group name: those the group database lists and those
 * whose primary group it is. A group the system does not know has none. */
static int grant_group(struct report *r, const char *role, const char *name)
{
	struct group *g = getgrnam(name);
	struct passwd *pw;
	gid_t gid;
	int rc = 0;

	if (g == NULL)
		return 0;
	gid = g->gr_gid;
	for (char **m = g->gr_mem; rc == 0 && *m != NULL; m++)
		rc = report_grant(r, role, *m);
	setpwent();
	while (rc == 0 && (pw = getpwent()) != NULL)
		if (pw->pw_gid == gid)
			rc = report_grant(r, role, pw->pw_name);
	endpwent();
	return rc;
}

static int grants(const struct policy *p, struct report *r)
{
	struct policy_role role;
	int rc = 0;

	for (size_t i = 0; rc == 0 && policy_role_at(p, i, &role) == 0; i++) {
		for (size_t m = 0; rc == 0 && m < role.nmembers; m++) {
			const char *who = role.members[m];

			rc = who[0] == '@' ? grant_group(r, role.name, who + 1)
			                   : report_grant(r, role.name, who);
		}
	}
	if (rc != 0)
		fprintf(stderr, "%s: %s\n", prog, strerror(-rc));
	return rc;
}

/* The output: stdout, or o->out created new (mode 0600). */
static FILE *open_out(struct ropts *o)
{
	FILE *f;
	int fd;

	if (o->out == NULL)
		return stdout;
	fd = open(o->out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	          0600);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot create %s: %s\n", prog, o->out,
		        strerror(errno));
		return NULL;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", prog, o->out, strerror(errno));
		close(fd);
		unlink(o->out);
	}
	return f;
}

static int run(struct ropts *o)
{
	struct report_head h = { .vault = o->vault };
	struct policy *p = NULL;
	struct report *r = NULL;
	char chain[512], by[2 * PATH_MAX];
	FILE *out = NULL;
	unsigned due;
	int rc = 1, fd, e;

	if (policy_load(o->dir, print_problem, NULL, &p) != 0) {
		fprintf(stderr, "%s: %s: the policy does not load\n", prog,
		        o->dir);
		return 1;
	}
	if ((fd = ctl_store_dir(prog, o->vault)) < 0)
		goto done;
	h.chain_ok = verify(fd, chain, sizeof(chain));
	close(fd);
	h.chain = chain;
	h.policy = policy_version(p);
	if ((e = report_new(o->since, o->until, &r)) != 0) {
		if (e == -ERANGE)
			fprintf(stderr, "%s: a report covers at most %d days\n",
			        prog, REPORT_MAX_DAYS);
		else
			fprintf(stderr, "%s: %s\n", prog, strerror(-e));
		rc = e == -ERANGE ? 2 : 1;
		goto done;
	}
	if ((out = open_out(o)) == NULL)
		goto done;
	if (grants(p, r) != 0 || read_store(o, r) != 0)
		goto done;
	if (o->mount) {
		if (ctl_retention_due_count(o->mount, o->as, p, time(NULL),
		                            &due) != 0)
			goto done;
		report_set_retention(r, due);
		snprintf(by, sizeof(by), "%s as %s", o->mount, o->as);
		h.retention_by = by;
	}
	if ((e = report_finish(r)) != 0) {
		fprintf(stderr, "%s: %s\n", prog, strerror(-e));
		goto done;
	}
	h.generated_us = now_us();
	if ((e = report_write(r, &h, o->fmt, out)) != 0) {
		fprintf(stderr, "%s: cannot write the report: %s\n", prog,
		        strerror(-e));
		goto done;
	}
	if (!h.chain_ok)
		fprintf(stderr, "%s: the audit chain of %s is BAD: %s\n", prog,
		        o->vault, chain);
	rc = 0;
done:
	if (out != NULL && out != stdout && fclose(out) != 0 && rc == 0) {
		fprintf(stderr, "%s: cannot write %s: %s\n", prog, o->out,
		        strerror(errno));
		rc = 1;
	}
	if (out != NULL && out != stdout && rc != 0)
		unlink(o->out);
	report_free(r);
	policy_free(p);
	return rc;
}

int ctl_report(int argc, char **argv)
{
	struct ropts o = { .dir = GUARD_POLICY_DIR, .fmt = REPORT_TEXT };
	int rc;

	if (parse(argc, argv, &o) != 0)
		return usage();
	if (check_options(&o) != 0)
		return usage();
	rc = run(&o);
	return rc == 2 ? usage() : rc;
}
