/*
 * IMAP QUOTA (RFC 9208): GETQUOTA, GETQUOTAROOT and SETQUOTA (refused:
 * the limits are mail.conf's), and the quota transaction of the
 * commands that add or remove messages (APPEND, COPY, MOVE, EXPUNGE,
 * CLOSE, DELETE, RENAME INBOX): a user has one quota root, QUOTA_ROOT_
 * NAME ("User quota", as Dovecot names it), holding every mailbox, with
 * the STORAGE (in units of 1024 octets, rounded up) and MESSAGE
 * resources that have a limit.  The usage is the maildirsize file of
 * the user's Maildir (quota.h).
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_session.h"
#include "mailbox.h"
#include "proc.h"
#include "quota.h"

static int	s_limits(struct imap_session *, struct quota_limits *);
static int	s_quota_line(struct imap_session *);
static int	s_number(const struct imap_arg *);

/* The user's limits: 1 some, 0 none (or quotas off). */
static int
s_limits(struct imap_session *s, struct quota_limits *lim)
{
	char	 err[256];

	memset(lim, 0, sizeof(*lim));
	if (!conf->quota)
		return 0;
	if (quota_user_limits(conf, s->user, lim, err, sizeof(err)) == -1)
		log_warnx("imap %llu: %s", (unsigned long long)s->id, err);
	return lim->storage != 0 || lim->messages != 0;
}

int
imap_quota_open(struct imap_session *s, struct quota_txn *q)
{
	struct quota_limits	 lim;
	char			 err[512];

	q->dfd = -1;
	if (!conf->quota)
		return 0;
	(void)s_limits(s, &lim);
	if (quota_open(q, s->home, &lim, err, sizeof(err)) == -1) {
		log_warnx("imap %llu: %s: quota: %s, not counted",
		    (unsigned long long)s->id, s->user, err);
		return -1;
	}
	return 1;
}

int
imap_quota_room(const struct quota_txn *q, int qon, uint64_t bytes,
    uint64_t count)
{
	return qon != 1 || quota_exceeds(q, bytes, count) == QUOTA_OK;
}

void
imap_quota_done(struct imap_session *s, struct quota_txn *q, int qon,
    int64_t bytes, int64_t count)
{
	char	 err[256];

	if (qon != 1)
		return;
	if (quota_add(q, bytes, count, err, sizeof(err)) == -1)
		log_warnx("imap %llu: %s: quota: %s",
		    (unsigned long long)s->id, s->user, err);
	quota_close(q);
}

/* "* QUOTA ..." of the user's root: 0, or -1 (usage unreadable). */
static int
s_quota_line(struct imap_session *s)
{
	struct quota_txn	 q;
	struct quota_limits	 lim;
	char			 line[256], err[512];
	int			 n = 0;

	(void)s_limits(s, &lim);
	if (quota_open(&q, s->home, &lim, err, sizeof(err)) == -1) {
		log_warnx("imap %llu: %s: quota: %s",
		    (unsigned long long)s->id, s->user, err);
		return -1;
	}
	line[0] = '\0';
	if (lim.storage != 0)
		n += snprintf(line + n, sizeof(line) - n, "STORAGE %llu %llu",
		    (unsigned long long)((q.use.bytes + 1023) / 1024),
		    (unsigned long long)((lim.storage + 1023) / 1024));
	if (lim.messages != 0)
		(void)snprintf(line + n, sizeof(line) - n,
		    "%sMESSAGE %llu %llu", n > 0 ? " " : "",
		    (unsigned long long)q.use.count,
		    (unsigned long long)lim.messages);
	quota_close(&q);
	imap_printf(s, "* QUOTA \"%s\" (%s)\r\n", QUOTA_ROOT_NAME, line);
	return 0;
}

void
imap_cmd_getquotaroot(struct imap_session *s, const struct imap_command *cmd)
{
	struct quota_limits	 lim;
	struct mbox		*mb;
	char			 name[MAILBOX_NAME_MAX + 1], path[PATH_MAX];
	char			 ex[MAILBOX_WIRE_MAX + 1];
	char			 enc[MAILBOX_WIRE_MAX + 64];

	if (cmd->nargs != 1) {
		imap_tagged(s, "BAD", "GETQUOTAROOT takes a mailbox name");
		return;
	}
	if (imap_mailbox_arg(s, cmd->args, name, sizeof(name), path,
	    sizeof(path)) == -1)
		return;
	if ((mb = mbox_open(path, 0)) == NULL) {
		imap_mbox_refused(s, "[NONEXISTENT] No such mailbox");
		return;
	}
	mbox_close(mb);
	if (mailbox_name_export(name, 0, ex, sizeof(ex)) == -1 ||
	    imap_encode_string(enc, sizeof(enc), ex, strlen(ex), 0) >=
	    sizeof(enc)) {
		imap_tagged(s, "NO", "[CANNOT] Mailbox name too long");
		return;
	}
	if (!s_limits(s, &lim)) {
		/* No limit: no root (RFC 9208 4.3.2 allows none). */
		imap_printf(s, "* QUOTAROOT %s\r\n", enc);
		imap_tagged(s, "OK", "Getquotaroot completed");
		return;
	}
	imap_printf(s, "* QUOTAROOT %s \"%s\"\r\n", enc, QUOTA_ROOT_NAME);
	if (s_quota_line(s) == -1) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Quota usage cannot be "
		    "read now");
		return;
	}
	imap_tagged(s, "OK", "Getquotaroot completed");
}

void
imap_cmd_getquota(struct imap_session *s, const struct imap_command *cmd)
{
	struct quota_limits	 lim;
	const char		*root;
	size_t			 len;

	if (cmd->nargs != 1 ||
	    imap_arg_astring(cmd->args, &root, &len) == -1) {
		imap_tagged(s, "BAD", "GETQUOTA takes a quota root name");
		return;
	}
	if (len != strlen(QUOTA_ROOT_NAME) || memcmp(root, QUOTA_ROOT_NAME,
	    len) != 0 || !s_limits(s, &lim)) {
		imap_tagged(s, "NO", "[NONEXISTENT] No such quota root");
		return;
	}
	if (s_quota_line(s) == -1) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Quota usage cannot be "
		    "read now");
		return;
	}
	imap_tagged(s, "OK", "Getquota completed");
}

/* A number of a SETQUOTA list (an atom of digits): 0, or -1. */
static int
s_number(const struct imap_arg *a)
{
	if (a == NULL || a->type != IMAP_ARG_ATOM || a->len == 0 ||
	    a->len > 20 || strspn(a->str, "0123456789") != a->len)
		return -1;
	return 0;
}

/*
 * SETQUOTA root (resource limit ...): well formed, it is refused (RFC
 * 9208 4.1.3 lets a server refuse; QUOTASET is not advertised).
 */
void
imap_cmd_setquota(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a;
	const char		*root;
	size_t			 len;

	if (cmd->nargs != 2 ||
	    imap_arg_astring(cmd->args, &root, &len) == -1 ||
	    cmd->args->next->type != IMAP_ARG_LIST ||
	    cmd->args->next->nlist % 2 != 0)
		goto bad;
	for (a = cmd->args->next->list; a != NULL; a = a->next->next)
		if (a->type != IMAP_ARG_ATOM || s_number(a->next) == -1)
			goto bad;
	imap_tagged(s, "NO", "[NOPERM] Quota limits are set by the "
	    "administrator");
	return;
 bad:
	imap_tagged(s, "BAD", "SETQUOTA takes a quota root and a list of "
	    "resources and limits");
}
