/*
 * APPEND (RFC 3501; MULTIAPPEND, RFC 3502; CATENATE, RFC 4469; literal8
 * of BINARY, RFC 3516) and REPLACE (RFC 8508).  While the command
 * arrives, the parser hands the literals of its messages to the spool,
 * an unlinked file in the user's tmp/, so that many messages need not
 * fit in memory together and a client that goes away leaves nothing.
 * Once the command is complete its messages are built one at a time
 * (from the spool; CATENATE parts from the messages their IMAP URLs
 * name, as FETCH would send them), staged in the mailbox's tmp/, and
 * added all together or not at all.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imap_session.h"
#include "imap_url.h"
#include "mailbox.h"
#include "mime_binary.h"
#include "quota.h"
#include "safepath.h"
#include "util.h"

#define SPOOL_CHUNK	65536

/* One message of the command. */
struct amsg {
	const struct imap_arg	*flags;		/* list, or NULL */
	time_t			 date;		/* 0: now */
	const struct imap_arg	*data;		/* literal, CATENATE list */
	int			 catenate;
};

static int	s_spool_open(struct imap_session *);
static int	s_spool_get(struct imap_session *, const struct imap_arg *,
		    struct mbuf *);
static int	parse_datetime(const char *, time_t *);
static int	s_messages(struct imap_session *, const struct imap_arg *,
		    struct amsg **, size_t *);
static int	s_catenate_ok(const struct imap_arg *);
static void	s_badurl(struct imap_session *, const char *, size_t,
		    const char *);
static int	s_url_server(struct imap_session *, const struct imap_url *);
static int	s_url_mailbox(struct imap_session *, const struct imap_url *,
		    char *, size_t);
static int	s_url_part(struct imap_session *, const char *, size_t,
		    struct mbuf *);
static int	s_build(struct imap_session *, const struct amsg *,
		    struct mbuf *);
static void	s_toobig(struct imap_session *);
static void	s_run(struct imap_session *, const struct imap_arg *,
		    uint32_t);

static const char *const	 month[] = { "Jan", "Feb", "Mar", "Apr",
    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* -- the spool -- */

static int
s_spool_open(struct imap_session *s)
{
	static unsigned long	 counter;
	char			 path[PATH_MAX];
	int			 fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/tmp/maild-append.%ld."
	    "%llu.%lu", s->home, (long)getpid(), (unsigned long long)s->id,
	    ++counter) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = safe_open(path, O_RDWR | O_CREAT | O_EXCL, 0600)) == -1) {
		log_warn("imap: %s: spool %s", s->user, path);
		return -1;
	}
	/* Nothing is left behind, whatever becomes of the session. */
	if (safe_unlink(path) == -1)
		log_warn("imap: unlink %s", path);
	s->spool = fd;
	return 0;
}

/* imap_spill_fn: the bytes of a message literal as they arrive. */
void
imap_spool_write(void *arg, const void *data, size_t len)
{
	struct imap_session	*s = arg;

	if (s->spool_err != 0 || len == 0)
		return;
	if (s->spool == -1 && s_spool_open(s) == -1) {
		s->spool_err = errno != 0 ? errno : EIO;
		return;
	}
	if (write_full(s->spool, data, len) == -1) {
		s->spool_err = errno != 0 ? errno : EIO;
		log_warn("imap: %s: spool", s->user);
	}
}

/* A command is over: its spool goes. */
void
imap_spool_reset(struct imap_session *s)
{
	if (s->spool != -1)
		close(s->spool);
	s->spool = -1;
	s->spool_err = 0;
	s->early = 0;
}

/* A literal's bytes (spooled or in memory), appended to out: 0 or -1. */
static int
s_spool_get(struct imap_session *s, const struct imap_arg *a,
    struct mbuf *out)
{
	static char	 buf[SPOOL_CHUNK];
	uint64_t	 off = a->spill_off;
	size_t		 left = a->len, n;
	ssize_t		 r;

