/*
 * mailctl dns check: ask DNS for the records that mailctl dns prints,
 * and say record by record whether they are there and right.
 *
 * It uses c-ares directly rather than the daemon's dns.c: it must see
 * the MX targets themselves (dns_mx() resolves them, drops those
 * without addresses and falls back to the implicit MX), tell a timeout
 * from a SERVFAIL, and show TXT records dns_txt() would drop.  Queries
 * go out in three rounds (the names, then PTR of the addresses found,
 * then the forward lookup of the PTR names) under one deadline.
 *
 * Every answer is hostile: names are checked before use, records are
 * bounded, and bytes from DNS are escaped before they are printed.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>

/* The query API of c-ares 1.18 (Debian 12), deprecated in 1.28. */
#define CARES_NO_DEPRECATED
#include <ares.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dkim.h"
#include "dns.h"
#include "mailctl.h"
#include "mailctl_dns.h"

/* The answer buffer is const in the callback of c-ares 1.34.7 only. */
#if ARES_VERSION == 0x012207
#define ARES_ABUF	const unsigned char
#else
#define ARES_ABUF	unsigned char
#endif

#define CHK_TIMEOUT_MS	1500	/* first try; c-ares doubles it */
#define CHK_TRIES	2	/* so 4.5 s for a server that never answers */
#define CHK_DEADLINE_MS	9000	/* every query of one check */
#define CHK_SOCKS	16	/* sockets c-ares may open at once */

/* One DNS query of a check and its answer. */
struct dq {
	TAILQ_ENTRY(dq)	 entry;
	int		 type;		/* ns_t_* */
	char		 name[DNS_NAME_MAX + 1];
	int		 sent;
	int		 done;
	int		 status;	/* ARES_* */
	unsigned char	*abuf;		/* the answer, copied */
	int		 alen;
};
TAILQ_HEAD(dqlist, dq);

struct txtrec {
	char		*s;		/* NUL-terminated, may hold NULs */
	size_t		 len;
	int		 toolong;	/* cut at TXT_MAX */
};

struct txtset {
	struct txtrec	 r[MAX_TXT];
	size_t		 n;		/* kept */
	size_t		 total;		/* in the answer */
};

static const char *esc(const char *, size_t, char *, size_t);
static void	 report(struct mdns_ctx *, int, const char *, const char *,
		    const char *, ...) __attribute__((__format__ (printf, 5,
		    6)));
static int	 chk_init(const struct maild_conf *);
static struct dq *q_get(int, const char *);
static void	 q_answer(void *, int, int, ARES_ABUF *, int);
static void	 q_run(void);
static void	 q_sock(void *, ares_socket_t, int, int);
static void	 q_free(void);
static int	 q_state(struct mdns_ctx *, const char *, const char *,
		    struct dq *);
static const char *q_strerror(int);
static int	 q_addrs(struct dq *, struct mdns_ip *, size_t, size_t *);
static int	 q_names(struct dq *, const struct mdns_ip *,
		    char (*)[DNS_NAME_MAX + 1], size_t, size_t *);
static void	 name_add(char (*)[DNS_NAME_MAX + 1], size_t, size_t *,
		    const char *, int);
static int	 q_txt(struct dq *, struct txtset *);
static void	 txt_free(struct txtset *);
static const char *ips_text(const struct mdns_ip *, size_t, char *, size_t);
static void	 check_addrs(struct mdns_ctx *);
static int	 ptr_names(const struct mdns_ip *, char (*)[DNS_NAME_MAX + 1],
		    size_t *);
static void	 check_ptr(struct mdns_ctx *, const struct mdns_ip *);
static void	 check_mx(struct mdns_ctx *, const char *);
static int	 is_spf(const struct txtrec *);
static void	 check_spf(struct mdns_ctx *, const char *);
static int	 spf_eval(struct mdns_ctx *, const char *,
		    const struct txtrec *, char *, size_t);
static int	 spf_mentions(struct mdns_ctx *, const char *, const char *);
static int	 cidr_match(const char *, int, const struct mdns_ip *);
static void	 check_dkim(struct mdns_ctx *, const struct dkimconf *);
static int	 tag_get(const char *, size_t, const char *, char *, size_t);
static const char *tail(const char *);
static void	 check_dmarc(struct mdns_ctx *, const char *);

static ares_channel	 channel;
static struct dqlist	 queries = TAILQ_HEAD_INITIALIZER(queries);
static int		 npending;
static struct timespec	 deadline;
static struct pollfd	 socks[CHK_SOCKS];
static size_t		 nsocks;

/* -- mailctl dns check: the queries -- */

