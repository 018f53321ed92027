/* The approved-sharing package and receipt: see include/sharepkg.h. */
#define SHAREPKG_TESTING     /* the prototype of the test hook below */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "sharepkg.h"
#include "util.h"

#define PUB_MAGIC    "dossierfs-share-pub-v1"
#define SEC_MAGIC    "dossierfs-share-sec-v1"
#define PKG_MAGIC    "DSFSHARE1\n"
#define PKG_MAGIC_LEN 10u
#define MAN_FORMAT   "dossierfs-share-manifest-v1"
#define RCPT_MAGIC   "dossierfs-share-receipt-v1"
#define SS_ABYTES    crypto_secretstream_xchacha20poly1305_ABYTES
#define SS_HBYTES    crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_KEYBYTES  crypto_secretstream_xchacha20poly1305_KEYBYTES
#define TAG_MESSAGE  crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
#define TAG_FINAL    crypto_secretstream_xchacha20poly1305_TAG_FINAL
#define SEALED_LEN   (crypto_box_SEALBYTES + SS_KEYBYTES)
#define OFF_FPR      PKG_MAGIC_LEN
#define OFF_SEALED   (OFF_FPR + SHAREPKG_FPRBYTES)
#define OFF_SSHDR    (OFF_SEALED + SEALED_LEN)
#define SEC_LEN      (sizeof(SEC_MAGIC) + 65 + 65 + 2 * SHAREPKG_FPRBYTES + 1)
#define SIG_LINE     (4 + 2 * crypto_sign_BYTES + 1)    /* "sig=...\n" */
#define COMP_MAX     255u
#define TIME_LEN     20u                    /* YYYY-MM-DDTHH:MM:SSZ */
#define TIME_MAX     INT64_C(253402300799)  /* 9999-12-31T23:59:59Z */
#define ENTRY_MIN    87u     /* bytes of the shortest name=, size=, blake2b= */
#define TMP_PREFIX   ".sharepkg-"
#define TMP_LEN      (sizeof(TMP_PREFIX) - 1 + 16 + 5 + 1)

_Static_assert(OFF_SSHDR + SS_HBYTES == SHAREPKG_HEADER_LEN, "header layout");
_Static_assert(sizeof(PKG_MAGIC) - 1 == PKG_MAGIC_LEN, "magic");
_Static_assert(sizeof(PUB_MAGIC) + 2 * crypto_box_PUBLICKEYBYTES + 1 +
               2 * crypto_sign_PUBLICKEYBYTES + 1 == SHAREPKG_PUBLINE_LEN,
               "public line");
_Static_assert(crypto_box_SECRETKEYBYTES == 32 &&
               crypto_sign_SEEDBYTES == 32, "secret line");
_Static_assert(SHAREPKG_MANIFEST_MAX + SS_ABYTES < UINT32_MAX,
               "message length field");
_Static_assert(SHAREPKG_CHUNK <= SHAREPKG_MANIFEST_MAX, "buffer sizes");

struct sharepkg_sec {
	unsigned char box_sk[crypto_box_SECRETKEYBYTES];
	unsigned char sign_sk[crypto_sign_SECRETKEYBYTES];
	struct sharepkg_pub pub;
	char fpr[SHAREPKG_FPRHEX];
};

/* The key and state of one secretstream, in sodium_malloc'd memory. */
struct stream {
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned char key[SS_KEYBYTES];
};

/* A growing text, wiped when freed; err keeps the first failure. */
struct buf {
	char *p;
	size_t len;
	size_t cap;
	int err;                     /* 0, -ENOMEM or -E2BIG */
};

/* A cursor over canonical key=value text. */
struct rd {
	const char *p;
	const char *end;
};

