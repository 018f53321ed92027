/*
 * Unit tests of the role policy (include/policy.h): loading INI files
 * from a directory, every validation error and warning with its exact
 * file:line, the file security checks (mode, ACL, symlinks, ownership),
 * and the decisions: scopes, deny over allow, default deny, files globs,
 * days and hours, groups, client owners, root, and the example policy of
 * policy/; [alert] sections and the notify settings, with their matchers.
 *
 * Each test writes its policy into a fresh mkdtemp directory (0755, files
 * 0644), removed afterwards even when the test fails. Tests that change
 * ownership need root; run as another user they print a note and pass
 * without doing anything. Members of the test policies are users and
 * groups every Debian system has (daemon, bin, sys, games, nobody; staff,
 * users, adm), so that a policy meant to be clean loads without a single
 * report. The example policy is read from policy/ under the current
 * directory (the top of the source tree, where tests/run.sh runs the
 * suites) or from $POLICY_EXAMPLE_DIR.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"
#include "check_main.h"
#define CHECK_TMP_NAME "check_policy"
#include "check_tmp.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---------------------------------------------------------- */

struct report {
	char file[PATH_MAX];
	int line;
	int warning;
	char msg[512];
};

static struct report reports[512];
static size_t nreports;

static void collect(void *ctx, const char *file, int line, int warning,
                    const char *msg)
{
	(void)ctx;
	if (nreports == NELEM(reports))
		return;
	snprintf(reports[nreports].file, sizeof(reports[0].file), "%s", file);
	snprintf(reports[nreports].msg, sizeof(reports[0].msg), "%s", msg);
	reports[nreports].line = line;
	reports[nreports].warning = warning;
	nreports++;
}

/* Every report, one a line, for failure messages. */
static const char *dump(void)
{
	static char buf[16384];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < nreports && off < sizeof(buf); i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
		    "  %s:%d: %s%s\n", reports[i].file, reports[i].line,
		    reports[i].warning ? "warning: " : "", reports[i].msg);
	return nreports == 0 ? "  (none)\n" : buf;
}

static size_t count(int warning)
{
	size_t n = 0;

	for (size_t i = 0; i < nreports; i++)
		n += reports[i].warning == warning;
	return n;
}

/* 1 if a report on dir/name (or dir itself for name NULL) at line says
 * text (a substring of the message). */
static int reported(const char *name, int line, int warning,
                    const char *text)
{
	char path[PATH_MAX];

	if (name != NULL)
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	else
		snprintf(path, sizeof(path), "%s", dir);
	for (size_t i = 0; i < nreports; i++)
		if (strcmp(reports[i].file, path) == 0 &&
		    reports[i].line == line &&
		    reports[i].warning == warning &&
		    strstr(reports[i].msg, text) != NULL)
			return 1;
	return 0;
}

#define REPORTED(name, line, warning, text) \
	ck_assert_msg(reported(name, line, warning, text), \
	    "want %s:%d: %s'%s'; got:\n%s", name ? name : "(dir)", line, \
	    warning ? "warning " : "", text, dump())

static void setup(void)
{
	tmp_dir_make();
	nreports = 0;
}

static void teardown(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) != 0)
			unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
	}
	closedir(d);
	rmdir(dir);
}

static void path_of(const char *name, char *path)
{
	snprintf(path, PATH_MAX, "%s/%s", dir, name);
}

/* Writes dir/name, mode 0644, with the given text. */
static void put(const char *name, const char *text)
{
	char path[PATH_MAX];
	size_t len = strlen(text);
	int fd;

	path_of(name, path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(fchmod(fd, 0644), 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

static void unlink_ini(const char *name)
{
	char path[PATH_MAX];

	path_of(name, path);
	ck_assert_msg(unlink(path) == 0, "unlink %s: %s", path,
	              strerror(errno));
}

static int load(struct policy **p)
{
	nreports = 0;
	*p = NULL;
	return policy_load(dir, collect, NULL, p);
}

/* Loads a policy that must give no error and no warning. */
static struct policy *load_clean(void)
{
	struct policy *p;
	int rc = load(&p);

	ck_assert_msg(rc == 0 && nreports == 0,
	              "load: %d, reports:\n%s", rc, dump());
	return p;
}

/* Loads a policy that must be rejected, leaving *out untouched, with
 * exactly errors errors. */
static void load_bad(size_t errors)
{
	struct policy *sentinel = (struct policy *)&nreports, *p = sentinel;
	int rc;

	nreports = 0;
	rc = policy_load(dir, collect, NULL, &p);
	ck_assert_msg(rc == -EINVAL, "load: %d, want -EINVAL; reports:\n%s",
	              rc, dump());
	ck_assert_ptr_eq(p, sentinel);
	ck_assert_msg(count(0) == errors, "want %zu errors, got:\n%s", errors,
	              dump());
}

/* Wednesday 12:00. */
static const struct tm noon = { .tm_wday = 3, .tm_hour = 12 };

static struct tm at(int wday, int hour, int min)
{
	struct tm t = { .tm_wday = wday, .tm_hour = hour, .tm_min = min };

	return t;
}

static const char *const NOGROUPS[] = { NULL };
static const char *const STAFF[] = { "staff", NULL };

static size_t ngroups(const char *const *g)
{
	size_t n = 0;

	while (g != NULL && g[n] != NULL)
		n++;
	return n;
}

#define REQ(u_, g_, c_, o_, path_, perm_) ((struct policy_req){ \
	.user = (u_), .groups = (g_), .ngroups = ngroups(g_), \
	.client = (c_), .client_owner = (o_), .path = (path_), \
	.perm = (perm_), .when = &noon })

static void expect_at(int line, const struct policy *p, struct policy_req r,
                      int allow, const char *rule)
{
	struct policy_decision d;

	memset(&d, 0x5a, sizeof(d));
	policy_decide(p, &r, &d);
	ck_assert_msg(d.allow == allow && strcmp(d.rule, rule) == 0,
	    "line %d: %s %s %s/%s: got %s by '%.160s', want %s by '%s'", line,
	    r.user ? r.user : "(null)", policy_perm_name(r.perm) ?
	    policy_perm_name(r.perm) : "?", r.client ? r.client : "(root)",
	    r.path ? r.path : "(null)", d.allow ? "allow" : "deny", d.rule,
	    allow ? "allow" : "deny", rule);

	/* The same decision with the caller's memberships worked out once. */
	struct policy_who *w = NULL;
	struct policy_decision dw;

	if (p == NULL || r.who != NULL ||
	    policy_who_new(p, r.user, r.groups, r.ngroups, &w) != 0)
		return;
	r.who = w;
	policy_decide(p, &r, &dw);
	policy_who_free(w);
	ck_assert_msg(dw.allow == d.allow && strcmp(dw.rule, d.rule) == 0,
	    "line %d: with policy_who: %s by '%s', without: %s by '%s'",
	    line, dw.allow ? "allow" : "deny", dw.rule,
	    d.allow ? "allow" : "deny", d.rule);
}

#define ALLOWED(p, r, rule) expect_at(__LINE__, p, r, 1, rule)
#define DENIED(p, r, rule)  expect_at(__LINE__, p, r, 0, rule)

/* ---- core: scopes ------------------------------------------------------ */

static const char clients_ini[] =
	"[client acme]\n"
	"owner = daemon\n"
	"team = south\n"
	"\n"
	"[client baker]\n"
	"members = bin, @users\n"
	"\n"
	"[client corner]\n"
	"team = north\n";

static const char teams_ini[] =
	"[team north]\n"
	"members = sys, @adm\n"
	"\n"
	"[team south]\n"
	"members = games\n";

static void put_scope_role(const char *scope)
{
	char text[512];

	snprintf(text, sizeof(text),
	         "[role r]\nmembers = @staff\nscope = %s\nallow = read\n",
	         scope);
	put("roles.ini", text);
	put("clients.ini", clients_ini);
	put("teams.ini", teams_ini);
}

START_TEST(test_scope_all)
{
	struct policy *p;

	put_scope_role("all");
	p = load_clean();
	ALLOWED(p, REQ("anyone", STAFF, "acme", NULL, "a.pdf", POL_READ),
	        "role r");
	ALLOWED(p, REQ("anyone", STAFF, "unlisted", NULL, "x/y", POL_READ),
	        "role r");
	DENIED(p, REQ("anyone", NOGROUPS, "acme", NULL, "a.pdf", POL_READ),
	       "default deny");
	DENIED(p, REQ("anyone", STAFF, "acme", NULL, "a.pdf", POL_WRITE),
	       "default deny");
	policy_free(p);
}
END_TEST

START_TEST(test_scope_assigned)
{
	static const char *const users[] = { "staff", "users", NULL };
	static const char *const adm[] = { "staff", "adm", NULL };
	struct policy *p;

	put_scope_role("assigned");
	p = load_clean();
	/* owner = in [client] */
	ALLOWED(p, REQ("daemon", STAFF, "acme", NULL, "a", POL_READ),
	        "role r");
	DENIED(p, REQ("bin", STAFF, "acme", NULL, "a", POL_READ),
	       "default deny");
	/* members = user and @group */
	ALLOWED(p, REQ("bin", STAFF, "baker", NULL, "a", POL_READ), "role r");
	ALLOWED(p, REQ("other", users, "baker", NULL, "a", POL_READ),
	        "role r");
	DENIED(p, REQ("other", STAFF, "baker", NULL, "a", POL_READ),
	       "default deny");
	/* a member of the client's team, by name and by group */
	ALLOWED(p, REQ("games", STAFF, "acme", NULL, "a", POL_READ),
	        "role r");
	ALLOWED(p, REQ("sys", STAFF, "corner", NULL, "a", POL_READ),
	        "role r");
	ALLOWED(p, REQ("other", adm, "corner", NULL, "a", POL_READ),
	        "role r");
	DENIED(p, REQ("games", STAFF, "corner", NULL, "a", POL_READ),
	       "default deny");
	/* the folder's creator, from the request */
	DENIED(p, REQ("daemon", STAFF, "delta", NULL, "a", POL_READ),
	       "default deny");
	ALLOWED(p, REQ("daemon", STAFF, "delta", "daemon", "a", POL_READ),
	        "role r");
	DENIED(p, REQ("daemon", STAFF, "delta", "bin", "a", POL_READ),
	       "default deny");
	ALLOWED(p, REQ("bin", STAFF, "acme", "bin", "a", POL_READ), "role r");
	policy_free(p);
}
END_TEST

START_TEST(test_scope_team)
{
	static const char *const adm[] = { "staff", "adm", NULL };
	struct policy *p;

	put_scope_role("team");
	p = load_clean();
	ALLOWED(p, REQ("sys", STAFF, "corner", NULL, "a", POL_READ),
	        "role r");
	ALLOWED(p, REQ("x", adm, "corner", NULL, "a", POL_READ), "role r");
	DENIED(p, REQ("sys", STAFF, "acme", NULL, "a", POL_READ),
	       "default deny");
	ALLOWED(p, REQ("games", STAFF, "acme", NULL, "a", POL_READ),
	        "role r");
	/* owners and members are not the team */
	DENIED(p, REQ("daemon", STAFF, "acme", "daemon", "a", POL_READ),
	       "default deny");
	DENIED(p, REQ("bin", STAFF, "baker", NULL, "a", POL_READ),
	       "default deny");
	DENIED(p, REQ("sys", STAFF, "unlisted", NULL, "a", POL_READ),
	       "default deny");
	policy_free(p);
}
END_TEST

START_TEST(test_scope_team_named)
{
	struct policy *p;

	put_scope_role("team:north");
	p = load_clean();
	ALLOWED(p, REQ("anyone", STAFF, "corner", NULL, "a", POL_READ),
	        "role r");
	DENIED(p, REQ("sys", STAFF, "acme", NULL, "a", POL_READ),
	       "default deny");
	DENIED(p, REQ("sys", STAFF, "unlisted", NULL, "a", POL_READ),
	       "default deny");
	policy_free(p);
}
END_TEST

START_TEST(test_scope_clients)
{
	struct policy *p;

	put_scope_role("clients:acme-* baker  c?rner");
	p = load_clean();
	ALLOWED(p, REQ("x", STAFF, "acme-1", NULL, "a", POL_READ), "role r");
	ALLOWED(p, REQ("x", STAFF, "acme-", NULL, "a", POL_READ), "role r");
	ALLOWED(p, REQ("x", STAFF, "baker", NULL, "a", POL_READ), "role r");
	ALLOWED(p, REQ("x", STAFF, "corner", NULL, "a", POL_READ), "role r");
	DENIED(p, REQ("x", STAFF, "acme", NULL, "a", POL_READ),
	       "default deny");
	DENIED(p, REQ("x", STAFF, "bakers", NULL, "a", POL_READ),
	       "default deny");
	policy_free(p);
}
END_TEST

START_TEST(test_scope_none)
{
	struct policy *p;

	put_scope_role("none");
	put("rules.ini",
	    "[rule demo]\nroles = r\neffect = allow\npermissions = list\n"
	    "scope = clients:demo\n");
	p = load_clean();
	DENIED(p, REQ("x", STAFF, "acme", NULL, "a", POL_READ),
	       "default deny");
	DENIED(p, REQ("x", STAFF, "demo", NULL, "a", POL_READ),
	       "default deny");
	ALLOWED(p, REQ("x", STAFF, "demo", NULL, "", POL_LIST), "rule demo");
	DENIED(p, REQ("x", STAFF, "acme", NULL, "", POL_LIST),
	       "default deny");
	policy_free(p);
}
END_TEST

/* ---- core: decision order ---------------------------------------------- */

START_TEST(test_deny_beats_allow)
{
	static const char *const both[] = { "staff", "users", NULL };
	struct policy *p;

	put("roles.ini",
	    "[role reader]\nmembers = @staff\nscope = all\n"
	    "allow = list, read, write\n"
	    "\n"
	    "[role careful]\nmembers = @users\nscope = all\nallow = list\n"
	    "deny = write\n");
	put("rules.ini",
	    "[rule no-read-secret]\nroles = reader\neffect = deny\n"
	    "permissions = read\nscope = clients:secret\n"
	    "\n"
	    "[rule extra-delete]\nroles = *\neffect = allow\n"
	    "permissions = delete, read\n"
	    "\n"
	    "[rule no-delete-b]\nroles = careful\neffect = deny\n"
	    "permissions = delete\nscope = clients:b*\n");
	p = load_clean();
	/* a role's deny beats another role's allow */
	ALLOWED(p, REQ("x", STAFF, "acme", NULL, "f", POL_WRITE),
	        "role reader");
	DENIED(p, REQ("x", both, "acme", NULL, "f", POL_WRITE),
	       "role careful");
	/* a deny rule beats a role's allow and an allow rule */
	ALLOWED(p, REQ("x", STAFF, "acme", NULL, "f", POL_READ),
	        "role reader");
	DENIED(p, REQ("x", STAFF, "secret", NULL, "f", POL_READ),
	       "rule no-read-secret");
	ALLOWED(p, REQ("x", both, "acme", NULL, "f", POL_DELETE),
	        "rule extra-delete");
	DENIED(p, REQ("x", both, "bank", NULL, "f", POL_DELETE),
	       "rule no-delete-b");
	/* a deny rule applies only to its roles */
	ALLOWED(p, REQ("x", STAFF, "bank", NULL, "f", POL_DELETE),
	        "rule extra-delete");
	policy_free(p);
}
END_TEST

START_TEST(test_default_deny)
{
	struct policy *p;

	put("roles.ini",
	    "[role reader]\nmembers = @staff\nscope = all\nallow = read\n");
	p = load_clean();
	DENIED(p, REQ("x", STAFF, "acme", NULL, "f", POL_SHARE),
	       "default deny");
	DENIED(p, REQ("x", NOGROUPS, "acme", NULL, "f", POL_READ),
	       "default deny");
	DENIED(p, REQ("staff", NOGROUPS, "acme", NULL, "f", POL_READ),
	       "default deny");
	policy_free(p);
}
END_TEST

START_TEST(test_rule_named)
{
	struct policy *p;

	put("roles.ini",
	    "[role a]\nmembers = @staff\nscope = all\nallow = list\n"
	    "[role b]\nmembers = @staff\nscope = all\nallow = list, read\n");
	put("rules.ini",
	    "[rule extra-audit]\nroles = b\neffect = allow\n"
	    "permissions = audit\n");
	p = load_clean();
	/* the first allowing entry in reading order is named */
	ALLOWED(p, REQ("x", STAFF, "c", NULL, "", POL_LIST), "role a");
	ALLOWED(p, REQ("x", STAFF, "c", NULL, "f", POL_READ), "role b");
	ALLOWED(p, REQ("x", STAFF, "c", NULL, ".audit", POL_AUDIT),
	        "rule extra-audit");
	policy_free(p);
}
END_TEST

/* ---- core: files, time, groups, owners, root --------------------------- */

START_TEST(test_files)
{
	struct policy *p;

	put("roles.ini",
	    "[role legal]\nmembers = @staff\nscope = all\nallow = list, read\n"
	    "files = *contract*, */ID/*\n"
	    "\n"
	    "[role all]\nmembers = @users\nscope = all\nallow = list, read\n");
	put("rules.ini",
	    "[rule no-id-scans]\nroles = all\neffect = deny\n"
	    "permissions = read, list\nfiles = id-scan*\n");
	p = load_clean();
	/* a glob without '/' matches any one component */
	ALLOWED(p, REQ("x", STAFF, "c", NULL, "contracts", POL_LIST),
	        "role legal");
	ALLOWED(p, REQ("x", STAFF, "c", NULL, "contracts/sale.pdf", POL_READ),
	        "role legal");
	ALLOWED(p, REQ("x", STAFF, "c", NULL, "2024/a-contract.pdf",
	        POL_READ), "role legal");
	DENIED(p, REQ("x", STAFF, "c", NULL, "2024/invoice.pdf", POL_READ),
	       "default deny");
	/* a glob with '/' matches the whole path, '*' across '/' */
	ALLOWED(p, REQ("x", STAFF, "c", NULL, "2024/ID/scan.jpg", POL_READ),
	        "role legal");
	ALLOWED(p, REQ("x", STAFF, "c", NULL, "a/b/ID/c/d", POL_READ),
	        "role legal");
	DENIED(p, REQ("x", STAFF, "c", NULL, "ID/scan.jpg", POL_READ),
	       "default deny");
	/* the client folder: listed, nothing else */
	ALLOWED(p, REQ("x", STAFF, "c", NULL, "", POL_LIST), "role legal");
	DENIED(p, REQ("x", STAFF, "c", NULL, "", POL_READ), "default deny");
	/* deny rule with files */
	static const char *const users[] = { "users", NULL };
	DENIED(p, REQ("x", users, "c", NULL, "id-scan.jpg", POL_READ),
	       "rule no-id-scans");
	DENIED(p, REQ("x", users, "c", NULL, "ID/id-scan-2.jpg", POL_READ),
	       "rule no-id-scans");
	DENIED(p, REQ("x", users, "c", NULL, "id-scans/old/a.jpg", POL_READ),
	       "rule no-id-scans");
	ALLOWED(p, REQ("x", users, "c", NULL, "ID/passport.jpg", POL_READ),
	        "role all");
	ALLOWED(p, REQ("x", users, "c", NULL, "", POL_LIST), "role all");
	policy_free(p);
}
END_TEST

START_TEST(test_days_hours)
{
	static const struct {
		int wday, hour, min, office, weekend;
	} cases[] = {
		{ 1, 8, 0, 1, 0 },    /* monday 08:00: first minute */
		{ 1, 7, 59, 0, 0 },
		{ 3, 18, 59, 1, 0 },  /* last minute */
		{ 3, 19, 0, 0, 0 },   /* end excluded */
		{ 5, 12, 0, 1, 0 },   /* friday */
		{ 6, 12, 0, 0, 1 },   /* saturday */
		{ 0, 0, 0, 0, 1 },    /* sunday 00:00 */
		{ 0, 23, 59, 0, 1 },
		{ 2, 12, 30, 1, 0 },
	};
	struct policy *p;
	struct tm t;

	put("roles.ini",
	    "[role office]\nmembers = @staff\nscope = all\nallow = read\n"
	    "days = mon-fri\nhours = 08:00-19:00\n"
	    "\n"
	    "[role weekend]\nmembers = @users\nscope = all\nallow = read\n"
	    "days = sat,sun\nhours = all\n"
	    "\n"
	    "[role split]\nmembers = @adm\nscope = all\nallow = read\n"
	    "days = FRI-mon\nhours = 08:00-12:00, 13:00-24:00\n");
	p = load_clean();
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct policy_req r = REQ("x", STAFF, "c", NULL, "f", POL_READ);

		t = at(cases[i].wday, cases[i].hour, cases[i].min);
		r.when = &t;
		expect_at(__LINE__ * 1000 + (int)i, p, r, cases[i].office,
		          cases[i].office ? "role office" : "default deny");
		r.groups = (const char *const[]){ "users" };
		r.ngroups = 1;
		expect_at(__LINE__ * 1000 + (int)i, p, r, cases[i].weekend,
		          cases[i].weekend ? "role weekend" : "default deny");
	}
	{
		static const char *const adm[] = { "adm", NULL };
		struct policy_req r = REQ("x", adm, "c", NULL, "f", POL_READ);

		t = at(0, 23, 59);      /* sunday, within fri-mon */
		r.when = &t;
		ALLOWED(p, r, "role split");
		t = at(1, 12, 0);       /* monday, the gap 12:00-13:00 */
		DENIED(p, r, "default deny");
		t = at(1, 11, 59);
		ALLOWED(p, r, "role split");
		t = at(1, 13, 0);
		ALLOWED(p, r, "role split");
		t = at(2, 10, 0);       /* tuesday */
		DENIED(p, r, "default deny");
	}
	policy_free(p);
}
END_TEST

