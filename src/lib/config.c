/*
 * mail.conf: a hand-written lexer and recursive-descent parser for the
 * configuration (a grammar close to smtpd.conf(5)), the checks that turn
 * a dangerous configuration (open relay, AUTH before TLS) into a parse
 * error, reading of certificates and keys for the parent, and the
 * canonical dump used by "maild -nv" and the golden tests.
 *
 * The input is read as logical lines (backslash-newline joins physical
 * lines), each split into tokens with macros expanded, then parsed as
 * one statement.  An error ends its statement only: parsing goes on so
 * that one run reports several errors, and the result is then NULL.
 * Errors are reported at the first line of their statement.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <tls.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "maild.h"
#include "table.h"
#include "util.h"

#define CONF_LINE_MAX		8192	/* one logical line */
#define CONF_TOKENS_MAX		256	/* tokens of one statement */
#define CONF_FILE_MAX		(1024 * 1024)
#define CONF_ERRORS_MAX		30	/* then give up */
#define CONF_MACROS_MAX		256
#define PKI_FILE_MAX		(1024 * 1024)
#define LISTEN_ADDRS_MAX	32	/* addresses of one listen on */
#define MSG_SIZE_MAX		(1024ULL * 1024 * 1024)
#define DURATION_MAX		(366LL * 24 * 3600)
#define COUNT_MAX		1000000
#define VMAIL_ROOT_DEFAULT	"/var/vmail"

enum toktype {
	TK_WORD, TK_STRING, TK_TABLE, TK_LBRACE, TK_RBRACE, TK_COMMA,
	TK_EQUAL, TK_BANG
};

struct token {
	enum toktype	 type;
	const char	*text;
	int		 macro;		/* came from a $NAME */
};

struct macro {
	TAILQ_ENTRY(macro)	 entry;
	char			 name[NAME_MAX_CONF];
	char			*value;
};

/* Where each pki was first named: its end-of-file errors go there. */
struct pkiline {
	TAILQ_ENTRY(pkiline)	 entry;
	struct pki		*pki;
	int			 line;
};

/* Global settings; each may be given once. */
enum setting {
	S_HOSTNAME, S_SPOOL, S_SOCKET, S_USER, S_VMAIL_USER, S_MSG_SIZE,
	S_MAX_RCPT, S_MAX_PER_IP, S_MAX_LINE, S_SMTP_TIMEOUT, S_QUEUE_TTL, S_RETRY,
	S_RETRY_MAX, S_IMAP_PER_IP, S_IMAP_PER_USER, S_RESOLVER, S_RETRY_REMOTE,
	S_RDNS_MSG, S_FCRDNS_MSG, S_CA, S_COUNT
};

struct parser {
	const char		*name;
	int			 flags;
	int			 errors;
	int			 line;		/* of the statement */
	struct maild_conf	*conf;
	TAILQ_HEAD(, macro)	 macros;
	size_t			 nmacros;
	TAILQ_HEAD(, pkiline)	 pkilines;
	int			 seen[S_COUNT];	/* line where set */
	char			 text[CONF_LINE_MAX + 1];
	char			 store[2 * CONF_LINE_MAX + 2];
	struct token		 toks[CONF_TOKENS_MAX];
	size_t			 ntok;
	size_t			 pos;
};

/* Options of one "listen on" statement, before addresses are resolved. */
#define O_PORT		0x0001
#define O_FAMILY	0x0002
#define O_TLS		0x0004
#define O_TLS_REQUIRE	0x0008
#define O_SMTPS		0x0010
#define O_IMAPS		0x0020
#define O_IMAP		0x0040
#define O_PKI		0x0080
#define O_HOSTNAME	0x0100
#define O_AUTH		0x0200
#define O_MASKSRC	0x0400
#define O_CHECK		0x0800
#define O_ANYSENDER	0x1000
#define O_FROMMISMATCH	0x2000
#define O_CIPHERS	0x4000
#define O_ANYTLS	(O_TLS | O_TLS_REQUIRE | O_SMTPS | O_IMAPS)

struct listen_opts {
	struct listener	 l;		/* port, flags, names */
	int		 family;	/* AF_UNSPEC, AF_INET, AF_INET6 */
	unsigned int	 seen;		/* O_* given */
};

struct listen_option {
	const char	*name;
	unsigned int	 bit;
	int		(*parse)(struct parser *, struct listen_opts *);
};

