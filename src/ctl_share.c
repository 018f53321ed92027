/*
 * dossierctl share request MOUNT --client NAME --to PUBFILE --reason TEXT
 *                          FILE...
 * dossierctl share approve MOUNT ID
 * dossierctl share reject MOUNT ID [--note TEXT]
 * dossierctl share export MOUNT ID --out PACKAGE [--sender-key FILE]
 * dossierctl share receipt MOUNT ID RECEIPT
 * dossierctl share list MOUNT
 * dossierctl share keygen DIR NAME
 * dossierctl share open PACKAGE --key SECFILE --out DIR --receipt FILE
 *                       [--sender AUDIT_PUB]
 *
 * The company's side (request to list) asks the daemon of a mounted vault
 * through its control socket (control.h, share.h), as the user who runs
 * the command: the daemon decides with the role policy and records every
 * step. FILE names are paths inside the client folder. export creates
 * PACKAGE itself (mode 0600, never replacing a file) and hands it to the
 * daemon, which writes the package into it; --sender-key also writes the
 * vault's signing key (audit.pub form) for the recipient's --sender.
 *
 * The recipient's side (keygen, open; include/sharepkg.h). keygen
 * makes a recipient key pair: DIR/NAME.pub (mode 0644, to give to the
 * company) and DIR/NAME.key (mode 0600, kept). open checks a package
 * with the secret key, writes its files under DIR (created if missing;
 * nothing is written unless the whole package checks) and writes the
 * signed receipt to FILE (created, never replaced), for the company's
 * `share receipt`. --sender names the company's audit.pub: the package
 * must be signed with that key; without it the sender's key is shown
 * and not checked.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "control.h"
#include "ctl.h"
#include "ctlutil.h"
#include "sharepkg.h"

static const char *prog = "dossierctl";

#define AUDIT_PUB_MAGIC "dossierfs-audit-ed25519 "

static int usage(void)
{
	fprintf(stderr,
	        "usage: %s share request MOUNT --client NAME --to PUBFILE "
	        "--reason TEXT FILE...\n"
	        "       %s share approve MOUNT ID\n"
	        "       %s share reject MOUNT ID [--note TEXT]\n"
	        "       %s share export MOUNT ID --out PACKAGE "
	        "[--sender-key FILE]\n"
	        "       %s share receipt MOUNT ID RECEIPT\n"
	        "       %s share list MOUNT\n"
	        "       %s share keygen DIR NAME\n"
	        "       %s share open PACKAGE --key SECFILE --out DIR "
	        "--receipt FILE [--sender AUDIT_PUB]\n",
	        prog, prog, prog, prog, prog, prog, prog, prog);
	return 2;
}

/* Reads a small text file (at most max bytes) into a new string. */
static char *slurp(const char *path, size_t max)
{
	char *buf = malloc(max + 1);
	size_t got = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || buf == NULL) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return NULL;
	}
	while (got < max && (n = read(fd, buf + got, max - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	return buf;
}

static int share_request(int argc, char **argv)
{
	const char *mnt = NULL, *client = NULL, *to = NULL, *reason = NULL;
	struct kvbuf req = { 0 };
	struct kvmsg rep;
	size_t nfiles = 0;
	char *pub;
	int rc;

	kv_add(&req, "op", "share-request");
	for (int i = 3; i < argc; i++) {
		const char **slot = NULL;

		if (strcmp(argv[i], "--client") == 0)
			slot = &client;
		else if (strcmp(argv[i], "--to") == 0)
			slot = &to;
		else if (strcmp(argv[i], "--reason") == 0)
			slot = &reason;
		else if (mnt == NULL)
			mnt = argv[i];
		else if (++nfiles)
			kv_add(&req, "file", argv[i]);
		if (slot != NULL) {
			if (i + 1 >= argc) {
				kv_free(&req);
				return usage();
			}
			*slot = argv[++i];
		}
	}
	if (mnt == NULL || client == NULL || to == NULL || reason == NULL ||
	    nfiles == 0) {
		kv_free(&req);
		return usage();
	}
	if ((pub = slurp(to, SHAREPKG_PUBLINE_LEN + 1)) == NULL) {
		fprintf(stderr, "%s: cannot read %s: %s\n", prog, to,
		        strerror(errno));
		kv_free(&req);
		return 1;
	}
	pub[strcspn(pub, "\n")] = '\0';
	kv_add(&req, "client", client);
	kv_add(&req, "reason", reason);
	kv_add(&req, "recipient", pub);
	free(pub);
	if ((rc = ctl_call(prog, mnt, &req, -1, &rep)) != 0)
		return rc;
	printf("request %s: %zu file%s of %s for recipient %s, waiting for "
	       "approval\n", kv_get(&rep, "id"), nfiles,
	       nfiles == 1 ? "" : "s", client, kv_get(&rep, "recipient"));
	kv_msg_free(&rep);
	return 0;
}

static int share_decide(int argc, char **argv, bool approve)
{
	struct kvbuf req = { 0 };
	struct kvmsg rep;
	const char *note = NULL;
	int rc;

	if (argc == 7 && !approve && strcmp(argv[5], "--note") == 0)
		note = argv[6];
	else if (argc != 5)
		return usage();
	kv_add(&req, "op", approve ? "share-approve" : "share-reject");
	kv_add(&req, "id", argv[4]);
	kv_add(&req, "note", note);
	if ((rc = ctl_call(prog, argv[3], &req, -1, &rep)) != 0)
		return rc;
	printf("request %s %s\n", argv[4], kv_get(&rep, "state"));
	kv_msg_free(&rep);
	return 0;
}

static int share_export(int argc, char **argv)
{
	const char *out = NULL, *keyfile = NULL;
	struct kvbuf req = { 0 };
	struct kvmsg rep;
	int fd, rc;

	for (int i = 5; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--out") == 0)
			out = argv[i + 1];
		else if (strcmp(argv[i], "--sender-key") == 0)
			keyfile = argv[i + 1];
		else
			return usage();
	}
	if (argc < 7 || (argc - 5) % 2 != 0 || out == NULL)
		return usage();
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	          0600);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot create %s: %s\n", prog, out,
		        strerror(errno));
		return 1;
	}
	kv_add(&req, "op", "share-export");
	kv_add(&req, "id", argv[4]);
	rc = ctl_call(prog, argv[3], &req, fd, &rep);
	close(fd);
	if (rc != 0) {
		unlink(out);
		return rc;
	}
	printf("request %s: package %s written to %s (%s files, %s bytes) for "
	       "recipient %s\nsigned by the vault key %s (its audit.pub)\n",
	       argv[4], kv_get(&rep, "package"), out, kv_get(&rep, "files"),
	       kv_get(&rep, "bytes"), kv_get(&rep, "recipient"),
	       kv_get(&rep, "sender"));
	if (keyfile != NULL) {
		FILE *f;

		fd = open(keyfile, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		          O_CLOEXEC, 0644);
		if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
			fprintf(stderr, "%s: cannot create %s: %s\n", prog,
			        keyfile, strerror(errno));
			if (fd >= 0)
				close(fd);
			kv_msg_free(&rep);
			return 1;
		}
		fprintf(f, AUDIT_PUB_MAGIC "%s\n", kv_get(&rep, "sender"));
		if (fclose(f) != 0) {
			fprintf(stderr, "%s: cannot write %s\n", prog, keyfile);
			kv_msg_free(&rep);
			return 1;
		}
	}
	kv_msg_free(&rep);
	return 0;
}

