/*
 * ctlutil: what several dossierctl subcommands share (see
 * include/ctlutil.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "ctlutil.h"
#include "keywrap.h"
#include "vault.h"

int ctl_parse_time(const char *s, int64_t *us)
{
	static const char *const forms[] = {
		"%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d",
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct tm t = { 0 };
		char *end = strptime(s, forms[i], &t);
		time_t x;

		if (end == NULL || *end != '\0')
			continue;
		t.tm_isdst = -1;
		if ((x = mktime(&t)) == (time_t)-1)
			return -EINVAL;
		*us = (int64_t)x * 1000000;
		return 0;
	}
	return -EINVAL;
}

int ctl_store_dir(const char *prog, const char *vault)
{
	struct kw_params p;
	struct stat st;
	int fd;

	if (unlock_params(prog, vault, &p) != 0)
		return -1;
	fd = open(vault, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, vault, strerror(errno));
		return -1;
	}
	if (fstatat(fd, AUDIT_DB, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			fprintf(stderr, "%s: %s has no audit store (%s): "
			        "nothing has been recorded in it yet\n", prog,
			        vault, AUDIT_DB);
		else
			fprintf(stderr, "%s: %s/%s: %s\n", prog, vault,
			        AUDIT_DB, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int ctl_open_store(const char *prog, const char *vault,
                   const struct unlock_src *src, struct audit **out)
{
	struct vault *v = NULL;
	unsigned char *secret;
	int fd, rc;

	if ((fd = ctl_store_dir(prog, vault)) < 0)
		return -1;
	close(fd);
	if (unlock_vault(prog, vault, src, &v) != 0)
		return -1;
	if ((secret = sodium_malloc(AUDIT_SECRETBYTES)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		vault_close(v);
		return -1;
	}
	vault_subkey(v, AUDIT_KDF_ID, AUDIT_KDF_CTX, secret);
	rc = audit_open_read(vault_dir_fd(v), secret, out);
	sodium_free(secret);
	vault_close(v);
	if (rc == -EKEYREJECTED)
		fprintf(stderr, "%s: the audit store of %s was not made with "
		        "this vault's key\n", prog, vault);
	else if (rc == -EPROTONOSUPPORT)
		fprintf(stderr, "%s: the audit store of %s is newer than this "
		        "dossierctl\n", prog, vault);
	else if (rc != 0)
		fprintf(stderr, "%s: cannot open the audit store of %s: %s\n",
		        prog, vault, strerror(-rc));
	return rc == 0 ? 0 : -1;
}

int ctl_flags(int argc, char **argv, int first, const struct ctl_flag *t,
              size_t n, const char **pos, size_t npos)
{
	size_t npos_got = 0;
	int given = 0;

	for (int i = first; i < argc; i++) {
		size_t f;

		for (f = 0; f < n; f++)
			if (strcmp(argv[i], t[f].flag) == 0)
				break;
		if (f < n) {
			if (i + 1 >= argc)
				return -1;
			*t[f].dst = argv[++i];
			given++;
		} else if (argv[i][0] == '-' || npos_got == npos) {
			return -1;
		} else {
			pos[npos_got++] = argv[i];
		}
	}
	return given;
}

int ctl_call(const char *prog, const char *mnt, struct kvbuf *req, int fd,
             struct kvmsg *rep)
{
	const char *st, *msg;
	int rc = control_call(mnt, req, fd, rep);

	kv_free(req);
	if (rc != 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, mnt,
		        rc == -ENOENT || rc == -ECONNREFUSED ?
		        "no dossierfs daemon answers for this mount point" :
		        rc == -EPERM ? "the control socket is not the daemon's "
		                       "(not root): refused" : strerror(-rc));
		return 1;
	}
	st = kv_get(rep, "status");
	if (st != NULL && strcmp(st, "ok") == 0)
		return 0;
	msg = kv_get(rep, "message");
	fprintf(stderr, "%s: refused: %s\n", prog, msg ? msg : "no reason");
	kv_msg_free(rep);
	return 1;
}
