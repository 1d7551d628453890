/*
 * Envelopes (envelope.c): one per destination, and their text form.
 */
#ifndef MAILD_ENVELOPE_H
#define MAILD_ENVELOPE_H

#include <stdint.h>
#include <time.h>

#include "address.h"
#include "expand.h"

#define ENVELOPE_VERSION	1
#define DKIM_HDR_MAX		5120	/* DKIM-Signatures or our A-R */

struct envelope {
	uint64_t		 id;		/* msgid << 32 | random */
	time_t			 created;
	time_t			 lasttry;
	time_t			 nexttry;	/* not stored: scheduler */
	int			 retries;
	int			 flags;
#define EF_8BITMIME	0x01
#define EF_SMTPUTF8	0x02
#define EF_AUTH		0x04
#define EF_LOCAL	0x08	/* from this machine (loopback) */
#define EF_CHECK	0x10	/* SPF, DKIM, DMARC, ARC checked at commit */
#define EF_FILTER	0x20	/* scanned by rspamd at commit */
#define EF_MASK		0x3f	/* all of them: others are refused on IPC */
	char			 helo[HOST_NAME_MAX + 1];
	char			 src[64];	/* client address text */
	struct mailaddr		 sender;
	struct mailaddr		 rcpt;		/* as given in RCPT TO */
	struct dest		 dest;
	char			 errmsg[ERRMSG_MAX];	/* last failure */
	/*
	 * Header lines (CRLF) written before the message: our DKIM-Signature
	 * on mail we send, our Authentication-Results on mail we checked.
	 */
	char			 dkim[DKIM_HDR_MAX];
};

#define evpid_msgid(id)	((uint32_t)((id) >> 32))

/* Text form, "key: value" lines; returns length or -1 if it won't fit. */
int	envelope_dump(const struct envelope *, char *, size_t);
/* Strict parse; 0, or -1 with a reason in err. */
int	envelope_load(struct envelope *, const char *, size_t, char *, size_t);

#endif
