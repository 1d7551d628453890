/*
 * Greylisting's pure parts (greylist.h): the keys of triplets and pairs,
 * the decision, the table the queue process keeps (an RB tree by key,
 * and two lists in order of last use, pending triplets and whitelisted
 * pairs, from which expiry and the size limit take the oldest), and the
 * lines of the state file, parsed as hostile input.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "compat.h"
#include "greylist.h"
#include "log.h"

#define TIME_DIGITS	13		/* a time of the file: 0 to 10^13 */
/* A pair's last use goes to the file at most this often. */
#define TOUCH_SAVE	300

struct grey_entry {
	RB_ENTRY(grey_entry)	 node;
	TAILQ_ENTRY(grey_entry)	 lru;		/* pending or pairs */
	uint8_t			 key[GREY_KEYLEN];
	char			 kind;		/* GREY_REC_PENDING, _PAIR */
	int64_t			 first;
	int64_t			 last;
	int64_t			 saved;		/* last as the file has it */
};

RB_HEAD(grey_tree, grey_entry);
TAILQ_HEAD(grey_list, grey_entry);

struct greylist {
	struct grey_tree	 tree;
	struct grey_list	 pending;
	struct grey_list	 pairs;
	size_t			 count;
	size_t			 max;
	size_t			 evicted;
};

static int	 grey_cmp(const struct grey_entry *, const struct grey_entry *);
RB_PROTOTYPE(grey_tree, grey_entry, node, grey_cmp)

static size_t	 lower_copy(char *, size_t, const char *);
static int	 hash_text(const uint8_t *, const char *, size_t, uint8_t *);
static struct grey_entry *grey_find(struct greylist *, const uint8_t *,
		    char);
static struct grey_entry *grey_add(struct greylist *, const uint8_t *,
		    char, int64_t, int64_t);
static void	 grey_del(struct greylist *, struct grey_entry *);
static void	 grey_touch(struct greylist *, struct grey_entry *);
static void	 grey_rec(const struct grey_entry *, struct grey_rec *);
static int	 parse_time(const char **, const char *, int64_t *);
static int	 parse_hex(const char **, const char *, uint8_t *, size_t);
static void	 put_hex(char *, const uint8_t *, size_t);

static int
grey_cmp(const struct grey_entry *a, const struct grey_entry *b)
{
	return memcmp(a->key, b->key, GREY_KEYLEN);
}

RB_GENERATE(grey_tree, grey_entry, node, grey_cmp)

/* -- keys -- */

int
greylist_net(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in6	*sin6;
	struct in6_addr			 a6;
	struct in_addr			 a4;
	char				 addr[INET6_ADDRSTRLEN];
	int				 plen;

	if (ss->ss_family == AF_INET) {
		a4 = ((const struct sockaddr_in *)ss)->sin_addr;
		a4.s_addr &= htonl(0xffffff00);
		plen = 24;
		if (inet_ntop(AF_INET, &a4, addr, sizeof(addr)) == NULL)
			return -1;
	} else if (ss->ss_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)ss;
		a6 = sin6->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memcpy(&a4, &a6.s6_addr[12], sizeof(a4));
			a4.s_addr &= htonl(0xffffff00);
			plen = 24;
			if (inet_ntop(AF_INET, &a4, addr, sizeof(addr)) ==
			    NULL)
				return -1;
		} else {
			memset(&a6.s6_addr[8], 0, 8);
			plen = 64;
			if (inet_ntop(AF_INET6, &a6, addr, sizeof(addr)) ==
			    NULL)
				return -1;
		}
	} else
		return -1;
	if ((size_t)snprintf(buf, len, "%s/%d", addr, plen) >= len)
		return -1;
	return 0;
}

/* s lowercased (ASCII) at buf, with its NUL: the bytes, 0 if too long. */
static size_t
lower_copy(char *buf, size_t len, const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i + 1 >= len)
			return 0;
		buf[i] = (char)tolower((unsigned char)s[i]);
	}
	if (i >= len)
		return 0;
	buf[i] = '\0';
	return i + 1;
}

