/*
 * The DATA phase of an SMTP session.  The message body goes straight
 * from the socket into the spool file that the queue process opened for
 * us; the reply 250 after DATA is sent only when the queue says the
 * message is durable.
 *
 * Only CRLF.CRLF ends DATA.  A line ended by a bare LF is stored with
 * CRLF but can never end DATA, nor can a "." line that follows it; a
 * bare CR inside a line makes the message refused.  Together this rules
 * out SMTP smuggling through us or through the servers we relay to.
 * The From field is kept to decide which domain's DKIM key may sign.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "envelope.h"
#include "proc.h"
#include "smtp_parse.h"
#include "smtp_session.h"

static void	smtp_date(char *, size_t);
static void	smtp_received(struct smtp_session *);
static void	smtp_data_write(struct smtp_session *, const void *, size_t);
static void	smtp_data_flush(struct smtp_session *);
static void	smtp_data_end(struct smtp_session *);
static void	smtp_from_field(struct smtp_session *, const char *, size_t,
		    int);
static int	smtp_sign_check(struct smtp_session *);
void
smtp_cmd_data(struct smtp_session *s, const char *arg)
{
	if (*arg != '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (s->msgfd == -1) {
		smtp_reply(s, "451 4.3.0 Temporary failure");
		return;
	}
	if (s->dbuf == NULL && (s->dbuf = malloc(DATA_BUFSIZE)) == NULL)
		fatal("malloc");
	s->dlen = 0;
	s->dflags = 0;
	s->midline = 0;
	s->prevcrlf = 1;
	s->inheader = 1;
	s->hdrlen = 0;
	s->datalen = 0;
	s->fromlen = 0;
	s->linelen = 0;
	s->nfrom = 0;
	s->infrom = 0;
	s->state = S_DATA;
	smtp_received(s);
	io_set_maxline(s->io, DATA_LINE_MAX);
	io_set_timeout(s->io, DATA_IDLE(conf) * 1000);
	smtp_deadline_set(s, DATA_DEADLINE(conf));
	s->data_start = time(NULL);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
smtp_date(char *buf, size_t len)
{
	time_t		 now = time(NULL);
	struct tm	*tm = localtime(&now);

	if (tm == NULL || strftime(buf, len, "%a, %d %b %Y %H:%M:%S %z",
	    tm) == 0)
		strlcpy(buf, "Thu, 01 Jan 1970 00:00:00 +0000", len);
}

static void
smtp_received(struct smtp_session *s)
{
	char	 buf[2048], date[64], tls[256], rcpt[ADDR_MAX + 1];
	char	 proto[16];
	int	 n;

	smtp_date(date, sizeof(date));
	io_tls_info(s->io, tls, sizeof(tls));
	if (addr_to_text(&s->first, rcpt, sizeof(rcpt)) == -1)
		rcpt[0] = '\0';
	/* RFC 3848: ESMTP, then S for TLS and A for AUTH. */
	(void)snprintf(proto, sizeof(proto), "%s%s%s",
	    (s->flags & F_EHLO) ? "ESMTP" : "SMTP",
	    (s->flags & F_TLS) ? "S" : "", (s->flags & F_AUTH) ? "A" : "");
	if (s->l->flags & L_MASKSRC) {
		/* mask-src: the submitting client's address stays private. */
		n = snprintf(buf, sizeof(buf), "Received: from localhost "
		    "(localhost)\r\n\tby %s (maild) with %s id %08x\r\n"
		    "\t; %s\r\n", smtp_hostname(s), proto, s->msgid, date);
	} else {
		n = snprintf(buf, sizeof(buf),
		    "Received: from %s (%s%s[%s])\r\n"
		    "\tby %s (maild) with %s id %08x%s%s%s\r\n"
		    "%s%s%s"
		    "\t; %s\r\n",
		    s->helo[0] ? s->helo : "unknown", s->rdns,
		    s->rdns[0] ? " " : "", s->src,
		    smtp_hostname(s), proto, s->msgid,
		    s->nrcpt == 1 ? "\r\n\tfor <" : "",
		    s->nrcpt == 1 ? rcpt : "", s->nrcpt == 1 ? ">" : "",
		    tls[0] ? "\t(" : "", tls, tls[0] ? ")\r\n" : "", date);
	}
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		s->dflags |= D_IOERR;
		return;
	}
	smtp_data_write(s, buf, n);
}

/* Buffered write to the spool file; what we add ourselves is not counted. */
static void
smtp_data_write(struct smtp_session *s, const void *data, size_t len)
{
	if (s->dflags & D_REFUSED)
		return;
	while (len > 0) {
		size_t n = DATA_BUFSIZE - s->dlen;
		if (n > len)
			n = len;
		memcpy(s->dbuf + s->dlen, data, n);
		s->dlen += n;
		data = (const char *)data + n;
		len -= n;
		if (s->dlen == DATA_BUFSIZE)
			smtp_data_flush(s);
	}
}

