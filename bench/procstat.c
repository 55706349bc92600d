/* SPDX-License-Identifier: MIT */
/*
 * /proc sampling of the broker under test: CPU ticks (utime + stime) and VmRSS.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/procstat.h"

#define NS_PER_S 1000000000ull

int tb_proc_sample(pid_t pid, uint64_t *cpu_ns, uint64_t *rss_kb)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -ENOENT;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* The command name may hold spaces and parentheses: fields follow the last ')'. */
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -EIO;
	long hz = sysconf(_SC_CLK_TCK);
	*cpu_ns = (ut + st) * (NS_PER_S / (uint64_t)(hz > 0 ? hz : 100));
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -ENOENT;
	*rss_kb = 0;
	while (fgets(buf, sizeof(buf), f)) {
		if (strncmp(buf, "VmRSS:", 6) == 0) {
			*rss_kb = strtoull(buf + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return 0;
}
