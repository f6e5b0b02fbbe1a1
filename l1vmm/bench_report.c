/* SPDX-License-Identifier: MIT */
/*
 * DOC: the report of `l1vmm bench` (bench.h): one table, the samples, the plots.
 *
 * Per run, the memory figures are medians over the steady part of the guests'
 * measured phase: from half their duration after the last guest finished its
 * fill to the end of that duration (all samples when that window is empty).
 * "saved" is what the tree says each mechanism holds back: dedup/
 * general_profit, the balloons' actual_mb, and the store's pages less its own
 * memory. "vs none" is the none run's RssAnon less this run's, the same
 * window; "peak" the largest RssAnon of the run. Guest throughput is each
 * guest's own summary figure over the same guest's in the none run (the
 * first contender's when none did not run), their geometric mean. With
 * repeat > 1, each figure is the median over the repetitions.
 *
 * Below that table, one block per guest group (a `guest = NAME count=N`
 * line): per contender, the group's own summary figure (its workload's:
 * verify_MBps, rounds_per_s, compute_pct, ...; the mean over its guests), that
 * figure against the same guests' in none, their first-touch and fetch
 * latencies (vms/NAME/reclaim/), their mismatches. guests.csv holds the same,
 * samples.json each guest of each run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "l1vmm/bench_priv.h"

enum fig {
	F_SHARING, F_BALLOON, F_RECLAIM, F_SAVED, F_RSS, F_VS_NONE, F_PEAK, F_AVAIL_DROP, F_PSI,
	F_TPUT, F_FAULT50, F_FAULT99, F_FETCH50, F_FETCH99, F_MISMATCH, F_CPU, NR_FIGS
};

static const char *const fig_names[NR_FIGS] = {
	"sharing_mb", "balloon_mb", "reclaim_mb", "saved_mb", "rss_mb", "rss_vs_none_mb", "rss_peak_mb",
	"memavail_drop_mb", "psi_some_avg10_max", "throughput_x_none", "fault_us_p50", "fault_us_p99",
	"fetch_us_p50", "fetch_us_p99", "mismatches", "host_cpu_s",
};

/* Decimals of each figure in the table. */
static const int fig_decimals[NR_FIGS] = { [F_PSI] = 1, [F_TPUT] = 3, [F_CPU] = 1 };

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The samples of the steady window (DOC), [*lo, *hi). */
static void window(const struct bench_scenario *s, const struct bench_run *r, unsigned *lo, unsigned *hi)
{
	*lo = 0;
	*hi = r->nr_samples;
	if (r->t_ready < 0)
		return;
	double a = r->t_ready + s->duration / 2, b = r->t_ready + s->duration;
	unsigned i = 0, j;
	while (i < r->nr_samples && r->sample[i].t < a)
		i++;
	for (j = i; j < r->nr_samples && r->sample[j].t <= b; j++)
		;
	if (j > i) {
		*lo = i;
		*hi = j;
	}
}

static double window_median(const struct bench_scenario *s, const struct bench_run *r, size_t off)
{
	unsigned lo, hi;
	window(s, r, &lo, &hi);
	double *v = malloc((hi - lo + 1) * sizeof(*v));
	if (!v)
		return NAN;
	for (unsigned i = lo; i < hi; i++)
		v[i - lo] = *(const double *)((const char *)&r->sample[i] + off);
	double m = median(v, hi - lo);
	free(v);
	return m;
}

/* The run whose guests are this run's baseline: none of the same repetition, else the first run. */
static const struct bench_run *baseline(const struct bench_run *runs, unsigned nr, const struct bench_run *r)
{
	for (unsigned i = 0; i < nr; i++)
		if (runs[i].contender == BENCH_NONE && runs[i].rep == r->rep)
			return &runs[i];
	for (unsigned i = 0; i < nr; i++)
		if (runs[i].rep == r->rep)
			return &runs[i];
	return r;
}

