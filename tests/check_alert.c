/*
 * Unit tests of the alert engine (include/alert.h) and the lockout store
 * (include/lockout.h): every kind fires on the event that takes its
 * count over the threshold and not at the threshold; events out of the
 * window do not count (explicit times, the boundary included); distinct
 * clients; the roles filter; off-hours in and out; sensitive globs; the
 * quiet period and re-arming; idle users forgotten and the table bound;
 * several threads on one engine; the JSON and detail texts, escaping
 * included; the notify runner (success with the JSON checked, an exit
 * status, a missing command, a command that sleeps past its timeout and
 * leaves no process behind, one that never reads its input, the
 * child's environment, descriptors, directory and process group); and
 * the lockout file (lock, reload, unlock, two stores, damaged files
 * refused).
 *
 * Each test works in its own directory under a base directory made with
 * mkdtemp before the tcase forks its tests and removed after it, so
 * nothing is left behind even when a test fails. The policies are
 * written there (0644 files in a 0700 directory, owned by whoever runs
 * the tests) and loaded with policy_load().
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "lockout.h"
#include "policy.h"
#include "check_main.h"
#define CHECK_TMP_NAME "check_alert"
#include "check_tmp.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define S(x)  ((int64_t)(x) * 1000000)           /* seconds, in µs */
#define T0    ((int64_t)1795000000 * 1000000)    /* some time in 2026 */

/* ---- fixtures --------------------------------------------------------- */

static void setup(void)
{
	tmp_dir_make();
}

static void teardown(void)
{
	tmp_dir_remove();
}

static void path_of(const char *name, char *path)
{
	snprintf(path, PATH_MAX, "%s/%s", dir, name);
}

