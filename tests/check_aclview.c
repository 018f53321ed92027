/*
 * Unit tests of the ACL view (include/aclview.h): the exact entries
 * (tags, ids, permissions, order, mask) synthesised for a client folder,
 * a subfolder and files under a small policy; files globs, a deny rule,
 * scopes that reach one client, the owner, days, users let in through a
 * group, and users with no role; the size query, -ERANGE and -EINVAL;
 * the kernel's acceptance of the value (set on a real file and read
 * back, where the filesystem has POSIX ACLs); many threads at once; a
 * grid of targets against a plain re-statement of the one-stage view
 * (every passwd account asked with policy_allowed(), no memberships),
 * and users named by a [client] section but without a role.
 *
 * The policy names users and groups every Debian system has: root (0),
 * daemon (1), bin (2), sys (3, primary group sys, 3), games (5) and lp
 * (7). The expected entries are written out as numbers, so the suite
 * first checks that this system looks like that, and fails with a
 * message saying which assumption broke rather than with a puzzling
 * mismatch.
 *
 * Each test writes its policy into a fresh mkdtemp directory (0755, files
 * 0644) under one base directory that is removed after the tcase.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "aclview.h"
#include "policy.h"
#include "check_main.h"
#define CHECK_TMP_NAME "check_aclview"
#include "check_tmp.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define UNDEF 0xffffffffu
#define ACL_XATTR "system.posix_acl_access"

/* ---- helpers ---------------------------------------------------------- */

static char reports[4096];        /* what policy_load() said */

static void setup(void)
{
	tmp_dir_make();
}

static void teardown(void)
{
	tmp_dir_remove();
}

