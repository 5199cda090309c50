#include "lib/learn/batch.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/calendar.h"
#include "lib/base/hash.h"

#define SD_FLOOR 1e-6	      /* the learner's: a feature below it is not usable */
#define NUMERIC_ABS_MAX 1e100 /* the learner's: beyond it a number is not in the statistics */
#define US_PER_DAY 86400e6
#define WOLFE_DECREASE 1e-4 /* sufficient decrease (Armijo) */
#define WOLFE_CURVATURE 0.9 /* weak Wolfe curvature */
#define LINE_SEARCH_MAX 40  /* evaluations along one direction */
#define FIRST_ROOM 1024	    /* examples (and numbers) the arrays first hold */

_Static_assert(LEARNER_MAX_NUMERIC <= 65535, "numeric feature indices are uint16_t");

/* Strings remembered in the order first seen, looked up by FNV-1a in an
 * open-addressing index. At most max entries; the last one added can be
 * taken back (nothing added after it can have probed past its slot). */
struct intern {
	char **text;
	uint64_t *hash;
	int n, max;
	int32_t *slot; /* −1 empty */
	uint32_t mask;
};

struct batch {
	/* Examples: i's numbers are entries start[i] .. start[i+1]−1. */
	size_t n, room;
	unsigned char *label;
	double *weight;
	size_t *start; /* room + 1 */
	/* i's categorical texts are value[vstart[i] .. vstart[i+1]−1], indices
	 * into texts ("field=value"); a text beyond the table is not kept. */
	size_t *vstart; /* room + 1 */
	int32_t *value;
	size_t values, value_room;
	size_t entries, entry_room;
	uint16_t *feature;
	double *x; /* the number as added; z once encoded */

	struct intern names, texts;
	struct intern fields; /* categorical fields past model_fields: a candidate's categories */
	long numeric_ignored, values_ignored;
	char *text_buf; /* "field=value" being looked up */
	size_t text_room;

	int encoded;	   /* the first fit fixed the encoding */
	double *mean, *sd; /* per name; sd NAN: not usable */
	int usable;
};

/* ---- storage ------------------------------------------------------------------------ */

/* *p resized to count elements of size bytes; *p unchanged on failure. */
static int resize(void *p, size_t count, size_t size)
{
	void **ptr = p;
	if (count && size > SIZE_MAX / count)
		return -1;
	void *q = realloc(*ptr, count * size);
	if (!q)
		return -1;
	*ptr = q;
	return 0;
}

/* Room for need examples, need_entries numbers and need_values texts. */
static int reserve(struct batch *b, size_t need, size_t need_entries, size_t need_values)
{
	if (need > b->room) {
		size_t room = b->room * 2 > need ? b->room * 2 : need;
		room = room < FIRST_ROOM ? FIRST_ROOM : room;
		if (resize(&b->label, room, sizeof *b->label) ||
		    resize(&b->weight, room, sizeof *b->weight) ||
		    resize(&b->start, room + 1, sizeof *b->start) ||
		    resize(&b->vstart, room + 1, sizeof *b->vstart))
			return -1;
		b->room = room;
	}
	if (need_values > b->value_room) {
		size_t room = b->value_room * 2 > need_values ? b->value_room * 2 : need_values;
		room = room < FIRST_ROOM ? FIRST_ROOM : room;
		if (resize(&b->value, room, sizeof *b->value))
			return -1;
		b->value_room = room;
	}
	if (need_entries > b->entry_room) {
		size_t room = b->entry_room * 2 > need_entries ? b->entry_room * 2 : need_entries;
		room = room < FIRST_ROOM ? FIRST_ROOM : room;
		if (resize(&b->feature, room, sizeof *b->feature) ||
		    resize(&b->x, room, sizeof *b->x))
			return -1;
		b->entry_room = room;
	}
	return 0;
}

