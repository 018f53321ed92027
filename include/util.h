/*
 * util: small helpers the modules share: the wall clock in microseconds,
 * whole writes, and strdup of an optional string.
 */
#ifndef DOSSIERFS_UTIL_H
#define DOSSIERFS_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Microseconds since the epoch (CLOCK_REALTIME). */
int64_t now_us(void);

/* Writes all n bytes of p to fd, at the file offset (write_all) or at off
 * (pwrite_all), again after EINTR and short writes. 0, or a negative
 * errno (-EIO when the kernel writes nothing). */
int write_all(int fd, const void *p, size_t n);
int pwrite_all(int fd, const void *p, size_t n, uint64_t off);

/* A copy of s, or NULL when s is NULL (or memory is short). */
char *strdup_or_null(const char *s);

#endif
