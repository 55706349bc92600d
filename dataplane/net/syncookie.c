/* SPDX-License-Identifier: MIT */
/*
 * SYN cookie encoding and validation, and SipHash-2-4 (Aumasson and
 * Bernstein), the keyed hash behind cookies and initial sequence numbers.
 */
#include <errno.h>
#include <string.h>

#include "dataplane/net/syncookie.h"

static const uint16_t mss_table[8] = {536, 1220, 1340, 1400, 1440, 1452, 1460, 8960};

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND(v0, v1, v2, v3)                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = rotl(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = rotl(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = rotl(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = rotl(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = rotl(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = rotl(v2, 32);                                                                 \
	} while (0)

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t dp_siphash24(const struct dp_siphash_key *key, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t v0 = key->k0 ^ 0x736f6d6570736575ull;
	uint64_t v1 = key->k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = key->k0 ^ 0x6c7967656e657261ull;
	uint64_t v3 = key->k1 ^ 0x7465646279746573ull;
	uint64_t b = (uint64_t)len << 56;
	size_t i, tail = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t m = load_le64(p + i);

		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (size_t j = 0; j < tail; j++)
		b |= (uint64_t)p[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t dp_flow_siphash(const struct dp_siphash_key *key, const struct dp_flow *f, uint32_t extra)
{
	/* Serialise field by field: struct padding must not enter the hash. */
	uint8_t buf[16 + 16 + 2 + 2 + 4 + 1];
	size_t n = 0;

	if (f->local.family == AF_INET) {
		memcpy(buf + n, &f->local.v4, 4);
		n += 4;
		memcpy(buf + n, &f->remote.v4, 4);
		n += 4;
	} else {
		memcpy(buf + n, f->local.v6, 16);
		n += 16;
		memcpy(buf + n, f->remote.v6, 16);
		n += 16;
	}
	memcpy(buf + n, &f->local_port, 2);
	n += 2;
	memcpy(buf + n, &f->remote_port, 2);
	n += 2;
	memcpy(buf + n, &extra, 4);
	n += 4;
	buf[n++] = f->local.family;
	return dp_siphash24(key, buf, n);
}

static uint32_t cookie_hash(const struct dp_siphash_key *key, const struct dp_flow *f,
			    uint32_t peer_isn, uint32_t t)
{
	/* Mix t into the key's second word so one hash covers flow, ISN and time. */
	struct dp_siphash_key k = {key->k0, key->k1 ^ ((uint64_t)t << 32 | t)};

	return (uint32_t)dp_flow_siphash(&k, f, peer_isn) & 0xffffffu;
}

uint32_t dp_syncookie_make(const struct dp_siphash_key *key, const struct dp_flow *f,
			   uint32_t peer_isn, uint16_t peer_mss, uint64_t now_us, uint16_t *mss_out)
{
	uint32_t t = (uint32_t)(now_us / DP_SYNCOOKIE_PERIOD_US) & 31u;
	uint32_t idx = 0, i;

	if (peer_mss == 0)
		peer_mss = mss_table[0];
	for (i = 0; i < 8; i++)
		if (mss_table[i] <= peer_mss)
			idx = i;
	*mss_out = mss_table[idx];
	return t << 27 | idx << 24 | cookie_hash(key, f, peer_isn, t);
}

int dp_syncookie_check(const struct dp_siphash_key *key, const struct dp_flow *f, uint32_t peer_isn,
		       uint32_t cookie, uint64_t now_us, uint16_t *mss)
{
	uint32_t now_t = (uint32_t)(now_us / DP_SYNCOOKIE_PERIOD_US) & 31u;
	uint32_t t = cookie >> 27;
	uint32_t age = (now_t - t) & 31u;

	if (age > 1)
		return -EINVAL;
	if ((cookie & 0xffffffu) != cookie_hash(key, f, peer_isn, t))
		return -EINVAL;
	*mss = mss_table[(cookie >> 24) & 7u];
	return 0;
}

uint32_t dp_syncookie_ts_encode(uint32_t tsval, const struct dp_syncookie_opts *o)
{
	uint32_t bits = o->wscale < 0 ? 15u : (uint32_t)o->wscale;

	if (o->sack_ok)
		bits |= 16u;
	return (tsval & ~((1u << DP_SYNCOOKIE_TS_BITS) - 1)) | bits;
}

void dp_syncookie_ts_decode(uint32_t tsecr, struct dp_syncookie_opts *o)
{
	uint32_t ws = tsecr & 15u;

	o->wscale = ws > 14 ? -1 : (int8_t)ws;
	o->sack_ok = (tsecr & 16u) != 0;
}
