/*
 * mail.conf: mailbox quotas (quota.h), one statement or several,
 *
 *	quota [storage SIZE|none] [messages N|none] [table <T>]
 *	    [over temporary|permanent]
 *
 * each part at most once in the file.  Any quota statement turns the
 * quotas on: from then on every Maildir keeps its usage.  The table's
 * lines ("user@domain storage=2G messages=50000") are checked when it
 * is loaded (quota_table_check()), so that a bad one stops "maild -n",
 * the start or the reload with its file and line.  And the canonical
 * form, one line, for "maild -nv".
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "config_priv.h"
#include "quota.h"

#define QS_STORAGE	0
#define QS_MESSAGES	1
#define QS_TABLE	2
#define QS_OVER		3

static int	 parse_part(struct parser *, int, const char *);

int
cf_parse_quota(struct parser *p)
{
	struct token	*tok;
	int		 part, n = 0;

	while ((tok = cf_next(p)) != NULL) {
		if (cf_is_word(tok, "storage"))
			part = QS_STORAGE;
		else if (cf_is_word(tok, "messages"))
			part = QS_MESSAGES;
		else if (cf_is_word(tok, "table"))
			part = QS_TABLE;
		else if (cf_is_word(tok, "over"))
			part = QS_OVER;
		else {
			cf_expected(p, tok, "storage, messages, table or over");
			return -1;
		}
		if (p->quota_seen[part] != 0) {
			cf_perr(p, "quota %s is already set on line %d",
			    tok->text, p->quota_seen[part]);
			return -1;
		}
		if (parse_part(p, part, tok->text) == -1)
			return -1;
		p->quota_seen[part] = p->line;
		n++;
	}
	if (n == 0) {
		cf_expected(p, NULL, "storage, messages, table or over");
		return -1;
	}
	p->conf->quota = 1;
	return 0;
}

static int
parse_part(struct parser *p, int part, const char *what)
{
	struct maild_conf	*c = p->conf;
	struct token		*tok;
	const char		*s;
	char			 why[160];

	switch (part) {
	case QS_STORAGE:
		if (cf_expect_string(p, "a size or none", &s) == -1)
			return -1;
		if (quota_parse_size(s, &c->quota_storage, why,
		    sizeof(why)) == -1) {
			cf_perr(p, "quota %s %s", what, why);
			return -1;
		}
		return 0;
	case QS_MESSAGES:
		if (cf_expect_string(p, "a number or none", &s) == -1)
			return -1;
		if (quota_parse_count(s, &c->quota_messages, why,
		    sizeof(why)) == -1) {
			cf_perr(p, "quota %s %s", what, why);
			return -1;
		}
		return 0;
	case QS_TABLE:
		if (cf_expect_table(p, "<table>", &c->quota_table) == -1)
			return -1;
		c->quota_table->flags |= T_QUOTA;
		c->quota_table->check = quota_table_check;
		return 0;
	default:
		tok = cf_next(p);
		if (cf_is_word(tok, "temporary"))
			c->quota_over = QUOTA_OVER_TEMP;
		else if (cf_is_word(tok, "permanent"))
			c->quota_over = QUOTA_OVER_PERM;
		else {
			cf_expected(p, tok, "temporary or permanent");
			return -1;
		}
		return 0;
	}
}

/* Once the file is read: a table of secrets is no quota table. */
void
cf_quota_finish(struct parser *p)
{
	const struct table	*t = p->conf->quota_table;

	if (t != NULL && (t->flags & (T_SECRET | T_RELAY)))
		cf_perr_line(p, p->quota_seen[QS_TABLE], "table <%s> holds "
		    "secrets: it cannot be the quota table", t->name);
}

void
cf_quota_dump(const struct maild_conf *c, FILE *fp)
{
	if (!c->quota)
		return;
	fprintf(fp, "quota storage ");
	if (c->quota_storage == 0)
		fprintf(fp, "none");
	else
		fprintf(fp, "%llu", (unsigned long long)c->quota_storage);
	fprintf(fp, " messages ");
	if (c->quota_messages == 0)
		fprintf(fp, "none");
	else
		fprintf(fp, "%llu", (unsigned long long)c->quota_messages);
	if (c->quota_table != NULL)
		fprintf(fp, " table <%s>", c->quota_table->name);
	fprintf(fp, " over %s\n", c->quota_over == QUOTA_OVER_PERM ?
	    "permanent" : "temporary");
}
