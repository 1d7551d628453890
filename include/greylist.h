/*
 * Greylisting (greylist.c): the keys of a triplet (client network,
 * sender, recipient) and of an auto-whitelisted pair (client network,
 * sender domain), the decision at RCPT TO, the table of what is known
 * and the lines of its state file.  No I/O and no process state:
 * queue_grey.c keeps one table, reads the file at start and appends to
 * it.
 *
 * A key is a BLAKE2b hash, keyed with the file's secret, of the
 * lowercased text: the table holds fixed-size entries whatever the
 * addresses, the file names no address, and nobody who lacks the
 * secret can aim hashes at one place of the tree.
 */
#ifndef MAILD_GREYLIST_H
#define MAILD_GREYLIST_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define GREY_KEYLEN	16	/* bytes of a key */
#define GREY_SECRETLEN	32	/* bytes of the hash key */
#define GREY_NET_MAX	64	/* "2001:db8:1:2::/64" and its NUL */
#define GREY_LINE_MAX	128	/* a line of the file, with its LF */
#define GREY_MAGIC	"maild-greylist 1"

/* The verdicts (IMSG_Q_GREYLIST_RES). */
#define GREY_DEFER	0	/* 451 4.7.1: unknown, or back too soon */
#define GREY_PASS	1	/* back after the delay: pair whitelisted */
#define GREY_WHITELISTED 2	/* the pair passed before */
#define GREY_OFF	3	/* greylisting is off (a reload crossed) */

/* A triplet, as greylist_triplet_state() finds it. */
#define GREY_T_NEW	0	/* unknown, or forgotten: first seen now */
#define GREY_T_EARLY	1	/* back before the delay */
#define GREY_T_RIPE	2	/* back after it */

/* A line of the file, and an entry of the table. */
#define GREY_REC_PENDING 'p'	/* triplet: first seen, last seen */
#define GREY_REC_PAIR	'w'	/* whitelisted pair: since, last used */
#define GREY_REC_DROP	'd'	/* triplet that passed: forgotten */

struct grey_rec {
	char		 kind;		/* GREY_REC_* */
	uint8_t		 key[GREY_KEYLEN];
	int64_t		 first;
	int64_t		 last;
};

struct grey_params {
	time_t		 delay;		/* greylist delay */
	time_t		 expire;	/* greylist expire */
	time_t		 wl_expire;	/* greylist whitelist-expire */
};

struct mailaddr;
struct sockaddr_storage;

/*
 * The client's network as text: "192.0.2.0/24", "2001:db8:1:2::/64"
 * (an IPv4-mapped IPv6 address is IPv4).  0, or -1 for another family.
 */
int	greylist_net(const struct sockaddr_storage *, char *, size_t);
/*
 * What a key hashes: the kind, the network and the lowercased
 * addresses (sender "" when null; the pair: the sender's domain), each
 * followed by a NUL.  Its length, or 0 when it does not fit or the
 * family is not IP.
 */
size_t	greylist_triplet_text(const struct sockaddr_storage *,
	    const struct mailaddr *, const struct mailaddr *, char *, size_t);
size_t	greylist_pair_text(const struct sockaddr_storage *,
	    const struct mailaddr *, char *, size_t);
/* The keys: 0, or -1 (greylist_*_text() found nothing). */
int	greylist_triplet_key(const uint8_t *, const struct sockaddr_storage *,
	    const struct mailaddr *, const struct mailaddr *, uint8_t *);
int	greylist_pair_key(const uint8_t *, const struct sockaddr_storage *,
	    const struct mailaddr *, uint8_t *);

/*
 * A triplet first and last seen then (known 0: never), at now:
 * GREY_T_*; for GREY_T_EARLY *secs is the wait left, for GREY_T_RIPE
 * how long it waited.  Expiry counts from the last attempt.
 */
int	greylist_triplet_state(int, int64_t, int64_t, time_t,
	    const struct grey_params *, time_t *);
/* Is a pair last used then still whitelisted at now? */
int	greylist_pair_alive(int64_t, time_t, const struct grey_params *);

/*
 * The table: at most max entries; a new one pushes out the pending
 * triplet seen longest ago, or when none is left, the pair used
 * longest ago.
 */
struct greylist;
struct greylist	*greylist_new(size_t);
void		 greylist_free(struct greylist *);
size_t		 greylist_count(const struct greylist *);
size_t		 greylist_evicted(const struct greylist *);
/*
 * A record read back from the file, in its order: 1 taken, 0 dropped
 * (expired by now, or a time in the future brought back to now).
 */
int	greylist_replay(struct greylist *, const struct grey_rec *, time_t,
	    const struct grey_params *);
/*
 * The decision at RCPT TO for a triplet key and its pair key: a
 * GREY_DEFER, GREY_PASS or GREY_WHITELISTED; the table updated, the
 * records to append to the file in recs (at most 2, *nrec of them),
 * *secs as greylist_triplet_state() says (0 when whitelisted).
 */
int	greylist_check(struct greylist *, const uint8_t *, const uint8_t *,
	    time_t, const struct grey_params *, struct grey_rec *, size_t *,
	    time_t *);
/* Forget what expired by now: how many entries went. */
size_t	greylist_prune(struct greylist *, time_t, const struct grey_params *);
/* Every entry as a record, pending triplets first, each oldest first. */
void	greylist_walk(const struct greylist *,
	    void (*)(const struct grey_rec *, void *), void *);

/*
 * The file: a header line "maild-greylist 1 <secret in hex>", then one
 * line per record, "<kind> <key in hex> <first> <last>", times in
 * seconds since the epoch.  *_format: the line with its LF, its length
 * (0 if len is too small).  *_parse: a line without its LF, 0 or -1.
 */
size_t	greylist_header_format(const uint8_t *, char *, size_t);
int	greylist_header_parse(const char *, size_t, uint8_t *);
size_t	greylist_rec_format(const struct grey_rec *, char *, size_t);
int	greylist_rec_parse(const char *, size_t, struct grey_rec *);

/* What greylist_file_parse() found. */
struct grey_load {
	int		 header;	/* 1: the header was good */
	size_t		 records;	/* good records */
	size_t		 bad;		/* lines refused */
	int		 truncated;	/* the last line had no LF */
	int		 firstbad;	/* line number of the first refused */
};

/*
 * A whole file read into buf: the secret from the header (nothing
 * else is read without it), then cb for each good record in order.
 * 0 when everything was good, -1 otherwise (see *ld).
 */
int	greylist_file_parse(const char *, size_t, uint8_t *,
	    void (*)(const struct grey_rec *, void *), void *,
	    struct grey_load *);

#endif
