/*
 * The relay process: outbound SMTP.  It runs as _maild in an empty
 * chroot and holds its TLS client configurations (opportunistic or
 * verifying against the CA file loaded before the chroot, for each
 * cipher string of the relay actions) and the tables of smarthost
 * credentials, which the parent sends it alone.
 * The queue hands it one job per envelope (with the message as an fd
 * and the name of its relay action); jobs are grouped by action and
 * recipient domain (by action alone for a smarthost), each group gets
 * one MX lookup, or one address lookup of its smarthost, through the
 * lookup process and one connection at a time (relay_session.c), and
 * every job's outcome goes back to the queue, which owns retries and
 * bounces.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>
#include <tls.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "ctl.h"
#include "proc.h"
#include "relay.h"
#include "reqwait.h"
#include "table.h"

static void	relay_job(struct ipc_msg *);
static void	relay_mx_res(struct ipc_msg *);
static void	relay_policy(const char *, struct relay_policy *);
static struct rdomain *relay_domain(const char *,
		    const struct relay_policy *);
static void	relay_table(struct ipc_msg *);
static void	relay_ctl(struct ipc_msg *);
static void	relay_conf_end(struct ipc_msg *);
static void	relay_tls_setup(void);
static void	relay_run(int, short, void *);
static void	relay_start(struct rdomain *);
static void	relay_domain_free(struct rdomain *);
static int	relay_addr_ok(const struct mailaddr *);

/* A TLS client configuration, made when a policy first needs it. */
struct relay_tlscfg {
	TAILQ_ENTRY(relay_tlscfg) entry;
	int			 verify;
	char			 ciphers[CIPHERS_MAX];	/* "": default */
	struct tls_config	*cfg;
};

static TAILQ_HEAD(, rdomain)	 domains = TAILQ_HEAD_INITIALIZER(domains);
static TAILQ_HEAD(, rdomain)	 waitq = TAILQ_HEAD_INITIALIZER(waitq);
static size_t			 nsessions;
static uint64_t			 nextid;
static struct event		 ev_run;
static TAILQ_HEAD(, relay_tlscfg) tlscfgs = TAILQ_HEAD_INITIALIZER(tlscfgs);
static uint8_t			*ca;		/* PEM trusted by tls verify */
static size_t			 calen;
static const char		*cafile;

void
relay_main(void)
{
	config_purge_keys(conf);
	relay_tls_setup();
	proc_drop(MAILD_EMPTY);
	proc_setup_peers();
	if (pledge("stdio inet recvfd", NULL) == -1)
		fatal("pledge");
	evtimer_set(&ev_run, relay_run, NULL);
	event_dispatch();
}

/*
 * libtls and its library state are set up before the chroot, and so is
 * the CA bundle of "tls verify" read: the file named by "ca" (read by
 * the parent) or the system's, kept for the configurations made later.
 * Without one, verification fails, and so do the actions that ask for
 * it (temporarily).
 */
static void
relay_tls_setup(void)
{
	struct relay_policy	 pol;

	if (tls_init() == -1)
		fatalx("relay: cannot set up TLS");
	cafile = tls_default_ca_cert_file();
	if (conf->ca != NULL) {
		cafile = conf->ca_file;
		ca = (uint8_t *)conf->ca;	/* ours now */
		calen = conf->ca_len;
		conf->ca = NULL;
		conf->ca_len = 0;
	} else if ((ca = tls_load_file(cafile, &calen, NULL)) == NULL) {
		log_warnx("relay: cannot read the CA bundle %s: tls verify "
		    "will fail", cafile);
		cafile = "nothing";
	}
	log_debug("relay: tls verify trusts %s", cafile);

	/* Opportunistic STARTTLS with the default ciphers must work. */
	memset(&pol, 0, sizeof(pol));
	if (relay_tls_config(&pol) == NULL)
		fatalx("relay: cannot configure a TLS client");
}

