/* SPDX-License-Identifier: MIT */
/*
 * DOC: the runs of `l1vmm bench` (bench.h).
 *
 * For each repetition, each contender in the scenario's order: one
 * `l1vmm run` child (this same binary, /proc/self/exe) with every guest as a
 * --vm, the contender's tree settings as --set (map_contender()), and the live
 * tree mounted on a fresh directory (--sysfs). The child's output comes
 * through a pipe: each line goes to OUT/log-CONTENDER-REP.txt with the time
 * since the run began, and the guests' lines ("[NAME] WORKLOAD: ...") update
 * what each guest reported. Every sample interval the host (MemAvailable,
 * memory PSI, l1vmm's RssAnon and CPU from /proc) and the tree (what each
 * mechanism holds back) are read into one sample, and one progress line
 * printed (rewritten in place on a terminal). The run ends when the child
 * exits; between runs MemAvailable is let settle (at most 10 s).
 *
 * A run fails when the child exits non-zero, a guest reports a mismatch or a
 * FAIL result, or a guest never reports a PASS; bench then still runs the
 * others and reports, and exits 1.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "l1vmm/bench_priv.h"

#define MIB (1024.0 * 1024.0)
#define SETTLE_S 10
#define FILL_SLACK_S 240 /* the child's --timeout beyond duration: fills, final verifications */

static volatile sig_atomic_t bench_stop;

static void on_signal(int sig)
{
	bench_stop = sig;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A small file's text in buf (NUL-terminated); its length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* The first number after "key" (e.g. "MemAvailable:") in a small file; NAN when absent. */
static double file_number(const char *path, const char *key)
{
	char buf[4096];
	if (read_small(path, buf, sizeof(buf)) < 0)
		return NAN;
	const char *p = key ? strstr(buf, key) : buf;
	if (!p)
		return NAN;
	p += key ? strlen(key) : 0;
	char *end;
	double d = strtod(p, &end);
	return end == p ? NAN : d;
}

static double tree_number(const char *mnt, const char *path)
{
	char full[512];
	snprintf(full, sizeof(full), "%s/%s", mnt, path);
	return file_number(full, NULL);
}

static double or0(double d)
{
	return isnan(d) ? 0 : d;
}

static double mem_available_mb(void)
{
	return or0(file_number("/proc/meminfo", "MemAvailable:")) / 1024;
}

/* CPU a process spent outside its guests, seconds: utime + stime - guest_time. */
static double host_cpu_s(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return NAN;
	char *p = strrchr(buf, ')');
	if (!p)
		return NAN;
	/* fields from 3 (state) on; utime 14, stime 15, guest_time 43 */
	double f[44] = { 0 };
	char *save;
	int i = 3;
	for (char *w = strtok_r(p + 2, " ", &save); w && i < 44; w = strtok_r(NULL, " ", &save), i++)
		f[i] = strtod(w, NULL);
	return (f[14] + f[15] - f[43]) / (double)sysconf(_SC_CLK_TCK);
}

static pid_t find_ksmd(void)
{
	for (pid_t pid = 2; pid < 4096; pid++) {
		char path[64], comm[32];
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		if (read_small(path, comm, sizeof(comm)) > 0 && !strcmp(comm, "ksmd\n"))
			return pid;
	}
	return -1;
}

/* --- the child's argv */

#define ARGV_MAX (8 + 2 * (BENCH_MAX_SETS + 8) + 2 * BENCH_MAX_VMS)

struct argv_buf {
	char *v[ARGV_MAX + 1];
	unsigned n;
	char strings[ARGV_MAX][1280]; /* a --vm: name, sizes, the disk's path, the command line */
};

__attribute__((format(printf, 2, 3)))
static void push(struct argv_buf *a, const char *fmt, ...)
{
	char *s = a->strings[a->n];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s, sizeof(a->strings[0]), fmt, ap);
	va_end(ap);
	a->v[a->n++] = s;
}

