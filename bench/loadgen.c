/* SPDX-License-Identifier: MIT */
/*
 * tern-bench load engine.
 *
 * Design: connections are spread round-robin over T threads, each with its own epoll
 * loop, buffers and counters; threads share only one cache line per publisher (sent,
 * progress, QoS in-flight) and the run's phase. A loop turn reads every readable socket
 * (decoding all complete packets of each read), lets each publisher append as many
 * PUBLISHes as its rate, window and buffer allow, and then writes every connection's
 * pending output with one write() each, so many PUBLISHes and acks share a syscall.
 *
 * Every payload starts with the send time (taken once per batch, just before the
 * write), the publisher id and a per-publisher sequence number. Each subscriber keeps a
 * bench/seqwin window per publisher that tells new, duplicate and late (reordered)
 * receipts apart. Messages are assigned to a repetition by their send time, so publisher and
 * subscriber agree on which window a message belongs to without talking to each other.
 *
 * The in-flight window bounds deliveries not yet seen: a publisher sends while
 * sent * fanout - progress stays within its share of --window, where progress counts a
 * receipt of sequence s as covering everything up to s (a lost QoS 0 message therefore
 * does not block the window forever). If progress stalls for a second the publisher
 * sends one probe message, so a broker that drops everything cannot hang the run.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/hist.h"
#include "bench/loadgen.h"
#include "bench/mqtt_wire.h"
#include "bench/procstat.h"
#include "bench/seqwin.h"

#define NS_PER_S	   1000000000ull
#define MAX_EVENTS	   512
#define HANDSHAKES_PER_THR 256
#define PING_INTERVAL_NS   (15 * NS_PER_S)
#define POLL_NS		   (10 * 1000 * 1000ull) /* phase changes are seen within 10 ms */
#define CROSS_THREAD_NS	   (100 * 1000ull) /* window re-check when subscribers are elsewhere */
#define STALL_PROBE_NS	   NS_PER_S
/*
 * Rate mode: a publisher held up (the loop, the window, the socket) catches up
 * at most this much of its schedule at once; older slots are skipped. An
 * unbounded catch-up once sent a second of schedule in one burst, which then
 * showed as the published rate above -r and as queueing latency.
 */
#define CATCHUP_NS	    (NS_PER_S / 100) /* 10 ms */
#define READY_TIMEOUT_NS    (60 * NS_PER_S)
#define SUB_FILTERS_PER_PKT 64
#define QOS_WINDOW_MAX	    65000
/*
 * --rx-timestamps with one publisher: messages whose receipts are still being
 * counted, indexed by sequence number. At 1,000 msgs/s this covers 4 s; a slot
 * reused before all its subscribers reported drops that message from the
 * first/last-arrival figures only.
 */
#define SPREAD_SLOTS 4096

enum phase {
	PH_CONNECT,
	PH_RUN,
	PH_DRAIN,
	PH_STOP,
};

enum role {
	R_PUB,
	R_SUB,
	R_IDLE,
};

enum cstate {
	C_NEW,
	C_TCP,
	C_CONNACK,
	C_SUBACK,
	C_READY,
	C_CLOSED,
};

/* Shared per publisher: the owner thread writes sent and inflight, subscribers add progress. */
struct pubshared {
	_Atomic uint64_t sent;
	_Atomic uint64_t progress;
	_Atomic uint32_t inflight;
	unsigned fanout; /* deliveries each PUBLISH should make */
	uint64_t window; /* deliveries in flight at most */
} __attribute__((aligned(64)));

struct thr;

struct conn {
	int fd;
	uint8_t role;
	uint8_t state;
	bool epollout;
	bool dirty;
	unsigned idx; /* publisher id or subscriber number */
	struct thr *t;
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	/* publisher */
	uint32_t seq;
	uint16_t next_pid;
	uint32_t inflight;
	uint32_t qos_window;
	uint16_t alias_max;
	unsigned tfirst, tcount, tnext; /* topics cycled through */
	uint8_t *alias_sent;		/* per topic: the broker knows its alias */
	uint64_t stall_progress, stall_since;
	uint64_t next_due; /* rate mode: send time of the next message */
	uint64_t skipped;  /* rate mode: schedule slots given up (CATCHUP_NS) */
	/* subscriber */
	unsigned subacks_pending;
	struct tb_seqwin **trk; /* per publisher, allocated on first receipt */
};

struct rep_acc {
	uint64_t published, expected, delivered, dup, reord;
	struct tb_hist hist;
	struct tb_hist arrival, first_arrival, last_arrival; /* --rx-timestamps */
};

/* One message's arrivals over its subscribers (--rx-timestamps, one publisher). */
struct spread {
	uint32_t seq;
	uint32_t count; /* arrivals seen; 0 = free */
	uint64_t sent, first, last;
};

struct run;

struct thr {
	struct run *run;
	unsigned id;
	pthread_t th;
	bool started;
	int ep;
	struct conn *conns;
	unsigned nconns;
	unsigned next_connect;
	unsigned handshaking;
	struct conn **dirty;
	unsigned ndirty;
	struct conn **pubs;
	unsigned npubs;
	bool no_pwait2; /* kernel (or valgrind) without epoll_pwait2: ms timeouts */
	bool timeline;
	uint64_t t0, t_meas, t_end, dur;
	int phase;
	struct rep_acc *reps;
	uint64_t *p_uniq, *p_dup, *p_reord, *p_pending;
	unsigned *p_dirty_list;
	uint8_t *p_dirty;
	unsigned np_dirty;
	uint64_t rx_msgs, rx_bytes, rx_alias, tx_msgs, tx_bytes;
	uint64_t uniq_total;	     /* first receipts, all phases */
	_Atomic uint64_t uniq_shown; /* uniq_total as of the last loop turn, for the live line */
	uint64_t last_ping;
	uint64_t rx_arrival;   /* --rx-timestamps: CLOCK_MONOTONIC arrival of the last read */
	struct spread *spread; /* SPREAD_SLOTS entries, or NULL */
	int err;
	char errmsg[200];
};

