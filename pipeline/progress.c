#include "progress.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* At most 4 redraws a second: enough to look live, cheap on a slow terminal. */
#define REDRAW_NS 250000000ull

struct pipe_progress {
	FILE *out;
	bool enabled, quiet, drawn;
	uint64_t start_ns, last_draw_ns;
};

int pipe_progress_new(const pipe_progress_opts *o, pipe_progress **ret)
{
	if (!o->out)
		return -EINVAL;
	pipe_progress *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	int tty = o->tty >= 0 ? o->tty : isatty(fileno(o->out));
	p->out = o->out;
	p->quiet = o->quiet;
	p->enabled = tty && o->all_files && !o->quiet;
	p->start_ns = o->start_ns;
	*ret = p;
	return 0;
}

void pipe_progress_free(pipe_progress **p)
{
	free(*p);
	*p = NULL;
}

bool pipe_progress_enabled(const pipe_progress *p) { return p->enabled; }

uint64_t pipe_progress_estimate_frames(int64_t nb_frames, double duration_s, double fps)
{
	if (nb_frames > 0)
		return (uint64_t)nb_frames;
	if (isfinite(duration_s) && isfinite(fps) && duration_s > 0 && fps > 0)
		return (uint64_t)llround(duration_s * fps);
	return 0;
}

static double elapsed_s(const pipe_progress *p, uint64_t now_ns)
{
	return now_ns > p->start_ns ? (double)(now_ns - p->start_ns) / 1e9 : 0;
}

static void fmt_duration(char *buf, size_t size, double s)
{
	unsigned long t = (unsigned long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, size, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, size, "%lu:%02lu", t / 60, t % 60);
}

/* Terminal width, so the line never wraps (a wrapped line cannot be overwritten). */
static int line_width(FILE *out)
{
	struct winsize ws;
	if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
		return ws.ws_col - 1;
	return 79;
}

static void format_line(const pipe_progress *p, const pipe_progress_snapshot *s, char *buf,
                        size_t size)
{
	uint64_t frames = 0, total = 0, dets = 0;
	bool known = s->n_streams > 0;
	for (int i = 0; i < s->n_streams; i++) {
		frames += s->streams[i].frames;
		total += s->streams[i].total_frames;
		dets += s->streams[i].detections;
		known = known && s->streams[i].total_frames > 0;
	}
	double t = elapsed_s(p, s->mono_ns), fps = t > 0 ? (double)frames / t : 0;
	int n = snprintf(buf, size, "%llu", (unsigned long long)frames);
	if (known) {
		/* Container estimates can fall short of the real count: never show > 100 %. */
		double pct = frames >= total ? 100.0 : 100.0 * (double)frames / (double)total;
		n += snprintf(buf + n, size - (size_t)n, "/%llu frames %5.1f%%",
		              (unsigned long long)total, pct);
	} else {
		n += snprintf(buf + n, size - (size_t)n, " frames");
	}
	n += snprintf(buf + n, size - (size_t)n, "  %.1f fps  %llu detections", fps,
	              (unsigned long long)dets);
	if (known && fps > 0 && frames < total) {
		char eta[32];
		fmt_duration(eta, sizeof(eta), (double)(total - frames) / fps);
		snprintf(buf + n, size - (size_t)n, "  ETA %s", eta);
	}
}

int pipe_progress_update(pipe_progress *p, const pipe_progress_snapshot *snap)
{
	if (!p->enabled)
		return 0;
	if (p->drawn && snap->mono_ns - p->last_draw_ns < REDRAW_NS)
		return 0;
	char line[256];
	format_line(p, snap, line, sizeof(line));
	int w = line_width(p->out);
	if ((int)strlen(line) > w)
		line[w] = '\0';
	/* \r back to column 0, then erase what a longer previous line left behind. */
	fprintf(p->out, "\r%s\033[K", line);
	fflush(p->out);
	p->drawn = true;
	p->last_draw_ns = snap->mono_ns;
	return 1;
}

static int id_width(const pipe_progress_snapshot *s)
{
	int w = 6;                    /* "stream" */
	for (int i = 0; i < s->n_streams; i++) {
		int n = s->streams[i].id ? (int)strlen(s->streams[i].id) : 0;
		w = n > w ? n : w;
	}
	return w > 32 ? 32 : w;
}

static void summary_row(FILE *out, int w, const char *id, uint64_t frames, uint64_t dets,
                        double fps, uint64_t errors)
{
	fprintf(out, "%-*.*s %10llu %11llu %9.1f %7llu\n", w, w, id, (unsigned long long)frames,
	        (unsigned long long)dets, fps, (unsigned long long)errors);
}

void pipe_progress_summary(pipe_progress *p, const pipe_progress_snapshot *s, FILE *out)
{
	if (p->drawn) {
		fputs("\r\033[K", p->out);
		fflush(p->out);
		p->drawn = false;
	}
	if (p->quiet)
		return;
	double t = elapsed_s(p, s->mono_ns);
	int w = id_width(s);
	uint64_t frames = 0, dets = 0, errors = 0;
	fprintf(out, "%-*s %10s %11s %9s %7s\n", w, "stream", "frames", "detections", "fps", "errors");
	for (int i = 0; i < s->n_streams; i++) {
		const pipe_progress_stream *st = &s->streams[i];
		summary_row(out, w, st->id ? st->id : "?", st->frames, st->detections,
		            t > 0 ? (double)st->frames / t : 0, st->errors);
		frames += st->frames;
		dets += st->detections;
		errors += st->errors;
	}
	if (s->n_streams > 1)
		summary_row(out, w, "total", frames, dets, t > 0 ? (double)frames / t : 0, errors);
	char dur[32];
	fmt_duration(dur, sizeof(dur), t);
	fprintf(out, "elapsed %s\n", dur);
	fflush(out);
}
