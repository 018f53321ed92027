/* The tamper-evident audit store of a vault: see include/audit.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include <sqlite3.h>

#include "audit.h"
#include "util.h"

#define FORMAT_VERSION 1
#define REC_DOMAIN     "dossierfs-audit-v1"
#define CP_DOMAIN      "dossierfs-audit-cp-v1"
#define DOC_DOMAIN     "dossierfs-audit-doc-v1\n"
#define SEAL_DOMAIN    "dossierfs-audit-seal-v1"
#define PUB_MAGIC      "dossierfs-audit-ed25519"
#define KDF_CTX        "dsfaudsk"
#define TAGBYTES       16u
#define PADBLOCK       32u
#define NONCEBYTES     crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define MACBYTES       crypto_aead_xchacha20poly1305_ietf_ABYTES
#define PLAIN_MAX      (AUDIT_TEXT_MAX + PADBLOCK)       /* padded name */
#define SEALED_MAX     (NONCEBYTES + PLAIN_MAX + MACBYTES)
#define SEALED_MIN     (NONCEBYTES + PADBLOCK + MACBYTES)
#define PUB_LEN        (sizeof(PUB_MAGIC) + 2 * crypto_sign_PUBLICKEYBYTES + 1)
#define CP_MSG_LEN     (sizeof(CP_DOMAIN) - 1 + 8 + AUDIT_HASHBYTES + 8)
#define PAGE_ROWS      256
#define PAGE_ROWS_S    "256"
#define QUEUED         1

_Static_assert(crypto_kdf_KEYBYTES == AUDIT_SECRETBYTES, "secret size");
_Static_assert(sizeof(KDF_CTX) - 1 == crypto_kdf_CONTEXTBYTES, "kdf ctx");
_Static_assert(crypto_sign_BYTES == 64, "audit_sign_doc() signature size");

/* The stored columns, in the order they are hashed. */
enum col {
	C_SEQ, C_TIME, C_UID, C_USER, C_ROLES, C_PID, C_EXE, C_NODE,
	C_ACTION, C_TAG, C_CLIENT, C_PATH, C_PATH2, C_OUTCOME, C_ERRNO,
	C_RULE, C_POLICY, C_BYTES, C_DETAIL, C_PREV, NCOLS
};
#define C_HASH NCOLS       /* selected after the hashed columns */

#define COLS "seq, time_us, uid, user, roles, pid, exe, node, action, " \
	"client_tag, client, path, path2, outcome, errno, rule, policy, " \
	"bytes, detail, prev"

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta ("
	" key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;"
	"CREATE TABLE IF NOT EXISTS events ("
	" seq INTEGER PRIMARY KEY, time_us INTEGER NOT NULL,"
	" uid INTEGER NOT NULL, user TEXT, roles TEXT,"
	" pid INTEGER NOT NULL, exe TEXT, node TEXT NOT NULL,"
	" action TEXT NOT NULL, client_tag BLOB, client BLOB, path BLOB,"
	" path2 BLOB, outcome TEXT NOT NULL, errno INTEGER NOT NULL,"
	" rule TEXT, policy TEXT, bytes INTEGER, detail TEXT,"
	" prev BLOB NOT NULL, hash BLOB NOT NULL) STRICT;"
	"CREATE INDEX IF NOT EXISTS events_client ON events (client_tag, seq);"
	"CREATE TABLE IF NOT EXISTS checkpoints ("
	" id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, hash BLOB NOT NULL,"
	" time_us INTEGER NOT NULL, sig BLOB NOT NULL) STRICT;";

/* The writer's prepared statements. */
enum stmt { ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_HEAD, ST_INSERT,
            ST_LASTCP, ST_ADDCP, NSTMT };

static const char *const stmt_sql[NSTMT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_HEAD] = "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
	[ST_INSERT] = "INSERT INTO events (" COLS ", hash) VALUES (?1, ?2,"
	              " ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
	              " ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
	[ST_LASTCP] = "SELECT seq FROM checkpoints ORDER BY id DESC LIMIT 1",
	[ST_ADDCP] = "INSERT INTO checkpoints (seq, hash, time_us, sig)"
	             " VALUES (?1, ?2, ?3, ?4)",
};

/* Which name a sealed blob holds (part of its associated data). */
enum sealed_field { SF_CLIENT = 1, SF_PATH = 2, SF_PATH2 = 3 };

