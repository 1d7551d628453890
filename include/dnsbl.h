/*
 * DNS blocklists and allowlists of SMTP clients (dnsbl.c): the zones of
 * mail.conf's dnsbl and dnswl lines, the name asked for a client
 * (its address reversed under the zone), what an answer means, and
 * the text of the refusal.  No I/O: the lookup process asks the
 * questions (lookup_dnsbl.c), the config parser reads the lines.
 *
 * An answer lists the client only if it is in 127.0.0.0/8 and, when
 * the zone has match ranges, inside one of them.  127.255.255.0/24 is
 * where Spamhaus puts its error codes (a query through a public
 * resolver, too many queries): they, and answers outside 127.0.0.0/8,
 * mean that the list cannot be used, never that the client is listed.
 */
#ifndef MAILD_DNSBL_H
#define MAILD_DNSBL_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#define DNSBL_ZONES_MAX		16	/* dnsbl and dnswl lines together */
#define DNSBL_MATCH_MAX		16	/* match ranges of one zone */
#define DNSBL_WEIGHT_MAX	1000
#define DNSBL_WEIGHT		1	/* a dnsbl's default weight */
#define DNSBL_WL_WEIGHT		100	/* a dnswl's: it overrides */
/* A reversed IPv6 address is 64 bytes ("x." 32 times): 253 in all. */
#define DNSBL_ZONE_MAX		189
#define DNSBL_MSG_MAX		200	/* a message of mail.conf */
#define DNSBL_TEXT_MAX		200	/* the bytes of a TXT record used */
#define DNSBL_REPLY_MAX		256	/* the text after "554 5.7.1 " */
#define DNSBL_DEFAULT_MSG	\
	"Service unavailable; client [%{ip}] blocked using %{zone}"

/* An IPv4 range of match, in host order: lo <= hi. */
struct dnsbl_range {
	uint32_t	 lo;
	uint32_t	 hi;
};

/* dnsbl ZONE [weight N] [match ...] [message "TEXT"], or dnswl ZONE. */
struct dnsbl_zone {
	TAILQ_ENTRY(dnsbl_zone)	 entry;
	char			 zone[DNSBL_ZONE_MAX + 1];	/* lowercase */
	int			 allow;		/* dnswl */
	int			 weight;
	size_t			 nmatch;	/* 0: any 127.0.0.0/8 answer */
	struct dnsbl_range	 match[DNSBL_MATCH_MAX];
	char			 message[DNSBL_MSG_MAX + 1];	/* "": TXT */
	int			 line;
};
TAILQ_HEAD(dnsbllist, dnsbl_zone);

enum dnsbl_answer {
	DNSBL_LISTED,		/* 127.0.0.0/8, and in a match range */
	DNSBL_NOMATCH,		/* 127.0.0.0/8, in no match range */
	DNSBL_ERRCODE,		/* 127.255.255.0/24: the list's error code */
	DNSBL_BOGUS		/* outside 127.0.0.0/8 */
};

/*
 * The name to ask for a client under zone: the IPv4 octets (of an
 * IPv4-mapped IPv6 address too) or the IPv6 nibbles, reversed, then
 * the zone.  0, or -1 if the address is neither or the name would be
 * longer than 253 bytes or outsz.
 */
int	dnsbl_qname(const struct sockaddr_storage *, const char *, char *,
	    size_t);
/*
 * A zone name: a host name (letters, digits, '-', '_') of two labels
 * or more, at most DNSBL_ZONE_MAX bytes; copied to out lowercased,
 * without a final dot.  1 valid, 0 not.
 */
int	dnsbl_zone_valid(const char *, char *, size_t);
/* What an A record of the answer means for the zone. */
enum dnsbl_answer dnsbl_classify(const struct dnsbl_zone *,
	    const unsigned char *);
/* The meaning of a 127.255.255.x error code, for the log. */
const char *dnsbl_errcode(const unsigned char *);
/* "A" or "A-B", IPv4 addresses with A <= B: 0, or -1. */
int	dnsbl_range_parse(const char *, struct dnsbl_range *);
/*
 * A message of mail.conf: printable ASCII, at most DNSBL_MSG_MAX
 * bytes, '%' only in %{ip} and %{zone}.  1 valid, 0 not.
 */
int	dnsbl_message_valid(const char *);
/*
 * tmpl with %{ip} and %{zone} replaced, into out, cut to fit (at most
 * DNSBL_REPLY_MAX bytes); another '%' stays as it is.
 */
void	dnsbl_expand(const char *, const char *, const char *, char *,
	    size_t);
/*
 * The len bytes of a TXT record as reply text: printable ASCII kept,
 * white space one space, anything else '?', at most DNSBL_TEXT_MAX
 * bytes, without leading and trailing spaces.  Its length.
 */
size_t	dnsbl_sanitize(const char *, size_t, char *, size_t);

#endif