START_TEST(test_groups)
{
	static const char *const both[] = { "users", "adm", NULL };
	static const char *const users[] = { "users", NULL };
	static const char *const bing[] = { "bin", NULL };
	struct policy *p;
	struct policy_req r;

	put("roles.ini",
	    "[role r]\nmembers = @adm, bin\nscope = all\nallow = read\n");
	p = load_clean();
	ALLOWED(p, REQ("x", both, "c", NULL, "f", POL_READ), "role r");
	DENIED(p, REQ("x", users, "c", NULL, "f", POL_READ), "default deny");
	/* "@adm" is the group, not a user named adm; "bin" the user */
	DENIED(p, REQ("adm", NOGROUPS, "c", NULL, "f", POL_READ),
	       "default deny");
	ALLOWED(p, REQ("bin", NOGROUPS, "c", NULL, "f", POL_READ), "role r");
	DENIED(p, REQ("x", bing, "c", NULL, "f", POL_READ), "default deny");
	/* NULL entries in groups are skipped */
	r = REQ("x", both, "c", NULL, "f", POL_READ);
	r.groups = (const char *const[]){ NULL, "adm" };
	r.ngroups = 2;
	ALLOWED(p, r, "role r");
	policy_free(p);
}
END_TEST

START_TEST(test_register_and_owner)
{
	struct policy *p;

	put("roles.ini",
	    "[role manager]\nmembers = @staff\nscope = assigned\n"
	    "allow = list, read, register\n");
	put("clients.ini",
	    "[client reserved]\nowner = daemon\nmembers = sys\n"
	    "[client open]\nmembers = sys\n");
	p = load_clean();
	/* a new client: the caller is its owner-to-be */
	ALLOWED(p, REQ("bin", STAFF, "new-client", NULL, "", POL_REGISTER),
	        "role manager");
	DENIED(p, REQ("bin", STAFF, "new-client", NULL, "", POL_READ),
	       "default deny");
	/* a client with an owner in the policy is reserved */
	DENIED(p, REQ("bin", STAFF, "reserved", NULL, "", POL_REGISTER),
	       "default deny");
	ALLOWED(p, REQ("daemon", STAFF, "reserved", NULL, "", POL_REGISTER),
	        "role manager");
	ALLOWED(p, REQ("sys", STAFF, "reserved", NULL, "", POL_REGISTER),
	        "role manager");
	ALLOWED(p, REQ("bin", STAFF, "open", NULL, "", POL_REGISTER),
	        "role manager");
	/* an explicit owner is not overridden by the caller */
	DENIED(p, REQ("bin", STAFF, "new-client", "daemon", "", POL_REGISTER),
	       "default deny");
	/* client_owner counts like owner = */
	ALLOWED(p, REQ("bin", STAFF, "theirs", "bin", "a/b", POL_READ),
	        "role manager");
	DENIED(p, REQ("bin", STAFF, "theirs", "daemon", "a/b", POL_READ),
	       "default deny");
	policy_free(p);
}
END_TEST

