/*
 * blockcodec: the on-disk format of one encrypted file.
 *
 * A backing file is a 96-byte header followed by encrypted blocks. Each
 * block holds up to BC_BLOCK plaintext bytes and is stored as
 * nonce || ciphertext || tag. The associated data of a block is the file ID
 * and the block index, so a block moved within a file or between files
 * fails to authenticate. The header holds the format version, the cipher,
 * a random file ID and the per-file key wrapped under the client key.
 *
 * Pure code: no I/O, no globals. Every function returns 0 (or a length) on
 * success and a negative errno on failure: -EIO for anything that does not
 * authenticate, -EPROTONOSUPPORT for an unknown format version, -EINVAL for
 * a caller error. Keys are wiped by bc_key_wipe().
 */
#ifndef DOSSIER_BLOCKCODEC_H
#define DOSSIER_BLOCKCODEC_H

#include <stddef.h>
#include <stdint.h>
#include <sodium.h>

#define BC_BLOCK      4096u
#define BC_HEADER     96u
#define BC_IDBYTES    16u
#define BC_KEYBYTES   32u
#define BC_VERSION    1u

/* Header flag: the file may contain holes (unwritten all-zero blocks). */
#define BC_F_HOLES    0x01u

enum bc_cipher {
	BC_AES256GCM = 1,
	BC_XCHACHA20POLY1305 = 2,
};

/* The per-file key, expanded for the file's cipher. */
struct bc_key {
	crypto_aead_aes256gcm_state aes;  /* used with BC_AES256GCM */
	unsigned char raw[BC_KEYBYTES];
	unsigned char id[BC_IDBYTES];
	enum bc_cipher cipher;
	unsigned flags;                   /* BC_F_* from the header */
};

/* Bytes a block adds to its plaintext (nonce and tag). */
size_t bc_overhead(enum bc_cipher c);

/* Plaintext size of a backing file of disk_size bytes; -EIO if no valid
 * file has that size. A backing file of 0 bytes is an empty file. */
int bc_plain_size(enum bc_cipher c, uint64_t disk_size, uint64_t *plain);

/* Backing size of a file with plain bytes of content. */
uint64_t bc_disk_size(enum bc_cipher c, uint64_t plain);

/* Offset in the backing file of block index. */
uint64_t bc_block_offset(enum bc_cipher c, uint64_t index);

/* Makes a new file: random ID and key; writes the header wrapped under
 * wrap_key into hdr. */
int bc_file_new(enum bc_cipher c, const unsigned char *wrap_key,
                unsigned flags, unsigned char *hdr,
                struct bc_key *out);

/* Opens a header: checks version and cipher and unwraps the file key. */
int bc_file_open(enum bc_cipher c, const unsigned char *wrap_key,
                 const unsigned char *hdr, struct bc_key *out);

/* Writes a header for k (with k->flags) wrapped under wrap_key; used to
 * move a file to another client or to change its flags. */
int bc_file_wrap(const struct bc_key *k,
                 const unsigned char *wrap_key,
                 unsigned char *hdr);

/* Encrypts len (1..BC_BLOCK) bytes of block index into out, which must
 * hold len + bc_overhead() bytes. A fresh random nonce every call. */
int bc_encrypt(const struct bc_key *k, uint64_t index,
               const unsigned char *pt, size_t len, unsigned char *out);

/* Decrypts a stored block of inlen bytes into pt (BC_BLOCK bytes room).
 * Returns the plaintext length, or -EIO. A block of all zero bytes is a
 * hole (plaintext zeros) only if the header says the file has holes. */
int bc_decrypt(const struct bc_key *k, uint64_t index,
               const unsigned char *in, size_t inlen, unsigned char *pt);

void bc_key_wipe(struct bc_key *k);

/* The cipher to use on this CPU: AES-256-GCM where it is accelerated. */
enum bc_cipher bc_cipher_default(void);
const char *bc_cipher_name(enum bc_cipher c);
int bc_cipher_parse(const char *name, enum bc_cipher *out);

#endif
