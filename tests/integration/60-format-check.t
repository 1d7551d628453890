#!/usr/bin/env python3
# scripts/format-check, the KNF checker make check runs first: a file
# laid out as STYLE.md says passes, quietly, whatever its comments and
# strings hold; each rule catches a slip made on purpose, with the
# file:line of the slip and the rule's name, and only that; exit 0, 1
# and 2; -l and -r; every awk at hand says the same; and the tree
# passes.  maild is not started.
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

CHECK = os.path.join(t.REPO, "scripts", "format-check")

# Every rule's construct done right, and what the rules must not mistake
# for a slip: comments and strings with "if(", "f (x)", "a,b" and
# return(, an 80-column line, a continuation of 4 spaces, an include
# inside #if, an attribute before a function's name, a pointer to
# function, a compound literal, a label, a macro with "(" after its name.
GOOD = """\
/*
 * A file in maild's layout: if(x), f (y), a,b and return(0) are fine
 * in a comment.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <event.h>
#include <stdio.h>
#include <string.h>
#ifdef __linux__
#include <bsd/string.h>
#endif

#include "compat.h"
#include "log.h"

#define PAIR_MAX\t(64 - 1)\t/* pairs */
#define PAIR_NAME(p)\t((p)->name)

struct pair {
\tconst char\t*name;
\tint\t\t value;
\tvoid\t\t(*cb)(int, const char *);
};

static const struct pair pairs[] = {
\t{ "one",\t1,\tNULL },
\t{ "twenty",\t20,\tNULL },
};

static int\t pair_find(const char *, int *);
static void\t pair_log(const char *, ...)
\t\t    __attribute__((__format__ (printf, 1, 2)));

static void __attribute__((__format__ (printf, 1, 2)))
pair_log(const char *fmt, ...)
{
\t(void)fmt;
}

/* "a string's { and ( are no code": */
static int
pair_find(const char *name, int *value)
{
\tconst char\t*quoted = "if(x) f (y) a,b return(1) { /* no comment";
\tchar\t\t c = ',';
\tsize_t\t\t i;

\tfor (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
\t\tif (strcmp(pairs[i].name, name) == 0) {
\t\t\t*value = pairs[i].value;
\t\t\treturn 1;
\t\t}
\t}
\tswitch (c) {
\tcase ',':
\t\tbreak;
\tdefault:
\t\tgoto fail;
\t}
\tpair_log("no pair called %s, of the %zu in the table (%s)", name,
\t    sizeof(pairs) / sizeof(pairs[0]), quoted);
\treturn (int)((struct pair){ "x", 0, NULL }).value;
fail:
\treturn -1;
}

int
main(void)
{
\tint\t v;

\tpair_log("an 80-column line: %d %d %d %d %d %d %d %d", 1, 2, 3, 4, 5, 6,
\t    7, 8);
\treturn pair_find("one", &v) == 1 ? 0 : 1;
}
"""

LINES = GOOD.split("\n")


def line_of(text):
    """1-based number of the first line of GOOD that holds text."""
    for i, line in enumerate(LINES):
        if text in line:
            return i + 1
    raise ValueError("no line holds %r" % text)


def change(where, new):
    """GOOD with a line replaced by new (several lines, or none if
    None), and that line's number.  where: the text the line holds, or
    (text, k, count): count lines from the k-th after the one holding
    text."""
    text, k, count = (where, 0, 1) if isinstance(where, str) else where
    n = line_of(text) + k
    lines = LINES[:n - 1] + ([] if new is None else new.split("\n")) + \
        LINES[n - 1 + count:]
    return "\n".join(lines), n


def run(args, env=None, cwd=None):
    r = subprocess.run(["sh", CHECK] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                       universal_newlines=True, timeout=120, env=env,
                       cwd=cwd)
    return r.returncode, r.stdout, r.stderr


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


