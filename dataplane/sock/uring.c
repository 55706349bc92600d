/* SPDX-License-Identifier: MIT */
/*
 * Batched sends over io_uring (see uring.h). Built as stubs that report ENOSYS
 * when meson did not find liburing, so the worker needs no #ifdef.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "broker/alloc.h"
#include "dataplane/sock/uring.h"

#ifdef TERN_HAVE_LIBURING
#include <liburing.h>

struct dp_sock_uring {
	struct io_uring ring;
	unsigned queued;
	struct msghdr mh[DP_SOCK_URING_BATCH];
	struct iovec iov[DP_SOCK_URING_BATCH][DP_SOCK_URING_IOV];
};

struct dp_sock_uring *dp_sock_uring_new(void)
{
	struct dp_sock_uring *u = tern_calloc(1, sizeof(*u));
	struct io_uring_params p = {
	    /*
	     * One thread submits; completions are only reaped when it asks: no
	     * task-work interrupts of the worker between its own submissions.
	     */
	    .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
	};
	int r;

	if (!u)
		return NULL;
	r = io_uring_queue_init_params(DP_SOCK_URING_BATCH, &u->ring, &p);
	if (r == -EINVAL) {
		/* Kernels before 6.1 lack DEFER_TASKRUN: a plain ring does the same work. */
		memset(&p, 0, sizeof(p));
		r = io_uring_queue_init_params(DP_SOCK_URING_BATCH, &u->ring, &p);
	}
	if (r < 0) {
		tern_free(u);
		errno = -r;
		return NULL;
	}
	return u;
}

void dp_sock_uring_free(struct dp_sock_uring *u)
{
	if (!u)
		return;
	io_uring_queue_exit(&u->ring);
	tern_free(u);
}

struct iovec *dp_sock_uring_iov(struct dp_sock_uring *u)
{
	return u->queued < DP_SOCK_URING_BATCH ? u->iov[u->queued] : NULL;
}

void dp_sock_uring_queue(struct dp_sock_uring *u, int fd, size_t iovcnt, void *ctx)
{
	/* The ring has DP_SOCK_URING_BATCH entries and dp_sock_uring_iov bounds queued. */
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	struct msghdr *mh = &u->mh[u->queued];

	*mh = (struct msghdr){.msg_iov = u->iov[u->queued], .msg_iovlen = iovcnt};
	io_uring_prep_sendmsg(sqe, fd, mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	io_uring_sqe_set_data(sqe, ctx);
	u->queued++;
}

int dp_sock_uring_submit(struct dp_sock_uring *u, dp_sock_uring_done_fn done, void *arg)
{
	unsigned n = u->queued, seen = 0, sent;
	int r;

	if (n == 0)
		return 0;
	u->queued = 0;
	/* -EINTR: nothing was submitted (the kernel reports a partial submission as a count). */
	do {
		r = io_uring_submit_and_wait(&u->ring, n);
	} while (r == -EINTR);
	if (r < 0)
		return r;
	/* Every send that went in must be reaped: its bytes are on the wire. */
	sent = (unsigned)r;
	while (seen < sent) {
		struct io_uring_cqe *cqe;
		unsigned head, k = 0;

		io_uring_for_each_cqe(&u->ring, head, cqe)
		{
			done(arg, io_uring_cqe_get_data(cqe), cqe->res);
			k++;
		}
		io_uring_cq_advance(&u->ring, k);
		seen += k;
		if (seen < sent) {
			do {
				r = io_uring_wait_cqe_nr(&u->ring, &cqe, sent - seen);
			} while (r == -EINTR);
			if (r < 0)
				return r;
		}
	}
	return sent == n ? (int)n : -EIO;
}

#else

struct dp_sock_uring *dp_sock_uring_new(void)
{
	errno = ENOSYS;
	return NULL;
}

void dp_sock_uring_free(struct dp_sock_uring *u)
{
	(void)u;
}

struct iovec *dp_sock_uring_iov(struct dp_sock_uring *u)
{
	(void)u;
	return NULL;
}

void dp_sock_uring_queue(struct dp_sock_uring *u, int fd, size_t iovcnt, void *ctx)
{
	(void)u, (void)fd, (void)iovcnt, (void)ctx;
}

int dp_sock_uring_submit(struct dp_sock_uring *u, dp_sock_uring_done_fn done, void *arg)
{
	(void)u, (void)done, (void)arg;
	return -ENOSYS;
}

#endif
