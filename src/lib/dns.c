/*
 * Asynchronous DNS for the lookup process, over c-ares and libevent:
 * MX resolution with null MX and implicit MX, forward-confirmed
 * reverse DNS, TXT records, and the records of one name and type read
 * from the answer message by our own parser (dns_query(): the TTLs, the
 * SOA of negative answers, TXT with NULs, which c-ares's parsers do not
 * give).  c-ares tells us which sockets to watch
 * through its socket-state callback; we hand readiness back with
 * ares_process_fd() and keep one timer on ares_timeout().  Each lookup
 * is a request holding its c-ares queries; it is answered once, from a
 * libevent timer, and freed when its last query has come back.
 *
 * Everything in an answer is hostile: names are checked (characters,
 * label and total length) before they are copied, counts are bounded.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>

/*
 * c-ares 1.28 deprecates ares_query() and ares_parse_*_reply() for an
 * API that 1.18 (Debian 12) lacks.  They are used only in req_query()
 * and the answer handlers below.
 */
#define CARES_NO_DEPRECATED
#include <ares.h>
#include <event.h>
#include <limits.h>
#include <netdb.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "dns.h"
#include "log.h"

/* The answer buffer is const in the callback of c-ares 1.34.7 only. */
#if ARES_VERSION == 0x012207
#define ARES_ABUF	const unsigned char
#else
#define ARES_ABUF	unsigned char
#endif

#define REQ_MAXQ	(1 + 2 * DNS_MAX_HOSTS)	/* MX, then AAAA and A */

enum req_type { REQ_MX, REQ_FCRDNS, REQ_TXT, REQ_RR };
enum req_state {
	RS_RUNNING,	/* queries outstanding, deadline armed */
	RS_DONE,	/* result known, delivery scheduled */
	RS_DELIVERED	/* callback called; freed with its last query */
};

struct dns_req;

struct dns_query {
	struct dns_req		*req;
	int			 type;		/* ns_t_* */
	size_t			 idx;		/* MX host or PTR name */
};

struct mx_host {
	char			 name[DNS_NAME_MAX + 1];
	int			 pref;
	struct in_addr		 a4[DNS_MAX_ADDRS];
	size_t			 n4;
	struct in6_addr		 a6[DNS_MAX_ADDRS];
	size_t			 n6;
};

struct dns_req {
	TAILQ_ENTRY(dns_req)	 entry;		/* until delivered */
	enum req_type		 type;
	enum req_state		 state;
	int			 pending;	/* queries and holds */
	int			 tempfail;	/* a lookup failed for now */
	struct event		 ev;		/* deadline, then delivery */
	void			*arg;
	dns_mx_cb		 mx_cb;
	dns_fcrdns_cb		 fc_cb;
	dns_txt_cb		 txt_cb;
	char			 name[DNS_NAME_MAX + 1];

	/* MX */
	struct mx_host		*hosts;
	size_t			 nhosts;
	int			 nullmx;
	struct dns_host		*out;
	size_t			 nout;
	enum dns_status		 status;

	/* FCrDNS */
	int			 family;
	unsigned char		 addr[16];
	char			 ptr[DNS_MAX_PTR][DNS_NAME_MAX + 1];
	size_t			 nptr;
	int			 match;
	enum dns_fcrdns		 fcrdns;
	const char		*fcname;

	/* TXT */
	char			*txt[DNS_MAX_TXT];
	size_t			 ntxt;

	/* RR */
	int			 rrtype;
	dns_rr_cb		 rr_cb;
	struct dns_rrset	*rrset;

	struct dns_query	 q[REQ_MAXQ];
	size_t			 nq;
};

/* The records of a dns_query() answer while it is read. */
struct rr_set {
	int			 type;
	struct dns_rr		 rr[DNS_RR_MAX];
	size_t			 n;
	size_t			 dropped;
	char			*text;		/* their text */
	size_t			 used;
	size_t			 cap;
};

struct dns_sock {
	LIST_ENTRY(dns_sock)	 entry;
	int			 fd;
	short			 events;
	struct event		 ev;
};

static void	 sock_state(void *, ares_socket_t, int, int);
static void	 sock_ready(int, short, void *);
static void	 timer_fire(int, short, void *);
static void	 timer_update(void);
static struct dns_req *req_new(enum req_type, void *);
static struct dns_req *mx_req(const char *, dns_mx_cb, void *, const char *);
static void	 req_query(struct dns_req *, const char *, int, size_t);
static void	 req_answer(void *, int, int, ARES_ABUF *, int);
static void	 req_release(struct dns_req *);
static void	 req_complete(struct dns_req *);
static void	 req_event(int, short, void *);
static void	 req_deliver(struct dns_req *);
static void	 req_free(struct dns_req *);
static int	 temporary(int);
static int	 name_check(const char *, char *, size_t, int);
static int	 unusable(const char *, int);
static int	 parse_a(ARES_ABUF *, int, struct in_addr *, size_t, size_t *);
static int	 parse_aaaa(ARES_ABUF *, int, struct in6_addr *, size_t,
		    size_t *);
static void	 mx_answer(struct dns_req *, int, ARES_ABUF *, int);
static void	 mx_parse(struct dns_req *, int, ARES_ABUF *, int);
static void	 mx_add(struct dns_req *, const char *, int);
static void	 mx_addr_answer(struct dns_req *, struct dns_query *, int,
		    ARES_ABUF *, int);
static void	 mx_complete(struct dns_req *);
static void	 sa_set(struct sockaddr_storage *, int, const void *);
static void	 ptr_answer(struct dns_req *, int, ARES_ABUF *, int);
static void	 ptr_parse(struct dns_req *, int, ARES_ABUF *, int);
static void	 ptr_add(struct dns_req *, const char *);
static void	 fwd_answer(struct dns_req *, struct dns_query *, int,
		    ARES_ABUF *, int);
static void	 fc_complete(struct dns_req *);
static void	 txt_answer(struct dns_req *, int, ARES_ABUF *, int);
static void	 rr_answer(struct dns_req *, int, ARES_ABUF *, int);
static struct dns_rrset *rr_parse(const unsigned char *, size_t,
		    const char *, int, int);
static int	 rr_next(const unsigned char *, size_t, size_t *,
		    unsigned char *, int *, unsigned long *, size_t *,
		    size_t *);
static int	 rr_data(struct rr_set *, const unsigned char *, size_t,
		    size_t);
static int	 rr_dup(const struct rr_set *);
static int	 rr_name(const unsigned char *, size_t, size_t *,
		    unsigned char *);
