/*
 * THREAD (RFC 5256 3): ORDEREDSUBJECT, and REFERENCES with its steps
 * as the RFC numbers them: (1) link messages through their
 * Message-IDs and references, with dummies for the missing ones; (2)
 * the messages without parents are the roots; (3) dummies pruned;
 * (4) roots sorted by sent date; (5) roots of the same base subject
 * merged; (6) every set of siblings sorted by sent date.  Ties of sent
 * dates fall to mailbox order.  Everything is made again per command
 * from the keys the mailbox cache keeps (imap_sort.c): no state.
 *
 * Where the RFC leaves room, this does what Dovecot does: in step 1.B
 * a message's other parent is dropped before the loop check, so a
 * link that would loop leaves it a root; a dummy root with a single
 * child gives way to it when the roots are sorted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "imap_sort.h"
#include "log.h"
#include "mime.h"

/* One container of step 1: a message, or a dummy (item -1). */
struct tnode {
	const char	*id;		/* NULL: none, or a duplicate */
	int32_t		 item;
	int32_t		 parent;	/* step 1 links */
	int32_t		 nlinks;	/* step 1 children: 0, no loop */
	int32_t		 kid, sib;	/* the tree from step 2 on */
	int32_t		 nkids;
};

/* A child of the root (steps 2 to 5). */
struct troot {
	int32_t		 node;
	int32_t		 up;		/* step 5.B: merge into roots[up] */
	int64_t		 date;		/* sort key: the node's, or for a */
	uint32_t	 seq;		/* dummy its first child's */
	int		 dummy, ignore, reply;
};

/* Strings to indexes, open addressing; the strings are not copied. */
struct strmap {
	const char	**key;
	int32_t		 *val;
	size_t		  size;		/* a power of two */
};

struct tctx {
	struct sort_item	*it;
	size_t			 n;
	struct tnode		*nodes;
	size_t			 nnodes, cap;
	struct troot		*roots;
	size_t			 nroots, rcap;
	struct strmap		 ids;
};

static void	 map_init(struct strmap *, size_t);
static void	 map_free(struct strmap *);
static int32_t	*map_slot(struct strmap *, const char *);
static int32_t	 node_new(struct tctx *, const char *, int32_t);
static int32_t	 node_get(struct tctx *, const char *);
static int	 has_ancestor(const struct tctx *, int32_t, int32_t);
static void	 link_ref(struct tctx *, int32_t, int32_t);
static void	 kid_add(struct tctx *, int32_t, int32_t);
static int	 key_cmp(int64_t, uint32_t, int64_t, uint32_t);
static int	 node_cmp(const struct tctx *, int32_t, int32_t);
static void	 node_sort(const struct tctx *, int32_t *, size_t);
static int32_t	 first_kid(const struct tctx *, int32_t);
static void	 root_add(struct tctx *, int32_t, int);
static int	 root_cmp(const void *, const void *);
static int	 thr_cmp(const void *, const void *);
static void	 roots_sort(struct tctx *);
static void	 gather_subjects(struct tctx *);
static void	 merge_root(struct tctx *, size_t);
static void	 put_num(struct mbuf *, const struct tctx *, int32_t, int);
static void	 write_tree(struct mbuf *, struct tctx *, int);

static void
map_init(struct strmap *m, size_t entries)
{
	m->size = 16;
	while (m->size < 2 * entries + 1)
		m->size *= 2;
	if ((m->key = calloc(m->size, sizeof(*m->key))) == NULL ||
	    (m->val = calloc(m->size, sizeof(*m->val))) == NULL)
		fatal("calloc");
}

static void
map_free(struct strmap *m)
{
	free(m->key);
	free(m->val);
}

/* The slot of key: its value, or a free slot (key set, value -1). */
static int32_t *
map_slot(struct strmap *m, const char *key)
{
	const unsigned char	*p;
	uint32_t		 h = 2166136261U;
	size_t			 i;

	for (p = (const unsigned char *)key; *p != '\0'; p++)
		h = (h ^ *p) * 16777619U;
	for (i = h & (m->size - 1); m->key[i] != NULL;
	    i = (i + 1) & (m->size - 1))
		if (strcmp(m->key[i], key) == 0)
			return &m->val[i];
	m->key[i] = key;
	m->val[i] = -1;
	return &m->val[i];
}

