/*
 * check_main: the main() every Check suite shares. A suite file defines
 * its suite function and then: CHECK_MAIN(name_suite)
 * Exit status 0 if every test passed, 1 if any failed, 2 if libsodium
 * could not start.
 */
#ifndef DOSSIER_CHECK_MAIN_H
#define DOSSIER_CHECK_MAIN_H

#include <stdio.h>
#include <stdlib.h>
#include <check.h>
#include <sodium.h>

#define CHECK_MAIN(suite_fn)                                             \
	int main(void)                                                   \
	{                                                                \
		SRunner *sr;                                             \
		int failed;                                              \
                                                                         \
		if (sodium_init() < 0) {                                 \
			fprintf(stderr, "sodium_init failed\n");         \
			return 2;                                        \
		}                                                        \
		sr = srunner_create(suite_fn());                         \
		srunner_run_all(sr, CK_NORMAL);                          \
		failed = srunner_ntests_failed(sr);                      \
		srunner_free(sr);                                        \
		return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;        \
	}

#endif