	if (!(a->flags & IMAP_ARGF_SPILLED)) {
		mbuf_add(out, a->str, a->len);
		return 0;
	}
	if (left > 0 && s->spool == -1) {
		errno = EIO;
		return -1;
	}
	while (left > 0) {
		n = left < sizeof(buf) ? left : sizeof(buf);
		if ((r = pread(s->spool, buf, n, (off_t)off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		mbuf_add(out, buf, (size_t)r);
		off += (size_t)r;
		left -= (size_t)r;
	}
	return 0;
}

/*
 * The first literal of APPEND or REPLACE is announced: refuse it now
 * (RFC 3502's example) if its destination is no mailbox, or REPLACE
 * cannot be run, so that it is not sent at all.  0: go on; -1: the
 * tagged answer is out.
 */
int
imap_append_early(struct imap_session *s)
{
	struct stat	 st;
	const char	*name, *mbox;
	char		 dir[MAILBOX_DIR_MAX + 1], path[PATH_MAX];
	size_t		 lead;
	int		 uid, r;

	if (s->early || (name = imap_parser_name(s->p, &uid)) == NULL)
		return 0;
	lead = strcmp(name, "REPLACE") == 0 ? 2 : 1;
	if ((mbox = imap_parser_early_arg(s->p, lead - 1, NULL)) == NULL)
		return 0;
	s->early = 1;
	if (lead == 2 && s->state != S_SELECTED) {
		imap_tagged(s, "BAD", "No mailbox selected");
		return -1;
	}
	if (lead == 2 && s->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return -1;
	}
	/* A bad name is the command's to answer, with the rest of it. */
	if (mailbox_name_to_dir(mbox, 0, dir, sizeof(dir), NULL) == -1)
		return 0;
	if (strcmp(dir, ".") == 0)
		r = snprintf(path, sizeof(path), "%s/cur", s->home);
	else
		r = snprintf(path, sizeof(path), "%s/%s/cur", s->home, dir);
	if (r < 0 || (size_t)r >= sizeof(path))
		return 0;
	if (safe_lstat(path, &st) == -1 && errno == ENOENT) {
		imap_tagged(s, "NO", "[TRYCREATE] No such mailbox");
		return -1;
	}
	return 0;
}

/* -- the command's arguments -- */

/* "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be space-padded): 0 or -1. */
static int
parse_datetime(const char *s, time_t *t)
{
	struct tm	 tm;
	char		 mon[4];
	int		 day, year, hh, mm, ss, zone, n = 0, i;
	char		 sign;

	memset(&tm, 0, sizeof(tm));
	if (s[0] == ' ')
		s++;
	if (sscanf(s, "%2d-%3c-%4d %2d:%2d:%2d %c%4d%n", &day, mon, &year,
	    &hh, &mm, &ss, &sign, &zone, &n) != 8 || s[n] != '\0' ||
	    (sign != '+' && sign != '-'))
		return -1;
	mon[3] = '\0';
	for (i = 0; i < 12; i++)
		if (strcasecmp(mon, month[i]) == 0)
			break;
	if (i == 12 || day < 1 || day > 31 || year < 1900 || year > 9999 ||
	    hh > 23 || mm > 59 || ss > 60 || hh < 0 || mm < 0 || ss < 0 ||
	    zone % 100 > 59 || zone > 2359 || zone < 0)
		return -1;
	tm.tm_mday = day;
	tm.tm_mon = i;
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*t = timegm(&tm);
	zone = (zone / 100) * 3600 + (zone % 100) * 60;
	*t += sign == '+' ? -zone : zone;
	return 0;
}

/* CATENATE's list: 1*(TEXT literal / URL astring). */
static int
s_catenate_ok(const struct imap_arg *l)
{
	const struct imap_arg	*a, *v;

	if (l->type != IMAP_ARG_LIST || l->list == NULL)
		return 0;
	for (a = l->list; a != NULL; a = v->next) {
		if ((v = a->next) == NULL || a->type != IMAP_ARG_ATOM)
			return 0;
		if (strcasecmp(a->str, "TEXT") == 0) {
			if (v->type != IMAP_ARG_LITERAL)
				return 0;
		} else if (strcasecmp(a->str, "URL") == 0) {
			if (v->type != IMAP_ARG_ATOM &&
			    v->type != IMAP_ARG_QUOTED &&
			    (v->type != IMAP_ARG_LITERAL ||
			    (v->flags & IMAP_ARGF_LITERAL8)))
				return 0;
		} else
			return 0;
	}
	return 1;
}

/*
 * The messages after the mailbox: 1*([flag-list] [date-time]
 * (literal / "CATENATE" list)).  0, or -1 with the BAD sent.
 */
static int
s_messages(struct imap_session *s, const struct imap_arg *a,
    struct amsg **out, size_t *nout)
{
	const char		*kws[MFLAGS_KW_MAX], *str;
	struct amsg		*m = NULL, *mm;
	const struct imap_arg	*b;
	uint32_t		 sys;
	size_t			 n = 0, cap = 0, nkw, len;

	if (a == NULL)
		goto bad;
	while (a != NULL) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4;
			if ((mm = reallocarray(m, cap, sizeof(*m))) == NULL)
				fatal("reallocarray");
			m = mm;
		}
		mm = &m[n++];
		memset(mm, 0, sizeof(*mm));
		if (a->type == IMAP_ARG_LIST) {
			if (imap_parse_flags(a, &sys, kws, &nkw) == -1) {
				imap_tagged(s, "BAD", "Invalid flags");
				goto fail;
			}
			mm->flags = a;
			a = a->next;
		}
		if (a != NULL && a->type == IMAP_ARG_QUOTED) {
			if (imap_arg_astring(a, &str, &len) == -1 ||
			    parse_datetime(str, &mm->date) == -1) {
				imap_tagged(s, "BAD", "Invalid date-time");
				goto fail;
			}
			a = a->next;
		}
		if (a == NULL)
			goto bad;
		if (a->type == IMAP_ARG_LITERAL) {
			mm->data = a;
			a = a->next;
			continue;
		}
		b = a->next;
		if (a->type != IMAP_ARG_ATOM || strcasecmp(a->str,
		    "CATENATE") != 0 || b == NULL)
			goto bad;
		if (!s_catenate_ok(b)) {
			imap_tagged(s, "BAD", "CATENATE takes a list of TEXT "
			    "literals and URLs");
			goto fail;
		}
		mm->data = b;
		mm->catenate = 1;
		a = b->next;
	}
	*out = m;
	*nout = n;
	return 0;
 bad:
	imap_tagged(s, "BAD", "Expected messages: [flags] [date-time] and a "
	    "literal or CATENATE (...)");
 fail:
	free(m);
	return -1;
}

/* -- CATENATE's URLs -- */

/*
 * NO [BADURL url] why: the URL in the code only when it can be there
 * (url-resp-text: no "]", fits the line).
 */
static void
s_badurl(struct imap_session *s, const char *url, size_t len,
    const char *why)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)url[i] <= 0x20 || url[i] == ']' ||
		    (unsigned char)url[i] >= 0x7f)
			break;
	if (i == len && len > 0 && len <= 300)
		imap_tagged(s, "NO", "[BADURL %.*s] %s", (int)len, url, why);
	else
		imap_tagged(s, "NO", "Bad URL: %s", why);
}

