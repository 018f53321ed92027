/*
 * dossierctl erase certificate, verify-certificate: signed certificates
 * of sanitization, made from the destruction records of the audit store.
 *
 *   erase certificate VAULT ID [--passphrase-file F | --key-file F]
 *   erase certificate VAULT --client NAME [--since T] [--until T]
 *                     [--passphrase-file F | --key-file F]
 *   erase verify-certificate VAULT FILE
 *
 * certificate unlocks the vault (key from a file or the terminal, never
 * argv or the environment), selects the done destruction records (action
 * "destroy", outcome allowed) of job ID or of client NAME in a time range
 * (T as audit query's, local time; --since inclusive, --until
 * exclusive), checks the store's chain with audit_verify() so that no
 * altered record is certified, and prints the certificate on stdout,
 * signed with the store's checkpoint key (audit_sign_doc()). A job with
 * failed attempts only, or no match, is an error (exit 1).
 *
 * verify-certificate needs no key: it checks the signature with
 * VAULT/audit.pub (audit_check_doc()), then that every certified
 * record's hash is the one VAULT's audit.db stores for that seq
 * (audit_hash_at()), and that the store's chain verifies
 * (audit_verify()): together, that the certified records are in the
 * chain as certified. Any problem audit_verify() finds fails it, as it
 * stops certificate from issuing one: a later checkpoint that does not
 * match may be all that shows an earlier record rewritten and chained
 * again.
 *
 * The certificate (format 1) is text, one "name: value" a line:
 *
 *   dossierfs certificate of sanitization
 *   format: 1
 *   audit key: ed25519:HEX            the key of audit.pub
 *   issued: TIME
 *   selection: id ID | client NAME[; since TIME][; until TIME]
 *   records: N
 *   (blank line)
 *   record I of N                     then, two spaces in, seq, hash (of
 *     seq: ...                        the record, from the chain),
 *     ...                             recorded, node, id, reason,
 *                                     requested by, allowed by, client,
 *                                     path, bytes, digest, method type,
 *                                     method, tool, verification,
 *                                     requested, started, ended, outcome
 *   (blank line after each record)
 *   signature: HEX                    Ed25519, 64 bytes, over every byte
 *                                     before this line (audit_sign_doc)
 *
 * TIME is UTC ISO 8601 to the microsecond; "-" stands for no value.
 * Values are printed as stored, with the control characters that
 * erase status escapes (C0, C1, DEL, bidi controls, line and paragraph
 * separators) as \xHH or \uHHHH and, so that the text reads back
 * unambiguously, a backslash doubled: no value spans two lines.
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
#include "erase.h"
#include "unlock.h"

#define CERT_TITLE   "dossierfs certificate of sanitization"
#define CERT_FORMAT  1
#define CERT_MAX     (64u << 20)      /* bytes of a certificate read */
#define SIG_PREFIX   "signature: "
#define KEY_PREFIX   "audit key: ed25519:"
#define PUB_MAGIC    "dossierfs-audit-ed25519 "
#define HEXKEY       64               /* hex digits of an Ed25519 key */
#define HEXSIG       128              /* ... of a signature */

_Static_assert(AUDIT_HASHBYTES == 32, "hash lines hold 64 hex digits");

static const char *prog = "dossierctl erase";

struct copts {
	const char *vault;
	const char *id;              /* or client */
	const char *client;
	const char *since, *until;
	int64_t since_us, until_us;
	struct unlock_src src;
};

/* One record block being issued (after its "record I of N" line). */
struct block {
	char *text;                  /* malloc'd, wiped */
	size_t len;
};

/* What a certificate is being made of. */
struct issue {
	struct block *blocks;
	unsigned records;            /* blocks used */
	unsigned fails;              /* failed attempts of job ID */
	uint64_t last_fail;          /* ... the last one's seq */
	char *fail_error;            /* ... and its error */
	int damaged;                 /* a record did not read */
};

/* One record block of a certificate being checked. */
struct cblock {
	uint64_t seq;
	unsigned char hash[AUDIT_HASHBYTES];
	int has_seq, has_hash;
	char id[ERASE_IDLEN + 1];
};

/* ---- small helpers ---------------------------------------------------- */

