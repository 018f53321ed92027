/*
 * secret: getting a passphrase or key file into memory, and nowhere else.
 *
 * Buffers passed in should be sodium_malloc'd by the caller; these
 * functions wipe their own temporaries on every path. Returns 0 or a
 * negative errno; -ENODATA for an empty passphrase, -EINVAL for a key file
 * that is not 64 hex digits, -EEXIST when a key file would be overwritten.
 */
#ifndef DOSSIER_SECRET_H
#define DOSSIER_SECRET_H

#include <stddef.h>

#define SECRET_MAX 1024u

/* Reads the first line of path (without its newline). */
int secret_read_file(const char *path, char *buf, size_t cap, size_t *len);

/* Reads one line from the controlling terminal with echo off. -ENOTTY
 * when there is no terminal. */
int secret_read_tty(const char *prompt, char *buf, size_t cap, size_t *len);

/* Creates path (never overwriting, mode 0600) holding a new random key. */
int secret_keyfile_create(const char *path, unsigned char *key);

/* Reads a key file made by secret_keyfile_create(). */
int secret_keyfile_read(const char *path, unsigned char *key);

/* Turns off core dumps and ptrace attach for this process. */
void secret_harden_process(void);

#endif
