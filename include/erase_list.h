/*
 * erase_list: the eraser's queue (VAULT/erase, see erase.h) as it is on
 * disk, read without an eraser, for dossierctl erase status.
 *
 * It only reads, so it may run while the daemon works the queue: each
 * job is listed in the furthest state whose file opens (a newer state
 * file is written before the older one is destroyed, so a job that
 * moves on while it is read is still seen once). A job that finishes
 * meanwhile may be left out. The job files are opened with the key the
 * eraser seals them under (vault_subkey(v, 2, ERASE_KDF_CTX)); their
 * format, from src/erase.c: "DSFJOB1\n", a 24-byte nonce, then the
 * XChaCha20-Poly1305-IETF ciphertext of a list of (tag, 16-bit
 * big-endian length, value) with the 32-character ID as associated data.
 *
 * Errors: 0 or a negative errno (-ENOMEM, or why VAULT/erase cannot be
 * read). A job file that does not open is no error: the job is listed
 * with err set and no fields.
 */
#ifndef DOSSIER_ERASE_LIST_H
#define DOSSIER_ERASE_LIST_H

#include <stddef.h>
#include <stdint.h>

#include "erase.h"
#include "vault.h"

enum erase_state {
	ERASE_QUEUED,            /* ID.job: waiting; nothing done yet */
	ERASE_SUMMED,            /* ID.sum: digest taken; overwriting */
	ERASE_VERIFIED,          /* ID.done: overwritten and verified;
	                          * removing and recording */
	ERASE_ORPHAN,            /* ID.data alone: no job file, never run */
};

/* One job of the queue. Strings are NULL when the job file has none. */
struct erase_job {
	char id[ERASE_IDLEN + 1];
	enum erase_state state;
	int data;                /* ID.data is there */
	int err;                 /* 0, or why no job file opened: -EBADMSG
	                          * (damaged, or another vault's), -ENOENT
	                          * (ERASE_ORPHAN), ... */
	char *reason, *user, *roles, *rule, *policy, *client, *path;
	char *digest, *verify;
	uint32_t uid;
	uint64_t size;           /* plaintext bytes */
	int64_t requested_us;    /* UTC microseconds; 0: not yet */
	int64_t started_us;
	int64_t ended_us;
};

/*
 * Lists the queue of vault v into *jobs (*n of them, malloc'd; NULL when
 * none), oldest request first (then by ID; jobs that did not open last).
 * No queue directory is an empty queue.
 */
int erase_list(const struct vault *v, struct erase_job **jobs, size_t *n);

/* Frees a list of erase_list(), wiping the names. NULL is ignored. */
void erase_list_free(struct erase_job *jobs, size_t n);

#endif
