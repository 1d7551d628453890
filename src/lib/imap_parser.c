/*
 * IMAP command parser: tag, command name and argument tree from the
 * lines and literals of one command, fed incrementally by the session;
 * plus sequence sets, astring extraction and string encoding for
 * replies.  Every argument is copied into one growing buffer, so
 * arguments refer to it by offset while parsing and get pointers only
 * when the command is complete (the buffer may move as it grows).  The
 * messages of APPEND and REPLACE may go to the caller's spill instead.
 */
#include <sys/types.h>

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "imap_parser.h"
#include "log.h"

enum pstate {
	PS_TAG,		/* next line starts a command */
	PS_ARGS,	/* inside the arguments, more lines to come */
	PS_LITERAL,	/* literal bytes expected */
	PS_DONE,
	PS_ERROR
};

/* Where an argument lives while the buffer may still move. */
struct argpriv {
	size_t	off;		/* in p->buf, SIZE_MAX for lists */
	int	next;		/* sibling index, -1 none */
	int	child;		/* first child, -1 none */
};

struct frame {
	int	list;		/* list argument index, -1 for the top */
	int	last;		/* last child so far, -1 none */
};

struct imap_parser {
	struct imap_limits	 lim;
	enum pstate		 state;
	char			 tag[IMAP_TAG_MAX + 1];
	char			 name[IMAP_NAME_MAX + 1];
	int			 uid;
	int			 append;	/* APPEND or REPLACE */
	size_t			 lead;		/* its arguments kept */

	char			*buf;
	size_t			 buflen, bufsize;
	size_t			 textlen;	/* line bytes of the command */
	size_t			 littotal;

	struct imap_arg		*args;
	struct argpriv		*priv;
	size_t			 nargs, argsize;
	size_t			 ntop;
	struct frame		 stack[IMAP_DEPTH_MAX + 1];
	size_t			 depth;
	int			 needsep;	/* a token just ended */
	int			 opened;	/* a list just opened */

	uint64_t		 litsize;
	int			 litsync;
	size_t			 litleft;
	int			 lit8;
	int			 litnul;
	int			 litarg;
	int			 litspill;	/* to the spill */

	imap_spill_fn		*spill;
	void			*spillarg;
	uint64_t		 spillmax;
	uint64_t		 spilled;	/* by this command */

	enum imap_parse_error	 errcode;
	const char		*errstr;
	struct imap_command	 cmd;
};

static const struct imap_limits	 default_limits = {
	.line_max = 65536,
	.lit_max = 65536,
	.append_max = 32 * 1024 * 1024,
	.lit_total = 32 * 1024 * 1024,
	.args_max = 4096,
	.depth_max = 16
};

static const char *const uid_commands[] = {
	"FETCH", "STORE", "COPY", "MOVE", "SEARCH", "EXPUNGE", "REPLACE",
	"SORT", "THREAD"
};

static int	fail(struct imap_parser *, enum imap_parse_error,
		    const char *);
static int	atom_char(unsigned char);
static int	tag_char(unsigned char);
static void	buf_reserve(struct imap_parser *, size_t);
static void	buf_add(struct imap_parser *, const void *, size_t);
static int	arg_new(struct imap_parser *, enum imap_arg_type);
static int	parse_start(struct imap_parser *, const char *, size_t,
		    size_t *);
static int	parse_name(struct imap_parser *, const char *, size_t,
		    size_t *, char *, size_t);
static int	parse_args(struct imap_parser *, const char *, size_t,
		    size_t);
static int	parse_quoted(struct imap_parser *, const char *, size_t,
		    size_t *);
static int	parse_atom(struct imap_parser *, const char *, size_t,
		    size_t *);
static int	parse_section(struct imap_parser *, const char *, size_t,
		    size_t *, struct imap_arg *);
static int	parse_partial(struct imap_parser *, const char *, size_t,
		    size_t *, struct imap_arg *);
static int	parse_literal(struct imap_parser *, const char *, size_t,
		    size_t);
static int	finish(struct imap_parser *);
static int	seq_number(const char **, uint32_t, uint32_t *);
static int	range_cmp(const void *, const void *);
static int	top_arg(const struct imap_parser *, size_t);

static int
fail(struct imap_parser *p, enum imap_parse_error code, const char *why)
{
	p->state = PS_ERROR;
	p->errcode = code;
	p->errstr = why;
	return IMAP_PARSE_ERROR;
}

