/* SPDX-License-Identifier: MIT */
/*
 * mosquitto acl_file parsing and checks (semantics in acl.h).
 *
 * Design note: the per-message check (tern_acl_check) is the reference; it
 * walks the client's own rules, then the patterns, exactly as mosquitto does.
 * tern_acl_read_scope lets the broker skip that walk for most subscriptions:
 * it compares the subscription filter with each rule filter as sets of topics
 * (does the rule cover the filter, do they overlap at all), level by level,
 * and answers ALL or NONE only when the rule order above makes that certain.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/acl.h"
#include "broker/alloc.h"
#include "broker/readfile.h"
#include "broker/topic.h"

#define FILE_MAX_BYTES (64u << 20)
#define EXPAND_STACK   1024
#define ACCESS_DENY    0
#define ACCESS_RW      (TERN_ACL_READ | TERN_ACL_WRITE)

struct rule {
	char *filter;
	size_t len;
	unsigned access; /* ACCESS_DENY or enum tern_acl_access bits */
	bool has_u;	 /* pattern with %u: never for anonymous clients */
};

struct rules {
	struct rule *r;
	size_t n, cap;
};

/* The rules of one user (or of anonymous clients): denials are checked first. */
struct acl_user {
	char *name;
	struct rules deny, allow;
};

struct tern_acl {
	struct acl_user anon; /* topic lines before the first `user` line */
	struct acl_user *users;
	size_t n_users, cap_users;
	struct rules pdeny, pallow; /* patterns */
};

static void rules_free(struct rules *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		tern_free(rs->r[i].filter);
	tern_free(rs->r);
}

static void user_free(struct acl_user *u)
{
	tern_free(u->name);
	rules_free(&u->deny);
	rules_free(&u->allow);
}

void tern_acl_free(struct tern_acl *acl)
{
	if (!acl)
		return;
	user_free(&acl->anon);
	for (size_t i = 0; i < acl->n_users; i++)
		user_free(&acl->users[i]);
	tern_free(acl->users);
	rules_free(&acl->pdeny);
	rules_free(&acl->pallow);
	tern_free(acl);
}

static int rules_add(struct rules *rs, const char *filter, size_t len, unsigned access)
{
	struct rule *r;

	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 8;
		struct rule *p = tern_realloc(rs->r, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		rs->r = p;
		rs->cap = cap;
	}
	r = &rs->r[rs->n];
	r->filter = tern_strndup(filter, len);
	if (!r->filter)
		return -ENOMEM;
	r->len = len;
	r->access = access;
	r->has_u = memmem(filter, len, "%u", 2) != NULL;
	rs->n++;
	return 0;
}

static int cmp_user(const void *a, const void *b)
{
	return strcmp(((const struct acl_user *)a)->name, ((const struct acl_user *)b)->name);
}

/* The section of user name (NULL: anonymous), created on first use; NULL on ENOMEM. */
static struct acl_user *section(struct tern_acl *acl, const char *name, struct acl_user *last)
{
	struct acl_user *u;

	if (!name)
		return &acl->anon;
	/* Files usually list each user once: the last section is the likely hit. */
	if (last && last != &acl->anon && strcmp(last->name, name) == 0)
		return last;
	for (size_t i = 0; i < acl->n_users; i++)
		if (strcmp(acl->users[i].name, name) == 0)
			return &acl->users[i];
	if (acl->n_users == acl->cap_users) {
		size_t cap = acl->cap_users ? acl->cap_users * 2 : 8;
		struct acl_user *p = tern_realloc(acl->users, cap * sizeof(*p));

		if (!p)
			return NULL;
		acl->users = p;
		acl->cap_users = cap;
	}
	u = &acl->users[acl->n_users];
	memset(u, 0, sizeof(*u));
	u->name = tern_strdup(name);
	if (!u->name)
		return NULL;
	acl->n_users++;
	return u;
}

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

static const char *skip_blanks(const char *s, const char *end)
{
	while (s < end && blank(*s))
		s++;
	return s;
}

static const char *word_end(const char *s, const char *end)
{
	while (s < end && !blank(*s))
		s++;
	return s;
}

static bool word_is(const char *w, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(w, lit, n) == 0;
}

