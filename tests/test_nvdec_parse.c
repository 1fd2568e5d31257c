/* The NVDEC parser side on the CPU: the decode surface count and the timestamp clock
 * (pure functions), and the parser and its sequence callback driven by a fake driver
 * (the CudaFunctions / CuvidFunctions tables nvdec_parse.c calls through), so the clamp
 * warning, a failed cuvidCreateDecoder and the parser's clock are checked on machines
 * without a GPU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <libavutil/mathematics.h>

#include "decode/dec_priv.h"
#include "decode/nvdec_priv.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"

/* ---- the fake driver: records what the code under test asked of it ---- */

static struct {
	CUVIDPARSERPARAMS parser;        /* as created */
	CUVIDEOFORMAT fmt;               /* what the next packet's "sequence header" says */
	CUresult create_result;          /* what cuvidCreateDecoder answers */
	int creates;
	unsigned created_surfaces;
	int seq_return;                  /* the sequence callback's last answer */
	CUVIDSOURCEDATAPACKET last_pkt;
} fake;

static CUresult CUDAAPI fake_push(CUcontext c) { (void)c; return CUDA_SUCCESS; }
static CUresult CUDAAPI fake_pop(CUcontext *c) { *c = NULL; return CUDA_SUCCESS; }

static CUresult CUDAAPI fake_err_string(CUresult r, const char **s)
{
	static char buf[32];
	snprintf(buf, sizeof(buf), "fake-status-%d", (int)r);
	*s = buf;
	return CUDA_SUCCESS;
}

static CUresult CUDAAPI fake_caps(CUVIDDECODECAPS *c)
{
	c->bIsSupported = 1;
	c->nMaxWidth = c->nMaxHeight = 8192;
	c->nMinWidth = c->nMinHeight = 48;
	c->nMaxMBCount = 1u << 20;
	c->nOutputFormatMask = 1u << cudaVideoSurfaceFormat_NV12 | 1u << cudaVideoSurfaceFormat_P016;
	return CUDA_SUCCESS;
}

static CUresult CUDAAPI fake_create_decoder(CUvideodecoder *dec, CUVIDDECODECREATEINFO *ci)
{
	fake.creates++;
	fake.created_surfaces = (unsigned)ci->ulNumDecodeSurfaces;
	*dec = fake.create_result == CUDA_SUCCESS ? (CUvideodecoder)(uintptr_t)0x1000 : NULL;
	return fake.create_result;
}

static CUresult CUDAAPI fake_destroy_decoder(CUvideodecoder dec) { (void)dec; return CUDA_SUCCESS; }

static CUresult CUDAAPI fake_create_parser(CUvideoparser *p, CUVIDPARSERPARAMS *pp)
{
	fake.parser = *pp;
	*p = (CUvideoparser)(uintptr_t)0x2000;
	return CUDA_SUCCESS;
}

static CUresult CUDAAPI fake_destroy_parser(CUvideoparser p) { (void)p; return CUDA_SUCCESS; }

/* Every packet with a payload "holds a sequence header"; a failing callback is propagated
 * as the SDK documents it (nvcuvid.h: callback failures come back from
 * cuvidParseVideoData). */
static CUresult CUDAAPI fake_parse(CUvideoparser p, CUVIDSOURCEDATAPACKET *pkt)
{
	(void)p;
	fake.last_pkt = *pkt;
	if (!pkt->payload)
		return CUDA_SUCCESS;
	fake.seq_return = fake.parser.pfnSequenceCallback(fake.parser.pUserData, &fake.fmt);
	return fake.seq_return ? CUDA_SUCCESS : (CUresult)999;
}

static CudaFunctions fake_cu = {
	.cuCtxPushCurrent = fake_push,
	.cuCtxPopCurrent = fake_pop,
	.cuGetErrorString = fake_err_string,
};
static CuvidFunctions fake_cuvid = {
	.cuvidGetDecoderCaps = fake_caps,
	.cuvidCreateDecoder = fake_create_decoder,
	.cuvidDestroyDecoder = fake_destroy_decoder,
	.cuvidCreateVideoParser = fake_create_parser,
	.cuvidParseVideoData = fake_parse,
	.cuvidDestroyVideoParser = fake_destroy_parser,
};
static const nvdec_rt fake_rt = { .cu = &fake_cu, .cuvid = &fake_cuvid, .devices = 1 };