struct keys {
	unsigned char seal[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	unsigned char tag[crypto_generichash_KEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
};

/* One record on its way to the store. */
struct item {
	struct item *next;
	struct audit_event ev;
	int64_t time_us;
	uint64_t seq;                /* set by the leader */
	int state;                   /* QUEUED, 0 committed, or -EIO */
	int owned;                   /* a copy made by audit_record_nowait() */
	size_t size;                 /* of that copy, for the wipe */
	pthread_cond_t done;         /* not owned: state changed, or lead */
};

/*
 * Lock order: mu only; no other lock is taken while it is held. db, st,
 * scratch and why belong to the thread holding the leader role (leading
 * set under mu), which uses them with mu released.
 */
struct audit {
	int dirfd;                   /* our own duplicate */
	char dbpath[64];             /* /proc/self/fd/N/audit.db */
	char where[PATH_MAX];        /* the real path, for messages */
	char node[256];
	unsigned busy_ms;
	int syslog;                  /* send every committed record there */
	time_t log_checked;          /* mu: when log_up was last checked */
	int log_up;                  /* mu: a syslog socket exists */
	struct keys *k;              /* sodium_malloc */
	sqlite3 *db;                 /* NULL for a read-only handle */
	sqlite3_stmt *st[NSTMT];
	unsigned char *scratch;      /* 3 * SEALED_MAX, sealed names */
	char why[256];               /* the last commit error */

	pthread_mutex_t mu;
	pthread_cond_t cv;           /* the leader role came free */
	int role_waiters;            /* mu: threads waiting on cv */
	struct item *qhead;          /* mu: FIFO of queued records */
	struct item **qtail;         /* mu */
	size_t nqueued;              /* mu */
	size_t nasync;               /* mu: owned items in the queue */
	int leading;                 /* mu */
	uint64_t down_refused;       /* mu: refused since the store failed */
	struct audit_stats stats;    /* mu */
};

/* One stored value, typed as SQLite stores it. */
struct val {
	int type;
	int64_t i;
	const void *p;
	size_t len;
};

/* ---- small helpers ---------------------------------------------------- */

static void put_be64(unsigned char *b, uint64_t x)
{
	for (int i = 7; i >= 0; i--) {
		b[i] = (unsigned char)(x & 0xff);
		x >>= 8;
	}
}

static void put_be32(unsigned char *b, uint32_t x)
{
	for (int i = 3; i >= 0; i--) {
		b[i] = (unsigned char)(x & 0xff);
		x >>= 8;
	}
}

/* One line to syslog and stderr. */
static void say(int prio, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	syslog(prio, "%s", buf);
	fprintf(stderr, "dossierfs: %s\n", buf);
}

const char *audit_outcome_name(enum audit_outcome o)
{
	switch (o) {
	case AUDIT_ALLOWED: return "allowed";
	case AUDIT_DENIED:  return "denied";
	case AUDIT_ERROR:   return "error";
	}
	return NULL;
}

int audit_outcome_parse(const char *name, enum audit_outcome *out)
{
	for (int o = AUDIT_ALLOWED; o <= AUDIT_ERROR; o++) {
		if (name && strcmp(name, audit_outcome_name(o)) == 0) {
			*out = (enum audit_outcome)o;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- values and the record hash --------------------------------------- */

static struct val v_int(int64_t i)
{
	return (struct val){ .type = SQLITE_INTEGER, .i = i };
}

static struct val v_text(const char *s)
{
	if (s == NULL)
		return (struct val){ .type = SQLITE_NULL };
	return (struct val){ .type = SQLITE_TEXT, .p = s, .len = strlen(s) };
}

static struct val v_blob(const void *p, size_t len)
{
	if (p == NULL)
		return (struct val){ .type = SQLITE_NULL };
	return (struct val){ .type = SQLITE_BLOB, .p = p, .len = len };
}

static void col_val(sqlite3_stmt *s, int i, struct val *v)
{
	double d;

	memset(v, 0, sizeof(*v));
	v->type = sqlite3_column_type(s, i);
	switch (v->type) {
	case SQLITE_INTEGER:
		v->i = sqlite3_column_int64(s, i);
		break;
	case SQLITE_FLOAT:
		d = sqlite3_column_double(s, i);
		memcpy(&v->i, &d, sizeof(d));
		break;
	case SQLITE_TEXT:
		v->p = sqlite3_column_text(s, i);
		v->len = (size_t)sqlite3_column_bytes(s, i);
		break;
	case SQLITE_BLOB:
		v->p = sqlite3_column_blob(s, i);
		v->len = (size_t)sqlite3_column_bytes(s, i);
		break;
	}
}

static int bind_val(sqlite3_stmt *s, int i, const struct val *v)
{
	switch (v->type) {
	case SQLITE_INTEGER:
		return sqlite3_bind_int64(s, i, v->i);
	case SQLITE_TEXT:
		return sqlite3_bind_text(s, i, v->p, (int)v->len, SQLITE_STATIC);
	case SQLITE_BLOB:
		return sqlite3_bind_blob(s, i, v->p, (int)v->len, SQLITE_STATIC);
	default:
		return sqlite3_bind_null(s, i);
	}
}

static unsigned char type_tag(int type)
{
	return type == SQLITE_NULL ? 0 : (unsigned char)type;
}

/* The record hash of header comment in audit.h. */
static void hash_vals(const struct val *v, unsigned char *out)
{
	crypto_generichash_state st;
	unsigned char hdr[9];

	crypto_generichash_init(&st, NULL, 0, AUDIT_HASHBYTES);
	crypto_generichash_update(&st, (const unsigned char *)REC_DOMAIN,
	                          sizeof(REC_DOMAIN) - 1);
	for (int i = 0; i < NCOLS; i++) {
		size_t n = 1;

		hdr[0] = type_tag(v[i].type);
		if (v[i].type == SQLITE_INTEGER || v[i].type == SQLITE_FLOAT) {
			put_be64(hdr + 1, (uint64_t)v[i].i);
			n = 9;
		} else if (v[i].type == SQLITE_TEXT ||
		           v[i].type == SQLITE_BLOB) {
			put_be32(hdr + 1, (uint32_t)v[i].len);
			n = 5;
		}
		crypto_generichash_update(&st, hdr, n);
		if (n == 5 && v[i].len > 0)
			crypto_generichash_update(&st, v[i].p, v[i].len);
	}
	crypto_generichash_final(&st, out, AUDIT_HASHBYTES);
}

/* ---- names: seal, open, tag ------------------------------------------- */

static size_t seal_ad(enum sealed_field f, uint64_t seq, unsigned char *ad)
{
	size_t n = sizeof(SEAL_DOMAIN) - 1;

	memcpy(ad, SEAL_DOMAIN, n);
	ad[n] = (unsigned char)f;
	put_be64(ad + n + 1, seq);
	return n + 9;
}

/* Seals plain (at most AUDIT_TEXT_MAX bytes) into out (SEALED_MAX bytes,
 * starting with a fresh random nonce) as nonce || ciphertext of the
 * padded name || tag, in place; returns its length. */
static size_t seal(const struct keys *k, enum sealed_field f, uint64_t seq,
                   const char *plain, unsigned char *out)
{
	unsigned char ad[sizeof(SEAL_DOMAIN) + 8];
	unsigned char *m = out + NONCEBYTES;
	unsigned long long clen;
	size_t n = strlen(plain), padded;
	size_t adlen = seal_ad(f, seq, ad);

	memcpy(m, plain, n);
	if (sodium_pad(&padded, m, n, PADBLOCK, PLAIN_MAX) != 0)
		abort();              /* n was checked by event_check() */
	crypto_aead_xchacha20poly1305_ietf_encrypt(m, &clen, m, padded, ad,
	                                           adlen, NULL, out, k->seal);
	return NONCEBYTES + (size_t)clen;
}

/* Opens a sealed name into out (PLAIN_MAX + 1 bytes), NUL-terminated. */
static int unseal(const struct keys *k, enum sealed_field f, uint64_t seq,
                  const unsigned char *in, size_t len, char *out)
{
	unsigned char ad[sizeof(SEAL_DOMAIN) + 8];
	unsigned long long mlen;
	size_t adlen = seal_ad(f, seq, ad), n;

	if (len < SEALED_MIN || len > SEALED_MAX)
		return -EBADMSG;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
	        (unsigned char *)out, &mlen, NULL, in + NONCEBYTES,
	        len - NONCEBYTES, ad, adlen, in, k->seal) != 0)
		return -EBADMSG;
	if (sodium_unpad(&n, (unsigned char *)out, (size_t)mlen, PADBLOCK) != 0
	    || n > AUDIT_TEXT_MAX || memchr(out, '\0', n) != NULL)
		return -EBADMSG;
	out[n] = '\0';
	return 0;
}

static void client_tag(const struct keys *k, const char *client,
                       unsigned char *tag)
{
	crypto_generichash(tag, TAGBYTES, (const unsigned char *)client,
	                   strlen(client), k->tag, sizeof(k->tag));
}

static void keys_derive(struct keys *k, const unsigned char *secret)
{
	unsigned char seed[crypto_sign_SEEDBYTES];

	crypto_kdf_derive_from_key(k->seal, sizeof(k->seal), 1, KDF_CTX,
	                           secret);
	crypto_kdf_derive_from_key(k->tag, sizeof(k->tag), 2, KDF_CTX, secret);
	crypto_kdf_derive_from_key(seed, sizeof(seed), 3, KDF_CTX, secret);
	crypto_sign_seed_keypair(k->pk, k->sk, seed);
	sodium_memzero(seed, sizeof(seed));
}

/* ---- events ----------------------------------------------------------- */

#define NSTRINGS 11

/* The string fields of ev, for checks and copies. */
static void event_strings(struct audit_event *ev, const char **s[NSTRINGS])
{
	s[0] = &ev->user;   s[1] = &ev->roles;  s[2] = &ev->exe;
	s[3] = &ev->node;   s[4] = &ev->action; s[5] = &ev->client;
	s[6] = &ev->path;   s[7] = &ev->path2;  s[8] = &ev->rule;
	s[9] = &ev->policy; s[10] = &ev->detail;
}

static int event_check(const struct audit_event *ev)
{
	struct audit_event e;
	const char **s[NSTRINGS];

	if (ev == NULL || ev->action == NULL || ev->action[0] == '\0' ||
	    audit_outcome_name(ev->outcome) == NULL || ev->err < 0 ||
	    (ev->has_bytes && ev->bytes > INT64_MAX))
		return -EINVAL;
	e = *ev;
	event_strings(&e, s);
	for (int i = 0; i < NSTRINGS; i++)
		if (*s[i] && strnlen(*s[i], AUDIT_TEXT_MAX + 1) > AUDIT_TEXT_MAX)
			return -EINVAL;
	return 0;
}

/* A heap copy of ev and its strings, in one allocation. */
static struct item *item_copy(const struct audit_event *ev)
{
	struct item *it;
	struct audit_event e = *ev;
	const char **s[NSTRINGS];
	size_t size = sizeof(*it);
	char *p;

	event_strings(&e, s);
	for (int i = 0; i < NSTRINGS; i++)
		if (*s[i])
			size += strlen(*s[i]) + 1;
	it = calloc(1, size);
	if (it == NULL)
		return NULL;
	it->ev = *ev;
	it->owned = 1;
	it->size = size;
	it->state = QUEUED;
	p = (char *)(it + 1);
	event_strings(&it->ev, s);
	for (int i = 0; i < NSTRINGS; i++) {
		size_t n;

		if (*s[i] == NULL)
			continue;
		n = strlen(*s[i]) + 1;
		memcpy(p, *s[i], n);
		*s[i] = p;
		p += n;
	}
	return it;
}

/* Names hold client data: wiped before they go back to malloc. */
static void item_free(struct item *it)
{
	sodium_memzero(it, it->size);
	free(it);
}

/* ---- the writer's transaction (leader only) --------------------------- */

static int fail(struct audit *a, const char *what)
{
	snprintf(a->why, sizeof(a->why), "%s", what ? what
	         : sqlite3_errmsg(a->db));
	return -EIO;
}

/* Steps a statement that returns no row and resets it. */
static int step_done(struct audit *a, enum stmt i)
{
	int rc = sqlite3_step(a->st[i]);

	if (rc != SQLITE_DONE)
		fail(a, NULL);
	sqlite3_reset(a->st[i]);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int read_head(struct audit *a, struct audit_head *h)
{
	sqlite3_stmt *s = a->st[ST_HEAD];
	int rc = sqlite3_step(s);

	memset(h, 0, sizeof(*h));
	if (rc == SQLITE_DONE) {
		rc = 0;
	} else if (rc != SQLITE_ROW) {
		rc = fail(a, NULL);
	} else if (sqlite3_column_type(s, 0) != SQLITE_INTEGER ||
	           sqlite3_column_int64(s, 0) < 1 ||
	           sqlite3_column_type(s, 1) != SQLITE_BLOB ||
	           sqlite3_column_bytes(s, 1) != AUDIT_HASHBYTES) {
		rc = fail(a, "the last record is malformed (damaged store)");
	} else {
		h->seq = (uint64_t)sqlite3_column_int64(s, 0);
		memcpy(h->hash, sqlite3_column_blob(s, 1), AUDIT_HASHBYTES);
		rc = 0;
	}
	sqlite3_reset(s);
	return rc;
}

/* The sealed names of one record, in the leader's scratch memory. */
struct sealed {
	unsigned char tag[TAGBYTES];
	const unsigned char *blob[3];
	size_t len[3];
};

/* Seals the names of ev. The scratch memory then holds nonces and
 * ciphertext only (names are encrypted in place): nothing to wipe. */
static void seal_names(struct audit *a, const struct audit_event *ev,
                       uint64_t seq, struct sealed *s)
{
	const char *name[3] = { ev->client, ev->path, ev->path2 };
	unsigned char nonces[3][NONCEBYTES];

	if (ev->client)
		client_tag(a->k, ev->client, s->tag);
	randombytes_buf(nonces, sizeof(nonces));     /* one system call */
	for (int i = 0; i < 3; i++) {
		unsigned char *out = a->scratch + (size_t)i * SEALED_MAX;

		s->blob[i] = NULL;
		s->len[i] = 0;
		if (name[i] == NULL)
			continue;
		memcpy(out, nonces[i], NONCEBYTES);
		s->len[i] = seal(a->k, (enum sealed_field)(i + 1), seq,
		                 name[i], out);
		s->blob[i] = out;
	}
}

static void item_vals(const struct audit *a, const struct item *it,
                      uint64_t seq, const unsigned char *prev,
                      const struct sealed *s, struct val *v)
{
	const struct audit_event *e = &it->ev;

	v[C_SEQ] = v_int((int64_t)seq);
	v[C_TIME] = v_int(it->time_us);
	v[C_UID] = v_int((int64_t)e->uid);
	v[C_USER] = v_text(e->user);
	v[C_ROLES] = v_text(e->roles);
	v[C_PID] = v_int((int64_t)e->pid);
	v[C_EXE] = v_text(e->exe);
	v[C_NODE] = v_text(e->node ? e->node : a->node);
	v[C_ACTION] = v_text(e->action);
	v[C_TAG] = v_blob(e->client ? s->tag : NULL, TAGBYTES);
	v[C_CLIENT] = v_blob(s->blob[0], s->len[0]);
	v[C_PATH] = v_blob(s->blob[1], s->len[1]);
	v[C_PATH2] = v_blob(s->blob[2], s->len[2]);
	v[C_OUTCOME] = v_text(audit_outcome_name(e->outcome));
	v[C_ERRNO] = v_int(e->err);
	v[C_RULE] = v_text(e->rule);
	v[C_POLICY] = v_text(e->policy);
	v[C_BYTES] = e->has_bytes ? v_int((int64_t)e->bytes)
	                          : (struct val){ .type = SQLITE_NULL };
	v[C_DETAIL] = v_text(e->detail);
	v[C_PREV] = v_blob(prev, AUDIT_HASHBYTES);
}

/* Appends it after head and moves head on. */
static int insert(struct audit *a, struct item *it, struct audit_head *head)
{
	sqlite3_stmt *s = a->st[ST_INSERT];
	unsigned char hash[AUDIT_HASHBYTES];
	uint64_t seq = head->seq + 1;
	struct val v[NCOLS];
	struct sealed sn;
	int rc;

	seal_names(a, &it->ev, seq, &sn);
	item_vals(a, it, seq, head->hash, &sn, v);
	hash_vals(v, hash);
	for (int i = 0; i < NCOLS; i++)
		if (bind_val(s, i + 1, &v[i]) != SQLITE_OK)
			return fail(a, NULL);
	if (sqlite3_bind_blob(s, C_HASH + 1, hash, sizeof(hash),
	                      SQLITE_STATIC) != SQLITE_OK)
		return fail(a, NULL);
	if ((rc = step_done(a, ST_INSERT)) != 0)
		return rc;
	it->seq = seq;
	head->seq = seq;
	memcpy(head->hash, hash, sizeof(hash));
	return 0;
}

static void cp_message(uint64_t seq, const unsigned char *hash,
                       int64_t time_us, unsigned char *msg)
{
	size_t n = sizeof(CP_DOMAIN) - 1;

	memcpy(msg, CP_DOMAIN, n);
	put_be64(msg + n, seq);
	memcpy(msg + n + 8, hash, AUDIT_HASHBYTES);
	put_be64(msg + n + 8 + AUDIT_HASHBYTES, (uint64_t)time_us);
}

/* Signs head unless the last checkpoint signed it already: 1 or 0. */
static int sign_head(struct audit *a, const struct audit_head *head,
                     struct audit_head *out)
{
	unsigned char msg[CP_MSG_LEN], sig[crypto_sign_BYTES];
	sqlite3_stmt *s = a->st[ST_LASTCP];
	int64_t last = 0, t = now_us();
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		last = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		fail(a, NULL);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -EIO;
	if (head->seq == 0 || (uint64_t)last >= head->seq)
		return 0;
	cp_message(head->seq, head->hash, t, msg);
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), a->k->sk);
	s = a->st[ST_ADDCP];
	if (sqlite3_bind_int64(s, 1, (int64_t)head->seq) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 2, head->hash, AUDIT_HASHBYTES,
	                      SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, t) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 4, sig, sizeof(sig), SQLITE_STATIC) != SQLITE_OK)
		return fail(a, NULL);
	if ((rc = step_done(a, ST_ADDCP)) != 0)
		return rc;
	*out = *head;
	out->time_us = t;
	return 1;
}

