/*
 * IMAP SEARCH (RFC 3501 6.4.4, MODSEQ from RFC 7162, EMAILID and
 * THREADID from RFC 8474, SAVEDBEFORE SAVEDON SAVEDSINCE and
 * SAVEDATESUPPORTED from RFC 8514): compiles the
 * arguments after "SEARCH" into a program and evaluates it against one
 * message at a time, described by a struct search_msg the caller fills.
 *
 * Use:
 *	r = search_compile(cmd->args, exists, maxuid, &prog, &err);
 *	    SEARCH_ERR_SYNTAX:  "<tag> BAD <err>"
 *	    SEARCH_ERR_CHARSET: "<tag> NO [BADCHARSET (UTF-8 US-ASCII)]
 *		<err>"
 *	need = search_needs(prog);	(read files if SEARCH_NEED_CONTENT)
 *	for each message: if (search_match(prog, &m)) report it;
 *	search_free(prog);
 *
 * Sequence sets and UID sets are resolved at compile time, so "*" is
 * the exists count / highest UID given to search_compile().  "$"
 * (SEARCHRES) is refused.
 */
#ifndef MAILD_SEARCH_H
#define MAILD_SEARCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct imap_arg;
struct mime_msg;

#define SEARCH_MAX_DEPTH	32	/* nesting of NOT/OR/lists */
#define SEARCH_MAX_NODES	1000	/* search keys in one program */
#define SEARCH_MAX_STRING	1024	/* bytes of one search string */

/* System flags in search_msg.flags. */
#define SEARCH_FL_SEEN		0x01
#define SEARCH_FL_ANSWERED	0x02
#define SEARCH_FL_FLAGGED	0x04
#define SEARCH_FL_DELETED	0x08
#define SEARCH_FL_DRAFT		0x10
#define SEARCH_FL_RECENT	0x20

/*
 * One message.  data/len and mime may be NULL/0 when search_needs()
 * said no content is needed; with data but no mime the message is
 * parsed on demand (slower: pass mime when several keys use it).
 * internal_tzoff is the zone (seconds east of UTC) in which dates of
 * internal_date are compared by BEFORE/ON/SINCE; save_tzoff the same for
 * save_date (0: the message has none; SAVED* keys then compare the
 * internal date, RFC 8514 4.3, and SAVEDATESUPPORTED does not match).
 * emailid is only needed when search_needs() says SEARCH_NEED_EMAILID.
 */
struct search_msg {
	uint32_t		  seq;
	uint32_t		  uid;
	uint64_t		  modseq;
	int			  flags;		/* SEARCH_FL_* */
	const char * const	 *keywords;
	size_t			  nkeywords;
	time_t			  internal_date;
	long			  internal_tzoff;
	uint64_t		  size;			/* RFC822.SIZE */
	time_t			  save_date;
	long			  save_tzoff;
	const char		 *emailid;
	const char		 *data;
	size_t			  len;
	const struct mime_msg	 *mime;
};

enum search_result {
	SEARCH_OK = 0,
	SEARCH_ERR_SYNTAX = -1,		/* BAD */
	SEARCH_ERR_CHARSET = -2		/* NO [BADCHARSET ...] */
};

/* What evaluation needs besides flags, numbers, dates and size. */
#define SEARCH_NEED_HEADER	0x01	/* header fields, SENT* */
#define SEARCH_NEED_BODY	0x02	/* BODY, TEXT */
#define SEARCH_NEED_CONTENT	(SEARCH_NEED_HEADER | SEARCH_NEED_BODY)
#define SEARCH_NEED_MODSEQ	0x04	/* reply adds (MODSEQ n) */
#define SEARCH_NEED_EMAILID	0x08	/* EMAILID key */

struct search_prog;

/*
 * args: the first argument after "SEARCH" (siblings via next).  exists
 * and maxuid stand for "*" in sequence and UID sets.  Returns SEARCH_OK
 * and *progp, or an error with a reason in *errstr.
 */
int	search_compile(const struct imap_arg *, uint32_t, uint32_t,
	    struct search_prog **, const char **);
void	search_free(struct search_prog *);
int	search_needs(const struct search_prog *);
/* 1 if the message matches, 0 if not. */
int	search_match(const struct search_prog *, const struct search_msg *);
/*
 * For a search context (RFC 5267) kept after the command: sequence sets
 * become the UIDs they named then (uids: the UIDs of sequence numbers
 * 1 .. n); and whether a flag, keyword or MODSEQ change can change the
 * result (if not, only new messages need a look).
 */
void	search_seq2uid(struct search_prog *, const uint32_t *, size_t);
int	search_volatile(const struct search_prog *);

/*
 * Helpers, exported for tests and other users: RFC 3501 date
 * ("1-Jan-2024") to days since 1970-01-01 (0 or -1), and RFC 2047
 * decoding of a header value to a malloc'd UTF-8 string.
 */
int	search_parse_date(const char *, long *);
char	*search_decode_words(const char *, size_t);

#endif
