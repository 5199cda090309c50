#include "lib/ingest/jscan.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/buf.h"

/* A step of the query's pointers: a node of the tree of their tokens. The
 * whole value is node 0. A pointer whose token would index an array at the
 * same place as a sibling's other spelling ("/a/1" beside "/a/01") is late:
 * it is looked up after the pass, from the whole value. */
struct node {
	char *token; /* NUL-terminated, len bytes */
	size_t len;
	int has_index; /* the token is an array index, strtoul() read whole */
	unsigned long index;
	int first_child, next_sibling; /* -1: none */
	char *late;		       /* the pointer of a late slot, else NULL */
};

struct jscan_query {
	struct node *node;
	size_t n, cap;
	int has_late;
};

/* ---- the query ----------------------------------------------------------- */

static int new_node(struct jscan_query *q, const char *token, size_t len)
{
	if (q->n == JSCAN_MAX_SLOTS) {
		errno = ENOSPC;
		return -1;
	}
	if (BUF_ARRAY_GROW(q->node, q->n + 1, q->cap))
		return -1;
	struct node *n = &q->node[q->n];
	memset(n, 0, sizeof *n);
	n->first_child = n->next_sibling = -1;
	if (!(n->token = malloc(len + 1)))
		return -1;
	memcpy(n->token, token, len);
	n->token[len] = '\0';
	n->len = len;
	if (len) {
		char *end;
		n->index = strtoul(n->token, &end, 10);
		n->has_index = *end == '\0';
	}
	return (int)q->n++;
}

struct jscan_query *jscan_query_new(void)
{
	struct jscan_query *q = calloc(1, sizeof *q);
	if (q && new_node(q, "", 0) < 0) {
		jscan_query_free(q);
		return NULL;
	}
	return q;
}

void jscan_query_free(struct jscan_query *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++) {
		free(q->node[i].token);
		free(q->node[i].late);
	}
	free(q->node);
	free(q);
}

size_t jscan_query_slots(const struct jscan_query *q)
{
	return q->n;
}

/* The next token of pointer p (just past a '/'), unescaped and cut as
 * record_pointer() cuts it, into token; returns where it ends. */
static const char *next_token(const char *p, char *token, size_t *len)
{
	size_t n = 0;
	while (*p && *p != '/') {
		char c = *p++;
		if (c == '~' && (*p == '0' || *p == '1'))
			c = *p++ == '0' ? '~' : '/';
		if (n < JSCAN_TOKEN_MAX)
			token[n++] = c;
	}
	token[n] = '\0';
	*len = n;
	return p;
}

static int late_slot(struct jscan_query *q, const char *pointer)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->node[i].late && strcmp(q->node[i].late, pointer) == 0)
			return (int)i;
	int slot = new_node(q, "", 0);
	if (slot < 0)
		return -1;
	if (!(q->node[slot].late = strdup(pointer)))
		return -1;
	q->has_late = 1;
	return slot;
}

int jscan_query_add(struct jscan_query *q, const char *pointer)
{
	char token[JSCAN_TOKEN_MAX + 1];
	size_t len;
	int cur = 0;
	const char *p = pointer;

	if (!p)
		return 0;
	while (*p == '/') {
		p = next_token(p + 1, token, &len);
		int child = q->node[cur].first_child, alias = 0;
		char *end;
		unsigned long index = len ? strtoul(token, &end, 10) : 0;
		int has_index = len && *end == '\0';
		for (; child >= 0; child = q->node[child].next_sibling) {
			const struct node *c = &q->node[child];
			if (c->len == len && memcmp(c->token, token, len) == 0)
				break;
			alias |= has_index && c->has_index && c->index == index;
		}
		if (child < 0 && alias)
			return late_slot(q, pointer);
		if (child < 0) {
			if ((child = new_node(q, token, len)) < 0)
				return -1;
			q->node[child].next_sibling = q->node[cur].first_child;
			q->node[cur].first_child = child;
		}
		cur = child;
	}
	return cur;
}

/* ---- the pass ------------------------------------------------------------ */

