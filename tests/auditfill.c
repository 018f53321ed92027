/*
 * auditfill: appends synthetic records to a vault's audit store, fast,
 * for tests that need a big store behind a mounted vault.
 *
 *   tests/auditfill VAULT N --passphrase-file F [--clients K]
 *
 * Unlocks VAULT like dossierctl audit (the store's secret is the vault's
 * audit subkey), opens the store for writing and appends N records:
 * users with their roles and programs, the actions open, close, list,
 * create and unlink (and, about one in a thousand, destroy, so that
 * destructions.csv has rows), about one in twenty denied, on client
 * folders "client-0" .. "client-K-1" (K defaults to 8) and, now and
 * then, the mount root. The records are the same for the same N and K.
 * They are queued with audit_record_nowait(), which commits every
 * AUDIT_QUEUE_LEAD of them in one transaction, then signed with one
 * checkpoint. The daemon must not be running on VAULT meanwhile.
 * Prints one line with the count and the time taken; exit status 0, 1
 * on failure, 2 on bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "audit.h"
#include "unlock.h"
#include "vault.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *prog = "auditfill";

struct person {
	uid_t uid;
	const char *user;
	const char *roles;
	const char *rule;
};

static const struct person people[] = {
	{ 1001, "alice", "manager", "role manager" },
	{ 1002, "bob", "legal", "role legal" },
	{ 1003, "carol", "clerk", "team clerks" },
	{ 1004, "dave", "manager,legal", "role manager" },
	{ 1005, "erin", NULL, "client owner" },
};

static const char *const exes[] = {
	"/usr/bin/cat", "/usr/bin/vim", "/usr/lib/libreoffice/program/soffice.bin",
	"/usr/bin/ls", "/usr/bin/cp", "/usr/bin/evince",
};

static const char *const docs[] = {
	"contract.pdf", "notes.txt", "invoice.xlsx", "letter.odt",
	"scan.jpg", "minutes.docx",
};

/* A small deterministic generator (xorshift64*). */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static const char *pick_action(uint64_t x)
{
	unsigned p = (unsigned)(x % 1000);

	if (p < 1)
		return "destroy";
	if (p < 350)
		return "open";
	if (p < 650)
		return "close";
	if (p < 860)
		return "list";
	if (p < 950)
		return "create";
	return "unlink";
}

/* The next record into *e; its names go into client and path. */
static void make_event(uint64_t *s, unsigned clients, struct audit_event *e,
                       char *client, size_t ccap, char *path, size_t pcap)
{
	const struct person *p = &people[rnd(s) % NELEM(people)];
	uint64_t x = rnd(s);

	memset(e, 0, sizeof(*e));
	e->uid = p->uid;
	e->user = p->user;
	e->roles = p->roles;
	e->pid = (pid_t)(2000 + x % 30000);
	e->exe = exes[(x >> 16) % NELEM(exes)];
	e->action = pick_action(x >> 24);
	e->policy = "5f0c9e21d4a7b388";
	e->outcome = AUDIT_ALLOWED;
	e->rule = p->rule;
	if ((x >> 40) % 50 == 0) {
		/* A listing of the mount root: no client. */
		e->action = "list";
		return;
	}
	snprintf(client, ccap, "client-%u", (unsigned)((x >> 34) % clients));
	e->client = client;
	if (strcmp(e->action, "list") == 0)
		snprintf(path, pcap, "case-%03u", (unsigned)(rnd(s) % 200));
	else
		snprintf(path, pcap, "case-%03u/%04u-%s",
		         (unsigned)(rnd(s) % 200), (unsigned)(rnd(s) % 10000),
		         docs[rnd(s) % NELEM(docs)]);
	e->path = path;
	if ((x >> 48) % 20 == 0) {
		e->outcome = AUDIT_DENIED;
		e->err = EACCES;
		e->rule = "default deny";
	} else if (strcmp(e->action, "close") == 0) {
		e->has_bytes = 1;
		e->bytes = rnd(s) % (4u << 20);
	} else if (strcmp(e->action, "destroy") == 0) {
		e->detail = "retention period over";
	}
}

static int fill(struct audit *a, uint64_t n, unsigned clients)
{
	uint64_t s = 0x9e3779b97f4a7c15ULL;
	char client[32], path[96];
	struct audit_event e;
	int rc;

	for (uint64_t i = 0; i < n; i++) {
		make_event(&s, clients, &e, client, sizeof(client), path,
		           sizeof(path));
		rc = audit_record_nowait(a, &e);
		if (rc == -EIO && audit_flush(a) == 0)
			rc = audit_record_nowait(a, &e);
		if (rc != 0)
			return rc;
		if (i % AUDIT_QUEUE_MAX == AUDIT_QUEUE_MAX - 1 &&
		    (rc = audit_flush(a)) != 0)
			return rc;
	}
	if ((rc = audit_flush(a)) != 0)
		return rc;
	return audit_checkpoint(a, NULL) < 0 ? -EIO : 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: %s VAULT N --passphrase-file F "
	        "[--clients K]\n", prog);
	return 2;
}

static int parse_num(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' ||
	    x > max)
		return -1;
	*out = x;
	return 0;
}

int main(int argc, char **argv)
{
	struct unlock_src src = { 0 };
	struct audit_config cfg = { 0 };
	struct timespec t0, t1;
	struct vault *v = NULL;
	struct audit *a = NULL;
	unsigned char *secret = NULL;
	uint64_t n = 0, clients = 8;
	const char *vault = NULL, *count = NULL;
	int rc = 1, err;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--passphrase-file") == 0 && i + 1 < argc)
			src.passphrase_file = argv[++i];
		else if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc) {
			if (parse_num(argv[++i], 1000000, &clients) != 0 ||
			    clients == 0)
				return usage();
		} else if (argv[i][0] == '-')
			return usage();
		else if (vault == NULL)
			vault = argv[i];
		else if (count == NULL)
			count = argv[i];
		else
			return usage();
	}
	if (vault == NULL || count == NULL || src.passphrase_file == NULL ||
	    parse_num(count, INT64_MAX, &n) != 0)
		return usage();
	if (sodium_init() < 0) {
		fprintf(stderr, "%s: cannot start libsodium\n", prog);
		return 1;
	}
	if (unlock_vault(prog, vault, &src, &v) != 0)
		return 1;
	if ((secret = sodium_malloc(AUDIT_SECRETBYTES)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		goto out;
	}
	vault_subkey(v, AUDIT_KDF_ID, AUDIT_KDF_CTX, secret);
	err = audit_open(vault_dir_fd(v), secret, &cfg, &a);
	sodium_free(secret);
	if (err != 0) {
		fprintf(stderr, "%s: cannot open the audit store of %s: %s\n",
		        prog, vault, strerror(-err));
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((err = fill(a, n, (unsigned)clients)) != 0) {
		fprintf(stderr, "%s: cannot write the audit store of %s: %s\n",
		        prog, vault, strerror(-err));
		goto out;
	}
	err = audit_close(a);
	a = NULL;
	if (err != 0) {
		fprintf(stderr, "%s: cannot close the audit store of %s: %s\n",
		        prog, vault, strerror(-err));
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%s: %" PRIu64 " records in %.2f s\n", prog, n,
	       (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	rc = 0;
out:
	audit_close(a);
	vault_close(v);
	return rc;
}
