/* Preprocessing reference: real frames against onnxruntime's reference input tensors,
 * and synthetic pictures against an independent RGB resize written here. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "kernels/preprocess.h"
#include "kernels/preprocess_math.h"
#include "tensor_pb.h"

static const char *shared_dir(void)
{
	const char *s = getenv("SHARED");
	return s ? s : "../shared";
}

/* ---- real frames ---------------------------------------------------------------- */

/* Decodes the first frame of a clip with libavcodec and wraps it as a host vp_frame. */
static AVFrame *decode_first(const char *clip, vp_frame *vf)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/data/videos/%s", shared_dir(), clip);
	AVFormatContext *fmt = NULL;
	AVCodecContext *dec = NULL;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *fr = av_frame_alloc();
	int got = 0;
	assert_int_equal(avformat_open_input(&fmt, path, NULL, NULL), 0);
	assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
	const AVCodec *codec = NULL;
	int si = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
	assert_true(si >= 0);
	dec = avcodec_alloc_context3(codec);
	assert_true(avcodec_parameters_to_context(dec, fmt->streams[si]->codecpar) >= 0);
	assert_true(avcodec_open2(dec, codec, NULL) >= 0);
	while (!got && av_read_frame(fmt, pkt) >= 0) {
		if (pkt->stream_index == si && avcodec_send_packet(dec, pkt) >= 0)
			got = avcodec_receive_frame(dec, fr) == 0;
		av_packet_unref(pkt);
	}
	if (!got) {
		avcodec_send_packet(dec, NULL);
		got = avcodec_receive_frame(dec, fr) == 0;
	}
	assert_true(got);
	assert_int_equal(fr->format, AV_PIX_FMT_YUV420P);
	memset(vf, 0, sizeof(*vf));
	vf->stream_id = clip;
	vf->width = fr->width;
	vf->height = fr->height;
	vf->fmt = VP_PIX_YUV420P;
	vf->mem = VP_MEM_HOST;
	vf->csp = fr->colorspace == AVCOL_SPC_BT709 ? VP_CSP_BT709 : VP_CSP_BT601;
	vf->full_range = fr->color_range == AVCOL_RANGE_JPEG;
	for (int i = 0; i < 3; i++) {
		vf->data[i] = fr->data[i];
		vf->linesize[i] = fr->linesize[i];
	}
	av_packet_free(&pkt);
	avcodec_free_context(&dec);
	avformat_close_input(&fmt);
	return fr;
}

/* Runs one preset on frame 0 of clip and returns mean/max |diff| to the reference tensor,
 * in 0-255 pixel units (the tensor's own unit divided by scale). */
static void compare_reference(const char *clip, const char *io_dir, const krn_pre_params *p,
                              double *mean, double *maxd)
{
	char path[1024];
	test_tensor ref = { 0 };
	snprintf(path, sizeof(path), "%s/data/reference/%s/input_0.pb", shared_dir(), io_dir);
	assert_int_equal(test_tensor_load(path, &ref), 0);
	assert_int_equal(ref.ndim, 4);
	assert_int_equal(ref.dims[1], 3);
	assert_int_equal(ref.dims[2], p->dst_h);
	assert_int_equal(ref.dims[3], p->dst_w);

	vp_frame vf;
	AVFrame *fr = decode_first(clip, &vf);
	float *out = malloc(ref.n * sizeof(float));
	const vp_frame *batch[1] = { &vf };
	krn_xform xf;
	assert_int_equal(krn_preprocess_ref(batch, 1, p, out, &xf), 0);
	double sum = 0, mx = 0;
	for (size_t i = 0; i < ref.n; i++) {
		double d = fabs((double)out[i] - ref.data[i]) / p->scale[0];
		sum += d;
		if (d > mx)
			mx = d;
	}
	*mean = sum / (double)ref.n;
	*maxd = mx;
	printf("# %s vs %s/input_0.pb: mean |diff| %.4f, max %.2f (0-255 units), pad %.0f,%.0f r %.5f\n",
	       clip, io_dir, *mean, *maxd, xf.pad_x, xf.pad_y, xf.scale_x);
	free(out);
	free(ref.data);
	av_frame_free(&fr);
}

