/*
 * The Public Suffix List: its file format (one rule a line, read up to
 * the first white space; "//" comments; "*." wildcards; "!" exceptions;
 * the "===BEGIN PRIVATE DOMAINS===" marker), a hash table of its rules
 * and the publicsuffix.org lookup algorithm that gives the public suffix
 * and the organisational domain of RFC 7489 3.2.
 *
 * A rule is stored under its name without "*." or "!", with a flag for
 * each form seen: "co.uk" NORMAL, "*.ck" gives "ck" WILD, "!www.ck" gives
 * "www.ck" EXCEPT.  A lookup walks the suffixes of the domain, which are
 * tails of its string, so it copies nothing.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "log.h"
#include "psl.h"
#include "util.h"

#define R_NORMAL	0x01
#define R_WILD		0x02
#define R_EXCEPT	0x04

struct psl_entry {
	uint32_t	 off;		/* into pool; 0: empty slot */
	uint32_t	 hash;
	uint8_t		 flags;
};

struct psl {
	char			*pool;	/* NUL-terminated names */
	size_t			 poollen, poolsize;
	struct psl_entry	*tab;
	size_t			 tabsize;	/* a power of two */
	size_t			 nentries;
	size_t			 nrules;
};

struct psl_parse {
	const char	*name;
	size_t		 line;
	char		*err;
	size_t		 errlen;
};

