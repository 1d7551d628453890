/*
 * mailctl user and mailctl alias: edit the passwd table of the listeners
 * (their auth <table>) and the virtual table of the maildir action that
 * delivers a domain, as an administrator would with an editor.  Every
 * line but the one edited, comments included, stays byte for byte; a
 * new line copies the layout of the last entry of the file.
 *
 * An edit never leaves a half-written table: the table is locked (flock
 * on the file itself, checked to still be the file at its path once the
 * lock is held), the new contents are parsed as maild parses them,
 * written to a temporary file beside the table with its owner and mode,
 * fsynced and renamed over it, and the directory is fsynced; then maild
 * is asked to reload.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "expand.h"
#include "mailctl.h"
#include "passwd.h"
#include "quota.h"
#include "table.h"
#include "util.h"

#define TFILE_MAX	(64 * 1024 * 1024)	/* what table.c reads */
#define LOCK_TRIES	10

/* A table file, open and locked, with its contents. */
struct tfile {
	struct table	 t;		/* the parsed contents, for lookups */
	char		 path[PATH_MAX];	/* real path: not a symlink */
	struct stat	 st;
	int		 fd;
	char		*buf;
	size_t		 len;
	char		*nbuf;		/* new contents; NULL: unchanged */
	size_t		 nlen;
};

/* One line of a table file, split as table.c splits it. */
struct tline {
	const char	*s;		/* the line, without its newline */
	size_t		 len;
	int		 crlf;
	char		 key[ADDR_MAX + 1];	/* lowercased; "": no entry */
	size_t		 koff, klen;	/* the key in s */
	size_t		 voff, vlen;	/* the value in s, trimmed */
};

enum edit { EDIT_ADD, EDIT_SET, EDIT_DEL };

static int	 user_state_ok(int, int, const char *, const char *);
static int	 user_set(const char *, const char *, int);
static int	 user_del(const char *);
static int	 user_list(const char *);
static int	 user_quota(const char *);
static void	 print_use(const char *, uint64_t, uint64_t, const char *);
static char	*alias_targets(struct maild_conf *, int, char **,
		    const char *);
static void	 note_unknown_target(struct maild_conf *,
		    const struct action *, const struct tfile *, const char *,
		    const char *);
static int	 alias_add(int, char **);
static int	 alias_del(const char *);
static int	 alias_list(const char *);
static int	 arg_addr(const char *, struct mailaddr *, char *, size_t,
		    int);
static int	 arg_domain(const char *, char *, size_t);
static int	 arg_hash(const char *, char *, size_t);
static int	 new_hash(char *, size_t);
static struct table *passwd_table(struct maild_conf *, int);
static int	 load_domain_tables(struct maild_conf *);
static struct action *domain_action(struct maild_conf *, const char *,
		    int);
static int	 is_mailbox(const char *);
static int	 next_line(const char *, size_t, size_t *, struct tline *);
static int	 tfile_open(struct tfile *, const struct table *, int);
static void	 tfile_close(struct tfile *);
static int	 tfile_same(const struct tfile *, const struct tfile *);
static int	 tfile_edit(struct tfile *, const char *, const char *,
		    enum edit);
static char	*tfile_newline(const struct tfile *, const char *,
		    const char *, const char *, size_t *);
static const char *tfile_listsep(const struct tfile *);
static int	 tfile_commit(struct tfile *);
static void	 note_aliases_of(const struct tfile *, const char *);
static int	 keycmp(const void *, const void *);
static int	 reload(void);

int
mailctl_user(int argc, char **argv)
{
	if (argc >= 3 && argc <= 4 && strcmp(argv[1], "add") == 0)
		return user_set(argv[2], argc == 4 ? argv[3] : NULL, 1);
	if (argc >= 3 && argc <= 4 && strcmp(argv[1], "passwd") == 0)
		return user_set(argv[2], argc == 4 ? argv[3] : NULL, 0);
	if (argc == 3 && strcmp(argv[1], "del") == 0)
		return user_del(argv[2]);
	if (argc >= 2 && argc <= 3 && strcmp(argv[1], "list") == 0)
		return user_list(argc == 3 ? argv[2] : NULL);
	if (argc == 3 && strcmp(argv[1], "quota") == 0)
		return user_quota(argv[2]);
	mailctl_usage();
}

int
mailctl_alias(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "add") == 0)
		return alias_add(argc - 2, argv + 2);
	if (argc == 3 && strcmp(argv[1], "del") == 0)
		return alias_del(argv[2]);
	if (argc >= 2 && argc <= 3 && strcmp(argv[1], "list") == 0)
		return alias_list(argc == 3 ? argv[2] : NULL);
	mailctl_usage();
}

/*
 * An address from the command line as a table key: one maild accepts,
 * lowercased as the tables lowercase keys, without what the table
 * format would read differently (white space, ':', ',', a leading '#')
 * or a quoted local part.  catchall: "@domain" is accepted too.
 */
static int
arg_addr(const char *s, struct mailaddr *a, char *key, size_t keylen,
    int catchall)
{
	const unsigned char	*p;
	int			 ok = s[0] != '#';

	for (p = (const unsigned char *)s; *p != '\0' && ok; p++)
		if (*p <= 0x20 || *p == 0x7f || strchr("\":,\\", *p) != NULL)
			ok = 0;
	memset(a, 0, sizeof(*a));
	if (ok && catchall && s[0] == '@') {
		ok = addr_valid_domain(s + 1, ADDR_ALLOW_UTF8) &&
		    strlcpy(a->domain, s + 1, sizeof(a->domain)) <
		    sizeof(a->domain);
	} else if (ok)
		ok = addr_parse(s, a, ADDR_ALLOW_UTF8) == 0;
	if (ok && a->domain[0] == '[')
		ok = 0;		/* an address literal is no mail domain */
	if (!ok || strlcpy(key, s, keylen) >= keylen) {
		fprintf(stderr, "mailctl: %s: not a valid address "
		    "(user@domain%s)\n", s, catchall ? " or @domain" : "");
		return -1;
	}
	str_lower(key);
	str_lower(a->domain);
	return 0;
}

