/*
 * mailctl dmarc [domain]: a summary of the DMARC aggregate reports that
 * maild filed in the "DMARC Reports" folders (".DMARC Reports" on disk)
 * of its Maildirs: per policy domain, per reporter and per source IP,
 * how many messages passed or failed DKIM and SPF alignment and what
 * the receivers did with them, and a line for each source that failed
 * both (a server that signs nothing and is not in SPF, or a forger).
 *
 * Where: every Maildir that a maildir action of mail.conf can deliver
 * to (the directories at the depth of its location pattern below the
 * pattern's fixed prefix), since postmaster@domain, the rua address
 * mailctl dns advises, may be an alias of any user.  A report is
 * counted once per (org_name, report_id), in whichever folder it lies.
 *
 * Privileges: as root, mailctl reads the folders with the effective
 * ids of the vmail user (no symbolic link followed), and each report
 * is parsed by a child of its own that drops to nobody in an empty
 * chroot, with no new privileges, limits on CPU, memory, files and
 * processes; it writes its result over a pipe in lines that the parent
 * checks as untrusted input.  A crash, a timeout or a bad answer costs
 * that one report.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "dmarc_report.h"
#include "log.h"
#include "mailbox.h"
#include "mailctl.h"
#include "maild.h"
#include "psl.h"
#include "util.h"

#define FOLDER		DMARC_REPORT_FOLDER
#define DIRS_MAX	200000		/* directories walked */
#define FOLDERS_MAX	10000		/* report folders */
#define CHILD_SECONDS	60		/* wall clock for one report */
#define CHILD_CPU	30		/* RLIMIT_CPU of the parser */
#define CHILD_MEM	(768UL * 1024 * 1024)	/* RLIMIT_DATA, RLIMIT_AS */
#define LINE_MAX_DMARC	4096		/* one line of the child */
#define NOBODY		"nobody"

#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_BUILD	1
#endif
#endif

enum disp { D_NONE, D_QUARANTINE, D_REJECT, D_COUNT };

static const char *const disp_name[D_COUNT] = { "none", "quarantine",
    "reject" };

/* A row of the child's answer, kept until the answer is complete. */
struct row {
	char		 ip[INET6_ADDRSTRLEN];
	uint64_t	 count;
	enum disp	 disp;
	int		 dkim, spf;	/* aligned pass: 1 */
};

/*
 * The statistics, one tree: key (domain, org, ip).  ("", "") under a
 * domain is the domain, (org, "") the reporter, so that a walk in order
 * meets each heading before what it sums.
 */
struct stat_ent {
	RB_ENTRY(stat_ent)	 entry;
	char			*domain, *org, *ip;
	uint64_t		 msgs, dkim_pass, spf_pass, both_fail;
	uint64_t		 disp[D_COUNT];
	size_t			 reports;
	int64_t			 begin, end;	/* domain: the span */
	int64_t			 p_end;		/* domain: when p was seen */
	char			 p[12];
};
RB_HEAD(stat_tree, stat_ent);

/* Reports seen: key org_name NUL report_id. */
struct seen_ent {
	RB_ENTRY(seen_ent)	 entry;
	char			*org, *rid;
};
RB_HEAD(seen_tree, seen_ent);

struct folder {
	dev_t	 dev;
	ino_t	 ino;
};

struct dctx {
	char			 filter[PSL_NAME_MAX + 1];	/* "": all */
	int			 priv;		/* root: drop for reading */
	uid_t			 nuid;		/* nobody */
	gid_t			 ngid;
	struct stat_tree	 stats;
	struct seen_tree	 seen;
	struct folder		*folders;
	size_t			 nfolders, ndirs;
	size_t			 nread, ndup, nerr, nskip;
	int			 failed;	/* the walk itself */
};

static int	 stat_cmp(struct stat_ent *, struct stat_ent *);
static int	 seen_cmp(struct seen_ent *, struct seen_ent *);
RB_PROTOTYPE(stat_tree, stat_ent, entry, stat_cmp)
RB_PROTOTYPE(seen_tree, seen_ent, entry, seen_cmp)

