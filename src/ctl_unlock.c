/*
 * dossierctl unlock MOUNTPOINT USER
 * dossierctl lockouts MOUNTPOINT
 *
 * A user an alert locked out of a mount (response lockout, monitor.h) is
 * refused everything until an admin unlocks them. Both commands ask the
 * daemon of the mount through its control socket (control.h), as the
 * user who runs them; the daemon lets only a user in a role whose allow
 * lists admin do it, and records every unlock (action "unlock").
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "ctl.h"

static const char *prog = "dossierctl";

/* Sends req; 0 with *rep when the daemon says ok, else 1 (said). */
static int ask(const char *mnt, struct kvbuf *req, struct kvmsg *rep)
{
	const char *st, *msg;
	int rc = control_call(mnt, req, -1, rep);

	kv_free(req);
	if (rc != 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, mnt,
		        rc == -ENOENT || rc == -ECONNREFUSED ?
		        "no dossierfs daemon answers for this mount point" :
		        strerror(-rc));
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

int ctl_unlock(int argc, char **argv)
{
	struct kvbuf req = { 0 };
	struct kvmsg rep;

	if (argc != 4) {
		fprintf(stderr, "usage: %s unlock MOUNTPOINT USER\n", prog);
		return 2;
	}
	kv_add(&req, "op", "unlock");
	kv_add(&req, "user", argv[3]);
	if (ask(argv[2], &req, &rep) != 0)
		return 1;
	printf("%s unlocked\n", argv[3]);
	kv_msg_free(&rep);
	return 0;
}

int ctl_lockouts(int argc, char **argv)
{
	struct kvbuf req = { 0 };
	struct kvmsg rep;

	if (argc != 3) {
		fprintf(stderr, "usage: %s lockouts MOUNTPOINT\n", prog);
		return 2;
	}
	kv_add(&req, "op", "lockouts");
	if (ask(argv[2], &req, &rep) != 0)
		return 1;
	printf("user\talert\tsince (us)\n");
	for (size_t i = 0; i < rep.n; i++)
		if (strcmp(rep.keys[i], "locked") == 0)
			printf("%s\n", rep.values[i]);
	kv_msg_free(&rep);
	return 0;
}
