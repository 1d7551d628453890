/*
 * The open mailboxes of the imap process: one shared, reference-counted
 * object per Maildir folder however many sessions selected it.  It is
 * the truth the sessions diff their views against: messages sorted by
 * UID with their MODSEQ and flags, the keyword table, the history of
 * expunges (for QRESYNC), sizes, internal dates and the rendered
 * ENVELOPE/BODY/BODYSTRUCTURE of each message, plus a small LRU of the
 * contents of recently read messages.
 *
 * The UID list file is read and written with uidlist.c (uidlist_open(),
 * uidlist_save()), but the in-memory list is kept here: uidlist.c has
 * no way to insert or remove one entry, and rescanning the directories
 * for every appended, copied or expunged message would make a COPY of
 * n messages cost n directory scans.  The scan below follows the rules
 * of uidlist_sync(): new files get UIDs in name order, a name in both
 * cur/ and new/ counts once (cur/ wins), a missing file is an expunge.
 * Unlike uidlist_sync() it also moves files from new/ to cur/ (as
 * Dovecot does) and notices flag changes made by other programs.
 *
 * maild-cache (never authoritative, rewritten at most every
 * MBOX_CACHE_DELAY seconds and when the last reference goes away):
 *	maild-cache 1 V<uidvalidity> M<highestmodseq> F<floor> X<n> C<n>
 *	X<uid> <modseq>				(expunge history)
 *	E<uid> <state> <size> <date> <len>	(then len bytes and "\n")
 * The len bytes are ENVELOPE, BODY and BODYSTRUCTURE separated by NUL
 * bytes (len 0: not rendered yet).  Any error discards the whole file;
 * a different UIDVALIDITY too; the expunge history is only believed
 * when M equals the UID list's HIGHESTMODSEQ (nothing happened since).
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "imap.h"
#include "log.h"
#include "maild.h"
#include "mflags.h"
#include "mime.h"
#include "safepath.h"
#include "uidlist.h"

#define MBOX_READ_MAX		(100 * 1024 * 1024)	/* a message */
#define MBOX_HEADER_MAX		(256 * 1024)	/* a header, for SEARCH */
#define MBOX_HDRCACHE_MAX	(64 * 1024 * 1024)	/* headers kept */
#define MBOX_HDRCACHE_ONE	(16 * 1024)	/* a header worth keeping */
#define MBOX_LRU_MSGS		4	/* contents kept by mbox_read() */
#define MBOX_LRU_BYTES		(16 * 1024 * 1024)
#define MBOX_CACHE_FILE		"maild-cache"
#define MBOX_CACHE_MAGIC	"maild-cache"
#define MBOX_CACHE_VERSION	1
#define MBOX_CACHE_MAX		(256 * 1024 * 1024)	/* file read */
#define MBOX_CACHE_ENTRY_MAX	(1024 * 1024)	/* a message's renderings */
#define MBOX_CACHE_DELAY	30	/* seconds between cache rewrites */
#define MBOX_VANISHED_MAX	10000	/* expunges remembered */
#define MBOX_DIR_MAX		1000	/* fits uidlist's dir[1024] */
#define MBOX_CHUNK		65536
#define MBOX_HOST_MAX		64
#define MBOX_W_MAX		((uint64_t)MBOX_READ_MAX * 2)

/* struct mpriv.state */
#define MP_SIZE		0x01	/* size known */
#define MP_DATE		0x02	/* date known */

/* Per message, parallel to the struct mbox_msg array. */
struct mpriv {
	char		*file;		/* "cur/<base>:2,<flags>", "new/..." */
	char		*cache;		/* "env\0body\0bodystructure", NULL */
	char		*hdr;		/* header block (CRLF), for SEARCH */
	uint32_t	 hdrlen;
	uint64_t	 size;		/* RFC822.SIZE */
	int64_t		 date;		/* mtime */
	uint16_t	 baselen;	/* of <base>, after the "cur/" */
	uint8_t		 state;		/* MP_* */
};

struct mbox {
	TAILQ_ENTRY(mbox)	 entry;
	char			 dir[MBOX_DIR_MAX + 1];
	int			 refs;
	int			 gone;
	uint32_t		 uidvalidity;
	uint32_t		 uidnext;
	uint64_t		 hms;		/* HIGHESTMODSEQ */
	struct mbox_msg		*msgs;		/* sorted by UID */
	struct mpriv		*priv;
	uint32_t		 n, cap;
	struct mflags_keywords	 kw;
	size_t			 hdrbytes;	/* held in priv[].hdr */
	int			 list_dirty;	/* maild-uidlist: UIDs */
	int			 mod_dirty;	/* maild-uidlist: MODSEQs only */
	int			 kw_dirty;	/* dovecot-keywords */
	int			 cache_dirty;	/* maild-cache */
	int			 cur_dirty;	/* cur/ needs an fsync */
	time_t			 cache_written;
	/* Expunges: complete for every MODSEQ above vfloor. */
	uint64_t		 vfloor;
	uint32_t		*vuid;
	uint64_t		*vmodseq;	/* ascending */
	size_t			 nv, vcap;
	/* new/ and cur/ as of the last full scan. */
	struct timespec		 mt_new, mt_cur;
	ino_t			 ino_new, ino_cur;
	int			 stamps_ok;
};

TAILQ_HEAD(mboxlist, mbox);

/* A file found by a scan. */
struct dent {
	char		*name;		/* in new/ or cur/ */
	size_t		 baselen;
	uint32_t	 sys, kw;
	int		 isnew;		/* in new/ */
	int		 add;		/* not in the list yet */
};

struct dvec {
	struct dent	*v;
	size_t		 n, cap;
};

/* A message of the list by base name, for the merge with a scan. */
struct mkey {
	const char	*base;
	size_t		 len;
	uint32_t	 idx;
};

/* An entry of the read LRU; m is only compared, never dereferenced. */
struct lru {
	const struct mbox	*m;
	uint32_t		 uid;
	char			*data;
	size_t			 len;
	struct mime_msg		*mime;
	unsigned long		 tick;
};

static int	 dir_valid(const char *);
static int	 mbox_log_link(const char *, const char *);
static int	 is_folder(const char *);
static int	 make_maildir(const char *, int);
static void	 mbox_free(struct mbox *);
static int	 mkpath(char *, size_t, const char *, const char *);
static int	 base_cmp(const char *, size_t, const char *, size_t);
static int	 dent_cmp(const void *, const void *);
static int	 mkey_cmp(const void *, const void *);
static int	 scan_dir(struct mbox *, const char *, struct dvec *);
static void	 dvec_free(struct dvec *);
static int	 mbox_scan(struct mbox *, int, int);
static void	 msg_set_file(struct mbox *, uint32_t, const char *,
		    const char *, size_t);
static int	 msg_update(struct mbox *, uint32_t, const struct dent *,
		    int);
static uint32_t	 msg_add(struct mbox *, uint32_t, uint64_t, uint32_t,
		    uint32_t, char *, size_t);
static void	 msg_remove(struct mbox *, const uint8_t *);
static void	 vanished_add(struct mbox *, uint32_t, uint64_t);
static int	 relocate(struct mbox *, uint32_t);
static int	 msg_path(const struct mbox *, uint32_t, char *, size_t);
static int	 msg_open(struct mbox *, uint32_t, struct stat *);
static void	 move_new(struct mbox *);
static int	 w_hint(const char *, size_t, uint64_t *);
static int	 crlf_size(int, uint64_t *);
static struct lru *lru_find(const struct mbox *, uint32_t);
static void	 lru_insert(const struct mbox *, uint32_t, char *, size_t,
		    struct mime_msg *);
static void	 lru_drop(struct lru *);
static void	 lru_purge(const struct mbox *, int, uint32_t);
static const char *cache_get(struct mbox *, uint32_t, int);
static int	 parse_u64(const char **, const char *, uint64_t, uint64_t *);
static int	 cache_parse(struct mbox *, const char *, size_t, int);
static void	 cache_load(struct mbox *);
static int	 cache_save(struct mbox *);
static int	 list_save(struct mbox *, int);
static int	 kw_flush(struct mbox *);
static int	 commit(struct mbox *, int);
static int	 dir_fsync(const struct mbox *, const char *);
static int	 uniq_name(char *, size_t, uint64_t, int, uint64_t);
static size_t	 cache_len(const char *);
static int	 write_crlf(int, const char *, size_t);
static int	 copy_fd(int, int);
static uint32_t	 kw_remap(struct mbox *, struct mbox *, uint32_t);
static int	 new_file(struct mbox *, const char *, const struct mflags *,
		    char *, size_t);
static int	 state_file(const char *);
static void	 stale_purge(const char *);
static int	 remove_check(int);
static int	 remove_sub(int, const char *);

static struct mboxlist	 mboxes = TAILQ_HEAD_INITIALIZER(mboxes);
static struct lru	 lrus[MBOX_LRU_MSGS];
static unsigned long	 lru_tick;

/*
 * mailbox.c made the name, but a path that could leave the mail root
 * or the user's tree is refused here too.
 */
static int
dir_valid(const char *dir)
{
	const unsigned char	*p;
	size_t			 len;

	len = strnlen(dir, MBOX_DIR_MAX + 1);
	if (len == 0 || len > MBOX_DIR_MAX || dir[0] == '/' ||
	    strstr(dir, "..") != NULL || dir[len - 1] == '/' ||
	    strstr(dir, "//") != NULL)
		return 0;
	for (p = (const unsigned char *)dir; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
		/* No "." component either. */
		if (*p == '.' && (p == (const unsigned char *)dir ||
		    p[-1] == '/') && (p[1] == '/' || p[1] == '\0'))
			return 0;
	}
	return 1;
}

/*
 * After a failure with ELOOP: a log line that names the symbolic link
 * (the client only hears that the mailbox was refused).  1 if it was
 * ELOOP; errno is kept.
 */
