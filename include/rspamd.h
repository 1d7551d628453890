/*
 * The protocol half of maild's rspamd client: pure functions, no I/O and
 * no event loop.  rspamd (3.x) speaks HTTP/1.1: POST /checkv2 to its
 * normal worker with the message as the body and the SMTP transaction
 * in request header fields; POST /learnspam or /learnham to its
 * controller; JSON answers.  The caller writes rspamd_request()'s head
 * and then the message, feeds what comes back to rspamd_http_feed(),
 * and reads the body with rspamd_parse_check() or rspamd_parse_learn().
 *
 * rspamd is trusted no more than a network peer: every value we send is
 * checked, every answer bounded (RSPAMD_HEAD_MAX, RSPAMD_BODY_MAX, the
 * counts below) and what goes into a message or an SMTP reply is made
 * safe first.  Anything malformed is an error with a reason.
 */
#ifndef MAILD_RSPAMD_H
#define MAILD_RSPAMD_H

#include <stddef.h>

#define RSPAMD_VALUE_MAX	1024		/* one request header value */
#define RSPAMD_LINE_MAX		4096		/* one answer header line */
#define RSPAMD_HEAD_MAX		(16 * 1024)	/* the answer's head */
#define RSPAMD_BODY_MAX		(1024 * 1024)	/* the answer's body */
#define RSPAMD_REASON_MAX	256		/* reason phrase kept */
#define RSPAMD_SYMBOLS_MAX	64		/* symbols kept */
#define RSPAMD_SYMBOL_LEN	64		/* name kept, with its NUL */
#define RSPAMD_HEADERS_MAX	32		/* fields to add, to remove */
#define RSPAMD_DKIM_MAX		8		/* DKIM-Signature fields */
#define RSPAMD_NAME_MAX		76		/* a field name */
#define RSPAMD_FIELD_MAX	(16 * 1024)	/* a field value */
#define RSPAMD_SMTP_MAX		200		/* smtp_message, without NUL */
#define RSPAMD_ORDER_MAX	1000		/* |order| or |index| */

/*
 * A request's head.  Values NULL or "" are left out (but from); every
 * value given must be at most RSPAMD_VALUE_MAX bytes without control
 * characters (CR, LF, NUL, DEL...); bytes >= 0x80 (UTF-8 addresses)
 * pass.
 */
struct rspamd_req {
	const char	 *path;		/* "/checkv2", "/learnspam"... */
	const char	 *host;		/* Host: (NULL: "localhost") */
	size_t		  content_length;	/* the message that follows */
	const char	 *ip;		/* client address (IP:) */
	const char	 *helo;		/* Helo: */
	/*
	 * Hostname: the client's (forward-confirmed) rDNS name; "unknown"
	 * is left out too, as rspamd's milter does.
	 */
	const char	 *hostname;
	/*
	 * From: the MAIL FROM address without <>, sent as "<address>";
	 * "" is the null sender, sent as "<>".
	 */
	const char	 *from;
	const char *const *rcpts;	/* Rcpt: one field each, "<address>" */
	size_t		  nrcpts;
	const char	 *queue_id;	/* Queue-Id: */
	const char	 *user;		/* User: only when authenticated */
	const char	 *tls_version;	/* TLS-Version: when TLS */
	const char	 *tls_cipher;	/* TLS-Cipher: when TLS */
	const char	 *password;	/* Password: controller's */
	const char	 *mta_name;	/* MTA-Name: our host name */
};

/*
 * Write the head of req into buf: "POST <path> HTTP/1.1", Host,
 * Content-Length, Connection: close, the fields above, the empty line.
 * Its length, or -1 when a value is refused or buf is too small (it
 * needs a byte for the NUL written after the head).
 */
int	 rspamd_request(char *buf, size_t len, const struct rspamd_req *req);

/*
 * An answer read as it arrives.  Status line and header fields: CRLF
 * only, no obsolete folding, at most RSPAMD_LINE_MAX bytes a line and
 * RSPAMD_HEAD_MAX in all; HTTP/1.0 or 1.1, status 200-599 (an interim
 * 1xx is refused); the body framed by Transfer-Encoding: chunked (no
 * other coding), else by Content-Length (one value; never both), else
 * by the end of the connection (rspamd_http_eof()).  A body is read
 * even for 204, which rspamd sends with one.  Content-Encoding other
 * than identity is refused (we never ask for compression).  The body
 * is at most RSPAMD_BODY_MAX bytes.  Bytes after the end of the answer
 * are an error.
 */
#define RSPAMD_HTTP_ERROR	-1
#define RSPAMD_HTTP_MORE	0
#define RSPAMD_HTTP_DONE	1

struct rspamd_http {
	int		 status;	/* 200..599 once the head is in */
	/* reason phrase, printable ASCII ('?' for others); rspamd's error */
	char		 reason[RSPAMD_REASON_MAX];
	char		*body;		/* DONE: NUL-terminated, or NULL */
	size_t		 bodylen;
	const char	*error;		/* ERROR: why (a static string) */

	/* the reader's own */
	int		 state;
	int		 chunked;
	long long	 clen;		/* Content-Length, -1 none */
	size_t		 left;		/* of a chunk or the Content-Length */
	size_t		 headlen;
	size_t		 framelen;	/* chunk sizes and their CRLFs */
	size_t		 bodycap;
	size_t		 linelen;
	char		 line[RSPAMD_LINE_MAX];
};

