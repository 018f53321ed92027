/*
 * report: the KPI report of `dossierctl report`, counted from the audit
 * records of one time range [since, until) in one pass and written as
 * text, CSV or HTML.
 *
 * Use. report_new() for the range; report_grant() for every (role,
 * user) pair the policy grants; then every record of
 * [report_scan_from(), until) to report_add(), in any order (a cursor
 * gives them in seq order); report_damaged() for each record that could
 * not be read; report_set_retention() if the files past retention were
 * counted; report_finish(); then the queries (report_totals(),
 * report_entry(), report_bucket()) or report_write(). The writers use
 * those same queries, so every figure of every format is the same.
 * Memory grows with the number of distinct users, roles, clients, alert
 * rules, share actions and grants met, never with the number of records.
 * No globals; no I/O but the FILE given to report_write(). Times are
 * shown in local time (TZ) and day buckets start at local midnight; the
 * tables are hashed with SipHash under a random key (libsodium must be
 * initialised), so that chosen names cannot make them slow.
 *
 * What is counted, from the event conventions of the daemon (action,
 * outcome, user, roles, client, rule, detail, bytes). A record counts
 * for the KPIs when since <= time < until:
 *   leak      "alert" records whose detail says class=exfiltration, and
 *             share-* records with outcome denied (attempts refused:
 *             self-approval, export before approval, no permission);
 *             table REPORT_LEAK by rule ("alert NAME") or action, user
 *   abuse     records with outcome denied except alert, alert-notify,
 *             lockout, unlock and share-*; by user (REPORT_ABUSE_USER)
 *             and by every role named in the roles field
 *             (REPORT_ABUSE_ROLE)
 *   alerts    every "alert" record, by rule and the detail's kind
 *             (REPORT_ALERT_RULE) and by its class (REPORT_ALERT_CLASS);
 *             also "lockout" and "unlock" records with outcome
 *             allowed, and "alert-notify" records with outcome error
 *   accesses  records with outcome allowed that are file accesses:
 *             every action but close (the end of an open, counted at the
 *             open), destroy, alert, alert-notify, lockout, unlock,
 *             share-* and the daemon's own mount, unmount,
 *             policy-loaded, policy-rejected and unlock-failed; by
 *             client (REPORT_CLIENT; records of no client are in the
 *             total and the roles only), by every role named
 *             (REPORT_ROLE), and by time bucket
 *   destroy   "destroy" records: outcome allowed is done, error failed,
 *             each with the sum of their bytes
 *   shares    share-* records by action (REPORT_SHARE): allowed,
 *             refused (denied), error
 * A missing user counts as REPORT_NO_USER, an empty roles field as
 * REPORT_NO_ROLE; a missing or malformed kind or class as
 * REPORT_UNKNOWN.
 *
 * Grants: a (role, user) pair is used when a record with outcome
 * allowed, rule exactly "role NAME" and that user has until -
 * REPORT_GRANT_DAYS days <= time < until (days of 86,400 s). That window
 * may start before since: report_scan_from() is the earlier of the two,
 * and records before since count for the grants only.
 *
 * Buckets: hours (3,600 s each from since) when until - since is at most
 * REPORT_HOUR_DAYS days, else local days (the first from since to the
 * next local midnight). The range may be at most REPORT_MAX_DAYS days.
 *
 * Errors: 0 or a negative errno: -EINVAL for bad arguments (or a query
 * before report_finish()), -ERANGE for a range too long, -ENOMEM, -EIO
 * when the output cannot be written, -ENOENT past the end of a table.
 */
#ifndef DOSSIER_REPORT_H
#define DOSSIER_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit.h"

#define REPORT_GRANT_DAYS  90
#define REPORT_HOUR_DAYS   3
#define REPORT_MAX_DAYS    3660
#define REPORT_TOP_CLIENTS 10       /* bars of the HTML client chart */
#define REPORT_NO_USER     "(no user)"
#define REPORT_NO_ROLE     "(no role)"
#define REPORT_UNKNOWN     "(unknown)"

struct report;

enum report_format {
	REPORT_TEXT,                 /* aligned, for a terminal */
	REPORT_CSV,                  /* RFC 4180, CRLF; see report_write() */
	REPORT_HTML,                 /* one self-contained page */
};

enum report_unit {
	REPORT_HOUR,
	REPORT_DAY,
};

/*
 * The tables, and what their entries hold. Entries are in the order the
 * report shows them: by n[0] descending, then key and key2 ascending
 * (strcmp), except REPORT_SHARE (share-request, share-approve,
 * share-reject, share-export, share-receipt, always there, then any
 * other share-* action by name) and REPORT_GRANT (by role, then user).
 */
enum report_table {
	REPORT_LEAK,         /* key rule or action, key2 user; n[0] events */
	REPORT_ABUSE_USER,   /* key user; n[0] denied attempts */
	REPORT_ABUSE_ROLE,   /* key role; n[0] denied attempts */
	REPORT_ALERT_RULE,   /* key rule, key2 kind; n[0] alerts */
	REPORT_ALERT_CLASS,  /* key class; n[0] alerts */
	REPORT_CLIENT,       /* key client; n[0] accesses */
	REPORT_ROLE,         /* key role; n[0] accesses */
	REPORT_SHARE,        /* key action; n[0] allowed, n[1] refused,
	                      * n[2] error */
	REPORT_GRANT,        /* key role, key2 user; n[0] uses in the window */
	REPORT_NTABLES
};