static void summarize(const struct bench_scenario *s, const struct bench_run *runs, unsigned nr,
		      const struct bench_run *r, double f[NR_FIGS])
{
	const struct bench_run *b = baseline(runs, nr, r);
	f[F_SHARING] = window_median(s, r, offsetof(struct bench_sample, sharing_mb));
	f[F_BALLOON] = window_median(s, r, offsetof(struct bench_sample, balloon_mb));
	f[F_RECLAIM] = window_median(s, r, offsetof(struct bench_sample, reclaim_mb));
	f[F_SAVED] = f[F_SHARING] + f[F_BALLOON] + f[F_RECLAIM];
	f[F_RSS] = window_median(s, r, offsetof(struct bench_sample, rss_mb));
	f[F_VS_NONE] = b->contender == BENCH_NONE
		? window_median(s, b, offsetof(struct bench_sample, rss_mb)) - f[F_RSS] : NAN;
	f[F_PEAK] = f[F_PSI] = 0;
	double avail_min = r->mem_before_mb;
	for (unsigned i = 0; i < r->nr_samples; i++) {
		f[F_PEAK] = fmax(f[F_PEAK], r->sample[i].rss_mb);
		f[F_PSI] = fmax(f[F_PSI], r->sample[i].psi_some_avg10);
		avail_min = fmin(avail_min, r->sample[i].mem_avail_mb);
	}
	f[F_AVAIL_DROP] = r->mem_before_mb - avail_min;
	double logsum = 0;
	unsigned n = 0;
	f[F_FAULT50] = f[F_FAULT99] = f[F_MISMATCH] = 0;
	for (unsigned i = 0; i < s->nr_vms; i++) {
		const struct bench_guest *g = &r->guest[i];
		if (g->final_rate > 0 && b->guest[i].final_rate > 0) {
			logsum += log(g->final_rate / b->guest[i].final_rate);
			n++;
		}
		f[F_FAULT50] = fmax(f[F_FAULT50], g->fault_us_p50);
		f[F_FAULT99] = fmax(f[F_FAULT99], g->fault_us_p99);
		f[F_MISMATCH] += (double)g->mismatches;
	}
	f[F_TPUT] = n ? exp(logsum / n) : NAN;
	f[F_FETCH50] = r->fetch_us_p50;
	f[F_FETCH99] = r->fetch_us_p99;
	f[F_CPU] = r->nr_samples ? r->sample[r->nr_samples - 1].cpu_s : NAN;
}

/* One row of the table: a contender's figures, the median over its repetitions. */
struct row {
	enum bench_contender contender;
	double f[NR_FIGS];
	bool failed;
	unsigned count;		/* its runs; 0: it did not run */
};

static void contender_row(const struct bench_scenario *s, const struct bench_run *runs, unsigned nr,
			  struct row *row)
{
	double per[BENCH_MAX_REPEAT][NR_FIGS];
	unsigned k = 0;
	row->failed = false;
	for (unsigned i = 0; i < nr && k < BENCH_MAX_REPEAT; i++)
		if (runs[i].contender == row->contender) {
			summarize(s, runs, nr, &runs[i], per[k++]);
			row->failed |= runs[i].why[0] != '\0';
		}
	row->count = k;
	for (unsigned j = 0; j < NR_FIGS; j++) {
		double v[BENCH_MAX_REPEAT];
		unsigned m = 0;
		for (unsigned i = 0; i < k; i++)
			if (!isnan(per[i][j]))
				v[m++] = per[i][j];
		row->f[j] = median(v, m);
	}
}

/* The first VM of group gi: the VMs are laid out group after group. */
static unsigned first_vm(const struct bench_scenario *s, unsigned gi)
{
	unsigned i = 0;
	for (unsigned k = 0; k < gi; k++)
		i += s->group[k].count;
	return i;
}

/* Guest i's figure in run r over the same guest's in r's baseline run; NAN when either is missing. */
static double x_none(const struct bench_run *runs, unsigned nr, const struct bench_run *r, unsigned i)
{
	double base = baseline(runs, nr, r)->guest[i].final_rate;
	return r->guest[i].final_rate > 0 && base > 0 ? r->guest[i].final_rate / base : NAN;
}