/* The tree settings of a contender (the ones perf/ and scripts/demo.sh use). */
static void map_contender(const struct bench_scenario *s, enum bench_contender c, struct argv_buf *a)
{
	bool share = c == BENCH_SHARING || c == BENCH_ALL;
	bool balloon = c == BENCH_BALLOON || c == BENCH_ALL;
	bool reclaim = c == BENCH_RECLAIM || c == BENCH_ALL;
	push(a, "%s", "--set");
	push(a, "dedup/run=%d", share || c == BENCH_KSM);
	if (c == BENCH_KSM) {
		push(a, "%s", "--set");
		push(a, "%s", "dedup/backend=ksm");
	}
	if (balloon) {
		push(a, "%s", "--set");
		push(a, "balloon/host_limit_mb=%llu", (unsigned long long)s->host_limit_mb);
		push(a, "%s", "--set");
		push(a, "%s", "balloon/policy=auto");
	}
	if (reclaim) {
		push(a, "%s", "--set");
		push(a, "reclaim/host_limit_mb=%llu", (unsigned long long)s->host_limit_mb);
		push(a, "%s", "--set");
		push(a, "%s", "reclaim/run=1");
	}
}

static const char *vm_name(const struct bench_group *g, unsigned i, char *buf, size_t len)
{
	if (g->count == 1)
		snprintf(buf, len, "%s", g->name);
	else
		snprintf(buf, len, "%s%u", g->name, i + 1);
	return buf;
}

static void build_argv(const struct bench_scenario *s, enum bench_contender c, const char *mnt,
		       const char *out, struct argv_buf *a)
{
	a->n = 0;
	push(a, "%s", "l1vmm");
	push(a, "%s", "run");
	push(a, "%s", "--timeout");
	push(a, "%.0f", s->duration + FILL_SLACK_S);
	push(a, "%s", "--sysfs");
	push(a, "%s", mnt);
	map_contender(s, c, a);
	for (unsigned i = 0; i < s->nr_sets; i++) {
		push(a, "%s", "--set");
		push(a, "%s", s->set[i]);
	}
	unsigned index = 0;
	for (unsigned gi = 0; gi < s->nr_groups; gi++) {
		const struct bench_group *g = &s->group[gi];
		for (unsigned i = 0; i < g->count; i++, index++) {
			char name[BENCH_NAME_MAX + 4], cmdline[512], disk[400] = "";
			char domain[BENCH_NAME_MAX + 8] = "";
			vm_name(g, i, name, sizeof(name));
			bench__cmdline(s, g, index, cmdline, sizeof(cmdline));
			if (g->disk_size)
				snprintf(disk, sizeof(disk), ",disk=%s/disk-%s.img,disk_size=%llu", out, name,
					 (unsigned long long)g->disk_size);
			if (g->domain[0])
				snprintf(domain, sizeof(domain), ",domain=%s", g->domain);
			push(a, "%s", "--vm");
			push(a, "name=%s,mem=%llu,vcpus=%u,mode=%s%s%s,cmdline=\"%s\"", name,
			     (unsigned long long)g->mem, g->vcpus, g->mode, domain, disk, cmdline);
		}
	}
	a->v[a->n] = NULL;
}

/* --- the guests' lines */

/* A workload's lines: its first report (past the fill), its rate, its summary and its figure's name. */
struct line_desc {
	const char *workload;
	const char *ready;
	const char *rate_line, *rate_key;
	const char *final_line, *final_key;	/* final_key NULL: touches= over seconds= */
	const char *figure;
};

static const struct line_desc line_descs[] = {
	{ "dup", "dup: size=", "dup: t=", "verify_MBps=", "dup: rounds=", "verify_MBps=", "verify_MBps" },
	{ "churn", "churn: peak=", "churn: t=", "verify_MBps=", "churn: rounds=", "verify_MBps=",
	  "verify_MBps" },
	{ "hotcold", "hotcold: size=", "hotcold: round=", "hot_rounds_per_s=", "hotcold: rounds=",
	  "rounds_per_s=", "rounds_per_s" },
	{ "swapstorm", "swapstorm: fill ", NULL, NULL, "swapstorm: touches=", NULL, "touches_per_s" },
	{ "memtouch", "memtouch: ", NULL, NULL, "memtouch: size=", "verify_MBps=", "verify_MBps" },
	{ "compute", "compute: ", NULL, NULL, "compute: iterations=", "iter_per_sec=", "iter_per_sec" },
	/* the compute task's share of its rate alone, beside a task touching evicted pages */
	{ "apf", "apf: size=", NULL, NULL, "apf: compute_per_s=", "compute_pct=", "compute_pct" },
};

