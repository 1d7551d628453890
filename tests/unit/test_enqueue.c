/*
 * Unit tests for enqueue.c: the submission target chosen from the
 * listeners, offline files written into a temporary spool and read
 * back, enqueue_offline_read() on hostile files (version, header
 * lines, addresses, recipient counts, sizes, NUL and CR bytes,
 * truncation), and the SMTP client against a scripted server in a
 * child process (greetings, EHLO fallback, extensions, 4xx and 5xx at
 * each step, dot-stuffing, hostile replies).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "enqueue.h"
#include "tap.h"
#include "util.h"

/* A scripted SMTP server: replies by command, in order for RCPT. */
struct script {
	const char	*greeting;
	const char	*ehlo;
	const char	*helo;
	const char	*mail;
	const char	*rcpt[4];
	const char	*data;
	const char	*end;		/* after the final dot */
	int		 silent;	/* no greeting; closes after 3 s */
};

static char	 spool[64];	/* short: paths below it always fit */

static struct maild_conf *conf_text(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)));
static int	 read_text(const char *, size_t, size_t, struct enq_msg *,
		    char *, size_t);
static int	 read_str(const char *, size_t, struct enq_msg *, char *,
		    size_t);
static int	 count_offline(char *, size_t);
static void	 test_target(void);
static void	 test_roundtrip(void);
static void	 test_hostile(void);
static void	 serve(int, const struct script *, const char *);
static int	 run_smtp(const struct script *, const struct enq_msg *,
		    char *, size_t, char *, size_t);
static void	 test_smtp(void);
static void	 rm_rf(void);

static struct maild_conf *
conf_text(const char *fmt, ...)
{
	struct maild_conf	*c;
	va_list			 ap;
	char			 buf[4096];

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	c = config_parse_buf("test.conf", buf, strlen(buf), CONF_NOFILES);
	if (c == NULL) {
		printf("Bail out! config does not parse:\n%s", buf);
		exit(1);
	}
	return c;
}

/* enqueue_offline_read() of len bytes of text, through a file. */
static int
read_text(const char *text, size_t len, size_t maxsize, struct enq_msg *m,
    char *err, size_t errlen)
{
	char	 path[PATH_MAX];
	int	 fd, r;

	(void)snprintf(path, sizeof(path), "%s/hostile", spool);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write_full(fd, text, len) == -1 || lseek(fd, 0, SEEK_SET) == -1) {
		printf("Bail out! %s: %s\n", path, strerror(errno));
		exit(1);
	}
	r = enqueue_offline_read(fd, maxsize, m, err, errlen);
	close(fd);
	unlink(path);
	return r;
}

static int
read_str(const char *text, size_t maxsize, struct enq_msg *m, char *err,
    size_t errlen)
{
	return read_text(text, strlen(text), maxsize, m, err, errlen);
}

/* Files in <spool>/offline (name of the last one in name); -1 if none. */
static int
count_offline(char *name, size_t len)
{
	char		 dir[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	(void)snprintf(dir, sizeof(dir), "%s/offline", spool);
	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		(void)strlcpy(name, de->d_name, len);
		n++;
	}
	closedir(d);
	return n;
}

static void
test_target(void)
{
	struct maild_conf	*c;
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len;
	char			 a[INET6_ADDRSTRLEN];

	c = conf_text("pki p cert \"/x\" key \"/y\"\n"
	    "table passwd file:/nonexistent\n"
	    "listen on 127.0.0.1 port 465 smtps pki p\n"
	    "listen on 127.0.0.2 port 587 tls-require pki p\n"
	    "listen on 127.0.0.3 port 588 tls pki p auth <passwd>\n"
	    "listen on 127.0.0.1 port 993 imaps pki p auth <passwd>\n"
	    "listen on 192.0.2.1 port 25\n"
	    "listen on * port 2525 tls pki p\n");
	ok(enqueue_target(c, &ss, &len) == 0 && ss.ss_family == AF_INET &&
	    len == sizeof(*sin), "target: a listener is found");
	(void)inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
	is_str(a, "127.0.0.1", "target: the wildcard is reached at 127.0.0.1");
	is_int(ntohs(sin->sin_port), 2525, "target: smtps, tls-require, "
	    "auth, imaps and non-loopback listeners are skipped");
	config_free(c);

	c = conf_text("listen on 127.0.0.45 port 10475\n");
	ok(enqueue_target(c, &ss, &len) == 0 &&
	    ntohs(sin->sin_port) == 10475 &&
	    ntohl(sin->sin_addr.s_addr) == 0x7f00002d,
	    "target: any 127/8 address is the loopback");
	config_free(c);

	c = conf_text("listen on :: port 26\n");
	ok(enqueue_target(c, &ss, &len) == 0 && ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) &&
	    ntohs(sin6->sin6_port) == 26 && len == sizeof(*sin6),
	    "target: the IPv6 wildcard is reached at ::1");
	config_free(c);

	c = conf_text("pki p cert \"/x\" key \"/y\"\n"
	    "listen on 192.0.2.1 port 25\n"
	    "listen on 127.0.0.1 port 465 smtps pki p\n");
	ok(enqueue_target(c, &ss, &len) == -1 && len == 0,
	    "target: none usable: -1");
	config_free(c);
}