/* A time as the records print it (2026-11-29T23:34:06.258653Z), or "-". */
static void iso_time(int64_t us, char out[48])
{
	time_t t = (time_t)(us / 1000000);
	char day[32];
	struct tm tm;

	if (us <= 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(out, 48, "-");
		return;
	}
	snprintf(out, 48, "%s.%06dZ", day, (int)(us % 1000000));
}

/*
 * Writes s to f with the controls that erase status escapes as escapes
 * (so that a name cannot act on a terminal, nor start a line of its
 * own) and a backslash doubled; NULL as "-".
 */
static void put_esc(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (s == NULL) {
		fputc('-', f);
		return;
	}
	for (; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\x%02x", *p);
		} else if (*p == '\\') {
			fputs("\\\\", f);
		} else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			fprintf(f, "\\u%04x", p[1]);
			p++;
		} else if (p[0] == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xa8 &&
		           p[2] <= 0xae) || (p[1] == 0x81 && p[2] >= 0xa6 &&
		           p[2] <= 0xa9))) {
			fprintf(f, "\\u%04x", 0x2000 | (p[1] & 0x3f) << 6 |
			        (p[2] & 0x3f));
			p += 2;
		} else {
			fputc(*p, f);
		}
	}
}

/* "  name: value\n", the value escaped. */
static void put_field(FILE *f, const char *name, const char *value)
{
	fprintf(f, "  %s: ", name);
	put_esc(f, value);
	fputc('\n', f);
}

/* Whether the n bytes at p start "key=": a key is [a-z0-9-]+. */
static int starts_pair(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && ((p[i] >= 'a' && p[i] <= 'z') ||
	                 (p[i] >= '0' && p[i] <= '9') || p[i] == '-'))
		i++;
	return i > 0 && i < n && p[i] == '=';
}

/*
 * The value of key in a destruction record's detail ("key=value" pairs
 * joined by "; "), malloc'd; NULL when it has none (or on no memory). A
 * piece that does not start "key=" belongs to the value before it: the
 * method of a truncation holds "; " ("... of the cut-off part; the file
 * and its key stay").
 */
static char *detail_value(const char *detail, const char *key)
{
	size_t klen = strlen(key), n;
	const char *p = detail, *val = NULL, *vend = NULL, *end;

	while (p != NULL && *p != '\0') {
		end = strstr(p, "; ");
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (starts_pair(p, n)) {
			if (val != NULL)
				break;
			if (n > klen && p[klen] == '=' &&
			    memcmp(p, key, klen) == 0)
				val = p + klen + 1;
		}
		if (val != NULL)
			vend = p + n;
		p = end != NULL ? end + 2 : NULL;
	}
	return val != NULL ? strndup(val, (size_t)(vend - val)) : NULL;
}

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* audit.pub's key in hex (the format audit.h documents): 0, -EINVAL
 * (not a key file), -errno. */
static int pub_hex(int dirfd, char hex[HEXKEY + 1])
{
	char buf[sizeof(PUB_MAGIC) - 1 + HEXKEY + 2];
	size_t pre = sizeof(PUB_MAGIC) - 1;
	ssize_t n;
	int fd, e;

	fd = openat(dirfd, AUDIT_PUB, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	e = errno;
	close(fd);
	if (n < 0)
		return -e;
	if ((size_t)n != pre + HEXKEY + 1 || memcmp(buf, PUB_MAGIC, pre) != 0
	    || buf[pre + HEXKEY] != '\n' || !is_hex(buf + pre, HEXKEY))
		return -EINVAL;
	memcpy(hex, buf + pre, HEXKEY);
	hex[HEXKEY] = '\0';
	return 0;
}

static void free_wiped(char *buf, size_t len)
{
	if (buf != NULL) {
		sodium_memzero(buf, len);
		free(buf);
	}
}

/* ---- issuing ---------------------------------------------------------- */

/* The fields of done record r into f. */
static void put_record(FILE *f, const struct audit_row *r)
{
	static const char *const keys[] = {
		"digest", "method-type", "method", "tool", "verification",
		"requested", "started", "ended",
	};
	static const char *const names[] = {
		"digest", "method type", "method", "tool", "verification",
		"requested", "started", "ended",
	};
	char when[48], hex[2 * AUDIT_HASHBYTES + 1], *v;
	const struct audit_event *e = &r->ev;

	sodium_bin2hex(hex, sizeof(hex), r->hash, AUDIT_HASHBYTES);
	iso_time(r->time_us, when);
	fprintf(f, "  seq: %" PRIu64 "\n  hash: %s\n  recorded: %s\n",
	        r->seq, hex, when);
	put_field(f, "node", e->node);
	v = detail_value(e->detail, "id");
	put_field(f, "id", v);
	free(v);
	v = detail_value(e->detail, "reason");
	put_field(f, "reason", v);
	free(v);
	fputs("  requested by: user ", f);
	put_esc(f, e->user);
	fprintf(f, "; uid %u; roles ", (unsigned)e->uid);
	put_esc(f, e->roles);
	fputs("\n  allowed by: rule ", f);
	put_esc(f, e->rule);
	fputs("; policy ", f);
	put_esc(f, e->policy);
	fputc('\n', f);
	put_field(f, "client", e->client);
	put_field(f, "path", e->path);
	if (e->has_bytes)
		fprintf(f, "  bytes: %" PRIu64 "\n", e->bytes);
	else
		fputs("  bytes: -\n", f);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		v = detail_value(e->detail, keys[i]);
		put_field(f, names[i], v);
		free(v);
	}
	fputs("  outcome: done\n\n", f);
}

