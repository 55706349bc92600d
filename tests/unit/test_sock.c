/* SPDX-License-Identifier: MIT */
/*
 * The kernel-socket dataplane against a fake engine: this file defines the
 * transport.h entry points as an echo server (input is queued back with
 * tern_outq_push_bytes; "CLOSE" answers "BYE\n" and closes), checks that every
 * call for a connection arrives on its worker's thread, exactly once where the
 * contract says so, and drives it with real TCP clients over 127.0.0.1 and ::1.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker/config.h"
#include "broker/outq.h"
#include "broker/sys.h"
#include "broker/transport.h"
#include "dataplane/sock/sock.h"

#define N_WORKERS 2
#define BIG_LEN	  (16u * 1024 * 1024)

/* ---- the fake engine ---- */

struct tern_conn {
	struct tern_worker *w;
	void *tctx;
	struct tern_outq q;
	char peer[64];
	bool closing;
	bool closed;
	size_t wrote;
	struct tern_conn *next; /* worker's live list, then the graveyard */
};

struct tern_worker {
	unsigned id;
	const struct tern_transport_ops *ops;
	void *dpw;
	pthread_t thread;
	bool running;
	struct tern_conn *conns; /* worker thread only */
	pthread_mutex_t lock;
	char inbox[32];	   /* under lock: broadcast to the worker's connections */
	int wakes_handled; /* atomic */
};

struct tern_broker {
	unsigned n;
	struct tern_worker w[N_WORKERS];
};

/* Counters the tests assert on; reset by setup(). All atomic. */
static struct {
	int starts, finishes, accepted, refused;
	int closed_peer, closed_local, double_close;
	int wrong_thread;      /* an entry point called off its worker's thread */
	int input_after_close; /* input on a connection after ops->close */
	int finish_with_conns; /* tern_worker_finish with live connections */
	int fail_start_id;     /* worker id whose tern_worker_start fails, -1 none */
	int refuse;	       /* tern_conn_accept returns NULL */
	int engine_errors;     /* the fake itself failed (cmocka asserts are main-thread only) */
} fk;

static struct tern_broker broker;
static pthread_mutex_t grave_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tern_conn *graveyard; /* closed connections, freed by teardown */
static pthread_mutex_t peer_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_peer[64];
static unsigned accepted_on[4];	   /* accepts per listener index, under peer_lock */
static struct dp_sock *running;	   /* stopped by teardown when a failed test left it running */
static struct rlimit saved_nofile; /* restored by teardown when rlim_cur is set */

#define INC(x) __atomic_add_fetch(&(x), 1, __ATOMIC_SEQ_CST)
#define GET(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)

static void check_thread(const struct tern_worker *w)
{
	if (!w->running || !pthread_equal(w->thread, pthread_self()))
		INC(fk.wrong_thread);
}

/* The fake engine has no $SYS: a dataplane's source of topics is accepted and unused. */
void tern_sys_set_source(struct tern_broker *b, tern_sys_source_fn fn, void *ctx)
{
	(void)b;
	(void)fn;
	(void)ctx;
}

unsigned tern_broker_worker_count(const struct tern_broker *b)
{
	return b->n;
}

struct tern_worker *tern_broker_worker(struct tern_broker *b, unsigned i)
{
	return &b->w[i];
}

int tern_worker_start(struct tern_worker *w, const struct tern_transport_ops *ops, void *dp_worker)
{
	if ((int)w->id == GET(fk.fail_start_id))
		return -EPERM;
	w->ops = ops;
	w->dpw = dp_worker;
	w->thread = pthread_self();
	w->running = true;
	INC(fk.starts);
	return 0;
}

int tern_worker_poll(struct tern_worker *w)
{
	char msg[32];

	check_thread(w);
	pthread_mutex_lock(&w->lock);
	memcpy(msg, w->inbox, sizeof(msg));
	w->inbox[0] = '\0';
	pthread_mutex_unlock(&w->lock);
	if (msg[0]) {
		for (struct tern_conn *c = w->conns; c; c = c->next) {
			if (c->closing)
				continue;
			if (tern_outq_push_bytes(&c->q, msg, strlen(msg)) != 0)
				INC(fk.engine_errors);
			w->ops->want_write(c->tctx);
		}
		INC(w->wakes_handled);
	}
	/* Long: a wake must cut the wait short. */
	return 1000;
}

