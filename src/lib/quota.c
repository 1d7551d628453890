/*
 * Mailbox quotas: the limits of a user from mail.conf (the quota
 * statement's defaults, its table's lines), the Maildir++ maildirsize
 * file (its parser and writer, every line of it input: the file sits
 * in a directory the user's mail client fills), the scan that
 * recalculates it, and the locked transaction in which the deliver and
 * imap processes check a change against the limits and record it.
 * include/quota.h says when a file is trusted and when it is scanned.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "expand.h"
#include "log.h"
#include "maild.h"
#include "quota.h"
#include "safepath.h"
#include "table.h"
#include "util.h"

#define QUOTA_TOKEN_MAX		64	/* "storage=..." of a table value */
#define QUOTA_TMP		"tmp"	/* where a new file is written */
#define STAMP_START		14695981039346656037ULL
#define STAMP_PRIME		1099511628211ULL

static int	 parse_u64(const char **, uint64_t *);
static int	 parse_i64(const char **, int64_t *);
static int	 sum_i64(int64_t *, int64_t);
static int	 parse_header(const char *, size_t, struct quota_limits *);
static int	 parse_line(const char *, size_t, int64_t *, int64_t *);
static void	 add_sat(uint64_t *, uint64_t);
static uint64_t	 stamp_of(const struct stat *);
static int	 scan_sub(int, const char *, struct quota_usage *,
		    uint64_t *, char *, size_t);
static int	 scan_maildir(int, struct quota_usage *, uint64_t *, char *,
		    size_t);
static int	 scan_all(int, struct quota_usage *, uint64_t *, char *,
		    size_t);
static int	 read_file(int, char *, size_t, size_t *, struct stat *);
static int	 write_file(int, const struct quota_limits *,
		    const struct quota_usage *, char *, size_t);
static int	 recalc(struct quota_txn *, int, char *, size_t);
static int	 txn_open(struct quota_txn *, const char *,
		    const struct quota_limits *, int, char *, size_t);

/* -- limits -- */

/* Decimal digits at *p, no sign, no overflow: 0, or -1. */
static int
parse_u64(const char **p, uint64_t *v)
{
	const char	*s = *p;
	uint64_t	 n = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = n;
	*p = s;
	return 0;
}

int
quota_parse_size(const char *s, uint64_t *v, char *why, size_t whylen)
{
	const char	*p = s;
	uint64_t	 n, mult;

	if (strcasecmp(s, "none") == 0) {
		*v = 0;
		return 0;
	}
	if (parse_u64(&p, &n) == -1)
		goto bad;
	switch (*p) {
	case '\0':
		mult = 1;
		break;
	case 'k': case 'K':
		mult = 1ULL << 10;
		break;
	case 'm': case 'M':
		mult = 1ULL << 20;
		break;
	case 'g': case 'G':
		mult = 1ULL << 30;
		break;
	case 't': case 'T':
		mult = 1ULL << 40;
		break;
	default:
		goto bad;
	}
	if (*p != '\0' && p[1] != '\0')
		goto bad;
	if (n == 0) {
		(void)snprintf(why, whylen, "\"%.32s\": write none for no "
		    "limit", s);
		return -1;
	}
	if (n > QUOTA_SIZE_MAX / mult) {
		(void)snprintf(why, whylen, "\"%.32s\" out of range (1 to "
		    "1024T, or none)", s);
		return -1;
	}
	*v = n * mult;
	return 0;
 bad:
	(void)snprintf(why, whylen, "\"%.32s\": expected bytes, optionally "
	    "with K, M, G or T, or none", s);
	return -1;
}

int
quota_parse_count(const char *s, uint64_t *v, char *why, size_t whylen)
{
	const char	*p = s;
	uint64_t	 n;

	if (strcasecmp(s, "none") == 0) {
		*v = 0;
		return 0;
	}
	if (parse_u64(&p, &n) == -1 || *p != '\0') {
		(void)snprintf(why, whylen, "\"%.32s\": expected a number "
		    "of messages, or none", s);
		return -1;
	}
	if (n == 0 || n > QUOTA_COUNT_MAX) {
		(void)snprintf(why, whylen, "\"%.32s\" out of range (1 to "
		    "%llu, or none)", s,
		    (unsigned long long)QUOTA_COUNT_MAX);
		return -1;
	}
	*v = n;
	return 0;
}

