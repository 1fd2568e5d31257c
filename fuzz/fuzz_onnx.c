/* libFuzzer harness: an ONNX file through inf_engine_open on the CPU backend (import,
 * shape inference with constant folding, fusion, planning, operator prepare). Batch 1
 * and one thread keep an execution cheap; nothing runs the graph. Errors (VP_EMODEL,
 * VP_EUNSUP) are expected; crashes and sanitizer reports are bugs. */
#include <stdint.h>

#include "fuzz/fuzz_input.h"
#include "infer/engine.h"
#include "pipeline/vp_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vp_log_set_level(VP_LOG_ERROR);
	fuzz_input in;
	if (fuzz_input_open(&in, "model.onnx", data, size) < 0)
		return 0;
	inf_engine_opts o = { .backend = "cpu", .max_batch = 1, .threads = 1 };
	inf_engine *e = NULL;
	if (inf_engine_open(in.path, &o, &e) == 0)
		inf_engine_free(&e);
	fuzz_input_close(&in);
	return 0;
}
