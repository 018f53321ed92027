/*
 * vault: the backing directory and its keys.
 *
 * Layout of a vault directory (mode 0700, root's):
 *   dossier.vault   the config record (see keywrap.h)
 *   data/           the encrypted tree; every directory in it holds a
 *                   .dirid (its random 16-byte ID) and every client folder
 *                   (a directory directly under data/) a .key (its client
 *                   key sealed under the master key)
 *   audit.db, audit.pub, audit.pending   the audit store (audit.h)
 *   erase/          the queue of secure erasure (erase.h)
 *   policy.status   what the daemon's policy is (guard.h)
 *   dossierfs.lock  flock()ed by the one daemon serving the vault
 *
 * The master key lives in sodium_malloc'd memory from vault_open() to
 * vault_close(). Returns 0 or a negative errno (see keywrap.h for the
 * meaning of -EINVAL, -EPROTONOSUPPORT and -EACCES); -ENOTDIR or -ENOENT
 * when the path is not a vault, -EEXIST when vault_create() would
 * overwrite.
 */
#ifndef DOSSIER_VAULT_H
#define DOSSIER_VAULT_H

#include <stdint.h>

#include "keywrap.h"
#include "namecodec.h"

#define VAULT_CONFIG  "dossier.vault"
#define VAULT_DATA    "data"
#define VAULT_DIRID   ".dirid"
#define VAULT_KEY     ".key"

struct vault;

/* Creates a new vault at path (absent or an empty directory). */
int vault_create(const char *path, const struct kw_params *p,
                 const unsigned char *kek);

/* Reads the parameters of the vault at path, without any key. */
int vault_params(const char *path, struct kw_params *p);

/* Opens and unlocks the vault at path. */
int vault_open(const char *path, const unsigned char *kek,
               struct vault **out);

/* Re-seals the master key under a new KEK; data is not touched. */
int vault_rekey(const char *path, const unsigned char *old,
                const struct kw_params *np,
                const unsigned char *kek);

void vault_close(struct vault *v);

int vault_data_fd(const struct vault *v);       /* O_PATH fd of data/ */
enum bc_cipher vault_cipher(const struct vault *v);

/* The key of files and names directly under data/ (derived, 32 bytes). */
const unsigned char *vault_root_key(const struct vault *v);

/* Derives a 32-byte key for one purpose from the master key: ctx is 8
 * characters naming the purpose (libsodium crypto_kdf), id numbers keys
 * of the same purpose. out should be sodium_malloc'ed. */
void vault_subkey(const struct vault *v, uint64_t id, const char ctx[8],
                  unsigned char *out);

/* The vault directory itself (opened O_RDONLY | O_DIRECTORY). */
int vault_dir_fd(const struct vault *v);

/* Reads / writes the directory ID of the directory dirfd. */
int vault_dirid_read(int dirfd, unsigned char *id);
int vault_dirid_write(int dirfd, unsigned char *id);

/* Creates a new random client key for the client folder dirfd with ID
 * dirid and stores it sealed; or loads it. key is 32 bytes. */
int vault_client_key_new(const struct vault *v, int dirfd,
                         const unsigned char *dirid, unsigned char *key);
int vault_client_key_load(const struct vault *v, int dirfd,
                          const unsigned char *dirid, unsigned char *key);

/* Reads exactly len bytes of the file name in dirfd; -EIO if it is
 * shorter. Writes a file of len bytes, created O_EXCL, synced. */
int vault_read_small(int dirfd, const char *name, void *buf, size_t len);
int vault_write_small(int dirfd, const char *name, const void *buf,
                      size_t len);

#endif
