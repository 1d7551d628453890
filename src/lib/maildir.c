/*
 * Maildir delivery, in the deliver process: the message is written
 * under tmp/ with Return-Path and Delivered-To in front, fsynced, then
 * linked into new/ and new/ fsynced, so that a reader never sees a
 * partial file and a crash never loses one that was reported
 * delivered.  Failures are sorted into temporary (the queue retries)
 * and permanent (the path itself is wrong).  No symbolic link is ever
 * followed below the mail root (safepath.c): one planted in the user's
 * path, or as tmp/ new/ cur/, fails the delivery temporarily, so the
 * message waits in the queue until someone removes the link.
 *
 * A file delivered for a queue envelope carries the envelope's id in its
 * unique name ("E<16 hex digits>" at the end of the middle part), so
 * that a retry after a crash can tell that the delivery already
 * happened, even if the file has been moved to cur/ and renamed with
 * flags since (maildir_find()).
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "envelope.h"
#include "maild.h"
#include "maildir.h"
#include "safepath.h"
#include "util.h"

#define MD_CHUNK	(64 * 1024)	/* body copy, as read with pread */
/*
 * Escaped host name in file names: short enough that a name with the
 * envelope id, ",S=" and every flag fits what IMAP keeps (240 bytes).
 */
#define MD_HOST_MAX	64
#define MD_NAME_MAX	256
#define MD_FIELD_MAX	8192	/* of a header field the filter sees */

static int	 md_path_check(const char *, char *, size_t);
static int	 md_errclass(int);
static int	 md_find_link(const char *, char *, size_t);
static int	 md_fail(int, char *, size_t, const char *, const char *,
		    ...) __attribute__((__format__ (printf, 5, 6)));
static int	 md_mkdirs(const char *, char *, size_t);
static int	 md_uniq(char *, size_t, uint64_t);
static uint64_t	 md_name_evpid(const char *);
static int	 md_find_in(const char *, const char *, uint64_t, char *,
		    size_t, char *, size_t);
static int	 md_addr_text(const struct mailaddr *, char *, size_t);
static int	 md_write(const char *, const char *, int, const char *,
		    size_t, const struct maildir_filter *, off_t *, char *,
		    size_t);
static int	 md_header(int, int, const struct maildir_filter *, off_t *,
		    off_t *);

static char	 md_buf[MD_CHUNK];

/*
 * Refuse anything but a plain path: no empty, "." or ".." component
 * (so a pattern expansion cannot walk out of its tree), no control
 * bytes.  A leading '/' is allowed.
 */
static int
md_path_check(const char *path, char *why, size_t whylen)
{
	const char	*p, *c;
	size_t		 len;

	if (*path == '\0') {
		(void)strlcpy(why, "empty path", whylen);
		return -1;
	}
	for (p = path; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			(void)strlcpy(why, "control character in path",
			    whylen);
			return -1;
		}
	}
	p = path;
	if (*p == '/')
		p++;
	for (;;) {
		c = strchr(p, '/');
		len = c != NULL ? (size_t)(c - p) : strlen(p);
		if (len == 0) {
			(void)strlcpy(why, "empty path component", whylen);
			return -1;
		}
		if ((len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.')) {
			(void)strlcpy(why, "\".\" or \"..\" in path", whylen);
			return -1;
		}
		if (c == NULL)
			break;
		p = c + 1;
	}
	return 0;
}

/*
 * -2 when retrying cannot help: the path itself is unusable.  A
 * symbolic link (ELOOP) is temporary: removing it repairs the Maildir.
 */
static int
md_errclass(int e)
{
	switch (e) {
	case ENAMETOOLONG:
	case ENOTDIR:
		return -2;
	default:
		return -1;
	}
}

/* After ELOOP: which part of the Maildir at path is a symbolic link. */
static int
md_find_link(const char *path, char *link, size_t linklen)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	char		 dir[PATH_MAX];
	size_t		 i;
	int		 r;

	if (safe_find_link(path, link, linklen))
		return 1;
	for (i = 0; i < nitems(sub); i++) {
		r = snprintf(dir, sizeof(dir), "%s/%s", path, sub[i]);
		if (r >= 0 && (size_t)r < sizeof(dir) &&
		    safe_find_link(dir, link, linklen))
			return 1;
	}
	return 0;
}

