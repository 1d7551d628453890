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

#include "maild.h"
#include "passwd.h"

static void	usage(void) __attribute__((__noreturn__));
static int	encrypt(int, char **);
static int	read_password(char *, size_t);

static void
usage(void)
{
	fprintf(stderr, "usage: mailctl [-s socket] reload | show queue\n"
	    "       mailctl encrypt [password]\n");
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

	while ((ch = getopt(argc, argv, "s:")) != -1) {
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
