/* Role policy: see include/policy.h for the contract and policy/README.md
 * for the file format. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <acl/libacl.h>
#include <ini.h>
#include <sodium.h>

#include "policy.h"

#define NAME_LEN  64u   /* longest role, rule, team or node name */
#define MAXSPANS  8u    /* hour ranges per entry */
#define ALLDAYS   0x7fu

enum kind { E_ROLE, E_RULE, E_CLIENT, E_TEAM, E_SETTINGS, E_RETENTION,
            E_HOLD, E_ALERT, E_KINDS };

enum key {
	K_MEMBERS, K_SCOPE, K_ALLOW, K_DENY, K_FILES, K_DAYS, K_HOURS,
	K_DESCRIPTION, K_ROLES, K_EFFECT, K_PERMISSIONS, K_OWNER, K_TEAM,
	K_CLOSED, K_RETENTION, K_HOLD, K_NODE, K_PERIOD, K_FROM, K_REASON,
	K_KIND, K_THRESHOLD, K_WINDOW, K_RESPONSE, K_NOTIFY, K_NOTIFY_TIMEOUT,
	K_COUNT
};

static const char *const key_names[K_COUNT] = {
	"members", "scope", "allow", "deny", "files", "days", "hours",
	"description", "roles", "effect", "permissions", "owner", "team",
	"closed", "retention", "hold", "node", "period", "from", "reason",
	"kind", "threshold", "window", "response", "notify", "notify_timeout",
};

#define B(k) (1u << (k))
_Static_assert(K_COUNT <= 32, "a key set fits in an unsigned");

/* The keys each section type accepts and, of those, the ones it needs. */
static const struct {
	const char *name;
	int named;
	unsigned keys;
	unsigned required;
} kinds[E_KINDS] = {
	[E_ROLE] = { "role", 1,
		B(K_MEMBERS) | B(K_SCOPE) | B(K_ALLOW) | B(K_DENY) | B(K_FILES) |
		B(K_DAYS) | B(K_HOURS) | B(K_DESCRIPTION),
		B(K_MEMBERS) | B(K_SCOPE) | B(K_ALLOW) },
	[E_RULE] = { "rule", 1,
		B(K_ROLES) | B(K_EFFECT) | B(K_PERMISSIONS) | B(K_SCOPE) |
		B(K_FILES) | B(K_DAYS) | B(K_HOURS) | B(K_DESCRIPTION),
		B(K_ROLES) | B(K_EFFECT) | B(K_PERMISSIONS) },
	[E_CLIENT] = { "client", 1,
		B(K_OWNER) | B(K_MEMBERS) | B(K_TEAM) | B(K_CLOSED) |
		B(K_RETENTION) | B(K_HOLD) | B(K_DESCRIPTION), 0 },
	[E_TEAM] = { "team", 1, B(K_MEMBERS) | B(K_DESCRIPTION), B(K_MEMBERS) },
	[E_SETTINGS] = { "settings", 0,
		B(K_NODE) | B(K_NOTIFY) | B(K_NOTIFY_TIMEOUT), 0 },
	[E_RETENTION] = { "retention", 1,
		B(K_SCOPE) | B(K_PERIOD) | B(K_FROM) | B(K_DESCRIPTION),
		B(K_SCOPE) | B(K_PERIOD) },
	[E_HOLD] = { "hold", 1, B(K_SCOPE) | B(K_REASON) | B(K_DESCRIPTION),
		B(K_SCOPE) | B(K_REASON) },
	/* threshold, window, days, hours and files: required or refused
	 * by kind, in compile_alert(). */
	[E_ALERT] = { "alert", 1,
		B(K_KIND) | B(K_THRESHOLD) | B(K_WINDOW) | B(K_RESPONSE) |
		B(K_ROLES) | B(K_DAYS) | B(K_HOURS) | B(K_FILES) |
		B(K_DESCRIPTION),
		B(K_KIND) | B(K_RESPONSE) },
};

/* Indexed by enum policy_alert_kind. */
static const char *const alert_kinds[] = {
	[POL_ALERT_READS] = "reads",
	[POL_ALERT_CLIENTS] = "clients",
	[POL_ALERT_OFF_HOURS] = "off-hours",
	[POL_ALERT_DENIALS] = "denials",
	[POL_ALERT_MASS_CHANGE] = "mass-change",
	[POL_ALERT_SENSITIVE] = "sensitive",
};
#define NALERT_KINDS (sizeof(alert_kinds) / sizeof(alert_kinds[0]))

/* Bit i is POL_RESPONSE_ 1 << i. */
static const char *const response_names[] = { "record", "notify",
                                              "lockout" };

static const char *const perm_names[] = {
	"list", "read", "write", "create", "rename", "delete", "register",
	"audit", "share", "admin",
};
_Static_assert(sizeof(perm_names) / sizeof(perm_names[0]) == 10 &&
               POL_ALL == (1u << 10) - 1, "one name per permission bit");

static const char *const day_names[7] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat",   /* tm_wday order */
};

struct strv {
	char **v;
	size_t n;
};

enum scope_kind { SC_NONE, SC_ALL, SC_ASSIGNED, SC_TEAM, SC_TEAM_NAMED,
                  SC_CLIENTS };

struct scope {
	enum scope_kind kind;
	char *team;               /* SC_TEAM_NAMED */
	struct strv globs;        /* SC_CLIENTS */
};

/* Minutes since midnight, from included, to excluded. */
struct span {
	unsigned short from, to;
};

struct window {
	unsigned days;            /* bit tm_wday */
	size_t nspans;            /* 0: all day */
	struct span spans[MAXSPANS];
};

/* One section of any type; only the fields of its kind are used. */
struct entry {
	enum kind kind;
	char *name;
	const char *file;         /* owned by policy.files */
	int line;
	size_t seq;               /* load order */
	size_t idx;               /* index in the roles or teams of its policy */
	int kline[K_COUNT];       /* line of each key, 0 if absent */
	char *raw[K_COUNT];       /* values; continuation lines joined by '\n' */
	struct strv members;
	struct strv files;
	struct strv rolenames;    /* rule */
	const struct entry **roles;  /* rule: resolved rolenames */
	size_t nroles;
	int any_role;             /* rule: roles = * */
	struct scope scope;
	int has_scope;
	unsigned allow, deny;
	struct window when;
	const struct entry *team; /* client */
	int never;                /* role or rule that can never match */
	/* Retention: a [retention] section's period, or a [client]'s
	 * retention (from its closing date). */
	int period;               /* 0: none */
	char unit;                /* 'd', 'm' or 'y' */
	int from_changed;         /* counted from the file's last change */
	int has_closed;           /* client: closed = YYYY-MM-DD */
	struct tm closed;         /* ... that day, 00:00 UTC */
	/* [alert]: its roles are rolenames, roles and any_role, as for a
	 * rule; its days and hours are when. */
	enum policy_alert_kind alert_kind;  /* 0 if unknown */
	uint64_t threshold;
	unsigned window_s;        /* 0: none given */
	unsigned response;        /* POL_RESPONSE_ bits */
	unsigned timeout_s;       /* settings: notify_timeout */
};

struct policy {
	struct entry **all;       /* owns every entry, in load order */
	size_t nall;
	/* In load order. */
	const struct entry **roles, **rules, **teams, **alerts;
	size_t nroles, nrules, nteams, nalerts;
	const struct entry **clients;                  /* by name */
	size_t nclients;
	const struct entry *settings;
	char **files;             /* display paths of the loaded files */
	size_t nfiles;
	char version[17];
};

/* State of one policy_load(). */
struct loader {
	struct policy *p;
	policy_report_fn report;
	void *rctx;
	const char *file;         /* display path of the file being read */
	FILE *fp;
	char *buf;                /* getline() buffer */
	size_t cap;
	int line;
	int have_key;             /* inih holds a key: an indented line continues it */
	int cont;                 /* the current line continues a value */
	int expect;               /* the current line must reach on_pair() */
	int reached;
	struct entry *cur;        /* section being read, NULL outside any */
	int skip;                 /* the current section was refused */
	int last;                 /* key of the last key line, -1 if none */
	int errors;
	int ioerr;                /* errno of the first failed read */
	int nomem;
	crypto_generichash_state hash;
};

/* ---- reports ----------------------------------------------------------- */

__attribute__((format(printf, 5, 6)))
static void say(struct loader *l, const char *file, int line, int warning,
                const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!warning)
		l->errors++;
	if (l->report != NULL)
		l->report(l->rctx, file, line, warning, msg);
}

static void nomem(struct loader *l)
{
	if (!l->nomem)
		say(l, l->file != NULL ? l->file : "policy", 0, 0,
		    "out of memory");
	l->nomem = 1;
}

/* "role NAME" or "settings" into buf. */
static const char *label(const struct entry *e, char *buf, size_t size)
{
	if (kinds[e->kind].named)
		snprintf(buf, size, "%s %s", kinds[e->kind].name, e->name);
	else
		snprintf(buf, size, "%s", kinds[e->kind].name);
	return buf;
}

/* ---- small parsers ----------------------------------------------------- */

static int good_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_LEN || !isalnum((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("._-", s[i]) == NULL)
			return 0;
	return 1;
}

static int good_client(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_MAX || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0 || strchr(s, '/') != NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (iscntrl((unsigned char)s[i]))
			return 0;
	return 1;
}

/* A user name, or "@group". */
static int good_member(const char *s)
{
	if (*s == '@')
		s++;
	if (*s == '\0' || *s == '@')
		return 0;
	for (; *s != '\0'; s++)
		if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s) ||
		    *s == ',')
			return 0;
	return 1;
}

