/* Verified secure erasure and its queue: see include/erase.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "erase.h"
#include "fsio.h"
#include "util.h"

#define CHUNK       (1u << 20)          /* overwrite and read-back unit */
#define ALIGN       4096u               /* O_DIRECT alignment */
#define MAGIC       "DSFJOB1\n"
#define MAGICLEN    8u
#define META_MAX    (64u << 10)
#define RETRY_FIRST 10000000ll          /* µs before the first retry */
#define RETRY_MAX   600000000ll         /* ... and at most */
#define QUIET_US    200000ll            /* a burst of deletions goes first */
#define SYNC_MAX_US 1000000ll           /* queued jobs on disk within this */
#define PATIENCE_US 5000000ll           /* then work even during a burst */
#define POLL_US     50000ll
#define SPARE_DIR   "erase-spare"       /* empty job files, made ahead */
#define SPARE_FIRST 256u                /* spares kept at first ... */
#define SPARE_LOW   8192u               /* ... up to this, after bursts */
#define SPARE_BATCH 128u                /* at a time, between deletions */
#define SPARE_MAX   16384u              /* kept for reuse at most */

enum jstate { J_JOB, J_SUM, J_DONE };
static const char *const suffix[] = { ".job", ".sum", ".done" };

/* What a job file holds. Strings are malloc'd (NULL: none) and wiped. */
struct meta {
	char *reason, *user, *roles, *exe, *rule, *policy, *client, *path;
	uint32_t uid, pid;
	int64_t requested_us, started_us, ended_us;
	uint64_t size;                   /* plaintext bytes */
	uint32_t cipher;                 /* 0: no header (never written) */
	unsigned char hdr[BC_HEADER];    /* re-wrapped under the wrap key */
	char *digest, *verify;
};

struct job {
	struct job *next;
	char id[ERASE_IDLEN + 1];
	enum jstate state;
	struct meta m;
	bool held;                       /* link job whose rename is pending */
	bool resumed;                    /* found by eraser_open() */
	uint64_t gen;                    /* queue order; 0: resumed */
	unsigned attempts;
	int64_t retry_at_us;
};

struct eraser {
	struct vault *v;
	struct audit *a;
	erase_busy_fn busy;
	void *ctx;
	int qfd;                         /* VAULT/erase */
	int sfd;                         /* VAULT/erase-spare */
	unsigned *spare;                 /* under mu: numbers of spare files */
	size_t nspare;                   /* under mu */
	unsigned next_spare;             /* under mu: the next new number */
	bool spare_off;                  /* under mu: making spares failed */
	size_t spare_goal;               /* under mu: made when fewer left */
	unsigned char *wrap;             /* sodium_malloc: header re-wrap key */
	unsigned char *seal;             /* sodium_malloc: job file key */
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;               /* work queued, stop, or drained */
	struct job *jobs;                /* under mu */
	struct job *last;                /* under mu: the end of jobs */
	bool stop;                       /* under mu */
	struct job *running;             /* under mu */
	struct erase_stats st;           /* under mu */
	uint64_t gen_queued, gen_synced; /* under mu: jobs queued, on disk */
	int64_t last_queued_us;          /* under mu */
	int64_t first_unsynced_us;       /* under mu */
	int64_t wakes_at_us;             /* under mu: the thread sleeps until */
	int64_t retry_first;             /* µs before the first retry */
#ifdef DOSSIER_FAULTS
	char fault[16];
	unsigned faults;                 /* injections left */
#endif
};

static void iso_time(int64_t us, char out[64])
{
	time_t s = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
	         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	         tm.tm_min, tm.tm_sec, (long)(us % 1000000));
}

static int fsync_fd(int fd)
{
	return fsync(fd) != 0 ? -errno : 0;
}

/* ---- overwriting and verifying --------------------------------------- */

/* The buffers of one erase_range_at(). */
struct erase_bufs {
	unsigned char *pat, *got, *scratch, *bounce;
	size_t cap;         /* bytes of pat and got: at most CHUNK */
	bool may_stop;      /* a queued job: gives way to an unmount */
};

/* The pattern of bytes [pos, pos + n) of the file under key; scratch
 * holds n + 64 bytes. */
static void pattern(const unsigned char *key, uint64_t pos, unsigned char *out,
                    size_t n, unsigned char *scratch)
{
	static const unsigned char nonce[crypto_stream_xchacha20_NONCEBYTES];
	size_t lead = (size_t)(pos % 64);

	memset(scratch, 0, n + lead);
	crypto_stream_xchacha20_xor_ic(scratch, scratch, n + lead, nonce,
	                               pos / 64, key);
	memcpy(out, scratch + lead, n);
}

/* Reads [off, off + n) into buf through rfd (O_DIRECT when direct):
 * aligned reads of the enclosing blocks into bounce. */