static void yolox_preset(krn_pre_params *p)
{
	*p = (krn_pre_params){ .dst_w = 416, .dst_h = 416, .resize = KRN_LETTERBOX,
	                       .placement = KRN_TOP_LEFT, .pad_value = 114, .bgr = 1,
	                       .mean = { 0, 0, 0 }, .scale = { 1, 1, 1 } };
}

static void yolov8_preset(krn_pre_params *p)
{
	float s = 1.0f / 255.0f;
	*p = (krn_pre_params){ .dst_w = 640, .dst_h = 640, .resize = KRN_LETTERBOX,
	                       .placement = KRN_CENTER, .pad_value = 114, .bgr = 0,
	                       .mean = { 0, 0, 0 }, .scale = { s, s, s } };
}

/* The reference went through FFmpeg's RGB24 (rounded to 8 bits) and an 8-bit resize, so
 * each value differs by rounding (up to ~1 unit) plus small conversion differences.
 * Measured: mean 0.60 / 0.61, max 2.91 / 2.79 units (yolox / yolov8). The bounds keep
 * headroom for libavcodec versions, yet a channel swap, a half-pixel or one-pixel shift,
 * or the wrong range/matrix each raise the mean well above 1 or the max above 6. */
static void test_yolox_preset_matches_reference_tensor(void **state)
{
	(void)state;
	krn_pre_params p;
	double mean, maxd;
	yolox_preset(&p);
	compare_reference("people-432p.mp4", "yolox_nano.io", &p, &mean, &maxd);
	assert_true(mean < 1.0);
	assert_true(maxd < 6.0);
}

static void test_yolov8_preset_matches_reference_tensor(void **state)
{
	(void)state;
	krn_pre_params p;
	double mean, maxd;
	yolov8_preset(&p);
	compare_reference("highway-540p.mp4", "yolov8n.io", &p, &mean, &maxd);
	assert_true(mean < 1.0);
	assert_true(maxd < 6.0);
}

/* ---- synthetic pictures ------------------------------------------------------- */

typedef struct synth {
	vp_frame f;
	uint8_t *buf[3];
} synth;

/* A picture with sharp detail in every channel, so a one-pixel shift shows. */
static void synth_yuv(int x, int y, int v[3])
{
	v[0] = 16 + (x * 37 + y * 11) % 220;
	v[1] = 40 + ((x / 2) * 53 + (y / 2) * 7) % 180;
	v[2] = 30 + ((x / 2) * 13 + (y / 2) * 29) % 190;
}

/* Builds a frame of fmt from a per-pixel function (chroma from the even pixel). Sample
 * values are the 8-bit value scaled to the format's depth, so every format is the same
 * picture. */
static void synth_new(synth *s, vp_pixfmt fmt, int w, int h, void (*pix)(int, int, int[3]))
{
	int cw = (w + 1) / 2, ch = (h + 1) / 2;
	int deep = fmt == VP_PIX_P016 || fmt == VP_PIX_YUV420P10;
	int bps = deep ? 2 : 1, shift = fmt == VP_PIX_P016 ? 8 : (fmt == VP_PIX_YUV420P10 ? 2 : 0);
	int semi = fmt == VP_PIX_NV12 || fmt == VP_PIX_P016;
	memset(s, 0, sizeof(*s));
	s->f.width = w;
	s->f.height = h;
	s->f.fmt = fmt;
	s->f.mem = VP_MEM_HOST;
	s->f.stream_id = "synthetic";
	s->f.linesize[0] = w * bps + 5 * bps; /* padded rows, as decoders make them */
	s->f.linesize[1] = (semi ? 2 * cw : cw) * bps + 3 * bps;
	s->f.linesize[2] = semi ? 0 : s->f.linesize[1];
	s->buf[0] = calloc((size_t)s->f.linesize[0] * h, 1);
	s->buf[1] = calloc((size_t)s->f.linesize[1] * ch, 1);
	s->buf[2] = semi ? NULL : calloc((size_t)s->f.linesize[2] * ch, 1);
	for (int i = 0; i < 3; i++)
		s->f.data[i] = s->buf[i];
	for (int y = 0; y < h; y++) {
		for (int x = 0; x < w; x++) {
			int v[3];
			pix(x, y, v);
			int at[3] = { y * s->f.linesize[0] / bps + x, 0, 0 };
			int write_c = !(x & 1) && !(y & 1);
			if (semi) {
				at[1] = (y / 2) * s->f.linesize[1] / bps + 2 * (x / 2);
				at[2] = at[1] + 1;
			} else {
				at[1] = at[2] = (y / 2) * s->f.linesize[1] / bps + x / 2;
			}
			for (int k = 0; k < 3; k++) {
				if (k && !write_c)
					continue;
				uint8_t *plane = s->buf[semi && k ? 1 : k];
				if (deep)
					((uint16_t *)plane)[at[k]] = (uint16_t)(v[k] << shift);
				else
					plane[at[k]] = (uint8_t)v[k];
			}
		}
	}
}

