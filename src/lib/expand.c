/*
 * Recipient expansion: pick the rule a recipient falls under, then
 * resolve the address through its action's virtual, alias and userbase
 * tables into final destinations (Maildir paths or addresses to relay
 * to).  Expansion recurses through alias targets, detects loops on the
 * current path, bounds depth and fan-out, and never lets a table
 * that could not be read look like "no such user".
 */
#include <sys/types.h>

#include <string.h>
#include <strings.h>

#include "address.h"
#include "config.h"
#include "expand.h"
#include "maild.h"
#include "table.h"

/* SRC_CATCHALL: the virtual table's "@domain" entry. */
enum source { SRC_VIRTUAL, SRC_CATCHALL, SRC_ALIAS, SRC_USERBASE };

struct expctx {
	const struct maild_conf	*conf;
	struct dest		*dests;
	size_t			 max;
	size_t			 n;
	/* Addresses (lowercased) on the current expansion path. */
	char			 path[MAX_EXPAND_DEPTH + 1][ADDR_MAX + 1];
	char			*err;
	size_t			 errlen;
};

static struct rule	*match(const struct maild_conf *,
			    const struct mailaddr *, int, int *);
static int		 domain_match(const struct maild_conf *,
			    const struct rule *, const char *);
static void		 strip_tag(const struct mailaddr *, struct mailaddr *);
static int		 lookup(const struct table *, const char *,
			    const char *, const char **);
static enum exp_result	 add_dest(struct expctx *, enum dest_type,
			    const struct mailaddr *, const struct action *);
static enum exp_result	 expand_addr(struct expctx *, const struct action *,
			    const struct mailaddr *, int);
static enum exp_result	 expand_item(struct expctx *, const struct action *,
			    const struct mailaddr *, enum source,
			    const char *, size_t, int);
static enum exp_result	 expand_target(struct expctx *,
			    const struct mailaddr *, const struct mailaddr *,
			    const struct action *, int);
static enum exp_result	 fail(struct expctx *, enum exp_result,
			    const char *, const char *);

/* 1 if rule's for-clause covers domain, 0 if not, -1 table unreadable. */
static int
domain_match(const struct maild_conf *conf, const struct rule *r,
    const char *domain)
{
	size_t	 dl, rl;

	switch (r->for_) {
	case FOR_ANY:
		return 1;
	case FOR_LOCAL:
		return strcasecmp(domain, conf->hostname) == 0 ||
		    strcasecmp(domain, "localhost") == 0;
	case FOR_DOMAIN:
		if (strncmp(r->domain, "*.", 2) == 0) {
			/* "*.example.org": any subdomain, not the apex. */
			dl = strlen(domain);
			rl = strlen(r->domain) - 1;	/* ".example.org" */
			return dl > rl &&
			    strcasecmp(domain + dl - rl, r->domain + 1) == 0;
		}
		return strcasecmp(domain, r->domain) == 0;
	case FOR_DOMAIN_TABLE:
		if (r->domains == NULL)
			return 0;
		return table_lookup(r->domains, domain, NULL);
	}
	return 0;
}

/*
 * The first matching rule; *tempfail is set when a domain table that
 * had to be consulted could not be read (the answer is then unknown,
 * not "no rule").
 */
static struct rule *
match(const struct maild_conf *conf, const struct mailaddr *rcpt, int flags,
    int *tempfail)
{
	struct rule	*r;
	int		 m;

	*tempfail = 0;
	TAILQ_FOREACH(r, &conf->rules, entry) {
		if (r->auth && !(flags & EXP_AUTH))
			continue;
		if (r->from != FROM_ANY && !(flags & EXP_FROM_LOCAL))
			continue;
		if ((m = domain_match(conf, r, rcpt->domain)) == -1) {
			*tempfail = 1;
			return NULL;
		}
		if (m == 1)
			return r;
	}
	return NULL;
}

struct rule *
rule_match(const struct maild_conf *conf, const struct mailaddr *rcpt,
    int flags)
{
	int	 tempfail;

	return match(conf, rcpt, flags, &tempfail);
}

