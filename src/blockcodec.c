/* Block codec: see include/blockcodec.h for the format and contract. */
#include <errno.h>
#include <string.h>

#include "blockcodec.h"

#define HDR_MAGIC   "DSFC"
#define HDR_AD      24u   /* magic, version, cipher, flags, reserved, id */
#define WRAP_NONCE  crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG         16u

_Static_assert(HDR_AD + WRAP_NONCE + BC_KEYBYTES + TAG == BC_HEADER,
               "header layout");
_Static_assert(crypto_aead_aes256gcm_ABYTES == TAG &&
               crypto_aead_xchacha20poly1305_ietf_ABYTES == TAG, "tag size");

static size_t nonce_len(enum bc_cipher c)
{
	return c == BC_AES256GCM ? crypto_aead_aes256gcm_NPUBBYTES
	                         : crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
}

size_t bc_overhead(enum bc_cipher c)
{
	return nonce_len(c) + TAG;
}

uint64_t bc_block_offset(enum bc_cipher c, uint64_t index)
{
	return BC_HEADER + index * (BC_BLOCK + bc_overhead(c));
}

int bc_plain_size(enum bc_cipher c, uint64_t disk, uint64_t *plain)
{
	uint64_t n, full, rem, ov = bc_overhead(c);

	if (disk == 0) {
		*plain = 0;
		return 0;
	}
	if (disk < BC_HEADER)
		return -EIO;
	n = disk - BC_HEADER;
	full = n / (BC_BLOCK + ov);
	rem = n % (BC_BLOCK + ov);
	if (rem != 0 && rem <= ov)
		return -EIO;
	*plain = full * BC_BLOCK + (rem ? rem - ov : 0);
	return 0;
}

uint64_t bc_disk_size(enum bc_cipher c, uint64_t plain)
{
	uint64_t full = plain / BC_BLOCK, rem = plain % BC_BLOCK;

	return BC_HEADER + full * (BC_BLOCK + bc_overhead(c)) +
	       (rem ? rem + bc_overhead(c) : 0);
}

static void header_ad(enum bc_cipher c, unsigned flags,
                      const unsigned char *id, unsigned char *ad)
{
	memcpy(ad, HDR_MAGIC, 4);
	ad[4] = BC_VERSION & 0xff;
	ad[5] = BC_VERSION >> 8;
	ad[6] = (unsigned char)c;
	ad[7] = (unsigned char)flags;
	memcpy(ad + 8, id, BC_IDBYTES);
}

static int key_expand(struct bc_key *k)
{
	if (k->cipher == BC_AES256GCM &&
	    crypto_aead_aes256gcm_beforenm(&k->aes, k->raw) != 0)
		return -EINVAL;
	return 0;
}

int bc_file_wrap(const struct bc_key *k, const unsigned char *wrap_key,
                 unsigned char *hdr)
{
	unsigned char *nonce = hdr + HDR_AD;

	header_ad(k->cipher, k->flags, k->id, hdr);
	randombytes_buf(nonce, WRAP_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + WRAP_NONCE, NULL,
	    k->raw, BC_KEYBYTES, hdr, HDR_AD, NULL, nonce, wrap_key);
	return 0;
}

int bc_file_new(enum bc_cipher c, const unsigned char *wrap_key,
                unsigned flags, unsigned char *hdr,
                struct bc_key *out)
{
	if (c != BC_AES256GCM && c != BC_XCHACHA20POLY1305)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->cipher = c;
	out->flags = flags;
	randombytes_buf(out->id, BC_IDBYTES);
	crypto_aead_xchacha20poly1305_ietf_keygen(out->raw);
	if (key_expand(out) != 0) {
		bc_key_wipe(out);
		return -EINVAL;
	}
	return bc_file_wrap(out, wrap_key, hdr);
}

int bc_file_open(enum bc_cipher c, const unsigned char *wrap_key,
                 const unsigned char *hdr, struct bc_key *out)
{
	unsigned version = hdr[4] | (unsigned)hdr[5] << 8;

	memset(out, 0, sizeof(*out));
	if (memcmp(hdr, HDR_MAGIC, 4) != 0)
		return -EIO;
	if (version != BC_VERSION)
		return version > BC_VERSION ? -EPROTONOSUPPORT : -EIO;
	if (hdr[6] != (unsigned char)c)
		return -EIO;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out->raw, NULL, NULL,
	    hdr + HDR_AD + WRAP_NONCE, BC_KEYBYTES + TAG, hdr, HDR_AD,
	    hdr + HDR_AD, wrap_key) != 0)
		return -EIO;
	out->cipher = c;
	out->flags = hdr[7];
	memcpy(out->id, hdr + 8, BC_IDBYTES);
	if (key_expand(out) != 0) {
		bc_key_wipe(out);
		return -EIO;
	}
	return 0;
}