# One slip per case: (what, rule, the text of GOOD it changes, the
# line put there, the line the finding names relative to the changed
# one, a pattern its message matches).
SLIPS = [
    ("8 spaces for a tab", "indent", "\tfor (i = 0;",
     "        for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {",
     0, r"spaces where a tab goes"),
    ("a space before a tab", "indent", "\t\tbreak;", " \t\tbreak;",
     0, r"spaces where a tab goes"),
    ("8 spaces after tabs", "indent", "\t    7, 8);", "\t        7, 8);",
     0, r"spaces where a tab goes"),
    ("a space at the end", "trailing", "\treturn -1;", "\treturn -1; ",
     0, r"white space at the end"),
    ("a tab at the end", "trailing", "fail:", "fail:\t",
     0, r"white space at the end"),
    ("a CR at the end", "trailing", "fail:", "fail:\r",
     0, r"white space at the end"),
    ("81 columns", "long", "\tpair_log(\"an 80-column",
     "\tpair_log(\"an 81-column line:  %d %d %d %d %d %d %d %d\", 1, 2, 3, "
     "4, 5, 6,", 0, r"^81 columns, over 80$"),
    ("two blank lines", "blank", "/* \"a string's",
     "\n/* \"a string's { and ( are no code\": */", 0,
     r"two blank lines in a row"),
    ("no opening comment", "header", "/*", "#if 0\n#endif\n/*", 0,
     r"opens with a comment"),
    ("<string.h> before <stdio.h>", "include", "#include <stdio.h>",
     "#include <string.h>\n#include <stdio.h>", 1,
     r"^<stdio\.h> after <string\.h>: <\.\.\.> sorted$"),
    ("<sys/types.h> not first", "include", "#include <sys/types.h>",
     "#include <sys/queue.h>\n#include <sys/types.h>", 1,
     r"^<sys/types\.h> after <sys/queue\.h>: <sys/types\.h> first$"),
    ("<sys/...> after the others", "include", "#include <string.h>",
     "#include <string.h>\n#include <sys/stat.h>", 1,
     r"<sys/stat\.h> after <string\.h>: <sys/\.\.\.> before the others"),
    ("<netinet/...> after <errno.h>", "include", "#include <errno.h>",
     "#include <errno.h>\n#include <netinet/tcp.h>", 1,
     r"<netinet/tcp\.h> after <errno\.h>: <net\*/\.\.\.> and <arpa/\.\.\.>"),
    ("a <...> among local headers", "include", "#include \"log.h\"",
     "#include \"log.h\"\n#include <zlib.h>", 1,
     r"^<zlib\.h> after \"log\.h\": <\.\.\.> before \"\.\.\.\"$"),
    ("local headers unsorted", "include", "#include \"compat.h\"",
     "#include \"log.h\"\n#include \"compat.h\"\n#include \"dns.h\"", 1,
     r"^\"compat\.h\" after \"log\.h\": \"\.\.\.\" sorted$"),
    ("the return type on the name's line", "funcdef",
     "pair_find(const char *name, int *value)",
     "static int pair_find(const char *name, int *value)", 0,
     r"return type on a line of its own"),
    ("the name indented", "funcdef",
     "pair_find(const char *name, int *value)",
     "  pair_find(const char *name, int *value)", 0,
     r"return type on a line of its own"),
    ("no return type", "funcdef",
     ("pair_find(const char *name, int *value)", -1, 1), None, 0,
     r"return type on the line before"),
    ("the body's { on the name's line", "funcdef", ("main(void)", 0, 2),
     "main(void) {", 0, r"\{ alone on the line after its parameters"),
    ("if(", "keyword", "\t\tif (strcmp(", "\t\tif(strcmp(pairs[i].name, "
     "name) == 0) {", 0, r"^if takes a space before its \($"),
    ("while(", "keyword", "\tswitch (c) {", "\twhile(c) {", 0,
     r"^while takes a space before its \($"),
    ("return(", "keyword", "\treturn -1;", "\treturn(-1);", 0,
     r"^return takes a space before its \($"),
    ("return-1", "keyword", "\treturn -1;", "\treturn-1;", 0,
     r"^return takes a space before its value$"),
    ("no space after a comma", "comma", "\t    7, 8);", "\t    7,8);", 0,
     r"a space after a comma"),
    ("a space before a comma", "comma", "\t    7, 8);", "\t    7 , 8);", 0,
     r"no space before a comma"),
    ("a space before a call's (", "call", "\t\tif (strcmp(",
     "\t\tif (strcmp (pairs[i].name, name) == 0) {", 0,
     r"^a space between strcmp and its \($"),
    ("sizeof (", "call", "\tfor (i = 0;",
     "\tfor (i = 0; i < sizeof (pairs) / sizeof(pairs[0]); i++) {", 0,
     r"^a space between sizeof and its \($"),
]


def finding_re(path):
    return re.compile(r"^%s:(\d+): ([a-z]+): (.*)$" % re.escape(path))


def findings(path, out):
    fr = finding_re(path)
    return [m.groups() for m in map(fr.match, out.splitlines()) if m]


