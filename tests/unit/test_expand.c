/*
 * Unit tests for expand.c: rule matching and recipient expansion
 * through virtual, alias and userbase tables, and maildir_pattern.
 * The configuration is built by hand (not through config.c) so these
 * tests only depend on the expansion rules themselves.
 */
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "config.h"
#include "expand.h"
#include "maild.h"
#include "table.h"
#include "tap.h"

#define PATTERN		"/var/vmail/%{dest.domain:lowercase}/" \
			"%{dest.user:lowercase}"

static struct table	*mktable(const char *, const char *, int);
static struct action	*mkaction(const char *, enum action_type,
			    const char *, struct table *, struct table *,
			    struct table *);
static struct rule	*mkrule(int, enum rule_from, enum rule_for,
			    const char *, struct table *, struct action *);
static void		 setup(void);
static enum exp_result	 ex(const char *, int);
static int		 has_maildir(const char *, const char *);
static int		 has_relay(const char *);
static void		 test_rule_match(void);
static void		 test_virtual(void);
static void		 test_alias(void);
static void		 test_failures(void);
static void		 test_limits(void);
static void		 test_pattern(void);

static struct maild_conf	 conf;
static struct dest		 dests[MAX_EXPAND_DEST];
static size_t			 ndest;
static char			 err[256];
static struct table		*t_domains, *t_virtual, *t_alias, *t_users;
static struct action		*a_vusers, *a_local, *a_relay;
static struct rule		*r_auth_relay, *r_local_relay;

static const char virtual_txt[] =
    "# virtual users\n"
    "user@example.jp vmail\n"
    "bob@example.jp vmail\n"
    "Info@Example.jp user@example.jp\n"
    "multi@example.jp   user@example.jp ,bob@example.jp,  \n"
    "dup@example.jp user@example.jp, User@Example.JP, user@example.jp\n"
    "fwd@example.jp friend@remote.example\n"
    "split@example.jp user@example.jp, friend@remote.example\n"
    "self@example.jp self@example.jp, bob@example.jp\n"
    "special+x@example.jp vmail\n"
    "loop1@example.jp loop2@example.jp\n"
    "loop2@example.jp loop1@example.jp\n"
    "loopy@example.jp loopy2@example.jp, user@example.jp\n"
    "loopy2@example.jp loopy@example.jp\n"
    "deep0@example.jp deep1@example.jp\n"
    "deep1@example.jp deep2@example.jp\n"
    "deep2@example.jp deep3@example.jp\n"
    "deep3@example.jp deep4@example.jp\n"
    "deep4@example.jp deep5@example.jp\n"
    "deep5@example.jp deep6@example.jp\n"
    "deep6@example.jp deep7@example.jp\n"
    "deep7@example.jp deep8@example.jp\n"
    "deep8@example.jp deep9@example.jp\n"
    "deep9@example.jp deep10@example.jp\n"
    "deep10@example.jp deep11@example.jp\n"
    "deep11@example.jp vmail\n"
    "ok8@example.jp deep3@example.jp\n"
    "pipe@example.jp |/usr/bin/procmail\n"
    "file@example.jp /var/mail/file\n"
    "include@example.jp :include:/etc/list\n"
    "bad@example.jp not-an-address@\n"
    "ghost@example.jp nobody@example.jp\n"
    "empty@example.jp\n"
    "a/b@example.jp vmail\n"
    "postmaster vmail\n"
    "bare vmail\n"
    "notuser@example.jp v:mail\n"
    "@example.org catchall@example.jp\n"
    "catchall@example.jp vmail\n"
    "toroot@example.jp root@mail.example.jp\n"
    "j\xc3\xb6rg@example.jp vmail\n";

static const char alias_txt[] =
    "root: admin\n"
    "Postmaster: root\n"
    "admin: user@example.jp\n"
    "team: alice, bob\n"
    "carol: carol\n"
    "list: alice, dave@remote.example\n"
    "mbox: /var/mail/x\n"
    "prog: |/bin/cat\n"
    "badname: \"unterminated\n"
    "aloop: bloop\n"
    "bloop: aloop\n";