static int	 parse_error(struct psl_parse *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static uint32_t	 name_hash(const char *, size_t);
static void	 table_grow(struct psl *);
static int	 table_add(struct psl *, const char *, size_t, int);
static const struct psl_entry *table_find(const struct psl *, const char *);
static int	 add_rule(struct psl *, struct psl_parse *, const char *,
		    size_t);
static int	 punycode(const uint32_t *, size_t, char *, size_t, size_t *);
static int	 label_alabel(const char *, size_t, char *, size_t, size_t *);
static int	 normalize_n(const char *, size_t, char *, size_t);
static int	 suffix_labels(const struct psl *, const char *, size_t *,
		    size_t *);

static int
parse_error(struct psl_parse *pp, const char *fmt, ...)
{
	char	 msg[256];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (pp->line > 0)
		(void)snprintf(pp->err, pp->errlen, "%s:%zu: %s", pp->name,
		    pp->line, msg);
	else
		(void)snprintf(pp->err, pp->errlen, "%s: %s", pp->name, msg);
	return -1;
}

/* FNV-1a. */
static uint32_t
name_hash(const char *s, size_t len)
{
	uint32_t	 h = 2166136261u;
	size_t		 i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static void
table_grow(struct psl *psl)
{
	struct psl_entry	*old = psl->tab, *tab, *e;
	size_t			 oldsize = psl->tabsize, size, i, j;

	size = oldsize ? oldsize * 2 : 1024;
	if ((tab = calloc(size, sizeof(*tab))) == NULL)
		fatal("calloc");
	for (i = 0; i < oldsize; i++) {
		if (old[i].off == 0)
			continue;
		for (j = old[i].hash & (size - 1); tab[j].off != 0;
		    j = (j + 1) & (size - 1))
			;
		e = &tab[j];
		*e = old[i];
	}
	free(old);
	psl->tab = tab;
	psl->tabsize = size;
}

/* Add flags to the entry for name[0..len), created if needed. */
static int
table_add(struct psl *psl, const char *name, size_t len, int flags)
{
	struct psl_entry	*e;
	uint32_t		 h = name_hash(name, len);
	size_t			 j, need;
	char			*p;

	/* At most half full: probes stay short. */
	if ((psl->nentries + 1) * 2 > psl->tabsize)
		table_grow(psl);
	for (j = h & (psl->tabsize - 1); psl->tab[j].off != 0;
	    j = (j + 1) & (psl->tabsize - 1)) {
		e = &psl->tab[j];
		if (e->hash == h &&
		    strncmp(psl->pool + e->off, name, len) == 0 &&
		    psl->pool[e->off + len] == '\0') {
			e->flags |= flags;
			return 0;
		}
	}
	need = psl->poollen + len + 1;
	if (need > UINT32_MAX)
		return -1;
	if (need > psl->poolsize) {
		size_t	 size = psl->poolsize ? psl->poolsize : 64 * 1024;

		while (size < need)
			size *= 2;
		if ((p = realloc(psl->pool, size)) == NULL)
			fatal("realloc");
		psl->pool = p;
		psl->poolsize = size;
	}
	e = &psl->tab[j];
	e->off = psl->poollen;
	e->hash = h;
	e->flags = flags;
	memcpy(psl->pool + psl->poollen, name, len);
	psl->pool[psl->poollen + len] = '\0';
	psl->poollen = need;
	psl->nentries++;
	return 0;
}

static const struct psl_entry *
table_find(const struct psl *psl, const char *name)
{
	const struct psl_entry	*e;
	size_t			 len = strlen(name), j;
	uint32_t		 h = name_hash(name, len);

	for (j = h & (psl->tabsize - 1); psl->tab[j].off != 0;
	    j = (j + 1) & (psl->tabsize - 1)) {
		e = &psl->tab[j];
		if (e->hash == h && strcmp(psl->pool + e->off, name) == 0)
			return e;
	}
	return NULL;
}

/*
 * RFC 3492 Punycode encoding of the code points cp[0..n) into out
 * (without the "xn--" prefix); 0, or -1 if it does not fit.
 */
static int
punycode(const uint32_t *cp, size_t n, char *out, size_t outlen,
    size_t *lenp)
{
	const uint32_t	 base = 36, tmin = 1, tmax = 26, skew = 38;
	const uint32_t	 damp = 700;
	uint32_t	 code = 128, delta = 0, bias = 72, m, q, t, k;
	size_t		 h, b = 0, o = 0, i;
	int		 first = 1;

	for (i = 0; i < n; i++) {
		if (cp[i] < 0x80) {
			if (o >= outlen)
				return -1;
			out[o++] = (char)cp[i];
		}
	}
	h = b = o;
	if (b > 0) {
		if (o >= outlen)
			return -1;
		out[o++] = '-';
	}
	while (h < n) {
		m = UINT32_MAX;
		for (i = 0; i < n; i++)
			if (cp[i] >= code && cp[i] < m)
				m = cp[i];
		/* n <= 63 labels' worth of code points: no overflow. */
		delta += (m - code) * (uint32_t)(h + 1);
		code = m;
		for (i = 0; i < n; i++) {
			if (cp[i] < code)
				delta++;
			if (cp[i] != code)
				continue;
			for (q = delta, k = base;; k += base) {
				t = k <= bias ? tmin :
				    k >= bias + tmax ? tmax : k - bias;
				if (q < t)
					break;
				if (o >= outlen)
					return -1;
				m = t + (q - t) % (base - t);
				out[o++] = m < 26 ? 'a' + m : '0' + m - 26;
				q = (q - t) / (base - t);
			}
			if (o >= outlen)
				return -1;
			out[o++] = q < 26 ? 'a' + q : '0' + q - 26;
			/* adapt(delta, h + 1, first) */
			delta = first ? delta / damp : delta / 2;
			delta += delta / (h + 1);
			for (k = 0; delta > ((base - tmin) * tmax) / 2;
			    k += base)
				delta /= base - tmin;
			bias = k + (base - tmin + 1) * delta / (delta + skew);
			first = 0;
			delta = 0;
			h++;
		}
		delta++;
		code++;
	}
	*lenp = o;
	return 0;
}

/*
 * One label s[0..len) in lookup form into out: ASCII lowercased, a
 * U-label Punycode-encoded with "xn--"; 0, or -1 for a bad label.
 */
static int
label_alabel(const char *s, size_t len, char *out, size_t outlen,
    size_t *lenp)
{
	const unsigned char	*p = (const unsigned char *)s;
	uint32_t		 cp[64];
	size_t			 i, n, ncp = 0, plen;
	int			 ascii = 1;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i += n) {
		if ((n = utf8_seq(p + i, len - i, &cp[ncp])) == 0)
			return -1;
		if (n == 1) {
			if (cp[ncp] >= 'A' && cp[ncp] <= 'Z')
				cp[ncp] += 'a' - 'A';
			else if (!((cp[ncp] >= 'a' && cp[ncp] <= 'z') ||
			    (cp[ncp] >= '0' && cp[ncp] <= '9') ||
			    cp[ncp] == '-' || cp[ncp] == '_'))
				return -1;
		} else
			ascii = 0;
		/* A label of more than 63 code points cannot fit. */
		if (++ncp >= nitems(cp))
			return -1;
	}
	if (ascii) {
		if (ncp > 63 || ncp > outlen)
			return -1;
		for (i = 0; i < ncp; i++)
			out[i] = (char)cp[i];
		*lenp = ncp;
		return 0;
	}
	if (outlen < 4)
		return -1;
	memcpy(out, "xn--", 4);
	if (punycode(cp, ncp, out + 4, outlen - 4, &plen) == -1 ||
	    plen + 4 > 63)
		return -1;
	*lenp = plen + 4;
	return 0;
}

/* s[0..len) in lookup form into out (outlen >= PSL_NAME_MAX + 1). */
static int
normalize_n(const char *s, size_t len, char *out, size_t outlen)
{
	char	 label[64];
	size_t	 o = 0, start, end, n, nlabels = 0;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > 4 * PSL_NAME_MAX)
		return -1;
	for (start = 0; start <= len; start = end + 1) {
		for (end = start; end < len && s[end] != '.'; end++)
			;
		if (label_alabel(s + start, end - start, label, sizeof(label),
		    &n) == -1)
			return -1;
		if (++nlabels > PSL_LABELS_MAX)
			return -1;
		if (o + (o > 0) + n > PSL_NAME_MAX || o + (o > 0) + n >= outlen)
			return -1;
		if (o > 0)
			out[o++] = '.';
		memcpy(out + o, label, n);
		o += n;
		if (end == len)
			break;
	}
	out[o] = '\0';
	return 0;
}