static int intern_init(struct intern *t, int max)
{
	uint32_t slots = 1;
	while (slots < 2u * (uint32_t)max)
		slots <<= 1;
	t->n = 0;
	t->max = max;
	t->mask = slots - 1;
	t->text = calloc((size_t)max, sizeof *t->text);
	t->hash = calloc((size_t)max, sizeof *t->hash);
	t->slot = malloc(slots * sizeof *t->slot);
	if (!t->text || !t->hash || !t->slot)
		return -1;
	memset(t->slot, 0xff, slots * sizeof *t->slot);
	return 0;
}

static void intern_release(struct intern *t)
{
	if (t->text)
		for (int i = 0; i < t->n; i++)
			free(t->text[i]);
	free(t->text);
	free(t->hash);
	free(t->slot);
}

static uint64_t text_hash(const char *s)
{
	return hash_fnv1a64_str(HASH_FNV1A64_INIT, s);
}

/* The index of s, or −1; *at is the slot where it is or would go. */
static int intern_find(const struct intern *t, uint64_t h, const char *s, uint32_t *at)
{
	uint32_t slot = (uint32_t)h & t->mask;
	for (;; slot = (slot + 1) & t->mask) {
		int idx = t->slot[slot];
		if (idx < 0 || (t->hash[idx] == h && strcmp(t->text[idx], s) == 0)) {
			*at = slot;
			return idx;
		}
	}
}

/* The index of s, added when new; −1 when the table is full (*full set) or
 * on ENOMEM (*full clear). */
static int intern(struct intern *t, const char *s, int *full)
{
	uint64_t h = text_hash(s);
	uint32_t slot;
	int idx = intern_find(t, h, s, &slot);
	*full = 0;
	if (idx >= 0)
		return idx;
	if (t->n >= t->max) {
		*full = 1;
		return -1;
	}
	char *copy = strdup(s);
	if (!copy)
		return -1;
	idx = t->n++;
	t->text[idx] = copy;
	t->hash[idx] = h;
	t->slot[slot] = idx;
	return idx;
}

/* Takes back the entries added after the first n. */
static void intern_truncate(struct intern *t, int n)
{
	while (t->n > n) {
		int idx = --t->n;
		uint32_t slot;
		intern_find(t, t->hash[idx], t->text[idx], &slot);
		t->slot[slot] = -1;
		free(t->text[idx]);
		t->text[idx] = NULL;
	}
}

#define KEY(f, d, lo, hi) OPTION_NUMBER(struct batch_options, f, d, lo, hi)
static const struct option_key batch_keys[] = {
    KEY(l2, 1e-4, 0, 10),
    KEY(tolerance, 1e-8, 1e-300, 1),
    KEY(max_iterations, 1000, 1, 1000000),
};
#undef KEY

const struct option_table batch_option_table = OPTION_TABLE(batch_keys, NULL);

void batch_options_init(struct batch_options *o)
{
	memset(o, 0, sizeof *o);
	option_defaults(&batch_option_table, o);
}

void batch_free(struct batch *b)
{
	if (!b)
		return;
	free(b->label);
	free(b->weight);
	free(b->start);
	free(b->value);
	free(b->vstart);
	free(b->feature);
	free(b->x);
	intern_release(&b->names);
	intern_release(&b->texts);
	intern_release(&b->fields);
	free(b->text_buf);
	free(b->mean);
	free(b->sd);
	free(b);
}

struct batch *batch_new(struct err *err)
{
	struct batch *b = calloc(1, sizeof *b);
	if (!b || intern_init(&b->names, LEARNER_MAX_NUMERIC) ||
	    intern_init(&b->texts, LEARNER_MAX_VALUES) ||
	    intern_init(&b->fields, BATCH_MAX_CATEGORY_FIELDS) || reserve(b, 1, 1, 1)) {
		batch_free(b);
		err_set(err, ENOMEM, "batch: out of memory");
		return NULL;
	}
	b->start[0] = 0;
	b->vstart[0] = 0;
	return b;
}

size_t batch_count(const struct batch *b)
{
	return b->n;
}

/* ---- adding ------------------------------------------------------------------------- */