/*
 * An absolute URL must name this server and this user: the host is
 * the server's name, its listener's, or the address the client
 * reached; the port, if given, the one it reached.  1 if so, else 0.
 */
static int
s_url_server(struct imap_session *s, const struct imap_url *u)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	char			 addr[INET6_ADDRSTRLEN];
	const void		*ap = NULL;

	if (u->port != 0 && u->port != s->l->port)
		return 0;
	if (strcasecmp(u->host, conf->hostname) == 0 ||
	    (s->l->hostname[0] != '\0' &&
	    strcasecmp(u->host, s->l->hostname) == 0))
		return 1;
	if (getsockname(s->io->fd, (struct sockaddr *)&ss, &sl) == -1)
		return 0;
	if (ss.ss_family == AF_INET)
		ap = &((struct sockaddr_in *)&ss)->sin_addr;
	else if (ss.ss_family == AF_INET6)
		ap = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	return ap != NULL && inet_ntop(ss.ss_family, ap, addr,
	    sizeof(addr)) != NULL && strcasecmp(u->host, addr) == 0;
}

/* The Maildir path of the URL's mailbox: 0, or -1 with the NO sent. */
static int
s_url_mailbox(struct imap_session *s, const struct imap_url *u, char *path,
    size_t pathsz)
{
	char		 name[2 * MAILBOX_NAME_MAX + 2];
	char		 dir[MAILBOX_DIR_MAX + 1];
	const char	*slash;
	int		 r;

	switch (u->form) {
	case IMAP_URL_UID:
		/* Dovecot's reading: the selected mailbox is the base. */
		if (s->mb == NULL)
			return -1;
		(void)strlcpy(name, s->mbname, sizeof(name));
		break;
	case IMAP_URL_RELATIVE:
		/* RFC 3986 against "imap://user@host/<selected>". */
		if (s->mb != NULL && (slash = strrchr(s->mbname,
		    MAILBOX_SEP)) != NULL) {
			r = snprintf(name, sizeof(name), "%.*s%s",
			    (int)(slash - s->mbname + 1), s->mbname,
			    u->mailbox);
			if (r < 0 || (size_t)r >= sizeof(name))
				return -1;
		} else
			(void)strlcpy(name, u->mailbox, sizeof(name));
		break;
	default:
		(void)strlcpy(name, u->mailbox, sizeof(name));
		break;
	}
	if (mailbox_name_to_dir(name, MAILBOX_UTF8, dir, sizeof(dir),
	    NULL) == -1)
		return -1;
	if (strcmp(dir, ".") == 0)
		r = snprintf(path, pathsz, "%s", s->home);
	else
		r = snprintf(path, pathsz, "%s/%s", s->home, dir);
	return r < 0 || (size_t)r >= pathsz ? -1 : 0;
}