static void strv_free(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

/* Splits s at any of seps into trimmed, non-empty items. */
static int split(struct loader *l, const char *s, const char *seps,
                 struct strv *out)
{
	while (*s != '\0') {
		size_t len = strcspn(s, seps), a = 0, b = len;
		char **v;

		while (a < b && isspace((unsigned char)s[a]))
			a++;
		while (b > a && isspace((unsigned char)s[b - 1]))
			b--;
		if (b > a) {
			v = realloc(out->v, (out->n + 1) * sizeof(*v));
			if (v == NULL)
				goto fail;
			out->v = v;
			if ((v[out->n] = strndup(s + a, b - a)) == NULL)
				goto fail;
			out->n++;
		}
		s += len;
		if (*s != '\0')
			s++;
	}
	return 0;
fail:
	nomem(l);
	return -ENOMEM;
}

static int day_of(const char *s, size_t len)
{
	for (int d = 0; d < 7; d++)
		if (len == 3 && strncasecmp(s, day_names[d], 3) == 0)
			return d;
	return -1;
}

/* "mon", "mon-fri" (a range may wrap past sunday) or "all". */
static int parse_days(const char *item, unsigned *days)
{
	const char *dash = strchr(item, '-');
	int a, b;

	if (strcmp(item, "all") == 0) {
		*days |= ALLDAYS;
		return 0;
	}
	if (dash == NULL) {
		if ((a = day_of(item, strlen(item))) < 0)
			return -1;
		*days |= 1u << a;
		return 0;
	}
	a = day_of(item, (size_t)(dash - item));
	b = day_of(dash + 1, strlen(dash + 1));
	if (a < 0 || b < 0)
		return -1;
	for (int d = a;; d = (d + 1) % 7) {
		*days |= 1u << d;
		if (d == b)
			break;
	}
	return 0;
}

/* H:MM or HH:MM, 00:00 to 24:00; advances *s. */
static int hhmm(const char **s, int *min)
{
	const char *p = *s;
	int h = 0, n = 0;

	while (n < 2 && isdigit((unsigned char)*p)) {
		h = h * 10 + (*p++ - '0');
		n++;
	}
	if (n == 0 || *p != ':' || !isdigit((unsigned char)p[1]) ||
	    !isdigit((unsigned char)p[2]))
		return -1;
	*min = h * 60 + (p[1] - '0') * 10 + (p[2] - '0');
	if (h > 24 || (p[1] - '0') > 5 || *min > 24 * 60)
		return -1;
	*s = p + 3;
	return 0;
}

/* "08:00-19:00" (end excluded, within one day) or "all". */
static int parse_span(const char *item, struct window *w)
{
	const char *s = item;
	int from, to;

	if (strcmp(item, "all") == 0) {
		w->nspans = 0;
		return 1;
	}
	if (hhmm(&s, &from) != 0 || *s++ != '-' || hhmm(&s, &to) != 0 ||
	    *s != '\0' || from >= to)
		return -1;
	if (w->nspans == MAXSPANS)
		return -2;
	w->spans[w->nspans].from = (unsigned short)from;
	w->spans[w->nspans].to = (unsigned short)to;
	w->nspans++;
	return 0;
}

/* ---- compiling one section --------------------------------------------- */

static int compile_members(struct loader *l, struct entry *e)
{
	if (e->raw[K_MEMBERS] == NULL)
		return 0;
	if (split(l, e->raw[K_MEMBERS], ",\n", &e->members) != 0)
		return -1;
	if (e->members.n == 0)
		say(l, e->file, e->kline[K_MEMBERS], 0, "empty members");
	for (size_t i = 0; i < e->members.n; i++)
		if (!good_member(e->members.v[i]))
			say(l, e->file, e->kline[K_MEMBERS], 0,
			    "bad member '%s'", e->members.v[i]);
	return 0;
}

static int compile_perms(struct loader *l, struct entry *e, enum key k,
                         unsigned *out)
{
	struct strv sv = { 0 };
	unsigned bit;

	if (e->raw[k] == NULL)
		return 0;
	if (split(l, e->raw[k], ",\n", &sv) != 0)
		return -1;
	if (sv.n == 0)
		say(l, e->file, e->kline[k], 0, "empty permission list");
	for (size_t i = 0; i < sv.n; i++) {
		if (policy_perm_parse(sv.v[i], &bit) == 0)
			*out |= bit;
		else
			say(l, e->file, e->kline[k], 0,
			    "unknown permission '%s'", sv.v[i]);
	}
	strv_free(&sv);
	return 0;
}

static int compile_scope(struct loader *l, struct entry *e)
{
	const char *s = e->raw[K_SCOPE];
	struct scope *sc = &e->scope;

	if (s == NULL)
		return 0;
	e->has_scope = 1;
	if (strcmp(s, "all") == 0)
		sc->kind = SC_ALL;
	else if (strcmp(s, "none") == 0)
		sc->kind = SC_NONE;
	else if (strcmp(s, "assigned") == 0)
		sc->kind = SC_ASSIGNED;
	else if (strcmp(s, "team") == 0)
		sc->kind = SC_TEAM;
	else if (strncmp(s, "team:", 5) == 0 && good_name(s + 5)) {
		sc->kind = SC_TEAM_NAMED;
		if ((sc->team = strdup(s + 5)) == NULL) {
			nomem(l);
			return -1;
		}
	} else if (strncmp(s, "clients:", 8) == 0) {
		sc->kind = SC_CLIENTS;
		if (split(l, s + 8, " \t\r\n", &sc->globs) != 0)
			return -1;
		if (sc->globs.n == 0)
			goto bad;
	} else
		goto bad;
	return 0;
bad:
	sc->kind = SC_NONE;
	say(l, e->file, e->kline[K_SCOPE], 0, "bad scope '%s': expected all, "
	    "assigned, team, team:NAME, clients:GLOB... or none", s);
	return 0;
}

static int compile_files(struct loader *l, struct entry *e)
{
	if (e->raw[K_FILES] == NULL)
		return 0;
	if (split(l, e->raw[K_FILES], ",\n", &e->files) != 0)
		return -1;
	if (e->files.n == 0)
		say(l, e->file, e->kline[K_FILES], 0, "empty files");
	return 0;
}

static int compile_window(struct loader *l, struct entry *e)
{
	struct strv sv = { 0 };
	int r;

	e->when.days = e->raw[K_DAYS] != NULL ? 0 : ALLDAYS;
	if (e->raw[K_DAYS] != NULL) {
		if (split(l, e->raw[K_DAYS], ",\n", &sv) != 0)
			return -1;
		r = sv.n == 0 ? -1 : 0;
		for (size_t i = 0; i < sv.n; i++)
			if (parse_days(sv.v[i], &e->when.days) != 0)
				r = -1;
		if (r != 0)
			say(l, e->file, e->kline[K_DAYS], 0, "bad days '%s': "
			    "expected day names (mon, tue, ...), ranges like "
			    "mon-fri, or all", e->raw[K_DAYS]);
		strv_free(&sv);
	}
	if (e->raw[K_HOURS] == NULL)
		return 0;
	if (split(l, e->raw[K_HOURS], ",\n", &sv) != 0)
		return -1;
	r = sv.n == 0 ? -1 : 0;
	for (size_t i = 0; i < sv.n && r == 0; i++)
		r = parse_span(sv.v[i], &e->when);
	if (r == 1)
		e->when.nspans = 0;
	if (r == -2)
		say(l, e->file, e->kline[K_HOURS], 0,
		    "too many hour ranges (at most %u)", MAXSPANS);
	else if (r < 0)
		say(l, e->file, e->kline[K_HOURS], 0, "bad hours '%s': expected "
		    "HH:MM-HH:MM (end excluded, not past 24:00) or all",
		    e->raw[K_HOURS]);
	strv_free(&sv);
	return 0;
}

/* The `roles` of a rule or an alert: names, or "*" alone. */
static int compile_roles(struct loader *l, struct entry *e)
{
	if (e->raw[K_ROLES] == NULL)
		return 0;
	if (split(l, e->raw[K_ROLES], ",\n", &e->rolenames) != 0)
		return -1;
	if (e->rolenames.n == 0)
		say(l, e->file, e->kline[K_ROLES], 0, "empty roles");
	for (size_t i = 0; i < e->rolenames.n; i++) {
		if (strcmp(e->rolenames.v[i], "*") == 0)
			e->any_role = 1;
		else if (!good_name(e->rolenames.v[i]))
			say(l, e->file, e->kline[K_ROLES], 0,
			    "bad role name '%s'", e->rolenames.v[i]);
	}
	if (e->any_role && e->rolenames.n > 1)
		say(l, e->file, e->kline[K_ROLES], 0,
		    "'*' must stand alone in roles");
	return 0;
}

static int compile_rule(struct loader *l, struct entry *e)
{
	const char *eff = e->raw[K_EFFECT];
	unsigned perms = 0;

	if (compile_perms(l, e, K_PERMISSIONS, &perms) != 0)
		return -1;
	if (eff != NULL && strcmp(eff, "allow") == 0)
		e->allow = perms;
	else if (eff != NULL && strcmp(eff, "deny") == 0)
		e->deny = perms;
	else if (eff != NULL)
		say(l, e->file, e->kline[K_EFFECT], 0,
		    "bad effect '%s': expected allow or deny", eff);
	return compile_roles(l, e);
}

/* "N" followed by d, m or y (N from 1 to 9999) into e's period. */
static void compile_period(struct loader *l, struct entry *e, int key)
{
	const char *v = e->raw[key];
	char *end;
	long n;

	if (v == NULL)
		return;
	n = strtol(v, &end, 10);
	if (!(*v >= '1' && *v <= '9') || n < 1 || n > 9999 ||
	    (*end != 'd' && *end != 'm' && *end != 'y') || end[1] != '\0') {
		say(l, e->file, e->kline[key], 0, "bad period '%s': expected "
		    "a number and d, m or y (10y, 18m, 90d)", v);
		return;
	}
	e->period = (int)n;
	e->unit = *end;
}

/* A date YYYY-MM-DD into *tm (00:00 UTC); 0 or -1. */
static int parse_date(const char *v, struct tm *tm)
{
	struct tm t = { 0 };
	char *end;

	memset(tm, 0, sizeof(*tm));
	end = strptime(v, "%Y-%m-%d", &t);
	if (end == NULL || *end != '\0' || strlen(v) != 10)
		return -1;
	t.tm_isdst = 0;
	*tm = t;
	/* Rejects 2023-02-30 and the like: normalising must not move it. */
	t.tm_hour = 12;
	if (timegm(&t) == (time_t)-1 || t.tm_mday != tm->tm_mday ||
	    t.tm_mon != tm->tm_mon)
		return -1;
	return 0;
}

static int compile_client(struct loader *l, struct entry *e)
{
	const char *o = e->raw[K_OWNER], *t = e->raw[K_TEAM];

	if (o != NULL && (*o == '@' || !good_member(o)))
		say(l, e->file, e->kline[K_OWNER], 0, "bad owner '%s'", o);
	if (t != NULL && !good_name(t))
		say(l, e->file, e->kline[K_TEAM], 0, "bad team name '%s'", t);
	if (e->raw[K_CLOSED] != NULL) {
		if (parse_date(e->raw[K_CLOSED], &e->closed) != 0)
			say(l, e->file, e->kline[K_CLOSED], 0, "bad closed "
			    "date '%s': expected YYYY-MM-DD",
			    e->raw[K_CLOSED]);
		else
			e->has_closed = 1;
	}
	compile_period(l, e, K_RETENTION);
	return compile_members(l, e);
}

/* [retention] and [hold]: a scope of clients by name or team only. */
static int compile_keep(struct loader *l, struct entry *e)
{
	const char *f = e->raw[K_FROM];

	if (compile_scope(l, e) != 0)
		return -1;
	if (e->has_scope && (e->scope.kind == SC_ASSIGNED ||
	                     e->scope.kind == SC_TEAM))
		say(l, e->file, e->kline[K_SCOPE], 0, "scope of [%s %s] must "
		    "be all, team:NAME, clients:GLOB... or none",
		    kinds[e->kind].name, e->name);
	if (e->kind == E_HOLD)
		return 0;
	compile_period(l, e, K_PERIOD);
	if (f != NULL && strcmp(f, "changed") == 0)
		e->from_changed = 1;
	else if (f != NULL && strcmp(f, "closed") != 0)
		say(l, e->file, e->kline[K_FROM], 0, "bad from '%s': expected "
		    "closed or changed", f);
	return 0;
}

/* "N" and s, m or h, from min to max seconds, into *out; 0 or -1. */
static int parse_duration(const char *v, unsigned min, unsigned max,
                          unsigned *out)
{
	unsigned long n = 0, unit;
	const char *s = v;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++)
		if ((n = n * 10 + (unsigned long)(*s - '0')) > max)
			return -1;
	unit = *s == 's' ? 1 : *s == 'm' ? 60 : *s == 'h' ? 3600 : 0;
	if (unit == 0 || s[1] != '\0' || n * unit < min || n * unit > max)
		return -1;
	*out = (unsigned)(n * unit);
	return 0;
}