static int32_t
node_new(struct tctx *c, const char *id, int32_t item)
{
	struct tnode	*t;

	if (c->nnodes == c->cap)
		fatalx("thread: more containers than counted");
	t = &c->nodes[c->nnodes];
	t->id = id;
	t->item = item;
	t->parent = t->kid = t->sib = -1;
	t->nkids = t->nlinks = 0;
	return (int32_t)c->nnodes++;
}

/* The container of a referenced id, a dummy when none has it yet. */
static int32_t
node_get(struct tctx *c, const char *id)
{
	int32_t	*v = map_slot(&c->ids, id);

	if (*v == -1)
		*v = node_new(c, id, -1);
	return *v;
}

/* 1 if anc is node or one of its ancestors (step 1 links). */
static int
has_ancestor(const struct tctx *c, int32_t node, int32_t anc)
{
	size_t	 steps;

	for (steps = 0; steps <= c->nnodes; steps++) {
		if (node == anc)
			return 1;
		if ((node = c->nodes[node].parent) == -1)
			return 0;
	}
	return 1;	/* cannot be: links never loop */
}

/*
 * Step 1.A: parent of child, unless child has one or it would loop.
 * Only a node that is a parent can be an ancestor: the walk up is
 * skipped for the others (a long thread would make it quadratic).
 */
static void
link_ref(struct tctx *c, int32_t parent, int32_t child)
{
	if (c->nodes[child].parent != -1 || parent == child ||
	    (c->nodes[child].nlinks > 0 && has_ancestor(c, parent, child)))
		return;
	c->nodes[child].parent = parent;
	c->nodes[parent].nlinks++;
}

static void
kid_add(struct tctx *c, int32_t parent, int32_t kid)
{
	c->nodes[kid].sib = c->nodes[parent].kid;
	c->nodes[parent].kid = kid;
	c->nodes[parent].nkids++;
}

static int
key_cmp(int64_t d1, uint32_t s1, int64_t d2, uint32_t s2)
{
	if (d1 != d2)
		return d1 < d2 ? -1 : 1;
	return s1 < s2 ? -1 : s1 > s2;
}

/* Messages by sent date, then mailbox order. */
static int
node_cmp(const struct tctx *c, int32_t a, int32_t b)
{
	const struct sort_item	*x = &c->it[c->nodes[a].item];
	const struct sort_item	*y = &c->it[c->nodes[b].item];

	return key_cmp(x->k.date, x->seq, y->k.date, y->seq);
}

/* Insertion into runs merged pairwise: a small stable sort. */
static void
node_sort(const struct tctx *c, int32_t *a, size_t n)
{
	int32_t	*tmp, *src, *dst, *sw;
	size_t	 w, lo, mid, hi, i, j, k;

	if (n < 2)
		return;
	if ((tmp = reallocarray(NULL, n, sizeof(*tmp))) == NULL)
		fatal("reallocarray");
	src = a;
	dst = tmp;
	for (w = 1; w < n; w *= 2) {
		for (lo = 0; lo < n; lo += 2 * w) {
			mid = lo + w < n ? lo + w : n;
			hi = lo + 2 * w < n ? lo + 2 * w : n;
			for (i = lo, j = mid, k = lo; k < hi; k++)
				dst[k] = i < mid && (j == hi ||
				    node_cmp(c, src[i], src[j]) <= 0) ?
				    src[i++] : src[j++];
		}
		sw = src;
		src = dst;
		dst = sw;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(*a));
	free(tmp);
}

/* The earliest child of a node with children. */
static int32_t
first_kid(const struct tctx *c, int32_t node)
{
	int32_t	 k, best = -1;

	for (k = c->nodes[node].kid; k != -1; k = c->nodes[k].sib)
		if (best == -1 || node_cmp(c, k, best) < 0)
			best = k;
	return best;
}