static void
test_roundtrip(void)
{
	struct maild_conf	*c;
	struct enq_msg		 m, r;
	struct stat		 st;
	char			 err[512], name[256], path[PATH_MAX];
	char			*rcpts[3] = { "alice@example.org",
				    "Bob@Example.NET", "\"j doe\"@x.test" };
	char			 data[] = "Subject: hi\r\n\r\n.line\r\n"
				    "body\r\n";
	int			 fd, n;

	c = conf_text("spool \"%s\"\n", spool);
	memset(&m, 0, sizeof(m));
	(void)strlcpy(m.sender, "root@mx.test", sizeof(m.sender));
	m.rcpts = rcpts;
	m.nrcpt = 3;
	m.data = data;
	m.len = strlen(data);

	ok(enqueue_offline_write(c, &m, err, sizeof(err)) == -1 &&
	    strstr(err, "/offline") != NULL,
	    "write: no offline directory: -1 naming it (%s)", err);
	(void)snprintf(path, sizeof(path), "%s/offline", spool);
	if (mkdir(path, 01777) == -1 || chmod(path, 01777) == -1) {
		printf("Bail out! mkdir %s: %s\n", path, strerror(errno));
		exit(1);
	}
	(void)umask(077);
	n = enqueue_offline_write(c, &m, err, sizeof(err));
	ok(n == 0, "write: 0 (%s)", err);
	is_int(count_offline(name, sizeof(name)), 1, "write: one file, no "
	    "temporary left");
	ok(name[0] != '.' && strchr(name, '/') == NULL &&
	    strspn(name, "0123456789.abcdef") == strlen(name) &&
	    strchr(name, '.') != strrchr(name, '.'),
	    "write: named <time>.<pid>.<hex> (%s)", name);
	(void)snprintf(path, sizeof(path), "%s/offline/%s", spool, name);
	ok(lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 07777) == 0600 && st.st_uid == getuid(),
	    "write: a regular file, mode 0600, ours");
	if ((fd = open(path, O_RDONLY)) == -1) {
		printf("Bail out! %s: %s\n", path, strerror(errno));
		exit(1);
	}
	n = enqueue_offline_read(fd, 1024, &r, err, sizeof(err));
	close(fd);
	ok(n == 0, "read back: 0 (%s)", err);
	is_str(r.sender, "root@mx.test", "read back: sender");
	ok(r.nrcpt == 3 && strcmp(r.rcpts[0], "alice@example.org") == 0 &&
	    strcmp(r.rcpts[1], "Bob@example.net") == 0 &&
	    strcmp(r.rcpts[2], "\"j doe\"@x.test") == 0,
	    "read back: the recipients, domains lowercased");
	ok(r.len == m.len && memcmp(r.data, data, r.len) == 0,
	    "read back: the message, byte for byte (not dot-stuffed)");
	enqueue_msg_free(&r);
	ok(r.rcpts == NULL && r.data == NULL && r.nrcpt == 0,
	    "enqueue_msg_free clears the message");
	unlink(path);

	/* The null sender, one recipient, an empty message. */
	m.sender[0] = '\0';
	m.nrcpt = 1;
	m.len = 0;
	ok(enqueue_offline_write(c, &m, err, sizeof(err)) == 0 &&
	    count_offline(name, sizeof(name)) == 1, "write: null sender");
	(void)snprintf(path, sizeof(path), "%s/offline/%s", spool, name);
	fd = open(path, O_RDONLY);
	n = enqueue_offline_read(fd, 1024, &r, err, sizeof(err));
	close(fd);
	ok(n == 0 && r.sender[0] == '\0' && r.nrcpt == 1 && r.len == 0,
	    "read back: null sender, empty message");
	enqueue_msg_free(&r);
	unlink(path);

	/* What the daemon would refuse is not written. */
	m.nrcpt = 0;
	ok(enqueue_offline_write(c, &m, err, sizeof(err)) == -1,
	    "write: no recipients refused (%s)", err);
	rcpts[0] = "bad address@x";
	m.nrcpt = 1;
	ok(enqueue_offline_write(c, &m, err, sizeof(err)) == -1,
	    "write: bad recipient refused (%s)", err);
	rcpts[0] = "a@b\nto evil@x";
	ok(enqueue_offline_write(c, &m, err, sizeof(err)) == -1,
	    "write: a newline in a recipient refused");
	rcpts[0] = "alice@example.org";
	(void)strlcpy(m.sender, "x\r\n@y", sizeof(m.sender));
	ok(enqueue_offline_write(c, &m, err, sizeof(err)) == -1,
	    "write: bad sender refused (%s)", err);
	ok(count_offline(name, sizeof(name)) == 0, "nothing left behind");
	config_free(c);
}