/* Writes dir/name, mode 0644, with the given text. */
static void put(const char *name, const char *text)
{
	char path[PATH_MAX];
	size_t len = strlen(text);
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(fchmod(fd, 0644), 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

static void collect(void *ctx, const char *file, int line, int warning,
                    const char *msg)
{
	size_t used = strlen(reports);

	(void)ctx;
	snprintf(reports + used, sizeof(reports) - used, "  %s:%d: %s%s\n",
	         file, line, warning ? "warning: " : "", msg);
}

/* Fails unless the system has the accounts the expectations are written
 * for, and nobody else in group sys (who would get entries too). */
static void assume_system(void)
{
	static const struct { const char *name; uid_t uid; } users[] = {
		{ "root", 0 }, { "daemon", 1 }, { "bin", 2 }, { "sys", 3 },
		{ "games", 5 }, { "lp", 7 },
	};
	struct passwd *pw;
	struct group *gr;

	for (size_t i = 0; i < NELEM(users); i++) {
		pw = getpwnam(users[i].name);
		ck_assert_msg(pw != NULL && pw->pw_uid == users[i].uid,
		    "this test assumes user %s with uid %u, as on Debian",
		    users[i].name, (unsigned)users[i].uid);
	}
	gr = getgrnam("sys");
	ck_assert_msg(gr != NULL && gr->gr_gid == 3 && gr->gr_mem[0] == NULL,
	    "this test assumes group sys, gid 3, without listed members");
	setpwent();
	while ((pw = getpwent()) != NULL)
		ck_assert_msg(pw->pw_gid != 3 || strcmp(pw->pw_name, "sys") == 0,
		    "this test assumes that only user sys has group sys, "
		    "not %s", pw->pw_name);
	endpwent();
}

static const char roles_ini[] =
	"[role managers]\n"
	"members = root, daemon\n"
	"scope = all\n"
	"allow = list, read, write, create, rename, delete\n"
	"\n"
	"[role clerks]\n"
	"members = bin\n"
	"scope = clients:acme\n"
	"allow = list, read\n"
	"\n"
	"; a group role with files: only PDFs, and listing the folder\n"
	"[role scanners]\n"
	"members = @sys\n"
	"scope = all\n"
	"allow = list, read\n"
	"files = *.pdf\n"
	"\n"
	"; what the user sys gets by name, not through the group\n"
	"[role sys-editor]\n"
	"members = sys\n"
	"scope = clients:acme\n"
	"allow = write\n"
	"files = *.pdf\n"
	"\n"
	"[role owners]\n"
	"members = games\n"
	"scope = assigned\n"
	"allow = list, read, write, create\n"
	"\n"
	"; group sys again: one entry for it all the same\n"
	"[role weekdays]\n"
	"members = lp, @sys\n"
	"scope = all\n"
	"allow = list\n"
	"days = mon-fri\n";

static const char rules_ini[] =
	"[rule no-secrets]\n"
	"roles = managers\n"
	"effect = deny\n"
	"permissions = read, write\n"
	"files = secret*\n";

/* Writes the test policy (with extra, if not NULL, as a third file) and
 * loads it, which must go without a word; *s gets its subjects. */
static struct policy *load_with(const char *extra,
                                struct aclview_subjects **s)
{
	struct policy *p = NULL;
	int rc;

	assume_system();
	put("roles.ini", roles_ini);
	put("rules.ini", rules_ini);
	if (extra != NULL)
		put("zz.ini", extra);
	reports[0] = '\0';
	rc = policy_load(dir, collect, NULL, &p);
	ck_assert_msg(rc == 0 && reports[0] == '\0',
	              "load: %d, reports:\n%s", rc, reports);
	*s = NULL;
	ck_assert_int_eq(aclview_subjects_new(p, s), 0);
	ck_assert_ptr_nonnull(*s);
	return p;
}

static struct policy *load_policy(struct aclview_subjects **s)
{
	return load_with(NULL, s);
}

static void unload(struct policy *p, struct aclview_subjects *s)
{
	aclview_subjects_free(s);
	policy_free(p);
}

/* Wednesday and Sunday, 10:00. */
static const struct tm wednesday = { .tm_wday = 3, .tm_hour = 10 };
static const struct tm sunday = { .tm_wday = 0, .tm_hour = 10 };

static struct aclview_target target(const char *client, const char *owner,
                                    const char *path, mode_t mode)
{
	return (struct aclview_target){
		.client = client, .client_owner = owner, .path = path,
		.mode = mode, .uid = 0, .when = &wednesday,
	};
}

/* ---- decoding --------------------------------------------------------- */

struct ent {
	unsigned tag;
	unsigned perm;
	uint32_t id;
};

#define UOBJ(perm)      { ACL_USER_OBJ, (perm), UNDEF }
#define USER(id, perm)  { ACL_USER, (perm), (id) }
#define GOBJ(perm)      { ACL_GROUP_OBJ, (perm), UNDEF }
#define GROUP(id, perm) { ACL_GROUP, (perm), (id) }
#define MASK(perm)      { ACL_MASK, (perm), UNDEF }
#define OTHER(perm)     { ACL_OTHER, (perm), UNDEF }

/* Read byte by byte, so that the test does not share the module's idea
 * of endianness. */
static uint32_t le16(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8;
}

static uint32_t le32(const unsigned char *b)
{
	return le16(b) | le16(b + 2) << 16;
}

/* The entries of an xattr value of len bytes; -1 if it is malformed. */
static int decode(const unsigned char *v, size_t len, struct ent *out,
                  size_t max)
{
	size_t n;

	if (len < 4 || (len - 4) % 8 != 0 || le32(v) != 2)
		return -1;
	n = (len - 4) / 8;
	if (n > max)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *e = v + 4 + 8 * i;

		out[i] = (struct ent){ le16(e), le16(e + 2), le32(e + 4) };
	}
	return (int)n;
}

/* getfacl-like text of entries, for failure messages. */
static const char *show(const struct ent *e, int n, char *buf, size_t cap)
{
	static const struct { unsigned tag; const char *name; } tags[] = {
		{ ACL_USER_OBJ, "user:" }, { ACL_USER, "user" },
		{ ACL_GROUP_OBJ, "group:" }, { ACL_GROUP, "group" },
		{ ACL_MASK, "mask:" }, { ACL_OTHER, "other:" },
	};
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && used < cap; i++) {
		const char *name = "?";
		char id[16] = "";

		for (size_t t = 0; t < NELEM(tags); t++)
			if (tags[t].tag == e[i].tag)
				name = tags[t].name;
		if (e[i].id != UNDEF)
			snprintf(id, sizeof(id), ":%u", (unsigned)e[i].id);
		used += (size_t)snprintf(buf + used, cap - used,
		    " %s%s:%c%c%c", name, id, e[i].perm & 4 ? 'r' : '-',
		    e[i].perm & 2 ? 'w' : '-', e[i].perm & 1 ? 'x' : '-');
	}
	return buf;
}