static const char users_txt[] =
    "alice@mail.example.jp\n"
    "bob@mail.example.jp\n"
    "carol@mail.example.jp\n";

static struct table *
mktable(const char *name, const char *text, int flags)
{
	struct table	*t;
	char		 e[256];

	if ((t = calloc(1, sizeof(*t))) == NULL)
		abort();
	strlcpy(t->name, name, sizeof(t->name));
	t->flags = flags;
	if (text != NULL && table_load_buf(t, text, strlen(text), e,
	    sizeof(e)) == -1) {
		printf("# %s\n", e);
		abort();
	}
	TAILQ_INSERT_TAIL(&conf.tables, t, entry);
	return t;
}

static struct action *
mkaction(const char *name, enum action_type type, const char *pattern,
    struct table *virtual, struct table *alias, struct table *userbase)
{
	struct action	*a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		abort();
	strlcpy(a->name, name, sizeof(a->name));
	a->type = type;
	if (pattern != NULL)
		strlcpy(a->pattern, pattern, sizeof(a->pattern));
	a->virtual = virtual;
	a->alias = alias;
	a->userbase = userbase;
	TAILQ_INSERT_TAIL(&conf.actions, a, entry);
	return a;
}

static struct rule *
mkrule(int auth, enum rule_from from, enum rule_for for_, const char *domain,
    struct table *domains, struct action *action)
{
	struct rule	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		abort();
	r->auth = auth;
	r->from = from;
	r->for_ = for_;
	if (domain != NULL)
		strlcpy(r->domain, domain, sizeof(r->domain));
	r->domains = domains;
	r->action = action;
	TAILQ_INSERT_TAIL(&conf.rules, r, entry);
	return r;
}

/*
 * Like the seed setup: virtual domains in a table, the host's own
 * domain with aliases and a user base, relaying for authenticated and
 * local clients only.
 */
static void
setup(void)
{
	memset(&conf, 0, sizeof(conf));
	strlcpy(conf.hostname, "mail.example.jp", sizeof(conf.hostname));
	TAILQ_INIT(&conf.pkis);
	TAILQ_INIT(&conf.tables);
	TAILQ_INIT(&conf.listeners);
	TAILQ_INIT(&conf.actions);
	TAILQ_INIT(&conf.rules);

	t_domains = mktable("domains", "example.jp\nexample.org\n", 0);
	t_virtual = mktable("vusers", virtual_txt, 0);
	t_alias = mktable("aliases", alias_txt, 0);
	t_users = mktable("users", users_txt, 0);

	a_vusers = mkaction("vusers", A_MAILDIR, PATTERN, t_virtual, NULL,
	    NULL);
	a_local = mkaction("local", A_MAILDIR,
	    "/var/vmail/local/%{dest.user:lowercase}", NULL, t_alias,
	    t_users);
	a_relay = mkaction("relay", A_RELAY, NULL, NULL, NULL, NULL);

	mkrule(0, FROM_ANY, FOR_DOMAIN_TABLE, NULL, t_domains, a_vusers);
	mkrule(0, FROM_ANY, FOR_LOCAL, NULL, NULL, a_local);
	r_auth_relay = mkrule(1, FROM_ANY, FOR_ANY, NULL, NULL, a_relay);
	r_local_relay = mkrule(0, FROM_LOCAL, FOR_ANY, NULL, NULL, a_relay);
}

static enum exp_result
ex(const char *rcpt, int flags)
{
	struct mailaddr	 a;

	memset(dests, 0, sizeof(dests));
	ndest = 12345;
	strlcpy(err, "unset", sizeof(err));
	if (addr_parse(rcpt, &a, ADDR_ALLOW_UTF8) == -1) {
		printf("# bad test address %s\n", rcpt);
		return -1;
	}
	return expand_rcpt(&conf, &a, flags, dests, MAX_EXPAND_DEST, &ndest,
	    err, sizeof(err));
}

