/*
 * rspamd in the queue process: what a message being received is sent
 * to the filter process with (queue_filter_scan), and what rspamd's
 * answer does to it (queue_filter_verdict, queue_filter_edit): a
 * refusal before the 250, the Junk folder, the header lines added on
 * top, and the edits to the header rspamd asks for (Subject rewritten,
 * fields removed), made on the spool file before it is committed so
 * every later reader (deliver, relay) sees the edited message.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "address.h"
#include "compat.h"
#include "config.h"
#include "envelope.h"
#include "filter.h"
#include "maildir.h"
#include "proc.h"
#include "queue.h"
#include "rspamd.h"
#include "spool.h"
#include "util.h"

static int	qf_field_ok(const char *, const char *);
static int	qf_add(char *, size_t, size_t *, const char *, const char *);
static int	qf_drop(const char *, size_t, void *);
static int	qf_count(const char *, size_t, void *);
static const char *qf_action(uint32_t);

static const char *
qf_action(uint32_t action)
{
	static const char *const names[] = { "no action", "greylist",
	    "add header", "rewrite subject", "soft reject", "reject",
	    "discard", "quarantine" };

	return action < nitems(names) ? names[action] : "unknown";
}

/*
 * Ask rspamd about message msgid (reqid names the answer).  Returns -1
 * when its file cannot be opened: the caller treats it as rspamd down.
 */
int
queue_filter_scan(uint64_t reqid, uint32_t msgid, const struct envelope *e,
    const struct scan_client *c, const struct mailaddr *const *rcpts,
    size_t nrcpt)
{
	struct ipc_buf	 b;
	size_t		 i;
	int		 fd;

	if ((fd = spool_msg_read(msgid)) == -1) {
		log_warn("queue: message %08x: open for rspamd", msgid);
		return -1;
	}
	if (nrcpt > FILTER_RCPT_MAX)
		nrcpt = FILTER_RCPT_MAX;
	ipc_buf_init(&b);
	ipc_add_u64(&b, reqid);
	ipc_add_str(&b, e->src);
	ipc_add_str(&b, e->helo);
	ipc_add_str(&b, c->rdns);
	ipc_add_addr(&b, &e->sender);
	ipc_add_str(&b, c->user);
	ipc_add_str(&b, c->tls_version);
	ipc_add_str(&b, c->tls_cipher);
	ipc_add_u32(&b, (uint32_t)nrcpt);
	for (i = 0; i < nrcpt; i++)
		ipc_add_addr(&b, rcpts[i]);
	proc_send_buf(PROC_FILTER, IMSG_F_SCAN, fd, &b);
	return 0;
}

/* A header field rspamd asks for: a field name, a value on one line. */
static int
qf_field_ok(const char *name, const char *value)
{
	const char	*p;

	if (*name == '\0' || strlen(name) > 76)
		return 0;
	for (p = name; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == ':')
			return 0;
	for (p = value; *p != '\0'; p++) {
		if (*p == '\r' && p[1] == '\n' && (p[2] == ' ' ||
		    p[2] == '\t')) {
			p++;
			continue;
		}
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return 0;
		if (*p == 0x7f)
			return 0;
	}
	return 1;
}

/* "Name: value\r\n" onto buf, if it fits whole. */
static int
qf_add(char *buf, size_t size, size_t *len, const char *name,
    const char *value)
{
	int	 n;

	n = snprintf(buf + *len, size - *len, "%s: %s\r\n", name, value);
	if (n < 0 || (size_t)n >= size - *len) {
		buf[*len] = '\0';
		return -1;
	}
	*len += (size_t)n;
	return 0;
}

/*
 * IMSG_F_SCAN_RES into v: what becomes of the message, and in
 * v->headers the lines rspamd's verdict puts on top of it (queue.c adds
 * them below the checks' Authentication-Results).  Returns the reqid.
 */