struct run {
	const struct tb_opts *o;
	struct thr *thr;
	unsigned nthr;
	struct pubshared *pubs;
	unsigned npubs, nsubs, nidle;
	char **topics;
	unsigned ntopics;
	char **filters;
	unsigned nfilters;
	_Atomic int phase;
	_Atomic unsigned ready;
	_Atomic int failed;
	_Atomic uint16_t alias_max, receive_max;
	uint64_t t0, t_meas, t_end, dur; /* written before phase RUN is published */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	if (clock_gettime(id, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = {.tv_sec = (time_t)(t / NS_PER_S), .tv_nsec = (long)(t % NS_PER_S)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Records the first failure of this thread and tells the run to stop. */
static __attribute__((format(printf, 3, 4))) void fail(struct thr *t, int err, const char *fmt, ...)
{
	if (atomic_load_explicit(&t->run->phase, memory_order_relaxed) >= PH_STOP)
		return; /* closing down: whatever the broker does now is not the run's fault */
	if (t->err == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(t->errmsg, sizeof(t->errmsg), fmt, ap);
		va_end(ap);
		t->err = err;
	}
	atomic_store(&t->run->failed, 1);
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->state == C_TCP || c->state == C_CONNACK || c->state == C_SUBACK)
		c->t->handshaking--;
	c->state = C_CLOSED;
}

static void conn_fail(struct conn *c, int err, const char *what)
{
	static const char *const roles[] = {"publisher", "subscriber", "connection"};
	fail(c->t, err, "%s %u: %s: %s", roles[c->role], c->idx, what,
	     err == -EPROTO ? "protocol error" : strerror(-err));
	conn_close(c);
}

static void set_epollout(struct conn *c, bool on)
{
	if (c->epollout == on || c->fd < 0)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
	epoll_ctl(c->t->ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->epollout = on;
}

/* Makes room for need more output bytes; grows the buffer when compacting is not enough. */
static int out_reserve(struct conn *c, size_t need)
{
	if (c->out_cap - c->out_len >= need)
		return 0;
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		if (c->out_cap - c->out_len >= need)
			return 0;
	}
	size_t cap = c->out_cap * 2;
	while (cap - c->out_len < need)
		cap *= 2;
	uint8_t *p = realloc(c->out, cap);
	if (!p)
		return -ENOMEM;
	c->out = p;
	c->out_cap = cap;
	return 0;
}

static void mark_dirty(struct conn *c)
{
	if (!c->dirty) {
		c->dirty = true;
		c->t->dirty[c->t->ndirty++] = c;
	}
}

/* Writes pending output; returns 0 (written or waiting for EPOLLOUT) or -errno. */
static int conn_flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				set_epollout(c, true);
				return 0;
			}
			return -errno;
		}
		if (c->role == R_PUB)
			c->t->tx_bytes += (uint64_t)n;
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	set_epollout(c, false);
	return 0;
}

static void append_ack(struct conn *c, enum tb_mqtt_type type, uint16_t id)
{
	if (out_reserve(c, 4) < 0) {
		conn_fail(c, -ENOMEM, "output buffer");
		return;
	}
	c->out_len += tb_mqtt_ack(c->out + c->out_len, c->out_cap - c->out_len, type, id);
	mark_dirty(c);
}

static void set_ready(struct conn *c)
{
	c->state = C_READY;
	c->t->handshaking--;
	atomic_fetch_add(&c->t->run->ready, 1);
}

static void start_connect(struct thr *t, struct conn *c)
{
	const struct tb_opts *o = t->run->o;
	c->fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	t->handshaking++;
	c->state = C_TCP;
	if (c->fd < 0) {
		conn_fail(c, -errno, "socket");
		return;
	}
	int one = 1;
	/* We batch ourselves; Nagle would only add latency to a lone message. */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (o->rx_timestamps && c->role == R_SUB &&
	    setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0) {
		conn_fail(c, -errno, "SO_TIMESTAMPNS");
		return;
	}
	if (connect(c->fd, (const struct sockaddr *)&o->addr, o->addr_len) < 0 &&
	    errno != EINPROGRESS) {
		conn_fail(c, -errno, "connect");
		return;
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	if (epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		conn_fail(c, -errno, "epoll_ctl");
		return;
	}
	c->epollout = true;
}

/* TCP is up: send CONNECT. */
static void on_connected(struct conn *c)
{
	struct run *r = c->t->run;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (soerr) {
		conn_fail(c, -soerr, "connect");
		return;
	}
	char id[64];
	static const char roles[] = "psi";
	snprintf(id, sizeof(id), "tb-%d-%c%u", (int)getpid(), roles[c->role], c->idx);
	if (out_reserve(c, 256) < 0) {
		conn_fail(c, -ENOMEM, "output buffer");
		return;
	}
	/* Ask a v5 broker to alias topics towards our subscribers: that is what is measured. */
	uint16_t alias_max =
	    c->role == R_SUB ? (uint16_t)(r->ntopics < 1000 ? r->ntopics : 1000) : 0;
	c->out_len += tb_mqtt_connect(c->out + c->out_len, c->out_cap - c->out_len, r->o->version,
				      id, r->o->keepalive, alias_max);
	c->state = C_CONNACK;
	int e = conn_flush(c);
	if (e < 0)
		conn_fail(c, e, "write CONNECT");
}

static void send_subscribe(struct conn *c)
{
	struct run *r = c->t->run;
	const char *const *f;
	size_t n;
	if (r->o->mode == TB_MODE_PAIRS) {
		f = (const char *const *)&r->topics[c->idx];
		n = 1;
	} else {
		f = (const char *const *)r->filters;
		n = r->nfilters;
	}
	uint16_t id = 1;
	for (size_t i = 0; i < n; i += SUB_FILTERS_PER_PKT) {
		size_t k = n - i < SUB_FILTERS_PER_PKT ? n - i : SUB_FILTERS_PER_PKT;
		size_t need = 16;
		for (size_t j = 0; j < k; j++)
			need += strlen(f[i + j]) + 3;
		if (out_reserve(c, need) < 0) {
			conn_fail(c, -ENOMEM, "output buffer");
			return;
		}
		c->out_len += tb_mqtt_subscribe(c->out + c->out_len, c->out_cap - c->out_len,
						r->o->version, id++, f + i, k, r->o->qos);
		c->subacks_pending++;
	}
	c->state = C_SUBACK;
	int e = conn_flush(c);
	if (e < 0)
		conn_fail(c, e, "write SUBSCRIBE");
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static void take_timeline(struct thr *t)
{
	struct run *r = t->run;
	int ph = atomic_load_explicit(&r->phase, memory_order_acquire);
	t->phase = ph;
	if (!t->timeline && ph >= PH_RUN) {
		t->t0 = r->t0;
		t->t_meas = r->t_meas;
		t->t_end = r->t_end;
		t->dur = r->dur;
		t->timeline = true;
	}
}

/* The repetition a send time falls into, or -1 for warm-up or after the end. */
static inline int rep_of(const struct thr *t, uint64_t ts)
{
	if (ts < t->t_meas || ts >= t->t_end)
		return -1;
	return (int)((ts - t->t_meas) / t->dur);
}

/* --rx-timestamps: the arrival figures of one first receipt in repetition a. */
static void record_arrival(struct thr *t, struct rep_acc *a, uint64_t ts, uint32_t seq)
{
	uint64_t arr = t->rx_arrival;
	tb_hist_record(&a->arrival, arr > ts ? arr - ts : 0);
	if (!t->spread)
		return;
	struct spread *sp = &t->spread[seq % SPREAD_SLOTS];
	if (sp->count == 0 || sp->seq != seq) {
		*sp = (struct spread){.seq = seq, .sent = ts, .first = arr, .last = arr};
	} else {
		if (arr < sp->first)
			sp->first = arr;
		if (arr > sp->last)
			sp->last = arr;
	}
	if (++sp->count < t->run->pubs[0].fanout)
		return;
	tb_hist_record(&a->first_arrival, sp->first > ts ? sp->first - ts : 0);
	tb_hist_record(&a->last_arrival, sp->last > ts ? sp->last - ts : 0);
	sp->count = 0;
}

static void on_publish(struct conn *c, const struct tb_mqtt_pkt *pk, uint64_t now)
{
	struct thr *t = c->t;
	struct run *r = t->run;
	if (c->role != R_SUB) {
		conn_fail(c, -EPROTO, "PUBLISH to a connection that did not subscribe");
		return;
	}
	if (pk->payload_len < TB_PAYLOAD_HDR) {
		conn_fail(c, -EPROTO, "PUBLISH without a tern-bench payload");
		return;
	}
	uint64_t ts = rd64(pk->payload);
	uint32_t pid = rd32(pk->payload + 8);
	uint32_t seq = rd32(pk->payload + 12);
	if (pid >= r->npubs) {
		conn_fail(c, -EPROTO, "PUBLISH from an unknown publisher");
		return;
	}
	if (!t->timeline)
		take_timeline(t);
	t->rx_msgs++;
	if (pk->topic_len == 0)
		t->rx_alias++;

	struct tb_seqwin *w = c->trk[pid];
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w) {
			conn_fail(c, -ENOMEM, "sequence window");
			return;
		}
		c->trk[pid] = w;
	}
	uint64_t progress;
	enum tb_seq_kind kind = tb_seqwin_receive(w, seq, &progress);
	bool uniq = kind != TB_SEQ_DUP, dup = kind == TB_SEQ_DUP, late = kind == TB_SEQ_LATE;
	if (r->o->mode == TB_MODE_SHARED)
		progress = uniq ? 1 : 0; /* each subscriber sees only some numbers of a publisher */
	if (progress) {
		if (!t->p_dirty[pid]) {
			t->p_dirty[pid] = 1;
			t->p_dirty_list[t->np_dirty++] = pid;
		}
		t->p_pending[pid] += progress;
	}
	if (uniq) {
		t->p_uniq[pid]++;
		t->uniq_total++;
	}
	if (dup)
		t->p_dup[pid]++;
	if (late)
		t->p_reord[pid]++;
	int rep = rep_of(t, ts);
	if (rep >= 0) {
		struct rep_acc *a = &t->reps[rep];
		if (uniq) {
			a->delivered++;
			tb_hist_record(&a->hist, now > ts ? now - ts : 0);
			if (t->rx_arrival)
				record_arrival(t, a, ts, seq);
		}
		a->dup += dup;
		a->reord += late;
	}
	if (pk->qos == 1)
		append_ack(c, TB_PUBACK, pk->id);
	else if (pk->qos == 2)
		append_ack(c, TB_PUBREC, pk->id);
}

