/*
 * SMTP command lines (smtp_parse.c): verbs, MAIL/RCPT parameters, HELO.
 */
#ifndef MAILD_SMTP_PARSE_H
#define MAILD_SMTP_PARSE_H

#include <stddef.h>

#include "address.h"

enum smtp_verb {
	CMD_UNKNOWN = 0, CMD_HELO, CMD_EHLO, CMD_STARTTLS, CMD_AUTH,
	CMD_MAIL, CMD_RCPT, CMD_DATA, CMD_RSET, CMD_NOOP, CMD_QUIT,
	CMD_HELP, CMD_VRFY, CMD_EXPN, CMD_BDAT
};

#define BODY_7BIT	0
#define BODY_8BITMIME	1

struct mail_params {
	size_t	size;		/* SIZE=, 0 if absent */
	int	body;		/* BODY_7BIT or BODY_8BITMIME */
	int	smtputf8;	/* SMTPUTF8 given */
};

/*
 * Split a command line (without CRLF) into its verb and the argument
 * after it (pointer into line, "" if none).  Verbs are case-insensitive.
 */
enum smtp_verb smtp_parse_verb(const char *, const char **);
/*
 * Parse "FROM:<path> params" / "TO:<path> params".  Returns 0, or -1
 * with a full SMTP reply (code, enhanced code, text) in err.
 */
int	smtp_parse_mail(const char *, struct mailaddr *, struct mail_params *,
	    int, char *, size_t);
int	smtp_parse_rcpt(const char *, struct mailaddr *, int, char *, size_t);
/* EHLO/HELO argument: a domain or an address literal; 0 or -1. */
int	smtp_parse_helo(const char *, char *, size_t);

#endif
