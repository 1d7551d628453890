/*
 * Mailbox names: modified UTF-7 and UTF-8 validation, the mapping of
 * IMAP names to Maildir++ directories and back (see mailbox.h for the
 * on-disk format and what is refused), LIST hierarchy and pattern
 * matching, and the SPECIAL-USE folder table.  Nothing here touches
 * the file system: the caller reads directories and the strings coming
 * in are hostile.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "log.h"
#include "mailbox.h"

#define MU7_DOT		0x01	/* "." is base64-encoded (disk form) */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int	 b64val(unsigned char);
static int	 utf8_next(const unsigned char *, size_t, size_t *, uint32_t *);
static int	 put_utf8(char *, size_t, size_t *, uint32_t);
static int	 mu7_decode(const char *, size_t, int, char *, size_t);
static int	 mu7_encode(const char *, size_t, int, char *, size_t);
static int	 mu7_flush(char *, size_t, size_t *, const uint16_t *, size_t);
static int	 component_ok(const char *, size_t, const char **);
static int	 is_inbox(const char *, size_t);
static int	 name_split_check(char *, const char **);
static void	 list_add(struct mailbox_list *, const char *, int);
static int	 namecmp(const void *, const void *);
static int	 entcmp(const void *, const void *);
static struct mailbox_entry *list_find(struct mailbox_list *, const char *);

const struct mailbox_special mailbox_specials[] = {
	{ "Drafts",	"\\Drafts" },
	{ "Sent",	"\\Sent" },
	{ "Trash",	"\\Trash" },
	{ "Junk",	"\\Junk" },
	{ "Archive",	"\\Archive" },
};
const size_t mailbox_nspecials = nitems(mailbox_specials);

static int
b64val(unsigned char c)
{
	const char	*p;

	if (c == '\0' || (p = strchr(b64, c)) == NULL)
		return -1;
	return p - b64;
}