/* What one example brings, before it is committed. */
struct pending {
	size_t entries, values;
	long numeric_ignored, values_ignored;
};

static int add_number(struct batch *b, const char *name, double x, struct pending *p)
{
	if (!isfinite(x))
		return 0;
	int full;
	int idx = intern(&b->names, name, &full);
	if (idx < 0) {
		if (!full)
			return -1;
		p->numeric_ignored++;
		return 0;
	}
	b->feature[p->entries] = (uint16_t)idx;
	b->x[p->entries] = x;
	p->entries++;
	return 0;
}

static int add_value(struct batch *b, const char *name, const char *value, struct pending *p)
{
	size_t len = strlen(name) + 1 + strlen(value) + 1;
	if (len > b->text_room) {
		if (resize(&b->text_buf, len, 1))
			return -1;
		b->text_room = len;
	}
	snprintf(b->text_buf, len, "%s=%s", name, value);
	int full;
	int idx = intern(&b->texts, b->text_buf, &full);
	if (idx < 0 && !full)
		return -1;
	if (idx < 0)
		p->values_ignored++;
	else
		b->value[p->values++] = idx;
	return 0;
}

/* The candidate's categories, as the learner reads them (learner.c,
 * gather): the first LEARNER_MAX_CATEGORIES members, a text or "none". A
 * field beyond BATCH_MAX_CATEGORY_FIELDS is ignored, its value counted. */
static int add_categories(struct batch *b, const struct learner_candidate *c, struct pending *p)
{
	const char *name;
	json_t *v;
	int n = 0, full;
	if (!json_is_object(c->categories))
		return 0;
	json_object_foreach(c->categories, name, v)
	{
		if (n++ == LEARNER_MAX_CATEGORIES)
			break;
		if (intern(&b->fields, name, &full) < 0) {
			if (!full)
				return -1;
			p->values_ignored++;
			continue;
		}
		const char *text = json_string_value(v);
		if (add_value(b, name, text && *text ? text : "none", p))
			return -1;
	}
	return 0;
}

/* The learner's numeric names (learner.c, gather): the record's confidence
 * and score, then the components, one of which named like a record field
 * that is there is left out. */
static int add_numbers(struct batch *b, const struct learner_candidate *c, struct pending *p)
{
	int has_confidence = isfinite(c->confidence), has_score = isfinite(c->score);
	if (add_number(b, "confidence", c->confidence, p) || add_number(b, "score", c->score, p))
		return -1;
	if (!json_is_object(c->components))
		return 0;
	const char *name;
	json_t *v;
	json_object_foreach(c->components, name, v)
	{
		if (!json_is_number(v) || (has_confidence && strcmp(name, "confidence") == 0) ||
		    (has_score && strcmp(name, "score") == 0))
			continue;
		if (add_number(b, name, json_number_value(v), p))
			return -1;
	}
	return 0;
}

int batch_add(struct batch *b, const struct learner_candidate *c, int label, double weight,
	      struct err *err)
{
	if (b->encoded)
		return err_set(err, EINVAL, "batch: already fitted, its encoding is fixed");
	if (label != 0 && label != 1)
		return err_set(err, EINVAL, "label: %d, not 0 or 1", label);
	if (!(isfinite(weight) && weight > 0))
		return err_set(err, EINVAL, "weight: %g, not a positive finite number", weight);
	size_t most = 2 + (json_is_object(c->components) ? json_object_size(c->components) : 0);
	if (b->n == SIZE_MAX - 1 || reserve(b, b->n + 1, b->entries + most,
					    b->values + MODEL_FIELD_COUNT + LEARNER_MAX_CATEGORIES))
		return err_set(err, ENOMEM, "batch: out of memory");
	int names_before = b->names.n, texts_before = b->texts.n, fields_before = b->fields.n;
	struct pending p = {.entries = b->entries, .values = b->values};
	if (add_numbers(b, c, &p))
		goto nomem;
	for (int field = 0; field < MODEL_FIELD_COUNT; field++)
		if (add_value(b, model_fields[field], model_candidate_value(c, field), &p))
			goto nomem;
	if (add_categories(b, c, &p))
		goto nomem;
	b->label[b->n] = (unsigned char)label;
	b->weight[b->n] = weight;
	b->entries = p.entries;
	b->values = p.values;
	b->vstart[b->n + 1] = p.values;
	b->start[++b->n] = p.entries;
	b->numeric_ignored += p.numeric_ignored;
	b->values_ignored += p.values_ignored;
	return 0;
nomem:
	intern_truncate(&b->names, names_before);
	intern_truncate(&b->texts, texts_before);
	intern_truncate(&b->fields, fields_before);
	return err_set(err, ENOMEM, "batch: out of memory");
}

