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
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "ctl.h"
#include "ctlutil.h"

static const char *prog = "dossierctl";

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
	if (ctl_call(prog, argv[2], &req, -1, &rep) != 0)
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
	if (ctl_call(prog, argv[2], &req, -1, &rep) != 0)
		return 1;
	printf("user\talert\tsince (us)\n");
	for (size_t i = 0; i < rep.n; i++)
		if (strcmp(rep.keys[i], "locked") == 0)
			printf("%s\n", rep.values[i]);
	kv_msg_free(&rep);
	return 0;
}
