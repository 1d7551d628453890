/*
 * mail.conf, the global settings: one row of settings[] each.  A row
 * gives the words of its statement, the type of its value (its syntax
 * and bounds), the field of struct maild_conf it is stored in, its
 * default and a one-line description.  The parser, the defaults, the
 * canonical dump ("maild -nv") and "maild -K" (which the manual page
 * test reads) all work from the table: a new setting is a new row, and
 * then the code that uses its field.
 *
 * Each setting may be given once.  The rows of a group (SF_GROUP, the
 * limits) may share a line: "smtp limit max-rcpt 50 max-per-ip 10".
 * The order of the rows is the order of the dump.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config_priv.h"
#include "http_url.h"
#include "log.h"
#include "util.h"

#define MSG_SIZE_MAX		(1024ULL * 1024 * 1024)
#define DURATION_MAX		(366LL * 24 * 3600)
#define COUNT_MAX		1000000
#define KEYWORD_MAX		64	/* the words of one setting */

enum stype {
	ST_HOSTNAME,	/* a host name */
	ST_USER,	/* a user name */
	ST_PATH,	/* an absolute path without ".." */
	ST_TEXT,	/* printable ASCII, for a reply line */
	ST_SIZE,	/* bytes, or with K, M or G: 1 to 1G */
	ST_COUNT,	/* 1 (or min) to COUNT_MAX */
	ST_DURATION,	/* seconds, or with s, m, h or d: 1s to 366d */
	ST_ADDRPORT,	/* an IP address [port N] */
	ST_CHOICE,	/* one of the words of choices, stored as its index */
	ST_URL		/* http://ADDR[:PORT] (http_url.h) */
};

struct setting {
	const char	*keyword;	/* the words before the value */
	enum stype	 type;
	int		 flags;
#define SF_OPTIONAL	0x01	/* no default: dumped only when given */
#define SF_DERIVED	0x02	/* computed, not read: dumped as comment */
#define SF_GROUP	0x04	/* others of its group may follow it */
#define SF_JOIN		0x08	/* dumped on the line of the one before */
	size_t		 off;		/* its field in struct maild_conf */
	size_t		 size;		/* of that field */
	const char	*def_str;	/* default of a string (NULL: "") */
	long long	 def_num;	/* of a number; ST_ADDRPORT: port */
	long long	 min;		/* ST_COUNT: the least, if not 1 */
	const char	*min_why;	/* ... and where that comes from */
	const char	*arg;		/* "expected ARG": strings, counts */
	const char	*name;		/* in messages; NULL: last word */
	size_t		 port_off;	/* ST_ADDRPORT: the port's field */
	const char	*choices;	/* ST_CHOICE: "reject junk mark" */
	const char	*desc;		/* one line, for "maild -K" */
};

#define FIELD(m)	.off = offsetof(struct maild_conf, m),		\
			.size = sizeof(((struct maild_conf *)0)->m)

