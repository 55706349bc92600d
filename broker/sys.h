/* SPDX-License-Identifier: MIT */
/* $SYS topics: broker statistics published as retained messages every sys_interval. */
#ifndef TERN_SYS_H
#define TERN_SYS_H

struct tern_worker;

/* Publish the $SYS tree now (sums every worker's counters). Worker 0's thread. */
void tern_sys_publish(struct tern_worker *w);

#endif
