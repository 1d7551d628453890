/*
 * Types and module interfaces shared by every maild process and by the
 * unit tests: limits, addresses, configuration, tables, recipient
 * expansion, envelopes, the spool and Maildir delivery.
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
#include "passwd.h"

#define MAILD_VERSION		"0.1"
#define MAILD_CONF		"/etc/mail.conf"
#define MAILD_SPOOL		"/var/spool/maild"
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
#define MAX_EXPAND_DEPTH	10
#define MAX_EXPAND_DEST		100	/* destinations of one RCPT */

/* Lookup results, everywhere: -1 temporary failure, 0 not found, 1 found. */

/* -- addresses (address.c) -- */

struct mailaddr {
	char	user[LOCALPART_MAX + 1];
	char	domain[DOMAIN_MAX + 1];
};

#define ADDR_ALLOW_UTF8		0x01	/* SMTPUTF8: non-ASCII allowed */
#define ADDR_ALLOW_NULL		0x02	/* "<>" accepted (MAIL FROM) */

/*
 * Parse an SMTP path "<user@domain>" (source route ignored) at *sp;
 * on success store it (null path: both fields empty), advance *sp past
 * the closing '>' and return 0; -1 on a syntax error.
 */
int	addr_parse_path(const char **, struct mailaddr *, int);
/* Parse a bare "user@domain"; 0 or -1. */
int	addr_parse(const char *, struct mailaddr *, int);
/* The one address of a From header value ("Name <a@b>"); 0 or -1. */
int	addr_from_header(const char *, struct mailaddr *, int);
int	addr_valid_localpart(const char *, int);
int	addr_valid_domain(const char *, int);
/* "user@domain", or "" for the null address; -1 if it does not fit. */
int	addr_to_text(const struct mailaddr *, char *, size_t);
int	addr_is_null(const struct mailaddr *);
struct sockaddr_storage;
/* 127.0.0.0/8 or ::1: a client (or listener) on this machine. */
int	addr_sa_loopback(const struct sockaddr_storage *);
void	str_lower(char *);
/*
 * 1 if s may be used as one path component: not empty, not "." or "..",
 * no '/', no NUL, no control characters, no leading '.'.
 */
int	path_component_safe(const char *);

/* -- SMTP command parsing (smtp_parse.c) -- */

enum smtp_verb {
	CMD_UNKNOWN = 0, CMD_HELO, CMD_EHLO, CMD_STARTTLS, CMD_AUTH,
	CMD_MAIL, CMD_RCPT, CMD_DATA, CMD_RSET, CMD_NOOP, CMD_QUIT,
	CMD_HELP, CMD_VRFY, CMD_EXPN, CMD_BDAT
};

#define BODY_7BIT	0
#define BODY_8BITMIME	1

struct mail_params {
	size_t	size;		/* SIZE=, 0 if absent */
	int	body;		/* BODY_7BIT or BODY_8BITMIME */
	int	smtputf8;	/* SMTPUTF8 given */
};

/*
 * Split a command line (without CRLF) into its verb and the argument
 * after it (pointer into line, "" if none).  Verbs are case-insensitive.
 */
enum smtp_verb smtp_parse_verb(const char *, const char **);
/*
 * Parse "FROM:<path> params" / "TO:<path> params".  Returns 0, or -1
 * with a full SMTP reply (code, enhanced code, text) in err.
 */
int	smtp_parse_mail(const char *, struct mailaddr *, struct mail_params *,
	    int, char *, size_t);
int	smtp_parse_rcpt(const char *, struct mailaddr *, int, char *, size_t);
/* EHLO/HELO argument: a domain or an address literal; 0 or -1. */
int	smtp_parse_helo(const char *, char *, size_t);

/* -- tables (table.c) -- */

struct tentry;
RB_HEAD(table_tree, tentry);

struct table {
	TAILQ_ENTRY(table)	 entry;
	char			 name[NAME_MAX_CONF];
	char			 path[PATH_MAX];
	int			 flags;
#define T_SECRET	0x01	/* holds password hashes: refuse mode & 004 */
#define T_RELAY		0x02	/* relay credentials: to the relay only */
	int			 loaded;
	/* contents: RB tree of key -> value, owned by table.c */
	struct table_tree	 entries;
	size_t			 count;
	/*
	 * Auth tables in the lookup process: the hash an unknown user's
	 * password is checked against (lookup.c), wiped with the contents.
	 */
	char			 dummy[PASSWD_HASH_MAX];
};
TAILQ_HEAD(tablelist, table);

/*
 * Replace t's contents with the lines of the file open on fd:
 * "key value", "key: value", "key:value"; '#' comments; keys lowercased.
 * Errors as "path:line: message" in err; 0 or -1 (contents unchanged).
 */
