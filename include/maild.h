/*
 * What every maild program shares: its paths, limits and defaults.
 * Each module's interface is in its own header (address.h, config.h,
 * table.h, expand.h, envelope.h, spool.h, util.h, maildir.h, ...).
 */
#ifndef MAILD_H
#define MAILD_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "compat.h"
#include "log.h"

#define MAILD_VERSION		"0.1"
#define MAILD_CONF		"/etc/mail.conf"
#define MAILD_SPOOL		"/var/spool/maild"
#define MAILD_PSL		"/usr/share/publicsuffix/public_suffix_list.dat"
#define MAILD_SOCKET		"/var/run/maild.sock"
#define MAILD_USER		"_maild"
#define MAILD_VMAIL_USER	"vmail"
#define MAILD_EMPTY		"/var/empty"

#ifndef HOST_NAME_MAX
#define HOST_NAME_MAX		255
#endif

#define NAME_MAX_CONF		64	/* table, pki, action names */
#define LOCALPART_MAX		128	/* RFC 5321 says 64; be lenient */
#define DOMAIN_MAX		255
#define ADDR_MAX		(LOCALPART_MAX + 1 + DOMAIN_MAX)
#define SMTP_LINE_MAX		4096	/* command line, with extensions */
#define DATA_LINE_MAX		65536	/* one line of message data */
#define ERRMSG_MAX		256
#define CIPHERS_MAX		512	/* a TLS cipher string */

/*
 * TLS 1.2 suites offered unless "ciphers" says otherwise: ephemeral
 * ECDH only (forward secrecy), AEAD only (no CBC, so no padding
 * oracles such as LUCKY13).  Spelled out because libretls's "secure"
 * is OpenSSL's DEFAULT, which has both.  TLS 1.3 suites are all AEAD
 * with ephemeral keys and stay on.
 */
#define MAILD_CIPHERS_DEFAULT	"ECDHE+AESGCM:ECDHE+CHACHA20"

#define DEFAULT_MAX_MSG_SIZE	(35 * 1024 * 1024)
#define DEFAULT_MAX_RCPT	100
#define DEFAULT_MAX_LINE	998	/* RFC 5322 2.1.1 */
#define DEFAULT_MAX_PER_IP	20
#define DEFAULT_IMAP_PER_IP	50	/* households and offices behind NAT */
#define DEFAULT_IMAP_PER_USER	20	/* Thunderbird uses 5 per account */
#define DEFAULT_SMTP_TIMEOUT	300	/* seconds, RFC 5321 4.5.3.2 */
#define DEFAULT_QUEUE_TTL	(4 * 24 * 3600)
#define DEFAULT_RETRY_LOCAL	5	/* first local retry, seconds */
#define DEFAULT_RETRY_MAX	3600	/* cap of the backoff, seconds */
#define DEFAULT_RETRY_REMOTE	300	/* first remote retry, seconds */
#define DEFAULT_RELAY_PORT	25	/* port of MX hosts */
#define DEFAULT_RSPAMD_TIMEOUT	20	/* seconds for a scan or a learn */
#define DEFAULT_RSPAMD_MAX_SIZE	(10 * 1024 * 1024)
#define RSPAMD_CONTROLLER_PORT	11334
#define DEFAULT_GREYLIST_DELAY	300	/* seconds before a retry passes */
#define DEFAULT_GREYLIST_EXPIRE	(2 * 24 * 3600)	/* of a deferred triplet */
#define DEFAULT_GREYLIST_WL_EXPIRE (35 * 24 * 3600)	/* since last use */
#define MAX_EXPAND_DEPTH	10
#define MAX_EXPAND_DEST		100	/* destinations of one RCPT */

/* Lookup results, everywhere: -1 temporary failure, 0 not found, 1 found. */

#endif
