/*
 * Shared by the smtp and imap processes: TLS server contexts (built
 * from the keys the parent read, one per pki and cipher string of the
 * listeners, replaced on reload), the accept loop
 * of the listeners, within the session limit that the descriptor limit
 * allows and the per-address limit, and the growing delay that slows
 * password guessing from one address.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "server.h"

/*
 * A TLS server context.  libtls keeps a pointer to it in each
 * connection for the SNI callback of the handshake, so a context
 * replaced by a reload is freed only when its last session ends.
 */
struct srv_tlsctx {
	struct tls		*ctx;
	int			 refs;
	int			 retired;
};

/* The context of a pki for the listeners with one "ciphers" value. */
struct srv_pki {
	TAILQ_ENTRY(srv_pki)	 entry;
	char			 name[NAME_MAX_CONF];
	char			 ciphers[CIPHERS_MAX];	/* "": default */
	struct srv_tlsctx	*tls;
};

struct srv_listener {
	TAILQ_ENTRY(srv_listener) entry;
	struct listener		 l;
	struct event		 ev;
};

struct ipcount {
	TAILQ_ENTRY(ipcount)	 entry;
	struct sockaddr_storage	 ss;
	int			 count;
};

#define IPHASH	1024

/* Failed logins per address, forgotten after AUTHFAIL_FORGET seconds. */
#define AUTHFAIL_SLOTS	4096
#define AUTHFAIL_FORGET	600
#define AUTHFAIL_MAXDELAY 15

struct authfail {
	struct sockaddr_storage	 ss;
	time_t			 last;
	int			 count;
};

static struct tls *srv_tls_new(const char *, const char *, const char *,
		    size_t, const char *, size_t);
static struct srv_pki *srv_pki_find(const char *, const char *);
static void	srv_pki_set(const char *, const char *, struct tls *);
static void	srv_accept(int, short, void *);
static void	srv_pause(void);
static void	srv_resume(int, short, void *);
static struct ipcount *ip_find(const struct sockaddr_storage *, int);
static struct authfail *authfail_find(const struct sockaddr_storage *, int);

static TAILQ_HEAD(, srv_pki)		 pkis = TAILQ_HEAD_INITIALIZER(pkis);
static TAILQ_HEAD(, srv_listener)	 listeners =
    TAILQ_HEAD_INITIALIZER(listeners);
static TAILQ_HEAD(, ipcount)		 iptab[IPHASH];
static size_t				 max_sessions, nsessions;
static int				 max_per_ip;
static const char			*busy_msg;
static int				 paused;
static int				 admin_paused;	/* mailctl pause */
static struct event			 ev_resume;
static void	(*newconn)(int, const struct listener *,
		    const struct sockaddr_storage *);
static struct authfail			 authfail[AUTHFAIL_SLOTS];

/*
 * A context for every pki with the default ciphers, and one for every
 * other cipher string a listener gives it.  Listeners change only on
 * restart, so these pairs are the ones sessions ask for until then.
 */
void
srv_tls_setup(void)
{
	struct pki	*k;
	struct listener	*l;
	struct tls	*ctx;

	if (tls_init() == -1)
		fatalx("tls_init");
	TAILQ_FOREACH(k, &conf->pkis, entry) {
		if ((ctx = srv_tls_new(k->name, "", k->cert, k->cert_len,
		    k->key, k->key_len)) == NULL)
			fatalx("pki %s: cannot set up TLS", k->name);
		srv_pki_set(k->name, "", ctx);
	}
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (l->pki[0] == '\0' || l->ciphers[0] == '\0' ||
		    srv_pki_find(l->pki, l->ciphers) != NULL ||
		    (k = config_pki(conf, l->pki)) == NULL)
			continue;
		if ((ctx = srv_tls_new(k->name, l->ciphers, k->cert,
		    k->cert_len, k->key, k->key_len)) == NULL)
			fatalx("pki %s: cannot set up TLS", k->name);
		srv_pki_set(k->name, l->ciphers, ctx);
	}
	config_purge_keys(conf);
}

