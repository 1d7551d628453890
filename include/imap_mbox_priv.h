/*
 * Inside the open-mailbox module (src/lib/imap_mbox*.c) only: the
 * object itself and the functions its files share.  Nothing else
 * includes this; the rest of maild sees include/imap_mbox.h.
 */
#ifndef MAILD_IMAP_MBOX_PRIV_H
#define MAILD_IMAP_MBOX_PRIV_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imap_mbox.h"
#include "mflags.h"
#include "uidlist.h"

struct sort_blob;

#define MBOX_READ_MAX		(100 * 1024 * 1024)	/* a message */
#define MBOX_CACHE_FILE		"maild-cache"
#define MBOX_CACHE_DELAY	30	/* seconds between cache rewrites */
#define MBOX_VANISHED_MAX	10000	/* expunges remembered */
#define MBOX_DIR_MAX		1000	/* fits uidlist's dir[1024] */
#define MBOX_CHUNK		65536

/* struct mpriv.state */
#define MP_SIZE		0x01	/* size known */
#define MP_DATE		0x02	/* date known */

/* Per message, parallel to the struct mbox_msg array. */
struct mpriv {
	char		*file;		/* "cur/<base>:2,<flags>", "new/..." */
	char		*cache;		/* "env\0body\0bodystructure", NULL */
	char		*preview;	/* PREVIEW text (UTF-8), NULL */
	char		*hdr;		/* header block (CRLF), for SEARCH */
	struct sort_blob *sortkeys;	/* SORT/THREAD keys (imap_sort.h) */
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
	uint32_t		 recent;	/* first UID not yet \Recent */
	char			 mailboxid[UIDLIST_ID_MAX + 1];
	struct mbox_msg		*msgs;		/* sorted by UID */
	struct mpriv		*priv;
	uint32_t		 n, cap;
	struct mflags_keywords	 kw;
	size_t			 hdrbytes;	/* held in priv[].hdr */
	int			 list_dirty;	/* maild-uidlist: UIDs */
	int			 mod_dirty;	/* maild-uidlist: MODSEQ only */
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

/* imap_mbox.c */
int		 mbox_mkpath(char *, size_t, const char *, const char *);
int		 mbox_dir_fsync(const struct mbox *, const char *);
/* Write dovecot-keywords if a name was added: 0 or -1. */
int		 mbox_kw_flush(struct mbox *);

/* imap_mbox_sync.c */
/*
 * Bring the list in line with new/ and cur/.  force: scan even if the
 * directories look unchanged; first: flags read now are the initial
 * ones, not changes (no new MODSEQ).  1 changed, 0 not, -1 error.
 */
int		 mbox_scan(struct mbox *, int, int);
/* Append a message (uid above all others); takes file.  Its index. */
uint32_t	 mbox_msg_add(struct mbox *, uint32_t, uint64_t, uint32_t,
		    uint32_t, char *, size_t);
/* Drop the messages marked in gone[], recording each as an expunge. */
void		 mbox_msg_remove(struct mbox *, const uint8_t *);
void		 mbox_msg_set_file(struct mbox *, uint32_t, const char *,
		    const char *, size_t);
void		 mbox_vanished_add(struct mbox *, uint32_t, uint64_t);
/* The file of idx moved (another program): 1 found, 0 gone, -1. */
int		 mbox_relocate(struct mbox *, uint32_t);
int		 mbox_msg_path(const struct mbox *, uint32_t, char *, size_t);
/* Open the file of idx (regular, no link): fd, -1 (ENOENT: gone). */
int		 mbox_msg_open(struct mbox *, uint32_t, struct stat *);

/* imap_mbox_cache.c */
void		 mbox_cache_load(struct mbox *);
int		 mbox_cache_save(struct mbox *);
/* Bytes of a rendering blob (three strings, two NULs between). */
size_t		 mbox_cache_len(const char *);
/* Forget what was read of m: everything (all) or one uid. */
void		 mbox_lru_purge(const struct mbox *, int, uint32_t);

/* imap_mbox_folder.c */
int		 mbox_dir_valid(const char *);
/* After ELOOP: log which link refused dir.  1 if it was ELOOP. */
int		 mbox_log_link(const char *, const char *);
int		 mbox_make_maildir(const char *, int);
/* Remove <name>.tmp.<pid> state files left by a crash. */
void		 mbox_stale_purge(const char *);

#endif
