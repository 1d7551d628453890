/*
 * mail.conf: the DNS lists that SMTP clients are checked against when
 * they connect (dnsbl.h), one statement a zone:
 *
 *	dnsbl ZONE [weight N] [match ADDR|ADDR-ADDR ...] [message "TEXT"]
 *	dnswl ZONE [weight N] [match ADDR|ADDR-ADDR ...]
 *
 * and their canonical form for "maild -nv".  At most DNSBL_ZONES_MAX
 * zones, each short enough that the name asked for an IPv6 client
 * fits in 253 bytes, so the work of one connection stays bounded.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_priv.h"
#include "dnsbl.h"
#include "log.h"
#include "util.h"

static int	 parse_weight(struct parser *, struct dnsbl_zone *);
static int	 parse_match(struct parser *, struct dnsbl_zone *);
static int	 parse_message(struct parser *, struct dnsbl_zone *);
static void	 dump_range(FILE *, const struct dnsbl_range *);

/* dnsbl ZONE ..., dnswl ZONE ... (the first token says which) */
int
cf_parse_dnsbl(struct parser *p)
{
	struct dnsbl_zone	 z, *o;
	struct token		*tok;
	const char		*s, *what = p->toks[0].text;
	int			 weight = 0, match = 0, message = 0, *seen;

	memset(&z, 0, sizeof(z));
	z.allow = strcmp(what, "dnswl") == 0;
	z.weight = z.allow ? DNSBL_WL_WEIGHT : DNSBL_WEIGHT;
	z.line = p->line;
	if (cf_expect_string(p, "a zone name", &s) == -1)
		return -1;
	if (strlen(s) > DNSBL_ZONE_MAX) {
		cf_perr(p, "%s zone \"%.64s...\" is too long (at most %d "
		    "bytes, so that the name asked for an IPv6 client fits "
		    "in 253)", what, s, DNSBL_ZONE_MAX);
		return -1;
	}
	if (!dnsbl_zone_valid(s, z.zone, sizeof(z.zone))) {
		cf_perr(p, "invalid %s zone \"%.64s\": a domain name of two "
		    "labels or more (letters, digits, '-', '_')", what, s);
		return -1;
	}
	TAILQ_FOREACH(o, &p->conf->dnsbls, entry)
		if (strcmp(o->zone, z.zone) == 0) {
			cf_perr(p, "zone %s is already listed on line %d",
			    z.zone, o->line);
			return -1;
		}
	if (p->conf->ndnsbl >= DNSBL_ZONES_MAX) {
		cf_perr(p, "too many dnsbl and dnswl zones (at most %d)",
		    DNSBL_ZONES_MAX);
		return -1;
	}
	while ((tok = cf_next(p)) != NULL) {
		if (cf_is_word(tok, "weight"))
			seen = &weight;
		else if (cf_is_word(tok, "match"))
			seen = &match;
		else if (cf_is_word(tok, "message") && !z.allow)
			seen = &message;
		else {
			cf_expected(p, tok, z.allow ? "weight or match" :
			    "weight, match or message");
			return -1;
		}
		if ((*seen)++) {
			cf_perr(p, "option %s given twice", tok->text);
			return -1;
		}
		if ((seen == &weight && parse_weight(p, &z) == -1) ||
		    (seen == &match && parse_match(p, &z) == -1) ||
		    (seen == &message && parse_message(p, &z) == -1))
			return -1;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL)
		fatal("calloc");
	*o = z;
	TAILQ_INSERT_TAIL(&p->conf->dnsbls, o, entry);
	p->conf->ndnsbl++;
	return 0;
}

static int
parse_weight(struct parser *p, struct dnsbl_zone *z)
{
	unsigned long long	 v;
	const char		*s, *end;

	if (cf_expect_string(p, "a weight", &s) == -1)
		return -1;
	if (cf_parse_ull(s, &v, &end) == -1 || *end != '\0' || v == 0 ||
	    v > DNSBL_WEIGHT_MAX) {
		cf_perr(p, "weight %.64s out of range (1 to %d)", s,
		    DNSBL_WEIGHT_MAX);
		return -1;
	}
	z->weight = (int)v;
	return 0;
}

/* match A A-B ...: up to the next option or the end of the line. */
static int
parse_match(struct parser *p, struct dnsbl_zone *z)
{
	struct dnsbl_range	*r;
	struct token		*tok;

	while ((tok = cf_peek(p)) != NULL && !cf_is_word(tok, "weight") &&
	    !cf_is_word(tok, "message")) {
		p->pos++;
		if (tok->type == TK_COMMA && z->nmatch > 0)
			continue;
		if (tok->type != TK_WORD && tok->type != TK_STRING) {
			cf_expected(p, tok, "an address or a range A-B");
			return -1;
		}
		if (z->nmatch == DNSBL_MATCH_MAX) {
			cf_perr(p, "too many match ranges (at most %d)",
			    DNSBL_MATCH_MAX);
			return -1;
		}
		r = &z->match[z->nmatch];
		if (dnsbl_range_parse(tok->text, r) == -1) {
			cf_perr(p, "match %.64s: expected an IPv4 address or "
			    "a range A-B with A <= B", tok->text);
			return -1;
		}
		if (r->lo >> 24 != 127 || r->hi >> 24 != 127) {
			cf_perr(p, "match %.64s: lists answer in 127.0.0.0/8",
			    tok->text);
			return -1;
		}
		z->nmatch++;
	}
	if (z->nmatch == 0) {
		cf_expected(p, tok, "an address or a range A-B after match");
		return -1;
	}
	return 0;
}

static int
parse_message(struct parser *p, struct dnsbl_zone *z)
{
	const char	*s;

	if (cf_expect_string(p, "a message", &s) == -1)
		return -1;
	if (*s == '\0' || !dnsbl_message_valid(s)) {
		cf_perr(p, "message: 1 to %d printable ASCII characters, "
		    "'%%' only in %%{ip} and %%{zone}", DNSBL_MSG_MAX);
		return -1;
	}
	(void)strlcpy(z->message, s, sizeof(z->message));
	return 0;
}

static void
dump_range(FILE *fp, const struct dnsbl_range *r)
{
	struct in_addr	 a;
	char		 buf[INET_ADDRSTRLEN];

	a.s_addr = htonl(r->lo);
	fprintf(fp, " %s", inet_ntop(AF_INET, &a, buf, sizeof(buf)));
	if (r->hi == r->lo)
		return;
	a.s_addr = htonl(r->hi);
	fprintf(fp, "-%s", inet_ntop(AF_INET, &a, buf, sizeof(buf)));
}

void
cf_dnsbl_dump(const struct maild_conf *c, FILE *fp)
{
	const struct dnsbl_zone	*z;
	size_t			 i;

	TAILQ_FOREACH(z, &c->dnsbls, entry) {
		fprintf(fp, "%s ", z->allow ? "dnswl" : "dnsbl");
		cf_dump_str(fp, z->zone);
		fprintf(fp, " weight %d", z->weight);
		if (z->nmatch > 0)
			fprintf(fp, " match");
		for (i = 0; i < z->nmatch; i++)
			dump_range(fp, &z->match[i]);
		if (z->message[0] != '\0') {
			fprintf(fp, " message ");
			cf_dump_str(fp, z->message);
		}
		fprintf(fp, "\n");
	}
}