int
quota_parse_value(const char *value, struct quota_limits *lim, char *why,
    size_t whylen)
{
	struct quota_limits	 l = *lim;
	const char		*p = value, *eq;
	char			 tok[QUOTA_TOKEN_MAX + 1], sub[128];
	size_t			 n;
	int			 storage = 0, messages = 0;

	for (;;) {
		p += strspn(p, " \t,");
		if (*p == '\0')
			break;
		n = strcspn(p, " \t,");
		if (n > QUOTA_TOKEN_MAX) {
			(void)snprintf(why, whylen, "quota \"%.32s...\" is too "
			    "long", p);
			return -1;
		}
		memcpy(tok, p, n);
		tok[n] = '\0';
		p += n;
		if ((eq = strchr(tok, '=')) == NULL)
			goto bad;
		if (eq - tok == 7 && strncasecmp(tok, "storage", 7) == 0) {
			if (storage++ > 0)
				goto twice;
			if (quota_parse_size(eq + 1, &l.storage, sub,
			    sizeof(sub)) == -1) {
				(void)snprintf(why, whylen, "storage %s", sub);
				return -1;
			}
		} else if (eq - tok == 8 &&
		    strncasecmp(tok, "messages", 8) == 0) {
			if (messages++ > 0)
				goto twice;
			if (quota_parse_count(eq + 1, &l.messages, sub,
			    sizeof(sub)) == -1) {
				(void)snprintf(why, whylen, "messages %s", sub);
				return -1;
			}
		} else
			goto bad;
	}
	if (storage + messages == 0) {
		(void)snprintf(why, whylen, "expected storage=SIZE and/or "
		    "messages=N");
		return -1;
	}
	*lim = l;
	return 0;
 twice:
	(void)snprintf(why, whylen, "\"%.32s\": given twice", tok);
	return -1;
 bad:
	(void)snprintf(why, whylen, "\"%.32s\": expected storage=SIZE or "
	    "messages=N", tok);
	return -1;
}

int
quota_table_check(const char *key, const char *value, char *why,
    size_t whylen)
{
	struct quota_limits	 lim = { 0, 0 };

	if (strchr(key, '@') == NULL) {
		(void)snprintf(why, whylen, "quota key \"%.64s\": expected "
		    "user@domain or @domain", key);
		return -1;
	}
	return quota_parse_value(value, &lim, why, whylen);
}

int
quota_user_limits(const struct maild_conf *c, const char *user,
    struct quota_limits *lim, char *err, size_t errlen)
{
	struct quota_limits	 l;
	const char		*value, *at;
	char			 why[160];
	int			 r;

	lim->storage = c->quota_storage;
	lim->messages = c->quota_messages;
	if (c->quota_table == NULL)
		return 0;
	r = table_lookup(c->quota_table, user, &value);
	if (r == 0 && (at = strrchr(user, '@')) != NULL && at != user)
		r = table_lookup(c->quota_table, at, &value);
	if (r == -1) {
		(void)snprintf(err, errlen, "quota table <%s> is not loaded: "
		    "the default limits apply to %s", c->quota_table->name,
		    user);
		return -1;
	}
	if (r == 0)
		return 0;
	l = *lim;
	if (quota_parse_value(value, &l, why, sizeof(why)) == -1) {
		(void)snprintf(err, errlen, "quota table <%s>, %s: %s: the "
		    "default limits apply", c->quota_table->name, user, why);
		return -1;
	}
	*lim = l;
	return 0;
}

int
quota_maildir_root(const struct maild_conf *c, const struct mailaddr *addr,
    const char *vroot, const char *path, char *out, size_t outlen)
{
	const struct action	*a;
	const char		*rel, *p;
	char			 loc[PATH_MAX];
	size_t			 n;

	TAILQ_FOREACH(a, &c->actions, entry) {
		if (a->type != A_MAILDIR || maildir_pattern(a->pattern, addr,
		    loc, sizeof(loc)) == -1 ||
		    (rel = path_inside(vroot, loc)) == NULL)
			continue;
		n = strlen(rel);
		if (strncmp(path, rel, n) != 0 || (path[n] != '\0' &&
		    (path[n] != '/' || path[n + 1] != '.' ||
		    strchr(path + n + 1, '/') != NULL)))
			continue;
		return strlcpy(out, rel, outlen) < outlen ? 0 : -1;
	}
	/* An older location (a reload since): a Maildir++ folder ends it. */
	if (strlcpy(out, path, outlen) >= outlen)
		return -1;
	if ((p = strrchr(out, '/')) != NULL && p[1] == '.')
		out[p - out] = '\0';
	return 0;
}