static int
arg_domain(const char *s, char *domain, size_t len)
{
	if (!addr_valid_domain(s, ADDR_ALLOW_UTF8) || s[0] == '[' ||
	    strlcpy(domain, s, len) >= len) {
		fprintf(stderr, "mailctl: %s: not a valid domain\n", s);
		return -1;
	}
	str_lower(domain);
	return 0;
}

/* A hash given on the command line: one that maild can check. */
static int
arg_hash(const char *s, char *hash, size_t len)
{
	if (passwd_hash_field(s, hash, len) == -1 || strcmp(hash, s) != 0 ||
	    passwd_verify(hash, NULL, 0) == -1) {
		explicit_bzero(hash, len);
		fprintf(stderr, "mailctl: not a password hash maild can check "
		    "(make one with mailctl encrypt)\n");
		return -1;
	}
	return 0;
}

/*
 * The Argon2id hash of a new password: asked twice on a terminal (a
 * typo there would lock the user out), one line of standard input
 * otherwise.
 */
static int
new_hash(char *hash, size_t len)
{
	char	 pw[PASSWD_MAX + 2], again[PASSWD_MAX + 2];
	int	 r = -1;

	if (mailctl_read_password("New password: ", pw, sizeof(pw)) == -1 ||
	    strlen(pw) > PASSWD_MAX)
		fprintf(stderr, "mailctl: cannot read the password\n");
	else if (pw[0] == '\0')
		fprintf(stderr, "mailctl: empty password\n");
	else if (isatty(STDIN_FILENO) &&
	    (mailctl_read_password("Again: ", again, sizeof(again)) == -1 ||
	    strcmp(pw, again) != 0))
		fprintf(stderr, "mailctl: the passwords differ\n");
	else if (passwd_hash_new(pw, strlen(pw), hash, len) == -1)
		fprintf(stderr, "mailctl: cannot make the hash\n");
	else
		r = 0;
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(again, sizeof(again));
	return r;
}

/* The passwd table: the auth <table> of the first listener with one. */
static struct table *
passwd_table(struct maild_conf *conf, int quiet)
{
	struct listener	*l;
	struct table	*t;

	TAILQ_FOREACH(l, &conf->listeners, entry)
		if (l->authtable[0] != '\0' &&
		    (t = config_table(conf, l->authtable)) != NULL)
			return t;
	if (!quiet)
		fprintf(stderr, "mailctl: no listener of %s has auth <table>: "
		    "there is no passwd table\n", conf->path);
	return NULL;
}

/* Rules may name their domains in tables: the rule match needs them. */
static int
load_domain_tables(struct maild_conf *conf)
{
	struct rule	*r;
	char		 err[512];
	int		 fd, rv = 0;

	TAILQ_FOREACH(r, &conf->rules, entry) {
		if (r->for_ != FOR_DOMAIN_TABLE || r->domains == NULL ||
		    r->domains->loaded)
			continue;
		if ((fd = open(r->domains->path, O_RDONLY | O_CLOEXEC)) ==
		    -1) {
			fprintf(stderr, "mailctl: table <%s>: %s: %s\n",
			    r->domains->name, r->domains->path,
			    strerror(errno));
			return -1;
		}
		if ((rv = table_load_fd(r->domains, fd, err,
		    sizeof(err))) == -1)
			fprintf(stderr, "mailctl: %s\n", err);
		close(fd);
		if (rv == -1)
			return -1;
	}
	return 0;
}

/*
 * The maildir action with a virtual table that mail from the Internet
 * to domain goes to: the first matching rule decides, as in maild.
 */
static struct action *
domain_action(struct maild_conf *conf, const char *domain, int quiet)
{
	struct mailaddr	 a;
	struct rule	*r;

	if (load_domain_tables(conf) == -1)
		return NULL;
	memset(&a, 0, sizeof(a));
	(void)strlcpy(a.user, "postmaster", sizeof(a.user));
	(void)strlcpy(a.domain, domain, sizeof(a.domain));
	if ((r = rule_match(conf, &a, 0)) == NULL ||
	    r->action->type != A_MAILDIR) {
		if (!quiet)
			fprintf(stderr, "mailctl: %s does not deliver mail for "
			    "%s: no \"match from any for domain %s\" rule "
			    "with a maildir action\n", conf->path, domain,
			    domain);
		return NULL;
	}
	if (r->action->virtual == NULL) {
		if (!quiet)
			fprintf(stderr, "mailctl: action \"%s\" (line %d of "
			    "%s), which delivers %s, has no virtual "
			    "<table>\n", r->action->name, r->action->line,
			    conf->path, domain);
		return NULL;
	}
	return r->action;
}

/*
 * A virtual value naming the owner of the address ("vmail"), not
 * addresses to send the mail on to: maild keeps mail for an entry
 * without '@' in its own Maildir.
 */
static int
is_mailbox(const char *value)
{
	return value[0] != '\0' && strchr(value, '@') == NULL;
}

/*
 * The line at *pos of buf (len bytes), split as table.c splits it; *pos
 * moves to the next line.  0 at the end of buf, else 1.
 */
static int
next_line(const char *buf, size_t len, size_t *pos, struct tline *l)
{
	const char	*s, *nl;
	size_t		 n, e, i;

	if (*pos >= len)
		return 0;
	s = buf + *pos;
	if ((nl = memchr(s, '\n', len - *pos)) == NULL) {
		n = len - *pos;
		*pos = len;
	} else {
		n = nl - s;
		*pos += n + 1;
	}
	memset(l, 0, sizeof(*l));
	l->s = s;
	l->len = n;
	if (n > 0 && s[n - 1] == '\r') {
		l->crlf = 1;
		n--;
	}
	for (i = 0; i < n && (s[i] == ' ' || s[i] == '\t'); i++)
		;
	for (e = n; e > i && (s[e - 1] == ' ' || s[e - 1] == '\t'); e--)
		;
	if (i == e || s[i] == '#')
		return 1;
	l->koff = i;
	while (i < e && s[i] != ' ' && s[i] != '\t' && s[i] != ':')
		i++;
	l->klen = i - l->koff;
	while (i < e && (s[i] == ' ' || s[i] == '\t' || s[i] == ':'))
		i++;
	l->voff = i;
	l->vlen = e - i;
	/* table.c refused the file if a key were longer. */
	if (l->klen >= sizeof(l->key))
		l->klen = sizeof(l->key) - 1;
	memcpy(l->key, s + l->koff, l->klen);
	l->key[l->klen] = '\0';
	str_lower(l->key);
	return 1;
}