static int read_back(int rfd, bool direct, unsigned char *bounce,
                     unsigned char *buf, size_t n, uint64_t off)
{
	uint64_t start = direct ? off & ~(uint64_t)(ALIGN - 1) : off;
	size_t lead = (size_t)(off - start);
	size_t want = direct ? ((lead + n + ALIGN - 1) & ~(size_t)(ALIGN - 1))
	                     : n;
	size_t got = 0;

	while (got < lead + n) {
		ssize_t r = pread(rfd, bounce + got, want - got,
		                  (off_t)(start + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;         /* the file got shorter */
		got += (size_t)r;
	}
	memcpy(buf, bounce + lead, n);
	return 0;
}

/* True once the eraser is told to stop (unmount). */
static bool stopping(const struct eraser *e)
{
	return e != NULL && __atomic_load_n(&e->stop, __ATOMIC_RELAXED);
}

/*
 * The next stretch of data of fd at or after *pos, before end: [*pos,
 * *stop). Holes hold no blocks and are skipped (a sparse file is not
 * filled in). Returns 1, or 0 when there is no more data.
 */
static int next_data(int fd, uint64_t *pos, uint64_t end, uint64_t *stop)
{
	off_t d = lseek(fd, (off_t)*pos, SEEK_DATA), h;

	if (d < 0 && errno == ENXIO)
		return 0;
	if (d < 0)
		d = (off_t)*pos;             /* no SEEK_DATA: all data */
	if ((uint64_t)d >= end)
		return 0;
	h = lseek(fd, d, SEEK_HOLE);
	*pos = (uint64_t)d;
	*stop = h < 0 || (uint64_t)h > end ? end : (uint64_t)h;
	return 1;
}

/* One pass over the data of [off, off + len): write the pattern
 * (verify false), or read it back through rfd and compare. */
static int pass_over(struct eraser *e, int fd, int rfd, bool verify,
                     bool direct, const unsigned char *key, uint64_t off,
                     uint64_t len, struct erase_bufs *b, uint64_t *bytes)
{
	uint64_t pos = off, stop, end = off + len;
	int rc;

	*bytes = 0;
	while (pos < end && next_data(fd, &pos, end, &stop)) {
		for (; pos < stop;) {
			size_t n = (size_t)(stop - pos < b->cap ? stop - pos
			                                        : b->cap);

			if (b->may_stop && stopping(e))
				return -EINTR;   /* unmounting: next mount */
			pattern(key, pos, b->pat, n, b->scratch);
			if (!verify) {
#ifdef DOSSIER_FAULTS
				if (e != NULL && e->faults > 0 &&
				    strcmp(e->fault, "write") == 0) {
					e->faults--;
					return -EIO;
				}
#endif
				if ((rc = pwrite_all(fd, b->pat, n, pos)) != 0)
					return rc;
			} else {
				if ((rc = read_back(rfd, direct, b->bounce,
				                    b->got, n, pos)) != 0)
					return rc;
#ifdef DOSSIER_FAULTS
				if (e != NULL && e->faults > 0 &&
				    strcmp(e->fault, "verify") == 0) {
					e->faults--;
					b->got[0] ^= 1;
				}
#endif
				if (sodium_memcmp(b->pat, b->got, n) != 0) {
					syslog(LOG_ERR, "erase: read-back differs "
					       "from what was written");
					return -EIO;
				}
			}
			pos += n;
			*bytes += n;
		}
	}
	return 0;
}

/* Overwrites [off, off + len) of fd and verifies it. A queued job
 * (may_stop) gives up with -EINTR when the eraser is told to stop. */
static int erase_range_at(struct eraser *e, int fd, uint64_t off,
                          uint64_t len, bool may_stop, const char **how,
                          uint64_t *done)
{
	unsigned char key[crypto_stream_xchacha20_KEYBYTES];
	struct erase_bufs b = { .may_stop = may_stop };
	uint64_t wrote = 0, read = 0;
	char path[64];
	bool direct = true;
	int rfd = -1, rc = -ENOMEM;

	randombytes_buf(key, sizeof(key));
	/* Buffers as large as the range, up to CHUNK: a job file is small. */
	b.cap = len < CHUNK ? ((size_t)len + ALIGN - 1) / ALIGN * ALIGN : CHUNK;
	if (b.cap == 0)
		b.cap = ALIGN;
	b.pat = malloc(b.cap);
	b.got = malloc(b.cap);
	b.scratch = malloc(b.cap + 64);
	if (b.pat == NULL || b.got == NULL || b.scratch == NULL ||
	    posix_memalign((void **)&b.bounce, ALIGN, b.cap + 2 * ALIGN) != 0)
		goto out;
	if ((rc = pass_over(e, fd, -1, false, false, key, off, len, &b,
	                    &wrote)) != 0)
		goto out;
	if (fdatasync(fd) != 0) {
		rc = -errno;
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rfd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (rfd < 0) {
		/* tmpfs and the like: no O_DIRECT; drop the cached pages. */
		direct = false;
		posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
		rfd = open(path, O_RDONLY | O_CLOEXEC);
		if (rfd < 0) {
			rc = -errno;
			goto out;
		}
	}
	if ((rc = pass_over(e, fd, rfd, true, direct, key, off, len, &b,
	                    &read)) != 0)
		goto out;
	if (read != wrote) {
		rc = -EIO;                   /* the data map changed */
		goto out;
	}
	if (how != NULL)
		*how = direct ? "O_DIRECT" : "page cache dropped";
	if (done != NULL)
		*done = read;
out:
	sodium_memzero(key, sizeof(key));
	if (rfd >= 0)
		close(rfd);
	free(b.pat);
	free(b.got);
	free(b.scratch);
	free(b.bounce);
	return rc;
}

int erase_range(int fd, uint64_t off, uint64_t len, const char **how)
{
	return erase_range_at(NULL, fd, off, len, false, how, NULL);
}

/* Job files and key files: never a target of injected faults. */
int erase_file_at(int dirfd, const char *name)
{
	struct stat st;
	int fd, rc;

	fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = fstat(fd, &st) != 0 ? -errno
	     : erase_range_at(NULL, fd, 0, (uint64_t)st.st_size, false,
	                    NULL, NULL);
	close(fd);
	if (rc == 0 && unlinkat(dirfd, name, 0) != 0)
		rc = -errno;
	return rc != 0 ? rc : fsync_fd(dirfd);
}

/* ---- job files ------------------------------------------------------- */

enum tag { T_REASON = 1, T_USER, T_ROLES, T_EXE, T_RULE, T_POLICY,
           T_CLIENT, T_PATH, T_UID, T_PID, T_REQUESTED, T_STARTED,
           T_ENDED, T_SIZE, T_CIPHER, T_HDR, T_DIGEST, T_VERIFY };

struct buf {
	unsigned char *p;
	size_t len, cap;
	bool bad;
};

static void put(struct buf *b, unsigned tag, const void *v, size_t n)
{
	if (b->bad || n > 0xffff || b->len + 3 + n > b->cap) {
		b->bad = true;
		return;
	}
	b->p[b->len++] = (unsigned char)tag;
	b->p[b->len++] = (unsigned char)(n >> 8);
	b->p[b->len++] = (unsigned char)n;
	memcpy(b->p + b->len, v, n);
	b->len += n;
}

static void put_str(struct buf *b, unsigned tag, const char *s)
{
	if (s != NULL)
		put(b, tag, s, strlen(s));
}

static void put_u64(struct buf *b, unsigned tag, uint64_t v)
{
	unsigned char x[8];

	for (int i = 0; i < 8; i++)
		x[i] = (unsigned char)(v >> (56 - 8 * i));
	put(b, tag, x, 8);
}

static uint64_t get_u64(const unsigned char *x, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n && i < 8; i++)
		v = v << 8 | x[i];
	return v;
}

static void meta_free(struct meta *m)
{
	char **s[] = { &m->reason, &m->user, &m->roles, &m->exe, &m->rule,
	               &m->policy, &m->client, &m->path, &m->digest,
	               &m->verify };

	for (size_t i = 0; i < sizeof(s) / sizeof(*s); i++) {
		if (*s[i] != NULL) {
			sodium_memzero(*s[i], strlen(*s[i]));
			free(*s[i]);
		}
	}
	sodium_memzero(m, sizeof(*m));
}

static size_t meta_encode(const struct meta *m, unsigned char *out, size_t cap)
{
	struct buf b = { .p = out, .cap = cap };

	put_str(&b, T_REASON, m->reason);
	put_str(&b, T_USER, m->user);
	put_str(&b, T_ROLES, m->roles);
	put_str(&b, T_EXE, m->exe);
	put_str(&b, T_RULE, m->rule);
	put_str(&b, T_POLICY, m->policy);
	put_str(&b, T_CLIENT, m->client);
	put_str(&b, T_PATH, m->path);
	put_u64(&b, T_UID, m->uid);
	put_u64(&b, T_PID, m->pid);
	put_u64(&b, T_REQUESTED, (uint64_t)m->requested_us);
	put_u64(&b, T_STARTED, (uint64_t)m->started_us);
	put_u64(&b, T_ENDED, (uint64_t)m->ended_us);
	put_u64(&b, T_SIZE, m->size);
	put_u64(&b, T_CIPHER, m->cipher);
	if (m->cipher != 0)
		put(&b, T_HDR, m->hdr, BC_HEADER);
	put_str(&b, T_DIGEST, m->digest);
	put_str(&b, T_VERIFY, m->verify);
	return b.bad ? 0 : b.len;
}

static int meta_decode(const unsigned char *p, size_t n, struct meta *m)
{
	char **strs[] = { [T_REASON] = &m->reason, [T_USER] = &m->user,
	                  [T_ROLES] = &m->roles, [T_EXE] = &m->exe,
	                  [T_RULE] = &m->rule, [T_POLICY] = &m->policy,
	                  [T_CLIENT] = &m->client, [T_PATH] = &m->path,
	                  [T_DIGEST] = &m->digest, [T_VERIFY] = &m->verify };
	size_t i = 0;

	memset(m, 0, sizeof(*m));
	while (i + 3 <= n) {
		unsigned tag = p[i];
		size_t len = (size_t)p[i + 1] << 8 | p[i + 2];
		const unsigned char *v = p + i + 3;

		if (i + 3 + len > n)
			return -EBADMSG;
		i += 3 + len;
		if (tag < sizeof(strs) / sizeof(*strs) && strs[tag] != NULL) {
			if (*strs[tag] != NULL || memchr(v, '\0', len) != NULL ||
			    (*strs[tag] = strndup((const char *)v, len)) == NULL)
				return -EBADMSG;
			continue;
		}
		switch (tag) {
		case T_UID: m->uid = (uint32_t)get_u64(v, len); break;
		case T_PID: m->pid = (uint32_t)get_u64(v, len); break;
		case T_REQUESTED: m->requested_us = (int64_t)get_u64(v, len); break;
		case T_STARTED: m->started_us = (int64_t)get_u64(v, len); break;
		case T_ENDED: m->ended_us = (int64_t)get_u64(v, len); break;
		case T_SIZE: m->size = get_u64(v, len); break;
		case T_CIPHER: m->cipher = (uint32_t)get_u64(v, len); break;
		case T_HDR:
			if (len != BC_HEADER)
				return -EBADMSG;
			memcpy(m->hdr, v, BC_HEADER);
			break;
		default:
			return -EBADMSG;
		}
	}
	return i == n ? 0 : -EBADMSG;
}

static void job_name(const char *id, enum jstate s, char *out)
{
	snprintf(out, ERASE_IDLEN + 8, "%s%s", id, suffix[s]);
}

/* ---- spare job files ----------------------------------------------- */

/* A stream over directory fd from its start, on a copy of fd (whose
 * offset the copy shares: hence the rewind). NULL and errno on failure. */
static DIR *dir_copy(int fd)
{
	int copy = dup(fd), saved;
	DIR *d;

	if (copy < 0)
		return NULL;
	if ((d = fdopendir(copy)) == NULL) {
		saved = errno;
		close(copy);
		errno = saved;
		return NULL;
	}
	rewinddir(d);
	return d;
}

/* Adds spare number n to the pool: false if it is full. */
static bool spare_push(struct eraser *e, unsigned n)
{
	bool ok;

	pthread_mutex_lock(&e->mu);
	if ((ok = e->nspare < SPARE_MAX))
		e->spare[e->nspare++] = n;
	pthread_mutex_unlock(&e->mu);
	return ok;
}

/* A number for a new spare file, or 0 if the pool is full. */
static unsigned spare_number(struct eraser *e)
{
	unsigned n = 0;

	pthread_mutex_lock(&e->mu);
	if (e->nspare < SPARE_MAX)
		n = e->next_spare++;
	pthread_mutex_unlock(&e->mu);
	return n;
}

/*
 * Writes len bytes of buf as job file name of the queue, into a spare
 * file moved there. 0, or a negative errno (no spare left, or it failed:
 * the spare is dropped and the caller creates the file).
 */
static int spare_fill(struct eraser *e, const char *name,
                      const unsigned char *buf, size_t len)
{
	char sname[16];
	unsigned n = 0;
	bool have;
	int fd, rc;

	pthread_mutex_lock(&e->mu);
	if ((have = e->nspare > 0))
		n = e->spare[--e->nspare];
	else if (e->spare_goal < SPARE_LOW)
		e->spare_goal *= 2;      /* a burst used them up: keep more */
	pthread_mutex_unlock(&e->mu);
	if (!have)
		return -ENOENT;
	snprintf(sname, sizeof(sname), "%u", n);
	fd = openat(e->sfd, sname, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = pwrite_all(fd, buf, len, 0);
	if (rc == 0 && ftruncate(fd, (off_t)len) != 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && renameat2(e->sfd, sname, e->qfd, name,
	                         RENAME_NOREPLACE) != 0)
		rc = -errno;
	if (rc != 0)
		unlinkat(e->sfd, sname, 0);
	return rc;
}

/* Makes up to SPARE_BATCH new spare files (the eraser thread). */
static void spare_make(struct eraser *e)
{
	for (unsigned k = 0; k < SPARE_BATCH; k++) {
		unsigned n = spare_number(e);
		char sname[16];
		int fd;

		if (n == 0 || stopping(e))
			return;
		snprintf(sname, sizeof(sname), "%u", n);
		fd = openat(e->sfd, sname, O_WRONLY | O_CREAT | O_EXCL |
		            O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return;
		close(fd);
		if (!spare_push(e, n)) {
			unlinkat(e->sfd, sname, 0);
			return;
		}
	}
}

/*
 * Destroys job file name of the queue like erase_file_at() (overwritten,
 * read back, gone from the queue, the queue synced), but keeps the file
 * as a spare when the pool has room.
 */
static int job_file_erase(struct eraser *e, const char *name)
{
	char sname[16];
	struct stat st;
	unsigned n;
	int fd, rc;

	fd = openat(e->qfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = fstat(fd, &st) != 0 ? -errno
	     : erase_range_at(NULL, fd, 0, (uint64_t)st.st_size, false,
	                      NULL, NULL);
	close(fd);
	if (rc != 0)
		return rc;
	n = spare_number(e);
	snprintf(sname, sizeof(sname), "%u", n);
	if (n != 0 && renameat2(e->qfd, name, e->sfd, sname,
	                        RENAME_NOREPLACE) == 0)
		spare_push(e, n);
	else if (unlinkat(e->qfd, name, 0) != 0)
		return -errno;
	return fsync_fd(e->qfd);
}

/* Opens VAULT/erase-spare and takes stock of the spare files in it. */
static int spare_open(struct eraser *e, int dfd)
{
	struct dirent *de;
	DIR *d;

	e->spare = calloc(SPARE_MAX, sizeof(*e->spare));
	if (e->spare == NULL)
		return -ENOMEM;
	e->next_spare = 1;
	e->spare_goal = SPARE_FIRST;
	if (mkdirat(dfd, SPARE_DIR, 0700) == 0)
		fsync_fd(dfd);
	else if (errno != EEXIST)
		return -errno;
	e->sfd = openat(dfd, SPARE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	                O_CLOEXEC);
	if (e->sfd < 0 || (d = dir_copy(e->sfd)) == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long n = strtoul(de->d_name, &end, 10);

		if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
		    *end != '\0' || n >= UINT_MAX)
			continue;
		if (n >= e->next_spare)
			e->next_spare = (unsigned)n + 1;
		if (!spare_push(e, (unsigned)n))
			unlinkat(e->sfd, de->d_name, 0);
	}
	closedir(d);
	return 0;
}

/* Writes the job file of state s; with sync, durably (file and
 * directory). */
static int job_write(struct eraser *e, const struct job *j, enum jstate s,
                     bool sync)
{
	unsigned char *plain = malloc(META_MAX), *file = NULL;
	unsigned char *nonce, *ct;
	unsigned long long clen;
	char name[ERASE_IDLEN + 8];
	size_t n = META_MAX, len;
	int fd = -1, rc = -ENOMEM;

	file = malloc(MAGICLEN + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
	              META_MAX + crypto_aead_xchacha20poly1305_ietf_ABYTES);
	if (plain == NULL || file == NULL)
		goto out;
	if ((n = meta_encode(&j->m, plain, META_MAX)) == 0) {
		rc = -E2BIG;
		n = META_MAX;
		goto out;
	}
	memcpy(file, MAGIC, MAGICLEN);
	nonce = file + MAGICLEN;
	ct = nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
	randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	/* The ID is associated data: a job file cannot pose as another. */
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, plain, n,
	        (const unsigned char *)j->id, ERASE_IDLEN, NULL, nonce,
	        e->seal);
	job_name(j->id, s, name);
	len = (size_t)(ct - file) + clen;
	/* Not synced: a deletion, which takes a spare file if there is
	 * one (allocating an inode can cost more than the rest). */
	if (!sync && spare_fill(e, name, file, len) == 0) {
		rc = 0;
		goto out;
	}
	fd = openat(e->qfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	            O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = pwrite_all(fd, file, len, 0)) == 0 &&
	    sync && (rc = fsync_fd(fd)) == 0)
		rc = fsync_fd(e->qfd);
out:
	if (fd >= 0)
		close(fd);
	if (plain != NULL) {
		sodium_memzero(plain, n);
		free(plain);
	}
	free(file);
	return rc;
}

/* Reads and opens job file name (ID from its first ERASE_IDLEN bytes). */
static int job_read(struct eraser *e, const char *name, struct meta *m)
{
	unsigned char *file = NULL, *plain = NULL;
	unsigned long long plen;
	const size_t head = MAGICLEN + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
	const size_t cap = head + META_MAX +
	                   crypto_aead_xchacha20poly1305_ietf_ABYTES;
	ssize_t n = -1;
	int fd, rc = -ENOMEM;

	fd = openat(e->qfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	file = malloc(cap);
	plain = malloc(META_MAX);
	if (file == NULL || plain == NULL)
		goto out;
	n = read(fd, file, cap);
	rc = -EBADMSG;
	if (n < (ssize_t)(head + crypto_aead_xchacha20poly1305_ietf_ABYTES) ||
	    memcmp(file, MAGIC, MAGICLEN) != 0 ||
	    crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL,
	        file + head, (unsigned long long)((size_t)n - head),
	        (const unsigned char *)name, ERASE_IDLEN,
	        file + MAGICLEN, e->seal) != 0)
		goto out;
	if ((rc = meta_decode(plain, (size_t)plen, m)) != 0)
		meta_free(m);
out:
	close(fd);
	if (plain != NULL) {
		sodium_memzero(plain, META_MAX);
		free(plain);
	}
	free(file);
	return rc;
}

/* ---- the record ------------------------------------------------------- */

/* The destruction record of j: done (err 0) or a failed attempt. */
static int job_record(struct eraser *e, const struct job *j, int err,
                      const char *what)
{
	const struct meta *m = &j->m;
	char detail[1024], req[64], start[64], end[64];
	bool key = m->cipher != 0;
	bool cut = m->reason != NULL && strcmp(m->reason, "truncate") == 0;
	bool client = m->reason != NULL &&
	              strcmp(m->reason, "client-folder") == 0;
	struct audit_event ev = {
		.uid = m->uid, .pid = (pid_t)m->pid, .user = m->user,
		.roles = m->roles, .exe = m->exe, .action = "destroy",
		.client = m->client, .path = m->path, .rule = m->rule,
		.policy = m->policy, .has_bytes = 1, .bytes = m->size,
		.outcome = err == 0 ? AUDIT_ALLOWED : AUDIT_ERROR,
		.err = err < 0 ? -err : err, .detail = detail,
	};

	iso_time(m->requested_us, req);
	iso_time(m->started_us ? m->started_us : now_us(), start);
	iso_time(m->ended_us ? m->ended_us : now_us(), end);
	snprintf(detail, sizeof(detail),
	         "id=%s; reason=%s; digest=%s; method-type=%s; method=%s; "
	         "tool=%s; verification=%s; requested=%s; started=%s; "
	         "ended=%s%s%s",
	         j->id, m->reason ? m->reason : "unknown",
	         m->digest ? m->digest : "not taken",
	         key || client ? "purge" : "clear",
	         client ? "cryptographic erase (the client key: every file "
	                  "of the client is unrecoverable) and one overwrite "
	                  "pass (pseudo-random) of the sealed key"
	         : key ? "cryptographic erase (file key destroyed) and one "
	               "overwrite pass (pseudo-random)"
	         : cut ? "one overwrite pass (pseudo-random) of the cut-off "
	                 "part, the file and its key stay"
	               : "one overwrite pass (pseudo-random); no file key",
	         ERASE_TOOL, m->verify ? m->verify : "not done", req, start,
	         end, err ? "; error=" : "", err ? what : "");
	return audit_record(e->a, &ev, NULL);
}

/* Whether the store already holds the done record of job id. */
static bool recorded(struct eraser *e, const char *id)
{
	struct audit_filter f = { .action = "destroy",
	                          .outcome = AUDIT_ALLOWED };
	struct audit_cursor *c;
	struct audit_row r;
	char needle[ERASE_IDLEN + 8];
	bool found = false;

	snprintf(needle, sizeof(needle), "id=%s;", id);
	if (audit_cursor_open(e->a, &f, &c) != 0)
		return false;
	while (!found && audit_cursor_next(c, &r) == 1)
		found = r.ev.detail != NULL && strstr(r.ev.detail, needle);
	audit_cursor_close(c);
	return found;
}

/* ---- the steps of a job ----------------------------------------------- */

/*
 * True if the stored blocks of plaintext [off, off + len) of data file fd
 * lie wholly in a hole of the backing file: plaintext zeros, when the
 * header allows holes, that need not be read.
 */
static bool in_hole(int fd, const struct bc_key *k, uint64_t off,
                    uint64_t len)
{
	uint64_t first = off / BC_BLOCK, last = (off + len - 1) / BC_BLOCK;
	off_t d;

	if (!(k->flags & BC_F_HOLES) || len == 0)
		return false;
	d = lseek(fd, (off_t)bc_block_offset(k->cipher, first), SEEK_DATA);
	if (d < 0)
		return errno == ENXIO;      /* no data after: a hole */
	return (uint64_t)d >= bc_block_offset(k->cipher, last + 1);
}

/*
 * Takes the digest of the plaintext of data file fd: 0, or 1 when the
 * eraser is stopping (the job waits for the next mount). Holes are
 * hashed as the zeros they read as, without reading them.
 */
static int take_digest(struct eraser *e, struct job *j, int fd)
{
	static const unsigned char zeros[CHUNK];
	crypto_generichash_state h;
	unsigned char out[32], *buf = NULL;
	char hex[65], text[96];
	struct bc_key k;
	uint64_t off = 0, size = 0;
	ssize_t r = 0;
	bool stopped = false;

	if (j->m.digest != NULL)
		return 0;                /* known to be unavailable */
	crypto_generichash_init(&h, NULL, 0, sizeof(out));
	if (j->m.cipher != 0) {
		if (bc_file_open((enum bc_cipher)j->m.cipher, e->wrap, j->m.hdr,
		                 &k) != 0) {
			r = -EIO;
		} else if ((buf = malloc(CHUNK)) == NULL) {
			r = -ENOMEM;
		} else if ((r = fsio_size(fd, k.cipher, &size)) == 0) {
			while (off < size) {
				uint64_t n = size - off < CHUNK ? size - off
				                                : CHUNK;

				if ((stopped = stopping(e)))
					break;
				if (in_hole(fd, &k, off, n)) {
					crypto_generichash_update(&h, zeros, n);
					off += n;
					continue;
				}
				if ((r = fsio_read(fd, &k, buf, n, off)) <= 0)
					break;
				crypto_generichash_update(&h, buf, (size_t)r);
				off += (uint64_t)r;
			}
			sodium_memzero(buf, CHUNK);
		}
		bc_key_wipe(&k);
		free(buf);
	}
	if (stopped)
		return 1;
	if (r < 0) {
		snprintf(text, sizeof(text), "unavailable: %s",
		         r == -EIO ? "the stored data does not authenticate"
		                   : strerror((int)-r));
	} else {
		crypto_generichash_final(&h, out, sizeof(out));
		sodium_bin2hex(hex, sizeof(hex), out, sizeof(out));
		snprintf(text, sizeof(text), "blake2b-256:%s", hex);
		if (off != j->m.size)
			j->m.size = off;
	}
	free(j->m.digest);
	j->m.digest = strdup(text);
	return 0;
}

/* Destroys the job file of j: the job is over without a record. */
static void job_drop(struct eraser *e, struct job *j)
{
	char name[ERASE_IDLEN + 8];

	job_name(j->id, j->state, name);
	job_file_erase(e, name);
}

/* Moves j to state s: writes the new file, destroys the old one. */
static int job_advance(struct eraser *e, struct job *j, enum jstate s)
{
	char old[ERASE_IDLEN + 8];
	int rc;

	if ((rc = job_write(e, j, s, true)) != 0)
		return rc;
	job_name(j->id, j->state, old);
	j->state = s;
	rc = job_file_erase(e, old);
	return rc == -ENOENT ? 0 : rc;
}

/*
 * Runs job j one step at a time until done. Returns 0 when finished (or
 * dropped), 1 when it must wait (busy or held), or a negative errno for a
 * failed attempt (recorded).
 */
static int job_run(struct eraser *e, struct job *j)
{
	char data[ERASE_IDLEN + 8];
	const char *how = NULL, *what = "";
	uint64_t done = 0;
	struct stat st;
	char text[128];
	int fd = -1, rc = 0;

	snprintf(data, sizeof(data), "%s.data", j->id);
	if (j->state != J_DONE) {
		fd = openat(e->qfd, data, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) != 0) {
			rc = -errno;
			what = "cannot open the queued file";
			goto fail;
		}
		if (e->busy != NULL && e->busy(e->ctx, st.st_dev, st.st_ino)) {
			close(fd);
			return 1;
		}
		if (st.st_nlink > 1) {
			close(fd);
			if (j->held)
				return 1;
			/* A link job whose rename never happened: the file
			 * lives on under its name. */
			unlinkat(e->qfd, data, 0);
			job_drop(e, j);
			return 0;
		}
	}
	if (j->state == J_JOB) {
		j->m.started_us = now_us();
		if (take_digest(e, j, fd) == 1) {
			close(fd);
			return 1;            /* stopping: the next mount */
		}
		if ((rc = job_advance(e, j, J_SUM)) != 0) {
			what = "cannot write the job file";
			goto fail;
		}
	}
	/* Stopping: the long step waits for the next mount. */
	if (j->state == J_SUM && stopping(e)) {
		close(fd);
		return 1;
	}
	if (j->state == J_SUM) {
		rc = erase_range_at(e, fd, 0, (uint64_t)st.st_size, true,
		                    &how, &done);
		if (rc == -EINTR && stopping(e)) {
			close(fd);
			return 1;            /* stopping: overwritten again
			                      * from the start next mount */
		}
		if (rc != 0) {
			what = rc == -EIO ? "overwrite or read-back failed "
			                    "(mismatch or I/O error)"
			                  : "overwrite failed";
			goto fail;
		}
		snprintf(text, sizeof(text), "read back %llu bytes (%s) and "
		         "compared: match", (unsigned long long)done, how);
		free(j->m.verify);
		j->m.verify = strdup(text);
		j->m.ended_us = now_us();
		close(fd);
		fd = -1;
		if ((rc = job_advance(e, j, J_DONE)) != 0) {
			what = "cannot write the job file";
			goto fail;
		}
	}
	/* J_DONE: overwritten and verified. */
	if (unlinkat(e->qfd, data, 0) != 0 && errno != ENOENT) {
		rc = -errno;
		what = "cannot remove the queued file";
		goto fail;
	}
	if ((rc = fsync_fd(e->qfd)) != 0 ||
	    (!(j->resumed && recorded(e, j->id)) &&
	     (rc = job_record(e, j, 0, NULL)) != 0)) {
		what = "cannot record";
		goto fail;
	}
	/* Every state file of the job, should an earlier one be left. */
	for (enum jstate s = J_JOB; s <= J_DONE; s++) {
		job_name(j->id, s, data);
		job_file_erase(e, data);
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	syslog(LOG_ERR, "erase: job %s: %s: %s", j->id, what, strerror(-rc));
	job_record(e, j, rc, what);
	return rc < 0 ? rc : -EIO;
}

/* ---- the queue and its thread ----------------------------------------- */

static void job_free(struct job *j)
{
	if (j != NULL) {
		meta_free(&j->m);
		free(j);
	}
}

/* The first job due now under e->mu, or NULL; *wait_us the time until
 * the next one is due. */
/*
 * Puts what eraser_queue() wrote on stable storage: the job files, the
 * moves into the queue and out of the client folders. One syncfs() for
 * a whole burst of deletions, instead of three fsyncs in each: a
 * queued job survives the daemon's death at once (it is in the page
 * cache, like the audit record of the deletion), and a power loss from
 * SYNC_MAX_US after it. A power loss before that may undo the deletion
 * (the file back under its name, or an orphan that eraser_open() takes
 * up), never lose the file to nowhere.
 */
static void sync_queue(struct eraser *e)
{
	if (syncfs(e->qfd) != 0)
		syslog(LOG_ERR, "erase: cannot sync the queue: %m");
}

/*
 * The next job to work on, under e->mu, or NULL and how long to wait.
 * Jobs not yet synced wait for sync_queue(); new jobs wait until the
 * deletions come to a pause (QUIET_US) or for PATIENCE_US, so that a
 * burst of deletions is not slowed by its own erasure.
 */
static struct job *next_due(struct eraser *e, int64_t *wait_us)
{
	int64_t now = now_us();
	bool quiet = now - e->last_queued_us >= QUIET_US;
	struct job *j;

	*wait_us = 1000000;
	for (j = e->jobs; j != NULL; j = j->next) {
		if (j->held)
			continue;
		if (j->gen > e->gen_synced ||
		    (j->gen != 0 && !quiet &&
		     now - j->m.requested_us < PATIENCE_US)) {
			*wait_us = POLL_US;
			continue;
		}
		if (j->retry_at_us <= now)
			return j;
		if (j->retry_at_us - now < *wait_us)
			*wait_us = j->retry_at_us - now;
	}
	return NULL;
}

static void unlink_job(struct eraser *e, struct job *j)
{
	struct job **pp, *prev = NULL;

	for (pp = &e->jobs; *pp != NULL; prev = *pp, pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			if (e->last == j)
				e->last = prev;
			break;
		}
}

static void *run(void *arg)
{
	struct eraser *e = arg;
	struct job *j;
	int64_t wait;
	int rc;

	pthread_mutex_lock(&e->mu);
	while (!e->stop) {
		int64_t now = now_us();

		if (e->gen_synced < e->gen_queued &&
		    (now - e->last_queued_us >= QUIET_US ||
		     now - e->first_unsynced_us >= SYNC_MAX_US)) {
			uint64_t g = e->gen_queued;

			pthread_mutex_unlock(&e->mu);
			sync_queue(e);
			pthread_mutex_lock(&e->mu);
			e->gen_synced = g;
			if (g < e->gen_queued)
				e->first_unsynced_us = now_us();
			continue;
		}
		if (e->nspare < e->spare_goal && !e->spare_off &&
		    now - e->last_queued_us >= QUIET_US) {
			size_t before = e->nspare;

			pthread_mutex_unlock(&e->mu);
			spare_make(e);
			pthread_mutex_lock(&e->mu);
			if (e->nspare > before)
				continue;
			e->spare_off = true; /* cannot make any: give up */
		}
		if ((j = next_due(e, &wait)) == NULL) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (time_t)(wait / 1000000);
			ts.tv_nsec += (long)(wait % 1000000) * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			e->wakes_at_us = now_us() + wait;
			pthread_cond_timedwait(&e->cv, &e->mu, &ts);
			e->wakes_at_us = 0;
			continue;
		}
		e->running = j;
		pthread_mutex_unlock(&e->mu);
		rc = job_run(e, j);
		pthread_mutex_lock(&e->mu);
		e->running = NULL;
		if (rc == 1) {
			j->retry_at_us = now_us() + 100000;
			continue;
		}
		if (rc < 0) {
			int64_t back = e->retry_first << (j->attempts < 6 ?
			                               j->attempts : 6);

			j->attempts++;
			j->retry_at_us = now_us() +
			                 (back < RETRY_MAX ? back : RETRY_MAX);
			e->st.failed++;
			continue;
		}
		unlink_job(e, j);
		job_free(j);
		e->st.queued--;
		e->st.done++;
		pthread_cond_broadcast(&e->cv);
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

static void add_job(struct eraser *e, struct job *j)
{
	pthread_mutex_lock(&e->mu);
	j->next = NULL;
	if (e->last != NULL)
		e->last->next = j;
	else
		e->jobs = j;
	e->last = j;
	e->st.queued++;
	/* Woken only from a long sleep: otherwise it looks again within
	 * POLL_US, and a burst of deletions costs no wakeup each. */
	if (e->wakes_at_us - now_us() > POLL_US)
		pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

static void job_new(struct job *j, const struct erase_req *r, uint64_t size);

/* Whether e holds a job of id, under e->mu. */
static bool has_job(const struct eraser *e, const char *id)
{
	for (const struct job *j = e->jobs; j != NULL; j = j->next)
		if (strncmp(j->id, id, ERASE_IDLEN) == 0)
			return true;
	return false;
}

/*
 * Takes up every ID.data of the queue that has no readable job file: the
 * machine stopped after the move reached the disk and before the job
 * file did (see sync_queue()). Who asked and the file key are lost with
 * it; the file is destroyed all the same (overwritten, verified,
 * removed) and recorded with reason "orphan".
 */
static int adopt_orphans(struct eraser *e)
{
	const struct erase_req r = {
		.reason = "orphan", .uid = getuid(), .pid = getpid(),
		.user = "unknown (job file lost)",
		.note = "the job file was lost before it reached the disk",
	};
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if ((d = dir_copy(e->qfd)) == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char name[ERASE_IDLEN + 8];
		struct job *j;
		bool known;

		if (strlen(de->d_name) != ERASE_IDLEN + 5 ||
		    strcmp(de->d_name + ERASE_IDLEN, ".data") != 0)
			continue;
		pthread_mutex_lock(&e->mu);
		known = has_job(e, de->d_name);
		pthread_mutex_unlock(&e->mu);
		if (known)
			continue;
		if ((j = calloc(1, sizeof(*j))) == NULL) {
			rc = -ENOMEM;
			break;
		}
		job_new(j, &r, 0);
		memcpy(j->id, de->d_name, ERASE_IDLEN);
		for (enum jstate s = J_JOB; s <= J_DONE; s++) {
			job_name(j->id, s, name);
			erase_file_at(e->qfd, name);   /* unreadable */
		}
		if ((rc = job_write(e, j, J_JOB, true)) != 0) {
			syslog(LOG_ERR, "erase: cannot take up the orphan %s: "
			       "%s", de->d_name, strerror(-rc));
			job_free(j);
			continue;
		}
		syslog(LOG_WARNING, "erase: %s has no job file (lost in a "
		       "crash): destroying it as an orphan", de->d_name);
		j->resumed = true;
		add_job(e, j);
	}
	closedir(d);
	return rc;
}

/* Picks up what the queue directory holds: one job per ID, in the
 * furthest state found; then the orphans. */
static int resume(struct eraser *e)
{
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if ((d = dir_copy(e->qfd)) == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		const char *dot = strchr(de->d_name, '.');
		enum jstate s;
		struct job *j, *k;

		if (dot == NULL || dot - de->d_name != ERASE_IDLEN)
			continue;
		for (s = J_JOB; s <= J_DONE; s++)
			if (strcmp(dot, suffix[s]) == 0)
				break;
		if (s > J_DONE)
			continue;
		pthread_mutex_lock(&e->mu);
		for (k = e->jobs; k != NULL; k = k->next)
			if (strncmp(k->id, de->d_name, ERASE_IDLEN) == 0)
				break;
		pthread_mutex_unlock(&e->mu);
		/* Two states of one job: a crash between writing the later
		 * one and destroying the earlier. The earlier is stale. */
		if (k != NULL && k->state >= s) {
			erase_file_at(e->qfd, de->d_name);
			continue;
		}
		if ((j = calloc(1, sizeof(*j))) == NULL) {
			rc = -ENOMEM;
			break;
		}
		memcpy(j->id, de->d_name, ERASE_IDLEN);
		j->state = s;
		j->resumed = true;
		if (job_read(e, de->d_name, &j->m) != 0) {
			syslog(LOG_ERR, "erase: job file %s does not open",
			       de->d_name);
			job_free(j);
			continue;
		}
		if (k != NULL) {
			/* A later state of the same job: keep that. */
			pthread_mutex_lock(&e->mu);
			unlink_job(e, k);
			e->st.queued--;
			pthread_mutex_unlock(&e->mu);
			job_drop(e, k);
			job_free(k);
		}
		add_job(e, j);
	}
	closedir(d);
	/* A lone ID.job: the file was never moved in. A lone ID.sum: left
	 * by a job that went on to ID.done and finished. */
	struct job *lone = NULL;

	pthread_mutex_lock(&e->mu);
	for (struct job *j = e->jobs, *next; j != NULL; j = next) {
		char data[ERASE_IDLEN + 8];

		next = j->next;
		snprintf(data, sizeof(data), "%s.data", j->id);
		if (j->state != J_DONE &&
		    faccessat(e->qfd, data, F_OK, AT_SYMLINK_NOFOLLOW) != 0) {
			unlink_job(e, j);
			e->st.queued--;
			j->next = lone;
			lone = j;
		}
	}
	pthread_mutex_unlock(&e->mu);
	/* Dropped outside mu: job_drop() keeps the file as a spare. */
	for (struct job *j = lone, *next; j != NULL; j = next) {
		next = j->next;
		job_drop(e, j);
		job_free(j);
	}
	return rc != 0 ? rc : adopt_orphans(e);
}

int eraser_open(struct vault *v, struct audit *a, erase_busy_fn busy,
                void *ctx, struct eraser **out)
{
	struct eraser *e = calloc(1, sizeof(*e));
	int dfd = vault_dir_fd(v), rc;

	if (e == NULL)
		return -ENOMEM;
	e->v = v;
	e->a = a;
	e->busy = busy;
	e->ctx = ctx;
	e->qfd = -1;
	e->sfd = -1;
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	e->wrap = sodium_malloc(32);
	e->seal = sodium_malloc(32);
	if (e->wrap == NULL || e->seal == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	vault_subkey(v, 1, ERASE_KDF_CTX, e->wrap);
	vault_subkey(v, 2, ERASE_KDF_CTX, e->seal);
	sodium_mprotect_readonly(e->wrap);
	sodium_mprotect_readonly(e->seal);
	if (mkdirat(dfd, ERASE_DIR, 0700) == 0)
		fsync_fd(dfd);
	else if (errno != EEXIST) {
		rc = -errno;
		goto fail;
	}
	e->qfd = openat(dfd, ERASE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	                O_CLOEXEC);
	if (e->qfd < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = spare_open(e, dfd)) != 0)
		goto fail;
	e->retry_first = RETRY_FIRST;
#ifdef DOSSIER_FAULTS
	{
		const char *f = getenv("DOSSIER_FAULT");
		const char *n = getenv("DOSSIER_FAULT_COUNT");
		const char *r = getenv("DOSSIER_FAULT_RETRY_MS");

		if (f != NULL)
			snprintf(e->fault, sizeof(e->fault), "%s", f);
		e->faults = f == NULL ? 0 : n != NULL ? (unsigned)atoi(n) : 1;
		if (r != NULL && atoi(r) > 0)
			e->retry_first = (int64_t)atoi(r) * 1000;
	}
#endif
	if ((rc = resume(e)) != 0)
		goto fail;
	if ((rc = -pthread_create(&e->thread, NULL, run, e)) != 0)
		goto fail;
	e->started = true;
	*out = e;
	return 0;
fail:
	eraser_close(e);
	return rc;
}

void eraser_close(struct eraser *e)
{
	struct job *j, *next;

	if (e == NULL)
		return;
	if (e->started) {
		pthread_mutex_lock(&e->mu);
		__atomic_store_n(&e->stop, true, __ATOMIC_RELAXED);
		pthread_cond_broadcast(&e->cv);
		pthread_mutex_unlock(&e->mu);
		pthread_join(e->thread, NULL);
	}
	if (e->gen_synced < e->gen_queued)
		sync_queue(e);
	for (j = e->jobs; j != NULL; j = next) {
		next = j->next;
		job_free(j);
	}
	if (e->qfd >= 0)
		close(e->qfd);
	if (e->sfd >= 0)
		close(e->sfd);
	free(e->spare);
	if (e->wrap)
		sodium_free(e->wrap);
	if (e->seal)
		sodium_free(e->seal);
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

/* A new job for request r of size plaintext bytes: a fresh ID. */
static void job_new(struct job *j, const struct erase_req *r, uint64_t size)
{
	unsigned char raw[ERASE_IDLEN / 2];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(j->id, sizeof(j->id), raw, sizeof(raw));
	j->m.reason = strdup_or_null(r->reason);
	j->m.user = strdup_or_null(r->user);
	j->m.roles = strdup_or_null(r->roles);
	j->m.exe = strdup_or_null(r->exe);
	j->m.rule = strdup_or_null(r->rule);
	j->m.policy = strdup_or_null(r->policy);
	j->m.client = strdup_or_null(r->client);
	j->m.path = strdup_or_null(r->path);
	j->m.uid = (uint32_t)r->uid;
	j->m.pid = (uint32_t)r->pid;
	j->m.requested_us = now_us();
	j->m.size = size;
	if (r->note != NULL &&
	    asprintf(&j->m.digest, "unavailable: %s", r->note) < 0)
		j->m.digest = NULL;
}

int eraser_queue(struct eraser *e, int dirfd, const char *stored, bool link,
                 const struct bc_key *k, uint64_t size,
                 const struct erase_req *r, char *id)
{
	char data[ERASE_IDLEN + 8];
	struct job *j = calloc(1, sizeof(*j));
	int rc;

	if (j == NULL)
		return -ENOMEM;
	job_new(j, r, size);
	j->held = link;
	if (k != NULL) {
		j->m.cipher = (uint32_t)k->cipher;
		if ((rc = bc_file_wrap(k, e->wrap, j->m.hdr)) != 0)
			goto fail;
	}
	/* Job file first, then the move: written, not synced (see
	 * sync_queue()). */
	if ((rc = job_write(e, j, J_JOB, false)) != 0)
		goto fail;
	snprintf(data, sizeof(data), "%s.data", j->id);
	if ((link ? linkat(dirfd, stored, e->qfd, data, 0)
	          : renameat(dirfd, stored, e->qfd, data)) != 0) {
		rc = -errno;
		job_drop(e, j);
		goto fail;
	}
	if (id != NULL)
		memcpy(id, j->id, ERASE_IDLEN + 1);
	pthread_mutex_lock(&e->mu);
	j->gen = ++e->gen_queued;
	e->last_queued_us = now_us();
	if (e->gen_synced + 1 == j->gen)
		e->first_unsynced_us = e->last_queued_us;
	pthread_mutex_unlock(&e->mu);
	add_job(e, j);
	return 0;
fail:
	job_free(j);
	return rc;
}

/* The job id, under e->mu. */
static struct job *find_job(struct eraser *e, const char *id)
{
	struct job *j;

	for (j = e->jobs; j != NULL; j = j->next)
		if (strcmp(j->id, id) == 0)
			return j;
	return NULL;
}

int eraser_release(struct eraser *e, const char *id)
{
	struct job *j;

	pthread_mutex_lock(&e->mu);
	if ((j = find_job(e, id)) != NULL) {
		j->held = false;
		pthread_cond_broadcast(&e->cv);
	}
	pthread_mutex_unlock(&e->mu);
	return j != NULL ? 0 : -ENOENT;
}

int eraser_abort(struct eraser *e, const char *id)
{
	char data[ERASE_IDLEN + 8];
	struct job *j;

	pthread_mutex_lock(&e->mu);
	if ((j = find_job(e, id)) != NULL && j->held) {
		unlink_job(e, j);
		e->st.queued--;
	} else {
		j = NULL;
	}
	pthread_mutex_unlock(&e->mu);
	if (j == NULL)
		return -ENOENT;
	snprintf(data, sizeof(data), "%s.data", id);
	unlinkat(e->qfd, data, 0);
	job_drop(e, j);
	job_free(j);
	return 0;
}

void eraser_stats(struct eraser *e, struct erase_stats *st)
{
	pthread_mutex_lock(&e->mu);
	*st = e->st;
	pthread_mutex_unlock(&e->mu);
}

int eraser_drain(struct eraser *e, unsigned timeout_ms)
{
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&e->mu);
	while (e->jobs != NULL && rc == 0)
		rc = pthread_cond_timedwait(&e->cv, &e->mu, &ts);
	pthread_mutex_unlock(&e->mu);
	return rc == 0 ? 0 : -ETIMEDOUT;
}

/* Tries erase_range() a few times: a truncation cannot be queued. */
#define CUT_TRIES 3

int eraser_cut(struct eraser *e, int fd, struct bc_key *k,
               const unsigned char *wrap, uint64_t size,
               const struct erase_req *r)
{
	crypto_generichash_state h;
	unsigned char sum[32], *buf = NULL, kept[BC_BLOCK];
	char hex[65], text[128], what[64] = "";
	const char *how = NULL;
	struct job j;
	struct stat st;
	uint64_t old, start, disk, off, done = 0;
	size_t keep;
	ssize_t n = 0;
	int rc, tries;

	if ((rc = fsio_size(fd, k->cipher, &old)) != 0)
		return rc;
	if (size >= old)
		return fsio_truncate(fd, k, wrap, size);
	memset(&j, 0, sizeof(j));
	job_new(&j, r, old - size);
	j.m.cipher = 0;                  /* the file key stays: clear only */
	j.m.started_us = now_us();
	if ((buf = malloc(CHUNK)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	crypto_generichash_init(&h, NULL, 0, sizeof(sum));
	for (off = size; off < old && (n = fsio_read(fd, k, buf, CHUNK,
	                                             off)) > 0;
	     off += (uint64_t)n)
		crypto_generichash_update(&h, buf, (size_t)n);
	if (j.m.digest == NULL) {
		if (n < 0) {
			snprintf(text, sizeof(text), "unavailable: the stored "
			         "data does not authenticate");
		} else {
			crypto_generichash_final(&h, sum, sizeof(sum));
			sodium_bin2hex(hex, sizeof(hex), sum, sizeof(sum));
			snprintf(text, sizeof(text), "blake2b-256:%s", hex);
		}
		j.m.digest = strdup(text);
	}
	/* The block holding the new end is erased whole and its kept part
	 * written again under a fresh nonce. */
	start = size / BC_BLOCK * BC_BLOCK;
	keep = (size_t)(size - start);
	if (keep > 0 && (n = fsio_read(fd, k, kept, keep, start)) !=
	                (ssize_t)keep) {
		rc = n < 0 ? (int)n : -EIO;
		snprintf(what, sizeof(what), "cannot read the kept part");
		goto out;
	}
	disk = bc_block_offset(k->cipher, start / BC_BLOCK);
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	for (tries = 0; tries < CUT_TRIES; tries++)
		if ((rc = erase_range_at(e, fd, disk,
		                         (uint64_t)st.st_size - disk, false,
		                         &how, &done)) == 0)
			break;
	if (rc != 0)
		snprintf(what, sizeof(what), "overwrite or read-back failed "
		         "%d times", CUT_TRIES);
	/* Cut whatever happened: the tail is garbage now. */
	if (ftruncate(fd, (off_t)disk) != 0 && rc == 0) {
		rc = -errno;
		snprintf(what, sizeof(what), "cannot cut the file");
	}
	if (keep > 0 && (n = fsio_write(fd, k, wrap, kept, keep, start)) !=
	                (ssize_t)keep && rc == 0) {
		rc = n < 0 ? (int)n : -EIO;
		snprintf(what, sizeof(what), "cannot rewrite the kept part");
	}
	if (rc == 0) {
		snprintf(text, sizeof(text), "read back %llu bytes (%s) and "
		         "compared: match",
		         (unsigned long long)done, how);
		j.m.verify = strdup(text);
	}
	j.m.ended_us = now_us();
out:
	if (job_record(e, &j, rc, what) != 0 && rc == 0)
		rc = -EIO;
	sodium_memzero(kept, sizeof(kept));
	if (buf != NULL) {
		sodium_memzero(buf, CHUNK);
		free(buf);
	}
	meta_free(&j.m);
	return rc;
}

int eraser_file(struct eraser *e, int dirfd, const char *name,
                const struct erase_req *r)
{
	char text[128], what[64] = "";
	const char *how = NULL;
	uint64_t done = 0;
	struct stat st;
	struct job j;
	int fd, rc;

	memset(&j, 0, sizeof(j));
	job_new(&j, r, 0);
	j.m.started_us = now_us();
	free(j.m.digest);
	j.m.digest = strdup("not taken (key material)");
	fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		snprintf(what, sizeof(what), "cannot open the key file");
	} else if ((rc = erase_range_at(e, fd, 0, (uint64_t)st.st_size,
	                                false, &how, &done)) != 0) {
		snprintf(what, sizeof(what), "overwrite or read-back failed");
	} else if (unlinkat(dirfd, name, 0) != 0 || fsync(dirfd) != 0) {
		rc = -errno;
		snprintf(what, sizeof(what), "cannot remove the key file");
	} else {
		snprintf(text, sizeof(text), "read back %llu bytes (%s) and "
		         "compared: match", (unsigned long long)done, how);
		j.m.verify = strdup(text);
	}
	if (fd >= 0)
		close(fd);
	j.m.ended_us = now_us();
	if (job_record(e, &j, rc, what) != 0 && rc == 0)
		rc = -EIO;
	meta_free(&j.m);
	return rc;
}

int eraser_empty(struct eraser *e, int dirfd, const char *stored,
                 const struct erase_req *r)
{
	unsigned char sum[32];
	char hex[65], text[128];
	const char *how = NULL;
	uint64_t done = 0;
	struct stat st;
	struct job j;
	int fd, rc;

	/* The header, if any, holds the wrapped file key: overwrite and
	 * verify it before the name goes. */
	fd = openat(dirfd, stored, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	rc = st.st_size > 0 ? erase_range_at(e, fd, 0, (uint64_t)st.st_size,
	                                     false, &how, &done) : 0;
	close(fd);
	if (rc != 0)
		return rc;
	if (unlinkat(dirfd, stored, 0) != 0)
		return -errno;
	memset(&j, 0, sizeof(j));
	job_new(&j, r, 0);
	j.m.cipher = st.st_size > 0;     /* a key was there: purge */
	j.m.started_us = j.m.ended_us = now_us();
	crypto_generichash(sum, sizeof(sum), NULL, 0, NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), sum, sizeof(sum));
	snprintf(text, sizeof(text), "blake2b-256:%s", hex);
	free(j.m.digest);
	j.m.digest = strdup(text);
	if (st.st_size > 0)
		snprintf(text, sizeof(text), "read back %llu bytes (%s) and "
		         "compared: match", (unsigned long long)done, how);
	else
		snprintf(text, sizeof(text), "nothing to read back: the file "
		         "held no data and no key");
	j.m.verify = strdup(text);
	rc = job_record(e, &j, 0, NULL);
	meta_free(&j.m);
	return rc;
}
