/* libFuzzer harness: the YAML pipeline file through pipe_config_load (parse, walk of the
 * key table, every check). Any sanitizer report or crash is a bug; VP_ECONFIG is the
 * expected answer to most inputs. Messages go to /dev/null. */
#include <stdint.h>
#include <stdio.h>

#include "fuzz/fuzz_input.h"
#include "pipeline/config.h"
#include "pipeline/vp_log.h"

static FILE *sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!sink) {
		vp_log_set_level(VP_LOG_ERROR);
		sink = fopen("/dev/null", "w");
	}
	fuzz_input in;
	if (fuzz_input_open(&in, "config.yaml", data, size) < 0)
		return 0;
	pipe_config *cfg = NULL;
	if (pipe_config_load(in.path, sink, &cfg) == 0)
		pipe_config_free(&cfg);
	fuzz_input_close(&in);
	return 0;
}
