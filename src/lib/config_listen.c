/*
 * mail.conf: "listen on ADDR [options]", one listener per address ADDR
 * stands for (a literal, "*", "localhost" or every address of an
 * interface).  The rules that keep a listener from leaking passwords or
 * mail are in config_check.c.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tls.h>

#include "config_priv.h"
#include "log.h"
#include "util.h"

#define LISTEN_ADDRS_MAX	32	/* addresses of one listen on */

struct listen_option {
	const char	*name;
	unsigned int	 bit;
	int		(*parse)(struct parser *, struct listen_opts *);
};

static int	 lopt_port(struct parser *, struct listen_opts *);
static int	 lopt_family(struct parser *, struct listen_opts *);
static int	 lopt_frommismatch(struct parser *, struct listen_opts *);
static int	 lopt_pki(struct parser *, struct listen_opts *);
static int	 lopt_hostname(struct parser *, struct listen_opts *);
static int	 lopt_auth(struct parser *, struct listen_opts *);
static int	 lopt_check(struct parser *, struct listen_opts *);
static int	 lopt_ciphers(struct parser *, struct listen_opts *);
static int	 lopt_msgauth(struct parser *, struct listen_opts *);
static int	 lopt_dnsbl(struct parser *, struct listen_opts *);
static int	 lopt_filter(struct parser *, struct listen_opts *);
static int	 check_one(struct parser *, struct listen_opts *);
static int	 resolve_addr(struct parser *, const char *, int,
		    struct sockaddr_storage *, size_t *);
static int	 add_addr(struct parser *, struct sockaddr_storage *,
		    size_t *, const struct sockaddr *, int);
static int	 same_addr(const struct listener *,
		    const struct sockaddr_storage *, int);

