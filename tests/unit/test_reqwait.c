/*
 * Wait tables (reqwait.h): an answer finds its asker once; a duplicate,
 * an unknown id, an answer of another kind or one to an asker that went
 * away never reaches anyone.
 */
#include <stdio.h>

#include "imsg.h"
#include "log.h"
#include "reqwait.h"
#include "tap.h"

int
main(void)
{
	int	 a, b, i, found = 0;

	log_init(1, 0);
	reqwait_add(1, IMSG_L_RCPT, &a);
	reqwait_add(2, IMSG_Q_CREATE, &b);
	ok(reqwait_count() == 2 && reqwait_pending(1), "two waiting");
	ok(reqwait_take(1, IMSG_L_RCPT, "lookup") == &a, "answer to a");
	ok(reqwait_take(1, IMSG_L_RCPT, "lookup") == NULL,
	    "the same answer again reaches no one");
	ok(reqwait_take(2, IMSG_L_RCPT, "lookup") == NULL,
	    "an answer of another kind reaches no one");
	ok(reqwait_pending(2), "... and leaves the request waiting");
	reqwait_forget(2);
	ok(reqwait_pending(2), "a forgotten request still waits");
	ok(reqwait_take(2, IMSG_Q_CREATE, "queue") == NULL,
	    "its answer comes late, to no one");
	ok(!reqwait_pending(2) && reqwait_count() == 0, "nothing waits");
	ok(reqwait_take(99, IMSG_Q_CREATE, "queue") == NULL, "unknown id");
	reqwait_forget(99);
	for (i = 0; i < 10000; i++)
		reqwait_add((uint64_t)i * 7919, IMSG_L_AUTH, &a);
	for (i = 9999; i >= 0; i--)
		found += reqwait_take((uint64_t)i * 7919, IMSG_L_AUTH,
		    "lookup") == &a;
	is_int(found, 10000, "10,000 requests, each answered once");
	ok(reqwait_count() == 0, "none left");
	return done_testing();
}
