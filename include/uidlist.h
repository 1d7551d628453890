/*
 * Per-mailbox UID list for the IMAP server: maps the base name of each
 * Maildir file (its name without ":2,flags") to a UID and a MODSEQ, and
 * keeps the mailbox's UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ.
 *
 * The list lives in <mailbox>/maild-uidlist (text, versioned, replaced
 * atomically by uidlist_save()).  uidlist_sync() reconciles it with the
 * files in new/ and cur/: files gone from disk are expunged (their UIDs
 * are reported), new files get UIDs from UIDNEXT in name order.  UIDs are
 * never reused or renumbered.  On first open a Dovecot dovecot-uidlist
 * (version 3) is imported so clients keep their caches.
 *
 * A new list gets a UIDVALIDITY never used before under the mail root:
 * max(now, last + 1), "last" kept in <root>/maild-uidvalidity (and
 * raised by every UIDVALIDITY read from a list), so a mailbox deleted
 * and created again, renamed onto an old name or removed behind our
 * back and made again by a delivery never gets a value a client may
 * have cached for the old one, even within one second or across a
 * restart (RFC 3501 2.3.1.1, RFC 9051 2.3.1.1).
 *
 * Entries are kept sorted by UID: sequence number n is entry n - 1.
 */
#ifndef MAILD_UIDLIST_H
#define MAILD_UIDLIST_H

#include <stddef.h>
#include <stdint.h>

#define UIDLIST_FILE		"maild-uidlist"
#define UIDLIST_DOVECOT		"dovecot-uidlist"
#define UIDLIST_STATE		"maild-uidvalidity"	/* in the mail root */
#define UIDLIST_VERSION		1
#define UIDLIST_NAME_MAX	240		/* bytes of a Maildir file name */
#define UIDLIST_MAX_ENTRIES	5000000		/* messages in one mailbox */
#define UIDLIST_MAX_FILE	(512 * 1024 * 1024)	/* bytes of a list file */

/* uidlist_load() and uidlist_import_dovecot() results. */
#define UIDLIST_OK		1
#define UIDLIST_NOFILE		0
#define UIDLIST_ERROR		(-1)	/* I/O error: temporary, errno set */
#define UIDLIST_CORRUPT		(-2)	/* bad contents: make a new list */

struct uidlist_entry {
	uint32_t	 uid;
	uint64_t	 modseq;
	char		*name;		/* base name, without ":2,..." */
	char		*file;		/* "cur/<name>:2,S" after a sync, else NULL */
	int		 seen;		/* internal to uidlist_sync() */
};

struct uidlist {
	char			 dir[1024];	/* the mailbox directory */
	uint32_t		 uidvalidity;
	uint32_t		 uidnext;
	uint64_t		 highestmodseq;
	struct uidlist_entry	*ent;		/* sorted by uid */
	size_t			 n, cap;
	uint32_t		*hash;		/* index + 1 into ent, 0 empty */
	size_t			 hsize;		/* power of two */
	int			 dirty;		/* changed since load/save */
};

/* What a sync changed, for EXISTS/EXPUNGE. */
struct uidlist_changes {
	size_t		 added;
	uint32_t	*expunged;	/* ascending */
	size_t		 nexpunged;
};

/* An empty list for dir (NULL if dir is too long). */
struct uidlist	*uidlist_new(const char *, uint32_t);
void		 uidlist_free(struct uidlist *);

/*
 * Read <dir>/maild-uidlist or <dir>/dovecot-uidlist into *out: UIDLIST_OK,
 * UIDLIST_NOFILE, UIDLIST_ERROR or UIDLIST_CORRUPT (*out is then NULL).
 */
int		 uidlist_load(const char *, struct uidlist **);
int		 uidlist_import_dovecot(const char *, struct uidlist **);

/*
 * The list of a mailbox: maild's own, else Dovecot's, else a new one with
 * a new UIDVALIDITY (also when maild's list is corrupt).  1 an existing
 * list was read, 0 a new list was made, -1 I/O error (nothing replaced).
 * The caller then calls uidlist_sync() and uidlist_save().
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

/* Write the list atomically (temp, fsync, rename): 0 or -1. */
int		 uidlist_save(struct uidlist *);
/*
 * The same without the fsync, for changes of MODSEQ only: a crash of
 * the machine may lose them (flags themselves are in file names), a
 * crash of the process cannot.
 */
int		 uidlist_save_nosync(struct uidlist *);

/*
 * Scan new/ and cur/ and update the list; ch (may be NULL) gets what
 * changed, to be freed with uidlist_changes_free().  0 or -1 (a
 * directory could not be read or UIDs are exhausted: list unchanged).
 */
int		 uidlist_sync(struct uidlist *, struct uidlist_changes *);
void		 uidlist_changes_free(struct uidlist_changes *);

/* Lookups; NULL when absent.  by_uid sets *seq (1-based) if not NULL. */
struct uidlist_entry	*uidlist_by_uid(const struct uidlist *, uint32_t,
			    uint32_t *);
struct uidlist_entry	*uidlist_by_seq(const struct uidlist *, uint32_t);
struct uidlist_entry	*uidlist_by_name(const struct uidlist *,
			    const char *);

/* New MODSEQ for uid (a flag change): the new value, 0 if no such uid. */
uint64_t	 uidlist_bump_modseq(struct uidlist *, uint32_t);

/*
 * Copy the base name of Maildir file name fname into buf: 0, or -1 if the
 * name must be ignored (dot file, control character, '/', too long).
 */
int		 uidlist_basename(const char *, char *, size_t);

#endif
