/*
 * Messages added to and removed from an open mailbox by its sessions:
 * APPEND (written in tmp/ with CRLF line ends, linked into cur/ with
 * its flags, made durable before it gets a UID; several messages of
 * one command all or none: staged in tmp/, then linked), COPY (a hard link when
 * the file system allows, else a copy; flags, keywords by name and the
 * cached renderings go along) and EXPUNGE (unlink, then the expunge is
 * recorded like one found by a scan).  New files are named as Dovecot
 * names them; a copy's name also carries the EMAILID of its source
 * (imap_mbox_ids.c).
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>

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
#include "maildir.h"
#include "mflags.h"
#include "quota.h"
#include "safepath.h"
#include "uidlist.h"
#include "util.h"

#define MBOX_HOST_MAX		64

static int	 uniq_name(char *, size_t, uint64_t, int, uint64_t,
		    const char *);
static int	 write_crlf(int, const char *, size_t);
static int	 copy_fd(int, int);
static int	 new_file(struct mbox *, const char *, const struct mflags *,
		    char *, size_t);
static uint32_t	 kw_remap(struct mbox *, struct mbox *, uint32_t);

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
		if (mbox_msg_path(m, idx, path, sizeof(path)) == -1)
			return -1;
		if (safe_unlink(path) == 0)
			break;
		if (errno != ENOENT) {
			log_warn("unlink %s", path);
			return -1;
		}
		/* Renamed by another program: unlink the new name. */
		if (tries > 0 || mbox_relocate(m, idx) != 1)
			break;
	}
	if ((gone = calloc(m->n, 1)) == NULL)
		fatal("calloc");
	gone[idx] = 1;
	mbox_msg_remove(m, gone);
	free(gone);
	return 0;
}

int
mbox_quota_size(struct mbox *m, uint32_t idx, uint64_t *size)
{
	struct stat	 st;
	int		 fd;

	if (idx >= m->n) {
		errno = EINVAL;
		return -1;
	}
	if (quota_name_size(m->priv[idx].file, size) == 0)
		return 0;
	if ((fd = mbox_msg_open(m, idx, &st)) == -1)
		return -1;
	close(fd);
	*size = (uint64_t)st.st_size;
	return 0;
}

/*
 * <seconds>.M<usec>P<pid>Q<counter>R<random>.<host>,S=<s>[,W=<w>] as
 * Dovecot names them: S the file's size, W its size with CRLF; then
 * ",E=<eid>" if eid is not NULL.
 */