/* Decimal digits only, at most max, into *out; 0 or -1. */
static int parse_count(const char *v, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;

	if (*v == '\0')
		return -1;
	for (; *v != '\0'; v++)
		if (!isdigit((unsigned char)*v) ||
		    (n = n * 10 + (uint64_t)(*v - '0')) > max)
			return -1;
	*out = n;
	return 0;
}

/* An absolute path to run: no control characters, not a directory. */
static int good_command(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n >= PATH_MAX || s[0] != '/' || s[n - 1] == '/')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (iscntrl((unsigned char)s[i]))
			return 0;
	return 1;
}

static void compile_response(struct loader *l, struct entry *e)
{
	struct strv sv = { 0 };
	size_t b;

	e->response = POL_RESPONSE_RECORD;
	if (e->raw[K_RESPONSE] == NULL ||
	    split(l, e->raw[K_RESPONSE], ",\n", &sv) != 0)
		return;
	if (sv.n == 0)
		say(l, e->file, e->kline[K_RESPONSE], 0, "empty response");
	for (size_t i = 0; i < sv.n; i++) {
		for (b = 0; b < 3; b++)
			if (strcmp(sv.v[i], response_names[b]) == 0)
				break;
		if (b < 3)
			e->response |= 1u << b;
		else
			say(l, e->file, e->kline[K_RESPONSE], 0, "bad response "
			    "'%s': expected record, notify or lockout",
			    sv.v[i]);
	}
	strv_free(&sv);
}

/* Reports key k of alert e as missing (need) or as out of place. */
static void alert_key(struct loader *l, const struct entry *e, enum key k,
                      int need, const char *kind)
{
	char lb[NAME_MAX + 16];

	if (need && e->kline[k] == 0)
		say(l, e->file, e->line, 0, "missing key '%s' in [%s]: kind "
		    "%s needs it", key_names[k], label(e, lb, sizeof(lb)),
		    kind);
	else if (!need && e->kline[k] != 0)
		say(l, e->file, e->kline[k], 0, "key '%s' does not apply to "
		    "kind %s", key_names[k], kind);
}

static int compile_alert(struct loader *l, struct entry *e)
{
	const char *v = e->raw[K_KIND];
	size_t k = 0;

	for (size_t i = 1; v != NULL && i < NALERT_KINDS && k == 0; i++)
		if (strcmp(v, alert_kinds[i]) == 0)
			k = i;
	if (v != NULL && k == 0)
		say(l, e->file, e->kline[K_KIND], 0, "unknown alert kind '%s': "
		    "expected reads, clients, off-hours, denials, mass-change "
		    "or sensitive", v);
	e->alert_kind = (enum policy_alert_kind)k;
	if ((v = e->raw[K_THRESHOLD]) != NULL &&
	    parse_count(v, POL_ALERT_THRESHOLD_MAX, &e->threshold) != 0)
		say(l, e->file, e->kline[K_THRESHOLD], 0, "bad threshold '%s': "
		    "expected a whole number from 0 to %u", v,
		    POL_ALERT_THRESHOLD_MAX);
	if ((v = e->raw[K_WINDOW]) != NULL &&
	    parse_duration(v, 1, POL_ALERT_WINDOW_MAX, &e->window_s) != 0)
		say(l, e->file, e->kline[K_WINDOW], 0, "bad window '%s': "
		    "expected a number and s, m or h, from 1s to 24h (30s, "
		    "10m, 1h)", v);
	compile_response(l, e);
	e->any_role = e->raw[K_ROLES] == NULL;
	if (compile_roles(l, e) != 0 || compile_files(l, e) != 0 ||
	    compile_window(l, e) != 0)
		return -1;
	if (k == 0)
		return 0;
	v = alert_kinds[k];
	if (k != POL_ALERT_OFF_HOURS) {
		alert_key(l, e, K_THRESHOLD, 1, v);
		alert_key(l, e, K_WINDOW, 1, v);
	}
	alert_key(l, e, K_DAYS, k == POL_ALERT_OFF_HOURS, v);
	alert_key(l, e, K_HOURS, k == POL_ALERT_OFF_HOURS, v);
	alert_key(l, e, K_FILES, k == POL_ALERT_SENSITIVE, v);
	return 0;
}

static void compile_settings(struct loader *l, struct entry *e)
{
	const char *v = e->raw[K_NODE];

	if (v != NULL && !good_name(v))
		say(l, e->file, e->kline[K_NODE], 0, "bad node name '%s'", v);
	if ((v = e->raw[K_NOTIFY]) != NULL && !good_command(v))
		say(l, e->file, e->kline[K_NOTIFY], 0, "bad notify '%s': "
		    "expected the absolute path of a command", v);
	e->timeout_s = POL_NOTIFY_TIMEOUT_DEF;
	if ((v = e->raw[K_NOTIFY_TIMEOUT]) != NULL &&
	    parse_duration(v, 1, POL_NOTIFY_TIMEOUT_MAX, &e->timeout_s) != 0)
		say(l, e->file, e->kline[K_NOTIFY_TIMEOUT], 0, "bad "
		    "notify_timeout '%s': expected a number and s or m, from "
		    "1s to 5m", v);
}

/* Checks the values of one section and turns them into its fields. */
static int compile(struct loader *l, struct entry *e)
{
	char lb[NAME_MAX + 16];

	for (int k = 0; k < K_COUNT; k++)
		if ((kinds[e->kind].required & B(k)) && e->kline[k] == 0)
			say(l, e->file, e->line, 0, "missing key '%s' in [%s]",
			    key_names[k], label(e, lb, sizeof(lb)));
	switch (e->kind) {
	case E_ROLE:
		if (compile_members(l, e) != 0 ||
		    compile_perms(l, e, K_ALLOW, &e->allow) != 0 ||
		    compile_perms(l, e, K_DENY, &e->deny) != 0)
			return -1;
		break;
	case E_RULE:
		if (compile_rule(l, e) != 0)
			return -1;
		break;
	case E_CLIENT:
		return compile_client(l, e);
	case E_RETENTION:
	case E_HOLD:
		return compile_keep(l, e);
	case E_TEAM:
		return compile_members(l, e);
	case E_SETTINGS:
		compile_settings(l, e);
		return 0;
	case E_ALERT:
		return compile_alert(l, e);
	case E_KINDS:
		break;
	}
	if (compile_scope(l, e) != 0 || compile_files(l, e) != 0 ||
	    compile_window(l, e) != 0)
		return -1;
	return 0;
}

/* ---- reading one file -------------------------------------------------- */

static struct entry *entry_new(struct loader *l, enum kind kind,
                               const char *name, size_t len)
{
	struct policy *p = l->p;
	struct entry *e, **all;

	all = realloc(p->all, (p->nall + 1) * sizeof(*all));
	if (all == NULL)
		goto fail;
	p->all = all;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		goto fail;
	if ((e->name = strndup(name, len)) == NULL) {
		free(e);
		goto fail;
	}
	e->kind = kind;
	e->file = l->file;
	e->line = l->line;
	e->seq = p->nall;
	p->all[p->nall++] = e;
	return e;
fail:
	nomem(l);
	return NULL;
}

/* A "[type name]" line; s points at the '['. Mirrors inih's reading of
 * it (']' ends it, so does a ';' after a space) and opens the section. */
