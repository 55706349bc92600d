/* SPDX-License-Identifier: MIT */
/*
 * Authorisation in the engine: the broker's security snapshot (auth.h)
 * applied to sessions and messages.
 *
 * Subscriptions are classified against the ACL when made (acl.h,
 * tern_acl_read_scope): a filter with nothing readable is refused, a fully
 * readable one is stored as usual, and only a partly readable one carries
 * TERN_SUB_ACL_CHECK in its tree options, so that delivery checks each of
 * its messages. Without an acl_file no subscription has the flag and
 * delivery costs nothing extra. A new snapshot (SIGHUP) or a new user name
 * for a session re-classifies the session's subscriptions; each worker does
 * so for its own sessions (tern_security_poll) before it next routes a
 * message it received or handles its inbox: one load and compare per
 * published message, nothing per subscriber.
 */
#ifndef TERN_SECURITY_H
#define TERN_SECURITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tern_auth;
struct tern_broker;
struct tern_session;
struct tern_worker;

/*
 * Tree options bit of a partly readable subscription (QoS in bits 0-1; MQTT 5
 * uses bits 2-5 and leaves 6-7 reserved, so this internal bit never clashes).
 */
#define TERN_SUB_ACL_CHECK 0x80u

/*
 * The current snapshot (rcu_dereference). Call on a worker thread online for
 * RCU and hold the pointer only within the loop turn. NULL before main
 * installed one (every client then may do everything).
 */
const struct tern_auth *tern_security_current(const struct tern_broker *b);

/*
 * Tree options for a new subscription of session s to the valid filter:
 * qos, plus TERN_SUB_ACL_CHECK when only part of what it matches is
 * readable; -EACCES when nothing is. Home worker, online for RCU.
 */
int tern_security_sub_options(const struct tern_broker *b, const struct tern_session *s,
			      const uint8_t *filter, size_t len, uint8_t qos);

/*
 * May session s receive a message on the topic (its last connection's user
 * name, client id and listener)? For subscriptions with TERN_SUB_ACL_CHECK
 * and retained messages sent to them. Worker thread, online for RCU.
 */
bool tern_security_may_read(const struct tern_broker *b, const struct tern_session *s,
			    const uint8_t *topic, size_t len);

/*
 * May a client (user name, NULL when anonymous; client id; the listener it
 * came in on) publish to the topic? Publishing to a topic starting with
 * "$SYS" is never allowed, as in mosquitto. Worker thread, online for RCU.
 */
bool tern_security_may_write(const struct tern_broker *b, unsigned listener, const char *username,
			     const char *client_id, const uint8_t *topic, size_t len);

/*
 * Re-classify every subscription of s against the current snapshot (after
 * the user name of the session changed). Returns 0 or -ENOMEM: then a
 * subscription that needed per-message checks and could not get them was
 * removed (logged), others keep their old options. Home worker, online for RCU.
 */
int tern_security_refresh_session(struct tern_worker *w, struct tern_session *s);

/*
 * If a new snapshot was published since the worker last looked, re-classify
 * the subscriptions of every session homed on it. Called once per loop turn
 * (before the inbox) and before each publish is routed. Owning worker,
 * online for RCU.
 */
void tern_security_poll(struct tern_worker *w);

#endif
