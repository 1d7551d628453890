/*
 * What SORT and THREAD (RFC 5256, RFC 5957) know of a message, and the
 * sort.  A message's keys are made once from its header: the address
 * keys from the ENVELOPE rendering of mime.c (its first address
 * structure, as the RFCs define them on [IMAP] addr-mailbox and
 * addr-name), the base subject as RFC 5256 2.1 extracts it, the sent
 * date, and the Message-ID and references the REFERENCES algorithm
 * links; each string key is an i;unicode-casemap key (unicase.c),
 * bounded, so a message's keys take at most SORT_BLOB_MAX bytes.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "imap_parser.h"
#include "imap_sort.h"
#include "log.h"
#include "mime.h"
#include "search.h"
#include "unicase.h"

#define SORT_VERSION	"S1 "

/* The fields of an ENVELOPE this file uses. */
struct env {
	struct mbuf	 date, subject;
	struct mbuf	 name[3], mbox[3], host[3];	/* from, to, cc */
	int		 hashost[3];
	struct mbuf	 irt, msgid;
};

/* A cursor over an ENVELOPE rendering. */
struct envp {
	const char	*p, *end;
};

static int	 env_nstring(struct envp *, struct mbuf *, int *);
static int	 env_addrs(struct envp *, struct mbuf *, struct mbuf *,
		    struct mbuf *, int *);
static int	 env_parse(const char *, size_t, struct env *);
static void	 env_free(struct env *);
static void	 pack_space(struct mbuf *, const char *);
static int	 ci_prefix(const char *, const char *, const char *);
static const char *blob_end(const char *, const char *);
static const char *cfws(const char *, const char *);
static int	 number(const char **, const char *, int, long *);
static long	 days_from_civil(long, int, int);
static int	 zone_offset(const char **, const char *, long *);
static int	 atext(int);
static const char *id_word(const char *, const char *, struct mbuf *);
static const char *msgid_at(const char *, const char *, struct mbuf *);
static void	 display_key(struct mbuf *, const struct env *, int);
static void	 refs_add(struct mbuf *, const char *, const char *,
		    size_t *);

/* -- the ENVELOPE, read back -- */

static int
env_nstring(struct envp *e, struct mbuf *out, int *nil)
{
	const char	*p = e->p;
	size_t		 n = 0;

	out->len = 0;
	mbuf_add(out, "", 0);
	*nil = 0;
	if (e->end - p >= 3 && memcmp(p, "NIL", 3) == 0) {
		*nil = 1;
		e->p = p + 3;
		return 0;
	}
	if (p < e->end && *p == '"') {
		for (p++; p < e->end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < e->end)
				p++;
			mbuf_add(out, p, 1);
		}
		if (p == e->end)
			return -1;
		e->p = p + 1;
		return 0;
	}
	if (p < e->end && *p == '{') {
		for (p++; p < e->end && *p >= '0' && *p <= '9'; p++) {
			if (n > SIZE_MAX / 10 - 10)
				return -1;
			n = n * 10 + (size_t)(*p - '0');
		}
		if (e->end - p < 3 || memcmp(p, "}\r\n", 3) != 0 ||
		    (size_t)(e->end - p - 3) < n)
			return -1;
		mbuf_add(out, p + 3, n);
		e->p = p + 3 + n;
		return 0;
	}
	return -1;
}

/*
 * An address list (NIL or "(" address+ ")"): the first address's name,
 * mailbox and host (*hashost: host not NIL).  Empty when NIL.
 */
static int
env_addrs(struct envp *e, struct mbuf *name, struct mbuf *mbox,
    struct mbuf *host, int *hashost)
{
	struct mbuf	 tmp = { NULL, 0, 0 };
	int		 nil, first = 1, i, r = -1;

	name->len = mbox->len = host->len = 0;
	mbuf_add(name, "", 0);
	mbuf_add(mbox, "", 0);
	mbuf_add(host, "", 0);
	*hashost = 0;
	if (e->end - e->p >= 3 && memcmp(e->p, "NIL", 3) == 0) {
		e->p += 3;
		return 0;
	}
	if (e->p == e->end || *e->p++ != '(')
		return -1;
	while (e->p < e->end && *e->p == '(') {
		e->p++;
		for (i = 0; i < 4; i++) {
			if (i > 0 && (e->p == e->end || *e->p++ != ' '))
				goto done;
			if (env_nstring(e, first && i != 1 ? (i == 0 ? name :
			    i == 2 ? mbox : host) : &tmp, &nil) == -1)
				goto done;
			if (first && i == 3)
				*hashost = !nil;
		}
		if (e->p == e->end || *e->p++ != ')')
			goto done;
		first = 0;
	}
	if (first || e->p == e->end || *e->p++ != ')')
		goto done;
	r = 0;
 done:
	mbuf_free(&tmp);
	return r;
}