static const struct line_desc *line_desc(const char *workload)
{
	for (size_t k = 0; k < sizeof(line_descs) / sizeof(line_descs[0]); k++)
		if (!strcmp(line_descs[k].workload, workload))
			return &line_descs[k];
	return NULL;
}

const char *bench__figure_name(const char *workload)
{
	const struct line_desc *d = line_desc(workload);
	return d ? d->figure : "-";
}

static double field(const char *line, const char *key)
{
	char pat[40];
	snprintf(pat, sizeof(pat), " %s", key);
	const char *p = strstr(line, pat);
	if (!p)
		return NAN;
	return strtod(p + strlen(pat), NULL);
}

void bench__guest_line(struct bench_run *r, unsigned nr, const char *line, double t, float rate[])
{
	if (line[0] != '[')
		return;
	size_t n = strcspn(line + 1, "]");
	if (line[1 + n] != ']' || line[2 + n] != ' ')
		return;
	unsigned i = 0;
	while (i < nr && (strlen(r->guest[i].name) != n || strncmp(r->guest[i].name, line + 1, n)))
		i++;
	if (i == nr)
		return;
	struct bench_guest *g = &r->guest[i];
	const char *msg = line + 3 + n;
	if (!strncmp(msg, "l1guest: workload=", 18)) {
		g->passed |= strstr(msg, "result=PASS") != NULL;
		g->failed |= strstr(msg, "result=FAIL") != NULL;
		return;
	}
	double m = field(msg, "mismatches=");
	if (!isnan(m) && m > (double)g->mismatches)
		g->mismatches = (unsigned long)m;
	if (strstr(msg, ": mismatch ") && !g->mismatches)
		g->mismatches = 1;
	const struct line_desc *d = line_desc(g->workload);
	if (!d)
		return;
	if (!g->ready && !strncmp(msg, d->ready, strlen(d->ready))) {
		g->ready = true;
		bool all = true;
		for (unsigned k = 0; k < nr; k++)
			all &= r->guest[k].ready;
		if (all)
			r->t_ready = t;
	}
	if (d->rate_line && !strncmp(msg, d->rate_line, strlen(d->rate_line))) {
		double v = field(msg, d->rate_key);
		if (!isnan(v))
			rate[i] = (float)v;
	}
	if (!strncmp(msg, d->final_line, strlen(d->final_line))) {
		double v = d->final_key ? field(msg, d->final_key)
					: field(msg, "touches=") / field(msg, "seconds=");
		if (!isnan(v))
			g->final_rate = v;
	}
	if (!strncmp(msg, "hotcold: touches=full ", 22)) {
		double p50 = field(msg, "us_p50="), p99 = field(msg, "us_p99=");
		g->fault_us_p50 = fmax(g->fault_us_p50, or0(p50));
		g->fault_us_p99 = fmax(g->fault_us_p99, or0(p99));
	}
}

/* --- one run */

struct run_ctx {
	const struct bench_scenario *s;
	struct bench_run *r;
	const char *mnt;
	pid_t pid, ksmd;
	double t0, ksmd_cpu0, ksm_profit0;
	float rate[BENCH_MAX_VMS];
	FILE *log;
	char partial[4096];
	size_t npart;
	char last_l1vmm[160];
	bool tty;
	double last_progress;
	unsigned nr_runs, run_index;
};

/* PREFIXreclaim/fetch_us_p50/p99 ("" or "vms/NAME/"); the last figures stay while they read 0. */
static void latest_fetch_us(const char *mnt, const char *prefix, double *p50, double *p99)
{
	char a[128], b[128];
	snprintf(a, sizeof(a), "%sreclaim/fetch_us_p50", prefix);
	snprintf(b, sizeof(b), "%sreclaim/fetch_us_p99", prefix);
	double x = tree_number(mnt, a), y = tree_number(mnt, b);
	if (x > 0 || y > 0) {
		*p50 = or0(x);
		*p99 = or0(y);
	}
}

