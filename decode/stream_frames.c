/* Pulling frames through a connected source and decoder: packet hand-off, error
 * accounting, timestamps and real-time pacing. */
#include "stream_priv.h"

#include <stdio.h>
#include <math.h>
#include <time.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"

/* A demuxer that keeps failing on the same damage would otherwise spin forever. */
#define MAX_CONSECUTIVE_DEMUX_ERRORS 32
/* A realtime stream that falls this far behind (slow consumer) restarts its clock
 * instead of bursting to catch up. */
#define PACE_MAX_LAG_NS 1000000000LL

void dec_stream_error(dec_stream *s, int count, const char *what)
{
	pthread_mutex_lock(&s->lock);
	int64_t n = s->stats.errors += count;
	pthread_mutex_unlock(&s->lock);
	if (count == 1)
		vp_warn("decode", s->cfg->id, "%s at frame %lld of %s (%lld errors so far)", what,
		        (long long)s->next_index, s->cfg->uri, (long long)n);
	else
		vp_warn("decode", s->cfg->id, "%d errors, the last: %s, at frame %lld of %s (%lld so far)",
		        count, what, (long long)s->next_index, s->cfg->uri, (long long)n);
}

/* Errors the codec only logged; returns how many. */
static int codec_errors(dec_stream *s)
{
	char msg[160];
	int n = s->dec_ops->take_errors(s->dec, msg, sizeof(msg));
	if (n > 0) {
		char what[200];
		snprintf(what, sizeof(what), "decoder: %s", msg);
		dec_stream_error(s, n, what);
	}
	return n;
}

/* Seconds from the stream's start for a frame with timestamp ts (source time base). */
static double frame_pts(dec_stream *s, int64_t ts)
{
	double expected = s->frames_this_pass ? s->last_pts + s->frame_dur : s->pts_offset;
	/* Raw elementary streams carry no timestamps: count frames at the stream's rate, as
	 * ffmpeg does when it muxes them. Live streams may lack one on their first frames. */
	if (ts == AV_NOPTS_VALUE)
		return expected;
	double tb = av_q2d(s->info.time_base);
	if (s->start_ts == AV_NOPTS_VALUE)  /* no container start: the first stamped frame is */
		s->start_ts = ts - (int64_t)llround((expected - s->pts_offset) / tb);
	double pts = s->pts_offset + (double)(ts - s->start_ts) * tb;
	/* A live peer's clock may jump back (restarted encoder, wrap): keep pts increasing. */
	if (s->info.live && s->frames_this_pass && pts <= s->last_pts)
		pts = expected;
	return pts;
}

static void stamp(dec_stream *s, vp_frame *f, int64_t ts)
{
	f->stream_idx = s->stream_idx;
	f->stream_id = s->cfg->id;
	f->index = s->next_index++;
	f->pts = frame_pts(s, ts);
	f->frame_dur = s->frame_dur;
	s->last_pts = f->pts;
	s->frames_this_pass++;
	f->wall_us = dec_wall_us();
	f->mono_ns = vp_mono_ns();
	pthread_mutex_lock(&s->lock);
	s->stats.frames++;
	pthread_mutex_unlock(&s->lock);
}

/* Feeds the decoder one packet (or the drain signal at the source's end). 0 to go on
 * receiving, or a fatal source error. */
static int feed(dec_stream *s)
{
	if (!s->pkt_pending) {
		if (s->draining)
			return VP_EOF;
		int r = s->src_ops->read(s->src, s->pkt);
		if (r == VP_EOF || (r == VP_EDECODE &&
		                    ++s->consecutive_demux_errors > MAX_CONSECUTIVE_DEMUX_ERRORS)) {
			if (atomic_load(&s->io.stop))
				return VP_EOF;
			s->draining = 1;
			/* Cannot be refused: receive ran dry before every feed. */
			s->dec_ops->send(s->dec, NULL);
			return 0;
		}
		if (r == VP_EDECODE) {
			dec_stream_error(s, 1, "demux error (damaged container data)");
			return 0;
		}
		if (r < 0)
			return r;
		s->consecutive_demux_errors = 0;
		if (s->pkt->flags & AV_PKT_FLAG_CORRUPT)
			dec_stream_error(s, 1, "corrupt packet from the demuxer");
	}
	int r = s->dec_ops->send(s->dec, s->pkt);
	s->pkt_pending = r == VP_EAGAIN;
	if (!s->pkt_pending)
		av_packet_unref(s->pkt);
	/* What the codec logged explains the refusal better than the return code. */
	if (codec_errors(s) == 0 && r == VP_EDECODE)
		dec_stream_error(s, 1, "decode error (packet dropped)");
	return 0;
}

int dec_stream_pull(dec_stream *s, vp_frame **ret)
{
	for (;;) {
		if (atomic_load(&s->io.stop))
			return VP_EOF;
		vp_frame *f = NULL;
		int64_t ts = AV_NOPTS_VALUE;
		int corrupt = 0;
		int r = s->dec_ops->receive(s->dec, &f, &ts, &corrupt);
		int logged = codec_errors(s);
		if (r == 0) {
			if (corrupt && !logged)
				dec_stream_error(s, 1, "decoded with concealed errors");
			stamp(s, f, ts);
			*ret = f;
			return 0;
		}
		if (r == VP_EOF || r == VP_ECLOSED)
			return VP_EOF;
		if (r == VP_EUNSUP)
			return r;
		if (r != VP_EAGAIN) {
			if (!logged)
				dec_stream_error(s, 1, "decode error");
			continue;
		}
		r = feed(s);
		if (r < 0)
			return r;
	}
}

/* Waits on the stream's monotonic condition until due_ns or an interrupt. */
static int wait_until(dec_stream *s, int64_t due_ns)
{
	struct timespec until = { due_ns / 1000000000, due_ns % 1000000000 };
	pthread_mutex_lock(&s->lock);
	int rc = 0;
	while (!atomic_load(&s->io.stop) && rc == 0)
		rc = pthread_cond_timedwait(&s->wake, &s->lock, &until);
	pthread_mutex_unlock(&s->lock);
	return atomic_load(&s->io.stop) ? VP_EOF : 0;
}

int dec_stream_sleep(dec_stream *s, int64_t ms)
{
	return wait_until(s, vp_mono_ns() + ms * 1000000);
}

int dec_stream_pace(dec_stream *s, const vp_frame *f)
{
	int64_t now = vp_mono_ns();
	int64_t due = s->pace_t0_ns + (int64_t)((f->pts - s->pace_pts0) * 1e9);
	/* First frame, or so far behind (a stall, a loop) that catching up would burst: restart the clock. */
	if (!s->paced || now - due > PACE_MAX_LAG_NS) {
		s->paced = 1;
		s->pace_t0_ns = now;
		s->pace_pts0 = f->pts;
		return 0;
	}
	return due <= now ? 0 : wait_until(s, due);
}