/* Format "path: what: strerror" into err and return ret. */
static int
md_fail(int ret, char *err, size_t errlen, const char *path,
    const char *fmt, ...)
{
	va_list	 ap;
	char	 what[MD_NAME_MAX + 64], link[PATH_MAX];
	int	 saved = errno;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (saved == ELOOP && md_find_link(path, link, sizeof(link)))
		(void)snprintf(err, errlen, "%s: %s: %s is a symbolic link, "
		    "not followed", path, what, link);
	else if (saved == ELOOP)
		(void)snprintf(err, errlen, "%s: %s: symbolic link in the "
		    "path, not followed", path, what);
	else
		(void)snprintf(err, errlen, "%s: %s: %s", path, what,
		    strerror(saved));
	errno = saved;
	return ret;
}

/*
 * mkdir -p path, then path/{cur,new,tmp}, all 0700.  An existing file
 * where a directory should be shows up as ENOTDIR, a symbolic link as
 * ELOOP, even as cur/ (which delivery never writes: the IMAP server
 * would move the message there).
 */
static int
md_mkdirs(const char *path, char *err, size_t errlen)
{
	static const char *const sub[] = { "cur", "new", "tmp" };
	struct stat	 st;
	char		 dir[PATH_MAX];
	size_t		 i;
	int		 r;

	if (strlen(path) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return md_fail(-2, err, errlen, path, "mkdir");
	}
	if (safe_mkdirs(path, 0700) == -1)
		return md_fail(md_errclass(errno), err, errlen, path,
		    "mkdir");
	for (i = 0; i < nitems(sub); i++) {
		r = snprintf(dir, sizeof(dir), "%s/%s", path, sub[i]);
		if (r < 0 || (size_t)r >= sizeof(dir)) {
			errno = ENAMETOOLONG;
			return md_fail(-2, err, errlen, path, "mkdir %s",
			    sub[i]);
		}
		if (safe_mkdir(dir, 0700) == -1 && errno != EEXIST)
			return md_fail(md_errclass(errno), err, errlen, path,
			    "mkdir %s", sub[i]);
		if (safe_lstat(dir, &st) == -1)
			return md_fail(md_errclass(errno), err, errlen, path,
			    "stat %s", sub[i]);
		if (!S_ISDIR(st.st_mode)) {
			errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
			return md_fail(md_errclass(errno), err, errlen, path,
			    "%s", sub[i]);
		}
	}
	return 0;
}

/*
 * The host name for unique file names, with '/' and ':' escaped as the
 * Maildir spec says, and ',' (Dovecot's size fields), controls and
 * 8-bit bytes replaced; at most len - 1 bytes.
 */
void
maildir_hostname(char *buf, size_t len)
{
	char	 host[HOST_NAME_MAX + 1];
	size_t	 i, o = 0;

	if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		(void)strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	for (i = 0; host[i] != '\0' && o + 5 < len; i++) {
		if (host[i] == '/') {
			memcpy(buf + o, "\\057", 4);
			o += 4;
		} else if (host[i] == ':') {
			memcpy(buf + o, "\\072", 4);
			o += 4;
		} else if ((unsigned char)host[i] <= 0x20 ||
		    (unsigned char)host[i] >= 0x7f || host[i] == ',')
			buf[o++] = '_';
		else
			buf[o++] = host[i];
	}
	buf[o] = '\0';
}

/* <seconds>.M<usec>P<pid>Q<counter>R<random>[E<evpid>].<host> */
static int
md_uniq(char *buf, size_t len, uint64_t evpid)
{
	static unsigned long	 counter;
	struct timeval		 tv;
	unsigned char		 rnd[8];
	char			 host[MD_HOST_MAX + 1], id[24] = "";
	int			 r;

	maildir_hostname(host, sizeof(host));
	if (evpid != 0)
		(void)snprintf(id, sizeof(id), "E%016llx",
		    (unsigned long long)evpid);
	compat_random(rnd, sizeof(rnd));
	(void)gettimeofday(&tv, NULL);
	counter++;
	r = snprintf(buf, len, "%lld.M%06ldP%ldQ%luR"
	    "%02x%02x%02x%02x%02x%02x%02x%02x%s.%s",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(), counter,
	    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7],
	    id, host);
	if (r < 0 || (size_t)r >= len)
		return -1;
	return 0;
}

/*
 * The envelope id in a file name made by md_uniq(), or 0: the middle
 * part (between the first two dots) must end in "E" and 16 lower-case
 * hex digits, so that nothing in the host name can pass for one.
 */
