/*
 * NOTIFY (RFC 5465) in the session: the command, and the notifications
 * a change brings to the sessions that asked for them.
 *
 * Where changes come from: every change the imap process makes to a
 * mailbox (a session's APPEND, COPY, MOVE, STORE, EXPUNGE, a sync that
 * found what another program did) ends in imap_mbox_changed(), which
 * calls imap_notify_changed() first; a delivery by the deliver process
 * arrives as IMSG_I_NEW naming the Maildir, and imap_notify_newmail()
 * opens that mailbox when no session has it open but some NOTIFY
 * covers it; CREATE, DELETE, RENAME, SUBSCRIBE and UNSUBSCRIBE call
 * imap_notify_mailbox() and imap_notify_subscription().  Changes that
 * other programs make in the user's folders are seen through
 * imap_watch.c (inotify where there is one), which ends in
 * imap_notify_newmail() too.
 *
 * A mailbox other than the selected one is reported with STATUS
 * (MESSAGES UIDNEXT UIDVALIDITY UNSEEN, and HIGHESTMODSEQ for
 * FlagChange or CONDSTORE); which events happened is told by comparing
 * those values with the ones of the last look (one record per mailbox
 * for the whole process, bounded), so a group that asked for
 * MessageNew only is not told of flag changes.  The selected mailbox
 * gets the usual EXISTS, EXPUNGE (or VANISHED) and FETCH FLAGS at once
 * (expunges held back under SELECTED-DELAYED), and the fetch
 * attributes of MessageNew for each new message.  Notifications are
 * written between responses, never inside one.  When the client does
 * not read them and its output grows past NOTIFY_QUEUE_MAX, the
 * session gets NOTIFICATIONOVERFLOW and NOTIFY ends (RFC 5465).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "imap_notify.h"
#include "imap_session.h"
#include "proc.h"
#include "safepath.h"

#define NOTIFY_QUEUE_MAX	(256 * 1024)	/* output not read yet */
#define NOTIFY_FETCH_MAX	64	/* FETCH notifications at once */
#define NOTIFY_SNAP_MAX		4096	/* mailboxes remembered */
#define NOTIFY_WATCH_MAX	5000	/* folders watched per session */

struct imap_notify {
	struct notify_spec	*spec;
	struct fetch_spec	*fetch;		/* MessageNew (...) */
	int			 fetch_needs;
	struct imap_watch	**w;		/* the folders covered */
	size_t			 nw;
	struct imap_watch	*selw;		/* the selected one */
};

/* What a mailbox looked like when its sessions were last told. */
struct nsnap {
	RB_ENTRY(nsnap)		 node;
	char			*dir;
	uint32_t		 uidvalidity, uidnext, messages, unseen;
	uint64_t		 hms;
};

RB_HEAD(nsnaps, nsnap);

/* A user's subscriptions, read once for the sessions of one change. */
struct subscache {
	const char		*home;		/* whose (NULL: none read) */
	char			*buf;
	size_t			 len;
};

static int	snap_cmp(const struct nsnap *, const struct nsnap *);
static int	snap_diff(struct mbox *);
static void	snap_clear(void);
static int	n_name(const struct imap_session *, const char *, char *,
		    size_t);
static int	n_name_out(const char *, char *, size_t);
static int	n_room(struct imap_session *);
static void	n_status(struct imap_session *, const char *, struct mbox *);
static int	n_want(struct imap_session *, const char *,
		    struct subscache *);
static void	n_selected(struct imap_session *);
static void	n_fetch_new(struct imap_session *, uint32_t);
static void	n_watch(struct imap_session *, const char *);
static void	n_scan(struct imap_session *, int);
static void	n_list(struct imap_session *, const char *, const char *,
		    const char *);
static void	n_release(struct imap_session *);

RB_PROTOTYPE(nsnaps, nsnap, node, snap_cmp)

static struct nsnaps	 snaps = RB_INITIALIZER(&snaps);
static size_t		 nsnaps;
static size_t		 nnotify;	/* sessions with NOTIFY set */

static int
snap_cmp(const struct nsnap *a, const struct nsnap *b)
{
	return strcmp(a->dir, b->dir);
}

RB_GENERATE(nsnaps, nsnap, node, snap_cmp)