/*
 * One transaction: appends batch and, if cp is not NULL, signs the new
 * head. seq and prev are read inside it, so a failure leaves nothing.
 * Returns 1 if it made a checkpoint, 0, or -EIO (rolled back).
 */
static int write_txn(struct audit *a, struct item *batch,
                     struct audit_head *cp)
{
	struct audit_head head;
	int rc, made = 0;

	if ((rc = step_done(a, ST_BEGIN)) != 0 ||
	    (rc = read_head(a, &head)) != 0)
		goto out;
	for (struct item *it = batch; it != NULL; it = it->next)
		if ((rc = insert(a, it, &head)) != 0)
			goto out;
	if (cp != NULL && (made = rc = sign_head(a, &head, cp)) < 0)
		goto out;
	rc = step_done(a, ST_COMMIT);
out:
	if (rc < 0 && !sqlite3_get_autocommit(a->db))
		step_done(a, ST_ROLLBACK);
	return rc < 0 ? -EIO : made;
}

/* ---- group commit ----------------------------------------------------- */

static void enqueue(struct audit *a, struct item *it)
{
	it->time_us = now_us();
	it->next = NULL;
	*a->qtail = it;
	a->qtail = &it->next;
	a->nqueued++;
	if (it->owned)
		a->nasync++;
}

/* Logs the store going bad or coming back. mu held, leader. */
static void note_health(struct audit *a, int ok)
{
	if (!ok && !a->stats.failing) {
		say(LOG_ERR, "audit: cannot write %s: %s; accesses are refused "
		    "until it works again", a->where, a->why);
		a->down_refused = 0;
	} else if (ok && a->stats.failing) {
		say(LOG_NOTICE, "audit: %s works again; %" PRIu64 " records "
		    "were refused meanwhile", a->where, a->down_refused);
	}
	a->stats.failing = !ok;
}

/* Whether a syslog daemon listens (its socket exists), looked at once a
 * second: with none, syslog() would try to connect on every record. mu
 * held. */
static int syslog_up(struct audit *a)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec != a->log_checked) {
		a->log_checked = now.tv_sec;
		a->log_up = access(_PATH_LOG, F_OK) == 0;
	}
	return a->log_up;
}

/* Sends a committed record to syslog, one line (LOG_AUTHPRIV: the
 * private log of access events, root-readable on Debian). */
static void to_syslog(struct audit *a, const struct item *it)
{
	struct audit_row r = { .seq = it->seq, .time_us = it->time_us,
	                       .ev = it->ev };
	char line[2048];
	size_t n;

	if (!syslog_up(a))
		return;
	if (r.ev.node == NULL)
		r.ev.node = a->node;
	n = audit_format(&r, AUDIT_FMT_TEXT, line, sizeof(line));
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	if (n > 0 && line[n - 1] == '\n')
		line[n - 1] = '\0';
	syslog(LOG_AUTHPRIV | LOG_INFO, "audit: %s", line);
}

/* Hands the results of a batch back. mu held, leader. Owned items are
 * freed once committed and queued again, in order, on failure. */
static void settle(struct audit *a, struct item *batch, int rc)
{
	struct item *again = NULL, **tail = &again, *next;
	uint64_t n = 0;

	for (struct item *it = batch; it != NULL; it = next) {
		next = it->next;
		n++;
		if (rc >= 0 && a->syslog)
			to_syslog(a, it);
		if (rc >= 0 && it->owned) {
			item_free(it);
		} else if (rc >= 0) {
			it->state = 0;
			pthread_cond_signal(&it->done);
		} else if (it->owned) {
			*tail = it;
			tail = &it->next;
			a->nqueued++;
			a->nasync++;
		} else {
			it->state = -EIO;
			a->stats.refused++;
			a->down_refused++;
			pthread_cond_signal(&it->done);
		}
	}
	if (again != NULL) {
		*tail = a->qhead;
		if (a->qhead == NULL)
			a->qtail = tail;
		a->qhead = again;
	}
	if (n > 0 && rc >= 0) {
		a->stats.records += n;
		a->stats.commits++;
		if (n > a->stats.max_batch)
			a->stats.max_batch = n;
	} else if (rc < 0) {
		a->stats.failures++;
	}
}

/*
 * Gives the free leader role to whoever needs it: a flush or checkpoint
 * waiting for it, else the first waiting caller in the queue. Waking only
 * that one (and, in settle(), only the callers whose records are done)
 * keeps a herd of woken threads from competing for mu while the next
 * batch fills. mu held.
 */
static void hand_over(struct audit *a)
{
	if (a->role_waiters > 0) {
		pthread_cond_broadcast(&a->cv);
		return;
	}
	for (struct item *it = a->qhead; it != NULL; it = it->next) {
		if (!it->owned) {
			pthread_cond_signal(&it->done);
			return;
		}
	}
}