static uint64_t
md_name_evpid(const char *name)
{
	const char	*mid, *end, *p;
	uint64_t	 v = 0;

	if ((mid = strchr(name, '.')) == NULL ||
	    (end = strchr(mid + 1, '.')) == NULL || end - (mid + 1) < 17 ||
	    end[-17] != 'E')
		return 0;
	for (p = end - 16; p < end; p++) {
		if (*p >= '0' && *p <= '9')
			v = v << 4 | (uint64_t)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			v = v << 4 | (uint64_t)(*p - 'a' + 10);
		else
			return 0;
	}
	return v;
}

/*
 * Look through path/sub for the file of evpid: 1 (its path in found), 0
 * none, -1 error.  In tmp/ such a file is what an attempt interrupted
 * before its link into new/ left behind: it is removed.
 */
static int
md_find_in(const char *path, const char *sub, uint64_t evpid, char *found,
    size_t foundlen, char *err, size_t errlen)
{
	struct dirent	*de;
	DIR		*d;
	char		 dir[PATH_MAX], file[PATH_MAX];
	int		 r, ret = 0;

	r = snprintf(dir, sizeof(dir), "%s/%s", path, sub);
	if (r < 0 || (size_t)r >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return md_fail(-1, err, errlen, path, "%s/", sub);
	}
	if ((d = safe_opendir(dir)) == NULL) {
		if (errno == ENOENT)
			return 0;	/* nothing was ever delivered there */
		return md_fail(-1, err, errlen, path, "open %s/", sub);
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (md_name_evpid(de->d_name) != evpid)
			continue;
		r = snprintf(file, sizeof(file), "%s/%s", dir, de->d_name);
		if (r < 0 || (size_t)r >= sizeof(file))
			continue;
		if (strcmp(sub, "tmp") == 0) {
			(void)safe_unlink(file);
			continue;
		}
		if (strlcpy(found, file, foundlen) >= foundlen)
			continue;
		ret = 1;
		break;
	}
	if (ret == 0 && errno != 0)
		ret = md_fail(-1, err, errlen, path, "read %s/", sub);
	closedir(d);
	return ret;
}

int
maildir_find(const char *path, uint64_t evpid, char *found,
    size_t foundlen, char *err, size_t errlen)
{
	int	 r;

	if (evpid == 0)
		return 0;
	/*
	 * new/ before cur/: a file that IMAP moves from new/ to cur/
	 * meanwhile is in cur/ by the time cur/ is read.
	 */
	if ((r = md_find_in(path, "tmp", evpid, found, foundlen, err,
	    errlen)) != 0 ||
	    (r = md_find_in(path, "new", evpid, found, foundlen, err,
	    errlen)) != 0)
		return r;
	return md_find_in(path, "cur", evpid, found, foundlen, err, errlen);
}