/* A Maildir destination for addr with this path is among the results. */
static int
has_maildir(const char *addr, const char *path)
{
	char	 buf[ADDR_MAX + 1];
	size_t	 i;

	for (i = 0; i < ndest; i++) {
		if (dests[i].type != DEST_MAILDIR ||
		    addr_to_text(&dests[i].addr, buf, sizeof(buf)) == -1)
			continue;
		if (strcmp(buf, addr) == 0 && strcmp(dests[i].path, path) == 0)
			return 1;
	}
	return 0;
}

static int
has_relay(const char *addr)
{
	char	 buf[ADDR_MAX + 1];
	size_t	 i;

	for (i = 0; i < ndest; i++) {
		if (dests[i].type != DEST_RELAY ||
		    addr_to_text(&dests[i].addr, buf, sizeof(buf)) == -1)
			continue;
		/* A relay destination carries its action's name. */
		if (strcmp(buf, addr) == 0 &&
		    strcmp(dests[i].path, "relay") == 0)
			return 1;
	}
	return 0;
}

static void
test_rule_match(void)
{
	struct maild_conf	 c;
	struct mailaddr		 a;
	struct action		 act;
	struct rule		 r1, r2, r3, r4;
	struct table		 dom;
	char			 e[128];

	memset(&c, 0, sizeof(c));
	memset(&act, 0, sizeof(act));
	memset(&dom, 0, sizeof(dom));
	strlcpy(c.hostname, "Mail.Example.NET", sizeof(c.hostname));
	TAILQ_INIT(&c.rules);
	memset(&r1, 0, sizeof(r1));
	memset(&r2, 0, sizeof(r2));
	memset(&r3, 0, sizeof(r3));
	memset(&r4, 0, sizeof(r4));
	r1.for_ = FOR_DOMAIN;
	strlcpy(r1.domain, "*.sub.example", sizeof(r1.domain));
	r2.for_ = FOR_DOMAIN;
	strlcpy(r2.domain, "exact.example", sizeof(r2.domain));
	r3.for_ = FOR_LOCAL;
	r4.for_ = FOR_DOMAIN_TABLE;
	r4.domains = &dom;
	r1.action = r2.action = r3.action = r4.action = &act;
	TAILQ_INSERT_TAIL(&c.rules, &r1, entry);
	TAILQ_INSERT_TAIL(&c.rules, &r2, entry);
	TAILQ_INSERT_TAIL(&c.rules, &r3, entry);

	memset(&a, 0, sizeof(a));
	strlcpy(a.user, "u", sizeof(a.user));
	strlcpy(a.domain, "a.sub.example", sizeof(a.domain));
	ok(rule_match(&c, &a, 0) == &r1, "wildcard matches subdomain");
	strlcpy(a.domain, "x.y.SUB.example", sizeof(a.domain));
	ok(rule_match(&c, &a, 0) == &r1, "wildcard: deeper, any case");
	strlcpy(a.domain, "sub.example", sizeof(a.domain));
	ok(rule_match(&c, &a, 0) == NULL, "wildcard: not the apex");
	strlcpy(a.domain, "xsub.example", sizeof(a.domain));
	ok(rule_match(&c, &a, 0) == NULL, "wildcard: label boundary");
	strlcpy(a.domain, "EXACT.example", sizeof(a.domain));
	ok(rule_match(&c, &a, 0) == &r2, "exact domain, case-insensitive");
	strlcpy(a.domain, "a.exact.example", sizeof(a.domain));
	ok(rule_match(&c, &a, 0) == NULL, "exact: no subdomain");
	strlcpy(a.domain, "mail.example.net", sizeof(a.domain));
	ok(rule_match(&c, &a, 0) == &r3, "local: hostname");
	strlcpy(a.domain, "localhost", sizeof(a.domain));
	ok(rule_match(&c, &a, 0) == &r3, "local: localhost");
	strlcpy(a.domain, "example.net", sizeof(a.domain));
	ok(rule_match(&c, &a, 0) == NULL, "no rule");

	TAILQ_INSERT_TAIL(&c.rules, &r4, entry);
	ok(rule_match(&c, &a, 0) == NULL, "unloaded domain table: NULL");
	ok(table_load_buf(&dom, "Example.NET\n", 12, e, sizeof(e)) == 0,
	    "load domains");
	ok(rule_match(&c, &a, 0) == &r4, "domain table");

	r1.auth = 1;
	strlcpy(a.domain, "a.sub.example", sizeof(a.domain));
	ok(rule_match(&c, &a, 0) == NULL, "auth rule needs auth");
	ok(rule_match(&c, &a, EXP_FROM_LOCAL) == NULL, "local is not auth");
	ok(rule_match(&c, &a, EXP_AUTH) == &r1, "auth rule with auth");
	r1.auth = 0;
	r1.from = FROM_LOCAL;
	ok(rule_match(&c, &a, 0) == NULL, "from local needs local");
	ok(rule_match(&c, &a, EXP_AUTH) == NULL, "auth is not local");
	ok(rule_match(&c, &a, EXP_FROM_LOCAL) == &r1, "from local");
	r1.from = FROM_ANY;
	r3.for_ = FOR_ANY;
	strlcpy(a.domain, "anything.example", sizeof(a.domain));
	ok(rule_match(&c, &a, 0) == &r3, "for any");
	strlcpy(a.domain, "a.sub.example", sizeof(a.domain));
	ok(rule_match(&c, &a, 0) == &r1, "first match wins");
	table_clear(&dom);
}