static int share_receipt(int argc, char **argv)
{
	struct kvbuf req = { 0 };
	struct kvmsg rep;
	char *text;
	int rc;

	if (argc != 6)
		return usage();
	if ((text = slurp(argv[5], SHAREPKG_MANIFEST_MAX)) == NULL) {
		fprintf(stderr, "%s: cannot read %s: %s\n", prog, argv[5],
		        strerror(errno));
		return 1;
	}
	kv_add(&req, "op", "share-receipt");
	kv_add(&req, "id", argv[4]);
	kv_add(&req, "receipt", text);
	free(text);
	if ((rc = ctl_call(prog, argv[3], &req, -1, &rep)) != 0)
		return rc;
	printf("request %s: receipt of package %s checked and recorded\n",
	       argv[4], kv_get(&rep, "package"));
	kv_msg_free(&rep);
	return 0;
}

static int share_list(int argc, char **argv)
{
	struct kvbuf req = { 0 };
	struct kvmsg rep;
	int rc;

	if (argc != 4)
		return usage();
	kv_add(&req, "op", "share-list");
	if ((rc = ctl_call(prog, argv[3], &req, -1, &rep)) != 0)
		return rc;
	printf("id\tstate\tclient\trequester\trecipient\tfiles\tdecided by"
	       "\treason\n");
	for (size_t i = 0; i < rep.n; i++)
		if (strcmp(rep.keys[i], "request") == 0)
			printf("%s\n", rep.values[i]);
	kv_msg_free(&rep);
	return 0;
}