static void put_mode(const char *name, const char *text, size_t len,
                     mode_t mode)
{
	char path[PATH_MAX];
	int fd;

	path_of(name, path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

static void put(const char *name, const char *text)
{
	put_mode(name, text, strlen(text), 0644);
}

/* The text of dir/name into buf (NUL-terminated); its length. */
static size_t get(const char *name, char *buf, size_t cap)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	path_of(name, path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	n = read(fd, buf, cap - 1);
	ck_assert_int_ge(n, 0);
	close(fd);
	buf[n] = '\0';
	return (size_t)n;
}

static int exists(const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	path_of(name, path);
	return lstat(path, &st) == 0;
}

/* ---- policies and events ----------------------------------------------- */

static const char roles_ini[] =
	"[role staff]\nmembers = @staff\nscope = all\nallow = read\n"
	"[role audit]\nmembers = bin, @adm\nscope = all\nallow = audit\n";

/* Loads roles_ini, a [settings] with a notify command, and alerts. */
static struct policy *pol(const char *alerts)
{
	struct policy *p = NULL;
	int rc;

	put("roles.ini", roles_ini);
	put("settings.ini", "[settings]\nnode = n1\nnotify = /bin/true\n");
	put("alerts.ini", alerts);
	rc = policy_load(dir, NULL, NULL, &p);
	ck_assert_msg(rc == 0, "policy_load: %d", rc);
	return p;
}

static const char *const STAFF[] = { "staff" };
static const char *const ADM[] = { "adm" };
static const struct tm wed_noon = { .tm_wday = 3, .tm_hour = 12 };

/* An allowed open for reading by user at T0 + us, in client acme. */
static struct alert_input ev(const char *user, int64_t us)
{
	struct alert_input in = {
		.time_us = T0 + us, .uid = 1000, .user = user,
		.groups = STAFF, .ngroups = 1, .roles = "staff",
		.action = "open", .is_read = 1, .client = "acme",
		.path = "a.pdf", .local = &wed_noon,
	};

	return in;
}

static struct alert_hit hits[8];

static int feed(struct alert_engine *e, struct alert_input in)
{
	memset(hits, 0x5a, sizeof(hits));
	return alert_feed(e, &in, hits, NELEM(hits));
}

/* Feeds in n times (at the same time) and wants no hit. */
static void feed_quiet(struct alert_engine *e, struct alert_input in, int n)
{
	for (int i = 0; i < n; i++)
		ck_assert_msg(feed(e, in) == 0, "event %d fired", i + 1);
}

static struct alert_engine *engine(const struct policy *p)
{
	struct alert_engine *e = NULL;

	ck_assert_int_eq(alert_new(p, &e), 0);
	ck_assert_ptr_nonnull(e);
	return e;
}

/* ---- core: each kind --------------------------------------------------- */

START_TEST(test_reads)
{
	struct policy *p = pol("[alert bulk]\nkind = reads\nthreshold = 3\n"
	                       "window = 10s\nresponse = notify, lockout\n");
	struct alert_engine *e = engine(p);
	struct alert_input in = ev("alice", 0);

	/* what does not count: other actions, denied reads */
	in.is_read = 0;
	in.action = "list";
	feed_quiet(e, in, 10);
	in = ev("alice", 0);
	in.denied = 1;
	feed_quiet(e, in, 10);
	/* three reads: at the threshold, quiet; the fourth fires */
	feed_quiet(e, ev("alice", 0), 1);
	feed_quiet(e, ev("alice", S(1)), 1);
	feed_quiet(e, ev("alice", S(2)), 1);
	in = ev("alice", S(3));
	in.client = "baker";
	ck_assert_int_eq(feed(e, in), 1);
	ck_assert_str_eq(hits[0].rule, "bulk");
	ck_assert_int_eq(hits[0].kind, POL_ALERT_READS);
	ck_assert_uint_eq(hits[0].response, POL_RESPONSE_RECORD |
	                  POL_RESPONSE_NOTIFY | POL_RESPONSE_LOCKOUT);
	ck_assert_uint_eq(hits[0].count, 4);
	ck_assert_uint_eq(hits[0].threshold, 3);
	ck_assert_uint_eq(hits[0].window_s, 10);
	ck_assert_ptr_eq(hits[0].user, in.user);
	ck_assert_uint_eq(hits[0].uid, 1000);
	ck_assert_str_eq(hits[0].client, "baker");
	ck_assert_str_eq(hits[0].roles, "staff");
	ck_assert_str_eq(hits[0].action, "open");
	ck_assert_int_eq(hits[0].time_us, T0 + S(3));
	/* another user has counts of its own */
	feed_quiet(e, ev("bob", S(3)), 3);
	ck_assert_int_eq(feed(e, ev("bob", S(3))), 1);
	ck_assert_str_eq(hits[0].user, "bob");
	alert_free(e);
	policy_free(p);
}
END_TEST

START_TEST(test_window)
{
	struct policy *p = pol("[alert w]\nkind = reads\nthreshold = 2\n"
	                       "window = 10s\nresponse = record\n");
	struct alert_engine *e = engine(p);

	feed_quiet(e, ev("alice", 0), 1);
	feed_quiet(e, ev("alice", S(5)), 1);
	/* the read at 0 is exactly 10 s old: out of the window */
	feed_quiet(e, ev("alice", S(10)), 1);
	ck_assert_int_eq(feed(e, ev("alice", S(10) + 1)), 1);
	ck_assert_uint_eq(hits[0].count, 3);
	ck_assert_uint_eq(hits[0].response, POL_RESPONSE_RECORD);
	/* spread out, nothing ever fires */
	for (int i = 0; i < 50; i++)
		feed_quiet(e, ev("bob", S(5) * i), 1);
	alert_free(e);
	policy_free(p);
}
END_TEST

START_TEST(test_clients)
{
	static const char *const names[] = { "a", "a", "b", "a", "b", "b" };
	struct policy *p = pol("[alert wide]\nkind = clients\nthreshold = 2\n"
	                       "window = 60s\nresponse = record\n");
	struct alert_engine *e = engine(p);
	struct alert_input in;

	for (size_t i = 0; i < NELEM(names); i++) {
		in = ev("alice", S(i));
		in.client = names[i];
		in.is_read = i % 2;
		feed_quiet(e, in, 1);
	}
	/* a denied access and an event of no client do not count */
	in = ev("alice", S(10));
	in.client = "denied-one";
	in.denied = 1;
	feed_quiet(e, in, 1);
	in = ev("alice", S(10));
	in.client = NULL;
	in.path = NULL;
	feed_quiet(e, in, 1);
	in = ev("alice", S(11));
	in.client = "c";
	ck_assert_int_eq(feed(e, in), 1);
	ck_assert_uint_eq(hits[0].count, 3);
	ck_assert_str_eq(hits[0].client, "c");

	/* a and b at 0 and 1 s: at 61 s both have left (b exactly) */
	for (int i = 0; i < 2; i++) {
		in = ev("bob", S(i));
		in.client = i == 0 ? "a" : "b";
		feed_quiet(e, in, 1);
	}
	in = ev("bob", S(61));
	in.client = "c";
	feed_quiet(e, in, 1);
	in.client = "d";
	feed_quiet(e, in, 1);
	in.client = "a";
	ck_assert_int_eq(feed(e, in), 1);

	/* only threshold + 1 clients are kept: the oldest is dropped, and
	 * the count stays exact as they leave the window */
	for (int i = 0; i < 10; i++) {
		char name[16];

		snprintf(name, sizeof(name), "k%d", i);
		in = ev("carol", S(i));
		in.client = name;
		ck_assert_int_eq(feed(e, in), i == 2);
	}
	/* k7, k8, k9 are kept; at 67.5 s k7 has left: two, no fire;
	 * quiet ended at 62 s */
	in = ev("carol", S(67) + 500000);
	in.client = "k9";
	feed_quiet(e, in, 1);
	in.client = "new";
	ck_assert_int_eq(feed(e, in), 1);
	alert_free(e);
	policy_free(p);
}
END_TEST

START_TEST(test_roles_filter)
{
	struct policy *p = pol("[alert audit-only]\nkind = denials\n"
	                       "threshold = 1\nwindow = 1h\n"
	                       "response = record\nroles = audit\n"
	                       "[alert everyone]\nkind = denials\n"
	                       "threshold = 2\nwindow = 1h\n"
	                       "response = record\n");
	struct alert_engine *e = engine(p);
	struct policy_who *w;
	struct alert_input in;

	/* staff is watched by everyone only */
	in = ev("alice", 0);
	in.denied = 1;
	feed_quiet(e, in, 2);
	ck_assert_int_eq(feed(e, in), 1);
	ck_assert_str_eq(hits[0].rule, "everyone");
	/* bin by name, x by group adm: both rules */
	in = ev("bin", 0);
	in.denied = 1;
	in.groups = NULL;
	in.ngroups = 0;
	feed_quiet(e, in, 1);
	ck_assert_int_eq(feed(e, in), 1);
	ck_assert_str_eq(hits[0].rule, "audit-only");
	ck_assert_int_eq(feed(e, in), 1);
	ck_assert_str_eq(hits[0].rule, "everyone");
	/* with memberships worked out once */
	ck_assert_int_eq(policy_who_new(p, "x", ADM, 1, &w), 0);
	in = ev("x", 0);
	in.denied = 1;
	in.groups = NULL;
	in.ngroups = 0;
	in.who = w;
	feed_quiet(e, in, 1);
	ck_assert_int_eq(feed(e, in), 1);
	ck_assert_str_eq(hits[0].rule, "audit-only");
	policy_who_free(w);
	/* a uid without a name: only rules that watch everyone */
	in = ev(NULL, 0);
	in.uid = 4242;
	in.denied = 1;
	feed_quiet(e, in, 2);
	ck_assert_int_eq(feed(e, in), 1);
	ck_assert_str_eq(hits[0].rule, "everyone");
	ck_assert_ptr_null(hits[0].user);
	ck_assert_uint_eq(hits[0].uid, 4242);
	alert_free(e);
	policy_free(p);
}
END_TEST

START_TEST(test_off_hours)
{
	struct policy *p = pol("[alert night]\nkind = off-hours\n"
	                       "days = mon-fri\nhours = 07:00-20:00\n"
	                       "response = record\n"
	                       "[alert weekend-burst]\nkind = off-hours\n"
	                       "days = mon-fri\nhours = all\n"
	                       "threshold = 2\nwindow = 10m\n"
	                       "response = record\n");
	struct alert_engine *e = engine(p);
	struct tm t;
	struct alert_input in;

	/* inside: nothing, however many */
	in = ev("alice", 0);
	t = (struct tm){ .tm_wday = 1, .tm_hour = 7 };
	in.local = &t;
	feed_quiet(e, in, 5);
	t = (struct tm){ .tm_wday = 5, .tm_hour = 19, .tm_min = 59 };
	feed_quiet(e, in, 5);
	/* 20:00 is out: the first one fires, for an hour once */
	t = (struct tm){ .tm_wday = 5, .tm_hour = 20 };
	ck_assert_int_eq(feed(e, in), 1);
	ck_assert_str_eq(hits[0].rule, "night");
	ck_assert_int_eq(hits[0].kind, POL_ALERT_OFF_HOURS);
	ck_assert_uint_eq(hits[0].count, 1);
	ck_assert_uint_eq(hits[0].threshold, 0);
	ck_assert_uint_eq(hits[0].window_s, 3600);
	in.time_us = T0 + S(1800);
	feed_quiet(e, in, 3);
	in.time_us = T0 + S(3600) - 1;
	feed_quiet(e, in, 1);
	in.time_us = T0 + S(3600);
	ck_assert_int_eq(feed(e, in), 1);
	/* a denied attempt off hours counts too */
	in = ev("bob", 0);
	in.denied = 1;
	t = (struct tm){ .tm_wday = 3, .tm_hour = 6, .tm_min = 59 };
	in.local = &t;
	ck_assert_int_eq(feed(e, in), 1);
	/* saturday: both rules; the second needs three within 10 minutes */
	t = (struct tm){ .tm_wday = 6, .tm_hour = 12 };
	in = ev("carol", 0);
	in.local = &t;
	ck_assert_int_eq(feed(e, in), 1);
	in.time_us = T0 + S(300);
	feed_quiet(e, in, 1);
	in.time_us = T0 + S(599);
	ck_assert_int_eq(feed(e, in), 1);
	ck_assert_str_eq(hits[0].rule, "weekend-burst");
	ck_assert_uint_eq(hits[0].window_s, 600);
	/* a bad local time */
	t.tm_hour = 24;
	ck_assert_int_eq(feed(e, in), -EINVAL);
	alert_free(e);
	policy_free(p);
}
END_TEST

START_TEST(test_denials)
{
	struct policy *p = pol("[alert probing]\nkind = denials\n"
	                       "threshold = 2\nwindow = 1m\n"
	                       "response = lockout\n");
	struct alert_engine *e = engine(p);
	struct alert_input in = ev("alice", 0);

	feed_quiet(e, in, 100);           /* allowed */
	in.denied = 1;
	in.is_read = 0;
	in.action = "unlink";
	feed_quiet(e, in, 2);
	in.time_us = T0 + S(59);
	ck_assert_int_eq(feed(e, in), 1);
	ck_assert_int_eq(hits[0].kind, POL_ALERT_DENIALS);
	ck_assert_uint_eq(hits[0].response, POL_RESPONSE_RECORD |
	                  POL_RESPONSE_LOCKOUT);
	ck_assert_str_eq(hits[0].action, "unlink");
	alert_free(e);
	policy_free(p);
}
END_TEST

START_TEST(test_mass_change)
{
	struct policy *p = pol("[alert wipe]\nkind = mass-change\n"
	                       "threshold = 2\nwindow = 1m\n"
	                       "response = notify, lockout\n");
	struct alert_engine *e = engine(p);
	struct alert_input in = ev("alice", 0);

	feed_quiet(e, in, 10);            /* reads */
	in.is_read = 0;
	in.is_delete = 1;
	in.denied = 1;
	feed_quiet(e, in, 10);            /* refused deletions */
	in.denied = 0;
	in.action = "unlink";
	feed_quiet(e, in, 1);
	in.is_delete = 0;
	in.is_rename = 1;
	in.action = "rename";
	feed_quiet(e, in, 1);
	in.is_delete = 1;
	in.is_rename = 0;
	in.action = "destroy";
	ck_assert_int_eq(feed(e, in), 1);
	ck_assert_int_eq(hits[0].kind, POL_ALERT_MASS_CHANGE);
	ck_assert_uint_eq(hits[0].count, 3);
	alert_free(e);
	policy_free(p);
}
END_TEST

START_TEST(test_sensitive)
{
	struct policy *p = pol("[alert ids]\nkind = sensitive\n"
	                       "files = id-scan*, ID\nthreshold = 1\n"
	                       "window = 1h\nresponse = notify\n");
	struct alert_engine *e = engine(p);
	struct alert_input in = ev("alice", 0);

	in.path = "notes.txt";
	feed_quiet(e, in, 5);
	in.path = "IDs/x.jpg";
	feed_quiet(e, in, 5);
	in.path = "";
	feed_quiet(e, in, 5);
	in.path = "ID/passport.jpg";
	in.is_read = 0;                   /* opened for writing */
	feed_quiet(e, in, 5);
	in.is_read = 1;
	in.denied = 1;
	feed_quiet(e, in, 5);
	in.denied = 0;
	in.client = NULL;
	feed_quiet(e, in, 5);
	in.client = "acme";
	feed_quiet(e, in, 1);
	in.path = "2024/id-scan-back.png";
	ck_assert_int_eq(feed(e, in), 1);
	ck_assert_int_eq(hits[0].kind, POL_ALERT_SENSITIVE);
	ck_assert_uint_eq(hits[0].count, 2);
	alert_free(e);
	policy_free(p);
}
END_TEST

/* After firing: quiet for one window, then armed again. */
START_TEST(test_quiet_and_rearm)
{
	struct policy *p = pol("[alert q]\nkind = reads\nthreshold = 1\n"
	                       "window = 10s\nresponse = record\n");
	struct alert_engine *e = engine(p);

	feed_quiet(e, ev("alice", 0), 1);
	ck_assert_int_eq(feed(e, ev("alice", S(1))), 1);
	/* a burst: quiet until 11 s */
	for (int i = 2; i <= 10; i++)
		feed_quiet(e, ev("alice", S(i)), 3);
	feed_quiet(e, ev("alice", S(11) - 1), 1);
	ck_assert_int_eq(feed(e, ev("alice", S(11))), 1);
	/* the burst ends; later one read alone does not fire, two do */
	feed_quiet(e, ev("alice", S(40)), 1);
	ck_assert_int_eq(feed(e, ev("alice", S(45))), 1);
	alert_free(e);
	policy_free(p);
}
END_TEST

/* Several rules on one event, and max holding some back. */
START_TEST(test_several_rules)
{
	struct policy *p = pol("[alert a]\nkind = reads\nthreshold = 0\n"
	                       "window = 1m\nresponse = record\n"
	                       "[alert b]\nkind = clients\nthreshold = 0\n"
	                       "window = 1m\nresponse = notify\n"
	                       "[alert c]\nkind = denials\nthreshold = 0\n"
	                       "window = 1m\nresponse = record\n");
	struct alert_engine *e = engine(p);
	struct alert_input in = ev("alice", 0);
	struct alert_hit one;

	ck_assert_int_eq(feed(e, in), 2);
	ck_assert_str_eq(hits[0].rule, "a");
	ck_assert_str_eq(hits[1].rule, "b");
	/* one slot: a fires, b waits for the next event */
	in = ev("bob", 0);
	ck_assert_int_eq(alert_feed(e, &in, &one, 1), 1);
	ck_assert_str_eq(one.rule, "a");
	ck_assert_int_eq(alert_feed(e, &in, &one, 1), 1);
	ck_assert_str_eq(one.rule, "b");
	ck_assert_int_eq(alert_feed(e, &in, &one, 1), 0);
	in = ev("carol", 0);
	ck_assert_int_eq(alert_feed(e, &in, NULL, 0), 0);
	ck_assert_int_eq(feed(e, in), 2);
	alert_free(e);
	policy_free(p);
}
END_TEST

START_TEST(test_no_alerts)
{
	struct policy *p = pol("# none\n");
	struct alert_engine *e = engine(p);

	feed_quiet(e, ev("alice", 0), 10);
	ck_assert_uint_eq(alert_nusers(e), 0);
	alert_free(e);
	alert_free(NULL);
	policy_free(p);
}
END_TEST

/* ---- limits ------------------------------------------------------------ */

START_TEST(test_idle_users_forgotten)
{
	struct policy *p = pol("[alert r]\nkind = reads\nthreshold = 5\n"
	                       "window = 10s\nresponse = record\n"
	                       "[alert d]\nkind = denials\nthreshold = 5\n"
	                       "window = 30s\nresponse = record\n");
	struct alert_engine *e = engine(p);
	struct alert_input in;
	char name[32];

	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		feed_quiet(e, ev(name, S(1)), 3);
	}
	ck_assert_uint_eq(alert_nusers(e), 100);
	/* an event that no rule counts keeps no state */
	in = ev("writer", S(2));
	in.is_read = 0;
	feed_quiet(e, in, 1);
	ck_assert_uint_eq(alert_nusers(e), 100);
	/* a minute past the longest window, the sweep drops them all */
	feed_quiet(e, ev("late", S(100)), 1);
	ck_assert_uint_eq(alert_nusers(e), 1);
	/* forgetting changes nothing: user0 starts again from zero */
	feed_quiet(e, ev("user0", S(100)), 5);
	ck_assert_int_eq(feed(e, ev("user0", S(100))), 1);
	alert_free(e);
	policy_free(p);
}
END_TEST

START_TEST(test_users_bounded)
{
	struct policy *p = pol("[alert r]\nkind = reads\nthreshold = 1\n"
	                       "window = 1h\nresponse = record\n");
	struct alert_engine *e = engine(p);
	char name[32];

	feed_quiet(e, ev("first", 0), 1);
	for (unsigned i = 1; i < ALERT_USERS_MAX + 10; i++) {
		snprintf(name, sizeof(name), "u%u", i);
		feed_quiet(e, ev(name, S(1)), 1);
	}
	ck_assert_uint_eq(alert_nusers(e), ALERT_USERS_MAX);
	/* "first", the stalest, was dropped: its count starts again */
	feed_quiet(e, ev("first", S(2)), 1);
	ck_assert_uint_eq(alert_nusers(e), ALERT_USERS_MAX);
	ck_assert_int_eq(feed(e, ev("first", S(3))), 1);
	alert_free(e);
	policy_free(p);
}
END_TEST

START_TEST(test_time_order)
{
	struct policy *p = pol("[alert r]\nkind = reads\nthreshold = 2\n"
	                       "window = 10s\nresponse = record\n");
	struct alert_engine *e = engine(p);

	/* a little out of order: counted at the newest time */
	feed_quiet(e, ev("alice", S(100)), 1);
	feed_quiet(e, ev("alice", S(100) - 500000), 1);
	ck_assert_int_eq(feed(e, ev("alice", S(100) - 1000)), 1);
	/* the clock set back by a minute: counts and quiet forgotten */
	feed_quiet(e, ev("alice", S(40)), 2);
	ck_assert_int_eq(feed(e, ev("alice", S(41))), 1);
	alert_free(e);
	policy_free(p);
}
END_TEST

START_TEST(test_bad_input)
{
	struct policy *p = pol("[alert r]\nkind = reads\nthreshold = 2\n"
	                       "window = 10s\nresponse = record\n");
	struct policy *q = pol("[alert r]\nkind = reads\nthreshold = 2\n"
	                       "window = 10s\nresponse = record\n");
	struct alert_engine *e = engine(p);
	struct policy_who *w;
	struct alert_input in = ev("alice", 0);

	ck_assert_int_eq(alert_new(NULL, &e), -EINVAL);
	in.local = NULL;
	ck_assert_int_eq(feed(e, in), -EINVAL);
	in = ev("alice", 0);
	in.time_us = -1;
	ck_assert_int_eq(feed(e, in), -EINVAL);
	in = ev("alice", 0);
	in.groups = NULL;
	ck_assert_int_eq(feed(e, in), -EINVAL);
	in = ev("alice", 0);
	ck_assert_int_eq(alert_feed(e, &in, NULL, 1), -EINVAL);
	ck_assert_int_eq(alert_feed(e, NULL, hits, 1), -EINVAL);
	ck_assert_int_eq(policy_who_new(q, "alice", STAFF, 1, &w), 0);
	in.who = w;
	ck_assert_int_eq(feed(e, in), -EINVAL);
	policy_who_free(w);
	ck_assert_uint_eq(alert_nusers(e), 0);
	alert_free(e);
	policy_free(q);
	policy_free(p);
}
END_TEST

struct worker {
	struct alert_engine *e;
	int id;
	int fired;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct alert_hit h[4];
	char name[32];

	for (int i = 0; i < 2000; i++) {
		struct alert_input in = ev("shared", S(1) + i * 10 + w->id);
		int n;

		if ((n = alert_feed(w->e, &in, h, NELEM(h))) > 0)
			w->fired += n;
		snprintf(name, sizeof(name), "own%d", w->id);
		in = ev(name, S(1) + i);
		if ((n = alert_feed(w->e, &in, h, NELEM(h))) > 0)
			w->fired += n;
	}
	return NULL;
}

/* Eight threads on one engine: one user they share, one each. */
START_TEST(test_threads)
{
	struct policy *p = pol("[alert r]\nkind = reads\nthreshold = 999\n"
	                       "window = 1h\nresponse = record\n");
	struct alert_engine *e = engine(p);
	struct worker w[8];
	pthread_t t[8];
	int fired = 0;

	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){ .e = e, .id = i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		fired += w[i].fired;
	}
	/* shared: 16,000 reads, one alert (then quiet for an hour); each
	 * own user: 2,000 reads, one alert */
	ck_assert_int_eq(fired, 1 + 8);
	ck_assert_uint_eq(alert_nusers(e), 9);
	alert_free(e);
	policy_free(p);
}
END_TEST