static void
test_hostile(void)
{
	static const char nul1[] = "maild-offline 1\nfrom a@b.c\nto d\0@e.f"
			    "\n\nx\n";
	static const char nul2[] = "maild-offline 1\0\nfrom a@b.c\nto d@e.f"
			    "\n\nx\n";
	static const char nul3[] = "maild-offline 1\nfrom a@b.c\nto d@e.f\n"
			    "\nx\0y\n";
	struct enq_msg	 m;
	char		 err[512], *big, *p;
	size_t		 i, size;
	int		 r;

	r = read_str("maild-offline 1\nfrom a@b.c\nto d@e.f\n\nhi\nthere\n",
	    100, &m, err, sizeof(err));
	ok(r == 0 && m.len == 11 && memcmp(m.data, "hi\r\nthere\r\n", 11) ==
	    0, "bare LF data is read as CRLF");
	enqueue_msg_free(&m);
	r = read_str("maild-offline 1\nfrom a@b.c\nto d@e.f\n\nx\r\ny\n",
	    100, &m, err, sizeof(err));
	ok(r == 0 && m.len == 6 && memcmp(m.data, "x\r\ny\r\n", 6) == 0,
	    "mixed CRLF and LF: CRLF everywhere");
	enqueue_msg_free(&m);

#define BAD(text, max, what) do {					\
	r = read_str(text, max, &m, err, sizeof(err));			\
	ok(r == -1 && err[0] != '\0' && m.rcpts == NULL &&		\
	    m.data == NULL, "refused: %s (%s)", what, err);		\
	enqueue_msg_free(&m);						\
} while (0)

	BAD("", 100, "empty file");
	BAD("maild-offline 2\nfrom a@b.c\nto d@e.f\n\nx\n", 100,
	    "version 2");
	BAD("maild-offline 1 \nfrom a@b.c\nto d@e.f\n\nx\n", 100,
	    "version line with a space");
	BAD("MAILD-OFFLINE 1\nfrom a@b.c\nto d@e.f\n\nx\n", 100,
	    "version in capitals");
	BAD("maild-offline 1\nfrom a@b.c\nto d@e.f\n", 100,
	    "no blank line after the header");
	BAD("maild-offline 1\nfrom a@b.c\nto d@e", 100,
	    "truncated in a header line");
	BAD("maild-offline 1\nfrom a@b.c\n", 100, "truncated after from");
	BAD("maild-offline 1\n", 100, "truncated after the version");
	BAD("maild-offline 1\nfrom a@b.c\n\nx\n", 100, "no recipients");
	BAD("maild-offline 1\nto d@e.f\n\nx\n", 100, "no from line");
	BAD("maild-offline 1\nfrom a@b.c\nfrom a@b.c\nto d@e.f\n\nx\n", 100,
	    "two from lines");
	BAD("maild-offline 1\nfrom not an address\nto d@e.f\n\nx\n", 100,
	    "bad sender");
	BAD("maild-offline 1\nfrom <a@b.c>\nto d@e.f\n\nx\n", 100,
	    "sender in brackets");
	BAD("maild-offline 1\nfrom\nto d@e.f\n\nx\n", 100,
	    "\"from\" without its space");
	BAD("maild-offline 1\nfrom a@b.c\nto d@\n\nx\n", 100,
	    "recipient without domain");
	BAD("maild-offline 1\nfrom a@b.c\nto \n\nx\n", 100,
	    "empty recipient");
	BAD("maild-offline 1\nfrom a@b.c\nto d\n\nx\n", 100,
	    "recipient without @");
	BAD("maild-offline 1\nfrom a@b.c\nto d@e.f g@h.i\n\nx\n", 100,
	    "two addresses on a to line");
	BAD("maild-offline 1\nfrom a@b.c\nto  d@e.f\n\nx\n", 100,
	    "two spaces after to");
	BAD("maild-offline 1\nfrom a@b.c\ncc d@e.f\n\nx\n", 100,
	    "unknown header line");
	BAD("maild-offline 1\nfrom a@b.c\nto d@e.f\r\n\r\nx\n", 100,
	    "CR in an address line");
	BAD("maild-offline 1\r\nfrom a@b.c\nto d@e.f\n\nx\n", 100,
	    "CRLF after the version");
	BAD("maild-offline 1\nfrom a@b.c\nto d@e.f\n\n0123456789X", 10,
	    "data larger than maxsize");
	BAD("maild-offline 1\nfrom a@b.c\nto d@e.f\n\n01234\n6789", 10,
	    "data larger than maxsize once LF is CRLF");
	BAD("maild-offline 1\nfrom a@b.c\nto d@e.f/../x\n\nx\n", 100,
	    "path characters in a domain");
	r = read_str("maild-offline 1\nfrom a@b.c\nto d@e.f\n\n0123456789",
	    10, &m, err, sizeof(err));
	ok(r == 0 && m.len == 10, "data of exactly maxsize is read");
	enqueue_msg_free(&m);

	r = read_text(nul1, sizeof(nul1) - 1, 100, &m, err, sizeof(err));
	ok(r == -1 && m.rcpts == NULL, "refused: NUL in a to line (%s)", err);
	enqueue_msg_free(&m);
	r = read_text(nul2, sizeof(nul2) - 1, 100, &m, err, sizeof(err));
	ok(r == -1, "refused: NUL in the version line (%s)", err);
	enqueue_msg_free(&m);
	r = read_text(nul3, sizeof(nul3) - 1, 100, &m, err, sizeof(err));
	ok(r == 0 && m.len == 5 && memcmp(m.data, "x\0y\r\n", 5) == 0,
	    "a NUL in the data is data (the server judges it)");
	enqueue_msg_free(&m);

	/* Long lines, many recipients. */
	size = 64 + 1100 * 40 + 5000;
	if ((big = malloc(size)) == NULL)
		fatal("malloc");
	p = big + snprintf(big, size, "maild-offline 1\nfrom a@b.c\nto ");
	memset(p, 'x', 3000);
	(void)strlcpy(p + 3000, "@e.f\n\nx\n", size - (p + 3000 - big));
	BAD(big, 100, "a to line of 3000 bytes");

	p = big + snprintf(big, size, "maild-offline 1\nfrom a@b.c\n");
	for (i = 0; i < ENQ_RCPT_MAX; i++)
		p += snprintf(p, size - (p - big), "to u%zu@example.org\n", i);
	(void)strlcpy(p, "\nx\n", size - (p - big));
	r = read_str(big, 100, &m, err, sizeof(err));
	ok(r == 0 && m.nrcpt == ENQ_RCPT_MAX &&
	    strcmp(m.rcpts[ENQ_RCPT_MAX - 1], "u999@example.org") == 0,
	    "%d recipients are read (%s)", ENQ_RCPT_MAX, err);
	enqueue_msg_free(&m);
	p += snprintf(p, size - (p - big), "to one@more.org\n\nx\n");
	BAD(big, 100, "one recipient too many");
	free(big);
