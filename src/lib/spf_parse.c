/*
 * The syntax of SPF records (RFC 7208 appendix A) and macro expansion
 * (section 7) for spf.c: terms with their qualifiers and CIDR lengths,
 * modifiers, domain-specs and their domain-end, macro strings checked
 * and expanded with transformers, delimiters and URL escaping.  The
 * values of the macro letters come from the check (spf_macro_value());
 * all else here is text in, text out, bounded by its buffers.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "dns.h"
#include "spf.h"
#include "spf_priv.h"

static int	 dual_cidr(const char *, size_t *, struct spf_term *);
static int	 cidr_num(const char *, size_t, int, int *);
static size_t	 trailing_digits(const char *, size_t);
static int	 ip4_parse(const char *, size_t, unsigned char *);
static int	 toplabel(const char *, size_t);
static int	 macro(struct spf *, const char *, const char *, size_t,
		    size_t *, enum spf_xmode, struct spf_sink *);
static void	 transform(const char *, size_t, const char *, size_t, int,
		    int, int, struct spf_sink *);
static void	 put(struct spf_sink *, const char *, size_t);
static void	 put_escaped(struct spf_sink *, const char *, size_t);
static int	 is_alpha(int);
static int	 is_digit(int);

static const struct {
	const char	*name;
	enum mech	 mech;
} mechs[] = {
	{ "all", M_ALL },
	{ "include", M_INCLUDE },
	{ "a", M_A },
	{ "mx", M_MX },
	{ "ptr", M_PTR },
	{ "ip4", M_IP4 },
	{ "ip6", M_IP6 },
	{ "exists", M_EXISTS }
};

/* -- terms (appendix A) -- */

int
spf_record_check(const char *rec, size_t len, char *why, size_t whysz)
{
	struct spf_term	 redir, exp;
	size_t		 i;

	if (whysz > 0)
		why[0] = '\0';
	if (len < 6 || strncasecmp(rec, "v=spf1", 6) != 0 ||
	    (len > 6 && rec[6] != ' '))
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)rec[i] < 0x20 ||
		    (unsigned char)rec[i] > 0x7e) {
			(void)snprintf(why, whysz, "a byte 0x%02x",
			    (unsigned char)rec[i]);
			return -1;
		}
	return spf_record_terms(rec, len, "record", &redir, &exp, why, whysz) ==
	    -1 ? -1 : 1;
}

/*
 * 4.6: every term of a record checked before any is evaluated; redirect=
 * and exp= found (spec NULL when absent), each at most once (6).  0, or
 * -1 with the reason in why.
 */
int
spf_record_terms(const char *rec, size_t reclen, const char *d,
    struct spf_term *redir, struct spf_term *exp, char *why, size_t whysz)
{
	struct spf_term	 t;
	const char	*s;
	size_t		 pos = 6, len;
	char		 err[SPF_PROBLEM_MAX];

	memset(redir, 0, sizeof(*redir));
	memset(exp, 0, sizeof(*exp));
	while (spf_next_term(rec, reclen, &pos, &s, &len)) {
		if (spf_term_parse(s, len, &t, err, sizeof(err)) == -1) {
			(void)snprintf(why, whysz, "%s: %s", d, err);
			return -1;
		}
		if (t.mod == MOD_REDIRECT || t.mod == MOD_EXP) {
			if ((t.mod == MOD_REDIRECT ? redir : exp)->spec !=
			    NULL) {
				(void)snprintf(why, whysz, "%s: %s= twice", d,
				    t.mod == MOD_REDIRECT ? "redirect" :
				    "exp");
				return -1;
			}
			*(t.mod == MOD_REDIRECT ? redir : exp) = t;
		}
	}
	return 0;
}

/* The next term after *pos (terms are separated by spaces): 1, or 0. */
int
spf_next_term(const char *rec, size_t reclen, size_t *pos, const char **s,
    size_t *len)
{
	size_t	 p = *pos, start;

	while (p < reclen && rec[p] == ' ')
		p++;
	if (p >= reclen)
		return 0;
	start = p;
	while (p < reclen && rec[p] != ' ')
		p++;
	*s = rec + start;
	*len = p - start;
	*pos = p;
	return 1;
}

/*
 * One term into t: 0, or -1 with why (when given) saying what is wrong.
 * Modifiers are "name=" (6); their names and the mechanisms' are ABNF
 * literals, case-insensitive.
 */