/* Appends the block of done record r to is: 0 or -ENOMEM. */
static int add_block(struct issue *is, const struct audit_row *r)
{
	struct block *b, *more;
	FILE *f;
	int rc;

	if (is->records == UINT32_MAX ||
	    (more = reallocarray(is->blocks, is->records + 1,
	                         sizeof(*more))) == NULL)
		return -ENOMEM;
	is->blocks = more;
	b = &is->blocks[is->records];
	memset(b, 0, sizeof(*b));
	if ((f = open_memstream(&b->text, &b->len)) == NULL)
		return -ENOMEM;
	put_record(f, r);
	rc = ferror(f) ? -ENOMEM : 0;
	if (fclose(f) != 0)
		rc = -ENOMEM;
	/* Counted either way, so that issue() frees it. */
	is->records++;
	return rc;
}

/* Whether r is a destruction record of job id. */
static int of_job(const struct audit_row *r, const char *id)
{
	char *v = detail_value(r->ev.detail, "id");
	int yes = v != NULL && strcmp(v, id) == 0;

	free(v);
	return yes;
}

/* Reads the selected records of a into is: 0, or -1 (a line on stderr). */
static int select_records(const struct copts *o, struct audit *a,
                          struct issue *is)
{
	struct audit_filter f = {
		.action = "destroy", .client = o->client,
		.outcome = o->client ? AUDIT_ALLOWED : 0,
		.since_us = o->since_us, .until_us = o->until_us,
	};
	struct audit_cursor *c = NULL;
	struct audit_row r;
	int rc;

	if ((rc = audit_cursor_open(a, &f, &c)) != 0) {
		fprintf(stderr, "%s: cannot read the audit store of %s: %s\n",
		        prog, o->vault, strerror(-rc));
		return -1;
	}
	while ((rc = audit_cursor_next(c, &r)) != 0) {
		if (rc == -EBADMSG && r.seq > 0) {
			fprintf(stderr, "%s: seq %" PRIu64 ": damaged record "
			        "(run dossierctl audit verify)\n", prog, r.seq);
			is->damaged = 1;
			continue;
		}
		if (rc < 0) {
			fprintf(stderr, "%s: cannot read the audit store of %s: "
			        "%s\n", prog, o->vault, strerror(-rc));
			break;
		}
		if (o->id != NULL && !of_job(&r, o->id))
			continue;
		if (r.ev.outcome == AUDIT_ALLOWED) {
			if ((rc = add_block(is, &r)) != 0)
				break;
		} else {
			is->fails++;
			is->last_fail = r.seq;
			free(is->fail_error);
			is->fail_error = detail_value(r.ev.detail, "error");
		}
	}
	audit_cursor_close(c);
	if (rc == -ENOMEM)
		fprintf(stderr, "%s: %s\n", prog, strerror(ENOMEM));
	else if (rc == 0 && is->damaged)
		fprintf(stderr, "%s: damaged records in the audit store of %s: "
		        "no certificate issued\n", prog, o->vault);
	return rc == 0 && !is->damaged ? 0 : -1;
}

