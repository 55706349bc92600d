/* SPDX-License-Identifier: MIT */
/*
 * Logging to stderr with timestamps, mosquitto-like lines. Levels are a mask
 * (log_type in the config). Thread-safe: one write(2) per line.
 */
#ifndef TERN_LOG_H
#define TERN_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum tern_log_level {
	TERN_LOG_ERR = 1u << 0,
	TERN_LOG_WARNING = 1u << 1,
	TERN_LOG_NOTICE = 1u << 2,
	TERN_LOG_INFO = 1u << 3,
	TERN_LOG_DEBUG = 1u << 4,
};
#define TERN_LOG_ALL	 0x1fu
#define TERN_LOG_DEFAULT (TERN_LOG_ERR | TERN_LOG_WARNING | TERN_LOG_NOTICE | TERN_LOG_INFO)

/*
 * Set the mask of levels printed (bits outside TERN_LOG_ALL are ignored). The
 * mask is the one process-wide setting, kept in an atomic: safe while other
 * threads log.
 */
void tern_log_set_mask(unsigned mask);
/* The current mask. Thread-safe. */
unsigned tern_log_mask(void);

/*
 * Print one line "YYYY-MM-DDTHH:MM:SS.mmmZ tern[worker]: message" (UTC) to
 * stderr if level is enabled. Lines longer than 2047 bytes are cut and end in
 * "...". Thread-safe: one write(2) per line, so lines never interleave.
 */
void tern_log(enum tern_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Parse one log_type name (error, warning, notice, information, debug, all,
 * none) into its mask bits; -EINVAL if unknown (names are case-sensitive, as
 * in mosquitto). Thread-safe.
 */
int tern_log_type_parse(const char *name, unsigned *mask);

/*
 * A rate limiter for logs on paths an attacker can trigger: at most `burst`
 * lines per `interval_ms`, the rest counted and reported on the next allowed
 * line. Owned by one thread (e.g. one per worker).
 */
struct tern_log_ratelimit {
	uint64_t window_start_ms;
	unsigned interval_ms;
	unsigned burst;
	unsigned printed;
	uint64_t suppressed;
};

/* A limiter of `burst` lines per `interval_ms`, ready to use (a zeroed struct allows nothing). */
#define TERN_LOG_RATELIMIT_INIT(interval, nburst)                                                  \
	{                                                                                          \
		.window_start_ms = 0, .interval_ms = (interval), .burst = (nburst), .printed = 0,  \
		.suppressed = 0                                                                    \
	}

/*
 * True if a line may be printed now; *suppressed (may be NULL) then gets the
 * count dropped since the last allowed line, and 0 when false is returned.
 * A window starts at the first call at or after window_start_ms + interval_ms
 * (or when now_ms goes backwards). No errors. Not thread-safe: one owner thread.
 */
bool tern_log_ratelimit_allow(struct tern_log_ratelimit *rl, uint64_t now_ms, uint64_t *suppressed);

/* Milliseconds of CLOCK_MONOTONIC, the clock tern_log_ratelimit_allow expects. Thread-safe. */
uint64_t tern_log_now_ms(void);

/* Name shown in log lines for the calling thread (e.g. "w0"); copied, max 15 chars; NULL = "main".
 */
void tern_log_set_thread_name(const char *name);

#endif