uint64_t
queue_filter_verdict(struct ipc_msg *m, struct filter_verdict *v)
{
	char		 error[256], message[256], score[32], required[32];
	char		 symbols[FILTER_SYMBOLS_MAX];
	char		 folded[FILTER_SYMBOLS_MAX + 64];
	char		 status_hdr[128];
	const char	*name, *value, *spam;
	uint64_t	 reqid;
	uint32_t	 status, action, i, idx;
	size_t		 len, k, col, n;
	int		 own_status = 1, own_symbols = 1, own_spam = 1;

	memset(v, 0, sizeof(*v));
	reqid = ipc_get_u64(m);
	status = ipc_get_u32(m);
	ipc_get_str(m, error, sizeof(error));
	action = ipc_get_u32(m);
	ipc_get_str(m, score, sizeof(score));
	ipc_get_str(m, required, sizeof(required));
	ipc_get_str(m, message, sizeof(message));
	ipc_get_str(m, v->subject, sizeof(v->subject));
	ipc_get_str(m, symbols, sizeof(symbols));
	len = 0;

	if (status != FILTER_OK) {
		(void)ipc_get_u32(m);
		(void)ipc_get_u32(m);
		ipc_end(m);
		STAT_INC(ST_RSPAMD_ERRORS);
		v->error = 1;
		v->subject[0] = '\0';
		(void)strlcpy(v->log, error, sizeof(v->log));
		if (conf->rspamd_on_failure == RSPAMD_FAIL_DEFER) {
			v->refuse = 1;
			(void)strlcpy(v->reply, "451 4.7.1 Content filter "
			    "unavailable, try again later", sizeof(v->reply));
		}
		return reqid;
	}
	STAT_INC(ST_RSPAMD_SCANNED);
	/* rspamd's own header lines, as its milter would add them. */
	n = ipc_get_u32(m);
	for (i = 0; i < n; i++) {
		name = ipc_get_strp(m);
		value = ipc_get_strp(m);
		if (!qf_field_ok(name, value)) {
			log_warnx("queue: rspamd asks to add a bad header "
			    "field, ignored");
			continue;
		}
		if (strcasecmp(name, "X-Spam-Status") == 0)
			own_status = 0;
		else if (strcasecmp(name, "X-Spam-Symbols") == 0)
			own_symbols = 0;
		else if (strcasecmp(name, "X-Spam") == 0)
			own_spam = 0;
		if (qf_add(v->headers, sizeof(v->headers), &len, name,
		    value) == -1)
			log_warnx("queue: rspamd's %s header does not fit, "
			    "left out", name);
	}
	n = ipc_get_u32(m);
	for (i = 0; i < n; i++) {
		idx = ipc_get_u32(m);
		name = ipc_get_strp(m);
		if (v->nremove == FILTER_EDITS_MAX || !qf_field_ok(name, "") ||
		    strlcpy(v->remove[v->nremove].name, name,
		    sizeof(v->remove[0].name)) >= sizeof(v->remove[0].name))
			continue;
		v->remove[v->nremove++].index = (int32_t)idx;
	}
	ipc_end(m);

	switch (action) {
	case RSPAMD_REJECT:
		STAT_INC(ST_RSPAMD_REJECTED);
		v->refuse = 1;
		(void)snprintf(v->reply, sizeof(v->reply), "550 5.7.1 %s",
		    message[0] != '\0' ? message : "Spam message rejected");
		break;
	case RSPAMD_SOFT_REJECT:
	case RSPAMD_GREYLIST:
		STAT_INC(ST_RSPAMD_SOFTREJECTED);
		v->refuse = 1;
		(void)snprintf(v->reply, sizeof(v->reply), "451 4.7.1 %s",
		    message[0] != '\0' ? message : "Try again later");
		break;
	case RSPAMD_REWRITE_SUBJECT:
	case RSPAMD_ADD_HEADER:
	case RSPAMD_QUARANTINE:
	case RSPAMD_DISCARD:
		/* The milter's last two: kept in Junk, never lost here. */
		STAT_INC(ST_RSPAMD_JUNKED);
		v->junk = 1;
		break;
	default:
		break;
	}
	if (action != RSPAMD_REWRITE_SUBJECT)
		v->subject[0] = '\0';
	else if (!qf_field_ok("Subject", v->subject)) {
		log_warnx("queue: rspamd's new Subject is not a header "
		    "value, left as it was");
		v->subject[0] = '\0';
	}
	(void)snprintf(v->log, sizeof(v->log), "rspamd %s, score %s/%s%s%s",
	    qf_action(action), score, required,
	    symbols[0] != '\0' ? ": " : "", symbols);

	/* Ours, unless rspamd's milter headers said it already. */
	spam = v->junk ? "Yes" : "No";
	(void)snprintf(status_hdr, sizeof(status_hdr), "%s, score=%s "
	    "required=%s", spam, score, required);
	if (v->subject[0] != '\0' && qf_add(v->headers, sizeof(v->headers),
	    &len, "Subject", v->subject) == -1)
		v->subject[0] = '\0';	/* no room: the old one stays */
	if (own_spam && v->junk)
		(void)qf_add(v->headers, sizeof(v->headers), &len, "X-Spam",
		    "Yes");
	if (own_status)
		(void)qf_add(v->headers, sizeof(v->headers), &len,
		    "X-Spam-Status", status_hdr);
	if (own_symbols && symbols[0] != '\0') {
		/* "A(1.00), B(0.50)", folded after a comma near column 76. */
		col = strlen("X-Spam-Symbols: ");
		for (i = 0, k = 0; symbols[i] != '\0' &&
		    k + 4 < sizeof(folded); i++) {
			folded[k++] = symbols[i];
			col++;
			if (symbols[i] != ',' || symbols[i + 1] == '\0')
				continue;
			n = strcspn(symbols + i + 1, ",");
			if (col + 1 + n > 76) {
				folded[k++] = '\r';
				folded[k++] = '\n';
				folded[k++] = '\t';
				col = 8;
			} else {
				folded[k++] = ' ';
				col++;
			}
		}
		folded[k] = '\0';
		if (qf_add(v->headers, sizeof(v->headers), &len,
		    "X-Spam-Symbols", folded) == -1)
			log_warnx("queue: X-Spam-Symbols does not fit, left "
			    "out");
	}
	return reqid;
}

