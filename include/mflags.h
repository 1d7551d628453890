/*
 * Message flags kept in Maildir file names ("<base>:2,<letters>") and the
 * per-mailbox keyword table of Dovecot's scheme (dovecot-keywords).
 *
 * System letters: D Draft, F Flagged, P Passed, R Replied (\Answered),
 * S Seen, T Trashed (\Deleted).  Letters 'a'..'z' are keywords 0..25 of
 * the mailbox's keyword table.  Any other letter is kept as it is, so a
 * flag change by maild never drops what another program wrote.
 */
#ifndef MAILD_MFLAGS_H
#define MAILD_MFLAGS_H

#include <stddef.h>
#include <stdint.h>

#define MFLAGS_NAME_MAX		240	/* bytes of a file name (= uidlist) */
#define MFLAGS_OTHER_MAX	256	/* room for every possible byte */

/* System flags (struct mflags.sys). */
#define MFLAG_SEEN		0x01	/* S */
#define MFLAG_ANSWERED		0x02	/* R */
#define MFLAG_FLAGGED		0x04	/* F */
#define MFLAG_DELETED		0x08	/* T */
#define MFLAG_DRAFT		0x10	/* D */
#define MFLAG_PASSED		0x20	/* P: no IMAP flag, kept */
#define MFLAG_RECENT		0x40	/* never in a name; rendered only */
#define MFLAG_IMAP_MASK		0x1f	/* the ones a client may STORE */

struct mflags {
	uint32_t	 sys;			/* MFLAG_* */
	uint32_t	 kw;			/* bit i: letter 'a' + i */
	char		 other[MFLAGS_OTHER_MAX]; /* unknown letters, sorted */
};

/*
 * Split Maildir file name fname (no directory) into its base name (up to
 * a final ":2,") and flags.  No ":2," means no flags.  0, or -1 if the
 * name must be ignored (empty, dot file, '/', control or non-ASCII byte
 * in the flags, longer than MFLAGS_NAME_MAX, base does not fit basesz).
 */
int	mflags_parse(const char *, char *, size_t, struct mflags *);

/* "<base>:2,<sorted letters>" into out: 0, or -1 (bad base, too long). */
int	mflags_build(const char *, const struct mflags *, char *, size_t);

/*
 * Dovecot's ",S=<size>" field of a base (or full) name: 1 and *size set,
 * 0 absent or malformed.  A hint only: fstat() wins.
 */
int	mflags_size(const char *, uint64_t *);

/*
 * Set the flags of file (relative to Maildir dir: "new/<name>" or
 * "cur/<name>[:2,...]"): rename it to cur/<base>:2,<flags>, copying the
 * new relative path into newfile (may be NULL).  1 done (also when the
 * name did not change), 0 the file is gone (ENOENT: someone else renamed
 * or expunged it; re-sync), -1 other error (errno set, or EINVAL for a
 * bad name).
 */
int	mflags_rename(const char *, const char *, const struct mflags *,
	    char *, size_t);

/* Keyword table of a mailbox: names[i] is letter 'a' + i, NULL unused. */
#define MFLAGS_KW_FILE		"dovecot-keywords"
#define MFLAGS_KW_MAX		26
#define MFLAGS_KW_NAME_MAX	128	/* bytes of a keyword */
#define MFLAGS_KW_FILE_MAX	8192	/* bytes of the keywords file */

struct mflags_keywords {
	char	*name[MFLAGS_KW_MAX];
};

/* mflags_kw_load() results. */
#define MFLAGS_KW_OK		1
#define MFLAGS_KW_NOFILE	0	/* table left empty */
#define MFLAGS_KW_ERROR		(-1)	/* I/O error, errno set */
#define MFLAGS_KW_CORRUPT	(-2)	/* bad contents, table left empty */

/* mflags_kw_assign() errors. */
#define MFLAGS_KW_INVALID	(-1)	/* not a valid keyword */
#define MFLAGS_KW_FULL		(-2)	/* all 26 letters used */

/* Read <dir>/dovecot-keywords into kw (which must be empty/zeroed). */
int	mflags_kw_load(const char *, struct mflags_keywords *);
/* Write it atomically (temp, fsync, rename): 0 or -1. */
int	mflags_kw_save(const char *, const struct mflags_keywords *);
void	mflags_kw_free(struct mflags_keywords *);

/* 1 if name is a valid keyword (an IMAP atom, no '\'), else 0. */
int	mflags_kw_valid(const char *);
/* Index (0..25) of name, case-insensitive, or -1. */
int	mflags_kw_lookup(const struct mflags_keywords *, const char *);
/* Index of name, adding it if new: MFLAGS_KW_INVALID or _FULL. */
int	mflags_kw_assign(struct mflags_keywords *, const char *);
/* Count of used letters (26 means PERMANENTFLAGS has no \*). */
int	mflags_kw_count(const struct mflags_keywords *);

/* IMAP system flag name ("\Seen", any case) -> MFLAG_*, or 0. */
uint32_t	mflags_imap_flag(const char *);

/*
 * "(\Seen \Answered $Label1)" into out: system flags (and \Recent), then
 * keywords whose letter has a name in kw (may be NULL).  0 or -1 (too
 * small: out is then "()").
 */
int	mflags_render(const struct mflags *, const struct mflags_keywords *,
	    char *, size_t);

#endif