/*
 * Takes the leader role and everything queued, writes it (and a
 * checkpoint if cp is not NULL) with mu released, settles, and gives the
 * role up. Called and returns with mu held and the role free.
 */
static int lead(struct audit *a, struct audit_head *cp)
{
	struct item *batch = a->qhead;
	int rc = 0;

	a->leading = 1;
	a->qhead = NULL;
	a->qtail = &a->qhead;
	a->nqueued = 0;
	a->nasync = 0;
	pthread_mutex_unlock(&a->mu);
	if (batch != NULL || cp != NULL)
		rc = write_txn(a, batch, cp);
	pthread_mutex_lock(&a->mu);
	if (rc >= 0 && batch != NULL) {
		struct item *last = batch;

		while (last->next != NULL)
			last = last->next;
		a->stats.head_seq = last->seq;
	}
	if (batch != NULL || cp != NULL)
		note_health(a, rc >= 0);
	settle(a, batch, rc);
	a->leading = 0;
	hand_over(a);
	return rc;
}

int audit_record(struct audit *a, const struct audit_event *ev,
                 uint64_t *seq)
{
	struct item it = { .state = QUEUED };
	int rc;

	if (a == NULL || (rc = event_check(ev)) != 0)
		return -EINVAL;
	if (a->db == NULL)
		return -EBADF;
	it.ev = *ev;
	pthread_cond_init(&it.done, NULL);
	pthread_mutex_lock(&a->mu);
	enqueue(a, &it);
	while (it.state == QUEUED) {
		if (!a->leading)
			lead(a, NULL);
		else
			pthread_cond_wait(&it.done, &a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	pthread_cond_destroy(&it.done);
	if (it.state == 0 && seq != NULL)
		*seq = it.seq;
	return it.state;
}

int audit_record_nowait(struct audit *a, const struct audit_event *ev)
{
	struct item *it;
	int rc = 0;

	if (a == NULL || event_check(ev) != 0)
		return -EINVAL;
	if (a->db == NULL)
		return -EBADF;
	if ((it = item_copy(ev)) == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&a->mu);
	if (a->stats.failing || a->nasync >= AUDIT_QUEUE_MAX) {
		a->stats.refused++;
		a->down_refused++;
		rc = -EIO;
	} else {
		enqueue(a, it);
		/* Records nobody waits for must not pile up (a burst of
		 * denials): past AUDIT_QUEUE_LEAD, the caller commits. */
		if (a->nqueued >= AUDIT_QUEUE_LEAD && !a->leading)
			lead(a, NULL);
	}
	pthread_mutex_unlock(&a->mu);
	if (rc != 0)
		item_free(it);
	return rc;
}

/* Waits for the leader role, then leads once. */
static int lead_now(struct audit *a, struct audit_head *cp)
{
	int rc;

	pthread_mutex_lock(&a->mu);
	a->role_waiters++;
	while (a->leading)
		pthread_cond_wait(&a->cv, &a->mu);
	a->role_waiters--;
	rc = (a->qhead != NULL || cp != NULL) ? lead(a, cp) : 0;
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int audit_flush(struct audit *a)
{
	if (a == NULL)
		return -EINVAL;
	if (a->db == NULL)
		return 0;
	return lead_now(a, NULL) < 0 ? -EIO : 0;
}

int audit_checkpoint(struct audit *a, struct audit_head *out)
{
	struct audit_head h;
	int rc;

	if (a == NULL)
		return -EINVAL;
	if (a->db == NULL)
		return -EBADF;
	rc = lead_now(a, &h);
	if (rc == 1 && out != NULL)
		*out = h;
	return rc;
}

void audit_stats(struct audit *a, struct audit_stats *st)
{
	pthread_mutex_lock(&a->mu);
	*st = a->stats;
	st->queued = a->nqueued;
	pthread_mutex_unlock(&a->mu);
}

/* ---- opening ---------------------------------------------------------- */

/* A connection to path; the caller serializes its use (NOMUTEX). */
static int conn_open(const char *path, unsigned busy_ms, int writable,
                     sqlite3 **out)
{
	int flags = SQLITE_OPEN_NOMUTEX |
	            (writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY);
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return -EIO;
	}
	sqlite3_busy_timeout(db, (int)busy_ms);
	sqlite3_extended_result_codes(db, 1);
	/* A store may have been tampered with: no schema-borne code. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	*out = db;
	return 0;
}

/* The value of key in meta into buf: 0, -ENOENT, -EIO. */
static int meta_get(sqlite3 *db, const char *key, char *buf, size_t cap)
{
	sqlite3_stmt *s = NULL;
	int rc = -EIO;

	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1",
	                       -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(s, 0);

		snprintf(buf, cap, "%s", v ? (const char *)v : "");
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
out:
	sqlite3_finalize(s);
	return rc;
}

static int meta_put(sqlite3 *db, const char *key, const char *value)
{
	sqlite3_stmt *s = NULL;
	int rc = -EIO;

	if (sqlite3_prepare_v2(db, "INSERT INTO meta (key, value) "
	                       "VALUES (?1, ?2)", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_DONE)
		rc = 0;
	sqlite3_finalize(s);
	return rc;
}

/*
 * Checks the format and that the store's key is pk (in hex); with
 * create, a store without meta gets them. Inside a transaction.
 */
static int meta_check(sqlite3 *db, const char *pkhex, int create)
{
	char fmt[16], key[2 * crypto_sign_PUBLICKEYBYTES + 1];
	char want[16];
	int rc = meta_get(db, "format", fmt, sizeof(fmt));

	snprintf(want, sizeof(want), "%d", FORMAT_VERSION);
	if (rc == -ENOENT && create) {
		if (meta_put(db, "format", want) != 0 ||
		    meta_put(db, "pubkey", pkhex) != 0)
			return -EIO;
		return 0;
	}
	if (rc != 0)
		return rc == -ENOENT ? -EINVAL : rc;
	if (atoi(fmt) > FORMAT_VERSION)
		return -EPROTONOSUPPORT;
	if (atoi(fmt) != FORMAT_VERSION)
		return -EINVAL;
	if ((rc = meta_get(db, "pubkey", key, sizeof(key))) != 0)
		return rc == -ENOENT ? -EINVAL : rc;
	return strcmp(key, pkhex) == 0 ? 0 : -EKEYREJECTED;
}

static void pub_hex(const unsigned char *pk, char *hex)
{
	sodium_bin2hex(hex, 2 * crypto_sign_PUBLICKEYBYTES + 1, pk,
	               crypto_sign_PUBLICKEYBYTES);
}

/* Reads audit.pub's key: 0, -ENOENT, -EINVAL (not a key file), -errno. */
static int pub_read(int dirfd, unsigned char *pk)
{
	char buf[PUB_LEN + 1];
	const char *hex = buf + sizeof(PUB_MAGIC);
	size_t got;
	ssize_t n;
	int fd, rc = -EINVAL;

	fd = openat(dirfd, AUDIT_PUB, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	if (n < 0)
		rc = -errno;
	close(fd);
	if (n != (ssize_t)PUB_LEN)
		return n < 0 ? rc : -EINVAL;
	if (memcmp(buf, PUB_MAGIC " ", sizeof(PUB_MAGIC)) != 0 ||
	    buf[PUB_LEN - 1] != '\n')
		return -EINVAL;
	if (sodium_hex2bin(pk, crypto_sign_PUBLICKEYBYTES, hex,
	                   2 * crypto_sign_PUBLICKEYBYTES, NULL, &got,
	                   NULL) != 0 || got != crypto_sign_PUBLICKEYBYTES)
		return -EINVAL;
	return 0;
}

static int fsync_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Writes audit.pub (whole, by rename) or checks the one there. */
static int pub_write(const struct audit *a)
{
	char line[PUB_LEN + 1];
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	int fd, rc;

	rc = pub_read(a->dirfd, pk);
	if (rc == 0)
		return memcmp(pk, a->k->pk, sizeof(pk)) == 0 ? 0 : -EKEYREJECTED;
	if (rc != -ENOENT)
		return rc == -EINVAL ? -EKEYREJECTED : rc;
	memcpy(line, PUB_MAGIC " ", sizeof(PUB_MAGIC));
	pub_hex(a->k->pk, line + sizeof(PUB_MAGIC));
	line[PUB_LEN - 1] = '\n';
	unlinkat(a->dirfd, AUDIT_PUB ".new", 0);
	fd = openat(a->dirfd, AUDIT_PUB ".new", O_WRONLY | O_CREAT | O_EXCL |
	            O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = 0;
	if (fchmod(fd, 0644) != 0 || write(fd, line, PUB_LEN) != PUB_LEN ||
	    fsync(fd) != 0)
		rc = errno ? -errno : -EIO;
	close(fd);
	if (rc == 0 && renameat(a->dirfd, AUDIT_PUB ".new", a->dirfd,
	                        AUDIT_PUB) != 0)
		rc = -errno;
	if (rc != 0)
		unlinkat(a->dirfd, AUDIT_PUB ".new", 0);
	return rc != 0 ? rc : fsync_dir(a->dirfd);
}

/* The common part of both kinds of handle. */
static int handle_new(int dirfd, const unsigned char *secret,
                      struct audit **out)
{
	char link[64];
	struct audit *a;
	ssize_t n;

	if (secret == NULL || out == NULL)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	a->qtail = &a->qhead;
	a->busy_ms = AUDIT_BUSY_MS;
	a->k = sodium_malloc(sizeof(*a->k));
	a->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	*out = a;
	if (a->k == NULL)
		return -ENOMEM;
	if (a->dirfd < 0)
		return -errno;
	keys_derive(a->k, secret);
	snprintf(a->dbpath, sizeof(a->dbpath), "/proc/self/fd/%d/" AUDIT_DB,
	         a->dirfd);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", a->dirfd);
	n = readlink(link, a->where, sizeof(a->where) - sizeof(AUDIT_DB) - 1);
	if (n < 0)
		n = 0;
	snprintf(a->where + n, sizeof(a->where) - (size_t)n, "%s" AUDIT_DB,
	         n > 0 ? "/" : "");
	return 0;
}

static void handle_free(struct audit *a)
{
	struct item *next;

	for (struct item *it = a->qhead; it != NULL; it = next) {
		next = it->next;
		if (it->owned)
			item_free(it);
	}
	for (int i = 0; i < NSTMT; i++)
		sqlite3_finalize(a->st[i]);
	sqlite3_close(a->db);
	if (a->k)
		sodium_free(a->k);
	free(a->scratch);
	if (a->dirfd >= 0)
		close(a->dirfd);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

/* audit.db must be a regular file (created 0600 if create). */
static int db_file(int dirfd, int create)
{
	struct stat st;
	int fd;

	if (!create) {
		if (fstatat(dirfd, AUDIT_DB, &st, AT_SYMLINK_NOFOLLOW) != 0)
			return -errno;
		return S_ISREG(st.st_mode) ? 0 : -EINVAL;
	}
	fd = openat(dirfd, AUDIT_DB, O_RDWR | O_CREAT | O_NOFOLLOW |
	            O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == ELOOP ? -EINVAL : -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	close(fd);
	return 0;
}

/* 0 if the one-row pragma answers want (NULL: anything). */
static int pragma(sqlite3 *db, const char *sql, const char *want)
{
	sqlite3_stmt *s = NULL;
	int rc = -EIO, step;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		goto out;
	step = sqlite3_step(s);
	if (step == SQLITE_ROW && want != NULL) {
		const unsigned char *v = sqlite3_column_text(s, 0);

		rc = v && strcmp((const char *)v, want) == 0 ? 0 : -EIO;
	} else if (step == SQLITE_ROW || step == SQLITE_DONE) {
		rc = 0;
	}
out:
	sqlite3_finalize(s);
	return rc;
}

static int writer_setup(struct audit *a)
{
	char pk[2 * crypto_sign_PUBLICKEYBYTES + 1];
	int rc;

	if (pragma(a->db, "PRAGMA journal_mode=WAL", "wal") != 0 ||
	    pragma(a->db, "PRAGMA synchronous=NORMAL", NULL) != 0 ||
	    sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -EIO;
	pub_hex(a->k->pk, pk);
	rc = sqlite3_exec(a->db, schema_sql, NULL, NULL, NULL) == SQLITE_OK
	     ? meta_check(a->db, pk, 1) : -EIO;
	if (rc == 0 && sqlite3_exec(a->db, "COMMIT", NULL, NULL,
	                            NULL) != SQLITE_OK)
		rc = -EIO;
	if (!sqlite3_get_autocommit(a->db))
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
	if (rc != 0)
		return rc;
	for (int i = 0; i < NSTMT; i++)
		if (sqlite3_prepare_v3(a->db, stmt_sql[i], -1,
		                       SQLITE_PREPARE_PERSISTENT, &a->st[i],
		                       NULL) != SQLITE_OK)
			return -EIO;
	return 0;
}

int audit_open(int dirfd, const unsigned char *secret,
               const struct audit_config *cfg, struct audit **out)
{
	struct audit *a = NULL;
	const char *node = cfg ? cfg->node : NULL;
	int rc;

	if ((rc = handle_new(dirfd, secret, &a)) != 0)
		goto out;
	if (cfg && cfg->busy_ms)
		a->busy_ms = cfg->busy_ms;
	a->syslog = cfg != NULL && cfg->syslog;
	if (node == NULL && gethostname(a->node, sizeof(a->node) - 1) != 0)
		node = "localhost";
	if (node != NULL && snprintf(a->node, sizeof(a->node), "%s", node)
	    >= (int)sizeof(a->node)) {
		rc = -EINVAL;
		goto out;
	}
	a->scratch = malloc(3 * SEALED_MAX);
	if (a->scratch == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = db_file(a->dirfd, 1)) != 0 ||
	    (rc = conn_open(a->dbpath, a->busy_ms, 1, &a->db)) != 0 ||
	    (rc = writer_setup(a)) != 0 || (rc = pub_write(a)) != 0)
		goto out;
	*out = a;
	a = NULL;
out:
	if (a != NULL)
		handle_free(a);
	return rc;
}

int audit_open_read(int dirfd, const unsigned char *secret,
                    struct audit **out)
{
	char pk[2 * crypto_sign_PUBLICKEYBYTES + 1];
	struct audit *a = NULL;
	sqlite3 *db = NULL;
	int rc;

	if ((rc = handle_new(dirfd, secret, &a)) != 0 ||
	    (rc = db_file(a->dirfd, 0)) != 0 ||
	    (rc = conn_open(a->dbpath, a->busy_ms, 0, &db)) != 0)
		goto out;
	pub_hex(a->k->pk, pk);
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		rc = -EIO;
		goto out;
	}
	rc = meta_check(db, pk, 0);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc == 0) {
		*out = a;
		a = NULL;
	}
out:
	sqlite3_close(db);
	if (a != NULL)
		handle_free(a);
	return rc;
}

int audit_close(struct audit *a)
{
	int rc = 0;

	if (a == NULL)
		return 0;
	if (a->db != NULL && audit_flush(a) != 0) {
		say(LOG_ERR, "audit: %zu queued records could not be written "
		    "to %s and are lost", a->nqueued, a->where);
		rc = -EIO;
	}
	handle_free(a);
	return rc;
}

/* ---- reading ---------------------------------------------------------- */

/* The strings of a row, each in its own slot of the cursor's buffer. */
enum slot { S_USER, S_ROLES, S_EXE, S_NODE, S_ACTION, S_CLIENT, S_PATH,
            S_PATH2, S_RULE, S_POLICY, S_DETAIL, NSLOTS };
#define SLOT (PLAIN_MAX + 1)

struct audit_cursor {
	sqlite3 *db;
	sqlite3_stmt *st;            /* one page: seq >= ?1 ... LIMIT */
	const struct keys *k;        /* the handle's */
	uint64_t next_seq;           /* where the next page starts */
	int active;                  /* st is stepping a page */
	int in_page;                 /* rows of this page so far */
	char *buf;                   /* NSLOTS * SLOT, wiped at close */
};

static const char *const filter_sql[] = {
	" AND client_tag = ?2", " AND user = ?3", " AND action = ?4",
	" AND outcome = ?5", " AND time_us >= ?6", " AND time_us < ?7",
};

static int cursor_prepare(struct audit_cursor *c, const struct audit_filter *f)
{
	unsigned char tag[TAGBYTES];
	const int use[6] = { f->client != NULL, f->user != NULL,
	                     f->action != NULL, f->outcome != 0,
	                     f->since_us != 0, f->until_us != 0 };
	/* Fixed pieces only: no filter value goes into the SQL text. */
	char sql[1024] = "SELECT " COLS ", hash FROM events WHERE seq >= ?1";

	for (int i = 0; i < 6; i++)
		if (use[i])
			strcat(sql, filter_sql[i]);
	strcat(sql, " ORDER BY seq LIMIT " PAGE_ROWS_S);
	if (sqlite3_prepare_v2(c->db, sql, -1, &c->st, NULL) != SQLITE_OK)
		return -EIO;
	if (f->client)
		client_tag(c->k, f->client, tag);
	if ((use[0] && sqlite3_bind_blob(c->st, 2, tag, TAGBYTES,
	                                 SQLITE_TRANSIENT) != SQLITE_OK) ||
	    (use[1] && sqlite3_bind_text(c->st, 3, f->user, -1,
	                                 SQLITE_TRANSIENT) != SQLITE_OK) ||
	    (use[2] && sqlite3_bind_text(c->st, 4, f->action, -1,
	                                 SQLITE_TRANSIENT) != SQLITE_OK) ||
	    (use[3] && sqlite3_bind_text(c->st, 5,
	                                 audit_outcome_name(f->outcome), -1,
	                                 SQLITE_STATIC) != SQLITE_OK) ||
	    (use[4] && sqlite3_bind_int64(c->st, 6, f->since_us) != SQLITE_OK) ||
	    (use[5] && sqlite3_bind_int64(c->st, 7, f->until_us) != SQLITE_OK))
		return -EIO;
	return 0;
}

int audit_cursor_open(struct audit *a, const struct audit_filter *f,
                      struct audit_cursor **out)
{
	static const struct audit_filter all;
	struct audit_cursor *c;
	int rc;

	if (a == NULL || out == NULL)
		return -EINVAL;
	if (f == NULL)
		f = &all;
	if (f->outcome != 0 && audit_outcome_name(f->outcome) == NULL)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->k = a->k;
	c->next_seq = f->from_seq ? f->from_seq : 1;
	c->buf = malloc((size_t)NSLOTS * SLOT);
	if (c->buf == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = conn_open(a->dbpath, AUDIT_BUSY_MS, 0, &c->db)) != 0 ||
	    (rc = cursor_prepare(c, f)) != 0)
		goto out;
	*out = c;
	c = NULL;
out:
	audit_cursor_close(c);
	return rc;
}

void audit_cursor_pause(struct audit_cursor *c)
{
	if (c == NULL || !c->active)
		return;
	sqlite3_reset(c->st);
	c->active = 0;
}

void audit_cursor_close(struct audit_cursor *c)
{
	if (c == NULL)
		return;
	sqlite3_finalize(c->st);
	sqlite3_close(c->db);
	if (c->buf) {
		sodium_memzero(c->buf, (size_t)NSLOTS * SLOT);
		free(c->buf);
	}
	free(c);
}

/* A text column into its slot; NULL stays NULL where allowed. */
static int get_text(struct audit_cursor *c, int col, enum slot sl,
                    int null_ok, const char **out)
{
	struct val v;
	char *dst = c->buf + (size_t)sl * SLOT;

	col_val(c->st, col, &v);
	*out = NULL;
	if (v.type == SQLITE_NULL && null_ok)
		return 0;
	if (v.type != SQLITE_TEXT || v.len > AUDIT_TEXT_MAX ||
	    memchr(v.p, '\0', v.len) != NULL)
		return -EBADMSG;
	memcpy(dst, v.p, v.len);
	dst[v.len] = '\0';
	*out = dst;
	return 0;
}

/* A sealed name into its slot, decrypted. */
static int get_name(struct audit_cursor *c, int col, enum slot sl,
                    enum sealed_field f, uint64_t seq, const char **out)
{
	struct val v;
	char *dst = c->buf + (size_t)sl * SLOT;
	int rc;

	col_val(c->st, col, &v);
	*out = NULL;
	if (v.type == SQLITE_NULL)
		return 0;
	if (v.type != SQLITE_BLOB)
		return -EBADMSG;
	if ((rc = unseal(c->k, f, seq, v.p, v.len, dst)) == 0)
		*out = dst;
	return rc;
}

static int get_int(struct audit_cursor *c, int col, int64_t min,
                   int64_t max, int64_t *out)
{
	if (sqlite3_column_type(c->st, col) != SQLITE_INTEGER)
		return -EBADMSG;
	*out = sqlite3_column_int64(c->st, col);
	return *out < min || *out > max ? -EBADMSG : 0;
}

static int row_numbers(struct audit_cursor *c, struct audit_row *r)
{
	struct audit_event *e = &r->ev;
	int64_t uid, pid, err, bytes = 0;

	if (get_int(c, C_TIME, INT64_MIN, INT64_MAX, &r->time_us) != 0 ||
	    get_int(c, C_UID, 0, UINT32_MAX, &uid) != 0 ||
	    get_int(c, C_PID, 0, INT32_MAX, &pid) != 0 ||
	    get_int(c, C_ERRNO, 0, INT32_MAX, &err) != 0)
		return -EBADMSG;
	e->has_bytes = sqlite3_column_type(c->st, C_BYTES) != SQLITE_NULL;
	if (e->has_bytes && get_int(c, C_BYTES, 0, INT64_MAX, &bytes) != 0)
		return -EBADMSG;
	e->uid = (uid_t)uid;
	e->pid = (pid_t)pid;
	e->err = (int)err;
	e->bytes = (uint64_t)bytes;
	return 0;
}

static int row_decode(struct audit_cursor *c, struct audit_row *r)
{
	struct audit_event *e = &r->ev;
	const char *outcome;
	uint64_t seq = r->seq;

	if (row_numbers(c, r) != 0 ||
	    get_text(c, C_USER, S_USER, 1, &e->user) != 0 ||
	    get_text(c, C_ROLES, S_ROLES, 1, &e->roles) != 0 ||
	    get_text(c, C_EXE, S_EXE, 1, &e->exe) != 0 ||
	    get_text(c, C_NODE, S_NODE, 0, &e->node) != 0 ||
	    get_text(c, C_ACTION, S_ACTION, 0, &e->action) != 0 ||
	    get_text(c, C_RULE, S_RULE, 1, &e->rule) != 0 ||
	    get_text(c, C_POLICY, S_POLICY, 1, &e->policy) != 0 ||
	    get_text(c, C_DETAIL, S_DETAIL, 1, &e->detail) != 0)
		return -EBADMSG;
	outcome = (const char *)sqlite3_column_text(c->st, C_OUTCOME);
	if (audit_outcome_parse(outcome, &e->outcome) != 0)
		return -EBADMSG;
	if (get_name(c, C_CLIENT, S_CLIENT, SF_CLIENT, seq, &e->client) != 0 ||
	    get_name(c, C_PATH, S_PATH, SF_PATH, seq, &e->path) != 0 ||
	    get_name(c, C_PATH2, S_PATH2, SF_PATH2, seq, &e->path2) != 0)
		return -EBADMSG;
	if (sqlite3_column_type(c->st, C_HASH) != SQLITE_BLOB ||
	    sqlite3_column_bytes(c->st, C_HASH) != AUDIT_HASHBYTES)
		return -EBADMSG;
	memcpy(r->hash, sqlite3_column_blob(c->st, C_HASH), AUDIT_HASHBYTES);
	return 0;
}

int audit_cursor_next(struct audit_cursor *c, struct audit_row *row)
{
	int rc;

	memset(row, 0, sizeof(*row));
	for (;;) {
		if (!c->active) {
			if (sqlite3_bind_int64(c->st, 1, (int64_t)c->next_seq)
			    != SQLITE_OK)
				return -EIO;
			c->active = 1;
			c->in_page = 0;
		}
		rc = sqlite3_step(c->st);
		if (rc == SQLITE_ROW)
			break;
		/* Between pages no read transaction is held. */
		sqlite3_reset(c->st);
		c->active = 0;
		if (rc != SQLITE_DONE)
			return -EIO;
		if (c->in_page < PAGE_ROWS)
			return 0;
	}
	c->in_page++;
	if (sqlite3_column_type(c->st, C_SEQ) != SQLITE_INTEGER ||
	    sqlite3_column_int64(c->st, C_SEQ) < 1)
		return -EBADMSG;
	row->seq = (uint64_t)sqlite3_column_int64(c->st, C_SEQ);
	c->next_seq = row->seq + 1;
	return row_decode(c, row) == 0 ? 1 : -EBADMSG;
}

/* ---- verification ----------------------------------------------------- */

struct vstate {
	struct audit_verify *out;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char prev[AUDIT_HASHBYTES];
	uint64_t expect;             /* the seq the next record must have */
	sqlite3_stmt *ev;            /* every record, by seq */
	sqlite3_stmt *cp;            /* every checkpoint, by id */
	int cp_row;                  /* cp holds a row */
};

static int bad(struct audit_verify *o, uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	o->bad_seq = seq;
	va_start(ap, fmt);
	vsnprintf(o->reason, sizeof(o->reason), fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

static int cp_next(struct vstate *s)
{
	int rc = sqlite3_step(s->cp);

	s->cp_row = rc == SQLITE_ROW;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
}

static int cp_blob(sqlite3_stmt *st, int col, size_t len)
{
	return sqlite3_column_type(st, col) == SQLITE_BLOB &&
	       (size_t)sqlite3_column_bytes(st, col) == len;
}

/* Checks the signature of the current checkpoint row (at seq). */
static int cp_signature(struct vstate *s, uint64_t seq)
{
	unsigned char msg[CP_MSG_LEN];
	sqlite3_stmt *st = s->cp;
	int64_t id = sqlite3_column_int64(st, 0);

	if (!cp_blob(st, 2, AUDIT_HASHBYTES) || !cp_blob(st, 4,
	    crypto_sign_BYTES) || sqlite3_column_type(st, 3) != SQLITE_INTEGER)
		return bad(s->out, seq, "checkpoint %" PRId64 " is malformed",
		           id);
	cp_message(seq, sqlite3_column_blob(st, 2),
	           sqlite3_column_int64(st, 3), msg);
	if (crypto_sign_verify_detached(sqlite3_column_blob(st, 4), msg,
	                                sizeof(msg), s->pk) != 0)
		return bad(s->out, seq, "checkpoint %" PRId64 ": signature "
		           "does not verify with " AUDIT_PUB, id);
	return 0;
}

/*
 * Checks the checkpoints that sign record seq, whose hash is hash.
 * Checkpoints are read in the order they were made (id), which is the
 * order of their seq: one that signs an earlier record than the one
 * before it was moved.
 */
static int cp_check_at(struct vstate *s, uint64_t seq,
                       const unsigned char *hash)
{
	int rc;

	while (s->cp_row) {
		int64_t at = sqlite3_column_int64(s->cp, 1);

		if (sqlite3_column_type(s->cp, 1) != SQLITE_INTEGER || at < 1)
			return bad(s->out, seq, "checkpoint %" PRId64 " signs "
			           "no record", sqlite3_column_int64(s->cp, 0));
		if ((uint64_t)at > seq)
			break;
		if ((uint64_t)at < seq)
			return bad(s->out, (uint64_t)at, "checkpoint %" PRId64
			           " is out of order (checkpoints were moved)",
			           sqlite3_column_int64(s->cp, 0));
		if ((rc = cp_signature(s, seq)) != 0)
			return rc;
		if (memcmp(sqlite3_column_blob(s->cp, 2), hash,
		           AUDIT_HASHBYTES) != 0)
			return bad(s->out, seq, "checkpoint %" PRId64 " signed "
			           "another record here: records were rewritten",
			           sqlite3_column_int64(s->cp, 0));
		s->out->checkpoints++;
		s->out->last_checkpoint = seq;
		if ((rc = cp_next(s)) != 0)
			return rc;
	}
	return 0;
}

static int check_record(struct vstate *s)
{
	unsigned char h[AUDIT_HASHBYTES];
	struct val v[NCOLS + 1];
	uint64_t seq;

	for (int i = 0; i <= NCOLS; i++)
		col_val(s->ev, i, &v[i]);
	if (v[C_SEQ].type != SQLITE_INTEGER || v[C_SEQ].i < 1)
		return bad(s->out, s->expect, "a record has seq %" PRId64
		           ", which is not a sequence number", v[C_SEQ].i);
	seq = (uint64_t)v[C_SEQ].i;
	if (seq == s->expect + 1)
		return bad(s->out, s->expect, "record missing (deleted)");
	if (seq != s->expect)
		return bad(s->out, s->expect, "records %" PRIu64 " to %" PRIu64
		           " missing (deleted)", s->expect, seq - 1);
	if (v[C_HASH].type != SQLITE_BLOB || v[C_HASH].len != AUDIT_HASHBYTES)
		return bad(s->out, seq, "record malformed: no 32-byte hash");
	hash_vals(v, h);
	if (memcmp(h, v[C_HASH].p, AUDIT_HASHBYTES) != 0)
		return bad(s->out, seq, "record altered: its contents do not "
		           "match its hash");
	if (v[C_PREV].type != SQLITE_BLOB || v[C_PREV].len != AUDIT_HASHBYTES ||
	    memcmp(v[C_PREV].p, s->prev, AUDIT_HASHBYTES) != 0)
		return bad(s->out, seq, seq == 1 ? "chain broken: the first "
		           "record does not start the chain" : "chain broken: "
		           "prev is not the hash of the record before");
	memcpy(s->prev, h, sizeof(h));
	s->expect++;
	s->out->records++;
	return cp_check_at(s, seq, h);
}

/* After the last record: any checkpoint left signed records now gone. */
static int check_tail(struct vstate *s)
{
	int64_t at, id;
	int rc;

	if (!s->cp_row)
		return 0;
	at = sqlite3_column_int64(s->cp, 1);
	id = sqlite3_column_int64(s->cp, 0);
	if (at < 1)
		return bad(s->out, s->expect, "checkpoint %" PRId64 " signs "
		           "no record", id);
	if ((rc = cp_signature(s, (uint64_t)at)) != 0)
		return rc;
	return bad(s->out, s->expect, "records %" PRIu64 " to %" PRId64
	           " missing: checkpoint %" PRId64 " signed seq %" PRId64
	           " but the last record is seq %" PRIu64 " (tail cut)",
	           s->expect, at, id, at, s->expect - 1);
}

static int verify_walk(sqlite3 *db, struct vstate *s)
{
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT " COLS ", hash FROM events ORDER BY"
	                       " seq", -1, &s->ev, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT id, seq, hash, time_us, sig FROM "
	                       "checkpoints ORDER BY id", -1, &s->cp,
	                       NULL) != SQLITE_OK)
		return -EIO;
	if ((rc = cp_next(s)) != 0)
		return rc;
	while ((rc = sqlite3_step(s->ev)) == SQLITE_ROW)
		if ((rc = check_record(s)) != 0)
			return rc;
	if (rc != SQLITE_DONE)
		return -EIO;
	return check_tail(s);
}

/* The key recorded in audit.db must be audit.pub's. */
static int verify_meta(sqlite3 *db, struct vstate *s)
{
	int rc = meta_check(db, s->out->pubkey, 0);

	if (rc == -EKEYREJECTED)
		return bad(s->out, 0, AUDIT_PUB " holds another key than the "
		           "one " AUDIT_DB " was made with");
	if (rc == -EINVAL)
		return bad(s->out, 0, AUDIT_DB " is not an audit store "
		           "(no format or key recorded)");
	return rc;
}

int audit_verify(int dirfd, struct audit_verify *out)
{
	struct vstate s = { .out = out, .expect = 1 };
	char path[64];
	sqlite3 *db = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = pub_read(dirfd, s.pk)) != 0)
		return rc;
	pub_hex(s.pk, out->pubkey);
	if ((rc = db_file(dirfd, 0)) != 0)
		return rc;
	snprintf(path, sizeof(path), "/proc/self/fd/%d/" AUDIT_DB, dirfd);
	if ((rc = conn_open(path, AUDIT_BUSY_MS, 0, &db)) != 0)
		return rc;
	/* One read transaction: records and checkpoints of one moment. */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		rc = -EIO;
	else if ((rc = verify_meta(db, &s)) == 0)
		rc = verify_walk(db, &s);
	sqlite3_finalize(s.ev);
	sqlite3_finalize(s.cp);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	out->unsigned_records = out->records - out->last_checkpoint;
	return rc;
}

/* ---- signed documents and single hashes ------------------------------ */

/* DOC_DOMAIN || msg, malloc'd, into *out and its length *n: 0, -EINVAL
 * (too long), -ENOMEM. */
static int doc_message(const void *msg, size_t len, unsigned char **out,
                       size_t *n)
{
	size_t pre = sizeof(DOC_DOMAIN) - 1;

	if (len > SIZE_MAX - pre)
		return -EINVAL;
	if ((*out = malloc(pre + len)) == NULL)
		return -ENOMEM;
	memcpy(*out, DOC_DOMAIN, pre);
	if (len > 0)
		memcpy(*out + pre, msg, len);
	*n = pre + len;
	return 0;
}

int audit_sign_doc(struct audit *a, const void *msg, size_t len,
                   unsigned char sig[64])
{
	unsigned char *m;
	size_t n;
	int rc;

	if (a == NULL || sig == NULL || (msg == NULL && len > 0))
		return -EINVAL;
	if ((rc = doc_message(msg, len, &m, &n)) != 0)
		return rc;
	crypto_sign_detached(sig, NULL, m, n, a->k->sk);
	sodium_memzero(m, n);
	free(m);
	return 0;
}

int audit_sign_share(struct audit *a, const void *msg, size_t len,
                     unsigned char sig[64])
{
	static const char magic[] = AUDIT_SHARE_PREFIX;

	if (a == NULL || sig == NULL || msg == NULL ||
	    len < sizeof(magic) - 1 || memcmp(msg, magic, sizeof(magic) - 1))
		return -EINVAL;
	crypto_sign_detached(sig, NULL, msg, len, a->k->sk);
	return 0;
}

void audit_pubkey(const struct audit *a, unsigned char pk[32])
{
	memcpy(pk, a->k->pk, crypto_sign_PUBLICKEYBYTES);
}

int audit_check_doc(int dirfd, const void *msg, size_t len,
                    const unsigned char sig[64])
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], *m;
	size_t n;
	int rc;

	if (sig == NULL || (msg == NULL && len > 0))
		return -EINVAL;
	if ((rc = pub_read(dirfd, pk)) != 0 ||
	    (rc = doc_message(msg, len, &m, &n)) != 0)
		return rc;
	rc = crypto_sign_verify_detached(sig, m, n, pk) == 0 ? 0 : -EBADMSG;
	sodium_memzero(m, n);
	free(m);
	return rc;
}

int audit_hash_at(int dirfd, uint64_t seq,
                  unsigned char hash[AUDIT_HASHBYTES])
{
	char path[64];
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int rc;

	if (seq == 0 || seq > INT64_MAX || hash == NULL)
		return -EINVAL;
	if ((rc = db_file(dirfd, 0)) != 0)
		return rc;
	snprintf(path, sizeof(path), "/proc/self/fd/%d/" AUDIT_DB, dirfd);
	if ((rc = conn_open(path, AUDIT_BUSY_MS, 0, &db)) != 0)
		return rc;
	rc = -EIO;
	if (sqlite3_prepare_v2(db, "SELECT hash FROM events WHERE seq = ?1",
	                       -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, (int64_t)seq) != SQLITE_OK)
		goto out;
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		if (sqlite3_column_type(s, 0) != SQLITE_BLOB ||
		    sqlite3_column_bytes(s, 0) != AUDIT_HASHBYTES) {
			rc = -EBADMSG;
			break;
		}
		memcpy(hash, sqlite3_column_blob(s, 0), AUDIT_HASHBYTES);
		rc = 0;
		break;
	case SQLITE_DONE:
		rc = -ENOENT;
		break;
	}
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rc;
}