static void synth_free(synth *s)
{
	for (int i = 0; i < 3; i++)
		free(s->buf[i]);
}

static float *run_pre(const vp_frame *f, const krn_pre_params *p, krn_xform *xf)
{
	float *out = malloc((size_t)3 * p->dst_w * p->dst_h * sizeof(float));
	const vp_frame *b[1] = { f };
	assert_int_equal(krn_preprocess_ref(b, 1, p, out, xf), 0);
	return out;
}

static void plain_params(krn_pre_params *p, int w, int h, int resize, int placement)
{
	*p = (krn_pre_params){ .dst_w = w, .dst_h = h, .resize = resize, .placement = placement,
	                       .pad_value = 114, .mean = { 0, 0, 0 }, .scale = { 1, 1, 1 } };
}

/* Resize written independently of the kernel: RGB24 picture, Python-style rounding of
 * the geometry (nearbyint rounds half to even), half-pixel bilinear in double. Returns
 * the largest |diff| to the kernel's output; checks the pad exactly. */
static double max_diff_to_naive(const vp_frame *f, const krn_pre_params *p, const float *out)
{
	int w = f->width, h = f->height, W = p->dst_w, H = p->dst_h;
	uint8_t *rgb = malloc((size_t)w * h * 3);
	assert_int_equal(krn_frame_to_rgb24(f, rgb, 3 * w), 0);
	int nw = W, nh = H, left = 0, top = 0;
	if (p->resize == KRN_LETTERBOX) {
		double r = fmin((double)W / w, (double)H / h);
		nw = (int)nearbyint(w * r);
		nh = (int)nearbyint(h * r);
		if (p->placement == KRN_CENTER) {
			left = (int)nearbyint((W - nw) / 2.0 - 0.1);
			top = (int)nearbyint((H - nh) / 2.0 - 0.1);
		}
	}
	double worst = 0;
	for (int y = 0; y < H; y++) {
		for (int x = 0; x < W; x++) {
			for (int c = 0; c < 3; c++) {
				float got = out[(size_t)c * W * H + (size_t)y * W + x];
				if (x < left || y < top || x >= left + nw || y >= top + nh) {
					assert_true(got == p->pad_value);
					continue;
				}
				double sx = fmax(0, (x - left + 0.5) * w / nw - 0.5);
				double sy = fmax(0, (y - top + 0.5) * h / nh - 0.5);
				int x0 = (int)sx, y0 = (int)sy;
				int x1 = x0 + 1 < w ? x0 + 1 : w - 1, y1 = y0 + 1 < h ? y0 + 1 : h - 1;
				if (x0 > w - 1) x0 = w - 1;
				if (y0 > h - 1) y0 = h - 1;
				double fx = sx - x0, fy = sy - y0;
				int ch = p->bgr ? 2 - c : c;
#define PX(xx, yy) ((double)rgb[((size_t)(yy) * w + (xx)) * 3 + ch])
				double v = (PX(x0, y0) * (1 - fx) + PX(x1, y0) * fx) * (1 - fy) +
				           (PX(x0, y1) * (1 - fx) + PX(x1, y1) * fx) * fy;
#undef PX
				worst = fmax(worst, fabs(v - got));
			}
		}
	}
	free(rgb);
	return worst;
}

