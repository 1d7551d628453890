/*
 * What OBJECTID (RFC 8474) and SAVEDATE (RFC 8514) tell of a message,
 * derived from the base name of its Maildir file, which maild never
 * changes while the message stays in the mailbox (flags live after the
 * ":2,", a move from new/ to cur/ keeps the base):
 *
 * - EMAILID: the value of a ",E=<objectid>" field of the base name if
 *   there is one, else "M" and the first 12 bytes of the SHA-256 of the
 *   base name in hex.  COPY and MOVE (imap_mbox_write.c) give the new
 *   file a ",E=" field holding the EMAILID of the source, so a copy
 *   keeps the EMAILID of its original, as JMAP clients expect.  The id
 *   is in the name the file is linked under, so it is there as soon as
 *   the file is, whatever happens to the UID list afterwards (a crash
 *   before it is saved, a corrupt list made anew): nothing else needs
 *   to be written, and a restart derives the same ids.
 * - save date: the seconds at the start of the base name.  maild names
 *   a file when it puts it into a mailbox (delivery, APPEND, COPY and
 *   MOVE all make a new name), and so do Dovecot and the other Maildir
 *   writers ("<seconds>.<unique>.<host>"); a name without a plausible
 *   time (before 1973 or in the future) has no save date: NIL.
 *
 * THREADID is not kept (NIL, as RFC 8474 5.2 allows).
 */
#include <sys/types.h>

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "imap_mbox.h"
#include "imap_mbox_priv.h"
#include "log.h"
#include "uidlist.h"

#define SAVEDATE_MIN	100000000	/* 1973-03-03: older is no time */
#define SAVEDATE_SKEW	86400		/* a clock a day ahead at most */

static const char	*field_value(const char *, size_t, size_t *);

/* The value of ",E=" in base[0..len), up to the next ',' or the end. */
static const char *
field_value(const char *base, size_t len, size_t *vlen)
{
	const char	*p, *end = base + len, *v;

	for (p = base; p + 3 <= end; p++) {
		if (p[0] != ',' || p[1] != 'E' || p[2] != '=')
			continue;
		for (v = p + 3; v < end && *v != ','; v++)
			;
		*vlen = v - (p + 3);
		return p + 3;
	}
	return NULL;
}

int
mbox_name_emailid(const char *base, size_t len, char *buf, size_t bufsz)
{
	unsigned char	 h[crypto_hash_sha256_BYTES];
	const char	*v;
	size_t		 vlen, i;

	if ((v = field_value(base, len, &vlen)) != NULL &&
	    uidlist_objectid_valid(v, vlen)) {
		if (vlen >= bufsz)
			return -1;
		memcpy(buf, v, vlen);
		buf[vlen] = '\0';
		return 0;
	}
	if (bufsz < 2 + 2 * MBOX_EMAILID_BYTES)
		return -1;
	crypto_hash_sha256(h, (const unsigned char *)base, len);
	buf[0] = 'M';
	for (i = 0; i < MBOX_EMAILID_BYTES; i++)
		(void)snprintf(buf + 1 + 2 * i, 3, "%02x", h[i]);
	return 0;
}

time_t
mbox_name_savedate(const char *base, size_t len, time_t now)
{
	int64_t	 t = 0;
	size_t	 i;

	for (i = 0; i < len && base[i] >= '0' && base[i] <= '9'; i++) {
		if (i >= 12)
			return 0;
		t = t * 10 + (base[i] - '0');
	}
	if (i == 0 || i == len || base[i] != '.' || base[0] == '0' ||
	    t < SAVEDATE_MIN || t > (int64_t)now + SAVEDATE_SKEW)
		return 0;
	return (time_t)t;
}

int
mbox_emailid(const struct mbox *m, uint32_t idx, char *buf, size_t bufsz)
{
	if (idx >= m->n)
		return -1;
	return mbox_name_emailid(m->priv[idx].file + 4, m->priv[idx].baselen,
	    buf, bufsz);
}

time_t
mbox_savedate(const struct mbox *m, uint32_t idx)
{
	if (idx >= m->n)
		return 0;
	return mbox_name_savedate(m->priv[idx].file + 4,
	    m->priv[idx].baselen, time(NULL));
}