static const struct setting settings[] = {
	{ "hostname", ST_HOSTNAME, 0, FIELD(hostname),
	  .arg = "a host name",
	  .desc = "the name in greetings and Received headers (default: "
	  "the system's)" },
	{ "spool", ST_PATH, 0, FIELD(spool), .def_str = MAILD_SPOOL,
	  .arg = "a directory",
	  .desc = "the mail queue" },
	{ "socket", ST_PATH, 0, FIELD(socket), .def_str = MAILD_SOCKET,
	  .arg = "a socket path",
	  .desc = "the control socket of mailctl" },
	{ "user", ST_USER, 0, FIELD(user), .def_str = MAILD_USER,
	  .arg = "a user name",
	  .desc = "the unprivileged user of the network-facing processes" },
	{ "vmail user", ST_USER, 0, FIELD(vmail_user),
	  .def_str = MAILD_VMAIL_USER, .arg = "a user name",
	  .desc = "the user owning the mailboxes" },
	{ "vmail root", ST_PATH, SF_DERIVED, FIELD(vmail_root),
	  .desc = "the directory of every maildir location (derived)" },
	{ "smtp max-message-size", ST_SIZE, 0, FIELD(max_msg_size),
	  .def_num = DEFAULT_MAX_MSG_SIZE,
	  .desc = "larger messages are refused, also by IMAP APPEND" },
	{ "smtp limit max-rcpt", ST_COUNT, SF_GROUP, FIELD(max_rcpt),
	  .def_num = DEFAULT_MAX_RCPT, .arg = "a number of recipients",
	  .desc = "recipients of one message" },
	{ "smtp limit max-line-length", ST_COUNT, SF_GROUP, FIELD(max_line),
	  .def_num = DEFAULT_MAX_LINE, .min = 998,
	  .min_why = " of RFC 5322", .arg = "a number of bytes",
	  .desc = "the longest line of a message, without its CRLF" },
	{ "smtp limit max-per-ip", ST_COUNT, SF_GROUP, FIELD(max_per_ip),
	  .def_num = DEFAULT_MAX_PER_IP, .arg = "a number of connections",
	  .desc = "simultaneous SMTP connections from one address" },
	{ "imap limit max-per-ip", ST_COUNT, SF_GROUP,
	  FIELD(imap_max_per_ip), .def_num = DEFAULT_IMAP_PER_IP,
	  .arg = "a number of connections",
	  .desc = "simultaneous IMAP connections from one address" },
	{ "imap limit max-per-user", ST_COUNT, SF_GROUP | SF_JOIN,
	  FIELD(imap_max_per_user), .def_num = DEFAULT_IMAP_PER_USER,
	  .arg = "a number of connections",
	  .desc = "simultaneous IMAP logins of one user" },
	{ "imap metadata-admin", ST_TEXT, SF_OPTIONAL,
	  FIELD(imap_metadata_admin), .arg = "a URI",
	  .name = "imap metadata-admin",
	  .desc = "the METADATA server entry /shared/admin: how to reach "
	  "the administrator (mailto: URI)" },
	{ "smtp timeout", ST_DURATION, 0, FIELD(smtp_timeout),
	  .def_num = DEFAULT_SMTP_TIMEOUT,
	  .desc = "idle time before a client is disconnected" },
	{ "queue ttl", ST_DURATION, 0, FIELD(queue_ttl),
	  .def_num = DEFAULT_QUEUE_TTL,
	  .desc = "how long a message is retried before it bounces" },
	{ "queue retry", ST_DURATION, 0, FIELD(retry_local),
	  .def_num = DEFAULT_RETRY_LOCAL,
	  .desc = "first retry of a failed local delivery" },
	{ "queue retry-remote", ST_DURATION, 0, FIELD(retry_remote),
	  .def_num = DEFAULT_RETRY_REMOTE,
	  .desc = "first retry of a message that could not be relayed" },
	{ "queue retry-max", ST_DURATION, 0, FIELD(retry_max),
	  .def_num = DEFAULT_RETRY_MAX,
	  .desc = "the longest interval between retries" },
	{ "resolver", ST_ADDRPORT, SF_OPTIONAL, FIELD(resolver),
	  .def_num = 53, .port_off = offsetof(struct maild_conf,
	  resolver_port), .arg = "an IP address",
	  .desc = "the DNS server (default: that of /etc/resolv.conf)" },
	{ "ca", ST_PATH, SF_OPTIONAL, FIELD(ca_file),
	  .arg = "a CA file", .name = "ca file",
	  .desc = "the CA certificates that relay with tls verify trusts" },
	{ "smtp rdns-message", ST_TEXT, SF_OPTIONAL, FIELD(rdns_msg),
	  .arg = "a message", .name = "smtp rdns-message",
	  .desc = "the reply to a client check rdns turns away" },
	{ "smtp fcrdns-message", ST_TEXT, SF_OPTIONAL, FIELD(fcrdns_msg),
	  .arg = "a message", .name = "smtp fcrdns-message",
	  .desc = "the reply to a client check fcrdns turns away" },
	{ "smtp dnsbl-threshold", ST_COUNT, 0, FIELD(dnsbl_threshold),
	  .def_num = 1, .arg = "a score",
	  .desc = "the DNSBL score at which a client is turned away" },
	{ "spf fail-action", ST_CHOICE, 0, FIELD(spf_fail_action),
	  .def_num = AUTH_ACT_JUNK, .choices = "reject junk mark",
	  .desc = "what an SPF fail does to mail no DMARC policy covers" },
	{ "dmarc enforce", ST_CHOICE, 0, FIELD(dmarc_enforce),
	  .def_num = 1, .choices = "no yes",
	  .desc = "refuse p=reject failures, put p=quarantine ones in Junk" },
	{ "dmarc own-domains", ST_CHOICE, 0, FIELD(dmarc_own),
	  .def_num = 1, .choices = "no yes",
	  .desc = "refuse unauthenticated mail From our domains, record or "
	  "not" },
	{ "dmarc public-suffix-list", ST_PATH, 0, FIELD(psl_file),
	  .def_str = MAILD_PSL, .arg = "a file",
	  .name = "dmarc public-suffix-list",
	  .desc = "the Public Suffix List, for organisational domains" },
	{ "rspamd url", ST_URL, SF_OPTIONAL, FIELD(rspamd_url),
	  .arg = "a URL", .name = "rspamd url",
	  .desc = "rspamd's normal worker: every message is scanned there" },
	{ "rspamd controller", ST_URL, SF_OPTIONAL, FIELD(rspamd_controller),
	  .arg = "a URL", .name = "rspamd controller",
	  .desc = "rspamd's controller, for learning (default: the url's "
	  "host, port 11334)" },
	{ "rspamd password", ST_TEXT, SF_OPTIONAL, FIELD(rspamd_password),
	  .arg = "a password", .name = "rspamd password",
	  .desc = "the controller's password, if it asks for one" },
	{ "rspamd timeout", ST_DURATION, 0, FIELD(rspamd_timeout),
	  .def_num = DEFAULT_RSPAMD_TIMEOUT,
	  .desc = "how long a scan or a learning request may take" },
	{ "rspamd on-failure", ST_CHOICE, 0, FIELD(rspamd_on_failure),
	  .def_num = RSPAMD_FAIL_ACCEPT, .choices = "accept defer",
	  .desc = "mail when rspamd cannot be asked: accepted unscanned, or "
	  "451" },
	{ "rspamd max-size", ST_SIZE, 0, FIELD(rspamd_max_size),
	  .def_num = DEFAULT_RSPAMD_MAX_SIZE,
	  .desc = "larger messages are not scanned" },
	{ "rspamd authenticated", ST_CHOICE, 0, FIELD(rspamd_auth),
	  .def_num = 0, .choices = "no yes",
	  .desc = "scan mail from authenticated clients too" },
	{ "greylist", ST_CHOICE, SF_GROUP, FIELD(greylist),
	  .def_num = 0, .choices = "no yes",
	  .desc = "a recipient of an unknown client waits (451 4.7.1)" },
	{ "greylist delay", ST_DURATION, SF_GROUP, FIELD(greylist_delay),
	  .def_num = DEFAULT_GREYLIST_DELAY,
	  .desc = "a retry earlier than this is deferred again" },
	{ "greylist expire", ST_DURATION, SF_GROUP, FIELD(greylist_expire),
	  .def_num = DEFAULT_GREYLIST_EXPIRE,
	  .desc = "a deferred triplet not retried within this is forgotten" },
	{ "greylist whitelist-expire", ST_DURATION, SF_GROUP,
	  FIELD(greylist_wl_expire), .def_num = DEFAULT_GREYLIST_WL_EXPIRE,
	  .desc = "an auto-whitelisted client and domain not seen within "
	  "this is forgotten" },
};

