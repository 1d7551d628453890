/*
 * Search contexts (RFC 5267 section 4, CONTEXT=SEARCH): a SEARCH with
 * RETURN (UPDATE) leaves its program and its answer with the session,
 * and the session tells the client how that answer changes as long as
 * the mailbox stays selected, until CANCELUPDATE:
 *
 *	* ESEARCH (TAG "t") [UID] REMOVEFROM (0 set) ADDTO (0 set)
 *
 * When: a result that is expunged leaves it just before the EXPUNGE
 * (or VANISHED) responses that report it, with the numbers still valid
 * (4.3.4); while expunges are held back (FETCH, STORE, SEARCH by
 * sequence number) the message keeps its number and its place in the
 * result.  Flag changes and new messages are reported after EXISTS
 * (4.3.3), at the end of every imap_update(): when a command ends,
 * including our own STORE, and at once in IDLE.
 *
 * Work per mailbox change: nothing unless the mailbox's HIGHESTMODSEQ
 * or last UID moved; then one merge over the view (in memory), and a
 * look at the messages whose MODSEQ is newer than the context's (none
 * when the program tests no flag, keyword or MODSEQ) and at the new
 * ones.  At most IMAP_CTX_MAX contexts per session; all go with the
 * selected mailbox (SELECT, EXAMINE, CLOSE, UNSELECT, logout).
 *
 * CONTEXT=SORT (imap_cmd_sort.c) plugs in here:
 * - SORT RETURN (UPDATE ...) parses its options as SEARCH does and calls
 *   imap_ctx_new() with its answer in sort order, a comparator of two
 *   UIDs by the sort keys (a total order: ties by UID, RFC 5256) and
 *   the comparator's argument (its compiled keys, with a cache of the
 *   keys per UID: the comparator runs log n times per message changed);
 *   free that argument in ctx_free() (add a destructor to the context);
 * - imapctx_res_change() then writes ADDTO / REMOVEFROM pairs with
 *   context positions in place of 0 (4.3.3, 4.3.4); nothing else here
 *   changes: sort keys do not depend on flags, so a flag change still
 *   only adds or removes, and an expunge only removes;
 * - PARTIAL on a sorted answer: imapctx_partial_text() takes a list in
 *   any order; MIN / MAX are the first and last in sort order (ESORT);
 * - advertise CONTEXT=SORT beside SORT and ESORT.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "imap_context.h"
#include "imap_session.h"
#include "mflags.h"
#include "mime.h"
#include "search.h"

struct imap_ctx {
	LIST_ENTRY(imap_ctx)	 entry;
	char			 tag[IMAP_TAG_MAX + 1];
	int			 uid;		/* UID SEARCH: UIDs sent */
	struct search_prog	*prog;		/* sequence sets as UIDs */
	int			 needs;
	int			 flagdep;	/* search_volatile() */
	struct imapctx_res	 res;
	uint64_t		 modseq;	/* changes looked at up to */
	uint64_t		 xmodseq;	/* expunges looked at up to */
	uint32_t		 lastuid;	/* messages looked at up to */
	void			(*argfree)(void *);	/* of res's cmp */
	void			*arg;
};

static void	ctx_free(struct imap_session *, struct imap_ctx *);
static uint32_t	ctx_seq(uint32_t, void *);
static int	ctx_match(struct imap_session *, struct imap_ctx *, size_t);
static void	ctx_send(struct imap_session *, struct imap_ctx *,
		    uint32_t *, size_t, uint32_t *, size_t);
static size_t	view_after(const struct imap_session *, uint32_t);

struct imap_ctx *
imap_ctx_find(struct imap_session *s, const char *tag)
{
	struct imap_ctx	*c;

	LIST_FOREACH(c, &s->ctxs, entry)
		if (strcmp(c->tag, tag) == 0)
			return c;
	return NULL;
}

