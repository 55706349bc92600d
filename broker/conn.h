/* SPDX-License-Identifier: MIT */
/*
 * One client connection as the engine sees it: the MQTT state machine on top
 * of a transport (broker/transport.h). Input is parsed with the codec and
 * dispatched to one handler per packet type (handlers.h). Owning worker only.
 */
#ifndef TERN_CONN_H
#define TERN_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu/list.h>

#include "broker/outq.h"
#include "broker/ratelimit.h"

struct tern_alias_in;
struct tern_alias_out;
struct tern_arrival;
struct tern_msg;
struct tern_session;
struct tern_worker;

enum tern_conn_state {
	TERN_CONN_NEW,		 /* waiting for CONNECT */
	TERN_CONN_CLAIM_RETRY,	 /* CONNECT received; client id busy in a takeover, retry */
	TERN_CONN_AWAIT_SESSION, /* CONNECT received; session moving here from another worker */
	TERN_CONN_ACTIVE,	 /* CONNACK sent */
	TERN_CONN_CLOSING,	 /* ops->close called; waiting for tern_conn_closed */
};

/* Why a connection ends; chooses the log line and whether the will is sent. */
enum tern_close_reason {
	TERN_CLOSE_DISCONNECT,	    /* client sent DISCONNECT: no will */
	TERN_CLOSE_DISCONNECT_WILL, /* 5.0 DISCONNECT 0x04: with the will */
	TERN_CLOSE_PEER_LOST,	    /* socket closed or failed without DISCONNECT */
	TERN_CLOSE_PROTOCOL,	    /* malformed packet or protocol violation */
	TERN_CLOSE_KEEPALIVE,	    /* nothing received for 1.5 x keepalive */
	TERN_CLOSE_CONNECT_TIMEOUT, /* no CONNECT in time */
	TERN_CLOSE_TAKEN_OVER,	    /* same client id connected again */
	TERN_CLOSE_REFUSED,	    /* CONNACK with an error code */
	TERN_CLOSE_SHUTDOWN,	    /* broker stopping */
	TERN_CLOSE_NO_MEMORY,
	TERN_CLOSE_LIMIT, /* over a per-client limit (tern_conn_over_limit) */
};

/* Per-client limits whose breach ends the connection (tern_conn_over_limit). */
enum tern_limit {
	TERN_LIMIT_PUBLISH_RATE,  /* max_publish_rate */
	TERN_LIMIT_PUBLISH_BYTES, /* max_publish_bytes_rate */
	TERN_LIMIT_MEMORY,	  /* memory_limit reached while its partial packet grows */
};

/* How the peer address of a connection is kept (tern_conn_peer formats it). */
enum tern_conn_peer_kind {
	TERN_PEER_V4,	/* peer_addr[0..3] and peer_port */
	TERN_PEER_V6,	/* peer_addr and peer_port */
	TERN_PEER_V6B,	/* the same, written "[ADDR]:PORT" (the dpdk dataplane) */
	TERN_PEER_TEXT, /* peer_text: what the dataplane gave, not an "ADDR:PORT" */
};

/* Per-client rate buckets; allocated only when a rate is configured. */
struct tern_conn_rates {
	struct tern_ratelimit publish;	     /* max_publish_rate */
	struct tern_ratelimit publish_bytes; /* max_publish_bytes_rate */
};

/*
 * Laid out to fit jemalloc's 256-byte size class: at 10,000 idle connections
 * every byte here counts (README "Memory per connection"). Rarely used parts
 * (rate buckets, topic aliases) are allocated when needed.
 */
struct tern_conn {
	struct cds_list_head worker_node; /* in worker->conns */
	/*
	 * Never on both lists: CLAIM_RETRY is never resume_pending (entering it
	 * leaves worker->resumed; its input is parsed at the retry).
	 */
	union {
		struct cds_list_head resume_node; /* in worker->resumed while resume_pending */
		struct cds_list_head retry_node;  /* in worker->claim_retries while CLAIM_RETRY */
	};
	struct tern_worker *worker;
	void *tctx;
	enum tern_conn_state state;
	uint8_t proto_level;
	bool clean_session;
	bool input_paused;   /* output over max_output_bytes: input waits (transport.h) */
	bool resume_pending; /* on worker->resumed */
	uint64_t last_rx_ms;
	uint64_t last_progress_ms; /* last time the peer took some of our output */
	uint64_t accepted_ms;
	uint32_t replies_over_bound; /* control bytes queued while output was over its bound */
	uint16_t keepalive;
	uint8_t listener;  /* configured listener it came in on (transport.h) */
	uint8_t peer_kind; /* enum tern_conn_peer_kind */
	struct tern_session *session;
	struct tern_arrival *arrival; /* AWAIT_SESSION: the session in transit here */
	char *client_id;	      /* after CONNECT */
	char *username;		      /* after CONNECT; NULL: anonymous (handle_connect.c) */
	struct tern_msg *will;	      /* will message, if any */
	uint32_t will_delay;	      /* 5.0 will delay interval, seconds */
	uint8_t will_qos;
	bool will_retain;
	uint16_t peer_port;

