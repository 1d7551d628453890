/*
 * IMAP mailbox names <-> Maildir++ folder directories, LIST helpers and
 * the SPECIAL-USE table.
 *
 * Names as the client sends them are modified UTF-7 (RFC 3501 5.1.3),
 * or UTF-8 once the client enabled UTF8=ACCEPT (MAILBOX_UTF8).  Inside
 * the module a name is canonical UTF-8: "INBOX" spelled in upper case,
 * components joined by the IMAP hierarchy separator "/".
 *
 * Why "/" and not Dovecot's "." (LAYOUT=maildir++ default): with "."
 * as separator a folder can never contain a dot ("v1.2", "J.Smith"),
 * and "/" is what most clients and servers show; the dot that Maildir++
 * uses on disk is then just an escaped character.
 *
 * On disk: INBOX is the Maildir itself (".").  Folder "A/B" is the
 * directory ".A.B", each component in modified UTF-7 (as Dovecot stores
 * them, so existing Dovecot Maildirs keep their names) with one
 * deliberate non-canonical form: a "." inside a component is written
 * "&AC4-" (U+002E base64-encoded), so it cannot be taken for the
 * hierarchy marker and a component can never begin with ".".
 * "INBOX/x" is ".INBOX.x"; ".INBOX" alone is refused (it would shadow
 * the root).
 *
 * Refused in any name: empty names and components (leading, trailing
 * or doubled "/"), "." and "..", NUL, C0/C1 control characters and
 * DEL, "\" (a path separator elsewhere), the LIST wildcards "*" and
 * "%", invalid or non-canonical encodings, components over
 * MAILBOX_COMPONENT_MAX bytes on disk and names over MAILBOX_NAME_MAX
 * (UTF-8) or MAILBOX_DIR_MAX (on disk) bytes.  Every dir -> name
 * mapping is checked to map back to the same directory.
 *
 * Functions return 0 on success, -1 on refusal (never fatal on input);
 * errstr, when not NULL, gets a static reason for the client.
 */
#ifndef MAILD_MAILBOX_H
#define MAILD_MAILBOX_H

#include <stddef.h>

#define MAILBOX_SEP		'/'	/* IMAP hierarchy separator */
#define MAILBOX_NAME_MAX	1024	/* canonical UTF-8 name, bytes */
#define MAILBOX_DIR_MAX		1024	/* Maildir++ directory name, bytes */
#define MAILBOX_COMPONENT_MAX	255	/* one on-disk component, bytes */
#define MAILBOX_PATTERN_MAX	1024	/* LIST pattern, bytes */
/* a name in modified UTF-7 can be up to 8/3 of its UTF-8 bytes, +1 */
#define MAILBOX_WIRE_MAX	(MAILBOX_NAME_MAX * 3)

/* flags */
#define MAILBOX_UTF8		0x01	/* client enabled UTF8=ACCEPT */

/* LIST attributes (mailbox_entry.attrs) */
#define MBOX_A_NONEXISTENT	0x01	/* implied parent, no directory */
#define MBOX_A_HASCHILDREN	0x02
#define MBOX_A_HASNOCHILDREN	0x04

/* Modified UTF-7 -> UTF-8, strict (must re-encode to the same bytes). */
int	mailbox_mutf7_decode(const char *, char *, size_t);
/* UTF-8 (validated) -> modified UTF-7. */
int	mailbox_mutf7_encode(const char *, char *, size_t);
/* 1 if the bytes are well-formed UTF-8 (no overlongs, surrogates). */
int	mailbox_utf8_valid(const char *, size_t);

/* Client name (per flags) -> canonical UTF-8 name. */
int	mailbox_name_canon(const char *, int, char *, size_t, const char **);
/* Canonical UTF-8 name -> the form the client reads (per flags). */
int	mailbox_name_export(const char *, int, char *, size_t);
/* Client name (per flags) -> directory relative to the Maildir. */
int	mailbox_name_to_dir(const char *, int, char *, size_t,
	    const char **);
/* Directory entry of the Maildir -> canonical UTF-8 name. */
int	mailbox_dir_to_name(const char *, char *, size_t);
/*
 * Dovecot's "subscriptions" file -> canonical names, one a line (NULL
 * and *outlen 0 when none is valid).  Malloc'd.
 */
char	*mailbox_dovecot_subs(const char *, size_t, size_t *);

/*
 * LIST: feed the entry names of the user's Maildir (the caller reads
 * the directory and passes only sub-directories); INBOX is always
 * there.  Entries that are not valid folders are skipped.  Names are
 * canonical UTF-8, sorted; parents implied by the hierarchy are added
 * with MBOX_A_NONEXISTENT (\NonExistent, or \Noselect in plain LIST).
 */
struct mailbox_entry {
	char	*name;
	int	 attrs;
};

struct mailbox_list {
	struct mailbox_entry	*ent;
	size_t			 n;
	size_t			 cap;
};

void	mailbox_list_init(struct mailbox_list *);
void	mailbox_list_build(struct mailbox_list *, const char *const *,
	    size_t);
void	mailbox_list_free(struct mailbox_list *);

/*
 * LIST pattern match (RFC 3501 6.3.8): "*" matches anything, "%"
 * anything but the separator; "INBOX" is matched case-insensitively.
 * Name and pattern must be in the same form (canonicalize the pattern
 * with mailbox_pattern_canon first).  O(len(name) * len(pattern)).
 * 1 match, 0 no match.
 */
int	mailbox_pattern_canon(const char *, int, char *, size_t);
int	mailbox_match(const char *, const char *);

/* SPECIAL-USE (RFC 6154): the folders created on first login. */
struct mailbox_special {
	const char	*name;		/* canonical name */
	const char	*attr;		/* "\\Sent", ... */
};

extern const struct mailbox_special	mailbox_specials[];
extern const size_t			mailbox_nspecials;

/* The SPECIAL-USE attribute of a canonical name, or NULL. */
const char	*mailbox_special_use(const char *);

#endif