void
imap_ctx_new(struct imap_session *s, int uid, struct search_prog *prog,
    const uint32_t *uids, size_t n, imapctx_cmp_fn cmp, void *arg,
    void (*argfree)(void *))
{
	struct imap_ctx	*c;

	if (s->nctx >= IMAP_CTX_MAX || s->mb == NULL) {
		/* 4.3.1: the other return options were answered. */
		imap_printf(s, "* NO [NOUPDATE \"%s\"] Too many search "
		    "contexts (%d)\r\n", s->tag, IMAP_CTX_MAX);
		search_free(prog);
		if (argfree != NULL)
			argfree(arg);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("calloc");
	strlcpy(c->tag, s->tag, sizeof(c->tag));
	c->uid = uid;
	search_seq2uid(prog, s->view, s->nview);
	c->prog = prog;
	c->needs = search_needs(prog);
	c->flagdep = search_volatile(prog);
	imapctx_res_init(&c->res, cmp, arg);
	imapctx_res_set(&c->res, uids, n);
	c->argfree = argfree;
	c->arg = arg;
	c->modseq = c->xmodseq = mbox_highestmodseq(s->mb);
	c->lastuid = s->nview > 0 ? s->view[s->nview - 1] : 0;
	LIST_INSERT_HEAD(&s->ctxs, c, entry);
	s->nctx++;
}

static void
ctx_free(struct imap_session *s, struct imap_ctx *c)
{
	LIST_REMOVE(c, entry);
	s->nctx--;
	search_free(c->prog);
	imapctx_res_free(&c->res);
	if (c->argfree != NULL)
		c->argfree(c->arg);
	free(c);
}

void
imap_ctx_free_all(struct imap_session *s)
{
	while (!LIST_EMPTY(&s->ctxs))
		ctx_free(s, LIST_FIRST(&s->ctxs));
}

/* The sequence number the client knows a UID by. */
static uint32_t
ctx_seq(uint32_t uid, void *arg)
{
	return imap_view_seq(arg, uid);
}

/* Does view entry i match now: 1, 0, or -1 (gone, unreadable). */
static int
ctx_match(struct imap_session *s, struct imap_ctx *c, size_t i)
{
	struct search_msg	 sm;
	const char		*kw[MFLAGS_KW_MAX];
	char			 eid[MBOX_EMAILID_MAX + 1];

	if (imap_search_msg(s, i, c->needs, &sm, kw, eid) == -1)
		return -1;
	return search_match(c->prog, &sm);
}

static void
ctx_send(struct imap_session *s, struct imap_ctx *c, uint32_t *gone,
    size_t ngone, uint32_t *added, size_t nadded)
{
	struct mbuf	 b;
	size_t		 head;

	if (ngone == 0 && nadded == 0)
		return;
	memset(&b, 0, sizeof(b));
	mbuf_printf(&b, "* ESEARCH (TAG \"%s\")%s", c->tag,
	    c->uid ? " UID" : "");
	head = b.len;
	imapctx_res_change(&c->res, gone, ngone, added, nadded,
	    c->uid ? NULL : ctx_seq, s, &b);
	if (b.len > head) {
		mbuf_add(&b, "\r\n", 2);
		io_write(s->io, b.data, b.len);
	}
	mbuf_free(&b);
}

/* Index of the first view entry above uid. */
static size_t
view_after(const struct imap_session *s, uint32_t uid)
{
	size_t	 lo = 0, hi = s->nview, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->view[mid] <= uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void
imap_ctx_expunge(struct imap_session *s)
{
	struct imap_ctx	*c;
	uint32_t	*gone;
	uint64_t	 hms;
	size_t		 i, n;

	if (s->mb == NULL)
		return;
	hms = mbox_highestmodseq(s->mb);
	LIST_FOREACH(c, &s->ctxs, entry) {
		if (c->xmodseq == hms)
			continue;	/* nothing expunged since */
		c->xmodseq = hms;
		if ((gone = calloc(c->res.n + 1, sizeof(*gone))) == NULL)
			fatal("calloc");
		for (i = 0, n = 0; i < c->res.n; i++)
			if (mbox_find(s->mb, c->res.v[i]) < 0)
				gone[n++] = c->res.v[i];
		ctx_send(s, c, gone, n, NULL, 0);
		free(gone);
	}
}

void
imap_ctx_update(struct imap_session *s)
{
	const struct mbox_msg	*m;
	struct imap_ctx		*c;
	uint32_t		*gone, *added, last, cnt, j;
	uint64_t		 hms;
	size_t			 i, ngone, nadded;
	int			 r, in;

	if (s->mb == NULL || LIST_EMPTY(&s->ctxs))
		return;
	hms = mbox_highestmodseq(s->mb);
	cnt = mbox_count(s->mb);
	last = s->nview > 0 ? s->view[s->nview - 1] : 0;
	LIST_FOREACH(c, &s->ctxs, entry) {
		if (c->modseq == hms && last <= c->lastuid)
			continue;
		if ((gone = calloc(s->nview + 1, sizeof(*gone))) == NULL ||
		    (added = calloc(s->nview + 1, sizeof(*added))) == NULL)
			fatal("calloc");
		ngone = nadded = 0;
		/* Flag changes: the MODSEQs above the context's. */
		i = c->flagdep && c->modseq != hms ? 0 :
		    view_after(s, c->lastuid);
		for (j = 0; i < s->nview; i++) {
			in = 0;
			if (s->view[i] <= c->lastuid) {
				while (j < cnt &&
				    mbox_msg(s->mb, j)->uid < s->view[i])
					j++;
				if (j == cnt || (m = mbox_msg(s->mb,
				    j))->uid != s->view[i])
					continue;	/* expunge pending */
				if (m->modseq <= c->modseq)
					continue;
				in = imapctx_res_find(&c->res, m->uid) >= 0;
			}
			if ((r = ctx_match(s, c, i)) == -1)
				continue;
			if (r && !in)
				added[nadded++] = s->view[i];
			else if (!r && in)
				gone[ngone++] = s->view[i];
		}
		c->modseq = hms;
		if (last > c->lastuid)
			c->lastuid = last;
		ctx_send(s, c, gone, ngone, added, nadded);
		free(gone);
		free(added);
	}
}

void
imap_cmd_cancelupdate(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a;
	struct imap_ctx		*c;

	if (cmd->nargs == 0) {
		imap_tagged(s, "BAD", "CANCELUPDATE takes quoted tags");
		return;
	}
	for (a = cmd->args; a != NULL; a = a->next)
		if (a->type != IMAP_ARG_QUOTED) {
			imap_tagged(s, "BAD", "CANCELUPDATE takes quoted tags");
			return;
		}
	/* All or nothing: an unknown tag cancels none. */
	for (a = cmd->args; a != NULL; a = a->next)
		if (imap_ctx_find(s, a->str) == NULL) {
			imap_tagged(s, "NO", "No search context with that "
			    "tag");
			return;
		}
	for (a = cmd->args; a != NULL; a = a->next)
		if ((c = imap_ctx_find(s, a->str)) != NULL)
			ctx_free(s, c);
	imap_update(s, 1);
	imap_tagged(s, "OK", "Updates cancelled");
}