START_TEST(test_root_gets_nothing)
{
	static const char *const rootg[] = { "root", NULL };
	struct policy *p;

	put("roles.ini",
	    "[role r]\nmembers = @staff\nscope = all\nallow = list, read\n");
	p = load_clean();
	for (unsigned bit = 1; bit & POL_ALL; bit <<= 1)
		DENIED(p, REQ("root", rootg, "c", "root", "f", bit),
		       "default deny");
	DENIED(p, REQ("root", rootg, NULL, NULL, NULL, POL_LIST),
	       "default deny");
	DENIED(p, REQ("root", rootg, "c", NULL, "", POL_REGISTER),
	       "default deny");
	policy_free(p);

	put("roles.ini",
	    "[role r]\nmembers = root\nscope = all\nallow = list\n");
	p = load_clean();
	ALLOWED(p, REQ("root", rootg, "c", NULL, "", POL_LIST), "role r");
	DENIED(p, REQ("root", rootg, "c", NULL, "f", POL_READ),
	       "default deny");
	policy_free(p);
}
END_TEST

START_TEST(test_mount_root)
{
	struct policy *p;

	put("roles.ini",
	    "[role nothing]\nmembers = @staff\nscope = none\nallow = read\n"
	    "[role r]\nmembers = bin\nscope = all\nallow = read\n");
	p = load_clean();
	ALLOWED(p, REQ("x", STAFF, NULL, NULL, NULL, POL_LIST),
	        "role nothing");
	ALLOWED(p, REQ("bin", NOGROUPS, NULL, NULL, "ignored", POL_LIST),
	        "role r");
	DENIED(p, REQ("x", NOGROUPS, NULL, NULL, NULL, POL_LIST),
	       "default deny");
	DENIED(p, REQ("bin", NOGROUPS, NULL, NULL, NULL, POL_READ),
	       "default deny");
	DENIED(p, REQ("bin", NOGROUPS, NULL, NULL, NULL, POL_REGISTER),
	       "default deny");
	policy_free(p);
}
END_TEST

/*
 * audit (the root's .audit) and admin (unlocking a user) at the mount
 * root: granted only over the whole vault, and taken away by a deny of
 * the permission anywhere. One policy, written for permission name pn.
 */
static void check_root_whole_vault(unsigned perm, const char *pn)
{
	struct policy *p;
	struct tm t;
	struct policy_req r;
	char text[2048];

	snprintf(text, sizeof(text),
	    "[role whole]\nmembers = daemon, news\nscope = all\n"
	    "allow = list, %s\n"
	    "[role part]\nmembers = bin\nscope = clients:a*\n"
	    "allow = list, %s\n"
	    "[role files]\nmembers = sys\nscope = all\n"
	    "allow = list, %s\nfiles = *.pdf\n"
	    "[role day]\nmembers = sync\nscope = all\nallow = list, %s\n"
	    "days = mon-fri\n"
	    "[role plain]\nmembers = games\nscope = all\nallow = list\n"
	    "[role plain2]\nmembers = man\nscope = all\nallow = list\n"
	    "[role whole2]\nmembers = lp\nscope = all\nallow = %s\n"
	    "[role one]\nmembers = mail\nscope = clients:a1\nallow = %s\n"
	    "[role watched]\nmembers = news\nscope = clients:b*\n"
	    "allow = list\ndeny = %s\n",
	    pn, pn, pn, pn, pn, pn, pn);
	put("roles.ini", text);
	snprintf(text, sizeof(text),
	    "[rule fay-gets-it]\nroles = plain2\neffect = allow\n"
	    "permissions = %s\n"
	    "[rule not-gil-on-b]\nroles = whole2\neffect = deny\n"
	    "permissions = %s\nscope = clients:b*\n", pn, pn);
	put("rules.ini", text);
	p = load_clean();
	ALLOWED(p, REQ("daemon", NOGROUPS, NULL, NULL, NULL, perm),
	        "role whole");
	/* some clients only, or some files only: not the whole vault */
	DENIED(p, REQ("bin", NOGROUPS, NULL, NULL, NULL, perm),
	       "default deny");
	DENIED(p, REQ("sys", NOGROUPS, NULL, NULL, NULL, perm),
	       "default deny");
	DENIED(p, REQ("mail", NOGROUPS, NULL, NULL, NULL, perm),
	       "default deny");
	ALLOWED(p, REQ("mail", NOGROUPS, "a1", NULL, "", perm), "role one");
	/* list is not it; a rule without a scope reaches what the role
	 * reaches: all */
	DENIED(p, REQ("games", NOGROUPS, NULL, NULL, NULL, perm),
	       "default deny");
	ALLOWED(p, REQ("man", NOGROUPS, NULL, NULL, NULL, perm),
	        "rule fay-gets-it");
	/* a deny on some clients, by a rule or by the role itself, takes
	 * the whole vault away */
	DENIED(p, REQ("lp", NOGROUPS, NULL, NULL, NULL, perm),
	       "rule not-gil-on-b");
	ALLOWED(p, REQ("lp", NOGROUPS, "a1", NULL, "", perm), "role whole2");
	DENIED(p, REQ("news", NOGROUPS, NULL, NULL, NULL, perm),
	       "role watched");
	/* days */
	r = REQ("sync", NOGROUPS, NULL, NULL, NULL, perm);
	t = at(1, 10, 0);
	r.when = &t;
	ALLOWED(p, r, "role day");
	t = at(0, 10, 0);
	DENIED(p, r, "default deny");
	/* other permissions mean nothing at the root */
	DENIED(p, REQ("daemon", NOGROUPS, NULL, NULL, NULL, POL_READ),
	       "default deny");
	policy_free(p);
}

START_TEST(test_mount_root_audit)
{
	check_root_whole_vault(POL_AUDIT, "audit");
}
END_TEST

START_TEST(test_mount_root_admin)
{
	check_root_whole_vault(POL_ADMIN, "admin");
}
END_TEST

/* ---- core: introspection ----------------------------------------------- */

struct traced {
	char entry[64][64];
	int effect[64];
	char why[64][64];
	int n;
};

static void on_trace(void *ctx, const char *entry, int effect,
                     const char *why)
{
	struct traced *t = ctx;

	ck_assert_int_lt(t->n, 64);
	snprintf(t->entry[t->n], sizeof(t->entry[0]), "%s", entry);
	snprintf(t->why[t->n], sizeof(t->why[0]), "%s", why ? why : "");
	t->effect[t->n++] = effect;
}

START_TEST(test_introspection)
{
	const char *names[4];
	struct policy_client c;
	struct policy_role role;
	struct policy_decision d;
	struct policy_req r;
	struct traced t = { .n = 0 };
	struct policy *p, *q;
	char version[17];
	unsigned bit;

	put("settings.ini", "[settings]\nnode = office-2\n");
	put("roles.ini",
	    "[role a]\nmembers = @staff, bin\nscope = all\nallow = list\n"
	    "description = first\n"
	    "[role b]\nmembers = daemon\nscope = clients:x*\n"
	    "allow = read, write\ndeny = write\n"
	    "[role c]\nmembers = @staff\nscope = team\nallow = read\n"
	    "days = sat\n");
	put("rules.ini", "[rule r1]\nroles = c\neffect = deny\n"
	    "permissions = share\n");
	put("clients.ini",
	    "[client zed]\nowner = bin\nclosed = 2024-01-31\n"
	    "retention = 10y\nhold = case 17\n"
	    "[client alpha]\nmembers = sys, @users\nteam = t\n");
	put("teams.ini", "[team t]\nmembers = games\n");
	p = load_clean();

	ck_assert_str_eq(policy_node(p), "office-2");
	ck_assert_uint_eq(strlen(policy_version(p)), 16);
	ck_assert_uint_eq(strspn(policy_version(p), "0123456789abcdef"), 16);
	snprintf(version, sizeof(version), "%s", policy_version(p));

	ck_assert_uint_eq(policy_user_roles(p, "bin", STAFF, 1, names, 4), 2);
	ck_assert_str_eq(names[0], "a");
	ck_assert_str_eq(names[1], "c");
	ck_assert_uint_eq(policy_user_roles(p, "daemon", STAFF, 1, names, 1),
	                  3);
	ck_assert_str_eq(names[0], "a");
	ck_assert_uint_eq(policy_user_roles(p, "nobody", NULL, 0, names, 4),
	                  0);

	ck_assert_uint_eq(policy_nroles(p), 3);
	ck_assert_int_eq(policy_role_at(p, 1, &role), 0);
	ck_assert_str_eq(role.name, "b");
	ck_assert_str_eq(role.scope, "clients:x*");
	ck_assert_uint_eq(role.allow, POL_READ | POL_WRITE);
	ck_assert_uint_eq(role.deny, POL_WRITE);
	ck_assert_ptr_null(role.description);
	ck_assert_int_eq(role.line, 6);
	ck_assert_int_eq(policy_role_at(p, 0, &role), 0);
	ck_assert_uint_eq(role.nmembers, 2);
	ck_assert_str_eq(role.members[0], "@staff");
	ck_assert_str_eq(role.members[1], "bin");
	ck_assert_str_eq(role.description, "first");
	ck_assert_int_eq(policy_role_at(p, 3, &role), -ENOENT);

	ck_assert_uint_eq(policy_nclients(p), 2);
	ck_assert_int_eq(policy_client_at(p, 0, &c), 0);
	ck_assert_str_eq(c.name, "alpha");
	ck_assert_str_eq(c.team, "t");
	ck_assert_ptr_null(c.owner);
	ck_assert_uint_eq(c.nmembers, 2);
	ck_assert_str_eq(c.members[1], "@users");
	ck_assert_ptr_null(c.closed);
	ck_assert_int_eq(policy_client_at(p, 1, &c), 0);
	ck_assert_str_eq(c.name, "zed");
	ck_assert_int_eq(policy_client_at(p, 2, &c), -ENOENT);
	ck_assert_int_eq(policy_client_find(p, "zed", &c), 0);
	ck_assert_str_eq(c.owner, "bin");
	ck_assert_str_eq(c.closed, "2024-01-31");
	ck_assert_str_eq(c.retention, "10y");
	ck_assert_str_eq(c.hold, "case 17");
	ck_assert_int_eq(c.line, 1);
	ck_assert_msg(strstr(c.file, "/clients.ini") != NULL, "%s", c.file);
	ck_assert_int_eq(policy_client_find(p, "nope", &c), -ENOENT);

	/* what a user may do in a client */
	r = REQ("daemon", NOGROUPS, "xylo", NULL, "f", 0);
	ck_assert_uint_eq(policy_allowed(p, &r), POL_READ);
	r = REQ("daemon", STAFF, "xylo", NULL, "f", 0);
	ck_assert_uint_eq(policy_allowed(p, &r), POL_READ | POL_LIST);
	r.path = "/bad";
	ck_assert_uint_eq(policy_allowed(p, &r), 0);

	/* explain: every role the user has, every rule naming one */
	r = REQ("daemon", STAFF, "xylo", NULL, "f", POL_WRITE);
	policy_explain(p, &r, on_trace, &t, &d);
	ck_assert_int_eq(d.allow, 0);
	ck_assert_str_eq(d.rule, "role b");
	ck_assert_int_eq(t.n, 4);
	ck_assert_str_eq(t.entry[0], "role a");
	ck_assert_int_eq(t.effect[0], 0);
	ck_assert_str_eq(t.why[0], "permission not listed");
	ck_assert_str_eq(t.entry[1], "role b");
	ck_assert_int_eq(t.effect[1], -1);
	ck_assert_str_eq(t.entry[2], "role c");
	ck_assert_str_eq(t.why[2], "scope does not reach the client");
	ck_assert_str_eq(t.entry[3], "rule r1");
	ck_assert_str_eq(t.why[3], "scope does not reach the client");
	t.n = 0;
	r = REQ("games", STAFF, "alpha", NULL, "f", POL_READ);
	policy_explain(p, &r, on_trace, &t, &d);
	ck_assert_int_eq(d.allow, 0);
	ck_assert_str_eq(d.rule, "default deny");
	ck_assert_int_eq(t.n, 3);
	ck_assert_str_eq(t.why[1], "outside its days or hours");
	policy_explain(p, &r, NULL, NULL, &d);

	/* permission names */
	for (bit = 1; bit & POL_ALL; bit <<= 1) {
		unsigned back = 0;

		ck_assert_ptr_nonnull(policy_perm_name(bit));
		ck_assert_int_eq(policy_perm_parse(policy_perm_name(bit),
		                                   &back), 0);
		ck_assert_uint_eq(back, bit);
	}
	ck_assert_str_eq(policy_perm_name(POL_REGISTER), "register");
	ck_assert_ptr_null(policy_perm_name(0));
	ck_assert_ptr_null(policy_perm_name(POL_READ | POL_WRITE));
	ck_assert_ptr_null(policy_perm_name(1u << 10));
	ck_assert_int_eq(policy_perm_parse("all", &bit), 0);
	ck_assert_uint_eq(bit, POL_ALL);
	ck_assert_int_eq(policy_perm_parse("Read", &bit), -EINVAL);
	ck_assert_int_eq(policy_perm_parse("", &bit), -EINVAL);

	/* the version follows the files, not the directory */
	q = load_clean();
	ck_assert_str_eq(policy_version(q), version);
	policy_free(q);
	put("teams.ini", "[team t]\nmembers = games, sys\n");
	q = load_clean();
	ck_assert_str_ne(policy_version(q), version);
	policy_free(q);
	policy_free(p);
	policy_free(NULL);
}
END_TEST

