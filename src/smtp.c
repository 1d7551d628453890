/*
 * The smtp process: it owns the SMTP listeners and the TLS server
 * contexts, accepts connections within the fd and per-address limits,
 * and routes the replies of the lookup and queue processes to sessions.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "smtp.h"

/*
 * A TLS server context.  libtls keeps a pointer to it in each
 * connection for the SNI callback of the handshake, so a context
 * replaced by a reload is freed only when its last session ends.
 */
struct smtp_tlsctx {
	struct tls		*ctx;
	int			 refs;
	int			 retired;
};

struct smtp_pki {
	TAILQ_ENTRY(smtp_pki)	 entry;
	char			 name[NAME_MAX_CONF];
	struct smtp_tlsctx	*tls;
};

struct smtp_listener {
	TAILQ_ENTRY(smtp_listener) entry;
	struct listener		 l;
	struct event		 ev;
};

struct ipcount {
	TAILQ_ENTRY(ipcount)	 entry;
	struct sockaddr_storage	 ss;
	int			 count;
};

#define IPHASH	1024

static void	smtp_accept(int, short, void *);
static void	smtp_pause(void);
static void	smtp_resume(int, short, void *);
static struct tls *smtp_tls_new(const char *, const char *, size_t,
		    const char *, size_t);
static void	smtp_pki_set(const char *, struct tls *);
static struct ipcount *ip_find(const struct sockaddr_storage *, int);

static TAILQ_HEAD(, smtp_pki)		 pkis = TAILQ_HEAD_INITIALIZER(pkis);
static TAILQ_HEAD(, smtp_listener)	 listeners =
    TAILQ_HEAD_INITIALIZER(listeners);
static TAILQ_HEAD(, ipcount)		 iptab[IPHASH];
static size_t				 max_sessions;
static int				 paused;
static struct event			 ev_resume;

void
smtp_main(void)
{
	struct rlimit		 rl;
	struct listener		*l;
	struct smtp_listener	*sl;
	struct pki		*k;
	struct tls		*ctx;
	size_t			 i;

	if (tls_init() == -1)
		fatalx("tls_init");
	/* Keys are in memory (read by the parent); build contexts now. */
	TAILQ_FOREACH(k, &conf->pkis, entry) {
		if ((ctx = smtp_tls_new(k->name, k->cert, k->cert_len,
		    k->key, k->key_len)) == NULL)
			fatalx("pki %s: cannot set up TLS", k->name);
		smtp_pki_set(k->name, ctx);
	}
	config_purge_keys(conf);
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (l->proto != PROTO_SMTP)
			continue;	/* closed after fork */
		if ((sl = calloc(1, sizeof(*sl))) == NULL)
			fatal("calloc");
		sl->l = *l;
		TAILQ_INSERT_TAIL(&listeners, sl, entry);
	}
	for (i = 0; i < IPHASH; i++)
		TAILQ_INIT(&iptab[i]);

	/*
	 * Each session holds a socket and a spool file; the queue holds one
	 * fd per message being received, under the same limit (the parent
	 * raised it for every process).
	 */
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit");
	max_sessions = rl.rlim_cur > 128 ? (rl.rlim_cur - 64) / 2 : 16;

	proc_drop(MAILD_EMPTY);
	proc_setup_peers();
	if (pledge("stdio inet recvfd", NULL) == -1)
		fatal("pledge");
	TAILQ_FOREACH(sl, &listeners, entry) {
		event_set(&sl->ev, sl->l.fd, EV_READ | EV_PERSIST,
		    smtp_accept, sl);
		event_add(&sl->ev, NULL);
	}
	evtimer_set(&ev_resume, smtp_resume, NULL);
	log_debug("smtp: up to %zu sessions", max_sessions);
	event_dispatch();
}

