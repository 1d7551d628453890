/*
 * IMAP commands on the messages of the selected mailbox, by sequence
 * number or UID: EXPUNGE, SEARCH (and ESEARCH), FETCH (output written
 * in chunks as the client reads it), STORE (with UNCHANGEDSINCE), COPY
 * and MOVE.  None of them reports an expunge unless the protocol allows
 * it there (imap_update()).  FETCH and SEARCH get EMAILID, the save date
 * and PREVIEW from the open mailbox (imap_mbox.h).
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap_context.h"
#include "imap_session.h"
#include "mailbox.h"
#include "proc.h"
#include "quota.h"
#include "search.h"

static int	s_seqset(struct imap_session *, const struct imap_arg *, int,
		    uint32_t **, size_t *);
static int	s_store(struct imap_session *, uint32_t, uint32_t, uint32_t);
static int	s_search_msg(struct imap_session *, size_t, int,
		    struct search_msg *, const char **, char *);

/* Flags of a list (or one flag): system bits and keyword names. */
int
imap_parse_flags(const struct imap_arg *a, uint32_t *sys, const char **kws,
    size_t *nkw)
{
	const struct imap_arg	*f;
	uint32_t		 bit;

	*sys = 0;
	*nkw = 0;
	f = a->type == IMAP_ARG_LIST ? a->list : a;
	for (; f != NULL; f = a->type == IMAP_ARG_LIST ? f->next : NULL) {
		if (f->type != IMAP_ARG_ATOM && f->type != IMAP_ARG_NIL)
			return -1;
		if (f->str[0] == '\\') {
			if (strcasecmp(f->str, "\\Recent") == 0)
				continue;
			if ((bit = mflags_imap_flag(f->str)) == 0 ||
			    !(bit & MFLAG_IMAP_MASK))
				return -1;
			*sys |= bit;
		} else if (!mflags_kw_valid(f->str))
			return -1;
		else if (*nkw < MFLAGS_KW_MAX)
			kws[(*nkw)++] = f->str;
	}
	return 0;
}

/* The UIDs of the view that a sequence or UID set names, ascending. */
static int
s_seqset(struct imap_session *s, const struct imap_arg *a, int uid,
    uint32_t **out, size_t *nout)
{
	struct imap_seqset	 set;
	const char		*err;
	uint32_t		*u = NULL, star, lo;
	size_t			 i, n = 0, k;

	*out = NULL;
	*nout = 0;
	if (a == NULL || a->type != IMAP_ARG_ATOM) {
		imap_tagged(s, "BAD", "Invalid sequence set");
		return -1;
	}
	star = uid ? (s->nview > 0 ? s->view[s->nview - 1] : 0) : s->nview;
	if (imap_seqset_parse(a->str, star, &set, &err) == -1) {
		imap_tagged(s, "BAD", "%s", err);
		return -1;
	}
	if (set.searchres) {
		imap_seqset_free(&set);
		imap_tagged(s, "BAD", "$ is not supported");
		return -1;
	}
	if (!uid && set.n > 0 && set.r[set.n - 1].hi > s->nview) {
		imap_seqset_free(&set);
		imap_tagged(s, "BAD", "Invalid message sequence number");
		return -1;
	}
	if ((u = calloc(s->nview + 1, sizeof(*u))) == NULL)
		fatal("calloc");
	for (i = 0; i < set.n; i++) {
		if (!uid) {
			for (lo = set.r[i].lo; lo <= set.r[i].hi && lo > 0;
			    lo++)
				u[n++] = s->view[lo - 1];
			continue;
		}
		/* First view entry >= lo, by binary search. */
		size_t	 l = 0, h = s->nview;

		while (l < h) {
			k = l + (h - l) / 2;
			if (s->view[k] < set.r[i].lo)
				l = k + 1;
			else
				h = k;
		}
		for (k = l; k < s->nview && s->view[k] <= set.r[i].hi; k++)
			u[n++] = s->view[k];
	}
	imap_seqset_free(&set);
	*out = u;
	*nout = n;
	return 0;
}

/*
 * Our own flag change, which the command reports itself: if the view
 * was up to date, it stays so (no second FETCH for it at the next
 * update); changes by others keep waiting to be reported.
 */
