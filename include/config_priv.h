/*
 * What the files of the mail.conf parser share, and nothing else does:
 *
 *	config.c		the public interface: parse a buffer or a
 *				file, free, look up
 *	config_lex.c		logical lines, tokens, macros, errors, and
 *				the helpers that read words and values
 *	config_settings.c	the table of global settings: their parser,
 *				defaults, dump and keywords
 *	config_parse.c		the grammar: statements, pki, dkim,
 *				table, action, match
 *	config_listen.c		listen on: options and addresses
 *	config_dnsbl.c		dnsbl and dnswl: the DNS lists of clients
 *	config_quota.c		quota: mailbox quotas
 *	config_check.c		checks once the file is read, the
 *				certificate and key files
 *	config_dump.c		the canonical form (maild -nv)
 *
 * Functions here carry the cf_ prefix; they are for these files only.
 */
#ifndef MAILD_CONFIG_PRIV_H
#define MAILD_CONFIG_PRIV_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <stdio.h>

#include "config.h"
#include "maild.h"
#include "table.h"

#define CONF_LINE_MAX		8192	/* one logical line */
#define CONF_TOKENS_MAX		256	/* tokens of one statement */
#define CONF_FILE_MAX		(1024 * 1024)
#define CONF_ERRORS_MAX		30	/* then give up */
#define CONF_MACROS_MAX		256
#define CONF_SETTINGS_MAX	64	/* rows of the settings table */

enum toktype {
	TK_WORD, TK_STRING, TK_TABLE, TK_LBRACE, TK_RBRACE, TK_COMMA,
	TK_EQUAL, TK_BANG
};

struct token {
	enum toktype	 type;
	const char	*text;
	int		 macro;		/* came from a $NAME */
};

struct macro {
	TAILQ_ENTRY(macro)	 entry;
	char			 name[NAME_MAX_CONF];
	char			*value;
};

/* Where each pki was first named: its end-of-file errors go there. */
struct pkiline {
	TAILQ_ENTRY(pkiline)	 entry;
	struct pki		*pki;
	int			 line;
};

struct parser {
	const char		*name;
	int			 flags;
	int			 errors;
	int			 line;		/* of the statement */
	struct maild_conf	*conf;
	TAILQ_HEAD(, macro)	 macros;
	size_t			 nmacros;
	TAILQ_HEAD(, pkiline)	 pkilines;
	int			 seen[CONF_SETTINGS_MAX];	/* lines */
	int			 quota_seen[4];	/* config_quota.c: lines */
	char			 text[CONF_LINE_MAX + 1];
	char			 store[2 * CONF_LINE_MAX + 2];
	struct token		 toks[CONF_TOKENS_MAX];
	size_t			 ntok;
	size_t			 pos;
};

/* Options of one "listen on" statement, before addresses are resolved. */
#define O_PORT		0x0001
#define O_FAMILY	0x0002
#define O_TLS		0x0004
#define O_TLS_REQUIRE	0x0008
#define O_SMTPS		0x0010
#define O_IMAPS		0x0020
#define O_IMAP		0x0040
#define O_PKI		0x0080
#define O_HOSTNAME	0x0100
#define O_AUTH		0x0200
#define O_MASKSRC	0x0400
#define O_CHECK		0x0800
#define O_ANYSENDER	0x1000
#define O_FROMMISMATCH	0x2000
#define O_CIPHERS	0x4000
#define O_MSGAUTH	0x8000
#define O_DNSBL		0x10000
#define O_FILTER	0x20000
#define O_ANYTLS	(O_TLS | O_TLS_REQUIRE | O_SMTPS | O_IMAPS)

struct listen_opts {
	struct listener	 l;		/* port, flags, names */
	int		 family;	/* AF_UNSPEC, AF_INET, AF_INET6 */
	unsigned int	 seen;		/* O_* given */
};

/* config_lex.c: errors */
void	 cf_perr(struct parser *, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
void	 cf_perr_line(struct parser *, int, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
void	 cf_expected(struct parser *, const struct token *, const char *);
/* config_lex.c: lines, tokens, macros */
int	 cf_next_line(struct parser *, const char *, size_t, size_t *,
	    int *);
int	 cf_tokenize(struct parser *);
int	 cf_macro_define(struct parser *);
void	 cf_macros_free(struct parser *);
/* config_lex.c: reading the tokens of a statement */
struct token *cf_peek(struct parser *);
struct token *cf_next(struct parser *);
int	 cf_is_word(const struct token *, const char *);
int	 cf_kw_accept(struct parser *, const char *);
int	 cf_expect_string(struct parser *, const char *, const char **);
int	 cf_expect_name(struct parser *, const char *, char *, size_t);
int	 cf_expect_table(struct parser *, const char *, struct table **);
/* config_lex.c: values */
int	 cf_valid_name(const char *);
int	 cf_valid_hostname(const char *);
int	 cf_valid_user(const char *);
int	 cf_check_path(struct parser *, const char *, const char *, char *,
	    size_t);
int	 cf_parse_ull(const char *, unsigned long long *, const char **);

/* config_settings.c */
void	 cf_settings_init(struct maild_conf *);
int	 cf_setting(struct parser *, const char *);
int	 cf_setting_line(const struct parser *, const char *);
void	 cf_settings_dump(const struct maild_conf *, FILE *);
void	 cf_settings_keywords(FILE *);

/* config_parse.c */
void	 cf_statement(struct parser *);
void	 cf_grammar_keywords(FILE *);

/* config_listen.c */
int	 cf_parse_listen(struct parser *);
int	 cf_check_ciphers(struct parser *, const char *, char *, size_t);
void	 cf_listen_keywords(FILE *);

/* config_dnsbl.c */
int	 cf_parse_dnsbl(struct parser *);
void	 cf_dnsbl_dump(const struct maild_conf *, FILE *);

/* config_quota.c */
int	 cf_parse_quota(struct parser *);
void	 cf_quota_finish(struct parser *);
void	 cf_quota_dump(const struct maild_conf *, FILE *);

/* config_check.c */
int	 cf_listen_check(struct parser *, struct listen_opts *);
void	 cf_finish(struct parser *);

/* config_dump.c */
void	 cf_dump_str(FILE *, const char *);
void	 cf_addr_text(const struct sockaddr_storage *, socklen_t, char *,
	    size_t);

#endif
