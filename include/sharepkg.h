/*
 * sharepkg: the package that carries client files to an approved third
 * party, and the receipt that comes back ("approved sharing").
 *
 * The company encrypts files to the recipient's public key and signs
 * what it sends with its own Ed25519 key; the recipient opens the
 * package, which checks everything, and returns a receipt signed with
 * the recipient's key. Pure code over file descriptors and buffers: no
 * FUSE, no SQLite, no globals.
 *
 * Keys. A recipient has an X25519 key pair (crypto_box_seal) and an
 * Ed25519 key pair (crypto_sign). Files, both text, one line each:
 *   public   "dossierfs-share-pub-v1 <64 hex box pk> <64 hex sign pk>\n"
 *   secret   "dossierfs-share-sec-v1 <64 hex box sk> <64 hex sign seed>
 *            <32 hex fingerprint>\n" (one line; the box key stored
 *            clamped, as X25519 uses it, and the fingerprint of the
 *            matching public line, so that any damage is refused)
 * Hex is lowercase only. The fingerprint of a public key is the first
 * 16 bytes of BLAKE2b of its public line (newline included), shown as
 * 32 hex digits; it names the recipient in packages and receipts.
 *
 * Package (all integers little-endian):
 *   "DSFSHARE1\n"                      10 bytes
 *   recipient fingerprint              16
 *   crypto_box_seal(stream key)        80, sealed to the box public key
 *   secretstream header                24 (XChaCha20-Poly1305 secretstream)
 *   messages, each a 4-byte length then that many ciphertext bytes:
 *     the manifest (the 130 bytes above are its associated data),
 *     each file's content in chunks of SHAREPKG_CHUNK bytes (the last
 *     one shorter; an empty file has none), in manifest order,
 *     an empty message tagged FINAL; nothing may follow it.
 * Every message but the last is tagged MESSAGE. Chunk lengths follow from
 * the sizes in the manifest, so the reader knows each length in advance.
 *
 * Manifest: canonical text, one key=value a line, in this order:
 *   format=dossierfs-share-manifest-v1
 *   package=<32 hex, random>          request=<text>   client=<text>
 *   reason=<text>   recipient=<fingerprint>   created=YYYY-MM-DDTHH:MM:SSZ
 *   sender=<64 hex Ed25519 pk>        files=<decimal count>
 *   then per file: name=<text> size=<decimal> blake2b=<64 hex>
 *   sig=<128 hex>: Ed25519 by the sender over every byte before this line
 * <text> is the value with every byte outside 0x20..0x7e and every '%'
 * and '=' written as %XX (uppercase hex); nothing else is encoded.
 * Decimals have no leading zeros. A manifest in any other form (even one
 * that would decode to the same values) is refused.
 *
 * Receipt: canonical text the same way, in this order:
 *   dossierfs-share-receipt-v1
 *   package=  request=  manifest=<64 hex: BLAKE2b-256 of the whole
 *   manifest, sig line included>  recipient=<fingerprint>
 *   received=<time>  files=<count>  and per file name= size= blake2b=
 *   sig=<128 hex>: Ed25519 by the recipient's sign key over every byte
 *   before this line
 *
 * File names are relative paths: not empty, no leading '/', no empty
 * component ("a//b", "a/"), no "." or ".." component, no component over
 * 255 bytes, at most SHAREPKG_NAME_MAX bytes, no two files alike. Both
 * sharepkg_write() and sharepkg_open() check them.
 *
 * Memory does not grow with the size of the files (one chunk at a
 * time); it grows with the manifest (number of files, length of names),
 * which is bounded by SHAREPKG_MANIFEST_MAX.
 *
 * Errors: 0 or a negative errno. -EINVAL: bad arguments, or a key file or
 * receipt that is not well-formed. -EBADMSG: a package that does not
 * authenticate, is truncated, has bytes after its end, a bad signature,
 * a malformed manifest or a file whose size or digest does not match;
 * and a receipt whose signature is bad. -ENOKEY: the package is for
 * another recipient (header or manifest). -EKEYREJECTED: signed by
 * someone other than the expected sender. -ESRCH: a valid receipt of
 * another package (id or manifest digest). -EPROTONOSUPPORT: a newer
 * package format. -EAGAIN: an input file changed while it was packed.
 * -E2BIG: the manifest or receipt would exceed SHAREPKG_MANIFEST_MAX.
 * -EEXIST: an output name is taken. -ENOMEM, or the errno of a failed
 * read, write, open, mkdir or rename.
 */