/* Group gi's figures in one run (runs = 1). */
static void group_run(const struct bench_scenario *s, const struct bench_run *runs, unsigned nr,
		      const struct bench_run *r, unsigned gi, struct bench_group_row *f)
{
	double sum = 0, logsum = 0;
	unsigned n = 0, nx = 0, lo = first_vm(s, gi);
	*f = (struct bench_group_row){ .runs = 1 };
	for (unsigned i = lo; i < lo + s->group[gi].count; i++) {
		const struct bench_guest *g = &r->guest[i];
		double x = x_none(runs, nr, r, i);
		if (g->final_rate > 0) {
			sum += g->final_rate;
			n++;
		}
		if (!isnan(x)) {
			logsum += log(x);
			nx++;
		}
		f->fault_us_p50 = fmax(f->fault_us_p50, g->fault_us_p50);
		f->fault_us_p99 = fmax(f->fault_us_p99, g->fault_us_p99);
		f->fetch_us_p50 = fmax(f->fetch_us_p50, g->fetch_us_p50);
		f->fetch_us_p99 = fmax(f->fetch_us_p99, g->fetch_us_p99);
		f->mismatches += (double)g->mismatches;
		f->failed |= g->failed || !g->passed || g->mismatches;
	}
	f->value = n ? sum / n : NAN;
	f->x_none = nx ? exp(logsum / nx) : NAN;
}

void bench__group_row(const struct bench_scenario *s, const struct bench_run *runs, unsigned nr_runs,
		      enum bench_contender c, unsigned group, struct bench_group_row *row)
{
	static const size_t figs[] = {
		offsetof(struct bench_group_row, value), offsetof(struct bench_group_row, x_none),
		offsetof(struct bench_group_row, fault_us_p50), offsetof(struct bench_group_row, fault_us_p99),
		offsetof(struct bench_group_row, fetch_us_p50), offsetof(struct bench_group_row, fetch_us_p99),
		offsetof(struct bench_group_row, mismatches),
	};
	struct bench_group_row per[BENCH_MAX_REPEAT];
	unsigned k = 0;
	*row = (struct bench_group_row){ 0 };
	for (unsigned i = 0; i < nr_runs && k < BENCH_MAX_REPEAT; i++)
		if (runs[i].contender == c) {
			group_run(s, runs, nr_runs, &runs[i], group, &per[k]);
			row->failed |= per[k++].failed;
		}
	row->runs = k;
	for (size_t j = 0; j < sizeof(figs) / sizeof(figs[0]); j++) {
		double v[BENCH_MAX_REPEAT];
		unsigned m = 0;
		for (unsigned i = 0; i < k; i++) {
			double x = *(const double *)((const char *)&per[i] + figs[j]);
			if (!isnan(x))
				v[m++] = x;
		}
		*(double *)((char *)row + figs[j]) = median(v, m);
	}
}

static void cell(char *buf, size_t len, double v, int decimals)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.*f", decimals, v);
}

