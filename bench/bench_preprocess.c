/* CPU preprocessing, reference (krn_preprocess_ref) next to the fast path
 * (krn_preprocess_cpu) on the same frames in the same run, as markdown table rows:
 *   | input | model input | threads | reference ms | fast ms | speed-up | max |diff| |
 * Usage: bench_preprocess SHARED_DIR. Inputs: frame 0 of cars-1080p.mp4 and
 * cars-432p.mp4 from the software decoder, and the 1080p frame scaled to 1280x720 with
 * swscale. Model inputs: 416x416 letterbox top-left BGR (YOLOX), 640x640 letterbox
 * centred RGB /255 (YOLOv8). Times are the best of several rounds that alternate the
 * two functions, so a busy shared machine slows both alike. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include "decode/source.h"
#include "kernels/preprocess.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"

#define ROUNDS 5
#define MIN_ROUND_S 0.05

typedef int (*pre_fn)(const vp_frame *const *, int, const krn_pre_params *, void *, krn_xform *);

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Frame 0 of a clip, through the project's software decoder (one reference); the
 * stream borrows the source settings, so they live in the caller's src. */
typedef struct bench_src {
	char path[1024];
	pipe_source_cfg cfg;
	dec_stream *s;
	vp_frame *f;
} bench_src;

static int first_frame(const char *shared, const char *clip, bench_src *b)
{
	snprintf(b->path, sizeof(b->path), "%s/data/videos/%s", shared, clip);
	b->cfg = (pipe_source_cfg){
		.id = (char *)clip, .uri = b->path, .decoder = PIPE_DEC_SOFTWARE, .interval = 1,
		.reconnect_initial_ms = 500, .reconnect_max_ms = 30000, .rtsp_timeout_ms = 5000,
		.is_file = true,
	};
	int r = dec_stream_open(&b->cfg, 0, 4, &b->s);
	if (r < 0)
		return r;
	return dec_stream_read(b->s, &b->f);
}

/* A w x h YUV420P copy of src scaled with swscale (bilinear); buf owns the planes. */
static int scaled(const vp_frame *src, int w, int h, vp_frame *dst, uint8_t **buf)
{
	struct SwsContext *sws = sws_getContext(src->width, src->height, AV_PIX_FMT_YUV420P, w, h,
	                                        AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
	if (!sws)
		return -ENOMEM;
	*dst = *src;
	dst->opaque = NULL;  /* a plain copy: not the decoder's, never unreferenced */
	dst->pool = NULL;
	dst->width = w;
	dst->height = h;
	uint8_t *data[4];
	int linesize[4];
	if (av_image_alloc(data, linesize, w, h, AV_PIX_FMT_YUV420P, 32) < 0) {
		sws_freeContext(sws);
		return -ENOMEM;
	}
	for (int i = 0; i < 3; i++) {
		dst->data[i] = data[i];
		dst->linesize[i] = linesize[i];
	}
	*buf = data[0];
	sws_scale(sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height, dst->data,
	          dst->linesize);
	sws_freeContext(sws);
	return 0;
}

/* Seconds per call of fn: one round repeats it for at least MIN_ROUND_S. */
static double round_s(pre_fn fn, const vp_frame *f, const krn_pre_params *p, float *out)
{
	const vp_frame *batch[1] = { f };
	int calls = 0;
	double t0 = now_s(), dt;
	do {
		if (fn(batch, 1, p, out, NULL) < 0)
			return -1.0;
		calls++;
		dt = now_s() - t0;
	} while (dt < MIN_ROUND_S);
	return dt / calls;
}

static int bench_case(const char *name, const vp_frame *f, const krn_pre_params *p,
                      const char *model, int threads)
{
	size_t n = (size_t)3 * p->dst_w * p->dst_h;
	float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
	if (!a || !b) {
		free(a);
		free(b);
		return -ENOMEM;
	}
	omp_set_num_threads(threads);
	double best_ref = 1e9, best_cpu = 1e9;
	for (int r = 0; r < ROUNDS; r++) {
		double tr = round_s(krn_preprocess_ref, f, p, a);
		double tc = round_s(krn_preprocess_cpu, f, p, b);
		if (tr < 0 || tc < 0) {
			free(a);
			free(b);
			return -EINVAL;
		}
		best_ref = tr < best_ref ? tr : best_ref;
		best_cpu = tc < best_cpu ? tc : best_cpu;
	}
	double maxd = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]) / p->scale[i / ((size_t)p->dst_w * p->dst_h)];
		maxd = d > maxd ? d : maxd;
	}
	printf("| %s %dx%d | %s | %d | %.3f | %.3f | %.1fx | %.3g |\n", name, f->width, f->height,
	       model, threads, best_ref * 1e3, best_cpu * 1e3, best_ref / best_cpu, maxd);
	fflush(stdout);
	free(a);
	free(b);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SHARED_DIR\n", argv[0]);
		return 2;
	}
	vp_log_set_level(VP_LOG_WARN);
	const float s = 1.0f / 255.0f;
	const krn_pre_params models[2] = {
		{ .dst_w = 416, .dst_h = 416, .resize = KRN_LETTERBOX, .placement = KRN_TOP_LEFT,
		  .pad_value = 114, .bgr = 1, .scale = { 1, 1, 1 } },
		{ .dst_w = 640, .dst_h = 640, .resize = KRN_LETTERBOX, .placement = KRN_CENTER,
		  .pad_value = 114, .scale = { s, s, s } },
	};
	const char *model_names[2] = { "416x416 yolox", "640x640 yolov8" };
	static bench_src b1080, b432;
	vp_frame f720;
	uint8_t *buf720 = NULL;
	int r = first_frame(argv[1], "cars-1080p.mp4", &b1080);
	if (r == 0)
		r = first_frame(argv[1], "cars-432p.mp4", &b432);
	if (r == 0)
		r = scaled(b1080.f, 1280, 720, &f720, &buf720);
	if (r < 0) {
		fprintf(stderr, "bench_preprocess: cannot get the input frames: %s\n", vp_strerror(r));
		goto out;
	}
	printf("| input | model input | threads | reference ms | fast ms | speed-up | max |diff| (0-255) |\n");
	printf("| --- | --- | --- | --- | --- | --- | --- |\n");
	const vp_frame *inputs[3] = { b1080.f, &f720, b432.f };
	const char *names[3] = { "cars-1080p", "cars-1080p scaled", "cars-432p" };
	for (int i = 0; i < 3 && r == 0; i++)
		for (int m = 0; m < 2 && r == 0; m++)
			for (int t = 1; t <= 2 && r == 0; t++)
				r = bench_case(names[i], inputs[i], &models[m], model_names[m], t);
	if (r < 0)
		fprintf(stderr, "bench_preprocess: %s\n", vp_strerror(r));
out:
	av_freep(&buf720);
	vp_frame_unref(&b1080.f);
	vp_frame_unref(&b432.f);
	dec_stream_free(&b1080.s);
	dec_stream_free(&b432.s);
	return r < 0;
}