/* ---- encoding ----------------------------------------------------------------------- */

/* Means and sample sds by name (two passes, in entry order), then z in
 * place of every x. */
static int encode(struct batch *b)
{
	int d = b->names.n;
	long *count = calloc((size_t)d + 1, sizeof *count);
	double *sum = calloc((size_t)d + 1, sizeof *sum);
	b->mean = calloc((size_t)d + 1, sizeof *b->mean);
	b->sd = calloc((size_t)d + 1, sizeof *b->sd);
	if (!count || !sum || !b->mean || !b->sd) {
		free(count);
		free(sum);
		free(b->mean);
		free(b->sd);
		b->mean = b->sd = NULL;
		return -1;
	}
	for (size_t e = 0; e < b->entries; e++)
		if (fabs(b->x[e]) <= NUMERIC_ABS_MAX) {
			count[b->feature[e]]++;
			sum[b->feature[e]] += b->x[e];
		}
	for (int j = 0; j < d; j++) {
		b->mean[j] = count[j] ? sum[j] / (double)count[j] : 0.0;
		sum[j] = 0.0;
	}
	for (size_t e = 0; e < b->entries; e++)
		if (fabs(b->x[e]) <= NUMERIC_ABS_MAX) {
			double dev = b->x[e] - b->mean[b->feature[e]];
			sum[b->feature[e]] += dev * dev;
		}
	b->usable = 0;
	for (int j = 0; j < d; j++) {
		double sd = count[j] >= 2 ? sqrt(sum[j] / (double)(count[j] - 1)) : 0.0;
		b->sd[j] = sd >= SD_FLOOR ? sd : NAN;
		b->usable += !isnan(b->sd[j]);
	}
	for (size_t e = 0; e < b->entries; e++) {
		int j = b->feature[e];
		if (isnan(b->sd[j])) {
			b->x[e] = 0.0;
			continue;
		}
		double z = (b->x[e] - b->mean[j]) / b->sd[j];
		b->x[e] = z < -LEARNER_Z_CLIP  ? -LEARNER_Z_CLIP
			  : z > LEARNER_Z_CLIP ? LEARNER_Z_CLIP
					       : z;
	}
	free(count);
	free(sum);
	b->encoded = 1;
	return 0;
}

/* ---- the objective ------------------------------------------------------------------ */

/* Parameters: theta[0] the bias, theta[1 + j] name j's weight, theta[1 + d + v]
 * text v's weight. */
struct problem {
	const struct batch *b;
	size_t dim;
	size_t first_value; /* 1 + d */
	double l2, weight_sum;
	double *t, *u; /* per example: the margin at theta, its change along d */
	long evaluations;
};

static double softplus(double a)
{
	return a > 0 ? a + log1p(exp(-a)) : log1p(exp(a));
}

static double sigmoid(double a)
{
	if (a >= 0)
		return 1.0 / (1.0 + exp(-a));
	double e = exp(a);
	return e / (1.0 + e);
}

/* v_0 + Σ v_j·z + Σ v_text of example i: its margin for theta, its change
 * for a direction. */
static double example_dot(const struct problem *pb, size_t i, const double *v)
{
	const struct batch *b = pb->b;
	double s = v[0];
	for (size_t e = b->start[i]; e < b->start[i + 1]; e++)
		s += v[1 + b->feature[e]] * b->x[e];
	for (size_t k = b->vstart[i]; k < b->vstart[i + 1]; k++)
		s += v[pb->first_value + (size_t)b->value[k]];
	return s;
}