/* ---- text -------------------------------------------------------------- */

static int64_t utc_us(int y, int mon, int d, int h, int m, int s, long us)
{
	struct tm t = { .tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d,
	                .tm_hour = h, .tm_min = m, .tm_sec = s };

	return (int64_t)timegm(&t) * 1000000 + us;
}

START_TEST(test_json)
{
	struct alert_hit h = {
		.rule = "bulk-reads", .kind = POL_ALERT_READS,
		.response = POL_RESPONSE_RECORD | POL_RESPONSE_NOTIFY,
		.count = 201, .threshold = 200, .window_s = 600,
		.user = "alice", .uid = 1001, .client = "acme-holdings",
		.time_us = utc_us(2026, 11, 29, 23, 34, 6, 266310),
	};
	static const char want[] =
		"{\"rule\":\"bulk-reads\",\"kind\":\"reads\","
		"\"class\":\"exfiltration\",\"user\":\"alice\",\"uid\":1001,"
		"\"client\":\"acme-holdings\",\"count\":201,"
		"\"threshold\":200,\"window_s\":600,\"response\":\"notify\","
		"\"time\":\"2026-11-29T23:34:06.266310Z\","
		"\"node\":\"head-office\"}";
	char buf[1024], small[10];

	ck_assert_uint_eq(alert_json(&h, "head-office", buf, sizeof(buf)),
	                  strlen(want));
	ck_assert_str_eq(buf, want);
	/* like snprintf: cut, terminated, the whole length returned */
	ck_assert_uint_eq(alert_json(&h, "head-office", small, sizeof(small)),
	                  strlen(want));
	ck_assert_str_eq(small, "{\"rule\":\"");
	ck_assert_uint_eq(alert_json(&h, "head-office", NULL, 0),
	                  strlen(want));

	/* escaping; NULLs; every kind's class; times before a second */
	h.rule = "r";
	h.kind = POL_ALERT_MASS_CHANGE;
	h.response = POL_RESPONSE_RECORD | POL_RESPONSE_NOTIFY |
	             POL_RESPONSE_LOCKOUT;
	h.user = "a\"b\\c\nd\te\x01" "f\x7f";
	h.client = "caf\xc3\xa9 \xff\xc0\xaf x \xe2\x82";
	h.uid = 4294967294u;
	h.count = 51;
	h.threshold = 50;
	h.window_s = 60;
	h.time_us = utc_us(1970, 1, 1, 0, 0, 0, 5);
	alert_json(&h, NULL, buf, sizeof(buf));
	ck_assert_str_eq(buf,
	    "{\"rule\":\"r\",\"kind\":\"mass-change\",\"class\":\"ransomware\","
	    "\"user\":\"a\\\"b\\\\c\\nd\\te\\u0001f\\u007f\","
	    "\"uid\":4294967294,"
	    "\"client\":\"caf\xc3\xa9 \\ufffd\\ufffd\\ufffd x "
	    "\\ufffd\\ufffd\",\"count\":51,\"threshold\":50,\"window_s\":60,"
	    "\"response\":\"notify,lockout\","
	    "\"time\":\"1970-01-01T00:00:00.000005Z\",\"node\":null}");
	h.user = NULL;
	h.client = NULL;
	h.kind = POL_ALERT_OFF_HOURS;
	h.response = POL_RESPONSE_RECORD;
	alert_json(&h, "n1", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "\"kind\":\"off-hours\","
	              "\"class\":\"abnormal\",\"user\":null,") != NULL,
	              "%s", buf);
	ck_assert_msg(strstr(buf, "\"client\":null,") != NULL, "%s", buf);
	ck_assert_msg(strstr(buf, "\"response\":\"record\",") != NULL, "%s",
	              buf);

	ck_assert_str_eq(alert_class(POL_ALERT_READS), "exfiltration");
	ck_assert_str_eq(alert_class(POL_ALERT_CLIENTS), "exfiltration");
	ck_assert_str_eq(alert_class(POL_ALERT_SENSITIVE), "exfiltration");
	ck_assert_str_eq(alert_class(POL_ALERT_OFF_HOURS), "abnormal");
	ck_assert_str_eq(alert_class(POL_ALERT_DENIALS), "abuse");
	ck_assert_str_eq(alert_class(POL_ALERT_MASS_CHANGE), "ransomware");
	ck_assert_ptr_null(alert_class(0));
}
END_TEST

