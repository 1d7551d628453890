/*
 * mail.conf, the grammar (close to smtpd.conf(5)), by hand in recursive
 * descent: one statement per logical line, known by its first word.
 * The global settings are rows of a table (config_settings.c) and
 * "listen on" has a file of its own (config_listen.c); here are pki,
 * dkim, table, action (maildir, relay) and match.  An error ends its
 * statement only: parsing goes on, so that one run reports several
 * errors.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "config_priv.h"
#include "log.h"
#include "util.h"

static int	 parse_pki(struct parser *);
static int	 valid_selector(const char *);
static int	 parse_dkim(struct parser *);
static int	 parse_dkim_local(struct parser *);
static int	 parse_table(struct parser *);
static int	 check_pattern(struct parser *, const char *);
static int	 parse_action(struct parser *);
static int	 parse_relay(struct parser *, struct action *);
static int	 parse_relay_url(struct parser *, const char *,
		    struct action *);
static int	 valid_domain_pattern(const char *);
static int	 parse_match(struct parser *);

/* The statements of the grammar; the global settings are in settings[]. */
static const struct {
	const char	*keyword;
	int		(*parse)(struct parser *);
} statements[] = {
	{ "action",	parse_action },
	{ "dkim",	parse_dkim },
	{ "dnsbl",	cf_parse_dnsbl },
	{ "dnswl",	cf_parse_dnsbl },
	{ "listen",	cf_parse_listen },
	{ "match",	parse_match },
	{ "pki",	parse_pki },
	{ "quota",	cf_parse_quota },
	{ "table",	parse_table },
};

/* Relay URL schemes: smtp://[label@]host[:port] and the others. */
static const struct {
	const char	*prefix;
	int		 flags;
	int		 port;
} schemes[] = {
	{ "smtp://",	 0,		25 },
	{ "smtp+tls://", AR_STARTTLS,	25 },
	{ "smtps://",	 AR_SMTPS,	465 },
};

/* The variables of a maildir location. */
static const char *const vars[] = {
	"dest.user", "dest.domain", "dest.user:lowercase",
	"dest.domain:lowercase"
};

