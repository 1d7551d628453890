/*
 * The lookup process's part in checking inbound mail: the DNS answers
 * the queue needs to verify a message (DKIM keys, DMARC and ARC
 * records) and the SPF check of its client.  The queue process, which
 * reads the message, faces no network; this process faces only the
 * resolver.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "lookup.h"
#include "msgauth.h"
#include "proc.h"

struct dnsreq {
	uint64_t	 reqid;
	uint32_t	 qtype;
	char		 name[DNS_NAME_MAX + 1];
};

static void	lookup_dns_txt(void *, enum dns_status, const char *const *,
		    size_t);
static void	lookup_dns_exists(void *, enum dns_status,
		    const struct dns_host *, size_t);
static void	lookup_dns_answer(struct dnsreq *, enum dns_status,
		    const char *const *, size_t);

/* IMSG_L_DNS: a question of the checks of a message, for the queue. */
void
lookup_dns(struct ipc_msg *m)
{
	struct dnsreq	*r;
	const char	*name;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("calloc");
	r->reqid = ipc_get_u64(m);
	r->qtype = ipc_get_u32(m);
	name = ipc_get_strp(m);
	ipc_end(m);
	/* The answer names what it answers: an odd name gets no data. */
	(void)strlcpy(r->name, name, sizeof(r->name));
	if (strlen(name) > DNS_NAME_MAX || (r->qtype != MA_Q_TXT &&
	    r->qtype != MA_Q_EXISTS))
		lookup_dns_answer(r, DNS_NXDOMAIN, NULL, 0);
	else if (r->qtype == MA_Q_TXT)
		dns_txt(r->name, lookup_dns_txt, r);
	else
		dns_mx(r->name, lookup_dns_exists, r);
}

static void
lookup_dns_txt(void *arg, enum dns_status st, const char *const *txt,
    size_t n)
{
	lookup_dns_answer(arg, st, txt, n);
}

/* Does the name exist: an MX, or an address as its own implicit MX? */
static void
lookup_dns_exists(void *arg, enum dns_status st, const struct dns_host *h,
    size_t n)
{
	(void)h;
	(void)n;
	lookup_dns_answer(arg, st == DNS_NULLMX ? DNS_OK : st, NULL, 0);
}

static void
lookup_dns_answer(struct dnsreq *r, enum dns_status st,
    const char *const *txt, size_t n)
{
	struct ipc_buf	 b;
	size_t		 i;

	if (st != DNS_OK || txt == NULL)
		n = 0;
	ipc_buf_init(&b);
	ipc_add_u64(&b, r->reqid);
	ipc_add_u32(&b, r->qtype);
	ipc_add_str(&b, r->name);
	ipc_add_u32(&b, st == DNS_OK ? MSGAUTH_DNS_OK : st == DNS_TEMPFAIL ?
	    MSGAUTH_DNS_TEMPFAIL : MSGAUTH_DNS_NONE);
	ipc_add_u32(&b, n);
	for (i = 0; i < n; i++)
		ipc_add_str(&b, txt[i]);
	proc_send_buf(PROC_QUEUE, IMSG_L_DNS_RES, -1, &b);
	free(r);
}
