/*
 * SORT (RFC 5256, with SORT=DISPLAY of RFC 5957 and the RETURN options
 * of ESORT, RFC 5267 3) and THREAD (ORDEREDSUBJECT, REFERENCES), and
 * their UID forms.  RETURN (UPDATE) keeps a sort context (CONTEXT=SORT,
 * RFC 5267 4: its ADDTO/REMOVEFROM carry positions; imap_cmd_context.c
 * does the rest).  The messages are chosen by SEARCH's criteria
 * (search.c, charset given apart), their keys come from the mailbox
 * cache (mbox_sortkeys(): a header is read once, not per command), the
 * orders from imap_sort.c and imap_thread.c.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_context.h"
#include "imap_session.h"
#include "imap_sort.h"
#include "search.h"

#define ES_MIN		0x01
#define ES_MAX		0x02
#define ES_COUNT	0x04
#define ES_ALL		0x08
#define ES_PARTIAL	0x10	/* RFC 5267 4.4 */
#define ES_UPDATE	0x20	/* CONTEXT=SORT, RFC 5267 4 */

/*
 * A sort context's order: the keys of each message of its answer (and
 * of each one added later), copied, so a message expunged meanwhile
 * still has its place when REMOVEFROM names its position.
 */
struct sortent {
	uint32_t		 uid;
	int64_t			 arrival;
	uint64_t		 size;
	struct sort_blob	*blob;		/* NULL: no header keys */
};

struct sortctx {
	struct imap_session	*s;
	struct sort_crit	 crit[SORT_CRIT_MAX];
	size_t			 ncrit;
	int			 keys;
	struct sortent		*v;		/* by UID */
	size_t			 n, cap;
};

static int	 s_charset(struct imap_session *, const struct imap_arg *);
static struct sort_item *s_collect(struct imap_session *,
		    const struct imap_arg *, int, size_t *, uint64_t *,
		    struct search_prog **);
static int	 s_return(struct imap_session *, const struct imap_arg *,
		    int *, uint32_t *, uint32_t *);
static struct sortent *sortctx_get(struct sortctx *, uint32_t);
static int	 sortctx_cmp(uint32_t, uint32_t, void *);
static void	 sortctx_free(void *);

/* The charset argument: UTF-8 or US-ASCII (search strings are UTF-8). */
static int
s_charset(struct imap_session *s, const struct imap_arg *a)
{
	const char	*cs;
	size_t		 len;

	if (a == NULL || imap_arg_astring(a, &cs, &len) == -1) {
		imap_tagged(s, "BAD", "Missing charset");
		return -1;
	}
	if (strcasecmp(cs, "UTF-8") != 0 && strcasecmp(cs, "US-ASCII") != 0) {
		imap_tagged(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] "
		    "Unsupported charset");
		return -1;
	}
	return 0;
}

/*
 * The messages of the view that the search criteria a match, with
 * their keys if keys: malloc'd, *np of them, in sequence order, and
 * *modseq the highest MODSEQ among them when the criteria name MODSEQ
 * (else 0).  NULL once the error is answered.  With progp, the compiled
 * criteria are the caller's (a sort context keeps them).
 */
