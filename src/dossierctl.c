/*
 * dossierctl: the admin and auditor tool.
 *
 *   dossierctl init VAULT [--passphrase-file F | --key-file NEWFILE]
 *                         [--cipher aes256gcm|xchacha20poly1305]
 *                         [--kdf-cost interactive|moderate|sensitive]
 *   dossierctl passwd VAULT [--passphrase-file F | --key-file F]
 *                           [--new-passphrase-file F | --new-key-file NEWFILE]
 *                           [--kdf-cost ...]
 *   dossierctl info VAULT
 *   dossierctl policy check [DIR]
 *   dossierctl policy explain [--policy DIR] [--at TIME] USER PATH ACTION
 *   dossierctl policy review [--policy DIR] [--mount MNT] [--at TIME]
 *   dossierctl audit verify VAULT
 *   dossierctl audit query VAULT [--passphrase-file F | --key-file F]
 *                              [--client NAME] [--user NAME] [--action A]
 *                              [--outcome O] [--since T] [--until T]
 *                              [--format table|csv|json]
 *   dossierctl erase status VAULT [--passphrase-file F | --key-file F]
 *                                 [--format table|csv]
 *   dossierctl erase certificate VAULT (ID | --client NAME [--since T]
 *                                [--until T]) [--passphrase-file F | ...]
 *   dossierctl erase verify-certificate VAULT FILE
 *   dossierctl retention due MOUNTPOINT --as USER [--policy DIR] [--at DAY]
 *   dossierctl retention run MOUNTPOINT --as USER [--policy DIR]
 *   dossierctl share request|approve|reject|export|receipt|list MOUNTPOINT
 *                         ... (src/ctl_share.c)
 *   dossierctl share keygen DIR NAME
 *   dossierctl unlock MOUNTPOINT USER     (src/ctl_unlock.c)
 *   dossierctl lockouts MOUNTPOINT
 *   dossierctl share open PACKAGE --key SECFILE --out DIR --receipt FILE
 *                         [--sender AUDIT_PUB]
 *   dossierctl report VAULT --since T --until T [--format text|csv|html]
 *                     [--policy DIR] [--passphrase-file F | --key-file F]
 *                     [--mount MNT --as USER] [--out FILE]
 *
 * One function per subcommand, dispatched from a table. Exit status 0 on
 * success, 1 on failure (with one line on stderr), 2 on bad usage.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "ctl.h"
#include "secret.h"
#include "unlock.h"

static const char *prog = "dossierctl";

struct opts {
	const char *vault;
	struct unlock_src src;
	struct unlock_src newsrc;
	const char *cipher;
	const char *cost;
};

struct cmd {
	const char *name;
	const char *usage;
	int (*run)(struct opts *o);
	int (*sub)(int argc, char **argv);   /* parses its own arguments */
};

/* 1 if path does not exist or is an empty directory. */
static int dir_absent_or_empty(const char *path)
{
	struct dirent *e;
	DIR *d = opendir(path);
	int empty = 1;

	if (d == NULL)
		return errno == ENOENT;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = 0;
	closedir(d);
	return empty;
}

static int cmd_init(struct opts *o)
{
	struct kw_params p, q;
	enum bc_cipher c = bc_cipher_default();
	unsigned char *kek;
	int rc;

	if (o->cipher && (rc = bc_cipher_parse(o->cipher, &c)) != 0) {
		fprintf(stderr, "%s: cipher %s: %s\n", prog, o->cipher,
		        rc == -ENOTSUP ? "not supported by this CPU"
		                       : "unknown (aes256gcm, xchacha20poly1305)");
		return 2;
	}
	if (kw_params_new(&p, c, o->src.key_file ? KW_KEYFILE : KW_PASSPHRASE,
	                  o->cost) != 0) {
		fprintf(stderr, "%s: unknown --kdf-cost %s\n", prog, o->cost);
		return 2;
	}
	if ((rc = vault_params(o->vault, &q)) == 0 || rc == -EPROTONOSUPPORT) {
		fprintf(stderr, "%s: %s is a vault already; refusing to "
		        "overwrite it\n", prog, o->vault);
		return 1;
	}
	if (!dir_absent_or_empty(o->vault)) {
		fprintf(stderr, "%s: %s exists and is not an empty directory; "
		        "refusing to overwrite it\n", prog, o->vault);
		return 1;
	}
	kek = sodium_malloc(KW_KEYBYTES);
	if (kek == NULL)
		return 1;
	if (o->src.key_file) {
		rc = secret_keyfile_create(o->src.key_file, kek);
		if (rc != 0) {
			fprintf(stderr, "%s: cannot create key file %s: %s\n",
			        prog, o->src.key_file, strerror(-rc));
			goto out;
		}
	} else if ((rc = unlock_kek(prog, &p, &o->src, 1, kek)) != 0) {
		goto out;
	}
	rc = vault_create(o->vault, &p, kek);
	if (rc == -EEXIST)
		fprintf(stderr, "%s: %s exists and is not empty; refusing to "
		        "overwrite it\n", prog, o->vault);
	else if (rc != 0)
		fprintf(stderr, "%s: cannot create vault %s: %s\n", prog,
		        o->vault, strerror(-rc));
	else
		printf("created vault %s (%s, format %u)\n", o->vault,
		       bc_cipher_name(c), KW_VERSION);
	if (rc != 0 && o->src.key_file)
		remove(o->src.key_file);
out:
	sodium_free(kek);
	return rc == 0 ? 0 : 1;
}

