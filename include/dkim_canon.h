/*
 * DKIM canonicalisation (RFC 6376 3.4), the one implementation the signer
 * (dkim.c) and the verifiers (dkim_verify.c, arc.c) share: a growable
 * buffer, the header block kept from a stream of chunks, its split into
 * fields, the canonical form of one field, and a streaming body
 * canonicaliser that hands its output to a sink (a hash, a buffer).
 *
 * Only CRLF ends a line, in the header as in the body, as the spool
 * stores messages; a lone CR or LF is an ordinary byte.
 */
#ifndef MAILD_DKIM_CANON_H
#define MAILD_DKIM_CANON_H

#include <stddef.h>

#include "dkim.h"

#define DKIM_CANON_BUFSZ	4096

struct dkim_buf {
	char		*p;		/* NUL-terminated once non-empty */
	size_t		 len;
	size_t		 size;
};

/* One header field: name, colon, value with its folding, final CRLF. */
struct dkim_field {
	const char	*p;		/* start of the name */
	size_t		 len;		/* whole field, final CRLF included */
	size_t		 namelen;	/* trailing WSP cut; 0: no colon */
};

typedef void	(*dkim_sink)(void *, const void *, size_t);

/* Streaming body canonicaliser; output is buffered, then handed to out. */
struct dkim_canon {
	int		 relaxed;
	int		 cr;		/* a CR waits for its LF */
	int		 wsp;		/* WSP held back (relaxed) */
	int		 any;		/* something was written */
	size_t		 linelen;	/* bytes written on this line */
	size_t		 empty;		/* empty lines held back */
	dkim_sink	 out;
	void		*arg;
	unsigned char	 obuf[DKIM_CANON_BUFSZ];
	size_t		 olen;
};

/* The header block of a message fed in chunks, at most max bytes. */
struct dkim_hdrbuf {
	struct dkim_buf	 buf;		/* the fields, without the empty line */
	size_t		 max;
	size_t		 linestart;	/* of the line being read */
	int		 inbody;	/* the empty line was seen */
	int		 toobig;
};

void		 dkim_buf_add(struct dkim_buf *, const void *, size_t);
void		 dkim_buf_addstr(struct dkim_buf *, const char *);
void		 dkim_buf_sink(void *, const void *, size_t); /* arg: buf */

/*
 * Keep header bytes until the empty line that ends the header block;
 * returns the bytes consumed (the rest of the chunk is body).  Once over
 * max bytes, toobig is set and nothing more is kept or consumed.
 */
void		 dkim_hdrbuf_init(struct dkim_hdrbuf *, size_t max);
size_t		 dkim_hdrbuf_feed(struct dkim_hdrbuf *, const void *, size_t);
void		 dkim_hdrbuf_free(struct dkim_hdrbuf *);

/*
 * Split a header block into fields (malloc'd array, *nfp set): a field
 * starts on a line that does not start with WSP and goes on over the
 * lines that do.  Continuation lines before the first field belong to
 * nothing.
 */
struct dkim_field *dkim_fields(const char *, size_t, size_t *nfp);
/* Field name equal, ignoring case, to name (len bytes). */
int		 dkim_field_is(const struct dkim_field *, const char *name,
		    size_t len);

/*
 * RFC 6376 3.4.1 and 3.4.2: append the canonical form of one field (name,
 * colon, value; final CRLF optional) to b; it always ends in CRLF.  -1,
 * and nothing appended, if the field has no colon.
 */
int		 dkim_canon_field(struct dkim_buf *, int canon, const char *,
		    size_t);

/* RFC 6376 3.4.3 and 3.4.4, fed in any chunks. */
void		 dkim_canon_init(struct dkim_canon *, int canon, dkim_sink,
		    void *);
void		 dkim_canon_update(struct dkim_canon *, const void *, size_t);
void		 dkim_canon_final(struct dkim_canon *);

#endif
