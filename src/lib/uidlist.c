/*
 * UID list of a Maildir++ mailbox: reading, validating and atomically
 * writing <mailbox>/maild-uidlist, importing Dovecot's dovecot-uidlist,
 * and the UIDVALIDITY counter of the mail root.  The file format only:
 * the open mailbox (imap_mbox*.c) keeps the list in memory and syncs it
 * with the files in new/ and cur/ (imap_mbox_sync.c).
 *
 * File format (one record per line, LF-terminated, no NUL bytes):
 *	maild-uidlist 2 V<uidvalidity> N<uidnext> M<highestmodseq> C<count>
 *	    I<mailboxid> [R<first recent uid>]
 *	<uid> <modseq> <base name>
 *	...
 * (the header is one line; version 1, still read, has no I field).
 * UIDs strictly ascending, each below UIDNEXT; every MODSEQ at most
 * HIGHESTMODSEQ; base names valid and unique; exactly <count> records.
 * R (optional, at most UIDNEXT): the first UID no IMAP session has had
 * as \Recent yet (RFC 3501 2.3.2); without it, none of the list is.
 * Anything else makes the whole file corrupt: a wrong UID is worse than
 * a new UIDVALIDITY.
 *
 * The UIDVALIDITY counter of the mail root (maild-uidvalidity):
 *	maild-uidvalidity 1 V<last UIDVALIDITY handed out>
 * Only the imap process writes it (one process, no lock needed).  A
 * missing or unreadable file counts as 0: the clock still gives values
 * above any a client could have seen, unless the counter had run ahead
 * of the clock, which every list read in the meantime corrects.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "log.h"
#include "maild.h"
#include "safepath.h"
#include "uidlist.h"
#include "util.h"

#define UIDLIST_MAGIC		"maild-uidlist"
#define HEADER_MAX		256	/* bytes of a header line */
#define STATE_MAGIC		"maild-uidvalidity 1 V"
#define STATE_MAX		64	/* bytes of the state file */

struct obuf {
	char	*data;
	size_t	 len, size;
};

static int	 uidlist_write(struct uidlist *, int);
static void	 ent_append(struct uidlist *, uint32_t, uint64_t, char *);
static int	 name_cmp(const void *, const void *);
static int	 names_unique(const struct uidlist *);
static int	 read_file(const char *, const char *, char **, size_t *);
static int	 parse_num(const char **, const char *, uint64_t, uint64_t *);
static int	 parse_maild(struct uidlist *, const char *, size_t);
static int	 parse_dovecot(struct uidlist *, const char *, size_t);
static int	 name_is_base(const char *, size_t);
static void	 obuf_add(struct obuf *, const char *, size_t);
static void	 uv_seen(uint32_t);
static uint32_t	 uv_read(void);
static int	 uv_write(uint32_t);

static void	 ensure_mailboxid(struct uidlist *);

static uint32_t	 uv_last;		/* highest UIDVALIDITY known */
static char	 uv_path[1024] = UIDLIST_STATE;

struct uidlist *
uidlist_new(const char *dir, uint32_t uidvalidity)
{
	struct uidlist	*ul;

	if ((ul = calloc(1, sizeof(*ul))) == NULL)
		fatal("calloc");
	if (strlcpy(ul->dir, dir, sizeof(ul->dir)) >= sizeof(ul->dir)) {
		free(ul);
		return NULL;
	}
	ul->uidvalidity = uidvalidity;
	ul->uidnext = 1;
	ul->highestmodseq = 1;
	return ul;
}

void
uidlist_free(struct uidlist *ul)
{
	size_t	 i;

	if (ul == NULL)
		return;
	for (i = 0; i < ul->n; i++)
		free(ul->ent[i].name);
	free(ul->ent);
	free(ul);
}

/*
 * Names come from the file system and from files on disk: anything that
 * could break the line format or a path is refused, not repaired.
 */
