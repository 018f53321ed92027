/*
 * audit: the tamper-evident audit store of a vault.
 *
 * Files, in the vault directory:
 *   audit.db     SQLite, WAL mode, created mode 0600 by audit_open()
 *   audit.pub    the checkpoint signing key in the clear (mode 0644),
 *                one line "dossierfs-audit-ed25519 <64 hex digits>"
 *
 * Every access is one record (struct audit_event plus a sequence number
 * 1, 2, 3, ... without gaps and the UTC time in microseconds). Client,
 * path and path2 are sealed (XChaCha20-Poly1305, random nonce, padded to
 * a multiple of 32 bytes, the field and the seq as associated data, so a
 * sealed name moved to another record or field does not open) and the
 * client name also gets a keyed BLAKE2b tag (16 bytes), so that the
 * records of one client can be found without decrypting; every other
 * field is plaintext. Each record stores the hash of the record before it
 * and its own hash, so that the records form a chain; audit_checkpoint()
 * signs the head of the chain with Ed25519. audit_verify() checks the
 * chain and every signature with audit.pub alone: no passphrase, no
 * master key.
 *
 * Schema (STRICT tables):
 *   meta(key, value)         "format" = "1", "pubkey" = the key in hex
 *   events(seq INTEGER PRIMARY KEY, time_us, uid, user, roles, pid, exe,
 *          node, action, client_tag, client, path, path2, outcome, errno,
 *          rule, policy, bytes, detail, prev, hash)
 *                            client, path, path2: sealed BLOBs or NULL;
 *                            outcome: "allowed", "denied", "error";
 *                            NULL wherever the event had NULL
 *   index events_client(client_tag, seq)
 *   checkpoints(id INTEGER PRIMARY KEY, seq, hash, time_us, sig)
 *
 * Keys. The caller passes one 32-byte secret; the daemon and dossierctl
 * use vault_subkey(v, AUDIT_KDF_ID, AUDIT_KDF_CTX, secret), that is
 * vault_subkey(v, 1, "dsfaudit", secret). From it the module derives
 * (crypto_kdf, context "dsfaudsk") id 1 the sealing key, id 2 the tag
 * key and id 3 the Ed25519 seed. The secret is not kept; the derived keys
 * live in sodium_malloc'd memory and are wiped by audit_close().
 *
 * Durability. audit_record() returns once the record is committed. With
 * WAL and synchronous=NORMAL a committed record survives the daemon being
 * killed (SIGKILL, a crash): it is in the WAL file, which the next open
 * recovers. It need not survive a power cut or a kernel crash: the WAL is
 * fsynced at WAL checkpoints, not at every commit.
 *
 * Group commit. Any number of threads may call audit_record() at once.
 * Callers queue their records; whoever finds no commit in progress becomes
 * the leader and commits everything queued in one transaction, the others
 * wait for their record's result (leader/follower; no extra thread). The
 * seq and prev of each record are assigned inside that transaction, so a
 * transaction that fails is rolled back whole and leaves no gap.
 *
 * Fail closed. When the store cannot be written (locked by another
 * process beyond the busy timeout, disk full, read-only, damaged),
 * audit_record() returns -EIO, and the access must be refused; a store
 * locked by someone else holds callers up to the busy timeout first. The
 * module logs one line (syslog LOG_ERR and stderr) when the store goes
 * bad and one (LOG_NOTICE) when it works again; every call in between
 * retries, so service resumes by itself.
 *
 * Reading. A cursor yields records in seq order from a given seq,
 * filtered, with the names decrypted; it pages through the table (a short
 * read transaction per page) on its own read-only connection, so readers
 * never hold up the writer and memory does not grow with the store. There
 * is no follow mode: a reader polls, by calling audit_cursor_next() again
 * after it returned 0 or by opening a cursor from a higher seq.
 *
 * Errors: functions return 0 (or what is stated) or a negative errno:
 * -EINVAL for bad arguments, -ENOMEM, -ENOENT when there is no audit.db
 * (readers and verify) or no audit.pub (verify), -EKEYREJECTED when the
 * secret is not the one this store was made with (or audit.pub is not
 * its key), -EPROTONOSUPPORT for a newer store format, -EBADMSG for a
 * damaged or tampered record, -EIO when the store cannot be read or
 * written.
 *
 * Stored record hash (what audit_verify() recomputes): BLAKE2b-256 of the
 * ASCII string "dossierfs-audit-v1" followed by the 20 stored columns
 * seq, time_us, uid, user, roles, pid, exe, node, action, client_tag,
 * client, path, path2, outcome, errno, rule, policy, bytes, detail, prev,
 * each encoded by its SQLite type: NULL as the byte 0; INTEGER as 1 and
 * 8 bytes big-endian two's complement; TEXT as 3, BLOB as 4, each then a
 * 4-byte big-endian length and the bytes as stored (REAL, found only in
 * a tampered store, as 2 and the 8 bytes of the double). prev of seq 1
 * is 32 zero bytes. A checkpoint signs "dossierfs-audit-cp-v1" || seq
 * (8 bytes big-endian) || hash of that record (32) || time_us (8 bytes
 * big-endian); a document (audit_sign_doc()) "dossierfs-audit-doc-v1\n"
 * || the document.
 */