static void
smtp_data_flush(struct smtp_session *s)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < s->dlen && !(s->dflags & D_IOERR)) {
		n = write(s->msgfd, s->dbuf + off, s->dlen - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			log_warn("%016llx smtp: spool write",
			    (unsigned long long)s->id);
			s->dflags |= D_IOERR;
			break;
		}
		off += n;
	}
	s->dlen = 0;
}

void
smtp_data_line(struct smtp_session *s, char *line, size_t len, int partial)
{
	int	 crlf = 0, linestart = !s->midline;
	time_t	 late;

	late = time(NULL) - s->data_start - conf->smtp_timeout;
	if (late > 0 && s->datalen < (size_t)late * DATA_MIN_RATE) {
		log_info("%016llx smtp: DATA from %s too slow: %zu bytes in "
		    "%lld s", (unsigned long long)s->id, s->src, s->datalen,
		    (long long)(late + conf->smtp_timeout));
		smtp_reply(s, "421 4.4.2 %s DATA too slow, closing",
		    smtp_hostname(s));
		s->state = S_QUIT;	/* the message is rolled back */
		io_drop_input(s->io);
		io_set_timeout(s->io, 5000);
		return;
	}

	if (!partial) {
		if (len > 0 && line[len - 1] == '\r') {
			crlf = 1;
			line[--len] = '\0';
		} else
			s->dflags |= D_BARELF;
	}
	/* The only end of data: CRLF "." CRLF at the start of a line. */
	if (linestart && crlf && s->prevcrlf && len == 1 && line[0] == '.') {
		smtp_data_end(s);
		return;
	}
	if (memchr(line, '\r', len) != NULL)
		s->dflags |= D_BARECR;
	/* RFC 5322 2.1.1 and 2.3: no NUL, lines of at most 998 */
	if (memchr(line, '\0', len) != NULL)
		s->dflags |= D_NUL;
	s->linelen = linestart ? len : s->linelen + len;
	if (s->linelen > (size_t)conf->max_line + (linestart && len > 0 &&
	    line[0] == '.' ? 1 : 0))
		s->dflags |= D_LONGLINE;
	if (linestart && len > 0 && line[0] == '.') {
		line++;
		len--;
	}
	if (s->inheader) {
		if (linestart && len == 0 && !partial)
			s->inheader = 0;
		else if ((s->hdrlen += len + 2) > HEADER_MAX)
			s->dflags |= D_HDRBIG;
		else
			smtp_from_field(s, line, len, linestart);
	}
	/* RFC 1870: the size counts CRLFs but not the quoting dots. */
	s->datalen += len + (partial ? 0 : 2);
	if (s->datalen > conf->max_msg_size)
		s->dflags |= D_TOOBIG;
	smtp_data_write(s, line, len);
	if (!partial)
		smtp_data_write(s, "\r\n", 2);
	s->midline = partial;
	s->prevcrlf = partial ? 0 : crlf;
}

static void
smtp_data_end(struct smtp_session *s)
{
	smtp_data_flush(s);
	free(s->dbuf);		/* idle sessions stay small */
	s->dbuf = NULL;
	io_set_maxline(s->io, SMTP_LINE_MAX);
	io_set_timeout(s->io, conf->smtp_timeout * 1000);
	s->state = S_RCPT;
	if (s->dflags & D_REFUSED) {
		if (s->dflags & D_IOERR)
			smtp_reply(s, "451 4.3.0 Temporary failure, try again "
			    "later");
		else if (s->dflags & D_TOOBIG)
			smtp_reply(s, "552 5.3.4 Message too big");
		else if (s->dflags & D_HDRBIG)
			smtp_reply(s, "552 5.3.4 Header section too big");
		else if (s->dflags & D_BARECR)
			smtp_reply(s, "550 5.6.0 Bare CR in message refused "
			    "(RFC 5321 2.3.8)");
		else if (s->dflags & D_NUL)
			smtp_reply(s, "550 5.6.0 NUL byte in message refused "
			    "(RFC 5322 2.3)");
		else
			smtp_reply(s, "500 5.5.2 Line longer than %d bytes in "
			    "message refused (RFC 5322 2.1.1)", conf->max_line);
		smtp_reset(s);
		return;
	}
	if (s->dflags & D_BARELF)
		log_info("%016llx smtp: bare LF from %s normalized to CRLF",
		    (unsigned long long)s->id, s->src);
	close(s->msgfd);
	s->msgfd = -1;
	if (smtp_sign_check(s))
		smtp_commit(s);
}

/*
 * The From field of the header, unfolded, kept to decide about DKIM at
 * the end of DATA.  Called with each header line (or piece of an
 * overlong one) after the quoting dot is gone.
 */