/* ATOM-CHAR: CHAR except atom-specials; list-wildcards are let in. */
static int
atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	return strchr("(){\"\\]", c) == NULL;
}

/* A FETCH attribute that a "[section]" may follow. */
static int
section_name(const char *s, size_t len)
{
	static const char *const names[] = {
		"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE"
	};
	size_t	 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len &&
		    strncasecmp(s, names[i], len) == 0)
			return 1;
	return 0;
}

static int
tag_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	return strchr("(){\"\\%*+", c) == NULL;
}

static void
buf_reserve(struct imap_parser *p, size_t n)
{
	size_t	 nsize;
	char	*nbuf;

	if (n > SIZE_MAX / 2 - p->buflen)
		fatalx("imap_parser: buffer overflow");
	if (p->buflen + n <= p->bufsize)
		return;
	nsize = p->bufsize ? p->bufsize : 256;
	while (nsize < p->buflen + n)
		nsize *= 2;
	if ((nbuf = realloc(p->buf, nsize)) == NULL)
		fatal("realloc");
	p->buf = nbuf;
	p->bufsize = nsize;
}

static void
buf_add(struct imap_parser *p, const void *data, size_t n)
{
	buf_reserve(p, n);
	memcpy(p->buf + p->buflen, data, n);
	p->buflen += n;
}

/* A new argument linked under the open list; -1 if over the limit. */
static int
arg_new(struct imap_parser *p, enum imap_arg_type type)
{
	struct frame	*f = &p->stack[p->depth];
	size_t		 nsize;
	int		 idx;
	void		*n;

	if (p->nargs >= p->lim.args_max || p->nargs >= INT_MAX)
		return -1;
	if (p->nargs == p->argsize) {
		nsize = p->argsize ? p->argsize * 2 : 16;
		if ((n = reallocarray(p->args, nsize, sizeof(*p->args))) ==
		    NULL)
			fatal("reallocarray");
		p->args = n;
		if ((n = reallocarray(p->priv, nsize, sizeof(*p->priv))) ==
		    NULL)
			fatal("reallocarray");
		p->priv = n;
		p->argsize = nsize;
	}
	idx = (int)p->nargs++;
	memset(&p->args[idx], 0, sizeof(p->args[idx]));
	p->args[idx].type = type;
	p->priv[idx].off = SIZE_MAX;
	p->priv[idx].next = p->priv[idx].child = -1;
	if (f->last != -1)
		p->priv[f->last].next = idx;
	else if (f->list != -1)
		p->priv[f->list].child = idx;
	f->last = idx;
	if (f->list != -1)
		p->args[f->list].nlist++;
	else
		p->ntop++;
	return idx;
}

struct imap_parser *
imap_parser_new(const struct imap_limits *lim)
{
	struct imap_parser	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("calloc");
	imap_parser_set_limits(p, lim);
	imap_parser_reset(p);
	return p;
}

void
imap_parser_free(struct imap_parser *p)
{
	if (p == NULL)
		return;
	/* Literals may hold a LOGIN password. */
	if (p->buf != NULL)
		explicit_bzero(p->buf, p->bufsize);
	free(p->buf);
	free(p->args);
	free(p->priv);
	free(p);
}

void
imap_parser_set_limits(struct imap_parser *p, const struct imap_limits *lim)
{
	p->lim = lim != NULL ? *lim : default_limits;
	if (p->lim.depth_max > IMAP_DEPTH_MAX)
		p->lim.depth_max = IMAP_DEPTH_MAX;
}

void
imap_parser_set_spill(struct imap_parser *p, imap_spill_fn *fn, void *arg,
    uint64_t max)
{
	p->spill = fn;
	p->spillarg = arg;
	p->spillmax = max;
}

