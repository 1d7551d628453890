/*
 * The requests of this process waiting for an answer (reqwait.h), in an
 * RB tree by id.
 */
#include <stdlib.h>

#include "compat.h"
#include "imsg.h"
#include "log.h"
#include "reqwait.h"

struct reqwait {
	RB_ENTRY(reqwait)	 node;
	uint64_t		 id;
	uint32_t		 type;		/* the request's IMSG type */
	void			*owner;		/* NULL once it went away */
};

RB_HEAD(reqwait_tree, reqwait);

static int	 reqwait_cmp(const struct reqwait *, const struct reqwait *);
RB_PROTOTYPE(reqwait_tree, reqwait, node, reqwait_cmp)

static struct reqwait_tree	 waits = RB_INITIALIZER(&waits);
static size_t			 nwaits;

static int
reqwait_cmp(const struct reqwait *a, const struct reqwait *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

RB_GENERATE(reqwait_tree, reqwait, node, reqwait_cmp)

static struct reqwait *
reqwait_find(uint64_t id)
{
	struct reqwait	 key;

	key.id = id;
	return RB_FIND(reqwait_tree, &waits, &key);
}

void
reqwait_add(uint64_t id, uint32_t type, void *owner)
{
	struct reqwait	*w;

	if (reqwait_find(id) != NULL)
		fatalx("request %016llx is waited for already",
		    (unsigned long long)id);
	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal("calloc");
	w->id = id;
	w->type = type;
	w->owner = owner;
	RB_INSERT(reqwait_tree, &waits, w);
	nwaits++;
}

void *
reqwait_take(uint64_t id, uint32_t type, const char *peer)
{
	struct reqwait	*w;
	void		*owner;

	if ((w = reqwait_find(id)) == NULL) {
		log_warnx("an answer from %s to request %016llx, which was "
		    "never asked or answered already", peer,
		    (unsigned long long)id);
		return NULL;
	}
	if (w->type != type) {
		log_warnx("an answer from %s to request %016llx, which "
		    "asked something else", peer, (unsigned long long)id);
		return NULL;
	}
	owner = w->owner;
	RB_REMOVE(reqwait_tree, &waits, w);
	nwaits--;
	free(w);
	if (owner == NULL)
		log_debug("a late answer from %s to request %016llx", peer,
		    (unsigned long long)id);
	return owner;
}

void
reqwait_forget(uint64_t id)
{
	struct reqwait	*w;

	if ((w = reqwait_find(id)) != NULL)
		w->owner = NULL;
}

int
reqwait_pending(uint64_t id)
{
	return reqwait_find(id) != NULL;
}

size_t
reqwait_count(void)
{
	return nwaits;
}