static void handle(struct conn *c, const struct tb_mqtt_pkt *pk, uint64_t now)
{
	struct run *r = c->t->run;
	switch (pk->type) {
	case TB_PUBLISH:
		on_publish(c, pk, now);
		return;
	case TB_CONNACK:
		if (c->state != C_CONNACK) {
			conn_fail(c, -EPROTO, "unexpected CONNACK");
			return;
		}
		if (pk->rc != 0) {
			char what[64];
			snprintf(what, sizeof(what), "broker refused CONNECT (code 0x%02x)",
				 pk->rc);
			conn_fail(c, -EPROTO, what);
			return;
		}
		atomic_store(&r->alias_max, pk->alias_max);
		atomic_store(&r->receive_max, pk->receive_max);
		if (c->role == R_PUB) {
			c->qos_window = pk->receive_max && pk->receive_max < QOS_WINDOW_MAX
					    ? pk->receive_max
					    : QOS_WINDOW_MAX;
			c->alias_max = pk->alias_max;
		}
		if (c->role == R_SUB)
			send_subscribe(c);
		else
			set_ready(c);
		return;
	case TB_SUBACK: {
		if (c->state != C_SUBACK || c->subacks_pending == 0) {
			conn_fail(c, -EPROTO, "unexpected SUBACK");
			return;
		}
		for (size_t i = 0; i < pk->payload_len; i++) {
			if (pk->payload[i] >= 0x80) {
				char what[64];
				snprintf(what, sizeof(what),
					 "broker refused SUBSCRIBE (code 0x%02x)", pk->payload[i]);
				conn_fail(c, -EPROTO, what);
				return;
			}
		}
		if (--c->subacks_pending == 0)
			set_ready(c);
		return;
	}
	case TB_PUBACK:
	case TB_PUBCOMP:
		if (c->role != R_PUB || c->inflight == 0 ||
		    (pk->type == TB_PUBACK) != (r->o->qos == 1)) {
			conn_fail(c, -EPROTO, "unexpected PUBACK/PUBCOMP");
			return;
		}
		if (pk->rc >= 0x80) {
			char what[64];
			snprintf(what, sizeof(what), "broker refused PUBLISH (reason 0x%02x)",
				 pk->rc);
			conn_fail(c, -EPROTO, what);
			return;
		}
		c->inflight--;
		atomic_store_explicit(&r->pubs[c->idx].inflight, c->inflight, memory_order_relaxed);
		return;
	case TB_PUBREC:
		if (c->role != R_PUB || r->o->qos != 2 || pk->rc >= 0x80) {
			conn_fail(c, -EPROTO, "unexpected or failed PUBREC");
			return;
		}
		append_ack(c, TB_PUBREL, pk->id);
		return;
	case TB_PUBREL:
		if (c->role != R_SUB) {
			conn_fail(c, -EPROTO, "unexpected PUBREL");
			return;
		}
		append_ack(c, TB_PUBCOMP, pk->id);
		return;
	case TB_PINGRESP:
	case TB_UNSUBACK:
		return;
	case TB_DISCONNECT: {
		char what[64];
		snprintf(what, sizeof(what), "broker sent DISCONNECT (reason 0x%02x)", pk->rc);
		conn_fail(c, -ECONNRESET, what);
		return;
	}
	default:
		conn_fail(c, -EPROTO, "unexpected packet");
	}
}

/*
 * read() that also takes the kernel's software receive timestamp (CLOCK_REALTIME)
 * of the last segment read into t->rx_arrival (0 when there is none). With several
 * segments in one read every message gets the last one's: an upper bound of their
 * arrival.
 */
static ssize_t read_stamped(struct conn *c, size_t space)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = {.iov_base = c->in + c->in_len, .iov_len = space};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof(cm)};
	ssize_t n = recvmsg(c->fd, &mh, 0);
	c->t->rx_arrival = 0;
	if (n <= 0)
		return n;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			memcpy(&ts, CMSG_DATA(h), sizeof(ts));
			c->t->rx_arrival = (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
		}
	}
	return n;
}