static void
test_virtual(void)
{
	is_int(ex("user@example.jp", 0), EXP_OK, "exact virtual user");
	is_int(ndest, 1, "one destination");
	ok(has_maildir("user@example.jp", "/var/vmail/example.jp/user"),
	    "maildir of user");
	is_int(ex("USER@Example.JP", 0), EXP_OK, "case-insensitive lookup");
	ok(has_maildir("USER@example.jp", "/var/vmail/example.jp/user"),
	    "address kept, path lowercased");

	is_int(ex("user+tag@example.jp", 0), EXP_OK, "plus addressing");
	is_int(ndest, 1, "one destination");
	ok(has_maildir("user@example.jp", "/var/vmail/example.jp/user"),
	    "tag stripped");
	is_int(ex("bob+a+b@example.jp", 0), EXP_OK, "two plus signs");
	ok(has_maildir("bob@example.jp", "/var/vmail/example.jp/bob"),
	    "base is before the first +");
	is_int(ex("special+x@example.jp", 0), EXP_OK, "key with + tag");
	ok(has_maildir("special@example.jp",
	    "/var/vmail/example.jp/special"), "exact key, tag stripped");
	is_int(ex("special+y@example.jp", 0), EXP_NOTFOUND,
	    "other tag of a tagged key");

	is_int(ex("info@example.jp", 0), EXP_OK, "alias to virtual user");
	is_int(ndest, 1, "one destination");
	ok(has_maildir("user@example.jp", "/var/vmail/example.jp/user"),
	    "resolved recursively");
	is_int(ex("info+x@example.jp", 0), EXP_OK, "plus on an alias");
	ok(has_maildir("user@example.jp", "/var/vmail/example.jp/user"),
	    "tagged alias resolved");

	is_int(ex("multi@example.jp", 0), EXP_OK, "multiple targets");
	is_int(ndest, 2, "two destinations (blank items skipped)");
	ok(has_maildir("user@example.jp", "/var/vmail/example.jp/user") &&
	    has_maildir("bob@example.jp", "/var/vmail/example.jp/bob"),
	    "both");

	is_int(ex("dup@example.jp", 0), EXP_OK, "duplicate targets");
	is_int(ndest, 1, "deduplicated");

	is_int(ex("self@example.jp", 0), EXP_OK, "self and another");
	is_int(ndest, 2, "two destinations");
	ok(has_maildir("self@example.jp", "/var/vmail/example.jp/self") &&
	    has_maildir("bob@example.jp", "/var/vmail/example.jp/bob"),
	    "self is final");

	is_int(ex("fwd@example.jp", 0), EXP_OK, "forward to remote");
	is_int(ndest, 1, "one destination");
	ok(has_relay("friend@remote.example"), "relay destination");
	is_int(ex("split@example.jp", 0), EXP_OK, "local and remote");
	ok(ndest == 2 && has_relay("friend@remote.example") &&
	    has_maildir("user@example.jp", "/var/vmail/example.jp/user"),
	    "maildir and relay");

	is_int(ex("bare@example.jp", 0), EXP_OK, "bare user key");
	ok(has_maildir("bare@example.jp", "/var/vmail/example.jp/bare"),
	    "bare key names the owner");
	is_int(ex("bare@example.org", 0), EXP_OK, "bare key before catch-all");
	ok(has_maildir("bare@example.org", "/var/vmail/example.org/bare"),
	    "bare key in other domain");
	is_int(ex("bare+t@example.jp", 0), EXP_OK, "bare key, base");
	ok(has_maildir("bare@example.jp", "/var/vmail/example.jp/bare"),
	    "bare base, tag stripped");

	is_int(ex("random@example.org", 0), EXP_OK, "catch-all");
	is_int(ndest, 1, "one destination");
	ok(has_maildir("catchall@example.jp",
	    "/var/vmail/example.jp/catchall"), "catch-all target");
	is_int(ex("random+x@Example.ORG", 0), EXP_OK, "catch-all with tag");
	ok(has_maildir("catchall@example.jp",
	    "/var/vmail/example.jp/catchall"), "catch-all target again");

	is_int(ex("j\xc3\xb6rg@example.jp", 0), EXP_OK, "UTF-8 user");
	ok(has_maildir("j\xc3\xb6rg@example.jp",
	    "/var/vmail/example.jp/j\xc3\xb6rg"), "UTF-8 maildir");

	is_int(ex("toroot@example.jp", 0), EXP_OK, "virtual to local alias");
	ok(ndest == 1 &&
	    has_maildir("user@example.jp", "/var/vmail/example.jp/user"),
	    "root -> admin -> user");

	is_int(ex("nobody@example.jp", 0), EXP_NOTFOUND, "unknown user");
	ok(strstr(err, "nobody@example.jp") != NULL, "reason names it");
	is_int(ndest, 0, "no destinations");
	is_int(ex("ghost@example.jp", 0), EXP_NOTFOUND,
	    "alias to unknown user");
}

