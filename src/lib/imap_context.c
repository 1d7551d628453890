/*
 * Search context results (RFC 5267 section 4): the list a searching
 * command answered, kept in context order, and the ADDTO / REMOVEFROM
 * return data that moves the client's copy of it along with ours.  Work
 * per change is linear in the result plus n log n in the change; no
 * allocation beyond the list and one scratch array per change.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_context.h"
#include "log.h"
#include "mime.h"

static int	uid_cmp(uint32_t, uint32_t, void *);
static void	msort(uint32_t *, size_t, imapctx_cmp_fn, void *,
		    uint32_t *);
static int	size_cmp(const void *, const void *);
static void	runs_text(struct mbuf *, const char *, const uint32_t *,
		    const size_t *, size_t, int, imapctx_num_fn, void *);
static uint32_t	number(imapctx_num_fn, void *, uint32_t);
static int	parse_nz(const char **, uint32_t *);

static int
uid_cmp(uint32_t a, uint32_t b, void *arg)
{
	(void)arg;
	return a < b ? -1 : a > b;
}

static uint32_t
number(imapctx_num_fn num, void *arg, uint32_t uid)
{
	return num != NULL ? num(uid, arg) : uid;
}

void
imapctx_res_init(struct imapctx_res *r, imapctx_cmp_fn cmp, void *arg)
{
	memset(r, 0, sizeof(*r));
	r->cmp = cmp;
	r->arg = arg;
}

void
imapctx_res_free(struct imapctx_res *r)
{
	free(r->v);
	r->v = NULL;
	r->n = r->cap = 0;
}

void
imapctx_res_set(struct imapctx_res *r, const uint32_t *uids, size_t n)
{
	free(r->v);
	if ((r->v = calloc(n + 1, sizeof(*r->v))) == NULL)
		fatal("calloc");
	if (n > 0)
		memcpy(r->v, uids, n * sizeof(*uids));
	r->n = n;
	r->cap = n + 1;
}

long
imapctx_res_find(const struct imapctx_res *r, uint32_t uid)
{
	imapctx_cmp_fn	 cmp = r->cmp != NULL ? r->cmp : uid_cmp;
	size_t		 lo = 0, hi = r->n, mid;
	int		 c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = cmp(r->v[mid], uid, r->arg)) == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Stable merge sort by cmp: qsort_r differs between libcs. */
static void
msort(uint32_t *v, size_t n, imapctx_cmp_fn cmp, void *arg, uint32_t *tmp)
{
	size_t	 h = n / 2, i = 0, j, k = 0;

	if (n < 2)
		return;
	msort(v, h, cmp, arg, tmp);
	msort(v + h, n - h, cmp, arg, tmp);
	for (j = h; i < h && j < n;)
		tmp[k++] = cmp(v[j], v[i], arg) < 0 ? v[j++] : v[i++];
	while (i < h)
		tmp[k++] = v[i++];
	while (j < n)
		tmp[k++] = v[j++];
	memcpy(v, tmp, n * sizeof(*v));
}