static void
smtp_from_field(struct smtp_session *s, const char *line, size_t len,
    int linestart)
{
	size_t	 n;

	if (linestart && len > 0 && line[0] != ' ' && line[0] != '\t') {
		/* a new field: "From" [WSP] ":" (RFC 5322 and obs-) */
		n = strspn(line, "FfRrOoMm");
		s->infrom = n == 4 && strncasecmp(line, "from", 4) == 0;
		if (s->infrom) {
			n += strspn(line + n, " \t");
			if (n >= len || line[n] != ':') {
				s->infrom = 0;
				return;
			}
			s->nfrom++;
			line += n + 1;
			len -= n + 1;
		}
	}
	if (!s->infrom || s->fromlen > FROM_MAX)
		return;
	if (s->fromhdr == NULL &&
	    (s->fromhdr = malloc(FROM_MAX + 1)) == NULL)
		fatal("malloc");
	if (len > FROM_MAX - s->fromlen) {
		s->fromlen = FROM_MAX + 1;	/* not ours to judge */
		return;
	}
	/* NUL inside the value would cut it short: a different address */
	if (memchr(line, '\0', len) != NULL) {
		s->fromlen = FROM_MAX + 1;
		return;
	}
	memcpy(s->fromhdr + s->fromlen, line, len);
	s->fromlen += len;
	s->fromhdr[s->fromlen] = '\0';
}

/*
 * Which domain's DKIM keys may sign the message: the From domain of a
 * logged-in user's message when the From address is theirs (as MAIL
 * FROM: lookup_sender), or any with the listener's any-sender; of mail
 * from this machine, only a domain of "dkim local domain".  A From that
 * is not the user's is refused (550 5.7.1), or with from-mismatch
 * unsigned sent unsigned.  1 when decided, 0 while lookup answers.
 */
static int
smtp_sign_check(struct smtp_session *s)
{
	struct mailaddr	 user;
	struct ipc_buf	 b;
	int		 one;

	s->signdom[0] = '\0';
	if (!(s->flags & (F_AUTH | F_LOCAL)))
		return 1;
	one = s->nfrom == 1 && s->fromlen <= FROM_MAX &&
	    addr_from_header(s->fromhdr, &s->fromaddr, ADDR_ALLOW_UTF8) == 0;
	free(s->fromhdr);
	s->fromhdr = NULL;
	if (!(s->flags & F_AUTH)) {
		if (one && config_dkim_local(conf, s->fromaddr.domain))
			(void)strlcpy(s->signdom, s->fromaddr.domain,
			    sizeof(s->signdom));
		return 1;
	}
	if (s->nfrom == 0)
		return 1;		/* nothing to sign for */
	if (one && (s->l->flags & L_ANYSENDER)) {
		(void)strlcpy(s->signdom, s->fromaddr.domain,
		    sizeof(s->signdom));
		return 1;
	}
	if (!one) {
		smtp_from_mismatch(s, s->nfrom > 1 ? "more than one From "
		    "field" : "a From field that is not one address");
		return 0;
	}
	if (addr_parse(s->authuser, &user, ADDR_ALLOW_UTF8) == -1) {
		smtp_from_mismatch(s, "a From address not of the user");
		return 0;
	}
	ipc_buf_init(&b);
	ipc_add_u64(&b, s->id);
	ipc_add_addr(&b, &user);
	ipc_add_addr(&b, &s->fromaddr);
	s->env->send(PROC_LOOKUP, IMSG_L_SENDER, -1, &b);
	s->flags |= F_FROMCHECK;
	smtp_wait(s, IMSG_L_SENDER);
	return 0;
}

/* A From that is not the user's: 550, or on unsigned. */
void
smtp_from_mismatch(struct smtp_session *s, const char *what)
{
	log_info("%016llx smtp: %s (%s) sent %s%s", (unsigned long long)s->id,
	    s->src, s->authuser, what, (s->l->flags & L_FROM_UNSIGNED) ?
	    ": not signed" : ": refused");
	if (s->l->flags & L_FROM_UNSIGNED) {
		s->signdom[0] = '\0';
		smtp_commit(s);
		return;
	}
	smtp_reply(s, "550 5.7.1 From header not owned by user %s",
	    s->authuser);
	smtp_reset(s);
}