struct tls_config *
relay_tls_config(const struct relay_policy *pol)
{
	struct relay_tlscfg	*c;
	struct tls		*t;
	int			 verify = (pol->flags & AR_TLS_VERIFY) != 0;

	TAILQ_FOREACH(c, &tlscfgs, entry)
		if (c->verify == verify && strcmp(c->ciphers,
		    pol->ciphers) == 0)
			return c->cfg;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->cfg = tls_config_new()) == NULL)
		fatal("relay: tls_config_new");
	c->verify = verify;
	(void)strlcpy(c->ciphers, pol->ciphers, sizeof(c->ciphers));
	if (tls_config_set_ciphers(c->cfg, config_ciphers(c->ciphers)) ==
	    -1) {
		log_warnx("relay action %s: ciphers \"%s\": %s", pol->action,
		    c->ciphers, tls_config_error(c->cfg));
		goto fail;
	}
	if (!verify) {
		/* Opportunistic STARTTLS: any certificate beats plain text. */
		tls_config_insecure_noverifycert(c->cfg);
		tls_config_insecure_noverifyname(c->cfg);
	} else if (ca != NULL &&
	    tls_config_set_ca_mem(c->cfg, ca, calen) == -1)
		log_warnx("relay: CA bundle %s: %s", cafile,
		    tls_config_error(c->cfg));
	if ((t = tls_client()) == NULL)
		fatal("tls_client");
	if (tls_configure(t, c->cfg) == -1) {
		log_warnx("relay action %s: %s", pol->action, tls_error(t));
		tls_free(t);
		goto fail;
	}
	tls_free(t);
	TAILQ_INSERT_TAIL(&tlscfgs, c, entry);
	return c->cfg;
 fail:
	tls_config_free(c->cfg);
	free(c);
	return NULL;
}

/*
 * The policy of the relay action a job was queued for.  Mail queued
 * before a reload that removed or renamed its action goes through the
 * first relay action of the configuration; with none, by MX with
 * opportunistic TLS.
 */
static void
relay_policy(const char *name, struct relay_policy *pol)
{
	struct action	*a, *first = NULL;

	memset(pol, 0, sizeof(*pol));
	TAILQ_FOREACH(a, &conf->actions, entry) {
		if (a->type != A_RELAY)
			continue;
		if (first == NULL)
			first = a;
		if (strcmp(a->name, name) == 0)
			break;
	}
	if (a == NULL && (a = first) != NULL)
		log_debug("relay: no relay action \"%s\", using \"%s\"",
		    name, a->name);
	if (a == NULL)
		return;
	(void)strlcpy(pol->action, a->name, sizeof(pol->action));
	pol->flags = a->relay_flags;
	(void)strlcpy(pol->host, a->relay_host, sizeof(pol->host));
	pol->port = a->relay_port;
	(void)strlcpy(pol->label, a->relay_label, sizeof(pol->label));
	str_lower(pol->label);		/* table keys are lowercase */
	(void)strlcpy(pol->ciphers, a->relay_ciphers, sizeof(pol->ciphers));
	if (a->relay_auth != NULL)
		(void)strlcpy(pol->auth, a->relay_auth->name,
		    sizeof(pol->auth));
}

static struct rdomain *
relay_domain(const char *name, const struct relay_policy *pol)
{
	struct rdomain	*d;

	TAILQ_FOREACH(d, &domains, entry)
		if (strcmp(d->name, name) == 0 &&
		    strcmp(d->pol.action, pol->action) == 0)
			return d;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal("calloc");
	(void)strlcpy(d->name, name, sizeof(d->name));
	d->pol = *pol;
	TAILQ_INIT(&d->jobs);
	TAILQ_INSERT_TAIL(&domains, d, entry);
	return d;
}

static void
relay_domain_free(struct rdomain *d)
{
	if (d->inwait)
		TAILQ_REMOVE(&waitq, d, wentry);
	TAILQ_REMOVE(&domains, d, entry);
	free(d);
}

static void
relay_job(struct ipc_msg *m)
{
	struct timeval		 tv = { 0, 0 };
	struct relay_policy	 pol;
	struct rjob		*j;
	struct rdomain		*d;
	const char		*dkim, *action;
	char			 domain[DOMAIN_MAX + 1];

	if ((j = calloc(1, sizeof(*j))) == NULL)
		fatal("calloc");
	j->evpid = ipc_get_u64(m);
	ipc_get_addr(m, &j->sender);
	ipc_get_addr(m, &j->rcpt);
	j->flags = ipc_get_u32(m);
	dkim = ipc_get_strp(m);
	action = ipc_get_strp(m);
	ipc_end(m);
	j->fd = ipc_get_fd(m);
	if (strlen(dkim) > RELAY_DKIM_MAX)
		dkim = "";	/* not ours to fix: send it unsigned */
	if ((j->dkim = strdup(dkim)) == NULL)
		fatal("strdup");

	(void)strlcpy(domain, j->rcpt.domain, sizeof(domain));
	str_lower(domain);
	if (domain[0] == '\0' || j->rcpt.user[0] == '\0' ||
	    !relay_addr_ok(&j->rcpt) || !relay_addr_ok(&j->sender)) {
		relay_result(j, RELAY_PERMFAIL, "550 5.1.3 bad recipient "
		    "address", NULL, NULL);
		return;
	}
	relay_policy(action, &pol);
	/* A smarthost takes every domain: one group, one connection. */
	d = relay_domain(pol.host[0] != '\0' ? pol.host : domain, &pol);
	TAILQ_INSERT_TAIL(&d->jobs, j, entry);
	d->njobs++;
	/* Start once every job already received is in: one batch. */
	if (!evtimer_pending(&ev_run, NULL))
		evtimer_add(&ev_run, &tv);
}