static int
uniq_name(char *buf, size_t len, uint64_t s, int has_w, uint64_t w,
    const char *eid)
{
	static unsigned long	 counter;
	struct timeval		 tv;
	unsigned char		 rnd[8];
	char			 host[MBOX_HOST_MAX + 1];
	char			 sz[64 + MBOX_EMAILID_MAX];
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
	if (eid != NULL && (strlcat(sz, ",E=", sizeof(sz)) >= sizeof(sz) ||
	    strlcat(sz, eid, sizeof(sz)) >= sizeof(sz))) {
		errno = ENAMETOOLONG;
		return -1;
	}
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
	    sizeof(tmp) || mbox_mkpath(path, sizeof(path), m->dir, rel) == -1) {
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

/*
 * Write a new message to tmp/: nothing in the mailbox sees it until
 * mbox_stage_commit() links it into cur/.
 */
int
mbox_stage(struct mbox *m, const char *data, size_t len, uint32_t sys,
    const char *const *kwnames, size_t nkw, time_t date,
    struct mbox_staged *sm)
{
	struct timespec	 ts[2];
	struct stat	 st;
	char		 base[UIDLIST_NAME_MAX + 1], tmp[PATH_MAX];
	uint64_t	 size = len;
	uint32_t	 kw = 0;
	size_t		 k;
	int		 fd = -1, saved, r;

	memset(sm, 0, sizeof(*sm));
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
	if (size > MBOX_READ_MAX) {
		errno = EFBIG;
		return -1;
	}
	/* Unknown keywords are created; bad ones or a full table ignored. */
	for (k = 0; k < nkw; k++)
		if ((r = mbox_keyword_assign(m, kwnames[k])) >= 0)
			kw |= 1U << r;
	if (mbox_kw_flush(m) == -1)
		return -1;

	if (uniq_name(base, sizeof(base), size, 1, size, NULL) == -1 ||
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
	if ((sm->base = strdup(base)) == NULL)
		fatal("strdup");
	sm->size = size;
	sm->date = st.st_mtime;
	sm->sys = sys & MFLAG_IMAP_MASK;
	sm->kw = kw;
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

void
mbox_stage_abort(struct mbox *m, struct mbox_staged *sm, size_t n)
{
	char	 tmp[PATH_MAX];
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (sm[i].base != NULL && (size_t)snprintf(tmp, sizeof(tmp),
		    "%s/tmp/%s", m->dir, sm[i].base) < sizeof(tmp))
			(void)safe_unlink(tmp);
		free(sm[i].base);
		free(sm[i].rel);
		sm[i].base = sm[i].rel = NULL;
	}
}

/*
 * All or none: each staged message is linked into cur/, cur/ is made
 * durable once, and only then do they get their UIDs (consecutive, in
 * order).  A failure on the way removes what was linked.
 */
int
mbox_stage_commit(struct mbox *m, struct mbox_staged *sm, size_t n,
    uint32_t *first)
{
	struct mflags	 f;
	char		 rel[MFLAGS_NAME_MAX + 5], path[PATH_MAX];
	size_t		 i, k;
	uint32_t	 idx;
	int		 saved;

	if (m->gone || (uint64_t)m->uidnext + n > UINT32_MAX ||
	    m->n + n > UIDLIST_MAX_ENTRIES) {
		saved = m->gone ? ENOENT : EFBIG;
		mbox_stage_abort(m, sm, n);
		errno = saved;
		return -1;
	}
	for (i = 0; i < n; i++) {
		memset(&f, 0, sizeof(f));
		f.sys = sm[i].sys;
		f.kw = sm[i].kw;
		/* new_file() removes the tmp name either way. */
		if (new_file(m, sm[i].base, &f, rel, sizeof(rel)) == -1)
			goto fail;
		if ((sm[i].rel = strdup(rel)) == NULL)
			fatal("strdup");
	}
	if (mbox_dir_fsync(m, "cur") == -1) {
		/* Not durable: do not report them stored. */
		i = n;
		goto fail;
	}
	*first = m->uidnext;
	for (i = 0; i < n; i++) {
		idx = mbox_msg_add(m, m->uidnext++, ++m->hms, sm[i].sys,
		    sm[i].kw, sm[i].rel, strlen(sm[i].base));
		m->priv[idx].size = sm[i].size;
		m->priv[idx].date = sm[i].date;
		m->priv[idx].state = MP_SIZE |
		    (sm[i].date >= 0 ? MP_DATE : 0);
		sm[i].rel = NULL;	/* the list has it */
		free(sm[i].base);
		sm[i].base = NULL;
	}
	m->list_dirty = 1;
	m->cache_dirty = 1;
	return 0;
 fail:
	saved = errno;
	for (k = 0; k < i; k++)
		if (mbox_mkpath(path, sizeof(path), m->dir, sm[k].rel) == 0)
			(void)safe_unlink(path);
	/* The one that failed has no tmp name left. */
	if (i < n) {
		free(sm[i].base);
		sm[i].base = NULL;
	}
	mbox_stage_abort(m, sm, n);
	errno = saved;
	return -1;
}

int
mbox_append(struct mbox *m, const char *data, size_t len, uint32_t sys,
    const char *const *kwnames, size_t nkw, time_t date, uint32_t *uid)
{
	struct mbox_staged	 sm;

	if (mbox_stage(m, data, len, sys, kwnames, nkw, date, &sm) == -1)
		return -1;
	return mbox_stage_commit(m, &sm, 1, uid);
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
	char		 eid[MBOX_EMAILID_MAX + 1];
	char		*file, *cache = NULL, *preview = NULL;
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
	if ((fd = mbox_msg_open(src, idx, &st)) == -1)
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
		l = mbox_cache_len(src->priv[idx].cache) + 1;
		if ((cache = malloc(l)) == NULL)
			fatal("malloc");
		memcpy(cache, src->priv[idx].cache, l);
	}
	if (src->priv[idx].preview != NULL &&
	    (preview = strdup(src->priv[idx].preview)) == NULL)
		fatal("strdup");
	if (mbox_kw_flush(dst) == -1 ||
	    mbox_emailid(src, idx, eid, sizeof(eid)) == -1 ||
	    mbox_msg_path(src, idx, spath, sizeof(spath)) == -1 ||
	    uniq_name(base, sizeof(base), st.st_size, state & MP_SIZE,
	    size, eid) == -1 ||
	    mflags_build(base, &f, name, sizeof(name)) == -1 ||
	    (size_t)snprintf(rel, sizeof(rel), "cur/%s", name) >=
	    sizeof(rel) ||
	    mbox_mkpath(dpath, sizeof(dpath), dst->dir, rel) == -1)
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
	i = mbox_msg_add(dst, dst->uidnext++, ++dst->hms, f.sys, f.kw, file,
	    strlen(base));
	dst->priv[i].size = size;
	dst->priv[i].date = date;
	dst->priv[i].state = state;
	dst->priv[i].cache = cache;
	dst->priv[i].preview = preview;
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
	free(preview);
	errno = saved;
	return -1;
}