struct scan {
	const char *text;
	const unsigned char *p, *end;
	const struct node *node;
	struct jscan_value *out;
};

/* Bytes a string holds as they are: not '"', '\\', a control character or
 * the start of a multibyte character. */
static const unsigned char plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static void skip_space(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\t' || *s->p == '\r'))
		s->p++;
}

/* jansson reads one character past a number or a literal and puts it
 * back; a NUL byte put back is lost (its reader takes NUL for "nothing
 * buffered"). So one NUL byte right after one is skipped, as if absent. */
static void skip_nul(struct scan *s)
{
	if (s->p < s->end && *s->p == '\0')
		s->p++;
}

static int hex_value(const unsigned char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned char c = p[i];
		int d = is_digit(c)				 ? c - '0'
			: (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
								 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* The length of the UTF-8 character at p (its first byte >= 0x80), 0 when
 * it is not one jansson accepts. */
static size_t utf8_length(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = *p;
	size_t n;
	uint32_t v;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		v = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3F);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || (v >= 0xD800 && v <= 0xDFFF) ||
	    v > 0x10FFFF)
		return 0;
	return n;
}

/* A string from its opening quote: s->p ends past the closing one. 0 or
 * -1; *escaped and *nul say whether it holds a backslash, a \u0000. */
static int scan_string(struct scan *s, int *escaped, int *nul)
{
	const unsigned char *p = s->p + 1, *end = s->end;
	*escaped = *nul = 0;
	for (;;) {
		while (end - p >= 4 && plain[p[0]] && plain[p[1]] && plain[p[2]] && plain[p[3]])
			p += 4;
		while (p < end && plain[*p])
			p++;
		if (p == end)
			return -1;
		unsigned char c = *p;
		if (c == '"') {
			s->p = p + 1;
			return 0;
		}
		if (c == '\\') {
			*escaped = 1;
			if (end - p < 2)
				return -1;
			c = p[1];
			p += 2;
			if (c != 'u') {
				if (!strchr("\"\\/bfnrt", c) || !c)
					return -1;
				continue;
			}
			int v = end - p >= 4 ? hex_value(p) : -1;
			if (v < 0)
				return -1;
			p += 4;
			if (v >= 0xD800 && v <= 0xDBFF) {
				int low = end - p >= 6 && p[0] == '\\' && p[1] == 'u'
					      ? hex_value(p + 2)
					      : -1;
				if (low < 0xDC00 || low > 0xDFFF)
					return -1;
				p += 6;
			} else if (v >= 0xDC00 && v <= 0xDFFF) {
				return -1;
			}
			*nul |= v == 0;
			continue;
		}
		if (c < 0x20)
			return -1;
		size_t n = utf8_length(p, end);
		if (!n)
			return -1;
		p += n;
	}
}

/* A real of at most 15 significant digits (below 2^53) and a power of ten
 * of at most 22 (exact in a double) is m × 10^e or m ÷ 10^-e in one
 * rounding, which is the correctly rounded value strtod() gives. 0 and
 * *out, or -1 for strtod() to decide. */