static void	 vperr(struct parser *, int, const char *, va_list);
static void	 perr(struct parser *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 perr_line(struct parser *, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	 expected(struct parser *, const struct token *,
		    const char *);
static int	 next_line(struct parser *, const char *, size_t, size_t *,
		    int *);
static int	 word_char(unsigned char);
static int	 tokenize(struct parser *);
static int	 expand_macro(struct parser *, struct token *, const char *);
static struct macro *macro_find(struct parser *, const char *);
static int	 macro_define(struct parser *);
static void	 statement(struct parser *);
static struct token *peek(struct parser *);
static struct token *next(struct parser *);
static int	 kw_accept(struct parser *, const char *);
static int	 is_word(const struct token *, const char *);
static int	 parse_dkim_local(struct parser *);
static int	 expect_string(struct parser *, const char *, const char **);
static int	 expect_name(struct parser *, const char *, char *, size_t);
static int	 expect_table(struct parser *, const char *,
		    struct table **);
static int	 valid_name(const char *);
static int	 valid_macro_name(const char *);
static int	 valid_hostname(const char *);
static int	 valid_user(const char *);
static int	 check_path(struct parser *, const char *, const char *,
		    char *, size_t);
static int	 dup_setting(struct parser *, enum setting, const char *);
static int	 parse_ull(const char *, unsigned long long *, const char **);
static int	 get_size(struct parser *, size_t *);
static int	 get_count(struct parser *, const char *, const char *,
		    int *);
static int	 get_duration(struct parser *, const char *, long long *);
static int	 parse_hostname(struct parser *);
static int	 parse_path_setting(struct parser *, enum setting, const char *,
		    const char *, char *, size_t);
static int	 parse_spool(struct parser *);
static int	 parse_socket(struct parser *);
static int	 parse_user(struct parser *);
static int	 parse_vmail(struct parser *);
static int	 parse_smtp(struct parser *);
static int	 parse_imap(struct parser *);
static int	 parse_dkim(struct parser *);
static int	 parse_resolver(struct parser *);
static int	 parse_ca(struct parser *);
static int	 parse_relay(struct parser *, struct action *);
static int	 parse_relay_url(struct parser *, const char *,
		    struct action *);
static int	 relay_table_check(struct parser *);
static void	 dump_relay(FILE *, const struct action *);
static int	 valid_selector(const char *);
static int	 parse_queue(struct parser *);
static int	 parse_pki(struct parser *);
static int	 parse_table(struct parser *);
static int	 parse_listen(struct parser *);
static int	 parse_action(struct parser *);
static int	 parse_match(struct parser *);
static int	 lopt_port(struct parser *, struct listen_opts *);
static int	 lopt_family(struct parser *, struct listen_opts *);
static int	 lopt_frommismatch(struct parser *, struct listen_opts *);
static int	 lopt_pki(struct parser *, struct listen_opts *);
static int	 lopt_hostname(struct parser *, struct listen_opts *);
static int	 lopt_auth(struct parser *, struct listen_opts *);
static int	 lopt_check(struct parser *, struct listen_opts *);
static int	 lopt_ciphers(struct parser *, struct listen_opts *);
static int	 check_ciphers(struct parser *, const char *, char *, size_t);
static int	 check_one(struct parser *, struct listen_opts *);
static int	 listen_check(struct parser *, struct listen_opts *);
static int	 resolve_addr(struct parser *, const char *, int,
		    struct sockaddr_storage *, size_t *);
static int	 add_addr(struct parser *, struct sockaddr_storage *,
		    size_t *, const struct sockaddr *, int);
static int	 same_addr(const struct listener *,
		    const struct sockaddr_storage *, int);
static void	 addr_text(const struct sockaddr_storage *, socklen_t,
		    char *, size_t);
static int	 check_pattern(struct parser *, const char *);
static int	 valid_domain_pattern(const char *);
static void	 finish(struct parser *);
static void	 derive_vmail_root(struct maild_conf *);
static int	 read_pki_file(struct parser *, int, const char *,
		    const char *, int, char **, size_t *);
static void	 parser_free(struct parser *);
static void	 dump_str(FILE *, const char *);

static const struct {
	const char	*keyword;
	int		(*parse)(struct parser *);
} statements[] = {
	{ "action",	parse_action },
	{ "ca",		parse_ca },
	{ "dkim",	parse_dkim },
	{ "hostname",	parse_hostname },
	{ "listen",	parse_listen },
	{ "match",	parse_match },
	{ "pki",	parse_pki },
	{ "imap",	parse_imap },
	{ "queue",	parse_queue },
	{ "resolver",	parse_resolver },
	{ "smtp",	parse_smtp },
	{ "socket",	parse_socket },
	{ "spool",	parse_spool },
	{ "table",	parse_table },
	{ "user",	parse_user },
	{ "vmail",	parse_vmail },
};

static const struct listen_option listen_options[] = {
	{ "any-sender",		O_ANYSENDER,	NULL },
	{ "auth",		O_AUTH,		lopt_auth },
	{ "check",		O_CHECK,	lopt_check },
	{ "ciphers",		O_CIPHERS,	lopt_ciphers },
	{ "family",		O_FAMILY,	lopt_family },
	{ "from-mismatch",	O_FROMMISMATCH,	lopt_frommismatch },
	{ "hostname",		O_HOSTNAME,	lopt_hostname },
	{ "imap",		O_IMAP,		NULL },
	{ "imaps",		O_IMAPS,	NULL },
	{ "mask-src",		O_MASKSRC,	NULL },
	{ "pki",		O_PKI,		lopt_pki },
	{ "port",		O_PORT,		lopt_port },
	{ "smtps",		O_SMTPS,	NULL },
	{ "tls",		O_TLS,		NULL },
	{ "tls-require",	O_TLS_REQUIRE,	NULL },
};

static const struct {
	const char	*name;
	int		 port;
} port_names[] = {
	{ "smtp",	25 },
	{ "submission",	587 },
	{ "smtps",	465 },
	{ "imap",	143 },
	{ "imaps",	993 },
};

/* -- errors -- */

static void
vperr(struct parser *p, int line, const char *fmt, va_list ap)
{
	char	 msg[512];

	if (++p->errors > CONF_ERRORS_MAX)
		return;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	log_warnx("%s:%d: %s", p->name, line, msg);
}

static void
perr(struct parser *p, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vperr(p, p->line, fmt, ap);
	va_end(ap);
}

static void
perr_line(struct parser *p, int line, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vperr(p, line, fmt, ap);
	va_end(ap);
}

/* "expected X, got "Y"" naming what was found, or the end of the line. */
static void
expected(struct parser *p, const struct token *tok, const char *what)
{
	if (tok == NULL)
		perr(p, "expected %s at end of line", what);
	else if (tok->type == TK_TABLE)
		perr(p, "expected %s, got <%.64s>", what, tok->text);
	else
		perr(p, "expected %s, got \"%.64s\"", what, tok->text);
}

/* -- lexer -- */

/*
 * Copy the next logical line of buf into p->text: physical lines joined
 * at backslash-newline (in comments too, as in the OpenBSD parsers), a
 * CR before LF dropped.  Returns 0 at the end of the input, 1 with a
 * line, -1 for a line that is too long or holds a control character
 * (reported; the caller skips it).
 */
static int
next_line(struct parser *p, const char *buf, size_t len, size_t *off,
    int *lineno)
{
	size_t		 n = 0;
	int		 toolong = 0, bad = -1;
	unsigned char	 c, last = 0;

	if (*off >= len)
		return 0;
	p->line = *lineno;
	while (*off < len) {
		c = (unsigned char)buf[(*off)++];
		if (c == '\r' && *off < len && buf[*off] == '\n')
			continue;
		if (c == '\n') {
			(*lineno)++;
			if (last == '\\') {
				if (n > 0)
					n--;
				last = 0;
				continue;
			}
			break;
		}
		last = c;
		if (bad == -1 && ((c < ' ' && c != '\t') || c == 0x7f))
			bad = c;
		if (n >= CONF_LINE_MAX) {
			toolong = 1;
			continue;
		}
		p->text[n++] = (char)c;
	}
	p->text[n] = '\0';
	if (toolong) {
		perr(p, "line too long (more than %d bytes)", CONF_LINE_MAX);
		return -1;
	}
	if (bad != -1) {
		perr(p, "invalid control character 0x%02x", bad);
		return -1;
	}
	return 1;
}

static int
word_char(unsigned char c)
{
	return c > ' ' && c != 0x7f && strchr("\"{},=!<>#", c) == NULL;
}

/*
 * Split p->text into p->toks.  Token texts live in p->store (or in a
 * macro's value), so they stay valid until the next line.
 */
static int
tokenize(struct parser *p)
{
	const char	*s = p->text;
	char		*d = p->store, *start;
	struct token	*tok;

	p->ntok = p->pos = 0;
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			return 0;
		if (p->ntok == CONF_TOKENS_MAX) {
			perr(p, "statement too long (more than %d words)",
			    CONF_TOKENS_MAX);
			return -1;
		}
		tok = &p->toks[p->ntok++];
		tok->macro = 0;
		switch (*s) {
		case '{':
			tok->type = TK_LBRACE;
			tok->text = "{";
			s++;
			continue;
		case '}':
			tok->type = TK_RBRACE;
			tok->text = "}";
			s++;
			continue;
		case ',':
			tok->type = TK_COMMA;
			tok->text = ",";
			s++;
			continue;
		case '=':
			tok->type = TK_EQUAL;
			tok->text = "=";
			s++;
			continue;
		case '!':
			tok->type = TK_BANG;
			tok->text = "!";
			s++;
			continue;
		case '>':
			perr(p, "unexpected \">\"");
			return -1;
		case '"':
			tok->type = TK_STRING;
			tok->text = start = d;
			for (s++; *s != '"'; s++) {
				if (*s == '\0') {
					perr(p, "unterminated quoted string");
					return -1;
				}
				if (*s == '\\') {
					if (s[1] != '"' && s[1] != '\\') {
						perr(p, "invalid escape in "
						    "quoted string (only \\\" "
						    "and \\\\)");
						return -1;
					}
					s++;
				}
				*d++ = *s;
			}
			s++;
			*d++ = '\0';
			continue;
		case '<':
			tok->type = TK_TABLE;
			tok->text = start = d;
			for (s++; *s != '>'; s++) {
				if (!word_char((unsigned char)*s)) {
					perr(p, "unterminated table "
					    "reference, expected <name>");
					return -1;
				}
				*d++ = *s;
			}
			s++;
			*d++ = '\0';
			if (*start == '\0') {
				perr(p, "empty table reference <>");
				return -1;
			}
			continue;
		default:
			tok->type = TK_WORD;
			tok->text = start = d;
			while (word_char((unsigned char)*s))
				*d++ = *s++;
			*d++ = '\0';
			if (*start == '$' && expand_macro(p, tok, start) == -1)
				return -1;
			continue;
		}
	}
}

/* A macro stands for exactly one word or string, never re-split. */
static int
expand_macro(struct parser *p, struct token *tok, const char *word)
{
	struct macro	*m;
	const char	*v;

	if (!valid_macro_name(word + 1)) {
		perr(p, "invalid macro name \"%.64s\"", word + 1);
		return -1;
	}
	if ((m = macro_find(p, word + 1)) == NULL) {
		perr(p, "undefined macro \"%.64s\"", word + 1);
		return -1;
	}
	tok->text = m->value;
	tok->macro = 1;
	tok->type = *m->value == '\0' ? TK_STRING : TK_WORD;
	for (v = m->value; *v != '\0'; v++)
		if (!word_char((unsigned char)*v))
			tok->type = TK_STRING;
	return 0;
}

static struct macro *
macro_find(struct parser *p, const char *name)
{
	struct macro	*m;

	TAILQ_FOREACH(m, &p->macros, entry)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

/* NAME = value; a later definition replaces an earlier one. */
static int
macro_define(struct parser *p)
{
	struct macro	*m;
	struct token	*name = &p->toks[0], *val;
	char		*copy;

	if (name->type != TK_WORD || name->macro ||
	    !valid_macro_name(name->text)) {
		perr(p, "invalid macro name \"%.64s\"", name->text);
		return -1;
	}
	if (p->ntok < 3) {
		perr(p, "expected a value after \"%s =\"", name->text);
		return -1;
	}
	val = &p->toks[2];
	if (val->type != TK_WORD && val->type != TK_STRING) {
		expected(p, val, "a word or a quoted string");
		return -1;
	}
	if (p->ntok > 3) {
		expected(p, &p->toks[3], "end of line after the macro value");
		return -1;
	}
	if ((copy = strdup(val->text)) == NULL)
		fatal("strdup");
	if ((m = macro_find(p, name->text)) != NULL) {
		free(m->value);
		m->value = copy;
		return 0;
	}
	if (p->nmacros == CONF_MACROS_MAX) {
		free(copy);
		perr(p, "too many macros (at most %d)", CONF_MACROS_MAX);
		return -1;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL)
		fatal("calloc");
	(void)strlcpy(m->name, name->text, sizeof(m->name));
	m->value = copy;
	TAILQ_INSERT_TAIL(&p->macros, m, entry);
	p->nmacros++;
	return 0;
}

/* -- parser helpers -- */

static struct token *
peek(struct parser *p)
{
	return p->pos < p->ntok ? &p->toks[p->pos] : NULL;
}

static struct token *
next(struct parser *p)
{
	return p->pos < p->ntok ? &p->toks[p->pos++] : NULL;
}

static int
is_word(const struct token *tok, const char *kw)
{
	return tok != NULL && tok->type == TK_WORD &&
	    strcmp(tok->text, kw) == 0;
}

/* Keywords are unquoted words; consume kw if it comes next. */
static int
kw_accept(struct parser *p, const char *kw)
{
	if (!is_word(peek(p), kw))
		return 0;
	p->pos++;
	return 1;
}

/* Words and quoted strings are interchangeable where a string goes. */
static int
expect_string(struct parser *p, const char *what, const char **s)
{
	struct token	*tok = next(p);

	if (tok == NULL || (tok->type != TK_WORD && tok->type != TK_STRING)) {
		expected(p, tok, what);
		return -1;
	}
	*s = tok->text;
	return 0;
}

static int
expect_name(struct parser *p, const char *what, char *buf, size_t len)
{
	const char	*s;
	char		 desc[64];

	(void)snprintf(desc, sizeof(desc), "%s name", what);
	if (expect_string(p, desc, &s) == -1)
		return -1;
	if (!valid_name(s)) {
		perr(p, "invalid %s name \"%.64s\": use at most %d letters, "
		    "digits, '.', '-' or '_'", what, s, NAME_MAX_CONF - 1);
		return -1;
	}
	(void)strlcpy(buf, s, len);
	return 0;
}

/* <name> of a table defined earlier in the file. */
static int
expect_table(struct parser *p, const char *what, struct table **tp)
{
	struct token	*tok = next(p);

	if (tok == NULL || tok->type != TK_TABLE) {
		expected(p, tok, what);
		return -1;
	}
	if ((*tp = config_table(p->conf, tok->text)) == NULL) {
		perr(p, "unknown table <%.64s>", tok->text);
		return -1;
	}
	return 0;
}

static int
valid_name(const char *s)
{
	size_t	 n;

	for (n = 0; s[n] != '\0'; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '.' &&
		    s[n] != '-' && s[n] != '_')
			return 0;
	return n > 0 && n < NAME_MAX_CONF;
}

static int
valid_macro_name(const char *s)
{
	size_t	 n;

	if (!isalpha((unsigned char)*s) && *s != '_')
		return 0;
	for (n = 0; s[n] != '\0'; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '_')
			return 0;
	return n < NAME_MAX_CONF;
}

/* Letters, digits and '-' in dot-separated labels of 1 to 63 bytes. */
static int
valid_hostname(const char *s)
{
	size_t	 len = strlen(s), label = 0, i;

	if (len == 0 || len > HOST_NAME_MAX)
		return 0;
	for (i = 0; i <= len; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
		if (s[i] == '-' && label == 0)
			return 0;
		label++;
	}
	return 1;
}

static int
valid_user(const char *s)
{
	return valid_name(s) && *s != '-' && *s != '.';
}

/* An absolute path without ".." components that fits in len. */
static int
check_path(struct parser *p, const char *what, const char *s, char *buf,
    size_t len)
{
	const char	*c;

	if (*s != '/') {
		perr(p, "%s \"%.64s\" must be an absolute path", what, s);
		return -1;
	}
	for (c = s; (c = strstr(c, "/..")) != NULL; c += 3)
		if (c[3] == '/' || c[3] == '\0') {
			perr(p, "%s \"%.64s\" must not contain \"..\"", what,
			    s);
			return -1;
		}
	if (strlcpy(buf, s, len) >= len) {
		perr(p, "%s is too long (at most %zu bytes)", what, len - 1);
		return -1;
	}
	return 0;
}

static int
dup_setting(struct parser *p, enum setting s, const char *what)
{
	if (p->seen[s] == 0)
		return 0;
	perr(p, "%s is already set on line %d", what, p->seen[s]);
	return -1;
}

/* Leading decimal digits of s; *end points past them.  0 or -1. */
static int
parse_ull(const char *s, unsigned long long *v, const char **end)
{
	unsigned long long	 n = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (n > (ULLONG_MAX - 9) / 10)
			return -1;
		n = n * 10 + (unsigned long long)(*s - '0');
	}
	*v = n;
	*end = s;
	return 0;
}

/* Bytes, with an optional K, M or G suffix (any case). */
static int
get_size(struct parser *p, size_t *sizep)
{
	const char		*s, *end;
	unsigned long long	 v, mult = 1;

	if (expect_string(p, "a size", &s) == -1)
		return -1;
	if (parse_ull(s, &v, &end) == -1)
		goto bad;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		mult = 1024;
		break;
	case 'm': case 'M':
		mult = 1024 * 1024;
		break;
	case 'g': case 'G':
		mult = 1024 * 1024 * 1024;
		break;
	default:
		goto bad;
	}
	if (*end != '\0' && end[1] != '\0')
		goto bad;
	if (v == 0 || v > MSG_SIZE_MAX / mult) {
		perr(p, "size \"%.64s\" out of range (1 to 1G)", s);
		return -1;
	}
	*sizep = (size_t)(v * mult);
	return 0;
 bad:
	perr(p, "invalid size \"%.64s\": expected a number of bytes, "
	    "optionally with K, M or G", s);
	return -1;
}

static int
get_count(struct parser *p, const char *name, const char *what, int *np)
{
	const char		*s, *end;
	unsigned long long	 v;

	if (expect_string(p, what, &s) == -1)
		return -1;
	if (parse_ull(s, &v, &end) == -1 || *end != '\0') {
		expected(p, &p->toks[p->pos - 1], what);
		return -1;
	}
	if (v == 0 || v > COUNT_MAX) {
		perr(p, "%s %.64s out of range (1 to %d)", name, s, COUNT_MAX);
		return -1;
	}
	*np = (int)v;
	return 0;
}

/* Seconds, or a number with s, m, h or d. */
static int
get_duration(struct parser *p, const char *what, long long *dp)
{
	const char		*s, *end;
	unsigned long long	 v, mult = 1;

	if (expect_string(p, "a duration", &s) == -1)
		return -1;
	if (parse_ull(s, &v, &end) == -1)
		goto bad;
	switch (*end) {
	case '\0':
	case 's': case 'S':
		break;
	case 'm': case 'M':
		mult = 60;
		break;
	case 'h': case 'H':
		mult = 3600;
		break;
	case 'd': case 'D':
		mult = 24 * 3600;
		break;
	default:
		goto bad;
	}
	if (*end != '\0' && end[1] != '\0')
		goto bad;
	if (v == 0 || v > (unsigned long long)DURATION_MAX / mult) {
		perr(p, "%s \"%.64s\" out of range (1s to 366d)", what, s);
		return -1;
	}
	*dp = (long long)(v * mult);
	return 0;
 bad:
	perr(p, "invalid %s \"%.64s\": expected a number with s, m, h or d",
	    what, s);
	return -1;
}

/* -- statements -- */