#ifndef DOSSIER_AUDIT_H
#define DOSSIER_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AUDIT_DB           "audit.db"
#define AUDIT_PUB          "audit.pub"
#define AUDIT_SECRETBYTES  32u
#define AUDIT_KDF_CTX      "dsfaudit"   /* the secret: vault_subkey() ctx */
#define AUDIT_KDF_ID       1u           /* ... and id */
#define AUDIT_HASHBYTES    32u
#define AUDIT_TEXT_MAX     4096u    /* bytes of one text field, no NUL */
#define AUDIT_QUEUE_MAX    4096u    /* records queued by audit_record_nowait */
#define AUDIT_QUEUE_LEAD   256u     /* ... when it commits them itself */
#define AUDIT_BUSY_MS      1000u    /* default wait for a locked store */

struct audit;
struct audit_cursor;

enum audit_outcome {
	AUDIT_ALLOWED = 1,
	AUDIT_DENIED  = 2,
	AUDIT_ERROR   = 3,
};

/*
 * One access, as the daemon reports it. Strings are UTF-8 (not checked;
 * any bytes but NUL are stored as given) of at most AUDIT_TEXT_MAX bytes;
 * NULL means "none" and is stored as such (distinct from ""). action and
 * outcome are required; node NULL means the node given to audit_open().
 *
 * client is the client folder's name, NULL for the mount root or an event
 * of no client (mount, policy-loaded, ...). path is the path inside the
 * client folder ("" for the folder itself, as in policy.h); path2 the
 * other name of a rename or link, or a symlink's target. A rename that
 * moves a file to another client folder should be recorded once per
 * client folder (in each, path its name there, path2 NULL and detail
 * saying which end it is), so that a client's records are complete by
 * themselves and a --client query finds both ends.
 */
struct audit_event {
	uid_t uid;
	const char *user;            /* the caller's name, NULL if unknown */
	const char *roles;           /* e.g. "manager,legal", NULL for none */
	pid_t pid;                   /* 0 if unknown */
	const char *exe;             /* from /proc/PID/exe, NULL if unknown */
	const char *node;
	const char *action;          /* "open", "rename", "audit-read", ... */
	const char *client;
	const char *path;
	const char *path2;
	enum audit_outcome outcome;
	int err;                     /* errno answered (positive), or 0 */
	const char *rule;            /* policy_decision.rule, or NULL */
	const char *policy;          /* policy_version(), or NULL */
	int has_bytes;               /* bytes is meaningful */
	uint64_t bytes;              /* at most INT64_MAX */
	const char *detail;          /* free text, or NULL */
};

/* A stored record; ev.node is always set. */
struct audit_row {
	uint64_t seq;
	int64_t time_us;             /* UTC, microseconds since the epoch */
	struct audit_event ev;
	unsigned char hash[AUDIT_HASHBYTES];  /* its stored hash, the link
	                              * in the chain (as stored: a cursor does
	                              * not recompute it; audit_verify() does) */
};

struct audit_config {
	const char *node;            /* NULL: the host name */
	unsigned busy_ms;            /* 0: AUDIT_BUSY_MS */
	int syslog;                  /* also send every committed record to
	                              * syslog (LOG_AUTHPRIV, one line in the
	                              * TEXT format, names included) */
};

/*
 * Opens (creating when absent) the store of the vault directory dirfd
 * for writing: audit.db and audit.pub. dirfd is not taken over (the
 * module keeps its own duplicate). cfg may be NULL. Fails with
 * -EKEYREJECTED when the store was made with another secret or audit.pub
 * holds another key. One writer per store: a second audit_open() on the
 * same vault works but its records interleave (still without gaps).
 * Open it in the process that will use it, after any fork() (such as
 * daemonizing): SQLite connections and their POSIX locks do not survive
 * a fork. The handle needs /proc (it reaches the store through
 * /proc/self/fd, so that it never depends on the vault's path).
 */
int audit_open(int dirfd, const unsigned char *secret,
               const struct audit_config *cfg, struct audit **out);

/*
 * Opens the store of dirfd for reading only (cursors), as the tools do;
 * -ENOENT when there is none. secret decrypts the names; the tools pass
 * the same one as the daemon.
 */
int audit_open_read(int dirfd, const unsigned char *secret,
                    struct audit **out);

