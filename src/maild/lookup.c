/*
 * The lookup process: it holds the tables (passwd, virtuals, aliases)
 * and answers the questions that need them.  For each RCPT it expands
 * the recipient and submits the destinations straight to the queue, so
 * the network-facing smtp process never chooses where mail goes.  It
 * checks passwords, so no network-facing process holds a hash.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "dns.h"
#include "expand.h"
#include "lookup.h"
#include "passwd.h"
#include "proc.h"
#include "table.h"
#include "util.h"

static void	lookup_table(struct maild_conf *, struct ipc_msg *);
static void	lookup_dummy(struct table *);
static void	dummy_count(const char *, const char *, void *);
static void	lookup_rcpt(struct ipc_msg *);
static void	lookup_conf_table(struct ipc_msg *);
static void	lookup_conf_end(struct ipc_msg *);
static enum exp_result lookup_postmaster(struct mailaddr *, uint32_t,
		    struct dest *, size_t *, char *, size_t);
static void	lookup_auth(struct ipc_msg *);
static void	lookup_sender(struct ipc_msg *);
static void	lookup_fcrdns(struct ipc_msg *);
static void	lookup_fcrdns_done(void *, enum dns_fcrdns, const char *);
static void	lookup_mx(struct ipc_msg *);
static void	lookup_host(struct ipc_msg *);
static void	lookup_mx_done(void *, enum dns_status, const struct dns_host *,
		    size_t);
static int	lookup_maildir(const struct mailaddr *, char *, size_t);

static int			 ready;

void
lookup_main(void)
{
	config_purge_keys(conf);
	/* The system resolver's configuration is read before chroot. */
	if (dns_init(conf->resolver[0] != '\0' ? conf->resolver : NULL,
	    conf->resolver_port) == -1)
		fatalx("lookup: cannot set up the resolver");
	proc_drop(MAILD_EMPTY);
	proc_setup_peers();
	if (pledge("stdio inet dns recvfd", NULL) == -1)
		fatal("pledge");
	event_dispatch();
}

static void
lookup_table(struct maild_conf *c, struct ipc_msg *m)
{
	struct table	*t;
	char		 name[NAME_MAX_CONF], err[512];
	int		 fd;

	ipc_get_str(m, name, sizeof(name));
	ipc_end(m);
	fd = ipc_get_fd(m);
	if ((t = config_table(c, name)) == NULL)
		fatalx("lookup: parent sent unknown table %s", name);
	if (table_load_fd(t, fd, err, sizeof(err)) == -1)
		log_warnx("%s", err);	/* stays unloaded: 4xx */
	else {
		log_debug("table %s: %zu entries", t->name, t->count);
		if ((t->flags & (T_SECRET | T_RELAY)) == T_SECRET)
			lookup_dummy(t);
	}
	close(fd);
}

#define COST_CLASSES	8

struct cost_count {
	struct {
		char		 key[64];
		const char	*value;		/* the first of its class */
		size_t		 n;
	}		 class[COST_CLASSES];
	size_t		 nclass, total;
};

static void
dummy_count(const char *key, const char *value, void *arg)
{
	struct cost_count	*cc = arg;
	char			 hash[PASSWD_HASH_MAX], ck[64];
	size_t			 i;

	(void)key;
	cc->total++;
	if (passwd_hash_field(value, hash, sizeof(hash)) == -1 ||
	    passwd_cost_key(hash, ck, sizeof(ck)) == -1)
		goto done;
	for (i = 0; i < cc->nclass; i++)
		if (strcmp(cc->class[i].key, ck) == 0)
			break;
	if (i == cc->nclass) {
		if (i == COST_CLASSES)
			goto done;
		(void)strlcpy(cc->class[i].key, ck, sizeof(cc->class[i].key));
		cc->class[i].value = value;
		cc->nclass++;
	}
	cc->class[i].n++;
 done:
	explicit_bzero(hash, sizeof(hash));
}

/*
 * The dummy hash of an auth table: a copy of one of its hashes, of the
 * cost class most of its users have, so that checking an unknown user
 * costs what checking a known one does (the answer is never used).
 * Users of other classes stay told apart by the time a failure takes:
 * said once per load, with the remedy.
 */
