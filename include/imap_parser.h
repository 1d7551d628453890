/*
 * IMAP command parser (RFC 3501, RFC 9051, LITERAL+ RFC 7888, literal8
 * RFC 3516): turns the lines and literal bytes of one client command
 * into a tag, an upper-cased command name and an argument tree.  It
 * knows the syntax only; what a command means is the session's job.
 *
 * Use:
 *	p = imap_parser_new(&limits);		(NULL: defaults)
 *	for each line from io_getline():	(a partial line is the
 *						 caller's "line too long")
 *		r = imap_parser_line(p, line, len);
 *		IMAP_PARSE_LITERAL: imap_parser_literal_size(p, &sync) bytes
 *		    follow; if sync, send "+ Ready"; feed the raw bytes with
 *		    imap_parser_literal() until imap_parser_literal_left()
 *		    is 0, then feed the next line (the rest of the command).
 *		IMAP_PARSE_DONE: imap_parser_command(p) is valid until the
 *		    next call; the next line starts a new command.
 *		IMAP_PARSE_ERROR: answer "<tag> BAD <reason>" with
 *		    imap_parser_tag() (NULL: "* BAD") and
 *		    imap_parser_error().  IMAP_ERR_TOOBIG means a literal
 *		    or the command was over a limit: for a literal the
 *		    announcement was the last thing read, so nothing of it
 *		    was accepted; if it was non-synchronizing ({n+}) the
 *		    client sends the bytes anyway, so skip
 *		    imap_parser_literal_size() bytes or disconnect.
 *		    IMAP_ERR_MANY: over limits.args_max (for APPEND:
 *		    too many messages).  The next line starts a new
 *		    command.
 *
 * A line is given without its LF; a trailing CR is removed (bare LF is
 * accepted).  Literal data is kept in memory, so the caller's limits
 * bound the memory a command can use, except the messages of APPEND
 * and REPLACE once a spill is set (imap_parser_set_spill()).  A
 * non-literal8 literal holding a NUL is refused when the line after it
 * is fed.
 */
#ifndef MAILD_IMAP_PARSER_H
#define MAILD_IMAP_PARSER_H

#include <stddef.h>
#include <stdint.h>

#define IMAP_TAG_MAX	64	/* longest tag accepted */
#define IMAP_NAME_MAX	31	/* longest command name */
#define IMAP_DEPTH_MAX	64	/* hard ceiling for limits.depth_max */

struct imap_limits {
	size_t		line_max;	/* command text, literals excluded */
	size_t		lit_max;	/* one literal, commands but APPEND */
	size_t		append_max;	/* one literal in APPEND */
	size_t		lit_total;	/* all literals of one command */
	size_t		args_max;	/* arguments, lists included */
	size_t		depth_max;	/* list nesting */
};

enum imap_arg_type {
	IMAP_ARG_ATOM,
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,
	IMAP_ARG_NIL,
	IMAP_ARG_LIST
};

/*
 * One argument.  str is NUL-terminated (lists: NULL); len is the
 * length (a literal8 may contain NULs).  Quoted strings are unescaped.
 * NIL keeps its text as sent.  An atom may carry a section: for
 * "BODY.PEEK[HEADER.FIELDS (A B)]<0.100>" str is the whole text,
 * namelen 9 ("BODY.PEEK"), section "HEADER.FIELDS (A B)]<0.100>" with
 * seclen 19 (not NUL-terminated there), and IMAP_ARGF_PARTIAL with
 * partial_off 0, partial_len 100.  Siblings are chained by next; a
 * list has its nlist children from list.  A spilled literal has str ""
 * and len its size: its bytes are at spill_off in what the spill got.
 */
struct imap_arg {
	enum imap_arg_type	 type;
	int			 flags;
#define IMAP_ARGF_LITERAL8	0x01	/* ~{n} */
#define IMAP_ARGF_SECTION	0x02	/* atom with [section] */
#define IMAP_ARGF_PARTIAL	0x04	/* atom with <off.len> */
#define IMAP_ARGF_SPILLED	0x08	/* literal given to the spill */
	const char		*str;
	size_t			 len;
	size_t			 namelen;
	const char		*section;
	size_t			 seclen;
	uint32_t		 partial_off;
	uint32_t		 partial_len;
	uint64_t		 spill_off;	/* IMAP_ARGF_SPILLED */
	struct imap_arg		*list;
	size_t			 nlist;
	struct imap_arg		*next;
};

struct imap_command {
	const char	*tag;
	const char	*name;		/* upper case, without "UID" */
	int		 uid;		/* "UID FETCH" etc. */
	struct imap_arg	*args;		/* first argument or NULL */
	size_t		 nargs;		/* top-level arguments */
};

enum imap_parse_result {
	IMAP_PARSE_ERROR = -1,
	IMAP_PARSE_DONE = 0,
	IMAP_PARSE_LITERAL = 1
};

