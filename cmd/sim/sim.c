#include "cmd/sim/sim.h"
#include "cmd/sim/rng.h"
#include "lib/base/buf.h"
#include "lib/base/calendar.h"
#include "lib/base/durable.h"
#include "lib/learn/learner.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * The simulation advances in trading minutes ("steps"). Each step moves every
 * symbol's price, fires the scale and close events that are due, and draws
 * signals. A trade's whole future (outcome, exit time, exit price, an optional
 * partial close) is drawn when it opens, and the symbol's price path is then
 * bent through those points with a Brownian bridge, so that the prices a reader
 * sees later in signals agree with the result the trade reports.
 *
 * Every row is written the moment it is produced: in batch mode its timestamp
 * comes from the simulated minute, in live mode from the wall clock at the
 * instant of the write (after pacing), so the time fields that refer to other
 * rows (entry_ts, hold_minutes) are always the ones actually written.
 */

#define STEPS_PER_DAY 390 /* 9:30–16:00 */
#define N_SYMBOLS 8
#define MAX_COMPONENTS 24
#define SIGNAL_PROB 0.2	     /* per symbol and minute */
#define TRADE_CONFIDENCE 0.3 /* below this a signal is simply not acted on */
#define HIGH_CONFIDENCE 0.6  /* missed opportunities are at least this confident */
#define MAX_POSITIONS 6
#define COOLDOWN_STEPS 5
#define LAST_ENTRY_MINUTE 380
#define HEARTBEAT_STEPS 60
#define REGIME_SWITCH_PROB 0.004
#define DEFAULT_START_US INT64_C(1767571200000000) /* 2026-01-05T00:00:00Z */

enum sim_rc { SIM_OK = 0, SIM_STOP = 1, SIM_FAIL = -1 };

enum source { SRC_ATTRIBUTION, SRC_EXIT, SRC_SIGNALS, SRC_ORDERS, SRC_COUNT };
static const char *const source_names[SRC_COUNT] = {"attribution", "exit", "signals", "orders"};

enum regime { REGIME_TREND_UP, REGIME_TREND_DOWN, REGIME_RANGE, REGIME_VOLATILE, REGIME_COUNT };

/* Per-minute drift and volatility of the log price in each regime. */
static const struct {
	const char *canonical, *stock_bot;
	double drift, vol;
} regimes[REGIME_COUNT] = {
    {"trend_up", "BULL", 0.00005, 0.0008},
    {"trend_down", "BEAR", -0.00005, 0.0008},
    {"range", "mixed", 0.0, 0.0006},
    {"volatile", "high_vol", 0.0, 0.0018},
};

enum exit_kind { EXIT_TAKE_PROFIT, EXIT_STOP_LOSS, EXIT_TRAIL_STOP, EXIT_SIGNAL_DECAY, EXIT_TIME };

/* Why a signal was not traded. */
enum block {
	BLOCK_NONE,
	BLOCK_LOW_CONFIDENCE,
	BLOCK_HELD,
	BLOCK_LATE,
	BLOCK_COOLDOWN,
	BLOCK_MAX_POSITIONS,
	BLOCK_RISK_LIMIT,
	BLOCK_REJECTED,
};

struct symbol_def {
	const char *name, *sector;
	double price;
};

/* A component: the value written is mean + sd·z (clamped to [lo, hi] and
 * rounded), and the planted model uses the standardized written value, so the
 * truth is exact for what a reader sees. sd 0 means a constant column.
 * bot_weight is the bot's own, mis-specified opinion of the same component:
 * what its score and confidence are made of. */
struct component_def {
	const char *name;
	double mean, sd, weight, lo, hi;
	double bot_weight;
};

struct profile_def {
	const char *name;
	const char *files[SRC_COUNT];
	struct symbol_def symbols[N_SYMBOLS];
	struct component_def components[MAX_COMPONENTS];
	size_t n_components;
	int decimals; /* of written component values */
	double intercept;
	/* The bot's opinion: bot_eta = bot_intercept + Σ bot_weight·z + bot_noise·N(0,1);
	 * confidence = sigmoid(bot_eta) + N(0, 0.05);
	 * score = score_center + score_scale·(bot_eta − bot_intercept). */
	double bot_intercept, bot_noise, score_center, score_scale;
	double equity;		 /* starting account equity */
	double size_lo, size_hi; /* position size range in USD */
};

static const struct profile_def canonical_profile = {
    .name = "canonical",
    .files = {"attribution.jsonl", "exits.jsonl", "signals.jsonl", "orders.jsonl"},
    .symbols = {{"AAPL", "technology", 230.0},
		{"MSFT", "technology", 420.0},
		{"NVDA", "semiconductors", 130.0},
		{"AMZN", "consumer", 200.0},
		{"JPM", "financials", 240.0},
		{"XOM", "energy", 110.0},
		{"TSLA", "automotive", 350.0},
		{"SPY", "etf", 590.0}},
    /* The bot leans on momentum, volume and news, under-rates order flow,
     * ignores mean reversion, and trusts volatility and noise_a, which carry
     * nothing. */
    .components = {{"momentum", 0, 1, 0.9, -HUGE_VAL, HUGE_VAL, 0.5},
		   {"mean_reversion", 0, 1, -0.6, -HUGE_VAL, HUGE_VAL, 0.0},
		   {"volume_surge", 0, 1, 0.5, -HUGE_VAL, HUGE_VAL, 0.5},
		   {"news_sentiment", 0, 1, 0.3, -HUGE_VAL, HUGE_VAL, 0.5},
		   {"order_flow", 0, 1, 0.7, -HUGE_VAL, HUGE_VAL, 0.2},
		   {"volatility", 0, 1, 0.0, -HUGE_VAL, HUGE_VAL, 0.4},
		   {"noise_a", 0, 1, 0.0, -HUGE_VAL, HUGE_VAL, 0.3},
		   {"noise_b", 0, 1, 0.0, -HUGE_VAL, HUGE_VAL, 0.0}},
    .n_components = 8,
    .decimals = 4,
    .intercept = -0.1,
    .bot_intercept = 0.0,
    .bot_noise = 0.3,
    .score_center = 5.0,
    .score_scale = 2.0,
    .equity = 100000.0,
    .size_lo = 2000.0,
    .size_hi = 6000.0,
};

/* Names, order and scales of the real bot's components (fixture
 * stock-bot-2026-02-10); the columns that are constant there stay constant. */
static const struct profile_def stock_bot_profile = {
    .name = "stock-bot",
    .files = {"attribution.jsonl", "exit_attribution.jsonl", "blocked_trades.jsonl",
	      "orders.jsonl"},
    .symbols = {{"GOOGL", "technology", 316.0},
		{"AMD", "semiconductors", 170.0},
		{"TSLA", "automotive", 400.0},
		{"COIN", "financials", 260.0},
		{"HOOD", "financials", 79.0},
		{"WMT", "consumer", 127.0},
		{"XLK", "etf", 143.0},
		{"SPY", "etf", 600.0}},
    /* The bot's composite is mostly flow; it ignores market_tide, reads
     * iv_rank the wrong way round, and gives the zero-weight columns as much
     * say as the informative small ones. */
    .components = {{"flow", 2.0, 0.45, 0.9, 0.0, HUGE_VAL, 1.0},
		   {"dark_pool", 0.172, 0.016, 0.5, 0.0, HUGE_VAL, 0.2},
		   {"insider", 0.083, 0.008, 0.0, 0.0, HUGE_VAL, 0.3},
		   {"iv_skew", 0.053, 0.026, 0.0, -HUGE_VAL, HUGE_VAL, 0.3},
		   {"smile", 0.005, 0, 0, 0, 0, 0},
		   {"whale", 0.0, 0, 0, 0, 0, 0},
		   {"event", 0.195, 0.067, 0.3, 0.0, HUGE_VAL, 0.2},
		   {"motif_bonus", 0.0, 0, 0, 0, 0, 0},
		   {"toxicity_penalty", -0.139, 0.068, 0.4, -HUGE_VAL, 0.0, 0.2},
		   {"regime", 0.008, 0, 0, 0, 0, 0},
		   {"congress", 0.0, 0, 0, 0, 0, 0},
		   {"shorts_squeeze", 0.0, 0, 0, 0, 0, 0},
		   {"institutional", 0.0, 0, 0, 0, 0, 0},
		   {"market_tide", 13.0, 16.0, 0.7, -HUGE_VAL, HUGE_VAL, 0.0},
		   {"calendar", 0.0, 0, 0, 0, 0, 0},
		   {"greeks_gamma", 0.075, 0.033, 0.0, 0.0, HUGE_VAL, 0.3},
		   {"ftd_pressure", 0.04, 0, 0, 0, 0, 0},
		   {"iv_rank", 0.058, 0.052, -0.6, -HUGE_VAL, HUGE_VAL, 0.2},
		   {"oi_change", 0.046, 0, 0, 0, 0, 0},
		   {"etf_flow", 0.04, 0, 0, 0, 0, 0},
		   {"squeeze_score", 0.046, 0.022, 0.0, 0.0, HUGE_VAL, 0.3},
		   {"freshness_factor", 0.92, 0.05, 0.0, 0.0, 1.0, 0.2}},
    .n_components = 22,
    .decimals = 3,
    .intercept = -0.1,
    /* The real bot's scores sit around 3.6–4.6. */
    .bot_intercept = 0.0,
    .bot_noise = 0.3,
    .score_center = 4.0,
    .score_scale = 0.45,
    .equity = 50000.0,
    .size_lo = 150.0,
    .size_hi = 600.0,
};

struct position {
	int active;
	char trade_id[96];
	int dir; /* +1 long, -1 short */
	long qty, qty_open;
	int64_t entry_c, stop_c, target_c;
	double comp[MAX_COMPONENTS];
	double p, confidence, score;
	enum regime regime;
	int timeframe;
	long long signal_no;
	int64_t entry_ts;
	double equity_at_entry, size_usd;
	/* the plan drawn at entry */
	enum exit_kind exit_kind;
	char reason[64], scale_reason[64];
	int64_t exit_step, exit_c;
	int scale_pending;
	int64_t scale_step, scale_c;
	long scale_qty;
};

struct waypoint {
	int64_t step;
	double price;
};

struct symbol {
	const struct symbol_def *def;
	double price;
	enum regime regime;
	int64_t cooldown_until;
	struct waypoint wp[2];
	int n_wp;
	double band_lo, band_hi; /* the path stays inside while a plan is on */
	struct position pos;
};