/*
 * The fields of the header edits: counted first (a negative index
 * counts from the last), then left out by qf_drop().
 */
struct qf_edit {
	const struct filter_verdict	*v;
	int				 seen[FILTER_EDITS_MAX + 1];
	int				 total[FILTER_EDITS_MAX + 1];
};

static int
qf_name_is(const char *field, size_t len, const char *name)
{
	size_t	 n = strlen(name);

	return len > n && field[n] == ':' && strncasecmp(field, name, n) == 0;
}

static int
qf_count(const char *field, size_t len, void *arg)
{
	struct qf_edit	*e = arg;
	size_t		 i;

	for (i = 0; i < e->v->nremove; i++)
		if (qf_name_is(field, len, e->v->remove[i].name))
			e->total[i]++;
	if (e->v->subject[0] != '\0' && qf_name_is(field, len, "Subject"))
		e->total[FILTER_EDITS_MAX]++;
	return 0;
}

static int
qf_drop(const char *field, size_t len, void *arg)
{
	struct qf_edit	*e = arg;
	size_t		 i;
	int		 idx, drop = 0;

	/* The rewritten Subject is on top: the old ones go. */
	if (e->v->subject[0] != '\0' && qf_name_is(field, len, "Subject"))
		return 1;
	for (i = 0; i < e->v->nremove; i++) {
		if (!qf_name_is(field, len, e->v->remove[i].name))
			continue;
		e->seen[i]++;
		idx = e->v->remove[i].index;
		/* rspamd: 0 all of them, n the nth, -n the nth from last. */
		if (idx == 0 || idx == e->seen[i] ||
		    (idx < 0 && e->total[i] + idx + 1 == e->seen[i]))
			drop = 1;
	}
	return drop;
}

/*
 * The header edits of v on message msgid, whose body is *fdp: a new
 * body with the fields left out replaces it and *fdp is its fd.  0
 * (also when there is nothing to do), -1 when the message is left as
 * it was.
 */
int
queue_filter_edit(uint32_t msgid, int *fdp, const struct filter_verdict *v)
{
	struct maildir_filter	 f;
	struct qf_edit		 e;
	off_t			 size;
	size_t			 i;
	int			 out;

	if (v->nremove == 0 && v->subject[0] == '\0')
		return 0;
	memset(&e, 0, sizeof(e));
	e.v = v;
	f.arg = &e;
	f.drop = qf_count;
	if (maildir_header_scan(*fdp, &f) == -1) {
		log_warn("queue: message %08x: read its header", msgid);
		return -1;
	}
	for (i = 0; i <= FILTER_EDITS_MAX; i++)
		if (e.total[i] > 0)
			break;
	if (i > FILTER_EDITS_MAX)
		return 0;	/* none of the fields is there */
	if ((out = spool_msg_edit(msgid)) == -1) {
		log_warn("queue: message %08x: edit", msgid);
		return -1;
	}
	f.drop = qf_drop;
	if (maildir_copy(*fdp, out, NULL, 0, &f, &size) == -1 ||
	    spool_msg_replace(msgid, 1) == -1)
		goto fail;
	close(*fdp);
	*fdp = out;
	return 0;
 fail:
	log_warn("queue: message %08x: edit its header", msgid);
	close(out);
	(void)spool_msg_replace(msgid, 0);
	return -1;
}