/* Nothing that could break out of "MAIL FROM:<...>" on the wire. */
static int
relay_addr_ok(const struct mailaddr *a)
{
	const char	*parts[2] = { a->user, a->domain }, *p;
	size_t		 i;

	for (i = 0; i < nitems(parts); i++)
		for (p = parts[i]; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f ||
			    *p == '<' || *p == '>')
				return 0;
	return 1;
}

/* Start a connection for every domain with jobs and none running. */
static void
relay_run(int fd, short ev, void *arg)
{
	struct rdomain	*d, *td;

	(void)fd;
	(void)ev;
	(void)arg;
	TAILQ_FOREACH_SAFE(d, &domains, entry, td) {
		if (d->sess != NULL || d->inwait)
			continue;
		if (d->njobs == 0) {
			relay_domain_free(d);
			continue;
		}
		if (nsessions >= RELAY_MAX_SESSIONS) {
			d->inwait = 1;
			TAILQ_INSERT_TAIL(&waitq, d, wentry);
			continue;
		}
		relay_start(d);
	}
}

static void
relay_start(struct rdomain *d)
{
	struct ipc_buf	 b;

	nsessions++;
	d->sess = relay_session_new(d, ++nextid);
	/* IMSG_L_MX or IMSG_L_HOST: the same answer, the same wait */
	reqwait_add(nextid, IMSG_L_MX, d->sess);
	ipc_buf_init(&b);
	ipc_add_u64(&b, nextid);
	ipc_add_str(&b, d->name);
	proc_send_buf(PROC_LOOKUP, d->pol.host[0] != '\0' ? IMSG_L_HOST :
	    IMSG_L_MX, -1, &b);
}

/*
 * A session ended (its connection may still be saying QUIT, but it
 * no longer takes jobs).  Its slot goes to a waiting domain; jobs that
 * came for this domain meanwhile get a new session.
 */
void
relay_session_done(struct rdomain *d)
{
	struct timeval	 tv = { 0, 0 };
	struct rdomain	*w;

	if (d != NULL)
		d->sess = NULL;
	nsessions--;
	while (nsessions < RELAY_MAX_SESSIONS &&
	    (w = TAILQ_FIRST(&waitq)) != NULL) {
		TAILQ_REMOVE(&waitq, w, wentry);
		w->inwait = 0;
		if (w->njobs == 0) {
			relay_domain_free(w);
			continue;
		}
		relay_start(w);
	}
	if (!evtimer_pending(&ev_run, NULL))
		evtimer_add(&ev_run, &tv);
}

