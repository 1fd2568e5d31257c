/* The suite's one skip rule for cmocka tests: a skip names its kind, so tests/run.sh can
 * tell the skips CI accepts (gpu: no GPU or no NVDEC here; sanitizer: the ASan build
 * cannot check this) from a missing dependency, which `make deps` installs and CI
 * therefore counts as a failure. Kinds: gpu, sanitizer, deps (a program or package),
 * net (a host network feature such as the IPv6 loopback). */
#ifndef TESTS_TEST_SKIP_H
#define TESTS_TEST_SKIP_H

/* Prints "SKIP(kind): reason" on stdout, where run.sh reads it, and skips the test.
 * Include after <cmocka.h>; kind is a string literal. */
#define skip_because(kind, ...)                                    \
	do {                                                       \
		print_message("SKIP(" kind "): " __VA_ARGS__);     \
		print_message("\n");                               \
		skip();                                            \
	} while (0)

#endif
