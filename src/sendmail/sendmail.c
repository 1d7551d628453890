/*
 * maild-sendmail: the sendmail(8) command line, for the programs that
 * hand mail to /usr/sbin/sendmail (cron, scripts, mail(1)).  It is an
 * ordinary program run by the user who sends: it reads the message,
 * completes it (From, Date, Message-ID; Bcc removed), and submits it
 * over SMTP to the local maild (enqueue.c).  When maild cannot take it
 * now the message goes to the offline directory, as the sending user,
 * and maild submits it later: like sendmail queueing, that is success.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <pwd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "enqueue.h"

#define PROG		"maild-sendmail"
#define FULLNAME_MAX	256		/* -F, bytes kept */
#define INPUT_CHUNK	65536
#define ERR_MAX		16384		/* refusals of every recipient */
#define LINE_MAX_RFC	998		/* RFC 5322 2.1.1, without CRLF */

struct rcptlist {
	char	**v;
	size_t	 n, size;
};

/* One mailbox of an address list being parsed. */
struct mbox {
	char	 cur[2 * ADDR_MAX + 2];	/* outside <>: address or phrase */
	size_t	 curlen;
	char	 angle[2 * ADDR_MAX + 2];	/* inside <> */
	size_t	 anglelen;
	int	 inangle, hadangle, space, phrase, toolong;
};

static void	 usage(void) __attribute__((__noreturn__));
static void	 die(int, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3), __noreturn__));
static int	 flag_opt(int);
static int	 arg_opt(int);
static void	 mode_opt(const char *);
static struct maild_conf *conf_load(const char *, int);
static struct maild_conf *conf_defaults(void);
static void	 login_address(const struct maild_conf *, char *, size_t);
static void	 qualify(const char *, const char *, char *, size_t);
static int	 addr_has_at(const char *);
static void	 set_sender(const struct maild_conf *, const char *, char *,
		    size_t);
static int	 rcpt_add(struct rcptlist *, const char *, const char *,
		    char *, size_t);
static void	 mbox_reset(struct mbox *);
static int	 mbox_put(struct mbox *, char);
static int	 mbox_flush(struct mbox *, struct rcptlist *, const char *,
		    char *, size_t);
static int	 parse_list(const char *, size_t, struct rcptlist *,
		    const char *, char *, size_t);
static char	*read_input(int, size_t, size_t *);
static char	*to_crlf(const char *, size_t, size_t *);
static size_t	 header_name(const char *, size_t);
static int	 name_is(const char *, size_t, const char *);
static char	*build_message(const struct maild_conf *, const char *,
		    size_t, int, const char *, const char *, struct rcptlist *,
		    size_t *);
static void	 buf_add(char **, size_t *, size_t *, const char *, size_t);
static void	 from_header(char *, size_t, const char *, const char *);
static int	 name_is_plain(const char *);

static int	 verbose;

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-iIt] [-B type] [-C config] "
	    "[-F fullname] [-f sender]\n"
	    "\t[-N dsn] [-o option] [-R ret] [-V envid] [-v] "
	    "[--] [recipient ...]\n", PROG);
	exit(EX_USAGE);
}

static void
die(int code, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "%s: ", PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(code);
}

/* Options without a value: 1 if c is one. */
static int
flag_opt(int c)
{
	return c != '\0' && strchr("iItvmnUG", c) != NULL;
}

/* Options with a value, in the same argument or the next one. */
static int
arg_opt(int c)
{
	return c != '\0' && strchr("ABbCdFfhLNOopRrVX", c) != NULL;
}

/* -b mode: only -bm (the default) sends. */
static void
mode_opt(const char *m)
{
	if (strcmp(m, "m") == 0)
		return;
	if (strcmp(m, "p") == 0)
		die(EX_USAGE, "use mailctl show queue");
	if (strcmp(m, "i") == 0) {
		/* newaliases: aliases are tables maild reads itself. */
		fprintf(stderr, "%s: no alias database to build: maild reads "
		    "its alias tables (mailctl reload)\n", PROG);
		exit(EX_OK);
	}
	if (strcmp(m, "s") == 0)
		die(EX_USAGE, "-bs is not supported: speak SMTP to maild");
	die(EX_USAGE, "-b%.16s is not supported", m);
}

/*
 * The configuration, read as the calling user (no table or key file is
 * opened).  Without a readable one, the defaults of a fresh install.
 */
