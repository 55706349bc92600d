/* SPDX-License-Identifier: MIT */
/*
 * MQTT 5.0 properties (section 2.2.2): the table of every property (its
 * identifier, data type and the packets it may appear in), a validating
 * zero-copy decoder for a property block, an iterator over a validated block
 * (user properties are forwarded unchanged and in order by re-walking it) and
 * a bounds-checked writer for building blocks. Never allocates.
 */
#ifndef TERN_PROPS_H
#define TERN_PROPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/mqtt_types.h"

enum tern_prop_id {
	TERN_PROP_PAYLOAD_FORMAT = 0x01,
	TERN_PROP_MESSAGE_EXPIRY = 0x02,
	TERN_PROP_CONTENT_TYPE = 0x03,
	TERN_PROP_RESPONSE_TOPIC = 0x08,
	TERN_PROP_CORRELATION_DATA = 0x09,
	TERN_PROP_SUBSCRIPTION_ID = 0x0B,
	TERN_PROP_SESSION_EXPIRY = 0x11,
	TERN_PROP_ASSIGNED_CLIENT_ID = 0x12,
	TERN_PROP_SERVER_KEEPALIVE = 0x13,
	TERN_PROP_AUTH_METHOD = 0x15,
	TERN_PROP_AUTH_DATA = 0x16,
	TERN_PROP_REQUEST_PROBLEM_INFO = 0x17,
	TERN_PROP_WILL_DELAY = 0x18,
	TERN_PROP_REQUEST_RESPONSE_INFO = 0x19,
	TERN_PROP_RESPONSE_INFO = 0x1A,
	TERN_PROP_SERVER_REFERENCE = 0x1C,
	TERN_PROP_REASON_STRING = 0x1F,
	TERN_PROP_RECEIVE_MAXIMUM = 0x21,
	TERN_PROP_TOPIC_ALIAS_MAXIMUM = 0x22,
	TERN_PROP_TOPIC_ALIAS = 0x23,
	TERN_PROP_MAXIMUM_QOS = 0x24,
	TERN_PROP_RETAIN_AVAILABLE = 0x25,
	TERN_PROP_USER_PROPERTY = 0x26,
	TERN_PROP_MAXIMUM_PACKET_SIZE = 0x27,
	TERN_PROP_WILDCARD_SUB_AVAILABLE = 0x28,
	TERN_PROP_SUB_ID_AVAILABLE = 0x29,
	TERN_PROP_SHARED_SUB_AVAILABLE = 0x2A,
};

#define TERN_PROP_ID_MAX 0x2A

enum tern_prop_type {
	TERN_PROP_T_BYTE = 1,
	TERN_PROP_T_U16,
	TERN_PROP_T_U32,
	TERN_PROP_T_VARINT,
	TERN_PROP_T_UTF8,
	TERN_PROP_T_BINARY,
	TERN_PROP_T_UTF8_PAIR,
};

/*
 * Where a block sits: a packet type (enum tern_pkt_type, CONNECT..AUTH), or
 * the will properties inside CONNECT, which have their own set.
 */
#define TERN_PROPS_CTX_WILL 0

/* Bit for property id in tern_props.present. */
#define TERN_PROP_BIT(id) (UINT64_C(1) << (id))

/*
 * A decoded, validated property block. Single-use properties are copied into
 * their fields and flagged in `present`; strings and binary data point into
 * the input buffer. Repeatable ones (user properties, and subscription
 * identifiers in a PUBLISH) are counted and read back with the iterator over
 * `raw`.
 */
struct tern_props {
	uint64_t present;      /* TERN_PROP_BIT(id) for each property seen */
	struct tern_bytes raw; /* the block's properties, without its length */

