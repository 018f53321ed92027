/* Plaintext I/O over the block codec: see include/fsio.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "fsio.h"
#include "util.h"

#define B BC_BLOCK

struct scratch {
	unsigned char *p[FSIO_SLOTS];
	size_t cap[FSIO_SLOTS];
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *arg)
{
	struct scratch *sc = arg;

	for (unsigned i = 0; i < FSIO_SLOTS; i++) {
		if (sc->p[i])
			sodium_memzero(sc->p[i], sc->cap[i]);
		free(sc->p[i]);
	}
	free(sc);
}

static void scratch_init(void)
{
	pthread_key_create(&scratch_key, scratch_free);
}

void *fsio_scratch(unsigned slot, size_t n)
{
	struct scratch *sc;
	unsigned char *p;

	if (slot >= FSIO_SLOTS)
		return NULL;
	pthread_once(&scratch_once, scratch_init);
	sc = pthread_getspecific(scratch_key);
	if (sc == NULL) {
		sc = calloc(1, sizeof(*sc));
		if (sc == NULL || pthread_setspecific(scratch_key, sc) != 0) {
			free(sc);
			return NULL;
		}
	}
	if (sc->cap[slot] < n) {
		p = realloc(sc->p[slot], n);
		if (p == NULL)
			return NULL;
		sc->p[slot] = p;
		sc->cap[slot] = n;
	}
	return sc->p[slot];
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static size_t dsz(const struct bc_key *k)
{
	return B + bc_overhead(k->cipher);
}

/* pread/pwrite of exactly n bytes; a short read is -EIO. */
static int pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		done += (size_t)r;
	}
	return 0;
}

int fsio_size(int fd, enum bc_cipher c, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -errno;
	return bc_plain_size(c, (uint64_t)st.st_size, size);
}

int fsio_key_load(int fd, enum bc_cipher c, const unsigned char *wrap,
                  bool create, struct bc_key *out)
{
	unsigned char hdr[BC_HEADER];
	ssize_t n;
	int rc;

	n = pread(fd, hdr, sizeof(hdr), 0);
	if (n < 0)
		return -errno;
	if (n == 0) {
		if (!create)
			return -ENODATA;
		if ((rc = bc_file_new(c, wrap, 0, hdr, out)) != 0)
			return rc;
		if ((rc = pwrite_all(fd, hdr, sizeof(hdr), 0)) != 0)
			bc_key_wipe(out);
		return rc;
	}
	if (n != (ssize_t)sizeof(hdr))
		return -EIO;
	return bc_file_open(c, wrap, hdr, out);
}

int fsio_rewrap(int fd, const struct bc_key *k, const unsigned char *wrap)
{
	unsigned char hdr[BC_HEADER];
	int rc;

	bc_file_wrap(k, wrap, hdr);
	if ((rc = pwrite_all(fd, hdr, sizeof(hdr), 0)) != 0)
		return rc;
	return fdatasync(fd) == 0 ? 0 : -errno;
}

/* Reads and decrypts block i of a file of the given plaintext size into
 * pt; returns the block's plaintext length. */
static int block_get(int fd, const struct bc_key *k, uint64_t i,
                     uint64_t size, unsigned char *pt, unsigned char *tmp)
{
	size_t len = (size_t)min64(B, size - i * B);
	size_t n = len + bc_overhead(k->cipher);
	int rc;

	rc = pread_all(fd, tmp, n, bc_block_offset(k->cipher, i));
	if (rc != 0)
		return rc;
	rc = bc_decrypt(k, i, tmp, n, pt);
	if (rc >= 0 && (size_t)rc != len)
		rc = -EIO;
	return rc;
}

static int block_put(int fd, const struct bc_key *k, uint64_t i,
                     const unsigned char *pt, size_t len, unsigned char *tmp)
{
	bc_encrypt(k, i, pt, len, tmp);
	return pwrite_all(fd, tmp, len + bc_overhead(k->cipher),
	                  bc_block_offset(k->cipher, i));
}