int	table_load_fd(struct table *, int, char *, size_t);
int	table_load_buf(struct table *, const char *, size_t, char *, size_t);
/* 1 found (*value set), 0 not found, -1 table not loaded. */
int	table_lookup(const struct table *, const char *, const char **);
void	table_clear(struct table *);
/* Call fn(key, value, arg) for every entry, in no particular order. */
void	table_foreach(const struct table *,
	    void (*)(const char *, const char *, void *), void *);
/* Check an open table file's owner and mode; 0 or -1 with err. */
int	table_check_mode(const struct table *, int, char *, size_t);
/*
 * Open t's file for reading: path_open_trusted(), then
 * table_check_mode().  fd, or -1 with "path: why" in err.
 */
int	table_open(const struct table *, char *, size_t);

/* -- configuration (config.c) -- */

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
	char			 relay_label[LOCALPART_MAX + 1]; /* label@ */
	struct table		*relay_auth;	/* auth <t>: label user:pass */
	char			 relay_ciphers[CIPHERS_MAX]; /* "": default */
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
	int			 smtp_timeout;
	time_t			 queue_ttl;
	time_t			 retry_local;
	time_t			 retry_max;
	time_t			 retry_remote;	/* first relay retry */
	int			 relay_port;	/* tests: MX hosts' port */
	struct pkilist		 pkis;
	struct dkimlist		 dkims;
	struct dkimlocallist	 dkim_local;
	char			 resolver[64];	/* "" system resolver */
	char			 rdns_msg[128];	/* after "550 5.7.25", or "" */
	char			 fcrdns_msg[128];
	int			 resolver_port;
	char			 ca_file[PATH_MAX];	/* "": system CA */
	char			*ca;		/* PEM of ca_file, parent */
	size_t			 ca_len;
	struct tablelist	 tables;
	struct listenerlist	 listeners;
	struct actionlist	 actions;
	struct rulelist		 rules;
};

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
struct table	*config_table(const struct maild_conf *, const char *);
/* Is mail from this machine From domain signed (dkim local domain)? */
int		 config_dkim_local(const struct maild_conf *, const char *);
struct pki	*config_pki(const struct maild_conf *, const char *);
/* Free every pki key and wipe it (processes that hold no TLS). */
void	config_purge_keys(struct maild_conf *);
/* The cipher string for libtls of a "ciphers" value ("" the default). */
const char *config_ciphers(const char *);

/* -- recipient expansion (expand.c) -- */

enum dest_type { DEST_MAILDIR, DEST_RELAY };

struct dest {
	enum dest_type		 type;
	struct mailaddr		 addr;		/* final address (dest.*) */
	char			 path[PATH_MAX];	/* Maildir */
};

#define EXP_FROM_LOCAL	0x01	/* client is loopback / local socket */
#define EXP_AUTH	0x02	/* client is authenticated */

enum exp_result {
	EXP_OK = 0,		/* dests filled */
	EXP_NOTFOUND,		/* 550 5.1.1 */
	EXP_RELAY_DENIED,	/* 550 5.7.1 */
	EXP_TEMPFAIL,		/* 451 4.3.0 */
	EXP_FAIL		/* 550 5.1.1 with err: loop, bad alias */
};

/* The first rule matching rcpt for a client with these flags, or NULL. */
struct rule	*rule_match(const struct maild_conf *, const struct mailaddr *,
		    int);
/* Where a bare "postmaster" goes if not to the host name: or NULL. */
const char	*rule_primary_domain(const struct maild_conf *);
/*
 * Expand rcpt through the rules and the virtual/alias/userbase tables
 * into at most max destinations (deduplicated).  err gets a reason.
 */
enum exp_result	 expand_rcpt(const struct maild_conf *,
		    const struct mailaddr *, int, struct dest *, size_t,
		    size_t *, char *, size_t);
/*
 * Expand a maildir location pattern for addr: %{dest.user},
 * %{dest.domain}, optionally with ":lowercase".  0, or -1 when the
 * result would not fit or a part is not a safe path component.
 */
int	maildir_pattern(const char *, const struct mailaddr *, char *, size_t);

/* -- envelopes (envelope.c) -- */

#define ENVELOPE_VERSION	1
#define DKIM_HDR_MAX		3072	/* signatures of one message */

