/* Reading passphrases and key files: see include/secret.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <termios.h>
#include <unistd.h>
#include <sodium.h>

#include "secret.h"

/* Reads up to cap-1 bytes of the first line of fd into buf. */
static int read_line(int fd, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	char c;
	ssize_t r;

	while (n + 1 < cap) {
		r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0 || c == '\n')
			break;
		buf[n++] = c;
	}
	if (n + 1 >= cap)
		return -E2BIG;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return n == 0 ? -ENODATA : 0;
}

int secret_read_file(const char *path, char *buf, size_t cap, size_t *len)
{
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	rc = read_line(fd, buf, cap, len);
	close(fd);
	if (rc != 0)
		sodium_memzero(buf, cap);
	return rc;
}

int secret_read_tty(const char *prompt, char *buf, size_t cap, size_t *len)
{
	struct termios old, quiet;
	int fd, rc;

	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -ENOTTY;
	if (tcgetattr(fd, &old) != 0) {
		close(fd);
		return -ENOTTY;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	/* Echo goes off before the prompt shows: whatever is typed after
	 * the prompt must be neither echoed nor flushed away. */
	if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0 ||
	    write(fd, prompt, strlen(prompt)) < 0) {
		tcsetattr(fd, TCSANOW, &old);
		close(fd);
		return -ENOTTY;
	}
	rc = read_line(fd, buf, cap, len);
	tcsetattr(fd, TCSADRAIN, &old);
	if (write(fd, "\n", 1) < 0)
		rc = rc ? rc : -EIO;
	close(fd);
	if (rc != 0)
		sodium_memzero(buf, cap);
	return rc;
}

int secret_keyfile_create(const char *path, unsigned char *key)
{
	char hex[65];     /* 64 hex digits, then a newline */
	int fd, rc = -1, saved;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	          0600);
	if (fd < 0)
		return -errno;
	randombytes_buf(key, 32);
	sodium_bin2hex(hex, sizeof(hex), key, 32);
	hex[64] = '\n';
	if (write(fd, hex, 65) != 65 || fsync(fd) != 0) {
		saved = errno ? errno : EIO;
		unlink(path);
		rc = -saved;
		goto out;
	}
	rc = 0;
out:
	close(fd);
	sodium_memzero(hex, sizeof(hex));
	if (rc != 0)
		sodium_memzero(key, 32);
	return rc;
}

int secret_keyfile_read(const char *path, unsigned char *key)
{
	char hex[130];
	size_t len = 0, bin = 0;
	int rc;

	rc = secret_read_file(path, hex, sizeof(hex), &len);
	if (rc == -E2BIG || rc == -ENODATA)
		rc = -EINVAL;
	if (rc != 0)
		goto out;
	if (len != 64 || sodium_hex2bin(key, 32, hex, len, NULL, &bin, NULL)
	    != 0 || bin != 32)
		rc = -EINVAL;
out:
	sodium_memzero(hex, sizeof(hex));
	return rc;
}

void secret_harden_process(void)
{
	struct rlimit none = { 0, 0 };

	setrlimit(RLIMIT_CORE, &none);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