static void check_against_naive(int w, int h, int W, int H, int resize, int placement, int bgr)
{
	synth s;
	krn_pre_params p;
	synth_new(&s, VP_PIX_YUV420P, w, h, synth_yuv);
	plain_params(&p, W, H, resize, placement);
	p.bgr = bgr;
	float *out = run_pre(&s.f, &p, NULL);
	double d = max_diff_to_naive(&s.f, &p, out);
	/* the naive path rounds RGB to 8 bits first: 0.5 plus float noise */
	if (d >= 0.502)
		fail_msg("%dx%d -> %dx%d mode %d/%d: max diff %.4f", w, h, W, H, resize, placement, d);
	free(out);
	synth_free(&s);
}

static void test_odd_sizes_match_independent_resize(void **state)
{
	(void)state;
	check_against_naive(37, 23, 64, 64, KRN_LETTERBOX, KRN_CENTER, 0);
	check_against_naive(37, 23, 64, 64, KRN_LETTERBOX, KRN_TOP_LEFT, 1);
	check_against_naive(23, 37, 50, 40, KRN_LETTERBOX, KRN_CENTER, 0);
	check_against_naive(641, 359, 96, 96, KRN_LETTERBOX, KRN_CENTER, 1);
	check_against_naive(33, 17, 40, 24, KRN_STRETCH, KRN_TOP_LEFT, 0);
}

static void test_frame_smaller_than_input_is_upscaled(void **state)
{
	(void)state;
	check_against_naive(50, 30, 416, 416, KRN_LETTERBOX, KRN_TOP_LEFT, 1);
	check_against_naive(15, 9, 128, 64, KRN_LETTERBOX, KRN_CENTER, 0);
	check_against_naive(3, 1, 16, 16, KRN_STRETCH, KRN_TOP_LEFT, 0);
}

static void assert_same_output(vp_pixfmt a, vp_pixfmt b, int w, int h)
{
	synth sa, sb;
	krn_pre_params p;
	synth_new(&sa, a, w, h, synth_yuv);
	synth_new(&sb, b, w, h, synth_yuv);
	plain_params(&p, 48, 48, KRN_LETTERBOX, KRN_CENTER);
	float *oa = run_pre(&sa.f, &p, NULL), *ob = run_pre(&sb.f, &p, NULL);
	assert_memory_equal(oa, ob, (size_t)3 * 48 * 48 * sizeof(float));
	free(oa);
	free(ob);
	synth_free(&sa);
	synth_free(&sb);
}

static void test_nv12_equals_yuv420p_for_same_picture(void **state)
{
	(void)state;
	assert_same_output(VP_PIX_NV12, VP_PIX_YUV420P, 45, 31);
	assert_same_output(VP_PIX_NV12, VP_PIX_YUV420P, 64, 36);
}

static void test_deep_formats_equal_8bit_picture(void **state)
{
	(void)state;
	assert_same_output(VP_PIX_P016, VP_PIX_YUV420P, 45, 31);
	assert_same_output(VP_PIX_YUV420P10, VP_PIX_YUV420P, 45, 31);
}