static void
root_add(struct tctx *c, int32_t node, int dummy)
{
	struct troot	*r;
	size_t		 ncap;

	if (c->nroots == c->rcap) {
		ncap = c->rcap == 0 ? 64 : c->rcap * 2;
		if ((r = reallocarray(c->roots, ncap, sizeof(*r))) == NULL)
			fatal("reallocarray");
		c->roots = r;
		c->rcap = ncap;
	}
	r = &c->roots[c->nroots++];
	memset(r, 0, sizeof(*r));
	r->node = node;
	r->up = -1;
	r->dummy = dummy;
}

static int
root_cmp(const void *a, const void *b)
{
	const struct troot	*x = a, *y = b;

	return key_cmp(x->date, x->seq, y->date, y->seq);
}

/*
 * Step 4 (again after step 5): a dummy sorts as its first child, one
 * with a single child gives way to it (step 3 for roots), one without
 * is dropped.  Ignored roots go last.
 */
static void
roots_sort(struct tctx *c)
{
	struct troot	*r;
	int32_t		 k;
	size_t		 i, n = 0;

	for (i = 0; i < c->nroots; i++) {
		r = &c->roots[i];
		if (r->ignore)
			continue;
		if (r->dummy) {
			if (c->nodes[r->node].nkids == 0) {
				r->ignore = 1;
				continue;
			}
			k = first_kid(c, r->node);
			if (c->nodes[r->node].nkids == 1) {
				/* Out of the dummy's list: in one list only. */
				c->nodes[r->node].kid = -1;
				c->nodes[r->node].nkids = 0;
				c->nodes[k].sib = -1;
				r->node = k;
				r->dummy = 0;
			}
		} else
			k = r->node;
		r->date = c->it[c->nodes[k].item].k.date;
		r->seq = c->it[c->nodes[k].item].seq;
	}
	/* The live ones, sorted (keys are unique: a message is in one). */
	for (i = 0; i < c->nroots; i++)
		if (!c->roots[i].ignore)
			c->roots[n++] = c->roots[i];
	qsort(c->roots, n, sizeof(*c->roots), root_cmp);
	c->nroots = n;
}

/* Step 5.B: the subject table; 5.C then merges along the up links. */
static void
gather_subjects(struct tctx *c)
{
	struct strmap		 subj;
	const struct sort_item	*m;
	struct troot		*r, *t;
	int32_t			*v;
	size_t			 i;

	map_init(&subj, c->nroots);
	for (i = 0; i < c->nroots; i++) {
		r = &c->roots[i];
		m = &c->it[c->nodes[r->dummy ? first_kid(c, r->node) :
		    r->node].item];
		r->reply = (m->k.flags & SORT_F_REPLY) != 0;
		if (m->k.subject[0] == '\0')
			continue;
		v = map_slot(&subj, m->k.subject);
		if (*v == -1) {
			*v = (int32_t)i;
			continue;
		}
		t = &c->roots[*v];
		if (!t->dummy && (r->dummy || (t->reply && !r->reply))) {
			t->up = (int32_t)i;
			*v = (int32_t)i;
		} else
			r->up = *v;
	}
	map_free(&subj);
}

static void
merge_root(struct tctx *c, size_t i)
{
	struct troot	*cur = &c->roots[i], *r;
	int32_t		 k, next, dn;
	size_t		 ri = i;

	while (c->roots[ri].up != -1)
		ri = (size_t)c->roots[ri].up;
	r = &c->roots[ri];
	if (cur->dummy) {
		/* Both dummies: the children become siblings. */
		for (k = c->nodes[cur->node].kid; k != -1; k = next) {
			next = c->nodes[k].sib;
			kid_add(c, r->node, k);
		}
		c->nodes[cur->node].kid = -1;
		c->nodes[cur->node].nkids = 0;
		cur->ignore = 1;
	} else if (r->dummy || (cur->reply && !r->reply)) {
		kid_add(c, r->node, cur->node);
		cur->ignore = 1;
	} else {
		/* A new dummy over both, in the table's place. */
		dn = node_new(c, NULL, -1);
		kid_add(c, dn, r->node);
		kid_add(c, dn, cur->node);
		r->ignore = 1;
		cur->ignore = 1;
		r->up = (int32_t)c->nroots;
		root_add(c, dn, 1);
	}
}

