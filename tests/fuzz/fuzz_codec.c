/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the codec stream parser (tern_codec_decode). Besides
 * "no crash, no over-read" it checks three properties on every input:
 * decoding the stream in arbitrary pieces (as a connection does) gives the
 * same packets and the same error as decoding it whole; a decoded packet
 * re-encodes into one that decodes to the same fields; and the filter
 * iterator walks exactly the count the decoder reported.
 *
 * Input: byte 0 picks the protocol level and max_packet, byte 1 seeds the
 * split points, the rest is the byte stream.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/codec.h"

/* At most this many packets are compared per input; fuzz inputs are small. */
#define MAX_PKTS    256
#define MAX_FILTERS 64

struct decoded {
	ssize_t len; /* packet size, or the final error */
	uint8_t type;
};

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_codec: property violated: %s\n", what);
	abort();
}

static bool bytes_eq(struct tern_bytes a, struct tern_bytes b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static void check_filters(const struct tern_packet *pkt)
{
	struct tern_filter_iter it;
	struct tern_bytes f;
	uint8_t opt;
	size_t n = 0;

	tern_codec_filter_iter_init(&it, pkt);
	while (tern_codec_filter_next(&it, &f, &opt)) {
		if (f.len == 0)
			fail("empty topic filter accepted");
		n++;
	}
	if (n != pkt->subscribe.count)
		fail("filter iterator count differs from the decoded count");
}

/* PUBACK, PUBREC, PUBREL, PUBCOMP: a packet id (and in 5.0 a reason and properties). */
static bool is_ack(enum tern_pkt_type t)
{
	return t == TERN_PKT_PUBACK || t == TERN_PKT_PUBREC || t == TERN_PKT_PUBREL ||
	       t == TERN_PKT_PUBCOMP;
}

/* Encode pkt again as the level it was read with; 0 when the type is not re-encoded. */
static size_t reencode(const struct tern_packet *pkt, bool v5, uint8_t *buf, size_t cap)
{
	const struct tern_bytes *props = &pkt->props.raw;

	switch (pkt->type) {
	case TERN_PKT_PUBLISH:
		return v5 ? tern_codec_encode_publish5(buf, cap, &pkt->publish, props)
			  : tern_codec_encode_publish(buf, cap, &pkt->publish);
	case TERN_PKT_CONNECT:
		return tern_codec_encode_connect(buf, cap, &pkt->connect, v5 ? props : NULL);
	case TERN_PKT_SUBACK:
	case TERN_PKT_UNSUBACK:
		if (v5)
			return tern_codec_encode_suback5(buf, cap, pkt->type, pkt->suback.packet_id,
							 props, pkt->suback.codes.p,
							 pkt->suback.codes.len);
		if (pkt->type == TERN_PKT_UNSUBACK)
			return tern_codec_encode_ack(buf, cap, pkt->type, pkt->suback.packet_id);
		return tern_codec_encode_suback(buf, cap, pkt->suback.packet_id,
						pkt->suback.codes.p, pkt->suback.codes.len);
	case TERN_PKT_DISCONNECT:
	case TERN_PKT_AUTH:
		if (v5)
			return tern_codec_encode_status5(buf, cap, pkt->type, pkt->status.reason,
							 props);
		/* fall through */
	case TERN_PKT_PINGREQ:
	case TERN_PKT_PINGRESP:
		return tern_codec_encode_empty(buf, cap, pkt->type);
	default:
		if (!is_ack(pkt->type))
			return 0;
		if (v5)
			return tern_codec_encode_ack5(buf, cap, pkt->type, pkt->ack.packet_id,
						      pkt->ack.reason, props);
		return tern_codec_encode_ack(buf, cap, pkt->type, pkt->ack.packet_id);
	}
}

/* Re-encode pkt, decode the result and compare the fields that matter. */
static void check_roundtrip(const struct tern_packet *pkt, uint8_t level)
{
	static uint8_t buf[70000 * 5 + 64];
	struct tern_packet again;
	size_t n;
	bool v5;

	if (pkt->type == TERN_PKT_CONNECT) {
		if (pkt->connect.unsupported_level)
			return;
		level = pkt->connect.proto_level; /* a CONNECT says its own */
	}
	v5 = level == TERN_PROTO_V5;
	if (pkt->type == TERN_PKT_SUBSCRIBE || pkt->type == TERN_PKT_UNSUBSCRIBE ||
	    pkt->type == TERN_PKT_CONNACK)
		return;
	n = reencode(pkt, v5, buf, sizeof(buf));
	if (n == 0)
		fail("a decoded packet does not re-encode");
	if (tern_codec_decode(buf, n, level, 0, &again) != (ssize_t)n || again.type != pkt->type)
		fail("a re-encoded packet does not decode to the same type and size");
	if (v5 && !bytes_eq(again.props.raw, pkt->props.raw))
		fail("properties round trip");
	switch (pkt->type) {
	case TERN_PKT_PUBLISH:
		if (again.publish.qos != pkt->publish.qos ||
		    again.publish.retain != pkt->publish.retain ||
		    again.publish.dup != pkt->publish.dup ||
		    again.publish.packet_id != pkt->publish.packet_id ||
		    !bytes_eq(again.publish.topic, pkt->publish.topic) ||
		    !bytes_eq(again.publish.payload, pkt->publish.payload))
			fail("PUBLISH round trip");
		break;
	case TERN_PKT_CONNECT:
		if (again.connect.proto_level != pkt->connect.proto_level ||
		    again.connect.clean_session != pkt->connect.clean_session ||
		    again.connect.keepalive != pkt->connect.keepalive ||
		    again.connect.will != pkt->connect.will ||
		    again.connect.will_qos != pkt->connect.will_qos ||
		    again.connect.will_retain != pkt->connect.will_retain ||
		    again.connect.has_username != pkt->connect.has_username ||
		    again.connect.has_password != pkt->connect.has_password ||
		    !bytes_eq(again.connect.client_id, pkt->connect.client_id) ||
		    !bytes_eq(again.connect.username, pkt->connect.username) ||
		    !bytes_eq(again.connect.password, pkt->connect.password) ||
		    !bytes_eq(again.connect.will_topic, pkt->connect.will_topic) ||
		    !bytes_eq(again.connect.will_payload, pkt->connect.will_payload) ||
		    (v5 && !bytes_eq(again.connect.will_props.raw, pkt->connect.will_props.raw)))
			fail("CONNECT round trip");
		break;
	case TERN_PKT_SUBACK:
	case TERN_PKT_UNSUBACK:
		if (again.suback.packet_id != pkt->suback.packet_id ||
		    !bytes_eq(again.suback.codes, pkt->suback.codes))
			fail("SUBACK/UNSUBACK round trip");
		break;
	case TERN_PKT_DISCONNECT:
	case TERN_PKT_AUTH:
		if (again.status.reason != pkt->status.reason)
			fail("DISCONNECT/AUTH round trip");
		break;
	default:
		if (is_ack(pkt->type) && (again.ack.packet_id != pkt->ack.packet_id ||
					  again.ack.reason != pkt->ack.reason))
			fail("ack round trip");
		break;
	}
}

/* Decode the whole stream at once; records each packet and the final result. */
static size_t decode_whole(const uint8_t *s, size_t len, uint8_t level, size_t max_packet,
			   struct decoded *out)
{
	size_t off = 0, n = 0;

	while (n < MAX_PKTS) {
		struct tern_packet pkt;
		ssize_t r = tern_codec_decode(s + off, len - off, level, max_packet, &pkt);

		out[n].len = r;
		out[n].type = r > 0 ? (uint8_t)pkt.type : 0;
		n++;
		if (r <= 0)
			break;
		if ((size_t)r > len - off)
			fail("decoder claims more bytes than it was given");
		if (pkt.type == TERN_PKT_SUBSCRIBE || pkt.type == TERN_PKT_UNSUBSCRIBE)
			check_filters(&pkt);
		check_roundtrip(&pkt, level);
		off += (size_t)r;
	}
	return n;
}

/*
 * Feed the stream in pieces into an exact-size heap copy of what is buffered
 * (so ASan sees any read past it), as tern_conn_input does, and compare.
 */
static void decode_split(const uint8_t *s, size_t len, uint8_t level, size_t max_packet,
			 uint32_t seed, const struct decoded *want, size_t n_want)
{
	size_t fed = 0, start = 0, n = 0;

	while (n < n_want) {
		size_t piece = seed % 7 == 0 ? len - fed : (seed % 23) + 1;
		uint8_t *copy;
		ssize_t r;

		seed = seed * 1103515245u + 12345u;
		if (piece > len - fed)
			piece = len - fed;
		fed += piece;
		for (;;) {
			struct tern_packet pkt;
			size_t avail = fed - start;

			copy = malloc(avail ? avail : 1);
			if (!copy)
				abort();
			memcpy(copy, s + start, avail);
			r = tern_codec_decode(copy, avail, level, max_packet, &pkt);
			free(copy);
			if (r == -EAGAIN && fed < len)
				break; /* wait for the next piece */
			if (r != want[n].len || (r > 0 && pkt.type != want[n].type))
				fail("split decoding differs from whole decoding");
			n++;
			if (r <= 0 || n == n_want)
				return;
			start += (size_t)r;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t levels[4] = {0, TERN_PROTO_V31, TERN_PROTO_V311, TERN_PROTO_V5};
	static const size_t max_packets[4] = {0, 0, 64, 1024};
	static struct decoded want[MAX_PKTS];
	uint8_t level;
	size_t max_packet, n;

	if (size < 2)
		return 0;
	level = levels[data[0] & 3];
	max_packet = max_packets[(data[0] >> 2) & 3];
	n = decode_whole(data + 2, size - 2, level, max_packet, want);
	decode_split(data + 2, size - 2, level, max_packet, data[1], want, n);
	return 0;
}