/* Builds the view of t, checks it against want entry for entry, and
 * that a size query agrees. */
static void expect_at(int line, const struct policy *p,
                      const struct aclview_subjects *s,
                      const struct aclview_target *t,
                      const struct ent *want, size_t nwant)
{
	unsigned char v[4096];
	struct ent got[512];
	char gs[2048], ws[2048];
	ssize_t need, len;
	int n;

	memset(v, 0xa5, sizeof(v));
	len = aclview_build(p, s, t, v, sizeof(v));
	ck_assert_msg(len > 0 && (size_t)len < sizeof(v),
	              "line %d: %s/%s: built %zd", line, t->client, t->path,
	              len);
	ck_assert_msg(v[len] == 0xa5, "line %d: wrote past the value", line);
	n = decode(v, (size_t)len, got, NELEM(got));
	ck_assert_msg(n >= 0, "line %d: malformed value", line);
	ck_assert_msg((size_t)n == nwant &&
	              memcmp(got, want, nwant * sizeof(*want)) == 0,
	    "line %d: %s/%s:\n got: %s\nwant: %s", line, t->client, t->path,
	    show(got, n, gs, sizeof(gs)),
	    show(want, (int)nwant, ws, sizeof(ws)));
	need = aclview_build(p, s, t, NULL, 0);
	ck_assert_msg(need == len, "line %d: size query %zd, built %zd",
	              line, need, len);
}

#define EXPECT(p, s, t, ...) do { \
	static const struct ent want_[] = { __VA_ARGS__ }; \
	struct aclview_target t_ = (t); \
	expect_at(__LINE__, (p), (s), &t_, want_, NELEM(want_)); \
} while (0)

/* ---- core ------------------------------------------------------------- */

START_TEST(test_folder)
{
	struct aclview_subjects *s;
	struct policy *p = load_policy(&s);
	struct aclview_target t;

	/* Everyone with list gets r-x, with create too rwx; sys gets in
	 * through group sys only (scanners), bin through a scope naming
	 * acme, games as the folder's owner. Nobody else has a role, and
	 * the mask restricts nobody. */
	EXPECT(p, s, target("acme", "games", "", S_IFDIR | 0750),
	       UOBJ(7), USER(0, 7), USER(1, 7), USER(2, 5), USER(3, 5),
	       USER(5, 7), USER(7, 5), GOBJ(5), GROUP(3, 5), MASK(5),
	       OTHER(0));
	/* Another client: bin's scope does not reach it, games does not
	 * own it. */
	EXPECT(p, s, target("zeta", NULL, "", S_IFDIR | 0751),
	       UOBJ(7), USER(0, 7), USER(1, 7), USER(3, 5), USER(7, 5),
	       GOBJ(5), GROUP(3, 5), MASK(5), OTHER(1));
	/* lp's role is for weekdays only. */
	t = target("acme", "games", "", S_IFDIR | 0700);
	t.when = &sunday;
	EXPECT(p, s, t,
	       UOBJ(7), USER(0, 7), USER(1, 7), USER(2, 5), USER(3, 5),
	       USER(5, 7), GOBJ(0), GROUP(3, 5), MASK(0), OTHER(0));
	unload(p, s);
}
END_TEST