static void header(struct loader *l, const char *s)
{
	const char *end = s + 1, *t, *n, *rest;
	int was_space = 0, k;
	size_t tlen, nlen;
	char nm[NAME_MAX + 1];

	while (*end != '\0' && *end != ']' && !(was_space && *end == ';')) {
		was_space = isspace((unsigned char)*end);
		end++;
	}
	l->cur = NULL;
	l->skip = 1;
	l->last = -1;
	if (*end != ']') {
		say(l, l->file, l->line, 0,
		    "syntax error: section header without ']'");
		return;
	}
	l->have_key = 0;
	for (rest = end + 1; isspace((unsigned char)*rest); rest++)
		;
	if (*rest != '\0' && *rest != ';') {
		say(l, l->file, l->line, 0, "syntax error: text after ']'");
		return;
	}
	for (t = s + 1; t < end && isspace((unsigned char)*t); t++)
		;
	for (tlen = 0; t + tlen < end && !isspace((unsigned char)t[tlen]);)
		tlen++;
	for (n = t + tlen; n < end && isspace((unsigned char)*n); n++)
		;
	for (nlen = (size_t)(end - n); nlen > 0 &&
	     isspace((unsigned char)n[nlen - 1]);)
		nlen--;
	for (k = 0; k < E_KINDS; k++)
		if (strlen(kinds[k].name) == tlen &&
		    strncmp(kinds[k].name, t, tlen) == 0)
			break;
	if (k == E_KINDS) {
		say(l, l->file, l->line, 0, "unknown section type '%.*s'",
		    (int)tlen, t);
		return;
	}
	if (kinds[k].named && nlen == 0) {
		say(l, l->file, l->line, 0, "[%s] needs a name", kinds[k].name);
		return;
	}
	if (!kinds[k].named && nlen != 0) {
		say(l, l->file, l->line, 0, "[%s] takes no name",
		    kinds[k].name);
		return;
	}
	if (nlen > NAME_MAX) {
		say(l, l->file, l->line, 0, "%s name too long", kinds[k].name);
		return;
	}
	memcpy(nm, n, nlen);
	nm[nlen] = '\0';
	if (kinds[k].named && !(k == E_CLIENT ? good_client(nm)
	                                      : good_name(nm))) {
		say(l, l->file, l->line, 0, "bad %s name '%s'", kinds[k].name,
		    nm);
		return;
	}
	if ((l->cur = entry_new(l, (enum kind)k, nm, nlen)) != NULL)
		l->skip = 0;
}

/* Sorts out the line inih is about to parse: blank or comment,
 * continuation, section header, or one that must reach on_pair(). */
static void classify(struct loader *l, const char *line)
{
	const char *s = line;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || *s == ';' || *s == '#')
		return;
	if (s > line && l->have_key) {
		l->cont = 1;
		l->expect = 1;
	} else if (*s == '[')
		header(l, s);
	else
		l->expect = 1;
}

/* A line that should have reached on_pair() and did not was refused by
 * inih: no '=' or ':' in it. */
static void check_reached(struct loader *l)
{
	if (l->expect && !l->reached)
		say(l, l->file, l->line, 0,
		    "syntax error: expected 'key = value'");
	l->expect = 0;
}

/* The ini_reader: fgets() that counts lines, hashes the file and hands
 * inih one whole line at a time (never a part of one). */
static char *next_line(char *str, int num, void *stream)
{
	struct loader *l = stream;
	const char *text;
	ssize_t n;
	size_t len;

	check_reached(l);
	errno = 0;
	if ((n = getline(&l->buf, &l->cap, l->fp)) < 0) {
		if (ferror(l->fp) && l->ioerr == 0)
			l->ioerr = errno != 0 ? errno : EIO;
		return NULL;
	}
	l->line++;
	l->cont = l->reached = 0;
	crypto_generichash_update(&l->hash, (unsigned char *)l->buf,
	                          (size_t)n);
	text = l->buf;
	len = (size_t)n;
	if (l->line == 1 && len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3;
		len -= 3;
	}
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (memchr(text, '\0', len) != NULL) {
		say(l, l->file, l->line, 0, "NUL byte in line");
		len = 0;
	} else if (num < 3 || len > (size_t)num - 2) {
		say(l, l->file, l->line, 0, "line too long (over %d bytes): "
		    "continue the value on an indented line", num - 2);
		len = 0;
	}
	memcpy(str, text, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	classify(l, str);
	return str;
}

static int key_of(const char *name)
{
	for (int k = 0; k < K_COUNT; k++)
		if (strcmp(key_names[k], name) == 0)
			return k;
	return -1;
}

/* Length of value without an inline comment (" ;...") and the blanks
 * before it; inih 55 leaves those on continuation lines. */
static size_t uncommented(const char *value)
{
	size_t n = 0;

	for (int was_space = 0; value[n] != '\0'; n++) {
		if (was_space && value[n] == ';')
			break;
		was_space = isspace((unsigned char)value[n]);
	}
	while (n > 0 && isspace((unsigned char)value[n - 1]))
		n--;
	return n;
}

/* Appends a continuation line to the value of the last key. */
static void append(struct loader *l, const char *value)
{
	char **r, *s;
	size_t a, b;

	if (l->skip || l->cur == NULL || l->last < 0)
		return;
	r = &l->cur->raw[l->last];
	a = strlen(*r);
	b = uncommented(value);
	if ((s = realloc(*r, a + b + 2)) == NULL) {
		nomem(l);
		return;
	}
	s[a] = '\n';
	memcpy(s + a + 1, value, b);
	s[a + 1 + b] = '\0';
	*r = s;
}

/* The inih handler. Problems are reported here and parsing goes on, so
 * that every problem of a file is reported in one pass. */
static int on_pair(void *user, const char *section, const char *name,
                   const char *value)
{
	struct loader *l = user;
	struct entry *e = l->cur;
	char lb[NAME_MAX + 16];
	int k;

	(void)section;  /* l->cur, from header(), is the section */
	l->reached = 1;
	if (name == NULL)   /* a section start, from an inih built to say so */
		return 1;
	if (l->cont) {
		append(l, value);
		return 1;
	}
	l->have_key = name[0] != '\0';
	l->last = -1;
	if (l->skip)
		return 1;
	if (e == NULL) {
		say(l, l->file, l->line, 0, "key '%s' outside any section",
		    name);
		return 1;
	}
	k = key_of(name);
	if (k < 0 || !(kinds[e->kind].keys & B(k))) {
		say(l, l->file, l->line, 0, "unknown key '%s' in [%s]", name,
		    label(e, lb, sizeof(lb)));
		return 1;
	}
	if (e->kline[k] != 0) {
		say(l, l->file, l->line, 0,
		    "duplicate key '%s' (first at line %d)", name,
		    e->kline[k]);
		return 1;
	}
	if ((e->raw[k] = strdup(value)) == NULL) {
		nomem(l);
		return 1;
	}
	e->kline[k] = l->line;
	l->last = k;
	return 1;
}

/* ---- file security ----------------------------------------------------- */

/* 1 if an ACL entry other than the owner's lets someone else write. */
static int acl_writable(acl_t acl, uid_t owner)
{
	acl_entry_t ent;
	acl_tag_t tag;
	acl_permset_t ps;
	int r, bad = 0;

	for (r = acl_get_entry(acl, ACL_FIRST_ENTRY, &ent); r == 1 && !bad;
	     r = acl_get_entry(acl, ACL_NEXT_ENTRY, &ent)) {
		if (acl_get_tag_type(ent, &tag) != 0 ||
		    acl_get_permset(ent, &ps) != 0)
			return 1;
		if ((tag != ACL_USER && tag != ACL_GROUP && tag != ACL_MASK) ||
		    acl_get_perm(ps, ACL_WRITE) != 1)
			continue;
		bad = 1;
		if (tag == ACL_USER) {
			uid_t *q = acl_get_qualifier(ent);

			if (q == NULL)
				return 1;
			bad = *q != 0 && *q != owner;
			acl_free(q);
		}
	}
	return bad || r < 0;
}

/* sshd StrictModes for one open file or directory. */
static int check_safe(struct loader *l, const char *path, int fd,
                      const struct stat *st)
{
	acl_t acl;
	int bad;

	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		say(l, path, 0, 0, "not owned by root; refusing");
		return -EINVAL;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		say(l, path, 0, 0, "writable by group or others; refusing");
		return -EINVAL;
	}
	if ((acl = acl_get_fd(fd)) == NULL) {
		if (errno == ENOTSUP || errno == EOPNOTSUPP)
			return 0;
		say(l, path, 0, 0, "cannot read ACL: %s; refusing",
		    strerror(errno));
		return -EINVAL;
	}
	bad = acl_writable(acl, st->st_uid);
	acl_free(acl);
	if (bad) {
		say(l, path, 0, 0,
		    "writable by group or others (ACL); refusing");
		return -EINVAL;
	}
	return 0;
}

/* ---- loading ----------------------------------------------------------- */

static const char *keep_path(struct loader *l, const char *path)
{
	struct policy *p = l->p;
	char **v = realloc(p->files, (p->nfiles + 1) * sizeof(*v));

	if (v == NULL)
		goto fail;
	p->files = v;
	if ((v[p->nfiles] = strdup(path)) == NULL)
		goto fail;
	return v[p->nfiles++];
fail:
	nomem(l);
	return NULL;
}

static int parse_file(struct loader *l, const char *name, int fd)
{
	FILE *fp;
	int r, before = l->errors;

	if ((fp = fdopen(fd, "r")) == NULL) {
		r = -errno;
		close(fd);
		say(l, l->file, 0, 0, "cannot read: %s", strerror(-r));
		return r;
	}
	crypto_generichash_update(&l->hash, (const unsigned char *)name,
	                          strlen(name) + 1);
	l->fp = fp;
	l->line = 0;
	l->have_key = l->cont = l->expect = l->reached = 0;
	l->cur = NULL;
	l->skip = 0;
	l->last = -1;
	r = ini_parse_stream(next_line, l, on_pair, l);
	fclose(fp);
	l->fp = NULL;
	if (r > 0 && l->errors == before)
		say(l, l->file, r, 0, "syntax error");
	if (l->ioerr != 0) {
		say(l, l->file, 0, 0, "cannot read: %s", strerror(l->ioerr));
		return -l->ioerr;
	}
	if (r < 0) {
		say(l, l->file, 0, 0, "cannot parse (inih error %d)", r);
		return r == -2 ? -ENOMEM : -EIO;
	}
	return 0;
}