static int parse_access(const char *w, size_t n, unsigned *access)
{
	if (word_is(w, n, "read"))
		*access = TERN_ACL_READ;
	else if (word_is(w, n, "write"))
		*access = TERN_ACL_WRITE;
	else if (word_is(w, n, "readwrite"))
		*access = ACCESS_RW;
	else if (word_is(w, n, "deny"))
		*access = ACCESS_DENY;
	else
		return -EINVAL;
	return 0;
}

/*
 * One non-blank, non-comment line (end excludes trailing blanks). *user is the
 * current `user` name (owned, replaced by a `user` line). Returns 0, -ENOMEM,
 * or -EINVAL with the reason in why.
 */
static int parse_line(struct tern_acl *acl, const char *s, const char *end, char **user,
		      struct acl_user **last, const char **why)
{
	const char *kw_end = word_end(s, end), *arg = skip_blanks(kw_end, end);
	size_t kw_len = (size_t)(kw_end - s);
	const char *filter = arg, *access_end;
	unsigned access = ACCESS_RW;
	bool pattern;
	struct acl_user *u;

	if (word_is(s, kw_len, "user")) {
		char *name;

		if (arg == end) {
			*why = "'user' needs a user name";
			return -EINVAL;
		}
		name = tern_strndup(arg, (size_t)(end - arg));
		if (!name)
			return -ENOMEM;
		if (strlen(name) != (size_t)(end - arg)) {
			tern_free(name);
			*why = "NUL byte in user name";
			return -EINVAL;
		}
		tern_free(*user);
		*user = name;
		return 0;
	}
	if (word_is(s, kw_len, "topic"))
		pattern = false;
	else if (word_is(s, kw_len, "pattern"))
		pattern = true;
	else {
		*why = "expected 'topic', 'pattern' or 'user'";
		return -EINVAL;
	}
	if (arg == end) {
		*why = "missing topic filter";
		return -EINVAL;
	}
	/* "topic FILTER" alone means readwrite; otherwise the first word is the access. */
	access_end = word_end(arg, end);
	if (access_end != end) {
		if (parse_access(arg, (size_t)(access_end - arg), &access) < 0) {
			*why = "access must be read, write, readwrite or deny";
			return -EINVAL;
		}
		filter = skip_blanks(access_end, end);
	}
	if (!tern_topic_filter_valid((const uint8_t *)filter, (size_t)(end - filter))) {
		*why = "invalid topic filter";
		return -EINVAL;
	}
	if (pattern)
		return rules_add(access == ACCESS_DENY ? &acl->pdeny : &acl->pallow, filter,
				 (size_t)(end - filter), access);
	u = section(acl, *user, *last);
	if (!u)
		return -ENOMEM;
	*last = u;
	return rules_add(access == ACCESS_DENY ? &u->deny : &u->allow, filter,
			 (size_t)(end - filter), access);
}

int tern_acl_parse(const char *buf, size_t len, const char *name, struct tern_acl **out, char *err,
		   size_t errlen)
{
	struct tern_acl *acl = tern_calloc(1, sizeof(*acl));
	struct acl_user *last = NULL;
	char *user = NULL;
	struct tern_lines it = {buf, len, 0, 0};
	const char *line;
	size_t n;
	int rc = 0;

	if (!acl)
		return -ENOMEM;
	while (tern_lines_next(&it, &line, &n)) {
		const char *end = line + n, *s = skip_blanks(line, end);
		const char *why = NULL;

		while (end > s && blank(end[-1]))
			end--;
		if (s == end || *s == '#')
			continue;
		if (memchr(s, '\0', (size_t)(end - s))) {
			rc = tern_errf(err, errlen, "%s:%u: NUL byte in line", name, it.lineno);
			goto err;
		}
		rc = parse_line(acl, s, end, &user, &last, &why);
		if (rc == -EINVAL) {
			tern_errf(err, errlen, "%s:%u: %s", name, it.lineno, why);
			goto err;
		}
		if (rc < 0)
			goto err;
	}
	tern_free(user);
	if (acl->n_users > 1)
		qsort(acl->users, acl->n_users, sizeof(*acl->users), cmp_user);
	*out = acl;
	return 0;
err:
	tern_free(user);
	tern_acl_free(acl);
	return rc;
}

int tern_acl_load(const char *path, struct tern_acl **out, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = tern_readfile(path, FILE_MAX_BYTES, &buf, &len, err, errlen);

	if (rc < 0)
		return rc;
	rc = tern_acl_parse(buf, len, path, out, err, errlen);
	tern_free(buf);
	return rc;
}