size_t
greylist_triplet_text(const struct sockaddr_storage *ss,
    const struct mailaddr *sender, const struct mailaddr *rcpt, char *buf,
    size_t len)
{
	char	 net[GREY_NET_MAX], from[ADDR_MAX + 1], to[ADDR_MAX + 1];
	size_t	 n = 2, k;

	if (len < 2 || greylist_net(ss, net, sizeof(net)) == -1 ||
	    addr_to_text(sender, from, sizeof(from)) == -1 ||
	    addr_to_text(rcpt, to, sizeof(to)) == -1)
		return 0;
	memcpy(buf, "t", 2);
	if ((k = lower_copy(buf + n, len - n, net)) == 0)
		return 0;
	n += k;
	if ((k = lower_copy(buf + n, len - n, from)) == 0)
		return 0;
	n += k;
	if ((k = lower_copy(buf + n, len - n, to)) == 0)
		return 0;
	return n + k;
}

size_t
greylist_pair_text(const struct sockaddr_storage *ss,
    const struct mailaddr *sender, char *buf, size_t len)
{
	char	 net[GREY_NET_MAX];
	size_t	 n = 2, k;

	if (len < 2 || greylist_net(ss, net, sizeof(net)) == -1)
		return 0;
	memcpy(buf, "w", 2);
	if ((k = lower_copy(buf + n, len - n, net)) == 0)
		return 0;
	n += k;
	if ((k = lower_copy(buf + n, len - n, addr_is_null(sender) ? "" :
	    sender->domain)) == 0)
		return 0;
	return n + k;
}

static int
hash_text(const uint8_t *secret, const char *text, size_t len,
    uint8_t *key)
{
	if (len == 0)
		return -1;
	if (crypto_generichash(key, GREY_KEYLEN, (const unsigned char *)text,
	    len, secret, GREY_SECRETLEN) != 0)
		return -1;
	return 0;
}

int
greylist_triplet_key(const uint8_t *secret, const struct sockaddr_storage *ss,
    const struct mailaddr *sender, const struct mailaddr *rcpt,
    uint8_t *key)
{
	char	 text[GREY_NET_MAX + 2 * (ADDR_MAX + 1) + 2];

	return hash_text(secret, text, greylist_triplet_text(ss, sender, rcpt,
	    text, sizeof(text)), key);
}

int
greylist_pair_key(const uint8_t *secret, const struct sockaddr_storage *ss,
    const struct mailaddr *sender, uint8_t *key)
{
	char	 text[GREY_NET_MAX + DOMAIN_MAX + 1 + 2];

	return hash_text(secret, text, greylist_pair_text(ss, sender, text,
	    sizeof(text)), key);
}

/* -- time -- */

int
greylist_triplet_state(int known, int64_t first, int64_t last, time_t now,
    const struct grey_params *gp, time_t *secs)
{
	int64_t	 waited;

	*secs = gp->delay;
	/* A clock set back makes nothing older. */
	if (!known || (now > last && now - last >= gp->expire))
		return GREY_T_NEW;
	waited = now > first ? now - first : 0;
	if (waited < gp->delay) {
		*secs = gp->delay - waited;
		return GREY_T_EARLY;
	}
	*secs = waited;
	return GREY_T_RIPE;
}

int
greylist_pair_alive(int64_t last, time_t now, const struct grey_params *gp)
{
	return now <= last || now - last < gp->wl_expire;
}

/* -- the table -- */

struct greylist *
greylist_new(size_t max)
{
	struct greylist	*g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		fatal("calloc");
	RB_INIT(&g->tree);
	TAILQ_INIT(&g->pending);
	TAILQ_INIT(&g->pairs);
	g->max = max > 0 ? max : 1;
	return g;
}