	/* MQTT 5.0 (defaults for older levels): what the client asked for in CONNECT. */
	uint32_t session_expiry;   /* seconds; TERN_SESSION_NEVER_EXPIRES for no end */
	uint32_t peer_max_packet;  /* largest packet it accepts; 0 = protocol maximum */
	uint16_t peer_receive_max; /* QoS 1/2 messages it takes unacknowledged; 0 = no limit */
	bool problem_info;	   /* it accepts reason strings and user properties */
	bool id_assigned;	   /* the broker made up its client id (empty in CONNECT) */
	bool keepalive_set;	   /* keepalive is max_keepalive, not what it asked for */
	bool identity_from_cert;   /* its user name is its TLS certificate's CN */
	/* The reason of the DISCONNECT sent when the broker closes a 5.0 connection. */
	uint8_t disconnect_reason;
	const char *disconnect_why;	    /* its reason string: a static text, or NULL */
	struct tern_alias_in *aliases_in;   /* its topic aliases; NULL until it sets one */
	struct tern_alias_out *aliases_out; /* ours toward it; NULL when it takes none */

	uint8_t *inbuf; /* a partial packet carried over between reads */
	uint32_t in_len, in_cap;
	size_t mem_outq; /* output bytes counted for memory_limit (memlimit.h) */

	struct tern_outq outq;
	struct tern_conn_rates *rates; /* NULL when no per-client rate is configured */
	/* The peer's address, as a number: formatted only for log lines. */
	union {
		uint8_t peer_addr[16]; /* network byte order */
		char *peer_text;       /* owned */
	};
};

/*
 * End the connection: log the reason, publish the will unless the reason
 * excludes it, detach or destroy the session, then ask the dataplane to close.
 * Idempotent. Owning worker only.
 */
void tern_conn_close(struct tern_conn *c, enum tern_close_reason reason);

/* Queue an encoded control packet and ask the dataplane to write it. Returns 0 or -ENOMEM. */
int tern_conn_send(struct tern_conn *c, const void *pkt, size_t len);

/* Ask the dataplane to write the output queue (after pushes to c->outq). */
void tern_conn_want_write(struct tern_conn *c);

/*
 * The client went over a per-client limit: the one place that decides the
 * answer. Counts it ($SYS clients/limited), logs (rate-limited) and closes
 * the connection, will included; a 5.0 client first gets DISCONNECT 0x96
 * (message rate too high) or 0x97 (quota exceeded). Returns -EDQUOT. Owning
 * worker.
 */
int tern_conn_over_limit(struct tern_conn *c, enum tern_limit limit);

/*
 * Count, log (rate-limited) and close for a protocol violation; a 5.0 client
 * first gets DISCONNECT with Protocol Error (0x82). Returns -EPROTO.
 */
int tern_conn_protocol_error(struct tern_conn *c, const char *why);

/* The same with the 5.0 reason code of the DISCONNECT (0x81, 0x93, 0x94, 0x95...). */
int tern_conn_protocol_error_rc(struct tern_conn *c, const char *why, uint8_t reason);

/* True for an MQTT 5.0 connection. */
static inline bool tern_conn_v5(const struct tern_conn *c)
{
	return c->proto_level == 5;
}

/*
 * Handle input that arrived before the connection could act on it (packets
 * sent after CONNECT while the session was on its way). Owning worker only;
 * never from inside tern_conn_input, which is parsing that same buffer.
 */
void tern_conn_process_buffered(struct tern_conn *c);

/*
 * Parse input held back while the connection was paused, now that its output
 * drained. Called by the worker's poll for connections on worker->resumed.
 */
void tern_conn_resume(struct tern_conn *c);

/*
 * Let a paused connection read again if its output drained and it is not
 * waiting for a session. Owning worker only.
 */
void tern_conn_input_may_resume(struct tern_conn *c);

/* The last sign of life, for keepalive: input, or output read while input is paused. */
uint64_t tern_conn_last_seen_ms(const struct tern_conn *c);

/*
 * Name for log lines: the client id after CONNECT, else the peer address
 * (tern_conn_peer). Owning worker only.
 */
const char *tern_conn_name(const struct tern_conn *c);

/*
 * The peer address as the dataplane gave it ("ADDR:PORT"), formatted into a
 * buffer of the owning worker: valid until the next call on that worker, so
 * one per log line. Owning worker only.
 */
const char *tern_conn_peer(const struct tern_conn *c);

#endif
