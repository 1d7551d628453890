/*
 * The messages between maild's processes, each declared once, in
 * IMSG_LIST: its name, the processes that may send it, those that may
 * receive it, whether it carries a descriptor, and its payload as a
 * field list.  proc.c refuses (fatally: a bug or an attack) a message
 * from a process not allowed to send it, to a process not meant to
 * receive it, without its descriptor, or whose payload does not follow
 * the list; ipc.c checks the fields as a sender adds them and as a
 * receiver reads them, so both ends keep to the one declaration.
 *
 * Field lists: words separated by spaces, each a kind with an optional
 * ":name" for the reader:
 *	u32 u64		integers (ipc_add_u32, ipc_get_u64, ...)
 *	str		a NUL-terminated string (ipc_add_str, ipc_get_str)
 *	raw		bytes whose size the reader knows (ipc_add, ipc_get)
 *	addr		a struct mailaddr (ipc_add_addr, ipc_get_addr)
 *	sockaddr	an IPv4 or IPv6 socket address (ipc_add_sockaddr, ...)
 *	dest		a struct dest: where a recipient's mail goes
 *	envelope	what the envelopes of a new message share (flags,
 *			helo, src, sender: ipc_add_envelope)
 *	{ ... }		the fields inside, zero or more times; the first of
 *			them must differ from the field that follows the
 *			group, so that the next field read decides
 *
 * Adding a message: one line here, a sender (proc_send_buf), and a
 * handler in the receiving process's table (struct proc_handler).
 */
#ifndef MAILD_IMSG_H
#define MAILD_IMSG_H

#include <stddef.h>
#include <stdint.h>

enum proc_type {
	PROC_PARENT,
	PROC_LOOKUP,
	PROC_SMTP,
	PROC_QUEUE,
	PROC_DELIVER,
	PROC_CONTROL,
	PROC_RELAY,		/* outbound SMTP */
	PROC_IMAP,		/* IMAP server */
	PROC_FILTER,		/* rspamd's client */
	PROC_COUNT
};

#define P_PARENT	(1U << PROC_PARENT)
#define P_LOOKUP	(1U << PROC_LOOKUP)
#define P_SMTP		(1U << PROC_SMTP)
#define P_QUEUE		(1U << PROC_QUEUE)
#define P_DELIVER	(1U << PROC_DELIVER)
#define P_CONTROL	(1U << PROC_CONTROL)
#define P_RELAY		(1U << PROC_RELAY)
#define P_IMAP		(1U << PROC_IMAP)
#define P_FILTER	(1U << PROC_FILTER)
#define P_CHILDREN	(((1U << PROC_COUNT) - 1) & ~P_PARENT)
/* Processes that answer mailctl requests. */
#define P_CTL		(P_PARENT | P_SMTP | P_IMAP | P_QUEUE | P_RELAY)

#define IMSG_FD		1	/* the message carries a descriptor */
#define IMSG_NOFD	0

