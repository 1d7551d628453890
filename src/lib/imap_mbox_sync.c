/*
 * The one model of a Maildir folder's UIDs, flags, MODSEQs and expunges:
 * the scan of new/ and cur/ that brings the open mailbox in line with
 * what other programs (deliveries, other IMAP servers, other maild
 * sessions) did.  New files get UIDs from UIDNEXT in base-name order, a
 * name in both cur/ and new/ counts once (cur/ wins), a missing file is
 * an expunge (recorded with a new MODSEQ for QRESYNC), a flag change
 * made by renaming a file gets a new MODSEQ (CONDSTORE must see it),
 * files in new/ are moved to cur/ (as Dovecot does).  UIDs are never
 * reused or renumbered.  Also: finding a message's file again after
 * another program renamed it.
 */
#include <sys/types.h>
#include <sys/stat.h>

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
#include "imap_mbox.h"
#include "imap_mbox_priv.h"
#include "log.h"
#include "maild.h"
#include "mflags.h"
#include "safepath.h"
#include "uidlist.h"

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

static int	 base_cmp(const char *, size_t, const char *, size_t);
static int	 dent_cmp(const void *, const void *);
static int	 mkey_cmp(const void *, const void *);
static int	 scan_dir(struct mbox *, const char *, struct dvec *);
static void	 dvec_free(struct dvec *);
static int	 msg_update(struct mbox *, uint32_t, const struct dent *,
		    int);
static void	 move_new(struct mbox *);

static int
base_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int	 c;

	if ((c = memcmp(a, b, alen < blen ? alen : blen)) != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* By base name; on a tie cur/ sorts first and wins. */
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

	if (mbox_mkpath(path, sizeof(path), m->dir, sub) == -1)
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

int
mbox_sync(struct mbox *m)
{
	if (m->gone)
		return 0;
	return mbox_scan(m, 0, 0);
}

/*
 * Bring the list in line with new/ and cur/.  force: scan even if the
 * directories look unchanged; first: flags read now are the initial
 * ones, not changes (no new MODSEQ).  1 changed, 0 not, -1 error.
 */
int
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

	if (mbox_mkpath(path, sizeof(path), m->dir, "new") == -1 ||
	    safe_lstat(path, &sn) == -1 ||
	    mbox_mkpath(path, sizeof(path), m->dir, "cur") == -1 ||
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
		mbox_msg_remove(m, gone);
		changed = 1;
	}
	for (i = 0; i < dv.n; i++) {
		if (!dv.v[i].add)
			continue;
		if ((file = malloc(strlen(dv.v[i].name) + 5)) == NULL)
			fatal("malloc");
		memcpy(file, dv.v[i].isnew ? "new/" : "cur/", 4);
		memcpy(file + 4, dv.v[i].name, strlen(dv.v[i].name) + 1);
		(void)mbox_msg_add(m, m->uidnext++, ++m->hms, dv.v[i].sys,
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
void
mbox_msg_set_file(struct mbox *m, uint32_t idx, const char *sub,
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

	mbox_msg_set_file(m, idx, d->isnew ? "new" : "cur", d->name,
	    d->baselen);
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
uint32_t
mbox_msg_add(struct mbox *m, uint32_t uid, uint64_t modseq, uint32_t sys,
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
void
mbox_msg_remove(struct mbox *m, const uint8_t *gone)
{
	uint32_t	 i, j;

	for (i = 0, j = 0; i < m->n; i++) {
		if (gone[i]) {
			mbox_vanished_add(m, m->msgs[i].uid, ++m->hms);
			mbox_lru_purge(m, 0, m->msgs[i].uid);
			free(m->priv[i].file);
			free(m->priv[i].cache);
			free(m->priv[i].sortkeys);
			free(m->priv[i].preview);
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

void
mbox_vanished_add(struct mbox *m, uint32_t uid, uint64_t modseq)
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
			mbox_msg_set_file(m, i, "cur", nf + 4,
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
int
mbox_relocate(struct mbox *m, uint32_t idx)
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

int
mbox_msg_path(const struct mbox *m, uint32_t idx, char *buf, size_t len)
{
	return mbox_mkpath(buf, len, m->dir, m->priv[idx].file);
}

/*
 * Open the file of message idx for reading, never through a symbolic
 * link and only if it is a regular file.  fd, or -1 (ENOENT: gone).
 */
int
mbox_msg_open(struct mbox *m, uint32_t idx, struct stat *st)
{
	char	 path[PATH_MAX];
	int	 fd, tries, saved;

	for (tries = 0; ; tries++) {
		if (mbox_msg_path(m, idx, path, sizeof(path)) == -1)
			return -1;
		fd = safe_open(path, O_RDONLY | O_NONBLOCK, 0);
		if (fd != -1)
			break;
		saved = errno;
		if (saved == ENOENT && tries == 0 && mbox_relocate(m, idx) == 1)
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