static void table(FILE *o, const struct bench_scenario *s, const struct row rows[])
{
	struct utsname u;
	uname(&u);
	time_t now = time(NULL);
	char date[40];
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	fprintf(o, "\nbench %s (%s): %u guests, %llu MiB of guest RAM; host limit %llu MiB; "
		"%.0f s measured, %u run%s each\n", s->name, s->file, s->nr_vms,
		(unsigned long long)(s->guest_mem >> 20), (unsigned long long)s->host_limit_mb,
		s->duration, s->repeat, s->repeat > 1 ? "s (medians)" : "");
	fprintf(o, "host %s, %s %s, %ld CPUs; %s\n", u.nodename, u.sysname, u.release,
		sysconf(_SC_NPROCESSORS_ONLN), date);
	fprintf(o, "memory saved (MiB, median of the steady window), per mechanism, against the host's:\n");
	fprintf(o, "%-8s %7s %7s %7s %7s | %7s %7s %7s %7s %5s | %6s %11s %11s %5s %6s %s\n",
		"", "sharing", "balloon", "reclaim", "saved", "RssAnon", "vs none", "peak", "avail-", "PSI",
		"tput", "fault us", "fetch us", "mism", "CPU s", "");
	fprintf(o, "%-8s %7s %7s %7s %7s | %7s %7s %7s %7s %5s | %6s %11s %11s %5s %6s %s\n",
		"", "", "", "", "", "", "", "", "", "max", "x none", "p50/p99", "p50/p99", "", "", "result");
	for (unsigned k = 0; k < s->nr_contenders; k++) {
		const double *f = rows[k].f;
		if (!rows[k].count)
			continue;
		char c[NR_FIGS][24], fault[32], fetch[32];
		for (unsigned j = 0; j < NR_FIGS; j++)
			cell(c[j], sizeof(c[j]), f[j], fig_decimals[j]);
		snprintf(fault, sizeof(fault), f[F_FAULT99] > 0 ? "%.0f/%.0f" : "-", f[F_FAULT50], f[F_FAULT99]);
		snprintf(fetch, sizeof(fetch), f[F_FETCH99] > 0 ? "%.0f/%.0f" : "-", f[F_FETCH50], f[F_FETCH99]);
		fprintf(o, "%-8s %7s %7s %7s %7s | %7s %7s %7s %7s %5s | %6s %11s %11s %5s %6s %s\n",
			bench__contender_names[s->contender[k]], c[F_SHARING], c[F_BALLOON], c[F_RECLAIM],
			c[F_SAVED], c[F_RSS], c[F_VS_NONE], c[F_PEAK], c[F_AVAIL_DROP], c[F_PSI], c[F_TPUT],
			fault, fetch, c[F_MISMATCH], c[F_CPU], rows[k].failed ? "FAILED" : "ok");
	}
	fprintf(o, "saved: dedup/general_profit + balloons' actual_mb + the store's pages less its memory; "
		"RssAnon: l1vmm's; vs none: none's RssAnon less this one's;\npeak: largest RssAnon; "
		"avail-: largest MemAvailable drop; tput: guests' own throughput over none's (geometric "
		"mean);\nfault: hotcold's first touch of a cold page (guest-side); fetch: reclaim/"
		"fetch_us_*; CPU: l1vmm (and ksmd) outside the guests\n");
}

/* A guest's own figure: from a few percent to millions of iterations a second. */
static void value_cell(char *buf, size_t len, double v)
{
	cell(buf, len, v, v >= 1000 ? 0 : v >= 10 ? 1 : 2);
}

/* p50/p99, or - when nothing was reported. */
static void latency_cell(char *buf, size_t len, double p50, double p99)
{
	if (p99 > 0)
		snprintf(buf, len, "%.0f/%.0f", p50, p99);
	else
		snprintf(buf, len, "-");
}

