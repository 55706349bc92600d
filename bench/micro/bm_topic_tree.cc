// SPDX-License-Identifier: MIT
// Subscription tree micro-benchmarks: one publish lookup per iteration against
// 10^2..10^6 subscriptions, a share of them with '+' and '#' wildcards and
// optionally shared subscription groups; and subscribe/unsubscribe churn, on
// trees of 10^4 and 10^6 subscriptions, racing lookups on other threads.
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/micro/bm_common.h"

extern "C" {
#include "broker/share.h"
#include "broker/topic_tree.h"
}

namespace
{

constexpr unsigned SITES = 10;
constexpr size_t TOPICS = 4096;

// Subscription i: "site/S/dev/i/temp", or for wildcard_pct% of them one of
// "site/S/dev/i/+", "site/S/dev/i/#", "site/+/dev/i/temp" (each matches its
// own device only, so a lookup measures the walk, not a huge fan-out).
std::string filter_of(size_t i, unsigned wildcard_pct)
{
	char f[96];
	unsigned s = (unsigned)(i % SITES);

	if (i % 100 < wildcard_pct) {
		switch (i % 3) {
		case 0:
			snprintf(f, sizeof(f), "site/%u/dev/%zu/+", s, i);
			break;
		case 1:
			snprintf(f, sizeof(f), "site/%u/dev/%zu/#", s, i);
			break;
		default:
			snprintf(f, sizeof(f), "site/+/dev/%zu/temp", i);
			break;
		}
	} else {
		snprintf(f, sizeof(f), "site/%u/dev/%zu/temp", s, i);
	}
	return f;
}

std::string topic_of(size_t i)
{
	char t[96];

	snprintf(t, sizeof(t), "site/%zu/dev/%zu/temp", i % SITES, i);
	return t;
}

// Shared subscription groups: the broker keeps a group as ONE tree entry
// (options bit TERN_SUBOPT_SHARED, the group as subscriber) at the group's
// filter, whatever its member count (broker/share.h). Group g subscribes
// "site/S/dev/+/temp" (S = g % SITES), or every third group "site/S/#", so
// each publish also matches about groups / SITES group entries.
std::string group_filter_of(size_t g)
{
	char f[64];

	if (g % 3 == 2)
		snprintf(f, sizeof(f), "site/%zu/#", g % SITES);
	else
		snprintf(f, sizeof(f), "site/%zu/dev/+/temp", g % SITES);
	return f;
}

// Built by a registered QSBR thread (an RcuThread in scope).
struct Tree {
	tern_topic_tree *tree;
	std::vector<int> subs;
	std::vector<int> groups;

	Tree(size_t n, unsigned wildcard_pct, size_t n_groups = 0)
	    : tree(tern_topic_tree_create(1)), subs(n), groups(n_groups)
	{
		for (size_t i = 0; i < n; i++) {
			std::string f = filter_of(i, wildcard_pct);

			if (tern_topic_tree_add(tree, (const uint8_t *)f.data(), f.size(), 0,
						&subs[i], 1, 0, nullptr) != 0)
				abort();
			/* Let call_rcu free the trie's replaced child arrays as we go. */
			if (i % 64 == 0)
				rcu_quiescent_state();
		}
		for (size_t g = 0; g < n_groups; g++) {
			std::string f = group_filter_of(g);

			if (tern_topic_tree_add(tree, (const uint8_t *)f.data(), f.size(), 0,
						&groups[g], 1 | TERN_SUBOPT_SHARED, 0,
						nullptr) != 0)
				abort();
		}
	}
	~Tree()
	{
		tern_topic_tree_destroy(tree);
	}
	Tree(const Tree &) = delete;
	Tree &operator=(const Tree &) = delete;
};

void count_match(void *ctx, const tern_sub *)
{
	++*(size_t *)ctx;
}

std::vector<std::string> random_topics(size_t n, uint64_t seed)
{
	Rng rng(seed);
	std::vector<std::string> t;

	for (size_t i = 0; i < TOPICS; i++)
		t.push_back(topic_of(rng.below(n)));
	return t;
}

void BM_TreeMatch(benchmark::State &state)
{
	RcuThread rcu;
	size_t n = (size_t)state.range(0);
	Tree t(n, (unsigned)state.range(1), (size_t)state.range(2));
	std::vector<std::string> topics = random_topics(n, 12345);
	size_t matched = 0, i = 0;

	for (auto _ : state) {
		const std::string &topic = topics[i++ % TOPICS];
		uint64_t mask = tern_topic_tree_match(t.tree, (const uint8_t *)topic.data(),
						      topic.size(), 0, count_match, &matched);

		benchmark::DoNotOptimize(mask);
		if (i % 64 == 0)
			rcu.quiescent();
	}
	state.SetItemsProcessed(state.iterations());
	state.counters["matches_per_publish"] = (double)matched / (double)state.iterations();
	state.counters["hash_buckets"] = (double)tern_topic_tree_buckets(t.tree);
	rcu.quiescent();
}
BENCHMARK(BM_TreeMatch)
    ->ArgsProduct({{100, 1000, 10000, 100000, 1000000}, {0, 10}, {0, 100}})
    ->ArgNames({"subs", "wildcard_pct", "share_groups"})
    ->Unit(benchmark::kNanosecond);

// One SUBSCRIBE plus the UNSUBSCRIBE of a fresh filter (new trie nodes, then
// pruned) per iteration, in a tree of state.range(0) subscriptions: the pair
// must cost the same from 10^2 to 10^6 (the trie's level hash grows with it).
void BM_TreeSubscribeUnsubscribe(benchmark::State &state)
{
	RcuThread rcu;
	size_t n = (size_t)state.range(0);
	Tree t(n, 10);
	constexpr size_t BATCH = 1024;
	std::vector<std::string> fresh;
	std::vector<int> subs(BATCH);
	size_t i = 0;

	for (size_t k = 0; k < BATCH; k++)
		fresh.push_back(filter_of(n + k, k % 2 ? 100 : 0));
	for (auto _ : state) {
		size_t k = i++ % BATCH;
		const std::string &f = fresh[k];

		tern_topic_tree_add(t.tree, (const uint8_t *)f.data(), f.size(), 0, &subs[k], 1, 0,
				    nullptr);
		tern_topic_tree_remove(t.tree, (const uint8_t *)f.data(), f.size(), 0, &subs[k]);
		if (i % 64 == 0)
			rcu.quiescent();
	}
	state.SetItemsProcessed(state.iterations());
	state.counters["hash_buckets"] = (double)tern_topic_tree_buckets(t.tree);
	rcu.quiescent();
}
BENCHMARK(BM_TreeSubscribeUnsubscribe)
    ->RangeMultiplier(10)
    ->Range(100, 1000000)
    ->ArgName("subs")
    ->Unit(benchmark::kNanosecond);

// Background threads that keep doing one thing until stopped, each a QSBR reader.
class Background
{
      public:
	template <typename F> Background(unsigned n, F body)
	{
		for (unsigned k = 0; k < n; k++)
			threads_.emplace_back([this, body, k] {
				RcuThread rcu;
				Rng rng(1000 + k);

				while (!stop_.load(std::memory_order_relaxed)) {
					for (int j = 0; j < 64; j++)
						body(rng);
					rcu.quiescent();
				}
			});
	}
	~Background()
	{
		stop_ = true;
		for (auto &t : threads_)
			t.join();
	}
	Background(const Background &) = delete;
	Background &operator=(const Background &) = delete;

