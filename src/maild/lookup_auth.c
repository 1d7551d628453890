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
#include "proc.h"

struct txtreq {
	uint64_t	 reqid;
	char		 name[DNS_NAME_MAX + 1];
};

static void	lookup_txt_done(void *, enum dns_status, const char *const *,
		    size_t);

/* IMSG_L_TXT: the TXT records of one name, for the queue. */
void
lookup_txt(struct ipc_msg *m)
{
	struct txtreq	*r;
	const char	*name;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("calloc");
	r->reqid = ipc_get_u64(m);
	name = ipc_get_strp(m);
	ipc_end(m);
	/* The answer names what it answers: an odd name gets no data. */
	(void)strlcpy(r->name, name, sizeof(r->name));
	if (strlen(name) > DNS_NAME_MAX) {
		lookup_txt_done(r, DNS_NXDOMAIN, NULL, 0);
		return;
	}
	dns_txt(r->name, lookup_txt_done, r);
}

static void
lookup_txt_done(void *arg, enum dns_status st, const char *const *txt,
    size_t n)
{
	struct txtreq	*r = arg;
	struct ipc_buf	 b;
	size_t		 i;

	if (st != DNS_OK)
		n = 0;
	ipc_buf_init(&b);
	ipc_add_u64(&b, r->reqid);
	ipc_add_str(&b, r->name);
	ipc_add_u32(&b, st == DNS_OK ? MA_DNS_OK : st == DNS_TEMPFAIL ?
	    MA_DNS_TEMPFAIL : MA_DNS_NONE);
	ipc_add_u32(&b, n);
	for (i = 0; i < n; i++)
		ipc_add_str(&b, txt[i]);
	proc_send_buf(PROC_QUEUE, IMSG_L_TXT_RES, -1, &b);
	free(r);
}