static int exact_real(const char *text, size_t len, double *out)
{
	static const double power[] = {1e0,  1e1,  1e2,	 1e3,  1e4,  1e5,  1e6,	 1e7,
				       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
	const char *p = text, *end = text + len;
	uint64_t m = 0;
	int digits = 0, negative = *p == '-';
	long e = 0;
	p += negative;
	for (int fraction = 0; p < end && (is_digit((unsigned char)*p) || *p == '.'); p++) {
		if (*p == '.') {
			fraction = 1;
			continue;
		}
		if ((digits += m || *p != '0') > 15)
			return -1;
		m = m * 10 + (uint64_t)(*p - '0');
		e -= fraction;
	}
	if (p < end) { /* 'e' or 'E' */
		long x = 0;
		int minus = 0;
		p++;
		if (*p == '+' || *p == '-')
			minus = *p++ == '-';
		for (; p < end; p++)
			if ((x = x * 10 + (*p - '0')) > 400)
				return -1;
		e += minus ? -x : x;
	}
	if (e < -22 || e > 22)
		return -1;
	double d = e < 0 ? (double)m / power[-e] : (double)m * power[e];
	*out = negative ? -d : d;
	return 0;
}

/* text[0..len) as a C string for strtoll()/strtod(), then calls them. */
static int convert_number(const char *text, size_t len, int real, struct jscan_value *v)
{
	char small[64], *copy = small;
	int rc = 0;
	if (real && exact_real(text, len, &v->real) == 0) {
		v->type = JSCAN_REAL;
		return 0;
	}
	if (len >= sizeof small && !(copy = malloc(len + 1)))
		return -1;
	memcpy(copy, text, len);
	copy[len] = '\0';
	errno = 0;
	if (real) {
		v->type = JSCAN_REAL;
		v->real = strtod(copy, NULL);
		rc = (v->real == HUGE_VAL || v->real == -HUGE_VAL) && errno == ERANGE ? -1 : 0;
	} else {
		v->type = JSCAN_INTEGER;
		v->integer = strtoll(copy, NULL, 10);
		rc = errno == ERANGE ? -1 : 0;
	}
	if (copy != small)
		free(copy);
	return rc;
}

/* Whether a real whose text is as described may overflow a double (then
 * strtod() decides): its first significant digit is at most 10^300. */
static int may_overflow(const unsigned char *digits, const unsigned char *end)
{
	long exp10 = 0;
	const unsigned char *p = digits;
	int significant = 0;
	if (*p != '0') {
		while (p < end && is_digit(*p)) {
			p++;
			exp10++;
		}
		significant = 1;
	} else {
		p++;
	}
	if (p < end && *p == '.') {
		p++;
		while (p < end && is_digit(*p)) {
			if (!significant && *p != '0')
				significant = 1;
			else if (!significant)
				exp10--;
			p++;
		}
	}
	if (!significant)
		return 0; /* a zero */
	if (p < end && (*p | 0x20) == 'e') {
		long e = 0;
		int negative = 0;
		p++;
		if (*p == '+' || *p == '-')
			negative = *p++ == '-';
		for (; p < end && is_digit(*p); p++)
			if (e < 100000)
				e = e * 10 + (*p - '0');
		exp10 += negative ? -e : e;
	}
	return exp10 > 300;
}

/* A number; its value is converted when the slot wants it, else only
 * checked for what jansson refuses (an integer out of range, a real that
 * overflows). */
static int scan_number(struct scan *s, struct jscan_value *v)
{
	const unsigned char *start = s->p, *p = s->p, *end = s->end;
	int real = 0;
	if (*p == '-')
		p++;
	const unsigned char *digits = p;
	if (p < end && *p == '0')
		p++;
	else if (p < end && *p >= '1' && *p <= '9')
		while (p < end && is_digit(*p))
			p++;
	else
		return -1;
	size_t n_int = (size_t)(p - digits);
	if (p < end && *p == '.') {
		p++;
		if (p == end || !is_digit(*p))
			return -1;
		while (p < end && is_digit(*p))
			p++;
		real = 1;
	}
	if (p < end && (*p | 0x20) == 'e') {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !is_digit(*p))
			return -1;
		while (p < end && is_digit(*p))
			p++;
		real = 1;
	}
	s->p = p;
	size_t len = (size_t)(p - start);
	skip_nul(s);
	if (!real && n_int > 19)
		return -1; /* beyond long long, whatever the digits */
	if (v) {
		v->at = (size_t)((const char *)start - s->text);
		v->len = len;
		if (!real && n_int < 19) {
			long long i = 0;
			for (const unsigned char *d = digits; d < p; d++)
				i = i * 10 + (*d - '0');
			v->type = JSCAN_INTEGER;
			v->integer = *start == '-' ? -i : i;
			return 0;
		}
		return convert_number((const char *)start, len, real, v);
	}
	if (!real && n_int == 19) {
		struct jscan_value scratch;
		return convert_number((const char *)start, len, 0, &scratch);
	}
	if (real && may_overflow(digits, p)) {
		struct jscan_value scratch;
		return convert_number((const char *)start, len, 1, &scratch);
	}
	return 0;
}