	uint8_t payload_format;
	uint8_t request_problem_info;
	uint8_t request_response_info;
	uint8_t maximum_qos;
	uint8_t retain_available;
	uint8_t wildcard_sub_available;
	uint8_t sub_id_available;
	uint8_t shared_sub_available;
	uint16_t server_keepalive;
	uint16_t receive_maximum;
	uint16_t topic_alias_maximum;
	uint16_t topic_alias;
	uint32_t message_expiry;
	uint32_t session_expiry;
	uint32_t will_delay;
	uint32_t maximum_packet_size;
	uint32_t subscription_id; /* the first one */
	unsigned n_subscription_ids;
	unsigned n_user_props;
	struct tern_bytes content_type;
	struct tern_bytes response_topic;
	struct tern_bytes correlation_data;
	struct tern_bytes assigned_client_id;
	struct tern_bytes auth_method;
	struct tern_bytes auth_data;
	struct tern_bytes response_info;
	struct tern_bytes server_reference;
	struct tern_bytes reason_string;
};

/* One property as the iterator returns it. */
struct tern_prop {
	uint8_t id;
	enum tern_prop_type type;
	uint32_t u;	     /* BYTE, U16, U32 and VARINT values */
	struct tern_bytes s; /* UTF8 and BINARY values; the name of a UTF8_PAIR */
	struct tern_bytes v; /* the value of a UTF8_PAIR */
};

struct tern_prop_iter {
	const uint8_t *p;
	const uint8_t *end;
};

/* The data type of a property id, or 0 when the id is not a property. Thread-safe. */
enum tern_prop_type tern_props_type(unsigned id);

/* True when property id may appear in a block of this context. Thread-safe. */
bool tern_props_allowed(unsigned id, unsigned ctx);

/*
 * Decode the property block at buf: its Variable Byte Integer length, then
 * the properties. ctx is the packet type or TERN_PROPS_CTX_WILL. On success
 * returns the bytes consumed (length field included) and fills out. On error
 * returns -EPROTO and sets *reason to:
 *  - TERN_RC_MALFORMED_PACKET (0x81): the block runs past len, a bad length
 *    encoding, an unknown identifier or one not allowed in ctx, a truncated
 *    value, invalid UTF-8 (or U+0000) in a string;
 *  - TERN_RC_PROTOCOL_ERROR (0x82): a single-use property given twice, or a
 *    value the spec forbids (0 for receive maximum, maximum packet size or
 *    subscription identifier; more than 1 for the byte flags and payload
 *    format indicator). A topic alias of 0 is accepted here: it is invalid
 *    (0x94), which the receiver decides together with its maximum.
 * Pure function; thread-safe. Never reads past buf + len.
 */
int tern_props_decode(const uint8_t *buf, size_t len, unsigned ctx, struct tern_props *out,
		      uint8_t *reason);

/* Walk a block that tern_props_decode accepted (props->raw). */
void tern_props_iter_init(struct tern_prop_iter *it, const struct tern_props *props);
/* Next property in wire order; false at the end. Cannot fail on a validated block. */
bool tern_props_next(struct tern_prop_iter *it, struct tern_prop *prop);

/*
 * Builds the properties of one block into a caller's buffer. Writes past cap
 * are not made; `overflow` then records that the block did not fit, and the
 * caller must not use it. Thread-safe for distinct writers.
 */
struct tern_props_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

void tern_props_writer_init(struct tern_props_writer *w, uint8_t *buf, size_t cap);
/* A BYTE, U16, U32 or VARINT property; the type comes from the table. */
void tern_props_put_int(struct tern_props_writer *w, uint8_t id, uint32_t value);
/* A UTF8 or BINARY property (len <= 65535, else overflow). */
void tern_props_put_bytes(struct tern_props_writer *w, uint8_t id, const void *p, size_t len);
/* A user property (name and value, each <= 65535 bytes). */
void tern_props_put_pair(struct tern_props_writer *w, const struct tern_bytes *name,
			 const struct tern_bytes *value);
/* Append a whole property (as returned by the iterator), e.g. to forward it. */
void tern_props_put(struct tern_props_writer *w, const struct tern_prop *prop);

/* Encoded size of one property (identifier included). Thread-safe. */
size_t tern_props_size(const struct tern_prop *prop);

/* Wire size of a block holding len bytes of properties (its length field included). */
size_t tern_props_block_size(size_t len);

#endif