void
imap_parser_reset(struct imap_parser *p)
{
	if (p->buf != NULL && p->buflen > 0)
		explicit_bzero(p->buf, p->buflen);
	/* Give back the memory of a large APPEND. */
	if (p->bufsize > 65536) {
		free(p->buf);
		p->buf = NULL;
		p->bufsize = 0;
	}
	p->state = PS_TAG;
	p->tag[0] = p->name[0] = '\0';
	p->uid = p->append = 0;
	p->lead = 0;
	p->spilled = 0;
	p->litspill = 0;
	p->buflen = p->textlen = p->littotal = 0;
	p->nargs = p->ntop = 0;
	p->depth = 0;
	p->stack[0].list = p->stack[0].last = -1;
	p->needsep = p->opened = 0;
	p->litsize = 0;
	p->litsync = 0;
	p->litleft = 0;
	p->lit8 = p->litnul = 0;
	p->litarg = -1;
	p->errcode = IMAP_ERR_NONE;
	p->errstr = NULL;
	memset(&p->cmd, 0, sizeof(p->cmd));
}

int
imap_parser_line(struct imap_parser *p, const char *line, size_t len)
{
	size_t	 i = 0;
	int	 r;

	if (p->state == PS_DONE || p->state == PS_ERROR)
		imap_parser_reset(p);
	if (p->state == PS_LITERAL)
		return fail(p, IMAP_ERR_SYNTAX, "Literal data expected");
	if (len > 0 && line[len - 1] == '\r')
		len--;
	/* Read the tag first so that even a bad line gets a tagged BAD. */
	if (p->state == PS_TAG) {
		while (i < len && i < IMAP_TAG_MAX &&
		    tag_char((unsigned char)line[i]))
			i++;
		if (i > 0 && i < len && line[i] == ' ') {
			memcpy(p->tag, line, i);
			p->tag[i] = '\0';
		}
		i = 0;
	}
	if (memchr(line, '\0', len) != NULL || memchr(line, '\r', len) ||
	    memchr(line, '\n', len))
		return fail(p, IMAP_ERR_SYNTAX, "NUL, CR or LF in command");
	if (len > p->lim.line_max - p->textlen || p->textlen > p->lim.line_max)
		return fail(p, IMAP_ERR_TOOBIG, "Command line too long");
	p->textlen += len;
	if (p->litnul)
		return fail(p, IMAP_ERR_SYNTAX, "NUL in literal");
	if (p->state == PS_TAG) {
		if ((r = parse_start(p, line, len, &i)) != IMAP_PARSE_DONE)
			return r;
		p->state = PS_ARGS;
		p->needsep = 1;
	}
	return parse_args(p, line, len, i);
}

/* Tag, SP, command name, and the real name after "UID". */
static int
parse_start(struct imap_parser *p, const char *line, size_t len, size_t *ip)
{
	size_t	 i = 0;
	char	 sub[IMAP_NAME_MAX + 1];
	size_t	 k;

	while (i < len && tag_char((unsigned char)line[i]))
		i++;
	if (i == 0 || i > IMAP_TAG_MAX || (i < len && line[i] != ' '))
		return fail(p, IMAP_ERR_SYNTAX, "Invalid tag");
	memcpy(p->tag, line, i);
	p->tag[i] = '\0';
	if (i == len)
		return fail(p, IMAP_ERR_SYNTAX, "Missing command");
	i++;
	if (parse_name(p, line, len, &i, p->name, sizeof(p->name)) == -1)
		return IMAP_PARSE_ERROR;
	if (strcmp(p->name, "UID") == 0) {
		if (i == len || line[i] != ' ')
			return fail(p, IMAP_ERR_SYNTAX, "Missing UID command");
		i++;
		if (parse_name(p, line, len, &i, sub, sizeof(sub)) == -1)
			return IMAP_PARSE_ERROR;
		for (k = 0; k < nitems(uid_commands); k++)
			if (strcmp(sub, uid_commands[k]) == 0)
				break;
		if (k == nitems(uid_commands))
			return fail(p, IMAP_ERR_SYNTAX, "Unknown UID command");
		strlcpy(p->name, sub, sizeof(p->name));
		p->uid = 1;
	}
	/* Their leading arguments: the mailbox, REPLACE's number first. */
	if (strcmp(p->name, "APPEND") == 0) {
		p->append = 1;
		p->lead = 1;
	} else if (strcmp(p->name, "REPLACE") == 0) {
		p->append = 1;
		p->lead = 2;
	}
	*ip = i;
	return IMAP_PARSE_DONE;
}

