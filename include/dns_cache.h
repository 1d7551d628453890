/*
 * Answers of dns_query() kept for their TTL (dns_cache.c): the checks
 * of inbound mail ask the same names again and again (the SPF records
 * of big senders, their DKIM keys, DMARC records).  Answers and "no such
 * record" are kept, temporary failures are not; at most DNS_CACHE_MAX
 * answers and DNS_CACHE_BYTES bytes, the least recently used dropped
 * first.  Like dns_query(), dns_cquery() answers later from the event
 * loop, also when the answer was kept.
 */
#ifndef MAILD_DNS_CACHE_H
#define MAILD_DNS_CACHE_H

#include "dns.h"

#define DNS_CACHE_MAX		4096		/* answers kept */
#define DNS_CACHE_BYTES		(16 * 1024 * 1024)

void	dns_cquery(const char *, int, dns_rr_cb, void *);
/* Forget every answer (on reload: the resolver may have changed). */
void	dns_cache_flush(void);
/* Answers served from the cache and asked of DNS, since start. */
void	dns_cache_stats(unsigned long long *hits, unsigned long long *misses);

#endif
