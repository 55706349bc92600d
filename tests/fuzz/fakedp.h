/* SPDX-License-Identifier: MIT */
/*
 * A fake dataplane for driving the real engine (broker/ engine_lib) without
 * sockets: one worker run on the caller's thread, a few connection slots, and
 * an output side that drains each connection's queue, checks that every byte
 * the broker writes decodes as a server-to-client MQTT packet, and remembers
 * the acknowledgements a well-behaved client would owe. Used by the session
 * fuzz target; single-threaded, one instance at a time.
 */
#ifndef TERN_FAKEDP_H
#define TERN_FAKEDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/config.h"

#define FAKEDP_SLOTS 4

struct fakedp;

/*
 * Create a broker for cfg with one worker, started on the calling thread
 * (which becomes an RCU reader). NULL + errno on failure.
 */
struct fakedp *fakedp_create(const struct tern_config *cfg);

/*
 * Close every connection as if its peer vanished, run the engine's shutdown
 * path (tern_worker_finish, tern_broker_destroy) and free everything. The RCU
 * callbacks the teardown queued run later on urcu's call_rcu thread: no
 * rcu_barrier() here, since that thread sleeps 10 ms between batches and one
 * per run would cap fuzzing at 100 runs a second. Calling thread as for
 * fakedp_create; NULL ok.
 */
void fakedp_destroy(struct fakedp *f);

/* Accept a connection in slot (no-op if one is open there). Returns true if open afterwards. */
bool fakedp_open(struct fakedp *f, unsigned slot);

/*
 * Bytes from the peer of slot (opened first if needed). Delivered at once
 * unless the engine paused the connection's input; then held and delivered
 * once it resumes (held input past 1 MiB is dropped, as a peer giving up).
 */
void fakedp_send(struct fakedp *f, unsigned slot, const void *data, size_t len);

/* The peer of slot closes or resets the connection (tern_conn_closed, peer_closed). */
void fakedp_peer_close(struct fakedp *f, unsigned slot);

/*
 * The peer reads at most max bytes of what the broker queued (SIZE_MAX: all),
 * and stops reading on its own (stalled) until fakedp_set_stalled(false).
 */
void fakedp_read(struct fakedp *f, unsigned slot, size_t max);
void fakedp_set_stalled(struct fakedp *f, unsigned slot, bool stalled);

/*
 * Send, on slot, the PUBACK/PUBREC/PUBREL/PUBCOMP that the packets read so far call
 * for, in order. Returns how many were sent.
 */
size_t fakedp_send_acks(struct fakedp *f, unsigned slot);

/*
 * End of a loop turn: the worker's poll (inbox, timers, resumed input), the
 * close of connections the engine gave up, held input to resumed ones, output
 * to peers that are not stalled, and a quiescent state.
 */
void fakedp_turn(struct fakedp *f);

/* Publish the $SYS topics now, as the worker's timer does every sys_interval. */
void fakedp_publish_sys(struct fakedp *f);

/* Packets of each type the peers have read (index: MQTT packet type), for reports. */
const uint64_t *fakedp_packets_read(const struct fakedp *f);

#endif