/* Decode one UTF-8 sequence at s[*i]; -1 if malformed. */
static int
utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp)
{
	uint32_t	 c, min;
	size_t		 n, k;

	c = s[*i];
	if (c < 0x80) {
		n = 0;
		min = 0;
	} else if ((c & 0xe0) == 0xc0) {
		n = 1;
		c &= 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 2;
		c &= 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 3;
		c &= 0x07;
		min = 0x10000;
	} else
		return -1;
	if (len - *i <= n)
		return -1;
	for (k = 1; k <= n; k++) {
		if ((s[*i + k] & 0xc0) != 0x80)
			return -1;
		c = (c << 6) | (s[*i + k] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*i += n + 1;
	*cp = c;
	return 0;
}

int
mailbox_utf8_valid(const char *s, size_t len)
{
	size_t		 i = 0;
	uint32_t	 cp;

	while (i < len)
		if (utf8_next((const unsigned char *)s, len, &i, &cp) == -1)
			return 0;
	return 1;
}

static int
put_utf8(char *out, size_t outsz, size_t *o, uint32_t c)
{
	unsigned char	 b[4];
	size_t		 n, k;

	if (c < 0x80) {
		b[0] = c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = 0xc0 | (c >> 6);
		b[1] = 0x80 | (c & 0x3f);
		n = 2;
	} else if (c < 0x10000) {
		b[0] = 0xe0 | (c >> 12);
		b[1] = 0x80 | ((c >> 6) & 0x3f);
		b[2] = 0x80 | (c & 0x3f);
		n = 3;
	} else {
		b[0] = 0xf0 | (c >> 18);
		b[1] = 0x80 | ((c >> 12) & 0x3f);
		b[2] = 0x80 | ((c >> 6) & 0x3f);
		b[3] = 0x80 | (c & 0x3f);
		n = 4;
	}
	if (outsz - *o <= n)
		return -1;
	for (k = 0; k < n; k++)
		out[(*o)++] = b[k];
	return 0;
}

/*
 * Modified UTF-7 -> UTF-8.  Structural errors are caught here; the
 * canonical-form rules (no encoded printable ASCII, no adjacent runs,
 * shortest padding) by re-encoding and comparing.
 */
static int
mu7_decode(const char *in, size_t len, int how, char *out, size_t outsz)
{
	char		 re[MAILBOX_WIRE_MAX + 1];
	size_t		 i = 0, o = 0, j;
	uint32_t	 bits, hi, c;
	int		 nbits, v;

	if (outsz == 0)
		return -1;
	while (i < len) {
		c = (unsigned char)in[i];
		if (c < 0x20 || c > 0x7e)
			return -1;
		if (c == '.' && (how & MU7_DOT))
			return -1;
		if (c != '&') {
			if (outsz - o <= 1)
				return -1;
			out[o++] = c;
			i++;
			continue;
		}
		i++;
		if (i < len && in[i] == '-') {
			if (outsz - o <= 1)
				return -1;
			out[o++] = '&';
			i++;
			continue;
		}
		bits = 0;
		nbits = 0;
		hi = 0;
		for (j = i; j < len && in[j] != '-'; j++) {
			if ((v = b64val(in[j])) == -1)
				return -1;
			bits = (bits << 6) | v;
			nbits += 6;
			if (nbits < 16)
				continue;
			nbits -= 16;
			c = (bits >> nbits) & 0xffff;
			bits &= (1U << nbits) - 1;
			if (c >= 0xd800 && c <= 0xdbff) {
				if (hi != 0)
					return -1;
				hi = c;
				continue;
			}
			if (c >= 0xdc00 && c <= 0xdfff) {
				if (hi == 0)
					return -1;
				c = 0x10000 + ((hi - 0xd800) << 10) +
				    (c - 0xdc00);
				hi = 0;
			} else if (hi != 0 || c == 0)
				return -1;	/* a NUL would cut the name */
			if (put_utf8(out, outsz, &o, c) == -1)
				return -1;
		}
		/* unterminated, empty, dangling surrogate or bad padding */
		if (j == len || j == i || hi != 0 || nbits >= 6 || bits != 0)
			return -1;
		i = j + 1;
	}
	out[o] = '\0';
	if (mu7_encode(out, o, how, re, sizeof(re)) == -1 ||
	    strlen(re) != len || memcmp(re, in, len) != 0)
		return -1;
	return 0;
}

static int
mu7_flush(char *out, size_t outsz, size_t *o, const uint16_t *u, size_t n)
{
	uint32_t	 bits = 0;
	size_t		 k;
	int		 nbits = 0;

	if (outsz - *o <= 1)
		return -1;
	out[(*o)++] = '&';
	for (k = 0; k < n; k++) {
		bits = (bits << 16) | u[k];
		nbits += 16;
		while (nbits >= 6) {
			nbits -= 6;
			if (outsz - *o <= 1)
				return -1;
			out[(*o)++] = b64[(bits >> nbits) & 0x3f];
		}
		bits &= (1U << nbits) - 1;
	}
	if (nbits > 0) {
		if (outsz - *o <= 1)
			return -1;
		out[(*o)++] = b64[(bits << (6 - nbits)) & 0x3f];
	}
	if (outsz - *o <= 1)
		return -1;
	out[(*o)++] = '-';
	return 0;
}

static int
mu7_encode(const char *in, size_t len, int how, char *out, size_t outsz)
{
	uint16_t	 u[MAILBOX_NAME_MAX * 2];
	size_t		 i = 0, o = 0, nu = 0;
	uint32_t	 c;

	if (outsz == 0)
		return -1;
	while (i < len) {
		if (utf8_next((const unsigned char *)in, len, &i, &c) == -1)
			return -1;
		if (c >= 0x20 && c <= 0x7e && !(c == '.' && (how & MU7_DOT))) {
			if (nu > 0 && mu7_flush(out, outsz, &o, u, nu) == -1)
				return -1;
			nu = 0;
			if (outsz - o <= (c == '&' ? 2U : 1U))
				return -1;
			out[o++] = c;
			if (c == '&')
				out[o++] = '-';
			continue;
		}
		if (nu + 2 > nitems(u))
			return -1;
		if (c >= 0x10000) {
			c -= 0x10000;
			u[nu++] = 0xd800 | (c >> 10);
			u[nu++] = 0xdc00 | (c & 0x3ff);
		} else
			u[nu++] = c;
	}
	if (nu > 0 && mu7_flush(out, outsz, &o, u, nu) == -1)
		return -1;
	out[o] = '\0';
	return 0;
}

int
mailbox_mutf7_decode(const char *in, char *out, size_t outsz)
{
	size_t	 len = strlen(in);

	if (len > MAILBOX_WIRE_MAX)
		return -1;
	return mu7_decode(in, len, 0, out, outsz);
}

int
mailbox_mutf7_encode(const char *in, char *out, size_t outsz)
{
	size_t	 len = strlen(in);

	if (len > MAILBOX_NAME_MAX)
		return -1;
	return mu7_encode(in, len, 0, out, outsz);
}

/* One UTF-8 component of a canonical name. */
static int
component_ok(const char *s, size_t len, const char **errstr)
{
	size_t		 i = 0;
	uint32_t	 c;

	if (len == 0) {
		*errstr = "empty hierarchy level";
		return -1;
	}
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' &&
	    s[1] == '.')) {
		*errstr = "\".\" and \"..\" are not mailbox names";
		return -1;
	}
	while (i < len) {
		if (utf8_next((const unsigned char *)s, len, &i, &c) == -1) {
			*errstr = "invalid UTF-8";
			return -1;
		}
		if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
			*errstr = "control character in mailbox name";
			return -1;
		}
		if (c == '\\' || c == '*' || c == '%') {
			*errstr = "character not allowed in mailbox name";
			return -1;
		}
	}
	return 0;
}