/*
 * Open, lock (flock op) and read the table file of ct, and parse it:
 * a table maild would refuse is not edited.  0, or -1 with the reason
 * printed.
 */
static int
tfile_open(struct tfile *tf, const struct table *ct, int op)
{
	struct stat	 st;
	char		 err[512];
	ssize_t		 n;
	int		 i;

	memset(tf, 0, sizeof(*tf));
	tf->fd = -1;
	(void)strlcpy(tf->t.name, ct->name, sizeof(tf->t.name));
	(void)strlcpy(tf->t.path, ct->path, sizeof(tf->t.path));
	tf->t.flags = ct->flags;
	/* A symlinked table: the file it points to is edited, not the link. */
	if (realpath(ct->path, tf->path) == NULL) {
		fprintf(stderr, "mailctl: table <%s>: %s: %s\n", ct->name,
		    ct->path, strerror(errno));
		return -1;
	}
	for (i = 0; ; i++) {
		if ((tf->fd = open(tf->path, O_RDONLY | O_CLOEXEC |
		    O_NOFOLLOW)) == -1 || flock(tf->fd, op) == -1 ||
		    fstat(tf->fd, &tf->st) == -1 || stat(tf->path, &st) == -1) {
			fprintf(stderr, "mailctl: %s: %s\n", tf->path,
			    strerror(errno));
			return -1;
		}
		if (st.st_dev == tf->st.st_dev && st.st_ino == tf->st.st_ino)
			break;
		/* Replaced while we waited for the lock: lock the new one. */
		close(tf->fd);
		tf->fd = -1;
		if (i == LOCK_TRIES) {
			fprintf(stderr, "mailctl: %s keeps being replaced\n",
			    tf->path);
			return -1;
		}
	}
	if (table_check_mode(&tf->t, tf->fd, err, sizeof(err)) == -1) {
		fprintf(stderr, "mailctl: %s\n", err);
		return -1;
	}
	if (tf->st.st_size > TFILE_MAX) {
		fprintf(stderr, "mailctl: %s: file too large\n", tf->path);
		return -1;
	}
	/* One allocation of the size it has: no realloc leaving secrets. */
	if ((tf->buf = malloc(tf->st.st_size + 1)) == NULL)
		fatal("malloc");
	while (tf->len <= (size_t)tf->st.st_size) {
		n = read(tf->fd, tf->buf + tf->len, tf->st.st_size + 1 -
		    tf->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fprintf(stderr, "mailctl: %s: read: %s\n", tf->path,
			    strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		tf->len += n;
	}
	if (tf->len != (size_t)tf->st.st_size) {
		fprintf(stderr, "mailctl: %s changed while it was read\n",
		    tf->path);
		return -1;
	}
	if (table_load_buf(&tf->t, tf->buf, tf->len, err, sizeof(err)) ==
	    -1) {
		fprintf(stderr, "mailctl: %s (fix the table first)\n", err);
		return -1;
	}
	return 0;
}

static void
tfile_close(struct tfile *tf)
{
	int	 secret = tf->t.flags & T_SECRET;

	if (tf->buf != NULL && secret)
		explicit_bzero(tf->buf, tf->len);
	if (tf->nbuf != NULL && secret)
		explicit_bzero(tf->nbuf, tf->nlen);
	free(tf->buf);
	free(tf->nbuf);
	tf->buf = tf->nbuf = NULL;
	table_clear(&tf->t);
	if (tf->fd != -1)
		close(tf->fd);	/* and the lock goes */
	tf->fd = -1;
}

static int
tfile_same(const struct tfile *a, const struct tfile *b)
{
	return a->st.st_dev == b->st.st_dev && a->st.st_ino == b->st.st_ino;
}

/*
 * ", " or ",": how the file separates the addresses of a list, as the
 * first list in it does.
 */
static const char *
tfile_listsep(const struct tfile *tf)
{
	struct tline	 l;
	const char	*c;
	size_t		 pos = 0;

	while (next_line(tf->buf, tf->len, &pos, &l))
		if (l.key[0] != '\0' && (c = memchr(l.s + l.voff, ',',
		    l.vlen)) != NULL)
			return c + 1 < l.s + l.voff + l.vlen && c[1] != ' ' &&
			    c[1] != '\t' ? "," : ", ";
	return ", ";
}

/*
 * A new line "key value" laid out as the last entry of the file: its
 * indentation, its separator if it has a ':', else blanks of its kind
 * up to the column of its value (at least one), its line end.  A file
 * without entries gets defsep.  Its length in *lenp.
 */
static char *
tfile_newline(const struct tfile *tf, const char *key, const char *value,
    const char *defsep, size_t *lenp)
{
	struct tline	 l, last;
	const char	*sep;
	char		*s;
	size_t		 pos = 0, size, o = 0, col, vcol = 0, i, seplen;
	int		 have = 0, tabs = 0;

	memset(&last, 0, sizeof(last));
	while (next_line(tf->buf, tf->len, &pos, &l))
		if (l.key[0] != '\0') {
			last = l;
			have = 1;
		}
	if (have) {
		sep = last.s + last.koff + last.klen;
		seplen = last.voff - last.koff - last.klen;
		for (i = 0; i < last.voff; i++)
			vcol = last.s[i] == '\t' ? (vcol / 8 + 1) * 8 :
			    vcol + 1;
		tabs = memchr(sep, '\t', seplen) != NULL;
	} else {
		sep = defsep;
		seplen = strlen(defsep);
	}
	size = 1 + (have ? last.koff : 0) + strlen(key) + seplen + vcol +
	    strlen(value) + 3;
	if ((s = malloc(size)) == NULL)
		fatal("malloc");
	if (tf->len > 0 && tf->buf[tf->len - 1] != '\n')
		s[o++] = '\n';
	if (have) {
		memcpy(s + o, last.s, last.koff);
		o += last.koff;
	}
	col = 0;
	if (have)
		for (i = 0; i < last.koff; i++)
			col = last.s[i] == '\t' ? (col / 8 + 1) * 8 : col + 1;
	memcpy(s + o, key, strlen(key));
	o += strlen(key);
	col += strlen(key);
	if (!have || memchr(sep, ':', seplen) != NULL) {
		memcpy(s + o, sep, seplen);
		o += seplen;
	} else {
		do {
			s[o++] = tabs ? '\t' : ' ';
			col = tabs ? (col / 8 + 1) * 8 : col + 1;
		} while (col < vcol && o + strlen(value) + 3 < size);
	}
	memcpy(s + o, value, strlen(value));
	o += strlen(value);
	if (have && last.crlf)
		s[o++] = '\r';
	s[o++] = '\n';
	*lenp = o;
	return s;
}

/*
 * The new contents of tf: the line of key deleted, its value replaced
 * (EDIT_SET; the line keeps its key, separator and trailing blanks), or
 * a line "key value" added at the end.  The result is parsed as maild
 * will parse it.  0, or -1 with the reason printed.
 */
static int
tfile_edit(struct tfile *tf, const char *key, const char *value,
    enum edit op)
{
	struct table	 check;
	struct tline	 l;
	const char	*src = tf->nbuf != NULL ? tf->nbuf : tf->buf, *defsep;
	char		*out, *add = NULL, err[512];
	size_t		 srclen = tf->nbuf != NULL ? tf->nlen : tf->len;
	size_t		 pos = 0, start, o = 0, addlen = 0, size;
	int		 found = 0;

	/* passwd: "user@domain:hash", as OpenSMTPD and Dovecot write it. */
	defsep = (tf->t.flags & T_SECRET) ? ":" : " ";
	if (op == EDIT_ADD)
		add = tfile_newline(tf, key, value, defsep, &addlen);
	size = srclen + addlen + (value != NULL ? strlen(value) : 0) + 2;
	if ((out = malloc(size)) == NULL)
		fatal("malloc");
	for (;;) {
		start = pos;
		if (!next_line(src, srclen, &pos, &l))
			break;
		if (l.key[0] == '\0' || strcmp(l.key, key) != 0) {
			memcpy(out + o, src + start, pos - start);
			o += pos - start;
			continue;
		}
		found = 1;
		if (op == EDIT_SET) {
			memcpy(out + o, src + start, l.voff);
			o += l.voff;
			/* A key without a value had no separator either. */
			if (l.voff == l.koff + l.klen)
				out[o++] = defsep[0];
			memcpy(out + o, value, strlen(value));
			o += strlen(value);
			memcpy(out + o, l.s + l.voff + l.vlen,
			    pos - start - l.voff - l.vlen);
			o += pos - start - l.voff - l.vlen;
		}
	}
	if (add != NULL) {
		memcpy(out + o, add, addlen);
		o += addlen;
		if (tf->t.flags & T_SECRET)
			explicit_bzero(add, addlen);
		free(add);
	}
	memset(&check, 0, sizeof(check));
	(void)strlcpy(check.name, tf->t.name, sizeof(check.name));
	(void)strlcpy(check.path, tf->t.path, sizeof(check.path));
	check.flags = tf->t.flags;
	if ((op != EDIT_ADD && !found) || table_load_buf(&check, out, o, err,
	    sizeof(err)) == -1) {
		/* A bug here, not a bad input: arguments were checked. */
		fprintf(stderr, "mailctl: %s: the edit would break the table: "
		    "%s\n", tf->path, found || op == EDIT_ADD ? err :
		    "no such key");
		table_clear(&check);
		if (tf->t.flags & T_SECRET)
			explicit_bzero(out, o);
		free(out);
		return -1;
	}
	table_clear(&check);
	if (tf->nbuf != NULL && (tf->t.flags & T_SECRET))
		explicit_bzero(tf->nbuf, tf->nlen);
	free(tf->nbuf);
	tf->nbuf = out;
	tf->nlen = o;
	return 0;
}

/*
 * Replace the table file with its new contents: a temporary file in the
 * same directory with the owner, group and mode of the table, fsynced,
 * renamed over it, then the directory fsynced.  Signals wait until it
 * is done, so ^C never leaves the temporary file behind.
 */
static int
tfile_commit(struct tfile *tf)
{
	sigset_t	 set, old;
	char		 tmp[PATH_MAX], dir[PATH_MAX], *slash;
	int		 fd, dfd, rv = -1;

	if (tf->nbuf == NULL)
		return 0;
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", tf->path) >=
	    (int)sizeof(tmp)) {
		fprintf(stderr, "mailctl: %s: path too long\n", tf->path);
		return -1;
	}
	(void)strlcpy(dir, tf->path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) != NULL)
		slash[slash == dir ? 1 : 0] = '\0';
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGTSTP);
	sigprocmask(SIG_BLOCK, &set, &old);
	if ((fd = mkstemp(tmp)) == -1) {
		fprintf(stderr, "mailctl: %s: %s\n", tmp, strerror(errno));
		goto done;
	}
	if (fchown(fd, tf->st.st_uid, tf->st.st_gid) == -1 ||
	    fchmod(fd, tf->st.st_mode & 07777) == -1 ||
	    write_full(fd, tf->nbuf, tf->nlen) == -1 || fsync(fd) == -1) {
		fprintf(stderr, "mailctl: %s: %s\n", tmp, strerror(errno));
		close(fd);
		(void)unlink(tmp);
		goto done;
	}
	if (close(fd) == -1 || rename(tmp, tf->path) == -1) {
		fprintf(stderr, "mailctl: %s: %s\n", tmp, strerror(errno));
		(void)unlink(tmp);
		goto done;
	}
	rv = 0;
	/* The rename is done: a failed fsync leaves it, maybe not durable. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) == -1)
		fprintf(stderr, "mailctl: warning: %s: fsync: %s\n", dir,
		    strerror(errno));
	if (dfd != -1)
		close(dfd);
 done:
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rv;
}

/* Tell about the aliases that still send mail to addr. */
static void
note_aliases_of(const struct tfile *tf, const char *addr)
{
	struct tline	 l;
	const char	*p, *e, *end;
	size_t		 pos = 0, n;

	while (next_line(tf->nbuf != NULL ? tf->nbuf : tf->buf,
	    tf->nbuf != NULL ? tf->nlen : tf->len, &pos, &l)) {
		if (l.key[0] == '\0')
			continue;
		end = l.s + l.voff + l.vlen;
		for (p = l.s + l.voff; p < end; p = e + 1) {
			if ((e = memchr(p, ',', end - p)) == NULL)
				e = end;
			while (p < e && (*p == ' ' || *p == '\t'))
				p++;
			for (n = e - p; n > 0 && (p[n - 1] == ' ' ||
			    p[n - 1] == '\t'); n--)
				;
			if (n == strlen(addr) && strncasecmp(p, addr, n) == 0) {
				fprintf(stderr, "mailctl: note: %s still "
				    "sends mail to %s (mailctl alias del "
				    "%s)\n", l.key, addr, l.key);
				break;
			}
		}
	}
}