static void
statement(struct parser *p)
{
	struct token	*tok;
	size_t		 i;

	if (p->ntok >= 2 && p->toks[1].type == TK_EQUAL) {
		(void)macro_define(p);
		return;
	}
	tok = next(p);
	if (tok->type != TK_WORD) {
		expected(p, tok, "a keyword");
		return;
	}
	for (i = 0; i < nitems(statements); i++)
		if (strcmp(tok->text, statements[i].keyword) == 0)
			break;
	if (i == nitems(statements)) {
		perr(p, "unknown keyword \"%.64s\"", tok->text);
		return;
	}
	if (statements[i].parse(p) == -1)
		return;
	if ((tok = peek(p)) != NULL)
		expected(p, tok, "end of line");
}

static int
parse_hostname(struct parser *p)
{
	const char	*s;

	if (dup_setting(p, S_HOSTNAME, "hostname") == -1 ||
	    expect_string(p, "a host name", &s) == -1)
		return -1;
	if (!valid_hostname(s)) {
		perr(p, "invalid host name \"%.64s\"", s);
		return -1;
	}
	(void)strlcpy(p->conf->hostname, s, sizeof(p->conf->hostname));
	p->seen[S_HOSTNAME] = p->line;
	return 0;
}

/* "spool PATH", "socket PATH": an absolute path, given once. */
static int
parse_path_setting(struct parser *p, enum setting idx, const char *kw,
    const char *what, char *dst, size_t dstlen)
{
	const char	*s;

	if (dup_setting(p, idx, kw) == -1 ||
	    expect_string(p, what, &s) == -1 ||
	    check_path(p, kw, s, dst, dstlen) == -1)
		return -1;
	p->seen[idx] = p->line;
	return 0;
}

static int
parse_spool(struct parser *p)
{
	return parse_path_setting(p, S_SPOOL, "spool", "a directory",
	    p->conf->spool, sizeof(p->conf->spool));
}

static int
parse_socket(struct parser *p)
{
	return parse_path_setting(p, S_SOCKET, "socket", "a socket path",
	    p->conf->socket, sizeof(p->conf->socket));
}

static int
parse_user(struct parser *p)
{
	const char	*s;

	if (dup_setting(p, S_USER, "user") == -1 ||
	    expect_string(p, "a user name", &s) == -1)
		return -1;
	if (!valid_user(s)) {
		perr(p, "invalid user name \"%.64s\"", s);
		return -1;
	}
	(void)strlcpy(p->conf->user, s, sizeof(p->conf->user));
	p->seen[S_USER] = p->line;
	return 0;
}

static int
parse_vmail(struct parser *p)
{
	const char	*s;

	if (!kw_accept(p, "user")) {
		expected(p, peek(p), "\"user\" after vmail");
		return -1;
	}
	if (dup_setting(p, S_VMAIL_USER, "vmail user") == -1 ||
	    expect_string(p, "a user name", &s) == -1)
		return -1;
	if (!valid_user(s)) {
		perr(p, "invalid user name \"%.64s\"", s);
		return -1;
	}
	(void)strlcpy(p->conf->vmail_user, s, sizeof(p->conf->vmail_user));
	p->seen[S_VMAIL_USER] = p->line;
	return 0;
}

static int
parse_smtp(struct parser *p)
{
	struct maild_conf	*c = p->conf;
	long long		 d;
	int			 n;

	if (kw_accept(p, "max-message-size")) {
		if (dup_setting(p, S_MSG_SIZE, "smtp max-message-size") == -1 ||
		    get_size(p, &c->max_msg_size) == -1)
			return -1;
		p->seen[S_MSG_SIZE] = p->line;
		return 0;
	}
	if (kw_accept(p, "timeout")) {
		if (dup_setting(p, S_SMTP_TIMEOUT, "smtp timeout") == -1 ||
		    get_duration(p, "timeout", &d) == -1)
			return -1;
		c->smtp_timeout = (int)d;
		p->seen[S_SMTP_TIMEOUT] = p->line;
		return 0;
	}
	if (kw_accept(p, "rdns-message") || kw_accept(p, "fcrdns-message")) {
		/* The text after "550 5.7.25" for clients check turns away. */
		int		 fc = strcmp(p->toks[p->pos - 1].text,
				    "fcrdns-message") == 0;
		const char	*s, *q;
		char		*dst = fc ? c->fcrdns_msg : c->rdns_msg;

		if (dup_setting(p, fc ? S_FCRDNS_MSG : S_RDNS_MSG, fc ?
		    "smtp fcrdns-message" : "smtp rdns-message") == -1 ||
		    expect_string(p, "a message", &s) == -1)
			return -1;
		for (q = s; *q != '\0'; q++)
			if (*q < 0x20 || *q > 0x7e)
				break;
		if (*q != '\0' || *s == '\0' ||
		    strlcpy(dst, s, sizeof(c->rdns_msg)) >= sizeof(c->rdns_msg)) {
			perr(p, "%s must be 1 to %zu printable ASCII "
			    "characters", fc ? "smtp fcrdns-message" :
			    "smtp rdns-message", sizeof(c->rdns_msg) - 1);
			return -1;
		}
		p->seen[fc ? S_FCRDNS_MSG : S_RDNS_MSG] = p->line;
		return 0;
	}
	if (!kw_accept(p, "limit")) {
		expected(p, peek(p), "max-message-size, limit, rdns-message, "
		    "fcrdns-message or timeout");
		return -1;
	}
	/* smtp limit max-rcpt N [max-per-ip N] */
	do {
		if (kw_accept(p, "max-rcpt")) {
			if (dup_setting(p, S_MAX_RCPT,
			    "smtp limit max-rcpt") == -1 ||
			    get_count(p, "max-rcpt", "a number of recipients",
			    &n) == -1)
				return -1;
			c->max_rcpt = n;
			p->seen[S_MAX_RCPT] = p->line;
		} else if (kw_accept(p, "max-per-ip")) {
			if (dup_setting(p, S_MAX_PER_IP,
			    "smtp limit max-per-ip") == -1 ||
			    get_count(p, "max-per-ip", "a number of connections",
			    &n) == -1)
				return -1;
			c->max_per_ip = n;
			p->seen[S_MAX_PER_IP] = p->line;
		} else if (kw_accept(p, "max-line-length")) {
			/* RFC 5321 4.5.3.1.6: at least 998 and CRLF */
			if (dup_setting(p, S_MAX_LINE,
			    "smtp limit max-line-length") == -1 ||
			    get_count(p, "max-line-length", "a number of bytes",
			    &n) == -1)
				return -1;
			if (n < 998) {
				perr(p, "max-line-length %d is below the 998 "
				    "of RFC 5322", n);
				return -1;
			}
			c->max_line = n;
			p->seen[S_MAX_LINE] = p->line;
		} else {
			expected(p, peek(p), "max-rcpt, max-per-ip or "
			    "max-line-length");
			return -1;
		}
	} while (peek(p) != NULL);
	return 0;
}

/* imap limit max-per-ip N [max-per-user N] */
static int
parse_imap(struct parser *p)
{
	struct maild_conf	*c = p->conf;
	int			 n;

	if (!kw_accept(p, "limit")) {
		expected(p, peek(p), "limit");
		return -1;
	}
	do {
		if (kw_accept(p, "max-per-ip")) {
			if (dup_setting(p, S_IMAP_PER_IP,
			    "imap limit max-per-ip") == -1 ||
			    get_count(p, "max-per-ip", "a number of connections",
			    &n) == -1)
				return -1;
			c->imap_max_per_ip = n;
			p->seen[S_IMAP_PER_IP] = p->line;
		} else if (kw_accept(p, "max-per-user")) {
			if (dup_setting(p, S_IMAP_PER_USER,
			    "imap limit max-per-user") == -1 ||
			    get_count(p, "max-per-user",
			    "a number of connections", &n) == -1)
				return -1;
			c->imap_max_per_user = n;
			p->seen[S_IMAP_PER_USER] = p->line;
		} else {
			expected(p, peek(p), "max-per-ip or max-per-user");
			return -1;
		}
	} while (peek(p) != NULL);
	return 0;
}

static int
parse_queue(struct parser *p)
{
	struct maild_conf	*c = p->conf;
	long long		 d;

	if (kw_accept(p, "ttl")) {
		if (dup_setting(p, S_QUEUE_TTL, "queue ttl") == -1 ||
		    get_duration(p, "ttl", &d) == -1)
			return -1;
		c->queue_ttl = (time_t)d;
		p->seen[S_QUEUE_TTL] = p->line;
	} else if (kw_accept(p, "retry")) {
		if (dup_setting(p, S_RETRY, "queue retry") == -1 ||
		    get_duration(p, "retry", &d) == -1)
			return -1;
		c->retry_local = (time_t)d;
		p->seen[S_RETRY] = p->line;
	} else if (kw_accept(p, "retry-max")) {
		if (dup_setting(p, S_RETRY_MAX, "queue retry-max") == -1 ||
		    get_duration(p, "retry-max", &d) == -1)
			return -1;
		c->retry_max = (time_t)d;
		p->seen[S_RETRY_MAX] = p->line;
	} else if (kw_accept(p, "retry-remote")) {
		if (dup_setting(p, S_RETRY_REMOTE, "queue retry-remote") ==
		    -1 || get_duration(p, "retry-remote", &d) == -1)
			return -1;
		c->retry_remote = (time_t)d;
		p->seen[S_RETRY_REMOTE] = p->line;
	} else {
		expected(p, peek(p), "ttl, retry, retry-remote or retry-max");
		return -1;
	}
	return 0;
}

/*
 * pki NAME cert FILE [key FILE], pki NAME key FILE: statements naming
 * the same pki merge (the seed setup gives cert and key on two lines).
 */
static int
parse_pki(struct parser *p)
{
	char		 name[NAME_MAX_CONF];
	const char	*s;
	struct pki	*pki;
	struct pkiline	*pl;
	int		 n = 0, cert;

	if (expect_name(p, "pki", name, sizeof(name)) == -1)
		return -1;
	if ((pki = config_pki(p->conf, name)) == NULL) {
		if ((pki = calloc(1, sizeof(*pki))) == NULL ||
		    (pl = calloc(1, sizeof(*pl))) == NULL)
			fatal("calloc");
		(void)strlcpy(pki->name, name, sizeof(pki->name));
		TAILQ_INSERT_TAIL(&p->conf->pkis, pki, entry);
		pl->pki = pki;
		pl->line = p->line;
		TAILQ_INSERT_TAIL(&p->pkilines, pl, entry);
	}
	for (;;) {
		if (kw_accept(p, "cert"))
			cert = 1;
		else if (kw_accept(p, "key"))
			cert = 0;
		else
			break;
		n++;
		if ((cert ? pki->cert_file : pki->key_file)[0] != '\0') {
			perr(p, "pki \"%s\": %s is already set", name,
			    cert ? "cert" : "key");
			return -1;
		}
		if (expect_string(p, "a file name", &s) == -1 ||
		    check_path(p, cert ? "cert file" : "key file", s,
		    cert ? pki->cert_file : pki->key_file,
		    sizeof(pki->cert_file)) == -1)
			return -1;
	}
	if (n == 0) {
		expected(p, peek(p), "cert or key");
		return -1;
	}
	return 0;
}

/* A DKIM selector: DNS labels of letters, digits and '-', dots between. */
static int
valid_selector(const char *s)
{
	size_t	 len = strlen(s), label = 0, i;

	if (len == 0 || len > 63)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
		label++;
	}
	return label > 0;
}

/*
 * dkim DOMAIN selector NAME key FILE: mail from the domain (its From
 * header) is signed with this key; several selectors sign together.
 */
