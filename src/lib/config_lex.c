/*
 * mail.conf, the lexer: the input as logical lines (backslash-newline
 * joins physical lines), each split into tokens with macros expanded;
 * the error messages "file:line: message"; and the helpers the grammar
 * reads a statement's words and values with.
 */
#include <sys/types.h>

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_priv.h"
#include "log.h"
#include "util.h"

static void	 vperr(struct parser *, int, const char *, va_list);
static int	 word_char(unsigned char);
static int	 expand_macro(struct parser *, struct token *, const char *);
static struct macro *macro_find(struct parser *, const char *);
static int	 valid_macro_name(const char *);

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

void
cf_perr(struct parser *p, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vperr(p, p->line, fmt, ap);
	va_end(ap);
}

void
cf_perr_line(struct parser *p, int line, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vperr(p, line, fmt, ap);
	va_end(ap);
}

/* "expected X, got "Y"" naming what was found, or the end of the line. */
void
cf_expected(struct parser *p, const struct token *tok, const char *what)
{
	if (tok == NULL)
		cf_perr(p, "expected %s at end of line", what);
	else if (tok->type == TK_TABLE)
		cf_perr(p, "expected %s, got <%.64s>", what, tok->text);
	else
		cf_perr(p, "expected %s, got \"%.64s\"", what, tok->text);
}

/* -- lines, tokens, macros -- */

/*
 * Copy the next logical line of buf into p->text: physical lines joined
 * at backslash-newline (in comments too, as in the OpenBSD parsers), a
 * CR before LF dropped.  Returns 0 at the end of the input, 1 with a
 * line, -1 for a line that is too long or holds a control character
 * (reported; the caller skips it).
 */
int
cf_next_line(struct parser *p, const char *buf, size_t len, size_t *off,
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
		cf_perr(p, "line too long (more than %d bytes)", CONF_LINE_MAX);
		return -1;
	}
	if (bad != -1) {
		cf_perr(p, "invalid control character 0x%02x", bad);
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
int
cf_tokenize(struct parser *p)
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
			cf_perr(p, "statement too long (more than %d words)",
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
			cf_perr(p, "unexpected \">\"");
			return -1;
		case '"':
			tok->type = TK_STRING;
			tok->text = start = d;
			for (s++; *s != '"'; s++) {
				if (*s == '\0') {
					cf_perr(p, "unterminated quoted "
					    "string");
					return -1;
				}
				if (*s == '\\') {
					if (s[1] != '"' && s[1] != '\\') {
						cf_perr(p, "invalid escape in "
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
					cf_perr(p, "unterminated table "
					    "reference, expected <name>");
					return -1;
				}
				*d++ = *s;
			}
			s++;
			*d++ = '\0';
			if (*start == '\0') {
				cf_perr(p, "empty table reference <>");
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
		cf_perr(p, "invalid macro name \"%.64s\"", word + 1);
		return -1;
	}
	if ((m = macro_find(p, word + 1)) == NULL) {
		cf_perr(p, "undefined macro \"%.64s\"", word + 1);
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
int
cf_macro_define(struct parser *p)
{
	struct macro	*m;
	struct token	*name = &p->toks[0], *val;
	char		*copy;

	if (name->type != TK_WORD || name->macro ||
	    !valid_macro_name(name->text)) {
		cf_perr(p, "invalid macro name \"%.64s\"", name->text);
		return -1;
	}
	if (p->ntok < 3) {
		cf_perr(p, "expected a value after \"%s =\"", name->text);
		return -1;
	}
	val = &p->toks[2];
	if (val->type != TK_WORD && val->type != TK_STRING) {
		cf_expected(p, val, "a word or a quoted string");
		return -1;
	}
	if (p->ntok > 3) {
		cf_expected(p, &p->toks[3],
		    "end of line after the macro value");
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
		cf_perr(p, "too many macros (at most %d)", CONF_MACROS_MAX);
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

void
cf_macros_free(struct parser *p)
{
	struct macro	*m;

	while ((m = TAILQ_FIRST(&p->macros)) != NULL) {
		TAILQ_REMOVE(&p->macros, m, entry);
		free(m->value);
		free(m);
	}
}

/* -- the words of a statement -- */

struct token *
cf_peek(struct parser *p)
{
	return p->pos < p->ntok ? &p->toks[p->pos] : NULL;
}

struct token *
cf_next(struct parser *p)
{
	return p->pos < p->ntok ? &p->toks[p->pos++] : NULL;
}

int
cf_is_word(const struct token *tok, const char *kw)
{
	return tok != NULL && tok->type == TK_WORD &&
	    strcmp(tok->text, kw) == 0;
}

/* Keywords are unquoted words; consume kw if it comes next. */
int
cf_kw_accept(struct parser *p, const char *kw)
{
	if (!cf_is_word(cf_peek(p), kw))
		return 0;
	p->pos++;
	return 1;
}

/* Words and quoted strings are interchangeable where a string goes. */
int
cf_expect_string(struct parser *p, const char *what, const char **s)
{
	struct token	*tok = cf_next(p);

	if (tok == NULL || (tok->type != TK_WORD && tok->type != TK_STRING)) {
		cf_expected(p, tok, what);
		return -1;
	}
	*s = tok->text;
	return 0;
}

int
cf_expect_name(struct parser *p, const char *what, char *buf, size_t len)
{
	const char	*s;
	char		 desc[64];

	(void)snprintf(desc, sizeof(desc), "%s name", what);
	if (cf_expect_string(p, desc, &s) == -1)
		return -1;
	if (!cf_valid_name(s)) {
		cf_perr(p, "invalid %s name \"%.64s\": use at most %d letters, "
		    "digits, '.', '-' or '_'", what, s, NAME_MAX_CONF - 1);
		return -1;
	}
	(void)strlcpy(buf, s, len);
	return 0;
}

/* <name> of a table defined earlier in the file. */
int
cf_expect_table(struct parser *p, const char *what, struct table **tp)
{
	struct token	*tok = cf_next(p);

	if (tok == NULL || tok->type != TK_TABLE) {
		cf_expected(p, tok, what);
		return -1;
	}
	if ((*tp = config_table(p->conf, tok->text)) == NULL) {
		cf_perr(p, "unknown table <%.64s>", tok->text);
		return -1;
	}
	return 0;
}

/* -- values -- */

int
cf_valid_name(const char *s)
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
int
cf_valid_hostname(const char *s)
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

int
cf_valid_user(const char *s)
{
	return cf_valid_name(s) && *s != '-' && *s != '.';
}

/* An absolute path without ".." components that fits in len. */
int
cf_check_path(struct parser *p, const char *what, const char *s, char *buf,
    size_t len)
{
	const char	*c;

	if (*s != '/') {
		cf_perr(p, "%s \"%.64s\" must be an absolute path", what, s);
		return -1;
	}
	for (c = s; (c = strstr(c, "/..")) != NULL; c += 3)
		if (c[3] == '/' || c[3] == '\0') {
			cf_perr(p, "%s \"%.64s\" must not contain \"..\"", what,
			    s);
			return -1;
		}
	if (strlcpy(buf, s, len) >= len) {
		cf_perr(p, "%s is too long (at most %zu bytes)", what, len - 1);
		return -1;
	}
	return 0;
}

/* Leading decimal digits of s; *end points past them.  0 or -1. */
int
cf_parse_ull(const char *s, unsigned long long *v, const char **end)
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