/*
 * A CLOCK_REALTIME arrival stamp as CLOCK_MONOTONIC, from how long before now (the
 * monotonic time just after the read) it lies: no offset between the clocks to estimate.
 */
static uint64_t arrival_mono(uint64_t arrival_real, uint64_t now)
{
	uint64_t real = clock_ns(CLOCK_REALTIME);
	uint64_t lag = real > arrival_real ? real - arrival_real : 0;
	return now > lag ? now - lag : 1;
}

static void on_readable(struct conn *c)
{
	struct thr *t = c->t;
	int version = t->run->o->version;
	for (int round = 0; round < 4 && c->state != C_CLOSED; round++) {
		size_t space = c->in_cap - c->in_len;
		ssize_t n = t->run->o->rx_timestamps ? read_stamped(c, space)
						     : read(c->fd, c->in + c->in_len, space);
		if (n == 0) {
			conn_fail(c, -ECONNRESET, "broker closed the connection");
			return;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			conn_fail(c, -errno, "read");
			return;
		}
		uint64_t now = now_ns();
		if (t->rx_arrival)
			t->rx_arrival = arrival_mono(t->rx_arrival, now);
		if (c->role == R_SUB)
			t->rx_bytes += (uint64_t)n;
		c->in_len += (size_t)n;
		size_t off = 0;
		while (c->state != C_CLOSED) {
			struct tb_mqtt_pkt pk;
			ssize_t used =
			    tb_mqtt_decode(c->in + off, c->in_len - off, version, c->in_cap, &pk);
			if (used == -EAGAIN)
				break;
			if (used < 0) {
				conn_fail(c, (int)used, "decoding the broker's packet");
				return;
			}
			handle(c, &pk, now);
			off += (size_t)used;
		}
		if (c->state == C_CLOSED)
			return;
		if (off) {
			memmove(c->in, c->in + off, c->in_len - off);
			c->in_len -= off;
		}
		if ((size_t)n < space)
			return;
	}
}

/* How many PUBLISHes publisher c may send now (rate, in-flight window, QoS window). */
static uint64_t pub_allowance(struct conn *c, uint64_t now)
{
	struct thr *t = c->t;
	struct run *r = t->run;
	struct pubshared *ps = &r->pubs[c->idx];
	uint64_t allow = UINT64_MAX;
	if (r->o->rate > 0) {
		if (now < c->next_due)
			return 0;
		double per = r->o->rate / r->npubs;
		uint64_t due = (uint64_t)((double)(now - t->t0) * per / 1e9) + 1;
		uint64_t done = c->seq + c->skipped;
		uint64_t burst = (uint64_t)((double)CATCHUP_NS * per / 1e9);
		if (burst == 0)
			burst = 1;
		if (due > done + burst)
			c->skipped += due - done - burst;
		allow = due > c->seq + c->skipped ? due - c->seq - c->skipped : 0;
	}
	uint64_t sent = (uint64_t)c->seq * ps->fanout;
	uint64_t prog = atomic_load_explicit(&ps->progress, memory_order_relaxed);
	uint64_t in_flight = sent > prog ? sent - prog : 0;
	uint64_t room = in_flight < ps->window ? (ps->window - in_flight) / ps->fanout : 0;
	if (room == 0 && in_flight < ps->fanout)
		room = 1;
	if (room == 0) {
		if (prog != c->stall_progress) {
			c->stall_progress = prog;
			c->stall_since = now;
		} else if (now - c->stall_since >= STALL_PROBE_NS) {
			c->stall_since = now;
			room = 1; /* probe: the broker may have dropped the tail (QoS 0) */
		}
	}
	if (room < allow)
		allow = room;
	if (r->o->qos) {
		uint64_t q = c->qos_window > c->inflight ? c->qos_window - c->inflight : 0;
		if (q < allow)
			allow = q;
	}
	return allow;
}

static void pub_generate(struct conn *c, uint64_t now)
{
	struct thr *t = c->t;
	struct run *r = t->run;
	const struct tb_opts *o = r->o;
	if (c->state != C_READY || c->epollout)
		return; /* the socket is full: wait for EPOLLOUT */
	uint64_t allow = pub_allowance(c, now);
	if (allow == 0)
		return;
	int rep = rep_of(t, now);
	uint64_t n = 0;
	while (n < allow) {
		unsigned tk = c->tnext;
		const char *topic = r->topics[c->tfirst + tk];
		uint16_t tl = (uint16_t)strlen(topic);
		uint16_t alias = 0;
		if (o->version == TB_MQTT_V5 && tk < c->alias_max) {
			alias = (uint16_t)(tk + 1);
			if (c->alias_sent[tk])
				tl = 0;
		}
		size_t need = TB_MQTT_FIXED_MAX + 2 + tl + 2 + 4 + o->payload;
		if (c->out_cap - c->out_len < need)
			break;
		uint16_t id = 0;
		if (o->qos) {
			id = c->next_pid;
			c->next_pid = c->next_pid == 65535 ? 1 : c->next_pid + 1;
		}
		uint8_t *p = c->out + c->out_len;
		size_t h = tb_mqtt_publish_header(p, c->out_cap - c->out_len, o->version, o->qos,
						  id, topic, tl, alias, o->payload);
		memcpy(p + h, &now, 8);
		uint32_t pid = c->idx;
		memcpy(p + h + 8, &pid, 4);
		memcpy(p + h + 12, &c->seq, 4);
		memset(p + h + TB_PAYLOAD_HDR, 0, o->payload - TB_PAYLOAD_HDR);
		c->out_len += h + o->payload;
		if (alias)
			c->alias_sent[tk] = 1;
		c->seq++;
		c->tnext = c->tnext + 1 == c->tcount ? 0 : c->tnext + 1;
		n++;
	}
	if (n == 0)
		return;
	if (o->qos) {
		c->inflight += (uint32_t)n;
		atomic_store_explicit(&r->pubs[c->idx].inflight, c->inflight, memory_order_relaxed);
	}
	if (o->rate > 0)
		c->next_due =
		    t->t0 + (uint64_t)((double)(c->seq + c->skipped) * 1e9 * r->npubs / o->rate);
	atomic_store_explicit(&r->pubs[c->idx].sent, c->seq, memory_order_relaxed);
	t->tx_msgs += n;
	if (rep >= 0)
		t->reps[rep].published += n, t->reps[rep].expected += n * r->pubs[c->idx].fanout;
	int e = conn_flush(c);
	if (e < 0)
		conn_fail(c, e, "write PUBLISH");
}

static void flush_progress(struct thr *t)
{
	struct run *r = t->run;
	for (unsigned i = 0; i < t->np_dirty; i++) {
		unsigned p = t->p_dirty_list[i];
		atomic_fetch_add_explicit(&r->pubs[p].progress, t->p_pending[p],
					  memory_order_relaxed);
		t->p_pending[p] = 0;
		t->p_dirty[p] = 0;
	}
	t->np_dirty = 0;
	atomic_store_explicit(&t->uniq_shown, t->uniq_total, memory_order_relaxed);
}

