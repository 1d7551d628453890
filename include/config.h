/*
 * The configuration: mail.conf parsed into struct maild_conf (config.c
 * and the config_*.c files beside it, which share config_priv.h).
 */
#ifndef MAILD_CONFIG_H
#define MAILD_CONFIG_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "dnsbl.h"
#include "http_url.h"
#include "maild.h"
#include "table.h"

struct pki {
	TAILQ_ENTRY(pki)	 entry;
	char			 name[NAME_MAX_CONF];
	char			 cert_file[PATH_MAX];
	char			 key_file[PATH_MAX];
	char			*cert;		/* PEM, read by the parent */
	size_t			 cert_len;
	char			*key;		/* PEM, wiped when freed */
	size_t			 key_len;
};
TAILQ_HEAD(pkilist, pki);

/* dkim DOMAIN selector NAME key FILE: one signing key. */
struct dkimconf {
	TAILQ_ENTRY(dkimconf)	 entry;
	char			 domain[DOMAIN_MAX + 1];	/* lowercase */
	char			 selector[64];
	char			 key_file[PATH_MAX];
	char			*key;		/* PEM, read by the parent */
	size_t			 key_len;
	int			 line;
};
TAILQ_HEAD(dkimlist, dkimconf);

/* dkim local domain NAME: mail from this machine From NAME is signed. */
struct dkimlocal {
	TAILQ_ENTRY(dkimlocal)	 entry;
	char			 domain[DOMAIN_MAX + 1];	/* lowercase */
};
TAILQ_HEAD(dkimlocallist, dkimlocal);

enum listen_proto { PROTO_SMTP, PROTO_IMAP };

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 port;
	enum listen_proto	 proto;
	int			 flags;
#define L_TLS		0x0001	/* STARTTLS offered */
#define L_TLS_REQUIRE	0x0002	/* STARTTLS before MAIL / LOGIN */
#define L_SMTPS		0x0004	/* implicit TLS (465) */
#define L_IMAPS		0x0008	/* implicit TLS (993) */
#define L_AUTH		0x0010	/* AUTH offered, against authtable */
#define L_MASKSRC	0x0020	/* no client address in Received */
#define L_CHECK_RDNS	0x0040
#define L_CHECK_FCRDNS	0x0080
#define L_ANYSENDER	0x0100	/* AUTH users may use any MAIL FROM */
#define L_FROM_UNSIGNED	0x0200	/* a From not the user's: unsigned, not 550 */
#define L_NO_MSGAUTH	0x0400	/* message-auth no: mail not checked */
#define L_DNSBL		0x0800	/* clients checked against the dnsbl zones */
#define L_NO_FILTER	0x8000	/* filter no: mail not scanned (rspamd) */
	char			 pki[NAME_MAX_CONF];
	char			 hostname[HOST_NAME_MAX + 1];
	char			 authtable[NAME_MAX_CONF];
	char			 ciphers[CIPHERS_MAX];	/* "": default */
	int			 fd;		/* bound socket, parent */
	int			 line;		/* in the config file */
};
TAILQ_HEAD(listenerlist, listener);

enum action_type { A_MAILDIR, A_RELAY };

struct action {
	TAILQ_ENTRY(action)	 entry;
	char			 name[NAME_MAX_CONF];
	enum action_type	 type;
	char			 pattern[PATH_MAX];	/* maildir location */
	struct table		*virtual;	/* virtual <t> */
	struct table		*alias;		/* alias <t> */
	struct table		*userbase;	/* userbase <t> */
	int			 line;
	/* relay [tls verify|tls require] [host URL [auth <t>]] [ciphers] */
	int			 relay_flags;
#define AR_TLS_REQUIRE	0x01	/* tls require: STARTTLS must succeed */
#define AR_TLS_VERIFY	0x02	/* tls verify: and the certificate verify */
#define AR_STARTTLS	0x04	/* host smtp+tls://: STARTTLS required */
#define AR_SMTPS	0x08	/* host smtps://: implicit TLS */
	char			 relay_host[DOMAIN_MAX + 1];	/* "": MX */
	int			 relay_port;
	/* label@ */
	char			 relay_label[LOCALPART_MAX + 1];
	struct table		*relay_auth;	/* auth <t>: label user:pass */
	/* "": the default */
	char			 relay_ciphers[CIPHERS_MAX];
};
TAILQ_HEAD(actionlist, action);

enum rule_from { FROM_ANY, FROM_LOCAL };
enum rule_for { FOR_ANY, FOR_LOCAL, FOR_DOMAIN, FOR_DOMAIN_TABLE };

struct rule {
	TAILQ_ENTRY(rule)	 entry;
	int			 auth;		/* "match auth" */
	enum rule_from		 from;
	enum rule_for		 for_;
	char			 domain[DOMAIN_MAX + 1];	/* lowercase */
	struct table		*domains;
	struct action		*action;
	int			 line;
};
TAILQ_HEAD(rulelist, rule);

