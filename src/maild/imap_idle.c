/*
 * The selected mailbox as a session sees it, and how it catches up.  A
 * selected session keeps its own view of the mailbox: the UIDs its
 * sequence numbers stand for.  The shared mailbox (imap_mbox.c) is the
 * truth; the view catches up at the points where the protocol allows
 * (EXPUNGE never during FETCH, STORE or SEARCH), by comparing the two,
 * and sessions waiting in IDLE hear at once what another session or a
 * delivery changed.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "imap_session.h"
#include "proc.h"

static void	ranges_add(struct imap_seqrange **, size_t *, uint32_t,
		    uint32_t);

/* -- the view of the selected mailbox -- */

void
imap_view_add(struct imap_session *s, uint32_t uid)
{
	uint32_t	*v;
	size_t		 nc;

	if (s->nview == s->cview) {
		nc = s->cview ? s->cview * 2 : 64;
		if ((v = reallocarray(s->view, nc, sizeof(*v))) == NULL)
			fatal("reallocarray");
		s->view = v;
		s->cview = nc;
	}
	s->view[s->nview++] = uid;
}

/* Sequence number (1-based) of uid in the view, or 0. */
uint32_t
imap_view_seq(const struct imap_session *s, uint32_t uid)
{
	size_t	 lo = 0, hi = s->nview, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->view[mid] == uid)
			return mid + 1;
		if (s->view[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/*
 * \Recent (RFC 3501 2.3.2), for IMAP4rev1 sessions only: a message is
 * recent in the one session that first had the mailbox selected
 * read-write after it arrived (EXAMINE shows it without taking it).
 * The mailbox keeps the first UID nobody took; a session keeps the
 * ranges of UIDs it took, ascending.
 */
int
imap_recent(const struct imap_session *s, uint32_t uid)
{
	size_t	 lo = 0, hi = s->nrecent, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (uid < s->recent[mid].lo)
			hi = mid;
		else if (uid > s->recent[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

/* How many messages of the view are recent for the session. */
uint32_t
imap_recent_count(const struct imap_session *s)
{
	size_t		 i, k = 0;
	uint32_t	 n = 0;

	for (i = 0; i < s->nview && k < s->nrecent; ) {
		if (s->view[i] < s->recent[k].lo)
			i++;
		else if (s->view[i] > s->recent[k].hi)
			k++;
		else {
			n++;
			i++;
		}
	}
	return n;
}

/* Take the messages of the view that nobody had as recent yet: 1 if. */
static int
recent_take(struct imap_session *s)
{
	uint32_t	 lo, hi;

	if ((s->enabled & EN_REV2) || s->nview == 0)
		return 0;
	lo = mbox_recent_uid(s->mb);
	if (s->nrecent > 0 && s->recent[s->nrecent - 1].hi >= lo)
		lo = s->recent[s->nrecent - 1].hi + 1;
	hi = s->view[s->nview - 1];
	if (lo == 0 || lo > hi)
		return 0;
	ranges_add(&s->recent, &s->nrecent, lo, hi);
	if (s->readonly)
		return 0;
	mbox_recent_claim(s->mb, hi + 1);
	return 1;
}

/* SELECT: the view is built; "* n RECENT" for an IMAP4rev1 session. */
void
imap_recent_select(struct imap_session *s)
{
	if (recent_take(s))
		(void)mbox_commit(s->mb);
	if (!(s->enabled & EN_REV2))
		imap_printf(s, "* %u RECENT\r\n", imap_recent_count(s));
}

/* The FLAGS list of a message: mflags_render() with the folder's keywords. */
void
imap_flags_render(const struct mbox *mb, uint32_t sys, uint32_t kw, char *buf,
    size_t len)
{
	struct mflags	 f = { .sys = sys, .kw = kw };

	(void)mflags_render(&f, mbox_keywords(mb), buf, len);
}

void
imap_flags_line(struct imap_session *s, uint32_t seq, const struct mbox_msg *m,
    int uid)
{
	char	 flags[MFLAGS_KW_MAX * (MFLAGS_KW_NAME_MAX + 1) + 64];
	char	 extra[64] = "";

	imap_flags_render(s->mb, (m->sys & ~MFLAG_RECENT) |
	    (imap_recent(s, m->uid) ? MFLAG_RECENT : 0), m->kw, flags,
	    sizeof(flags));
	if (uid || (s->enabled & EN_QRESYNC))
		(void)snprintf(extra, sizeof(extra), " UID %u", m->uid);
	if (s->enabled & EN_CONDSTORE) {
		size_t	 n = strlen(extra);

		(void)snprintf(extra + n, sizeof(extra) - n, " MODSEQ (%llu)",
		    (unsigned long long)m->modseq);
	}
	imap_printf(s, "* %u FETCH (FLAGS %s%s)\r\n", seq, flags, extra);
}

/* "(\\Answered ... kw)" of the mailbox's flags, for FLAGS. */
void
imap_flag_list(struct imap_session *s, char *buf, size_t len, int perm)
{
	const char	*k;
	int		 i;

	strlcpy(buf, "(\\Answered \\Flagged \\Deleted \\Seen \\Draft", len);
	for (i = 0; i < MFLAGS_KW_MAX; i++)
		if ((k = mbox_keyword(s->mb, i)) != NULL) {
			strlcat(buf, " ", len);
			strlcat(buf, k, len);
		}
	if (perm && mbox_keyword_count(s->mb) < MFLAGS_KW_MAX)
		strlcat(buf, " \\*", len);
	strlcat(buf, ")", len);
}

/* The keyword indexes the mailbox has names for. */
uint32_t
imap_keyword_set(const struct mbox *mb)
{
	uint32_t	 set = 0;
	int		 i;

	for (i = 0; i < MFLAGS_KW_MAX; i++)
		if (mbox_keyword(mb, i) != NULL)
			set |= 1U << i;
	return set;
}

/*
 * A keyword new to the mailbox (this session's STORE or APPEND, or
 * another's) is announced with FLAGS and PERMANENTFLAGS before any
 * FETCH shows it (RFC 3501 7.2.6), as Dovecot does.
 */
void
imap_keywords_update(struct imap_session *s)
{
	char		 flags[MFLAGS_KW_MAX * (MFLAGS_KW_NAME_MAX + 1) + 64];
	uint32_t	 set;

	if (s->mb == NULL || ((set = imap_keyword_set(s->mb)) &
	    ~s->kwseen) == 0)
		return;
	s->kwseen = set;
	imap_flag_list(s, flags, sizeof(flags), 0);
	imap_printf(s, "* FLAGS %s\r\n", flags);
	if (!s->readonly) {
		imap_flag_list(s, flags, sizeof(flags), 1);
		imap_printf(s, "* OK [PERMANENTFLAGS %s] Flags permitted\r\n",
		    flags);
	}
}

/* uid set text ("1:3,7") of a sorted array into an mbuf. */
void
imap_uidset_text(struct mbuf *b, const uint32_t *u, size_t n)
{
	size_t	 i, j;

	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && u[j] == u[j - 1] + 1; j++)
			;
		if (i > 0)
			mbuf_add(b, ",", 1);
		if (j - i == 1)
			mbuf_printf(b, "%u", u[i]);
		else
			mbuf_printf(b, "%u:%u", u[i], u[j - 1]);
	}
}

/*
 * Report to the client what changed in the mailbox since its view was
 * last brought up to date: expunges (when allowed), new messages, flag
 * changes made by other sessions or programs.
 */
void
imap_update(struct imap_session *s, int expunge_ok)
{
	const struct mbox_msg	*m;
	struct mbuf		 b;
	uint32_t		*gone = NULL, last, cnt, j;
	size_t			 i, k, ngone = 0, before;
	int			 flags;

	if (s->mb == NULL)
		return;
	imap_keywords_update(s);
	/* RFC 5267 4.3.4: a search context hears before the EXPUNGE. */
	if (expunge_ok)
		imap_ctx_expunge(s);
	cnt = mbox_count(s->mb);
	flags = mbox_highestmodseq(s->mb) > s->seen_modseq;
	/*
	 * View and mailbox are both sorted by UID: one merge finds the
	 * expunged messages and the flag changes, with no lookups (a
	 * delivery wakes every IDLE session of a mailbox).
	 */
	for (i = 0, j = 0, k = 0; i < s->nview; i++) {
		while (j < cnt && mbox_msg(s->mb, j)->uid < s->view[i])
			j++;
		if (j < cnt && (m = mbox_msg(s->mb, j))->uid == s->view[i]) {
			if (flags && m->modseq > s->seen_modseq)
				imap_flags_line(s, k + 1, m, 0);
			s->view[k++] = s->view[i];
			continue;
		}
		if (!expunge_ok) {
			/* Reported later: the message keeps its number. */
			s->view[k++] = s->view[i];
			continue;
		}
		if (s->enabled & EN_QRESYNC) {
			if ((gone = reallocarray(gone, ngone + 1,
			    sizeof(*gone))) == NULL)
				fatal("reallocarray");
			gone[ngone++] = s->view[i];
		} else
			imap_printf(s, "* %zu EXPUNGE\r\n", k + 1);
	}
	s->nview = k;
	if (ngone > 0) {
		memset(&b, 0, sizeof(b));
		mbuf_add(&b, "* VANISHED ", 11);
		imap_uidset_text(&b, gone, ngone);
		mbuf_add(&b, "\r\n", 2);
		io_write(s->io, b.data, b.len);
		mbuf_free(&b);
	}
	free(gone);
	/* New messages: UIDs above the view's last one. */
	before = s->nview;
	last = s->nview > 0 ? s->view[s->nview - 1] : 0;
	for (j = cnt; j > 0; j--)
		if (mbox_msg(s->mb, j - 1)->uid <= last)
			break;
	for (; j < cnt; j++)
		imap_view_add(s, mbox_msg(s->mb, j)->uid);
	if (s->nview != before) {
		(void)recent_take(s);
		imap_printf(s, "* %zu EXISTS\r\n", s->nview);
		if (!(s->enabled & EN_REV2))
			imap_printf(s, "* %u RECENT\r\n",
			    imap_recent_count(s));
	}
	s->seen_modseq = mbox_highestmodseq(s->mb);
	imap_ctx_update(s);	/* after EXISTS (RFC 5267 4.3.3) */
}

/*
 * Other sessions of mb: those waiting in IDLE hear of it now.  Under
 * NOTIFY, what a session hears is what it asked for (RFC 5465).
 */
void
imap_mbox_changed(struct mbox *mb, struct imap_session *self)
{
	struct imap_session	*s;

	imap_notify_changed(mb, self);
	TAILQ_FOREACH(s, &imap_sessions, all)
		if (s != self && s->mb == mb && s->wait == W_IDLE &&
		    s->notify == NULL)
			imap_update(s, 1);
}

void
imap_session_newmail(const char *dir)
{
	struct imap_session	*s;
	struct mbox		*mb = NULL;

	/* Only a mailbox that someone has open needs a look now. */
	TAILQ_FOREACH(s, &imap_sessions, all)
		if (s->mb != NULL && strcmp(mbox_dir(s->mb), dir) == 0) {
			mb = s->mb;
			break;
		}
	if (mb == NULL) {
		imap_notify_newmail(dir);
		return;
	}
	if (mbox_sync(mb) == 1) {
		(void)mbox_commit(mb);
		imap_mbox_changed(mb, NULL);
	}
}

void
imap_unselect(struct imap_session *s)
{
	imap_ctx_free_all(s);
	if (s->mb != NULL) {
		(void)mbox_commit(s->mb);
		mbox_close(s->mb);
	}
	s->mb = NULL;
	free(s->view);
	s->view = NULL;
	s->nview = s->cview = 0;
	free(s->recent);
	s->recent = NULL;
	s->nrecent = 0;
	s->mbname[0] = '\0';
	if (s->state == S_SELECTED)
		s->state = S_AUTH;
	imap_notify_select(s);
}

/* Append range [lo, hi] to a growing range list. */
static void
ranges_add(struct imap_seqrange **r, size_t *n, uint32_t lo, uint32_t hi)
{
	if (*n > 0 && (*r)[*n - 1].hi + 1 == lo) {
		(*r)[*n - 1].hi = hi;
		return;
	}
	if ((*r = reallocarray(*r, *n + 1, sizeof(**r))) == NULL)
		fatal("reallocarray");
	(*r)[*n].lo = lo;
	(*r)[*n].hi = hi;
	(*n)++;
}

/*
 * "* VANISHED (EARLIER) ..." for the UIDs expunged after modseq, within
 * only (NULL: any).  Without a history that reaches back so far, every
 * UID below UIDNEXT that is not in the mailbox is reported: more than
 * the client needs, which RFC 7162 allows, and never less.
 */
void
imap_vanished_earlier(struct imap_session *s, uint64_t modseq,
    const struct imap_seqset *only)
{
	struct imap_seqrange	*r = NULL, *o = NULL;
	struct mbuf		 b;
	uint32_t		*gone = NULL, next = 1, u, lo, hi;
	size_t			 ngone = 0, n = 0, no = 0, i, j;

	if (mbox_vanished_since(s->mb, modseq, &gone, &ngone) == 0) {
		for (i = 0; i < ngone; i++)
			ranges_add(&r, &n, gone[i], gone[i]);
	} else {
		for (i = 0; i < mbox_count(s->mb); i++) {
			u = mbox_msg(s->mb, i)->uid;
			if (u > next)
				ranges_add(&r, &n, next, u - 1);
			next = u + 1;
		}
		if (next < mbox_uidnext(s->mb))
			ranges_add(&r, &n, next, mbox_uidnext(s->mb) - 1);
	}
	free(gone);
	if (only != NULL) {
		/* Intersection of two sorted lists of disjoint ranges. */
		for (i = 0, j = 0; i < n && j < only->n;) {
			lo = r[i].lo > only->r[j].lo ? r[i].lo : only->r[j].lo;
			hi = r[i].hi < only->r[j].hi ? r[i].hi : only->r[j].hi;
			if (lo <= hi)
				ranges_add(&o, &no, lo, hi);
			if (r[i].hi < only->r[j].hi)
				i++;
			else
				j++;
		}
		free(r);
		r = o;
		n = no;
	}
	if (n > 0) {
		memset(&b, 0, sizeof(b));
		mbuf_add(&b, "* VANISHED (EARLIER) ", 21);
		for (i = 0; i < n; i++) {
			if (r[i].lo == r[i].hi)
				mbuf_printf(&b, "%s%u", i ? "," : "", r[i].lo);
			else
				mbuf_printf(&b, "%s%u:%u", i ? "," : "",
				    r[i].lo, r[i].hi);
		}
		mbuf_add(&b, "\r\n", 2);
		io_write(s->io, b.data, b.len);
		mbuf_free(&b);
	}
	free(r);
}

void
imap_cmd_idle(struct imap_session *s, const struct imap_command *cmd)
{
	struct timeval	 tv = { IMAP_IDLE_KEEPALIVE, 0 };

	if (cmd->nargs != 0) {
		imap_tagged(s, "BAD", "IDLE takes no arguments");
		return;
	}
	if (s->mb != NULL && mbox_sync(s->mb) == 1) {
		(void)mbox_commit(s->mb);
		imap_mbox_changed(s->mb, s);
	}
	imap_update(s, 1);
	imap_printf(s, "+ idling\r\n");
	s->wait = W_IDLE;
	evtimer_add(&s->ev_delay, &tv);
}

void
imap_idle_timer(int fd, short ev, void *arg)
{
	struct imap_session	*s = arg;
	struct timeval		 tv = { IMAP_IDLE_KEEPALIVE, 0 };

	(void)fd;
	(void)ev;
	if (s->wait != W_IDLE)
		return;
	/* NAT boxes forget quiet connections (Dovecot does this). */
	imap_printf(s, "* OK Still here\r\n");
	evtimer_add(&s->ev_delay, &tv);
}