static int	 pattern_split(const char *, char *, size_t, int *);
static void	 walk(struct dctx *, int, const char *, int);
static void	 folder(struct dctx *, int, const char *);
static void	 folder_sub(struct dctx *, int, const char *, const char *);
static int	 name_cmp(const void *, const void *);
static void	 report(struct dctx *, const char *, size_t, const char *);
static int	 collect(struct dctx *, int, const char *, char **,
		    size_t *);
static void	 child(struct dctx *, int, const char *, size_t)
		    __attribute__((__noreturn__));
static void	 child_drop(struct dctx *);
static void	 clean(char *);
static int	 clean_ok(const char *);
static void	 answer(struct dctx *, char *, size_t, const char *);
static int	 split(char *, char **, int);
static int	 num(const char *, uint64_t, uint64_t *);
static void	 add(struct dctx *, const char *, const char *, const char *,
		    int64_t, int64_t, const struct row *, size_t);
static struct stat_ent *stat_get(struct dctx *, const char *, const char *,
		    const char *);
static uint64_t	 sat(uint64_t, uint64_t);
static void	 print(struct dctx *);
static void	 print_day(char *, size_t, int64_t);
static void	 warnr(struct dctx *, const char *, const char *);

RB_GENERATE(stat_tree, stat_ent, entry, stat_cmp)
RB_GENERATE(seen_tree, seen_ent, entry, seen_cmp)

static int
stat_cmp(struct stat_ent *a, struct stat_ent *b)
{
	int	 c;

	if ((c = strcmp(a->domain, b->domain)) != 0)
		return c;
	if ((c = strcmp(a->org, b->org)) != 0)
		return c;
	return strcmp(a->ip, b->ip);
}

static int
seen_cmp(struct seen_ent *a, struct seen_ent *b)
{
	int	 c;

	if ((c = strcmp(a->org, b->org)) != 0)
		return c;
	return strcmp(a->rid, b->rid);
}