/* The gradient of f at theta in grad and the margins in pb->t; with
 * log_loss, f itself and its log loss part in *log_loss (the steps need
 * only the gradient: the line search measures changes of f, which spares a
 * logarithm per example). ℓ(y, t) = softplus(t) for y = 0 and softplus(−t)
 * for y = 1, which is exact for large |t| either way, and p − y = σ(t) or
 * −σ(−t). */
static double evaluate(struct problem *pb, const double *theta, double *grad, double *log_loss)
{
	const struct batch *b = pb->b;
	double loss = 0;
	memset(grad, 0, pb->dim * sizeof *grad);
	for (size_t i = 0; i < b->n; i++) {
		double t = example_dot(pb, i, theta);
		double a = b->label[i] ? -t : t;
		double r = b->weight[i] * (b->label[i] ? -sigmoid(a) : sigmoid(a));
		pb->t[i] = t;
		if (log_loss)
			loss += b->weight[i] * softplus(a);
		grad[0] += r;
		for (size_t e = b->start[i]; e < b->start[i + 1]; e++)
			grad[1 + b->feature[e]] += r * b->x[e];
		for (size_t k = b->vstart[i]; k < b->vstart[i + 1]; k++)
			grad[pb->first_value + (size_t)b->value[k]] += r;
	}
	double penalty = 0;
	grad[0] /= pb->weight_sum;
	for (size_t k = 1; k < pb->dim; k++) {
		grad[k] = grad[k] / pb->weight_sum + pb->l2 * theta[k];
		penalty += theta[k] * theta[k];
	}
	if (!log_loss)
		return NAN;
	*log_loss = loss / pb->weight_sum;
	return *log_loss + 0.5 * pb->l2 * penalty;
}

/* softplus(a + c) − softplus(a), exact to rounding of the result: for a
 * small step through log1p(σ(a)·expm1(c)), which cannot cancel. */
static double softplus_change(double a, double c)
{
	if (fabs(c) <= 1.0)
		return log1p(sigmoid(a) * expm1(c));
	return softplus(a + c) - softplus(a);
}

/* Along theta + alpha·d: the change of f in *change and its derivative in
 * *slope. wd = Σ theta_k·d_k and dd = Σ d_k² over the penalized k. */
static void along(struct problem *pb, double alpha, double wd, double dd, double *change,
		  double *slope)
{
	const struct batch *b = pb->b;
	double loss = 0, dloss = 0;
	for (size_t i = 0; i < b->n; i++) {
		double c = alpha * pb->u[i];
		double a = pb->t[i] + c;
		double r = b->label[i] ? -sigmoid(-a) : sigmoid(a);
		loss += b->weight[i] * (b->label[i] ? softplus_change(-pb->t[i], -c)
						    : softplus_change(pb->t[i], c));
		dloss += b->weight[i] * r * pb->u[i];
	}
	pb->evaluations++;
	*change = loss / pb->weight_sum + pb->l2 * (alpha * wd + 0.5 * alpha * alpha * dd);
	*slope = dloss / pb->weight_sum + pb->l2 * (wd + alpha * dd);
}

/* A step alpha along d meeting the weak Wolfe conditions, from alpha0;
 * slope0 = ∇f·d < 0. f is convex along d, so the slope rises with alpha:
 * below an acceptable step it is too steep, beyond one the decrease fails
 * or the slope is positive; the search narrows [lo, hi] with the secant of
 * the slopes. 0 when no step decreases f (a fallback: the last step with
 * enough decrease, when there was one). */
