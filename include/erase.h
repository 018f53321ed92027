/*
 * erase: verified secure erasure of backing files, with a queue that
 * survives crashes, and the destruction records.
 *
 * A file to destroy is first moved (or, for the target of a rename over
 * it, hard-linked) into the vault's queue directory, VAULT/erase (mode
 * 0700), next to a job file; from then on its name is gone from the
 * mount and the request may return. A background thread then, per job:
 *
 *   1. waits until nobody has the file open (the caller's busy check);
 *   2. reads the plaintext once and takes its BLAKE2b-256 digest (what
 *      was destroyed);
 *   3. overwrites every byte of the backing file with a pseudo-random
 *      pattern (XChaCha20 keystream under a key of this job), fdatasync;
 *   4. reads it all back bypassing the page cache (O_DIRECT, or where the
 *      filesystem refuses O_DIRECT, after posix_fadvise DONTNEED) and
 *      compares with the pattern;
 *   5. the file key was in the header, overwritten in 3: that is the
 *      cryptographic erase; the job's own copy of it (see below) goes
 *      with the job file, itself overwritten, verified and removed;
 *   6. removes the backing file and syncs the queue directory;
 *   7. commits the destruction record to the audit store.
 *
 * A verification mismatch or an I/O error is a failed attempt: recorded
 * (action "destroy", outcome "error") and retried later (after 10 s,
 * then doubling up to 10 min); the job stays queued. Nothing is ever
 * recorded as done that was not verified.
 *
 * Queue files, ID being 32 random hex digits:
 *   ID.data   the file being destroyed
 *   ID.job    queued: what was asked, by whom, and the file's header
 *             re-wrapped under a key of the eraser (so the digest can be
 *             taken without the client key); sealed (XChaCha20-Poly1305)
 *             under another key derived from the master key
 *   ID.sum    the same plus the digest and the start time: the digest is
 *             kept before anything is overwritten
 *   ID.done   the same plus the verification result and the end time
 * A new job's ID.job is written and the file moved in without a sync,
 * so that a deletion costs no fsync: it survives the daemon's death at
 * once (the page cache, like the deletion's audit record), and the
 * eraser thread puts every new job on stable storage with one syncfs()
 * when the deletions pause, within a second at most, and before it
 * works on any of them; so does eraser_close(). ID.sum and ID.done are
 * written (O_EXCL, fsync, directory fsync) before the state before them
 * is destroyed. A crash at any point leaves a state that eraser_open()
 * resumes: a lone ID.job (the move never happened: dropped, no record;
 * the file is still under its name), ID.job or ID.sum with ID.data
 * (redone from that step), ID.done (recorded unless the store already
 * holds its record, then cleaned up), ID.data with no readable job file
 * (a power loss before the sync: destroyed as an "orphan", requester
 * and digest unknown).
 *
 * New jobs wait until deletions pause for 0.2 s (or for 5 s at most):
 * a burst of deletions is not slowed by its own erasure.
 *
 * The destruction record: action "destroy", the requester's uid, user,
 * roles, pid and executable, the rule and policy version that allowed
 * the request, client, path, bytes = the plaintext size, outcome
 * "allowed" (done) or "error" (failed attempt, with errno), and detail,
 * a list of "key=value" joined by "; " (values never hold ';'):
 *   id, reason (unlink, replace, truncate, client-folder, orphan), digest
 *   ("blake2b-256:HEX", or "unavailable: ..." when the stored data did
 *   not authenticate), method-type ("purge" with a file key, "clear"
 *   without), method, tool ("dossierfs VERSION"), verification ("read
 *   back N bytes (O_DIRECT) and compared: match"), requested, started,
 *   ended (UTC ISO times to the microsecond), and on failure error.
 *
 * Test-only faults: built with -DDOSSIER_FAULTS (tests/dossierfs-faults),
 * DOSSIER_FAULT=write or verify in the environment makes the first
 * DOSSIER_FAULT_COUNT (default 1) overwrites of data files fail, and
 * DOSSIER_FAULT_RETRY_MS sets the first retry's delay.
 *
 * Thread safety: eraser_queue(), eraser_release(), eraser_abort() and
 * eraser_stats() may be called from any thread. Returns 0 or a negative
 * errno.
 */
#ifndef DOSSIER_ERASE_H
#define DOSSIER_ERASE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit.h"
#include "blockcodec.h"
#include "vault.h"

#define ERASE_DIR      "erase"
#define ERASE_IDLEN    32u            /* hex digits of a job ID */
#define ERASE_KDF_CTX  "dsferase"     /* vault_subkey(): 1 wraps, 2 seals */
#define ERASE_TOOL     "dossierfs 0.5"