/* ---- core: alert rules -------------------------------------------------- */

START_TEST(test_alerts)
{
	static const char *const adm[] = { "adm", NULL };
	struct policy_alert a;
	struct policy_who *w;
	struct policy *p;
	struct tm t;

	put("roles.ini",
	    "[role managers]\nmembers = @staff\nscope = all\nallow = read\n"
	    "[role audit]\nmembers = @adm, bin\nscope = all\n"
	    "allow = audit\n");
	put("settings.ini", "[settings]\nnode = n1\n"
	    "notify = /usr/local/sbin/no-such-notify-command\n"
	    "notify_timeout = 2m\n");
	put("alerts.ini",
	    "[alert bulk]\n"                      /* 1 */
	    "description = many reads\n"
	    "kind = reads\nthreshold = 200\nwindow = 10m\n"
	    "response = notify\n"
	    "[alert wide]\n"                      /* 7 */
	    "kind = clients\nthreshold = 0\nwindow = 30s\n"
	    "response = record, lockout, notify\nroles = managers, audit\n"
	    "[alert night]\n"                     /* 13 */
	    "kind = off-hours\ndays = mon-fri\nhours = 07:00-20:00\n"
	    "response = record\nroles = *\n"
	    "[alert probing]\n"                   /* 19 */
	    "kind = denials\nthreshold = 10\nwindow = 5m\n"
	    "response = lockout\nroles = audit\n"
	    "[alert wipe]\n"                      /* 25 */
	    "kind = mass-change\nthreshold = 50\nwindow = 1h\n"
	    "response = notify,lockout\n"
	    "[alert ids]\n"                       /* 30 */
	    "kind = sensitive\nfiles = id-scan*, ID,\n  */contracts/*\n"
	    "threshold = 20\nwindow = 24h\nresponse = notify\n"
	    "[alert night-burst]\n"               /* 37 */
	    "kind = off-hours\ndays = sat, sun\nhours = all\n"
	    "threshold = 3\nwindow = 15m\nresponse = record\n");
	p = load_clean();

	ck_assert_str_eq(policy_notify(p),
	                 "/usr/local/sbin/no-such-notify-command");
	ck_assert_uint_eq(policy_notify_timeout_s(p), 120);
	ck_assert_uint_eq(policy_nalerts(p), 7);
	ck_assert_int_eq(policy_alert_at(p, 7, &a), -ENOENT);

	ck_assert_int_eq(policy_alert_at(p, 0, &a), 0);
	ck_assert_str_eq(a.name, "bulk");
	ck_assert_int_eq(a.kind, POL_ALERT_READS);
	ck_assert_uint_eq(a.threshold, 200);
	ck_assert_uint_eq(a.window_s, 600);
	ck_assert_uint_eq(a.response, POL_RESPONSE_RECORD |
	                  POL_RESPONSE_NOTIFY);
	ck_assert_int_eq(a.any_role, 1);
	ck_assert_uint_eq(a.nroles, 0);
	ck_assert_uint_eq(a.nfiles, 0);
	ck_assert_ptr_null(a.days);
	ck_assert_str_eq(a.description, "many reads");
	ck_assert_int_eq(a.line, 1);
	ck_assert_msg(strstr(a.file, "/alerts.ini") != NULL, "%s", a.file);

	ck_assert_int_eq(policy_alert_at(p, 1, &a), 0);
	ck_assert_str_eq(a.name, "wide");
	ck_assert_int_eq(a.kind, POL_ALERT_CLIENTS);
	ck_assert_uint_eq(a.threshold, 0);
	ck_assert_uint_eq(a.window_s, 30);
	ck_assert_uint_eq(a.response, POL_RESPONSE_RECORD |
	                  POL_RESPONSE_NOTIFY | POL_RESPONSE_LOCKOUT);
	ck_assert_int_eq(a.any_role, 0);
	ck_assert_uint_eq(a.nroles, 2);
	ck_assert_str_eq(a.roles[0], "managers");
	ck_assert_str_eq(a.roles[1], "audit");
	ck_assert_ptr_null(a.description);
	ck_assert_int_eq(a.line, 7);

	ck_assert_int_eq(policy_alert_at(p, 2, &a), 0);
	ck_assert_int_eq(a.kind, POL_ALERT_OFF_HOURS);
	ck_assert_uint_eq(a.threshold, 0);
	ck_assert_uint_eq(a.window_s, 0);
	ck_assert_uint_eq(a.response, POL_RESPONSE_RECORD);
	ck_assert_int_eq(a.any_role, 1);
	ck_assert_str_eq(a.days, "mon-fri");
	ck_assert_str_eq(a.hours, "07:00-20:00");

	ck_assert_int_eq(policy_alert_at(p, 3, &a), 0);
	ck_assert_int_eq(a.kind, POL_ALERT_DENIALS);
	ck_assert_uint_eq(a.response, POL_RESPONSE_RECORD |
	                  POL_RESPONSE_LOCKOUT);
	ck_assert_int_eq(policy_alert_at(p, 4, &a), 0);
	ck_assert_int_eq(a.kind, POL_ALERT_MASS_CHANGE);
	ck_assert_uint_eq(a.window_s, 3600);
	ck_assert_int_eq(policy_alert_at(p, 5, &a), 0);
	ck_assert_int_eq(a.kind, POL_ALERT_SENSITIVE);
	ck_assert_uint_eq(a.window_s, 86400);
	ck_assert_uint_eq(a.nfiles, 3);
	ck_assert_str_eq(a.files[0], "id-scan*");
	ck_assert_str_eq(a.files[2], "*/contracts/*");
	ck_assert_int_eq(policy_alert_at(p, 6, &a), 0);
	ck_assert_uint_eq(a.threshold, 3);
	ck_assert_uint_eq(a.window_s, 900);

	/* names */
	ck_assert_str_eq(policy_alert_kind_name(POL_ALERT_READS), "reads");
	ck_assert_str_eq(policy_alert_kind_name(POL_ALERT_OFF_HOURS),
	                 "off-hours");
	ck_assert_str_eq(policy_alert_kind_name(POL_ALERT_MASS_CHANGE),
	                 "mass-change");
	ck_assert_str_eq(policy_alert_kind_name(POL_ALERT_SENSITIVE),
	                 "sensitive");
	ck_assert_ptr_null(policy_alert_kind_name(0));
	ck_assert_ptr_null(policy_alert_kind_name(POL_ALERT_SENSITIVE + 1));
	ck_assert_str_eq(policy_alert_response_name(POL_RESPONSE_RECORD),
	                 "record");
	ck_assert_str_eq(policy_alert_response_name(POL_RESPONSE_LOCKOUT),
	                 "lockout");
	ck_assert_ptr_null(policy_alert_response_name(0));
	ck_assert_ptr_null(policy_alert_response_name(POL_RESPONSE_NOTIFY |
	                                              POL_RESPONSE_LOCKOUT));

	/* who is watched: * is everyone, even without a role */
	ck_assert_int_eq(policy_alert_watches(p, 0, "nobody", NULL, 0, NULL),
	                 1);
	ck_assert_int_eq(policy_alert_watches(p, 1, "x", STAFF, 1, NULL), 1);
	ck_assert_int_eq(policy_alert_watches(p, 1, "x", adm, 1, NULL), 1);
	ck_assert_int_eq(policy_alert_watches(p, 1, "x", NULL, 0, NULL), 0);
	ck_assert_int_eq(policy_alert_watches(p, 3, "bin", NULL, 0, NULL), 1);
	ck_assert_int_eq(policy_alert_watches(p, 3, "x", STAFF, 1, NULL), 0);
	ck_assert_int_eq(policy_alert_watches(p, 7, "x", NULL, 0, NULL),
	                 -EINVAL);
	ck_assert_int_eq(policy_alert_watches(p, 0, NULL, NULL, 0, NULL),
	                 -EINVAL);
	ck_assert_int_eq(policy_alert_watches(p, 0, "x", NULL, 2, NULL),
	                 -EINVAL);
	ck_assert_int_eq(policy_who_new(p, "x", adm, 1, &w), 0);
	ck_assert_int_eq(policy_alert_watches(p, 3, "x", NULL, 0, w), 1);
	ck_assert_int_eq(policy_alert_watches(p, 3, "x", STAFF, 1, w), 1);
	policy_who_free(w);
	ck_assert_int_eq(policy_who_new(p, "x", STAFF, 1, &w), 0);
	ck_assert_int_eq(policy_alert_watches(p, 3, "x", NULL, 0, w), 0);
	ck_assert_int_eq(policy_alert_watches(p, 1, "x", NULL, 0, w), 1);
	policy_who_free(w);

	/* office hours: end excluded */
	t = at(1, 7, 0);
	ck_assert_int_eq(policy_alert_in_hours(p, 2, &t), 1);
	t = at(5, 19, 59);
	ck_assert_int_eq(policy_alert_in_hours(p, 2, &t), 1);
	t = at(5, 20, 0);
	ck_assert_int_eq(policy_alert_in_hours(p, 2, &t), 0);
	t = at(2, 6, 59);
	ck_assert_int_eq(policy_alert_in_hours(p, 2, &t), 0);
	t = at(6, 12, 0);
	ck_assert_int_eq(policy_alert_in_hours(p, 2, &t), 0);
	ck_assert_int_eq(policy_alert_in_hours(p, 6, &t), 1);
	t = at(0, 3, 0);
	ck_assert_int_eq(policy_alert_in_hours(p, 0, &t), 1);
	t = at(7, 3, 0);
	ck_assert_int_eq(policy_alert_in_hours(p, 2, &t), -EINVAL);
	t = at(1, 24, 0);
	ck_assert_int_eq(policy_alert_in_hours(p, 2, &t), -EINVAL);
	ck_assert_int_eq(policy_alert_in_hours(p, 2, NULL), -EINVAL);
	ck_assert_int_eq(policy_alert_in_hours(p, 9, &noon), -EINVAL);

	/* files: the globs of roles and rules */
	ck_assert_int_eq(policy_alert_path_matches(p, 5, "id-scan-1.jpg"), 1);
	ck_assert_int_eq(policy_alert_path_matches(p, 5, "2024/id-scan.pdf"),
	                 1);
	ck_assert_int_eq(policy_alert_path_matches(p, 5, "ID/front.jpg"), 1);
	ck_assert_int_eq(policy_alert_path_matches(p, 5, "IDs/front.jpg"), 0);
	ck_assert_int_eq(policy_alert_path_matches(p, 5, "a/contracts/b"), 1);
	ck_assert_int_eq(policy_alert_path_matches(p, 5, "contracts/b"), 0);
	ck_assert_int_eq(policy_alert_path_matches(p, 5, "notes.txt"), 0);
	ck_assert_int_eq(policy_alert_path_matches(p, 5, ""), 0);
	ck_assert_int_eq(policy_alert_path_matches(p, 5, "/ID"), -EINVAL);
	ck_assert_int_eq(policy_alert_path_matches(p, 5, "a/../ID"), -EINVAL);
	ck_assert_int_eq(policy_alert_path_matches(p, 5, NULL), -EINVAL);
	ck_assert_int_eq(policy_alert_path_matches(p, 0, "notes.txt"), 1);
	ck_assert_int_eq(policy_alert_path_matches(p, 7, "ID"), -EINVAL);
	policy_free(p);

	/* no [settings]: no command, the default timeout */
	put("settings.ini", "# none\n");
	put("alerts.ini", "[alert a]\nkind = denials\nthreshold = 1\n"
	    "window = 1s\nresponse = lockout\n");
	p = load_clean();
	ck_assert_ptr_null(policy_notify(p));
	ck_assert_uint_eq(policy_notify_timeout_s(p), POL_NOTIFY_TIMEOUT_DEF);
	ck_assert_uint_eq(policy_nalerts(p), 1);
	policy_free(p);
	put("settings.ini", "[settings]\nnode = n1\n");
	p = load_clean();
	ck_assert_uint_eq(policy_notify_timeout_s(p), 10);
	policy_free(p);
}
END_TEST

/* ---- core: the example policy ------------------------------------------ */