/* Says why nothing was selected. */
static void none_selected(const struct copts *o, const struct issue *is)
{
	if (o->id != NULL && is->fails > 0) {
		fprintf(stderr, "%s: job %s was not destroyed: %u failed "
		        "attempt%s, the last at seq %" PRIu64 ", error: ", prog,
		        o->id, is->fails, is->fails == 1 ? "" : "s",
		        is->last_fail);
		put_esc(stderr, is->fail_error);
		fprintf(stderr, "; nothing to certify\n");
	} else if (o->id != NULL) {
		fprintf(stderr, "%s: no destruction of job %s is recorded in "
		        "%s\n", prog, o->id, o->vault);
	} else {
		fprintf(stderr, "%s: no done destruction of client ", prog);
		put_esc(stderr, o->client);
		fprintf(stderr, " is recorded in %s%s\n", o->vault,
		        o->since || o->until ? " in that time" : "");
	}
}

/* The store must verify, all of it (see the top of the file): 0, or -1
 * (a line on stderr). */
static int chain_holds(const struct copts *o, int dirfd)
{
	struct audit_verify v;
	int rc = audit_verify(dirfd, &v);

	if (rc == -EBADMSG && v.bad_seq > 0)
		fprintf(stderr, "%s: the audit store of %s does not verify "
		        "(seq %" PRIu64 ": %s): no certificate issued\n", prog,
		        o->vault, v.bad_seq, v.reason);
	else if (rc == -EBADMSG)
		fprintf(stderr, "%s: the audit store of %s does not verify "
		        "(%s): no certificate issued\n", prog, o->vault,
		        v.reason);
	else if (rc != 0)
		fprintf(stderr, "%s: cannot verify the audit store of %s: %s\n",
		        prog, o->vault, strerror(-rc));
	return rc == 0 ? 0 : -1;
}

/* The header and the blocks into *out (malloc'd, *len bytes): 0 or
 * -ENOMEM. */
static int make_body(const struct copts *o, const struct issue *is,
                     const char *key, char **out, size_t *len)
{
	struct timespec now;
	char when[48];
	FILE *f = open_memstream(out, len);
	int rc;

	if (f == NULL)
		return -ENOMEM;
	clock_gettime(CLOCK_REALTIME, &now);
	iso_time((int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000, when);
	fprintf(f, CERT_TITLE "\nformat: %d\n" KEY_PREFIX "%s\nissued: %s\n",
	        CERT_FORMAT, key, when);
	if (o->id != NULL) {
		fprintf(f, "selection: id %s\n", o->id);
	} else {
		fputs("selection: client ", f);
		put_esc(f, o->client);
		iso_time(o->since_us, when);
		if (o->since)
			fprintf(f, "; since %s", when);
		iso_time(o->until_us, when);
		if (o->until)
			fprintf(f, "; until %s", when);
		fputc('\n', f);
	}
	fprintf(f, "records: %u\n\n", is->records);
	for (unsigned i = 0; i < is->records; i++) {
		fprintf(f, "record %u of %u\n", i + 1, is->records);
		fwrite(is->blocks[i].text, 1, is->blocks[i].len, f);
	}
	rc = ferror(f) ? -ENOMEM : 0;
	if (fclose(f) != 0)
		rc = -ENOMEM;
	if (rc != 0) {
		free_wiped(*out, *len);
		*out = NULL;
	}
	return rc;
}

/* Signs body, checks the signature with audit.pub as a verifier will,
 * and writes the certificate: 0, or -1 (a line on stderr). */
static int sign_and_write(const struct copts *o, struct audit *a, int dirfd,
                          const char *body, size_t len)
{
	unsigned char sig[crypto_sign_BYTES];
	char hex[HEXSIG + 1];
	int rc;

	if ((rc = audit_sign_doc(a, body, len, sig)) != 0) {
		fprintf(stderr, "%s: cannot sign: %s\n", prog, strerror(-rc));
		return -1;
	}
	if ((rc = audit_check_doc(dirfd, body, len, sig)) != 0) {
		fprintf(stderr, "%s: %s/%s does not check this store's "
		        "signature (%s): run dossierctl audit verify\n", prog,
		        o->vault, AUDIT_PUB, strerror(-rc));
		return -1;
	}
	sodium_bin2hex(hex, sizeof(hex), sig, sizeof(sig));
	fwrite(body, 1, len, stdout);
	printf(SIG_PREFIX "%s\n", hex);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write the output: %s\n", prog,
		        strerror(errno));
		return -1;
	}
	return 0;
}

