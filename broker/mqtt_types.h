/* SPDX-License-Identifier: MIT */
/*
 * Protocol-wide MQTT definitions shared by the codec and the property code:
 * protocol levels, packet types and the zero-copy byte span.
 */
#ifndef TERN_MQTT_TYPES_H
#define TERN_MQTT_TYPES_H

#include <stddef.h>
#include <stdint.h>

#define TERN_PROTO_V31	3 /* "MQIsdp" */
#define TERN_PROTO_V311 4 /* "MQTT" */
#define TERN_PROTO_V5	5

enum tern_pkt_type {
	TERN_PKT_CONNECT = 1,
	TERN_PKT_CONNACK = 2,
	TERN_PKT_PUBLISH = 3,
	TERN_PKT_PUBACK = 4,
	TERN_PKT_PUBREC = 5,
	TERN_PKT_PUBREL = 6,
	TERN_PKT_PUBCOMP = 7,
	TERN_PKT_SUBSCRIBE = 8,
	TERN_PKT_SUBACK = 9,
	TERN_PKT_UNSUBSCRIBE = 10,
	TERN_PKT_UNSUBACK = 11,
	TERN_PKT_PINGREQ = 12,
	TERN_PKT_PINGRESP = 13,
	TERN_PKT_DISCONNECT = 14,
	TERN_PKT_AUTH = 15,
};

/* A length-delimited string or binary field pointing into the decoded buffer. */
struct tern_bytes {
	const uint8_t *p;
	size_t len;
};

#endif