static struct maild_conf *
conf_load(const char *path, int given)
{
	struct maild_conf	*c;

	if (access(path, R_OK) == -1) {
		if (given)
			fprintf(stderr, "%s: %s: %s; using the defaults\n",
			    PROG, path, strerror(errno));
		return conf_defaults();
	}
	if ((c = config_parse_file(path, CONF_NOFILES, NULL, NULL)) == NULL) {
		fprintf(stderr, "%s: %s has errors; using the defaults\n",
		    PROG, path);
		return conf_defaults();
	}
	return c;
}

/* 127.0.0.1 port 25, the system host name, the default spool. */
static struct maild_conf *
conf_defaults(void)
{
	static const char	 text[] = "listen on 127.0.0.1 port 25\n";
	struct maild_conf	*c;

	if ((c = config_parse_buf("the defaults", text, sizeof(text) - 1,
	    CONF_NOFILES)) == NULL)
		fatalx("the default configuration does not parse");
	return c;
}

/* The real user's login name at the host name. */
static void
login_address(const struct maild_conf *conf, char *buf, size_t len)
{
	struct passwd	*pw;
	uid_t		 uid = getuid();
	int		 n;

	if ((pw = getpwuid(uid)) == NULL)
		die(EX_NOUSER, "uid %lu has no user name: give a sender with "
		    "-f", (unsigned long)uid);
	if (!addr_valid_localpart(pw->pw_name, ADDR_ALLOW_UTF8))
		die(EX_NOUSER, "user name \"%.64s\" is no address: give a "
		    "sender with -f", pw->pw_name);
	n = snprintf(buf, len, "%s@%s", pw->pw_name, conf->hostname);
	if (n < 0 || (size_t)n >= len)
		die(EX_NOUSER, "user name too long: give a sender with -f");
}

/* 1 if s has an '@' outside quotes and domain literals. */
static int
addr_has_at(const char *s)
{
	int	 q = 0;

	for (; *s != '\0'; s++) {
		if (q && *s == '\\' && s[1] != '\0')
			s++;
		else if (*s == '"')
			q = !q;
		else if (!q && *s == '@')
			return 1;
	}
	return 0;
}

/* s, with "@host" added when it has no domain; "" if it won't fit. */
static void
qualify(const char *s, const char *host, char *buf, size_t len)
{
	int	 n;

	if (addr_has_at(s))
		n = snprintf(buf, len, "%s", s);
	else
		n = snprintf(buf, len, "%s@%s", s, host);
	if (n < 0 || (size_t)n >= len)
		buf[0] = '\0';
}

/* -f/-r: "<>" or "" is the null sender. */
static void
set_sender(const struct maild_conf *conf, const char *arg, char *buf,
    size_t len)
{
	struct mailaddr	 a;
	char		 tmp[ADDR_MAX + 3];
	size_t		 n = strlen(arg);

	if (n >= 2 && arg[0] == '<' && arg[n - 1] == '>') {
		arg++;
		n -= 2;
	}
	if (n == 0) {
		buf[0] = '\0';
		return;
	}
	if (n > ADDR_MAX)
		die(EX_USAGE, "sender address too long");
	memcpy(tmp, arg, n);
	tmp[n] = '\0';
	qualify(tmp, conf->hostname, buf, len);
	if (buf[0] == '\0' || addr_parse(buf, &a, ADDR_ALLOW_UTF8) == -1 ||
	    addr_to_text(&a, buf, len) == -1)
		die(EX_USAGE, "bad sender address");
}

/* Add one recipient, qualified and checked; 0 or -1 with err. */
static int
rcpt_add(struct rcptlist *rl, const char *s, const char *host, char *err,
    size_t errlen)
{
	struct mailaddr	 a;
	char		 buf[ADDR_MAX + 1];
	size_t		 i;

	qualify(s, host, buf, sizeof(buf));
	if (buf[0] == '\0' || addr_parse(buf, &a, ADDR_ALLOW_UTF8) == -1 ||
	    addr_to_text(&a, buf, sizeof(buf)) == -1) {
		(void)snprintf(err, errlen, "bad address \"%.64s\"", s);
		for (i = 0; err[i] != '\0'; i++)
			if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
				err[i] = '?';
		return -1;
	}
	for (i = 0; i < rl->n; i++)
		if (strcmp(rl->v[i], buf) == 0)
			return 0;
	if (rl->n == ENQ_RCPT_MAX) {
		(void)snprintf(err, errlen, "more than %d recipients",
		    ENQ_RCPT_MAX);
		return -1;
	}
	if (rl->n == rl->size) {
		rl->size = rl->size ? rl->size * 2 : 16;
		if ((rl->v = reallocarray(rl->v, rl->size, sizeof(*rl->v))) ==
		    NULL)
			fatal("reallocarray");
	}
	if ((rl->v[rl->n] = strdup(buf)) == NULL)
		fatal("strdup");
	rl->n++;
	return 0;
}

