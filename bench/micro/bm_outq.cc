// SPDX-License-Identifier: MIT
// Output queue micro-benchmarks: the fan-out enqueue of one delivery into a
// subscriber's queue, and the output batching that turns a queue of
// deliveries into iovecs for one sendmsg.
#include <cstring>
#include <vector>

#include <benchmark/benchmark.h>

extern "C" {
#include "broker/msg.h"
#include "broker/outq.h"
}

namespace
{

constexpr size_t IOV_MAX_BENCH = 1024; // what the sock dataplane hands in per sendmsg

tern_msg *make_msg(size_t payload_len)
{
	std::vector<uint8_t> payload(payload_len, 'p');
	const char *topic = "sensors/building-7/floor-3/temperature";

	return tern_msg_create((const uint8_t *)topic, (uint16_t)strlen(topic), payload.data(),
			       payload.size(), 0, false);
}

// One delivery per iteration into the next of state.range(0) subscriber
// queues, as a publish fans out; queues are emptied every 64 rounds, or
// every 4096 deliveries with few queues (so pausing the timer costs little).
void BM_OutqFanoutEnqueue(benchmark::State &state)
{
	size_t n = (size_t)state.range(0);
	uint8_t qos = (uint8_t)state.range(1);
	std::vector<tern_outq> q(n);
	tern_msg *m = make_msg(64);
	size_t i = 0, round = 0;
	size_t drain_every = n >= 64 ? 64 : 4096 / n;

	for (auto &x : q)
		tern_outq_init(&x);
	for (auto _ : state) {
		int r = tern_outq_push_publish(&q[i], m, qos, false, false, (uint16_t)(round + 1));

		benchmark::DoNotOptimize(r);
		if (++i == n) {
			i = 0;
			if (++round % drain_every == 0) {
				state.PauseTiming();
				for (auto &x : q)
					tern_outq_consume(&x, tern_outq_bytes(&x));
				state.ResumeTiming();
			}
		}
	}
	for (auto &x : q)
		tern_outq_clear(&x);
	tern_msg_unref(m);
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OutqFanoutEnqueue)
    ->ArgsProduct({{1, 100, 1000}, {0, 1}})
    ->ArgNames({"subscribers", "qos"});

// Build the iovecs of a queue holding state.range(0) deliveries (one call,
// as the dataplane does once per connection and loop turn).
void BM_OutqIov(benchmark::State &state)
{
	size_t k = (size_t)state.range(0);
	uint8_t qos = (uint8_t)state.range(1);
	std::vector<iovec> iov(IOV_MAX_BENCH);
	tern_msg *m = make_msg(64);
	tern_outq q;

	tern_outq_init(&q);
	for (size_t j = 0; j < k; j++)
		tern_outq_push_publish(&q, m, qos, false, false, (uint16_t)(j + 1));
	for (auto _ : state) {
		size_t n = tern_outq_iov(&q, iov.data(), iov.size());

		benchmark::DoNotOptimize(n);
		benchmark::ClobberMemory();
	}
	tern_outq_clear(&q);
	tern_msg_unref(m);
	state.SetItemsProcessed(state.iterations() * (int64_t)k);
}
BENCHMARK(BM_OutqIov)->ArgsProduct({{1, 16, 256}, {0, 1}})->ArgNames({"queued", "qos"});

// A whole loop turn of one connection: state.range(0) deliveries queued,
// their iovecs built, all of it consumed as written.
void BM_OutqTurn(benchmark::State &state)
{
	size_t k = (size_t)state.range(0);
	std::vector<iovec> iov(IOV_MAX_BENCH);
	tern_msg *m = make_msg(64);
	tern_outq q;

	tern_outq_init(&q);
	for (auto _ : state) {
		for (size_t j = 0; j < k; j++)
			tern_outq_push_publish(&q, m, 0, false, false, 0);
		while (!tern_outq_empty(&q)) {
			size_t n = tern_outq_iov(&q, iov.data(), iov.size()), bytes = 0;

			for (size_t j = 0; j < n; j++)
				bytes += iov[j].iov_len;
			tern_outq_consume(&q, bytes);
		}
		benchmark::ClobberMemory();
	}
	tern_msg_unref(m);
	state.SetItemsProcessed(state.iterations() * (int64_t)k);
}
BENCHMARK(BM_OutqTurn)->Arg(1)->Arg(16)->Arg(256)->Arg(2048)->ArgName("deliveries");

} // namespace

BENCHMARK_MAIN();