static int
parse_dkim(struct parser *p)
{
	struct dkimconf	*d, *o;
	const char	*s;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal("calloc");
	d->line = p->line;
	if (is_word(peek(p), "local") && p->pos + 1 < p->ntok &&
	    is_word(&p->toks[p->pos + 1], "domain")) {
		free(d);
		p->pos += 2;
		return parse_dkim_local(p);
	}
	if (expect_string(p, "a domain", &s) == -1)
		goto fail;
	if (strlcpy(d->domain, s, sizeof(d->domain)) >= sizeof(d->domain) ||
	    !valid_hostname(d->domain)) {
		perr(p, "invalid dkim domain \"%.64s\"", s);
		goto fail;
	}
	str_lower(d->domain);
	if (!kw_accept(p, "selector")) {
		expected(p, peek(p), "selector");
		goto fail;
	}
	if (expect_string(p, "a selector", &s) == -1)
		goto fail;
	if (!valid_selector(s)) {
		perr(p, "invalid dkim selector \"%.64s\"", s);
		goto fail;
	}
	(void)strlcpy(d->selector, s, sizeof(d->selector));
	if (!kw_accept(p, "key")) {
		expected(p, peek(p), "key");
		goto fail;
	}
	if (expect_string(p, "a key file", &s) == -1 ||
	    check_path(p, "key file", s, d->key_file,
	    sizeof(d->key_file)) == -1)
		goto fail;
	TAILQ_FOREACH(o, &p->conf->dkims, entry)
		if (strcmp(o->domain, d->domain) == 0 &&
		    strcasecmp(o->selector, d->selector) == 0) {
			perr(p, "dkim %s selector %s is already defined",
			    d->domain, d->selector);
			goto fail;
		}
	TAILQ_INSERT_TAIL(&p->conf->dkims, d, entry);
	return 0;
 fail:
	free(d);
	return -1;
}

/*
 * dkim local domain NAME: mail from programs of this machine (loopback
 * clients that did not log in) is signed only when its From domain is
 * named so; anything else there could sign for every hosted domain.
 */
static int
parse_dkim_local(struct parser *p)
{
	struct dkimlocal	*d;
	const char		*s;
	char			 dom[DOMAIN_MAX + 1];

	if (expect_string(p, "a domain", &s) == -1)
		return -1;
	if (strlcpy(dom, s, sizeof(dom)) >= sizeof(dom) ||
	    !valid_hostname(dom)) {
		perr(p, "invalid dkim local domain \"%.64s\"", s);
		return -1;
	}
	str_lower(dom);
	if (config_dkim_local(p->conf, dom)) {
		perr(p, "dkim local domain %s is already given", dom);
		return -1;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal("calloc");
	(void)strlcpy(d->domain, dom, sizeof(d->domain));
	TAILQ_INSERT_TAIL(&p->conf->dkim_local, d, entry);
	return 0;
}

int
config_dkim_local(const struct maild_conf *c, const char *domain)
{
	const struct dkimlocal	*d;

	TAILQ_FOREACH(d, &c->dkim_local, entry)
		if (strcasecmp(d->domain, domain) == 0)
			return 1;
	return 0;
}

/* resolver ADDRESS [port N]: the DNS server (tests run their own). */
static int
parse_resolver(struct parser *p)
{
	struct in6_addr		 a6;
	struct in_addr		 a4;
	const char		*s, *end;
	unsigned long long	 v;

	if (dup_setting(p, S_RESOLVER, "resolver") == -1 ||
	    expect_string(p, "an IP address", &s) == -1)
		return -1;
	if (inet_pton(AF_INET, s, &a4) != 1 &&
	    inet_pton(AF_INET6, s, &a6) != 1) {
		perr(p, "resolver \"%.64s\" is not an IP address", s);
		return -1;
	}
	(void)strlcpy(p->conf->resolver, s, sizeof(p->conf->resolver));
	p->conf->resolver_port = 53;
	if (kw_accept(p, "port")) {
		if (expect_string(p, "a port number", &s) == -1)
			return -1;
		if (parse_ull(s, &v, &end) == -1 || *end != '\0' || v == 0 ||
		    v > 65535) {
			perr(p, "resolver port %.64s out of range (1 to 65535)",
			    s);
			return -1;
		}
		p->conf->resolver_port = (int)v;
	}
	p->seen[S_RESOLVER] = p->line;
	return 0;
}

/*
 * ca FILE: the CA certificates that "tls verify" trusts instead of the
 * system's; read by the parent, used by the relay.
 */
static int
parse_ca(struct parser *p)
{
	const char	*s;

	if (dup_setting(p, S_CA, "ca") == -1 ||
	    expect_string(p, "a CA file", &s) == -1 ||
	    check_path(p, "ca file", s, p->conf->ca_file,
	    sizeof(p->conf->ca_file)) == -1)
		return -1;
	p->seen[S_CA] = p->line;
	return 0;
}

/* table NAME file:PATH, or table NAME PATH; the file is read later. */
static int
parse_table(struct parser *p)
{
	char		 name[NAME_MAX_CONF], path[PATH_MAX];
	const char	*s, *colon, *slash;
	struct table	*t;

	if (expect_name(p, "table", name, sizeof(name)) == -1)
		return -1;
	if (config_table(p->conf, name) != NULL) {
		perr(p, "table \"%s\" is already defined", name);
		return -1;
	}
	if (expect_string(p, "a table file", &s) == -1)
		return -1;
	if (strncmp(s, "file:", 5) == 0)
		s += 5;
	else if ((colon = strchr(s, ':')) != NULL &&
	    ((slash = strchr(s, '/')) == NULL || colon < slash)) {
		perr(p, "unsupported table type \"%.*s\": only file tables",
		    (int)(colon - s > 32 ? 32 : colon - s), s);
		return -1;
	}
	if (check_path(p, "table file", s, path, sizeof(path)) == -1)
		return -1;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal("calloc");
	(void)strlcpy(t->name, name, sizeof(t->name));
	(void)strlcpy(t->path, path, sizeof(t->path));
	TAILQ_INSERT_TAIL(&p->conf->tables, t, entry);
	return 0;
}

/* -- listen on -- */

static int
lopt_port(struct parser *p, struct listen_opts *o)
{
	const char		*s, *end;
	unsigned long long	 v;
	size_t			 i;

	if (expect_string(p, "a port number", &s) == -1)
		return -1;
	for (i = 0; i < nitems(port_names); i++)
		if (strcmp(s, port_names[i].name) == 0) {
			o->l.port = port_names[i].port;
			return 0;
		}
	if (parse_ull(s, &v, &end) == -1 || *end != '\0') {
		expected(p, &p->toks[p->pos - 1], "a port number");
		return -1;
	}
	if (v == 0 || v > 65535) {
		perr(p, "port %.64s out of range (1 to 65535)", s);
		return -1;
	}
	o->l.port = (int)v;
	return 0;
}

static int
lopt_family(struct parser *p, struct listen_opts *o)
{
	if (kw_accept(p, "inet4"))
		o->family = AF_INET;
	else if (kw_accept(p, "inet6"))
		o->family = AF_INET6;
	else {
		expected(p, peek(p), "inet4 or inet6");
		return -1;
	}
	return 0;
}

/*
 * from-mismatch refuse|unsigned: what becomes of a logged-in user's
 * message whose From header is not theirs.
 */
static int
lopt_frommismatch(struct parser *p, struct listen_opts *o)
{
	if (kw_accept(p, "unsigned"))
		o->l.flags |= L_FROM_UNSIGNED;
	else if (!kw_accept(p, "refuse")) {
		expected(p, peek(p), "refuse or unsigned after from-mismatch");
		return -1;
	}
	return 0;
}

/* The pki may be defined later in the file: resolved by finish(). */
static int
lopt_pki(struct parser *p, struct listen_opts *o)
{
	return expect_name(p, "pki", o->l.pki, sizeof(o->l.pki));
}

static int
lopt_hostname(struct parser *p, struct listen_opts *o)
{
	const char	*s;

	if (expect_string(p, "a host name", &s) == -1)
		return -1;
	if (!valid_hostname(s)) {
		perr(p, "invalid host name \"%.64s\"", s);
		return -1;
	}
	(void)strlcpy(o->l.hostname, s, sizeof(o->l.hostname));
	return 0;
}

static int
lopt_auth(struct parser *p, struct listen_opts *o)
{
	struct table	*t;

	if (expect_table(p, "<table> after auth", &t) == -1)
		return -1;
	/* It holds password hashes: the lookup process checks its mode. */
	t->flags |= T_SECRET;
	(void)strlcpy(o->l.authtable, t->name, sizeof(o->l.authtable));
	o->l.flags |= L_AUTH;
	return 0;
}

/* check rdns | check fcrdns | check { rdns[,] fcrdns } */
static int
lopt_check(struct parser *p, struct listen_opts *o)
{
	struct token	*tok;
	int		 n = 0;

	if (peek(p) == NULL || peek(p)->type != TK_LBRACE)
		return check_one(p, o);
	p->pos++;
	for (;;) {
		if ((tok = peek(p)) != NULL && tok->type == TK_RBRACE) {
			p->pos++;
			break;
		}
		if (n > 0 && tok != NULL && tok->type == TK_COMMA)
			p->pos++;
		if (check_one(p, o) == -1)
			return -1;
		n++;
	}
	if (n == 0) {
		perr(p, "empty check { }: expected rdns or fcrdns");
		return -1;
	}
	return 0;
}

static int
lopt_ciphers(struct parser *p, struct listen_opts *o)
{
	const char	*s;

	if (expect_string(p, "a cipher string", &s) == -1)
		return -1;
	return check_ciphers(p, s, o->l.ciphers, sizeof(o->l.ciphers));
}

/*
 * A "ciphers" value, copied to buf.  The parent (not the children, nor
 * mailctl) asks libtls whether it selects any cipher, so that a typo
 * stops "maild -n", a start or a reload rather than every handshake.
 */
static int
check_ciphers(struct parser *p, const char *s, char *buf, size_t len)
{
	struct tls_config	*cfg;
	int			 rv = 0;

	if (*s == '\0') {
		perr(p, "empty cipher string");
		return -1;
	}
	if (strlcpy(buf, s, len) >= len) {
		perr(p, "cipher string too long (over %zu bytes)", len - 1);
		return -1;
	}
	if (p->flags & CONF_NOFILES)
		return 0;
	if ((cfg = tls_config_new()) == NULL)
		fatal("tls_config_new");
	if (tls_config_set_ciphers(cfg, config_ciphers(s)) == -1) {
		perr(p, "ciphers \"%.64s\": %s", s, tls_config_error(cfg));
		rv = -1;
	}
	tls_config_free(cfg);
	return rv;
}

static int
check_one(struct parser *p, struct listen_opts *o)
{
	if (kw_accept(p, "rdns"))
		o->l.flags |= L_CHECK_RDNS;
	else if (kw_accept(p, "fcrdns"))
		o->l.flags |= L_CHECK_FCRDNS;
	else {
		expected(p, peek(p), "rdns or fcrdns");
		return -1;
	}
	return 0;
}

/* The rules that keep a listener from leaking passwords or mail. */
static int
listen_check(struct parser *p, struct listen_opts *o)
{
	unsigned int	 s = o->seen;
	int		 errors = p->errors;
	const char	*tls;

	if ((s & O_SMTPS) && (s & (O_TLS | O_TLS_REQUIRE)))
		perr(p, "smtps cannot be combined with tls or tls-require: "
		    "smtps is TLS from the first byte");
	if ((s & O_IMAPS) && (s & (O_SMTPS | O_IMAP | O_TLS | O_TLS_REQUIRE)))
		perr(p, "imaps cannot be combined with smtps, imap, tls or "
		    "tls-require");
	if ((s & O_IMAP) && (s & O_SMTPS))
		perr(p, "imap cannot be combined with smtps");
	if ((s & O_IMAP) && !(s & (O_TLS | O_TLS_REQUIRE)))
		perr(p, "imap requires tls or tls-require: no login before "
		    "TLS");
	if ((s & O_ANYTLS) && !(s & O_PKI)) {
		tls = (s & O_TLS_REQUIRE) ? "tls-require" : (s & O_TLS) ?
		    "tls" : (s & O_SMTPS) ? "smtps" : "imaps";
		perr(p, "%s requires a certificate: add pki NAME", tls);
	}
	if ((s & O_PKI) && !(s & O_ANYTLS))
		perr(p, "pki \"%s\" is not used without tls, tls-require, "
		    "smtps or imaps", o->l.pki);
	if ((s & O_CIPHERS) && !(s & O_ANYTLS))
		perr(p, "ciphers is not used without tls, tls-require, smtps "
		    "or imaps");
	if ((s & O_AUTH) && !(s & O_ANYTLS))
		perr(p, "auth requires tls, tls-require or smtps: no AUTH "
		    "before TLS");
	if ((s & (O_IMAPS | O_IMAP)) && !(s & O_AUTH))
		perr(p, "%s requires auth <table>",
		    (s & O_IMAPS) ? "imaps" : "imap");
	if ((s & (O_IMAPS | O_IMAP)) && (s & (O_MASKSRC | O_CHECK |
	    O_ANYSENDER)))
		perr(p, "mask-src, check and any-sender only apply to SMTP "
		    "listeners");
	if ((s & O_ANYSENDER) && !(s & O_AUTH))
		perr(p, "any-sender requires auth <table>");
	if ((s & O_FROMMISMATCH) && (!(s & O_AUTH) || (s & O_ANYSENDER) ||
	    (s & (O_IMAPS | O_IMAP))))
		perr(p, "from-mismatch applies to SMTP listeners with auth "
		    "<table> and without any-sender");
	return p->errors == errors ? 0 : -1;
}

/*
 * listen on ADDR [options]: one listener per address ADDR stands for
 * (a literal, "*", "localhost" or every address of an interface).
 */
static int
parse_listen(struct parser *p)
{
	struct listen_opts	 o;
	struct sockaddr_storage	 addrs[LISTEN_ADDRS_MAX];
	struct listener		*l;
	struct token		*tok;
	const char		*addr;
	char			 text[NI_MAXHOST];
	size_t			 i, n;

	if (!kw_accept(p, "on")) {
		expected(p, peek(p), "\"on\" after listen");
		return -1;
	}
	if (expect_string(p, "an address or interface", &addr) == -1)
		return -1;
	memset(&o, 0, sizeof(o));
	o.family = AF_UNSPEC;
	while ((tok = peek(p)) != NULL) {
		for (i = 0; i < nitems(listen_options); i++)
			if (is_word(tok, listen_options[i].name))
				break;
		if (i == nitems(listen_options)) {
			if (tok->type == TK_WORD)
				perr(p, "unknown listen option \"%.64s\"",
				    tok->text);
			else
				expected(p, tok, "a listen option");
			return -1;
		}
		if (o.seen & listen_options[i].bit) {
			perr(p, "option %s given twice", tok->text);
			return -1;
		}
		o.seen |= listen_options[i].bit;
		p->pos++;
		if (listen_options[i].parse != NULL &&
		    listen_options[i].parse(p, &o) == -1)
			return -1;
	}
	if (listen_check(p, &o) == -1)
		return -1;

	if (o.seen & (O_TLS | O_TLS_REQUIRE))
		o.l.flags |= L_TLS;
	if (o.seen & O_TLS_REQUIRE)
		o.l.flags |= L_TLS_REQUIRE;
	if (o.seen & O_SMTPS)
		o.l.flags |= L_SMTPS;
	if (o.seen & O_IMAPS)
		o.l.flags |= L_IMAPS;
	if (o.seen & O_MASKSRC)
		o.l.flags |= L_MASKSRC;
	if (o.seen & O_ANYSENDER)
		o.l.flags |= L_ANYSENDER;
	o.l.proto = (o.seen & (O_IMAPS | O_IMAP)) ? PROTO_IMAP : PROTO_SMTP;
	if (o.l.port == 0)
		o.l.port = (o.seen & O_IMAPS) ? 993 : (o.seen & O_IMAP) ? 143 :
		    (o.seen & O_SMTPS) ? 465 : 25;

	if (resolve_addr(p, addr, o.family, addrs, &n) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		TAILQ_FOREACH(l, &p->conf->listeners, entry)
			if (same_addr(l, &addrs[i], o.l.port))
				break;
		if (l != NULL) {
			addr_text(&addrs[i], sizeof(addrs[i]), text,
			    sizeof(text));
			perr(p, "address %s port %d is already used on line "
			    "%d", text, o.l.port, l->line);
			return -1;
		}
	}
	for (i = 0; i < n; i++) {
		if ((l = calloc(1, sizeof(*l))) == NULL)
			fatal("calloc");
		*l = o.l;
		l->ss = addrs[i];
		if (l->ss.ss_family == AF_INET) {
			l->sslen = sizeof(struct sockaddr_in);
			((struct sockaddr_in *)&l->ss)->sin_port =
			    htons((uint16_t)l->port);
		} else {
			l->sslen = sizeof(struct sockaddr_in6);
			((struct sockaddr_in6 *)&l->ss)->sin6_port =
			    htons((uint16_t)l->port);
		}
		l->fd = -1;
		l->line = p->line;
		TAILQ_INSERT_TAIL(&p->conf->listeners, l, entry);
	}
	return 0;
}

/*
 * Addresses for ADDR, IPv4 first: strict numeric literals (no "127.1"),
 * "*", "localhost", else the addresses of the interface of that name.
 */
static int
resolve_addr(struct parser *p, const char *addr, int family,
    struct sockaddr_storage *out, size_t *np)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	struct addrinfo		 hints, *res;
	struct ifaddrs		*ifap, *ifa;
	int			 pass, found = 0, fam;
	static const int	 passes[] = { AF_INET, AF_INET6 };

	*np = 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;

	if (strcmp(addr, "*") == 0 || strcmp(addr, "localhost") == 0) {
		if (*addr != '*') {
			sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			sin6.sin6_addr = in6addr_loopback;
		} else {
			sin.sin_addr.s_addr = htonl(INADDR_ANY);
			sin6.sin6_addr = in6addr_any;
		}
		if (family != AF_INET6)
			(void)add_addr(p, out, np, (struct sockaddr *)&sin,
			    sizeof(sin));
		if (family != AF_INET)
			(void)add_addr(p, out, np, (struct sockaddr *)&sin6,
			    sizeof(sin6));
		return 0;
	}
	if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
		if (family == AF_INET6) {
			perr(p, "address %.64s is not inet6", addr);
			return -1;
		}
		return add_addr(p, out, np, (struct sockaddr *)&sin,
		    sizeof(sin));
	}
	if (strchr(addr, ':') != NULL) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_INET6;
		hints.ai_flags = AI_NUMERICHOST;
		if (getaddrinfo(addr, NULL, &hints, &res) != 0) {
			perr(p, "invalid IPv6 address \"%.64s\"", addr);
			return -1;
		}
		if (family == AF_INET) {
			freeaddrinfo(res);
			perr(p, "address %.64s is not inet4", addr);
			return -1;
		}
		fam = add_addr(p, out, np, res->ai_addr, (int)res->ai_addrlen);
		freeaddrinfo(res);
		return fam;
	}

	if (getifaddrs(&ifap) == -1) {
		perr(p, "getifaddrs: %s", strerror(errno));
		return -1;
	}
	for (pass = 0; pass < 2; pass++) {
		fam = passes[pass];
		for (ifa = ifap; ifa != NULL; ifa = ifa->ifa_next) {
			if (strcmp(ifa->ifa_name, addr) != 0)
				continue;
			found = 1;
			if (ifa->ifa_addr == NULL ||
			    ifa->ifa_addr->sa_family != fam ||
			    (family != AF_UNSPEC && family != fam))
				continue;
			if (add_addr(p, out, np, ifa->ifa_addr,
			    fam == AF_INET ? sizeof(struct sockaddr_in) :
			    sizeof(struct sockaddr_in6)) == -1) {
				freeifaddrs(ifap);
				return -1;
			}
		}
	}
	freeifaddrs(ifap);
	if (!found) {
		perr(p, "unknown interface or address \"%.64s\"", addr);
		return -1;
	}
	if (*np == 0) {
		perr(p, "interface %.64s has no %saddress", addr,
		    family == AF_INET ? "inet4 " : family == AF_INET6 ?
		    "inet6 " : "");
		return -1;
	}
	return 0;
}