void bench__guest_table(FILE *o, const struct bench_scenario *s, const struct bench_run *runs,
			unsigned nr_runs)
{
	fprintf(o, "per guest: its workload's own figure (the mean over the line's guests), against the same "
		"guests' in none:\n");
	fprintf(o, "%-12s %-9s %-13s %-8s %10s %6s %11s %11s %5s\n", "guest", "workload", "figure", "",
		"value", "x none", "fault us", "fetch us", "mism");
	fprintf(o, "%-12s %-9s %-13s %-8s %10s %6s %11s %11s %5s %s\n", "", "", "", "", "", "",
		"p50/p99", "p50/p99", "", "result");
	for (unsigned gi = 0; gi < s->nr_groups; gi++) {
		const struct bench_group *g = &s->group[gi];
		char label[BENCH_NAME_MAX + 16];
		if (g->count > 1)
			snprintf(label, sizeof(label), "%s x%u", g->name, g->count);
		else
			snprintf(label, sizeof(label), "%s", g->name);
		bool first = true;
		for (unsigned k = 0; k < s->nr_contenders; k++) {
			struct bench_group_row row;
			bench__group_row(s, runs, nr_runs, s->contender[k], gi, &row);
			if (!row.runs)
				continue;
			char value[24], x[24], fault[32], fetch[32], mism[24];
			value_cell(value, sizeof(value), row.value);
			cell(x, sizeof(x), row.x_none, 3);
			latency_cell(fault, sizeof(fault), row.fault_us_p50, row.fault_us_p99);
			latency_cell(fetch, sizeof(fetch), row.fetch_us_p50, row.fetch_us_p99);
			cell(mism, sizeof(mism), row.mismatches, 0);
			fprintf(o, "%-12s %-9s %-13s %-8s %10s %6s %11s %11s %5s %s\n", first ? label : "",
				first ? g->workload : "", first ? bench__figure_name(g->workload) : "",
				bench__contender_names[s->contender[k]], value, x, fault, fetch, mism,
				row.failed ? "FAILED" : "ok");
			first = false;
		}
	}
	fprintf(o, "fault: hotcold's first touch of a cold page; fetch: vms/NAME/reclaim/fetch_us_* "
		"(the largest of the line's guests)\n");
}

/* Guest throughput at sample i against the baseline guests' median rate (NAN: no rates). */
static double relative_rate(const struct bench_scenario *s, const struct bench_run *r,
			    const double base[BENCH_MAX_VMS], unsigned i)
{
	double sum = 0;
	unsigned n = 0;
	for (unsigned g = 0; g < s->nr_vms; g++)
		if (base[g] > 0 && r->sample[i].rate[g] > 0) {
			sum += r->sample[i].rate[g] / base[g];
			n++;
		}
	return n ? sum / n : NAN;
}

static void base_rates(const struct bench_scenario *s, const struct bench_run *b, double base[BENCH_MAX_VMS])
{
	double *v = malloc((b->nr_samples + 1) * sizeof(*v));
	for (unsigned g = 0; g < s->nr_vms; g++) {
		unsigned n = 0;
		for (unsigned i = 0; v && i < b->nr_samples; i++)
			if (b->sample[i].rate[g] > 0)
				v[n++] = b->sample[i].rate[g];
		base[g] = v ? median(v, n) : NAN;
	}
	free(v);
}

/* A number for JSON: null for NAN. */
static void json_number(FILE *js, const char *key, double v, bool more)
{
	if (isnan(v))
		fprintf(js, "\"%s\": null%s", key, more ? ", " : "");
	else
		fprintf(js, "\"%s\": %.3f%s", key, v, more ? ", " : "");
}

/* Run r's guests, one object each, for samples.json. */
static void guests_json(FILE *js, const struct bench_scenario *s, const struct bench_run *runs, unsigned nr,
			const struct bench_run *r)
{
	unsigned i = 0;
	for (unsigned gi = 0; gi < s->nr_groups; gi++)
		for (unsigned k = 0; k < s->group[gi].count; k++, i++) {
			const struct bench_guest *g = &r->guest[i];
			fprintf(js, "%s\n    {\"name\": \"%s\", \"group\": \"%s\", \"workload\": \"%s\", "
				"\"figure\": \"%s\", ", i ? "," : "", g->name, s->group[gi].name,
				s->group[gi].workload, bench__figure_name(s->group[gi].workload));
			json_number(js, "value", g->final_rate > 0 ? g->final_rate : NAN, true);
			json_number(js, "x_none", x_none(runs, nr, r, i), true);
			json_number(js, "fault_us_p50", g->fault_us_p50, true);
			json_number(js, "fault_us_p99", g->fault_us_p99, true);
			json_number(js, "fetch_us_p50", g->fetch_us_p50, true);
			json_number(js, "fetch_us_p99", g->fetch_us_p99, true);
			fprintf(js, "\"mismatches\": %lu, \"passed\": %s}", g->mismatches,
				g->passed && !g->failed && !g->mismatches ? "true" : "false");
		}
}

