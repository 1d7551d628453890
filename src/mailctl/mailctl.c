/*
 * mailctl: talk to a running maild over its control socket, and the
 * commands that need no daemon (encrypt, dkim keygen, dns, check, dmarc,
 * and the table edits, which end with a reload).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "dkim.h"
#include "log.h"
#include "mailctl.h"
#include "passwd.h"
#include "util.h"

static int	encrypt(int, char **);
static int	dkim_keygen(int, char **);
static int	daemon_cmd(int, char **);

const char		*mailctl_conf_path = MAILD_CONF;
static const char	*sock_path;
static struct maild_conf *conf;

void
mailctl_usage(void)
{
	fprintf(stderr,
	    "usage: mailctl [-f file] [-s socket] command [argument ...]\n"
	    "commands:\n"
	    "  reload\n"
	    "  show config | queue | stats\n"
	    "  schedule id | all\n"
	    "  remove id | all\n"
	    "  pause smtp | relay | imap\n"
	    "  resume smtp | relay | imap\n"
	    "  log brief | verbose\n"
	    "  encrypt [-b] [password]\n"
	    "  user add | passwd user@domain [hash]\n"
	    "  user del user@domain | list [domain] | quota user@domain\n"
	    "  alias add alias@domain target ... | del alias@domain | "
	    "list [domain]\n"
	    "  dkim keygen [-b bits] [-o file] [-s selector] "
	    "[-t rsa | ed25519] domain\n"
	    "  dns [check] [-a address] [domain]\n"
	    "  check [-i ip] [-h helo] [-m mailfrom] file\n"
	    "  dmarc [domain]\n");
	exit(MAILCTL_USAGE);
}

struct maild_conf *
mailctl_conf(void)
{
	if (conf == NULL &&
	    (conf = config_parse_file(mailctl_conf_path, CONF_NOFILES, NULL,
	    NULL)) == NULL)
		exit(MAILCTL_FAIL);
	return conf;
}

/*
 * A password from the terminal without echo, or one line of standard
 * input when it is not a terminal (scripts).  0 or -1 (none, too long).
 */
int
mailctl_read_password(const char *prompt, char *buf, size_t len)
{
	struct termios	 t, saved;
	size_t		 n;
	int		 tty = isatty(STDIN_FILENO), r = -1;

	buf[0] = '\0';
	if (tty) {
		if (tcgetattr(STDIN_FILENO, &saved) == -1)
			return -1;
		t = saved;
		t.c_lflag &= ~ECHO;
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == -1)
			return -1;
		/* After the flush, or an answer typed at once is lost. */
		fprintf(stderr, "%s", prompt);
		fflush(stderr);
	}
	if (fgets(buf, len, stdin) != NULL) {
		n = strcspn(buf, "\r\n");
		if (buf[n] != '\0' || feof(stdin))
			r = 0;		/* else: longer than the buffer */
		buf[n] = '\0';
	}
	if (tty) {
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		fprintf(stderr, "\n");
	}
	return r;
}

/*
 * mailctl dkim keygen: a new private key in a file only its owner can
 * read (never over an existing one), then the DNS record to publish,
 * split into strings of at most 255 bytes as TXT records need.
 */