/* ---- formatting ------------------------------------------------------- */

/* An snprintf-like builder: len counts what the whole output needs. */
struct sb {
	char *buf;
	size_t cap;
	size_t len;
};

static void sb_putc(struct sb *b, char c)
{
	if (b->len + 1 < b->cap)
		b->buf[b->len] = c;
	b->len++;
}

static void sb_puts(struct sb *b, const char *s)
{
	while (*s)
		sb_putc(b, *s++);
}

static void sb_printf(struct sb *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	sb_puts(b, tmp);
}

static size_t sb_end(struct sb *b)
{
	if (b->cap > 0)
		b->buf[b->len < b->cap ? b->len : b->cap - 1] = '\0';
	return b->len;
}

/* Length of the valid UTF-8 sequence at s (1 to 4), or 0; *cp gets its
 * code point. s is NUL-terminated. */
static size_t utf8_seq(const unsigned char *s, uint32_t *cp)
{
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	*cp = s[0] & (0xff >> (n + 1));
	*cp = (*cp << 6) | (s[1] & 0x3f);
	for (size_t i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	return n;
}

/* Code points a terminal would act on: C1 controls, bidi overrides. */
static int cp_invisible(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029;
}

static int text_needs_quotes(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t n;

	if (*p == '\0')
		return 1;
	for (; *p; p += n) {
		n = utf8_seq(p, &cp);
		if (n == 0 || cp <= 0x20 || cp == 0x7f || cp == '"' ||
		    cp == '\\' || cp == '=' || cp_invisible(cp))
			return 1;
	}
	return 0;
}

/* A value of a TEXT line: bare, or quoted with C escapes. */
static void put_text(struct sb *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t n;

	if (!text_needs_quotes(s)) {
		sb_puts(b, s);
		return;
	}
	sb_putc(b, '"');
	for (; *p; p += n) {
		n = utf8_seq(p, &cp);
		if (n == 0) {
			sb_printf(b, "\\x%02x", *p);
			n = 1;
		} else if (cp == '"' || cp == '\\') {
			sb_putc(b, '\\');
			sb_putc(b, (char)cp);
		} else if (cp == '\n' || cp == '\t' || cp == '\r') {
			sb_putc(b, '\\');
			sb_putc(b, cp == '\n' ? 'n' : cp == '\t' ? 't' : 'r');
		} else if (cp < 0x20 || cp == 0x7f) {
			sb_printf(b, "\\x%02x", (unsigned)cp);
		} else if (cp_invisible(cp)) {
			sb_printf(b, "\\u%04x", (unsigned)cp);
		} else {
			for (size_t i = 0; i < n; i++)
				sb_putc(b, (char)p[i]);
		}
	}
	sb_putc(b, '"');
}

static void put_csv(struct sb *b, const char *s)
{
	if (s == NULL)
		return;
	if (*s != '\0' && strpbrk(s, ",\"\r\n") == NULL) {
		sb_puts(b, s);
		return;
	}
	/* "" keeps an empty string apart from no value. */
	sb_putc(b, '"');
	for (; *s; s++) {
		if (*s == '"')
			sb_putc(b, '"');
		sb_putc(b, *s);
	}
	sb_putc(b, '"');
}

static void put_json(struct sb *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t n;

	if (s == NULL) {
		sb_puts(b, "null");
		return;
	}
	sb_putc(b, '"');
	for (; *p; p += n) {
		n = utf8_seq(p, &cp);
		if (n == 0) {
			sb_printf(b, "\\u%04x", *p);
			n = 1;
		} else if (cp == '"' || cp == '\\') {
			sb_putc(b, '\\');
			sb_putc(b, (char)cp);
		} else if (cp == '\n') {
			sb_puts(b, "\\n");
		} else if (cp == '\t') {
			sb_puts(b, "\\t");
		} else if (cp == '\r') {
			sb_puts(b, "\\r");
		} else if (cp < 0x20 || cp == 0x7f) {
			sb_printf(b, "\\u%04x", (unsigned)cp);
		} else {
			for (size_t i = 0; i < n; i++)
				sb_putc(b, (char)p[i]);
		}
	}
	sb_putc(b, '"');
}

static void put_time(struct sb *b, int64_t us)
{
	int64_t sec = us / 1000000, frac = us % 1000000;
	time_t t;
	struct tm tm;
	char buf[32];

	if (frac < 0) {
		frac += 1000000;
		sec--;
	}
	t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(buf, sizeof(buf), "@%" PRId64, sec);
	sb_printf(b, "%s.%06" PRId64 "Z", buf, frac);
}

/* "EACCES" for 13, where the C library can tell; NULL otherwise. */
static const char *errno_name(int e)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
	return strerrorname_np(e);
#else
	(void)e;
	return NULL;
#endif
}

