/*
 * The arguments of NOTIFY (the formal syntax of RFC 5465):
 *
 *	notify	= "NOTIFY" SP ("NONE" / "SET" [SP "STATUS"] 1*(SP group))
 *	group	= "(" filter SP ("NONE" / "(" event *(SP event) ")") ")"
 *	filter	= "selected" / "selected-delayed" / "inboxes" /
 *		  "personal" / "subscribed" /
 *		  ("subtree" / "mailboxes") SP (mailbox / "(" 1*mailbox ")")
 *	event	= "MessageNew" [SP "(" fetch-att ... ")"] / "MessageExpunge"
 *		  / "FlagChange" / "AnnotationChange" / "MailboxName" /
 *		  "SubscriptionChange" / ... / atom
 *
 * Rules beyond the grammar: one selected filter at most; the selected
 * mailbox has message events only, MessageNew and MessageExpunge
 * together, FlagChange and AnnotationChange only with both; fetch
 * attributes only for the selected mailbox.  For other
 * mailboxes any set of events is taken (imaptest's notify group asks
 * for MessageExpunge alone), since each of them only adds STATUS
 * responses.  Events not supported (and unknown atoms) are refused
 * with BADEVENT once the syntax is known good.  The names are bounded
 * in count and bytes: more is NOTIFICATIONOVERFLOW.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "imap_notify.h"
#include "imap_parser.h"
#include "log.h"
#include "mailbox.h"

static const struct {
	const char	*name;
	int		 bit;
} events[] = {
	{ "MessageNew",			NE_NEW },
	{ "MessageExpunge",		NE_EXPUNGE },
	{ "FlagChange",			NE_FLAGS },
	{ "AnnotationChange",		NE_ANNOTATION },
	{ "MailboxName",		NE_NAME },
	{ "SubscriptionChange",		NE_SUBS },
	{ "MailboxMetadataChange",	NE_MBMETA },
	{ "ServerMetadataChange",	NE_SRVMETA },
};

static const struct {
	const char	*name;
	int		 filter;
} filters[] = {
	{ "SELECTED",		NF_SELECTED },
	{ "SELECTED-DELAYED",	NF_SELECTED_DELAYED },
	{ "INBOXES",		NF_INBOXES },
	{ "PERSONAL",		NF_PERSONAL },
	{ "SUBSCRIBED",		NF_SUBSCRIBED },
	{ "SUBTREE",		NF_SUBTREE },
	{ "MAILBOXES",		NF_MAILBOXES },
};

struct pstate {
	size_t		 nnames, namebytes;
	int		 unsupported;
	int		 overflow;
};

static int	p_events(const struct imap_arg *, int, int *,
		    const struct imap_arg **, struct pstate *,
		    const char **);
static int	p_names(const struct imap_arg *, struct notify_group *,
		    struct pstate *, const char **);
static int	p_group(const struct imap_arg *, struct notify_spec *,
		    struct pstate *, const char **);

/* The event list of a group: bits into *ev. */
static int
p_events(const struct imap_arg *a, int selected, int *ev,
    const struct imap_arg **fetch, struct pstate *ps, const char **errstr)
{
	const struct imap_arg	*e;
	size_t			 k;
	int			 bit;

	*ev = 0;
	if (a->type == IMAP_ARG_ATOM && strcasecmp(a->str, "NONE") == 0)
		return 0;
	if (a->type != IMAP_ARG_LIST || a->list == NULL) {
		*errstr = "Events must be NONE or a list of events";
		return -1;
	}
	for (e = a->list; e != NULL; e = e->next) {
		if (e->type != IMAP_ARG_ATOM || (e->flags &
		    (IMAP_ARGF_SECTION | IMAP_ARGF_PARTIAL))) {
			*errstr = "Invalid event";
			return -1;
		}
		for (k = 0; k < nitems(events); k++)
			if (strcasecmp(e->str, events[k].name) == 0)
				break;
		bit = k < nitems(events) ? events[k].bit : 0;
		if (bit == 0 || !(bit & NE_SUPPORTED))
			ps->unsupported = 1;
		*ev |= bit;
		if (bit == NE_NEW && e->next != NULL &&
		    e->next->type == IMAP_ARG_LIST) {
			if (!selected) {
				*errstr = "Fetch attributes are for the "
				    "selected mailbox only";
				return -1;
			}
			if (e->next->list == NULL) {
				*errstr = "Empty fetch attribute list";
				return -1;
			}
			*fetch = e->next;
			e = e->next;
		}
	}
	if (!selected)
		return 0;
	if (*ev & ~NE_MESSAGE) {
		*errstr = "Only message events for the selected mailbox";
		return -1;
	}
	if ((*ev & (NE_NEW | NE_EXPUNGE)) &&
	    (*ev & (NE_NEW | NE_EXPUNGE)) != (NE_NEW | NE_EXPUNGE)) {
		*errstr = "MessageNew and MessageExpunge go together";
		return -1;
	}
	if ((*ev & (NE_FLAGS | NE_ANNOTATION)) && !(*ev & NE_NEW)) {
		*errstr = "FlagChange needs MessageNew and MessageExpunge";
		return -1;
	}
	return 0;
}

