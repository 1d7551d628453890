/*
 * Envelopes on disk: one small text file per destination, "key: value"
 * lines in a fixed order, versioned.  The writer refuses to produce
 * anything the reader would not take back, and the reader is strict:
 * an envelope it does not understand completely is corrupt and goes
 * to corrupt/, it is never half-delivered.
 */
#include <sys/types.h>

#include <sodium.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "envelope.h"
#include "expand.h"
#include "maild.h"

#define ENVELOPE_MAX	16384

enum ekey {
	K_VERSION, K_ID, K_CREATED, K_LASTTRY, K_RETRIES, K_FLAGS, K_HELO,
	K_SRC, K_SENDER, K_RCPT, K_DESTTYPE, K_DEST, K_PATH, K_ERRMSG,
	K_DKIM,		/* optional, last: only when the message is signed */
	K_COUNT
};

static const char *const keys[K_COUNT] = {
	"version", "id", "created", "lasttry", "retries", "flags", "helo",
	"src", "sender", "rcpt", "dest-type", "dest", "path", "errmsg",
	"dkim"
};

static const struct {
	const char	*word;
	int		 flag;
} flagwords[] = {
	{ "8bitmime",	EF_8BITMIME },
	{ "smtputf8",	EF_SMTPUTF8 },
	{ "auth",	EF_AUTH },
	{ "local",	EF_LOCAL },
	{ "check",	EF_CHECK },
	{ "filter",	EF_FILTER },
};

static int	clean(const char *);
static int	parse_uint(const char *, uint64_t, uint64_t *);
static int	parse_id(const char *, uint64_t *);
static int	parse_flags(const char *, int *);
static int	parse_rcpt(const char *, struct mailaddr *);
static int	set_value(struct envelope *, enum ekey, const char *);
static int	copy_str(char *, const char *, size_t);
static int	bad(char *, size_t, const char *, const char *);
static int	dkim_value(struct envelope *, const char *);

