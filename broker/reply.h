/* SPDX-License-Identifier: MIT */
/*
 * Control packets the broker sends, in the connection's protocol version:
 * handlers decide with 5.0 reason codes (the richer set) and these encode
 * them for 5.0 or map them to what 3.1/3.1.1 can say. One place for the
 * version differences of every reply.
 */
#ifndef TERN_REPLY_H
#define TERN_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/codec.h"

struct tern_conn;

/*
 * CONNACK. reason is a 5.0 CONNACK reason code; for 3.1/3.1.1 it is mapped
 * to the nearest return code. props is the 5.0 property block content (NULL
 * for none; ignored before 5.0). Returns 0 or -ENOMEM. Owning worker only.
 */
int tern_reply_connack(struct tern_conn *c, bool session_present, uint8_t reason,
		       const struct tern_bytes *props);

/*
 * PUBACK, PUBREC, PUBREL or PUBCOMP with a 5.0 reason code (dropped before
 * 5.0, whose acks carry none). Returns 0 or -ENOMEM. Owning worker only.
 */
int tern_reply_ack(struct tern_conn *c, enum tern_pkt_type type, uint16_t packet_id,
		   uint8_t reason);

/*
 * SUBACK or UNSUBACK with one 5.0 reason code per filter (a granted QoS is its
 * own code). Before 5.0 a SUBACK failure becomes 0x80 and an UNSUBACK carries
 * no codes. Returns 0 or -ENOMEM. Owning worker only.
 */
int tern_reply_sub_list(struct tern_conn *c, enum tern_pkt_type type, uint16_t packet_id,
			const uint8_t *codes, size_t count);

/*
 * DISCONNECT with reason and, when the client accepts problem information,
 * the reason string why (NULL for none); for a 5.0 connection only (3.1.1
 * has no server DISCONNECT: nothing is sent). Returns 0 or -ENOMEM. Owning
 * worker only.
 */
int tern_reply_disconnect(struct tern_conn *c, uint8_t reason, const char *why);

/*
 * A refused CONNACK with reason and, for 5.0, the reason string why (NULL for
 * none). Returns 0 or -ENOMEM. Owning worker only.
 */
int tern_reply_connack_refused(struct tern_conn *c, uint8_t reason, const char *why);

/* The 3.1.1 CONNACK return code nearest to a 5.0 CONNACK reason. Thread-safe. */
uint8_t tern_reply_connack_rc311(uint8_t reason);

#endif