int
mailctl_dmarc(int argc, char **argv)
{
	struct maild_conf	*conf = mailctl_conf();
	struct action		*a;
	struct passwd		*pw;
	struct dctx		 c;
	struct stat		 sb;
	char			 dir[PATH_MAX];
	uid_t			 vuid = 0;
	gid_t			 vgid = 0;
	int			 fd, depth, n = 0;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		mailctl_usage();
	memset(&c, 0, sizeof(c));
	RB_INIT(&c.stats);
	RB_INIT(&c.seen);
	if (argc == 2 && psl_normalize(argv[1], c.filter,
	    sizeof(c.filter)) == -1) {
		fprintf(stderr, "mailctl: %s: not a valid domain\n", argv[1]);
		return MAILCTL_FAIL;
	}
	if (geteuid() == 0) {
		c.priv = 1;
		if ((pw = getpwnam(NOBODY)) == NULL) {
			fprintf(stderr, "mailctl: no user %s to parse reports "
			    "as\n", NOBODY);
			return MAILCTL_FAIL;
		}
		c.nuid = pw->pw_uid;
		c.ngid = pw->pw_gid;
		if ((pw = getpwnam(conf->vmail_user)) == NULL) {
			fprintf(stderr, "mailctl: no user %s (vmail user)\n",
			    conf->vmail_user);
			return MAILCTL_FAIL;
		}
		vuid = pw->pw_uid;
		vgid = pw->pw_gid;
		if (stat(MAILD_EMPTY, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
			fprintf(stderr, "mailctl: %s: no directory to parse "
			    "reports in\n", MAILD_EMPTY);
			return MAILCTL_FAIL;
		}
		/* Root stays the saved id: the children drop to nobody. */
		if (setgroups(1, &vgid) == -1 || setegid(vgid) == -1 ||
		    seteuid(vuid) == -1) {
			fprintf(stderr, "mailctl: cannot become %s: %s\n",
			    conf->vmail_user, strerror(errno));
			return MAILCTL_FAIL;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	TAILQ_FOREACH(a, &conf->actions, entry) {
		if (a->type != A_MAILDIR)
			continue;
		if (pattern_split(a->pattern, dir, sizeof(dir), &depth) == -1)
			continue;
		if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
		    -1) {
			if (errno != ENOENT) {
				fprintf(stderr, "mailctl: %s: %s\n", dir,
				    strerror(errno));
				c.failed = 1;
			}
			continue;
		}
		n++;
		walk(&c, fd, dir, depth);
	}
	if (n == 0 && !c.failed)
		printf("No Maildir yet: no maildir action's location "
		    "exists.\n");
	else
		print(&c);
	return c.failed ? MAILCTL_FAIL : MAILCTL_OK;
}

/*
 * "/var/vmail/%{dest.domain}/%{dest.user}": "/var/vmail" and depth 2;
 * a pattern without "%" is one Maildir (depth 0).
 */
static int
pattern_split(const char *pat, char *dir, size_t len, int *depth)
{
	const char	*pct, *s;
	size_t		 cut;

	*depth = 0;
	if ((pct = strchr(pat, '%')) == NULL) {
		cut = strlen(pat);
	} else {
		for (cut = pct - pat; cut > 0 && pat[cut - 1] != '/'; cut--)
			;
		for (s = pat + cut; *s != '\0'; s++)
			if (*s != '/' && (s == pat + cut || s[-1] == '/'))
				(*depth)++;
	}
	while (cut > 1 && pat[cut - 1] == '/')
		cut--;
	if (cut == 0 || cut >= len)
		return -1;
	memcpy(dir, pat, cut);
	dir[cut] = '\0';
	return 0;
}

/* Down to the Maildirs: every directory but Maildir++ folders. */
static void
walk(struct dctx *c, int dfd, const char *path, int depth)
{
	struct dirent	*e;
	struct stat	 sb;
	DIR		*d;
	char		 sub[PATH_MAX];
	int		 fd;

	if (depth == 0) {
		folder(c, dfd, path);
		close(dfd);
		return;
	}
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (++c->ndirs > DIRS_MAX) {
			if (c->ndirs == DIRS_MAX + 1) {
				fprintf(stderr, "mailctl: over %d directories "
				    "below the Maildirs: the rest is left "
				    "out\n", DIRS_MAX);
				c->failed = 1;
			}
			break;
		}
		if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) ==
		    -1 || !S_ISDIR(sb.st_mode))
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) >=
		    (int)sizeof(sub))
			continue;
		if ((fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1)
			continue;
		walk(c, fd, sub, depth - 1);
	}
	closedir(d);
}