/* has_rate[k]: run k has a throughput sample to plot. */
static void samples(const char *out, const struct bench_scenario *s, const struct bench_run *runs, unsigned nr,
		    bool has_rate[])
{
	char path[400];
	snprintf(path, sizeof(path), "%s/samples.csv", out);
	FILE *csv = fopen(path, "we");
	snprintf(path, sizeof(path), "%s/samples.json", out);
	FILE *js = fopen(path, "we");
	if (!csv || !js) {
		fprintf(stderr, "l1vmm: bench: cannot write %s\n", path);
		if (csv)
			fclose(csv);
		if (js)
			fclose(js);
		return;
	}
	fprintf(csv, "contender,rep,t,mem_available_mb,psi_some_avg10,rss_mb,guest_resident_mb,"
		"sharing_mb,balloon_mb,reclaim_mb,store_mb,saved_mb,host_cpu_s,throughput_x_none\n");
	fprintf(js, "{\"scenario\": \"%s\", \"guests\": %u, \"guest_mem_mb\": %llu, \"host_limit_mb\": %llu,\n"
		" \"runs\": [", s->name, s->nr_vms, (unsigned long long)(s->guest_mem >> 20),
		(unsigned long long)s->host_limit_mb);
	for (unsigned k = 0; k < nr; k++) {
		const struct bench_run *r = &runs[k];
		double base[BENCH_MAX_VMS], f[NR_FIGS];
		base_rates(s, baseline(runs, nr, r), base);
		summarize(s, runs, nr, r, f);
		const char *name = bench__contender_names[r->contender];
		fprintf(js, "%s\n  {\"contender\": \"%s\", \"rep\": %u, \"passed\": %s, \"summary\": {",
			k ? "," : "", name, r->rep + 1, r->why[0] ? "false" : "true");
		for (unsigned j = 0; j < NR_FIGS; j++)
			fprintf(js, isnan(f[j]) ? "%s\"%s\": null" : "%s\"%s\": %.3f", j ? ", " : "",
				fig_names[j], f[j]);
		fprintf(js, "},\n   \"guests\": [");
		guests_json(js, s, runs, nr, r);
		fprintf(js, "],\n   \"samples\": [");
		snprintf(path, sizeof(path), "%s/plot-%s-%u.tsv", out, name, r->rep + 1);
		FILE *plot = fopen(path, "we");
		for (unsigned i = 0; i < r->nr_samples; i++) {
			const struct bench_sample *m = &r->sample[i];
			double rel = relative_rate(s, r, base, i);
			has_rate[k] |= !isnan(rel);
			double saved = m->sharing_mb + m->balloon_mb + m->reclaim_mb;
			fprintf(csv, "%s,%u,%.2f,%.0f,%.2f,%.1f,%.0f,%.1f,%.0f,%.1f,%.1f,%.1f,%.2f,", name,
				r->rep + 1, m->t, m->mem_avail_mb, m->psi_some_avg10, m->rss_mb, m->resident_mb,
				m->sharing_mb, m->balloon_mb, m->reclaim_mb, m->store_mb, saved, m->cpu_s);
			fprintf(csv, isnan(rel) ? "\n" : "%.3f\n", rel);
			fprintf(js, "%s\n    {\"t\": %.2f, \"mem_available_mb\": %.0f, \"psi_some_avg10\": %.2f, "
				"\"rss_mb\": %.1f, \"guest_resident_mb\": %.0f, \"sharing_mb\": %.1f, "
				"\"balloon_mb\": %.0f, \"reclaim_mb\": %.1f, \"store_mb\": %.1f, "
				"\"host_cpu_s\": %.2f, \"throughput_x_none\": ", i ? "," : "", m->t,
				m->mem_avail_mb, m->psi_some_avg10, m->rss_mb, m->resident_mb, m->sharing_mb,
				m->balloon_mb, m->reclaim_mb, m->store_mb, m->cpu_s);
			fprintf(js, isnan(rel) ? "null}" : "%.3f}", rel);
			if (plot)
				fprintf(plot, isnan(rel) ? "%.2f\t%.1f\t%.1f\tNaN\n" : "%.2f\t%.1f\t%.1f\t%.3f\n",
					m->t, m->rss_mb, saved, rel);
		}
		if (plot)
			fclose(plot);
		fprintf(js, "]}");
	}
	fprintf(js, "\n]}\n");
	fclose(csv);
	fclose(js);
}

