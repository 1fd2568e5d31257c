/* dec_stream: a source plus a decoder behind one state machine.
 *   files: connecting → running → ended (loop: running restarts at the first frame)
 *   live:  connecting → running → backoff → connecting … (exponential backoff with jitter)
 * Every transition is logged once with the stream id and the reason. */
#include "stream_priv.h"

#include <stdlib.h>
#include <string.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"

static const char *const state_names[] = { "connecting", "running", "backoff", "ended" };

const char *dec_state_name(int state)
{
	return state >= 0 && state <= DEC_ENDED ? state_names[state] : "unknown";
}

static void set_state(dec_stream *s, enum dec_state st, const char *why)
{
	pthread_mutex_lock(&s->lock);
	int old = s->stats.state;
	s->stats.state = st;
	if (st == DEC_CONNECTING && old == DEC_BACKOFF)
		s->stats.reconnects++;
	dec_stats stats = s->stats;
	pthread_mutex_unlock(&s->lock);
	if (old == (int)st)
		return;
	if (st == DEC_ENDED)
		vp_info("decode", s->cfg->id, "%s → ended: %s (%lld frames, %lld errors)",
		        state_names[old], why, (long long)stats.frames, (long long)stats.errors);
	else  /* a running source lost is worth an operator's attention; retries are not */
		vp_log(old == DEC_RUNNING && st == DEC_BACKOFF ? VP_LOG_WARN : VP_LOG_INFO, "decode",
		       s->cfg->id, "%s → %s: %s", state_names[old], state_names[st], why);
}

static void disconnect(dec_stream *s)
{
	pthread_mutex_lock(&s->lock);
	void *dec = s->dec;
	s->dec = NULL;
	pthread_mutex_unlock(&s->lock);
	if (dec)
		s->dec_ops->close(&dec);
	if (s->src)
		s->src_ops->close(&s->src);
	av_packet_unref(s->pkt);
	s->pkt_pending = 0;
	s->draining = 0;
	s->consecutive_demux_errors = 0;
}

/* Timestamps of a new connection continue after what was already handed out. */
static void start_pass(dec_stream *s, double offset)
{
	s->pts_offset = offset;
	/* A file's pts counts from its container start; a live stream's from its first frame
	 * (an RTSP start_time is only the first RTCP-synchronised timestamp). */
	s->start_ts = s->info.live ? AV_NOPTS_VALUE : s->info.start_ts;
	s->frames_this_pass = 0;
	s->frame_dur = s->info.frame_rate.num > 0 ? av_q2d(av_inv_q(s->info.frame_rate)) : 0.04;
}