int
quota_check(const struct quota_limits *lim, const struct quota_usage *use,
    uint64_t bytes, uint64_t count)
{
	if (lim->storage != 0 && (use->bytes > lim->storage ||
	    bytes > lim->storage - use->bytes))
		return QUOTA_STORAGE;
	if (lim->messages != 0 && (use->count > lim->messages ||
	    count > lim->messages - use->count))
		return QUOTA_MESSAGES;
	return QUOTA_OK;
}

/* -- the maildirsize file -- */

/* [-]digits, within int64_t (INT64_MIN left out): 0, or -1. */
static int
parse_i64(const char **p, int64_t *v)
{
	const char	*s = *p;
	uint64_t	 n;
	int		 neg = 0;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (parse_u64(&s, &n) == -1 || n > (uint64_t)INT64_MAX)
		return -1;
	*v = neg ? -(int64_t)n : (int64_t)n;
	*p = s;
	return 0;
}

static int
sum_i64(int64_t *sum, int64_t v)
{
	if ((v > 0 && *sum > INT64_MAX - v) ||
	    (v < 0 && *sum < INT64_MIN - v))
		return -1;
	*sum += v;
	return 0;
}

/* "<n>S,<n>C", either part alone, each at most once: 0, or -1. */
static int
parse_header(const char *s, size_t len, struct quota_limits *hdr)
{
	const char	*p = s, *end = s + len;
	uint64_t	 v;
	int		 seen_s = 0, seen_c = 0;

	hdr->storage = hdr->messages = 0;
	for (;;) {
		if (p >= end || parse_u64(&p, &v) == -1 || p >= end)
			return -1;
		if (*p == 'S' && !seen_s++)
			hdr->storage = v;
		else if (*p == 'C' && !seen_c++)
			hdr->messages = v;
		else
			return -1;
		if (++p == end)
			return 0;
		if (*p++ != ',')
			return -1;
	}
}

/* "<bytes> <count>", blanks around: 0, or -1. */
static int
parse_line(const char *s, size_t len, int64_t *bytes, int64_t *count)
{
	const char	*p = s, *end = s + len;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || parse_i64(&p, bytes) == -1 || p >= end ||
	    (*p != ' ' && *p != '\t'))
		return -1;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || parse_i64(&p, count) == -1)
		return -1;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p == end ? 0 : -1;
}

int
quota_file_parse(const char *buf, size_t len, struct quota_limits *hdr,
    struct quota_usage *use, size_t *nlines)
{
	const char	*p, *end, *nl;
	int64_t		 bytes = 0, count = 0, b, c;
	size_t		 n = 0;

	if (memchr(buf, '\0', len) != NULL)
		return -1;
	/* A last line without its newline is still being appended. */
	while (len > 0 && buf[len - 1] != '\n')
		len--;
	if (len == 0 || (nl = memchr(buf, '\n', len)) == NULL ||
	    parse_header(buf, (size_t)(nl - buf), hdr) == -1)
		return -1;
	end = buf + len;
	for (p = nl + 1; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (parse_line(p, (size_t)(nl - p), &b, &c) == -1 ||
		    sum_i64(&bytes, b) == -1 || sum_i64(&count, c) == -1)
			return -1;
		n++;
	}
	/* No line of usage, or less than nothing: rebuild it. */
	if (n == 0 || bytes < 0 || count < 0)
		return -1;
	use->bytes = (uint64_t)bytes;
	use->count = (uint64_t)count;
	*nlines = n;
	return 0;
}

