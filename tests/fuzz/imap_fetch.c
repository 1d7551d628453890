/*
 * IMAP FETCH (imap_fetch.c): the input is a FETCH or UID FETCH command
 * as a client sends it (lines and literals, fed as imap_session.c feeds
 * them), whose items after the sequence set are compiled as the session
 * compiles them, followed by the message they are rendered for.  Four
 * bytes before the command give the sequence number, UID, MODSEQ and
 * the render flags.
 *
 * Properties: a response is the same whether the MIME tree, ENVELOPE
 * and BODYSTRUCTURE are given (as the mailbox cache gives them) or
 * computed from the message; a refused render leaves the output as it
 * was; a response is well-formed IMAP.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "imap.h"
#include "imap_parser.h"
#include "mime.h"

static const struct imap_limits lim = {
	.line_max = 64 * 1024,
	.lit_max = 64 * 1024,
	.append_max = 64 * 1024,
	.lit_total = 256 * 1024,
	.args_max = 10000,
	.depth_max = 16
};

static int	 render(struct mbuf *, const struct fetch_spec *,
		    const struct fetch_msg *, int);

/* Render after a prefix; a refused one must leave the prefix alone. */
static int
render(struct mbuf *o, const struct fetch_spec *fs,
    const struct fetch_msg *m, int flags)
{
	int	 r;

	memset(o, 0, sizeof(*o));
	mbuf_add(o, "prefix", 6);
	r = fetch_render(o, fs, m, flags);
	FUZZ_ASSERT(r == 0 || r == -1);
	if (r == -1)
		FUZZ_ASSERT(o->len == 6 && strcmp(o->data, "prefix") == 0);
	else
		FUZZ_ASSERT(o->len > 6 + 2 &&
		    memcmp(o->data + o->len - 2, "\r\n", 2) == 0);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser		*p;
	const struct imap_command	*cmd;
	struct fetch_spec		*fs;
	struct fetch_msg		 m;
	struct mime_msg			*mime;
	struct mbuf			 a, b, env, body, bs;
	const char			*err = NULL;
	char				*msg;
	size_t				 used, len;
	int				 flags, ra, rb;

	if (size < 4)
		return 0;
	if ((p = imap_parser_new(&lim)) == NULL)
		fuzz_fail("imap_parser_new");
	used = fuzz_imap_feed(p, FUZZ_IMAP_LINE_MAX, data + 4, size - 4, NULL,
	    NULL, 1);
	if ((cmd = imap_parser_command(p)) == NULL || cmd->args == NULL) {
		imap_parser_free(p);
		return 0;
	}
	if (fetch_compile(cmd->args->next, cmd->uid, &fs, &err) == -1) {
		FUZZ_ASSERT(err != NULL);
		imap_parser_free(p);
		return 0;
	}
	(void)fetch_needs(fs);
	(void)fetch_changedsince(fs);

	len = size - 4 - used;
	if ((msg = malloc(len > 0 ? len : 1)) == NULL)
		fuzz_fail("malloc");
	memcpy(msg, data + 4 + used, len);
	mime = mime_parse(msg, len);
	flags = data[3] & (FETCH_R_FLAGS | FETCH_R_UTF8);

	/* Everything computed from the message alone. */
	memset(&m, 0, sizeof(m));
	m.seq = 1 + data[0];
	m.uid = 1 + data[1] * 1000U;
	m.modseq = data[2];
	m.flags = data[3] & 0x80 ? "(\\Seen $Junk)" : NULL;
	m.internaldate = 1700000000 + (time_t)data[2] * 3600 * 7;
	m.size = len;
	m.data = msg;
	m.len = len;
	ra = render(&a, fs, &m, flags);

	/* As the mailbox cache hands it over. */
	memset(&env, 0, sizeof(env));
	memset(&body, 0, sizeof(body));
	memset(&bs, 0, sizeof(bs));
	mime_envelope(&env, msg + mime->root->hdr_off, mime->root->hdr_len);
	mime_bodystructure(&body, mime, 0);
	mime_bodystructure(&bs, mime, 1);
	m.mime = mime;
	m.envelope = env.data;
	m.body = body.data;
	m.bodystructure = bs.data;
	rb = render(&b, fs, &m, flags);
	if (ra != rb || a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		fuzz_fail("render differs with the MIME tree and cache given");
	if (ra == 0 && a.len > 6 + 4 && memcmp(a.data + 6, "* ", 2) == 0 &&
	    !fuzz_imap_wellformed(a.data + 8, a.len - 8 - 2, FUZZ_IMAP_FLAGS |
	    FUZZ_IMAP_SECTIONS | (flags & FETCH_R_UTF8 ? FUZZ_IMAP_UTF8 : 0)))
		fuzz_fail("FETCH response is not well-formed IMAP: %.*s",
		    (int)(a.len > 500 ? 500 : a.len), a.data);
	mbuf_free(&a);
	mbuf_free(&b);
	mbuf_free(&env);
	mbuf_free(&body);
	mbuf_free(&bs);
	mime_free(mime);
	free(msg);
	fetch_free(fs);
	imap_parser_free(p);
	return 0;
}