START_TEST(test_files)
{
	struct aclview_subjects *s;
	struct policy *p = load_policy(&s);
	struct aclview_target t;

	/* A PDF: the scanners read it, user sys also writes it (by name,
	 * which group sys does not get); lp only lists folders. */
	EXPECT(p, s, target("acme", "games", "report.pdf", S_IFREG | 0640),
	       UOBJ(6), USER(0, 6), USER(1, 6), USER(2, 4), USER(3, 6),
	       USER(5, 6), GOBJ(4), GROUP(3, 4), MASK(4), OTHER(0));
	/* Not a PDF: neither sys nor group sys. */
	EXPECT(p, s, target("acme", "games", "notes.txt", S_IFREG | 0640),
	       UOBJ(6), USER(0, 6), USER(1, 6), USER(2, 4), USER(5, 6),
	       GOBJ(4), MASK(4), OTHER(0));
	/* The deny rule takes read and write from the managers. */
	EXPECT(p, s, target("acme", "games", "secret-plan.pdf",
	                    S_IFREG | 0640),
	       UOBJ(6), USER(2, 4), USER(3, 6), USER(5, 6), GOBJ(4),
	       GROUP(3, 4), MASK(4), OTHER(0));
	/* ... in a folder of that name too, at any depth. */
	EXPECT(p, s, target("acme", "games", "2024/secrets/a.pdf",
	                    S_IFREG | 0600),
	       UOBJ(6), USER(2, 4), USER(3, 6), USER(5, 6), GOBJ(0),
	       GROUP(3, 4), MASK(0), OTHER(0));
	/* A subfolder: the managers keep rwx (the rule denies read and
	 * write, not list or create). Group sys lists it through weekdays,
	 * the one role of the group without files. */
	EXPECT(p, s, target("acme", "games", "archive", S_IFDIR | 0755),
	       UOBJ(7), USER(0, 7), USER(1, 7), USER(2, 5), USER(3, 5),
	       USER(5, 7), USER(7, 5), GOBJ(5), GROUP(3, 5), MASK(5),
	       OTHER(5));
	/* On Sunday weekdays is off and the scanners' files do not match
	 * it: neither sys nor its group. */
	t = target("acme", "games", "archive", S_IFDIR | 0755);
	t.when = &sunday;
	EXPECT(p, s, t,
	       UOBJ(7), USER(0, 7), USER(1, 7), USER(2, 5), USER(5, 7),
	       GOBJ(5), MASK(5), OTHER(5));
	unload(p, s);
}
END_TEST

START_TEST(test_execute)
{
	struct aclview_subjects *s;
	struct policy *p = load_policy(&s);

	/* Readers may run what the mode lets anybody run at all ... */
	EXPECT(p, s, target("acme", "games", "run.pdf", S_IFREG | 0100),
	       UOBJ(1), USER(0, 7), USER(1, 7), USER(2, 5), USER(3, 7),
	       USER(5, 7), GOBJ(0), GROUP(3, 5), MASK(0), OTHER(0));
	/* ... and nobody what it lets nobody run. */
	EXPECT(p, s, target("acme", "games", "run.pdf", S_IFREG | 0644),
	       UOBJ(6), USER(0, 6), USER(1, 6), USER(2, 4), USER(3, 6),
	       USER(5, 6), GOBJ(4), GROUP(3, 4), MASK(4), OTHER(4));
	unload(p, s);
}
END_TEST

START_TEST(test_nobody)
{
	struct aclview_subjects *s;
	struct policy *p = load_policy(&s);

	/* Nobody is let in: the three entries of the mode, no mask. */
	EXPECT(p, s, target("zeta", NULL, "secret.txt", S_IFREG | 0640),
	       UOBJ(6), GOBJ(4), OTHER(0));
	EXPECT(p, s, target("zeta", NULL, "secret.txt", S_IFREG | 0751),
	       UOBJ(7), GOBJ(5), OTHER(1));
	/* The mask is the group class bits, whatever the named entries
	 * hold. */
	EXPECT(p, s, target("zeta", NULL, "secret.pdf", S_IFREG | 0670),
	       UOBJ(6), USER(3, 5), GOBJ(7), GROUP(3, 5), MASK(7), OTHER(0));
	/* No policy: the same, whatever the target and the subjects. */
	EXPECT(NULL, NULL, target("acme", "games", "", S_IFDIR | 0750),
	       UOBJ(7), GOBJ(5), OTHER(0));
	EXPECT(NULL, s, target("acme", "games", "", S_IFDIR | 0750),
	       UOBJ(7), GOBJ(5), OTHER(0));
	/* A request the policy calls invalid lets nobody in. */
	EXPECT(p, s, target("acme", "games", "a/../b.pdf", S_IFREG | 0640),
	       UOBJ(6), GOBJ(4), OTHER(0));
	unload(p, s);
}
END_TEST

/* Users that a [client] section names (as owner, as members, by name or
 * through a group) but that have no role get no entry: only roles let
 * anybody in, and such users are not even among the subjects. The
 * "owners" role (games, scope assigned) reaches a client whose section
 * names games, and nobody else is let in by it. */
