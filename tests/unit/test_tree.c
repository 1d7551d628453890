/*
 * Unit tests for the red-black trees of <sys/tree.h> as include/compat.h
 * provides them (OpenBSD's, or libbsd's copy on Linux): what the queue,
 * the tables and the session counts rely on.  Random inserts and
 * removals are checked against a plain array after every step: the
 * red-black rules hold, an in-order walk gives the keys sorted in both
 * directions, FIND and NFIND answer as a search of the array would, and
 * an insert of a key already there returns the node that has it.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "tap.h"

#define NKEYS	512		/* keys 0 .. NKEYS - 1, some present */
#define STEPS	20000

struct node {
	RB_ENTRY(node)	 entry;
	int		 key;
};
RB_HEAD(ntree, node);

static int	node_cmp(const struct node *, const struct node *);
static int	black_height(const struct node *, int *);
static int	check(struct ntree *, const int *, const char *);
static unsigned int rnd(void);

RB_PROTOTYPE(ntree, node, entry, node_cmp)
RB_GENERATE(ntree, node, entry, node_cmp)

static unsigned int	 seed = 12345;

static int
node_cmp(const struct node *a, const struct node *b)
{
	return a->key < b->key ? -1 : a->key > b->key;
}

/* Reproducible: a failure shows up the same way every run. */
static unsigned int
rnd(void)
{
	seed = seed * 1103515245u + 12345u;
	return (seed >> 16) & 0x7fff;
}

/*
 * Black nodes on every path from n down to a leaf, or -1 when two paths
 * differ, a red node has a red child, or a child's parent link is wrong.
 */
static int
black_height(const struct node *n, int *count)
{
	const struct node	*l, *r;
	int			 hl, hr;

	if (n == NULL)
		return 0;
	(*count)++;
	l = RB_LEFT(n, entry);
	r = RB_RIGHT(n, entry);
	if ((l != NULL && RB_PARENT(l, entry) != n) ||
	    (r != NULL && RB_PARENT(r, entry) != n))
		return -1;
	if ((l != NULL && node_cmp(l, n) >= 0) ||
	    (r != NULL && node_cmp(r, n) <= 0))
		return -1;
	if (RB_COLOR(n, entry) == RB_RED &&
	    ((l != NULL && RB_COLOR(l, entry) == RB_RED) ||
	    (r != NULL && RB_COLOR(r, entry) == RB_RED)))
		return -1;
	if ((hl = black_height(l, count)) == -1 ||
	    (hr = black_height(r, count)) == -1 || hl != hr)
		return -1;
	return hl + (RB_COLOR(n, entry) == RB_BLACK);
}

/* The tree holds exactly the keys in[]; 1, or 0 with a diagnostic. */
static int
check(struct ntree *t, const int *in, const char *when)
{
	struct node	*n, key;
	int		 i, count = 0, want = 0, prev = -1;

	if (RB_ROOT(t) != NULL && RB_COLOR(RB_ROOT(t), entry) != RB_BLACK) {
		printf("# %s: red root\n", when);
		return 0;
	}
	if (black_height(RB_ROOT(t), &count) == -1) {
		printf("# %s: red-black rules broken\n", when);
		return 0;
	}
	for (i = 0; i < NKEYS; i++)
		want += in[i];
	if (count != want) {
		printf("# %s: %d nodes, %d keys\n", when, count, want);
		return 0;
	}
	RB_FOREACH(n, ntree, t) {
		if (n->key <= prev || !in[n->key]) {
			printf("# %s: walk gives %d after %d\n", when, n->key,
			    prev);
			return 0;
		}
		prev = n->key;
	}
	prev = NKEYS;
	RB_FOREACH_REVERSE(n, ntree, t) {
		if (n->key >= prev) {
			printf("# %s: reverse walk out of order\n", when);
			return 0;
		}
		prev = n->key;
	}
	/* FIND: the key or nothing; NFIND: the first key at or after it. */
	for (i = 0; i < NKEYS; i++) {
		key.key = i;
		n = RB_FIND(ntree, t, &key);
		if ((n != NULL) != in[i] || (n != NULL && n->key != i)) {
			printf("# %s: FIND %d wrong\n", when, i);
			return 0;
		}
		n = RB_NFIND(ntree, t, &key);
		for (want = i; want < NKEYS && !in[want]; want++)
			;
		if ((want == NKEYS && n != NULL) ||
		    (want < NKEYS && (n == NULL || n->key != want))) {
			printf("# %s: NFIND %d wrong\n", when, i);
			return 0;
		}
	}
	return 1;
}

