/*
 * The METADATA entries of a mailbox, or the private server entries of
 * a user, in one small file (include/metadata.h has the format): entry
 * names checked as RFC 5464 3.2 asks, a hostile or damaged file refused
 * whole (read as empty, logged), and the file replaced atomically and
 * durably when it changes.  Only the imap process writes these files,
 * one change at a time, so no lock is needed.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "compat.h"
#include "log.h"
#include "metadata.h"
#include "safepath.h"
#include "util.h"

#define MD_MAGIC	"maild-metadata 1 C"
#define MD_FILE_MAX	(METADATA_ENTRIES_MAX * (METADATA_NAME_MAX + \
			    METADATA_VALUE_MAX + 32) + 64)

static int	 md_parse(struct metadata *, const char *, size_t);
static int	 parse_size(const char **, const char *, size_t, size_t *);
static size_t	 md_find(const struct metadata *, const char *, int *);
static int	 dir_fsync(const char *);

int
metadata_name(const char *s, size_t len, char *out, const char **why)
{
	size_t	 i;

	*why = NULL;
	if (len == 0 || s[0] != '/')
		*why = "Entry name must begin with /private or /shared";
	else if (len > METADATA_NAME_MAX)
		*why = "Entry name too long";
	for (i = 0; i < len && *why == NULL; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			*why = "Entry name must be printable ASCII";
		else if (s[i] == '*' || s[i] == '%')
			*why = "Entry name must not contain * or %";
		else if (s[i] == '/' && i > 0 && s[i - 1] == '/')
			*why = "Entry name must not contain //";
		else if (s[i] == '/' && i == len - 1)
			*why = "Entry name must not end with /";
	}
	if (*why != NULL)
		return -1;
	for (i = 0; i < len; i++)
		out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 'a' - 'A' :
		    s[i];
	out[len] = '\0';
	if (strncmp(out, "/private", 8) == 0 &&
	    (out[8] == '\0' || out[8] == '/'))
		return 0;
	if (strncmp(out, "/shared", 7) == 0 &&
	    (out[7] == '\0' || out[7] == '/'))
		return 0;
	*why = "Entry name must begin with /private or /shared";
	return -1;
}

int
metadata_is_root(const char *name)
{
	return strcmp(name, "/private") == 0 || strcmp(name, "/shared") == 0;
}

int
metadata_is_shared(const char *name)
{
	return strncmp(name, "/shared", 7) == 0 &&
	    (name[7] == '\0' || name[7] == '/');
}

void
metadata_free(struct metadata *md)
{
	size_t	 i;

	for (i = 0; i < md->n; i++) {
		free(md->ent[i].name);
		free(md->ent[i].value);
	}
	free(md->ent);
	md->ent = NULL;
	md->n = 0;
}

/* Decimal at *pp, no sign or leading zero, at most max: 0 or -1. */
static int
parse_size(const char **pp, const char *end, size_t max, size_t *out)
{
	const char	*p = *pp;
	size_t		 v = 0;

	if (p >= end || *p < '0' || *p > '9' ||
	    (*p == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9'))
		return -1;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (size_t)(*p - '0');
		if (v > max)
			return -1;
	}
	*pp = p;
	*out = v;
	return 0;
}

/* The whole file, or -1: anything unexpected is damage. */
static int
md_parse(struct metadata *md, const char *buf, size_t len)
{
	const char	*p = buf, *end = buf + len, *eol, *why;
	char		 name[METADATA_NAME_MAX + 1];
	size_t		 count, vlen, i;

	if (len < sizeof(MD_MAGIC) - 1 ||
	    memcmp(p, MD_MAGIC, sizeof(MD_MAGIC) - 1) != 0)
		return -1;
	p += sizeof(MD_MAGIC) - 1;
	if ((eol = memchr(p, '\n', end - p)) == NULL ||
	    parse_size(&p, eol, METADATA_ENTRIES_MAX, &count) == -1 ||
	    p != eol)
		return -1;
	if (count > 0 && (md->ent = calloc(count, sizeof(*md->ent))) == NULL)
		fatal("calloc");
	for (i = 0, p = eol + 1; i < count; i++) {
		if ((eol = memchr(p, '\n', end - p)) == NULL ||
		    parse_size(&p, eol, METADATA_VALUE_MAX, &vlen) == -1 ||
		    p == eol || *p++ != ' ' ||
		    metadata_name(p, eol - p, name, &why) == -1 ||
		    memcmp(p, name, eol - p) != 0 || metadata_is_root(name) ||
		    (i > 0 && strcmp(md->ent[i - 1].name, name) >= 0))
			return -1;
		p = eol + 1;
		if ((size_t)(end - p) < vlen + 1 || p[vlen] != '\n')
			return -1;
		if ((md->ent[i].name = strdup(name)) == NULL ||
		    (md->ent[i].value = malloc(vlen + 1)) == NULL)
			fatal("malloc");
		memcpy(md->ent[i].value, p, vlen);
		md->ent[i].value[vlen] = '\0';
		md->ent[i].len = vlen;
		md->n++;
		p += vlen + 1;
	}
	return p == end ? 0 : -1;
}

int
metadata_load(const char *dir, const char *file, struct metadata *md)
{
	struct stat	 st;
	char		 path[PATH_MAX], *buf;
	size_t		 len;
	int		 fd, saved;

	memset(md, 0, sizeof(*md));
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = safe_open(path, O_RDONLY | O_NONBLOCK, 0)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > MD_FILE_MAX) {
		close(fd);
		log_warnx("%s: not a regular file or too large, ignored",
		    path);
		return 0;
	}
	buf = read_fd(fd, MD_FILE_MAX, &len);
	saved = errno;
	close(fd);
	if (buf == NULL) {
		if (saved == EFBIG) {
			log_warnx("%s: too large, ignored", path);
			return 0;
		}
		errno = saved;
		return -1;
	}
	if (md_parse(md, buf, len) == -1) {
		log_warnx("%s: damaged, ignored", path);
		metadata_free(md);
	}
	free(buf);
	return 0;
}