static int
env_parse(const char *s, size_t len, struct env *v)
{
	struct envp	 e = { s, s + len };
	struct mbuf	 tmp = { NULL, 0, 0 };
	int		 nil, i, k, r = -1, dummy;

	if (e.p == e.end || *e.p++ != '(')
		goto done;
	for (i = 0; i < 10; i++) {
		if (i > 0 && (e.p == e.end || *e.p++ != ' '))
			goto done;
		switch (i) {
		case 0:
			if (env_nstring(&e, &v->date, &nil) == -1)
				goto done;
			break;
		case 1:
			if (env_nstring(&e, &v->subject, &nil) == -1)
				goto done;
			break;
		case 2:
		case 5:
		case 6:
			k = i == 2 ? 0 : i == 5 ? 1 : 2;
			if (env_addrs(&e, &v->name[k], &v->mbox[k],
			    &v->host[k], &v->hashost[k]) == -1)
				goto done;
			break;
		case 8:
			if (env_nstring(&e, &v->irt, &nil) == -1)
				goto done;
			break;
		case 9:
			if (env_nstring(&e, &v->msgid, &nil) == -1)
				goto done;
			break;
		default:	/* sender, reply-to, bcc */
			if (env_addrs(&e, &tmp, &tmp, &tmp, &dummy) == -1)
				goto done;
			break;
		}
	}
	if (e.p == e.end || *e.p != ')')
		goto done;
	r = 0;
 done:
	mbuf_free(&tmp);
	return r;
}

static void
env_free(struct env *v)
{
	int	 k;

	mbuf_free(&v->date);
	mbuf_free(&v->subject);
	for (k = 0; k < 3; k++) {
		mbuf_free(&v->name[k]);
		mbuf_free(&v->mbox[k]);
		mbuf_free(&v->host[k]);
	}
	mbuf_free(&v->irt);
	mbuf_free(&v->msgid);
}

/* -- base subject (RFC 5256 2.1) -- */

/* Tabs, CR and LF to spaces, runs of spaces to one. */
static void
pack_space(struct mbuf *out, const char *s)
{
	int	 sp = 0;

	for (; *s != '\0'; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
			if (!sp)
				mbuf_add(out, " ", 1);
			sp = 1;
			continue;
		}
		mbuf_add(out, s, 1);
		sp = 0;
	}
}

/* 1 if p .. end starts with the lower-case ASCII word w, any case. */
static int
ci_prefix(const char *p, const char *end, const char *w)
{
	size_t	 n = strlen(w);

	return (size_t)(end - p) >= n && strncasecmp(p, w, n) == 0;
}

/*
 * subj-blob = "[" *BLOBCHAR "]" *WSP at p: its end, or NULL.  BLOBCHAR
 * is any character but the brackets, non-ASCII included (the text is
 * UTF-8 by step 1, as Dovecot reads it too).
 */
static const char *
blob_end(const char *p, const char *end)
{
	if (p == end || *p != '[')
		return NULL;
	for (p++; p < end && *p != '[' && *p != ']'; p++)
		;
	if (p == end || *p != ']')
		return NULL;
	for (p++; p < end && *p == ' '; p++)
		;
	return p;
}

