/*
 * Two pieces of the SMTP client without process state, so that they
 * can be tested alone: the parser of server replies (RFC 5321 4.2,
 * multi-line replies "250-..." ended by "250 ...") and the dot-stuffing
 * of the message sent after DATA (RFC 5321 4.5.2), which also turns
 * every bare CR and bare LF into CRLF.
 */
#ifndef MAILD_SMTP_REPLY_H
#define MAILD_SMTP_REPLY_H

#include <stddef.h>

#include "maild.h"

#define SMTP_REPLY_LINES	100	/* lines of one reply */
#define SMTP_REPLY_LINE_MAX	SMTP_LINE_MAX	/* bytes, without CRLF */

struct smtp_reply {
	int	 code;			/* of the reply being read */
	int	 nlines;		/* lines of it read so far */
	int	 done;			/* the last line ended a reply */
	char	 text[ERRMSG_MAX];	/* first line, cleaned, truncated */
};

#define SMTP_REPLY_MORE	0		/* smtp_reply_line() results */
#define SMTP_REPLY_DONE	1
#define SMTP_REPLY_BAD	(-1)

void	smtp_reply_init(struct smtp_reply *);
/*
 * Feed one line (len bytes, without its LF; a CR before it is allowed
 * and removed in place).  "ddd-text" continues a reply, "ddd text" or
 * "ddd" ends it; every line of a reply must carry the same code, 2xx
 * to 5xx.  *textp gets the text after the code of this line ("" if
 * none; it points into line).  After SMTP_REPLY_DONE, r->code and
 * r->text hold the reply until the next line starts another one.
 * SMTP_REPLY_BAD: a malformed line, a code that changes, more than
 * SMTP_REPLY_LINES lines or a line over SMTP_REPLY_LINE_MAX bytes; the
 * connection cannot be trusted any more.
 */
int	smtp_reply_line(struct smtp_reply *, char *, size_t, const char **);
/* Replace control and 8-bit bytes by '?' (logs, DSNs). */
void	smtp_reply_clean(char *);

struct smtp_stuff {
	int	 bol;			/* at the beginning of a line */
	int	 cr;			/* a CR waits for its LF */
};

/* Room smtp_stuff() may need for len input bytes. */
#define SMTP_STUFF_ROOM(len)	(2 * (len) + 2)

void	smtp_stuff_init(struct smtp_stuff *);
/*
 * Dot-stuff len bytes of message into out (SMTP_STUFF_ROOM(len) bytes):
 * a "." beginning a line is doubled, CRLF, bare LF and bare CR all end
 * a line with CRLF.  The state carries over between chunks; returns
 * the bytes written.
 */
size_t	smtp_stuff(struct smtp_stuff *, const char *, size_t, char *);
/* End an unfinished line with CRLF (out: 2 bytes); returns 0 or 2. */
size_t	smtp_stuff_eol(struct smtp_stuff *, char *);
/* The end of the data: the last line ended, then ".\r\n" (5 bytes). */
size_t	smtp_stuff_end(struct smtp_stuff *, char *);

#endif