static void
lookup_dummy(struct table *t)
{
	struct cost_count	 cc;
	size_t			 i, best = 0;

	memset(&cc, 0, sizeof(cc));
	table_foreach(t, dummy_count, &cc);
	if (cc.nclass == 0) {
		t->dummy[0] = '\0';	/* the default: Argon2id */
		return;
	}
	for (i = 1; i < cc.nclass; i++)
		if (cc.class[i].n > cc.class[best].n)
			best = i;
	if (passwd_hash_field(cc.class[best].value, t->dummy,
	    sizeof(t->dummy)) == -1)
		t->dummy[0] = '\0';
	log_debug("table %s: unknown users cost a %s check", t->name,
	    cc.class[best].key);
	if (cc.class[best].n < cc.total)
		log_info("table %s: %zu of %zu hashes are not %s, so a failed "
		    "login tells those users from unknown ones by its time; "
		    "give them new passwords (mailctl user passwd)", t->name,
		    cc.total - cc.class[best].n, cc.total, cc.class[best].key);
}

/* A recipient from smtp, or the sender of a bounce from the queue. */
static void
lookup_rcpt(struct ipc_msg *m)
{
	enum proc_type	 from = m->from;
	struct dest	*dests;
	struct mailaddr	 rcpt;
	enum exp_result	 r;
	char		 err[ERRMSG_MAX] = "";
	uint64_t	 reqid;
	uint32_t	 msgid, flags;
	size_t		 n = 0;

	reqid = ipc_get_u64(m);
	msgid = ipc_get_u32(m);
	flags = ipc_get_u32(m);
	ipc_get_addr(m, &rcpt);
	ipc_end(m);
	if ((dests = calloc(MAX_EXPAND_DEST, sizeof(*dests))) == NULL)
		fatal("calloc");
	if (!ready)
		r = EXP_TEMPFAIL;
	else if (rcpt.domain[0] == '\0')	/* RCPT TO:<postmaster> */
		r = lookup_postmaster(&rcpt, flags, dests, &n, err,
		    sizeof(err));
	else
		r = expand_rcpt(conf, &rcpt, flags, dests, MAX_EXPAND_DEST,
		    &n, err, sizeof(err));
	if (r != EXP_OK)
		n = 0;
	/* Full Maildirs refuse it: deliver says, then the answer goes. */
	if (r == EXP_OK && from == PROC_SMTP &&
	    lookup_quota_ask(reqid, msgid, &rcpt, dests, n))
		return;
	lookup_rcpt_answer(from, reqid, msgid, &rcpt, r, dests, n, err);
	free(dests);
}

/*
 * The answer to a recipient: its destinations to the queue first, then
 * the result to the process that asked.
 */
void
lookup_rcpt_answer(enum proc_type from, uint64_t reqid, uint32_t msgid,
    const struct mailaddr *rcpt, int r, const struct dest *dests, size_t n,
    const char *err)
{
	struct ipc_buf	 b;
	size_t		 i;

	if (r != EXP_OK)
		n = 0;
	for (i = 0; i < n; i++) {
		ipc_buf_init(&b);
		ipc_add_u32(&b, msgid);
		ipc_add_addr(&b, rcpt);
		ipc_add_dest(&b, &dests[i]);
		proc_send_buf(PROC_QUEUE, IMSG_Q_DEST, -1, &b);
	}
	ipc_buf_init(&b);
	ipc_add_u64(&b, reqid);
	ipc_add_u32(&b, r);
	ipc_add_u32(&b, n);
	ipc_add_str(&b, err);
	proc_send_buf(from, IMSG_L_RCPT_RES, -1, &b);
}

/*
 * RFC 5321 4.5.1: "postmaster" without a domain must be accepted.  It
 * is postmaster at the host name when a rule delivers there, else at
 * the first domain a rule delivers to a Maildir.
 */