void
sort_base_subject(struct mbuf *out, const char *raw, size_t rawlen,
    int *reply)
{
	struct mbuf	 b = { NULL, 0, 0 };
	const char	*p, *e, *q, *r;
	char		*dec;
	int		 found;

	*reply = 0;
	/* (1) RFC 2047 words to UTF-8; white space packed. */
	dec = search_decode_words(raw, rawlen);
	pack_space(&b, dec);
	free(dec);
	mbuf_add(&b, "", 0);
	p = b.data;
	e = b.data + b.len;
	for (;;) {
		/* (2) Trailers: "(fwd)" and WSP. */
		for (;;) {
			if (e > p && e[-1] == ' ')
				e--;
			else if (e - p >= 5 && ci_prefix(e - 5, e, "(fwd)")) {
				e -= 5;
				*reply = 1;
			} else
				break;
		}
		do {
			found = 0;
			/* (3) Leaders: WSP, or *subj-blob subj-refwd. */
			if (p < e && *p == ' ') {
				p++;
				found = 1;
			}
			for (q = p; (r = blob_end(q, e)) != NULL; q = r)
				;
			if (ci_prefix(q, e, "re"))
				q += 2;
			else if (ci_prefix(q, e, "fwd"))
				q += 3;
			else if (ci_prefix(q, e, "fw"))
				q += 2;
			else
				q = NULL;
			if (q != NULL) {
				while (q < e && *q == ' ')
					q++;
				if ((r = blob_end(q, e)) != NULL)
					q = r;
				if (q < e && *q == ':') {
					p = q + 1;
					*reply = 1;
					found = 1;
				}
			}
			/* (4) A leading blob, if something is left. */
			if ((r = blob_end(p, e)) != NULL && r < e) {
				p = r;
				found = 1;
			}
			/* (5) Until nothing matches. */
		} while (found);
		/* (6) "[fwd:" subject "]": strip, and again from (2). */
		if (e - p >= 6 && ci_prefix(p, e, "[fwd:") && e[-1] == ']') {
			p += 5;
			e--;
			*reply = 1;
			continue;
		}
		break;
	}
	mbuf_add(out, p, (size_t)(e - p));
	mbuf_free(&b);
}

/* -- dates (RFC 5322 3.3 and 4.3) -- */

/* Skip white space (folding too) and comments, nested. */
static const char *
cfws(const char *p, const char *end)
{
	int	 depth;

	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
		    *p == '\n'))
			p++;
		if (p == end || *p != '(')
			return p;
		for (depth = 0; p < end; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
	}
}

/* 1..max digits at *pp: 0 and *v (digit count in the sign), or -1. */
static int
number(const char **pp, const char *end, int max, long *v)
{
	const char	*p = *pp;
	int		 n = 0;

	*v = 0;
	while (p < end && isdigit((unsigned char)*p) && n < max) {
		*v = *v * 10 + (*p++ - '0');
		n++;
	}
	if (n == 0 || (p < end && isdigit((unsigned char)*p)))
		return -1;
	*pp = p;
	return n;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static long
days_from_civil(long y, int m, int d)
{
	long	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* A zone: seconds east of UTC into *off; 0, or -1 if none is there. */
static int
zone_offset(const char **pp, const char *end, long *off)
{
	static const struct {
		const char	*name;
		int		 hours;
	} names[] = {
		{ "UT", 0 }, { "GMT", 0 }, { "EST", -5 }, { "EDT", -4 },
		{ "CST", -6 }, { "CDT", -5 }, { "MST", -7 }, { "MDT", -6 },
		{ "PST", -8 }, { "PDT", -7 }
	};
	const char	*p = *pp, *q;
	long		 v;
	size_t		 i, n;
	int		 sign;

	*off = 0;
	if (p < end && (*p == '+' || *p == '-')) {
		sign = *p == '-' ? -1 : 1;
		q = p + 1;
		if (number(&q, end, 4, &v) != 4 || v % 100 > 59)
			return -1;
		*off = sign * ((v / 100) * 3600 + (v % 100) * 60);
		*pp = q;
		return 0;
	}
	for (n = 0; p + n < end && isalpha((unsigned char)p[n]); n++)
		;
	if (n == 0)
		return -1;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == n &&
		    strncasecmp(p, names[i].name, n) == 0)
			*off = names[i].hours * 3600;
	/* Military and unknown zones: "-0000", the time is UTC. */
	*pp = p + n;
	return 0;
}

int
sort_parse_date(const char *s, int64_t *t)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	const char	*p = s, *end = s + strlen(s), *q;
	long		 day, year, hour, min, sec = 0, off = 0;
	int		 mon, n;
	size_t		 i;

	p = cfws(p, end);
	/* [ day-of-week "," ] */
	if (p < end && isalpha((unsigned char)*p)) {
		while (p < end && isalpha((unsigned char)*p))
			p++;
		p = cfws(p, end);
		if (p < end && *p == ',')
			p = cfws(p + 1, end);
	}
	if (number(&p, end, 2, &day) == -1 || day < 1 || day > 31)
		return -1;
	p = cfws(p, end);
	for (q = p; q < end && isalpha((unsigned char)*q); q++)
		;
	if (q - p < 3)
		return -1;
	for (i = 0, mon = -1; i < 12; i++)
		if (strncasecmp(p, months + 3 * i, 3) == 0)
			mon = (int)i;
	if (mon == -1)
		return -1;
	p = cfws(q, end);
	if ((n = number(&p, end, 4, &year)) == -1)
		return -1;
	if (n == 2)
		year += year < 50 ? 2000 : 1900;	/* obs-year */
	else if (n == 3)
		year += 1900;
	p = cfws(p, end);
	if (number(&p, end, 2, &hour) == -1 || hour > 23)
		return -1;
	p = cfws(p, end);
	if (p == end || *p++ != ':')
		return -1;
	p = cfws(p, end);
	if (number(&p, end, 2, &min) == -1 || min > 59)
		return -1;
	q = cfws(p, end);
	if (q < end && *q == ':') {
		p = cfws(q + 1, end);
		if (number(&p, end, 2, &sec) == -1 || sec > 60)
			return -1;
	}
	p = cfws(p, end);
	/* A missing zone is read as UTC, as a missing one can only be. */
	if (p < end && zone_offset(&p, end, &off) == -1)
		return -1;
	*t = (int64_t)days_from_civil(year, mon + 1, (int)day) * 86400 +
	    hour * 3600 + min * 60 + sec - off;
	return 0;
}

