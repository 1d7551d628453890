/*
 * Interfaces inside the imap process:
 * - imap_mbox.c: the open mailboxes, one shared object per Maildir
 *   folder however many sessions use it (UID list, flags, keywords,
 *   MODSEQ, the cache of sizes, dates, ENVELOPE and BODYSTRUCTURE, the
 *   content of recently read messages);
 * - imap_fetch.c: FETCH items, compiled once per command and rendered
 *   per message;
 * - imap.c (process: listeners, TLS, IPC) and imap_session.c (the
 *   protocol state machine).
 *
 * Paths given to mbox_*() are relative to the current directory, which
 * is the mailbox root (the imap process is chrooted there), e.g.
 * "example.org/alice" for INBOX or "example.org/alice/.Sent".
 */
#ifndef MAILD_IMAP_H
#define MAILD_IMAP_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "maild.h"
#include "mflags.h"
#include "mime.h"

struct imap_arg;

/* -- imap_mbox.c -- */

struct mbox;

/* What the session needs of one message, by index 0 .. count - 1. */
struct mbox_msg {
	uint32_t	 uid;
	uint64_t	 modseq;
	uint32_t	 sys;		/* MFLAG_* (no MFLAG_RECENT) */
	uint32_t	 kw;		/* bit i: keyword i of the mailbox */
};

/*
 * Open the mailbox in directory dir, or share the object already open.
 * It is synced (mbox_sync) when first opened.  create: make the Maildir
 * (cur/ new/ tmp/, and "maildirfolder" unless it is the user's root,
 * i.e. dir does not end in a "/.<name>" component) if missing.  NULL
 * with errno: ENOENT no such mailbox, anything else an I/O error.
 */
struct mbox	*mbox_open(const char *, int);
void		 mbox_close(struct mbox *);	/* drop a reference */
const char	*mbox_dir(const struct mbox *);
/* The mailbox was deleted or renamed away: sessions must leave it. */
int		 mbox_gone(const struct mbox *);
void		 mbox_set_gone(struct mbox *);
/*
 * Re-read new/ and cur/: files that appeared get UIDs (new/ files are
 * moved to cur/), files that vanished are removed.  1 something
 * changed, 0 nothing, -1 error (state unchanged).
 */
int		 mbox_sync(struct mbox *);
/* Write the UID list, keywords and cache if changed: 0 or -1. */
int		 mbox_commit(struct mbox *);

uint32_t	 mbox_count(const struct mbox *);
uint32_t	 mbox_uidvalidity(const struct mbox *);
uint32_t	 mbox_uidnext(const struct mbox *);
uint64_t	 mbox_highestmodseq(const struct mbox *);
/* Messages without \Seen; first unseen index (or -1). */
uint32_t	 mbox_unseen(const struct mbox *);
long		 mbox_first_unseen(const struct mbox *);
const struct mbox_msg *mbox_msg(const struct mbox *, uint32_t);
/* Index of uid, or -1. */
long		 mbox_find(const struct mbox *, uint32_t);
/*
 * Highest MODSEQ of any expunge since the list was made (QRESYNC needs
 * to know whether VANISHED (EARLIER) can be answered exactly), and the
 * UIDs expunged after modseq (ascending, malloc'd, *n set): 0 or -1
 * when that history is not kept any more (then report every UID not
 * present as vanished).
 */
int		 mbox_vanished_since(const struct mbox *, uint64_t,
		    uint32_t **, size_t *);

/* Keyword table: name of index i (NULL unused), and lookups. */
const char	*mbox_keyword(const struct mbox *, int);
int		 mbox_keyword_count(const struct mbox *);
/* Index of name, adding it: >= 0, or MFLAGS_KW_INVALID / _FULL. */
int		 mbox_keyword_assign(struct mbox *, const char *);

/*
 * Set the flags of message idx (rename in cur/), giving it a new MODSEQ
 * (the mailbox's HIGHESTMODSEQ + 1).  Unchanged flags: no rename, no new
 * MODSEQ.  1 done, 0 the file is gone (call mbox_sync), -1 error.
 */
int		 mbox_store(struct mbox *, uint32_t, uint32_t, uint32_t);

/* Size (RFC822.SIZE, CRLF) and INTERNALDATE (file mtime): 0 or -1. */
int		 mbox_size(struct mbox *, uint32_t, uint64_t *);
int		 mbox_date(struct mbox *, uint32_t, time_t *);
/*
 * The message with CRLF line ends (a file with bare LFs, as Dovecot
 * writes them, is converted) and its MIME tree.  Valid until the next
 * mbox_read() of any mailbox.  0, or -1 (gone: call mbox_sync; or I/O).
 */
int		 mbox_read(struct mbox *, uint32_t, const char **, size_t *,
		    const struct mime_msg **);
/*
 * Only the header block (CRLF, blank line included), read from the
 * start of the file: for SEARCH on header fields.  Valid until the next
 * mbox_header().  0 or -1.
 */
int		 mbox_header(struct mbox *, uint32_t, const char **, size_t *);
/* Cached IMAP renderings, computed on first use; NULL on error. */
const char	*mbox_envelope(struct mbox *, uint32_t);
const char	*mbox_bodystructure(struct mbox *, uint32_t, int);

/*
 * Expunge message idx: unlink its file and drop it from the list (the
 * expunge is recorded with a new MODSEQ).  0 or -1.
 */
int		 mbox_expunge(struct mbox *, uint32_t);
/*
 * New message with these flags and keyword names (nkw of them, assigned
 * in dst) and internal date (0: now); the data is stored with CRLF line
 * ends.  *uid gets its UID.  0, or -1 with errno (EDQUOT/ENOSPC: full).
 */
int		 mbox_append(struct mbox *, const char *, size_t, uint32_t,
		    const char *const *, size_t, time_t, uint32_t *);
/* Copy message idx of src into dst (hard link if possible), flags kept. */
int		 mbox_copy(struct mbox *, uint32_t, struct mbox *, uint32_t *);

/* Make/remove folder directories (not open ones: callers check). */
int		 mbox_create(const char *);	/* 0, -1 errno (EEXIST) */
int		 mbox_remove(const char *);	/* files and directory */
/*
 * After a RENAME: the mailbox now at dir gets a new UIDVALIDITY (its UIDs
 * stay), since clients may have cached messages under its new name with
 * the value it brings along.  0, or -1 (logged).
 */
int		 mbox_renew_uidvalidity(const char *);

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

/*
 * Compile what follows the sequence set of FETCH: one item, a macro
 * (ALL, FAST, FULL) or a list, and optionally a list of modifiers
 * (CHANGEDSINCE n, VANISHED).  uid: the command is UID FETCH (UID is
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

/* -- imap_session.c -- */

void		 imap_session_new(int, const struct listener *,
		    const struct sockaddr_storage *);
void		 imap_session_auth_result(uint64_t, uint32_t, const char *,
		    const char *);
/* Mail was delivered to the Maildir dir (relative to the root). */
void		 imap_session_newmail(const char *);

#endif