/* The vault's store for reading: 0, or -1 (a line on stderr). */
static int open_store(const struct copts *o, struct vault *v,
                      struct audit **out)
{
	unsigned char *secret;
	struct stat sb;
	int rc;

	if (fstatat(vault_dir_fd(v), AUDIT_DB, &sb, AT_SYMLINK_NOFOLLOW) != 0
	    && errno == ENOENT) {
		fprintf(stderr, "%s: %s has no audit store: no destruction is "
		        "recorded in it\n", prog, o->vault);
		return -1;
	}
	if ((secret = sodium_malloc(AUDIT_SECRETBYTES)) == NULL) {
		fprintf(stderr, "%s: %s\n", prog, strerror(ENOMEM));
		return -1;
	}
	vault_subkey(v, AUDIT_KDF_ID, AUDIT_KDF_CTX, secret);
	rc = audit_open_read(vault_dir_fd(v), secret, out);
	sodium_free(secret);
	if (rc == -EKEYREJECTED)
		fprintf(stderr, "%s: the audit store of %s was not made with "
		        "this vault's key\n", prog, o->vault);
	else if (rc != 0)
		fprintf(stderr, "%s: cannot open the audit store of %s: %s\n",
		        prog, o->vault, strerror(-rc));
	return rc == 0 ? 0 : -1;
}

static int issue(const struct copts *o)
{
	struct issue is = { 0 };
	struct vault *v = NULL;
	struct audit *a = NULL;
	char key[HEXKEY + 1], *body = NULL;
	size_t blen = 0;
	int rc = 1, e;

	if (unlock_vault(prog, o->vault, &o->src, &v) != 0)
		return 1;
	if (open_store(o, v, &a) != 0)
		goto out;
	if ((e = pub_hex(vault_dir_fd(v), key)) != 0) {
		fprintf(stderr, "%s: %s/%s: %s\n", prog, o->vault, AUDIT_PUB,
		        e == -EINVAL ? "not an audit signing key"
		                     : strerror(-e));
		goto out;
	}
	if (select_records(o, a, &is) != 0)
		goto out;
	if (is.records == 0) {
		none_selected(o, &is);
		goto out;
	}
	if (chain_holds(o, vault_dir_fd(v)) != 0)
		goto out;
	if (make_body(o, &is, key, &body, &blen) != 0) {
		fprintf(stderr, "%s: %s\n", prog, strerror(ENOMEM));
		goto out;
	}
	if (sign_and_write(o, a, vault_dir_fd(v), body, blen) == 0)
		rc = 0;
out:
	free_wiped(body, blen);
	for (unsigned i = 0; i < is.records; i++)
		free_wiped(is.blocks[i].text, is.blocks[i].len);
	free(is.blocks);
	free(is.fail_error);
	audit_close(a);
	vault_close(v);
	return rc;
}

static int issue_args(int argc, char **argv, struct copts *o)
{
	const struct ctl_flag flags[] = {
		{ "--passphrase-file", &o->src.passphrase_file },
		{ "--key-file", &o->src.key_file },
		{ "--client", &o->client },
		{ "--since", &o->since },
		{ "--until", &o->until },
	};
	const char *pos[2] = { NULL, NULL };

	if (ctl_flags(argc, argv, 3, flags, sizeof(flags) / sizeof(flags[0]),
	              pos, 2) < 0)
		return 2;
	o->vault = pos[0];
	o->id = pos[1];
	if (o->vault == NULL || (o->id == NULL) == (o->client == NULL) ||
	    (o->id != NULL && (o->since || o->until)))
		return 2;
	if (o->id != NULL && (strlen(o->id) != ERASE_IDLEN ||
	                      !is_hex(o->id, ERASE_IDLEN))) {
		fprintf(stderr, "%s: a job ID is %u hex digits (as erase "
		        "status lists them)\n", prog, ERASE_IDLEN);
		return 2;
	}
	if ((o->since && ctl_parse_time(o->since, &o->since_us) != 0) ||
	    (o->until && ctl_parse_time(o->until, &o->until_us) != 0)) {
		fprintf(stderr, "%s: a time is \"YYYY-MM-DD[ HH:MM[:SS]]\"\n",
		        prog);
		return 2;
	}
	return 0;
}