/* Opens, checks and parses dir/name. */
static int load_file(struct loader *l, int dirfd, const char *dir,
                     const char *name)
{
	char path[PATH_MAX];
	struct stat st, st2;
	int fd, rc, n;

	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		say(l, dir, 0, 0, "path of %s too long", name);
		return -ENAMETOOLONG;
	}
	if ((l->file = keep_path(l, path)) == NULL)
		return -ENOMEM;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		rc = -errno;
		say(l, path, 0, 0, "cannot stat: %s", strerror(-rc));
		return rc;
	}
	if (S_ISLNK(st.st_mode)) {
		say(l, path, 0, 0, "symbolic link; refusing");
		return -EINVAL;
	}
	if (!S_ISREG(st.st_mode)) {
		say(l, path, 0, 0, "not a regular file; refusing");
		return -EINVAL;
	}
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	            O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		say(l, path, 0, 0, "cannot open: %s", strerror(-rc));
		return rc == -ELOOP ? -EINVAL : rc;
	}
	if (fstat(fd, &st2) != 0 || !S_ISREG(st2.st_mode) ||
	    st2.st_ino != st.st_ino || st2.st_dev != st.st_dev) {
		say(l, path, 0, 0, "replaced while being read; refusing");
		close(fd);
		return -EINVAL;
	}
	if ((rc = check_safe(l, path, fd, &st2)) != 0) {
		close(fd);
		return rc;
	}
	return parse_file(l, name, fd);
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the *.ini files of dir, sorted; hidden files skipped. */
static int list_dir(struct loader *l, const char *dir, int dirfd,
                    struct strv *out)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = -1;
	char **v;

	if ((fd = dup(dirfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		say(l, dir, 0, 0, "cannot read directory: %s", strerror(-rc));
		return rc;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (de->d_name[0] == '.' || n < 5 ||
		    strcmp(de->d_name + n - 4, ".ini") != 0)
			continue;
		if ((v = realloc(out->v, (out->n + 1) * sizeof(*v))) == NULL)
			goto fail;
		out->v = v;
		if ((v[out->n] = strdup(de->d_name)) == NULL)
			goto fail;
		out->n++;
		errno = 0;
	}
	if (errno != 0) {
		rc = -errno;
		say(l, dir, 0, 0, "cannot read directory: %s", strerror(-rc));
		goto out;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), by_string);
	rc = 0;
	goto out;
fail:
	nomem(l);
	rc = -ENOMEM;
out:
	closedir(d);
	return rc;
}

static int open_dir(struct loader *l, const char *dir, int *dirfd)
{
	struct stat st;
	int fd, rc;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		/* O_NOFOLLOW with O_DIRECTORY fails a symlink with ENOTDIR. */
		if (rc == -ELOOP || (rc == -ENOTDIR && lstat(dir, &st) == 0 &&
		                     S_ISLNK(st.st_mode))) {
			say(l, dir, 0, 0, "symbolic link; refusing");
			return -EINVAL;
		}
		say(l, dir, 0, 0, "cannot open policy directory: %s",
		    strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		close(fd);
		say(l, dir, 0, 0, "cannot stat: %s", strerror(-rc));
		return rc;
	}
	*dirfd = fd;
	return check_safe(l, dir, fd, &st);
}

/* ---- the whole policy -------------------------------------------------- */

static int by_kind_name(const void *a, const void *b)
{
	const struct entry *x = *(struct entry *const *)a;
	const struct entry *y = *(struct entry *const *)b;
	int c;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static const struct entry *find(const struct entry *const *v, size_t n,
                                const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i]->name, name) == 0)
			return v[i];
	return NULL;
}

/* Reports duplicate sections and files every entry under its kind. */
static int sort_out(struct loader *l)
{
	struct policy *p = l->p;
	struct entry **s;
	const struct entry ***list;
	size_t *count = NULL;
	char lb[NAME_MAX + 16];

	p->roles = calloc(p->nall + 1, sizeof(*p->roles));
	p->rules = calloc(p->nall + 1, sizeof(*p->rules));
	p->teams = calloc(p->nall + 1, sizeof(*p->teams));
	p->clients = calloc(p->nall + 1, sizeof(*p->clients));
	p->alerts = calloc(p->nall + 1, sizeof(*p->alerts));
	s = malloc((p->nall + 1) * sizeof(*s));
	if (!p->roles || !p->rules || !p->teams || !p->clients ||
	    !p->alerts || !s) {
		free(s);
		nomem(l);
		return -ENOMEM;
	}
	if (p->nall > 0)
		memcpy(s, p->all, p->nall * sizeof(*s));
	if (p->nall > 1)
		qsort(s, p->nall, sizeof(*s), by_kind_name);
	for (size_t i = 1; i < p->nall; i++)
		if (s[i]->kind == s[i - 1]->kind &&
		    strcmp(s[i]->name, s[i - 1]->name) == 0)
			say(l, s[i]->file, s[i]->line, 0,
			    "duplicate section [%s] (first at %s:%d)",
			    label(s[i], lb, sizeof(lb)), s[i - 1]->file,
			    s[i - 1]->line);
	for (size_t i = 0; i < p->nall; i++)
		if (s[i]->kind == E_CLIENT)
			p->clients[p->nclients++] = s[i];
	free(s);
	for (size_t i = 0; i < p->nall; i++) {
		struct entry *e = p->all[i];

		list = NULL;
		switch (e->kind) {
		case E_ROLE: list = &p->roles; count = &p->nroles; break;
		case E_RULE: list = &p->rules; count = &p->nrules; break;
		case E_TEAM: list = &p->teams; count = &p->nteams; break;
		case E_ALERT: list = &p->alerts; count = &p->nalerts; break;
		case E_SETTINGS: p->settings = e; break;
		default: break;
		}
		if (list != NULL) {
			e->idx = *count;
			(*list)[(*count)++] = e;
		}
	}
	return 0;
}

static void resolve_scope(struct loader *l, const struct entry *e)
{
	const struct policy *p = l->p;

	if (e->has_scope && e->scope.kind == SC_TEAM_NAMED &&
	    find(p->teams, p->nteams, e->scope.team) == NULL)
		say(l, e->file, e->kline[K_SCOPE], 0,
		    "scope names undefined team '%s'", e->scope.team);
}

/* Ties rules and alerts to their roles and clients to their teams. */
static int resolve(struct loader *l)
{
	struct policy *p = l->p;
	const struct entry *t;
	char lb[NAME_MAX + 16];

	for (size_t i = 0; i < p->nall; i++) {
		struct entry *e = p->all[i];

		resolve_scope(l, e);
		if (e->kind == E_CLIENT && e->raw[K_TEAM] != NULL &&
		    good_name(e->raw[K_TEAM])) {
			t = find(p->teams, p->nteams, e->raw[K_TEAM]);
			if (t == NULL)
				say(l, e->file, e->kline[K_TEAM], 0,
				    "[client %s] names undefined team '%s'",
				    e->name, e->raw[K_TEAM]);
			e->team = t;
		}
		if ((e->kind != E_RULE && e->kind != E_ALERT) || e->any_role)
			continue;
		e->roles = calloc(e->rolenames.n + 1, sizeof(*e->roles));
		if (e->roles == NULL) {
			nomem(l);
			return -ENOMEM;
		}
		for (size_t j = 0; j < e->rolenames.n; j++) {
			if (!good_name(e->rolenames.v[j]))
				continue;   /* reported by compile_rule() */
			t = find(p->roles, p->nroles, e->rolenames.v[j]);
			if (t == NULL)
				say(l, e->file, e->kline[K_ROLES], 0,
				    "[%s] names undefined role '%s'",
				    label(e, lb, sizeof(lb)),
				    e->rolenames.v[j]);
			else
				e->roles[e->nroles++] = t;
		}
	}
	return 0;
}

/* An alert that would notify needs a command to run. */
static void check_notify(struct loader *l)
{
	const struct policy *p = l->p;
	char lb[NAME_MAX + 16];

	if (p->settings != NULL && p->settings->raw[K_NOTIFY] != NULL)
		return;
	for (size_t i = 0; i < p->nalerts; i++) {
		const struct entry *e = p->alerts[i];

		if (e->response & POL_RESPONSE_NOTIFY)
			say(l, e->file, e->kline[K_RESPONSE], 0, "[%s] has "
			    "response notify, but [settings] has no notify "
			    "command", label(e, lb, sizeof(lb)));
	}
}

/* 1 if getpwnam_r (user) or getgrnam_r (group) knows name, or cannot
 * tell. */
static int exists(const char *name, int group)
{
	size_t size = 1024;
	int r, found = 1;

	for (;;) {
		char *buf = malloc(size);
		struct passwd pw, *pr = NULL;
		struct group gr, *gres = NULL;

		if (buf == NULL)
			return 1;
		if (group)
			r = getgrnam_r(name, &gr, buf, size, &gres);
		else
			r = getpwnam_r(name, &pw, buf, size, &pr);
		free(buf);
		if (r == ERANGE && size < (1u << 20)) {
			size *= 2;
			continue;
		}
		if (r == 0 || r == ENOENT || r == ESRCH)
			found = pr != NULL || gres != NULL;
		return found;
	}
}

static void warn_role(struct loader *l, struct entry *e)
{
	size_t known = 0;

	for (size_t i = 0; i < e->members.n; i++) {
		const char *m = e->members.v[i];

		known += m[0] == '@' ? exists(m + 1, 1) : exists(m, 0);
	}
	if (e->members.n > 0 && known == 0) {
		e->never = 1;
		say(l, e->file, e->kline[K_MEMBERS], 1, "role %s can never "
		    "match: none of its members is a user or group on this "
		    "system", e->name);
	} else if (known < e->members.n) {
		for (size_t i = 0; i < e->members.n; i++) {
			const char *m = e->members.v[i];

			if (m[0] == '@' ? !exists(m + 1, 1) : !exists(m, 0))
				say(l, e->file, e->kline[K_MEMBERS], 1,
				    "role %s: no %s '%s' on this system",
				    e->name, m[0] == '@' ? "group" : "user",
				    m[0] == '@' ? m + 1 : m);
		}
	}
	if (e->allow != 0 && (e->allow & ~e->deny) == 0) {
		e->never = 1;
		say(l, e->file, e->line, 1, "role %s can never allow "
		    "anything: it denies every permission it allows", e->name);
	}
}