static void
mbox_reset(struct mbox *m)
{
	memset(m, 0, sizeof(*m));
}

/*
 * One byte of a mailbox.  Outside <> it may be a display name: two
 * words with only white space between them make it a phrase, which
 * is no address unless <> follows.
 */
static int
mbox_put(struct mbox *m, char c)
{
	char	*b = m->inangle ? m->angle : m->cur;
	size_t	*len = m->inangle ? &m->anglelen : &m->curlen;

	if (*len + 2 >= sizeof(m->cur)) {
		m->toolong = 1;
		return -1;
	}
	if (!m->inangle && m->space && *len > 0 && c != '@' && c != '.' &&
	    b[*len - 1] != '@' && b[*len - 1] != '.') {
		m->phrase = 1;
		b[(*len)++] = ' ';	/* for the error message */
	}
	m->space = 0;
	b[(*len)++] = c;
	b[*len] = '\0';
	return 0;
}

/* The mailbox ended (',' ';' or the end): add its address if any. */
static int
mbox_flush(struct mbox *m, struct rcptlist *rl, const char *host,
    char *err, size_t errlen)
{
	const char	*a;
	int		 r = 0;

	if (m->hadangle) {
		a = m->angle;
		/* Obsolete source route "@a,@b:": ignored. */
		if (*a == '@' && strchr(a, ':') != NULL)
			a = strchr(a, ':') + 1;
		if (*a == '\0') {
			(void)snprintf(err, errlen, "empty address <>");
			r = -1;
		} else if (m->anglelen >= ADDR_MAX + 1) {
			(void)snprintf(err, errlen, "address too long");
			r = -1;
		} else
			r = rcpt_add(rl, a, host, err, errlen);
	} else if (m->curlen > 0) {
		if (m->toolong || m->curlen > ADDR_MAX) {
			(void)snprintf(err, errlen, "address too long");
			r = -1;
		} else if (m->phrase) {
			(void)snprintf(err, errlen, "\"%.64s\" is not an "
			    "address", m->cur);
			r = -1;
		} else
			r = rcpt_add(rl, m->cur, host, err, errlen);
	}
	mbox_reset(m);
	return r;
}

/*
 * The addresses of an RFC 5322 address list, forgiving as sendmail is:
 * "Name <a@b>, c@d (comment), group: e@f;", display names and
 * comments dropped, addresses without a domain at host.
 */
