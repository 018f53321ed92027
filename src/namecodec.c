/* Name codec: see include/namecodec.h for the construction and contract. */
#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "namecodec.h"

#define SIV    16u
#define PADTO  16u
#define B64    sodium_base64_VARIANT_URLSAFE_NO_PADDING

/* libsodium 1.0.18 decodes bytes 0x80-0xff as '_'; only the alphabet
 * itself is accepted, so that one name has exactly one stored form. */
static int b64_only(const char *s, size_t len)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";

	for (size_t i = 0; i < len; i++)
		if (s[i] == '\0' || strchr(alphabet, s[i]) == NULL)
			return 0;
	return 1;
}

void nc_key_derive(struct nc_key *k, const unsigned char *key)
{
	crypto_kdf_derive_from_key(k->mac, sizeof(k->mac), 1, "dsfnames", key);
	crypto_kdf_derive_from_key(k->enc, sizeof(k->enc), 2, "dsfnames", key);
	crypto_kdf_derive_from_key(k->seal, sizeof(k->seal), 3, "dsfnames", key);
}

void nc_key_wipe(struct nc_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

static void siv_of(const struct nc_key *k, const unsigned char *dirid,
                   const unsigned char *padded, size_t plen,
                   unsigned char *siv)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, k->mac, sizeof(k->mac), SIV);
	crypto_generichash_update(&st, dirid, NC_DIRIDBYTES);
	crypto_generichash_update(&st, padded, plen);
	crypto_generichash_final(&st, siv, SIV);
}

static void stream(const struct nc_key *k, const unsigned char *siv,
                   unsigned char *buf, size_t len)
{
	unsigned char nonce[crypto_stream_xchacha20_NONCEBYTES] = { 0 };

	memcpy(nonce, siv, SIV);
	crypto_stream_xchacha20_xor(buf, buf, len, nonce, k->enc);
}

int nc_encrypt(const struct nc_key *k, const unsigned char *dirid,
               const char *name, size_t len, char *out)
{
	unsigned char buf[SIV + NC_NAME_MAX + PADTO];
	size_t plen;

	if (len == 0 || memchr(name, '/', len) || memchr(name, 0, len))
		return -EINVAL;
	if (len > NC_NAME_MAX)
		return -ENAMETOOLONG;
	/* ISO/IEC 7816-4 padding: 0x80 then zeros, always at least one byte. */
	plen = (len / PADTO + 1) * PADTO;
	memcpy(buf + SIV, name, len);
	buf[SIV + len] = 0x80;
	memset(buf + SIV + len + 1, 0, plen - len - 1);
	siv_of(k, dirid, buf + SIV, plen, buf);
	stream(k, buf, buf + SIV, plen);
	sodium_bin2base64(out, NC_ENC_MAX, buf, SIV + plen, B64);
	sodium_memzero(buf, sizeof(buf));
	return (int)strlen(out);
}

int nc_decrypt(const struct nc_key *k, const unsigned char *dirid,
               const char *enc, size_t len, char *out)
{
	unsigned char buf[SIV + NC_NAME_MAX + PADTO], siv[SIV];
	size_t blen, plen, n;
	int rc = -EIO;

	if (len == 0 || len >= NC_ENC_MAX || !b64_only(enc, len))
		return -EIO;
	if (sodium_base642bin(buf, sizeof(buf), enc, len, NULL, &blen, NULL,
	                      B64) != 0)
		return -EIO;
	if (blen < SIV + PADTO || (blen - SIV) % PADTO != 0)
		goto out;
	plen = blen - SIV;
	stream(k, buf, buf + SIV, plen);
	siv_of(k, dirid, buf + SIV, plen, siv);
	if (sodium_memcmp(siv, buf, SIV) != 0)
		goto out;
	for (n = plen; n > 0 && buf[SIV + n - 1] == 0; n--)
		;
	if (n == 0 || buf[SIV + n - 1] != 0x80 || n - 1 > NC_NAME_MAX ||
	    plen - n >= PADTO)
		goto out;
	n--;
	if (n == 0 || memchr(buf + SIV, '/', n) || memchr(buf + SIV, 0, n))
		goto out;
	memcpy(out, buf + SIV, n);
	out[n] = '\0';
	rc = (int)n;
out:
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

void nc_long_name(const char *enc, size_t len, const char *prefix,
                  char *out)
{
	unsigned char h[24];

	crypto_generichash(h, sizeof(h), (const unsigned char *)enc, len,
	                   NULL, 0);
	memcpy(out, prefix, 2);
	sodium_bin2base64(out + 2, NC_LONG_LEN - 1, h, sizeof(h), B64);
}

int nc_is_entry(const char *s)
{
	if (s[0] != '.')
		return 1;
	return strncmp(s, NC_LONG_PREFIX, 2) == 0 &&
	       strlen(s) == NC_LONG_LEN;
}

#define SNONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
_Static_assert(SNONCE + crypto_aead_xchacha20poly1305_ietf_ABYTES ==
               NC_SEAL_OVERHEAD, "seal overhead");

int nc_seal(const struct nc_key *k, const void *ad, size_t adlen,
            const void *pt, size_t len, unsigned char *out)
{
	randombytes_buf(out, SNONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + SNONCE, NULL, pt, len,
	    ad, adlen, NULL, out, k->seal);
	return (int)(len + NC_SEAL_OVERHEAD);
}

int nc_open(const struct nc_key *k, const void *ad, size_t adlen,
            const unsigned char *in, size_t len, void *pt)
{
	if (len < NC_SEAL_OVERHEAD)
		return -EIO;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL,
	    in + SNONCE, len - SNONCE, ad, adlen, in, k->seal) != 0)
		return -EIO;
	return (int)(len - NC_SEAL_OVERHEAD);
}

static const char link_ad[] = "dossierfs symlink";

int nc_link_encrypt(const struct nc_key *k, const char *target, size_t len,
                    char *out)
{
	unsigned char buf[NC_LINK_MAX + NC_SEAL_OVERHEAD];
	int n;

	if (len == 0)
		return -ENOENT;
	if (len > NC_LINK_MAX)
		return -ENAMETOOLONG;
	n = nc_seal(k, link_ad, sizeof(link_ad), target, len, buf);
	sodium_bin2base64(out, 4096, buf, (size_t)n, B64);
	return (int)strlen(out);
}

int nc_link_decrypt(const struct nc_key *k, const char *stored, size_t len,
                    char *out)
{
	unsigned char buf[NC_LINK_MAX + NC_SEAL_OVERHEAD];
	size_t blen;
	int n;

	if (!b64_only(stored, len) ||
	    sodium_base642bin(buf, sizeof(buf), stored, len, NULL, &blen,
	                      NULL, B64) != 0)
		return -EIO;
	n = nc_open(k, link_ad, sizeof(link_ad), buf, blen, out);
	if (n < 0 || memchr(out, 0, (size_t)n)) {
		sodium_memzero(out, blen);
		return -EIO;
	}
	out[n] = '\0';
	return n;
}