static void copy_example(void)
{
	static const char *const files[] = {
		"settings.ini", "roles.ini", "rules.ini", "teams.ini",
		"clients.ini", "retention.ini", "alerts.ini",
	};
	const char *from = getenv("POLICY_EXAMPLE_DIR");
	char path[PATH_MAX], buf[65536];

	if (from == NULL || *from == '\0')
		from = "policy";
	for (size_t i = 0; i < NELEM(files); i++) {
		FILE *f;
		size_t n;

		snprintf(path, sizeof(path), "%s/%s", from, files[i]);
		f = fopen(path, "r");
		ck_assert_msg(f != NULL, "%s: %s (run from the top of the "
		              "source tree, or set POLICY_EXAMPLE_DIR)", path,
		              strerror(errno));
		n = fread(buf, 1, sizeof(buf) - 1, f);
		ck_assert(!ferror(f) && n < sizeof(buf) - 1);
		fclose(f);
		buf[n] = '\0';
		put(files[i], buf);
	}
}

START_TEST(test_example_policy)
{
	static const char *const manager[] = { "dossier-managers", NULL };
	static const char *const supervisor[] = {
		"dossier-supervisors", "dossier-north", NULL };
	static const char *const audit[] = { "dossier-audit", NULL };
	static const char *const infosec[] = { "dossier-infosec", NULL };
	static const char *const legal[] = { "dossier-legal", NULL };
	static const char *const records[] = { "dossier-records", NULL };
	struct policy *p;
	struct policy_req r;
	struct tm t;
	int rc;

	copy_example();
	rc = load(&p);
	ck_assert_msg(rc == 0 && count(0) == 0, "load: %d\n%s", rc, dump());
	ck_assert_str_eq(policy_node(p), "head-office");

	/* client manager: own and assigned clients, new clients */
	ALLOWED(p, REQ("alice", manager, "acme-holdings", NULL,
	        "contracts/sale.pdf", POL_READ), "role client-manager");
	ALLOWED(p, REQ("alice", manager, "acme-holdings", NULL,
	        "ID/id-scan-front.jpg", POL_WRITE), "role client-manager");
	ALLOWED(p, REQ("alice", manager, "new-client", NULL, "",
	        POL_REGISTER), "role client-manager");
	ALLOWED(p, REQ("erin", manager, "erins-client", "erin", "notes.txt",
	        POL_DELETE), "role client-manager");
	ALLOWED(p, REQ("dave", manager, "baker-family", NULL, "a.pdf",
	        POL_READ), "role client-manager");
	DENIED(p, REQ("bob", manager, "acme-holdings", NULL,
	       "contracts/sale.pdf", POL_READ), "default deny");
	/* a manager asks to share her own clients' files, no others' */
	ALLOWED(p, REQ("alice", manager, "acme-holdings", NULL, "a.pdf",
	        POL_SHARE), "role client-manager");
	DENIED(p, REQ("bob", manager, "acme-holdings", NULL, "a.pdf",
	       POL_SHARE), "default deny");

	/* supervisor: the team's clients, never ID scans */
	ALLOWED(p, REQ("sam", supervisor, "acme-holdings", NULL,
	        "contracts/sale.pdf", POL_READ), "role supervisor");
	DENIED(p, REQ("sam", supervisor, "acme-holdings", NULL,
	       "ID/id-scan-front.jpg", POL_READ),
	       "rule supervisors-no-id-scans");
	DENIED(p, REQ("sam", supervisor, "acme-holdings", NULL,
	       "id-scan-back.jpg", POL_READ), "rule supervisors-no-id-scans");
	DENIED(p, REQ("sam", supervisor, "baker-family", NULL, "a.pdf",
	       POL_READ), "default deny");
	DENIED(p, REQ("sam", supervisor, "acme-holdings", NULL, "a.pdf",
	       POL_WRITE), "default deny");

	/* audit: the .audit view, never contents */
	DENIED(p, REQ("dana", audit, "acme-holdings", NULL,
	       "contracts/sale.pdf", POL_READ),
	       "rule auditors-read-only-audit");
	ALLOWED(p, REQ("dana", audit, "acme-holdings", NULL, ".audit",
	        POL_AUDIT), "role auditor");
	ALLOWED(p, REQ("dana", audit, "baker-family", NULL, "", POL_LIST),
	        "role auditor");
	DENIED(p, REQ("dana", audit, "company-templates", NULL, "form.pdf",
	       POL_READ), "rule auditors-read-only-audit");

	/* information security: share and admin, no contents */
	ALLOWED(p, REQ("ivan", infosec, "baker-family", NULL, "a.pdf",
	        POL_SHARE), "role infosec");
	DENIED(p, REQ("ivan", infosec, "baker-family", NULL, "a.pdf",
	       POL_READ), "rule infosec-no-contents");

	/* legal: contracts and agreements only */
	ALLOWED(p, REQ("lena", legal, "baker-family", NULL,
	        "contracts/lease.pdf", POL_READ), "role legal");
	ALLOWED(p, REQ("lena", legal, "baker-family", NULL,
	        "2023/Agreement-signed.pdf", POL_READ), "role legal");
	DENIED(p, REQ("lena", legal, "baker-family", NULL, "ID/passport.jpg",
	       POL_READ), "default deny");
	ALLOWED(p, REQ("lena", legal, "company-templates", NULL, "form.pdf",
	        POL_READ), "rule office-templates");

	/* records office: business hours */
	r = REQ("rita", records, "baker-family", NULL, "a.pdf", POL_DELETE);
	t = at(1, 10, 0);
	r.when = &t;
	ALLOWED(p, r, "role records-office");
	t = at(1, 18, 0);
	DENIED(p, r, "default deny");
	t = at(6, 10, 0);
	DENIED(p, r, "default deny");

	/* the mount root */
	ALLOWED(p, REQ("dana", audit, NULL, NULL, NULL, POL_LIST),
	        "role auditor");
	ALLOWED(p, REQ("dana", audit, NULL, NULL, NULL, POL_AUDIT),
	        "role auditor");
	DENIED(p, REQ("sam", manager, NULL, NULL, NULL, POL_AUDIT),
	       "default deny");
	DENIED(p, REQ("mallory", STAFF, NULL, NULL, NULL, POL_LIST),
	       "default deny");

	/* alerts: one of each kind; the notify command need not exist */
	{
		static const enum policy_alert_kind kinds[] = {
			POL_ALERT_READS, POL_ALERT_CLIENTS,
			POL_ALERT_OFF_HOURS, POL_ALERT_DENIALS,
			POL_ALERT_MASS_CHANGE, POL_ALERT_SENSITIVE,
		};
		struct policy_alert a;

		ck_assert_uint_eq(policy_nalerts(p), NELEM(kinds));
		for (size_t i = 0; i < NELEM(kinds); i++) {
			ck_assert_int_eq(policy_alert_at(p, i, &a), 0);
			ck_assert_int_eq(a.kind, kinds[i]);
		}
		ck_assert_str_eq(policy_notify(p),
		                 "/usr/local/sbin/dossierfs-notify");
		ck_assert_uint_eq(policy_notify_timeout_s(p), 10);
		ck_assert_int_eq(policy_alert_watches(p, 1, "alice", manager,
		                                      1, NULL), 1);
		ck_assert_int_eq(policy_alert_watches(p, 1, "dana", audit, 1,
		                                      NULL), 0);
		ck_assert_int_eq(policy_alert_path_matches(p, 5,
		                 "ID/id-scan-front.jpg"), 1);
	}
	policy_free(p);
}
END_TEST

/* ---- limits ------------------------------------------------------------ */

START_TEST(test_continuation_lines)
{
	static const char *const adm[] = { "adm", NULL };
	struct policy *p;
	struct policy_role role;
	struct policy_req r;
	struct tm t = at(3, 10, 0);

	put("roles.ini",
	    "\xef\xbb\xbf# a BOM, CRLF lines, continuations, inline comments\r\n"
	    "[role r]\r\n"
	    "description = two\r\n"
	    "   lines\r\n"
	    "members = bin,\r\n"
	    "\tdaemon ; inline comment\r\n"
	    "  @adm\r\n"
	    "scope: all\r\n"
	    "allow = list,\r\n"
	    "  read\r\n"
	    "hours = 08:00-12:00,\r\n"
	    "  13:00-24:00\r\n");
	p = load_clean();
	ck_assert_int_eq(policy_role_at(p, 0, &role), 0);
	ck_assert_uint_eq(role.nmembers, 3);
	ck_assert_str_eq(role.members[1], "daemon");
	ck_assert_str_eq(role.members[2], "@adm");
	ck_assert_str_eq(role.description, "two\nlines");
	ck_assert_uint_eq(role.allow, POL_LIST | POL_READ);
	ck_assert_int_eq(role.line, 2);
	r = REQ("x", adm, "c", NULL, "f", POL_READ);
	r.when = &t;
	ALLOWED(p, r, "role r");
	policy_free(p);
}
END_TEST

START_TEST(test_long_lines)
{
	char text[1024];

	/* 198 bytes is the longest line; 199 is refused with its line */
	snprintf(text, sizeof(text),
	         "[role r]\nmembers = bin\nscope = all\nallow = read\n"
	         "description = %184s\n"
	         "description = %185s\n", "x", "y");
	put("roles.ini", text);
	load_bad(1);
	REPORTED("roles.ini", 6, 0, "line too long (over 198 bytes)");
}
END_TEST

START_TEST(test_many_clients)
{
	size_t cap = 4000 * 64, off = 0;
	char *text = malloc(cap);
	struct policy *p;
	char name[32];

	ck_assert_ptr_nonnull(text);
	off += (size_t)snprintf(text + off, cap - off, "[team t]\n"
	                        "members = sys\n");
	for (int i = 3999; i >= 0; i--)
		off += (size_t)snprintf(text + off, cap - off,
		    "[client c%04d]\nowner = u%d\n%s", i, i,
		    i % 2 ? "team = t\n" : "");
	ck_assert_uint_lt(off, cap);
	put("clients.ini", text);
	free(text);
	put("roles.ini",
	    "[role m]\nmembers = @staff\nscope = assigned\nallow = read\n");
	p = load_clean();
	ck_assert_uint_eq(policy_nclients(p), 4000);
	for (int i = 0; i < 4000; i += 333) {
		char user[16];

		snprintf(name, sizeof(name), "c%04d", i);
		snprintf(user, sizeof(user), "u%d", i);
		ALLOWED(p, REQ(user, STAFF, name, NULL, "f", POL_READ),
		        "role m");
		DENIED(p, REQ("u1", STAFF, name, NULL, "f", POL_READ),
		       i == 1 ? "role m" : "default deny");
	}
	ALLOWED(p, REQ("sys", STAFF, "c3999", NULL, "f", POL_READ), "role m");
	DENIED(p, REQ("sys", STAFF, "c3998", NULL, "f", POL_READ),
	       "default deny");
	DENIED(p, REQ("u7", STAFF, "c0008", NULL, "f", POL_READ),
	       "default deny");
	ALLOWED(p, REQ("u3998", STAFF, "c3998", NULL, "f", POL_READ),
	        "role m");
	policy_free(p);
}
END_TEST