static void
snap_clear(void)
{
	struct nsnap	*n, *next;

	RB_FOREACH_SAFE(n, nsnaps, &snaps, next) {
		RB_REMOVE(nsnaps, &snaps, n);
		free(n->dir);
		free(n);
	}
	nsnaps = 0;
}

/*
 * The events (NE_*) that happened in mb since the last look, which
 * becomes this one.  Never seen before: any of them.
 */
static int
snap_diff(struct mbox *mb)
{
	struct nsnap	 key, *n;
	uint32_t	 added;
	int		 ev = 0;

	key.dir = (char *)(uintptr_t)mbox_dir(mb);
	if ((n = RB_FIND(nsnaps, &snaps, &key)) == NULL) {
		if (nsnaps >= NOTIFY_SNAP_MAX) {
			/* Forget one: its next change is told in full. */
			n = RB_ROOT(&snaps);
			RB_REMOVE(nsnaps, &snaps, n);
			free(n->dir);
			free(n);
			nsnaps--;
		}
		if ((n = calloc(1, sizeof(*n))) == NULL ||
		    (n->dir = strdup(mbox_dir(mb))) == NULL)
			fatal("notify");
		RB_INSERT(nsnaps, &snaps, n);
		nsnaps++;
		ev = NE_NEW | NE_EXPUNGE | NE_FLAGS;
	} else if (n->uidvalidity != mbox_uidvalidity(mb))
		ev = NE_NEW | NE_EXPUNGE | NE_FLAGS;
	else {
		added = mbox_uidnext(mb) - n->uidnext;
		if (added > 0)
			ev |= NE_NEW;
		if ((uint64_t)mbox_count(mb) < (uint64_t)n->messages + added)
			ev |= NE_EXPUNGE;
		/* Appends and expunges move HIGHESTMODSEQ too. */
		if (ev == 0 && (mbox_highestmodseq(mb) != n->hms ||
		    mbox_unseen(mb) != n->unseen))
			ev |= NE_FLAGS;
	}
	n->uidvalidity = mbox_uidvalidity(mb);
	n->uidnext = mbox_uidnext(mb);
	n->messages = mbox_count(mb);
	n->unseen = mbox_unseen(mb);
	n->hms = mbox_highestmodseq(mb);
	return ev;
}

/* The canonical name of Maildir dir for s, if it is one of its mailboxes. */
static int
n_name(const struct imap_session *s, const char *dir, char *name, size_t len)
{
	size_t	 hl = strlen(s->home);

	if (strncmp(dir, s->home, hl) != 0)
		return -1;
	if (dir[hl] == '\0')
		return strlcpy(name, "INBOX", len) < len ? 0 : -1;
	if (dir[hl] != '/' || dir[hl + 1] != '.' || strchr(dir + hl + 1,
	    '/') != NULL)
		return -1;
	return mailbox_dir_to_name(dir + hl + 1, name, len);
}

static int
n_name_out(const char *name, char *out, size_t outsz)
{
	char	 ex[MAILBOX_WIRE_MAX + 1];

	if (mailbox_name_export(name, 0, ex, sizeof(ex)) == -1 ||
	    imap_encode_string(out, outsz, ex, strlen(ex), 0) >= outsz)
		return -1;
	return 0;
}

/*
 * May more notifications be written?  A client that does not read them
 * loses NOTIFY: bounded output per session (RFC 5465).
 */
static int
n_room(struct imap_session *s)
{
	if (s->notify == NULL)
		return 0;
	if (io_queued(s->io) < NOTIFY_QUEUE_MAX)
		return 1;
	log_info("imap %llu: NOTIFY overflow, notifications off",
	    (unsigned long long)s->id);
	imap_printf(s, "* OK [NOTIFICATIONOVERFLOW] Notifications not read; "
	    "NOTIFY is off\r\n");
	imap_notify_free(s);
	return 0;
}

static void
n_status(struct imap_session *s, const char *name, struct mbox *mb)
{
	char	 enc[MAILBOX_WIRE_MAX + 64], hms[64] = "";
	int	 ev = notify_events(s->notify->spec, name, 1);

	if (n_name_out(name, enc, sizeof(enc)) == -1)
		return;
	if ((ev & (NE_FLAGS | NE_ANNOTATION)) || (s->enabled & EN_CONDSTORE))
		(void)snprintf(hms, sizeof(hms), " HIGHESTMODSEQ %llu",
		    (unsigned long long)mbox_highestmodseq(mb));
	imap_printf(s, "* STATUS %s (MESSAGES %u UIDNEXT %u UIDVALIDITY %u "
	    "UNSEEN %u%s)\r\n", enc, mbox_count(mb), mbox_uidnext(mb),
	    mbox_uidvalidity(mb), mbox_unseen(mb), hms);
}