static size_t	 wire_name(const char *, unsigned char *);
static int	 wire_text(const unsigned char *, char *);
static int	 wire_eq(const unsigned char *, const unsigned char *);
static unsigned int rr_ttl(unsigned long);

static ares_channel		 channel;
static int			 closing;
static struct event		 ev_ares;
static int			 ev_ares_set;
static TAILQ_HEAD(, dns_req)	 reqs = TAILQ_HEAD_INITIALIZER(reqs);
static LIST_HEAD(, dns_sock)	 socks = LIST_HEAD_INITIALIZER(socks);

int
dns_init(const char *server, int port)
{
	struct ares_options	 opts;
	struct in_addr		 a4;
	struct in6_addr		 a6;
	static char		 lookups[] = "b";
	char			 csv[INET6_ADDRSTRLEN + 16];
	int			 mask, r;

	if (channel != NULL) {
		log_warnx("dns: already initialised");
		return -1;
	}
	if (server != NULL) {
		if (port == 0)
			port = 53;
		if (port < 1 || port > 65535) {
			log_warnx("dns: bad resolver port %d", port);
			return -1;
		}
		if (inet_pton(AF_INET, server, &a4) == 1)
			r = snprintf(csv, sizeof(csv), "%s:%d", server, port);
		else if (inet_pton(AF_INET6, server, &a6) == 1)
			r = snprintf(csv, sizeof(csv), "[%s]:%d", server, port);
		else {
			log_warnx("dns: resolver %s is not an address", server);
			return -1;
		}
		if (r < 0 || (size_t)r >= sizeof(csv)) {
			log_warnx("dns: resolver %s: too long", server);
			return -1;
		}
	}
	if ((r = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		log_warnx("dns: ares_library_init: %s", ares_strerror(r));
		return -1;
	}

	memset(&opts, 0, sizeof(opts));
	mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
	    ARES_OPT_LOOKUPS | ARES_OPT_SOCK_STATE_CB | ARES_OPT_EDNSPSZ;
	/* No search list, no HOSTALIASES: mail domains are absolute. */
	opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_EDNS;
	opts.timeout = DNS_QUERY_TIMEOUT_MS;
	opts.tries = DNS_QUERY_TRIES;
	opts.lookups = lookups;		/* DNS only: no files in a chroot */
	opts.sock_state_cb = sock_state;
	opts.sock_state_cb_data = NULL;
	opts.ednspsz = 1232;
#ifdef ARES_OPT_UDP_MAX_QUERIES
	/* Newer c-ares: a fresh source port now and then, against spoofing. */
	opts.udp_max_queries = 100;
	mask |= ARES_OPT_UDP_MAX_QUERIES;
#endif
	if ((r = ares_init_options(&channel, &opts, mask)) != ARES_SUCCESS) {
		log_warnx("dns: ares_init_options: %s", ares_strerror(r));
		channel = NULL;
		ares_library_cleanup();
		return -1;
	}
	if (server != NULL &&
	    (r = ares_set_servers_ports_csv(channel, csv)) != ARES_SUCCESS) {
		log_warnx("dns: resolver %s: %s", csv, ares_strerror(r));
		ares_destroy(channel);
		channel = NULL;
		ares_library_cleanup();
		return -1;
	}
	log_debug("dns: c-ares %s, resolver %s", ares_version(NULL),
	    server != NULL ? csv : "from the system");
	return 0;
}

void
dns_shutdown(void)
{
	struct dns_req	*req;
	struct dns_sock	*s;

	if (channel == NULL)
		return;
	/* Every query comes back once more with ARES_EDESTRUCTION. */
	closing = 1;
	ares_destroy(channel);
	channel = NULL;
	if (ev_ares_set)
		evtimer_del(&ev_ares);
	while ((s = LIST_FIRST(&socks)) != NULL) {
		event_del(&s->ev);
		LIST_REMOVE(s, entry);
		free(s);
	}
	while ((req = TAILQ_FIRST(&reqs)) != NULL) {
		TAILQ_REMOVE(&reqs, req, entry);
		req_free(req);
	}
	ares_library_cleanup();
	closing = 0;
}

/* An MX-shaped request for a checked name, or NULL (already answered). */
static struct dns_req *
mx_req(const char *name, dns_mx_cb cb, void *arg, const char *what)
{
	struct dns_req	*req;

	req = req_new(REQ_MX, arg);
	req->mx_cb = cb;
	if ((req->hosts = calloc(DNS_MAX_HOSTS, sizeof(*req->hosts))) == NULL)
		fatal("calloc");
	if (channel == NULL) {
		req->tempfail = 1;
		req_release(req);
		return NULL;
	}
	if (name == NULL ||
	    !dns_name_valid(name, req->name, sizeof(req->name))) {
		log_debug("dns: %s: invalid name", what);
		req_release(req);
		return NULL;
	}
	return req;
}

void
dns_mx(const char *domain, dns_mx_cb cb, void *arg)
{
	struct dns_req	*req;

	if ((req = mx_req(domain, cb, arg, "MX")) == NULL)
		return;
	req_query(req, req->name, ns_t_mx, 0);
	req_release(req);
}

/* An MX request whose answer is known: the name is its own host. */
void
dns_host(const char *name, dns_mx_cb cb, void *arg)
{
	struct dns_req	*req;

	if ((req = mx_req(name, cb, arg, "host")) == NULL)
		return;
	mx_add(req, req->name, 0);
	req_query(req, req->name, ns_t_aaaa, 0);
	req_query(req, req->name, ns_t_a, 0);
	req_release(req);
}

void
dns_fcrdns(const struct sockaddr_storage *ss, dns_fcrdns_cb cb, void *arg)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	struct dns_req			*req;
	char				*p;
	size_t				 left;
	int				 i, r;

	req = req_new(REQ_FCRDNS, arg);
	req->fc_cb = cb;
	if (channel == NULL) {
		req->tempfail = 1;
		req_release(req);
		return;
	}
	if (ss != NULL && ss->ss_family == AF_INET) {
		sin = (const struct sockaddr_in *)ss;
		req->family = AF_INET;
		memcpy(req->addr, &sin->sin_addr, 4);
	} else if (ss != NULL && ss->ss_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			req->family = AF_INET;
			memcpy(req->addr, &sin6->sin6_addr.s6_addr[12], 4);
		} else {
			req->family = AF_INET6;
			memcpy(req->addr, &sin6->sin6_addr, 16);
		}
	} else {
		log_warnx("dns: FCrDNS: not an IP address");
		req_release(req);
		return;
	}

	if (req->family == AF_INET)
		r = snprintf(req->name, sizeof(req->name),
		    "%u.%u.%u.%u.in-addr.arpa", req->addr[3], req->addr[2],
		    req->addr[1], req->addr[0]);
	else {
		p = req->name;
		left = sizeof(req->name);
		for (i = 15; i >= 0; i--) {
			r = snprintf(p, left, "%x.%x.", req->addr[i] & 0xf,
			    req->addr[i] >> 4);
			p += r;		/* 4 of 254 bytes each: fits */
			left -= r;
		}
		r = snprintf(p, left, "ip6.arpa");
	}
	if (r < 0 || (size_t)r >= sizeof(req->name))
		fatalx("dns: reverse name");
	req_query(req, req->name, ns_t_ptr, 0);
	req_release(req);
}

