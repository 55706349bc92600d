/* SPDX-License-Identifier: MIT */
/*
 * tern-bench's own minimal MQTT 3.1.1 and 5.0 client codec: encoders for the packets a
 * benchmark client sends and one decoder for what a broker sends back. It stays
 * separate from broker/codec so that tern-bench measures any broker without sharing
 * (or trusting) tern's engine code. Never reads a socket, never allocates.
 */
#ifndef TB_MQTT_WIRE_H
#define TB_MQTT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TB_MQTT_V311 4
#define TB_MQTT_V5   5

/* Largest fixed header: type byte plus a 4-byte remaining length. */
#define TB_MQTT_FIXED_MAX     5
#define TB_MQTT_MAX_REMAINING 268435455u

enum tb_mqtt_type {
	TB_CONNECT = 1,
	TB_CONNACK = 2,
	TB_PUBLISH = 3,
	TB_PUBACK = 4,
	TB_PUBREC = 5,
	TB_PUBREL = 6,
	TB_PUBCOMP = 7,
	TB_SUBSCRIBE = 8,
	TB_SUBACK = 9,
	TB_UNSUBSCRIBE = 10,
	TB_UNSUBACK = 11,
	TB_PINGREQ = 12,
	TB_PINGRESP = 13,
	TB_DISCONNECT = 14,
	TB_AUTH = 15,
};

/*
 * One decoded packet. Pointers point into the decoded buffer, which must stay valid
 * while the struct is used. Fields not carried by a packet type are zero.
 */
struct tb_mqtt_pkt {
	uint8_t type;
	uint8_t flags;	      /* low nibble of the first byte */
	uint8_t qos;	      /* PUBLISH */
	bool dup;	      /* PUBLISH */
	bool retain;	      /* PUBLISH */
	bool session_present; /* CONNACK */
	/* CONNACK return/reason code; v5 reason code of PUBACK..PUBCOMP and DISCONNECT;
	 * SUBACK: the first granted QoS or failure code. */
	uint8_t rc;
	uint16_t id;	      /* packet identifier, 0 where the packet has none */
	const uint8_t *topic; /* PUBLISH; NULL with topic_len 0 for a v5 alias-only PUBLISH */
	uint16_t topic_len;
	uint16_t topic_alias;	/* v5 PUBLISH property 0x23, 0 if absent */
	uint16_t receive_max;	/* v5 CONNACK property 0x21, 0 if absent */
	uint16_t alias_max;	/* v5 CONNACK property 0x22, 0 if absent */
	const uint8_t *payload; /* PUBLISH payload; SUBACK: the return codes */
	size_t payload_len;
	size_t wire_len; /* bytes of the whole packet */
};

/*
 * tb_mqtt_decode - decode the packet at the start of buf (len bytes), as sent by a broker
 * to a client speaking version (TB_MQTT_V311 or TB_MQTT_V5).
 * Returns the bytes consumed (> 0), -EAGAIN when buf holds only part of a packet,
 * -EMSGSIZE when the packet is longer than max_len, -EPROTO when it is malformed
 * (bad remaining length, fields beyond the packet, a type a broker never sends).
 * Thread-safe (no shared state); reads nothing past buf + len.
 */
ssize_t tb_mqtt_decode(const uint8_t *buf, size_t len, int version, size_t max_len,
		       struct tb_mqtt_pkt *pkt);

/*
 * tb_mqtt_connect - encode CONNECT (clean session/start, no will, no credentials) into
 * buf. v5 adds Receive Maximum 65535 and, when alias_max > 0, Topic Alias Maximum
 * alias_max so the broker may alias topics on its way out to us.
 * Returns the bytes written, or 0 when cap is too small or client_id longer than 65535.
 */
size_t tb_mqtt_connect(uint8_t *buf, size_t cap, int version, const char *client_id,
		       uint16_t keepalive, uint16_t alias_max);

/*
 * tb_mqtt_subscribe - encode SUBSCRIBE with packet id and n filters, each with the
 * maximum QoS qos. Returns the bytes written, or 0 when cap is too small.
 */
size_t tb_mqtt_subscribe(uint8_t *buf, size_t cap, int version, uint16_t id,
			 const char *const *filters, size_t n, uint8_t qos);

/*
 * tb_mqtt_publish_header - encode the fixed and variable header of a PUBLISH whose
 * payload of payload_len bytes the caller appends right after. v5: alias > 0 adds the
 * Topic Alias property; topic_len 0 with alias > 0 is an alias-only PUBLISH.
 * Returns the header bytes written, or 0 when cap is too small or the packet too long.
 */
size_t tb_mqtt_publish_header(uint8_t *buf, size_t cap, int version, uint8_t qos, uint16_t id,
			      const char *topic, uint16_t topic_len, uint16_t alias,
			      size_t payload_len);

/*
 * tb_mqtt_ack - encode PUBACK, PUBREC, PUBREL or PUBCOMP (type) for packet id: 4 bytes,
 * the v5 success form without a reason code. Returns 4, or 0 when cap < 4.
 */
size_t tb_mqtt_ack(uint8_t *buf, size_t cap, enum tb_mqtt_type type, uint16_t id);

/*
 * tb_mqtt_empty - encode a packet without variable header: PINGREQ or DISCONNECT
 * (v5: reason 0 "normal" is the empty form). Returns 2, or 0 when cap < 2.
 */
size_t tb_mqtt_empty(uint8_t *buf, size_t cap, enum tb_mqtt_type type);

#endif
