/*
 * share: approved sharing with third parties, the daemon's side (see
 * include/share.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "audit.h"
#include "policy.h"
#include "share.h"
#include "sharepkg.h"
#include "util.h"

#define SEAL_AD      "dossierfs-share-v1:"
#define NONCE_LEN    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN      crypto_aead_xchacha20poly1305_ietf_ABYTES
#define STATE_MAX    (4u << 20)          /* bytes of one sealed request */
#define BUSY_MAX     64u                 /* exports at once */

struct share {
	struct fs *fs;
	int dirfd;
	unsigned char *key;          /* sodium_malloc, 32 bytes */
	pthread_mutex_t mu;
	uint64_t last_id;            /* under mu */
	uint64_t busy[BUSY_MAX];     /* under mu: requests being exported */
};

/* One request, as kept. Strings are malloc'd. */
struct req {
	uint64_t id;
	char state[16];
	char *client, *reason, *recipient, *requester, *decider, *note,
	     *exporter;
	char fpr[SHAREPKG_FPRHEX];
	uid_t requester_uid;
	int64_t requested, decided, exported, received;
	size_t nfiles;
	char **files;
	char package[SHAREPKG_IDHEX];
	char manifest[2 * SHAREPKG_DIGESTBYTES + 1];
};

static void req_free(struct req *r)
{
	free(r->client);
	free(r->reason);
	free(r->recipient);
	free(r->requester);
	free(r->decider);
	free(r->note);
	free(r->exporter);
	for (size_t i = 0; i < r->nfiles; i++)
		free(r->files[i]);
	free(r->files);
	memset(r, 0, sizeof(*r));
}

/* The user name of uid, or its number. */
static void user_name(uid_t uid, char out[64])
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res != NULL)
		snprintf(out, 64, "%s", res->pw_name);
	else
		snprintf(out, 64, "%u", (unsigned)uid);
}

/* ---- the store -------------------------------------------------------- */

static void ad_of(uint64_t id, char ad[64])
{
	snprintf(ad, 64, SEAL_AD "%" PRIu64, id);
}

static int req_text(const struct req *r, struct kvbuf *b)
{
	kv_addf(b, "id", "%" PRIu64, r->id);
	kv_add(b, "state", r->state);
	kv_add(b, "client", r->client);
	kv_add(b, "reason", r->reason);
	kv_add(b, "recipient", r->recipient);
	kv_add(b, "requester", r->requester);
	kv_addf(b, "requester_uid", "%u", (unsigned)r->requester_uid);
	kv_addf(b, "requested", "%" PRId64, r->requested);
	for (size_t i = 0; i < r->nfiles; i++)
		kv_add(b, "file", r->files[i]);
	kv_add(b, "decider", r->decider);
	kv_addf(b, "decided", "%" PRId64, r->decided);
	kv_add(b, "note", r->note);
	kv_add(b, "exporter", r->exporter);
	kv_addf(b, "exported", "%" PRId64, r->exported);
	if (r->package[0])
		kv_add(b, "package", r->package);
	if (r->manifest[0])
		kv_add(b, "manifest", r->manifest);
	kv_addf(b, "received", "%" PRId64, r->received);
	return b->err;
}

