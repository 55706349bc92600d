/* SPDX-License-Identifier: MIT */
/*
 * Logging to stderr: each line is formatted in a stack buffer and written with
 * one write(2), so lines from different threads never interleave (a write of at
 * most PIPE_BUF bytes to a pipe is atomic; to a file or tty it is one syscall).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/log.h"

/* Longest line written; at most PIPE_BUF so a line to a pipe is one atomic write. */
#define LOG_LINE_MAX	2048
#define THREAD_NAME_MAX 16

/*
 * The one piece of global mutable state here: the mask is process-wide by
 * design (log_type in the config) and read on every tern_log() call, hence atomic.
 */
static _Atomic unsigned log_mask = TERN_LOG_DEFAULT;

/* Per thread, so no sharing: the name a worker gives itself at start. */
static __thread char thread_name[THREAD_NAME_MAX] = "main";

void tern_log_set_mask(unsigned mask)
{
	atomic_store_explicit(&log_mask, mask & TERN_LOG_ALL, memory_order_relaxed);
}

unsigned tern_log_mask(void)
{
	return atomic_load_explicit(&log_mask, memory_order_relaxed);
}

void tern_log_set_thread_name(const char *name)
{
	if (!name)
		name = "main";
	snprintf(thread_name, sizeof(thread_name), "%s", name);
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* nowhere left to report a failing stderr */
		}
		buf += n;
		len -= (size_t)n;
	}
}

void tern_log(enum tern_log_level level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	size_t len;
	int n;
	va_list ap;

	if (!(tern_log_mask() & (unsigned)level))
		return;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
		     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ tern[%s]: ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts.tv_nsec / 1000000, thread_name);
	if (n < 0)
		return;
	len = (size_t)n;

	va_start(ap, fmt);
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;

	/* Keep one byte for the newline; a truncated line is marked so nobody trusts its tail. */
	if (len + (size_t)n >= sizeof(line) - 1) {
		len = sizeof(line) - 1;
		memcpy(line + len - 3, "...", 3);
	} else {
		len += (size_t)n;
	}
	while (len > 0 && line[len - 1] == '\n')
		len--;
	line[len++] = '\n';
	write_all(STDERR_FILENO, line, len);
}

int tern_log_type_parse(const char *name, unsigned *mask)
{
	static const struct {
		const char *name;
		unsigned mask;
	} types[] = {
	    {"error", TERN_LOG_ERR},
	    {"warning", TERN_LOG_WARNING},
	    {"notice", TERN_LOG_NOTICE},
	    {"information", TERN_LOG_INFO},
	    {"debug", TERN_LOG_DEBUG},
	    {"all", TERN_LOG_ALL},
	    {"none", 0},
	};

	if (!name)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(name, types[i].name) == 0) {
			*mask = types[i].mask;
			return 0;
		}
	}
	return -EINVAL;
}

bool tern_log_ratelimit_allow(struct tern_log_ratelimit *rl, uint64_t now_ms, uint64_t *suppressed)
{
	/* A clock that went backwards also starts a new window rather than muting forever. */
	if (now_ms < rl->window_start_ms || now_ms - rl->window_start_ms >= rl->interval_ms) {
		rl->window_start_ms = now_ms;
		rl->printed = 0;
	}
	if (rl->printed < rl->burst) {
		rl->printed++;
		if (suppressed)
			*suppressed = rl->suppressed;
		rl->suppressed = 0;
		return true;
	}
	rl->suppressed++;
	if (suppressed)
		*suppressed = 0;
	return false;
}

uint64_t tern_log_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
