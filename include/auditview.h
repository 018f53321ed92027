/*
 * auditview: the files of the virtual, read-only .audit directories,
 * produced as streams from the audit store (audit.h).
 *
 * A scope is the records of one client folder (by name) or, with client
 * NULL, of the whole vault. Each scope has the same files, a table entry
 * each:
 *
 *   events.log         every record, one audit_format() TEXT line each
 *   events.csv         audit_format_header(CSV), then every record, CSV
 *   events.jsonl       every record, one JSON object a line
 *   denied.log         the records with outcome "denied", TEXT
 *   destructions.csv   a certificate of sanitization per destruction:
 *                      the header, then one row per record of action
 *                      "destroy" (see below)
 *   shares.csv         approved sharing (share.h): the header, then one
 *                      row per record of a share-* action (see below)
 *   alerts.log         the records of actions alert, alert-notify,
 *                      lockout and unlock, TEXT
 *   verify.txt         the result of audit_verify() when it was opened
 *
 * destructions.csv holds the fields of the sample certificate of
 * sanitization of NIST SP 800-88, adapted to files: the header line
 *
 *   seq,time,id,outcome,reason,user,uid,roles,rule,policy,client,path,
 *   bytes,digest,method_type,method,tool,verification,requested,started,
 *   ended,error
 *
 * (one line), then per record: seq; time, the record's, as audit_format()
 * prints it (2026-11-29T23:34:06.266310Z); outcome "done" for outcome
 * "allowed" (destroyed and verified), "failed" for "error" (a failed
 * attempt, retried; see erase.h), the outcome's name otherwise; user,
 * uid, roles, rule, policy, client, path and bytes from the record's
 * fields of those names; id, reason, digest, method_type, method, tool,
 * verification, requested, started, ended and error from its detail,
 * read as "key=value" pairs joined by "; " (the eraser's: keys named
 * like the columns, "method-type" for method_type; the first of a key
 * counts, unknown keys are skipped, a missing one is an empty field).
 * Fields are quoted as RFC 4180 says, when they hold ',', '"', CR or LF
 * (quotes doubled); no value and "" are both an empty field; lines end
 * in CRLF.
 *
 * shares.csv has the header line
 *
 *   seq,time,id,step,outcome,user,uid,roles,client,path,reason,recipient,
 *   package,files,bytes,rule,detail
 *
 * then per record: step is the action without "share-" (request,
 * approve, reject, export, file, receipt); reason the record's path2;
 * id, recipient, package and files from its detail as above; the other
 * columns the record's fields of those names, detail in full. Quoting
 * and line ends as in destructions.csv.
 *
 * Streams. The bytes of every file but verify.txt are a pure function of
 * the records of its scope, in seq order: the same records give the same
 * bytes, so an offset always means the same place and a file only grows
 * as records are committed. A record that does not decode (the cursor
 * answers -EBADMSG) appears in the events.* files as one line of a
 * made-up record with its seq, action "damaged-record", outcome "error",
 * errno EBADMSG and a detail that says to run `dossierctl audit verify`;
 * its other fields are fixed (time 0, that is 1970-01-01T00:00:00Z, node
 * "?", uid and pid 0, no names), so that its line has the same bytes at
 * every read. The other files leave it out.
 *
 * Size. av_stat() gives a stream's exact length through the newest
 * committed record, so that tail, tail -f (which polls the size), less
 * and spreadsheets see a file that grows. Per scope the module keeps, at
 * most AV_SCOPES scopes at a time, how far it has counted (seq, the length
 * of each file) and up to AV_MARKS marks (seq, offset in each file) spaced
 * evenly over the records (when they are all used, every other one goes
 * and the spacing doubles); one pass over the scope's records counts all
 * seven files. The first av_stat() of a scope counts all its records once
 * (about 10 us a record: each is decoded and formatted three ways, four
 * for a destruction, so a million take some 10 s), later ones only the
 * records committed since.
 * When a scope not kept is needed, the one least recently used that no
 * call is working with is forgotten, to be counted again if needed again.
 * A read at an offset starts from the nearest mark before it, or from the
 * end of what is counted; a reader holds no scope of its own between
 * calls. Memory therefore does not grow with the store. verify.txt's size
 * is reported as 0 (like a file of /proc): it is produced at open and
 * read until end of file; the FUSE layer opens view files with direct_io
 * so reads are not cut at the reported size.
 *
 * Thread safety: any call may run in any thread at once, including
 * several av_read() calls on the same reader (they are serialised).
 *
 * Errors: 0 (or what is stated) or a negative errno: -EINVAL, -ENOMEM,
 * -EIO when the store cannot be read, -ENOENT for a name that is not a
 * view file, -EOVERFLOW for a file that would pass INT64_MAX bytes.
 */
#ifndef DOSSIER_AUDITVIEW_H
#define DOSSIER_AUDITVIEW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit.h"

#define AV_DIR     ".audit"
#define AV_SCOPES  64u      /* scopes whose counts are kept at once */
#define AV_MARKS   512u     /* marks per scope */

struct av;                  /* the views of one audit store */
struct av_reader;           /* one open view file */

enum av_file {
	AV_EVENTS_LOG,
	AV_EVENTS_CSV,
	AV_EVENTS_JSONL,
	AV_DENIED_LOG,
	AV_DESTRUCTIONS_CSV,
	AV_SHARES_CSV,
	AV_ALERTS_LOG,
	AV_VERIFY_TXT,
	AV_NFILES
};

/* The file's name ("events.log", ...), NULL for anything else. */
const char *av_file_name(unsigned f);

/* The file called name: its enum av_file value, or -ENOENT. */
int av_file_find(const char *name);

/*
 * The views of store a, whose vault directory is dirfd (for verify.txt,
 * which runs audit_verify(dirfd)). Neither is taken over; both must
 * outlive the views. a may be a writing or a reading handle.
 */
int av_new(struct audit *a, int dirfd, struct av **out);

/* Frees v; every reader must be closed first. NULL is ignored. */
void av_free(struct av *v);

struct av_stat {
	uint64_t size;          /* bytes of the file now; 0 for verify.txt */
	int64_t mtime_us;       /* the newest time of the scope's records
	                         * that decode, or of av_new() when there
	                         * is none */
	uint64_t records;       /* records of the scope counted so far
	                         * (damaged ones included) */
};

/* What file f of scope client (NULL: the whole vault) holds now: counts
 * the records of the scope committed since the last count. */
int av_stat(struct av *v, const char *client, enum av_file f,
            struct av_stat *out);

/*
 * Opens file f of scope client for reading. For verify.txt the check
 * runs here (it may take a while on a large store) and its report, a few
 * "name: value" lines (checked at, result OK or BAD with the first bad
 * seq and why, records, checkpoints, last checkpoint, records not signed
 * yet, signing key, and that the chain covers the whole vault), is what
 * the reader then reads.
 */
int av_open(struct av *v, const char *client, enum av_file f,
            struct av_reader **out);

/*
 * Copies up to size bytes of the file from offset off into buf and
 * returns how many (0 at the end: records committed later make later
 * reads return more), or a negative errno. Sequential reads continue
 * where the last one ended without going back to the store's start;
 * any other offset is found from the nearest mark. A read fills buf
 * while the file has bytes. No read transaction on the store is held
 * between calls.
 */
ssize_t av_read(struct av_reader *r, char *buf, size_t size, uint64_t off);

/* Closes r, wiping the decrypted text it held. NULL is ignored. */
void av_close(struct av_reader *r);

#endif
