/*
 * keywrap: the vault configuration record and the wrapping of keys.
 *
 * The vault config is a fixed 160-byte record: magic, format version,
 * cipher, key source, Argon2id parameters and salt, and the 256-bit master
 * key sealed with XChaCha20-Poly1305 under a key-encryption key (KEK). The
 * KEK is Argon2id(passphrase) or the 32 bytes of a key file. Every field
 * before the nonce is associated data, so no parameter can be changed
 * without the unwrap failing.
 *
 * A client key (one per client folder) is sealed the same way under the
 * master key, bound to the client folder's directory ID.
 *
 * Pure code; returns 0 or a negative errno: -EINVAL (not a vault record),
 * -EPROTONOSUPPORT (a newer format version), -EACCES (key does not unwrap),
 * -ENOMEM (Argon2id could not get its memory).
 */
#ifndef DOSSIER_KEYWRAP_H
#define DOSSIER_KEYWRAP_H

#include <stddef.h>
#include <stdint.h>

#include "blockcodec.h"

#define KW_KEYBYTES     32u
#define KW_SALTBYTES    16u
#define KW_CONFIG_BYTES 160u
#define KW_CLIENT_BYTES 80u
#define KW_VERSION      1u

enum kw_source {
	KW_PASSPHRASE = 1,
	KW_KEYFILE = 2,
};

struct kw_params {
	uint32_t version;
	enum bc_cipher cipher;
	enum kw_source source;
	uint64_t opslimit;
	uint64_t memlimit;
	unsigned char salt[KW_SALTBYTES];
};

/* Fills p for a new vault: current version, fresh salt, KDF cost by name
 * ("interactive", "moderate" or "sensitive"). */
int kw_params_new(struct kw_params *p, enum bc_cipher c, enum kw_source s,
                  const char *cost);

/* Derives the KEK from a passphrase with p's Argon2id parameters. */
int kw_kek_from_passphrase(const struct kw_params *p, const char *pass,
                           size_t len, unsigned char *kek);

/* Writes the config record holding master sealed under kek. */
void kw_config_seal(const struct kw_params *p,
                    const unsigned char *kek,
                    const unsigned char *master,
                    unsigned char *out);

/* Reads the parameters of a config record without any key. */
int kw_config_parse(const unsigned char *buf, size_t len,
                    struct kw_params *p);

/* Unwraps the master key of a config record. */
int kw_config_open(const unsigned char *buf,
                   const unsigned char *kek,
                   unsigned char *master);

/* Seals and opens a client key bound to its folder's directory ID. */
void kw_client_seal(const unsigned char *master,
                    const unsigned char *dirid,
                    const unsigned char *key,
                    unsigned char *out);
int kw_client_open(const unsigned char *master,
                   const unsigned char *dirid,
                   const unsigned char *buf,
                   unsigned char *key);

#endif