/* No control characters: one value must stay on one line. */
static int
clean(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int
envelope_dump(const struct envelope *e, char *buf, size_t len)
{
	char		 flags[64], sender[ADDR_MAX + 1], rcpt[ADDR_MAX + 1];
	char		 dest[ADDR_MAX + 1];
	char		 dkim[sodium_base64_ENCODED_LEN(DKIM_HDR_MAX,
			    sodium_base64_VARIANT_ORIGINAL)];
	const char	*vals[K_COUNT], *dtype;
	char		 nums[5][24];
	size_t		 i, o = 0;
	int		 r;

	if (e->created < 0 || e->lasttry < 0 || e->retries < 0)
		return -1;
	switch (e->dest.type) {
	case DEST_MAILDIR:
		dtype = "maildir";
		break;
	case DEST_RELAY:
		dtype = "relay";
		break;
	case DEST_LEARN:
		dtype = "learn";
		break;
	default:
		return -1;
	}
	flags[0] = '\0';
	for (i = 0; i < nitems(flagwords); i++) {
		if (!(e->flags & flagwords[i].flag))
			continue;
		if (flags[0] != '\0')
			(void)strlcat(flags, " ", sizeof(flags));
		(void)strlcat(flags, flagwords[i].word, sizeof(flags));
	}
	if (addr_to_text(&e->sender, sender, sizeof(sender)) == -1 ||
	    addr_to_text(&e->rcpt, rcpt, sizeof(rcpt)) == -1 ||
	    addr_to_text(&e->dest.addr, dest, sizeof(dest)) == -1)
		return -1;
	(void)snprintf(nums[0], sizeof(nums[0]), "%d", ENVELOPE_VERSION);
	(void)snprintf(nums[1], sizeof(nums[1]), "%016llx",
	    (unsigned long long)e->id);
	(void)snprintf(nums[2], sizeof(nums[2]), "%lld",
	    (long long)e->created);
	(void)snprintf(nums[3], sizeof(nums[3]), "%lld",
	    (long long)e->lasttry);
	(void)snprintf(nums[4], sizeof(nums[4]), "%d", e->retries);

	vals[K_VERSION] = nums[0];
	vals[K_ID] = nums[1];
	vals[K_CREATED] = nums[2];
	vals[K_LASTTRY] = nums[3];
	vals[K_RETRIES] = nums[4];
	vals[K_FLAGS] = flags;
	vals[K_HELO] = e->helo;
	vals[K_SRC] = e->src;
	vals[K_SENDER] = sender;
	vals[K_RCPT] = rcpt;
	vals[K_DESTTYPE] = dtype;
	vals[K_DEST] = dest;
	vals[K_PATH] = e->dest.path;
	vals[K_ERRMSG] = e->errmsg;

	/* Fixed-size fields must be terminated: never read past them. */
	if (memchr(e->helo, '\0', sizeof(e->helo)) == NULL ||
	    memchr(e->src, '\0', sizeof(e->src)) == NULL ||
	    memchr(e->dest.path, '\0', sizeof(e->dest.path)) == NULL ||
	    memchr(e->errmsg, '\0', sizeof(e->errmsg)) == NULL)
		return -1;

	/* The signature's CRLFs and TABs travel as base64 on one line. */
	dkim[0] = '\0';
	if (memchr(e->dkim, '\0', sizeof(e->dkim)) == NULL)
		return -1;
	if (e->dkim[0] != '\0')
		(void)sodium_bin2base64(dkim, sizeof(dkim),
		    (const unsigned char *)e->dkim, strlen(e->dkim),
		    sodium_base64_VARIANT_ORIGINAL);
	vals[K_DKIM] = dkim;

	for (i = 0; i < K_COUNT; i++) {
		if (i == K_DKIM && dkim[0] == '\0')
			continue;
		if (!clean(vals[i]))
			return -1;
		r = snprintf(buf + o, len - o, "%s: %s\n", keys[i], vals[i]);
		if (r < 0 || (size_t)r >= len - o)
			return -1;
		o += r;
	}
	if (o > ENVELOPE_MAX)
		return -1;
	return (int)o;
}

static int
bad(char *err, size_t errlen, const char *msg, const char *key)
{
	if (key != NULL)
		(void)snprintf(err, errlen, "%s: %s", key, msg);
	else
		(void)strlcpy(err, msg, errlen);
	return -1;
}

/* Decimal, no sign, no leading zero, at most max; 0 or -1. */
static int
parse_uint(const char *s, uint64_t max, uint64_t *vp)
{
	uint64_t	 v = 0;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*vp = v;
	return 0;
}

/* Exactly 16 lowercase hex digits. */
static int
parse_id(const char *s, uint64_t *vp)
{
	uint64_t	 v = 0;
	size_t		 i;

	for (i = 0; i < 16; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			v = v << 4 | (uint64_t)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			v = v << 4 | (uint64_t)(s[i] - 'a' + 10);
		else
			return -1;
	}
	if (s[16] != '\0')
		return -1;
	*vp = v;
	return 0;
}

/* Words separated by single spaces, each known and given once. */
static int
parse_flags(const char *s, int *fp)
{
	size_t	 len, i;
	int	 f = 0;

	while (*s != '\0') {
		len = strcspn(s, " ");
		for (i = 0; i < nitems(flagwords); i++)
			if (strlen(flagwords[i].word) == len &&
			    strncmp(flagwords[i].word, s, len) == 0)
				break;
		if (i == nitems(flagwords) || (f & flagwords[i].flag))
			return -1;
		f |= flagwords[i].flag;
		s += len;
		if (*s == ' ' && *++s == '\0')
			return -1;
	}
	*fp = f;
	return 0;
}

/* A recipient, or "postmaster" alone (RFC 5321 4.5.1). */
static int
parse_rcpt(const char *s, struct mailaddr *a)
{
	if (strcasecmp(s, "postmaster") == 0) {
		memset(a, 0, sizeof(*a));
		(void)strlcpy(a->user, s, sizeof(a->user));
		return 0;
	}
	return addr_parse(s, a, ADDR_ALLOW_UTF8);
}

static int
copy_str(char *dst, const char *s, size_t size)
{
	return strlcpy(dst, s, size) >= size ? -1 : 0;
}

static int
set_value(struct envelope *e, enum ekey k, const char *v)
{
	uint64_t	 n;

	switch (k) {
	case K_VERSION:
		if (parse_uint(v, INT32_MAX, &n) == -1 ||
		    n != ENVELOPE_VERSION)
			return -1;
		return 0;
	case K_ID:
		return parse_id(v, &e->id);
	case K_CREATED:
	case K_LASTTRY:
		/* time_t is 64-bit on every platform we build for. */
		if (parse_uint(v, INT64_MAX, &n) == -1 ||
		    (time_t)n < 0 || (uint64_t)(time_t)n != n)
			return -1;
		if (k == K_CREATED)
			e->created = (time_t)n;
		else
			e->lasttry = (time_t)n;
		return 0;
	case K_RETRIES:
		if (parse_uint(v, INT_MAX, &n) == -1)
			return -1;
		e->retries = (int)n;
		return 0;
	case K_FLAGS:
		return parse_flags(v, &e->flags);
	case K_HELO:
		return copy_str(e->helo, v, sizeof(e->helo));
	case K_SRC:
		return copy_str(e->src, v, sizeof(e->src));
	case K_SENDER:
		if (*v == '\0') {
			memset(&e->sender, 0, sizeof(e->sender));
			return 0;
		}
		return addr_parse(v, &e->sender, ADDR_ALLOW_UTF8);
	case K_RCPT:
		return parse_rcpt(v, &e->rcpt);
	case K_DESTTYPE:
		if (strcmp(v, "maildir") == 0)
			e->dest.type = DEST_MAILDIR;
		else if (strcmp(v, "relay") == 0)
			e->dest.type = DEST_RELAY;
		else if (strcmp(v, "learn") == 0)
			e->dest.type = DEST_LEARN;
		else
			return -1;
		return 0;
	case K_DEST:
		return parse_rcpt(v, &e->dest.addr);
	case K_PATH:
		return copy_str(e->dest.path, v, sizeof(e->dest.path));
	case K_ERRMSG:
		return copy_str(e->errmsg, v, sizeof(e->errmsg));
	case K_DKIM:
		return dkim_value(e, v);
	case K_COUNT:
		break;
	}
	return -1;
}

/* The base64 of header lines: each ends in CRLF, only TAB inside. */
static int
dkim_value(struct envelope *e, const char *v)
{
	const unsigned char	*p;
	size_t			 n;

	if (sodium_base642bin((unsigned char *)e->dkim, sizeof(e->dkim) - 1,
	    v, strlen(v), NULL, &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || n == 0)
		return -1;
	e->dkim[n] = '\0';
	if (n < 2 || e->dkim[n - 2] != '\r' || e->dkim[n - 1] != '\n')
		return -1;
	for (p = (const unsigned char *)e->dkim; *p != '\0'; p++)
		if ((*p < 0x20 && *p != '\t' && *p != '\r' && *p != '\n') ||
		    *p >= 0x7f || (*p == '\r' && p[1] != '\n') ||
		    (*p == '\n' && (p == (const unsigned char *)e->dkim ||
		    p[-1] != '\r')))
			return -1;
	if (n != strlen(e->dkim))
		return -1;	/* a NUL inside */
	return 0;
}

int
envelope_load(struct envelope *out, const char *buf, size_t len, char *err,
    size_t errlen)
{
	struct envelope	 e;
	char		 line[ENVELOPE_MAX + 1];
	const char	*p, *end, *nl, *v;
	size_t		 llen, klen, i;
	unsigned int	 seen = 0;

	if (len > ENVELOPE_MAX)
		return bad(err, errlen, "envelope too large", NULL);
	if (memchr(buf, '\0', len) != NULL)
		return bad(err, errlen, "NUL byte in envelope", NULL);
	if (len == 0 || buf[len - 1] != '\n')
		return bad(err, errlen, "truncated envelope", NULL);

	memset(&e, 0, sizeof(e));
	end = buf + len;
	for (p = buf; p < end; p = nl + 1) {
		nl = memchr(p, '\n', end - p);	/* found: buf ends in '\n' */
		llen = nl - p;
		memcpy(line, p, llen);
		line[llen] = '\0';
		if (!clean(line))
			return bad(err, errlen, "control character", NULL);
		if ((v = strchr(line, ':')) == NULL)
			return bad(err, errlen, "line without ':'", NULL);
		klen = v - line;
		for (i = 0; i < K_COUNT; i++)
			if (strlen(keys[i]) == klen &&
			    strncmp(keys[i], line, klen) == 0)
				break;
		if (i == K_COUNT) {
			(void)snprintf(err, errlen, "unknown key \"%.*s\"",
			    (int)(klen > 32 ? 32 : klen), line);
			return -1;
		}
		if (seen & (1U << i))
			return bad(err, errlen, "duplicate key", keys[i]);
		seen |= 1U << i;
		/* "key: value"; an empty value may lose its space. */
		v++;
		if (*v == ' ')
			v++;
		else if (*v != '\0')
			return bad(err, errlen, "no space after ':'", keys[i]);
		if (set_value(&e, i, v) == -1)
			return bad(err, errlen, i == K_VERSION ?
			    "unsupported version" : "invalid value", keys[i]);
	}
	for (i = 0; i < K_COUNT; i++)
		if (i != K_DKIM && !(seen & (1U << i)))
			return bad(err, errlen, "missing key", keys[i]);
	if (e.rcpt.user[0] == '\0' || e.dest.addr.user[0] == '\0')
		return bad(err, errlen, "empty recipient", NULL);
	if (e.dest.type == DEST_MAILDIR && e.dest.path[0] == '\0')
		return bad(err, errlen, "maildir without path", NULL);
	if (e.dest.type == DEST_LEARN && strcmp(e.dest.path, "spam") != 0 &&
	    strcmp(e.dest.path, "ham") != 0)
		return bad(err, errlen, "learn neither spam nor ham", NULL);
	e.nexttry = 0;
	*out = e;
	return 0;
}