def tests(tmp):
    good = os.path.join(tmp, "good.c")
    write(good, GOOD)
    rc, out, err = run([good])
    t.is_(rc, 0, "a file in STYLE.md's layout passes: exit 0")
    t.is_(out + err, "", "and format-check says nothing")

    bad = os.path.join(tmp, "bad.c")
    rules = set()
    for what, rule, where, new, delta, msg in SLIPS:
        text, n = change(where, new)
        want = n + delta
        write(bad, text)
        rc, out, err = run([bad])
        got = findings(bad, out)
        t.is_(rc, 1, "%s: exit 1" % what)
        t.is_([(int(g[0]), g[1]) for g in got], [(want, rule)],
              "%s: one finding, %s at line %d" % (what, rule, want))
        if got:
            t.like(got[0][2], msg, "%s: says why" % what)
        t.is_(len(out.splitlines()), len(got),
              "%s: nothing printed but file:line: rule: what" % what)
        rules.add(rule)

    # Two slips in one file, and a good file beside it.
    text, _ = change("\t    7, 8);", "\t    7,8); ")
    write(bad, text)
    rc, out, err = run([good, bad])
    t.is_(rc, 1, "a good and a bad file: exit 1")
    t.is_(sorted(g[1] for g in findings(bad, out)), ["comma", "trailing"],
          "both slips on one line are reported")
    t.unlike(out, re.escape(good), "the good file is not named")

    # A blank line at the end of the file.
    write(bad, GOOD + "\n")
    rc, out, err = run([bad])
    n = len(GOOD.split("\n"))
    t.is_((rc, [(int(g[0]), g[1]) for g in findings(bad, out)]),
          (1, [(n, "blank")]), "a blank line at the end: line %d" % n)

    # Exit 2: a file it cannot read, an unknown option.
    rc, out, err = run([good, os.path.join(tmp, "no-such.c")])
    t.is_(rc, 2, "a file that is not there: exit 2")
    t.like(err, r"no-such\.c: cannot read it", "and it says which")
    rc, out, err = run(["-x"])
    t.is_(rc, 2, "an unknown option: exit 2")
    t.like(err, r"^usage: ", "and the usage")

    # -r names every rule the slips above caught, -l the files.
    rc, out, err = run(["-r"])
    listed = set(re.findall(r"^([a-z]+) ", out, re.M))
    t.is_((rc, sorted(rules - listed)), (0, []),
          "-r lists each rule: %s" % " ".join(sorted(listed)))
    rc, out, err = run(["-l"])
    files = out.split()
    t.ok(rc == 0 and "src/lib/reqwait.c" in files and
         "include/imsg.h" in files and "tests/unit/tap.h" in files and
         "tests/fuzz/fuzz.h" in files and "src/maild/maild.c" in files,
         "-l lists the tracked C sources")
    t.ok(all(f.endswith((".c", ".h")) and
             f.startswith(("src/", "include/", "tests/unit/", "tests/fuzz/"))
             for f in files), "and nothing else")

    awks(tmp, good, bad)

    rc, out, err = run([])
    t.is_(rc, 0, "the tree passes")
    if rc != 0:
        t.diag(out[:4000])


def awks(tmp, good, bad):
    """mawk, original-awk (OpenBSD's awk), busybox awk: the same."""
    text = "\n".join(change(s[2], s[3])[0] for s in SLIPS)
    write(bad, text)
    outs = {}
    for name, cmd in (("mawk", ["mawk"]), ("original-awk", ["original-awk"]),
                      ("busybox awk", ["busybox", "awk"]),
                      ("gawk", ["gawk"])):
        if shutil.which(cmd[0]) is None:
            continue
        if cmd[0] == "busybox" and subprocess.run(
                ["busybox", "awk", "BEGIN { exit 0 }"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL).returncode != 0:
            continue
        # A wrapper called awk, first in PATH (a new file, not a link).
        d = os.path.join(tmp, "awk-" + cmd[0])
        os.mkdir(d)
        write(os.path.join(d, "awk"),
              "#!/bin/sh\nexec %s \"$@\"\n" % " ".join(
                  shutil.which(cmd[0]) if i == 0 else c
                  for i, c in enumerate(cmd)))
        os.chmod(os.path.join(d, "awk"), 0o755)
        env = dict(os.environ, PATH=d + os.pathsep + os.environ["PATH"])
        outs[name] = run([good, bad], env=env)
    if len(outs) < 2:
        t.skip("fewer than two awks", 1)
        return
    first = sorted(outs)[0]
    t.ok(outs[first][0] == 1 and len(outs[first][1].splitlines()) > 20,
         "%s finds the slips" % first)
    for name in sorted(outs)[1:]:
        t.is_(outs[name], outs[first], "%s says what %s says" % (name, first))


def main():
    tmp = tempfile.mkdtemp(prefix="maild-fmt-")
    try:
        tests(tmp)
    finally:
        shutil.rmtree(tmp)


t.run(main)