static void
relay_mx_res(struct ipc_msg *m)
{
	struct relay_session	*s;
	struct dns_host		*hosts;
	uint64_t		 reqid;
	uint32_t		 status, n, naddr, i, k;
	size_t			 nh = 0;

	reqid = ipc_get_u64(m);
	status = ipc_get_u32(m);
	n = ipc_get_u32(m);
	if (n > DNS_MAX_HOSTS)
		fatalx("relay: MX answer with %u hosts", n);
	if ((hosts = calloc(n ? n : 1, sizeof(*hosts))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++) {
		struct dns_host *h = &hosts[nh];

		ipc_get_str(m, h->name, sizeof(h->name));
		h->pref = (int)ipc_get_u32(m);
		naddr = ipc_get_u32(m);
		if (naddr > DNS_MAX_ADDRS)
			fatalx("relay: MX host with %u addresses", naddr);
		for (k = 0; k < naddr; k++)
			ipc_get_sockaddr(m, &h->addr[k]);	/* IPv4, IPv6 */
		h->naddr = naddr;
		if (h->naddr > 0)
			nh++;
	}
	ipc_end(m);
	if (status > DNS_NULLMX)
		fatalx("relay: MX answer with status %u", status);
	if ((s = reqwait_take(reqid, IMSG_L_MX, m->peer)) == NULL) {
		free(hosts);
		return;		/* the session is gone */
	}
	if (status == DNS_OK && nh == 0)
		status = DNS_TEMPFAIL;
	relay_session_mx(s, status, hosts, nh);
	free(hosts);
}

/*
 * A job is finished here: tell the queue, log it, free it.  host and
 * addr name the server that answered, when one did.
 */
void
relay_result(struct rjob *j, int status, const char *reason,
    const char *host, const char *addr)
{
	struct ipc_buf	 b;
	char		 rcpt[ADDR_MAX + 1], why[ERRMSG_MAX];

	if (addr_to_text(&j->rcpt, rcpt, sizeof(rcpt)) == -1)
		rcpt[0] = '\0';
	(void)strlcpy(why, reason, sizeof(why));
	if (status == RELAY_OK)
		log_info("relayed %016llx to <%s> via %s [%s]: %s",
		    (unsigned long long)j->evpid, rcpt, host ? host : "?",
		    addr ? addr : "?", why);
	else
		log_warnx("relay of %016llx to <%s> failed (%s)%s%s%s%s%s: %s",
		    (unsigned long long)j->evpid, rcpt,
		    status == RELAY_TEMPFAIL ? "temporary" : "permanent",
		    host ? " via " : "", host ? host : "",
		    addr ? " [" : "", addr ? addr : "", addr ? "]" : "", why);
	ipc_buf_init(&b);
	ipc_add_u64(&b, j->evpid);
	ipc_add_u32(&b, status);
	ipc_add_str(&b, why);
	ipc_add_str(&b, host ? host : "");
	proc_send_buf(PROC_QUEUE, IMSG_R_RESULT, -1, &b);
	close(j->fd);
	free(j->dkim);
	free(j);
}

/*
 * A table of smarthost credentials from the parent: for the staged
 * configuration during a reload, for the running one at start (when
 * it is not loaded yet); otherwise a reload failed here: dropped.
 */
static void
relay_table(struct ipc_msg *m)
{
	struct maild_conf	*c;
	struct table		*t;
	char			 name[NAME_MAX_CONF], err[512];
	int			 fd;

	ipc_get_str(m, name, sizeof(name));
	ipc_end(m);
	fd = ipc_get_fd(m);
	c = proc_conf_staged() != NULL ? proc_conf_staged() : conf;
	t = config_table(c, name);
	if (c != conf && (t == NULL || !(t->flags & T_RELAY)))
		fatalx("relay: parent sent table %s", name);
	if (t == NULL || !(t->flags & T_RELAY) || (c == conf && t->loaded))
		log_debug("relay: table %s dropped (reload failed)", name);
	else if (table_load_fd(t, fd, err, sizeof(err)) == -1)
		log_warnx("%s", err);	/* stays unloaded: 4xx */
	else
		log_debug("relay: table %s: %zu entries", t->name, t->count);
	close(fd);
}

/* mailctl show stats (pause relay is the queue's: it holds the mail). */
static void
relay_ctl(struct ipc_msg *m)
{
	uint64_t	 id;
	uint32_t	 cmd;

	id = ipc_get_u64(m);
	cmd = ipc_get_u32(m);
	(void)ipc_get_strp(m);
	ipc_end(m);
	if (cmd != CTL_SHOW_STATS) {
		proc_ctl_end(id, 0, "unknown request");
		return;
	}
	proc_ctl_stats(id);
	proc_ctl_line(id, "relay.sessions.active=%zu", nsessions);
	proc_ctl_end(id, 1, "%s", "");
}

static void
relay_conf_end(struct ipc_msg *m)
{
	struct maild_conf	*nc = proc_conf_staged();

	if (nc != NULL && strcmp(nc->ca_file, conf->ca_file) != 0)
		log_warnx("relay: ca changes take effect after a restart");
	(void)proc_conf_commit(m);
}

const struct proc_handler relay_handlers[] = {
	{ IMSG_CONF_RELOAD,	proc_conf_stage },
	{ IMSG_CONF_TABLE,	relay_table },
	{ IMSG_CONF_END,	relay_conf_end },
	{ IMSG_CTL_REQ,		relay_ctl },
	{ IMSG_R_DELIVER,	relay_job },
	{ IMSG_L_MX_RES,	relay_mx_res },
	{ IMSG_NONE,		NULL }
};
