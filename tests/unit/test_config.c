/*
 * Tests of the mail.conf parser.  First the golden files: every
 * tests/data/conf/NAME.conf (directory from $MAILD_CONF_TESTDIR, run
 * from the repository root by default) is parsed with CONF_NOFILES and
 * its config_dump() output, or the error lines it prints, compared with
 * NAME.out; a dump must also parse back to itself.  NAME.conf files
 * starting with "linux-" use Linux interface names and are skipped
 * elsewhere.  Set MAILD_UPDATE_GOLDEN=1 to rewrite the .out files (then
 * read the diff!).  Then checks in code: defaults, macros, the mailbox
 * root, pki merging, certificate and key files, hostile input.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "maild.h"
#include "table.h"
#include "tap.h"

static char	*read_all(const char *, size_t *);
static int	 write_all(const char *, const char *, mode_t);
static void	 capture_start(void);
static char	*capture_end(void);
static char	*dump_text(const struct maild_conf *);
static struct maild_conf *parse(const char *, int, char **);
static int	 cmpstr(const void *, const void *);
static void	 show_diff(const char *, const char *);
static void	 golden(const char *, const char *);
static void	 test_golden(void);
static void	 test_defaults(void);
static void	 test_macros(void);
static void	 test_vmail_root(void);
static void	 test_pki_merge(void);
static void	 test_structure(void);
static void	 test_hostile(void);
static void	 test_files(void);
static void	 test_parse_file(void);
static void	 test_example(void);

static FILE	*cap_fp;
static int	 cap_saved = -1;

static char *
read_all(const char *path, size_t *lenp)
{
	FILE	*fp;
	char	*buf;
	long	 n;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == -1 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) == -1) {
		fclose(fp);
		return NULL;
	}
	if ((buf = malloc((size_t)n + 1)) == NULL)
		abort();
	if (fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		fclose(fp);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	fclose(fp);
	if (lenp != NULL)
		*lenp = (size_t)n;
	return buf;
}

static int
write_all(const char *path, const char *text, mode_t mode)
{
	int	 fd;
	size_t	 len = strlen(text);

	(void)unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)) == -1)
		return -1;
	if (write(fd, text, len) != (ssize_t)len || fchmod(fd, mode) == -1) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* log_warnx() writes to stderr in the foreground: catch it in a file. */
static void
capture_start(void)
{
	fflush(stderr);
	if ((cap_fp = tmpfile()) == NULL || (cap_saved = dup(2)) == -1 ||
	    dup2(fileno(cap_fp), 2) == -1)
		abort();
}

static char *
capture_end(void)
{
	char	*buf;
	long	 n;

	fflush(stderr);
	if (dup2(cap_saved, 2) == -1)
		abort();
	close(cap_saved);
	cap_saved = -1;
	if ((n = ftell(cap_fp)) < 0 || fseek(cap_fp, 0, SEEK_SET) == -1)
		abort();
	if ((buf = malloc((size_t)n + 1)) == NULL)
		abort();
	if (fread(buf, 1, (size_t)n, cap_fp) != (size_t)n)
		abort();
	buf[n] = '\0';
	fclose(cap_fp);
	cap_fp = NULL;
	return buf;
}

static char *
dump_text(const struct maild_conf *c)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		abort();
	config_dump(c, fp);
	fclose(fp);
	return buf;
}

