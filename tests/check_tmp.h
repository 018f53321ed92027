/*
 * check_tmp: the temporary directories of a Check suite. Every test of a
 * tcase works in its own directory (dir, made by tmp_dir_make()) under
 * one base directory, made before the tcase forks its tests and removed
 * after it (make_base() and remove_base(), as an unchecked fixture), so
 * that nothing is left behind even when a test fails. Both are mode
 * 0755, whatever the umask. Define CHECK_TMP_NAME (the suite's name)
 * before including it.
 */
#ifndef DOSSIER_CHECK_TMP_H
#define DOSSIER_CHECK_TMP_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <check.h>

static char base[128];
static char dir[256];             /* this test's directory */

static void make_base(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(base, sizeof(base), "%s/" CHECK_TMP_NAME ".XXXXXX",
	         tmp != NULL && *tmp != '\0' && strlen(tmp) < 64 ? tmp : "/tmp");
	if (mkdtemp(base) == NULL || chmod(base, 0755) != 0) {
		fprintf(stderr, CHECK_TMP_NAME ": %s: %s\n", base,
		        strerror(errno));
		exit(EXIT_FAILURE);
	}
}

static int remove_one(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

static void remove_base(void)
{
	nftw(base, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void tmp_dir_make(void)
{
	snprintf(dir, sizeof(dir), "%s/t.XXXXXX", base);
	ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
	ck_assert_int_eq(chmod(dir, 0755), 0);
}

static inline void tmp_dir_remove(void)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
