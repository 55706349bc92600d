/* SPDX-License-Identifier: MIT */
/*
 * dataplane/sock/uring: batched non-blocking sends over io_uring on socket
 * pairs: bytes and order, one completion per send with its context, a full
 * socket answers -EAGAIN, a closed peer -EPIPE (no SIGPIPE), and the batch
 * bound. Built without liburing, the module must refuse with ENOSYS.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "dataplane/sock/uring.h"

#define NPAIRS 4

struct done_log {
	unsigned n;
	void *ctx[2 * DP_SOCK_URING_BATCH];
	int res[2 * DP_SOCK_URING_BATCH];
};

static void log_done(void *arg, void *ctx, int res)
{
	struct done_log *l = arg;

	assert_true(l->n < 2 * DP_SOCK_URING_BATCH);
	l->ctx[l->n] = ctx;
	l->res[l->n] = res;
	l->n++;
}

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
}

#ifdef TERN_HAVE_LIBURING

static void test_sends_many_sockets(void **state)
{
	struct dp_sock_uring *u = dp_sock_uring_new();
	static struct done_log l;
	int sv[NPAIRS][2];
	char buf[64];

	(void)state;
	assert_non_null(u);
	memset(&l, 0, sizeof(l));
	for (int i = 0; i < NPAIRS; i++) {
		struct iovec *iov = dp_sock_uring_iov(u);

		pair(sv[i]);
		assert_non_null(iov);
		iov[0] = (struct iovec){.iov_base = "head-", .iov_len = 5};
		iov[1] = (struct iovec){.iov_base = "tail", .iov_len = 4};
		dp_sock_uring_queue(u, sv[i][0], 2, &sv[i][0]);
	}
	assert_int_equal(dp_sock_uring_submit(u, log_done, &l), NPAIRS);
	assert_int_equal(l.n, NPAIRS);
	for (unsigned k = 0; k < l.n; k++) {
		bool known = false;

		assert_int_equal(l.res[k], 9);
		for (int i = 0; i < NPAIRS; i++)
			known |= l.ctx[k] == &sv[i][0];
		assert_true(known);
	}
	for (int i = 0; i < NPAIRS; i++) {
		assert_int_equal(read(sv[i][1], buf, sizeof(buf)), 9);
		assert_memory_equal(buf, "head-tail", 9);
		close(sv[i][0]);
		close(sv[i][1]);
	}
	/* An empty queue submits nothing. */
	assert_int_equal(dp_sock_uring_submit(u, log_done, &l), 0);
	assert_int_equal(l.n, NPAIRS);
	dp_sock_uring_free(u);
}

static void test_full_and_closed(void **state)
{
	struct dp_sock_uring *u = dp_sock_uring_new();
	static char fill[4096];
	static struct done_log l;
	int full[2], gone[2];
	struct iovec *iov;

	(void)state;
	assert_non_null(u);
	memset(&l, 0, sizeof(l));
	pair(full);
	pair(gone);
	while (write(full[0], fill, sizeof(fill)) > 0)
		;
	assert_int_equal(errno, EAGAIN);
	close(gone[1]);

	iov = dp_sock_uring_iov(u);
	iov[0] = (struct iovec){.iov_base = fill, .iov_len = sizeof(fill)};
	dp_sock_uring_queue(u, full[0], 1, &full[0]);
	iov = dp_sock_uring_iov(u);
	iov[0] = (struct iovec){.iov_base = fill, .iov_len = 1};
	dp_sock_uring_queue(u, gone[0], 1, &gone[0]);
	/* MSG_NOSIGNAL: a SIGPIPE here would kill the test. */
	assert_int_equal(dp_sock_uring_submit(u, log_done, &l), 2);
	assert_int_equal(l.n, 2);
	for (unsigned k = 0; k < 2; k++)
		assert_int_equal(l.res[k], l.ctx[k] == &full[0] ? -EAGAIN : -EPIPE);
	assert_true(l.ctx[0] != l.ctx[1]);
	close(full[0]);
	close(full[1]);
	close(gone[0]);
	dp_sock_uring_free(u);
}

static void test_batch_bound(void **state)
{
	struct dp_sock_uring *u = dp_sock_uring_new();
	static struct done_log l;
	char buf[2 * DP_SOCK_URING_BATCH];
	int sv[2];

	(void)state;
	assert_non_null(u);
	memset(&l, 0, sizeof(l));
	pair(sv);
	for (unsigned i = 0; i < DP_SOCK_URING_BATCH; i++) {
		struct iovec *iov = dp_sock_uring_iov(u);

		assert_non_null(iov);
		iov[0] = (struct iovec){.iov_base = &"ab"[i & 1], .iov_len = 1};
		dp_sock_uring_queue(u, sv[0], 1, NULL);
	}
	assert_null(dp_sock_uring_iov(u));
	assert_int_equal(dp_sock_uring_submit(u, log_done, &l), DP_SOCK_URING_BATCH);
	assert_non_null(dp_sock_uring_iov(u));
	assert_int_equal(l.n, DP_SOCK_URING_BATCH);
	/* One socket: the sends went out in the order they were queued. */
	assert_int_equal(read(sv[1], buf, sizeof(buf)), DP_SOCK_URING_BATCH);
	for (unsigned i = 0; i < DP_SOCK_URING_BATCH; i++)
		assert_int_equal(buf[i], (i & 1) ? 'b' : 'a');
	close(sv[0]);
	close(sv[1]);
	dp_sock_uring_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sends_many_sockets),
	    cmocka_unit_test(test_full_and_closed),
	    cmocka_unit_test(test_batch_bound),
	};

	dp_sock_uring_free(NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

static void test_refuses_without_liburing(void **state)
{
	(void)state;
	errno = 0;
	assert_null(dp_sock_uring_new());
	assert_int_equal(errno, ENOSYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refuses_without_liburing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
