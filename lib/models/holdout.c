#include "lib/models/holdout.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/jsontext.h"

#include "lib/analyze/metrics.h"
#include "lib/learn/learner.h"

#define ECE_BUCKETS 10

/* The trading result of the outcomes i with keep[i] (NULL: all). */
static int trades_of(const struct holdout_set *h, const unsigned char *keep,
		     struct holdout_trades *out)
{
	struct metrics_trade *t = malloc((h->n ? h->n : 1) * sizeof *t);
	double *returns = calloc(h->n_days ? h->n_days : 1, sizeof *returns);
	size_t n = 0;
	if (!t || !returns) {
		free(t);
		free(returns);
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < h->n; i++) {
		if (keep && !keep[i])
			continue;
		if (isfinite(h->pnl_usd[i]))
			returns[h->day[i]] += h->pnl_usd[i];
		if (h->full[i])
			t[n++] = (struct metrics_trade){h->pnl_usd[i], h->pnl_frac[i], NAN};
	}
	for (size_t d = 0; d < h->n_days; d++)
		returns[d] /= h->capital[d];
	struct metrics_trades m;
	struct metrics_returns r;
	metrics_trades(t, n, &m);
	metrics_returns(returns, h->n_days, &r);
	*out = (struct holdout_trades){m.count, m.win_rate, m.profit_factor, m.pnl_usd, r.sharpe};
	free(t);
	free(returns);
	return 0;
}

int holdout_figures(const struct holdout_set *h, const double *p, double threshold,
		    struct holdout_figures *out)
{
	double pred[ECE_BUCKETS] = {0};
	long count[ECE_BUCKETS] = {0}, wins_in[ECE_BUCKETS] = {0}, right = 0;
	unsigned char *taken = malloc(h->n ? h->n : 1);

	memset(out, 0, sizeof *out);
	if (!taken) {
		errno = ENOMEM;
		return -1;
	}
	out->outcomes = (long)h->n;
	out->threshold = threshold;
	for (size_t i = 0; i < h->n; i++) {
		int b = (int)(p[i] * ECE_BUCKETS);
		b = b < 0 ? 0 : b >= ECE_BUCKETS ? ECE_BUCKETS - 1 : b;
		count[b]++;
		pred[b] += p[i];
		wins_in[b] += h->label[i] != 0;
		out->wins += h->label[i] != 0;
		right += (p[i] >= 0.5) == (h->label[i] != 0);
		taken[i] = p[i] >= threshold;
	}
	out->log_loss = learner_log_loss(p, h->label, h->n);
	out->brier = learner_brier(p, h->label, h->n);
	out->auc = learner_auc(p, h->label, h->n);
	out->accuracy = h->n ? (double)right / (double)h->n : NAN;
	out->ece = h->n ? 0 : NAN;
	for (int b = 0; b < ECE_BUCKETS; b++)
		if (count[b])
			out->ece += (double)count[b] / (double)h->n *
				    fabs(pred[b] / (double)count[b] -
					 (double)wins_in[b] / (double)count[b]);
	int rc = trades_of(h, taken, &out->taken) || trades_of(h, NULL, &out->all) ? -1 : 0;
	free(taken);
	return rc;
}

static json_t *trades_json(const struct holdout_trades *t)
{
	return json_pack("{s:I,s:o,s:o,s:o,s:o}", "count", (json_int_t)t->count, "win_rate",
			 jsontext_real_or_null(t->win_rate), "profit_factor",
			 jsontext_real_or_null(t->profit_factor), "pnl_usd",
			 jsontext_real_or_null(t->pnl_usd), "sharpe",
			 jsontext_real_or_null(t->sharpe));
}

json_t *holdout_figures_json(const struct holdout_figures *f)
{
	return json_pack("{s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:f,s:o,s:o}", "outcomes",
			 (json_int_t)f->outcomes, "wins", (json_int_t)f->wins, "log_loss",
			 jsontext_real_or_null(f->log_loss), "auc", jsontext_real_or_null(f->auc),
			 "brier", jsontext_real_or_null(f->brier), "ece",
			 jsontext_real_or_null(f->ece), "accuracy",
			 jsontext_real_or_null(f->accuracy), "threshold", f->threshold, "taken",
			 trades_json(&f->taken), "all", trades_json(&f->all));
}

static double number(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static void trades_from_json(json_t *j, struct holdout_trades *t)
{
	double count = number(j, "count");
	t->count = isfinite(count) ? (long)count : 0;
	t->win_rate = number(j, "win_rate");
	t->profit_factor = number(j, "profit_factor");
	t->pnl_usd = number(j, "pnl_usd");
	t->sharpe = number(j, "sharpe");
}

int holdout_figures_from_json(json_t *j, struct holdout_figures *f)
{
	memset(f, 0, sizeof *f);
	if (!json_is_object(j))
		return -1;
	double outcomes = number(j, "outcomes"), wins = number(j, "wins");
	f->outcomes = isfinite(outcomes) ? (long)outcomes : 0;
	f->wins = isfinite(wins) ? (long)wins : 0;
	f->log_loss = number(j, "log_loss");
	f->auc = number(j, "auc");
	f->brier = number(j, "brier");
	f->ece = number(j, "ece");
	f->accuracy = number(j, "accuracy");
	f->threshold = number(j, "threshold");
	trades_from_json(json_object_get(j, "taken"), &f->taken);
	trades_from_json(json_object_get(j, "all"), &f->all);
	return 0;
}

enum metric_kind { REAL, COUNT };

static const struct {
	const char *name;
	size_t offset;
	enum metric_kind kind;
	int higher_is_better;
} metrics[] = {
    {"log_loss", offsetof(struct holdout_figures, log_loss), REAL, 0},
    {"auc", offsetof(struct holdout_figures, auc), REAL, 1},
    {"brier", offsetof(struct holdout_figures, brier), REAL, 0},
    {"ece", offsetof(struct holdout_figures, ece), REAL, 0},
    {"accuracy", offsetof(struct holdout_figures, accuracy), REAL, 1},
    {"taken_count", offsetof(struct holdout_figures, taken.count), COUNT, 1},
    {"taken_win_rate", offsetof(struct holdout_figures, taken.win_rate), REAL, 1},
    {"taken_profit_factor", offsetof(struct holdout_figures, taken.profit_factor), REAL, 1},
    {"taken_pnl_usd", offsetof(struct holdout_figures, taken.pnl_usd), REAL, 1},
    {"taken_sharpe", offsetof(struct holdout_figures, taken.sharpe), REAL, 1},
};
#define N_METRICS (sizeof metrics / sizeof metrics[0])

static int metric_index(const char *name)
{
	for (size_t i = 0; name && i < N_METRICS; i++)
		if (strcmp(metrics[i].name, name) == 0)
			return (int)i;
	return -1;
}

int holdout_metric_known(const char *name)
{
	return metric_index(name) >= 0;
}

double holdout_metric(const struct holdout_figures *f, const char *name)
{
	int i = metric_index(name);
	if (i < 0)
		return NAN;
	const char *slot = (const char *)f + metrics[i].offset;
	return metrics[i].kind == COUNT ? (double)*(const long *)slot : *(const double *)slot;
}

int holdout_metric_higher_is_better(const char *name)
{
	int i = metric_index(name);
	return i >= 0 && metrics[i].higher_is_better;
}

const char *holdout_metric_names(void)
{
	return "log_loss, auc, brier, ece, accuracy, taken_count, taken_win_rate, "
	       "taken_profit_factor, taken_pnl_usd, taken_sharpe";
}
