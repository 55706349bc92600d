// SPDX-License-Identifier: MIT
// Subscription tree micro-benchmarks: one publish lookup per iteration against
// 10^2..10^6 subscriptions, a share of them with '+' and '#' wildcards and
// optionally shared subscription groups; and subscribe/unsubscribe churn, on
// trees of 10^4 and 10^6 subscriptions, racing lookups on other threads.
//
// A tree of 10^6 subscriptions takes seconds of CPU to build and Google
// Benchmark calls a benchmark function several times (it grows the iteration
// count until min_time is reached), so trees are built once and kept
// (shared_tree): every benchmark leaves the tree as it found it (lookups, or
// an add undone by its remove), so later runs measure the same tree.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <utility>
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

	Tree(size_t n, unsigned wildcard_pct) : tree(tern_topic_tree_create(1)), subs(n)
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
	}
	// Replace the shared subscription groups with n_groups new ones: a few
	// entries, so the big trees are built once per wildcard share, not once
	// per group count. Removing them prunes their nodes again.
	void set_groups(size_t n_groups)
	{
		for (size_t g = 0; g < groups.size(); g++) {
			std::string f = group_filter_of(g);

			if (tern_topic_tree_remove(tree, (const uint8_t *)f.data(), f.size(), 0,
						   &groups[g]) != 0)
				abort();
		}
		groups = std::vector<int>(n_groups);
		for (size_t g = 0; g < n_groups; g++) {
			std::string f = group_filter_of(g);

			if (tern_topic_tree_add(tree, (const uint8_t *)f.data(), f.size(), 0,
						&groups[g], 1 | TERN_SUBOPT_SHARED, 0,
						nullptr) != 0)
				abort();
		}
		rcu_quiescent_state();
	}
	~Tree()
	{
		tern_topic_tree_destroy(tree);
	}
	Tree(const Tree &) = delete;
	Tree &operator=(const Tree &) = delete;
};

double cpu_seconds()
{
	timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// Trees already built, by (subscriptions, wildcard %). At most one tree of
// 10^6 or more is kept (each is over 500 MB), the smaller ones all. Main
// thread only; freed by drop_trees() at exit.
constexpr size_t BIG_TREE = 1000000;
std::map<std::pair<size_t, unsigned>, std::unique_ptr<Tree>> trees;

// The tree for these parameters, built on first use by the calling thread,
// which must be a registered QSBR thread (an RcuThread in scope).
Tree &shared_tree(size_t n, unsigned wildcard_pct, size_t n_groups = 0)
{
	auto key = std::make_pair(n, wildcard_pct);
	auto it = trees.find(key);

	if (it != trees.end()) {
		if (it->second->groups.size() != n_groups)
			it->second->set_groups(n_groups);
		return *it->second;
	}
	if (n >= BIG_TREE)
		for (auto i = trees.begin(); i != trees.end();)
			i = std::get<0>(i->first) >= BIG_TREE ? trees.erase(i) : std::next(i);
	auto t0 = std::chrono::steady_clock::now();
	double c0 = cpu_seconds();
	auto &t = trees[key];

	t = std::make_unique<Tree>(n, wildcard_pct);
	t->set_groups(n_groups);
	if (n >= BIG_TREE)
		fprintf(
		    stderr,
		    "bm_topic_tree: built %zu subscriptions (%u %% wildcards) in "
		    "%.1f s, %.1f s of CPU\n",
		    n, wildcard_pct,
		    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
		    cpu_seconds() - c0);
	return *t;
}

// Free every kept tree; a registered QSBR thread (the destructor's trie_fini
// borrows one otherwise).
void drop_trees()
{
	RcuThread rcu;

	trees.clear();
}

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
	Tree &t = shared_tree(n, (unsigned)state.range(1), (size_t)state.range(2));
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
// Registered per wildcard share, so each 10^6 tree is built once; groups 100
// first, so the last tree, 10 % wildcards without groups, is the one the
// benchmarks below use (kept, not built again).
BENCHMARK(BM_TreeMatch)
    ->ArgsProduct({{100, 1000, 10000, 100000, 1000000}, {0}, {100, 0}})
    ->ArgNames({"subs", "wildcard_pct", "share_groups"})
    ->Unit(benchmark::kNanosecond);
BENCHMARK(BM_TreeMatch)
    ->ArgsProduct({{100, 1000, 10000, 100000, 1000000}, {10}, {100, 0}})
    ->ArgNames({"subs", "wildcard_pct", "share_groups"})
    ->Unit(benchmark::kNanosecond);

// One SUBSCRIBE plus the UNSUBSCRIBE of a fresh filter (new trie nodes, then
// pruned) per iteration, in a tree of state.range(0) subscriptions: the pair
// must cost the same from 10^2 to 10^6 (the trie's level hash grows with it).
void BM_TreeSubscribeUnsubscribe(benchmark::State &state)
{
	RcuThread rcu;
	size_t n = (size_t)state.range(0);
	Tree &t = shared_tree(n, 10);
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

// Operations per churn benchmark run: 0.1 s of CPU or less at 10^6.
constexpr benchmark::IterationCount CHURN_ITERATIONS = 20000;

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
	Tree &t = shared_tree(base, 10);
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
    // A fixed count: with background threads on a loaded 2-core box one
    // iteration's real time can exceed min_time, and a count of 1 measures
    // the scheduler, not the tree.
    ->Iterations(CHURN_ITERATIONS)
    ->UseRealTime();

// One publish lookup per iteration while state.range(0) threads subscribe
// and unsubscribe on the same tree of state.range(1) subscriptions.
void BM_TreeMatchUnderChurn(benchmark::State &state)
{
	RcuThread rcu;
	size_t base = (size_t)state.range(1);
	Tree &t = shared_tree(base, 10);
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
    // A fixed count: with background threads on a loaded 2-core box one
    // iteration's real time can exceed min_time, and a count of 1 measures
    // the scheduler, not the tree.
    ->Iterations(CHURN_ITERATIONS)
    ->UseRealTime();

} // namespace

int main(int argc, char **argv)
{
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	drop_trees();
	return 0;
}
