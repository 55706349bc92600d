/* SPDX-License-Identifier: MIT */
/* Security snapshots: loading the files a config names, and the CONNECT decision. */
#include <errno.h>
#include <string.h>

#include "broker/acl.h"
#include "broker/alloc.h"
#include "broker/auth.h"
#include "broker/config.h"
#include "broker/passwd.h"

static int load_domain(struct tern_auth_domain *d, const struct tern_security_config *sec,
		       char *err, size_t errlen)
{
	int rc;

	d->allow_anonymous = sec->allow_anonymous;
	if (sec->password_file[0]) {
		rc = tern_passwd_load(sec->password_file, &d->passwd, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (sec->acl_file[0]) {
		rc = tern_acl_load(sec->acl_file, &d->acl, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

struct tern_auth *tern_auth_load(const struct tern_config *cfg, uint64_t gen, char *err,
				 size_t errlen)
{
	unsigned n = cfg->per_listener_settings && cfg->n_listeners ? cfg->n_listeners : 1;
	struct tern_auth *a = tern_calloc(1, sizeof(*a) + n * sizeof(a->d[0]));
	struct tern_security_config global;
	int rc = 0;

	if (!a)
		return NULL;
	a->gen = gen;
	a->n = n;
	global.allow_anonymous = cfg->allow_anonymous;
	memcpy(global.password_file, cfg->password_file, sizeof(global.password_file));
	memcpy(global.acl_file, cfg->acl_file, sizeof(global.acl_file));
	for (unsigned i = 0; i < n && rc == 0; i++) {
		const struct tern_security_config *sec = &global;

		if (cfg->per_listener_settings)
			sec =
			    cfg->n_listeners ? &cfg->listeners[i].security : &cfg->default_security;
		rc = load_domain(&a->d[i], sec, err, errlen);
		if (a->d[i].acl)
			a->any_acl = true;
	}
	if (rc < 0) {
		tern_auth_free(a);
		errno = -rc;
		return NULL;
	}
	return a;
}

void tern_auth_free(struct tern_auth *a)
{
	if (!a)
		return;
	for (unsigned i = 0; i < a->n; i++) {
		tern_passwd_free(a->d[i].passwd);
		tern_acl_free(a->d[i].acl);
	}
	tern_free(a);
}

static void free_rcu(struct rcu_head *head)
{
	tern_auth_free(caa_container_of(head, struct tern_auth, rcu));
}

void tern_auth_retire(struct tern_auth *a)
{
	if (a)
		call_rcu(&a->rcu, free_rcu);
}

enum tern_auth_result tern_auth_connect(const struct tern_auth *a, unsigned listener,
					const struct tern_credentials *cr)
{
	const struct tern_auth_domain *d = tern_auth_domain(a, listener);
	int rc;

	if (!cr->username || !d->passwd)
		return d->allow_anonymous ? TERN_AUTH_OK : TERN_AUTH_NOT_AUTHORIZED;
	if (!cr->has_password)
		return TERN_AUTH_BAD_CREDENTIALS;
	rc = tern_passwd_verify(d->passwd, cr->username, strlen(cr->username), cr->password,
				cr->password_len);
	if (rc == -ENOMEM)
		return TERN_AUTH_UNAVAILABLE;
	return rc == 0 ? TERN_AUTH_OK : TERN_AUTH_BAD_CREDENTIALS;
}
