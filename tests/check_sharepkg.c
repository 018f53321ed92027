/*
 * Unit tests of the approved-sharing package (include/sharepkg.h): keys,
 * package round trips (empty, one-chunk, multi-chunk, nested and oddly
 * named files, a 64 MiB sparse file, a pipe), every way a package can be
 * altered (each byte flipped, each truncation, appended bytes, messages
 * dropped, swapped or repeated, wrong keys, crafted manifests through the
 * SHAREPKG_TESTING hook), which must all fail and leave the output
 * directory as it was, and receipts.
 *
 * Each test runs in a fresh mkdtemp directory under $TMPDIR (or /tmp),
 * removed by the fixture's teardown.
 */
#define SHAREPKG_TESTING
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sodium.h>

#include "sharepkg.h"
#include "check_main.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define CHUNK    SHAREPKG_CHUNK
#define MIB      (1024u * 1024u)
#define HDR      SHAREPKG_HEADER_LEN
#define OFF_FPR  10u
#define T0       INT64_C(1714564800)        /* 2024-05-01T12:00:00Z */

/* ---- fixtures --------------------------------------------------------- */

static char base[256];
static int bfd = -1;              /* base, opened */

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || *tmp == '\0' || strlen(tmp) >= 128)
		tmp = "/tmp";
	snprintf(base, sizeof(base), "%s/check_sharepkg.XXXXXX", tmp);
	if (mkdtemp(base) == NULL)
		abort();
	bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0)
		abort();
}

