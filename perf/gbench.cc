// SPDX-License-Identifier: MIT
/*
 * DOC: gbench.h implemented on Google Benchmark.
 *
 * The C handles are the library's own objects under another name: a struct
 * gbench_state * is a benchmark::State *, a struct gbench * is a
 * benchmark::internal::Benchmark *. Nothing is allocated or copied per
 * iteration, so gbench_keep_running() costs what State::KeepRunning() costs.
 * No C++ exception may cross into C: the library reports errors through its
 * own channels, and the C callbacks cannot throw.
 */
#include "perf/gbench.h"

#include <benchmark/benchmark.h>

namespace {

benchmark::State *cpp(struct gbench_state *st)
{
	return reinterpret_cast<benchmark::State *>(st);
}

const benchmark::State *cpp(const struct gbench_state *st)
{
	return reinterpret_cast<const benchmark::State *>(st);
}

benchmark::internal::Benchmark *cpp(struct gbench *b)
{
	return reinterpret_cast<benchmark::internal::Benchmark *>(b);
}

struct gbench *c_handle(benchmark::internal::Benchmark *b)
{
	return reinterpret_cast<struct gbench *>(b);
}

benchmark::Counter::Flags counter_flags(unsigned flags)
{
	// The C enum has its own values so that it does not depend on the
	// library's (kInvert is bit 31 there, not a valid C enum constant).
	static const struct {
		unsigned c;
		int cpp;
	} map[] = {
		{ GBENCH_COUNTER_RATE, benchmark::Counter::kIsRate },
		{ GBENCH_COUNTER_AVG_THREADS, benchmark::Counter::kAvgThreads },
		{ GBENCH_COUNTER_ITER_INVARIANT, benchmark::Counter::kIsIterationInvariant },
		{ GBENCH_COUNTER_AVG_ITERATIONS, benchmark::Counter::kAvgIterations },
		{ GBENCH_COUNTER_INVERT, benchmark::Counter::kInvert },
	};
	int out = benchmark::Counter::kDefaults;
	for (const auto &m : map)
		if (flags & m.c)
			out |= m.cpp;
	return static_cast<benchmark::Counter::Flags>(out);
}

benchmark::TimeUnit time_unit(enum gbench_unit unit)
{
	switch (unit) {
	case GBENCH_US: return benchmark::kMicrosecond;
	case GBENCH_MS: return benchmark::kMillisecond;
	case GBENCH_S:  return benchmark::kSecond;
	case GBENCH_NS:
	default:        return benchmark::kNanosecond;
	}
}

} // namespace

extern "C" {

struct gbench *gbench_register(const char *name, gbench_fn *fn, void *arg)
{
	return c_handle(benchmark::RegisterBenchmark(
		name, [fn, arg](benchmark::State &st) {
			fn(reinterpret_cast<struct gbench_state *>(&st), arg);
		}));
}

struct gbench *gbench_unit(struct gbench *b, enum gbench_unit unit)
{
	return c_handle(cpp(b)->Unit(time_unit(unit)));
}

struct gbench *gbench_use_real_time(struct gbench *b)
{
	return c_handle(cpp(b)->UseRealTime());
}

struct gbench *gbench_min_time(struct gbench *b, double seconds)
{
	return c_handle(cpp(b)->MinTime(seconds));
}

bool gbench_keep_running(struct gbench_state *st)
{
	return cpp(st)->KeepRunning();
}

int64_t gbench_iterations(const struct gbench_state *st)
{
	return static_cast<int64_t>(cpp(st)->iterations());
}

void gbench_pause_timing(struct gbench_state *st)
{
	cpp(st)->PauseTiming();
}

void gbench_resume_timing(struct gbench_state *st)
{
	cpp(st)->ResumeTiming();
}

void gbench_set_counter(struct gbench_state *st, const char *name, double value,
			unsigned flags)
{
	cpp(st)->counters[name] = benchmark::Counter(value, counter_flags(flags));
}

void gbench_set_items_processed(struct gbench_state *st, int64_t items)
{
	cpp(st)->SetItemsProcessed(items);
}

void gbench_set_bytes_processed(struct gbench_state *st, int64_t bytes)
{
	cpp(st)->SetBytesProcessed(bytes);
}

void gbench_set_label(struct gbench_state *st, const char *label)
{
	cpp(st)->SetLabel(label);
}

void gbench_skip_with_error(struct gbench_state *st, const char *msg)
{
	cpp(st)->SkipWithError(msg);
}

bool gbench_error_occurred(const struct gbench_state *st)
{
	return cpp(st)->error_occurred();
}

int gbench_main(int argc, char **argv)
{
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}

} // extern "C"
