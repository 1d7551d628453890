/*
 * The result of an IMAP search context (RFC 5267): the UIDs a searching
 * command with RETURN (UPDATE) answered, kept in context order as the
 * mailbox changes, and the ADDTO / REMOVEFROM text that tells the client
 * each change.  Pure bookkeeping: what matches is the caller's business
 * (search.c), and so is the numbering the client sees (UIDs or sequence
 * numbers, given as a callback).
 *
 * Context order is mailbox (UID) order for SEARCH, and needs no
 * comparator.  A SORT context (CONTEXT=SORT) gives one: a total order of
 * two UIDs by its sort keys, ties broken by UID (RFC 5256); the result
 * then carries context positions (RFC 5267 4.3.3, 4.3.4).
 *
 * Use:
 *	imapctx_res_init(&r, cmp, arg);		(cmp NULL: a SEARCH)
 *	imapctx_res_set(&r, uids, n);		(the answer, context order)
 *	... on a change:
 *	imapctx_res_change(&r, gone, ngone, added, nadded, num, arg, &b);
 *	    then "* ESEARCH (TAG "t") [UID]" b CRLF if b.len > 0
 *	imapctx_res_free(&r);
 */
#ifndef MAILD_IMAP_CONTEXT_H
#define MAILD_IMAP_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

struct mbuf;

/* Two UIDs in context order: < 0, 0 (same UID only), > 0. */
typedef int	(*imapctx_cmp_fn)(uint32_t, uint32_t, void *);
/* What the client calls a UID: itself (NULL callback), or its number. */
typedef uint32_t (*imapctx_num_fn)(uint32_t, void *);

struct imapctx_res {
	uint32_t	*v;		/* UIDs in context order */
	size_t		 n, cap;
	imapctx_cmp_fn	 cmp;		/* NULL: UID order, no positions */
	void		*arg;
};

void	imapctx_res_init(struct imapctx_res *, imapctx_cmp_fn, void *);
void	imapctx_res_free(struct imapctx_res *);
/* The searching command's answer, already in context order. */
void	imapctx_res_set(struct imapctx_res *, const uint32_t *, size_t);
/* Position (0-based) of a UID in the result, or -1. */
long	imapctx_res_find(const struct imapctx_res *, uint32_t);
/*
 * Apply a change: UIDs leaving the result (present in it) and UIDs
 * entering it (absent from it), each list in any order; the lists are
 * sorted in place.  Appends " REMOVEFROM (...)" (numbered before the
 * removal) then " ADDTO (...)" (numbered after) to out, nothing for an
 * empty list.  Positions are 0 without a comparator; with one, removals
 * come as runs of consecutive positions from the last, additions as
 * runs in ascending final position, so that the client applying the
 * pairs in order (RFC 5267 4.3.2) gets the same list.
 */
void	imapctx_res_change(struct imapctx_res *, uint32_t *, size_t,
	    uint32_t *, size_t, imapctx_num_fn, void *, struct mbuf *);

/*
 * PARTIAL range "lo:hi" (RFC 5267 4.4): two numbers 1 .. 2^32-1, in
 * either order ("500:400" is "400:500"); no "*".  0, or -1.
 */
int	imapctx_partial_parse(const char *, uint32_t *, uint32_t *);
/* " PARTIAL (lo:hi set)" for results lo .. hi (1-based) of v, or NIL. */
void	imapctx_partial_text(struct mbuf *, const uint32_t *, size_t,
	    uint32_t, uint32_t);
/* A list of numbers in its own order; ascending runs become ranges. */
void	imapctx_set_text(struct mbuf *, const uint32_t *, size_t);

#endif
