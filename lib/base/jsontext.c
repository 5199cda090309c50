#include "lib/base/jsontext.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/buf.h"
#include "lib/base/calendar.h"

struct out {
	struct buf text;
	int failed; /* out of memory: the rest is not written */
};

static void put(struct out *o, const char *s, size_t n)
{
	if (!o->failed && buf_add(&o->text, s, n))
		o->failed = 1;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

void jsontext_real(double d, char *buf, size_t len)
{
	if (!isfinite(d)) {
		snprintf(buf, len, "null");
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	/* Keep it a JSON real: "1" would read back as an integer. */
	if (!strpbrk(buf, ".eEn")) {
		size_t n = strlen(buf);
		if (n + 2 < len)
			memcpy(buf + n, ".0", 3);
	}
}

json_t *jsontext_real_or_null(double d)
{
	return isfinite(d) ? json_real(d) : json_null();
}

json_t *jsontext_time_or_null(int64_t us)
{
	char iso[40];
	if (us == CALENDAR_NONE)
		return json_null();
	calendar_format_iso(us, iso, sizeof iso);
	return json_string(iso);
}

static void put_string(struct out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	put(o, "\"", 1);
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[7];
		if (c == '"')
			esc = "\\\"";
		else if (c == '\\')
			esc = "\\\\";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\r')
			esc = "\\r";
		else if (c == '\t')
			esc = "\\t";
		else if (c < 0x20) {
			memcpy(u, "\\u00", 4);
			u[4] = hex[c >> 4];
			u[5] = hex[c & 15];
			u[6] = '\0';
			esc = u;
		}
		if (esc) {
			put(o, s + start, i - start);
			puts_(o, esc);
			start = i + 1;
		}
	}
	put(o, s + start, n - start);
	put(o, "\"", 1);
}

static void indent(struct out *o, int style, int depth)
{
	if (style != JSONTEXT_PRETTY)
		return;
	put(o, "\n", 1);
	for (int i = 0; i < depth; i++)
		put(o, "  ", 2);
}

static void dump(struct out *o, const json_t *v, int style, int depth)
{
	char num[40];
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *val;
		int first = 1;
		put(o, "{", 1);
		json_object_foreach((json_t *)v, key, val)
		{
			if (!first)
				put(o, ",", 1);
			first = 0;
			indent(o, style, depth + 1);
			put_string(o, key, strlen(key));
			puts_(o, style == JSONTEXT_PRETTY ? ": " : ":");
			dump(o, val, style, depth + 1);
		}
		if (!first)
			indent(o, style, depth);
		put(o, "}", 1);
		break;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *val;
		put(o, "[", 1);
		json_array_foreach((json_t *)v, i, val)
		{
			if (i)
				put(o, ",", 1);
			indent(o, style, depth + 1);
			dump(o, val, style, depth + 1);
		}
		if (json_array_size(v))
			indent(o, style, depth);
		put(o, "]", 1);
		break;
	}
	case JSON_STRING:
		put_string(o, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		puts_(o, num);
		break;
	case JSON_REAL:
		jsontext_real(json_real_value(v), num, sizeof num);
		puts_(o, num);
		break;
	case JSON_TRUE:
		puts_(o, "true");
		break;
	case JSON_FALSE:
		puts_(o, "false");
		break;
	case JSON_NULL:
		puts_(o, "null");
		break;
	}
}

char *jsontext_dump(const json_t *v, int style, size_t *len)
{
	struct out o = {BUF_INIT, 0};
	dump(&o, v, style, 0);
	if (style == JSONTEXT_PRETTY)
		put(&o, "\n", 1);
	if (o.failed) {
		buf_release(&o.text);
		return NULL;
	}
	return buf_detach(&o.text, len);
}

void jsontext_copy_utf8(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}
