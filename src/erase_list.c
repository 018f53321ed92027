/* The eraser's queue, read on its own: see include/erase_list.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "erase_list.h"

/* The job file format of src/erase.c; keep the two in step. */
#define MAGIC     "DSFJOB1\n"
#define MAGICLEN  8u
#define META_MAX  (64u << 10)
#define NONCE     crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAGBYTES  crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SEALKEY   2u                 /* vault_subkey() id of the seal key */

enum tag { T_REASON = 1, T_USER, T_ROLES, T_EXE, T_RULE, T_POLICY,
           T_CLIENT, T_PATH, T_UID, T_PID, T_REQUESTED, T_STARTED,
           T_ENDED, T_SIZE, T_CIPHER, T_HDR, T_DIGEST, T_VERIFY };

/* The queue files, by their suffix; a job's state is its furthest file. */
static const char *const suffix[] = {
	[ERASE_QUEUED] = ".job", [ERASE_SUMMED] = ".sum",
	[ERASE_VERIFIED] = ".done", [ERASE_ORPHAN] = ".data",
};

/* One queue file seen: the ID and which file. */
struct seen {
	char id[ERASE_IDLEN + 1];
	enum erase_state kind;
};

static char **str_of(struct erase_job *j, unsigned tag)
{
	switch (tag) {
	case T_REASON: return &j->reason;
	case T_USER:   return &j->user;
	case T_ROLES:  return &j->roles;
	case T_RULE:   return &j->rule;
	case T_POLICY: return &j->policy;
	case T_CLIENT: return &j->client;
	case T_PATH:   return &j->path;
	case T_DIGEST: return &j->digest;
	case T_VERIFY: return &j->verify;
	default:       return NULL;
	}
}

static uint64_t get_u64(const unsigned char *x, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n && i < 8; i++)
		v = v << 8 | x[i];
	return v;
}

/* Wipes and frees the fields of j's job file; they are all unset. */
static void fields_free(struct erase_job *j)
{
	char **s[] = { &j->reason, &j->user, &j->roles, &j->rule, &j->policy,
	               &j->client, &j->path, &j->digest, &j->verify };

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		if (*s[i] != NULL) {
			sodium_memzero(*s[i], strlen(*s[i]));
			free(*s[i]);
			*s[i] = NULL;
		}
	}
	j->uid = 0;
	j->size = 0;
	j->requested_us = j->started_us = j->ended_us = 0;
}

/* The fields of plaintext p (n bytes) into j. Tags this listing does not
 * show (the executable, the re-wrapped header, ...) are skipped. */
static int decode(const unsigned char *p, size_t n, struct erase_job *j)
{
	size_t i = 0;

	while (i + 3 <= n) {
		unsigned tag = p[i];
		size_t len = (size_t)p[i + 1] << 8 | p[i + 2];
		const unsigned char *v = p + i + 3;
		char **s = str_of(j, tag);

		if (len > n - i - 3)
			return -EBADMSG;
		i += 3 + len;
		if (s != NULL) {
			if (*s != NULL || memchr(v, '\0', len) != NULL)
				return -EBADMSG;
			if ((*s = strndup((const char *)v, len)) == NULL)
				return -ENOMEM;
			continue;
		}
		switch (tag) {
		case T_UID:       j->uid = (uint32_t)get_u64(v, len); break;
		case T_REQUESTED: j->requested_us = (int64_t)get_u64(v, len);
		                  break;
		case T_STARTED:   j->started_us = (int64_t)get_u64(v, len);
		                  break;
		case T_ENDED:     j->ended_us = (int64_t)get_u64(v, len); break;
		case T_SIZE:      j->size = get_u64(v, len); break;
		default:          break;
		}
	}
	return i == n ? 0 : -EBADMSG;
}

/* Opens job file ID.suffix[s] of queue qfd into j's fields. */
static int job_open(int qfd, const unsigned char *key, enum erase_state s,
                    struct erase_job *j)
{
	const size_t head = MAGICLEN + NONCE, cap = head + META_MAX + TAGBYTES;
	unsigned char *file = NULL, *plain = NULL;
	unsigned long long plen;
	char name[ERASE_IDLEN + 8];
	struct stat st;
	ssize_t n;
	int fd, rc = -ENOMEM;

	snprintf(name, sizeof(name), "%s%s", j->id, suffix[s]);
	fd = openat(qfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = -EBADMSG;
		goto out;
	}
	file = malloc(cap);
	plain = sodium_malloc(META_MAX);
	if (file == NULL || plain == NULL)
		goto out;
	n = read(fd, file, cap);
	rc = n < 0 ? -errno : -EBADMSG;
	if (n < (ssize_t)(head + TAGBYTES) ||
	    memcmp(file, MAGIC, MAGICLEN) != 0 ||
	    crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL,
	        file + head, (unsigned long long)((size_t)n - head),
	        (const unsigned char *)j->id, ERASE_IDLEN, file + MAGICLEN,
	        key) != 0)
		goto out;
	rc = decode(plain, (size_t)plen, j);
out:
	if (rc != 0)
		fields_free(j);
	close(fd);
	free(file);
	if (plain != NULL)
		sodium_free(plain);
	return rc;
}