/*
 * The domain that mail to a bare "postmaster" (RFC 5321 4.5.1) goes to
 * when the host name is not one we deliver for: the first domain a rule
 * delivers to a Maildir.  NULL when there is none.
 */
const char *
rule_primary_domain(const struct maild_conf *conf)
{
	const struct rule	*r;

	TAILQ_FOREACH(r, &conf->rules, entry)
		if (r->for_ == FOR_DOMAIN && r->domain[0] != '*' &&
		    r->action->type == A_MAILDIR)
			return r->domain;
	return NULL;
}

int
rule_own_domain(const struct maild_conf *conf, const char *domain)
{
	const struct rule	*r;
	const struct dkimconf	*d;

	if (strcasecmp(domain, conf->hostname) == 0)
		return 1;
	TAILQ_FOREACH(r, &conf->rules, entry)
		if (r->action->type == A_MAILDIR &&
		    (r->for_ == FOR_LOCAL || r->for_ == FOR_DOMAIN) &&
		    domain_match(conf, r, domain) == 1)
			return 1;
	TAILQ_FOREACH(d, &conf->dkims, entry)
		if (strcasecmp(domain, d->domain) == 0)
			return 1;
	return 0;
}

static enum exp_result
fail(struct expctx *c, enum exp_result r, const char *msg, const char *arg)
{
	if (arg != NULL)
		(void)snprintf(c->err, c->errlen, "%s: %s", msg, arg);
	else
		(void)strlcpy(c->err, msg, c->errlen);
	return r;
}

/* "user+tag" -> "user"; quoted local parts and "+tag" stay as they are. */
static void
strip_tag(const struct mailaddr *a, struct mailaddr *out)
{
	char	*plus;

	*out = *a;
	if (out->user[0] == '"')
		return;
	if ((plus = strchr(out->user, '+')) != NULL && plus != out->user)
		*plus = '\0';
}

/* Look up "user" or "user@domain" (domain may be NULL). */
static int
lookup(const struct table *t, const char *user, const char *domain,
    const char **valp)
{
	char	 key[ADDR_MAX + 2];
	int	 r;

	if (domain != NULL)
		r = snprintf(key, sizeof(key), "%s@%s", user, domain);
	else
		r = snprintf(key, sizeof(key), "%s", user);
	if (r < 0 || (size_t)r >= sizeof(key))
		return 0;
	return table_lookup(t, key, valp);
}

static enum exp_result
add_dest(struct expctx *c, enum dest_type type, const struct mailaddr *a,
    const struct action *action)
{
	struct dest	 d;
	size_t		 i;

	memset(&d, 0, sizeof(d));
	d.type = type;
	d.addr = *a;
	if (type == DEST_MAILDIR && maildir_pattern(action->pattern, a,
	    d.path, sizeof(d.path)) == -1)
		return fail(c, EXP_FAIL, "unsafe mailbox name", a->user);
	/* The relay applies this action's TLS policy and smarthost. */
	if (type == DEST_RELAY)
		(void)strlcpy(d.path, action->name, sizeof(d.path));
	for (i = 0; i < c->n; i++) {
		if (c->dests[i].type != type)
			continue;
		if (type == DEST_MAILDIR &&
		    strcmp(c->dests[i].path, d.path) == 0)
			return EXP_OK;
		if (type == DEST_RELAY &&
		    strcmp(c->dests[i].addr.user, a->user) == 0 &&
		    strcasecmp(c->dests[i].addr.domain, a->domain) == 0)
			return EXP_OK;
	}
	if (c->n >= c->max)
		return fail(c, EXP_FAIL, "too many destinations", NULL);
	c->dests[c->n++] = d;
	return EXP_OK;
}

/*
 * Target t of an alias of cur: itself is final, otherwise it goes
 * through its own rule (admin-configured forwarding may relay).
 */
