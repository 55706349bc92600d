/* SPDX-License-Identifier: MIT */
/*
 * tern-loopback-floor: how soon can one core put one small message into N
 * loopback TCP sockets, and a second core read all N, with no broker at all?
 *
 * A sender thread wakes at a fixed rate (an absolute timer, as an idle broker
 * wakes for a PUBLISH) and writes one 64-byte record, stamped with the
 * scheduled time, to each of N connected sockets: by write(2) one at a time,
 * or by one io_uring submission of N sends. A reader thread on another CPU
 * waits in epoll and reads every socket, as tern-bench does. The figures are
 * the floor under any one-worker broker's fan-out latency on this kernel and
 * machine: the broker's own work only adds to them. See bench/notes-latency.md.
 *
 * usage: tern-loopback-floor [-n SOCKETS] [-r RATE] [-d SECONDS] [--uring]
 *                            [--sender-cpu N] [--reader-cpu N]
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef TERN_HAVE_LIBURING
#include <liburing.h>
#endif

#include "bench/hist.h"

#define RECORD 64

struct floor_run {
	unsigned int n;
	unsigned int rate;
	unsigned int seconds;
	bool uring;
	int sender_cpu;
	int reader_cpu;
	int *send_fd; /* the "broker" ends */
	int *recv_fd; /* the "subscriber" ends */
	atomic_bool sending;
	struct tb_hist woke;   /* scheduled time -> sender running */
	struct tb_hist queued; /* scheduled time -> each record handed to the kernel */
	struct tb_hist last;   /* scheduled time -> the round's last record handed over */
	struct tb_hist read;   /* scheduled time -> each record read by the reader */
	uint64_t rounds;
	uint64_t records_read;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
		fprintf(stderr, "tern-loopback-floor: cannot pin to CPU %d\n", cpu);
}

