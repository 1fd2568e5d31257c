/* libFuzzer harness: a clip's bytes through dec_stream (libavformat probe and demux, the
 * software decoder, conversion into vapd frames), as a file source with decoder: software.
 * At most FUZZ_MAX_FRAMES frames are read so that a valid clip costs little; a fatal
 * error or the end of the file ends the input. Crashes and sanitizer reports are bugs. */
#include <stdint.h>
#include <string.h>

#include "decode/source.h"
#include "fuzz/fuzz_input.h"
#include "pipeline/vp_log.h"

#define FUZZ_MAX_FRAMES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vp_log_set_level(VP_LOG_ERROR);
	fuzz_input in;
	if (fuzz_input_open(&in, "clip", data, size) < 0)
		return 0;
	pipe_source_cfg c = {
		.id = "fuzz", .uri = in.path, .decoder = PIPE_DEC_SOFTWARE, .interval = 1,
		.queue = { .depth = 4, .policy = PIPE_QP_BLOCK },
		.reconnect_initial_ms = 100, .reconnect_max_ms = 100, .rtsp_timeout_ms = 1000,
		.is_file = true, .gpu = -1,
	};
	dec_stream *s = NULL;
	if (dec_stream_open(&c, 0, 8, &s) == 0) {
		vp_frame *f;
		for (int i = 0; i < FUZZ_MAX_FRAMES && dec_stream_read(s, &f) == 0; i++)
			vp_frame_unref(&f);
		dec_stream_free(&s);
	}
	fuzz_input_close(&in);
	return 0;
}
