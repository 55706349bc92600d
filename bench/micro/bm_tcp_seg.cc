// SPDX-License-Identifier: MIT
// Per-segment cost of the userspace TCP stack (dataplane/net) on mbufs, no
// NIC: receive of an in-order data segment on an established connection
// (checksum verification, delivery, ACK generation with delayed ACK), the
// same through the whole frame input path (Ethernet, IPv4, TCP), transmit of
// one segment queued by the application (header build, IP output, checksum
// in software or left to the port), and ACK processing that frees
// acknowledged send-queue segments. One iteration is one segment (one ACK
// for BM_TcpAckFree). The peer's segments are built ahead of time in batches
// of SEG_FIX_BATCH with the timer paused; every 32 segments a poll-loop turn
// (timers, TX flush) runs inside the timing, as the lcore loop would run it
// once per RX burst. Frames the port took are freed outside the timing (a
// PMD's TX completion). Needs root (EAL).
#include <cstdio>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/micro/tcp_seg.h"

extern "C" {
#include "dataplane/net/tcp.h"
}

namespace
{

constexpr unsigned TURN_EVERY = 32; // segments per poll-loop turn (an RX burst)
constexpr uint16_t MSS = 1460;

// The fixture as a scope: set up before the timed loop, freed after it.
class Fix
{
      public:
	Fix(bool rx_offload, bool tx_offload) : f_(seg_fix_create(rx_offload, tx_offload))
	{
	}
	~Fix()
	{
		seg_fix_free(f_);
	}
	Fix(const Fix &) = delete;
	Fix &operator=(const Fix &) = delete;
	seg_fix *get() const
	{
		return f_;
	}