START_TEST(test_detail)
{
	struct alert_hit h = {
		.rule = "bulk-reads", .kind = POL_ALERT_READS,
		.response = POL_RESPONSE_RECORD | POL_RESPONSE_NOTIFY,
		.count = 201, .threshold = 200, .window_s = 600,
	};
	char buf[256], small[8];
	size_t n;

	n = alert_detail(&h, buf, sizeof(buf));
	ck_assert_str_eq(buf, "kind=reads; class=exfiltration; count=201; "
	                 "threshold=200; window=600s; response=notify");
	ck_assert_uint_eq(n, strlen(buf));
	ck_assert_uint_eq(alert_detail(&h, small, sizeof(small)), n);
	ck_assert_str_eq(small, "kind=re");
	h.kind = POL_ALERT_DENIALS;
	h.response = POL_RESPONSE_RECORD | POL_RESPONSE_LOCKOUT;
	h.count = 11;
	h.threshold = 10;
	h.window_s = 300;
	alert_detail(&h, buf, sizeof(buf));
	ck_assert_str_eq(buf, "kind=denials; class=abuse; count=11; "
	                 "threshold=10; window=300s; response=lockout");
	h.kind = POL_ALERT_MASS_CHANGE;
	h.response |= POL_RESPONSE_NOTIFY;
	alert_detail(&h, buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "class=ransomware;") != NULL, "%s", buf);
	ck_assert_msg(strstr(buf, "; response=notify,lockout") != NULL, "%s",
	              buf);
	h.kind = POL_ALERT_OFF_HOURS;
	h.response = POL_RESPONSE_RECORD;
	h.count = 1;
	h.threshold = 0;
	h.window_s = 3600;
	alert_detail(&h, buf, sizeof(buf));
	ck_assert_str_eq(buf, "kind=off-hours; class=abnormal; count=1; "
	                 "threshold=0; window=3600s; response=record");
}
END_TEST