static enum exp_result
lookup_postmaster(struct mailaddr *rcpt, uint32_t flags, struct dest *dests,
    size_t *np, char *err, size_t errlen)
{
	const char	*dom;
	enum exp_result	 r;

	(void)strlcpy(rcpt->domain, conf->hostname, sizeof(rcpt->domain));
	r = expand_rcpt(conf, rcpt, flags, dests, MAX_EXPAND_DEST, np, err,
	    errlen);
	/* not delivered here (relayed mail would come back): the domain */
	if ((r == EXP_RELAY_DENIED || r == EXP_NOTFOUND ||
	    (r == EXP_OK && *np > 0 && dests[0].type == DEST_RELAY)) &&
	    (dom = rule_primary_domain(conf)) != NULL &&
	    strcmp(dom, rcpt->domain) != 0) {
		(void)strlcpy(rcpt->domain, dom, sizeof(rcpt->domain));
		r = expand_rcpt(conf, rcpt, flags, dests, MAX_EXPAND_DEST, np,
		    err, errlen);
	}
	return r;
}

/*
 * A login: user and password against the listener's passwd table, and
 * the Maildir that mail to the user is delivered to (the one source of
 * the mail location is the delivery action of mail.conf).
 */
static void
lookup_auth(struct ipc_msg *m)
{
	enum proc_type	 from = m->from;
	struct ipc_buf	 b;
	struct mailaddr	 addr;
	struct table	*t;
	const char	*value, *pass, *user, *table;
	char		 login[ADDR_MAX + 1], hash[PASSWD_HASH_MAX];
	char		 maildir[PATH_MAX] = "";
	uint64_t	 reqid;
	uint32_t	 passlen, flags, res = AUTH_FAIL;
	int		 r;

	reqid = ipc_get_u64(m);
	flags = ipc_get_u32(m);
	table = ipc_get_strp(m);
	user = ipc_get_strp(m);
	passlen = ipc_get_u32(m);
	pass = ipc_get_raw(m, passlen);
	ipc_end(m);

	login[0] = '\0';
	if (!ready || (t = config_table(conf, table)) == NULL)
		res = AUTH_TEMPFAIL;
	else if (strlcpy(login, user, sizeof(login)) >= sizeof(login) ||
	    addr_parse(login, &addr, ADDR_ALLOW_UTF8) == -1) {
		passwd_dummy_verify(t->dummy, pass, passlen);
		login[0] = '\0';
	} else {
		str_lower(login);
		if ((r = table_lookup(t, login, &value)) == -1)
			res = AUTH_TEMPFAIL;
		else if (r == 0 || passwd_hash_field(value, hash,
		    sizeof(hash)) == -1)
			passwd_dummy_verify(t->dummy, pass, passlen);
		else if ((r = passwd_verify(hash, pass, passlen)) == 1)
			res = AUTH_OK;
		else if (r == -1)
			log_warnx("table %s: unusable hash for %s", t->name,
			    login);
		if (res == AUTH_OK && (flags & AUTHF_MAILDIR)) {
			str_lower(addr.user);
			str_lower(addr.domain);
			if (lookup_maildir(&addr, maildir,
			    sizeof(maildir)) == -1) {
				log_warnx("login %s: no Maildir to serve",
				    login);
				res = AUTH_TEMPFAIL;
			}
		}
	}
	explicit_bzero(hash, sizeof(hash));
	ipc_buf_init(&b);
	ipc_add_u64(&b, reqid);
	ipc_add_u32(&b, res);
	ipc_add_str(&b, res == AUTH_OK ? login : "");
	ipc_add_str(&b, res == AUTH_OK ? maildir : "");
	proc_send_buf(from, IMSG_L_AUTH_RES, -1, &b);
}

/*
 * May an authenticated user send as this MAIL FROM address?  Their own
 * address, an address whose mail reaches them (a virtuals alias), and
 * the null sender are theirs; anything else is forging.
 */
