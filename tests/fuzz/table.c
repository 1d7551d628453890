/*
 * Table files (table.c): virtual, alias, passwd and relay credential
 * tables as the lookup process loads them at start and on every
 * reload.  The first byte sets T_SECRET (passwd tables); the rest is the
 * file.
 *
 * Properties: after a load every key of the file is found (case
 * insensitively) with its value; a reload that fails leaves the table
 * as it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "maild.h"

static void	 check_keys(const struct table *, const uint8_t *, size_t);

/* Split each line as the format says, and look its key up. */
static void
check_keys(const struct table *t, const uint8_t *data, size_t size)
{
	const uint8_t	*p = data, *end = data + size, *l;
	const char	*s, *v, *found;
	char		*line, *key, *val;
	size_t		 len, k, i;

	while (fuzz_line(&p, end, &l, &len)) {
		line = fuzz_strndup(l, len);
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		len = strlen(s);
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (len == 0 || *s == '#') {
			free(line);
			continue;
		}
		k = strcspn(s, " \t:");
		if (k > len)
			k = len;
		key = fuzz_strndup((const uint8_t *)s, k);
		for (i = k; i < len && (s[i] == ' ' || s[i] == '\t' ||
		    s[i] == ':'); i++)
			;
		val = fuzz_strndup((const uint8_t *)s + i, len - i);
		v = NULL;
		if (table_lookup(t, key, &found) != 1)
			fuzz_fail("key \"%s\" not found", key);
		v = found;
		if (strcmp(v, val) != 0)
			fuzz_fail("key \"%s\": \"%s\", not \"%s\"", key, v,
			    val);
		free(key);
		free(val);
		free(line);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct table	*t;
	char		 err[512];
	const char	*v;
	uint8_t		*bad;
	size_t		 count;

	if (size < 1)
		return 0;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		fuzz_fail("calloc");
	(void)strlcpy(t->name, "fuzz", sizeof(t->name));
	(void)strlcpy(t->path, "/etc/mail/fuzz", sizeof(t->path));
	t->flags = data[0] & 1 ? T_SECRET : 0;
	data++;
	size--;
	err[0] = '\0';
	if (table_load_buf(t, (const char *)data, size, err,
	    sizeof(err)) == -1) {
		FUZZ_ASSERT(err[0] != '\0' && !t->loaded);
		FUZZ_ASSERT(table_lookup(t, "x", &v) == -1);
		goto done;
	}
	FUZZ_ASSERT(t->loaded);
	check_keys(t, data, size);

	/* The same file with a control character added: refused, kept. */
	count = t->count;
	if ((bad = malloc(size + 2)) == NULL)
		fuzz_fail("malloc");
	memcpy(bad, data, size);
	memcpy(bad + size, "\n\001", 2);
	if (table_load_buf(t, (const char *)bad, size + 2, err,
	    sizeof(err)) != -1)
		fuzz_fail("control character accepted");
	FUZZ_ASSERT(t->loaded && t->count == count);
	check_keys(t, data, size);
	free(bad);
 done:
	table_clear(t);
	free(t);
	return 0;
}