static void text_kv(struct sb *b, const char *key, const char *value)
{
	if (value == NULL)
		return;
	sb_printf(b, " %s=", key);
	put_text(b, value);
}

static void format_text(struct sb *b, const struct audit_row *r)
{
	const struct audit_event *e = &r->ev;

	put_time(b, r->time_us);
	sb_printf(b, " seq=%" PRIu64, r->seq);
	text_kv(b, "node", e->node);
	sb_printf(b, " uid=%u", (unsigned)e->uid);
	text_kv(b, "user", e->user);
	text_kv(b, "roles", e->roles);
	sb_printf(b, " pid=%d", (int)e->pid);
	text_kv(b, "exe", e->exe);
	text_kv(b, "action", e->action);
	text_kv(b, "client", e->client);
	text_kv(b, "path", e->path);
	text_kv(b, "path2", e->path2);
	text_kv(b, "outcome", audit_outcome_name(e->outcome));
	if (e->err != 0) {
		const char *name = errno_name(e->err);

		if (name)
			sb_printf(b, " errno=%s", name);
		else
			sb_printf(b, " errno=%d", e->err);
	}
	text_kv(b, "rule", e->rule);
	text_kv(b, "policy", e->policy);
	if (e->has_bytes)
		sb_printf(b, " bytes=%" PRIu64, e->bytes);
	text_kv(b, "detail", e->detail);
	sb_putc(b, '\n');
}