      private:
	std::atomic<bool> stop_{false};
	std::vector<std::thread> threads_;
};

// One SUBSCRIBE plus one UNSUBSCRIBE of a filter per iteration while
// state.range(0) threads match publishes against the same tree of
// state.range(1) subscriptions.
void BM_TreeChurnSubscribe(benchmark::State &state)
{
	RcuThread rcu;
	size_t base = (size_t)state.range(1);
	Tree t(base, 10);
	std::vector<std::string> topics = random_topics(base, 777);
	std::vector<std::string> filters;
	std::vector<int> churners(256);
	size_t i = 0;

	for (size_t k = 0; k < churners.size(); k++)
		filters.push_back(filter_of(k * 37 % base, k % 2 ? 100 : 0));
	{
		Background readers((unsigned)state.range(0), [&](Rng &rng) {
			const std::string &topic = topics[rng.below(TOPICS)];
			size_t m = 0;

			tern_topic_tree_match(t.tree, (const uint8_t *)topic.data(), topic.size(),
					      0, count_match, &m);
			benchmark::DoNotOptimize(m);
		});
		for (auto _ : state) {
			size_t k = i++ % churners.size();
			const std::string &f = filters[k];

			tern_topic_tree_add(t.tree, (const uint8_t *)f.data(), f.size(), 0,
					    &churners[k], 1, 0, nullptr);
			tern_topic_tree_remove(t.tree, (const uint8_t *)f.data(), f.size(), 0,
					       &churners[k]);
			if (i % 64 == 0)
				rcu.quiescent();
		}
	}
	state.SetItemsProcessed(state.iterations());
	rcu.quiescent();
}
BENCHMARK(BM_TreeChurnSubscribe)
    ->ArgsProduct({{0, 1, 2}, {10000, 1000000}})
    ->ArgNames({"readers", "subs"})
    ->UseRealTime();

// One publish lookup per iteration while state.range(0) threads subscribe
// and unsubscribe on the same tree of state.range(1) subscriptions.
void BM_TreeMatchUnderChurn(benchmark::State &state)
{
	RcuThread rcu;
	size_t base = (size_t)state.range(1);
	Tree t(base, 10);
	std::vector<std::string> topics = random_topics(base, 4242);
	std::vector<int> churners(256 * 4);
	size_t matched = 0, i = 0;

	{
		Background writers((unsigned)state.range(0), [&](Rng &rng) {
			size_t k = rng.below(256);
			std::string f = filter_of(k * 37 % base, k % 2 ? 100 : 0);
			int *sub = &churners[rng.below(churners.size())];

			tern_topic_tree_add(t.tree, (const uint8_t *)f.data(), f.size(), 0, sub, 1,
					    0, nullptr);
			tern_topic_tree_remove(t.tree, (const uint8_t *)f.data(), f.size(), 0, sub);
		});
		for (auto _ : state) {
			const std::string &topic = topics[i++ % TOPICS];
			uint64_t mask =
			    tern_topic_tree_match(t.tree, (const uint8_t *)topic.data(),
						  topic.size(), 0, count_match, &matched);

			benchmark::DoNotOptimize(mask);
			if (i % 64 == 0)
				rcu.quiescent();
		}
	}
	state.SetItemsProcessed(state.iterations());
	rcu.quiescent();
}
BENCHMARK(BM_TreeMatchUnderChurn)
    ->ArgsProduct({{0, 1, 2}, {10000, 1000000}})
    ->ArgNames({"writers", "subs"})
    ->UseRealTime();

} // namespace

BENCHMARK_MAIN();
