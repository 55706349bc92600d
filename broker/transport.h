/* SPDX-License-Identifier: MIT */
/*
 * The boundary between the broker engine and a dataplane (kernel sockets or
 * DPDK). The engine never touches sockets: it calls the dataplane through
 * struct tern_transport_ops, and the dataplane calls the entry points below.
 *
 * Threading: each worker thread is owned by the dataplane; every call about a
 * connection or worker happens on that worker's thread, except ops->wake.
 */
#ifndef TERN_TRANSPORT_H
#define TERN_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tern_broker;
struct tern_worker;
struct tern_conn;
struct tern_outq;

struct tern_transport_ops {
	/*
	 * The connection's output queue got data: write it (tern_conn_outq) by the
	 * end of this loop turn, and keep writing when the peer accepts more.
	 * tctx is the value passed to tern_conn_accept. Owning worker thread.
	 */
	void (*want_write)(void *tctx);
	/*
	 * The engine is done with the connection: write what is still queued if
	 * the peer accepts it without waiting, close the transport (FIN), then call
	 * tern_conn_closed(). May be called from inside tern_conn_input. Called at
	 * most once per connection. Owning worker thread.
	 */
	void (*close)(void *tctx);
	/*
	 * Stop (paused true) or resume delivering input for the connection. The
	 * engine pauses a connection whose output queue is over its bound, so a
	 * client that sends without reading cannot make the broker queue replies
	 * without limit; it resumes once the peer has read enough. Owning worker
	 * thread; may be called from inside tern_conn_input and tern_conn_wrote.
	 */
	void (*pause_input)(void *tctx, bool paused);
	/*
	 * Wake the worker's loop from a blocking wait because its inbox got work.
	 * dp_worker is the value given to tern_worker_start. Any thread;
	 * async-signal-unsafe is fine. NULL for a polling dataplane.
	 */
	void (*wake)(void *dp_worker);
	/*
	 * The MQTT user name the transport vouches for: on a TLS listener with
	 * use_identity_as_username, the subject CN of the client's verified
	 * certificate. Returns 1 and sets *name (NUL-terminated, valid until the
	 * connection closes), 0 when the transport sets none (the CONNECT's own
	 * user name stands), or -EACCES when it must set one but cannot (the
	 * certificate has no usable CN): the engine refuses the CONNECT. NULL
	 * means always 0. Owning worker thread, once per CONNECT.
	 */
	int (*identity)(void *tctx, const char **name);
};

/* Number of workers the broker was created with. */
unsigned tern_broker_worker_count(const struct tern_broker *b);
/* Worker i (0 <= i < count). */
struct tern_worker *tern_broker_worker(struct tern_broker *b, unsigned i);

/*
 * Bind the calling thread to worker w: registers it with liburcu QSBR and
 * records the ops and the dataplane's per-worker context. Call once, on the
 * worker's thread, before anything else. Returns 0 or -errno.
 */
int tern_worker_start(struct tern_worker *w, const struct tern_transport_ops *ops, void *dp_worker);

/*
 * Run the worker's own work: cross-worker inbox, timers (keepalive, connect
 * timeout, session expiry, $SYS). Call once per loop turn, online for RCU.
 * Returns the milliseconds until it next needs a call when idle (for a
 * blocking wait's timeout), at most 1000.
 */
int tern_worker_poll(struct tern_worker *w);

/*
 * True when the worker has work for its next poll that no event will signal
 * (input held back while output drained during this turn's writes): the
 * dataplane must not block in its next wait. Owning worker thread.
 */
bool tern_worker_has_work(const struct tern_worker *w);

/*
 * The loop turn is over: a quiescent state for RCU. Call with no RCU-protected
 * pointer held, once per turn. Before blocking call tern_worker_offline(),
 * after waking tern_worker_online().
 */
void tern_worker_quiescent(struct tern_worker *w);
void tern_worker_offline(struct tern_worker *w);
void tern_worker_online(struct tern_worker *w);

/*
 * The worker's loop is ending (shutdown): every connection must already have
 * been closed (tern_conn_closed). Unregisters the thread from RCU.
 */
void tern_worker_finish(struct tern_worker *w);

/*
 * A new transport connection on worker w, accepted by listener `listener`
 * (index into the config's listeners; 0 for the default listener when none is
 * configured): it selects that listener's security settings under
 * per_listener_settings and its limits. peer is "ADDR:PORT" (for logs;
 * copied). Returns the engine's connection, or NULL when the broker refuses
 * it (the listener's max_connection_rate, its or the global max_connections,
 * out of memory; each counted): the dataplane closes it then, before reading
 * anything.
 */
struct tern_conn *tern_conn_accept(struct tern_worker *w, void *tctx, const char *peer,
				   unsigned listener);

/*
 * Bytes received on the connection. The engine parses and handles every
 * complete packet and keeps a partial one. Returns 0, or a negative errno when
 * the connection is being closed (ops->close was or will be called; ignore
 * further input).
 */
int tern_conn_input(struct tern_conn *c, const uint8_t *data, size_t len);

/*
 * The transport is gone: closed by the peer, failed, or finished closing after
 * ops->close. Called exactly once; the engine frees c, and the dataplane must
 * not use it afterwards. `peer_closed` is true when the peer or an error ended
 * it (an unexpected loss: will message) and false after ops->close.
 */
void tern_conn_closed(struct tern_conn *c, bool peer_closed);

/* The connection's output queue, to drain with tern_outq_iov / tern_outq_consume. */
struct tern_outq *tern_conn_outq(struct tern_conn *c);

/*
 * Output written to the peer: the dataplane consumed n bytes of the queue
 * (tern_outq_consume). Lets the engine count bytes sent, note that the peer
 * is reading (keepalive while its input is paused) and resume paused input
 * (ops->pause_input). Owning worker thread.
 */
void tern_conn_wrote(struct tern_conn *c, size_t n);

#endif