static int
mbox_log_link(const char *dir, const char *what)
{
	static const char *const sub[] = { "", "/cur", "/new", "/tmp" };
	char		 path[PATH_MAX], link[PATH_MAX];
	size_t		 i;
	int		 saved = errno;

	if (saved != ELOOP)
		return 0;
	for (i = 0; i < nitems(sub); i++)
		if ((size_t)snprintf(path, sizeof(path), "%s%s", dir,
		    sub[i]) < sizeof(path) &&
		    safe_find_link(path, link, sizeof(link)))
			break;
	if (i < nitems(sub))
		log_warnx("%s: %s: %s is a symbolic link, not followed", dir,
		    what, link);
	else
		log_warnx("%s: %s: symbolic link in the path, not followed",
		    dir, what);
	errno = saved;
	return 1;
}

/* A Maildir++ folder is a ".<name>" directory; the user's root is not. */
static int
is_folder(const char *dir)
{
	const char	*last;

	last = strrchr(dir, '/');
	last = last == NULL ? dir : last + 1;
	return last[0] == '.' && last[1] != '\0';
}

static int
make_maildir(const char *dir, int excl)
{
	static const char *const sub[] = { "cur", "new", "tmp" };
	char		 path[PATH_MAX];
	size_t		 i;
	int		 fd;

	if (safe_mkdir(dir, 0700) == -1 && (excl || errno != EEXIST))
		return -1;
	for (i = 0; i < nitems(sub); i++) {
		if (mkpath(path, sizeof(path), dir, sub[i]) == -1)
			return -1;
		if (safe_mkdir(path, 0700) == -1 && errno != EEXIST)
			return -1;
	}
	if (is_folder(dir)) {
		if (mkpath(path, sizeof(path), dir, "maildirfolder") == -1)
			return -1;
		if ((fd = safe_open(path, O_WRONLY | O_CREAT, 0600)) == -1)
			return -1;
		close(fd);
	}
	return 0;
}

static int
mkpath(char *buf, size_t len, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

struct mbox *
mbox_open(const char *dir, int create)
{
	static const char *const sub[] = { "cur", "new", "tmp" };
	struct uidlist	*ul;
	struct mbox	*m;
	struct stat	 st;
	char		 path[PATH_MAX], *file;
	size_t		 i, len;
	int		 r, saved;

	if (!dir_valid(dir)) {
		errno = EINVAL;
		return NULL;
	}
	TAILQ_FOREACH(m, &mboxes, entry) {
		/* A removed mailbox is never shared with a new one. */
		if (!m->gone && strcmp(m->dir, dir) == 0) {
			m->refs++;
			return m;
		}
	}
	if (create && make_maildir(dir, 0) == -1) {
		if (!mbox_log_link(dir, "cannot create"))
			log_warn("%s: cannot create", dir);
		return NULL;
	}
	/*
	 * A symbolic link as the folder, a directory above it or one of
	 * cur/ new/ tmp/ (tmp/ may be missing, never a link): ELOOP, and
	 * nothing is read or written through it.
	 */
	for (i = 0; i < nitems(sub); i++) {
		if (mkpath(path, sizeof(path), dir, sub[i]) == -1)
			return NULL;
		if (safe_lstat(path, &st) == -1) {
			if (errno == ENOENT && i == 2)
				continue;
			(void)mbox_log_link(dir, "cannot open");
			return NULL;
		}
		if (S_ISLNK(st.st_mode)) {
			errno = ELOOP;
			(void)mbox_log_link(dir, "cannot open");
			return NULL;
		}
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOENT;
			return NULL;
		}
	}
	stale_purge(dir);
	if (uidlist_open(dir, &ul) == -1)
		return NULL;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		fatal("calloc");
	(void)strlcpy(m->dir, dir, sizeof(m->dir));
	m->refs = 1;
	m->uidvalidity = ul->uidvalidity;
	m->uidnext = ul->uidnext;
	m->hms = ul->highestmodseq;
	m->list_dirty = ul->dirty;
	/* Where each file is comes from the first scan. */
	for (i = 0; i < ul->n; i++) {
		len = strlen(ul->ent[i].name);
		if ((file = malloc(len + 5)) == NULL)
			fatal("malloc");
		memcpy(file, "cur/", 4);
		memcpy(file + 4, ul->ent[i].name, len + 1);
		(void)msg_add(m, ul->ent[i].uid, ul->ent[i].modseq, 0, 0,
		    file, len);
	}
	uidlist_free(ul);

	r = mflags_kw_load(dir, &m->kw);
	if (r == MFLAGS_KW_ERROR) {
		log_warn("%s/%s", dir, MFLAGS_KW_FILE);
		goto fail;
	}
	if (r == MFLAGS_KW_CORRUPT)
		log_warnx("%s: keyword names lost", dir);
	m->vfloor = m->hms;
	cache_load(m);
	if (mbox_scan(m, 1, 1) == -1 || commit(m, 0) == -1)
		goto fail;
	TAILQ_INSERT_TAIL(&mboxes, m, entry);
	return m;
 fail:
	saved = errno;
	mbox_free(m);
	errno = saved != 0 ? saved : EIO;
	return NULL;
}

static void
mbox_free(struct mbox *m)
{
	uint32_t	 i;

	lru_purge(m, 1, 0);
	for (i = 0; i < m->n; i++) {
		free(m->priv[i].file);
		free(m->priv[i].cache);
		free(m->priv[i].hdr);
	}
	free(m->msgs);
	free(m->priv);
	free(m->vuid);
	free(m->vmodseq);
	mflags_kw_free(&m->kw);
	free(m);
}

void
mbox_close(struct mbox *m)
{
	if (m == NULL || --m->refs > 0)
		return;
	(void)commit(m, 1);
	TAILQ_REMOVE(&mboxes, m, entry);
	mbox_free(m);
}

const char *
mbox_dir(const struct mbox *m)
{
	return m->dir;
}

int
mbox_gone(const struct mbox *m)
{
	return m->gone;
}

void
mbox_set_gone(struct mbox *m)
{
	m->gone = 1;
}