struct maild_conf {
	char			 path[PATH_MAX];	/* file it came from */
	char			 hostname[HOST_NAME_MAX + 1];
	char			 spool[PATH_MAX];
	char			 socket[PATH_MAX];	/* control socket */
	char			 user[NAME_MAX_CONF];	/* "_maild" */
	char			 vmail_user[NAME_MAX_CONF];	/* "vmail" */
	/* derived: deliver's root */
	char			 vmail_root[PATH_MAX];
	size_t			 max_msg_size;
	int			 max_rcpt;
	int			 max_line;	/* of DATA, without CRLF */
	int			 max_per_ip;
	int			 imap_max_per_ip;
	int			 imap_max_per_user;
	/* METADATA server entry /shared/admin (RFC 5464), or "" */
	char			 imap_metadata_admin[256];
	int			 smtp_timeout;
	time_t			 queue_ttl;
	time_t			 retry_local;
	time_t			 retry_max;
	time_t			 retry_remote;	/* first relay retry */
	/* MX hosts' port: 25, or MAILD_TEST_RELAY_PORT; not in mail.conf. */
	int			 relay_port;
	/*
	 * Loopback clients in this network count as remote (not "from
	 * local", checked): MAILD_TEST_REMOTE_NET; plen -1: none.
	 */
	struct sockaddr_storage	 test_remote;
	int			 test_remote_plen;
	struct pkilist		 pkis;
	struct dkimlist		 dkims;
	struct dkimlocallist	 dkim_local;
	char			 resolver[64];	/* "" system resolver */
	char			 rdns_msg[128];	/* after "550 5.7.25", or "" */
	char			 fcrdns_msg[128];
	int			 resolver_port;
	/* DNS blocklists and allowlists of clients (dnsbl.h) */
	struct dnsbllist	 dnsbls;
	size_t			 ndnsbl;
	int			 dnsbl_threshold;
	/* Checks of inbound mail (SPF, DKIM, DMARC, ARC) */
	int			 spf_fail_action;	/* AUTH_ACT_* */
	int			 dmarc_enforce;		/* 0 or 1 */
	int			 dmarc_own;		/* 0 or 1 */
	char			 psl_file[PATH_MAX];
	/* rspamd, the content filter: no url, no scanning */
	char			 rspamd_url[HTTP_URL_MAX];
	char			 rspamd_controller[HTTP_URL_MAX];
	char			 rspamd_password[128];
	int			 rspamd_timeout;
	int			 rspamd_on_failure;	/* RSPAMD_FAIL_* */
	size_t			 rspamd_max_size;
	int			 rspamd_auth;		/* 0 or 1 */
	/* Greylisting at RCPT TO (queue_grey.c keeps the state) */
	int			 greylist;		/* 0 or 1 */
	time_t			 greylist_delay;
	time_t			 greylist_expire;
	time_t			 greylist_wl_expire;
	/* Quotas (quota.h): a quota statement keeps every user's usage */
	int			 quota;			/* 0 or 1 */
	uint64_t		 quota_storage;		/* bytes; 0: none */
	uint64_t		 quota_messages;	/* 0: none */
	int			 quota_over;		/* QUOTA_OVER_* */
	struct table		*quota_table;		/* per user, or NULL */
	char			 ca_file[PATH_MAX];	/* "": system CA */
	char			*ca;		/* PEM of ca_file, parent */
	size_t			 ca_len;
	struct tablelist	 tables;
	struct listenerlist	 listeners;
	struct actionlist	 actions;
	struct rulelist		 rules;
};

#define AUTH_ACT_REJECT	0	/* 550 at the end of DATA */
#define AUTH_ACT_JUNK	1	/* delivered to the Junk folder */
#define AUTH_ACT_MARK	2	/* delivered as usual, results in the header */

#define RSPAMD_FAIL_ACCEPT	0	/* rspamd down: accepted unscanned */
#define RSPAMD_FAIL_DEFER	1	/* ... 451, the client retries */

#define CONF_NOFILES	0x01	/* don't read pki files (children, -n tests) */

/*
 * Parse a configuration from memory; name is used in messages.
 * Errors are printed as "name:line: message" with log_warnx().
 * Returns NULL on any error.
 */
struct maild_conf *config_parse_buf(const char *, const char *, size_t, int);
/* Read the file and parse it; *bufp gets the text (for children). */
struct maild_conf *config_parse_file(const char *, int, char **, size_t *);
void	config_free(struct maild_conf *);
/* Print the configuration in canonical form (maild -nv, golden tests). */
void	config_dump(const struct maild_conf *, FILE *);
/* Every keyword and setting, one a line (maild -K, the man page test). */
void	config_keywords(FILE *);
struct table	*config_table(const struct maild_conf *, const char *);
/* Is mail from this machine From domain signed (dkim local domain)? */
int		 config_dkim_local(const struct maild_conf *, const char *);
struct pki	*config_pki(const struct maild_conf *, const char *);
/* Free every pki key and wipe it (processes that hold no TLS). */
void	config_purge_keys(struct maild_conf *);
/* The cipher string for libtls of a "ciphers" value ("" the default). */
const char *config_ciphers(const char *);

#endif