static int has_role(const struct entry *rule, const struct entry *role)
{
	if (rule->any_role)
		return 1;
	for (size_t i = 0; i < rule->nroles; i++)
		if (rule->roles[i] == role)
			return 1;
	return 0;
}

static int same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* 1 if deny rule d applies wherever allow rule a does (a conservative
 * test: it may miss some shadowing, never invents one). */
static int shadows(const struct entry *d, const struct entry *a)
{
	int files_ok = d->files.n == 0 || same_text(d->raw[K_FILES],
	                                            a->raw[K_FILES]);
	int scope_ok, when_ok;

	for (size_t i = 0; i < d->files.n; i++)
		files_ok |= strcmp(d->files.v[i], "*") == 0;
	scope_ok = (d->has_scope && d->scope.kind == SC_ALL) ||
	           (!d->has_scope && !a->has_scope) ||
	           (d->has_scope && a->has_scope &&
	            same_text(d->raw[K_SCOPE], a->raw[K_SCOPE]));
	when_ok = (d->when.days == ALLDAYS && d->when.nspans == 0) ||
	          (d->when.days == a->when.days &&
	           d->when.nspans == a->when.nspans &&
	           memcmp(d->when.spans, a->when.spans,
	                  sizeof(d->when.spans)) == 0);
	if ((a->allow & ~d->deny) != 0 || !files_ok || !scope_ok || !when_ok)
		return 0;
	if (d->any_role)
		return 1;
	if (a->any_role)
		return 0;
	for (size_t i = 0; i < a->nroles; i++)
		if (!has_role(d, a->roles[i]))
			return 0;
	return 1;
}

static void warn_rule(struct loader *l, struct entry *e)
{
	const struct policy *p = l->p;
	size_t live = 0;

	for (size_t i = 0; i < p->nroles; i++)
		live += has_role(e, p->roles[i]) && !p->roles[i]->never;
	if (live == 0 && (e->any_role || e->nroles == e->rolenames.n)) {
		e->never = 1;
		say(l, e->file, e->kline[K_ROLES], 1, "rule %s can never "
		    "match: no role it names can match", e->name);
	}
	if (e->allow == 0)
		return;
	for (size_t i = 0; i < p->nrules; i++) {
		const struct entry *d = p->rules[i];

		if (d->deny != 0 && shadows(d, e)) {
			say(l, e->file, e->line, 1, "allow rule %s is fully "
			    "shadowed by deny rule %s (%s:%d)", e->name,
			    d->name, d->file, d->line);
			break;
		}
	}
}

static void warn(struct loader *l, const char *dir)
{
	struct policy *p = l->p;

	if (p->nroles == 0 && p->nfiles > 0)
		say(l, dir, 0, 1, "no [role] sections: every access will be "
		    "denied");
	for (size_t i = 0; i < p->nall; i++)
		if (p->all[i]->kind == E_ROLE)
			warn_role(l, p->all[i]);
	for (size_t i = 0; i < p->nall; i++)
		if (p->all[i]->kind == E_RULE)
			warn_rule(l, p->all[i]);
}

static int finish(struct loader *l, const char *dir)
{
	struct policy *p = l->p;
	unsigned char h[crypto_generichash_BYTES];
	char hex[2 * sizeof(h) + 1];

	for (size_t i = 0; i < p->nall; i++)
		if (compile(l, p->all[i]) != 0)
			return -ENOMEM;
	if (sort_out(l) != 0 || resolve(l) != 0)
		return -ENOMEM;
	check_notify(l);
	warn(l, dir);
	crypto_generichash_final(&l->hash, h, sizeof(h));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	memcpy(p->version, hex, sizeof(p->version) - 1);
	p->version[sizeof(p->version) - 1] = '\0';
	return 0;
}

int policy_load(const char *dir, policy_report_fn report, void *ctx,
                struct policy **out)
{
	struct loader l;
	struct strv names = { 0 };
	int dirfd = -1, rc, r = 0;

	if (dir == NULL || out == NULL)
		return -EINVAL;
	memset(&l, 0, sizeof(l));
	l.report = report;
	l.rctx = ctx;
	l.last = -1;
	if (sodium_init() < 0) {
		say(&l, dir, 0, 0, "cannot initialise libsodium");
		return -EIO;
	}
	if ((l.p = calloc(1, sizeof(*l.p))) == NULL)
		return -ENOMEM;
	crypto_generichash_init(&l.hash, NULL, 0, crypto_generichash_BYTES);
	rc = open_dir(&l, dir, &dirfd);
	if (dirfd < 0 || (r = list_dir(&l, dir, dirfd, &names)) != 0) {
		rc = dirfd < 0 ? rc : r;
		goto out;
	}
	if (names.n == 0)
		say(&l, dir, 0, 0, "no policy files");
	for (size_t i = 0; i < names.n && !l.nomem; i++) {
		r = load_file(&l, dirfd, dir, names.v[i]);
		if (r != 0 && r != -EINVAL && l.ioerr == 0)
			l.ioerr = -r;
	}
	l.file = NULL;
	if (!l.nomem)
		finish(&l, dir);
	rc = l.nomem ? -ENOMEM : l.ioerr ? -l.ioerr : l.errors ? -EINVAL : 0;
	if (rc == 0) {
		*out = l.p;
		l.p = NULL;
	}
out:
	strv_free(&names);
	if (dirfd >= 0)
		close(dirfd);
	free(l.buf);
	policy_free(l.p);
	return rc;
}

void policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nall; i++) {
		struct entry *e = p->all[i];

		free(e->name);
		for (int k = 0; k < K_COUNT; k++)
			free(e->raw[k]);
		strv_free(&e->members);
		strv_free(&e->files);
		strv_free(&e->rolenames);
		strv_free(&e->scope.globs);
		free(e->scope.team);
		free(e->roles);
		free(e);
	}
	for (size_t i = 0; i < p->nfiles; i++)
		free(p->files[i]);
	free(p->files);
	free(p->all);
	free(p->roles);
	free(p->rules);
	free(p->teams);
	free(p->clients);
	free(p->alerts);
	free(p);
}

/* ---- deciding ---------------------------------------------------------- */

/* One request being weighed. */
struct ask {
	const struct policy *p;
	const struct policy_req *r;
	const struct entry *client;   /* its [client] section, or NULL */
	const char *owner;            /* client_owner or the owner-to-be */
};

static int by_client(const void *key, const void *elem)
{
	return strcmp(key, (*(const struct entry *const *)elem)->name);
}

static const struct entry *client_of(const struct policy *p,
                                     const char *name)
{
	const struct entry *const *e;

	e = bsearch(name, p->clients, p->nclients, sizeof(*p->clients),
	            by_client);
	return e != NULL ? *e : NULL;
}

static int is_member(const struct strv *m, const struct policy_req *r)
{
	for (size_t i = 0; i < m->n; i++) {
		const char *s = m->v[i];

		if (s[0] != '@') {
			if (strcmp(s, r->user) == 0)
				return 1;
			continue;
		}
		for (size_t g = 0; g < r->ngroups; g++)
			if (r->groups[g] != NULL &&
			    strcmp(s + 1, r->groups[g]) == 0)
				return 1;
	}
	return 0;
}

/* The roles and teams of one caller: byte i is 1 if the caller belongs
 * to role (team) i of p. */
struct policy_who {
	const struct policy *p;
	unsigned char *roles;
	unsigned char *teams;
};

static int in_role(const struct policy_req *r, const struct entry *role)
{
	if (r->who != NULL)
		return r->who->roles[role->idx];
	return is_member(&role->members, r);
}

static int in_team(const struct policy_req *r, const struct entry *team)
{
	if (r->who != NULL)
		return r->who->teams[team->idx];
	return is_member(&team->members, r);
}

static int reaches(const struct ask *a, const struct scope *s)
{
	const struct entry *c = a->client;
	const char *user = a->r->user;

	switch (s->kind) {
	case SC_ALL:
		return 1;
	case SC_NONE:
		return 0;
	case SC_ASSIGNED:
		if (a->owner != NULL && strcmp(a->owner, user) == 0)
			return 1;
		return c != NULL && ((c->raw[K_OWNER] != NULL &&
		                      strcmp(c->raw[K_OWNER], user) == 0) ||
		                     is_member(&c->members, a->r) ||
		                     (c->team != NULL &&
		                      in_team(a->r, c->team)));
	case SC_TEAM:
		return c != NULL && c->team != NULL && in_team(a->r, c->team);
	case SC_TEAM_NAMED:
		return c != NULL && c->team != NULL &&
		       strcmp(c->team->name, s->team) == 0;
	case SC_CLIENTS:
		for (size_t i = 0; i < s->globs.n; i++)
			if (fnmatch(s->globs.v[i], a->r->client, 0) == 0)
				return 1;
		return 0;
	}
	return 0;
}

static int in_window(const struct window *w, const struct tm *t)
{
	int m = t->tm_hour * 60 + t->tm_min;

	if (!(w->days & (1u << t->tm_wday)))
		return 0;
	if (w->nspans == 0)
		return 1;
	for (size_t i = 0; i < w->nspans; i++)
		if (m >= w->spans[i].from && m < w->spans[i].to)
			return 1;
	return 0;
}

/* A glob with '/' is matched against the whole path ('*' matches '/' as
 * well); one without '/' against each component of it. */
static int glob_hits(const char *g, const char *path)
{
	char comp[NAME_MAX + 1];
	const char *s = path, *end;

	if (strchr(g, '/') != NULL)
		return fnmatch(g, path, 0) == 0;
	while (*s != '\0') {
		end = strchrnul(s, '/');
		memcpy(comp, s, (size_t)(end - s));   /* checked by valid() */
		comp[end - s] = '\0';
		if (fnmatch(g, comp, 0) == 0)
			return 1;
		s = *end != '\0' ? end + 1 : end;
	}
	return 0;
}