/*
 * The events s wants for mailbox name (not its selected one).  The
 * subscriptions are read once per change and user, into sc.
 */
static int
n_want(struct imap_session *s, const char *name, struct subscache *sc)
{
	const struct notify_spec	*sp = s->notify->spec;
	int				 sub = 0;

	if (sp->filters & (1 << NF_SUBSCRIBED)) {
		if (sc->home == NULL || strcmp(sc->home, s->home) != 0) {
			free(sc->buf);
			sc->buf = imap_subs_read(s, &sc->len);
			sc->home = s->home;
		}
		sub = imap_subs_has(sc->buf, sc->len, name);
	}
	return notify_events(sp, name, sub);
}

/* The selected mailbox changed: tell s at once what it asked for. */
static void
n_selected(struct imap_session *s)
{
	const struct notify_spec	*sp = s->notify->spec;
	uint32_t			 last;

	if (!(sp->sel_events & NE_MESSAGE))
		return;
	if ((s->wait != W_NONE && s->wait != W_IDLE) || !n_room(s))
		return;
	last = s->nview > 0 ? s->view[s->nview - 1] : 0;
	imap_update(s, s->wait == W_IDLE || sp->sel_filter == NF_SELECTED);
	if (s->notify != NULL && s->notify->fetch != NULL)
		n_fetch_new(s, last);
}

/* MessageNew's fetch attributes for the messages above UID last. */
static void
n_fetch_new(struct imap_session *s, uint32_t last)
{
	struct fetchjob	 fj;
	size_t		 i, n = 0;
	int		 cte = 0;

	memset(&fj, 0, sizeof(fj));
	fj.spec = s->notify->fetch;
	fj.needs = s->notify->fetch_needs;
	for (i = s->nview; i > 0 && s->view[i - 1] > last; i--)
		;
	for (; i < s->nview && n < NOTIFY_FETCH_MAX; i++, n++) {
		if (!n_room(s))
			return;
		(void)imap_fetch_one(s, &fj, s->view[i], &cte);
	}
}

/*
 * A change in mb (already synced).  Called by imap_mbox_changed(), for
 * all sessions; self made the change (NULL: another program did).
 */
void
imap_notify_changed(struct mbox *mb, struct imap_session *self)
{
	struct imap_session	*s, *next;
	struct subscache	 sc = { NULL, NULL, 0 };
	char			 name[MAILBOX_NAME_MAX + 1];
	const char		*dir = mbox_dir(mb);
	int			 ev = -1, want;

	if (nnotify == 0)
		return;
	imap_watch_stamp(dir);
	for (s = TAILQ_FIRST(&imap_sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, all);
		if (s->notify == NULL)
			continue;
		if (s->mb == mb) {
			if (s != self)
				n_selected(s);
			continue;
		}
		if (n_name(s, dir, name, sizeof(name)) == -1)
			continue;
		want = n_want(s, name, &sc);
		if (!(want & (NE_NEW | NE_EXPUNGE | NE_FLAGS)))
			continue;
		if (ev == -1)
			ev = snap_diff(mb);
		if ((want & ev) && n_room(s))
			n_status(s, name, mb);
	}
	free(sc.buf);
}

/*
 * New mail (or another program's change) in Maildir dir, which no
 * session has open: a look at it when a NOTIFY covers it.
 */
void
imap_notify_newmail(const char *dir)
{
	struct imap_session	*s;
	struct mbox		*mb;
	char			 name[MAILBOX_NAME_MAX + 1];

	if (nnotify == 0)
		return;
	TAILQ_FOREACH(s, &imap_sessions, all)
		if (s->notify != NULL && n_name(s, dir, name,
		    sizeof(name)) == 0 && (notify_events(s->notify->spec, name,
		    1) & (NE_NEW | NE_EXPUNGE | NE_FLAGS)))
			break;
	if (s == NULL)
		return;
	if ((mb = mbox_open(dir, 0)) == NULL)
		return;
	(void)mbox_sync(mb);
	(void)mbox_commit(mb);
	imap_mbox_changed(mb, NULL);
	mbox_close(mb);
}