static enum exp_result
expand_target(struct expctx *c, const struct mailaddr *cur,
    const struct mailaddr *t, const struct action *action, int depth)
{
	struct mailaddr	 base;
	struct rule	*r;
	int		 tempfail;

	strip_tag(cur, &base);
	if ((strcasecmp(t->user, cur->user) == 0 ||
	    strcasecmp(t->user, base.user) == 0) &&
	    strcasecmp(t->domain, cur->domain) == 0)
		return add_dest(c, DEST_MAILDIR, &base, action);
	r = match(c->conf, t, EXP_FROM_LOCAL | EXP_AUTH, &tempfail);
	if (tempfail)
		return fail(c, EXP_TEMPFAIL, "domain table unavailable", NULL);
	if (r == NULL)
		return fail(c, EXP_FAIL, "no rule for alias target",
		    t->domain);
	if (r->action->type == A_RELAY)
		return add_dest(c, DEST_RELAY, t, r->action);
	return expand_addr(c, r->action, t, depth + 1);
}

/* One item of a table value found for cur through src. */
static enum exp_result
expand_item(struct expctx *c, const struct action *action,
    const struct mailaddr *cur, enum source src, const char *s, size_t len,
    int depth)
{
	struct mailaddr	 t, base;
	char		 item[ADDR_MAX + 1];

	if (len > ADDR_MAX)
		return fail(c, EXP_FAIL, "invalid alias target", NULL);
	memcpy(item, s, len);
	item[len] = '\0';
	if (strchr(item, '@') != NULL) {
		if (addr_parse(item, &t, ADDR_ALLOW_UTF8) == -1)
			return fail(c, EXP_FAIL, "invalid alias target", item);
		return expand_target(c, cur, &t, action, depth);
	}
	if (item[0] == '/' || item[0] == '|' || item[0] == ':')
		return fail(c, EXP_FAIL, "unsupported alias target", item);
	/* The table format eats a leading ':' (":include:"): check names. */
	if (!addr_valid_localpart(item, ADDR_ALLOW_UTF8))
		return fail(c, EXP_FAIL, "invalid alias target", item);
	/*
	 * "@example.jp vmail" would give every local part anyone makes up
	 * a Maildir of its own ("a b", "-rf", ...): only users a table
	 * names get one.
	 */
	if (src == SRC_CATCHALL) {
		log_info("catch-all @%s delivers to the recipient's own "
		    "Maildir: refused %s; name the users in the table, or "
		    "point the catch-all at one address", cur->domain,
		    cur->user);
		return fail(c, EXP_NOTFOUND, "no such user", cur->user);
	}
	if (src != SRC_ALIAS) {
		/* "user@example.jp vmail": names the owner, mail stays. */
		strip_tag(cur, &base);
		return add_dest(c, DEST_MAILDIR, &base, action);
	}
	/* An alias "bob" means bob at the domain being expanded. */
	memset(&t, 0, sizeof(t));
	(void)strlcpy(t.user, item, sizeof(t.user));
	(void)strlcpy(t.domain, cur->domain, sizeof(t.domain));
	return expand_target(c, cur, &t, action, depth);
}