static int
is_inbox(const char *s, size_t len)
{
	return len == 5 && strncasecmp(s, "INBOX", 5) == 0;
}

/* Check every component of a UTF-8 name; upper-case a leading INBOX. */
static int
name_split_check(char *name, const char **errstr)
{
	char	*p, *e;

	if (*name == '\0') {
		*errstr = "empty mailbox name";
		return -1;
	}
	for (p = name;; p = e + 1) {
		if ((e = strchr(p, MAILBOX_SEP)) == NULL)
			e = p + strlen(p);
		if (component_ok(p, e - p, errstr) == -1)
			return -1;
		if (p == name && is_inbox(p, e - p))
			memcpy(p, "INBOX", 5);
		if (*e == '\0')
			break;
	}
	return 0;
}

int
mailbox_name_canon(const char *in, int flags, char *out, size_t outsz,
    const char **errstr)
{
	const char	*dummy;
	size_t		 len;

	if (errstr == NULL)
		errstr = &dummy;
	*errstr = "invalid mailbox name";
	if (outsz == 0)
		return -1;
	len = strnlen(in, MAILBOX_WIRE_MAX + 1);
	if (len > MAILBOX_WIRE_MAX) {
		*errstr = "mailbox name too long";
		return -1;
	}
	if (flags & MAILBOX_UTF8) {
		if (!mailbox_utf8_valid(in, len)) {
			*errstr = "invalid UTF-8 in mailbox name";
			return -1;
		}
		if (strlcpy(out, in, outsz) >= outsz) {
			*errstr = "mailbox name too long";
			return -1;
		}
	} else if (mu7_decode(in, len, 0, out, outsz) == -1) {
		*errstr = "invalid modified UTF-7 in mailbox name";
		return -1;
	}
	if (strlen(out) > MAILBOX_NAME_MAX) {
		*errstr = "mailbox name too long";
		return -1;
	}
	return name_split_check(out, errstr);
}