static int share_keygen(int argc, char **argv)
{
	char pub[256], sec[256], hex[SHAREPKG_FPRHEX];
	struct sharepkg_pub pk;
	int dfd, fd, rc;

	if (argc != 5)
		return usage();
	if (snprintf(pub, sizeof(pub), "%s.pub", argv[4]) >= (int)sizeof(pub) ||
	    snprintf(sec, sizeof(sec), "%s.key", argv[4]) >= (int)sizeof(sec) ||
	    strchr(argv[4], '/') != NULL || argv[4][0] == '\0') {
		fprintf(stderr, "%s: share keygen: bad key name %s\n", prog,
		        argv[4]);
		return 2;
	}
	dfd = open(argv[3], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		fprintf(stderr, "%s: cannot open %s: %s\n", prog, argv[3],
		        strerror(errno));
		return 1;
	}
	if ((rc = sharepkg_keygen_at(dfd, pub, sec)) != 0) {
		fprintf(stderr, "%s: cannot make the key pair %s/%s: %s\n",
		        prog, argv[3], argv[4], strerror(-rc));
		close(dfd);
		return 1;
	}
	fd = openat(dfd, pub, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	rc = fd < 0 ? -errno : sharepkg_pub_load(fd, &pk);
	if (fd >= 0)
		close(fd);
	close(dfd);
	if (rc != 0) {
		fprintf(stderr, "%s: cannot read back %s/%s: %s\n", prog,
		        argv[3], pub, strerror(-rc));
		return 1;
	}
	sharepkg_fingerprint_hex(&pk, hex);
	printf("public key: %s/%s (give it to the sender)\n"
	       "secret key: %s/%s (mode 0600, keep it)\n"
	       "fingerprint: %s\n", argv[3], pub, argv[3], sec, hex);
	return 0;
}

/* Reads the Ed25519 key of an audit.pub file into pk. 0 or -errno. */
static int read_audit_pub(const char *path,
                          unsigned char pk[crypto_sign_PUBLICKEYBYTES])
{
	char buf[256];
	const size_t m = sizeof(AUDIT_PUB_MAGIC) - 1;
	ssize_t n;
	size_t got;
	int fd, rc = -EINVAL;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		rc = -errno;
	close(fd);
	if (n < 0)
		return rc;
	buf[n] = '\0';
	if ((size_t)n < m + 2 * crypto_sign_PUBLICKEYBYTES ||
	    memcmp(buf, AUDIT_PUB_MAGIC, m) != 0)
		return -EINVAL;
	if (sodium_hex2bin(pk, crypto_sign_PUBLICKEYBYTES, buf + m,
	                   2 * crypto_sign_PUBLICKEYBYTES, NULL, &got,
	                   NULL) != 0 || got != crypto_sign_PUBLICKEYBYTES)
		return -EINVAL;
	return 0;
}

static const char *open_error(int rc)
{
	switch (rc) {
	case -EBADMSG:
		return "the package does not check (altered, truncated or "
		       "not a package): nothing was written";
	case -ENOKEY:
		return "the package is for another recipient";
	case -EKEYREJECTED:
		return "the package is not signed by the expected sender";
	case -EPROTONOSUPPORT:
		return "a newer package format";
	default:
		return strerror(-rc);
	}
}

static int share_open(int argc, char **argv)
{
	const char *pkg = NULL, *key = NULL, *out = NULL, *receipt = NULL;
	const char *sender = NULL;
	unsigned char spk[crypto_sign_PUBLICKEYBYTES];
	char hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
	struct sharepkg_manifest *m = NULL;
	struct sharepkg_sec *sk = NULL;
	int in = -1, odir = -1, rfd = -1, rc, status = 1;

	for (int i = 3; i < argc; i++) {
		const char **slot = NULL;

		if (strcmp(argv[i], "--key") == 0)
			slot = &key;
		else if (strcmp(argv[i], "--out") == 0)
			slot = &out;
		else if (strcmp(argv[i], "--receipt") == 0)
			slot = &receipt;
		else if (strcmp(argv[i], "--sender") == 0)
			slot = &sender;
		else if (argv[i][0] != '-' && pkg == NULL)
			pkg = argv[i];
		else
			return usage();
		if (slot != NULL) {
			if (i + 1 >= argc)
				return usage();
			*slot = argv[++i];
		}
	}
	if (pkg == NULL || key == NULL || out == NULL || receipt == NULL)
		return usage();
	if (sender != NULL && (rc = read_audit_pub(sender, spk)) != 0) {
		fprintf(stderr, "%s: %s: not an audit.pub (%s)\n", prog,
		        sender, strerror(-rc));
		return 1;
	}
	if ((rc = sharepkg_sec_load_at(AT_FDCWD, key, &sk)) != 0) {
		fprintf(stderr, "%s: %s: not a share secret key (%s)\n", prog,
		        key, strerror(-rc));
		return 1;
	}
	if ((in = open(pkg, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "%s: cannot open %s: %s\n", prog, pkg,
		        strerror(errno));
		goto out;
	}
	if (mkdir(out, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "%s: cannot make %s: %s\n", prog, out,
		        strerror(errno));
		goto out;
	}
	odir = open(out, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (odir < 0) {
		fprintf(stderr, "%s: cannot open %s: %s\n", prog, out,
		        strerror(errno));
		goto out;
	}
	/* The receipt file first: a name that is taken fails before any
	 * file of the package is written. */
	rfd = open(receipt, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	           O_CLOEXEC, 0644);
	if (rfd < 0) {
		fprintf(stderr, "%s: cannot create %s: %s\n", prog, receipt,
		        strerror(errno));
		goto out;
	}
	if ((rc = sharepkg_open(in, sk, sender ? spk : NULL, odir, &m)) != 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, pkg, open_error(rc));
		goto out;
	}
	if ((rc = sharepkg_receipt_make(rfd, m, sk, (int64_t)time(NULL))) != 0 ||
	    fsync(rfd) != 0) {
		fprintf(stderr, "%s: cannot write the receipt %s: %s\n", prog,
		        receipt, strerror(rc ? -rc : errno));
		goto out;
	}
	sodium_bin2hex(hex, sizeof(hex), m->sender_pk, sizeof(m->sender_pk));
	printf("package %s (request %s, client %s): %zu file%s checked, "
	       "written under %s\n", m->package_id, m->request_id, m->client,
	       m->nfiles, m->nfiles == 1 ? "" : "s", out);
	for (size_t k = 0; k < m->nfiles; k++)
		printf("  %s  %llu bytes\n", m->files[k].name,
		       (unsigned long long)m->files[k].size);
	printf("reason: %s\nsender key: %s (%s)\nreceipt: %s\n", m->reason,
	       hex, sender ? "checked against the given audit.pub"
	                   : "NOT checked: give --sender audit.pub",
	       receipt);
	status = 0;
out:
	if (rfd >= 0) {
		close(rfd);
		if (status != 0)
			unlink(receipt);
	}
	if (odir >= 0)
		close(odir);
	if (in >= 0)
		close(in);
	sharepkg_manifest_free(m);
	sharepkg_sec_free(sk);
	return status;
}

int ctl_share(int argc, char **argv)
{
	if (argc < 3)
		return usage();
	if (strcmp(argv[2], "request") == 0)
		return share_request(argc, argv);
	if (strcmp(argv[2], "approve") == 0)
		return share_decide(argc, argv, true);
	if (strcmp(argv[2], "reject") == 0)
		return share_decide(argc, argv, false);
	if (strcmp(argv[2], "export") == 0)
		return share_export(argc, argv);
	if (strcmp(argv[2], "receipt") == 0)
		return share_receipt(argc, argv);
	if (strcmp(argv[2], "list") == 0)
		return share_list(argc, argv);
	if (strcmp(argv[2], "keygen") == 0)
		return share_keygen(argc, argv);
	if (strcmp(argv[2], "open") == 0)
		return share_open(argc, argv);
	if (strcmp(argv[2], "--help") == 0) {
		usage();
		return 0;
	}
	return usage();
}