int ctl_erase_certificate(int argc, char **argv)
{
	struct copts o = { 0 };
	int rc = issue_args(argc, argv, &o);

	return rc != 0 ? rc : issue(&o);
}

/* ---- verifying -------------------------------------------------------- */

/* FILE ("-": stdin) whole into a malloc'd buffer: 0, or -1 (a line on
 * stderr). */
static int slurp(const char *path, char **out, size_t *len)
{
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 0, n = 0;
	char *buf = NULL, *more;
	ssize_t got = 0;
	int e;

	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : 8192;
			if (cap > CERT_MAX || (more = realloc(buf, cap)) == NULL)
				break;
			buf = more;
		}
		if ((got = read(fd, buf + n, cap - n)) <= 0)
			break;
		n += (size_t)got;
	}
	e = errno;
	if (fd != 0)
		close(fd);
	if (got != 0 || n == cap) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, n == cap ?
		        "too long for a certificate" : strerror(e));
		free(buf);
		return -1;
	}
	*out = buf;
	*len = n;
	return 0;
}

/* The signature line that ends text: the length of the body before it,
 * with the signature into sig; 0 if there is no such line. */
static size_t split_sig(const char *text, size_t len,
                        unsigned char sig[crypto_sign_BYTES])
{
	size_t line = sizeof(SIG_PREFIX) - 1 + HEXSIG + 1, body, got;

	if (len < line || text[len - 1] != '\n')
		return 0;
	body = len - line;
	if ((body > 0 && text[body - 1] != '\n') ||
	    memcmp(text + body, SIG_PREFIX, sizeof(SIG_PREFIX) - 1) != 0 ||
	    !is_hex(text + body + sizeof(SIG_PREFIX) - 1, HEXSIG) ||
	    sodium_hex2bin(sig, crypto_sign_BYTES, text + body +
	                   sizeof(SIG_PREFIX) - 1, HEXSIG, NULL, &got,
	                   NULL) != 0 || got != crypto_sign_BYTES)
		return 0;
	return body;
}

/* The value of the first line of body that starts with prefix, up to
 * its end, into out (cap bytes, cut short): 0, or -1 if none. */
static int header_value(const char *body, size_t len, const char *prefix,
                        char *out, size_t cap)
{
	size_t plen = strlen(prefix);
	const char *p = body, *end = body + len, *nl;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((size_t)(nl - p) >= plen && memcmp(p, prefix, plen) == 0) {
			snprintf(out, cap, "%.*s", (int)(nl - p) - (int)plen,
			         p + plen);
			return 0;
		}
		if (nl == p)
			break;           /* the header ends at the blank line */
	}
	return -1;
}

/* A record block's line: seq, hash or id into b. 0, or -1 if malformed. */
static int block_line(struct cblock *b, const char *p, size_t n)
{
	char num[24];
	size_t got;

	if (n > 7 && memcmp(p, "  seq: ", 7) == 0) {
		char *end;

		if (b->has_seq || n - 7 >= sizeof(num) || p[7] < '1' ||
		    p[7] > '9')
			return -1;
		memcpy(num, p + 7, n - 7);
		num[n - 7] = '\0';
		errno = 0;
		b->seq = strtoull(num, &end, 10);
		b->has_seq = 1;
		if (*end != '\0' || errno != 0 || b->seq > INT64_MAX)
			return -1;
		return 0;
	}
	if (n > 8 && memcmp(p, "  hash: ", 8) == 0) {
		if (b->has_hash || n - 8 != 2 * AUDIT_HASHBYTES ||
		    !is_hex(p + 8, n - 8) ||
		    sodium_hex2bin(b->hash, AUDIT_HASHBYTES, p + 8, n - 8, NULL,
		                   &got, NULL) != 0)
			return -1;
		b->has_hash = 1;
		return 0;
	}
	if (n == 6 + ERASE_IDLEN && memcmp(p, "  id: ", 6) == 0)
		memcpy(b->id, p + 6, ERASE_IDLEN);
	return 0;
}

/* The record blocks of a signed body: 0, or -1 if it is not a certificate
 * this tool made. */