static const struct acl_user *find_user(const struct tern_acl *acl, const char *username)
{
	struct acl_user key = {.name = (char *)username};

	if (!username)
		return &acl->anon;
	/* bsearch must not get a NULL array, even for zero entries (a file without users). */
	if (!acl->n_users)
		return NULL;
	return bsearch(&key, acl->users, acl->n_users, sizeof(*acl->users), cmp_user);
}

/* mosquitto: a wildcard in the id or user name could widen a pattern, so patterns deny all. */
static bool dangerous(const char *username, const char *client_id)
{
	return (username && strpbrk(username, "+#")) || strpbrk(client_id, "+#");
}

/*
 * A pattern with %c and %u replaced, in buf (EXPAND_STACK bytes) or on the
 * heap when longer (*heap set, caller frees). NULL when out of memory.
 */
static char *expand(const struct rule *r, const char *username, const char *client_id, char *buf,
		    size_t *len, char **heap)
{
	size_t clen = strlen(client_id), ulen = username ? strlen(username) : 0, n = 0;
	char *out = buf;

	/* Each two-byte %c or %u grows by at most the longer of the two names. */
	size_t worst = r->len + (r->len / 2) * (clen > ulen ? clen : ulen);

	*heap = NULL;
	if (worst > EXPAND_STACK) {
		out = *heap = tern_malloc(worst);
		if (!out)
			return NULL;
	}
	for (size_t i = 0; i < r->len; i++) {
		if (r->filter[i] == '%' && i + 1 < r->len) {
			if (r->filter[i + 1] == 'c') {
				memcpy(out + n, client_id, clen);
				n += clen;
				i++;
				continue;
			}
			if (r->filter[i + 1] == 'u' && username) {
				memcpy(out + n, username, ulen);
				n += ulen;
				i++;
				continue;
			}
		}
		out[n++] = r->filter[i];
	}
	*len = n;
	return out;
}

static bool rule_matches(const struct rule *r, const uint8_t *topic, size_t len)
{
	return tern_topic_matches((const uint8_t *)r->filter, r->len, topic, len);
}

/* Does the pattern match the topic for this client? Out of memory answers oom. */
static bool pattern_matches(const struct rule *r, const char *username, const char *client_id,
			    const uint8_t *topic, size_t len, bool oom)
{
	char buf[EXPAND_STACK], *heap;
	size_t n;
	const char *f = expand(r, username, client_id, buf, &n, &heap);
	bool m;

	if (!f)
		return oom;
	m = tern_topic_matches((const uint8_t *)f, n, topic, len);
	tern_free(heap);
	return m;
}

bool tern_acl_check(const struct tern_acl *acl, const char *username, const char *client_id,
		    const uint8_t *topic, size_t len, enum tern_acl_access access)
{
	const struct acl_user *u = find_user(acl, username);

	if (u) {
		for (size_t i = 0; i < u->deny.n; i++)
			if (rule_matches(&u->deny.r[i], topic, len))
				return false;
		for (size_t i = 0; i < u->allow.n; i++)
			if ((u->allow.r[i].access & access) &&
			    rule_matches(&u->allow.r[i], topic, len))
				return true;
	}
	if (acl->pdeny.n + acl->pallow.n == 0 || dangerous(username, client_id))
		return false;
	for (size_t i = 0; i < acl->pdeny.n; i++) {
		const struct rule *r = &acl->pdeny.r[i];

		/* Fail closed: a denial that cannot be expanded for memory counts as matching. */
		if ((!r->has_u || username) &&
		    pattern_matches(r, username, client_id, topic, len, true))
			return false;
	}
	for (size_t i = 0; i < acl->pallow.n; i++) {
		const struct rule *r = &acl->pallow.r[i];

		if ((r->access & access) && (!r->has_u || username) &&
		    pattern_matches(r, username, client_id, topic, len, false))
			return true;
	}
	return false;
}

/* Levels of a filter, one at a time. */
struct levels {
	const char *s;
	size_t len, pos;
	bool done;
};

/* The next level into lv and n; false when the filter has no more levels. */
static bool next_level(struct levels *it, const char **lv, size_t *n)
{
	const char *slash;

	if (it->done)
		return false;
	*lv = it->s + it->pos;
	slash = memchr(*lv, '/', it->len - it->pos);
	if (slash) {
		*n = (size_t)(slash - *lv);
		it->pos += *n + 1;
	} else {
		*n = it->len - it->pos;
		it->done = true;
	}
	return true;
}