static double line_search(struct problem *pb, double alpha0, double slope0, double wd, double dd)
{
	double lo = 0, hi = INFINITY, slope_lo = slope0, slope_hi = NAN;
	double alpha = alpha0;
	for (int k = 0; k < LINE_SEARCH_MAX; k++) {
		double change, slope;
		along(pb, alpha, wd, dd, &change, &slope);
		if (!(change <= WOLFE_DECREASE * alpha * slope0) || !isfinite(slope)) {
			hi = alpha;
			slope_hi = slope;
		} else if (slope < WOLFE_CURVATURE * slope0) {
			lo = alpha;
			slope_lo = slope;
		} else {
			return alpha;
		}
		if (isinf(hi)) {
			alpha = 2 * lo;
			continue;
		}
		double width = hi - lo;
		if (width <= 1e-15 * hi)
			break;
		double next = lo + 0.5 * width;
		if (isfinite(slope_hi) && slope_hi > slope_lo)
			next = lo - slope_lo * width / (slope_hi - slope_lo);
		double margin = 0.1 * width;
		alpha = next < lo + margin ? lo + margin : next > hi - margin ? hi - margin : next;
	}
	return lo;
}

static double dot(const double *a, const double *b, size_t n)
{
	double s = 0;
	for (size_t k = 0; k < n; k++)
		s += a[k] * b[k];
	return s;
}

static double norm_inf(const double *a, size_t n)
{
	double m = 0;
	for (size_t k = 0; k < n; k++)
		m = fabs(a[k]) > m ? fabs(a[k]) : m;
	return m;
}

/* The L-BFGS memory: the last pairs s = Δtheta, y = Δgradient. */
struct lbfgs {
	size_t dim;
	int count, newest; /* pairs held; slot of the newest */
	double *s, *y;	   /* BATCH_LBFGS_MEMORY × dim */
	double rho[BATCH_LBFGS_MEMORY], alpha[BATCH_LBFGS_MEMORY];
};

/* d = −H·g by the two-loop recursion, H0 = (sᵀy/yᵀy)·I of the newest pair. */
static void lbfgs_direction(struct lbfgs *m, const double *g, double *d)
{
	size_t n = m->dim;
	for (size_t k = 0; k < n; k++)
		d[k] = -g[k];
	for (int c = 0; c < m->count; c++) {
		int slot = (m->newest - c + BATCH_LBFGS_MEMORY) % BATCH_LBFGS_MEMORY;
		const double *s = m->s + (size_t)slot * n, *y = m->y + (size_t)slot * n;
		m->alpha[slot] = m->rho[slot] * dot(s, d, n);
		for (size_t k = 0; k < n; k++)
			d[k] -= m->alpha[slot] * y[k];
	}
	if (m->count) {
		const double *y = m->y + (size_t)m->newest * n;
		double gamma = 1.0 / (m->rho[m->newest] * dot(y, y, n));
		for (size_t k = 0; k < n; k++)
			d[k] *= gamma;
	}
	for (int c = m->count - 1; c >= 0; c--) {
		int slot = (m->newest - c + BATCH_LBFGS_MEMORY) % BATCH_LBFGS_MEMORY;
		const double *s = m->s + (size_t)slot * n, *y = m->y + (size_t)slot * n;
		double beta = m->rho[slot] * dot(y, d, n);
		for (size_t k = 0; k < n; k++)
			d[k] += (m->alpha[slot] - beta) * s[k];
	}
}

/* Keeps the pair (step, g_new − g_old) when its curvature is positive. */
static void lbfgs_remember(struct lbfgs *m, const double *step, const double *g_old,
			   const double *g_new)
{
	size_t n = m->dim;
	int slot = (m->newest + 1) % BATCH_LBFGS_MEMORY;
	double *s = m->s + (size_t)slot * n, *y = m->y + (size_t)slot * n;
	for (size_t k = 0; k < n; k++) {
		s[k] = step[k];
		y[k] = g_new[k] - g_old[k];
	}
	double sy = dot(s, y, n);
	if (!(sy > 0) || !(sy > 1e-16 * dot(y, y, n)))
		return;
	m->rho[slot] = 1.0 / sy;
	m->newest = slot;
	if (m->count < BATCH_LBFGS_MEMORY)
		m->count++;
}

