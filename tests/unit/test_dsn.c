/*
 * Unit tests for dsn.c: bounces and delay warnings for the originals
 * in tests/data/dsn (directory from $MAILD_DSN_TESTDIR), parsed back
 * with our MIME parser (three parts, types, report-type, boundary not
 * in the original), their delivery-status parts compared with golden
 * files (MAILD_UPDATE_GOLDEN=1 rewrites them), CRLF and line-length
 * checks, hostile diagnostics, limits, bad parameters, and once more
 * through python3's email package when python3 is there.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "dsn.h"
#include "maild.h"
#include "mime.h"
#include "tap.h"
#include "util.h"

static char	*load(const char *, size_t *);
static char	*run(const struct dsn_info *, const char *, size_t, size_t *,
		    int *);
static const char *param(const struct mime_part *, const char *);
static char	*header(const struct mime_msg *, const char *);
static int	 lines_ok(const char *, size_t, const char *);
static struct mime_msg *check_dsn(const char *, const char *, size_t,
		    const char *, size_t, const struct dsn_info *,
		    const char *);
static void	 check_golden(const char *, const struct mime_msg *,
		    const char *);
static int	 contains(const char *, size_t, const char *);
static char	*unwrap(const char *, size_t);
static char	*python(const char *, size_t);
static void	 test_one_550(void);
static void	 test_two_rcpts(void);
static void	 test_expired(void);
static void	 test_delayed(void);
static void	 test_huge(void);
static void	 test_no_body(void);
static void	 test_hostile(void);
static void	 test_long_lines(void);
static void	 test_bare_lf(void);
static void	 test_utf8(void);
static void	 test_long_utf8_rcpt(void);
static void	 test_many_rcpts(void);
static void	 test_bad_params(void);

static const char	*dir = "tests/data/dsn";
static int		 update_golden;
static int		 have_python;

/* 28 Nov 2026 06:03:31 UTC and around it */
#define T_NOW		((time_t)1795845811)
#define T_ARRIVAL	(T_NOW - 4 * 86400 - 120)