static int
s_store(struct imap_session *s, uint32_t idx, uint32_t sys, uint32_t kw)
{
	int	 uptodate, r;

	uptodate = s->seen_modseq == mbox_highestmodseq(s->mb);
	r = mbox_store(s->mb, idx, sys, kw);
	if (uptodate)
		s->seen_modseq = mbox_highestmodseq(s->mb);
	return r;
}

void
imap_cmd_expunge(struct imap_session *s, const struct imap_command *cmd)
{
	const struct mbox_msg	*m;
	struct quota_txn	 q;
	uint32_t		*uids = NULL;
	uint64_t		 size;
	int64_t			 freed = 0, count = 0;
	size_t			 n = 0, k;
	uint32_t		 i;
	int			 qon;

	if (cmd->nargs != (cmd->uid ? 1 : 0)) {
		imap_tagged(s, "BAD", "Wrong number of arguments");
		return;
	}
	if (s->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (cmd->uid && s_seqset(s, cmd->args, 1, &uids, &n) == -1)
		return;
	qon = imap_quota_open(s, &q);
	for (i = mbox_count(s->mb); i > 0; i--) {
		m = mbox_msg(s->mb, i - 1);
		if (!(m->sys & MFLAG_DELETED) || imap_view_seq(s, m->uid) == 0)
			continue;
		if (cmd->uid) {
			for (k = 0; k < n && uids[k] != m->uid; k++)
				;
			if (k == n)
				continue;
		}
		if (mbox_quota_size(s->mb, i - 1, &size) == -1)
			size = 0;
		if (mbox_expunge(s->mb, i - 1) == 0) {
			freed += (int64_t)size;
			count++;
		}
	}
	imap_quota_done(s, &q, qon, -freed, -count);
	free(uids);
	(void)mbox_commit(s->mb);
	imap_mbox_changed(s->mb, s);
	imap_update(s, 1);
	imap_tagged(s, "OK", "Expunge completed");
}

/* -- SEARCH -- */

#define ES_MIN		0x01
#define ES_MAX		0x02
#define ES_COUNT	0x04
#define ES_ALL		0x08
#define ES_PARTIAL	0x10	/* RFC 5267 4.4 */
#define ES_UPDATE	0x20	/* RFC 5267 4.3: a search context */

/*
 * Fill what SEARCH needs of view entry i (eid: MBOX_EMAILID_MAX + 1
 * bytes for its EMAILID): its index, -1 if it is gone.
 */
static int
s_search_msg(struct imap_session *s, size_t i, int needs,
    struct search_msg *sm, const char **kw, char *eid)
{
	const struct mbox_msg	*m;
	const struct mime_msg	*mime;
	long			 idx;
	int			 k;

	if ((idx = mbox_find(s->mb, s->view[i])) < 0)
		return -1;
	m = mbox_msg(s->mb, idx);
	memset(sm, 0, sizeof(*sm));
	sm->seq = i + 1;
	sm->uid = m->uid;
	sm->modseq = m->modseq;
	sm->flags = ((m->sys & MFLAG_SEEN) ? SEARCH_FL_SEEN : 0) |
	    ((m->sys & MFLAG_ANSWERED) ? SEARCH_FL_ANSWERED : 0) |
	    ((m->sys & MFLAG_FLAGGED) ? SEARCH_FL_FLAGGED : 0) |
	    ((m->sys & MFLAG_DELETED) ? SEARCH_FL_DELETED : 0) |
	    ((m->sys & MFLAG_DRAFT) ? SEARCH_FL_DRAFT : 0) |
	    (imap_recent(s, m->uid) ? SEARCH_FL_RECENT : 0);
	for (k = 0; k < MFLAGS_KW_MAX; k++)
		if ((m->kw & (1U << k)) && mbox_keyword(s->mb, k) != NULL)
			kw[sm->nkeywords++] = mbox_keyword(s->mb, k);
	sm->keywords = kw;
	if (mbox_date(s->mb, idx, &sm->internal_date) == -1 ||
	    mbox_size(s->mb, idx, &sm->size) == -1)
		return -1;
	{
		struct tm	 tm;

		if (localtime_r(&sm->internal_date, &tm) != NULL)
			sm->internal_tzoff = tm.tm_gmtoff;
		sm->save_date = mbox_savedate(s->mb, idx);
		if (sm->save_date != 0 &&
		    localtime_r(&sm->save_date, &tm) != NULL)
			sm->save_tzoff = tm.tm_gmtoff;
	}
	if ((needs & SEARCH_NEED_EMAILID) &&
	    mbox_emailid(s->mb, idx, eid, MBOX_EMAILID_MAX + 1) == 0)
		sm->emailid = eid;
	if (needs & SEARCH_NEED_BODY) {
		if (mbox_read(s->mb, idx, &sm->data, &sm->len, &mime) == -1)
			return -1;
		sm->mime = mime;
	} else if (needs & SEARCH_NEED_HEADER) {
		/* Header keys only: never read or parse whole messages. */
		if (mbox_header(s->mb, idx, &sm->data, &sm->len) == -1)
			return -1;
	}
	return (int)idx;
}

/* What a search context or SORT needs to look at a message. */
int
imap_search_msg(struct imap_session *s, size_t i, int needs,
    struct search_msg *sm, const char **kw, char *eid)
{
	return s_search_msg(s, i, needs, sm, kw, eid);
}

void
imap_cmd_search(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a = cmd->args, *o;
	struct search_prog	*prog;
	struct search_msg	 sm;
	struct mbuf		 b;
	const char		*err, *kw[MFLAGS_KW_MAX];
	char			 eid[MBOX_EMAILID_MAX + 1];
	uint32_t		*hits = NULL, maxuid, plo = 0, phi = 0;
	uint64_t		 maxmod = 0, firstmod = 0, lastmod = 0;
	size_t			 i, n = 0;
	int			 r, needs, es = 0, esearch = 0;

	/* ESEARCH (RFC 4731): SEARCH RETURN (MIN MAX COUNT ALL) ... */
	if (a != NULL && a->type == IMAP_ARG_ATOM &&
	    strcasecmp(a->str, "RETURN") == 0) {
		if (a->next == NULL || a->next->type != IMAP_ARG_LIST) {
			imap_tagged(s, "BAD", "RETURN needs a list");
			return;
		}
		for (o = a->next->list; o != NULL; o = o->next) {
			if (o->type != IMAP_ARG_ATOM)
				break;
			if (strcasecmp(o->str, "MIN") == 0)
				es |= ES_MIN;
			else if (strcasecmp(o->str, "MAX") == 0)
				es |= ES_MAX;
			else if (strcasecmp(o->str, "COUNT") == 0)
				es |= ES_COUNT;
			else if (strcasecmp(o->str, "ALL") == 0)
				es |= ES_ALL;
			else if (strcasecmp(o->str, "CONTEXT") == 0)
				continue;	/* a hint (RFC 5267 4.2) */
			else if (strcasecmp(o->str, "UPDATE") == 0 &&
			    !(es & ES_UPDATE))
				es |= ES_UPDATE;
			else if (strcasecmp(o->str, "PARTIAL") == 0 &&
			    !(es & ES_PARTIAL)) {
				if ((o = o->next) == NULL ||
				    o->type != IMAP_ARG_ATOM ||
				    imapctx_partial_parse(o->str, &plo,
				    &phi) == -1) {
					imap_tagged(s, "BAD", "PARTIAL needs "
					    "low:high, 1 .. 4294967295");
					return;
				}
				es |= ES_PARTIAL;
			} else
				break;
		}
		if (o != NULL) {
			imap_tagged(s, "BAD", "Unsupported RETURN option");
			return;
		}
		if ((es & ES_PARTIAL) && (es & ES_ALL)) {
			imap_tagged(s, "BAD", "PARTIAL and ALL exclude each "
			    "other");
			return;
		}
		/* RFC 5267 4.3: an UPDATE tag names one context. */
		if ((es & ES_UPDATE) && imap_ctx_find(s, s->tag) != NULL) {
			imap_tagged(s, "BAD", "Tag reuse");
			return;
		}
		if (es == 0)
			es = ES_ALL;
		esearch = 1;
		a = a->next->next;
	}
	/* IMAP4rev2 answers every SEARCH with ESEARCH (RFC 9051 6.4.4). */
	if (!esearch && (s->enabled & EN_REV2)) {
		esearch = 1;
		es = ES_ALL;
	}
	maxuid = s->nview > 0 ? s->view[s->nview - 1] : 0;
	r = search_compile(a, s->nview, maxuid, &prog, &err);
	if (r == SEARCH_ERR_CHARSET) {
		imap_tagged(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] %s", err);
		return;
	}
	if (r != SEARCH_OK) {
		imap_tagged(s, "BAD", "%s", err);
		return;
	}
	needs = search_needs(prog);
	if (needs & SEARCH_NEED_MODSEQ)
		imap_condstore(s);
	if ((hits = calloc(s->nview + 1, sizeof(*hits))) == NULL)
		fatal("calloc");
	for (i = 0; i < s->nview; i++) {
		if (s_search_msg(s, i, needs, &sm, kw, eid) == -1)
			continue;
		if (!search_match(prog, &sm))
			continue;
		hits[n++] = cmd->uid ? sm.uid : sm.seq;
		if (n == 1)
			firstmod = sm.modseq;
		lastmod = sm.modseq;
		if (sm.modseq > maxmod)
			maxmod = sm.modseq;
	}
	/*
	 * MIN or MAX alone report the MODSEQ of that message, both the
	 * higher of the two (RFC 7162 3.1.5, RFC 4731 3.2).
	 */
	if (esearch && (es & (ES_MIN | ES_MAX)) &&
	    (es & (ES_COUNT | ES_ALL | ES_PARTIAL)) == 0)
		maxmod = (es & ES_MIN) && (es & ES_MAX) ?
		    (firstmod > lastmod ? firstmod : lastmod) :
		    (es & ES_MIN) ? firstmod : lastmod;
	memset(&b, 0, sizeof(b));
	if (esearch) {
		mbuf_printf(&b, "* ESEARCH (TAG \"%s\")%s", s->tag,
		    cmd->uid ? " UID" : "");
		if ((es & ES_MIN) && n > 0)
			mbuf_printf(&b, " MIN %u", hits[0]);
		if ((es & ES_MAX) && n > 0)
			mbuf_printf(&b, " MAX %u", hits[n - 1]);
		if (es & ES_COUNT)
			mbuf_printf(&b, " COUNT %zu", n);
		if ((es & ES_ALL) && n > 0) {
			mbuf_add(&b, " ALL ", 5);
			imap_uidset_text(&b, hits, n);
		}
		if (es & ES_PARTIAL)
			imapctx_partial_text(&b, hits, n, plo, phi);
		if ((needs & SEARCH_NEED_MODSEQ) && n > 0)
			mbuf_printf(&b, " MODSEQ %llu",
			    (unsigned long long)maxmod);
	} else {
		mbuf_add(&b, "* SEARCH", 8);
		for (i = 0; i < n; i++)
			mbuf_printf(&b, " %u", hits[i]);
		if ((needs & SEARCH_NEED_MODSEQ) && n > 0)
			mbuf_printf(&b, " (MODSEQ %llu)",
			    (unsigned long long)maxmod);
	}
	mbuf_add(&b, "\r\n", 2);
	io_write(s->io, b.data, b.len);
	mbuf_free(&b);
	if (es & ES_UPDATE) {
		/* The context keeps the program and the answer, by UID. */
		for (i = 0; !cmd->uid && i < n; i++)
			hits[i] = s->view[hits[i] - 1];
		imap_ctx_new(s, cmd->uid, prog, hits, n, NULL, NULL, NULL);
	} else
		search_free(prog);
	free(hits);
	imap_done(s);
	imap_update(s, cmd->uid);
	imap_tagged(s, "OK", "Search completed");
}

/* -- FETCH -- */

void
imap_cmd_fetch(struct imap_session *s, const struct imap_command *cmd)
{
	struct fetchjob		*fj;
	struct fetch_spec	*spec;
	struct imap_seqset	 set;
	const char		*err;

	if (cmd->nargs < 2 || cmd->nargs > 3) {
		imap_tagged(s, "BAD", "FETCH takes a set and items");
		return;
	}
	if (fetch_compile(cmd->args->next, cmd->uid, &spec, &err) == -1) {
		imap_tagged(s, "BAD", "%s", err);
		return;
	}
	if ((fetch_needs(spec) & FETCH_VANISHED) &&
	    !(s->enabled & EN_QRESYNC)) {
		fetch_free(spec);
		imap_tagged(s, "BAD", "VANISHED needs QRESYNC enabled");
		return;
	}
	if ((fj = calloc(1, sizeof(*fj))) == NULL)
		fatal("calloc");
	fj->spec = spec;
	fj->uid = cmd->uid;
	fj->needs = fetch_needs(spec);
	fj->changedsince = fetch_changedsince(spec);
	if (s_seqset(s, cmd->args, cmd->uid, &fj->uids, &fj->n) == -1) {
		fetch_free(spec);
		free(fj);
		return;
	}
	if (fj->needs & (FETCH_NEED_MODSEQ | FETCH_CHANGEDSINCE))
		imap_condstore(s);
	/* UID FETCH ... (CHANGEDSINCE n VANISHED): what left since n. */
	if ((fj->needs & FETCH_VANISHED) &&
	    imap_seqset_parse(cmd->args->str, mbox_uidnext(s->mb) - 1, &set,
	    &err) == 0) {
		imap_vanished_earlier(s, fj->changedsince, &set);
		imap_seqset_free(&set);
	}
	s->fj = fj;
	imap_fetch_run(s);
}

/* One message of a FETCH; -1 when its data could not be read. */
int
imap_fetch_one(struct imap_session *s, struct fetchjob *fj, uint32_t uid,
    int *cte)
{
	const struct mbox_msg	*m;
	struct fetch_msg	 fm;
	struct mbuf		 b;
	char			 flags[MFLAGS_KW_MAX *
				    (MFLAGS_KW_NAME_MAX + 1) + 64];
	char			 eid[MBOX_EMAILID_MAX + 1];
	long			 idx;
	int			 rflags = 0;

	if ((idx = mbox_find(s->mb, uid)) < 0)
		return 0;	/* expunged by another session meanwhile */
	m = mbox_msg(s->mb, idx);
	if ((fj->needs & FETCH_CHANGEDSINCE) && m->modseq <= fj->changedsince)
		return 0;
	memset(&fm, 0, sizeof(fm));
	if ((fj->needs & FETCH_SETS_SEEN) && !s->readonly &&
	    !(m->sys & MFLAG_SEEN)) {
		if (s_store(s, idx, m->sys | MFLAG_SEEN, m->kw) == 1)
			rflags |= FETCH_R_FLAGS;
		if ((idx = mbox_find(s->mb, uid)) < 0)
			return 0;
		m = mbox_msg(s->mb, idx);
	}
	fm.seq = imap_view_seq(s, uid);
	fm.uid = uid;
	fm.modseq = m->modseq;
	imap_flags_render(s->mb, (m->sys & ~MFLAG_RECENT) |
	    (imap_recent(s, uid) ? MFLAG_RECENT : 0), m->kw, flags,
	    sizeof(flags));
	fm.flags = flags;
	if ((fj->needs & FETCH_NEED_DATE) &&
	    mbox_date(s->mb, idx, &fm.internaldate) == -1)
		return -1;
	if ((fj->needs & FETCH_NEED_SIZE) &&
	    mbox_size(s->mb, idx, &fm.size) == -1)
		return -1;
	if ((fj->needs & FETCH_NEED_ENVELOPE) &&
	    (fm.envelope = mbox_envelope(s->mb, idx)) == NULL)
		return -1;
	if ((fj->needs & FETCH_NEED_BODY) &&
	    (fm.body = mbox_bodystructure(s->mb, idx, 0)) == NULL)
		return -1;
	if ((fj->needs & FETCH_NEED_BODYSTRUCTURE) &&
	    (fm.bodystructure = mbox_bodystructure(s->mb, idx, 1)) == NULL)
		return -1;
	if ((fj->needs & FETCH_NEED_EMAILID) &&
	    mbox_emailid(s->mb, idx, eid, sizeof(eid)) == 0)
		fm.emailid = eid;
	if (fj->needs & FETCH_NEED_SAVEDATE)
		fm.savedate = mbox_savedate(s->mb, idx);
	/* LAZY: NIL unless known, or the content is read anyway. */
	if ((fj->needs & FETCH_NEED_PREVIEW) &&
	    mbox_preview(s->mb, idx, (fj->needs & FETCH_PREVIEW_LAZY) &&
	    !(fj->needs & FETCH_NEED_CONTENT), &fm.preview) == -1)
		return -1;
	/* Last: the cached strings above may have read another message. */
	if ((fj->needs & FETCH_NEED_CONTENT) &&
	    mbox_read(s->mb, idx, &fm.data, &fm.len, &fm.mime) == -1)
		return -1;
	memset(&b, 0, sizeof(b));
	if (fetch_render(&b, fj->spec, &fm, rflags) == -1)
		*cte = 1;
	else
		io_write(s->io, b.data, b.len);
	mbuf_free(&b);
	return 0;
}

/* Render FETCH responses until the output is full or the job done. */
void
imap_fetch_run(struct imap_session *s)
{
	struct fetchjob	*fj = s->fj;
	int		 cte, failed, uid;

	s->wait = W_NONE;
	while (fj->pos < fj->n) {
		if (io_queued(s->io) >= IMAP_OUT_CHUNK) {
			s->wait = W_FETCH;	/* IO_LOWAT brings us back */
			return;
		}
		if (imap_fetch_one(s, fj, fj->uids[fj->pos++], &fj->cte) == -1)
			fj->failed = 1;
		if (mbox_gone(s->mb))
			break;
	}
	cte = fj->cte;
	failed = fj->failed;
	uid = fj->uid;
	s->fj = NULL;
	fetch_free(fj->spec);
	free(fj->uids);
	free(fj);
	imap_done(s);
	imap_update(s, uid);
	if (cte)
		imap_tagged(s, "NO", "[UNKNOWN-CTE] Cannot decode a part");
	else if (failed)
		imap_tagged(s, "NO", "Some messages could not be read");
	else
		imap_tagged(s, "OK", "Fetch completed");
	/* Commands that arrived meanwhile. */
	io_resume(s->io);
}

/* -- STORE, COPY, MOVE -- */

void
imap_cmd_store(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a, *item;
	const struct mbox_msg	*m;
	const char		*kws[MFLAGS_KW_MAX], *what;
	struct mbuf		 mod;
	uint32_t		*uids = NULL, *modified = NULL, sys, kw, nsys;
	uint32_t		 nkwbits;
	uint64_t		 unchanged = 0;
	size_t			 n, nkw, i, k, nmod = 0;
	long			 idx;
	int			 op, silent, has_unchanged = 0, kwi;
	char			*end;

	if (cmd->nargs < 3) {
		imap_tagged(s, "BAD", "STORE takes a set, an item and flags");
		return;
	}
	a = cmd->args->next;	/* not before: without arguments, NULL */
	if (a->type == IMAP_ARG_LIST) {
		/* (UNCHANGEDSINCE n), RFC 7162 */
		if (a->nlist != 2 || a->list->type != IMAP_ARG_ATOM ||
		    strcasecmp(a->list->str, "UNCHANGEDSINCE") != 0 ||
		    a->list->next->type != IMAP_ARG_ATOM ||
		    !isdigit((unsigned char)a->list->next->str[0])) {
			imap_tagged(s, "BAD", "Bad STORE modifier");
			return;
		}
		errno = 0;
		unchanged = strtoull(a->list->next->str, &end, 10);
		if (*end != '\0' || errno != 0) {
			imap_tagged(s, "BAD", "Bad UNCHANGEDSINCE value");
			return;
		}
		has_unchanged = 1;
		imap_condstore(s);
		a = a->next;
	}
	item = a;
	if (item == NULL || item->type != IMAP_ARG_ATOM || item->next == NULL) {
		imap_tagged(s, "BAD", "STORE needs an item and flags");
		return;
	}
	what = item->str;
	op = what[0] == '+' ? 1 : what[0] == '-' ? -1 : 0;
	if (op != 0)
		what++;
	if (strcasecmp(what, "FLAGS") == 0)
		silent = 0;
	else if (strcasecmp(what, "FLAGS.SILENT") == 0)
		silent = 1;
	else {
		imap_tagged(s, "BAD", "Unknown STORE item");
		return;
	}
	/* Flags: one list, or atoms one after another. */
	if (item->next->type == IMAP_ARG_LIST) {
		if (item->next->next != NULL ||
		    imap_parse_flags(item->next, &sys, kws, &nkw) == -1) {
			imap_tagged(s, "BAD", "Invalid flags");
			return;
		}
	} else {
		struct imap_arg	 list;

		memset(&list, 0, sizeof(list));
		list.type = IMAP_ARG_LIST;
		list.list = item->next;
		if (imap_parse_flags(&list, &sys, kws, &nkw) == -1) {
			imap_tagged(s, "BAD", "Invalid flags");
			return;
		}
	}
	if (s->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	/* Keyword letters: new names get one when they are set. */
	nkwbits = 0;
	for (k = 0; k < nkw; k++) {
		if (op >= 0)
			kwi = mbox_keyword_assign(s->mb, kws[k]);
		else
			for (kwi = 0; kwi < MFLAGS_KW_MAX; kwi++)
				if (mbox_keyword(s->mb, kwi) != NULL &&
				    strcasecmp(mbox_keyword(s->mb, kwi),
				    kws[k]) == 0)
					break;
		if (kwi >= 0 && kwi < MFLAGS_KW_MAX)
			nkwbits |= 1U << kwi;
		else if (op >= 0 && kwi == MFLAGS_KW_FULL) {
			imap_tagged(s, "NO",
			    "[LIMIT] Too many keywords in this mailbox");
			return;
		}
	}
	if (s_seqset(s, cmd->args, cmd->uid, &uids, &n) == -1)
		return;
	imap_keywords_update(s);
	if ((modified = calloc(n + 1, sizeof(*modified))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++) {
		if ((idx = mbox_find(s->mb, uids[i])) < 0)
			continue;
		m = mbox_msg(s->mb, idx);
		if (has_unchanged && m->modseq > unchanged) {
			modified[nmod++] = cmd->uid ? m->uid :
			    imap_view_seq(s, m->uid);
			continue;
		}
		nsys = op > 0 ? m->sys | sys : op < 0 ? m->sys & ~sys :
		    (m->sys & ~MFLAG_IMAP_MASK) | sys;
		kw = op > 0 ? m->kw | nkwbits : op < 0 ? m->kw & ~nkwbits :
		    nkwbits;
		if (s_store(s, idx, nsys, kw) == -1) {
			log_warn("imap %llu: store", (unsigned long long)s->id);
			continue;
		}
		if ((idx = mbox_find(s->mb, uids[i])) < 0)
			continue;
		m = mbox_msg(s->mb, idx);
		/* .SILENT still reports MODSEQ under CONDSTORE (7162 3.2) */
		if (!silent || has_unchanged)
			imap_flags_line(s, imap_view_seq(s, m->uid), m,
			    cmd->uid);
	}
	free(uids);
	(void)mbox_commit(s->mb);
	imap_mbox_changed(s->mb, s);
	imap_update(s, cmd->uid);
	if (nmod > 0) {
		memset(&mod, 0, sizeof(mod));
		imap_uidset_text(&mod, modified, nmod);
		imap_tagged(s, "OK", "[MODIFIED %s] Conditional store failed",
		    mod.data);
		mbuf_free(&mod);
	} else
		imap_tagged(s, "OK", "Store completed");
	free(modified);
}

/*
 * A message moved or copied into Junk from elsewhere is learned as spam,
 * one moved out of Junk into anything but Trash as ham: the queue keeps
 * the request and the filter process tells rspamd, later.  -1: none.
 */
static int
imap_learn_kind(const char *from, const char *to)
{
	const char	*f = mailbox_special_use(from);
	const char	*t = mailbox_special_use(to);
	int		 fj = f != NULL && strcmp(f, "\\Junk") == 0;
	int		 tj = t != NULL && strcmp(t, "\\Junk") == 0;

	if (conf->rspamd_url[0] == '\0' || fj == tj)
		return -1;
	if (tj)
		return 1;
	if (t != NULL && strcmp(t, "\\Trash") == 0)
		return -1;
	return 0;
}

static void
imap_learn(struct imap_session *s, long idx, int spam)
{
	struct ipc_buf	 b;
	int		 fd;

	if ((fd = mbox_msg_fd(s->mb, (uint32_t)idx)) == -1) {
		log_warn("imap: %s: open a message to learn", s->user);
		return;
	}
	ipc_buf_init(&b);
	ipc_add_u32(&b, spam);
	ipc_add_str(&b, s->user);
	s->env->send(PROC_QUEUE, IMSG_Q_LEARN, fd, &b);
}

void
imap_cmd_copy(struct imap_session *s, const struct imap_command *cmd)
{
	struct quota_txn q;
	struct mbox	*dst;
	struct mbuf	 from, to;
	char		 path[PATH_MAX], name[MAILBOX_NAME_MAX + 1];
	uint32_t	*uids = NULL, *src = NULL, *dstu = NULL, nuid;
	uint64_t	 size, need, needn;
	int64_t		 added = 0, count = 0;
	size_t		 n, i, ok = 0;
	long		 idx;
	int		 move = strcmp(cmd->name, "MOVE") == 0, failed = 0;
	int		 learn, qon;

	if (cmd->nargs != 2) {
		imap_tagged(s, "BAD", "%s takes a set and a mailbox",
		    cmd->name);
		return;
	}
	if (move && s->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (imap_mailbox_arg(s, cmd->args->next, name, sizeof(name), path,
	    sizeof(path)) == -1)
		return;
	learn = imap_learn_kind(s->mbname, name);
	if (s_seqset(s, cmd->args, cmd->uid, &uids, &n) == -1)
		return;
	if ((dst = mbox_open(path, 0)) == NULL) {
		free(uids);
		imap_mbox_refused(s, "[TRYCREATE] No such mailbox");
		return;
	}
	if ((src = calloc(n + 1, sizeof(*src))) == NULL ||
	    (dstu = calloc(n + 1, sizeof(*dstu))) == NULL)
		fatal("calloc");
	/*
	 * A copy must fit whole, or nothing is copied.  A move changes no
	 * usage (the copies are counted, the expunges take them back), so
	 * a full mailbox may still be tidied up.
	 */
	qon = imap_quota_open(s, &q);
	for (i = 0, need = 0, needn = 0; !move && qon == 1 && i < n; i++)
		if ((idx = mbox_find(s->mb, uids[i])) >= 0 &&
		    mbox_quota_size(s->mb, idx, &size) == 0) {
			need += size;
			needn++;
		}
	if (!move && !imap_quota_room(&q, qon, need, needn)) {
		imap_quota_done(s, &q, qon, 0, 0);
		mbox_close(dst);
		free(uids);
		free(src);
		free(dstu);
		imap_tagged(s, "NO", "[OVERQUOTA] Quota exceeded");
		return;
	}
	for (i = 0; i < n; i++) {
		if ((idx = mbox_find(s->mb, uids[i])) < 0)
			continue;
		if (mbox_quota_size(s->mb, idx, &size) == -1)
			size = 0;
		if (mbox_copy(s->mb, idx, dst, &nuid) == -1) {
			failed = errno == ENOSPC || errno == EDQUOT ? 2 : 1;
			break;
		}
		added += (int64_t)size;
		count++;
		if (learn != -1)
			imap_learn(s, idx, learn);
		src[ok] = uids[i];
		dstu[ok++] = nuid;
	}
	(void)mbox_commit(dst);
	if (move && !failed) {
		for (i = ok; i > 0; i--) {
			if ((idx = mbox_find(s->mb, src[i - 1])) < 0 ||
			    mbox_quota_size(s->mb, idx, &size) == -1)
				size = 0;
			if (idx >= 0 && mbox_expunge(s->mb, idx) == 0) {
				added -= (int64_t)size;
				count--;
			}
		}
		(void)mbox_commit(s->mb);
		imap_mbox_changed(s->mb, s);
	}
	imap_quota_done(s, &q, qon, added, count);
	imap_mbox_changed(dst, s);
	memset(&from, 0, sizeof(from));
	memset(&to, 0, sizeof(to));
	mbuf_add(&from, "", 0);
	mbuf_add(&to, "", 0);
	imap_uidset_text(&from, src, ok);
	imap_uidset_text(&to, dstu, ok);
	if (failed)
		imap_tagged(s, "NO", "%s", failed == 2 ? "[OVERQUOTA] No space "
		    "left" : "[SERVERBUG] Copy failed");
	else if (ok == 0)
		imap_tagged(s, "OK", "%s completed", cmd->name);
	else if (move) {
		imap_printf(s, "* OK [COPYUID %u %s %s] Moved\r\n",
		    mbox_uidvalidity(dst), from.data, to.data);
		imap_update(s, 1);
		imap_tagged(s, "OK", "Move completed");
	} else {
		if (dst == s->mb)
			imap_update(s, 1);
		imap_tagged(s, "OK", "[COPYUID %u %s %s] Copy completed",
		    mbox_uidvalidity(dst), from.data, to.data);
	}
	mbuf_free(&from);
	mbuf_free(&to);
	mbox_close(dst);
	free(uids);
	free(src);
	free(dstu);
}
