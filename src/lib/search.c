/*
 * IMAP SEARCH: compiles search keys (RFC 3501 6.4.4, RFC 7162 MODSEQ)
 * into a tree and evaluates it against one message.  Header keys match
 * unfolded, RFC 2047-decoded values; BODY/TEXT match text parts after
 * undoing quoted-printable/base64.  Substring matching folds ASCII case
 * only; UTF-8 bytes are compared as they are.
 */

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap_parser.h"
#include "log.h"
#include "mime.h"
#include "search.h"

enum node_type {
	N_ALL,
	N_FLAG,		/* num: SEARCH_FL_* bit set */
	N_KEYWORD,	/* str */
	N_BEFORE, N_ON, N_SINCE,		/* internal date, day */
	N_SENTBEFORE, N_SENTON, N_SENTSINCE,	/* Date: header, day */
	N_LARGER, N_SMALLER,
	N_HEADER,	/* field, str (lowercased) */
	N_ADDRESS,	/* field, str: FROM/TO/CC/BCC on parsed addresses */
	N_BODY, N_TEXT,	/* str (lowercased) */
	N_SEQ, N_UID,	/* set */
	N_MODSEQ,	/* num */
	N_SAVEDBEFORE, N_SAVEDON, N_SAVEDSINCE,	/* save date, day */
	N_SAVEDSUPPORTED,
	N_EMAILID,	/* str */
	N_NOT, N_OR, N_AND
};

struct node {
	enum node_type		 type;
	struct node		*child;		/* NOT, OR, AND */
	struct node		*next;
	uint64_t		 num;
	long			 day;
	char			*field;
	char			*str;
	size_t			 slen;
	struct imap_seqset	 set;
};

struct search_prog {
	struct node	*root;
	size_t		 nnodes;
	int		 needs;
};

struct compiler {
	struct search_prog	*prog;
	uint32_t		 exists, maxuid;
	const char		*err;
};

struct evalctx {
	const struct search_msg	*m;
	const struct mime_msg	*mime;
	struct mime_msg		*owned;
};

static struct node	*node_new(struct compiler *, enum node_type);
static struct node	*set_node(struct compiler *, enum node_type,
			    const char *, uint32_t, const char *);
static void		 node_free(struct node *);
static struct node	*compile_key(struct compiler *,
			    const struct imap_arg **, int);
static struct node	*compile_list(struct compiler *,
			    const struct imap_arg *, int);
static int		 arg_string(struct compiler *,
			    const struct imap_arg *, char **, size_t *);
static int		 arg_number(const struct imap_arg *, uint64_t *);
static int		 flag_key(const char *, int *, int *);
static struct node	*objectid_key(struct compiler *, const char *,
			    const struct imap_arg **);
static long		 day_of(time_t, long);
static struct node	*negate(struct compiler *, struct node *);
static struct node	*negate(struct compiler *, struct node *);
static int		 match(struct evalctx *, const struct node *, int);
static const struct mime_msg
			*ctx_mime(struct evalctx *);
static int		 header_match(const char *, size_t, const char *,
			    const char *, size_t, int);
static int		 body_match(const struct mime_msg *,
			    const struct mime_part *, const char *, size_t,
			    int);
static int		 part_text_match(const struct mime_msg *,
			    const struct mime_part *, const char *, size_t);
static int		 ci_find(const char *, size_t, const char *, size_t);
static int		 sent_day(const struct mime_msg *, long *);
static long		 days_from_civil(long, int, int);
static int		 month_index(const char *);
static int		 hexval(int);
static size_t		 qp_decode(const char *, size_t, char *, int);
static size_t		 b64_decode(const char *, size_t, char *);
static size_t		 latin1_to_utf8(const char *, size_t, char *);
static int		 charset_kind(const char *, size_t);
static void		 seq2uid(struct node *, const uint32_t *, size_t, int);
static int		 node_volatile(const struct node *, int);

static const char *months[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec"
};

int
search_compile(const struct imap_arg *args, uint32_t exists,
    uint32_t maxuid, struct search_prog **progp, const char **errstr)
{
	struct compiler	 c;
	struct node	*root;
	char		*cs;
	size_t		 cslen;

	*progp = NULL;
	memset(&c, 0, sizeof(c));
	c.exists = exists;
	c.maxuid = maxuid;
	if ((c.prog = calloc(1, sizeof(*c.prog))) == NULL)
		fatal("calloc");

	if (args != NULL && args->type == IMAP_ARG_ATOM &&
	    strcasecmp(args->str, "CHARSET") == 0) {
		if (args->next == NULL) {
			*errstr = "CHARSET needs an argument";
			free(c.prog);
			return SEARCH_ERR_SYNTAX;
		}
		if (arg_string(&c, args->next, &cs, &cslen) == -1) {
			*errstr = c.err;
			free(c.prog);
			return SEARCH_ERR_SYNTAX;
		}
		if (strcasecmp(cs, "UTF-8") != 0 &&
		    strcasecmp(cs, "US-ASCII") != 0) {
			free(cs);
			free(c.prog);
			*errstr = "unsupported charset";
			return SEARCH_ERR_CHARSET;
		}
		free(cs);
		args = args->next->next;
	}
	if (args == NULL) {
		*errstr = "missing search key";
		free(c.prog);
		return SEARCH_ERR_SYNTAX;
	}
	if ((root = compile_list(&c, args, 0)) == NULL) {
		*errstr = c.err != NULL ? c.err : "bad search key";
		free(c.prog);
		return SEARCH_ERR_SYNTAX;
	}
	c.prog->root = root;
	*progp = c.prog;
	return SEARCH_OK;
}