static void test_stretch_vs_letterbox_geometry(void **state)
{
	(void)state;
	synth s;
	krn_pre_params p;
	krn_xform xf;
	synth_new(&s, VP_PIX_YUV420P, 200, 100, synth_yuv);

	plain_params(&p, 100, 100, KRN_STRETCH, KRN_TOP_LEFT);
	float *st = run_pre(&s.f, &p, &xf);
	assert_float_equal(xf.scale_x, 0.5, 1e-6);
	assert_float_equal(xf.scale_y, 1.0, 1e-6);
	assert_float_equal(xf.pad_x + xf.pad_y, 0, 0);
	assert_true(max_diff_to_naive(&s.f, &p, st) < 0.502); /* fills the input, no pad */

	plain_params(&p, 100, 100, KRN_LETTERBOX, KRN_CENTER);
	float *lb = run_pre(&s.f, &p, &xf);
	assert_float_equal(xf.scale_x, 0.5, 1e-6);
	assert_float_equal(xf.scale_y, 0.5, 1e-6);
	assert_float_equal(xf.pad_x, 0, 0);
	assert_float_equal(xf.pad_y, 25, 0); /* (100 - 50) / 2 */
	/* a source corner maps back through the xform to the model-input corner of the picture */
	assert_float_equal((200 * xf.scale_x) + xf.pad_x, 100, 1e-4);
	assert_float_equal((100 * xf.scale_y) + xf.pad_y, 75, 1e-4);
	for (int c = 0; c < 3; c++) {
		for (int x = 0; x < 100; x++) {
			assert_true(lb[c * 10000 + 24 * 100 + x] == 114.0f);
			assert_true(lb[c * 10000 + 75 * 100 + x] == 114.0f);
		}
	}
	/* a 4:3 picture centred in a square: odd slack (416 - 235 = 181) rounds the offset down */
	plain_params(&p, 416, 416, KRN_LETTERBOX, KRN_CENTER);
	krn_pre_xform(&p, 642, 362, &xf);
	assert_float_equal(xf.pad_y, 90, 0);
	assert_float_equal(xf.pad_x, 0, 0);
	free(st);
	free(lb);
	synth_free(&s);
}

static void grey_yuv(int x, int y, int v[3])
{
	(void)x;
	v[0] = y < 2 ? 16 : (y < 4 ? 235 : 126);
	v[1] = v[2] = 128;
}

/* A 1-column-per-value picture: rows 0-1 black level, 2-3 white level, 4-5 mid grey. */
static void test_full_and_limited_range(void **state)
{
	(void)state;
	synth s;
	krn_pre_params p;
	plain_params(&p, 4, 6, KRN_STRETCH, KRN_TOP_LEFT);
	synth_new(&s, VP_PIX_YUV420P, 4, 6, grey_yuv);
	float *lim = run_pre(&s.f, &p, NULL);
	s.f.full_range = 1;
	float *full = run_pre(&s.f, &p, NULL);
	/* limited: 16 -> 0, 235 -> 255, 126 -> 255 * 110 / 219; full: the value itself */
	for (int c = 0; c < 3; c++) {
		assert_float_equal(lim[c * 24 + 0 * 4 + 1], 0.0, 1e-3);
		assert_float_equal(lim[c * 24 + 2 * 4 + 1], 255.0, 1e-3);
		assert_float_equal(lim[c * 24 + 5 * 4 + 1], 255.0 * 110 / 219, 1e-3);
		assert_float_equal(full[c * 24 + 0 * 4 + 1], 16.0, 1e-3);
		assert_float_equal(full[c * 24 + 2 * 4 + 1], 235.0, 1e-3);
		assert_float_equal(full[c * 24 + 5 * 4 + 1], 126.0, 1e-3);
	}
	free(lim);
	free(full);
	synth_free(&s);
}

static void red_yuv(int x, int y, int v[3])
{
	(void)x; (void)y;
	v[0] = 100; v[1] = 110; v[2] = 200;
}

/* Textbook limited-range matrices (ITU-R BT.601 / BT.709, 8-bit, 4 decimals). */
static void test_bt709_and_bt601_matrices(void **state)
{
	(void)state;
	synth s;
	krn_pre_params p;
	plain_params(&p, 2, 2, KRN_STRETCH, KRN_TOP_LEFT);
	synth_new(&s, VP_PIX_YUV420P, 2, 2, red_yuv);
	const double l = 1.1644 * (100 - 16), u = 110 - 128, v = 200 - 128;
	const double e601[3] = { l + 1.5960 * v, l - 0.3918 * u - 0.8130 * v, l + 2.0172 * u };
	const double e709[3] = { l + 1.7927 * v, l - 0.2132 * u - 0.5329 * v, l + 2.1124 * u };
	float *o601 = run_pre(&s.f, &p, NULL);
	s.f.csp = VP_CSP_BT709;
	float *o709 = run_pre(&s.f, &p, NULL);
	for (int c = 0; c < 3; c++) {
		assert_float_equal(o601[c * 4], fmin(255, fmax(0, e601[c])), 0.05);
		assert_float_equal(o709[c * 4], fmin(255, fmax(0, e709[c])), 0.05);
	}
	assert_true(fabs(o601[0] - o709[0]) > 10); /* the matrices really differ on red */
	free(o601);
	free(o709);
	synth_free(&s);
}

