/*
 * Unit tests of the KPI report (include/report.h) over records made by
 * hand: every KPI of a small scripted day against counts worked out
 * here, what is and is not an access or an abuse, the 90-day window of
 * the grants at its boundary (and records before since counting for
 * the grants only), the choice and edges of the time buckets (local
 * midnight across a DST change), the order of the tables and the top 10
 * clients of the chart, each writer (CSV quoting and formula guard,
 * CRLF and four fields a row; HTML escaping, no script and no URL, the
 * bars of the three charts; text escapes of control characters), a bad
 * chain said in every format, many records over few keys, and errors.
 * Times are UTC (TZ is set) unless a test says otherwise.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "report.h"

#define S(x)   ((int64_t)(x) * INT64_C(1000000))
#define HOUR   S(3600)
#define DAY    S(86400)
#define T0     S(1717200000)       /* 2024-06-01 00:00:00 UTC */
#define NONE   (-1)

struct ev {
	int64_t t;
	const char *user, *roles, *action, *client;
	enum audit_outcome o;
	const char *rule, *detail;
	int64_t bytes;                /* NONE: no bytes */
};

static void use_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static void utc(void)
{
	use_tz("UTC");
}

static void feed(struct report *r, const struct ev *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct audit_row row = {
			.seq = i + 1, .time_us = e[i].t,
			.ev = {
				.user = e[i].user, .roles = e[i].roles,
				.action = e[i].action, .client = e[i].client,
				.path = e[i].client ? "f.pdf" : NULL,
				.outcome = e[i].o, .rule = e[i].rule,
				.detail = e[i].detail, .node = "n1",
				.has_bytes = e[i].bytes != NONE,
				.bytes = e[i].bytes == NONE ? 0
				         : (uint64_t)e[i].bytes,
			},
		};

		ck_assert_int_eq(report_add(r, &row), 0);
	}
}

/* Count idx of (key, key2) in table t, or UINT64_MAX if it is not there. */
static uint64_t n_of(const struct report *r, enum report_table t,
                     const char *key, const char *key2, int idx)
{
	struct report_entry e;

	for (size_t i = 0; report_entry(r, t, i, &e) == 0; i++)
		if (strcmp(e.key, key) == 0 &&
		    (key2 == NULL || (e.key2 && strcmp(e.key2, key2) == 0)))
			return e.n[idx];
	return UINT64_MAX;
}

