/*
 * The lookup process's part in the DNS lists of SMTP clients: for a
 * client the smtp process asks about, the A record of its reversed
 * address under every dnsbl and dnswl zone, all at once and through
 * the TTL cache; the score (the weights of the blocklists that list
 * it, less those of the allowlists that do); at or above the
 * threshold, the text of the refusal, from the zone's message or its
 * TXT record, asked only then.  A list that fails (a timeout, SERVFAIL,
 * an error code, an answer outside 127.0.0.0/8) does not list: the
 * check fails open, and says so in the log.
 *
 * A check copies the zones it asks, so a reload meanwhile changes
 * nothing under it.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dns.h"
#include "dns_cache.h"
#include "dnsbl.h"
#include "lookup.h"
#include "proc.h"

#define WHY_MAX		512	/* the zones that listed, for the log */

struct dnsbl_check;

struct dnsbl_ask {
	struct dnsbl_check	*c;
	struct dnsbl_zone	 z;
	char			 qname[DNS_NAME_MAX + 1];
	int			 listed;
	unsigned char		 addr[4];	/* the answer that listed */
};

struct dnsbl_check {
	uint64_t		 reqid;
	char			 ip[INET6_ADDRSTRLEN];
	size_t			 n;
	size_t			 pending;
	uint32_t		 errors;	/* unusable answers */
	int			 score;
	struct dnsbl_ask	*text;		/* the list the reply names */
	struct dnsbl_ask	 ask[];
};

static void	 dnsbl_answer(void *, const struct dns_rrset *);
static void	 dnsbl_record(struct dnsbl_ask *, const unsigned char *);
static void	 dnsbl_done(struct dnsbl_check *);
static void	 dnsbl_txt(void *, const struct dns_rrset *);
static void	 dnsbl_reply(struct dnsbl_check *, const char *);
static void	 dnsbl_send(uint64_t, int, uint32_t, const char *,
		    const char *);

/* IMSG_L_DNSBL: is this client listed? */
void
lookup_dnsbl(struct ipc_msg *m)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const struct dnsbl_zone		*z;
	struct sockaddr_storage		 ss;
	struct dnsbl_check		*c;
	struct dnsbl_ask		*a;
	const void			*addr;
	uint64_t			 reqid;
	size_t				 i;
	int				 family;

	reqid = ipc_get_u64(m);
	ipc_get_sockaddr(m, &ss);
	ipc_end(m);
	if (conf->ndnsbl == 0 || (ss.ss_family != AF_INET &&
	    ss.ss_family != AF_INET6)) {
		dnsbl_send(reqid, 0, 0, "", "");
		return;
	}
	if ((c = calloc(1, sizeof(*c) + conf->ndnsbl * sizeof(c->ask[0]))) ==
	    NULL)
		fatal("calloc");
	c->reqid = reqid;
	sin = (const struct sockaddr_in *)&ss;
	sin6 = (const struct sockaddr_in6 *)&ss;
	family = AF_INET;
	if (ss.ss_family == AF_INET)
		addr = &sin->sin_addr;
	else if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		addr = &sin6->sin6_addr.s6_addr[12];
	else {
		family = AF_INET6;
		addr = &sin6->sin6_addr;
	}
	if (inet_ntop(family, addr, c->ip, sizeof(c->ip)) == NULL)
		(void)strlcpy(c->ip, "?", sizeof(c->ip));
	TAILQ_FOREACH(z, &conf->dnsbls, entry) {
		a = &c->ask[c->n++];
		a->c = c;
		a->z = *z;
		if (dnsbl_qname(&ss, z->zone, a->qname,
		    sizeof(a->qname)) == -1)
			a->qname[0] = '\0';	/* the parser rules it out */
	}
	/* Answers come later from the event loop, never from here. */
	c->pending = c->n;
	for (i = 0; i < c->n; i++) {
		if (c->ask[i].qname[0] == '\0') {
			c->pending--;
			continue;
		}
		dns_cquery(c->ask[i].qname, DNS_T_A, dnsbl_answer, &c->ask[i]);
	}
	if (c->pending == 0)
		dnsbl_done(c);
}

/* The A records of one zone. */
static void
dnsbl_answer(void *arg, const struct dns_rrset *rs)
{
	struct dnsbl_ask	*a = arg;
	struct dnsbl_check	*c = a->c;
	size_t			 i;

	if (rs->status == DNS_OK)
		for (i = 0; i < rs->n; i++)
			dnsbl_record(a, rs->rr[i].addr);
	else if (rs->status == DNS_TEMPFAIL)
		log_warnx("dnsbl: %s: no answer about %s (timeout or "
		    "failure): not listed", a->z.zone, c->ip);
	if (a->listed)
		c->score += a->z.allow ? -a->z.weight : a->z.weight;
	if (--c->pending == 0)
		dnsbl_done(c);
}