/* An H.264 stream of 640x480 whose parser asks for min_surfaces. */
static nvdec_dec *fake_stream(int min_surfaces, int cfg, int in_flight)
{
	memset(&fake, 0, sizeof(fake));
	fake.fmt.codec = cudaVideoCodec_H264;
	fake.fmt.chroma_format = cudaVideoChromaFormat_420;
	fake.fmt.progressive_sequence = 1;
	fake.fmt.min_num_decode_surfaces = (unsigned char)min_surfaces;
	fake.fmt.coded_width = 640;
	fake.fmt.coded_height = 480;
	fake.fmt.display_area.right = 640;
	fake.fmt.display_area.bottom = 480;
	nvdec_dec *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	d->rt = &fake_rt;
	d->stream_id = "cam7";
	d->ctx = (CUcontext)(uintptr_t)0x3000;
	d->codec = cudaVideoCodec_H264;
	d->surfaces_cfg = cfg;
	d->in_flight = in_flight;
	d->max_w = 640;
	d->max_h = 480;
	d->pix = VP_PIX_NV12;
	assert_int_equal(nvdec_parser_create(d), 0);
	return d;
}

static const uint8_t some_bytes[16] = { 0, 0, 0, 1, 0x67 };

/* stderr of what runs between the two calls, into log. */
static FILE *capture_file;
static int capture_saved = -1;

static void capture_begin(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	assert_non_null(capture_file);
	capture_saved = dup(2);
	assert_true(capture_saved >= 0);
	assert_true(dup2(fileno(capture_file), 2) >= 0);
}

static void capture_end(char *log, size_t n)
{
	fflush(stderr);
	dup2(capture_saved, 2);
	close(capture_saved);
	rewind(capture_file);
	size_t got = fread(log, 1, n - 1, capture_file);
	log[got] = '\0';
	fclose(capture_file);
}

static int count(const char *log, const char *what)
{
	int c = 0;
	for (const char *p = log; (p = strstr(p, what)); p += strlen(what))
		c++;
	return c;
}

/* ---- surfaces ---- */

static void test_surfaces_default_to_min_plus_in_flight_plus_headroom(void **state)
{
	(void)state;
	int wanted = 0;
	assert_int_equal(nvdec_surfaces(8, 0, 2, &wanted), 8 + 2 + NVDEC_SURFACE_HEADROOM);
	assert_int_equal(wanted, 14);
	assert_int_equal(nvdec_surfaces(20, 0, 0, &wanted), 24);
	assert_int_equal(nvdec_surfaces(1, 0, 4, &wanted), 9);
}

static void test_surfaces_explicit_config_wins_but_never_below_min(void **state)
{
	(void)state;
	int wanted = 0;
	assert_int_equal(nvdec_surfaces(8, 10, 2, &wanted), 10);
	assert_int_equal(wanted, 10);
	assert_int_equal(nvdec_surfaces(8, 4, 2, &wanted), 8);
	assert_int_equal(nvdec_surfaces(17, 32, 16, &wanted), 32);
	assert_int_equal(wanted, 32);
}

static void test_surfaces_clamp_to_nvdec_limit_of_32(void **state)
{
	(void)state;
	int wanted = 0;
	assert_int_equal(NVDEC_MAX_SURFACES, 32);
	/* H.264 level 5.1 asks for about 20; a deep in_flight passes 32. */
	assert_int_equal(nvdec_surfaces(20, 0, 16, &wanted), 32);
	assert_int_equal(wanted, 40);
	assert_int_equal(nvdec_surfaces(28, 0, 0, &wanted), 32);
	assert_int_equal(wanted, 32);
	assert_int_equal(nvdec_surfaces(29, 0, 0, &wanted), 32);
	assert_int_equal(wanted, 33);
	for (int min = 1; min <= 32; min++)
		for (int fl = 0; fl <= 16; fl++)
			for (int cfg = 0; cfg <= 32; cfg += 4) {
				int n = nvdec_surfaces(min, cfg, fl, &wanted);
				assert_true(n >= min && n <= 32 && n <= wanted);
			}
}

/* ---- the sequence callback on the fake driver ---- */

static void test_sequence_creates_decoder_with_the_computed_surfaces(void **state)
{
	(void)state;
	nvdec_dec *d = fake_stream(9, 0, 2);
	assert_int_equal(nvdec_parse(d, some_bytes, sizeof(some_bytes), AV_NOPTS_VALUE, 0), 0);
	assert_int_equal(fake.creates, 1);
	assert_int_equal(fake.created_surfaces, 15);
	assert_int_equal(fake.seq_return, 15);  /* > 1: the parser's DPB is sized to it */
	assert_int_equal(d->fatal, 0);
	free(d);
}

