/*
 * spf_check(): the SPF evaluator of spf.c driven over dns_query() on the
 * caller's libevent loop.  What spf_eval() lacks is asked all at once;
 * when every answer is in, the check runs again.  A deadline bounds the
 * whole check (RFC 7208 4.6.4: temperror when it passes), SPF_MAX_QUERIES
 * the queries.  The outcome is delivered from a timer, never from inside
 * spf_check(); the run is freed once delivered and its last query is
 * back (answers coming after the deadline are dropped).
 */
#include <sys/types.h>
#include <sys/time.h>

#include <event.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "dns.h"
#include "dns_cache.h"
#include "log.h"
#include "spf.h"

struct spf_run {
	struct spf		*spf;
	spf_cb			 cb;
	void			*arg;
	struct event		 ev;		/* deadline, then delivery */
	int			 outstanding;	/* queries not back yet */
	int			 queries;
	int			 finished;	/* delivery scheduled */
	int			 delivered;
};

struct spf_query {
	struct spf_run		*run;
	char			 name[DNS_NAME_MAX + 1];
	int			 type;
};

static void	run_step(struct spf_run *);
static void	run_finish(struct spf_run *);
static void	run_event(int, short, void *);
static void	run_answer(void *, const struct dns_rrset *);
static void	run_free(struct spf_run *);

void
spf_check(const struct spf_params *p, spf_cb cb, void *arg)
{
	struct spf_run	*run;
	struct timeval	 tv;

	if ((run = calloc(1, sizeof(*run))) == NULL)
		fatal("calloc");
	run->spf = spf_new(p);
	run->cb = cb;
	run->arg = arg;
	tv.tv_sec = p->timeout > 0 ? p->timeout : SPF_TIMEOUT;
	tv.tv_usec = 0;
	evtimer_set(&run->ev, run_event, run);
	evtimer_add(&run->ev, &tv);
	run_step(run);
}

/* Evaluate; ask what is lacking, or finish. */
static void
run_step(struct spf_run *run)
{
	const struct spf_need	*needs;
	struct spf_query	*q;
	size_t			 i, n;

	if (spf_eval(run->spf) == SPF_DONE) {
		run_finish(run);
		return;
	}
	n = spf_needs(run->spf, &needs);
	if (n == 0 || run->queries + n > SPF_MAX_QUERIES) {
		/* Never with spf.c's own bounds: end it rather than spin. */
		log_warnx("spf: %s: query bound reached",
		    spf_outcome(run->spf)->domain);
		spf_expire(run->spf);
		(void)spf_eval(run->spf);
		run_finish(run);
		return;
	}
	for (i = 0; i < n; i++) {
		if ((q = calloc(1, sizeof(*q))) == NULL)
			fatal("calloc");
		q->run = run;
		(void)strlcpy(q->name, needs[i].name, sizeof(q->name));
		q->type = needs[i].type;
		run->outstanding++;
		run->queries++;
		dns_cquery(q->name, q->type, run_answer, q);
	}
}

static void
run_answer(void *arg, const struct dns_rrset *rs)
{
	struct spf_query	*q = arg;
	struct spf_run		*run = q->run;

	run->outstanding--;
	if (!run->finished) {
		spf_answer(run->spf, q->name, q->type, rs);
		if (run->outstanding == 0)
			run_step(run);
	} else if (run->delivered && run->outstanding == 0)
		run_free(run);
	free(q);
}

/* The outcome is final: deliver it from the loop. */
static void
run_finish(struct spf_run *run)
{
	struct timeval	 tv = { 0, 0 };

	run->finished = 1;
	evtimer_del(&run->ev);
	evtimer_add(&run->ev, &tv);
}

static void
run_event(int fd, short events, void *arg)
{
	struct spf_run	*run = arg;

	(void)fd;
	(void)events;
	if (!run->finished) {
		/* The deadline: what is lacking is a DNS error now. */
		spf_expire(run->spf);
		(void)spf_eval(run->spf);
		run_finish(run);
		return;
	}
	run->delivered = 1;
	run->cb(run->arg, spf_outcome(run->spf));
	if (run->outstanding == 0)
		run_free(run);
}

static void
run_free(struct spf_run *run)
{
	evtimer_del(&run->ev);
	spf_free(run->spf);
	free(run);
}