static void
n_list(struct imap_session *s, const char *attrs, const char *name,
    const char *old)
{
	char	 enc[MAILBOX_WIRE_MAX + 64], oenc[MAILBOX_WIRE_MAX + 64];

	if (n_name_out(name, enc, sizeof(enc)) == -1)
		return;
	if (old != NULL && n_name_out(old, oenc, sizeof(oenc)) == -1)
		return;
	if (!n_room(s))
		return;
	if (old != NULL)
		imap_printf(s, "* LIST (%s) \"/\" %s (\"OLDNAME\" (%s))\r\n",
		    attrs, enc, oenc);
	else
		imap_printf(s, "* LIST (%s) \"/\" %s\r\n", attrs, enc);
}

/*
 * MailboxName: self created (Maildir odir NULL), deleted (ndir NULL)
 * or renamed a mailbox; every session of the same user that asked is
 * told.
 */
void
imap_notify_mailbox(struct imap_session *self, const char *odir,
    const char *ndir)
{
	struct imap_session	*s, *next;
	char			 old[MAILBOX_NAME_MAX + 1];
	char			 name[MAILBOX_NAME_MAX + 1];
	int			 ev = 0;

	if (nnotify == 0 || (odir != NULL && n_name(self, odir, old,
	    sizeof(old)) == -1) || (ndir != NULL && n_name(self, ndir, name,
	    sizeof(name)) == -1))
		return;
	for (s = TAILQ_FIRST(&imap_sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, all);
		if (s->notify == NULL || strcmp(s->home, self->home) != 0)
			continue;
		ev = 0;
		if (ndir != NULL)
			ev |= notify_events(s->notify->spec, name, 1);
		if (odir != NULL)
			ev |= notify_events(s->notify->spec, old, 1);
		/* A new name with message events: watched from now on. */
		if (ndir != NULL && (notify_events(s->notify->spec, name, 1) &
		    NE_MESSAGE))
			n_watch(s, ndir);
		if (!(ev & NE_NAME))
			continue;
		if (ndir == NULL)
			n_list(s, "\\NonExistent", old, NULL);
		else
			n_list(s, "", name, odir != NULL ? old : NULL);
	}
}

/* SubscriptionChange: self (un)subscribed name. */
void
imap_notify_subscription(struct imap_session *self, const char *name,
    int add)
{
	struct imap_session	*s, *next;

	if (nnotify == 0)
		return;
	for (s = TAILQ_FIRST(&imap_sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, all);
		if (s->notify == NULL || strcmp(s->home, self->home) != 0)
			continue;
		/* Subscribed or not, the name is the one that changed. */
		if (notify_events(s->notify->spec, name, 1) & NE_SUBS)
			n_list(s, add ? "\\Subscribed" : "", name, NULL);
	}
}

/* Watch one more folder for s (a reference it drops at the end). */
static void
n_watch(struct imap_session *s, const char *path)
{
	struct imap_notify	*n = s->notify;
	struct imap_watch	*w;

	if (n->nw >= NOTIFY_WATCH_MAX || (w = imap_watch_add(path)) == NULL)
		return;
	if ((n->w = reallocarray(n->w, n->nw + 1, sizeof(*n->w))) == NULL)
		fatal("reallocarray");
	n->w[n->nw++] = w;
}

/*
 * The folders of s with message events: each watched, and with SET
 * STATUS told as STATUS before the OK (not the selected one).
 */
