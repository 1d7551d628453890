/*
 * Login throttling for the smtp and imap processes.  Logins are counted
 * per network (an IPv4 address, an IPv6 /64: one host has a whole /64)
 * and per account (the login name, whether it exists or not).  Each key
 * has a schedule: a burst of BURST checks is free (a mail client opens
 * several connections at once); beyond it, and after a failure, the
 * k-th check runs 1, 2, 4, 8, then 15 seconds after the one before.  A
 * check beyond the burst reserves its time when it is asked for, and
 * counts as a failure from then on, so parallel sessions queue one
 * behind the other instead of sharing one wait.  A login that would wait
 * longer than one full step is refused at once as a temporary failure,
 * unchecked: sessions piling up cannot push an account's schedule into
 * the next hour.  The check itself waits, not just
 * the answer to a failure: a success is learnt no sooner, and the lookup
 * process does no more password hashing than the schedule allows.
 *
 * An account's schedule slows a guesser spread over many addresses;
 * it does not apply to a network that logged in to that account before,
 * so the real user is slowed by their own typos only, never locked out.
 * The tables are fixed: when full the stalest entry goes, so a flood of
 * addresses or names costs no memory and at worst forgets an old one.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "address.h"
#include "proc.h"
#include "server.h"
#include "util.h"

#define THROTTLE_SLOTS	4096	/* networks and accounts */
#define TRUST_SLOTS	4096	/* (account, network) that logged in */
#define THROTTLE_FORGET	600000	/* quiet ms that clear a count */
#define TRUST_FORGET	(30 * 24 * 3600)
#define THROTTLE_MAX	15000	/* ms between checks, at most */
#define BURST		4	/* checks without a wait... */
#define BURST_WINDOW	10000	/* ...in this many ms, before failures */

enum tkind { TK_FREE, TK_NET, TK_USER };

struct tkey {
	uint8_t		 kind;		/* enum tkind */
	uint8_t		 b[16];		/* network prefix or name hash */
};

struct tslot {
	struct tkey	 key;
	int64_t		 seen;		/* last check or failure, ms */
	int64_t		 next;		/* when the next check may run, ms */
	int64_t		 window;	/* start of the burst window, ms */
	int		 used;		/* checks in the burst window */
	int		 count;		/* failures */
};

struct trust {
	uint8_t		 user[8];
	uint8_t		 net[16];
	time_t		 when;
};

/* A check waiting for its time; the password is wiped once sent. */
struct authwait {
	struct event	 ev;
	size_t		 len;
	uint8_t		 data[];
};

static void	 key_net(const struct sockaddr_storage *, struct tkey *);
static void	 key_user(const char *, struct tkey *);
static struct tslot *slot_find(const struct tkey *, int);
static int64_t	 step(int);
static int64_t	 slot_wait(struct tslot *, int64_t);
static int64_t	 reserve(struct tslot *, int64_t, int *);
static int	 trusted(const struct tkey *, const struct tkey *);
static void	 auth_wait_done(int, short, void *);

static struct tslot	 slots[THROTTLE_SLOTS];
static struct trust	 trusts[TRUST_SLOTS];
static unsigned char	 hkey[crypto_shorthash_KEYBYTES];
static int		 hkey_set;

static void
key_net(const struct sockaddr_storage *ss, struct tkey *k)
{
	memset(k, 0, sizeof(*k));
	k->kind = TK_NET;
	if (ss->ss_family == AF_INET6)
		memcpy(k->b, &((const struct sockaddr_in6 *)ss)->sin6_addr, 8);
	else if (ss->ss_family == AF_INET)
		memcpy(k->b + 8, &((const struct sockaddr_in *)ss)->sin_addr,
		    4);
}

/* A keyed hash of the lowercased name: no name is kept in memory. */
static void
key_user(const char *user, struct tkey *k)
{
	char	 low[ADDR_MAX + 1];

	if (!hkey_set) {
		if (sodium_init() < 0)
			fatalx("sodium_init");
		crypto_shorthash_keygen(hkey);
		hkey_set = 1;
	}
	(void)strlcpy(low, user, sizeof(low));
	str_lower(low);
	memset(k, 0, sizeof(*k));
	k->kind = TK_USER;
	crypto_shorthash(k->b, (const unsigned char *)low, strlen(low), hkey);
}

