/*
 * Requests a process has sent and waits for an answer to, as OpenSMTPD's
 * wait tables: each records its id, what it asked (the request's IMSG
 * type) and who asked (a session, a relay job).  An answer takes its
 * entry back; one that matches no entry, or an entry of another kind,
 * is logged and dropped, never applied to whoever holds that id now.
 * An asker that goes away forgets its requests: their answers are then
 * recognised as late (and the caller frees what they carry).
 */
#ifndef MAILD_REQWAIT_H
#define MAILD_REQWAIT_H

#include <stddef.h>
#include <stdint.h>

/* Record: id must not be waited for already (fatal, a bug). */
void	 reqwait_add(uint64_t, uint32_t, void *);
/*
 * The asker of request id of kind type, and the entry gone; NULL when
 * it is late (the asker went away) or unknown (logged, with the name
 * of the process that answered).
 */
void	*reqwait_take(uint64_t, uint32_t, const char *);
/* The asker of id goes away: the answer will come late, into the void. */
void	 reqwait_forget(uint64_t);
/* Whether id is waited for (by anyone, late or not). */
int	 reqwait_pending(uint64_t);
size_t	 reqwait_count(void);

#endif