/* -- Message-IDs (RFC 5322 3.6.4, normalized as RFC 5256 3 asks) -- */

static int
atext(int c)
{
	return isalnum(c) || c >= 0x80 || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

/*
 * A dot-atom, quoted string or domain literal at p (CFWS before it
 * skipped), its text (unquoted) appended to out: the end, or NULL.
 */
static const char *
id_word(const char *p, const char *end, struct mbuf *out)
{
	const char	*q;

	p = cfws(p, end);
	if (p < end && *p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			if (*p != '\r' && *p != '\n' && *p != '\0')
				mbuf_add(out, p, 1);
		}
		return p < end ? p + 1 : NULL;
	}
	if (p < end && *p == '[') {
		for (q = p + 1; q < end && *q != ']' && *q != '['; q++)
			;
		if (q == end || *q != ']')
			return NULL;
		mbuf_add(out, p, (size_t)(q + 1 - p));
		return q + 1;
	}
	for (q = p; q < end && atext((unsigned char)*q); q++)
		;
	if (q == p)
		return NULL;
	mbuf_add(out, p, (size_t)(q - p));
	return q;
}

/* "<" already read: the rest of a msg-id at p, or NULL. */
static const char *
msgid_at(const char *p, const char *end, struct mbuf *out)
{
	out->len = 0;
	mbuf_add(out, "", 0);
	if ((p = id_word(p, end, out)) == NULL ||
	    (p = cfws(p, end)) == end || *p != '@')
		return NULL;
	mbuf_add(out, "@", 1);
	if ((p = id_word(p + 1, end, out)) == NULL ||
	    (p = cfws(p, end)) == end || *p != '>' ||
	    out->len > SORT_ID_MAX)
		return NULL;
	return p + 1;
}

int
sort_next_msgid(const char **pp, const char *end, struct mbuf *out)
{
	const char	*p = *pp, *q;

	for (;;) {
		while (p < end && *p != '<')
			p++;
		if (p == end) {
			*pp = p;
			return 0;
		}
		/* Not one: look for the next "<". */
		if ((q = msgid_at(++p, end, out)) != NULL) {
			*pp = q;
			return 1;
		}
	}
}

/* -- the keys of a message -- */

/* DISPLAYFROM/DISPLAYTO (RFC 5957): the name, else the address. */
static void
display_key(struct mbuf *blob, const struct env *v, int k)
{
	struct mbuf	 a = { NULL, 0, 0 };
	char		*dec = NULL;
	size_t		 i;

	if (v->name[k].len > 0) {
		dec = search_decode_words(v->name[k].data, v->name[k].len);
		for (i = 0; dec[i] == ' '; i++)
			;
		if (dec[i] != '\0') {
			unicase_key(blob, dec + i, strlen(dec + i),
			    SORT_KEY_MAX);
			free(dec);
			return;
		}
		free(dec);
	}
	mbuf_add(&a, v->mbox[k].data, v->mbox[k].len);
	if (v->hashost[k]) {
		mbuf_add(&a, "@", 1);
		mbuf_add(&a, v->host[k].data, v->host[k].len);
	}
	unicase_key(blob, a.data, a.len, SORT_KEY_MAX);
	mbuf_free(&a);
}

