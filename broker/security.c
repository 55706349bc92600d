/* SPDX-License-Identifier: MIT */
/* Authorisation in the engine: subscription classes, per-message and publish checks. */
#define _LGPL_SOURCE
#include <errno.h>
#include <string.h>

#include <urcu-qsbr.h>

#include "broker/acl.h"
#include "broker/auth.h"
#include "broker/broker.h"
#include "broker/log.h"
#include "broker/security.h"
#include "broker/session.h"
#include "broker/share.h"
#include "broker/worker.h"

const struct tern_auth *tern_security_current(const struct tern_broker *b)
{
	return rcu_dereference(b->auth);
}

static const struct tern_acl *session_acl(const struct tern_broker *b, const struct tern_session *s)
{
	const struct tern_auth *a = tern_security_current(b);

	return a ? tern_auth_domain(a, s->listener)->acl : NULL;
}

int tern_security_sub_options(const struct tern_broker *b, const struct tern_session *s,
			      const uint8_t *filter, size_t len, uint8_t qos)
{
	const struct tern_acl *acl = session_acl(b, s);

	if (!acl)
		return qos;
	switch (tern_acl_read_scope(acl, s->username, s->client_id, filter, len)) {
	case TERN_ACL_SCOPE_NONE:
		return -EACCES;
	case TERN_ACL_SCOPE_PARTIAL:
		return qos | TERN_SUB_ACL_CHECK;
	case TERN_ACL_SCOPE_ALL:
		break;
	}
	return qos;
}

bool tern_security_may_read(const struct tern_broker *b, const struct tern_session *s,
			    const uint8_t *topic, size_t len)
{
	const struct tern_acl *acl = session_acl(b, s);

	return !acl || tern_acl_check(acl, s->username, s->client_id, topic, len, TERN_ACL_READ);
}

bool tern_security_may_write(const struct tern_broker *b, unsigned listener, const char *username,
			     const char *client_id, const uint8_t *topic, size_t len)
{
	const struct tern_auth *a = tern_security_current(b);
	const struct tern_acl *acl = a ? tern_auth_domain(a, listener)->acl : NULL;

	if (len >= 4 && memcmp(topic, "$SYS", 4) == 0)
		return false;
	return !acl || tern_acl_check(acl, username, client_id, topic, len, TERN_ACL_WRITE);
}

int tern_security_refresh_session(struct tern_worker *w, struct tern_session *s)
{
	const struct tern_broker *b = w->broker;
	int ret = 0;

	for (size_t i = 0; i < s->n_subs;) {
		struct tern_session_sub *sub = &s->subs[i];
		uint8_t base = sub->options & (uint8_t)~TERN_SUB_ACL_CHECK;
		const uint8_t *filter = (const uint8_t *)sub->filter, *inner;
		size_t len = sub->len, inner_len;
		int opt;

		/* A shared subscription is judged by the filter inside it. */
		if (tern_share_parse(filter, len, &inner, &inner_len) == 1) {
			filter = inner;
			len = inner_len;
		}
		opt = tern_security_sub_options(b, s, filter, len, base);
		/* Kept but unreadable: delivery checks, and refuses, each message. */
		if (opt < 0)
			opt = base | TERN_SUB_ACL_CHECK;
		if (opt != sub->options &&
		    tern_session_subscribe(w, s, (const uint8_t *)sub->filter, sub->len,
					   (uint8_t)opt, sub->sub_id, NULL) < 0) {
			ret = -ENOMEM;
			/* Fail closed: one that now needs checks but could not get them goes. */
			if ((opt & TERN_SUB_ACL_CHECK) && !(sub->options & TERN_SUB_ACL_CHECK)) {
				tern_log(TERN_LOG_ERR,
					 "Out of memory applying the ACL: removed the subscription "
					 "of %s to '%s'.",
					 s->client_id, sub->filter);
				/* The last subscription moves into slot i: look at i again. */
				if (tern_session_unsubscribe(w, s, (const uint8_t *)sub->filter,
							     sub->len) == 0)
					continue;
			}
		}
		i++;
	}
	return ret;
}

void tern_security_poll(struct tern_worker *w)
{
	const struct tern_auth *a = tern_security_current(w->broker);
	struct tern_session *s;

	if (!a || a->gen == w->auth_gen)
		return;
	/*
	 * A session a takeover is moving away has its tree entries in flux: the
	 * connection that takes it classifies them again (tern_connect_complete).
	 */
	cds_list_for_each_entry(s, &w->sessions, worker_node)
	{
		if (!s->in_transit)
			tern_security_refresh_session(w, s);
	}
	w->auth_gen = a->gen;
}
