#include "vp_log.h"
#include "vp_err.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The log sink is the one piece of process-wide mutable state besides the registries. */
static atomic_int g_level = VP_LOG_INFO;
static atomic_int g_journal;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const char *const journal_prio[] = { "<3>", "<4>", "<6>", "<7>" };

void vp_log_set_level(enum vp_log_level level) { atomic_store(&g_level, level); }
enum vp_log_level vp_log_get_level(void) { return atomic_load(&g_level); }
void vp_log_set_journal(int on) { atomic_store(&g_journal, on); }

int vp_log_auto_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	int end = 0;
	struct stat st;
	if (!js || sscanf(js, "%llu:%llu%n", &dev, &ino, &end) != 2 || js[end] != '\0' ||
	    fstat(2, &st) < 0)
		return 0;
	if ((unsigned long long)st.st_dev != dev || (unsigned long long)st.st_ino != ino)
		return 0;
	vp_log_set_journal(1);
	return 1;
}

int vp_log_parse_level(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (s && strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

void vp_log(enum vp_log_level level, const char *component, const char *instance,
            const char *fmt, ...)
{
	if ((int)level > atomic_load(&g_level))
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	char prefix[96];
	if (atomic_load(&g_journal)) {
		snprintf(prefix, sizeof(prefix), "%s", journal_prio[level]);
	} else {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		/* On a terminal the progress line may be showing: erase it first so the log
		 * line starts at column 0 (the next redraw brings the progress back). */
		snprintf(prefix, sizeof(prefix), "%s%02d:%02d:%02d.%03ld %-5s ",
		         isatty(STDERR_FILENO) ? "\r\033[K" : "", tm.tm_hour, tm.tm_min, tm.tm_sec,
		         ts.tv_nsec / 1000000, level_names[level]);
	}
	/* One fputs per line under a lock so lines from threads never interleave. */
	pthread_mutex_lock(&g_lock);
	if (instance)
		fprintf(stderr, "%s[%s %s] %s\n", prefix, component, instance, msg);
	else
		fprintf(stderr, "%s[%s] %s\n", prefix, component, msg);
	pthread_mutex_unlock(&g_lock);
}

const char *vp_strerror(int err)
{
	switch (err) {
	case VP_EOF: return "end of stream";
	case VP_ECONFIG: return "invalid configuration";
	case VP_EMODEL: return "invalid or unsupported model";
	case VP_EDECODE: return "undecodable input";
	case VP_EUNSUP: return "not supported";
	case VP_ENODEV: return "no usable GPU";
	case VP_ECLOSED: return "closed";
	default: return err < 0 ? strerror(-err) : "success";
	}
}
