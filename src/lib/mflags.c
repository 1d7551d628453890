/*
 * Message flags in Maildir file names: parsing "<base>:2,<letters>",
 * building the name for a new flag set, renaming a message into cur/
 * with its new flags, the per-mailbox keyword table (Dovecot's
 * dovecot-keywords: "<index> <name>" lines, index 0 is letter 'a') and
 * rendering an IMAP flag list.
 *
 * Letters maild does not know are kept: other programs (Dovecot, mutt)
 * write into the same Maildir, and a flag change must not lose theirs.
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
#include "maild.h"
#include "mflags.h"
#include "safepath.h"
#include "util.h"

static const struct {
	char		 letter;
	uint32_t	 flag;
	const char	*imap;		/* NULL: not an IMAP flag */
} sysflags[] = {
	/* Rendering order of the IMAP names. */
	{ 'S', MFLAG_SEEN,	"\\Seen" },
	{ 'R', MFLAG_ANSWERED,	"\\Answered" },
	{ 'F', MFLAG_FLAGGED,	"\\Flagged" },
	{ 'T', MFLAG_DELETED,	"\\Deleted" },
	{ 'D', MFLAG_DRAFT,	"\\Draft" },
	{ 'P', MFLAG_PASSED,	NULL },
};
#define NSYSFLAGS	(sizeof(sysflags) / sizeof(sysflags[0]))

static int	name_ok(const char *, size_t);
static int	base_ok(const char *);
static int	atom_char(unsigned char);
static int	kw_parse(const char *, size_t, struct mflags_keywords *);
static int	render_add(char *, size_t, size_t *, const char *);

/* The rules of uidlist_basename(), so both agree on every name. */
static int
name_ok(const char *name, size_t max)
{
	const unsigned char	*p;
	size_t			 len;

	len = strnlen(name, max + 1);
	if (len == 0 || len > max || name[0] == '.')
		return 0;
	for (p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/')
			return 0;
	return 1;
}

static int
base_ok(const char *base)
{
	const char	*colon;

	if (!name_ok(base, MFLAGS_NAME_MAX))
		return 0;
	/* A base ending in ":2,x" would parse back as a different base. */
	if ((colon = strrchr(base, ':')) != NULL &&
	    strncmp(colon, ":2,", 3) == 0)
		return 0;
	return 1;
}

int
mflags_parse(const char *fname, char *base, size_t basesz, struct mflags *f)
{
	const unsigned char	*p;
	const char		*colon, *flags = NULL;
	unsigned char		 seen[256];
	size_t			 len, i, n;

	memset(f, 0, sizeof(*f));
	if (!name_ok(fname, MFLAGS_NAME_MAX))
		return -1;
	len = strlen(fname);
	if ((colon = strrchr(fname, ':')) != NULL &&
	    strncmp(colon, ":2,", 3) == 0) {
		len = colon - fname;
		flags = colon + 3;
	}
	if (len == 0 || len >= basesz)
		return -1;
	memcpy(base, fname, len);
	base[len] = '\0';
	if (flags == NULL)
		return 0;

	memset(seen, 0, sizeof(seen));
	for (p = (const unsigned char *)flags; *p != '\0'; p++) {
		if (*p >= 'a' && *p <= 'z') {
			f->kw |= 1U << (*p - 'a');
			continue;
		}
		for (i = 0; i < NSYSFLAGS; i++)
			if (*p == (unsigned char)sysflags[i].letter)
				break;
		if (i < NSYSFLAGS)
			f->sys |= sysflags[i].flag;
		else
			seen[*p] = 1;
	}
	/* Unknown letters, once each, in byte order. */
	for (i = 1, n = 0; i < 256; i++)
		if (seen[i])
			f->other[n++] = (char)i;
	f->other[n] = '\0';
	return 0;
}

int
mflags_build(const char *base, const struct mflags *f, char *out,
    size_t outsz)
{
	unsigned char	 set[256];
	const char	*p;
	size_t		 i, len;

	if (!base_ok(base))
		return -1;
	memset(set, 0, sizeof(set));
	for (i = 0; i < NSYSFLAGS; i++)
		if (f->sys & sysflags[i].flag)
			set[(unsigned char)sysflags[i].letter] = 1;
	for (i = 0; i < MFLAGS_KW_MAX; i++)
		if (f->kw & (1U << i))
			set['a' + i] = 1;
	for (p = f->other; p < f->other + sizeof(f->other) && *p != '\0'; p++)
		set[(unsigned char)*p] = 1;
	/* Never write what the parser would refuse or misread. */
	for (i = 0; i < 0x20; i++)
		set[i] = 0;
	set[0x7f] = set['/'] = set[':'] = 0;

	len = strlcpy(out, base, outsz);
	if (len >= outsz || strlcat(out, ":2,", outsz) >= outsz)
		return -1;
	len += 3;
	for (i = 0; i < 256; i++) {
		if (!set[i])
			continue;
		if (len + 1 >= outsz)
			return -1;
		out[len++] = (char)i;
	}
	out[len] = '\0';
	if (len > MFLAGS_NAME_MAX)
		return -1;
	return 0;
}

int
mflags_size(const char *name, uint64_t *size)
{
	const char	*p, *end;
	uint64_t	 v = 0;

	end = name + strnlen(name, MFLAGS_NAME_MAX + 1);
	for (p = name; p + 3 <= end; p++) {
		if (*p == ':')
			return 0;		/* the flags part */
		if (strncmp(p, ",S=", 3) != 0)
			continue;
		p += 3;
		if (p >= end || *p < '0' || *p > '9')
			return 0;
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			if (v > (UINT64_MAX - 9) / 10)
				return 0;
			v = v * 10 + (*p - '0');
		}
		if (p < end && *p != ',' && *p != ':')
			return 0;
		*size = v;
		return 1;
	}
	return 0;
}