#undef BAD
}

/* The scripted server's side of one connection; what it got -> log. */
static void
serve(int lfd, const struct script *s, const char *logpath)
{
	FILE		*in, *log;
	char		 line[8192];
	const char	*reply;
	int		 fd, indata = 0, nrcpt = 0;

	if ((fd = accept(lfd, NULL, NULL)) == -1 ||
	    (in = fdopen(dup(fd), "r")) == NULL ||
	    (log = fopen(logpath, "w")) == NULL)
		_exit(2);
	if (s->greeting != NULL)
		(void)write_full(fd, s->greeting, strlen(s->greeting));
	if (s->silent) {
		sleep(3);
		_exit(0);
	}
	while (fgets(line, sizeof(line), in) != NULL) {
		fputs(line, log);
		fflush(log);
		if (indata) {
			if (strcmp(line, ".\r\n") == 0) {
				indata = 0;
				reply = s->end ? s->end : "250 2.0.0 ok\r\n";
			} else
				continue;
		} else if (strncasecmp(line, "EHLO", 4) == 0)
			reply = s->ehlo ? s->ehlo :
			    "250-hi\r\n250 8BITMIME\r\n";
		else if (strncasecmp(line, "HELO", 4) == 0)
			reply = s->helo ? s->helo : "250 hi\r\n";
		else if (strncasecmp(line, "MAIL", 4) == 0)
			reply = s->mail ? s->mail : "250 ok\r\n";
		else if (strncasecmp(line, "RCPT", 4) == 0) {
			reply = nrcpt < 4 && s->rcpt[nrcpt] ? s->rcpt[nrcpt] :
			    "250 ok\r\n";
			nrcpt++;
		} else if (strncasecmp(line, "DATA", 4) == 0) {
			reply = s->data ? s->data : "354 go\r\n";
			indata = strncmp(reply, "354", 3) == 0;
		} else if (strncasecmp(line, "QUIT", 4) == 0) {
			(void)write_full(fd, "221 bye\r\n", 9);
			break;
		} else
			reply = "250 ok\r\n";
		if (write_full(fd, reply, strlen(reply)) == -1)
			break;
	}
	fclose(log);
	_exit(0);
}

