/* Small shared helpers: see include/util.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* write(2) when off < 0, else pwrite(2) at off, until all n bytes are out. */
static int put_all(int fd, const unsigned char *p, size_t n, int64_t off)
{
	while (n > 0) {
		ssize_t w = off < 0 ? write(fd, p, n)
		                    : pwrite(fd, p, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
		if (off >= 0)
			off += w;
	}
	return 0;
}

int write_all(int fd, const void *p, size_t n)
{
	return put_all(fd, p, n, -1);
}

int pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
	if (off > INT64_MAX)
		return -EINVAL;
	return put_all(fd, p, n, (int64_t)off);
}

char *strdup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}
