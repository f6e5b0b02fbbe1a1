/* SPDX-License-Identifier: MIT */
/*
 * DOC: a C API over Google Benchmark (gbench.cc), for benchmarks written in C.
 *
 * A benchmark is a C function that sets itself up, then loops on
 * gbench_keep_running() and does one unit of work per iteration; the library
 * chooses the number of iterations, times the loop, repeats it and prints the
 * statistics, exactly as for a C++ benchmark:
 *
 *	static void bm_thing(struct gbench_state *st, void *arg)
 *	{
 *		setup(arg);                   // not timed
 *		while (gbench_keep_running(st))
 *			do_one_thing(arg);        // timed
 *		gbench_set_items_processed(st, gbench_iterations(st));
 *	}
 *
 *	int main(int argc, char **argv)
 *	{
 *		gbench_unit(gbench_register("thing", bm_thing, NULL), GBENCH_US);
 *		return gbench_main(argc, argv);
 *	}
 *
 * gbench_main() takes the usual --benchmark_* flags (--benchmark_filter,
 * --benchmark_repetitions, --benchmark_report_aggregates_only,
 * --benchmark_out, ...). The function may be called several times per
 * benchmark (the library calls it again with more iterations until the run is
 * long enough), so setup belongs in the function, not in main().
 */
#ifndef L1_PERF_GBENCH_H
#define L1_PERF_GBENCH_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One benchmark run in progress: a benchmark::State. Valid during the call only. */
struct gbench_state;
/* A registered benchmark, for setting its options: a benchmark::internal::Benchmark. */
struct gbench;

typedef void gbench_fn(struct gbench_state *st, void *arg);

/* Counter flags: benchmark::Counter::Flags, same meaning, may be or'ed. */
enum gbench_counter_flags {
	GBENCH_COUNTER_DEFAULT = 0,         /* the value as set, summed over threads */
	GBENCH_COUNTER_RATE = 1 << 0,       /* divided by the elapsed time: per second */
	GBENCH_COUNTER_AVG_THREADS = 1 << 1,
	GBENCH_COUNTER_ITER_INVARIANT = 1 << 2, /* multiplied by the iterations */
	GBENCH_COUNTER_AVG_ITERATIONS = 1 << 3, /* divided by the iterations: per iteration */
	GBENCH_COUNTER_INVERT = 1 << 4,     /* 1/value: e.g. a rate shown as seconds per item */
};

enum gbench_unit { GBENCH_NS, GBENCH_US, GBENCH_MS, GBENCH_S };

/*
 * Register fn(st, arg) under name (copied). arg is passed through untouched
 * and must outlive gbench_main(). Returns the benchmark, for the option
 * setters below; never NULL (aborts when out of memory, as C++ new does).
 */
struct gbench *gbench_register(const char *name, gbench_fn *fn, void *arg);

/* Options; each returns b so that they can be nested. */
struct gbench *gbench_unit(struct gbench *b, enum gbench_unit unit);
/* Time with the wall clock instead of the thread's CPU time (for work the
 * thread waits for: I/O, a guest running in KVM_RUN). */
struct gbench *gbench_use_real_time(struct gbench *b);
struct gbench *gbench_min_time(struct gbench *b, double seconds);

/* True while the library wants another iteration; the timer runs between calls. */
bool gbench_keep_running(struct gbench_state *st);
/* Iterations done so far (after the loop: all of them). */
int64_t gbench_iterations(const struct gbench_state *st);

/* Stop and restart the timer around work that must not be counted. */
void gbench_pause_timing(struct gbench_state *st);
void gbench_resume_timing(struct gbench_state *st);

/* Set (or replace) a user counter, shown as a column; flags: gbench_counter_flags. */
void gbench_set_counter(struct gbench_state *st, const char *name, double value,
			unsigned flags);
/* Items or bytes done in the whole run: shown as items/s or bytes/s. */
void gbench_set_items_processed(struct gbench_state *st, int64_t items);
void gbench_set_bytes_processed(struct gbench_state *st, int64_t bytes);
void gbench_set_label(struct gbench_state *st, const char *label);

/*
 * Mark the run as failed with msg (shown instead of its figures). The
 * function may then return at once, before or in its loop (leaving the loop
 * is up to it: gbench_keep_running() says false from now on).
 */
void gbench_skip_with_error(struct gbench_state *st, const char *msg);
bool gbench_error_occurred(const struct gbench_state *st);

/*
 * Parse the --benchmark_* flags in argv, run the benchmarks they select and
 * print the report. Returns the process exit status: 0, or 1 when argv held
 * an argument the library does not know (it says which).
 */
int gbench_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