int
uidlist_basename(const char *fname, char *buf, size_t bufsz)
{
	const unsigned char	*p;
	const char		*colon;
	size_t			 len;

	len = strnlen(fname, UIDLIST_NAME_MAX + 1);
	if (len == 0 || len > UIDLIST_NAME_MAX || fname[0] == '.')
		return -1;
	for (p = (const unsigned char *)fname; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/')
			return -1;
	/* Only the Maildir info ":2,..." is stripped; ",S=" stays. */
	if ((colon = strrchr(fname, ':')) != NULL &&
	    strncmp(colon, ":2,", 3) == 0)
		len = colon - fname;
	if (len == 0 || len >= bufsz)
		return -1;
	/* A base with its own ":2," would read back as another name. */
	if (memmem(fname, len, ":2,", 3) != NULL)
		return -1;
	memcpy(buf, fname, len);
	buf[len] = '\0';
	return 0;
}

static int
name_is_base(const char *name, size_t len)
{
	char	 raw[UIDLIST_NAME_MAX + 1], buf[UIDLIST_NAME_MAX + 1];

	/* name is not NUL-terminated: it points into the file's bytes. */
	if (len == 0 || len > UIDLIST_NAME_MAX)
		return 0;
	memcpy(raw, name, len);
	raw[len] = '\0';
	if (uidlist_basename(raw, buf, sizeof(buf)) == -1)
		return 0;
	return strlen(buf) == len;
}

/* Append an entry (uid above the others), taking ownership of name. */
static void
ent_append(struct uidlist *ul, uint32_t uid, uint64_t modseq, char *name)
{
	struct uidlist_entry	*e;
	size_t			 ncap;

	if (ul->n == ul->cap) {
		ncap = ul->cap == 0 ? 256 : ul->cap * 2;
		if ((e = reallocarray(ul->ent, ncap, sizeof(*e))) == NULL)
			fatal("reallocarray");
		ul->ent = e;
		ul->cap = ncap;
	}
	e = &ul->ent[ul->n++];
	e->uid = uid;
	e->modseq = modseq;
	e->name = name;
}

static int
name_cmp(const void *a, const void *b)
{
	const char *const	*x = a, *const *y = b;

	return strcmp(*x, *y);
}

/* 1 if no base name is there twice (it would be two UIDs for a file). */
static int
names_unique(const struct uidlist *ul)
{
	const char	**v;
	size_t		  i;
	int		  ret = 1;

	if (ul->n < 2)
		return 1;
	if ((v = calloc(ul->n, sizeof(*v))) == NULL)
		fatal("calloc");
	for (i = 0; i < ul->n; i++)
		v[i] = ul->ent[i].name;
	qsort(v, ul->n, sizeof(*v), name_cmp);
	for (i = 1; i < ul->n && ret; i++)
		if (strcmp(v[i - 1], v[i]) == 0)
			ret = 0;
	free(v);
	return ret;
}

/*
 * Read dir/name whole.  UIDLIST_OK, UIDLIST_NOFILE, UIDLIST_ERROR,
 * UIDLIST_CORRUPT (not a regular file, too big, NUL bytes).
 */
static int
read_file(const char *dir, const char *name, char **out, size_t *outlen)
{
	struct stat	 st;
	char		 path[PATH_MAX], *buf = NULL;
	size_t		 len = 0;
	ssize_t		 r;
	int		 fd, ret = UIDLIST_ERROR, saved;

	*out = NULL;
	*outlen = 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return UIDLIST_ERROR;
	}
	if ((fd = safe_open(path, O_RDONLY | O_NONBLOCK, 0)) == -1) {
		if (errno == ENOENT)
			return UIDLIST_NOFILE;
		/* A link as the list: replaced; above it: an error. */
		if (errno == ELOOP && safe_lstat(path, &st) == 0 &&
		    S_ISLNK(st.st_mode))
			return UIDLIST_CORRUPT;
		return UIDLIST_ERROR;
	}
	if (fstat(fd, &st) == -1)
		goto done;
	if (!S_ISREG(st.st_mode) || st.st_size > UIDLIST_MAX_FILE) {
		log_warnx("%s: not a regular file or too large", path);
		ret = UIDLIST_CORRUPT;
		goto done;
	}
	/* One byte more than the size, to see a file that grew. */
	if ((buf = malloc((size_t)st.st_size + 2)) == NULL)
		fatal("malloc");
	for (;;) {
		r = read(fd, buf + len, (size_t)st.st_size + 1 - len);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			goto done;
		}
		if (r == 0)
			break;
		len += r;
		if (len > (size_t)st.st_size) {
			log_warnx("%s: changed while being read", path);
			ret = UIDLIST_CORRUPT;
			goto done;
		}
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		log_warnx("%s: NUL byte", path);
		ret = UIDLIST_CORRUPT;
		goto done;
	}
	*out = buf;
	*outlen = len;
	buf = NULL;
	ret = UIDLIST_OK;
 done:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return ret;
}