static const struct listen_option listen_options[] = {
	{ "any-sender",		O_ANYSENDER,	NULL },
	{ "auth",		O_AUTH,		lopt_auth },
	{ "check",		O_CHECK,	lopt_check },
	{ "ciphers",		O_CIPHERS,	lopt_ciphers },
	{ "dnsbl",		O_DNSBL,	lopt_dnsbl },
	{ "family",		O_FAMILY,	lopt_family },
	{ "filter",		O_FILTER,	lopt_filter },
	{ "from-mismatch",	O_FROMMISMATCH,	lopt_frommismatch },
	{ "hostname",		O_HOSTNAME,	lopt_hostname },
	{ "imap",		O_IMAP,		NULL },
	{ "imaps",		O_IMAPS,	NULL },
	{ "mask-src",		O_MASKSRC,	NULL },
	{ "message-auth",	O_MSGAUTH,	lopt_msgauth },
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

/*
 * listen on ADDR [options]: one listener per address ADDR stands for
 * (a literal, "*", "localhost" or every address of an interface).
 */
int
cf_parse_listen(struct parser *p)
{
	struct listen_opts	 o;
	struct sockaddr_storage	 addrs[LISTEN_ADDRS_MAX];
	struct listener		*l;
	struct token		*tok;
	const char		*addr;
	char			 text[NI_MAXHOST];
	size_t			 i, n;

	if (!cf_kw_accept(p, "on")) {
		cf_expected(p, cf_peek(p), "\"on\" after listen");
		return -1;
	}
	if (cf_expect_string(p, "an address or interface", &addr) == -1)
		return -1;
	memset(&o, 0, sizeof(o));
	o.family = AF_UNSPEC;
	while ((tok = cf_peek(p)) != NULL) {
		for (i = 0; i < nitems(listen_options); i++)
			if (cf_is_word(tok, listen_options[i].name))
				break;
		if (i == nitems(listen_options)) {
			if (tok->type == TK_WORD)
				cf_perr(p, "unknown listen option \"%.64s\"",
				    tok->text);
			else
				cf_expected(p, tok, "a listen option");
			return -1;
		}
		if (o.seen & listen_options[i].bit) {
			cf_perr(p, "option %s given twice", tok->text);
			return -1;
		}
		o.seen |= listen_options[i].bit;
		p->pos++;
		if (listen_options[i].parse != NULL &&
		    listen_options[i].parse(p, &o) == -1)
			return -1;
	}
	if (cf_listen_check(p, &o) == -1)
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
	/* Submission clients sit on dynamic addresses that lists name. */
	if (o.l.proto == PROTO_SMTP && !(o.seen & (O_DNSBL | O_AUTH)))
		o.l.flags |= L_DNSBL;
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
			cf_addr_text(&addrs[i], sizeof(addrs[i]), text,
			    sizeof(text));
			cf_perr(p, "address %s port %d is already used on line "
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

static int
lopt_port(struct parser *p, struct listen_opts *o)
{
	const char		*s, *end;
	unsigned long long	 v;
	size_t			 i;

	if (cf_expect_string(p, "a port number", &s) == -1)
		return -1;
	for (i = 0; i < nitems(port_names); i++)
		if (strcmp(s, port_names[i].name) == 0) {
			o->l.port = port_names[i].port;
			return 0;
		}
	if (cf_parse_ull(s, &v, &end) == -1 || *end != '\0') {
		cf_expected(p, &p->toks[p->pos - 1], "a port number");
		return -1;
	}
	if (v == 0 || v > 65535) {
		cf_perr(p, "port %.64s out of range (1 to 65535)", s);
		return -1;
	}
	o->l.port = (int)v;
	return 0;
}

static int
lopt_family(struct parser *p, struct listen_opts *o)
{
	if (cf_kw_accept(p, "inet4"))
		o->family = AF_INET;
	else if (cf_kw_accept(p, "inet6"))
		o->family = AF_INET6;
	else {
		cf_expected(p, cf_peek(p), "inet4 or inet6");
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
	if (cf_kw_accept(p, "unsigned"))
		o->l.flags |= L_FROM_UNSIGNED;
	else if (!cf_kw_accept(p, "refuse")) {
		cf_expected(p, cf_peek(p),
		    "refuse or unsigned after from-mismatch");
		return -1;
	}
	return 0;
}

/*
 * message-auth yes|no: whether mail from unauthenticated clients is
 * checked (SPF, DKIM, DMARC, ARC); yes by default.
 */
static int
lopt_msgauth(struct parser *p, struct listen_opts *o)
{
	if (cf_kw_accept(p, "no"))
		o->l.flags |= L_NO_MSGAUTH;
	else if (!cf_kw_accept(p, "yes")) {
		cf_expected(p, cf_peek(p), "yes or no after message-auth");
		return -1;
	}
	return 0;
}

/*
 * dnsbl yes|no: whether clients are checked against the dnsbl and dnswl
 * zones; by default yes without auth, no with it.
 */
static int
lopt_dnsbl(struct parser *p, struct listen_opts *o)
{
	if (cf_kw_accept(p, "yes"))
		o->l.flags |= L_DNSBL;
	else if (!cf_kw_accept(p, "no")) {
		cf_expected(p, cf_peek(p), "yes or no after dnsbl");
		return -1;
	}
	return 0;
}

/*
 * filter yes|no: whether mail from the listener's clients is scanned by
 * the content filter (rspamd); yes by default.
 */
static int
lopt_filter(struct parser *p, struct listen_opts *o)
{
	if (cf_kw_accept(p, "no"))
		o->l.flags |= L_NO_FILTER;
	else if (!cf_kw_accept(p, "yes")) {
		cf_expected(p, cf_peek(p), "yes or no after filter");
		return -1;
	}
	return 0;
}

/* The pki may be defined later in the file: resolved by cf_finish(). */
static int
lopt_pki(struct parser *p, struct listen_opts *o)
{
	return cf_expect_name(p, "pki", o->l.pki, sizeof(o->l.pki));
}

static int
lopt_hostname(struct parser *p, struct listen_opts *o)
{
	const char	*s;

	if (cf_expect_string(p, "a host name", &s) == -1)
		return -1;
	if (!cf_valid_hostname(s)) {
		cf_perr(p, "invalid host name \"%.64s\"", s);
		return -1;
	}
	(void)strlcpy(o->l.hostname, s, sizeof(o->l.hostname));
	return 0;
}

static int
lopt_auth(struct parser *p, struct listen_opts *o)
{
	struct table	*t;

	if (cf_expect_table(p, "<table> after auth", &t) == -1)
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

	if (cf_peek(p) == NULL || cf_peek(p)->type != TK_LBRACE)
		return check_one(p, o);
	p->pos++;
	for (;;) {
		if ((tok = cf_peek(p)) != NULL && tok->type == TK_RBRACE) {
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
		cf_perr(p, "empty check { }: expected rdns or fcrdns");
		return -1;
	}
	return 0;
}

static int
lopt_ciphers(struct parser *p, struct listen_opts *o)
{
	const char	*s;

	if (cf_expect_string(p, "a cipher string", &s) == -1)
		return -1;
	return cf_check_ciphers(p, s, o->l.ciphers, sizeof(o->l.ciphers));
}

/*
 * A "ciphers" value, copied to buf.  The parent (not the children, nor
 * mailctl) asks libtls whether it selects any cipher, so that a typo
 * stops "maild -n", a start or a reload rather than every handshake.
 */
int
cf_check_ciphers(struct parser *p, const char *s, char *buf, size_t len)
{
	struct tls_config	*cfg;
	int			 rv = 0;

	if (*s == '\0') {
		cf_perr(p, "empty cipher string");
		return -1;
	}
	if (strlcpy(buf, s, len) >= len) {
		cf_perr(p, "cipher string too long (over %zu bytes)", len - 1);
		return -1;
	}
	if (p->flags & CONF_NOFILES)
		return 0;
	if ((cfg = tls_config_new()) == NULL)
		fatal("tls_config_new");
	if (tls_config_set_ciphers(cfg, config_ciphers(s)) == -1) {
		cf_perr(p, "ciphers \"%.64s\": %s", s, tls_config_error(cfg));
		rv = -1;
	}
	tls_config_free(cfg);
	return rv;
}

static int
check_one(struct parser *p, struct listen_opts *o)
{
	if (cf_kw_accept(p, "rdns"))
		o->l.flags |= L_CHECK_RDNS;
	else if (cf_kw_accept(p, "fcrdns"))
		o->l.flags |= L_CHECK_FCRDNS;
	else {
		cf_expected(p, cf_peek(p), "rdns or fcrdns");
		return -1;
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
			cf_perr(p, "address %.64s is not inet6", addr);
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
			cf_perr(p, "invalid IPv6 address \"%.64s\"", addr);
			return -1;
		}
		if (family == AF_INET) {
			freeaddrinfo(res);
			cf_perr(p, "address %.64s is not inet4", addr);
			return -1;
		}
		fam = add_addr(p, out, np, res->ai_addr, (int)res->ai_addrlen);
		freeaddrinfo(res);
		return fam;
	}

	if (getifaddrs(&ifap) == -1) {
		cf_perr(p, "getifaddrs: %s", strerror(errno));
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
		cf_perr(p, "unknown interface or address \"%.64s\"", addr);
		return -1;
	}
	if (*np == 0) {
		cf_perr(p, "interface %.64s has no %saddress", addr,
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
		cf_perr(p, "too many addresses (at most %d)", LISTEN_ADDRS_MAX);
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

/* The listen options and port names, for "maild -K". */
void
cf_listen_keywords(FILE *fp)
{
	size_t	 i;

	for (i = 0; i < nitems(listen_options); i++)
		fprintf(fp, "option\t%s\n", listen_options[i].name);
	for (i = 0; i < nitems(port_names); i++)
		fprintf(fp, "value\t%s\n", port_names[i].name);
}