static void die(const char *what)
{
	fprintf(stderr, "tern-loopback-floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* N connected loopback pairs; the sending ends get TCP_NODELAY, as a broker's do. */
static void connect_pairs(struct floor_run *r)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int one = 1;
	int l = socket(AF_INET, SOCK_STREAM, 0);

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4096) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0)
		die("listener");
	for (unsigned int i = 0; i < r->n; i++) {
		r->recv_fd[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (r->recv_fd[i] < 0 ||
		    connect(r->recv_fd[i], (struct sockaddr *)&a, sizeof(a)) < 0)
			die("connect");
		r->send_fd[i] = accept(l, NULL, NULL);
		if (r->send_fd[i] < 0)
			die("accept");
		setsockopt(r->send_fd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	close(l);
}

static void *reader(void *arg)
{
	struct floor_run *r = arg;
	struct epoll_event ev[256];
	uint8_t buf[RECORD * 64];
	int ep = epoll_create1(0);

	pin(r->reader_cpu);
	if (ep < 0)
		die("epoll_create1");
	for (unsigned int i = 0; i < r->n; i++) {
		struct epoll_event e = {.events = EPOLLIN, .data.u32 = i};

		if (epoll_ctl(ep, EPOLL_CTL_ADD, r->recv_fd[i], &e) < 0)
			die("epoll_ctl");
	}
	for (;;) {
		bool more = atomic_load(&r->sending);
		int k = epoll_wait(ep, ev, 256, 100);

		for (int j = 0; j < k; j++) {
			/* Records are written whole and read whole: 64 B never splits on loopback.
			 */
			ssize_t got = read(r->recv_fd[ev[j].data.u32], buf, sizeof(buf));
			uint64_t now = now_ns();

			for (ssize_t off = 0; off + RECORD <= got; off += RECORD) {
				uint64_t due;

				memcpy(&due, buf + off, sizeof(due));
				tb_hist_record(&r->read, now - due);
				r->records_read++;
			}
		}
		if (k == 0 && !more)
			break; /* the sender had finished, and 100 ms brought nothing */
	}
	close(ep);
	return NULL;
}

static void send_round_write(struct floor_run *r, const uint8_t *rec, uint64_t due)
{
	for (unsigned int i = 0; i < r->n; i++) {
		if (write(r->send_fd[i], rec, RECORD) != RECORD)
			die("write");
		tb_hist_record(&r->queued, now_ns() - due);
	}
}

#ifdef TERN_HAVE_LIBURING
/* One submission of N sends; each is handed over when the submission returns. */
static void send_round_uring(struct floor_run *r, struct io_uring *ring, const uint8_t *rec,
			     uint64_t due)
{
	struct io_uring_cqe *cqe;
	uint64_t t;

	for (unsigned int i = 0; i < r->n; i++)
		io_uring_prep_send(io_uring_get_sqe(ring), r->send_fd[i], rec, RECORD, 0);
	if (io_uring_submit(ring) != (int)r->n)
		die("io_uring_submit");
	t = now_ns() - due;
	for (unsigned int i = 0; i < r->n; i++) {
		if (io_uring_wait_cqe(ring, &cqe) < 0 || cqe->res != RECORD)
			die("io_uring send");
		io_uring_cqe_seen(ring, cqe);
		tb_hist_record(&r->queued, t);
	}
}
#endif

static void sender(struct floor_run *r)
{
	uint64_t period = 1000000000u / r->rate;
	uint64_t due = now_ns() + 100000000u, end = due + (uint64_t)r->seconds * 1000000000u;
	uint8_t rec[RECORD] = {0};
#ifdef TERN_HAVE_LIBURING
	struct io_uring ring;

	if (r->uring && io_uring_queue_init(r->n, &ring, 0) < 0)
		die("io_uring_queue_init");
#endif
	pin(r->sender_cpu);
	for (; due < end; due += period) {
		struct timespec ts = {.tv_sec = (time_t)(due / 1000000000u),
				      .tv_nsec = (long)(due % 1000000000u)};

		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		tb_hist_record(&r->woke, now_ns() - due);
		memcpy(rec, &due, sizeof(due));
#ifdef TERN_HAVE_LIBURING
		if (r->uring)
			send_round_uring(r, &ring, rec, due);
		else
#endif
			send_round_write(r, rec, due);
		tb_hist_record(&r->last, now_ns() - due);
		r->rounds++;
	}
#ifdef TERN_HAVE_LIBURING
	if (r->uring)
		io_uring_queue_exit(&ring);
#endif
}

static void print_row(const char *name, const struct tb_hist *h)
{
	printf("%-42s %8.1f %8.1f %8.1f %8.1f %8.1f\n", name, tb_hist_percentile(h, 0.5) / 1e3,
	       tb_hist_percentile(h, 0.9) / 1e3, tb_hist_percentile(h, 0.99) / 1e3,
	       tb_hist_percentile(h, 0.999) / 1e3, (double)h->max / 1e3);
}

static void raise_fd_limit(rlim_t need)
{
	struct rlimit l;

	if (getrlimit(RLIMIT_NOFILE, &l) == 0 && l.rlim_cur < need) {
		l.rlim_cur = need < l.rlim_max ? need : l.rlim_max;
		setrlimit(RLIMIT_NOFILE, &l);
	}
}

static void usage(void)
{
	fputs("usage: tern-loopback-floor [-n SOCKETS] [-r RATE] [-d SECONDS] [--uring]\n"
	      "                           [--sender-cpu N] [--reader-cpu N]\n"
	      "at most 4096 sockets; defaults: 100 sockets, 1000 rounds/s, 5 s, write(2), no "
	      "pinning\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	static struct floor_run r = {
	    .n = 100, .rate = 1000, .seconds = 5, .sender_cpu = -1, .reader_cpu = -1};
	static const struct option opts[] = {{"sockets", required_argument, NULL, 'n'},
					     {"rate", required_argument, NULL, 'r'},
					     {"duration", required_argument, NULL, 'd'},
					     {"uring", no_argument, NULL, 'u'},
					     {"sender-cpu", required_argument, NULL, 's'},
					     {"reader-cpu", required_argument, NULL, 'c'},
					     {NULL, 0, NULL, 0}};
	pthread_t rt;
	int o;

	while ((o = getopt_long(argc, argv, "n:r:d:", opts, NULL)) != -1) {
		switch (o) {
		case 'n':
			r.n = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			r.rate = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			r.seconds = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'u':
			r.uring = true;
			break;
		case 's':
			r.sender_cpu = atoi(optarg);
			break;
		case 'c':
			r.reader_cpu = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || r.n == 0 || r.n > 4096 || r.rate == 0 || r.rate > 1000000 ||
	    r.seconds == 0)
		usage();
#ifndef TERN_HAVE_LIBURING
	if (r.uring) {
		fputs("tern-loopback-floor: built without liburing\n", stderr);
		return 2;
	}
#endif
	raise_fd_limit(2 * r.n + 16);
	r.send_fd = calloc(r.n, sizeof(int));
	r.recv_fd = calloc(r.n, sizeof(int));
	if (r.send_fd == NULL || r.recv_fd == NULL)
		die("calloc");
	tb_hist_reset(&r.woke);
	tb_hist_reset(&r.queued);
	tb_hist_reset(&r.last);
	tb_hist_reset(&r.read);
	connect_pairs(&r);
	atomic_store(&r.sending, true);
	if (pthread_create(&rt, NULL, reader, &r) != 0)
		die("pthread_create");
	sender(&r);
	atomic_store(&r.sending, false);
	pthread_join(rt, NULL);

	printf("%u sockets, %u rounds/s, %llu rounds, %s; %llu of %llu records read\n", r.n, r.rate,
	       (unsigned long long)r.rounds, r.uring ? "io_uring" : "write(2)",
	       (unsigned long long)r.records_read, (unsigned long long)r.rounds * r.n);
	printf("%-42s %8s %8s %8s %8s %8s\n", "µs after the scheduled time", "p50", "p90", "p99",
	       "p99.9", "max");
	print_row("sender awake", &r.woke);
	print_row("each record handed to the kernel", &r.queued);
	print_row("last record of the round handed over", &r.last);
	print_row("each record read by the reader", &r.read);
	return r.records_read == r.rounds * r.n ? 0 : 1;
}