int
mflags_rename(const char *dir, const char *file, const struct mflags *f,
    char *newfile, size_t newfilesz)
{
	struct mflags	 cur, want;
	struct stat	 st;
	char		 base[MFLAGS_NAME_MAX + 1], name[MFLAGS_NAME_MAX + 1];
	char		 from[PATH_MAX], to[PATH_MAX], rel[MFLAGS_NAME_MAX + 5];

	if ((strncmp(file, "new/", 4) != 0 && strncmp(file, "cur/", 4) != 0) ||
	    mflags_parse(file + 4, base, sizeof(base), &cur) == -1) {
		errno = EINVAL;
		return -1;
	}
	/* Unknown letters come from the name on disk, not the caller. */
	want = cur;
	want.sys = f->sys & ~MFLAG_RECENT;
	want.kw = f->kw & ((1U << MFLAGS_KW_MAX) - 1);
	if (mflags_build(base, &want, name, sizeof(name)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((size_t)snprintf(rel, sizeof(rel), "cur/%s", name) >= sizeof(rel) ||
	    (size_t)snprintf(from, sizeof(from), "%s/%s", dir, file) >=
	    sizeof(from) ||
	    (size_t)snprintf(to, sizeof(to), "%s/%s", dir, rel) >= sizeof(to)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (newfile != NULL && strlcpy(newfile, rel, newfilesz) >= newfilesz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (strcmp(file, rel) == 0) {
		/* Nothing to rename, but say if the file is gone. */
		if (safe_lstat(from, &st) == -1)
			return errno == ENOENT ? 0 : -1;
		return 1;
	}
	if (safe_rename(from, to) == -1) {
		if (errno == ENOENT) {
			log_debug("%s: gone before flag change", from);
			return 0;
		}
		log_warn("rename %s", from);
		return -1;
	}
	return 1;
}

/* ATOM-CHAR of RFC 3501, minus '\' (only system flags start with it). */
static int
atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	return strchr("(){%*\"\\]", c) == NULL;
}

int
mflags_kw_valid(const char *name)
{
	size_t	 i;

	for (i = 0; i <= MFLAGS_KW_NAME_MAX; i++) {
		if (name[i] == '\0')
			return i > 0;
		if (!atom_char((unsigned char)name[i]))
			return 0;
	}
	return 0;
}

int
mflags_kw_lookup(const struct mflags_keywords *kw, const char *name)
{
	int	 i;

	for (i = 0; i < MFLAGS_KW_MAX; i++)
		if (kw->name[i] != NULL && strcasecmp(kw->name[i], name) == 0)
			return i;
	return -1;
}

int
mflags_kw_assign(struct mflags_keywords *kw, const char *name)
{
	int	 i;

	if (!mflags_kw_valid(name))
		return MFLAGS_KW_INVALID;
	if ((i = mflags_kw_lookup(kw, name)) != -1)
		return i;
	for (i = 0; i < MFLAGS_KW_MAX; i++)
		if (kw->name[i] == NULL)
			break;
	if (i == MFLAGS_KW_MAX)
		return MFLAGS_KW_FULL;
	if ((kw->name[i] = strdup(name)) == NULL)
		fatal("strdup");
	return i;
}

int
mflags_kw_count(const struct mflags_keywords *kw)
{
	int	 i, n = 0;

	for (i = 0; i < MFLAGS_KW_MAX; i++)
		if (kw->name[i] != NULL)
			n++;
	return n;
}

void
mflags_kw_free(struct mflags_keywords *kw)
{
	int	 i;

	for (i = 0; i < MFLAGS_KW_MAX; i++) {
		free(kw->name[i]);
		kw->name[i] = NULL;
	}
}

/* Strict: any line that is not "<index> <atom>\n" spoils the file. */
static int
kw_parse(const char *buf, size_t len, struct mflags_keywords *kw)
{
	char		 name[MFLAGS_KW_NAME_MAX + 1];
	const char	*p = buf, *end = buf + len, *nl, *sp;
	size_t		 nlen;
	int		 idx;

	if (memchr(buf, '\0', len) != NULL)
		return -1;
	while (p < end) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			return -1;		/* last line unterminated */
		if ((sp = memchr(p, ' ', nl - p)) == NULL || sp == p ||
		    sp - p > 2 || (sp - p == 2 && p[0] == '0'))
			return -1;
		if (p[0] < '0' || p[0] > '9' ||
		    (sp - p == 2 && (p[1] < '0' || p[1] > '9')))
			return -1;
		idx = p[0] - '0';
		if (sp - p == 2)
			idx = idx * 10 + (p[1] - '0');
		if (idx >= MFLAGS_KW_MAX || kw->name[idx] != NULL)
			return -1;
		nlen = nl - (sp + 1);
		if (nlen == 0 || nlen > MFLAGS_KW_NAME_MAX)
			return -1;
		memcpy(name, sp + 1, nlen);
		name[nlen] = '\0';
		if (!mflags_kw_valid(name) || mflags_kw_lookup(kw, name) != -1)
			return -1;
		if ((kw->name[idx] = strdup(name)) == NULL)
			fatal("strdup");
		p = nl + 1;
	}
	return 0;
}

int
mflags_kw_load(const char *dir, struct mflags_keywords *kw)
{
	struct stat	 st;
	char		 path[PATH_MAX], *buf = NULL;
	size_t		 len = 0;
	int		 fd, ret = MFLAGS_KW_ERROR, saved;

	memset(kw, 0, sizeof(*kw));
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
	    MFLAGS_KW_FILE) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return MFLAGS_KW_ERROR;
	}
	if ((fd = safe_open(path, O_RDONLY, 0)) == -1)
		return errno == ENOENT ? MFLAGS_KW_NOFILE : MFLAGS_KW_ERROR;
	if (fstat(fd, &st) == -1)
		goto done;
	if (!S_ISREG(st.st_mode) || st.st_size > MFLAGS_KW_FILE_MAX) {
		log_warnx("%s: not a regular file or too large", path);
		ret = MFLAGS_KW_CORRUPT;
		goto done;
	}
	/* The file may have grown since the fstat. */
	if ((buf = read_fd(fd, MFLAGS_KW_FILE_MAX, &len)) == NULL &&
	    errno != EFBIG)
		goto done;
	if (buf == NULL || kw_parse(buf, len, kw) == -1) {
		log_warnx("%s: corrupt keyword list", path);
		mflags_kw_free(kw);
		ret = MFLAGS_KW_CORRUPT;
		goto done;
	}
	ret = MFLAGS_KW_OK;
 done:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return ret;
}

