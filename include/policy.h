/*
 * policy: the role policy, loaded from INI files into an immutable
 * snapshot and asked once per access.
 *
 * policy_load() reads every "*.ini" file of a directory (names starting
 * with '.' are skipped; files are read in strcmp order). The directory
 * and every file must be owned by root (or by the effective uid of the
 * caller, which for the daemon is root) and must not be writable by group
 * or others, by mode or by any POSIX ACL entry; symbolic links and
 * anything that is not a regular file are refused. Any error rejects the
 * whole policy: every problem is passed to the report callback (file,
 * line or 0, message), nothing is returned and *out is left untouched.
 * Warnings (an entry that can never match, an allow rule that a deny rule
 * fully shadows) are reported too but do not reject. policy/README.md is
 * the reference of the file format.
 *
 * policy_decide() is pure: no I/O, no allocation, no globals. Default
 * deny; a deny (a role's `deny` or a deny rule) beats any allow; no match
 * means deny. uid 0 is not special: "root" gets what the policy grants to
 * the user name "root" and nothing else. A loaded policy is never
 * modified, so any number of threads may call the query functions on it
 * at once; swap snapshots with an atomic pointer and free the old one
 * once no thread uses it. Strings returned by the query functions live as
 * long as the policy. policy_decide(), policy_explain() and
 * policy_allowed() take a NULL policy (and deny, as "no policy"); the
 * other query functions need a loaded one.
 *
 * [alert NAME] sections (rules for abnormal access, weighed by the alert
 * engine, alert.h) and the notification settings are read and checked
 * with the rest; the query functions at the end of this header give them
 * out, and the matchers there (policy_alert_watches() and the others)
 * are pure like policy_decide().
 *
 * Returns: 0 or a negative errno: -EINVAL for a policy that is wrong or
 * unsafe, -ENOMEM, or the errno of a failed read; -ENOENT from a lookup
 * that finds nothing.
 */
#ifndef DOSSIER_POLICY_H
#define DOSSIER_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct policy;
struct policy_who;

enum policy_perm {
	POL_LIST     = 1u << 0,
	POL_READ     = 1u << 1,
	POL_WRITE    = 1u << 2,
	POL_CREATE   = 1u << 3,
	POL_RENAME   = 1u << 4,
	POL_DELETE   = 1u << 5,
	POL_REGISTER = 1u << 6,
	POL_AUDIT    = 1u << 7,
	POL_SHARE    = 1u << 8,
	POL_ADMIN    = 1u << 9,
};
#define POL_ALL 0x3ffu

/* Called once per problem: file is the path as dir/name (or dir itself),
 * line is 1-based or 0 for a problem of the whole file; warning is 1 for
 * a warning, 0 for an error. msg has no file, line or trailing newline. */
typedef void (*policy_report_fn)(void *ctx, const char *file, int line,
                                 int warning, const char *msg);

/* Loads dir. report may be NULL. On success *out is the new policy, to
 * be released with policy_free(). */
int policy_load(const char *dir, policy_report_fn report, void *ctx,
                struct policy **out);

/* Frees p; NULL is ignored. */
void policy_free(struct policy *p);

/*
 * One access. user is the caller's name, groups its group names (primary
 * and supplementary, resolved by the daemon). client is the client folder
 * (its name under the mount root), or NULL for the mount root itself,
 * where POL_LIST is allowed to anyone who belongs to at least one role,
 * and POL_AUDIT and POL_ADMIN to those granted them over every client
 * (the root's .audit; unlocking a user); nothing else is allowed there.
 * client_owner is the user who created the client folder, or NULL; it
 * counts like `owner =` in a [client] section. For
 * POL_REGISTER (creating client folder `client`, path "") the caller is
 * the owner-to-be, unless a [client] section of that name names another
 * owner. path (not NULL when client is set; ignored at the mount root)
 * is the path inside the client folder: "" for the folder itself, else
 * components of 1 to NAME_MAX bytes joined by '/', without a leading or
 * trailing '/', "." or "..". perm is exactly one POL_ bit; when is the
 * local time (tm_wday, tm_hour and tm_min are used). who is NULL, or
 * the caller's memberships made by policy_who_new() from this policy and
 * the same user and groups: it makes the decision independent of how
 * many members roles and teams have. A request that breaks any of this
 * is denied as "invalid request".
 */
struct policy_req {
	const char *user;
	const char *const *groups;
	size_t ngroups;
	const char *client;
	const char *client_owner;
	const char *path;
	unsigned perm;
	const struct tm *when;
	const struct policy_who *who;
};