int
spf_term_parse(const char *s, size_t len, struct spf_term *t, char *why,
    size_t whysz)
{
	const char	*rest, *err = NULL;
	char		 addr[INET6_ADDRSTRLEN + 1];
	size_t		 i, n, restlen, alen;

	memset(t, 0, sizeof(*t));
	t->text = s;
	t->len = len;
	t->qual = SPF_PASS;
	t->cidr4 = 32;
	t->cidr6 = 128;
	if (is_alpha(s[0])) {
		for (i = 1; i < len && (is_alpha(s[i]) || is_digit(s[i]) ||
		    s[i] == '-' || s[i] == '_' || s[i] == '.'); i++)
			;
		if (i < len && s[i] == '=') {
			if (i == 8 && strncasecmp(s, "redirect", 8) == 0)
				t->mod = MOD_REDIRECT;
			else if (i == 3 && strncasecmp(s, "exp", 3) == 0)
				t->mod = MOD_EXP;
			else
				t->mod = MOD_UNKNOWN;
			t->spec = s + i + 1;
			t->speclen = len - i - 1;
			if (t->mod == MOD_UNKNOWN) {
				if (spf_macro_expand(NULL, NULL, t->spec,
				    t->speclen, X_DOMAIN, NULL, &n, NULL) !=
				    SR_OK)
					err = "bad macro in a modifier";
			} else if (!spf_spec_valid(t->spec, t->speclen))
				err = "not a domain-spec";
			goto done;
		}
	}
	i = 0;
	switch (s[0]) {
	case '+':
		i = 1;
		break;
	case '-':
		t->qual = SPF_FAIL;
		i = 1;
		break;
	case '~':
		t->qual = SPF_SOFTFAIL;
		i = 1;
		break;
	case '?':
		t->qual = SPF_NEUTRAL;
		i = 1;
		break;
	}
	for (n = i; n < len && s[n] != ':' && s[n] != '/'; n++)
		;
	rest = s + n;
	restlen = len - n;
	for (n = 0; n < nitems(mechs); n++)
		if (strlen(mechs[n].name) == (size_t)(rest - s - i) &&
		    strncasecmp(mechs[n].name, s + i, rest - s - i) == 0)
			break;
	if (n == nitems(mechs)) {
		err = "unknown mechanism";
		goto done;
	}
	t->mech = mechs[n].mech;
	switch (t->mech) {
	case M_ALL:
		if (restlen != 0)
			err = "\"all\" takes nothing";
		break;
	case M_A:
	case M_MX:
	case M_PTR:
		if (t->mech != M_PTR && dual_cidr(rest, &restlen, t) == -1) {
			err = "bad CIDR length";
			break;
		}
		if (restlen == 0)
			break;
		/* FALLTHROUGH */
	case M_INCLUDE:
	case M_EXISTS:
		if (restlen < 2 || rest[0] != ':' ||
		    !spf_spec_valid(rest + 1, restlen - 1)) {
			err = "not a domain-spec";
			break;
		}
		t->spec = rest + 1;
		t->speclen = restlen - 1;
		break;
	case M_IP4:
	case M_IP6:
		if (restlen < 2 || rest[0] != ':') {
			err = "no address";
			break;
		}
		rest++;
		restlen--;
		for (alen = restlen; alen > 0 && rest[alen - 1] != '/'; alen--)
			;
		if (alen > 0) {
			if (!cidr_num(rest + alen, restlen - alen,
			    t->mech == M_IP4 ? 32 : 128, t->mech == M_IP4 ?
			    &t->cidr4 : &t->cidr6)) {
				err = "bad CIDR length";
				break;
			}
			alen--;
		} else
			alen = restlen;
		if (t->mech == M_IP4) {
			if (!ip4_parse(rest, alen, t->net))
				err = "bad address";
			break;
		}
		if (alen >= sizeof(addr)) {
			err = "bad address";
			break;
		}
		memcpy(addr, rest, alen);
		addr[alen] = '\0';
		if (inet_pton(AF_INET6, addr, t->net) != 1)
			err = "bad address";
		break;
	}
 done:
	if (err == NULL)
		return 0;
	if (why != NULL)
		(void)snprintf(why, whysz, "%s: \"%.*s\"", err,
		    len > 64 ? 64 : (int)len, s);
	return -1;
}

/*
 * The dual-cidr-length at the end of an a or mx term: "/n", "//n" or
 * "/n//m"; *len shortened to what precedes it.  0, or -1 if malformed.
 */