struct envelope {
	uint64_t		 id;		/* msgid << 32 | random */
	time_t			 created;
	time_t			 lasttry;
	time_t			 nexttry;	/* not stored: scheduler */
	int			 retries;
	int			 flags;
#define EF_8BITMIME	0x01
#define EF_SMTPUTF8	0x02
#define EF_AUTH		0x04
#define EF_LOCAL	0x08	/* from this machine (loopback) */
	char			 helo[HOST_NAME_MAX + 1];
	char			 src[64];	/* client address text */
	struct mailaddr		 sender;
	struct mailaddr		 rcpt;		/* as given in RCPT TO */
	struct dest		 dest;
	char			 errmsg[ERRMSG_MAX];	/* last failure */
	/* DKIM-Signature header lines (CRLF), written before the message */
	char			 dkim[DKIM_HDR_MAX];
};

#define evpid_msgid(id)	((uint32_t)((id) >> 32))

/* Text form, "key: value" lines; returns length or -1 if it won't fit. */
int	envelope_dump(const struct envelope *, char *, size_t);
/* Strict parse; 0, or -1 with a reason in err. */
int	envelope_load(struct envelope *, const char *, size_t, char *, size_t);

/* -- spool layout (spool.c), used by the queue process -- */

/*
 * <spool>/incoming/<msgid>/message   being received
 * <spool>/queue/<msgid>/message      committed body
 * <spool>/queue/<msgid>/<evpid>      one envelope per destination
 * <spool>/corrupt/                   unparsable envelopes
 * All functions take paths relative to the current directory, which
 * is the spool (the queue process is chrooted or chdir'ed there).
 */
int	spool_init(void);		/* create dirs, purge incoming */
/* New message: pick a free msgid, create its file; returns fd or -1. */
int	spool_msg_create(uint32_t *);
void	spool_msg_abort(uint32_t);
/*
 * Commit messages: fsync each body (fds[i]), write every envelope,
 * fsync, rename incoming/<msgid> to queue/<msgid>, fsync queue/ once.
 * evps[i] lists nevp[i] envelopes of msgids[i].  0 or -1 (none done).
 */
int	spool_commit(size_t, const uint32_t *, const int *,
	    struct envelope *const *, const size_t *);
/*
 * The same, per message: status[i] 0 committed, -1 failed (left in
 * incoming/ without envelopes, to be aborted).  0 when all succeeded.
 */
int	spool_commit_status(size_t, const uint32_t *, const int *,
	    struct envelope *const *, const size_t *, int *);
int	spool_env_update(const struct envelope *);
int	spool_env_remove(uint64_t);	/* also the message when last */
int	spool_msg_open(uint32_t);	/* O_RDONLY fd of a committed body */
/* Call cb for every committed envelope (start-up); bad ones moved. */
int	spool_walk(void (*)(struct envelope *, void *), void *);

/* -- helpers (util.c) -- */

/* Milliseconds of CLOCK_MONOTONIC: for deadlines the wall clock moves. */
int64_t	mono_ms(void);
int	write_full(int, const void *, size_t);
char	*read_fd(int, size_t, size_t *);
const char *path_inside(const char *, const char *);
/*
 * The directories above an absolute path (symbolic links followed, and
 * the directories holding them checked too) are owned by root or the
 * running user and not writable by group or others unless sticky.
 * 0, or -1 with "path: why" in err.
 */
int	path_check_dirs(const char *, char *, size_t);
/*
 * Open a table or key file: path_check_dirs(), no symbolic link as the
 * file itself, a regular file.  fd, or -1 with "path: why" in err.
 */
int	path_open_trusted(const char *, char *, size_t);

/* -- Maildir delivery (maildir.c), used by the deliver process -- */

/*
 * Deliver the message open on fd into the Maildir at path (created as
 * needed, Maildir++ layout, mode 0700): Return-Path and Delivered-To
 * are prepended, then the header lines in prepend (DKIM-Signature; NULL
 * or "" for none); tmp/ is written and fsynced and linked into new/.
 * new/ itself is not fsynced, for group commit: the file's path in new/
 * goes to the caller, which calls maildir_sync() once for many
 * deliveries to one Maildir and unlinks the files if that fails.  A
 * non-zero evpid (the queue envelope) goes into the file's name, for
 * maildir_find().  0 ok, -1 temporary failure, -2 permanent; reason in
 * err.
 */
int	maildir_deliver_nosync(const char *, int, const struct mailaddr *,
	    const struct mailaddr *, const char *, uint64_t, char *, size_t,
	    char *, size_t);
/*
 * Whether the file of envelope evpid is in new/ or cur/ of the Maildir
 * at path, whatever its flags: 1 (its path in found), 0 not, -1 error.
 * Leftovers of an interrupted attempt in tmp/ are removed.
 */
int	maildir_find(const char *, uint64_t, char *, size_t, char *, size_t);
int	maildir_sync(const char *, char *, size_t);
/* This host's name as unique Maildir file names carry it. */
void	maildir_hostname(char *, size_t);

#endif