/*
 * Reads job j, seen in the queue as the files of kinds (bit 1 << kind):
 * the furthest state whose file opens, tried newest first, twice over,
 * since the daemon may move the job on meanwhile. Returns 0 (j->state
 * and j->err set), 1 when every file of the job is gone (it finished
 * meanwhile), or -ENOMEM.
 */
static int job_load(int qfd, const unsigned char *key, unsigned kinds,
                    struct erase_job *j)
{
	int rc = -ENOENT, first = 0, s;

	j->data = (kinds & 1u << ERASE_ORPHAN) != 0;
	for (int round = 0; round < 2 && rc != 0; round++) {
		for (s = ERASE_VERIFIED; s >= ERASE_QUEUED && rc != 0; s--) {
			rc = job_open(qfd, key, (enum erase_state)s, j);
			if (rc == -ENOMEM)
				return rc;
			if (rc == 0)
				j->state = (enum erase_state)s;
			else if (rc != -ENOENT && first == 0)
				first = rc;
		}
	}
	if (rc == 0)
		return 0;
	if (first == 0 && !j->data)
		return 1;
	j->err = first != 0 ? first : -ENOENT;
	j->state = ERASE_ORPHAN;
	for (s = ERASE_VERIFIED; s >= ERASE_QUEUED; s--) {
		if (kinds & 1u << s) {
			j->state = (enum erase_state)s;
			break;
		}
	}
	return 0;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct seen *)a)->id,
	              ((const struct seen *)b)->id);
}

static int by_request(const void *a, const void *b)
{
	const struct erase_job *x = a, *y = b;

	if ((x->err != 0) != (y->err != 0))
		return x->err != 0 ? 1 : -1;
	if (x->requested_us != y->requested_us)
		return x->requested_us < y->requested_us ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* Whether name is ID.suffix, a queue file: its kind into *kind. */
static int queue_file(const char *name, enum erase_state *kind)
{
	for (size_t i = 0; i < ERASE_IDLEN; i++)
		if (!(name[i] >= '0' && name[i] <= '9') &&
		    !(name[i] >= 'a' && name[i] <= 'f'))
			return 0;
	for (size_t s = 0; s < sizeof(suffix) / sizeof(suffix[0]); s++) {
		if (strcmp(name + ERASE_IDLEN, suffix[s]) == 0) {
			*kind = (enum erase_state)s;
			return 1;
		}
	}
	return 0;
}

/* Every queue file of qfd into *out (*n of them), sorted by ID. */
static int scan(int qfd, struct seen **out, size_t *n)
{
	struct seen *all = NULL, *more;
	size_t cap = 0;
	struct dirent *de;
	enum erase_state kind;
	DIR *d;
	int fd = dup(qfd);

	*n = 0;
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return -e;
	}
	while ((de = readdir(d)) != NULL) {
		if (!queue_file(de->d_name, &kind))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			if ((more = reallocarray(all, cap, sizeof(*all))) == NULL) {
				free(all);
				closedir(d);
				return -ENOMEM;
			}
			all = more;
		}
		memcpy(all[*n].id, de->d_name, ERASE_IDLEN);
		all[*n].id[ERASE_IDLEN] = '\0';
		all[(*n)++].kind = kind;
	}
	closedir(d);
	if (*n > 0)
		qsort(all, *n, sizeof(*all), by_id);
	*out = all;
	return 0;
}

int erase_list(const struct vault *v, struct erase_job **jobs, size_t *n)
{
	struct erase_job *list = NULL;
	struct seen *files = NULL;
	unsigned char *key = NULL;
	size_t nfiles = 0, count = 0;
	int qfd, rc;

	if (v == NULL || jobs == NULL || n == NULL)
		return -EINVAL;
	*jobs = NULL;
	*n = 0;
	qfd = openat(vault_dir_fd(v), ERASE_DIR, O_RDONLY | O_DIRECTORY |
	             O_NOFOLLOW | O_CLOEXEC);
	if (qfd < 0)
		return errno == ENOENT ? 0 : -errno;
	rc = -ENOMEM;
	if ((key = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES))
	    == NULL)
		goto out;
	vault_subkey(v, SEALKEY, ERASE_KDF_CTX, key);
	if ((rc = scan(qfd, &files, &nfiles)) != 0)
		goto out;
	/* At most one job per file seen. */
	if (nfiles > 0 && (list = calloc(nfiles, sizeof(*list))) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nfiles; ) {
		struct erase_job *j = &list[count];
		unsigned kinds = 0;
		size_t k;

		for (k = i; k < nfiles && !strcmp(files[k].id, files[i].id); k++)
			kinds |= 1u << files[k].kind;
		memcpy(j->id, files[i].id, sizeof(j->id));
		i = k;
		if ((rc = job_load(qfd, key, kinds, j)) < 0)
			goto out;
		if (rc == 0)
			count++;
		else
			memset(j, 0, sizeof(*j));
	}
	if (count > 0)
		qsort(list, count, sizeof(*list), by_request);
	*jobs = count > 0 ? list : NULL;
	*n = count;
	if (count > 0)
		list = NULL;
	rc = 0;
out:
	erase_list_free(list, count);
	free(files);
	if (key != NULL)
		sodium_free(key);
	close(qfd);
	return rc;
}

void erase_list_free(struct erase_job *jobs, size_t n)
{
	if (jobs == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		fields_free(&jobs[i]);
	free(jobs);
}