void
dns_txt(const char *name, dns_txt_cb cb, void *arg)
{
	struct dns_req	*req;

	req = req_new(REQ_TXT, arg);
	req->txt_cb = cb;
	if (channel == NULL) {
		req->tempfail = 1;
		req_release(req);
		return;
	}
	if (name == NULL ||
	    !dns_name_valid(name, req->name, sizeof(req->name))) {
		log_debug("dns: TXT: invalid name");
		req_release(req);
		return;
	}
	req_query(req, req->name, ns_t_txt, 0);
	req_release(req);
}

void
dns_query(const char *name, int type, dns_rr_cb cb, void *arg)
{
	struct dns_req	*req;

	switch (type) {
	case DNS_T_A:
	case DNS_T_AAAA:
	case DNS_T_MX:
	case DNS_T_PTR:
	case DNS_T_TXT:
		break;
	default:
		fatalx("dns_query: type %d", type);
	}
	req = req_new(REQ_RR, arg);
	req->rr_cb = cb;
	req->rrtype = type;
	if (channel == NULL) {
		req->tempfail = 1;
		req_release(req);
		return;
	}
	if (name == NULL ||
	    !dns_qname_valid(name, req->name, sizeof(req->name))) {
		log_debug("dns: query: invalid name");
		req->rrset = dns_rrset_make(type, DNS_NXDOMAIN,
		    DNS_NEGATIVE_TTL, NULL, 0);
		req_release(req);
		return;
	}
	req_query(req, req->name, type, 0);
	req_release(req);
}

struct dns_rrset *
dns_rrset_make(int type, enum dns_status status, unsigned int ttl,
    const struct dns_rr *rr, size_t n)
{
	struct dns_rrset	*rs;
	char			*text;
	size_t			 i, size;

	size = sizeof(*rs) + n * sizeof(rs->rr[0]);
	for (i = 0; i < n; i++)
		if (rr[i].text != NULL)
			size += rr[i].len + 1;
	if ((rs = calloc(1, size)) == NULL)
		fatal("calloc");
	rs->type = type;
	rs->status = status;
	rs->ttl = ttl;
	rs->size = size;
	rs->n = n;
	text = (char *)&rs->rr[n];
	for (i = 0; i < n; i++) {
		rs->rr[i] = rr[i];
		if (rr[i].text == NULL)
			continue;
		memcpy(text, rr[i].text, rr[i].len);
		text[rr[i].len] = '\0';
		rs->rr[i].text = text;
		text += rr[i].len + 1;
	}
	return rs;
}

struct dns_rrset *
dns_rrset_dup(const struct dns_rrset *rs)
{
	struct dns_rrset	*copy;
	size_t			 i;

	if ((copy = malloc(rs->size)) == NULL)
		fatal("malloc");
	memcpy(copy, rs, rs->size);
	for (i = 0; i < copy->n; i++)
		if (rs->rr[i].text != NULL)
			copy->rr[i].text = (const char *)copy +
			    (rs->rr[i].text - (const char *)rs);
	return copy;
}

/*
 * A name we ask for: printable ASCII and spaces, no backslash (c-ares
 * reads escapes), labels of 1 to 63, at most DNS_NAME_MAX without the
 * final dot.  Copied lowercased, without the final dot.
 */
int
dns_qname_valid(const char *in, char *out, size_t outsz)
{
	return name_check(in, out, outsz, 1);
}

const char *
dns_strstatus(enum dns_status s)
{
	switch (s) {
	case DNS_OK:
		return "ok";
	case DNS_NXDOMAIN:
		return "no such domain";
	case DNS_TEMPFAIL:
		return "temporary DNS failure";
	case DNS_NULLMX:
		return "domain does not accept mail (null MX)";
	}
	return "?";
}

const char *
dns_strfcrdns(enum dns_fcrdns s)
{
	switch (s) {
	case FCRDNS_PASS:
		return "pass";
	case FCRDNS_NORDNS:
		return "no reverse DNS";
	case FCRDNS_MISMATCH:
		return "reverse DNS does not match forward DNS";
	case FCRDNS_TEMPFAIL:
		return "temporary DNS failure";
	}
	return "?";
}

/* -- c-ares and libevent -- */

static void
sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns_sock	*s;
	short		 events;

	(void)data;
	LIST_FOREACH(s, &socks, entry)
		if (s->fd == fd)
			break;
	if (!readable && !writable) {
		/* Safe within sock_ready(): it no longer touches s. */
		if (s != NULL) {
			event_del(&s->ev);
			LIST_REMOVE(s, entry);
			free(s);
		}
		return;
	}
	events = EV_PERSIST | (readable ? EV_READ : 0) |
	    (writable ? EV_WRITE : 0);
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			fatal("calloc");
		s->fd = fd;
		LIST_INSERT_HEAD(&socks, s, entry);
	} else if (s->events == events)
		return;
	else
		event_del(&s->ev);
	s->events = events;
	event_set(&s->ev, fd, events, sock_ready, s);
	if (event_add(&s->ev, NULL) == -1)
		fatal("event_add");
}