static int num(const char *s, int64_t *out)
{
	char *end;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	errno = 0;
	long long v = strtoll(s, &end, 10);

	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

static int req_parse(const struct kvmsg *m, uint64_t id, struct req *r)
{
	int64_t v;
	size_t k = 0;
	const char *s;

	memset(r, 0, sizeof(*r));
	r->id = id;
	if (num(kv_get(m, "id"), &v) != 0 || (uint64_t)v != id ||
	    (s = kv_get(m, "state")) == NULL || strlen(s) >= sizeof(r->state))
		return -EBADMSG;
	strcpy(r->state, s);
	r->client = strdup_or_null(kv_get(m, "client"));
	r->reason = strdup_or_null(kv_get(m, "reason"));
	r->recipient = strdup_or_null(kv_get(m, "recipient"));
	r->requester = strdup_or_null(kv_get(m, "requester"));
	r->decider = strdup_or_null(kv_get(m, "decider"));
	r->note = strdup_or_null(kv_get(m, "note"));
	r->exporter = strdup_or_null(kv_get(m, "exporter"));
	if (num(kv_get(m, "requester_uid"), &v) != 0)
		return -EBADMSG;
	r->requester_uid = (uid_t)v;
	if (num(kv_get(m, "requested"), &r->requested) != 0 ||
	    num(kv_get(m, "decided"), &r->decided) != 0 ||
	    num(kv_get(m, "exported"), &r->exported) != 0 ||
	    num(kv_get(m, "received"), &r->received) != 0)
		return -EBADMSG;
	if ((s = kv_get(m, "package")) != NULL && strlen(s) < sizeof(r->package))
		strcpy(r->package, s);
	if ((s = kv_get(m, "manifest")) != NULL &&
	    strlen(s) < sizeof(r->manifest))
		strcpy(r->manifest, s);
	for (size_t i = 0; i < m->n; i++)
		k += strcmp(m->keys[i], "file") == 0;
	if ((r->files = calloc(k ? k : 1, sizeof(char *))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->keys[i], "file") == 0 &&
		    (r->files[r->nfiles++] = strdup(m->values[i])) == NULL)
			return -ENOMEM;
	if (r->client == NULL || r->reason == NULL || r->recipient == NULL ||
	    r->requester == NULL || r->nfiles == 0)
		return -EBADMSG;
	struct sharepkg_pub pk;

	if (sharepkg_pub_parse(r->recipient, strlen(r->recipient), &pk) != 0)
		return -EBADMSG;
	sharepkg_fingerprint_hex(&pk, r->fpr);
	return 0;
}

/* Writes r, sealed, as its file: a temporary name, synced, renamed. */
static int req_save(struct share *s, const struct req *r)
{
	struct kvbuf b = { 0 };
	unsigned char *ct = NULL;
	unsigned long long clen;
	char name[32], tmp[40], ad[64];
	int fd = -1, rc;

	if ((rc = req_text(r, &b)) != 0)
		goto out;
	if ((ct = malloc(NONCE_LEN + b.len + TAG_LEN)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	ad_of(r->id, ad);
	randombytes_buf(ct, NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct + NONCE_LEN, &clen,
	    (unsigned char *)b.p, b.len, (unsigned char *)ad, strlen(ad),
	    NULL, ct, s->key);
	snprintf(name, sizeof(name), "%" PRIu64, r->id);
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	            O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = write_all(fd, ct, NONCE_LEN + (size_t)clen)) != 0 ||
	    (fsync(fd) != 0 && (rc = -errno)) ||
	    (renameat(s->dirfd, tmp, s->dirfd, name) != 0 && (rc = -errno)) ||
	    (fsync(s->dirfd) != 0 && (rc = -errno)))
		unlinkat(s->dirfd, tmp, 0);
out:
	if (fd >= 0)
		close(fd);
	if (b.p != NULL)
		sodium_memzero(b.p, b.len);
	kv_free(&b);
	free(ct);
	return rc;
}

/* Loads request id: -ENOENT when there is none, -EBADMSG when its file
 * does not open. */
static int req_load(struct share *s, uint64_t id, struct req *r)
{
	unsigned char *ct = NULL, *pt = NULL;
	unsigned long long plen;
	struct kvmsg m = { 0 };
	struct stat st;
	char name[32], ad[64];
	ssize_t n;
	int fd, rc;

	memset(r, 0, sizeof(*r));
	snprintf(name, sizeof(name), "%" PRIu64, id);
	fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	rc = -EBADMSG;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < (off_t)(NONCE_LEN + TAG_LEN) || st.st_size > STATE_MAX)
		goto out;
	if ((ct = malloc((size_t)st.st_size)) == NULL ||
	    (pt = malloc((size_t)st.st_size)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	n = pread(fd, ct, (size_t)st.st_size, 0);
	if (n != st.st_size)
		goto out;
	ad_of(id, ad);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &plen, NULL,
	    ct + NONCE_LEN, (size_t)n - NONCE_LEN, (unsigned char *)ad,
	    strlen(ad), ct, s->key) != 0)
		goto out;
	if (kv_parse((char *)pt, (size_t)plen, &m) != 0)
		goto out;
	rc = req_parse(&m, id, r);
	if (rc != 0)
		req_free(r);
	if (rc == -EINVAL)
		rc = -EBADMSG;
out:
	if (pt != NULL) {
		sodium_memzero(pt, (size_t)st.st_size);
		free(pt);
	}
	kv_msg_free(&m);
	free(ct);
	close(fd);
	return rc;
}