static void
test_alias(void)
{
	is_int(ex("alice@mail.example.jp", 0), EXP_OK, "userbase user");
	ok(ndest == 1 && has_maildir("alice@mail.example.jp",
	    "/var/vmail/local/alice"), "userbase maildir");
	is_int(ex("alice+news@mail.example.jp", 0), EXP_OK, "userbase + tag");
	ok(has_maildir("alice@mail.example.jp", "/var/vmail/local/alice"),
	    "userbase base");
	is_int(ex("alice@localhost", 0), EXP_NOTFOUND,
	    "userbase keyed by domain");
	is_int(ex("dave@mail.example.jp", 0), EXP_NOTFOUND,
	    "not in userbase");

	is_int(ex("root@mail.example.jp", 0), EXP_OK, "alias chain");
	ok(ndest == 1 &&
	    has_maildir("user@example.jp", "/var/vmail/example.jp/user"),
	    "root -> admin -> user@example.jp");
	is_int(ex("postmaster@localhost", 0), EXP_OK, "postmaster alias");
	ok(ndest == 1 &&
	    has_maildir("user@example.jp", "/var/vmail/example.jp/user"),
	    "postmaster -> root -> admin -> user");
	is_int(ex("root+x@mail.example.jp", 0), EXP_OK, "alias base");
	is_int(ex("team@mail.example.jp", 0), EXP_OK, "alias to two names");
	ok(ndest == 2 &&
	    has_maildir("alice@mail.example.jp", "/var/vmail/local/alice") &&
	    has_maildir("bob@mail.example.jp", "/var/vmail/local/bob"),
	    "bare names in current domain");
	is_int(ex("carol@mail.example.jp", 0), EXP_OK, "alias to itself");
	ok(ndest == 1 && has_maildir("carol@mail.example.jp",
	    "/var/vmail/local/carol"), "self alias is final");
	is_int(ex("list@mail.example.jp", 0), EXP_OK, "alias with remote");
	ok(ndest == 2 && has_relay("dave@remote.example") &&
	    has_maildir("alice@mail.example.jp", "/var/vmail/local/alice"),
	    "local and relayed");

	is_int(ex("mbox@mail.example.jp", 0), EXP_FAIL, "file alias");
	ok(strstr(err, "unsupported alias target") != NULL, "reason");
	is_int(ex("prog@mail.example.jp", 0), EXP_FAIL, "pipe alias");
	is_int(ex("badname@mail.example.jp", 0), EXP_FAIL, "bad alias name");
	ok(strstr(err, "invalid alias target") != NULL, "reason");
	is_int(ex("aloop@mail.example.jp", 0), EXP_FAIL, "alias loop");
	ok(strstr(err, "alias loop") != NULL, "loop reason");
}