/* Decimal number at *pp, at most max, no sign: 0 or -1. */
static int
parse_num(const char **pp, const char *end, uint64_t max, uint64_t *out)
{
	const char	*p = *pp;
	uint64_t	 v = 0;
	int		 digits = 0;

	while (p < end && *p >= '0' && *p <= '9') {
		if (digits == 1 && v == 0)
			return -1;	/* leading zero */
		/* v * 10 + digit <= max, without max - digit wrapping */
		if ((uint64_t)(*p - '0') > max ||
		    v > (max - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
		digits++;
		p++;
	}
	if (digits == 0)
		return -1;
	*pp = p;
	*out = v;
	return 0;
}

static int
parse_maild(struct uidlist *ul, const char *buf, size_t len)
{
	const char	*p = buf, *end = buf + len, *eol;
	uint64_t	 version, uv, next, hms, count, uid, modseq, recent;
	uint32_t	 last = 0;
	size_t		 nlen;
	char		*name;

	if ((eol = memchr(p, '\n', len)) == NULL || eol - p > HEADER_MAX)
		return -1;
	if ((size_t)(eol - p) < sizeof(UIDLIST_MAGIC) ||
	    memcmp(p, UIDLIST_MAGIC " ", sizeof(UIDLIST_MAGIC)) != 0)
		return -1;
	p += sizeof(UIDLIST_MAGIC);
	if (parse_num(&p, eol, 1000, &version) == -1 ||
	    (version != 1 && version != UIDLIST_VERSION))
		return -1;
	if (eol - p < 3 || memcmp(p, " V", 2) != 0)
		return -1;
	p += 2;
	if (parse_num(&p, eol, UINT32_MAX, &uv) == -1 || uv == 0)
		return -1;
	if (eol - p < 3 || memcmp(p, " N", 2) != 0)
		return -1;
	p += 2;
	if (parse_num(&p, eol, UINT32_MAX, &next) == -1 || next == 0)
		return -1;
	if (eol - p < 3 || memcmp(p, " M", 2) != 0)
		return -1;
	p += 2;
	if (parse_num(&p, eol, INT64_MAX, &hms) == -1 || hms == 0)
		return -1;
	if (eol - p < 3 || memcmp(p, " C", 2) != 0)
		return -1;
	p += 2;
	if (parse_num(&p, eol, UIDLIST_MAX_ENTRIES, &count) == -1)
		return -1;
	if (version >= 2) {
		const char	*ie;

		if (eol - p < 3 || memcmp(p, " I", 2) != 0)
			return -1;
		p += 2;
		for (ie = p; ie < eol && *ie != ' '; ie++)
			;
		if (!uidlist_objectid_valid(p, ie - p))
			return -1;
		memcpy(ul->mailboxid, p, ie - p);
		ul->mailboxid[ie - p] = '\0';
		p = ie;
	}
	if (p != eol) {
		if (eol - p < 3 || memcmp(p, " R", 2) != 0)
			return -1;
		p += 2;
		if (parse_num(&p, eol, next, &recent) == -1 || recent == 0 ||
		    p != eol)
			return -1;
		ul->firstrecent = recent;
	}
	ul->uidvalidity = uv;
	ul->uidnext = next;
	ul->highestmodseq = hms;

	for (p = eol + 1; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', end - p)) == NULL)
			return -1;	/* truncated last line */
		if (parse_num(&p, eol, UINT32_MAX, &uid) == -1 ||
		    uid <= last || uid >= next)
			return -1;
		if (p == eol || *p++ != ' ')
			return -1;
		if (parse_num(&p, eol, hms, &modseq) == -1 || modseq == 0)
			return -1;
		if (p == eol || *p++ != ' ')
			return -1;
		nlen = eol - p;
		if (!name_is_base(p, nlen) || ul->n >= count)
			return -1;
		if ((name = strndup(p, nlen)) == NULL)
			fatal("strndup");
		ent_append(ul, uid, modseq, name);
		last = uid;
	}
	if (ul->n != count || !names_unique(ul))
		return -1;
	return 0;
}

int
uidlist_load(const char *dir, struct uidlist **out)
{
	struct uidlist	*ul;
	char		*buf;
	size_t		 len;
	int		 r;

	*out = NULL;
	if ((r = read_file(dir, UIDLIST_FILE, &buf, &len)) != UIDLIST_OK)
		return r;
	if ((ul = uidlist_new(dir, 1)) == NULL) {
		free(buf);
		errno = ENAMETOOLONG;
		return UIDLIST_ERROR;
	}
	if (parse_maild(ul, buf, len) == -1) {
		log_warnx("%s/%s: corrupt", dir, UIDLIST_FILE);
		free(buf);
		uidlist_free(ul);
		return UIDLIST_CORRUPT;
	}
	free(buf);
	ensure_mailboxid(ul);
	*out = ul;
	return UIDLIST_OK;
}

/*
 * Dovecot's version 3 list: "3 V<uidvalidity> N<nextuid> [other keys]",
 * then "<uid> [extension fields] :<file name>" per message.
 */
static int
parse_dovecot(struct uidlist *ul, const char *buf, size_t len)
{
	const char	*p = buf, *end = buf + len, *eol, *colon, *g;
	uint64_t	 v, uv = 0, next = 0, uid;
	uint32_t	 last = 0;
	char		 raw[UIDLIST_NAME_MAX + 1], base[UIDLIST_NAME_MAX + 1];
	char		*name;
	char		 key;

	if ((eol = memchr(p, '\n', len)) == NULL || eol - p > HEADER_MAX)
		return -1;
	if (eol - p < 2 || memcmp(p, "3 ", 2) != 0)
		return -1;
	p += 1;
	while (p < eol) {
		if (*p++ != ' ' || p == eol)
			return -1;
		key = *p++;
		if (key == 'V' || key == 'N') {
			if (parse_num(&p, eol, UINT32_MAX, &v) == -1)
				return -1;
			if (key == 'V')
				uv = v;
			else
				next = v;
		}
		/* The mailbox GUID is Dovecot's MAILBOXID: keep it. */
		g = p;
		while (p < eol && *p != ' ')
			p++;
		if (key == 'G' && uidlist_objectid_valid(g, p - g)) {
			memcpy(ul->mailboxid, g, p - g);
			ul->mailboxid[p - g] = '\0';
		}
		/* Other keys do not matter here. */
	}
	if (uv == 0 || next == 0)
		return -1;

	for (p = eol + 1; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', end - p)) == NULL)
			return -1;
		if (parse_num(&p, eol, UINT32_MAX - 1, &uid) == -1 ||
		    uid <= last)
			return -1;
		/* The name follows the first " :"; fields come before. */
		for (colon = p; colon < eol; colon++)
			if (*colon == ':' && colon[-1] == ' ')
				break;
		if (colon >= eol || colon + 1 == eol ||
		    eol - (colon + 1) > UIDLIST_NAME_MAX)
			return -1;
		memcpy(raw, colon + 1, eol - (colon + 1));
		raw[eol - (colon + 1)] = '\0';
		if (uidlist_basename(raw, base, sizeof(base)) == -1)
			return -1;
		if (ul->n >= UIDLIST_MAX_ENTRIES)
			return -1;
		if ((name = strdup(base)) == NULL)
			fatal("strdup");
		ent_append(ul, uid, 1, name);
		last = uid;
	}
	if (!names_unique(ul))
		return -1;
	ul->uidvalidity = uv;
	ul->uidnext = next > last ? next : last + 1;
	ul->highestmodseq = 1;
	return 0;
}

int
uidlist_import_dovecot(const char *dir, struct uidlist **out)
{
	struct uidlist	*ul;
	char		*buf;
	size_t		 len;
	int		 r;

	*out = NULL;
	if ((r = read_file(dir, UIDLIST_DOVECOT, &buf, &len)) != UIDLIST_OK)
		return r;
	if ((ul = uidlist_new(dir, 1)) == NULL) {
		free(buf);
		errno = ENAMETOOLONG;
		return UIDLIST_ERROR;
	}
	if (parse_dovecot(ul, buf, len) == -1) {
		log_warnx("%s/%s: cannot import", dir, UIDLIST_DOVECOT);
		free(buf);
		uidlist_free(ul);
		return UIDLIST_CORRUPT;
	}
	free(buf);
	ensure_mailboxid(ul);
	ul->dirty = 1;
	*out = ul;
	return UIDLIST_OK;
}

/* A list read without a MAILBOXID gets one, written with it next. */
static void
ensure_mailboxid(struct uidlist *ul)
{
	if (ul->mailboxid[0] != '\0')
		return;
	uidlist_new_mailboxid(ul->mailboxid, sizeof(ul->mailboxid));
	ul->dirty = 1;
}

void
uidlist_new_mailboxid(char *buf, size_t len)
{
	unsigned char	 rnd[12];
	size_t		 i;

	if (len < 2 * sizeof(rnd) + 2)
		fatalx("uidlist_new_mailboxid: buffer too small");
	compat_random(rnd, sizeof(rnd));
	buf[0] = 'F';
	for (i = 0; i < sizeof(rnd); i++)
		(void)snprintf(buf + 1 + 2 * i, 3, "%02x", rnd[i]);
}

/* objectid = 1*255(ALPHA / DIGIT / "_" / "-"), RFC 8474 section 4. */
int
uidlist_objectid_valid(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > UIDLIST_ID_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		    s[i] == '-'))
			return 0;
	return 1;
}