static char *
load(const char *name, size_t *len)
{
	char	 path[1024], *buf;
	FILE	*f;
	long	 n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL) {
		*len = 0;
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	if ((buf = malloc(n + 1)) == NULL)
		exit(1);
	if (fread(buf, 1, n, f) != (size_t)n)
		exit(1);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* dsn_write() with the original in a temporary file; the output. */
static char *
run(const struct dsn_info *di, const char *orig, size_t olen, size_t *len,
    int *rc)
{
	FILE	*in, *out;
	char	*buf;
	long	 n;

	if ((in = tmpfile()) == NULL || (out = tmpfile()) == NULL) {
		printf("Bail out! tmpfile\n");
		exit(1);
	}
	if (olen > 0 && fwrite(orig, 1, olen, in) != olen)
		exit(1);
	fflush(in);
	lseek(fileno(in), 0, SEEK_SET);
	*rc = dsn_write(fileno(out), fileno(in), di);
	n = lseek(fileno(out), 0, SEEK_END);
	lseek(fileno(out), 0, SEEK_SET);
	if ((buf = malloc(n + 1)) == NULL)
		exit(1);
	if (n > 0 && read(fileno(out), buf, n) != n)
		exit(1);
	buf[n] = '\0';
	*len = n;
	fclose(in);
	fclose(out);
	return buf;
}

static const char *
param(const struct mime_part *p, const char *name)
{
	const struct mime_param	*pr;

	for (pr = p->params; pr != NULL; pr = pr->next)
		if (strcmp(pr->name, name) == 0)
			return pr->value;
	return NULL;
}

/* A top-level header value, unfolded; "" if absent. */
static char *
header(const struct mime_msg *m, const char *name)
{
	char	*v;

	v = mime_header_get(m->buf + m->root->hdr_off, m->root->hdr_len,
	    name);
	return v != NULL ? v : strdup("");
}

/* CRLF only, no bare CR or LF, no line over 998 bytes. */
static int
lines_ok(const char *b, size_t len, const char *what)
{
	size_t	 i, col = 0;

	for (i = 0; i < len; i++) {
		if (b[i] == '\r') {
			if (i + 1 >= len || b[i + 1] != '\n') {
				printf("# %s: bare CR at %zu\n", what, i);
				return 0;
			}
			i++;
			col = 0;
			continue;
		}
		if (b[i] == '\n') {
			printf("# %s: bare LF at %zu\n", what, i);
			return 0;
		}
		if (++col > 998) {
			printf("# %s: line over 998 at %zu\n", what, i);
			return 0;
		}
	}
	if (len < 2 || b[len - 2] != '\r' || b[len - 1] != '\n') {
		printf("# %s: no final CRLF\n", what);
		return 0;
	}
	return 1;
}

static int
contains(const char *b, size_t len, const char *s)
{
	return len > 0 && memmem(b, len, s, strlen(s)) != NULL;
}

/* A copy of text with its line breaks made spaces. */
static char *
unwrap(const char *b, size_t len)
{
	char	*s;
	size_t	 i, n = 0;

	if ((s = malloc(len + 1)) == NULL)
		exit(1);
	for (i = 0; i < len; i++) {
		if (b[i] == '\r' && i + 1 < len && b[i + 1] == '\n') {
			s[n++] = ' ';
			i++;
		} else
			s[n++] = b[i];
	}
	s[n] = '\0';
	return s;
}

/*
 * The checks every notification passes; returns the parsed tree (over
 * out) for more.  part3 is the expected type of the third part.
 */
static struct mime_msg *
check_dsn(const char *name, const char *out, size_t len, const char *orig,
    size_t olen, const struct dsn_info *di, const char *part3)
{
	struct mime_msg		*m;
	struct mime_part	*p[3], *c;
	const char		*bnd, *rt;
	char			*v, want[512], type[140];
	size_t			 n;

	ok(lines_ok(out, len, name), "%s: CRLF lines of at most 998 bytes",
	    name);
	m = mime_parse(out, len);
	ok(strcmp(m->root->type, "multipart") == 0 &&
	    strcmp(m->root->subtype, "report") == 0, "%s: multipart/report",
	    name);
	rt = param(m->root, "report-type");
	is_str(rt, "delivery-status", "report-type=delivery-status");
	bnd = param(m->root, "boundary");
	ok(bnd != NULL && strlen(bnd) >= 30 && strlen(bnd) <= 70,
	    "%s: long boundary", name);
	ok(bnd != NULL && !contains(orig, olen, bnd),
	    "%s: boundary not in the original", name);

	for (n = 0, c = m->root->child; c != NULL; c = c->next)
		if (n < 3)
			p[n++] = c;
		else
			n++;
	is_int(n, 3, "three parts");
	if (n != 3) {
		mime_free(m);
		return NULL;
	}
	is_str(p[0]->type, "text", "part 1 is text/plain");
	is_str(p[0]->subtype, "plain", "part 1 subtype");
	snprintf(type, sizeof(type), "%s/%s", p[1]->type, p[1]->subtype);
	is_str(type, "message/delivery-status", "part 2 type");
	snprintf(type, sizeof(type), "%s/%s", p[2]->type, p[2]->subtype);
	is_str(type, part3, "part 3 type");

	snprintf(want, sizeof(want), "Mail Delivery System "
	    "<MAILER-DAEMON@%s>", di->reporting_mta);
	v = header(m, "From");
	is_str(v, want, "From");
	free(v);
	snprintf(want, sizeof(want), "<%s>", di->sender);
	v = header(m, "To");
	is_str(v, want, "To");
	free(v);
	v = header(m, "Subject");
	is_str(v, di->kind == DSN_FAILED ?
	    "Undelivered Mail Returned to Sender" :
	    "Delayed Mail (still being retried)", "Subject");
	free(v);
	v = header(m, "Auto-Submitted");
	is_str(v, "auto-replied", "Auto-Submitted");
	free(v);
	v = header(m, "MIME-Version");
	is_str(v, "1.0", "MIME-Version");
	free(v);
	v = header(m, "Date");
	is_str(v, "Sat, 28 Nov 2026 06:03:31 +0000", "Date");
	free(v);
	v = header(m, "Message-ID");
	snprintf(want, sizeof(want), "@%s>", di->reporting_mta);
	ok(v[0] == '<' && strlen(v) > strlen(want) &&
	    strcmp(v + strlen(v) - strlen(want), want) == 0,
	    "Message-ID <...@reporting_mta>");
	free(v);
	return m;
}

/* Part 2's body against <name>.status. */
static void
check_golden(const char *name, const struct mime_msg *m, const char *what)
{
	const struct mime_part	*p = m->root->child->next;
	char			 path[1024], file[256], *exp, *got;
	size_t			 elen;
	FILE			*f;

	snprintf(file, sizeof(file), "%s.status", name);
	if ((got = strndup(m->buf + p->body_off, p->body_len)) == NULL)
		exit(1);
	if (update_golden) {
		snprintf(path, sizeof(path), "%s/%s", dir, file);
		if ((f = fopen(path, "wb")) != NULL) {
			fwrite(got, 1, p->body_len, f);
			fclose(f);
		}
	}
	if ((exp = load(file, &elen)) == NULL)
		exp = strdup("(missing golden file)");
	is_str(got, exp, what);
	free(exp);
	free(got);
}

/* What tests/data/dsn/check_dsn.py says about out; NULL: no python. */
static char *
python(const char *out, size_t len)
{
	char		 tmp[] = "/tmp/test_dsn.XXXXXX", cmd[1200];
	struct mbuf	 res;
	FILE		*p;
	char		 line[1024];
	int		 fd;

	if (!have_python)
		return NULL;
	if ((fd = mkstemp(tmp)) == -1 || write_full(fd, out, len) == -1)
		exit(1);
	close(fd);
	snprintf(cmd, sizeof(cmd), "python3 %s/check_dsn.py %s 2>&1", dir,
	    tmp);
	memset(&res, 0, sizeof(res));
	mbuf_add(&res, "", 0);
	if ((p = popen(cmd, "r")) != NULL) {
		while (fgets(line, sizeof(line), p) != NULL)
			mbuf_add(&res, line, strlen(line));
		pclose(p);
	}
	unlink(tmp);
	return res.data;
}

static void
test_one_550(void)
{
	struct dsn_rcpt	 r = { "bob@example.net", "5.1.1", "mx.example.net",
	    "550 5.1.1 <bob@example.net>: No such user", T_NOW - 1 };
	struct dsn_info	 di = { DSN_FAILED, "mail.example.org",
	    "alice@example.org", "6f6533f9", T_NOW - 5, T_NOW, 0, &r, 1, 0 };
	struct mime_msg	*m;
	const struct mime_part *p3;
	char		*orig, *out, *py, *text;
	size_t		 olen, len, hlen;
	int		 rc;

	orig = load("simple.eml", &olen);
	out = run(&di, orig, olen, &len, &rc);
	is_int(rc, DSN_7BIT, "one 550: written, 7-bit");
	if ((m = check_dsn("one 550", out, len, orig, olen, &di,
	    "text/rfc822-headers")) != NULL) {
		check_golden("one_550", m, "one 550: delivery-status");
		p3 = m->root->child->next->next;
		hlen = strstr(orig, "\r\n\r\n") - orig + 2;
		ok(p3->body_len == hlen && memcmp(out + p3->body_off, orig,
		    hlen) == 0, "one 550: part 3 is the original header");
		ok(!contains(out + p3->body_off, p3->body_len, "lunch on"),
		    "one 550: without the body");
		text = strndup(out + m->root->child->body_off,
		    m->root->child->body_len);
		ok(strstr(text, "<bob@example.net>: delivery failed "
		    "permanently (5.1.1)\r\n    mx.example.net said: 550 "
		    "5.1.1 <bob@example.net>: No such user\r\n") != NULL,
		    "one 550: the text names the recipient and the reply");
		ok(strstr(text, "6f6533f9") != NULL, "one 550: queue id");
		ok(strstr(text, "header of your message is attached") != NULL,
		    "one 550: text says header attached");
		free(text);
		mime_free(m);
	}
	if ((py = python(out, len)) != NULL) {
		is_str(py,
		    "type multipart/report\n"
		    "report-type delivery-status\n"
		    "parts 3\n"
		    "part text/plain\n"
		    "part message/delivery-status\n"
		    "part text/rfc822-headers\n"
		    "text-lines 9\n"
		    "blocks 2\n"
		    "reporting-mta dns; mail.example.org\n"
		    "recipient rfc822; bob@example.net | failed | 5.1.1 | "
		    "smtp; 550 5.1.1 <bob@example.net>: No such user\n"
		    "defects 0\n", "one 550: python3 email reads it");
		free(py);
	} else
		ok(1, "# SKIP no python3");
	free(out);
	free(orig);
}

static void
test_two_rcpts(void)
{
	struct dsn_rcpt	 r[2] = {
		{ "bob@example.net", "5.1.1", "mx.example.net",
		    "550 5.1.1 No such user", T_NOW - 60 },
		{ "carol@example.net", "5.2.2", "mx2.example.net",
		    "552-5.2.2 Mailbox full\r\n552 5.2.2 Try later", T_NOW }
	};
	struct dsn_info	 di = { DSN_FAILED, "mail.example.org",
	    "alice@example.org", "6f6533f9", T_ARRIVAL, T_NOW, 0, r, 2, 1 };
	struct mime_msg	*m;
	const struct mime_part *p3;
	char		*orig, *out, *out2, *py, *text, *b1, *b2;
	size_t		 olen, len, len2;
	int		 rc;

	orig = load("simple.eml", &olen);
	out = run(&di, orig, olen, &len, &rc);
	is_int(rc, DSN_7BIT, "two rcpts: written");
	if ((m = check_dsn("two rcpts", out, len, orig, olen, &di,
	    "message/rfc822")) != NULL) {
		check_golden("two_rcpts", m, "two rcpts: delivery-status");
		p3 = m->root->child->next->next;
		ok(p3->body_len == olen && memcmp(out + p3->body_off, orig,
		    olen) == 0, "two rcpts: part 3 is the whole original");
		ok(p3->child != NULL && p3->flags & MIME_F_MESSAGE,
		    "two rcpts: part 3 parses as a message");
		text = strndup(out + m->root->child->body_off,
		    m->root->child->body_len);
		ok(strstr(text, "attempted for 4 days") != NULL,
		    "two rcpts: how long it was tried");
		ok(strstr(text, "<carol@example.net>: delivery failed "
		    "permanently (5.2.2)") != NULL, "two rcpts: second one");
		ok(strstr(text, "message is attached below") != NULL,
		    "two rcpts: text says message attached");
		free(text);
		mime_free(m);
	}
	/* Two runs: two boundaries. */
	out2 = run(&di, orig, olen, &len2, &rc);
	b1 = strstr(out, "boundary=\"");
	b2 = strstr(out2, "boundary=\"");
	ok(b1 != NULL && b2 != NULL && strncmp(b1, b2, 50) != 0,
	    "two rcpts: the boundary is random");
	free(out2);
	if ((py = python(out, len)) != NULL) {
		is_str(py,
		    "type multipart/report\n"
		    "report-type delivery-status\n"
		    "parts 3\n"
		    "part text/plain\n"
		    "part message/delivery-status\n"
		    "part message/rfc822\n"
		    "text-lines 12\n"
		    "blocks 3\n"
		    "reporting-mta dns; mail.example.org\n"
		    "recipient rfc822; bob@example.net | failed | 5.1.1 | "
		    "smtp; 550 5.1.1 No such user\n"
		    "recipient rfc822; carol@example.net | failed | 5.2.2 | "
		    "smtp; 552-5.2.2 Mailbox full 552 5.2.2 Try later\n"
		    "inner-subject Lunch on Friday?\n"
		    "defects 0\n", "two rcpts: python3 email reads it");
		free(py);
	} else
		ok(1, "# SKIP no python3");
	free(out);
	free(orig);
}

static void
test_expired(void)
{
	struct dsn_rcpt	 r = { "bob@example.net", "4.4.7", NULL,
	    "connect to mx.example.net[192.0.2.25]:25: Connection timed out",
	    T_NOW - 600 };
	struct dsn_info	 di = { DSN_FAILED, "mail.example.org",
	    "alice@example.org", "6f6533f9", T_ARRIVAL, T_NOW, 0, &r, 1, 0 };
	struct mime_msg	*m;
	char		*orig, *out, *text;
	size_t		 olen, len;
	int		 rc;

	orig = load("simple.eml", &olen);
	out = run(&di, orig, olen, &len, &rc);
	is_int(rc, DSN_7BIT, "expired: written");
	if ((m = check_dsn("expired", out, len, orig, olen, &di,
	    "text/rfc822-headers")) != NULL) {
		check_golden("expired", m, "expired: delivery-status");
		ok(!contains(out + m->root->child->next->body_off,
		    m->root->child->next->body_len, "Remote-MTA"),
		    "expired: no Remote-MTA");
		text = strndup(out + m->root->child->body_off,
		    m->root->child->body_len);
		ok(strstr(text, "<bob@example.net>: delivery time expired "
		    "(4.4.7)\r\n    connect to") != NULL,
		    "expired: the text says it expired, and why");
		free(text);
		mime_free(m);
	}
	/* No diagnostic at all, no status. */
	r.diagnostic = NULL;
	r.status = NULL;
	free(out);
	out = run(&di, orig, olen, &len, &rc);
	ok(rc == 0 && contains(out, len, "Status: 5.0.0\r\n") &&
	    !contains(out, len, "Diagnostic-Code"),
	    "failed without status or diagnostic: 5.0.0, no Diagnostic-Code");
	free(out);
	free(orig);
}

static void
test_delayed(void)
{
	struct dsn_rcpt	 r = { "bob@example.net", "4.2.0", "mx.example.net",
	    "451 4.2.0 Greylisted, try again later", T_NOW - 300 };
	struct dsn_info	 di = { DSN_DELAYED, "mail.example.org",
	    "alice@example.org", "6f6533f9", T_NOW - 4 * 3600, T_NOW,
	    T_NOW - 4 * 3600 + 4 * 86400, &r, 1, 1 };
	struct mime_msg	*m;
	char		*orig, *out, *text, *py;
	size_t		 olen, len;
	int		 rc;

	orig = load("simple.eml", &olen);
	out = run(&di, orig, olen, &len, &rc);
	is_int(rc, DSN_7BIT, "delayed: written");
	if ((m = check_dsn("delayed", out, len, orig, olen, &di,
	    "message/rfc822")) != NULL) {
		check_golden("delayed", m, "delayed: delivery-status");
		text = unwrap(out + m->root->child->body_off,
		    m->root->child->body_len);
		ok(strstr(text, "not been delivered yet") != NULL &&
		    strstr(text, "retried until Wed, 02 Dec 2026 02:03:31 "
		    "+0000;") != NULL, "delayed: text says until when");
		ok(strstr(text, "not delivered yet, still trying (4.2.0)") !=
		    NULL, "delayed: per recipient");
		free(text);
		mime_free(m);
	}
	if ((py = python(out, len)) != NULL) {
		ok(strstr(py, "recipient rfc822; bob@example.net | delayed | "
		    "4.2.0 |") != NULL && strstr(py, "defects 0\n") != NULL,
		    "delayed: python3 reads Action: delayed");
		free(py);
	} else
		ok(1, "# SKIP no python3");
	free(out);

	/* A 5.x.x status is no delay: 4.0.0 instead. */
	r.status = "5.1.1";
	out = run(&di, orig, olen, &len, &rc);
	ok(rc == 0 && contains(out, len, "Status: 4.0.0\r\n"),
	    "delayed with a 5.x.x status: 4.0.0");
	free(out);
	free(orig);
}

static void
test_huge(void)
{
	struct dsn_rcpt	 r = { "bob@example.net", "5.3.4", "mx.example.net",
	    "552 5.3.4 Message too big", T_NOW };
	struct dsn_info	 di = { DSN_FAILED, "mail.example.org",
	    "alice@example.org", "6f6533f9", T_NOW - 5, T_NOW, 0, &r, 1, 1 };
	struct mime_msg	*m;
	const struct mime_part *p3;
	char		*simple, *orig, *out, *text;
	size_t		 slen, olen, len, hlen, i;
	int		 rc;

	simple = load("simple.eml", &slen);
	hlen = strstr(simple, "\r\n\r\n") - simple + 2;
	olen = hlen + 2 + 1536 * 1024;
	if ((orig = malloc(olen + 1)) == NULL)
		exit(1);
	memcpy(orig, simple, hlen + 2);
	for (i = hlen + 2; i + 78 <= olen; i += 78) {
		memset(orig + i, 'x', 76);
		memcpy(orig + i + 76, "\r\n", 2);
	}
	memset(orig + i, 'y', olen - i);
	orig[olen] = '\0';

	out = run(&di, orig, olen, &len, &rc);
	is_int(rc, DSN_7BIT, "huge: written");
	ok(len < 64 * 1024, "huge: the notification is small (%zu)", len);
	if ((m = check_dsn("huge", out, len, orig, olen, &di,
	    "text/rfc822-headers")) != NULL) {
		p3 = m->root->child->next->next;
		ok(p3->body_len == hlen && memcmp(out + p3->body_off, orig,
		    hlen) == 0, "huge: part 3 is the header");
		text = strndup(out + m->root->child->body_off,
		    m->root->child->body_len);
		ok(strstr(text, "too large to be returned") != NULL,
		    "huge: the text says why");
		free(text);
		mime_free(m);
	}
	free(out);

	/* Exactly DSN_MAX_ORIG bytes is still returned whole. */
	olen = DSN_MAX_ORIG;
	memset(orig + olen - 2, '\r', 1);
	memset(orig + olen - 1, '\n', 1);
	for (i = olen - 3; i > olen - 100; i--)
		orig[i] = 'z';
	out = run(&di, orig, olen, &len, &rc);
	ok(rc == 0 && contains(out, len, "Content-Type: message/rfc822\r\n"),
	    "DSN_MAX_ORIG bytes: returned whole");
	free(out);

	/* A 100 KB header: cut to DSN_MAX_HEADER bytes of whole lines. */
	for (i = 0; i < 1000; i++)
		snprintf(orig + i * 100, 101, "X-Pad-%04zu: %086zu\r\n", i, i);
	memcpy(orig + 100000, "\r\nbody\r\n", 8);
	olen = 100008;
	di.return_full = 0;
	out = run(&di, orig, olen, &len, &rc);
	if ((m = check_dsn("big header", out, len, orig, olen, &di,
	    "text/rfc822-headers")) != NULL) {
		p3 = m->root->child->next->next;
		ok(p3->body_len == DSN_MAX_HEADER / 100 * 100 &&
		    memcmp(out + p3->body_off, orig, p3->body_len) == 0,
		    "big header: %d bytes of whole lines kept", DSN_MAX_HEADER);
		mime_free(m);
	}
	free(out);
	free(orig);
	free(simple);
}

static void
test_no_body(void)
{
	struct dsn_rcpt	 r = { "bob@example.net", "5.1.1", "mx.example.net",
	    "550 5.1.1 No such user", T_NOW };
	struct dsn_info	 di = { DSN_FAILED, "mail.example.org",
	    "alice@example.org", "6f6533f9", T_NOW - 5, T_NOW, 0, &r, 1, 1 };
	struct mime_msg	*m;
	const struct mime_part *p3;
	char		*orig, *out, *exp, *py;
	size_t		 olen, len;
	int		 rc;

	/* No blank line, no body, no final CRLF: a message with a header. */
	orig = load("header_only.eml", &olen);
	out = run(&di, orig, olen, &len, &rc);
	is_int(rc, 0, "header only: written");
	if ((m = check_dsn("header only", out, len, orig, olen, &di,
	    "message/rfc822")) != NULL) {
		p3 = m->root->child->next->next;
		if (asprintf(&exp, "%s\r\n\r\n", orig) == -1)
			exit(1);
		ok(p3->body_len == strlen(exp) && memcmp(out + p3->body_off,
		    exp, p3->body_len) == 0,
		    "header only: header, CRLF added, blank line");
		ok(p3->child != NULL && p3->child->hdr_len == strlen(exp),
		    "header only: the inner message is all header");
		free(exp);
		mime_free(m);
	}
	if ((py = python(out, len)) != NULL) {
		ok(strstr(py, "inner-subject no body at all\n") != NULL &&
		    strstr(py, "defects 0\n") != NULL,
		    "header only: python3 reads the inner message");
		free(py);
	} else
		ok(1, "# SKIP no python3");
	free(out);
	di.return_full = 0;
	out = run(&di, orig, olen, &len, &rc);
	if ((m = check_dsn("header only, headers", out, len, orig, olen, &di,
	    "text/rfc822-headers")) != NULL) {
		p3 = m->root->child->next->next;
		ok(p3->body_len == olen + 2 && memcmp(out + p3->body_off,
		    orig, olen) == 0, "header only: headers returned");
		mime_free(m);
	}
	free(out);
	free(orig);

	/* A body line right after the header: a blank line is put in. */
	orig = load("no_blank.eml", &olen);
	di.return_full = 1;
	out = run(&di, orig, olen, &len, &rc);
	if ((m = check_dsn("no blank", out, len, orig, olen, &di,
	    "message/rfc822")) != NULL) {
		p3 = m->root->child->next->next;
		ok(contains(out + p3->body_off, p3->body_len,
		    "Subject: forgot the blank line\r\n\r\nThis line is the "
		    "body"), "no blank line: one is put in");
		mime_free(m);
	}
	free(out);
	di.return_full = 0;
	out = run(&di, orig, olen, &len, &rc);
	if ((m = check_dsn("no blank, headers", out, len, orig, olen, &di,
	    "text/rfc822-headers")) != NULL) {
		p3 = m->root->child->next->next;
		ok(p3->body_len == (size_t)(strstr(orig, "This line") - orig) &&
		    !contains(out + p3->body_off, p3->body_len, "This line"),
		    "no blank line: headers only stop before the body");
		mime_free(m);
	}
	free(out);
	free(orig);

	/* An empty original. */
	out = run(&di, "", 0, &len, &rc);
	if ((m = check_dsn("empty", out, len, "", 0, &di,
	    "text/rfc822-headers")) != NULL) {
		is_int(m->root->child->next->next->body_len, 0,
		    "empty original: empty part 3");
		mime_free(m);
	}
	free(out);
}

static void
test_hostile(void)
{
	struct dsn_rcpt	 r = { "bob@example.net", "5.7.1\r\nX-Evil: 1",
	    "mx.example.net\r\nX-Evil: 1", NULL, T_NOW };
	struct dsn_info	 di = { DSN_FAILED, "mail.example.org",
	    "alice@example.org", "6f6533f9", T_NOW - 5, T_NOW, 0, &r, 1, 0 };
	struct mime_msg	*m;
	const struct mime_part *p2;
	char		 diag[4096], *orig, *out, *s, *py;
	size_t		 olen, len, i, n;
	int		 rc;

	n = snprintf(diag, sizeof(diag), "550-5.7.1 Rejected\r\n"
	    "550-5.7.1 \x1b[31mred\x1b[0m\ttab\x7f\x01 bell\a\r\n"
	    "550 5.7.1 \xc3\xa9t\xc3\xa9 \xff\xfe\r\n\r\n"
	    "Subject: injected\r\n\r\n--boundary\r\n");
	for (i = n; i < 2000; i++)
		diag[i] = i % 10 == 0 ? ' ' : 'a' + i % 26;
	diag[i] = '\0';
	r.diagnostic = diag;
	orig = load("simple.eml", &olen);
	out = run(&di, orig, olen, &len, &rc);
	is_int(rc, DSN_7BIT, "hostile: written, 7-bit");
	if ((m = check_dsn("hostile", out, len, orig, olen, &di,
	    "text/rfc822-headers")) != NULL) {
		check_golden("hostile", m, "hostile: delivery-status");
		p2 = m->root->child->next;
		s = strndup(out + p2->body_off, p2->body_len);
		ok(strstr(s, "X-Evil") == NULL, "hostile: no injected field");
		ok(strstr(s, "Status: 5.0.0\r\n") != NULL,
		    "hostile: a bad status becomes 5.0.0");
		ok(strstr(s, "Remote-MTA") == NULL,
		    "hostile: a bad remote MTA name is left out");
		for (i = 0; s[i] != '\0'; i++)
			if (((unsigned char)s[i] < 0x20 && s[i] != '\r' &&
			    s[i] != '\n') || (unsigned char)s[i] >= 0x7f)
				break;
		ok(s[i] == '\0', "hostile: no control or 8-bit characters");
		ok(strstr(s, "\r\nSubject: injected") == NULL,
		    "hostile: the reply's lines do not become fields");
		free(s);
		mime_free(m);
	}
	/* The Diagnostic-Code value is folded and cut. */
	s = strstr(out, "Diagnostic-Code: smtp; ");
	for (n = 0; s != NULL && *s != '\0'; s++) {
		if (s[0] == '\r' && s[1] == '\n' && s[2] != ' ')
			break;
		if (s[0] == '\r' && s[1] == '\n')
			n++;
	}
	ok(n >= 5, "hostile: Diagnostic-Code folded (%zu lines)", n + 1);
	if ((py = python(out, len)) != NULL) {
		ok((s = strstr(py, "| smtp; 550-5.7.1 Rejected 550-5.7.1 "
		    "[31mred[0m tab bell 550 5.7.1 ?t? ?? Subject: injected "
		    "--boundary ")) != NULL && strstr(py, "...\n") != NULL,
		    "hostile: python3 reads the cleaned diagnostic");
		s = strstr(py, "| smtp; ");
		ok(s != NULL && strchr(s, '\n') - (s + 8) <= DSN_MAX_DIAG,
		    "hostile: diagnostic cut to %d bytes", DSN_MAX_DIAG);
		free(py);
	} else {
		ok(1, "# SKIP no python3");
		ok(1, "# SKIP no python3");
	}
	free(out);
	free(orig);
}

static void
test_long_lines(void)
{
	struct dsn_rcpt	 r = { "bob@example.net", "5.1.1", "mx.example.net",
	    "550 5.1.1 No such user", T_NOW };
	struct dsn_info	 di = { DSN_FAILED, "mail.example.org",
	    "alice@example.org", "6f6533f9", T_NOW - 5, T_NOW, 0, &r, 1, 1 };
	struct mime_msg	*m;
	const struct mime_part *p3;
	char		*orig, *out, *h, *py;
	size_t		 olen, len;
	int		 rc;

	orig = load("long_lines.eml", &olen);
	out = run(&di, orig, olen, &len, &rc);
	is_int(rc, DSN_8BIT, "long lines: written, 8-bit");
	if ((m = check_dsn("long lines", out, len, orig, olen, &di,
	    "text/rfc822-headers")) != NULL) {
		p3 = m->root->child->next->next;
		ok(p3->encoding != NULL && strcmp(p3->encoding, "8bit") == 0,
		    "long lines: 8-bit header labelled 8bit");
		ok(contains(out, len, "Content-Transfer-Encoding: 8bit\r\n\r\n"
		    "This is a MIME"), "long lines: multipart labelled 8bit");
		ok(!contains(out + p3->body_off, p3->body_len, "short body"),
		    "long lines: a body line over 998: header only");
		h = mime_header_get(out + p3->body_off, p3->body_len,
		    "X-Long-Words");
		ok(h != NULL && strstr(h, "word0000 word0001") != NULL &&
		    strstr(h, "word0298 word0299") != NULL &&
		    strstr(h, "\t") == NULL && strstr(h, "  ") == NULL,
		    "long lines: a long field folded at blanks");
		free(h);
		h = mime_header_get(out + p3->body_off, p3->body_len,
		    "X-Long-Utf8");
		ok(h != NULL && strstr(h, "\xc3\xa9\t\xc3\xa9") != NULL,
		    "long lines: cut with TAB between UTF-8 characters");
		free(h);
		h = mime_header_get(out + p3->body_off, p3->body_len,
		    "X-Nul");
		is_str(h, "beforeafter", "long lines: NUL dropped");
		free(h);
		h = mime_header_get(out + p3->body_off, p3->body_len,
		    "Message-ID");
		is_str(h, "<long.1@example.org>",
		    "long lines: fields after the long ones kept");
		free(h);
		mime_free(m);
	}
	if ((py = python(out, len)) != NULL) {
		ok(strstr(py, "part text/rfc822-headers\n") != NULL &&
		    strstr(py, "defects 0\n") != NULL,
		    "long lines: python3 reads it");
		free(py);
	} else
		ok(1, "# SKIP no python3");
	free(out);
	free(orig);
}

static void
test_bare_lf(void)
{
	struct dsn_rcpt	 r = { "bob@example.net", "5.1.1", "mx.example.net",
	    "550 5.1.1 No such user", T_NOW };
	struct dsn_info	 di = { DSN_FAILED, "mail.example.org",
	    "alice@example.org", "6f6533f9", T_NOW - 5, T_NOW, 0, &r, 1, 1 };
	struct mime_msg	*m;
	const struct mime_part *p3;
	const char	*exp;
	char		*orig, *out;
	size_t		 olen, len;
	int		 rc;

	orig = load("bare_lf.eml", &olen);
	out = run(&di, orig, olen, &len, &rc);
	is_int(rc, 0, "bare LF: written");
	if ((m = check_dsn("bare LF", out, len, orig, olen, &di,
	    "message/rfc822")) != NULL) {
		p3 = m->root->child->next->next;
		exp = "From: Alice <alice@example.org>\r\n"
		    "To: Bob <bob@example.net>\r\n"
		    "Subject: bare line ends\r\n\r\nbody with bare LF\r\n"
		    "--=_maild_00000000000000000000000000000000\r\n"
		    "--=_maild_00000000000000000000000000000000--\r\nend\r\n";
		ok(p3->body_len == strlen(exp) && memcmp(out + p3->body_off,
		    exp, p3->body_len) == 0,
		    "bare LF: line ends made CRLF, content kept");
		mime_free(m);
	}
	free(out);
	free(orig);
}

static void
test_utf8(void)
{
	struct dsn_rcpt	 r[2] = {
		{ "j\xc3\xb6rg@b\xc3\xbc" "cher.example", "5.1.1",
		    "mx.example.net", "550 5.1.1 Unknown", T_NOW },
		{ "\"\xc3\xbc+=\\\\ x\"@example.net", "5.1.1", "mx.example.net",
		    "550 5.1.1 Unknown", T_NOW }
	};
	struct dsn_info	 di = { DSN_FAILED, "mail.example.org",
	    "\xe7\x94\xb0\xe4\xb8\xad@example.org", "6f6533f9", T_NOW - 5,
	    T_NOW, 0, r, 2, 0 };
	struct mime_msg	*m;
	char		*orig, *out, *py;
	size_t		 olen, len;
	int		 rc;

	orig = load("simple.eml", &olen);
	out = run(&di, orig, olen, &len, &rc);
	is_int(rc, DSN_8BIT, "utf-8: written, 8-bit");
	if ((m = check_dsn("utf-8", out, len, orig, olen, &di,
	    "text/rfc822-headers")) != NULL) {
		check_golden("utf8", m, "utf-8: delivery-status (RFC 6533)");
		ok(strcmp(param(m->root->child, "charset"), "utf-8") == 0 &&
		    m->root->child->encoding != NULL &&
		    strcmp(m->root->child->encoding, "8bit") == 0,
		    "utf-8: text part utf-8, 8bit");
		ok(contains(out + m->root->child->body_off,
		    m->root->child->body_len, "<j\xc3\xb6rg@b\xc3\xbc"
		    "cher.example>:"), "utf-8: the text shows the address");
		mime_free(m);
	}
	if ((py = python(out, len)) != NULL) {
		ok(strstr(py, "recipient utf-8; j\\x{F6}rg@b\\x{FC}cher.example"
		    " | failed") != NULL && strstr(py, "defects 0\n") != NULL,
		    "utf-8: python3 reads it");
		free(py);
	} else
		ok(1, "# SKIP no python3");
	free(out);
	free(orig);
}

/*
 * The longest UTF-8 address RCPT TO takes (128 bytes of local part, 255
 * of domain, all two-byte characters) triples in the \x{HEX} form of
 * RFC 6533: its Final-Recipient field is folded to stay within 998
 * bytes a line, only between two characters, and unfolds to it whole.
 * Found by tests/fuzz/dsn.
 */
static void
test_long_utf8_rcpt(void)
{
	struct dsn_rcpt	 r = { NULL, "5.1.1", "mx.example.net",
	    "550 5.1.1 Unknown", T_NOW };
	struct dsn_info	 di = { DSN_FAILED, "mail.example.org",
	    "alice@example.org", "6f6533f9", T_NOW - 5, T_NOW, 0, &r, 1, 0 };
	struct mbuf	 rcpt, want;
	const char	*f;
	char		*orig, *out, *got;
	size_t		 olen, len, i, n;
	int		 rc;

	memset(&rcpt, 0, sizeof(rcpt));
	memset(&want, 0, sizeof(want));
	mbuf_add(&want, "utf-8; ", 7);
	for (i = 0; i < 64; i++) {
		mbuf_add(&rcpt, "\xc3\xa9", 2);
		mbuf_add(&want, "\\x{E9}", 6);
	}
	mbuf_add(&rcpt, "@", 1);
	mbuf_add(&want, "@", 1);
	for (i = 0; i < 4; i++) {
		if (i > 0) {
			mbuf_add(&rcpt, ".", 1);
			mbuf_add(&want, ".", 1);
		}
		for (n = 0; n < 31; n++) {
			mbuf_add(&rcpt, "\xc3\xbc", 2);
			mbuf_add(&want, "\\x{FC}", 6);
		}
	}
	ok(rcpt.len == 128 + 1 + 251, "long utf-8 rcpt: %zu bytes", rcpt.len);
	r.rcpt = rcpt.data;
	orig = load("simple.eml", &olen);
	out = run(&di, orig, olen, &len, &rc);
	is_int(rc, DSN_8BIT, "long utf-8 rcpt: written, 8-bit");
	ok(lines_ok(out, len, "long utf-8 rcpt"),
	    "long utf-8 rcpt: CRLF lines of at most 998 bytes");
	/* Unfolded (CRLF before WSP removed, and that WSP), it is whole. */
	if ((got = malloc(len + 1)) == NULL)
		exit(1);
	n = 0;
	if ((f = strstr(out, "Final-Recipient: ")) != NULL) {
		for (f += 17; *f != '\0'; f++) {
			if (f[0] == '\r' && f[1] == '\n' && f[2] == ' ')
				f += 2;
			else if (f[0] == '\r')
				break;
			else
				got[n++] = *f;
		}
	}
	got[n] = '\0';
	is_str(got, want.data,
	    "long utf-8 rcpt: Final-Recipient unfolds whole");
	free(got);
	free(out);
	free(orig);
	mbuf_free(&rcpt);
	mbuf_free(&want);
}

static void
test_many_rcpts(void)
{
	struct dsn_rcpt	*r;
	struct dsn_info	 di = { DSN_FAILED, "mail.example.org",
	    "alice@example.org", "6f6533f9", T_NOW - 5, T_NOW, 0, NULL, 0, 0 };
	char		 (*names)[32], *orig, *out, *p;
	size_t		 olen, len, i, n;
	int		 rc;

	n = DSN_MAX_RCPTS + 5;
	if ((r = calloc(n, sizeof(*r))) == NULL ||
	    (names = calloc(n, sizeof(*names))) == NULL)
		exit(1);
	for (i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "user%zu@example.net", i);
		r[i].rcpt = names[i];
		r[i].status = "5.1.1";
	}
	di.rcpts = r;
	di.nrcpts = n;
	orig = load("simple.eml", &olen);
	out = run(&di, orig, olen, &len, &rc);
	is_int(rc, 0, "many rcpts: written");
	for (i = 0, p = out; (p = strstr(p, "Final-Recipient:")) != NULL; p++)
		i++;
	is_int(i, DSN_MAX_RCPTS, "many rcpts: DSN_MAX_RCPTS reported");
	ok(contains(out, len, "... and 5 more recipients."),
	    "many rcpts: the rest counted");
	ok(lines_ok(out, len, "many rcpts"), "many rcpts: lines ok");
	free(out);
	free(orig);
	free(names);
	free(r);
}