static void
sock_ready(int fd, short events, void *arg)
{
	(void)arg;
	if (channel == NULL)
		return;
	ares_process_fd(channel, (events & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (events & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	timer_update();
}

static void
timer_fire(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	if (channel == NULL)
		return;
	ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	timer_update();
}

static void
timer_update(void)
{
	struct timeval	 tv, *tvp;

	if (channel == NULL)
		return;
	/*
	 * Bound to the event base on first use: dns_init() runs before
	 * chroot, which may be before the process has its event loop.
	 */
	if (!ev_ares_set) {
		evtimer_set(&ev_ares, timer_fire, NULL);
		ev_ares_set = 1;
	}
	if ((tvp = ares_timeout(channel, NULL, &tv)) == NULL)
		evtimer_del(&ev_ares);
	else
		evtimer_add(&ev_ares, tvp);
}

/* -- requests -- */

static struct dns_req *
req_new(enum req_type type, void *arg)
{
	struct dns_req	*req;
	struct timeval	 tv = { DNS_LOOKUP_TIMEOUT, 0 };

	if ((req = calloc(1, sizeof(*req))) == NULL)
		fatal("calloc");
	req->type = type;
	req->state = RS_RUNNING;
	req->arg = arg;
	req->match = -1;
	req->pending = 1;	/* held until the first queries are sent */
	TAILQ_INSERT_TAIL(&reqs, req, entry);
	evtimer_set(&req->ev, req_event, req);
	evtimer_add(&req->ev, &tv);
	return req;
}

static void
req_query(struct dns_req *req, const char *name, int type, size_t idx)
{
	struct dns_query	*q;

	if (req->nq >= REQ_MAXQ)
		fatalx("dns: too many queries in one request");
	q = &req->q[req->nq++];
	q->req = req;
	q->type = type;
	q->idx = idx;
	req->pending++;
	/* May call req_answer() at once: the caller holds req. */
	ares_query(channel, name, ns_c_in, type, req_answer, q);
	timer_update();
}

static void
req_answer(void *arg, int status, int timeouts, ARES_ABUF *abuf, int alen)
{
	struct dns_query	*q = arg;
	struct dns_req		*req = q->req;

	(void)timeouts;
	if (closing) {
		/* dns_shutdown() frees what is still queued. */
		if (--req->pending == 0 && req->state == RS_DELIVERED)
			req_free(req);
		return;
	}
	if (status == ARES_SUCCESS && (abuf == NULL || alen <= 0))
		status = ARES_EBADRESP;
	if (req->state == RS_RUNNING && req->type == REQ_RR)
		rr_answer(req, status, abuf, alen);
	else if (req->state == RS_RUNNING) {
		switch (q->type) {
		case ns_t_mx:
			mx_answer(req, status, abuf, alen);
			break;
		case ns_t_a:
		case ns_t_aaaa:
			if (req->type == REQ_MX)
				mx_addr_answer(req, q, status, abuf, alen);
			else
				fwd_answer(req, q, status, abuf, alen);
			break;
		case ns_t_ptr:
			ptr_answer(req, status, abuf, alen);
			break;
		case ns_t_txt:
			txt_answer(req, status, abuf, alen);
			break;
		}
	}
	req_release(req);
}

static void
req_release(struct dns_req *req)
{
	if (--req->pending > 0)
		return;
	if (req->state == RS_RUNNING)
		req_complete(req);
	else if (req->state == RS_DELIVERED)
		req_free(req);
}

/* Compute the result from what came in, and schedule its delivery. */
static void
req_complete(struct dns_req *req)
{
	struct timeval	 tv = { 0, 0 };

	if (req->state != RS_RUNNING)
		return;
	switch (req->type) {
	case REQ_MX:
		mx_complete(req);
		break;
	case REQ_FCRDNS:
		fc_complete(req);
		break;
	case REQ_TXT:
		if (req->ntxt > 0)
			req->status = DNS_OK;
		else
			req->status = req->tempfail ? DNS_TEMPFAIL :
			    DNS_NXDOMAIN;
		break;
	case REQ_RR:
		/* No answer in time, or no resolver. */
		if (req->rrset == NULL)
			req->rrset = dns_rrset_make(req->rrtype, DNS_TEMPFAIL,
			    0, NULL, 0);
		break;
	}
	req->state = RS_DONE;
	evtimer_del(&req->ev);
	evtimer_add(&req->ev, &tv);
}

static void
req_event(int fd, short events, void *arg)
{
	struct dns_req	*req = arg;

	(void)fd;
	(void)events;
	if (req->state == RS_RUNNING) {
		log_debug("dns: lookup of %s timed out", req->name);
		req->tempfail = 1;
		req_complete(req);
		return;
	}
	req_deliver(req);
}

static void
req_deliver(struct dns_req *req)
{
	TAILQ_REMOVE(&reqs, req, entry);
	req->state = RS_DELIVERED;
	/* Held: the callback may call dns_shutdown(). */
	req->pending++;
	switch (req->type) {
	case REQ_MX:
		req->mx_cb(req->arg, req->status, req->out, req->nout);
		break;
	case REQ_FCRDNS:
		req->fc_cb(req->arg, req->fcrdns, req->fcname);
		break;
	case REQ_TXT:
		req->txt_cb(req->arg, req->status,
		    (const char *const *)req->txt, req->ntxt);
		break;
	case REQ_RR:
		req->rr_cb(req->arg, req->rrset);
		break;
	}
	req_release(req);
}

static void
req_free(struct dns_req *req)
{
	size_t	 i;

	evtimer_del(&req->ev);
	for (i = 0; i < req->ntxt; i++)
		free(req->txt[i]);
	free(req->hosts);
	free(req->out);
	free(req->rrset);
	free(req);
}

/* Failures that may go away: never answered as "does not exist". */
static int
temporary(int status)
{
	switch (status) {
	case ARES_SUCCESS:
	case ARES_ENODATA:
	case ARES_ENOTFOUND:
		return 0;
	}
	return 1;
}

/*
 * An answer that came but does not parse holds bad names (c-ares 1.18
 * refuses PTR and CNAME targets that are not host names; newer ones
 * escape them and dns_name_valid() refuses them): that is the zone's data,
 * which asking again will not fix, so it counts as no data.  Used for
 * addresses and PTR; an unparsable MX or TXT answer stays temporary.
 */
static int
unusable(const char *what, int status)
{
	if (status != ARES_EBADRESP)
		return status;
	log_debug("dns: %s: unusable answer", what);
	return ARES_ENODATA;
}

/*
 * Check a name, ours or from an answer: letters, digits, '-', '_';
 * labels of 1 to 63; at most DNS_NAME_MAX without the final dot.
 * c-ares writes odd bytes as \DDD escapes, so they end up refused
 * here too.  Copies it lowercased, without the final dot.
 */
int
dns_name_valid(const char *in, char *out, size_t outsz)
{
	return name_check(in, out, outsz, 0);
}

/*
 * The names of dns_name_valid() (host: letters, digits, '-', '_') and
 * of dns_qname_valid() (printable ASCII but a backslash): labels of 1 to
 * 63, at most DNS_NAME_MAX without the final dot; copied lowercased,
 * without it.
 */
static int
name_check(const char *in, char *out, size_t outsz, int any)
{
	size_t		 len, i, label = 0;
	unsigned char	 c;

	len = strnlen(in, DNS_NAME_MAX + 2);
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX || len >= outsz)
		return 0;
	for (i = 0; i < len; i++) {
		c = in[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (any ? (c < 0x20 || c > 0x7e || c == '\\') :
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
		if (++label > 63)
			return 0;
	}
	if (label == 0)
		return 0;	/* "name.." */
	for (i = 0; i < len; i++) {
		c = in[i];
		out[i] = (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
	}
	out[len] = '\0';
	return 1;
}

static int
parse_a(ARES_ABUF *abuf, int alen, struct in_addr *a, size_t max, size_t *n)
{
	struct ares_addrttl	 ttl[DNS_MAX_ADDRS];
	int			 nttl = DNS_MAX_ADDRS, i, r;

	r = ares_parse_a_reply(abuf, alen, NULL, ttl, &nttl);
	if ((r = unusable("A", r)) != ARES_SUCCESS)
		return r;
	for (i = 0; i < nttl && i < DNS_MAX_ADDRS && *n < max; i++)
		a[(*n)++] = ttl[i].ipaddr;
	return ARES_SUCCESS;
}

static int
parse_aaaa(ARES_ABUF *abuf, int alen, struct in6_addr *a, size_t max,
    size_t *n)
{
	struct ares_addr6ttl	 ttl[DNS_MAX_ADDRS];
	int			 nttl = DNS_MAX_ADDRS, i, r;

	r = ares_parse_aaaa_reply(abuf, alen, NULL, ttl, &nttl);
	if ((r = unusable("AAAA", r)) != ARES_SUCCESS)
		return r;
	for (i = 0; i < nttl && i < DNS_MAX_ADDRS && *n < max; i++)
		memcpy(&a[(*n)++], &ttl[i].ip6addr, sizeof(a[0]));
	return ARES_SUCCESS;
}

/* -- MX -- */

static void
mx_answer(struct dns_req *req, int status, ARES_ABUF *abuf, int alen)
{
	size_t	 i;

	mx_parse(req, status, abuf, alen);
	for (i = 0; i < req->nhosts; i++) {
		req_query(req, req->hosts[i].name, ns_t_aaaa, i);
		req_query(req, req->hosts[i].name, ns_t_a, i);
	}
}

/* The hosts of an MX answer into req: no queries, no I/O. */
static void
mx_parse(struct dns_req *req, int status, ARES_ABUF *abuf, int alen)
{
	struct ares_mx_reply	*mx = NULL, *m;
	char			 name[DNS_NAME_MAX + 1];
	size_t			 nbad = 0;

	if (status == ARES_SUCCESS)
		status = ares_parse_mx_reply(abuf, alen, &mx);
	if (status == ARES_ENODATA) {
		/* RFC 5321 5.1: no MX, the domain is its own MX. */
		mx_add(req, req->name, 0);
	} else if (status == ARES_SUCCESS) {
		for (m = mx; m != NULL; m = m->next) {
			if (m->host == NULL)
				continue;
			if (m->host[0] == '\0' || strcmp(m->host, ".") == 0)
				req->nullmx = 1;
			else if (dns_name_valid(m->host, name, sizeof(name)))
				mx_add(req, name, m->priority);
			else
				nbad++;
		}
		if (nbad > 0)
			log_debug("dns: %s: %zu bad MX names", req->name,
			    nbad);
		/* RFC 7505: "." among real hosts is a mistake; use those. */
		if (req->nhosts > 0)
			req->nullmx = 0;
	} else if (temporary(status)) {
		log_debug("dns: MX %s: %s", req->name, ares_strerror(status));
		req->tempfail = 1;
	}
	if (mx != NULL)
		ares_free_data(mx);
}

/* Insert by preference, stable, without duplicates, keeping the best. */
static void
mx_add(struct dns_req *req, const char *name, int pref)
{
	struct mx_host	*h = req->hosts;
	size_t		 i, pos;

	for (i = 0; i < req->nhosts; i++) {
		if (strcmp(h[i].name, name) != 0)
			continue;
		if (h[i].pref <= pref)
			return;
		memmove(&h[i], &h[i + 1], (req->nhosts - i - 1) * sizeof(*h));
		req->nhosts--;
		break;
	}
	for (pos = 0; pos < req->nhosts; pos++)
		if (h[pos].pref > pref)
			break;
	if (pos == DNS_MAX_HOSTS)
		return;
	if (req->nhosts == DNS_MAX_HOSTS)
		req->nhosts--;
	memmove(&h[pos + 1], &h[pos], (req->nhosts - pos) * sizeof(*h));
	memset(&h[pos], 0, sizeof(*h));
	strlcpy(h[pos].name, name, sizeof(h[pos].name));
	h[pos].pref = pref;
	req->nhosts++;
}

static void
mx_addr_answer(struct dns_req *req, struct dns_query *q, int status,
    ARES_ABUF *abuf, int alen)
{
	struct mx_host	*h;

	if (q->idx >= req->nhosts)
		return;
	h = &req->hosts[q->idx];
	if (status == ARES_SUCCESS) {
		if (q->type == ns_t_a)
			status = parse_a(abuf, alen, h->a4, DNS_MAX_ADDRS,
			    &h->n4);
		else
			status = parse_aaaa(abuf, alen, h->a6, DNS_MAX_ADDRS,
			    &h->n6);
	}
	if (temporary(status)) {
		log_debug("dns: %s %s: %s", q->type == ns_t_a ? "A" : "AAAA",
		    h->name, ares_strerror(status));
		req->tempfail = 1;
	}
}

static void
mx_complete(struct dns_req *req)
{
	struct mx_host	*h;
	struct dns_host	*o;
	size_t		 i, j, n4, n6;

	if (req->nullmx) {
		req->status = DNS_NULLMX;
		return;
	}
	if (req->nhosts > 0 &&
	    (req->out = calloc(req->nhosts, sizeof(*req->out))) == NULL)
		fatal("calloc");
	for (i = 0; i < req->nhosts; i++) {
		h = &req->hosts[i];
		if (h->n4 + h->n6 == 0)
			continue;
		/* IPv6 first, but leave IPv4 half the room if it has some. */
		n4 = h->n4 < DNS_MAX_ADDRS / 2 ? h->n4 : DNS_MAX_ADDRS / 2;
		n6 = h->n6 < DNS_MAX_ADDRS - n4 ? h->n6 : DNS_MAX_ADDRS - n4;
		n4 = h->n4 < DNS_MAX_ADDRS - n6 ? h->n4 : DNS_MAX_ADDRS - n6;
		o = &req->out[req->nout++];
		strlcpy(o->name, h->name, sizeof(o->name));
		o->pref = h->pref;
		for (j = 0; j < n6; j++)
			sa_set(&o->addr[o->naddr++], AF_INET6, &h->a6[j]);
		for (j = 0; j < n4; j++)
			sa_set(&o->addr[o->naddr++], AF_INET, &h->a4[j]);
	}
	if (req->nout > 0)
		req->status = DNS_OK;
	else
		req->status = req->tempfail ? DNS_TEMPFAIL : DNS_NXDOMAIN;
}

static void
sa_set(struct sockaddr_storage *ss, int family, const void *a)
{
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
#ifdef SIN6_LEN
		sin->sin_len = sizeof(*sin);
#endif
		memcpy(&sin->sin_addr, a, sizeof(sin->sin_addr));
	} else {
		sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
#ifdef SIN6_LEN
		sin6->sin6_len = sizeof(*sin6);
#endif
		memcpy(&sin6->sin6_addr, a, sizeof(sin6->sin6_addr));
	}
}

/* -- FCrDNS -- */

static void
ptr_answer(struct dns_req *req, int status, ARES_ABUF *abuf, int alen)
{
	size_t	 i;

	ptr_parse(req, status, abuf, alen);
	for (i = 0; i < req->nptr; i++)
		req_query(req, req->ptr[i], req->family == AF_INET ?
		    ns_t_a : ns_t_aaaa, i);
}

/* The names of a PTR answer into req: no queries, no I/O. */
static void
ptr_parse(struct dns_req *req, int status, ARES_ABUF *abuf, int alen)
{
	struct hostent	*he = NULL;
	size_t		 i;

	if (status == ARES_SUCCESS) {
		status = ares_parse_ptr_reply(abuf, alen, req->addr,
		    req->family == AF_INET ? 4 : 16, req->family, &he);
		status = unusable(req->name, status);
	}
	if (status == ARES_SUCCESS && he != NULL) {
		/* c-ares lists every PTR name as an alias, h_name last. */
		if (he->h_aliases != NULL)
			for (i = 0; he->h_aliases[i] != NULL; i++)
				ptr_add(req, he->h_aliases[i]);
		if (he->h_name != NULL)
			ptr_add(req, he->h_name);
	} else if (temporary(status)) {
		log_debug("dns: PTR %s: %s", req->name, ares_strerror(status));
		req->tempfail = 1;
	}
	if (he != NULL)
		ares_free_hostent(he);
}

static void
ptr_add(struct dns_req *req, const char *name)
{
	char	 buf[DNS_NAME_MAX + 1];
	size_t	 i;

	if (req->nptr >= DNS_MAX_PTR)
		return;
	if (!dns_name_valid(name, buf, sizeof(buf))) {
		log_debug("dns: PTR %s: bad name skipped", req->name);
		return;
	}
	for (i = 0; i < req->nptr; i++)
		if (strcmp(req->ptr[i], buf) == 0)
			return;
	strlcpy(req->ptr[req->nptr++], buf, sizeof(req->ptr[0]));
}

static void
fwd_answer(struct dns_req *req, struct dns_query *q, int status,
    ARES_ABUF *abuf, int alen)
{
	struct in_addr	 a4[DNS_MAX_ADDRS];
	struct in6_addr	 a6[DNS_MAX_ADDRS];
	size_t		 i, n = 0;

	if (status == ARES_SUCCESS) {
		if (req->family == AF_INET) {
			status = parse_a(abuf, alen, a4, DNS_MAX_ADDRS, &n);
			for (i = 0; status == ARES_SUCCESS && i < n; i++)
				if (memcmp(&a4[i], req->addr, 4) == 0)
					break;
		} else {
			status = parse_aaaa(abuf, alen, a6, DNS_MAX_ADDRS, &n);
			for (i = 0; status == ARES_SUCCESS && i < n; i++)
				if (memcmp(&a6[i], req->addr, 16) == 0)
					break;
		}
		if (status == ARES_SUCCESS && i < n) {
			/* One confirmed name is enough: answer now. */
			req->match = q->idx;
			req_complete(req);
			return;
		}
	}
	if (temporary(status)) {
		log_debug("dns: forward lookup of %s: %s",
		    q->idx < req->nptr ? req->ptr[q->idx] : "?",
		    ares_strerror(status));
		req->tempfail = 1;
	}
}

static void
fc_complete(struct dns_req *req)
{
	if (req->match >= 0 && (size_t)req->match < req->nptr) {
		req->fcrdns = FCRDNS_PASS;
		req->fcname = req->ptr[req->match];
		return;
	}
	req->fcname = req->nptr > 0 ? req->ptr[0] : "";
	if (req->tempfail)
		req->fcrdns = FCRDNS_TEMPFAIL;
	else if (req->nptr == 0)
		req->fcrdns = FCRDNS_NORDNS;
	else
		req->fcrdns = FCRDNS_MISMATCH;
}

/* -- TXT -- */

static void
txt_answer(struct dns_req *req, int status, ARES_ABUF *abuf, int alen)
{
	struct ares_txt_ext	*txt = NULL, *t;
	char			*cur = NULL;
	size_t			 len = 0;
	int			 bad = 0;

	if (status == ARES_SUCCESS)
		status = ares_parse_txt_reply_ext(abuf, alen, &txt);
	if (temporary(status)) {
		log_debug("dns: TXT %s: %s", req->name, ares_strerror(status));
		req->tempfail = 1;
	}
	if (status != ARES_SUCCESS)
		goto done;
	for (t = txt; ; t = t->next) {
		if (t == NULL || t->record_start) {
			/* The previous record is complete. */
			if (cur != NULL && !bad && req->ntxt < DNS_MAX_TXT) {
				cur[len] = '\0';
				req->txt[req->ntxt++] = cur;
			} else
				free(cur);
			cur = NULL;
			if (t == NULL)
				break;
			if ((cur = malloc(DNS_TXT_MAX + 1)) == NULL)
				fatal("malloc");
			len = 0;
			bad = 0;
		}
		if (cur == NULL || bad)
			continue;
		if (t->length > DNS_TXT_MAX - len ||
		    (t->length > 0 && memchr(t->txt, '\0', t->length) != NULL))
			bad = 1;
		else {
			memcpy(cur + len, t->txt, t->length);
			len += t->length;
		}
	}
 done:
	if (txt != NULL)
		ares_free_data(txt);
}

/* -- records of one name and type -- */

#define RR_HDR		12	/* DNS message header */
#define RR_MAXCNAME	8	/* CNAMEs followed inside one answer */
#define RR_WIRE_MAX	255	/* a name in wire form, final 0 included */

static void
rr_answer(struct dns_req *req, int status, ARES_ABUF *abuf, int alen)
{
	const unsigned char	*buf = abuf;
	size_t			 len = alen > 0 ? (size_t)alen : 0;

	if (buf == NULL)
		len = 0;
	switch (status) {
	case ARES_SUCCESS:
	case ARES_ENODATA:
	case ARES_ENOTFOUND:
		req->rrset = rr_parse(buf, len, req->name, req->rrtype,
		    status != ARES_SUCCESS);
		break;
	default:
		log_debug("dns: %s: %s", req->name, ares_strerror(status));
		req->rrset = dns_rrset_make(req->rrtype, DNS_TEMPFAIL, 0,
		    NULL, 0);
		break;
	}
	if (req->rrset->status == DNS_TEMPFAIL)
		req->tempfail = 1;
	req_complete(req);
}

/*
 * Read the records of type for qname out of a whole answer message:
 * those owned by qname or by the end of a CNAME chain starting there
 * inside the answer section.  negative: c-ares said NXDOMAIN or NODATA;
 * then only the SOA's TTL is wanted.  A message that does not parse is
 * a temporary failure; a record that does not is left out.
 */
static struct dns_rrset *
rr_parse(const unsigned char *buf, size_t len, const char *qname, int type,
    int negative)
{
	struct rr_set		 set;
	struct dns_rrset	*rs;
	unsigned char		 owner[RR_WIRE_MAX], want[RR_WIRE_MAX];
	unsigned char		 target[RR_WIRE_MAX];
	unsigned long		 ttl, minttl = ULONG_MAX, negttl = ULONG_MAX;
	size_t			 an, ns, qd, i, pos, start, p, rdlen, hops;
	int			 rtype, found;

	memset(&set, 0, sizeof(set));
	set.type = type;
	if (len < RR_HDR)
		goto bad;
	qd = buf[4] << 8 | buf[5];
	an = buf[6] << 8 | buf[7];
	ns = buf[8] << 8 | buf[9];
	pos = RR_HDR;
	for (i = 0; i < qd; i++) {
		if (!rr_name(buf, len, &pos, owner) || len - pos < 4)
			goto bad;
		pos += 4;
	}
	start = pos;
	/* Text cannot be longer than the message, names aside. */
	set.cap = len + DNS_RR_MAX * (DNS_NAME_MAX + 1);
	if ((set.text = malloc(set.cap)) == NULL)
		fatal("malloc");
	wire_name(qname, want);

	/* The CNAME chain first: a pass over the answers for each hop. */
	for (hops = 0; hops <= RR_MAXCNAME; hops++) {
		pos = start;
		found = 0;
		for (i = 0; i < an; i++) {
			if (!rr_next(buf, len, &pos, owner, &rtype, &ttl, &p,
			    &rdlen))
				goto bad;
			if (found || negative || rtype != ns_t_cname ||
			    !wire_eq(owner, want))
				continue;
			if (!rr_name(buf, p + rdlen, &p, target) ||
			    p != pos)
				goto bad;
			if (minttl > ttl)
				minttl = ttl;
			memcpy(want, target, sizeof(want));
			found = 1;
		}
		if (!found)
			break;
	}
	/* Then the records of type owned by the end of the chain. */
	pos = start;
	for (i = 0; i < an; i++) {
		if (!rr_next(buf, len, &pos, owner, &rtype, &ttl, &p, &rdlen))
			goto bad;
		if (negative || rtype != type || !wire_eq(owner, want))
			continue;
		if (set.n >= DNS_RR_MAX || !rr_data(&set, buf, p, rdlen)) {
			set.dropped++;
			continue;
		}
		if (minttl > ttl)
			minttl = ttl;
		/* An RRset is a set (RFC 2181 5): one of each record. */
		if (!rr_dup(&set))
			set.n++;
		else if (set.rr[set.n].text != NULL)
			set.used -= set.rr[set.n].len + 1;
	}
	/* The SOA of a negative answer: min(its TTL, its MINIMUM). */
	for (i = 0; set.n == 0 && i < ns; i++) {
		if (!rr_next(buf, len, &pos, owner, &rtype, &ttl, &p, &rdlen))
			break;
		if (rtype != ns_t_soa)
			continue;
		if (!rr_name(buf, pos, &p, target) ||
		    !rr_name(buf, pos, &p, target) || pos - p != 20)
			continue;
		negttl = (unsigned long)buf[p + 16] << 24 |
		    (unsigned long)buf[p + 17] << 16 |
		    (unsigned long)buf[p + 18] << 8 | buf[p + 19];
		if (negttl > ttl)
			negttl = ttl;
		break;
	}

	if (set.n > 0)
		rs = dns_rrset_make(type, DNS_OK, rr_ttl(minttl), set.rr,
		    set.n);
	else
		rs = dns_rrset_make(type, DNS_NXDOMAIN, negttl == ULONG_MAX ?
		    DNS_NEGATIVE_TTL : rr_ttl(negttl), NULL, 0);
	rs->dropped = set.dropped;
	free(set.text);
	return rs;

 bad:
	free(set.text);
	/* c-ares has read the header: "none" needs no more of it. */
	if (negative)
		return dns_rrset_make(type, DNS_NXDOMAIN, DNS_NEGATIVE_TTL,
		    NULL, 0);
	log_debug("dns: %s: malformed answer", qname);
	return dns_rrset_make(type, DNS_TEMPFAIL, 0, NULL, 0);
}

/*
 * The resource record at *pos: its owner, type, TTL, and where its
 * rdata is; *pos moves past it.  1, or 0 if it does not parse.
 */
static int
rr_next(const unsigned char *buf, size_t len, size_t *pos,
    unsigned char *owner, int *type, unsigned long *ttl, size_t *rdpos,
    size_t *rdlen)
{
	size_t	 p = *pos;

	if (!rr_name(buf, len, &p, owner) || len - p < 10)
		return 0;
	*type = buf[p] << 8 | buf[p + 1];
	*ttl = (unsigned long)buf[p + 4] << 24 |
	    (unsigned long)buf[p + 5] << 16 |
	    (unsigned long)buf[p + 6] << 8 | buf[p + 7];
	/* RFC 2181 8: a TTL with the top bit set is 0. */
	if (*ttl > 0x7fffffffUL)
		*ttl = 0;
	*rdlen = buf[p + 8] << 8 | buf[p + 9];
	p += 10;
	if (len - p < *rdlen)
		return 0;
	*rdpos = p;
	*pos = p + *rdlen;
	return 1;
}

/*
 * The rdata at buf[p..p+rdlen) into set->rr[set->n], its text in
 * set->text.  1, or 0 when it is malformed, names what struct dns_rr
 * cannot hold, or does not fit.
 */
static int
rr_data(struct rr_set *set, const unsigned char *buf, size_t p,
    size_t rdlen)
{
	struct dns_rr	*rr = &set->rr[set->n];
	unsigned char	 target[RR_WIRE_MAX];
	char		 name[RR_WIRE_MAX];
	size_t		 end = p + rdlen, slen = 0;
	int		 tl;

	memset(rr, 0, sizeof(*rr));
	switch (set->type) {
	case DNS_T_A:
	case DNS_T_AAAA:
		if (rdlen != (set->type == DNS_T_A ? 4U : 16U))
			return 0;
		memcpy(rr->addr, buf + p, rdlen);
		return 1;
	case DNS_T_MX:
	case DNS_T_PTR:
		if (set->type == DNS_T_MX) {
			if (rdlen < 2)
				return 0;
			rr->pref = buf[p] << 8 | buf[p + 1];
			p += 2;
		}
		if (!rr_name(buf, end, &p, target) || p != end ||
		    (tl = wire_text(target, name)) < 0 ||
		    set->used + tl + 1 > set->cap)
			return 0;
		memcpy(set->text + set->used, name, tl + 1);
		rr->len = tl;
		break;
	case DNS_T_TXT:
		/* Its strings must fill the rdata exactly. */
		while (p < end) {
			slen += buf[p];
			p += 1 + buf[p];
		}
		if (p != end || set->used + slen + 1 > DNS_RR_TEXT_MAX ||
		    set->used + slen + 1 > set->cap)
			return 0;
		for (p = end - rdlen; p < end; p += 1 + buf[p]) {
			memcpy(set->text + set->used + rr->len, buf + p + 1,
			    buf[p]);
			rr->len += buf[p];
		}
		set->text[set->used + slen] = '\0';
		break;
	default:
		return 0;
	}
	rr->text = set->text + set->used;
	set->used += rr->len + 1;
	return 1;
}

/* Whether set->rr[set->n], just read, is one of those before it. */
static int
rr_dup(const struct rr_set *set)
{
	const struct dns_rr	*new = &set->rr[set->n], *old;
	size_t			 i;

	for (i = 0; i < set->n; i++) {
		old = &set->rr[i];
		if (old->pref != new->pref || old->len != new->len ||
		    memcmp(old->addr, new->addr, sizeof(old->addr)) != 0)
			continue;
		if (old->text == NULL || memcmp(old->text, new->text,
		    old->len) == 0)
			return 1;
	}
	return 0;
}

/* TTLs are cut to a day. */
static unsigned int
rr_ttl(unsigned long ttl)
{
	return ttl > DNS_TTL_MAX ? DNS_TTL_MAX : (unsigned int)ttl;
}

/*
 * The name at *pos in buf[0..len) into out in wire form, lowercased,
 * following compression pointers (backwards only, so they end); *pos
 * moves past the name as it is in the message.  1, or 0 if malformed.
 */
static int
rr_name(const unsigned char *buf, size_t len, size_t *pos, unsigned char *out)
{
	size_t		 p = *pos, n = 0, limit = len, ptr, i;
	unsigned char	 c, l;
	int		 jumped = 0;

	for (;;) {
		if (p >= limit)
			return 0;
		l = buf[p];
		if ((l & 0xc0) == 0xc0) {
			if (p + 1 >= limit)
				return 0;
			ptr = (size_t)(l & 0x3f) << 8 | buf[p + 1];
			if (!jumped)
				*pos = p + 2;
			jumped = 1;
			/* Strictly backwards, into what precedes: no loop. */
			if (ptr >= p)
				return 0;
			limit = p;
			p = ptr;
			continue;
		}
		if (l & 0xc0)
			return 0;	/* the reserved label types */
		if (n + 1 + l > RR_WIRE_MAX || p + 1 + l > limit)
			return 0;
		out[n++] = l;
		for (i = 0; i < l; i++) {
			c = buf[p + 1 + i];
			out[n++] = (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
		}
		p += 1 + l;
		if (l == 0)
			break;
	}
	if (!jumped)
		*pos = p;
	return 1;
}

/* A text name (checked by dns_qname_valid()) into wire form; its size. */
static size_t
wire_name(const char *name, unsigned char *out)
{
	size_t	 n = 0, start = 0;
	unsigned char	 c;

	out[n++] = 0;
	for (; *name != '\0'; name++) {
		c = *name;
		if (c == '.') {
			out[start] = n - start - 1;
			start = n;
			out[n++] = 0;
			continue;
		}
		out[n++] = (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
	}
	out[start] = n - start - 1;
	if (out[start] != 0)
		out[n++] = 0;
	return n;
}

/*
 * A wire name as text for struct dns_rr: labels of printable ASCII and
 * spaces, no dot or backslash in a label; "" for the root.  Its length,
 * or -1 if it cannot be written so.
 */
static int
wire_text(const unsigned char *wire, char *out)
{
	size_t	 n = 0, i;
	unsigned char	 c;

	for (; *wire != 0; wire += 1 + *wire) {
		if (n > 0)
			out[n++] = '.';
		for (i = 1; i <= *wire; i++) {
			c = wire[i];
			if (c < 0x20 || c > 0x7e || c == '.' || c == '\\')
				return -1;
			out[n++] = c;
		}
	}
	if (n > DNS_NAME_MAX)
		return -1;
	out[n] = '\0';
	return (int)n;
}

static int
wire_eq(const unsigned char *a, const unsigned char *b)
{
	for (;;) {
		if (*a != *b || memcmp(a + 1, b + 1, *a) != 0)
			return 0;
		if (*a == 0)
			return 1;
		b += 1 + *b;
		a += 1 + *a;
	}
}