static int
base_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int	 c;

	if ((c = memcmp(a, b, alen < blen ? alen : blen)) != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* By base name; on a tie cur/ sorts first and wins, as in uidlist.c. */
static int
dent_cmp(const void *a, const void *b)
{
	const struct dent	*x = a, *y = b;
	int			 c;

	if ((c = base_cmp(x->name, x->baselen, y->name, y->baselen)) != 0)
		return c;
	return x->isnew - y->isnew;
}

static int
mkey_cmp(const void *a, const void *b)
{
	const struct mkey	*x = a, *y = b;

	return base_cmp(x->base, x->len, y->base, y->len);
}

static int
scan_dir(struct mbox *m, const char *sub, struct dvec *dv)
{
	struct mflags	 f;
	struct dirent	*de;
	struct dent	*v;
	DIR		*d;
	char		 path[PATH_MAX], base[MFLAGS_NAME_MAX + 1];
	char		 check[UIDLIST_NAME_MAX + 1];
	size_t		 ncap;

	if (mkpath(path, sizeof(path), m->dir, sub) == -1)
		return -1;
	if ((d = safe_opendir(path)) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		/* Symbolic links, directories, devices: never messages. */
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (mflags_parse(de->d_name, base, sizeof(base), &f) == -1)
			continue;
		/* The list file must be able to hold the base as it is. */
		if (uidlist_basename(base, check, sizeof(check)) == -1 ||
		    strcmp(base, check) != 0)
			continue;
		if (dv->n >= UIDLIST_MAX_ENTRIES) {
			log_warnx("%s: too many files", path);
			closedir(d);
			errno = EFBIG;
			return -1;
		}
		if (dv->n == dv->cap) {
			ncap = dv->cap == 0 ? 256 : dv->cap * 2;
			if ((v = reallocarray(dv->v, ncap, sizeof(*v))) ==
			    NULL)
				fatal("reallocarray");
			dv->v = v;
			dv->cap = ncap;
		}
		v = &dv->v[dv->n++];
		memset(v, 0, sizeof(*v));
		if ((v->name = strdup(de->d_name)) == NULL)
			fatal("strdup");
		v->baselen = strlen(base);
		v->sys = f.sys;
		v->kw = f.kw;
		v->isnew = sub[0] == 'n';
	}
	if (errno != 0) {
		log_warn("readdir %s", path);
		closedir(d);
		return -1;
	}
	closedir(d);
	return 0;
}

static void
dvec_free(struct dvec *dv)
{
	size_t	 i;

	for (i = 0; i < dv->n; i++)
		free(dv->v[i].name);
	free(dv->v);
	memset(dv, 0, sizeof(*dv));
}

/*
 * Bring the list in line with new/ and cur/.  force: scan even if the
 * directories look unchanged; first: flags read now are the initial
 * ones, not changes (no new MODSEQ).  1 changed, 0 not, -1 error.
 */
static int
mbox_scan(struct mbox *m, int force, int first)
{
	struct stat	 sn, sc;
	struct dvec	 dv = { NULL, 0, 0 };
	struct mkey	*keys = NULL;
	uint8_t		*gone = NULL;
	char		 path[PATH_MAX], *file;
	size_t		 i, j, nd, nnew = 0, ngone = 0;
	uint32_t	 idx;
	time_t		 now;
	int		 c, changed = 0, ret = -1;

	if (mkpath(path, sizeof(path), m->dir, "new") == -1 ||
	    safe_lstat(path, &sn) == -1 ||
	    mkpath(path, sizeof(path), m->dir, "cur") == -1 ||
	    safe_lstat(path, &sc) == -1) {
		log_warn("%s", path);
		return -1;
	}
	/* Made a link behind our back: never scanned through. */
	if (!S_ISDIR(sn.st_mode) || !S_ISDIR(sc.st_mode)) {
		log_warnx("%s: new/ or cur/ is not a directory", m->dir);
		errno = ENOTDIR;
		return -1;
	}
	/*
	 * Adding, removing or renaming a file changes its directory's
	 * mtime.  A stamp less than two seconds old may hide a change
	 * made in the same clock tick after the scan: not trusted.
	 */
	if (!force && m->stamps_ok && sn.st_ino == m->ino_new &&
	    sc.st_ino == m->ino_cur &&
	    sn.st_mtim.tv_sec == m->mt_new.tv_sec &&
	    sn.st_mtim.tv_nsec == m->mt_new.tv_nsec &&
	    sc.st_mtim.tv_sec == m->mt_cur.tv_sec &&
	    sc.st_mtim.tv_nsec == m->mt_cur.tv_nsec)
		return 0;
	now = time(NULL);
	if (scan_dir(m, "new", &dv) == -1 || scan_dir(m, "cur", &dv) == -1)
		goto done;
	if (dv.n > 1)
		qsort(dv.v, dv.n, sizeof(*dv.v), dent_cmp);
	for (i = 0, nd = 0; i < dv.n; i++) {
		if (nd > 0 && base_cmp(dv.v[nd - 1].name,
		    dv.v[nd - 1].baselen, dv.v[i].name, dv.v[i].baselen) ==
		    0) {
			free(dv.v[i].name);
			continue;
		}
		dv.v[nd++] = dv.v[i];
	}
	dv.n = nd;

	if (m->n > 0) {
		if ((keys = calloc(m->n, sizeof(*keys))) == NULL ||
		    (gone = calloc(m->n, 1)) == NULL)
			fatal("calloc");
		for (idx = 0; idx < m->n; idx++) {
			keys[idx].base = m->priv[idx].file + 4;
			keys[idx].len = m->priv[idx].baselen;
			keys[idx].idx = idx;
		}
		qsort(keys, m->n, sizeof(*keys), mkey_cmp);
	}
	for (i = 0, j = 0; i < m->n || j < dv.n; ) {
		if (i < m->n && j < dv.n)
			c = base_cmp(keys[i].base, keys[i].len,
			    dv.v[j].name, dv.v[j].baselen);
		else
			c = i < m->n ? -1 : 1;
		if (c < 0) {
			gone[keys[i++].idx] = 1;
			ngone++;
		} else if (c > 0) {
			dv.v[j++].add = 1;
			nnew++;
		} else {
			if (msg_update(m, keys[i].idx, &dv.v[j], first))
				changed = 1;
			i++;
			j++;
		}
	}
	if ((uint64_t)m->uidnext + nnew > UINT32_MAX ||
	    m->n - ngone + nnew > UIDLIST_MAX_ENTRIES) {
		log_warnx("%s: UIDs or entries exhausted", m->dir);
		errno = EFBIG;
		goto done;
	}
	if (ngone > 0) {
		msg_remove(m, gone);
		changed = 1;
	}
	for (i = 0; i < dv.n; i++) {
		if (!dv.v[i].add)
			continue;
		if ((file = malloc(strlen(dv.v[i].name) + 5)) == NULL)
			fatal("malloc");
		memcpy(file, dv.v[i].isnew ? "new/" : "cur/", 4);
		memcpy(file + 4, dv.v[i].name, strlen(dv.v[i].name) + 1);
		(void)msg_add(m, m->uidnext++, ++m->hms, dv.v[i].sys,
		    dv.v[i].kw, file, dv.v[i].baselen);
		m->list_dirty = 1;
		changed = 1;
	}
	move_new(m);
	m->mt_new = sn.st_mtim;
	m->mt_cur = sc.st_mtim;
	m->ino_new = sn.st_ino;
	m->ino_cur = sc.st_ino;
	m->stamps_ok = now - sn.st_mtim.tv_sec >= 2 &&
	    now - sc.st_mtim.tv_sec >= 2;
	ret = changed;
 done:
	dvec_free(&dv);
	free(keys);
	free(gone);
	return ret;
}

/* Record that message idx is now the file <sub>/<name>. */
static void
msg_set_file(struct mbox *m, uint32_t idx, const char *sub,
    const char *name, size_t baselen)
{
	struct mpriv	*p = &m->priv[idx];
	size_t		 len = strlen(name);

	if (strncmp(p->file, sub, 3) == 0 && strcmp(p->file + 4, name) == 0)
		return;
	free(p->file);
	if ((p->file = malloc(len + 5)) == NULL)
		fatal("malloc");
	memcpy(p->file, sub, 3);
	p->file[3] = '/';
	memcpy(p->file + 4, name, len + 1);
	p->baselen = baselen;
}

/* The file of message idx as a scan found it: 1 if its flags changed. */
static int
msg_update(struct mbox *m, uint32_t idx, const struct dent *d, int first)
{
	struct mbox_msg	*msg = &m->msgs[idx];

	msg_set_file(m, idx, d->isnew ? "new" : "cur", d->name, d->baselen);
	if (msg->sys == d->sys && msg->kw == d->kw)
		return 0;
	msg->sys = d->sys;
	msg->kw = d->kw;
	if (first)
		return 0;
	/* Another program changed the flags: CONDSTORE must see it. */
	msg->modseq = ++m->hms;
	m->mod_dirty = 1;
	return 1;
}

/* Append a message (uid above all others); takes file.  Its index. */
static uint32_t
msg_add(struct mbox *m, uint32_t uid, uint64_t modseq, uint32_t sys,
    uint32_t kw, char *file, size_t baselen)
{
	struct mbox_msg	*nm;
	struct mpriv	*np;
	uint32_t	 ncap;

	if (m->n == m->cap) {
		ncap = m->cap == 0 ? 64 : m->cap * 2;
		if ((nm = reallocarray(m->msgs, ncap, sizeof(*nm))) == NULL)
			fatal("reallocarray");
		m->msgs = nm;
		if ((np = reallocarray(m->priv, ncap, sizeof(*np))) == NULL)
			fatal("reallocarray");
		m->priv = np;
		m->cap = ncap;
	}
	m->msgs[m->n].uid = uid;
	m->msgs[m->n].modseq = modseq;
	m->msgs[m->n].sys = sys & ~MFLAG_RECENT;
	m->msgs[m->n].kw = kw;
	memset(&m->priv[m->n], 0, sizeof(m->priv[m->n]));
	m->priv[m->n].file = file;
	m->priv[m->n].baselen = baselen;
	return m->n++;
}

/* Drop the messages marked in gone[], recording each as an expunge. */
static void
msg_remove(struct mbox *m, const uint8_t *gone)
{
	uint32_t	 i, j;

	for (i = 0, j = 0; i < m->n; i++) {
		if (gone[i]) {
			vanished_add(m, m->msgs[i].uid, ++m->hms);
			lru_purge(m, 0, m->msgs[i].uid);
			free(m->priv[i].file);
			free(m->priv[i].cache);
			if (m->priv[i].hdr != NULL) {
				m->hdrbytes -= m->priv[i].hdrlen;
				free(m->priv[i].hdr);
			}
			continue;
		}
		m->msgs[j] = m->msgs[i];
		m->priv[j] = m->priv[i];
		j++;
	}
	m->n = j;
	m->list_dirty = 1;
	m->cache_dirty = 1;
}

static void
vanished_add(struct mbox *m, uint32_t uid, uint64_t modseq)
{
	size_t	 drop, ncap;

	if (m->nv == MBOX_VANISHED_MAX) {
		/* Forget the older half: answers below it become -1. */
		drop = MBOX_VANISHED_MAX / 2;
		m->vfloor = m->vmodseq[drop - 1];
		memmove(m->vuid, m->vuid + drop,
		    (m->nv - drop) * sizeof(*m->vuid));
		memmove(m->vmodseq, m->vmodseq + drop,
		    (m->nv - drop) * sizeof(*m->vmodseq));
		m->nv -= drop;
	}
	if (m->nv == m->vcap) {
		ncap = m->vcap == 0 ? 64 : m->vcap * 2;
		if (ncap > MBOX_VANISHED_MAX)
			ncap = MBOX_VANISHED_MAX;
		if ((m->vuid = reallocarray(m->vuid, ncap,
		    sizeof(*m->vuid))) == NULL ||
		    (m->vmodseq = reallocarray(m->vmodseq, ncap,
		    sizeof(*m->vmodseq))) == NULL)
			fatal("reallocarray");
		m->vcap = ncap;
	}
	m->vuid[m->nv] = uid;
	m->vmodseq[m->nv] = modseq;
	m->nv++;
}

/*
 * Dovecot moves new/ files to cur/ when a client has seen them; the
 * UID list keys on base names, so the rename changes nothing else.
 */
static void
move_new(struct mbox *m)
{
	struct mflags	 f;
	char		 nf[MFLAGS_NAME_MAX + 5];
	uint32_t	 i;
	int		 r;

	for (i = 0; i < m->n; i++) {
		if (strncmp(m->priv[i].file, "new/", 4) != 0)
			continue;
		memset(&f, 0, sizeof(f));
		f.sys = m->msgs[i].sys;
		f.kw = m->msgs[i].kw;
		r = mflags_rename(m->dir, m->priv[i].file, &f, nf,
		    sizeof(nf));
		if (r == 1)
			msg_set_file(m, i, "cur", nf + 4,
			    m->priv[i].baselen);
		else if (r == -1)
			log_warn("%s/%s: cannot move to cur", m->dir,
			    m->priv[i].file);
	}
}

/*
 * The file of message idx is not where we saw it: another program
 * renamed it (flags) or moved it from new/.  Look for its base name.
 * 1 found, 0 really gone, -1 error.
 */
static int
relocate(struct mbox *m, uint32_t idx)
{
	static const char *const sub[] = { "cur", "new" };
	struct dvec	 dv = { NULL, 0, 0 };
	const char	*base = m->priv[idx].file + 4;
	size_t		 blen = m->priv[idx].baselen, i, k;
	int		 ret = 0;

	for (k = 0; k < nitems(sub) && ret == 0; k++) {
		if (scan_dir(m, sub[k], &dv) == -1) {
			ret = -1;
			break;
		}
		for (i = 0; i < dv.n; i++) {
			if (base_cmp(dv.v[i].name, dv.v[i].baselen, base,
			    blen) != 0)
				continue;
			(void)msg_update(m, idx, &dv.v[i], 0);
			ret = 1;
			break;
		}
		dvec_free(&dv);
	}
	dvec_free(&dv);
	return ret;
}

static int
msg_path(const struct mbox *m, uint32_t idx, char *buf, size_t len)
{
	return mkpath(buf, len, m->dir, m->priv[idx].file);
}

/*
 * Open the file of message idx for reading, never through a symbolic
 * link and only if it is a regular file.  fd, or -1 (ENOENT: gone).
 */
static int
msg_open(struct mbox *m, uint32_t idx, struct stat *st)
{
	char	 path[PATH_MAX];
	int	 fd, tries, saved;

	for (tries = 0; ; tries++) {
		if (msg_path(m, idx, path, sizeof(path)) == -1)
			return -1;
		fd = safe_open(path, O_RDONLY | O_NONBLOCK, 0);
		if (fd != -1)
			break;
		saved = errno;
		if (saved == ENOENT && tries == 0 && relocate(m, idx) == 1)
			continue;
		if (saved == ELOOP) {
			log_warnx("%s: symbolic link, refused", path);
			saved = EPERM;
		} else if (saved != ENOENT)
			log_warn("%s", path);
		if (saved == ENOENT && tries > 0)
			log_debug("%s: gone", path);
		errno = saved;
		return -1;
	}
	if (fstat(fd, st) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		log_warnx("%s: not a regular file, refused", path);
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

int
mbox_sync(struct mbox *m)
{
	if (m->gone)
		return 0;
	return mbox_scan(m, 0, 0);
}

int
mbox_commit(struct mbox *m)
{
	return commit(m, 0);
}

static int
commit(struct mbox *m, int force)
{
	time_t	 now;
	int	 ret = 0;

	/* A removed mailbox: writing would recreate files in a new one. */
	if (m->gone)
		return 0;
	if (kw_flush(m) == -1)
		ret = -1;
	/*
	 * New UIDs must survive a power loss before any client sees them;
	 * a flag change is in the file name already, so its MODSEQ is
	 * written without the fsync (per command, on a 10,000-message
	 * mailbox, that fsync would cost more than the STORE).
	 */
	if (m->list_dirty || m->mod_dirty) {
		if (list_save(m, m->list_dirty) == -1)
			ret = -1;
		else {
			m->list_dirty = m->mod_dirty = 0;
			/* Its header names HIGHESTMODSEQ: keep them equal. */
			m->cache_dirty = 1;
		}
	}
	if (m->cur_dirty) {
		if (dir_fsync(m, "cur") == -1)
			ret = -1;
		else
			m->cur_dirty = 0;
	}
	now = time(NULL);
	/* Never a cache that speaks of UIDs the list on disk lacks. */
	if (m->cache_dirty && !m->list_dirty && (force ||
	    m->cache_written == 0 ||
	    now - m->cache_written >= MBOX_CACHE_DELAY)) {
		/* The cache is rebuildable: failing it fails nothing. */
		(void)cache_save(m);
		m->cache_written = now;
	}
	return ret;
}

static int
dir_fsync(const struct mbox *m, const char *sub)
{
	char	 path[PATH_MAX];
	int	 fd, r, saved;

	if (mkpath(path, sizeof(path), m->dir, sub) == -1)
		return -1;
	if ((fd = safe_open(path, O_RDONLY | O_DIRECTORY, 0)) == -1) {
		log_warn("%s", path);
		return -1;
	}
	if ((r = fsync(fd)) == -1)
		log_warn("fsync %s", path);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/*
 * uidlist.c owns the file format; the list itself lives here, so a
 * struct uidlist is lent the entries just for uidlist_save().
 */
static int
list_save(struct mbox *m, int sync)
{
	struct uidlist		*ul;
	struct uidlist_entry	*ent = NULL;
	char			*names = NULL, *p;
	size_t			 total = 0;
	uint32_t		 i;
	int			 r, saved;

	if ((ul = uidlist_new(m->dir, m->uidvalidity)) == NULL) {
		errno = ENAMETOOLONG;
		return -1;
	}
	ul->uidnext = m->uidnext;
	ul->highestmodseq = m->hms;
	if (m->n > 0) {
		for (i = 0; i < m->n; i++)
			total += m->priv[i].baselen + 1;
		if ((ent = calloc(m->n, sizeof(*ent))) == NULL ||
		    (names = malloc(total)) == NULL)
			fatal("calloc");
		for (i = 0, p = names; i < m->n; i++) {
			memcpy(p, m->priv[i].file + 4, m->priv[i].baselen);
			p[m->priv[i].baselen] = '\0';
			ent[i].uid = m->msgs[i].uid;
			ent[i].modseq = m->msgs[i].modseq;
			ent[i].name = p;
			p += m->priv[i].baselen + 1;
		}
	}
	ul->ent = ent;
	ul->n = ul->cap = m->n;
	r = sync ? uidlist_save(ul) : uidlist_save_nosync(ul);
	saved = errno;
	ul->ent = NULL;
	ul->n = ul->cap = 0;
	uidlist_free(ul);
	free(ent);
	free(names);
	errno = saved;
	return r;
}

/* A file never carries a keyword letter whose name is not on disk. */
static int
kw_flush(struct mbox *m)
{
	if (!m->kw_dirty)
		return 0;
	if (mflags_kw_save(m->dir, &m->kw) == -1)
		return -1;
	m->kw_dirty = 0;
	return 0;
}

uint32_t
mbox_count(const struct mbox *m)
{
	return m->n;
}

uint32_t
mbox_uidvalidity(const struct mbox *m)
{
	return m->uidvalidity;
}

uint32_t
mbox_uidnext(const struct mbox *m)
{
	return m->uidnext;
}

uint64_t
mbox_highestmodseq(const struct mbox *m)
{
	return m->hms;
}

uint32_t
mbox_unseen(const struct mbox *m)
{
	uint32_t	 i, n = 0;

	for (i = 0; i < m->n; i++)
		if (!(m->msgs[i].sys & MFLAG_SEEN))
			n++;
	return n;
}

long
mbox_first_unseen(const struct mbox *m)
{
	uint32_t	 i;

	for (i = 0; i < m->n; i++)
		if (!(m->msgs[i].sys & MFLAG_SEEN))
			return i;
	return -1;
}

const struct mbox_msg *
mbox_msg(const struct mbox *m, uint32_t idx)
{
	if (idx >= m->n)
		return NULL;
	return &m->msgs[idx];
}

long
mbox_find(const struct mbox *m, uint32_t uid)
{
	uint32_t	 lo = 0, hi = m->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (m->msgs[mid].uid == uid)
			return mid;
		if (m->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int
mbox_vanished_since(const struct mbox *m, uint64_t modseq, uint32_t **uids,
    size_t *n)
{
	uint32_t	*v = NULL, t;
	size_t		 i, j, k = 0;

	*uids = NULL;
	*n = 0;
	if (modseq < m->vfloor)
		return -1;
	for (i = 0; i < m->nv; i++)
		if (m->vmodseq[i] > modseq)
			k++;
	if (k == 0)
		return 0;
	if ((v = calloc(k, sizeof(*v))) == NULL)
		fatal("calloc");
	for (i = 0, k = 0; i < m->nv; i++)
		if (m->vmodseq[i] > modseq)
			v[k++] = m->vuid[i];
	/* Mostly ascending already (UIDs expunged in order). */
	for (i = 1; i < k; i++) {
		t = v[i];
		for (j = i; j > 0 && v[j - 1] > t; j--)
			v[j] = v[j - 1];
		v[j] = t;
	}
	*uids = v;
	*n = k;
	return 0;
}

const char *
mbox_keyword(const struct mbox *m, int i)
{
	if (i < 0 || i >= MFLAGS_KW_MAX)
		return NULL;
	return m->kw.name[i];
}

int
mbox_keyword_count(const struct mbox *m)
{
	return mflags_kw_count(&m->kw);
}

int
mbox_keyword_assign(struct mbox *m, const char *name)
{
	int	 known, r;

	known = mflags_kw_lookup(&m->kw, name) != -1;
	r = mflags_kw_assign(&m->kw, name);
	if (r >= 0 && !known)
		m->kw_dirty = 1;
	return r;
}

int
mbox_store(struct mbox *m, uint32_t idx, uint32_t sys, uint32_t kw)
{
	struct mbox_msg	*msg;
	struct mflags	 f;
	char		 nf[MFLAGS_NAME_MAX + 5];
	int		 r, tries;

	if (idx >= m->n) {
		errno = EINVAL;
		return -1;
	}
	msg = &m->msgs[idx];
	/* The client owns the IMAP flags; the others (P) are kept. */
	sys = (sys & MFLAG_IMAP_MASK) | (msg->sys & ~MFLAG_IMAP_MASK);
	sys &= ~MFLAG_RECENT;
	kw &= (1U << MFLAGS_KW_MAX) - 1;
	if (sys == msg->sys && kw == msg->kw)
		return 1;
	if (kw_flush(m) == -1)
		return -1;
	memset(&f, 0, sizeof(f));
	f.sys = sys;
	f.kw = kw;
	for (tries = 0; ; tries++) {
		r = mflags_rename(m->dir, m->priv[idx].file, &f, nf,
		    sizeof(nf));
		if (r != 0)
			break;
		if (tries > 0 || relocate(m, idx) != 1)
			return 0;
	}
	if (r == -1)
		return -1;
	msg_set_file(m, idx, "cur", nf + 4, m->priv[idx].baselen);
	msg->sys = sys;
	msg->kw = kw;
	msg->modseq = ++m->hms;
	m->mod_dirty = 1;
	return 1;
}

/* Dovecot's ",W=<n>" (size with CRLF) in a base name: 1 and *size. */
static int
w_hint(const char *base, size_t len, uint64_t *size)
{
	const char	*p, *end = base + len;
	uint64_t	 v = 0;

	for (p = base; p + 3 < end; p++) {
		if (memcmp(p, ",W=", 3) != 0)
			continue;
		for (p += 3; p < end && *p >= '0' && *p <= '9'; p++) {
			v = v * 10 + (uint64_t)(*p - '0');
			if (v > MBOX_W_MAX)
				return 0;
		}
		if (p < end && *p != ',')
			return 0;
		*size = v;
		return 1;
	}
	return 0;
}

/* RFC822.SIZE of the file on fd: a bare LF counts as CRLF. */
static int
crlf_size(int fd, uint64_t *size)
{
	static char	 buf[MBOX_CHUNK];
	uint64_t	 n = 0;
	ssize_t		 r, i;
	char		 prev = '\0';

	for (;;) {
		if ((r = read(fd, buf, sizeof(buf))) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		for (i = 0; i < r; i++) {
			if (buf[i] == '\n' && prev != '\r')
				n++;
			prev = buf[i];
		}
		n += r;
	}
	*size = n;
	return 0;
}

int
mbox_size(struct mbox *m, uint32_t idx, uint64_t *size)
{
	struct mpriv	*p;
	struct stat	 st;
	uint64_t	 v;
	int		 fd, r, saved;

	if (idx >= m->n) {
		errno = EINVAL;
		return -1;
	}
	p = &m->priv[idx];
	if (p->state & MP_SIZE) {
		*size = p->size;
		return 0;
	}
	if (w_hint(p->file + 4, p->baselen, &v)) {
		p->size = v;
		p->state |= MP_SIZE;
		*size = v;
		return 0;
	}
	if ((fd = msg_open(m, idx, &st)) == -1)
		return -1;
	r = crlf_size(fd, &v);
	saved = errno;
	close(fd);
	if (r == -1) {
		errno = saved;
		return -1;
	}
	p = &m->priv[idx];
	p->size = v;
	p->state |= MP_SIZE;
	if (!(p->state & MP_DATE) && st.st_mtime >= 0) {
		p->date = st.st_mtime;
		p->state |= MP_DATE;
	}
	m->cache_dirty = 1;
	*size = v;
	return 0;
}

int
mbox_date(struct mbox *m, uint32_t idx, time_t *date)
{
	struct mpriv	*p;
	struct stat	 st;
	char		 path[PATH_MAX];
	int		 tries;

	if (idx >= m->n) {
		errno = EINVAL;
		return -1;
	}
	p = &m->priv[idx];
	if (p->state & MP_DATE) {
		*date = (time_t)p->date;
		return 0;
	}
	for (tries = 0; ; tries++) {
		if (msg_path(m, idx, path, sizeof(path)) == -1)
			return -1;
		if (safe_lstat(path, &st) == 0)
			break;
		if (errno != ENOENT) {
			log_warn("%s", path);
			return -1;
		}
		if (tries > 0 || relocate(m, idx) != 1) {
			errno = ENOENT;
			return -1;
		}
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file, refused", path);
		errno = EPERM;
		return -1;
	}
	p = &m->priv[idx];
	*date = st.st_mtime;
	if (st.st_mtime >= 0) {
		p->date = st.st_mtime;
		p->state |= MP_DATE;
		m->cache_dirty = 1;
	}
	return 0;
}

static struct lru *
lru_find(const struct mbox *m, uint32_t uid)
{
	size_t	 i;

	for (i = 0; i < nitems(lrus); i++)
		if (lrus[i].data != NULL && lrus[i].m == m &&
		    lrus[i].uid == uid)
			return &lrus[i];
	return NULL;
}

static void
lru_drop(struct lru *l)
{
	mime_free(l->mime);
	free(l->data);
	memset(l, 0, sizeof(*l));
}

/* Keep at most MBOX_LRU_MSGS messages and MBOX_LRU_BYTES (plus this). */
static void
lru_insert(const struct mbox *m, uint32_t uid, char *data, size_t len,
    struct mime_msg *mime)
{
	struct lru	*l, *old;
	size_t		 i, bytes;

	for (;;) {
		bytes = 0;
		l = old = NULL;
		for (i = 0; i < nitems(lrus); i++) {
			if (lrus[i].data == NULL) {
				l = &lrus[i];
				continue;
			}
			bytes += lrus[i].len;
			if (old == NULL || lrus[i].tick < old->tick)
				old = &lrus[i];
		}
		if (old == NULL || (l != NULL && bytes + len <=
		    MBOX_LRU_BYTES))
			break;
		lru_drop(old);
	}
	l->m = m;
	l->uid = uid;
	l->data = data;
	l->len = len;
	l->mime = mime;
	l->tick = ++lru_tick;
}

/* Forget what was read of m: everything (all) or one uid. */
static void
lru_purge(const struct mbox *m, int all, uint32_t uid)
{
	size_t	 i;

	for (i = 0; i < nitems(lrus); i++)
		if (lrus[i].data != NULL && lrus[i].m == m &&
		    (all || lrus[i].uid == uid))
			lru_drop(&lrus[i]);
}

/* Length of the header block of buf, blank line included; 0 if none. */
static size_t
header_end(const char *buf, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (buf[i] == '\n' && ((i + 1 < len && buf[i + 1] == '\n') ||
		    (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')))
			return buf[i + 1] == '\n' ? i + 2 : i + 3;
	return 0;
}

/*
 * The header of message idx (CRLF line ends, blank line included, or
 * all of a message without a body, up to MBOX_HEADER_MAX), read from
 * the start of its file only: SEARCH on header fields need not read
 * whole messages.  Valid until the next call.  0 or -1.
 */
int
mbox_header(struct mbox *m, uint32_t idx, const char **datap, size_t *lenp)
{
	static char	*hbuf, *cbuf;
	static size_t	 hsize, csize;
	struct stat	 st;
	struct lru	*l;
	size_t		 len = 0, end = 0, i, o;
	ssize_t		 n;
	int		 fd, saved;

	if (idx >= m->n) {
		errno = EINVAL;
		return -1;
	}
	if (m->priv[idx].hdr != NULL) {
		*datap = m->priv[idx].hdr;
		*lenp = m->priv[idx].hdrlen;
		return 0;
	}
	if ((l = lru_find(m, m->msgs[idx].uid)) != NULL) {
		*datap = l->data;
		*lenp = (end = header_end(l->data, l->len)) ? end : l->len;
		return 0;
	}
	if ((fd = msg_open(m, idx, &st)) == -1)
		return -1;
	if (hbuf == NULL) {
		hsize = 8192;
		if ((hbuf = malloc(hsize)) == NULL)
			fatal("malloc");
	}
	for (;;) {
		if (len == hsize) {
			if (hsize >= MBOX_HEADER_MAX)
				break;
			if ((hbuf = realloc(hbuf, hsize * 2)) == NULL)
				fatal("realloc");
			hsize *= 2;
		}
		if ((n = read(fd, hbuf + len, hsize - len)) == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		/* Look again from just before the new bytes. */
		i = len > 2 ? len - 2 : 0;
		len += n;
		if ((end = header_end(hbuf + i, len - i)) != 0) {
			end += i;
			break;
		}
	}
	close(fd);
	if (end != 0)
		len = end;
	/* Dovecot stores LF; IMAP speaks CRLF.  A lone CR stays. */
	if (csize < 2 * len + 1) {
		csize = 2 * len + 1;
		if ((cbuf = realloc(cbuf, csize)) == NULL)
			fatal("realloc");
	}
	for (i = 0, o = 0; i < len; i++) {
		if (hbuf[i] == '\n' && (i == 0 || hbuf[i - 1] != '\r'))
			cbuf[o++] = '\r';
		cbuf[o++] = hbuf[i];
	}
	cbuf[o] = '\0';
	*datap = cbuf;
	*lenp = o;
	/*
	 * Kept for the next SEARCH, as Dovecot keeps header fields in its
	 * cache; bounded per mailbox, and a header never changes.
	 */
	if (o <= MBOX_HDRCACHE_ONE && m->hdrbytes + o <= MBOX_HDRCACHE_MAX) {
		if ((m->priv[idx].hdr = malloc(o + 1)) == NULL)
			fatal("malloc");
		memcpy(m->priv[idx].hdr, cbuf, o + 1);
		m->priv[idx].hdrlen = o;
		m->hdrbytes += o;
		*datap = m->priv[idx].hdr;
	}
	return 0;
}

int
mbox_read(struct mbox *m, uint32_t idx, const char **datap, size_t *lenp,
    const struct mime_msg **mimep)
{
	struct stat	 st;
	struct lru	*l;
	struct mpriv	*p;
	struct mime_msg	*mime;
	char		*buf, *out;
	size_t		 len, bare = 0, i, o;
	int		 fd, saved;

	if (idx >= m->n) {
		errno = EINVAL;
		return -1;
	}
	if ((l = lru_find(m, m->msgs[idx].uid)) != NULL) {
		l->tick = ++lru_tick;
		*datap = l->data;
		*lenp = l->len;
		*mimep = l->mime;
		return 0;
	}
	if ((fd = msg_open(m, idx, &st)) == -1)
		return -1;
	if (st.st_size > MBOX_READ_MAX) {
		log_warnx("%s/%s: larger than %d bytes", m->dir,
		    m->priv[idx].file, MBOX_READ_MAX);
		close(fd);
		errno = EFBIG;
		return -1;
	}
	buf = read_fd(fd, MBOX_READ_MAX, &len);
	saved = errno;
	close(fd);
	if (buf == NULL) {
		errno = saved;
		return -1;
	}
	for (i = 0; i < len; i++)
		if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
			bare++;
	if (bare > 0) {
		/* Dovecot stores LF; IMAP speaks CRLF.  A lone CR stays. */
		if ((out = malloc(len + bare + 1)) == NULL)
			fatal("malloc");
		for (i = 0, o = 0; i < len; i++) {
			if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
				out[o++] = '\r';
			out[o++] = buf[i];
		}
		out[o] = '\0';
		free(buf);
		buf = out;
		len = o;
	}
	p = &m->priv[idx];
	if (!(p->state & MP_SIZE) || p->size != len) {
		p->size = len;
		p->state |= MP_SIZE;
		m->cache_dirty = 1;
	}
	if (!(p->state & MP_DATE) && st.st_mtime >= 0) {
		p->date = st.st_mtime;
		p->state |= MP_DATE;
		m->cache_dirty = 1;
	}
	mime = mime_parse(buf, len);
	lru_insert(m, m->msgs[idx].uid, buf, len, mime);
	*datap = buf;
	*lenp = len;
	*mimep = mime;
	return 0;
}

/* Rendering which (0 ENVELOPE, 1 BODY, 2 BODYSTRUCTURE) of idx. */
static const char *
cache_get(struct mbox *m, uint32_t idx, int which)
{
	const struct mime_msg	*mime;
	struct mbuf		 b = { NULL, 0, 0 };
	const char		*data, *s;
	size_t			 len, i, nul = 0;

	if (idx >= m->n) {
		errno = EINVAL;
		return NULL;
	}
	if (m->priv[idx].cache == NULL) {
		if (mbox_read(m, idx, &data, &len, &mime) == -1)
			return NULL;
		mime_envelope(&b, data + mime->root->hdr_off,
		    mime->root->hdr_len);
		mbuf_add(&b, "", 1);
		mime_bodystructure(&b, mime, 0);
		mbuf_add(&b, "", 1);
		mime_bodystructure(&b, mime, 1);
		for (i = 0; i < b.len; i++)
			if (b.data[i] == '\0')
				nul++;
		if (nul != 2) {
			/* Cannot happen (values lose their NULs). */
			log_warnx("%s/%s: NUL in a rendering", m->dir,
			    m->priv[idx].file);
			mbuf_free(&b);
			errno = EINVAL;
			return NULL;
		}
		m->priv[idx].cache = b.data;
		m->cache_dirty = 1;
	}
	s = m->priv[idx].cache;
	while (which-- > 0)
		s += strlen(s) + 1;
	return s;
}

/* Bytes of a cache blob: three strings, the two NULs between them. */
static size_t
cache_len(const char *c)
{
	size_t	 l;

	l = strlen(c) + 1;
	l += strlen(c + l) + 1;
	return l + strlen(c + l);
}

const char *
mbox_envelope(struct mbox *m, uint32_t idx)
{
	return cache_get(m, idx, 0);
}

const char *
mbox_bodystructure(struct mbox *m, uint32_t idx, int ext)
{
	return cache_get(m, idx, ext ? 2 : 1);
}

int
mbox_expunge(struct mbox *m, uint32_t idx)
{
	char		 path[PATH_MAX];
	uint8_t		*gone;
	int		 tries;

	if (idx >= m->n) {
		errno = EINVAL;
		return -1;
	}
	for (tries = 0; ; tries++) {
		if (msg_path(m, idx, path, sizeof(path)) == -1)
			return -1;
		if (safe_unlink(path) == 0)
			break;
		if (errno != ENOENT) {
			log_warn("unlink %s", path);
			return -1;
		}
		/* Renamed by another program: unlink the new name. */
		if (tries > 0 || relocate(m, idx) != 1)
			break;
	}
	if ((gone = calloc(m->n, 1)) == NULL)
		fatal("calloc");
	gone[idx] = 1;
	msg_remove(m, gone);
	free(gone);
	return 0;
}

/*
 * <seconds>.M<usec>P<pid>Q<counter>R<random>.<host>,S=<s>[,W=<w>] as
 * Dovecot names them: S the file's size, W its size with CRLF.
 */
static int
uniq_name(char *buf, size_t len, uint64_t s, int has_w, uint64_t w)
{
	static unsigned long	 counter;
	struct timeval		 tv;
	unsigned char		 rnd[8];
	char			 host[MBOX_HOST_MAX + 1], sz[64];
	int			 r;

	maildir_hostname(host, sizeof(host));
	compat_random(rnd, sizeof(rnd));
	(void)gettimeofday(&tv, NULL);
	counter++;
	if (has_w)
		(void)snprintf(sz, sizeof(sz), ",S=%llu,W=%llu",
		    (unsigned long long)s, (unsigned long long)w);
	else
		(void)snprintf(sz, sizeof(sz), ",S=%llu",
		    (unsigned long long)s);
	r = snprintf(buf, len, "%lld.M%06ldP%ldQ%luR"
	    "%02x%02x%02x%02x%02x%02x%02x%02x.%s%s",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(), counter,
	    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7],
	    host, sz);
	if (r < 0 || (size_t)r >= len || r > UIDLIST_NAME_MAX - 32) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Write data with every bare LF as CRLF. */
static int
write_crlf(int fd, const char *data, size_t len)
{
	static char	 buf[MBOX_CHUNK + 1];
	size_t		 i, o = 0;

	for (i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			buf[o++] = '\r';
		buf[o++] = data[i];
		if (o >= MBOX_CHUNK) {
			if (write_full(fd, buf, o) == -1)
				return -1;
			o = 0;
		}
	}
	if (o > 0 && write_full(fd, buf, o) == -1)
		return -1;
	return 0;
}

static int
copy_fd(int in, int out)
{
	static char	 buf[MBOX_CHUNK];
	ssize_t		 r;

	for (;;) {
		if ((r = read(in, buf, sizeof(buf))) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			return 0;
		if (write_full(out, buf, r) == -1)
			return -1;
	}
}

/*
 * Link tmp/<base> into cur/<base>:2,<flags> and remove the tmp name;
 * the relative path ("cur/...") goes to out.  0 or -1 (tmp removed).
 */
static int
new_file(struct mbox *m, const char *base, const struct mflags *f,
    char *out, size_t outlen)
{
	char	 name[MFLAGS_NAME_MAX + 1], tmp[PATH_MAX], path[PATH_MAX];
	char	 rel[MFLAGS_NAME_MAX + 5];
	int	 saved;

	if (mflags_build(base, f, name, sizeof(name)) == -1 ||
	    (size_t)snprintf(rel, sizeof(rel), "cur/%s", name) >=
	    sizeof(rel) || strlcpy(out, rel, outlen) >= outlen) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/tmp/%s", m->dir, base) >=
	    sizeof(tmp) || mkpath(path, sizeof(path), m->dir, rel) == -1) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	/* link(2), unlike rename(2), never replaces an existing name. */
	if (safe_link(tmp, path) == -1) {
		if (errno != EPERM && errno != ENOSYS && errno != EOPNOTSUPP)
			goto fail;
		if (safe_rename(tmp, path) == -1)
			goto fail;
	} else
		(void)safe_unlink(tmp);
	return 0;
 fail:
	saved = errno;
	log_warn("%s: cannot add %s", m->dir, base);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/tmp/%s", m->dir, base) <
	    sizeof(tmp))
		(void)safe_unlink(tmp);
	errno = saved;
	return -1;
}

int
mbox_append(struct mbox *m, const char *data, size_t len, uint32_t sys,
    const char *const *kwnames, size_t nkw, time_t date, uint32_t *uid)
{
	struct timespec	 ts[2];
	struct mflags	 f;
	struct stat	 st;
	char		 base[UIDLIST_NAME_MAX + 1], tmp[PATH_MAX];
	char		 rel[MFLAGS_NAME_MAX + 5], *file;
	uint64_t	 size = len;
	uint32_t	 kw = 0, i;
	size_t		 k;
	int		 fd = -1, saved, r;

	if (m->gone) {
		errno = ENOENT;
		return -1;
	}
	if (len > MBOX_READ_MAX) {
		errno = EFBIG;
		return -1;
	}
	for (k = 0; k < len; k++)
		if (data[k] == '\n' && (k == 0 || data[k - 1] != '\r'))
			size++;
	if (size > MBOX_READ_MAX || (uint64_t)m->uidnext + 1 > UINT32_MAX ||
	    m->n >= UIDLIST_MAX_ENTRIES) {
		errno = EFBIG;
		return -1;
	}
	/* Unknown keywords are created; bad ones or a full table ignored. */
	for (k = 0; k < nkw; k++)
		if ((r = mbox_keyword_assign(m, kwnames[k])) >= 0)
			kw |= 1U << r;
	if (kw_flush(m) == -1)
		return -1;

	if (uniq_name(base, sizeof(base), size, 1, size) == -1 ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/tmp/%s", m->dir, base) >=
	    sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = safe_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1) {
		log_warn("%s", tmp);
		return -1;
	}
	if (write_crlf(fd, data, len) == -1 || fsync(fd) == -1)
		goto fail;
	if (date > 0) {
		ts[0].tv_sec = ts[1].tv_sec = date;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		if (futimens(fd, ts) == -1)
			goto fail;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	memset(&f, 0, sizeof(f));
	f.sys = sys & MFLAG_IMAP_MASK;
	f.kw = kw;
	if (new_file(m, base, &f, rel, sizeof(rel)) == -1)
		return -1;
	if (dir_fsync(m, "cur") == -1) {
		/* Not durable: do not report it stored. */
		saved = errno;
		if (mkpath(tmp, sizeof(tmp), m->dir, rel) == 0)
			(void)safe_unlink(tmp);
		errno = saved;
		return -1;
	}
	if ((file = strdup(rel)) == NULL)
		fatal("strdup");
	i = msg_add(m, m->uidnext++, ++m->hms, f.sys, kw, file,
	    strlen(base));
	m->priv[i].size = size;
	m->priv[i].date = st.st_mtime;
	m->priv[i].state = MP_SIZE | (st.st_mtime >= 0 ? MP_DATE : 0);
	m->list_dirty = 1;
	m->cache_dirty = 1;
	*uid = m->msgs[i].uid;
	return 0;
 fail:
	saved = errno;
	log_warn("%s", tmp);
	if (fd != -1)
		close(fd);
	(void)safe_unlink(tmp);
	errno = saved;
	return -1;
}

/* Keyword bits of src as bits of dst, by name. */
static uint32_t
kw_remap(struct mbox *src, struct mbox *dst, uint32_t kw)
{
	uint32_t	 out = 0;
	int		 i, r;

	for (i = 0; i < MFLAGS_KW_MAX; i++) {
		if (!(kw & (1U << i)) || src->kw.name[i] == NULL)
			continue;
		if ((r = mbox_keyword_assign(dst, src->kw.name[i])) >= 0)
			out |= 1U << r;
	}
	return out;
}

int
mbox_copy(struct mbox *src, uint32_t idx, struct mbox *dst, uint32_t *uid)
{
	struct timespec	 ts[2];
	struct mflags	 f, sf;
	struct stat	 st, lst;
	char		 base[UIDLIST_NAME_MAX + 1];
	char		 sbase[MFLAGS_NAME_MAX + 1], name[MFLAGS_NAME_MAX + 1];
	char		 spath[PATH_MAX], dpath[PATH_MAX], tmp[PATH_MAX];
	char		 rel[MFLAGS_NAME_MAX + 5];
	char		*file, *cache = NULL;
	uint64_t	 size = 0;
	int64_t		 date;
	size_t		 l;
	uint32_t	 i;
	int		 fd, out = -1, saved, state, linked = 0;

	if (idx >= src->n || dst->gone) {
		errno = idx >= src->n ? EINVAL : ENOENT;
		return -1;
	}
	if ((uint64_t)dst->uidnext + 1 > UINT32_MAX ||
	    dst->n >= UIDLIST_MAX_ENTRIES) {
		errno = EFBIG;
		return -1;
	}
	/* Also checks that it is a regular file, not a planted link. */
	if ((fd = msg_open(src, idx, &st)) == -1)
		return -1;
	if (mflags_parse(src->priv[idx].file + 4, sbase, sizeof(sbase),
	    &sf) == -1) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	memset(&f, 0, sizeof(f));
	f.sys = src->msgs[idx].sys & ~MFLAG_RECENT;
	f.kw = kw_remap(src, dst, src->msgs[idx].kw);
	memcpy(f.other, sf.other, sizeof(f.other));
	state = src->priv[idx].state;
	if (state & MP_SIZE)
		size = src->priv[idx].size;
	date = (state & MP_DATE) ? src->priv[idx].date : st.st_mtime;
	if (src->priv[idx].cache != NULL) {
		l = cache_len(src->priv[idx].cache) + 1;
		if ((cache = malloc(l)) == NULL)
			fatal("malloc");
		memcpy(cache, src->priv[idx].cache, l);
	}
	if (kw_flush(dst) == -1 ||
	    msg_path(src, idx, spath, sizeof(spath)) == -1 ||
	    uniq_name(base, sizeof(base), st.st_size, state & MP_SIZE,
	    size) == -1 ||
	    mflags_build(base, &f, name, sizeof(name)) == -1 ||
	    (size_t)snprintf(rel, sizeof(rel), "cur/%s", name) >=
	    sizeof(rel) || mkpath(dpath, sizeof(dpath), dst->dir, rel) == -1)
		goto fail;

	if (safe_link(spath, dpath) == 0) {
		linked = 1;
		/* Must be the very file we checked, not a swapped-in link. */
		if (safe_lstat(dpath, &lst) == -1 || !S_ISREG(lst.st_mode) ||
		    lst.st_ino != st.st_ino || lst.st_dev != st.st_dev) {
			(void)safe_unlink(dpath);
			log_warnx("%s: changed while being copied", spath);
			errno = EPERM;
			goto fail;
		}
	} else if (errno != EXDEV && errno != EPERM && errno != EMLINK &&
	    errno != EOPNOTSUPP && errno != ENOSYS && errno != ENOENT)
		goto fail;
	/* No link (other file system, or renamed away): copy from fd. */
	if (!linked) {
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dst->dir,
		    base) >= sizeof(tmp)) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		if ((out = safe_open(tmp, O_WRONLY | O_CREAT | O_EXCL,
		    0600)) == -1)
			goto fail;
		ts[0].tv_sec = ts[1].tv_sec = st.st_mtime;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		if (copy_fd(fd, out) == -1 || fsync(out) == -1 ||
		    futimens(out, ts) == -1) {
			saved = errno;
			close(out);
			(void)safe_unlink(tmp);
			errno = saved;
			goto fail;
		}
		if (close(out) == -1) {
			saved = errno;
			(void)safe_unlink(tmp);
			errno = saved;
			goto fail;
		}
		if (new_file(dst, base, &f, rel, sizeof(rel)) == -1)
			goto fail;
	}
	close(fd);
	/* One fsync of cur/ for the whole COPY, in mbox_commit(). */
	dst->cur_dirty = 1;
	if ((file = strdup(rel)) == NULL)
		fatal("strdup");
	i = msg_add(dst, dst->uidnext++, ++dst->hms, f.sys, f.kw, file,
	    strlen(base));
	dst->priv[i].size = size;
	dst->priv[i].date = date;
	dst->priv[i].state = state;
	dst->priv[i].cache = cache;
	dst->list_dirty = 1;
	dst->cache_dirty = 1;
	*uid = dst->msgs[i].uid;
	return 0;
 fail:
	saved = errno;
	if (saved != ENOENT)
		log_warn("copy %s/%s to %s", src->dir, src->priv[idx].file,
		    dst->dir);
	close(fd);
	free(cache);
	errno = saved;
	return -1;
}

/* Decimal at *pp, no sign or leading zero, at most max: 0 or -1. */
static int
parse_u64(const char **pp, const char *end, uint64_t max, uint64_t *out)
{
	const char	*p = *pp;
	uint64_t	 v = 0;

	if (p >= end || *p < '0' || *p > '9' ||
	    (*p == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9'))
		return -1;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (v > (max - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*pp = p;
	*out = v;
	return 0;
}

#define EXPECT(p, end, c)	((p) < (end) && *(p)++ == (c))

/*
 * Check (apply = 0) or take (apply = 1) the cache file's contents.
 * 0, or -1 if anything is wrong.
 */
static int
cache_parse(struct mbox *m, const char *buf, size_t len, int apply)
{
	const char	*p = buf, *end = buf + len, *eol;
	uint64_t	 version, uv, hms, vfl, nx, nc, uid, modseq, state;
	uint64_t	 size, date, elen, last = 0, lastms;
	size_t		 i, k, nul;
	long		 idx;
	int		 history;

	if ((eol = memchr(p, '\n', len)) == NULL || eol - p > 256 ||
	    (size_t)(eol - p) < sizeof(MBOX_CACHE_MAGIC) ||
	    memcmp(p, MBOX_CACHE_MAGIC " ", sizeof(MBOX_CACHE_MAGIC)) != 0)
		return -1;
	p += sizeof(MBOX_CACHE_MAGIC);
	if (parse_u64(&p, eol, 1000, &version) == -1 ||
	    version != MBOX_CACHE_VERSION ||
	    !EXPECT(p, eol, ' ') || !EXPECT(p, eol, 'V') ||
	    parse_u64(&p, eol, UINT32_MAX, &uv) == -1 ||
	    !EXPECT(p, eol, ' ') || !EXPECT(p, eol, 'M') ||
	    parse_u64(&p, eol, INT64_MAX, &hms) == -1 ||
	    !EXPECT(p, eol, ' ') || !EXPECT(p, eol, 'F') ||
	    parse_u64(&p, eol, hms, &vfl) == -1 ||
	    !EXPECT(p, eol, ' ') || !EXPECT(p, eol, 'X') ||
	    parse_u64(&p, eol, MBOX_VANISHED_MAX, &nx) == -1 ||
	    !EXPECT(p, eol, ' ') || !EXPECT(p, eol, 'C') ||
	    parse_u64(&p, eol, UIDLIST_MAX_ENTRIES, &nc) == -1 || p != eol)
		return -1;
	if (uv != m->uidvalidity)
		return -1;
	/* History is exact only if nothing happened since it was saved. */
	history = hms == m->hms;
	if (apply && history) {
		m->vfloor = vfl;
		m->nv = 0;
	}
	p = eol + 1;
	for (i = 0, lastms = vfl; i < nx; i++) {
		if ((eol = memchr(p, '\n', end - p)) == NULL ||
		    !EXPECT(p, eol, 'X') ||
		    parse_u64(&p, eol, UINT32_MAX, &uid) == -1 || uid == 0 ||
		    !EXPECT(p, eol, ' ') ||
		    parse_u64(&p, eol, hms, &modseq) == -1 ||
		    modseq <= lastms || p != eol)
			return -1;
		lastms = modseq;
		if (apply && history)
			vanished_add(m, uid, modseq);
		p = eol + 1;
	}
	for (i = 0; i < nc; i++) {
		if ((eol = memchr(p, '\n', end - p)) == NULL ||
		    !EXPECT(p, eol, 'E') ||
		    parse_u64(&p, eol, UINT32_MAX, &uid) == -1 ||
		    uid <= last || !EXPECT(p, eol, ' ') ||
		    parse_u64(&p, eol, MP_SIZE | MP_DATE, &state) == -1 ||
		    !EXPECT(p, eol, ' ') ||
		    parse_u64(&p, eol, MBOX_W_MAX, &size) == -1 ||
		    !EXPECT(p, eol, ' ') ||
		    parse_u64(&p, eol, INT64_MAX, &date) == -1 ||
		    !EXPECT(p, eol, ' ') ||
		    parse_u64(&p, eol, MBOX_CACHE_ENTRY_MAX, &elen) == -1 ||
		    p != eol)
			return -1;
		last = uid;
		p = eol + 1;
		if ((size_t)(end - p) < elen + 1 || p[elen] != '\n')
			return -1;
		for (k = 0, nul = 0; k < elen; k++)
			if (p[k] == '\0')
				nul++;
		if (elen > 0 && nul != 2)
			return -1;
		/*
		 * Only UIDs of the list as read from disk (the cache is
		 * loaded before the first scan): a UID the list never
		 * saved may go to another file after a crash.
		 */
		if (apply && uid < m->uidnext &&
		    (idx = mbox_find(m, uid)) != -1) {
			m->priv[idx].state = state;
			m->priv[idx].size = size;
			m->priv[idx].date = date;
			if (elen > 0) {
				if ((m->priv[idx].cache = malloc(elen + 1)) ==
				    NULL)
					fatal("malloc");
				memcpy(m->priv[idx].cache, p, elen);
				m->priv[idx].cache[elen] = '\0';
			}
		}
		p += elen + 1;
	}
	if (p != end)
		return -1;
	return 0;
}

static void
cache_load(struct mbox *m)
{
	struct stat	 st;
	char		 path[PATH_MAX], *buf;
	size_t		 len;
	int		 fd;

	if (mkpath(path, sizeof(path), m->dir, MBOX_CACHE_FILE) == -1)
		return;
	if ((fd = safe_open(path, O_RDONLY | O_NONBLOCK, 0)) == -1) {
		if (errno != ENOENT)
			log_warn("%s", path);
		return;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > MBOX_CACHE_MAX) {
		log_warnx("%s: not a regular file or too large, ignored",
		    path);
		close(fd);
		return;
	}
	buf = read_fd(fd, MBOX_CACHE_MAX, &len);
	close(fd);
	if (buf == NULL) {
		log_warn("%s", path);
		return;
	}
	if (cache_parse(m, buf, len, 0) == -1)
		log_warnx("%s: corrupt or stale, ignored", path);
	else
		(void)cache_parse(m, buf, len, 1);
	free(buf);
}

static int
cache_save(struct mbox *m)
{
	struct mbuf	 b = { NULL, 0, 0 };
	const char	*c;
	char		 tmp[PATH_MAX], path[PATH_MAX];
	size_t		 i, l, count = 0;
	int		 fd = -1, ret = -1, saved;

	for (i = 0; i < m->n; i++)
		if (m->priv[i].state != 0 || m->priv[i].cache != NULL)
			count++;
	mbuf_printf(&b, "%s %d V%u M%llu F%llu X%zu C%zu\n",
	    MBOX_CACHE_MAGIC, MBOX_CACHE_VERSION, m->uidvalidity,
	    (unsigned long long)m->hms, (unsigned long long)m->vfloor, m->nv,
	    count);
	for (i = 0; i < m->nv; i++)
		mbuf_printf(&b, "X%u %llu\n", m->vuid[i],
		    (unsigned long long)m->vmodseq[i]);
	for (i = 0; i < m->n; i++) {
		if (m->priv[i].state == 0 && m->priv[i].cache == NULL)
			continue;
		l = 0;
		if ((c = m->priv[i].cache) != NULL) {
			l = cache_len(c);
			if (l > MBOX_CACHE_ENTRY_MAX)
				l = 0;	/* rendered again on use */
		}
		if (b.len + l + 128 > MBOX_CACHE_MAX)
			l = 0;
		mbuf_printf(&b, "E%u %d %llu %lld %zu\n", m->msgs[i].uid,
		    m->priv[i].state & (MP_SIZE | MP_DATE),
		    (unsigned long long)m->priv[i].size,
		    (long long)m->priv[i].date, l);
		if (l > 0)
			mbuf_add(&b, c, l);
		mbuf_add(&b, "\n", 1);
	}

	if (mkpath(path, sizeof(path), m->dir, MBOX_CACHE_FILE) == -1 ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/%s.tmp.%ld", m->dir,
	    MBOX_CACHE_FILE, (long)getpid()) >= sizeof(tmp))
		goto done;
	(void)safe_unlink(tmp);	/* left over by a crash of our pid */
	if ((fd = safe_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1) {
		log_warn("%s", tmp);
		goto done;
	}
	if (write_full(fd, b.data, b.len) == -1 || fsync(fd) == -1 ||
	    close(fd) == -1) {
		saved = errno;
		log_warn("%s", tmp);
		(void)safe_unlink(tmp);
		errno = saved;
		fd = -1;
		goto done;
	}
	fd = -1;
	if (safe_rename(tmp, path) == -1) {
		log_warn("rename %s", path);
		(void)safe_unlink(tmp);
		goto done;
	}
	m->cache_dirty = 0;
	ret = 0;
 done:
	mbuf_free(&b);
	return ret;
}

int
mbox_create(const char *dir)
{
	if (!dir_valid(dir)) {
		errno = EINVAL;
		return -1;
	}
	if (make_maildir(dir, 1) == -1) {
		if (errno != EEXIST && !mbox_log_link(dir, "cannot create"))
			log_warn("%s: cannot create", dir);
		return -1;
	}
	return 0;
}

int
mbox_renew_uidvalidity(const char *dir)
{
	struct uidlist	*ul;
	struct stat	 st;
	char		 path[PATH_MAX];
	int		 r;

	if (!dir_valid(dir)) {
		errno = EINVAL;
		return -1;
	}
	/* RENAME moves whatever bears the name: only Maildirs have lists. */
	if (mkpath(path, sizeof(path), dir, "cur") == -1 ||
	    safe_lstat(path, &st) == -1 || !S_ISDIR(st.st_mode))
		return 0;
	/* A list made now (none yet, or corrupt) has a new value already. */
	if ((r = uidlist_open(dir, &ul)) == -1)
		return -1;
	if (r == 1)
		ul->uidvalidity = uidlist_new_uidvalidity();
	r = uidlist_save(ul);
	if (r == -1)
		log_warn("%s: cannot renew UIDVALIDITY", dir);
	uidlist_free(ul);
	/* Its renderings are keyed by the old value: useless now. */
	if (mkpath(path, sizeof(path), dir, MBOX_CACHE_FILE) == 0)
		(void)safe_unlink(path);
	return r;
}

/* Files of maild and Dovecot that a mailbox directory may hold. */
static int
state_file(const char *name)
{
	return strcmp(name, "maildirfolder") == 0 ||
	    strncmp(name, "maild-", 6) == 0 ||
	    strncmp(name, "dovecot", 7) == 0;
}

/*
 * The state files are written as <name>.tmp.<pid> and renamed within one
 * call, by this process only: one there when the mailbox is opened was
 * left by a crash (under another pid, so no later write replaces it).
 */
static void
stale_purge(const char *dir)
{
	static const char *const names[] = { UIDLIST_FILE, MBOX_CACHE_FILE,
	    MFLAGS_KW_FILE };
	struct dirent	*de;
	DIR		*d;
	char		 path[PATH_MAX];
	const char	*p;
	size_t		 i, len;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		for (i = 0; i < nitems(names); i++) {
			len = strlen(names[i]);
			p = de->d_name + len;
			if (strncmp(de->d_name, names[i], len) == 0 &&
			    strncmp(p, ".tmp.", 5) == 0 && p[5] != '\0' &&
			    strspn(p + 5, "0123456789") == strlen(p + 5))
				break;
		}
		if (i < nitems(names) &&
		    mkpath(path, sizeof(path), dir, de->d_name) == 0 &&
		    unlink(path) == 0)
			log_info("%s: removed %s, left by a crash", dir,
			    de->d_name);
	}
	closedir(d);
}

/* Nothing but files in cur/ new/ tmp/, nothing unknown beside them. */
static int
remove_check(int dfd)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d, *sd;
	int		 fd, bad = 0, issub;

	if ((fd = dup(dfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	rewinddir(d);
	while (!bad && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			bad = 1;
			break;
		}
		issub = strcmp(de->d_name, "cur") == 0 ||
		    strcmp(de->d_name, "new") == 0 ||
		    strcmp(de->d_name, "tmp") == 0;
		if (!issub) {
			if (!state_file(de->d_name) || S_ISDIR(st.st_mode))
				bad = 1;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			bad = 1;
			continue;
		}
		if ((fd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1 ||
		    (sd = fdopendir(fd)) == NULL) {
			if (fd != -1)
				close(fd);
			bad = 1;
			continue;
		}
		while ((de = readdir(sd)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (fstatat(dirfd(sd), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == -1 || S_ISDIR(st.st_mode)) {
				bad = 1;
				break;
			}
		}
		closedir(sd);
	}
	closedir(d);
	if (bad) {
		errno = ENOTEMPTY;
		return -1;
	}
	return 0;
}

/* Unlink every entry of dfd/sub (never following links), then sub. */
static int
remove_sub(int dfd, const char *sub)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd;

	if ((fd = openat(dfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == -1 &&
		    errno != ENOENT) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return unlinkat(dfd, sub, AT_REMOVEDIR);
}

/*
 * Delete a folder: its messages, maild's and Dovecot's state files and
 * the directories.  Anything else (a subdirectory, a file some other
 * program keeps there) makes it refuse with ENOTEMPTY before anything
 * is deleted: a wrong path must never become rm -rf of a user's tree,
 * and the user's root (which holds the other folders) can never go.
 */
int
mbox_remove(const char *dir)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	struct dirent	*de;
	DIR		*d;
	size_t		 i;
	int		 dfd, fd, saved;

	if (!dir_valid(dir)) {
		errno = EINVAL;
		return -1;
	}
	if ((dfd = safe_open(dir, O_RDONLY | O_DIRECTORY, 0)) == -1)
		return -1;
	if (remove_check(dfd) == -1)
		goto fail;
	for (i = 0; i < nitems(sub); i++)
		if (remove_sub(dfd, sub[i]) == -1)
			goto fail;
	if ((fd = dup(dfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		goto fail;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (!state_file(de->d_name))
			continue;
		if (unlinkat(dfd, de->d_name, 0) == -1 && errno != ENOENT) {
			saved = errno;
			closedir(d);
			errno = saved;
			goto fail;
		}
	}
	closedir(d);
	close(dfd);
	if (safe_rmdir(dir) == -1) {
		log_warn("rmdir %s", dir);
		return -1;
	}
	return 0;
 fail:
	saved = errno;
	log_warn("%s: cannot remove", dir);
	close(dfd);
	errno = saved;
	return -1;
}