static int
size_cmp(const void *a, const void *b)
{
	size_t	 x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * " NAME (p set p set ...)" for the runs of consecutive positions in
 * pos (ascending, indexes into v): first to last, or last to first for
 * REMOVEFROM, so that no pair moves the positions of the pairs after it.
 * Without positions (a SEARCH) one pair "0 set".
 */
static void
runs_text(struct mbuf *out, const char *name, const uint32_t *v,
    const size_t *pos, size_t n, int positional, imapctx_num_fn num,
    void *arg)
{
	uint32_t	*nums;
	size_t		 i, j, k, lo, hi;
	int		 down = strcmp(name, "REMOVEFROM") == 0;

	if (n == 0)
		return;
	if ((nums = calloc(n, sizeof(*nums))) == NULL)
		fatal("calloc");
	mbuf_printf(out, " %s (", name);
	if (!positional) {
		for (i = 0; i < n; i++)
			nums[i] = number(num, arg, v[pos[i]]);
		mbuf_add(out, "0 ", 2);
		imapctx_set_text(out, nums, n);
	}
	for (k = 0; positional && k < n; k = j) {
		/* The run [i, j) of pos, counted from the chosen end. */
		if (!down) {
			i = k;
			for (j = k + 1; j < n && pos[j] == pos[j - 1] + 1; j++)
				;
			lo = pos[i];
			hi = pos[j - 1];
		} else {
			i = n - k;
			for (j = k + 1; j < n &&
			    pos[n - j - 1] + 1 == pos[n - j]; j++)
				;
			lo = pos[n - j];
			hi = pos[i - 1];
		}
		for (i = lo; i <= hi; i++)
			nums[i - lo] = number(num, arg, v[i]);
		mbuf_printf(out, "%s%zu ", k > 0 ? " " : "", lo + 1);
		imapctx_set_text(out, nums, hi - lo + 1);
	}
	mbuf_add(out, ")", 1);
	free(nums);
}

void
imapctx_res_change(struct imapctx_res *r, uint32_t *gone, size_t ngone,
    uint32_t *added, size_t nadded, imapctx_num_fn num, void *arg,
    struct mbuf *out)
{
	imapctx_cmp_fn	 cmp = r->cmp != NULL ? r->cmp : uid_cmp;
	uint32_t	*tmp, *nv;
	size_t		*pos, i, j, k, n, cap;
	long		 p;

	n = ngone > nadded ? ngone : nadded;
	if ((tmp = calloc(n + 1, sizeof(*tmp))) == NULL ||
	    (pos = calloc(n + 1, sizeof(*pos))) == NULL)
		fatal("calloc");

	/* Removals: positions before any of them is removed. */
	for (i = 0, k = 0; i < ngone; i++)
		if ((p = imapctx_res_find(r, gone[i])) >= 0)
			pos[k++] = (size_t)p;
	qsort(pos, k, sizeof(*pos), size_cmp);
	for (i = 1, j = k > 0; i < k; i++)	/* a UID given twice */
		if (pos[i] != pos[j - 1])
			pos[j++] = pos[i];
	k = j;
	runs_text(out, "REMOVEFROM", r->v, pos, k, r->cmp != NULL, num, arg);
	for (i = 0, j = 0, n = 0; i < r->n; i++) {
		if (j < k && pos[j] == i) {
			j++;
			continue;
		}
		r->v[n++] = r->v[i];
	}
	r->n = n;

	/* Additions: merged in, then numbered where they ended up. */
	msort(added, nadded, cmp, r->arg, tmp);
	cap = r->n + nadded + 1;
	if ((nv = calloc(cap, sizeof(*nv))) == NULL)
		fatal("calloc");
	for (i = 0, j = 0, n = 0, k = 0; i < r->n || j < nadded;) {
		if (j < nadded && (i == r->n ||
		    cmp(added[j], r->v[i], r->arg) < 0)) {
			if (imapctx_res_find(r, added[j]) >= 0 ||
			    (n > 0 && nv[n - 1] == added[j])) {
				j++;	/* already there */
				continue;
			}
			pos[k++] = n;
			nv[n++] = added[j++];
		} else
			nv[n++] = r->v[i++];
	}
	free(r->v);
	r->v = nv;
	r->n = n;
	r->cap = cap;
	runs_text(out, "ADDTO", r->v, pos, k, r->cmp != NULL, num, arg);
	free(pos);
	free(tmp);
}

/* nz-number (RFC 3501): no leading zero, at most 2^32-1. */
static int
parse_nz(const char **sp, uint32_t *out)
{
	const char	*s = *sp;
	uint64_t	 v = 0;

	if (*s < '1' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*out = (uint32_t)v;
	*sp = s;
	return 0;
}

int
imapctx_partial_parse(const char *s, uint32_t *lo, uint32_t *hi)
{
	uint32_t	 a, b;

	if (parse_nz(&s, &a) == -1 || *s++ != ':' ||
	    parse_nz(&s, &b) == -1 || *s != '\0')
		return -1;
	*lo = a < b ? a : b;
	*hi = a < b ? b : a;
	return 0;
}

void
imapctx_partial_text(struct mbuf *out, const uint32_t *v, size_t n,
    uint32_t lo, uint32_t hi)
{
	size_t	 last;

	mbuf_printf(out, " PARTIAL (%u:%u ", lo, hi);
	if (lo == 0 || lo > n)
		mbuf_add(out, "NIL", 3);
	else {
		last = hi < n ? hi : n;
		imapctx_set_text(out, v + lo - 1, last - lo + 1);
	}
	mbuf_add(out, ")", 1);
}

void
imapctx_set_text(struct mbuf *out, const uint32_t *u, size_t n)
{
	size_t	 i, j;

	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && u[j - 1] != UINT32_MAX &&
		    u[j] == u[j - 1] + 1; j++)
			;
		if (i > 0)
			mbuf_add(out, ",", 1);
		if (j - i == 1)
			mbuf_printf(out, "%u", u[i]);
		else
			mbuf_printf(out, "%u:%u", u[i], u[j - 1]);
	}
}
