/*
 * SMTP command line parsing: the verb table, MAIL FROM and RCPT TO
 * with their ESMTP parameters (RFC 5321, 1870, 6152, 6531, 4954), and
 * the HELO/EHLO argument.  No state: the session decides what a verb
 * may do when; this file only says what the client sent, or writes the
 * complete reply to send back when the line is bad.
 */
#include <sys/types.h>

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "maild.h"
#include "smtp_parse.h"

#define PARAM_NAME_MAX	32	/* longest keyword echoed in a reply */

static const struct {
	const char	*name;
	enum smtp_verb	 verb;
} verbs[] = {
	{ "HELO",	CMD_HELO },
	{ "EHLO",	CMD_EHLO },
	{ "STARTTLS",	CMD_STARTTLS },
	{ "AUTH",	CMD_AUTH },
	{ "MAIL",	CMD_MAIL },
	{ "RCPT",	CMD_RCPT },
	{ "DATA",	CMD_DATA },
	{ "RSET",	CMD_RSET },
	{ "NOOP",	CMD_NOOP },
	{ "QUIT",	CMD_QUIT },
	{ "HELP",	CMD_HELP },
	{ "VRFY",	CMD_VRFY },
	{ "EXPN",	CMD_EXPN },
	{ "BDAT",	CMD_BDAT },
};

/* What a parameter handler gets: its value (NULL if none) and reply. */
struct param_ctx {
	struct mail_params	*mp;
	char			*err;
	size_t			 errlen;
};

static int	param_size(struct param_ctx *, const char *, size_t);
static int	param_body(struct param_ctx *, const char *, size_t);
static int	param_smtputf8(struct param_ctx *, const char *, size_t);
static int	param_auth(struct param_ctx *, const char *, size_t);

static const struct {
	const char	*name;
	int		(*handler)(struct param_ctx *, const char *, size_t);
} mail_params[] = {
	{ "SIZE",	param_size },
	{ "BODY",	param_body },
	{ "SMTPUTF8",	param_smtputf8 },
	{ "AUTH",	param_auth },
};

static const char	*path_end(const char *);
static int		 has_8bit(const char *, const char *);
static int		 parse_params(const char *, struct mail_params *,
			    int, char *, size_t);
static int		 reply(char *, size_t, const char *);
static int		 is_keyword(const char *, size_t);
static int		 is_xdigit(char);

enum smtp_verb
smtp_parse_verb(const char *line, const char **argp)
{
	size_t	 len, i;

	len = strcspn(line, " ");
	for (i = 0; i < nitems(verbs); i++)
		if (strlen(verbs[i].name) == len &&
		    strncasecmp(verbs[i].name, line, len) == 0)
			break;
	line += len;
	while (*line == ' ')
		line++;
	if (argp != NULL)
		*argp = line;
	return i < nitems(verbs) ? verbs[i].verb : CMD_UNKNOWN;
}

/* Write a fixed reply into err and fail, so callers can "return reply()". */
static int
reply(char *err, size_t errlen, const char *text)
{
	if (errlen > 0)
		strlcpy(err, text, errlen);
	return -1;
}

/*
 * The '>' closing the path that starts at p ('<'), skipping quoted
 * strings (a quoted local part may hold '>'), or NULL.
 */
static const char *
path_end(const char *p)
{
	int	 quoted = 0;

	for (p++; *p != '\0'; p++) {
		if (quoted && *p == '\\') {
			if (*++p == '\0')
				return NULL;
		} else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '>')
			return p;
	}
	return NULL;
}

static int
has_8bit(const char *p, const char *end)
{
	for (; p < end; p++)
		if ((unsigned char)*p >= 0x80)
			return 1;
	return 0;
}

/* esmtp-keyword: (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"). */
static int
is_keyword(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > PARAM_NAME_MAX || s[0] == '-')
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

static int
is_xdigit(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'F');
}

static int
param_size(struct param_ctx *c, const char *v, size_t len)
{
	size_t	 size = 0, i;

	if (v == NULL || len == 0 || len > 20)
		goto bad;
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			goto bad;
		if (size > (SIZE_MAX - (v[i] - '0')) / 10)
			goto bad;
		size = size * 10 + (v[i] - '0');
	}
	c->mp->size = size;
	return 0;
 bad:
	return reply(c->err, c->errlen, "501 5.5.4 Invalid SIZE parameter");
}

static int
param_body(struct param_ctx *c, const char *v, size_t len)
{
	if (v != NULL && len == 4 && strncasecmp(v, "7BIT", 4) == 0)
		c->mp->body = BODY_7BIT;
	else if (v != NULL && len == 8 && strncasecmp(v, "8BITMIME", 8) == 0)
		c->mp->body = BODY_8BITMIME;
	else
		return reply(c->err, c->errlen,
		    "501 5.5.4 Invalid BODY parameter");
	return 0;
}

static int
param_smtputf8(struct param_ctx *c, const char *v, size_t len)
{
	(void)len;
	if (v != NULL)
		return reply(c->err, c->errlen,
		    "501 5.5.4 SMTPUTF8 takes no value");
	c->mp->smtputf8 = 1;
	return 0;
}

/* RFC 4954 AUTH=: xtext or "<>"; accepted and ignored. */
static int
param_auth(struct param_ctx *c, const char *v, size_t len)
{
	size_t	 i;

	if (v == NULL || len == 0)
		goto bad;
	if (len == 2 && v[0] == '<' && v[1] == '>')
		return 0;
	for (i = 0; i < len; i++) {
		if (v[i] == '+') {
			/* "+" and two upper-case hex digits. */
			if (len - i < 3 || !is_xdigit(v[i + 1]) ||
			    !is_xdigit(v[i + 2]))
				goto bad;
			i += 2;
		} else if (v[i] < 33 || v[i] > 126 || v[i] == '=')
			goto bad;
	}
	return 0;
 bad:
	return reply(c->err, c->errlen, "501 5.5.4 Invalid AUTH parameter");
}

