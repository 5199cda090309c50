#include "lib/learn/model.h"

#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_KIND "tradelearn-logistic"

/* The order of learner.c's fields; test_model checks that a learner's export
 * names the same ones and predicts the same from them. */
const char *const model_fields[MODEL_FIELD_COUNT] = {
    "regime", "time_of_day", "day_of_week", "side", "timeframe", "sector", "symbol"};

struct model {
	double bias, z_clip;
	int fields[MODEL_MAX_FIELDS];	    /* indices into model_fields; -1: a category */
	char *field_name[MODEL_MAX_FIELDS]; /* every field's name, owned */
	size_t n_fields;
	struct model_numeric *numeric; /* by name; names owned */
	size_t n_numeric;
	struct model_value *values; /* by text; texts owned */
	size_t n_values;
};

/* Where each field's value is in a candidate, in model_fields' order. */
static const size_t field_offset[MODEL_FIELD_COUNT] = {
    offsetof(struct learner_candidate, regime),
    offsetof(struct learner_candidate, time_of_day),
    offsetof(struct learner_candidate, day_of_week),
    offsetof(struct learner_candidate, side),
    offsetof(struct learner_candidate, timeframe),
    offsetof(struct learner_candidate, sector),
    offsetof(struct learner_candidate, symbol)};

const char *model_candidate_value(const struct learner_candidate *c, int field)
{
	const char *v = NULL;
	if (field >= 0 && field < MODEL_FIELD_COUNT)
		memcpy(&v, (const char *)c + field_offset[field], sizeof v);
	return v && *v ? v : "none";
}

static int field_index(const char *name, size_t len)
{
	for (int i = 0; i < MODEL_FIELD_COUNT; i++)
		if (strlen(model_fields[i]) == len && strncmp(model_fields[i], name, len) == 0)
			return i;
	return -1;
}

void model_free(struct model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_fields; i++)
		free(m->field_name[i]);
	for (size_t i = 0; i < m->n_numeric; i++)
		free((char *)m->numeric[i].name);
	for (size_t i = 0; i < m->n_values; i++)
		free((char *)m->values[i].text);
	free(m->numeric);
	free(m->values);
	free(m);
}

static int numeric_compare(const void *a, const void *b)
{
	return strcmp(((const struct model_numeric *)a)->name,
		      ((const struct model_numeric *)b)->name);
}

static int value_compare(const void *a, const void *b)
{
	return strcmp(((const struct model_value *)a)->text, ((const struct model_value *)b)->text);
}

static int check_numeric(const struct model_numeric *f, struct err *err)
{
	if (!isfinite(f->weight))
		return err_set(err, EINVAL, "numeric.%s.weight: not a finite number", f->name);
	if (!isfinite(f->mean))
		return err_set(err, EINVAL, "numeric.%s.mean: not a finite number", f->name);
	if (!isnan(f->sd) && !(isfinite(f->sd) && f->sd > 0))
		return err_set(err, EINVAL, "numeric.%s.sd: not a positive number or null",
			       f->name);
	return 0;
}

/* The text's field must be one of m's fields. */
static int check_value(const struct model *m, const struct model_value *v, struct err *err)
{
	const char *eq = strchr(v->text, '=');
	size_t len = eq ? (size_t)(eq - v->text) : 0;
	int listed = 0;
	for (size_t i = 0; eq && i < m->n_fields; i++)
		listed |=
		    strlen(m->field_name[i]) == len && strncmp(m->field_name[i], v->text, len) == 0;
	if (!listed)
		return err_set(err, EINVAL,
			       "categorical.weights.%s: not \"field=value\" with a field of "
			       "categorical.fields",
			       v->text);
	if (!isfinite(v->weight))
		return err_set(err, EINVAL, "categorical.weights.%s: not a finite number", v->text);
	return 0;
}

/* The learner's caps bound what a model holds. */
static int check_counts(size_t n_fields, size_t n_numeric, size_t n_values, struct err *err)
{
	if (n_fields > MODEL_MAX_FIELDS)
		return err_set(err, EINVAL, "categorical.fields: more than %d fields",
			       MODEL_MAX_FIELDS);
	if (n_numeric > LEARNER_MAX_NUMERIC)
		return err_set(err, EINVAL, "numeric: more than %d features", LEARNER_MAX_NUMERIC);
	if (n_values > LEARNER_MAX_VALUES)
		return err_set(err, EINVAL, "categorical.weights: more than %d values",
			       LEARNER_MAX_VALUES);
	return 0;
}

/* m->fields from the names; n_fields is at most MODEL_MAX_FIELDS. A name
 * that is not one of model_fields is a category, read from the candidate's
 * categories. */
