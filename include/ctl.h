/*
 * ctl: subcommands of dossierctl that live in their own files. Each takes
 * the whole argv (argv[1] is its name), prints its own errors, and returns
 * the exit status: 0 success, 1 failure or "no", 2 bad usage.
 */
#ifndef DOSSIER_CTL_H
#define DOSSIER_CTL_H

#include <time.h>

struct policy;

int ctl_policy(int argc, char **argv);
int ctl_audit(int argc, char **argv);
int ctl_erase(int argc, char **argv);
/* src/ctl_cert.c: "erase certificate" and "erase verify-certificate",
 * dispatched by ctl_erase() (argv[2] is the subcommand). */
int ctl_erase_certificate(int argc, char **argv);
int ctl_erase_verify_certificate(int argc, char **argv);
int ctl_retention(int argc, char **argv);
/* src/ctl_retention.c: for ctl_report(): the files of the vault mounted
 * on mount whose retention ended at now under p (those `retention due`
 * lists), counted by a child process that walks the mount as user, so
 * that the daemon checks and records every access as user's. The caller
 * must be root. 0 and the count in *due, or 1 after one line on
 * stderr. */
int ctl_retention_due_count(const char *mount, const char *user,
                            const struct policy *p, time_t now,
                            unsigned *due);
int ctl_share(int argc, char **argv);
int ctl_unlock(int argc, char **argv);
int ctl_lockouts(int argc, char **argv);
int ctl_report(int argc, char **argv);

#endif