static void
test_failures(void)
{
	struct rule	*r;

	is_int(ex("x@remote.example", 0), EXP_RELAY_DENIED, "relay denied");
	is_str(err, "relaying denied", "relay reason");
	is_int(ndest, 0, "no destinations");
	is_int(ex("x@remote.example", EXP_AUTH), EXP_OK, "auth relay");
	ok(ndest == 1 && has_relay("x@remote.example"), "relay dest");
	is_int(ex("x@remote.example", EXP_FROM_LOCAL), EXP_OK, "local relay");
	ok(ndest == 1 && has_relay("x@remote.example"), "relay dest");

	is_int(ex("pipe@example.jp", 0), EXP_FAIL, "pipe target");
	ok(strstr(err, "unsupported alias target") != NULL, "pipe reason");
	is_int(ex("file@example.jp", 0), EXP_FAIL, "file target");
	/* The table format eats the first ':', the name check catches it. */
	is_int(ex("include@example.jp", 0), EXP_FAIL, ":include: target");
	is_int(ex("notuser@example.jp", 0), EXP_FAIL, "bad owner name");
	ok(strstr(err, "invalid alias target") != NULL, "owner reason");
	is_int(ex("bad@example.jp", 0), EXP_FAIL, "bad address target");
	ok(strstr(err, "invalid alias target") != NULL, "bad reason");
	is_int(ex("empty@example.jp", 0), EXP_FAIL, "empty alias");
	is_str(err, "alias loop or empty alias", "empty reason");

	is_int(ex("loop1@example.jp", 0), EXP_FAIL, "two-address loop");
	is_str(err, "alias loop or empty alias", "loop reason");
	is_int(ndest, 0, "no destinations");
	is_int(ex("loopy@example.jp", 0), EXP_OK, "loop with an exit");
	ok(ndest == 1 &&
	    has_maildir("user@example.jp", "/var/vmail/example.jp/user"),
	    "exit reached, loop skipped");
	is_int(ex("ok8@example.jp", 0), EXP_OK, "chain of depth 9");
	ok(has_maildir("deep11@example.jp", "/var/vmail/example.jp/deep11"),
	    "end of the chain");
	is_int(ex("deep0@example.jp", 0), EXP_FAIL, "chain too deep");
	is_str(err, "alias loop", "depth reason");

	is_int(ex("a/b@example.jp", 0), EXP_FAIL, "slash in user");
	ok(strstr(err, "unsafe mailbox name") != NULL, "unsafe reason");

	/* Forwarding to a domain no rule covers. */
	TAILQ_REMOVE(&conf.rules, r_auth_relay, entry);
	TAILQ_REMOVE(&conf.rules, r_local_relay, entry);
	is_int(ex("fwd@example.jp", 0), EXP_FAIL, "target without rule");
	ok(strstr(err, "no rule") != NULL, "no rule reason");
	TAILQ_INSERT_TAIL(&conf.rules, r_auth_relay, entry);
	TAILQ_INSERT_TAIL(&conf.rules, r_local_relay, entry);

	/* Unreadable tables are temporary failures, never "unknown". */
	t_virtual->loaded = 0;
	is_int(ex("user@example.jp", 0), EXP_TEMPFAIL, "virtual unloaded");
	is_int(ndest, 0, "no destinations");
	t_virtual->loaded = 1;
	t_domains->loaded = 0;
	is_int(ex("user@example.jp", 0), EXP_TEMPFAIL, "domains unloaded");
	t_domains->loaded = 1;
	t_users->loaded = 0;
	is_int(ex("alice@mail.example.jp", 0), EXP_TEMPFAIL,
	    "userbase unloaded");
	is_int(ex("root@mail.example.jp", 0), EXP_OK,
	    "alias found before the userbase");
	t_users->loaded = 1;
	t_alias->loaded = 0;
	is_int(ex("toroot@example.jp", 0), EXP_TEMPFAIL,
	    "alias unloaded during recursion");
	t_alias->loaded = 1;

	/* A maildir action without any table knows nobody. */
	a_vusers->virtual = NULL;
	is_int(ex("user@example.jp", 0), EXP_NOTFOUND, "no tables");
	a_vusers->virtual = t_virtual;

	/* Unsafe patterns and domains. */
	strlcpy(a_vusers->pattern, "/var/vmail/%{dest.bogus}",
	    sizeof(a_vusers->pattern));
	is_int(ex("user@example.jp", 0), EXP_FAIL, "bad pattern");
	strlcpy(a_vusers->pattern, PATTERN, sizeof(a_vusers->pattern));
	r = TAILQ_FIRST(&conf.rules);
	ok(r->action == a_vusers, "first rule is vusers");
}

