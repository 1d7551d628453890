/*
 * IMAP METADATA (RFC 5464) storage: the entries of one mailbox, or the
 * private server entries of one user, in a small file beside the
 * Maildir (metadata.c), read whole and replaced atomically (temp file,
 * fsync, rename, fsync of the directory).  A mailbox's file lives in
 * its directory, so it follows the mailbox through RENAME and goes
 * with it on DELETE; the server entries of a user live in the user's
 * root directory, beside INBOX's own file.
 *
 * Entry names are checked as RFC 5464 3.2 asks and kept lower-cased
 * (they are case-insensitive); values are any bytes.  Limits: entries
 * per file, bytes per value and per name; a file over them, or
 * otherwise malformed, is damaged: it is logged and read as empty, and
 * the next change replaces it.
 *
 * File format (version 1):
 *	maild-metadata 1 C<count>
 *	<value length> <entry name>	(then the value's bytes and "\n")
 *	...
 * entries sorted by name, each name once.
 */
#ifndef MAILD_METADATA_H
#define MAILD_METADATA_H

#include <stddef.h>

#define METADATA_FILE		"maild-metadata"	/* a mailbox's */
#define METADATA_SERVER_FILE	"maild-metadata-server"	/* in the root */
#define METADATA_NAME_MAX	256		/* bytes of an entry name */
#define METADATA_VALUE_MAX	(16 * 1024)	/* [METADATA MAXSIZE] */
#define METADATA_ENTRIES_MAX	100		/* [METADATA TOOMANY] */

/* metadata_set() results besides 0. */
#define METADATA_TOOBIG		(-2)
#define METADATA_TOOMANY	(-3)

struct metadata_entry {
	char	*name;		/* lower case */
	char	*value;		/* len bytes, NUL after them */
	size_t	 len;
};

struct metadata {
	struct metadata_entry	*ent;	/* sorted by name */
	size_t			 n;
};

/*
 * An entry name of RFC 5464 3.2: "/private" or "/shared" (any case),
 * then components of printable ASCII without "*" or "%", none empty,
 * no "/" at the end; at most METADATA_NAME_MAX bytes.  The lower-cased
 * name goes to out (METADATA_NAME_MAX + 1 bytes).  0, or -1 with a
 * reason for the client in *why.
 */
int	metadata_name(const char *, size_t, char *, const char **);
/* 1 if name (checked) is one of the "/private" and "/shared" roots. */
int	metadata_is_root(const char *);
/* 1 if name is "/shared" or below it. */
int	metadata_is_shared(const char *);

/*
 * Read dir/file into md (empty if there is none, or it is damaged: then
 * logged).  0, or -1 on an I/O error (errno).
 */
int	metadata_load(const char *, const char *, struct metadata *);
/* Replace dir/file with md (removed when md is empty): 0 or -1. */
int	metadata_save(const char *, const char *, const struct metadata *);
void	metadata_free(struct metadata *);

/* The entry called name (checked, lower case), or NULL. */
const struct metadata_entry *metadata_get(const struct metadata *,
	    const char *);
/*
 * Set name (checked, lower case) to value (len bytes), or remove it
 * (value NULL).  0, METADATA_TOOBIG (value over METADATA_VALUE_MAX) or
 * METADATA_TOOMANY (a new entry beyond METADATA_ENTRIES_MAX).
 */
int	metadata_set(struct metadata *, const char *, const char *, size_t);
/*
 * The entries below name ("name/..."), in order: depth 1 only the
 * children, else all descendants.  Call with *pos = 0 until NULL.
 */
const struct metadata_entry *metadata_next_below(const struct metadata *,
	    const char *, int, size_t *);

#endif