static int cmd_passwd(struct opts *o)
{
	struct kw_params p, np;
	unsigned char *old = NULL, *kek = NULL;
	int rc = 1, e;

	if (unlock_params(prog, o->vault, &p) != 0)
		return 1;
	if (kw_params_new(&np, p.cipher, o->newsrc.key_file ? KW_KEYFILE
	                  : KW_PASSPHRASE, o->cost) != 0) {
		fprintf(stderr, "%s: unknown --kdf-cost %s\n", prog, o->cost);
		return 2;
	}
	old = sodium_malloc(KW_KEYBYTES);
	kek = sodium_malloc(KW_KEYBYTES);
	if (old == NULL || kek == NULL)
		goto out;
	/* The old key is asked for once and checked before the new one. */
	if (unlock_kek(prog, &p, &o->src, 0, old) != 0 ||
	    unlock_check(prog, o->vault, &p, old) != 0)
		goto out;
	if (o->newsrc.key_file) {
		e = secret_keyfile_create(o->newsrc.key_file, kek);
		if (e != 0) {
			fprintf(stderr, "%s: cannot create key file %s: %s\n",
			        prog, o->newsrc.key_file, strerror(-e));
			goto out;
		}
	} else {
		struct unlock_src ns = { .passphrase_file =
		                         o->newsrc.passphrase_file };

		if (!ns.passphrase_file)
			fprintf(stderr, "New passphrase.\n");
		if (unlock_kek(prog, &np, &ns, 1, kek) != 0)
			goto out;
	}
	e = vault_rekey(o->vault, old, &np, kek);
	if (e != 0) {
		fprintf(stderr, "%s: cannot change the key of %s: %s\n", prog,
		        o->vault, strerror(-e));
		goto out;
	}
	printf("changed the %s of %s; data was not re-encrypted\n",
	       np.source == KW_KEYFILE ? "key file" : "passphrase", o->vault);
	rc = 0;
out:
	if (old)
		sodium_free(old);
	if (kek)
		sodium_free(kek);
	return rc;
}

static int cmd_info(struct opts *o)
{
	struct kw_params p;
	int rc = vault_params(o->vault, &p);

	if (rc == -EPROTONOSUPPORT) {
		fprintf(stderr, "%s: %s: vault format is newer than this "
		        "dossierfs supports (version %u)\n", prog, o->vault,
		        KW_VERSION);
		return 1;
	}
	if (rc != 0) {
		fprintf(stderr, "%s: %s: not a dossierfs vault\n", prog,
		        o->vault);
		return 1;
	}
	printf("format: %u\ncipher: %s\nblock: %u bytes\nkey: %s\n",
	       p.version, bc_cipher_name(p.cipher), BC_BLOCK,
	       p.source == KW_KEYFILE ? "key file" : "passphrase");
	if (p.source == KW_PASSPHRASE)
		printf("kdf: argon2id, ops %llu, memory %llu MiB\n",
		       (unsigned long long)p.opslimit,
		       (unsigned long long)(p.memlimit >> 20));
	return 0;
}

static const struct cmd cmds[] = {
	{ "init", "init VAULT [--passphrase-file F | --key-file NEWFILE] "
	  "[--cipher C] [--kdf-cost COST]", cmd_init, NULL },
	{ "passwd", "passwd VAULT [--passphrase-file F | --key-file F] "
	  "[--new-passphrase-file F | --new-key-file NEWFILE] "
	  "[--kdf-cost COST]", cmd_passwd, NULL },
	{ "info", "info VAULT", cmd_info, NULL },
	{ "policy", "policy check|explain|review ... (see policy --help)",
	  NULL, ctl_policy },
	{ "audit", "audit verify|query VAULT ... (see audit --help)",
	  NULL, ctl_audit },
	{ "erase", "erase status|certificate|verify-certificate VAULT ... "
	  "(see erase --help)",
	  NULL, ctl_erase },
	{ "retention", "retention due|run MOUNTPOINT --as USER ... "
	  "(see retention --help)", NULL, ctl_retention },
	{ "share", "share request|approve|reject|export|receipt|list|keygen|"
	  "open ... (see share --help)", NULL, ctl_share },
	{ "report", "report VAULT --since T --until T ... (see report --help)",
	  NULL, ctl_report },
	{ "unlock", "unlock MOUNTPOINT USER", NULL, ctl_unlock },
	{ "lockouts", "lockouts MOUNTPOINT", NULL, ctl_lockouts },
};

static void usage(void)
{
	fprintf(stderr, "usage:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(stderr, "  %s %s\n", prog, cmds[i].usage);
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	struct { const char *flag; const char **dst; } flags[] = {
		{ "--passphrase-file", &o->src.passphrase_file },
		{ "--key-file", &o->src.key_file },
		{ "--new-passphrase-file", &o->newsrc.passphrase_file },
		{ "--new-key-file", &o->newsrc.key_file },
		{ "--cipher", &o->cipher },
		{ "--kdf-cost", &o->cost },
	};

	for (int i = 2; i < argc; i++) {
		size_t f;

		for (f = 0; f < sizeof(flags) / sizeof(flags[0]); f++)
			if (strcmp(argv[i], flags[f].flag) == 0)
				break;
		if (f < sizeof(flags) / sizeof(flags[0])) {
			if (i + 1 >= argc)
				usage();
			*flags[f].dst = argv[++i];
		} else if (argv[i][0] == '-' || o->vault) {
			usage();
		} else {
			o->vault = argv[i];
		}
	}
	if (o->vault == NULL)
		usage();
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };

	secret_harden_process();
	if (argc < 2)
		usage();
	if (sodium_init() < 0) {
		fprintf(stderr, "%s: cannot initialise libsodium\n", prog);
		return 1;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) == 0) {
			if (cmds[i].sub != NULL)
				return cmds[i].sub(argc, argv);
			parse(argc, argv, &o);
			return cmds[i].run(&o);
		}
	}
	usage();
}