int
mailbox_name_export(const char *name, int flags, char *out, size_t outsz)
{
	if (flags & MAILBOX_UTF8) {
		if (strlcpy(out, name, outsz) >= outsz)
			return -1;
		return 0;
	}
	return mailbox_mutf7_encode(name, out, outsz);
}

int
mailbox_name_to_dir(const char *in, int flags, char *dir, size_t dirsz,
    const char **errstr)
{
	char		 name[MAILBOX_NAME_MAX + 1];
	char		 comp[MAILBOX_COMPONENT_MAX + 1];
	const char	*dummy, *p, *e;
	size_t		 o = 0, n;

	if (errstr == NULL)
		errstr = &dummy;
	if (mailbox_name_canon(in, flags, name, sizeof(name), errstr) == -1)
		return -1;
	*errstr = "mailbox name too long";
	if (strcmp(name, "INBOX") == 0) {
		if (strlcpy(dir, ".", dirsz) >= dirsz)
			return -1;
		return 0;
	}
	for (p = name;; p = e + 1) {
		if ((e = strchr(p, MAILBOX_SEP)) == NULL)
			e = p + strlen(p);
		if (mu7_encode(p, e - p, MU7_DOT, comp, sizeof(comp)) == -1)
			return -1;
		/* cannot happen with "." escaped; the rule is the point */
		if (comp[0] == '.' || strchr(comp, '/') != NULL) {
			*errstr = "invalid mailbox name";
			return -1;
		}
		n = strlen(comp);
		if (o + 1 + n >= dirsz || o + 1 + n > MAILBOX_DIR_MAX)
			return -1;
		dir[o++] = '.';
		memcpy(dir + o, comp, n);
		o += n;
		if (*e == '\0')
			break;
	}
	dir[o] = '\0';
	return 0;
}

int
mailbox_dir_to_name(const char *dir, char *name, size_t namesz)
{
	char		 comp[MAILBOX_COMPONENT_MAX * 2 + 1];
	char		 back[MAILBOX_DIR_MAX + 1];
	const char	*p, *e, *errstr;
	size_t		 o = 0, n, len;

	if (namesz == 0)
		return -1;
	len = strnlen(dir, MAILBOX_DIR_MAX + 1);
	if (len > MAILBOX_DIR_MAX || dir[0] != '.')
		return -1;
	if (len == 1)
		return strlcpy(name, "INBOX", namesz) < namesz ? 0 : -1;
	for (p = dir + 1;; p = e + 1) {
		if ((e = strchr(p, '.')) == NULL)
			e = p + strlen(p);
		if (e == p || e - p > MAILBOX_COMPONENT_MAX)
			return -1;
		if (mu7_decode(p, e - p, MU7_DOT, comp, sizeof(comp)) == -1)
			return -1;
		n = strlen(comp);
		if (o + n + 1 >= namesz)
			return -1;
		if (o > 0)
			name[o++] = MAILBOX_SEP;
		memcpy(name + o, comp, n);
		o += n;
		if (*e == '\0')
			break;
	}
	name[o] = '\0';
	/* ".INBOX", ".inbox.x", anything that is not its own image */
	if (mailbox_name_to_dir(name, MAILBOX_UTF8, back, sizeof(back),
	    &errstr) == -1 || strcmp(back, dir) != 0)
		return -1;
	return 0;
}

void
mailbox_list_init(struct mailbox_list *l)
{
	memset(l, 0, sizeof(*l));
}

void
mailbox_list_free(struct mailbox_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->ent[i].name);
	free(l->ent);
	memset(l, 0, sizeof(*l));
}

static void
list_add(struct mailbox_list *l, const char *name, int attrs)
{
	struct mailbox_entry	*ne;
	size_t			 ncap;

	if (l->n == l->cap) {
		ncap = l->cap ? l->cap * 2 : 16;
		if ((ne = reallocarray(l->ent, ncap, sizeof(*ne))) == NULL)
			fatal("reallocarray");
		l->ent = ne;
		l->cap = ncap;
	}
	if ((l->ent[l->n].name = strdup(name)) == NULL)
		fatal("strdup");
	l->ent[l->n].attrs = attrs;
	l->n++;
}