static void
lookup_sender(struct ipc_msg *m)
{
	struct ipc_buf	 b;
	struct mailaddr	 user, sender;
	struct dest	*dests;
	char		 err[ERRMSG_MAX];
	uint64_t	 reqid;
	uint32_t	 ok = 0;
	size_t		 n = 0, i;

	reqid = ipc_get_u64(m);
	ipc_get_addr(m, &user);
	ipc_get_addr(m, &sender);
	ipc_end(m);

	if (addr_is_null(&sender) ||
	    (strcasecmp(user.user, sender.user) == 0 &&
	    strcasecmp(user.domain, sender.domain) == 0))
		ok = 1;
	else if (ready) {
		if ((dests = calloc(MAX_EXPAND_DEST, sizeof(*dests))) == NULL)
			fatal("calloc");
		if (expand_rcpt(conf, &sender, 0, dests, MAX_EXPAND_DEST, &n,
		    err, sizeof(err)) == EXP_OK)
			for (i = 0; i < n && !ok; i++)
				ok = strcasecmp(dests[i].addr.user,
				    user.user) == 0 &&
				    strcasecmp(dests[i].addr.domain,
				    user.domain) == 0;
		free(dests);
	}
	ipc_buf_init(&b);
	ipc_add_u64(&b, reqid);
	ipc_add_u32(&b, ok);
	proc_send_buf(PROC_SMTP, IMSG_L_SENDER_RES, -1, &b);
}

/*
 * Where mail from anywhere to addr is delivered: the destination of
 * that address itself (or the only one), inside the mailbox root.
 */
static int
lookup_maildir(const struct mailaddr *addr, char *out, size_t outsz)
{
	struct dest	*dests, *d = NULL;
	const char	*rel;
	char		 err[ERRMSG_MAX];
	size_t		 n = 0, i;
	int		 r = -1;

	if ((dests = calloc(MAX_EXPAND_DEST, sizeof(*dests))) == NULL)
		fatal("calloc");
	if (expand_rcpt(conf, addr, 0, dests, MAX_EXPAND_DEST, &n, err,
	    sizeof(err)) == EXP_OK) {
		for (i = 0; i < n; i++)
			if (dests[i].type == DEST_MAILDIR &&
			    strcmp(dests[i].addr.user, addr->user) == 0 &&
			    strcmp(dests[i].addr.domain, addr->domain) == 0)
				d = &dests[i];
		if (d == NULL && n == 1 && dests[0].type == DEST_MAILDIR)
			d = &dests[0];
	}
	if (d != NULL && (rel = path_inside(conf->vmail_root,
	    d->path)) != NULL && strlcpy(out, rel, outsz) < outsz)
		r = 0;
	free(dests);
	return r;
}

/* rDNS and forward confirmation of a client, for "check rdns/fcrdns". */
static void
lookup_fcrdns(struct ipc_msg *m)
{
	struct sockaddr_storage	 ss;
	uint64_t		*reqid;

	if ((reqid = malloc(sizeof(*reqid))) == NULL)
		fatal("malloc");
	*reqid = ipc_get_u64(m);
	ipc_get_sockaddr(m, &ss);
	ipc_end(m);
	dns_fcrdns(&ss, lookup_fcrdns_done, reqid);
}

static void
lookup_fcrdns_done(void *arg, enum dns_fcrdns r, const char *name)
{
	struct ipc_buf	 b;
	uint64_t	*reqid = arg;

	ipc_buf_init(&b);
	ipc_add_u64(&b, *reqid);
	ipc_add_u32(&b, r);
	ipc_add_str(&b, name != NULL ? name : "");
	proc_send_buf(PROC_SMTP, IMSG_L_FCRDNS_RES, -1, &b);
	free(reqid);
}

/* Where mail for a domain goes, for the relay. */
static void
lookup_mx(struct ipc_msg *m)
{
	uint64_t	*reqid;
	const char	*domain;

	if ((reqid = malloc(sizeof(*reqid))) == NULL)
		fatal("malloc");
	*reqid = ipc_get_u64(m);
	domain = ipc_get_strp(m);
	ipc_end(m);
	dns_mx(domain, lookup_mx_done, reqid);
}

/*
 * The addresses of a smarthost: an address literal is its own answer
 * (c-ares would look it up as a name), a name gets A and AAAA, no MX.
 */