static int
parse_list(const char *s, size_t len, struct rcptlist *rl,
    const char *host, char *err, size_t errlen)
{
	struct mbox	 m;
	size_t		 i;
	int		 depth;
	char		 c;

	mbox_reset(&m);
	for (i = 0; i < len; i++) {
		c = s[i];
		if (c == '"') {
			/* Quoted string: kept, quotes and escapes too. */
			(void)mbox_put(&m, c);
			for (i++; i < len && s[i] != '"'; i++) {
				if (s[i] == '\\' && i + 1 < len)
					(void)mbox_put(&m, s[i++]);
				(void)mbox_put(&m, s[i]);
			}
			if (i == len) {
				(void)snprintf(err, errlen, "unterminated "
				    "quoted string");
				return -1;
			}
			(void)mbox_put(&m, '"');
		} else if (c == '(') {
			for (depth = 1, i++; i < len && depth > 0; i++) {
				if (s[i] == '\\')
					i++;
				else if (s[i] == '(')
					depth++;
				else if (s[i] == ')')
					depth--;
			}
			if (depth > 0) {
				(void)snprintf(err, errlen, "unterminated "
				    "comment");
				return -1;
			}
			i--;
			m.space = 1;
		} else if (c == '[') {
			/* Domain literal: its ':' are not a group's. */
			for (; i < len && s[i] != ']'; i++)
				(void)mbox_put(&m, s[i]);
			if (i == len) {
				(void)snprintf(err, errlen, "unterminated "
				    "domain literal");
				return -1;
			}
			(void)mbox_put(&m, ']');
		} else if (m.inangle) {
			if (c == '>')
				m.inangle = 0;
			else if (c != ' ' && c != '\t' && c != '\r' &&
			    c != '\n')
				(void)mbox_put(&m, c);
		} else if (c == '<') {
			if (m.hadangle) {
				(void)snprintf(err, errlen, "two <> in one "
				    "mailbox");
				return -1;
			}
			m.inangle = m.hadangle = 1;
		} else if (c == ':') {
			/* A group's display name: dropped. */
			mbox_reset(&m);
		} else if (c == ',' || c == ';') {
			if (mbox_flush(&m, rl, host, err, errlen) == -1)
				return -1;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			m.space = 1;
		else
			(void)mbox_put(&m, c);
	}
	if (m.inangle) {
		(void)snprintf(err, errlen, "missing '>'");
		return -1;
	}
	return mbox_flush(&m, rl, host, err, errlen);
}

/*
 * Standard input, at most max bytes; without -i a line holding a
 * single dot ends it (and nothing after it is read, as on a terminal).
 */
static char *
read_input(int iflag, size_t max, size_t *lenp)
{
	char	*buf = NULL, *nl;
	size_t	 len = 0, size = 0, line = 0, n;
	ssize_t	 r;

	for (;;) {
		if (len == size) {
			if (size > max)
				die(EX_DATAERR, "message too large (more than "
				    "%zu bytes)", max);
			size = size ? size * 2 : INPUT_CHUNK;
			if (size > max + 1)
				size = max + 1;
			if ((buf = realloc(buf, size + 1)) == NULL)
				fatal("realloc");
		}
		if ((r = read(STDIN_FILENO, buf + len, size - len)) == -1) {
			if (errno == EINTR)
				continue;
			die(EX_IOERR, "standard input: %s", strerror(errno));
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > max)
			die(EX_DATAERR, "message too large (more than %zu "
			    "bytes)", max);
		if (iflag)
			continue;
		while ((nl = memchr(buf + line, '\n', len - line)) != NULL) {
			n = (size_t)(nl - (buf + line));
			if ((n == 1 && buf[line] == '.') ||
			    (n == 2 && buf[line] == '.' &&
			    buf[line + 1] == '\r')) {
				*lenp = line;
				return buf;
			}
			line += n + 1;
		}
	}
	/* A last line "." without its newline ends the message too. */
	if (!iflag && len - line == 1 && buf != NULL && buf[line] == '.')
		len = line;
	if (buf == NULL && (buf = malloc(1)) == NULL)
		fatal("malloc");
	*lenp = len;
	return buf;
}

/*
 * CRLF line ends (LF, CRLF and a lone CR all end a line), and lines of at
 * most 998 characters (RFC 5322 2.1.1, which maild enforces): a longer
 * one, such as a long line of a cron job's output, is broken with CRLF
 * and a space, as Postfix's smtp_line_length_limit does, rather than
 * refused.
 */
static char *
to_crlf(const char *in, size_t len, size_t *lenp)
{
	char	*out;
	size_t	 i, o = 0, col = 0;

	if (len > (SIZE_MAX - 3) / 3)
		die(EX_DATAERR, "message too large");
	/* LF to CRLF doubles at worst; each break adds 3 per 997 */
	if ((out = malloc(2 * len + 3 * (len / (LINE_MAX_RFC - 1) + 1) +
	    3)) == NULL)
		fatal("malloc");
	for (i = 0; i < len; i++) {
		if (in[i] == '\r') {
			if (i + 1 < len && in[i + 1] == '\n')
				i++;
		} else if (in[i] != '\n') {
			if (col == LINE_MAX_RFC) {
				out[o++] = '\r';
				out[o++] = '\n';
				out[o++] = ' ';
				col = 1;
			}
			out[o++] = in[i];
			col++;
			continue;
		}
		out[o++] = '\r';
		out[o++] = '\n';
		col = 0;
	}
	if (o > 0 && out[o - 1] != '\n') {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	out[o] = '\0';
	*lenp = o;
	return out;
}

/*
 * Length of the field name if line (len bytes, no CRLF) starts a
 * header field ("Name:", obsolete "Name :"), else 0.
 */
static size_t
header_name(const char *line, size_t len)
{
	size_t	 i, n;

	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] <= ' ' ||
		    (unsigned char)line[i] >= 0x7f || line[i] == ':')
			break;
	if ((n = i) == 0)
		return 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < len && line[i] == ':' ? n : 0;
}

