/*
 * fuzz_jscan — jscan against jansson, the parser it replaces.
 *
 * The input is a line. jscan_parse must accept it exactly when json_loadb
 * with record.c's flags (JSON_DECODE_ANY | JSON_ALLOW_NUL) does, and then
 * give at every pointer of the query the value record_pointer() finds in
 * jansson's tree: the same type, the same number (integer or real, bit for
 * bit), the same string (escapes decoded, \u0000 kept), and for an object
 * or an array, members that jansson reads as the same value. The query
 * holds fixed pointers (the built-in profiles', escapes, indexes, an index
 * spelt two ways) and the paths of the tree itself, so that every value
 * of an accepted line is looked up.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "lib/ingest/jscan.h"
#include "lib/ingest/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_POINTERS 400

static const char *const fixed[] = {
    "",
    "/",
    "/a",
    "/a/b",
    "/a/0",
    "/a/1",
    "/a/01",
    "/a/ 1",
    "/0",
    "/1/0",
    "/~0",
    "/~1",
    "/a~1b",
    "/a~0b",
    "/\xc3\xa9",
    "/x/y/z",
    "/ts",
    "/symbol",
    "/trade_id",
    "/event",
    "/pnl_pct",
    "/context",
    "/context/pnl_pct",
    "/context/components",
    "/context/entry_price",
    "/components",
    "/components/momentum",
};

struct query {
	const char *pointer[MAX_POINTERS];
	char *owned[MAX_POINTERS];
	int slot[MAX_POINTERS];
	size_t n;
};

static void add(struct query *q, const char *pointer, char *owned)
{
	if (q->n == MAX_POINTERS) {
		free(owned);
		return;
	}
	q->owned[q->n] = owned;
	q->pointer[q->n++] = pointer;
}

/* The pointers of v's members, below at (depth-first, bounded). */
static void add_paths(struct query *q, json_t *v, const char *at, int depth)
{
	if (depth > 6 || q->n >= MAX_POINTERS)
		return;
	if (json_is_object(v)) {
		const char *key;
		size_t key_len;
		json_t *m;
		json_object_keylen_foreach(v, key, key_len, m)
		{
			size_t n = strlen(at) + 2 * key_len + 2;
			char *p = malloc(n);
			if (!p)
				abort();
			size_t k = (size_t)snprintf(p, n, "%s/", at);
			for (size_t i = 0; i < key_len; i++) {
				if (key[i] == '~' || key[i] == '/') {
					p[k++] = '~';
					p[k++] = key[i] == '~' ? '0' : '1';
				} else {
					p[k++] = key[i];
				}
			}
			p[k] = '\0';
			add(q, p, p);
			add_paths(q, m, p, depth + 1);
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *m;
		json_array_foreach(v, i, m)
		{
			if (i > 8)
				break;
			size_t n = strlen(at) + 24;
			char *p = malloc(n);
			if (!p)
				abort();
			snprintf(p, n, "%s/%zu", at, i);
			add(q, p, p);
			add_paths(q, m, p, depth + 1);
		}
	}
}

static json_t *as_json(const char *text, const struct jscan_value *v);

/* An object or array rebuilt from jscan's members; a key given twice
 * replaces its value in place, as jansson's loader does. */
static json_t *container_json(const char *text, const struct jscan_value *v)
{
	struct jscan_members m;
	struct jscan_value key, value;
	json_t *out = v->type == JSCAN_OBJECT ? json_object() : json_array();
	jscan_members_begin(&m, text, v);
	if (v->type == JSCAN_OBJECT) {
		while (jscan_members_next(&m, &key, &value)) {
			char *name = malloc(key.len + 1);
			if (!name)
				abort();
			jscan_string(text, &key, name);
			json_object_set_new(out, name, as_json(text, &value));
			free(name);
		}
		return out;
	}
	while (jscan_elements_next(&m, &value))
		json_array_append_new(out, as_json(text, &value));
	return out;
}

static json_t *as_json(const char *text, const struct jscan_value *v)
{
	switch (v->type) {
	case JSCAN_NULL:
		return json_null();
	case JSCAN_TRUE:
		return json_true();
	case JSCAN_FALSE:
		return json_false();
	case JSCAN_INTEGER:
		return json_integer(v->integer);
	case JSCAN_REAL:
		return json_real(v->real);
	case JSCAN_STRING: {
		char *s = malloc(v->len + 1);
		if (!s)
			abort();
		size_t n = jscan_string(text, v, s);
		json_t *j = json_stringn(s, n);
		free(s);
		return j;
	}
	case JSCAN_OBJECT:
	case JSCAN_ARRAY:
		return container_json(text, v);
	case JSCAN_ABSENT:
		break;
	}
	return NULL;
}

static void same(const char *text, const struct jscan_value *v, json_t *j)
{
	if (!j) {
		if (v->type != JSCAN_ABSENT)
			__builtin_trap();
		return;
	}
	json_t *mine = as_json(text, v);
	if (!mine)
		__builtin_trap();
	if (json_is_integer(j) &&
	    (!json_is_integer(mine) || json_integer_value(j) != json_integer_value(mine)))
		__builtin_trap();
	if (json_is_real(j) &&
	    (!json_is_real(mine) || memcmp(&(double){json_real_value(j)},
					   &(double){json_real_value(mine)}, sizeof(double)) != 0))
		__builtin_trap();
	if (!json_equal(j, mine))
		__builtin_trap();
	json_decref(mine);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	json_t *tree = json_loadb(text, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	struct query q = {.n = 0};
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		add(&q, fixed[i], NULL);
	if (tree)
		add_paths(&q, tree, "", 0);
	struct jscan_query *jq = jscan_query_new();
	if (!jq)
		abort();
	for (size_t i = 0; i < q.n; i++)
		if ((q.slot[i] = jscan_query_add(jq, q.pointer[i])) < 0)
			abort();
	struct jscan_value *out = malloc(jscan_query_slots(jq) * sizeof *out);
	if (!out)
		abort();
	int rc = jscan_parse(jq, text, size, out, NULL);
	if ((rc == 0) != (tree != NULL))
		__builtin_trap(); /* one accepts what the other refuses */
	for (size_t i = 0; tree && i < q.n; i++)
		same(text, &out[q.slot[i]], record_pointer(tree, q.pointer[i]));
	free(out);
	jscan_query_free(jq);
	for (size_t i = 0; i < q.n; i++)
		free(q.owned[i]);
	json_decref(tree);
	return 0;
}
