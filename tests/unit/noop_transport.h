/* SPDX-License-Identifier: MIT */
/*
 * A transport that does nothing, for unit tests that drive workers by hand on
 * the test thread: nothing is written, closing only marks, no wake-ups.
 */
#ifndef TERN_TESTS_NOOP_TRANSPORT_H
#define TERN_TESTS_NOOP_TRANSPORT_H

#include <stdbool.h>

#include "broker/transport.h"

static void noop(void *tctx)
{
	(void)tctx;
}

static void noop_pause(void *tctx, bool paused)
{
	(void)tctx;
	(void)paused;
}

static const struct tern_transport_ops noop_ops = {
    .want_write = noop,
    .close = noop,
    .pause_input = noop_pause,
};

#endif