/* Minimizes f from theta = 0; the solution in theta. −1 on ENOMEM. */
static int minimize(struct problem *pb, const struct batch_options *o, double *theta,
		    struct batch_report *r)
{
	size_t n = pb->dim;
	double *mem = calloc(n * (4 + 2 * BATCH_LBFGS_MEMORY), sizeof *mem);
	if (!mem)
		return -1;
	double *g = mem, *g_new = mem + n, *d = mem + 2 * n, *step = mem + 3 * n;
	struct lbfgs m = {.dim = n, .newest = BATCH_LBFGS_MEMORY - 1, .s = mem + 4 * n};
	m.y = m.s + BATCH_LBFGS_MEMORY * n;
	memset(theta, 0, n * sizeof *theta);
	evaluate(pb, theta, g, NULL);
	r->iterations = 0;
	for (;;) {
		r->gradient_norm = norm_inf(g, n);
		if (r->gradient_norm <= o->tolerance) {
			r->stop = BATCH_STOP_CONVERGED;
			break;
		}
		if (r->iterations >= o->max_iterations) {
			r->stop = BATCH_STOP_MAX_ITERATIONS;
			break;
		}
		lbfgs_direction(&m, g, d);
		double slope0 = dot(g, d, n);
		if (!(slope0 < 0)) { /* not a descent direction: forget the memory */
			m.count = 0;
			lbfgs_direction(&m, g, d);
			slope0 = dot(g, d, n);
		}
		for (size_t i = 0; i < pb->b->n; i++)
			pb->u[i] = example_dot(pb, i, d);
		double wd = dot(theta + 1, d + 1, n - 1), dd = dot(d + 1, d + 1, n - 1);
		double alpha0 = m.count ? 1.0 : 1.0 / sqrt(dot(d, d, n));
		double alpha = line_search(pb, alpha0, slope0, wd, dd);
		if (!(alpha > 0)) {
			r->stop = BATCH_STOP_NO_PROGRESS;
			break;
		}
		for (size_t k = 0; k < n; k++) {
			step[k] = alpha * d[k];
			theta[k] += step[k];
		}
		evaluate(pb, theta, g_new, NULL);
		lbfgs_remember(&m, step, g, g_new);
		memcpy(g, g_new, n * sizeof *g);
		r->iterations++;
	}
	r->objective = evaluate(pb, theta, g, &r->log_loss);
	r->converged = r->stop == BATCH_STOP_CONVERGED;
	free(mem);
	return 0;
}

/* ---- fitting ------------------------------------------------------------------------ */

static struct model *model_of(const struct batch *b, const double *theta, struct err *err)
{
	int d = b->names.n, v = b->texts.n;
	struct model_numeric *numeric = calloc((size_t)d + 1, sizeof *numeric);
	struct model_value *values = calloc((size_t)v + 1, sizeof *values);
	const char *fields[MODEL_FIELD_COUNT + BATCH_MAX_CATEGORY_FIELDS];
	size_t n_fields = 0;
	struct model *m = NULL;
	for (int f = 0; f < MODEL_FIELD_COUNT; f++)
		fields[n_fields++] = model_fields[f];
	for (int f = 0; f < b->fields.n; f++)
		fields[n_fields++] = b->fields.text[f];
	if (!numeric || !values) {
		err_set(err, ENOMEM, "batch: out of memory");
		goto done;
	}
	for (int j = 0; j < d; j++)
		numeric[j] = (struct model_numeric){
		    b->names.text[j], isnan(b->sd[j]) ? 0.0 : theta[1 + j], b->mean[j], b->sd[j]};
	for (int k = 0; k < v; k++)
		values[k] = (struct model_value){b->texts.text[k], theta[1 + d + k]};
	m = model_new(theta[0], LEARNER_Z_CLIP, fields, n_fields, numeric, (size_t)d, values,
		      (size_t)v, err);
done:
	free(numeric);
	free(values);
	return m;
}