/* Empties the slots under node (its own included): a key given again
 * replaces what the first one held. */
static void clear_slots(struct scan *s, int node)
{
	s->out[node].type = JSCAN_ABSENT;
	for (int c = s->node[node].first_child; c >= 0; c = s->node[c].next_sibling)
		clear_slots(s, c);
}

/* A key's decoded text is at most its escaped length, and at least a sixth
 * of it (\u0041): a longer one than that cannot be a token. */
#define KEY_ESCAPED_MAX (6 * JSCAN_TOKEN_MAX)

static int key_child(const struct scan *s, int node, const unsigned char *key, size_t len,
		     int escaped)
{
	char decoded[KEY_ESCAPED_MAX + 1];
	if (escaped) {
		if (len > KEY_ESCAPED_MAX)
			return -1;
		struct jscan_value v = {.type = JSCAN_STRING,
					.escaped = 1,
					.at = (size_t)((const char *)key - s->text),
					.len = len};
		len = jscan_string(s->text, &v, decoded);
		key = (const unsigned char *)decoded;
	}
	for (int c = s->node[node].first_child; c >= 0; c = s->node[c].next_sibling)
		if (s->node[c].len == len && memcmp(s->node[c].token, key, len) == 0)
			return c;
	return -1;
}

static int index_child(const struct scan *s, int node, unsigned long index)
{
	for (int c = s->node[node].first_child; c >= 0; c = s->node[c].next_sibling)
		if (s->node[c].has_index && s->node[c].index == index)
			return c;
	return -1;
}

static int scan_value(struct scan *s, int depth, int node);

static void set_span(struct scan *s, int node, enum jscan_type type, const unsigned char *start)
{
	struct jscan_value *v = &s->out[node];
	v->type = type;
	v->escaped = 0;
	v->at = (size_t)((const char *)start - s->text);
	v->len = (size_t)(s->p - start);
}

/* After a member or an element: 1 past a ',', 0 past the closing
 * bracket, -1 on anything else. */
static int next_member(struct scan *s, unsigned char close)
{
	skip_space(s);
	if (s->p == s->end)
		return -1;
	if (*s->p == ',') {
		s->p++;
		skip_space(s);
		return 1;
	}
	return *s->p++ == close ? 0 : -1;
}

static int scan_object(struct scan *s, int depth, int node)
{
	const unsigned char *start = s->p++;
	int track = node >= 0 && s->node[node].first_child >= 0;
	skip_space(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		goto done;
	}
	for (;;) {
		int escaped, nul, child = -1;
		if (s->p == s->end || *s->p != '"')
			return -1;
		const unsigned char *key = s->p + 1;
		if (scan_string(s, &escaped, &nul) || nul)
			return -1;
		size_t key_len = (size_t)(s->p - 1 - key);
		skip_space(s);
		if (s->p == s->end || *s->p != ':')
			return -1;
		s->p++;
		skip_space(s);
		if (track && (child = key_child(s, node, key, key_len, escaped)) >= 0)
			clear_slots(s, child);
		if (scan_value(s, depth + 1, child))
			return -1;
		int more = next_member(s, '}');
		if (more < 0)
			return -1;
		if (!more)
			break;
	}
done:
	if (node >= 0)
		set_span(s, node, JSCAN_OBJECT, start);
	return 0;
}

static int scan_array(struct scan *s, int depth, int node)
{
	const unsigned char *start = s->p++;
	int track = node >= 0 && s->node[node].first_child >= 0;
	skip_space(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		goto done;
	}
	for (unsigned long i = 0;; i++) {
		if (scan_value(s, depth + 1, track ? index_child(s, node, i) : -1))
			return -1;
		int more = next_member(s, ']');
		if (more < 0)
			return -1;
		if (!more)
			break;
	}
done:
	if (node >= 0)
		set_span(s, node, JSCAN_ARRAY, start);
	return 0;
}