/* The client folder itself is not a file: an entry with files never
 * applies to it, except that an allow lets its members list it. */
static int files_hit(const struct entry *e, const struct policy_req *r,
                     int allow)
{
	if (e->files.n == 0)
		return 1;
	if (r->path[0] == '\0')
		return allow && r->perm == POL_LIST;
	for (size_t i = 0; i < e->files.n; i++)
		if (glob_hits(e->files.v[i], r->path))
			return 1;
	return 0;
}

/* How e (a role, or a rule that reaches the client) treats the request:
 * 1 allows, -1 denies, 0 does not apply and *why says why. */
static int weigh(const struct ask *a, const struct entry *e, int reach,
                 const char **why)
{
	unsigned perm = a->r->perm;

	if (!reach)
		*why = "scope does not reach the client";
	else if (!in_window(&e->when, a->r->when))
		*why = "outside its days or hours";
	else if (!(perm & (e->allow | e->deny)))
		*why = "permission not listed";
	else if ((perm & e->deny) && files_hit(e, a->r, 0))
		return -1;
	else if ((perm & e->allow) && files_hit(e, a->r, 1))
		return 1;
	else
		*why = "path does not match files";
	return 0;
}

/* Whether any role of rule e that the user has reaches the client; 0 in
 * *member if the user has none of its roles. Only the rule's own roles
 * are looked at, so this does not grow with the number of roles. */
static int rule_reach(const struct ask *a, const struct entry *e,
                      int *member)
{
	const struct policy *p = a->p;
	size_t n = e->any_role ? p->nroles : e->nroles;
	int reach = 0;

	*member = 0;
	for (size_t i = 0; i < n && !reach; i++) {
		const struct entry *role = e->any_role ? p->roles[i]
		                                       : e->roles[i];

		if (!in_role(a->r, role))
			continue;
		*member = 1;
		reach = reaches(a, e->has_scope ? &e->scope : &role->scope);
	}
	return reach;
}