int
quota_file_format(char *buf, size_t len, const struct quota_limits *lim,
    const struct quota_usage *use)
{
	int	 r, o = 0;

	/* As Dovecot: "0S" rather than an empty line when unlimited. */
	if (lim->storage != 0 || lim->messages == 0) {
		r = snprintf(buf, len, "%lluS",
		    (unsigned long long)lim->storage);
		if (r < 0 || (size_t)r >= len)
			return -1;
		o = r;
	}
	if (lim->messages != 0) {
		r = snprintf(buf + o, len - o, "%s%lluC", o > 0 ? "," : "",
		    (unsigned long long)lim->messages);
		if (r < 0 || (size_t)r >= len - o)
			return -1;
		o += r;
	}
	r = snprintf(buf + o, len - o, "\n%llu %llu\n",
	    (unsigned long long)use->bytes, (unsigned long long)use->count);
	if (r < 0 || (size_t)r >= len - o)
		return -1;
	return o + r;
}

int
quota_name_size(const char *name, uint64_t *v)
{
	const char	*p;

	if ((p = strstr(name, ",S=")) == NULL)
		return -1;
	p += 3;
	if (parse_u64(&p, v) == -1 || (*p != '\0' && *p != ':' && *p != ','))
		return -1;
	return 0;
}

/* -- the scan -- */

static void
add_sat(uint64_t *sum, uint64_t v)
{
	*sum = v > UINT64_MAX - *sum ? UINT64_MAX : *sum + v;
}

/* What changes when a directory does: its identity and its mtime. */
static uint64_t
stamp_of(const struct stat *st)
{
	uint64_t	 h = STAMP_START;

	h = (h ^ (uint64_t)st->st_ino) * STAMP_PRIME;
	h = (h ^ (uint64_t)st->st_mtim.tv_sec) * STAMP_PRIME;
	h = (h ^ (uint64_t)st->st_mtim.tv_nsec) * STAMP_PRIME;
	return h;
}

/*
 * new/ or cur/ of the Maildir open on fd: its files added to use (NULL:
 * only its stamp is wanted), its stamp to *stamp (a sum: the order in
 * which directories are read does not matter).  No such directory, or
 * a symbolic link: nothing.
 */
static int
scan_sub(int fd, const char *sub, struct quota_usage *use, uint64_t *stamp,
    char *err, size_t errlen)
{
	struct dirent	*de;
	struct stat	 st;
	uint64_t	 size;
	DIR		*d;
	int		 sfd;

	if ((sfd = openat(fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP ||
		    errno == EMLINK)
			return 0;
		(void)snprintf(err, errlen, "open %s/: %s", sub,
		    strerror(errno));
		return -1;
	}
	if (fstat(sfd, &st) == -1) {
		(void)snprintf(err, errlen, "stat %s/: %s", sub,
		    strerror(errno));
		close(sfd);
		return -1;
	}
	*stamp += stamp_of(&st);
	if (use == NULL) {
		close(sfd);
		return 0;
	}
	if ((d = fdopendir(sfd)) == NULL) {
		(void)snprintf(err, errlen, "read %s/: %s", sub,
		    strerror(errno));
		close(sfd);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (de->d_name[0] == '.')
			continue;
		if (quota_name_size(de->d_name, &size) == -1) {
			/* Not named as Maildir++ says: its own size. */
			if (fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode))
				continue;
			size = (uint64_t)st.st_size;
		}
		add_sat(&use->bytes, size);
		add_sat(&use->count, 1);
	}
	if (errno != 0) {
		(void)snprintf(err, errlen, "read %s/: %s", sub,
		    strerror(errno));
		closedir(d);
		return -1;
	}
	closedir(d);
	return 0;
}

static int
scan_maildir(int fd, struct quota_usage *use, uint64_t *stamp, char *err,
    size_t errlen)
{
	if (scan_sub(fd, "new", use, stamp, err, errlen) == -1 ||
	    scan_sub(fd, "cur", use, stamp, err, errlen) == -1)
		return -1;
	return 0;
}

