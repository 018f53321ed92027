/*
 * namecodec: deterministic authenticated encryption of file names.
 *
 * A name is padded to a multiple of 16 bytes, then sealed SIV-style: the
 * synthetic IV is a keyed BLAKE2b MAC over the directory ID and the padded
 * name; it is the XChaCha20 nonce and the authentication tag at once. The
 * stored form is base64url(siv || ciphertext), so a name encrypts to the
 * same string in the same directory (lookups stay direct) and to unrelated
 * strings in different directories. A stored name longer than NC_MAX_STORED
 * is kept under a short hashed name; see nc_long_name().
 *
 * Pure code. Returns a length or a negative errno: -ENAMETOOLONG, -EINVAL
 * for a name that is empty or holds '/' or NUL, -EIO for a stored name that
 * does not authenticate.
 */
#ifndef DOSSIER_NAMECODEC_H
#define DOSSIER_NAMECODEC_H

#include <stddef.h>
#include <stdint.h>

#define NC_DIRIDBYTES  16u
#define NC_NAME_MAX    255u   /* plaintext name, bytes */
#define NC_MAX_STORED  255u   /* longest name stored as it is */
#define NC_ENC_MAX     400u   /* room for any encrypted name plus NUL */
#define NC_LONG_PREFIX ".L"   /* hashed stand-in for a long stored name */
#define NC_SIDE_PREFIX ".N"   /* sidecar holding the long stored name */
#define NC_LONG_LEN    34u    /* ".L" + 32 base64 characters */

struct nc_key {
	unsigned char mac[32];   /* SIV of names */
	unsigned char enc[32];   /* name stream cipher */
	unsigned char seal[32];  /* link targets and xattr values */
};

/* Longest symlink target: its sealed base64 form must fit PATH_MAX. */
#define NC_LINK_MAX    3000u
/* Bytes nc_seal() adds to a value. */
#define NC_SEAL_OVERHEAD 40u

/* Derives the name keys of a client (or of the vault root) from its key. */
void nc_key_derive(struct nc_key *k, const unsigned char *key);
void nc_key_wipe(struct nc_key *k);

/* Encrypts name[0..len) for directory dirid into out (NUL-terminated,
 * NC_ENC_MAX bytes). Returns the length of out. */
int nc_encrypt(const struct nc_key *k, const unsigned char *dirid,
               const char *name, size_t len, char *out);

/* Decrypts a stored name into out (NC_NAME_MAX + 1 bytes, NUL-terminated).
 * Returns the plaintext length. */
int nc_decrypt(const struct nc_key *k, const unsigned char *dirid,
               const char *enc, size_t len, char *out);

/* Writes into out (NC_LONG_LEN + 1 bytes) the stand-in for a stored name
 * longer than NC_MAX_STORED, with the given prefix (NC_LONG_PREFIX for the
 * entry, NC_SIDE_PREFIX for its sidecar). */
void nc_long_name(const char *enc, size_t len, const char *prefix,
                  char *out);

/* Seals a small secret (a symlink target, an xattr value) with a random
 * nonce, bound to ad. nc_seal writes len + NC_SEAL_OVERHEAD bytes;
 * nc_open returns the plaintext length or -EIO. */
int nc_seal(const struct nc_key *k, const void *ad, size_t adlen,
            const void *pt, size_t len, unsigned char *out);
int nc_open(const struct nc_key *k, const void *ad, size_t adlen,
            const unsigned char *in, size_t len, void *pt);

/* Symlink targets as stored by the backing symlink: base64url of the
 * sealed target. nc_link_encrypt returns the stored length (out needs
 * PATH_MAX bytes), nc_link_decrypt the target length (out PATH_MAX). */
int nc_link_encrypt(const struct nc_key *k, const char *target, size_t len,
                    char *out);
int nc_link_decrypt(const struct nc_key *k, const char *stored, size_t len,
                    char *out);

/* 1 if name is a valid stored name (encrypted or long stand-in) shape,
 * 0 for reserved or foreign names. */
int nc_is_entry(const char *stored);

#endif