#ifndef DOSSIER_SHAREPKG_H
#define DOSSIER_SHAREPKG_H

#include <stddef.h>
#include <stdint.h>
#include <sodium.h>

#define SHAREPKG_CHUNK         65536u     /* plaintext bytes a message */
#define SHAREPKG_FPRBYTES      16u
#define SHAREPKG_FPRHEX        (2 * SHAREPKG_FPRBYTES + 1)  /* with NUL */
#define SHAREPKG_IDHEX         33u        /* 32 hex digits and a NUL */
#define SHAREPKG_DIGESTBYTES   32u        /* BLAKE2b-256 */
#define SHAREPKG_NAME_MAX      4095u      /* bytes of a file name */
#define SHAREPKG_TEXT_MAX      4096u      /* bytes of request, client, reason */
#define SHAREPKG_FILES_MAX     100000u
#define SHAREPKG_MANIFEST_MAX  (16u << 20) /* bytes of manifest or receipt */
#define SHAREPKG_PUBLINE_LEN   153u       /* public line, newline included */
#define SHAREPKG_HEADER_LEN    130u       /* bytes before the first message */

/* A recipient's public keys. */
struct sharepkg_pub {
	unsigned char box_pk[crypto_box_PUBLICKEYBYTES];
	unsigned char sign_pk[crypto_sign_PUBLICKEYBYTES];
};

/* A recipient's secret keys: opaque, in sodium_malloc'd memory. */
struct sharepkg_sec;

/* One file to send: a relative name and a readable, seekable regular
 * file (read with pread from offset 0; its offset is not used), or,
 * when pread is not NULL, a reader: pread(arg, buf, len, off) returns
 * the bytes read (fewer only at the end, 0 at or past it) or a negative
 * errno, and size is what it holds; fd is then not used. */
struct sharepkg_file {
	const char *name;
	int fd;
	ssize_t (*pread)(void *arg, void *buf, size_t len, uint64_t off);
	void *arg;
	uint64_t size;
};

/* Who signs a manifest: pk is the Ed25519 public key named in it, and
 * sign(arg, msg, len, sig) makes the detached signature of msg with the
 * matching secret key (0, or a negative errno). For a signing key kept
 * elsewhere, such as the vault's. */
struct sharepkg_signer {
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	int (*sign)(void *arg, const void *msg, size_t len,
	            unsigned char sig[crypto_sign_BYTES]);
	void *arg;
};

/* What the package says about itself. Strings are any bytes but NUL, at
 * most SHAREPKG_TEXT_MAX; request and client not empty. */
struct sharepkg_meta {
	const char *request_id;
	const char *client;
	const char *reason;
	int64_t created;             /* UTC seconds; 0: now */
};

/* One file as listed in a manifest or a receipt. */
struct sharepkg_entry {
	char *name;
	uint64_t size;
	unsigned char digest[SHAREPKG_DIGESTBYTES];  /* BLAKE2b-256 */
};

/* A manifest as sharepkg_open() verified it. */
struct sharepkg_manifest {
	char package_id[SHAREPKG_IDHEX];
	char *request_id;
	char *client;
	char *reason;
	char recipient[SHAREPKG_FPRHEX];
	int64_t created;
	unsigned char sender_pk[crypto_sign_PUBLICKEYBYTES];
	size_t nfiles;
	struct sharepkg_entry *files;
	unsigned char digest[SHAREPKG_DIGESTBYTES];  /* of the whole manifest */
};

/* A receipt as sharepkg_receipt_check() verified it. */
struct sharepkg_receipt {
	char package_id[SHAREPKG_IDHEX];
	char *request_id;
	unsigned char manifest_digest[SHAREPKG_DIGESTBYTES];
	char recipient[SHAREPKG_FPRHEX];
	int64_t received;
	size_t nfiles;
	struct sharepkg_entry *files;
};