int share_open(struct vault *v, struct fs *fs, struct share **out)
{
	struct share *s;
	struct dirent *e;
	DIR *d;
	int fd;

	if (mkdirat(vault_dir_fd(v), SHARE_DIR, 0700) != 0 && errno != EEXIST)
		return -errno;
	fd = openat(vault_dir_fd(v), SHARE_DIR,
	            O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->key = sodium_malloc(32)) == NULL) {
		free(s);
		close(fd);
		return -ENOMEM;
	}
	s->fs = fs;
	s->dirfd = fd;
	vault_subkey(v, 1, SHARE_KDF_CTX, s->key);
	sodium_mprotect_readonly(s->key);
	pthread_mutex_init(&s->mu, NULL);
	if ((fd = dup(s->dirfd)) >= 0 && (d = fdopendir(fd)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			char *end;
			unsigned long long id = strtoull(e->d_name, &end, 10);

			if (e->d_name[0] >= '1' && e->d_name[0] <= '9' &&
			    *end == '\0' && id > s->last_id)
				s->last_id = id;
			else if (*end == '.' && strcmp(end, ".tmp") == 0)
				unlinkat(s->dirfd, e->d_name, 0);
		}
		closedir(d);
	}
	*out = s;
	return 0;
}

void share_close(struct share *s)
{
	if (s == NULL)
		return;
	close(s->dirfd);
	sodium_free(s->key);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* ---- calls ------------------------------------------------------------ */

/* One call being served. */
struct call {
	struct share *s;
	const struct control_peer *peer;
	const struct kvmsg *req;
	struct kvbuf *reply;
	const char *action;          /* share-request, ... */
};

static void reply_err(struct call *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void reply_err(struct call *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kv_add(c->reply, "status", "error");
	kv_add(c->reply, "message", msg);
}

/* Records the call; -EIO when the store cannot (the call must fail). */
static int note(struct call *c, const struct req *r, enum audit_outcome o,
                int err, const char *rule, const char *path,
                int64_t bytes, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));
static int note(struct call *c, const struct req *r, enum audit_outcome o,
                int err, const char *rule, const char *path,
                int64_t bytes, const char *fmt, ...)
{
	char detail[1024];
	int n = 0;
	va_list ap;

	if (r != NULL && r->id != 0)
		n = snprintf(detail, sizeof(detail), "id=%" PRIu64 "; ", r->id);
	va_start(ap, fmt);
	vsnprintf(detail + n, sizeof(detail) - (size_t)n, fmt, ap);
	va_end(ap);
	struct fs_event e = {
		.action = c->action, .client = r != NULL ? r->client : NULL,
		.path = path, .path2 = r != NULL ? r->reason : NULL,
		.outcome = o, .err = err, .rule = rule, .detail = detail,
		.bytes = bytes,
	};

	return fs_record_as(c->s->fs, c->peer->uid, c->peer->pid, &e);
}

/* A refusal: recorded as denied, answered with msg. */
static void refuse(struct call *c, const struct req *r, const char *rule,
                   const char *why, const char *msg)
{
	note(c, r, AUDIT_DENIED, EACCES, rule, NULL, -1, "%s", why);
	reply_err(c, "%s", msg);
}

static int parse_id(struct call *c, uint64_t *id)
{
	const char *v = kv_get(c->req, "id");
	char *end;

	if (v == NULL || v[0] < '1' || v[0] > '9')
		return -EINVAL;
	errno = 0;
	*id = strtoull(v, &end, 10);
	return errno != 0 || *end != '\0' ? -EINVAL : 0;
}

/* Loads the request the call names; answers the error itself. */
static int load(struct call *c, struct req *r)
{
	uint64_t id;
	int rc;

	if (parse_id(c, &id) != 0) {
		reply_err(c, "no valid request id");
		return -EINVAL;
	}
	rc = req_load(c->s, id, r);
	if (rc == -ENOENT)
		reply_err(c, "no request %" PRIu64, id);
	else if (rc == -EBADMSG)
		reply_err(c, "request %" PRIu64 " is damaged (its file in the "
		          "vault does not authenticate)", id);
	else if (rc != 0)
		reply_err(c, "request %" PRIu64 ": %s", id, strerror(-rc));
	return rc;
}

static bool may(struct call *c, const struct req *r, unsigned perm,
                struct policy_decision *why)
{
	return fs_decide_as(c->s->fs, c->peer->uid, r->client, "", perm,
	                    why) == 0;
}

/* share-request: client, reason, recipient (a public line), file... */
static void do_request(struct call *c)
{
	struct share *s = c->s;
	struct req r = { 0 };
	struct sharepkg_pub pk;
	struct policy_decision why;
	const struct kvmsg *q = c->req;
	char user[64];
	size_t k = 0;
	int rc;

	r.client = strdup_or_null(kv_get(q, "client"));
	r.reason = strdup_or_null(kv_get(q, "reason"));
	r.recipient = strdup_or_null(kv_get(q, "recipient"));
	for (size_t i = 0; i < q->n; i++)
		k += strcmp(q->keys[i], "file") == 0;
	if (r.client == NULL || r.reason == NULL || r.recipient == NULL ||
	    *r.reason == '\0' || strlen(r.reason) > SHAREPKG_TEXT_MAX) {
		reply_err(c, "a request needs a client, a reason and a "
		          "recipient");
		goto out;
	}
	if (k == 0 || k > SHARE_FILES_MAX) {
		reply_err(c, "a request names 1 to %u files", SHARE_FILES_MAX);
		goto out;
	}
	if (sharepkg_pub_parse(r.recipient, strlen(r.recipient), &pk) != 0) {
		reply_err(c, "the recipient is not a share public key "
		          "(dossierctl share keygen makes one)");
		goto out;
	}
	sharepkg_fingerprint_hex(&pk, r.fpr);
	if ((r.files = calloc(k, sizeof(char *))) == NULL) {
		reply_err(c, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->keys[i], "file") == 0 &&
		    (r.files[r.nfiles++] = strdup(q->values[i])) == NULL) {
			reply_err(c, "out of memory");
			goto out;
		}
	rc = fs_decide_as(s->fs, c->peer->uid, r.client, "", POL_SHARE, &why);
	if (rc == -EINVAL) {
		reply_err(c, "bad client folder name");
		goto out;
	}
	if (rc != 0) {
		refuse(c, &r, why.rule, "not allowed to share",
		       "you may not share files of this client");
		goto out;
	}
	for (size_t i = 0; i < r.nfiles; i++) {
		struct fs_reader *rd;

		for (size_t j = 0; j < i; j++)
			if (strcmp(r.files[i], r.files[j]) == 0) {
				reply_err(c, "file %s is named twice",
				          r.files[i]);
				goto out;
			}
		rc = fs_decide_as(s->fs, c->peer->uid, r.client, r.files[i],
		                  POL_READ, &why);
		if (rc == -EINVAL) {
			reply_err(c, "bad file name %s", r.files[i]);
			goto out;
		}
		if (rc != 0) {
			refuse(c, &r, why.rule, "not allowed to read a file",
			       "you may not read one of the files");
			goto out;
		}
		if ((rc = fs_reader_open(s->fs, r.client, r.files[i], &rd))) {
			reply_err(c, "%s: %s", r.files[i],
			          rc == -EINVAL ? "not a regular file" :
			          strerror(-rc));
			goto out;
		}
		fs_reader_close(rd);
	}
	user_name(c->peer->uid, user);
	r.requester = strdup(user);
	r.requester_uid = c->peer->uid;
	r.requested = now_us();
	strcpy(r.state, "requested");
	pthread_mutex_lock(&s->mu);
	r.id = ++s->last_id;
	rc = r.requester == NULL ? -ENOMEM : req_save(s, &r);
	pthread_mutex_unlock(&s->mu);
	if (rc != 0) {
		note(c, &r, AUDIT_ERROR, -rc, NULL, NULL, -1,
		     "cannot keep the request");
		reply_err(c, "cannot keep the request: %s", strerror(-rc));
		goto out;
	}
	if (note(c, &r, AUDIT_ALLOWED, 0, why.rule, NULL, -1,
	         "recipient=%s; files=%zu", r.fpr, r.nfiles) != 0) {
		char name[32];

		snprintf(name, sizeof(name), "%" PRIu64, r.id);
		unlinkat(s->dirfd, name, 0);
		reply_err(c, "the audit store cannot record the request");
		goto out;
	}
	kv_add(c->reply, "status", "ok");
	kv_addf(c->reply, "id", "%" PRIu64, r.id);
	kv_add(c->reply, "recipient", r.fpr);
out:
	req_free(&r);
}

/* share-approve and share-reject: id [, note] */
static void do_decide(struct call *c, bool approve)
{
	struct share *s = c->s;
	struct policy_decision why;
	struct req r;
	char user[64];
	int rc;

	pthread_mutex_lock(&s->mu);
	if (load(c, &r) != 0)
		goto unlock;
	if (!may(c, &r, POL_ADMIN, &why)) {
		refuse(c, &r, why.rule, "not allowed to decide",
		       "you may not approve or reject sharing for this "
		       "client");
		goto out;
	}
	if (c->peer->uid == r.requester_uid) {
		refuse(c, &r, why.rule, "self-approval refused",
		       "the requester cannot approve or reject their own "
		       "request");
		goto out;
	}
	if (strcmp(r.state, "requested") != 0) {
		char m[128];

		snprintf(m, sizeof(m), "request %" PRIu64 " is %s already",
		         r.id, r.state);
		refuse(c, &r, why.rule, r.state, m);
		goto out;
	}
	user_name(c->peer->uid, user);
	free(r.decider);
	r.decider = strdup(user);
	free(r.note);
	r.note = strdup_or_null(kv_get(c->req, "note"));
	r.decided = now_us();
	strcpy(r.state, approve ? "approved" : "rejected");
	/* Recorded first: a decision nobody can see is not made. */
	if (note(c, &r, AUDIT_ALLOWED, 0, why.rule, NULL, -1,
	         "recipient=%s; files=%zu", r.fpr, r.nfiles) != 0) {
		reply_err(c, "the audit store cannot record the decision");
		goto out;
	}
	if (r.decider == NULL || (rc = req_save(s, &r)) != 0) {
		note(c, &r, AUDIT_ERROR, EIO, NULL, NULL, -1,
		     "decision not kept");
		reply_err(c, "cannot keep the decision");
		goto out;
	}
	kv_add(c->reply, "status", "ok");
	kv_add(c->reply, "state", r.state);
out:
	req_free(&r);
unlock:
	pthread_mutex_unlock(&s->mu);
}

/* Export and receipt: the requester with share, or anyone with admin. */
static bool may_send(struct call *c, const struct req *r,
                     struct policy_decision *why)
{
	if (c->peer->uid == r->requester_uid && may(c, r, POL_SHARE, why))
		return true;
	return may(c, r, POL_ADMIN, why);
}

static bool busy_take(struct share *s, uint64_t id)
{
	size_t free_slot = BUSY_MAX;

	for (size_t i = 0; i < BUSY_MAX; i++) {
		if (s->busy[i] == id)
			return false;
		if (s->busy[i] == 0 && free_slot == BUSY_MAX)
			free_slot = i;
	}
	if (free_slot == BUSY_MAX)
		return false;
	s->busy[free_slot] = id;
	return true;
}

static void busy_drop(struct share *s, uint64_t id)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < BUSY_MAX; i++)
		if (s->busy[i] == id)
			s->busy[i] = 0;
	pthread_mutex_unlock(&s->mu);
}