static int
add_addr(struct parser *p, struct sockaddr_storage *out, size_t *np,
    const struct sockaddr *sa, int len)
{
	if (*np == LISTEN_ADDRS_MAX) {
		perr(p, "too many addresses (at most %d)", LISTEN_ADDRS_MAX);
		return -1;
	}
	memset(&out[*np], 0, sizeof(out[*np]));
	memcpy(&out[*np], sa, (size_t)len);
	(*np)++;
	return 0;
}

static int
same_addr(const struct listener *l, const struct sockaddr_storage *ss,
    int port)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;

	if (l->port != port || l->ss.ss_family != ss->ss_family)
		return 0;
	if (ss->ss_family == AF_INET) {
		a4 = (const struct sockaddr_in *)&l->ss;
		b4 = (const struct sockaddr_in *)ss;
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	}
	a6 = (const struct sockaddr_in6 *)&l->ss;
	b6 = (const struct sockaddr_in6 *)ss;
	return memcmp(&a6->sin6_addr, &b6->sin6_addr,
	    sizeof(a6->sin6_addr)) == 0 &&
	    a6->sin6_scope_id == b6->sin6_scope_id;
}

static void
addr_text(const struct sockaddr_storage *ss, socklen_t len, char *buf,
    size_t size)
{
	socklen_t	 salen;

	salen = ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
	if (salen > len ||
	    getnameinfo((const struct sockaddr *)ss, salen, buf,
	    (socklen_t)size, NULL, 0, NI_NUMERICHOST) != 0)
		(void)strlcpy(buf, "?", size);
}

/* -- action, match -- */

/*
 * A maildir location: an absolute path whose only variables are
 * %{dest.user} and %{dest.domain}, each optionally ":lowercase".
 */
static int
check_pattern(struct parser *p, const char *s)
{
	static const char	*vars[] = {
		"dest.user", "dest.domain", "dest.user:lowercase",
		"dest.domain:lowercase"
	};
	const char		*c, *end;
	size_t			 i, len;

	if (*s != '/') {
		perr(p, "maildir location \"%.64s\" must be an absolute path",
		    s);
		return -1;
	}
	if (strlen(s) >= PATH_MAX) {
		perr(p, "maildir location is too long");
		return -1;
	}
	for (c = s; *c != '\0'; c++) {
		if (c[0] == '/' && (c[1] == '/' || (c[1] == '.' &&
		    (c[2] == '/' || c[2] == '\0' || (c[2] == '.' &&
		    (c[3] == '/' || c[3] == '\0')))))) {
			perr(p, "maildir location \"%.64s\" has an empty, "
			    "\".\" or \"..\" component", s);
			return -1;
		}
		if (*c != '%')
			continue;
		if (c[1] != '{' || (end = strchr(c, '}')) == NULL) {
			perr(p, "maildir location \"%.64s\": '%%' must start "
			    "%%{dest.user} or %%{dest.domain}", s);
			return -1;
		}
		len = (size_t)(end - c - 2);
		for (i = 0; i < nitems(vars); i++)
			if (strlen(vars[i]) == len &&
			    strncmp(c + 2, vars[i], len) == 0)
				break;
		if (i == nitems(vars)) {
			perr(p, "unknown variable %%{%.*s} in maildir location:"
			    " use %%{dest.user} or %%{dest.domain}, "
			    "optionally with :lowercase",
			    (int)(len > 64 ? 64 : len), c + 2);
			return -1;
		}
		c = end;
	}
	return 0;
}

static int
parse_action(struct parser *p)
{
	struct action	 a, *ap;
	struct token	*tok;
	struct table	**tp;
	const char	*s, *what;

	memset(&a, 0, sizeof(a));
	a.line = p->line;
	if (expect_name(p, "action", a.name, sizeof(a.name)) == -1)
		return -1;
	TAILQ_FOREACH(ap, &p->conf->actions, entry)
		if (strcmp(ap->name, a.name) == 0) {
			perr(p, "action \"%s\" is already defined on line %d",
			    a.name, ap->line);
			return -1;
		}
	tok = next(p);
	if (is_word(tok, "relay")) {
		a.type = A_RELAY;
		if (parse_relay(p, &a) == -1)
			return -1;
	} else if (is_word(tok, "maildir")) {
		a.type = A_MAILDIR;
		if (expect_string(p, "a maildir location", &s) == -1 ||
		    check_pattern(p, s) == -1)
			return -1;
		(void)strlcpy(a.pattern, s, sizeof(a.pattern));
		while ((tok = peek(p)) != NULL) {
			if (is_word(tok, "virtual"))
				tp = &a.virtual;
			else if (is_word(tok, "alias"))
				tp = &a.alias;
			else if (is_word(tok, "userbase"))
				tp = &a.userbase;
			else {
				expected(p, tok, "virtual, alias or userbase");
				return -1;
			}
			what = tok->text;
			p->pos++;
			if (*tp != NULL) {
				perr(p, "option %s given twice", what);
				return -1;
			}
			if (expect_table(p, "<table>", tp) == -1)
				return -1;
		}
		if (a.virtual == NULL && a.alias == NULL &&
		    a.userbase == NULL) {
			perr(p, "maildir action \"%s\" needs virtual, alias or "
			    "userbase <table>, so unknown users can be "
			    "refused", a.name);
			return -1;
		}
	} else if (is_word(tok, "mbox")) {
		perr(p, "mbox delivery is not supported, use maildir");
		return -1;
	} else {
		expected(p, tok, "an action type (maildir or relay)");
		return -1;
	}
	if ((ap = calloc(1, sizeof(*ap))) == NULL)
		fatal("calloc");
	*ap = a;
	TAILQ_INSERT_TAIL(&p->conf->actions, ap, entry);
	return 0;
}