static struct sort_item *
s_collect(struct imap_session *s, const struct imap_arg *a, int keys,
    size_t *np, uint64_t *modseq, struct search_prog **progp)
{
	struct search_prog	*prog;
	struct search_msg	 sm;
	struct sort_item	*items, *it;
	const struct sort_keys	*k;
	const char		*err, *kw[MFLAGS_KW_MAX];
	char			 eid[MBOX_EMAILID_MAX + 1];
	uint32_t		 maxuid;
	size_t			 i, n = 0;
	int			 r, needs, idx;

	*np = 0;
	*modseq = 0;
	maxuid = s->nview > 0 ? s->view[s->nview - 1] : 0;
	r = search_compile(a, s->nview, maxuid, &prog, &err);
	if (r == SEARCH_ERR_CHARSET) {
		imap_tagged(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] %s", err);
		return NULL;
	}
	if (r != SEARCH_OK) {
		imap_tagged(s, "BAD", "%s", err);
		return NULL;
	}
	needs = search_needs(prog);
	if (needs & SEARCH_NEED_MODSEQ)
		imap_condstore(s);
	if ((items = calloc(s->nview + 1, sizeof(*items))) == NULL)
		fatal("calloc");
	for (i = 0; i < s->nview; i++) {
		if ((idx = imap_search_msg(s, i, needs, &sm, kw, eid)) == -1 ||
		    !search_match(prog, &sm))
			continue;
		it = &items[n];
		it->seq = sm.seq;
		it->uid = sm.uid;
		it->arrival = sm.internal_date;
		it->size = sm.size;
		if (keys) {
			/* Gone meanwhile: left out, as SEARCH does. */
			if ((k = mbox_sortkeys(s->mb, idx)) == NULL)
				continue;
			it->k = *k;
		} else {
			it->k.subject = it->k.from = it->k.to = it->k.cc = "";
			it->k.dfrom = it->k.dto = it->k.msgid = "";
			it->k.refs = "";
			it->k.date = sm.internal_date;
		}
		if ((needs & SEARCH_NEED_MODSEQ) && sm.modseq > *modseq)
			*modseq = sm.modseq;
		n++;
	}
	if (progp != NULL)
		*progp = prog;
	else
		search_free(prog);
	*np = n;
	return items;
}

/*
 * RETURN (MIN MAX COUNT ALL PARTIAL UPDATE CONTEXT) of ESORT and
 * CONTEXT=SORT, as SEARCH takes them: the ES_ bits, or -1 (BAD).
 */
static int
s_return(struct imap_session *s, const struct imap_arg *a, int *es,
    uint32_t *plo, uint32_t *phi)
{
	const struct imap_arg	*o;

	*es = 0;
	if (a == NULL || a->type != IMAP_ARG_LIST) {
		imap_tagged(s, "BAD", "RETURN needs a list");
		return -1;
	}
	for (o = a->list; o != NULL; o = o->next) {
		if (o->type != IMAP_ARG_ATOM)
			break;
		if (strcasecmp(o->str, "MIN") == 0)
			*es |= ES_MIN;
		else if (strcasecmp(o->str, "MAX") == 0)
			*es |= ES_MAX;
		else if (strcasecmp(o->str, "COUNT") == 0)
			*es |= ES_COUNT;
		else if (strcasecmp(o->str, "ALL") == 0)
			*es |= ES_ALL;
		else if (strcasecmp(o->str, "CONTEXT") == 0)
			continue;	/* a hint (RFC 5267 4.2) */
		else if (strcasecmp(o->str, "UPDATE") == 0 &&
		    !(*es & ES_UPDATE))
			*es |= ES_UPDATE;
		else if (strcasecmp(o->str, "PARTIAL") == 0 &&
		    !(*es & ES_PARTIAL)) {
			if ((o = o->next) == NULL || o->type != IMAP_ARG_ATOM ||
			    imapctx_partial_parse(o->str, plo, phi) == -1) {
				imap_tagged(s, "BAD", "PARTIAL needs low:high, "
				    "1 .. 4294967295");
				return -1;
			}
			*es |= ES_PARTIAL;
		} else
			break;
	}
	if (o != NULL) {
		imap_tagged(s, "BAD", "Unsupported RETURN option");
		return -1;
	}
	if ((*es & ES_PARTIAL) && (*es & ES_ALL)) {
		imap_tagged(s, "BAD", "PARTIAL and ALL exclude each other");
		return -1;
	}
	if ((*es & ES_UPDATE) && imap_ctx_find(s, s->tag) != NULL) {
		imap_tagged(s, "BAD", "Tag reuse");
		return -1;
	}
	if (*es == 0)
		*es = ES_ALL;	/* RETURN () is ALL (RFC 4731 3.1) */
	return 0;
}