int
psl_normalize(const char *domain, char *out, size_t outlen)
{
	return normalize_n(domain, strnlen(domain, 4 * PSL_NAME_MAX + 2), out,
	    outlen);
}

/* One rule line's rule text r[0..len), already cut at white space. */
static int
add_rule(struct psl *psl, struct psl_parse *pp, const char *r, size_t len)
{
	char	 name[PSL_NAME_MAX + 1];
	size_t	 i;
	int	 flags = R_NORMAL;

	if (r[0] == '!') {
		flags = R_EXCEPT;
		r++;
		len--;
		if (memchr(r, '.', len) == NULL)
			return parse_error(pp, "exception rule of one label");
	}
	if (len >= 2 && r[0] == '*' && r[1] == '.') {
		if (flags == R_EXCEPT)
			return parse_error(pp, "exception rule with a "
			    "wildcard");
		flags = R_WILD;
		r += 2;
		len -= 2;
	}
	if (normalize_n(r, len, name, sizeof(name)) == -1) {
		if (memchr(r, '*', len) != NULL)
			return parse_error(pp, "'*' only as a whole leftmost "
			    "label");
		/* Quote it printable: it goes to a log. */
		for (i = 0; i < len && i < sizeof(name) - 1 && i < 64; i++)
			name[i] = r[i] > ' ' && r[i] < 0x7f ? r[i] : '?';
		name[i] = '\0';
		return parse_error(pp, "bad rule \"%s\"", name);
	}
	if (++psl->nrules > PSL_RULES_MAX)
		return parse_error(pp, "more than %d rules", PSL_RULES_MAX);
	if (table_add(psl, name, strlen(name), flags) == -1)
		return parse_error(pp, "list too large");
	return 0;
}

struct psl *
psl_load_buffer(const char *buf, size_t len, const char *name, int flags,
    char *err, size_t errlen)
{
	struct psl		*psl;
	struct psl_parse	 pp;
	const char		*line, *nl, *r;
	size_t			 pos, next, ll, rl;
	int			 private = 0;

	memset(&pp, 0, sizeof(pp));
	pp.name = name;
	pp.err = err;
	pp.errlen = errlen;
	if (len > PSL_FILE_MAX) {
		(void)parse_error(&pp, "larger than %d bytes", PSL_FILE_MAX);
		return NULL;
	}
	if (memchr(buf, '\0', len) != NULL) {
		(void)parse_error(&pp, "NUL byte in the list");
		return NULL;
	}
	if ((psl = calloc(1, sizeof(*psl))) == NULL)
		fatal("calloc");
	table_grow(psl);
	/* Offset 0 marks an empty slot: start the pool with one NUL. */
	if ((psl->pool = malloc(64 * 1024)) == NULL)
		fatal("malloc");
	psl->poolsize = 64 * 1024;
	psl->pool[0] = '\0';
	psl->poollen = 1;
	for (pos = 0; pos < len; pos = next) {
		pp.line++;
		line = buf + pos;
		if ((nl = memchr(line, '\n', len - pos)) == NULL)
			nl = buf + len;
		ll = nl - line;
		next = pos + ll + 1;
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (ll > PSL_LINE_MAX) {
			(void)parse_error(&pp, "line longer than %d bytes",
			    PSL_LINE_MAX);
			goto fail;
		}
		for (r = line; r < line + ll && (*r == ' ' || *r == '\t');
		    r++)
			;
		rl = line + ll - r;
		if (rl >= 2 && r[0] == '/' && r[1] == '/') {
			if (memmem(r, rl, "===BEGIN PRIVATE DOMAINS===",
			    27) != NULL)
				private = 1;
			else if (memmem(r, rl, "===END PRIVATE DOMAINS===",
			    25) != NULL)
				private = 0;
			continue;
		}
		/* Each line is only read up to the first white space. */
		for (rl = 0; r + rl < line + ll && r[rl] != ' ' &&
		    r[rl] != '\t'; rl++)
			;
		if (rl == 0 || (private && (flags & PSL_ICANN_ONLY)))
			continue;
		if (add_rule(psl, &pp, r, rl) == -1)
			goto fail;
	}
	if (psl->nrules == 0) {
		pp.line = 0;
		(void)parse_error(&pp, "no rules");
		goto fail;
	}
	return psl;
 fail:
	psl_free(psl);
	return NULL;
}

