/*
 * MIME parser for the IMAP server: a message held in memory becomes a
 * tree of parts that records offsets into the caller's buffer (which
 * must outlive the tree) plus the few header values IMAP reports.  It
 * also produces the IMAP BODY, BODYSTRUCTURE and ENVELOPE strings
 * (RFC 3501 7.4.2, RFC 9051) and resolves BODY[section] specs.
 *
 * Tree shape:
 * - the root is the message: hdr = its header, body = its body;
 * - a multipart part has one child per body part (preamble and
 *   epilogue are not parts);
 * - a message/rfc822 part has exactly one child, the encapsulated
 *   message, whose hdr/body are the inner message's header and body
 *   (it is itself a multipart or a single part).
 * Header ranges include the blank line that ends them, as BODY[HEADER]
 * does.  Broken input gives a best-effort tree: nesting deeper than
 * MIME_MAX_DEPTH, more than MIME_MAX_PARTS parts, or a message/rfc822
 * part with a base64 or quoted-printable encoding are reported as
 * application/octet-stream leaves (flag MIME_F_TRUNCATED for the limits);
 * a multipart without a boundary parameter becomes text/plain; a
 * multipart whose boundary never appears has no children (BODYSTRUCTURE
 * then shows one empty text/plain part, as Dovecot does).  A header
 * line that is not a field ends the header (no blank line needed).
 */
#ifndef MAILD_MIME_H
#define MAILD_MIME_H

#include <stddef.h>

#define MIME_MAX_DEPTH		20	/* nesting levels of parts */
#define MIME_MAX_PARTS		1000	/* parts in one message */
#define MIME_MAX_PARAMS		32	/* parameters per header */
#define MIME_MAX_VALUE		4096	/* bytes kept of an unfolded value */
#define MIME_MAX_ADDRS		1000	/* addresses in one ENVELOPE list */

/* Growable, always NUL-terminated output buffer. */
struct mbuf {
	char	*data;
	size_t	 len, size;
};

void	mbuf_add(struct mbuf *, const void *, size_t);
void	mbuf_printf(struct mbuf *, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
void	mbuf_free(struct mbuf *);

struct mime_param {
	struct mime_param	*next;
	char			*name;		/* lowercased */
	char			*value;		/* unquoted */
};

#define MIME_F_MULTIPART	0x01
#define MIME_F_MESSAGE		0x02	/* message/rfc822, has one child */
#define MIME_F_TRUNCATED	0x04	/* depth/part limit hit here */

struct mime_part {
	struct mime_part	*parent;
	struct mime_part	*next;		/* sibling */
	struct mime_part	*child;		/* first child */
	int			 flags;
	int			 depth;		/* root is 0 */
	size_t			 hdr_off, hdr_len;
	size_t			 body_off, body_len;
	size_t			 body_lines;	/* LFs (+1 if unterminated) */
	char			 type[64];	/* lowercased */
	char			 subtype[64];	/* lowercased */
	struct mime_param	*params;	/* Content-Type parameters */
	char			*encoding;	/* Content-Transfer-Encoding */
	char			*id;		/* Content-ID */
	char			*description;	/* Content-Description */
	char			*disposition;	/* its type token */
	struct mime_param	*disp_params;
	char			*language;	/* Content-Language, raw */
	char			*location;	/* Content-Location */
	char			*md5;		/* Content-MD5 */
};

struct mime_msg {
	const char		*buf;		/* not owned */
	size_t			 len;
	struct mime_part	*root;
	size_t			 nparts;
};

/* Parse buf[0..len); never fails on bad input.  Free with mime_free(). */
struct mime_msg	*mime_parse(const char *, size_t);
void		 mime_free(struct mime_msg *);

/*
 * Header helpers.  mime_header_find() looks for the first field called
 * name (case-insensitive) in the header block hdr[0..hdrlen) and points
 * val/vlen at its raw, still folded value (after the colon); it returns
 * 1 if found, 0 if not.  mime_unfold() returns a NUL-terminated copy of
 * a raw value with line breaks before whitespace removed, NUL bytes and
 * stray CR/LF dropped, outer whitespace trimmed and at most
 * MIME_MAX_VALUE bytes kept.  mime_header_get() combines the two
 * (NULL if absent).
 */
int	 mime_header_find(const char *, size_t, const char *, const char **,
	    size_t *);
char	*mime_unfold(const char *, size_t);
char	*mime_header_get(const char *, size_t, const char *);

/*
 * IMAP producers, appending to the mbuf.  ext = 1 gives BODYSTRUCTURE
 * (with extension data), 0 gives BODY.  mime_envelope() takes a header
 * block.  Strings are quoted, or literals when they hold 8-bit bytes.
 */
void	mime_bodystructure(struct mbuf *, const struct mime_msg *, int);
void	mime_envelope(struct mbuf *, const char *, size_t);
/*
 * The addresses of an address-list value (unfolded) as the text SEARCH
 * FROM/TO/CC/BCC match: "Name <user@host>, user@host, group: a@b;",
 * names and comments-as-names included, other comments and routes
 * dropped; into o (replacing it, NUL-terminated).
 */
void	mime_addr_text(struct mbuf *, const char *);

/*
 * BODY[section]: spec is the section text without the brackets, e.g.
 * "", "HEADER", "TEXT", "1", "1.2", "1.2.MIME", "2.HEADER", "2.TEXT"
 * (case-insensitive).  For HEADER.FIELDS pass the "HEADER" form and
 * give the range to mime_header_fields().  Returns 0 and sets off/len
 * (into msg->buf), or -1 for a bad spec or a nonexistent part.
 */
int	mime_section(const struct mime_msg *, const char *, size_t *,
	    size_t *);
/*
 * The part that the numbers at the start of a section spec name ("2.1"
 * of "2.1.MIME"; the root for a spec without numbers), with *rest set
 * to what follows them ("", "MIME", "HEADER", ...); NULL if none.
 */
const struct mime_part *mime_part_find(const struct mime_msg *,
	    const char *, const char **);

/*
 * Append the fields of the header block hdr[0..hdrlen) whose names are
 * (not = 0) or are not (not = 1) among names[0..nnames), raw with their
 * folding, followed by the terminating "\r\n".
 */
void	mime_header_fields(struct mbuf *, const char *, size_t,
	    const char * const *, size_t, int);

/*
 * mime_decode.c: the text of a leaf part, its first max body bytes
 * undone from base64 or quoted-printable and made UTF-8 (from UTF-8,
 * US-ASCII, ISO-8859-1 or Windows-1252; invalid sequences dropped):
 * malloc'd, NUL-terminated, *len set; NULL if the part lies outside the
 * message.  mime_preview(): the PREVIEW (RFC 8970, FUZZY) text of the
 * message, malloc'd UTF-8 without control characters, at most
 * MIME_PREVIEW_CHARS characters, "" if it has no text part.
 */
#define MIME_PREVIEW_CHARS	200
#define MIME_PREVIEW_SCAN	(256 * 1024)	/* body bytes read */
char	*mime_part_text(const struct mime_msg *, const struct mime_part *,
	    size_t, size_t *);
char	*mime_preview(const struct mime_msg *);
/*
 * Transfer decodings (mime_decode.c), lenient as readers are: base64
 * skips what is not in its alphabet and stops at "="; quoted-printable
 * (RFC 2045 6.7) undoes "=XX" and soft line breaks, drops trailing
 * white space, keeps a malformed "=".  out needs n bytes at most; the
 * length written is returned.
 */
size_t	mime_b64_decode(const char *, size_t, char *);
size_t	mime_qp_decode(const char *, size_t, char *);

#endif
