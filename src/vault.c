/* The vault directory and its keys: see include/vault.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "vault.h"

struct vault {
	int dirfd;                  /* the vault directory */
	int datafd;                 /* data/, O_PATH */
	struct kw_params params;
	unsigned char *master;      /* sodium_malloc, KW_KEYBYTES */
	unsigned char *root;        /* sodium_malloc, derived from master */
};

int vault_read_small(int dirfd, const char *name, void *buf, size_t len)
{
	ssize_t n;
	int fd, saved;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len);
	saved = errno;
	close(fd);
	if (n < 0)
		return -saved;
	return (size_t)n == len ? 0 : -EIO;
}

int vault_write_small(int dirfd, const char *name, const void *buf,
                      size_t len)
{
	int fd, rc = 0;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	            O_CLOEXEC, 0400);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, len) != (ssize_t)len || fsync(fd) != 0)
		rc = errno ? -errno : -EIO;
	close(fd);
	if (rc != 0)
		unlinkat(dirfd, name, 0);
	return rc;
}

static int fsync_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int dir_is_empty(int fd)
{
	int dup_fd = dup(fd);
	DIR *d;
	struct dirent *e;
	int empty = 1;

	if (dup_fd < 0)
		return -errno;
	d = fdopendir(dup_fd);
	if (d == NULL) {
		close(dup_fd);
		return -errno;
	}
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty;
}

int vault_dirid_read(int dirfd, unsigned char *id)
{
	return vault_read_small(dirfd, VAULT_DIRID, id, NC_DIRIDBYTES);
}

int vault_dirid_write(int dirfd, unsigned char *id)
{
	randombytes_buf(id, NC_DIRIDBYTES);
	return vault_write_small(dirfd, VAULT_DIRID, id, NC_DIRIDBYTES);
}