/*
 * The options of a relay action, in any order, each once:
 * tls verify | tls require, host URL, auth <table>, ciphers STRING
 * (for every TLS connection of the action).  Credentials never
 * cross a connection in the clear: auth needs TLS (smtp+tls://,
 * smtps:// or tls require/verify).
 */
static int
parse_relay(struct parser *p, struct action *a)
{
	struct token	*tok;
	const char	*s;
	int		 tls = 0, host = 0;

	while ((tok = next(p)) != NULL) {
		if (is_word(tok, "tls")) {
			if (tls++) {
				perr(p, "option tls given twice");
				return -1;
			}
			if (kw_accept(p, "verify"))
				a->relay_flags |= AR_TLS_VERIFY |
				    AR_TLS_REQUIRE;
			else if (kw_accept(p, "require"))
				a->relay_flags |= AR_TLS_REQUIRE;
			else {
				expected(p, peek(p), "verify or require after "
				    "tls");
				return -1;
			}
		} else if (is_word(tok, "host")) {
			if (host++) {
				perr(p, "option host given twice");
				return -1;
			}
			if (expect_string(p, "a relay URL", &s) == -1 ||
			    parse_relay_url(p, s, a) == -1)
				return -1;
		} else if (is_word(tok, "auth")) {
			if (a->relay_auth != NULL) {
				perr(p, "option auth given twice");
				return -1;
			}
			if (expect_table(p, "<table> after auth",
			    &a->relay_auth) == -1)
				return -1;
			/* Clear-text passwords: for the relay's eyes only. */
			a->relay_auth->flags |= T_SECRET | T_RELAY;
		} else if (is_word(tok, "ciphers")) {
			if (a->relay_ciphers[0] != '\0') {
				perr(p, "option ciphers given twice");
				return -1;
			}
			if (expect_string(p, "a cipher string", &s) == -1 ||
			    check_ciphers(p, s, a->relay_ciphers,
			    sizeof(a->relay_ciphers)) == -1)
				return -1;
		} else {
			expected(p, tok, "tls, host, auth or ciphers");
			return -1;
		}
	}
	if (a->relay_auth != NULL && !host) {
		perr(p, "auth needs a host: relay host smtp+tls://label@host "
		    "auth <%s>", a->relay_auth->name);
		return -1;
	}
	if (a->relay_auth != NULL && a->relay_label[0] == '\0') {
		perr(p, "auth needs a label in the host URL, the key of its "
		    "line in <%s>: smtp+tls://label@%s", a->relay_auth->name,
		    a->relay_host);
		return -1;
	}
	if (a->relay_auth == NULL && a->relay_label[0] != '\0') {
		perr(p, "the label %s@ in the host URL needs auth <table>",
		    a->relay_label);
		return -1;
	}
	if (a->relay_auth != NULL && !(a->relay_flags &
	    (AR_TLS_REQUIRE | AR_STARTTLS | AR_SMTPS))) {
		perr(p, "auth over smtp:// could send the password in clear "
		    "text: use smtp+tls://, smtps:// or tls require");
		return -1;
	}
	return 0;
}

/*
 * smtp://[label@]host[:port] (STARTTLS when offered, port 25),
 * smtp+tls://... (STARTTLS required, port 25), smtps://... (implicit
 * TLS, port 465).  host: a name, an IPv4 address or [IPv6].
 */
static int
parse_relay_url(struct parser *p, const char *url, struct action *a)
{
	static const struct {
		const char	*prefix;
		int		 flags;
		int		 port;
	} schemes[] = {
		{ "smtp://",	 0,		25 },
		{ "smtp+tls://", AR_STARTTLS,	25 },
		{ "smtps://",	 AR_SMTPS,	465 },
	};
	struct in6_addr		 a6;
	struct in_addr		 a4;
	unsigned long long	 v;
	const char		*s, *at, *end, *c;
	char			 host[DOMAIN_MAX + 1];
	size_t			 i, n;

	for (i = 0; i < nitems(schemes); i++)
		if (strncmp(url, schemes[i].prefix,
		    strlen(schemes[i].prefix)) == 0)
			break;
	if (i == nitems(schemes)) {
		perr(p, "relay host \"%.64s\": use smtp://, smtp+tls:// or "
		    "smtps://", url);
		return -1;
	}
	a->relay_flags |= schemes[i].flags;
	a->relay_port = schemes[i].port;
	s = url + strlen(schemes[i].prefix);
	if ((at = strrchr(s, '@')) != NULL) {
		n = (size_t)(at - s);
		for (c = s; c < at; c++)
			if ((unsigned char)*c <= 0x20 || *c == 0x7f ||
			    *c == '/' || *c == ':' || *c == '<' || *c == '>')
				break;
		if (n == 0 || n >= sizeof(a->relay_label) || c != at) {
			perr(p, "relay host \"%.64s\": invalid label before "
			    "'@'", url);
			return -1;
		}
		memcpy(a->relay_label, s, n);
		a->relay_label[n] = '\0';
		s = at + 1;
	}
	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL ||
		    (n = (size_t)(end - s - 1)) >= sizeof(host))
			goto bad;
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			goto bad;
		end++;
	} else {
		n = strcspn(s, ":/");
		end = s + n;
		if (n >= sizeof(host))
			goto bad;
		memcpy(host, s, n);
		host[n] = '\0';
		if (inet_pton(AF_INET, host, &a4) != 1 &&
		    !valid_hostname(host))
			goto bad;
	}
	if (*end == ':') {
		if (parse_ull(end + 1, &v, &c) == -1 || *c != '\0' || v == 0 ||
		    v > 65535) {
			perr(p, "relay host \"%.64s\": port out of range (1 "
			    "to 65535)", url);
			return -1;
		}
		a->relay_port = (int)v;
	} else if (*end != '\0')
		goto bad;
	(void)strlcpy(a->relay_host, host, sizeof(a->relay_host));
	return 0;
 bad:
	perr(p, "relay host \"%.64s\": invalid host name", url);
	return -1;
}

/* "example.org" or "*.example.org", already lowercased. */
static int
valid_domain_pattern(const char *s)
{
	if (s[0] == '*' && s[1] == '.')
		s += 2;
	return strlen(s) <= DOMAIN_MAX && valid_hostname(s);
}

/* match [auth] from any|local for any|local|domain X action NAME */
static int
parse_match(struct parser *p)
{
	struct rule	 r, *rp;
	struct action	*a;
	struct token	*tok;
	const char	*s;
	size_t		 i;
	int		 from = 0, for_ = 0;

	memset(&r, 0, sizeof(r));
	r.line = p->line;
	while ((tok = peek(p)) != NULL) {
		if (tok->type == TK_BANG) {
			perr(p, "negation (!) is not supported in match");
			return -1;
		}
		p->pos++;
		if (is_word(tok, "auth") && !r.auth) {
			r.auth = 1;
		} else if (is_word(tok, "from") && !from) {
			from = 1;
			if (kw_accept(p, "any"))
				r.from = FROM_ANY;
			else if (kw_accept(p, "local"))
				r.from = FROM_LOCAL;
			else {
				expected(p, peek(p), "any or local after from");
				return -1;
			}
		} else if (is_word(tok, "for") && !for_) {
			for_ = 1;
			if (kw_accept(p, "any"))
				r.for_ = FOR_ANY;
			else if (kw_accept(p, "local"))
				r.for_ = FOR_LOCAL;
			else if (kw_accept(p, "domain")) {
				if ((tok = peek(p)) != NULL &&
				    tok->type == TK_TABLE) {
					r.for_ = FOR_DOMAIN_TABLE;
					if (expect_table(p, "<table>",
					    &r.domains) == -1)
						return -1;
					continue;
				}
				r.for_ = FOR_DOMAIN;
				if (expect_string(p, "a domain or <table>",
				    &s) == -1)
					return -1;
				if (strlcpy(r.domain, s, sizeof(r.domain)) >=
				    sizeof(r.domain))
					r.domain[0] = '\0';
				for (i = 0; r.domain[i] != '\0'; i++)
					r.domain[i] = (char)tolower(
					    (unsigned char)r.domain[i]);
				if (!valid_domain_pattern(r.domain)) {
					perr(p, "invalid domain \"%.64s\"", s);
					return -1;
				}
			} else {
				expected(p, peek(p),
				    "any, local or domain after for");
				return -1;
			}
		} else if (is_word(tok, "action") && r.action == NULL) {
			if (expect_string(p, "an action name", &s) == -1)
				return -1;
			TAILQ_FOREACH(a, &p->conf->actions, entry)
				if (strcmp(a->name, s) == 0)
					break;
			if (a == NULL) {
				perr(p, "unknown action \"%.64s\"", s);
				return -1;
			}
			r.action = a;
		} else if (is_word(tok, "auth") || is_word(tok, "from") ||
		    is_word(tok, "for") || is_word(tok, "action")) {
			perr(p, "%s given twice", tok->text);
			return -1;
		} else {
			expected(p, tok, "auth, from, for or action");
			return -1;
		}
	}
	if (!from || !for_ || r.action == NULL) {
		perr(p, "match needs from, for and action");
		return -1;
	}
	if (r.action->type == A_RELAY && !r.auth && r.from == FROM_ANY) {
		perr(p, "this rule would make an open relay: add auth, or use "
		    "from local");
		return -1;
	}
	if ((rp = calloc(1, sizeof(*rp))) == NULL)
		fatal("calloc");
	*rp = r;
	TAILQ_INSERT_TAIL(&p->conf->rules, rp, entry);
	return 0;
}

/* -- end of file -- */

static void
finish(struct parser *p)
{
	struct maild_conf	*c = p->conf;
	struct dkimconf		*d;
	struct pkiline		*pl;
	struct listener		*l;
	char			 host[HOST_NAME_MAX + 1];
	int			 lastline = 0;

	TAILQ_FOREACH(pl, &p->pkilines, entry) {
		if (pl->pki->cert_file[0] == '\0')
			perr_line(p, pl->line, "pki \"%s\" has no cert",
			    pl->pki->name);
		if (pl->pki->key_file[0] == '\0')
			perr_line(p, pl->line, "pki \"%s\" has no key",
			    pl->pki->name);
	}
	TAILQ_FOREACH(l, &c->listeners, entry) {
		/* One message per statement, not per address. */
		if (l->pki[0] != '\0' && config_pki(c, l->pki) == NULL &&
		    l->line != lastline) {
			perr_line(p, l->line, "unknown pki \"%s\"", l->pki);
			lastline = l->line;
		}
	}
	if (p->seen[S_RETRY] && c->retry_local > c->retry_max)
		perr_line(p, p->seen[S_RETRY], "queue retry (%lld) is longer "
		    "than queue retry-max (%lld)", (long long)c->retry_local,
		    (long long)c->retry_max);
	else if (p->seen[S_RETRY_MAX] && c->retry_local > c->retry_max)
		perr_line(p, p->seen[S_RETRY_MAX], "queue retry-max (%lld) is "
		    "shorter than queue retry (%lld)", (long long)c->retry_max,
		    (long long)c->retry_local);
	if (p->seen[S_RETRY_REMOTE] && c->retry_remote > c->retry_max)
		perr_line(p, p->seen[S_RETRY_REMOTE], "queue retry-remote "
		    "(%lld) is longer than queue retry-max (%lld)",
		    (long long)c->retry_remote, (long long)c->retry_max);
	else if (p->seen[S_RETRY_MAX] && !p->seen[S_RETRY_REMOTE] &&
	    c->retry_remote > c->retry_max)
		/* A short retry-max caps the default remote retry. */
		c->retry_remote = c->retry_max;

	if (!p->seen[S_HOSTNAME]) {
		memset(host, 0, sizeof(host));
		if (gethostname(host, sizeof(host) - 1) == -1 ||
		    !valid_hostname(host)) {
			log_warnx("%s: cannot use the system host name, set "
			    "hostname", p->name);
			p->errors++;
		} else
			(void)strlcpy(c->hostname, host, sizeof(c->hostname));
	}
	TAILQ_FOREACH(l, &c->listeners, entry)
		if (l->hostname[0] == '\0')
			(void)strlcpy(l->hostname, c->hostname,
			    sizeof(l->hostname));
	derive_vmail_root(c);
	(void)relay_table_check(p);

	if (p->errors > 0 || (p->flags & CONF_NOFILES))
		return;
	if (c->ca_file[0] != '\0')
		(void)read_pki_file(p, p->seen[S_CA], "ca", c->ca_file, 0,
		    &c->ca, &c->ca_len);
	TAILQ_FOREACH(pl, &p->pkilines, entry) {
		if (read_pki_file(p, pl->line, "cert", pl->pki->cert_file, 0,
		    &pl->pki->cert, &pl->pki->cert_len) == -1)
			continue;
		(void)read_pki_file(p, pl->line, "key", pl->pki->key_file, 1,
		    &pl->pki->key, &pl->pki->key_len);
	}
	TAILQ_FOREACH(d, &c->dkims, entry)
		(void)read_pki_file(p, d->line, "dkim key", d->key_file, 1,
		    &d->key, &d->key_len);
}

