/* The source and decoder registries, the decoder choice, and the libav log bridge. */
#include "dec_priv.h"
#include "../pipeline/vp_time.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libavutil/log.h>
#include <libavutil/pixdesc.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"

static const dec_source_ops *const source_registry[] = {
	&dec_source_v4l2,
	&dec_source_lavf,
};

/* In preference order for decoder: auto. NVDEC is offered only in CUDA builds: without
 * the CUDA kernels nothing downstream could read its device frames. */
static const dec_decoder_ops *const decoder_registry[] = {
#ifdef VP_HAVE_CUDA
	&dec_decoder_nvdec,
#endif
	&dec_decoder_sw,
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const dec_source_ops *dec_source_find(const pipe_source_cfg *cfg)
{
	for (size_t i = 0; i < COUNT(source_registry); i++)
		if (source_registry[i]->match(cfg))
			return source_registry[i];
	return NULL;
}

static const dec_decoder_ops *find_kind(enum pipe_decoder kind)
{
	for (size_t i = 0; i < COUNT(decoder_registry); i++)
		if (decoder_registry[i]->kind == kind)
			return decoder_registry[i];
	return NULL;
}

/* Whether NVDEC can take this stream on CUDA device gpu; *why says why not. */
static const dec_decoder_ops *nvdec_usable(const AVCodecParameters *par, int gpu, const char **why)
{
	const dec_decoder_ops *nv = find_kind(PIPE_DEC_NVDEC);
	if (!nv) {
		*why = "this build has no NVDEC decoder";
		return NULL;
	}
	return nv->probe(par, gpu, why) == 0 ? nv : NULL;
}

int dec_decoder_choose(const pipe_source_cfg *cfg, const AVCodecParameters *par,
                       const dec_decoder_ops **ret)
{
	const char *why = "";
	const char *codec = avcodec_get_name(par->codec_id);
	if (cfg->decoder == PIPE_DEC_AUTO && cfg->gpu < 0) {
		why = "pipeline.device is cpu";
	} else if (cfg->decoder == PIPE_DEC_AUTO && !cfg->device_frames_ok) {
		why = "the frames' consumer needs host memory (no CUDA inference)";
	} else if (cfg->decoder != PIPE_DEC_SOFTWARE) {
		const dec_decoder_ops *nv = nvdec_usable(par, cfg->gpu, &why);
		if (nv) {
			*ret = nv;
			return 0;
		}
		if (cfg->decoder == PIPE_DEC_NVDEC) {
			vp_err("decode", cfg->id, "decoder: nvdec is not available for %s (%s): %s", cfg->uri,
			       codec, why);
			return VP_ENODEV;
		}
	}
	const dec_decoder_ops *sw = find_kind(PIPE_DEC_SOFTWARE);
	if (sw->probe(par, cfg->gpu, &why) < 0) {
		const char *fmt = av_get_pix_fmt_name(par->format);
		vp_err("decode", cfg->id, "cannot decode %s (%s video, %s): %s", cfg->uri, codec,
		       fmt ? fmt : "unknown pixel format", why);
		return VP_EUNSUP;
	}
	if (cfg->decoder == PIPE_DEC_AUTO)
		vp_info("decode", cfg->id, "decoder auto: software for %s, NVDEC not used: %s", codec, why);
	*ret = sw;
	return 0;
}

void dec_errsink_init(dec_errsink *e)
{
	e->magic = DEC_ERRSINK_MAGIC;
	pthread_mutex_init(&e->lock, NULL);
	e->count = 0;
	e->last[0] = '\0';
}

void dec_errsink_destroy(dec_errsink *e)
{
	e->magic = 0;
	pthread_mutex_destroy(&e->lock);
}

int dec_errsink_take(dec_errsink *e, char *msg, size_t n)
{
	pthread_mutex_lock(&e->lock);
	int count = e->count;
	e->count = 0;
	snprintf(msg, n, "%s", e->last);
	pthread_mutex_unlock(&e->lock);
	return count;
}

/* The decoder context's opaque, when it is one of ours (frame threads copy it). */
static dec_errsink *errsink_of(void *avcl)
{
	const AVClass *cls = avcl ? *(const AVClass **)avcl : NULL;
	if (!cls || cls != avcodec_get_class())
		return NULL;
	dec_errsink *e = ((AVCodecContext *)avcl)->opaque;
	return e && e->magic == DEC_ERRSINK_MAGIC ? e : NULL;
}

static void libav_log_cb(void *avcl, int level, const char *fmt, va_list vl)
{
	dec_errsink *e = level <= AV_LOG_ERROR ? errsink_of(avcl) : NULL;
	if (!e && (level > AV_LOG_WARNING || vp_log_get_level() < VP_LOG_DEBUG))
		return;
	char line[512];
	int print_prefix = 0;
	av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
	line[strcspn(line, "\n")] = '\0';
	if (e) {
		pthread_mutex_lock(&e->lock);
		e->count++;
		snprintf(e->last, sizeof(e->last), "%.159s", line);
		pthread_mutex_unlock(&e->lock);
	}
	vp_debug("libav", NULL, "%s", line);
}

static void libav_log_setup(void)
{
	av_log_set_callback(libav_log_cb);
}

void dec_libav_log_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, libav_log_setup);
}

int dec_uri_is_live(const pipe_source_cfg *cfg)
{
	return !cfg->is_file && strstr(cfg->uri, "://") && strncmp(cfg->uri, "file:", 5) != 0;
}

int64_t dec_wall_us(void) { return vp_wall_us(); }
