/* Shared by the NVDEC GPU tests (gpu_nvdec.c, gpu_nvdec_streams.c): stream configs,
 * libavcodec frame counts, device frames copied back to the host (in tests only), PSNR,
 * generated clips and the cmocka group setup. Only with VP_HAVE_CUDA. */
#ifndef GPU_NVDEC_UTIL_H
#define GPU_NVDEC_UTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "decode/source.h"
#include "kernels/cuda_util.h"
#include "pipeline/vp_err.h"

static char videos[512];
static char tmpdir[256];

static inline void make_cfg(pipe_source_cfg *c, const char *uri, enum pipe_decoder dec)
{
	memset(c, 0, sizeof(*c));
	c->id = "gpu";
	c->uri = (char *)uri;
	c->decoder = dec;
	c->device_frames_ok = true;
	c->interval = 1;
	c->queue.depth = 8;
	c->queue.policy = PIPE_QP_BLOCK;
	c->reconnect_initial_ms = 200;
	c->reconnect_max_ms = 1000;
	c->rtsp_timeout_ms = 2000;
	c->nvdec_in_flight = 2;
	c->is_file = 1;
}

/* Frames libavcodec decodes from the first video stream of path, counted in-process as
 * `ffprobe -count_frames` counts them (the GPU machines have no ffprobe). */
static inline int lavc_frames(const char *path)
{
	AVFormatContext *fmt = NULL;
	assert_int_equal(avformat_open_input(&fmt, path, NULL, NULL), 0);
	assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
	int si = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	assert_true(si >= 0);
	const AVCodec *codec = avcodec_find_decoder(fmt->streams[si]->codecpar->codec_id);
	assert_non_null(codec);
	AVCodecContext *cc = avcodec_alloc_context3(codec);
	assert_non_null(cc);
	assert_int_equal(avcodec_parameters_to_context(cc, fmt->streams[si]->codecpar), 0);
	cc->thread_count = 0;
	assert_int_equal(avcodec_open2(cc, codec, NULL), 0);
	AVPacket *pkt = av_packet_alloc();
	AVFrame *fr = av_frame_alloc();
	assert_true(pkt && fr);
	int n = 0, eof = 0;
	while (!eof) {
		int r = av_read_frame(fmt, pkt);
		if (r < 0)
			eof = 1;
		else if (pkt->stream_index != si) {
			av_packet_unref(pkt);
			continue;
		}
		avcodec_send_packet(cc, eof ? NULL : pkt);  /* a damaged packet is the decoder's loss */
		av_packet_unref(pkt);
		while (avcodec_receive_frame(cc, fr) == 0) {
			n++;
			av_frame_unref(fr);
		}
	}
	av_frame_free(&fr);
	av_packet_free(&pkt);
	avcodec_free_context(&cc);
	avformat_close_input(&fmt);
	return n;
}

/* Host copy of a frame's planes as 8-bit-unit floats: Y (w x h), U and V (cw x ch). */
typedef struct host_pic {
	int w, h;
	float *plane[3];
} host_pic;

static inline void pic_alloc(host_pic *p, int w, int h)
{
	p->w = w;
	p->h = h;
	size_t cn = (size_t)((w + 1) / 2) * ((h + 1) / 2);
	p->plane[0] = malloc(sizeof(float) * (size_t)w * h);
	p->plane[1] = malloc(sizeof(float) * cn);
	p->plane[2] = malloc(sizeof(float) * cn);
	assert_true(p->plane[0] && p->plane[1] && p->plane[2]);
}

static inline void pic_free(host_pic *p)
{
	for (int i = 0; i < 3; i++)
		free(p->plane[i]);
}

static inline float sample(const uint8_t *row, int i, int bps, float unit)
{
	return bps == 2 ? (float)((const uint16_t *)(const void *)row)[i] * unit : (float)row[i];
}

/* Reads a host (planar) or device (semi-planar) frame into p. */
static inline void pic_read(host_pic *p, const vp_frame *f)
{
	pic_alloc(p, f->width, f->height);
	int w = f->width, h = f->height, cw = (w + 1) / 2, ch = (h + 1) / 2;
	int bps = f->fmt == VP_PIX_P016 || f->fmt == VP_PIX_YUV420P10 ? 2 : 1;
	float unit = f->fmt == VP_PIX_P016 ? 1.0f / 256.0f : 0.25f;
	const uint8_t *y = f->data[0], *c1 = f->data[1], *c2 = f->data[2];
	int ly = f->linesize[0], l1 = f->linesize[1], l2 = f->linesize[2];
	uint8_t *buf = NULL;
	if (f->mem == VP_MEM_DEVICE) {
		/* Test only: the pipeline never brings device frames back to the host. */
		ly = w * bps;
		l1 = 2 * cw * bps;
		buf = malloc((size_t)ly * h + (size_t)l1 * ch);
		assert_non_null(buf);
		assert_int_equal(KRN_CUDA_CHECK(cudaMemcpy2D(buf, (size_t)ly, f->data[0],
		                 (size_t)f->linesize[0], (size_t)ly, (size_t)h, cudaMemcpyDeviceToHost)), 0);
		assert_int_equal(KRN_CUDA_CHECK(cudaMemcpy2D(buf + (size_t)ly * h, (size_t)l1, f->data[1],
		                 (size_t)f->linesize[1], (size_t)l1, (size_t)ch, cudaMemcpyDeviceToHost)), 0);
		y = buf;
		c1 = buf + (size_t)ly * h;
	}
	for (int r = 0; r < h; r++)
		for (int x = 0; x < w; x++)
			p->plane[0][(size_t)r * w + x] = sample(y + (size_t)r * ly, x, bps, unit);
	for (int r = 0; r < ch; r++) {
		for (int x = 0; x < cw; x++) {
			size_t at = (size_t)r * cw + x;
			if (f->fmt == VP_PIX_NV12 || f->fmt == VP_PIX_P016) {
				p->plane[1][at] = sample(c1 + (size_t)r * l1, 2 * x, bps, unit);
				p->plane[2][at] = sample(c1 + (size_t)r * l1, 2 * x + 1, bps, unit);
			} else {
				p->plane[1][at] = sample(c1 + (size_t)r * l1, x, bps, unit);
				p->plane[2][at] = sample(c2 + (size_t)r * l2, x, bps, unit);
			}
		}
	}
	free(buf);
}

