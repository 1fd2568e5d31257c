/* Shared by the NVDEC GPU tests (gpu_nvdec.c, gpu_nvdec_streams.c): stream configs,
 * ffprobe frame counts, device frames copied back to the host (in tests only), PSNR,
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

static inline int ffprobe_frames(const char *path)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "ffprobe -v error -select_streams v:0 -count_frames -show_entries "
	         "stream=nb_read_frames -of csv=p=0 '%s'", path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	int n = -1;
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
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

/* Encodes a short test pattern into tmpdir with ffmpeg. */
static inline void make_clip(char *out, size_t n, const char *name, const char *size, const char *args)
{
	assert_true((size_t)snprintf(out, n, "%s/%s", tmpdir, name) < n);
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "ffmpeg -v error -y -f lavfi -i testsrc2=s=%s:r=10 -frames:v 12 %s "
	         "'%s' 2>/dev/null", size, args, out);
	assert_int_equal(system(cmd), 0);
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