/*
 * A table of relay credentials goes to the relay process only: it may
 * not serve as anything else (and the lookup process never sees it).
 */
static int
relay_table_check(struct parser *p)
{
	struct maild_conf	*c = p->conf;
	struct listener		*l;
	struct action		*a;
	struct rule		*r;
	struct table		*t;
	int			 rv = 0, lastline = 0;

#define RELAY_TABLE_USED(tp, line, what) do {				\
	if ((tp) != NULL && ((tp)->flags & T_RELAY)) {			\
		perr_line(p, (line), "table <%s> holds relay credentials "	\
		    "and cannot be used as %s", (tp)->name, (what));	\
		rv = -1;						\
	}								\
} while (0)
	TAILQ_FOREACH(l, &c->listeners, entry)
		/* One message per statement, not per address. */
		if ((l->flags & L_AUTH) && l->line != lastline) {
			lastline = l->line;
			t = config_table(c, l->authtable);
			RELAY_TABLE_USED(t, l->line, "a passwd table");
		}
	TAILQ_FOREACH(a, &c->actions, entry) {
		RELAY_TABLE_USED(a->virtual, a->line, "virtual");
		RELAY_TABLE_USED(a->alias, a->line, "alias");
		RELAY_TABLE_USED(a->userbase, a->line, "userbase");
	}
	TAILQ_FOREACH(r, &c->rules, entry)
		RELAY_TABLE_USED(r->domains, r->line, "a domain table");
#undef RELAY_TABLE_USED
	return rv;
}

/*
 * The deepest directory holding every maildir: the common directory
 * prefix of the static parts of the patterns ("/var/vmail" for
 * "/var/vmail/%{dest.domain}/%{dest.user}").  The deliver process is
 * confined there.
 */
static void
derive_vmail_root(struct maild_conf *c)
{
	struct action	*a;
	char		 root[PATH_MAX], dir[PATH_MAX], *s;
	size_t		 i, cut;
	int		 first = 1;

	root[0] = '\0';
	TAILQ_FOREACH(a, &c->actions, entry) {
		if (a->type != A_MAILDIR)
			continue;
		(void)strlcpy(dir, a->pattern, sizeof(dir));
		if ((s = strchr(dir, '%')) != NULL)
			*s = '\0';
		if ((s = strrchr(dir, '/')) != NULL)
			*s = '\0';	/* "" stands for "/" */
		if (first) {
			(void)strlcpy(root, dir, sizeof(root));
			first = 0;
			continue;
		}
		for (i = 0; root[i] != '\0' && root[i] == dir[i]; i++)
			;
		if ((root[i] == '\0' && (dir[i] == '/' || dir[i] == '\0')) ||
		    (dir[i] == '\0' && root[i] == '/'))
			cut = i;
		else {
			for (cut = i; cut > 0 && root[cut] != '/'; cut--)
				;
		}
		root[cut] = '\0';
	}
	if (first)
		(void)strlcpy(c->vmail_root, VMAIL_ROOT_DEFAULT,
		    sizeof(c->vmail_root));
	else if (root[0] == '\0')
		(void)strlcpy(c->vmail_root, "/", sizeof(c->vmail_root));
	else
		(void)strlcpy(c->vmail_root, root, sizeof(c->vmail_root));
}

/*
 * Read a certificate or key (at most PKI_FILE_MAX bytes) into a
 * NUL-terminated buffer.  A private key (TLS or DKIM) is read as a
 * table is: not through a symbolic link, below directories only root
 * (or the running user) can change, owned by root (or that user), not
 * writable by group or others: whoever can swap it can impersonate the
 * server or sign as its domains.  Nor may others read it.
 */