static int
dkim_keygen(int argc, char **argv)
{
	EVP_PKEY_CTX	*ctx;
	EVP_PKEY	*pkey = NULL;
	BIO		*bio;
	struct dkim_key	*k;
	const char	*sel = "maild", *type = "rsa", *out = NULL, *dom, *e;
	char		 path[PATH_MAX], err[256], *pem, *txt;
	long		 bits = 2048, len;
	size_t		 i, n;
	int		 ch, fd, ed;

	getopt_reset();
	while ((ch = getopt(argc, argv, "b:o:s:t:")) != -1) {
		switch (ch) {
		case 'b':
			bits = strtol(optarg, (char **)(uintptr_t)&e, 10);
			if (*e != '\0' || bits < 1024 || bits > 4096) {
				fprintf(stderr, "mailctl: -b: 1024 to 4096\n");
				return MAILCTL_FAIL;
			}
			break;
		case 'o':
			out = optarg;
			break;
		case 's':
			sel = optarg;
			break;
		case 't':
			type = optarg;
			break;
		default:
			mailctl_usage();
		}
	}
	if (argc - optind != 1)
		mailctl_usage();
	dom = argv[optind];
	if ((ed = strcmp(type, "ed25519") == 0) == 0 &&
	    strcmp(type, "rsa") != 0) {
		fprintf(stderr, "mailctl: -t: rsa or ed25519\n");
		return MAILCTL_FAIL;
	}
	if (out == NULL) {
		if (snprintf(path, sizeof(path), "/etc/mail/dkim/%s.%s.key",
		    dom, sel) >= (int)sizeof(path))
			mailctl_usage();
		out = path;
	}
	if ((ctx = EVP_PKEY_CTX_new_id(ed ? EVP_PKEY_ED25519 : EVP_PKEY_RSA,
	    NULL)) == NULL || EVP_PKEY_keygen_init(ctx) <= 0 ||
	    (!ed && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) <= 0) ||
	    EVP_PKEY_keygen(ctx, &pkey) <= 0) {
		fprintf(stderr, "mailctl: cannot make a %s key\n", type);
		return MAILCTL_FAIL;
	}
	EVP_PKEY_CTX_free(ctx);
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL,
	    NULL) != 1 || (len = BIO_get_mem_data(bio, &pem)) <= 0) {
		fprintf(stderr, "mailctl: cannot write the key\n");
		return MAILCTL_FAIL;
	}
	/* The checks of maild itself: the key must load as maild loads it. */
	if ((k = dkim_key_new(dom, sel, pem, len, err, sizeof(err))) == NULL) {
		fprintf(stderr, "mailctl: %s\n", err);
		return MAILCTL_FAIL;
	}
	if ((fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
	    0600)) == -1) {
		fprintf(stderr, "mailctl: %s: %s\n", out, strerror(errno));
		return MAILCTL_FAIL;
	}
	if (write_full(fd, pem, len) == -1 || fsync(fd) == -1 ||
	    close(fd) == -1) {
		fprintf(stderr, "mailctl: %s: %s\n", out, strerror(errno));
		(void)unlink(out);
		return MAILCTL_FAIL;
	}
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	txt = dkim_key_txt(k);
	dkim_key_free(k);
	printf("; mail.conf: dkim %s selector %s key \"%s\"\n", dom, sel,
	    out);
	printf("%s._domainkey.%s. IN TXT (", sel, dom);
	for (i = 0, n = strlen(txt); i < n; i += 255)
		printf(" \"%.*s\"", (int)(n - i < 255 ? n - i : 255), txt + i);
	printf(" )\n");
	free(txt);
	return MAILCTL_OK;
}

