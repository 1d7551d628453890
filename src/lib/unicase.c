/*
 * i;unicode-casemap (RFC 5051): the collation keys SORT and THREAD
 * compare.  The tables (include/unicase_data.h, made by
 * scripts/gen-unicase) hold, for each code point the collation changes,
 * what it becomes: runs of one-to-one mappings and a pool of longer
 * decompositions, both sorted, searched by bisection.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mime.h"
#include "unicase.h"
#include "unicase_data.h"

#define UNICASE_REPLACEMENT	0xfffd

static size_t	 utf8_put(uint32_t, char *);

/* Decode one UTF-8 character at s (len > 0): bytes used (1 if bad). */
size_t
unicase_utf8_next(const char *s, size_t len, uint32_t *cp)
{
	const unsigned char	*u = (const unsigned char *)s;
	uint32_t		 c, min;
	size_t			 n, i;

	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	}
	if ((u[0] & 0xe0) == 0xc0) {
		n = 2;
		c = u[0] & 0x1f;
		min = 0x80;
	} else if ((u[0] & 0xf0) == 0xe0) {
		n = 3;
		c = u[0] & 0x0f;
		min = 0x800;
	} else if ((u[0] & 0xf8) == 0xf0) {
		n = 4;
		c = u[0] & 0x07;
		min = 0x10000;
	} else
		goto bad;
	if (n > len)
		goto bad;
	for (i = 1; i < n; i++) {
		if ((u[i] & 0xc0) != 0x80)
			goto bad;
		c = (c << 6) | (u[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are not UTF-8. */
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		goto bad;
	*cp = c;
	return n;
 bad:
	*cp = UNICASE_REPLACEMENT;
	return 1;
}

static size_t
utf8_put(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* What one code point becomes: n code points in out[0..n), n <= max. */
size_t
unicase_map(uint32_t c, uint32_t *out, size_t max)
{
	size_t	 lo, hi, mid, i, n;

	if (max == 0)
		return 0;
	if (c < 0x80) {
		out[0] = c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
		return 1;
	}
	lo = 0;
	hi = sizeof(unicase_runs) / sizeof(unicase_runs[0]);
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (c < unicase_runs[mid].first)
			hi = mid;
		else if (c >= unicase_runs[mid].first +
		    unicase_runs[mid].count)
			lo = mid + 1;
		else {
			out[0] = unicase_runs[mid].to + (c -
			    unicase_runs[mid].first);
			return 1;
		}
	}
	lo = 0;
	hi = sizeof(unicase_multis) / sizeof(unicase_multis[0]);
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (c < unicase_multis[mid].cp)
			hi = mid;
		else if (c > unicase_multis[mid].cp)
			lo = mid + 1;
		else {
			n = unicase_multis[mid].len;
			if (n > max)
				n = max;
			for (i = 0; i < n; i++)
				out[i] = unicase_pool[unicase_multis[mid].off +
				    i];
			return n;
		}
	}
	out[0] = c;
	return 1;
}

size_t
unicase_key(struct mbuf *out, const char *s, size_t len, size_t max)
{
	uint32_t	 c, m[32];
	char		 u[4 * 32];
	size_t		 i = 0, n, k, w, total = 0;

	while (i < len) {
		/* ASCII runs, the common case, without the tables. */
		if ((unsigned char)s[i] < 0x80) {
			if (s[i] == '\0') {	/* keys are C strings */
				i++;
				continue;
			}
			if (total == max)
				break;
			u[0] = s[i] >= 'a' && s[i] <= 'z' ? s[i] - 'a' + 'A' :
			    s[i];
			mbuf_add(out, u, 1);
			total++;
			i++;
			continue;
		}
		i += unicase_utf8_next(s + i, len - i, &c);
		n = unicase_map(c, m, sizeof(m) / sizeof(m[0]));
		for (k = 0, w = 0; k < n; k++)
			w += utf8_put(m[k], u + w);
		if (total + w > max)
			break;
		mbuf_add(out, u, w);
		total += w;
	}
	mbuf_add(out, "", 0);
	return total;
}
