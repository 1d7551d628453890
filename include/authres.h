/*
 * Authentication-Results (RFC 8601): render the field maild prepends at
 * delivery, and read the authserv-id of an incoming one so that every
 * field claiming maild's own id can be removed first (RFC 8601 5).
 *
 * Rendering: one result (resinfo) a line, folded with CRLF + TAB so no
 * line passes 77 columns (TAB counted as 8) unless one word is longer;
 * values that are not RFC 2045 tokens (or local-part@domain where a
 * pvalue allows it) become quoted-strings; comments are escaped; control
 * bytes become '?' or spaces, and so do non-ASCII bytes unless
 * AUTHRES_UTF8 (a message sent with SMTPUTF8, RFC 6532).  The field is
 * at most AUTHRES_MAX bytes: results that would not fit are left out and
 * counted in a final comment.
 *
 *	authres_init(&ar, hostname, 0);
 *	authres_spf(&ar, "pass", "example.com", NULL, NULL);
 *	authres_dkim(&ar, sigs, nsigs);
 *	authres_dmarc(&ar, "pass", "example.com", "reject", NULL);
 *	field = authres_finish(&ar, &len);	"Authentication-Results: ..."
 */
#ifndef MAILD_AUTHRES_H
#define MAILD_AUTHRES_H

#include <stddef.h>

#include "mime.h"

#define AUTHRES_MAX		4096	/* bytes of the whole field */
#define AUTHRES_VALUE_MAX	512	/* bytes of a value, else left out */
#define AUTHRES_COMMENT_MAX	200	/* bytes of a comment, else cut */
#define AUTHRES_DKIM_MAX	32	/* signatures reported */
#define AUTHRES_B_MIN		8	/* header.b characters (RFC 6008) */
#define AUTHRES_ID_MAX		255	/* bytes of an authserv-id read */

#define AUTHRES_UTF8		0x01	/* keep UTF-8 in values, comments */

struct authres {
	struct mbuf	 out;
	size_t		 col;		/* of the end of out */
	size_t		 nresults;
	size_t		 omitted;
	int		 flags;
};

/* ptype.property (e.g. "smtp.mailfrom") and its value. */
struct authres_prop {
	const char	*name;
	const char	*value;
};

void	authres_init(struct authres *, const char *authserv_id, int flags);
/*
 * One resinfo: method=result, an optional comment (NULL: none), then
 * the properties whose value is not NULL or empty.  method and result
 * must be keywords (letters, digits, '-', '_', '.'); -1 if not, or if
 * the result was left out for lack of room.
 */
int	authres_add(struct authres *, const char *method, const char *result,
	    const char *comment, const struct authres_prop *, size_t nprops);
/* spf=result smtp.mailfrom=mailfrom (or smtp.helo=helo when NULL). */
int	authres_spf(struct authres *, const char *result, const char *mailfrom,
	    const char *helo, const char *comment);

struct authres_dkim {
	const char	*result;	/* pass, fail, neutral, ... */
	const char	*d, *s;		/* d= and s= (NULL: unknown) */
	const char	*b;		/* the whole b= value, may be folded */
	const char	*comment;	/* e.g. "rsa-sha256 2048-bit" */
};

/*
 * One dkim= result per signature (at most AUTHRES_DKIM_MAX), header.b
 * the shortest prefix of b= of at least AUTHRES_B_MIN characters that no
 * other signature of the list shares (RFC 6008).
 */
int	authres_dkim(struct authres *, const struct authres_dkim *, size_t);
/* dmarc=result header.from=from policy.dmarc=policy (NULL: left out). */
int	authres_dmarc(struct authres *, const char *result, const char *from,
	    const char *policy, const char *comment);
int	authres_arc(struct authres *, const char *result, const char *comment);
/*
 * The field, "Authentication-Results: id;\r\n\t...\r\n" ("id; none"
 * when nothing was added), malloc'd, NUL-terminated, its length in
 * *len; a resets for another use.
 */
char	*authres_finish(struct authres *, size_t *len);
void	 authres_clear(struct authres *);

/*
 * The authserv-id of one Authentication-Results field, raw as in the
 * message: "Authentication-Results:" (any case, white space before the
 * colon allowed), CFWS, a token or quoted-string (unquoted into out),
 * then CFWS, perhaps a version number, CFWS and ';'.  1 when all of that
 * holds; 0 when the id was read but what follows it is not a version or
 * ';' (out still holds it); -1 when no id could be read (not such a
 * field, an unterminated comment or quote, an id over AUTHRES_ID_MAX or
 * outlen).
 */
int	authres_authserv_id(const char *field, size_t len, char *out,
	    size_t outlen);

#define AUTHRES_RM_MALFORMED	0x01	/* also fields with no readable id */

/*
 * Remove from the header block hdr[0..len) (it may run on into the body,
 * which is kept) every Authentication-Results field whose authserv-id is
 * authserv_id (ASCII case ignored); with AUTHRES_RM_MALFORMED also those
 * authres_authserv_id() returns -1 for.  Works in place in one pass;
 * returns the new length and the number removed in *nremoved.
 */
size_t	authres_remove(char *hdr, size_t len, const char *authserv_id,
	    int flags, size_t *nremoved);

#endif