START_TEST(test_no_role)
{
	static const char clients_ini[] =
		"[client acme]\n"
		"owner = mail\n"
		"members = news, @sys, games\n";
	struct aclview_subjects *s;
	struct policy *p = load_with(clients_ini, &s);
	struct passwd *mail = getpwnam("mail"), *news = getpwnam("news");

	ck_assert_msg(mail != NULL && news != NULL,
	              "this test assumes users mail and news, as on Debian");
	/* games is in by the section now, without being named the owner;
	 * mail, news and group sys (its role "scanners" does not reach
	 * notes.txt) are not. */
	EXPECT(p, s, target("acme", NULL, "notes.txt", S_IFREG | 0640),
	       UOBJ(6), USER(0, 6), USER(1, 6), USER(2, 4), USER(5, 6),
	       GOBJ(4), MASK(4), OTHER(0));
	/* The owner given by the daemon does not help mail either. */
	EXPECT(p, s, target("acme", "mail", "notes.txt", S_IFREG | 0640),
	       UOBJ(6), USER(0, 6), USER(1, 6), USER(2, 4), USER(5, 6),
	       GOBJ(4), MASK(4), OTHER(0));
	unload(p, s);
}
END_TEST

/* The kernel takes the value as it is (order, mask, no duplicates) and
 * gives the same bytes back; libacl finds it valid and prints what
 * getfacl would. Skipped where the filesystem has no POSIX ACLs. */
START_TEST(test_kernel_accepts)
{
	static const char text[] =
		"user::rwx\nuser:root:rwx\t#effective:r-x\n"
		"user:daemon:rwx\t#effective:r-x\nuser:bin:r-x\n"
		"user:sys:r-x\nuser:games:rwx\t#effective:r-x\nuser:lp:r-x\n"
		"group::r-x\ngroup:sys:r-x\nmask::r-x\nother::---\n";
	struct aclview_subjects *s;
	struct policy *p = load_policy(&s);
	struct aclview_target t = target("acme", "games", "",
	                                 S_IFDIR | 0750);
	unsigned char v[4096], back[4096];
	char path[PATH_MAX], *txt;
	ssize_t len, blen;
	acl_t acl;
	int rc;

	len = aclview_build(p, s, &t, v, sizeof(v));
	ck_assert_int_eq(len, 4 + 8 * 11);
	snprintf(path, sizeof(path), "%s/folder", dir);
	ck_assert_int_eq(mkdir(path, 0750), 0);
	rc = setxattr(path, ACL_XATTR, v, (size_t)len, 0);
	if (rc != 0 && errno == EOPNOTSUPP) {
		fprintf(stderr, "check_aclview: %s has no POSIX ACLs; "
		        "test_kernel_accepts skipped\n", dir);
		unload(p, s);
		return;
	}
	ck_assert_msg(rc == 0, "the kernel refused the value: %s",
	              strerror(errno));
	blen = getxattr(path, ACL_XATTR, back, sizeof(back));
	ck_assert_int_eq(blen, len);
	ck_assert_msg(memcmp(back, v, (size_t)len) == 0,
	              "the kernel gave other bytes back");
	acl = acl_get_file(path, ACL_TYPE_ACCESS);
	ck_assert_ptr_nonnull(acl);
	ck_assert_int_eq(acl_valid(acl), 0);
	txt = acl_to_text(acl, NULL);
	ck_assert_ptr_nonnull(txt);
	ck_assert_str_eq(txt, text);
	acl_free(txt);
	acl_free(acl);
	unload(p, s);
}
END_TEST

/* ---- the one-stage view, restated ------------------------------------- */

/* What the view was before it had two stages, written out plainly: every
 * account of the passwd walk (the first of each uid), its groups from
 * getgrouplist() and getgrgid(), asked with policy_allowed() and no
 * memberships, whether it has a role or not; then every "@group" of the
 * roles, as "@name" with that one group. */