static int
read_pki_file(struct parser *p, int line, const char *what,
    const char *path, int iskey, char **bufp, size_t *lenp)
{
	struct stat	 st;
	char		*buf = NULL, err[PATH_MAX + 256];
	size_t		 len = 0, size = 0;
	ssize_t		 n;
	int		 fd;

	if (iskey) {
		if ((fd = path_open_trusted(path, err, sizeof(err))) == -1) {
			perr_line(p, line, "%s file %s", what, err);
			return -1;
		}
	} else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) ==
	    -1) {
		perr_line(p, line, "%s file %s: %s", what, path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		perr_line(p, line, "%s file %s: %s", what, path,
		    strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		perr_line(p, line, "%s file %s is not a regular file", what,
		    path);
		goto fail;
	}
	if (iskey && st.st_uid != 0 && st.st_uid != geteuid()) {
		perr_line(p, line, "%s file %s is owned by uid %lu, must be "
		    "owned by root", what, path, (unsigned long)st.st_uid);
		goto fail;
	}
	if (iskey && (st.st_mode & 022)) {
		perr_line(p, line, "%s file %s is writable by group or "
		    "others (chmod 600)", what, path);
		goto fail;
	}
	if (iskey && (st.st_mode & 007)) {
		perr_line(p, line, "key file %s is readable by others "
		    "(chmod 600)", path);
		goto fail;
	}
	if (st.st_size <= 0 || st.st_size > PKI_FILE_MAX) {
		perr_line(p, line, "%s file %s is %s", what, path,
		    st.st_size <= 0 ? "empty" : "too large (over 1M)");
		goto fail;
	}
	size = (size_t)st.st_size;
	if ((buf = malloc(size + 1)) == NULL)
		fatal("malloc");
	while (len < size) {
		if ((n = read(fd, buf + len, size - len)) == -1) {
			if (errno == EINTR)
				continue;
			perr_line(p, line, "%s file %s: %s", what, path,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == 0) {
		perr_line(p, line, "%s file %s is empty", what, path);
		goto fail;
	}
	buf[len] = '\0';
	close(fd);
	*bufp = buf;
	*lenp = len;
	return 0;
 fail:
	if (buf != NULL) {
		explicit_bzero(buf, size + 1);
		free(buf);
	}
	close(fd);
	return -1;
}

static void
parser_free(struct parser *p)
{
	struct macro	*m;
	struct pkiline	*pl;

	while ((m = TAILQ_FIRST(&p->macros)) != NULL) {
		TAILQ_REMOVE(&p->macros, m, entry);
		free(m->value);
		free(m);
	}
	while ((pl = TAILQ_FIRST(&p->pkilines)) != NULL) {
		TAILQ_REMOVE(&p->pkilines, pl, entry);
		free(pl);
	}
	/* The line buffers may have held secrets from the file. */
	explicit_bzero(p, sizeof(*p));
	free(p);
}

/* -- public interface -- */

struct maild_conf *
config_parse_buf(const char *name, const char *buf, size_t len, int flags)
{
	struct parser		*p;
	struct maild_conf	*c;
	size_t			 off = 0;
	int			 lineno = 1, r;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (c = calloc(1, sizeof(*c))) == NULL)
		fatal("calloc");
	TAILQ_INIT(&p->macros);
	TAILQ_INIT(&p->pkilines);
	TAILQ_INIT(&c->pkis);
	TAILQ_INIT(&c->dkims);
	TAILQ_INIT(&c->dkim_local);
	TAILQ_INIT(&c->tables);
	TAILQ_INIT(&c->listeners);
	TAILQ_INIT(&c->actions);
	TAILQ_INIT(&c->rules);
	p->name = name;
	p->flags = flags;
	p->conf = c;
	(void)strlcpy(c->spool, MAILD_SPOOL, sizeof(c->spool));
	(void)strlcpy(c->socket, MAILD_SOCKET, sizeof(c->socket));
	(void)strlcpy(c->user, MAILD_USER, sizeof(c->user));
	(void)strlcpy(c->vmail_user, MAILD_VMAIL_USER, sizeof(c->vmail_user));
	c->max_msg_size = DEFAULT_MAX_MSG_SIZE;
	c->max_rcpt = DEFAULT_MAX_RCPT;
	c->max_line = DEFAULT_MAX_LINE;
	c->max_per_ip = DEFAULT_MAX_PER_IP;
	c->imap_max_per_ip = DEFAULT_IMAP_PER_IP;
	c->imap_max_per_user = DEFAULT_IMAP_PER_USER;
	c->smtp_timeout = DEFAULT_SMTP_TIMEOUT;
	c->queue_ttl = DEFAULT_QUEUE_TTL;
	c->retry_local = DEFAULT_RETRY_LOCAL;
	c->retry_max = DEFAULT_RETRY_MAX;
	c->retry_remote = DEFAULT_RETRY_REMOTE;
	c->relay_port = DEFAULT_RELAY_PORT;

	if (strlcpy(c->path, name, sizeof(c->path)) >= sizeof(c->path)) {
		log_warnx("%.64s...: file name too long", name);
		goto fail;
	}
	if (len > CONF_FILE_MAX) {
		log_warnx("%s: file too large (more than %d bytes)", name,
		    CONF_FILE_MAX);
		goto fail;
	}
	while ((r = next_line(p, buf, len, &off, &lineno)) != 0) {
		if (r == 1 && tokenize(p) == 0 && p->ntok > 0)
			statement(p);
		if (p->errors >= CONF_ERRORS_MAX)
			break;
	}
	if (p->errors >= CONF_ERRORS_MAX) {
		log_warnx("%s: too many errors, giving up", name);
		goto fail;
	}
	finish(p);
	if (p->errors > 0)
		goto fail;
	parser_free(p);
	return c;
 fail:
	parser_free(p);
	config_free(c);
	return NULL;
}

struct maild_conf *
config_parse_file(const char *path, int flags, char **bufp, size_t *lenp)
{
	struct maild_conf	*c = NULL;
	struct stat		 st;
	char			*buf = NULL;
	size_t			 len = 0, size;
	ssize_t			 n;
	int			 fd;

	if (bufp != NULL)
		*bufp = NULL;
	if (lenp != NULL)
		*lenp = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		log_warn("%s", path);
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s", path);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file", path);
		goto done;
	}
	/* Whoever can write it can relay mail and read everyone's. */
	if (st.st_mode & S_IWOTH) {
		log_warnx("%s: writable by others (chmod o-w)", path);
		goto done;
	}
	if (st.st_size > CONF_FILE_MAX) {
		log_warnx("%s: file too large (more than %d bytes)", path,
		    CONF_FILE_MAX);
		goto done;
	}
	size = (size_t)st.st_size;
	if ((buf = malloc(size + 1)) == NULL)
		fatal("malloc");
	while (len < size) {
		if ((n = read(fd, buf + len, size - len)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("%s", path);
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if ((c = config_parse_buf(path, buf, len, flags)) != NULL &&
	    bufp != NULL) {
		*bufp = buf;
		buf = NULL;
		if (lenp != NULL)
			*lenp = len;
	}
 done:
	free(buf);
	close(fd);
	return c;
}

/* Listener fds are the caller's: they are not closed here. */
void
config_free(struct maild_conf *c)
{
	struct dkimlocal *dl;
	struct dkimconf	*d;
	struct pki	*pki;
	struct table	*t;
	struct listener	*l;
	struct action	*a;
	struct rule	*r;

	if (c == NULL)
		return;
	config_purge_keys(c);
	free(c->ca);
	while ((pki = TAILQ_FIRST(&c->pkis)) != NULL) {
		TAILQ_REMOVE(&c->pkis, pki, entry);
		free(pki->cert);
		free(pki);
	}
	while ((dl = TAILQ_FIRST(&c->dkim_local)) != NULL) {
		TAILQ_REMOVE(&c->dkim_local, dl, entry);
		free(dl);
	}
	while ((d = TAILQ_FIRST(&c->dkims)) != NULL) {
		TAILQ_REMOVE(&c->dkims, d, entry);
		free(d);
	}
	while ((t = TAILQ_FIRST(&c->tables)) != NULL) {
		TAILQ_REMOVE(&c->tables, t, entry);
		table_clear(t);
		free(t);
	}
	while ((l = TAILQ_FIRST(&c->listeners)) != NULL) {
		TAILQ_REMOVE(&c->listeners, l, entry);
		free(l);
	}
	while ((a = TAILQ_FIRST(&c->actions)) != NULL) {
		TAILQ_REMOVE(&c->actions, a, entry);
		free(a);
	}
	while ((r = TAILQ_FIRST(&c->rules)) != NULL) {
		TAILQ_REMOVE(&c->rules, r, entry);
		free(r);
	}
	free(c);
}

struct table *
config_table(const struct maild_conf *c, const char *name)
{
	struct table	*t;

	TAILQ_FOREACH(t, &c->tables, entry)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

struct pki *
config_pki(const struct maild_conf *c, const char *name)
{
	struct pki	*pki;

	TAILQ_FOREACH(pki, &c->pkis, entry)
		if (strcmp(pki->name, name) == 0)
			return pki;
	return NULL;
}

void
config_purge_keys(struct maild_conf *c)
{
	struct dkimconf	*d;
	struct pki	*pki;

	TAILQ_FOREACH(pki, &c->pkis, entry) {
		if (pki->key == NULL)
			continue;
		explicit_bzero(pki->key, pki->key_len);
		free(pki->key);
		pki->key = NULL;
		pki->key_len = 0;
	}
	TAILQ_FOREACH(d, &c->dkims, entry) {
		if (d->key == NULL)
			continue;
		explicit_bzero(d->key, d->key_len);
		free(d->key);
		d->key = NULL;
		d->key_len = 0;
	}
}

/*
 * libtls's "secure" and "default" are OpenSSL's DEFAULT under libretls
 * (static RSA and CBC included): here they mean maild's default, as on
 * LibreSSL, where they name the same kind of set.
 */
const char *
config_ciphers(const char *s)
{
	if (*s == '\0' || strcasecmp(s, "secure") == 0 ||
	    strcasecmp(s, "default") == 0)
		return MAILD_CIPHERS_DEFAULT;
	return s;
}

static void
dump_str(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

static void
dump_relay(FILE *fp, const struct action *a)
{
	char	 url[DOMAIN_MAX + LOCALPART_MAX + 32];
	int	 v6 = strchr(a->relay_host, ':') != NULL;

	fprintf(fp, " relay");
	if (a->relay_flags & AR_TLS_VERIFY)
		fprintf(fp, " tls verify");
	else if (a->relay_flags & AR_TLS_REQUIRE)
		fprintf(fp, " tls require");
	if (a->relay_host[0] != '\0') {
		(void)snprintf(url, sizeof(url), "%s://%s%s%s%s%s:%d",
		    (a->relay_flags & AR_SMTPS) ? "smtps" :
		    (a->relay_flags & AR_STARTTLS) ? "smtp+tls" : "smtp",
		    a->relay_label, a->relay_label[0] != '\0' ? "@" : "",
		    v6 ? "[" : "", a->relay_host, v6 ? "]" : "",
		    a->relay_port);
		fprintf(fp, " host ");
		dump_str(fp, url);
	}
	if (a->relay_auth != NULL)
		fprintf(fp, " auth <%s>", a->relay_auth->name);
	if (a->relay_ciphers[0] != '\0') {
		fprintf(fp, " ciphers ");
		dump_str(fp, a->relay_ciphers);
	}
	fprintf(fp, "\n");
}

/*
 * The canonical form, stable for golden tests, and itself a valid
 * configuration that parses back to the same dump.  One statement per
 * line, in this order:
 *
 *	hostname "H"
 *	spool "DIR"
 *	socket "PATH"
 *	user "U"
 *	vmail user "U"
 *	# vmail root "DIR"			(derived, hence a comment)
 *	smtp max-message-size BYTES
 *	smtp limit max-rcpt N
 *	smtp limit max-per-ip N
 *	imap limit max-per-ip N max-per-user N
 *	smtp timeout SECONDS
 *	queue ttl SECONDS
 *	queue retry SECONDS
 *	queue retry-remote SECONDS
 *	queue retry-max SECONDS
 *
 * every setting printed, defaults included; then, each in file order:
 *
 *	pki "NAME" cert "FILE" key "FILE"	(never the key itself)
 *	table "NAME" "FILE"[	# secret]	(secret: used by auth)
 *	listen on ADDR port N [smtps|imaps|imap] [tls|tls-require]
 *	    [pki "NAME"] hostname "H" [auth <T>] [mask-src]
 *	    [check rdns|check fcrdns|check { rdns, fcrdns }]
 *	action "NAME" relay [tls verify|tls require]
 *	    [host "SCHEME://[LABEL@]HOST:PORT" [auth <T>]]
 *	action "NAME" maildir "PATTERN" [virtual <T>] [alias <T>]
 *	    [userbase <T>]
 *	match [auth ]from any|local for any|local|domain "D"|domain <T>
 *	    action "NAME"
 *
 * A listener is printed once per address, numerically (IPv4 first for
 * "*", "localhost" and interfaces), each on one line.
 */
void
config_dump(const struct maild_conf *c, FILE *fp)
{
	struct dkimlocal *dl;
	struct dkimconf	*d;
	struct pki	*pki;
	struct table	*t;
	struct listener	*l;
	struct action	*a;
	struct rule	*r;
	char		 host[NI_MAXHOST];

	fprintf(fp, "hostname ");
	dump_str(fp, c->hostname);
	fprintf(fp, "\nspool ");
	dump_str(fp, c->spool);
	fprintf(fp, "\nsocket ");
	dump_str(fp, c->socket);
	fprintf(fp, "\nuser ");
	dump_str(fp, c->user);
	fprintf(fp, "\nvmail user ");
	dump_str(fp, c->vmail_user);
	fprintf(fp, "\n# vmail root ");
	dump_str(fp, c->vmail_root);
	fprintf(fp, "\nsmtp max-message-size %zu\n", c->max_msg_size);
	fprintf(fp, "smtp limit max-rcpt %d\n", c->max_rcpt);
	fprintf(fp, "smtp limit max-line-length %d\n", c->max_line);
	fprintf(fp, "smtp limit max-per-ip %d\n", c->max_per_ip);
	fprintf(fp, "imap limit max-per-ip %d max-per-user %d\n",
	    c->imap_max_per_ip, c->imap_max_per_user);
	fprintf(fp, "smtp timeout %d\n", c->smtp_timeout);
	fprintf(fp, "queue ttl %lld\n", (long long)c->queue_ttl);
	fprintf(fp, "queue retry %lld\n", (long long)c->retry_local);
	fprintf(fp, "queue retry-remote %lld\n", (long long)c->retry_remote);
	fprintf(fp, "queue retry-max %lld\n", (long long)c->retry_max);

	if (c->resolver[0] != '\0')
		fprintf(fp, "resolver %s port %d\n", c->resolver,
		    c->resolver_port);
	if (c->ca_file[0] != '\0') {
		fprintf(fp, "ca ");
		dump_str(fp, c->ca_file);
		fprintf(fp, "\n");
	}
	if (c->rdns_msg[0] != '\0') {
		fprintf(fp, "smtp rdns-message ");
		dump_str(fp, c->rdns_msg);
		fprintf(fp, "\n");
	}
	if (c->fcrdns_msg[0] != '\0') {
		fprintf(fp, "smtp fcrdns-message ");
		dump_str(fp, c->fcrdns_msg);
		fprintf(fp, "\n");
	}

	TAILQ_FOREACH(pki, &c->pkis, entry) {
		fprintf(fp, "pki ");
		dump_str(fp, pki->name);
		fprintf(fp, " cert ");
		dump_str(fp, pki->cert_file);
		fprintf(fp, " key ");
		dump_str(fp, pki->key_file);
		fprintf(fp, "\n");
	}
	TAILQ_FOREACH(d, &c->dkims, entry) {
		fprintf(fp, "dkim ");
		dump_str(fp, d->domain);
		fprintf(fp, " selector ");
		dump_str(fp, d->selector);
		fprintf(fp, " key ");
		dump_str(fp, d->key_file);
		fprintf(fp, "\n");
	}
	TAILQ_FOREACH(dl, &c->dkim_local, entry) {
		fprintf(fp, "dkim local domain ");
		dump_str(fp, dl->domain);
		fprintf(fp, "\n");
	}
	TAILQ_FOREACH(t, &c->tables, entry) {
		fprintf(fp, "table ");
		dump_str(fp, t->name);
		fprintf(fp, " ");
		dump_str(fp, t->path);
		fprintf(fp, "%s\n", (t->flags & T_SECRET) ? "\t# secret" : "");
	}
	TAILQ_FOREACH(l, &c->listeners, entry) {
		addr_text(&l->ss, l->sslen, host, sizeof(host));
		fprintf(fp, "listen on %s port %d", host, l->port);
		if (l->flags & L_SMTPS)
			fprintf(fp, " smtps");
		if (l->flags & L_IMAPS)
			fprintf(fp, " imaps");
		else if (l->proto == PROTO_IMAP)
			fprintf(fp, " imap");
		if (l->flags & L_TLS_REQUIRE)
			fprintf(fp, " tls-require");
		else if (l->flags & L_TLS)
			fprintf(fp, " tls");
		if (l->pki[0] != '\0') {
			fprintf(fp, " pki ");
			dump_str(fp, l->pki);
		}
		if (l->ciphers[0] != '\0') {
			fprintf(fp, " ciphers ");
			dump_str(fp, l->ciphers);
		}
		fprintf(fp, " hostname ");
		dump_str(fp, l->hostname);
		if (l->flags & L_AUTH)
			fprintf(fp, " auth <%s>", l->authtable);
		if (l->flags & L_MASKSRC)
			fprintf(fp, " mask-src");
		if (l->flags & L_ANYSENDER)
			fprintf(fp, " any-sender");
		if (l->flags & L_FROM_UNSIGNED)
			fprintf(fp, " from-mismatch unsigned");
		if ((l->flags & L_CHECK_RDNS) && (l->flags & L_CHECK_FCRDNS))
			fprintf(fp, " check { rdns, fcrdns }");
		else if (l->flags & L_CHECK_RDNS)
			fprintf(fp, " check rdns");
		else if (l->flags & L_CHECK_FCRDNS)
			fprintf(fp, " check fcrdns");
		fprintf(fp, "\n");
	}
	TAILQ_FOREACH(a, &c->actions, entry) {
		fprintf(fp, "action ");
		dump_str(fp, a->name);
		if (a->type == A_RELAY) {
			dump_relay(fp, a);
			continue;
		}
		fprintf(fp, " maildir ");
		dump_str(fp, a->pattern);
		if (a->virtual != NULL)
			fprintf(fp, " virtual <%s>", a->virtual->name);
		if (a->alias != NULL)
			fprintf(fp, " alias <%s>", a->alias->name);
		if (a->userbase != NULL)
			fprintf(fp, " userbase <%s>", a->userbase->name);
		fprintf(fp, "\n");
	}
	TAILQ_FOREACH(r, &c->rules, entry) {
		fprintf(fp, "match %sfrom %s for ", r->auth ? "auth " : "",
		    r->from == FROM_ANY ? "any" : "local");
		switch (r->for_) {
		case FOR_ANY:
			fprintf(fp, "any");
			break;
		case FOR_LOCAL:
			fprintf(fp, "local");
			break;
		case FOR_DOMAIN:
			fprintf(fp, "domain ");
			dump_str(fp, r->domain);
			break;
		case FOR_DOMAIN_TABLE:
			fprintf(fp, "domain <%s>", r->domains->name);
			break;
		}
		fprintf(fp, " action ");
		dump_str(fp, r->action->name);
		fprintf(fp, "\n");
	}
}