static int valid_path(const char *path)
{
	const char *s = path, *end;
	size_t len;

	if (strlen(path) >= PATH_MAX)
		return 0;
	while (*s != '\0') {
		end = strchrnul(s, '/');
		len = (size_t)(end - s);
		if (len == 0 || len > NAME_MAX ||
		    (len == 1 && s[0] == '.') ||
		    (len == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		if (*end == '/' && end[1] == '\0')
			return 0;
		s = *end != '\0' ? end + 1 : end;
	}
	return 1;
}

static int valid(const struct policy *p, const struct policy_req *r)
{
	const struct tm *t = r->when;
	unsigned perm = r->perm;

	if (r->user == NULL || r->user[0] == '\0' ||
	    (r->ngroups > 0 && r->groups == NULL) || t == NULL ||
	    (r->who != NULL && r->who->p != p) ||
	    perm == 0 || (perm & (perm - 1)) != 0 || (perm & ~POL_ALL) != 0)
		return 0;
	if (t->tm_wday < 0 || t->tm_wday > 6 || t->tm_hour < 0 ||
	    t->tm_hour > 23 || t->tm_min < 0 || t->tm_min > 59)
		return 0;
	if (r->client == NULL)
		return 1;
	return r->path != NULL && good_client(r->client) &&
	       valid_path(r->path);
}

static void verdict(struct policy_decision *d, int allow,
                    const struct entry *e, const char *what)
{
	d->allow = allow;
	if (e != NULL)
		label(e, d->rule, sizeof(d->rule));
	else
		snprintf(d->rule, sizeof(d->rule), "%s", what);
}

static void trace(policy_trace_fn fn, void *ctx, const struct entry *e,
                  int effect, const char *why)
{
	char lb[NAME_MAX + 16];

	if (fn != NULL)
		fn(ctx, label(e, lb, sizeof(lb)), effect,
		   effect == 0 ? why : NULL);
}

/* Whether e, held by the user, grants perm over the whole vault: it
 * allows perm, reaches every client and has no `files`. A rule without
 * its own scope reaches what the roles the user has of it reach. */
static int grants_all(const struct policy *p, const struct policy_req *r,
                      const struct entry *e, unsigned perm)
{
	size_t n = e->any_role ? p->nroles : e->nroles;

	if (!(e->allow & perm) || e->files.n > 0)
		return 0;
	if (e->kind == E_ROLE || e->has_scope)
		return e->scope.kind == SC_ALL;
	for (size_t i = 0; i < n; i++) {
		const struct entry *role = e->any_role ? p->roles[i]
		                                       : e->roles[i];

		if (in_role(r, role) && role->scope.kind == SC_ALL)
			return 1;
	}
	return 0;
}

/* Whether the user has a role that rule e names. */
static int rule_member(const struct policy *p, const struct policy_req *r,
                       const struct entry *e)
{
	size_t n = e->any_role ? p->nroles : e->nroles;

	for (size_t i = 0; i < n; i++)
		if (in_role(r, e->any_role ? p->roles[i] : e->roles[i]))
			return 1;
	return 0;
}

/*
 * The mount root. list: anyone who has a role. audit (the root's .audit,
 * which covers every client) and admin (unlocking a user, whom a lockout
 * shuts out of every client): a role or rule that grants it over the
 * whole vault (grants_all()), and no role or rule of the user that denies
 * it anywhere, since it reaches those clients too. Any other permission:
 * denied.
 */
static void judge_root(const struct policy *p, const struct policy_req *r,
                       policy_trace_fn fn, void *ctx,
                       struct policy_decision *d)
{
	const struct entry *allow = NULL, *deny = NULL;
	int whole = r->perm == POL_AUDIT || r->perm == POL_ADMIN;
	const char *why = r->perm == POL_AUDIT
	                  ? "does not allow audit of every client"
	                  : r->perm == POL_ADMIN
	                  ? "does not allow admin over every client"
	                  : "only list, audit and admin are meaningful at the "
	                    "mount root";
	int eff;

	for (size_t i = 0; i < p->nroles + p->nrules; i++) {
		const struct entry *e = i < p->nroles ? p->roles[i]
		                                      : p->rules[i - p->nroles];

		if (!(e->kind == E_ROLE ? in_role(r, e) : rule_member(p, r, e)) ||
		    (e->kind != E_ROLE && r->perm == POL_LIST))
			continue;
		eff = 0;
		if (r->perm == POL_LIST)
			eff = 1;
		else if (whole && in_window(&e->when, r->when)) {
			if (e->deny & r->perm)
				eff = -1;
			else if (grants_all(p, r, e, r->perm))
				eff = 1;
		}
		trace(fn, ctx, e, eff, why);
		if (eff < 0 && deny == NULL)
			deny = e;
		if (eff > 0 && allow == NULL)
			allow = e;
	}
	if (deny != NULL)
		verdict(d, 0, deny, NULL);
	else
		verdict(d, allow != NULL, allow, "default deny");
}

void policy_explain(const struct policy *p, const struct policy_req *r,
                    policy_trace_fn fn, void *ctx,
                    struct policy_decision *d)
{
	const struct entry *allow = NULL, *deny = NULL;
	const char *why = NULL;
	struct ask a;
	int eff, member, reach;

	if (p == NULL) {
		verdict(d, 0, NULL, "no policy");
		return;
	}
	if (r == NULL || !valid(p, r)) {
		verdict(d, 0, NULL, "invalid request");
		return;
	}
	if (r->client == NULL) {
		judge_root(p, r, fn, ctx, d);
		return;
	}
	a.p = p;
	a.r = r;
	a.client = client_of(p, r->client);
	a.owner = r->client_owner;
	if (r->perm == POL_REGISTER && a.owner == NULL &&
	    (a.client == NULL || a.client->raw[K_OWNER] == NULL))
		a.owner = r->user;
	for (size_t i = 0; i < p->nroles; i++) {
		const struct entry *e = p->roles[i];

		if (!in_role(r, e))
			continue;
		eff = weigh(&a, e, reaches(&a, &e->scope), &why);
		trace(fn, ctx, e, eff, why);
		if (eff < 0 && deny == NULL)
			deny = e;
		if (eff > 0 && allow == NULL)
			allow = e;
	}
	for (size_t i = 0; i < p->nrules; i++) {
		const struct entry *e = p->rules[i];

		reach = rule_reach(&a, e, &member);
		if (!member)
			continue;
		eff = weigh(&a, e, reach, &why);
		trace(fn, ctx, e, eff, why);
		if (eff < 0 && deny == NULL)
			deny = e;
		if (eff > 0 && allow == NULL)
			allow = e;
	}
	if (deny != NULL)
		verdict(d, 0, deny, NULL);
	else if (allow != NULL)
		verdict(d, 1, allow, NULL);
	else
		verdict(d, 0, NULL, "default deny");
}

void policy_decide(const struct policy *p, const struct policy_req *r,
                   struct policy_decision *d)
{
	policy_explain(p, r, NULL, NULL, d);
}

unsigned policy_allowed(const struct policy *p, const struct policy_req *r)
{
	struct policy_decision d;
	struct policy_req q;
	unsigned set = 0;

	if (r == NULL)
		return 0;
	q = *r;
	for (unsigned bit = 1; bit & POL_ALL; bit <<= 1) {
		q.perm = bit;
		policy_decide(p, &q, &d);
		if (d.allow)
			set |= bit;
	}
	return set;
}

/* ---- names and introspection ------------------------------------------- */

const char *policy_perm_name(unsigned perm)
{
	for (unsigned i = 0; i < 10; i++)
		if (perm == 1u << i)
			return perm_names[i];
	return NULL;
}

int policy_perm_parse(const char *name, unsigned *out)
{
	if (name == NULL || out == NULL)
		return -EINVAL;
	if (strcmp(name, "all") == 0) {
		*out = POL_ALL;
		return 0;
	}
	for (unsigned i = 0; i < 10; i++)
		if (strcmp(name, perm_names[i]) == 0) {
			*out = 1u << i;
			return 0;
		}
	return -EINVAL;
}

const char *policy_version(const struct policy *p)
{
	return p->version;
}

const char *policy_node(const struct policy *p)
{
	return p->settings != NULL ? p->settings->raw[K_NODE] : NULL;
}

size_t policy_user_roles(const struct policy *p, const char *user,
                         const char *const *groups, size_t ngroups,
                         const char **names, size_t max)
{
	struct policy_req r = { .user = user, .groups = groups,
	                        .ngroups = ngroups };
	size_t n = 0;

	if (user == NULL || (ngroups > 0 && groups == NULL))
		return 0;
	for (size_t i = 0; i < p->nroles; i++) {
		if (!is_member(&p->roles[i]->members, &r))
			continue;
		if (n < max)
			names[n] = p->roles[i]->name;
		n++;
	}
	return n;
}

int policy_who_new(const struct policy *p, const char *user,
                   const char *const *groups, size_t ngroups,
                   struct policy_who **out)
{
	struct policy_req r = { .user = user, .groups = groups,
	                        .ngroups = ngroups };
	struct policy_who *w;

	if (user == NULL || (ngroups > 0 && groups == NULL))
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->p = p;
	w->roles = calloc(p->nroles + 1, 1);
	w->teams = calloc(p->nteams + 1, 1);
	if (w->roles == NULL || w->teams == NULL) {
		policy_who_free(w);
		return -ENOMEM;
	}
	for (size_t i = 0; i < p->nroles; i++)
		w->roles[i] = (unsigned char)is_member(&p->roles[i]->members,
		                                       &r);
	for (size_t i = 0; i < p->nteams; i++)
		w->teams[i] = (unsigned char)is_member(&p->teams[i]->members,
		                                       &r);
	*out = w;
	return 0;
}

void policy_who_free(struct policy_who *w)
{
	if (w == NULL)
		return;
	free(w->roles);
	free(w->teams);
	free(w);
}

size_t policy_nroles(const struct policy *p)
{
	return p->nroles;
}

int policy_role_at(const struct policy *p, size_t i, struct policy_role *out)
{
	const struct entry *e;

	if (i >= p->nroles)
		return -ENOENT;
	e = p->roles[i];
	out->name = e->name;
	out->members = (const char *const *)e->members.v;
	out->nmembers = e->members.n;
	out->scope = e->raw[K_SCOPE];
	out->allow = e->allow;
	out->deny = e->deny;
	out->description = e->raw[K_DESCRIPTION];
	out->file = e->file;
	out->line = e->line;
	return 0;
}

size_t policy_nclients(const struct policy *p)
{
	return p->nclients;
}

static void client_info(const struct entry *e, struct policy_client *out)
{
	out->name = e->name;
	out->owner = e->raw[K_OWNER];
	out->team = e->raw[K_TEAM];
	out->members = (const char *const *)e->members.v;
	out->nmembers = e->members.n;
	out->closed = e->raw[K_CLOSED];
	out->retention = e->raw[K_RETENTION];
	out->hold = e->raw[K_HOLD];
	out->file = e->file;
	out->line = e->line;
}

int policy_client_at(const struct policy *p, size_t i,
                     struct policy_client *out)
{
	if (i >= p->nclients)
		return -ENOENT;
	client_info(p->clients[i], out);
	return 0;
}

int policy_client_find(const struct policy *p, const char *name,
                       struct policy_client *out)
{
	const struct entry *e = name != NULL ? client_of(p, name) : NULL;

	if (e == NULL)
		return -ENOENT;
	client_info(e, out);
	return 0;
}

/* ---- alert rules ------------------------------------------------------- */

size_t policy_nalerts(const struct policy *p)
{
	return p->nalerts;
}

int policy_alert_at(const struct policy *p, size_t i,
                    struct policy_alert *out)
{
	const struct entry *e;

	if (i >= p->nalerts)
		return -ENOENT;
	e = p->alerts[i];
	out->name = e->name;
	out->kind = e->alert_kind;
	out->threshold = e->threshold;
	out->window_s = e->window_s;
	out->response = e->response;
	out->any_role = e->any_role;
	out->roles = e->any_role ? NULL
	                         : (const char *const *)e->rolenames.v;
	out->nroles = e->any_role ? 0 : e->rolenames.n;
	out->files = (const char *const *)e->files.v;
	out->nfiles = e->files.n;
	out->days = e->raw[K_DAYS];
	out->hours = e->raw[K_HOURS];
	out->description = e->raw[K_DESCRIPTION];
	out->file = e->file;
	out->line = e->line;
	return 0;
}

const char *policy_alert_kind_name(enum policy_alert_kind kind)
{
	if ((size_t)kind == 0 || (size_t)kind >= NALERT_KINDS)
		return NULL;
	return alert_kinds[kind];
}

const char *policy_alert_response_name(unsigned bit)
{
	for (unsigned i = 0; i < 3; i++)
		if (bit == 1u << i)
			return response_names[i];
	return NULL;
}

int policy_alert_watches(const struct policy *p, size_t i, const char *user,
                         const char *const *groups, size_t ngroups,
                         const struct policy_who *who)
{
	struct policy_req r = { .user = user, .groups = groups,
	                        .ngroups = ngroups, .who = who };
	const struct entry *e;

	if (p == NULL || i >= p->nalerts || user == NULL ||
	    (ngroups > 0 && groups == NULL) || (who != NULL && who->p != p))
		return -EINVAL;
	e = p->alerts[i];
	if (e->any_role)
		return 1;
	for (size_t j = 0; j < e->nroles; j++)
		if (in_role(&r, e->roles[j]))
			return 1;
	return 0;
}

int policy_alert_in_hours(const struct policy *p, size_t i,
                          const struct tm *when)
{
	if (p == NULL || i >= p->nalerts || when == NULL ||
	    when->tm_wday < 0 || when->tm_wday > 6 || when->tm_hour < 0 ||
	    when->tm_hour > 23 || when->tm_min < 0 || when->tm_min > 59)
		return -EINVAL;
	return in_window(&p->alerts[i]->when, when);
}

int policy_alert_path_matches(const struct policy *p, size_t i,
                              const char *path)
{
	const struct entry *e;

	if (p == NULL || i >= p->nalerts || path == NULL || !valid_path(path))
		return -EINVAL;
	e = p->alerts[i];
	if (e->files.n == 0)
		return 1;
	if (path[0] == '\0')
		return 0;
	for (size_t j = 0; j < e->files.n; j++)
		if (glob_hits(e->files.v[j], path))
			return 1;
	return 0;
}

const char *policy_notify(const struct policy *p)
{
	return p->settings != NULL ? p->settings->raw[K_NOTIFY] : NULL;
}

unsigned policy_notify_timeout_s(const struct policy *p)
{
	return p->settings != NULL ? p->settings->timeout_s
	                           : POL_NOTIFY_TIMEOUT_DEF;
}

/* ---- retention and legal hold ------------------------------------------ */

/* Whether [retention] or [hold] e reaches client (entry c, maybe NULL). */
static int keep_reaches(const struct entry *e, const char *client,
                        const struct entry *c)
{
	struct policy_req r = { .client = client };
	struct ask a = { .r = &r, .client = c };

	return e->has_scope && reaches(&a, &e->scope);
}

/* base + the period of e, as a time. */
static time_t period_end(const struct entry *e, time_t base)
{
	struct tm t;

	gmtime_r(&base, &t);
	if (e->unit == 'd')
		t.tm_mday += e->period;
	else if (e->unit == 'm')
		t.tm_mon += e->period;
	else
		t.tm_year += e->period;
	return timegm(&t);
}

/* Weighs one retention e of a file changed at mtime in client c. */
static void keep_one(const struct entry *e, const struct entry *c,
                     time_t mtime, struct policy_keep *k, int *open)
{
	struct tm closed;
	time_t end;
	char lb[NAME_MAX + 16];

	if (e->period == 0)
		return;
	k->retentions++;
	if (!e->from_changed && (c == NULL || !c->has_closed)) {
		*open = 1;
		snprintf(k->why, sizeof(k->why), "[%s] runs from the client's "
		         "closing date; the client is not closed",
		         label(e, lb, sizeof(lb)));
		return;
	}
	if (!e->from_changed) {
		closed = c->closed;
		end = period_end(e, timegm(&closed));
	} else {
		end = period_end(e, mtime);
	}
	if (end > k->due_at) {
		k->due_at = end;
		snprintf(k->by, sizeof(k->by), "%s", label(e, lb, sizeof(lb)));
	}
}

void policy_keep(const struct policy *p, const char *client, time_t mtime,
                 time_t now, struct policy_keep *k)
{
	const struct entry *c = client_of(p, client);
	char lb[NAME_MAX + 16];
	int open = 0;

	memset(k, 0, sizeof(*k));
	if (c != NULL && c->raw[K_HOLD] != NULL) {
		k->hold = c->raw[K_HOLD];
		snprintf(k->hold_by, sizeof(k->hold_by), "%s",
		         label(c, lb, sizeof(lb)));
	}
	for (size_t i = 0; i < p->nall; i++) {
		const struct entry *e = p->all[i];

		if (e->kind == E_HOLD && k->hold == NULL &&
		    keep_reaches(e, client, c)) {
			k->hold = e->raw[K_REASON];
			snprintf(k->hold_by, sizeof(k->hold_by), "%s",
			         label(e, lb, sizeof(lb)));
		}
		if (e->kind == E_RETENTION && keep_reaches(e, client, c))
			keep_one(e, c, mtime, k, &open);
	}
	if (c != NULL)
		keep_one(c, c, mtime, k, &open);
	if (open)
		k->due_at = 0;
	if (k->hold != NULL)
		snprintf(k->why, sizeof(k->why), "legal hold (%s): %s",
		         k->hold_by, k->hold);
	else if (k->retentions == 0)
		snprintf(k->why, sizeof(k->why), "no retention period applies");
	else if (!open && now >= k->due_at) {
		k->due = 1;
		snprintf(k->why, sizeof(k->why), "retention (%s) ended",
		         k->by);
	} else if (!open)
		snprintf(k->why, sizeof(k->why), "kept until the end of its "
		         "retention (%s)", k->by);
}