/*
 * The msg-ids of the raw value p .. end, NUL after each, into refs:
 * the first and the last ones, at most SORT_REFS_NMAX and SORT_REFS_MAX
 * bytes (the parent and the thread's root matter most).
 */
static void
refs_add(struct mbuf *refs, const char *p, const char *end, size_t *nrefs)
{
	struct mbuf	 id = { NULL, 0, 0 }, first = { NULL, 0, 0 };
	struct mbuf	 ring[SORT_REFS_NMAX - 1];
	size_t		 total = 0, n, j, bytes;

	memset(ring, 0, sizeof(ring));
	/* ring[(j - 1) % nitems(ring)]: the id numbered j (0 is first). */
	for (; sort_next_msgid(&p, end, &id); total++) {
		if (total == 0) {
			mbuf_add(&first, id.data, id.len);
			continue;
		}
		ring[(total - 1) % nitems(ring)].len = 0;
		mbuf_add(&ring[(total - 1) % nitems(ring)], id.data, id.len);
	}
	if (total > 0) {
		n = total - 1 < nitems(ring) ? total - 1 : nitems(ring);
		bytes = first.len + 1;
		for (j = total - n; j < total; j++)
			bytes += ring[(j - 1) % nitems(ring)].len + 1;
		/* Too long: the oldest of the last ones go. */
		for (; bytes > SORT_REFS_MAX && n > 1; n--)
			bytes -= ring[(total - n - 1) % nitems(ring)].len + 1;
		mbuf_add(refs, first.data, first.len + 1);
		for (j = total - n; j < total; j++)
			mbuf_add(refs, ring[(j - 1) % nitems(ring)].data,
			    ring[(j - 1) % nitems(ring)].len + 1);
		*nrefs = n + 1;
	}
	for (j = 0; j < nitems(ring); j++)
		mbuf_free(&ring[j]);
	mbuf_free(&first);
	mbuf_free(&id);
}

char *
sort_keys_make(const char *hdr, size_t hdrlen, int64_t internaldate,
    size_t *lenp)
{
	struct mbuf	 envb = { NULL, 0, 0 }, blob = { NULL, 0, 0 };
	struct mbuf	 subj = { NULL, 0, 0 }, refs = { NULL, 0, 0 };
	struct mbuf	 id = { NULL, 0, 0 };
	struct env	 v;
	const char	*val, *s;
	char		 head[64];
	int64_t		 date;
	size_t		 vlen, nrefs = 0;
	int		 reply = 0, k, ok;

	memset(&v, 0, sizeof(v));
	mime_envelope(&envb, hdr, hdrlen);
	ok = env_parse(envb.data, envb.len, &v) == 0;
	if (!ok)
		log_warnx("sort: an ENVELOPE that does not parse back");
	/* Sent date, else INTERNALDATE (RFC 5256 2.2). */
	if (!ok || v.date.len == 0 || sort_parse_date(v.date.data, &date) ==
	    -1)
		date = internaldate;
	/* References, else the first msg-id of In-Reply-To (RFC 5256 3). */
	if (mime_header_find(hdr, hdrlen, "References", &val, &vlen))
		refs_add(&refs, val, val + vlen, &nrefs);
	if (nrefs == 0 && ok && v.irt.len > 0) {
		s = v.irt.data;
		if (sort_next_msgid(&s, v.irt.data + v.irt.len, &id)) {
			mbuf_add(&refs, id.data, id.len + 1);
			nrefs = 1;
		}
	}
	if (ok && v.subject.len > 0)
		sort_base_subject(&subj, v.subject.data, v.subject.len,
		    &reply);
	(void)snprintf(head, sizeof(head), "%s%lld %d %zu", SORT_VERSION,
	    (long long)date, reply ? SORT_F_REPLY : 0, nrefs);
	mbuf_add(&blob, head, strlen(head) + 1);
	unicase_key(&blob, subj.data != NULL ? subj.data : "", subj.len,
	    SORT_KEY_MAX);
	mbuf_add(&blob, "", 1);
	for (k = 0; k < 3; k++) {
		if (ok)
			unicase_key(&blob, v.mbox[k].data, v.mbox[k].len,
			    SORT_KEY_MAX);
		mbuf_add(&blob, "", 1);
	}
	for (k = 0; k < 2; k++) {
		if (ok)
			display_key(&blob, &v, k);
		mbuf_add(&blob, "", 1);
	}
	s = ok ? v.msgid.data : NULL;
	if (s != NULL && sort_next_msgid(&s, v.msgid.data + v.msgid.len, &id))
		mbuf_add(&blob, id.data, id.len);
	mbuf_add(&blob, "", 1);
	if (refs.len > 0)
		mbuf_add(&blob, refs.data, refs.len);
	env_free(&v);
	mbuf_free(&envb);
	mbuf_free(&subj);
	mbuf_free(&refs);
	mbuf_free(&id);
	*lenp = blob.len;
	return blob.data;
}