START_TEST(test_invalid_requests)
{
	static const struct tm bad_times[] = {
		{ .tm_wday = 7 }, { .tm_wday = -1 }, { .tm_hour = 24 },
		{ .tm_min = 60 }, { .tm_min = -1 },
	};
	static const char *const bad_paths[] = {
		"/a", "a/", "a//b", "a/../b", ".", "..", "a/./b", "/",
	};
	char longname[NAME_MAX + 2];
	struct policy_decision d;
	struct policy *p;
	struct policy_req r;

	put("roles.ini",
	    "[role r]\nmembers = @staff\nscope = all\nallow = all\n");
	p = load_clean();
	ALLOWED(p, REQ("x", STAFF, "c", NULL, "a/b", POL_READ), "role r");
	DENIED(p, REQ("x", STAFF, "c", NULL, "a/b", 0), "invalid request");
	DENIED(p, REQ("x", STAFF, "c", NULL, "a/b", POL_READ | POL_WRITE),
	       "invalid request");
	DENIED(p, REQ("x", STAFF, "c", NULL, "a/b", 1u << 10),
	       "invalid request");
	DENIED(p, REQ(NULL, STAFF, "c", NULL, "a/b", POL_READ),
	       "invalid request");
	DENIED(p, REQ("", STAFF, "c", NULL, "a/b", POL_READ),
	       "invalid request");
	DENIED(p, REQ("x", STAFF, "c", NULL, NULL, POL_READ),
	       "invalid request");
	DENIED(p, REQ("x", STAFF, "a/b", NULL, "", POL_READ),
	       "invalid request");
	DENIED(p, REQ("x", STAFF, "..", NULL, "", POL_READ),
	       "invalid request");
	DENIED(p, REQ("x", STAFF, "", NULL, "", POL_READ), "invalid request");
	for (size_t i = 0; i < NELEM(bad_paths); i++)
		DENIED(p, REQ("x", STAFF, "c", NULL, bad_paths[i], POL_READ),
		       "invalid request");
	memset(longname, 'n', sizeof(longname) - 1);
	longname[NAME_MAX + 1] = '\0';
	DENIED(p, REQ("x", STAFF, "c", NULL, longname, POL_READ),
	       "invalid request");
	longname[NAME_MAX] = '\0';
	ALLOWED(p, REQ("x", STAFF, "c", NULL, longname, POL_READ), "role r");
	for (size_t i = 0; i < NELEM(bad_times); i++) {
		r = REQ("x", STAFF, "c", NULL, "f", POL_READ);
		r.when = &bad_times[i];
		DENIED(p, r, "invalid request");
	}
	r = REQ("x", STAFF, "c", NULL, "f", POL_READ);
	r.when = NULL;
	DENIED(p, r, "invalid request");
	r = REQ("x", STAFF, "c", NULL, "f", POL_READ);
	r.groups = NULL;
	DENIED(p, r, "invalid request");
	policy_decide(p, NULL, &d);
	ck_assert_int_eq(d.allow, 0);
	ck_assert_str_eq(d.rule, "invalid request");
	DENIED(NULL, REQ("x", STAFF, "c", NULL, "f", POL_READ), "no policy");
	policy_free(p);
}
END_TEST

START_TEST(test_name_limits)
{
	char text[512];
	struct policy *p;

	/* 64 characters is the longest role name */
	snprintf(text, sizeof(text), "[role %064d]\nmembers = bin\n"
	         "scope = all\nallow = read\n", 7);
	put("roles.ini", text);
	p = load_clean();
	policy_free(p);
	snprintf(text, sizeof(text), "[role %065d]\nmembers = bin\n"
	         "scope = all\nallow = read\n", 7);
	put("roles.ini", text);
	load_bad(1);
	REPORTED("roles.ini", 1, 0, "bad role name");
}
END_TEST

START_TEST(test_hours_limits)
{
	static const char *const good[] = {
		"00:00-24:00", "0:00-0:01", "23:59-24:00", "all",
		"08:00-09:00, 10:00-11:00", "08:00-09:00,", "all, 08:00-09:00",
	};
	static const char *const bad[] = {
		"24:00-24:00", "09:00-08:00", "08:00-08:00", "08:60-09:00",
		"08:00-24:01", "25:00-26:00", "8-9", "08:00", "08:00-",
		"08:00 - 09:00x", "a:bc-09:00", "008:00-09:00",
		"1:00-2:00,2:00-3:00,3:00-4:00,4:00-5:00,5:00-6:00,6:00-7:00,"
		"7:00-8:00,8:00-9:00,9:00-10:00",
	};
	char text[512];
	struct policy *p;
	struct policy_req r = REQ("bin", NOGROUPS, "c", NULL, "f", POL_READ);
	struct tm t = at(2, 23, 59);

	for (size_t i = 0; i < NELEM(good); i++) {
		snprintf(text, sizeof(text), "[role r]\nmembers = bin\n"
		         "scope = all\nallow = read\nhours = %s\n", good[i]);
		put("roles.ini", text);
		p = load_clean();
		policy_free(p);
	}
	p = load_clean();   /* still the last good one: all, 08:00-09:00 */
	r.when = &t;
	ALLOWED(p, r, "role r");
	policy_free(p);
	for (size_t i = 0; i < NELEM(bad); i++) {
		snprintf(text, sizeof(text), "[role r]\nmembers = bin\n"
		         "scope = all\nallow = read\nhours = %s\n", bad[i]);
		put("roles.ini", text);
		load_bad(1);
		REPORTED("roles.ini", 5, 0, i == NELEM(bad) - 1 ?
		         "too many hour ranges" : "bad hours");
	}
}
END_TEST

START_TEST(test_files_in_dir)
{
	struct policy *p;

	/* hidden files and other names are not read */
	put(".hidden.ini", "garbage\n");
	put("notes.txt", "garbage\n");
	put("roles.ini~", "garbage\n");
	put(".ini", "garbage\n");
	load_bad(1);
	REPORTED(NULL, 0, 0, "no policy files");
	/* an empty file is a policy without roles */
	put("empty.ini", "");
	ck_assert_int_eq(load(&p), 0);
	ck_assert_uint_eq(nreports, 1);
	REPORTED(NULL, 0, 1, "no [role] sections");
	policy_free(p);
}
END_TEST

/* ---- errors ------------------------------------------------------------ */

static const char good_role[] =
	"[role r]\nmembers = bin\nscope = all\nallow = read\n";

/* A good role, then more (from line 5 on) with exactly one error, which
 * must be reported at line with text. */
static void one_error(const char *more, int line, const char *text)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s%s\n", good_role, more);
	put("roles.ini", buf);
	load_bad(1);
	REPORTED("roles.ini", line, 0, text);
}

START_TEST(test_err_syntax)
{
	one_error("this line has no equals sign", 5,
	          "syntax error: expected 'key = value'");
	one_error("[role x", 5, "syntax error: section header without ']'");
	one_error("[role x] trailing", 5, "syntax error: text after ']'");
	one_error("[role x] ; a comment is fine\nmembers = bin\n"
	          "scope = all\nallow = list\nbad line", 9, "syntax error");
}
END_TEST

START_TEST(test_err_nul_byte)
{
	char path[PATH_MAX];
	int fd;

	path_of("roles.ini", path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, good_role, strlen(good_role)),
	                 (ssize_t)strlen(good_role));
	ck_assert_int_eq(write(fd, "description = a\0b\n", 18), 18);
	close(fd);
	load_bad(1);
	REPORTED("roles.ini", 5, 0, "NUL byte in line");
}
END_TEST

START_TEST(test_err_sections)
{
	one_error("[roles x]", 5, "unknown section type 'roles'");
	one_error("[role]", 5, "[role] needs a name");
	one_error("[settings x]", 5, "[settings] takes no name");
	one_error("[team bad name]", 5, "bad team name 'bad name'");
	one_error("[client a/b]", 5, "bad client name 'a/b'");
	one_error("[client ..]", 5, "bad client name '..'");
	/* keys of a refused section are not reported again */
	one_error("[frobnicate x]\nmembers = nobody\nfoo = bar", 5,
	          "unknown section type 'frobnicate'");
	put("roles.ini", "members = bin\n[role r]\nmembers = bin\n"
	    "scope = all\nallow = read\n");
	load_bad(1);
	REPORTED("roles.ini", 1, 0, "key 'members' outside any section");
}
END_TEST

START_TEST(test_err_keys)
{
	struct policy *p;

	one_error("colour = blue", 5, "unknown key 'colour' in [role r]");
	one_error("members = daemon", 5, "duplicate key 'members' (first at "
	          "line 2)");
	one_error("node = x", 5, "unknown key 'node' in [role r]");
	put("roles.ini", "[role r]\nmembers = bin\nallow = read\n");
	load_bad(1);
	REPORTED("roles.ini", 1, 0, "missing key 'scope' in [role r]");
	put("roles.ini", "[rule r]\nroles = *\n[team t]\n");
	load_bad(3);
	REPORTED("roles.ini", 1, 0, "missing key 'effect' in [rule r]");
	REPORTED("roles.ini", 1, 0, "missing key 'permissions' in [rule r]");
	REPORTED("roles.ini", 3, 0, "missing key 'members' in [team t]");
	/* [client] takes the retention keys */
	put("roles.ini", "[settings]\nnode = n1\n[client c]\n"
	    "closed = 2024-02-29\nretention = 7y\nhold = yes\n"
	    "description = d\n");
	ck_assert_int_eq(load(&p), 0);
	policy_free(p);
}
END_TEST

START_TEST(test_err_values)
{
	one_error("deny = read, raed", 5, "unknown permission 'raed'");
	one_error("deny = ,", 5, "empty permission list");
	one_error("files = ,", 5, "empty files");
	one_error("days = weekdays", 5, "bad days 'weekdays'");
	one_error("days = mon-funday", 5, "bad days");
	one_error("days = ", 5, "bad days");
	one_error("hours = 8am-5pm", 5, "bad hours '8am-5pm'");
	one_error("[settings]\nnode = two words", 6,
	          "bad node name 'two words'");
	one_error("[client c]\nowner = @group", 6, "bad owner '@group'");
	one_error("[client c]\nteam = ", 6, "bad team name ''");
	one_error("[rule x]\nroles = r\neffect = maybe\npermissions = read",
	          7, "bad effect 'maybe'");
	one_error("[rule x]\nroles = *, r\neffect = deny\n"
	          "permissions = read", 6, "'*' must stand alone");
	one_error("[rule x]\nroles = r, b@d\neffect = deny\n"
	          "permissions = read", 6, "bad role name 'b@d'");
	one_error("[client c]\nretention = 10x", 6, "bad period '10x'");
	one_error("[client c]\nretention = 0y", 6, "bad period '0y'");
	one_error("[client c]\nclosed = 2023-02-30", 6,
	          "bad closed date '2023-02-30'");
	one_error("[client c]\nclosed = 31/01/2023", 6, "bad closed date");
	one_error("[retention r]\nscope = all\nperiod = 5y\nfrom = opened",
	          8, "bad from 'opened'");
	one_error("[retention r]\nscope = assigned\nperiod = 5y", 6,
	          "must be all, team:NAME, clients:GLOB... or none");
	one_error("[hold h]\nscope = all", 5, "missing key 'reason'");
	one_error("[retention r]\nperiod = 1y", 5, "missing key 'scope'");
}
END_TEST

/* Retention periods and legal holds: policy_keep(). */
START_TEST(test_retention)
{
	struct policy *p;
	struct policy_keep k;
	struct tm t = { .tm_year = 126, .tm_mon = 10, .tm_mday = 29 };
	time_t now = timegm(&t), day = 86400;

	put("roles.ini", "[role r]\nmembers = bin\nscope = all\n"
	    "allow = list\n");
	put("teams.ini", "[team north]\nmembers = bin\n");
	put("clients.ini",
	    "[client old]\nclosed = 2020-01-31\nretention = 5y\n"
	    "[client open]\nretention = 5y\n"
	    "[client long]\nclosed = 2020-01-31\nretention = 5y\n"
	    "[client held]\nclosed = 2001-01-01\nretention = 1y\n"
	    "hold = litigation 2024-117\n"
	    "[client teamed]\nteam = north\nclosed = 2001-01-01\n"
	    "retention = 1d\n");
	put("keep.ini",
	    "[retention scans]\nscope = clients:c*\nperiod = 90d\n"
	    "from = changed\n"
	    "[retention ten]\nscope = clients:long\nperiod = 10y\n"
	    "[hold north-audit]\nscope = team:north\n"
	    "reason = tax inspection\n");
	p = load_clean();
	policy_keep(p, "old", now, now, &k);
	ck_assert_int_eq(k.due, 1);
	ck_assert_msg(strstr(k.why, "client old") != NULL, "%s", k.why);
	t = (struct tm){ .tm_year = 125, .tm_mon = 0, .tm_mday = 31 };
	ck_assert_int_eq((long)k.due_at, (long)timegm(&t));
	/* no closing date: the period has not started */
	policy_keep(p, "open", 0, now, &k);
	ck_assert_int_eq(k.due, 0);
	ck_assert_int_eq((long)k.due_at, 0);
	ck_assert_msg(strstr(k.why, "not closed") != NULL, "%s", k.why);
	/* from the file's last change */
	policy_keep(p, "c1", now - 100 * day, now, &k);
	ck_assert_int_eq(k.due, 1);
	policy_keep(p, "c1", now - 10 * day, now, &k);
	ck_assert_int_eq(k.due, 0);
	ck_assert_msg(strstr(k.why, "retention scans") != NULL, "%s", k.why);
	/* the longest wins */
	policy_keep(p, "long", 0, now, &k);
	ck_assert_int_eq(k.due, 0);
	ck_assert_uint_eq(k.retentions, 2);
	ck_assert_str_eq(k.by, "retention ten");
	/* a hold beats retention, from the client or a [hold] */
	policy_keep(p, "held", 0, now, &k);
	ck_assert_int_eq(k.due, 0);
	ck_assert_str_eq(k.hold, "litigation 2024-117");
	ck_assert_str_eq(k.hold_by, "client held");
	policy_keep(p, "teamed", 0, now, &k);
	ck_assert_int_eq(k.due, 0);
	ck_assert_str_eq(k.hold, "tax inspection");
	ck_assert_str_eq(k.hold_by, "hold north-audit");
	/* nothing applies */
	policy_keep(p, "zeta", 0, now, &k);
	ck_assert_int_eq(k.due, 0);
	ck_assert_ptr_null(k.hold);
	ck_assert_uint_eq(k.retentions, 0);
	policy_free(p);
}
END_TEST