static int sign_with_audit(void *arg, const void *msg, size_t len,
                           unsigned char sig[crypto_sign_BYTES])
{
	return audit_sign_share(arg, msg, len, sig);
}

static void hexs(char *out, const unsigned char *p, size_t n)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* share-export: id, and the output descriptor */
static void do_export(struct call *c, int fd)
{
	struct share *s = c->s;
	struct policy_decision why;
	struct sharepkg_signer sg = { .sign = sign_with_audit };
	struct sharepkg_file *files = NULL;
	struct fs_reader **rd = NULL;
	struct sharepkg_pub pk;
	unsigned char digest[SHAREPKG_DIGESTBYTES];
	char id[SHAREPKG_IDHEX], rid[24], user[64], spk[65];
	uint64_t bytes = 0;
	struct req r;
	struct stat st;
	bool busy = false;
	int rc, fl;

	pthread_mutex_lock(&s->mu);
	if (load(c, &r) != 0) {
		pthread_mutex_unlock(&s->mu);
		return;
	}
	if (!may_send(c, &r, &why)) {
		pthread_mutex_unlock(&s->mu);
		refuse(c, &r, why.rule, "not allowed to export",
		       "you may not export this request");
		goto out;
	}
	if (strcmp(r.state, "approved") != 0) {
		char m[160];

		pthread_mutex_unlock(&s->mu);
		snprintf(m, sizeof(m), "request %" PRIu64 " is %s, not "
		         "approved: no package can be made", r.id, r.state);
		refuse(c, &r, why.rule, strcmp(r.state, "requested") == 0 ?
		       "not approved" : r.state, m);
		goto out;
	}
	busy = busy_take(s, r.id);
	pthread_mutex_unlock(&s->mu);
	if (!busy) {
		reply_err(c, "request %" PRIu64 " is being exported already",
		          r.id);
		goto out;
	}
	/* A regular file only: a pipe nobody reads would hold this call,
	 * and the unmount that waits for it, for ever. */
	if (fd < 0 || (fl = fcntl(fd, F_GETFL)) < 0 ||
	    (fl & O_ACCMODE) == O_RDONLY || fstat(fd, &st) != 0 ||
	    !S_ISREG(st.st_mode)) {
		reply_err(c, "the package must go to a regular file opened "
		          "for writing");
		goto out;
	}
	if (fs_audit(s->fs) == NULL ||
	    sharepkg_pub_parse(r.recipient, strlen(r.recipient), &pk) != 0) {
		reply_err(c, "cannot export: no audit store or bad recipient");
		goto out;
	}
	audit_pubkey(fs_audit(s->fs), sg.pk);
	sg.arg = fs_audit(s->fs);
	files = calloc(r.nfiles, sizeof(*files));
	rd = calloc(r.nfiles, sizeof(*rd));
	if (files == NULL || rd == NULL) {
		reply_err(c, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < r.nfiles; i++) {
		if ((rc = fs_reader_open(s->fs, r.client, r.files[i], &rd[i]))) {
			note(c, &r, AUDIT_ERROR, -rc, why.rule, r.files[i], -1,
			     "file cannot be read");
			reply_err(c, "%s: %s", r.files[i], strerror(-rc));
			goto out;
		}
		files[i].name = r.files[i];
		files[i].fd = -1;
		files[i].pread = fs_reader_pread;
		files[i].arg = rd[i];
		files[i].size = fs_reader_size(rd[i]);
		bytes += files[i].size;
	}
	snprintf(rid, sizeof(rid), "%" PRIu64, r.id);
	struct sharepkg_meta meta = { rid, r.client, r.reason, 0 };

	rc = sharepkg_write_signed(fd, &meta, files, r.nfiles, &pk, &sg, id,
	                           digest);
	if (rc == 0 && fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
		rc = -errno;
	if (rc != 0) {
		note(c, &r, AUDIT_ERROR, -rc, why.rule, NULL, -1,
		     "package not made: %s", strerror(-rc));
		reply_err(c, "package not made: %s", rc == -EAGAIN ?
		          "a file changed while it was packed; try again" :
		          strerror(-rc));
		goto out;
	}
	user_name(c->peer->uid, user);
	pthread_mutex_lock(&s->mu);
	strcpy(r.state, "exported");
	free(r.exporter);
	r.exporter = strdup(user);
	r.exported = now_us();
	memcpy(r.package, id, sizeof(id));
	hexs(r.manifest, digest, sizeof(digest));
	/* Recorded before it counts: each file sent, then the export. */
	for (size_t i = 0; i < r.nfiles && rc == 0; i++) {
		const char *keep = c->action;

		c->action = "share-file";
		rc = note(c, &r, AUDIT_ALLOWED, 0, why.rule, r.files[i],
		          (int64_t)files[i].size, "package=%s", id);
		c->action = keep;
	}
	if (rc == 0)
		rc = note(c, &r, AUDIT_ALLOWED, 0, why.rule, NULL,
		          (int64_t)bytes, "package=%s; recipient=%s; files=%zu",
		          id, r.fpr, r.nfiles);
	if (rc == 0 && (r.exporter == NULL || req_save(s, &r) != 0))
		rc = -EIO;
	pthread_mutex_unlock(&s->mu);
	if (rc != 0) {
		reply_err(c, "the export could not be recorded: the package "
		          "must not be sent");
		goto out;
	}
	hexs(spk, sg.pk, sizeof(sg.pk));
	kv_add(c->reply, "status", "ok");
	kv_add(c->reply, "package", id);
	kv_add(c->reply, "manifest", r.manifest);
	kv_add(c->reply, "recipient", r.fpr);
	kv_add(c->reply, "sender", spk);
	kv_addf(c->reply, "files", "%zu", r.nfiles);
	kv_addf(c->reply, "bytes", "%" PRIu64, bytes);
out:
	if (busy)
		busy_drop(s, r.id);
	for (size_t i = 0; rd != NULL && i < r.nfiles; i++)
		fs_reader_close(rd[i]);
	free(rd);
	free(files);
	req_free(&r);
}

static int unhex(unsigned char *out, size_t n, const char *s)
{
	size_t bin;

	return s != NULL && strlen(s) == 2 * n &&
	       sodium_hex2bin(out, n, s, 2 * n, NULL, &bin, NULL) == 0 &&
	       bin == n ? 0 : -EINVAL;
}

/* share-receipt: id, receipt (its text) */
static void do_receipt(struct call *c)
{
	struct share *s = c->s;
	struct policy_decision why;
	struct sharepkg_receipt *rc_out = NULL;
	struct sharepkg_pub pk;
	unsigned char digest[SHAREPKG_DIGESTBYTES];
	const char *text = kv_get(c->req, "receipt");
	struct req r;
	int rc;

	pthread_mutex_lock(&s->mu);
	if (load(c, &r) != 0)
		goto unlock;
	if (!may_send(c, &r, &why)) {
		refuse(c, &r, why.rule, "not allowed to record a receipt",
		       "you may not record a receipt for this request");
		goto out;
	}
	if (strcmp(r.state, "exported") != 0) {
		reply_err(c, "request %" PRIu64 " is %s: %s", r.id, r.state,
		          strcmp(r.state, "received") == 0 ?
		          "its receipt is recorded already" :
		          "no package was sent");
		goto out;
	}
	if (text == NULL ||
	    sharepkg_pub_parse(r.recipient, strlen(r.recipient), &pk) != 0 ||
	    unhex(digest, sizeof(digest), r.manifest) != 0) {
		reply_err(c, "no receipt given");
		goto out;
	}
	rc = sharepkg_receipt_check(text, strlen(text), &pk, r.package, digest,
	                            &rc_out);
	if (rc != 0) {
		const char *why_not = rc == -EBADMSG ?
		    "not signed by the recipient's key" : rc == -ESRCH ?
		    "a receipt of another package" : "not a receipt";

		note(c, &r, AUDIT_ERROR, -rc, why.rule, NULL, -1,
		     "receipt refused: %s", why_not);
		reply_err(c, "receipt refused: %s", why_not);
		goto out;
	}
	strcpy(r.state, "received");
	r.received = rc_out->received * 1000000;
	if (note(c, &r, AUDIT_ALLOWED, 0, why.rule, NULL, -1,
	         "package=%s; recipient=%s; files=%zu", r.package, r.fpr,
	         rc_out->nfiles) != 0 || req_save(s, &r) != 0) {
		reply_err(c, "the receipt could not be recorded");
		goto out;
	}
	kv_add(c->reply, "status", "ok");
	kv_add(c->reply, "package", r.package);
out:
	sharepkg_receipt_free(rc_out);
	req_free(&r);
unlock:
	pthread_mutex_unlock(&s->mu);
}

/* share-list: every request of a client the caller may share or decide
 * for, one "request" value each: tab-separated id, state, client,
 * requester, recipient fingerprint, number of files, decider, reason. */
static void do_list(struct call *c)
{
	struct share *s = c->s;
	uint64_t last;

	pthread_mutex_lock(&s->mu);
	last = s->last_id;
	pthread_mutex_unlock(&s->mu);
	kv_add(c->reply, "status", "ok");
	for (uint64_t id = 1; id <= last; id++) {
		struct policy_decision why;
		struct req r;
		char line[SHAREPKG_TEXT_MAX + 1024];

		if (req_load(s, id, &r) != 0)
			continue;
		if (may(c, &r, POL_SHARE, &why) || may(c, &r, POL_ADMIN, &why)) {
			snprintf(line, sizeof(line),
			         "%" PRIu64 "\t%s\t%s\t%s\t%s\t%zu\t%s\t%s", id,
			         r.state, r.client, r.requester, r.fpr,
			         r.nfiles, r.decider ? r.decider : "-",
			         r.reason);
			kv_add(c->reply, "request", line);
		}
		req_free(&r);
	}
}

void share_call(struct share *s, const struct control_peer *peer,
                const struct kvmsg *req, int fd, struct kvbuf *reply)
{
	const char *op = kv_get(req, "op");
	struct call c = { s, peer, req, reply, op };

	if (op == NULL)
		reply_err(&c, "no op");
	else if (strcmp(op, "share-request") == 0)
		do_request(&c);
	else if (strcmp(op, "share-approve") == 0)
		do_decide(&c, true);
	else if (strcmp(op, "share-reject") == 0)
		do_decide(&c, false);
	else if (strcmp(op, "share-export") == 0)
		do_export(&c, fd);
	else if (strcmp(op, "share-receipt") == 0)
		do_receipt(&c);
	else if (strcmp(op, "share-list") == 0)
		do_list(&c);
	else
		reply_err(&c, "unknown op %s", op);
}