int
main(void)
{
	struct ntree	 t = RB_INITIALIZER(&t);
	struct node	*nodes[NKEYS], *n, *tn, key;
	int		 in[NKEYS], i, k, good = 1, dup = 1, minmax = 1;

	memset(in, 0, sizeof(in));
	ok(RB_EMPTY(&t) && RB_MIN(ntree, &t) == NULL &&
	    RB_MAX(ntree, &t) == NULL, "empty tree: no min, no max");
	key.key = 0;
	ok(RB_FIND(ntree, &t, &key) == NULL &&
	    RB_NFIND(ntree, &t, &key) == NULL, "empty tree: nothing found");

	for (i = 0; i < NKEYS; i++) {
		if ((nodes[i] = calloc(1, sizeof(*nodes[i]))) == NULL)
			abort();
		nodes[i]->key = i;
	}
	for (i = 0; i < STEPS && good; i++) {
		k = rnd() % NKEYS;
		if (in[k]) {
			if (RB_REMOVE(ntree, &t, nodes[k]) != nodes[k])
				good = 0;
			in[k] = 0;
		} else {
			if (RB_INSERT(ntree, &t, nodes[k]) != NULL)
				good = 0;
			in[k] = 1;
			/* A second node with the same key is refused. */
			if ((n = calloc(1, sizeof(*n))) == NULL)
				abort();
			n->key = k;
			if (RB_INSERT(ntree, &t, n) != nodes[k])
				dup = 0;
			free(n);
		}
		/* Check the whole tree now and then: it is quadratic. */
		if (i % 97 == 0 || i == STEPS - 1)
			good = good && check(&t, in, "random steps");
		n = RB_MIN(ntree, &t);
		tn = RB_MAX(ntree, &t);
		for (k = 0; k < NKEYS && !in[k]; k++)
			;
		if ((k == NKEYS) != (n == NULL) || (n != NULL && n->key != k))
			minmax = 0;
		for (k = NKEYS - 1; k >= 0 && !in[k]; k--)
			;
		if ((k < 0) != (tn == NULL) || (tn != NULL && tn->key != k))
			minmax = 0;
	}
	ok(good, "%d random inserts and removes keep the tree right", STEPS);
	ok(dup, "inserting a key already there returns its node");
	ok(minmax, "MIN and MAX are the smallest and largest keys");

	/* Every key in, ascending, then all out with FOREACH_SAFE. */
	for (i = 0; i < NKEYS; i++)
		if (!in[i]) {
			(void)RB_INSERT(ntree, &t, nodes[i]);
			in[i] = 1;
		}
	ok(check(&t, in, "all keys"), "all %d keys", NKEYS);
	n = RB_MIN(ntree, &t);
	for (i = 0; n != NULL && i < NKEYS - 1; i++)
		n = RB_NEXT(ntree, &t, n);
	ok(n != NULL && n->key == NKEYS - 1 &&
	    RB_NEXT(ntree, &t, n) == NULL, "NEXT walks to the last key");
	ok(n != NULL && RB_PREV(ntree, &t, n)->key == NKEYS - 2,
	    "PREV steps back");
	i = 0;
	RB_FOREACH_SAFE(n, ntree, &t, tn) {
		if (n->key % 2 == 0) {
			RB_REMOVE(ntree, &t, n);
			in[n->key] = 0;
		}
		i++;
	}
	is_int(i, NKEYS, "FOREACH_SAFE visits every node while removing");
	ok(check(&t, in, "odd keys"), "the odd keys are left");
	RB_FOREACH_SAFE(n, ntree, &t, tn) {
		RB_REMOVE(ntree, &t, n);
		in[n->key] = 0;
	}
	ok(RB_EMPTY(&t), "empty again");
	for (i = 0; i < NKEYS; i++)
		free(nodes[i]);
	return done_testing();
}