/* M(name, senders, receivers, descriptor, fields) */
#define IMSG_LIST(M)							\
	/* parent -> children: start-up and reload */			\
	M(HELLO, P_PARENT, P_CHILDREN, IMSG_NOFD,			\
	    "u32:version u32:layout")					\
	M(CONF_RELOAD, P_PARENT, P_CHILDREN, IMSG_FD, "")		\
	M(CONF_TABLE, P_PARENT, P_LOOKUP | P_RELAY, IMSG_FD,		\
	    "str:name")							\
	M(CONF_PKI, P_PARENT, P_SMTP | P_IMAP, IMSG_NOFD,		\
	    "str:name u32:certlen raw:cert u32:keylen raw:key")		\
	M(CONF_DKIM, P_PARENT, P_QUEUE, IMSG_NOFD,			\
	    "str:domain str:selector u32:keylen raw:key")		\
	M(CONF_PSL, P_PARENT, P_QUEUE, IMSG_FD, "")			\
	M(CONF_END, P_PARENT, P_CHILDREN, IMSG_NOFD, "")		\
	M(CONF_DONE, P_CHILDREN, P_PARENT, IMSG_NOFD, "")		\
	M(CTL_LOG, P_PARENT, P_CHILDREN, IMSG_NOFD, "u32:verbose")	\
	/* smtp <-> queue: receiving a message */			\
	M(Q_CREATE, P_SMTP, P_QUEUE, IMSG_NOFD, "u64:reqid")		\
	M(Q_CREATE_OK, P_QUEUE, P_SMTP, IMSG_FD,			\
	    "u64:reqid u32:msgid")					\
	M(Q_CREATE_FAIL, P_QUEUE, P_SMTP, IMSG_NOFD,			\
	    "u64:reqid u32:reason")					\
	M(Q_COMMIT, P_SMTP, P_QUEUE, IMSG_NOFD,				\
	    "u64:reqid u32:msgid u32:ndest envelope:tmpl str:signdomain" \
	    " str:rdns str:user str:tlsversion str:tlscipher")		\
	M(Q_COMMIT_OK, P_QUEUE, P_SMTP, IMSG_NOFD,			\
	    "u64:reqid u32:msgid")					\
	M(Q_COMMIT_FAIL, P_QUEUE, P_SMTP, IMSG_NOFD,			\
	    "u64:reqid u32:msgid")					\
	/* the checks refused it: the reply, "550 5.7.1 ..." */		\
	M(Q_COMMIT_REFUSED, P_QUEUE, P_SMTP, IMSG_NOFD,		\
	    "u64:reqid u32:msgid str:reply")				\
	M(Q_ROLLBACK, P_SMTP, P_QUEUE, IMSG_NOFD, "u32:msgid")		\
	/* smtp <-> queue: greylisting at RCPT TO (greylist.h) */	\
	M(Q_GREYLIST, P_SMTP, P_QUEUE, IMSG_NOFD,			\
	    "u64:reqid sockaddr:client addr:sender addr:rcpt")		\
	M(Q_GREYLIST_RES, P_QUEUE, P_SMTP, IMSG_NOFD,			\
	    "u64:reqid u32:verdict u32:secs")				\
	/* lookup: recipients, logins, senders, DNS */			\
	M(L_RCPT, P_SMTP | P_QUEUE, P_LOOKUP, IMSG_NOFD,		\
	    "u64:reqid u32:msgid u32:flags addr:rcpt")			\
	M(L_RCPT_RES, P_LOOKUP, P_SMTP | P_QUEUE, IMSG_NOFD,		\
	    "u64:reqid u32:result u32:ndest str:reason")		\
	M(Q_DEST, P_LOOKUP, P_QUEUE, IMSG_NOFD,				\
	    "u32:msgid addr:rcpt dest:dest")				\
	M(L_AUTH, P_SMTP | P_IMAP, P_LOOKUP, IMSG_NOFD,			\
	    "u64:reqid u32:flags str:table str:user u32:passlen raw:pass") \
	M(L_AUTH_RES, P_LOOKUP, P_SMTP | P_IMAP, IMSG_NOFD,		\
	    "u64:reqid u32:result str:user str:maildir")		\
	M(L_SENDER, P_SMTP, P_LOOKUP, IMSG_NOFD,			\
	    "u64:reqid addr:user addr:sender")				\
	M(L_SENDER_RES, P_LOOKUP, P_SMTP, IMSG_NOFD,			\
	    "u64:reqid u32:allowed")					\
	M(L_FCRDNS, P_SMTP, P_LOOKUP, IMSG_NOFD,			\
	    "u64:reqid sockaddr:client")				\
	M(L_FCRDNS_RES, P_LOOKUP, P_SMTP, IMSG_NOFD,			\
	    "u64:reqid u32:result str:name")				\
	/* DNS lists: refuse with "554 5.7.1 reply"; why for the log */	\
	M(L_DNSBL, P_SMTP, P_LOOKUP, IMSG_NOFD,				\
	    "u64:reqid sockaddr:client")				\
	M(L_DNSBL_RES, P_LOOKUP, P_SMTP, IMSG_NOFD,			\
	    "u64:reqid u32:refuse u32:errors str:reply str:why")	\
	M(L_MX, P_RELAY, P_LOOKUP, IMSG_NOFD, "u64:reqid str:domain")	\
	M(L_HOST, P_RELAY, P_LOOKUP, IMSG_NOFD, "u64:reqid str:host")	\
	M(L_MX_RES, P_LOOKUP, P_RELAY, IMSG_NOFD,			\
	    "u64:reqid u32:status u32:nhosts"				\
	    " { str:name u32:pref u32:naddr { sockaddr:addr } }")	\
	/* queue <-> lookup: checking a message (msgauth.h's values) */	\
	M(L_DNS, P_QUEUE, P_LOOKUP, IMSG_NOFD,				\
	    "u64:reqid u32:qtype str:name")				\
	M(L_SPF, P_QUEUE, P_LOOKUP, IMSG_NOFD,				\
	    "u64:reqid str:client str:helo addr:sender")		\
	M(L_SPF_RES, P_LOOKUP, P_QUEUE, IMSG_NOFD,			\
	    "u64:reqid u32:result str:domain str:mechanism"		\
	    " str:explanation str:problem")				\
	M(L_DNS_RES, P_LOOKUP, P_QUEUE, IMSG_NOFD,			\
	    "u64:reqid u32:qtype str:name u32:status u32:ntxt { str:txt }") \
	/* deliver -> imap: new mail in a Maildir */			\
	M(I_NEW, P_DELIVER, P_IMAP, IMSG_NOFD, "str:maildir")		\
	/* quotas (quota.h): the table, and RCPT TO's "is it full?" */	\
	M(CONF_QUOTA, P_PARENT, P_DELIVER | P_IMAP, IMSG_FD,		\
	    "str:name")							\
	M(D_QUOTA, P_LOOKUP, P_DELIVER, IMSG_NOFD,			\
	    "u64:reqid u32:n { addr:user str:path }")			\
	M(D_QUOTA_RES, P_DELIVER, P_LOOKUP, IMSG_NOFD,			\
	    "u64:reqid u32:full")					\
	/* queue <-> deliver, relay */					\
	M(D_DELIVER, P_QUEUE, P_DELIVER, IMSG_FD,			\
	    "u64:evpid addr:sender addr:rcpt dest:dest str:dkim u32:retry") \
	M(D_RESULT, P_DELIVER, P_QUEUE, IMSG_NOFD,			\
	    "u64:evpid u32:status str:reason")				\
	M(D_DONE, P_QUEUE, P_DELIVER, IMSG_NOFD, "u64:evpid")		\
	M(R_DELIVER, P_QUEUE, P_RELAY, IMSG_FD,				\
	    "u64:evpid addr:sender addr:rcpt u32:flags str:dkim str:action") \
	M(R_RESULT, P_RELAY, P_QUEUE, IMSG_NOFD,			\
	    "u64:evpid u32:status str:reason str:host")			\
	/* queue <-> filter: rspamd's verdicts, learning */		\
	M(F_SCAN, P_QUEUE, P_FILTER, IMSG_FD,				\
	    "u64:msgid str:ip str:helo str:hostname addr:sender str:user" \
	    " str:tlsversion str:tlscipher u32:nrcpt { addr:rcpt }")	\
	M(F_SCAN_RES, P_FILTER, P_QUEUE, IMSG_NOFD,			\
	    "u64:msgid u32:status str:error u32:action str:score"	\
	    " str:required str:message str:subject str:symbols"	\
	    " u32:nadd { str:name str:value }"				\
	    " u32:nremove { u32:index str:name }")			\
	M(F_LEARN, P_QUEUE, P_FILTER, IMSG_FD, "u64:evpid u32:spam")	\
	M(F_LEARN_RES, P_FILTER, P_QUEUE, IMSG_NOFD,			\
	    "u64:evpid u32:status str:reason")				\
	/* imap -> queue: a message moved into (spam) or out of Junk */	\
	M(Q_LEARN, P_IMAP, P_QUEUE, IMSG_FD, "u32:spam str:user")	\
	/* control <-> the processes that answer mailctl */		\
	M(CTL_REQ, P_CONTROL, P_CTL, IMSG_NOFD,				\
	    "u64:id u32:cmd str:arg")					\
	M(CTL_RES, P_CTL, P_CONTROL, IMSG_NOFD,				\
	    "u64:id u32:status str:text")

