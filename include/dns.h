/*
 * Asynchronous DNS for the lookup process: MX resolution (RFC 5321 5.1,
 * null MX of RFC 7505), reverse and forward-confirmed reverse DNS, TXT
 * records.  Built on c-ares, driven by the process's libevent loop.
 *
 * Every lookup answers through its callback exactly once, always later
 * from the event loop, never from inside the call that started it.  A
 * lookup cannot be cancelled: a caller whose state may vanish meanwhile
 * passes an arg it can validate (the lookup process passes a request id,
 * not a pointer).  The only exception is dns_shutdown(): lookups still
 * running then are dropped without their callbacks.
 */
#ifndef MAILD_DNS_H
#define MAILD_DNS_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>

#define DNS_NAME_MAX		253	/* text form, without the final dot */
#define DNS_MAX_HOSTS		16	/* MX hosts of one domain */
#define DNS_MAX_ADDRS		16	/* addresses of one host */
#define DNS_MAX_PTR		8	/* PTR names checked by dns_fcrdns() */
#define DNS_MAX_TXT		8	/* TXT records of one name */
#define DNS_TXT_MAX		4096	/* bytes of one TXT record */
#define DNS_QUERY_TIMEOUT_MS	2000	/* per try, c-ares doubles it */
#define DNS_QUERY_TRIES		2
#define DNS_LOOKUP_TIMEOUT	10	/* seconds, a whole dns_mx() etc. */

enum dns_status {
	DNS_OK,
	DNS_NXDOMAIN,		/* no such domain, or no usable data: 5xx */
	DNS_TEMPFAIL,		/* timeout, SERVFAIL, refused: 4xx */
	DNS_NULLMX		/* "MX 0 ." (RFC 7505): mail not accepted */
};

enum dns_fcrdns {
	FCRDNS_PASS,		/* a PTR name resolves back to the address */
	FCRDNS_NORDNS,		/* no (usable) PTR record */
	FCRDNS_MISMATCH,	/* PTR names, none resolving back */
	FCRDNS_TEMPFAIL
};

struct dns_host {
	char			 name[256];	/* DNS_NAME_MAX, NUL, spare */
	int			 pref;
	size_t			 naddr;
	/* AF_INET or AF_INET6, port 0: the caller sets it. */
	struct sockaddr_storage	 addr[DNS_MAX_ADDRS];
};

typedef void (*dns_mx_cb)(void *, enum dns_status, const struct dns_host *,
    size_t);
typedef void (*dns_fcrdns_cb)(void *, enum dns_fcrdns, const char *);
typedef void (*dns_txt_cb)(void *, enum dns_status, const char *const *,
    size_t);

/*
 * Set up the resolver.  server NULL: the system configuration
 * (/etc/resolv.conf, read now, before any chroot); else an IPv4 or IPv6
 * address literal, port 0 meaning 53.  0, or -1 (also when already
 * initialised).
 */
int	dns_init(const char *, int);
/* Drop every running lookup (no callbacks) and free the resolver. */
void	dns_shutdown(void);

/*
 * Where mail for a domain goes: its MX hosts by preference (stable
 * among equal ones), each with its AAAA then A addresses; no MX: the
 * domain itself as implicit MX if it has addresses; a lone "MX 0 .":
 * DNS_NULLMX.  Hosts that do not resolve are dropped; if none is left,
 * DNS_TEMPFAIL when a lookup failed temporarily, else DNS_NXDOMAIN.
 * An invalid domain name answers DNS_NXDOMAIN.
 */
void	dns_mx(const char *, dns_mx_cb, void *);
/*
 * The addresses of one host (a smarthost), without looking for MX
 * records: one host named name with preference 0, or DNS_NXDOMAIN /
 * DNS_TEMPFAIL as dns_mx() says them.
 */
void	dns_host(const char *, dns_mx_cb, void *);
/*
 * rDNS of an address (AF_INET, AF_INET6; v4-mapped IPv6 counts as
 * IPv4), then the forward check of up to DNS_MAX_PTR names.  The name
 * is the confirmed one on FCRDNS_PASS, the first PTR name on
 * FCRDNS_MISMATCH (and on FCRDNS_TEMPFAIL when known), else "".
 */
void	dns_fcrdns(const struct sockaddr_storage *, dns_fcrdns_cb, void *);
/*
 * TXT records of a name, each record's strings concatenated; records
 * holding a NUL byte or longer than DNS_TXT_MAX are left out.
 */
void	dns_txt(const char *, dns_txt_cb, void *);

/* Text for logs and replies. */
/*
 * A host name, ours or from an answer: letters, digits, '-', '_'; labels
 * of 1 to 63; at most DNS_NAME_MAX without the final dot.  Copied to out
 * lowercased, without the final dot.  1 valid, 0 not.
 */
int	dns_name_valid(const char *, char *, size_t);
const char	*dns_strstatus(enum dns_status);
const char	*dns_strfcrdns(enum dns_fcrdns);

#endif