/*
 * enqueue_smtp() of m against script s; the commands the server got
 * go to wire (NUL-terminated).  Returns the ENQ_* result.
 */
static int
run_smtp(const struct script *s, const struct enq_msg *m, char *err,
    size_t errlen, char *wire, size_t wirelen)
{
	struct maild_conf	*c;
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	char			 logpath[PATH_MAX];
	pid_t			 pid;
	int			 lfd, r, fd, status;
	ssize_t			 n;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 1) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) == -1) {
		printf("Bail out! listen: %s\n", strerror(errno));
		exit(1);
	}
	(void)snprintf(logpath, sizeof(logpath), "%s/wire", spool);
	(void)unlink(logpath);
	fflush(stdout);
	if ((pid = fork()) == -1) {
		printf("Bail out! fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid == 0)
		serve(lfd, s, logpath);
	close(lfd);
	c = conf_text("hostname \"mx.test\"\nlisten on 127.0.0.1 port %d\n",
	    ntohs(sin.sin_port));
	r = enqueue_smtp(c, m, err, errlen);
	config_free(c);
	(void)kill(pid, SIGTERM);
	(void)waitpid(pid, &status, 0);
	wire[0] = '\0';
	if ((fd = open(logpath, O_RDONLY)) != -1) {
		n = read(fd, wire, wirelen - 1);
		wire[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	return r;
}

static void
test_smtp(void)
{
	struct script	 s;
	struct enq_msg	 m;
	struct maild_conf *c;
	char		 err[2048], wire[8192], line[128];
	char		*rcpts[3] = { "a@example.org", "b@example.org",
			    "c@example.org" };
	char		 data[] = ".leading dot\r\nSubject: x\r\n\r\n.\r\n"
			    "caf\xc3\xa9\r\nno end";
	int		 r;

	memset(&m, 0, sizeof(m));
	(void)strlcpy(m.sender, "root@mx.test", sizeof(m.sender));
	m.rcpts = rcpts;
	m.nrcpt = 3;
	m.data = data;
	m.len = strlen(data);

	c = conf_text("listen on 127.0.0.1 port 1\n");
	r = enqueue_smtp(c, &m, err, sizeof(err));
	ok(r == ENQ_TEMPFAIL && strstr(err, "127.0.0.1 port 1") != NULL,
	    "nothing listening: TEMPFAIL (%s)", err);
	config_free(c);
	c = conf_text("listen on 192.0.2.1 port 25\n");
	r = enqueue_smtp(c, &m, err, sizeof(err));
	ok(r == ENQ_TEMPFAIL && err[0] != '\0', "no usable listener: "
	    "TEMPFAIL (%s)", err);
	config_free(c);

	memset(&s, 0, sizeof(s));
	s.greeting = "220 mx ESMTP\r\n";
	r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
	is_int(r, ENQ_OK, "all accepted: ENQ_OK");
	ok(strstr(wire, "EHLO localhost\r\nMAIL FROM:<root@mx.test> "
	    "BODY=8BITMIME\r\nRCPT TO:<a@example.org>\r\n"
	    "RCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\n"
	    "DATA\r\n") == wire, "EHLO, MAIL with BODY=8BITMIME (8-bit "
	    "data, offered), RCPT each, DATA");
	ok(strstr(wire, "DATA\r\n..leading dot\r\nSubject: x\r\n\r\n..\r\n"
	    "caf\xc3\xa9\r\nno end\r\n.\r\nQUIT\r\n") != NULL,
	    "dot-stuffed data, last line ended, final dot, QUIT");

	s.ehlo = "250-hi\r\n250-SIZE 100\r\n250 SMTPUTF8\r\n";
	rcpts[2] = "\xc3\xa9t\xc3\xa9@example.org";
	r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
	(void)snprintf(line, sizeof(line), "MAIL FROM:<root@mx.test> "
	    "SIZE=%zu SMTPUTF8\r\n", m.len);
	ok(r == ENQ_OK && strstr(wire, line) != NULL, "SIZE and SMTPUTF8 "
	    "when offered and needed, no BODY= when 8BITMIME is not offered");
	rcpts[2] = "c@example.org";

	memset(&s, 0, sizeof(s));
	s.greeting = "220-first\r\n220-second\r\n220 third\r\n";
	s.ehlo = "502 5.5.1 no EHLO\r\n";
	r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
	ok(r == ENQ_OK && strstr(wire, "EHLO localhost\r\nHELO localhost\r\n"
	    "MAIL FROM:<root@mx.test>\r\n") == wire, "multi-line greeting; "
	    "EHLO 5xx: HELO, and no extensions used");

	memset(&s, 0, sizeof(s));
	s.greeting = "421 4.3.2 Service paused\r\n";
	r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
	ok(r == ENQ_TEMPFAIL && strstr(err, "421 4.3.2") != NULL &&
	    strstr(wire, "MAIL") == NULL, "421 greeting: TEMPFAIL (%s)", err);
	s.greeting = "554 5.7.1 go away\r\n";
	r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
	ok(r == ENQ_PERMFAIL && strncmp(err, "message refused", 15) == 0,
	    "554 greeting: PERMFAIL, message refused (%s)", err);
	s.greeting = "220 ok\r\n";
	s.mail = "451 4.3.0 try later\r\n";
	r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
	ok(r == ENQ_TEMPFAIL && strstr(wire, "RCPT") == NULL &&
	    strstr(err, "451 4.3.0") != NULL, "MAIL 4xx: TEMPFAIL, no RCPT");
	s.mail = "553 5.1.8 bad sender\r\n";
	r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
	ok(r == ENQ_PERMFAIL && strncmp(err, "message refused (MAIL FROM:"
	    "<root@mx.test>): 553 5.1.8", 47) == 0 &&
	    strstr(wire, "RCPT") == NULL, "MAIL 5xx: PERMFAIL (%s)", err);

	memset(&s, 0, sizeof(s));
	s.greeting = "220 ok\r\n";
	s.rcpt[1] = "550 5.1.1 no such user\r\n";
	r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
	ok(r == ENQ_PERMFAIL && strcmp(err, "b@example.org: 550 5.1.1 no "
	    "such user") == 0, "one RCPT 5xx: PERMFAIL naming it (%s)", err);
	ok(strstr(wire, "DATA\r\n") != NULL && strstr(wire, "\r\n.\r\n") !=
	    NULL, "... and the others got the message");

	s.rcpt[1] = "250 ok\r\n";
	s.rcpt[2] = "452 4.5.3 too many\r\n";
	r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
	ok(r == ENQ_TEMPFAIL && strstr(wire, "DATA") == NULL &&
	    strstr(wire, "RSET\r\nQUIT\r\n") != NULL &&
	    strstr(err, "452 4.5.3") != NULL,
	    "one RCPT 4xx while others got 250: RSET, no DATA, TEMPFAIL");
	s.rcpt[0] = "550 5.1.1 nope\r\n";
	r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
	ok(r == ENQ_TEMPFAIL && strstr(wire, "DATA") == NULL,
	    "5xx and 4xx recipients: TEMPFAIL, the 5xx come back later");

	memset(&s, 0, sizeof(s));
	s.greeting = "220 ok\r\n";
	s.rcpt[0] = s.rcpt[1] = s.rcpt[2] = "550 5.1.1 unknown\r\n";
	r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
	ok(r == ENQ_PERMFAIL && strstr(wire, "DATA") == NULL &&
	    strcmp(err, "a@example.org: 550 5.1.1 unknown\nb@example.org: "
	    "550 5.1.1 unknown\nc@example.org: 550 5.1.1 unknown") == 0,
	    "every RCPT 5xx: PERMFAIL, one line each, no DATA");

	memset(&s, 0, sizeof(s));
	s.greeting = "220 ok\r\n";
	s.data = "451 4.3.0 later\r\n";
	r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
	ok(r == ENQ_TEMPFAIL && strstr(wire, "RSET") != NULL,
	    "DATA 4xx: TEMPFAIL, RSET");
	s.data = "554 5.5.1 no data\r\n";
	r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
	ok(r == ENQ_PERMFAIL && strncmp(err, "message refused (DATA)", 22) ==
	    0, "DATA 5xx: PERMFAIL, message refused (%s)", err);
	s.data = NULL;
	s.end = "451 4.3.0 disk full\r\n";
	r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
	ok(r == ENQ_TEMPFAIL && strstr(err, "451 4.3.0") != NULL,
	    "4xx after the final dot: TEMPFAIL");
	s.end = "552 5.3.4 Message too big\r\n";
	s.rcpt[2] = "550 5.1.1 unknown\r\n";
	r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
	ok(r == ENQ_PERMFAIL && strcmp(err, "c@example.org: 550 5.1.1 "
	    "unknown\nmessage refused (end of data): 552 5.3.4 Message too "
	    "big") == 0, "5xx after the final dot: both refusals listed");

	/* Hostile servers. */
	memset(&s, 0, sizeof(s));
	s.greeting = "220 ok\r\n";
	s.rcpt[0] = "550 5.1.1 \x1b[31mred\x07\xff\r\n";
	r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
	ok(r == ENQ_PERMFAIL && strcmp(err, "a@example.org: 550 5.1.1 "
	    "?[31mred??") == 0, "control and 8-bit bytes of replies are "
	    "cleaned (%s)", err);
	s.rcpt[0] = "250-ok\r\n251 changed code\r\n";
	r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
	ok(r == ENQ_TEMPFAIL && strstr(err, "malformed") != NULL,
	    "a reply whose code changes: TEMPFAIL (%s)", err);
	s.rcpt[0] = "hello\r\n";
	r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
	ok(r == ENQ_TEMPFAIL, "garbage instead of a reply: TEMPFAIL");
	{
		char	 longreply[6000];

		memset(longreply, 'x', sizeof(longreply));
		memcpy(longreply, "250 ", 4);
		(void)strlcpy(longreply + sizeof(longreply) - 3, "\r\n", 3);
		s.rcpt[0] = longreply;
		r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
		ok(r == ENQ_TEMPFAIL && strstr(err, "too long") != NULL,
		    "a reply line of 6000 bytes: TEMPFAIL (%s)", err);
	}
	memset(&s, 0, sizeof(s));
	s.silent = 1;
	r = run_smtp(&s, &m, err, sizeof(err), wire, sizeof(wire));
	ok(r == ENQ_TEMPFAIL && strstr(err, "closed") != NULL,
	    "no greeting, then closed: TEMPFAIL (%s)", err);
}

/* At exit, also after a bail out (the server child uses _exit). */
static void
rm_rf(void)
{
	char	 cmd[sizeof(spool) + 16];

	if (spool[0] == '\0')
		return;
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", spool);
	(void)system(cmd);
}

int
main(void)
{
	char	 tmpl[] = "/tmp/test_enqueue.XXXXXX";

	log_init(1, 0);
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmpl) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	(void)strlcpy(spool, tmpl, sizeof(spool));
	atexit(rm_rf);
	test_target();
	test_roundtrip();
	test_hostile();
	test_smtp();
	return done_testing();
}