static struct tls *
srv_tls_new(const char *name, const char *ciphers, const char *cert,
    size_t certlen, const char *key, size_t keylen)
{
	struct tls_config	*cfg;
	struct tls		*ctx;

	if ((cfg = tls_config_new()) == NULL)
		fatal("tls_config_new");
	if (tls_config_set_ciphers(cfg, config_ciphers(ciphers)) == -1) {
		log_warnx("pki %s: ciphers \"%s\": %s", name, ciphers,
		    tls_config_error(cfg));
		tls_config_free(cfg);
		return NULL;
	}
	if (tls_config_set_keypair_mem(cfg, (const uint8_t *)cert, certlen,
	    (const uint8_t *)key, keylen) == -1) {
		log_warnx("pki %s: %s", name, tls_config_error(cfg));
		tls_config_free(cfg);
		return NULL;
	}
	if ((ctx = tls_server()) == NULL)
		fatal("tls_server");
	if (tls_configure(ctx, cfg) == -1) {
		log_warnx("pki %s: %s", name, tls_error(ctx));
		tls_free(ctx);
		tls_config_free(cfg);
		return NULL;
	}
	tls_config_clear_keys(cfg);
	tls_config_free(cfg);
	return ctx;
}

static struct srv_pki *
srv_pki_find(const char *name, const char *ciphers)
{
	struct srv_pki	*p;

	TAILQ_FOREACH(p, &pkis, entry)
		if (strcmp(p->name, name) == 0 &&
		    strcmp(p->ciphers, ciphers) == 0)
			return p;
	return NULL;
}

static void
srv_pki_set(const char *name, const char *ciphers, struct tls *ctx)
{
	struct srv_pki	*p;

	if ((p = srv_pki_find(name, ciphers)) == NULL) {
		if ((p = calloc(1, sizeof(*p))) == NULL)
			fatal("calloc");
		strlcpy(p->name, name, sizeof(p->name));
		strlcpy(p->ciphers, ciphers, sizeof(p->ciphers));
		TAILQ_INSERT_TAIL(&pkis, p, entry);
	} else {
		p->tls->retired = 1;
		p->tls->refs++;
		srv_tls_put(p->tls);
	}
	if ((p->tls = calloc(1, sizeof(*p->tls))) == NULL)
		fatal("calloc");
	p->tls->ctx = ctx;
}

struct srv_tlsctx *
srv_tls_get(const struct listener *l)
{
	struct srv_pki	*p;

	if ((p = srv_pki_find(l->pki, l->ciphers)) == NULL)
		return NULL;
	p->tls->refs++;
	return p->tls;
}

void
srv_tls_put(struct srv_tlsctx *t)
{
	if (--t->refs > 0 || !t->retired)
		return;
	tls_free(t->ctx);
	free(t);
}

struct tls *
srv_tls_ctx(const struct srv_tlsctx *t)
{
	return t->ctx;
}

void
srv_tls_reload(struct ipc_msg *m)
{
	char		 name[NAME_MAX_CONF];
	const uint8_t	*cert, *key;
	uint32_t	 certlen, keylen;
	struct srv_pki	*p;
	struct tls	*ctx;

	ipc_get_str(m, name, sizeof(name));
	certlen = ipc_get_u32(m);
	if (certlen > m->len - m->pos)
		fatalx("%s: bad pki message", procs[proc_self].name);
	cert = m->data + m->pos;
	m->pos += certlen;
	keylen = ipc_get_u32(m);
	if (keylen > m->len - m->pos)
		fatalx("%s: bad pki message", procs[proc_self].name);
	key = m->data + m->pos;
	m->pos += keylen;
	ipc_end(m);
	/* The default context first: it may be new, and has no ciphers. */
	if ((ctx = srv_tls_new(name, "", (const char *)cert, certlen,
	    (const char *)key, keylen)) == NULL) {
		log_warnx("pki %s: keeping the previous certificate", name);
		return;
	}
	srv_pki_set(name, "", ctx);
	TAILQ_FOREACH(p, &pkis, entry) {
		if (strcmp(p->name, name) != 0 || p->ciphers[0] == '\0')
			continue;
		if ((ctx = srv_tls_new(name, p->ciphers, (const char *)cert,
		    certlen, (const char *)key, keylen)) == NULL)
			log_warnx("pki %s: keeping the previous certificate "
			    "for ciphers \"%s\"", name, p->ciphers);
		else
			srv_pki_set(name, p->ciphers, ctx);
	}
	log_info("pki %s: certificate reloaded", name);
}

void
srv_listen(enum listen_proto proto, int per_ip, size_t fds_per_session,
    const char *busy, void (*cb)(int, const struct listener *,
    const struct sockaddr_storage *))
{
	struct rlimit		 rl;
	struct listener		*l;
	struct srv_listener	*sl;
	size_t			 i;

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (l->proto != proto)
			continue;	/* closed after fork */
		if ((sl = calloc(1, sizeof(*sl))) == NULL)
			fatal("calloc");
		sl->l = *l;
		TAILQ_INSERT_TAIL(&listeners, sl, entry);
	}
	for (i = 0; i < IPHASH; i++)
		TAILQ_INIT(&iptab[i]);
	max_per_ip = per_ip;
	busy_msg = busy;
	newconn = cb;

	/* The parent raised the descriptor limit for every process. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit");
	if (fds_per_session == 0)
		fds_per_session = 1;
	max_sessions = rl.rlim_cur > 128 ?
	    (rl.rlim_cur - 64) / fds_per_session : 16;
	evtimer_set(&ev_resume, srv_resume, NULL);
}

/*
 * The whole life of a network-facing process: TLS contexts and
 * listeners while privileged, then chroot to root, drop privileges,
 * pledge, and serve.
 */
