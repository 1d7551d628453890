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
