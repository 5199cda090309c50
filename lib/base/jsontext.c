#include "lib/base/jsontext.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/buf.h"
#include "lib/base/calendar.h"

struct out {
	struct buf *text;
	int failed; /* out of memory: the rest is not written */
};

static void put(struct out *o, const char *s, size_t n)
{
	if (!o->failed && buf_add(o->text, s, n))
		o->failed = 1;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* What jsontext_real() writes is defined by this loop: the first of
 * "%.15g", "%.16g" and "%.17g" that reads back as d. */
static void real_by_printf(double d, char *buf, size_t len)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
}

/* The same text, computed without printf or strtod for the doubles
 * tradelearn mostly writes (about 4e-6 to 9e15 in magnitude). With
 * d = M·2^-s (M the 53-bit significand) and k = 16 - X (X the decimal
 * exponent of d), N = M·10^k is exact in 128 bits, and so is everything
 * below: the p-digit rounding of d is that of N / 2^s to 17 - p fewer
 * digits, and a rounding c reads back as d exactly when it lies within
 * half a gap between doubles of d, |c·2^s - N| < 10^k / 2. A rounding tie
 * and a tie with the half gap (strtod then rounds to even), a power of two
 * (whose gap below is half the gap above) and other magnitudes leave it to
 * real_by_printf(): 0 when done, -1 for those. */
typedef unsigned __int128 u128;

static int real_exact(double d, char *buf)
{
	static const uint64_t pow10_64[] = {1,
					    10,
					    100,
					    1000,
					    10000,
					    100000,
					    1000000,
					    10000000,
					    100000000,
					    1000000000,
					    10000000000ULL,
					    100000000000ULL,
					    1000000000000ULL,
					    10000000000000ULL,
					    100000000000000ULL,
					    1000000000000000ULL,
					    10000000000000000ULL,
					    100000000000000000ULL,
					    1000000000000000000ULL,
					    10000000000000000000ULL};
	uint64_t bits;
	memcpy(&bits, &d, sizeof bits);
	int biased = (int)(bits >> 52 & 0x7ff);
	uint64_t m = bits & ((UINT64_C(1) << 52) - 1);
	if (biased == 0 || m == 0)
		return -1; /* zero, subnormal, or a power of two */
	m |= UINT64_C(1) << 52;
	int s = 1075 - biased;
	if (s < 1 || s > 70)
		return -1;
	int x = (int)floor(log10(fabs(d)));
	u128 n = 0;
	uint64_t q = 0;
	for (int tries = 0; tries < 3; tries++) {
		int k = 16 - x;
		if (k < 0 || k > 22)
			return -1;
		u128 p10 = k > 19 ? (u128)pow10_64[k - 19] * pow10_64[19] : pow10_64[k];
		n = (u128)m * p10;
		q = (uint64_t)(n >> s);
		if (q >= pow10_64[17])
			x++;
		else if (q < pow10_64[16])
			x--;
		else
			break;
	}
	if (q >= pow10_64[17] || q < pow10_64[16])
		return -1;
	int k = 16 - x;
	u128 ten_k = k > 19 ? (u128)pow10_64[k - 19] * pow10_64[19] : pow10_64[k];
	u128 low = n & (((u128)1 << s) - 1);
	uint64_t c = q;
	int p = 15;
	for (; p <= 17; p++) {
		uint64_t unit = pow10_64[17 - p];
		c = q / unit;
		u128 rest = ((u128)(q % unit) << s) + low, half = (u128)unit << (s - 1);
		if (rest == half)
			return -1;
		if (rest > half)
			c++;
		if (p == 17)
			break;
		u128 at = ((u128)c * unit) << s;
		u128 diff = at > n ? at - n : n - at;
		if (2 * diff == ten_k)
			return -1;
		if (2 * diff < ten_k)
			break;
	}
	/* c has p digits, or p + 1 when rounding carried into a new one. */
	char digits[24];
	int nd = 0, exp10 = x;
	if (c == pow10_64[p]) {
		c /= 10;
		exp10++;
	}
	for (uint64_t v = c; v; v /= 10)
		nd++;
	digits[nd] = '\0';
	for (int i = nd - 1; i >= 0; i--, c /= 10)
		digits[i] = (char)('0' + c % 10);
	while (nd > 1 && digits[nd - 1] == '0')
		digits[--nd] = '\0';
	/* "%.{p}g": exponent style below 1e-4 and from 10^p on. */
	char *at = buf;
	if (d < 0)
		*at++ = '-';
	if (exp10 < -4 || exp10 >= p) {
		int e = exp10 < 0 ? -exp10 : exp10;
		*at++ = digits[0];
		if (nd > 1) {
			*at++ = '.';
			memcpy(at, digits + 1, (size_t)nd - 1);
			at += nd - 1;
		}
		*at++ = 'e';
		*at++ = exp10 < 0 ? '-' : '+';
		if (e >= 100)
			*at++ = (char)('0' + e / 100);
		*at++ = (char)('0' + e / 10 % 10);
		*at++ = (char)('0' + e % 10);
	} else if (exp10 >= 0) {
		int whole = exp10 + 1;
		for (int i = 0; i < whole; i++)
			*at++ = i < nd ? digits[i] : '0';
		if (nd > whole) {
			*at++ = '.';
			memcpy(at, digits + whole, (size_t)(nd - whole));
			at += nd - whole;
		}
	} else {
		*at++ = '0';
		*at++ = '.';
		for (int i = 0; i < -exp10 - 1; i++)
			*at++ = '0';
		memcpy(at, digits, (size_t)nd);
		at += nd;
	}
	*at = '\0';
	return 0;
}

void jsontext_real(double d, char *buf, size_t len)
{
	char text[40];
	if (!isfinite(d)) {
		snprintf(buf, len, "null");
		return;
	}
	if (real_exact(d, text))
		real_by_printf(d, text, sizeof text);
	/* Keep it a JSON real: "1" would read back as an integer. */
	size_t n = strlen(text);
	if (!strpbrk(text, ".eEn"))
		memcpy(text + n, ".0", 3), n += 2;
	if (n >= len)
		n = len - 1;
	memcpy(buf, text, n);
	buf[n] = '\0';
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
	case JSON_INTEGER: {
		/* The digits from the last, as "%lld" writes them. */
		json_int_t i = json_integer_value(v);
		unsigned long long u = i < 0 ? 0 - (unsigned long long)i : (unsigned long long)i;
		char *at = num + sizeof num;
		do
			*--at = (char)('0' + u % 10);
		while (u /= 10);
		if (i < 0)
			*--at = '-';
		put(o, at, (size_t)(num + sizeof num - at));
		break;
	}
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
	struct buf text = BUF_INIT;
	struct out o = {&text, 0};
	dump(&o, v, style, 0);
	if (style == JSONTEXT_PRETTY)
		put(&o, "\n", 1);
	if (o.failed) {
		buf_release(&text);
		return NULL;
	}
	return buf_detach(&text, len);
}

int jsontext_add(struct buf *b, const json_t *v, int style)
{
	struct out o = {b, 0};
	dump(&o, v, style, 0);
	return o.failed ? -1 : 0;
}

int jsontext_add_string(struct buf *b, const char *s, size_t n)
{
	struct out o = {b, 0};
	put_string(&o, s, n);
	return o.failed ? -1 : 0;
}

int jsontext_add_real(struct buf *b, double d)
{
	char num[40];
	jsontext_real(d, num, sizeof num);
	return buf_add(b, num, strlen(num));
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
