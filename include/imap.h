/*
 * Interfaces inside the imap process:
 * - imap_mbox.h: the open mailboxes (src/lib/imap_mbox*.c), included
 *   here for the sessions;
 * - imap_fetch.c: FETCH items, compiled once per command and rendered
 *   per message;
 * - imap.c (process: listeners, TLS, IPC) and imap_session.c (the
 *   protocol state machine).
 */
#ifndef MAILD_IMAP_H
#define MAILD_IMAP_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "imap_mbox.h"
#include "maild.h"
#include "mflags.h"
#include "mime.h"

struct imap_arg;
struct io;
struct session_env;

/* -- imap_fetch.c -- */

struct fetch_spec;

/* fetch_needs() */
#define FETCH_NEED_CONTENT	0x0001	/* message data and MIME tree */
#define FETCH_NEED_SIZE		0x0002	/* RFC822.SIZE */
#define FETCH_NEED_DATE		0x0004	/* INTERNALDATE */
#define FETCH_NEED_ENVELOPE	0x0008
#define FETCH_NEED_BODY		0x0010	/* BODY (no extension data) */
#define FETCH_NEED_BODYSTRUCTURE 0x0020
#define FETCH_NEED_FLAGS	0x0040
#define FETCH_NEED_MODSEQ	0x0080
#define FETCH_SETS_SEEN		0x0100	/* BODY[...] without .PEEK etc. */
#define FETCH_CHANGEDSINCE	0x0200	/* modifier given */
#define FETCH_VANISHED		0x0400	/* modifier given */
#define FETCH_NEED_EMAILID	0x0800	/* OBJECTID, RFC 8474 */
#define FETCH_NEED_SAVEDATE	0x1000	/* RFC 8514 */
#define FETCH_NEED_PREVIEW	0x2000	/* RFC 8970 */
#define FETCH_PREVIEW_LAZY	0x4000	/* PREVIEW (LAZY) */

/*
 * Compile what follows the sequence set of FETCH: one item, a macro
 * (ALL, FAST, FULL) or a list, and optionally a list of modifiers
 * (CHANGEDSINCE n, VANISHED).  PREVIEW may be followed by its own list
 * of modifiers, "(LAZY)".  uid: the command is UID FETCH (UID is
 * then always reported, and VANISHED is allowed).  SEARCH_OK style
 * results: 0 and *specp, or -1 (BAD) with *errstr.
 */
int		 fetch_compile(const struct imap_arg *, int,
		    struct fetch_spec **, const char **);
void		 fetch_free(struct fetch_spec *);
int		 fetch_needs(const struct fetch_spec *);
uint64_t	 fetch_changedsince(const struct fetch_spec *);

/* One message as the renderer sees it; unneeded fields may be 0/NULL. */
struct fetch_msg {
	uint32_t		 seq;
	uint32_t		 uid;
	uint64_t		 modseq;
	const char		*flags;		/* "(\Seen foo)" */
	time_t			 internaldate;
	uint64_t		 size;
	const char		*data;		/* CRLF message */
	size_t			 len;
	const struct mime_msg	*mime;
	const char		*envelope;	/* "(...)" */
	const char		*body;		/* BODY, no extensions */
	const char		*bodystructure;
	const char		*emailid;	/* NULL: NIL */
	time_t			 savedate;	/* 0: NIL */
	const char		*preview;	/* UTF-8; NULL: NIL */
};

#define FETCH_R_FLAGS		0x01	/* add FLAGS (\Seen was just set) */
#define FETCH_R_UTF8		0x02	/* UTF8=ACCEPT enabled */

/*
 * Append "* <seq> FETCH (...)\r\n" to out.  Sections that do not exist
 * are empty strings (RFC 3501 says so for nonexistent parts).  Returns
 * 0, or -1 when a BINARY section cannot be decoded (the caller answers
 * NO [UNKNOWN-CTE]; out is left unchanged).
 */
int		 fetch_render(struct mbuf *, const struct fetch_spec *,
		    const struct fetch_msg *, int);

/*
 * BODY[section]<off.len> of one message, the bytes FETCH would send,
 * appended to out: for CATENATE's URLs (RFC 4469), which name parts
 * as FETCH does.  section is the text between the brackets ("",
 * "1.2.MIME", "HEADER.FIELDS (To)"); mime may be NULL (parsed here);
 * plen 0 is to the end.  0, or -1 when the section is invalid or names
 * a part the message does not have.
 */
int		 fetch_section(struct mbuf *, const char *, size_t,
		    const struct mime_msg *, const char *, int, uint32_t,
		    uint32_t);

/* -- imap_session.c -- */

/* A session on the connection io (its callback is set here). */
void		 imap_session_new(struct io *, const struct listener *,
		    const struct sockaddr_storage *,
		    const struct session_env *);
void		 imap_session_auth_result(uint64_t, uint32_t, const char *,
		    const char *);
/* Mail was delivered to the Maildir dir (relative to the root). */
void		 imap_session_newmail(const char *);

#endif