/* mailctl encrypt [-b] [password]: an Argon2id (or bcrypt) hash. */
static int
encrypt(int argc, char **argv)
{
	char	 pw[PASSWD_MAX + 2], hash[PASSWD_HASH_MAX];
	int	 ch, bcrypt = 0, r;

	getopt_reset();
	while ((ch = getopt(argc, argv, "b")) != -1) {
		switch (ch) {
		case 'b':
			bcrypt = 1;
			break;
		default:
			mailctl_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		mailctl_usage();
	if (argc == 1) {
		if (strlcpy(pw, argv[0], sizeof(pw)) > PASSWD_MAX) {
			fprintf(stderr, "mailctl: password too long\n");
			return MAILCTL_FAIL;
		}
	} else if (mailctl_read_password("Password: ", pw, sizeof(pw)) == -1 ||
	    strlen(pw) > PASSWD_MAX) {
		fprintf(stderr, "mailctl: cannot read the password\n");
		return MAILCTL_FAIL;
	}
	if (pw[0] == '\0') {
		fprintf(stderr, "mailctl: empty password\n");
		return MAILCTL_FAIL;
	}
	if (bcrypt && strlen(pw) > PASSWD_BCRYPT_MAX) {
		explicit_bzero(pw, sizeof(pw));
		fprintf(stderr, "mailctl: bcrypt reads only %d bytes of a "
		    "password: use Argon2id (no -b)\n", PASSWD_BCRYPT_MAX);
		return MAILCTL_FAIL;
	}
	r = bcrypt ? passwd_bcrypt_new(pw, strlen(pw), hash, sizeof(hash)) :
	    passwd_hash_new(pw, strlen(pw), hash, sizeof(hash));
	explicit_bzero(pw, sizeof(pw));
	if (r == -1) {
		fprintf(stderr, "mailctl: cannot make the hash\n");
		return MAILCTL_FAIL;
	}
	printf("%s\n", hash);
	return MAILCTL_OK;
}

/*
 * One request line to the control socket; the answer is lines of text,
 * the last "ok" or "error: reason".
 */
int
mailctl_request(const char *req, int quiet)
{
	struct sockaddr_un	 sun;
	FILE			*fp;
	char			*line = NULL, *prev = NULL;
	size_t			 size = 0;
	ssize_t			 n;
	int			 fd, r = MAILCTL_FAIL;

	if (sock_path == NULL)
		sock_path = access(mailctl_conf_path, R_OK) == 0 ?
		    mailctl_conf()->socket : MAILD_SOCKET;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, sock_path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		fprintf(stderr, "mailctl: %s: socket path too long\n",
		    sock_path);
		return MAILCTL_FAIL;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1) {
		fprintf(stderr, "mailctl: socket: %s\n", strerror(errno));
		return MAILCTL_FAIL;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "mailctl: %s: %s%s\n", sock_path,
		    strerror(errno), errno == ENOENT || errno == ECONNREFUSED ?
		    " (is maild running?)" : "");
		close(fd);
		return errno == EACCES ? MAILCTL_FAIL : MAILCTL_DOWN;
	}
	if (write_full(fd, req, strlen(req)) == -1 ||
	    write_full(fd, "\n", 1) == -1) {
		fprintf(stderr, "mailctl: %s: %s\n", sock_path,
		    strerror(errno));
		close(fd);
		return MAILCTL_FAIL;
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		close(fd);
		return MAILCTL_FAIL;
	}
	/* Each line is printed once the next shows it is not the last. */
	while ((n = getline(&line, &size, fp)) != -1) {
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (prev != NULL && !quiet)
			printf("%s\n", prev);
		free(prev);
		if ((prev = strdup(line)) == NULL)
			err(MAILCTL_FAIL, "strdup");
	}
	if (prev == NULL)
		fprintf(stderr, "mailctl: no answer from maild\n");
	else if (strcmp(prev, "ok") == 0)
		r = MAILCTL_OK;
	else if (strncmp(prev, "error: ", 7) == 0)
		fprintf(stderr, "mailctl: %s\n", prev + 7);
	else
		fprintf(stderr, "mailctl: answer cut short: %s\n", prev);
	free(prev);
	free(line);
	fclose(fp);
	return r;
}

/*
 * The commands maild carries out: the arguments are checked here, for a
 * usage message, and again by maild.
 */
static int
daemon_cmd(int argc, char **argv)
{
	struct ctl_req	 r;
	char		 req[256], err[128];
	int		 i;

	req[0] = '\0';
	for (i = 0; i < argc; i++) {
		if (i > 0)
			(void)strlcat(req, " ", sizeof(req));
		if (strlcat(req, argv[i], sizeof(req)) >= sizeof(req))
			mailctl_usage();
	}
	switch (ctl_parse(req, &r, err, sizeof(err))) {
	case -1:
		mailctl_usage();
		break;
	case -2:
		fprintf(stderr, "mailctl: %s\n", err);
		return MAILCTL_USAGE;
	}
	return mailctl_request(req, 0);
}

int
main(int argc, char *argv[])
{
	int	 ch;

	log_init(1, 0);
	log_procname("mailctl");
	while ((ch = getopt(argc, argv, "+f:s:")) != -1) {
		switch (ch) {
		case 'f':
			mailctl_conf_path = optarg;
			break;
		case 's':
			sock_path = optarg;
			break;
		default:
			mailctl_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		mailctl_usage();
	if (strcmp(argv[0], "encrypt") == 0)
		return encrypt(argc, argv);
	if (strcmp(argv[0], "dkim") == 0) {
		if (argc < 2 || strcmp(argv[1], "keygen") != 0)
			mailctl_usage();
		return dkim_keygen(argc - 1, argv + 1);
	}
	if (strcmp(argv[0], "dns") == 0)
		return mailctl_dns(argc, argv);
	if (strcmp(argv[0], "user") == 0)
		return mailctl_user(argc, argv);
	if (strcmp(argv[0], "alias") == 0)
		return mailctl_alias(argc, argv);
	if (strcmp(argv[0], "check") == 0)
		return mailctl_check(argc, argv);
	if (strcmp(argv[0], "dmarc") == 0)
		return mailctl_dmarc(argc, argv);
	return daemon_cmd(argc, argv);
}