static int
name_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

static void
buf_add(char **buf, size_t *len, size_t *size, const char *p, size_t n)
{
	char	*nb;

	if (*len + n + 1 > *size) {
		while (*len + n + 1 > *size)
			*size = *size ? *size * 2 : 4096;
		if ((nb = realloc(*buf, *size)) == NULL)
			fatal("realloc");
		*buf = nb;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* 1 if name can go in a From: as it is (atoms and spaces). */
static int
name_is_plain(const char *name)
{
	for (; *name != '\0'; name++)
		if ((unsigned char)*name < 0x20 ||
		    (unsigned char)*name >= 0x7f ||
		    strchr("()<>[]:;@\\,.\"", *name) != NULL)
			return 0;
	return 1;
}

/*
 * "From: " and the header's value: the address, with the full name of
 * -F quoted as RFC 5322 wants, or as RFC 2047 encoded words when it is
 * not ASCII (UTF-8 assumed, words cut between characters).
 */
static void
from_header(char *buf, size_t len, const char *fullname, const char *addr)
{
	char		 name[FULLNAME_MAX + 1], b64[128], ch[2] = "";
	const char	*p;
	size_t		 i, n, o = 0;
	int		 ascii = 1;

	(void)strlcpy(buf, "From: ", len);
	for (p = fullname; p != NULL && *p != '\0' && o < FULLNAME_MAX; p++)
		if ((unsigned char)*p >= 0x20 && *p != 0x7f)
			name[o++] = *p;
	name[o] = '\0';
	if (o == 0) {
		(void)strlcat(buf, addr, len);
		(void)strlcat(buf, "\r\n", len);
		return;
	}
	for (i = 0; i < o; i++)
		if ((unsigned char)name[i] >= 0x80)
			ascii = 0;
	if (ascii && name_is_plain(name))
		(void)strlcat(buf, name, len);
	else if (ascii) {
		(void)strlcat(buf, "\"", len);
		for (i = 0; i < o; i++) {
			if (name[i] == '"' || name[i] == '\\')
				(void)strlcat(buf, "\\", len);
			ch[0] = name[i];
			(void)strlcat(buf, ch, len);
		}
		(void)strlcat(buf, "\"", len);
	} else {
		for (i = 0; i < o; i += n) {
			/* 45 bytes: 60 of base64, a word under 76. */
			n = o - i < 45 ? o - i : 45;
			while (i + n < o && n > 1 &&
			    ((unsigned char)name[i + n] & 0xc0) == 0x80)
				n--;
			(void)sodium_bin2base64(b64, sizeof(b64),
			    (const unsigned char *)name + i, n,
			    sodium_base64_VARIANT_ORIGINAL);
			if (i > 0)
				(void)strlcat(buf, "\r\n ", len);
			(void)strlcat(buf, "=?UTF-8?B?", len);
			(void)strlcat(buf, b64, len);
			(void)strlcat(buf, "?=", len);
		}
	}
	(void)strlcat(buf, " <", len);
	(void)strlcat(buf, addr, len);
	(void)strlcat(buf, ">\r\n", len);
}

/*
 * The message to send from what was read (CRLF): its header fields,
 * without Bcc, then those missing of From, Date and Message-ID, then
 * the body.  With -t, To, Cc and Bcc add recipients.  A first line
 * "From " (an mbox separator) is dropped; text that starts with no
 * header is all body.
 */
static char *
build_message(const struct maild_conf *conf, const char *in, size_t len,
    int tflag, const char *fullname, const char *fromaddr,
    struct rcptlist *rl, size_t *lenp)
{
	char		*out = NULL, line[FULLNAME_MAX * 2 + ADDR_MAX + 128];
	char		 date[64], hex[17], err[256], *val = NULL;
	const char	*p = in, *end = in + len, *eol, *fstart, *fend;
	const char	*colon;
	unsigned char	 rnd[8];
	size_t		 size = 0, olen = 0, n, vlen, vsize = 0, i;
	int		 have_from = 0, have_date = 0, have_msgid = 0, bcc, rc;
	time_t		 now;
	struct tm	 tm;

	if (len >= 5 && strncmp(in, "From ", 5) == 0 &&
	    (eol = memchr(in, '\n', len)) != NULL)
		p = eol + 1;
	/* Header fields, each with its continuation lines. */
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)(eol - p) - 1;	/* CRLF from to_crlf() */
		if (n == 0) {
			p = eol + 1;	/* the blank line: body follows */
			break;
		}
		if ((n = header_name(p, n)) == 0)
			break;		/* no header: it is body */
		fstart = p;
		for (fend = eol + 1; fend < end && (*fend == ' ' ||
		    *fend == '\t'); fend = eol + 1)
			eol = memchr(fend, '\n', (size_t)(end - fend));
		bcc = name_is(fstart, n, "Bcc");
		if (name_is(fstart, n, "From"))
			have_from = 1;
		else if (name_is(fstart, n, "Date"))
			have_date = 1;
		else if (name_is(fstart, n, "Message-ID"))
			have_msgid = 1;
		if (tflag && (bcc || name_is(fstart, n, "To") ||
		    name_is(fstart, n, "Cc"))) {
			/* Unfolded value, CRLF dropped. */
			vlen = 0;
			for (i = n; i < (size_t)(fend - fstart); i++)
				if (fstart[i] != '\r' && fstart[i] != '\n')
					buf_add(&val, &vlen, &vsize,
					    fstart + i, 1);
			if (val != NULL && (colon = memchr(val, ':', vlen)) !=
			    NULL) {
				colon++;
				rc = parse_list(colon, vlen -
				    (size_t)(colon - val), rl, conf->hostname,
				    err, sizeof(err));
				if (rc == -1)
					die(EX_DATAERR, "%.*s: header: %s",
					    (int)n, fstart, err);
			}
		}
		if (!bcc)
			buf_add(&out, &olen, &size, fstart,
			    (size_t)(fend - fstart));
		p = fend;
	}
	free(val);
	if (!have_from) {
		from_header(line, sizeof(line), fullname, fromaddr);
		buf_add(&out, &olen, &size, line, strlen(line));
	}
	if (!have_date) {
		now = time(NULL);
		if (localtime_r(&now, &tm) == NULL ||
		    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z",
		    &tm) == 0)
			die(EX_OSERR, "cannot format the date");
		(void)snprintf(line, sizeof(line), "Date: %s\r\n", date);
		buf_add(&out, &olen, &size, line, strlen(line));
	}
	if (!have_msgid) {
		compat_random(rnd, sizeof(rnd));
		for (i = 0; i < sizeof(rnd); i++)
			(void)snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
		(void)snprintf(line, sizeof(line), "Message-ID: "
		    "<%lld.%ld.%s@%s>\r\n", (long long)time(NULL),
		    (long)getpid(), hex, conf->hostname);
		buf_add(&out, &olen, &size, line, strlen(line));
	}
	buf_add(&out, &olen, &size, "\r\n", 2);
	if (p < end)
		buf_add(&out, &olen, &size, p, (size_t)(end - p));
	*lenp = olen;
	return out;
}