static void take_sample(struct run_ctx *c)
{
	struct bench_run *r = c->r;
	if (r->nr_samples == r->cap_samples) {
		unsigned cap = r->cap_samples ? 2 * r->cap_samples : 256;
		struct bench_sample *ns = realloc(r->sample, cap * sizeof(*ns));
		if (!ns)
			return;
		r->sample = ns;
		r->cap_samples = cap;
	}
	struct bench_sample *sm = &r->sample[r->nr_samples];
	char status[64];
	snprintf(status, sizeof(status), "/proc/%d/status", (int)c->pid);
	*sm = (struct bench_sample){
		.t = now_s() - c->t0,
		.mem_avail_mb = mem_available_mb(),
		.psi_some_avg10 = or0(file_number("/proc/pressure/memory", "some avg10=")),
		.rss_mb = file_number(status, "RssAnon:") / 1024,
		.resident_mb = or0(tree_number(c->mnt, "reclaim/guest_resident_mb")),
		.cpu_s = or0(host_cpu_s(c->pid)),
	};
	if (isnan(sm->rss_mb) || sm->rss_mb == 0)
		return; /* l1vmm is exiting: nothing of it left to sample */
	double profit = tree_number(c->mnt, "dedup/general_profit");
	sm->sharing_mb = isnan(profit) ? 0 : fmax(0, profit - c->ksm_profit0) / MIB;
	double stored = or0(tree_number(c->mnt, "reclaim/pages_compressed")) * 4096 / MIB;
	sm->store_mb = or0(tree_number(c->mnt, "reclaim/store_mem_bytes")) / MIB;
	sm->reclaim_mb = fmax(0, stored - sm->store_mb);
	unsigned index = 0;
	for (unsigned gi = 0; gi < c->s->nr_groups; gi++)
		for (unsigned i = 0; i < c->s->group[gi].count; i++, index++) {
			struct bench_guest *g = &r->guest[index];
			char prefix[64], path[128];
			snprintf(prefix, sizeof(prefix), "vms/%s/", g->name);
			snprintf(path, sizeof(path), "%sballoon/actual_mb", prefix);
			sm->balloon_mb += or0(tree_number(c->mnt, path));
			latest_fetch_us(c->mnt, prefix, &g->fetch_us_p50, &g->fetch_us_p99);
		}
	if (c->ksmd > 0)
		sm->cpu_s += or0(host_cpu_s(c->ksmd)) - c->ksmd_cpu0;
	memcpy(sm->rate, c->rate, sizeof(sm->rate));
	latest_fetch_us(c->mnt, "", &r->fetch_us_p50, &r->fetch_us_p99);
	r->nr_samples++;
}

static void progress(struct run_ctx *c, bool final)
{
	const struct bench_run *r = c->r;
	if (!r->nr_samples)
		return;
	double t = now_s() - c->t0;
	if (!c->tty && !final && t - c->last_progress < 5)
		return;
	c->last_progress = t;
	const struct bench_sample *sm = &r->sample[r->nr_samples - 1];
	unsigned ready = 0, done = 0;
	unsigned long bad = 0;
	for (unsigned i = 0; i < c->s->nr_vms; i++) {
		ready += r->guest[i].ready;
		done += r->guest[i].passed || r->guest[i].failed;
		bad += r->guest[i].mismatches;
	}
	printf("%s[%u/%u] %-7s t=%3.0fs RssAnon %5.0fM MemAvail %6.0fM | saved: sharing %4.0fM "
	       "balloon %4.0fM reclaim %4.0fM | guests %u/%u past fill, %u done, %lu mismatches%s",
	       c->tty ? "\r\033[K" : "", c->run_index + 1, c->nr_runs,
	       bench__contender_names[r->contender], t, sm->rss_mb, sm->mem_avail_mb, sm->sharing_mb,
	       sm->balloon_mb, sm->reclaim_mb, ready, c->s->nr_vms, done, bad,
	       c->tty && !final ? "" : "\n");
	fflush(stdout);
}