static void
test_limits(void)
{
	struct mailaddr	 a;
	struct table	*t;
	char		 buf[8192], line[64], e[256];
	size_t		 n;
	int		 i;

	/* max is honoured. */
	ok(addr_parse("multi@example.jp", &a, 0) == 0, "parse");
	is_int(expand_rcpt(&conf, &a, 0, dests, 1, &ndest, err,
	    sizeof(err)), EXP_FAIL, "more than max");
	is_str(err, "too many destinations", "max reason");
	is_int(ndest, 0, "n is 0 on failure");
	is_int(expand_rcpt(&conf, &a, 0, dests, 2, &n, err, sizeof(err)),
	    EXP_OK, "exactly max");
	is_int(n, 2, "two");

	/* A list of MAX_EXPAND_DEST + 1 distinct mailboxes. */
	strlcpy(buf, "big@example.jp ", sizeof(buf));
	for (i = 0; i <= MAX_EXPAND_DEST; i++) {
		snprintf(line, sizeof(line), "%sm%d@example.jp",
		    i ? "," : "", i);
		strlcat(buf, line, sizeof(buf));
	}
	strlcat(buf, "\n", sizeof(buf));
	for (i = 0; i <= MAX_EXPAND_DEST; i++) {
		snprintf(line, sizeof(line), "m%d@example.jp vmail\n", i);
		strlcat(buf, line, sizeof(buf));
	}
	strlcat(buf, "@example.jp vmail\n", sizeof(buf));
	t = mktable("big", NULL, 0);
	ok(table_load_buf(t, buf, strlen(buf), e, sizeof(e)) == 0,
	    "big table");
	a_vusers->virtual = t;
	is_int(ex("big@example.jp", 0), EXP_FAIL, "101 destinations");
	is_str(err, "too many destinations", "fan-out reason");
	/* A catch-all to the recipient's own Maildir would make one for
	 * every name anyone makes up: only named users get one. */
	is_int(ex("other@example.jp", 0), EXP_NOTFOUND, "catch-all vmail: "
	    "refused");
	is_str(err, "no such user: other", "... as an unknown user");
	is_int(ex("m7@example.jp", 0), EXP_OK, "a named user in that table");
	ok(has_maildir("m7@example.jp", "/var/vmail/example.jp/m7"),
	    "... gets their Maildir");
	a_vusers->virtual = t_virtual;
}