struct out {
	int fd;
	char path[PATH_MAX];
	const char *name;
};

enum row_kind { ROW_OPEN, ROW_CLOSE, ROW_SCALE, ROW_SIGNAL, ROW_ORDER, ROW_EXIT, ROW_STATUS };

struct row_meta {
	enum row_kind kind;
	int untraded;
	int64_t pnl_c;
	double p;
};

struct sim {
	const struct sim_options *opt;
	const struct profile_def *prof;
	int stock_bot;
	int live;
	struct rng market, writer;
	struct symbol sym[N_SYMBOLS];
	struct out out[SRC_COUNT];
	struct sim_truth *truth;
	int64_t pnl_closes_c, pnl_partials_c;
	int64_t equity_c;
	int64_t step;
	int minute;	      /* minute of the trading day, 0–389 */
	int64_t minute_start; /* batch: UTC us of the step's minute */
	int64_t last_ts;
	long long id_base; /* first trade/signal/order number of this run */
	long long next_trade, next_signal, next_order;
	int open_positions;
	/* live */
	double next_slot, next_rotation;
	int rotations;
	int64_t clock_shift;
	/* planted probability and outcome of every close and partial close
	 * written, in the order written (the learner's order) */
	double *auc_p;
	unsigned char *auc_flags; /* AUC_WIN | AUC_PARTIAL */
	size_t auc_n, auc_p_cap, auc_flags_cap;
	struct err *err;
};

/* Formats a path into buf (PATH_MAX bytes); a path that does not fit is an
 * error rather than a silently different file. */
static int mkpath(struct sim *s, char *buf, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int mkpath(struct sim *s, char *buf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PATH_MAX)
		return err_set(s->err, ENAMETOOLONG, "path too long in %s", s->opt->logs_dir);
	return SIM_OK;
}

static double round_to(double x, int decimals)
{
	double scale = pow(10.0, decimals);
	return round(x * scale) / scale;
}

static double sigmoid(double x)
{
	return 1.0 / (1.0 + exp(-x));
}

static double cents_to_usd(int64_t c)
{
	return (double)c / 100.0;
}

static int64_t usd_to_cents(double usd)
{
	return (int64_t)llround(usd * 100.0);
}

/* ---- time ---- */

static void format_ts(const struct sim *s, int64_t us, char *buf, size_t len)
{
	calendar_format_iso(us, buf, len);
	if (s->stock_bot) {
		/* The real bot writes Python's isoformat(): "+00:00", not "Z". */
		size_t n = strlen(buf);
		if (n > 0 && buf[n - 1] == 'Z' && n + 6 <= len)
			memcpy(buf + n - 1, "+00:00", 7);
	}
}

static double monotonic_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* UTC us of 9:30 exchange time on the UTC date of day_us (midnight UTC). */
static int64_t session_open_us(int64_t day_us)
{
	time_t midnight = (time_t)(day_us / CALENDAR_US_PER_S);
	struct tm tm;
	gmtime_r(&midnight, &tm);
	tm.tm_hour = 9;
	tm.tm_min = 30;
	tm.tm_sec = 0;
	tm.tm_isdst = -1; /* let the zone decide EST or EDT */
	return (int64_t)mktime(&tm) * CALENDAR_US_PER_S;
}

static int is_weekday(int64_t day_us)
{
	time_t t = (time_t)(day_us / CALENDAR_US_PER_S);
	struct tm tm;
	gmtime_r(&t, &tm);
	return tm.tm_wday >= 1 && tm.tm_wday <= 5;
}

/* ---- output files ---- */

static int open_outputs(struct sim *s, int truncate)
{
	for (int i = 0; i < SRC_COUNT; i++) {
		struct out *o = &s->out[i];
		o->name = s->prof->files[i];
		if (mkpath(s, o->path, "%s/%s", s->opt->logs_dir, o->name) < 0)
			return SIM_FAIL;
		int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0);
		o->fd = open(o->path, flags, 0644);
		if (o->fd < 0)
			return err_fail(s->err, "%s: %s", o->path, strerror(errno));
	}
	return SIM_OK;
}

static void close_outputs(struct sim *s)
{
	for (int i = 0; i < SRC_COUNT; i++) {
		if (s->out[i].fd >= 0)
			close(s->out[i].fd);
		s->out[i].fd = -1;
	}
}

/* ---- rotation (live) ---- */

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* gzips src into dir/dst_name through a hidden temp file, so a reader listing
 * the folder never sees a half-written .gz under a rotation's name. Deflate
 * through libarchive: a gzip filter over the raw format, one regular entry.
 * The .gz is a new file, so its mtime is the time of compression, not the
 * source's (rotation handling relies on that). */
