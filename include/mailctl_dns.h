/*
 * mailctl dns: what the record printer (mailctl_dns.c) and the checker
 * (mailctl_dnscheck.c) share.
 */
#ifndef MAILD_MAILCTL_DNS_H
#define MAILD_MAILCTL_DNS_H

#include <netinet/in.h>

#include "config.h"
#include "dns.h"
#include "maild.h"

#define MAX_ADDRS	16	/* addresses of the mail host */
#define MAX_NAMES	8	/* MX or PTR names looked at */
#define MAX_TXT		16	/* TXT records of one name kept */
#define TXT_MAX		4096	/* bytes of one TXT record */
#define SHOW_MAX	160	/* bytes of a DNS string shown in a report */

struct mdns_ip {
	int		 af;
	unsigned char	 a[16];
	char		 text[INET6_ADDRSTRLEN];
};

struct mdns_dom {
	char		 name[DOMAIN_MAX + 1];
	int		 receives;	/* a match rule: MX, SPF, DMARC */
};

struct mdns_ctx {
	struct maild_conf *conf;
	char		 host[DNS_NAME_MAX + 1];	/* conf->hostname */
	struct mdns_dom	*doms;
	size_t		 ndoms;
	struct mdns_ip	 want[MAX_ADDRS];	/* -a, or the listeners */
	size_t		 nwant;
	struct mdns_ip	 addrs[MAX_ADDRS];	/* want and DNS: PTR checks */
	size_t		 naddrs;
	int		 fails;		/* records not ok */
	int		 mx;		/* a domain receives: host records */
};

/* Add ip to a list of MAX_ADDRS unless it is there; is it there? */
void	 mdns_ip_add(struct mdns_ip *, size_t *, const struct mdns_ip *);
int	 mdns_ip_in(const struct mdns_ip *, size_t, const struct mdns_ip *);
/* The in-addr.arpa or ip6.arpa name of an address. */
int	 mdns_rev_name(const struct mdns_ip *, char *, size_t);
/* The DKIM TXT value of a configured key (read as root), or NULL. */
char	*mdns_dkim_txt(const struct dkimconf *, char *, size_t);
/* mailctl dns check: ask DNS and report; returns the exit code. */
int	 mdns_check(struct mdns_ctx *);

#endif