/* Lines of the child's output in buf[0, n): to the log, and to the guests' figures. */
static void child_output(struct run_ctx *c, const char *buf, size_t n)
{
	double t = now_s() - c->t0;
	for (size_t i = 0; i < n; i++) {
		if (buf[i] != '\n' && c->npart < sizeof(c->partial) - 1) {
			c->partial[c->npart++] = buf[i];
			continue;
		}
		if (buf[i] != '\n')
			continue; /* an over-long line: the rest of it is dropped */
		c->partial[c->npart] = '\0';
		c->npart = 0;
		if (c->log)
			fprintf(c->log, "%.3f %s\n", t, c->partial);
		if (!strncmp(c->partial, "l1vmm: ", 7))
			snprintf(c->last_l1vmm, sizeof(c->last_l1vmm), "%.150s", c->partial);
		bench__guest_line(c->r, c->s->nr_vms, c->partial, t, c->rate);
	}
}

static pid_t spawn(char *const argv[], int *out_fd)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		signal(SIGINT, SIG_IGN); /* a ^C reaches bench, which stops the child in order */
		execv("/proc/self/exe", argv);
		dprintf(STDERR_FILENO, "l1vmm: bench: cannot run /proc/self/exe: %s\n", strerror(errno));
		_exit(127);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	*out_fd = p[0];
	return pid;
}

static void judge(struct run_ctx *c)
{
	struct bench_run *r = c->r;
	for (unsigned i = 0; i < c->s->nr_vms && !r->why[0]; i++) {
		const struct bench_guest *g = &r->guest[i];
		if (g->mismatches)
			snprintf(r->why, sizeof(r->why), "guest %s saw %lu MISMATCHING pages or words",
				 g->name, g->mismatches);
		else if (g->failed)
			snprintf(r->why, sizeof(r->why), "guest %s FAILED its workload", g->name);
		else if (!g->passed)
			snprintf(r->why, sizeof(r->why), "guest %s never reported a result", g->name);
	}
	if (!r->why[0] && r->status != 0)
		snprintf(r->why, sizeof(r->why), "l1vmm run exited %d", r->status);
	if (r->why[0] && c->last_l1vmm[0])
		snprintf(r->why + strlen(r->why), sizeof(r->why) - strlen(r->why), " (%s)", c->last_l1vmm);
}

static void run_one(struct run_ctx *c, const char *out)
{
	struct bench_run *r = c->r;
	const struct bench_scenario *s = c->s;
	unsigned index = 0;
	for (unsigned gi = 0; gi < s->nr_groups; gi++)
		for (unsigned i = 0; i < s->group[gi].count; i++, index++) {
			vm_name(&s->group[gi], i, r->guest[index].name, sizeof(r->guest[0].name));
			r->guest[index].workload = s->group[gi].workload;
			if (s->group[gi].disk_size) {
				char disk[400];
				snprintf(disk, sizeof(disk), "%s/disk-%s.img", out, r->guest[index].name);
				unlink(disk); /* each run's guests start from a fresh disk */
			}
		}
	r->t_ready = -1;
	r->mem_before_mb = mem_available_mb();
	c->ksmd = -1;
	c->ksm_profit0 = 0;
	if (r->contender == BENCH_KSM) {
		c->ksmd = find_ksmd();
		c->ksmd_cpu0 = c->ksmd > 0 ? or0(host_cpu_s(c->ksmd)) : 0;
		/* KSM's counters are global: what was there before is not this run's */
		c->ksm_profit0 = or0(file_number("/sys/kernel/mm/ksm/general_profit", NULL));
	}
	char logpath[400];
	snprintf(logpath, sizeof(logpath), "%s/log-%s-%u.txt", out, bench__contender_names[r->contender],
		 r->rep + 1);
	c->log = fopen(logpath, "we");
	static struct argv_buf a;
	build_argv(s, r->contender, c->mnt, out, &a);
	int fd = -1;
	c->t0 = now_s();
	c->pid = spawn(a.v, &fd);
	if (c->pid < 0) {
		snprintf(r->why, sizeof(r->why), "cannot start l1vmm run: %s", strerror(errno));
		r->status = -1;
		if (c->log)
			fclose(c->log);
		return;
	}
	double next = c->t0 + s->sample_s, deadline = c->t0 + s->duration + FILL_SLACK_S + 30;
	bool stopped = false;
	for (;;) {
		double t = now_s();
		if (t >= next) {
			take_sample(c);
			progress(c, false);
			next += s->sample_s;
			if (next < t)
				next = t + s->sample_s;
		}
		if ((bench_stop || t > deadline) && !stopped) {
			kill(c->pid, t > deadline ? SIGKILL : SIGTERM);
			stopped = true;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int ms = (int)((next - now_s()) * 1000) + 1;
		int rc = poll(&p, 1, ms > 0 ? ms : 0);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc > 0) {
			char buf[8192];
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n > 0)
				child_output(c, buf, (size_t)n);
			else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
				break;
		}
	}
	close(fd);
	int st = 0;
	while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
		;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	progress(c, true);
	if (c->log)
		fclose(c->log);
	judge(c);
}

