/*
 * The lookup process's part in checking inbound mail: the DNS answers
 * the queue needs to verify a message (DKIM keys, DMARC and ARC
 * records) and the SPF check of its client.  The queue process, which
 * reads the message, faces no network; this process faces only the
 * resolver.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "address.h"
#include "config.h"
#include "dns.h"
#include "lookup.h"
#include "msgauth.h"
#include "proc.h"
#include "spf.h"

/* client, HELO, MAIL FROM */
#define SPF_KEY_MAX	(INET6_ADDRSTRLEN + HOST_NAME_MAX + ADDR_MAX + 4)

static void	lookup_dns_done(void *, const char *, int, enum msgauth_dns,
		    const char *const *, size_t);

/* IMSG_L_DNS: a question of the checks of a message, for the queue. */
void
lookup_dns(struct ipc_msg *m)
{
	uint64_t	*reqid;
	const char	*name;
	uint32_t	 qtype;

	if ((reqid = malloc(sizeof(*reqid))) == NULL)
		fatal("malloc");
	*reqid = ipc_get_u64(m);
	qtype = ipc_get_u32(m);
	name = ipc_get_strp(m);
	ipc_end(m);
	msgauth_dns_ask(name, qtype, lookup_dns_done, reqid);
}

static void
lookup_dns_done(void *arg, const char *name, int qtype, enum msgauth_dns st,
    const char *const *txt, size_t n)
{
	struct ipc_buf	 b;
	uint64_t	*reqid = arg;
	size_t		 i;

	ipc_buf_init(&b);
	ipc_add_u64(&b, *reqid);
	ipc_add_u32(&b, qtype);
	ipc_add_str(&b, name);
	ipc_add_u32(&b, st);
	ipc_add_u32(&b, n);
	for (i = 0; i < n; i++)
		ipc_add_str(&b, txt[i]);
	proc_send_buf(PROC_QUEUE, IMSG_L_DNS_RES, -1, &b);
	free(reqid);
}

/*
 * SPF results are kept a minute per (client, HELO, MAIL FROM): a client
 * sending several messages in a row is checked once.  A small table,
 * the oldest entry replaced.
 */
#define SPF_CACHE	256
#define SPF_CACHE_TTL	60

struct spfcache {
	time_t			 at;		/* 0: free */
	char			 key[SPF_KEY_MAX];
	struct spf_outcome	 o;
};

struct spfreq {
	uint64_t	 reqid;
	char		 key[SPF_KEY_MAX];
};

static struct spfcache	 spf_cache[SPF_CACHE];

static void	lookup_spf_done(void *, const struct spf_outcome *);
static void	lookup_spf_send(uint64_t, const struct spf_outcome *);

/* IMSG_L_SPF: the SPF check of a message's client, for the queue. */
void
lookup_spf(struct ipc_msg *m)
{
	struct spf_params	 p;
	struct spf_outcome	 o;
	struct mailaddr		 sender;
	struct spfreq		*r;
	const char		*client, *helo, *a;
	char			 from[ADDR_MAX + 1];
	uint64_t		 reqid;
	time_t			 now = time(NULL);
	size_t			 i;

	reqid = ipc_get_u64(m);
	client = ipc_get_strp(m);
	helo = ipc_get_strp(m);
	ipc_get_addr(m, &sender);
	ipc_end(m);

	memset(&p, 0, sizeof(p));
	a = strncmp(client, "IPv6:", 5) == 0 ? client + 5 : client;
	if (inet_pton(AF_INET, a, &((struct sockaddr_in *)&p.addr)->sin_addr)
	    == 1)
		p.addr.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, a,
	    &((struct sockaddr_in6 *)&p.addr)->sin6_addr) == 1)
		p.addr.ss_family = AF_INET6;
	if (p.addr.ss_family == AF_UNSPEC ||
	    addr_to_text(&sender, from, sizeof(from)) == -1) {
		memset(&o, 0, sizeof(o));
		o.result = SPF_NONE;
		(void)strlcpy(o.problem, "no client address",
		    sizeof(o.problem));
		lookup_spf_send(reqid, &o);
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("calloc");
	r->reqid = reqid;
	(void)snprintf(r->key, sizeof(r->key), "%s %s %s", a, helo, from);
	for (i = 0; i < SPF_CACHE; i++)
		if (spf_cache[i].at != 0 && now - spf_cache[i].at <
		    SPF_CACHE_TTL && strcmp(spf_cache[i].key, r->key) == 0) {
			lookup_spf_send(reqid, &spf_cache[i].o);
			free(r);
			return;
		}
	p.helo = helo;
	p.mailfrom = from;
	p.receiver = conf->hostname;
	spf_check(&p, lookup_spf_done, r);
}

static void
lookup_spf_done(void *arg, const struct spf_outcome *o)
{
	struct spfreq	*r = arg;
	struct spfcache	*c, *old = &spf_cache[0];
	size_t		 i;

	/* A DNS failure is not worth remembering. */
	if (o->result != SPF_TEMPERROR) {
		for (i = 0, c = spf_cache; i < SPF_CACHE; i++, c++)
			if (c->at < old->at)
				old = c;
		old->at = time(NULL);
		(void)strlcpy(old->key, r->key, sizeof(old->key));
		old->o = *o;
	}
	lookup_spf_send(r->reqid, o);
	free(r);
}

static void
lookup_spf_send(uint64_t reqid, const struct spf_outcome *o)
{
	struct ipc_buf	 b;

	ipc_buf_init(&b);
	ipc_add_u64(&b, reqid);
	ipc_add_u32(&b, o->result);
	ipc_add_str(&b, o->domain);
	ipc_add_str(&b, o->mechanism);
	ipc_add_str(&b, o->explanation);
	ipc_add_str(&b, o->problem);
	proc_send_buf(PROC_QUEUE, IMSG_L_SPF_RES, -1, &b);
}
