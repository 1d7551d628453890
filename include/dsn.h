/*
 * Delivery status notifications (RFC 3464 multipart/report, RFC 3463
 * status codes, RFC 6533 for UTF-8 addresses): the bounce and delay
 * warning messages the queue process sends back to a sender.  No
 * process state: the caller gives everything in struct dsn_info.
 */
#ifndef MAILD_DSN_H
#define MAILD_DSN_H

#include <sys/types.h>

#include <stddef.h>
#include <time.h>

#define DSN_MAX_ORIG	(1024 * 1024)	/* bigger originals: headers only */
#define DSN_MAX_HEADER	(64 * 1024)	/* of the original's header kept */
#define DSN_MAX_DIAG	512		/* bytes of a diagnostic kept */
#define DSN_MAX_RCPTS	1000		/* reported; the rest only counted */

enum dsn_kind { DSN_FAILED, DSN_DELAYED };

struct dsn_rcpt {
	const char	*rcpt;		/* as in RCPT TO, "user@domain" */
	const char	*status;	/* "5.1.1", "4.4.7"; bad: 5.0.0/4.0.0 */
	const char	*remote_mta;	/* "mx.example.net" or NULL */
	const char	*diagnostic;	/* remote reply, our reason, NULL */
	time_t		 last_attempt;	/* 0: never tried */
};

struct dsn_info {
	enum dsn_kind		 kind;
	const char		*reporting_mta;	/* our host name */
	const char		*sender;	/* gets the DSN, never "" */
	const char		*msgid;		/* queue id, for the text */
	time_t			 arrival;	/* when we accepted it */
	time_t			 now;
	time_t			 expire;	/* delayed: Will-Retry-Until */
	const struct dsn_rcpt	*rcpts;
	size_t			 nrcpts;
	int			 return_full;	/* whole message, else header */
};

#define DSN_7BIT	0
#define DSN_8BIT	1

/*
 * Write the notification (CRLF line ends, lines of at most 998 bytes)
 * to fd out, reading the original message from fd in (its current
 * offset to its end; bare LF or CR line ends are turned into CRLF):
 * part 1 text/plain for the human, part 2 message/delivery-status,
 * part 3 message/rfc822 when return_full and the original is at most
 * DSN_MAX_ORIG bytes with no line over 998 bytes, else
 * text/rfc822-headers.  Remote diagnostics are cleaned of control and
 * 8-bit characters, cut at DSN_MAX_DIAG bytes and folded.
 * Returns DSN_7BIT, or DSN_8BIT when the notification holds 8-bit data
 * (from the original or UTF-8 addresses: relay it with BODY=8BITMIME),
 * or -1 with errno set: EINVAL for a bad dsn_info (control characters
 * or over-long names, no recipients), or the error of read/write.
 */
int	dsn_write(int, int, const struct dsn_info *);

#endif