/* rule names what decided: "role NAME", "rule NAME", "default deny",
 * "invalid request" or "no policy". */
struct policy_decision {
	int allow;
	char rule[160];
};

void policy_decide(const struct policy *p, const struct policy_req *r,
                   struct policy_decision *d);

/* For `policy explain`: decides like policy_decide() and calls fn once
 * for every role the user belongs to and every rule that names one of
 * them, in the order they are weighed (roles, then rules, each in file
 * order). entry is "role NAME" or "rule NAME"; effect is 1 if the entry
 * allows this request, -1 if it denies it, 0 if it does not apply, and
 * then why says which condition failed ("scope does not reach the
 * client", "outside its days or hours", "path does not match files",
 * "permission not listed"). fn may be NULL. */
typedef void (*policy_trace_fn)(void *ctx, const char *entry, int effect,
                                const char *why);
void policy_explain(const struct policy *p, const struct policy_req *r,
                    policy_trace_fn fn, void *ctx,
                    struct policy_decision *d);

/* The set of POL_ bits the policy allows for r, whose perm is ignored:
 * one policy_decide() per permission. 0 for an invalid request. */
unsigned policy_allowed(const struct policy *p, const struct policy_req *r);

/* "list", "read", ... for one POL_ bit; NULL for anything else. */
const char *policy_perm_name(unsigned perm);

/* Parses one permission name, or "all" (every bit), into *out. Returns
 * 0 or -EINVAL. */
int policy_perm_parse(const char *name, unsigned *out);

/* First 16 hex digits of a BLAKE2b hash over the names and contents of
 * the loaded files: two policies loaded from the same files have the same
 * version. Record it with every decision. */
const char *policy_version(const struct policy *p);

/* The `node` of [settings], or NULL if unset. */
const char *policy_node(const struct policy *p);

/* The roles a user belongs to (by name or by one of groups), in file
 * order. Stores up to max names in names[] and returns how many roles
 * there are, which may be more than max. */
size_t policy_user_roles(const struct policy *p, const char *user,
                         const char *const *groups, size_t ngroups,
                         const char **names, size_t max);

/* The roles and teams user (with groups) belongs to under p, worked out
 * once: a caller's memberships for as long as p and its groups stay the
 * same. Returns 0, -EINVAL or -ENOMEM. Free with policy_who_free(),
 * before p. */
int policy_who_new(const struct policy *p, const char *user,
                   const char *const *groups, size_t ngroups,
                   struct policy_who **out);
void policy_who_free(struct policy_who *w);

/* One [role] section, as written (scope is the text of `scope`). */
struct policy_role {
	const char *name;
	const char *const *members;  /* user names and "@group" names */
	size_t nmembers;
	const char *scope;
	unsigned allow;
	unsigned deny;
	const char *description;     /* NULL if none */
	const char *file;
	int line;
};

size_t policy_nroles(const struct policy *p);

/* Role i (0 <= i < policy_nroles()), in file order; -ENOENT past the end. */
int policy_role_at(const struct policy *p, size_t i, struct policy_role *out);

/* One [client] section. closed, retention and hold are kept as written
 * and not interpreted here; NULL when absent, as are owner and team. */
struct policy_client {
	const char *name;
	const char *owner;
	const char *team;
	const char *const *members;
	size_t nmembers;
	const char *closed;
	const char *retention;
	const char *hold;
	const char *file;
	int line;
};

size_t policy_nclients(const struct policy *p);

/* Client i, in strcmp order of names; -ENOENT past the end. */
int policy_client_at(const struct policy *p, size_t i,
                     struct policy_client *out);

/* The [client] section of name; -ENOENT if the policy has none (the
 * folder may still exist: the policy need not list every client). */
int policy_client_find(const struct policy *p, const char *name,
                       struct policy_client *out);

/*
 * Retention and legal hold of a file of client (changed at mtime), at
 * time now. A hold comes from the client's `hold` or a [hold] whose
 * scope reaches the client. Retention periods come from the client's
 * `retention` (counted from its `closed` date) and from every
 * [retention] that reaches it (from the closing date, or with `from =
 * changed` from the file's last change); the longest wins: due_at is the
 * latest end. A period counted from the closing date of a client that is
 * not closed never ends. due is 1 when retention ended and no hold
 * applies: a hold beats retention. why says it in words.
 */