/* Parse text named "test.conf"; *errs (if given) gets what was logged. */
static struct maild_conf *
parse(const char *text, int flags, char **errs)
{
	struct maild_conf	*c;
	char			*e;

	capture_start();
	c = config_parse_buf("test.conf", text, strlen(text), flags);
	e = capture_end();
	if (errs != NULL)
		*errs = e;
	else
		free(e);
	return c;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first line that differs, as TAP comments. */
static void
show_diff(const char *got, const char *want)
{
	int	 line = 1;
	size_t	 g, w;

	while (*got != '\0' || *want != '\0') {
		g = strcspn(got, "\n");
		w = strcspn(want, "\n");
		if (g != w || strncmp(got, want, g) != 0) {
			printf("#   line %d\n#   got:      %.*s\n"
			    "#   expected: %.*s\n", line, (int)g, got, (int)w,
			    want);
			return;
		}
		got += g + (got[g] != '\0');
		want += w + (want[w] != '\0');
		line++;
	}
}

static void
golden(const char *dir, const char *name)
{
	struct maild_conf	*c, *c2;
	char			 path[PATH_MAX], outpath[PATH_MAX], *text;
	char			*errs, *got, *want, *again, *errs2;
	char			 label[512];
	size_t			 len, n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	n = strlen(path) - strlen(".conf");
	snprintf(outpath, sizeof(outpath), "%.*s.out", (int)n, path);
#ifndef __linux__
	if (strncmp(name, "linux-", 6) == 0) {
		ok(1, "%s # SKIP Linux interface names", name);
		return;
	}
#endif
	if ((text = read_all(path, &len)) == NULL) {
		ok(0, "%s: cannot read", path);
		return;
	}
	capture_start();
	c = config_parse_buf(name, text, len, CONF_NOFILES);
	errs = capture_end();
	if (c != NULL) {
		got = dump_text(c);
		snprintf(label, sizeof(label), "golden %s: no messages", name);
		is_str(errs, "", label);
	} else {
		got = strdup(errs);
		ok(*errs != '\0', "golden %s: failure is explained", name);
	}
	if (getenv("MAILD_UPDATE_GOLDEN") != NULL)
		(void)write_all(outpath, got, 0644);
	want = read_all(outpath, NULL);
	ok(want != NULL && strcmp(got, want) == 0, "%s", name);
	if (want == NULL)
		printf("#   cannot read %s\n", outpath);
	else if (strcmp(got, want) != 0)
		show_diff(got, want);

	/* The canonical form is itself a configuration with the same dump. */
	if (c != NULL) {
		capture_start();
		c2 = config_parse_buf("dump", got, strlen(got), CONF_NOFILES);
		errs2 = capture_end();
		again = c2 != NULL ? dump_text(c2) : strdup(errs2);
		snprintf(label, sizeof(label), "golden %s: dump parses back to "
		    "itself", name);
		is_str(again, got, label);
		free(again);
		free(errs2);
		config_free(c2);
	}
	config_free(c);
	free(text);
	free(errs);
	free(got);
	free(want);
}

static void
test_golden(void)
{
	const char	*dir;
	DIR		*d;
	struct dirent	*de;
	char		*names[256];
	size_t		 n = 0, i, len;

	if ((dir = getenv("MAILD_CONF_TESTDIR")) == NULL)
		dir = "tests/data/conf";
	if ((d = opendir(dir)) == NULL) {
		ok(0, "opendir %s: %s", dir, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL && n < nitems(names)) {
		len = strlen(de->d_name);
		if (len > 5 && strcmp(de->d_name + len - 5, ".conf") == 0)
			if ((names[n++] = strdup(de->d_name)) == NULL)
				abort();
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmpstr);
	ok(n >= 15, "found %zu golden configurations", n);
	for (i = 0; i < n; i++) {
		golden(dir, names[i]);
		free(names[i]);
	}
}

static void
test_defaults(void)
{
	struct maild_conf	*c;

	c = parse("hostname \"mx.example.org\"\n", CONF_NOFILES, NULL);
	ok(c != NULL, "minimal configuration");
	if (c == NULL)
		return;
	is_str(c->path, "test.conf", "path is the name given");
	is_str(c->hostname, "mx.example.org", "hostname");
	is_str(c->spool, MAILD_SPOOL, "default spool");
	is_str(c->socket, MAILD_SOCKET, "default socket");
	is_str(c->user, MAILD_USER, "default user");
	is_str(c->vmail_user, MAILD_VMAIL_USER, "default vmail user");
	is_str(c->vmail_root, "/var/vmail", "default vmail root");
	is_int(c->max_msg_size, DEFAULT_MAX_MSG_SIZE, "default message size");
	is_int(c->max_rcpt, DEFAULT_MAX_RCPT, "default max-rcpt");
	is_int(c->max_per_ip, DEFAULT_MAX_PER_IP, "default max-per-ip");
	is_int(c->smtp_timeout, DEFAULT_SMTP_TIMEOUT, "default smtp timeout");
	is_int(c->queue_ttl, DEFAULT_QUEUE_TTL, "default queue ttl");
	is_int(c->retry_local, DEFAULT_RETRY_LOCAL, "default retry");
	is_int(c->retry_max, DEFAULT_RETRY_MAX, "default retry-max");
	ok(TAILQ_EMPTY(&c->listeners) && TAILQ_EMPTY(&c->rules) &&
	    TAILQ_EMPTY(&c->pkis) && TAILQ_EMPTY(&c->tables) &&
	    TAILQ_EMPTY(&c->actions), "no lists filled");
	config_free(c);

	/* Without "hostname" it comes from the system. */
	{
		char	 host[HOST_NAME_MAX + 1];

		memset(host, 0, sizeof(host));
		if (gethostname(host, sizeof(host) - 1) == 0 &&
		    (c = parse("", CONF_NOFILES, NULL)) != NULL) {
			is_str(c->hostname, host, "hostname from the system");
			config_free(c);
		} else
			ok(1, "# SKIP the system host name is not usable");
	}
	c = parse("hostname h.example\nsmtp max-message-size 1g\n"
	    "smtp timeout 1d\nqueue ttl 90m\n", CONF_NOFILES, NULL);
	ok(c != NULL && c->max_msg_size == 1024 * 1024 * 1024 &&
	    c->smtp_timeout == 86400 && c->queue_ttl == 5400,
	    "size and duration suffixes");
	config_free(c);
	c = parse("hostname h.example\nsmtp max-message-size 1025M\n",
	    CONF_NOFILES, NULL);
	ok(c == NULL, "message size above 1G refused");
	c = parse("hostname h.example\nqueue ttl 99999999999999999999999\n",
	    CONF_NOFILES, NULL);
	ok(c == NULL, "duration overflow refused");
	c = parse("hostname h.example\nqueue ttl -5\n", CONF_NOFILES, NULL);
	ok(c == NULL, "negative duration refused");
}

static void
test_macros(void)
{
	struct maild_conf	*c;
	struct listener		*l;
	struct sockaddr_in	*sin;
	char			*errs;

	c = parse("p = 2525\nh=\"mx.example.org\"\nhostname $h\n"
	    "listen on 127.0.0.1 port $p\n", CONF_NOFILES, NULL);
	ok(c != NULL, "macros");
	if (c == NULL)
		return;
	is_str(c->hostname, "mx.example.org", "macro as a string");
	l = TAILQ_FIRST(&c->listeners);
	ok(l != NULL && TAILQ_NEXT(l, entry) == NULL, "one listener");
	if (l != NULL) {
		sin = (struct sockaddr_in *)&l->ss;
		is_int(l->port, 2525, "macro as a port");
		is_int(l->ss.ss_family, AF_INET, "inet4");
		is_int(l->sslen, sizeof(struct sockaddr_in), "sslen");
		is_int(ntohs(sin->sin_port), 2525, "port in the sockaddr");
		is_int(ntohl(sin->sin_addr.s_addr), 0x7f000001, "address");
		is_int(l->fd, -1, "no socket yet");
		is_int(l->line, 4, "line of the statement");
		is_int(l->proto, PROTO_SMTP, "SMTP");
		is_int(l->flags, L_DNSBL, "no flags but the default dnsbl");
		is_str(l->hostname, "mx.example.org", "global hostname");
	}
	config_free(c);

	c = parse("hostname $nope\n", CONF_NOFILES, &errs);
	ok(c == NULL, "undefined macro");
	is_str(errs, "maild: test.conf:1: undefined macro \"nope\"\n",
	    "undefined macro message");
	free(errs);
	c = parse("x = \"a b\"\nhostname h.example\nlisten on 127.0.0.1 $x\n",
	    CONF_NOFILES, NULL);
	ok(c == NULL, "a macro is one word, never re-split");
}

static void
test_vmail_root(void)
{
	static const struct {
		const char	*a, *b, *root;
	} cases[] = {
		{ "/var/vmail/%{dest.domain}/%{dest.user}", NULL,
		    "/var/vmail" },
		{ "/srv/a/%{dest.user}", "/srv/b/%{dest.user}", "/srv" },
		{ "/var/vmail/%{dest.user}", "/var/vmail2/%{dest.user}",
		    "/var" },
		{ "/var/vmail/x%{dest.user}", "/var/vmail/y/%{dest.user}",
		    "/var/vmail" },
		{ "/var/vmail/box", NULL, "/var/vmail" },
		{ "/%{dest.user}", "/var/vmail/%{dest.user}", "/" },
		{ "/a/%{dest.user}", "/b/x", "/" },
		{ "/m/%{dest.user}", "/m/%{dest.domain}/%{dest.user}", "/m" },
	};
	struct maild_conf	*c;
	char			 text[1024];
	size_t			 i;

	for (i = 0; i < nitems(cases); i++) {
		snprintf(text, sizeof(text), "hostname h.example\n"
		    "table t /etc/t\naction a maildir \"%s\" virtual <t>\n"
		    "%s%s%s", cases[i].a, cases[i].b ? "action b maildir \"" :
		    "", cases[i].b ? cases[i].b : "", cases[i].b ?
		    "\" alias <t>\n" : "");
		c = parse(text, CONF_NOFILES, NULL);
		ok(c != NULL, "vmail root case %zu parses", i);
		if (c != NULL)
			is_str(c->vmail_root, cases[i].root, cases[i].a);
		config_free(c);
	}
	c = parse("hostname h.example\naction r relay\n", CONF_NOFILES, NULL);
	ok(c != NULL && strcmp(c->vmail_root, "/var/vmail") == 0,
	    "no maildir action: /var/vmail");
	config_free(c);
}

static void
test_pki_merge(void)
{
	struct maild_conf	*c;
	struct pki		*pki;
	char			*errs;

	c = parse("hostname h.example\n"
	    "pki example.jp cert \"/etc/ssl/c.pem\"\n"
	    "pki example.jp key \"/etc/ssl/private/k.key\"\n"
	    "pki two key /k cert /c\n", CONF_NOFILES, NULL);
	ok(c != NULL, "pki on two lines");
	if (c == NULL)
		return;
	pki = config_pki(c, "example.jp");
	ok(pki != NULL && TAILQ_NEXT(TAILQ_FIRST(&c->pkis), entry) != NULL &&
	    TAILQ_NEXT(TAILQ_NEXT(TAILQ_FIRST(&c->pkis), entry), entry) ==
	    NULL, "merged into one pki each");
	if (pki != NULL) {
		is_str(pki->cert_file, "/etc/ssl/c.pem", "cert file");
		is_str(pki->key_file, "/etc/ssl/private/k.key", "key file");
		ok(pki->cert == NULL && pki->key == NULL,
		    "CONF_NOFILES reads nothing");
	}
	pki = config_pki(c, "two");
	ok(pki != NULL && strcmp(pki->cert_file, "/c") == 0 &&
	    strcmp(pki->key_file, "/k") == 0, "key before cert");
	ok(config_pki(c, "nope") == NULL, "unknown pki");
	config_free(c);

	c = parse("hostname h.example\n\npki a cert /c\npki a cert /d\n",
	    CONF_NOFILES, &errs);
	ok(c == NULL, "cert given twice");
	is_str(errs, "maild: test.conf:4: pki \"a\": cert is already set\n"
	    "maild: test.conf:3: pki \"a\" has no key\n",
	    "messages at the statement and at the first mention");
	free(errs);
}

static void
test_structure(void)
{
	struct maild_conf	*c;
	struct table		*t;
	struct rule		*r;
	struct action		*a;
	struct listener		*l;

	c = parse("hostname h.example\ntable passwd /etc/mail/passwd\n"
	    "table virtuals /etc/mail/virtuals\ntable doms /etc/mail/doms\n"
	    "pki p cert /c key /k\n"
	    "listen on 127.0.0.1 port 993 imaps pki p auth <passwd>\n"
	    "listen on ::1 port 25 tls pki p hostname mx.example "
	    "check { rdns, fcrdns } mask-src\n"
	    "action \"dom\" maildir \"/v/%{dest.domain}/%{dest.user}\" "
	    "virtual <virtuals>\naction out relay\n"
	    "match from any for domain \"EXAMPLE.Org\" action dom\n"
	    "match from any for domain <doms> action dom\n"
	    "match auth from any for any action out\n", CONF_NOFILES, NULL);
	ok(c != NULL, "full configuration");
	if (c == NULL)
		return;
	t = config_table(c, "passwd");
	ok(t != NULL && (t->flags & T_SECRET), "auth table is secret");
	ok(t != NULL && strcmp(t->path, "/etc/mail/passwd") == 0 &&
	    !t->loaded && t->count == 0, "table path, not loaded");
	t = config_table(c, "virtuals");
	ok(t != NULL && !(t->flags & T_SECRET), "other tables are not");
	ok(config_table(c, "nope") == NULL, "unknown table");

	l = TAILQ_FIRST(&c->listeners);
	ok(l->proto == PROTO_IMAP && l->flags == (L_IMAPS | L_AUTH) &&
	    strcmp(l->authtable, "passwd") == 0 && strcmp(l->pki, "p") == 0,
	    "imaps listener");
	l = TAILQ_NEXT(l, entry);
	ok(l->ss.ss_family == AF_INET6 &&
	    l->sslen == sizeof(struct sockaddr_in6) &&
	    ntohs(((struct sockaddr_in6 *)&l->ss)->sin6_port) == 25,
	    "inet6 listener");
	is_int(l->flags, L_TLS | L_CHECK_RDNS | L_CHECK_FCRDNS | L_MASKSRC |
	    L_DNSBL, "listener flags");
	is_str(l->hostname, "mx.example", "listener hostname");

	a = TAILQ_FIRST(&c->actions);
	ok(a->type == A_MAILDIR && a->virtual == config_table(c, "virtuals")
	    && a->alias == NULL && a->userbase == NULL, "maildir action");
	r = TAILQ_FIRST(&c->rules);
	ok(r->for_ == FOR_DOMAIN && strcmp(r->domain, "example.org") == 0 &&
	    r->action == a && !r->auth && r->from == FROM_ANY,
	    "domain lowercased");
	r = TAILQ_NEXT(r, entry);
	ok(r->for_ == FOR_DOMAIN_TABLE && r->domains == config_table(c,
	    "doms"), "domain table");
	r = TAILQ_NEXT(r, entry);
	ok(r->auth && r->for_ == FOR_ANY && r->action->type == A_RELAY,
	    "auth relay rule");
	config_free(c);

	c = parse("hostname h.example\npki p cert /c key /k\n"
	    "listen on 127.0.0.1 port 9999 tls pki p\n"
	    "listen on 127.0.0.1 port 9999\n", CONF_NOFILES, NULL);
	ok(c == NULL, "same address and port twice");
	c = parse("hostname h.example\nlisten on 127.0.0.1 port 25\n"
	    "listen on 127.0.0.1 port 26\nlisten on ::1 port 25\n",
	    CONF_NOFILES, NULL);
	ok(c != NULL, "other ports or addresses are fine");
	config_free(c);
	c = parse("hostname h.example\nlisten on 127.1\n", CONF_NOFILES,
	    NULL);
	ok(c == NULL, "no sloppy IPv4 literals");
}

/* Hostile input: no crash, no success, a bounded number of messages. */
static void
test_hostile(void)
{
	struct maild_conf	*c;
	char			*buf, *errs;
	size_t			 i, j, len;
	unsigned int		 seed = 1;
	int			 lines, off;
	static const char	 alphabet[] = "\"<>{},=!#$\\ \t\nabc%/:*.0";
	static const char	*vocab[] = {
		"listen", "on", "127.0.0.1", "::1", "*", "localhost", "lo",
		"port", "25", "smtps", "imaps", "imap", "tls", "tls-require",
		"pki", "p", "auth", "<t>", "<x>", "mask-src", "check", "{",
		"}", ",", "rdns", "fcrdns", "family", "inet4", "inet6",
		"hostname", "action", "maildir", "relay", "mbox", "virtual",
		"alias", "userbase", "match", "from", "for", "any", "local",
		"domain", "\"Example.org\"", "r", "m", "!", "=", "x", "$x",
		"\"/a/%{dest.domain}\"", "table", "/t2", "file:/t3", "smtp",
		"limit", "max-rcpt", "max-per-ip", "timeout",
		"max-message-size", "queue", "ttl", "retry", "retry-max", "10m",
		"0", "1G", "\\",
		"cert", "key", "/c2", "spool", "socket", "user", "vmail", "#",
		"dnsbl", "dnswl", "bl.test", "weight", "message", "127.0.0.2",
		"127.0.0.2-127.0.0.9", "\"%{ip} %{zone}\"", "yes", "no",
		"dnsbl-threshold",
	};
	char			 line[512], text[1024];

	capture_start();
	c = config_parse_buf("nul.conf", "hostname h.example\n\0x\n", 22,
	    CONF_NOFILES);
	errs = capture_end();
	ok(c == NULL, "NUL byte refused");
	is_str(errs, "maild: nul.conf:2: invalid control character 0x00\n",
	    "NUL byte message");
	free(errs);
	c = parse("hostname h.example", CONF_NOFILES, NULL);
	ok(c != NULL, "no newline at the end of the file");
	config_free(c);

	len = 1024 * 1024 + 1;
	if ((buf = malloc(len + 1)) == NULL)
		abort();
	memset(buf, '\n', len);
	buf[len] = '\0';
	c = parse(buf, CONF_NOFILES, &errs);
	ok(c == NULL && strstr(errs, "file too large") != NULL,
	    "file larger than 1M refused");
	free(errs);
	free(buf);

	if ((buf = malloc(100 * 4 + 1)) == NULL)
		abort();
	for (i = 0; i < 100; i++)
		memcpy(buf + i * 4, "foo\n", 4);
	buf[400] = '\0';
	c = parse(buf, CONF_NOFILES, &errs);
	for (lines = 0, i = 0; errs[i] != '\0'; i++)
		lines += errs[i] == '\n';
	ok(c == NULL && lines == 31 && strstr(errs, "too many errors"),
	    "gives up after 30 errors");
	free(errs);
	free(buf);

	/* The zones and match ranges of the DNS lists are bounded. */
	if ((buf = malloc(17 * 64 + 1)) == NULL)
		abort();
	buf[0] = '\0';
	for (i = 0; i < 17; i++) {
		snprintf(line, sizeof(line), "dnsbl z%zu.test\n", i);
		strlcat(buf, line, 17 * 64 + 1);
	}
	c = parse(buf, CONF_NOFILES, &errs);
	is_str(errs, "maild: test.conf:17: too many dnsbl and dnswl zones "
	    "(at most 16)\n", "17 zones: the 17th refused");
	config_free(c);
	free(errs);
	free(buf);
	off = snprintf(text, sizeof(text), "dnsbl bl.test match");
	for (i = 0; i < 17; i++)
		off += snprintf(text + off, sizeof(text) - off, " 127.0.0.%zu",
		    i);
	c = parse(text, CONF_NOFILES, &errs);
	is_str(errs, "maild: test.conf:1: too many match ranges (at most "
	    "16)\n", "17 match ranges refused");
	config_free(c);
	free(errs);

	/* Random statements from the grammar's own words. */
	for (i = 0; i < 3000; i++) {
		size_t	 n = 0, k;

		for (j = (size_t)(rand_r(&seed) % 12); j > 0; j--) {
			k = (size_t)rand_r(&seed) % nitems(vocab);
			if (n + strlen(vocab[k]) + 2 >= sizeof(line))
				break;
			memcpy(line + n, vocab[k], strlen(vocab[k]));
			n += strlen(vocab[k]);
			line[n++] = rand_r(&seed) % 5 == 0 ? '\n' : ' ';
		}
		line[n] = '\0';
		snprintf(text, sizeof(text), "hostname h.example\n"
		    "table t /t\npki p cert /c key /k\naction r relay\n"
		    "action m maildir \"/v/%%{dest.user}\" virtual <t>\n%s\n",
		    line);
		c = parse(text, CONF_NOFILES, NULL);
		if (c != NULL) {
			free(dump_text(c));
			config_free(c);
		}
	}
	ok(1, "3000 random statements parsed without crashing");

	/* Random bytes, biased to the special characters. */
	if ((buf = malloc(4097)) == NULL)
		abort();
	for (i = 0; i < 2000; i++) {
		len = (size_t)(rand_r(&seed) % 4096);
		for (j = 0; j < len; j++)
			buf[j] = (rand_r(&seed) % 8) == 0 ?
			    (char)(rand_r(&seed) % 256) :
			    alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		capture_start();
		c = config_parse_buf("fuzz", buf, len, CONF_NOFILES);
		free(capture_end());
		config_free(c);
	}
	ok(1, "2000 random inputs parsed without crashing");
	free(buf);
}

/* Certificates and keys are read unless CONF_NOFILES. */
static void
test_files(void)
{
	struct maild_conf	*c;
	struct pki		*pki;
	char			 dir[] = "/tmp/test_config.XXXXXX";
	char			 cert[128], key[128], text[1024];
	char			*errs, want[512];
	static const char	 certpem[] = "-----BEGIN CERTIFICATE-----\n"
	    "MIIB\n-----END CERTIFICATE-----\n";
	static const char	 keypem[] = "-----BEGIN PRIVATE KEY-----\n"
	    "secret\n-----END PRIVATE KEY-----\n";

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	ok(write_all(cert, certpem, 0644) == 0 &&
	    write_all(key, keypem, 0644) == 0, "temporary cert and key");
	snprintf(text, sizeof(text), "hostname h.example\n"
	    "pki p cert \"%s\"\npki p key \"%s\"\n"
	    "listen on 127.0.0.1 port 2525 tls pki p\n", cert, key);

	c = parse(text, 0, &errs);
	ok(c == NULL, "0644 key refused");
	snprintf(want, sizeof(want), "maild: test.conf:2: key file %s is "
	    "readable by others (chmod 600)\n", key);
	is_str(errs, want, "key mode message");
	free(errs);

	ok(chmod(key, 0600) == 0, "chmod 600");
	c = parse(text, 0, &errs);
	ok(c != NULL, "0600 key accepted");
	is_str(errs, "", "no message");
	free(errs);
	if (c != NULL) {
		pki = config_pki(c, "p");
		ok(pki->cert != NULL && pki->cert_len == strlen(certpem) &&
		    strcmp(pki->cert, certpem) == 0, "cert read");
		ok(pki->key != NULL && pki->key_len == strlen(keypem) &&
		    strcmp(pki->key, keypem) == 0, "key read");
		config_purge_keys(c);
		ok(pki->key == NULL && pki->key_len == 0 && pki->cert != NULL,
		    "keys purged, cert kept");
		config_purge_keys(c);
		ok(1, "purging twice is harmless");
		config_free(c);
	}
	ok(chmod(key, 0640) == 0, "chmod 640");
	c = parse(text, 0, NULL);
	ok(c != NULL, "group-readable key accepted (ssl-cert group)");
	config_free(c);

	ok(unlink(cert) == 0, "remove the cert");
	c = parse(text, 0, &errs);
	ok(c == NULL, "missing cert refused");
	snprintf(want, sizeof(want), "maild: test.conf:2: cert file %s: "
	    "No such file or directory\n", cert);
	is_str(errs, want, "missing cert message");
	free(errs);
	c = parse(text, CONF_NOFILES, NULL);
	ok(c != NULL, "missing cert ignored with CONF_NOFILES");
	config_free(c);

	ok(write_all(cert, "", 0644) == 0, "empty cert");
	c = parse(text, 0, &errs);
	ok(c == NULL && strstr(errs, "is empty") != NULL, "empty cert refused");
	free(errs);
	(void)unlink(cert);
	ok(mkdir(cert, 0700) == 0, "a directory as cert");
	c = parse(text, 0, &errs);
	ok(c == NULL && strstr(errs, "not a regular file") != NULL,
	    "directory refused");
	free(errs);
	(void)rmdir(cert);
	(void)unlink(key);
	(void)rmdir(dir);
}

static void
test_parse_file(void)
{
	struct maild_conf	*c;
	char			 dir[] = "/tmp/test_config.XXXXXX";
	char			 path[PATH_MAX], *buf = (char *)1;
	size_t			 len = 99;
	static const char	 text[] = "hostname h.example\n";

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/mail.conf", dir);
	ok(write_all(path, text, 0644) == 0, "write mail.conf");
	capture_start();
	c = config_parse_file(path, CONF_NOFILES, &buf, &len);
	free(capture_end());
	ok(c != NULL, "config_parse_file");
	ok(buf != NULL && strcmp(buf, text) == 0 && len == strlen(text),
	    "the text is returned");
	if (c != NULL)
		is_str(c->path, path, "path");
	config_free(c);
	free(buf);

	ok(chmod(path, 0666) == 0, "chmod 666");
	capture_start();
	c = config_parse_file(path, CONF_NOFILES, &buf, &len);
	free(capture_end());
	ok(c == NULL && buf == NULL && len == 0,
	    "a world-writable file is refused");
	(void)unlink(path);
	capture_start();
	c = config_parse_file(path, CONF_NOFILES, NULL, NULL);
	free(capture_end());
	ok(c == NULL, "missing file");
	(void)rmdir(dir);
}

/* The example shipped in etc/ must always parse. */
static void
test_example(void)
{
	struct maild_conf	*c;
	char			*errs;
	const char		*path;

	if ((path = getenv("MAILD_EXAMPLE_CONF")) == NULL)
		path = "etc/mail.conf";
	capture_start();
	c = config_parse_file(path, CONF_NOFILES, NULL, NULL);
	errs = capture_end();
	ok(c != NULL, "%s parses", path);
	if (c == NULL)
		printf("# %s", errs);
	else {
		ok(config_pki(c, "mail.example.org") != NULL &&
		    !TAILQ_EMPTY(&c->listeners) && !TAILQ_EMPTY(&c->rules),
		    "it has a pki, listeners and rules");
		is_str(c->vmail_root, "/var/vmail", "mailboxes in /var/vmail");
	}
	free(errs);
	config_free(c);
}

int
main(void)
{
	log_init(1, 0);
	log_procname("maild");
	test_golden();
	test_defaults();
	test_macros();
	test_vmail_root();
	test_pki_merge();
	test_structure();
	test_hostile();
	test_files();
	test_parse_file();
	test_example();
	return done_testing();
}