/* ---- keys ------------------------------------------------------------ */

/*
 * Makes a new recipient key pair and writes the public line to pub_fd
 * and the secret line to sec_fd (whole, at their current offsets). The
 * caller opens both; sec_fd should be a file created O_EXCL, mode 0600.
 * Returns 0 or -errno; on failure, what was written is not a key.
 */
int sharepkg_keygen(int pub_fd, int sec_fd);

/*
 * The same into new files of dirfd: pub_name mode 0644 and sec_name
 * mode 0600, both created O_EXCL|O_NOFOLLOW (-EEXIST when either name
 * is taken) and fsynced. On failure neither file is left.
 */
int sharepkg_keygen_at(int dirfd, const char *pub_name, const char *sec_name);

/*
 * Parses a public line: exactly the format above, with or without its
 * final newline, nothing else. 0 or -EINVAL (also for an all-zero box
 * key or a sign key that is not a valid Ed25519 point).
 */
int sharepkg_pub_parse(const char *buf, size_t len, struct sharepkg_pub *out);

/* Reads a public key file from fd (its first 154 bytes at most) and
 * parses it. 0, -EINVAL, or -errno of the read. */
int sharepkg_pub_load(int fd, struct sharepkg_pub *out);

/* The canonical public line of pk, newline included, NUL-terminated. */
void sharepkg_pub_format(const struct sharepkg_pub *pk,
                         char line[SHAREPKG_PUBLINE_LEN + 1]);

/* The fingerprint of pk, raw or as 32 lowercase hex digits. */
void sharepkg_fingerprint(const struct sharepkg_pub *pk,
                          unsigned char fpr[SHAREPKG_FPRBYTES]);
void sharepkg_fingerprint_hex(const struct sharepkg_pub *pk,
                              char hex[SHAREPKG_FPRHEX]);

/*
 * Reads a secret key file from fd into a new sodium_malloc'd key
 * (*out, for sharepkg_sec_free()). Every temporary is wiped. 0, -EINVAL
 * (not a secret key file, or its fingerprint does not match its keys),
 * -ENOMEM, or -errno of the read.
 */
int sharepkg_sec_load(int fd, struct sharepkg_sec **out);

/* The same for the file name of dirfd, opened O_NOFOLLOW; -EINVAL when
 * it is not a regular file. */
int sharepkg_sec_load_at(int dirfd, const char *name,
                         struct sharepkg_sec **out);

/* The public half of sk. */
void sharepkg_sec_pub(const struct sharepkg_sec *sk, struct sharepkg_pub *out);

/* Wipes and frees sk. NULL is ignored. */
void sharepkg_sec_free(struct sharepkg_sec *sk);

/* ---- packages -------------------------------------------------------- */

/*
 * Writes a package of the n files to out_fd (a file or a pipe, written
 * in order from its current offset), for the recipient to, signed with
 * sender_sk. Reads each file twice: once for its size and digest (they
 * go into the manifest, which comes first), once for its content; a file
 * that changes in between (size or content) fails the call with -EAGAIN.
 * The package ID (32 hex digits and a NUL) goes to package_id and the
 * manifest's BLAKE2b-256 to manifest_digest; either may be NULL. Both
 * are what a receipt must name. Returns 0, -EINVAL (bad name, duplicate
 * name, bad meta, n over SHAREPKG_FILES_MAX, an input that is not a
 * regular file), -E2BIG, -EAGAIN, -ENOMEM, or -errno of a read or write.
 * On failure out_fd holds part of a package, which never opens: the
 * caller discards it.
 */
int sharepkg_write(int out_fd, const struct sharepkg_meta *meta,
                   const struct sharepkg_file *files, size_t n,
                   const struct sharepkg_pub *to,
                   const unsigned char sender_sk[crypto_sign_SECRETKEYBYTES],
                   char package_id[SHAREPKG_IDHEX],
                   unsigned char manifest_digest[SHAREPKG_DIGESTBYTES]);

/* The same, signed by signer instead of a secret key given here. */
int sharepkg_write_signed(int out_fd, const struct sharepkg_meta *meta,
                          const struct sharepkg_file *files, size_t n,
                          const struct sharepkg_pub *to,
                          const struct sharepkg_signer *signer,
                          char package_id[SHAREPKG_IDHEX],
                          unsigned char manifest_digest[SHAREPKG_DIGESTBYTES]);