void tern_worker_quiescent(struct tern_worker *w)
{
	check_thread(w);
}

bool tern_worker_has_work(const struct tern_worker *w)
{
	return false; /* the echo engine never holds input back */
}

void tern_worker_offline(struct tern_worker *w)
{
	check_thread(w);
}

void tern_worker_online(struct tern_worker *w)
{
	check_thread(w);
}

void tern_worker_finish(struct tern_worker *w)
{
	check_thread(w);
	if (w->conns)
		INC(fk.finish_with_conns);
	w->running = false;
	INC(fk.finishes);
}

struct tern_conn *tern_conn_accept(struct tern_worker *w, void *tctx, const char *peer,
				   unsigned listener)
{
	struct tern_conn *c;

	check_thread(w);
	pthread_mutex_lock(&peer_lock);
	snprintf(last_peer, sizeof(last_peer), "%s", peer);
	accepted_on[listener < 4 ? listener : 3]++;
	pthread_mutex_unlock(&peer_lock);
	if (GET(fk.refuse)) {
		INC(fk.refused);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		INC(fk.engine_errors);
		return NULL;
	}
	c->w = w;
	c->tctx = tctx;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	tern_outq_init(&c->q);
	c->next = w->conns;
	w->conns = c;
	INC(fk.accepted);
	return c;
}

int tern_conn_input(struct tern_conn *c, const uint8_t *data, size_t len)
{
	check_thread(c->w);
	if (c->closing || c->closed) {
		INC(fk.input_after_close);
		return -ECONNRESET;
	}
	if (len >= 5 && memcmp(data, "CLOSE", 5) == 0) {
		if (tern_outq_push_bytes(&c->q, "BYE\n", 4) != 0)
			INC(fk.engine_errors);
		c->w->ops->want_write(c->tctx);
		c->closing = true;
		c->w->ops->close(c->tctx);
		return -ECONNRESET;
	}
	if (tern_outq_push_bytes(&c->q, data, len) != 0)
		INC(fk.engine_errors);
	c->w->ops->want_write(c->tctx);
	return 0;
}

void tern_conn_closed(struct tern_conn *c, bool peer_closed)
{
	struct tern_conn **pp;

	check_thread(c->w);
	if (c->closed) {
		INC(fk.double_close);
		return;
	}
	c->closed = true;
	if (peer_closed)
		INC(fk.closed_peer);
	else
		INC(fk.closed_local);
	for (pp = &c->w->conns; *pp != c; pp = &(*pp)->next)
		;
	*pp = c->next;
	tern_outq_clear(&c->q);
	pthread_mutex_lock(&grave_lock);
	c->next = graveyard;
	graveyard = c;
	pthread_mutex_unlock(&grave_lock);
}

struct tern_outq *tern_conn_outq(struct tern_conn *c)
{
	check_thread(c->w);
	if (c->closed)
		INC(fk.double_close);
	return &c->q;
}

void tern_conn_wrote(struct tern_conn *c, size_t n)
{
	check_thread(c->w);
	c->wrote += n;
}

/* ---- helpers ---- */