static int
parse_name(struct imap_parser *p, const char *line, size_t len, size_t *ip,
    char *name, size_t namesz)
{
	size_t	 i = *ip, n = 0;

	while (i < len && line[i] != ' ') {
		if (!isalnum((unsigned char)line[i]) && line[i] != '-' &&
		    line[i] != '_' && line[i] != '.')
			return fail(p, IMAP_ERR_SYNTAX, "Invalid command name");
		if (n + 1 >= namesz)
			return fail(p, IMAP_ERR_SYNTAX, "Unknown command");
		name[n++] = toupper((unsigned char)line[i]);
		i++;
	}
	if (n == 0)
		return fail(p, IMAP_ERR_SYNTAX, "Missing command");
	name[n] = '\0';
	*ip = i;
	return 0;
}

static int
parse_args(struct imap_parser *p, const char *line, size_t len, size_t i)
{
	unsigned char	 c;
	int		 idx;

	for (;;) {
		if (i == len) {
			if (!p->needsep && !p->opened)
				return fail(p, IMAP_ERR_SYNTAX,
				    "Trailing space");
			if (p->depth > 0)
				return fail(p, IMAP_ERR_SYNTAX,
				    "Missing ')'");
			return finish(p);
		}
		c = line[i];
		if (c == ')') {
			if (!p->needsep && !p->opened)
				return fail(p, IMAP_ERR_SYNTAX,
				    "Space before ')'");
			if (p->depth == 0)
				return fail(p, IMAP_ERR_SYNTAX,
				    "Unbalanced ')'");
			p->depth--;
			p->needsep = 1;
			p->opened = 0;
			i++;
			continue;
		}
		if (p->needsep) {
			if (c != ' ')
				return fail(p, IMAP_ERR_SYNTAX,
				    "Missing space between arguments");
			p->needsep = 0;
			i++;
			continue;
		}
		if (c == ' ')
			return fail(p, IMAP_ERR_SYNTAX, "Extra space");
		p->opened = 0;
		if (c == '(') {
			if (p->depth >= p->lim.depth_max)
				return fail(p, IMAP_ERR_SYNTAX,
				    "Lists nested too deep");
			if ((idx = arg_new(p, IMAP_ARG_LIST)) == -1)
				return fail(p, IMAP_ERR_TOOBIG,
				    "Too many arguments");
			p->depth++;
			p->stack[p->depth].list = idx;
			p->stack[p->depth].last = -1;
			p->opened = 1;
			i++;
			continue;
		}
		if (c == '{' || (c == '~' && i + 1 < len && line[i + 1] == '{'))
			return parse_literal(p, line, len, i);
		if (c == '"') {
			if (parse_quoted(p, line, len, &i) == -1)
				return IMAP_PARSE_ERROR;
		} else if (parse_atom(p, line, len, &i) == -1)
			return IMAP_PARSE_ERROR;
		p->needsep = 1;
	}
}

static int
parse_quoted(struct imap_parser *p, const char *line, size_t len, size_t *ip)
{
	size_t	 i = *ip + 1;
	char	*d;
	int	 idx;

	if ((idx = arg_new(p, IMAP_ARG_QUOTED)) == -1) {
		fail(p, IMAP_ERR_MANY, "Too many arguments");
		return -1;
	}
	/* Unescaping only shrinks: reserve the rest of the line. */
	buf_reserve(p, len - i + 1);
	p->priv[idx].off = p->buflen;
	d = p->buf + p->buflen;
	for (;;) {
		if (i == len) {
			fail(p, IMAP_ERR_SYNTAX, "Unterminated quoted string");
			return -1;
		}
		if (line[i] == '"')
			break;
		if (line[i] == '\\') {
			if (++i == len || (line[i] != '"' && line[i] != '\\')) {
				fail(p, IMAP_ERR_SYNTAX,
				    "Invalid escape in quoted string");
				return -1;
			}
		}
		*d++ = line[i++];
	}
	p->args[idx].len = d - (p->buf + p->buflen);
	*d = '\0';
	p->buflen += p->args[idx].len + 1;
	*ip = i + 1;
	return 0;
}