static int gzip_file(struct sim *s, const char *dir, const char *src, const char *dst_name)
{
	char tmp[PATH_MAX], dst[PATH_MAX], buf[65536];
	struct archive *a = NULL;
	struct archive_entry *entry = NULL;
	struct stat st;
	int in = -1, rc = SIM_FAIL;
	ssize_t n;

	if (mkpath(s, tmp, "%s/.%s.tmp.%ld", dir, dst_name, (long)getpid()) < 0 ||
	    mkpath(s, dst, "%s/%s", dir, dst_name) < 0)
		return SIM_FAIL;
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0) {
		err_fail(s->err, "%s: %s", src, strerror(errno));
		goto out;
	}
	a = archive_write_new();
	entry = archive_entry_new();
	if (!a || !entry) {
		err_set(s->err, ENOMEM, "%s: out of memory", dst);
		goto out;
	}
	/* A regular file is not padded out to a whole block. */
	if (archive_write_add_filter_gzip(a) < ARCHIVE_WARN ||
	    archive_write_set_format_raw(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK)
		goto archive_error;
	if (archive_write_open_filename(a, tmp) != ARCHIVE_OK)
		goto archive_error;
	archive_entry_set_pathname(entry, dst_name);
	archive_entry_set_filetype(entry, AE_IFREG);
	archive_entry_set_perm(entry, 0644);
	archive_entry_set_size(entry, st.st_size);
	if (archive_write_header(a, entry) != ARCHIVE_OK)
		goto archive_error;
	while ((n = read(in, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err_fail(s->err, "%s: %s", src, strerror(errno));
			goto out;
		}
		for (ssize_t off = 0; off < n;) {
			la_ssize_t w = archive_write_data(a, buf + off, (size_t)(n - off));
			if (w <= 0)
				goto archive_error;
			off += w;
		}
	}
	/* Closing flushes the last deflate block and the trailer. */
	if (archive_write_close(a) != ARCHIVE_OK)
		goto archive_error;
	if (rename(tmp, dst) < 0) {
		err_fail(s->err, "%s: %s", dst, strerror(errno));
		goto out;
	}
	rc = SIM_OK;
	goto out;
archive_error:
	err_set(s->err, EIO, "%s: %s", tmp,
		archive_error_string(a) ? archive_error_string(a) : "gzip compression failed");
out:
	archive_write_free(a); /* closes it first if still open */
	archive_entry_free(entry);
	if (in >= 0)
		close(in);
	if (rc != SIM_OK)
		unlink(tmp);
	return rc;
}

static int copy_file(struct sim *s, const char *src, const char *dir, const char *dst_name)
{
	char tmp[PATH_MAX], dst[PATH_MAX], buf[65536];
	int in = -1, outfd = -1, rc = SIM_FAIL;
	ssize_t n;

	if (mkpath(s, tmp, "%s/.%s.tmp.%ld", dir, dst_name, (long)getpid()) < 0 ||
	    mkpath(s, dst, "%s/%s", dir, dst_name) < 0)
		return SIM_FAIL;
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		err_fail(s->err, "%s: %s", src, strerror(errno));
		goto out;
	}
	outfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (outfd < 0) {
		err_fail(s->err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	while ((n = read(in, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err_fail(s->err, "%s: %s", src, strerror(errno));
			goto out;
		}
		if (durable_write_all(outfd, buf, (size_t)n, NULL) < 0) {
			err_fail(s->err, "%s: %s", tmp, strerror(errno));
			goto out;
		}
	}
	if (close(outfd) < 0) {
		outfd = -1;
		err_fail(s->err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	outfd = -1;
	if (rename(tmp, dst) < 0) {
		err_fail(s->err, "%s: %s", dst, strerror(errno));
		goto out;
	}
	rc = SIM_OK;
out:
	if (in >= 0)
		close(in);
	if (outfd >= 0)
		close(outfd);
	if (rc != SIM_OK)
		unlink(tmp);
	return rc;
}

/* logrotate with delaycompress: name.N.gz → name.N+1.gz (highest first),
 * name.1 → name.2.gz, then name → name.1 either by rename-and-create or by
 * copytruncate. Rotations are never deleted. */
static int rotate_one(struct sim *s, struct out *o, int copytruncate)
{
	const char *dir = s->opt->logs_dir;
	char from[PATH_MAX], to[PATH_MAX], name[PATH_MAX];
	int highest = 1;

	for (;;) {
		if (mkpath(s, from, "%s/%s.%d.gz", dir, o->name, highest + 1) < 0)
			return SIM_FAIL;
		if (!file_exists(from))
			break;
		highest++;
	}
	for (int k = highest; k >= 2; k--) {
		if (mkpath(s, from, "%s/%s.%d.gz", dir, o->name, k) < 0 ||
		    mkpath(s, to, "%s/%s.%d.gz", dir, o->name, k + 1) < 0)
			return SIM_FAIL;
		if (rename(from, to) < 0)
			return err_fail(s->err, "%s: %s", from, strerror(errno));
	}
	if (mkpath(s, from, "%s/%s.1", dir, o->name) < 0)
		return SIM_FAIL;
	if (file_exists(from)) {
		if (mkpath(s, name, "%s.2.gz", o->name) < 0 || gzip_file(s, dir, from, name) < 0)
			return SIM_FAIL;
		if (unlink(from) < 0)
			return err_fail(s->err, "%s: %s", from, strerror(errno));
	}
	if (copytruncate) {
		if (mkpath(s, name, "%s.1", o->name) < 0 || copy_file(s, o->path, dir, name) < 0)
			return SIM_FAIL;
		/* Nothing is written between the copy and the truncation: this
		 * process is the only writer, so no line falls in the gap. */
		if (ftruncate(o->fd, 0) < 0)
			return err_fail(s->err, "%s: %s", o->path, strerror(errno));
		return SIM_OK;
	}
	if (rename(o->path, from) < 0)
		return err_fail(s->err, "%s: %s", o->path, strerror(errno));
	close(o->fd);
	o->fd = open(o->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (o->fd < 0)
		return err_fail(s->err, "%s: %s", o->path, strerror(errno));
	return SIM_OK;
}

static int rotate_all(struct sim *s)
{
	int copytruncate = s->rotations % 2 == 1;
	for (int i = 0; i < SRC_COUNT; i++)
		if (rotate_one(s, &s->out[i], copytruncate) < 0)
			return SIM_FAIL;
	s->rotations++;
	return SIM_OK;
}

/* ---- writing rows ---- */

static int stop_requested(const struct sim *s)
{
	if (s->opt->stop && *s->opt->stop)
		return 1;
	return s->opt->max_records > 0 && s->truth->lines_written >= s->opt->max_records;
}

/* Batch: a moment later in the current simulated minute. */
static int64_t batch_ts(struct sim *s)
{
	int64_t limit = s->minute_start + 59 * CALENDAR_US_PER_S;
	int64_t t = s->last_ts + (int64_t)rng_range(&s->market, 50e3, 2.5e6);
	if (t < s->minute_start)
		t = s->minute_start + (int64_t)rng_range(&s->market, 0, 2e6);
	if (t > limit)
		t = s->last_ts + 1000;
	return t;
}

/* Live: waits for the row's slot at the requested rate (rotating first when
 * due), then reads the wall clock. SIM_STOP when asked to stop. */
static int live_ts(struct sim *s, int64_t *t)
{
	double now;

	if (stop_requested(s))
		return SIM_STOP;
	while ((now = monotonic_s()) < s->next_slot) {
		struct timespec d;
		double wait = s->next_slot - now;
		d.tv_sec = (time_t)wait;
		d.tv_nsec = (long)((wait - (double)d.tv_sec) * 1e9);
		nanosleep(&d, NULL); /* EINTR: a signal may have asked us to stop */
		if (stop_requested(s))
			return SIM_STOP;
	}
	/* After a long stall, do not burst to catch up. */
	if (now > s->next_slot + 1.0)
		s->next_slot = now;
	s->next_slot += 1.0 / s->opt->rate;
	if (s->opt->rotate_every_s > 0 && now >= s->next_rotation) {
		if (rotate_all(s) < 0)
			return SIM_FAIL;
		s->next_rotation = now + s->opt->rotate_every_s;
	}
	*t = calendar_now() + s->clock_shift;
	return SIM_OK;
}

/* Timestamp of the next row. Timestamps never repeat or go back, so each
 * file stays ordered. */
static int next_ts(struct sim *s, int64_t *ts)
{
	int64_t t;

	if (s->live) {
		int rc = live_ts(s, &t);
		if (rc != SIM_OK)
			return rc;
	} else {
		t = batch_ts(s);
	}
	if (t <= s->last_ts)
		t = s->last_ts + 1;
	s->last_ts = t;
	*ts = t;
	return SIM_OK;
}

#define AUC_WIN 1
#define AUC_PARTIAL 2

static int auc_push(struct sim *s, double p, unsigned char flags)
{
	if (BUF_ARRAY_GROW(s->auc_p, s->auc_n + 1, s->auc_p_cap) ||
	    BUF_ARRAY_GROW(s->auc_flags, s->auc_n + 1, s->auc_flags_cap))
		return -1;
	s->auc_p[s->auc_n] = p;
	s->auc_flags[s->auc_n] = flags;
	s->auc_n++;
	return 0;
}

static void count_row(struct sim *s, const struct row_meta *m)
{
	struct sim_truth *t = s->truth;
	switch (m->kind) {
	case ROW_OPEN:
		t->opens++;
		break;
	case ROW_CLOSE:
		t->closes++;
		if (m->pnl_c > 0)
			t->wins++;
		s->pnl_closes_c += m->pnl_c;
		t->closes_pnl_usd = cents_to_usd(s->pnl_closes_c);
		break;
	case ROW_SCALE:
		t->partial_closes++;
		s->pnl_partials_c += m->pnl_c;
		t->partials_pnl_usd = cents_to_usd(s->pnl_partials_c);
		break;
	case ROW_SIGNAL:
		t->signals++;
		if (m->untraded)
			t->untraded_signals++;
		break;
	case ROW_ORDER:
		t->orders++;
		break;
	case ROW_EXIT:
		t->exits++;
		break;
	case ROW_STATUS:
		break;
	}
}

/* Writes row (stolen) as one line with a single write(), or in its place a
 * malformed line at the configured share: not JSON, the line cut in half, or
 * the row without its "symbol". A malformed row counts as nothing but a line. */
static int emit(struct sim *s, enum source src, json_t *row, const struct row_meta *m)
{
	static const char *const garbage[] = {"<<garbage>>", "ERROR 502 Bad Gateway", "}{\"ts\":",
					      "\x1b[31mTraceback (most recent call last):"};
	size_t flags = JSON_REAL_PRECISION(15) | (s->stock_bot ? 0 : JSON_COMPACT);
	char *text = NULL, *line = NULL;
	int malformed = 0, rc = SIM_FAIL;
	size_t len;

	if (!row)
		return err_set(s->err, ENOMEM, "out of memory building a row");
	if (s->opt->malformed_share > 0 && rng_uniform(&s->writer) < s->opt->malformed_share)
		malformed = 1 + (int)(rng_uniform(&s->writer) * 3);
	if (malformed == 3 && !json_object_get(row, "symbol"))
		malformed = 2;
	if (malformed == 3)
		json_object_del(row, "symbol");
	if (malformed == 1) {
		text = strdup(garbage[rng_next(&s->writer) % 4]);
	} else {
		text = json_dumps(row, flags);
		if (text && malformed == 2)
			text[strlen(text) / 2] = '\0';
	}
	if (!text) {
		err_set(s->err, ENOMEM, "out of memory writing a row");
		goto out;
	}
	len = strlen(text);
	line = malloc(len + 2);
	if (!line) {
		err_set(s->err, ENOMEM, "out of memory writing a row");
		goto out;
	}
	memcpy(line, text, len);
	line[len] = '\n';
	/* One write() per line on an O_APPEND descriptor: a reader sees whole
	 * lines or nothing (except the deliberately cut ones). */
	if (durable_write_all(s->out[src].fd, line, len + 1, NULL) < 0) {
		err_fail(s->err, "%s: %s", s->out[src].path, strerror(errno));
		goto out;
	}
	s->truth->lines_written++;
	s->truth->lines_by_source[src]++;
	if (malformed) {
		s->truth->malformed_lines++;
	} else {
		count_row(s, m);
		unsigned char auc = (unsigned char)((m->pnl_c > 0 ? AUC_WIN : 0) |
						    (m->kind == ROW_SCALE ? AUC_PARTIAL : 0));
		if ((m->kind == ROW_CLOSE || m->kind == ROW_SCALE) && auc_push(s, m->p, auc) < 0) {
			err_set(s->err, ENOMEM, "out of memory");
			goto out;
		}
	}
	rc = SIM_OK;
out:
	free(line);
	free(text);
	json_decref(row);
	return rc;
}

/* ---- row builders ---- */

static void set_str(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, v ? json_string(v) : json_null());
}

static void set_real(json_t *o, const char *k, double v)
{
	json_object_set_new(o, k, json_real(v));
}

static void set_int(json_t *o, const char *k, long long v)
{
	json_object_set_new(o, k, json_integer(v));
}

static void set_ts(const struct sim *s, json_t *o, const char *k, int64_t us)
{
	char buf[48];
	format_ts(s, us, buf, sizeof buf);
	set_str(o, k, buf);
}

static json_t *components_json(const struct sim *s, const double *comp)
{
	json_t *c = json_object();
	for (size_t i = 0; i < s->prof->n_components; i++)
		set_real(c, s->prof->components[i].name, comp[i]);
	return c;
}

static const char *side_name(int dir)
{
	return dir > 0 ? "long" : "short";
}

static const char *regime_name(const struct sim *s, enum regime r)
{
	return s->stock_bot ? regimes[r].stock_bot : regimes[r].canonical;
}

static const char *timeframe_name(int tf)
{
	static const char *const names[] = {"5m", "15m", "1h"};
	return names[tf];
}

/* The real bot's ids: a uuid-looking string, unique per order number. */
static void order_uuid(long long order_no, char *buf, size_t len)
{
	uint64_t x = (uint64_t)order_no * UINT64_C(0x2545f4914f6cdd1d);
	uint64_t a = splitmix64(&x), b = splitmix64(&x);
	snprintf(buf, len, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
		 (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
		 (unsigned)((b >> 48) & 0x3fff) | 0x8000,
		 (unsigned long long)(b & UINT64_C(0xffffffffffff)));
}

static int emit_order(struct sim *s, int si, long long signal_no, const char *trade_id, int buy,
		      long qty, const char *status, int64_t price_c)
{
	int64_t ts;
	char id[64];
	int rc = next_ts(s, &ts);
	if (rc != SIM_OK)
		return rc;
	long long order_no = s->next_order++;
	json_t *row = json_object();
	set_ts(s, row, "ts", ts);
	if (s->stock_bot) {
		order_uuid(order_no, id, sizeof id);
		set_str(row, "order_id", id);
		set_str(row, "symbol", s->sym[si].def->name);
		set_str(row, "side", buy ? "buy" : "sell");
		set_int(row, "qty", qty);
		set_str(row, "status", status);
		set_real(row, "price", cents_to_usd(price_c));
	} else {
		snprintf(id, sizeof id, "O%07lld", order_no);
		set_str(row, "order_id", id);
		if (signal_no > 0) {
			snprintf(id, sizeof id, "S%07lld", signal_no);
			set_str(row, "signal_id", id);
		} else {
			set_str(row, "signal_id", NULL);
		}
		set_str(row, "trade_id", trade_id);
		set_str(row, "symbol", s->sym[si].def->name);
		set_str(row, "side", buy ? "buy" : "sell");
		set_int(row, "qty", qty);
		set_str(row, "type", "market");
		set_str(row, "status", status);
		set_real(row, "price", cents_to_usd(price_c));
		if (strcmp(status, "filled") == 0)
			set_real(row, "fill_price", cents_to_usd(price_c));
		else
			set_str(row, "fill_price", NULL);
	}
	struct row_meta m = {.kind = ROW_ORDER};
	return emit(s, SRC_ORDERS, row, &m);
}

/* The real bot's time-of-day bucket: NY session thresholds applied to the
 * UTC hour (so most of its afternoon is "AFTER_HOURS"); mirrored on purpose. */
static const char *stock_bot_time_of_day(int utc_hour)
{
	if (utc_hour < 10)
		return "OPEN";
	if (utc_hour < 15)
		return "MID_DAY";
	if (utc_hour < 16)
		return "CLOSE";
	return "AFTER_HOURS";
}

static int utc_hour(int64_t us)
{
	int64_t secs = us / CALENDAR_US_PER_S;
	return (int)((secs % 86400 + 86400) % 86400 / 3600);
}

static json_t *open_row(struct sim *s, int si, int64_t ts)
{
	struct symbol *sy = &s->sym[si];
	struct position *p = &sy->pos;
	json_t *row = json_object();

	if (s->stock_bot) {
		char iso[48];
		json_t *ctx = json_object();
		set_ts(s, row, "ts", ts);
		set_str(row, "type", "attribution");
		set_str(row, "trade_id", p->trade_id);
		set_str(row, "symbol", sy->def->name);
		set_real(row, "pnl_usd", 0.0);
		set_str(ctx, "direction", p->dir > 0 ? "bullish" : "bearish");
		set_str(ctx, "gamma_regime", p->dir > 0 ? "positive" : "negative");
		set_str(ctx, "market_regime", regime_name(s, p->regime));
		set_real(ctx, "score", p->score);
		set_str(ctx, "order_type", "market");
		format_ts(s, p->entry_ts, iso, sizeof iso);
		set_str(ctx, "entry_ts", iso);
		set_str(ctx, "entry_status", "filled");
		json_object_set_new(ctx, "pending_fill", json_false());
		set_int(ctx, "requested_qty", p->qty);
		set_real(ctx, "entry_score", p->score);
		json_object_set_new(ctx, "components", components_json(s, p->comp));
		set_str(ctx, "regime", regime_name(s, p->regime));
		set_str(ctx, "position_side", side_name(p->dir));
		set_real(ctx, "account_equity_at_entry", p->equity_at_entry);
		set_real(ctx, "position_size_usd", p->size_usd);
		set_real(ctx, "size_scale", 1.0);
		json_object_set_new(row, "context", ctx);
		set_str(row, "strategy_id", "equity");
		return row;
	}
	char id[32];
	set_ts(s, row, "ts", ts);
	set_str(row, "event", "open");
	set_str(row, "trade_id", p->trade_id);
	set_str(row, "symbol", sy->def->name);
	set_str(row, "side", side_name(p->dir));
	set_int(row, "qty", p->qty);
	set_real(row, "entry_price", cents_to_usd(p->entry_c));
	set_real(row, "confidence", p->confidence);
	set_real(row, "score", p->score);
	set_str(row, "regime", regime_name(s, p->regime));
	set_str(row, "sector", sy->def->sector);
	set_str(row, "timeframe", timeframe_name(p->timeframe));
	snprintf(id, sizeof id, "S%07lld", p->signal_no);
	set_str(row, "signal_id", id);
	json_object_set_new(row, "components", components_json(s, p->comp));
	set_real(row, "equity", p->equity_at_entry);
	return row;
}

/* Submits an order and then gives it its outcome (filled, rejected): the
 * two rows a bot logs for one order. */
static int emit_order_pair(struct sim *s, int si, long long signal_no, const char *trade_id,
			   int buy, long qty, const char *outcome, int64_t price_c)
{
	int rc = emit_order(s, si, signal_no, trade_id, buy, qty, "submitted", price_c);
	if (rc == SIM_OK)
		rc = emit_order(s, si, signal_no, trade_id, buy, qty, outcome, price_c);
	return rc;
}

/* A canonical event row timestamped now: {"ts", "event"}, the caller adds
 * the rest. */
static int event_row(struct sim *s, const char *event, json_t **row)
{
	int64_t ts;
	int rc = next_ts(s, &ts);
	if (rc != SIM_OK)
		return rc;
	*row = json_object();
	set_ts(s, *row, "ts", ts);
	set_str(*row, "event", event);
	return SIM_OK;
}

/* A close or partial close of a position, as its rows report it. */
struct fill {
	int scale; /* 1: a partial close */
	long qty;
	int64_t exit_c, pnl_c;
	double ret;	 /* side-adjusted return, a fraction of the entry price */
	double hold;	 /* minutes from the entry to the attribution row */
	double fraction; /* of the position a partial close takes, 4 decimals */
	const char *reason;
	int64_t ts; /* of the attribution row */
};

/* The real bot's day names are upper case ("THURSDAY"). */
static void upper_day_of_week(int64_t us, char *buf, size_t len)
{
	const char *d = calendar_day_of_week(us);
	size_t i;
	for (i = 0; d[i] && i + 1 < len; i++)
		buf[i] = (char)(d[i] - 'a' + 'A');
	buf[i] = '\0';
}

static json_t *stock_bot_close_row(struct sim *s, const struct symbol *sy, const struct fill *f)
{
	const struct position *p = &sy->pos;
	char id[96], iso[48];
	double pct = round_to(f->ret * 100.0, 4);
	json_t *row = json_object(), *ctx = json_object();

	format_ts(s, f->ts - (int64_t)rng_range(&s->market, 20, 400), iso, sizeof iso);
	snprintf(id, sizeof id, "%s_%s_%s", f->scale ? "scale" : "close", sy->def->name, iso);
	set_ts(s, row, "ts", f->ts);
	set_str(row, "type", "attribution");
	set_str(row, "trade_id", id);
	set_str(row, "symbol", sy->def->name);
	if (!f->scale) {
		set_real(row, "entry_score", p->score);
		set_real(row, "exit_pnl", pct);
		set_str(row, "market_regime", regime_name(s, p->regime));
		json_object_set_new(row, "stealth_boost_applied", json_false());
	}
	set_real(row, "pnl_usd", cents_to_usd(f->pnl_c));
	set_real(row, "pnl_pct", f->scale ? round_to(pct * f->fraction, 4) : pct);
	set_real(row, "hold_minutes", round_to(f->hold, 1));
	set_str(ctx, "close_reason", f->reason);
	set_real(ctx, "entry_price", cents_to_usd(p->entry_c));
	set_real(ctx, "exit_price", cents_to_usd(f->exit_c));
	set_real(ctx, "pnl_pct", pct);
	set_real(ctx, "hold_minutes", round_to(f->hold, 1));
	/* The real bot logs the entry order's side here, sometimes the
	 * position side; both forms appear in its logs. */
	if (p->signal_no % 10 < 7)
		set_str(ctx, "side", p->dir > 0 ? "buy" : "sell");
	else
		set_str(ctx, "side", side_name(p->dir));
	if (!f->scale) {
		set_str(ctx, "position_side", side_name(p->dir));
		set_str(ctx, "order_side_raw", p->dir > 0 ? "sell" : "buy");
	}
	set_int(ctx, "qty", f->qty);
	if (f->scale) {
		set_real(ctx, "fraction", f->fraction);
	} else {
		set_int(ctx, "entry_qty", p->qty);
		set_int(ctx, "exit_qty", f->qty);
	}
	set_real(ctx, "entry_score", p->score);
	json_object_set_new(ctx, "components", components_json(s, p->comp));
	set_str(ctx, "market_regime", regime_name(s, p->regime));
	set_str(ctx, "direction", p->dir > 0 ? "bullish" : "bearish");
	if (!f->scale) {
		char dow[16];
		upper_day_of_week(p->entry_ts, dow, sizeof dow);
		set_str(ctx, "time_of_day", stock_bot_time_of_day(utc_hour(p->entry_ts)));
		set_str(ctx, "day_of_week", dow);
		set_int(ctx, "entry_hour", utc_hour(p->entry_ts));
		format_ts(s, p->entry_ts, iso, sizeof iso);
		set_str(ctx, "entry_ts", iso);
	}
	json_object_set_new(row, "context", ctx);
	set_str(row, "strategy_id", "equity");
	return row;
}

static json_t *canonical_close_row(struct sim *s, const struct symbol *sy, const struct fill *f)
{
	const struct position *p = &sy->pos;
	char iso[48];
	json_t *row = json_object();

	set_ts(s, row, "ts", f->ts);
	set_str(row, "event", f->scale ? "scale" : "close");
	set_str(row, "trade_id", p->trade_id);
	set_str(row, "symbol", sy->def->name);
	set_str(row, "side", side_name(p->dir));
	set_int(row, "qty", f->qty);
	format_ts(s, p->entry_ts, iso, sizeof iso);
	set_str(row, "entry_ts", iso);
	set_real(row, "entry_price", cents_to_usd(p->entry_c));
	set_real(row, "exit_price", cents_to_usd(f->exit_c));
	set_real(row, "pnl_usd", cents_to_usd(f->pnl_c));
	set_real(row, "pnl_pct", round_to(f->ret, 6));
	set_real(row, "hold_minutes", round_to(f->hold, 2));
	set_str(row, "close_reason", f->reason);
	set_real(row, "confidence", p->confidence);
	set_real(row, "score", p->score);
	set_str(row, "regime", regime_name(s, p->regime));
	set_str(row, "sector", sy->def->sector);
	set_str(row, "timeframe", timeframe_name(p->timeframe));
	json_object_set_new(row, "components", components_json(s, p->comp));
	if (f->scale)
		set_real(row, "fraction", f->fraction);
	return row;
}

/* The stock bot's exit row, a moment after the close, with its P&L
 * unrounded like the real bot's float arithmetic. */
static int emit_stock_bot_exit(struct sim *s, const struct symbol *sy, const struct fill *f)
{
	const struct position *p = &sy->pos;
	double entry = cents_to_usd(p->entry_c), exit = cents_to_usd(f->exit_c);
	double raw_pnl = (double)p->dir * (exit - entry) * (double)f->qty;
	double raw_pct = (double)p->dir * (exit - entry) / entry * 100.0;
	char iso[48];
	int64_t ts;
	int rc = next_ts(s, &ts);
	if (rc != SIM_OK)
		return rc;
	json_t *row = json_object();
	set_str(row, "symbol", sy->def->name);
	set_ts(s, row, "timestamp", ts);
	format_ts(s, p->entry_ts, iso, sizeof iso);
	set_str(row, "entry_timestamp", iso);
	set_str(row, "exit_reason", f->reason);
	set_real(row, "pnl", raw_pnl);
	set_real(row, "pnl_pct", raw_pct);
	set_real(row, "entry_price", entry);
	set_real(row, "exit_price", exit);
	set_real(row, "qty", (double)f->qty);
	set_real(row, "time_in_trade_minutes", (double)(ts - p->entry_ts) / 60e6);
	set_str(row, "entry_regime", regime_name(s, p->regime));
	set_str(row, "exit_regime", regime_name(s, sy->regime));
	set_real(row, "v2_exit_score", round_to(rng_range(&s->market, 0.05, 0.6), 6));
	set_str(row, "composite_version", "v2");
	struct row_meta m = {.kind = ROW_EXIT};
	return emit(s, SRC_EXIT, row, &m);
}

/* The canonical bot's exit event, a moment after the close or partial
 * close; its hold is the close row's. */
static int emit_canonical_exit(struct sim *s, const struct symbol *sy, const struct fill *f)
{
	const struct position *p = &sy->pos;
	json_t *row;
	int rc = event_row(s, "exit", &row);
	if (rc != SIM_OK)
		return rc;
	set_str(row, "trade_id", p->trade_id);
	set_str(row, "symbol", sy->def->name);
	set_str(row, "side", side_name(p->dir));
	set_str(row, "reason", f->reason);
	set_real(row, "pnl_usd", cents_to_usd(f->pnl_c));
	set_real(row, "pnl_pct", round_to(f->ret, 6));
	set_real(row, "hold_minutes", round_to(f->hold, 2));
	set_real(row, "exit_price", cents_to_usd(f->exit_c));
	struct row_meta m = {.kind = ROW_EXIT};
	return emit(s, SRC_EXIT, row, &m);
}

/* Closes (or, with scale, partly closes) the position of symbol si at its
 * planned price: orders, the attribution row, the exit row (the stock bot
 * logs none for a partial close). */
static int close_position(struct sim *s, int si, int scale)
{
	struct symbol *sy = &s->sym[si];
	struct position *p = &sy->pos;
	struct fill f = {.scale = scale};
	int rc;

	f.qty = scale ? p->scale_qty : p->qty_open;
	f.exit_c = scale ? p->scale_c : p->exit_c;
	f.pnl_c = (int64_t)p->dir * (f.exit_c - p->entry_c) * f.qty;
	f.ret = (double)p->dir * (double)(f.exit_c - p->entry_c) / (double)p->entry_c;
	f.reason = scale ? p->scale_reason : p->reason;
	rc = emit_order_pair(s, si, 0, p->trade_id, p->dir < 0, f.qty, "filled", f.exit_c);
	if (rc == SIM_OK)
		rc = next_ts(s, &f.ts);
	if (rc != SIM_OK)
		return rc;
	f.hold = (double)(f.ts - p->entry_ts) / 60e6;
	f.fraction = round_to((double)p->scale_qty / (double)p->qty, 4);
	s->equity_c += f.pnl_c;

	json_t *row =
	    s->stock_bot ? stock_bot_close_row(s, sy, &f) : canonical_close_row(s, sy, &f);
	struct row_meta m = {.kind = scale ? ROW_SCALE : ROW_CLOSE, .pnl_c = f.pnl_c, .p = p->p};
	rc = emit(s, SRC_ATTRIBUTION, row, &m);
	if (rc != SIM_OK)
		return rc;
	if (!s->stock_bot)
		return emit_canonical_exit(s, sy, &f);
	return scale ? SIM_OK : emit_stock_bot_exit(s, sy, &f);
}

/* ---- the market ---- */

static void set_plan(struct symbol *sy, int64_t stop_c, int64_t target_c)
{
	double a = cents_to_usd(stop_c), b = cents_to_usd(target_c);
	sy->band_lo = (a < b ? a : b) + 0.005;
	sy->band_hi = (a < b ? b : a) - 0.005;
}

static void advance_price(struct sim *s, struct symbol *sy)
{
	struct rng *r = &s->market;
	if (rng_uniform(r) < REGIME_SWITCH_PROB)
		sy->regime = (enum regime)((sy->regime + 1 + (int)(rng_uniform(r) * 3)) % 4);
	double vol = regimes[sy->regime].vol;
	double z = rng_normal(r);

	if (sy->n_wp == 0) {
		sy->price *= exp(regimes[sy->regime].drift + vol * z);
		if (s->minute == 0)
			sy->price *= exp(0.006 * rng_normal(r)); /* overnight gap */
		return;
	}
	/* Discrete Brownian bridge: lands exactly on the waypoint when it is due. */
	int64_t n = sy->wp[0].step - s->step + 1;
	if (n <= 1) {
		sy->price = sy->wp[0].price;
		sy->wp[0] = sy->wp[1];
		sy->n_wp--;
		return;
	}
	double noise = 0.5 * vol * sy->price * sqrt((double)(n - 1) / (double)n) * z;
	sy->price += (sy->wp[0].price - sy->price) / (double)n + noise;
	if (sy->price < sy->band_lo)
		sy->price = sy->band_lo;
	if (sy->price > sy->band_hi)
		sy->price = sy->band_hi;
}

/* Exit price of a planned exit, in cents, on the side the outcome says. */
static int64_t plan_exit_price(struct sim *s, struct position *p, int win)
{
	struct rng *r = &s->market;
	int64_t up = p->dir * (p->target_c - p->entry_c); /* > 0 */
	int64_t down = p->dir * (p->entry_c - p->stop_c); /* > 0 */
	double move;

	switch (p->exit_kind) {
	case EXIT_TAKE_PROFIT:
		return p->target_c;
	case EXIT_STOP_LOSS:
		return p->stop_c;
	case EXIT_TRAIL_STOP:
		move = win ? rng_range(r, 0.3, 0.9) * (double)up
			   : -rng_range(r, 0.3, 0.9) * (double)down;
		break;
	case EXIT_SIGNAL_DECAY:
		move = win ? rng_range(r, 0.1, 0.6) * (double)up
			   : -rng_range(r, 0.1, 0.7) * (double)down;
		break;
	case EXIT_TIME:
	default:
		if (!win && rng_uniform(r) < 0.15)
			return p->entry_c; /* flat: a zero P&L, which is not a win */
		move = win ? rng_range(r, 0.05, 0.5) * (double)up
			   : -rng_range(r, 0.05, 0.5) * (double)down;
		break;
	}
	int64_t c = llround(move);
	if (win && c < 1)
		c = 1;
	if (!win && c > -1)
		c = -1;
	return p->entry_c + p->dir * c;
}

static void reason_text(struct sim *s, struct position *p)
{
	struct rng *r = &s->market;
	double sl = (double)(p->dir * (p->entry_c - p->stop_c)) / (double)p->entry_c * 100.0;
	double tp = (double)(p->dir * (p->target_c - p->entry_c)) / (double)p->entry_c * 100.0;
	double trail = rng_range(r, 0.5, 1.5), decay = rng_range(r, 0.02, 0.7);

	if (!s->stock_bot) {
		switch (p->exit_kind) {
		case EXIT_TAKE_PROFIT:
			snprintf(p->reason, sizeof p->reason, "take_profit");
			break;
		case EXIT_STOP_LOSS:
			snprintf(p->reason, sizeof p->reason, "stop_loss");
			break;
		case EXIT_TRAIL_STOP:
			snprintf(p->reason, sizeof p->reason, "trail_stop(-%.1f%%)", trail);
			break;
		case EXIT_SIGNAL_DECAY:
			snprintf(p->reason, sizeof p->reason, "signal_decay(%.2f)", decay);
			break;
		case EXIT_TIME:
			snprintf(p->reason, sizeof p->reason, "time_exit");
			break;
		}
		snprintf(p->scale_reason, sizeof p->scale_reason, "take_profit");
		return;
	}
	/* The real bot's vocabulary: mostly signal_decay, composites joined by '+'. */
	switch (p->exit_kind) {
	case EXIT_TAKE_PROFIT:
		snprintf(p->reason, sizeof p->reason, "profit_target(%.1f%%)", tp);
		break;
	case EXIT_STOP_LOSS:
		snprintf(p->reason, sizeof p->reason, "trail_stop(-%.1f%%)", sl);
		break;
	case EXIT_TRAIL_STOP:
		if (rng_uniform(r) < 0.4)
			snprintf(p->reason, sizeof p->reason,
				 "trail_stop(-%.1f%%)+signal_decay(%.2f)", trail, decay);
		else
			snprintf(p->reason, sizeof p->reason, "trail_stop(-%.1f%%)", trail);
		break;
	case EXIT_SIGNAL_DECAY:
		if (rng_uniform(r) < 0.4)
			snprintf(p->reason, sizeof p->reason, "signal_decay(%.2f)+flow_reversal",
				 decay);
		else
			snprintf(p->reason, sizeof p->reason, "signal_decay(%.2f)", decay);
		break;
	case EXIT_TIME:
		snprintf(p->reason, sizeof p->reason, "stale_alpha_cutoff");
		break;
	}
	if (rng_uniform(r) < 0.3)
		snprintf(p->scale_reason, sizeof p->scale_reason,
			 "signal_decay(%.2f)+profit_target(%.1f%%)", rng_range(r, 0.5, 0.95),
			 tp / 2);
	else
		snprintf(p->scale_reason, sizeof p->scale_reason, "profit_target(%.1f%%)", tp / 2);
}

/* Draws the outcome of a trade that opens now and bends the price path
 * through its partial close and exit. */
static void plan_trade(struct sim *s, struct symbol *sy)
{
	struct rng *r = &s->market;
	struct position *p = &sy->pos;
	int win = rng_uniform(r) < p->p;
	int64_t hold = (int64_t)llround(exp(log(25.0) + 0.9 * rng_normal(r)));
	double u = rng_uniform(r);

	if (hold < 2)
		hold = 2;
	if (hold > 600)
		hold = 600;
	if (u < 0.10)
		p->exit_kind = EXIT_TIME;
	else if (win)
		p->exit_kind = u < 0.64	  ? EXIT_TAKE_PROFIT
			       : u < 0.82 ? EXIT_TRAIL_STOP
					  : EXIT_SIGNAL_DECAY;
	else
		p->exit_kind = u < 0.62	  ? EXIT_STOP_LOSS
			       : u < 0.85 ? EXIT_SIGNAL_DECAY
					  : EXIT_TRAIL_STOP;
	/* Most positions are closed by the bell; a few are held overnight. */
	if (s->minute + hold > STEPS_PER_DAY - 1 && rng_uniform(r) < 0.85 &&
	    STEPS_PER_DAY - 1 - s->minute >= 1) {
		hold = STEPS_PER_DAY - 1 - s->minute;
		p->exit_kind = EXIT_TIME;
	}
	p->exit_step = s->step + hold;
	p->exit_c = plan_exit_price(s, p, win);
	reason_text(s, p);

	p->scale_pending = 0;
	if (win && p->exit_kind == EXIT_TAKE_PROFIT && p->qty >= 2 && hold >= 4 &&
	    rng_uniform(r) < 0.35) {
		int64_t half = p->dir * (p->target_c - p->entry_c) / 2;
		double f = rng_range(r, 0.3, 0.5);
		long part = lround(f * (double)p->qty);
		/* A whole number of shares must still make a fraction in 0.3–0.5. */
		if (half >= 1 && part >= 1 && part < p->qty && part * 10 >= p->qty * 3 &&
		    part * 2 <= p->qty) {
			p->scale_pending = 1;
			p->scale_step =
			    s->step + (int64_t)llround((double)hold * rng_range(r, 0.3, 0.7));
			if (p->scale_step <= s->step)
				p->scale_step = s->step + 1;
			if (p->scale_step >= p->exit_step)
				p->scale_step = p->exit_step - 1;
			p->scale_c = p->entry_c + p->dir * half;
			p->scale_qty = part;
		}
	}
	sy->n_wp = 0;
	if (p->scale_pending)
		sy->wp[sy->n_wp++] = (struct waypoint){p->scale_step, cents_to_usd(p->scale_c)};
	sy->wp[sy->n_wp++] = (struct waypoint){p->exit_step, cents_to_usd(p->exit_c)};
	set_plan(sy, p->stop_c, p->target_c);
}

/* A confident signal that was not taken still has an outcome: later prices
 * reach its target or its stop as the planted model says, so missed-
 * opportunity analysis has something true to find. */
static void plan_missed(struct sim *s, struct symbol *sy, double p, int64_t stop_c,
			int64_t target_c)
{
	struct rng *r = &s->market;
	int win = rng_uniform(r) < p;
	int64_t hold = (int64_t)llround(exp(log(25.0) + 0.9 * rng_normal(r)));
	if (hold < 2)
		hold = 2;
	if (hold > 300)
		hold = 300;
	sy->n_wp = 1;
	sy->wp[0] = (struct waypoint){s->step + hold, cents_to_usd(win ? target_c : stop_c)};
	set_plan(sy, stop_c, target_c);
	sy->band_lo -= 0.01;
	sy->band_hi += 0.01;
}

static const char *block_reason(const struct sim *s, enum block b)
{
	if (s->stock_bot) {
		switch (b) {
		case BLOCK_NONE:
			return NULL;
		case BLOCK_LOW_CONFIDENCE:
			return "expectancy_blocked:score_floor_breach";
		case BLOCK_HELD:
			return "displacement_blocked";
		case BLOCK_LATE:
		case BLOCK_COOLDOWN:
			return "max_new_positions_per_cycle";
		case BLOCK_MAX_POSITIONS:
			return "max_positions_reached";
		case BLOCK_RISK_LIMIT:
		case BLOCK_REJECTED:
			return "order_validation_failed";
		}
		return NULL;
	}
	switch (b) {
	case BLOCK_NONE:
	case BLOCK_LOW_CONFIDENCE:
		return NULL;
	case BLOCK_COOLDOWN:
		return "cooldown";
	case BLOCK_MAX_POSITIONS:
		return "max_positions";
	case BLOCK_HELD:
	case BLOCK_LATE:
	case BLOCK_RISK_LIMIT:
	case BLOCK_REJECTED:
		return "risk_limit";
	}
	return NULL;
}

/* A signal as drawn: its components, the planted probability they give,
 * the bot's opinion of them, and the prices it names. */
struct signal_draw {
	int dir;
	double comp[MAX_COMPONENTS];
	double p, confidence, score;
	int64_t price_c, stop_c, target_c;
	int timeframe;
};

/* Draws the components; from them the planted probability and the bot's
 * own score and confidence. */
static void draw_components(struct sim *s, struct signal_draw *g)
{
	struct rng *r = &s->market;
	const struct profile_def *prof = s->prof;
	double eta = prof->intercept, bot_eta = prof->bot_intercept;

	for (size_t i = 0; i < prof->n_components; i++) {
		const struct component_def *c = &prof->components[i];
		if (c->sd == 0) {
			g->comp[i] = c->mean;
			continue;
		}
		double v = c->mean + c->sd * rng_normal(r);
		if (v < c->lo)
			v = c->lo;
		if (v > c->hi)
			v = c->hi;
		g->comp[i] = round_to(v, prof->decimals);
		/* The model reads the value as written, so the truth is exact. */
		double z = (g->comp[i] - c->mean) / c->sd;
		eta += c->weight * z;
		bot_eta += c->bot_weight * z;
	}
	g->p = sigmoid(eta);
	/* Score and confidence are the bot's own opinion, not the truth: the
	 * planted model is recoverable only by learning from the components. */
	bot_eta += prof->bot_noise * rng_normal(r);
	g->confidence = round_to(sigmoid(bot_eta) + 0.05 * rng_normal(r), 4);
	if (g->confidence < 0.01)
		g->confidence = 0.01;
	if (g->confidence > 0.99)
		g->confidence = 0.99;
	g->score =
	    round_to(prof->score_center + prof->score_scale * (bot_eta - prof->bot_intercept), 4);
}

/* Draws a signal on sy: its side (leaning with a trending regime), its
 * components, its stop and target around the price, its timeframe. */
static void draw_signal(struct sim *s, const struct symbol *sy, struct signal_draw *g)
{
	struct rng *r = &s->market;

	memset(g, 0, sizeof *g);
	double up = sy->regime == REGIME_TREND_UP     ? 0.7
		    : sy->regime == REGIME_TREND_DOWN ? 0.3
						      : 0.5;
	g->dir = rng_uniform(r) < up ? 1 : -1;
	draw_components(s, g);
	g->price_c = usd_to_cents(sy->price);
	double sl = rng_range(r, 0.004, 0.012), tp = sl * rng_range(r, 0.7, 1.3);
	g->stop_c = g->price_c - g->dir * (int64_t)llround((double)g->price_c * sl);
	g->target_c = g->price_c + g->dir * (int64_t)llround((double)g->price_c * tp);
	if (g->stop_c == g->price_c)
		g->stop_c -= g->dir;
	if (g->target_c == g->price_c)
		g->target_c += g->dir;
	double tf_u = rng_uniform(r);
	g->timeframe = tf_u < 0.5 ? 0 : tf_u < 0.85 ? 1 : 2;
}

/* Why the bot does not trade a signal of this confidence on sy now, or
 * BLOCK_NONE: the first rule that stops it. */
static enum block decide_block(struct sim *s, const struct symbol *sy, double confidence)
{
	struct rng *r = &s->market;

	if (confidence < TRADE_CONFIDENCE)
		return BLOCK_LOW_CONFIDENCE;
	if (sy->pos.active)
		return BLOCK_HELD;
	if (s->minute >= LAST_ENTRY_MINUTE)
		return BLOCK_LATE;
	if (s->step < sy->cooldown_until)
		return BLOCK_COOLDOWN;
	if (s->open_positions >= MAX_POSITIONS)
		return BLOCK_MAX_POSITIONS;
	if (rng_uniform(r) < 0.04)
		return BLOCK_RISK_LIMIT;
	if (rng_uniform(r) < 0.02)
		return BLOCK_REJECTED;
	return BLOCK_NONE;
}

/* The signal's row: the canonical bot logs every signal, traded or not;
 * the stock bot only the ones it blocked. */
static int emit_signal(struct sim *s, int si, const struct signal_draw *g, long long signal_no,
		       enum block b)
{
	struct symbol *sy = &s->sym[si];
	int64_t ts;
	char id[32];

	if (s->stock_bot && b == BLOCK_NONE)
		return SIM_OK;
	int rc = next_ts(s, &ts);
	if (rc != SIM_OK)
		return rc;
	json_t *row = json_object();
	if (s->stock_bot) {
		set_ts(s, row, "timestamp", ts);
		set_str(row, "symbol", sy->def->name);
		set_str(row, "reason", block_reason(s, b));
		set_real(row, "score", g->score);
		set_str(row, "direction", g->dir > 0 ? "bullish" : "bearish");
		set_real(row, "decision_price", cents_to_usd(g->price_c));
		json_object_set_new(row, "components", components_json(s, g->comp));
		json_object_set_new(row, "outcome_tracked", json_false());
	} else {
		set_ts(s, row, "ts", ts);
		snprintf(id, sizeof id, "S%07lld", signal_no);
		set_str(row, "signal_id", id);
		set_str(row, "symbol", sy->def->name);
		set_str(row, "side", side_name(g->dir));
		set_str(row, "timeframe", timeframe_name(g->timeframe));
		set_real(row, "confidence", g->confidence);
		set_real(row, "score", g->score);
		set_real(row, "price", cents_to_usd(g->price_c));
		set_real(row, "stop_loss", cents_to_usd(g->stop_c));
		set_real(row, "take_profit", cents_to_usd(g->target_c));
		set_str(row, "regime", regime_name(s, sy->regime));
		json_object_set_new(row, "components", components_json(s, g->comp));
		json_object_set_new(row, "traded", json_boolean(b == BLOCK_NONE));
		set_str(row, "reason", block_reason(s, b));
	}
	struct row_meta m = {.kind = ROW_SIGNAL, .untraded = b != BLOCK_NONE};
	return emit(s, SRC_SIGNALS, row, &m);
}

/* The broker refused the order: submitted, then rejected. */
static int reject_order(struct sim *s, int si, const struct signal_draw *g, long long signal_no)
{
	const struct profile_def *prof = s->prof;
	long qty = 1 + (long)(rng_range(&s->market, prof->size_lo, prof->size_hi) /
			      cents_to_usd(g->price_c));
	return emit_order_pair(s, si, signal_no, NULL, g->dir > 0, qty, "rejected", g->price_c);
}

/* Trades the signal: the position and its plan, the entry orders, then
 * the open row. */
static int open_trade(struct sim *s, int si, const struct signal_draw *g, long long signal_no)
{
	struct rng *r = &s->market;
	const struct profile_def *prof = s->prof;
	struct symbol *sy = &s->sym[si];
	struct position *pos = &sy->pos;
	int64_t ts;

	memset(pos, 0, sizeof *pos);
	pos->active = 1;
	pos->dir = g->dir;
	pos->entry_c = g->price_c;
	pos->stop_c = g->stop_c;
	pos->target_c = g->target_c;
	memcpy(pos->comp, g->comp, sizeof pos->comp);
	pos->p = g->p;
	pos->confidence = g->confidence;
	pos->score = g->score;
	pos->regime = sy->regime;
	pos->timeframe = g->timeframe;
	pos->signal_no = signal_no;
	pos->size_usd = rng_range(r, prof->size_lo, prof->size_hi);
	pos->qty = (long)(pos->size_usd / cents_to_usd(g->price_c));
	if (pos->qty < 1)
		pos->qty = 1;
	pos->size_usd = round_to((double)pos->qty * cents_to_usd(g->price_c), 2);
	pos->qty_open = pos->qty;
	pos->equity_at_entry = cents_to_usd(s->equity_c);
	long long trade_no = s->next_trade++;
	snprintf(pos->trade_id, sizeof pos->trade_id, "T%06lld", trade_no);
	plan_trade(s, sy);
	s->open_positions++;

	/* The stock bot's entry orders name neither the signal nor the trade. */
	int rc = emit_order_pair(s, si, s->stock_bot ? 0 : signal_no,
				 s->stock_bot ? NULL : pos->trade_id, g->dir > 0, pos->qty,
				 "filled", g->price_c);
	if (rc == SIM_OK)
		rc = next_ts(s, &ts);
	if (rc != SIM_OK)
		return rc;
	if (s->stock_bot) {
		/* The bot stamps the id and entry_ts a moment before the row. */
		char iso[48];
		int64_t id_ts = ts - (int64_t)rng_range(r, 50, 1500);
		pos->entry_ts = id_ts - (int64_t)rng_range(r, 50, 800);
		format_ts(s, id_ts, iso, sizeof iso);
		snprintf(pos->trade_id, sizeof pos->trade_id, "open_%s_%s", sy->def->name, iso);
	} else {
		pos->entry_ts = ts;
	}
	struct row_meta m = {.kind = ROW_OPEN};
	return emit(s, SRC_ATTRIBUTION, open_row(s, si, ts), &m);
}

/* Maybe a signal on symbol si this minute; if the bot trades it, a
 * position opens. A confident signal left alone still gets an outcome in
 * the prices (plan_missed). */
static int maybe_signal(struct sim *s, int si)
{
	struct symbol *sy = &s->sym[si];
	struct signal_draw g;

	if (rng_uniform(&s->market) >= SIGNAL_PROB)
		return SIM_OK;
	draw_signal(s, sy, &g);
	enum block b = decide_block(s, sy, g.confidence);
	long long signal_no = s->next_signal++;
	int rc = emit_signal(s, si, &g, signal_no, b);
	if (rc != SIM_OK)
		return rc;
	if (b == BLOCK_REJECTED)
		return reject_order(s, si, &g, signal_no);
	if (b != BLOCK_NONE) {
		if (g.confidence >= HIGH_CONFIDENCE && !sy->pos.active && sy->n_wp == 0)
			plan_missed(s, sy, g.p, g.stop_c, g.target_c);
		return SIM_OK;
	}
	return open_trade(s, si, &g, signal_no);
}

static int heartbeat(struct sim *s)
{
	json_t *row;
	int rc = event_row(s, "heartbeat", &row);
	if (rc != SIM_OK)
		return rc;
	set_str(row, "status", "ok");
	struct row_meta m = {.kind = ROW_STATUS};
	return emit(s, SRC_EXIT, row, &m);
}

/* One trading minute. */
static int step(struct sim *s)
{
	int rc;

	for (int i = 0; i < N_SYMBOLS; i++)
		advance_price(s, &s->sym[i]);
	if (!s->stock_bot && s->minute % HEARTBEAT_STEPS == 0) {
		rc = heartbeat(s);
		if (rc != SIM_OK)
			return rc;
	}
	for (int i = 0; i < N_SYMBOLS; i++) {
		struct position *p = &s->sym[i].pos;
		if (!p->active)
			continue;
		if (p->scale_pending && p->scale_step == s->step) {
			rc = close_position(s, i, 1);
			if (rc != SIM_OK)
				return rc;
			p->scale_pending = 0;
			p->qty_open -= p->scale_qty;
		}
		if (p->exit_step == s->step) {
			rc = close_position(s, i, 0);
			if (rc != SIM_OK)
				return rc;
			p->active = 0;
			s->open_positions--;
			s->sym[i].cooldown_until = s->step + COOLDOWN_STEPS;
		}
	}
	for (int i = 0; i < N_SYMBOLS; i++) {
		rc = maybe_signal(s, i);
		if (rc != SIM_OK)
			return rc;
	}
	return SIM_OK;
}

/* ---- setup and the two modes ---- */

static void fill_truth_model(const struct sim *s, struct sim_truth *t)
{
	const struct profile_def *prof = s->prof;
	memset(t, 0, sizeof *t);
	snprintf(t->profile, sizeof t->profile, "%s", prof->name);
	t->seed = s->opt->seed;
	t->intercept = prof->intercept;
	for (size_t i = 0; i < prof->n_components && t->n_components < 16; i++) {
		const struct component_def *c = &prof->components[i];
		if (c->sd == 0)
			continue; /* a constant column carries no information */
		size_t k = t->n_components++;
		snprintf(t->component_names[k], sizeof t->component_names[k], "%s", c->name);
		t->weights[k] = c->weight;
		t->bot_weights[k] = c->bot_weight;
		t->component_mean[k] = c->mean;
		t->component_sd[k] = c->sd;
	}
}

static int sim_init(struct sim *s, const struct sim_options *opt, struct sim_truth *truth, int live,
		    struct err *err)
{
	memset(s, 0, sizeof *s);
	memset(truth, 0, sizeof *truth);
	s->opt = opt;
	s->err = err;
	s->truth = truth;
	s->live = live;
	for (int i = 0; i < SRC_COUNT; i++)
		s->out[i].fd = -1;
	err_clear(err);
	if (!opt->logs_dir || !*opt->logs_dir)
		return err_set(err, EINVAL, "no logs folder given");
	if (opt->profile != SIM_CANONICAL && opt->profile != SIM_STOCK_BOT)
		return err_set(err, EINVAL, "unknown profile");
	if (opt->malformed_share < 0 || opt->malformed_share >= 1)
		return err_set(err, EINVAL, "malformed share must be in [0, 1)");
	s->stock_bot = opt->profile == SIM_STOCK_BOT;
	s->prof = s->stock_bot ? &stock_bot_profile : &canonical_profile;
	rng_seed(&s->market, opt->seed);
	/* Malformed lines draw from their own stream, so changing their share
	 * leaves the simulated market unchanged. */
	rng_seed(&s->writer, opt->seed ^ UINT64_C(0x6d616c666f726d65));
	fill_truth_model(s, truth);
	truth->live = live;
	s->equity_c = usd_to_cents(s->prof->equity);
	for (int i = 0; i < N_SYMBOLS; i++) {
		struct symbol *sy = &s->sym[i];
		sy->def = &s->prof->symbols[i];
		sy->price = sy->def->price * exp(0.05 * rng_normal(&s->market));
		sy->regime = (enum regime)(rng_next(&s->market) % REGIME_COUNT);
	}
	if (calendar_set_zone("America/New_York") < 0)
		return err_set(err, ENOENT, "time zone America/New_York is not installed");
	return durable_mkdirs(opt->logs_dir, err) < 0 ? SIM_FAIL : SIM_OK;
}

/* The learner's AUC of the planted probabilities against the win labels,
 * or 0.5 when the set lacks wins or losses. */
static int oracle_auc(struct sim *s, const double *p, const int *win, size_t n, double *auc)
{
	size_t wins = 0;
	for (size_t i = 0; i < n; i++)
		wins += win[i] != 0;
	*auc = 0.5;
	if (wins == 0 || wins == n)
		return SIM_OK;
	*auc = learner_auc(p, win, n);
	if (isnan(*auc))
		return err_set(s->err, ENOMEM, "out of memory");
	return SIM_OK;
}

/* oracle_auc: over the full closes. oracle_auc_second_half: over the last
 * half (n/2 rounded down) of every close and partial close in the order
 * written, which is the set a learner's progressive window of that size
 * scores. */
static int finish_auc(struct sim *s)
{
	size_t n = s->auc_n, n_full = 0, half = n / 2;
	double *full_p;
	int *win, *full_win;
	int rc = SIM_FAIL;

	s->truth->oracle_auc = 0.5;
	s->truth->oracle_auc_second_half = 0.5;
	if (n == 0)
		return SIM_OK;
	full_p = malloc(n * sizeof *full_p);
	win = malloc(n * sizeof *win);
	full_win = malloc(n * sizeof *full_win);
	if (!full_p || !win || !full_win) {
		err_set(s->err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		win[i] = s->auc_flags[i] & AUC_WIN;
		if (s->auc_flags[i] & AUC_PARTIAL)
			continue;
		full_p[n_full] = s->auc_p[i];
		full_win[n_full] = win[i];
		n_full++;
	}
	if (oracle_auc(s, full_p, full_win, n_full, &s->truth->oracle_auc) == SIM_OK &&
	    oracle_auc(s, s->auc_p + n - half, win + n - half, half,
		       &s->truth->oracle_auc_second_half) == SIM_OK)
		rc = SIM_OK;
out:
	free(full_p);
	free(win);
	free(full_win);
	return rc;
}

static void sim_release(struct sim *s)
{
	close_outputs(s);
	free(s->auc_p);
	free(s->auc_flags);
	s->auc_p = NULL;
	s->auc_flags = NULL;
}

void sim_options_init(struct sim_options *opt)
{
	memset(opt, 0, sizeof *opt);
	opt->logs_dir = "logs";
	opt->profile = SIM_CANONICAL;
	opt->days = 20;
	opt->seed = 1;
	opt->start_us = 0;
	opt->malformed_share = 0.005;
	opt->rate = 5.0;
	opt->rotate_every_s = 20.0;
	opt->max_records = 0;
	opt->append = 0;
	opt->stop = NULL;
}

/* The first of `days` trading days whose last one is the latest that has
 * begun by end_us (UTC midnight of that day). */
static int64_t first_day_before(int64_t end_us, int days)
{
	const int64_t day_us = 86400 * CALENDAR_US_PER_S;
	int64_t day = end_us - ((end_us % day_us) + day_us) % day_us;
	while (!is_weekday(day) || session_open_us(day) + 60 * CALENDAR_US_PER_S > end_us)
		day -= day_us;
	for (int left = days - 1; left > 0;) {
		day -= day_us;
		if (is_weekday(day))
			left--;
	}
	return day;
}

int sim_run_batch(const struct sim_options *opt, struct sim_truth *truth, struct err *err)
{
	struct sim s;
	int rc = sim_init(&s, opt, truth, 0, err);
	if (rc != SIM_OK)
		goto out;
	if (opt->days < 1) {
		rc = err_set(err, EINVAL, "days must be at least 1");
		goto out;
	}
	truth->days = opt->days;
	rc = open_outputs(&s, 1);
	if (rc != SIM_OK)
		goto out;
	s.id_base = 1;
	s.next_trade = s.next_signal = s.next_order = 1;

	int64_t day = opt->start_us ? opt->start_us : DEFAULT_START_US;
	if (opt->end_us)
		day = first_day_before(opt->end_us, opt->days);
	day -= ((day % (86400 * CALENDAR_US_PER_S)) + 86400 * CALENDAR_US_PER_S) %
	       (86400 * CALENDAR_US_PER_S);
	for (int d = 0; d < opt->days; day += 86400 * CALENDAR_US_PER_S) {
		if (!is_weekday(day))
			continue;
		int64_t open_us = session_open_us(day);
		for (int m = 0; m < STEPS_PER_DAY; m++) {
			/* Only whole minutes before the end: a minute's rows are
			 * stamped anywhere in it. */
			if (opt->end_us &&
			    open_us + (int64_t)(m + 1) * 60 * CALENDAR_US_PER_S > opt->end_us)
				break;
			s.step++;
			s.minute = m;
			s.minute_start = open_us + (int64_t)m * 60 * CALENDAR_US_PER_S;
			rc = step(&s);
			if (rc != SIM_OK)
				goto out;
		}
		d++;
	}
	rc = finish_auc(&s);
out:
	sim_release(&s);
	return rc == SIM_OK ? 0 : -1;
}

/* Latest timestamp among the last lines of the existing files, so a live
 * run appended to history can continue after it instead of going back. */
static int64_t latest_existing_ts(struct sim *s)
{
	int64_t latest = CALENDAR_NONE;
	char *buf = malloc(65536 + 1);
	if (!buf)
		return latest;
	for (int i = 0; i < SRC_COUNT; i++) {
		int fd = open(s->out[i].path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		off_t size = lseek(fd, 0, SEEK_END);
		off_t from = size > 65536 ? size - 65536 : 0;
		ssize_t n = size > 0 ? pread(fd, buf, (size_t)(size - from), from) : 0;
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		for (char *line = buf, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
			*nl = '\0';
			json_t *row = json_loads(line, 0, NULL);
			json_t *ts = json_object_get(row, "ts");
			if (!ts)
				ts = json_object_get(row, "timestamp");
			int64_t us;
			if (json_is_string(ts) &&
			    calendar_parse_iso(json_string_value(ts), &us) == 0 && us > latest)
				latest = us;
			json_decref(row);
		}
	}
	free(buf);
	return latest;
}

int sim_run_live(const struct sim_options *opt, struct sim_truth *truth, struct err *err)
{
	struct sim s;
	int rc = sim_init(&s, opt, truth, 1, err);
	if (rc != SIM_OK)
		goto out;
	if (!(opt->rate > 0)) {
		rc = err_set(err, EINVAL, "rate must be positive");
		goto out;
	}
	if (opt->rotate_every_s < 0) {
		rc = err_set(err, EINVAL, "rotation interval must not be negative");
		goto out;
	}
	rc = open_outputs(&s, 0);
	if (rc != SIM_OK)
		goto out;
	int64_t now = calendar_now();
	if (opt->append) {
		int64_t latest = latest_existing_ts(&s);
		if (latest != CALENDAR_NONE && latest >= now)
			s.clock_shift = latest - now + CALENDAR_US_PER_S;
	}
	/* Ids continue from a number taken from the clock, so that a live run
	 * appended to earlier history (or to an earlier live run) never reuses a
	 * trade, signal or order id. */
	s.id_base = (long long)((now + s.clock_shift) / CALENDAR_US_PER_S) * 1000;
	s.next_trade = s.next_signal = s.next_order = s.id_base;
	s.last_ts = now + s.clock_shift;
	s.next_slot = monotonic_s();
	s.next_rotation = s.next_slot + opt->rotate_every_s;
	for (;;) {
		s.step++;
		s.minute = (int)((s.step - 1) % STEPS_PER_DAY);
		if (stop_requested(&s))
			break;
		rc = step(&s);
		if (rc == SIM_STOP) {
			rc = SIM_OK;
			break;
		}
		if (rc != SIM_OK)
			goto out;
	}
	rc = finish_auc(&s);
out:
	sim_release(&s);
	return rc == SIM_OK ? 0 : -1;
}

/* The crypto profile's planted model per segment: "segment_by",
 * "segments": {name: {"components": {name: weight}, "intercept",
 * "oracle_auc", "trades", "wins", "pnl_usd"}}, "contexts",
 * "decoy_contexts". 1, or 0 on ENOMEM. */
static int segments_into(json_t *root, const struct sim_truth *t)
{
	json_t *segs = json_object();
	int ok = segs != NULL;
	for (size_t k = 0; ok && k < t->n_segments && k < SIM_MAX_SEGMENTS; k++) {
		json_t *seg = json_object(), *w = json_object();
		ok = seg && w;
		for (size_t i = 0; ok && i < t->n_components && i < 16; i++)
			set_real(w, t->component_names[i], t->segment_weights[k][i]);
		if (!ok || json_object_set_new(seg, "components", w)) {
			json_decref(seg);
			break;
		}
		set_real(seg, "intercept", t->segment_intercept[k]);
		set_real(seg, "oracle_auc", t->segment_oracle_auc[k]);
		set_int(seg, "trades", t->segment_trades[k]);
		set_int(seg, "wins", t->segment_wins[k]);
		set_real(seg, "pnl_usd", t->segment_pnl_usd[k]);
		ok = json_object_set_new(segs, t->segment_names[k], seg) == 0;
	}
	set_str(root, "segment_by", "timeframe");
	set_int(root, "contexts", t->contexts);
	set_int(root, "decoy_contexts", t->decoy_contexts);
	return json_object_set_new(root, "segments", segs) == 0 && ok;
}

/* The truth as a JSON object (see sim_write_truth), a new reference; NULL
 * on ENOMEM. */
static json_t *truth_json(const struct sim_truth *t)
{
	json_t *root = json_object(), *comps = json_object(), *means = json_object(),
	       *sds = json_object(), *bot = json_object(), *by_source = json_object();

	if (!root || !comps || !means || !sds || !bot || !by_source) {
		json_decref(root);
		json_decref(comps);
		json_decref(means);
		json_decref(sds);
		json_decref(bot);
		json_decref(by_source);
		return NULL;
	}
	set_str(root, "profile", t->profile);
	if (t->seed <= (uint64_t)INT64_MAX) {
		set_int(root, "seed", (long long)t->seed);
	} else {
		char buf[32];
		snprintf(buf, sizeof buf, "%llu", (unsigned long long)t->seed);
		set_str(root, "seed", buf);
	}
	set_str(root, "mode", t->live ? "live" : "batch");
	set_int(root, "days", t->days);
	for (size_t i = 0; i < t->n_components && i < 16; i++) {
		set_real(comps, t->component_names[i], t->weights[i]);
		set_real(means, t->component_names[i], t->component_mean[i]);
		set_real(sds, t->component_names[i], t->component_sd[i]);
		set_real(bot, t->component_names[i], t->bot_weights[i]);
	}
	json_object_set_new(root, "components", comps);
	json_object_set_new(root, "component_mean", means);
	json_object_set_new(root, "component_sd", sds);
	json_object_set_new(root, "bot_weights", bot);
	set_real(root, "intercept", t->intercept);
	set_real(root, "oracle_auc", t->oracle_auc);
	set_real(root, "oracle_auc_second_half", t->oracle_auc_second_half);
	set_int(root, "opens", t->opens);
	set_int(root, "closes", t->closes);
	set_int(root, "partial_closes", t->partial_closes);
	set_int(root, "wins", t->wins);
	set_real(root, "closes_pnl_usd", t->closes_pnl_usd);
	set_real(root, "partials_pnl_usd", t->partials_pnl_usd);
	set_int(root, "signals", t->signals);
	set_int(root, "untraded_signals", t->untraded_signals);
	set_int(root, "orders", t->orders);
	set_int(root, "exits", t->exits);
	set_int(root, "malformed_lines", t->malformed_lines);
	set_int(root, "lines_written", t->lines_written);
	for (int i = 0; i < SRC_COUNT; i++)
		set_int(by_source, source_names[i], t->lines_by_source[i]);
	if (t->n_segments)
		set_int(by_source, "context", t->contexts);
	json_object_set_new(root, "lines_by_source", by_source);
	if (t->n_segments && !segments_into(root, t)) {
		json_decref(root);
		return NULL;
	}
	return root;
}

int sim_write_truth(const struct sim_truth *t, const char *path, struct err *err)
{
	json_t *root = truth_json(t);
	char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) : NULL;
	size_t len = text ? strlen(text) : 0;
	char *line = text ? realloc(text, len + 2) : NULL;
	int rc;

	json_decref(root);
	if (!line) {
		free(text);
		return err_set(err, ENOMEM, "out of memory");
	}
	/* One newline after the object, written with it in one replace. */
	line[len] = '\n';
	line[len + 1] = '\0';
	rc = durable_replace(path, line, len + 1, err);
	free(line);
	return rc;
}

const char *sim_source_file(enum sim_profile profile, const char *source)
{
	if (profile == SIM_CRYPTO)
		return !source				? NULL
		       : !strcmp(source, "attribution") ? "trades.jsonl"
		       : !strcmp(source, "context")	? "context.jsonl"
							: NULL;
	const struct profile_def *prof =
	    profile == SIM_STOCK_BOT ? &stock_bot_profile : &canonical_profile;
	if (!source)
		return NULL;
	for (int i = 0; i < SRC_COUNT; i++)
		if (strcmp(source, source_names[i]) == 0)
			return prof->files[i];
	return NULL;
}