static inline double psnr(const host_pic *a, const host_pic *b)
{
	size_t n0 = (size_t)a->w * a->h, nc = (size_t)((a->w + 1) / 2) * ((a->h + 1) / 2);
	double se = 0;
	for (int k = 0; k < 3; k++) {
		size_t n = k ? nc : n0;
		for (size_t i = 0; i < n; i++) {
			double d = (double)a->plane[k][i] - b->plane[k][i];
			se += d * d;
		}
	}
	double mse = se / (double)(n0 + 2 * nc);
	return mse == 0 ? INFINITY : 10.0 * log10(255.0 * 255.0 / mse);
}

/* The clips the shared set lacks, encoded from a test pattern by ffmpeg: made here when
 * ffmpeg is installed, else taken from $VAPD_GPU_CLIPS (scripts/gpu-carry.sh makes them
 * there with `gpu_nvdec --make-clips DIR`, since the GPU machines have no ffmpeg). */
typedef struct gen_clip {
	const char *name, *size, *args;
} gen_clip;

static const gen_clip gen_clips[] = {
	{ "hevc-10bit.mkv", "352x288", "-c:v libx265 -pix_fmt yuv420p10le -x265-params log-level=error" },
	{ "h264-709-full.mkv", "320x240", "-c:v libx264 -pix_fmt yuvj420p -colorspace bt709" },
	{ "hevc-odd.mp4", "334x206", "-c:v libx265 -pix_fmt yuv420p -x265-params log-level=error" },
	{ "av1.mkv", "352x288", "-c:v libsvtav1 -preset 12" },
	{ "h264-10bit.mp4", "320x240", "-c:v libx264 -pix_fmt yuv420p10le" },
	/* Timestamps: MPEG-TS (1/90000, not starting at 0) with B-frames reordered, and AV1 with
	 * hidden alt-ref frames (libaom: lag-in-frames + auto-alt-ref) in IVF (1/10) and mkv. */
	{ "h264-bframes.ts", "320x240", "-c:v libx264 -bf 3 -g 12 -frames:v 30" },
	{ "hevc-bframes.ts", "320x240", "-c:v libx265 -x265-params log-level=error:bframes=4 "
	                                "-frames:v 30" },
	{ "av1-altref.ivf", "352x288", "-c:v libaom-av1 -cpu-used 8 -lag-in-frames 16 "
	                               "-auto-alt-ref 1 -frames:v 30" },
	{ "av1-altref.mkv", "352x288", "-c:v libaom-av1 -cpu-used 8 -lag-in-frames 16 "
	                               "-auto-alt-ref 1 -frames:v 30" },
};

static inline int encode_clip(const gen_clip *c, const char *out)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "ffmpeg -v error -y -f lavfi -i testsrc2=s=%s:r=10 -frames:v 12 %s "
	         "'%s' 2>/dev/null", c->size, c->args, out);
	return system(cmd) == 0 ? 0 : -1;
}

/* Path of generated clip `name` in out; *made says whether the caller should unlink it. */
static inline void make_clip(char *out, size_t n, const char *name, int *made)
{
	const gen_clip *c = NULL;
	for (size_t i = 0; i < sizeof(gen_clips) / sizeof(gen_clips[0]); i++)
		if (!strcmp(gen_clips[i].name, name))
			c = &gen_clips[i];
	assert_non_null(c);
	const char *dir = getenv("VAPD_GPU_CLIPS");
	if (dir && *dir) {
		assert_true((size_t)snprintf(out, n, "%s/%s", dir, name) < n);
		if (access(out, R_OK) == 0) {
			*made = 0;
			return;
		}
	}
	assert_true((size_t)snprintf(out, n, "%s/%s", tmpdir, name) < n);
	if (encode_clip(c, out) < 0)
		fail_msg("cannot make %s: ffmpeg with libx264/libx265/libsvtav1 is needed, or the clip "
		         "in $VAPD_GPU_CLIPS (scripts/gpu-carry.sh)", name);
	*made = 1;
}

/* gpu_nvdec --make-clips DIR: every generated clip into DIR (no GPU needed). */
static inline int make_all_clips(const char *dir)
{
	for (size_t i = 0; i < sizeof(gen_clips) / sizeof(gen_clips[0]); i++) {
		char out[1024];
		snprintf(out, sizeof(out), "%s/%s", dir, gen_clips[i].name);
		if (encode_clip(&gen_clips[i], out) < 0) {
			fprintf(stderr, "gpu_nvdec: ffmpeg could not make %s\n", out);
			return 1;
		}
	}
	return 0;
}

static inline int setup(void **state)
{
	(void)state;
	const char *shared = getenv("SHARED");
	snprintf(videos, sizeof(videos), "%s/data/videos", shared ? shared : "../shared");
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vapd-gpu-nvdec-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static inline int teardown(void **state)
{
	(void)state;
	rmdir(tmpdir);
	return 0;
}
#endif