/*
 * Commits what is still queued, then frees a and wipes its keys. Returns
 * 0, or -EIO when queued records could not be committed (they are lost,
 * and logged). NULL is ignored. No other call on a (or on a cursor of
 * it) may run or follow.
 */
int audit_close(struct audit *a);

/*
 * Records ev and returns once it is committed (0, and its seq in *seq if
 * seq is not NULL), or -EIO if the store cannot be written (nothing is
 * stored), -EINVAL for an event that breaks the rules above, -EBADF for
 * a read-only handle. Thread-safe.
 */
int audit_record(struct audit *a, const struct audit_event *ev,
                 uint64_t *seq);

/*
 * Queues ev (copied) and returns at once: for records that need not hold
 * up the caller, such as the bytes written, recorded at close, or a
 * denial. The record is committed with the next batch: by the next
 * audit_record(), audit_flush(), audit_checkpoint() or audit_close(), or
 * by this call itself when AUDIT_QUEUE_LEAD records are queued and no
 * commit is running (the caller then waits for that one commit), so that
 * a burst of such records cannot fill the queue. A queued record stays
 * queued across failed commits and is lost only if the process dies
 * first. Returns 0 (queued), -EINVAL, or -EIO when the store is failing
 * right now or AUDIT_QUEUE_MAX records are queued already (then nothing
 * is queued).
 */
int audit_record_nowait(struct audit *a, const struct audit_event *ev);

/* Commits everything queued. 0 or -EIO. */
int audit_flush(struct audit *a);

/* The head of the chain. */
struct audit_head {
	uint64_t seq;                /* 0 for an empty store */
	unsigned char hash[AUDIT_HASHBYTES];
	int64_t time_us;             /* of the checkpoint */
};

/*
 * Commits what is queued, then signs the head of the chain if it moved
 * since the last checkpoint. Returns 1 when it made a checkpoint (put in
 * *out if not NULL: worth a syslog line, as an anchor outside the vault),
 * 0 when there was nothing new to sign, -EIO on failure. The daemon calls
 * it every few seconds and at unmount.
 */
int audit_checkpoint(struct audit *a, struct audit_head *out);

/* Counters of this handle, for tests and status. */
struct audit_stats {
	uint64_t records;            /* records committed */
	uint64_t commits;            /* transactions that committed records */
	uint64_t failures;           /* transactions rolled back */
	uint64_t refused;            /* records answered -EIO */
	uint64_t queued;             /* records waiting now */
	uint64_t max_batch;          /* most records in one transaction */
	uint64_t head_seq;           /* last seq this handle committed */
	int failing;                 /* the last commit failed */
};
void audit_stats(struct audit *a, struct audit_stats *st);

/* Which records a cursor yields; zeroed, it yields all of them. since_us
 * is inclusive, until_us exclusive; 0 leaves that side open. */
struct audit_filter {
	uint64_t from_seq;           /* first seq wanted; 0 as 1 */
	const char *client;          /* exact name (by its tag) */
	const char *user;            /* exact user name */
	const char *action;          /* exact action */
	enum audit_outcome outcome;  /* 0: any */
	int64_t since_us;
	int64_t until_us;
};

/*
 * A cursor over the records f selects, in seq order, on a handle of
 * either kind. The filter's strings are copied. Cursors are independent
 * of each other and of the writer; one cursor is for one thread at a
 * time. Close it before its handle.
 */
int audit_cursor_open(struct audit *a, const struct audit_filter *f,
                      struct audit_cursor **out);

/*
 * The next record into *row: returns 1, or 0 when there is none (yet: a
 * later call yields records committed since), or a negative errno:
 * -EBADMSG when a stored name does not decrypt or a field is malformed
 * (row->seq then says which record; the cursor moves past it), -EIO when
 * the store cannot be read. Strings in *row (decrypted names included)
 * live in the cursor until the next call, or until the close, which
 * wipes them.
 */
int audit_cursor_next(struct audit_cursor *c, struct audit_row *row);

/*
 * Between two audit_cursor_next() calls that returned 1 the cursor may
 * still hold the read transaction of its page, which keeps SQLite from
 * checkpointing the WAL past it. audit_cursor_pause() ends it; the next
 * audit_cursor_next() goes on after the last record it answered (1 or
 * -EBADMSG) in a new page. The strings of the last row stay valid. A
 * reader that stops part-way through a page and does not know when it
 * will go on (a file served over FUSE) pauses. NULL is ignored.
 */
void audit_cursor_pause(struct audit_cursor *c);
void audit_cursor_close(struct audit_cursor *c);

/* What audit_verify() found. */
struct audit_verify {
	uint64_t records;
	uint64_t checkpoints;
	uint64_t last_checkpoint;    /* seq of the last checkpoint, or 0 */
	uint64_t unsigned_records;   /* records after it */
	uint64_t bad_seq;            /* first bad seq, or 0 */
	char reason[256];            /* what is wrong with it, or "" */
	char pubkey[65];             /* audit.pub's key in hex */
};