struct model *batch_fit(struct batch *b, const struct batch_options *o, struct batch_report *report,
			struct err *err)
{
	struct batch_options defaults;
	struct batch_report local;
	struct problem pb = {.b = b};
	double *theta = NULL;
	struct model *m = NULL;
	if (!o) {
		batch_options_init(&defaults);
		o = &defaults;
	}
	if (!report)
		report = &local;
	memset(report, 0, sizeof *report);
	if (option_check(&batch_option_table, o, err))
		return NULL;
	if (b->n == 0) {
		err_set(err, EINVAL, "batch: no examples");
		return NULL;
	}
	size_t wins = 0;
	for (size_t i = 0; i < b->n; i++) {
		wins += b->label[i];
		pb.weight_sum += b->weight[i];
	}
	if (wins == 0 || wins == b->n) {
		err_set(err, EINVAL,
			"batch: all %zu examples are %s: a model needs both wins and losses", b->n,
			wins ? "wins" : "losses");
		return NULL;
	}
	if (!isfinite(pb.weight_sum)) {
		err_set(err, EINVAL, "batch: the weights add up beyond a double");
		return NULL;
	}
	if (!b->encoded && encode(b)) {
		err_set(err, ENOMEM, "batch: out of memory");
		return NULL;
	}
	pb.first_value = 1 + (size_t)b->names.n;
	pb.dim = pb.first_value + (size_t)b->texts.n;
	pb.l2 = o->l2;
	pb.t = malloc(b->n * sizeof *pb.t);
	pb.u = malloc(b->n * sizeof *pb.u);
	theta = calloc(pb.dim, sizeof *theta);
	if (!pb.t || !pb.u || !theta) {
		err_set(err, ENOMEM, "batch: out of memory");
		goto done;
	}
	report->examples = b->n;
	report->weight_sum = pb.weight_sum;
	report->numeric_features = b->names.n;
	report->numeric_usable = b->usable;
	report->numeric_ignored = b->numeric_ignored;
	report->values = b->texts.n;
	report->values_ignored = b->values_ignored;
	if (minimize(&pb, o, theta, report)) {
		err_set(err, ENOMEM, "batch: out of memory");
		goto done;
	}
	report->evaluations = pb.evaluations;
	m = model_of(b, theta, err);
done:
	free(pb.t);
	free(pb.u);
	free(theta);
	return m;
}

/* ---- sample weights ----------------------------------------------------------------- */

static double clamp(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

int batch_sample_weights(const struct learner_options *o, size_t n, const int64_t *exit_ts,
			 const double *pnl_frac, const int *label, double *weight, struct err *err)
{
	if (option_check(&learner_option_table, o, err))
		return -1;
	if (o->asymmetric && n && !label)
		return err_set(err, EINVAL, "label: needed when asymmetric");
	int64_t latest = CALENDAR_NONE;
	double abs_sum = 0;
	size_t abs_count = 0;
	for (size_t i = 0; i < n; i++) {
		if (exit_ts[i] != CALENDAR_NONE && (latest == CALENDAR_NONE || exit_ts[i] > latest))
			latest = exit_ts[i];
		if (isfinite(pnl_frac[i])) {
			abs_sum += fabs(pnl_frac[i]);
			abs_count++;
		}
	}
	double m = abs_count ? abs_sum / (double)abs_count : 1.0;
	if (m == 0)
		m = 1.0;
	for (size_t i = 0; i < n; i++) {
		double decay = 1.0, outcome = 1.0;
		if (exit_ts[i] != CALENDAR_NONE)
			decay = pow(0.5,
				    (double)(latest - exit_ts[i]) / US_PER_DAY / o->half_life_days);
		if (isfinite(pnl_frac[i]))
			outcome =
			    clamp(0.5 + 0.5 * fabs(pnl_frac[i]) / m, o->weight_min, o->weight_max);
		double imp = decay * outcome;
		if (o->asymmetric)
			imp *= label[i] ? o->win_boost : o->loss_boost;
		weight[i] = clamp(imp, 0.5 * o->weight_min, 1.5 * o->weight_max);
	}
	return 0;
}