static void
dnsbl_record(struct dnsbl_ask *a, const unsigned char *addr)
{
	struct dnsbl_check	*c = a->c;
	char			 text[INET_ADDRSTRLEN];

	if (inet_ntop(AF_INET, addr, text, sizeof(text)) == NULL)
		(void)strlcpy(text, "?", sizeof(text));
	switch (dnsbl_classify(&a->z, addr)) {
	case DNSBL_LISTED:
		if (!a->listed)
			memcpy(a->addr, addr, sizeof(a->addr));
		a->listed = 1;
		break;
	case DNSBL_NOMATCH:
		log_debug("dnsbl: %s: %s for %s, not one of match",
		    a->z.zone, text, c->ip);
		break;
	case DNSBL_ERRCODE:
		c->errors++;
		log_warnx("dnsbl: %s answered %s about %s: %s; not used",
		    a->z.zone, text, c->ip, dnsbl_errcode(addr));
		break;
	case DNSBL_BOGUS:
		c->errors++;
		log_warnx("dnsbl: %s answered %s about %s, outside "
		    "127.0.0.0/8; not used", a->z.zone, text, c->ip);
		break;
	}
}

/*
 * Every zone has answered: the score, and at the threshold the text of
 * the blocklist of the highest weight that lists the client.
 */
static void
dnsbl_done(struct dnsbl_check *c)
{
	struct dnsbl_ask	*a;
	char			 msg[DNSBL_REPLY_MAX + 1];
	size_t			 i;

	if (c->score < conf->dnsbl_threshold) {
		dnsbl_reply(c, NULL);
		return;
	}
	for (i = 0; i < c->n; i++) {
		a = &c->ask[i];
		if (a->listed && !a->z.allow &&
		    (c->text == NULL || a->z.weight > c->text->z.weight))
			c->text = a;
	}
	if (c->text == NULL) {
		/* Not reached: a score of 1 or more needs a blocklist. */
		dnsbl_reply(c, NULL);
		return;
	}
	if (c->text->z.message[0] != '\0') {
		dnsbl_expand(c->text->z.message, c->ip, c->text->z.zone, msg,
		    sizeof(msg));
		dnsbl_reply(c, msg);
		return;
	}
	dns_cquery(c->text->qname, DNS_T_TXT, dnsbl_txt, c);
}

/* The TXT record of the list that names the client, or the default. */
static void
dnsbl_txt(void *arg, const struct dns_rrset *rs)
{
	struct dnsbl_check	*c = arg;
	char			 msg[DNSBL_REPLY_MAX + 1];

	msg[0] = '\0';
	if (rs->status == DNS_OK && rs->n > 0)
		(void)dnsbl_sanitize(rs->rr[0].text, rs->rr[0].len, msg,
		    sizeof(msg));
	if (msg[0] == '\0')
		dnsbl_expand(DNSBL_DEFAULT_MSG, c->ip, c->text->z.zone, msg,
		    sizeof(msg));
	dnsbl_reply(c, msg);
}

/* The answer to smtp, msg the text of a refusal or NULL; c is freed. */
static void
dnsbl_reply(struct dnsbl_check *c, const char *msg)
{
	struct dnsbl_ask	*a;
	char			 why[WHY_MAX], text[INET_ADDRSTRLEN];
	size_t			 i, len;
	int			 r;

	r = snprintf(why, sizeof(why), "score %d", c->score);
	len = r > 0 && (size_t)r < sizeof(why) ? (size_t)r : 0;
	for (i = 0; i < c->n && len < sizeof(why); i++) {
		a = &c->ask[i];
		if (!a->listed)
			continue;
		if (inet_ntop(AF_INET, a->addr, text, sizeof(text)) == NULL)
			(void)strlcpy(text, "?", sizeof(text));
		r = snprintf(why + len, sizeof(why) - len, "%s %s=%s (%s%d)",
		    len > 0 ? "," : "", a->z.zone, text, a->z.allow ? "-" :
		    "+", a->z.weight);
		if (r < 0 || (size_t)r >= sizeof(why) - len)
			break;
		len += (size_t)r;
	}
	if (msg == NULL && c->score != 0)
		log_debug("dnsbl: %s: %s, below %d", c->ip, why,
		    conf->dnsbl_threshold);
	dnsbl_send(c->reqid, msg != NULL, c->errors, msg != NULL ? msg : "",
	    why);
	free(c);
}

static void
dnsbl_send(uint64_t reqid, int refuse, uint32_t errors, const char *msg,
    const char *why)
{
	struct ipc_buf	 b;

	ipc_buf_init(&b);
	ipc_add_u64(&b, reqid);
	ipc_add_u32(&b, refuse);
	ipc_add_u32(&b, errors);
	ipc_add_str(&b, msg);
	ipc_add_str(&b, why);
	proc_send_buf(PROC_SMTP, IMSG_L_DNSBL_RES, -1, &b);
}
