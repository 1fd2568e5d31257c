/* Snapshot files: names that say what and when, writes a reader never sees half of, and
 * pruning by count and age within each stream's folder. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "snap_files.h"

/* Copies s into out (at most n - 1 bytes) keeping [A-Za-z0-9_.-]; '_' for the rest and
 * for a leading '.', so a name can neither climb folders nor hide. */
static void clean(char *out, size_t n, const char *s)
{
	size_t i = 0;
	for (; s && s[i] && i + 1 < n; i++) {
		char c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		         c == '-' || (c == '.' && i > 0);
		out[i] = ok ? c : '_';
	}
	out[i] = '\0';
	if (i == 0 && n > 1) {
		out[0] = '_';
		out[1] = '\0';
	}
}

void snap_name(char *out, const char *stream, const an_event *ev, const char *suffix)
{
	char st[64], nm[64], when[32] = "00000000T000000.000Z";
	time_t t = (time_t)(ev->wall_us / 1000000);
	struct tm tm;
	clean(st, sizeof(st), stream);
	if (ev->wall_us >= 0 && gmtime_r(&t, &tm))
		snprintf(when, sizeof(when), "%04d%02d%02dT%02d%02d%02d.%03dZ", (tm.tm_year + 1900) % 10000,
		         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		         (int)(ev->wall_us % 1000000 / 1000));
	if (ev->name && ev->name[0]) {
		clean(nm, sizeof(nm), ev->name);
		snprintf(out, VIEW_SNAP_NAME_MAX, "%s/%s-%s-%" PRId64 "-%s%s.jpg", st, when,
		         an_event_name(ev->kind), ev->track_id, nm, suffix);
	} else {
		snprintf(out, VIEW_SNAP_NAME_MAX, "%s/%s-%s-%" PRId64 "%s.jpg", st, when,
		         an_event_name(ev->kind), ev->track_id, suffix);
	}
}

int snap_mkdirs(const char *dir)
{
	char p[PATH_MAX];
	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return -errno;
	/* EEXIST also means a file of that name: not a folder to write into. */
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int write_all(int fd, const uint8_t *data, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

int snap_write(const char *dir, const char *rel, const uint8_t *data, size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	const char *slash = strrchr(rel, '/');
	int folder = slash ? (int)(slash - rel) : 0;
	if (snprintf(path, sizeof(path), "%s/%s", dir, rel) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/%.*s%s.%s.tmp", dir, folder, rel, folder ? "/" : "",
	             slash ? slash + 1 : rel) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ENOENT) {
		char sub[PATH_MAX];
		snprintf(sub, sizeof(sub), "%s/%.*s", dir, folder, rel);
		int r = snap_mkdirs(sub);
		if (r < 0)
			return r;
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	}
	if (fd < 0)
		return -errno;
	int r = write_all(fd, data, len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

typedef struct snap_file {
	char name[VIEW_SNAP_NAME_MAX];
	int64_t mtime_ns;
} snap_file;

static int older_first(const void *a, const void *b)
{
	const snap_file *x = a, *y = b;
	if (x->mtime_ns != y->mtime_ns)
		return x->mtime_ns < y->mtime_ns ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int is_jpg(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && n > 4 && strcmp(name + n - 4, ".jpg") == 0;
}

/* The *.jpg files of folder with their mtimes; *ret owned by the caller. */
static int list_jpgs(const char *folder, snap_file **ret, int *ret_n)
{
	DIR *d = opendir(folder);
	if (!d)
		return -errno;
	snap_file *v = NULL;
	int n = 0, cap = 0, r = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		if (!is_jpg(e->d_name) || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			snap_file *nv = realloc(v, sizeof(*v) * (size_t)(cap = cap ? 2 * cap : 64));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
		}
		snprintf(v[n].name, sizeof(v[n].name), "%s", e->d_name);
		v[n++].mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	}
	closedir(d);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int snap_prune(const char *dir, const char *rel, int keep, double keep_days)
{
	if (keep <= 0 && keep_days <= 0)
		return 0;
	char folder[PATH_MAX], path[PATH_MAX];
	const char *slash = strrchr(rel, '/');
	snprintf(folder, sizeof(folder), "%s/%.*s", dir, slash ? (int)(slash - rel) : 0, rel);
	snap_file *v = NULL;
	int n = 0, r = list_jpgs(folder, &v, &n);
	if (r < 0)
		return r;
	qsort(v, (size_t)n, sizeof(*v), older_first);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t cutoff = keep_days > 0 ? (int64_t)now.tv_sec * 1000000000 + now.tv_nsec -
	                                         (int64_t)(keep_days * 86400.0 * 1e9)
	                               : INT64_MIN;
	int deleted = 0;
	for (int i = 0; i < n; i++) {
		int over = keep > 0 && n - i > keep, old = v[i].mtime_ns < cutoff;
		if (!over && !old)
			break;  /* oldest first: the rest are newer and within the count */
		if (snprintf(path, sizeof(path), "%s/%s", folder, v[i].name) < (int)sizeof(path) &&
		    unlink(path) == 0)
			deleted++;
	}
	free(v);
	return deleted;
}
