/* Levelled logging to stderr. The level is the one mutable global the style
 * guide allows besides lwIP's internals (the log sink). Lines that concern a
 * flow carry "flow#N", its stable id, never a pointer. */
#ifndef T2S_LOG_H
#define T2S_LOG_H

#include "tun2socks/base/must_check.h"

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_level_current;

/* Parses "error|warn|info|debug"; returns 0 or -EINVAL. */
T2S_MUST_CHECK int log_level_parse(const char *s, enum log_level *out);
void log_set_level(enum log_level level);
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A second sink, part of the log sink: every line written (without its
 * time and level prefix) also goes to fn, on the thread that logged; fn
 * must not log. The control API's /logs stream (docs/design.md §20).
 * NULL removes it. */
typedef void (*log_tap_fn)(void *arg, enum log_level level, const char *msg);
void log_set_tap(log_tap_fn fn, void *arg);

#define log_enabled(l) ((l) <= log_level_current)
#define LOG_AT_(l, ...)                            \
	do {                                       \
		if (log_enabled(l))                \
			log_write(l, __VA_ARGS__); \
	} while (0)
#define log_error(...) LOG_AT_(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) LOG_AT_(LOG_WARN, __VA_ARGS__)
#define log_info(...) LOG_AT_(LOG_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT_(LOG_DEBUG, __VA_ARGS__)

#endif