/*
 * The part a URL names, appended to out: 0, or -1 with the NO sent
 * (BADURL, TOOBIG).
 */
static int
s_url_part(struct imap_session *s, const char *url, size_t len,
    struct mbuf *out)
{
	const struct mime_msg	*mime;
	struct imap_url		 u;
	struct mbox		*mb;
	const char		*err, *data;
	char			 path[PATH_MAX];
	size_t			 dlen;
	long			 idx;
	int			 ret = -1;

	if (imap_url_parse(url, len, &u, &err) == -1) {
		s_badurl(s, url, len, err);
		return -1;
	}
	if (u.form == IMAP_URL_SERVER && ((u.user[0] != '\0' &&
	    strcasecmp(u.user, s->user) != 0) || !s_url_server(s, &u))) {
		s_badurl(s, url, len, "URL of another user or server");
		return -1;
	}
	if (s_url_mailbox(s, &u, path, sizeof(path)) == -1) {
		s_badurl(s, url, len, u.form == IMAP_URL_UID ?
		    "No mailbox selected" : "Invalid mailbox in URL");
		return -1;
	}
	if ((mb = mbox_open(path, 0)) == NULL) {
		s_badurl(s, url, len, "No such mailbox");
		return -1;
	}
	if (u.uidvalidity != 0 && u.uidvalidity != mbox_uidvalidity(mb))
		s_badurl(s, url, len, "UIDVALIDITY of the mailbox differs");
	else if ((idx = mbox_find(mb, u.uid)) < 0)
		s_badurl(s, url, len, "No such message");
	else if (mbox_read(mb, (uint32_t)idx, &data, &dlen, &mime) == -1)
		s_badurl(s, url, len, "Message cannot be read");
	else if (u.section[0] == '\0' && !u.partial &&
	    dlen > conf->max_msg_size - out->len)
		s_toobig(s);
	else if (fetch_section(out, data, dlen, mime, u.section, u.partial,
	    u.partial_off, u.partial_len) == -1)
		s_badurl(s, url, len, "No such section");
	else if (out->len > conf->max_msg_size)
		s_toobig(s);
	else
		ret = 0;
	mbox_close(mb);
	return ret;
}

static void
s_toobig(struct imap_session *s)
{
	imap_tagged(s, "NO", "[TOOBIG] Message too large (APPENDLIMIT %zu)",
	    conf->max_msg_size);
}

/* -- building and adding the messages -- */