/* Let MemAvailable settle after a run: two reads 1 s apart within 8 MiB, at most SETTLE_S. */
static void settle(void)
{
	double a = mem_available_mb();
	for (int i = 0; i < SETTLE_S && !bench_stop; i++) {
		sleep(1);
		double b = mem_available_mb();
		if (fabs(a - b) < 8)
			return;
		a = b;
	}
}

static const char bench_usage[] =
	"usage: l1vmm bench SCENARIO [--out DIR] [--check]\n"
	"  SCENARIO  a scenario file (scenarios/*.scn; README \"Benchmarks\", man l1vmm)\n"
	"  --out DIR where the table, samples.csv/json, logs and plots go\n"
	"            (default bench-NAME-YYYYmmdd-HHMMSS in the current directory)\n"
	"  --check   check the scenario only, run nothing\n"
	"Exit status: 0 all runs passed; 1 a guest failed its verification or a run\n"
	"failed; 2 a bad command line or scenario (nothing was run).\n";

/* What the runs need from the host, checked before the first one starts. */
static bool host_ready(const struct bench_scenario *s)
{
	if (access("/dev/fuse", R_OK | W_OK)) {
		fprintf(stderr, "l1vmm: bench: /dev/fuse: %s: bench reads the live tree (--sysfs); run as root\n",
			strerror(errno));
		return false;
	}
	for (unsigned i = 0; i < s->nr_contenders; i++)
		if (s->contender[i] == BENCH_KSM && access("/sys/kernel/mm/ksm/run", W_OK)) {
			fprintf(stderr, "l1vmm: bench: contender ksm: cannot write /sys/kernel/mm/ksm/run "
				"(%s): run as root, or leave ksm out\n", strerror(errno));
			return false;
		}
	double maps = file_number("/proc/sys/vm/max_map_count", NULL);
	for (unsigned i = 0; i < s->nr_contenders; i++)
		if ((s->contender[i] == BENCH_SHARING || s->contender[i] == BENCH_ALL) && maps < 1048576) {
			printf("note: vm.max_map_count is %.0f: l1vmm's ept sharing needs about one host mapping "
			       "per shared page and stops near the limit (perf/dedup.sh runs with 1048576)\n", maps);
			break;
		}
	if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
		fprintf(stderr, "l1vmm: bench: gnuplot not found: the plots need it "
			"(apt-get install gnuplot-nox; scripts/setup.sh does)\n");
		return false;
	}
	return true;
}