enum imap_parse_error {
	IMAP_ERR_NONE,
	IMAP_ERR_SYNTAX,	/* BAD */
	IMAP_ERR_TOOBIG,	/* BAD, or NO [TOOBIG] for APPEND */
	IMAP_ERR_MANY		/* too many arguments: BAD, NO [LIMIT] */
};

struct imap_parser;

struct imap_parser	*imap_parser_new(const struct imap_limits *);
void			 imap_parser_free(struct imap_parser *);
/* Limits for the next command (e.g. after APPENDLIMIT changes). */
void			 imap_parser_set_limits(struct imap_parser *,
			    const struct imap_limits *);
/*
 * The messages of APPEND and REPLACE (every literal but the leading
 * arguments: APPEND's mailbox, REPLACE's number and mailbox) go to fn
 * as they arrive instead of memory, at most max bytes a command (each
 * literal also under limits.append_max): multiple messages need not
 * fit in memory together.  The arguments get IMAP_ARGF_SPILLED.  fn
 * NULL: kept in memory.
 */
typedef void	imap_spill_fn(void *, const void *, size_t);
void			 imap_parser_set_spill(struct imap_parser *,
			    imap_spill_fn *, void *, uint64_t);
/* Forget the command in progress; the next line starts a new one. */
void			 imap_parser_reset(struct imap_parser *);
int			 imap_parser_line(struct imap_parser *, const char *,
			    size_t);
/* Raw literal bytes: how many of len were used (never more than left). */
size_t			 imap_parser_literal(struct imap_parser *,
			    const void *, size_t);
size_t			 imap_parser_literal_left(const struct imap_parser *);
/* Size and sync flag of the last literal announced (even refused). */
uint64_t		 imap_parser_literal_size(const struct imap_parser *,
			    int *);
const struct imap_command *imap_parser_command(const struct imap_parser *);
/*
 * While a command is read (after IMAP_PARSE_LITERAL): top-level
 * argument n (0 first) if it is complete and a string (atom, quoted or
 * a literal kept in memory), NUL-terminated, valid until the next
 * call; else NULL.  For checks before a large literal is accepted.
 */
const char		*imap_parser_early_arg(const struct imap_parser *,
			    size_t, size_t *);
/* Tag of the current command, NULL if none could be read. */
const char		*imap_parser_tag(const struct imap_parser *);
/* Name ("FETCH") once read, else NULL; uid set for UID commands. */
const char		*imap_parser_name(const struct imap_parser *, int *);
const char		*imap_parser_error(const struct imap_parser *,
			    enum imap_parse_error *);

/*
 * A line (without its LF) that ends with a literal announcement:
 * 1 and its size and sync flag ("{n}" 1, "{n+}" 0, also "~{...}"),
 * else 0.  For skipping what a refused command still sends.
 */
int			 imap_literal_trailer(const char *, size_t,
			    uint64_t *, int *);

/* Tag syntax: 1*<ASTRING-CHAR except "+">, at most IMAP_TAG_MAX. */

/*
 * astring (atom without wildcards or flags, quoted, literal, or NIL as
 * the word "NIL"): 0 and the string, or -1 (also for a spilled
 * literal).  The mailbox variant also refuses control characters and,
 * unless wildcards is set (LIST patterns), '%' and '*'.  INBOX case
 * folding is the caller's.
 */
int			 imap_arg_astring(const struct imap_arg *,
			    const char **, size_t *);
int			 imap_arg_mailbox(const struct imap_arg *, int,
			    const char **);

/* Sequence sets (RFC 3501 sequence-set, RFC 5182 "$"). */
struct imap_seqrange {
	uint32_t	lo, hi;
};

struct imap_seqset {
	struct imap_seqrange	*r;	/* sorted, merged, disjoint */
	size_t			 n;
	int			 searchres;	/* "$": r is empty */
};

/*
 * Parse s with "*" standing for star (the highest number in use).  With
 * star 0 (empty mailbox) ranges are clipped to start at 1 and dropped if
 * empty.  0 on success (free with imap_seqset_free), -1 with *errstr.
 */
int			 imap_seqset_parse(const char *, uint32_t,
			    struct imap_seqset *, const char **);
void			 imap_seqset_free(struct imap_seqset *);
int			 imap_seqset_contains(const struct imap_seqset *,
			    uint32_t);

/*
 * Write s (len bytes; NULL for NIL) as a quoted string when it can be
 * one, else as a literal "{n}\r\n<bytes>".  8-bit bytes stay quoted
 * with IMAP_ENC_UTF8 (UTF8=ACCEPT).  Returns the length of the whole
 * encoding, like snprintf: dst is truncated (and NUL-terminated) when
 * that is not less than dstsz.
 */
#define IMAP_ENC_UTF8	0x01
size_t			 imap_encode_string(char *, size_t, const char *,
			    size_t, int);

#endif