static void
put_num(struct mbuf *out, const struct tctx *c, int32_t node, int uid)
{
	const struct sort_item	*m = &c->it[c->nodes[node].item];

	mbuf_printf(out, "%u", uid ? m->uid : m->seq);
}

/* A frame of the output: the sorted children being written. */
struct tframe {
	int32_t		*kids;
	size_t		 n, i;
};

/*
 * The thread list: "(n)" for a message without children; "(n " then
 * its children ")" otherwise, where a single child is written "m ..."
 * (no parentheses: a chain) and several each as above; a dummy writes
 * no number.  With an explicit stack: a 10,000-message chain is no
 * 10,000-deep recursion.
 */
static void
write_tree(struct mbuf *out, struct tctx *c, int uid)
{
	struct tframe	*st;
	int32_t		*all, *rootv, node, k;
	size_t		 nst = 0, i, pos = 0, *off;

	/* Every node's children, sorted, once: off[x] .. off[x + 1]. */
	if ((off = calloc(c->nnodes + 1, sizeof(*off))) == NULL ||
	    (all = reallocarray(NULL, c->nnodes + 1, sizeof(*all))) ==
	    NULL || (rootv = reallocarray(NULL, c->nroots + 1,
	    sizeof(*rootv))) == NULL ||
	    (st = reallocarray(NULL, c->nnodes + 2, sizeof(*st))) == NULL)
		fatal("calloc");
	for (i = 0; i < c->nnodes; i++) {
		off[i] = pos;
		for (k = c->nodes[i].kid; k != -1; k = c->nodes[k].sib)
			all[pos++] = k;
		node_sort(c, all + off[i], pos - off[i]);
	}
	off[c->nnodes] = pos;
	for (i = 0; i < c->nroots; i++)
		rootv[i] = c->roots[i].node;
	st[nst].kids = rootv;
	st[nst].n = c->nroots;
	st[nst++].i = 0;
	while (nst > 0) {
		if (st[nst - 1].i == st[nst - 1].n) {
			if (--nst > 0)
				mbuf_add(out, ")", 1);
			continue;
		}
		node = st[nst - 1].kids[st[nst - 1].i++];
		if (off[node] == off[node + 1]) {
			mbuf_add(out, "(", 1);
			put_num(out, c, node, uid);
			mbuf_add(out, ")", 1);
			continue;
		}
		mbuf_add(out, "(", 1);
		if (c->nodes[node].item != -1) {
			put_num(out, c, node, uid);
			mbuf_add(out, " ", 1);
		}
		/* A chain of single children, then several or none. */
		while (off[node + 1] - off[node] == 1) {
			node = all[off[node]];
			put_num(out, c, node, uid);
			if (off[node] == off[node + 1])
				break;
			mbuf_add(out, " ", 1);
		}
		if (off[node] == off[node + 1]) {
			mbuf_add(out, ")", 1);
			continue;
		}
		st[nst].kids = all + off[node];
		st[nst].n = off[node + 1] - off[node];
		st[nst++].i = 0;
	}
	free(st);
	free(rootv);
	free(all);
	free(off);
}