static int parse_blocks(const char *body, size_t len, struct cblock **out,
                        size_t *nout)
{
	const char *p = body, *end = body + len, *nl;
	struct cblock *b = NULL, *more;
	size_t n = 0;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			goto bad;
		if ((size_t)(nl - p) > 7 && memcmp(p, "record ", 7) == 0) {
			if (n > 0 && (!b[n - 1].has_seq || !b[n - 1].has_hash))
				goto bad;
			if ((more = reallocarray(b, n + 1, sizeof(*b))) == NULL)
				goto bad;
			b = more;
			memset(&b[n++], 0, sizeof(*b));
		} else if (n > 0 && block_line(&b[n - 1], p,
		                               (size_t)(nl - p)) != 0) {
			goto bad;
		}
	}
	if (n == 0 || !b[n - 1].has_seq || !b[n - 1].has_hash)
		goto bad;
	*out = b;
	*nout = n;
	return 0;
bad:
	free(b);
	return -1;
}

/* Checks the store's record of each block: the number of bad ones, or
 * -1 when the store cannot be read (a line on stderr). */
static int check_blocks(const char *vault, int dirfd, const struct cblock *b,
                        size_t n)
{
	unsigned char h[AUDIT_HASHBYTES];
	int bad = 0, rc;

	for (size_t i = 0; i < n; i++) {
		printf("record %zu: seq %" PRIu64 ", id %s: ", i + 1, b[i].seq,
		       b[i].id[0] ? b[i].id : "?");
		rc = audit_hash_at(dirfd, b[i].seq, h);
		if (rc == 0 && memcmp(h, b[i].hash, sizeof(h)) == 0) {
			printf("the store holds it with the certified hash\n");
			continue;
		}
		bad++;
		if (rc == 0)
			printf("bad: the record the store holds at seq %" PRIu64
			       " has another hash than the certified one: it "
			       "was changed or replaced\n", b[i].seq);
		else if (rc == -ENOENT)
			printf("bad: the store has no record %" PRIu64 ": it "
			       "was deleted, or the certificate is another "
			       "vault's\n", b[i].seq);
		else if (rc == -EBADMSG)
			printf("bad: the stored hash of seq %" PRIu64 " is "
			       "malformed\n", b[i].seq);
		else {
			printf("cannot read it\n");
			fprintf(stderr, "%s: cannot read the audit store of %s: "
			        "%s\n", prog, vault, strerror(-rc));
			return -1;
		}
	}
	return bad;
}

/* The chain holding the blocks (seq up to max_seq) must verify, all of
 * it (see chain_holds()): 0, 1 (said why on stdout), or -1 (could not
 * check; a line on stderr). */
static int check_chain(const char *vault, int dirfd, uint64_t max_seq)
{
	struct audit_verify v;
	int rc = audit_verify(dirfd, &v);

	if (rc == 0) {
		printf("audit store: chain verified, %" PRIu64 " records, last "
		       "checkpoint at seq %" PRIu64 " (%s)\n", v.records,
		       v.last_checkpoint, v.last_checkpoint >= max_seq ?
		       "signs every certified record" : "some certified "
		       "records are after it: covered by the chain only");
		return 0;
	}
	if (rc == -EBADMSG && v.bad_seq > 0) {
		printf("bad: audit store: seq %" PRIu64 ": %s\n", v.bad_seq,
		       v.reason);
		return 1;
	}
	if (rc == -EBADMSG) {
		printf("bad: audit store: %s\n", v.reason);
		return 1;
	}
	fprintf(stderr, "%s: cannot verify the audit store of %s: %s\n", prog,
	        vault, strerror(-rc));
	return -1;
}

/* A failed signature: what the certificate says its key is, if that is
 * not audit.pub's. */
static void key_hint(const char *body, size_t len, const char *pub)
{
	char key[HEXKEY + 8];

	if (header_value(body, len, KEY_PREFIX, key, sizeof(key)) == 0 &&
	    strcmp(key, pub) != 0)
		printf("bad: the certificate names audit key %s, %s holds %s: "
		       "it is another vault's certificate, or %s was "
		       "replaced\n", key, AUDIT_PUB, pub, AUDIT_PUB);
}

/* Checks the signed body of a certificate against the vault dirfd: 0,
 * 1 (bad, said on stdout), or -1 (could not check). */