/* One mailbox or a list of them, canonical, without duplicates. */
static int
p_names(const struct imap_arg *a, struct notify_group *g, struct pstate *ps,
    const char **errstr)
{
	const struct imap_arg	*m;
	const char		*str, *err;
	char			 canon[MAILBOX_NAME_MAX + 1];
	size_t			 i, len;

	if (a->type == IMAP_ARG_LIST && a->list == NULL) {
		*errstr = "Empty mailbox list";
		return -1;
	}
	for (m = a->type == IMAP_ARG_LIST ? a->list : a; m != NULL;
	    m = a->type == IMAP_ARG_LIST ? m->next : NULL) {
		if (m->type == IMAP_ARG_LIST || m->type == IMAP_ARG_NIL ||
		    imap_arg_mailbox(m, 0, &str) == -1) {
			*errstr = "Invalid mailbox name";
			return -1;
		}
		if (mailbox_name_canon(str, 0, canon, sizeof(canon),
		    &err) == -1) {
			*errstr = err != NULL ? err : "Invalid mailbox name";
			return -1;
		}
		if (ps->overflow)
			continue;	/* parsed to the end, never kept */
		for (i = 0; i < g->nnames; i++)
			if (strcmp(g->names[i], canon) == 0)
				break;
		if (i < g->nnames)
			continue;
		len = strlen(canon);
		if (ps->nnames + 1 > NOTIFY_NAMES_MAX ||
		    ps->namebytes + len > NOTIFY_NAMEBYTES_MAX) {
			ps->overflow = 1;
			continue;
		}
		if ((g->names = reallocarray(g->names, g->nnames + 1,
		    sizeof(*g->names))) == NULL ||
		    (g->names[g->nnames] = strdup(canon)) == NULL)
			fatal("notify names");
		g->nnames++;
		ps->nnames++;
		ps->namebytes += len;
	}
	return 0;
}

static int
p_group(const struct imap_arg *a, struct notify_spec *sp, struct pstate *ps,
    const char **errstr)
{
	const struct imap_arg	*f, *ev, *fetch = NULL;
	struct notify_group	*g;
	size_t			 k;
	int			 filter, bits;

	if (a->type != IMAP_ARG_LIST || (f = a->list) == NULL ||
	    f->type != IMAP_ARG_ATOM) {
		*errstr = "An event group is (filter events)";
		return -1;
	}
	for (k = 0; k < nitems(filters); k++)
		if (strcasecmp(f->str, filters[k].name) == 0)
			break;
	if (k == nitems(filters)) {
		*errstr = "Unknown mailbox filter";
		return -1;
	}
	filter = filters[k].filter;
	ev = f->next;
	if (filter == NF_SUBTREE || filter == NF_MAILBOXES)
		ev = ev != NULL ? ev->next : NULL;
	if (ev == NULL || ev->next != NULL) {
		*errstr = "An event group is (filter events)";
		return -1;
	}
	if (filter == NF_SELECTED || filter == NF_SELECTED_DELAYED) {
		if (sp->sel_filter != 0) {
			*errstr = "Only one selected filter";
			return -1;
		}
		if (p_events(ev, 1, &bits, &fetch, ps, errstr) == -1)
			return -1;
		sp->sel_filter = filter;
		sp->sel_events = bits;
		sp->sel_fetch = fetch;
		sp->filters |= 1 << filter;
		return 0;
	}
	if (p_events(ev, 0, &bits, &fetch, ps, errstr) == -1)
		return -1;
	if ((sp->g = reallocarray(sp->g, sp->ng + 1, sizeof(*sp->g))) == NULL)
		fatal("reallocarray");
	g = &sp->g[sp->ng++];
	memset(g, 0, sizeof(*g));
	g->filter = filter;
	g->events = bits;
	sp->filters |= 1 << filter;
	if (filter == NF_SUBTREE || filter == NF_MAILBOXES)
		return p_names(f->next, g, ps, errstr);
	return 0;
}

