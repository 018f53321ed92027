/*
 * dossierctl audit: verify a vault's audit store, and query it.
 *
 *   audit verify VAULT
 *   audit query VAULT [--passphrase-file F | --key-file F] [--client NAME]
 *               [--user NAME] [--action ACTION]
 *               [--outcome allowed|denied|error] [--since TIME]
 *               [--until TIME] [--format table|csv|json]
 *
 * verify needs no key, only audit.pub, so an auditor can run it without
 * the passphrase. query unlocks the vault like the other commands (key
 * from a file or the terminal, never argv or the environment) to decrypt
 * client and file names, and streams the matching records; the store is
 * opened read-only, so both may run while the daemon writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include "unlock.h"

static const char *prog = "dossierctl audit";

struct aopts {
	const char *vault;
	struct unlock_src src;
	struct audit_filter f;
	enum audit_format fmt;
	int nflags;
	const char *outcome, *since, *until, *format;
};

static int usage(void)
{
	fprintf(stderr, "usage:\n"
	        "  dossierctl audit verify VAULT\n"
	        "  dossierctl audit query VAULT [--passphrase-file F | "
	        "--key-file F]\n"
	        "      [--client NAME] [--user NAME] [--action ACTION]\n"
	        "      [--outcome allowed|denied|error] [--since TIME] "
	        "[--until TIME]\n"
	        "      [--format table|csv|json]\n"
	        "TIME is \"YYYY-MM-DD[ HH:MM[:SS]]\" local time; --since is "
	        "inclusive, --until exclusive\n");
	return 2;
}

static int do_verify(struct aopts *o)
{
	struct audit_verify v;
	int fd, rc;

	if (o->nflags > 0)
		return 2;
	if ((fd = ctl_store_dir(prog, o->vault)) < 0)
		return 1;
	rc = audit_verify(fd, &v);
	close(fd);
	if (rc == 0) {
		printf("ok: %" PRIu64 " records, %" PRIu64 " checkpoints, last "
		       "checkpoint at seq %" PRIu64 ", %" PRIu64 " records after"
		       " it (not signed yet)\n", v.records, v.checkpoints,
		       v.last_checkpoint, v.unsigned_records);
		printf("signing key: %s (%s)\n", v.pubkey, AUDIT_PUB);
		return 0;
	}
	if (rc == -EBADMSG && v.bad_seq > 0)
		printf("bad: seq %" PRIu64 ": %s\n", v.bad_seq, v.reason);
	else if (rc == -EBADMSG)
		printf("bad: %s\n", v.reason);
	else if (rc == -ENOENT)
		fprintf(stderr, "%s: %s/%s is missing: cannot verify without "
		        "the signing key\n", prog, o->vault, AUDIT_PUB);
	else if (rc == -EINVAL)
		fprintf(stderr, "%s: %s/%s is not an audit signing key\n", prog,
		        o->vault, AUDIT_PUB);
	else
		fprintf(stderr, "%s: cannot read the audit store of %s: %s\n",
		        prog, o->vault, strerror(-rc));
	return 1;
}

/* Formats r into *buf, growing it as needed: the length, or 0. */
static size_t format_row(const struct audit_row *r, enum audit_format fmt,
                         char **buf, size_t *cap)
{
	size_t n = audit_format(r, fmt, *buf, *cap);
	char *nb;

	if (n < *cap)
		return n;
	nb = malloc(n + 1);
	if (nb == NULL)
		return 0;
	sodium_memzero(*buf, *cap);
	free(*buf);
	*buf = nb;
	*cap = n + 1;
	return audit_format(r, fmt, *buf, *cap);
}