int
uidlist_open(const char *dir, struct uidlist **out)
{
	int	 r;

	*out = NULL;
	r = uidlist_load(dir, out);
	if (r == UIDLIST_OK) {
		uv_seen((*out)->uidvalidity);
		return 1;
	}
	if (r == UIDLIST_ERROR) {
		log_warn("%s/%s", dir, UIDLIST_FILE);
		return -1;
	}
	if (r == UIDLIST_NOFILE) {
		r = uidlist_import_dovecot(dir, out);
		if (r == UIDLIST_OK) {
			/* Dovecot's UIDVALIDITY is kept: clients know it. */
			log_info("%s: imported %s", dir, UIDLIST_DOVECOT);
			uv_seen((*out)->uidvalidity);
			return 1;
		}
		if (r == UIDLIST_ERROR) {
			log_warn("%s/%s", dir, UIDLIST_DOVECOT);
			return -1;
		}
	} else
		log_warnx("%s: new UIDVALIDITY, clients will resync", dir);
	if ((*out = uidlist_new(dir, 1)) == NULL) {
		errno = ENAMETOOLONG;
		return -1;
	}
	(*out)->uidvalidity = uidlist_new_uidvalidity();
	uidlist_new_mailboxid((*out)->mailboxid, sizeof((*out)->mailboxid));
	(*out)->dirty = 1;
	return 0;
}