_Static_assert(nitems(settings) <= CONF_SETTINGS_MAX,
    "CONF_SETTINGS_MAX is too small for settings[]");

static int	 under(const char *, const char *);
static int	 find(const char *, int);
static int	 extend(char *, size_t, const char *);
static void	 expect_next(struct parser *, const char *);
static const char *setting_name(const struct setting *, char *, size_t);
static int	 set_value(struct parser *, int);
static int	 get_string(struct parser *, const struct setting *, char *);
static int	 get_size(struct parser *, long long *);
static int	 get_count(struct parser *, const struct setting *,
		    const char *, long long *);
static int	 get_duration(struct parser *, const char *, long long *);
static int	 get_addrport(struct parser *, const struct setting *,
		    const char *, char *);
static int	 get_choice(struct parser *, const struct setting *,
		    long long *);
static int	 choice_word(const char *, long long, char *, size_t);
static void	 store_num(const struct setting *, void *, long long);
static long long load_num(const struct setting *, const void *);

/* -- the words of a setting -- */

/* Is keyword prefix, or its first words? */
static int
under(const char *keyword, const char *prefix)
{
	size_t	 n = strlen(prefix);

	return strncmp(keyword, prefix, n) == 0 &&
	    (keyword[n] == '\0' || keyword[n] == ' ');
}

