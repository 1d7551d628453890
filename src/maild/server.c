/*
 * Shared by the smtp and imap processes: TLS server contexts (built
 * from the keys the parent read, one per pki and cipher string of the
 * listeners, replaced on reload), the accept loop
 * of the listeners, within the session limit that the descriptor limit
 * allows and the per-address limit, and the growing delay that slows
 * password guessing from one address.  The sessions of each address and
 * network are counted in RB trees, which a flood of addresses cannot
 * make deep.
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

#include "config.h"
#include "ctl.h"
#include "proc.h"
#include "server.h"
#include "session_env.h"

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
	int			 full;	/* open listener, at its share */
};

struct ipcount {
	RB_ENTRY(ipcount)	 node;
	struct sockaddr_storage	 ss;
	int			 count;
};
RB_HEAD(iptree, ipcount);

/*
 * Listeners without auth (port 25) share all sessions but a reserve,
 * kept for those who log in (587, 465, IMAP): a flood of port 25 leaves
 * submission room.  One network (IPv4 /24, IPv6 /64) may hold
 * NET_PER_IP times the sessions of one address.
 */
#define RESERVE(max)	((max) / 10 > 16 ? (max) / 10 : 16)
#define NET_PER_IP	4

static struct tls *srv_tls_new(const char *, const char *, const char *,
		    size_t, const char *, size_t);
static struct srv_pki *srv_pki_find(const char *, const char *);
static void	srv_pki_set(const char *, const char *, struct tls *);
static void	srv_accept(int, short, void *);
static void	srv_pause(void);
static void	srv_resume(int, short, void *);
static const uint8_t *ip_bytes(const struct sockaddr_storage *, size_t *);
static int	ip_cmp(const struct ipcount *, const struct ipcount *);
static struct ipcount *ip_find(struct iptree *,
		    const struct sockaddr_storage *, int);
static void	ip_put(struct iptree *, struct ipcount *);
static void	net_of(const struct sockaddr_storage *,
		    struct sockaddr_storage *);
static int	open_full(void);
static void	open_resume(void);

RB_PROTOTYPE(iptree, ipcount, node, ip_cmp)

static TAILQ_HEAD(, srv_pki)		 pkis = TAILQ_HEAD_INITIALIZER(pkis);
static TAILQ_HEAD(, srv_listener)	 listeners =
    TAILQ_HEAD_INITIALIZER(listeners);
static struct iptree			 iptab = RB_INITIALIZER(&iptab);
static struct iptree			 nettab = RB_INITIALIZER(&nettab);
static size_t				 max_sessions, nsessions, nopen;
static int				 max_per_ip;
static const char			*busy_msg;
static int				 paused;
static int				 admin_paused;	/* mailctl pause */
static struct event			 ev_resume;
static void	(*newconn)(int, const struct listener *,
		    const struct sockaddr_storage *);

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
	cert = ipc_get_raw(m, certlen);
	keylen = ipc_get_u32(m);
	key = ipc_get_raw(m, keylen);
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

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (l->proto != proto)
			continue;	/* closed after fork */
		if ((sl = calloc(1, sizeof(*sl))) == NULL)
			fatal("calloc");
		sl->l = *l;
		TAILQ_INSERT_TAIL(&listeners, sl, entry);
	}
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
	if (max_sessions < 2 * 16)
		max_sessions = 2 * 16;	/* room for the reserve */
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
	 * An SMTP session holds its socket and, in DATA, its spool file; an
	 * IMAP session its socket only (a message file is open a moment,
	 * one at a time: the 64 spare descriptors cover that).
	 */
	srv_listen(proto, per_ip, proto == PROTO_SMTP ? 2 : 1, busy, cb);
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
	log_debug("%s: up to %zu sessions, %zu without login",
	    procs[proc_self].name, max_sessions,
	    max_sessions - RESERVE(max_sessions));
}

