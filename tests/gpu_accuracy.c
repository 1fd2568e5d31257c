/* Detection accuracy on the GPU: scripts/check-accuracy.sh --backend cuda over every
 * shared clip and model (F1 >= 0.97 against the onnxruntime reference, decode and
 * preprocessing on the GPU where the pipeline puts them with a GPU engine). Skips
 * without a GPU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "gpu_skip.h"

static void test_check_accuracy_cuda(void **state)
{
	(void)state;
	char cmd[1024], line[1024];
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	int rows = 0;
	snprintf(cmd, sizeof(cmd), "BUILD='%s' SHARED='%s' scripts/check-accuracy.sh --backend cuda 2>&1", build,
	         gpu_shared_dir());
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		printf("# %s", line);
		rows++;
	}
	int rc = pclose(p);
	assert_true(rows > 2);
	assert_int_equal(rc, 0);
}

int main(void)
{
	if (!gpu_visible("gpu_accuracy"))
		return 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_accuracy_cuda),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
