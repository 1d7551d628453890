/*
 * NOTIFY (RFC 5465) event groups, parsed from the arguments of the
 * command (src/lib/imap_notify.c): for the selected mailbox and for
 * sets of other mailboxes (filters), which events the client wants.
 * The session (src/maild/imap_cmd_notify.c) matches mailboxes against
 * them and sends the notifications.
 */
#ifndef MAILD_IMAP_NOTIFY_H
#define MAILD_IMAP_NOTIFY_H

#include <stddef.h>

#define NOTIFY_NAMES_MAX	1000	/* mailbox names in one NOTIFY SET */
#define NOTIFY_NAMEBYTES_MAX	(64 * 1024)	/* their bytes */

/* filter-mailboxes */
#define NF_SELECTED		1
#define NF_SELECTED_DELAYED	2
#define NF_INBOXES		3
#define NF_PERSONAL		4
#define NF_SUBSCRIBED		5
#define NF_SUBTREE		6
#define NF_MAILBOXES		7

/* events */
#define NE_NEW			0x01	/* MessageNew */
#define NE_EXPUNGE		0x02	/* MessageExpunge */
#define NE_FLAGS		0x04	/* FlagChange */
#define NE_ANNOTATION		0x08	/* AnnotationChange */
#define NE_NAME			0x10	/* MailboxName */
#define NE_SUBS			0x20	/* SubscriptionChange */
#define NE_MBMETA		0x40	/* MailboxMetadataChange */
#define NE_SRVMETA		0x80	/* ServerMetadataChange */
#define NE_MESSAGE		(NE_NEW | NE_EXPUNGE | NE_FLAGS | NE_ANNOTATION)
#define NE_SUPPORTED		(NE_NEW | NE_EXPUNGE | NE_FLAGS | NE_NAME | \
				    NE_SUBS)

/* notify_parse() results */
#define NOTIFY_OK		0
#define NOTIFY_BAD		(-1)	/* BAD: syntax, or a rule broken */
#define NOTIFY_BADEVENT		(-2)	/* NO [BADEVENT (...)] */
#define NOTIFY_OVERFLOW		(-3)	/* NO [NOTIFICATIONOVERFLOW] */

struct imap_arg;

struct notify_group {
	int		 filter;	/* NF_* but the selected ones */
	int		 events;	/* NE_* */
	char		**names;	/* NF_SUBTREE, NF_MAILBOXES */
	size_t		 nnames;
};

struct notify_spec {
	int			 status;	/* SET STATUS */
	int			 sel_filter;	/* 0, NF_SELECTED(_DELAYED) */
	int			 sel_events;
	/* MessageNew's fetch-att list: points into the arguments. */
	const struct imap_arg	*sel_fetch;
	struct notify_group	*g;
	size_t			 ng;
	int			 filters;	/* bit 1 << NF_* present */
};

/*
 * The arguments after "NOTIFY": "NONE" (*specp = NULL) or "SET"
 * [STATUS] event groups.  Mailbox names are canonical (mailbox.h).
 * NOTIFY_OK, or an error with *errstr for the client.  Events that
 * are not NE_SUPPORTED give NOTIFY_BADEVENT once the syntax is known
 * good.
 */
int	notify_parse(const struct imap_arg *, struct notify_spec **,
	    const char **);
void	notify_spec_free(struct notify_spec *);
/*
 * The events the groups for other mailboxes than the selected one ask
 * of mailbox name (canonical); subscribed: the name is subscribed.
 */
int	notify_events(const struct notify_spec *, const char *, int);
/* The events named by the NE_* bits, "MessageNew FlagChange", into buf. */
void	notify_event_names(int, char *, size_t);

#endif