/* The queue makes the message durable; "250" once it says so. */
void
smtp_commit(struct smtp_session *s)
{
	struct envelope	*e;
	struct ipc_buf	 b;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		fatal("calloc");
	/* what the envelopes share; the queue stamps the times */
	strlcpy(e->helo, s->helo[0] ? s->helo : "unknown", sizeof(e->helo));
	strlcpy(e->src, s->src, sizeof(e->src));
	e->sender = s->sender;
	if (s->params.body == BODY_8BITMIME)
		e->flags |= EF_8BITMIME;
	if (s->params.smtputf8)
		e->flags |= EF_SMTPUTF8;
	if (s->flags & F_AUTH)
		e->flags |= EF_AUTH;
	if (s->flags & F_LOCAL)
		e->flags |= EF_LOCAL;
	/* Not our users', our programs' nor a listener's with "no". */
	if (!(s->flags & (F_AUTH | F_LOCAL | F_SELF)) &&
	    !(s->l->flags & L_NO_MSGAUTH))
		e->flags |= EF_CHECK;
	/* rspamd: the same, but authenticated users' mail if asked to. */
	if (conf->rspamd_url[0] != '\0' && !(s->flags & (F_LOCAL | F_SELF)) &&
	    (!(s->flags & F_AUTH) || conf->rspamd_auth) &&
	    !(s->l->flags & L_NO_FILTER))
		e->flags |= EF_FILTER;
	ipc_buf_init(&b);
	ipc_add_u64(&b, s->id);
	ipc_add_u32(&b, s->msgid);
	ipc_add_u32(&b, s->ndest);
	ipc_add_envelope(&b, e);
	ipc_add_str(&b, s->signdom);
	/* What rspamd wants to know of the client. */
	ipc_add_str(&b, s->rdns);
	ipc_add_str(&b, (s->flags & F_AUTH) ? s->authuser : "");
	ipc_add_str(&b, io_tls_version(s->io));
	ipc_add_str(&b, io_tls_cipher(s->io));
	free(e);
	s->env->send(PROC_QUEUE, IMSG_Q_COMMIT, -1, &b);
	smtp_wait(s, IMSG_Q_COMMIT);
}

/*
 * The checks of the message (SPF, DKIM, DMARC) refused it at the end of
 * DATA: the queue dropped it and says what to answer.  A reply that is
 * not "4xx/5xx x.y.z printable text" (a bug) becomes a plain 451.
 */
void
smtp_session_refused(uint64_t id, uint32_t msgid, const char *reply)
{
	struct smtp_session	*s;
	const char		*p;

	if ((s = smtp_answer(id, IMSG_Q_COMMIT)) == NULL)
		return;
	if (s->msgid != msgid) {
		log_warnx("%016llx smtp: an answer for message %08x, not %08x: "
		    "dropped", (unsigned long long)id, msgid, s->msgid);
		s->wait = IMSG_Q_COMMIT;
		return;
	}
	s->msgid = 0;
	if (s->state == S_QUIT)
		return;
	for (p = reply; *p >= 0x20 && *p < 0x7f; p++)
		;
	if (*p != '\0' || p - reply > 400 || (reply[0] != '4' &&
	    reply[0] != '5') || !isdigit((unsigned char)reply[1]) ||
	    !isdigit((unsigned char)reply[2]) || reply[3] != ' ' ||
	    reply[4] != reply[0] || reply[5] != '.')
		reply = "451 4.3.0 Temporary failure, try again later";
	log_info("%016llx smtp: message %08x refused: src=%s helo=%s: %s",
	    (unsigned long long)s->id, msgid, s->src,
	    s->helo[0] ? s->helo : "-", reply);
	smtp_reply(s, "%s", reply);
	smtp_reset(s);
	smtp_unwait(s);
}

void
smtp_session_committed(uint64_t id, uint32_t msgid, int ok)
{
	struct smtp_session	*s;
	char			 from[ADDR_MAX + 1];

	if ((s = smtp_answer(id, IMSG_Q_COMMIT)) == NULL)
		return;
	if (s->msgid != msgid) {
		log_warnx("%016llx smtp: an answer for message %08x, not %08x: "
		    "dropped", (unsigned long long)id, msgid, s->msgid);
		s->wait = IMSG_Q_COMMIT;	/* its own is still to come */
		return;
	}
	s->msgid = 0;		/* the queue owns it now, or dropped it */
	if (s->state == S_QUIT)
		return;
	if (ok) {
		if (addr_to_text(&s->sender, from, sizeof(from)) == -1)
			from[0] = '\0';
		log_info("%016llx smtp: message %08x accepted: from=<%s> "
		    "src=%s helo=%s nrcpt=%d size=%zu%s",
		    (unsigned long long)s->id, msgid, from, s->src,
		    s->helo[0] ? s->helo : "-", s->nrcpt, s->datalen,
		    (s->flags & F_TLS) ? " tls" : "");
		smtp_reply(s, "250 2.0.0 Ok: queued as %08x", msgid);
		smtp_deadline_set(s, SESSION_DEADLINE(conf));
		STAT_INC(ST_SMTP_MESSAGES);
		stats[ST_SMTP_RECIPIENTS] += s->nrcpt;
	} else
		smtp_reply(s, "451 4.3.0 Temporary failure, try again later");
	smtp_reset(s);
	smtp_unwait(s);
}