static int
namecmp(const void *a, const void *b)
{
	const struct mailbox_entry *ea = a, *eb = b;

	return strcmp(ea->name, eb->name);
}

static int
entcmp(const void *a, const void *b)
{
	const struct mailbox_entry *ea = a, *eb = b;
	int			 r;

	if ((r = strcmp(ea->name, eb->name)) != 0)
		return r;
	return (ea->attrs > eb->attrs) - (ea->attrs < eb->attrs);
}

static struct mailbox_entry *
list_find(struct mailbox_list *l, const char *name)
{
	struct mailbox_entry	 key;

	key.name = (char *)(uintptr_t)name;
	return bsearch(&key, l->ent, l->n, sizeof(*l->ent), namecmp);
}

void
mailbox_list_build(struct mailbox_list *l, const char *const *dents,
    size_t ndents)
{
	char			 name[MAILBOX_NAME_MAX + 1];
	struct mailbox_entry	*e;
	size_t			 i, j, nreal;
	char			*s;

	list_add(l, "INBOX", 0);
	for (i = 0; i < ndents; i++) {
		if (dents[i] == NULL || strcmp(dents[i], ".") == 0 ||
		    strcmp(dents[i], "..") == 0 || dents[i][0] != '.')
			continue;
		if (mailbox_dir_to_name(dents[i], name, sizeof(name)) == -1) {
			log_debug("mailbox: skipping folder directory "
			    "with an invalid name");
			continue;
		}
		list_add(l, name, 0);
	}

	/* every ancestor, as implied; a real entry wins below */
	nreal = l->n;
	for (i = 0; i < nreal; i++) {
		(void)strlcpy(name, l->ent[i].name, sizeof(name));
		while ((s = strrchr(name, MAILBOX_SEP)) != NULL) {
			*s = '\0';
			list_add(l, name, MBOX_A_NONEXISTENT);
		}
	}
	/* by name, real (attrs 0) before implied; keep the first of each */
	qsort(l->ent, l->n, sizeof(*l->ent), entcmp);
	for (i = j = 0; i < l->n; i++) {
		if (j > 0 && strcmp(l->ent[j - 1].name, l->ent[i].name) == 0) {
			free(l->ent[i].name);
			continue;
		}
		l->ent[j++] = l->ent[i];
	}
	l->n = j;

	for (i = 0; i < l->n; i++) {
		(void)strlcpy(name, l->ent[i].name, sizeof(name));
		if ((s = strrchr(name, MAILBOX_SEP)) == NULL)
			continue;
		*s = '\0';
		if ((e = list_find(l, name)) != NULL)
			e->attrs |= MBOX_A_HASCHILDREN;
	}
	for (i = 0; i < l->n; i++)
		if (!(l->ent[i].attrs & MBOX_A_HASCHILDREN))
			l->ent[i].attrs |= MBOX_A_HASNOCHILDREN;
}

int
mailbox_pattern_canon(const char *in, int flags, char *out, size_t outsz)
{
	size_t	 len;

	len = strnlen(in, MAILBOX_PATTERN_MAX + 1);
	if (len > MAILBOX_PATTERN_MAX || outsz == 0)
		return -1;
	if (flags & MAILBOX_UTF8) {
		if (!mailbox_utf8_valid(in, len) ||
		    strlcpy(out, in, outsz) >= outsz)
			return -1;
		return 0;
	}
	return mu7_decode(in, len, 0, out, outsz);
}

/*
 * A set of pattern positions is advanced over the name one byte at a
 * time (an NFA walk), so the cost is bounded by the product of the
 * lengths whatever the pattern: no backtracking.
 */