int bench__main(int argc, char *argv[])
{
	const char *file = NULL, *out_arg = NULL;
	bool check_only = false;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(bench_usage, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--check")) {
			check_only = true;
		} else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
			out_arg = argv[++i];
		} else if (!strncmp(argv[i], "--out=", 6)) {
			out_arg = argv[i] + 6;
		} else if (argv[i][0] != '-' && !file) {
			file = argv[i];
		} else {
			fprintf(stderr, "l1vmm: bench: unexpected '%s' (see 'l1vmm bench --help')\n", argv[i]);
			return BENCH_EXIT_USAGE;
		}
	}
	if (!file) {
		fprintf(stderr, "l1vmm: bench: no scenario (see 'l1vmm bench --help')\n");
		return BENCH_EXIT_USAGE;
	}
	static struct bench_scenario s;
	char err[512];
	if (!bench__parse_file(file, (uint64_t)mem_available_mb(), &s, err, sizeof(err))) {
		fprintf(stderr, "l1vmm: bench: %s\n", err);
		return BENCH_EXIT_USAGE;
	}
	if (check_only) {
		printf("%s: %u guests, %llu MiB of guest RAM, host limit %llu MiB, %u contenders: ok\n", file,
		       s.nr_vms, (unsigned long long)(s.guest_mem >> 20), (unsigned long long)s.host_limit_mb,
		       s.nr_contenders);
		return 0;
	}
	if (!host_ready(&s))
		return BENCH_EXIT_USAGE;
	char out[300];
	if (out_arg) {
		snprintf(out, sizeof(out), "%s", out_arg);
	} else {
		time_t now = time(NULL);
		char stamp[32];
		strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", localtime(&now));
		snprintf(out, sizeof(out), "bench-%s-%s", s.name, stamp);
	}
	if (strpbrk(out, "'\",")) {
		fprintf(stderr, "l1vmm: bench: --out %s: no ' \" or , in the path (the plots' script and "
			"--vm quote with them)\n", out);
		return BENCH_EXIT_USAGE;
	}
	if (mkdir(out, 0755) && errno != EEXIST) {
		fprintf(stderr, "l1vmm: bench: cannot make %s: %s\n", out, strerror(errno));
		return BENCH_EXIT_USAGE;
	}
	char mnt[] = "/tmp/l1vmm-bench-XXXXXX";
	if (!mkdtemp(mnt)) {
		fprintf(stderr, "l1vmm: bench: cannot make a directory for the tree: %s\n", strerror(errno));
		return BENCH_EXIT_FAIL;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	unsigned nr_runs = s.repeat * s.nr_contenders;
	struct bench_run *runs = calloc(nr_runs, sizeof(*runs));
	if (!runs) {
		rmdir(mnt);
		fprintf(stderr, "l1vmm: bench: out of memory\n");
		return BENCH_EXIT_FAIL;
	}
	char limit[32] = "none";
	if (s.host_limit_mb)
		snprintf(limit, sizeof(limit), "%llu MiB", (unsigned long long)s.host_limit_mb);
	printf("bench %s: %s\n%u guests, %llu MiB of guest RAM, host limit %s; contenders one after the "
	       "other; output in %s\n", s.name, s.description[0] ? s.description : "(no description)",
	       s.nr_vms, (unsigned long long)(s.guest_mem >> 20), limit, out);
	struct run_ctx c = { .s = &s, .mnt = mnt, .tty = isatty(STDOUT_FILENO), .nr_runs = nr_runs };
	unsigned done = 0;
	for (unsigned rep = 0; rep < s.repeat && !bench_stop; rep++)
		for (unsigned k = 0; k < s.nr_contenders && !bench_stop; k++) {
			if (done)
				settle();
			struct bench_run *r = &runs[done];
			*r = (struct bench_run){ .contender = s.contender[k], .rep = rep };
			c.r = r;
			c.run_index = done++;
			c.npart = 0;
			c.last_l1vmm[0] = '\0';
			c.last_progress = -1e9;
			memset(c.rate, 0, sizeof(c.rate));
			run_one(&c, out);
			if (r->why[0])
				fprintf(stderr, "!!! l1vmm: bench: %s run %u: %s; see %s/log-%s-%u.txt\n",
					bench__contender_names[r->contender], rep + 1, r->why, out,
					bench__contender_names[r->contender], rep + 1);
		}
	rmdir(mnt);
	int status = bench__report(&s, runs, done, out);
	for (unsigned i = 0; i < done; i++) {
		if (runs[i].why[0])
			status = BENCH_EXIT_FAIL;
		free(runs[i].sample);
	}
	free(runs);
	if (bench_stop)
		return 128 + bench_stop;
	if (status)
		fprintf(stderr, "l1vmm: bench: FAILED: a guest failed its verification or a run failed "
			"(the lines starting with !!! above)\n");
	return status;
}