/*
 * Parameters after a path: "KEY[=VALUE]" separated by spaces.  With
 * is_mail false (RCPT) none is supported.  0 or -1 with a reply.
 */
static int
parse_params(const char *p, struct mail_params *mp, int is_mail, char *err,
    size_t errlen)
{
	struct param_ctx	 c;
	const char		*v;
	size_t			 len, klen, vlen, i;
	unsigned int		 seen = 0;

	c.mp = mp;
	c.err = err;
	c.errlen = errlen;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return 0;
		len = strcspn(p, " ");
		v = memchr(p, '=', len);
		klen = v != NULL ? (size_t)(v - p) : len;
		if (v != NULL) {
			v++;
			vlen = len - klen - 1;
		} else
			vlen = 0;
		if (!is_keyword(p, klen))
			return reply(err, errlen,
			    "501 5.5.4 Syntax error in parameters");
		for (i = 0; is_mail && i < nitems(mail_params); i++)
			if (strlen(mail_params[i].name) == klen &&
			    strncasecmp(mail_params[i].name, p, klen) == 0)
				break;
		if (!is_mail || i == nitems(mail_params)) {
			/* A truncated reply is still a reply. */
			(void)snprintf(err, errlen,
			    "555 5.5.4 Unsupported option: %.*s",
			    (int)klen, p);
			return -1;
		}
		if (seen & (1U << i)) {
			(void)snprintf(err, errlen,
			    "501 5.5.4 Duplicate parameter: %s",
			    mail_params[i].name);
			return -1;
		}
		seen |= 1U << i;
		if (mail_params[i].handler(&c, v, vlen) == -1)
			return -1;
		p += len;
	}
}

int
smtp_parse_mail(const char *arg, struct mailaddr *a, struct mail_params *mp,
    int flags, char *err, size_t errlen)
{
	const char	*p, *end;

	memset(mp, 0, sizeof(*mp));
	mp->body = BODY_7BIT;
	if (strncasecmp(arg, "FROM:", 5) != 0)
		return reply(err, errlen,
		    "501 5.5.4 Syntax: MAIL FROM:<address>");
	p = arg + 5;
	while (*p == ' ')	/* "MAIL FROM: <a@b>", a common client bug */
		p++;
	if (*p != '<' || (end = path_end(p)) == NULL ||
	    (end[1] != ' ' && end[1] != '\0'))
		return reply(err, errlen,
		    "501 5.5.4 Syntax: MAIL FROM:<address>");
	/* Parameters first: SMTPUTF8 decides what the address may hold. */
	if (parse_params(end + 1, mp, 1, err, errlen) == -1)
		return -1;
	flags |= ADDR_ALLOW_NULL;
	if (mp->smtputf8)
		flags |= ADDR_ALLOW_UTF8;
	if (!(flags & ADDR_ALLOW_UTF8) && has_8bit(p, end))
		return reply(err, errlen,
		    "553 5.6.7 Non-ASCII address requires SMTPUTF8");
	if (addr_parse_path(&p, a, flags) == -1 || p != end + 1)
		return reply(err, errlen,
		    "553 5.1.7 Invalid sender address");
	return 0;
}

int
smtp_parse_rcpt(const char *arg, struct mailaddr *a, int flags, char *err,
    size_t errlen)
{
	struct mail_params	 mp;
	const char		*p, *end;

	if (strncasecmp(arg, "TO:", 3) != 0)
		return reply(err, errlen,
		    "501 5.5.4 Syntax: RCPT TO:<address>");
	p = arg + 3;
	while (*p == ' ')
		p++;
	if (*p != '<' || (end = path_end(p)) == NULL ||
	    (end[1] != ' ' && end[1] != '\0'))
		return reply(err, errlen,
		    "501 5.5.4 Syntax: RCPT TO:<address>");
	memset(&mp, 0, sizeof(mp));
	if (parse_params(end + 1, &mp, 0, err, errlen) == -1)
		return -1;
	/* RFC 5321 4.5.1: "<Postmaster>" without a domain must work. */
	if (end - p == 11 && strncasecmp(p, "<postmaster>", 12) == 0) {
		memset(a, 0, sizeof(*a));
		strlcpy(a->user, "postmaster", sizeof(a->user));
		return 0;
	}
	flags &= ~ADDR_ALLOW_NULL;
	if (!(flags & ADDR_ALLOW_UTF8) && has_8bit(p, end))
		return reply(err, errlen,
		    "553 5.6.7 Non-ASCII address requires SMTPUTF8");
	if (addr_parse_path(&p, a, flags) == -1 || p != end + 1)
		return reply(err, errlen,
		    "553 5.1.3 Invalid recipient address");
	return 0;
}

int
smtp_parse_helo(const char *arg, char *buf, size_t len)
{
	size_t	 n;

	/* Tolerate trailing spaces; anything else after the name is bad. */
	if ((n = strnlen(arg, SMTP_LINE_MAX + 1)) > SMTP_LINE_MAX)
		return -1;
	while (n > 0 && arg[n - 1] == ' ')
		n--;
	if (n == 0 || n > DOMAIN_MAX || n >= len)
		return -1;
	memcpy(buf, arg, n);
	buf[n] = '\0';
	if (!addr_valid_domain(buf, ADDR_ALLOW_UTF8)) {
		buf[0] = '\0';
		return -1;
	}
	return 0;
}