/* The reports folder of one Maildir, if it has one (once). */
static void
folder(struct dctx *c, int mfd, const char *path)
{
	struct folder	*f;
	struct stat	 sb;
	char		 dir[MAILBOX_DIR_MAX + 1], sub[PATH_MAX];
	size_t		 i;
	int		 fd;

	if (mailbox_name_to_dir(FOLDER, MAILBOX_UTF8, dir, sizeof(dir),
	    NULL) == -1)
		fatalx("%s: no folder name", FOLDER);
	if ((fd = openat(mfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return;
	if (fstat(fd, &sb) == -1) {
		close(fd);
		return;
	}
	for (i = 0; i < c->nfolders; i++)
		if (c->folders[i].dev == sb.st_dev &&
		    c->folders[i].ino == sb.st_ino) {
			close(fd);
			return;
		}
	if (c->nfolders == FOLDERS_MAX) {
		close(fd);
		return;
	}
	if ((f = reallocarray(c->folders, c->nfolders + 1,
	    sizeof(*f))) == NULL)
		fatal("reallocarray");
	c->folders = f;
	c->folders[c->nfolders].dev = sb.st_dev;
	c->folders[c->nfolders++].ino = sb.st_ino;
	(void)snprintf(sub, sizeof(sub), "%s/%s", path, dir);
	folder_sub(c, fd, sub, "new");
	folder_sub(c, fd, sub, "cur");
	close(fd);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The messages of new/ or cur/, in the order of their names (time). */
static void
folder_sub(struct dctx *c, int ffd, const char *path, const char *sub)
{
	struct dirent	*e;
	struct stat	 sb;
	DIR		*d;
	char		**names = NULL, **nn, file[PATH_MAX], *buf;
	size_t		 n = 0, i, len;
	int		 dfd, fd;

	if ((dfd = openat(ffd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if ((nn = reallocarray(names, n + 1, sizeof(*nn))) == NULL)
			fatal("reallocarray");
		names = nn;
		if ((names[n++] = strdup(e->d_name)) == NULL)
			fatal("strdup");
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		(void)snprintf(file, sizeof(file), "%s/%s/%s", path, sub,
		    names[i]);
		/* A symbolic link (ELOOP) or what went away is no report. */
		if ((fd = openat(dirfd(d), names[i], O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_CLOEXEC)) == -1) {
			if (errno != ELOOP && errno != ENOENT)
				warnr(c, file, strerror(errno));
			free(names[i]);
			continue;
		}
		if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
			close(fd);
			free(names[i]);
			continue;
		}
		if (sb.st_size > DMARC_REPORT_MSG_MAX)
			warnr(c, file, "message over 16 MiB: not read");
		else if ((buf = read_fd(fd, DMARC_REPORT_MSG_MAX, &len)) ==
		    NULL)
			warnr(c, file, strerror(errno));
		else {
			report(c, buf, len, file);
			free(buf);
		}
		close(fd);
		free(names[i]);
	}
	free(names);
	closedir(d);
}

static void
warnr(struct dctx *c, const char *file, const char *why)
{
	c->nerr++;
	fprintf(stderr, "mailctl: %s: %s\n", file, why);
}

/* One report: parsed in a child, its answer checked and added. */
static void
report(struct dctx *c, const char *msg, size_t len, const char *file)
{
	pid_t	 pid;
	char	*buf = NULL, why[64];
	size_t	 blen = 0;
	int	 p[2], st, r;

	if (pipe(p) == -1)
		fatal("pipe");
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(p[0]);
		child(c, p[1], msg, len);
	}
	close(p[1]);
	r = collect(c, p[0], file, &buf, &blen);
	close(p[0]);
	if (r == -1)
		(void)kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			fatal("waitpid");
	if (r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 && blen > 0)
		answer(c, buf, blen, file);
	else if (r == 0) {
		if (WIFSIGNALED(st))
			(void)snprintf(why, sizeof(why), "its parser was "
			    "killed by signal %d", WTERMSIG(st));
		else
			(void)snprintf(why, sizeof(why), "its parser failed "
			    "(exit %d)", WEXITSTATUS(st));
		warnr(c, file, why);
	}
	free(buf);
}

/* Become nobody, chrooted, unable to gain anything back. */
static void
child_drop(struct dctx *c)
{
	struct rlimit	 rl;

	if (c->priv) {
		if (seteuid(0) == -1 || chroot(MAILD_EMPTY) == -1 ||
		    chdir("/") == -1 || setgroups(1, &c->ngid) == -1 ||
		    setresgid(c->ngid, c->ngid, c->ngid) == -1 ||
		    setresuid(c->nuid, c->nuid, c->nuid) == -1)
			_exit(3);
		if (setuid(0) != -1 || seteuid(0) != -1)
			_exit(3);
	}
	compat_no_new_privs();
	rl.rlim_cur = rl.rlim_max = CHILD_CPU;
	(void)setrlimit(RLIMIT_CPU, &rl);
	rl.rlim_cur = rl.rlim_max = 0;
	(void)setrlimit(RLIMIT_FSIZE, &rl);
	(void)setrlimit(RLIMIT_NPROC, &rl);
	(void)setrlimit(RLIMIT_CORE, &rl);
	rl.rlim_cur = rl.rlim_max = 4;		/* 0-3: open already */
	(void)setrlimit(RLIMIT_NOFILE, &rl);
#ifndef ASAN_BUILD
	rl.rlim_cur = rl.rlim_max = CHILD_MEM;
	(void)setrlimit(RLIMIT_DATA, &rl);
	(void)setrlimit(RLIMIT_AS, &rl);
#endif
	if (pledge("stdio", NULL) == -1)
		_exit(3);
}

/*
 * The parser: "report" org id domain p begin end nrows, then a "row"
 * ip count disposition dkim spf for each record; or "error" reason.
 */
static void
child(struct dctx *c, int fd, const char *msg, size_t len)
{
	struct dmarc_report	 r;
	FILE			*f;
	char			 err[512];
	size_t			 i;
	int			 nul;

	signal(SIGPIPE, SIG_DFL);
	if (fd != 3) {
		if (dup2(fd, 3) == -1)
			_exit(3);
		fd = 3;
	}
	if ((nul = open("/dev/null", O_RDWR)) == -1 ||
	    dup2(nul, STDIN_FILENO) == -1 || dup2(nul, STDOUT_FILENO) == -1 ||
	    dup2(nul, STDERR_FILENO) == -1)
		_exit(3);
	closefrom(4);
	child_drop(c);
	if ((f = fdopen(fd, "w")) == NULL)
		_exit(3);
	if (dmarc_report_parse(msg, len, &r, err, sizeof(err)) == -1) {
		clean(err);
		fprintf(f, "error\t%s\n", err);
	} else {
		clean(r.org_name);
		clean(r.report_id);
		fprintf(f, "report\t%s\t%s\t%s\t%s\t%lld\t%lld\t%zu\n",
		    r.org_name, r.report_id, r.domain, r.p,
		    (long long)r.begin, (long long)r.end, r.nrows);
		for (i = 0; i < r.nrows; i++)
			fprintf(f, "row\t%s\t%llu\t%s\t%s\t%s\n",
			    r.rows[i].source_ip,
			    (unsigned long long)r.rows[i].count,
			    r.rows[i].disposition,
			    r.rows[i].dkim_pass ? "pass" : "fail",
			    r.rows[i].spf_pass ? "pass" : "fail");
	}
	_exit(fclose(f) == 0 ? 0 : 3);
}

/*
 * Control characters (C0, DEL, and C1 as UTF-8) become '?': nothing of
 * a report can move a terminal or split the answer's fields and lines.
 */
static void
clean(char *s)
{
	unsigned char	*u = (unsigned char *)s;

	for (; *u != '\0'; u++) {
		if (*u < 0x20 || *u == 0x7f)
			*u = '?';
		else if (u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f) {
			u[0] = '?';
			u[1] = '?';
		}
	}
}

/* A line of the answer: tabs between fields, nothing clean() removes. */
static int
clean_ok(const char *s)
{
	const unsigned char	*u = (const unsigned char *)s;

	for (; *u != '\0'; u++)
		if ((*u < 0x20 && *u != '\t') || *u == 0x7f ||
		    (u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f))
			return 0;
	return 1;
}

/*
 * Read the child's answer, at most the lines of DMARC_REPORT_ROWS_MAX
 * rows, within CHILD_SECONDS, into *bufp (NUL-terminated).  0, or -1
 * (said) when the child must be killed.
 */
static int
collect(struct dctx *c, int fd, const char *file, char **bufp,
    size_t *lenp)
{
	struct pollfd	 pfd;
	char		*buf = NULL, *nb;
	size_t		 len = 0, size = 0;
	size_t		 max = (size_t)(DMARC_REPORT_ROWS_MAX + 2) * 128;
	int64_t		 end = mono_ms() + CHILD_SECONDS * 1000;
	ssize_t		 n;
	int		 r, ms;

	for (;;) {
		if ((ms = end - mono_ms()) <= 0) {
			warnr(c, file, "its parser took too long");
			free(buf);
			return -1;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		if ((r = poll(&pfd, 1, ms)) == -1 && errno != EINTR)
			fatal("poll");
		if (r <= 0)
			continue;
		if (len == size) {
			if (size >= max) {
				warnr(c, file, "its parser said too much");
				free(buf);
				return -1;
			}
			size = size ? size * 2 : 65536;
			if ((nb = realloc(buf, size + 1)) == NULL)
				fatal("realloc");
			buf = nb;
		}
		if ((n = read(fd, buf + len, size - len)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fatal("read");
		}
		if (n == 0)
			break;
		len += n;
	}
	if (buf != NULL)
		buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
}

/* Split s at tabs into at most n fields; the number found. */
static int
split(char *s, char **f, int n)
{
	int	 i = 0;

	f[i++] = s;
	while ((s = strchr(s, '\t')) != NULL) {
		if (i == n)
			return n + 1;
		*s++ = '\0';
		f[i++] = s;
	}
	return i;
}

/* Digits only, up to max. */
static int
num(const char *s, uint64_t max, uint64_t *v)
{
	const char	*p;

	*v = 0;
	for (p = s; *p >= '0' && *p <= '9' && p - s < 16; p++)
		*v = *v * 10 + (uint64_t)(*p - '0');
	return p == s || *p != '\0' || *v > max ? -1 : 0;
}

/*
 * The answer of a child that ended well, checked as any input from
 * outside: one "error" line, or a "report" line and exactly its rows.
 */
static void
answer(struct dctx *c, char *buf, size_t len, const char *file)
{
	struct seen_ent	 key, *s;
	struct row	*rows = NULL;
	struct in6_addr	 a6;
	char		*line, *nl, *f[9], *rf[9], dom[PSL_NAME_MAX + 1];
	uint64_t	 begin, end, nrows, count, i = 0;
	int		 nf, d;

	if (buf[len - 1] != '\n' || strlen(buf) != len)
		goto bad;
	line = buf;
	nl = strchr(line, '\n');
	*nl = '\0';
	if (!clean_ok(line) || nl - line > LINE_MAX_DMARC)
		goto bad;
	nf = split(line, rf, 8);
	if (nf == 2 && strcmp(rf[0], "error") == 0 && nl + 1 == buf + len) {
		warnr(c, file, rf[1]);
		return;
	}
	if (nf != 8 || strcmp(rf[0], "report") != 0 || rf[1][0] == '\0' ||
	    rf[2][0] == '\0' || psl_normalize(rf[3], dom, sizeof(dom)) == -1 ||
	    strcmp(dom, rf[3]) != 0 || (strcmp(rf[4], "none") != 0 &&
	    strcmp(rf[4], "quarantine") != 0 &&
	    strcmp(rf[4], "reject") != 0) ||
	    num(rf[5], INT64_MAX, &begin) == -1 ||
	    num(rf[6], INT64_MAX, &end) == -1 ||
	    num(rf[7], DMARC_REPORT_ROWS_MAX, &nrows) == -1)
		goto bad;
	if (nrows > 0 && (rows = calloc(nrows, sizeof(*rows))) == NULL)
		fatal("calloc");
	for (line = nl + 1; line < buf + len; line = nl + 1, i++) {
		nl = strchr(line, '\n');
		*nl = '\0';
		if (i == nrows || nl - line > LINE_MAX_DMARC ||
		    !clean_ok(line) || split(line, f, 6) != 6 ||
		    strcmp(f[0], "row") != 0 ||
		    strlen(f[1]) >= sizeof(rows[i].ip) ||
		    (inet_pton(AF_INET, f[1], &a6) != 1 &&
		    inet_pton(AF_INET6, f[1], &a6) != 1) ||
		    num(f[2], 999999999999ULL, &count) == -1)
			goto bad;
		for (d = 0; d < D_COUNT && strcmp(f[3], disp_name[d]) != 0;
		    d++)
			;
		if (d == D_COUNT || (strcmp(f[4], "pass") != 0 &&
		    strcmp(f[4], "fail") != 0) || (strcmp(f[5], "pass") != 0 &&
		    strcmp(f[5], "fail") != 0))
			goto bad;
		(void)strlcpy(rows[i].ip, f[1], sizeof(rows[i].ip));
		rows[i].count = count;
		rows[i].disp = d;
		rows[i].dkim = strcmp(f[4], "pass") == 0;
		rows[i].spf = strcmp(f[5], "pass") == 0;
	}
	if (i != nrows)
		goto bad;
	/* The answer is good: the report counts, once. */
	key.org = rf[1];
	key.rid = rf[2];
	if (RB_FIND(seen_tree, &c->seen, &key) != NULL) {
		c->ndup++;
		free(rows);
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->org = strdup(key.org)) == NULL ||
	    (s->rid = strdup(key.rid)) == NULL)
		fatal("calloc");
	RB_INSERT(seen_tree, &c->seen, s);
	c->nread++;
	if (c->filter[0] != '\0' && strcmp(dom, c->filter) != 0 &&
	    (strlen(dom) <= strlen(c->filter) ||
	    dom[strlen(dom) - strlen(c->filter) - 1] != '.' ||
	    strcmp(dom + strlen(dom) - strlen(c->filter), c->filter) != 0))
		c->nskip++;
	else
		add(c, dom, rf[1], rf[4], begin, end, rows, nrows);
	free(rows);
	return;
bad:
	free(rows);
	warnr(c, file, "bad answer from its parser");
}

static uint64_t
sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static struct stat_ent *
stat_get(struct dctx *c, const char *domain, const char *org,
    const char *ip)
{
	struct stat_ent	 key, *e;

	key.domain = (char *)(uintptr_t)domain;
	key.org = (char *)(uintptr_t)org;
	key.ip = (char *)(uintptr_t)ip;
	if ((e = RB_FIND(stat_tree, &c->stats, &key)) != NULL)
		return e;
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->domain = strdup(domain)) == NULL ||
	    (e->org = strdup(org)) == NULL || (e->ip = strdup(ip)) == NULL)
		fatal("calloc");
	e->begin = INT64_MAX;
	e->end = INT64_MIN;
	e->p_end = INT64_MIN;
	RB_INSERT(stat_tree, &c->stats, e);
	return e;
}

static void
add(struct dctx *c, const char *domain, const char *org, const char *p,
    int64_t begin, int64_t end, const struct row *rows, size_t n)
{
	struct stat_ent	*de, *oe, *e;
	size_t		 i;

	de = stat_get(c, domain, "", "");
	oe = stat_get(c, domain, org, "");
	de->reports++;
	oe->reports++;
	if (begin < de->begin)
		de->begin = begin;
	if (end > de->end)
		de->end = end;
	if (end >= de->p_end) {
		de->p_end = end;
		(void)strlcpy(de->p, p, sizeof(de->p));
	}
	for (i = 0; i < n; i++) {
		e = stat_get(c, domain, org, rows[i].ip);
		e->msgs = sat(e->msgs, rows[i].count);
		de->msgs = sat(de->msgs, rows[i].count);
		if (rows[i].dkim) {
			e->dkim_pass = sat(e->dkim_pass, rows[i].count);
			de->dkim_pass = sat(de->dkim_pass, rows[i].count);
		}
		if (rows[i].spf) {
			e->spf_pass = sat(e->spf_pass, rows[i].count);
			de->spf_pass = sat(de->spf_pass, rows[i].count);
		}
		if (!rows[i].dkim && !rows[i].spf) {
			e->both_fail = sat(e->both_fail, rows[i].count);
			de->both_fail = sat(de->both_fail, rows[i].count);
		}
		e->disp[rows[i].disp] = sat(e->disp[rows[i].disp],
		    rows[i].count);
	}
}

static void
print_day(char *buf, size_t len, int64_t t)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (t < 0 || t > 253402300799LL || gmtime_r(&tt, &tm) == NULL)
		(void)snprintf(buf, len, "?");
	else
		(void)strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
}

static void
print(struct dctx *c)
{
	struct stat_ent	*d, *e, *o;
	char		 b[32], en[32];
	size_t		 norg;

	printf("DMARC aggregate reports: %zu read from %zu folder%s",
	    c->nread, c->nfolders, c->nfolders == 1 ? "" : "s");
	if (c->ndup > 0)
		printf(", %zu duplicate%s", c->ndup, c->ndup == 1 ? "" : "s");
	if (c->nerr > 0)
		printf(", %zu not readable (above)", c->nerr);
	if (c->nskip > 0)
		printf(", %zu for other domains", c->nskip);
	printf("\n");
	for (d = RB_MIN(stat_tree, &c->stats); d != NULL; d = e) {
		norg = 0;
		for (e = RB_NEXT(stat_tree, &c->stats, d); e != NULL &&
		    strcmp(e->domain, d->domain) == 0;
		    e = RB_NEXT(stat_tree, &c->stats, e))
			if (e->ip[0] == '\0')
				norg++;
		print_day(b, sizeof(b), d->begin);
		print_day(en, sizeof(en), d->end);
		printf("\n%s: p=%s, %zu report%s from %zu reporter%s, "
		    "%s to %s UTC\n", d->domain, d->p, d->reports,
		    d->reports == 1 ? "" : "s", norg, norg == 1 ? "" : "s", b,
		    en);
		printf("  %llu messages: DKIM aligned %llu, SPF aligned %llu, "
		    "neither %llu\n", (unsigned long long)d->msgs,
		    (unsigned long long)d->dkim_pass,
		    (unsigned long long)d->spf_pass,
		    (unsigned long long)d->both_fail);
		for (o = RB_NEXT(stat_tree, &c->stats, d); o != NULL &&
		    strcmp(o->domain, d->domain) == 0;
		    o = RB_NEXT(stat_tree, &c->stats, o)) {
			if (o->ip[0] == '\0') {
				printf("  reporter %s: %zu report%s\n", o->org,
				    o->reports, o->reports == 1 ? "" : "s");
				printf("    %-25s %8s %9s %9s %8s %8s %8s %10s "
				    "%8s\n", "source IP", "messages",
				    "dkim-pass", "dkim-fail", "spf-pass",
				    "spf-fail", "none", "quarantine",
				    "reject");
				continue;
			}
			printf("    %-25s %8llu %9llu %9llu %8llu %8llu %8llu "
			    "%10llu %8llu\n", o->ip,
			    (unsigned long long)o->msgs,
			    (unsigned long long)o->dkim_pass,
			    (unsigned long long)(o->msgs - o->dkim_pass),
			    (unsigned long long)o->spf_pass,
			    (unsigned long long)(o->msgs - o->spf_pass),
			    (unsigned long long)o->disp[D_NONE],
			    (unsigned long long)o->disp[D_QUARANTINE],
			    (unsigned long long)o->disp[D_REJECT]);
		}
		for (o = RB_NEXT(stat_tree, &c->stats, d); o != NULL &&
		    strcmp(o->domain, d->domain) == 0;
		    o = RB_NEXT(stat_tree, &c->stats, o)) {
			if (o->ip[0] == '\0' || o->both_fail == 0)
				continue;
			printf("  misconfigured or spoofed: %s: %llu of %llu "
			    "messages failed DKIM and SPF alignment "
			    "(reporter %s)\n", o->ip,
			    (unsigned long long)o->both_fail,
			    (unsigned long long)o->msgs, o->org);
		}
	}
	if (c->nfolders == 0)
		printf("No \"%s\" folder in any Maildir.\n", FOLDER);
}
