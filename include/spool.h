/*
 * The spool (spool.c), used by the queue process.
 */
#ifndef MAILD_SPOOL_H
#define MAILD_SPOOL_H

#include <stdint.h>

#include "envelope.h"

/*
 * <spool>/incoming/<msgid>/message   being received
 * <spool>/queue/<msgid>/message      committed body
 * <spool>/queue/<msgid>/<evpid>      one envelope per destination
 * <spool>/corrupt/                   unparsable envelopes
 * All functions take paths relative to the current directory, which
 * is the spool (the queue process is chrooted or chdir'ed there).
 */
int	spool_init(void);		/* create dirs, purge incoming */
/* New message: pick a free msgid, create its file; returns fd or -1. */
int	spool_msg_create(uint32_t *);
void	spool_msg_abort(uint32_t);
/* O_RDONLY fd of the body of a message being received, or -1. */
int	spool_msg_read(uint32_t);
/*
 * Editing a message being received: spool_msg_edit() creates an empty
 * new body and returns its fd; spool_msg_replace(msgid, 1) puts it in
 * the old one's place, (msgid, 0) throws it away.  0 or -1.
 */
int	spool_msg_edit(uint32_t);
int	spool_msg_replace(uint32_t, int);
/*
 * Commit messages: fsync each body (fds[i]), write every envelope,
 * fsync, rename incoming/<msgid> to queue/<msgid>, fsync queue/ once.
 * evps[i] lists nevp[i] envelopes of msgids[i].  0 or -1 (none done).
 */
int	spool_commit(size_t, const uint32_t *, const int *,
	    struct envelope *const *, const size_t *);
/*
 * The same, per message: status[i] 0 committed, -1 failed (left in
 * incoming/ without envelopes, to be aborted).  0 when all succeeded.
 */
int	spool_commit_status(size_t, const uint32_t *, const int *,
	    struct envelope *const *, const size_t *, int *);
int	spool_env_update(const struct envelope *);
int	spool_env_remove(uint64_t);	/* also the message when last */
int	spool_msg_open(uint32_t);	/* O_RDONLY fd of a committed body */
/* Call cb for every committed envelope (start-up); bad ones moved. */
int	spool_walk(void (*)(struct envelope *, void *), void *);

#endif