int
main(int argc, char *argv[])
{
	struct maild_conf	*conf;
	struct rcptlist		 rl;
	struct enq_msg		 msg;
	const char		*config = MAILD_CONF, *fullname = NULL;
	const char		*sender = NULL, *prog, *val, *line, *nl;
	char			 fromaddr[ADDR_MAX + 1], err[ERR_MAX];
	char			 werr[ERRMSG_MAX + PATH_MAX], c;
	char			*raw, *crlf, *data;
	size_t			 rawlen, crlflen, len;
	int			 i, j, iflag = 0, tflag = 0, config_given = 0;
	int			 r, whole = 0;

	log_init(1, 0);
	log_procname(PROG);
	/* An ordinary program: set-id would let users act as its owner. */
	if (getuid() != geteuid() || getgid() != getegid())
		die(EX_CONFIG, "must not be set-user-ID or set-group-ID");

	prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	if (strcmp(prog, "mailq") == 0)
		mode_opt("p");
	if (strcmp(prog, "newaliases") == 0)
		mode_opt("i");

	/* sendmail's own option syntax: "-oi", "-f sender", "-fsender". */
	for (i = 1; i < argc; i++) {
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			break;
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		for (j = 1; (c = argv[i][j]) != '\0'; j++) {
			if (flag_opt(c)) {
				if (c == 'i')
					iflag = 1;
				else if (c == 't')
					tflag = 1;
				else if (c == 'v')
					verbose = 1;
				else if (c == 'I')
					mode_opt("i");
				continue;
			}
			if (c == 'q')
				die(EX_USAGE, "use mailctl show queue (and "
				    "mailctl schedule all)");
			if (!arg_opt(c)) {
				fprintf(stderr, "%s: unknown option -%c\n",
				    PROG, (unsigned char)c >= 0x20 &&
				    c != 0x7f ? c : '?');
				usage();
			}
			if (argv[i][j + 1] != '\0')
				val = argv[i] + j + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else {
				fprintf(stderr, "%s: option -%c needs a "
				    "value\n", PROG, c);
				usage();
			}
			switch (c) {
			case 'b':
				mode_opt(val);
				break;
			case 'C':
				config = val;
				config_given = 1;
				break;
			case 'F':
				fullname = val;
				break;
			case 'f':
			case 'r':
				sender = val;
				break;
			case 'o':
				if (strcmp(val, "i") == 0)
					iflag = 1;
				break;
			case 'O':
				if (strncasecmp(val, "IgnoreDots", 10) == 0 &&
				    (val[10] == '\0' ||
				    strcasecmp(val + 10, "=true") == 0))
					iflag = 1;
				break;
			default:
				break;	/* -B -N -R -V and the like */
			}
			break;
		}
	}
	argc -= i;
	argv += i;
	if (argc == 0 && !tflag)
		die(EX_USAGE, "no recipients");

	tzset();
	conf = conf_load(config, config_given);
	memset(&msg, 0, sizeof(msg));
	if (sender != NULL)
		set_sender(conf, sender, msg.sender, sizeof(msg.sender));
	/* From: is the sender's, or the user's for the null sender. */
	if (sender == NULL || msg.sender[0] == '\0')
		login_address(conf, fromaddr, sizeof(fromaddr));
	else
		(void)strlcpy(fromaddr, msg.sender, sizeof(fromaddr));
	if (sender == NULL)
		(void)strlcpy(msg.sender, fromaddr, sizeof(msg.sender));
	if (pledge("stdio rpath wpath cpath inet", NULL) == -1)
		die(EX_OSERR, "pledge: %s", strerror(errno));

	memset(&rl, 0, sizeof(rl));
	for (i = 0; i < argc; i++)
		if (parse_list(argv[i], strlen(argv[i]), &rl, conf->hostname,
		    err, sizeof(err)) == -1)
			die(EX_USAGE, "recipient: %s", err);

	raw = read_input(iflag, conf->max_msg_size, &rawlen);
	crlf = to_crlf(raw, rawlen, &crlflen);
	free(raw);
	data = build_message(conf, crlf, crlflen, tflag, fullname, fromaddr,
	    &rl, &len);
	free(crlf);
	if (len > conf->max_msg_size)
		die(EX_DATAERR, "message too large (more than %zu bytes)",
		    conf->max_msg_size);
	if (rl.n == 0)
		die(EX_USAGE, "no recipients");
	msg.rcpts = rl.v;
	msg.nrcpt = rl.n;
	msg.data = data;
	msg.len = len;

	r = enqueue_smtp(conf, &msg, err, sizeof(err));
	if (r == ENQ_TEMPFAIL) {
		if (enqueue_offline_write(conf, &msg, werr, sizeof(werr)) ==
		    -1)
			die(EX_TEMPFAIL, "maild cannot take the message now "
			    "(%s), and it cannot be kept for later: %s", err,
			    werr);
		if (verbose)
			fprintf(stderr, "%s: maild cannot take the message now "
			    "(%s): kept in %s/%s for maild to send\n", PROG,
			    err, conf->spool, ENQ_OFFLINE);
	} else if (r == ENQ_PERMFAIL) {
		for (line = err; *line != '\0'; line = nl + (*nl != '\0')) {
			if ((nl = strchr(line, '\n')) == NULL)
				nl = line + strlen(line);
			if (strncmp(line, "message refused", 15) == 0)
				whole = 1;
			fprintf(stderr, "%s: %.*s\n", PROG, (int)(nl - line),
			    line);
		}
	}
	enqueue_msg_free(&msg);
	config_free(conf);
	if (r == ENQ_PERMFAIL)
		return whole ? EX_DATAERR : EX_NOUSER;
	return EX_OK;
}