/* One statement: a macro, a statement of the grammar or a setting. */
void
cf_statement(struct parser *p)
{
	struct token	*tok;
	size_t		 i;
	int		 rv;

	if (p->ntok >= 2 && p->toks[1].type == TK_EQUAL) {
		(void)cf_macro_define(p);
		return;
	}
	tok = cf_next(p);
	if (tok->type != TK_WORD) {
		cf_expected(p, tok, "a keyword");
		return;
	}
	for (i = 0; i < nitems(statements); i++)
		if (strcmp(tok->text, statements[i].keyword) == 0)
			break;
	if (i < nitems(statements))
		rv = statements[i].parse(p);
	else if ((rv = cf_setting(p, tok->text)) == 0) {
		cf_perr(p, "unknown keyword \"%.64s\"", tok->text);
		return;
	}
	if (rv == -1)
		return;
	if ((tok = cf_peek(p)) != NULL)
		cf_expected(p, tok, "end of line");
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

	if (cf_expect_name(p, "pki", name, sizeof(name)) == -1)
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
		if (cf_kw_accept(p, "cert"))
			cert = 1;
		else if (cf_kw_accept(p, "key"))
			cert = 0;
		else
			break;
		n++;
		if ((cert ? pki->cert_file : pki->key_file)[0] != '\0') {
			cf_perr(p, "pki \"%s\": %s is already set", name,
			    cert ? "cert" : "key");
			return -1;
		}
		if (cf_expect_string(p, "a file name", &s) == -1 ||
		    cf_check_path(p, cert ? "cert file" : "key file", s,
		    cert ? pki->cert_file : pki->key_file,
		    sizeof(pki->cert_file)) == -1)
			return -1;
	}
	if (n == 0) {
		cf_expected(p, cf_peek(p), "cert or key");
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
	if (cf_is_word(cf_peek(p), "local") && p->pos + 1 < p->ntok &&
	    cf_is_word(&p->toks[p->pos + 1], "domain")) {
		free(d);
		p->pos += 2;
		return parse_dkim_local(p);
	}
	if (cf_expect_string(p, "a domain", &s) == -1)
		goto fail;
	if (strlcpy(d->domain, s, sizeof(d->domain)) >= sizeof(d->domain) ||
	    !cf_valid_hostname(d->domain)) {
		cf_perr(p, "invalid dkim domain \"%.64s\"", s);
		goto fail;
	}
	str_lower(d->domain);
	if (!cf_kw_accept(p, "selector")) {
		cf_expected(p, cf_peek(p), "selector");
		goto fail;
	}
	if (cf_expect_string(p, "a selector", &s) == -1)
		goto fail;
	if (!valid_selector(s)) {
		cf_perr(p, "invalid dkim selector \"%.64s\"", s);
		goto fail;
	}
	(void)strlcpy(d->selector, s, sizeof(d->selector));
	if (!cf_kw_accept(p, "key")) {
		cf_expected(p, cf_peek(p), "key");
		goto fail;
	}
	if (cf_expect_string(p, "a key file", &s) == -1 ||
	    cf_check_path(p, "key file", s, d->key_file,
	    sizeof(d->key_file)) == -1)
		goto fail;
	TAILQ_FOREACH(o, &p->conf->dkims, entry)
		if (strcmp(o->domain, d->domain) == 0 &&
		    strcasecmp(o->selector, d->selector) == 0) {
			cf_perr(p, "dkim %s selector %s is already defined",
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

	if (cf_expect_string(p, "a domain", &s) == -1)
		return -1;
	if (strlcpy(dom, s, sizeof(dom)) >= sizeof(dom) ||
	    !cf_valid_hostname(dom)) {
		cf_perr(p, "invalid dkim local domain \"%.64s\"", s);
		return -1;
	}
	str_lower(dom);
	if (config_dkim_local(p->conf, dom)) {
		cf_perr(p, "dkim local domain %s is already given", dom);
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

/* table NAME file:PATH, or table NAME PATH; the file is read later. */
static int
parse_table(struct parser *p)
{
	char		 name[NAME_MAX_CONF], path[PATH_MAX];
	const char	*s, *colon, *slash;
	struct table	*t;

	if (cf_expect_name(p, "table", name, sizeof(name)) == -1)
		return -1;
	if (config_table(p->conf, name) != NULL) {
		cf_perr(p, "table \"%s\" is already defined", name);
		return -1;
	}
	if (cf_expect_string(p, "a table file", &s) == -1)
		return -1;
	if (strncmp(s, "file:", 5) == 0)
		s += 5;
	else if ((colon = strchr(s, ':')) != NULL &&
	    ((slash = strchr(s, '/')) == NULL || colon < slash)) {
		cf_perr(p, "unsupported table type \"%.*s\": only file tables",
		    (int)(colon - s > 32 ? 32 : colon - s), s);
		return -1;
	}
	if (cf_check_path(p, "table file", s, path, sizeof(path)) == -1)
		return -1;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal("calloc");
	(void)strlcpy(t->name, name, sizeof(t->name));
	(void)strlcpy(t->path, path, sizeof(t->path));
	TAILQ_INSERT_TAIL(&p->conf->tables, t, entry);
	return 0;
}

/* -- action, match -- */

/*
 * A maildir location: an absolute path whose only variables are
 * %{dest.user} and %{dest.domain}, each optionally ":lowercase".
 */
static int
check_pattern(struct parser *p, const char *s)
{
	const char		*c, *end;
	size_t			 i, len;

	if (*s != '/') {
		cf_perr(p, "maildir location \"%.64s\" must be an absolute "
		    "path", s);
		return -1;
	}
	if (strlen(s) >= PATH_MAX) {
		cf_perr(p, "maildir location is too long");
		return -1;
	}
	for (c = s; *c != '\0'; c++) {
		if (c[0] == '/' && (c[1] == '/' || (c[1] == '.' &&
		    (c[2] == '/' || c[2] == '\0' || (c[2] == '.' &&
		    (c[3] == '/' || c[3] == '\0')))))) {
			cf_perr(p, "maildir location \"%.64s\" has an empty, "
			    "\".\" or \"..\" component", s);
			return -1;
		}
		if (*c != '%')
			continue;
		if (c[1] != '{' || (end = strchr(c, '}')) == NULL) {
			cf_perr(p, "maildir location \"%.64s\": '%%' must "
			    "start %%{dest.user} or %%{dest.domain}", s);
			return -1;
		}
		len = (size_t)(end - c - 2);
		for (i = 0; i < nitems(vars); i++)
			if (strlen(vars[i]) == len &&
			    strncmp(c + 2, vars[i], len) == 0)
				break;
		if (i == nitems(vars)) {
			cf_perr(p, "unknown variable %%{%.*s} in maildir "
			    "location: use %%{dest.user} or %%{dest.domain}, "
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
	if (cf_expect_name(p, "action", a.name, sizeof(a.name)) == -1)
		return -1;
	TAILQ_FOREACH(ap, &p->conf->actions, entry)
		if (strcmp(ap->name, a.name) == 0) {
			cf_perr(p, "action \"%s\" is already defined on "
			    "line %d", a.name, ap->line);
			return -1;
		}
	tok = cf_next(p);
	if (cf_is_word(tok, "relay")) {
		a.type = A_RELAY;
		if (parse_relay(p, &a) == -1)
			return -1;
	} else if (cf_is_word(tok, "maildir")) {
		a.type = A_MAILDIR;
		if (cf_expect_string(p, "a maildir location", &s) == -1 ||
		    check_pattern(p, s) == -1)
			return -1;
		(void)strlcpy(a.pattern, s, sizeof(a.pattern));
		while ((tok = cf_peek(p)) != NULL) {
			if (cf_is_word(tok, "virtual"))
				tp = &a.virtual;
			else if (cf_is_word(tok, "alias"))
				tp = &a.alias;
			else if (cf_is_word(tok, "userbase"))
				tp = &a.userbase;
			else {
				cf_expected(p, tok,
				    "virtual, alias or userbase");
				return -1;
			}
			what = tok->text;
			p->pos++;
			if (*tp != NULL) {
				cf_perr(p, "option %s given twice", what);
				return -1;
			}
			if (cf_expect_table(p, "<table>", tp) == -1)
				return -1;
		}
		if (a.virtual == NULL && a.alias == NULL &&
		    a.userbase == NULL) {
			cf_perr(p, "maildir action \"%s\" needs virtual, "
			    "alias or userbase <table>, so unknown users can "
			    "be refused", a.name);
			return -1;
		}
	} else if (cf_is_word(tok, "mbox")) {
		cf_perr(p, "mbox delivery is not supported, use maildir");
		return -1;
	} else {
		cf_expected(p, tok, "an action type (maildir or relay)");
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

	while ((tok = cf_next(p)) != NULL) {
		if (cf_is_word(tok, "tls")) {
			if (tls++) {
				cf_perr(p, "option tls given twice");
				return -1;
			}
			if (cf_kw_accept(p, "verify"))
				a->relay_flags |= AR_TLS_VERIFY |
				    AR_TLS_REQUIRE;
			else if (cf_kw_accept(p, "require"))
				a->relay_flags |= AR_TLS_REQUIRE;
			else {
				cf_expected(p, cf_peek(p),
				    "verify or require after tls");
				return -1;
			}
		} else if (cf_is_word(tok, "host")) {
			if (host++) {
				cf_perr(p, "option host given twice");
				return -1;
			}
			if (cf_expect_string(p, "a relay URL", &s) == -1 ||
			    parse_relay_url(p, s, a) == -1)
				return -1;
		} else if (cf_is_word(tok, "auth")) {
			if (a->relay_auth != NULL) {
				cf_perr(p, "option auth given twice");
				return -1;
			}
			if (cf_expect_table(p, "<table> after auth",
			    &a->relay_auth) == -1)
				return -1;
			/* Clear-text passwords: for the relay's eyes only. */
			a->relay_auth->flags |= T_SECRET | T_RELAY;
		} else if (cf_is_word(tok, "ciphers")) {
			if (a->relay_ciphers[0] != '\0') {
				cf_perr(p, "option ciphers given twice");
				return -1;
			}
			if (cf_expect_string(p, "a cipher string", &s) == -1 ||
			    cf_check_ciphers(p, s, a->relay_ciphers,
			    sizeof(a->relay_ciphers)) == -1)
				return -1;
		} else {
			cf_expected(p, tok, "tls, host, auth or ciphers");
			return -1;
		}
	}
	if (a->relay_auth != NULL && !host) {
		cf_perr(p, "auth needs a host: relay host "
		    "smtp+tls://label@host auth <%s>", a->relay_auth->name);
		return -1;
	}
	if (a->relay_auth != NULL && a->relay_label[0] == '\0') {
		cf_perr(p, "auth needs a label in the host URL, the key of its "
		    "line in <%s>: smtp+tls://label@%s", a->relay_auth->name,
		    a->relay_host);
		return -1;
	}
	if (a->relay_auth == NULL && a->relay_label[0] != '\0') {
		cf_perr(p, "the label %s@ in the host URL needs auth <table>",
		    a->relay_label);
		return -1;
	}
	if (a->relay_auth != NULL && !(a->relay_flags &
	    (AR_TLS_REQUIRE | AR_STARTTLS | AR_SMTPS))) {
		cf_perr(p, "auth over smtp:// could send the password in clear "
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
		cf_perr(p, "relay host \"%.64s\": use smtp://, smtp+tls:// or "
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
			cf_perr(p, "relay host \"%.64s\": invalid label before "
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
		    !cf_valid_hostname(host))
			goto bad;
	}
	if (*end == ':') {
		if (cf_parse_ull(end + 1, &v, &c) == -1 || *c != '\0' ||
		    v == 0 || v > 65535) {
			cf_perr(p, "relay host \"%.64s\": port out of range (1 "
			    "to 65535)", url);
			return -1;
		}
		a->relay_port = (int)v;
	} else if (*end != '\0')
		goto bad;
	(void)strlcpy(a->relay_host, host, sizeof(a->relay_host));
	return 0;
 bad:
	cf_perr(p, "relay host \"%.64s\": invalid host name", url);
	return -1;
}

/* "example.org" or "*.example.org", already lowercased. */
static int
valid_domain_pattern(const char *s)
{
	if (s[0] == '*' && s[1] == '.')
		s += 2;
	return strlen(s) <= DOMAIN_MAX && cf_valid_hostname(s);
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
	while ((tok = cf_peek(p)) != NULL) {
		if (tok->type == TK_BANG) {
			cf_perr(p, "negation (!) is not supported in match");
			return -1;
		}
		p->pos++;
		if (cf_is_word(tok, "auth") && !r.auth) {
			r.auth = 1;
		} else if (cf_is_word(tok, "from") && !from) {
			from = 1;
			if (cf_kw_accept(p, "any"))
				r.from = FROM_ANY;
			else if (cf_kw_accept(p, "local"))
				r.from = FROM_LOCAL;
			else {
				cf_expected(p, cf_peek(p),
				    "any or local after from");
				return -1;
			}
		} else if (cf_is_word(tok, "for") && !for_) {
			for_ = 1;
			if (cf_kw_accept(p, "any"))
				r.for_ = FOR_ANY;
			else if (cf_kw_accept(p, "local"))
				r.for_ = FOR_LOCAL;
			else if (cf_kw_accept(p, "domain")) {
				if ((tok = cf_peek(p)) != NULL &&
				    tok->type == TK_TABLE) {
					r.for_ = FOR_DOMAIN_TABLE;
					if (cf_expect_table(p, "<table>",
					    &r.domains) == -1)
						return -1;
					continue;
				}
				r.for_ = FOR_DOMAIN;
				if (cf_expect_string(p, "a domain or <table>",
				    &s) == -1)
					return -1;
				if (strlcpy(r.domain, s, sizeof(r.domain)) >=
				    sizeof(r.domain))
					r.domain[0] = '\0';
				for (i = 0; r.domain[i] != '\0'; i++)
					r.domain[i] = (char)tolower(
					    (unsigned char)r.domain[i]);
				if (!valid_domain_pattern(r.domain)) {
					cf_perr(p, "invalid domain "
					    "\"%.64s\"", s);
					return -1;
				}
			} else {
				cf_expected(p, cf_peek(p),
				    "any, local or domain after for");
				return -1;
			}
		} else if (cf_is_word(tok, "action") && r.action == NULL) {
			if (cf_expect_string(p, "an action name", &s) == -1)
				return -1;
			TAILQ_FOREACH(a, &p->conf->actions, entry)
				if (strcmp(a->name, s) == 0)
					break;
			if (a == NULL) {
				cf_perr(p, "unknown action \"%.64s\"", s);
				return -1;
			}
			r.action = a;
		} else if (cf_is_word(tok, "auth") || cf_is_word(tok, "from") ||
		    cf_is_word(tok, "for") || cf_is_word(tok, "action")) {
			cf_perr(p, "%s given twice", tok->text);
			return -1;
		} else {
			cf_expected(p, tok, "auth, from, for or action");
			return -1;
		}
	}
	if (!from || !for_ || r.action == NULL) {
		cf_perr(p, "match needs from, for and action");
		return -1;
	}
	if (r.action->type == A_RELAY && !r.auth && r.from == FROM_ANY) {
		cf_perr(p, "this rule would make an open relay: add auth, or "
		    "use from local");
		return -1;
	}
	if ((rp = calloc(1, sizeof(*rp))) == NULL)
		fatal("calloc");
	*rp = r;
	TAILQ_INSERT_TAIL(&p->conf->rules, rp, entry);
	return 0;
}

/* The keywords of the grammar's tables, for "maild -K". */
void
cf_grammar_keywords(FILE *fp)
{
	size_t	 i;

	for (i = 0; i < nitems(statements); i++)
		fprintf(fp, "statement\t%s\n", statements[i].keyword);
	for (i = 0; i < nitems(schemes); i++)
		fprintf(fp, "value\t%s\n", schemes[i].prefix);
	for (i = 0; i < nitems(vars); i++)
		fprintf(fp, "variable\t%s\n", vars[i]);
	cf_listen_keywords(fp);
}