/* The row of a setting read from the file (exact words), or -1. */
static int
find(const char *keyword, int group)
{
	size_t	 i;

	for (i = 0; i < nitems(settings); i++)
		if (!(settings[i].flags & SF_DERIVED) &&
		    (!group || (settings[i].flags & SF_GROUP)) &&
		    strcmp(settings[i].keyword, keyword) == 0)
			return (int)i;
	return -1;
}

/* Add word to prefix if some setting starts so; 0 if none does. */
static int
extend(char *prefix, size_t len, const char *word)
{
	char	 buf[KEYWORD_MAX];
	size_t	 i;

	if ((size_t)snprintf(buf, sizeof(buf), "%s %s", prefix, word) >=
	    sizeof(buf))
		return 0;
	for (i = 0; i < nitems(settings); i++)
		if (!(settings[i].flags & SF_DERIVED) &&
		    under(settings[i].keyword, buf)) {
			(void)strlcpy(prefix, buf, len);
			return 1;
		}
	return 0;
}

/*
 * "expected a, b or c" naming the words that may follow prefix, in the
 * order of the table; "expected "a" after prefix" when only one may.
 */
static void
expect_next(struct parser *p, const char *prefix)
{
	char		 words[CONF_SETTINGS_MAX][KEYWORD_MAX];
	char		 list[512];
	const char	*w;
	size_t		 i, j, n = strlen(prefix), count = 0;

	for (i = 0; i < nitems(settings); i++) {
		if ((settings[i].flags & SF_DERIVED) ||
		    !under(settings[i].keyword, prefix) ||
		    settings[i].keyword[n] == '\0')
			continue;
		w = settings[i].keyword + n + 1;
		(void)snprintf(words[count], sizeof(words[count]), "%.*s",
		    (int)strcspn(w, " "), w);
		for (j = 0; j < count; j++)
			if (strcmp(words[j], words[count]) == 0)
				break;
		if (j == count)
			count++;
	}
	if (count == 1) {
		(void)snprintf(list, sizeof(list), "\"%s\" after %s",
		    words[0], prefix);
		cf_expected(p, cf_peek(p), list);
		return;
	}
	list[0] = '\0';
	for (i = 0; i < count; i++) {
		if (i > 0)
			(void)strlcat(list, i + 1 < count ? ", " : " or ",
			    sizeof(list));
		(void)strlcat(list, words[i], sizeof(list));
	}
	cf_expected(p, cf_peek(p), list);
}

/*
 * A statement starting with the word first that is a global setting:
 * 0 if no setting starts so, 1 when set, -1 after an error.
 */
int
cf_setting(struct parser *p, const char *first)
{
	char		 prefix[KEYWORD_MAX], group[KEYWORD_MAX], *w;
	struct token	*tok;
	int		 i;

	if (strlcpy(prefix, first, sizeof(prefix)) >= sizeof(prefix))
		return 0;
	for (i = 0; i < (int)nitems(settings); i++)
		if (!(settings[i].flags & SF_DERIVED) &&
		    under(settings[i].keyword, prefix))
			break;
	if (i == (int)nitems(settings))
		return 0;
	/* The longest keyword: "greylist delay 5m", not "greylist". */
	for (;;) {
		tok = cf_peek(p);
		if (tok != NULL && tok->type == TK_WORD &&
		    extend(prefix, sizeof(prefix), tok->text)) {
			p->pos++;
			continue;
		}
		if ((i = find(prefix, 0)) != -1)
			break;
		expect_next(p, prefix);
		return -1;
	}
	if (set_value(p, i) == -1)
		return -1;
	if (!(settings[i].flags & SF_GROUP))
		return 1;
	/* smtp limit max-rcpt N [max-per-ip N] ... */
	if ((w = strrchr(prefix, ' ')) != NULL)
		*w = '\0';
	while ((tok = cf_peek(p)) != NULL) {
		if (tok->type != TK_WORD ||
		    (size_t)snprintf(group, sizeof(group), "%s %s", prefix,
		    tok->text) >= sizeof(group) ||
		    (i = find(group, 1)) == -1) {
			expect_next(p, prefix);
			return -1;
		}
		p->pos++;
		if (set_value(p, i) == -1)
			return -1;
	}
	return 1;
}