/* ---- small helpers ---------------------------------------------------- */

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Reads len bytes, fewer only at end of file: the count, or -errno. */
static ssize_t read_full(int fd, void *p, size_t len)
{
	unsigned char *b = p;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, b + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* As read_full(), at offset off. */
static ssize_t pread_full(int fd, void *p, size_t len, uint64_t off)
{
	unsigned char *b = p;
	size_t got = 0;
	ssize_t n;

	if (off > (uint64_t)INT64_MAX - len)
		return -EFBIG;
	while (got < len) {
		n = pread(fd, b + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static void free_wiped(char *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s, strlen(s));
	free(s);
}

static void hex(char *out, const unsigned char *bin, size_t n)
{
	sodium_bin2hex(out, 2 * n + 1, bin, n);
}

/* Decodes exactly 2 * n lowercase hex digits: 0 or -EINVAL. */
static int unhex(unsigned char *bin, size_t n, const char *s, size_t len)
{
	size_t got;

	if (len != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if ((s[i] < '0' || s[i] > '9') && (s[i] < 'a' || s[i] > 'f'))
			return -EINVAL;
	if (sodium_hex2bin(bin, n, s, len, NULL, &got, NULL) != 0 || got != n)
		return -EINVAL;
	return 0;
}

/* The time as YYYY-MM-DDTHH:MM:SSZ: 0, or -EINVAL out of range. */
static int time_text(int64_t t, char out[TIME_LEN + 1])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0 || t > TIME_MAX || gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm) != TIME_LEN)
		return -EINVAL;
	return 0;
}

static int time_parse(const char *s, size_t len, int64_t *out)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	char back[TIME_LEN + 1];
	struct tm tm;
	time_t t;
	int v[6], k = 0, x = 0;

	if (len != TIME_LEN)
		return -EINVAL;
	for (size_t i = 0; i < TIME_LEN; i++) {
		if (shape[i] != 'd') {
			if (s[i] != shape[i])
				return -EINVAL;
			if (k < 6 && i + 1 < TIME_LEN)
				v[k++] = x, x = 0;
			continue;
		}
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		x = x * 10 + (s[i] - '0');
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = x;
	t = timegm(&tm);
	/* timegm() normalizes: only a time that reads back the same is one. */
	if (time_text((int64_t)t, back) != 0 || memcmp(back, s, TIME_LEN) != 0)
		return -EINVAL;
	*out = (int64_t)t;
	return 0;
}

/* ---- text ------------------------------------------------------------- */

static void buf_add(struct buf *b, const void *s, size_t n)
{
	size_t cap;
	char *p;

	if (b->err != 0)
		return;
	if (n > SHAREPKG_MANIFEST_MAX - b->len) {
		b->err = -E2BIG;
		return;
	}
	if (b->len + n > b->cap) {
		cap = b->cap != 0 ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		/* Not realloc(): the old copy must be wiped. */
		if ((p = malloc(cap)) == NULL) {
			b->err = -ENOMEM;
			return;
		}
		if (b->p != NULL) {
			memcpy(p, b->p, b->len);
			sodium_memzero(b->p, b->cap);
			free(b->p);
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_hex(struct buf *b, const unsigned char *bin, size_t n)
{
	char h[2 * crypto_sign_BYTES + 1];

	hex(h, bin, n);
	buf_add(b, h, 2 * n);
}

static void buf_u64(struct buf *b, uint64_t v)
{
	char d[24];

	buf_add(b, d, (size_t)snprintf(d, sizeof(d), "%" PRIu64, v));
}

static bool needs_pct(unsigned char c)
{
	return c < 0x20 || c > 0x7e || c == '%' || c == '=';
}

static void buf_pct(struct buf *b, const char *s)
{
	static const char xd[] = "0123456789ABCDEF";
	const char *run = s;
	char e[3];

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (!needs_pct(c))
			continue;
		buf_add(b, run, (size_t)(s - run));
		e[0] = '%';
		e[1] = xd[c >> 4];
		e[2] = xd[c & 15];
		buf_add(b, e, 3);
		run = s + 1;
	}
	buf_add(b, run, (size_t)(s - run));
}

static void buf_free(struct buf *b)
{
	if (b->p != NULL) {
		sodium_memzero(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof(*b));
}

/* The value of the next line, which must be "key=value\n": 0 or -EINVAL. */
static int next_kv(struct rd *r, const char *key, const char **v,
                   size_t *vlen)
{
	size_t kl = strlen(key), left = (size_t)(r->end - r->p);
	const char *nl;

	if (left < kl + 2 || memcmp(r->p, key, kl) != 0 || r->p[kl] != '=')
		return -EINVAL;
	nl = memchr(r->p + kl + 1, '\n', left - kl - 1);
	if (nl == NULL)
		return -EINVAL;
	*v = r->p + kl + 1;
	*vlen = (size_t)(nl - *v);
	r->p = nl + 1;
	return 0;
}

static int uphex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes a percent-encoded value into a new string of at most max bytes
 * (not empty if nonempty): 0, -EINVAL or -ENOMEM. */
static int get_text(struct rd *r, const char *key, size_t max, bool nonempty,
                    char **out)
{
	const char *v;
	size_t vlen, n = 0;
	char *s;
	int rc;

	if ((rc = next_kv(r, key, &v, &vlen)) != 0)
		return rc;
	if ((s = malloc(vlen + 1)) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)v[i];
		int hi, lo;

		if (c == '%') {
			if (vlen - i < 3 || (hi = uphex(v[i + 1])) < 0 ||
			    (lo = uphex(v[i + 2])) < 0)
				goto bad;
			c = (unsigned char)(hi << 4 | lo);
			if (c == 0 || !needs_pct(c))
				goto bad;
			i += 2;
		} else if (needs_pct(c)) {
			goto bad;
		}
		s[n++] = (char)c;
	}
	if (n > max || (nonempty && n == 0))
		goto bad;
	s[n] = '\0';
	*out = s;
	return 0;
bad:
	sodium_memzero(s, vlen + 1);
	free(s);
	return -EINVAL;
}

static int get_hex(struct rd *r, const char *key, unsigned char *bin,
                   size_t n)
{
	const char *v;
	size_t vlen;

	if (next_kv(r, key, &v, &vlen) != 0)
		return -EINVAL;
	return unhex(bin, n, v, vlen);
}

/* A decimal with no leading zero, at most max. */
static int get_u64(struct rd *r, const char *key, uint64_t max,
                   uint64_t *out)
{
	const char *v;
	size_t vlen;
	uint64_t x = 0;

	if (next_kv(r, key, &v, &vlen) != 0 || vlen == 0 || vlen > 20 ||
	    (vlen > 1 && v[0] == '0'))
		return -EINVAL;
	for (size_t i = 0; i < vlen; i++) {
		unsigned d = (unsigned)(v[i] - '0');

		if (d > 9 || x > (max - d) / 10)
			return -EINVAL;
		x = x * 10 + d;
	}
	*out = x;
	return 0;
}

static int get_time(struct rd *r, const char *key, int64_t *out)
{
	const char *v;
	size_t vlen;

	if (next_kv(r, key, &v, &vlen) != 0)
		return -EINVAL;
	return time_parse(v, vlen, out);
}

/* Splits a signed text into its body and signature: 0 or -EINVAL. */
static int split_sig(const char *p, size_t len, size_t *body,
                     unsigned char sig[crypto_sign_BYTES])
{
	const char *s;

	if (len < SIG_LINE || (len > SIG_LINE && p[len - SIG_LINE - 1] != '\n'))
		return -EINVAL;
	s = p + len - SIG_LINE;
	if (memcmp(s, "sig=", 4) != 0 || s[SIG_LINE - 1] != '\n' ||
	    unhex(sig, crypto_sign_BYTES, s + 4, SIG_LINE - 5) != 0)
		return -EINVAL;
	*body = len - SIG_LINE;
	return 0;
}

/* ---- names ------------------------------------------------------------ */

/* A relative name with no empty, "." or ".." component. */
static bool name_ok(const char *s)
{
	const char *p = s, *e;
	size_t l;

	if (s == NULL || *s == '\0' || *s == '/' ||
	    strlen(s) > SHAREPKG_NAME_MAX)
		return false;
	for (;;) {
		e = strchr(p, '/');
		l = e != NULL ? (size_t)(e - p) : strlen(p);
		if (l == 0 || l > COMP_MAX ||
		    (l == 1 && p[0] == '.') ||
		    (l == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (e == NULL)
			return true;
		p = e + 1;
	}
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 0 when every name is safe and no two are alike; -EINVAL, -ENOMEM. */
static int names_check(const char *const *names, size_t n)
{
	const char **v;
	int rc = -EINVAL;

	for (size_t i = 0; i < n; i++)
		if (!name_ok(names[i]))
			return -EINVAL;
	if (n < 2)
		return 0;
	if ((v = malloc(n * sizeof(*v))) == NULL)
		return -ENOMEM;
	memcpy(v, names, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_names);
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i - 1], v[i]) == 0)
			goto out;
	rc = 0;
out:
	free(v);
	return rc;
}

static int entries_check(const struct sharepkg_entry *f, size_t n)
{
	const char **names;
	int rc;

	if (n == 0)
		return 0;
	if ((names = malloc(n * sizeof(*names))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		names[i] = f[i].name;
	rc = names_check(names, n);
	free(names);
	return rc;
}

/* ---- keys ------------------------------------------------------------- */

void sharepkg_pub_format(const struct sharepkg_pub *pk,
                         char line[SHAREPKG_PUBLINE_LEN + 1])
{
	char *p = line;

	memcpy(p, PUB_MAGIC " ", sizeof(PUB_MAGIC));
	p += sizeof(PUB_MAGIC);
	hex(p, pk->box_pk, sizeof(pk->box_pk));
	p += 2 * sizeof(pk->box_pk);
	*p++ = ' ';
	hex(p, pk->sign_pk, sizeof(pk->sign_pk));
	p += 2 * sizeof(pk->sign_pk);
	*p++ = '\n';
	*p = '\0';
}

void sharepkg_fingerprint(const struct sharepkg_pub *pk,
                          unsigned char fpr[SHAREPKG_FPRBYTES])
{
	char line[SHAREPKG_PUBLINE_LEN + 1];

	sharepkg_pub_format(pk, line);
	crypto_generichash(fpr, SHAREPKG_FPRBYTES, (unsigned char *)line,
	                   SHAREPKG_PUBLINE_LEN, NULL, 0);
}

void sharepkg_fingerprint_hex(const struct sharepkg_pub *pk,
                              char out[SHAREPKG_FPRHEX])
{
	unsigned char fpr[SHAREPKG_FPRBYTES];

	sharepkg_fingerprint(pk, fpr);
	hex(out, fpr, sizeof(fpr));
}

int sharepkg_pub_parse(const char *buf, size_t len, struct sharepkg_pub *out)
{
	const char *box, *sign;
	struct sharepkg_pub pk;

	if (buf == NULL || out == NULL)
		return -EINVAL;
	if (len == SHAREPKG_PUBLINE_LEN && buf[len - 1] == '\n')
		len--;
	if (len != SHAREPKG_PUBLINE_LEN - 1)
		return -EINVAL;
	box = buf + sizeof(PUB_MAGIC);
	sign = box + 2 * crypto_box_PUBLICKEYBYTES + 1;
	if (memcmp(buf, PUB_MAGIC " ", sizeof(PUB_MAGIC)) != 0 ||
	    sign[-1] != ' ' ||
	    unhex(pk.box_pk, sizeof(pk.box_pk), box,
	          2 * sizeof(pk.box_pk)) != 0 ||
	    unhex(pk.sign_pk, sizeof(pk.sign_pk), sign,
	          2 * sizeof(pk.sign_pk)) != 0)
		return -EINVAL;
	if (sodium_is_zero(pk.box_pk, sizeof(pk.box_pk)) ||
	    crypto_core_ed25519_is_valid_point(pk.sign_pk) != 1)
		return -EINVAL;
	*out = pk;
	return 0;
}

int sharepkg_pub_load(int fd, struct sharepkg_pub *out)
{
	char buf[SHAREPKG_PUBLINE_LEN + 1];
	ssize_t n;

	n = read_full(fd, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	return sharepkg_pub_parse(buf, (size_t)n, out);
}

/* The secret line of k into line (SEC_LEN bytes and a NUL). */
static void sec_format(const struct sharepkg_sec *k, char *line)
{
	char *p = line;

	memcpy(p, SEC_MAGIC " ", sizeof(SEC_MAGIC));
	p += sizeof(SEC_MAGIC);
	hex(p, k->box_sk, sizeof(k->box_sk));
	p += 2 * sizeof(k->box_sk);
	*p++ = ' ';
	/* The first half of an Ed25519 secret key is its seed. */
	hex(p, k->sign_sk, crypto_sign_SEEDBYTES);
	p += 2 * crypto_sign_SEEDBYTES;
	*p++ = ' ';
	memcpy(p, k->fpr, 2 * SHAREPKG_FPRBYTES);
	p += 2 * SHAREPKG_FPRBYTES;
	*p++ = '\n';
	*p = '\0';
}

/* Fills the public half and fingerprint of k from its secret keys. */
static int sec_derive(struct sharepkg_sec *k, const unsigned char *seed)
{
	if (crypto_scalarmult_base(k->pub.box_pk, k->box_sk) != 0 ||
	    crypto_sign_seed_keypair(k->pub.sign_pk, k->sign_sk, seed) != 0)
		return -EINVAL;
	sharepkg_fingerprint_hex(&k->pub, k->fpr);
	return 0;
}

static int sec_parse(const char *buf, size_t len, struct sharepkg_sec *k)
{
	const char *box, *seedhex, *fpr;
	unsigned char seed[crypto_sign_SEEDBYTES];
	int rc = -EINVAL;

	if (len != SEC_LEN)
		goto out;
	box = buf + sizeof(SEC_MAGIC);
	seedhex = box + 65;
	fpr = seedhex + 65;
	if (memcmp(buf, SEC_MAGIC " ", sizeof(SEC_MAGIC)) != 0 ||
	    seedhex[-1] != ' ' || fpr[-1] != ' ' || buf[SEC_LEN - 1] != '\n')
		goto out;
	/* A box key is stored clamped (as X25519 uses it), so that no bit
	 * of it can change without changing the public key. */
	if (unhex(k->box_sk, sizeof(k->box_sk), box, 64) != 0 ||
	    (k->box_sk[0] & 7) != 0 || (k->box_sk[31] & 0xc0) != 0x40 ||
	    unhex(seed, sizeof(seed), seedhex, 64) != 0 ||
	    sec_derive(k, seed) != 0)
		goto out;
	/* The line's own fingerprint catches a damaged key. */
	if (sodium_memcmp(k->fpr, fpr, 2 * SHAREPKG_FPRBYTES) != 0)
		goto out;
	rc = 0;
out:
	sodium_memzero(seed, sizeof(seed));
	if (rc != 0)
		sodium_memzero(k, sizeof(*k));
	return rc;
}

int sharepkg_sec_load(int fd, struct sharepkg_sec **out)
{
	char buf[SEC_LEN + 1];
	struct sharepkg_sec *k = NULL;
	ssize_t n;
	int rc = -EINVAL;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	n = read_full(fd, buf, sizeof(buf));
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	if ((k = sodium_malloc(sizeof(*k))) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = sec_parse(buf, (size_t)n, k)) != 0)
		goto out;
	*out = k;
	k = NULL;
out:
	sodium_memzero(buf, sizeof(buf));
	sharepkg_sec_free(k);
	return rc;
}

int sharepkg_sec_load_at(int dirfd, const char *name,
                         struct sharepkg_sec **out)
{
	struct stat st;
	int fd, rc;

	if (name == NULL || out == NULL)
		return -EINVAL;
	*out = NULL;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	            O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode))
		rc = -EINVAL;
	else
		rc = sharepkg_sec_load(fd, out);
	close(fd);
	return rc;
}

void sharepkg_sec_pub(const struct sharepkg_sec *sk, struct sharepkg_pub *out)
{
	*out = sk->pub;
}

void sharepkg_sec_free(struct sharepkg_sec *sk)
{
	if (sk != NULL)
		sodium_free(sk);    /* which wipes it */
}

int sharepkg_keygen(int pub_fd, int sec_fd)
{
	char pub[SHAREPKG_PUBLINE_LEN + 1], sec[SEC_LEN + 1];
	unsigned char seed[crypto_sign_SEEDBYTES];
	struct sharepkg_sec *k;
	int rc = -ENOMEM;

	if ((k = sodium_malloc(sizeof(*k))) == NULL)
		return -ENOMEM;
	randombytes_buf(k->box_sk, sizeof(k->box_sk));
	k->box_sk[0] &= 248;
	k->box_sk[31] &= 127;
	k->box_sk[31] |= 64;
	randombytes_buf(seed, sizeof(seed));
	if ((rc = sec_derive(k, seed)) != 0)
		goto out;
	sharepkg_pub_format(&k->pub, pub);
	sec_format(k, sec);
	if ((rc = write_all(pub_fd, pub, SHAREPKG_PUBLINE_LEN)) != 0 ||
	    (rc = write_all(sec_fd, sec, SEC_LEN)) != 0)
		goto out;
	rc = 0;
out:
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sec, sizeof(sec));
	sodium_free(k);
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

int sharepkg_keygen_at(int dirfd, const char *pub_name, const char *sec_name)
{
	int pfd = -1, sfd = -1, rc = -EINVAL;

	if (pub_name == NULL || sec_name == NULL ||
	    strcmp(pub_name, sec_name) == 0)
		return -EINVAL;
	sfd = openat(dirfd, sec_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	             O_CLOEXEC, 0600);
	if (sfd < 0)
		return -errno;
	pfd = openat(dirfd, pub_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	             O_CLOEXEC, 0644);
	if (pfd < 0) {
		rc = -errno;
		goto out;
	}
	if (fchmod(pfd, 0644) != 0 || fchmod(sfd, 0600) != 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = sharepkg_keygen(pfd, sfd)) != 0)
		goto out;
	if (fsync(pfd) != 0 || fsync(sfd) != 0) {
		rc = -errno;
		goto out;
	}
	rc = fsync_dir(dirfd);
out:
	if (pfd >= 0)
		close(pfd);
	close(sfd);
	if (rc != 0) {
		if (pfd >= 0)
			unlinkat(dirfd, pub_name, 0);
		unlinkat(dirfd, sec_name, 0);
	}
	return rc;
}

/* ---- manifest and receipt text ----------------------------------------- */

static void files_text(struct buf *b, const struct sharepkg_entry *f,
                       size_t n)
{
	buf_str(b, "files=");
	buf_u64(b, n);
	buf_str(b, "\n");
	for (size_t i = 0; i < n; i++) {
		buf_str(b, "name=");
		buf_pct(b, f[i].name);
		buf_str(b, "\nsize=");
		buf_u64(b, f[i].size);
		buf_str(b, "\nblake2b=");
		buf_hex(b, f[i].digest, SHAREPKG_DIGESTBYTES);
		buf_str(b, "\n");
	}
}

/* The manifest of m without its sig line. */
static void manifest_text(struct buf *b, const struct sharepkg_manifest *m)
{
	char t[TIME_LEN + 1];

	if (time_text(m->created, t) != 0 && b->err == 0)
		b->err = -EINVAL;
	buf_str(b, "format=" MAN_FORMAT "\npackage=");
	buf_str(b, m->package_id);
	buf_str(b, "\nrequest=");
	buf_pct(b, m->request_id);
	buf_str(b, "\nclient=");
	buf_pct(b, m->client);
	buf_str(b, "\nreason=");
	buf_pct(b, m->reason);
	buf_str(b, "\nrecipient=");
	buf_str(b, m->recipient);
	buf_str(b, "\ncreated=");
	buf_str(b, t);
	buf_str(b, "\nsender=");
	buf_hex(b, m->sender_pk, sizeof(m->sender_pk));
	buf_str(b, "\n");
	files_text(b, m->files, m->nfiles);
}

static void receipt_text(struct buf *b, const struct sharepkg_receipt *r)
{
	char t[TIME_LEN + 1];

	if (time_text(r->received, t) != 0 && b->err == 0)
		b->err = -EINVAL;
	buf_str(b, RCPT_MAGIC "\npackage=");
	buf_str(b, r->package_id);
	buf_str(b, "\nrequest=");
	buf_pct(b, r->request_id);
	buf_str(b, "\nmanifest=");
	buf_hex(b, r->manifest_digest, sizeof(r->manifest_digest));
	buf_str(b, "\nrecipient=");
	buf_str(b, r->recipient);
	buf_str(b, "\nreceived=");
	buf_str(b, t);
	buf_str(b, "\n");
	files_text(b, r->files, r->nfiles);
}

/* Signs b's text and appends the sig line. */
/* A signer of a secret key held by the caller. */
static int sk_sign(void *arg, const void *msg, size_t len,
                   unsigned char sig[crypto_sign_BYTES])
{
	return crypto_sign_detached(sig, NULL, msg, len, arg);
}

static void sk_signer(const unsigned char *sk, struct sharepkg_signer *sg)
{
	memset(sg, 0, sizeof(*sg));
	sg->sign = sk_sign;
	sg->arg = (void *)sk;
	crypto_sign_ed25519_sk_to_pk(sg->pk, sk);
}

static void buf_sign(struct buf *b, const struct sharepkg_signer *sg,
                     bool spoil)
{
	unsigned char sig[crypto_sign_BYTES];
	int rc;

	if (b->err != 0)
		return;
	if ((rc = sg->sign(sg->arg, b->p, b->len, sig)) != 0) {
		b->err = rc < 0 ? rc : -EINVAL;
		return;
	}
	if (spoil)
		sig[0] ^= 1;
	buf_str(b, "sig=");
	buf_hex(b, sig, sizeof(sig));
	buf_str(b, "\n");
}

static void entries_free(struct sharepkg_entry *f, size_t n)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free_wiped(f[i].name);
	sodium_memzero(f, n * sizeof(*f));
	free(f);
}

static int entries_parse(struct rd *r, struct sharepkg_entry **out,
                         size_t *nout)
{
	struct sharepkg_entry *f;
	uint64_t n;
	int rc;

	if ((rc = get_u64(r, "files", SHAREPKG_FILES_MAX, &n)) != 0)
		return rc;
	/* A count the text has no room for is refused before it costs
	 * memory. */
	if (n > (uint64_t)(r->end - r->p) / ENTRY_MIN)
		return -EINVAL;
	if ((f = calloc(n != 0 ? (size_t)n : 1, sizeof(*f))) == NULL)
		return -ENOMEM;
	*out = f;
	*nout = 0;
	for (size_t i = 0; i < n; i++) {
		if ((rc = get_text(r, "name", SHAREPKG_NAME_MAX, true,
		                   &f[i].name)) != 0)
			return rc;
		*nout = i + 1;
		if ((rc = get_u64(r, "size", INT64_MAX, &f[i].size)) != 0 ||
		    (rc = get_hex(r, "blake2b", f[i].digest,
		                  SHAREPKG_DIGESTBYTES)) != 0)
			return rc;
	}
	return 0;
}

/* 0 when b's text is exactly p[0..len), else -EINVAL (or b's error). */
static int same_text(const struct buf *b, const char *p, size_t len)
{
	if (b->err != 0)
		return b->err == -ENOMEM ? -ENOMEM : -EINVAL;
	return b->len == len && memcmp(b->p, p, len) == 0 ? 0 : -EINVAL;
}

/* Parses a manifest body (no sig line) into m: 0, -EINVAL, -ENOMEM. */
static int manifest_parse(const char *p, size_t len,
                          struct sharepkg_manifest *m)
{
	struct rd r = { p, p + len };
	struct buf back = { 0 };
	unsigned char id[16], fpr[SHAREPKG_FPRBYTES];
	const char *v;
	size_t vlen;
	int rc;

	if (next_kv(&r, "format", &v, &vlen) != 0 ||
	    vlen != sizeof(MAN_FORMAT) - 1 || memcmp(v, MAN_FORMAT, vlen) != 0)
		return -EINVAL;
	if ((rc = get_hex(&r, "package", id, sizeof(id))) != 0 ||
	    (rc = get_text(&r, "request", SHAREPKG_TEXT_MAX, true,
	                   &m->request_id)) != 0 ||
	    (rc = get_text(&r, "client", SHAREPKG_TEXT_MAX, true,
	                   &m->client)) != 0 ||
	    (rc = get_text(&r, "reason", SHAREPKG_TEXT_MAX, false,
	                   &m->reason)) != 0 ||
	    (rc = get_hex(&r, "recipient", fpr, sizeof(fpr))) != 0 ||
	    (rc = get_time(&r, "created", &m->created)) != 0 ||
	    (rc = get_hex(&r, "sender", m->sender_pk,
	                  sizeof(m->sender_pk))) != 0 ||
	    (rc = entries_parse(&r, &m->files, &m->nfiles)) != 0)
		return rc;
	if (r.p != r.end)
		return -EINVAL;
	hex(m->package_id, id, sizeof(id));
	hex(m->recipient, fpr, sizeof(fpr));
	/* Only the canonical text of these values is a manifest. */
	manifest_text(&back, m);
	rc = same_text(&back, p, len);
	buf_free(&back);
	return rc;
}

void sharepkg_manifest_free(struct sharepkg_manifest *m)
{
	if (m == NULL)
		return;
	free_wiped(m->request_id);
	free_wiped(m->client);
	free_wiped(m->reason);
	entries_free(m->files, m->nfiles);
	sodium_memzero(m, sizeof(*m));
	free(m);
}

void sharepkg_receipt_free(struct sharepkg_receipt *r)
{
	if (r == NULL)
		return;
	free_wiped(r->request_id);
	entries_free(r->files, r->nfiles);
	sodium_memzero(r, sizeof(*r));
	free(r);
}

/* ---- writing a package ------------------------------------------------ */

/* Encrypts m[0..len) as the next message and writes it with its length.
 * out has room for 4 + len + SS_ABYTES bytes. */
static int push(int fd, struct stream *s, unsigned char *out,
                const unsigned char *m, size_t len,
                const unsigned char *ad, size_t adlen, unsigned char tag)
{
	unsigned long long clen;

	if (crypto_secretstream_xchacha20poly1305_push(&s->st, out + 4, &clen,
	    m, len, ad, adlen, tag) != 0)
		return -EINVAL;
	put32(out, (uint32_t)clen);
	return write_all(fd, out, 4 + (size_t)clen);
}

/* Reads up to len bytes of f at off, whole unless the end comes first. */
static ssize_t src_read(const struct sharepkg_file *f, void *p, size_t len,
                        uint64_t off)
{
	unsigned char *b = p;
	size_t got = 0;
	ssize_t n;

	if (f->pread == NULL)
		return pread_full(f->fd, p, len, off);
	while (got < len) {
		n = f->pread(f->arg, b + got, len - got, off + got);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* First pass: size and digest of f, which must be what fstat (or its
 * size) says. */
static int file_digest(const struct sharepkg_file *f, unsigned char *chunk,
                       struct sharepkg_entry *e)
{
	crypto_generichash_state h;
	struct stat st;
	uint64_t off = 0, size = f->size;
	ssize_t n;

	if (f->pread == NULL) {
		if (fstat(f->fd, &st) != 0)
			return -errno;
		if (!S_ISREG(st.st_mode))
			return -EINVAL;
		size = (uint64_t)st.st_size;
	}
	crypto_generichash_init(&h, NULL, 0, SHAREPKG_DIGESTBYTES);
	while ((n = src_read(f, chunk, SHAREPKG_CHUNK, off)) > 0) {
		crypto_generichash_update(&h, chunk, (size_t)n);
		off += (uint64_t)n;
	}
	crypto_generichash_final(&h, e->digest, SHAREPKG_DIGESTBYTES);
	if (n < 0)
		return (int)n;
	if (off != size)
		return -EAGAIN;
	e->size = off;
	return 0;
}

/* Second pass: the content of f in messages; it must still be e. */
static int file_send(int out_fd, struct stream *s,
                     const struct sharepkg_file *f,
                     const struct sharepkg_entry *e, unsigned char *pt,
                     unsigned char *ct)
{
	crypto_generichash_state h;
	unsigned char d[SHAREPKG_DIGESTBYTES];
	uint64_t off = 0;
	size_t len;
	ssize_t n;
	int rc;

	crypto_generichash_init(&h, NULL, 0, sizeof(d));
	while (off < e->size) {
		len = e->size - off < SHAREPKG_CHUNK ?
		      (size_t)(e->size - off) : SHAREPKG_CHUNK;
		n = src_read(f, pt, len, off);
		if (n < 0)
			return (int)n;
		if ((size_t)n != len)
			return -EAGAIN;
		crypto_generichash_update(&h, pt, len);
		rc = push(out_fd, s, ct, pt, len, NULL, 0, TAG_MESSAGE);
		if (rc != 0)
			return rc;
		off += len;
	}
	if ((n = src_read(f, pt, 1, off)) != 0)
		return n < 0 ? (int)n : -EAGAIN;
	crypto_generichash_final(&h, d, sizeof(d));
	return sodium_memcmp(d, e->digest, sizeof(d)) == 0 ? 0 : -EAGAIN;
}

static int meta_check(const struct sharepkg_meta *meta)
{
	char t[TIME_LEN + 1];

	if (meta == NULL || meta->request_id == NULL || meta->client == NULL ||
	    meta->reason == NULL || *meta->request_id == '\0' ||
	    *meta->client == '\0' ||
	    strlen(meta->request_id) > SHAREPKG_TEXT_MAX ||
	    strlen(meta->client) > SHAREPKG_TEXT_MAX ||
	    strlen(meta->reason) > SHAREPKG_TEXT_MAX ||
	    (meta->created != 0 && time_text(meta->created, t) != 0))
		return -EINVAL;
	return 0;
}

/* A new manifest for these files (sizes and digests not yet known). */
static int manifest_new(const struct sharepkg_meta *meta,
                        const struct sharepkg_file *files, size_t n,
                        const struct sharepkg_pub *to,
                        const struct sharepkg_signer *sg,
                        struct sharepkg_manifest **out)
{
	struct sharepkg_manifest *m;
	unsigned char id[16];

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return -ENOMEM;
	*out = m;
	randombytes_buf(id, sizeof(id));
	hex(m->package_id, id, sizeof(id));
	sharepkg_fingerprint_hex(to, m->recipient);
	m->created = meta->created != 0 ? meta->created : (int64_t)time(NULL);
	memcpy(m->sender_pk, sg->pk, sizeof(m->sender_pk));
	if ((m->request_id = strdup(meta->request_id)) == NULL ||
	    (m->client = strdup(meta->client)) == NULL ||
	    (m->reason = strdup(meta->reason)) == NULL ||
	    (m->files = calloc(n != 0 ? n : 1, sizeof(*m->files))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if ((m->files[i].name = strdup(files[i].name != NULL ?
		                               files[i].name : "")) == NULL)
			return -ENOMEM;
		m->nfiles = i + 1;
	}
	return 0;
}

static int args_check(const struct sharepkg_meta *meta,
                      const struct sharepkg_file *files, size_t n,
                      const struct sharepkg_pub *to,
                      const struct sharepkg_signer *sg, bool raw)
{
	const char **names;
	int rc;

	if ((files == NULL && n != 0) || n > SHAREPKG_FILES_MAX ||
	    to == NULL || sg == NULL || sg->sign == NULL ||
	    meta_check(meta) != 0)
		return -EINVAL;
	if (raw || n == 0)
		return 0;
	if ((names = malloc(n * sizeof(*names))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		names[i] = files[i].name;
	rc = names_check(names, n);
	free(names);
	return rc;
}

static int write_pkg(int out_fd, const struct sharepkg_meta *meta,
                     const struct sharepkg_file *files, size_t n,
                     const struct sharepkg_pub *to,
                     const struct sharepkg_signer *sg, char *package_id,
                     unsigned char *manifest_digest,
                     const struct sharepkg_test *t)
{
	struct sharepkg_manifest *m = NULL;
	struct stream *s = NULL;
	struct buf man = { 0 };
	unsigned char hdr[SHAREPKG_HEADER_LEN];
	unsigned char *pt = NULL, *ct = NULL, *mct = NULL;
	unsigned flags = t != NULL ? t->flags : 0;
	int rc;

	if ((rc = args_check(meta, files, n, to, sg,
	                     t != NULL && t->body != NULL)) != 0)
		return rc;
	if ((rc = manifest_new(meta, files, n, to, sg, &m)) != 0)
		goto out;
	rc = -ENOMEM;
	if ((pt = malloc(SHAREPKG_CHUNK)) == NULL ||
	    (ct = malloc(4 + SHAREPKG_CHUNK + SS_ABYTES)) == NULL ||
	    (s = sodium_malloc(sizeof(*s))) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((rc = file_digest(&files[i], pt, &m->files[i])) != 0)
			goto out;
	if (t != NULL && t->between != NULL)
		t->between(t->arg);

	if (t != NULL && t->body != NULL)
		buf_str(&man, t->body);
	else
		manifest_text(&man, m);
	/* Room for the sig line, so that the signed text is all sent. */
	if (man.err == 0 && man.len > SHAREPKG_MANIFEST_MAX - SIG_LINE)
		man.err = -E2BIG;
	buf_sign(&man, sg, flags & SHAREPKG_T_BADSIG);
	if ((rc = man.err) != 0)
		goto out;
	crypto_generichash(m->digest, sizeof(m->digest),
	                   (unsigned char *)man.p, man.len, NULL, 0);

	memcpy(hdr, PKG_MAGIC, PKG_MAGIC_LEN);
	sharepkg_fingerprint(to, hdr + OFF_FPR);
	crypto_secretstream_xchacha20poly1305_keygen(s->key);
	rc = -EINVAL;
	if (crypto_box_seal(hdr + OFF_SEALED, s->key, SS_KEYBYTES,
	                    to->box_pk) != 0 ||
	    crypto_secretstream_xchacha20poly1305_init_push(&s->st,
	    hdr + OFF_SSHDR, s->key) != 0)
		goto out;
	sodium_memzero(s->key, sizeof(s->key));
	if ((rc = write_all(out_fd, hdr, sizeof(hdr))) != 0)
		goto out;
	if ((mct = malloc(4 + man.len + SS_ABYTES)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = push(out_fd, s, mct, (unsigned char *)man.p, man.len, hdr,
	               sizeof(hdr), TAG_MESSAGE)) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((rc = file_send(out_fd, s, &files[i], &m->files[i], pt,
		                    ct)) != 0)
			goto out;
	if ((flags & SHAREPKG_T_EXTRA) &&
	    (rc = push(out_fd, s, ct, hdr, 1, NULL, 0, TAG_MESSAGE)) != 0)
		goto out;
	if ((rc = push(out_fd, s, ct, hdr, 0, NULL, 0,
	               (flags & SHAREPKG_T_NOFINAL) ? TAG_MESSAGE :
	               TAG_FINAL)) != 0)
		goto out;
	if (package_id != NULL)
		memcpy(package_id, m->package_id, SHAREPKG_IDHEX);
	if (manifest_digest != NULL)
		memcpy(manifest_digest, m->digest, SHAREPKG_DIGESTBYTES);
	rc = 0;
out:
	if (pt != NULL) {
		sodium_memzero(pt, SHAREPKG_CHUNK);
		free(pt);
	}
	free(ct);
	free(mct);
	if (s != NULL)
		sodium_free(s);
	buf_free(&man);
	sharepkg_manifest_free(m);
	return rc;
}

int sharepkg_write(int out_fd, const struct sharepkg_meta *meta,
                   const struct sharepkg_file *files, size_t n,
                   const struct sharepkg_pub *to,
                   const unsigned char sender_sk[crypto_sign_SECRETKEYBYTES],
                   char package_id[SHAREPKG_IDHEX],
                   unsigned char manifest_digest[SHAREPKG_DIGESTBYTES])
{
	struct sharepkg_signer sg;

	if (sender_sk == NULL)
		return -EINVAL;
	sk_signer(sender_sk, &sg);
	return write_pkg(out_fd, meta, files, n, to, &sg, package_id,
	                 manifest_digest, NULL);
}

int sharepkg_write_signed(int out_fd, const struct sharepkg_meta *meta,
                          const struct sharepkg_file *files, size_t n,
                          const struct sharepkg_pub *to,
                          const struct sharepkg_signer *signer,
                          char package_id[SHAREPKG_IDHEX],
                          unsigned char manifest_digest[SHAREPKG_DIGESTBYTES])
{
	return write_pkg(out_fd, meta, files, n, to, signer, package_id,
	                 manifest_digest, NULL);
}

int sharepkg_write_test(int out_fd, const struct sharepkg_meta *meta,
                        const struct sharepkg_file *files, size_t n,
                        const struct sharepkg_pub *to,
                        const unsigned char *sender_sk, char *package_id,
                        unsigned char *manifest_digest,
                        const struct sharepkg_test *t)
{
	struct sharepkg_signer sg;

	if (sender_sk == NULL)
		return -EINVAL;
	sk_signer(sender_sk, &sg);
	return write_pkg(out_fd, meta, files, n, to, &sg, package_id,
	                 manifest_digest, t);
}

/* ---- opening a package ------------------------------------------------ */

enum out_state { OUT_NONE, OUT_PART, OUT_FINAL };

/* One output file of sharepkg_open(). */
struct outfile {
	char tmp[TMP_LEN];           /* its .part name */
	enum out_state state;
};

struct opener {
	int in_fd;
	int dirfd;
	struct stream *s;
	unsigned char *ct;           /* 4 + SHAREPKG_CHUNK + SS_ABYTES */
	unsigned char *pt;           /* SHAREPKG_CHUNK */
	struct outfile *of;          /* one per manifest entry */
	char **made;                 /* directories made, in order */
	size_t nmade;
	size_t capmade;
};

/* Reads the next message's length: 0, or -EBADMSG when there is none or
 * it is not within SS_ABYTES..max. */
static int msg_len(struct opener *o, size_t max, size_t *len)
{
	unsigned char b[4];
	ssize_t n;

	if ((n = read_full(o->in_fd, b, 4)) != 4)
		return n < 0 ? (int)n : -EBADMSG;
	*len = get32(b);
	return *len >= SS_ABYTES && *len <= max ? 0 : -EBADMSG;
}

/* Reads len bytes of ciphertext into ct and decrypts them into pt, which
 * must be the tag want: 0, -EBADMSG, -errno. */
static int msg_open(struct opener *o, unsigned char *ct, size_t len,
                    unsigned char *pt, const unsigned char *ad, size_t adlen,
                    unsigned char want)
{
	unsigned char tag;
	ssize_t n;

	if ((n = read_full(o->in_fd, ct, len)) != (ssize_t)len)
		return n < 0 ? (int)n : -EBADMSG;
	if (crypto_secretstream_xchacha20poly1305_pull(&o->s->st, pt, NULL,
	    &tag, ct, len, ad, adlen) != 0 || tag != want)
		return -EBADMSG;
	return 0;
}

/*
 * Opens the directory that holds name (relative to the output
 * directory), one component at a time, never following a symlink; with make, creates the missing
 * ones (mode 0700) and records them in o. *base is name's last
 * component; the caller closes *pfd.
 */
static int walk(struct opener *o, const char *name, bool make, int *pfd,
                const char **base)
{
	char comp[COMP_MAX + 1];
	const char *p = name, *slash;
	char **v;
	int fd, nfd, rc;

	if ((fd = fcntl(o->dirfd, F_DUPFD_CLOEXEC, 0)) < 0)
		return -errno;
	while ((slash = strchr(p, '/')) != NULL) {
		memcpy(comp, p, (size_t)(slash - p));
		comp[slash - p] = '\0';
		if (make && o->nmade == o->capmade) {
			size_t cap = o->capmade != 0 ? 2 * o->capmade : 16;

			if ((v = realloc(o->made, cap * sizeof(*v))) == NULL) {
				rc = -ENOMEM;
				goto fail;
			}
			o->made = v;
			o->capmade = cap;
		}
		if (make && mkdirat(fd, comp, 0700) == 0) {
			if ((o->made[o->nmade] = strndup(name,
			    (size_t)(slash - name))) == NULL) {
				unlinkat(fd, comp, AT_REMOVEDIR);
				rc = -ENOMEM;
				goto fail;
			}
			o->nmade++;
		} else if (make && errno != EEXIST) {
			rc = -errno;
			goto fail;
		}
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		             O_CLOEXEC);
		if (nfd < 0) {
			rc = -errno;
			goto fail;
		}
		close(fd);
		fd = nfd;
		p = slash + 1;
	}
	*pfd = fd;
	*base = p;
	return 0;
fail:
	close(fd);
	return rc;
}

/* Receives the content of entry i into its .part file. */
static int file_recv(struct opener *o, size_t i, const struct sharepkg_entry *e)
{
	crypto_generichash_state h;
	unsigned char d[SHAREPKG_DIGESTBYTES], rnd[8];
	uint64_t left = e->size;
	const char *base;
	size_t want, len;
	int pfd = -1, fd = -1, rc;

	if ((rc = walk(o, e->name, true, &pfd, &base)) != 0)
		return rc;
	randombytes_buf(rnd, sizeof(rnd));
	memcpy(o->of[i].tmp, TMP_PREFIX, sizeof(TMP_PREFIX) - 1);
	hex(o->of[i].tmp + sizeof(TMP_PREFIX) - 1, rnd, sizeof(rnd));
	memcpy(o->of[i].tmp + sizeof(TMP_PREFIX) - 1 + 16, ".part", 6);
	fd = openat(pfd, o->of[i].tmp, O_WRONLY | O_CREAT | O_EXCL |
	            O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	o->of[i].state = OUT_PART;
	crypto_generichash_init(&h, NULL, 0, sizeof(d));
	while (left > 0) {
		want = left < SHAREPKG_CHUNK ? (size_t)left : SHAREPKG_CHUNK;
		if ((rc = msg_len(o, want + SS_ABYTES, &len)) != 0)
			goto out;
		if (len != want + SS_ABYTES) {
			rc = -EBADMSG;
			goto out;
		}
		if ((rc = msg_open(o, o->ct, len, o->pt, NULL, 0,
		                   TAG_MESSAGE)) != 0)
			goto out;
		crypto_generichash_update(&h, o->pt, want);
		if ((rc = write_all(fd, o->pt, want)) != 0)
			goto out;
		left -= want;
	}
	crypto_generichash_final(&h, d, sizeof(d));
	rc = sodium_memcmp(d, e->digest, sizeof(d)) == 0 ? 0 : -EBADMSG;
out:
	if (fd >= 0 && close(fd) != 0 && rc == 0)
		rc = -errno;
	close(pfd);
	return rc;
}

/* Renames every .part file to its final name, never replacing one. */
static int commit(struct opener *o, const struct sharepkg_manifest *m)
{
	const char *base;
	int pfd, rc;

	/* One syncfs() for all the contents, one for all the names. */
	if (syncfs(o->dirfd) != 0)
		return -errno;
	for (size_t i = 0; i < m->nfiles; i++) {
		if ((rc = walk(o, m->files[i].name, false, &pfd, &base)) != 0)
			return rc;
		rc = renameat2(pfd, o->of[i].tmp, pfd, base, RENAME_NOREPLACE);
		if (rc != 0 && errno == EINVAL) {
			/* A file system without RENAME_NOREPLACE. */
			rc = linkat(pfd, o->of[i].tmp, pfd, base, 0);
			if (rc == 0)
				unlinkat(pfd, o->of[i].tmp, 0);
		}
		rc = rc != 0 ? -errno : 0;
		close(pfd);
		if (rc != 0)
			return rc;
		o->of[i].state = OUT_FINAL;
	}
	return syncfs(o->dirfd) == 0 ? 0 : -errno;
}

/* Removes every file and directory this open made. */
static void undo(struct opener *o, const struct sharepkg_manifest *m)
{
	const char *base;
	int pfd;

	for (size_t i = 0; i < m->nfiles && o->of != NULL; i++) {
		if (o->of[i].state == OUT_NONE ||
		    walk(o, m->files[i].name, false, &pfd, &base) != 0)
			continue;
		unlinkat(pfd, o->of[i].state == OUT_PART ? o->of[i].tmp : base,
		         0);
		close(pfd);
	}
	for (size_t i = o->nmade; i-- > 0;) {
		if (walk(o, o->made[i], false, &pfd, &base) != 0)
			continue;
		unlinkat(pfd, base, AT_REMOVEDIR);
		close(pfd);
	}
}

/* Reads the header and the manifest, and checks them. */
static int open_manifest(struct opener *o, const struct sharepkg_sec *me,
                         const unsigned char *expect_sender_pk,
                         struct sharepkg_manifest *m)
{
	unsigned char hdr[SHAREPKG_HEADER_LEN], fpr[SHAREPKG_FPRBYTES];
	unsigned char sig[crypto_sign_BYTES];
	unsigned char *ct = NULL, *pt = NULL;
	size_t len = 0, ptcap = 0, body;
	ssize_t n;
	int rc;

	if ((n = read_full(o->in_fd, hdr, sizeof(hdr))) != (ssize_t)sizeof(hdr))
		return n < 0 ? (int)n : -EBADMSG;
	if (memcmp(hdr, PKG_MAGIC, PKG_MAGIC_LEN) != 0) {
		/* "DSFSHARE2\n" and later are newer formats. */
		return memcmp(hdr, PKG_MAGIC, 8) == 0 && hdr[8] > '1' &&
		       hdr[8] <= '9' && hdr[9] == '\n' ? -EPROTONOSUPPORT :
		       -EBADMSG;
	}
	sharepkg_fingerprint(&me->pub, fpr);
	if (sodium_memcmp(hdr + OFF_FPR, fpr, sizeof(fpr)) != 0)
		return -ENOKEY;
	rc = -EBADMSG;
	if (crypto_box_seal_open(o->s->key, hdr + OFF_SEALED, SEALED_LEN,
	                         me->pub.box_pk, me->box_sk) != 0 ||
	    crypto_secretstream_xchacha20poly1305_init_pull(&o->s->st,
	    hdr + OFF_SSHDR, o->s->key) != 0)
		goto out;
	sodium_memzero(o->s->key, sizeof(o->s->key));
	if ((rc = msg_len(o, SHAREPKG_MANIFEST_MAX + SS_ABYTES, &len)) != 0)
		goto out;
	rc = -ENOMEM;
	ptcap = len - SS_ABYTES + 1;
	if ((ct = malloc(len)) == NULL || (pt = malloc(ptcap)) == NULL)
		goto out;
	if ((rc = msg_open(o, ct, len, pt, hdr, sizeof(hdr), TAG_MESSAGE)) != 0)
		goto out;
	len -= SS_ABYTES;

	/* Authentic from here: the text may still not be a manifest. */
	rc = split_sig((char *)pt, len, &body, sig);
	if (rc == 0)
		rc = manifest_parse((char *)pt, body, m);
	if (rc != 0) {
		rc = rc == -ENOMEM ? rc : -EBADMSG;
		goto out;
	}
	if (crypto_sign_verify_detached(sig, pt, body, m->sender_pk) != 0) {
		rc = -EBADMSG;
		goto out;
	}
	if (expect_sender_pk != NULL &&
	    sodium_memcmp(expect_sender_pk, m->sender_pk,
	                  sizeof(m->sender_pk)) != 0) {
		rc = -EKEYREJECTED;
		goto out;
	}
	if (strcmp(m->recipient, me->fpr) != 0) {
		rc = -ENOKEY;
		goto out;
	}
	if ((rc = entries_check(m->files, m->nfiles)) != 0) {
		rc = rc == -ENOMEM ? rc : -EBADMSG;
		goto out;
	}
	crypto_generichash(m->digest, sizeof(m->digest), pt, len, NULL, 0);
	rc = 0;
out:
	if (pt != NULL) {
		sodium_memzero(pt, ptcap);
		free(pt);
	}
	free(ct);
	return rc;
}

int sharepkg_open(int in_fd, const struct sharepkg_sec *me,
                  const unsigned char *expect_sender_pk, int out_dirfd,
                  struct sharepkg_manifest **out)
{
	struct opener o = { .in_fd = in_fd, .dirfd = out_dirfd };
	struct sharepkg_manifest *m = NULL;
	unsigned char extra;
	size_t len;
	ssize_t n;
	int rc = -EINVAL;

	if (me == NULL || out == NULL)
		return -EINVAL;
	*out = NULL;
	rc = -ENOMEM;
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (o.s = sodium_malloc(sizeof(*o.s))) == NULL ||
	    (o.ct = malloc(4 + SHAREPKG_CHUNK + SS_ABYTES)) == NULL ||
	    (o.pt = malloc(SHAREPKG_CHUNK)) == NULL)
		goto out;
	if ((rc = open_manifest(&o, me, expect_sender_pk, m)) != 0)
		goto out;
	if ((o.of = calloc(m->nfiles != 0 ? m->nfiles : 1,
	                   sizeof(*o.of))) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < m->nfiles; i++)
		if ((rc = file_recv(&o, i, &m->files[i])) != 0)
			goto out;
	/* The end: an empty FINAL message, then nothing. */
	if ((rc = msg_len(&o, SS_ABYTES, &len)) != 0 ||
	    (rc = msg_open(&o, o.ct, len, o.pt, NULL, 0, TAG_FINAL)) != 0)
		goto out;
	if ((n = read_full(in_fd, &extra, 1)) != 0) {
		rc = n < 0 ? (int)n : -EBADMSG;
		goto out;
	}
	if ((rc = commit(&o, m)) != 0)
		goto out;
	*out = m;
	m = NULL;
	rc = 0;
out:
	if (m != NULL) {
		undo(&o, m);
		sharepkg_manifest_free(m);
	}
	for (size_t i = 0; i < o.nmade; i++)
		free(o.made[i]);
	free(o.made);
	free(o.of);
	if (o.pt != NULL) {
		sodium_memzero(o.pt, SHAREPKG_CHUNK);
		free(o.pt);
	}
	free(o.ct);
	if (o.s != NULL)
		sodium_free(o.s);
	return rc;
}

/* ---- receipts --------------------------------------------------------- */

int sharepkg_receipt_make(int out_fd, const struct sharepkg_manifest *m,
                          const struct sharepkg_sec *me, int64_t received)
{
	struct sharepkg_receipt r;
	struct sharepkg_signer sg;
	struct buf b = { 0 };
	unsigned char id[16];
	int rc;

	if (m == NULL || me == NULL || m->request_id == NULL ||
	    (m->files == NULL && m->nfiles != 0) ||
	    unhex(id, sizeof(id), m->package_id, strlen(m->package_id)) != 0)
		return -EINVAL;
	for (size_t i = 0; i < m->nfiles; i++)
		if (!name_ok(m->files[i].name))
			return -EINVAL;
	memset(&r, 0, sizeof(r));
	memcpy(r.package_id, m->package_id, sizeof(r.package_id));
	r.request_id = m->request_id;
	memcpy(r.manifest_digest, m->digest, sizeof(r.manifest_digest));
	memcpy(r.recipient, me->fpr, sizeof(r.recipient));
	r.received = received != 0 ? received : (int64_t)time(NULL);
	r.nfiles = m->nfiles;
	r.files = m->files;
	receipt_text(&b, &r);
	if (b.err == 0 && b.len > SHAREPKG_MANIFEST_MAX - SIG_LINE)
		b.err = -E2BIG;
	sk_signer(me->sign_sk, &sg);
	buf_sign(&b, &sg, false);
	if ((rc = b.err) == 0)
		rc = write_all(out_fd, b.p, b.len);
	buf_free(&b);
	return rc;
}

/* Parses a receipt body (no sig line) into r: 0, -EINVAL, -ENOMEM. */
static int receipt_parse(const char *p, size_t len, struct sharepkg_receipt *r)
{
	struct rd rd = { p, p + len };
	struct buf back = { 0 };
	unsigned char id[16], fpr[SHAREPKG_FPRBYTES];
	int rc;

	if (len < sizeof(RCPT_MAGIC) ||
	    memcmp(p, RCPT_MAGIC "\n", sizeof(RCPT_MAGIC)) != 0)
		return -EINVAL;
	rd.p += sizeof(RCPT_MAGIC);
	if ((rc = get_hex(&rd, "package", id, sizeof(id))) != 0 ||
	    (rc = get_text(&rd, "request", SHAREPKG_TEXT_MAX, true,
	                   &r->request_id)) != 0 ||
	    (rc = get_hex(&rd, "manifest", r->manifest_digest,
	                  sizeof(r->manifest_digest))) != 0 ||
	    (rc = get_hex(&rd, "recipient", fpr, sizeof(fpr))) != 0 ||
	    (rc = get_time(&rd, "received", &r->received)) != 0 ||
	    (rc = entries_parse(&rd, &r->files, &r->nfiles)) != 0)
		return rc;
	if (rd.p != rd.end)
		return -EINVAL;
	hex(r->package_id, id, sizeof(id));
	hex(r->recipient, fpr, sizeof(fpr));
	if ((rc = entries_check(r->files, r->nfiles)) != 0)
		return rc;
	receipt_text(&back, r);
	rc = same_text(&back, p, len);
	buf_free(&back);
	return rc;
}

int sharepkg_receipt_check(const char *buf, size_t len,
                           const struct sharepkg_pub *recipient,
                           const char *expect_package_id,
                           const unsigned char *expect_manifest_digest,
                           struct sharepkg_receipt **out)
{
	struct sharepkg_receipt *r = NULL;
	unsigned char sig[crypto_sign_BYTES];
	char fpr[SHAREPKG_FPRHEX];
	size_t body;
	int rc = -EINVAL;

	if (out != NULL)
		*out = NULL;
	if (buf == NULL || recipient == NULL || expect_package_id == NULL ||
	    expect_manifest_digest == NULL || len > SHAREPKG_MANIFEST_MAX)
		return -EINVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	if ((rc = split_sig(buf, len, &body, sig)) != 0 ||
	    (rc = receipt_parse(buf, body, r)) != 0)
		goto out;
	sharepkg_fingerprint_hex(recipient, fpr);
	if (crypto_sign_verify_detached(sig, (const unsigned char *)buf, body,
	                                recipient->sign_pk) != 0 ||
	    strcmp(r->recipient, fpr) != 0) {
		rc = -EBADMSG;
		goto out;
	}
	if (strcmp(r->package_id, expect_package_id) != 0 ||
	    sodium_memcmp(r->manifest_digest, expect_manifest_digest,
	                  SHAREPKG_DIGESTBYTES) != 0) {
		rc = -ESRCH;
		goto out;
	}
	if (out != NULL) {
		*out = r;
		r = NULL;
	}
	rc = 0;
out:
	sharepkg_receipt_free(r);
	return rc;
}
