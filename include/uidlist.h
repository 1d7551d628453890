/*
 * The UID list file of a mailbox for the IMAP server: maps the base
 * name of each Maildir file (its name without ":2,flags") to a UID and
 * a MODSEQ, and keeps the mailbox's UIDVALIDITY, UIDNEXT and
 * HIGHESTMODSEQ.
 *
 * The list lives in <mailbox>/maild-uidlist (text, versioned, replaced
 * atomically by uidlist_save()).  On first open a Dovecot
 * dovecot-uidlist (version 3) is imported so clients keep their caches.
 * This module is the file format only: the open mailbox
 * (include/imap_mbox.h) keeps the list in memory, gives new files
 * UIDs, records flag changes and expunges, and hands the list back
 * here to be written.
 *
 * A new list gets a UIDVALIDITY never used before under the mail root:
 * max(now, last + 1), "last" kept in <root>/maild-uidvalidity (and
 * raised by every UIDVALIDITY read from a list), so a mailbox deleted
 * and created again, renamed onto an old name or removed behind our
 * back and made again by a delivery never gets a value a client may
 * have cached for the old one, even within one second or across a
 * restart (RFC 3501 2.3.1.1, RFC 9051 2.3.1.1).
 *
 * The list also names the mailbox for OBJECTID (RFC 8474): a MAILBOXID
 * made at random when the list is made, kept by every rewrite (so it
 * follows the folder through RENAME, whose directory the list moves
 * with) and new for a mailbox deleted and created again.
 *
 * Entries are sorted by UID, base names unique.
 */
#ifndef MAILD_UIDLIST_H
#define MAILD_UIDLIST_H

#include <stddef.h>
#include <stdint.h>

#define UIDLIST_FILE		"maild-uidlist"
#define UIDLIST_DOVECOT		"dovecot-uidlist"
#define UIDLIST_STATE		"maild-uidvalidity"	/* in the mail root */
#define UIDLIST_VERSION		2	/* 1 is read too (no MAILBOXID) */
#define UIDLIST_NAME_MAX	240		/* bytes of a file name */
#define UIDLIST_MAX_ENTRIES	5000000		/* messages in one mailbox */
#define UIDLIST_MAX_FILE	(512 * 1024 * 1024) /* bytes of a list file */
#define UIDLIST_ID_MAX		64		/* bytes of a MAILBOXID */

/* uidlist_load() and uidlist_import_dovecot() results. */
#define UIDLIST_OK		1
#define UIDLIST_NOFILE		0
#define UIDLIST_ERROR		(-1)	/* I/O error: temporary, errno set */
#define UIDLIST_CORRUPT		(-2)	/* bad contents: make a new list */

struct uidlist_entry {
	uint32_t	 uid;
	uint64_t	 modseq;
	char		*name;		/* base name, without ":2,..." */
};

struct uidlist {
	char			 dir[1024];	/* the mailbox directory */
	uint32_t		 uidvalidity;
	uint32_t		 uidnext;
	uint64_t		 highestmodseq;
	uint32_t		 firstrecent;	/* 0: not recorded */
	char			 mailboxid[UIDLIST_ID_MAX + 1];
	struct uidlist_entry	*ent;		/* sorted by uid */
	size_t			 n, cap;
	int			 dirty;		/* not as on disk */
};

/* An empty list for dir (NULL if dir is too long), without MAILBOXID. */
struct uidlist	*uidlist_new(const char *, uint32_t);
void		 uidlist_free(struct uidlist *);

/*
 * Read <dir>/maild-uidlist or <dir>/dovecot-uidlist into *out: UIDLIST_OK,
 * UIDLIST_NOFILE, UIDLIST_ERROR or UIDLIST_CORRUPT (*out is then NULL).
 * A list without a MAILBOXID (version 1, or Dovecot's without its
 * mailbox GUID) gets a new one and is marked dirty, so it is written.
 */
int		 uidlist_load(const char *, struct uidlist **);
int		 uidlist_import_dovecot(const char *, struct uidlist **);

/*
 * The list of a mailbox: maild's own, else Dovecot's, else a new one with
 * a new UIDVALIDITY (also when maild's list is corrupt).  1 an existing
 * list was read, 0 a new list was made, -1 I/O error (nothing replaced).
 * The caller then syncs it with the directories and saves it.
 */
int		 uidlist_open(const char *, struct uidlist **);

/*
 * A UIDVALIDITY never handed out before under the mail root, recorded
 * (temp, fsync, rename) before it is returned; if that fails, it is
 * logged and the value is still new for the life of the process.
 */
uint32_t	 uidlist_new_uidvalidity(void);
/*
 * Where the counter lives: UIDLIST_STATE in the current directory (the
 * mail root of the imap process) unless set, for tests.
 */
void		 uidlist_set_state(const char *);

/* A new MAILBOXID ("F" and 24 hex digits, random) into buf. */
void		 uidlist_new_mailboxid(char *, size_t);
/* 1 if s is an RFC 8474 objectid of at most UIDLIST_ID_MAX bytes. */
int		 uidlist_objectid_valid(const char *, size_t);

/* Write the list atomically (temp, fsync, rename): 0 or -1. */
int		 uidlist_save(struct uidlist *);
/*
 * The same without the fsync, for changes of MODSEQ only: a crash of
 * the machine may lose them (flags themselves are in file names), a
 * crash of the process cannot.
 */
int		 uidlist_save_nosync(struct uidlist *);

/*
 * Copy the base name of Maildir file name fname into buf: 0, or -1 if the
 * name must be ignored (dot file, control character, '/', too long).
 */
int		 uidlist_basename(const char *, char *, size_t);

#endif