/* user@domain, "" for the null address; no byte may break a header. */
static int
md_addr_text(const struct mailaddr *addr, char *buf, size_t len)
{
	size_t	 i;

	if (addr_to_text(addr, buf, len) == -1)
		return -1;
	for (i = 0; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			return -1;
	return 0;
}

/*
 * One header field at a time, for md_header(): up to MD_FIELD_MAX
 * bytes of it are kept; a longer field is judged by that much of it
 * and then written or skipped to its end.
 */
struct md_field {
	char	 buf[MD_FIELD_MAX];
	size_t	 len;
	int	 judged;	/* long: drop decided on the prefix */
	int	 drop;
};

/* What md_header() writes goes out in MD_CHUNK pieces, not by field. */
static char	 md_obuf[MD_CHUNK];
static size_t	 md_olen;

static int
md_put(int out, const char *p, size_t n, off_t *wrotep)
{
	if (out == -1) {
		/* maildir_header_scan(): read, nothing written. */
		*wrotep += n;
		return 0;
	}
	if (md_olen + n > sizeof(md_obuf)) {
		if (write_full(out, md_obuf, md_olen) == -1)
			return -1;
		md_olen = 0;
	}
	if (n > sizeof(md_obuf)) {
		if (write_full(out, p, n) == -1)
			return -1;
	} else {
		memcpy(md_obuf + md_olen, p, n);
		md_olen += n;
	}
	*wrotep += n;
	return 0;
}

static int
md_field_flush(int out, const struct maildir_filter *f, struct md_field *fl,
    off_t *wrotep)
{
	if (!fl->judged)
		fl->drop = f->drop(fl->buf, fl->len, f->arg) != 0;
	if (!fl->drop && fl->len > 0 &&
	    md_put(out, fl->buf, fl->len, wrotep) == -1)
		return -1;
	fl->len = 0;
	return 0;
}

static int
md_field_add(int out, const struct maildir_filter *f, struct md_field *fl,
    char c, off_t *wrotep)
{
	if (fl->len == sizeof(fl->buf)) {
		if (!fl->judged) {
			fl->drop = f->drop(fl->buf, fl->len, f->arg) != 0;
			fl->judged = 1;
		}
		if (md_field_flush(out, f, fl, wrotep) == -1)
			return -1;
	}
	fl->buf[fl->len++] = c;
	return 0;
}

/*
 * The message's header block through the filter to out, a field at a
 * time: *offp is where the body starts in fd (its empty line included
 * in what was written), *wrotep what was written.  0, or -1 on a read
 * or write error.
 */
static int
md_header(int fd, int out, const struct maildir_filter *f, off_t *offp,
    off_t *wrotep)
{
	static struct md_field	 fl;
	enum { LINE, CR, CRLF, START, START_CR } st = START;
	off_t			 off = 0;
	ssize_t			 n, i;

	*offp = *wrotep = 0;
	fl.len = 0;
	fl.judged = fl.drop = 0;
	md_olen = 0;
	for (;;) {
		if ((n = pread(fd, md_buf, sizeof(md_buf), off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			char	 c = md_buf[i];

			if (st == CRLF && c != ' ' && c != '\t') {
				/* The field ended with its CRLF. */
				if (md_field_flush(out, f, &fl, wrotep) == -1)
					return -1;
				fl.judged = fl.drop = 0;
				st = START;
			}
			if (st == START && c == '\r') {
				st = START_CR;
				continue;
			}
			if (st == START_CR && c == '\n') {
				/* The empty line: the body follows it. */
				if (md_put(out, "\r\n", 2, wrotep) == -1 ||
				    (out != -1 &&
				    write_full(out, md_obuf, md_olen) == -1))
					return -1;
				*offp = off + i + 1;
				return 0;
			}
			if (st == START_CR &&
			    md_field_add(out, f, &fl, '\r', wrotep) == -1)
				return -1;
			if (md_field_add(out, f, &fl, c, wrotep) == -1)
				return -1;
			st = c == '\r' ? CR : (st == CR && c == '\n') ? CRLF :
			    LINE;
		}
		off += n;
	}
	/* No body: the last field ends the file. */
	if (md_field_flush(out, f, &fl, wrotep) == -1 ||
	    (out != -1 && write_full(out, md_obuf, md_olen) == -1))
		return -1;
	*offp = off;
	return 0;
}

/* Every header field of the message in fd through f, nothing written. */
int
maildir_header_scan(int fd, const struct maildir_filter *f)
{
	off_t	 off, wrote;

	return md_header(fd, -1, f, &off, &wrote);
}

/*
 * Write the headers and the body from fd into tmp (a new file) and
 * fsync it; *sizep gets the size.  The tmp file is removed on failure.
 */
/*
 * The message in fd to out: hdr first, then its header through the
 * filter (if any) and its body.  *sizep gets what was written.
 */
int
maildir_copy(int fd, int out, const char *hdr, size_t hdrlen,
    const struct maildir_filter *filter, off_t *sizep)
{
	off_t	 off = 0, wrote = 0, start;
	ssize_t	 n;

	if (hdrlen > 0 && write_full(out, hdr, hdrlen) == -1)
		return -1;
	if (filter != NULL && md_header(fd, out, filter, &off, &wrote) == -1)
		return -1;
	start = off;
	for (;;) {
		if ((n = pread(fd, md_buf, sizeof(md_buf), off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		if (write_full(out, md_buf, n) == -1)
			return -1;
		off += n;
	}
	*sizep = wrote + (off - start) + (off_t)hdrlen;
	return 0;
}

/*
 * Write the headers and the body from fd into tmp (a new file) and
 * fsync it; *sizep gets the size.  The tmp file is removed on failure.
 */
static int
md_write(const char *path, const char *tmp, int fd, const char *hdr,
    size_t hdrlen, const struct maildir_filter *filter, off_t *sizep,
    char *err, size_t errlen)
{
	int	 out, ret;

	if ((out = safe_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
		return md_fail(md_errclass(errno), err, errlen, path,
		    "open tmp file");
	if (maildir_copy(fd, out, hdr, hdrlen, filter, sizep) == -1) {
		ret = md_fail(-1, err, errlen, path, "write tmp file");
		goto fail;
	}
	if (fsync(out) == -1) {
		ret = md_fail(-1, err, errlen, path, "fsync tmp file");
		goto fail;
	}
	if (close(out) == -1) {
		out = -1;
		ret = md_fail(-1, err, errlen, path, "close tmp file");
		goto fail;
	}
	return 0;
 fail:
	if (out != -1)
		close(out);
	(void)safe_unlink(tmp);
	return ret;
}

int
maildir_deliver_nosync(const char *path, int fd,
    const struct mailaddr *sender, const struct mailaddr *rcpt,
    const char *prepend, uint64_t evpid, const struct maildir_filter *filter,
    char *newp, size_t newlen, char *err, size_t errlen)
{
	char	 why[64], name[MD_NAME_MAX], from[ADDR_MAX + 1];
	char	 to[ADDR_MAX + 1], hdr[2 * ADDR_MAX + 64 + DKIM_HDR_MAX];
	char	 tmp[PATH_MAX], new[PATH_MAX];
	off_t	 size = 0;
	int	 r;

	if (md_path_check(path, why, sizeof(why)) == -1) {
		/* The path goes to the logs: no control bytes there. */
		(void)strlcpy(tmp, path, sizeof(tmp));
		for (r = 0; tmp[r] != '\0'; r++)
			if ((unsigned char)tmp[r] < 0x20 || tmp[r] == 0x7f)
				tmp[r] = '?';
		(void)snprintf(err, errlen, "%s: refused: %s", tmp, why);
		return -2;
	}
	if (md_addr_text(sender, from, sizeof(from)) == -1 ||
	    md_addr_text(rcpt, to, sizeof(to)) == -1 || to[0] == '\0') {
		(void)snprintf(err, errlen, "%s: refused: bad address", path);
		return -2;
	}
	r = snprintf(hdr, sizeof(hdr),
	    "Return-Path: <%s>\r\nDelivered-To: %s\r\n%s", from, to,
	    prepend != NULL ? prepend : "");
	if (r < 0 || (size_t)r >= sizeof(hdr)) {
		(void)snprintf(err, errlen, "%s: refused: bad address", path);
		return -2;
	}
	if ((r = md_mkdirs(path, err, errlen)) != 0)
		return r;

	if (md_uniq(name, sizeof(name), evpid) == -1) {
		errno = ENAMETOOLONG;
		return md_fail(-1, err, errlen, path, "unique name");
	}
	r = snprintf(tmp, sizeof(tmp), "%s/tmp/%s", path, name);
	if (r < 0 || (size_t)r >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return md_fail(-2, err, errlen, path, "tmp/%s", name);
	}
	if ((r = md_write(path, tmp, fd, hdr, strlen(hdr), filter, &size, err,
	    errlen)) != 0)
		return r;

	/* ,S= lets readers (Dovecot too) know the size without a stat. */
	r = snprintf(new, sizeof(new), "%s/new/%s,S=%lld", path, name,
	    (long long)size);
	if (r < 0 || (size_t)r >= sizeof(new)) {
		errno = ENAMETOOLONG;
		r = md_fail(-2, err, errlen, path, "new/%s", name);
		goto fail;
	}
	if (safe_link(tmp, new) == 0)
		(void)safe_unlink(tmp);	/* a stale tmp file harms nobody */
	else if (errno != EPERM && errno != EXDEV && errno != ENOSYS &&
	    errno != EOPNOTSUPP) {
		r = md_fail(md_errclass(errno), err, errlen, path,
		    "link into new/");
		goto fail;
	} else if (safe_rename(tmp, new) == -1) {
		/* File systems without hard links (some FUSE, AFS). */
		r = md_fail(md_errclass(errno), err, errlen, path,
		    "rename into new/");
		goto fail;
	}

	if (strlcpy(newp, new, newlen) >= newlen) {
		errno = ENAMETOOLONG;
		r = md_fail(-2, err, errlen, path, "new/%s", name);
		(void)safe_unlink(new);
		goto fail;
	}
	return 0;

 fail:
	(void)safe_unlink(tmp);
	return r;
}

int
maildir_sync(const char *path, char *err, size_t errlen)
{
	char	 dir[PATH_MAX];
	int	 dfd, r;

	r = snprintf(dir, sizeof(dir), "%s/new", path);
	if (r < 0 || (size_t)r >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return md_fail(-1, err, errlen, path, "new/");
	}
	if ((dfd = safe_open(dir, O_RDONLY | O_DIRECTORY, 0)) == -1)
		return md_fail(-1, err, errlen, path, "open new/");
	if (fsync(dfd) == -1) {
		r = md_fail(-1, err, errlen, path, "fsync new/");
		close(dfd);
		return r;
	}
	close(dfd);
	return 0;
}
