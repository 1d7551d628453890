/*
 * mail.conf (config.c): the parser the parent runs at start and on
 * reload, and maild -n, with CONF_NOFILES as the children and -n use it
 * (no certificate or key file is read).  Its warnings go to stderr,
 * which the fuzz scripts close (-close_fd_mask=2).
 *
 * Properties: what parses dumps (config_dump, the maild -nv form) into
 * text that parses again and dumps to the same text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "maild.h"

static char	*dump(const struct maild_conf *, size_t *);

static char *
dump(const struct maild_conf *c, size_t *lenp)
{
	FILE	*fp;
	char	*buf = NULL;

	if ((fp = open_memstream(&buf, lenp)) == NULL)
		fuzz_fail("open_memstream");
	config_dump(c, fp);
	if (fclose(fp) != 0)
		fuzz_fail("fclose");
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct maild_conf	*c, *c2;
	char			*buf, *d1, *d2;
	size_t			 n1, n2;

	/* Exactly the file: ASan sees a read past its end. */
	if ((buf = malloc(size > 0 ? size : 1)) == NULL)
		fuzz_fail("malloc");
	memcpy(buf, data, size);
	c = config_parse_buf("fuzz.conf", buf, size, CONF_NOFILES);
	free(buf);
	if (c == NULL)
		return 0;
	(void)config_table(c, "passwd");
	(void)config_pki(c, "mail");
	d1 = dump(c, &n1);
	if ((c2 = config_parse_buf("dump.conf", d1, n1, CONF_NOFILES)) == NULL)
		fuzz_fail("the dump does not parse:\n%s", d1);
	d2 = dump(c2, &n2);
	if (n1 != n2 || memcmp(d1, d2, n1) != 0)
		fuzz_fail("dump, parse, dump changed the text:\n%s\n---\n%s",
		    d1, d2);
	free(d1);
	free(d2);
	config_free(c2);
	config_free(c);
	return 0;
}
