/* Key wrapping and the vault config record: see include/keywrap.h. */
#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "keywrap.h"

#define CFG_MAGIC  "DSFVAULT"
#define CFG_AD     56u
#define NONCE      crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG        crypto_aead_xchacha20poly1305_ietf_ABYTES
#define CLI_MAGIC  "DSFK"
#define CLI_AD     8u

_Static_assert(CFG_AD + NONCE + KW_KEYBYTES + TAG <= KW_CONFIG_BYTES,
               "config layout");
_Static_assert(CLI_AD + NONCE + KW_KEYBYTES + TAG == KW_CLIENT_BYTES,
               "client key layout");

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int kw_params_new(struct kw_params *p, enum bc_cipher c, enum kw_source s,
                  const char *cost)
{
	memset(p, 0, sizeof(*p));
	p->version = KW_VERSION;
	p->cipher = c;
	p->source = s;
	if (cost == NULL || strcmp(cost, "moderate") == 0) {
		p->opslimit = crypto_pwhash_OPSLIMIT_MODERATE;
		p->memlimit = crypto_pwhash_MEMLIMIT_MODERATE;
	} else if (strcmp(cost, "interactive") == 0) {
		p->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
		p->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
	} else if (strcmp(cost, "sensitive") == 0) {
		p->opslimit = crypto_pwhash_OPSLIMIT_SENSITIVE;
		p->memlimit = crypto_pwhash_MEMLIMIT_SENSITIVE;
	} else {
		return -EINVAL;
	}
	randombytes_buf(p->salt, sizeof(p->salt));
	return 0;
}

int kw_kek_from_passphrase(const struct kw_params *p, const char *pass,
                           size_t len, unsigned char *kek)
{
	if (crypto_pwhash(kek, KW_KEYBYTES, pass, len, p->salt, p->opslimit,
	                  (size_t)p->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -ENOMEM;
	return 0;
}

static void config_ad(const struct kw_params *p, unsigned char *b)
{
	memset(b, 0, CFG_AD);
	memcpy(b, CFG_MAGIC, 8);
	put32(b + 8, p->version);
	put32(b + 12, (uint32_t)p->cipher);
	put32(b + 16, (uint32_t)p->source);
	put32(b + 20, BC_BLOCK);
	put64(b + 24, p->opslimit);
	put64(b + 32, p->memlimit);
	memcpy(b + 40, p->salt, KW_SALTBYTES);
}

void kw_config_seal(const struct kw_params *p, const unsigned char *kek,
                    const unsigned char *master,
                    unsigned char *out)
{
	memset(out, 0, KW_CONFIG_BYTES);
	config_ad(p, out);
	randombytes_buf(out + CFG_AD, NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + CFG_AD + NONCE, NULL,
	    master, KW_KEYBYTES, out, CFG_AD, NULL, out + CFG_AD, kek);
}

int kw_config_parse(const unsigned char *b, size_t len, struct kw_params *p)
{
	if (len != KW_CONFIG_BYTES || memcmp(b, CFG_MAGIC, 8) != 0)
		return -EINVAL;
	for (size_t i = CFG_AD + NONCE + KW_KEYBYTES + TAG; i < len; i++)
		if (b[i] != 0)
			return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->version = get32(b + 8);
	if (p->version > KW_VERSION)
		return -EPROTONOSUPPORT;
	if (p->version != KW_VERSION || get32(b + 20) != BC_BLOCK)
		return -EINVAL;
	p->cipher = (enum bc_cipher)get32(b + 12);
	p->source = (enum kw_source)get32(b + 16);
	p->opslimit = get64(b + 24);
	p->memlimit = get64(b + 32);
	memcpy(p->salt, b + 40, KW_SALTBYTES);
	if ((p->cipher != BC_AES256GCM && p->cipher != BC_XCHACHA20POLY1305) ||
	    (p->source != KW_PASSPHRASE && p->source != KW_KEYFILE) ||
	    p->opslimit < crypto_pwhash_OPSLIMIT_MIN ||
	    p->opslimit > crypto_pwhash_OPSLIMIT_SENSITIVE ||
	    p->memlimit < crypto_pwhash_MEMLIMIT_MIN ||
	    p->memlimit > crypto_pwhash_MEMLIMIT_SENSITIVE)
		return -EINVAL;
	return 0;
}

int kw_config_open(const unsigned char *b, const unsigned char *kek,
                   unsigned char *master)
{
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(master, NULL, NULL,
	    b + CFG_AD + NONCE, KW_KEYBYTES + TAG, b, CFG_AD, b + CFG_AD,
	    kek) != 0)
		return -EACCES;
	return 0;
}

static void client_ad(const unsigned char *dirid, unsigned char *ad)
{
	memcpy(ad, CLI_MAGIC, 4);
	put32(ad + 4, KW_VERSION);
	memcpy(ad + CLI_AD, dirid, 16);
}

void kw_client_seal(const unsigned char *master, const unsigned char *dirid,
                    const unsigned char *key,
                    unsigned char *out)
{
	unsigned char ad[CLI_AD + 16];

	client_ad(dirid, ad);
	memcpy(out, ad, CLI_AD);
	randombytes_buf(out + CLI_AD, NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + CLI_AD + NONCE, NULL,
	    key, KW_KEYBYTES, ad, sizeof(ad), NULL, out + CLI_AD, master);
}

int kw_client_open(const unsigned char *master, const unsigned char *dirid,
                   const unsigned char *b, unsigned char *key)
{
	unsigned char ad[CLI_AD + 16];

	client_ad(dirid, ad);
	if (memcmp(b, ad, CLI_AD) != 0)
		return get32(b + 4) > KW_VERSION && memcmp(b, CLI_MAGIC, 4) == 0
		       ? -EPROTONOSUPPORT : -EIO;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(key, NULL, NULL,
	    b + CLI_AD + NONCE, KW_KEYBYTES + TAG, ad, sizeof(ad),
	    b + CLI_AD, master) != 0)
		return -EIO;
	return 0;
}
