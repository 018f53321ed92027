/*
 * sharepack: makes a share package for the tests, until dossierctl has
 * the sender's side (share export).
 *
 *   sharepack PACKAGE RECIPIENT.pub SENDER_PUB_OUT NAME=FILE...
 *
 * Signs with a fresh Ed25519 key whose public half is written to
 * SENDER_PUB_OUT in the form of a vault's audit.pub; request "req-1",
 * client "client-a", reason "test".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "sharepkg.h"

int main(int argc, char **argv)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	unsigned char digest[SHAREPKG_DIGESTBYTES];
	char hex[2 * crypto_sign_PUBLICKEYBYTES + 1], id[SHAREPKG_IDHEX];
	struct sharepkg_meta meta = { "req-1", "client-a", "test", 0 };
	struct sharepkg_file files[64];
	struct sharepkg_pub to;
	FILE *f;
	int fd, out, rc, n = 0;

	if (argc < 5 || argc - 4 > 64 || sodium_init() < 0) {
		fprintf(stderr, "usage: sharepack PACKAGE RECIPIENT.pub "
		        "SENDER_PUB_OUT NAME=FILE...\n");
		return 2;
	}
	fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || sharepkg_pub_load(fd, &to) != 0) {
		fprintf(stderr, "sharepack: %s: not a public key\n", argv[2]);
		return 1;
	}
	close(fd);
	for (int i = 4; i < argc; i++, n++) {
		char *eq = strchr(argv[i], '=');

		if (eq == NULL)
			return 2;
		*eq = '\0';
		files[n].name = argv[i];
		files[n].fd = open(eq + 1, O_RDONLY | O_CLOEXEC);
		if (files[n].fd < 0) {
			fprintf(stderr, "sharepack: %s: %s\n", eq + 1,
			        strerror(errno));
			return 1;
		}
	}
	crypto_sign_keypair(pk, sk);
	sodium_bin2hex(hex, sizeof(hex), pk, sizeof(pk));
	if ((f = fopen(argv[3], "w")) == NULL ||
	    fprintf(f, "dossierfs-audit-ed25519 %s\n", hex) < 0 ||
	    fclose(f) != 0)
		return 1;
	out = open(argv[1], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0)
		return 1;
	rc = sharepkg_write(out, &meta, files, (size_t)n, &to, sk, id, digest);
	sodium_memzero(sk, sizeof(sk));
	if (rc != 0 || close(out) != 0) {
		fprintf(stderr, "sharepack: %s\n", strerror(-rc));
		return 1;
	}
	printf("%s\n", id);
	return 0;
}
