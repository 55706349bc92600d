/* SPDX-License-Identifier: MIT */
/*
 * Batched sends over io_uring for the kernel-socket dataplane: the end of a
 * worker's turn queues one sendmsg per connection with output and hands them
 * all to the kernel with one system call instead of one each. A fan-out of one
 * message to N sockets is N sends, and a system call costs a lot more in a VM.
 */
#ifndef DP_SOCK_URING_H
#define DP_SOCK_URING_H

#include <stddef.h>
#include <sys/uio.h>

/* Sends per submission, and iovecs per send (a longer queue goes out by plain sendmsg). */
#define DP_SOCK_URING_BATCH 256
#define DP_SOCK_URING_IOV   8

struct dp_sock_uring;

/* Called once per completed send: ctx as queued, res the bytes sent or -errno. */
typedef void (*dp_sock_uring_done_fn)(void *arg, void *ctx, int res);

/*
 * dp_sock_uring_new - a ring of DP_SOCK_URING_BATCH entries for the calling
 * thread, which alone may use it. Returns NULL with errno set: ENOSYS (built
 * without liburing, or the kernel lacks io_uring), EPERM (io_uring disabled by
 * the kernel.io_uring_disabled sysctl or a seccomp policy), ENOMEM, or another
 * error of io_uring_setup. The caller then sends with sendmsg.
 */
struct dp_sock_uring *dp_sock_uring_new(void);

/* dp_sock_uring_free - release the ring. Accepts NULL. Owning thread. */
void dp_sock_uring_free(struct dp_sock_uring *u);

/*
 * dp_sock_uring_iov - the iovec array (DP_SOCK_URING_IOV entries) of the next
 * send to queue, or NULL when DP_SOCK_URING_BATCH sends are queued already
 * (submit first). The array stays valid until that submission completed.
 * Owning thread.
 */
struct iovec *dp_sock_uring_iov(struct dp_sock_uring *u);

/*
 * dp_sock_uring_queue - queue a non-blocking sendmsg (MSG_NOSIGNAL |
 * MSG_DONTWAIT) of the first iovcnt entries of the array dp_sock_uring_iov
 * just returned, on fd; ctx comes back with its result. Owning thread.
 */
void dp_sock_uring_queue(struct dp_sock_uring *u, int fd, size_t iovcnt, void *ctx);

/*
 * dp_sock_uring_submit - send everything queued with one system call, wait
 * until every send completed (non-blocking sends complete at once), and call
 * done for each, in completion order. Returns the number completed, or -errno
 * when the submission failed (done was called for the sends that went in; the
 * others were not sent): the ring is then unusable, free it and send by
 * sendmsg. -EIO: only some sends went in. The queue is empty again either way.
 * Owning thread.
 */
int dp_sock_uring_submit(struct dp_sock_uring *u, dp_sock_uring_done_fn done, void *arg);

#endif