static int set_fields(struct model *m, const char *const *fields, size_t n_fields, struct err *err)
{
	for (size_t i = 0; i < n_fields; i++) {
		if (!fields[i][0] || strchr(fields[i], '='))
			return err_set(err, EINVAL,
				       "categorical.fields[%zu]: \"%s\" is not a field name", i,
				       fields[i]);
		for (size_t k = 0; k < i; k++)
			if (strcmp(m->field_name[k], fields[i]) == 0)
				return err_set(err, EINVAL, "categorical.fields[%zu]: \"%s\" twice",
					       i, fields[i]);
		if (!(m->field_name[i] = strdup(fields[i])))
			return err_set(err, ENOMEM, "model: out of memory");
		m->fields[i] = field_index(fields[i], strlen(fields[i]));
		m->n_fields = i + 1;
	}
	return 0;
}

struct model *model_new(double bias, double z_clip, const char *const *fields, size_t n_fields,
			const struct model_numeric *numeric, size_t n_numeric,
			const struct model_value *values, size_t n_values, struct err *err)
{
	struct model *m = NULL;
	if (!isfinite(bias)) {
		err_set(err, EINVAL, "bias: not a finite number");
		goto fail;
	}
	if (!(isfinite(z_clip) && z_clip > 0)) {
		err_set(err, EINVAL, "z_clip: not a positive number");
		goto fail;
	}
	if (check_counts(n_fields, n_numeric, n_values, err))
		goto fail;
	m = calloc(1, sizeof *m);
	if (!m || !(m->numeric = calloc(n_numeric + 1, sizeof *m->numeric)) ||
	    !(m->values = calloc(n_values + 1, sizeof *m->values))) {
		err_set(err, ENOMEM, "model: out of memory");
		goto fail;
	}
	m->bias = bias;
	m->z_clip = z_clip;
	if (set_fields(m, fields, n_fields, err))
		goto fail;
	for (; m->n_numeric < n_numeric; m->n_numeric++) {
		const struct model_numeric *f = &numeric[m->n_numeric];
		if (check_numeric(f, err))
			goto fail;
		struct model_numeric *copy = &m->numeric[m->n_numeric];
		*copy = *f;
		if (!(copy->name = strdup(f->name))) {
			err_set(err, ENOMEM, "model: out of memory");
			goto fail;
		}
	}
	for (; m->n_values < n_values; m->n_values++) {
		const struct model_value *v = &values[m->n_values];
		if (check_value(m, v, err))
			goto fail;
		struct model_value *copy = &m->values[m->n_values];
		*copy = *v;
		if (!(copy->text = strdup(v->text))) {
			err_set(err, ENOMEM, "model: out of memory");
			goto fail;
		}
	}
	qsort(m->numeric, m->n_numeric, sizeof *m->numeric, numeric_compare);
	qsort(m->values, m->n_values, sizeof *m->values, value_compare);
	for (size_t i = 1; i < m->n_numeric; i++)
		if (strcmp(m->numeric[i - 1].name, m->numeric[i].name) == 0) {
			err_set(err, EINVAL, "numeric.%s: twice", m->numeric[i].name);
			goto fail;
		}
	for (size_t i = 1; i < m->n_values; i++)
		if (strcmp(m->values[i - 1].text, m->values[i].text) == 0) {
			err_set(err, EINVAL, "categorical.weights.%s: twice", m->values[i].text);
			goto fail;
		}
	return m;
fail:
	model_free(m);
	return NULL;
}

/* ---- reading ------------------------------------------------------------------------ */

/* The member key of j: present, and a number (or null when nullable, which
 * gives NAN). path names j for the message ("" at the top). */
static int read_number(json_t *j, const char *path, const char *key, int nullable, double *out,
		       struct err *err)
{
	json_t *v = json_object_get(j, key);
	const char *dot = *path ? "." : "";
	if (!v)
		return err_set(err, EINVAL, "%s%s%s: missing", path, dot, key);
	if (nullable && json_is_null(v)) {
		*out = NAN;
		return 0;
	}
	if (!json_is_number(v))
		return err_set(err, EINVAL, "%s%s%s: not a number%s", path, dot, key,
			       nullable ? " or null" : "");
	*out = json_number_value(v);
	return 0;
}

