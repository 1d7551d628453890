/*
 * The DNS questions of msgauth.h answered with dns.c (TXT records
 * through its cache): one function for the lookup process (which
 * answers the queue's questions) and for "mailctl check", so that both
 * ask the same way.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "dns.h"
#include "dns_cache.h"
#include "log.h"
#include "msgauth.h"

struct madq {
	msgauth_dns_cb	 cb;
	void		*arg;
	int		 qtype;
	char		 name[DNS_NAME_MAX + 1];
};

static void	madq_txt(void *, const struct dns_rrset *);
static void	madq_exists(void *, enum dns_status, const struct dns_host *,
		    size_t);
static void	madq_done(struct madq *, enum dns_status, const char *const *,
		    size_t);

void
msgauth_dns_ask(const char *name, int qtype, msgauth_dns_cb cb, void *arg)
{
	struct madq	*q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		fatal("calloc");
	q->cb = cb;
	q->arg = arg;
	q->qtype = qtype;
	(void)strlcpy(q->name, name, sizeof(q->name));
	/* An odd question gets "no data", as an odd name would. */
	if (strlen(name) > DNS_NAME_MAX || (qtype != MA_Q_TXT &&
	    qtype != MA_Q_EXISTS))
		madq_done(q, DNS_NXDOMAIN, NULL, 0);
	else if (qtype == MA_Q_TXT)
		dns_cquery(q->name, DNS_T_TXT, madq_txt, q);
	else
		dns_mx(q->name, madq_exists, q);
}

/* The records as text: one holding a NUL byte is no record of ours. */
static void
madq_txt(void *arg, const struct dns_rrset *rs)
{
	const char	*txt[MA_TXT_MAX];
	size_t		 i, n = 0;

	for (i = 0; rs->status == DNS_OK && i < rs->n && n < MA_TXT_MAX; i++)
		if (rs->rr[i].text != NULL &&
		    memchr(rs->rr[i].text, '\0', rs->rr[i].len) == NULL)
			txt[n++] = rs->rr[i].text;
	madq_done(arg, rs->status, txt, n);
}

/* Does the name exist: an MX, a null MX, or an address (implicit MX)? */
static void
madq_exists(void *arg, enum dns_status st, const struct dns_host *h,
    size_t n)
{
	(void)h;
	(void)n;
	madq_done(arg, st == DNS_NULLMX ? DNS_OK : st, NULL, 0);
}

static void
madq_done(struct madq *q, enum dns_status st, const char *const *txt,
    size_t n)
{
	if (st != DNS_OK || txt == NULL)
		n = 0;
	if (n > MA_TXT_MAX)
		n = MA_TXT_MAX;
	q->cb(q->arg, q->name, q->qtype, st == DNS_OK ? MSGAUTH_DNS_OK :
	    st == DNS_TEMPFAIL ? MSGAUTH_DNS_TEMPFAIL : MSGAUTH_DNS_NONE,
	    txt, n);
	free(q);
}