static int
chk_init(const struct maild_conf *conf)
{
	struct ares_options	 opts;
	struct in_addr		 a4;
	struct in6_addr		 a6;
	static char		 lookups[] = "b";
	char			 csv[INET6_ADDRSTRLEN + 16];
	int			 r, mask;

	if (conf->resolver[0] != '\0') {
		if (inet_pton(AF_INET, conf->resolver, &a4) == 1)
			r = snprintf(csv, sizeof(csv), "%s:%d",
			    conf->resolver, conf->resolver_port);
		else if (inet_pton(AF_INET6, conf->resolver, &a6) == 1)
			r = snprintf(csv, sizeof(csv), "[%s]:%d",
			    conf->resolver, conf->resolver_port);
		else
			r = -1;
		if (r < 0 || (size_t)r >= sizeof(csv)) {
			fprintf(stderr, "mailctl: resolver %s: not an "
			    "address\n", conf->resolver);
			return -1;
		}
	}
	if ((r = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		fprintf(stderr, "mailctl: c-ares: %s\n", ares_strerror(r));
		return -1;
	}
	/*
	 * As maild's dns_init(): absolute names, DNS only.  And a SERVFAIL
	 * or REFUSED is the answer to report: c-ares 1.18 would otherwise
	 * try the other servers and then say "connection refused".
	 */
	memset(&opts, 0, sizeof(opts));
	mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
	    ARES_OPT_LOOKUPS | ARES_OPT_SOCK_STATE_CB | ARES_OPT_EDNSPSZ;
	opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES |
	    ARES_FLAG_EDNS | ARES_FLAG_NOCHECKRESP;
	opts.timeout = CHK_TIMEOUT_MS;
	opts.tries = CHK_TRIES;
	opts.lookups = lookups;
	opts.sock_state_cb = q_sock;
	opts.ednspsz = 1232;
	if ((r = ares_init_options(&channel, &opts, mask)) != ARES_SUCCESS) {
		fprintf(stderr, "mailctl: c-ares: %s\n", ares_strerror(r));
		channel = NULL;
		ares_library_cleanup();
		return -1;
	}
	if (conf->resolver[0] != '\0' &&
	    (r = ares_set_servers_ports_csv(channel, csv)) != ARES_SUCCESS) {
		fprintf(stderr, "mailctl: resolver %s: %s\n", csv,
		    ares_strerror(r));
		q_free();
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += CHK_DEADLINE_MS / 1000;
	deadline.tv_nsec += (CHK_DEADLINE_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	return 0;
}

/* The query for (type, name), added to the next round if new. */
static struct dq *
q_get(int type, const char *name)
{
	struct dq	*q;

	TAILQ_FOREACH(q, &queries, entry)
		if (q->type == type && strcmp(q->name, name) == 0)
			return q;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		fatal("calloc");
	q->type = type;
	q->status = ARES_ETIMEOUT;
	(void)strlcpy(q->name, name, sizeof(q->name));	/* dns_name_valid() */
	TAILQ_INSERT_TAIL(&queries, q, entry);
	return q;
}

static void
q_answer(void *arg, int status, int timeouts, ARES_ABUF *abuf, int alen)
{
	struct dq	*q = arg;

	(void)timeouts;
	if (q->done)
		return;
	q->done = 1;
	npending--;
	/* Cancelled: the deadline passed. */
	if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION)
		status = ARES_ETIMEOUT;
	if (status == ARES_SUCCESS && (abuf == NULL || alen <= 0))
		status = ARES_EBADRESP;
	if (status == ARES_SUCCESS) {
		if ((q->abuf = malloc(alen)) == NULL)
			fatal("malloc");
		memcpy(q->abuf, abuf, alen);
		q->alen = alen;
	}
	q->status = status;
}

/* Send the queries not sent yet and wait for them, or the deadline. */
static void
q_run(void)
{
	struct dq	*q;
	struct pollfd	 pfd[CHK_SOCKS];
	struct timespec	 now;
	struct timeval	 maxtv, tv, *tvp;
	long long	 left;
	size_t		 i, n;
	int		 ms, r;

	TAILQ_FOREACH(q, &queries, entry) {
		if (q->sent)
			continue;
		q->sent = 1;
		npending++;
		ares_query(channel, q->name, ns_c_in, q->type, q_answer, q);
	}
	while (npending > 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (deadline.tv_sec - now.tv_sec) * 1000LL +
		    (deadline.tv_nsec - now.tv_nsec) / 1000000L;
		if (left <= 0)
			break;
		maxtv.tv_sec = left / 1000;
		maxtv.tv_usec = (left % 1000) * 1000;
		tvp = ares_timeout(channel, &maxtv, &tv);
		ms = tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000;
		n = nsocks;
		memcpy(pfd, socks, n * sizeof(pfd[0]));
		if ((r = poll(pfd, n, ms)) == -1 && errno != EINTR)
			fatal("poll");
		if (r <= 0) {
			ares_process_fd(channel, ARES_SOCKET_BAD,
			    ARES_SOCKET_BAD);
			continue;
		}
		for (i = 0; i < n; i++)
			if (pfd[i].revents != 0)
				ares_process_fd(channel, (pfd[i].revents &
				    (POLLIN | POLLERR | POLLHUP)) ? pfd[i].fd :
				    ARES_SOCKET_BAD, (pfd[i].revents &
				    POLLOUT) ? pfd[i].fd : ARES_SOCKET_BAD);
	}
	/* Whatever is still out is late: answered ARES_ECANCELLED. */
	if (npending > 0)
		ares_cancel(channel);
	TAILQ_FOREACH(q, &queries, entry)
		if (q->sent && !q->done) {
			q->done = 1;
			q->status = ARES_ETIMEOUT;
		}
	npending = 0;
}

static void
q_sock(void *data, ares_socket_t fd, int readable, int writable)
{
	size_t	 i;

	(void)data;
	for (i = 0; i < nsocks; i++)
		if (socks[i].fd == fd)
			break;
	if (!readable && !writable) {
		if (i < nsocks)
			socks[i] = socks[--nsocks];
		return;
	}
	if (i == nsocks) {
		if (nsocks == CHK_SOCKS)
			fatalx("dns: too many sockets");
		nsocks++;
	}
	socks[i].fd = fd;
	socks[i].events = (readable ? POLLIN : 0) | (writable ? POLLOUT : 0);
	socks[i].revents = 0;
}

static void
q_free(void)
{
	struct dq	*q;

	if (channel != NULL) {
		ares_destroy(channel);
		channel = NULL;
		ares_library_cleanup();
	}
	while ((q = TAILQ_FIRST(&queries)) != NULL) {
		TAILQ_REMOVE(&queries, q, entry);
		free(q->abuf);
		free(q);
	}
}

/*
 * 1: an answer to parse; 0: no such record (NXDOMAIN, or the name has
 * none of this type); -1: the lookup failed, reported here.
 */
static int
q_state(struct mdns_ctx *c, const char *type, const char *name, struct dq *q)
{
	if (q->status == ARES_SUCCESS)
		return 1;
	if (q->status == ARES_ENODATA || q->status == ARES_ENOTFOUND)
		return 0;
	report(c, 0, type, name, "error: %s", q_strerror(q->status));
	return -1;
}

static const char *
q_strerror(int status)
{
	switch (status) {
	case ARES_ETIMEOUT:
		return "DNS timeout (no answer from the resolver)";
	case ARES_ESERVFAIL:
		return "DNS SERVFAIL";
	case ARES_EREFUSED:
		return "DNS query refused";
	case ARES_ECONNREFUSED:
		return "DNS server unreachable (connection refused)";
	case ARES_EBADRESP:
		return "malformed DNS answer";
	}
	return ares_strerror(status);
}

/* A or AAAA answer. 0, or -1 if it does not parse. */
static int
q_addrs(struct dq *q, struct mdns_ip *out, size_t max, size_t *n)
{
	struct ares_addrttl	 t4[MAX_ADDRS];
	struct ares_addr6ttl	 t6[MAX_ADDRS];
	struct mdns_ip		 ip;
	int			 nt = MAX_ADDRS, i, r;

	*n = 0;
	if (q->type == ns_t_a)
		r = ares_parse_a_reply(q->abuf, q->alen, NULL, t4, &nt);
	else
		r = ares_parse_aaaa_reply(q->abuf, q->alen, NULL, t6, &nt);
	if (r == ARES_ENODATA)
		return 0;
	if (r != ARES_SUCCESS)
		return -1;
	for (i = 0; i < nt && i < MAX_ADDRS; i++) {
		memset(&ip, 0, sizeof(ip));
		ip.af = q->type == ns_t_a ? AF_INET : AF_INET6;
		if (ip.af == AF_INET)
			memcpy(ip.a, &t4[i].ipaddr, 4);
		else
			memcpy(ip.a, &t6[i].ip6addr, 16);
		if (inet_ntop(ip.af, ip.a, ip.text, sizeof(ip.text)) != NULL)
			mdns_ip_add(out, n, &ip);
		if (*n >= max)
			break;
	}
	return 0;
}

/*
 * MX targets (ip NULL) or PTR names of ip, lowercased into names, at
 * most max, without duplicates; a name that is not a host name is
 * "(bad name)", a null MX ".".  0, or -1 if the answer does not parse.
 */
static int
q_names(struct dq *q, const struct mdns_ip *ip, char (*names)[DNS_NAME_MAX + 1],
    size_t max, size_t *n)
{
	struct ares_mx_reply	*mx = NULL, *m;
	struct hostent		*he = NULL;
	size_t			 i;
	int			 r;

	*n = 0;
	if (ip == NULL)
		r = ares_parse_mx_reply(q->abuf, q->alen, &mx);
	else
		r = ares_parse_ptr_reply(q->abuf, q->alen, ip->a,
		    ip->af == AF_INET ? 4 : 16, ip->af, &he);
	if (r == ARES_ENODATA)
		return 0;
	if (r != ARES_SUCCESS)
		return -1;
	for (m = mx; m != NULL; m = m->next)
		name_add(names, max, n, m->host, 1);
	/* c-ares lists every PTR name as an alias, and one as h_name. */
	if (he != NULL && he->h_aliases != NULL)
		for (i = 0; he->h_aliases[i] != NULL; i++)
			name_add(names, max, n, he->h_aliases[i], 0);
	if (he != NULL && he->h_name != NULL)
		name_add(names, max, n, he->h_name, 0);
	if (mx != NULL)
		ares_free_data(mx);
	if (he != NULL)
		ares_free_hostent(he);
	return 0;
}

static void
name_add(char (*names)[DNS_NAME_MAX + 1], size_t max, size_t *n,
    const char *s, int mx)
{
	char	 name[DNS_NAME_MAX + 1];
	size_t	 i;

	if (*n >= max || s == NULL)
		return;
	if (mx && (s[0] == '\0' || strcmp(s, ".") == 0))
		(void)strlcpy(name, ".", sizeof(name));
	else if (!dns_name_valid(s, name, sizeof(name)))
		(void)strlcpy(name, "(bad name)", sizeof(name));
	for (i = 0; i < *n; i++)
		if (strcmp(names[i], name) == 0)
			return;
	(void)strlcpy(names[(*n)++], name, sizeof(names[0]));
}

/* TXT records, each one's strings joined.  0, or -1 unparsable. */
static int
q_txt(struct dq *q, struct txtset *ts)
{
	struct ares_txt_ext	*txt = NULL, *t;
	struct txtrec		*cur = NULL;
	size_t			 n;
	int			 r;

	memset(ts, 0, sizeof(*ts));
	if ((r = ares_parse_txt_reply_ext(q->abuf, q->alen, &txt)) ==
	    ARES_ENODATA)
		return 0;
	if (r != ARES_SUCCESS)
		return -1;
	for (t = txt; t != NULL; t = t->next) {
		if (t->record_start || cur == NULL) {
			ts->total++;
			cur = NULL;
			if (ts->n == MAX_TXT)
				continue;
			cur = &ts->r[ts->n++];
			if ((cur->s = malloc(TXT_MAX + 1)) == NULL)
				fatal("malloc");
			cur->s[0] = '\0';
		}
		if (cur == NULL)
			continue;
		n = t->length;
		if (n > TXT_MAX - cur->len) {
			n = TXT_MAX - cur->len;
			cur->toolong = 1;
		}
		if (n > 0)
			memcpy(cur->s + cur->len, t->txt, n);
		cur->len += n;
		cur->s[cur->len] = '\0';
	}
	if (txt != NULL)
		ares_free_data(txt);
	return 0;
}

static void
txt_free(struct txtset *ts)
{
	size_t	 i;

	for (i = 0; i < ts->n; i++)
		free(ts->r[i].s);
	ts->n = 0;
}

/*
 * Printable text of bytes from DNS: '"' and '\' and anything outside
 * printable ASCII escaped as in zone files, cut with "..." to fit.
 */
static const char *
esc(const char *s, size_t len, char *buf, size_t bufsz)
{
	size_t		 i, o = 0;
	unsigned char	 ch;
	char		 e[8];
	int		 n;

	for (i = 0; i < len; i++) {
		ch = s[i];
		if (ch == '"' || ch == '\\')
			n = snprintf(e, sizeof(e), "\\%c", ch);
		else if (ch < 0x20 || ch > 0x7e)
			n = snprintf(e, sizeof(e), "\\%03u", ch);
		else
			n = snprintf(e, sizeof(e), "%c", ch);
		if (o + n + 4 > bufsz) {
			(void)strlcpy(buf + o, "...", bufsz - o);
			return buf;
		}
		memcpy(buf + o, e, n);
		o += n;
	}
	buf[o] = '\0';
	return buf;
}

static void
report(struct mdns_ctx *c, int ok, const char *type, const char *name,
    const char *fmt, ...)
{
	va_list	 ap;

	if (!ok)
		c->fails++;
	printf("%s %s: ", type, name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* -- mailctl dns check: the records -- */

int
mdns_check(struct mdns_ctx *c)
{
	struct dkimconf	*k;
	struct mdns_ip	 got[MAX_ADDRS];
	struct dq	*q;
	char		 name[DNS_NAME_MAX + 1];
	char		 names[MAX_NAMES][DNS_NAME_MAX + 1];
	size_t		 i, j, n;

	if (chk_init(c->conf) == -1)
		return MAILCTL_FAIL;
	/* First round: every name the configuration gives. */
	if (c->mx) {
		(void)q_get(ns_t_a, c->host);
		(void)q_get(ns_t_aaaa, c->host);
	}
	for (i = 0; i < c->ndoms; i++) {
		if (c->doms[i].receives) {
			(void)q_get(ns_t_mx, c->doms[i].name);
			(void)q_get(ns_t_txt, c->doms[i].name);
			if (snprintf(name, sizeof(name), "_dmarc.%s",
			    c->doms[i].name) < (int)sizeof(name))
				(void)q_get(ns_t_txt, name);
		}
		TAILQ_FOREACH(k, &c->conf->dkims, entry)
			if (strcmp(k->domain, c->doms[i].name) == 0 &&
			    snprintf(name, sizeof(name), "%s._domainkey.%s",
			    k->selector, k->domain) < (int)sizeof(name))
				(void)q_get(ns_t_txt, name);
	}
	/* PTR of the addresses it should have: known already. */
	for (i = 0; c->mx && i < c->nwant; i++) {
		mdns_ip_add(c->addrs, &c->naddrs, &c->want[i]);
		if (mdns_rev_name(&c->want[i], name, sizeof(name)) == 0)
			(void)q_get(ns_t_ptr, name);
	}
	q_run();
	/* Then PTR of those it has... */
	TAILQ_FOREACH(q, &queries, entry)
		if ((q->type == ns_t_a || q->type == ns_t_aaaa) &&
		    q->status == ARES_SUCCESS &&
		    q_addrs(q, got, MAX_ADDRS, &n) == 0)
			for (i = 0; i < n; i++)
				mdns_ip_add(c->addrs, &c->naddrs, &got[i]);
	for (i = 0; i < c->naddrs; i++)
		if (mdns_rev_name(&c->addrs[i], name, sizeof(name)) == 0)
			(void)q_get(ns_t_ptr, name);
	q_run();
	/* ...and the names these point to, back to addresses (FCrDNS). */
	for (i = 0; i < c->naddrs; i++)
		if (ptr_names(&c->addrs[i], names, &n) == 1)
			for (j = 0; j < n; j++)
				if (strcmp(names[j], "(bad name)") != 0)
					(void)q_get(c->addrs[i].af ==
					    AF_INET ? ns_t_a : ns_t_aaaa,
					    names[j]);
	q_run();

	if (c->mx)
		check_addrs(c);
	for (i = 0; i < c->naddrs; i++)
		check_ptr(c, &c->addrs[i]);
	for (i = 0; i < c->ndoms; i++) {
		if (c->doms[i].receives) {
			check_mx(c, c->doms[i].name);
			check_spf(c, c->doms[i].name);
		}
		TAILQ_FOREACH(k, &c->conf->dkims, entry)
			if (strcmp(k->domain, c->doms[i].name) == 0)
				check_dkim(c, k);
		if (c->doms[i].receives)
			check_dmarc(c, c->doms[i].name);
	}
	q_free();
	if (c->fails > 0) {
		fprintf(stderr, "mailctl: %d DNS record%s missing, wrong or "
		    "not checked\n", c->fails, c->fails > 1 ? "s" : "");
		return MAILCTL_FAIL;
	}
	return MAILCTL_OK;
}

/* "192.0.2.1, 2001:db8::1", or "none". */
static const char *
ips_text(const struct mdns_ip *ips, size_t n, char *buf, size_t len)
{
	size_t	 i;

	(void)strlcpy(buf, n == 0 ? "none" : "", len);
	for (i = 0; i < n; i++) {
		if (i > 0)
			(void)strlcat(buf, ", ", len);
		(void)strlcat(buf, ips[i].text, len);	/* may cut: a report */
	}
	return buf;
}

/*
 * A and AAAA of the mail host: the addresses maild listens on (or -a)
 * when known, else some address at all.
 */
static void
check_addrs(struct mdns_ctx *c)
{
	struct fam {
		const char	*type;
		int		 af;
		int		 st;
		struct mdns_ip	 got[MAX_ADDRS];
		size_t		 ngot;
	}		 f[2] = { { "A", AF_INET, 0, { { 0 } }, 0 },
			    { "AAAA", AF_INET6, 0, { { 0 } }, 0 } };
	struct mdns_ip	 want[MAX_ADDRS];
	char		 gs[512], ws[512];
	size_t		 i, j, nwant, same;

	for (i = 0; i < 2; i++) {
		f[i].st = q_state(c, f[i].type, c->host, q_get(i == 0 ?
		    ns_t_a : ns_t_aaaa, c->host));
		if (f[i].st == 1 && q_addrs(q_get(i == 0 ? ns_t_a :
		    ns_t_aaaa, c->host), f[i].got, MAX_ADDRS,
		    &f[i].ngot) == -1) {
			report(c, 0, f[i].type, c->host, "error: %s",
			    q_strerror(ARES_EBADRESP));
			f[i].st = -1;
		}
	}
	for (i = 0; i < 2; i++) {
		if (f[i].st == -1)
			continue;
		for (j = nwant = 0; j < c->nwant; j++)
			if (c->want[j].af == f[i].af)
				want[nwant++] = c->want[j];
		ips_text(f[i].got, f[i].ngot, gs, sizeof(gs));
		ips_text(want, nwant, ws, sizeof(ws));
		for (j = same = 0; j < f[i].ngot; j++)
			same += mdns_ip_in(want, nwant, &f[i].got[j]);
		if (c->nwant == 0 && f[i].ngot == 0 &&
		    f[0].ngot + f[1].ngot == 0)
			report(c, 0, f[i].type, c->host, "missing");
		else if (c->nwant == 0 || (nwant == 0 && f[i].ngot == 0))
			report(c, 1, f[i].type, c->host, "ok (%s)", gs);
		else if (f[i].ngot == 0)
			report(c, 0, f[i].type, c->host, "missing (want %s)",
			    ws);
		else if (same == nwant && same == f[i].ngot)
			report(c, 1, f[i].type, c->host, "ok (%s)", gs);
		else
			report(c, 0, f[i].type, c->host, "wrong: got %s, "
			    "want %s", gs, ws);
	}
}

/*
 * The PTR names of an address, once its PTR query is answered: 1 with
 * names, 0 none, -1 the lookup failed, -2 unparsable answer.
 */
static int
ptr_names(const struct mdns_ip *ip, char (*names)[DNS_NAME_MAX + 1], size_t *n)
{
	struct dq	*q;
	char		 rev[DNS_NAME_MAX + 1];

	*n = 0;
	if (mdns_rev_name(ip, rev, sizeof(rev)) == -1)
		return -1;
	q = q_get(ns_t_ptr, rev);
	if (q->status == ARES_ENODATA || q->status == ARES_ENOTFOUND)
		return 0;
	if (q->status != ARES_SUCCESS)
		return -1;
	if (q_names(q, ip, names, MAX_NAMES, n) == -1)
		return -2;
	return *n > 0;
}

/* PTR of an address: the host name; and a PTR name resolves back. */
static void
check_ptr(struct mdns_ctx *c, const struct mdns_ip *ip)
{
	char		 names[MAX_NAMES][DNS_NAME_MAX + 1], ns[512], gs[512];
	char		 rev[DNS_NAME_MAX + 1];
	struct mdns_ip	 got[MAX_ADDRS];
	struct dq	*q;
	size_t		 i, n, ngot;
	int		 st, fail = 0;

	if ((st = ptr_names(ip, names, &n)) == -1) {
		(void)mdns_rev_name(ip, rev, sizeof(rev));
		report(c, 0, "PTR", ip->text, "error: %s",
		    q_strerror(q_get(ns_t_ptr, rev)->status));
		return;
	}
	if (st == -2) {
		report(c, 0, "PTR", ip->text, "error: %s",
		    q_strerror(ARES_EBADRESP));
		return;
	}
	if (st == 0) {
		report(c, 0, "PTR", ip->text, "missing (want %s)", c->host);
		report(c, 0, "FCrDNS", ip->text, "missing (no PTR)");
		return;
	}
	ns[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i > 0)
			(void)strlcat(ns, ", ", sizeof(ns));
		(void)strlcat(ns, names[i], sizeof(ns));
	}
	for (i = 0; i < n; i++)
		if (strcmp(names[i], c->host) == 0)
			break;
	if (i < n)
		report(c, 1, "PTR", ip->text, "ok (%s)", c->host);
	else
		report(c, 0, "PTR", ip->text, "wrong: got %s, want %s", ns,
		    c->host);

	gs[0] = '\0';
	for (i = 0; i < n; i++) {
		if (strcmp(names[i], "(bad name)") == 0)
			continue;
		q = q_get(ip->af == AF_INET ? ns_t_a : ns_t_aaaa, names[i]);
		ngot = 0;
		if (q->status == ARES_SUCCESS &&
		    q_addrs(q, got, MAX_ADDRS, &ngot) == -1)
			fail = ARES_EBADRESP;
		else if (q->status != ARES_SUCCESS &&
		    q->status != ARES_ENODATA && q->status != ARES_ENOTFOUND)
			fail = q->status;
		if (mdns_ip_in(got, ngot, ip)) {
			report(c, 1, "FCrDNS", ip->text, "ok (%s)", names[i]);
			return;
		}
		if (gs[0] == '\0') {
			(void)snprintf(gs, sizeof(gs), "%.253s -> ", names[i]);
			ips_text(got, ngot, gs + strlen(gs), sizeof(gs) -
			    strlen(gs));
		}
	}
	if (fail)
		report(c, 0, "FCrDNS", ip->text, "error: %s",
		    q_strerror(fail));
	else
		report(c, 0, "FCrDNS", ip->text, "wrong: got %s, want %s",
		    gs[0] != '\0' ? gs : "no usable PTR name", ip->text);
}

/* Some MX of the domain is the mail host. */
static void
check_mx(struct mdns_ctx *c, const char *dom)
{
	char		 names[MAX_NAMES][DNS_NAME_MAX + 1], ns[512];
	struct dq	*q;
	size_t		 i, n = 0;
	int		 st;

	q = q_get(ns_t_mx, dom);
	if ((st = q_state(c, "MX", dom, q)) == -1)
		return;
	if (st == 1 && q_names(q, NULL, names, MAX_NAMES, &n) == -1) {
		report(c, 0, "MX", dom, "error: %s",
		    q_strerror(ARES_EBADRESP));
		return;
	}
	if (n == 0) {
		report(c, 0, "MX", dom, "missing (want %s)", c->host);
		return;
	}
	ns[0] = '\0';
	for (i = 0; i < n; i++) {
		if (strcmp(names[i], c->host) == 0) {
			report(c, 1, "MX", dom, "ok (%s)", c->host);
			return;
		}
		if (i > 0)
			(void)strlcat(ns, ", ", sizeof(ns));
		(void)strlcat(ns, names[i], sizeof(ns));
	}
	report(c, 0, "MX", dom, "wrong: got %s, want %s", ns, c->host);
}

static int
is_spf(const struct txtrec *r)
{
	return r->len >= 6 && strncasecmp(r->s, "v=spf1", 6) == 0 &&
	    (r->len == 6 || r->s[6] == ' ');
}

/* One v=spf1 record (RFC 7208 4.5), letting this host send, then -all. */
static void
check_spf(struct mdns_ctx *c, const char *dom)
{
	struct txtset	 ts;
	struct dq	*q;
	const char	*want = "\"v=spf1 mx -all\"";
	char		 why[512], show[SHOW_MAX + 8];
	size_t		 i, nspf = 0, at = 0;
	int		 st;

	q = q_get(ns_t_txt, dom);
	if ((st = q_state(c, "SPF", dom, q)) == -1)
		return;
	if (st == 1 && q_txt(q, &ts) == -1) {
		report(c, 0, "SPF", dom, "error: %s",
		    q_strerror(ARES_EBADRESP));
		return;
	}
	if (st == 0)
		ts.n = 0;
	for (i = 0; i < ts.n; i++)
		if (is_spf(&ts.r[i])) {
			nspf++;
			at = i;
		}
	if (nspf == 0)
		report(c, 0, "SPF", dom, "missing (want %s)", want);
	else if (nspf > 1)
		report(c, 0, "SPF", dom, "wrong: got %zu v=spf1 records, want "
		    "one, %s", nspf, want);
	else if (spf_eval(c, dom, &ts.r[at], why, sizeof(why)))
		report(c, 1, "SPF", dom, "ok");
	else
		report(c, 0, "SPF", dom, "wrong: got \"%s\", want %s (%s)",
		    esc(ts.r[at].s, ts.r[at].len, show, sizeof(show)), want,
		    why);
	if (st == 1)
		txt_free(&ts);
}

/* 1 if the record is fine, else 0 with the reason in why. */
static int
spf_eval(struct mdns_ctx *c, const char *dom, const struct txtrec *r, char *why,
    size_t whylen)
{
	static const char *const mechs[] = { "all", "include", "a", "mx",
	    "ptr", "ip4", "ip6", "exists" };
	char	 buf[TXT_MAX + 1], *p, *t, *eq, show[SHOW_MAX + 8];
	size_t	 i, n;
	int	 qual, allq = 0, mentions = 0, include = 0, redirect = 0;

	if (r->toolong) {
		snprintf(why, whylen, "too long");
		return 0;
	}
	for (i = 0; i < r->len; i++)
		if ((unsigned char)r->s[i] < 0x20 ||
		    (unsigned char)r->s[i] > 0x7e) {
			snprintf(why, whylen, "holds a byte that is not "
			    "printable ASCII");
			return 0;
		}
	(void)strlcpy(buf, r->s + 6, sizeof(buf));
	for (p = buf; (t = strsep(&p, " ")) != NULL; ) {
		if (*t == '\0')
			continue;
		qual = '+';
		if (strchr("+-~?", *t) != NULL)
			qual = *t++;
		/* A modifier: name=value, '=' before any ':' or '/'. */
		if ((eq = strchr(t, '=')) != NULL &&
		    (size_t)(eq - t) < strcspn(t, ":/")) {
			redirect |= strncasecmp(t, "redirect=", 9) == 0;
			continue;
		}
		n = strcspn(t, ":/");
		for (i = 0; i < nitems(mechs); i++)
			if (strlen(mechs[i]) == n &&
			    strncasecmp(t, mechs[i], n) == 0)
				break;
		if (i == nitems(mechs)) {
			/* RFC 7208 5: an error for every receiver. */
			snprintf(why, whylen, "unknown mechanism %s",
			    esc(t, strlen(t), show, sizeof(show)));
			return 0;
		}
		if (strcasecmp(t, "all") == 0) {
			allq = qual;
			break;		/* what follows is never looked at */
		}
		include |= strncasecmp(t, "include:", 8) == 0;
		if (qual == '+' && spf_mentions(c, dom, t))
			mentions = 1;
	}
	if (allq == 0)
		snprintf(why, whylen, "%s", redirect ? "redirect= is not "
		    "followed" : "does not end in -all or ~all");
	else if (allq != '-' && allq != '~')
		snprintf(why, whylen, "ends in %call, not -all or ~all", allq);
	else if (!mentions)
		snprintf(why, whylen, "no mx, nor a:%s, nor an address of "
		    "it%s", c->host, include ? "; include: is not followed" :
		    "");
	else
		return 1;
	return 0;
}

/* Does this mechanism let the mail host send for dom? */
static int
spf_mentions(struct mdns_ctx *c, const char *dom, const char *t)
{
	char	 arg[DNS_NAME_MAX + 2], name[DNS_NAME_MAX + 1];
	size_t	 i, len;
	int	 af = 0;

	if (strncasecmp(t, "mx", 2) == 0 || strncasecmp(t, "a", 1) == 0) {
		len = strncasecmp(t, "mx", 2) == 0 ? 2 : 1;
		if (t[len] == '\0' || t[len] == '/')
			/* The domain's own MX, or the domain is the host. */
			return len == 2 || strcmp(dom, c->host) == 0;
		if (t[len] != ':')
			return 0;
		t += len + 1;
		if ((len = strcspn(t, "/")) >= sizeof(arg))
			return 0;
		memcpy(arg, t, len);
		arg[len] = '\0';
		if (!dns_name_valid(arg, name, sizeof(name)))
			return 0;
		/* mx:DOMAIN is mx; a:NAME lets through NAME's addresses. */
		return strcmp(name, len == 2 ? dom : c->host) == 0;
	}
	if (strncasecmp(t, "ip4:", 4) == 0)
		af = AF_INET;
	else if (strncasecmp(t, "ip6:", 4) == 0)
		af = AF_INET6;
	else
		return 0;
	for (i = 0; i < c->naddrs; i++)
		if (cidr_match(t + 4, af, &c->addrs[i]))
			return 1;
	return 0;
}

/* "192.0.2.0/24" or "2001:db8::1": does it hold ip? */
static int
cidr_match(const char *s, int af, const struct mdns_ip *ip)
{
	unsigned char	 a[16];
	char		 buf[INET6_ADDRSTRLEN], *end;
	size_t		 len, full;
	long		 bits, max = af == AF_INET ? 32 : 128;

	if (ip->af != af || (len = strcspn(s, "/")) >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(af, buf, a) != 1)
		return 0;
	bits = max;
	if (s[len] == '/') {
		errno = 0;
		bits = strtol(s + len + 1, &end, 10);
		if (s[len + 1] == '\0' || *end != '\0' || bits < 0 ||
		    bits > max)
			return 0;
	}
	full = bits / 8;
	if (memcmp(a, ip->a, full) != 0)
		return 0;
	if (bits % 8 == 0)
		return 1;
	return ((a[full] ^ ip->a[full]) & (0xff << (8 - bits % 8)) & 0xff) ==
	    0;
}

/* The record of the selector carries the configured key's p=. */
static void
check_dkim(struct mdns_ctx *c, const struct dkimconf *k)
{
	struct txtset	 ts;
	struct dq	*q;
	char		 name[DNS_NAME_MAX + 1], err[PATH_MAX + 512], *want;
	char		 wp[TXT_MAX + 1], wk[32], gp[TXT_MAX + 1], gk[32];
	char		 v[32], show[SHOW_MAX + 8], show2[SHOW_MAX + 8];
	char		 p0[TXT_MAX + 1], k0[32];
	size_t		 i;
	int		 st, seen = 0;

	if (snprintf(name, sizeof(name), "%s._domainkey.%s", k->selector,
	    k->domain) >= (int)sizeof(name)) {
		report(c, 0, "DKIM", k->selector, "error: %s._domainkey.%s "
		    "is too long for DNS", k->selector, k->domain);
		return;
	}
	if ((want = mdns_dkim_txt(k, err, sizeof(err))) == NULL) {
		report(c, 0, "DKIM", name, "error: %s", err);
		return;
	}
	if (tag_get(want, strlen(want), "p", wp, sizeof(wp)) != 1 ||
	    tag_get(want, strlen(want), "k", wk, sizeof(wk)) != 1)
		fatalx("dkim_key_txt: no p= or k=");
	free(want);
	q = q_get(ns_t_txt, name);
	if ((st = q_state(c, "DKIM", name, q)) == -1)
		return;
	if (st == 1 && q_txt(q, &ts) == -1) {
		report(c, 0, "DKIM", name, "error: %s",
		    q_strerror(ARES_EBADRESP));
		return;
	}
	if (st == 0) {
		report(c, 0, "DKIM", name, "missing");
		return;
	}
	for (i = 0; i < ts.n; i++) {
		/* v=, when there, must be first and DKIM1 (RFC 6376 3.6.1). */
		if (tag_get(ts.r[i].s, ts.r[i].len, "v", v, sizeof(v)) == 1 &&
		    strcmp(v, "DKIM1") != 0)
			continue;
		if (tag_get(ts.r[i].s, ts.r[i].len, "p", gp, sizeof(gp)) != 1)
			continue;
		if (tag_get(ts.r[i].s, ts.r[i].len, "k", gk, sizeof(gk)) != 1)
			(void)strlcpy(gk, "rsa", sizeof(gk));
		if (strcmp(gp, wp) == 0 && strcmp(gk, wk) == 0) {
			report(c, 1, "DKIM", name, "ok");
			txt_free(&ts);
			return;
		}
		if (!seen) {
			(void)strlcpy(p0, gp, sizeof(p0));
			(void)strlcpy(k0, gk, sizeof(k0));
		}
		seen = 1;
	}
	if (!seen)
		report(c, 0, "DKIM", name, "wrong: got \"%s\", want a "
		    "v=DKIM1 record with p=...%s", ts.n == 0 ? "" :
		    esc(ts.r[0].s, ts.r[0].len, show, sizeof(show)), tail(wp));
	else if (p0[0] == '\0')
		report(c, 0, "DKIM", name, "wrong: got an empty p= (revoked "
		    "key), want p=...%s", tail(wp));
	else
		report(c, 0, "DKIM", name, "wrong: got k=%s p=...%s, want "
		    "k=%s p=...%s", esc(k0, strlen(k0), show2, sizeof(show2)),
		    esc(tail(p0), strlen(tail(p0)), show, sizeof(show)), wk,
		    tail(wp));
	txt_free(&ts);
}

/*
 * The value of a tag of a DKIM or DMARC tag list ("a=1; b = x y"),
 * without its white space; -1 if it does not fit, 0 if absent.
 */
static int
tag_get(const char *s, size_t len, const char *tag, char *out,
    size_t outsz)
{
	const char	*p = s, *end = s + len, *seg, *name;
	size_t		 o = 0;

	while (p < end) {
		if ((seg = memchr(p, ';', end - p)) == NULL)
			seg = end;
		while (p < seg && isspace((unsigned char)*p))
			p++;
		for (name = p; p < seg && (isalnum((unsigned char)*p) ||
		    *p == '_'); p++)
			;
		if ((size_t)(p - name) == strlen(tag) &&
		    strncmp(name, tag, p - name) == 0) {
			while (p < seg && isspace((unsigned char)*p))
				p++;
			if (p < seg && *p == '=') {
				for (p++; p < seg; p++) {
					if (isspace((unsigned char)*p))
						continue;
					if (o + 1 >= outsz)
						return -1;
					out[o++] = *p;
				}
				out[o] = '\0';
				return 1;
			}
		}
		p = seg + 1;
	}
	return 0;
}

/* The last bytes of a key: enough to tell two apart in a report. */
static const char *
tail(const char *s)
{
	size_t	 len = strlen(s);

	return len > 16 ? s + len - 16 : s;
}

/* One v=DMARC1 record with a policy (RFC 7489 6.3, 6.6.3). */
static void
check_dmarc(struct mdns_ctx *c, const char *dom)
{
	struct txtset	 ts;
	struct dq	*q;
	char		 name[DNS_NAME_MAX + 1], want[512], pol[32];
	char		 v[32], show[SHOW_MAX + 8];
	size_t		 i, n = 0, at = 0;
	int		 st;

	if (snprintf(name, sizeof(name), "_dmarc.%s", dom) >=
	    (int)sizeof(name) || snprintf(want, sizeof(want), "\"v=DMARC1; "
	    "p=quarantine; rua=mailto:postmaster@%s\"", dom) >=
	    (int)sizeof(want)) {
		report(c, 0, "DMARC", dom, "error: _dmarc.%s is too long for "
		    "DNS", dom);
		return;
	}
	q = q_get(ns_t_txt, name);
	if ((st = q_state(c, "DMARC", name, q)) == -1)
		return;
	if (st == 1 && q_txt(q, &ts) == -1) {
		report(c, 0, "DMARC", name, "error: %s",
		    q_strerror(ARES_EBADRESP));
		return;
	}
	if (st == 0) {
		report(c, 0, "DMARC", name, "missing (want %s)", want);
		return;
	}
	/* The first tag is v, exactly DMARC1; other records are not DMARC. */
	for (i = 0; i < ts.n; i++)
		if (ts.r[i].s[strspn(ts.r[i].s, " \t")] == 'v' &&
		    tag_get(ts.r[i].s, ts.r[i].len, "v", v, sizeof(v)) == 1 &&
		    strcmp(v, "DMARC1") == 0) {
			n++;
			at = i;
		}
	if (n > 1)
		report(c, 0, "DMARC", name, "wrong: got %zu v=DMARC1 records, "
		    "want one, %s", n, want);
	else if (n == 0)
		report(c, 0, "DMARC", name, "wrong: got \"%s\", want %s",
		    esc(ts.r[0].s, ts.r[0].len, show, sizeof(show)), want);
	else if (tag_get(ts.r[at].s, ts.r[at].len, "p", pol,
	    sizeof(pol)) == 1 && (strcmp(pol, "none") == 0 ||
	    strcmp(pol, "quarantine") == 0 || strcmp(pol, "reject") == 0))
		report(c, 1, "DMARC", name, "ok (p=%s)", pol);
	else
		report(c, 0, "DMARC", name, "wrong: got \"%s\", want %s (no "
		    "valid p=)", esc(ts.r[at].s, ts.r[at].len, show,
		    sizeof(show)), want);
	txt_free(&ts);
}
