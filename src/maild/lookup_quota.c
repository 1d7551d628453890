/*
 * The lookup process's part in quotas (quota.h): at RCPT TO, before a
 * recipient is accepted, the deliver process (which reads the
 * Maildirs) says how many of its Maildirs are full.  A recipient all of
 * whose destinations are full Maildirs is refused, 452 4.2.2 or 552
 * 5.2.2 as "quota over" says, and its destinations never reach the
 * queue; one with any room left anywhere is accepted, and delivery
 * checks each Maildir again with the message's size.  Meanwhile the
 * recipient waits here (reqwait.h), destinations and all.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "lookup.h"
#include "proc.h"
#include "reqwait.h"

struct qwait {
	uint64_t	 reqid;		/* the session's */
	uint32_t	 msgid;
	struct mailaddr	 rcpt;
	struct dest	*dests;
	size_t		 n;
	uint32_t	 asked;		/* Maildirs */
};

static uint64_t		 next_qid;

int
lookup_quota_ask(uint64_t reqid, uint32_t msgid, const struct mailaddr *rcpt,
    struct dest *dests, size_t n)
{
	struct qwait	*w;
	struct ipc_buf	*b;
	uint32_t	 asked = 0;
	size_t		 i;

	if (!conf->quota)
		return 0;
	for (i = 0; i < n; i++)
		if (dests[i].type == DEST_MAILDIR)
			asked++;
	/* Mail that also goes elsewhere is accepted for that. */
	if (asked == 0 || asked != n)
		return 0;
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (b = malloc(sizeof(*b))) == NULL)
		fatal("calloc");
	w->reqid = reqid;
	w->msgid = msgid;
	w->rcpt = *rcpt;
	w->dests = dests;
	w->n = n;
	w->asked = asked;
	ipc_buf_init(b);
	ipc_add_u64(b, ++next_qid);
	ipc_add_u32(b, asked);
	for (i = 0; i < n; i++) {
		ipc_add_addr(b, &dests[i].addr);
		ipc_add_str(b, dests[i].path);
	}
	proc_send_buf(PROC_DELIVER, IMSG_D_QUOTA, -1, b);
	free(b);
	reqwait_add(next_qid, IMSG_D_QUOTA, w);
	return 1;
}

void
lookup_quota_res(struct ipc_msg *m)
{
	struct qwait	*w;
	char		 rcpt[ADDR_MAX + 1];
	uint64_t	 qid;
	uint32_t	 full;

	qid = ipc_get_u64(m);
	full = ipc_get_u32(m);
	ipc_end(m);
	if ((w = reqwait_take(qid, IMSG_D_QUOTA, m->peer)) == NULL)
		return;
	if (full >= w->asked) {
		if (addr_to_text(&w->rcpt, rcpt, sizeof(rcpt)) == -1)
			rcpt[0] = '\0';
		log_info("lookup: <%s>: mailbox full, refused", rcpt);
		lookup_rcpt_answer(PROC_SMTP, w->reqid, w->msgid, &w->rcpt,
		    EXP_OVERQUOTA, NULL, 0, "Mailbox full");
	} else
		lookup_rcpt_answer(PROC_SMTP, w->reqid, w->msgid, &w->rcpt,
		    EXP_OK, w->dests, w->n, "");
	free(w->dests);
	free(w);
}