      private:
	seg_fix *f_;
};

void free_rest(std::vector<rte_mbuf *> &v, size_t from)
{
	for (size_t i = from; i < v.size(); i++)
		seg_fix_free_mbuf(v[i]);
}

// One in-order data segment of state.range(0) payload bytes per iteration;
// range(1): the NIC vouched for the checksums (else verified in software);
// range(2): a whole Ethernet frame into the interface (else a segment into TCP).
void BM_TcpRxData(benchmark::State &state)
{
	uint16_t payload = (uint16_t)state.range(0);
	bool frame = state.range(2) != 0;
	Fix fix(state.range(1) != 0, false);
	seg_fix *f = fix.get();
	std::vector<rte_mbuf *> batch(SEG_FIX_BATCH);
	size_t pos = SEG_FIX_BATCH;
	uint64_t bytes0, out0, n = 0;

	if (!f) {
		state.SkipWithError("fixture setup failed");
		return;
	}
	bytes0 = seg_fix_app_bytes(f);
	out0 = seg_fix_stats(f)->seg_out;
	for (auto _ : state) {
		if (pos == SEG_FIX_BATCH) {
			state.PauseTiming();
			seg_fix_tx_drain(f);
			if (seg_fix_build_data(f, batch.data(), SEG_FIX_BATCH, payload, frame) <
			    0) {
				state.SkipWithError("out of mbufs");
				break;
			}
			pos = 0;
			state.ResumeTiming();
		}
		if (frame)
			seg_fix_input_frame(f, batch[pos++]);
		else
			seg_fix_input_tcp(f, batch[pos++]);
		if (++n % TURN_EVERY == 0)
			seg_fix_turn(f);
	}
	free_rest(batch, pos);
	seg_fix_turn(f);
	seg_fix_tx_drain(f);
	// Every segment must have been delivered: a drop path would be cheaper and wrong.
	if (seg_fix_app_bytes(f) - bytes0 != n * payload) {
		state.SkipWithError("the stack did not deliver every segment");
		return;
	}
	state.SetItemsProcessed((int64_t)n);
	state.SetBytesProcessed((int64_t)(n * payload));
	state.counters["acks_per_seg"] =
	    (double)(seg_fix_stats(f)->seg_out - out0) / (double)(n ? n : 1);
}
BENCHMARK(BM_TcpRxData)
    ->ArgsProduct({{64, MSS}, {0, 1}, {0, 1}})
    ->ArgNames({"payload", "rx_cksum_offload", "frame"})
    ->Unit(benchmark::kNanosecond);

// One dp_tcp_send() of a state.range(0)-byte payload per iteration, which
// goes out at once as one segment (open windows): header mbuf, indirect
// payload mbuf, IPv4 header, TCP checksum in software or (range(1)) offload
// flags for the port, Ethernet header, TX staging. The peer acknowledges
// each batch outside the timing.
void BM_TcpTxSegment(benchmark::State &state)
{
	uint16_t payload = (uint16_t)state.range(0);
	Fix fix(false, state.range(1) != 0);
	seg_fix *f = fix.get();
	std::vector<rte_mbuf *> batch(SEG_FIX_BATCH), ack(1);
	size_t pos = SEG_FIX_BATCH;
	uint64_t out0, n = 0;

	if (!f) {
		state.SkipWithError("fixture setup failed");
		return;
	}
	out0 = seg_fix_stats(f)->seg_out;
	for (auto _ : state) {
		if (pos == SEG_FIX_BATCH) {
			state.PauseTiming();
			seg_fix_turn(f);
			seg_fix_tx_drain(f);
			if (seg_fix_unacked(f) > 0) {
				if (seg_fix_build_acks(f, ack.data(), 1, seg_fix_unacked(f)) < 0) {
					state.SkipWithError("out of mbufs");
					break;
				}
				seg_fix_input_tcp(f, ack[0]);
			}
			if (seg_fix_build_payload(f, batch.data(), SEG_FIX_BATCH, payload) < 0) {
				state.SkipWithError("out of mbufs");
				break;
			}
			pos = 0;
			state.ResumeTiming();
		}
		if (seg_fix_send(f, batch[pos]) != 0) {
			state.SkipWithError("dp_tcp_send refused a segment");
			break;
		}
		pos++;
		if (++n % TURN_EVERY == 0)
			seg_fix_turn(f);
	}
	free_rest(batch, pos);
	seg_fix_turn(f);
	seg_fix_tx_drain(f);
	if (state.error_occurred())
		return;
	// One segment per send, no more (no split) and no less (nothing held back).
	if (seg_fix_stats(f)->seg_out - out0 != n) {
		state.SkipWithError("the stack did not send one segment per dp_tcp_send");
		return;
	}
	state.SetItemsProcessed((int64_t)n);
	state.SetBytesProcessed((int64_t)(n * payload));
}
BENCHMARK(BM_TcpTxSegment)
    ->ArgsProduct({{64, MSS}, {0, 1}})
    ->ArgNames({"payload", "tx_cksum_offload"})
    ->Unit(benchmark::kNanosecond);

// One pure ACK per iteration that acknowledges state.range(0) more MSS
// segments of the send queue, which the stack then frees (RTT sample,
// congestion window, send-queue trim). Checksum verified in software.
void BM_TcpAckFree(benchmark::State &state)
{
	unsigned per_ack = (unsigned)state.range(0);
	unsigned acks_per_batch = SEG_FIX_BATCH / per_ack;
	Fix fix(false, false);
	seg_fix *f = fix.get();
	std::vector<rte_mbuf *> payload(SEG_FIX_BATCH), acks(acks_per_batch);
	size_t pos = acks_per_batch;
	uint64_t n = 0;

	if (!f) {
		state.SkipWithError("fixture setup failed");
		return;
	}
	for (auto _ : state) {
		if (pos == acks_per_batch) {
			state.PauseTiming();
			seg_fix_turn(f);
			seg_fix_tx_drain(f);
			if (seg_fix_unacked(f) != 0 ||
			    seg_fix_build_payload(f, payload.data(), SEG_FIX_BATCH, MSS) < 0) {
				state.SkipWithError("unacknowledged data left, or out of mbufs");
				break;
			}
			for (unsigned i = 0; i < SEG_FIX_BATCH; i++)
				if (seg_fix_send(f, payload[i]) != 0) {
					free_rest(payload, i);
					state.SkipWithError("dp_tcp_send refused a segment");
					break;
				}
			seg_fix_turn(f);
			seg_fix_tx_drain(f);
			if (state.error_occurred())
				break;
			if (seg_fix_build_acks(f, acks.data(), acks_per_batch, per_ack * MSS) < 0) {
				state.SkipWithError("out of mbufs");
				break;
			}
			pos = 0;
			state.ResumeTiming();
		}
		seg_fix_input_tcp(f, acks[pos++]);
		if (++n % TURN_EVERY == 0)
			seg_fix_turn(f);
	}
	if (state.error_occurred()) {
		seg_fix_turn(f);
		seg_fix_tx_drain(f);
		return;
	}
	// The rest of the batch, untimed, so the whole send queue is acknowledged.
	while (pos < acks_per_batch)
		seg_fix_input_tcp(f, acks[pos++]);
	seg_fix_turn(f);
	seg_fix_tx_drain(f);
	// Every ACK freed what it acknowledged: the whole send queue is gone.
	if (seg_fix_queued(f) != 0) {
		state.SkipWithError("acknowledged segments were not freed");
		return;
	}
	state.SetItemsProcessed((int64_t)n);
	state.counters["segs_freed_per_s"] =
	    benchmark::Counter((double)(n * per_ack), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TcpAckFree)
    ->Arg(1)
    ->Arg(2)
    ->Arg(16)
    ->ArgName("segs_per_ack")
    ->Unit(benchmark::kNanosecond);

} // namespace

int main(int argc, char **argv)
{
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	if (seg_fix_eal_init(argv[0]) < 0)
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	seg_fix_eal_fini();
	return 0;
}