void
greylist_free(struct greylist *g)
{
	struct grey_entry	*e;

	if (g == NULL)
		return;
	while ((e = RB_ROOT(&g->tree)) != NULL)
		grey_del(g, e);
	free(g);
}

size_t
greylist_count(const struct greylist *g)
{
	return g->count;
}

size_t
greylist_evicted(const struct greylist *g)
{
	return g->evicted;
}

/* The entry of key if it is of that kind (another is a collision). */
static struct grey_entry *
grey_find(struct greylist *g, const uint8_t *key, char kind)
{
	struct grey_entry	 k, *e;

	memcpy(k.key, key, GREY_KEYLEN);
	if ((e = RB_FIND(grey_tree, &g->tree, &k)) == NULL)
		return NULL;
	return e->kind == kind ? e : NULL;
}

static struct grey_entry *
grey_add(struct greylist *g, const uint8_t *key, char kind, int64_t first,
    int64_t last)
{
	struct grey_entry	 k, *e, *old;

	memcpy(k.key, key, GREY_KEYLEN);
	if ((e = RB_FIND(grey_tree, &g->tree, &k)) != NULL)
		grey_del(g, e);
	while (g->count >= g->max) {
		if ((old = TAILQ_FIRST(&g->pending)) == NULL &&
		    (old = TAILQ_FIRST(&g->pairs)) == NULL)
			break;
		grey_del(g, old);
		g->evicted++;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		fatal("calloc");
	memcpy(e->key, key, GREY_KEYLEN);
	e->kind = kind;
	e->first = first;
	e->last = e->saved = last;
	RB_INSERT(grey_tree, &g->tree, e);
	TAILQ_INSERT_TAIL(kind == GREY_REC_PAIR ? &g->pairs : &g->pending, e,
	    lru);
	g->count++;
	return e;
}

static void
grey_del(struct greylist *g, struct grey_entry *e)
{
	RB_REMOVE(grey_tree, &g->tree, e);
	TAILQ_REMOVE(e->kind == GREY_REC_PAIR ? &g->pairs : &g->pending, e,
	    lru);
	g->count--;
	free(e);
}

/* Used now: to the end of its list. */
static void
grey_touch(struct greylist *g, struct grey_entry *e)
{
	struct grey_list	*l;

	l = e->kind == GREY_REC_PAIR ? &g->pairs : &g->pending;
	TAILQ_REMOVE(l, e, lru);
	TAILQ_INSERT_TAIL(l, e, lru);
}

static void
grey_rec(const struct grey_entry *e, struct grey_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = e->kind;
	memcpy(r->key, e->key, GREY_KEYLEN);
	r->first = e->first;
	r->last = e->last;
}

int
greylist_replay(struct greylist *g, const struct grey_rec *r, time_t now,
    const struct grey_params *gp)
{
	struct grey_entry	*e;
	int64_t			 first = r->first, last = r->last;
	int			 alive, rv = 1;

	if (r->kind == GREY_REC_DROP) {
		if ((e = grey_find(g, r->key, GREY_REC_PENDING)) != NULL)
			grey_del(g, e);
		return 1;
	}
	if (last > now) {
		last = now;
		rv = 0;
	}
	if (first > last) {
		first = last;
		rv = 0;
	}
	if (r->kind == GREY_REC_PAIR)
		alive = greylist_pair_alive(last, now, gp);
	else
		alive = now - last < gp->expire;
	if (!alive) {
		if ((e = grey_find(g, r->key, r->kind)) != NULL)
			grey_del(g, e);
		return 0;
	}
	(void)grey_add(g, r->key, r->kind, first, last);
	return rv;
}

int
greylist_check(struct greylist *g, const uint8_t *tkey, const uint8_t *pkey,
    time_t now, const struct grey_params *gp, struct grey_rec *recs,
    size_t *nrec, time_t *secs)
{
	struct grey_entry	*e, *p;
	time_t			 touch;
	int			 st;

	*nrec = 0;
	*secs = 0;
	if ((p = grey_find(g, pkey, GREY_REC_PAIR)) != NULL) {
		if (greylist_pair_alive(p->last, now, gp)) {
			if (now > p->last)
				p->last = now;
			grey_touch(g, p);
			touch = gp->wl_expire / 8 < TOUCH_SAVE ?
			    gp->wl_expire / 8 : TOUCH_SAVE;
			if (p->last - p->saved >= touch) {
				p->saved = p->last;
				grey_rec(p, &recs[(*nrec)++]);
			}
			return GREY_WHITELISTED;
		}
		grey_del(g, p);
	}
	e = grey_find(g, tkey, GREY_REC_PENDING);
	st = greylist_triplet_state(e != NULL, e ? e->first : 0,
	    e ? e->last : 0, now, gp, secs);
	switch (st) {
	case GREY_T_NEW:
		e = grey_add(g, tkey, GREY_REC_PENDING, now, now);
		grey_rec(e, &recs[(*nrec)++]);
		return GREY_DEFER;
	case GREY_T_EARLY:
		if (now > e->last)
			e->last = now;
		e->saved = e->last;
		grey_touch(g, e);
		grey_rec(e, &recs[(*nrec)++]);
		return GREY_DEFER;
	default:
		memset(&recs[*nrec], 0, sizeof(recs[*nrec]));
		recs[*nrec].kind = GREY_REC_DROP;
		memcpy(recs[*nrec].key, tkey, GREY_KEYLEN);
		(*nrec)++;
		grey_del(g, e);
		p = grey_add(g, pkey, GREY_REC_PAIR, now, now);
		grey_rec(p, &recs[(*nrec)++]);
		return GREY_PASS;
	}
}

size_t
greylist_prune(struct greylist *g, time_t now, const struct grey_params *gp)
{
	struct grey_entry	*e, *te;
	size_t			 n = 0;

	/*
	 * Each list is in order of last use, unless the clock went back:
	 * walked whole, which a prune every minute or so can afford.
	 */
	TAILQ_FOREACH_SAFE(e, &g->pending, lru, te)
		if (now > e->last && now - e->last >= gp->expire) {
			grey_del(g, e);
			n++;
		}
	TAILQ_FOREACH_SAFE(e, &g->pairs, lru, te)
		if (!greylist_pair_alive(e->last, now, gp)) {
			grey_del(g, e);
			n++;
		}
	return n;
}

void
greylist_walk(const struct greylist *g,
    void (*cb)(const struct grey_rec *, void *), void *arg)
{
	struct grey_entry	*e;
	struct grey_rec		 r;

	TAILQ_FOREACH(e, &g->pending, lru) {
		grey_rec(e, &r);
		cb(&r, arg);
	}
	TAILQ_FOREACH(e, &g->pairs, lru) {
		grey_rec(e, &r);
		cb(&r, arg);
	}
}

/* -- the file -- */

static void
put_hex(char *buf, const uint8_t *b, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		buf[2 * i] = hex[b[i] >> 4];
		buf[2 * i + 1] = hex[b[i] & 0x0f];
	}
	buf[2 * n] = '\0';
}