/* The member key of j, present and an object (else an array); borrowed. */
static json_t *read_member(json_t *j, const char *path, const char *key, int want_object,
			   struct err *err)
{
	json_t *v = json_object_get(j, key);
	const char *dot = *path ? "." : "";
	if (!v) {
		err_set(err, EINVAL, "%s%s%s: missing", path, dot, key);
		return NULL;
	}
	if (want_object ? !json_is_object(v) : !json_is_array(v)) {
		err_set(err, EINVAL, "%s%s%s: not an %s", path, dot, key,
			want_object ? "object" : "array");
		return NULL;
	}
	return v;
}

struct model *model_from_json(json_t *j, struct err *err)
{
	struct model *m = NULL;
	struct model_numeric *numeric = NULL;
	struct model_value *values = NULL;
	const char *fields[MODEL_MAX_FIELDS];
	double bias, z_clip;
	json_t *format = json_object_get(j, "format");
	if (!json_is_object(j)) {
		err_set(err, EINVAL, "model: not an object");
		goto done;
	}
	if (!format) {
		err_set(err, EINVAL, "format: missing");
		goto done;
	}
	if (!json_is_integer(format) || json_integer_value(format) != MODEL_FORMAT) {
		err_set(err, EINVAL, "format: not %d", MODEL_FORMAT);
		goto done;
	}
	json_t *num = NULL, *cat = NULL, *field_list = NULL, *weights = NULL;
	if (read_number(j, "", "bias", 0, &bias, err) ||
	    read_number(j, "", "z_clip", 0, &z_clip, err) ||
	    !(num = read_member(j, "", "numeric", 1, err)) ||
	    !(cat = read_member(j, "", "categorical", 1, err)) ||
	    !(field_list = read_member(cat, "categorical", "fields", 0, err)) ||
	    !(weights = read_member(cat, "categorical", "weights", 1, err)))
		goto done;
	size_t n_numeric = json_object_size(num), n_values = json_object_size(weights);
	size_t n_fields = json_array_size(field_list);
	/* The counts are bounded before anything is allocated for them. */
	if (check_counts(n_fields, n_numeric, n_values, err))
		goto done;
	for (size_t i = 0; i < n_fields; i++) {
		fields[i] = json_string_value(json_array_get(field_list, i));
		if (!fields[i]) {
			err_set(err, EINVAL, "categorical.fields[%zu]: not a string", i);
			goto done;
		}
	}
	numeric = calloc(n_numeric + 1, sizeof *numeric);
	values = calloc(n_values + 1, sizeof *values);
	if (!numeric || !values) {
		err_set(err, ENOMEM, "model: out of memory");
		goto done;
	}
	size_t k = 0;
	const char *name;
	json_t *item;
	json_object_foreach(num, name, item)
	{
		char path[ERR_MSG_MAX];
		snprintf(path, sizeof path, "numeric.%s", name);
		if (!json_is_object(item)) {
			err_set(err, EINVAL, "%s: not an object", path);
			goto done;
		}
		struct model_numeric *f = &numeric[k++];
		f->name = name;
		if (read_number(item, path, "weight", 0, &f->weight, err) ||
		    read_number(item, path, "mean", 0, &f->mean, err) ||
		    read_number(item, path, "sd", 1, &f->sd, err))
			goto done;
	}
	k = 0;
	json_object_foreach(weights, name, item)
	{
		if (!json_is_number(item)) {
			err_set(err, EINVAL, "categorical.weights.%s: not a number", name);
			goto done;
		}
		values[k++] = (struct model_value){name, json_number_value(item)};
	}
	m = model_new(bias, z_clip, fields, n_fields, numeric, n_numeric, values, n_values, err);
done:
	free(numeric);
	free(values);
	return m;
}

/* ---- writing ------------------------------------------------------------------------ */

/* Steals v; a NULL v (a failed constructor) or a failed set turns *ok to 0. */
static void put(json_t *o, const char *key, json_t *v, int *ok)
{
	if (!v || json_object_set_new(o, key, v))
		*ok = 0;
}

json_t *model_to_json(const struct model *m)
{
	int ok = 1;
	json_t *j = json_object(), *numeric = json_object(), *cat = json_object(),
	       *fields = json_array(), *weights = json_object();
	if (!j || !numeric || !cat || !fields || !weights) {
		json_decref(numeric);
		json_decref(cat);
		json_decref(fields);
		json_decref(weights);
		goto fail;
	}
	put(j, "format", json_integer(MODEL_FORMAT), &ok);
	put(j, "kind", json_string(MODEL_KIND), &ok);
	put(j, "bias", json_real(m->bias), &ok);
	put(j, "z_clip", json_real(m->z_clip), &ok);
	for (size_t i = 0; i < m->n_numeric; i++) {
		const struct model_numeric *f = &m->numeric[i];
		put(numeric, f->name,
		    json_pack("{s:f,s:f,s:o}", "weight", f->weight, "mean", f->mean, "sd",
			      isnan(f->sd) ? json_null() : json_real(f->sd)),
		    &ok);
	}
	put(j, "numeric", numeric, &ok);
	for (size_t i = 0; i < m->n_fields; i++)
		if (json_array_append_new(fields, json_string(m->field_name[i])))
			ok = 0;
	put(cat, "fields", fields, &ok);
	for (size_t i = 0; i < m->n_values; i++)
		put(weights, m->values[i].text, json_real(m->values[i].weight), &ok);
	put(cat, "weights", weights, &ok);
	put(j, "categorical", cat, &ok);
	if (!ok)
		goto fail;
	return j;
fail:
	json_decref(j);
	errno = ENOMEM;
	return NULL;
}