static int scan_literal(struct scan *s, int node, const char *word, size_t len,
			enum jscan_type type)
{
	const unsigned char *start = s->p;
	if ((size_t)(s->end - s->p) < len || memcmp(s->p, word, len) != 0)
		return -1;
	s->p += len;
	if (node >= 0)
		set_span(s, node, type, start);
	skip_nul(s);
	return 0;
}

static int scan_value(struct scan *s, int depth, int node)
{
	if (depth > JSCAN_MAX_DEPTH || s->p == s->end)
		return -1;
	switch (*s->p) {
	case '{':
		return scan_object(s, depth, node);
	case '[':
		return scan_array(s, depth, node);
	case '"': {
		const unsigned char *start = s->p;
		int escaped, nul;
		if (scan_string(s, &escaped, &nul))
			return -1;
		if (node >= 0) {
			struct jscan_value *v = &s->out[node];
			v->type = JSCAN_STRING;
			v->escaped = escaped;
			v->at = (size_t)((const char *)start + 1 - s->text);
			v->len = (size_t)(s->p - start - 2);
		}
		return 0;
	}
	case 't':
		return scan_literal(s, node, "true", 4, JSCAN_TRUE);
	case 'f':
		return scan_literal(s, node, "false", 5, JSCAN_FALSE);
	case 'n':
		return scan_literal(s, node, "null", 4, JSCAN_NULL);
	default:
		return scan_number(s, node >= 0 ? &s->out[node] : NULL);
	}
}

/* ---- reading a checked value again --------------------------------------- */

/* Describes the value at text[*at] (checked already) and moves *at past it. */
static void read_value(const char *text, size_t *at, struct jscan_value *v)
{
	const unsigned char *p = (const unsigned char *)text + *at;
	const unsigned char *start = p;
	memset(v, 0, sizeof *v);
	v->at = *at;
	switch (*p) {
	case '{':
	case '[': {
		int depth = 0;
		v->type = *p == '{' ? JSCAN_OBJECT : JSCAN_ARRAY;
		do {
			if (*p == '"') {
				for (p++; *p != '"'; p++)
					if (*p == '\\')
						p++;
			} else if (*p == '{' || *p == '[') {
				depth++;
			} else if (*p == '}' || *p == ']') {
				depth--;
			}
			p++;
		} while (depth);
		break;
	}
	case '"':
		for (p++; *p != '"'; p++)
			if (*p == '\\') {
				v->escaped = 1;
				p++;
			}
		v->type = JSCAN_STRING;
		v->at++;
		v->len = (size_t)(p - start - 1);
		*at += v->len + 2;
		return;
	case 't':
		v->type = JSCAN_TRUE;
		p += 4;
		break;
	case 'f':
		v->type = JSCAN_FALSE;
		p += 5;
		break;
	case 'n':
		v->type = JSCAN_NULL;
		p += 4;
		break;
	default: {
		/* A number, followed inside its container by a space, ',', '}' or ']'. */
		const unsigned char *q = p;
		int real = 0;
		while (is_digit(*q) || *q == '-' || *q == '+' || *q == '.' || (*q | 0x20) == 'e') {
			real |= *q == '.' || (*q | 0x20) == 'e';
			q++;
		}
		convert_number((const char *)p, (size_t)(q - p), real, v);
		p = q;
		break;
	}
	}
	v->len = (size_t)(p - start);
	*at += v->len;
	if (v->type != JSCAN_OBJECT && v->type != JSCAN_ARRAY && text[*at] == '\0')
		(*at)++; /* skip_nul() */
}

static void skip_space_at(const char *text, size_t *at)
{
	while (text[*at] == ' ' || text[*at] == '\n' || text[*at] == '\t' || text[*at] == '\r')
		(*at)++;
}

void jscan_members_begin(struct jscan_members *m, const char *text,
			 const struct jscan_value *object)
{
	m->text = text;
	m->at = object->at + 1;
	m->end = object->at + object->len - 1;
}

