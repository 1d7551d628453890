/*
 * MIME parsing and the IMAP views of a message (mime.c): the input is a
 * message as it lies in a Maildir, parsed into its tree; then BODY and
 * BODYSTRUCTURE, the ENVELOPE of the message and of every
 * message/rfc822 part, every section the first parts can be named by
 * ("2.1.MIME", "1.TEXT", ...), and HEADER.FIELDS (NOT) selections, as
 * a FETCH renders them.
 *
 * Properties: the tree holds together (parents, depth and part limits,
 * ranges inside the message, one child for message/rfc822); sections
 * are inside the message; BODY, BODYSTRUCTURE and ENVELOPE are
 * well-formed IMAP (our own parser reads them as one command).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "fuzz.h"
#include "mime.h"

static size_t	 tree(const struct mime_msg *, const struct mime_part *,
		    const struct mime_part *, int);
static void	 sections(const struct mime_msg *, char *, size_t, int);
static void	 wellformed(const struct mbuf *, const char *);

static void
wellformed(const struct mbuf *o, const char *what)
{
	FUZZ_ASSERT(o->data != NULL && strlen(o->data) <= o->len);
	if (!fuzz_imap_wellformed(o->data, o->len, 0))
		fuzz_fail("%s is not well-formed IMAP: %.*s", what,
		    (int)(o->len > 500 ? 500 : o->len), o->data);
}

/* Check p and its subtree; returns the number of parts in it. */
static size_t
tree(const struct mime_msg *m, const struct mime_part *parent,
    const struct mime_part *p, int depth)
{
	const struct mime_part	*c;
	struct mbuf		 o;
	size_t			 n = 1, nc = 0;

	FUZZ_ASSERT(p->parent == parent && p->depth == depth);
	FUZZ_ASSERT(depth <= MIME_MAX_DEPTH + 1);
	FUZZ_ASSERT(p->hdr_off <= m->len && p->hdr_len <= m->len - p->hdr_off);
	FUZZ_ASSERT(p->body_off <= m->len &&
	    p->body_len <= m->len - p->body_off);
	FUZZ_ASSERT(memchr(p->type, '\0', sizeof(p->type)) != NULL);
	FUZZ_ASSERT(memchr(p->subtype, '\0', sizeof(p->subtype)) != NULL);
	for (c = p->child; c != NULL; c = c->next, nc++)
		n += tree(m, p, c, depth + 1);
	if (p->flags & MIME_F_MESSAGE) {
		FUZZ_ASSERT(nc == 1);
		/* What IMAP says of an encapsulated message's header. */
		memset(&o, 0, sizeof(o));
		mime_envelope(&o, m->buf + p->child->hdr_off,
		    p->child->hdr_len);
		wellformed(&o, "inner ENVELOPE");
		mbuf_free(&o);
	}
	if (!(p->flags & (MIME_F_MESSAGE | MIME_F_MULTIPART)))
		FUZZ_ASSERT(nc == 0);
	return n;
}

/* Every spec "a.b.c" with numbers 1..3 below prefix, plus suffixes. */
static void
sections(const struct mime_msg *m, char *spec, size_t len, int depth)
{
	static const char *const suffix[] = { "", ".MIME", ".HEADER", ".TEXT" };
	const char		*rest;
	size_t			 off, slen, n, i, k;
	int			 w;

	for (i = 1; i <= 3; i++) {
		w = snprintf(spec + len, 64 - len, "%s%zu", len ? "." : "", i);
		n = len + w;
		for (k = 0; k < nitems(suffix); k++) {
			(void)strlcpy(spec + n, suffix[k], 64 - n);
			if (mime_section(m, spec, &off, &slen) == 0)
				FUZZ_ASSERT(off <= m->len &&
				    slen <= m->len - off);
			if (mime_part_find(m, spec, &rest) != NULL)
				FUZZ_ASSERT(rest >= spec && rest <= spec +
				    strlen(spec));
		}
		spec[n] = '\0';
		if (depth < 3)
			sections(m, spec, n, depth + 1);
		spec[len] = '\0';
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "From", "Subject", "To",
	    "Content-Type", "Date" };
	struct mime_msg	*m;
	struct mbuf	 o;
	char		*buf, spec[64], *v;
	size_t		 off, len;

	/* Exactly the message: ASan sees a read past its end. */
	if ((buf = malloc(size > 0 ? size : 1)) == NULL)
		fuzz_fail("malloc");
	memcpy(buf, data, size);
	if ((m = mime_parse(buf, size)) == NULL)
		fuzz_fail("mime_parse returned NULL");
	FUZZ_ASSERT(m->buf == buf && m->len == size && m->root != NULL);
	FUZZ_ASSERT(tree(m, NULL, m->root, 0) == m->nparts);
	FUZZ_ASSERT(m->nparts <= MIME_MAX_PARTS + 1);

	memset(&o, 0, sizeof(o));
	mime_bodystructure(&o, m, 1);
	wellformed(&o, "BODYSTRUCTURE");
	mbuf_free(&o);
	memset(&o, 0, sizeof(o));
	mime_bodystructure(&o, m, 0);
	wellformed(&o, "BODY");
	mbuf_free(&o);
	memset(&o, 0, sizeof(o));
	mime_envelope(&o, buf + m->root->hdr_off, m->root->hdr_len);
	wellformed(&o, "ENVELOPE");
	mbuf_free(&o);

	spec[0] = '\0';
	sections(m, spec, 0, 1);
	FUZZ_ASSERT(mime_section(m, "", &off, &len) == 0 && off == 0 &&
	    len == size);
	if (mime_section(m, "HEADER", &off, &len) == 0)
		FUZZ_ASSERT(off <= size && len <= size - off);
	if (mime_section(m, "TEXT", &off, &len) == 0)
		FUZZ_ASSERT(off <= size && len <= size - off);

	memset(&o, 0, sizeof(o));
	mime_header_fields(&o, buf + m->root->hdr_off, m->root->hdr_len,
	    names, nitems(names), 0);
	mime_header_fields(&o, buf + m->root->hdr_off, m->root->hdr_len,
	    names, nitems(names), 1);
	mbuf_free(&o);
	if ((v = mime_header_get(buf + m->root->hdr_off, m->root->hdr_len,
	    "Subject")) != NULL) {
		FUZZ_ASSERT(strlen(v) <= MIME_MAX_VALUE);
		free(v);
	}
	mime_free(m);
	free(buf);
	return 0;
}
