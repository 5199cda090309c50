/*
 * jscan — one pass over a line of JSON that checks it and picks out the
 * values at a set of JSON pointers, building nothing.
 *
 * A log row is parsed to read a few dozen fields of it. jscan reads the
 * text once, checks it is JSON exactly as tradelearn's jansson load of a
 * row accepts it (json_loadb with JSON_DECODE_ANY | JSON_ALLOW_NUL, no
 * check for duplicate keys), and for each pointer of a query notes where
 * its value is: no allocation per value, nothing kept of the rest.
 *
 * What is accepted, as jansson accepts it:
 *   - any JSON value at the top (not only an object), with the whitespace
 *     ' ', '\t', '\n', '\r' around it and nothing else after it;
 *   - strings of UTF-8 (shortest form, no surrogates, at most U+10FFFF) with
 *     no byte below 0x20 and the escapes \" \\ \/ \b \f \n \r \t \uXXXX
 *     (a \uD800-\uDBFF only followed by a \uDC00-\uDFFF); \u0000 in a value,
 *     never in an object key;
 *   - numbers of the JSON grammar: an integer (no '.', 'e' or 'E') in the
 *     range of long long, else a real strtod() converts without overflow
 *     (an underflow reads as strtod() gives it);
 *   - at most JSCAN_MAX_DEPTH nested values, the top one counted;
 *   - a key given twice: the last value counts, as in jansson's object.
 *
 * Pointers resolve as record_pointer() resolves them in the jansson tree
 * (lib/ingest/record.h): RFC 6901 tokens, "~0" and "~1" unescaped, a token
 * cut at JSCAN_TOKEN_MAX bytes, a token that strtoul() reads whole an index
 * into an array; a pointer not starting with '/' is the whole value.
 */
#ifndef TRADELEARN_JSCAN_H
#define TRADELEARN_JSCAN_H

#include <stddef.h>

#define JSCAN_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */
#define JSCAN_TOKEN_MAX 255  /* bytes of a pointer's token that count */
#define JSCAN_MAX_SLOTS 1024 /* steps of all a query's pointers, the whole value counted */

enum jscan_type {
	JSCAN_ABSENT = 0, /* nothing at the pointer */
	JSCAN_NULL,
	JSCAN_FALSE,
	JSCAN_TRUE,
	JSCAN_INTEGER,
	JSCAN_REAL,
	JSCAN_STRING,
	JSCAN_OBJECT,
	JSCAN_ARRAY
};

/* A value in the text. For a string, at and len are its bytes between the
 * quotes (escaped says whether any is a backslash: jscan_string() decodes
 * it); for an object or an array, from its opening bracket to its closing
 * one included; for a number or a literal, its text. */
struct jscan_value {
	enum jscan_type type;
	int escaped;
	size_t at, len;
	long long integer; /* JSCAN_INTEGER */
	double real;	   /* JSCAN_REAL */
};

/* The pointers looked up, compiled once (e.g. with a profile) and then
 * only read: one query may be used by many threads at once. */
struct jscan_query;

/* An empty query, or NULL on ENOMEM. */
struct jscan_query *jscan_query_new(void);

/* Adds pointer (borrowed) and returns its slot: the index of its value in
 * what jscan_parse() fills (the same slot for the same pointer again, and
 * for every pointer that shares its first steps a slot per step). A
 * pointer whose array index another spells otherwise ("/a/01" beside
 * "/a/1": two keys of an object, one element of an array) is looked up
 * after the pass from the whole value, reading the line again. -1 when the
 * query already has JSCAN_MAX_SLOTS steps, or on ENOMEM (errno says which:
 * ENOSPC, ENOMEM). */
int jscan_query_add(struct jscan_query *q, const char *pointer);

/* The number of slots (what jscan_parse() fills). */
size_t jscan_query_slots(const struct jscan_query *q);

/* NULL does nothing. */
void jscan_query_free(struct jscan_query *q);

/* Checks text[0..len) and fills out[0..jscan_query_slots(q)) with the
 * values at q's slots (JSCAN_ABSENT where there is none; a slot inside a
 * value the pointer cannot enter is absent too). Returns 0, or -1 when
 * the text is not JSON as above (out then means nothing) with *error_at
 * (may be NULL) the offset where it stopped. text needs no NUL after it. */
int jscan_parse(const struct jscan_query *q, const char *text, size_t len, struct jscan_value *out,
		size_t *error_at);

/* Decodes string v of text into out, which has room for v->len + 1 bytes
 * (a decoded string is never longer), with a NUL after it. Returns the
 * decoded length (a \u0000 inside makes the C string shorter than it). */
size_t jscan_string(const char *text, const struct jscan_value *v, char *out);

/* The members of an object value (or the elements of an array), in the order of the text (a key
 * given twice comes twice):
 *
 *         struct jscan_members m;
 *         struct jscan_value key, value;
 *         jscan_members_begin(&m, text, &object);
 *         while (jscan_members_next(&m, &key, &value))
 *                 ...;
 *
 * key is a JSCAN_STRING; a value is described as jscan_parse() describes
 * one. Only for an object of text that jscan_parse() accepted. */
struct jscan_members {
	const char *text;
	size_t at, end;
};
void jscan_members_begin(struct jscan_members *m, const char *text,
			 const struct jscan_value *object);
/* 1 with the next member in *key and *value, 0 after the last. */
int jscan_members_next(struct jscan_members *m, struct jscan_value *key, struct jscan_value *value);
/* For an array begun so: 1 with the next element in *value, 0 after the last. */
int jscan_elements_next(struct jscan_members *m, struct jscan_value *value);

#endif