static void
lookup_host(struct ipc_msg *m)
{
	struct dns_host		*h;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	struct in_addr		 a4;
	struct in6_addr		 a6;
	uint64_t		*reqid;
	const char		*name;

	if ((reqid = malloc(sizeof(*reqid))) == NULL)
		fatal("malloc");
	*reqid = ipc_get_u64(m);
	name = ipc_get_strp(m);
	ipc_end(m);
	if (inet_pton(AF_INET, name, &a4) != 1 &&
	    inet_pton(AF_INET6, name, &a6) != 1) {
		dns_host(name, lookup_mx_done, reqid);
		return;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL)
		fatal("calloc");
	(void)strlcpy(h->name, name, sizeof(h->name));
	h->naddr = 1;
	if (inet_pton(AF_INET, name, &a4) == 1) {
		sin = (struct sockaddr_in *)&h->addr[0];
		sin->sin_family = AF_INET;
		sin->sin_addr = a4;
	} else {
		sin6 = (struct sockaddr_in6 *)&h->addr[0];
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = a6;
	}
	lookup_mx_done(reqid, DNS_OK, h, 1);
	free(h);
}

/* At most DNS_MAX_HOSTS * DNS_MAX_ADDRS addresses: about 37 KB. */
static void
lookup_mx_done(void *arg, enum dns_status st, const struct dns_host *hosts,
    size_t n)
{
	struct ipc_buf	*b;
	uint64_t	*reqid = arg;
	size_t		 i, j, k;

	if ((b = malloc(sizeof(*b))) == NULL)
		fatal("malloc");
	if (st != DNS_OK || hosts == NULL)
		n = 0;
	if (n > DNS_MAX_HOSTS)
		n = DNS_MAX_HOSTS;
	ipc_buf_init(b);
	ipc_add_u64(b, *reqid);
	ipc_add_u32(b, st);
	ipc_add_u32(b, n);
	for (i = 0; i < n; i++) {
		ipc_add_str(b, hosts[i].name);
		ipc_add_u32(b, hosts[i].pref);
		k = hosts[i].naddr > DNS_MAX_ADDRS ? DNS_MAX_ADDRS :
		    hosts[i].naddr;
		ipc_add_u32(b, k);
		for (j = 0; j < k; j++)
			ipc_add_sockaddr(b, &hosts[i].addr[j]);
	}
	proc_send_buf(PROC_RELAY, IMSG_L_MX_RES, -1, b);
	free(b);
	free(reqid);
}

/*
 * IMSG_CONF_TABLE: for the running configuration at start, for the
 * staged one during a reload; after a failed reload, dropped.
 */
static void
lookup_conf_table(struct ipc_msg *m)
{
	if (!ready)
		lookup_table(conf, m);
	else if (proc_conf_staged() != NULL)
		lookup_table(proc_conf_staged(), m);
	else {
		(void)ipc_get_strp(m);
		ipc_end(m);
		close(ipc_get_fd(m));
	}
}

static void
lookup_conf_end(struct ipc_msg *m)
{
	if (proc_conf_commit(m))
		log_info("configuration reloaded");
	ready = 1;
}

const struct proc_handler lookup_handlers[] = {
	{ IMSG_CONF_RELOAD,	proc_conf_stage },
	{ IMSG_CONF_TABLE,	lookup_conf_table },
	{ IMSG_CONF_END,	lookup_conf_end },
	{ IMSG_L_RCPT,		lookup_rcpt },
	{ IMSG_L_AUTH,		lookup_auth },
	{ IMSG_L_SENDER,	lookup_sender },
	{ IMSG_L_FCRDNS,	lookup_fcrdns },
	{ IMSG_L_MX,		lookup_mx },
	{ IMSG_L_HOST,		lookup_host },
	{ IMSG_L_DNS,		lookup_dns },
	{ IMSG_L_SPF,		lookup_spf },
	{ IMSG_L_DNSBL,		lookup_dnsbl },
	{ IMSG_D_QUOTA_RES,	lookup_quota_res },
	{ IMSG_NONE,		NULL }
};