int
mflags_kw_save(const char *dir, const struct mflags_keywords *kw)
{
	char	 buf[MFLAGS_KW_MAX * (MFLAGS_KW_NAME_MAX + 8)];
	char	 tmp[PATH_MAX], path[PATH_MAX];
	size_t	 len = 0;
	int	 i, n, fd, saved;

	for (i = 0; i < MFLAGS_KW_MAX; i++) {
		if (kw->name[i] == NULL)
			continue;
		if (!mflags_kw_valid(kw->name[i])) {
			errno = EINVAL;
			return -1;
		}
		n = snprintf(buf + len, sizeof(buf) - len, "%d %s\n", i,
		    kw->name[i]);
		if (n < 0 || (size_t)n >= sizeof(buf) - len)
			fatalx("mflags_kw_save: buffer");
		len += n;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
	    MFLAGS_KW_FILE) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/%s.tmp.%ld", dir,
	    MFLAGS_KW_FILE, (long)getpid()) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = safe_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 &&
	    errno == EEXIST) {
		/* Left over by a crash of a process with our pid. */
		(void)safe_unlink(tmp);
		fd = safe_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	}
	if (fd == -1) {
		log_warn("%s", tmp);
		return -1;
	}
	if (write_full(fd, buf, len) == -1 || fsync(fd) == -1) {
		saved = errno;
		log_warn("%s", tmp);
		close(fd);
		goto fail;
	}
	if (close(fd) == -1) {
		saved = errno;
		log_warn("%s", tmp);
		goto fail;
	}
	if (safe_rename(tmp, path) == -1) {
		saved = errno;
		log_warn("rename %s", path);
		goto fail;
	}
	return 0;
 fail:
	(void)safe_unlink(tmp);
	errno = saved;
	return -1;
}

