/* SPDX-License-Identifier: MIT */
/*
 * MQTT codec: bytes <-> packet structs for MQTT 3.1 (level 3), 3.1.1 (level 4)
 * and 5.0 (level 5, with properties: broker/props.h). Decoding is incremental
 * and zero-copy: decoded strings point into the input buffer, which must stay
 * valid while the packet struct is used. The codec never reads a socket and
 * never allocates.
 */
#ifndef TERN_CODEC_H
#define TERN_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "broker/mqtt_types.h"
#include "broker/props.h"

#define TERN_CODEC_MAX_REMAINING 268435455u /* 4-byte variable length integer limit */
/* Largest fixed header of any packet: type byte + 4 length bytes. */
#define TERN_CODEC_FIXED_HDR_MAX 5

/* CONNACK return codes of MQTT 3.1.1 (section 3.2.2.3). */
enum tern_connack_rc {
	TERN_CONNACK_ACCEPTED = 0,
	TERN_CONNACK_BAD_PROTOCOL = 1,
	TERN_CONNACK_ID_REJECTED = 2,
	TERN_CONNACK_UNAVAILABLE = 3,
	TERN_CONNACK_BAD_CREDENTIALS = 4,
	TERN_CONNACK_NOT_AUTHORIZED = 5,
};

#define TERN_SUBACK_FAILURE 0x80

/* SUBSCRIBE options byte (5.0 section 3.8.3.1; 3.1.1 has only the QoS bits). */
#define TERN_SUBOPT_QOS_MASK		0x03
#define TERN_SUBOPT_NO_LOCAL		0x04
#define TERN_SUBOPT_RETAIN_AS_PUBLISHED 0x08
#define TERN_SUBOPT_RETAIN_HANDLING(o)	(((o) >> 4) & 3)

struct tern_connect {
	uint8_t proto_level;
	/*
	 * The protocol name was valid ("MQTT" or "MQIsdp") but the level is one this
	 * codec does not speak: only proto_level is filled; the broker answers
	 * CONNACK 1 (unacceptable protocol version) and closes.
	 */
	bool unsupported_level;
	/* Level 5: the will's own properties (the CONNECT's are in tern_packet.props). */
	struct tern_props will_props;
	bool clean_session;
	bool will;
	uint8_t will_qos;
	bool will_retain;
	bool has_username;
	bool has_password;
	uint16_t keepalive;
	struct tern_bytes client_id; /* may be empty */
	struct tern_bytes will_topic;
	struct tern_bytes will_payload;
	struct tern_bytes username;
	struct tern_bytes password;
};

struct tern_connack {
	bool session_present;
	uint8_t rc; /* 3.1.1 return code, or the 5.0 reason code */
};

struct tern_publish {
	uint8_t qos;
	bool dup;
	bool retain;
	uint16_t packet_id;	 /* 0 when qos == 0 */
	struct tern_bytes topic; /* level 5: empty when a topic alias stands for it */
	struct tern_bytes payload;
};

/* PUBACK, PUBREC, PUBREL, PUBCOMP: a packet id and, in 5.0, a reason code. */
struct tern_ack {
	uint16_t packet_id;
	uint8_t reason; /* 0 (success) when absent or before 5.0 */
};

/*
 * SUBSCRIBE / UNSUBSCRIBE: the topic filter list is validated by the decoder
 * and walked with tern_codec_filter_next(), so decoding never allocates.
 */
struct tern_sub_list {
	uint16_t packet_id;
	size_t count;		   /* >= 1 */
	struct tern_bytes entries; /* raw payload: filters (and option bytes for SUBSCRIBE) */
};

/* SUBACK, and UNSUBACK (whose codes are empty before 5.0). */
struct tern_suback {
	uint16_t packet_id;
	struct tern_bytes codes;
};

/* DISCONNECT and AUTH: a reason code, 0 when absent or before 5.0. */
struct tern_status {
	uint8_t reason;
};

struct tern_packet {
	enum tern_pkt_type type;
	uint8_t flags; /* low nibble of the fixed header byte */
	/*
	 * When decoding fails with -EPROTO: the 5.0 reason for the DISCONNECT,
	 * TERN_RC_MALFORMED_PACKET or TERN_RC_PROTOCOL_ERROR.
	 */
	uint8_t error_reason;
	union {
		struct tern_connect connect;
		struct tern_connack connack;
		struct tern_publish publish;
		struct tern_ack ack;
		struct tern_sub_list subscribe; /* SUBSCRIBE and UNSUBSCRIBE */
		struct tern_suback suback;	/* SUBACK and UNSUBACK */
		struct tern_status status;	/* DISCONNECT and AUTH */
	};
	/* Level 5: the packet's properties (empty for other levels and for PING*). */
	struct tern_props props;
};

