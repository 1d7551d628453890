/*
 * mail.conf in canonical form, for "maild -nv" and the golden tests
 * (tests/data/conf): stable, and itself a valid configuration that
 * parses back to the same dump.  One statement per line: first every
 * global setting in the order of the settings table, defaults included
 * (config_settings.c), then, each in file order:
 *
 *	pki "NAME" cert "FILE" key "FILE"	(never the key itself)
 *	dkim "DOMAIN" selector "S" key "FILE"
 *	dkim local domain "DOMAIN"
 *	table "NAME" "FILE"[	# secret]	(secret: used by auth)
 *	dnsbl|dnswl "ZONE" weight N [match A[-B] ...] [message "TEXT"]
 *	quota storage N|none messages N|none [table <T>]
 *	    over temporary|permanent
 *	listen on ADDR port N [smtps|imaps|imap] [tls|tls-require]
 *	    [pki "NAME"] [ciphers "C"] hostname "H" [auth <T>] [mask-src]
 *	    [any-sender] [from-mismatch unsigned]
 *	    [check rdns|check fcrdns|check { rdns, fcrdns }]
 *	    [dnsbl yes (with auth)|dnsbl no (without)]
 *	action "NAME" relay [tls verify|tls require]
 *	    [host "SCHEME://[LABEL@]HOST:PORT" [auth <T>]] [ciphers "C"]
 *	action "NAME" maildir "PATTERN" [virtual <T>] [alias <T>]
 *	    [userbase <T>]
 *	match [auth ]from any|local for any|local|domain "D"|domain <T>
 *	    action "NAME"
 *
 * A listener is printed once per address, numerically (IPv4 first for
 * "*", "localhost" and interfaces), each on one line.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "config_priv.h"
#include "util.h"

static void	 dump_kv(FILE *, const char *, const char *);
static void	 dump_keys(const struct maild_conf *, FILE *);
static void	 dump_listener(const struct listener *, FILE *);
static void	 dump_action(const struct action *, FILE *);
static void	 dump_relay(const struct action *, FILE *);
static void	 dump_rule(const struct rule *, FILE *);

void
config_dump(const struct maild_conf *c, FILE *fp)
{
	struct table	*t;
	struct listener	*l;
	struct action	*a;
	struct rule	*r;

	cf_settings_dump(c, fp);
	dump_keys(c, fp);
	TAILQ_FOREACH(t, &c->tables, entry) {
		dump_kv(fp, "table", t->name);
		fputc(' ', fp);
		cf_dump_str(fp, t->path);
		fprintf(fp, "%s\n", (t->flags & T_SECRET) ? "\t# secret" : "");
	}
	cf_dnsbl_dump(c, fp);
	cf_quota_dump(c, fp);
	TAILQ_FOREACH(l, &c->listeners, entry)
		dump_listener(l, fp);
	TAILQ_FOREACH(a, &c->actions, entry)
		dump_action(a, fp);
	TAILQ_FOREACH(r, &c->rules, entry)
		dump_rule(r, fp);
}

/* WORD "VALUE" */
static void
dump_kv(FILE *fp, const char *word, const char *value)
{
	fprintf(fp, "%s ", word);
	cf_dump_str(fp, value);
}

/* pki and dkim: the file names, never the keys. */
static void
dump_keys(const struct maild_conf *c, FILE *fp)
{
	struct dkimlocal *dl;
	struct dkimconf	*d;
	struct pki	*pki;

	TAILQ_FOREACH(pki, &c->pkis, entry) {
		dump_kv(fp, "pki", pki->name);
		dump_kv(fp, " cert", pki->cert_file);
		dump_kv(fp, " key", pki->key_file);
		fprintf(fp, "\n");
	}
	TAILQ_FOREACH(d, &c->dkims, entry) {
		dump_kv(fp, "dkim", d->domain);
		dump_kv(fp, " selector", d->selector);
		dump_kv(fp, " key", d->key_file);
		fprintf(fp, "\n");
	}
	TAILQ_FOREACH(dl, &c->dkim_local, entry) {
		dump_kv(fp, "dkim local domain", dl->domain);
		fprintf(fp, "\n");
	}
}

static void
dump_listener(const struct listener *l, FILE *fp)
{
	char	 host[NI_MAXHOST];

	cf_addr_text(&l->ss, l->sslen, host, sizeof(host));
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
	if (l->pki[0] != '\0')
		dump_kv(fp, " pki", l->pki);
	if (l->ciphers[0] != '\0')
		dump_kv(fp, " ciphers", l->ciphers);
	dump_kv(fp, " hostname", l->hostname);
	if (l->flags & L_AUTH)
		fprintf(fp, " auth <%s>", l->authtable);
	if (l->flags & L_MASKSRC)
		fprintf(fp, " mask-src");
	if (l->flags & L_ANYSENDER)
		fprintf(fp, " any-sender");
	if (l->flags & L_FROM_UNSIGNED)
		fprintf(fp, " from-mismatch unsigned");
	if (l->flags & L_NO_MSGAUTH)
		fprintf(fp, " message-auth no");
	/* Only when not the default: yes without auth, no with it. */
	if (l->proto == PROTO_SMTP && (l->flags & L_AUTH) &&
	    (l->flags & L_DNSBL))
		fprintf(fp, " dnsbl yes");
	else if (l->proto == PROTO_SMTP && !(l->flags & L_AUTH) &&
	    !(l->flags & L_DNSBL))
		fprintf(fp, " dnsbl no");
	if (l->flags & L_NO_FILTER)
		fprintf(fp, " filter no");
	if ((l->flags & L_CHECK_RDNS) && (l->flags & L_CHECK_FCRDNS))
		fprintf(fp, " check { rdns, fcrdns }");
	else if (l->flags & L_CHECK_RDNS)
		fprintf(fp, " check rdns");
	else if (l->flags & L_CHECK_FCRDNS)
		fprintf(fp, " check fcrdns");
	fprintf(fp, "\n");
}

static void
dump_action(const struct action *a, FILE *fp)
{
	dump_kv(fp, "action", a->name);
	if (a->type == A_RELAY) {
		dump_relay(a, fp);
		return;
	}
	dump_kv(fp, " maildir", a->pattern);
	if (a->virtual != NULL)
		fprintf(fp, " virtual <%s>", a->virtual->name);
	if (a->alias != NULL)
		fprintf(fp, " alias <%s>", a->alias->name);
	if (a->userbase != NULL)
		fprintf(fp, " userbase <%s>", a->userbase->name);
	fprintf(fp, "\n");
}

static void
dump_relay(const struct action *a, FILE *fp)
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
		dump_kv(fp, " host", url);
	}
	if (a->relay_auth != NULL)
		fprintf(fp, " auth <%s>", a->relay_auth->name);
	if (a->relay_ciphers[0] != '\0')
		dump_kv(fp, " ciphers", a->relay_ciphers);
	fprintf(fp, "\n");
}

static void
dump_rule(const struct rule *r, FILE *fp)
{
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
		dump_kv(fp, "domain", r->domain);
		break;
	case FOR_DOMAIN_TABLE:
		fprintf(fp, "domain <%s>", r->domains->name);
		break;
	}
	dump_kv(fp, " action", r->action->name);
	fprintf(fp, "\n");
}

void
cf_dump_str(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

void
cf_addr_text(const struct sockaddr_storage *ss, socklen_t len, char *buf,
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