enum ipc_type {
	IMSG_NONE,
#define IMSG_ENUM(name, from, to, fd, fields)	IMSG_##name,
	IMSG_LIST(IMSG_ENUM)
#undef IMSG_ENUM
	IMSG_COUNT
};

struct imsg_info {
	const char	*name;		/* "L_RCPT" */
	uint32_t	 from;		/* P_* of the senders */
	uint32_t	 to;		/* P_* of the receivers */
	int		 fd;		/* IMSG_FD or IMSG_NOFD */
	const char	*fields;
};
extern const struct imsg_info	imsg_info[IMSG_COUNT];

/*
 * IMSG_HELLO's version: the build's, and a hash of IMSG_LIST as written,
 * so that a parent and a child built apart fail at once.
 */
#define IMSG_VERSION	1
uint32_t	imsg_layout(void);

/* Field kinds, as ipc_add*() and ipc_get*() record them. */
#define IPC_K_U32	'u'
#define IPC_K_U64	'U'
#define IPC_K_STR	's'
#define IPC_K_RAW	'r'
#define IPC_K_ADDR	'a'
#define IPC_K_SOCKADDR	'n'
#define IPC_K_DEST	'd'
#define IPC_K_ENVELOPE	'e'
#define IPC_KINDS_MAX	512