/* The message m into out: 0, or -1 with the NO sent. */
static int
s_build(struct imap_session *s, const struct amsg *m, struct mbuf *out)
{
	const struct imap_arg	*a, *v;
	struct mbuf		 u, enc;
	int			 binary = 0, r;

	if (!m->catenate) {
		binary = m->data->flags & IMAP_ARGF_LITERAL8;
		if (s_spool_get(s, m->data, out) == -1)
			goto ioerr;
	} else {
		for (a = m->data->list; a != NULL; a = v->next) {
			v = a->next;
			if (strcasecmp(a->str, "TEXT") == 0) {
				if (v->len > conf->max_msg_size - out->len) {
					s_toobig(s);
					return -1;
				}
				if (v->flags & IMAP_ARGF_LITERAL8)
					binary = 1;
				if (s_spool_get(s, v, out) == -1)
					goto ioerr;
				continue;
			}
			if (!(v->flags & IMAP_ARGF_SPILLED)) {
				if (s_url_part(s, v->str, v->len, out) == -1)
					return -1;
				continue;
			}
			/* A URL sent as a literal. */
			if (v->len > IMAP_URL_MAX) {
				imap_tagged(s, "NO", "Bad URL: too long");
				return -1;
			}
			memset(&u, 0, sizeof(u));
			if (s_spool_get(s, v, &u) == -1) {
				mbuf_free(&u);
				goto ioerr;
			}
			r = s_url_part(s, u.data, u.len, out);
			mbuf_free(&u);
			if (r == -1)
				return -1;
		}
	}
	if (out->len == 0) {
		/* RFC 3502: how a client cancels the command. */
		imap_tagged(s, "NO", "Empty message: append cancelled");
		return -1;
	}
	if (out->len > conf->max_msg_size) {
		s_toobig(s);
		return -1;
	}
	if (binary) {
		memset(&enc, 0, sizeof(enc));
		if ((r = mime_binary_encode(&enc, out->data, out->len)) == -1) {
			imap_tagged(s, "NO", "[UNKNOWN-CTE] Binary data "
			    "outside a body part cannot be stored");
			return -1;
		}
		if (r == 1) {
			mbuf_free(out);
			*out = enc;
		}
	}
	return 0;
 ioerr:
	log_warn("imap: %s: read the spool", s->user);
	imap_tagged(s, "NO", "[SERVERBUG] Cannot read the message back");
	return -1;
}

/*
 * Build, stage and add the messages after the mailbox argument mbarg;
 * replace: UID of the selected mailbox's message REPLACE expunges (0
 * for APPEND).
 */
