/*
 * fsio: plaintext reads and writes on one encrypted backing file.
 *
 * Translates plaintext offsets to blocks (blockcodec.h), reads, decrypts,
 * merges, encrypts and writes them with positional I/O on fd. No FUSE, no
 * globals: the daemon and the unit tests call the same code.
 *
 * Locking is the caller's: hold the file's lock exclusively around
 * fsio_write, fsio_truncate, fsio_allocate and fsio_rewrap, and at least
 * shared around fsio_read. wrap is the key the file key is wrapped under
 * (its client's key); it is needed when the header must be rewritten.
 *
 * Returns a byte count or 0 on success, a negative errno on failure;
 * -EIO means the stored data did not authenticate (tampered, truncated,
 * or moved) and no plaintext was returned for it.
 */
#ifndef DOSSIER_FSIO_H
#define DOSSIER_FSIO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "blockcodec.h"

/* Loads the file key from the header of fd. An empty backing file gets a
 * new header when create is set, else -ENODATA. */
int fsio_key_load(int fd, enum bc_cipher c, const unsigned char *wrap,
                  bool create, struct bc_key *out);

/* Plaintext size of the file. */
int fsio_size(int fd, enum bc_cipher c, uint64_t *size);

ssize_t fsio_read(int fd, const struct bc_key *k, void *buf, size_t len,
                  uint64_t off);
ssize_t fsio_write(int fd, struct bc_key *k, const unsigned char *wrap,
                   const void *buf, size_t len, uint64_t off);
int fsio_truncate(int fd, struct bc_key *k, const unsigned char *wrap,
                  uint64_t size);

/* Guarantees backing space for [off, off+len), extending the file with
 * encrypted zeros (not holes) when it ends past the current size. */
int fsio_allocate(int fd, struct bc_key *k, const unsigned char *wrap,
                  uint64_t off, uint64_t len);

/* Rewrites the header with the file key wrapped under wrap (k->flags as
 * they are), synced. */
int fsio_rewrap(int fd, const struct bc_key *k, const unsigned char *wrap);

/* A buffer of at least n bytes owned by the calling thread, one per slot
 * (0..FSIO_SLOTS-1), reused across calls and freed when the thread ends;
 * NULL if memory is short. Callers wipe what they leave in it. */
#define FSIO_SLOTS 3
void *fsio_scratch(unsigned slot, size_t n);

#endif