static void
test_bad_params(void)
{
	struct dsn_rcpt	 r = { "bob@example.net", "5.1.1", NULL, NULL, 0 };
	struct dsn_info	 good = { DSN_FAILED, "mail.example.org",
	    "alice@example.org", "6f6533f9", T_NOW - 5, T_NOW, 0, &r, 1, 0 };
	struct dsn_info	 di;
	struct dsn_rcpt	 br;
	char		 longname[600], *out;
	size_t		 len;
	int		 rc, fds[2], fd;

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	memcpy(longname + 300, "@example.net", 12);

	out = run(NULL, "x", 1, &len, &rc);
	ok(rc == -1 && errno == EINVAL && len == 0, "NULL info: EINVAL");
	free(out);
#define BAD(field, value, what) do {					\
	di = good;							\
	di.field = value;						\
	out = run(&di, "x", 1, &len, &rc);				\
	ok(rc == -1 && errno == EINVAL && len == 0, "%s: EINVAL", what);\
	free(out);							\
} while (0)
	BAD(sender, NULL, "no sender");
	BAD(sender, "", "empty sender");
	BAD(sender, "alice@example.org\r\nBcc: x@y", "sender with CRLF");
	BAD(sender, longname, "over-long sender");
	BAD(reporting_mta, "mail example.org", "hostname with a space");
	BAD(reporting_mta, NULL, "no hostname");
	BAD(msgid, "6f65\n33f9", "queue id with LF");
	BAD(nrcpts, 0, "no recipients");
	BAD(rcpts, NULL, "NULL recipients");
	BAD(kind, (enum dsn_kind)7, "bad kind");
	br = r;
	br.rcpt = "bob@example.net\r\nX: y";
	BAD(rcpts, &br, "recipient with CRLF");
	br.rcpt = NULL;
	BAD(rcpts, &br, "NULL recipient");