#define CSV_HEADER "seq,time,node,uid,user,roles,pid,exe,action,client," \
	"path,path2,outcome,errno,rule,policy,bytes,detail"

static void format_csv(struct sb *b, const struct audit_row *r)
{
	const struct audit_event *e = &r->ev;
	const char *mid[] = { e->action, e->client, e->path, e->path2,
	                      audit_outcome_name(e->outcome) };
	const char *end[] = { e->rule, e->policy };

	sb_printf(b, "%" PRIu64 ",", r->seq);
	put_time(b, r->time_us);
	sb_putc(b, ',');
	put_csv(b, e->node);
	sb_printf(b, ",%u,", (unsigned)e->uid);
	put_csv(b, e->user);
	sb_putc(b, ',');
	put_csv(b, e->roles);
	sb_printf(b, ",%d,", (int)e->pid);
	put_csv(b, e->exe);
	for (size_t i = 0; i < sizeof(mid) / sizeof(mid[0]); i++) {
		sb_putc(b, ',');
		put_csv(b, mid[i]);
	}
	sb_printf(b, ",%d", e->err);
	for (size_t i = 0; i < sizeof(end) / sizeof(end[0]); i++) {
		sb_putc(b, ',');
		put_csv(b, end[i]);
	}
	sb_putc(b, ',');
	if (e->has_bytes)
		sb_printf(b, "%" PRIu64, e->bytes);
	sb_putc(b, ',');
	put_csv(b, e->detail);
	sb_puts(b, "\r\n");
}