struct eraser;

/* Who asked for a destruction, and what: copied into the job. */
struct erase_req {
	const char *reason;          /* "unlink", "replace", ... */
	uid_t uid;
	pid_t pid;
	const char *user, *roles, *exe;   /* NULL if unknown */
	const char *rule, *policy;        /* what allowed it, or NULL */
	const char *client, *path;        /* where it was */
	const char *note;            /* why no digest can be taken, or NULL */
};

/* Whether the backing inode (dev, ino) is open in the daemon: the eraser
 * waits until it is not. */
typedef bool (*erase_busy_fn)(void *ctx, dev_t dev, ino_t ino);

/*
 * Opens the queue of vault v (creating VAULT/erase), resumes what a
 * crash left there and starts the eraser thread, which records in a.
 * busy may be NULL (nothing is ever busy).
 */
int eraser_open(struct vault *v, struct audit *a, erase_busy_fn busy,
                void *ctx, struct eraser **out);

/*
 * Stops the thread and frees e: a job being worked is finished unless it
 * is still to be overwritten (the long step), which waits for the next
 * mount like every job not finished: they stay queued on disk for the
 * next eraser_open(). NULL is ignored.
 */
void eraser_close(struct eraser *e);

/*
 * Queues the destruction of regular file stored in directory dirfd: the
 * entry is renamed into the queue (link: hard-linked instead, for the
 * target of a rename that will replace it). k is the file's key (NULL
 * for a file that has no header yet: nothing to decrypt), size its
 * plaintext size. Returns once the job is queued (durable against the
 * daemon's death; on disk within a second, see above); *id (ERASE_IDLEN
 * + 1 bytes, may be NULL) names it.
 */
int eraser_queue(struct eraser *e, int dirfd, const char *stored, bool link,
                 const struct bc_key *k, uint64_t size,
                 const struct erase_req *r, char *id);

/* A job queued with link waits until its rename is done: release lets
 * it run; abort takes it back (the rename failed): the link and the job
 * file are removed and nothing is recorded. */
int eraser_release(struct eraser *e, const char *id);
int eraser_abort(struct eraser *e, const char *id);

/*
 * Truncates file fd (key k, its client key wrap) to size bytes of
 * plaintext, erasing what is cut off, at once: the digest of the cut-off
 * plaintext, then the backing bytes from the block holding the new end
 * overwritten and verified (erase_range()) before the file is cut there,
 * and the kept part of that block written again. Records the destruction
 * (reason from r; method-type "clear": the file key stays) as done or
 * failed; a failed erase is tried 3 times, and the file is cut anyway.
 * The caller holds the file's content lock exclusively. A size not below
 * the current one is a plain fsio_truncate().
 */
int eraser_cut(struct eraser *e, int fd, struct bc_key *k,
               const unsigned char *wrap, uint64_t size,
               const struct erase_req *r);

/* A file of no plaintext (a header with its key at most) is destroyed
 * at once, without the queue: the header overwritten and verified
 * (erase_range()), the entry removed, the destruction recorded. On an
 * error nothing is removed and nothing recorded (queue it instead). */
int eraser_empty(struct eraser *e, int dirfd, const char *stored,
                 const struct erase_req *r);

/* Erases small file name in dirfd at once (a client folder's sealed
 * key), removes it and records the destruction (reason from r). */
int eraser_file(struct eraser *e, int dirfd, const char *name,
                const struct erase_req *r);

/* Jobs in the queue now, and attempts that failed since the open. */
struct erase_stats {
	uint64_t queued;             /* jobs not finished */
	uint64_t done;               /* since eraser_open() */
	uint64_t failed;             /* failed attempts since eraser_open() */
};
void eraser_stats(struct eraser *e, struct erase_stats *st);

/* Waits until the queue is empty or timeout_ms passed: 0, or -ETIMEDOUT. */
int eraser_drain(struct eraser *e, unsigned timeout_ms);

/*
 * Overwrites bytes [off, off + len) of the file fd with a pseudo-random
 * pattern, syncs, reads them back bypassing the page cache and compares.
 * Returns 0, -EIO on a mismatch (or a failed write or read), or another
 * negative errno; *how (if not NULL) says how it read back ("O_DIRECT"
 * or "page cache dropped"). For the cut-off part of a truncation and for
 * small key files.
 */
int erase_range(int fd, uint64_t off, uint64_t len, const char **how);

/* erase_range() over the whole file name in dirfd, then unlinks it and
 * syncs dirfd. */
int erase_file_at(int dirfd, const char *name);

#endif