/* The root and its Maildir++ folders: ".name" directories. */
static int
scan_all(int dfd, struct quota_usage *use, uint64_t *stamp, char *err,
    size_t errlen)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd, r = 0;

	*stamp = 0;
	if (use != NULL)
		use->bytes = use->count = 0;
	if (scan_maildir(dfd, use, stamp, err, errlen) == -1)
		return -1;
	if ((fd = dup(dfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		(void)snprintf(err, errlen, "read the root: %s",
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	rewinddir(d);
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((fd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1) {
			if (errno == ENOENT || errno == ENOTDIR ||
			    errno == ELOOP || errno == EMLINK)
				continue;
			(void)snprintf(err, errlen, "open %.64s: %s",
			    de->d_name, strerror(errno));
			r = -1;
			break;
		}
		r = scan_maildir(fd, use, stamp, err, errlen);
		close(fd);
		if (r == -1)
			break;
	}
	if (r == 0 && errno != 0) {
		(void)snprintf(err, errlen, "read the root: %s",
		    strerror(errno));
		r = -1;
	}
	closedir(d);
	return r;
}

int
quota_scan(int dfd, struct quota_usage *use, char *err, size_t errlen)
{
	uint64_t	 stamp;

	return scan_all(dfd, use, &stamp, err, errlen);
}

/* -- the transaction -- */

/* 1 read (*lenp bytes, at most len), 0 missing, -1 error (errno). */
static int
read_file(int dfd, char *buf, size_t len, size_t *lenp, struct stat *st)
{
	ssize_t	 n;
	size_t	 o = 0;
	int	 fd;

	if ((fd = openat(dfd, QUOTA_FILE, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC)) == -1)
		return errno == ENOENT || errno == ELOOP ? 0 : -1;
	if (fstat(fd, st) == -1 || !S_ISREG(st->st_mode)) {
		close(fd);
		return 0;	/* rewritten over */
	}
	while (o < len) {
		if ((n = read(fd, buf + o, len - o)) == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		o += (size_t)n;
	}
	close(fd);
	*lenp = o;
	return 1;
}

/* A new maildirsize, written in tmp/ and renamed over the old one. */
static int
write_file(int dfd, const struct quota_limits *lim,
    const struct quota_usage *use, char *err, size_t errlen)
{
	char	 buf[128], name[64];
	int	 len, tfd, fd;

	if ((len = quota_file_format(buf, sizeof(buf), lim, use)) == -1) {
		(void)snprintf(err, errlen, "%s: too long", QUOTA_FILE);
		return -1;
	}
	(void)snprintf(name, sizeof(name), "%s.%ld", QUOTA_FILE,
	    (long)getpid());
	if ((tfd = openat(dfd, QUOTA_TMP, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1 && errno == ENOENT &&
	    mkdirat(dfd, QUOTA_TMP, 0700) == 0)
		tfd = openat(dfd, QUOTA_TMP, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
	if (tfd == -1) {
		(void)snprintf(err, errlen, "%s/: %s", QUOTA_TMP,
		    strerror(errno));
		return -1;
	}
	if ((fd = openat(tfd, name, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		(void)snprintf(err, errlen, "%s/%s: %s", QUOTA_TMP, name,
		    strerror(errno));
		close(tfd);
		return -1;
	}
	if (write_full(fd, buf, (size_t)len) == -1 || close(fd) == -1 ||
	    renameat(tfd, name, dfd, QUOTA_FILE) == -1) {
		(void)snprintf(err, errlen, "%s: %s", QUOTA_FILE,
		    strerror(errno));
		(void)unlinkat(tfd, name, 0);
		close(tfd);
		return -1;
	}
	close(tfd);
	return 0;
}

/*
 * Scan until two passes see the same directories (a file moved from
 * new/ to cur/, or renamed with new flags, while they were read may
 * count twice or not at all), at most QUOTA_SCAN_TRIES times, and write
 * the file anew.  A file that cannot be written costs a scan next
 * time, no more: the usage stands.
 */
static int
recalc(struct quota_txn *q, int writer, char *err, size_t errlen)
{
	struct quota_usage	 use;
	uint64_t		 before, after;
	char			 why[256];
	int			 tries;

	for (tries = 1; ; tries++) {
		if (scan_all(q->dfd, &use, &before, err, errlen) == -1 ||
		    scan_all(q->dfd, NULL, &after, err, errlen) == -1)
			return -1;
		if (before == after || tries >= QUOTA_SCAN_TRIES)
			break;
	}
	q->use = use;
	q->scanned = 1;
	if (writer && write_file(q->dfd, &q->lim, &use, why,
	    sizeof(why)) == -1)
		log_warnx("quota: %s", why);
	return 0;
}

int
quota_open(struct quota_txn *q, const char *root,
    const struct quota_limits *lim, char *err, size_t errlen)
{
	return txn_open(q, root, lim, 1, err, errlen);
}

int
quota_peek(const char *root, const struct quota_limits *lim,
    struct quota_usage *use, int *scanned, char *err, size_t errlen)
{
	struct quota_txn	 q;

	if (txn_open(&q, root, lim, 0, err, errlen) == -1)
		return -1;
	*use = q.use;
	*scanned = q.scanned;
	quota_close(&q);
	return 0;
}

/* quota_open(), or quota_peek() (a shared lock, nothing written). */
static int
txn_open(struct quota_txn *q, const char *root,
    const struct quota_limits *lim, int writer, char *err, size_t errlen)
{
	struct quota_limits	 hdr;
	struct quota_usage	 use;
	struct stat		 st;
	char			 buf[QUOTA_FILE_MAX], why[256];
	size_t			 len = 0, nlines;
	int			 r;

	memset(q, 0, sizeof(*q));
	q->lim = *lim;
	if ((q->dfd = safe_open(root, O_RDONLY | O_DIRECTORY, 0)) == -1) {
		if (errno == ENOENT)
			return 0;	/* nothing delivered yet */
		(void)snprintf(err, errlen, "%s: %s", root, strerror(errno));
		return -1;
	}
	while (flock(q->dfd, writer ? LOCK_EX : LOCK_SH) == -1)
		if (errno != EINTR) {
			(void)snprintf(err, errlen, "%s: lock: %s", root,
			    strerror(errno));
			goto fail;
		}
	if ((r = read_file(q->dfd, buf, sizeof(buf), &len, &st)) == -1) {
		(void)snprintf(err, errlen, "%s/%s: %s", root, QUOTA_FILE,
		    strerror(errno));
		goto fail;
	}
	/* Full up to the last byte read: QUOTA_FILE_MAX bytes or more. */
	if (r == 1 && len < sizeof(buf) &&
	    quota_file_parse(buf, len, &hdr, &use, &nlines) == 0 &&
	    hdr.storage == lim->storage && hdr.messages == lim->messages &&
	    (quota_check(lim, &use, 1, 1) == QUOTA_OK ||
	    (nlines == 1 && time(NULL) - st.st_mtime < QUOTA_STALE))) {
		q->use = use;
		return 0;
	}
	if (recalc(q, writer, why, sizeof(why)) == 0)
		return 0;
	(void)snprintf(err, errlen, "%s: %s", root, why);
 fail:
	quota_close(q);
	return -1;
}

int
quota_exceeds(const struct quota_txn *q, uint64_t bytes, uint64_t count)
{
	return quota_check(&q->lim, &q->use, bytes, count);
}

int
quota_add(struct quota_txn *q, int64_t bytes, int64_t count, char *err,
    size_t errlen)
{
	char	 line[64];
	int	 fd, len;

	if (bytes >= 0)
		add_sat(&q->use.bytes, (uint64_t)bytes);
	else
		q->use.bytes -= (uint64_t)-bytes > q->use.bytes ?
		    q->use.bytes : (uint64_t)-bytes;
	if (count >= 0)
		add_sat(&q->use.count, (uint64_t)count);
	else
		q->use.count -= (uint64_t)-count > q->use.count ?
		    q->use.count : (uint64_t)-count;
	if (q->dfd == -1 || (bytes == 0 && count == 0))
		return 0;
	if ((fd = openat(q->dfd, QUOTA_FILE, O_WRONLY | O_APPEND |
	    O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;	/* the next open scans */
		(void)snprintf(err, errlen, "%s: %s", QUOTA_FILE,
		    strerror(errno));
		return -1;
	}
	len = snprintf(line, sizeof(line), "%lld %lld\n", (long long)bytes,
	    (long long)count);
	if (write_full(fd, line, (size_t)len) == -1) {
		(void)snprintf(err, errlen, "%s: %s", QUOTA_FILE,
		    strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 1;
}

void
quota_close(struct quota_txn *q)
{
	if (q->dfd != -1)
		close(q->dfd);	/* the lock goes with it */
	q->dfd = -1;
}