/* ---- the notify command ------------------------------------------------ */

/* Writes an executable shell script dir/name; its path into path. */
static void script(const char *name, const char *body, char *path)
{
	char text[2048];

	snprintf(text, sizeof(text), "#!/bin/sh\n%s\n", body);
	put_mode(name, text, strlen(text), 0755);
	path_of(name, path);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(test_notify_ok)
{
	static const char json[] = "{\"rule\":\"r\",\"user\":\"alice\"}";
	char cmd[PATH_MAX], body[PATH_MAX + 64], got[256], status[64];

	snprintf(body, sizeof(body), "cat > '%s/got'", dir);
	script("notify", body, cmd);
	ck_assert_int_eq(alert_notify_run(cmd, json, 5, status,
	                                  sizeof(status)), 0);
	ck_assert_str_eq(status, "exit 0");
	get("got", got, sizeof(got));
	ck_assert_str_eq(got, "{\"rule\":\"r\",\"user\":\"alice\"}\n");
	/* no status buffer is fine */
	ck_assert_int_eq(alert_notify_run(cmd, json, 5, NULL, 0), 0);
}
END_TEST

START_TEST(test_notify_fails)
{
	char cmd[PATH_MAX], status[128];

	script("three", "cat >/dev/null; exit 3", cmd);
	ck_assert_int_eq(alert_notify_run(cmd, "{}", 5, status,
	                                  sizeof(status)), -EIO);
	ck_assert_str_eq(status, "exit 3");
	script("killed", "kill -9 $$", cmd);
	ck_assert_int_eq(alert_notify_run(cmd, "{}", 5, status,
	                                  sizeof(status)), -EIO);
	ck_assert_str_eq(status, "killed by signal 9");
	path_of("no-such-command", cmd);
	ck_assert_int_eq(alert_notify_run(cmd, "{}", 5, status,
	                                  sizeof(status)), -ENOENT);
	ck_assert_str_eq(status, "cannot run: No such file or directory");
	put("not-executable", "#!/bin/sh\nexit 0\n");
	path_of("not-executable", cmd);
	ck_assert_int_eq(alert_notify_run(cmd, "{}", 5, status,
	                                  sizeof(status)), -EACCES);
	ck_assert_str_eq(status, "cannot run: Permission denied");
	ck_assert_int_eq(alert_notify_run("true", "{}", 5, status,
	                                  sizeof(status)), -EINVAL);
	ck_assert_int_eq(alert_notify_run("/bin/true", NULL, 5, status,
	                                  sizeof(status)), -EINVAL);
	ck_assert_int_eq(alert_notify_run("/bin/true", "{}", 0, status,
	                                  sizeof(status)), -EINVAL);
	ck_assert_int_eq(alert_notify_run(NULL, "{}", 1, status,
	                                  sizeof(status)), -EINVAL);
	/* a short status buffer is cut, not overrun */
	script("seven", "exit 7", cmd);
	ck_assert_int_eq(alert_notify_run(cmd, "{}", 5, status, 5), -EIO);
	ck_assert_str_eq(status, "exit");
}
END_TEST

/* Reaps the orphans this test process (a subreaper) adopted, for up to
 * two seconds, until the process group pgid is empty; 1 if it is. */
static int group_gone(pid_t pgid)
{
	for (int i = 0; i < 200; i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (kill(-pgid, 0) != 0 && errno == ESRCH)
			return 1;
		usleep(10000);
	}
	return 0;
}

START_TEST(test_notify_timeout)
{
	char cmd[PATH_MAX], body[PATH_MAX + 256], got[64], status[64];
	long pid = 0, pgid = 0;
	double t;

	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	/* the script and its sleep, a process of its own in its group */
	snprintf(body, sizeof(body), "echo \"$$ $(cut -d' ' -f5 "
	         "/proc/$$/stat)\" > '%s/pid'\nsleep 1000\nexit 0", dir);
	script("sleeper", body, cmd);
	t = now_s();
	ck_assert_int_eq(alert_notify_run(cmd, "{}", 1, status,
	                                  sizeof(status)), -ETIMEDOUT);
	t = now_s() - t;
	ck_assert_msg(t >= 0.9 && t < 2.0, "took %.2f s", t);
	ck_assert_str_eq(status, "timed out after 1 s, killed");
	get("pid", got, sizeof(got));
	ck_assert_int_eq(sscanf(got, "%ld %ld", &pid, &pgid), 2);
	ck_assert_int_eq(pid, pgid);
	ck_assert_int_ne(pgid, getpgrp());
	ck_assert_msg(group_gone((pid_t)pgid), "processes of group %ld left",
	              pgid);
}
END_TEST

/* A command that never reads its input cannot hold the caller up, even
 * with more than a pipe holds; one that closes it early raises no
 * SIGPIPE here. */
START_TEST(test_notify_unread)
{
	size_t big = 1u << 20;
	char *json = malloc(big + 1);
	char cmd[PATH_MAX], status[64];
	double t;

	ck_assert_ptr_nonnull(json);
	memset(json, 'x', big);
	json[big] = '\0';
	signal(SIGPIPE, SIG_DFL);
	script("lazy", "sleep 0.3", cmd);
	t = now_s();
	ck_assert_int_eq(alert_notify_run(cmd, json, 5, status,
	                                  sizeof(status)), 0);
	ck_assert_msg(now_s() - t < 3.0, "took %.2f s", now_s() - t);
	script("closer", "exec 0<&-\nsleep 0.2", cmd);
	ck_assert_int_eq(alert_notify_run(cmd, json, 5, status,
	                                  sizeof(status)), 0);
	ck_assert_str_eq(status, "exit 0");
	script("stuck", "exec sleep 1000", cmd);
	t = now_s();
	ck_assert_int_eq(alert_notify_run(cmd, json, 1, status,
	                                  sizeof(status)), -ETIMEDOUT);
	ck_assert_msg(now_s() - t < 2.0, "took %.2f s", now_s() - t);
	free(json);
}
END_TEST

/* The command's environment is PATH alone; it gets no descriptor of the
 * caller's, /dev/null as output and / as its directory. */
START_TEST(test_notify_env)
{
	char cmd[PATH_MAX], body[1024], got[1024], status[64];
	char leak[PATH_MAX];
	int fd;

	ck_assert_int_eq(setenv("DOSSIER_SECRET_TEST", "hunter2", 1), 0);
	path_of("leak", leak);
	fd = open(leak, O_WRONLY | O_CREAT, 0600);   /* no O_CLOEXEC */
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, 57), 57);
	close(fd);
	/* Read before any redirection of the shell's own. */
	snprintf(body, sizeof(body),
	         "o1=$(readlink /proc/$$/fd/1)\n"
	         "o2=$(readlink /proc/$$/fd/2)\n"
	         "cwd=$(readlink /proc/$$/cwd)\n"
	         "if [ -e /proc/$$/fd/57 ]; then fd=leaked; "
	         "else fd=closed; fi\n"
	         "tr '\\0' '\\n' < /proc/$$/environ > '%s/env'\n"
	         "printf '%%s\\n' $fd $o1 $o2 $cwd > '%s/fd'", dir, dir);
	script("env", body, cmd);
	ck_assert_int_eq(alert_notify_run(cmd, "{}", 5, status,
	                                  sizeof(status)), 0);
	get("env", got, sizeof(got));
	ck_assert_str_eq(got, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n");
	get("fd", got, sizeof(got));
	ck_assert_str_eq(got, "closed\n/dev/null\n/dev/null\n/\n");
	close(57);
}
END_TEST