/* Exactly 2n lowercase hex digits at *pp, before end. */
static int
parse_hex(const char **pp, const char *end, uint8_t *b, size_t n)
{
	const char	*p = *pp;
	size_t		 i;
	int		 hi, lo;

	if ((size_t)(end - p) < 2 * n)
		return -1;
	for (i = 0; i < 2 * n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
		    (p[i] >= 'a' && p[i] <= 'f')))
			return -1;
	for (i = 0; i < n; i++) {
		hi = p[2 * i] <= '9' ? p[2 * i] - '0' : p[2 * i] - 'a' + 10;
		lo = p[2 * i + 1] <= '9' ? p[2 * i + 1] - '0' :
		    p[2 * i + 1] - 'a' + 10;
		b[i] = (uint8_t)(hi << 4 | lo);
	}
	*pp = p + 2 * n;
	return 0;
}

/* 1 to TIME_DIGITS decimal digits at *pp, before end. */
static int
parse_time(const char **pp, const char *end, int64_t *v)
{
	const char	*p = *pp;
	int64_t		 n = 0;
	int		 digits = 0;

	while (p < end && *p >= '0' && *p <= '9') {
		if (++digits > TIME_DIGITS)
			return -1;
		n = n * 10 + (*p++ - '0');
	}
	if (digits == 0)
		return -1;
	*v = n;
	*pp = p;
	return 0;
}