void	 rspamd_http_init(struct rspamd_http *);
/* Feed the next bytes: RSPAMD_HTTP_MORE, _DONE or _ERROR (then h->error). */
int	 rspamd_http_feed(struct rspamd_http *, const char *, size_t);
/* The connection ended: _DONE when the answer is complete, else _ERROR. */
int	 rspamd_http_eof(struct rspamd_http *);
/* Free the body; the reader may be initialised again. */
void	 rspamd_http_free(struct rspamd_http *);

enum rspamd_action {
	RSPAMD_NO_ACTION,
	RSPAMD_GREYLIST,
	RSPAMD_ADD_HEADER,
	RSPAMD_REWRITE_SUBJECT,
	RSPAMD_SOFT_REJECT,
	RSPAMD_REJECT,
	/* rspamd's milter-only actions, should one be configured */
	RSPAMD_DISCARD,
	RSPAMD_QUARANTINE
};

struct rspamd_symbol {
	char		 name[RSPAMD_SYMBOL_LEN];	/* printable ASCII */
	double		 score;
};

/*
 * A header field rspamd wants added (milter.add_headers): name and value
 * as the field is to be written, "Name: value\r\n".  Where it goes,
 * with rspamd_field_pos().
 */
struct rspamd_field {
	const char	*name;
	const char	*value;
	int		 order;		/* -1 when rspamd gave none */
};

/*
 * A header field rspamd wants removed (milter.remove_headers): index 0
 * all fields of that name, n > 0 the nth from the top (1 the first),
 * n < 0 the -nth from the bottom (-1 the last); none when there are
 * fewer.  Names compare case-insensitively.
 */
struct rspamd_removal {
	const char	*name;
	int		 index;
};

struct rspamd_result {
	enum rspamd_action	 action;
	double			 score;
	double			 required_score;
	int			 is_skipped;
	const char		*subject;	/* Subject: value, or NULL */
	/*
	 * messages.smtp_message for the SMTP reply: printable ASCII, at
	 * most RSPAMD_SMTP_MAX bytes, or NULL.
	 */
	const char		*smtp_message;
	const char		*message_id;	/* printable ASCII, or NULL */
	/*
	 * The symbols, by |score| descending then name; nsymbols_total
	 * counts those rspamd listed, kept or not.
	 */
	struct rspamd_symbol	 symbols[RSPAMD_SYMBOLS_MAX];
	size_t			 nsymbols;
	size_t			 nsymbols_total;
	/*
	 * The milter block, to apply as rspamd's milter does: removals
	 * first, then additions in order, then each dkim value as a
	 * DKIM-Signature field at the top (just after our Received:).
	 * no_action: rspamd asks that its action not be applied (only
	 * recorded).  change_from, add_rcpt, del_rcpt, reject and
	 * spam_header are not read.  Entries of a type rspamd's milter
	 * ignores are ignored; names or values that cannot be written
	 * safely are errors.
	 */
	struct rspamd_removal	 remove[RSPAMD_HEADERS_MAX];
	size_t			 nremove;
	struct rspamd_field	 add[RSPAMD_HEADERS_MAX];
	size_t			 nadd;
	const char		*dkim[RSPAMD_DKIM_MAX];	/* dkim-signature */
	size_t			 ndkim;
	int			 no_action;

	char			*arena;		/* the strings above */
};

/*
 * Read a /checkv2 answer body.  0, or -1 with the reason in err (and
 * nothing to free): not JSON, not an object, rspamd's {"error": ...},
 * no or an unknown action, a missing score, a count over its bound, a
 * field name not an RFC 5322 field name (or longer than
 * RSPAMD_NAME_MAX), a field value (subject, add_headers, dkim) longer
 * than RSPAMD_FIELD_MAX or with a control character other than HTAB,
 * a CR or LF not in a fold (CRLF or LF followed by SP or HTAB: folds
 * are written CRLF), a line over 998 bytes.
 */
int	 rspamd_parse_check(const char *body, size_t len,
	    struct rspamd_result *res, char *err, size_t errlen);
void	 rspamd_result_free(struct rspamd_result *);

/*
 * Where an added field goes among the nfields fields of the header as
 * maild holds it (its own Received: first): the index of the field it
 * is inserted before, nfields to append.  As rspamd's milter counts
 * (milter.c): no order or -1 appends; order >= 0 inserts at that
 * position (0 the very top, 1 after our Received:); order < -1 counts
 * from the bottom, -2 before the last field, clamped at the top.
 */
size_t	 rspamd_field_pos(const struct rspamd_field *, size_t nfields);

/*
 * "NAME(score),NAME(score),..." (scores as %.2f) of the symbols kept,
 * in their order, into buf; whole entries only, ",..." when some did
 * not fit (or were not kept).  The length written; buf is always
 * NUL-terminated when size > 0.
 */
size_t	 rspamd_symbols_str(const struct rspamd_result *, char *buf,
	    size_t size);

/*
 * Read a /learnspam or /learnham answer (its status and body): 0
 * learned; 1 already learned (rspamd 3.x: 208, or 404 with "has been
 * already learned"); -1 refused for good, rspamd's error text in err
 * (400, 404, 204 "too few tokens"...); -2 try again later (5xx, 401
 * and 403 until the password is fixed, 408, 429, a 2xx body that is not
 * {"success":true}, anything else).
 */
int	 rspamd_parse_learn(int status, const char *body, size_t len,
	    char *err, size_t errlen);

#endif