static int
parse_atom(struct imap_parser *p, const char *line, size_t len, size_t *ip)
{
	struct imap_arg	*a;
	size_t		 start = *ip, i = *ip;
	int		 idx;
	unsigned char	 c;

	if ((idx = arg_new(p, IMAP_ARG_ATOM)) == -1) {
		fail(p, IMAP_ERR_MANY, "Too many arguments");
		return -1;
	}
	a = &p->args[idx];
	while (i < len && line[i] != ' ' && line[i] != ')') {
		c = line[i];
		/*
		 * '[' is an ATOM-CHAR (RFC 3501 9): a section only follows
		 * the FETCH attributes that take one ("SELECT a[b" names a
		 * mailbox).
		 */
		if (c == '[' && section_name(line + start, i - start)) {
			a->namelen = i - start;
			if (parse_section(p, line, len, &i, a) == -1)
				return -1;
			break;
		}
		/* ']' is an ASTRING-CHAR; '\' starts a flag. */
		if (!atom_char(c) && c != ']' && !(c == '\\' && i == start)) {
			fail(p, IMAP_ERR_SYNTAX, c >= 0x80 ?
			    "8-bit character in atom" : "Invalid atom");
			return -1;
		}
		i++;
	}
	if (i == start || (i == start + 1 && line[start] == '\\')) {
		fail(p, IMAP_ERR_SYNTAX, "Invalid atom");
		return -1;
	}
	a->len = i - start;
	p->priv[idx].off = p->buflen;
	buf_add(p, line + start, a->len);
	buf_add(p, "", 1);
	if (a->len == 3 && !(a->flags & IMAP_ARGF_SECTION) &&
	    strncasecmp(line + start, "NIL", 3) == 0)
		a->type = IMAP_ARG_NIL;
	*ip = i;
	return 0;
}

/*
 * "[...]" of a FETCH attribute: header lists and quoted field names may
 * hold spaces and parentheses; then an optional "<off.len>" ends it.
 */
static int
parse_section(struct imap_parser *p, const char *line, size_t len,
    size_t *ip, struct imap_arg *a)
{
	size_t		 i = *ip + 1, start = *ip + 1;
	int		 inq = 0, paren = 0;
	unsigned char	 c;

	for (;; i++) {
		if (i == len) {
			fail(p, IMAP_ERR_SYNTAX, "Missing ']'");
			return -1;
		}
		c = line[i];
		if (c < 0x20 || c >= 0x7f) {
			fail(p, IMAP_ERR_SYNTAX,
			    "Invalid character in section");
			return -1;
		}
		if (inq) {
			if (c == '\\') {
				if (i + 1 == len || (line[i + 1] != '"' &&
				    line[i + 1] != '\\')) {
					fail(p, IMAP_ERR_SYNTAX,
					    "Invalid escape in quoted string");
					return -1;
				}
				i++;
			} else if (c == '"')
				inq = 0;
			continue;
		}
		if (c == '"')
			inq = 1;
		else if (c == '(') {
			if (paren++ > 0) {
				fail(p, IMAP_ERR_SYNTAX, "Invalid section");
				return -1;
			}
		} else if (c == ')') {
			if (paren-- == 0) {
				fail(p, IMAP_ERR_SYNTAX, "Unbalanced ')'");
				return -1;
			}
		} else if (c == ']') {
			if (paren > 0) {
				fail(p, IMAP_ERR_SYNTAX, "Missing ')'");
				return -1;
			}
			break;
		} else if (c == '[' || c == '{') {
			fail(p, IMAP_ERR_SYNTAX, "Invalid section");
			return -1;
		}
	}
	a->flags |= IMAP_ARGF_SECTION;
	/* section points into str once the buffer settles: keep offsets. */
	a->seclen = i - start;
	i++;
	if (i < len && line[i] == '<') {
		if (parse_partial(p, line, len, &i, a) == -1)
			return -1;
	}
	if (i < len && line[i] != ' ' && line[i] != ')') {
		fail(p, IMAP_ERR_SYNTAX, "Garbage after section");
		return -1;
	}
	*ip = i;
	return 0;
}

static int
parse_partial(struct imap_parser *p, const char *line, size_t len,
    size_t *ip, struct imap_arg *a)
{
	uint64_t	 v[2] = { 0, 0 };
	size_t		 i = *ip + 1, k, nd;

	for (k = 0; k < 2; k++) {
		for (nd = 0; i < len && line[i] >= '0' && line[i] <= '9';
		    i++, nd++) {
			v[k] = v[k] * 10 + (line[i] - '0');
			if (v[k] > UINT32_MAX)
				goto bad;
		}
		if (nd == 0 || i == len)
			goto bad;
		if (line[i] != (k == 0 ? '.' : '>'))
			goto bad;
		i++;
	}
	if (v[1] == 0)
		goto bad;
	a->flags |= IMAP_ARGF_PARTIAL;
	a->partial_off = (uint32_t)v[0];
	a->partial_len = (uint32_t)v[1];
	*ip = i;
	return 0;
 bad:
	fail(p, IMAP_ERR_SYNTAX, "Invalid partial range");
	return -1;
}