static void test_batch_of_different_sizes_equals_single_calls(void **state)
{
	(void)state;
	const int sizes[4][2] = { { 64, 48 }, { 37, 23 }, { 20, 90 }, { 160, 90 } };
	synth s[4];
	krn_pre_params p;
	yolov8_preset(&p);
	p.dst_w = p.dst_h = 96;
	size_t item = (size_t)3 * 96 * 96;
	float *batch = malloc(4 * item * sizeof(float));
	const vp_frame *frames[4];
	krn_xform xf[4], one;
	for (int i = 0; i < 4; i++) {
		synth_new(&s[i], i & 1 ? VP_PIX_NV12 : VP_PIX_YUV420P, sizes[i][0], sizes[i][1],
		          synth_yuv);
		frames[i] = &s[i].f;
	}
	assert_int_equal(krn_preprocess_ref(frames, 4, &p, batch, xf), 0);
	for (int i = 0; i < 4; i++) {
		float *single = run_pre(frames[i], &p, &one);
		assert_memory_equal(single, batch + i * item, item * sizeof(float));
		assert_memory_equal(&one, &xf[i], sizeof(one));
		free(single);
		synth_free(&s[i]);
	}
	free(batch);
}

static void test_fp16_and_nhwc_layouts(void **state)
{
	(void)state;
	synth s;
	krn_pre_params p;
	yolov8_preset(&p);
	p.dst_w = 40;
	p.dst_h = 30;
	p.mean[0] = 0.5f; /* mean applies in output channel order */
	synth_new(&s, VP_PIX_YUV420P, 41, 27, synth_yuv);
	float *ref = run_pre(&s.f, &p, NULL);
	const vp_frame *b[1] = { &s.f };
	uint16_t *h = malloc((size_t)3 * 40 * 30 * sizeof(uint16_t));
	float *nhwc = malloc((size_t)3 * 40 * 30 * sizeof(float));
	p.fp16 = 1;
	assert_int_equal(krn_preprocess_ref(b, 1, &p, h, NULL), 0);
	p.fp16 = 0;
	p.nhwc = 1;
	assert_int_equal(krn_preprocess_ref(b, 1, &p, nhwc, NULL), 0);
	for (int c = 0; c < 3; c++) {
		for (int i = 0; i < 40 * 30; i++) {
			float v = ref[c * 1200 + i];
			/* half has 11 significant bits: relative error <= 2^-11 */
			assert_float_equal(krn_f16_to_f32(h[c * 1200 + i]), v, fabsf(v) / 2048 + 1e-7);
			assert_true(nhwc[i * 3 + c] == v);
		}
	}
	assert_int_equal(krn_f32_to_f16(1.0f), 0x3c00);
	assert_int_equal(krn_f32_to_f16(-2.5f), 0xc100);
	assert_int_equal(krn_f32_to_f16(65504.0f), 0x7bff);
	assert_int_equal(krn_f32_to_f16(1e6f), 0x7c00);
	assert_int_equal(krn_f32_to_f16(5.960464477539063e-08f), 0x0001);
	assert_true(krn_f16_to_f32(0x0001) == 5.960464477539063e-08f);
	free(ref);
	free(h);
	free(nhwc);
	synth_free(&s);
}

/* The layout the detector feeds an FP16 NHWC engine with: FP16 NHWC is the FP16 NCHW
 * output transposed, bit for bit, for every item of a batch of different sizes and
 * formats (the CUDA kernel is compared with this reference in tests/gpu_preprocess.c). */
