/*
 * Tables: files of "key value" lines loaded into an RB tree (keys
 * lowercased), used for virtual users, aliases, domains, user bases
 * and password hashes.  The format follows OpenSMTPD's static tables:
 * the key ends at the first space, tab or ':', then spaces, tabs and
 * colons are skipped and the rest of the line, trailing white space
 * trimmed, is the value (possibly empty: a list such as domains).
 *
 * '#' starts a comment only as the first non-blank character of a
 * line.  A '#' after a key is part of the value: values are password
 * hashes and address lists, and cutting "key pa#ss" at the '#' would
 * silently change a secret.  Blank lines are ignored.
 *
 * A load builds a new tree and swaps it in only when the whole file
 * parsed, so a bad edit never leaves a half-loaded table.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "maild.h"
#include "table.h"
#include "util.h"

#define TABLE_LINE_MAX	(64 * 1024)
#define TABLE_FILE_MAX	(64 * 1024 * 1024)

struct tentry {
	RB_ENTRY(tentry) node;
	char		*key;		/* both in the same allocation */
	char		*value;
	size_t		 vlen;
};

static int	 tentry_cmp(const struct tentry *, const struct tentry *);
static void	 free_tree(struct table_tree *, int);
static const char *tpath(const struct table *);
static int	 parse_line(const struct table *, struct table_tree *,
		    const char *, size_t, size_t, size_t *, char *, size_t);

RB_PROTOTYPE(table_tree, tentry, node, tentry_cmp)

static int
tentry_cmp(const struct tentry *a, const struct tentry *b)
{
	return strcmp(a->key, b->key);
}

RB_GENERATE(table_tree, tentry, node, tentry_cmp)

static void
free_tree(struct table_tree *tree, int secret)
{
	struct tentry	*e, *next;

	RB_FOREACH_SAFE(e, table_tree, tree, next) {
		RB_REMOVE(table_tree, tree, e);
		if (secret)
			explicit_bzero(e->value, e->vlen);
		free(e);
	}
}

/* Name used in messages: the file, or the table name for buffers. */
static const char *
tpath(const struct table *t)
{
	return t->path[0] != '\0' ? t->path : t->name;
}

/*
 * Parse one line (without its newline) into tree.  *countp counts
 * entries.  0, or -1 with "path:line: message" in err.
 */
static int
parse_line(const struct table *t, struct table_tree *tree, const char *s,
    size_t len, size_t lineno, size_t *countp, char *err, size_t errlen)
{
	struct tentry	*e;
	const char	*key, *val;
	char		 why[256];
	size_t		 klen, vlen, i;

	if (len > TABLE_LINE_MAX) {
		snprintf(err, errlen, "%s:%zu: line too long", tpath(t),
		    lineno);
		return -1;
	}
	if (len > 0 && s[len - 1] == '\r')	/* CRLF files */
		len--;
	for (i = 0; i < len; i++) {
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
		    s[i] == 0x7f) {
			snprintf(err, errlen, "%s:%zu: control character",
			    tpath(t), lineno);
			return -1;
		}
	}
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0 || *s == '#')
		return 0;

	key = s;
	for (klen = 0; klen < len; klen++)
		if (key[klen] == ' ' || key[klen] == '\t' || key[klen] == ':')
			break;
	if (klen == 0) {
		snprintf(err, errlen, "%s:%zu: empty key", tpath(t), lineno);
		return -1;
	}
	if (klen > ADDR_MAX) {
		snprintf(err, errlen, "%s:%zu: key too long", tpath(t),
		    lineno);
		return -1;
	}
	for (i = klen; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != ':')
			break;
	val = s + i;
	vlen = len - i;

	if ((e = calloc(1, sizeof(*e) + klen + 1 + vlen + 1)) == NULL)
		fatal("calloc");
	e->key = (char *)(e + 1);
	memcpy(e->key, key, klen);
	e->key[klen] = '\0';
	str_lower(e->key);
	e->value = e->key + klen + 1;
	memcpy(e->value, val, vlen);
	e->value[vlen] = '\0';
	e->vlen = vlen;

	if (t->check != NULL && t->check(e->key, e->value, why,
	    sizeof(why)) == -1) {
		snprintf(err, errlen, "%s:%zu: %s", tpath(t), lineno, why);
		if (t->flags & T_SECRET)
			explicit_bzero(e->value, vlen);
		free(e);
		return -1;
	}
	if (RB_INSERT(table_tree, tree, e) != NULL) {
		snprintf(err, errlen, "%s:%zu: duplicate key \"%s\"",
		    tpath(t), lineno, e->key);
		if (t->flags & T_SECRET)
			explicit_bzero(e->value, vlen);
		free(e);
		return -1;
	}
	(*countp)++;
	return 0;
}

