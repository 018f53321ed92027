/*
 * unlock: the command-line side of getting a vault's key, shared by
 * dossierfs and dossierctl. The key comes from a passphrase file, a key
 * file, or the terminal (echo off), never from argv or the environment.
 *
 * These functions print one clear line on stderr on failure (prefixed with
 * prog) and return a negative errno; they are for the tools' main paths.
 */
#ifndef DOSSIER_UNLOCK_H
#define DOSSIER_UNLOCK_H

#include "vault.h"

struct unlock_src {
	const char *passphrase_file;   /* or NULL */
	const char *key_file;          /* or NULL */
};

/* Derives the KEK for p from src into kek (KW_KEYBYTES). confirm asks the
 * terminal twice (for a new passphrase). */
int unlock_kek(const char *prog, const struct kw_params *p,
               const struct unlock_src *src, int confirm,
               unsigned char *kek);

/* Reads the parameters of the vault at path. */
int unlock_params(const char *prog, const char *path, struct kw_params *p);

/* Checks that kek unlocks the vault at path (parameters p). */
int unlock_check(const char *prog, const char *path,
                 const struct kw_params *p, const unsigned char *kek);

/* Opens and unlocks the vault at path. */
int unlock_vault(const char *prog, const char *path,
                 const struct unlock_src *src, struct vault **out);

#endif
