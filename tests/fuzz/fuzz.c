/*
 * Helpers shared by the fuzz targets (fuzz.h).  They are part of the
 * harness, not of maild: a failure here aborts, which libFuzzer reports
 * with the input that caused it.
 */
#include <sys/types.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "fuzz.h"
#include "imap_parser.h"

static char	 tmpdir[PATH_MAX];

static void	 tmpdir_cleanup(void);

void
fuzz_fail(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	fprintf(stderr, "fuzz property failed: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

char *
fuzz_strndup(const uint8_t *data, size_t len)
{
	char	*s;

	if ((s = malloc(len + 1)) == NULL)
		fuzz_fail("malloc");
	if (len > 0)
		memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

int
fuzz_memfd(const void *data, size_t len)
{
	char	 path[PATH_MAX];
	int	 fd;

#ifdef __linux__
	if ((fd = memfd_create("fuzz", MFD_CLOEXEC)) == -1)
		fuzz_fail("memfd_create: %s", strerror(errno));
#else
	(void)snprintf(path, sizeof(path), "%s/memfd.XXXXXX", fuzz_tmpdir());
	if ((fd = mkstemp(path)) == -1)
		fuzz_fail("mkstemp: %s", strerror(errno));
	(void)unlink(path);
#endif
	(void)path;
	if (len > 0 && write(fd, data, len) != (ssize_t)len)
		fuzz_fail("write: %s", strerror(errno));
	if (lseek(fd, 0, SEEK_SET) == -1)
		fuzz_fail("lseek: %s", strerror(errno));
	return fd;
}

/* Empty the directory (the targets make only files) and remove it. */
static void
tmpdir_cleanup(void)
{
	char		 path[PATH_MAX];
	DIR		*d;
	struct dirent	*de;

	if (tmpdir[0] == '\0' || (d = opendir(tmpdir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", tmpdir,
		    de->d_name);
		(void)unlink(path);
	}
	closedir(d);
	(void)rmdir(tmpdir);
	tmpdir[0] = '\0';
}

const char *
fuzz_tmpdir(void)
{
	const char	*base;

	if (tmpdir[0] != '\0')
		return tmpdir;
	/* Memory rather than disk when there is a choice: files churn. */
	if ((base = getenv("TMPDIR")) == NULL || base[0] == '\0')
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	if ((size_t)snprintf(tmpdir, sizeof(tmpdir), "%s/maild-fuzz.XXXXXX",
	    base) >= sizeof(tmpdir))
		fuzz_fail("TMPDIR too long");
	if (mkdtemp(tmpdir) == NULL)
		fuzz_fail("mkdtemp %s: %s", tmpdir, strerror(errno));
	if (atexit(tmpdir_cleanup) != 0)
		fuzz_fail("atexit");
	return tmpdir;
}

void
fuzz_file(const char *name, const void *data, size_t len)
{
	char	 path[PATH_MAX];
	int	 fd;

	(void)snprintf(path, sizeof(path), "%s/%s", fuzz_tmpdir(), name);
	if (data == NULL) {
		if (unlink(path) == -1 && errno != ENOENT)
			fuzz_fail("unlink %s: %s", path, strerror(errno));
		return;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		fuzz_fail("open %s: %s", path, strerror(errno));
	if (len > 0 && write(fd, data, len) != (ssize_t)len)
		fuzz_fail("write %s: %s", path, strerror(errno));
	close(fd);
}

int
fuzz_line(const uint8_t **pp, const uint8_t *end, const uint8_t **linep,
    size_t *lenp)
{
	const uint8_t	*p = *pp, *nl;

	if (p >= end)
		return 0;
	if ((nl = memchr(p, '\n', end - p)) == NULL)
		nl = end;
	*linep = p;
	*lenp = nl - p;
	*pp = nl < end ? nl + 1 : end;
	return 1;
}

size_t
fuzz_imap_feed(struct imap_parser *p, size_t line_max, const uint8_t *data,
    size_t len, void (*cb)(const struct imap_command *, void *), void *arg,
    int once)
{
	const uint8_t		*nl;
	enum imap_parse_error	 e;
	uint64_t		 size;
	size_t			 pos = 0, n, used, skip = 0;
	char			*line;
	int			 r, sync, uid, skipline = 0;

	while (pos < len) {
		if (skip > 0) {
			n = len - pos < skip ? len - pos : skip;
			pos += n;
			skip -= n;
			continue;
		}
		if (imap_parser_literal_left(p) > 0) {
			used = imap_parser_literal(p, data + pos, len - pos);
			if (used == 0 || used > len - pos)
				fuzz_fail("imap_parser_literal used %zu of %zu",
				    used, len - pos);
			pos += used;
			continue;
		}
		nl = memchr(data + pos, '\n', len - pos);
		n = nl != NULL ? (size_t)(nl - (data + pos)) : len - pos;
		if (nl == NULL || n >= line_max) {
			/* io_getline() hands out a partial line: refused. */
			if (n > line_max - 1)
				n = line_max - 1;
			pos += n;
			if (!skipline)
				imap_parser_reset(p);
			skipline = 1;
			continue;
		}
		pos += n + 1;
		if (skipline) {
			skipline = 0;
			continue;
		}
		/* Exactly the line and its NUL: ASan sees any overread. */
		line = fuzz_strndup(data + pos - n - 1, n);
		r = imap_parser_line(p, line, n);
		free(line);
		if (r == IMAP_PARSE_LITERAL) {
			(void)imap_parser_literal_size(p, &sync);
			continue;
		}
		if (r == IMAP_PARSE_ERROR) {
			(void)imap_parser_tag(p);
			(void)imap_parser_error(p, &e);
			(void)imap_parser_name(p, &uid);
			if (e == IMAP_ERR_TOOBIG) {
				size = imap_parser_literal_size(p, &sync);
				if (!sync && size > 0) {
					skip = size > SIZE_MAX ? SIZE_MAX :
					    (size_t)size;
					skipline = 1;
				}
			}
			continue;
		}
		if (r != IMAP_PARSE_DONE)
			fuzz_fail("imap_parser_line returned %d", r);
		if (cb != NULL)
			cb(imap_parser_command(p), arg);
		if (once)
			return pos;
	}
	return pos;
}

/* An IMAP response checker, independent of the command parser. */
struct rsp {
	const unsigned char	*p, *end;
	int			 flags;
	int			 depth;
};

static int	rsp_value(struct rsp *);

/* ATOM-CHAR (RFC 3501 9): CHAR except atom-specials. */
static int
rsp_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	return strchr("(){%*\"\\]", c) == NULL;
}

static int
rsp_number(struct rsp *r, uint64_t *v)
{
	const unsigned char	*start = r->p;

	*v = 0;
	while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
		if (*v > (UINT64_MAX - 9) / 10)
			return -1;
		*v = *v * 10 + (*r->p++ - '0');
	}
	return r->p > start ? 0 : -1;
}

static int
rsp_quoted(struct rsp *r)
{
	r->p++;
	while (r->p < r->end && *r->p != '"') {
		if (*r->p == '\r' || *r->p == '\n' || *r->p == '\0')
			return -1;
		if (*r->p >= 0x80 && !(r->flags & FUZZ_IMAP_UTF8))
			return -1;
		if (*r->p == '\\') {
			r->p++;
			if (r->p == r->end || (*r->p != '"' && *r->p != '\\'))
				return -1;
		}
		r->p++;
	}
	if (r->p == r->end)
		return -1;
	r->p++;
	return 0;
}

/* {n}CRLF and n bytes, or ~{n}CRLF (literal8: NULs allowed). */
static int
rsp_literal(struct rsp *r)
{
	uint64_t	 n;
	int		 lit8 = 0;

	if (*r->p == '~') {
		if (!(r->flags & FUZZ_IMAP_SECTIONS))
			return -1;
		lit8 = 1;
		r->p++;
	}
	if (r->p == r->end || *r->p++ != '{' || rsp_number(r, &n) == -1 ||
	    r->end - r->p < 3 || memcmp(r->p, "}\r\n", 3) != 0)
		return -1;
	r->p += 3;
	if (n > (uint64_t)(r->end - r->p))
		return -1;
	if (!lit8 && memchr(r->p, '\0', n) != NULL)
		return -1;
	r->p += n;
	return 0;
}

/* section-spec text up to the matching ']', then an optional <n>. */
static int
rsp_section(struct rsp *r)
{
	uint64_t	 n;
	int		 depth = 0;

	r->p++;
	while (r->p < r->end && (*r->p != ']' || depth > 0)) {
		if (*r->p == '"') {
			if (rsp_quoted(r) == -1)
				return -1;
			continue;
		}
		if (*r->p == '{')
			return -1;
		if (*r->p == '(')
			depth++;
		else if (*r->p == ')' && --depth < 0)
			return -1;
		else if (*r->p < 0x20 || *r->p >= 0x7f)
			return -1;
		r->p++;
	}
	if (r->p == r->end)
		return -1;
	r->p++;
	if (r->p < r->end && *r->p == '<') {
		r->p++;
		if (rsp_number(r, &n) == -1 || r->p == r->end || *r->p++ != '>')
			return -1;
	}
	return 0;
}

static int
rsp_list(struct rsp *r)
{
	if (++r->depth > 100)
		return -1;
	r->p++;
	if (r->p < r->end && *r->p == ')') {
		r->p++;
		r->depth--;
		return 0;
	}
	for (;;) {
		if (rsp_value(r) == -1 || r->p == r->end)
			return -1;
		if (*r->p == ')') {
			r->p++;
			r->depth--;
			return 0;
		}
		/* Address lists: "((...)(...))" with no space between. */
		if (*r->p == '(' && r->p[-1] == ')')
			continue;
		if (*r->p++ != ' ')
			return -1;
	}
}

static int
rsp_value(struct rsp *r)
{
	const unsigned char	*start;

	if (r->p == r->end)
		return -1;
	switch (*r->p) {
	case '(':
		return rsp_list(r);
	case '"':
		return rsp_quoted(r);
	case '{':
		return rsp_literal(r);
	case '~':
		if (r->end - r->p > 1 && r->p[1] == '{')
			return rsp_literal(r);
		break;
	}
	start = r->p;
	if (*r->p == '\\' && (r->flags & FUZZ_IMAP_FLAGS))
		r->p++;
	while (r->p < r->end) {
		if ((r->flags & FUZZ_IMAP_SECTIONS) && *r->p == '[') {
			if (rsp_section(r) == -1)
				return -1;
			break;
		}
		if (!rsp_atom_char(*r->p))
			break;
		r->p++;
	}
	return r->p > start && r->p[-1] != '\\' ? 0 : -1;
}

int
fuzz_imap_wellformed(const char *s, size_t len, int flags)
{
	struct rsp	 r;

	r.p = (const unsigned char *)s;
	r.end = r.p + len;
	r.flags = flags;
	r.depth = 0;
	for (;;) {
		if (rsp_value(&r) == -1)
			return 0;
		if (r.p == r.end)
			return 1;
		if (*r.p++ != ' ')
			return 0;
	}
}