int
mailbox_match(const char *name, const char *pat)
{
	unsigned char	 cur[MAILBOX_PATTERN_MAX + 1];
	unsigned char	 nxt[MAILBOX_PATTERN_MAX + 1];
	size_t		 plen, nlen, i, k, icase;
	unsigned char	 c, p;

	plen = strnlen(pat, MAILBOX_PATTERN_MAX + 1);
	nlen = strnlen(name, MAILBOX_NAME_MAX + 1);
	if (plen > MAILBOX_PATTERN_MAX || nlen > MAILBOX_NAME_MAX)
		return 0;
	/* INBOX (and the INBOX of INBOX/child) in any case */
	icase = (nlen >= 5 && strncmp(name, "INBOX", 5) == 0 &&
	    (name[5] == '\0' || name[5] == MAILBOX_SEP)) ? 5 : 0;

	memset(cur, 0, plen + 1);
	cur[0] = 1;
	/* a wildcard may match nothing: close over them */
	for (k = 0; k < plen && cur[k] && (pat[k] == '*' || pat[k] == '%');
	    k++)
		cur[k + 1] = 1;
	for (i = 0; i < nlen; i++) {
		c = name[i];
		memset(nxt, 0, plen + 1);
		for (k = 0; k < plen; k++) {
			if (!cur[k])
				continue;
			p = pat[k];
			if (p == '*' || (p == '%' && c != MAILBOX_SEP))
				nxt[k] = 1;
			else if (p == c || (i < icase &&
			    (p | 0x20) == (c | 0x20) && p >= 'A'))
				nxt[k + 1] = 1;
		}
		for (k = 0; k < plen; k++)
			if (nxt[k] && (pat[k] == '*' || pat[k] == '%'))
				nxt[k + 1] = 1;
		memcpy(cur, nxt, plen + 1);
	}
	return cur[plen];
}

const char *
mailbox_special_use(const char *name)
{
	size_t	 i;

	for (i = 0; i < mailbox_nspecials; i++)
		if (strcmp(mailbox_specials[i].name, name) == 0)
			return mailbox_specials[i].attr;
	return NULL;
}

/*
 * Dovecot's "subscriptions" file of a Maildir: "V\t2", an empty line,
 * then one name a line in modified UTF-7 with a tab between components
 * (version 2), or, without that header, names with Dovecot's Maildir++
 * separator "." (version 1).  Lines that are not valid names, or that
 * hold a "/" (which would change their hierarchy here), are skipped.
 */
char *
mailbox_dovecot_subs(const char *buf, size_t len, size_t *outlen)
{
	char		 line[MAILBOX_WIRE_MAX + 1], name[MAILBOX_NAME_MAX + 1];
	char		*out = NULL, *p;
	const char	*b = buf, *e, *end = buf + len;
	size_t		 n, olen = 0, cap = 0, i;
	char		 sep = '.';

	if (len >= 4 && memcmp(buf, "V\t2\n", 4) == 0) {
		sep = '\t';
		b += 4;
	}
	for (; b < end; b = e + 1) {
		if ((e = memchr(b, '\n', end - b)) == NULL)
			e = end;
		n = e - b;
		if (n == 0 || n >= sizeof(line) || memchr(b, '/', n) != NULL ||
		    memchr(b, '\0', n) != NULL)
			continue;
		memcpy(line, b, n);
		line[n] = '\0';
		for (i = 0; i < n; i++)
			if (line[i] == sep)
				line[i] = MAILBOX_SEP;
		if (mailbox_name_canon(line, 0, name, sizeof(name), NULL) == -1)
			continue;
		n = strlen(name);
		if (olen + n + 2 > cap) {
			cap = (olen + n + 2) * 2;
			if ((p = realloc(out, cap)) == NULL)
				fatal("realloc");
			out = p;
		}
		memcpy(out + olen, name, n);
		olen += n;
		out[olen++] = '\n';
		out[olen] = '\0';
	}
	*outlen = olen;
	return out;
}