/* Where a reader is in a field list. */
struct ipc_fields {
	const char	*list;		/* NULL: not checked */
	const char	*p;		/* the next word */
	const char	*group[4];	/* the groups it is in */
	int		 depth;
};

/*
 * imsg_fields_step: the next field is of kind k: 0, or -1 if the list
 * has no such field there.  imsg_fields_done: 0 if the list may end
 * here.  imsg_fields_check: 0 if the kinds (a string of IPC_K_*) follow
 * list from start to end, else -1 with the reason in err.
 */
int	imsg_fields_step(struct ipc_fields *, int);
int	imsg_fields_done(struct ipc_fields *);
int	imsg_fields_check(const char *, const char *, char *, size_t);
/* 0 if a list is well formed (words, groups, see above), else -1. */
int	imsg_fields_valid(const char *, char *, size_t);
const char *imsg_kind_name(int);
/*
 * Whether processes a and b exchange any message of IMSG_LIST: only
 * those get a socketpair, so a process cannot even reach one it has no
 * business with (and the parent needs fewer descriptors).
 */
int	imsg_channel(enum proc_type, enum proc_type);

#define RELAY_OK	0	/* IMSG_R_RESULT, IMSG_D_RESULT status */
#define RELAY_TEMPFAIL	1
#define RELAY_PERMFAIL	2

#define CTL_LINE	0	/* IMSG_CTL_RES: one line of the answer */
#define CTL_OK		1	/* the end: done (text "" or a last line) */
#define CTL_ERR		2	/* the end: failed, text says why */

#define AUTHF_MAILDIR	0x01	/* IMSG_L_AUTH: also find the Maildir */

#define AUTH_OK		0	/* IMSG_L_AUTH_RES results */
#define AUTH_FAIL	1
#define AUTH_TEMPFAIL	2

#define Q_FAIL_TEMP	0	/* 451 4.3.0 */
#define Q_FAIL_NOSPACE	1	/* 452 4.3.1 */

#endif