void
thread_references(struct mbuf *out, struct sort_item *it, size_t n, int uid)
{
	struct tctx	 c;
	const char	*r;
	int32_t		*v, me, prev, cur;
	size_t		 i, j, refs = 0;

	memset(&c, 0, sizeof(c));
	c.it = it;
	c.n = n;
	for (i = 0; i < n; i++)
		refs += it[i].k.nrefs;
	/* Messages, references, and a dummy per root at most in step 5. */
	c.cap = 2 * n + refs + 1;
	if ((c.nodes = reallocarray(NULL, c.cap, sizeof(*c.nodes))) == NULL)
		fatal("reallocarray");
	map_init(&c.ids, n + refs);

	/* (1) */
	for (i = 0; i < n; i++) {
		me = -1;
		if (it[i].k.msgid[0] != '\0') {
			v = map_slot(&c.ids, it[i].k.msgid);
			if (*v == -1)
				me = *v = node_new(&c, it[i].k.msgid,
				    (int32_t)i);
			else if (c.nodes[*v].item == -1) {
				me = *v;
				c.nodes[me].item = (int32_t)i;
			}
		}
		/* No Message-ID, or the first message has it: a new one. */
		if (me == -1)
			me = node_new(&c, NULL, (int32_t)i);
		prev = -1;
		for (j = 0, r = it[i].k.refs; j < it[i].k.nrefs;
		    j++, r += strlen(r) + 1) {
			cur = node_get(&c, r);
			if (prev != -1)
				link_ref(&c, prev, cur);
			prev = cur;
		}
		/* (1.B) The last reference is the parent, if anything. */
		if (c.nodes[me].parent != -1 && c.nodes[me].parent != prev) {
			c.nodes[c.nodes[me].parent].nlinks--;
			c.nodes[me].parent = -1;
		}
		if (prev != -1)
			link_ref(&c, prev, me);
	}

	/*
	 * (2) and (3): the parentless are the roots; a message goes under
	 * its first non-dummy ancestor, else under the topmost dummy.
	 */
	for (i = 0; i < c.nnodes; i++) {
		if (c.nodes[i].parent == -1) {
			root_add(&c, (int32_t)i, c.nodes[i].item == -1);
			continue;
		}
		if (c.nodes[i].item == -1)
			continue;
		for (cur = c.nodes[i].parent; c.nodes[cur].item == -1 &&
		    c.nodes[cur].parent != -1; cur = c.nodes[cur].parent)
			;
		kid_add(&c, cur, (int32_t)i);
	}
	/* (4) */
	roots_sort(&c);
	/* (5) */
	gather_subjects(&c);
	for (i = 0; i < c.nroots; i++)
		if (c.roots[i].up != -1 && !c.roots[i].ignore)
			merge_root(&c, i);
	roots_sort(&c);
	/* (6), written out. */
	write_tree(out, &c, uid);
	map_free(&c.ids);
	free(c.roots);
	free(c.nodes);
}

/* An ORDEREDSUBJECT thread: its first message, where it starts. */
struct othr {
	int64_t		 date;
	uint32_t	 seq;
	size_t		 start;
};

static int
thr_cmp(const void *a, const void *b)
{
	const struct othr	*x = a, *y = b;

	return key_cmp(x->date, x->seq, y->date, y->seq);
}

void
thread_orderedsubject(struct mbuf *out, struct sort_item *it, size_t n,
    int uid)
{
	static const struct sort_crit	 crit[] = {
		{ SORT_SUBJECT, 0 }, { SORT_DATE, 0 }
	};
	struct sort_item		*s;
	struct othr			*thr;
	size_t				 nthr = 0, i, j, k, end;

	if (n == 0)
		return;
	if ((s = reallocarray(NULL, n, sizeof(*s))) == NULL ||
	    (thr = reallocarray(NULL, n, sizeof(*thr))) == NULL)
		fatal("reallocarray");
	memcpy(s, it, n * sizeof(*s));
	/* By base subject, then sent date: a thread is a run of one. */
	sort_items(s, n, crit, nitems(crit));
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(s[i].k.subject, s[i - 1].k.subject) == 0)
			continue;
		thr[nthr].date = s[i].k.date;
		thr[nthr].seq = s[i].seq;
		thr[nthr++].start = i;
	}
	/* Threads by the sent date of their first message. */
	qsort(thr, nthr, sizeof(*thr), thr_cmp);
	for (i = 0; i < nthr; i++) {
		k = thr[i].start;
		for (end = k + 1; end < n && strcmp(s[end].k.subject,
		    s[k].k.subject) == 0; end++)
			;
		mbuf_printf(out, "(%u", uid ? s[k].uid : s[k].seq);
		if (end - k == 2)
			mbuf_printf(out, " %u", uid ? s[k + 1].uid :
			    s[k + 1].seq);
		else if (end - k > 2) {
			mbuf_add(out, " ", 1);
			for (j = k + 1; j < end; j++)
				mbuf_printf(out, "(%u)", uid ? s[j].uid :
				    s[j].seq);
		}
		mbuf_add(out, ")", 1);
	}
	free(thr);
	free(s);
}