/* The keys of uid, from the copy or (first time) from the mailbox. */
static struct sortent *
sortctx_get(struct sortctx *sc, uint32_t uid)
{
	const struct sort_blob	*b;
	struct sortent		*e;
	size_t			 lo = 0, hi = sc->n, mid;
	long			 idx;
	time_t			 date;
	uint64_t		 size;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (sc->v[mid].uid == uid)
			return &sc->v[mid];
		if (sc->v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (sc->s->mb == NULL || (idx = mbox_find(sc->s->mb, uid)) < 0 ||
	    mbox_date(sc->s->mb, idx, &date) == -1 ||
	    mbox_size(sc->s->mb, idx, &size) == -1)
		return NULL;
	b = NULL;
	if (sc->keys && (b = mbox_sortblob(sc->s->mb, idx)) == NULL)
		return NULL;
	if (sc->n == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 64;
		if ((sc->v = reallocarray(sc->v, sc->cap,
		    sizeof(*sc->v))) == NULL)
			fatal("reallocarray");
	}
	memmove(&sc->v[lo + 1], &sc->v[lo], (sc->n - lo) * sizeof(*sc->v));
	sc->n++;
	e = &sc->v[lo];
	e->uid = uid;
	e->arrival = date;
	e->size = size;
	e->blob = NULL;
	if (b != NULL && (e->blob = sort_blob_new(b->data, b->len)) == NULL)
		fatalx("sort context: keys that do not parse");
	return e;
}

/* Two UIDs of a sort context by its criteria, then by UID. */
static int
sortctx_cmp(uint32_t a, uint32_t b, void *arg)
{
	static const struct sort_keys	 none = { .subject = "", .from = "",
	    .to = "", .cc = "", .dfrom = "", .dto = "", .msgid = "",
	    .refs = "" };
	struct sortctx			*sc = arg;
	struct sortent			*ea, *eb;
	struct sort_item		 ia, ib;
	int				 r;

	if (a == b)
		return 0;
	if ((ea = sortctx_get(sc, a)) == NULL ||
	    (eb = sortctx_get(sc, b)) == NULL ||
	    (ea = sortctx_get(sc, a)) == NULL)	/* b's insert moved it */
		return a < b ? -1 : 1;
	memset(&ia, 0, sizeof(ia));
	memset(&ib, 0, sizeof(ib));
	ia.uid = ia.seq = a;
	ib.uid = ib.seq = b;
	ia.arrival = ea->arrival;
	ib.arrival = eb->arrival;
	ia.size = ea->size;
	ib.size = eb->size;
	ia.k = ea->blob != NULL ? ea->blob->k : none;
	ib.k = eb->blob != NULL ? eb->blob->k : none;
	if (ea->blob == NULL)
		ia.k.date = ea->arrival;
	if (eb->blob == NULL)
		ib.k.date = eb->arrival;
	if ((r = sort_item_cmp(&ia, &ib, sc->crit, sc->ncrit)) != 0)
		return r;
	return a < b ? -1 : 1;	/* RFC 5256: ties by sequence number */
}

static void
sortctx_free(void *arg)
{
	struct sortctx	*sc = arg;
	size_t		 i;

	for (i = 0; i < sc->n; i++)
		free(sc->v[i].blob);
	free(sc->v);
	free(sc);
}

void
imap_cmd_sort(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a = cmd->args;
	struct sort_crit	 crit[SORT_CRIT_MAX];
	struct sort_item	*items;
	struct mbuf		 b;
	struct search_prog	*prog = NULL;
	struct sortctx		*sc;
	const char		*err;
	uint32_t		*nums, plo = 0, phi = 0;
	uint64_t		 modseq;
	size_t			 ncrit, n, i;
	int			 es = 0, esort = 0;

	/* ESORT: SORT RETURN (...) (criteria) charset search. */
	if (a != NULL && a->type == IMAP_ARG_ATOM &&
	    strcasecmp(a->str, "RETURN") == 0) {
		if (s_return(s, a->next, &es, &plo, &phi) == -1)
			return;
		esort = 1;
		a = a->next->next;
	}
	if (sort_parse_criteria(a, crit, &ncrit, &err) == -1) {
		imap_tagged(s, "BAD", "%s", err);
		return;
	}
	if (s_charset(s, a->next) == -1)
		return;
	if ((items = s_collect(s, a->next->next,
	    sort_needs_keys(crit, ncrit), &n, &modseq,
	    (es & ES_UPDATE) ? &prog : NULL)) == NULL)
		return;
	sort_items(items, n, crit, ncrit);
	if ((nums = reallocarray(NULL, n + 1, sizeof(*nums))) == NULL)
		fatal("reallocarray");
	for (i = 0; i < n; i++)
		nums[i] = cmd->uid ? items[i].uid : items[i].seq;
	memset(&b, 0, sizeof(b));
	if (esort) {
		/* MIN and MAX are the first and last in sort order. */
		mbuf_printf(&b, "* ESEARCH (TAG \"%s\")%s", s->tag,
		    cmd->uid ? " UID" : "");
		if ((es & ES_MIN) && n > 0)
			mbuf_printf(&b, " MIN %u", nums[0]);
		if ((es & ES_MAX) && n > 0)
			mbuf_printf(&b, " MAX %u", nums[n - 1]);
		if (es & ES_COUNT)
			mbuf_printf(&b, " COUNT %zu", n);
		if ((es & ES_ALL) && n > 0) {
			/* In sort order: only ascending runs shorten. */
			mbuf_add(&b, " ALL ", 5);
			imap_uidset_text(&b, nums, n);
		}
		if (es & ES_PARTIAL)
			imapctx_partial_text(&b, nums, n, plo, phi);
		if (modseq > 0)
			mbuf_printf(&b, " MODSEQ %llu",
			    (unsigned long long)modseq);
	} else {
		mbuf_add(&b, "* SORT", 6);
		for (i = 0; i < n; i++)
			mbuf_printf(&b, " %u", nums[i]);
		if (modseq > 0)
			mbuf_printf(&b, " (MODSEQ %llu)",
			    (unsigned long long)modseq);
	}
	mbuf_add(&b, "\r\n", 2);
	io_write(s->io, b.data, b.len);
	mbuf_free(&b);
	if (es & ES_UPDATE) {
		/* CONTEXT=SORT: the context keeps the order, by UID. */
		if ((sc = calloc(1, sizeof(*sc))) == NULL)
			fatal("calloc");
		sc->s = s;
		memcpy(sc->crit, crit, ncrit * sizeof(*crit));
		sc->ncrit = ncrit;
		sc->keys = sort_needs_keys(crit, ncrit);
		for (i = 0; i < n; i++) {
			nums[i] = s->view[items[i].seq - 1];
			(void)sortctx_get(sc, nums[i]);
		}
		imap_ctx_new(s, cmd->uid, prog, nums, n, sortctx_cmp, sc,
		    sortctx_free);
	}
	free(items);
	free(nums);
	imap_done(s);
	imap_update(s, cmd->uid);
	imap_tagged(s, "OK", "Sort completed");
}

void
imap_cmd_thread(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a = cmd->args;
	struct sort_item	*items;
	struct mbuf		 b;
	uint64_t		 modseq;
	size_t			 n;
	int			 refs;

	if (a == NULL || a->type != IMAP_ARG_ATOM) {
		imap_tagged(s, "BAD", "THREAD needs an algorithm");
		return;
	}
	if (strcasecmp(a->str, "REFERENCES") == 0)
		refs = 1;
	else if (strcasecmp(a->str, "ORDEREDSUBJECT") == 0)
		refs = 0;
	else {
		imap_tagged(s, "BAD", "Unknown thread algorithm");
		return;
	}
	if (s_charset(s, a->next) == -1)
		return;
	if ((items = s_collect(s, a->next->next, 1, &n, &modseq, NULL)) == NULL)
		return;
	memset(&b, 0, sizeof(b));
	mbuf_add(&b, "* THREAD", 8);
	if (n > 0)
		mbuf_add(&b, " ", 1);
	if (refs)
		thread_references(&b, items, n, cmd->uid);
	else
		thread_orderedsubject(&b, items, n, cmd->uid);
	mbuf_add(&b, "\r\n", 2);
	free(items);
	io_write(s->io, b.data, b.len);
	mbuf_free(&b);
	imap_done(s);
	imap_update(s, cmd->uid);
	imap_tagged(s, "OK", "Thread completed");
}