/* The next member of an object or element of an array (key NULL). */
static int next_in(struct jscan_members *m, struct jscan_value *key, struct jscan_value *value)
{
	skip_space_at(m->text, &m->at);
	if (m->at >= m->end)
		return 0;
	if (m->text[m->at] == ',') {
		m->at++;
		skip_space_at(m->text, &m->at);
	}
	if (key) {
		read_value(m->text, &m->at, key);
		skip_space_at(m->text, &m->at);
		m->at++; /* ':' */
		skip_space_at(m->text, &m->at);
	}
	read_value(m->text, &m->at, value);
	return 1;
}

int jscan_members_next(struct jscan_members *m, struct jscan_value *key, struct jscan_value *value)
{
	return next_in(m, key, value);
}

int jscan_elements_next(struct jscan_members *m, struct jscan_value *value)
{
	return next_in(m, NULL, value);
}

/* A late slot: pointer resolved in v as record_pointer() resolves it. */
static void look_up(const char *text, const char *pointer, struct jscan_value *v)
{
	char token[JSCAN_TOKEN_MAX + 1], *name = NULL;
	size_t len;
	const char *p = pointer;
	while (v->type != JSCAN_ABSENT && *p == '/') {
		struct jscan_members m;
		struct jscan_value key, value, found = {.type = JSCAN_ABSENT};
		p = next_token(p + 1, token, &len);
		if (v->type == JSCAN_OBJECT) {
			jscan_members_begin(&m, text, v);
			while (next_in(&m, &key, &value)) {
				if (!(name = malloc(key.len + 1)))
					break;
				size_t n = jscan_string(text, &key, name);
				if (n == len && memcmp(name, token, len) == 0)
					found = value;
				free(name);
			}
		} else if (v->type == JSCAN_ARRAY) {
			char *end;
			unsigned long index = strtoul(token, &end, 10), i = 0;
			jscan_members_begin(&m, text, v);
			while (*token && !*end && next_in(&m, NULL, &value))
				if (i++ == index)
					found = value;
		}
		*v = found;
	}
}

int jscan_parse(const struct jscan_query *q, const char *text, size_t len, struct jscan_value *out,
		size_t *error_at)
{
	struct scan s = {.text = text,
			 .p = (const unsigned char *)text,
			 .end = (const unsigned char *)text + len,
			 .node = q->node,
			 .out = out};
	for (size_t i = 0; i < q->n; i++)
		out[i].type = JSCAN_ABSENT;
	skip_space(&s);
	int rc = scan_value(&s, 1, 0);
	if (rc == 0) {
		skip_space(&s);
		rc = s.p == s.end ? 0 : -1;
	}
	if (rc) {
		if (error_at)
			*error_at = (size_t)((const char *)s.p - text);
		return -1;
	}
	for (size_t i = 0; q->has_late && i < q->n; i++)
		if (q->node[i].late) {
			out[i] = out[0];
			look_up(text, q->node[i].late, &out[i]);
		}
	return 0;
}

/* ---- strings ------------------------------------------------------------- */

static size_t put_utf8(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xC0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xE0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		out[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	out[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

size_t jscan_string(const char *text, const struct jscan_value *v, char *out)
{
	const unsigned char *p = (const unsigned char *)text + v->at, *end = p + v->len;
	size_t n = 0;
	if (!v->escaped) {
		memcpy(out, p, v->len);
		out[v->len] = '\0';
		return v->len;
	}
	while (p < end) {
		const unsigned char *run = p;
		while (p < end && *p != '\\')
			p++;
		memcpy(out + n, run, (size_t)(p - run));
		n += (size_t)(p - run);
		if (p == end)
			break;
		unsigned char c = p[1];
		p += 2;
		switch (c) {
		case 'b':
			out[n++] = '\b';
			break;
		case 'f':
			out[n++] = '\f';
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 'r':
			out[n++] = '\r';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case 'u': {
			uint32_t u = (uint32_t)hex_value(p);
			p += 4;
			if (u >= 0xD800 && u <= 0xDBFF) {
				u = 0x10000 + ((u - 0xD800) << 10) +
				    ((uint32_t)hex_value(p + 2) - 0xDC00);
				p += 6;
			}
			n += put_utf8(u, out + n);
			break;
		}
		default: /* '"', '\\', '/' */
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	return n;
}