ssize_t fsio_read(int fd, const struct bc_key *k, void *buf, size_t len,
                  uint64_t off)
{
	unsigned char *disk = NULL, pt[B];
	uint64_t size, first, last, i;
	size_t n, ds = dsz(k), done = 0;
	ssize_t rc;

	if ((rc = fsio_size(fd, k->cipher, &size)) != 0)
		return rc;
	if (off >= size || len == 0)
		return 0;
	len = (size_t)min64(len, size - off);
	first = off / B;
	last = (off + len - 1) / B;
	n = (size_t)(bc_block_offset(k->cipher, last) -
	             bc_block_offset(k->cipher, first)) +
	    (size_t)min64(B, size - last * B) + bc_overhead(k->cipher);
	disk = fsio_scratch(1, n);
	if (disk == NULL)
		return -ENOMEM;
	if ((rc = pread_all(fd, disk, n, bc_block_offset(k->cipher, first))))
		goto out;
	for (i = first; i <= last; i++) {
		size_t blen = (size_t)min64(B, size - i * B);
		size_t skip = i == first ? (size_t)(off - i * B) : 0;
		size_t take = (size_t)min64(blen - skip, len - done);
		unsigned char *dst = (skip == 0 && take == B) ?
		                     (unsigned char *)buf + done : pt;

		rc = bc_decrypt(k, i, disk + (i - first) * ds,
		                blen + bc_overhead(k->cipher), dst);
		if (rc < 0)
			goto out;
		if (dst == pt)
			memcpy((unsigned char *)buf + done, pt + skip, take);
		done += take;
	}
	rc = (ssize_t)done;
out:
	if (rc < 0)
		sodium_memzero(buf, len);
	sodium_memzero(pt, sizeof(pt));
	return rc;
}

/* Marks the file as possibly holding holes before any hole is made. */
static int allow_holes(int fd, struct bc_key *k, const unsigned char *wrap)
{
	int rc;

	if (k->flags & BC_F_HOLES)
		return 0;
	k->flags |= BC_F_HOLES;
	if ((rc = fsio_rewrap(fd, k, wrap)) != 0)
		k->flags &= ~BC_F_HOLES;
	return rc;
}

/* Grows the file from size to newsize with zeros: full blocks in between
 * are left as holes unless fill is set. */
static int extend(int fd, struct bc_key *k, const unsigned char *wrap,
                  uint64_t size, uint64_t newsize, bool fill)
{
	unsigned char pt[B], tmp[B + 64];
	uint64_t i, lastb;
	int rc = 0;

	if (newsize <= size)
		return 0;
	if (size % B != 0) {
		/* Pad the old last block with zeros up to the new end. */
		i = size / B;
		if ((rc = block_get(fd, k, i, size, pt, tmp)) < 0)
			goto out;
		size_t nlen = (size_t)min64(B, newsize - i * B);
		memset(pt + size % B, 0, nlen - size % B);
		if ((rc = block_put(fd, k, i, pt, nlen, tmp)) != 0)
			goto out;
		size = i * B + nlen;
	}
	if (newsize > size) {
		lastb = (newsize - 1) / B;
		memset(pt, 0, sizeof(pt));
		if (fill) {
			for (i = size / B; i < lastb; i++)
				if ((rc = block_put(fd, k, i, pt, B, tmp)) != 0)
					goto out;
		} else if (lastb > size / B) {
			if ((rc = allow_holes(fd, k, wrap)) != 0)
				goto out;
			if (ftruncate(fd, (off_t)bc_block_offset(k->cipher,
			                                         lastb)) != 0) {
				rc = -errno;
				goto out;
			}
		}
		rc = block_put(fd, k, lastb, pt, (size_t)(newsize - lastb * B),
		               tmp);
	}
out:
	sodium_memzero(pt, sizeof(pt));
	return rc < 0 ? rc : 0;
}

/* Reserves backing space for disk bytes [from, to) without changing the
 * file size, so that a full disk fails the write before any byte of the
 * file is touched. */
static int reserve(int fd, uint64_t from, uint64_t to)
{
	if (to <= from)
		return 0;
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)from, (off_t)(to - from))
	    != 0 && errno != EOPNOTSUPP)
		return -errno;
	return 0;
}