/*
 * After an edit: maild reloads its tables.  Not running is no failure:
 * it reads them when it starts.
 */
static int
reload(void)
{
	switch (mailctl_request("reload", 1)) {
	case MAILCTL_OK:
		return MAILCTL_OK;
	case MAILCTL_DOWN:
		fprintf(stderr, "mailctl: note: maild is not running; the "
		    "change applies when it starts\n");
		return MAILCTL_OK;
	default:
		fprintf(stderr, "mailctl: the table is changed, but maild "
		    "did not reload it\n");
		return MAILCTL_FAIL;
	}
}

/*
 * mailctl user add|passwd user@domain [hash]: a new user (passwd line
 * and, unless it is there, the "user@domain vmail" line of the virtual
 * table of its domain), or a new hash for one.
 */
/* add wants no such user yet, passwd and del want one. */
static int
user_state_ok(int add, int found, const char *key, const char *path)
{
	if (add && found == 1) {
		fprintf(stderr, "mailctl: %s already exists in %s\n", key,
		    path);
		return -1;
	}
	if (!add && found != 1) {
		fprintf(stderr, "mailctl: no user %s in %s\n", key, path);
		return -1;
	}
	return 0;
}

static int
user_set(const char *arg, const char *harg, int add)
{
	struct maild_conf	*conf = mailctl_conf();
	struct mailaddr		 addr;
	struct table		*pt;
	struct action		*a = NULL;
	struct tfile		 pf, vf;
	const char		*val, *rest;
	char			 key[ADDR_MAX + 1], hash[PASSWD_HASH_MAX];
	char			 maildir[PATH_MAX], *nval = NULL;
	size_t			 len;
	int			 f, r = MAILCTL_FAIL;

	memset(&pf, 0, sizeof(pf));
	memset(&vf, 0, sizeof(vf));
	pf.fd = vf.fd = -1;
	hash[0] = '\0';
	if (arg_addr(arg, &addr, key, sizeof(key), 0) == -1 ||
	    (pt = passwd_table(conf, 0)) == NULL)
		return MAILCTL_FAIL;
	if (add) {
		if ((a = domain_action(conf, addr.domain, 0)) == NULL)
			return MAILCTL_FAIL;
		if (maildir_pattern(a->pattern, &addr, maildir,
		    sizeof(maildir)) == -1) {
			fprintf(stderr, "mailctl: %s: not usable in a Maildir "
			    "path\n", arg);
			return MAILCTL_FAIL;
		}
	}
	/* Before asking for a password: is the answer going to be used? */
	if (tfile_open(&pf, pt, LOCK_SH) == -1)
		goto done;
	f = table_lookup(&pf.t, key, NULL);
	tfile_close(&pf);
	if (user_state_ok(add, f, key, pt->path) == -1)
		goto done;
	if (harg != NULL ? arg_hash(harg, hash, sizeof(hash)) == -1 :
	    new_hash(hash, sizeof(hash)) == -1)
		goto done;

	/* Always the passwd table first: two mailctl never deadlock. */
	if (tfile_open(&pf, pt, LOCK_EX) == -1 ||
	    (add && tfile_open(&vf, a->virtual, LOCK_EX) == -1))
		goto done;
	if (add && tfile_same(&pf, &vf)) {
		fprintf(stderr, "mailctl: %s is both the passwd and the "
		    "virtual table\n", pf.path);
		goto done;
	}
	f = table_lookup(&pf.t, key, &val);
	if (user_state_ok(add, f, key, pt->path) == -1)
		goto done;
	if (add) {
		if (table_lookup(&vf.t, key, &val) == 1) {
			if (!is_mailbox(val)) {
				fprintf(stderr, "mailctl: %s is an alias in %s "
				    "(remove it first: mailctl alias del "
				    "%s)\n", key, vf.t.path, key);
				goto done;
			}
		} else if (tfile_edit(&vf, key, conf->vmail_user,
		    EDIT_ADD) == -1)
			goto done;
		if (tfile_edit(&pf, key, hash, EDIT_ADD) == -1)
			goto done;
	} else {
		/* Dovecot's fields after the hash (":uid:gid:...") stay. */
		if ((rest = strchr(val, ':')) == NULL)
			rest = "";
		len = strlen(hash) + strlen(rest) + 1;
		if ((nval = malloc(len)) == NULL)
			fatal("malloc");
		(void)snprintf(nval, len, "%s%s", hash, rest);
		if (tfile_edit(&pf, key, nval, EDIT_SET) == -1)
			goto done;
	}
	/* The mailbox first: a user who can log in can receive mail. */
	if (tfile_commit(&vf) == -1 || tfile_commit(&pf) == -1)
		goto done;
	tfile_close(&vf);
	tfile_close(&pf);
	r = reload();
 done:
	explicit_bzero(hash, sizeof(hash));
	if (nval != NULL) {
		explicit_bzero(nval, strlen(nval));
		free(nval);
	}
	tfile_close(&vf);
	tfile_close(&pf);
	return r;
}

