/*
 * Mailbox quotas (quota.c): the limits of a user (mail.conf's quota
 * statement and its table), and the usage of a Maildir kept in
 * Maildir++'s "maildirsize" file in its root, the file Courier and
 * Dovecot keep, so that a migrated user's usage is read as it is and
 * Dovecot reads ours.
 *
 * maildirsize: a first line with the limits ("<bytes>S,<count>C",
 * either part left out when there is no such limit, "0S" for none at
 * all), then lines of "<bytes> <count>" (signed: an expunge adds a
 * negative line), whose sum is the usage.  Every change appends a line
 * (O_APPEND); the file is recalculated (a scan of new/ and cur/ of the
 * root and of every folder) and written anew when it is missing or
 * broken, has grown to QUOTA_FILE_MAX bytes, names other limits than
 * ours, or says the user is full while it is older than QUOTA_STALE or
 * has more than one line: the ways Maildir++ has to notice files
 * removed or added behind our back.
 *
 * The deliver and imap processes both change a Maildir: a change is a
 * transaction (quota_open ... quota_close) that holds an flock(2) on
 * the Maildir's root directory, so that the check, the change of the
 * files and the line that records it are one step for the other
 * process, and a scan never sees a change half made by either.
 */
#ifndef MAILD_QUOTA_H
#define MAILD_QUOTA_H

#include <sys/types.h>

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct maild_conf;
struct mailaddr;

#define QUOTA_FILE		"maildirsize"
#define QUOTA_FILE_MAX		5120		/* Maildir++: recalculate */
#define QUOTA_STALE		(15 * 60)	/* seconds, when full */
#define QUOTA_SIZE_MAX		(1ULL << 50)	/* 1P: a storage limit */
#define QUOTA_COUNT_MAX		1000000000ULL	/* a message limit */
#define QUOTA_ROOT_NAME		"User quota"	/* IMAP, as Dovecot */
#define QUOTA_SCAN_TRIES	3	/* scans of a Maildir in flux */

#define QUOTA_OVER_TEMP		0	/* 452 4.2.2, the queue retries */
#define QUOTA_OVER_PERM		1	/* 552 5.2.2, bounced */

/* quota_exceeds() */
#define QUOTA_OK		0
#define QUOTA_STORAGE		1
#define QUOTA_MESSAGES		2

struct quota_limits {
	uint64_t	 storage;	/* bytes; 0: no limit */
	uint64_t	 messages;	/* 0: no limit */
};

struct quota_usage {
	uint64_t	 bytes;
	uint64_t	 count;
};

/*
 * A storage limit ("500M", "2G", bytes, K M G T) or a message limit,
 * at most QUOTA_SIZE_MAX or QUOTA_COUNT_MAX, or "none" (*v = 0): 0, or
 * -1 with what is wrong in why.
 */
int	quota_parse_size(const char *, uint64_t *, char *, size_t);
int	quota_parse_count(const char *, uint64_t *, char *, size_t);
/*
 * A value of a quota table, "storage=2G messages=50000" (either may be
 * left out: lim keeps what it had, the defaults): 0, or -1 with why.
 */
int	quota_parse_value(const char *, struct quota_limits *, char *,
	    size_t);
/* The check of a quota table's lines (struct table's check). */
int	quota_table_check(const char *, const char *, char *, size_t);
/*
 * The limits of user@domain: its line in the quota table, else the
 * line of "@domain", else the defaults.  0, or -1 when the table is not
 * loaded or the line is bad (the defaults then, why in err).
 */
int	quota_user_limits(const struct maild_conf *, const char *,
	    struct quota_limits *, char *, size_t);
/*
 * The Maildir whose quota a delivery to path counts in (both inside
 * the mailbox root vroot): the location a maildir action gives addr,
 * when path is it or one of its Maildir++ folders (".Junk"); else path
 * without a last ".folder" component.  0, or -1 if it does not fit.
 */
int	quota_maildir_root(const struct maild_conf *, const struct mailaddr *,
	    const char *, const char *, char *, size_t);
/* Would bytes and count more go over lim: QUOTA_OK or which limit. */
int	quota_check(const struct quota_limits *, const struct quota_usage *,
	    uint64_t, uint64_t);

/*
 * The contents of a maildirsize file (at most QUOTA_FILE_MAX bytes):
 * the limits of its first line, the sum of the others, how many there
 * are.  A last line without its newline is being written: left out.
 * 0, or -1 when it is broken (recalculate).
 */
int	quota_file_parse(const char *, size_t, struct quota_limits *,
	    struct quota_usage *, size_t *);
/* A new file: the limits and one line of usage; its length or -1. */
int	quota_file_format(char *, size_t, const struct quota_limits *,
	    const struct quota_usage *);
/* The ",S=<size>" of a Maildir file name: 0, or -1 if it has none. */
int	quota_name_size(const char *, uint64_t *);

struct quota_txn {
	int			 dfd;	/* the root, locked; -1: none yet */
	struct quota_limits	 lim;
	struct quota_usage	 use;
	int			 scanned;	/* recalculated by the open */
};

/*
 * Lock the Maildir at root and read its usage, recalculated when
 * maildirsize says so (see above).  A Maildir that does not exist yet
 * uses nothing, and nothing is written for it: the first open after
 * it is made scans it.  0, or -1 with err (nothing held then).
 */
int	quota_open(struct quota_txn *, const char *,
	    const struct quota_limits *, char *, size_t);
/*
 * The usage of the Maildir at root as quota_open() would see it, with
 * a shared lock and nothing written (for mailctl, which runs as root):
 * *scanned says whether the file was out of date.  0, or -1 with err.
 */
int	quota_peek(const char *, const struct quota_limits *,
	    struct quota_usage *, int *, char *, size_t);
/* quota_check() of the open Maildir. */
int	quota_exceeds(const struct quota_txn *, uint64_t, uint64_t);
/*
 * Record a change (negative: freed): 1 a line appended, 0 nothing to
 * write (no Maildir, no file yet: the next open scans), -1 error.
 */
int	quota_add(struct quota_txn *, int64_t, int64_t, char *, size_t);
void	quota_close(struct quota_txn *);
/*
 * The usage of the Maildir whose root is open on dfd, by a scan:
 * new/ and cur/ of the root and of each Maildir++ folder (".name"),
 * the size of a file from its name's ",S=" or else its own.  0, or -1
 * with err.
 */
int	quota_scan(int, struct quota_usage *, char *, size_t);

#endif
