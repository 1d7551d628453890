/*
 * The open mailboxes of the imap process (src/lib/imap_mbox*.c): one
 * shared object per Maildir folder however many sessions use it, the
 * one model of its UIDs, flags, keywords, MODSEQs and expunges.
 *
 *	imap_mbox.c		open/close, accessors, keywords, STORE,
 *				commit (the UID list through uidlist.c)
 *	imap_mbox_sync.c	the scan of new/ and cur/ (new mail, flag
 *				changes and expunges by other programs)
 *	imap_mbox_cache.c	sizes, dates, ENVELOPE/BODYSTRUCTURE, SORT
 *				keys, the read LRU and the maild-cache file
 *	imap_mbox_write.c	APPEND, COPY, EXPUNGE
 *	imap_mbox_folder.c	CREATE, DELETE, RENAME's new UIDVALIDITY
 *	imap_mbox_ids.c		EMAILID and save date from file names
 *
 * Paths given to mbox_*() are relative to the current directory, which
 * is the mailbox root (the imap process is chrooted there), e.g.
 * "example.org/alice" for INBOX or "example.org/alice/.Sent".
 */
#ifndef MAILD_IMAP_MBOX_H
#define MAILD_IMAP_MBOX_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct mbox;
struct mime_msg;

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
/*
 * \Recent (RFC 3501 2.3.2): the first UID no session has claimed yet;
 * a session claims the UIDs below upto (kept with the UID list).
 */
uint32_t	 mbox_recent_uid(const struct mbox *);
void		 mbox_recent_claim(struct mbox *, uint32_t);
/* OBJECTID MAILBOXID (RFC 8474), kept in the UID list. */
const char	*mbox_mailboxid(const struct mbox *);
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
struct mflags_keywords;
const struct mflags_keywords *mbox_keywords(const struct mbox *);
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
/* O_RDONLY fd of a message's file, or -1 (errno). */
int		 mbox_msg_fd(struct mbox *, uint32_t);
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
 * The SORT and THREAD keys of a message (imap_sort.h): made from its
 * header on first use, then kept, also in the cache file.  NULL on
 * error (gone: call mbox_sync).
 */
struct sort_keys;
const struct sort_keys *mbox_sortkeys(struct mbox *, uint32_t);
/* The same keys with the blob they point into (to copy). */
struct sort_blob;
const struct sort_blob *mbox_sortblob(struct mbox *, uint32_t);

/*
 * OBJECTID and SAVEDATE, from the base name of a message's file (see
 * imap_mbox_ids.c): its EMAILID into buf (MBOX_EMAILID_MAX + 1 bytes
 * hold any), 0 or -1; its save date, 0 if the name has none.  The
 * mbox_name_*() forms work on a base name alone (now: the clock).
 */
#define MBOX_EMAILID_MAX	64
#define MBOX_EMAILID_BYTES	12	/* of a derived id's hash, in hex */
int		 mbox_emailid(const struct mbox *, uint32_t, char *, size_t);
time_t		 mbox_savedate(const struct mbox *, uint32_t);
int		 mbox_name_emailid(const char *, size_t, char *, size_t);
time_t		 mbox_name_savedate(const char *, size_t, time_t);
/*
 * PREVIEW (RFC 8970) text of message idx (mime_preview()), cached with
 * the renderings: 1 and *out (valid until the message goes), 0 when
 * lazy and not known yet (the client gets NIL), -1 on error.
 */
int		 mbox_preview(struct mbox *, uint32_t, int, const char **);

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
/*
 * The same in two steps, for commands that add several messages all or
 * none (MULTIAPPEND): mbox_stage() writes one to tmp/ (0, or -1 with
 * errno), where nothing sees it; mbox_stage_commit() adds the n staged
 * messages with consecutive UIDs from *first (0), or none of them (-1
 * with errno); mbox_stage_abort() removes them.  Both free the
 * struct mbox_staged contents.
 */
struct mbox_staged {
	char		*base;		/* tmp/<base> */
	char		*rel;		/* "cur/..." once linked */
	uint64_t	 size;
	int64_t		 date;
	uint32_t	 sys, kw;
};
int		 mbox_stage(struct mbox *, const char *, size_t, uint32_t,
		    const char *const *, size_t, time_t, struct mbox_staged *);
int		 mbox_stage_commit(struct mbox *, struct mbox_staged *, size_t,
		    uint32_t *);
void		 mbox_stage_abort(struct mbox *, struct mbox_staged *, size_t);
/*
 * What quotas count of message idx (quota.h): the ",S=" of its file's
 * name, as Maildir++ says, else the file's size.  0, or -1 (gone).
 */
int		 mbox_quota_size(struct mbox *, uint32_t, uint64_t *);
/*
 * Copy message idx of src into dst (hard link if possible), flags kept;
 * the new file's name carries the EMAILID of the source (",E=<id>").
 */
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

#endif