void
search_free(struct search_prog *prog)
{
	if (prog == NULL)
		return;
	node_free(prog->root);
	free(prog);
}

int
search_needs(const struct search_prog *prog)
{
	return prog->needs;
}

int
search_match(const struct search_prog *prog, const struct search_msg *m)
{
	struct evalctx	 ctx;
	int		 r;

	memset(&ctx, 0, sizeof(ctx));
	ctx.m = m;
	ctx.mime = m->mime;
	r = match(&ctx, prog->root, 0);
	if (ctx.owned != NULL)
		mime_free(ctx.owned);
	return r;
}

/*
 * Sequence sets as the messages they named: a search context (RFC 5267)
 * is re-evaluated later, after expunges have renumbered the mailbox,
 * and must keep meaning the same messages, as Dovecot does.  uids: the
 * UIDs of sequence numbers 1 .. n, ascending.  A range of numbers is
 * the range between the UIDs of its ends: any UID inside it that is not
 * in uids is gone for good, and new messages get higher UIDs.
 */
void
search_seq2uid(struct search_prog *prog, const uint32_t *uids, size_t n)
{
	seq2uid(prog->root, uids, n, 0);
}

/* 1 if the result can change when flags, keywords or MODSEQs do. */
int
search_volatile(const struct search_prog *prog)
{
	return node_volatile(prog->root, 0);
}

static struct node *
node_new(struct compiler *c, enum node_type t)
{
	struct node	*n;

	if (c->prog->nnodes >= SEARCH_MAX_NODES) {
		c->err = "too many search keys";
		return NULL;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL)
		fatal("calloc");
	c->prog->nnodes++;
	n->type = t;
	return n;
}

static void
node_free(struct node *n)
{
	struct node	*next;

	for (; n != NULL; n = next) {
		next = n->next;
		node_free(n->child);
		free(n->field);
		free(n->str);
		if (n->type == N_SEQ || n->type == N_UID)
			imap_seqset_free(&n->set);
		free(n);
	}
}

/* Keys in a list (or the top level) are ANDed. */
static struct node *
compile_list(struct compiler *c, const struct imap_arg *a, int depth)
{
	struct node	*and, *n, **tail;

	if (depth > SEARCH_MAX_DEPTH) {
		c->err = "search keys nested too deeply";
		return NULL;
	}
	if (a == NULL) {
		c->err = "empty search key list";
		return NULL;
	}
	if ((and = node_new(c, N_AND)) == NULL)
		return NULL;
	tail = &and->child;
	while (a != NULL) {
		if ((n = compile_key(c, &a, depth)) == NULL) {
			node_free(and);
			return NULL;
		}
		*tail = n;
		tail = &n->next;
	}
	return and;
}

/* Strings: astrings without NUL bytes, bounded. */
static int
arg_string(struct compiler *c, const struct imap_arg *a, char **sp,
    size_t *lenp)
{
	const char	*s;
	size_t		 len;
	char		*d;

	if (a == NULL) {
		c->err = "missing string argument";
		return -1;
	}
	if (imap_arg_astring(a, &s, &len) == -1 ||
	    memchr(s, '\0', len) != NULL) {
		c->err = "bad string argument";
		return -1;
	}
	if (len > SEARCH_MAX_STRING) {
		c->err = "search string too long";
		return -1;
	}
	if ((d = malloc(len + 1)) == NULL)
		fatal("malloc");
	memcpy(d, s, len);
	d[len] = '\0';
	*sp = d;
	*lenp = len;
	return 0;
}