/*
 * mailctl user del user@domain: its passwd line and its "user@domain
 * vmail" virtual line go; its Maildir stays, for the admin to keep or
 * remove.
 */
static int
user_del(const char *arg)
{
	struct maild_conf	*conf = mailctl_conf();
	struct mailaddr		 addr;
	struct table		*pt;
	struct action		*a;
	struct tfile		 pf, vf;
	const char		*val;
	char			 key[ADDR_MAX + 1], maildir[PATH_MAX];
	int			 r = MAILCTL_FAIL;

	memset(&vf, 0, sizeof(vf));
	vf.fd = -1;
	if (arg_addr(arg, &addr, key, sizeof(key), 0) == -1 ||
	    (pt = passwd_table(conf, 0)) == NULL)
		return MAILCTL_FAIL;
	/* A domain no longer delivered has no virtual line to remove. */
	a = domain_action(conf, addr.domain, 1);
	if (tfile_open(&pf, pt, LOCK_EX) == -1 ||
	    (a != NULL && tfile_open(&vf, a->virtual, LOCK_EX) == -1))
		goto done;
	if (a != NULL && tfile_same(&pf, &vf)) {
		fprintf(stderr, "mailctl: %s is both the passwd and the "
		    "virtual table\n", pf.path);
		goto done;
	}
	if (table_lookup(&pf.t, key, NULL) != 1) {
		fprintf(stderr, "mailctl: no user %s in %s\n", key, pt->path);
		goto done;
	}
	if (tfile_edit(&pf, key, NULL, EDIT_DEL) == -1)
		goto done;
	if (a != NULL && table_lookup(&vf.t, key, &val) == 1 &&
	    is_mailbox(val) && tfile_edit(&vf, key, NULL, EDIT_DEL) == -1)
		goto done;
	/* No login first: mail is refused once nobody can read it. */
	if (tfile_commit(&pf) == -1 || tfile_commit(&vf) == -1)
		goto done;
	if (a != NULL) {
		note_aliases_of(&vf, key);
		if (maildir_pattern(a->pattern, &addr, maildir,
		    sizeof(maildir)) == 0)
			fprintf(stderr, "mailctl: note: the mail of %s is "
			    "kept in %s\n", key, maildir);
	}
	tfile_close(&vf);
	tfile_close(&pf);
	r = reload();
 done:
	tfile_close(&vf);
	tfile_close(&pf);
	return r;
}