/* Walks the filter list of a decoded SUBSCRIBE or UNSUBSCRIBE. */
struct tern_filter_iter {
	const uint8_t *p;
	const uint8_t *end;
	bool with_options; /* true for SUBSCRIBE */
};

/*
 * Decode one packet from the start of buf.
 *
 * proto_level is the level agreed at CONNECT (0 before CONNECT; it only changes
 * how version-dependent packets are read). max_packet is the largest total
 * packet size accepted (0 = protocol maximum).
 *
 * Returns the number of bytes the packet occupies (> 0) and fills pkt;
 * -EAGAIN when buf holds only part of a packet (call again with more bytes);
 * -EMSGSIZE when the packet is larger than max_packet (known as soon as the
 * remaining length is read); -EPROTO when the packet is malformed: reserved
 * type 0, wrong fixed header flags, a remaining length over 4 bytes or not
 * matching the fields, QoS 3, packet id 0 where one is required, invalid UTF-8
 * or U+0000 in a string, wildcards in a PUBLISH topic, an invalid topic filter,
 * an empty SUBSCRIBE/UNSUBSCRIBE, bad CONNECT flags or protocol name.
 * AUTH (type 15) is -EPROTO for levels other than 5.
 *
 * Level 5 (and a CONNECT of level 5 whatever proto_level is): every packet's
 * properties are decoded into pkt->props (the will's into
 * pkt->connect.will_props) and validated per broker/props.h; the short forms
 * of acks, DISCONNECT and AUTH (reason and properties omitted) are accepted;
 * a PUBLISH may have an empty topic when it carries a topic alias; a password
 * may come without a user name; subscription options may carry No Local,
 * Retain As Published and Retain Handling (3 is a protocol error) and their
 * reserved bits 6-7 must be 0; reason codes a packet type does not define are
 * protocol errors. On -EPROTO, pkt->error_reason says Malformed Packet or
 * Protocol Error for the DISCONNECT the broker sends.
 *
 * Details: the fixed header byte is judged on its own (bad type or flags are
 * -EPROTO with one byte in hand) and packets of fixed size (acks, CONNACK,
 * PINGREQ, PINGRESP, DISCONNECT) with a wrong remaining length are -EPROTO as
 * soon as the length is read. Non-minimal remaining length encodings are
 * accepted. With proto_level 3, PUBREL/SUBSCRIBE/UNSUBSCRIBE may carry DUP
 * (flags 0xA), which MQTT 3.1 used on retransmission. A CONNECT with a valid
 * protocol name but another level is not read past the level byte. CONNACK
 * refuses reserved return codes (> 5) and session present with a refusal; with
 * proto_level 3 its first byte (unused in 3.1) is ignored.
 *
 * Pure function of its input; thread-safe. Never reads past buf + len.
 */
ssize_t tern_codec_decode(const uint8_t *buf, size_t len, uint8_t proto_level, size_t max_packet,
			  struct tern_packet *pkt);

/* Start walking the filters of a decoded SUBSCRIBE/UNSUBSCRIBE packet. */
void tern_codec_filter_iter_init(struct tern_filter_iter *it, const struct tern_packet *pkt);
/*
 * Next filter (and, for SUBSCRIBE, its options byte: requested QoS in bits 0-1;
 * in 5.0 also No Local (bit 2), Retain As Published (bit 3) and Retain Handling
 * (bits 4-5), see TERN_SUBOPT_*).
 * Returns false at the end. Cannot fail: the decoder validated the list.
 */
bool tern_codec_filter_next(struct tern_filter_iter *it, struct tern_bytes *filter,
			    uint8_t *options);

/*
 * Encoders write one whole packet into buf and return its length, or 0 when
 * cap is too small (nothing useful is written then). They encode what they are
 * given without judging it (tests build malformed packets with them); they also
 * return 0 for a field over 65535 bytes, a packet over the protocol maximum, or
 * a type the function does not encode. Thread-safe.
 */
