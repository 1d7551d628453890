/*
 * Asynchronous DNS for the lookup process: MX resolution (RFC 5321 5.1,
 * null MX of RFC 7505), reverse and forward-confirmed reverse DNS, TXT
 * records, and the records of one name and type as they are (for SPF).
 * Built on c-ares, driven by the process's libevent loop.
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

/* dns_query(): the record types it asks for (RFC 1035, RFC 3596). */
#define DNS_T_A			1
#define DNS_T_PTR		12
#define DNS_T_MX		15
#define DNS_T_TXT		16
#define DNS_T_AAAA		28
#define DNS_RR_MAX		64	/* records kept of one answer */
#define DNS_RR_TEXT_MAX		65536	/* bytes of names and TXT, one answer */
#define DNS_TTL_MAX		86400	/* longer TTLs are cut to a day */
#define DNS_NEGATIVE_TTL	300	/* "none" without an SOA to say */

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

/*
 * One record of a dns_query() answer.  A and AAAA: addr (4 or 16 bytes
 * used), text NULL.  MX: pref and the exchange in text; PTR: the name in
 * text.  Names are lowercase, without the final dot, "" for the root
 * (a null MX), printable ASCII and spaces but no backslash; a record
 * naming anything else is left out.  TXT: the record's strings
 * concatenated in text, len bytes (they may hold NULs), NUL-terminated.
 */
struct dns_rr {
	int			 pref;
	unsigned char		 addr[16];
	const char		*text;
	size_t			 len;
};

/*
 * The answer to dns_query(): status DNS_OK with n >= 1 records of type,
 * DNS_NXDOMAIN when the name does not exist or has no record of that
 * type (n 0), DNS_TEMPFAIL on a timeout, SERVFAIL, REFUSED, a malformed
 * answer.  ttl: the smallest TTL of the records and of the CNAMEs that
 * led to them; for DNS_NXDOMAIN the SOA's (RFC 2308 5) when the answer
 * has one, else DNS_NEGATIVE_TTL; 0 for DNS_TEMPFAIL; at most
 * DNS_TTL_MAX.  CNAMEs inside the answer are followed (at most 8), and
 * a record given twice is kept once (RFC 2181 5).  Records past
 * DNS_RR_MAX, past DNS_RR_TEXT_MAX bytes of text, or malformed, are
 * left out and counted in dropped.  One allocation of size bytes holds
 * the records and, after them, their text: dns_rrset_dup() copies it.
 */
struct dns_rrset {
	int			 type;
	enum dns_status		 status;
	unsigned int		 ttl;
	size_t			 dropped;
	size_t			 size;
	size_t			 n;
	struct dns_rr		 rr[];
};

typedef void (*dns_mx_cb)(void *, enum dns_status, const struct dns_host *,
    size_t);
typedef void (*dns_fcrdns_cb)(void *, enum dns_fcrdns, const char *);
typedef void (*dns_txt_cb)(void *, enum dns_status, const char *const *,
    size_t);
/* The answer is the callee's for the duration of the call only. */
typedef void (*dns_rr_cb)(void *, const struct dns_rrset *);

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
/*
 * The records of one name and type (DNS_T_*, any other is a bug), as
 * struct dns_rrset says.  The name may hold any printable ASCII and
 * spaces (SPF macros put local parts in names) but no backslash; labels
 * of 1 to 63, at most DNS_NAME_MAX without the final dot.  Another name
 * is answered DNS_NXDOMAIN without a query.
 */
void	dns_query(const char *, int, dns_rr_cb, void *);
/* A copy of an answer, for keeping; freed with free(). */
struct dns_rrset	*dns_rrset_dup(const struct dns_rrset *);
/*
 * An answer of type, status and TTL holding a copy of n records and
 * their text (n 0: a caller's own "none" or "tempfail"); free().
 */
struct dns_rrset	*dns_rrset_make(int, enum dns_status, unsigned int,
			    const struct dns_rr *, size_t);
/*
 * The query name check of dns_query(): copied to out lowercased,
 * without the final dot.  1 valid, 0 not.
 */
int	dns_qname_valid(const char *, char *, size_t);

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