static void teardown(void)
{
	close(bfd);
	nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- helpers ---------------------------------------------------------- */

/* A recipient: key files in the base directory, loaded. */
struct party {
	struct sharepkg_pub pub;
	struct sharepkg_sec *sec;
	char fpr[SHAREPKG_FPRHEX];
};

/* A sender: an Ed25519 pair, as the vault's audit key would be. */
struct sender {
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
};

/* One input file: its name, content and an open descriptor. */
struct input {
	const char *name;
	unsigned char *data;
	size_t len;
	int fd;
};

/* A package in memory. */
struct pkg {
	unsigned char *p;
	size_t len;
	char id[SHAREPKG_IDHEX];
	unsigned char digest[SHAREPKG_DIGESTBYTES];
};

static const struct sharepkg_meta meta = {
	.request_id = "REQ-2024-017",
	.client = "Dupont & Fils",
	.reason = "bank due diligence",
	.created = T0,
};

static void party_new(struct party *p, const char *name)
{
	char pub[64], sec[64];
	int fd;

	snprintf(pub, sizeof(pub), "%s.pub", name);
	snprintf(sec, sizeof(sec), "%s.sec", name);
	ck_assert_int_eq(sharepkg_keygen_at(bfd, pub, sec), 0);
	fd = openat(bfd, pub, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(sharepkg_pub_load(fd, &p->pub), 0);
	close(fd);
	ck_assert_int_eq(sharepkg_sec_load_at(bfd, sec, &p->sec), 0);
	sharepkg_fingerprint_hex(&p->pub, p->fpr);
}

static void sender_new(struct sender *s)
{
	crypto_sign_keypair(s->pk, s->sk);
}

static int subdir(const char *name)
{
	int fd;

	ck_assert_int_eq(mkdirat(bfd, name, 0700), 0);
	fd = openat(bfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static void write_all(int fd, const void *p, size_t len)
{
	const unsigned char *b = p;

	while (len > 0) {
		ssize_t n = write(fd, b, len);

		ck_assert_msg(n > 0, "write: %s", strerror(errno));
		b += n;
		len -= (size_t)n;
	}
}

/* Input files under the base directory ("in" made on first use). */
static void inputs_make(struct input *in, size_t n)
{
	static int seq;
	char name[32];
	int dfd;

	mkdirat(bfd, "in", 0700);
	dfd = openat(bfd, "in", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dfd, 0);
	for (size_t i = 0; i < n; i++) {
		in[i].data = malloc(in[i].len + 1);
		ck_assert_ptr_nonnull(in[i].data);
		randombytes_buf(in[i].data, in[i].len);
		snprintf(name, sizeof(name), "f%d", seq++);
		in[i].fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL |
		                  O_CLOEXEC, 0600);
		ck_assert_int_ge(in[i].fd, 0);
		write_all(in[i].fd, in[i].data, in[i].len);
	}
	close(dfd);
}

static void inputs_free(struct input *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(in[i].data);
		close(in[i].fd);
	}
}

static void files_of(const struct input *in, size_t n,
                     struct sharepkg_file *f)
{
	for (size_t i = 0; i < n; i++) {
		f[i].name = in[i].name;
		f[i].fd = in[i].fd;
	}
}

static int memfd_of(const unsigned char *p, size_t len)
{
	int fd = memfd_create("pkg", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	write_all(fd, p, len);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* The whole content of fd from offset 0. */
static unsigned char *slurp(int fd, size_t *len)
{
	struct stat st;
	unsigned char *p;

	ck_assert_int_eq(fstat(fd, &st), 0);
	p = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(pread(fd, p, (size_t)st.st_size, 0), st.st_size);
	*len = (size_t)st.st_size;
	return p;
}

/* Writes a package of the inputs (through the test hook when t is not
 * NULL) into k. */
static void pkg_make(struct pkg *k, const struct input *in, size_t n,
                     const struct party *to, const struct sender *s,
                     const struct sharepkg_test *t)
{
	struct sharepkg_file f[16] = { 0 };
	int fd = memfd_create("pkg", MFD_CLOEXEC), rc;

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_le(n, NELEM(f));
	files_of(in, n, f);
	rc = t != NULL ?
	     sharepkg_write_test(fd, &meta, f, n, &to->pub, s->sk, k->id,
	                         k->digest, t) :
	     sharepkg_write(fd, &meta, f, n, &to->pub, s->sk, k->id, k->digest);
	ck_assert_int_eq(rc, 0);
	k->p = slurp(fd, &k->len);
	close(fd);
}

/* Opens p[0..len) as a package into outfd. */
static int open_mem(const unsigned char *p, size_t len, const struct party *me,
                    const unsigned char *expect, int outfd,
                    struct sharepkg_manifest **m)
{
	int fd = memfd_of(p, len), rc;

	rc = sharepkg_open(fd, me->sec, expect, outfd, m);
	close(fd);
	return rc;
}

/* Entries of directory fd, . and .. not counted. */
static int dir_count(int fd)
{
	struct dirent *e;
	DIR *d;
	int n = 0;

	d = fdopendir(dup(fd));
	ck_assert_ptr_nonnull(d);
	rewinddir(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Opening must fail with want and leave outfd empty. */
static void open_fails(const unsigned char *p, size_t len,
                       const struct party *me, const unsigned char *expect,
                       int outfd, int want, const char *what)
{
	struct sharepkg_manifest *m = (void *)1;
	int rc = open_mem(p, len, me, expect, outfd, &m);

	ck_assert_msg(rc == want, "%s: sharepkg_open %d (%s), want %d", what,
	              rc, strerror(-rc), want);
	ck_assert_msg(m == NULL, "%s: manifest returned on failure", what);
	ck_assert_msg(dir_count(outfd) == 0, "%s: %d entries left", what,
	              dir_count(outfd));
}

/* The output file name under outfd must hold exactly in's content, mode
 * 0600. */
static void out_check(int outfd, const struct input *in)
{
	struct stat st;
	unsigned char *got;
	size_t len;
	int fd;

	fd = openat(outfd, in->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open %s: %s", in->name, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	got = slurp(fd, &len);
	ck_assert_uint_eq(len, in->len);
	ck_assert_msg(memcmp(got, in->data, len) == 0, "%s differs",
	              in->name);
	free(got);
	close(fd);
}

static void digest_of(const unsigned char *p, size_t len, unsigned char *d)
{
	crypto_generichash(d, SHAREPKG_DIGESTBYTES, p, len, NULL, 0);
}

/* ---- crafted manifests ------------------------------------------------ */

/* A manifest body in the writer's canonical form, up to the files list,
 * for n files. */
static void body_begin(char *b, size_t cap, const char *recipient,
                       const struct sender *s, size_t n)
{
	char pk[2 * crypto_sign_PUBLICKEYBYTES + 1];

	sodium_bin2hex(pk, sizeof(pk), s->pk, sizeof(s->pk));
	snprintf(b, cap, "format=dossierfs-share-manifest-v1\n"
	         "package=00112233445566778899aabbccddeeff\n"
	         "request=REQ-1\nclient=C\nreason=\nrecipient=%s\n"
	         "created=2024-05-01T12:00:00Z\nsender=%s\nfiles=%zu\n",
	         recipient, pk, n);
}

/* Appends one entry: name as written (already encoded), size as written,
 * the digest of data[0..len). */
static void body_file(char *b, size_t cap, const char *name,
                      const char *size, const unsigned char *data,
                      size_t len)
{
	unsigned char d[SHAREPKG_DIGESTBYTES];
	char dh[2 * SHAREPKG_DIGESTBYTES + 1];
	size_t at = strlen(b);

	digest_of(data, len, d);
	sodium_bin2hex(dh, sizeof(dh), d, sizeof(d));
	snprintf(b + at, cap - at, "name=%s\nsize=%s\nblake2b=%s\n", name,
	         size, dh);
}

/* A package of one 10-byte file whose manifest entry is as given. */
static void pkg_crafted(struct pkg *k, const struct party *to,
                        const struct sender *s, const char *recipient,
                        const char *name, const char *size, bool bad_digest,
                        unsigned flags)
{
	struct input in = { .name = NULL, .len = 10 };
	struct sharepkg_test t = { .flags = flags };
	char body[2048];
	unsigned char other[10];

	inputs_make(&in, 1);
	memcpy(other, in.data, sizeof(other));
	other[3] ^= 1;
	body_begin(body, sizeof(body), recipient, s, 1);
	body_file(body, sizeof(body), name, size,
	          bad_digest ? other : in.data, 10);
	t.body = body;
	pkg_make(k, &in, 1, to, s, &t);
	inputs_free(&in, 1);
}

/* ---- keys ------------------------------------------------------------- */

START_TEST(test_keys_roundtrip)
{
	char line[SHAREPKG_PUBLINE_LEN + 1], fh[SHAREPKG_FPRHEX];
	unsigned char fpr[SHAREPKG_FPRBYTES], want[SHAREPKG_FPRBYTES];
	unsigned char *before, *after;
	struct sharepkg_pub pub;
	struct party r;
	struct stat st;
	size_t blen, alen;
	int fd;

	party_new(&r, "r");
	ck_assert_int_eq(fstatat(bfd, "r.sec", &st, 0), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(fstatat(bfd, "r.pub", &st, 0), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);

	/* The public file is the canonical line; the secret key's public
	 * half is the same key. */
	fd = openat(bfd, "r.pub", O_RDONLY | O_CLOEXEC);
	before = slurp(fd, &blen);
	close(fd);
	sharepkg_pub_format(&r.pub, line);
	ck_assert_uint_eq(blen, SHAREPKG_PUBLINE_LEN);
	ck_assert_mem_eq(before, line, blen);
	sharepkg_sec_pub(r.sec, &pub);
	ck_assert_mem_eq(&pub, &r.pub, sizeof(pub));
	ck_assert_int_eq(sharepkg_pub_parse(line, SHAREPKG_PUBLINE_LEN - 1,
	                                    &pub), 0);
	ck_assert_mem_eq(&pub, &r.pub, sizeof(pub));

	/* Fingerprint: BLAKE2b-128 of the line. */
	crypto_generichash(want, sizeof(want), (unsigned char *)line,
	                   SHAREPKG_PUBLINE_LEN, NULL, 0);
	sharepkg_fingerprint(&r.pub, fpr);
	ck_assert_mem_eq(fpr, want, sizeof(want));
	sharepkg_fingerprint_hex(&r.pub, fh);
	ck_assert_uint_eq(strlen(fh), 32);
	sodium_bin2hex(line, sizeof(line), want, sizeof(want));
	ck_assert_str_eq(fh, line);

	/* Never overwrites, and leaves no half pair. */
	ck_assert_int_eq(sharepkg_keygen_at(bfd, "r.pub", "r.sec"), -EEXIST);
	ck_assert_int_eq(sharepkg_keygen_at(bfd, "new.pub", "r.sec"), -EEXIST);
	ck_assert_int_eq(sharepkg_keygen_at(bfd, "r.pub", "new.sec"), -EEXIST);
	ck_assert_int_eq(faccessat(bfd, "new.pub", F_OK, 0), -1);
	ck_assert_int_eq(faccessat(bfd, "new.sec", F_OK, 0), -1);
	fd = openat(bfd, "r.pub", O_RDONLY | O_CLOEXEC);
	after = slurp(fd, &alen);
	close(fd);
	ck_assert_uint_eq(alen, blen);
	ck_assert_mem_eq(after, before, blen);
	free(before);
	free(after);

	/* Two key pairs differ. */
	{
		struct party o;

		party_new(&o, "o");
		ck_assert_mem_ne(o.pub.box_pk, r.pub.box_pk, 32);
		ck_assert_mem_ne(o.pub.sign_pk, r.pub.sign_pk, 32);
		ck_assert_str_ne(o.fpr, r.fpr);
		sharepkg_sec_free(o.sec);
	}
	sharepkg_sec_free(r.sec);
}
END_TEST

START_TEST(test_pub_malformed)
{
	char good[SHAREPKG_PUBLINE_LEN + 1], b[400];
	const char *box, *sign;
	struct sharepkg_pub pub, zero;
	struct party r;
	int fd;

	party_new(&r, "r");
	sharepkg_pub_format(&r.pub, good);
	box = good + 23;
	sign = good + 23 + 65;
	memset(&zero, 0, sizeof(zero));

#define BAD(...) do {                                                    \
		snprintf(b, sizeof(b), __VA_ARGS__);                     \
		pub = zero;                                              \
		ck_assert_msg(sharepkg_pub_parse(b, strlen(b), &pub) ==  \
		              -EINVAL, "accepted: %s", b);               \
		ck_assert_mem_eq(&pub, &zero, sizeof(pub));              \
	} while (0)

	BAD("%s", "");
	BAD("dossierfs-share-pub-v1");
	BAD("dossierfs-share-pub-v2 %.64s %.64s\n", box, sign);
	BAD("dossierfs-share-pub-v1 %.64s %.64s\n\n", box, sign);
	BAD("dossierfs-share-pub-v1 %.64s %.64s\r\n", box, sign);
	BAD("dossierfs-share-pub-v1 %.64s %.64s x\n", box, sign);
	BAD("dossierfs-share-pub-v1  %.64s %.64s\n", box, sign);
	BAD("dossierfs-share-pub-v1 %.64s\t%.64s\n", box, sign);
	BAD("dossierfs-share-pub-v1 %.63s %.64s\n", box, sign);
	BAD("dossierfs-share-pub-v1 %.64s %.63s\n", box, sign);
	BAD("dossierfs-share-pub-v1 %.64s %.64s0\n", box, sign);
	BAD(" dossierfs-share-pub-v1 %.64s %.64s\n", box, sign);
	BAD("dossierfs-share-pub-v1 %.64s%.64s\n", box, sign);
	BAD("dossierfs-share-pub-v1 %.64s %.64s", sign, box + 1);
	BAD("dossierfs-share-pub-v1 %.63sg %.64s\n", box, sign);
	BAD("dossierfs-share-pub-v1 %.64s %.64s\n", box,
	    "0000000000000000000000000000000000000000000000000000000000000000");
	BAD("dossierfs-share-pub-v1 %.64s %.64s\n", box,
	    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	BAD("dossierfs-share-pub-v1 %.64s %.64s\n",
	    "0000000000000000000000000000000000000000000000000000000000000000",
	    sign);
	/* Uppercase hex: the same key, but not the canonical line. */
	snprintf(b, sizeof(b), "%s", good);
	for (char *c = b + 23; *c != '\n'; c++)
		if (*c >= 'a' && *c <= 'f') {
			*c = (char)(*c - 'a' + 'A');
			break;
		}
	ck_assert_int_eq(sharepkg_pub_parse(b, strlen(b), &pub), -EINVAL);
	/* A NUL inside. */
	memcpy(b, good, sizeof(good));
	b[40] = '\0';
	ck_assert_int_eq(sharepkg_pub_parse(b, SHAREPKG_PUBLINE_LEN, &pub),
	                 -EINVAL);
#undef BAD

	/* The good line, with and without its newline, and from a file
	 * with something after it. */
	ck_assert_int_eq(sharepkg_pub_parse(good, strlen(good), &pub), 0);
	ck_assert_int_eq(sharepkg_pub_parse(good, strlen(good) - 1, &pub), 0);
	snprintf(b, sizeof(b), "%sx", good);
	fd = memfd_of((unsigned char *)b, strlen(b));
	ck_assert_int_eq(sharepkg_pub_load(fd, &pub), -EINVAL);
	close(fd);
	sharepkg_sec_free(r.sec);
}
END_TEST

START_TEST(test_sec_malformed)
{
	struct sharepkg_sec *sk = (void *)1;
	unsigned char *good, *b;
	size_t len;
	struct party r;
	int fd;

	party_new(&r, "r");
	fd = openat(bfd, "r.sec", O_RDONLY | O_CLOEXEC);
	good = slurp(fd, &len);
	close(fd);
	ck_assert_uint_eq(len, 186);
	b = malloc(len + 2);

	/* Every single change is refused: a changed key no longer matches
	 * the fingerprint at the end of the line. */
	for (size_t i = 0; i < len; i++) {
		memcpy(b, good, len);
		b[i] ^= (unsigned char)(i % 2 == 0 ? 0x01 : 0x20);
		fd = memfd_of(b, len);
		sk = (void *)1;
		ck_assert_msg(sharepkg_sec_load(fd, &sk) == -EINVAL,
		              "byte %zu changed, accepted", i);
		ck_assert_ptr_null(sk);
		close(fd);
	}
	for (size_t l = 0; l < len; l++) {
		fd = memfd_of(good, l);
		ck_assert_int_eq(sharepkg_sec_load(fd, &sk), -EINVAL);
		close(fd);
	}
	memcpy(b, good, len);
	b[len] = '\n';
	fd = memfd_of(b, len + 1);
	ck_assert_int_eq(sharepkg_sec_load(fd, &sk), -EINVAL);
	close(fd);
	/* A public key file is not a secret key file. */
	fd = openat(bfd, "r.pub", O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(sharepkg_sec_load(fd, &sk), -EINVAL);
	close(fd);

	/* By name: no symlink, no directory. */
	ck_assert_int_eq(symlinkat("r.sec", bfd, "link.sec"), 0);
	ck_assert_int_eq(sharepkg_sec_load_at(bfd, "link.sec", &sk), -ELOOP);
	ck_assert_int_eq(mkdirat(bfd, "d.sec", 0700), 0);
	ck_assert_int_eq(sharepkg_sec_load_at(bfd, "d.sec", &sk), -EINVAL);
	ck_assert_int_eq(sharepkg_sec_load_at(bfd, "none.sec", &sk), -ENOENT);

	/* The good file loads from a descriptor too. */
	fd = memfd_of(good, len);
	ck_assert_int_eq(sharepkg_sec_load(fd, &sk), 0);
	close(fd);
	sharepkg_sec_free(sk);
	sharepkg_sec_free(NULL);
	free(b);
	free(good);
	sharepkg_sec_free(r.sec);
}
END_TEST

/* ---- readers and signers ---------------------------------------------- */

/* A file held in memory, as the daemon's decrypting reader serves one. */
struct memsrc {
	const unsigned char *p;
	size_t len;
	unsigned calls;
};

static ssize_t mem_pread(void *arg, void *buf, size_t len, uint64_t off)
{
	struct memsrc *m = arg;

	m->calls++;
	if (off >= m->len)
		return 0;
	if (len > m->len - off)
		len = m->len - (size_t)off;
	/* Short reads in the middle, as a real reader may give. */
	if (len > 1000)
		len = 1000;
	memcpy(buf, m->p + off, len);
	return (ssize_t)len;
}

struct keysign {
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	unsigned calls;
	int fail;
};

static int key_sign(void *arg, const void *msg, size_t len,
                    unsigned char sig[crypto_sign_BYTES])
{
	struct keysign *k = arg;

	k->calls++;
	if (k->fail)
		return -EIO;
	return crypto_sign_detached(sig, NULL, msg, len, k->sk);
}

START_TEST(test_reader_and_signer)
{
	struct input in[] = {
		{ .name = "a.bin", .len = 3 * CHUNK + 7 },
		{ .name = "b/empty", .len = 0 },
	};
	struct memsrc src[2];
	struct sharepkg_file f[2] = { 0 };
	struct sharepkg_manifest *m = NULL;
	struct sharepkg_signer sg = { .sign = key_sign };
	struct keysign ks = { .calls = 0 };
	struct party r;
	struct pkg k;
	int fd, out;

	party_new(&r, "r");
	crypto_sign_keypair(sg.pk, ks.sk);
	sg.arg = &ks;
	inputs_make(in, NELEM(in));
	for (size_t i = 0; i < NELEM(in); i++) {
		src[i] = (struct memsrc){ in[i].data, in[i].len, 0 };
		f[i].name = in[i].name;
		f[i].fd = -1;
		f[i].pread = mem_pread;
		f[i].arg = &src[i];
		f[i].size = in[i].len;
	}
	fd = memfd_create("pkg", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(sharepkg_write_signed(fd, &meta, f, 2, &r.pub, &sg,
	                                       k.id, k.digest), 0);
	ck_assert_uint_eq(ks.calls, 1);
	ck_assert_uint_gt(src[0].calls, 2 * 3 * CHUNK / 1000);
	k.p = slurp(fd, &k.len);
	close(fd);
	out = subdir("out");
	ck_assert_int_eq(open_mem(k.p, k.len, &r, sg.pk, out, &m), 0);
	ck_assert_mem_eq(m->sender_pk, sg.pk, sizeof(sg.pk));
	out_check(out, &in[0]);
	out_check(out, &in[1]);
	sharepkg_manifest_free(m);
	free(k.p);

	/* A size that is not what the reader holds: the file changed. */
	f[0].size = in[0].len + 1;
	fd = memfd_create("pkg", MFD_CLOEXEC);
	ck_assert_int_eq(sharepkg_write_signed(fd, &meta, f, 2, &r.pub, &sg,
	                                       NULL, NULL), -EAGAIN);
	close(fd);
	f[0].size = in[0].len;
	/* A signer that fails fails the package. */
	ks.fail = 1;
	fd = memfd_create("pkg", MFD_CLOEXEC);
	ck_assert_int_eq(sharepkg_write_signed(fd, &meta, f, 2, &r.pub, &sg,
	                                       NULL, NULL), -EIO);
	close(fd);
	ck_assert_int_eq(sharepkg_write_signed(fd, &meta, f, 2, &r.pub, NULL,
	                                       NULL, NULL), -EINVAL);
	close(out);
	inputs_free(in, NELEM(in));
	sharepkg_sec_free(r.sec);
}
END_TEST

/* ---- round trips ------------------------------------------------------ */

START_TEST(test_roundtrip)
{
	struct input in[] = {
		{ .name = "empty.txt", .len = 0 },
		{ .name = "one-chunk.bin", .len = CHUNK },
		{ .name = "multi.bin", .len = 3 * CHUNK + 123 },
		{ .name = "docs/2024/contract.pdf", .len = 5000 },
		{ .name = "docs/notes 100% = sure \xc3\xa9.txt", .len = 1 },
		{ .name = "docs/.hidden", .len = CHUNK - 1 },
	};
	struct sharepkg_manifest *m = NULL;
	struct party r;
	struct sender s;
	struct pkg k;
	struct stat st;
	int out, out2;

	party_new(&r, "r");
	sender_new(&s);
	inputs_make(in, NELEM(in));
	pkg_make(&k, in, NELEM(in), &r, &s, NULL);
	ck_assert_uint_eq(strlen(k.id), 32);
	ck_assert_mem_eq(k.p, "DSFSHARE1\n", 10);
	/* Nothing of the contents or names shows in the package. */
	ck_assert_ptr_null(memmem(k.p, k.len, in[1].data, 16));
	ck_assert_ptr_null(memmem(k.p, k.len, "contract", 8));
	ck_assert_ptr_null(memmem(k.p, k.len, "Dupont", 6));

	out = subdir("out");
	ck_assert_int_eq(open_mem(k.p, k.len, &r, s.pk, out, &m), 0);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->package_id, k.id);
	ck_assert_mem_eq(m->digest, k.digest, SHAREPKG_DIGESTBYTES);
	ck_assert_str_eq(m->request_id, meta.request_id);
	ck_assert_str_eq(m->client, meta.client);
	ck_assert_str_eq(m->reason, meta.reason);
	ck_assert_str_eq(m->recipient, r.fpr);
	ck_assert_int_eq(m->created, T0);
	ck_assert_mem_eq(m->sender_pk, s.pk, sizeof(s.pk));
	ck_assert_uint_eq(m->nfiles, NELEM(in));
	for (size_t i = 0; i < NELEM(in); i++) {
		unsigned char d[SHAREPKG_DIGESTBYTES];

		ck_assert_str_eq(m->files[i].name, in[i].name);
		ck_assert_uint_eq(m->files[i].size, in[i].len);
		digest_of(in[i].data, in[i].len, d);
		ck_assert_mem_eq(m->files[i].digest, d, sizeof(d));
		out_check(out, &in[i]);
	}
	/* Exactly these entries: no .part left. */
	ck_assert_int_eq(dir_count(out), 4);
	ck_assert_int_eq(fstatat(out, "docs", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	{
		int docs = openat(out, "docs", O_RDONLY | O_DIRECTORY);

		ck_assert_int_eq(dir_count(docs), 3);
		close(docs);
	}
	sharepkg_manifest_free(m);

	/* With no expected sender, the sender is reported. */
	out2 = subdir("out2");
	ck_assert_int_eq(open_mem(k.p, k.len, &r, NULL, out2, &m), 0);
	ck_assert_mem_eq(m->sender_pk, s.pk, sizeof(s.pk));
	out_check(out2, &in[2]);
	sharepkg_manifest_free(m);
	sharepkg_manifest_free(NULL);

	/* Two packages of the same files differ (id, key, nonces). */
	{
		struct pkg k2;

		pkg_make(&k2, in, NELEM(in), &r, &s, NULL);
		ck_assert_str_ne(k2.id, k.id);
		ck_assert_uint_eq(k2.len, k.len);
		ck_assert_mem_ne(k2.p + 26, k.p + 26, 104);
		free(k2.p);
	}
	close(out);
	close(out2);
	free(k.p);
	inputs_free(in, NELEM(in));
	sharepkg_sec_free(r.sec);
}
END_TEST

START_TEST(test_no_files)
{
	struct sharepkg_manifest *m = NULL;
	struct party r;
	struct sender s;
	struct pkg k;
	int out;

	party_new(&r, "r");
	sender_new(&s);
	pkg_make(&k, NULL, 0, &r, &s, NULL);
	out = subdir("out");
	ck_assert_int_eq(open_mem(k.p, k.len, &r, s.pk, out, &m), 0);
	ck_assert_uint_eq(m->nfiles, 0);
	ck_assert_int_eq(dir_count(out), 0);
	sharepkg_manifest_free(m);
	close(out);
	free(k.p);
	sharepkg_sec_free(r.sec);
}
END_TEST

/* Long names: components of 255 bytes, deep. */
START_TEST(test_long_names)
{
	char name[SHAREPKG_NAME_MAX + 2];
	struct input in = { .name = name, .len = 77 };
	struct sharepkg_manifest *m = NULL;
	struct sharepkg_file f = { 0 };
	struct party r;
	struct sender s;
	struct pkg k;
	int out, fd;

	party_new(&r, "r");
	sender_new(&s);
	/* Eight components of 255 bytes (2047 bytes) round trip. */
	name[0] = '\0';
	for (int c = 0; c < 8; c++) {
		size_t at = strlen(name);

		memset(name + at, 'a' + c, 255);
		name[at + 255] = c < 7 ? '/' : '\0';
		name[at + 256] = '\0';
	}
	inputs_make(&in, 1);
	pkg_make(&k, &in, 1, &r, &s, NULL);
	out = subdir("out");
	ck_assert_int_eq(open_mem(k.p, k.len, &r, s.pk, out, &m), 0);
	out_check(out, &in);
	sharepkg_manifest_free(m);
	free(k.p);

	/* SHAREPKG_NAME_MAX bytes are a name, one more is not; so is a
	 * component of 255 bytes, and not one of 256. */
	f.fd = in.fd;
	f.name = name;
	fd = memfd_create("pkg", MFD_CLOEXEC);
	for (size_t i = 0; i < SHAREPKG_NAME_MAX; i++)
		name[i] = i % 256 == 255 ? '/' : 'x';
	name[SHAREPKG_NAME_MAX] = '\0';
	ck_assert_int_eq(sharepkg_write(fd, &meta, &f, 1, &r.pub, s.sk, NULL,
	                                NULL), 0);
	name[SHAREPKG_NAME_MAX] = 'x';
	name[SHAREPKG_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(sharepkg_write(fd, &meta, &f, 1, &r.pub, s.sk, NULL,
	                                NULL), -EINVAL);
	memset(name, 'y', 256);
	name[256] = '\0';
	ck_assert_int_eq(sharepkg_write(fd, &meta, &f, 1, &r.pub, s.sk, NULL,
	                                NULL), -EINVAL);
	name[255] = '\0';
	ck_assert_int_eq(sharepkg_write(fd, &meta, &f, 1, &r.pub, s.sk, NULL,
	                                NULL), 0);
	close(fd);
	close(out);
	inputs_free(&in, 1);
	sharepkg_sec_free(r.sec);
}
END_TEST

static long maxrss_kib(void)
{
	struct rusage ru;

	ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

/* 64 MiB and a bit, sparse: streamed by the writer and the opener in
 * chunks. The peak resident size may grow by much less than the file. */
START_TEST(test_large_sparse)
{
	const uint64_t size = 64ull * MIB + 4097;
	const uint64_t at[] = { 0, 32ull * MIB - 2000, size - 3000 };
	unsigned char patch[3000], *a, *b;
	struct sharepkg_manifest *m = NULL;
	struct sharepkg_file f[2] = { 0 };
	struct party r;
	struct sender s;
	struct stat st;
	char id[SHAREPKG_IDHEX];
	unsigned char digest[SHAREPKG_DIGESTBYTES];
	long rss0, rss1;
	int in, small, pkg, out, got;

	party_new(&r, "r");
	sender_new(&s);
	in = openat(bfd, "big", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_int_ge(in, 0);
	ck_assert_int_eq(ftruncate(in, (off_t)size), 0);
	for (size_t i = 0; i < NELEM(at); i++) {
		randombytes_buf(patch, sizeof(patch));
		ck_assert_int_eq(pwrite(in, patch, sizeof(patch), (off_t)at[i]),
		                 (ssize_t)sizeof(patch));
	}
	small = openat(bfd, "small", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	               0600);
	write_all(small, "tail", 4);
	f[0].name = "big/file.bin";
	f[0].fd = in;
	f[1].name = "small";
	f[1].fd = small;
	pkg = openat(bfd, "big.pkg", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	             0600);
	ck_assert_int_ge(pkg, 0);
	out = subdir("out");

	rss0 = maxrss_kib();
	ck_assert_int_eq(sharepkg_write(pkg, &meta, f, 2, &r.pub, s.sk, id,
	                                digest), 0);
	ck_assert_int_eq(lseek(pkg, 0, SEEK_SET), 0);
	ck_assert_int_eq(sharepkg_open(pkg, r.sec, s.pk, out, &m), 0);
	rss1 = maxrss_kib();
	ck_assert_msg(rss1 - rss0 < 16 * 1024,
	              "peak RSS grew by %ld KiB for a 64 MiB file",
	              rss1 - rss0);

	/* Package size: header, manifest, the chunks and the end. */
	ck_assert_int_eq(fstat(pkg, &st), 0);
	ck_assert_uint_gt((uint64_t)st.st_size,
	                  size + 4 + HDR + (size / CHUNK + 1) * 21);
	ck_assert_uint_eq(m->files[0].size, size);
	ck_assert_mem_eq(m->digest, digest, sizeof(digest));

	got = openat(out, "big/file.bin", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(got, 0);
	ck_assert_int_eq(fstat(got, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, size);
	a = malloc(MIB);
	b = malloc(MIB);
	for (uint64_t off = 0; off < size; off += MIB) {
		ssize_t na = pread(in, a, MIB, (off_t)off);
		ssize_t nb = pread(got, b, MIB, (off_t)off);

		ck_assert_int_eq(na, nb);
		ck_assert_msg(memcmp(a, b, (size_t)na) == 0,
		              "differs in the MiB at %llu",
		              (unsigned long long)off);
	}
	free(a);
	free(b);
	close(got);
	sharepkg_manifest_free(m);
	close(in);
	close(small);
	close(pkg);
	close(out);
	sharepkg_sec_free(r.sec);
}
END_TEST

/* Writer and opener on the two ends of a pipe, at the same time. */
START_TEST(test_pipe)
{
	struct input in[] = {
		{ .name = "a", .len = 3 * MIB + 5 },
		{ .name = "b/c", .len = 100 },
	};
	struct sharepkg_manifest *m = NULL;
	struct sharepkg_file f[2] = { 0 };
	struct party r;
	struct sender s;
	int p[2], status, out;
	pid_t pid;

	party_new(&r, "r");
	sender_new(&s);
	inputs_make(in, NELEM(in));
	files_of(in, NELEM(in), f);
	out = subdir("out");
	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		_exit(sharepkg_write(p[1], &meta, f, 2, &r.pub, s.sk, NULL,
		                     NULL) == 0 ? 0 : 1);
	}
	close(p[1]);
	ck_assert_int_eq(sharepkg_open(p[0], r.sec, s.pk, out, &m), 0);
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	out_check(out, &in[0]);
	out_check(out, &in[1]);
	sharepkg_manifest_free(m);
	close(out);
	inputs_free(in, NELEM(in));
	sharepkg_sec_free(r.sec);
}
END_TEST

/* ---- writer errors ---------------------------------------------------- */

static const char *const unsafe_names[] = {
	"/etc/x", "../x", "a/../b", "a//b", "", ".", "..", "./a", "a/.",
	"a/", "/", "a/b/..",
};

START_TEST(test_write_bad_names)
{
	struct input in = { .name = "ok", .len = 10 };
	struct sharepkg_file f[2] = { 0 };
	struct party r;
	struct sender s;
	struct stat st;
	int fd;

	party_new(&r, "r");
	sender_new(&s);
	inputs_make(&in, 1);
	fd = memfd_create("pkg", MFD_CLOEXEC);
	f[0].fd = f[1].fd = in.fd;
	f[0].name = "ok";
	for (size_t i = 0; i < NELEM(unsafe_names); i++) {
		f[1].name = unsafe_names[i];
		int rc = sharepkg_write(fd, &meta, f, 2, &r.pub, s.sk, NULL,
		                        NULL);

		ck_assert_msg(rc == -EINVAL, "name \"%s\": %d",
		              unsafe_names[i], rc);
	}
	f[1].name = NULL;
	ck_assert_int_eq(sharepkg_write(fd, &meta, f, 2, &r.pub, s.sk, NULL,
	                                NULL), -EINVAL);
	/* Two files of one name. */
	f[1].name = "ok";
	ck_assert_int_eq(sharepkg_write(fd, &meta, f, 2, &r.pub, s.sk, NULL,
	                                NULL), -EINVAL);
	/* Nothing was written. */
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	close(fd);
	inputs_free(&in, 1);
	sharepkg_sec_free(r.sec);
}
END_TEST

START_TEST(test_write_bad_args)
{
	struct input in = { .name = "ok", .len = 10 };
	char big[SHAREPKG_TEXT_MAX + 2];
	struct sharepkg_meta mt;
	struct sharepkg_file f = { 0 };
	struct party r;
	struct sender s;
	struct stat st;
	int fd, p[2], wo, dir;

	party_new(&r, "r");
	sender_new(&s);
	inputs_make(&in, 1);
	f.name = "ok";
	f.fd = in.fd;
	fd = memfd_create("pkg", MFD_CLOEXEC);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';

#define BADMETA(field, value) do {                                        \
		mt = meta;                                                \
		mt.field = value;                                         \
		ck_assert_int_eq(sharepkg_write(fd, &mt, &f, 1, &r.pub,   \
		                 s.sk, NULL, NULL), -EINVAL);             \
	} while (0)
	BADMETA(request_id, NULL);
	BADMETA(request_id, "");
	BADMETA(request_id, big);
	BADMETA(client, NULL);
	BADMETA(client, "");
	BADMETA(client, big);
	BADMETA(reason, NULL);
	BADMETA(reason, big);
	BADMETA(created, -1);
	BADMETA(created, INT64_C(253402300800));
#undef BADMETA
	ck_assert_int_eq(sharepkg_write(fd, NULL, &f, 1, &r.pub, s.sk, NULL,
	                                NULL), -EINVAL);
	ck_assert_int_eq(sharepkg_write(fd, &meta, NULL, 1, &r.pub, s.sk, NULL,
	                                NULL), -EINVAL);
	ck_assert_int_eq(sharepkg_write(fd, &meta, &f, SHAREPKG_FILES_MAX + 1,
	                                &r.pub, s.sk, NULL, NULL), -EINVAL);
	ck_assert_int_eq(sharepkg_write(fd, &meta, &f, 1, NULL, s.sk, NULL,
	                                NULL), -EINVAL);
	ck_assert_int_eq(sharepkg_write(fd, &meta, &f, 1, &r.pub, NULL, NULL,
	                                NULL), -EINVAL);
	/* Inputs: a pipe, a directory, a descriptor not open for reading. */
	ck_assert_int_eq(pipe(p), 0);
	f.fd = p[0];
	ck_assert_int_eq(sharepkg_write(fd, &meta, &f, 1, &r.pub, s.sk, NULL,
	                                NULL), -EINVAL);
	dir = subdir("d");
	f.fd = dir;
	ck_assert_int_eq(sharepkg_write(fd, &meta, &f, 1, &r.pub, s.sk, NULL,
	                                NULL), -EINVAL);
	wo = openat(bfd, "wo", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	write_all(wo, "data", 4);
	f.fd = wo;
	ck_assert_int_eq(sharepkg_write(fd, &meta, &f, 1, &r.pub, s.sk, NULL,
	                                NULL), -EBADF);
	/* None of these wrote anything. */
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	/* An output that cannot be written. */
	f.fd = in.fd;
	ck_assert_int_eq(sharepkg_write(p[0], &meta, &f, 1, &r.pub, s.sk,
	                                NULL, NULL), -EBADF);
	close(p[0]);
	close(p[1]);
	close(wo);
	close(dir);
	close(fd);
	inputs_free(&in, 1);
	sharepkg_sec_free(r.sec);
}
END_TEST

/* What the between hook does to the input file. */
struct change {
	int fd;
	int how;                     /* 0 grow, 1 shrink, 2 same size */
};

static void change_file(void *arg)
{
	struct change *c = arg;

	if (c->how == 0)
		ck_assert_int_eq(pwrite(c->fd, "+", 1, 3000), 1);
	else if (c->how == 1)
		ck_assert_int_eq(ftruncate(c->fd, 1000), 0);
	else
		ck_assert_int_eq(pwrite(c->fd, "\x01\x02", 2, 70000), 2);
}

START_TEST(test_changed_between_passes)
{
	struct input in[2] = { { .name = "x", .len = 10 },
	                       { .name = "y", .len = 3000 } };
	struct change c = { 0, 0 };
	struct sharepkg_test t = { .between = change_file, .arg = &c };
	struct sharepkg_file f[2] = { 0 };
	struct party r;
	struct sender s;
	int fd;

	party_new(&r, "r");
	sender_new(&s);
	for (int how = 0; how < 3; how++) {
		in[1].len = how == 2 ? 100000 : 3000;
		inputs_make(in, 2);
		files_of(in, 2, f);
		c.fd = in[1].fd;
		c.how = how;
		fd = memfd_create("pkg", MFD_CLOEXEC);
		ck_assert_int_eq(sharepkg_write_test(fd, &meta, f, 2, &r.pub,
		                 s.sk, NULL, NULL, &t), -EAGAIN);
		close(fd);
		inputs_free(in, 2);
	}
	sharepkg_sec_free(r.sec);
}
END_TEST

/* ---- opener errors ---------------------------------------------------- */

START_TEST(test_open_unsafe_names)
{
	struct party r;
	struct sender s;
	struct pkg k;
	char enc[64];
	int out;

	party_new(&r, "r");
	sender_new(&s);
	out = subdir("out");
	/* The crafting itself is right: a safe name opens. */
	pkg_crafted(&k, &r, &s, r.fpr, "sub/fine", "10", false, 0);
	{
		struct sharepkg_manifest *m = NULL;

		ck_assert_int_eq(open_mem(k.p, k.len, &r, s.pk, out, &m), 0);
		ck_assert_str_eq(m->files[0].name, "sub/fine");
		sharepkg_manifest_free(m);
		free(k.p);
		close(out);
		out = subdir("out2");
	}
	for (size_t i = 0; i < NELEM(unsafe_names); i++) {
		snprintf(enc, sizeof(enc), "%s", unsafe_names[i]);
		pkg_crafted(&k, &r, &s, r.fpr, enc, "10", false, 0);
		open_fails(k.p, k.len, &r, s.pk, out, -EBADMSG,
		           unsafe_names[i]);
		free(k.p);
	}
	/* Nothing escaped the output directory either. */
	ck_assert_int_eq(faccessat(bfd, "x", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	/* A NUL in a name. */
	pkg_crafted(&k, &r, &s, r.fpr, "a%00b", "10", false, 0);
	open_fails(k.p, k.len, &r, s.pk, out, -EBADMSG, "NUL");
	free(k.p);
	close(out);
	sharepkg_sec_free(r.sec);
}
END_TEST

START_TEST(test_open_crafted)
{
	static const struct {
		const char *name, *size;
		bool bad_digest;
		unsigned flags;
		const char *what;
	} cases[] = {
		{ "f", "10", true, 0, "digest of other content" },
		{ "f", "11", false, 0, "size one more" },
		{ "f", "9", false, 0, "size one less" },
		{ "f", "0", false, 0, "size zero" },
		{ "f", "65546", false, 0, "size a chunk more" },
		{ "f", "010", false, 0, "size with a leading zero" },
		{ "%66", "10", false, 0, "needless percent" },
		{ "a%2fb", "10", false, 0, "lowercase percent" },
		{ "f", "10", false, SHAREPKG_T_BADSIG, "bad signature" },
		{ "f", "10", false, SHAREPKG_T_NOFINAL, "no FINAL tag" },
		{ "f", "10", false, SHAREPKG_T_EXTRA, "extra message" },
	};
	struct party r, o;
	struct sender s;
	struct pkg k;
	int out;

	party_new(&r, "r");
	party_new(&o, "o");
	sender_new(&s);
	out = subdir("out");
	for (size_t i = 0; i < NELEM(cases); i++) {
		pkg_crafted(&k, &r, &s, r.fpr, cases[i].name, cases[i].size,
		            cases[i].bad_digest, cases[i].flags);
		open_fails(k.p, k.len, &r, s.pk, out, -EBADMSG, cases[i].what);
		free(k.p);
	}
	/* A manifest for another recipient, sent to us. */
	pkg_crafted(&k, &r, &s, o.fpr, "f", "10", false, 0);
	open_fails(k.p, k.len, &r, s.pk, out, -ENOKEY, "manifest for o");
	free(k.p);
	/* Not canonical: the count says two files, one follows. */
	{
		struct input in = { .len = 10 };
		struct sharepkg_test t = { 0 };
		char body[2048];

		inputs_make(&in, 1);
		body_begin(body, sizeof(body), r.fpr, &s, 2);
		body_file(body, sizeof(body), "f", "10", in.data, 10);
		t.body = body;
		pkg_make(&k, &in, 1, &r, &s, &t);
		open_fails(k.p, k.len, &r, s.pk, out, -EBADMSG, "count");
		free(k.p);
		/* Two files of one name. */
		body_begin(body, sizeof(body), r.fpr, &s, 2);
		body_file(body, sizeof(body), "f", "10", in.data, 10);
		body_file(body, sizeof(body), "f", "0", in.data, 0);
		t.body = body;
		pkg_make(&k, &in, 1, &r, &s, &t);
		open_fails(k.p, k.len, &r, s.pk, out, -EBADMSG, "duplicate");
		free(k.p);
		inputs_free(&in, 1);
	}
	close(out);
	sharepkg_sec_free(r.sec);
	sharepkg_sec_free(o.sec);
}
END_TEST

/* The small package the tamper tests alter: a few KiB. */
static struct input small_set[] = {
	{ .name = "a.txt", .len = 1000 },
	{ .name = "empty", .len = 0 },
	{ .name = "sub/dir/b.bin", .len = 2000 },
};

START_TEST(test_wrong_keys)
{
	struct sharepkg_manifest *m = NULL;
	struct party r, o;
	struct sender s, s2;
	struct pkg k;
	unsigned char ofpr[SHAREPKG_FPRBYTES];
	int out;

	party_new(&r, "r");
	party_new(&o, "o");
	sender_new(&s);
	sender_new(&s2);
	inputs_make(small_set, NELEM(small_set));
	pkg_make(&k, small_set, NELEM(small_set), &r, &s, NULL);
	out = subdir("out");

	open_fails(k.p, k.len, &o, s.pk, out, -ENOKEY, "other recipient");
	open_fails(k.p, k.len, &r, s2.pk, out, -EKEYREJECTED, "other sender");
	/* Our fingerprint in the header does not make it ours. */
	sharepkg_fingerprint(&o.pub, ofpr);
	memcpy(k.p + OFF_FPR, ofpr, sizeof(ofpr));
	open_fails(k.p, k.len, &o, s.pk, out, -EBADMSG, "relabelled");
	open_fails(k.p, k.len, &o, NULL, out, -EBADMSG, "relabelled, any");
	free(k.p);

	/* A package signed by another sender opens when any sender is
	 * accepted, and says who signed it. */
	pkg_make(&k, small_set, NELEM(small_set), &r, &s2, NULL);
	ck_assert_int_eq(open_mem(k.p, k.len, &r, NULL, out, &m), 0);
	ck_assert_mem_eq(m->sender_pk, s2.pk, sizeof(s2.pk));
	sharepkg_manifest_free(m);
	free(k.p);
	close(out);
	inputs_free(small_set, NELEM(small_set));
	sharepkg_sec_free(r.sec);
	sharepkg_sec_free(o.sec);
}
END_TEST

START_TEST(test_output_exists)
{
	struct sharepkg_manifest *m = NULL;
	struct party r;
	struct sender s;
	struct pkg k;
	char buf[16];
	int out, out2, fd, dd;

	party_new(&r, "r");
	sender_new(&s);
	inputs_make(small_set, NELEM(small_set));
	pkg_make(&k, small_set, NELEM(small_set), &r, &s, NULL);

	/* Opened twice into one directory: the second fails and leaves
	 * the first's files as they were. */
	out = subdir("out");
	ck_assert_int_eq(open_mem(k.p, k.len, &r, s.pk, out, &m), 0);
	sharepkg_manifest_free(m);
	m = (void *)1;
	ck_assert_int_eq(open_mem(k.p, k.len, &r, s.pk, out, &m), -EEXIST);
	ck_assert_ptr_null(m);
	for (size_t i = 0; i < NELEM(small_set); i++)
		out_check(out, &small_set[i]);
	ck_assert_int_eq(dir_count(out), 3);

	/* The last name taken: the two renamed before it are removed
	 * again; the directories that were there stay. */
	out2 = subdir("out2");
	ck_assert_int_eq(mkdirat(out2, "sub", 0700), 0);
	ck_assert_int_eq(mkdirat(out2, "sub/dir", 0700), 0);
	fd = openat(out2, "sub/dir/b.bin", O_WRONLY | O_CREAT | O_EXCL, 0600);
	write_all(fd, "keep", 4);
	close(fd);
	ck_assert_int_eq(open_mem(k.p, k.len, &r, s.pk, out2, &m), -EEXIST);
	ck_assert_int_eq(dir_count(out2), 1);
	dd = openat(out2, "sub/dir", O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(dir_count(dd), 1);
	fd = openat(dd, "b.bin", O_RDONLY);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 4);
	ck_assert_mem_eq(buf, "keep", 4);
	close(fd);
	close(dd);
	close(out);
	close(out2);
	free(k.p);
	inputs_free(small_set, NELEM(small_set));
	sharepkg_sec_free(r.sec);
}
END_TEST

START_TEST(test_output_symlink)
{
	struct sharepkg_manifest *m = NULL;
	struct party r;
	struct sender s;
	struct pkg k;
	int out, away;

	party_new(&r, "r");
	sender_new(&s);
	inputs_make(small_set, NELEM(small_set));
	pkg_make(&k, small_set, NELEM(small_set), &r, &s, NULL);
	out = subdir("out");
	away = subdir("away");
	/* out/sub points away: never followed. */
	ck_assert_int_eq(symlinkat("../away", out, "sub"), 0);
	ck_assert_int_lt(open_mem(k.p, k.len, &r, s.pk, out, &m), 0);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(dir_count(away), 0);
	ck_assert_int_eq(dir_count(out), 1);
	/* A symlink in the place of a file's final name is not replaced. */
	ck_assert_int_eq(unlinkat(out, "sub", 0), 0);
	ck_assert_int_eq(symlinkat("../away/a.txt", out, "a.txt"), 0);
	ck_assert_int_eq(open_mem(k.p, k.len, &r, s.pk, out, &m), -EEXIST);
	ck_assert_int_eq(dir_count(away), 0);
	ck_assert_int_eq(dir_count(out), 1);
	close(out);
	close(away);
	free(k.p);
	inputs_free(small_set, NELEM(small_set));
	sharepkg_sec_free(r.sec);
}
END_TEST

/* ---- tamper ----------------------------------------------------------- */

START_TEST(test_flip_every_byte)
{
	struct party r;
	struct sender s;
	struct pkg k;
	char what[64];
	int out;

	party_new(&r, "r");
	sender_new(&s);
	inputs_make(small_set, NELEM(small_set));
	pkg_make(&k, small_set, NELEM(small_set), &r, &s, NULL);
	ck_assert_uint_gt(k.len, 3000);
	ck_assert_uint_lt(k.len, 8192);
	out = subdir("out");
	for (size_t off = 0; off < k.len; off++) {
		for (int pass = 0; pass < 2; pass++) {
			unsigned char mask = pass == 0 ?
			    (unsigned char)(1u << (off % 8)) : 0xff;
			int want = -EBADMSG;

			if (off >= OFF_FPR && off < OFF_FPR + SHAREPKG_FPRBYTES)
				want = -ENOKEY;
			k.p[off] ^= mask;
			snprintf(what, sizeof(what), "byte %zu ^ 0x%02x", off,
			         mask);
			if (off == 8 && k.p[off] > '1' && k.p[off] <= '9')
				want = -EPROTONOSUPPORT;
			open_fails(k.p, k.len, &r, s.pk, out, want, what);
			k.p[off] ^= mask;
		}
	}
	close(out);
	free(k.p);
	inputs_free(small_set, NELEM(small_set));
	sharepkg_sec_free(r.sec);
}
END_TEST

START_TEST(test_truncate_everywhere)
{
	struct sharepkg_manifest *m = NULL;
	struct party r;
	struct sender s;
	struct pkg k;
	char what[64];
	int out;

	party_new(&r, "r");
	sender_new(&s);
	inputs_make(small_set, NELEM(small_set));
	pkg_make(&k, small_set, NELEM(small_set), &r, &s, NULL);
	out = subdir("out");
	for (size_t len = 0; len < k.len; len++) {
		snprintf(what, sizeof(what), "cut to %zu of %zu", len, k.len);
		open_fails(k.p, len, &r, s.pk, out, -EBADMSG, what);
	}
	ck_assert_int_eq(open_mem(k.p, k.len, &r, s.pk, out, &m), 0);
	sharepkg_manifest_free(m);
	close(out);
	free(k.p);
	inputs_free(small_set, NELEM(small_set));
	sharepkg_sec_free(r.sec);
}
END_TEST

START_TEST(test_appended)
{
	struct party r;
	struct sender s;
	struct pkg k, k2;
	unsigned char *p;
	int out;

	party_new(&r, "r");
	sender_new(&s);
	inputs_make(small_set, NELEM(small_set));
	pkg_make(&k, small_set, NELEM(small_set), &r, &s, NULL);
	pkg_make(&k2, small_set, NELEM(small_set), &r, &s, NULL);
	out = subdir("out");
	p = malloc(k.len + k2.len);
	memcpy(p, k.p, k.len);

	p[k.len] = 0;
	open_fails(p, k.len + 1, &r, s.pk, out, -EBADMSG, "one zero byte");
	p[k.len] = '\n';
	open_fails(p, k.len + 1, &r, s.pk, out, -EBADMSG, "a newline");
	memset(p + k.len, 0, 4);
	open_fails(p, k.len + 4, &r, s.pk, out, -EBADMSG, "length 0");
	/* The last message again. */
	memcpy(p + k.len, k.p + k.len - 4 - 17, 4 + 17);
	open_fails(p, k.len + 21, &r, s.pk, out, -EBADMSG, "FINAL twice");
	/* A whole second package. */
	memcpy(p + k.len, k2.p, k2.len);
	open_fails(p, k.len + k2.len, &r, s.pk, out, -EBADMSG,
	           "two packages");
	free(p);
	free(k.p);
	free(k2.p);
	close(out);
	inputs_free(small_set, NELEM(small_set));
	sharepkg_sec_free(r.sec);
}
END_TEST

/* Messages dropped, swapped with the next one, or repeated. */
START_TEST(test_messages_reordered)
{
	struct input in[] = {
		{ .name = "x", .len = 2 * CHUNK + 100 },
		{ .name = "y", .len = 10 },
	};
	struct sharepkg_manifest *m = NULL;
	size_t at[16], sz[16], nf = 0, off = HDR, len;
	unsigned char *p;
	struct party r;
	struct sender s;
	struct pkg k;
	char what[64];
	int out;

	party_new(&r, "r");
	sender_new(&s);
	inputs_make(in, NELEM(in));
	pkg_make(&k, in, NELEM(in), &r, &s, NULL);
	while (off < k.len) {
		ck_assert_uint_lt(nf, NELEM(at));
		at[nf] = off;
		sz[nf] = 4 + (k.p[off] | (size_t)k.p[off + 1] << 8 |
		              (size_t)k.p[off + 2] << 16 |
		              (size_t)k.p[off + 3] << 24);
		off += sz[nf++];
	}
	ck_assert_uint_eq(off, k.len);
	/* Manifest, 3 + 1 chunks, the end. */
	ck_assert_uint_eq(nf, 6);
	ck_assert_uint_eq(sz[nf - 1], 4 + 17);
	p = malloc(2 * k.len);
	out = subdir("out");
	for (size_t i = 0; i < nf; i++) {
		/* Drop message i. */
		memcpy(p, k.p, at[i]);
		memcpy(p + at[i], k.p + at[i] + sz[i], k.len - at[i] - sz[i]);
		snprintf(what, sizeof(what), "message %zu dropped", i);
		open_fails(p, k.len - sz[i], &r, s.pk, out, -EBADMSG, what);
		/* Repeat message i. */
		memcpy(p, k.p, at[i] + sz[i]);
		memcpy(p + at[i] + sz[i], k.p + at[i], k.len - at[i]);
		snprintf(what, sizeof(what), "message %zu twice", i);
		open_fails(p, k.len + sz[i], &r, s.pk, out, -EBADMSG, what);
		if (i + 1 == nf)
			continue;
		/* Swap messages i and i + 1. */
		len = 0;
		memcpy(p, k.p, at[i]);
		len = at[i];
		memcpy(p + len, k.p + at[i + 1], sz[i + 1]);
		len += sz[i + 1];
		memcpy(p + len, k.p + at[i], sz[i]);
		len += sz[i];
		memcpy(p + len, k.p + len, k.len - len);
		snprintf(what, sizeof(what), "messages %zu and %zu swapped", i,
		         i + 1);
		open_fails(p, k.len, &r, s.pk, out, -EBADMSG, what);
	}
	ck_assert_int_eq(open_mem(k.p, k.len, &r, s.pk, out, &m), 0);
	out_check(out, &in[0]);
	sharepkg_manifest_free(m);
	free(p);
	free(k.p);
	close(out);
	inputs_free(in, NELEM(in));
	sharepkg_sec_free(r.sec);
}
END_TEST

/* ---- receipts --------------------------------------------------------- */

/* Opens a package of small_set into the new directory outname and makes
 * its receipt, signed by signer. */
static unsigned char *receipt_for(const char *outname, const struct party *r,
                                  const struct sharepkg_sec *signer,
                                  const struct sender *s, struct pkg *k,
                                  struct sharepkg_manifest **m, size_t *len)
{
	unsigned char *t;
	int out, fd;

	inputs_make(small_set, NELEM(small_set));
	pkg_make(k, small_set, NELEM(small_set), r, s, NULL);
	out = subdir(outname);
	ck_assert_int_eq(open_mem(k->p, k->len, r, s->pk, out, m), 0);
	close(out);
	fd = memfd_create("receipt", MFD_CLOEXEC);
	ck_assert_int_eq(sharepkg_receipt_make(fd, *m, signer, T0 + 3600), 0);
	t = slurp(fd, len);
	close(fd);
	inputs_free(small_set, NELEM(small_set));
	return t;
}

START_TEST(test_receipt_roundtrip)
{
	struct sharepkg_receipt *rc = NULL;
	struct sharepkg_manifest *m = NULL;
	struct party r;
	struct sender s;
	struct pkg k;
	unsigned char *t;
	size_t len;

	party_new(&r, "r");
	sender_new(&s);
	t = receipt_for("out", &r, r.sec, &s, &k, &m, &len);
	ck_assert_mem_eq(t, "dossierfs-share-receipt-v1\npackage=", 35);
	ck_assert_mem_eq(t + len - 4 - 128 - 1, "sig=", 4);
	ck_assert_int_eq(sharepkg_receipt_check((char *)t, len, &r.pub, k.id,
	                                        k.digest, &rc), 0);
	ck_assert_str_eq(rc->package_id, k.id);
	ck_assert_str_eq(rc->request_id, meta.request_id);
	ck_assert_mem_eq(rc->manifest_digest, k.digest, SHAREPKG_DIGESTBYTES);
	ck_assert_str_eq(rc->recipient, r.fpr);
	ck_assert_int_eq(rc->received, T0 + 3600);
	ck_assert_uint_eq(rc->nfiles, m->nfiles);
	for (size_t i = 0; i < m->nfiles; i++) {
		ck_assert_str_eq(rc->files[i].name, m->files[i].name);
		ck_assert_uint_eq(rc->files[i].size, m->files[i].size);
		ck_assert_mem_eq(rc->files[i].digest, m->files[i].digest,
		                 SHAREPKG_DIGESTBYTES);
	}
	sharepkg_receipt_free(rc);
	/* out may be NULL. */
	ck_assert_int_eq(sharepkg_receipt_check((char *)t, len, &r.pub, k.id,
	                                        k.digest, NULL), 0);
	sharepkg_receipt_free(NULL);
	sharepkg_manifest_free(m);
	free(t);
	free(k.p);
	sharepkg_sec_free(r.sec);
}
END_TEST

START_TEST(test_receipt_wrong)
{
	struct sharepkg_receipt *rc = (void *)1;
	struct sharepkg_manifest *m = NULL;
	unsigned char other[SHAREPKG_DIGESTBYTES];
	struct party r, o;
	struct sender s;
	struct pkg k;
	unsigned char *t;
	size_t len;

	party_new(&r, "r");
	party_new(&o, "o");
	sender_new(&s);
	/* Signed by o, for r's package: not r's receipt. */
	t = receipt_for("out", &r, o.sec, &s, &k, &m, &len);
	ck_assert_int_eq(sharepkg_receipt_check((char *)t, len, &r.pub, k.id,
	                                        k.digest, &rc), -EBADMSG);
	ck_assert_ptr_null(rc);
	/* It is o's, of that package. */
	ck_assert_int_eq(sharepkg_receipt_check((char *)t, len, &o.pub, k.id,
	                                        k.digest, NULL), 0);
	free(t);
	sharepkg_manifest_free(m);
	free(k.p);

	/* r's receipt, checked as o's. */
	t = receipt_for("out2", &r, r.sec, &s, &k, &m, &len);
	ck_assert_int_eq(sharepkg_receipt_check((char *)t, len, &o.pub, k.id,
	                                        k.digest, NULL), -EBADMSG);
	/* Another package, another manifest. */
	ck_assert_int_eq(sharepkg_receipt_check((char *)t, len, &r.pub,
	                 "00112233445566778899aabbccddeeff", k.digest, &rc),
	                 -ESRCH);
	ck_assert_ptr_null(rc);
	memcpy(other, k.digest, sizeof(other));
	other[31] ^= 1;
	ck_assert_int_eq(sharepkg_receipt_check((char *)t, len, &r.pub, k.id,
	                                        other, NULL), -ESRCH);
	ck_assert_int_eq(sharepkg_receipt_check((char *)t, len, &r.pub, "",
	                                        k.digest, NULL), -ESRCH);
	ck_assert_int_eq(sharepkg_receipt_check((char *)t, len, &r.pub, NULL,
	                                        k.digest, NULL), -EINVAL);
	sharepkg_manifest_free(m);
	free(t);
	free(k.p);
	sharepkg_sec_free(r.sec);
	sharepkg_sec_free(o.sec);
}
END_TEST

START_TEST(test_receipt_tamper)
{
	struct sharepkg_manifest *m = NULL;
	struct party r;
	struct sender s;
	struct pkg k;
	unsigned char *t, *p;
	size_t len;
	int rc;

	party_new(&r, "r");
	sender_new(&s);
	t = receipt_for("out", &r, r.sec, &s, &k, &m, &len);
	for (size_t off = 0; off < len; off++) {
		for (int pass = 0; pass < 2; pass++) {
			unsigned char mask = pass == 0 ?
			    (unsigned char)(1u << (off % 8)) : 0xff;

			t[off] ^= mask;
			rc = sharepkg_receipt_check((char *)t, len, &r.pub,
			                            k.id, k.digest, NULL);
			ck_assert_msg(rc == -EINVAL || rc == -EBADMSG,
			              "byte %zu ^ 0x%02x: %d", off, mask, rc);
			t[off] ^= mask;
		}
	}
	for (size_t l = 0; l < len; l++)
		ck_assert_msg(sharepkg_receipt_check((char *)t, l, &r.pub, k.id,
		              k.digest, NULL) == -EINVAL, "cut to %zu", l);
	p = malloc(2 * len);
	memcpy(p, t, len);
	memcpy(p + len, "\n", 1);
	ck_assert_int_eq(sharepkg_receipt_check((char *)p, len + 1, &r.pub,
	                                        k.id, k.digest, NULL), -EINVAL);
	memcpy(p + len, t + len - 133, 133);
	ck_assert_int_eq(sharepkg_receipt_check((char *)p, len + 133, &r.pub,
	                                        k.id, k.digest, NULL), -EINVAL);
	memcpy(p + len, t, len);
	ck_assert_int_eq(sharepkg_receipt_check((char *)p, 2 * len, &r.pub,
	                                        k.id, k.digest, NULL), -EINVAL);
	ck_assert_int_eq(sharepkg_receipt_check((char *)t, len, &r.pub, k.id,
	                                        k.digest, NULL), 0);
	free(p);
	free(t);
	free(k.p);
	sharepkg_manifest_free(m);
	sharepkg_sec_free(r.sec);
}
END_TEST

/* ---- suite ------------------------------------------------------------ */

static Suite *sharepkg_suite(void)
{
	Suite *s = suite_create("sharepkg");
	TCase *keys = tcase_create("keys");
	TCase *core = tcase_create("core");
	TCase *errors = tcase_create("errors");
	TCase *tamper = tcase_create("tamper");
	TCase *receipt = tcase_create("receipt");
	TCase *all[] = { keys, core, errors, tamper, receipt };

	tcase_add_test(keys, test_keys_roundtrip);
	tcase_add_test(keys, test_pub_malformed);
	tcase_add_test(keys, test_sec_malformed);

	tcase_add_test(core, test_roundtrip);
	tcase_add_test(core, test_no_files);
	tcase_add_test(core, test_long_names);
	tcase_add_test(core, test_large_sparse);
	tcase_add_test(core, test_pipe);
	tcase_add_test(core, test_reader_and_signer);

	tcase_add_test(errors, test_write_bad_names);
	tcase_add_test(errors, test_write_bad_args);
	tcase_add_test(errors, test_changed_between_passes);
	tcase_add_test(errors, test_open_unsafe_names);
	tcase_add_test(errors, test_open_crafted);
	tcase_add_test(errors, test_wrong_keys);
	tcase_add_test(errors, test_output_exists);
	tcase_add_test(errors, test_output_symlink);

	tcase_add_test(tamper, test_flip_every_byte);
	tcase_add_test(tamper, test_truncate_everywhere);
	tcase_add_test(tamper, test_appended);
	tcase_add_test(tamper, test_messages_reordered);

	tcase_add_test(receipt, test_receipt_roundtrip);
	tcase_add_test(receipt, test_receipt_wrong);
	tcase_add_test(receipt, test_receipt_tamper);

	for (size_t i = 0; i < NELEM(all); i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		tcase_set_timeout(all[i], 300);
		suite_add_tcase(s, all[i]);
	}
	return s;
}

CHECK_MAIN(sharepkg_suite)