/* The line where a setting was given, 0 if it was not. */
int
cf_setting_line(const struct parser *p, const char *keyword)
{
	int	 i;

	if ((i = find(keyword, 0)) == -1)
		fatalx("%s: no such setting", __func__);
	return p->seen[i];
}

/* -- values -- */

/* How messages name the value: "ttl" for "queue ttl", unless told. */
static const char *
setting_name(const struct setting *s, char *buf, size_t len)
{
	const char	*w;

	if (s->name != NULL)
		return s->name;
	w = strrchr(s->keyword, ' ');
	(void)strlcpy(buf, w != NULL ? w + 1 : s->keyword, len);
	return buf;
}

static int
set_value(struct parser *p, int i)
{
	const struct setting	*s = &settings[i];
	char			*field = (char *)p->conf + s->off;
	char			 name[KEYWORD_MAX];
	long long		 v;
	int			 rv;

	if (p->seen[i] != 0) {
		cf_perr(p, "%s is already set on line %d", s->keyword,
		    p->seen[i]);
		return -1;
	}
	(void)setting_name(s, name, sizeof(name));
	switch (s->type) {
	case ST_SIZE:
		rv = get_size(p, &v);
		break;
	case ST_COUNT:
		rv = get_count(p, s, name, &v);
		break;
	case ST_DURATION:
		rv = get_duration(p, name, &v);
		break;
	case ST_ADDRPORT:
		rv = get_addrport(p, s, name, field);
		break;
	case ST_CHOICE:
		rv = get_choice(p, s, &v);
		break;
	default:
		rv = get_string(p, s, field);
		break;
	}
	if (rv == -1)
		return -1;
	if (s->type == ST_SIZE || s->type == ST_COUNT ||
	    s->type == ST_DURATION || s->type == ST_CHOICE)
		store_num(s, field, v);
	p->seen[i] = p->line;
	return 0;
}

/* A host name, a user name, a path or a reply text, copied to field. */
static int
get_string(struct parser *p, const struct setting *s, char *field)
{
	struct http_url	 url;
	const char	*v, *q;
	char		 name[KEYWORD_MAX], err[160];

	if (cf_expect_string(p, s->arg, &v) == -1)
		return -1;
	switch (s->type) {
	case ST_HOSTNAME:
		if (!cf_valid_hostname(v)) {
			cf_perr(p, "invalid host name \"%.64s\"", v);
			return -1;
		}
		break;
	case ST_USER:
		if (!cf_valid_user(v)) {
			cf_perr(p, "invalid user name \"%.64s\"", v);
			return -1;
		}
		break;
	case ST_PATH:
		return cf_check_path(p, setting_name(s, name, sizeof(name)),
		    v, field, s->size);
	case ST_URL:
		if (http_url_parse(v, &url, err, sizeof(err)) == -1) {
			cf_perr(p, "%s: %s", setting_name(s, name,
			    sizeof(name)), err);
			return -1;
		}
		break;
	default:
		for (q = v; *q != '\0'; q++)
			if (*q < 0x20 || *q > 0x7e)
				break;
		if (*q != '\0' || *v == '\0' || strlen(v) >= s->size) {
			cf_perr(p, "%s must be 1 to %zu printable ASCII "
			    "characters", setting_name(s, name, sizeof(name)),
			    s->size - 1);
			return -1;
		}
		break;
	}
	(void)strlcpy(field, v, s->size);
	return 0;
}

/* Bytes, with an optional K, M or G suffix (any case). */
static int
get_size(struct parser *p, long long *vp)
{
	const char		*s, *end;
	unsigned long long	 v, mult = 1;

	if (cf_expect_string(p, "a size", &s) == -1)
		return -1;
	if (cf_parse_ull(s, &v, &end) == -1)
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
		cf_perr(p, "size \"%.64s\" out of range (1 to 1G)", s);
		return -1;
	}
	*vp = (long long)(v * mult);
	return 0;
 bad:
	cf_perr(p, "invalid size \"%.64s\": expected a number of bytes, "
	    "optionally with K, M or G", s);
	return -1;
}

