/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for whole sessions: the real engine (one worker) behind the
 * fake dataplane of fakedp.h, fed a sequence of operations on up to four
 * connections. Operations send raw bytes (arbitrary packets, split anywhere)
 * or well-formed CONNECT / SUBSCRIBE / PUBLISH / acks built from a few input
 * bytes, so the fuzzer reaches takeover, wills, retained messages, QoS 1/2
 * flows, offline queues and input pausing as well as the parser. Every byte
 * the broker writes must decode (fakedp checks it); ASan/UBSan/LSan catch the
 * rest.
 *
 * Input: byte 0 chooses limits (bit 0 small queues and output bound, bit 1
 * small packet and message limits, bit 2 retain_available false, bit 3
 * max_connections 3, bit 4 allow_anonymous false, bit 5 max_keepalive 30).
 * Then operations: op byte = slot (bits 0-1) | kind (bits 2-7, modulo
 * N_KINDS), followed by the kind's argument bytes (missing ones read as 0).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/codec.h"
#include "broker/config.h"
#include "broker/log.h"
#include "tests/fuzz/fakedp.h"

enum kind {
	K_RAW,	       /* len (1 byte), bytes */
	K_RAW_LONG,    /* len (2 bytes, at most 4096), bytes */
	K_CONNECT,     /* 2 bytes: flags */
	K_SUBSCRIBE,   /* filter/qos byte, packet id byte */
	K_UNSUBSCRIBE, /* filter byte, packet id byte */
	K_PUBLISH,     /* topic/qos/retain/dup byte, payload byte, packet id byte */
	K_ACKS,	       /* the acks the read packets call for */
	K_ACK,	       /* type byte, packet id byte */
	K_PING,	       /* byte: bit 0 DISCONNECT instead */
	K_PEER_CLOSE,
	K_READ,	 /* byte: read at most that many bytes, then stall */
	K_STALL, /* byte: bit 0 stalled */
	K_TURN,
	K_OPEN,
	K_REPEAT, /* count byte, len byte, bytes: sent 2^(count % 17) times, 256 KiB at most */
	K_SYS,	  /* publish $SYS now (the engine does it on a wall-clock timer) */
	N_KINDS,
};