/* [alert] sections and the notify settings: every key, good and bad. */
START_TEST(test_err_alerts)
{
	static const char *const bad_windows[] = {
		"0s", "25h", "86401s", "10", "10d", "m", "1.5m", "-1m", "10 m",
		"1441m", "99999999999999999999s",
	};
	static const char *const bad_thresholds[] = {
		"-1", "1.5", "100001", "ten", "+3", "0x10", "1e3",
	};
	static const char *const bad_timeouts[] = {
		"0s", "6m", "301s", "10", "1h",
	};
	char text[512];
	struct policy *p;

	/* lines: [alert a] 5, kind 6, threshold 7, window 8, response 9 */
	one_error("[alert a]\nkind = reeds\nthreshold = 1\nwindow = 1m\n"
	          "response = record", 6, "unknown alert kind 'reeds': "
	          "expected reads, clients, off-hours, denials, mass-change "
	          "or sensitive");
	for (size_t i = 0; i < NELEM(bad_thresholds); i++) {
		snprintf(text, sizeof(text), "[alert a]\nkind = reads\n"
		         "threshold = %s\nwindow = 1m\nresponse = record",
		         bad_thresholds[i]);
		one_error(text, 7, "bad threshold");
	}
	one_error("[alert a]\nkind = reads\nthreshold = \nwindow = 1m\n"
	          "response = record", 7, "bad threshold '': expected a "
	          "whole number from 0 to 100000");
	for (size_t i = 0; i < NELEM(bad_windows); i++) {
		snprintf(text, sizeof(text), "[alert a]\nkind = reads\n"
		         "threshold = 1\nwindow = %s\nresponse = record",
		         bad_windows[i]);
		one_error(text, 8, "bad window");
	}
	one_error("[alert a]\nkind = reads\nthreshold = 1\nwindow = 2d\n"
	          "response = record", 8, "bad window '2d': expected a "
	          "number and s, m or h, from 1s to 24h");
	one_error("[alert a]\nkind = reads\nthreshold = 1\nwindow = 1m\n"
	          "response = email", 9, "bad response 'email': expected "
	          "record, notify or lockout");
	one_error("[alert a]\nkind = reads\nthreshold = 1\nwindow = 1m\n"
	          "response = record, lockout, page", 9,
	          "bad response 'page'");
	one_error("[alert a]\nkind = reads\nthreshold = 1\nwindow = 1m\n"
	          "response = ,", 9, "empty response");
	one_error("[alert a]\nkind = reads\nthreshold = 1\nwindow = 1m\n"
	          "response = record\nroles = r, ghost", 10,
	          "[alert a] names undefined role 'ghost'");
	one_error("[alert a]\nkind = reads\nthreshold = 1\nwindow = 1m\n"
	          "response = record\nroles = *, r", 10,
	          "'*' must stand alone in roles");
	one_error("[alert a]\nkind = reads\nthreshold = 1\nwindow = 1m\n"
	          "response = record\nroles = b@d", 10,
	          "bad role name 'b@d'");
	one_error("[alert a]\nkind = reads\nthreshold = 1\nwindow = 1m\n"
	          "response = record\nroles = ,", 10, "empty roles");

	/* keys by kind: missing or out of place */
	one_error("[alert a]\nkind = reads\nwindow = 1m\nresponse = record",
	          5, "missing key 'threshold' in [alert a]: kind reads "
	          "needs it");
	one_error("[alert a]\nkind = clients\nthreshold = 1\n"
	          "response = record", 5, "missing key 'window' in "
	          "[alert a]: kind clients needs it");
	one_error("[alert a]\nkind = off-hours\nhours = 08:00-18:00\n"
	          "response = record", 5, "missing key 'days' in [alert a]: "
	          "kind off-hours needs it");
	one_error("[alert a]\nkind = off-hours\ndays = mon-fri\n"
	          "response = record", 5, "missing key 'hours' in "
	          "[alert a]: kind off-hours needs it");
	one_error("[alert a]\nkind = sensitive\nthreshold = 1\n"
	          "window = 1m\nresponse = record", 5, "missing key 'files' "
	          "in [alert a]: kind sensitive needs it");
	one_error("[alert a]\nkind = reads\nthreshold = 1\nwindow = 1m\n"
	          "response = record\ndays = mon", 10, "key 'days' does not "
	          "apply to kind reads");
	one_error("[alert a]\nkind = denials\nthreshold = 1\nwindow = 1m\n"
	          "response = record\nhours = all", 10, "key 'hours' does "
	          "not apply to kind denials");
	one_error("[alert a]\nkind = mass-change\nthreshold = 1\n"
	          "window = 1m\nresponse = record\nfiles = *.pdf", 10,
	          "key 'files' does not apply to kind mass-change");
	one_error("[alert a]\nkind = off-hours\ndays = mon\nhours = all\n"
	          "response = record\nfiles = *", 10,
	          "key 'files' does not apply to kind off-hours");
	one_error("[alert a]\nthreshold = 1\nwindow = 1m\nresponse = record",
	          5, "missing key 'kind' in [alert a]");
	one_error("[alert a]\nkind = reads\nthreshold = 1\nwindow = 1m", 5,
	          "missing key 'response' in [alert a]");
	one_error("[alert a]\nkind = off-hours\ndays = weekdays\nhours = all\n"
	          "response = record", 7, "bad days 'weekdays'");
	one_error("[alert a]\nkind = off-hours\ndays = mon\n"
	          "hours = 20:00-07:00\nresponse = record", 8,
	          "bad hours '20:00-07:00'");
	one_error("[alert a]\nkind = sensitive\nfiles = ,\nthreshold = 1\n"
	          "window = 1m\nresponse = record", 7, "empty files");
	one_error("[alert a]\nkind = reads\nthreshold = 1\nwindow = 1m\n"
	          "response = record\nscope = all", 10,
	          "unknown key 'scope' in [alert a]");
	one_error("[alert a]\nkind = reads\nthreshold = 1\nwindow = 1m\n"
	          "response = record\nkind = denials", 10,
	          "duplicate key 'kind' (first at line 6)");
	one_error("[alert]\nkind = reads", 5, "[alert] needs a name");
	one_error("[alert a b]\nkind = reads", 5, "bad alert name 'a b'");
	/* an unknown kind: no key is reported out of place */
	one_error("[alert a]\nkind = nope\ndays = mon\nfiles = x\n"
	          "response = record", 6, "unknown alert kind 'nope'");

	/* notify needs a command */
	one_error("[alert a]\nkind = reads\nthreshold = 1\nwindow = 1m\n"
	          "response = lockout, notify", 9, "[alert a] has response "
	          "notify, but [settings] has no notify command");
	one_error("[settings]\nnode = n\n[alert a]\nkind = reads\n"
	          "threshold = 1\nwindow = 1m\nresponse = notify", 11,
	          "has response notify, but [settings] has no notify");
	one_error("[settings]\nnotify = bin/notify", 6, "bad notify "
	          "'bin/notify': expected the absolute path of a command");
	one_error("[settings]\nnotify = /usr/sbin/", 6, "bad notify");
	one_error("[settings]\nnotify = /", 6, "bad notify");
	one_error("[settings]\nnotify = /usr/sbin/a\n  b", 6, "bad notify");
	for (size_t i = 0; i < NELEM(bad_timeouts); i++) {
		snprintf(text, sizeof(text), "[settings]\nnotify = /bin/true\n"
		         "notify_timeout = %s", bad_timeouts[i]);
		one_error(text, 7, "bad notify_timeout");
	}
	one_error("[settings]\nnotify_timeout = 0s", 6, "bad notify_timeout "
	          "'0s': expected a number and s or m, from 1s to 5m");
	one_error("[role q]\nmembers = bin\nscope = all\nallow = read\n"
	          "notify = /bin/true", 9, "unknown key 'notify' in [role q]");

	/* duplicates across files */
	put("roles.ini", good_role);
	put("a.ini", "[alert x]\nkind = denials\nthreshold = 1\nwindow = 1s\n"
	    "response = record\n");
	put("b.ini", "\n[alert x]\nkind = reads\nthreshold = 1\n"
	    "window = 1s\nresponse = record\n");
	load_bad(1);
	REPORTED("b.ini", 2, 0, "duplicate section [alert x]");

	/* every problem of one section is reported */
	put("b.ini", "[alert y]\nkind = reads\nthreshold = x\nwindow = 0s\n"
	    "response = shout\ndays = mon\nroles = nobody-role\n");
	load_bad(5);
	REPORTED("b.ini", 3, 0, "bad threshold 'x'");
	REPORTED("b.ini", 4, 0, "bad window '0s'");
	REPORTED("b.ini", 5, 0, "bad response 'shout'");
	REPORTED("b.ini", 6, 0, "key 'days' does not apply to kind reads");
	REPORTED("b.ini", 7, 0, "undefined role 'nobody-role'");

	/* the limits are accepted */
	unlink_ini("b.ini");
	put("a.ini", "[settings]\nnotify = /nonexistent/notify\n"
	    "notify_timeout = 5m\n"
	    "[alert x]\nkind = denials\nthreshold = 100000\nwindow = 24h\n"
	    "response = record, notify\n"
	    "[alert y]\nkind = reads\nthreshold = 0\nwindow = 1s\n"
	    "response = lockout\nroles = r\n"
	    "[alert z]\nkind = clients\nthreshold = 007\nwindow = 1440m\n"
	    "response = lockout\n"
	    "[alert w]\nkind = off-hours\ndays = all\nhours = all\n"
	    "window = 86400s\nthreshold = 0\nresponse = record\n");
	p = load_clean();
	ck_assert_uint_eq(policy_nalerts(p), 4);
	ck_assert_uint_eq(policy_notify_timeout_s(p), 300);
	policy_free(p);
}
END_TEST

START_TEST(test_err_scope)
{
	static const char *const bad[] = {
		"everything", "clients:", "clients:   ", "team:", "team:a b",
		"Assigned", "all clients", "team:bad/name",
	};
	char text[512];

	for (size_t i = 0; i < NELEM(bad); i++) {
		snprintf(text, sizeof(text),
		         "[role r]\nmembers = bin\nallow = read\nscope = %s\n",
		         bad[i]);
		put("roles.ini", text);
		load_bad(1);
		REPORTED("roles.ini", 4, 0, "bad scope");
	}
	put("roles.ini", "[role r]\nmembers = bin\nallow = read\n"
	    "scope = team:ghosts\n");
	load_bad(1);
	REPORTED("roles.ini", 4, 0, "scope names undefined team 'ghosts'");
}
END_TEST

START_TEST(test_err_members)
{
	one_error("[team t]\nmembers =", 6, "empty members");
	one_error("[team t]\nmembers = , ,", 6, "empty members");
	one_error("[team t]\nmembers = alice bob", 6,
	          "bad member 'alice bob'");
	one_error("[client c]\nmembers = @", 6, "bad member '@'");
}
END_TEST

START_TEST(test_err_references)
{
	put("roles.ini", good_role);
	put("rules.ini", "# rules\n[rule x]\nroles = r, ghost\n"
	    "effect = deny\npermissions = read\n");
	put("clients.ini", "[client c]\nteam = nobody-team\n");
	load_bad(2);
	REPORTED("rules.ini", 3, 0, "[rule x] names undefined role 'ghost'");
	REPORTED("clients.ini", 2, 0,
	         "[client c] names undefined team 'nobody-team'");
}
END_TEST

START_TEST(test_err_duplicates)
{
	char first[PATH_MAX + 32];

	put("a.ini", good_role);
	put("b.ini", "\n[team t]\nmembers = bin\n\n[role r]\n"
	    "members = bin\nscope = all\nallow = read\n[team t]\n"
	    "members = sys\n[settings]\n[settings]\n");
	load_bad(3);
	snprintf(first, sizeof(first), "first at %s/a.ini:1", dir);
	REPORTED("b.ini", 5, 0, "duplicate section [role r]");
	REPORTED("b.ini", 5, 0, first);
	REPORTED("b.ini", 9, 0, "duplicate section [team t]");
	REPORTED("b.ini", 12, 0, "duplicate section [settings]");
}
END_TEST

