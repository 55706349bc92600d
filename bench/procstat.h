/* SPDX-License-Identifier: MIT */
/*
 * Another process's CPU time and resident memory, read from /proc: how tern-bench
 * reports the broker's cost (--broker-pid).
 */
#ifndef TB_PROCSTAT_H
#define TB_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

/*
 * tb_proc_sample - read a process's CPU time (utime + stime of /proc/PID/stat, in ns) and
 * VmRSS (kB, /proc/PID/status). Returns 0, -ENOENT when the process is gone, -EIO when
 * the stat line cannot be parsed. Thread-safe.
 */
int tb_proc_sample(pid_t pid, uint64_t *cpu_ns, uint64_t *rss_kb);

#endif