void
uidlist_set_state(const char *path)
{
	if (strlcpy(uv_path, path, sizeof(uv_path)) >= sizeof(uv_path))
		fatalx("uidlist_set_state: path too long");
	uv_last = 0;
}

static void
uv_seen(uint32_t uv)
{
	if (uv > uv_last)
		uv_last = uv;
}

/* The counter on disk, 0 if there is none (or it cannot be read). */
static uint32_t
uv_read(void)
{
	char		 buf[STATE_MAX + 1];
	const char	*p;
	uint64_t	 v;
	ssize_t		 n;
	int		 fd;

	if ((fd = safe_open(uv_path, O_RDONLY | O_NONBLOCK, 0)) == -1) {
		if (errno != ENOENT)
			log_warn("%s", uv_path);
		return 0;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n == -1) {
		log_warn("%s", uv_path);
		return 0;
	}
	buf[n] = '\0';
	p = buf + sizeof(STATE_MAGIC) - 1;
	if ((size_t)n < sizeof(STATE_MAGIC) ||
	    memcmp(buf, STATE_MAGIC, sizeof(STATE_MAGIC) - 1) != 0 ||
	    parse_num(&p, buf + n, UINT32_MAX, &v) == -1 ||
	    strcmp(p, "\n") != 0) {
		log_warnx("%s: corrupt, ignored", uv_path);
		return 0;
	}
	return (uint32_t)v;
}