static void test_clamped_surfaces_warn_once_per_stream(void **state)
{
	(void)state;
	vp_log_set_level(VP_LOG_INFO);
	char log[4096];
	capture_begin();
	nvdec_dec *d = fake_stream(20, 0, 16);
	for (int i = 0; i < 3; i++)
		assert_int_equal(nvdec_parse(d, some_bytes, sizeof(some_bytes), AV_NOPTS_VALUE, 0), 0);
	/* A flush (a looped file) makes a new parser that sees the sequence again. */
	d->rt->cuvid->cuvidDestroyVideoParser(d->parser);
	assert_int_equal(nvdec_parser_create(d), 0);
	assert_int_equal(nvdec_parse(d, some_bytes, sizeof(some_bytes), AV_NOPTS_VALUE, 0), 0);
	capture_end(log, sizeof(log));
	vp_log_set_level(VP_LOG_ERROR);
	assert_int_equal(fake.created_surfaces, 32);
	assert_int_equal(fake.seq_return, 32);
	assert_int_equal(count(log, "at most 32"), 1);
	assert_non_null(strstr(log, "[nvdec cam7] 40 decode surfaces wanted"));
	free(d);
}

static void test_failed_decoder_creation_ends_stream_naming_it_and_the_status(void **state)
{
	(void)state;
	char log[4096];
	capture_begin();
	nvdec_dec *d = fake_stream(9, 0, 2);
	fake.create_result = (CUresult)2;  /* CUDA_ERROR_OUT_OF_MEMORY */
	int r = nvdec_parse(d, some_bytes, sizeof(some_bytes), 0, CUVID_PKT_ENDOFPICTURE);
	capture_end(log, sizeof(log));
	assert_int_equal(r, VP_EUNSUP);
	assert_int_equal(count(log, "cuvidCreateDecoder"), 1);
	assert_non_null(strstr(log, "[nvdec cam7] cannot create the NVDEC decoder (640x480 coded, "
	                            "8 bit, 15 surfaces): cuvidCreateDecoder: fake-status-2"));
	/* The stream's next read gets the error; packets are no longer parsed. */
	vp_frame *f = NULL;
	int64_t ts = 0;
	int corrupt = 0;
	assert_int_equal(dec_decoder_nvdec.receive(d, &f, &ts, &corrupt), VP_EUNSUP);
	assert_null(f);
	AVPacket *pkt = av_packet_alloc();
	assert_non_null(pkt);
	int creates = fake.creates;
	assert_int_equal(dec_decoder_nvdec.send(d, pkt), 0);
	assert_int_equal(fake.creates, creates);
	assert_int_equal(dec_decoder_nvdec.receive(d, &f, &ts, &corrupt), VP_EUNSUP);
	av_packet_free(&pkt);
	free(d);
}

/* ---- timestamps ---- */

static const AVRational common_tbs[] = {
	{ 1, 90000 }, { 1, 1000 }, { 1, 12800 }, { 1001, 30000 }, { 1001, 60000 }, { 1, 25 },
	{ 1, 10 }, { 1, 15360 }, { 1, 30000 }, { 1, 1200000 }, { 1, 10000000 },
};

static void test_timestamps_round_trip_exactly_for_common_time_bases(void **state)
{
	(void)state;
	const int64_t vals[] = { 0, 1, -1, 2, 3, 7, 1001, 12345, -2002, 90000 * 3600LL,
	                         1LL << 33, (1LL << 33) + 1, 5LL << 33, 1LL << 40, 123456789012LL };
	for (size_t t = 0; t < sizeof(common_tbs) / sizeof(common_tbs[0]); t++) {
		AVRational tb = common_tbs[t];
		for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
			int64_t in = nvdec_ts_to_parser(vals[i], tb);
			assert_true(in != AV_NOPTS_VALUE);
			if (nvdec_ts_from_parser(in, tb) != vals[i])
				fail_msg("%lld in %d/%d: %lld in the parser clock comes back as %lld",
				         (long long)vals[i], tb.num, tb.den, (long long)in,
				         (long long)nvdec_ts_from_parser(in, tb));
		}
		for (int64_t v = -3000; v <= 3000; v++)
			assert_true(nvdec_ts_from_parser(nvdec_ts_to_parser(v, tb), tb) == v);
	}
}