/* The address of ss, ports apart: 4 bytes, or 16. */
static const uint8_t *
ip_bytes(const struct sockaddr_storage *ss, size_t *lenp)
{
	if (ss->ss_family == AF_INET) {
		*lenp = 4;
		return (const uint8_t *)
		    &((const struct sockaddr_in *)ss)->sin_addr;
	}
	*lenp = 16;
	return (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
}

static int
ip_cmp(const struct ipcount *a, const struct ipcount *b)
{
	const uint8_t	*pa, *pb;
	size_t		 len;

	if (a->ss.ss_family != b->ss.ss_family)
		return a->ss.ss_family < b->ss.ss_family ? -1 : 1;
	pa = ip_bytes(&a->ss, &len);
	pb = ip_bytes(&b->ss, &len);
	return memcmp(pa, pb, len);
}

RB_GENERATE(iptree, ipcount, node, ip_cmp)

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
ip_find(struct iptree *tab, const struct sockaddr_storage *ss, int create)
{
	struct ipcount	 key, *ic;

	key.ss = *ss;
	if ((ic = RB_FIND(iptree, tab, &key)) != NULL || !create)
		return ic;
	if ((ic = calloc(1, sizeof(*ic))) == NULL)
		fatal("calloc");
	ic->ss = *ss;
	RB_INSERT(iptree, tab, ic);
	return ic;
}

/* One session less from an address or network; the entry goes at 0. */
static void
ip_put(struct iptree *tab, struct ipcount *ic)
{
	if (ic != NULL && --ic->count <= 0) {
		RB_REMOVE(iptree, tab, ic);
		free(ic);
	}
}

/* The /24 of an IPv4 address, the /64 of an IPv6 one. */
static void
net_of(const struct sockaddr_storage *ss, struct sockaddr_storage *net)
{
	memset(net, 0, sizeof(*net));
	net->ss_family = ss->ss_family;
	if (ss->ss_family == AF_INET)
		memcpy(&((struct sockaddr_in *)net)->sin_addr,
		    &((const struct sockaddr_in *)ss)->sin_addr, 3);
	else if (ss->ss_family == AF_INET6)
		memcpy(&((struct sockaddr_in6 *)net)->sin6_addr,
		    &((const struct sockaddr_in6 *)ss)->sin6_addr, 8);
}

void
srv_session_gone(const struct sockaddr_storage *ss, const struct listener *l)
{
	struct sockaddr_storage	 net;

	nsessions--;
	if (!(l->flags & L_AUTH))
		nopen--;
	ip_put(&iptab, ip_find(&iptab, ss, 0));
	net_of(ss, &net);
	ip_put(&nettab, ip_find(&nettab, &net, 0));
	if (paused && nsessions < max_sessions)
		srv_resume(-1, 0, NULL);
	if (!open_full())
		open_resume();
}

static int
open_full(void)
{
	return nopen >= max_sessions - RESERVE(max_sessions);
}

/* The open listeners stopped at their share accept again. */
static void
open_resume(void)
{
	struct srv_listener	*sl;

	TAILQ_FOREACH(sl, &listeners, entry)
		if (sl->full) {
			sl->full = 0;
			if (!paused)
				event_add(&sl->ev, NULL);
		}
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
		if (!sl->full)
			event_add(&sl->ev, NULL);
}

static void
srv_accept(int lfd, short ev, void *arg)
{
	struct srv_listener	*sl = arg;
	struct sockaddr_storage	 ss, net;
	struct ipcount		*ic, *nc;
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
		if (!(sl->l.flags & L_AUTH) && open_full()) {
			/* The rest is for those who log in. */
			if (!sl->full)
				log_info("%s: %zu sessions without login: port "
				    "%d waits", procs[proc_self].name, nopen,
				    sl->l.port);
			sl->full = 1;
			event_del(&sl->ev);
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
		ic = ip_find(&iptab, &ss, 1);
		net_of(&ss, &net);
		nc = ip_find(&nettab, &net, 1);
		if (max_per_ip > 0 && (ic->count >= max_per_ip ||
		    nc->count >= NET_PER_IP * max_per_ip)) {
			/* No plaintext on an implicit-TLS port. */
			if (busy_msg != NULL &&
			    !(sl->l.flags & (L_SMTPS | L_IMAPS)))
				(void)send(fd, busy_msg, strlen(busy_msg),
				    MSG_NOSIGNAL);
			close(fd);
			ic->count++;		/* undone at once */
			nc->count++;
			ip_put(&iptab, ic);
			ip_put(&nettab, nc);
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
		nc->count++;
		nsessions++;
		if (!(sl->l.flags & L_AUTH))
			nopen++;
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
	uint64_t	 id;
	uint32_t	 cmd;
	int		 pause, resume;

	id = ipc_get_u64(m);
	cmd = ipc_get_u32(m);
	(void)ipc_get_strp(m);
	ipc_end(m);
	pause = proc_self == PROC_SMTP ? CTL_PAUSE_SMTP : CTL_PAUSE_IMAP;
	resume = proc_self == PROC_SMTP ? CTL_RESUME_SMTP : CTL_RESUME_IMAP;
	if (cmd == CTL_SHOW_STATS) {
		proc_ctl_stats(id);
		proc_ctl_line(id, "%s.sessions.active=%zu", name, nsessions);
		proc_ctl_line(id, "%s.paused=%d", name, admin_paused);
		proc_ctl_end(id, 1, "%s", "");
	} else if (cmd == (uint32_t)pause || cmd == (uint32_t)resume) {
		if (TAILQ_EMPTY(&listeners)) {
			proc_ctl_end(id, 0, "%s is not running (no %s "
			    "listener)", name, name);
			return;
		}
		admin_paused = cmd == (uint32_t)pause;
		log_info("%s", admin_paused ?
		    "paused: new connections are asked to come back later" :
		    "resumed");
		proc_ctl_end(id, 1, "%s %s", name, admin_paused ? "paused" :
		    "resumed");
	} else
		proc_ctl_end(id, 0, "unknown request");
}

/* What an SMTP or IMAP session asks of its process and of the others. */
const struct session_env srv_session_env = {
	.send = proc_send_buf,
	.auth_send = srv_auth_send,
	.auth_failed = srv_auth_failed,
	.auth_ok = srv_auth_ok,
	.tls_get = srv_tls_get,
	.tls_ctx = srv_tls_ctx,
	.tls_put = srv_tls_put,
	.gone = srv_session_gone,
};
