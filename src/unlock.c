/* Getting a vault's key from a file or the terminal: see include/unlock.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "secret.h"
#include "unlock.h"

static int get_passphrase(const char *prog, const struct unlock_src *src,
                          int confirm, char *buf, size_t *len)
{
	char *again;
	size_t len2 = 0;
	int rc;

	if (src->passphrase_file) {
		rc = secret_read_file(src->passphrase_file, buf, SECRET_MAX, len);
		if (rc == -ENODATA)
			fprintf(stderr, "%s: passphrase file %s is empty\n", prog,
			        src->passphrase_file);
		else if (rc != 0)
			fprintf(stderr, "%s: cannot read passphrase file %s: %s\n",
			        prog, src->passphrase_file, strerror(-rc));
		return rc;
	}
	rc = secret_read_tty("Passphrase: ", buf, SECRET_MAX, len);
	if (rc == -ENOTTY) {
		fprintf(stderr, "%s: no terminal to ask the passphrase: use "
		        "--passphrase-file FILE\n", prog);
		return rc;
	}
	if (rc != 0) {
		fprintf(stderr, "%s: cannot read passphrase: %s\n", prog,
		        rc == -ENODATA ? "empty passphrase" : strerror(-rc));
		return rc;
	}
	if (!confirm)
		return 0;
	again = sodium_malloc(SECRET_MAX);
	if (again == NULL)
		return -ENOMEM;
	rc = secret_read_tty("Passphrase again: ", again, SECRET_MAX, &len2);
	if (rc == 0 && (len2 != *len || sodium_memcmp(again, buf, len2) != 0)) {
		fprintf(stderr, "%s: passphrases do not match\n", prog);
		rc = -EINVAL;
	}
	sodium_free(again);
	return rc;
}

int unlock_kek(const char *prog, const struct kw_params *p,
               const struct unlock_src *src, int confirm, unsigned char *kek)
{
	char *pass;
	size_t len = 0;
	int rc;

	if (p->source == KW_KEYFILE) {
		if (src->key_file == NULL) {
			fprintf(stderr, "%s: this vault is locked with a key "
			        "file: use --key-file FILE\n", prog);
			return -EINVAL;
		}
		rc = secret_keyfile_read(src->key_file, kek);
		if (rc != 0)
			fprintf(stderr, "%s: cannot use key file %s: %s\n", prog,
			        src->key_file, rc == -EINVAL
			        ? "not a dossierfs key file" : strerror(-rc));
		return rc;
	}
	if (src->key_file) {
		fprintf(stderr, "%s: this vault is locked with a passphrase, "
		        "not a key file\n", prog);
		return -EINVAL;
	}
	pass = sodium_malloc(SECRET_MAX);
	if (pass == NULL)
		return -ENOMEM;
	rc = get_passphrase(prog, src, confirm, pass, &len);
	if (rc == 0) {
		rc = kw_kek_from_passphrase(p, pass, len, kek);
		if (rc != 0)
			fprintf(stderr, "%s: not enough memory for the key "
			        "derivation\n", prog);
	}
	sodium_free(pass);
	return rc;
}

static void params_error(const char *prog, const char *path, int rc)
{
	if (rc == -EPROTONOSUPPORT)
		fprintf(stderr, "%s: %s: vault format is newer than this "
		        "dossierfs supports (version %u); upgrade dossierfs\n",
		        prog, path, KW_VERSION);
	else if (rc == -ENOENT || rc == -EINVAL || rc == -ENOTDIR)
		fprintf(stderr, "%s: %s: not a dossierfs vault\n", prog, path);
	else
		fprintf(stderr, "%s: %s: cannot read vault: %s\n", prog, path,
		        strerror(-rc));
}

int unlock_params(const char *prog, const char *path, struct kw_params *p)
{
	int rc = vault_params(path, p);

	if (rc != 0)
		params_error(prog, path, rc);
	return rc;
}

int unlock_check(const char *prog, const char *path,
                 const struct kw_params *p, const unsigned char *kek)
{
	struct vault *v = NULL;
	int rc = vault_open(path, kek, &v);

	if (rc == -EACCES)
		fprintf(stderr, "%s: %s: wrong %s\n", prog, path,
		        p->source == KW_KEYFILE ? "key file" : "passphrase");
	else if (rc != 0)
		params_error(prog, path, rc);
	vault_close(v);
	return rc;
}

int unlock_vault(const char *prog, const char *path,
                 const struct unlock_src *src, struct vault **out)
{
	struct kw_params p;
	unsigned char *kek;
	int rc;

	if ((rc = unlock_params(prog, path, &p)) != 0)
		return rc;
	kek = sodium_malloc(KW_KEYBYTES);
	if (kek == NULL)
		return -ENOMEM;
	if ((rc = unlock_kek(prog, &p, src, 0, kek)) == 0) {
		rc = vault_open(path, kek, out);
		if (rc == -EACCES)
			fprintf(stderr, "%s: %s: wrong %s\n", prog, path,
			        p.source == KW_KEYFILE ? "key file" : "passphrase");
		else if (rc != 0)
			params_error(prog, path, rc);
	}
	sodium_free(kek);
	return rc;
}
