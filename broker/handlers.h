/* SPDX-License-Identifier: MIT */
/*
 * One handler per MQTT packet type, called by the dispatch in conn.c with a
 * decoded packet. Each returns 0, or a negative errno after it closed the
 * connection (tern_conn_close). Owning worker only.
 */
#ifndef TERN_HANDLERS_H
#define TERN_HANDLERS_H

#include <stdbool.h>

struct tern_conn;
struct tern_packet;
struct tern_session;

int tern_handle_connect(struct tern_conn *c, const struct tern_packet *p);
int tern_handle_publish(struct tern_conn *c, const struct tern_packet *p);
int tern_handle_puback(struct tern_conn *c, const struct tern_packet *p);
int tern_handle_pubrec(struct tern_conn *c, const struct tern_packet *p);
int tern_handle_pubrel(struct tern_conn *c, const struct tern_packet *p);
int tern_handle_pubcomp(struct tern_conn *c, const struct tern_packet *p);
int tern_handle_subscribe(struct tern_conn *c, const struct tern_packet *p);
int tern_handle_unsubscribe(struct tern_conn *c, const struct tern_packet *p);
int tern_handle_pingreq(struct tern_conn *c, const struct tern_packet *p);
int tern_handle_disconnect(struct tern_conn *c, const struct tern_packet *p);

/*
 * Finish a CONNECT once the connection holds its session: reset it for a clean
 * session, send CONNACK (session present when kept), resume delivery.
 * Used directly and when a session arrives from another worker; input that
 * waited meanwhile is the caller's to process (tern_conn_process_buffered)
 * once it is not inside tern_conn_input.
 */
void tern_connect_complete(struct tern_conn *c, struct tern_session *s);

/* Retry the registry claim of a connection in TERN_CONN_CLAIM_RETRY. */
void tern_connect_retry(struct tern_conn *c);

#endif