static int
dual_cidr(const char *rest, size_t *len, struct spf_term *t)
{
	size_t	 n = *len, d;

	d = trailing_digits(rest, n);
	if (d > 0 && n >= d + 2 && rest[n - d - 1] == '/' &&
	    rest[n - d - 2] == '/') {
		if (!cidr_num(rest + n - d, d, 128, &t->cidr6))
			return -1;
		n -= d + 2;
		d = trailing_digits(rest, n);
	}
	if (d > 0 && n > d && rest[n - d - 1] == '/') {
		if (!cidr_num(rest + n - d, d, 32, &t->cidr4))
			return -1;
		n -= d + 1;
	}
	*len = n;
	return 0;
}

/* "0" or a number without leading zero, at most max. */
static int
cidr_num(const char *s, size_t len, int max, int *out)
{
	size_t	 i;
	int	 v = 0;

	if (len == 0 || len > 3 || (s[0] == '0' && len > 1))
		return 0;
	for (i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return 0;
		v = v * 10 + s[i] - '0';
	}
	if (v > max)
		return 0;
	*out = v;
	return 1;
}

static size_t
trailing_digits(const char *s, size_t len)
{
	size_t	 d = 0;

	while (d < len && is_digit(s[len - 1 - d]))
		d++;
	return d;
}

/* ip4-network: four qnum without leading zeros. */
static int
ip4_parse(const char *s, size_t len, unsigned char *out)
{
	size_t	 i = 0, part, start;
	int	 v;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
		start = i;
		for (v = 0; i < len && is_digit(s[i]) && i - start < 3; i++)
			v = v * 10 + s[i] - '0';
		if (i == start || v > 255 || (s[start] == '0' &&
		    i - start > 1))
			return 0;
		out[part] = v;
	}
	return i == len;
}

/*
 * domain-spec = macro-string domain-end; domain-end = "." toplabel
 * ["."] / macro-expand.  Not empty.
 */
int
spf_spec_valid(const char *s, size_t len)
{
	size_t	 tail, l, i;
	int	 endmacro;

	if (len == 0 || spf_macro_expand(NULL, NULL, s, len, X_DOMAIN, NULL,
	    &tail, &endmacro) != SR_OK)
		return 0;
	if (endmacro)
		return 1;
	l = len;
	if (l > tail && s[l - 1] == '.')
		l--;
	for (i = l; i > tail && s[i - 1] != '.'; i--)
		;
	return i > tail && toplabel(s + i, l - i);
}

/*
 * toplabel = ( *alphanum ALPHA *alphanum ) /
 *     ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
 */
static int
toplabel(const char *s, size_t len)
{
	size_t	 i;
	int	 alpha = 0, dash = 0;

	if (len == 0 || s[0] == '-' || s[len - 1] == '-')
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '-')
			dash = 1;
		else if (is_alpha(s[i]))
			alpha = 1;
		else if (!is_digit(s[i]))
			return 0;
	}
	return alpha || dash;
}

/*
 * A macro-string (X_DOMAIN: no spaces, no %{c}, %{r}, %{t}) or an
 * explanation string (X_TEXT) into sk, or only checked when spf is
 * NULL.  *tail: where the literal text after the last macro-expand
 * starts; *endmacro: whether the string ends with one.  SR_OK, SR_BAD on
 * a syntax error, SR_NEED, or an error.
 */
int
spf_macro_expand(struct spf *spf, const char *d, const char *s, size_t len,
    enum spf_xmode mode, struct spf_sink *sk, size_t *tail, int *endmacro)
{
	size_t	 i = 0;
	int	 r, last = 0;

	*tail = 0;
	while (i < len) {
		if (s[i] != '%') {
			if ((unsigned char)s[i] > 0x7e ||
			    (unsigned char)s[i] < (mode == X_TEXT ? 0x20 :
			    0x21))
				return SR_BAD;
			if (spf != NULL)
				put(sk, s + i, 1);
			i++;
			last = 0;
			continue;
		}
		if (i + 1 >= len)
			return SR_BAD;
		switch (s[i + 1]) {
		case '%':
			if (spf != NULL)
				put(sk, "%", 1);
			i += 2;
			break;
		case '_':
			if (spf != NULL)
				put(sk, " ", 1);
			i += 2;
			break;
		case '-':
			if (spf != NULL)
				put(sk, "%20", 3);
			i += 2;
			break;
		case '{':
			if ((r = macro(spf, d, s, len, &i, mode, sk)) != SR_OK)
				return r;
			break;
		default:
			return SR_BAD;
		}
		last = 1;
		*tail = i;
	}
	if (endmacro != NULL)
		*endmacro = last;
	return SR_OK;
}