static void block_ad(const struct bc_key *k, uint64_t index,
                     unsigned char *ad)
{
	memcpy(ad, k->id, BC_IDBYTES);
	for (int i = 0; i < 8; i++)
		ad[BC_IDBYTES + i] = (unsigned char)(index >> (8 * i));
}

/* Nonces come from a per-thread pool refilled from the system CSPRNG, so
 * that a large write costs one getrandom() call rather than one a block.
 * Each nonce is taken once and never reused. */
static void fresh_nonce(unsigned char *out, size_t n)
{
	static _Thread_local unsigned char pool[4096];
	static _Thread_local size_t pos = sizeof(pool);

	if (pos + n > sizeof(pool)) {
		randombytes_buf(pool, sizeof(pool));
		pos = 0;
	}
	memcpy(out, pool + pos, n);
	pos += n;
}

int bc_encrypt(const struct bc_key *k, uint64_t index,
               const unsigned char *pt, size_t len, unsigned char *out)
{
	unsigned char ad[BC_IDBYTES + 8];
	size_t nl = nonce_len(k->cipher);
	unsigned char *ct = out + nl, *tag = out + nl + len;

	if (len == 0 || len > BC_BLOCK)
		return -EINVAL;
	block_ad(k, index, ad);
	fresh_nonce(out, nl);
	if (k->cipher == BC_AES256GCM)
		crypto_aead_aes256gcm_encrypt_detached_afternm(ct, tag, NULL,
		    pt, len, ad, sizeof(ad), NULL, out, &k->aes);
	else
		crypto_aead_xchacha20poly1305_ietf_encrypt_detached(ct, tag,
		    NULL, pt, len, ad, sizeof(ad), NULL, out, k->raw);
	return 0;
}

static int all_zero(const unsigned char *p, size_t n)
{
	unsigned char acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int bc_decrypt(const struct bc_key *k, uint64_t index,
               const unsigned char *in, size_t inlen, unsigned char *pt)
{
	unsigned char ad[BC_IDBYTES + 8];
	size_t nl = nonce_len(k->cipher), len;
	int rc;

	if (inlen <= bc_overhead(k->cipher) ||
	    inlen > BC_BLOCK + bc_overhead(k->cipher))
		return -EIO;
	len = inlen - bc_overhead(k->cipher);
	/* A hole reads as zeros. A written block starts with its random
	 * nonce, so only a zero nonce makes the whole block worth scanning. */
	if ((k->flags & BC_F_HOLES) && all_zero(in, nl) &&
	    all_zero(in, inlen)) {
		memset(pt, 0, len);
		return (int)len;
	}
	block_ad(k, index, ad);
	if (k->cipher == BC_AES256GCM)
		rc = crypto_aead_aes256gcm_decrypt_detached_afternm(pt, NULL,
		    in + nl, len, in + nl + len, ad, sizeof(ad), in, &k->aes);
	else
		rc = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(pt,
		    NULL, in + nl, len, in + nl + len, ad, sizeof(ad), in,
		    k->raw);
	if (rc != 0) {
		sodium_memzero(pt, len);
		return -EIO;
	}
	return (int)len;
}

void bc_key_wipe(struct bc_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

enum bc_cipher bc_cipher_default(void)
{
	return crypto_aead_aes256gcm_is_available() ? BC_AES256GCM
	                                            : BC_XCHACHA20POLY1305;
}

const char *bc_cipher_name(enum bc_cipher c)
{
	switch (c) {
	case BC_AES256GCM:
		return "aes256gcm";
	case BC_XCHACHA20POLY1305:
		return "xchacha20poly1305";
	}
	return "unknown";
}

int bc_cipher_parse(const char *name, enum bc_cipher *out)
{
	if (strcmp(name, "aes256gcm") == 0) {
		if (!crypto_aead_aes256gcm_is_available())
			return -ENOTSUP;
		*out = BC_AES256GCM;
	} else if (strcmp(name, "xchacha20poly1305") == 0) {
		*out = BC_XCHACHA20POLY1305;
	} else {
		return -EINVAL;
	}
	return 0;
}
