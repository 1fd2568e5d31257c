/* Logging: one line per message, "LEVEL [component instance] text". The level
 * threshold and the journald prefix mode are the only process-wide log state. */
#ifndef VP_LOG_H
#define VP_LOG_H

enum vp_log_level { VP_LOG_ERROR = 0, VP_LOG_WARN, VP_LOG_INFO, VP_LOG_DEBUG };

void vp_log_set_level(enum vp_log_level level);
enum vp_log_level vp_log_get_level(void);
/* Under systemd: "<3>"-style priority prefixes, no timestamps (journald adds them). */
void vp_log_set_journal(int on);
/* Turns journal mode on when stderr is the stream systemd connected to the journal
 * (JOURNAL_STREAM="DEV:INODE" equals stderr's st_dev:st_ino), so output redirected
 * elsewhere keeps its timestamps. Returns 1 when turned on, 0 otherwise. */
int vp_log_auto_journal(void);
/* Parses "error|warn|info|debug"; returns -1 for anything else. */
int vp_log_parse_level(const char *s);

/* component: "decode", "sink", ...; instance: stream/sink id or NULL. */
void vp_log(enum vp_log_level level, const char *component, const char *instance,
            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define vp_err(c, i, ...)   vp_log(VP_LOG_ERROR, c, i, __VA_ARGS__)
#define vp_warn(c, i, ...)  vp_log(VP_LOG_WARN, c, i, __VA_ARGS__)
#define vp_info(c, i, ...)  vp_log(VP_LOG_INFO, c, i, __VA_ARGS__)
#define vp_debug(c, i, ...) \
	do { if (vp_log_get_level() >= VP_LOG_DEBUG) vp_log(VP_LOG_DEBUG, c, i, __VA_ARGS__); } while (0)

#endif