int
sort_keys_parse(const char *b, size_t len, struct sort_keys *k)
{
	const char	*p, *end = b + len, *strs[7];
	char		*ep;
	long long	 date;
	unsigned long	 flags, nrefs;
	size_t		 i;

	memset(k, 0, sizeof(*k));
	if (len < sizeof(SORT_VERSION) || len > SORT_BLOB_MAX ||
	    memcmp(b, SORT_VERSION, sizeof(SORT_VERSION) - 1) != 0 ||
	    (p = memchr(b, '\0', len)) == NULL)
		return -1;
	date = strtoll(b + 3, &ep, 10);
	if (ep == b + 3 || *ep != ' ')
		return -1;
	flags = strtoul(ep + 1, &ep, 10);
	if (*ep != ' ' || flags > SORT_F_REPLY)
		return -1;
	nrefs = strtoul(ep + 1, &ep, 10);
	if (ep != p || nrefs > SORT_REFS_NMAX)
		return -1;
	for (p++, i = 0; i < 7; i++) {
		strs[i] = p;
		if ((p = memchr(p, '\0', (size_t)(end - p))) == NULL)
			return -1;
		p++;
	}
	k->refs = p;
	for (i = 0; i < nrefs; i++) {
		if (p == end || (p = memchr(p, '\0', (size_t)(end - p))) ==
		    NULL)
			return -1;
		p++;
	}
	if (p != end)
		return -1;
	k->date = date;
	k->flags = (int)flags;
	k->subject = strs[0];
	k->from = strs[1];
	k->to = strs[2];
	k->cc = strs[3];
	k->dfrom = strs[4];
	k->dto = strs[5];
	k->msgid = strs[6];
	k->nrefs = nrefs;
	return 0;
}

struct sort_blob *
sort_blob_new(const char *b, size_t len)
{
	struct sort_blob	*sb;

	if (len > SORT_BLOB_MAX)
		return NULL;
	if ((sb = malloc(sizeof(*sb) + len)) == NULL)
		fatal("malloc");
	memcpy(sb->data, b, len);
	sb->len = len;
	if (sort_keys_parse(sb->data, len, &sb->k) == -1) {
		free(sb);
		return NULL;
	}
	return sb;
}

/* -- criteria and the sort -- */