/* The report written in format f, NUL-terminated (free it). */
static char *render(const struct report *r, enum report_format f,
                    int chain_ok)
{
	struct report_head h = {
		.vault = "/srv/vault", .policy = "0123456789abcdef",
		.generated_us = T0 + DAY, .chain_ok = chain_ok,
		.chain = chain_ok ? "12 records" : "seq 7: hash mismatch",
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(report_write(r, &h, f, m), 0);
	ck_assert_int_eq(fclose(m), 0);
	ck_assert_uint_eq(strlen(buf), len);
	return buf;
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* The number of <rect class="bar" in the svg of id in html. */
static size_t bars(const char *html, const char *id)
{
	char open[64];
	const char *s, *e;
	size_t n = 0;

	snprintf(open, sizeof(open), "<svg id=\"%s\"", id);
	s = strstr(html, open);
	ck_assert_msg(s != NULL, "no chart %s", id);
	e = strstr(s, "</svg>");
	ck_assert_ptr_nonnull(e);
	for (const char *p = s;
	     (p = strstr(p, "<rect class=\"bar\"")) != NULL && p < e; p++)
		n++;
	return n;
}

/* ---- one scripted day --------------------------------------------------- */

static const char exfil[] = "kind=reads; class=exfiltration; count=120; "
                            "threshold=100; window=60s; response=notify";

static const struct ev day_events[] = {
	/* accesses */
	{ T0 + HOUR, "alice", "manager", "open", "acme", AUDIT_ALLOWED,
	  "role manager", NULL, NONE },
	{ T0 + HOUR, "alice", "manager", "create", "acme", AUDIT_ALLOWED,
	  "role manager", NULL, NONE },
	{ T0 + 2 * HOUR, "bob", "manager, legal", "open", "beta",
	  AUDIT_ALLOWED, "role legal", NULL, NONE },
	{ T0 + 2 * HOUR, "carol", NULL, "list", NULL, AUDIT_ALLOWED,
	  "role legal", NULL, NONE },
	/* not accesses */
	{ T0 + HOUR, "alice", "manager", "close", "acme", AUDIT_ALLOWED,
	  "role manager", NULL, 4096 },
	{ T0 + HOUR, "dossierfs", NULL, "mount", NULL, AUDIT_ALLOWED, NULL,
	  "/srv/vault", NONE },
	{ T0 + HOUR, "dossierfs", NULL, "policy-rejected", NULL, AUDIT_ERROR,
	  NULL, "rejected: x", NONE },
	/* abuse */
	{ T0 + 3 * HOUR, "carol", "legal,records", "open", "beta",
	  AUDIT_DENIED, "default deny", NULL, NONE },
	{ T0 + 3 * HOUR, "carol", "legal,records", "unlink", "acme",
	  AUDIT_DENIED, "role records", NULL, NONE },
	{ T0 + 3 * HOUR, NULL, NULL, "lookup", "acme", AUDIT_DENIED,
	  "default deny", NULL, NONE },
	{ T0 + 3 * HOUR, "bob", "manager", "unlock", NULL, AUDIT_DENIED,
	  "default deny", "user=alice", NONE },
	/* alerts */
	{ T0 + 4 * HOUR, "alice", "manager", "alert", "acme", AUDIT_ALLOWED,
	  "alert bulk", exfil, NONE },
	{ T0 + 4 * HOUR, "alice", "manager", "alert", NULL, AUDIT_ALLOWED,
	  "alert bulk", exfil, NONE },
	{ T0 + 4 * HOUR, "carol", "legal", "alert", NULL, AUDIT_ALLOWED,
	  "alert night", "kind=off-hours; class=abnormal; count=1; "
	  "threshold=1; window=0s; response=notify", NONE },
	{ T0 + 4 * HOUR, "dave", NULL, "alert", NULL, AUDIT_ALLOWED,
	  "alert odd", "garbage", NONE },
	{ T0 + 4 * HOUR, "alice", "manager", "lockout", NULL, AUDIT_ALLOWED,
	  "alert bulk", NULL, NONE },
	{ T0 + 4 * HOUR, "root", NULL, "unlock", NULL, AUDIT_ALLOWED,
	  NULL, "user=alice", NONE },
	{ T0 + 4 * HOUR, "alice", NULL, "alert-notify", NULL, AUDIT_ERROR,
	  "alert bulk", "exit 1", NONE },
	{ T0 + 4 * HOUR, "alice", NULL, "alert-notify", NULL, AUDIT_ALLOWED,
	  "alert bulk", "exit 0", NONE },
	/* shares */
	{ T0 + 5 * HOUR, "alice", "manager", "share-request", "acme",
	  AUDIT_ALLOWED, "role manager", "id=1; to=notary", NONE },
	{ T0 + 5 * HOUR, "alice", "manager", "share-approve", "acme",
	  AUDIT_DENIED, "default deny", "id=1; self-approval", NONE },
	{ T0 + 5 * HOUR, "bob", "legal", "share-approve", "acme",
	  AUDIT_ALLOWED, "role legal", "id=1; ", NONE },
	{ T0 + 5 * HOUR, "carol", "legal", "share-export", "beta",
	  AUDIT_DENIED, "default deny", "id=2; not approved", NONE },
	{ T0 + 5 * HOUR, "alice", "manager", "share-receipt", "acme",
	  AUDIT_ERROR, "role manager", "id=1; ", NONE },
	{ T0 + 5 * HOUR, "alice", "manager", "share-import", "acme",
	  AUDIT_ALLOWED, "role manager", "id=9; ", NONE },
	/* destructions */
	{ T0 + 6 * HOUR, "bob", "manager", "destroy", "acme", AUDIT_ALLOWED,
	  "role manager", NULL, 1000 },
	{ T0 + 6 * HOUR, "bob", "manager", "destroy", "acme", AUDIT_ALLOWED,
	  "role manager", NULL, 2000 },
	{ T0 + 6 * HOUR, "bob", "manager", "destroy", "acme", AUDIT_ERROR,
	  "role manager", NULL, 500 },
	/* out of the range */
	{ T0 - 1, "alice", "manager", "open", "acme", AUDIT_DENIED,
	  "default deny", NULL, NONE },
	{ T0 + DAY, "alice", "manager", "open", "acme", AUDIT_DENIED,
	  "default deny", NULL, NONE },
};

START_TEST(test_kpis)
{
	struct report *r;
	struct report_totals t;

	utc();
	ck_assert_int_eq(report_new(T0, T0 + DAY, &r), 0);
	feed(r, day_events, sizeof(day_events) / sizeof(day_events[0]));
	report_damaged(r);
	ck_assert_int_eq(report_finish(r), 0);
	report_totals(r, &t);
	ck_assert_uint_eq(t.records, 28);
	ck_assert_uint_eq(t.damaged, 1);

	/* 1: two exfiltration alerts, two refused shares */
	ck_assert_uint_eq(t.leak, 4);
	ck_assert_uint_eq(t.leak_alerts, 2);
	ck_assert_uint_eq(t.leak_shares, 2);
	ck_assert_uint_eq(n_of(r, REPORT_LEAK, "alert bulk", "alice", 0), 2);
	ck_assert_uint_eq(n_of(r, REPORT_LEAK, "share-approve", "alice", 0),
	                  1);
	ck_assert_uint_eq(n_of(r, REPORT_LEAK, "share-export", "carol", 0), 1);
	ck_assert_uint_eq(report_count(r, REPORT_LEAK), 3);

	/* 2: denied, not the unlock nor the shares */
	ck_assert_uint_eq(t.abuse, 3);
	ck_assert_uint_eq(n_of(r, REPORT_ABUSE_USER, "carol", NULL, 0), 2);
	ck_assert_uint_eq(n_of(r, REPORT_ABUSE_USER, REPORT_NO_USER, NULL, 0),
	                  1);
	ck_assert_uint_eq(n_of(r, REPORT_ABUSE_USER, "bob", NULL, 0),
	                  UINT64_MAX);
	ck_assert_uint_eq(n_of(r, REPORT_ABUSE_ROLE, "legal", NULL, 0), 2);
	ck_assert_uint_eq(n_of(r, REPORT_ABUSE_ROLE, "records", NULL, 0), 2);
	ck_assert_uint_eq(n_of(r, REPORT_ABUSE_ROLE, REPORT_NO_ROLE, NULL, 0),
	                  1);

	/* 3: every alert, by rule and kind; a malformed detail is unknown */
	ck_assert_uint_eq(t.alerts, 4);
	ck_assert_uint_eq(t.lockouts, 1);
	ck_assert_uint_eq(t.unlocks, 1);      /* not the one denied */
	ck_assert_uint_eq(t.notify_failed, 1);
	ck_assert_uint_eq(n_of(r, REPORT_ALERT_RULE, "alert bulk", "reads", 0),
	                  2);
	ck_assert_uint_eq(n_of(r, REPORT_ALERT_RULE, "alert night",
	                       "off-hours", 0), 1);
	ck_assert_uint_eq(n_of(r, REPORT_ALERT_RULE, "alert odd",
	                       REPORT_UNKNOWN, 0), 1);
	ck_assert_uint_eq(n_of(r, REPORT_ALERT_CLASS, "exfiltration", NULL, 0),
	                  2);
	ck_assert_uint_eq(n_of(r, REPORT_ALERT_CLASS, "abnormal", NULL, 0), 1);
	ck_assert_uint_eq(n_of(r, REPORT_ALERT_CLASS, REPORT_UNKNOWN, NULL, 0),
	                  1);

	/* 4: four accesses; "manager, legal" names two roles */
	ck_assert_uint_eq(t.accesses, 4);
	ck_assert_uint_eq(n_of(r, REPORT_CLIENT, "acme", NULL, 0), 2);
	ck_assert_uint_eq(n_of(r, REPORT_CLIENT, "beta", NULL, 0), 1);
	ck_assert_uint_eq(report_count(r, REPORT_CLIENT), 2);
	ck_assert_uint_eq(n_of(r, REPORT_ROLE, "manager", NULL, 0), 3);
	ck_assert_uint_eq(n_of(r, REPORT_ROLE, "legal", NULL, 0), 1);
	ck_assert_uint_eq(n_of(r, REPORT_ROLE, REPORT_NO_ROLE, NULL, 0), 1);
	ck_assert_int_eq(report_unit(r), REPORT_HOUR);
	ck_assert_uint_eq(report_nbuckets(r), 24);
	for (size_t i = 0; i < 24; i++) {
		int64_t start;
		uint64_t n;

		ck_assert_int_eq(report_bucket(r, i, &start, &n), 0);
		ck_assert_int_eq(start, T0 + (int64_t)i * HOUR);
		ck_assert_uint_eq(n, i == 1 || i == 2 ? 2 : 0);
	}
	ck_assert_int_eq(report_bucket(r, 24, NULL, NULL), -ENOENT);

	/* 5 */
	ck_assert_uint_eq(t.destroyed, 2);
	ck_assert_uint_eq(t.destroyed_bytes, 3000);
	ck_assert_uint_eq(t.destroy_failed, 1);
	ck_assert_uint_eq(t.destroy_failed_bytes, 500);

	/* 6: not given */
	ck_assert_int_eq(t.retention, -1);

	/* 8: the five actions first, always; then others by name */
	{
		static const char *const order[] = {
			"share-request", "share-approve", "share-reject",
			"share-export", "share-receipt", "share-import",
		};
		struct report_entry e;

		ck_assert_uint_eq(report_count(r, REPORT_SHARE), 6);
		for (size_t i = 0; i < 6; i++) {
			ck_assert_int_eq(report_entry(r, REPORT_SHARE, i, &e),
			                 0);
			ck_assert_str_eq(e.key, order[i]);
			ck_assert_ptr_null(e.key2);
		}
	}
	ck_assert_uint_eq(n_of(r, REPORT_SHARE, "share-request", NULL, 0), 1);
	ck_assert_uint_eq(n_of(r, REPORT_SHARE, "share-approve", NULL, 0), 1);
	ck_assert_uint_eq(n_of(r, REPORT_SHARE, "share-approve", NULL, 1), 1);
	ck_assert_uint_eq(n_of(r, REPORT_SHARE, "share-export", NULL, 1), 1);
	ck_assert_uint_eq(n_of(r, REPORT_SHARE, "share-receipt", NULL, 2), 1);
	ck_assert_uint_eq(n_of(r, REPORT_SHARE, "share-reject", NULL, 0), 0);
	report_free(r);
}
END_TEST

/* Every number of the CSV is the one of the queries. */
START_TEST(test_csv_matches)
{
	struct report *r;
	char *csv;

	utc();
	ck_assert_int_eq(report_new(T0, T0 + DAY, &r), 0);
	feed(r, day_events, sizeof(day_events) / sizeof(day_events[0]));
	report_set_retention(r, 7);
	ck_assert_int_eq(report_finish(r), 0);
	csv = render(r, REPORT_CSV, 1);
	ck_assert_ptr_nonnull(strstr(csv, "section,key,subkey,value\r\n"));
	ck_assert_ptr_nonnull(strstr(csv, "\r\nleak,total,,4\r\n"));
	ck_assert_ptr_nonnull(strstr(csv, "\r\nleak-source,alert bulk,alice,2"
	                             "\r\n"));
	ck_assert_ptr_nonnull(strstr(csv, "\r\nabuse-role,legal,,2\r\n"));
	ck_assert_ptr_nonnull(strstr(csv, "\r\nabuse-user,(no user),,1\r\n"));
	ck_assert_ptr_nonnull(strstr(csv, "\r\nabnormal,notify-failed,,1\r\n"));
	ck_assert_ptr_nonnull(strstr(csv, "\r\nabnormal-rule,alert night,"
	                             "off-hours,1\r\n"));
	ck_assert_ptr_nonnull(strstr(csv, "\r\nactivity,total,,4\r\n"));
	ck_assert_ptr_nonnull(strstr(csv, "\r\nactivity-time,2024-06-01 "
	                             "01:00,,2\r\n"));
	ck_assert_ptr_nonnull(strstr(csv, "\r\ndestruction,done,bytes,3000"
	                             "\r\n"));
	ck_assert_ptr_nonnull(strstr(csv, "\r\nretention,overdue,,7\r\n"));
	ck_assert_ptr_nonnull(strstr(csv, "\r\nshare,share-approve,refused,1"
	                             "\r\n"));
	ck_assert_ptr_nonnull(strstr(csv, "\r\nreport,since,,2024-06-01 "
	                             "00:00:00 +0000\r\n"));
	ck_assert_ptr_nonnull(strstr(csv, "\r\nreport,chain,,OK\r\n"));
	free(csv);
	report_free(r);
}
END_TEST

/* ---- grants ------------------------------------------------------------- */

START_TEST(test_grants_window)
{
	const int64_t until = T0 + 100 * DAY, since = until - DAY;
	const int64_t edge = until - (int64_t)REPORT_GRANT_DAYS * DAY;
	const struct ev evs[] = {
		/* at the edge: used */
		{ edge, "alice", "manager", "open", "acme", AUDIT_ALLOWED,
		  "role manager", NULL, NONE },
		/* one microsecond before: not */
		{ edge - 1, "bob", "manager", "open", "acme", AUDIT_ALLOWED,
		  "role manager", NULL, NONE },
		/* not an allow */
		{ edge + DAY, "carol", "legal", "open", "acme", AUDIT_DENIED,
		  "role legal", NULL, NONE },
		/* not exactly "role legal" */
		{ edge + DAY, "carol", "legal", "open", "acme", AUDIT_ALLOWED,
		  "role legals", NULL, NONE },
		{ edge + DAY, "carol", "legal", "open", "acme", AUDIT_ALLOWED,
		  "rule legal", NULL, NONE },
		{ edge + DAY, "carol", "legal", "open", "acme", AUDIT_ALLOWED,
		  "role  legal", NULL, NONE },
		/* another user's use */
		{ edge + DAY, "dave", "legal", "open", "acme", AUDIT_ALLOWED,
		  "role legal", NULL, NONE },
		/* a role not watched: nothing is added */
		{ edge + DAY, "dave", "x", "open", "acme", AUDIT_ALLOWED,
		  "role x", NULL, NONE },
		/* the last microsecond before until: used */
		{ until - 1, "erin", "legal", "open", "acme", AUDIT_ALLOWED,
		  "role legal", NULL, NONE },
		/* at until: out */
		{ until, "frank", "legal", "open", "acme", AUDIT_ALLOWED,
		  "role legal", NULL, NONE },
	};
	struct report *r;
	struct report_totals t;
	struct report_entry e;

	utc();
	ck_assert_int_eq(report_new(since, until, &r), 0);
	ck_assert_int_eq(report_scan_from(r), edge);
	ck_assert_int_eq(report_grant(r, "manager", "alice"), 0);
	ck_assert_int_eq(report_grant(r, "manager", "bob"), 0);
	ck_assert_int_eq(report_grant(r, "legal", "carol"), 0);
	ck_assert_int_eq(report_grant(r, "legal", "erin"), 0);
	ck_assert_int_eq(report_grant(r, "legal", "frank"), 0);
	ck_assert_int_eq(report_grant(r, "manager", "alice"), 0);  /* again */
	feed(r, evs, sizeof(evs) / sizeof(evs[0]));
	ck_assert_int_eq(report_finish(r), 0);
	report_totals(r, &t);
	ck_assert_uint_eq(t.grants, 5);
	ck_assert_uint_eq(t.grants_unused, 3);
	ck_assert_uint_eq(n_of(r, REPORT_GRANT, "manager", "alice", 0), 1);
	ck_assert_uint_eq(n_of(r, REPORT_GRANT, "manager", "bob", 0), 0);
	ck_assert_uint_eq(n_of(r, REPORT_GRANT, "legal", "carol", 0), 0);
	ck_assert_uint_eq(n_of(r, REPORT_GRANT, "legal", "erin", 0), 1);
	ck_assert_uint_eq(n_of(r, REPORT_GRANT, "legal", "frank", 0), 0);
	/* by role, then user */
	ck_assert_int_eq(report_entry(r, REPORT_GRANT, 0, &e), 0);
	ck_assert_str_eq(e.key, "legal");
	ck_assert_str_eq(e.key2, "carol");
	ck_assert_int_eq(report_entry(r, REPORT_GRANT, 4, &e), 0);
	ck_assert_str_eq(e.key, "manager");
	ck_assert_str_eq(e.key2, "bob");
	/* the records before since counted for the grants only */
	ck_assert_uint_eq(t.records, 1);
	ck_assert_uint_eq(t.accesses, 1);
	report_free(r);
}
END_TEST

START_TEST(test_grants_long_range)
{
	/* since before until - 90 days: the scan starts at since, and a use
	 * between since and the window does not count */
	const int64_t since = T0, until = T0 + 200 * DAY;
	const struct ev evs[] = {
		{ T0 + DAY, "alice", "manager", "open", "acme", AUDIT_ALLOWED,
		  "role manager", NULL, NONE },
	};
	struct report *r;
	struct report_totals t;
	char *csv;

	utc();
	ck_assert_int_eq(report_new(since, until, &r), 0);
	ck_assert_int_eq(report_scan_from(r), since);
	ck_assert_int_eq(report_grant(r, "manager", "alice"), 0);
	feed(r, evs, 1);
	ck_assert_int_eq(report_finish(r), 0);
	report_totals(r, &t);
	ck_assert_uint_eq(t.grants_unused, 1);
	ck_assert_uint_eq(t.accesses, 1);
	csv = render(r, REPORT_CSV, 1);
	ck_assert_ptr_nonnull(strstr(csv, "\r\ngrant-unused,manager,alice,0"
	                             "\r\n"));
	ck_assert_ptr_nonnull(strstr(csv, "\r\ngrants,unused,,1\r\n"));
	free(csv);
	report_free(r);

	/* until near the epoch: the window is clamped to 0 */
	ck_assert_int_eq(report_new(S(10), S(20), &r), 0);
	ck_assert_int_eq(report_scan_from(r), 0);
	report_free(r);
}
END_TEST

/* ---- buckets ------------------------------------------------------------ */

START_TEST(test_buckets)
{
	struct report *r;
	int64_t start;
	uint64_t n;
	const struct ev evs[] = {
		{ T0 + HOUR - 1, "a", "r", "open", "c", AUDIT_ALLOWED,
		  "role r", NULL, NONE },
		{ T0 + HOUR, "a", "r", "open", "c", AUDIT_ALLOWED,
		  "role r", NULL, NONE },
		{ T0 + 3 * DAY - 1, "a", "r", "open", "c", AUDIT_ALLOWED,
		  "role r", NULL, NONE },
	};

	utc();
	/* exactly three days: hours */
	ck_assert_int_eq(report_new(T0, T0 + 3 * DAY, &r), 0);
	ck_assert_int_eq(report_unit(r), REPORT_HOUR);
	ck_assert_uint_eq(report_nbuckets(r), 72);
	feed(r, evs, 3);
	ck_assert_int_eq(report_finish(r), 0);
	ck_assert_int_eq(report_bucket(r, 0, NULL, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(report_bucket(r, 1, NULL, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(report_bucket(r, 71, &start, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(start, T0 + 71 * HOUR);
	report_free(r);

	/* one second more: days */
	ck_assert_int_eq(report_new(T0, T0 + 3 * DAY + S(1), &r), 0);
	ck_assert_int_eq(report_unit(r), REPORT_DAY);
	ck_assert_uint_eq(report_nbuckets(r), 4);
	feed(r, evs, 3);
	ck_assert_int_eq(report_finish(r), 0);
	ck_assert_int_eq(report_bucket(r, 0, NULL, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(report_bucket(r, 2, &start, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(start, T0 + 2 * DAY);
	ck_assert_int_eq(report_bucket(r, 3, &start, &n), 0);
	ck_assert_int_eq(start, T0 + 3 * DAY);
	ck_assert_uint_eq(n, 0);
	report_free(r);

	/* a start off the hour: the first day bucket ends at midnight */
	ck_assert_int_eq(report_new(T0 + 10 * HOUR, T0 + 10 * DAY, &r), 0);
	ck_assert_uint_eq(report_nbuckets(r), 10);
	ck_assert_int_eq(report_bucket(r, 1, &start, NULL), 0);
	ck_assert_int_eq(start, T0 + DAY);
	report_free(r);
}
END_TEST

START_TEST(test_buckets_dst)
{
	/* Europe/Berlin went to summer time on 2024-03-31: that local day
	 * has 23 hours, and day buckets follow local midnight. */
	const int64_t since = S(1711753200);    /* 2024-03-30 00:00 +0100 */
	struct report *r;
	int64_t s1, s2, s3;
	char *csv;

	if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) != 0)
		return;                 /* no tzdata: nothing to check */
	use_tz("Europe/Berlin");
	ck_assert_int_eq(report_new(since, since + 5 * DAY, &r), 0);
	ck_assert_int_eq(report_finish(r), 0);
	ck_assert_int_eq(report_bucket(r, 1, &s1, NULL), 0);
	ck_assert_int_eq(report_bucket(r, 2, &s2, NULL), 0);
	ck_assert_int_eq(report_bucket(r, 3, &s3, NULL), 0);
	ck_assert_int_eq(s1 - since, DAY);
	ck_assert_int_eq(s2 - s1, DAY - HOUR);
	ck_assert_int_eq(s3 - s2, DAY);
	/* 5 days of 24 h from a local midnight end at 01:00 of day 6 */
	ck_assert_uint_eq(report_nbuckets(r), 6);
	csv = render(r, REPORT_CSV, 1);
	ck_assert_ptr_nonnull(strstr(csv, "\r\nactivity-time,2024-04-01,,0"));
	free(csv);
	report_free(r);
	utc();
}
END_TEST

/* ---- ordering ----------------------------------------------------------- */

START_TEST(test_top_clients)
{
	/* 12 clients: c00 with 12 accesses ... c11 with 1, and three ties
	 * of 5 that come in name order */
	static const char *const names[] = {
		"c00", "c01", "c02", "c03", "c04", "c05", "c06", "c07", "c08",
		"c09", "c10", "c11", "tie-b", "tie-a", "tie-c",
	};
	static const unsigned counts[] = {
		12, 11, 10, 9, 8, 7, 6, 4, 3, 2, 2, 1, 5, 5, 5,
	};
	static const char *const want[] = {
		"c00", "c01", "c02", "c03", "c04", "c05", "c06", "tie-a",
		"tie-b", "tie-c", "c07", "c08", "c09", "c10", "c11",
	};
	struct report *r;
	struct report_entry e;
	char *html, *p;

	utc();
	ck_assert_int_eq(report_new(T0, T0 + DAY, &r), 0);
	for (size_t i = 0; i < 15; i++) {
		for (unsigned k = 0; k < counts[i]; k++) {
			struct ev x = { T0 + HOUR, "u", "r", "open", names[i],
			                AUDIT_ALLOWED, "role r", NULL, NONE };

			feed(r, &x, 1);
		}
	}
	ck_assert_int_eq(report_finish(r), 0);
	ck_assert_uint_eq(report_count(r, REPORT_CLIENT), 15);
	for (size_t i = 0; i < 15; i++) {
		ck_assert_int_eq(report_entry(r, REPORT_CLIENT, i, &e), 0);
		ck_assert_str_eq(e.key, want[i]);
	}
	ck_assert_int_eq(report_entry(r, REPORT_CLIENT, 15, &e), -ENOENT);
	html = render(r, REPORT_HTML, 1);
	ck_assert_uint_eq(bars(html, "chart-clients"), REPORT_TOP_CLIENTS);
	ck_assert_uint_eq(bars(html, "chart-activity"), 24);
	ck_assert_uint_eq(bars(html, "chart-denials"), 0);
	/* the chart's labels in the same order, the 11th not there */
	p = strstr(html, "<svg id=\"chart-clients\"");
	for (size_t i = 0; i < REPORT_TOP_CLIENTS; i++) {
		char label[64];

		snprintf(label, sizeof(label), ">%s</text>", want[i]);
		p = strstr(p, label);
		ck_assert_msg(p != NULL, "label %s missing or out of order",
		              want[i]);
	}
	ck_assert_ptr_null(strstr(strstr(html, "<svg id=\"chart-clients\""),
	                          ">c07</text>"));
	free(html);
	report_free(r);
}
END_TEST

/* ---- writers ------------------------------------------------------------ */

static const char evil[] = "<script>alert(\"x\")</script> & 'Co'";

static struct report *escaping_report(void)
{
	struct report *r;
	const struct ev evs[] = {
		{ T0 + HOUR, "mallory", "r", "open", evil, AUDIT_ALLOWED,
		  "role r", NULL, NONE },
		{ T0 + HOUR, "mallory", "r", "open", "Smith, \"J\"\r\nSons",
		  AUDIT_ALLOWED, "role r", NULL, NONE },
		{ T0 + HOUR, "mallory", "r", "open", "=HYPERLINK(\"x\")",
		  AUDIT_ALLOWED, "role r", NULL, NONE },
		{ T0 + HOUR, "mallory", "r", "open", "esc\x1b[2Jx\\y",
		  AUDIT_ALLOWED, "role r", NULL, NONE },
		{ T0 + HOUR, "mallory", "r", "open", "caf\xc3\xa9 \xff bad",
		  AUDIT_ALLOWED, "role r", NULL, NONE },
		{ T0 + HOUR, "mallory", "r", "open", "rtl\xe2\x80\xaeppa",
		  AUDIT_ALLOWED, "role r", NULL, NONE },
		{ T0 + HOUR, "mallory", "r", "open",
		  "a-very-long-client-name-that-goes-on-and-on-"
		  "\xc3\xa9\xc3\xa9",
		  AUDIT_ALLOWED, "role r", NULL, NONE },
		{ T0 + HOUR, "<b>u</b>", "<i>role</i>", "open", "x",
		  AUDIT_DENIED, "default deny", NULL, NONE },
	};

	utc();
	ck_assert_int_eq(report_new(T0, T0 + DAY, &r), 0);
	feed(r, evs, sizeof(evs) / sizeof(evs[0]));
	ck_assert_int_eq(report_finish(r), 0);
	return r;
}

START_TEST(test_html)
{
	struct report *r = escaping_report();
	char *html = render(r, REPORT_HTML, 1);

	ck_assert_uint_eq(count_of(html, "<script"), 0);
	ck_assert_uint_eq(count_of(html, "http://"), 0);
	ck_assert_uint_eq(count_of(html, "https://"), 0);
	ck_assert_uint_eq(count_of(html, "src="), 0);
	ck_assert_uint_eq(count_of(html, "href="), 0);
	ck_assert_uint_eq(count_of(html, "url("), 0);
	ck_assert_uint_eq(count_of(html, "<b>"), 0);
	ck_assert_uint_eq(count_of(html, "<i>"), 0);
	ck_assert_ptr_nonnull(strstr(html, "<td>&lt;script&gt;alert(&quot;x"
	                             "&quot;)&lt;/script&gt; &amp; &#39;Co&#39;"
	                             "</td>"));
	ck_assert_ptr_nonnull(strstr(html, "<td>&lt;b&gt;u&lt;/b&gt;</td>"));
	/* control, bidirectional and invalid bytes are U+FFFD */
	ck_assert_ptr_nonnull(strstr(html, "Smith, &quot;J&quot;&#xfffd;"
	                             "&#xfffd;Sons"));
	ck_assert_ptr_nonnull(strstr(html, "esc&#xfffd;[2Jx\\y"));
	ck_assert_ptr_nonnull(strstr(html, "caf\xc3\xa9 &#xfffd; bad"));
	ck_assert_ptr_nonnull(strstr(html, "rtl&#xfffd;ppa"));
	ck_assert_uint_eq(count_of(html, "\x1b"), 0);
	ck_assert_uint_eq(count_of(html, "\xff"), 0);
	ck_assert_uint_eq(count_of(html, "\xe2\x80\xae"), 0);
	/* a long label is cut on a character in the chart, whole in the
	 * table and in the bar's title */
	ck_assert_ptr_nonnull(strstr(html, ">a-very-long-client-name-tha"
	                             "&#x2026;</text>"));
	ck_assert_ptr_nonnull(strstr(html, "<title>a-very-long-client-name-"
	                             "that-goes-on-and-on-\xc3\xa9\xc3\xa9: 1 "
	                             "accesses</title>"));
	ck_assert_uint_eq(bars(html, "chart-activity"), 24);
	ck_assert_uint_eq(bars(html, "chart-denials"), 1);
	ck_assert_uint_eq(bars(html, "chart-clients"), 7);
	ck_assert_ptr_nonnull(strstr(html, "<!DOCTYPE html>"));
	ck_assert_ptr_nonnull(strstr(html, "</html>\n"));
	ck_assert_ptr_null(strstr(html, "id=\"chain-bad\""));
	free(html);
	report_free(r);
}
END_TEST

/* Splits one CSV record (RFC 4180) at *p; returns its field count and
 * moves *p past its CRLF, or returns -1 if it is malformed. */
static int csv_record(const char **p)
{
	const char *s = *p;
	int fields = 1;

	for (;;) {
		if (*s == '"') {
			for (s++; !(s[0] == '"' && s[1] != '"'); s++) {
				if (*s == '\0')
					return -1;
				if (s[0] == '"')
					s++;
			}
			s++;
		} else {
			while (*s != ',' && *s != '\r' && *s != '\n' &&
			       *s != '\0') {
				if (*s == '"')
					return -1;
				s++;
			}
		}
		if (*s == ',') {
			fields++;
			s++;
			continue;
		}
		if (s[0] != '\r' || s[1] != '\n')
			return -1;
		*p = s + 2;
		return fields;
	}
}

START_TEST(test_csv)
{
	struct report *r = escaping_report();
	char *csv = render(r, REPORT_CSV, 1);
	const char *p = csv;
	int rows = 0;

	while (*p != '\0') {
		ck_assert_int_eq(csv_record(&p), 4);
		rows++;
	}
	ck_assert_int_gt(rows, 40);
	ck_assert_ptr_nonnull(strstr(csv, "\r\nactivity-client,\"Smith, "
	                             "\"\"J\"\"\r\nSons\",,1\r\n"));
	ck_assert_ptr_nonnull(strstr(csv, "\r\nactivity-client,\"'=HYPERLINK("
	                             "\"\"x\"\")\",,1\r\n"));
	ck_assert_ptr_nonnull(strstr(csv, "\r\nactivity-client,\"<script>alert("
	                             "\"\"x\"\")</script> & 'Co'\",,1\r\n"));
	ck_assert_ptr_nonnull(strstr(csv, "\r\nabuse-role,<i>role</i>,,1\r\n"));
	free(csv);
	report_free(r);
}
END_TEST

START_TEST(test_text)
{
	struct report *r = escaping_report();
	char *text = render(r, REPORT_TEXT, 1);

	ck_assert_uint_eq(count_of(text, "\x1b"), 0);
	ck_assert_uint_eq(count_of(text, "\r"), 0);
	ck_assert_uint_eq(count_of(text, "\xff"), 0);
	ck_assert_uint_eq(count_of(text, "\xe2\x80\xae"), 0);
	ck_assert_ptr_nonnull(strstr(text, "esc\\x1b[2Jx\\\\y"));
	ck_assert_ptr_nonnull(strstr(text, "Smith, \"J\"\\x0d\\x0aSons"));
	ck_assert_ptr_nonnull(strstr(text, "caf\xc3\xa9 \\xff bad"));
	ck_assert_ptr_nonnull(strstr(text, "rtl\\xe2\\x80\\xaeppa"));
	ck_assert_ptr_nonnull(strstr(text, "\n4. Activity (allowed accesses)\n"
	                             "     total "));
	ck_assert_ptr_nonnull(strstr(text, "files past retention"));
	ck_assert_ptr_nonnull(strstr(text, "not computed (give --mount and "
	                             "--as)"));
	ck_assert_ptr_null(strstr(text, "AUDIT CHAIN BAD"));
	free(text);
	report_free(r);
}
END_TEST

/* The columns of a text table line up: every row of the client table
 * has its count at the same column. */
START_TEST(test_text_aligned)
{
	const struct ev evs[] = {
		{ T0, "u", "r", "open", "a", AUDIT_ALLOWED, "role r", NULL,
		  NONE },
		{ T0, "u", "r", "open", "longer-name", AUDIT_ALLOWED, "role r",
		  NULL, NONE },
		{ T0, "u", "r", "open", "caf\xc3\xa9", AUDIT_ALLOWED, "role r",
		  NULL, NONE },
	};
	struct report *r;
	char *text, *s, *line;
	size_t end = 0;

	utc();
	ck_assert_int_eq(report_new(T0, T0 + DAY, &r), 0);
	feed(r, evs, 3);
	ck_assert_int_eq(report_finish(r), 0);
	text = render(r, REPORT_TEXT, 1);
	s = strstr(text, "     CLIENT");
	ck_assert_ptr_nonnull(s);
	for (int i = 0; i < 4; i++) {
		size_t cols = 0;

		line = s;
		s = strchr(s, '\n');
		ck_assert_ptr_nonnull(s);
		/* columns, counting a UTF-8 character once */
		for (const char *q = line; q < s; q++)
			cols += ((unsigned char)*q & 0xc0) != 0x80;
		if (i == 0)
			end = cols;
		ck_assert_uint_eq(cols, end);
		s++;
	}
	free(text);
	report_free(r);
}
END_TEST

START_TEST(test_bad_chain)
{
	struct report *r;
	char *out;

	utc();
	ck_assert_int_eq(report_new(T0, T0 + DAY, &r), 0);
	ck_assert_int_eq(report_finish(r), 0);
	out = render(r, REPORT_TEXT, 0);
	ck_assert_ptr_nonnull(strstr(out, "dossierfs KPI report\n\n*** AUDIT "
	                             "CHAIN BAD: seq 7: hash mismatch\n"));
	ck_assert_ptr_nonnull(strstr(out, "audit chain:  BAD\n"));
	free(out);
	out = render(r, REPORT_CSV, 0);
	ck_assert_ptr_nonnull(strstr(out, "\r\nreport,chain,,BAD\r\nreport,"
	                             "chain-detail,,seq 7: hash mismatch\r\n"));
	free(out);
	out = render(r, REPORT_HTML, 0);
	ck_assert_ptr_nonnull(strstr(out, "<div class=\"alarm\" "
	                             "id=\"chain-bad\"><strong>AUDIT CHAIN "
	                             "BAD:</strong> seq 7: hash mismatch"));
	/* the alarm comes before any figure */
	ck_assert(strstr(out, "id=\"chain-bad\"") <
	          strstr(out, "id=\"report\""));
	/* an empty report still has its three charts, with no bars */
	ck_assert_uint_eq(bars(out, "chart-activity"), 24);
	ck_assert_uint_eq(bars(out, "chart-denials"), 0);
	ck_assert_uint_eq(bars(out, "chart-clients"), 0);
	free(out);
	report_free(r);
}
END_TEST

/* ---- limits and errors -------------------------------------------------- */

START_TEST(test_many_records)
{
	/* memory follows the keys, not the records */
	static const char *const clients[] = { "a", "b", "c" };
	struct report *r;
	struct report_totals t;

	utc();
	ck_assert_int_eq(report_new(T0, T0 + 30 * DAY, &r), 0);
	for (int i = 0; i < 300000; i++) {
		struct audit_row row = {
			.seq = (uint64_t)i + 1,
			.time_us = T0 + (int64_t)i * S(8),
			.ev = { .user = i % 2 ? "alice" : "bob",
			        .roles = "manager,legal", .action = "open",
			        .client = clients[i % 3],
			        .outcome = i % 10 ? AUDIT_ALLOWED
			                          : AUDIT_DENIED,
			        .rule = "role manager" },
		};

		ck_assert_int_eq(report_add(r, &row), 0);
	}
	ck_assert_int_eq(report_finish(r), 0);
	report_totals(r, &t);
	ck_assert_uint_eq(t.accesses, 270000);
	ck_assert_uint_eq(t.abuse, 30000);
	ck_assert_uint_eq(report_count(r, REPORT_CLIENT), 3);
	ck_assert_uint_eq(report_count(r, REPORT_ROLE), 2);
	ck_assert_uint_eq(report_count(r, REPORT_ABUSE_USER), 1);
	ck_assert_uint_eq(report_nbuckets(r), 30);
	ck_assert_uint_eq(n_of(r, REPORT_CLIENT, "a", NULL, 0), 90000);
	report_free(r);
}
END_TEST

START_TEST(test_many_keys)
{
	/* enough distinct clients for the table to grow many times */
	struct report *r;
	char name[32];

	utc();
	ck_assert_int_eq(report_new(T0, T0 + DAY, &r), 0);
	for (int i = 0; i < 20000; i++) {
		struct audit_row row = {
			.time_us = T0,
			.ev = { .user = "u", .action = "open", .client = name,
			        .outcome = AUDIT_ALLOWED },
		};

		snprintf(name, sizeof(name), "client-%05d", i % 10000);
		ck_assert_int_eq(report_add(r, &row), 0);
	}
	ck_assert_int_eq(report_finish(r), 0);
	ck_assert_uint_eq(report_count(r, REPORT_CLIENT), 10000);
	ck_assert_uint_eq(n_of(r, REPORT_CLIENT, "client-09999", NULL, 0), 2);
	report_free(r);
}
END_TEST

START_TEST(test_errors)
{
	struct report *r;
	struct report_entry e;
	struct audit_row row = { .time_us = T0, .ev = { .action = "open" } };
	struct report_head h = { 0 };
	FILE *null = fopen("/dev/null", "w");

	utc();
	ck_assert_int_eq(report_new(T0, T0, &r), -EINVAL);
	ck_assert_int_eq(report_new(T0, T0 - 1, &r), -EINVAL);
	ck_assert_int_eq(report_new(-1, T0, &r), -EINVAL);
	ck_assert_int_eq(report_new(T0, T0 + 1, NULL), -EINVAL);
	ck_assert_int_eq(report_new(T0, T0 + (int64_t)REPORT_MAX_DAYS * DAY +
	                            1, &r), -ERANGE);
	ck_assert_int_eq(report_new(T0, T0 + (int64_t)REPORT_MAX_DAYS * DAY,
	                            &r), 0);
	ck_assert_uint_ge(report_nbuckets(r), REPORT_MAX_DAYS);
	report_free(r);
	report_free(NULL);

	ck_assert_int_eq(report_new(T0, T0 + DAY, &r), 0);
	ck_assert_int_eq(report_entry(r, REPORT_CLIENT, 0, &e), -EINVAL);
	ck_assert_uint_eq(report_count(r, REPORT_SHARE), 0);
	ck_assert_int_eq(report_write(r, &h, REPORT_TEXT, null), -EINVAL);
	ck_assert_int_eq(report_grant(r, NULL, "u"), -EINVAL);
	row.ev.action = NULL;
	ck_assert_int_eq(report_add(r, &row), -EINVAL);
	row.ev.action = "open";
	ck_assert_int_eq(report_add(r, &row), 0);
	ck_assert_int_eq(report_finish(r), 0);
	ck_assert_int_eq(report_finish(r), 0);
	ck_assert_int_eq(report_add(r, &row), -EINVAL);
	ck_assert_int_eq(report_grant(r, "a", "u"), -EINVAL);
	ck_assert_int_eq(report_entry(r, REPORT_NTABLES, 0, &e), -EINVAL);
	ck_assert_int_eq(report_write(r, &h, (enum report_format)7, null),
	                 -EINVAL);
	ck_assert_int_eq(report_write(r, &h, REPORT_HTML, null), 0);
	report_free(r);
	fclose(null);
}
END_TEST

START_TEST(test_write_error)
{
	struct report *r;
	struct report_head h = { .chain_ok = 1 };
	FILE *full = fopen("/dev/full", "w");

	if (full == NULL)
		return;
	utc();
	ck_assert_int_eq(report_new(T0, T0 + DAY, &r), 0);
	ck_assert_int_eq(report_finish(r), 0);
	ck_assert_int_eq(report_write(r, &h, REPORT_CSV, full), -EIO);
	report_free(r);
	fclose(full);
}
END_TEST

static Suite *report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_test(tc, test_kpis);
	tcase_add_test(tc, test_csv_matches);
	tcase_add_test(tc, test_grants_window);
	tcase_add_test(tc, test_grants_long_range);
	tcase_add_test(tc, test_buckets);
	tcase_add_test(tc, test_buckets_dst);
	tcase_add_test(tc, test_top_clients);
	suite_add_tcase(s, tc);

	tc = tcase_create("writers");
	tcase_add_test(tc, test_html);
	tcase_add_test(tc, test_csv);
	tcase_add_test(tc, test_text);
	tcase_add_test(tc, test_text_aligned);
	tcase_add_test(tc, test_bad_chain);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_many_records);
	tcase_add_test(tc, test_many_keys);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_write_error);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(report_suite)