START_TEST(test_err_everything_reported)
{
	struct policy *p = NULL;

	put("a.ini", "[role r]\nmembers = bin\nscope = nowhere\n"
	    "allow = read, fly\nhours = 9-5\n");
	put("b.ini", "[rule x]\nroles = q\neffect = allow\n"
	    "permissions = swim\nwhat = ever\n");
	put("c.ini", "oops\n");
	ck_assert_int_eq(load(&p), -EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_msg(count(0) == 7, "%s", dump());
	REPORTED("a.ini", 3, 0, "bad scope 'nowhere'");
	REPORTED("a.ini", 4, 0, "unknown permission 'fly'");
	REPORTED("a.ini", 5, 0, "bad hours '9-5'");
	REPORTED("b.ini", 2, 0, "undefined role 'q'");
	REPORTED("b.ini", 4, 0, "unknown permission 'swim'");
	REPORTED("b.ini", 5, 0, "unknown key 'what'");
	REPORTED("c.ini", 1, 0, "syntax error");
	/* a NULL report function is allowed */
	ck_assert_int_eq(policy_load(dir, NULL, NULL, &p), -EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(policy_load(NULL, NULL, NULL, &p), -EINVAL);
}
END_TEST

START_TEST(test_err_missing_dir)
{
	struct policy *p = NULL;
	char path[PATH_MAX];

	path_of("nope", path);
	nreports = 0;
	ck_assert_int_eq(policy_load(path, collect, NULL, &p), -ENOENT);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(nreports, 1);
	ck_assert_str_eq(reports[0].file, path);
	ck_assert(strstr(reports[0].msg, "cannot open policy directory"));
	put("file.ini", good_role);
	path_of("file.ini", path);
	ck_assert_int_eq(policy_load(path, collect, NULL, &p), -ENOTDIR);
}
END_TEST

START_TEST(test_warnings)
{
	struct policy *p;

	put("roles.ini",
	    "[role ghosts]\nmembers = no-such-user-x, @no-such-group-x\n"
	    "scope = all\nallow = read\n"
	    "[role half]\nmembers = bin, no-such-user-y, @no-such-group-y\n"
	    "scope = all\nallow = read\n"
	    "[role self-denying]\nmembers = bin\nscope = all\n"
	    "allow = read\ndeny = read, write\n"
	    "[role r]\nmembers = @staff\nscope = all\nallow = list\n");
	put("rules.ini",
	    "[rule haunted]\nroles = ghosts\neffect = deny\n"
	    "permissions = read\n"
	    "[rule extra]\nroles = r, half\neffect = allow\n"
	    "permissions = read\nfiles = *.pdf\n"
	    "[rule stop]\nroles = *\neffect = deny\npermissions = read, write\n"
	    "[rule partial]\nroles = r\neffect = allow\npermissions = audit\n"
	    "[rule narrow]\nroles = r\neffect = deny\n"
	    "permissions = audit\nscope = clients:x\n");
	ck_assert_int_eq(load(&p), 0);
	ck_assert_msg(count(0) == 0 && count(1) == 6, "%s", dump());
	REPORTED("roles.ini", 2, 1, "role ghosts can never match");
	REPORTED("roles.ini", 6, 1, "role half: no user 'no-such-user-y'");
	REPORTED("roles.ini", 6, 1, "role half: no group 'no-such-group-y'");
	REPORTED("roles.ini", 9, 1, "role self-denying can never allow");
	REPORTED("rules.ini", 2, 1, "rule haunted can never match");
	REPORTED("rules.ini", 5, 1,
	         "allow rule extra is fully shadowed by deny rule stop");
	/* warnings do not change decisions */
	DENIED(p, REQ("bin", STAFF, "c", NULL, "a.pdf", POL_READ),
	       "role self-denying");
	ALLOWED(p, REQ("x", STAFF, "c", NULL, "a", POL_AUDIT), "rule partial");
	DENIED(p, REQ("x", STAFF, "x", NULL, "a", POL_AUDIT), "rule narrow");
	policy_free(p);

	/* roles = * with no roles at all */
	teardown();
	setup();
	put("rules.ini", "[rule any]\nroles = *\neffect = deny\n"
	    "permissions = all\n");
	ck_assert_int_eq(load(&p), 0);
	ck_assert_msg(count(1) == 2, "%s", dump());
	REPORTED("rules.ini", 2, 1, "rule any can never match");
	REPORTED(NULL, 0, 1, "no [role] sections");
	policy_free(p);
}
END_TEST

/* ---- security ---------------------------------------------------------- */

static int as_root(void)
{
	if (geteuid() == 0)
		return 1;
	fprintf(stderr, "check_policy: not root: ownership case skipped\n");
	return 0;
}

START_TEST(test_sec_mode)
{
	struct policy *p;
	char path[PATH_MAX];

	put("roles.ini", good_role);
	put("z.ini", "[team t]\nmembers = bin\n");
	path_of("roles.ini", path);
	ck_assert_int_eq(chmod(path, 0664), 0);
	load_bad(1);
	REPORTED("roles.ini", 0, 0, "writable by group or others; refusing");
	ck_assert_int_eq(chmod(path, 0646), 0);
	load_bad(1);
	REPORTED("roles.ini", 0, 0, "writable by group or others; refusing");
	ck_assert_int_eq(chmod(path, 0600), 0);
	p = load_clean();
	policy_free(p);

	ck_assert_int_eq(chmod(dir, 0775), 0);
	load_bad(1);
	REPORTED(NULL, 0, 0, "writable by group or others; refusing");
	ck_assert_int_eq(chmod(dir, 01777), 0);
	load_bad(1);
	ck_assert_int_eq(chmod(dir, 0755), 0);
}
END_TEST

/* Sets an access ACL on dir/name (or dir); 0, or -1 where the file
 * system has no ACLs. */
static int set_acl(const char *name, const char *text)
{
	char path[PATH_MAX];
	acl_t acl = acl_from_text(text);
	int rc;

	ck_assert_ptr_nonnull(acl);
	if (name != NULL)
		path_of(name, path);
	else
		snprintf(path, sizeof(path), "%s", dir);
	rc = acl_set_file(path, ACL_TYPE_ACCESS, acl);
	acl_free(acl);
	if (rc != 0 && (errno == ENOTSUP || errno == EOPNOTSUPP)) {
		fprintf(stderr, "check_policy: no ACLs on %s: skipped\n", dir);
		return -1;
	}
	ck_assert_msg(rc == 0, "acl_set_file: %s", strerror(errno));
	return 0;
}

START_TEST(test_sec_acl)
{
	struct policy *p;
	struct stat st;
	char path[PATH_MAX];

	put("roles.ini", good_role);
	/* a named user with write; the mask keeps the mode at 0644 */
	if (set_acl("roles.ini", "u::rw-,u:daemon:rw-,g::r--,m::r--,o::r--"))
		return;
	path_of("roles.ini", path);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	load_bad(1);
	REPORTED("roles.ini", 0, 0,
	         "writable by group or others (ACL); refusing");
	/* a named group */
	set_acl("roles.ini", "u::rw-,g::r--,g:users:rwx,m::r--,o::r--");
	load_bad(1);
	REPORTED("roles.ini", 0, 0, "(ACL); refusing");
	/* read for a named user, write for root, are fine */
	set_acl("roles.ini", "u::rw-,u:nobody:r--,u:root:rw-,g::r--,m::r--,"
	        "o::r--");
	p = load_clean();
	policy_free(p);
	/* the directory too */
	set_acl(NULL, "u::rwx,u:daemon:rwx,g::r-x,m::r-x,o::r-x");
	load_bad(1);
	REPORTED(NULL, 0, 0, "writable by group or others (ACL); refusing");
}
END_TEST

START_TEST(test_sec_symlinks)
{
	char path[PATH_MAX], link[PATH_MAX + 8];
	struct policy *p = NULL;

	put("real.conf", good_role);
	path_of("roles.ini", path);
	ck_assert_int_eq(symlink("real.conf", path), 0);
	load_bad(1);
	REPORTED("roles.ini", 0, 0, "symbolic link; refusing");
	ck_assert_int_eq(unlink(path), 0);

	/* the directory itself */
	put("roles.ini", good_role);
	snprintf(link, sizeof(link), "%s.link", dir);
	ck_assert_int_eq(symlink(dir, link), 0);
	nreports = 0;
	ck_assert_int_eq(policy_load(link, collect, NULL, &p), -EINVAL);
	unlink(link);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(nreports, 1);
	ck_assert_str_eq(reports[0].file, link);
	ck_assert_str_eq(reports[0].msg, "symbolic link; refusing");
}
END_TEST

START_TEST(test_sec_not_regular)
{
	char path[PATH_MAX];

	put("roles.ini", good_role);
	path_of("sub.ini", path);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	path_of("pipe.ini", path);
	ck_assert_int_eq(mkfifo(path, 0644), 0);
	load_bad(2);
	REPORTED("sub.ini", 0, 0, "not a regular file; refusing");
	REPORTED("pipe.ini", 0, 0, "not a regular file; refusing");
}
END_TEST

START_TEST(test_sec_owner)
{
	struct policy *p;
	char path[PATH_MAX];

	if (!as_root())
		return;
	put("roles.ini", good_role);
	path_of("roles.ini", path);
	ck_assert_int_eq(chown(path, 65534, 0), 0);
	load_bad(1);
	REPORTED("roles.ini", 0, 0, "not owned by root; refusing");
	ck_assert_int_eq(chown(path, 0, 65534), 0);   /* any group is fine */
	p = load_clean();
	policy_free(p);
	ck_assert_int_eq(chown(dir, 65534, 65534), 0);
	load_bad(1);
	REPORTED(NULL, 0, 0, "not owned by root; refusing");
	ck_assert_int_eq(chown(dir, 0, 0), 0);
}
END_TEST

/* ---- suite ------------------------------------------------------------- */

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");
	TCase *security = tcase_create("security");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_unchecked_fixture(core, make_base, remove_base);
	tcase_add_test(core, test_scope_all);
	tcase_add_test(core, test_scope_assigned);
	tcase_add_test(core, test_scope_team);
	tcase_add_test(core, test_scope_team_named);
	tcase_add_test(core, test_scope_clients);
	tcase_add_test(core, test_scope_none);
	tcase_add_test(core, test_deny_beats_allow);
	tcase_add_test(core, test_default_deny);
	tcase_add_test(core, test_rule_named);
	tcase_add_test(core, test_files);
	tcase_add_test(core, test_days_hours);
	tcase_add_test(core, test_groups);
	tcase_add_test(core, test_register_and_owner);
	tcase_add_test(core, test_root_gets_nothing);
	tcase_add_test(core, test_mount_root);
	tcase_add_test(core, test_mount_root_audit);
	tcase_add_test(core, test_mount_root_admin);
	tcase_add_test(core, test_retention);
	tcase_add_test(core, test_introspection);
	tcase_add_test(core, test_alerts);
	tcase_add_test(core, test_example_policy);
	suite_add_tcase(s, core);

	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_unchecked_fixture(limits, make_base, remove_base);
	tcase_add_test(limits, test_continuation_lines);
	tcase_add_test(limits, test_long_lines);
	tcase_add_test(limits, test_many_clients);
	tcase_add_test(limits, test_invalid_requests);
	tcase_add_test(limits, test_name_limits);
	tcase_add_test(limits, test_hours_limits);
	tcase_add_test(limits, test_files_in_dir);
	suite_add_tcase(s, limits);

	tcase_add_checked_fixture(errors, setup, teardown);
	tcase_add_unchecked_fixture(errors, make_base, remove_base);
	tcase_add_test(errors, test_err_syntax);
	tcase_add_test(errors, test_err_nul_byte);
	tcase_add_test(errors, test_err_sections);
	tcase_add_test(errors, test_err_keys);
	tcase_add_test(errors, test_err_values);
	tcase_add_test(errors, test_err_alerts);
	tcase_add_test(errors, test_err_scope);
	tcase_add_test(errors, test_err_members);
	tcase_add_test(errors, test_err_references);
	tcase_add_test(errors, test_err_duplicates);
	tcase_add_test(errors, test_err_everything_reported);
	tcase_add_test(errors, test_err_missing_dir);
	tcase_add_test(errors, test_warnings);
	suite_add_tcase(s, errors);

	tcase_add_checked_fixture(security, setup, teardown);
	tcase_add_unchecked_fixture(security, make_base, remove_base);
	tcase_add_test(security, test_sec_mode);
	tcase_add_test(security, test_sec_acl);
	tcase_add_test(security, test_sec_symlinks);
	tcase_add_test(security, test_sec_not_regular);
	tcase_add_test(security, test_sec_owner);
	suite_add_tcase(s, security);
	return s;
}

CHECK_MAIN(policy_suite)
