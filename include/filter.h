/*
 * The filter process (filter.c) and what it tells the queue: rspamd's
 * verdict on a message (IMSG_F_SCAN_RES) and the end of a learning
 * request (IMSG_F_LEARN_RES, RELAY_* statuses).
 */
#ifndef MAILD_FILTER_H
#define MAILD_FILTER_H

#define FILTER_RCPT_MAX		100	/* Rcpt headers of one scan */
#define FILTER_SYMBOLS_MAX	1024	/* "NAME(1.00), ..." */

/* IMSG_F_SCAN_RES status */
#define FILTER_OK	0	/* rspamd's verdict follows */
#define FILTER_ERROR	1	/* none: rspamd could not be asked */

#endif