/* number64 (RFC 9051): digits, at most 2^63 - 1. */
static int
arg_number(const struct imap_arg *a, uint64_t *np)
{
	const char	*p;
	uint64_t	 n = 0;

	if (a == NULL || a->type != IMAP_ARG_ATOM || a->len == 0 ||
	    a->len > 19)
		return -1;
	for (p = a->str; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (n > (uint64_t)INT64_MAX)
		return -1;
	*np = n;
	return 0;
}

/* Keys that test one system flag: bit and whether set or clear. */
static int
flag_key(const char *k, int *bit, int *neg)
{
	static const struct {
		const char	*name;
		int		 bit;
		int		 neg;
	} keys[] = {
		{ "ANSWERED", SEARCH_FL_ANSWERED, 0 },
		{ "DELETED", SEARCH_FL_DELETED, 0 },
		{ "DRAFT", SEARCH_FL_DRAFT, 0 },
		{ "FLAGGED", SEARCH_FL_FLAGGED, 0 },
		{ "RECENT", SEARCH_FL_RECENT, 0 },
		{ "SEEN", SEARCH_FL_SEEN, 0 },
		{ "OLD", SEARCH_FL_RECENT, 1 },
		{ "UNANSWERED", SEARCH_FL_ANSWERED, 1 },
		{ "UNDELETED", SEARCH_FL_DELETED, 1 },
		{ "UNDRAFT", SEARCH_FL_DRAFT, 1 },
		{ "UNFLAGGED", SEARCH_FL_FLAGGED, 1 },
		{ "UNSEEN", SEARCH_FL_SEEN, 1 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcasecmp(k, keys[i].name) == 0) {
			*bit = keys[i].bit;
			*neg = keys[i].neg;
			return 1;
		}
	return 0;
}

static struct node *
negate(struct compiler *c, struct node *n)
{
	struct node	*not;

	if (n == NULL)
		return NULL;
	if ((not = node_new(c, N_NOT)) == NULL) {
		node_free(n);
		return NULL;
	}
	not->child = n;
	return not;
}

/* A sequence-set or UID-set key; "*" stands for star. */
static struct node *
set_node(struct compiler *c, enum node_type type, const char *s,
    uint32_t star, const char *bad)
{
	struct node	*n;
	const char	*e;

	if ((n = node_new(c, type)) == NULL)
		return NULL;
	if (imap_seqset_parse(s, star, &n->set, &e) == -1) {
		n->type = N_ALL;	/* no set to free */
		node_free(n);
		c->err = bad;
		return NULL;
	}
	if (n->set.searchres) {
		node_free(n);
		c->err = "$ is not supported";
		return NULL;
	}
	return n;
}

/* One search key starting at *ap; *ap is advanced past it. */
static struct node *
compile_key(struct compiler *c, const struct imap_arg **ap, int depth)
{
	const struct imap_arg	*a = *ap, *b;
	const char		*k;
	struct node		*n = NULL, *x;
	char			*s;
	size_t			 slen, i;
	int			 bit, neg;
	uint64_t		 num;
	static const struct {
		const char	*name;
		const char	*field;
	} hdrkeys[] = {
		{ "BCC", "Bcc" }, { "CC", "Cc" }, { "FROM", "From" },
		{ "SUBJECT", "Subject" }, { "TO", "To" }
	};

	if (depth > SEARCH_MAX_DEPTH) {
		c->err = "search keys nested too deeply";
		return NULL;
	}
	*ap = a->next;
	if (a->type == IMAP_ARG_LIST)
		return compile_list(c, a->list, depth + 1);
	if (a->type != IMAP_ARG_ATOM || (a->flags & IMAP_ARGF_SECTION)) {
		c->err = "search key expected";
		return NULL;
	}
	k = a->str;

	/* Sequence set. */
	if ((*k >= '0' && *k <= '9') || *k == '*' || *k == '$') {
		return set_node(c, N_SEQ, k, c->exists, "bad sequence set");
	}

	if (flag_key(k, &bit, &neg)) {
		if ((n = node_new(c, N_FLAG)) == NULL)
			return NULL;
		n->num = (uint64_t)bit;
		return neg ? negate(c, n) : n;
	}
	if (strcasecmp(k, "ALL") == 0)
		return node_new(c, N_ALL);
	if (strcasecmp(k, "NEW") == 0) {
		/* RECENT UNSEEN */
		if ((n = node_new(c, N_AND)) == NULL)
			return NULL;
		if ((x = node_new(c, N_FLAG)) == NULL)
			goto fail;
		x->num = SEARCH_FL_RECENT;
		n->child = x;
		if ((x = node_new(c, N_FLAG)) == NULL)
			goto fail;
		x->num = SEARCH_FL_SEEN;
		if ((n->child->next = negate(c, x)) == NULL)
			goto fail;
		return n;
	}
	if (strcasecmp(k, "NOT") == 0) {
		if (*ap == NULL) {
			c->err = "NOT needs a search key";
			return NULL;
		}
		return negate(c, compile_key(c, ap, depth + 1));
	}
	if (strcasecmp(k, "OR") == 0) {
		if (*ap == NULL || (*ap)->next == NULL) {
			c->err = "OR needs two search keys";
			return NULL;
		}
		if ((n = node_new(c, N_OR)) == NULL)
			return NULL;
		if ((n->child = compile_key(c, ap, depth + 1)) == NULL)
			goto fail;
		if (*ap == NULL) {
			c->err = "OR needs two search keys";
			goto fail;
		}
		if ((n->child->next = compile_key(c, ap, depth + 1)) == NULL)
			goto fail;
		return n;
	}
	if (strcasecmp(k, "KEYWORD") == 0 || strcasecmp(k, "UNKEYWORD") == 0) {
		b = *ap;
		if (b == NULL || b->type != IMAP_ARG_ATOM || b->len == 0 ||
		    strpbrk(b->str, "\\(){%*\"]") != NULL ||
		    (b->flags & IMAP_ARGF_SECTION)) {
			c->err = "bad keyword";
			return NULL;
		}
		*ap = b->next;
		if ((n = node_new(c, N_KEYWORD)) == NULL)
			return NULL;
		if ((n->str = strdup(b->str)) == NULL)
			fatal("strdup");
		return k[0] == 'U' || k[0] == 'u' ? negate(c, n) : n;
	}
	if (strcasecmp(k, "BEFORE") == 0 || strcasecmp(k, "ON") == 0 ||
	    strcasecmp(k, "SINCE") == 0 || strcasecmp(k, "SENTBEFORE") == 0 ||
	    strcasecmp(k, "SENTON") == 0 || strcasecmp(k, "SENTSINCE") == 0) {
		enum node_type	t;
		long		day;

		if (arg_string(c, *ap, &s, &slen) == -1)
			return NULL;
		*ap = (*ap)->next;
		if (search_parse_date(s, &day) == -1) {
			free(s);
			c->err = "bad date";
			return NULL;
		}
		free(s);
		if (strcasecmp(k, "BEFORE") == 0)
			t = N_BEFORE;
		else if (strcasecmp(k, "ON") == 0)
			t = N_ON;
		else if (strcasecmp(k, "SINCE") == 0)
			t = N_SINCE;
		else if (strcasecmp(k, "SENTBEFORE") == 0)
			t = N_SENTBEFORE;
		else if (strcasecmp(k, "SENTON") == 0)
			t = N_SENTON;
		else
			t = N_SENTSINCE;
		if (t >= N_SENTBEFORE)
			c->prog->needs |= SEARCH_NEED_HEADER;
		if ((n = node_new(c, t)) == NULL)
			return NULL;
		n->day = day;
		return n;
	}
	if (strcasecmp(k, "SAVEDBEFORE") == 0 ||
	    strcasecmp(k, "SAVEDON") == 0 ||
	    strcasecmp(k, "SAVEDSINCE") == 0) {
		long	 day;

		if (arg_string(c, *ap, &s, &slen) == -1)
			return NULL;
		*ap = (*ap)->next;
		if (search_parse_date(s, &day) == -1) {
			free(s);
			c->err = "bad date";
			return NULL;
		}
		free(s);
		if ((n = node_new(c, strcasecmp(k, "SAVEDBEFORE") == 0 ?
		    N_SAVEDBEFORE : strcasecmp(k, "SAVEDON") == 0 ?
		    N_SAVEDON : N_SAVEDSINCE)) == NULL)
			return NULL;
		n->day = day;
		return n;
	}
	if (strcasecmp(k, "SAVEDATESUPPORTED") == 0)
		return node_new(c, N_SAVEDSUPPORTED);
	if (strcasecmp(k, "EMAILID") == 0 || strcasecmp(k, "THREADID") == 0)
		return objectid_key(c, k, ap);
	if (strcasecmp(k, "LARGER") == 0 || strcasecmp(k, "SMALLER") == 0) {
		if (arg_number(*ap, &num) == -1) {
			c->err = "bad number";
			return NULL;
		}
		*ap = (*ap)->next;
		if ((n = node_new(c, strcasecmp(k, "LARGER") == 0 ?
		    N_LARGER : N_SMALLER)) == NULL)
			return NULL;
		n->num = num;
		return n;
	}
	if (strcasecmp(k, "UID") == 0) {
		b = *ap;
		if (b == NULL || b->type != IMAP_ARG_ATOM) {
			c->err = "UID needs a sequence set";
			return NULL;
		}
		*ap = b->next;
		return set_node(c, N_UID, b->str, c->maxuid, "bad UID set");
	}
	if (strcasecmp(k, "MODSEQ") == 0) {
		b = *ap;
		if (b != NULL && arg_number(b, &num) == -1) {
			/* [entry-name entry-type]: per-flag modseqs are
			 * not kept, the message's modseq answers all. */
			if (b->type != IMAP_ARG_QUOTED &&
			    b->type != IMAP_ARG_ATOM) {
				c->err = "bad MODSEQ entry name";
				return NULL;
			}
			b = b->next;
			if (b == NULL || b->type != IMAP_ARG_ATOM ||
			    (strcasecmp(b->str, "priv") != 0 &&
			    strcasecmp(b->str, "shared") != 0 &&
			    strcasecmp(b->str, "all") != 0)) {
				c->err = "bad MODSEQ entry type";
				return NULL;
			}
			b = b->next;
		}
		if (arg_number(b, &num) == -1) {
			c->err = "bad MODSEQ value";
			return NULL;
		}
		*ap = b->next;
		if ((n = node_new(c, N_MODSEQ)) == NULL)
			return NULL;
		n->num = num;
		c->prog->needs |= SEARCH_NEED_MODSEQ;
		return n;
	}

	/* String keys. */
	for (i = 0; i < sizeof(hdrkeys) / sizeof(hdrkeys[0]); i++)
		if (strcasecmp(k, hdrkeys[i].name) == 0)
			break;
	if (i < sizeof(hdrkeys) / sizeof(hdrkeys[0]) ||
	    strcasecmp(k, "HEADER") == 0 || strcasecmp(k, "BODY") == 0 ||
	    strcasecmp(k, "TEXT") == 0) {
		char	*field = NULL;
		size_t	 flen, j;

		if (strcasecmp(k, "HEADER") == 0) {
			if (arg_string(c, *ap, &field, &flen) == -1)
				return NULL;
			*ap = (*ap)->next;
			if (flen == 0 || strpbrk(field, ": \t") != NULL) {
				free(field);
				c->err = "bad header field name";
				return NULL;
			}
		} else if (i < sizeof(hdrkeys) / sizeof(hdrkeys[0])) {
			if ((field = strdup(hdrkeys[i].field)) == NULL)
				fatal("strdup");
		}
		if (arg_string(c, *ap, &s, &slen) == -1) {
			free(field);
			return NULL;
		}
		*ap = (*ap)->next;
		for (j = 0; j < slen; j++)
			s[j] = (char)tolower((unsigned char)s[j]);
		if (field != NULL && strcasecmp(k, "HEADER") != 0 &&
		    strcasecmp(k, "SUBJECT") != 0)
			n = node_new(c, N_ADDRESS);
		else if (field != NULL)
			n = node_new(c, N_HEADER);
		else
			n = node_new(c, strcasecmp(k, "BODY") == 0 ?
			    N_BODY : N_TEXT);
		if (n == NULL) {
			free(field);
			free(s);
			return NULL;
		}
		n->field = field;
		n->str = s;
		n->slen = slen;
		c->prog->needs |= field != NULL ? SEARCH_NEED_HEADER :
		    SEARCH_NEED_CONTENT;
		return n;
	}
	c->err = "unknown search key";
	return NULL;

 fail:
	node_free(n);
	return NULL;
}

/*
 * EMAILID / THREADID objectid (RFC 8474 6): 1*255(ALPHA / DIGIT / "_" /
 * "-").  No thread has an id here, so THREADID matches nothing.
 */
static struct node *
objectid_key(struct compiler *c, const char *k, const struct imap_arg **ap)
{
	const struct imap_arg	*b = *ap;
	struct node		*n;
	size_t			 i;

	if (b == NULL || b->type != IMAP_ARG_ATOM || b->len == 0 ||
	    b->len > 255 || (b->flags & (IMAP_ARGF_SECTION |
	    IMAP_ARGF_PARTIAL))) {
		c->err = "bad objectid";
		return NULL;
	}
	for (i = 0; i < b->len; i++)
		if (!isalnum((unsigned char)b->str[i]) && b->str[i] != '_' &&
		    b->str[i] != '-') {
			c->err = "bad objectid";
			return NULL;
		}
	*ap = b->next;
	if (strcasecmp(k, "THREADID") == 0) {
		if ((n = node_new(c, N_ALL)) == NULL)
			return NULL;
		return negate(c, n);
	}
	if ((n = node_new(c, N_EMAILID)) == NULL)
		return NULL;
	if ((n->str = strdup(b->str)) == NULL)
		fatal("strdup");
	c->prog->needs |= SEARCH_NEED_EMAILID;
	return n;
}

/* Days since 1970-01-01 of t in the zone tzoff (floor division). */
static long
day_of(time_t t, long tzoff)
{
	long long	 v = (long long)t + tzoff;

	return (long)(v >= 0 ? v / 86400 : -((-v + 86399) / 86400));
}

/*
 * RFC 3501 date: 1*2DIGIT "-" month "-" 4DIGIT, month case-insensitive.
 */
int
search_parse_date(const char *s, long *dayp)
{
	int	 d = 0, y = 0, mon, i;
	char	 m[4];

	for (i = 0; i < 2 && *s >= '0' && *s <= '9'; i++)
		d = d * 10 + (*s++ - '0');
	if (i == 0 || *s++ != '-')
		return -1;
	for (i = 0; i < 3; i++) {
		if (s[i] == '\0')
			return -1;
		m[i] = (char)tolower((unsigned char)s[i]);
	}
	m[3] = '\0';
	s += 3;
	if ((mon = month_index(m)) == -1 || *s++ != '-')
		return -1;
	for (i = 0; i < 4; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		y = y * 10 + (s[i] - '0');
	}
	if (s[4] != '\0' || d < 1 || d > 31)
		return -1;
	*dayp = days_from_civil(y, mon + 1, d);
	return 0;
}

static int
month_index(const char *m)
{
	int	 i;

	for (i = 0; i < 12; i++)
		if (strncasecmp(m, months[i], 3) == 0)
			return i;
	return -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static long
days_from_civil(long y, int m, int d)
{
	long	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static const struct mime_msg *
ctx_mime(struct evalctx *ctx)
{
	if (ctx->mime == NULL && ctx->m->data != NULL) {
		ctx->owned = mime_parse(ctx->m->data, ctx->m->len);
		ctx->mime = ctx->owned;
	}
	return ctx->mime;
}

static int
match(struct evalctx *ctx, const struct node *n, int depth)
{
	const struct search_msg	*m = ctx->m;
	const struct mime_msg	*mm;
	const struct node	*x;
	const struct mime_part	*r;
	long			 day;
	size_t			 i;

	if (depth > 2 * SEARCH_MAX_DEPTH + 4)
		return 0;
	switch (n->type) {
	case N_ALL:
		return 1;
	case N_FLAG:
		return (m->flags & (int)n->num) != 0;
	case N_KEYWORD:
		for (i = 0; i < m->nkeywords; i++)
			if (m->keywords[i] != NULL &&
			    strcasecmp(m->keywords[i], n->str) == 0)
				return 1;
		return 0;
	case N_BEFORE:
	case N_ON:
	case N_SINCE:
		/* floor division: dates before 1970 are negative */
		{
			long long	t = (long long)m->internal_date +
			    m->internal_tzoff;

			day = (long)(t >= 0 ? t / 86400 : -((-t + 86399) /
			    86400));
		}
		if (n->type == N_BEFORE)
			return day < n->day;
		if (n->type == N_ON)
			return day == n->day;
		return day >= n->day;
	case N_SENTBEFORE:
	case N_SENTON:
	case N_SENTSINCE:
		if ((mm = ctx_mime(ctx)) == NULL || sent_day(mm, &day) == -1)
			return 0;
		if (n->type == N_SENTBEFORE)
			return day < n->day;
		if (n->type == N_SENTON)
			return day == n->day;
		return day >= n->day;
	case N_LARGER:
		return m->size > n->num;
	case N_SMALLER:
		return m->size < n->num;
	case N_HEADER:
	case N_ADDRESS:
		if ((mm = ctx_mime(ctx)) == NULL)
			return 0;
		r = mm->root;
		return header_match(mm->buf + r->hdr_off, r->hdr_len,
		    n->field, n->str, n->slen, n->type == N_ADDRESS);
	case N_BODY:
	case N_TEXT:
		if ((mm = ctx_mime(ctx)) == NULL)
			return 0;
		return body_match(mm, mm->root, n->str, n->slen,
		    n->type == N_TEXT);
	case N_SEQ:
		return imap_seqset_contains(&n->set, m->seq);
	case N_UID:
		return imap_seqset_contains(&n->set, m->uid);
	case N_MODSEQ:
		return m->modseq >= n->num;
	case N_SAVEDBEFORE:
	case N_SAVEDON:
	case N_SAVEDSINCE:
		/* No save date: the internal date instead (RFC 8514 4.3). */
		if (m->save_date == 0)
			day = day_of(m->internal_date, m->internal_tzoff);
		else
			day = day_of(m->save_date, m->save_tzoff);
		if (n->type == N_SAVEDBEFORE)
			return day < n->day;
		if (n->type == N_SAVEDON)
			return day == n->day;
		return day >= n->day;
	case N_SAVEDSUPPORTED:
		return m->save_date != 0;
	case N_EMAILID:
		/* objectids are case-sensitive (RFC 8474 4) */
		return m->emailid != NULL && strcmp(m->emailid, n->str) == 0;
	case N_NOT:
		return !match(ctx, n->child, depth + 1);
	case N_OR:
		return match(ctx, n->child, depth + 1) ||
		    match(ctx, n->child->next, depth + 1);
	case N_AND:
		for (x = n->child; x != NULL; x = x->next)
			if (!match(ctx, x, depth + 1))
				return 0;
		return 1;
	}
	return 0;
}

/* ASCII case-insensitive search; needle is already lowercase. */
static int
ci_find(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	char	*low;
	size_t	 i;
	int	 r;

	if (nlen == 0)
		return 1;
	if (hlen < nlen)
		return 0;
	if ((low = malloc(hlen)) == NULL)
		fatal("malloc");
	for (i = 0; i < hlen; i++)
		low[i] = (char)tolower((unsigned char)hay[i]);
	r = memmem(low, hlen, needle, nlen) != NULL;
	free(low);
	return r;
}

/*
 * Every field called field (any field if NULL) of the header block:
 * unfolded and RFC 2047-decoded value contains the string.  An empty
 * string matches the field's presence.  With addr, the value is first
 * read as an address list and matched as its addresses' text (SEARCH
 * FROM finds "user@host" in "<user (c)@ host>", and a comment name).
 */
static int
header_match(const char *h, size_t hlen, const char *field,
    const char *str, size_t slen, int addr)
{
	size_t	 pos = 0, ls, le, colon, ve, nlen;
	char	*raw, *dec;
	int	 r;

	while (pos < hlen) {
		ls = pos;
		while (pos < hlen && h[pos] != '\n')
			pos++;
		le = pos;
		if (pos < hlen)
			pos++;
		if (le == ls || (le - ls == 1 && h[ls] == '\r'))
			break;		/* blank line ends the header */
		if (h[ls] == ' ' || h[ls] == '\t')
			continue;	/* stray continuation */
		for (colon = ls; colon < le && h[colon] != ':'; colon++)
			;
		if (colon == le)
			break;		/* not a field: header ends */
		/* value runs over the continuation lines */
		ve = le;
		while (pos < hlen && (h[pos] == ' ' || h[pos] == '\t')) {
			while (pos < hlen && h[pos] != '\n')
				pos++;
			ve = pos;
			if (pos < hlen)
				pos++;
		}
		nlen = colon - ls;
		while (nlen > 0 && (h[ls + nlen - 1] == ' ' ||
		    h[ls + nlen - 1] == '\t'))
			nlen--;
		if (field != NULL && (strlen(field) != nlen ||
		    strncasecmp(h + ls, field, nlen) != 0))
			continue;
		if (slen == 0)
			return 1;
		raw = mime_unfold(h + colon + 1, ve - colon - 1);
		if (addr) {
			struct mbuf	 t;

			memset(&t, 0, sizeof(t));
			mime_addr_text(&t, raw);
			free(raw);
			raw = t.data;
		}
		dec = search_decode_words(raw, strlen(raw));
		free(raw);
		r = ci_find(dec, strlen(dec), str, slen);
		free(dec);
		if (r)
			return 1;
	}
	return 0;
}

/*
 * BODY: the text parts of the message (decoded); encapsulated
 * messages' headers count as body.  TEXT adds the header of p.
 */
static int
body_match(const struct mime_msg *mm, const struct mime_part *p,
    const char *str, size_t slen, int text)
{
	const struct mime_part	*c;

	if (text && (ci_find(mm->buf + p->hdr_off, p->hdr_len, str, slen) ||
	    header_match(mm->buf + p->hdr_off, p->hdr_len, NULL, str, slen,
	    0)))
		return 1;
	if (slen == 0)
		return 1;
	if (p->flags & MIME_F_MESSAGE) {
		if (p->child != NULL)
			return body_match(mm, p->child, str, slen, 1);
		return 0;
	}
	if (p->flags & MIME_F_MULTIPART) {
		for (c = p->child; c != NULL; c = c->next)
			if (body_match(mm, c, str, slen, 0))
				return 1;
		return 0;
	}
	return part_text_match(mm, p, str, slen);
}

/* One leaf: only text parts, decoded to UTF-8 where cheap. */
static int
part_text_match(const struct mime_msg *mm, const struct mime_part *p,
    const char *str, size_t slen)
{
	const struct mime_param	*pr;
	const char		*b = mm->buf + p->body_off;
	size_t			 blen = p->body_len, n;
	char			*dec = NULL, *u;
	int			 r, kind = 0;

	if (p->type[0] != '\0' && strcmp(p->type, "text") != 0)
		return 0;
	if (p->encoding != NULL && strcasecmp(p->encoding,
	    "quoted-printable") == 0) {
		if ((dec = malloc(blen + 1)) == NULL)
			fatal("malloc");
		blen = qp_decode(b, blen, dec, 0);
		b = dec;
	} else if (p->encoding != NULL && strcasecmp(p->encoding,
	    "base64") == 0) {
		if ((dec = malloc(blen + 1)) == NULL)
			fatal("malloc");
		blen = b64_decode(b, blen, dec);
		b = dec;
	}
	for (pr = p->params; pr != NULL; pr = pr->next)
		if (strcmp(pr->name, "charset") == 0)
			kind = charset_kind(pr->value, strlen(pr->value));
	if (kind == 2 && blen <= SIZE_MAX / 2) {
		if ((u = malloc(blen * 2 + 1)) == NULL)
			fatal("malloc");
		n = latin1_to_utf8(b, blen, u);
		free(dec);
		dec = u;
		b = u;
		blen = n;
	}
	r = ci_find(b, blen, str, slen);
	free(dec);
	return r;
}

/* 1: UTF-8/US-ASCII, 2: ISO-8859-1, 0: unknown. */
static int
charset_kind(const char *cs, size_t len)
{
	static const struct {
		const char	*name;
		int		 kind;
	} tab[] = {
		{ "utf-8", 1 }, { "utf8", 1 }, { "us-ascii", 1 },
		{ "iso-8859-1", 2 }, { "iso8859-1", 2 }, { "latin1", 2 },
		{ "iso_8859-1", 2 }
	};
	size_t	 i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strlen(tab[i].name) == len &&
		    strncasecmp(cs, tab[i].name, len) == 0)
			return tab[i].kind;
	return 0;
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Quoted-printable (hdr: RFC 2047 Q, "_" is a space); out >= len. */
static size_t
qp_decode(const char *s, size_t len, char *out, int hdr)
{
	size_t	 i, n = 0, j;
	int	 h, l;

	for (i = 0; i < len; i++) {
		if (hdr && s[i] == '_') {
			out[n++] = ' ';
			continue;
		}
		if (s[i] != '=') {
			out[n++] = s[i];
			continue;
		}
		if (i + 2 < len + 0 && (h = hexval((unsigned char)s[i + 1]))
		    != -1 && (l = hexval((unsigned char)s[i + 2])) != -1) {
			out[n++] = (char)(h << 4 | l);
			i += 2;
			continue;
		}
		/* soft line break: "=" then optional blanks, CRLF/LF */
		for (j = i + 1; j < len && (s[j] == ' ' || s[j] == '\t' ||
		    s[j] == '\r'); j++)
			;
		if (j < len && s[j] == '\n') {
			i = j;
			continue;
		}
		if (j == len) {
			i = j;
			continue;
		}
		out[n++] = '=';
	}
	return n;
}

/* Base64, skipping what is not in the alphabet; out >= len. */
static size_t
b64_decode(const char *s, size_t len, char *out)
{
	static const char	 alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char		*p;
	uint32_t		 acc = 0;
	size_t			 i, n = 0;
	int			 bits = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '=')
			break;
		if (s[i] == '\0' || (p = strchr(alpha, s[i])) == NULL)
			continue;
		acc = (acc << 6) | (uint32_t)(p - alpha);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	return n;
}

/* out must hold 2 * len bytes. */
static size_t
latin1_to_utf8(const char *s, size_t len, char *out)
{
	size_t		 i, n = 0;
	unsigned char	 c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c < 0x80)
			out[n++] = (char)c;
		else {
			out[n++] = (char)(0xc0 | (c >> 6));
			out[n++] = (char)(0x80 | (c & 0x3f));
		}
	}
	return n;
}

/*
 * RFC 2047: =?charset[*lang]?Q|B?text?= for UTF-8, US-ASCII and
 * ISO-8859-1; other charsets stay encoded.  Blanks between two encoded
 * words are dropped.  The result is at most 2 * len bytes.
 */
char *
search_decode_words(const char *s, size_t len)
{
	char		*out, *tmp;
	const char	*cs, *q1, *q2, *end, *t;
	size_t		 n = 0, i = 0, cslen, tlen, dl, j, lastend = 0;
	int		 kind, enc, prev_word = 0;

	if (len > SIZE_MAX / 2 - 1)
		len = SIZE_MAX / 2 - 1;
	if ((out = malloc(len * 2 + 1)) == NULL)
		fatal("malloc");
	while (i < len) {
		if (!(s[i] == '=' && i + 1 < len && s[i + 1] == '?'))
			goto plain;
		cs = s + i + 2;
		q1 = memchr(cs, '?', len - (size_t)(cs - s));
		if (q1 == NULL || q1 + 2 >= s + len || q1[2] != '?')
			goto plain;
		enc = toupper((unsigned char)q1[1]);
		if (enc != 'Q' && enc != 'B')
			goto plain;
		t = q1 + 3;
		for (q2 = t; q2 + 1 < s + len; q2++)
			if (q2[0] == '?' && q2[1] == '=')
				break;
		if (q2 + 1 >= s + len)
			goto plain;
		end = q2 + 2;
		cslen = (size_t)(q1 - cs);
		if ((t = memchr(cs, '*', cslen)) != NULL)
			cslen = (size_t)(t - cs);
		if ((kind = charset_kind(cs, cslen)) == 0)
			goto plain;
		t = q1 + 3;
		tlen = (size_t)(q2 - t);
		if (memchr(t, ' ', tlen) != NULL)
			goto plain;
		/* drop the blanks between two encoded words */
		if (prev_word) {
			for (j = lastend; j < i && (s[j] == ' ' ||
			    s[j] == '\t'); j++)
				;
			if (j == i)
				n -= i - lastend;
		}
		if ((tmp = malloc(tlen + 1)) == NULL)
			fatal("malloc");
		dl = enc == 'Q' ? qp_decode(t, tlen, tmp, 1) :
		    b64_decode(t, tlen, tmp);
		if (kind == 2)
			n += latin1_to_utf8(tmp, dl, out + n);
		else {
			for (j = 0; j < dl; j++)
				out[n++] = tmp[j] == '\0' ? ' ' : tmp[j];
		}
		free(tmp);
		i = (size_t)(end - s);
		lastend = i;
		prev_word = 1;
		continue;
 plain:
		if (s[i] != ' ' && s[i] != '\t')
			prev_word = 0;
		out[n++] = s[i++];
	}
	out[n] = '\0';
	return out;
}

/*
 * The day of the Date: header as written, in its own zone (RFC 3501
 * SENT*): [day-name ","] day month year ...
 */
static int
sent_day(const struct mime_msg *mm, long *dayp)
{
	char		*v, *p, m[4];
	long		 d = 0, y = 0;
	int		 i, mon, r = -1;

	v = mime_header_get(mm->buf + mm->root->hdr_off, mm->root->hdr_len,
	    "Date");
	if (v == NULL)
		return -1;
	p = v;
	if ((p = strchr(v, ',')) != NULL)
		p++;
	else
		p = v;
	while (*p == ' ' || *p == '\t')
		p++;
	for (i = 0; i < 2 && isdigit((unsigned char)*p); i++)
		d = d * 10 + (*p++ - '0');
	if (i == 0 || d < 1 || d > 31)
		goto done;
	while (*p == ' ' || *p == '\t' || *p == '-')
		p++;
	for (i = 0; i < 3; i++) {
		if (p[i] == '\0')
			goto done;
		m[i] = p[i];
	}
	m[3] = '\0';
	if ((mon = month_index(m)) == -1)
		goto done;
	p += 3;
	while (isalpha((unsigned char)*p))
		p++;		/* full month names */
	while (*p == ' ' || *p == '\t' || *p == '-')
		p++;
	for (i = 0; i < 4 && isdigit((unsigned char)*p); i++)
		y = y * 10 + (*p++ - '0');
	if (i == 2)
		y += y < 50 ? 2000 : 1900;	/* RFC 5322 obs-year */
	else if (i == 3)
		y += 1900;
	else if (i != 4)
		goto done;
	*dayp = days_from_civil(y, mon + 1, (int)d);
	r = 0;
 done:
	free(v);
	return r;
}

static void
seq2uid(struct node *n, const uint32_t *uids, size_t nuids, int depth)
{
	struct imap_seqrange	*r;
	size_t			 i, k;
	uint32_t		 hi;

	for (; n != NULL && depth <= 2 * SEARCH_MAX_DEPTH + 4; n = n->next) {
		seq2uid(n->child, uids, nuids, depth + 1);
		if (n->type != N_SEQ)
			continue;
		r = n->set.r;
		for (i = 0, k = 0; i < n->set.n; i++) {
			if (r[i].lo == 0 || r[i].lo > nuids)
				continue;
			hi = r[i].hi < nuids ? r[i].hi : (uint32_t)nuids;
			r[k].lo = uids[r[i].lo - 1];
			r[k++].hi = uids[hi - 1];
		}
		n->set.n = k;
		n->type = N_UID;
	}
}

static int
node_volatile(const struct node *n, int depth)
{
	for (; n != NULL && depth <= 2 * SEARCH_MAX_DEPTH + 4; n = n->next)
		if (n->type == N_FLAG || n->type == N_KEYWORD ||
		    n->type == N_MODSEQ || node_volatile(n->child, depth + 1))
			return 1;
	return 0;
}
