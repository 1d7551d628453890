/*
 * The parent's side of the offline directory (offline.c): messages that
 * maild-sendmail wrote while maild could not take them are submitted,
 * each by a child running as the file's owner.
 */
#ifndef MAILD_OFFLINE_H
#define MAILD_OFFLINE_H

#include <sys/types.h>

/* Create <spool>/offline and look at it soon, then periodically. */
void	offline_init(int, int);
/* Look now (after a reload). */
void	offline_scan(void);
/* A child ended: 1 if it was a submitting one. */
int	offline_reaped(pid_t, int);
/* Shutdown: stop the submitting children. */
void	offline_stop(void);

#endif