/* "{n}" / "{n+}" / "~{n}" at the end of the line. */
static int
parse_literal(struct imap_parser *p, const char *line, size_t len, size_t i)
{
	struct imap_arg	*a;
	uint64_t	 n = 0, max;
	size_t		 nd = 0;
	int		 lit8 = 0, sync = 1, spill;

	if (line[i] == '~') {
		lit8 = 1;
		i++;
	}
	for (i++; i < len && line[i] >= '0' && line[i] <= '9'; i++, nd++) {
		if (n > (UINT64_MAX - 9) / 10)
			return fail(p, IMAP_ERR_TOOBIG, "Literal too large");
		n = n * 10 + (line[i] - '0');
	}
	if (i < len && line[i] == '+') {
		sync = 0;
		i++;
	}
	if (nd == 0 || i == len || line[i] != '}')
		return fail(p, IMAP_ERR_SYNTAX, "Invalid literal");
	if (i + 1 != len)
		return fail(p, IMAP_ERR_SYNTAX, "Garbage after literal");
	p->litsize = n;
	p->litsync = sync;
	spill = p->append && p->spill != NULL &&
	    (p->depth > 0 || p->ntop >= p->lead);
	if (spill) {
		if (n > p->lim.append_max || n > p->spillmax - p->spilled)
			return fail(p, IMAP_ERR_TOOBIG, "Literal too large");
	} else {
		max = p->append && p->spill == NULL ? p->lim.append_max :
		    p->lim.lit_max;
		if (n > max || n > p->lim.lit_total - p->littotal)
			return fail(p, IMAP_ERR_TOOBIG, "Literal too large");
	}
	if ((p->litarg = arg_new(p, IMAP_ARG_LITERAL)) == -1)
		return fail(p, IMAP_ERR_MANY, "Too many arguments");
	a = &p->args[p->litarg];
	if (lit8)
		a->flags |= IMAP_ARGF_LITERAL8;
	p->lit8 = lit8;
	p->litnul = 0;
	p->litleft = n;
	p->litspill = spill;
	p->priv[p->litarg].off = p->buflen;
	a->len = n;
	if (spill) {
		a->flags |= IMAP_ARGF_SPILLED;
		a->spill_off = p->spilled;
		p->spilled += n;
		buf_add(p, "", 1);	/* its str */
	} else
		p->littotal += n;
	p->needsep = 1;
	p->state = PS_LITERAL;
	if (n == 0) {
		if (!spill)
			buf_add(p, "", 1);
		p->state = PS_ARGS;
	}
	return IMAP_PARSE_LITERAL;
}

size_t
imap_parser_literal(struct imap_parser *p, const void *data, size_t len)
{
	if (p->state != PS_LITERAL)
		return 0;
	if (len > p->litleft)
		len = p->litleft;
	if (!p->lit8 && memchr(data, '\0', len) != NULL)
		p->litnul = 1;
	if (p->litspill)
		p->spill(p->spillarg, data, len);
	else
		buf_add(p, data, len);
	p->litleft -= len;
	if (p->litleft == 0) {
		if (!p->litspill)
			buf_add(p, "", 1);
		p->state = PS_ARGS;
	}
	return len;
}

size_t
imap_parser_literal_left(const struct imap_parser *p)
{
	return p->state == PS_LITERAL ? p->litleft : 0;
}

uint64_t
imap_parser_literal_size(const struct imap_parser *p, int *sync)
{
	if (sync != NULL)
		*sync = p->litsync;
	return p->litsize;
}

