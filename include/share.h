/*
 * share: approved sharing with third parties, the daemon's side.
 *
 * A user asks, through the control socket (control.h), to send files of
 * a client folder to a recipient named by their public key (sharepkg.h),
 * with a reason; someone else approves or rejects; then the package is
 * made, by the daemon, from the files in the vault, encrypted to the
 * recipient and signed with the vault's audit key (so that the recipient
 * checks it with the vault's audit.pub); last, the recipient's signed
 * receipt is checked and kept. A request moves through the states
 *   requested -> approved -> exported -> received
 *             -> rejected
 * and never back. What the policy asks (role policy, policy.h):
 *   request   `share` on the client folder and `read` on every file
 *   approve,  `admin` on the client folder, and not the requester
 *   reject
 *   export    the requester with `share`, or anyone with `admin`; only
 *             an approved request, once
 *   receipt   the same as export
 *   list      `share` or `admin` on the client folder
 *
 * Every call, allowed or refused, is one audit record (audit.h) of the
 * caller: action share-request, share-approve, share-reject,
 * share-export, share-receipt; client the client folder; path2 the
 * reason of the request (sealed like a name: it may name people); detail
 * "id=N; ..." with the recipient's fingerprint, the number of files and,
 * for an export, the package ID and bytes; outcome denied when the
 * policy or the state refused it (self-approval, export before
 * approval), error when it failed. An export also records one
 * share-file record per file sent (path the file, bytes its size).
 *
 * Requests are kept in the vault directory, SHARE_DIR/N for request N
 * (1, 2, ...), each sealed with a key derived from the master key
 * (XChaCha20-Poly1305, the ID as associated data): a file moved to
 * another ID, edited or cut does not open, and the request is then
 * refused as damaged.
 */
#ifndef DOSSIER_SHARE_H
#define DOSSIER_SHARE_H

#include "control.h"
#include "fs.h"
#include "vault.h"

#define SHARE_DIR       "shares"
#define SHARE_KDF_CTX   "dsfshare"
#define SHARE_FILES_MAX 1000u

struct share;

/* Opens (creating when absent) the request store of v; fs serves the
 * files and records the events (its audit must be attached). */
int share_open(struct vault *v, struct fs *fs, struct share **out);
void share_close(struct share *s);

/* Serves a control call whose op starts with "share-". */
void share_call(struct share *s, const struct control_peer *peer,
                const struct kvmsg *req, int fd, struct kvbuf *reply);

#endif