/*
 * CONNECT of c->proto_level; at level 5 the property blocks are props (NULL
 * for none) and, with a will, c->will_props.raw.
 */
size_t tern_codec_encode_connect(uint8_t *buf, size_t cap, const struct tern_connect *c,
				 const struct tern_bytes *props);
size_t tern_codec_encode_connack(uint8_t *buf, size_t cap, bool session_present, uint8_t rc);
size_t tern_codec_encode_publish(uint8_t *buf, size_t cap, const struct tern_publish *p);
/* PUBACK, PUBREC, PUBREL (flags 0x2 added), PUBCOMP, UNSUBACK. */
size_t tern_codec_encode_ack(uint8_t *buf, size_t cap, enum tern_pkt_type type, uint16_t packet_id);
/* SUBSCRIBE: filters[i] with options[i]; UNSUBSCRIBE: options is NULL. */
size_t tern_codec_encode_sub_list(uint8_t *buf, size_t cap, enum tern_pkt_type type,
				  uint16_t packet_id, const struct tern_bytes *filters,
				  const uint8_t *options, size_t count);
size_t tern_codec_encode_suback(uint8_t *buf, size_t cap, uint16_t packet_id, const uint8_t *codes,
				size_t count);
/* PINGREQ, PINGRESP, DISCONNECT: two bytes. */
size_t tern_codec_encode_empty(uint8_t *buf, size_t cap, enum tern_pkt_type type);

/*
 * MQTT 5.0 encoders. props is a property block's content without its length
 * (NULL for none); the encoder writes the length. Same return rules as above.
 */
size_t tern_codec_encode_connack5(uint8_t *buf, size_t cap, bool session_present, uint8_t reason,
				  const struct tern_bytes *props);
/*
 * PUBACK, PUBREC, PUBREL, PUBCOMP with a reason code. The short forms are
 * used: no reason byte when it is 0 and there are no properties, no property
 * length when there are none.
 */
size_t tern_codec_encode_ack5(uint8_t *buf, size_t cap, enum tern_pkt_type type, uint16_t packet_id,
			      uint8_t reason, const struct tern_bytes *props);
/* SUBACK or UNSUBACK with properties and one reason code per filter. */
size_t tern_codec_encode_suback5(uint8_t *buf, size_t cap, enum tern_pkt_type type,
				 uint16_t packet_id, const struct tern_bytes *props,
				 const uint8_t *codes, size_t count);
/* DISCONNECT or AUTH; empty (2 bytes) when reason is 0 and there are no properties. */
size_t tern_codec_encode_status5(uint8_t *buf, size_t cap, enum tern_pkt_type type, uint8_t reason,
				 const struct tern_bytes *props);
/* A level 5 PUBLISH (tests and clients; the broker sends shared messages by parts). */
size_t tern_codec_encode_publish5(uint8_t *buf, size_t cap, const struct tern_publish *p,
				  const struct tern_bytes *props);
/* A level 5 SUBSCRIBE or UNSUBSCRIBE with properties. */
size_t tern_codec_encode_sub_list5(uint8_t *buf, size_t cap, enum tern_pkt_type type,
				   uint16_t packet_id, const struct tern_bytes *props,
				   const struct tern_bytes *filters, const uint8_t *options,
				   size_t count);

/*
 * The fixed header of a PUBLISH whose variable part is stored elsewhere (the
 * shared message): type/flags byte plus the remaining length for a topic of
 * topic_len bytes, a packet id when qos > 0, and payload_len bytes of payload.
 * Writes at most TERN_CODEC_FIXED_HDR_MAX bytes; returns the count, 0 if the
 * packet would exceed the protocol maximum, topic_len > 65535 or qos > 2.
 */
size_t tern_codec_encode_publish_fixed(uint8_t hdr[TERN_CODEC_FIXED_HDR_MAX], uint8_t qos, bool dup,
				       bool retain, size_t topic_len, size_t payload_len);

/*
 * Total wire size of a PUBLISH with these parts (fixed header included); 0 in
 * the cases where tern_codec_encode_publish_fixed() returns 0.
 */
size_t tern_codec_publish_size(uint8_t qos, size_t topic_len, size_t payload_len);

/* Human-readable packet type name ("CONNECT", ...), "RESERVED" if unknown. */
const char *tern_codec_type_name(unsigned type);

#endif
