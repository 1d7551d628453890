#!/usr/bin/env python3
# scripts/format-check and scripts/format on files outside the tree: a
# file laid out as .clang-format says passes; one with a KNF slip (a
# function's brace, an include out of order) fails with file:line of
# each slip; scripts/format rewrites it into the first; a table between
# clang-format off/on comments keeps its columns; without clang-format
# the check fails and says why.  maild is not started; skipped without
# clang-format 14, whose layout the tree follows.
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
FORMAT = os.path.join(t.REPO, "scripts", "format")

GOOD = """\
/*
 * A file in maild's layout.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include "log.h"

#define BUF_MAX 64 /* bytes */

struct pair {
\tconst char *name;
\tint\t    value;
};

static const struct pair pairs[] = {
\t/* clang-format off */
\t{ "one",\t1 },
\t{ "twenty",\t20 },
\t/* clang-format on */
};

static int pair_find(const char *, int *);

static int
pair_find(const char *name, int *value)
{
\tsize_t i;

\tfor (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
\t\tif (strcmp(pairs[i].name, name) == 0) {
\t\t\t*value = pairs[i].value;
\t\t\treturn 1;
\t\t}
\t}
\tlog_warnx("no pair called %s, of the %zu in the table", name,
\t    sizeof(pairs) / sizeof(pairs[0]));
\treturn 0;
}
"""


def clang_format():
    """The clang-format format-check would use, if it is version 14."""
    for c in (os.environ.get("CLANG_FORMAT"), "clang-format-14",
              "clang-format"):
        if c and shutil.which(c):
            out = subprocess.run([c, "--version"], stdout=subprocess.PIPE,
                                 universal_newlines=True).stdout
            if re.search(r"clang-format version 14\.", out):
                return c
            return None
    return None


def run(cmd, env=None):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, universal_newlines=True,
                       timeout=60, env=env)
    return r.returncode, r.stdout, r.stderr


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def read(path):
    with open(path) as f:
        return f.read()


def main():
    if clang_format() is None:
        t.skip_all("no clang-format 14")
    tmp = tempfile.mkdtemp(prefix="maild-fmt-")
    try:
        tests(tmp)
    finally:
        shutil.rmtree(tmp)


def tests(tmp):
    good = os.path.join(tmp, "good.c")
    write(good, GOOD)
    rc, out, err = run(["sh", CHECK, good])
    t.is_(rc, 0, "a file in the layout passes")
    t.is_(out + err, "", "and format-check says nothing")

    # <stdio.h> after <string.h> (lines 8-9), the function's brace on the
    # name's line (line 30), spaces for a tab (line 33).
    bad_text = GOOD.replace("pair_find(const char *name, int *value)\n{",
                            "pair_find(const char *name, int *value) {")
    bad_text = bad_text.replace("#include <stdio.h>\n#include <string.h>",
                                "#include <string.h>\n#include <stdio.h>")
    bad_text = bad_text.replace("\tfor (i = 0;", "        for (i = 0;")
    bad = os.path.join(tmp, "bad.c")
    write(bad, bad_text)
    rc, out, err = run(["sh", CHECK, good, bad])
    t.is_(rc, 1, "a file with KNF slips fails")
    lines = sorted(int(m) for m in re.findall(r"^%s:(\d+): " %
                                              re.escape(bad), out, re.M))
    # (diff may show the swapped includes as one change or two)
    t.ok(set(lines) in ({8, 30, 33}, {8, 9, 30, 33}),
         "file:line of each slip: %s" % lines)
    t.unlike(out, re.escape(good), "the good file is not named")
    t.like(out, r"\n\t-pair_find\(const char \*name, int \*value\) \{\n",
           "the slip is shown")
    t.like(err, r"1 file\(s\) to format: scripts/format",
           "and how to put it right")

    rc, out, err = run(["sh", FORMAT, bad])
    t.is_(rc, 0, "scripts/format rewrites it")
    t.is_(read(bad), GOOD, "into the layout")
    rc, out, err = run(["sh", CHECK, bad])
    t.is_(rc, 0, "which then passes")

    # Between the off/on comments a table keeps its tabs; outside them
    # the same table does not.
    loose = GOOD.replace("\t/* clang-format off */\n", "").replace(
        "\t/* clang-format on */\n", "")
    write(bad, loose)
    rc, out, err = run(["sh", CHECK, bad])
    t.is_(rc, 1, "a table lined up with tabs fails outside off/on")
    t.like(out, r'\t-\t\{ "twenty",\t20 \},', "its line is shown")

    env = dict(os.environ, CLANG_FORMAT=os.path.join(tmp, "no-such"))
    rc, out, err = run(["sh", CHECK, good], env=env)
    t.is_(rc, 2, "without clang-format the check fails")
    t.like(err, r"clang-format not found", "and says why")

    rc, out, err = run(["sh", CHECK, "-l"])
    files = out.split()
    t.ok("src/lib/reqwait.c" in files and "include/imsg.h" in files and
         "tests/unit/tap.h" in files, "-l lists the tracked C sources")
    t.ok(all(f.endswith((".c", ".h")) for f in files), "and nothing else")


t.run(main)