/* Writes every record of c; 0, or 1 if any could not be read. */
static int stream(struct audit_cursor *c, enum audit_format fmt)
{
	struct audit_row r;
	size_t cap = 4096, n;
	char *buf = malloc(cap);
	int rc, bad = 0;

	if (buf == NULL)
		return 1;
	fputs(audit_format_header(fmt, buf, cap) ? buf : "", stdout);
	while ((rc = audit_cursor_next(c, &r)) != 0) {
		if (rc == -EBADMSG && r.seq > 0) {
			fprintf(stderr, "%s: seq %" PRIu64 ": damaged record "
			        "(run dossierctl audit verify)\n", prog, r.seq);
			bad = 1;
			continue;
		}
		if (rc < 0) {
			fprintf(stderr, "%s: cannot read the audit store: %s\n",
			        prog, strerror(-rc));
			bad = 1;
			break;
		}
		if ((n = format_row(&r, fmt, &buf, &cap)) == 0) {
			bad = 1;
			break;
		}
		fwrite(buf, 1, n, stdout);
	}
	sodium_memzero(buf, cap);
	free(buf);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write the output: %s\n", prog,
		        strerror(errno));
		bad = 1;
	}
	return bad;
}

/* Turns the query options' text into the filter and format. */
static int query_options(struct aopts *o)
{
	static const char *const fmts[] = { "table", "csv", "json" };
	int found = 0;

	if (o->outcome && audit_outcome_parse(o->outcome, &o->f.outcome) != 0) {
		fprintf(stderr, "%s: --outcome is allowed, denied or error\n",
		        prog);
		return 2;
	}
	if ((o->since && ctl_parse_time(o->since, &o->f.since_us) != 0) ||
	    (o->until && ctl_parse_time(o->until, &o->f.until_us) != 0)) {
		fprintf(stderr, "%s: a time is \"YYYY-MM-DD[ HH:MM[:SS]]\"\n",
		        prog);
		return 2;
	}
	for (int i = 0; o->format && i < 3; i++) {
		if (strcmp(o->format, fmts[i]) == 0) {
			o->fmt = (enum audit_format)i;
			found = 1;
		}
	}
	if (o->format && !found) {
		fprintf(stderr, "%s: --format is table, csv or json\n", prog);
		return 2;
	}
	return 0;
}

_Static_assert(AUDIT_FMT_TEXT == 0 && AUDIT_FMT_CSV == 1 &&
               AUDIT_FMT_JSON == 2, "query_options() maps names by order");

static int do_query(struct aopts *o)
{
	struct audit *a = NULL;
	struct audit_cursor *c = NULL;
	int rc;

	if ((rc = query_options(o)) != 0)
		return rc;
	if (ctl_open_store(prog, o->vault, &o->src, &a) != 0)
		return 1;
	rc = audit_cursor_open(a, &o->f, &c);
	if (rc != 0) {
		fprintf(stderr, "%s: cannot read the audit store of %s: %s\n",
		        prog, o->vault, strerror(-rc));
		audit_close(a);
		return 1;
	}
	rc = stream(c, o->fmt);
	audit_cursor_close(c);
	audit_close(a);
	return rc;
}

static int parse(int argc, char **argv, struct aopts *o)
{
	const struct ctl_flag flags[] = {
		{ "--passphrase-file", &o->src.passphrase_file },
		{ "--key-file", &o->src.key_file },
		{ "--client", &o->f.client },
		{ "--user", &o->f.user },
		{ "--action", &o->f.action },
		{ "--outcome", &o->outcome },
		{ "--since", &o->since },
		{ "--until", &o->until },
		{ "--format", &o->format },
	};
	int n = ctl_flags(argc, argv, 3, flags,
	                  sizeof(flags) / sizeof(flags[0]), &o->vault, 1);

	if (n < 0)
		return 2;
	o->nflags = n;
	return o->vault ? 0 : 2;
}

int ctl_audit(int argc, char **argv)
{
	struct aopts o = { .fmt = AUDIT_FMT_TEXT };
	int rc;

	if (argc < 3 || parse(argc, argv, &o) != 0)
		return usage();
	if (strcmp(argv[2], "verify") == 0)
		rc = do_verify(&o);
	else if (strcmp(argv[2], "query") == 0)
		rc = do_query(&o);
	else
		rc = 2;
	return rc == 2 ? usage() : rc;
}