int vault_create(const char *path, const struct kw_params *p,
                 const unsigned char *kek)
{
	unsigned char *master = NULL, cfg[KW_CONFIG_BYTES];
	unsigned char id[NC_DIRIDBYTES];
	int fd = -1, datafd = -1, rc = -1, e;
	int made_dir = 0, made_data = 0;

	if (mkdir(path, 0700) == 0)
		made_dir = 1;
	else if (errno != EEXIST)
		return -errno;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	e = dir_is_empty(fd);
	if (e <= 0) {
		rc = e == 0 ? -EEXIST : e;
		goto out;
	}
	if (fchmod(fd, 0700) != 0) {
		rc = -errno;
		goto out;
	}
	master = sodium_malloc(KW_KEYBYTES);
	if (master == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	randombytes_buf(master, KW_KEYBYTES);
	/* The mount's root: like /tmp, anyone may add a client folder and
	 * only its owner may remove it; the role policy narrows this. */
	if (mkdirat(fd, VAULT_DATA, 0700) != 0) {
		rc = -errno;
		goto out;
	}
	made_data = 1;
	datafd = openat(fd, VAULT_DATA, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	                O_CLOEXEC);
	if (datafd < 0) {
		rc = -errno;
		goto out;
	}
	if (fchmod(datafd, 01777) != 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = vault_dirid_write(datafd, id)) != 0)
		goto out;
	kw_config_seal(p, kek, master, cfg);
	/* The config is written last: its presence marks a complete vault. */
	if ((rc = vault_write_small(fd, VAULT_CONFIG, cfg, sizeof(cfg))) != 0)
		goto out;
	if ((rc = fsync_dir(fd)) != 0)
		unlinkat(fd, VAULT_CONFIG, 0);
out:
	if (rc != 0 && rc != -EEXIST) {
		/* Leave the directory as it was found. */
		if (datafd >= 0)
			unlinkat(datafd, VAULT_DIRID, 0);
		if (made_data)
			unlinkat(fd, VAULT_DATA, AT_REMOVEDIR);
		if (made_dir)
			rmdir(path);
	}
	if (master)
		sodium_free(master);
	if (datafd >= 0)
		close(datafd);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int read_config(int dirfd, unsigned char *cfg,
                       struct kw_params *p)
{
	struct stat st;
	int rc;

	if (fstatat(dirfd, VAULT_CONFIG, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size != KW_CONFIG_BYTES)
		return -EINVAL;
	rc = vault_read_small(dirfd, VAULT_CONFIG, cfg, KW_CONFIG_BYTES);
	if (rc != 0)
		return rc;
	return kw_config_parse(cfg, KW_CONFIG_BYTES, p);
}

int vault_params(const char *path, struct kw_params *p)
{
	unsigned char cfg[KW_CONFIG_BYTES];
	int fd, rc;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = read_config(fd, cfg, p);
	close(fd);
	return rc;
}

int vault_open(const char *path, const unsigned char *kek,
               struct vault **out)
{
	unsigned char cfg[KW_CONFIG_BYTES];
	struct vault *v;
	int rc;

	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	v->datafd = -1;
	v->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (v->dirfd < 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = read_config(v->dirfd, cfg, &v->params)) != 0)
		goto out;
	v->master = sodium_malloc(KW_KEYBYTES);
	v->root = sodium_malloc(KW_KEYBYTES);
	if (v->master == NULL || v->root == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = kw_config_open(cfg, kek, v->master)) != 0)
		goto out;
	crypto_kdf_derive_from_key(v->root, KW_KEYBYTES, 1, "dsfroot_",
	                           v->master);
	v->datafd = openat(v->dirfd, VAULT_DATA, O_PATH | O_DIRECTORY |
	                   O_NOFOLLOW | O_CLOEXEC);
	if (v->datafd < 0) {
		rc = errno == ENOENT ? -EINVAL : -errno;
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		vault_close(v);
	else
		*out = v;
	return rc;
}

int vault_rekey(const char *path, const unsigned char *old,
                const struct kw_params *np, const unsigned char *kek)
{
	unsigned char cfg[KW_CONFIG_BYTES];
	struct kw_params p;
	unsigned char *master;
	int fd, rc;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	master = sodium_malloc(KW_KEYBYTES);
	if (master == NULL) {
		close(fd);
		return -ENOMEM;
	}
	if ((rc = read_config(fd, cfg, &p)) != 0 ||
	    (rc = kw_config_open(cfg, old, master)) != 0)
		goto out;
	kw_config_seal(np, kek, master, cfg);
	/* Write beside, then rename over: the old record stays whole until
	 * the new one is durable. */
	unlinkat(fd, VAULT_CONFIG ".new", 0);
	if ((rc = vault_write_small(fd, VAULT_CONFIG ".new", cfg,
	                            sizeof(cfg))) != 0)
		goto out;
	if (renameat(fd, VAULT_CONFIG ".new", fd, VAULT_CONFIG) != 0) {
		rc = -errno;
		unlinkat(fd, VAULT_CONFIG ".new", 0);
		goto out;
	}
	rc = fsync_dir(fd);
out:
	sodium_free(master);
	close(fd);
	return rc;
}

void vault_close(struct vault *v)
{
	if (v == NULL)
		return;
	if (v->master)
		sodium_free(v->master);
	if (v->root)
		sodium_free(v->root);
	if (v->datafd >= 0)
		close(v->datafd);
	if (v->dirfd >= 0)
		close(v->dirfd);
	free(v);
}

int vault_data_fd(const struct vault *v)
{
	return v->datafd;
}

enum bc_cipher vault_cipher(const struct vault *v)
{
	return v->params.cipher;
}

const unsigned char *vault_root_key(const struct vault *v)
{
	return v->root;
}

void vault_subkey(const struct vault *v, uint64_t id, const char ctx[8],
                  unsigned char *out)
{
	crypto_kdf_derive_from_key(out, KW_KEYBYTES, id, ctx, v->master);
}

int vault_dir_fd(const struct vault *v)
{
	return v->dirfd;
}

int vault_client_key_new(const struct vault *v, int dirfd,
                         const unsigned char *dirid, unsigned char *key)
{
	unsigned char sealed[KW_CLIENT_BYTES];

	randombytes_buf(key, KW_KEYBYTES);
	kw_client_seal(v->master, dirid, key, sealed);
	return vault_write_small(dirfd, VAULT_KEY, sealed, sizeof(sealed));
}

int vault_client_key_load(const struct vault *v, int dirfd,
                          const unsigned char *dirid, unsigned char *key)
{
	unsigned char sealed[KW_CLIENT_BYTES];
	int rc;

	rc = vault_read_small(dirfd, VAULT_KEY, sealed, sizeof(sealed));
	if (rc == -ENOENT)
		return -EIO;
	if (rc != 0)
		return rc;
	return kw_client_open(v->master, dirid, sealed, key);
}
