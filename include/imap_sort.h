/*
 * SORT and THREAD (RFC 5256, SORT=DISPLAY of RFC 5957): what they need
 * of each message, and the orders themselves.
 *
 *	imap_sort.c	sort keys (base subject, sent date, first address,
 *			display name, Message-ID and references), made from
 *			a header once and kept by the mailbox cache; the
 *			sort criteria and the sort
 *	imap_thread.c	THREAD=ORDEREDSUBJECT and THREAD=REFERENCES
 *
 * A message's keys are one blob (sort_keys_make()), text and NULs:
 *	"S1 <sent date> <flags> <nrefs>" NUL subject NUL from NUL to NUL
 *	cc NUL displayfrom NUL displayto NUL message-id NUL
 *	nrefs x (reference NUL)
 * where the string keys are i;unicode-casemap keys (unicase.h), the
 * sent date is the Date: field in seconds since the epoch (UTC), or the
 * INTERNALDATE when there is none that parses, and message-id and the
 * references are normalized msg-ids without their angle brackets.  A
 * blob of another version (not "S1 ") is stale: made again.
 */
#ifndef MAILD_IMAP_SORT_H
#define MAILD_IMAP_SORT_H

#include <stddef.h>
#include <stdint.h>

struct imap_arg;
struct mbuf;

#define SORT_KEY_MAX	256	/* bytes of one string key */
#define SORT_ID_MAX	250	/* bytes of a Message-ID kept */
#define SORT_REFS_MAX	2048	/* bytes of the references kept */
#define SORT_REFS_NMAX	32	/* references kept: the first, the last */
#define SORT_BLOB_MAX	(64 + 7 * (SORT_KEY_MAX + 1) + SORT_REFS_MAX + \
			    SORT_REFS_NMAX)
#define SORT_CRIT_MAX	16	/* criteria in one SORT */

/* sort_keys.flags */
#define SORT_F_REPLY	0x01	/* the subject marks a reply or forward */

/* A parsed blob; the strings point into it. */
struct sort_keys {
	int64_t		 date;
	int		 flags;
	const char	*subject;
	const char	*from, *to, *cc;
	const char	*dfrom, *dto;
	const char	*msgid;
	const char	*refs;		/* nrefs strings, NUL after each */
	size_t		 nrefs;
};

/*
 * The blob of a message from its header block hdr[0..hdrlen) and its
 * INTERNALDATE: malloc'd, *lenp its length (at most SORT_BLOB_MAX).
 */
char	*sort_keys_make(const char *, size_t, int64_t, size_t *);
/* Parse (and check) a blob of len bytes: 0, or -1 if it is not one. */
int	 sort_keys_parse(const char *, size_t, struct sort_keys *);

/* A blob and its keys parsed, as the mailbox cache keeps them. */
struct sort_blob {
	struct sort_keys	 k;	/* pointing into data */
	size_t			 len;
	char			 data[];
};

/* A copy of a blob of len bytes, parsed: malloc'd, NULL if not one. */
struct sort_blob *sort_blob_new(const char *, size_t);

/*
 * RFC 5256 2.1: the base subject of a Subject: field value (raw, RFC
 * 2047 words not decoded), UTF-8, into out (appended); *reply set when
 * extraction removed a subj-refwd, a "(fwd)" trailer or a [fwd: ...].
 */
void	 sort_base_subject(struct mbuf *, const char *, size_t, int *);
/*
 * RFC 5322 date-time (obsolete forms too) to seconds since the epoch:
 * 0, or -1 if it does not parse.
 */
int	 sort_parse_date(const char *, int64_t *);
/*
 * The next valid msg-id in *pp .. end (a raw field value, folding
 * allowed), normalized (quotes of the local part, comments and white
 * space removed, no angle brackets) into out (replaced); *pp moves past
 * it.  1 found, 0 none left.
 */
int	 sort_next_msgid(const char **, const char *, struct mbuf *);

enum sort_key {
	SORT_ARRIVAL,
	SORT_CC,
	SORT_DATE,
	SORT_FROM,
	SORT_SIZE,
	SORT_SUBJECT,
	SORT_TO,
	SORT_DISPLAYFROM,
	SORT_DISPLAYTO
};

struct sort_crit {
	enum sort_key	 key;
	int		 reverse;
};

/*
 * The sort-criteria list of SORT (a list argument): 0 and crit[0..*n),
 * or -1 (BAD) with *errstr.
 */
int	 sort_parse_criteria(const struct imap_arg *, struct sort_crit *,
	    size_t *, const char **);
/* 1 if a criterion needs the header keys (not ARRIVAL or SIZE only). */
int	 sort_needs_keys(const struct sort_crit *, size_t);

/* One message to order. */
struct sort_item {
	uint32_t	 seq;		/* the last tie-breaker */
	uint32_t	 uid;
	int64_t		 arrival;	/* INTERNALDATE */
	uint64_t	 size;
	struct sort_keys k;
};

/* <0, 0, >0: a before, with, after b by the criteria alone. */
int	 sort_item_cmp(const struct sort_item *, const struct sort_item *,
	    const struct sort_crit *, size_t);
/* Order items[0..n) by the criteria, then by sequence number. */
void	 sort_items(struct sort_item *, size_t, const struct sort_crit *,
	    size_t);

/*
 * THREAD responses (without "* THREAD"): the items, in sequence order,
 * threaded; the numbers written are UIDs if uid, else sequence numbers.
 */
void	 thread_orderedsubject(struct mbuf *, struct sort_item *, size_t,
	    int);
void	 thread_references(struct mbuf *, struct sort_item *, size_t, int);

#endif