static void test_fp16_nhwc_is_fp16_nchw_transposed(void **state)
{
	(void)state;
	enum { W = 37, H = 29, N = 2 };
	synth s[N];
	synth_new(&s[0], VP_PIX_NV12, 64, 48, synth_yuv);
	synth_new(&s[1], VP_PIX_YUV420P, 23, 51, synth_yuv);
	const vp_frame *b[N] = { &s[0].f, &s[1].f };
	krn_pre_params p;
	yolov8_preset(&p);
	p.dst_w = W;
	p.dst_h = H;
	p.mean[1] = 3.0f;
	p.scale[2] = 0.5f;
	p.fp16 = 1;
	uint16_t *nchw = malloc((size_t)N * 3 * W * H * sizeof(uint16_t));
	uint16_t *nhwc = malloc((size_t)N * 3 * W * H * sizeof(uint16_t));
	assert_non_null(nchw);
	assert_non_null(nhwc);
	assert_int_equal(krn_preprocess_ref(b, N, &p, nchw, NULL), 0);
	p.nhwc = 1;
	assert_int_equal(krn_preprocess_ref(b, N, &p, nhwc, NULL), 0);
	for (int i = 0; i < N; i++)
		for (int c = 0; c < 3; c++)
			for (int y = 0; y < H; y++)
				for (int x = 0; x < W; x++)
					assert_int_equal(nhwc[(((size_t)i * H + y) * W + x) * 3 + c],
					                 nchw[(((size_t)i * 3 + c) * H + y) * W + x]);
	free(nchw);
	free(nhwc);
	for (int i = 0; i < N; i++)
		synth_free(&s[i]);
}

static void test_rejects_bad_frames_and_params(void **state)
{
	(void)state;
	synth s;
	krn_pre_params p;
	float out[3 * 8 * 8];
	const vp_frame *b[1];
	synth_new(&s, VP_PIX_YUV420P, 8, 8, synth_yuv);
	b[0] = &s.f;
	plain_params(&p, 8, 8, KRN_LETTERBOX, KRN_CENTER);
	s.f.mem = VP_MEM_DEVICE;
	assert_int_equal(krn_preprocess_ref(b, 1, &p, out, NULL), -EINVAL);
	s.f.mem = VP_MEM_HOST;
	s.f.fmt = (vp_pixfmt)42;
	assert_int_equal(krn_preprocess_ref(b, 1, &p, out, NULL), -EINVAL);
	s.f.fmt = VP_PIX_YUV420P;
	s.f.width = 0;
	assert_int_equal(krn_preprocess_ref(b, 1, &p, out, NULL), -EINVAL);
	s.f.width = 8;
	p.dst_w = 0;
	assert_int_equal(krn_preprocess_ref(b, 1, &p, out, NULL), -EINVAL);
	p.dst_w = 8;
	p.resize = 7;
	assert_int_equal(krn_preprocess_ref(b, 1, &p, out, NULL), -EINVAL);
	p.resize = KRN_LETTERBOX;
	assert_int_equal(krn_preprocess_ref(b, 0, &p, out, NULL), -EINVAL);
	assert_int_equal(krn_preprocess_ref(b, 1, &p, out, NULL), 0);
	synth_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yolox_preset_matches_reference_tensor),
		cmocka_unit_test(test_yolov8_preset_matches_reference_tensor),
		cmocka_unit_test(test_odd_sizes_match_independent_resize),
		cmocka_unit_test(test_frame_smaller_than_input_is_upscaled),
		cmocka_unit_test(test_nv12_equals_yuv420p_for_same_picture),
		cmocka_unit_test(test_deep_formats_equal_8bit_picture),
		cmocka_unit_test(test_stretch_vs_letterbox_geometry),
		cmocka_unit_test(test_full_and_limited_range),
		cmocka_unit_test(test_bt709_and_bt601_matrices),
		cmocka_unit_test(test_batch_of_different_sizes_equals_single_calls),
		cmocka_unit_test(test_fp16_and_nhwc_layouts),
		cmocka_unit_test(test_fp16_nhwc_is_fp16_nchw_transposed),
		cmocka_unit_test(test_rejects_bad_frames_and_params),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