static void flush_dirty(struct thr *t)
{
	for (unsigned i = 0; i < t->ndirty; i++) {
		struct conn *c = t->dirty[i];
		c->dirty = false;
		if (c->state == C_CLOSED)
			continue;
		int e = conn_flush(c);
		if (e < 0)
			conn_fail(c, e, "write");
	}
	t->ndirty = 0;
}

static void ping_all(struct thr *t)
{
	for (unsigned i = 0; i < t->nconns; i++) {
		struct conn *c = &t->conns[i];
		if (c->state != C_READY || out_reserve(c, 2) < 0)
			continue;
		c->out_len += tb_mqtt_empty(c->out + c->out_len, 2, TB_PINGREQ);
		mark_dirty(c);
	}
}

/* Time the loop may sleep in epoll: until the next due message, a window re-check or 10 ms. */
static uint64_t loop_timeout(struct thr *t, uint64_t now)
{
	uint64_t wait = POLL_NS;
	if (t->phase != PH_RUN || !t->timeline || now >= t->t_end)
		return wait;
	for (unsigned i = 0; i < t->npubs; i++) {
		struct conn *c = t->pubs[i];
		if (c->state != C_READY || c->epollout)
			continue;
		uint64_t w;
		if (t->run->o->rate > 0)
			w = c->next_due > now ? c->next_due - now : 0;
		else
			w = t->run->nthr > 1 ? CROSS_THREAD_NS : POLL_NS;
		if (w < wait)
			wait = w;
	}
	return wait;
}

/*
 * epoll with a nanosecond timeout (fixed rates need sub-millisecond timers); where
 * epoll_pwait2 is missing (Linux < 5.11, valgrind), epoll_wait with the timeout rounded
 * up to a millisecond: the rate schedule then catches up in batches of a few messages.
 */
static int wait_events(struct thr *t, struct epoll_event *evs, uint64_t wait_ns)
{
	if (!t->no_pwait2) {
		struct timespec ts = {.tv_sec = (time_t)(wait_ns / NS_PER_S),
				      .tv_nsec = (long)(wait_ns % NS_PER_S)};
		int n = epoll_pwait2(t->ep, evs, MAX_EVENTS, &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		t->no_pwait2 = true;
	}
	return epoll_wait(t->ep, evs, MAX_EVENTS, (int)((wait_ns + 999999) / 1000000));
}

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	struct run *r = t->run;
	const struct tb_opts *o = r->o;
	if (o->ncpus) {
		cpu_set_t set;
		CPU_ZERO(&set);
		int cpu = o->cpus[t->id % o->ncpus];
		CPU_SET(cpu, &set);
		int e = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
		if (e) {
			fail(t, -e, "cannot run thread %u on CPU %d: %s", t->id, cpu, strerror(e));
			return NULL;
		}
	}
	struct epoll_event evs[MAX_EVENTS];
	uint64_t last_event = 0;
	t->last_ping = now_ns();
	for (;;) {
		take_timeline(t);
		if (t->phase >= PH_STOP || atomic_load_explicit(&r->failed, memory_order_relaxed))
			break;
		unsigned limit =
		    o->mode == TB_MODE_CONN ? o->conn_window / r->nthr + 1 : HANDSHAKES_PER_THR;
		while (t->next_connect < t->nconns && t->handshaking < limit)
			start_connect(t, &t->conns[t->next_connect++]);

		uint64_t now = now_ns();
		uint64_t wait = loop_timeout(t, now);
		if (o->busy_poll_ns && now - last_event < o->busy_poll_ns)
			wait = 0;
		int n = wait_events(t, evs, wait);
		if (n < 0 && errno != EINTR) {
			fail(t, -errno, "epoll wait: %s", strerror(errno));
			break;
		}
		if (n > 0)
			last_event = now_ns();
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->state == C_CLOSED)
				continue;
			if (c->state == C_TCP) {
				if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
					on_connected(c);
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(c);
			if (c->state != C_CLOSED && (evs[i].events & EPOLLOUT)) {
				int e = conn_flush(c);
				if (e < 0)
					conn_fail(c, e, "write");
			}
		}
		flush_progress(t);
		now = now_ns();
		if (t->phase == PH_RUN && t->timeline && now >= t->t0 && now < t->t_end) {
			for (unsigned i = 0; i < t->npubs; i++)
				pub_generate(t->pubs[i], now);
		}
		if (now - t->last_ping >= PING_INTERVAL_NS) {
			t->last_ping = now;
			ping_all(t);
		}
		flush_dirty(t);
	}
	/* Leave politely: DISCONNECT, so the broker drops the sessions at once. */
	for (unsigned i = 0; i < t->nconns; i++) {
		struct conn *c = &t->conns[i];
		if (c->fd < 0)
			continue;
		if (c->state == C_READY) {
			uint8_t d[2];
			tb_mqtt_empty(d, sizeof(d), TB_DISCONNECT);
			if (write(c->fd, d, 2) < 0) {
				/* the broker is gone already: nothing to tell it */
			}
		}
		close(c->fd);
		c->fd = -1;
	}
	return NULL;
}

static void run_free(struct run *r)
{
	if (r->thr) {
		for (unsigned i = 0; i < r->nthr; i++) {
			struct thr *t = &r->thr[i];
			for (unsigned k = 0; t->conns && k < t->nconns; k++) {
				struct conn *c = &t->conns[k];
				if (c->fd >= 0)
					close(c->fd);
				free(c->in);
				free(c->out);
				free(c->alias_sent);
				if (c->trk) {
					for (unsigned p = 0; p < r->npubs; p++)
						free(c->trk[p]);
					free(c->trk);
				}
			}
			if (t->ep >= 0)
				close(t->ep);
			free(t->conns);
			free(t->dirty);
			free(t->pubs);
			free(t->reps);
			free(t->p_uniq);
			free(t->p_dup);
			free(t->p_reord);
			free(t->p_pending);
			free(t->p_dirty_list);
			free(t->p_dirty);
			free(t->spread);
		}
		free(r->thr);
	}
	for (unsigned i = 0; r->topics && i < r->ntopics; i++)
		free(r->topics[i]);
	free(r->topics);
	for (unsigned i = 0; r->filters && i < r->nfilters; i++)
		free(r->filters[i]);
	free(r->filters);
	free(r->pubs);
}

