/*
 * Maildir delivery (maildir.c), used by the deliver process.
 */
#ifndef MAILD_MAILDIR_H
#define MAILD_MAILDIR_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "address.h"

/*
 * Deliver the message open on fd into the Maildir at path (created as
 * needed, Maildir++ layout, mode 0700): Return-Path and Delivered-To
 * are prepended, then the header lines in prepend (DKIM-Signature; NULL
 * or "" for none); tmp/ is written and fsynced and linked into new/.
 * new/ itself is not fsynced, for group commit: the file's path in new/
 * goes to the caller, which calls maildir_sync() once for many
 * deliveries to one Maildir and unlinks the files if that fails.  A
 * non-zero evpid (the queue envelope) goes into the file's name, for
 * maildir_find().  The fields of the message's header that filter (NULL:
 * none) drops are left out.  0 ok, -1 temporary failure, -2 permanent;
 * reason in err.
 */
struct maildir_filter {
	/* Leave this header field (name to final CRLF) out: not 0. */
	int	(*drop)(const char *, size_t, void *);
	void	*arg;
};
/*
 * The message in fd to out: hdr (hdrlen bytes) first, then its header
 * fields through the filter (if not NULL), then its body; *sizep gets
 * the bytes written.  0, or -1 with errno (no read or write then).
 */
int	maildir_copy(int, int, const char *, size_t,
	    const struct maildir_filter *, off_t *);
/* Every header field of the message in fd to f->drop: 0, -1 (errno). */
int	maildir_header_scan(int, const struct maildir_filter *);
int	maildir_deliver_nosync(const char *, int, const struct mailaddr *,
	    const struct mailaddr *, const char *, uint64_t,
	    const struct maildir_filter *, char *, size_t, char *, size_t);
/*
 * Whether the file of envelope evpid is in new/ or cur/ of the Maildir
 * at path, whatever its flags: 1 (its path in found), 0 not, -1 error.
 * Leftovers of an interrupted attempt in tmp/ are removed.
 */
int	maildir_find(const char *, uint64_t, char *, size_t, char *, size_t);
int	maildir_sync(const char *, char *, size_t);
/* This host's name as unique Maildir file names carry it. */
void	maildir_hostname(char *, size_t);

#endif