int
table_load_buf(struct table *t, const char *buf, size_t len, char *err,
    size_t errlen)
{
	struct table_tree tree = RB_INITIALIZER(&tree);
	const char	*p, *end, *nl;
	size_t		 count = 0, lineno = 0;

	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: NUL byte in table", tpath(t));
		return -1;
	}

	end = buf + len;
	for (p = buf; p < end; p = nl + 1) {
		lineno++;
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		if (parse_line(t, &tree, p, nl - p, lineno, &count, err,
		    errlen) == -1) {
			free_tree(&tree, t->flags & T_SECRET);
			return -1;
		}
	}

	free_tree(&t->entries, t->flags & T_SECRET);
	explicit_bzero(t->dummy, sizeof(t->dummy));
	t->entries = tree;
	t->count = count;
	t->loaded = 1;
	return 0;
}

int
table_load_fd(struct table *t, int fd, char *err, size_t errlen)
{
	char	*buf = NULL, *nbuf;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;
	int	 r = -1;

	for (;;) {
		if (len == cap) {
			if (cap >= TABLE_FILE_MAX + 1) {
				snprintf(err, errlen, "%s: file too large",
				    tpath(t));
				goto done;
			}
			cap = cap == 0 ? 8192 : cap * 2;
			if (cap > TABLE_FILE_MAX + 1)
				cap = TABLE_FILE_MAX + 1;
			/* No realloc(): freed memory would keep secrets. */
			if ((nbuf = malloc(cap)) == NULL)
				fatal("malloc");
			if (buf != NULL) {
				memcpy(nbuf, buf, len);
				if (t->flags & T_SECRET)
					explicit_bzero(buf, len);
				free(buf);
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: read: %s", tpath(t),
			    strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		len += n;
	}
	if (len > TABLE_FILE_MAX) {
		snprintf(err, errlen, "%s: file too large", tpath(t));
		goto done;
	}
	r = table_load_buf(t, buf, len, err, errlen);
 done:
	if (buf != NULL) {
		if (t->flags & T_SECRET)
			explicit_bzero(buf, len);
		free(buf);
	}
	return r;
}

int
table_lookup(const struct table *t, const char *key, const char **valuep)
{
	struct tentry		 find, *e;
	char			 k[ADDR_MAX + 1];

	if (!t->loaded)
		return -1;
	if (strlcpy(k, key, sizeof(k)) >= sizeof(k))
		return 0;
	str_lower(k);
	find.key = k;
	/* RB_FIND takes the head unqualified; it changes nothing. */
	if ((e = RB_FIND(table_tree, (struct table_tree *)(uintptr_t)
	    &t->entries, &find)) == NULL)
		return 0;
	if (valuep != NULL)
		*valuep = e->value;
	return 1;
}

void
table_clear(struct table *t)
{
	free_tree(&t->entries, t->flags & T_SECRET);
	explicit_bzero(t->dummy, sizeof(t->dummy));
	t->count = 0;
	t->loaded = 0;
}

void
table_foreach(const struct table *t,
    void (*fn)(const char *, const char *, void *), void *arg)
{
	const struct tentry	*e;

	/* In key order: the same table gives the same walk. */
	for (e = RB_MIN(table_tree, (struct table_tree *)(uintptr_t)
	    &t->entries); e != NULL; e = RB_NEXT(table_tree, NULL,
	    (struct tentry *)(uintptr_t)e))
		fn(e->key, e->value, arg);
}

/*
 * The parent's way to open a table file: no symbolic link, directories
 * that only root (or the running user) can change, owner and mode as
 * table_check_mode() wants them.  As OpenSMTPD does for ~/.forward, a
 * doubtful file is refused, not read with a warning: a table routes
 * mail and holds passwords.
 */
int
table_open(const struct table *t, char *err, size_t errlen)
{
	int	 fd;

	if ((fd = path_open_trusted(t->path, err, errlen)) == -1)
		return -1;
	if (table_check_mode(t, fd, err, errlen) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
table_check_mode(const struct table *t, int fd, char *err, size_t errlen)
{
	struct stat	 st;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: fstat: %s", tpath(t),
		    strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", tpath(t));
		return -1;
	}
	/* Whoever may write a table may route mail or log in as anyone. */
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: owned by uid %lu, must be owned "
		    "by root", tpath(t), (unsigned long)st.st_uid);
		return -1;
	}
	if (st.st_mode & 022) {
		snprintf(err, errlen, "%s: writable by group or others; "
		    "run chmod go-w %s", tpath(t), tpath(t));
		return -1;
	}
	if ((t->flags & T_SECRET) && (st.st_mode & 004)) {
		snprintf(err, errlen, "%s: holds secrets but is readable by "
		    "others; run chmod o-r %s", tpath(t), tpath(t));
		return -1;
	}
	return 0;
}