struct report_entry {
	const char *key;
	const char *key2;            /* NULL for one-key tables */
	uint64_t n[3];
};

struct report_totals {
	int64_t since_us, until_us;  /* the range */
	int64_t scan_from_us;        /* report_scan_from() */
	uint64_t records;            /* records counted in the range */
	uint64_t damaged;            /* report_damaged() calls */
	uint64_t leak;               /* leak_alerts + leak_shares */
	uint64_t leak_alerts;
	uint64_t leak_shares;
	uint64_t abuse;
	uint64_t alerts;
	uint64_t lockouts;
	uint64_t unlocks;
	uint64_t notify_failed;
	uint64_t accesses;
	uint64_t destroyed, destroyed_bytes;
	uint64_t destroy_failed, destroy_failed_bytes;
	uint64_t grants;             /* pairs given to report_grant() */
	uint64_t grants_unused;
	int64_t retention;           /* files past retention; -1 not counted */
};

/* A report of [since_us, until_us) (UTC microseconds, since < until). */
int report_new(int64_t since_us, int64_t until_us, struct report **out);

/* Frees r; NULL is ignored. */
void report_free(struct report *r);

/* Where the records must start: min(since, until - 90 days), >= 0. */
int64_t report_scan_from(const struct report *r);

/* Watches the grant of role to user (copied; a repeat is ignored). */
int report_grant(struct report *r, const char *role, const char *user);

/* Counts one record (records out of [scan_from, until) are ignored). 0,
 * -ENOMEM (the record is then partly counted), -EINVAL after finish. */
int report_add(struct report *r, const struct audit_row *row);

/* One record could not be read (it is counted as damaged, no more). */
void report_damaged(struct report *r);

/* The number of files past retention, or -1 for "not counted". */
void report_set_retention(struct report *r, int64_t files);

/* Sorts the tables; after it only the queries and the writer. */
int report_finish(struct report *r);

void report_totals(const struct report *r, struct report_totals *t);

/* Entries in table t (after report_finish()). */
size_t report_count(const struct report *r, enum report_table t);

/* Entry i of table t, in the order above; -ENOENT past the end. Strings
 * live as long as r. */
int report_entry(const struct report *r, enum report_table t, size_t i,
                 struct report_entry *e);

enum report_unit report_unit(const struct report *r);
size_t report_nbuckets(const struct report *r);

/* Bucket i: its start (UTC microseconds) and its accesses. */
int report_bucket(const struct report *r, size_t i, int64_t *start_us,
                  uint64_t *accesses);

/* What the report says about where it comes from. */
struct report_head {
	const char *vault;
	const char *policy;          /* the policy version */
	int64_t generated_us;
	int chain_ok;                /* 1: audit_verify() found all well */
	const char *chain;           /* its finding, one line */
	const char *retention_by;    /* "MNT as USER", or NULL */
};

/*
 * Writes the report (after report_finish()). Untrusted names are
 * escaped: TEXT shows control characters, bidirectional controls,
 * backslashes and bytes that are not UTF-8 as C escapes (\\, \xNN);
 * CSV quotes as RFC 4180 asks and puts a ' before a name that starts
 * with =, +, -, @, tab or CR (so that no spreadsheet runs it as a
 * formula); HTML escapes &, <, >, " and ' and shows those characters as
 * U+FFFD. The HTML page has inline CSS and SVG charts only (accesses
 * per bucket, one bar each; denied attempts by role, the 20 most; the
 * REPORT_TOP_CLIENTS clients with the most accesses): no script, no
 * link, no URL.
 *
 * CSV layout: the header "section,key,subkey,value", then one row per
 * figure, CRLF line ends:
 *   report,vault|since|until|generated|policy|chain|chain-detail|
 *          records|damaged|bucket|retention-by,,TEXT
 *   leak,total|exfiltration-alerts|refused-shares,,N
 *   leak-source,RULE-OR-ACTION,USER,N
 *   abuse,total,,N          abuse-user,USER,,N       abuse-role,ROLE,,N
 *   abnormal,total|lockouts|unlocks|notify-failed,,N
 *   abnormal-rule,RULE,KIND,N                        abnormal-class,CLASS,,N
 *   activity,total,,N       activity-client,CLIENT,,N
 *   activity-role,ROLE,,N   activity-time,START,,N   (START local,
 *                           "YYYY-MM-DD HH:MM" or "YYYY-MM-DD")
 *   destruction,done|failed,count|bytes,N
 *   retention,overdue,,N or "not computed"
 *   grants,checked|unused,,N                         grant-unused,ROLE,USER,0
 *   share,ACTION,allowed|refused|error,N
 * The HTML tables carry the same sections as their id and the keys of
 * figure rows as data-key.
 */
int report_write(const struct report *r, const struct report_head *h,
                 enum report_format f, FILE *out);

#endif
