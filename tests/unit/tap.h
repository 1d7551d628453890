/*
 * Minimal TAP producer for the C unit tests: ok(cond, fmt, ...) and
 * done_testing().  Each test binary prints a plan at the end.
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static void __attribute__((__format__ (printf, 2, 3)))
ok(int cond, const char *fmt, ...)
{
	va_list	 ap;

	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

#define is_str(a, b, name) do {						\
	const char *_a = (a), *_b = (b);				\
	int _c = _a != NULL && _b != NULL && strcmp(_a, _b) == 0;	\
	ok(_c, "%s", name);						\
	if (!_c)							\
		printf("#   got: '%s'\n#   expected: '%s'\n",		\
		    _a ? _a : "(null)", _b ? _b : "(null)");		\
} while (0)

#define is_int(a, b, name) do {						\
	long long _a = (a), _b = (b);					\
	ok(_a == _b, "%s", name);					\
	if (_a != _b)							\
		printf("#   got: %lld\n#   expected: %lld\n", _a, _b);	\
} while (0)

static int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}

#endif