static void json_kv(struct sb *b, const char *key, const char *value)
{
	sb_printf(b, ",\"%s\":", key);
	put_json(b, value);
}

static void format_json(struct sb *b, const struct audit_row *r)
{
	const struct audit_event *e = &r->ev;

	sb_printf(b, "{\"seq\":%" PRIu64 ",\"time\":\"", r->seq);
	put_time(b, r->time_us);
	sb_printf(b, "\",\"time_us\":%" PRId64, r->time_us);
	json_kv(b, "node", e->node);
	sb_printf(b, ",\"uid\":%u", (unsigned)e->uid);
	json_kv(b, "user", e->user);
	json_kv(b, "roles", e->roles);
	sb_printf(b, ",\"pid\":%d", (int)e->pid);
	json_kv(b, "exe", e->exe);
	json_kv(b, "action", e->action);
	json_kv(b, "client", e->client);
	json_kv(b, "path", e->path);
	json_kv(b, "path2", e->path2);
	json_kv(b, "outcome", audit_outcome_name(e->outcome));
	sb_printf(b, ",\"errno\":%d", e->err);
	json_kv(b, "rule", e->rule);
	json_kv(b, "policy", e->policy);
	if (e->has_bytes)
		sb_printf(b, ",\"bytes\":%" PRIu64, e->bytes);
	else
		sb_puts(b, ",\"bytes\":null");
	json_kv(b, "detail", e->detail);
	sb_puts(b, "}\n");
}

size_t audit_format(const struct audit_row *r, enum audit_format f,
                    char *buf, size_t cap)
{
	struct sb b = { buf, cap, 0 };

	if (f == AUDIT_FMT_CSV)
		format_csv(&b, r);
	else if (f == AUDIT_FMT_JSON)
		format_json(&b, r);
	else
		format_text(&b, r);
	return sb_end(&b);
}

size_t audit_format_header(enum audit_format f, char *buf, size_t cap)
{
	struct sb b = { buf, cap, 0 };

	if (f == AUDIT_FMT_CSV)
		sb_puts(&b, CSV_HEADER "\r\n");
	return sb_end(&b);
}