/*
 * Reads the package in in_fd (a file or a pipe, read in order to its
 * end), checks it for the recipient me and writes its files under the
 * directory out_dirfd.
 *
 * The manifest's signature must verify with the sender key it names;
 * when expect_sender_pk is not NULL, that key must be expect_sender_pk
 * (-EKEYREJECTED otherwise); when it is NULL, any sender is accepted and
 * the caller must check (*out)->sender_pk itself.
 *
 * Output: each file is written to a temporary name beside its final one
 * (".sharepkg-<16 hex>.part", O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600;
 * missing directories are made with mode 0700, every directory is
 * entered with O_NOFOLLOW, so no symlink is ever followed), its size and
 * digest checked as it is written. Only when the whole package has
 * checked, through its FINAL message and its end, are the files synced
 * (syncfs() of the output's file system) and renamed to their final
 * names (never replacing anything: -EEXIST if a name is taken). When anything fails, every file and directory the
 * call made is removed again, renamed ones included: a failed open
 * leaves nothing, and nothing unverified is ever under a final name. (A
 * process killed mid-way may leave .part files and directories.)
 *
 * On success *out is the verified manifest, for
 * sharepkg_manifest_free(); on failure *out is NULL. Errors as above.
 */
int sharepkg_open(int in_fd, const struct sharepkg_sec *me,
                  const unsigned char *expect_sender_pk, int out_dirfd,
                  struct sharepkg_manifest **out);

/* Frees m (and its strings, wiped). NULL is ignored. */
void sharepkg_manifest_free(struct sharepkg_manifest *m);

/* ---- receipts -------------------------------------------------------- */

/*
 * Writes to out_fd the receipt for the manifest m (as sharepkg_open()
 * returned it), signed with me's sign key, with received as its time
 * (UTC seconds; 0: now). 0, -EINVAL, -E2BIG, -ENOMEM or -errno of the
 * write.
 */
int sharepkg_receipt_make(int out_fd, const struct sharepkg_manifest *m,
                          const struct sharepkg_sec *me, int64_t received);

/*
 * Checks the receipt in buf[0..len): well-formed (-EINVAL), signed by
 * recipient's sign key and naming recipient's fingerprint (-EBADMSG),
 * and for the package expect_package_id with the manifest digest
 * expect_manifest_digest (SHAREPKG_DIGESTBYTES; -ESRCH). The checks run
 * in that order, so -ESRCH means a genuine receipt of another package. On success, and when out is not
 * NULL, *out is the parsed receipt, for sharepkg_receipt_free().
 */
int sharepkg_receipt_check(const char *buf, size_t len,
                           const struct sharepkg_pub *recipient,
                           const char *expect_package_id,
                           const unsigned char *expect_manifest_digest,
                           struct sharepkg_receipt **out);

void sharepkg_receipt_free(struct sharepkg_receipt *r);

#ifdef SHAREPKG_TESTING
/*
 * Test hook, not for use outside tests/check_sharepkg.c: sharepkg_write()
 * with faults. body, when not NULL, is signed and sent as the manifest
 * text instead of the real one (everything before the sig line), and the
 * names in files are then not checked; the contents still come from the
 * files. between, when not NULL, runs between the two passes over the
 * files.
 */
#define SHAREPKG_T_NOFINAL  0x01u   /* last message tagged MESSAGE */
#define SHAREPKG_T_EXTRA    0x02u   /* one more message before the last */
#define SHAREPKG_T_BADSIG   0x04u   /* signature with one bit changed */

struct sharepkg_test {
	const char *body;
	unsigned flags;
	void (*between)(void *arg);
	void *arg;
};

int sharepkg_write_test(int out_fd, const struct sharepkg_meta *meta,
                        const struct sharepkg_file *files, size_t n,
                        const struct sharepkg_pub *to,
                        const unsigned char *sender_sk, char *package_id,
                        unsigned char *manifest_digest,
                        const struct sharepkg_test *t);
#endif

#endif