static enum exp_result
expand_addr(struct expctx *c, const struct action *action,
    const struct mailaddr *a, int depth)
{
	struct mailaddr	 base;
	const char	*val = NULL, *p, *e;
	char		 text[ADDR_MAX + 1];
	enum source	 src = SRC_VIRTUAL;
	enum exp_result	 r;
	size_t		 ilen;
	int		 i, f = 0, has_base;

	if (depth > MAX_EXPAND_DEPTH)
		return fail(c, EXP_FAIL, "alias loop", NULL);
	if (addr_to_text(a, text, sizeof(text)) == -1)
		return fail(c, EXP_FAIL, "address too long", NULL);
	str_lower(text);
	for (i = 0; i < depth; i++)
		if (strcmp(c->path[i], text) == 0)
			return EXP_OK;
	(void)strlcpy(c->path[depth], text, sizeof(c->path[depth]));

	strip_tag(a, &base);
	has_base = strcmp(base.user, a->user) != 0;

	if (action->virtual != NULL) {
		f = lookup(action->virtual, a->user, a->domain, &val);
		if (f == 0 && has_base)
			f = lookup(action->virtual, base.user, a->domain, &val);
		if (f == 0)
			f = lookup(action->virtual, a->user, NULL, &val);
		if (f == 0 && has_base)
			f = lookup(action->virtual, base.user, NULL, &val);
		if (f == 0 && (f = lookup(action->virtual, "", a->domain,
		    &val)) == 1)
			src = SRC_CATCHALL;
	}
	if (f == 0 && action->alias != NULL) {
		src = SRC_ALIAS;
		f = lookup(action->alias, a->user, NULL, &val);
		if (f == 0 && has_base)
			f = lookup(action->alias, base.user, NULL, &val);
	}
	if (f == 0 && action->userbase != NULL) {
		src = SRC_USERBASE;
		f = lookup(action->userbase, a->user, a->domain, NULL);
		if (f == 0 && has_base)
			f = lookup(action->userbase, base.user, a->domain,
			    NULL);
		if (f == 1)
			return add_dest(c, DEST_MAILDIR, &base, action);
	}
	if (f == -1)
		return fail(c, EXP_TEMPFAIL, "table unavailable", NULL);
	if (f == 0)
		return fail(c, EXP_NOTFOUND, "no such user", text);

	for (p = val; ; p = e + 1) {
		if ((e = strchr(p, ',')) == NULL)
			e = p + strlen(p);
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		ilen = e - p;
		while (ilen > 0 && (p[ilen - 1] == ' ' || p[ilen - 1] == '\t'))
			ilen--;
		/* Empty items ("a, , b", a trailing comma) are skipped. */
		if (ilen > 0 && (r = expand_item(c, action, a, src, p, ilen,
		    depth)) != EXP_OK)
			return r;
		if (*e == '\0')
			break;
	}
	return EXP_OK;
}

enum exp_result
expand_rcpt(const struct maild_conf *conf, const struct mailaddr *rcpt,
    int flags, struct dest *dests, size_t max, size_t *np, char *err,
    size_t errlen)
{
	struct expctx	 c;
	struct rule	*r;
	enum exp_result	 res;
	int		 tempfail;

	*np = 0;
	if (errlen > 0)
		err[0] = '\0';
	memset(&c, 0, sizeof(c));
	c.conf = conf;
	c.dests = dests;
	c.max = max;
	c.err = err;
	c.errlen = errlen;

	r = match(conf, rcpt, flags, &tempfail);
	if (tempfail)
		return fail(&c, EXP_TEMPFAIL, "domain table unavailable", NULL);
	if (r == NULL)
		return fail(&c, EXP_RELAY_DENIED, "relaying denied", NULL);
	if (r->action->type == A_RELAY)
		res = add_dest(&c, DEST_RELAY, rcpt, r->action);
	else
		res = expand_addr(&c, r->action, rcpt, 0);
	if (res == EXP_OK && c.n == 0)
		res = fail(&c, EXP_FAIL, "alias loop or empty alias", NULL);
	if (res == EXP_OK)
		*np = c.n;
	return res;
}

int
maildir_pattern(const char *pattern, const struct mailaddr *a, char *buf,
    size_t len)
{
	char		 val[ADDR_MAX + 1];
	const char	*p, *end, *name;
	size_t		 o = 0, n, nlen;
	int		 lower;

	if (len == 0)
		return -1;
	for (p = pattern; *p != '\0'; p++) {
		if (p[0] != '%' || p[1] != '{') {
			if (o + 1 >= len)
				return -1;
			buf[o++] = *p;
			continue;
		}
		name = p + 2;
		if ((end = strchr(name, '}')) == NULL)
			return -1;
		nlen = end - name;
		lower = 0;
		if (nlen > 10 && strncmp(end - 10, ":lowercase", 10) == 0) {
			lower = 1;
			nlen -= 10;
		}
		if (nlen == 9 && strncmp(name, "dest.user", 9) == 0)
			(void)strlcpy(val, a->user, sizeof(val));
		else if (nlen == 11 && strncmp(name, "dest.domain", 11) == 0)
			(void)strlcpy(val, a->domain, sizeof(val));
		else
			return -1;
		if (lower)
			str_lower(val);
		if (!path_component_safe(val))
			return -1;
		n = strlen(val);
		if (o + n >= len)
			return -1;
		memcpy(buf + o, val, n);
		o += n;
		p = end;
	}
	buf[o] = '\0';
	return 0;
}