static struct tls *
smtp_tls_new(const char *name, const char *cert, size_t certlen,
    const char *key, size_t keylen)
{
	struct tls_config	*cfg;
	struct tls		*ctx;

	if ((cfg = tls_config_new()) == NULL)
		fatal("tls_config_new");
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

static void
smtp_pki_set(const char *name, struct tls *ctx)
{
	struct smtp_pki	*p;

	TAILQ_FOREACH(p, &pkis, entry)
		if (strcmp(p->name, name) == 0)
			break;
	if (p == NULL) {
		if ((p = calloc(1, sizeof(*p))) == NULL)
			fatal("calloc");
		strlcpy(p->name, name, sizeof(p->name));
		TAILQ_INSERT_TAIL(&pkis, p, entry);
	} else {
		p->tls->retired = 1;
		p->tls->refs++;
		smtp_tls_put(p->tls);
	}
	if ((p->tls = calloc(1, sizeof(*p->tls))) == NULL)
		fatal("calloc");
	p->tls->ctx = ctx;
}

struct smtp_tlsctx *
smtp_tls_get(const struct listener *l)
{
	struct smtp_pki	*p;

	TAILQ_FOREACH(p, &pkis, entry)
		if (strcmp(p->name, l->pki) == 0) {
			p->tls->refs++;
			return p->tls;
		}
	return NULL;
}

void
smtp_tls_put(struct smtp_tlsctx *t)
{
	if (--t->refs > 0 || !t->retired)
		return;
	tls_free(t->ctx);
	free(t);
}

struct tls *
smtp_tls_ctx(const struct smtp_tlsctx *t)
{
	return t->ctx;
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

static int
ip_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		    &((const struct sockaddr_in *)b)->sin_addr, 4) == 0;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	    &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

static struct ipcount *
ip_find(const struct sockaddr_storage *ss, int create)
{
	struct ipcount	*ic;
	unsigned int	 h = ip_hash(ss);

	TAILQ_FOREACH(ic, &iptab[h], entry)
		if (ip_equal(&ic->ss, ss))
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
smtp_session_gone(const struct sockaddr_storage *ss)
{
	struct ipcount	*ic;

	if ((ic = ip_find(ss, 0)) != NULL && --ic->count == 0) {
		TAILQ_REMOVE(&iptab[ip_hash(ss)], ic, entry);
		free(ic);
	}
	if (paused && smtp_session_count() < max_sessions)
		smtp_resume(-1, 0, NULL);
}

static void
smtp_pause(void)
{
	struct smtp_listener	*sl;

	if (paused)
		return;
	paused = 1;
	TAILQ_FOREACH(sl, &listeners, entry)
		event_del(&sl->ev);
}

static void
smtp_resume(int fd, short ev, void *arg)
{
	struct smtp_listener	*sl;

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
smtp_accept(int lfd, short ev, void *arg)
{
	struct smtp_listener	*sl = arg;
	struct sockaddr_storage	 ss;
	struct ipcount		*ic;
	struct timeval		 tv = { 1, 0 };
	socklen_t		 len;
	int			 fd;
	static const char	 busy[] =
	    "421 4.7.0 Too many connections from your address\r\n";

	(void)ev;
	for (;;) {
		if (smtp_session_count() >= max_sessions) {
			smtp_pause();
			return;
		}
		len = sizeof(ss);
		if ((fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			if (errno == EMFILE || errno == ENFILE) {
				/* Stop accepting for a while, don't spin. */
				log_warnx("smtp: out of file descriptors, "
				    "pausing accept");
				smtp_pause();
				evtimer_add(&ev_resume, &tv);
				return;
			}
			log_warn("smtp: accept");
			return;
		}
		ic = ip_find(&ss, 1);
		if (conf->max_per_ip > 0 && ic->count >= conf->max_per_ip) {
			/* No plaintext on an implicit-TLS port. */
			if (!(sl->l.flags & L_SMTPS))
				(void)send(fd, busy, sizeof(busy) - 1,
				    MSG_NOSIGNAL);
			close(fd);
			if (ic->count == 0) {
				TAILQ_REMOVE(&iptab[ip_hash(&ss)], ic, entry);
				free(ic);
			}
			continue;
		}
		ic->count++;
		smtp_session_new(fd, &sl->l, &ss);
	}
}

static void
smtp_conf_pki(struct ipc_msg *m)
{
	char		 name[NAME_MAX_CONF];
	const uint8_t	*cert, *key;
	uint32_t	 certlen, keylen;
	struct tls	*ctx;

	ipc_get_str(m, name, sizeof(name));
	certlen = ipc_get_u32(m);
	if (certlen > m->len - m->pos)
		fatalx("smtp: bad pki message");
	cert = m->data + m->pos;
	m->pos += certlen;
	keylen = ipc_get_u32(m);
	if (keylen > m->len - m->pos)
		fatalx("smtp: bad pki message");
	key = m->data + m->pos;
	m->pos += keylen;
	ipc_end(m);
	if ((ctx = smtp_tls_new(name, (const char *)cert, certlen,
	    (const char *)key, keylen)) == NULL) {
		log_warnx("pki %s: keeping the previous certificate", name);
		return;
	}
	smtp_pki_set(name, ctx);
	log_info("pki %s: certificate reloaded", name);
}

void
smtp_dispatch(struct ipc *ipc, struct ipc_msg *m)
{
	uint64_t	 reqid;
	uint32_t	 msgid, res, n;
	const char	*s;

	(void)ipc;
	switch (m->type) {
	case IMSG_CONF_RELOAD:
		proc_conf_stage(m);
		break;
	case IMSG_CONF_PKI:
		smtp_conf_pki(m);
		break;
	case IMSG_CONF_END:
		/* Sessions keep their own listener copies: safe to swap. */
		(void)proc_conf_commit(m);
		break;
	case IMSG_Q_CREATE_OK:
		reqid = ipc_get_u64(m);
		msgid = ipc_get_u32(m);
		ipc_end(m);
		smtp_session_created(reqid, msgid, ipc_get_fd(m));
		break;
	case IMSG_Q_CREATE_FAIL:
		reqid = ipc_get_u64(m);
		res = ipc_get_u32(m);
		ipc_end(m);
		smtp_session_create_failed(reqid, res);
		break;
	case IMSG_Q_COMMIT_OK:
	case IMSG_Q_COMMIT_FAIL:
		reqid = ipc_get_u64(m);
		msgid = ipc_get_u32(m);
		ipc_end(m);
		smtp_session_committed(reqid, msgid,
		    m->type == IMSG_Q_COMMIT_OK);
		break;
	case IMSG_L_RCPT_RES:
		reqid = ipc_get_u64(m);
		res = ipc_get_u32(m);
		n = ipc_get_u32(m);
		s = ipc_get_strp(m);
		ipc_end(m);
		smtp_session_rcpt_result(reqid, res, n, s);
		break;
	default:
		fatalx("smtp: unexpected message %u from %s", m->type,
		    m->peer);
	}
}
