/*
 * IMAP SEARCH (search.c): the input is a command as a client sends it
 * (lines and literals, fed like imap_session.c does) whose arguments are
 * compiled as search keys, followed by a message the program is run
 * against.  Eight bytes before the command give the mailbox size, the
 * highest UID, the message's flags, size, MODSEQ and internal date.
 *
 * Properties: evaluation gives the same answer with the MIME tree given
 * and with the message parsed on demand, and without the message at all
 * when search_needs() says no content is needed; NOT (keys) matches
 * exactly when keys does not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "imap_parser.h"
#include "mime.h"
#include "search.h"

struct ctx {
	const uint8_t		*hdr;
	const char		*msg;
	size_t			 len;
	int			 done;
};

static void	 command(const struct imap_command *, void *);
static int	 run(const struct search_prog *, const struct search_msg *,
		    const char *, size_t);

static const struct imap_limits lim = {
	.line_max = 64 * 1024,
	.lit_max = 64 * 1024,
	.append_max = 64 * 1024,
	.lit_total = 256 * 1024,
	.args_max = 10000,
	.depth_max = 16
};

/* Match with the tree, on demand, and without content when allowed. */
static int
run(const struct search_prog *prog, const struct search_msg *base,
    const char *msg, size_t len)
{
	struct search_msg	 m = *base;
	struct mime_msg		*mime;
	int			 r, r2;

	mime = mime_parse(msg, len);
	m.data = msg;
	m.len = len;
	m.mime = mime;
	r = search_match(prog, &m);
	m.mime = NULL;
	r2 = search_match(prog, &m);
	if (r != r2)
		fuzz_fail("match with MIME tree %d, parsed on demand %d", r,
		    r2);
	if (!(search_needs(prog) & SEARCH_NEED_CONTENT)) {
		m.data = NULL;
		m.len = 0;
		r2 = search_match(prog, &m);
		if (r != r2)
			fuzz_fail("match with content %d, without %d "
			    "(search_needs() said it was not needed)", r, r2);
	}
	mime_free(mime);
	FUZZ_ASSERT(r == 0 || r == 1);
	return r;
}

static void
command(const struct imap_command *cmd, void *arg)
{
	static const char *const kw[] = { "$Junk", "work", "$Label1" };
	struct ctx		*c = arg;
	struct search_prog	*prog, *nprog;
	struct search_msg	 m;
	struct imap_arg		 not, list;
	const char		*err = NULL;
	uint32_t		 exists, maxuid;
	int			 r, nr;

	c->done = 1;
	exists = c->hdr[0];
	maxuid = c->hdr[1] * 256U + c->hdr[2];
	r = search_compile(cmd->args, exists, maxuid, &prog, &err);
	if (r != SEARCH_OK) {
		FUZZ_ASSERT(r == SEARCH_ERR_SYNTAX || r == SEARCH_ERR_CHARSET);
		FUZZ_ASSERT(err != NULL && prog == NULL);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.seq = exists > 0 ? 1 + c->hdr[3] % exists : 1;
	m.uid = maxuid > 0 ? 1 + c->hdr[4] % maxuid : 1;
	m.modseq = c->hdr[5];
	m.flags = c->hdr[6] & 0x3f;
	m.keywords = kw;
	m.nkeywords = c->hdr[6] >> 6;
	m.internal_date = 1700000000 + (time_t)c->hdr[7] * 86400 * 7;
	m.internal_tzoff = ((long)c->hdr[7] % 27 - 13) * 3600;
	m.size = c->len;
	r = run(prog, &m, c->msg, c->len);

	/* NOT (keys), when the arguments can be a list at all. */
	memset(&list, 0, sizeof(list));
	list.type = IMAP_ARG_LIST;
	list.list = cmd->args;
	list.nlist = cmd->nargs;
	memset(&not, 0, sizeof(not));
	not.type = IMAP_ARG_ATOM;
	not.str = "NOT";
	not.len = 3;
	not.next = &list;
	if (cmd->args != NULL && search_compile(&not, exists, maxuid, &nprog,
	    &err) == SEARCH_OK) {
		nr = run(nprog, &m, c->msg, c->len);
		if (nr == r)
			fuzz_fail("keys and NOT (keys) both gave %d", r);
		search_free(nprog);
	}
	search_free(prog);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser	*p;
	struct ctx		 c;
	size_t			 used;
	char			*msg;

	if (size < 8)
		return 0;
	if ((p = imap_parser_new(&lim)) == NULL)
		fuzz_fail("imap_parser_new");
	memset(&c, 0, sizeof(c));
	c.hdr = data;
	/* The command comes first; what follows it is the message. */
	used = fuzz_imap_feed(p, FUZZ_IMAP_LINE_MAX, data + 8, size - 8, NULL,
	    NULL, 1);
	if (imap_parser_command(p) != NULL) {
		c.len = size - 8 - used;
		if ((msg = malloc(c.len > 0 ? c.len : 1)) == NULL)
			fuzz_fail("malloc");
		memcpy(msg, data + 8 + used, c.len);
		c.msg = msg;
		command(imap_parser_command(p), &c);
		free(msg);
	}
	imap_parser_free(p);
	return 0;
}
