/* SPDX-License-Identifier: MIT */
/* Client id registry and the cross-worker session takeover handshake (design note in registry.h). */
#define _LGPL_SOURCE
#include <errno.h>
#include <string.h>

#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>

#include "broker/alloc.h"
#include "broker/broker.h"
#include "broker/conn.h"
#include "broker/handlers.h"
#include "broker/log.h"
#include "broker/registry.h"
#include "broker/session.h"
#include "broker/worker.h"

struct id_key {
	const char *id;
	size_t len;
};

/* FNV-1a: client ids are short; this is the connect path, not the message path. */
static unsigned long hash_id(const char *id, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (uint8_t)id[i];
		h *= 1099511628211ull;
	}
	return (unsigned long)h;
}

static int match_id(struct cds_lfht_node *node, const void *key)
{
	const struct tern_session *s = caa_container_of(node, struct tern_session, registry_node);
	const struct id_key *k = key;

	return s->client_id_len == k->len && memcmp(s->client_id, k->id, k->len) == 0;
}

int tern_registry_init(struct tern_broker *b)
{
	b->registry = cds_lfht_new(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	return b->registry ? 0 : -ENOMEM;
}

void tern_registry_fini(struct tern_broker *b)
{
	if (b->registry)
		cds_lfht_destroy(b->registry, NULL);
	b->registry = NULL;
}

static struct tern_session *lookup(struct tern_broker *b, const char *id, size_t len)
{
	struct id_key key = {id, len};
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	cds_lfht_lookup(b->registry, hash_id(id, len), match_id, &key, &it);
	node = cds_lfht_iter_get_node(&it);
	return node ? caa_container_of(node, struct tern_session, registry_node) : NULL;
}

int tern_registry_claim(struct tern_worker *w, const char *id, size_t len,
			struct tern_session **out)
{
	struct tern_broker *b = w->broker;
	struct tern_session *s;
	int kind;

	pthread_mutex_lock(&b->registry_lock);
	s = lookup(b, id, len);
	if (!s) {
		s = tern_session_create(w, id, len);
		if (!s) {
			pthread_mutex_unlock(&b->registry_lock);
			return -ENOMEM;
		}
		cds_lfht_add(b->registry, hash_id(id, len), &s->registry_node);
		kind = TERN_CLAIM_NEW;
	} else if (s->in_transit) {
		kind = TERN_CLAIM_BUSY;
	} else if (s->home == w->id) {
		kind = TERN_CLAIM_LOCAL;
	} else {
		s->in_transit = true;
		s->dest = w->id;
		kind = TERN_CLAIM_REMOTE;
	}
	pthread_mutex_unlock(&b->registry_lock);

	if (kind == TERN_CLAIM_REMOTE &&
	    tern_worker_post(b->workers[s->home], TERN_INBOX_TAKEOVER, s) < 0) {
		pthread_mutex_lock(&b->registry_lock);
		s->in_transit = false;
		pthread_mutex_unlock(&b->registry_lock);
		return -ENOMEM;
	}
	*out = s;
	return kind;
}

int tern_registry_remove(struct tern_worker *w, struct tern_session *s)
{
	struct tern_broker *b = w->broker;
	int ret = 0;

	pthread_mutex_lock(&b->registry_lock);
	if (s->in_transit)
		ret = -EBUSY;
	else
		cds_lfht_del(b->registry, &s->registry_node);
	pthread_mutex_unlock(&b->registry_lock);
	return ret;
}

void tern_registry_on_takeover(struct tern_worker *w, struct tern_session *s)
{
	unsigned dest = s->dest;

	if (s->conn) {
		TERN_STAT_ADD(w, takeovers, 1);
		tern_conn_close(s->conn, TERN_CLOSE_TAKEN_OVER);
	}
	/*
	 * Last touches of the session on this worker: unlink it, then move its
	 * subscriptions (readers on dest see it from then on), then hand it over.
	 */
	cds_list_del(&s->worker_node);
	tern_session_move_subs(w, s, w->id, dest);
	if (tern_worker_post(w->broker->workers[dest], TERN_INBOX_ADOPT, s) < 0) {
		/* Cannot hand it over: keep it here rather than lose it. */
		tern_log(TERN_LOG_ERR, "out of memory handing client %s over", s->client_id);
		tern_session_move_subs(w, s, dest, w->id);
		cds_list_add(&s->worker_node, &w->sessions);
		pthread_mutex_lock(&w->broker->registry_lock);
		s->in_transit = false;
		pthread_mutex_unlock(&w->broker->registry_lock);
	}
}

void tern_registry_on_adopt(struct tern_worker *w, struct tern_session *s)
{
	struct tern_conn *c, *found = NULL;

	pthread_mutex_lock(&w->broker->registry_lock);
	s->home = w->id;
	s->in_transit = false;
	pthread_mutex_unlock(&w->broker->registry_lock);
	cds_list_add(&s->worker_node, &w->sessions);
	s->offline_since_ms = w->now_ms;

	cds_list_for_each_entry(c, &w->arrivals, arrival_node)
	{
		if (c->awaiting == s) {
			found = c;
			break;
		}
	}
	if (!found) {
		/* The new connection went away meanwhile: the session stays offline here. */
		if (s->clean && tern_registry_remove(w, s) == 0)
			tern_session_destroy(w, s);
		return;
	}
	cds_list_del(&found->arrival_node);
	found->awaiting = NULL;
	tern_connect_complete(found, s);
	tern_conn_process_buffered(found);
}
