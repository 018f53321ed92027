/*
 * auditscript: appends the events of a script to a vault's audit store,
 * for tests that need records of known content (dossierctl report).
 *
 *   tests/auditscript VAULT SCRIPT --passphrase-file F
 *
 * SCRIPT has one event per line, ten fields separated by tabs:
 *
 *   USER  UID  ROLES  ACTION  CLIENT  PATH  OUTCOME  RULE  DETAIL  BYTES
 *
 * A field "-" is none (NULL); an empty field is the empty string. In
 * every field \t, \n, \r, \\ and \xHH stand for those bytes (so a field
 * that is one "-" is written \x2d). UID and BYTES (or "-") are decimal;
 * OUTCOME is allowed, denied or error (errno EACCES for denied, EIO for
 * error); ACTION is required. Empty lines and lines starting with '#'
 * are skipped. The whole script is checked before anything is written:
 * a bad line is reported as SCRIPT:LINE and nothing is appended. The
 * store stamps each record with the time it is written, as the daemon's
 * would be; the events are committed in script order and signed with
 * one checkpoint. The daemon must not be running on VAULT meanwhile.
 * Prints one line with the count; exit status 0, 1 on failure, 2 on bad
 * usage or a bad script.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "audit.h"
#include "unlock.h"
#include "vault.h"

#define NFIELDS     10
#define SCRIPT_MAX  (64u << 20)     /* bytes of a script */

static const char *prog = "auditscript";

struct script {
	char *text;                  /* the file, cut into fields in place */
	struct audit_event *ev;
	size_t n, cap;
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the escapes of s in place; -1 for a bad one or a NUL. */
static int unescape(char *s)
{
	char *w = s;

	for (char *p = s; *p != '\0'; p++) {
		if (*p != '\\') {
			*w++ = *p;
			continue;
		}
		switch (*++p) {
		case 't': *w++ = '\t'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case '\\': *w++ = '\\'; break;
		case 'x':
			if (hexval(p[1]) < 0 || hexval(p[2]) < 0 ||
			    (hexval(p[1]) | hexval(p[2])) == 0)
				return -1;
			*w++ = (char)(hexval(p[1]) << 4 | hexval(p[2]));
			p += 2;
			break;
		default:
			return -1;
		}
	}
	*w = '\0';
	return 0;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || x > max)
		return -1;
	*out = x;
	return 0;
}

/* One line into *e: 0, or -1 with why. */
static int parse_line(char *line, struct audit_event *e, const char **why)
{
	char *f[NFIELDS];
	const char **text[] = { &e->user, NULL, &e->roles, &e->action,
	                        &e->client, &e->path, NULL, &e->rule,
	                        &e->detail, NULL };
	uint64_t x;
	int k = 0;

	f[k++] = line;
	for (char *p = line; *p != '\0'; p++) {
		if (*p != '\t')
			continue;
		*p = '\0';
		if (k == NFIELDS) {
			*why = "more than ten fields";
			return -1;
		}
		f[k++] = p + 1;
	}
	if (k != NFIELDS) {
		*why = "fewer than ten fields";
		return -1;
	}
	memset(e, 0, sizeof(*e));
	for (int i = 0; i < NFIELDS; i++) {
		if (text[i] == NULL || strcmp(f[i], "-") == 0)
			continue;
		if (unescape(f[i]) != 0) {
			*why = "a bad escape";
			return -1;
		}
		*text[i] = f[i];
	}
	if (parse_u64(f[1], UINT32_MAX - 1, &x) != 0) {
		*why = "UID is not a number";
		return -1;
	}
	e->uid = (uid_t)x;
	if (e->action == NULL) {
		*why = "no ACTION";
		return -1;
	}
	if (audit_outcome_parse(f[6], &e->outcome) != 0) {
		*why = "OUTCOME is not allowed, denied or error";
		return -1;
	}
	e->err = e->outcome == AUDIT_DENIED ? EACCES :
	         e->outcome == AUDIT_ERROR ? EIO : 0;
	if (strcmp(f[9], "-") != 0) {
		if (parse_u64(f[9], INT64_MAX, &e->bytes) != 0) {
			*why = "BYTES is not a number";
			return -1;
		}
		e->has_bytes = 1;
	}
	return 0;
}