/* ---- the lockout store ------------------------------------------------- */

static int open_dir(void)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	return fd;
}

START_TEST(test_lockout)
{
	struct lockout *lk, *again;
	struct lockout_entry le[4];
	char got[512], path[PATH_MAX];
	struct stat st;
	int dfd = open_dir();

	ck_assert_int_eq(lockout_open(dfd, &lk), 0);
	ck_assert_int_eq(lockout_is_locked(lk, "alice"), 0);
	ck_assert_uint_eq(lockout_list(lk, le, NELEM(le)), 0);
	ck_assert_int_eq(lockout_lock(lk, "alice", "probing", 123), 0);
	ck_assert_int_eq(lockout_is_locked(lk, "alice"), 1);
	ck_assert_int_eq(lockout_is_locked(lk, "alic"), 0);
	ck_assert_int_eq(lockout_is_locked(lk, NULL), 0);
	/* again: the first lock is kept */
	ck_assert_int_eq(lockout_lock(lk, "alice", "wipe", 456), 1);
	ck_assert_int_eq(lockout_lock(lk, "bob", "mass-change",
	                              T0 + 266310), 0);
	get(LOCKOUT_FILE, got, sizeof(got));
	ck_assert_str_eq(got, "alice\tprobing\t123\n"
	                 "bob\tmass-change\t1795000000266310\n");
	path_of(LOCKOUT_FILE, path);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert(!exists(LOCKOUT_FILE ".tmp"));

	/* read back from the file */
	ck_assert_int_eq(lockout_open(dfd, &again), 0);
	ck_assert_int_eq(lockout_is_locked(again, "alice"), 1);
	ck_assert_int_eq(lockout_is_locked(again, "bob"), 1);
	ck_assert_int_eq(lockout_find(again, "alice", &le[0]), 0);
	ck_assert_str_eq(le[0].rule, "probing");
	ck_assert_int_eq(le[0].time_us, 123);
	ck_assert_int_eq(lockout_find(again, "carol", &le[0]), -ENOENT);
	ck_assert_uint_eq(lockout_list(again, le, 1), 2);
	ck_assert_str_eq(le[0].user, "alice");
	lockout_free(again);

	/* unlock */
	ck_assert_int_eq(lockout_unlock(lk, "alice"), 0);
	ck_assert_int_eq(lockout_is_locked(lk, "alice"), 0);
	ck_assert_int_eq(lockout_unlock(lk, "alice"), -ENOENT);
	get(LOCKOUT_FILE, got, sizeof(got));
	ck_assert_str_eq(got, "bob\tmass-change\t1795000000266310\n");
	ck_assert_int_eq(lockout_unlock(lk, "bob"), 0);
	get(LOCKOUT_FILE, got, sizeof(got));
	ck_assert_str_eq(got, "");
	ck_assert_int_eq(lockout_open(dfd, &again), 0);
	ck_assert_uint_eq(lockout_list(again, le, NELEM(le)), 0);
	lockout_free(again);

	/* names it cannot store */
	ck_assert_int_eq(lockout_lock(lk, "a\tb", "r", 1), -EINVAL);
	ck_assert_int_eq(lockout_lock(lk, "a\nb", "r", 1), -EINVAL);
	ck_assert_int_eq(lockout_lock(lk, "", "r", 1), -EINVAL);
	ck_assert_int_eq(lockout_lock(lk, "a", "", 1), -EINVAL);
	ck_assert_int_eq(lockout_lock(lk, "a", "r", -1), -EINVAL);
	memset(got, 'a', 256);
	got[256] = '\0';
	ck_assert_int_eq(lockout_lock(lk, got, "r", 1), -EINVAL);
	got[255] = '\0';
	ck_assert_int_eq(lockout_lock(lk, got, "r", 1), 0);
	ck_assert_int_eq(lockout_is_locked(lk, got), 1);
	lockout_free(lk);
	lockout_free(NULL);
	ck_assert_int_eq(lockout_is_locked(NULL, "alice"), -EINVAL);
	ck_assert_int_eq(lockout_open(-1, &lk), -EINVAL);
	close(dfd);
}
END_TEST

