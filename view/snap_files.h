/* Snapshot files (snap_files.c): predictable names, whole-file writes, pruning. Used by
 * snapshot.c only. */
#ifndef VIEW_SNAP_FILES_H
#define VIEW_SNAP_FILES_H

#include <stdint.h>

#include "view.h"

/* "<stream>/<UTC yyyymmddTHHMMSS.mmmZ>-<event>-<track_id>[-<name>]<suffix>.jpg" into
 * out (VIEW_SNAP_NAME_MAX), the stream and name reduced to [A-Za-z0-9_.-] (other bytes
 * and a leading '.' become '_'). suffix: "" or "-crop". No allocation. */
void snap_name(char *out, const char *stream, const an_event *ev, const char *suffix);

/* Creates dir and its parents (like mkdir -p); 0, -ENOTDIR when a file has its name, or a
 * negative errno. The recorder makes its folders with it too. */
int snap_mkdirs(const char *dir);

/* Writes len bytes to dir/rel through ".<file>.tmp" in the same folder and a rename, so a
 * reader sees the whole file or none; creates the stream folder when missing. 0 or a
 * negative errno (not logged). */
int snap_write(const char *dir, const char *rel, const uint8_t *data, size_t len);

/* Deletes the oldest *.jpg files of dir/<stream folder of rel> beyond keep (0: no limit)
 * and those older than keep_days (0: no limit), oldest (mtime, then name) first. Returns
 * how many were deleted, or a negative errno. */
int snap_prune(const char *dir, const char *rel, int keep, double keep_days);

#endif