static void
test_pattern(void)
{
	struct mailaddr	 a;
	char		 buf[PATH_MAX], small[16];

	memset(&a, 0, sizeof(a));
	strlcpy(a.user, "John.Doe", sizeof(a.user));
	strlcpy(a.domain, "example.org", sizeof(a.domain));
	ok(maildir_pattern(PATTERN, &a, buf, sizeof(buf)) == 0, "pattern");
	is_str(buf, "/var/vmail/example.org/john.doe", "lowercased");
	ok(maildir_pattern("/m/%{dest.domain}/%{dest.user}/x", &a, buf,
	    sizeof(buf)) == 0, "no lowercase");
	is_str(buf, "/m/example.org/John.Doe/x", "case kept");
	ok(maildir_pattern("/plain/path", &a, buf, sizeof(buf)) == 0,
	    "no substitution");
	is_str(buf, "/plain/path", "copied");
	ok(maildir_pattern("/a%b/%{dest.user}%", &a, buf, sizeof(buf)) == 0,
	    "lone %% kept");
	is_str(buf, "/a%b/John.Doe%", "literal %%");
	ok(maildir_pattern("/%{dest.user}", &a, small, 5) == -1,
	    "does not fit");
	ok(maildir_pattern("/0123456789abcdef", &a, small,
	    sizeof(small)) == -1, "literal does not fit");
	ok(maildir_pattern("/%{dest.user}", &a, small, 10) == 0,
	    "fits exactly");
	is_str(small, "/John.Doe", "exact fit");
	ok(maildir_pattern("/%{dest.user}", &a, small, 9) == -1,
	    "one byte short");
	ok(maildir_pattern("", &a, small, sizeof(small)) == 0, "empty");
	ok(maildir_pattern("/x", &a, small, 0) == -1, "zero-size buffer");

	ok(maildir_pattern("/%{dest.user", &a, buf, sizeof(buf)) == -1,
	    "unterminated");
	ok(maildir_pattern("/%{dest.host}", &a, buf, sizeof(buf)) == -1,
	    "unknown variable");
	ok(maildir_pattern("/%{dest.user:upper}", &a, buf, sizeof(buf)) == -1,
	    "unknown modifier");
	ok(maildir_pattern("/%{}", &a, buf, sizeof(buf)) == -1, "empty name");
	ok(maildir_pattern("/%{:lowercase}", &a, buf, sizeof(buf)) == -1,
	    "modifier only");

	strlcpy(a.user, "../x", sizeof(a.user));
	ok(maildir_pattern(PATTERN, &a, buf, sizeof(buf)) == -1,
	    "../x refused");
	strlcpy(a.user, "..", sizeof(a.user));
	ok(maildir_pattern(PATTERN, &a, buf, sizeof(buf)) == -1, ".. refused");
	strlcpy(a.user, ".hidden", sizeof(a.user));
	ok(maildir_pattern(PATTERN, &a, buf, sizeof(buf)) == -1,
	    "leading dot refused");
	strlcpy(a.user, "a/b", sizeof(a.user));
	ok(maildir_pattern(PATTERN, &a, buf, sizeof(buf)) == -1,
	    "slash refused");
	strlcpy(a.user, "a\nb", sizeof(a.user));
	ok(maildir_pattern(PATTERN, &a, buf, sizeof(buf)) == -1,
	    "newline refused");
	strlcpy(a.user, "\"..\"", sizeof(a.user));
	ok(maildir_pattern(PATTERN, &a, buf, sizeof(buf)) == 0,
	    "quoted dots are a name");
	strlcpy(a.user, "ok", sizeof(a.user));
	a.domain[0] = '\0';
	ok(maildir_pattern(PATTERN, &a, buf, sizeof(buf)) == -1,
	    "empty domain refused");
	ok(maildir_pattern("/m/%{dest.user}", &a, buf, sizeof(buf)) == 0,
	    "domain unused: fine");
	strlcpy(a.domain, "..", sizeof(a.domain));
	ok(maildir_pattern(PATTERN, &a, buf, sizeof(buf)) == -1,
	    "domain .. refused");
}

int
main(void)
{
	setup();
	test_rule_match();
	test_virtual();
	test_alias();
	test_failures();
	test_limits();
	test_pattern();
	return done_testing();
}