static void summary_csv(const char *out, const struct bench_scenario *s, const struct row rows[])
{
	char path[400];
	snprintf(path, sizeof(path), "%s/summary.csv", out);
	FILE *o = fopen(path, "we");
	if (!o)
		return;
	fprintf(o, "contender,runs,passed");
	for (unsigned j = 0; j < NR_FIGS; j++)
		fprintf(o, ",%s", fig_names[j]);
	fprintf(o, "\n");
	for (unsigned k = 0; k < s->nr_contenders; k++) {
		if (!rows[k].count)
			continue;
		fprintf(o, "%s,%u,%d", bench__contender_names[s->contender[k]], rows[k].count, !rows[k].failed);
		for (unsigned j = 0; j < NR_FIGS; j++)
			fprintf(o, isnan(rows[k].f[j]) ? "," : ",%.3f", rows[k].f[j]);
		fprintf(o, "\n");
	}
	fclose(o);
}

/* guests.csv: the per-guest tables' rows. */
static void guests_csv(const char *out, const struct bench_scenario *s, const struct bench_run *runs,
		       unsigned nr)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/guests.csv", out);
	FILE *o = fopen(path, "we");
	if (!o)
		return;
	fprintf(o, "contender,guest,count,workload,figure,runs,passed,value,x_none,fault_us_p50,fault_us_p99,"
		"fetch_us_p50,fetch_us_p99,mismatches\n");
	for (unsigned gi = 0; gi < s->nr_groups; gi++)
		for (unsigned k = 0; k < s->nr_contenders; k++) {
			const struct bench_group *g = &s->group[gi];
			struct bench_group_row row;
			bench__group_row(s, runs, nr, s->contender[k], gi, &row);
			if (!row.runs)
				continue;
			fprintf(o, "%s,%s,%u,%s,%s,%u,%d", bench__contender_names[s->contender[k]], g->name,
				g->count, g->workload, bench__figure_name(g->workload), row.runs, !row.failed);
			const double f[] = { row.value, row.x_none, row.fault_us_p50, row.fault_us_p99,
					     row.fetch_us_p50, row.fetch_us_p99, row.mismatches };
			for (size_t j = 0; j < sizeof(f) / sizeof(f[0]); j++)
				fprintf(o, isnan(f[j]) ? "," : ",%.3f", f[j]);
			fprintf(o, "\n");
		}
	fclose(o);
}