/*
 * "%{" macro-letter transformers *delimiter "}" at s + *i; *i moves
 * past it.
 */
static int
macro(struct spf *spf, const char *d, const char *s, size_t len,
    size_t *i, enum spf_xmode mode, struct spf_sink *sk)
{
	char		 value[SPF_VALUE_MAX + 1];
	const char	*delims;
	size_t		 p = *i + 2, ndelims;
	int		 letter, digits = 0, n = 0, reverse = 0, r;

	if (p >= len)
		return SR_BAD;
	letter = s[p++];
	switch (letter | 0x20) {
	case 's':
	case 'l':
	case 'o':
	case 'd':
	case 'i':
	case 'p':
	case 'h':
	case 'v':
		break;
	case 'c':
	case 'r':
	case 't':
		/* 7.2: in explanations only. */
		if (mode == X_TEXT)
			break;
		/* FALLTHROUGH */
	default:
		return SR_BAD;
	}
	if (!is_alpha(letter))
		return SR_BAD;
	for (; p < len && is_digit(s[p]); p++, digits++)
		if (n < 1000)
			n = n * 10 + s[p] - '0';
	if (digits > 0 && n == 0)
		return SR_BAD;	/* 7.3: nonzero */
	if (p < len && (s[p] | 0x20) == 'r') {
		reverse = 1;
		p++;
	}
	delims = s + p;
	for (; p < len && strchr(".-+,/_=", s[p]) != NULL && s[p] != '\0';
	    p++)
		;
	ndelims = s + p - delims;
	if (p >= len || s[p] != '}')
		return SR_BAD;
	*i = p + 1;
	if (spf == NULL)
		return SR_OK;
	r = spf_macro_value(spf, letter | 0x20, d, value, sizeof(value));
	if (r != SR_OK)
		return r;
	transform(value, strlen(value), delims, ndelims, digits > 0 ? n : 0,
	    reverse, is_alpha(letter) && letter < 'a', sk);
	return SR_OK;
}

/*
 * 7.3: with transformers or delimiters, the value split on any of the
 * delimiters ("." by default), reversed if asked, its rightmost n parts
 * (all if 0) joined with "."; URL-escaped for an upper-case letter.
 */
static void
transform(const char *v, size_t len, const char *delims, size_t ndelims,
    int n, int reverse, int escape, struct spf_sink *sk)
{
	char		 out[SPF_VALUE_MAX + 1];
	struct spf_sink	 tmp;
	size_t		 start[SPF_VALUE_MAX + 1], end[SPF_VALUE_MAX + 1];
	size_t		 parts = 0, i, first, k;

	if (n == 0 && !reverse && ndelims == 0) {
		if (escape)
			put_escaped(sk, v, len);
		else
			put(sk, v, len);
		return;
	}
	if (ndelims == 0) {
		delims = ".";
		ndelims = 1;
	}
	start[0] = 0;
	for (i = 0; i < len; i++)
		if (memchr(delims, v[i], ndelims) != NULL) {
			end[parts++] = i;
			start[parts] = i + 1;
		}
	end[parts++] = len;
	first = n > 0 && (size_t)n < parts ? parts - n : 0;
	memset(&tmp, 0, sizeof(tmp));
	tmp.buf = out;
	tmp.size = sizeof(out);
	for (i = first; i < parts; i++) {
		k = reverse ? parts - 1 - i : i;
		if (i > first)
			put(&tmp, ".", 1);
		put(&tmp, v + start[k], end[k] - start[k]);
	}
	if (escape)
		put_escaped(sk, out, tmp.len);
	else
		put(sk, out, tmp.len);
}

static void
put(struct spf_sink *sk, const char *s, size_t len)
{
	if (sk->buf == NULL)
		return;
	if (len > sk->size - 1 - sk->len) {
		len = sk->size - 1 - sk->len;
		sk->full = 1;
	}
	memcpy(sk->buf + sk->len, s, len);
	sk->len += len;
}

/* 7.3: all but the unreserved characters of RFC 3986 as %XX. */
static void
put_escaped(struct spf_sink *sk, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789ABCDEF";
	char			 e[3];
	size_t			 i;
	unsigned char		 c;

	for (i = 0; i < len; i++) {
		c = s[i];
		if (is_alpha(c) || is_digit(c) || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			put(sk, s + i, 1);
		else {
			e[0] = '%';
			e[1] = hex[c >> 4];
			e[2] = hex[c & 0xf];
			put(sk, e, 3);
		}
	}
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}