static int
dir_fsync(const char *dir)
{
	int	 fd, r, saved;

	if ((fd = safe_open(dir, O_RDONLY | O_DIRECTORY, 0)) == -1)
		return -1;
	r = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

int
metadata_save(const char *dir, const char *file, const struct metadata *md)
{
	char	 path[PATH_MAX], tmp[PATH_MAX], *buf = NULL;
	size_t	 i, need, len;
	int	 fd = -1, n, saved;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >=
	    sizeof(path) || (size_t)snprintf(tmp, sizeof(tmp),
	    "%s/%s.tmp.%ld", dir, file, (long)getpid()) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (md->n == 0) {
		if (safe_unlink(path) == -1 && errno != ENOENT)
			return -1;
		return dir_fsync(dir);
	}
	need = sizeof(MD_MAGIC) + 32;
	for (i = 0; i < md->n; i++)
		need += strlen(md->ent[i].name) + md->ent[i].len + 32;
	if ((buf = malloc(need)) == NULL)
		fatal("malloc");
	len = snprintf(buf, need, "%s%zu\n", MD_MAGIC, md->n);
	for (i = 0; i < md->n; i++) {
		n = snprintf(buf + len, need - len, "%zu %s\n", md->ent[i].len,
		    md->ent[i].name);
		if (n < 0 || (size_t)n >= need - len)
			fatalx("metadata_save: line");
		len += n;
		memcpy(buf + len, md->ent[i].value, md->ent[i].len);
		len += md->ent[i].len;
		buf[len++] = '\n';
	}
	(void)safe_unlink(tmp);		/* left over by a crash of our pid */
	if ((fd = safe_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
		goto fail;
	if (write_full(fd, buf, len) == -1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (safe_rename(tmp, path) == -1)
		goto fail;
	free(buf);
	/* The rename itself must survive a crash of the machine. */
	return dir_fsync(dir);
 fail:
	saved = errno;
	log_warn("%s", tmp);
	if (fd != -1)
		close(fd);
	(void)safe_unlink(tmp);
	free(buf);
	errno = saved;
	return -1;
}

/* Index of name, or where it would go (*found 0). */
static size_t
md_find(const struct metadata *md, const char *name, int *found)
{
	size_t	 lo = 0, hi = md->n, mid;
	int	 c;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(md->ent[mid].name, name)) == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct metadata_entry *
metadata_get(const struct metadata *md, const char *name)
{
	size_t	 i;
	int	 found;

	i = md_find(md, name, &found);
	return found ? &md->ent[i] : NULL;
}

int
metadata_set(struct metadata *md, const char *name, const char *value,
    size_t len)
{
	struct metadata_entry	*e;
	size_t			 i;
	char			*v;
	int			 found;

	i = md_find(md, name, &found);
	if (value == NULL) {
		if (!found)
			return 0;
		free(md->ent[i].name);
		free(md->ent[i].value);
		memmove(&md->ent[i], &md->ent[i + 1],
		    (md->n - i - 1) * sizeof(*md->ent));
		md->n--;
		return 0;
	}
	if (len > METADATA_VALUE_MAX)
		return METADATA_TOOBIG;
	if (!found && md->n >= METADATA_ENTRIES_MAX)
		return METADATA_TOOMANY;
	if ((v = malloc(len + 1)) == NULL)
		fatal("malloc");
	memcpy(v, value, len);
	v[len] = '\0';
	if (found) {
		free(md->ent[i].value);
		md->ent[i].value = v;
		md->ent[i].len = len;
		return 0;
	}
	if ((e = reallocarray(md->ent, md->n + 1, sizeof(*e))) == NULL)
		fatal("reallocarray");
	md->ent = e;
	memmove(&md->ent[i + 1], &md->ent[i], (md->n - i) * sizeof(*e));
	if ((md->ent[i].name = strdup(name)) == NULL)
		fatal("strdup");
	md->ent[i].value = v;
	md->ent[i].len = len;
	md->n++;
	return 0;
}

const struct metadata_entry *
metadata_next_below(const struct metadata *md, const char *name, int depth,
    size_t *pos)
{
	size_t	 nl = strlen(name);
	int	 found;

	if (*pos == 0)
		*pos = md_find(md, name, &found);
	for (; *pos < md->n; (*pos)++) {
		const char	*e = md->ent[*pos].name;

		/* Sorted: the names below are together after name. */
		if (strncmp(e, name, nl) != 0)
			return NULL;
		if (e[nl] != '/')
			continue;
		if (depth == 1 && strchr(e + nl + 1, '/') != NULL)
			continue;
		return &md->ent[(*pos)++];
	}
	return NULL;
}