uint32_t
mflags_imap_flag(const char *name)
{
	size_t	 i;

	for (i = 0; i < NSYSFLAGS; i++)
		if (sysflags[i].imap != NULL &&
		    strcasecmp(name, sysflags[i].imap) == 0)
			return sysflags[i].flag;
	if (strcasecmp(name, "\\Recent") == 0)
		return MFLAG_RECENT;
	return 0;
}

static int
render_add(char *out, size_t outsz, size_t *len, const char *s)
{
	size_t	 n;

	n = strlen(s);
	if (*len > 1)
		n++;
	if (*len + n >= outsz)
		return -1;
	if (*len > 1)
		out[(*len)++] = ' ';
	memcpy(out + *len, s, strlen(s));
	*len += strlen(s);
	out[*len] = '\0';
	return 0;
}

int
mflags_render(const struct mflags *f, const struct mflags_keywords *kw,
    char *out, size_t outsz)
{
	size_t	 i, len = 1;

	if (outsz < 3)
		return -1;
	out[0] = '(';
	out[1] = '\0';
	for (i = 0; i < NSYSFLAGS; i++)
		if (sysflags[i].imap != NULL && (f->sys & sysflags[i].flag) &&
		    render_add(out, outsz, &len, sysflags[i].imap) == -1)
			goto small;
	if ((f->sys & MFLAG_RECENT) &&
	    render_add(out, outsz, &len, "\\Recent") == -1)
		goto small;
	for (i = 0; kw != NULL && i < MFLAGS_KW_MAX; i++)
		if ((f->kw & (1U << i)) && kw->name[i] != NULL &&
		    render_add(out, outsz, &len, kw->name[i]) == -1)
			goto small;
	if (len + 1 >= outsz)
		goto small;
	out[len++] = ')';
	out[len] = '\0';
	return 0;
 small:
	strlcpy(out, "()", outsz);
	return -1;
}
