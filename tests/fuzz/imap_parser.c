/*
 * The IMAP command parser (imap_parser.c) on what a client sends:
 * lines and literals fed as imap_session.c feeds them (fuzz_imap_feed),
 * with the session's limits before login or after it (first byte).
 * Every complete command goes through the helpers the session calls on
 * its arguments: astring, mailbox names with and without wildcards,
 * sequence sets with "*" standing for a number from the input.
 *
 * Properties: the tag is valid, the name upper case; the argument tree
 * is consistent (counts, nesting within the limit, strings terminated);
 * a sequence set is sorted, merged and contains its bounds; a string
 * encoded with imap_encode_string() parses back to the same bytes.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/imap_tag.h"
#include "fuzz.h"
#include "imap_parser.h"

/* imap_session.c's limits, after login and before it. */
static const struct imap_limits lim_auth = {
	.line_max = 64 * 1024,
	.lit_max = 64 * 1024,
	.append_max = 1024 * 1024,
	.lit_total = 1024 * 1024 + 64 * 1024,
	.args_max = 10000,
	.depth_max = 16
};
static const struct imap_limits lim_pre = {
	.line_max = 8192,
	.lit_max = 8192,
	.append_max = 8192,
	.lit_total = 2 * 8192,
	.args_max = 10000,
	.depth_max = 16
};

struct ctx {
	const struct imap_limits	*lim;
	uint32_t			 star;
	int				 encflags;
};

static void	 command(const struct imap_command *, void *);
static size_t	 walk(const struct imap_arg *, size_t, struct ctx *);
static void	 seqset(const char *, uint32_t);
static void	 roundtrip(const char *, size_t, int);

static void
seqset(const char *s, uint32_t star)
{
	struct imap_seqset	 set;
	const char		*err = NULL;
	size_t			 i;

	if (imap_seqset_parse(s, star, &set, &err) == -1) {
		FUZZ_ASSERT(err != NULL && set.r == NULL);
		return;
	}
	for (i = 0; i < set.n; i++) {
		FUZZ_ASSERT(set.r[i].lo >= 1 && set.r[i].lo <= set.r[i].hi);
		if (i > 0)
			FUZZ_ASSERT(set.r[i - 1].hi < UINT32_MAX &&
			    set.r[i - 1].hi + 1 < set.r[i].lo);
		FUZZ_ASSERT(imap_seqset_contains(&set, set.r[i].lo));
		FUZZ_ASSERT(imap_seqset_contains(&set, set.r[i].hi));
		if (set.r[i].lo > 1)
			FUZZ_ASSERT(!imap_seqset_contains(&set,
			    set.r[i].lo - 1));
	}
	imap_seqset_free(&set);
}

struct rt {
	const char	*s;
	size_t		 len;
	int		 ok;
};

static void
roundtrip_cmd(const struct imap_command *cmd, void *arg)
{
	struct rt	*rt = arg;
	const char	*s;
	size_t		 len;

	if (cmd->nargs != 1 || imap_arg_astring(cmd->args, &s, &len) == -1)
		fuzz_fail("encoded string is not one astring");
	if (len != rt->len || memcmp(s, rt->s, len) != 0)
		fuzz_fail("encoded string reads back differently");
	rt->ok = 1;
}

/* Encode s as a reply would, then read it back as a client's string. */
static void
roundtrip(const char *s, size_t len, int flags)
{
	static const struct imap_limits	 big = {
		.line_max = 1024 * 1024, .lit_max = 1024 * 1024,
		.append_max = 1024 * 1024, .lit_total = 1024 * 1024,
		.args_max = 10, .depth_max = 2
	};
	struct imap_parser	*p;
	struct rt		 rt = { s, len, 0 };
	char			*buf;
	size_t			 n, m;

	n = imap_encode_string(NULL, 0, s, len, flags);
	if ((buf = malloc(n + 8)) == NULL)
		fuzz_fail("malloc");
	memcpy(buf, "t X ", 4);
	m = imap_encode_string(buf + 4, n + 1, s, len, flags);
	FUZZ_ASSERT(m == n && buf[4 + n] == '\0');
	memcpy(buf + 4 + n, "\r\n", 2);
	if ((p = imap_parser_new(&big)) == NULL)
		fuzz_fail("imap_parser_new");
	(void)fuzz_imap_feed(p, SIZE_MAX, (const uint8_t *)buf, n + 6,
	    roundtrip_cmd, &rt, 1);
	if (!rt.ok)
		fuzz_fail("encoded string does not parse: %.*s", (int)n,
		    buf + 4);
	imap_parser_free(p);
	free(buf);
}

/* Check a chain of siblings at depth; returns its length. */
static size_t
walk(const struct imap_arg *a, size_t depth, struct ctx *c)
{
	const char	*s;
	size_t		 n = 0, len;

	FUZZ_ASSERT(depth <= c->lim->depth_max);
	for (; a != NULL; a = a->next, n++) {
		switch (a->type) {
		case IMAP_ARG_LIST:
			FUZZ_ASSERT(a->str == NULL);
			FUZZ_ASSERT(walk(a->list, depth + 1, c) == a->nlist);
			continue;
		case IMAP_ARG_ATOM:
		case IMAP_ARG_NIL:
			FUZZ_ASSERT(a->len > 0 && strlen(a->str) == a->len);
			if (a->flags & IMAP_ARGF_SECTION)
				FUZZ_ASSERT(a->namelen <= a->len &&
				    a->section >= a->str &&
				    a->section + a->seclen <= a->str + a->len);
			else
				seqset(a->str, c->star);
			break;
		case IMAP_ARG_QUOTED:
			FUZZ_ASSERT(strlen(a->str) == a->len);
			break;
		case IMAP_ARG_LITERAL:
			FUZZ_ASSERT(a->str[a->len] == '\0');
			if (!(a->flags & IMAP_ARGF_LITERAL8))
				FUZZ_ASSERT(strlen(a->str) == a->len);
			break;
		default:
			fuzz_fail("argument type %d", a->type);
		}
		if (imap_arg_astring(a, &s, &len) == 0) {
			FUZZ_ASSERT(s == a->str && len == a->len);
			if (memchr(s, '\0', len) == NULL)
				roundtrip(s, len, c->encflags);
		}
		(void)imap_arg_mailbox(a, 0, &s);
		(void)imap_arg_mailbox(a, 1, &s);
	}
	return n;
}

static void
command(const struct imap_command *cmd, void *arg)
{
	struct ctx	*c = arg;
	const char	*q;

	FUZZ_ASSERT(cmd != NULL && rfc3501_tag(cmd->tag, IMAP_TAG_MAX));
	FUZZ_ASSERT(strlen(cmd->name) > 0 &&
	    strlen(cmd->name) <= IMAP_NAME_MAX);
	for (q = cmd->name; *q != '\0'; q++)
		FUZZ_ASSERT(!islower((unsigned char)*q));
	FUZZ_ASSERT(walk(cmd->args, 0, c) == cmd->nargs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser	*p;
	struct ctx		 c;

	if (size < 3)
		return 0;
	c.lim = data[0] & 1 ? &lim_auth : &lim_pre;
	c.encflags = data[0] & 2 ? IMAP_ENC_UTF8 : 0;
	c.star = data[1] * 256U + data[2];
	if (data[0] & 4)
		c.star = UINT32_MAX - c.star;
	if ((p = imap_parser_new(c.lim)) == NULL)
		fuzz_fail("imap_parser_new");
	(void)fuzz_imap_feed(p, FUZZ_IMAP_LINE_MAX, data + 3, size - 3,
	    command, &c, 0);
	imap_parser_free(p);
	return 0;
}
