/*
 * mailctl: talk to a running maild over its control socket, and the
 * commands that need no daemon (encrypt).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <fcntl.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "dkim.h"
#include "maild.h"
#include "passwd.h"

static void	usage(void) __attribute__((__noreturn__));
static int	encrypt(int, char **);
static int	read_password(char *, size_t);
static int	dkim_keygen(int, char **);

static void
usage(void)
{
	fprintf(stderr, "usage: mailctl [-s socket] reload | show queue\n"
	    "       mailctl encrypt [password]\n"
	    "       mailctl dkim keygen [-b bits] [-o file] [-s selector] "
	    "[-t rsa|ed25519] domain\n");
	exit(1);
}

/*
 * A password from the terminal without echo, or one line of standard
 * input when it is not a terminal (scripts).  0 or -1.
 */
static int
read_password(char *buf, size_t len)
{
	struct termios	 t, saved;
	size_t		 n;
	int		 tty = isatty(STDIN_FILENO), r = -1;

	if (tty) {
		fprintf(stderr, "Password: ");
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &saved) == -1)
			return -1;
		t = saved;
		t.c_lflag &= ~ECHO;
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == -1)
			return -1;
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
				return 1;
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
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	dom = argv[optind];
	if ((ed = strcmp(type, "ed25519") == 0) == 0 &&
	    strcmp(type, "rsa") != 0) {
		fprintf(stderr, "mailctl: -t: rsa or ed25519\n");
		return 1;
	}
	if (out == NULL) {
		if (snprintf(path, sizeof(path), "/etc/mail/dkim/%s.%s.key",
		    dom, sel) >= (int)sizeof(path))
			usage();
		out = path;
	}
	if ((ctx = EVP_PKEY_CTX_new_id(ed ? EVP_PKEY_ED25519 : EVP_PKEY_RSA,
	    NULL)) == NULL || EVP_PKEY_keygen_init(ctx) <= 0 ||
	    (!ed && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) <= 0) ||
	    EVP_PKEY_keygen(ctx, &pkey) <= 0) {
		fprintf(stderr, "mailctl: cannot make a %s key\n", type);
		return 1;
	}
	EVP_PKEY_CTX_free(ctx);
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL,
	    NULL) != 1 || (len = BIO_get_mem_data(bio, &pem)) <= 0) {
		fprintf(stderr, "mailctl: cannot write the key\n");
		return 1;
	}
	/* The checks of maild itself: the key must load as maild loads it. */
	if ((k = dkim_key_new(dom, sel, pem, len, err, sizeof(err))) == NULL) {
		fprintf(stderr, "mailctl: %s\n", err);
		return 1;
	}
	if ((fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
	    0600)) == -1) {
		fprintf(stderr, "mailctl: %s: %s\n", out, strerror(errno));
		return 1;
	}
	if (write_full(fd, pem, len) == -1 || fsync(fd) == -1 ||
	    close(fd) == -1) {
		fprintf(stderr, "mailctl: %s: %s\n", out, strerror(errno));
		(void)unlink(out);
		return 1;
	}
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	txt = dkim_key_txt(k);
	dkim_key_free(k);
	printf("# mail.conf: dkim %s selector %s key \"%s\"\n", dom, sel,
	    out);
	printf("%s._domainkey.%s. IN TXT (", sel, dom);
	for (i = 0, n = strlen(txt); i < n; i += 255)
		printf(" \"%.*s\"", (int)(n - i < 255 ? n - i : 255), txt + i);
	printf(" )\n");
	free(txt);
	return 0;
}

/* mailctl encrypt [password]: an Argon2id hash for a passwd table. */
static int
encrypt(int argc, char **argv)
{
	char	 pw[PASSWD_MAX + 2], hash[PASSWD_HASH_MAX];

	if (argc > 2)
		usage();
	if (argc == 2) {
		if (strlcpy(pw, argv[1], sizeof(pw)) > PASSWD_MAX) {
			fprintf(stderr, "mailctl: password too long\n");
			return 1;
		}
	} else if (read_password(pw, sizeof(pw)) == -1 ||
	    strlen(pw) > PASSWD_MAX) {
		fprintf(stderr, "mailctl: cannot read the password\n");
		return 1;
	}
	if (pw[0] == '\0') {
		fprintf(stderr, "mailctl: empty password\n");
		return 1;
	}
	if (passwd_hash_new(pw, strlen(pw), hash, sizeof(hash)) == -1) {
		explicit_bzero(pw, sizeof(pw));
		fprintf(stderr, "mailctl: cannot make the hash\n");
		return 1;
	}
	explicit_bzero(pw, sizeof(pw));
	printf("%s\n", hash);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_un	 sun;
	const char		*path = MAILD_SOCKET;
	char			 req[256], buf[4096];
	ssize_t			 n;
	int			 ch, fd, i;

	while ((ch = getopt(argc, argv, "+s:")) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage();
	if (strcmp(argv[0], "encrypt") == 0)
		return encrypt(argc, argv);
	if (argc >= 2 && strcmp(argv[0], "dkim") == 0 &&
	    strcmp(argv[1], "keygen") == 0)
		return dkim_keygen(argc - 1, argv + 1);
	req[0] = '\0';
	for (i = 0; i < argc; i++) {
		if (i > 0)
			strlcat(req, " ", sizeof(req));
		if (strlcat(req, argv[i], sizeof(req)) >= sizeof(req))
			usage();
	}
	if (strcmp(req, "reload") != 0 && strcmp(req, "show queue") != 0)
		usage();
	strlcat(req, "\n", sizeof(req));

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		fprintf(stderr, "mailctl: socket path too long\n");
		return 1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "mailctl: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		fprintf(stderr, "mailctl: write: %s\n", strerror(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, n, stdout);
	close(fd);
	return n == -1;
}