/* Two stores on one file (the daemon and the admin tool): a change
 * keeps the other's changes; refresh picks them up. */
START_TEST(test_lockout_two_stores)
{
	struct lockout *a, *b;
	char got[256];
	int dfd = open_dir();

	ck_assert_int_eq(lockout_open(dfd, &a), 0);
	ck_assert_int_eq(lockout_open(dfd, &b), 0);
	ck_assert_int_eq(lockout_lock(a, "alice", "r1", 1), 0);
	ck_assert_int_eq(lockout_lock(b, "bob", "r2", 2), 0);
	ck_assert_int_eq(lockout_is_locked(b, "alice"), 1);
	get(LOCKOUT_FILE, got, sizeof(got));
	ck_assert_str_eq(got, "alice\tr1\t1\nbob\tr2\t2\n");
	ck_assert_int_eq(lockout_is_locked(a, "bob"), 0);
	ck_assert_int_eq(lockout_refresh(a), 0);
	ck_assert_int_eq(lockout_is_locked(a, "bob"), 1);
	ck_assert_int_eq(lockout_unlock(b, "alice"), 0);
	ck_assert_int_eq(lockout_is_locked(a, "alice"), 1);
	ck_assert_int_eq(lockout_refresh(a), 0);
	ck_assert_int_eq(lockout_is_locked(a, "alice"), 0);
	ck_assert_int_eq(lockout_refresh(a), 0);
	/* an unlock of what the other store locked meanwhile */
	ck_assert_int_eq(lockout_lock(b, "carol", "r3", 3), 0);
	ck_assert_int_eq(lockout_unlock(a, "carol"), 0);
	ck_assert_int_eq(lockout_refresh(b), 0);
	ck_assert_int_eq(lockout_is_locked(b, "carol"), 0);
	lockout_free(a);
	lockout_free(b);
	close(dfd);
}
END_TEST