int
notify_parse(const struct imap_arg *a, struct notify_spec **specp,
    const char **errstr)
{
	struct notify_spec	*sp;
	struct pstate		 ps;

	*specp = NULL;
	*errstr = "NOTIFY takes NONE or SET and event groups";
	if (a == NULL || a->type != IMAP_ARG_ATOM)
		return NOTIFY_BAD;
	if (strcasecmp(a->str, "NONE") == 0)
		return a->next == NULL ? NOTIFY_OK : NOTIFY_BAD;
	if (strcasecmp(a->str, "SET") != 0)
		return NOTIFY_BAD;
	if ((sp = calloc(1, sizeof(*sp))) == NULL)
		fatal("calloc");
	memset(&ps, 0, sizeof(ps));
	a = a->next;
	if (a != NULL && a->type == IMAP_ARG_ATOM &&
	    strcasecmp(a->str, "STATUS") == 0) {
		sp->status = 1;
		a = a->next;
	}
	if (a == NULL) {
		*errstr = "NOTIFY SET needs an event group";
		goto bad;
	}
	for (; a != NULL; a = a->next)
		if (p_group(a, sp, &ps, errstr) == -1)
			goto bad;
	if (ps.unsupported) {
		*errstr = "Unsupported event";
		notify_spec_free(sp);
		return NOTIFY_BADEVENT;
	}
	if (ps.overflow) {
		*errstr = "Too many mailbox names";
		notify_spec_free(sp);
		return NOTIFY_OVERFLOW;
	}
	*specp = sp;
	return NOTIFY_OK;
bad:
	notify_spec_free(sp);
	return NOTIFY_BAD;
}

void
notify_spec_free(struct notify_spec *sp)
{
	size_t	 i, j;

	if (sp == NULL)
		return;
	for (i = 0; i < sp->ng; i++) {
		for (j = 0; j < sp->g[i].nnames; j++)
			free(sp->g[i].names[j]);
		free(sp->g[i].names);
	}
	free(sp->g);
	free(sp);
}

int
notify_events(const struct notify_spec *sp, const char *name, int subscribed)
{
	const struct notify_group	*g;
	size_t				 i, j, len;
	int				 ev = 0;

	for (i = 0; i < sp->ng; i++) {
		g = &sp->g[i];
		switch (g->filter) {
		case NF_INBOXES:
			/*
			 * Delivery may go to any folder (match rules, the
			 * Junk folder): RFC 5465 says to take them all then.
			 */
		case NF_PERSONAL:
			ev |= g->events;
			break;
		case NF_SUBSCRIBED:
			if (subscribed)
				ev |= g->events;
			break;
		case NF_SUBTREE:
			for (j = 0; j < g->nnames; j++) {
				len = strlen(g->names[j]);
				if (strncmp(name, g->names[j], len) == 0 &&
				    (name[len] == '\0' ||
				    name[len] == MAILBOX_SEP)) {
					ev |= g->events;
					break;
				}
			}
			break;
		case NF_MAILBOXES:
			for (j = 0; j < g->nnames; j++)
				if (strcmp(name, g->names[j]) == 0) {
					ev |= g->events;
					break;
				}
			break;
		}
	}
	return ev;
}

void
notify_event_names(int bits, char *buf, size_t len)
{
	size_t	 k;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (k = 0; k < nitems(events); k++)
		if (bits & events[k].bit) {
			if (buf[0] != '\0')
				(void)strlcat(buf, " ", len);
			(void)strlcat(buf, events[k].name, len);
		}
}