struct psl *
psl_load_file(const char *path, int flags, char *err, size_t errlen)
{
	struct psl	*psl;
	char		*buf;
	size_t		 len;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = read_fd(fd, PSL_FILE_MAX, &len)) == NULL) {
		(void)snprintf(err, errlen, "%s: %s", path, errno == EFBIG ?
		    "larger than " "4 MB" : strerror(errno));
		(void)close(fd);
		return NULL;
	}
	(void)close(fd);
	psl = psl_load_buffer(buf, len, path, flags, err, errlen);
	free(buf);
	return psl;
}

void
psl_free(struct psl *psl)
{
	if (psl == NULL)
		return;
	free(psl->pool);
	free(psl->tab);
	free(psl);
}

size_t
psl_rules(const struct psl *psl)
{
	return psl->nrules;
}

/*
 * The labels of the normalised domain d and of its public suffix, in
 * *nlabels and *nsuffix.  The prevailing rule is an exception rule if
 * one matches (the suffix is that rule less its leftmost label), else
 * the matching rule with the most labels, else "*".
 */
static int
suffix_labels(const struct psl *psl, const char *d, size_t *nlabels,
    size_t *nsuffix)
{
	const struct psl_entry	*e;
	size_t			 start[PSL_LABELS_MAX + 1], n = 0, i, ps = 1;
	const char		*p;

	start[n++] = 0;
	for (p = d; *p != '\0'; p++) {
		if (*p == '.') {
			if (n >= nitems(start))
				return -1;
			start[n++] = p + 1 - d;
		}
	}
	for (i = n; i-- > 0;) {
		if ((e = table_find(psl, d + start[i])) != NULL) {
			if (e->flags & R_EXCEPT) {
				ps = n - i - 1;
				break;
			}
			if ((e->flags & R_NORMAL) && n - i > ps)
				ps = n - i;
		}
		/* "*.<suffix from label i + 1>" matches label i. */
		if (i + 1 < n && (e = table_find(psl, d + start[i + 1])) !=
		    NULL && (e->flags & R_WILD) && n - i > ps)
			ps = n - i;
	}
	*nlabels = n;
	*nsuffix = ps;
	return 0;
}

int
psl_public_suffix(const struct psl *psl, const char *domain, char *out,
    size_t outlen)
{
	char		 d[PSL_NAME_MAX + 1];
	const char	*s;
	size_t		 n, ps, skip;

	if (psl_normalize(domain, d, sizeof(d)) == -1 ||
	    suffix_labels(psl, d, &n, &ps) == -1)
		return -1;
	for (s = d, skip = n > ps ? n - ps : 0; skip > 0; skip--)
		s = strchr(s, '.') + 1;
	if (strlcpy(out, s, outlen) >= outlen)
		return -1;
	return 0;
}

int
psl_org_domain(const struct psl *psl, const char *domain, char *out,
    size_t outlen)
{
	char		 d[PSL_NAME_MAX + 1];
	const char	*s = d;
	size_t		 n, ps, skip;

	if (psl_normalize(domain, d, sizeof(d)) == -1 ||
	    suffix_labels(psl, d, &n, &ps) == -1)
		return -1;
	if (n <= ps) {
		if (strlcpy(out, d, outlen) >= outlen)
			return -1;
		return 0;
	}
	for (skip = n - ps - 1; skip > 0; skip--)
		s = strchr(s, '.') + 1;
	if (strlcpy(out, s, outlen) >= outlen)
		return -1;
	return 1;
}