START_TEST(test_lockout_damaged)
{
	static const char *const bad[] = {
		"alice\tr\n",                  /* a field short */
		"alice\tr\t12x\n",             /* a bad time */
		"alice\tr\t-1\n",
		"alice\tr\t\n",
		"alice\tr\t9223372036854775808\n",
		"alice\tr\t1",                 /* cut short */
		"alice\tr\t1\nalice\tq\t2\n",  /* a user twice */
		"\tr\t1\n",
		"alice\t\t1\n",
		"alice\tr\t1\t2\n",            /* a field too many */
		"alice\tr\t1\n\n",             /* a blank line */
		"al\x01ice\tr\t1\n",
		"alice\tr\t1\r\n",
	};
	struct lockout *lk = NULL, *keep;
	char got[256], path[PATH_MAX];
	int dfd = open_dir();

	for (size_t i = 0; i < NELEM(bad); i++) {
		put_mode(LOCKOUT_FILE, bad[i], strlen(bad[i]), 0600);
		ck_assert_msg(lockout_open(dfd, &lk) == -EBADMSG,
		              "case %zu opened", i);
		ck_assert_ptr_null(lk);
	}
	put_mode(LOCKOUT_FILE, "a\x00" "b\tr\t1\n", 8, 0600);
	ck_assert_int_eq(lockout_open(dfd, &lk), -EBADMSG);
	/* unsafe: writable by group or others */
	put_mode(LOCKOUT_FILE, "alice\tr\t1\n", 10, 0620);
	ck_assert_int_eq(lockout_open(dfd, &lk), -EPERM);
	/* another owner (only root can make one) */
	put_mode(LOCKOUT_FILE, "alice\tr\t1\n", 10, 0600);
	path_of(LOCKOUT_FILE, path);
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(path, 1, 1), 0);
		ck_assert_int_eq(lockout_open(dfd, &lk), -EPERM);
	}
	/* a symbolic link, a directory */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(symlink("/etc/hostname", path), 0);
	ck_assert_int_eq(lockout_open(dfd, &lk), -ELOOP);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(lockout_open(dfd, &lk), -EBADMSG);
	ck_assert_int_eq(rmdir(path), 0);

	/* damage under an open store: refresh and changes refuse it, the
	 * list in memory and the file stay */
	put_mode(LOCKOUT_FILE, "alice\tr\t1\n", 10, 0600);
	ck_assert_int_eq(lockout_open(dfd, &keep), 0);
	put_mode(LOCKOUT_FILE, "alice\tr\t1\nbob\n", 14, 0600);
	ck_assert_int_eq(lockout_refresh(keep), -EBADMSG);
	ck_assert_int_eq(lockout_is_locked(keep, "alice"), 1);
	ck_assert_int_eq(lockout_lock(keep, "carol", "r", 1), -EBADMSG);
	ck_assert_int_eq(lockout_unlock(keep, "alice"), -EBADMSG);
	ck_assert_int_eq(lockout_is_locked(keep, "alice"), 1);
	get(LOCKOUT_FILE, got, sizeof(got));
	ck_assert_str_eq(got, "alice\tr\t1\nbob\n");
	/* repaired, it is read again */
	put_mode(LOCKOUT_FILE, "dave\tr\t1\n", 9, 0600);
	ck_assert_int_eq(lockout_refresh(keep), 0);
	ck_assert_int_eq(lockout_is_locked(keep, "alice"), 0);
	ck_assert_int_eq(lockout_is_locked(keep, "dave"), 1);
	/* removed: nobody is locked */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(lockout_refresh(keep), 0);
	ck_assert_int_eq(lockout_is_locked(keep, "dave"), 0);
	lockout_free(keep);
	close(dfd);
}
END_TEST

/* ---- suite ------------------------------------------------------------- */

static Suite *alert_suite(void)
{
	Suite *s = suite_create("alert");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *text = tcase_create("text");
	TCase *notify = tcase_create("notify");
	TCase *lockout = tcase_create("lockout");

	tcase_add_unchecked_fixture(core, make_base, remove_base);
	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, test_reads);
	tcase_add_test(core, test_window);
	tcase_add_test(core, test_clients);
	tcase_add_test(core, test_roles_filter);
	tcase_add_test(core, test_off_hours);
	tcase_add_test(core, test_denials);
	tcase_add_test(core, test_mass_change);
	tcase_add_test(core, test_sensitive);
	tcase_add_test(core, test_quiet_and_rearm);
	tcase_add_test(core, test_several_rules);
	tcase_add_test(core, test_no_alerts);
	suite_add_tcase(s, core);

	tcase_add_unchecked_fixture(limits, make_base, remove_base);
	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_set_timeout(limits, 60);
	tcase_add_test(limits, test_idle_users_forgotten);
	tcase_add_test(limits, test_users_bounded);
	tcase_add_test(limits, test_time_order);
	tcase_add_test(limits, test_bad_input);
	tcase_add_test(limits, test_threads);
	suite_add_tcase(s, limits);

	tcase_add_test(text, test_json);
	tcase_add_test(text, test_detail);
	suite_add_tcase(s, text);

	tcase_add_unchecked_fixture(notify, make_base, remove_base);
	tcase_add_checked_fixture(notify, setup, teardown);
	tcase_set_timeout(notify, 30);
	tcase_add_test(notify, test_notify_ok);
	tcase_add_test(notify, test_notify_fails);
	tcase_add_test(notify, test_notify_timeout);
	tcase_add_test(notify, test_notify_unread);
	tcase_add_test(notify, test_notify_env);
	suite_add_tcase(s, notify);

	tcase_add_unchecked_fixture(lockout, make_base, remove_base);
	tcase_add_checked_fixture(lockout, setup, teardown);
	tcase_add_test(lockout, test_lockout);
	tcase_add_test(lockout, test_lockout_two_stores);
	tcase_add_test(lockout, test_lockout_damaged);
	suite_add_tcase(s, lockout);
	return s;
}

CHECK_MAIN(alert_suite)
