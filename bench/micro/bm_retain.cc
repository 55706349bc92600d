// SPDX-License-Identifier: MIT
// Retained store micro-benchmarks: what a wildcard SUBSCRIBE costs to find
// its retained messages, one filter lookup per iteration, over stores of
// 10^2..10^5 retained topics ("site/S/dev/I/temp", 10 sites).
#include <cstdio>
#include <cstring>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/micro/bm_common.h"

extern "C" {
#include "broker/msg.h"
#include "broker/retain.h"
}

namespace
{

constexpr unsigned SITES = 10;

const char *const FILTERS[] = {
    "site/3/dev/+/temp", // one site: n/10 messages
    "site/+/dev/7/temp", // one device in any site: 1 message
    "site/3/#",		 // one subtree: n/10 messages
    "site/7/dev/7/temp", // no wildcard: 1 message, for reference
    "#",		 // everything
};

struct Store {
	tern_retain *store = tern_retain_create();

	explicit Store(size_t n)
	{
		uint8_t payload[64];

		memset(payload, 'r', sizeof(payload));
		for (size_t i = 0; i < n; i++) {
			char topic[64];
			int len =
			    snprintf(topic, sizeof(topic), "site/%zu/dev/%zu/temp", i % SITES, i);
			tern_msg *m = tern_msg_create((const uint8_t *)topic, (uint16_t)len,
						      payload, sizeof(payload), 0, true);

			if (!m || tern_retain_set(store, m) != 0)
				abort();
			tern_msg_unref(m);
		}
	}
	~Store()
	{
		tern_retain_destroy(store);
	}
	Store(const Store &) = delete;
	Store &operator=(const Store &) = delete;
};

void count_msg(void *ctx, tern_msg *)
{
	++*(size_t *)ctx;
}

void BM_RetainMatch(benchmark::State &state)
{
	RcuThread rcu;
	Store s((size_t)state.range(0));
	const char *f = FILTERS[state.range(1)];
	size_t found = 0;

	for (auto _ : state) {
		tern_retain_match(s.store, (const uint8_t *)f, strlen(f), count_msg, &found);
		benchmark::DoNotOptimize(found);
	}
	state.SetItemsProcessed(state.iterations());
	state.counters["msgs_per_lookup"] = (double)found / (double)state.iterations();
	state.SetLabel(f);
	rcu.quiescent();
}
BENCHMARK(BM_RetainMatch)
    ->ArgsProduct({{100, 1000, 10000, 100000}, {0, 1, 2, 3, 4}})
    ->ArgNames({"retained", "filter"});

} // namespace

BENCHMARK_MAIN();