/* Offsets become pointers: the buffer will not move any more. */
static int
finish(struct imap_parser *p)
{
	struct imap_arg	*a;
	size_t		 i;

	for (i = 0; i < p->nargs; i++) {
		a = &p->args[i];
		a->next = p->priv[i].next != -1 ? &p->args[p->priv[i].next] :
		    NULL;
		if (a->type == IMAP_ARG_LIST) {
			a->list = p->priv[i].child != -1 ?
			    &p->args[p->priv[i].child] : NULL;
			continue;
		}
		a->str = p->buf + p->priv[i].off;
		if (a->flags & IMAP_ARGF_SECTION)
			a->section = a->str + a->namelen + 1;
	}
	p->cmd.tag = p->tag;
	p->cmd.name = p->name;
	p->cmd.uid = p->uid;
	p->cmd.args = p->nargs > 0 ? &p->args[0] : NULL;
	p->cmd.nargs = p->ntop;
	p->state = PS_DONE;
	return IMAP_PARSE_DONE;
}

const struct imap_command *
imap_parser_command(const struct imap_parser *p)
{
	return p->state == PS_DONE ? &p->cmd : NULL;
}

/* Index of top-level argument n, or -1. */
static int
top_arg(const struct imap_parser *p, size_t n)
{
	int	 i;

	if (p->nargs == 0)
		return -1;
	for (i = 0; n > 0 && i != -1; n--)
		i = p->priv[i].next;
	return i;
}

const char *
imap_parser_early_arg(const struct imap_parser *p, size_t n, size_t *len)
{
	const struct imap_arg	*a;
	int			 i;

	if ((p->state != PS_ARGS && p->state != PS_LITERAL) ||
	    (i = top_arg(p, n)) == -1 ||
	    (p->state == PS_LITERAL && i == p->litarg))
		return NULL;
	a = &p->args[i];
	if (a->type == IMAP_ARG_LIST || (a->flags & IMAP_ARGF_SPILLED))
		return NULL;
	if (len != NULL)
		*len = a->len;
	return p->buf + p->priv[i].off;
}

int
imap_literal_trailer(const char *line, size_t len, uint64_t *size, int *sync)
{
	uint64_t	 n = 0;
	size_t		 i;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len < 3 || line[len - 1] != '}')
		return 0;
	i = len - 1;
	*sync = !(line[i - 1] == '+');
	if (!*sync)
		i--;
	while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9')
		i--;
	if (i == 0 || line[i - 1] != '{' || i == len - 1 - !*sync)
		return 0;
	for (; line[i] != '}' && line[i] != '+'; i++) {
		if (n > (UINT64_MAX - 9) / 10)
			return 0;
		n = n * 10 + (line[i] - '0');
	}
	*size = n;
	return 1;
}

const char *
imap_parser_tag(const struct imap_parser *p)
{
	return p->tag[0] != '\0' ? p->tag : NULL;
}

const char *
imap_parser_name(const struct imap_parser *p, int *uid)
{
	if (uid != NULL)
		*uid = p->uid;
	return p->name[0] != '\0' ? p->name : NULL;
}

const char *
imap_parser_error(const struct imap_parser *p, enum imap_parse_error *code)
{
	if (code != NULL)
		*code = p->errcode;
	return p->errstr != NULL ? p->errstr : "No error";
}

int
imap_arg_astring(const struct imap_arg *a, const char **s, size_t *len)
{
	size_t	 i;

	switch (a->type) {
	case IMAP_ARG_ATOM:
		if (a->flags & IMAP_ARGF_PARTIAL)
			return -1;
		for (i = 0; i < a->len; i++)
			if (a->str[i] == '%' || a->str[i] == '*' ||
			    a->str[i] == '\\')
				return -1;
		break;
	case IMAP_ARG_NIL:
	case IMAP_ARG_QUOTED:
		break;
	case IMAP_ARG_LITERAL:
		if (a->flags & (IMAP_ARGF_LITERAL8 | IMAP_ARGF_SPILLED))
			return -1;
		break;
	default:
		return -1;
	}
	*s = a->str;
	if (len != NULL)
		*len = a->len;
	return 0;
}

int
imap_arg_mailbox(const struct imap_arg *a, int wildcards, const char **s)
{
	const char	*str;
	size_t		 i, len;

	if (a->type == IMAP_ARG_ATOM && wildcards &&
	    !(a->flags & (IMAP_ARGF_SECTION | IMAP_ARGF_PARTIAL)) &&
	    a->str[0] != '\\') {
		str = a->str;
		len = a->len;
	} else if (imap_arg_astring(a, &str, &len) == -1)
		return -1;
	for (i = 0; i < len; i++) {
		if ((unsigned char)str[i] < 0x20 || str[i] == 0x7f)
			return -1;
		if (!wildcards && (str[i] == '%' || str[i] == '*'))
			return -1;
	}
	*s = str;
	return 0;
}