size_t
greylist_header_format(const uint8_t *secret, char *buf, size_t len)
{
	char	 hex[2 * GREY_SECRETLEN + 1];
	int	 n;

	put_hex(hex, secret, GREY_SECRETLEN);
	n = snprintf(buf, len, "%s %s\n", GREY_MAGIC, hex);
	sodium_memzero(hex, sizeof(hex));
	if (n < 0 || (size_t)n >= len)
		return 0;
	return (size_t)n;
}

int
greylist_header_parse(const char *line, size_t len, uint8_t *secret)
{
	const char	*p = line, *end = line + len;
	size_t		 m = strlen(GREY_MAGIC);

	if (len < m + 1 || memcmp(p, GREY_MAGIC, m) != 0 || p[m] != ' ')
		return -1;
	p += m + 1;
	if (parse_hex(&p, end, secret, GREY_SECRETLEN) == -1 || p != end)
		return -1;
	return 0;
}

size_t
greylist_rec_format(const struct grey_rec *r, char *buf, size_t len)
{
	char	 hex[2 * GREY_KEYLEN + 1];
	int	 n;

	put_hex(hex, r->key, GREY_KEYLEN);
	n = snprintf(buf, len, "%c %s %lld %lld\n", r->kind, hex,
	    (long long)r->first, (long long)r->last);
	if (n < 0 || (size_t)n >= len)
		return 0;
	return (size_t)n;
}

int
greylist_rec_parse(const char *line, size_t len, struct grey_rec *r)
{
	const char	*p = line, *end = line + len;

	memset(r, 0, sizeof(*r));
	if (len < 2 || len >= GREY_LINE_MAX || line[1] != ' ')
		return -1;
	r->kind = line[0];
	if (r->kind != GREY_REC_PENDING && r->kind != GREY_REC_PAIR &&
	    r->kind != GREY_REC_DROP)
		return -1;
	p += 2;
	if (parse_hex(&p, end, r->key, GREY_KEYLEN) == -1 ||
	    p == end || *p++ != ' ' ||
	    parse_time(&p, end, &r->first) == -1 ||
	    p == end || *p++ != ' ' ||
	    parse_time(&p, end, &r->last) == -1 || p != end)
		return -1;
	if (r->kind != GREY_REC_DROP && r->first > r->last)
		return -1;
	return 0;
}

int
greylist_file_parse(const char *buf, size_t len, uint8_t *secret,
    void (*cb)(const struct grey_rec *, void *), void *arg,
    struct grey_load *ld)
{
	struct grey_rec	 r;
	const char	*p = buf, *end = buf + len, *nl;
	int		 line = 0;

	memset(ld, 0, sizeof(*ld));
	while (p < end) {
		line++;
		if ((nl = memchr(p, '\n', end - p)) == NULL) {
			/* a write cut short by a crash: dropped */
			ld->truncated = 1;
			break;
		}
		if (line == 1) {
			if (greylist_header_parse(p, nl - p, secret) == -1)
				break;
			ld->header = 1;
		} else if (greylist_rec_parse(p, nl - p, &r) == 0) {
			ld->records++;
			cb(&r, arg);
		} else {
			if (ld->bad++ == 0)
				ld->firstbad = line;
		}
		p = nl + 1;
	}
	if (!ld->header && len > 0 && ld->firstbad == 0)
		ld->firstbad = 1;
	return ld->header && ld->bad == 0 && !ld->truncated ? 0 : -1;
}