static void
print_use(const char *what, uint64_t used, uint64_t limit, const char *unit)
{
	if (limit == 0)
		printf("%s: %llu%s, no limit\n", what, (unsigned long long)used,
		    unit);
	else
		printf("%s: %llu%s of %llu (%.0f%%)\n", what,
		    (unsigned long long)used, unit, (unsigned long long)limit,
		    (double)used * 100 / (double)limit);
}

/*
 * mailctl user quota user@domain: the limits and the usage of the
 * Maildir of a user (the domain's maildir action), from its
 * maildirsize if that is up to date, else counted; nothing is written
 * there (the files are the vmail user's).
 */
static int
user_quota(const char *arg)
{
	struct maild_conf	*conf = mailctl_conf();
	struct quota_limits	 lim;
	struct quota_usage	 use;
	struct mailaddr		 addr;
	struct table		*qt = conf->quota_table;
	struct action		*a;
	const char		*rel;
	char			 key[ADDR_MAX + 1], maildir[PATH_MAX];
	char			 err[512];
	int			 scanned, fd;

	if (arg_addr(arg, &addr, key, sizeof(key), 0) == -1 ||
	    (a = domain_action(conf, addr.domain, 0)) == NULL)
		return MAILCTL_FAIL;
	if (maildir_pattern(a->pattern, &addr, maildir,
	    sizeof(maildir)) == -1 ||
	    (rel = path_inside(conf->vmail_root, maildir)) == NULL) {
		fprintf(stderr, "mailctl: %s: not usable in a Maildir "
		    "location\n", key);
		return MAILCTL_FAIL;
	}
	if (qt != NULL && (fd = table_open(qt, err, sizeof(err))) != -1) {
		if (table_load_fd(qt, fd, err, sizeof(err)) == -1)
			fprintf(stderr, "mailctl: %s\n", err);
		close(fd);
	} else if (qt != NULL)
		fprintf(stderr, "mailctl: table <%s>: %s\n", qt->name, err);
	if (quota_user_limits(conf, key, &lim, err, sizeof(err)) == -1)
		fprintf(stderr, "mailctl: %s\n", err);
	if (chdir(conf->vmail_root) == -1) {
		fprintf(stderr, "mailctl: %s: %s\n", conf->vmail_root,
		    strerror(errno));
		return MAILCTL_FAIL;
	}
	if (quota_peek(rel, &lim, &use, &scanned, err, sizeof(err)) == -1) {
		fprintf(stderr, "mailctl: %s\n", err);
		return MAILCTL_FAIL;
	}
	printf("%s: %s%s\n", key, maildir, conf->quota ? "" :
	    " (no quota statement: no limits)");
	print_use("storage", use.bytes, lim.storage, " bytes");
	print_use("messages", use.count, lim.messages, "");
	if (scanned)
		printf("counted: %s was missing or out of date\n",
		    QUOTA_FILE);
	return MAILCTL_OK;
}