static const char *const filters[16] = {
    "a",     "a/b", "a/+", "a/#",	    "#",  "+/b",   "+",	  "$SYS/#",
    "a/b/c", "+/+", "b",   "$SYS/broker/+", "/#", "a/+/c", "+/#", "c",
};
static const char *const topics[16] = {
    "a",     "a/b",    "a/b/c", "b",   "c",   "/a",  "a/",    "x/b",
    "a/x/c", "$SYS/x", "c/d",	"a/b", "a/c", "b/b", "a/b/c", "a/a",
};

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t next(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static struct tern_bytes str(const char *s)
{
	return (struct tern_bytes){(const uint8_t *)s, strlen(s)};
}

static void config_from(uint8_t bits, struct tern_config *cfg)
{
	tern_config_defaults(cfg);
	cfg->sys_interval = 0; /* wall-clock driven: would make runs irreproducible */
	if (bits & 1) {
		cfg->max_output_bytes = 1024;
		cfg->max_queued_messages = 3;
		cfg->max_queued_bytes = 2048;
		cfg->max_inflight_messages = 2;
	}
	if (bits & 2) {
		cfg->max_packet_size = 300;
		cfg->message_size_limit = 40;
	}
	if (bits & 4)
		cfg->retain_available = false;
	if (bits & 8)
		cfg->max_connections = 3;
	if (bits & 16)
		cfg->allow_anonymous = false;
	if (bits & 32)
		cfg->max_keepalive = 30;
}

static void op_connect(struct fakedp *f, unsigned slot, struct input *in)
{
	uint8_t p = next(in), q = next(in);
	struct tern_connect c = {0};
	uint8_t buf[256];
	char id[8];
	size_t n;

	snprintf(id, sizeof(id), "c%u", p & 3);
	c.proto_level = q & 1 ? TERN_PROTO_V31 : TERN_PROTO_V311;
	c.clean_session = p & 4;
	c.will = p & 8;
	c.will_qos = (p >> 4) & 3;
	c.will_retain = p & 64;
	c.keepalive = p & 128 ? 1 : 60;
	c.client_id = q & 8 ? str("") : str(id);
	if (c.will) {
		c.will_topic = str(topics[(q >> 4) & 15]);
		c.will_payload = str("gone");
	}
	c.has_username = q & 2;
	c.username = str("user");
	c.has_password = c.has_username && (q & 4);
	c.password = str("secret");
	n = tern_codec_encode_connect(buf, sizeof(buf), &c, NULL);
	fakedp_send(f, slot, buf, n);
}

static void op_sub_list(struct fakedp *f, unsigned slot, struct input *in, enum tern_pkt_type t)
{
	uint8_t p = next(in), id = next(in);
	struct tern_bytes filter = str(filters[p & 15]);
	uint8_t qos = (p >> 4) & 3, buf[64];
	size_t n;

	/* A QoS of 3 is a malformed SUBSCRIBE: the fuzzer gets that one too. */
	n = tern_codec_encode_sub_list(buf, sizeof(buf), t, (uint16_t)(id + 1), &filter,
				       t == TERN_PKT_SUBSCRIBE ? &qos : NULL, 1);
	fakedp_send(f, slot, buf, n);
}

static void op_publish(struct fakedp *f, unsigned slot, struct input *in)
{
	static const uint8_t filler[128] = {0};
	uint8_t p = next(in), len = next(in), id = next(in);
	struct tern_publish pub = {0};
	uint8_t buf[256];
	size_t n;

	pub.topic = str(topics[p & 15]);
	pub.qos = (p >> 4) & 3;
	if (pub.qos == 3)
		pub.qos = 1;
	pub.retain = p & 64;
	pub.dup = (p & 128) && pub.qos;
	pub.packet_id = pub.qos ? (uint16_t)(id + 1) : 0;
	pub.payload = (struct tern_bytes){filler, len & 127};
	n = tern_codec_encode_publish(buf, sizeof(buf), &pub);
	fakedp_send(f, slot, buf, n);
}

static void op_raw(struct fakedp *f, unsigned slot, struct input *in, size_t len)
{
	if (len > in->left)
		len = in->left;
	fakedp_send(f, slot, in->p, len);
	in->p += len;
	in->left -= len;
}

#define REPEAT_MAX_BYTES (256u * 1024)

/*
 * The same bytes many times over, in reads of up to 16 KiB as the sock
 * dataplane does: floods of PINGREQs or QoS 1 PUBLISHes that a client sends
 * without reading, which fill the output and make the engine pause the input.
 */
static void op_repeat(struct fakedp *f, unsigned slot, struct input *in)
{
	static uint8_t buf[16384];
	size_t times = (size_t)1 << (next(in) % 17), len = next(in), fill = 0;

	if (len > in->left)
		len = in->left;
	if (len == 0)
		return;
	/* Pausing needs 64 KiB of replies; most inputs should stay cheap to run. */
	if (times * len > REPEAT_MAX_BYTES)
		times = REPEAT_MAX_BYTES / len;
	while (times--) {
		if (fill + len > sizeof(buf)) {
			fakedp_send(f, slot, buf, fill);
			fill = 0;
		}
		memcpy(buf + fill, in->p, len);
		fill += len;
	}
	fakedp_send(f, slot, buf, fill);
	in->p += len;
	in->left -= len;
}

static void run_op(struct fakedp *f, uint8_t op, struct input *in)
{
	unsigned slot = op & 3;
	uint8_t buf[8], a;
	size_t n;

	switch ((op >> 2) % N_KINDS) {
	case K_RAW:
		op_raw(f, slot, in, next(in));
		break;
	case K_RAW_LONG:
		n = (size_t)next(in) << 8;
		n |= next(in);
		op_raw(f, slot, in, n > 4096 ? 4096 : n);
		break;
	case K_CONNECT:
		op_connect(f, slot, in);
		break;
	case K_SUBSCRIBE:
		op_sub_list(f, slot, in, TERN_PKT_SUBSCRIBE);
		break;
	case K_UNSUBSCRIBE:
		op_sub_list(f, slot, in, TERN_PKT_UNSUBSCRIBE);
		break;
	case K_PUBLISH:
		op_publish(f, slot, in);
		break;
	case K_ACKS:
		fakedp_send_acks(f, slot);
		break;
	case K_ACK:
		a = next(in);
		n = tern_codec_encode_ack(buf, sizeof(buf),
					  (enum tern_pkt_type)(TERN_PKT_PUBACK + (a & 3)),
					  (uint16_t)(next(in) + 1));
		fakedp_send(f, slot, buf, n);
		break;
	case K_PING:
		n = tern_codec_encode_empty(buf, sizeof(buf),
					    next(in) & 1 ? TERN_PKT_DISCONNECT : TERN_PKT_PINGREQ);
		fakedp_send(f, slot, buf, n);
		break;
	case K_PEER_CLOSE:
		fakedp_peer_close(f, slot);
		break;
	case K_READ:
		fakedp_read(f, slot, next(in));
		break;
	case K_STALL:
		fakedp_set_stalled(f, slot, next(in) & 1);
		break;
	case K_TURN:
		fakedp_turn(f);
		break;
	case K_OPEN:
		fakedp_open(f, slot);
		break;
	case K_REPEAT:
		op_repeat(f, slot, in);
		break;
	case K_SYS:
		fakedp_publish_sys(f);
		break;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* Connection log lines at fuzzing speed would drown the fuzzer's own output. */
	tern_log_set_mask(getenv("TERN_FUZZ_LOG") ? TERN_LOG_ALL : 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	struct tern_config cfg;
	struct fakedp *f;

	if (size < 1)
		return 0;
	config_from(next(&in), &cfg);
	f = fakedp_create(&cfg);
	if (!f)
		abort();
	while (in.left) {
		run_op(f, next(&in), &in);
		/* The engine acts on its inbox and timers only at turn ends: give it some. */
		if ((in.left & 7) == 0)
			fakedp_turn(f);
	}
	if (getenv("TERN_FUZZ_LOG")) {
		const uint64_t *n = fakedp_packets_read(f);

		fprintf(
		    stderr,
		    "read by peers: %llu CONNACK, %llu PUBLISH, %llu PUBACK, %llu PUBREC, "
		    "%llu PUBREL, %llu PUBCOMP, %llu SUBACK, %llu UNSUBACK, %llu PINGRESP\n",
		    (unsigned long long)n[2], (unsigned long long)n[3], (unsigned long long)n[4],
		    (unsigned long long)n[5], (unsigned long long)n[6], (unsigned long long)n[7],
		    (unsigned long long)n[9], (unsigned long long)n[11], (unsigned long long)n[13]);
	}
	fakedp_destroy(f);
	return 0;
}