static int
get_count(struct parser *p, const struct setting *set, const char *name,
    long long *vp)
{
	const char		*s, *end;
	unsigned long long	 v;

	if (cf_expect_string(p, set->arg, &s) == -1)
		return -1;
	if (cf_parse_ull(s, &v, &end) == -1 || *end != '\0') {
		cf_expected(p, &p->toks[p->pos - 1], set->arg);
		return -1;
	}
	if (v == 0 || v > COUNT_MAX) {
		cf_perr(p, "%s %.64s out of range (1 to %d)", name, s,
		    COUNT_MAX);
		return -1;
	}
	if ((long long)v < set->min) {
		cf_perr(p, "%s %llu is below the %lld%s", name, v, set->min,
		    set->min_why != NULL ? set->min_why : "");
		return -1;
	}
	*vp = (long long)v;
	return 0;
}

/* Seconds, or a number with s, m, h or d. */
static int
get_duration(struct parser *p, const char *what, long long *vp)
{
	const char		*s, *end;
	unsigned long long	 v, mult = 1;

	if (cf_expect_string(p, "a duration", &s) == -1)
		return -1;
	if (cf_parse_ull(s, &v, &end) == -1)
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
		cf_perr(p, "%s \"%.64s\" out of range (1s to 366d)", what, s);
		return -1;
	}
	*vp = (long long)(v * mult);
	return 0;
 bad:
	cf_perr(p, "invalid %s \"%.64s\": expected a number with s, m, h "
	    "or d", what, s);
	return -1;
}

/* ADDRESS [port N]: an IPv4 or IPv6 literal, the port def_num if none. */
static int
get_addrport(struct parser *p, const struct setting *set, const char *name,
    char *field)
{
	struct in6_addr		 a6;
	struct in_addr		 a4;
	const char		*s, *end;
	unsigned long long	 v = (unsigned long long)set->def_num;

	if (cf_expect_string(p, set->arg, &s) == -1)
		return -1;
	if (inet_pton(AF_INET, s, &a4) != 1 &&
	    inet_pton(AF_INET6, s, &a6) != 1) {
		cf_perr(p, "%s \"%.64s\" is not an IP address", name, s);
		return -1;
	}
	(void)strlcpy(field, s, set->size);
	if (cf_kw_accept(p, "port")) {
		if (cf_expect_string(p, "a port number", &s) == -1)
			return -1;
		if (cf_parse_ull(s, &v, &end) == -1 || *end != '\0' ||
		    v == 0 || v > 65535) {
			cf_perr(p, "%s port %.64s out of range (1 to 65535)",
			    name, s);
			return -1;
		}
	}
	*(int *)(void *)((char *)p->conf + set->port_off) = (int)v;
	return 0;
}

/* One of the words of set->choices; *vp its index. */
static int
get_choice(struct parser *p, const struct setting *set, long long *vp)
{
	char		 word[KEYWORD_MAX], list[KEYWORD_MAX * 2];
	const char	*s;
	long long	 i;
	size_t		 n = 0;

	list[0] = '\0';
	for (i = 0; choice_word(set->choices, i, word, sizeof(word)); i++) {
		if (n++ > 0)
			(void)strlcat(list, choice_word(set->choices, i + 1,
			    word, sizeof(word)) ? ", " : " or ", sizeof(list));
		(void)choice_word(set->choices, i, word, sizeof(word));
		(void)strlcat(list, word, sizeof(list));
	}
	if (cf_expect_string(p, list, &s) == -1)
		return -1;
	for (i = 0; choice_word(set->choices, i, word, sizeof(word)); i++)
		if (strcmp(s, word) == 0) {
			*vp = i;
			return 0;
		}
	cf_expected(p, &p->toks[p->pos - 1], list);
	return -1;
}