static void
s_run(struct imap_session *s, const struct imap_arg *mbarg, uint32_t replace)
{
	const char		*kws[MFLAGS_KW_MAX];
	struct amsg		*m;
	struct mbox_staged	*sm;
	struct mbox		*mb;
	struct mbuf		 b, set;
	char			 path[PATH_MAX];
	struct quota_txn	 q;
	uint32_t		 sys, first;
	uint64_t		 size;
	int64_t			 qbytes, qcount, oldsize = 0;
	size_t			 n, i, staged = 0, nkw;
	long			 idx;
	int			 saved, qon, qgone = 0;

	if (s_messages(s, mbarg->next, &m, &n) == -1)
		return;
	if (replace != 0 && n != 1) {
		imap_tagged(s, "BAD", "REPLACE takes one message");
		free(m);
		return;
	}
	if (s->spool_err != 0) {
		imap_tagged(s, "NO", "%s", s->spool_err == ENOSPC ||
		    s->spool_err == EDQUOT ? "[OVERQUOTA] No space left" :
		    "[SERVERBUG] Cannot store the message");
		free(m);
		return;
	}
	if (imap_mailbox_arg(s, mbarg, NULL, 0, path, sizeof(path)) == -1) {
		free(m);
		return;
	}
	if ((mb = mbox_open(path, 0)) == NULL) {
		imap_mbox_refused(s, "[TRYCREATE] No such mailbox");
		free(m);
		return;
	}
	if ((sm = calloc(n, sizeof(*sm))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++) {
		memset(&b, 0, sizeof(b));
		if (s_build(s, &m[i], &b) == -1) {
			mbuf_free(&b);
			goto fail;
		}
		sys = 0;
		nkw = 0;
		if (m[i].flags != NULL)
			(void)imap_parse_flags(m[i].flags, &sys, kws, &nkw);
		if (mbox_stage(mb, b.data, b.len, sys, kws, nkw, m[i].date,
		    &sm[i]) == -1) {
			saved = errno;
			mbuf_free(&b);
			goto nostore;
		}
		staged = i + 1;
		mbuf_free(&b);
	}
	/* Quotas (RFC 9208): the whole command fits, or none of it. */
	qon = imap_quota_open(s, &q);
	for (i = 0, qbytes = 0; i < n; i++)
		qbytes += (int64_t)sm[i].size;
	qcount = (int64_t)n;
	if (replace != 0 && (idx = mbox_find(s->mb, replace)) >= 0 &&
	    mbox_quota_size(s->mb, (uint32_t)idx, &size) == 0) {
		oldsize = (int64_t)size;
		/* The replaced message leaves: only the difference counts. */
		qbytes = qbytes > oldsize ? qbytes - oldsize : 0;
		qcount--;
	}
	if (!imap_quota_room(&q, qon, (uint64_t)qbytes, (uint64_t)qcount)) {
		imap_quota_done(s, &q, qon, 0, 0);
		imap_tagged(s, "NO", "[OVERQUOTA] Quota exceeded");
		goto fail;
	}
	if (mbox_stage_commit(mb, sm, n, &first) == -1) {
		saved = errno;
		staged = 0;
		imap_quota_done(s, &q, qon, 0, 0);
		goto nostore;
	}
	for (i = 0, qbytes = 0; i < n; i++)
		if ((idx = mbox_find(mb, first + (uint32_t)i)) >= 0 &&
		    mbox_quota_size(mb, (uint32_t)idx, &size) == 0)
			qbytes += (int64_t)size;
	(void)mbox_commit(mb);
	imap_mbox_changed(mb, s);
	memset(&set, 0, sizeof(set));
	if (n == 1)
		mbuf_printf(&set, "%u", first);
	else
		mbuf_printf(&set, "%u:%u", first, first + (uint32_t)n - 1);
	if (replace == 0) {
		if (mb == s->mb)
			imap_update(s, 1);
		imap_tagged(s, "OK", "[APPENDUID %u %s] Append completed",
		    mbox_uidvalidity(mb), set.data);
	} else {
		/* RFC 8508 3.4: APPENDUID untagged, then the expunge. */
		imap_printf(s, "* OK [APPENDUID %u %s] Replacement message "
		    "ready\r\n", mbox_uidvalidity(mb), set.data);
		if (mb == s->mb)
			imap_update(s, 1);
		if ((idx = mbox_find(s->mb, replace)) >= 0) {
			if (mbox_expunge(s->mb, (uint32_t)idx) == -1)
				log_warn("imap: %s: REPLACE: expunge of uid "
				    "%u", s->user, replace);
			else {
				qbytes -= oldsize;
				qgone = 1;
			}
		}
		(void)mbox_commit(s->mb);
		imap_mbox_changed(s->mb, s);
		imap_update(s, 1);
		imap_tagged(s, "OK", "Replace completed");
	}
	mbuf_free(&set);
	imap_quota_done(s, &q, qon, qbytes, (int64_t)n - qgone);
	goto done;
 nostore:
	if (saved == ENOSPC || saved == EDQUOT)
		imap_tagged(s, "NO", "[OVERQUOTA] No space left");
	else if (saved == EFBIG)
		s_toobig(s);
	else
		imap_tagged(s, "NO", "[SERVERBUG] Cannot store message");
 fail:
	mbox_stage_abort(mb, sm, staged);
 done:
	mbox_close(mb);
	free(sm);
	free(m);
}

void
imap_cmd_append(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->nargs < 2) {
		imap_tagged(s, "BAD", "APPEND takes a mailbox and messages");
		return;
	}
	s_run(s, cmd->args, 0);
}

void
imap_cmd_replace(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg	*a = cmd->args;
	const char		*c;
	uint64_t		 v = 0;
	uint32_t		 uid;

	if (cmd->nargs < 3 || a->type != IMAP_ARG_ATOM) {
		imap_tagged(s, "BAD", "REPLACE takes a message number, a "
		    "mailbox and a message");
		return;
	}
	if (s->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	/* seq-number: nz-number or "*", the last one. */
	if (strcmp(a->str, "*") == 0)
		v = s->nview == 0 ? 0 : cmd->uid ? s->view[s->nview - 1] :
		    s->nview;
	else {
		for (c = a->str; *c >= '0' && *c <= '9' && v <= UINT32_MAX;
		    c++)
			v = v * 10 + (uint64_t)(*c - '0');
		if (*c != '\0')
			v = 0;
	}
	if (v == 0 || v > UINT32_MAX || (!cmd->uid && v > s->nview)) {
		imap_tagged(s, "BAD", "Invalid message %s", cmd->uid ? "UID" :
		    "sequence number");
		return;
	}
	uid = cmd->uid ? (uint32_t)v : s->view[v - 1];
	if (imap_view_seq(s, uid) == 0) {
		imap_tagged(s, "NO", "No such message");
		return;
	}
	if (mbox_find(s->mb, uid) < 0) {
		imap_tagged(s, "NO", "[EXPUNGEISSUED] Message was expunged");
		return;
	}
	s_run(s, a->next, uid);
}