ssize_t fsio_write(int fd, struct bc_key *k, const unsigned char *wrap,
                   const void *buf, size_t len, uint64_t off)
{
	unsigned char *out = NULL, pt[B], tmp[B + 64];
	uint64_t size, end = off + len, first, last, i;
	size_t ds = dsz(k), total = 0;
	ssize_t rc;

	if (len == 0)
		return 0;
	if (end < off)
		return -EFBIG;
	if ((rc = fsio_size(fd, k->cipher, &size)) != 0)
		return rc;
	first = off / B;
	last = (end - 1) / B;
	/* Space for the blocks this write adds or grows: a partial last
	 * block that gets longer, and the written range. */
	if (end > size) {
		uint64_t tail = size / B;

		if ((size % B &&
		     (rc = reserve(fd, bc_block_offset(k->cipher, tail),
		                   bc_block_offset(k->cipher, tail + 1))) != 0) ||
		    (rc = reserve(fd, bc_block_offset(k->cipher, first),
		                  bc_disk_size(k->cipher, end))) != 0)
			return rc;
	}
	if (off > size) {
		if ((rc = extend(fd, k, wrap, size, off, false)) != 0)
			return rc;
		size = off;
	}
	out = fsio_scratch(1, (size_t)(last - first + 1) * ds);
	if (out == NULL)
		return -ENOMEM;
	for (i = first; i <= last; i++) {
		uint64_t bstart = i * B;
		size_t oldlen = bstart < size ? (size_t)min64(B, size - bstart) : 0;
		size_t ws = (size_t)((off > bstart ? off : bstart) - bstart);
		size_t we = (size_t)(min64(end, bstart + B) - bstart);
		size_t nlen = oldlen > we ? oldlen : we;

		if ((ws > 0 || we < oldlen) && oldlen > 0) {
			if ((rc = block_get(fd, k, i, size, pt, tmp)) < 0)
				goto out;
		}
		if (ws > oldlen)
			memset(pt + oldlen, 0, ws - oldlen);
		memcpy(pt + ws, (const unsigned char *)buf + (bstart + ws - off),
		       we - ws);
		bc_encrypt(k, i, pt, nlen, out + (i - first) * ds);
		total = (size_t)(i - first) * ds + nlen + bc_overhead(k->cipher);
	}
	rc = pwrite_all(fd, out, total, bc_block_offset(k->cipher, first));
	if (rc == 0)
		rc = (ssize_t)len;
out:
	sodium_memzero(pt, sizeof(pt));
	return rc;
}

int fsio_truncate(int fd, struct bc_key *k, const unsigned char *wrap,
                  uint64_t newsize)
{
	unsigned char pt[B], tmp[B + 64];
	uint64_t size, i;
	int rc;

	if ((rc = fsio_size(fd, k->cipher, &size)) != 0)
		return rc;
	if (newsize > size)
		return extend(fd, k, wrap, size, newsize, false);
	if (newsize == size)
		return 0;
	if (newsize % B != 0) {
		i = newsize / B;
		if ((rc = block_get(fd, k, i, size, pt, tmp)) < 0)
			goto out;
		if ((rc = block_put(fd, k, i, pt, (size_t)(newsize % B), tmp)))
			goto out;
	}
	rc = ftruncate(fd, (off_t)bc_disk_size(k->cipher, newsize)) == 0
	     ? 0 : -errno;
out:
	sodium_memzero(pt, sizeof(pt));
	return rc < 0 ? rc : 0;
}

int fsio_allocate(int fd, struct bc_key *k, const unsigned char *wrap,
                  uint64_t off, uint64_t len)
{
	uint64_t size, end = off + len;
	int rc;

	if (end < off)
		return -EFBIG;
	if ((rc = fsio_size(fd, k->cipher, &size)) != 0)
		return rc;
	if (end > size)
		return extend(fd, k, wrap, size, end, true);
	if (fallocate(fd, 0, (off_t)bc_block_offset(k->cipher, off / B),
	              (off_t)(bc_disk_size(k->cipher, end) -
	                      bc_block_offset(k->cipher, off / B))) != 0 &&
	    errno != EOPNOTSUPP)
		return -errno;
	return 0;
}
