/*
 * ctlutil: what several dossierctl subcommands share. Each function
 * prints its own one-line error, prefixed with prog.
 */
#ifndef DOSSIER_CTLUTIL_H
#define DOSSIER_CTLUTIL_H

#include <stdint.h>

#include "audit.h"
#include "control.h"
#include "unlock.h"

/* "YYYY-MM-DD[ HH:MM[:SS]]", local time, into microseconds since the
 * epoch. 0 or -EINVAL (nothing printed: the caller says which option). */
int ctl_parse_time(const char *s, int64_t *us);

/* The vault directory, opened, if it is a vault with an audit store;
 * else one line on stderr and -1. */
int ctl_store_dir(const char *prog, const char *vault);

/* The audit store of vault, opened for reading with the vault's key
 * (unlocked from src): 0, or -1 with one line on stderr. */
int ctl_open_store(const char *prog, const char *vault,
                   const struct unlock_src *src, struct audit **out);

/* Sends req (and fd, if >= 0) to the daemon of the mount at mnt through
 * its control socket, then frees req. 0 with the reply in *rep when the
 * daemon says ok (free it with kv_msg_free()), else 1 with the reason on
 * stderr. */
int ctl_call(const char *prog, const char *mnt, struct kvbuf *req, int fd,
             struct kvmsg *rep);

/* One option that takes a value: --flag VALUE stores VALUE in *dst. */
struct ctl_flag {
	const char *flag;
	const char **dst;
};

/*
 * Parses argv[first..argc): the options of t (n of them), each with its
 * value, and up to npos other arguments, stored in pos[0], pos[1], ...
 * in order. Returns how many options were given, or -1 for bad usage
 * (an unknown option, one without its value, too many arguments).
 */
int ctl_flags(int argc, char **argv, int first, const struct ctl_flag *t,
              size_t n, const char **pos, size_t npos);

#endif