static bool is_level(const char *lv, size_t n, char ch)
{
	return n == 1 && lv[0] == ch;
}

/* Topics starting with '$' are matched only by filters whose first level starts with '$'. */
static bool same_dollar_class(const char *a, size_t alen, const char *f, size_t flen)
{
	return (alen && a[0] == '$') == (flen && f[0] == '$');
}

struct relation {
	bool cover, overlap;
};

/*
 * Compare rule filter a with subscription filter f as sets of topics, in one
 * walk over both: set rel->cover when every topic f matches is matched by a,
 * rel->overlap when some topic is matched by both. c and o track whether each
 * is still possible; the walk stops once both are decided.
 */
static void relate(struct relation *rel, const char *a, size_t alen, const char *f, size_t flen)
{
	struct levels ia = {a, alen, 0, false}, jf = {f, flen, 0, false};
	bool c = same_dollar_class(a, alen, f, flen), o = c;

	while (c || o) {
		const char *la, *lf;
		size_t na, nf;
		bool ha = next_level(&ia, &la, &na), hf = next_level(&jf, &lf, &nf);

		if (ha && is_level(la, na, '#')) /* a takes the rest, none included */
			break;
		if (hf && is_level(lf, nf, '#')) { /* f reaches further than a can */
			c = false;
			break;
		}
		if (!ha || !hf) { /* one ended: only both ending keeps them */
			if (ha || hf)
				c = o = false;
			break;
		}
		if (is_level(la, na, '+'))
			continue;
		if (is_level(lf, nf, '+')) {
			c = false;
			continue;
		}
		if (na != nf || memcmp(la, lf, na) != 0)
			c = o = false;
	}
	rel->cover |= c;
	rel->overlap |= o;
}

static void relate_rules(struct relation *rel, const struct rules *rs, const char *f, size_t flen)
{
	for (size_t i = 0; i < rs->n; i++)
		if (rs->r[i].access == ACCESS_DENY || (rs->r[i].access & TERN_ACL_READ))
			relate(rel, rs->r[i].filter, rs->r[i].len, f, flen);
}

/* Patterns; an expansion that fails for memory counts as an unknown (overlapping) rule. */
static void relate_patterns(struct relation *rel, const struct rules *rs, const char *username,
			    const char *client_id, const char *f, size_t flen)
{
	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *r = &rs->r[i];
		char buf[EXPAND_STACK], *heap;
		const char *x;
		size_t n;

		if ((r->access != ACCESS_DENY && !(r->access & TERN_ACL_READ)) ||
		    (r->has_u && !username))
			continue;
		x = expand(r, username, client_id, buf, &n, &heap);
		if (!x) {
			rel->overlap = true;
			continue;
		}
		relate(rel, x, n, f, flen);
		tern_free(heap);
	}
}

enum tern_acl_scope tern_acl_read_scope(const struct tern_acl *acl, const char *username,
					const char *client_id, const uint8_t *filter, size_t len)
{
	const struct acl_user *u = find_user(acl, username);
	const char *f = (const char *)filter;
	struct relation ud = {0}, ua = {0}, pd = {0}, pa = {0};

	if (u) {
		relate_rules(&ud, &u->deny, f, len);
		relate_rules(&ua, &u->allow, f, len);
	}
	if (ud.cover)
		return TERN_ACL_SCOPE_NONE;
	if (!ud.overlap && ua.cover)
		return TERN_ACL_SCOPE_ALL;
	if (acl->pdeny.n + acl->pallow.n > 0) {
		if (dangerous(username, client_id)) {
			pd.cover = pd.overlap = true;
		} else {
			relate_patterns(&pd, &acl->pdeny, username, client_id, f, len);
			relate_patterns(&pa, &acl->pallow, username, client_id, f, len);
		}
	}
	/* Past the user's own rules the patterns decide, denials first. */
	if (!ua.overlap && (pd.cover || !pa.overlap))
		return TERN_ACL_SCOPE_NONE;
	if (!ud.overlap && !pd.overlap && pa.cover)
		return TERN_ACL_SCOPE_ALL;
	return TERN_ACL_SCOPE_PARTIAL;
}