void
srv_run(enum listen_proto proto, int per_ip, const char *busy,
    void (*cb)(int, const struct listener *,
    const struct sockaddr_storage *), const char *root,
    const char *promises)
{
	srv_tls_setup();
	/*
	 * A session holds its socket and, briefly, one more file (an SMTP
	 * spool file, an IMAP message).
	 */
	srv_listen(proto, per_ip, 2, busy, cb);
	proc_drop(root);
	proc_setup_peers();
	if (pledge(promises, NULL) == -1)
		fatal("pledge");
	srv_start();
	event_dispatch();
}

void
srv_start(void)
{
	struct srv_listener	*sl;

	TAILQ_FOREACH(sl, &listeners, entry) {
		event_set(&sl->ev, sl->l.fd, EV_READ | EV_PERSIST,
		    srv_accept, sl);
		event_add(&sl->ev, NULL);
	}
	log_debug("%s: up to %zu sessions", procs[proc_self].name,
	    max_sessions);
}

size_t
srv_sessions(void)
{
	return nsessions;
}

size_t
srv_max_sessions(void)
{
	return max_sessions;
}

static unsigned int
ip_hash(const struct sockaddr_storage *ss)
{
	const uint8_t	*p;
	size_t		 len, i;
	unsigned int	 h = 2166136261u;

	if (ss->ss_family == AF_INET) {
		p = (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
		len = 4;
	} else {
		p = (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
		len = 16;
	}
	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h % IPHASH;
}

/* Same client address (ports apart)? */
int
srv_addr_equal(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		    &((const struct sockaddr_in *)b)->sin_addr, 4) == 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return 0;
}

static struct ipcount *
ip_find(const struct sockaddr_storage *ss, int create)
{
	struct ipcount	*ic;
	unsigned int	 h = ip_hash(ss);

	TAILQ_FOREACH(ic, &iptab[h], entry)
		if (srv_addr_equal(&ic->ss, ss))
			return ic;
	if (!create)
		return NULL;
	if ((ic = calloc(1, sizeof(*ic))) == NULL)
		fatal("calloc");
	ic->ss = *ss;
	TAILQ_INSERT_HEAD(&iptab[h], ic, entry);
	return ic;
}

void
srv_session_gone(const struct sockaddr_storage *ss)
{
	struct ipcount	*ic;

	nsessions--;
	if ((ic = ip_find(ss, 0)) != NULL && --ic->count == 0) {
		TAILQ_REMOVE(&iptab[ip_hash(ss)], ic, entry);
		free(ic);
	}
	if (paused && nsessions < max_sessions)
		srv_resume(-1, 0, NULL);
}

static void
srv_pause(void)
{
	struct srv_listener	*sl;

	if (paused)
		return;
	paused = 1;
	TAILQ_FOREACH(sl, &listeners, entry)
		event_del(&sl->ev);
}

static void
srv_resume(int fd, short ev, void *arg)
{
	struct srv_listener	*sl;

	(void)fd;
	(void)ev;
	(void)arg;
	if (!paused)
		return;
	paused = 0;
	evtimer_del(&ev_resume);
	TAILQ_FOREACH(sl, &listeners, entry)
		event_add(&sl->ev, NULL);
}

static void
srv_accept(int lfd, short ev, void *arg)
{
	struct srv_listener	*sl = arg;
	struct sockaddr_storage	 ss;
	struct ipcount		*ic;
	struct timeval		 tv = { 1, 0 };
	const char		*msg;
	socklen_t		 len;
	int			 fd, on = 1;

	(void)ev;
	for (;;) {
		if (nsessions >= max_sessions) {
			srv_pause();
			return;
		}
		/* Whole: it travels to other processes (rDNS checks). */
		memset(&ss, 0, sizeof(ss));
		len = sizeof(ss);
		if ((fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			if (errno == EMFILE || errno == ENFILE) {
				/* Stop accepting for a while, don't spin. */
				log_warnx("%s: out of file descriptors, "
				    "pausing accept", procs[proc_self].name);
				srv_pause();
				evtimer_add(&ev_resume, &tv);
				return;
			}
			log_warn("%s: accept", procs[proc_self].name);
			return;
		}
		if (admin_paused) {
			/* Try later, says the reply; nothing on TLS ports. */
			msg = sl->l.proto == PROTO_SMTP ?
			    "421 4.3.2 Service paused, try again later\r\n" :
			    "* BYE Service paused, try again later\r\n";
			if (!(sl->l.flags & (L_SMTPS | L_IMAPS)))
				(void)send(fd, msg, strlen(msg), MSG_NOSIGNAL);
			close(fd);
			continue;
		}
		ic = ip_find(&ss, 1);
		if (max_per_ip > 0 && ic->count >= max_per_ip) {
			/* No plaintext on an implicit-TLS port. */
			if (busy_msg != NULL &&
			    !(sl->l.flags & (L_SMTPS | L_IMAPS)))
				(void)send(fd, busy_msg, strlen(busy_msg),
				    MSG_NOSIGNAL);
			close(fd);
			if (ic->count == 0) {
				TAILQ_REMOVE(&iptab[ip_hash(&ss)], ic, entry);
				free(ic);
			}
			continue;
		}
		/*
		 * Replies are written whole: Nagle would only hold the last
		 * segment of a long answer until the client's delayed ACK.
		 */
		if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
			    sizeof(on));
		ic->count++;
		nsessions++;
		newconn(fd, &sl->l, &ss);
	}
}

/*
 * mailctl requests for smtp and imap: pause and resume (new clients
 * are told to come back later; sessions in progress go on) and stats.
 */
void
srv_ctl(struct ipc_msg *m)
{
	const char	*name = procs[proc_self].name;
	char		 req[128], *arg;
	uint64_t	 id;

	id = ipc_get_u64(m);
	ipc_get_str(m, req, sizeof(req));
	ipc_end(m);
	arg = strchr(req, ' ');
	if (strcmp(req, "show stats") == 0) {
		proc_ctl_stats(id);
		proc_ctl_line(id, "%s.sessions.active=%zu", name, nsessions);
		proc_ctl_line(id, "%s.paused=%d", name, admin_paused);
		proc_ctl_end(id, 1, "%s", "");
	} else if (arg != NULL && strcmp(arg + 1, name) == 0 &&
	    (strncmp(req, "pause ", 6) == 0 ||
	    strncmp(req, "resume ", 7) == 0)) {
		if (TAILQ_EMPTY(&listeners)) {
			proc_ctl_end(id, 0, "%s is not running (no %s "
			    "listener)", name, name);
			return;
		}
		admin_paused = req[0] == 'p';
		log_info("%s", admin_paused ?
		    "paused: new connections are asked to come back later" :
		    "resumed");
		proc_ctl_end(id, 1, "%s %s", name, admin_paused ? "paused" :
		    "resumed");
	} else
		proc_ctl_end(id, 0, "unknown request");
}

/*
 * The slot of an address.  The table is small and fixed: when it is
 * full the stalest slot is reused, so a flood of addresses costs memory
 * never and at worst forgets an old offender.
 */
static struct authfail *
authfail_find(const struct sockaddr_storage *ss, int create)
{
	struct authfail	*a, *victim = NULL;
	time_t		 now = time(NULL);
	size_t		 i;

	for (i = 0; i < AUTHFAIL_SLOTS; i++) {
		a = &authfail[i];
		if (a->count > 0 && now - a->last > AUTHFAIL_FORGET)
			a->count = 0;
		if (a->count > 0 && srv_addr_equal(&a->ss, ss))
			return a;
		/* An empty slot, else the stalest one. */
		if (a->count == 0) {
			if (victim == NULL || victim->count > 0)
				victim = a;
		} else if (victim == NULL ||
		    (victim->count > 0 && a->last < victim->last))
			victim = a;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	victim->ss = *ss;
	return victim;
}

/* Seconds to wait before answering a failed login from ss. */
int
srv_auth_failed(const struct sockaddr_storage *ss)
{
	struct authfail	*a = authfail_find(ss, 1);
	int		 d;

	a->count++;
	a->last = time(NULL);
	if (a->count <= 1)
		return 0;
	d = a->count - 2 < 4 ? 1 << (a->count - 2) : AUTHFAIL_MAXDELAY;
	return d > AUTHFAIL_MAXDELAY ? AUTHFAIL_MAXDELAY : d;
}

void
srv_auth_ok(const struct sockaddr_storage *ss)
{
	struct authfail	*a;

	if ((a = authfail_find(ss, 0)) != NULL)
		a->count = 0;
}