static int
keycmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* mailctl user list [domain]: the keys of the passwd table, sorted. */
static int
user_list(const char *darg)
{
	struct table	*pt;
	struct tfile	 pf;
	struct tline	 l;
	const char	*at;
	char		 domain[DOMAIN_MAX + 1], **keys = NULL;
	size_t		 pos = 0, n = 0, i;

	if (darg != NULL && arg_domain(darg, domain, sizeof(domain)) == -1)
		return MAILCTL_FAIL;
	if ((pt = passwd_table(mailctl_conf(), 0)) == NULL)
		return MAILCTL_FAIL;
	if (tfile_open(&pf, pt, LOCK_SH) == -1) {
		tfile_close(&pf);
		return MAILCTL_FAIL;
	}
	if ((keys = calloc(pf.t.count + 1, sizeof(*keys))) == NULL)
		fatal("calloc");
	while (next_line(pf.buf, pf.len, &pos, &l) && n < pf.t.count) {
		if (l.key[0] == '\0')
			continue;
		if (darg != NULL && ((at = strrchr(l.key, '@')) == NULL ||
		    strcmp(at + 1, domain) != 0))
			continue;
		if ((keys[n++] = strdup(l.key)) == NULL)
			fatal("strdup");
	}
	tfile_close(&pf);
	qsort(keys, n, sizeof(*keys), keycmp);
	for (i = 0; i < n; i++) {
		printf("%s\n", keys[i]);
		free(keys[i]);
	}
	free(keys);
	return MAILCTL_OK;
}

/*
 * The targets of an alias from the arguments (each a list separated by
 * ','), checked, without duplicates, joined with sep.  NULL after an
 * error, printed.
 */
static char *
alias_targets(struct maild_conf *conf, int argc, char **argv,
    const char *sep)
{
	struct mailaddr	 t;
	const char	*p, *e;
	char		*targets[MAX_EXPAND_DEST], *value = NULL;
	char		 item[ADDR_MAX + 1], tkey[ADDR_MAX + 1];
	size_t		 n, len, nt = 0, i, vsize = 1;
	int		 j, dup;

	for (j = 0; j < argc; j++) {
		for (p = argv[j]; ; p = e + 1) {
			if ((e = strchr(p, ',')) == NULL)
				e = p + strlen(p);
			while (p < e && (*p == ' ' || *p == '\t'))
				p++;
			for (n = e - p; n > 0 && (p[n - 1] == ' ' ||
			    p[n - 1] == '\t'); n--)
				;
			if (n >= sizeof(item)) {
				fprintf(stderr, "mailctl: %.32s...: address "
				    "too long\n", p);
				goto done;
			}
			memcpy(item, p, n);
			item[n] = '\0';
			if (n > 0 && arg_addr(item, &t, tkey, sizeof(tkey),
			    0) == -1)
				goto done;
			for (i = 0, dup = 0; n > 0 && i < nt; i++)
				if (strcasecmp(targets[i], item) == 0)
					dup = 1;
			if (n > 0 && !dup) {
				/* Where expansion would send it: a rule. */
				if (rule_match(conf, &t, EXP_FROM_LOCAL |
				    EXP_AUTH) == NULL) {
					fprintf(stderr, "mailctl: %s: no rule "
					    "of %s takes mail for %s\n", item,
					    conf->path, t.domain);
					goto done;
				}
				if (nt == nitems(targets)) {
					fprintf(stderr, "mailctl: more than "
					    "%zu targets\n", nitems(targets));
					goto done;
				}
				if ((targets[nt++] = strdup(item)) == NULL)
					fatal("strdup");
				vsize += n + strlen(sep);
			}
			if (*e == '\0')
				break;
		}
	}
	if (nt == 0) {
		fprintf(stderr, "mailctl: no target address\n");
		goto done;
	}
	if ((value = calloc(1, vsize)) == NULL)
		fatal("calloc");
	for (i = 0, len = 0; i < nt; i++)
		len += snprintf(value + len, vsize - len, "%s%s",
		    i > 0 ? sep : "", targets[i]);
 done:
	for (i = 0; i < nt; i++)
		free(targets[i]);
	return value;
}

/*
 * A target of an alias whose domain the same virtual table serves, but
 * which has no entry there, would bounce: say so.
 */
static void
note_unknown_target(struct maild_conf *conf, const struct action *a,
    const struct tfile *vf, const char *key, const char *target)
{
	struct mailaddr	 t;
	struct action	*ta;
	char		 tkey[ADDR_MAX + 1], wild[DOMAIN_MAX + 2];

	if (strlcpy(tkey, target, sizeof(tkey)) >= sizeof(tkey) ||
	    addr_parse(target, &t, ADDR_ALLOW_UTF8) == -1)
		return;
	str_lower(tkey);
	str_lower(t.domain);
	(void)snprintf(wild, sizeof(wild), "@%s", t.domain);
	if ((ta = domain_action(conf, t.domain, 1)) == NULL ||
	    ta->virtual != a->virtual || strcmp(tkey, key) == 0 ||
	    table_lookup(&vf->t, tkey, NULL) == 1 ||
	    table_lookup(&vf->t, wild, NULL) == 1)
		return;
	fprintf(stderr, "mailctl: note: %s has no entry in %s: mail to it "
	    "is refused\n", tkey, vf->t.path);
}

/*
 * mailctl alias add alias@domain target[,target ...] ...: a virtual line
 * sending the mail of alias@domain (or of a whole domain, @domain) on
 * to the targets.
 */