/* memory.png (RssAnon and saved over time) and throughput.png, the first repetition. */
static int plots(const char *out, const struct bench_scenario *s, const struct bench_run *runs, unsigned nr,
		 const bool has_rate[])
{
	char path[400], cmd[512];
	snprintf(path, sizeof(path), "%s/plot.gp", out);
	FILE *gp = fopen(path, "we");
	if (!gp)
		return -1;
	fprintf(gp, "set terminal pngcairo size 1100,750 noenhanced\nset datafile separator '\\t'\n"
		"set key outside right; set grid; set xlabel 'seconds since the run began'\n");
	fprintf(gp, "set output '%s/memory.png'\nset multiplot layout 2,1 title 'bench %s: %u guests, "
		"%llu MiB of guest RAM", out, s->name, s->nr_vms, (unsigned long long)(s->guest_mem >> 20));
	fprintf(gp, s->host_limit_mb ? ", host limit %llu MiB'\n" : "'\n", (unsigned long long)s->host_limit_mb);
	for (int panel = 0; panel < 2; panel++) {
		fprintf(gp, "set ylabel '%s'\n", panel ? "MiB saved (sharing + balloon + reclaim)"
						       : "l1vmm RssAnon, MiB");
		if (!panel && s->host_limit_mb)
			fprintf(gp, "set arrow 1 from graph 0, first %llu to graph 1, first %llu nohead dt 2\n",
				(unsigned long long)s->host_limit_mb, (unsigned long long)s->host_limit_mb);
		else
			fprintf(gp, "unset arrow 1\n");
		fprintf(gp, "plot ");
		for (unsigned k = 0, first = 1; k < nr; k++) {
			if (runs[k].rep)
				continue;
			const char *name = bench__contender_names[runs[k].contender];
			fprintf(gp, "%s'%s/plot-%s-1.tsv' using 1:%d with lines lw 2 title '%s'", first ? "" : ", ",
				out, name, panel ? 3 : 2, name);
			first = 0;
		}
		fprintf(gp, "\n");
	}
	fprintf(gp, "unset multiplot\nunset arrow 1\nset output '%s/throughput.png'\n"
		"set title 'bench %s: guest throughput against none (their per-second rates)'\n"
		"set ylabel 'throughput x none'\n", out, s->name);
	bool any = false;
	for (unsigned k = 0; k < nr; k++)
		any |= !runs[k].rep && has_rate[k];
	if (!any) /* workloads with no per-second rates (swapstorm, memtouch, compute) */
		fprintf(gp, "set label 1 'no per-second rates: see the table' at graph 0.3, graph 0.5\n"
			"set xrange [0:1]; set yrange [0:1]\nplot -1 notitle");
	else
		fprintf(gp, "plot ");
	unsigned first = 1;
	for (unsigned k = 0; k < nr; k++) {
		if (runs[k].rep || !has_rate[k])
			continue;
		const char *name = bench__contender_names[runs[k].contender];
		fprintf(gp, "%s'%s/plot-%s-1.tsv' using 1:4 with lines lw 2 title '%s'", first ? "" : ", ",
			out, name, name);
		first = 0;
	}
	fprintf(gp, "\n");
	fclose(gp);
	snprintf(cmd, sizeof(cmd), "gnuplot '%s' 2>'%s/gnuplot.err'", path, out);
	return system(cmd);
}

int bench__report(const struct bench_scenario *s, struct bench_run *runs, unsigned nr_runs,
		  const char *out)
{
	if (!nr_runs)
		return BENCH_EXIT_FAIL;
	char path[400];
	struct row rows[BENCH_NR_CONTENDERS];
	for (unsigned k = 0; k < s->nr_contenders; k++) {
		rows[k] = (struct row){ .contender = s->contender[k] };
		contender_row(s, runs, nr_runs, &rows[k]);
	}
	table(stdout, s, rows);
	bench__guest_table(stdout, s, runs, nr_runs);
	snprintf(path, sizeof(path), "%s/table.txt", out);
	FILE *o = fopen(path, "we");
	if (o) {
		table(o, s, rows);
		bench__guest_table(o, s, runs, nr_runs);
		fclose(o);
	}
	bool has_rate[BENCH_NR_CONTENDERS * BENCH_MAX_REPEAT] = { false };
	samples(out, s, runs, nr_runs, has_rate);
	summary_csv(out, s, rows);
	guests_csv(out, s, runs, nr_runs);
	if (plots(out, s, runs, nr_runs, has_rate) != 0) {
		fprintf(stderr, "l1vmm: bench: gnuplot failed: see %s/gnuplot.err\n", out);
		return BENCH_EXIT_FAIL;
	}
	printf("table: %s/table.txt  samples: %s/samples.csv, %s/samples.json  per guest: %s/guests.csv\n"
	       "plots: %s/memory.png %s/throughput.png\n", out, out, out, out, out, out);
	return 0;
}