/* The i-th word of a choice list into buf: 1, or 0 past the last. */
static int
choice_word(const char *list, long long i, char *buf, size_t len)
{
	size_t	 n;

	for (; i > 0; i--) {
		list += strcspn(list, " ");
		if (*list == '\0')
			return 0;
		list++;
	}
	n = strcspn(list, " ");
	if (n == 0 || n >= len)
		return 0;
	memcpy(buf, list, n);
	buf[n] = '\0';
	return 1;
}

/* Numbers live in size_t (sizes), time_t or int fields. */
static void
store_num(const struct setting *s, void *field, long long v)
{
	if (s->type == ST_SIZE && s->size == sizeof(size_t))
		*(size_t *)field = (size_t)v;
	else if (s->type == ST_DURATION && s->size == sizeof(time_t))
		*(time_t *)field = (time_t)v;
	else if (s->size == sizeof(int))
		*(int *)field = (int)v;
	else
		fatalx("setting %s: a field of %zu bytes", s->keyword,
		    s->size);
}

static long long
load_num(const struct setting *s, const void *field)
{
	if (s->type == ST_SIZE && s->size == sizeof(size_t))
		return (long long)*(const size_t *)field;
	if (s->type == ST_DURATION && s->size == sizeof(time_t))
		return (long long)*(const time_t *)field;
	return *(const int *)field;
}

/* -- defaults, dump, keywords -- */

void
cf_settings_init(struct maild_conf *c)
{
	const struct setting	*s;
	char			*field;
	size_t			 i;

	for (i = 0; i < nitems(settings); i++) {
		s = &settings[i];
		field = (char *)c + s->off;
		switch (s->type) {
		case ST_SIZE:
		case ST_COUNT:
		case ST_DURATION:
		case ST_CHOICE:
			store_num(s, field, s->def_num);
			break;
		default:
			if (s->def_str != NULL)
				(void)strlcpy(field, s->def_str, s->size);
			break;
		}
	}
}

/*
 * Every setting, one a line in the order of the table, defaults
 * included; a derived one as a comment, an unset optional one not.
 */
void
cf_settings_dump(const struct maild_conf *c, FILE *fp)
{
	const struct setting	*s;
	const char		*field, *w;
	char			 word[KEYWORD_MAX];
	size_t			 i;
	int			 lines = 0;

	for (i = 0; i < nitems(settings); i++) {
		s = &settings[i];
		field = (const char *)c + s->off;
		if ((s->flags & SF_OPTIONAL) && *field == '\0')
			continue;
		if (s->flags & SF_JOIN) {
			w = strrchr(s->keyword, ' ');
			fprintf(fp, " %s", w != NULL ? w + 1 : s->keyword);
		} else {
			if (lines++ > 0)
				fputc('\n', fp);
			fprintf(fp, "%s%s", (s->flags & SF_DERIVED) ? "# " :
			    "", s->keyword);
		}
		switch (s->type) {
		case ST_SIZE:
		case ST_COUNT:
		case ST_DURATION:
			fprintf(fp, " %lld", load_num(s, field));
			break;
		case ST_CHOICE:
			if (!choice_word(s->choices, load_num(s, field),
			    word, sizeof(word)))
				fatalx("setting %s: no choice %lld",
				    s->keyword, load_num(s, field));
			fprintf(fp, " %s", word);
			break;
		case ST_ADDRPORT:
			fprintf(fp, " %s port %d", field,
			    *(const int *)(const void *)((const char *)c +
			    s->port_off));
			break;
		default:
			fputc(' ', fp);
			cf_dump_str(fp, field);
			break;
		}
	}
	if (lines > 0)
		fputc('\n', fp);
}

/*
 * "setting<tab>WORDS<tab>DESCRIPTION" for each one the file may set,
 * and "value<tab>WORD" for each word a choice takes.
 */
void
cf_settings_keywords(FILE *fp)
{
	char		 word[KEYWORD_MAX];
	long long	 j;
	size_t		 i;

	for (i = 0; i < nitems(settings); i++) {
		if (settings[i].flags & SF_DERIVED)
			continue;
		fprintf(fp, "setting\t%s\t%s\n", settings[i].keyword,
		    settings[i].desc);
		for (j = 0; settings[i].type == ST_CHOICE &&
		    choice_word(settings[i].choices, j, word, sizeof(word));
		    j++)
			fprintf(fp, "value\t%s\n", word);
	}
}