#undef BAD

	rc = dsn_write(1, -1, &good);
	ok(rc == -1 && errno == EBADF, "bad input fd: -1 EBADF");
	if (pipe(fds) == -1)
		exit(1);
	close(fds[0]);
	if ((fd = open("/dev/null", O_RDONLY)) == -1)
		exit(1);
	rc = dsn_write(fds[1], fd, &good);
	ok(rc == -1 && errno == EPIPE, "closed output: -1 EPIPE");
	close(fds[1]);
	close(fd);
}

int
main(void)
{
	const char	*d;

	log_init(1, 0);
	signal(SIGPIPE, SIG_IGN);
	if ((d = getenv("MAILD_DSN_TESTDIR")) != NULL)
		dir = d;
	update_golden = getenv("MAILD_UPDATE_GOLDEN") != NULL;
	have_python = system("command -v python3 >/dev/null 2>&1") == 0;
	if (!have_python)
		printf("# no python3: its checks are skipped\n");

	test_one_550();
	test_two_rcpts();
	test_expired();
	test_delayed();
	test_huge();
	test_no_body();
	test_hostile();
	test_long_lines();
	test_bare_lf();
	test_utf8();
	test_long_utf8_rcpt();
	test_many_rcpts();
	test_bad_params();
	return done_testing();
}