int
sort_parse_criteria(const struct imap_arg *list, struct sort_crit *crit,
    size_t *ncrit, const char **errstr)
{
	static const struct {
		const char	*name;
		enum sort_key	 key;
	} keys[] = {
		{ "ARRIVAL", SORT_ARRIVAL }, { "CC", SORT_CC },
		{ "DATE", SORT_DATE }, { "FROM", SORT_FROM },
		{ "SIZE", SORT_SIZE }, { "SUBJECT", SORT_SUBJECT },
		{ "TO", SORT_TO }, { "DISPLAYFROM", SORT_DISPLAYFROM },
		{ "DISPLAYTO", SORT_DISPLAYTO }
	};
	const struct imap_arg	*a;
	size_t			 i, n = 0;
	int			 reverse = 0;

	*ncrit = 0;
	if (list == NULL || list->type != IMAP_ARG_LIST) {
		*errstr = "SORT needs a parenthesized list of sort criteria";
		return -1;
	}
	if (list->nlist == 0) {
		*errstr = "Empty sort criteria";
		return -1;
	}
	for (a = list->list; a != NULL; a = a->next) {
		if (a->type != IMAP_ARG_ATOM) {
			*errstr = "Invalid sort criterion";
			return -1;
		}
		if (strcasecmp(a->str, "REVERSE") == 0) {
			if (reverse) {
				*errstr = "REVERSE twice";
				return -1;
			}
			reverse = 1;
			continue;
		}
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strcasecmp(a->str, keys[i].name) == 0)
				break;
		if (i == sizeof(keys) / sizeof(keys[0])) {
			*errstr = "Unknown sort criterion";
			return -1;
		}
		if (n == SORT_CRIT_MAX) {
			*errstr = "Too many sort criteria";
			return -1;
		}
		crit[n].key = keys[i].key;
		crit[n].reverse = reverse;
		n++;
		reverse = 0;
	}
	if (reverse) {
		*errstr = "REVERSE without a sort key";
		return -1;
	}
	*ncrit = n;
	return 0;
}

int
sort_needs_keys(const struct sort_crit *crit, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (crit[i].key != SORT_ARRIVAL && crit[i].key != SORT_SIZE)
			return 1;
	return 0;
}

int
sort_item_cmp(const struct sort_item *a, const struct sort_item *b,
    const struct sort_crit *crit, size_t n)
{
	size_t	 i;
	int	 r;

	for (i = 0; i < n; i++) {
		switch (crit[i].key) {
		case SORT_ARRIVAL:
			r = a->arrival < b->arrival ? -1 :
			    a->arrival > b->arrival;
			break;
		case SORT_DATE:
			r = a->k.date < b->k.date ? -1 : a->k.date > b->k.date;
			break;
		case SORT_SIZE:
			r = a->size < b->size ? -1 : a->size > b->size;
			break;
		case SORT_CC:
			r = strcmp(a->k.cc, b->k.cc);
			break;
		case SORT_FROM:
			r = strcmp(a->k.from, b->k.from);
			break;
		case SORT_TO:
			r = strcmp(a->k.to, b->k.to);
			break;
		case SORT_SUBJECT:
			r = strcmp(a->k.subject, b->k.subject);
			break;
		case SORT_DISPLAYFROM:
			r = strcmp(a->k.dfrom, b->k.dfrom);
			break;
		case SORT_DISPLAYTO:
			r = strcmp(a->k.dto, b->k.dto);
			break;
		default:
			r = 0;
			break;
		}
		if (r != 0)
			return crit[i].reverse ? -r : r;
	}
	/* Equal: mailbox order (RFC 5256 2.2), never reversed. */
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/*
 * A merge sort of indexes (items are large: they move once, at the
 * end); the comparison takes the criteria, no global state.
 */
void
sort_items(struct sort_item *it, size_t n, const struct sort_crit *crit,
    size_t ncrit)
{
	struct sort_item	*copy;
	uint32_t		*ix, *tmp, *src, *dst, *sw;
	size_t			 w, lo, mid, hi, i, j, k;

	if (n < 2)
		return;
	if ((ix = reallocarray(NULL, n, sizeof(*ix))) == NULL ||
	    (tmp = reallocarray(NULL, n, sizeof(*tmp))) == NULL)
		fatal("reallocarray");
	for (i = 0; i < n; i++)
		ix[i] = (uint32_t)i;
	src = ix;
	dst = tmp;
	for (w = 1; w < n; w *= 2) {
		for (lo = 0; lo < n; lo += 2 * w) {
			mid = lo + w < n ? lo + w : n;
			hi = lo + 2 * w < n ? lo + 2 * w : n;
			for (i = lo, j = mid, k = lo; k < hi; k++) {
				if (i < mid && (j == hi ||
				    sort_item_cmp(&it[src[i]], &it[src[j]],
				    crit, ncrit) <= 0))
					dst[k] = src[i++];
				else
					dst[k] = src[j++];
			}
		}
		sw = src;
		src = dst;
		dst = sw;
	}
	if ((copy = reallocarray(NULL, n, sizeof(*copy))) == NULL)
		fatal("reallocarray");
	memcpy(copy, it, n * sizeof(*it));
	for (i = 0; i < n; i++)
		it[i] = copy[src[i]];
	free(copy);
	free(ix);
	free(tmp);
}