static __attribute__((format(printf, 1, 2))) char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* Topics, filters and the per-publisher fan-out of the mode. */
static int build_topics(struct run *r)
{
	const struct tb_opts *o = r->o;
	const char *pre = o->prefix;
	unsigned nt;
	const char *kind;
	switch (o->mode) {
	case TB_MODE_FANOUT:
		nt = o->topics, kind = "f";
		break;
	case TB_MODE_FANIN:
		nt = o->topics ? o->topics : r->npubs, kind = "i";
		break;
	case TB_MODE_PAIRS:
		nt = r->npubs, kind = "p";
		break;
	case TB_MODE_SHARED:
		nt = o->topics, kind = "s";
		break;
	default:
		return 0;
	}
	if (nt == 0)
		nt = 1;
	r->topics = calloc(nt, sizeof(char *));
	if (!r->topics)
		return -ENOMEM;
	r->ntopics = nt;
	for (unsigned i = 0; i < nt; i++) {
		r->topics[i] = xasprintf("%s/%s/%u", pre, kind, i);
		if (!r->topics[i])
			return -ENOMEM;
	}
	if (o->mode == TB_MODE_FANOUT) {
		r->filters = calloc(nt, sizeof(char *));
		if (!r->filters)
			return -ENOMEM;
		for (unsigned i = 0; i < nt; i++) {
			r->filters[i] = strdup(r->topics[i]);
			if (!r->filters[i])
				return -ENOMEM;
			r->nfilters++;
		}
	} else if (o->mode != TB_MODE_PAIRS) {
		r->filters = calloc(1, sizeof(char *));
		if (!r->filters)
			return -ENOMEM;
		r->filters[0] = o->mode == TB_MODE_SHARED ? xasprintf("$share/tb/%s/s/+", pre)
							  : xasprintf("%s/i/+", pre);
		if (!r->filters[0])
			return -ENOMEM;
		r->nfilters = 1;
	}
	uint64_t share = o->window / (r->npubs ? r->npubs : 1);
	for (unsigned p = 0; p < r->npubs; p++) {
		struct pubshared *ps = &r->pubs[p];
		ps->fanout = o->mode == TB_MODE_FANOUT || o->mode == TB_MODE_FANIN ? r->nsubs : 1;
		ps->window = share > ps->fanout ? share : ps->fanout;
	}
	return 0;
}

/* Sets up threads and connections: publishers first, then subscribers, round-robin. */
static int run_setup(struct run *r, const struct tb_opts *o)
{
	r->o = o;
	if (o->mode == TB_MODE_CONN) {
		r->nidle = o->connections;
	} else {
		r->npubs = o->publishers;
		r->nsubs = o->mode == TB_MODE_PAIRS ? o->publishers : o->subscribers;
	}
	unsigned total = r->npubs + r->nsubs + r->nidle;
	r->nthr = o->threads < total ? o->threads : total;
	if (r->nthr == 0)
		r->nthr = 1;
	if (r->npubs) {
		r->pubs = aligned_alloc(64, sizeof(struct pubshared) * r->npubs);
		if (!r->pubs)
			return -ENOMEM;
		memset(r->pubs, 0, sizeof(struct pubshared) * r->npubs);
	}
	int e = build_topics(r);
	if (e < 0)
		return e;
	r->thr = calloc(r->nthr, sizeof(struct thr));
	if (!r->thr)
		return -ENOMEM;
	for (unsigned i = 0; i < r->nthr; i++) {
		struct thr *t = &r->thr[i];
		t->run = r;
		t->id = i;
		t->ep = -1;
		t->nconns = total / r->nthr + (i < total % r->nthr);
		t->conns = calloc(t->nconns, sizeof(struct conn));
		t->dirty = calloc(t->nconns, sizeof(struct conn *));
		t->pubs = calloc(r->npubs + 1, sizeof(struct conn *));
		t->reps = calloc(o->reps, sizeof(struct rep_acc));
		t->p_uniq = calloc(r->npubs + 1, sizeof(uint64_t));
		t->p_dup = calloc(r->npubs + 1, sizeof(uint64_t));
		t->p_reord = calloc(r->npubs + 1, sizeof(uint64_t));
		t->p_pending = calloc(r->npubs + 1, sizeof(uint64_t));
		t->p_dirty_list = calloc(r->npubs + 1, sizeof(unsigned));
		t->p_dirty = calloc(r->npubs + 1, 1);
		if (!t->conns || !t->dirty || !t->pubs || !t->reps || !t->p_uniq || !t->p_dup ||
		    !t->p_reord || !t->p_pending || !t->p_dirty_list || !t->p_dirty)
			return -ENOMEM;
		if (o->rx_timestamps && r->npubs == 1 && r->nthr == 1) {
			t->spread = calloc(SPREAD_SLOTS, sizeof(struct spread));
			if (!t->spread)
				return -ENOMEM;
		}
		for (unsigned k = 0; k < t->nconns; k++)
			t->conns[k].fd = -1;
		t->ep = epoll_create1(EPOLL_CLOEXEC);
		if (t->ep < 0)
			return -errno;
		t->nconns = 0; /* refilled below */
	}
	size_t big = 256 * 1024;
	size_t msg = (size_t)o->payload + 512;
	for (unsigned g = 0; g < total; g++) {
		struct thr *t = &r->thr[g % r->nthr];
		struct conn *c = &t->conns[t->nconns++];
		c->t = t;
		c->fd = -1;
		if (g < r->npubs) {
			c->role = R_PUB;
			c->idx = g;
			c->next_pid = 1;
			c->qos_window = QOS_WINDOW_MAX;
			if (o->mode == TB_MODE_FANOUT)
				c->tfirst = 0, c->tcount = r->ntopics;
			else
				c->tfirst = g % r->ntopics, c->tcount = 1;
			c->alias_sent = calloc(c->tcount, 1);
			c->in_cap = 64 * 1024;
			c->out_cap = big > 4 * msg ? big : 4 * msg;
			t->pubs[t->npubs++] = c;
		} else if (g < r->npubs + r->nsubs) {
			c->role = R_SUB;
			c->idx = g - r->npubs;
			c->trk = calloc(r->npubs, sizeof(struct tb_seqwin *));
			c->in_cap = big > 4 * msg ? big : 4 * msg;
			c->out_cap = 16 * 1024;
			if (!c->trk && r->npubs)
				return -ENOMEM;
		} else {
			c->role = R_IDLE;
			c->idx = g - r->npubs - r->nsubs;
			c->in_cap = 512;
			c->out_cap = 256;
		}
		c->in = malloc(c->in_cap);
		c->out = malloc(c->out_cap);
		if (!c->in || !c->out || (c->role == R_PUB && !c->alias_sent))
			return -ENOMEM;
	}
	return 0;
}

static int start_threads(struct run *r)
{
	for (unsigned i = 0; i < r->nthr; i++) {
		int e = pthread_create(&r->thr[i].th, NULL, thr_main, &r->thr[i]);
		if (e)
			return -e;
		r->thr[i].started = true;
	}
	return 0;
}

static void join_threads(struct run *r)
{
	atomic_store_explicit(&r->phase, PH_STOP, memory_order_release);
	for (unsigned i = 0; i < r->nthr; i++) {
		if (r->thr[i].started)
			pthread_join(r->thr[i].th, NULL);
		r->thr[i].started = false;
	}
}