/*
 * Checks the store of dirfd with audit.pub only: every record's seq (no
 * gap, no extra), hash and link to the one before; every checkpoint's
 * signature and that the record it signed is there with that hash (which
 * catches a tail cut back into signed records). Reads one snapshot, so it
 * may run while the daemon writes; memory does not grow with the store.
 * Returns 0 when all is well, -EBADMSG for the first problem (bad_seq and
 * reason set; bad_seq is 0 for a problem of no record, such as a key
 * mismatch), or another negative errno when it could not check.
 * Records after the last checkpoint are covered by the chain only: anyone
 * who can write the file can rewrite them consistently.
 */
int audit_verify(int dirfd, struct audit_verify *out);

/*
 * Documents signed with the store's key. audit_sign_doc() signs msg
 * (len bytes, any content) with the checkpoint key of a (a handle of
 * either kind: audit_open() or audit_open_read()) into sig, as Ed25519
 * over "dossierfs-audit-doc-v1\n" || msg. The prefix keeps the two
 * kinds of signature apart: checkpoints sign "dossierfs-audit-cp-v1" ||
 * ..., and the two prefixes differ in their 17th byte, so a document
 * signature never verifies as a checkpoint's nor the reverse, whatever
 * msg holds. Returns 0, -EINVAL, -ENOMEM. Thread-safe.
 *
 * audit_check_doc() checks such a signature with audit.pub of the vault
 * directory dirfd alone (no secret): 0, -EBADMSG when sig is not the
 * signature of msg by that key, -ENOENT when there is no audit.pub,
 * -EINVAL when it is not a key file, another negative errno when it
 * cannot be read.
 */
int audit_sign_doc(struct audit *a, const void *msg, size_t len,
                   unsigned char sig[64]);
int audit_check_doc(int dirfd, const void *msg, size_t len,
                    const unsigned char sig[64]);

/*
 * Share manifests (sharepkg.h) signed with the store's key, so that a
 * recipient checks a package with the vault's audit.pub. Only a message
 * that starts with AUDIT_SHARE_PREFIX is signed (-EINVAL otherwise), as
 * Ed25519 over the message itself: the prefix starts with 'f', while
 * checkpoints and documents start with "dossierfs-audit-", so no
 * manifest signature verifies as one of them, nor the reverse. Returns
 * 0 or -EINVAL. Thread-safe. audit_pubkey() gives the public key.
 */
#define AUDIT_SHARE_PREFIX "format=dossierfs-share-manifest-v1\n"
int audit_sign_share(struct audit *a, const void *msg, size_t len,
                     unsigned char sig[64]);
void audit_pubkey(const struct audit *a, unsigned char pk[32]);

/*
 * The stored hash of record seq of the store of dirfd into hash, read
 * from audit.db with no secret (read-only; it may run while the daemon
 * writes). Returns 0, -ENOENT when there is no such record (or no
 * audit.db), -EINVAL for seq 0 or above INT64_MAX, -EBADMSG when the
 * stored hash is not 32 bytes, -EIO when the store cannot be read. As
 * with a cursor's row.hash, this is the hash as stored; whether the
 * record still matches it and the chain holds is audit_verify()'s to
 * say.
 */
int audit_hash_at(int dirfd, uint64_t seq,
                  unsigned char hash[AUDIT_HASHBYTES]);

/* "allowed", "denied", "error"; NULL for anything else. */
const char *audit_outcome_name(enum audit_outcome o);

/* Parses one of those names; 0 or -EINVAL. */
int audit_outcome_parse(const char *name, enum audit_outcome *out);

enum audit_format {
	AUDIT_FMT_TEXT,              /* one human-readable log line */
	AUDIT_FMT_CSV,               /* RFC 4180, CRLF line end */
	AUDIT_FMT_JSON,              /* one JSON object a line */
};

/*
 * Formats one record as one line, newline included, into buf (always
 * NUL-terminated when cap > 0), like snprintf: returns the length the
 * whole line needs, without the NUL; a result >= cap means it was cut
 * short. TEXT: "TIME seq=N key=value ...", keys with no value left out,
 * values with spaces, quotes, '=', control or non-ASCII-printable bytes
 * quoted with C escapes. CSV: fields quoted when they hold ',', '"', CR
 * or LF (quotes doubled); no value is an empty field. JSON: strings
 * escaped (quotes, backslash, control characters; valid UTF-8 kept,
 * other bytes >= 0x80 as \u00XX); no value is null.
 */
size_t audit_format(const struct audit_row *r, enum audit_format f,
                    char *buf, size_t cap);

/* The header line of a format (CSV only; "" for the others), as above. */
size_t audit_format_header(enum audit_format f, char *buf, size_t cap);

#endif