static struct tslot *
slot_find(const struct tkey *k, int create)
{
	struct tslot	*s, *victim = NULL;
	int64_t		 now = mono_ms();
	size_t		 i;

	for (i = 0; i < THROTTLE_SLOTS; i++) {
		s = &slots[i];
		if (s->key.kind != TK_FREE && s->next <= now &&
		    now - s->seen > (s->count ? THROTTLE_FORGET :
		    BURST_WINDOW))
			s->key.kind = TK_FREE;
		if (s->key.kind != TK_FREE &&
		    memcmp(&s->key, k, sizeof(*k)) == 0)
			return s;
		if (victim == NULL || (victim->key.kind != TK_FREE &&
		    (s->key.kind == TK_FREE || s->seen < victim->seen)))
			victim = s;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	victim->key = *k;
	victim->seen = victim->window = now;
	return victim;
}

/* The wait between checks after n failures. */
static int64_t
step(int n)
{
	return n < 1 ? 1000 : n <= 4 ? 1000 << (n - 1) : THROTTLE_MAX;
}

/* Milliseconds from now until a check may run; -1: free, now. */
static int64_t
slot_wait(struct tslot *s, int64_t now)
{
	if (s->count == 0 && s->next <= now) {
		if (now - s->window >= BURST_WINDOW) {
			s->window = now;
			s->used = 0;
		}
		if (s->used < BURST)
			return -1;
	}
	return s->next > now ? s->next - now : 0;
}

/*
 * Milliseconds from now until the check may run, taking that time from
 * s: the next check after it comes one step of the schedule later.
 * *counted: the check is counted as a failure already.
 */
static int64_t
reserve(struct tslot *s, int64_t now, int *counted)
{
	int64_t	 at;

	s->seen = now;
	*counted = 0;
	if (slot_wait(s, now) == -1) {
		s->used++;
		return 0;
	}
	at = s->next > now ? s->next : now;
	s->count++;
	*counted = 1;
	s->next = at + step(s->count);
	return at - now;
}

static int
trusted(const struct tkey *user, const struct tkey *net)
{
	time_t	 now = time(NULL);
	size_t	 i;

	for (i = 0; i < TRUST_SLOTS; i++)
		if (trusts[i].when != 0 && now - trusts[i].when <
		    TRUST_FORGET && memcmp(trusts[i].user, user->b, 8) == 0 &&
		    memcmp(trusts[i].net, net->b, 16) == 0)
			return 1;
	return 0;
}

int
srv_auth_send(const struct sockaddr_storage *ss, const char *user,
    const struct ipc_buf *b)
{
	struct authwait	*w;
	struct tslot	*sn, *su = NULL;
	struct tkey	 kn, ku;
	struct timeval	 tv;
	int64_t		 now = mono_ms(), dn, du = 0;
	int		 cn, cu = 0;

	key_net(ss, &kn);
	key_user(user, &ku);
	sn = slot_find(&kn, 1);
	if (!trusted(&ku, &kn))
		su = slot_find(&ku, 1);
	if (slot_wait(sn, now) > THROTTLE_MAX ||
	    (su != NULL && slot_wait(su, now) > THROTTLE_MAX))
		return AUTH_THROTTLED;
	dn = reserve(sn, now, &cn);
	if (su != NULL)
		du = reserve(su, now, &cu);
	if (dn < du)
		dn = du;
	if (dn == 0)
		proc_send_buf(PROC_LOOKUP, IMSG_L_AUTH, -1, b);
	else {
		proc_check(PROC_LOOKUP, IMSG_L_AUTH, -1, b);
		if ((w = malloc(sizeof(*w) + b->len)) == NULL)
			fatal("malloc");
		w->len = b->len;
		memcpy(w->data, b->data, b->len);
		tv.tv_sec = dn / 1000;
		tv.tv_usec = (dn % 1000) * 1000;
		evtimer_set(&w->ev, auth_wait_done, w);
		evtimer_add(&w->ev, &tv);
	}
	return (cn ? AUTH_COUNTED_NET : 0) | (cu ? AUTH_COUNTED_USER : 0);
}

/*
 * The session may be gone by now: lookup's answer is then dropped, and
 * the check cost no more than the schedule allows.
 */
static void
auth_wait_done(int fd, short ev, void *arg)
{
	struct authwait	*w = arg;

	(void)fd;
	(void)ev;
	proc_send_raw(PROC_LOOKUP, IMSG_L_AUTH, -1, w->data, w->len);
	sodium_memzero(w->data, w->len);
	free(w);
}

void
srv_auth_failed(const struct sockaddr_storage *ss, const char *user,
    int counted)
{
	struct tslot	*s;
	struct tkey	 k[2];
	int64_t		 now = mono_ms();
	size_t		 i;

	key_net(ss, &k[0]);
	key_user(user, &k[1]);
	for (i = 0; i < nitems(k); i++) {
		s = slot_find(&k[i], 1);
		s->seen = now;
		if (counted & (i == 0 ? AUTH_COUNTED_NET : AUTH_COUNTED_USER))
			continue;	/* counted when it was asked for */
		s->count++;
		if (s->next < now + step(s->count))
			s->next = now + step(s->count);
	}
}

void
srv_auth_ok(const struct sockaddr_storage *ss, const char *user)
{
	struct trust	*t, *victim = NULL;
	struct tslot	*s;
	struct tkey	 kn, ku;
	size_t		 i;

	key_net(ss, &kn);
	key_user(user, &ku);
	if ((s = slot_find(&kn, 0)) != NULL) {
		s->count = 0;
		s->next = 0;
	}
	/* the account's count stays: a guesser elsewhere is not reset */
	for (i = 0; i < TRUST_SLOTS; i++) {
		t = &trusts[i];
		if (memcmp(t->user, ku.b, 8) == 0 &&
		    memcmp(t->net, kn.b, 16) == 0) {
			victim = t;
			break;
		}
		if (victim == NULL || t->when < victim->when)
			victim = t;
	}
	memcpy(victim->user, ku.b, 8);
	memcpy(victim->net, kn.b, 16);
	victim->when = time(NULL);
}