/* Copies the first thread error into res; returns it (0 when no thread failed). */
static int thread_error(struct run *r, struct tb_result *res)
{
	for (unsigned i = 0; i < r->nthr; i++) {
		if (r->thr[i].err) {
			snprintf(res->error, sizeof(res->error), "%s", r->thr[i].errmsg);
			return r->thr[i].err;
		}
	}
	return 0;
}

/* Counters at the previous progress line, to print rates. */
struct progress {
	uint64_t sent, deliv;
};

static void progress_line(struct progress *last, const char *what, uint64_t t, uint64_t sent,
			  uint64_t deliv, double dt, double bench_pct)
{
	fprintf(stderr, "\r[%4.0fs] %-8s pub %10.0f msg/s  deliv %11.0f msg/s  bench cpu %3.0f%%  ",
		(double)t / 1e9, what, dt > 0 ? (double)(sent - last->sent) / dt : 0.0,
		dt > 0 ? (double)(deliv - last->deliv) / dt : 0.0, bench_pct);
	last->sent = sent;
	last->deliv = deliv;
}

static void sums(const struct run *r, uint64_t *sent, uint64_t *expect, uint64_t *prog,
		 uint64_t *inflight)
{
	*sent = *expect = *prog = *inflight = 0;
	for (unsigned p = 0; p < r->npubs; p++) {
		uint64_t s = atomic_load_explicit(&r->pubs[p].sent, memory_order_relaxed);
		*sent += s;
		*expect += s * r->pubs[p].fanout;
		*prog += atomic_load_explicit(&r->pubs[p].progress, memory_order_relaxed);
		*inflight += atomic_load_explicit(&r->pubs[p].inflight, memory_order_relaxed);
	}
}