static int check_body(const char *vault, int dirfd, const char *body,
                      size_t len, const unsigned char *sig, const char *pub)
{
	const char *nl = memchr(body, '\n', len);
	struct cblock *b = NULL;
	char val[HEXKEY + 8], want[16];
	size_t n = 0;
	uint64_t max_seq = 0;
	int rc, bad;

	rc = audit_check_doc(dirfd, body, len, sig);
	if (rc == -EBADMSG) {
		printf("bad: the signature does not verify with %s/%s: the "
		       "certificate was altered, or is not from this vault\n",
		       vault, AUDIT_PUB);
		key_hint(body, len, pub);
		return 1;
	}
	if (rc != 0) {
		fprintf(stderr, "%s: %s/%s: %s\n", prog, vault, AUDIT_PUB,
		        strerror(-rc));
		return -1;
	}
	snprintf(want, sizeof(want), "%d", CERT_FORMAT);
	if (nl == NULL || (size_t)(nl - body) != sizeof(CERT_TITLE) - 1 ||
	    memcmp(body, CERT_TITLE, sizeof(CERT_TITLE) - 1) != 0 ||
	    header_value(body, len, "format: ", val, sizeof(val)) != 0 ||
	    strcmp(val, want) != 0 ||
	    header_value(body, len, KEY_PREFIX, val, sizeof(val)) != 0 ||
	    strcmp(val, pub) != 0 ||
	    header_value(body, len, "records: ", val, sizeof(val)) != 0 ||
	    parse_blocks(body, len, &b, &n) != 0 ||
	    strtoull(val, NULL, 10) != n) {
		printf("bad: signed, but not a certificate of format %d that "
		       "this dossierctl reads\n", CERT_FORMAT);
		free(b);
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		if (b[i].seq > max_seq)
			max_seq = b[i].seq;
	printf("signature: good (%s/%s)\n", vault, AUDIT_PUB);
	if ((bad = check_blocks(vault, dirfd, b, n)) >= 0) {
		rc = check_chain(vault, dirfd, max_seq);
		if (rc >= 0 && bad == 0 && rc == 0)
			printf("certificate OK: %zu record%s\n", n,
			       n == 1 ? "" : "s");
		else if (rc >= 0)
			printf("certificate NOT OK\n");
		bad = rc < 0 ? -1 : bad > 0 || rc > 0;
	}
	free(b);
	return bad;
}

static int verify(const char *vault, const char *file)
{
	unsigned char sig[crypto_sign_BYTES];
	char pub[HEXKEY + 1], *text = NULL;
	struct kw_params p;
	size_t len = 0, body;
	int fd = -1, rc = 1, e;

	if (unlock_params(prog, vault, &p) != 0)
		return 1;
	if ((fd = open(vault, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, vault, strerror(errno));
		return 1;
	}
	if ((e = pub_hex(fd, pub)) != 0) {
		fprintf(stderr, "%s: %s/%s: %s\n", prog, vault, AUDIT_PUB,
		        e == -ENOENT ? "missing: cannot verify without the "
		        "signing key" : e == -EINVAL ? "not an audit signing "
		        "key" : strerror(-e));
		goto out;
	}
	if (faccessat(fd, AUDIT_DB, F_OK, AT_SYMLINK_NOFOLLOW) != 0) {
		fprintf(stderr, "%s: %s has no audit store (%s)\n", prog, vault,
		        AUDIT_DB);
		goto out;
	}
	if (slurp(file, &text, &len) != 0)
		goto out;
	if ((body = split_sig(text, len, sig)) == 0 ||
	    memchr(text, '\0', body) != NULL) {
		printf("bad: %s is not a signed certificate (no \"%s\" line "
		       "at its end)\n", file, SIG_PREFIX "HEX");
		goto out;
	}
	rc = check_body(vault, fd, text, body, sig, pub) == 0 ? 0 : 1;
out:
	if (text != NULL)
		free_wiped(text, len);
	close(fd);
	return rc;
}

int ctl_erase_verify_certificate(int argc, char **argv)
{
	if (argc != 5 || (argv[3][0] == '-' && argv[3][1] != '\0') ||
	    (argv[4][0] == '-' && argv[4][1] != '\0'))
		return 2;
	return verify(argv[3], argv[4]);
}
