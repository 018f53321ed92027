/*
 * alertfeed: the cost of weighing accesses against alert rules, alone.
 *
 *   tests/alertfeed POLICYDIR USER N
 *
 * Loads the policy of POLICYDIR, makes its alert engine (alert.h) and
 * feeds it N made-up accesses of USER (with USER's groups from the
 * system), as the daemon would: a mix of reads, listings, creations,
 * deletions and renames over 50 client folders, at 10 µs steps of
 * simulated time. Prints the time per event and the alerts that fired;
 * bench.sh shows it next to its dossierfs-alerts column. Exit status 0,
 * 1 on failure, 2 on bad usage.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "policy.h"

static void quiet(void *ctx, const char *file, int line, int warning,
                  const char *msg)
{
	(void)ctx;
	if (!warning)
		fprintf(stderr, "alertfeed: %s:%d: %s\n", file, line, msg);
}

int main(int argc, char **argv)
{
	static const char *const actions[] = {
		"open", "list", "create", "open", "close", "unlink", "rename",
	};
	struct policy *p = NULL;
	struct policy_who *who = NULL;
	struct alert_engine *e = NULL;
	struct alert_hit hits[16];
	struct timespec a, b;
	struct passwd *pw;
	gid_t gids[256];
	int ngids = 256;
	const char *names[256];
	char client[32], path[32];
	unsigned long n, fired = 0;
	int64_t t0 = (int64_t)time(NULL) * 1000000;

	if (argc != 4 || (n = strtoul(argv[3], NULL, 10)) == 0) {
		fprintf(stderr, "usage: alertfeed POLICYDIR USER N\n");
		return 2;
	}
	if ((pw = getpwnam(argv[2])) == NULL ||
	    getgrouplist(pw->pw_name, pw->pw_gid, gids, &ngids) < 0) {
		fprintf(stderr, "alertfeed: no user %s (or too many groups)\n",
		        argv[2]);
		return 1;
	}
	for (int i = 0; i < ngids; i++) {
		struct group *g = getgrgid(gids[i]);

		names[i] = g != NULL ? strdup(g->gr_name) : "?";
	}
	if (policy_load(argv[1], quiet, NULL, &p) != 0 ||
	    policy_who_new(p, pw->pw_name, names, (size_t)ngids, &who) != 0 ||
	    alert_new(p, &e) != 0) {
		fprintf(stderr, "alertfeed: cannot load %s\n", argv[1]);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned long i = 0; i < n; i++) {
		const char *act = actions[i % 7];
		int64_t us = t0 + (int64_t)i * 10;
		time_t sec = (time_t)(us / 1000000);
		struct tm local;
		struct alert_input in = {
			.time_us = us, .uid = pw->pw_uid, .user = pw->pw_name,
			.groups = names, .ngroups = (size_t)ngids, .who = who,
			.action = act, .client = client, .path = path,
			.local = &local,
			.is_read = i % 7 == 0,
			.is_delete = i % 7 == 5, .is_rename = i % 7 == 6,
			.denied = i % 97 == 0,
		};
		int rc;

		/* What the daemon does per event: the local time too. */
		localtime_r(&sec, &local);
		snprintf(client, sizeof(client), "client-%lu", i % 50);
		snprintf(path, sizeof(path), "f%lu.pdf", i % 1000);
		if ((rc = alert_feed(e, &in, hits, 16)) < 0) {
			fprintf(stderr, "alertfeed: %s\n", strerror(-rc));
			return 1;
		}
		fired += (unsigned long)rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%lu events, %.3f us per event, %lu alerts, %zu rules\n", n,
	       ((double)(b.tv_sec - a.tv_sec) * 1e9 +
	        (double)(b.tv_nsec - a.tv_nsec)) / 1e3 / (double)n, fired,
	       policy_nalerts(p));
	alert_free(e);
	policy_who_free(who);
	policy_free(p);
	return 0;
}