static void test_timestamps_are_in_the_parser_clock_of_10_mhz(void **state)
{
	(void)state;
	assert_int_equal(NVDEC_CLOCK_HZ, 10000000);
	assert_true(nvdec_ts_to_parser(90000, (AVRational){ 1, 90000 }) == 10000000);
	assert_true(nvdec_ts_to_parser(40, (AVRational){ 1, 1000 }) == 400000);
	assert_true(nvdec_ts_to_parser(1, (AVRational){ 1001, 30000 }) == 333667);
	assert_true(nvdec_ts_to_parser(-512, (AVRational){ 1, 12800 }) == -400000);
	assert_true(nvdec_ts_from_parser(10000000, (AVRational){ 1, 90000 }) == 90000);
}

static void test_timestamps_keep_nopts_and_never_wrap(void **state)
{
	(void)state;
	for (size_t t = 0; t < sizeof(common_tbs) / sizeof(common_tbs[0]); t++) {
		assert_true(nvdec_ts_to_parser(AV_NOPTS_VALUE, common_tbs[t]) == AV_NOPTS_VALUE);
		assert_true(nvdec_ts_from_parser(AV_NOPTS_VALUE, common_tbs[t]) == AV_NOPTS_VALUE);
	}
	/* Large but real: 10 years of 90 kHz ticks, a ms clock since 1970. */
	int64_t ten_years = 90000LL * 3600 * 24 * 3653;
	AVRational ts90 = { 1, 90000 }, ms = { 1, 1000 };
	assert_true(nvdec_ts_from_parser(nvdec_ts_to_parser(ten_years, ts90), ts90) == ten_years);
	assert_true(nvdec_ts_from_parser(nvdec_ts_to_parser(1700000000000LL, ms), ms) ==
	            1700000000000LL);
	/* Beyond 64 bits in the parser clock: unknown, never a wrapped value. */
	assert_true(nvdec_ts_to_parser(INT64_MAX / 2, ms) == AV_NOPTS_VALUE);
	assert_true(nvdec_ts_to_parser(INT64_MIN / 2, ms) == AV_NOPTS_VALUE);
	int64_t near = nvdec_ts_to_parser(INT64_MAX / 20000, ms);
	assert_true(near > 0 && nvdec_ts_from_parser(near, ms) == INT64_MAX / 20000);
	/* No time base known: passed through as before. */
	assert_true(nvdec_ts_to_parser(1234, (AVRational){ 0, 1 }) == 1234);
	assert_true(nvdec_ts_from_parser(1234, (AVRational){ 0, 1 }) == 1234);
}

static void test_parser_is_told_its_clock_and_gets_rescaled_timestamps(void **state)
{
	(void)state;
	nvdec_dec *d = fake_stream(9, 0, 2);
	d->time_base = (AVRational){ 1, 90000 };
	assert_int_equal(nvdec_parser_create(d), 0);
	assert_int_equal(fake.parser.ulClockRate, NVDEC_CLOCK_HZ);
	assert_int_equal(nvdec_parse(d, some_bytes, sizeof(some_bytes), 126000,
	                             CUVID_PKT_ENDOFPICTURE), 0);
	assert_true(fake.last_pkt.flags & CUVID_PKT_TIMESTAMP);
	assert_true(fake.last_pkt.flags & CUVID_PKT_ENDOFPICTURE);
	assert_true(fake.last_pkt.timestamp == 14000000);  /* 1.4 s */
	assert_int_equal(nvdec_parse(d, some_bytes, sizeof(some_bytes), AV_NOPTS_VALUE,
	                             CUVID_PKT_ENDOFPICTURE), 0);
	assert_false(fake.last_pkt.flags & CUVID_PKT_TIMESTAMP);
	free(d);
}

int main(void)
{
	vp_log_set_level(VP_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_surfaces_default_to_min_plus_in_flight_plus_headroom),
		cmocka_unit_test(test_surfaces_explicit_config_wins_but_never_below_min),
		cmocka_unit_test(test_surfaces_clamp_to_nvdec_limit_of_32),
		cmocka_unit_test(test_sequence_creates_decoder_with_the_computed_surfaces),
		cmocka_unit_test(test_clamped_surfaces_warn_once_per_stream),
		cmocka_unit_test(test_failed_decoder_creation_ends_stream_naming_it_and_the_status),
		cmocka_unit_test(test_timestamps_round_trip_exactly_for_common_time_bases),
		cmocka_unit_test(test_timestamps_are_in_the_parser_clock_of_10_mhz),
		cmocka_unit_test(test_timestamps_keep_nopts_and_never_wrap),
		cmocka_unit_test(test_parser_is_told_its_clock_and_gets_rescaled_timestamps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