/* Replace the counter atomically and durably: 0 or -1. */
static int
uv_write(uint32_t uv)
{
	char	 tmp[sizeof(uv_path) + 32], line[STATE_MAX], *slash;
	int	 fd, n, saved;

	n = snprintf(line, sizeof(line), "%s%u\n", STATE_MAGIC, uv);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", uv_path,
	    (long)getpid()) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	(void)safe_unlink(tmp);		/* left over by a crash of our pid */
	if ((fd = safe_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
		return -1;
	if (write_full(fd, line, n) == -1 || fsync(fd) == -1) {
		saved = errno;
		close(fd);
		(void)safe_unlink(tmp);
		errno = saved;
		return -1;
	}
	if (close(fd) == -1 || safe_rename(tmp, uv_path) == -1) {
		saved = errno;
		(void)safe_unlink(tmp);
		errno = saved;
		return -1;
	}
	/* The rename itself must survive a crash of the machine. */
	if ((slash = strrchr(tmp, '/')) == NULL)
		(void)strlcpy(tmp, ".", sizeof(tmp));
	else if (slash == tmp)
		tmp[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	n = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return n;
}

uint32_t
uidlist_new_uidvalidity(void)
{
	time_t		 now;
	uint32_t	 last, uv;

	last = uv_read();
	uv_seen(last);
	last = uv_last;
	now = time(NULL);
	if (now <= 0 || (uint64_t)now > UINT32_MAX)
		now = 1;
	if (last == UINT32_MAX) {
		/* Nothing above: 136 years of one-per-second won't get here. */
		log_warnx("%s: UIDVALIDITY exhausted, using the clock",
		    uv_path);
		uv = (uint32_t)now;
	} else
		uv = (uint32_t)now > last ? (uint32_t)now : last + 1;
	uv_seen(uv);
	if (uv_write(uv) == -1)
		log_warn("%s: cannot record UIDVALIDITY %u", uv_path, uv);
	return uv;
}

static void
obuf_add(struct obuf *b, const char *s, size_t len)
{
	size_t	 nsize;
	char	*d;

	if (b->len + len + 1 > b->size) {
		for (nsize = b->size ? b->size : 65536;
		    nsize < b->len + len + 1; nsize *= 2)
			;
		if ((d = realloc(b->data, nsize)) == NULL)
			fatal("realloc");
		b->data = d;
		b->size = nsize;
	}
	memcpy(b->data + b->len, s, len);
	b->len += len;
}

int
uidlist_save(struct uidlist *ul)
{
	return uidlist_write(ul, 1);
}

int
uidlist_save_nosync(struct uidlist *ul)
{
	return uidlist_write(ul, 0);
}

static int
uidlist_write(struct uidlist *ul, int sync)
{
	struct obuf	 b = { NULL, 0, 0 };
	char		 line[UIDLIST_NAME_MAX + 64];
	char		 tmp[PATH_MAX], path[PATH_MAX];
	size_t		 i;
	int		 fd = -1, n, ret = -1, saved;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", ul->dir,
	    UIDLIST_FILE) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/%s.tmp.%ld", ul->dir,
	    UIDLIST_FILE, (long)getpid()) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* A list made without one (uidlist_new()) gets its MAILBOXID now. */
	if (ul->mailboxid[0] == '\0')
		uidlist_new_mailboxid(ul->mailboxid, sizeof(ul->mailboxid));
	n = snprintf(line, sizeof(line), "%s %d V%u N%u M%llu C%zu I%s",
	    UIDLIST_MAGIC, UIDLIST_VERSION, ul->uidvalidity, ul->uidnext,
	    (unsigned long long)ul->highestmodseq, ul->n, ul->mailboxid);
	if (n > 0 && (size_t)n < sizeof(line) && ul->firstrecent != 0 &&
	    ul->firstrecent <= ul->uidnext)
		n += snprintf(line + n, sizeof(line) - n, " R%u",
		    ul->firstrecent);
	if (n > 0 && (size_t)n < sizeof(line))
		n += snprintf(line + n, sizeof(line) - n, "\n");
	if (n < 0 || (size_t)n >= sizeof(line))
		fatalx("uidlist_save: header");
	obuf_add(&b, line, n);
	for (i = 0; i < ul->n; i++) {
		n = snprintf(line, sizeof(line), "%u %llu %s\n",
		    ul->ent[i].uid, (unsigned long long)ul->ent[i].modseq,
		    ul->ent[i].name);
		/* Names were bounded when they entered the list. */
		if (n < 0 || (size_t)n >= sizeof(line))
			fatalx("uidlist_save: line");
		obuf_add(&b, line, n);
	}

	if ((fd = safe_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 &&
	    errno == EEXIST) {
		/* Left over by a crash of a process with our pid. */
		(void)safe_unlink(tmp);
		fd = safe_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	}
	if (fd == -1) {
		log_warn("%s", tmp);
		goto done;
	}
	if (write_full(fd, b.data, b.len) == -1 ||
	    (sync && fsync(fd) == -1)) {
		log_warn("%s", tmp);
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		log_warn("%s", tmp);
		goto fail;
	}
	fd = -1;
	if (safe_rename(tmp, path) == -1) {
		log_warn("rename %s", path);
		goto fail;
	}
	ul->dirty = 0;
	ret = 0;
	goto done;
 fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	fd = -1;
	(void)safe_unlink(tmp);
	errno = saved;
 done:
	free(b.data);
	return ret;
}