static int
alias_add(int argc, char **argv)
{
	struct maild_conf	*conf = mailctl_conf();
	struct mailaddr		 addr;
	struct table		*pt;
	struct action		*a;
	struct tfile		 pf, vf;
	const char		*p, *e;
	char			 key[ADDR_MAX + 1], item[ADDR_MAX + 1];
	char			*value = NULL;
	int			 r = MAILCTL_FAIL;

	memset(&pf, 0, sizeof(pf));
	memset(&vf, 0, sizeof(vf));
	pf.fd = vf.fd = -1;
	if (arg_addr(argv[0], &addr, key, sizeof(key), 1) == -1 ||
	    (a = domain_action(conf, addr.domain, 0)) == NULL)
		return MAILCTL_FAIL;
	/* An address that is a user's login stays that user's. */
	if ((pt = passwd_table(conf, 1)) != NULL) {
		if (tfile_open(&pf, pt, LOCK_SH) == -1)
			goto done;
		if (table_lookup(&pf.t, key, NULL) == 1) {
			fprintf(stderr, "mailctl: %s is a user (mailctl user "
			    "del %s first)\n", key, key);
			goto done;
		}
	}
	if (tfile_open(&vf, a->virtual, LOCK_EX) == -1)
		goto done;
	if (table_lookup(&vf.t, key, NULL) == 1) {
		fprintf(stderr, "mailctl: %s already exists in %s\n", key,
		    vf.t.path);
		goto done;
	}
	if ((value = alias_targets(conf, argc - 1, argv + 1,
	    tfile_listsep(&vf))) == NULL ||
	    tfile_edit(&vf, key, value, EDIT_ADD) == -1 ||
	    tfile_commit(&vf) == -1)
		goto done;
	for (p = value; ; p = e + 1) {
		if ((e = strchr(p, ',')) == NULL)
			e = p + strlen(p);
		while (*p == ' ')
			p++;
		(void)snprintf(item, sizeof(item), "%.*s", (int)(e - p), p);
		note_unknown_target(conf, a, &vf, key, item);
		if (*e == '\0')
			break;
	}
	tfile_close(&vf);
	tfile_close(&pf);
	r = reload();
 done:
	free(value);
	tfile_close(&vf);
	tfile_close(&pf);
	return r;
}

/* mailctl alias del alias@domain: its virtual line goes. */
static int
alias_del(const char *arg)
{
	struct mailaddr	 addr;
	struct action	*a;
	struct tfile	 vf;
	const char	*val;
	char		 key[ADDR_MAX + 1];
	int		 r = MAILCTL_FAIL;

	if (arg_addr(arg, &addr, key, sizeof(key), 1) == -1 ||
	    (a = domain_action(mailctl_conf(), addr.domain, 0)) == NULL)
		return MAILCTL_FAIL;
	if (tfile_open(&vf, a->virtual, LOCK_EX) == -1)
		goto done;
	if (table_lookup(&vf.t, key, &val) != 1) {
		fprintf(stderr, "mailctl: no alias %s in %s\n", key,
		    vf.t.path);
		goto done;
	}
	if (is_mailbox(val)) {
		fprintf(stderr, "mailctl: %s is a mailbox, not an alias "
		    "(mailctl user del %s)\n", key, key);
		goto done;
	}
	if (tfile_edit(&vf, key, NULL, EDIT_DEL) == -1 ||
	    tfile_commit(&vf) == -1)
		goto done;
	tfile_close(&vf);
	r = reload();
 done:
	tfile_close(&vf);
	return r;
}

/*
 * mailctl alias list [domain]: "alias@domain target,target" lines,
 * sorted, from the virtual table of the domain or of every maildir
 * action.
 */
static int
alias_list(const char *darg)
{
	struct maild_conf	*conf = mailctl_conf();
	struct action		*a, *b;
	struct tfile		 vf;
	struct tline		 l;
	const char		*at, *p, *e, *end;
	char			 domain[DOMAIN_MAX + 1], **lines = NULL, *s;
	size_t			 pos, n = 0, cap = 0, i, o, len;
	int			 r = MAILCTL_FAIL;

	if (darg != NULL && (arg_domain(darg, domain, sizeof(domain)) == -1 ||
	    domain_action(conf, domain, 0) == NULL))
		return MAILCTL_FAIL;
	TAILQ_FOREACH(a, &conf->actions, entry) {
		if (a->type != A_MAILDIR || a->virtual == NULL ||
		    (darg != NULL && a != domain_action(conf, domain, 1)))
			continue;
		/* Each table once, even when several actions share it. */
		TAILQ_FOREACH(b, &conf->actions, entry)
			if (b == a || (b->type == A_MAILDIR &&
			    b->virtual == a->virtual))
				break;
		if (b != a)
			continue;
		if (tfile_open(&vf, a->virtual, LOCK_SH) == -1) {
			tfile_close(&vf);
			goto done;
		}
		for (pos = 0; next_line(vf.buf, vf.len, &pos, &l); ) {
			end = l.s + l.voff + l.vlen;
			if (l.key[0] == '\0' || !(l.vlen > 0 &&
			    memchr(l.s + l.voff, '@', l.vlen) != NULL))
				continue;
			if (darg != NULL && ((at = strrchr(l.key, '@')) ==
			    NULL || strcmp(at + 1, domain) != 0))
				continue;
			len = l.klen + l.vlen + 2;
			if ((s = malloc(len)) == NULL)
				fatal("malloc");
			o = snprintf(s, len, "%s ", l.key);
			/* The targets, without the blanks around them. */
			for (p = l.s + l.voff; p < end; p = e + 1) {
				if ((e = memchr(p, ',', end - p)) == NULL)
					e = end;
				while (p < e && (*p == ' ' || *p == '\t'))
					p++;
				for (len = e - p; len > 0 && (p[len - 1] ==
				    ' ' || p[len - 1] == '\t'); len--)
					;
				if (len == 0)
					continue;
				if (s[o - 1] != ' ')
					s[o++] = ',';
				memcpy(s + o, p, len);
				o += len;
			}
			s[o] = '\0';
			if (n == cap) {
				cap = cap == 0 ? 64 : cap * 2;
				if ((lines = reallocarray(lines, cap,
				    sizeof(*lines))) == NULL)
					fatal("reallocarray");
			}
			lines[n++] = s;
		}
		tfile_close(&vf);
	}
	qsort(lines, n, sizeof(*lines), keycmp);
	for (i = 0; i < n; i++)
		printf("%s\n", lines[i]);
	r = MAILCTL_OK;
 done:
	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	return r;
}