/* *fatal: the failure will not go away by retrying (no decoder for this stream). */
static int connect_source(dec_stream *s, int *fatal)
{
	int r = s->src_ops->open(s->cfg, &s->io, &s->src, &s->info);
	if (r < 0)
		return r;
	if (!s->dec_ops && (r = dec_decoder_choose(s->cfg, s->info.par, &s->dec_ops)) < 0) {
		*fatal = 1;
		return r;
	}
	dec_decoder_args args = { .stream_id = s->cfg->id, .pool_size = s->pool_size,
	                          .low_delay = s->info.live,
	                          .nvdec_surfaces = s->cfg->nvdec_surfaces,
	                          .nvdec_in_flight = s->cfg->nvdec_in_flight,
	                          .gpu = s->cfg->gpu, .time_base = s->info.time_base };
	void *dec = NULL;
	r = s->dec_ops->open(s->info.par, &args, &dec);
	if (r < 0)
		return r;
	pthread_mutex_lock(&s->lock);
	s->dec = dec;
	/* An interrupt that came while connecting must still wake a blocked receive. */
	if (atomic_load(&s->io.stop))
		vp_frame_pool_close(s->dec_ops->pool(dec));
	pthread_mutex_unlock(&s->lock);
	double offset = 0;
	if (s->first_connect_ns) {
		/* Live reconnect: pts follows the time since the first connection, and never
		 * goes back even if the first connection ran ahead of the clock. */
		offset = (double)(vp_mono_ns() - s->first_connect_ns) / 1e9;
		if (s->next_index && offset < s->last_pts + s->frame_dur)
			offset = s->last_pts + s->frame_dur;
	} else {
		s->first_connect_ns = vp_mono_ns();
	}
	start_pass(s, offset);
	pthread_mutex_lock(&s->lock);
	/* A looped file never ends: no total to count towards. */
	s->stats.total_hint = s->cfg->loop ? 0 : s->info.total_frames;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int do_connect(dec_stream *s)
{
	s->io.why[0] = '\0';
	int fatal = 0;
	int r = connect_source(s, &fatal);
	if (r == 0) {
		const AVCodecParameters *par = s->info.par;
		char why[160];
		snprintf(why, sizeof(why), "%s %dx%d via %s", avcodec_get_name(par->codec_id), par->width,
		         par->height, s->dec_ops->name);
		set_state(s, DEC_RUNNING, why);
		return 0;
	}
	disconnect(s);
	if (r == VP_EOF)  /* interrupted */
		return r;
	if (fatal || !dec_uri_is_live(s->cfg)) {
		set_state(s, DEC_ENDED, s->io.why[0] ? s->io.why : vp_strerror(r));
		return r;
	}
	set_state(s, DEC_BACKOFF, s->io.why[0] ? s->io.why : vp_strerror(r));
	return 0;
}

/* Waits the current backoff with jitter (uniform in [delay/2, delay]) so that many
 * cameras behind one dead switch do not reconnect in lockstep. */
static int do_backoff(dec_stream *s)
{
	int delay = s->backoff_ms / 2 + (int)(rand_r(&s->rng) % (unsigned)(s->backoff_ms / 2 + 1));
	int r = dec_stream_sleep(s, delay);
	if (r < 0)
		return r;
	s->backoff_ms = s->backoff_ms > s->backoff_max_ms / 2 ? s->backoff_max_ms : s->backoff_ms * 2;
	char why[64];
	snprintf(why, sizeof(why), "retrying after %d ms", delay);
	set_state(s, DEC_CONNECTING, why);
	return 0;
}

/* The source ended: loop a file, end it, or back off and reconnect a live one. */
static int on_source_end(dec_stream *s, int err)
{
	if (s->info.live) {
		disconnect(s);
		set_state(s, DEC_BACKOFF, err == VP_EOF ? "stream ended by the peer" :
		                          s->io.why[0] ? s->io.why : vp_strerror(err));
		return 0;
	}
	if (err == VP_EOF && s->cfg->loop && s->frames_this_pass > 0 &&
	    s->src_ops->rewind(s->src) == 0) {
		s->dec_ops->flush(s->dec);
		s->draining = 0;
		av_packet_unref(s->pkt);
		s->pkt_pending = 0;
		start_pass(s, s->last_pts + s->frame_dur);
		vp_debug("decode", s->cfg->id, "looping %s at frame %lld", s->cfg->uri,
		         (long long)s->next_index);
		return 0;
	}
	disconnect(s);
	set_state(s, DEC_ENDED, err == VP_EOF ? "end of file" : vp_strerror(err));
	return err;
}

int dec_stream_read(dec_stream *s, vp_frame **ret_frame)
{
	for (;;) {
		if (atomic_load(&s->io.stop))
			return VP_EOF;
		int r = 0;
		switch (s->stats.state) {
		case DEC_CONNECTING: r = do_connect(s); break;
		case DEC_BACKOFF: r = do_backoff(s); break;
		case DEC_ENDED: return VP_EOF;
		case DEC_RUNNING:
			r = dec_stream_pull(s, ret_frame);
			/* Resumed file item: the frames before the checkpoint were published by the
			 * previous owner. Dropped before pacing, so they cost only their decoding. */
			if (r == 0 && (*ret_frame)->index < s->cfg->start_frame) {
				vp_frame_unref(ret_frame);
				break;
			}
			if (r == 0) {
				/* Only a connection that delivers resets the backoff: a peer that
				 * accepts and drops at once is still retried ever more slowly. */
				if (s->frames_this_pass == 1)
					s->backoff_ms = s->backoff_initial_ms;
				if (s->cfg->realtime && !s->info.live) {
					if ((r = dec_stream_pace(s, *ret_frame)) < 0) {
						vp_frame_unref(ret_frame);
						return r;
					}
					/* A paced frame "arrives" when released, as a camera's would. */
					(*ret_frame)->wall_us = dec_wall_us();
					(*ret_frame)->mono_ns = vp_mono_ns();
				}
				return 0;
			}
			if (atomic_load(&s->io.stop))
				return VP_EOF;
			r = on_source_end(s, r);
			break;
		}
		if (r < 0)
			return r;
	}
}

int dec_stream_open(const pipe_source_cfg *cfg, int stream_idx, int pool_size, dec_stream **ret)
{
	if (!cfg || !cfg->uri || pool_size <= 0)
		return -EINVAL;
	const dec_source_ops *ops = dec_source_find(cfg);
	if (!ops) {
		vp_err("decode", cfg->id, "no source handles %s", cfg->uri);
		return VP_EUNSUP;
	}
	dec_libav_log_init();
	dec_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&s->lock, NULL);
	s->cfg = cfg;
	s->stream_idx = stream_idx;
	s->pool_size = pool_size;
	s->src_ops = ops;
	s->stats.state = DEC_CONNECTING;
	s->backoff_initial_ms = cfg->reconnect_initial_ms > 0 ? cfg->reconnect_initial_ms : 500;
	s->backoff_max_ms = cfg->reconnect_max_ms > s->backoff_initial_ms ? cfg->reconnect_max_ms
	                                                                 : s->backoff_initial_ms;
	s->backoff_ms = s->backoff_initial_ms;
	s->rng = (unsigned)vp_mono_ns() ^ (unsigned)stream_idx * 2654435761u;
	s->pkt = av_packet_alloc();
	int r = s->pkt ? 0 : -ENOMEM;
	/* Files open now so a bad path fails start-up; live sources connect on their own
	 * thread in the first read. */
	if (r == 0 && !dec_uri_is_live(cfg))
		r = do_connect(s);
	if (r < 0) {
		dec_stream_free(&s);
		return r;
	}
	*ret = s;
	return 0;
}

void dec_stream_interrupt(dec_stream *s)
{
	pthread_mutex_lock(&s->lock);
	atomic_store(&s->io.stop, 1);
	if (s->dec)
		vp_frame_pool_close(s->dec_ops->pool(s->dec));
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

void dec_stream_get_stats(const dec_stream *s, dec_stats *ret)
{
	pthread_mutex_t *lock = (pthread_mutex_t *)&s->lock;
	pthread_mutex_lock(lock);
	*ret = s->stats;
	pthread_mutex_unlock(lock);
}

void dec_stream_free(dec_stream **ps)
{
	dec_stream *s = *ps;
	if (!s)
		return;
	*ps = NULL;
	disconnect(s);
	av_packet_free(&s->pkt);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