/* Waits until every connection is ready; 0, -ETIMEDOUT or the first thread error. */
static int wait_ready(struct run *r, struct tb_result *res, unsigned total)
{
	uint64_t start = now_ns(), last = start;
	while (atomic_load(&r->ready) < total) {
		if (atomic_load(&r->failed))
			return thread_error(r, res);
		uint64_t now = now_ns();
		if (now - start > READY_TIMEOUT_NS) {
			snprintf(res->error, sizeof(res->error),
				 "only %u of %u connections ready after 60 s",
				 atomic_load(&r->ready), total);
			return -ETIMEDOUT;
		}
		if (r->o->progress && now - last >= NS_PER_S) {
			last = now;
			fprintf(stderr, "\rconnecting %u/%u   ", atomic_load(&r->ready), total);
		}
		struct timespec ts = {0, 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

struct cpu_mark {
	uint64_t wall, proc, broker;
	uint64_t thr[TB_MAX_THREADS];
};

static void cpu_mark(const struct run *r, struct cpu_mark *m, uint64_t *rss_kb)
{
	m->wall = now_ns();
	m->proc = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	for (unsigned i = 0; i < r->nthr && i < TB_MAX_THREADS; i++) {
		clockid_t cid;
		m->thr[i] = pthread_getcpuclockid(r->thr[i].th, &cid) == 0 ? clock_ns(cid) : 0;
	}
	m->broker = 0;
	uint64_t rss = 0;
	if (r->o->broker_pid && tb_proc_sample(r->o->broker_pid, &m->broker, &rss) < 0)
		m->broker = 0;
	if (rss_kb)
		*rss_kb = rss;
}

static void cpu_between(const struct run *r, const struct cpu_mark *a, const struct cpu_mark *b,
			struct tb_rep_result *rep, struct tb_result *res)
{
	double wall = (double)(b->wall - a->wall);
	if (wall <= 0)
		return;
	rep->bench_cpu_pct = 100.0 * (double)(b->proc - a->proc) / wall;
	rep->bench_max_thread_pct = 0;
	for (unsigned i = 0; i < r->nthr && i < TB_MAX_THREADS; i++) {
		double p = 100.0 * (double)(b->thr[i] - a->thr[i]) / wall;
		if (p > rep->bench_max_thread_pct)
			rep->bench_max_thread_pct = p;
	}
	if (rep->bench_max_thread_pct >= 90.0)
		res->bench_saturated = true;
	rep->broker_cpu_pct =
	    r->o->broker_pid ? 100.0 * (double)(b->broker - a->broker) / wall : -1.0;
}

static void collect(struct run *r, struct tb_result *res)
{
	const struct tb_opts *o = r->o;
	for (unsigned k = 0; k < o->reps; k++) {
		struct tb_rep_result *rep = &res->reps[k];
		for (unsigned i = 0; i < r->nthr; i++) {
			struct rep_acc *a = &r->thr[i].reps[k];
			rep->published += a->published;
			rep->expected += a->expected;
			rep->delivered += a->delivered;
			rep->duplicates += a->dup;
			rep->reordered += a->reord;
			tb_hist_merge(&rep->latency, &a->hist);
			tb_hist_merge(&rep->arrival, &a->arrival);
			tb_hist_merge(&rep->first_arrival, &a->first_arrival);
			tb_hist_merge(&rep->last_arrival, &a->last_arrival);
		}
		rep->published_rate = (double)rep->published / o->duration;
		rep->delivered_rate = (double)rep->delivered / o->duration;
	}
	for (unsigned p = 0; p < r->npubs; p++) {
		struct tb_pub_result *pr = &res->pubs[p];
		pr->published = atomic_load(&r->pubs[p].sent);
		pr->expected = pr->published * r->pubs[p].fanout;
		for (unsigned i = 0; i < r->nthr; i++) {
			pr->delivered += r->thr[i].p_uniq[p];
			pr->duplicates += r->thr[i].p_dup[p];
			pr->reordered += r->thr[i].p_reord[p];
		}
		pr->lost = pr->expected > pr->delivered ? pr->expected - pr->delivered : 0;
		res->lost += pr->lost;
		res->duplicates += pr->duplicates;
		res->reordered += pr->reordered;
	}
	for (unsigned i = 0; i < r->nthr; i++) {
		res->rx_msgs += r->thr[i].rx_msgs;
		res->rx_bytes += r->thr[i].rx_bytes;
		res->rx_alias_only += r->thr[i].rx_alias;
		res->tx_msgs += r->thr[i].tx_msgs;
		res->tx_bytes += r->thr[i].tx_bytes;
	}
	res->broker_alias_max = atomic_load(&r->alias_max);
	res->broker_receive_max = atomic_load(&r->receive_max);
}

static int run_traffic(struct run *r, struct tb_result *res)
{
	const struct tb_opts *o = r->o;
	unsigned total = r->npubs + r->nsubs;
	res->npubs = r->npubs;
	res->pubs = calloc(r->npubs ? r->npubs : 1, sizeof(struct tb_pub_result));
	if (!res->pubs)
		return -ENOMEM;
	int e = start_threads(r);
	if (e < 0) {
		snprintf(res->error, sizeof(res->error), "pthread_create: %s", strerror(-e));
		return e;
	}
	e = wait_ready(r, res, total);
	if (e < 0)
		return e;
	r->dur = (uint64_t)(o->duration * 1e9);
	r->t0 = now_ns() + 1000 * 1000;
	r->t_meas = r->t0 + (uint64_t)(o->warmup * 1e9);
	r->t_end = r->t_meas + r->dur * o->reps;
	atomic_store_explicit(&r->phase, PH_RUN, memory_order_release);

	struct cpu_mark marks[2];
	struct cpu_mark tick_a, tick_b;
	struct progress last = {0, 0};
	cpu_mark(r, &tick_a, NULL);
	unsigned next_rep = 0;
	bool measuring = false;
	uint64_t next_tick = r->t0 + NS_PER_S;
	for (;;) {
		uint64_t boundary = r->t_meas + (uint64_t)next_rep * r->dur;
		uint64_t wake = boundary < next_tick ? boundary : next_tick;
		sleep_until(wake < r->t_end ? wake : r->t_end);
		if (atomic_load(&r->failed))
			return thread_error(r, res);
		uint64_t now = now_ns();
		if (now >= boundary && next_rep <= o->reps) {
			uint64_t rss = 0;
			cpu_mark(r, &marks[next_rep % 2], &rss);
			if (measuring) {
				struct tb_rep_result *rep = &res->reps[next_rep - 1];
				cpu_between(r, &marks[(next_rep + 1) % 2], &marks[next_rep % 2],
					    rep, res);
				rep->broker_rss_kb = rss;
			}
			measuring = true;
			next_rep++;
			if (next_rep > o->reps)
				break;
		}
		if (now >= next_tick) {
			cpu_mark(r, &tick_b, NULL);
			if (o->progress) {
				uint64_t s, x, p, f;
				sums(r, &s, &x, &p, &f);
				double dt = (double)(tick_b.wall - tick_a.wall) / 1e9;
				uint64_t d = 0;
				for (unsigned i = 0; i < r->nthr; i++)
					d += atomic_load_explicit(&r->thr[i].uniq_shown,
								  memory_order_relaxed);
				progress_line(&last, now - NS_PER_S < r->t_meas ? "warm-up" : "run",
					      now - r->t0, s, d, dt,
					      100.0 * (double)(tick_b.proc - tick_a.proc) /
						  (double)(tick_b.wall - tick_a.wall));
			}
			tick_a = tick_b;
			next_tick += NS_PER_S;
		}
	}
	/* Drain: wait for stragglers and acks, until complete or a second without progress. */
	atomic_store_explicit(&r->phase, PH_DRAIN, memory_order_release);
	uint64_t dstart = now_ns(), last_change = dstart, last_prog = UINT64_MAX;
	for (;;) {
		if (atomic_load(&r->failed))
			return thread_error(r, res);
		uint64_t s, x, p, f;
		sums(r, &s, &x, &p, &f);
		uint64_t now = now_ns();
		if (p >= x && f == 0)
			break;
		if (p != last_prog) {
			last_prog = p;
			last_change = now;
		} else if (now - last_change >= NS_PER_S) {
			break;
		}
		if ((double)(now - dstart) >= o->drain * 1e9)
			break;
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	res->drain_s = (double)(now_ns() - dstart) / 1e9;
	if (o->progress)
		fputc('\n', stderr);
	join_threads(r);
	e = thread_error(r, res);
	if (e < 0)
		return e;
	collect(r, res);
	return 0;
}

/* conn mode: one cycle of connect all, hold idle, disconnect all; fills res->conn[k]. */
static int run_conn_cycle(const struct tb_opts *o, struct tb_result *res, unsigned k)
{
	struct run r = {0};
	struct tb_conn_result *cr = &res->conn[k];
	int e = run_setup(&r, o);
	if (e < 0) {
		snprintf(res->error, sizeof(res->error), "setup: %s", strerror(-e));
		goto out;
	}
	uint64_t cpu0 = 0, cpu1 = 0, rss = 0;
	if (o->broker_pid && tb_proc_sample(o->broker_pid, &cpu0, &rss) == 0)
		cr->rss_before_kb = rss;
	uint64_t t0 = now_ns(), p0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	e = start_threads(&r);
	if (e < 0) {
		snprintf(res->error, sizeof(res->error), "pthread_create: %s", strerror(-e));
		goto out;
	}
	e = wait_ready(&r, res, o->connections);
	if (e < 0)
		goto out;
	uint64_t t1 = now_ns();
	cr->bench_cpu_pct =
	    100.0 * (double)(clock_ns(CLOCK_PROCESS_CPUTIME_ID) - p0) / (double)(t1 - t0);
	cr->connect_s = (double)(t1 - t0) / 1e9;
	cr->connect_rate = o->connections / cr->connect_s;
	if (o->progress)
		fprintf(stderr, "\rconnected %u in %.3f s; holding %.1f s idle\n", o->connections,
			cr->connect_s, o->duration);
	sleep_until(t1 + (uint64_t)(o->duration * 1e9));
	if (atomic_load(&r.failed)) {
		e = thread_error(&r, res);
		goto out;
	}
	if (o->broker_pid && tb_proc_sample(o->broker_pid, &cpu1, &rss) == 0)
		cr->rss_connected_kb = rss;
	join_threads(&r);
	e = thread_error(&r, res);
	if (e < 0)
		goto out;
	sleep_until(now_ns() + NS_PER_S);
	if (o->broker_pid && tb_proc_sample(o->broker_pid, &cpu1, &rss) == 0)
		cr->rss_after_kb = rss;
	if (cr->rss_connected_kb > cr->rss_before_kb)
		cr->bytes_per_conn =
		    (double)(cr->rss_connected_kb - cr->rss_before_kb) * 1024.0 / o->connections;
out:
	join_threads(&r);
	run_free(&r);
	return e;
}

int tb_loadgen_run(const struct tb_opts *o, struct tb_result *res)
{
	memset(res, 0, sizeof(*res));
	res->nreps = o->reps;
	for (unsigned k = 0; k < o->reps; k++)
		res->reps[k].broker_cpu_pct = -1.0;
	if (o->mode == TB_MODE_CONN) {
		for (unsigned k = 0; k < o->reps; k++) {
			int e = run_conn_cycle(o, res, k);
			if (e < 0)
				return e;
		}
		return 0;
	}
	struct run r = {0};
	int e = run_setup(&r, o);
	if (e < 0) {
		snprintf(res->error, sizeof(res->error), "setup: %s", strerror(-e));
	} else {
		e = run_traffic(&r, res);
		if (e < 0 && !res->error[0])
			snprintf(res->error, sizeof(res->error), "%s", strerror(-e));
	}
	join_threads(&r);
	run_free(&r);
	return e;
}

void tb_result_free(struct tb_result *res)
{
	free(res->pubs);
	res->pubs = NULL;
}