/* nz-number or "*"; advances *sp. */
static int
seq_number(const char **sp, uint32_t star, uint32_t *v)
{
	const char	*s = *sp;
	uint64_t	 n = 0;

	if (*s == '*') {
		*v = star;
		*sp = s + 1;
		return 0;
	}
	if (*s < '1' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		n = n * 10 + (*s - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	*v = (uint32_t)n;
	*sp = s;
	return 0;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct imap_seqrange	*x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

int
imap_seqset_parse(const char *s, uint32_t star, struct imap_seqset *set,
    const char **errstr)
{
	const char	*q;
	size_t		 n = 1, k, out;
	uint32_t	 a, b, t;

	memset(set, 0, sizeof(*set));
	if (strcmp(s, "$") == 0) {
		set->searchres = 1;
		return 0;
	}
	for (q = s; *q != '\0'; q++)
		if (*q == ',')
			n++;
	if ((set->r = calloc(n, sizeof(*set->r))) == NULL)
		fatal("calloc");
	for (q = s, k = 0;;) {
		if (seq_number(&q, star, &a) == -1)
			goto bad;
		b = a;
		if (*q == ':') {
			q++;
			if (seq_number(&q, star, &b) == -1)
				goto bad;
		}
		if (a > b) {
			t = a;
			a = b;
			b = t;
		}
		if (a == 0)
			a = 1;		/* star 0: empty mailbox */
		if (a <= b)
			set->r[k++] = (struct imap_seqrange){ a, b };
		if (*q == '\0')
			break;
		if (*q++ != ',')
			goto bad;
	}
	qsort(set->r, k, sizeof(*set->r), range_cmp);
	for (out = 0, n = 0; n < k; n++) {
		if (out > 0 && (set->r[out - 1].hi == UINT32_MAX ||
		    set->r[n].lo <= set->r[out - 1].hi + 1)) {
			if (set->r[n].hi > set->r[out - 1].hi)
				set->r[out - 1].hi = set->r[n].hi;
		} else
			set->r[out++] = set->r[n];
	}
	set->n = out;
	return 0;
 bad:
	imap_seqset_free(set);
	if (errstr != NULL)
		*errstr = "Invalid sequence set";
	return -1;
}

void
imap_seqset_free(struct imap_seqset *set)
{
	free(set->r);
	memset(set, 0, sizeof(*set));
}

int
imap_seqset_contains(const struct imap_seqset *set, uint32_t v)
{
	size_t	 lo = 0, hi = set->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v < set->r[mid].lo)
			hi = mid;
		else if (v > set->r[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

size_t
imap_encode_string(char *dst, size_t dstsz, const char *s, size_t len,
    int flags)
{
	size_t		 i, n = 0, extra = 0;
	int		 quoted = 1, w;
	unsigned char	 c;
	char		 hdr[32];

#define PUT(ch) do {							\
	if (n + 1 < dstsz)						\
		dst[n] = (ch);						\
	n++;								\
} while (0)

	if (s == NULL) {
		strlcpy(dst, "NIL", dstsz);
		return 3;
	}
	for (i = 0; i < len && quoted; i++) {
		c = s[i];
		if (c == '\0' || c == '\r' || c == '\n' ||
		    (c >= 0x80 && !(flags & IMAP_ENC_UTF8)))
			quoted = 0;
		else if (c == '"' || c == '\\')
			extra++;
	}
	/* Long strings full of escapes read better as literals. */
	if (len > 4096 || extra > 16)
		quoted = 0;
	if (quoted) {
		PUT('"');
		for (i = 0; i < len; i++) {
			if (s[i] == '"' || s[i] == '\\')
				PUT('\\');
			PUT(s[i]);
		}
		PUT('"');
	} else {
		w = snprintf(hdr, sizeof(hdr), "{%zu}\r\n", len);
		if (w < 0 || (size_t)w >= sizeof(hdr))
			fatalx("imap_encode_string: snprintf");
		for (i = 0; i < (size_t)w; i++)
			PUT(hdr[i]);
		for (i = 0; i < len; i++)
			PUT(s[i]);
	}
	if (dstsz > 0)
		dst[n < dstsz ? n : dstsz - 1] = '\0';
	return n;
#undef PUT
}
