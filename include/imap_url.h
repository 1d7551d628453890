/*
 * IMAP URLs (RFC 5092) of one message or message part, as CATENATE
 * (RFC 4469) names them: absolute "imap://user@host:port/mailbox;
 * UIDVALIDITY=n/;UID=n/;SECTION=s/;PARTIAL=o.l", a network path
 * ("//user@host/..."), an absolute path ("/mailbox;UIDVALIDITY=n/;
 * UID=n..."), and the relative forms "mailbox/;UID=n..." and
 * ";UID=n..." (the selected mailbox).  Keywords are case-insensitive;
 * user, mailbox and section are percent-decoded.  Message lists
 * (searches, ";TYPE=LIST"), URLAUTH and ";EXPIRE=" are refused: they
 * are no part for APPEND to take.  Resolving the mailbox (which user,
 * which server, which folder) is the caller's.
 */
#ifndef MAILD_IMAP_URL_H
#define MAILD_IMAP_URL_H

#include <stddef.h>
#include <stdint.h>

#define IMAP_URL_MAX		8192	/* bytes of a URL */
#define IMAP_URL_USER_MAX	255
#define IMAP_URL_HOST_MAX	255
#define IMAP_URL_MAILBOX_MAX	1024	/* decoded, as mailbox.h's names */
#define IMAP_URL_SECTION_MAX	2048	/* decoded */

enum imap_url_form {
	IMAP_URL_SERVER,	/* imap://... or //...: user, host given */
	IMAP_URL_PATH,		/* /mailbox... */
	IMAP_URL_RELATIVE,	/* mailbox/;UID=...: from the base's folder */
	IMAP_URL_UID		/* ;UID=...: the selected mailbox */
};

struct imap_url {
	enum imap_url_form	 form;
	char			 user[IMAP_URL_USER_MAX + 1];	/* "": none */
	char			 host[IMAP_URL_HOST_MAX + 1];	/* no [] */
	int			 port;				/* 0: none */
	char			 mailbox[IMAP_URL_MAILBOX_MAX + 1];
	uint32_t		 uidvalidity;			/* 0: none */
	uint32_t		 uid;
	char			 section[IMAP_URL_SECTION_MAX + 1];
	int			 partial;
	uint32_t		 partial_off;
	uint32_t		 partial_len;			/* 0: to end */
};

/*
 * Parse the len bytes of url: 0, or -1 with a static reason in
 * *errstr.  The mailbox is UTF-8 (RFC 5092 5), not checked further.
 */
int	imap_url_parse(const char *, size_t, struct imap_url *,
	    const char **);

#endif
