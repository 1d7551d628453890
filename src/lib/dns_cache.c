/*
 * The cache of dns_query() answers (dns_cache.h): a red-black tree by
 * (type, name) for finding, a list by last use for dropping.  Time is
 * CLOCK_MONOTONIC, so a clock set back keeps nothing too long.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/time.h>

#include <event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "dns_cache.h"
#include "log.h"
#include "util.h"

struct centry {
	RB_ENTRY(centry)	 node;
	TAILQ_ENTRY(centry)	 lru;		/* most recent first */
	int			 type;
	char			 name[DNS_NAME_MAX + 1];
	int64_t			 expires;	/* mono_ms() */
	size_t			 size;
	struct dns_rrset	*rrset;
};

/* One question on its way: to DNS, or to the loop with a kept answer. */
struct cquery {
	dns_rr_cb		 cb;
	void			*arg;
	int			 type;
	char			 name[DNS_NAME_MAX + 1];
	struct dns_rrset	*hit;		/* a copy, or NULL: asked DNS */
	struct event		 ev;
};

RB_HEAD(ctree, centry);

static int	centry_cmp(const struct centry *, const struct centry *);
RB_PROTOTYPE(ctree, centry, node, centry_cmp)

static void	cache_answer(void *, const struct dns_rrset *);
static void	cache_hit(int, short, void *);
static void	cache_drop(struct centry *);
static size_t	rrset_size(const struct dns_rrset *);

static struct ctree		 tree = RB_INITIALIZER(&tree);
static TAILQ_HEAD(centry_lru, centry) lru = TAILQ_HEAD_INITIALIZER(lru);
static size_t			 nentries, nbytes;
static unsigned long long	 hits, misses;

static int
centry_cmp(const struct centry *a, const struct centry *b)
{
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	return strcmp(a->name, b->name);
}

RB_GENERATE(ctree, centry, node, centry_cmp)

/* What an answer takes: one allocation, records and text. */
static size_t
rrset_size(const struct dns_rrset *rs)
{
	return rs->size;
}

void
dns_cquery(const char *name, int type, dns_rr_cb cb, void *arg)
{
	struct centry	 key, *e;
	struct cquery	*q;
	struct timeval	 tv = { 0, 0 };

	if ((q = calloc(1, sizeof(*q))) == NULL)
		fatal("calloc");
	q->cb = cb;
	q->arg = arg;
	q->type = type;
	/* The cache is by the name as DNS sees it: lowercase, no dot. */
	if (!dns_qname_valid(name, q->name, sizeof(q->name))) {
		free(q);
		dns_query(name, type, cb, arg);	/* it answers "none" */
		return;
	}
	key.type = type;
	(void)strlcpy(key.name, q->name, sizeof(key.name));
	if ((e = RB_FIND(ctree, &tree, &key)) != NULL &&
	    e->expires <= mono_ms()) {
		cache_drop(e);
		e = NULL;
	}
	if (e == NULL) {
		misses++;
		dns_query(q->name, type, cache_answer, q);
		return;
	}
	hits++;
	TAILQ_REMOVE(&lru, e, lru);
	TAILQ_INSERT_HEAD(&lru, e, lru);
	/* The TTL left, as a resolver would say it. */
	if ((q->hit = dns_rrset_dup(e->rrset)) == NULL)
		fatal("dns_rrset_dup");
	q->hit->ttl = (unsigned int)((e->expires - mono_ms()) / 1000);
	evtimer_set(&q->ev, cache_hit, q);
	evtimer_add(&q->ev, &tv);
}

static void
cache_hit(int fd, short ev, void *arg)
{
	struct cquery	*q = arg;

	(void)fd;
	(void)ev;
	q->cb(q->arg, q->hit);
	free(q->hit);
	free(q);
}

static void
cache_answer(void *arg, const struct dns_rrset *rs)
{
	struct cquery	*q = arg;
	struct centry	*e, key;
	size_t		 size;

	if (rs->status != DNS_TEMPFAIL && rs->ttl > 0 &&
	    (size = rrset_size(rs)) < DNS_CACHE_BYTES / 16) {
		key.type = q->type;
		(void)strlcpy(key.name, q->name, sizeof(key.name));
		/* Asked twice at once: the later answer replaces. */
		if ((e = RB_FIND(ctree, &tree, &key)) != NULL)
			cache_drop(e);
		while (nentries >= DNS_CACHE_MAX ||
		    nbytes + size > DNS_CACHE_BYTES)
			cache_drop(TAILQ_LAST(&lru, centry_lru));
		if ((e = calloc(1, sizeof(*e))) == NULL ||
		    (e->rrset = dns_rrset_dup(rs)) == NULL)
			fatal("calloc");
		e->type = q->type;
		(void)strlcpy(e->name, q->name, sizeof(e->name));
		e->expires = mono_ms() + (int64_t)rs->ttl * 1000;
		e->size = size;
		RB_INSERT(ctree, &tree, e);
		TAILQ_INSERT_HEAD(&lru, e, lru);
		nentries++;
		nbytes += size;
	}
	q->cb(q->arg, rs);
	free(q);
}

static void
cache_drop(struct centry *e)
{
	RB_REMOVE(ctree, &tree, e);
	TAILQ_REMOVE(&lru, e, lru);
	nentries--;
	nbytes -= e->size;
	free(e->rrset);
	free(e);
}

void
dns_cache_flush(void)
{
	struct centry	*e;

	while ((e = TAILQ_FIRST(&lru)) != NULL)
		cache_drop(e);
}

void
dns_cache_stats(unsigned long long *h, unsigned long long *m)
{
	*h = hits;
	*m = misses;
}
