/*
 * mailctl: talk to a running maild over its control socket.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maild.h"

static void	usage(void) __attribute__((__noreturn__));

static void
usage(void)
{
	fprintf(stderr, "usage: mailctl [-s socket] reload | show queue\n");
	exit(1);
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