static void
n_scan(struct imap_session *s, int status)
{
	struct subscache sc = { NULL, NULL, 0 };
	struct dirent	*de;
	struct stat	 st;
	struct mbox	*mb;
	DIR		*d;
	char		 name[MAILBOX_NAME_MAX + 1], path[PATH_MAX];
	int		 inbox = 1;

	if ((d = safe_opendir(s->home)) == NULL)
		return;
	while (s->notify != NULL) {
		if (inbox) {
			/* INBOX first: the Maildir itself. */
			strlcpy(name, "INBOX", sizeof(name));
			strlcpy(path, s->home, sizeof(path));
			inbox = 0;
		} else {
			if ((de = readdir(d)) == NULL)
				break;
			if (de->d_name[0] != '.' ||
			    strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0 ||
			    mailbox_dir_to_name(de->d_name, name,
			    sizeof(name)) == -1 ||
			    snprintf(path, sizeof(path), "%s/%s", s->home,
			    de->d_name) >= (int)sizeof(path) ||
			    safe_lstat(path, &st) == -1 ||
			    !S_ISDIR(st.st_mode))
				continue;
		}
		if (!(n_want(s, name, &sc) & NE_MESSAGE))
			continue;
		n_watch(s, path);
		if (!status || (s->mb != NULL &&
		    strcmp(mbox_dir(s->mb), path) == 0))
			continue;
		if ((mb = mbox_open(path, 0)) == NULL)
			continue;
		if (mbox_sync(mb) == 1)
			imap_mbox_changed(mb, s);
		(void)mbox_commit(mb);
		(void)snap_diff(mb);
		if (n_room(s))
			n_status(s, name, mb);
		mbox_close(mb);
	}
	closedir(d);
	free(sc.buf);
}

void
imap_notify_select(struct imap_session *s)
{
	struct imap_notify	*n = s->notify;

	if (n == NULL)
		return;
	imap_watch_del(n->selw);
	n->selw = NULL;
	if (s->mb != NULL && (n->spec->sel_events & NE_MESSAGE))
		n->selw = imap_watch_add(mbox_dir(s->mb));
}

/* NOTIFY of s ends; with the last one, what was known of mailboxes. */
void
imap_notify_free(struct imap_session *s)
{
	if (s->notify == NULL)
		return;
	n_release(s);
	if (nnotify == 0)
		snap_clear();
}

static void
n_release(struct imap_session *s)
{
	size_t	 i;

	for (i = 0; i < s->notify->nw; i++)
		imap_watch_del(s->notify->w[i]);
	free(s->notify->w);
	imap_watch_del(s->notify->selw);
	notify_spec_free(s->notify->spec);
	if (s->notify->fetch != NULL)
		fetch_free(s->notify->fetch);
	free(s->notify);
	s->notify = NULL;
	nnotify--;
}

void
imap_cmd_notify(struct imap_session *s, const struct imap_command *cmd)
{
	struct notify_spec	*sp;
	struct imap_notify	*n;
	struct fetch_spec	*fetch = NULL;
	struct imap_arg		 one;
	const char		*err;
	char			 ev[256];
	int			 r;

	r = notify_parse(cmd->args, &sp, &err);
	if (r == NOTIFY_BADEVENT) {
		notify_event_names(NE_SUPPORTED, ev, sizeof(ev));
		imap_tagged(s, "NO", "[BADEVENT (%s)] %s", ev, err);
		return;
	}
	if (r == NOTIFY_OVERFLOW) {
		imap_tagged(s, "NO", "[NOTIFICATIONOVERFLOW] %s", err);
		return;
	}
	if (r != NOTIFY_OK) {
		imap_tagged(s, "BAD", "%s", err);
		return;
	}
	if (sp != NULL && sp->sel_fetch != NULL) {
		/* The list alone: what follows it is not a modifier. */
		one = *sp->sel_fetch;
		one.next = NULL;
		if (fetch_compile(&one, 0, &fetch, &err) == -1) {
			notify_spec_free(sp);
			imap_tagged(s, "BAD", "%s", err);
			return;
		}
	}
	/* A new SET keeps what is known of the mailboxes; NONE ends it. */
	if (s->notify != NULL)
		n_release(s);
	if (sp == NULL) {
		if (nnotify == 0)
			snap_clear();
		imap_tagged(s, "OK", "NOTIFY completed");
		return;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL)
		fatal("calloc");
	n->spec = sp;
	n->fetch = fetch;
	/* A notification never sets \Seen: it is a peek. */
	if (fetch != NULL)
		n->fetch_needs = fetch_needs(fetch) & ~FETCH_SETS_SEEN;
	if (fetch != NULL && (n->fetch_needs & FETCH_NEED_MODSEQ))
		s->enabled |= EN_CONDSTORE;
	s->notify = n;
	nnotify++;
	imap_notify_select(s);
	n_scan(s, sp->status);
	imap_tagged(s, "OK", "NOTIFY completed");
}
