/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the Google Benchmark harnesses: the engine's C headers
 * included with C linkage, a QSBR registration scope for benchmark threads,
 * and a fixed-seed generator so every run walks the same inputs.
 */
#ifndef TERN_BENCH_MICRO_BM_COMMON_H
#define TERN_BENCH_MICRO_BM_COMMON_H

#include <cstdint>

#include <urcu-qsbr.h>

/*
 * Registers the calling thread as a QSBR reader for its lifetime; tree and
 * retained-store lookups need it. quiescent() lets grace periods end while a
 * benchmark loop runs (call_rcu frees from concurrent writers).
 */
class RcuThread
{
      public:
	RcuThread()
	{
		rcu_register_thread();
	}
	~RcuThread()
	{
		rcu_unregister_thread();
	}
	RcuThread(const RcuThread &) = delete;
	RcuThread &operator=(const RcuThread &) = delete;
	void quiescent()
	{
		rcu_quiescent_state();
	}
};

/* xorshift64*: fixed seeds, identical sequences on every run and machine. */
class Rng
{
      public:
	explicit Rng(uint64_t seed) : s_(seed ? seed : 1)
	{
	}
	uint64_t next()
	{
		s_ ^= s_ >> 12;
		s_ ^= s_ << 25;
		s_ ^= s_ >> 27;
		return s_ * 0x2545F4914F6CDD1DULL;
	}
	uint64_t below(uint64_t n)
	{
		return next() % n;
	}

      private:
	uint64_t s_;
};

#endif