/* Reads the whole file into s->text. */
static int slurp(FILE *f, const char *path, struct script *s, size_t *len)
{
	size_t cap = 0, got;
	char *nb;

	*len = 0;
	do {
		if (*len + 1 >= cap) {
			cap = cap ? 2 * cap : 65536;
			if (cap > SCRIPT_MAX + 1) {
				fprintf(stderr, "%s: %s: too long (%u bytes "
				        "at most)\n", prog, path, SCRIPT_MAX);
				return 1;
			}
			if ((nb = realloc(s->text, cap)) == NULL) {
				fprintf(stderr, "%s: out of memory\n", prog);
				return 1;
			}
			s->text = nb;
		}
		got = fread(s->text + *len, 1, cap - 1 - *len, f);
		*len += got;
	} while (got > 0);
	if (ferror(f)) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return 1;
	}
	s->text[*len] = '\0';
	return 0;
}

static int read_script(const char *path, struct script *s)
{
	FILE *f = fopen(path, "re");
	char *line, *next;
	unsigned lineno = 0;
	const char *why;
	size_t len;
	int rc = 1;

	if (f == NULL) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return 1;
	}
	if (slurp(f, path, s, &len) != 0)
		goto out;
	if (strlen(s->text) != len) {
		fprintf(stderr, "%s: %s: holds a NUL byte\n", prog, path);
		rc = 2;
		goto out;
	}
	for (line = s->text; line != NULL; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (s->n == s->cap) {
			size_t cap = s->cap ? 2 * s->cap : 64;
			struct audit_event *ev = realloc(s->ev, cap *
			                                 sizeof(*ev));
			if (ev == NULL) {
				fprintf(stderr, "%s: out of memory\n", prog);
				goto out;
			}
			s->ev = ev;
			s->cap = cap;
		}
		if (parse_line(line, &s->ev[s->n], &why) != 0) {
			fprintf(stderr, "%s:%u: %s\n", path, lineno, why);
			rc = 2;
			goto out;
		}
		s->n++;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

static int append(struct audit *a, const struct script *s)
{
	int rc;

	for (size_t i = 0; i < s->n; i++)
		if ((rc = audit_record(a, &s->ev[i], NULL)) != 0)
			return rc;
	return audit_checkpoint(a, NULL) < 0 ? -EIO : 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: %s VAULT SCRIPT --passphrase-file F\n", prog);
	return 2;
}

int main(int argc, char **argv)
{
	struct unlock_src src = { 0 };
	struct script s = { 0 };
	struct vault *v = NULL;
	struct audit *a = NULL;
	unsigned char *secret;
	const char *vault = NULL, *script = NULL;
	int rc = 1, err, e2;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--passphrase-file") == 0 && i + 1 < argc)
			src.passphrase_file = argv[++i];
		else if (argv[i][0] == '-')
			return usage();
		else if (vault == NULL)
			vault = argv[i];
		else if (script == NULL)
			script = argv[i];
		else
			return usage();
	}
	if (vault == NULL || script == NULL || src.passphrase_file == NULL)
		return usage();
	if (sodium_init() < 0) {
		fprintf(stderr, "%s: cannot start libsodium\n", prog);
		return 1;
	}
	if ((rc = read_script(script, &s)) != 0)
		goto out;
	rc = 1;
	if (unlock_vault(prog, vault, &src, &v) != 0)
		goto out;
	if ((secret = sodium_malloc(AUDIT_SECRETBYTES)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		goto out;
	}
	vault_subkey(v, AUDIT_KDF_ID, AUDIT_KDF_CTX, secret);
	err = audit_open(vault_dir_fd(v), secret, NULL, &a);
	sodium_free(secret);
	if (err != 0) {
		fprintf(stderr, "%s: cannot open the audit store of %s: %s\n",
		        prog, vault, strerror(-err));
		goto out;
	}
	err = append(a, &s);
	e2 = audit_close(a);
	a = NULL;
	if (err == 0)
		err = e2;
	if (err != 0) {
		fprintf(stderr, "%s: cannot write the audit store of %s: %s\n",
		        prog, vault, strerror(-err));
		goto out;
	}
	printf("%s: %zu records\n", prog, s.n);
	rc = 0;
out:
	audit_close(a);
	vault_close(v);
	free(s.ev);
	free(s.text);
	return rc;
}