struct policy_keep {
	const char *hold;            /* the hold's reason, or NULL */
	char hold_by[96];            /* "hold NAME" or "client NAME" */
	unsigned retentions;         /* periods that apply */
	time_t due_at;               /* when the longest ends; 0: never */
	char by[96];                 /* which one that is */
	int due;
	char why[256];
};
void policy_keep(const struct policy *p, const char *client, time_t mtime,
                 time_t now, struct policy_keep *k);

/* ---- alert rules ------------------------------------------------------ */

/* What an [alert] counts, per user, within its window. */
enum policy_alert_kind {
	POL_ALERT_READS = 1,     /* files opened for reading */
	POL_ALERT_CLIENTS,       /* distinct client folders touched */
	POL_ALERT_OFF_HOURS,     /* accesses outside its days and hours */
	POL_ALERT_DENIALS,       /* denied attempts */
	POL_ALERT_MASS_CHANGE,   /* deletions plus renames */
	POL_ALERT_SENSITIVE,     /* reads of files matching its files */
};

/* What the daemon does when an alert fires; RECORD is always set. */
enum policy_alert_response {
	POL_RESPONSE_RECORD  = 1u << 0,   /* record the alert event */
	POL_RESPONSE_NOTIFY  = 1u << 1,   /* ... and run the notify command */
	POL_RESPONSE_LOCKOUT = 1u << 2,   /* ... and lock the user out */
};

#define POL_ALERT_THRESHOLD_MAX  100000u  /* largest threshold */
#define POL_ALERT_WINDOW_MAX     86400u   /* longest window, seconds */
#define POL_NOTIFY_TIMEOUT_MAX   300u     /* longest notify_timeout */
#define POL_NOTIFY_TIMEOUT_DEF   10u      /* notify_timeout when unset */

/* One [alert] section. An alert fires for a user when its count within
 * the window goes over threshold. window_s is 0 only for an off-hours
 * alert written without a window. Without `roles` (or with roles = *)
 * any_role is 1 and the alert watches every user, even one in no role;
 * else roles are the names as written (all of them defined roles).
 * days and hours (off-hours) are the text as written, files (sensitive)
 * the globs; NULL and 0 where the section has none. */
struct policy_alert {
	const char *name;
	enum policy_alert_kind kind;
	uint64_t threshold;
	unsigned window_s;
	unsigned response;           /* POL_RESPONSE_ bits */
	int any_role;
	const char *const *roles;
	size_t nroles;
	const char *const *files;
	size_t nfiles;
	const char *days;
	const char *hours;
	const char *description;     /* NULL if none */
	const char *file;
	int line;
};

size_t policy_nalerts(const struct policy *p);

/* Alert i (0 <= i < policy_nalerts()), in file order (files in strcmp
 * order, as they are read); -ENOENT past the end. */
int policy_alert_at(const struct policy *p, size_t i,
                    struct policy_alert *out);

/* "reads", "clients", "off-hours", "denials", "mass-change",
 * "sensitive"; NULL for anything else. */
const char *policy_alert_kind_name(enum policy_alert_kind kind);

/* "record", "notify" or "lockout" for one POL_RESPONSE_ bit; NULL for
 * anything else. */
const char *policy_alert_response_name(unsigned bit);

/* Whether alert i watches user (with groups, or with who, the caller's
 * memberships from policy_who_new() on this policy, which then wins):
 * 1 if it does, 0 if not, -EINVAL for a bad index or arguments. */
int policy_alert_watches(const struct policy *p, size_t i, const char *user,
                         const char *const *groups, size_t ngroups,
                         const struct policy_who *who);

/* Whether local time when (tm_wday, tm_hour, tm_min) is inside the days
 * and hours of alert i: 1 inside, 0 outside (an off-hours alert fires
 * on accesses outside); -EINVAL for a bad index or time. An alert
 * without days and hours is inside at any time. */
int policy_alert_in_hours(const struct policy *p, size_t i,
                          const struct tm *when);

/* Whether path (inside a client folder, as in struct policy_req) matches
 * the files of alert i, with the glob rules of `files` in roles and
 * rules: 1 or 0; "" (the folder itself) never matches an alert with
 * files; an alert without files matches everything. -EINVAL for a bad
 * index or path. */
int policy_alert_path_matches(const struct policy *p, size_t i,
                              const char *path);

/* The `notify` command of [settings] (an absolute path, not checked for
 * existence: a missing command is the daemon's run-time failure), or
 * NULL if unset. */
const char *policy_notify(const struct policy *p);

/* The `notify_timeout` of [settings] in seconds (1 to 300), or
 * POL_NOTIFY_TIMEOUT_DEF when unset. */
unsigned policy_notify_timeout_s(const struct policy *p);

#endif