static unsigned ref_rwx(const struct policy *p, const struct aclview_target *t,
                        const char *user, char **groups, size_t ngroups)
{
	struct policy_req r = {
		.user = user, .groups = (const char *const *)groups,
		.ngroups = ngroups, .client = t->client,
		.client_owner = t->client_owner, .path = t->path,
		.when = t->when,
	};
	unsigned a = policy_allowed(p, &r);

	if (S_ISDIR(t->mode))
		return (a & POL_LIST ? 5 : 0) |
		       (a & (POL_CREATE | POL_DELETE | POL_RENAME) ? 2 : 0);
	return (a & POL_READ ? (t->mode & 0111 ? 5 : 4) : 0) |
	       (a & POL_WRITE ? 2 : 0);
}

static int by_ent_id(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Appends to e[*n] the entry (tag, id) of user with groups g, unless e has
 * one for id already or the policy lets the user do nothing. */
static void ref_named(const struct policy *p, const struct aclview_target *t,
                      struct ent *e, size_t *n, size_t max, unsigned tag,
                      uint32_t id, const char *user, char **g, size_t ng)
{
	unsigned bits = ref_rwx(p, t, user, g, ng);

	ck_assert_uint_lt(*n, max);
	for (size_t i = 0; i < *n; i++)
		if (e[i].tag == tag && e[i].id == id)
			return;           /* the first of an id counts */
	if (bits != 0)
		e[(*n)++] = (struct ent){ tag, bits, id };
}

static size_t reference(const struct policy *p,
                        const struct aclview_target *t, struct ent *e,
                        size_t max)
{
	struct ent users[512], groups[64];
	size_t nu = 0, ng = 0, n = 0, nseen = 0;
	uid_t seen[1024];
	struct policy_role role;
	struct passwd *pw;
	struct group *gr;

	setpwent();
	while ((pw = getpwent()) != NULL) {
		gid_t gids[256];
		char *names[256];
		int ngids = 256, dup = 0;
		size_t nn = 0;

		for (size_t i = 0; i < nseen; i++)
			dup |= seen[i] == pw->pw_uid;
		ck_assert_uint_lt(nseen, NELEM(seen));
		seen[nseen++] = pw->pw_uid;
		if (dup)
			continue;
		ck_assert_int_ge(getgrouplist(pw->pw_name, pw->pw_gid, gids,
		                              &ngids), 0);
		for (int i = 0; i < ngids; i++)
			if ((gr = getgrgid(gids[i])) != NULL)
				names[nn++] = strdup(gr->gr_name);
		ref_named(p, t, users, &nu, NELEM(users), ACL_USER,
		          pw->pw_uid, pw->pw_name, names, nn);
		while (nn > 0)
			free(names[--nn]);
	}
	endpwent();
	for (size_t i = 0; policy_role_at(p, i, &role) == 0; i++)
		for (size_t m = 0; m < role.nmembers; m++) {
			char user[300], *name;

			if (role.members[m][0] != '@' ||
			    (gr = getgrnam(role.members[m] + 1)) == NULL ||
			    (gr = getgrgid(gr->gr_gid)) == NULL)
				continue;
			name = gr->gr_name;
			snprintf(user, sizeof(user), "@%s", name);
			ref_named(p, t, groups, &ng, NELEM(groups), ACL_GROUP,
			          gr->gr_gid, user, &name, 1);
		}
	qsort(users, nu, sizeof(*users), by_ent_id);
	qsort(groups, ng, sizeof(*groups), by_ent_id);
	ck_assert_uint_le(nu + ng + 4, max);
	e[n++] = (struct ent)UOBJ((t->mode >> 6) & 7);
	for (size_t i = 0; i < nu; i++)
		e[n++] = users[i];
	e[n++] = (struct ent)GOBJ((t->mode >> 3) & 7);
	for (size_t i = 0; i < ng; i++)
		e[n++] = groups[i];
	if (nu + ng > 0)
		e[n++] = (struct ent)MASK((t->mode >> 3) & 7);
	e[n++] = (struct ent)OTHER(t->mode & 7);
	return n;
}

/* Subjects made from p and used with p give, over a grid of targets,
 * what every account of the system would get asked one by one, and a
 * second set made from the same p the same bytes. */
START_TEST(test_reference)
{
	static const char *const clients[] = { "acme", "zeta" };
	static const char *const owners[] = { "games", NULL };
	static const char *const paths[] = {
		"", "report.pdf", "notes.txt", "secret-plan.pdf",
		"2024/secrets/a.pdf", "archive", "run.pdf", "a/../b.pdf",
	};
	static const mode_t modes[] = {
		S_IFDIR | 0750, S_IFDIR | 0701, S_IFREG | 0640,
		S_IFREG | 0751, S_IFREG | 0670,
	};
	static const struct tm *const whens[] = { &wednesday, &sunday };
	struct aclview_subjects *s, *s2 = NULL;
	struct policy *p = load_policy(&s);
	struct ent want[600], got[600];
	unsigned char v[8192], v2[8192];
	char gs[4096], ws[4096];
	size_t nwant, checked = 0;
	ssize_t len;
	int n;

	ck_assert_int_eq(aclview_subjects_new(p, &s2), 0);
	for (size_t c = 0; c < NELEM(clients); c++)
	for (size_t o = 0; o < NELEM(owners); o++)
	for (size_t i = 0; i < NELEM(paths); i++)
	for (size_t m = 0; m < NELEM(modes); m++)
	for (size_t w = 0; w < NELEM(whens); w++) {
		struct aclview_target t = target(clients[c], owners[o],
		                                 paths[i], modes[m]);

		t.when = whens[w];
		nwant = reference(p, &t, want, NELEM(want));
		len = aclview_build(p, s, &t, v, sizeof(v));
		ck_assert_int_gt(len, 0);
		n = decode(v, (size_t)len, got, NELEM(got));
		ck_assert_msg(n >= 0 && (size_t)n == nwant &&
		              memcmp(got, want, nwant * sizeof(*want)) == 0,
		    "%s (owner %s) /%s, mode %o, day %d:\n got: %s\nwant: %s",
		    t.client, t.client_owner ? t.client_owner : "-", t.path,
		    (unsigned)t.mode, t.when->tm_wday,
		    show(got, n, gs, sizeof(gs)),
		    show(want, (int)nwant, ws, sizeof(ws)));
		ck_assert_int_eq(aclview_build(p, s2, &t, v2, sizeof(v2)),
		                 len);
		ck_assert(memcmp(v, v2, (size_t)len) == 0);
		checked++;
	}
	ck_assert_uint_eq(checked, NELEM(clients) * NELEM(owners) *
	                  NELEM(paths) * NELEM(modes) * NELEM(whens));
	aclview_subjects_free(s2);
	unload(p, s);
}
END_TEST

/* ---- limits and errors ------------------------------------------------ */

START_TEST(test_sizes)
{
	struct aclview_subjects *s;
	struct policy *p = load_policy(&s);
	struct aclview_target t = target("acme", "games", "report.pdf",
	                                 S_IFREG | 0640);
	unsigned char v[256], ref[256];
	ssize_t need;

	need = aclview_build(p, s, &t, NULL, 0);
	ck_assert_int_eq(need, 4 + 8 * 10);
	/* size 0 writes nothing, even with a buffer. */
	memset(v, 0xa5, sizeof(v));
	memset(ref, 0xa5, sizeof(ref));
	ck_assert_int_eq(aclview_build(p, s, &t, v, 0), need);
	ck_assert_int_eq(aclview_build(p, s, &t, v, (size_t)need - 1),
	                 -ERANGE);
	ck_assert_int_eq(aclview_build(p, s, &t, v, 4), -ERANGE);
	ck_assert_int_eq(aclview_build(p, s, &t, v, 1), -ERANGE);
	ck_assert_msg(memcmp(v, ref, sizeof(v)) == 0,
	              "a failed call wrote into the buffer");
	ck_assert_int_eq(aclview_build(p, s, &t, v, (size_t)need), need);
	ck_assert_int_eq(v[need], 0xa5);
	ck_assert_int_eq(aclview_build(p, s, &t, v, sizeof(v)), need);
	/* Without named entries: 3 entries, and a buffer of exactly that. */
	t = target("zeta", NULL, "secret.txt", S_IFREG | 0640);
	ck_assert_int_eq(aclview_build(p, s, &t, NULL, 0), 28);
	ck_assert_int_eq(aclview_build(p, s, &t, v, 27), -ERANGE);
	ck_assert_int_eq(aclview_build(p, s, &t, v, 28), 28);
	unload(p, s);
}
END_TEST

START_TEST(test_invalid)
{
	struct aclview_subjects *s, *other_s, *untouched = NULL;
	struct policy *p = load_policy(&s);
	struct policy *other = load_policy(&other_s);
	struct aclview_target t = target("acme", NULL, "", S_IFDIR | 0750);
	unsigned char v[256];

	ck_assert_int_eq(aclview_subjects_new(NULL, &untouched), -EINVAL);
	ck_assert_ptr_null(untouched);
	ck_assert_int_eq(aclview_subjects_new(p, NULL), -EINVAL);
	aclview_subjects_free(NULL);
	/* Subjects are for the policy they were made from, and needed. */
	ck_assert_int_eq(aclview_build(p, NULL, &t, v, sizeof(v)), -EINVAL);
	ck_assert_int_eq(aclview_build(p, other_s, &t, v, sizeof(v)),
	                 -EINVAL);
	ck_assert_int_eq(aclview_build(p, other_s, &t, NULL, 0), -EINVAL);
	ck_assert_int_eq(aclview_build(other, other_s, &t, NULL, 0),
	                 4 + 8 * 10);
	ck_assert_int_eq(aclview_build(p, s, NULL, v, sizeof(v)), -EINVAL);
	ck_assert_int_eq(aclview_build(p, s, &t, NULL, sizeof(v)), -EINVAL);
	t.client = NULL;
	ck_assert_int_eq(aclview_build(p, s, &t, v, sizeof(v)), -EINVAL);
	t = target("acme", NULL, NULL, S_IFDIR | 0750);
	ck_assert_int_eq(aclview_build(p, s, &t, NULL, 0), -EINVAL);
	t = target("acme", NULL, "", S_IFDIR | 0750);
	t.when = NULL;
	ck_assert_int_eq(aclview_build(p, s, &t, NULL, 0), -EINVAL);
	unload(other, other_s);
	unload(p, s);
}
END_TEST

/* Many threads at once on one policy and one subjects set get the same
 * bytes as one thread. */
#define NTHREADS 8
#define NROUNDS  2000

struct race {
	const struct policy *p;
	const struct aclview_subjects *s;
	const unsigned char *ref;
	size_t len;
	int bad;
};

static void *racer(void *arg)
{
	struct race *r = arg;
	struct aclview_target t = target("acme", "games", "report.pdf",
	                                 S_IFREG | 0640);
	unsigned char v[512];

	for (int i = 0; i < NROUNDS; i++) {
		ssize_t len = aclview_build(r->p, r->s, &t, v, sizeof(v));

		if (len != (ssize_t)r->len || memcmp(v, r->ref, r->len) != 0)
			r->bad++;
	}
	return NULL;
}

START_TEST(test_threads)
{
	struct aclview_subjects *s;
	struct policy *p = load_policy(&s);
	struct aclview_target t = target("acme", "games", "report.pdf",
	                                 S_IFREG | 0640);
	unsigned char ref[512];
	struct race races[NTHREADS];
	pthread_t th[NTHREADS];
	ssize_t len;

	len = aclview_build(p, s, &t, ref, sizeof(ref));
	ck_assert_int_eq(len, 4 + 8 * 10);
	for (int i = 0; i < NTHREADS; i++) {
		races[i] = (struct race){ p, s, ref, (size_t)len, 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, racer,
		                                &races[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_msg(races[i].bad == 0, "thread %d: %d bad values",
		              i, races[i].bad);
	}
	unload(p, s);
}
END_TEST

/* ---- suite ------------------------------------------------------------ */

static Suite *aclview_suite(void)
{
	Suite *s = suite_create("aclview");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_unchecked_fixture(core, make_base, remove_base);
	tcase_add_test(core, test_folder);
	tcase_add_test(core, test_files);
	tcase_add_test(core, test_execute);
	tcase_add_test(core, test_nobody);
	tcase_add_test(core, test_no_role);
	tcase_add_test(core, test_kernel_accepts);
	tcase_add_test(core, test_reference);
	suite_add_tcase(s, core);

	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_unchecked_fixture(limits, make_base, remove_base);
	tcase_add_test(limits, test_sizes);
	tcase_add_test(limits, test_invalid);
	tcase_add_test(limits, test_threads);
	suite_add_tcase(s, limits);
	return s;
}

CHECK_MAIN(aclview_suite)