static int setup(void **state)
{
	(void)state;
	memset(&fk, 0, sizeof(fk));
	memset(accepted_on, 0, sizeof(accepted_on));
	fk.fail_start_id = -1;
	memset(&broker, 0, sizeof(broker));
	broker.n = N_WORKERS;
	for (unsigned i = 0; i < N_WORKERS; i++) {
		broker.w[i].id = i;
		pthread_mutex_init(&broker.w[i].lock, NULL);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (saved_nofile.rlim_cur) {
		setrlimit(RLIMIT_NOFILE, &saved_nofile);
		saved_nofile.rlim_cur = 0;
	}
	if (running) {
		dp_sock_stop(running);
		running = NULL;
	}
	while (graveyard) {
		struct tern_conn *c = graveyard;

		graveyard = c->next;
		free(c);
	}
	return 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Wait up to 5 s for *counter to reach want. */
static bool wait_for(int *counter, int want)
{
	for (int i = 0; i < 500; i++) {
		if (GET(*counter) >= want)
			return true;
		sleep_ms(10);
	}
	return false;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Config sock_io_uring for the group of tests that runs: every test runs with and without. */
static bool use_uring;

static struct dp_sock *start_on(const char *const *addrs, unsigned n)
{
	struct tern_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.sock_io_uring = use_uring;
	for (unsigned i = 0; i < n; i++) {
		cfg.listeners[i].port =
		    0; /* the kernel picks; read back with dp_sock_listener_port */
		snprintf(cfg.listeners[i].addr, sizeof(cfg.listeners[i].addr), "%s", addrs[i]);
	}
	cfg.n_listeners = n;
	running = dp_sock_start(&broker, &cfg);
	return running;
}

static void stop(struct dp_sock *s)
{
	assert_ptr_equal(s, running);
	running = NULL;
	dp_sock_stop(s);
}

static int client(const char *addr, uint16_t port)
{
	struct timeval tv = {10, 0};
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
		len = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	/* Nothing in these tests may hang: every blocking call gives up after 10 s. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), 0);
	return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t r = send(fd, p, n, MSG_NOSIGNAL);

		assert_true(r > 0);
		p = (const uint8_t *)p + r;
		n -= (size_t)r;
	}
}

static void recv_exact(int fd, void *p, size_t n)
{
	while (n) {
		ssize_t r = recv(fd, p, n, 0);

		assert_true(r > 0);
		p = (uint8_t *)p + r;
		n -= (size_t)r;
	}
}

/* The next read is a clean end of stream (FIN), not a reset or a timeout. */
static void expect_eof(int fd)
{
	char b;
	ssize_t r = recv(fd, &b, 1, 0);

	if (r != 0)
		fail_msg("expected EOF, got %zd (%s)", r, r < 0 ? strerror(errno) : "data");
}

static void echo_roundtrip(int fd, const char *msg)
{
	char buf[256];
	size_t n = strlen(msg);

	send_all(fd, msg, n);
	recv_exact(fd, buf, n);
	assert_memory_equal(buf, msg, n);
}

static uint64_t total_stat(const struct dp_sock *s, size_t off)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < dp_sock_worker_count(s); i++) {
		struct dp_sock_stats st;

		assert_int_equal(dp_sock_stats(s, i, &st), 0);
		sum += *(const uint64_t *)((const uint8_t *)&st + off);
	}
	return sum;
}

#define STAT(s, field) total_stat(s, offsetof(struct dp_sock_stats, field))

static void assert_engine_contract(void)
{
	assert_int_equal(GET(fk.wrong_thread), 0);
	assert_int_equal(GET(fk.double_close), 0);
	assert_int_equal(GET(fk.input_after_close), 0);
	assert_int_equal(GET(fk.finish_with_conns), 0);
	assert_int_equal(GET(fk.engine_errors), 0);
}

/* ---- tests ---- */

static void test_echo_v4_v6(void **state)
{
	static const char *const addrs[] = {"127.0.0.1", "::1"};
	struct dp_sock *s;
	int fds[10];

	(void)state;
	s = start_on(addrs, 2);
	assert_non_null(s);
	assert_int_equal(GET(fk.starts), N_WORKERS);
	assert_int_equal(dp_sock_worker_count(s), N_WORKERS);
	assert_int_equal(dp_sock_listener_count(s), 2);
	assert_int_not_equal(dp_sock_listener_port(s, 0), 0);
	assert_int_not_equal(dp_sock_listener_port(s, 1), 0);
	assert_int_equal(dp_sock_listener_port(s, 2), 0);

	/* Enough clients that both workers very likely get some. */
	for (int i = 0; i < 10; i++) {
		char msg[32];

		fds[i] = i % 2 ? client("::1", dp_sock_listener_port(s, 1))
			       : client("127.0.0.1", dp_sock_listener_port(s, 0));
		snprintf(msg, sizeof(msg), "hello %d over %s", i, i % 2 ? "v6" : "v4");
		echo_roundtrip(fds[i], msg);
	}
	/* Interleaved traffic on the open connections. */
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 10; i++)
			echo_roundtrip(fds[i], "again");
	assert_int_equal(GET(fk.accepted), 10);
	assert_int_equal(STAT(s, accepted), 10);
	/* Each connection names the configured listener it came in on. */
	pthread_mutex_lock(&peer_lock);
	assert_int_equal(accepted_on[0], 5);
	assert_int_equal(accepted_on[1], 5);
	assert_int_equal(accepted_on[2] + accepted_on[3], 0);
	pthread_mutex_unlock(&peer_lock);
	assert_true(STAT(s, read_bytes) >= 10 * 5 * 3);
	/* The worker counts a write after the client may already have read it. */
	for (int i = 0; i < 500 && STAT(s, read_bytes) != STAT(s, written_bytes); i++)
		sleep_ms(10);
	assert_int_equal(STAT(s, read_bytes), STAT(s, written_bytes));

	for (int i = 0; i < 10; i++)
		close(fds[i]);
	assert_true(wait_for(&fk.closed_peer, 10));
	stop(s);
	assert_int_equal(GET(fk.closed_peer), 10);
	assert_int_equal(GET(fk.closed_local), 0);
	assert_int_equal(GET(fk.finishes), N_WORKERS);
	assert_engine_contract();
}

static void test_dual_stack_and_peer_names(void **state)
{
	static const char *const addrs[] = {""};
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char want[64];
	struct dp_sock *s;
	uint16_t port;
	int fd4, fd6;

	(void)state;
	s = start_on(addrs, 1);
	assert_non_null(s);
	port = dp_sock_listener_port(s, 0);

	/* One wildcard listener takes IPv4 (shown unmapped) and IPv6. */
	fd4 = client("127.0.0.1", port);
	echo_roundtrip(fd4, "four");
	assert_int_equal(getsockname(fd4, (struct sockaddr *)&ss, &len), 0);
	snprintf(want, sizeof(want), "127.0.0.1:%u",
		 (unsigned)ntohs(((struct sockaddr_in *)&ss)->sin_port));
	pthread_mutex_lock(&peer_lock);
	assert_string_equal(last_peer, want);
	pthread_mutex_unlock(&peer_lock);

	fd6 = client("::1", port);
	echo_roundtrip(fd6, "six");
	len = sizeof(ss);
	assert_int_equal(getsockname(fd6, (struct sockaddr *)&ss, &len), 0);
	snprintf(want, sizeof(want), "::1:%u",
		 (unsigned)ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	pthread_mutex_lock(&peer_lock);
	assert_string_equal(last_peer, want);
	pthread_mutex_unlock(&peer_lock);

	close(fd4);
	close(fd6);
	assert_true(wait_for(&fk.closed_peer, 2));
	stop(s);
	assert_engine_contract();
}

struct writer_arg {
	int fd;
	const uint8_t *data;
	size_t len;
};

static void *writer_main(void *arg)
{
	struct writer_arg *wa = arg;

	send_all(wa->fd, wa->data, wa->len);
	return NULL;
}

static void test_large_echo(void **state)
{
	static const char *const addrs[] = {"127.0.0.1"};
	uint8_t *out = malloc(BIG_LEN), *in = malloc(BIG_LEN);
	struct writer_arg wa;
	struct dp_sock *s;
	pthread_t th;

	(void)state;
	assert_non_null(out);
	assert_non_null(in);
	for (size_t i = 0; i < BIG_LEN; i++)
		out[i] = (uint8_t)(i * 2654435761u >> 13);
	s = start_on(addrs, 1);
	assert_non_null(s);
	wa.fd = client("127.0.0.1", dp_sock_listener_port(s, 0));
	/* A fixed small receive buffer: no autotuning may swallow the whole echo. */
	assert_int_equal(setsockopt(wa.fd, SOL_SOCKET, SO_RCVBUF, &(int){65536}, sizeof(int)), 0);
	wa.data = out;
	wa.len = BIG_LEN;
	assert_int_equal(pthread_create(&th, NULL, writer_main, &wa), 0);
	/*
	 * Read nothing until everything is sent: the echo (more than both socket
	 * buffers can hold) waits in the output queue, so the server must see
	 * EAGAIN and resume on EPOLLOUT.
	 */
	pthread_join(th, NULL);
	recv_exact(wa.fd, in, BIG_LEN);
	assert_memory_equal(in, out, BIG_LEN);
	assert_true(STAT(s, eagain) > 0);
	for (int i = 0; i < 500 && STAT(s, written_bytes) != BIG_LEN; i++)
		sleep_ms(10);
	assert_int_equal(STAT(s, written_bytes), BIG_LEN);
	assert_int_equal(STAT(s, read_bytes), BIG_LEN);
	/* Many packets per syscall: far fewer sendmsg calls than reads would need alone. */
	assert_true(STAT(s, writev_calls) < STAT(s, reads) + STAT(s, eagain) + 16);

	/* The connection still works after the backlog drained (EPOLLOUT disarmed). */
	echo_roundtrip(wa.fd, "after");
	close(wa.fd);
	assert_true(wait_for(&fk.closed_peer, 1));
	stop(s);
	assert_engine_contract();
	free(out);
	free(in);
}

static void test_server_close_sends_fin_after_data(void **state)
{
	static const char *const addrs[] = {"127.0.0.1", "::1"};
	struct dp_sock *s;
	char buf[4];

	(void)state;
	s = start_on(addrs, 2);
	assert_non_null(s);
	for (int i = 0; i < 4; i++) {
		int fd = client(i % 2 ? "::1" : "127.0.0.1", dp_sock_listener_port(s, i % 2));

		echo_roundtrip(fd, "ab");
		send_all(fd, "CLOSE", 5);
		if (i >= 2) {
			/* Input still unread at close time must not turn the FIN into a RST. */
			send(fd, "junk", 4, MSG_NOSIGNAL);
		}
		recv_exact(fd, buf, 4);
		assert_memory_equal(buf, "BYE\n", 4);
		expect_eof(fd);
		close(fd);
	}
	assert_true(wait_for(&fk.closed_local, 4));
	sleep_ms(50);
	assert_int_equal(GET(fk.closed_local), 4);
	assert_int_equal(GET(fk.closed_peer), 0);
	stop(s);
	assert_int_equal(GET(fk.closed_local), 4);
	assert_engine_contract();
}

static void test_peer_close_once(void **state)
{
	static const char *const addrs[] = {"127.0.0.1"};
	struct linger lg = {1, 0};
	struct dp_sock *s;
	uint16_t port;
	int fd;

	(void)state;
	s = start_on(addrs, 1);
	assert_non_null(s);
	port = dp_sock_listener_port(s, 0);

	/* Orderly close (FIN). */
	fd = client("127.0.0.1", port);
	echo_roundtrip(fd, "x");
	close(fd);
	assert_true(wait_for(&fk.closed_peer, 1));

	/* Abortive close (RST): ECONNRESET or EOF, reported once either way. */
	fd = client("127.0.0.1", port);
	echo_roundtrip(fd, "y");
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(fd);
	assert_true(wait_for(&fk.closed_peer, 2));

	/* Half close: the client stops sending but still reads. */
	fd = client("127.0.0.1", port);
	send_all(fd, "z", 1);
	shutdown(fd, SHUT_WR);
	assert_true(wait_for(&fk.closed_peer, 3));
	close(fd);

	sleep_ms(100);
	assert_int_equal(GET(fk.closed_peer), 3);
	assert_int_equal(GET(fk.closed_local), 0);
	assert_int_equal(STAT(s, closed), 3);
	stop(s);
	assert_int_equal(GET(fk.closed_peer), 3);
	assert_int_equal(GET(fk.closed_local), 0);
	assert_engine_contract();
}

static void test_wake_delivers(void **state)
{
	static const char *const addrs[] = {"127.0.0.1"};
	struct dp_sock *s;
	char buf[8];
	int fds[6];

	(void)state;
	s = start_on(addrs, 1);
	assert_non_null(s);
	for (int i = 0; i < 6; i++) {
		fds[i] = client("127.0.0.1", dp_sock_listener_port(s, 0));
		echo_roundtrip(fds[i], "hi");
	}
	/* Let both workers settle into their 1000 ms wait. */
	sleep_ms(100);
	for (int round = 1; round <= 3; round++) {
		uint64_t t0 = mono_ms();

		for (unsigned i = 0; i < N_WORKERS; i++) {
			struct tern_worker *w = &broker.w[i];

			pthread_mutex_lock(&w->lock);
			snprintf(w->inbox, sizeof(w->inbox), "INBOX%d\n", round);
			pthread_mutex_unlock(&w->lock);
			w->ops->wake(w->dpw);
		}
		for (unsigned i = 0; i < N_WORKERS; i++)
			assert_true(wait_for(&broker.w[i].wakes_handled, round));
		/* The engine's poll asked for 1000 ms: only the wake explains this. */
		assert_true(mono_ms() - t0 < 500);
		for (int i = 0; i < 6; i++) {
			char want[8];

			snprintf(want, sizeof(want), "INBOX%d\n", round);
			recv_exact(fds[i], buf, 7);
			assert_memory_equal(buf, want, 7);
		}
	}
	for (int i = 0; i < 6; i++)
		close(fds[i]);
	assert_true(wait_for(&fk.closed_peer, 6));
	stop(s);
	assert_engine_contract();
}

static void test_port_in_use(void **state)
{
	static const char *const addrs[] = {"127.0.0.1"};
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct tern_config cfg;
	socklen_t len = sizeof(sin);
	int fds_before, holder;
	struct dp_sock *s;

	(void)state;
	holder = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(holder >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(holder, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(holder, 1), 0);
	assert_int_equal(getsockname(holder, (struct sockaddr *)&sin, &len), 0);

	fds_before = count_fds();
	memset(&cfg, 0, sizeof(cfg));
	/* A free port first: its sockets must be closed again when the second fails. */
	cfg.listeners[0].port = 0;
	snprintf(cfg.listeners[0].addr, sizeof(cfg.listeners[0].addr), "127.0.0.1");
	cfg.listeners[1].port = ntohs(sin.sin_port);
	snprintf(cfg.listeners[1].addr, sizeof(cfg.listeners[1].addr), "127.0.0.1");
	cfg.n_listeners = 2;
	errno = 0;
	s = running = dp_sock_start(&broker, &cfg);
	assert_null(s);
	assert_int_equal(errno, EADDRINUSE);
	assert_int_equal(GET(fk.starts), 0);
	assert_int_equal(count_fds(), fds_before);

	/*
	 * A holder that shares with SO_REUSEPORT, as a second tern would: joining
	 * it silently would split the clients between two brokers.
	 */
	close(holder);
	holder = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(holder >= 0);
	assert_int_equal(setsockopt(holder, SOL_SOCKET, SO_REUSEPORT, &(int){1}, sizeof(int)), 0);
	assert_int_equal(bind(holder, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(holder, 1), 0);
	errno = 0;
	s = running = dp_sock_start(&broker, &cfg);
	assert_null(s);
	assert_int_equal(errno, EADDRINUSE);
	assert_int_equal(count_fds(), fds_before + 0);

	/* An address this host does not have (benchmarking range; nothing is sent). */
	s = start_on((const char *const[]){"198.18.0.1"}, 1);
	assert_null(s);
	assert_int_equal(errno, EADDRNOTAVAIL);
	assert_int_equal(count_fds(), fds_before);
	close(holder);

	/* Nothing was left behind: a normal start still works. */
	s = start_on(addrs, 1);
	assert_non_null(s);
	stop(s);
	assert_int_equal(count_fds(), fds_before - 1);
	assert_engine_contract();
}

static void test_worker_start_failure(void **state)
{
	static const char *const addrs[] = {"127.0.0.1"};
	struct dp_sock *s;
	int fds_before = count_fds();

	(void)state;
	fk.fail_start_id = 1;
	errno = 0;
	s = start_on(addrs, 1);
	assert_null(s);
	assert_int_equal(errno, EPERM);
	/* The worker that did start was stopped properly. */
	assert_int_equal(GET(fk.starts), 1);
	assert_int_equal(GET(fk.finishes), 1);
	assert_int_equal(count_fds(), fds_before);
	assert_engine_contract();
}

static void test_refused_connection(void **state)
{
	static const char *const addrs[] = {"127.0.0.1"};
	struct dp_sock *s;
	int fd;

	(void)state;
	s = start_on(addrs, 1);
	assert_non_null(s);
	__atomic_store_n(&fk.refuse, 1, __ATOMIC_SEQ_CST);
	fd = client("127.0.0.1", dp_sock_listener_port(s, 0));
	expect_eof(fd);
	close(fd);
	assert_int_equal(GET(fk.refused), 1);
	assert_int_equal(STAT(s, accepted), 0);
	stop(s);
	assert_int_equal(GET(fk.closed_peer) + GET(fk.closed_local), 0);
	assert_engine_contract();
}

static void test_accept_emfile_pauses(void **state)
{
	static const char *const addrs[] = {"127.0.0.1"};
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct rlimit old, low;
	struct dp_sock *s;
	uint64_t errs;
	int fds[6];

	(void)state;
	s = start_on(addrs, 1);
	assert_non_null(s);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(dp_sock_listener_port(s, 0));
	for (int i = 0; i < 6; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fds[i] >= 0);
	}
	/* No descriptor left for accept4: EMFILE while the kernel queues the connections. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	saved_nofile = old;
	low = old;
	/* The limit is on descriptor numbers: below the lowest free one, none can be made. */
	low.rlim_cur = (rlim_t)dup(0);
	close((int)low.rlim_cur);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(connect(fds[i], (struct sockaddr *)&sin, sizeof(sin)), 0);
	for (int i = 0; i < 500 && STAT(s, accept_errors) == 0; i++)
		sleep_ms(10);
	sleep_ms(300);
	errs = STAT(s, accept_errors);
	/* Paused ~100 ms after each failure instead of spinning on it. */
	assert_true(errs > 0);
	assert_true(errs < 40);
	assert_int_equal(GET(fk.accepted), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	saved_nofile.rlim_cur = 0;

	/* Accepting resumes by itself. */
	assert_true(wait_for(&fk.accepted, 6));
	for (int i = 0; i < 6; i++) {
		struct timeval tv = {10, 0};

		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		echo_roundtrip(fds[i], "resumed");
		close(fds[i]);
	}
	assert_true(wait_for(&fk.closed_peer, 6));
	stop(s);
	assert_engine_contract();
}

static void test_stop_closes_everything(void **state)
{
	static const char *const addrs[] = {"127.0.0.1", "::1"};
	struct dp_sock *s;
	int fds[12];

	(void)state;
	s = start_on(addrs, 2);
	assert_non_null(s);
	for (int i = 0; i < 12; i++) {
		fds[i] = client(i % 2 ? "::1" : "127.0.0.1", dp_sock_listener_port(s, i % 2));
		echo_roundtrip(fds[i], "open");
	}
	/* One peer is already gone when the stop comes. */
	close(fds[0]);
	assert_true(wait_for(&fk.closed_peer, 1));
	/* Bytes echoed just before the stop arrive before the FIN. */
	send_all(fds[1], "tail", 4);
	sleep_ms(50);
	stop(s);
	assert_int_equal(GET(fk.accepted), 12);
	assert_int_equal(GET(fk.closed_peer) + GET(fk.closed_local), 12);
	assert_int_equal(GET(fk.closed_local), 11);
	assert_int_equal(GET(fk.finishes), N_WORKERS);
	for (int i = 1; i < 12; i++) {
		if (i == 1) {
			char buf[4];

			recv_exact(fds[i], buf, 4);
			assert_memory_equal(buf, "tail", 4);
		}
		expect_eof(fds[i]);
		close(fds[i]);
	}
	assert_engine_contract();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_echo_v4_v6, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dual_stack_and_peer_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_echo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_close_sends_fin_after_data, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_peer_close_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wake_delivers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_port_in_use, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_worker_start_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_connection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_accept_emfile_pauses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_closes_everything, setup, teardown),
	};

	int failed = cmocka_run_group_tests_name("sendmsg", tests, NULL, NULL);

	use_uring = true;
	return failed + cmocka_run_group_tests_name("io_uring", tests, NULL, NULL);
}