/* ---- scoring ------------------------------------------------------------------------ */

/* A "field=value" looked up in pieces, without building the text. */
struct value_key {
	const char *field, *value;
};

/* Sign of key − text, compared as unsigned bytes like strcmp (bsearch's
 * order of arguments: the key, then an element). */
static int value_key_compare(const void *key, const void *element)
{
	const struct value_key *k = key;
	const unsigned char *t = (const unsigned char *)((const struct model_value *)element)->text;
	const char *pieces[3] = {k->field, "=", k->value};
	for (int i = 0; i < 3; i++)
		for (const unsigned char *p = (const unsigned char *)pieces[i]; *p; p++, t++)
			if (*p != *t)
				return (int)*p - (int)*t;
	return -(*t != 0);
}

static int name_key_compare(const void *key, const void *element)
{
	return strcmp(key, ((const struct model_numeric *)element)->name);
}

static const struct model_value *find_value(const struct model *m, const char *field,
					    const char *value)
{
	struct value_key key = {field, value};
	return bsearch(&key, m->values, m->n_values, sizeof *m->values, value_key_compare);
}

static const struct model_numeric *find_numeric(const struct model *m, const char *name)
{
	return bsearch(name, m->numeric, m->n_numeric, sizeof *m->numeric, name_key_compare);
}

static double numeric_term(const struct model *m, const char *name, double x)
{
	const struct model_numeric *f = find_numeric(m, name);
	if (!f || isnan(f->sd) || !isfinite(x))
		return 0.0;
	double z = (x - f->mean) / f->sd;
	z = z < -m->z_clip ? -m->z_clip : z > m->z_clip ? m->z_clip : z;
	return f->weight * z;
}

double model_logit(const struct model *m, const struct learner_candidate *c)
{
	double s = m->bias;
	int has_confidence = isfinite(c->confidence), has_score = isfinite(c->score);
	s += numeric_term(m, "confidence", c->confidence);
	s += numeric_term(m, "score", c->score);
	if (json_is_object(c->components)) {
		const char *name;
		json_t *v;
		json_object_foreach(c->components, name, v)
		{
			/* The record's own field takes the name when it is there. */
			if (!json_is_number(v) ||
			    (has_confidence && strcmp(name, "confidence") == 0) ||
			    (has_score && strcmp(name, "score") == 0))
				continue;
			s += numeric_term(m, name, json_number_value(v));
		}
	}
	for (size_t i = 0; i < m->n_fields; i++) {
		int field = m->fields[i];
		const char *value;
		if (field >= 0) {
			value = model_candidate_value(c, field);
		} else {
			value = json_string_value(json_object_get(c->categories, m->field_name[i]));
			value = value && *value ? value : "none";
		}
		const struct model_value *v = find_value(m, m->field_name[i], value);
		if (v)
			s += v->weight;
	}
	return s;
}

double model_predict(const struct model *m, const struct learner_candidate *c)
{
	double s = model_logit(m, c);
	if (s >= 0)
		return 1.0 / (1.0 + exp(-s));
	double e = exp(s);
	return e / (1.0 + e);
}

/* ---- reading the parts -------------------------------------------------------------- */

double model_bias(const struct model *m)
{
	return m->bias;
}

double model_z_clip(const struct model *m)
{
	return m->z_clip;
}

size_t model_numeric_count(const struct model *m)
{
	return m->n_numeric;
}

const struct model_numeric *model_numeric_at(const struct model *m, size_t i)
{
	return &m->numeric[i];
}

size_t model_value_count(const struct model *m)
{
	return m->n_values;
}

const struct model_value *model_value_at(const struct model *m, size_t i)
{
	return &m->values[i];
}

size_t model_field_count(const struct model *m)
{
	return m->n_fields;
}

const char *model_field_at(const struct model *m, size_t i)
{
	return m->field_name[i];
}
