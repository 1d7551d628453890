#!/usr/bin/env python3
# Man pages that cannot rot: mandoc -Tlint finds nothing in man/*.[58];
# every keyword the parser accepts is defined in mail.conf(5), and every
# keyword mail.conf(5) defines is one the parser accepts; every global
# setting has its own .It line; every configuration in its EXAMPLES
# passes "maild -n", with the table files shown beside it, certificates
# from make_cert and DKIM keys made by the "mailctl dkim keygen" commands
# the page shows.  maild is not started.
#
# The keywords come from "maild -K", which prints the parser's own
# tables (statements, listen options, port names, URL schemes, maildir
# variables, and the settings table of src/lib/config_settings.c), and
# from the words the grammar's code in src/lib/config*.c compares tokens
# with.
#
# Markup convention checked here (and stated at the top of mail.conf.5):
# statements and listen options are .Ic on an .It line; the other words
# of the grammar are .Ic or .Cm on an .It line; fixed values (port
# names, URL schemes, "file:") are .Cm on an .It line; each literal
# display in EXAMPLES starts with a comment naming its file.
import glob
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

CONFIG_SRC = os.path.join(t.REPO, "src", "lib", "config*.c")
PAGE = os.path.join(t.REPO, "man", "mail.conf.5")
MAILCTL = os.path.join(t.REPO, "mailctl")

# The kinds of keyword "maild -K" prints, strongest first (a word of
# several kinds is checked as the first):
#   statement: .Ic on an .It line (the first word of a setting too)
#   option:    the same, for "listen on" options
#   value:     .Cm on an .It line
#   variable:  written as %{...} in the page
#   word:      .Ic or .Cm on an .It line (the other words of a setting,
#              and the words the grammar's code compares tokens with)
KINDS = ["statement", "option", "value", "variable", "word"]
# The arrays of strings in src/lib/config*.c whose words "maild -K"
# prints: a new keyword table must be printed there too.
KEYWORD_ARRAYS = {"statements", "listen_options", "port_names", "schemes",
                  "vars", "settings"}

# mdoc macros that may appear on .It lines of mail.conf.5.
MACROS = set("Ar Bc Bo Cm Dq Em Fl Ic Li Nm No Ns Oc Oo Op Pa Pc Po Pq Ql "
             "Sm Sq Sx Xc Xo Xr".split())
PUNCT = set("| , { } ( ) [ ] . ; :".split())


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ------------------------------------------------------------ the parser

def maild_keywords():
    """([(kind, word)], {setting: description}) from "maild -K"."""
    r = subprocess.run([t.maild_path(), "-K"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                       timeout=60, universal_newlines=True)
    words, settings = [], {}
    for line in r.stdout.splitlines():
        f = line.split("\t")
        if f[0] == "setting" and len(f) == 3:
            settings[f[1]] = f[2]
            first, *rest = f[1].split()
            words.append(("statement", first))
            words += [("word", w) for w in rest]
        elif f[0] in KINDS and len(f) == 2:
            words.append((f[0], f[1]))
        else:
            words.append(("bad line", line))
    return words, settings


def config_keywords(src, words):
    """{keyword: kind} of everything the parser accepts: the words of
    "maild -K" and those its code compares tokens with; and the names
    of arrays of strings in src that "maild -K" does not print."""
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    unknown = []
    for m in re.finditer(r"(\w+)\[\]\s*=\s*\{((?:(?!\};).)*)\};", src,
                         re.S):
        if re.search(r'"', m.group(2)) and m.group(1) not in KEYWORD_ARRAYS:
            unknown.append(m.group(1))
    # Words compared with the next token: cf_kw_accept(p, "x"),
    # cf_is_word(tok, "x").
    for w in re.findall(r'\b(?:cf_)?(?:kw_accept|is_word)\s*\([^,()]+,'
                        r'\s*"([^"]+)"', src):
        words.append(("word", w))
    # Prefixes: strncmp(s, "file:", 5).
    for w in re.findall(r'\bstrncmp\s*\(\s*\w+\s*,\s*"([^"]+)"', src):
        words.append(("value", w))
    # Literal arguments: strcmp(addr, "*"), strcmp(addr, "localhost").
    for w in re.findall(r'\bstrcmp\s*\(\s*\w+\s*,\s*"([^"]+)"\s*\)', src):
        words.append(("literal", w))
    rank = KINDS + ["literal"]
    kws = {}
    for kind, w in words:
        if kind not in rank:
            kws[w] = kind
        elif w not in kws or rank.index(kind) < rank.index(kws[w]):
            kws[w] = kind
    return kws, unknown


# ------------------------------------------------------------ mail.conf.5

def mdoc_lines(src):
    """(section, line) of the page, roff continuation lines joined."""
    out, section, cur = [], "", ""
    for line in src.split("\n"):
        if line.endswith("\\") and not line.endswith("\\\\"):
            cur += line[:-1]
            continue
        line, cur = cur + line, ""
        if line.startswith(".Sh "):
            section = line[4:].strip().strip('"')
        out.append((section, line))
    return out


def mdoc_args(line):
    """Arguments of a macro line, quotes honoured, \\& dropped."""
    return [a.replace("\\&", "").strip('"')
            for a in re.findall(r'"[^"]*"|\S+', line)[1:]]


def defined_terms(src, sections):
    """{(macro, word)} of Ic/Cm words on the .It lines of sections."""
    terms = set()
    for section, line in mdoc_lines(src):
        if section not in sections or not line.startswith(".It "):
            continue
        macro = None
        for a in mdoc_args(line):
            if a in MACROS:
                macro = a
            elif macro in ("Ic", "Cm") and a not in PUNCT:
                terms.add((macro, a))
    return terms


def it_keywords(src, sections):
    """[[word, ...]] of the .It lines of sections: the words after
    their first Ic, up to the next macro."""
    out = []
    for section, line in mdoc_lines(src):
        if section not in sections or not line.startswith(".It "):
            continue
        args = mdoc_args(line)
        if "Ic" not in args:
            continue
        words = []
        for a in args[args.index("Ic") + 1:]:
            if a in MACROS:
                break
            words.append(a)
        out.append(words)
    return out


def reference_sections(src):
    """Sections describing the grammar: those before EXAMPLES."""
    out = []
    for section, line in mdoc_lines(src):
        if line.startswith(".Sh "):
            if section == "EXAMPLES":
                break
            out.append(section)
    return out


ROFF_ESCAPES = {"\\e": "\\", "\\&": "", "\\(dq": '"', "\\-": "-"}


def unroff(text):
    """Text of a literal display; None if it holds another escape."""
    rest = re.sub(r"\\(e|&|\(dq|-)", "", text)
    if "\\" in rest:
        return None
    return re.sub(r"\\(e|&|\(dq|-)", lambda m: ROFF_ESCAPES[m.group(0)],
                  text)


def example_blocks(src):
    """[(path, text)] of the literal displays of EXAMPLES, in order,
    path from their first line "# /path ..." (None without one)."""
    m = re.search(r"^\.Sh EXAMPLES\n(.*?)(?=^\.Sh )", src, re.S | re.M)
    if not m:
        return []
    blocks = []
    for b in re.findall(r"^\.Bd -literal[^\n]*\n(.*?)^\.Ed$", m.group(1),
                        re.S | re.M):
        text = unroff(b)
        first = re.match(r"# (/\S+)", text or "")
        blocks.append((first.group(1) if first else None, text))
    return blocks


def keygen_commands(src):
    """Argument lists of the "mailctl dkim keygen" commands in EXAMPLES."""
    m = re.search(r"^\.Sh EXAMPLES\n(.*?)(?=^\.Sh )", src, re.S | re.M)
    return [c.split() for c in re.findall(
        r"^\.Dl # mailctl dkim keygen (.*)$", m.group(1) if m else "",
        re.M)]


# ------------------------------------------------------------ examples

def statements(text):
    """Token lists of the statements of a configuration text, with the
    line number where each starts."""
    out, cur, start = [], "", 0
    for n, line in enumerate(text.split("\n"), 1):
        if not cur:
            start = n
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        line, cur = cur + line, ""
        if line.strip().startswith("#") or not line.strip():
            continue
        toks = [x.strip('"') for x in re.findall(r'"[^"]*"|[^\s"]+', line)]
        out.append((start, toks))
    return out


def relocate(text, root):
    """Every absolute path of the configuration moved under root."""
    def tok(m):
        s = m.group(0)
        q = '"' if s.startswith('"') else ""
        inner = s.strip('"')
        if inner.startswith("/"):
            return q + root + inner + q
        if inner.startswith("file:/"):
            return q + "file:" + root + inner[5:] + q
        return s

    lines = []
    for line in text.split("\n"):
        if line.strip().startswith("#"):
            lines.append(line)
        else:
            lines.append(re.sub(r'"[^"]*"|[^\s"]+', tok, line))
    return "\n".join(lines)


def write(path, text, mode):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def maild_n(conf, *flags):
    r = subprocess.run([t.maild_path(), "-n"] + list(flags) + ["-f", conf],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=60, cwd=t.REPO,
                       universal_newlines=True)
    return r.returncode, r.stdout


class Fixtures:
    """The files one example names, made under root."""

    def __init__(self, tmp, name, text, files, keygens):
        self.dir = os.path.join(tmp, name)
        self.root = os.path.join(self.dir, "root")
        os.makedirs(self.root)
        self.text = relocate(text, self.root)
        self.files = files
        self.keygens = keygens
        self.tables = {}
        self.conf = os.path.join(self.dir, "mail.conf")
        self.cert = None

    def pem(self):
        if self.cert is None:
            self.cert = t.make_cert(self.dir, "rsa", cn="mail.example.jp")
        return self.cert

    def real(self, path):
        return path[len(self.root):] if path.startswith(self.root) else path

    def make(self):
        """Write every file; returns the list of problems found."""
        problems = []
        for _, toks in statements(self.text):
            kw = toks[0]
            if kw == "pki":
                for i in range(2, len(toks) - 1, 2):
                    src = self.pem()[0 if toks[i] == "cert" else 1]
                    shutil.copyfile(src, self.placed(toks[i + 1]))
                    os.chmod(toks[i + 1], 0o644 if toks[i] == "cert"
                             else 0o600)
            elif kw == "ca":
                shutil.copyfile(self.pem()[0], self.placed(toks[1]))
            elif kw == "table":
                path = toks[2][5:] if toks[2].startswith("file:") \
                    else toks[2]
                text = self.files.get(self.real(path))
                if text is None:
                    problems.append("table %s: no display of %s"
                                    % (toks[1], self.real(path)))
                    text = ""
                self.tables[toks[1]] = path
                write(path, text, 0o600)
            elif kw == "dkim":
                problems += self.dkim_key(toks[1], toks[3], toks[5])
        write(self.conf, self.text, 0o644)
        return problems

    def placed(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def dkim_key(self, domain, sel, path):
        """Make the key with the keygen command the page shows for it."""
        for args in self.keygens:
            if args[-1] != domain or sel != (args[args.index("-s") + 1]
                                             if "-s" in args else "maild"):
                continue
            if "-o" not in args and self.real(path) != \
                    "/etc/mail/dkim/%s.%s.key" % (domain, sel):
                return ["dkim %s %s: %s is not where the shown command "
                        "writes the key" % (domain, sel, self.real(path))]
            opts = [a for i, a in enumerate(args[:-1])
                    if a != "-o" and (i == 0 or args[i - 1] != "-o")]
            self.placed(path)
            r = subprocess.run([MAILCTL, "dkim", "keygen", "-o", path] +
                               opts + [domain], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=120,
                               universal_newlines=True)
            if r.returncode != 0:
                return ["mailctl dkim keygen %s: %s" % (" ".join(args),
                                                         r.stdout)]
            return []
        return ["dkim %s selector %s: no mailctl dkim keygen command shown"
                % (domain, sel)]


# ------------------------------------------------------------ the tests

def test_lint():
    pages = sorted(glob.glob(os.path.join(t.REPO, "man", "*.[58]")))
    t.ok(len(pages) >= 3, "man/*.[58]: %d pages" % len(pages))
    if not t.have("mandoc"):
        t.skip("mandoc is not installed", len(pages))
        return
    for p in pages:
        r = subprocess.run(["mandoc", "-Tlint", "-Wwarning", p],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=60)
        if not t.ok(r.returncode == 0 and r.stdout == "",
                    "mandoc -Tlint -Wwarning %s: nothing to say"
                    % os.path.basename(p)):
            t.diag(r.stdout)


def config_sources():
    return "\n".join(read(f) for f in sorted(glob.glob(CONFIG_SRC)))


def test_keywords(page):
    words, settings = maild_keywords()
    bad = [w for k, w in words if k == "bad line"]
    if not t.is_(bad, [], "maild -K: every line is KIND<tab>WORD or "
                 "setting<tab>WORDS<tab>DESCRIPTION"):
        t.diag("\n".join(bad))
    kws, unknown = config_keywords(config_sources(), words)
    if not t.is_(unknown, [], "every array of strings in src/lib/config*.c "
                 "is a keyword table maild -K prints (KEYWORD_ARRAYS)"):
        t.diag("unknown arrays of strings: %s" % ", ".join(unknown))
    kinds = {}
    for w, k in kws.items():
        kinds.setdefault(k, []).append(w)
    t.ok(len(kinds.get("statement", [])) >= 10,
         "maild -K: statements and settings (%d)"
         % len(kinds.get("statement", [])))
    t.ok(len(kinds.get("option", [])) >= 10,
         "maild -K: listen options (%d)" % len(kinds.get("option", [])))
    t.ok(len(kinds.get("word", [])) >= 20,
         "maild -K and cf_kw_accept/cf_is_word: words found (%d)"
         % len(kinds.get("word", [])))
    t.ok(len(settings) >= 15 and all(settings.values()),
         "maild -K: %d settings, each with a description" % len(settings))
    for w in ("listen", "tls-require", "max-per-user", "submission",
              "smtp+tls://", "file:", "dest.user", "retry-remote"):
        t.ok(w in kws, "keyword %r is found" % w)
    t.ok("relay-port" not in kws, "relay-port is not a setting")

    sections = reference_sections(page)
    terms = defined_terms(page, sections)
    t.ok(("Ic", "frobnicate") not in terms and len(terms) >= 50,
         "mail.conf.5: %d defined terms, none made up" % len(terms))
    missing = []
    for w, kind in sorted(kws.items()):
        if kind in ("statement", "option"):
            good = ("Ic", w) in terms
        elif kind == "word":
            good = ("Ic", w) in terms or ("Cm", w) in terms
        elif kind == "value":
            good = ("Cm", w) in terms
        elif kind == "variable":
            good = "%%{%s}" % w in page
        else:
            good = re.search(r"(^|\s)%s(\s|$)" % re.escape(w), page,
                             re.M) is not None
        if not good:
            missing.append("%s (%s)" % (w, kind))
    if not t.is_(missing, [], "mail.conf.5 defines all %d keywords of "
                 "the parser" % len(kws)):
        t.diag("statements, options: .It Ic WORD; other words: .It Ic or "
               "Cm; values: .It Cm WORD; variables: %{NAME}")
    stray = sorted(w for _, w in terms if w not in kws)
    t.is_(stray, [], "every keyword mail.conf.5 defines is accepted by "
          "the parser")
    items = it_keywords(page, sections)
    undocumented = sorted(k for k in settings
                          if not any(i[:len(k.split())] == k.split()
                                     for i in items))
    if not t.is_(undocumented, [], "every setting of maild -K has an .It "
                 "line of its own in mail.conf.5"):
        t.diag("write it as .It Ic WORD WORD ... Ar value")


def test_examples(page, tmp):
    blocks = example_blocks(page)
    t.ok(len(blocks) >= 4, "EXAMPLES: %d literal displays" % len(blocks))
    t.ok(all(text is not None for _, text in blocks),
         "EXAMPLES displays use only \\e, \\&, \\(dq and \\- escapes")
    t.ok(all(path is not None for path, _ in blocks),
         "every EXAMPLES display starts with '# /path' naming its file")
    configs = [text for path, text in blocks
               if path and path.endswith("/mail.conf")]
    files = dict((path, text) for path, text in blocks
                 if path and not path.endswith("/mail.conf"))
    t.is_(len(configs), 2, "two example configurations (seed, smarthost)")
    keygens = keygen_commands(page)
    t.ok(len(keygens) >= 2, "EXAMPLES shows the DKIM keygen commands")

    fixtures = []
    for i, text in enumerate(configs):
        f = Fixtures(tmp, "example%d" % (i + 1), text, files, keygens)
        t.is_(f.make(), [], "example %d: every file it names is shown or "
              "made" % (i + 1))
        rc, out = maild_n(f.conf)
        if t.ok(rc == 0 and "configuration OK" in out,
                "example %d: maild -n accepts it" % (i + 1)):
            fixtures.append(f)
        else:
            t.diag(out)
            t.diag(f.text)
            fixtures.append(None)
    # What each example must say: only for those that parse.
    for f, check in zip(fixtures, (test_seed, test_smarthost)):
        if f is not None:
            t.section(check, f)
        else:
            t.skip("%s: the example does not parse" % check.__name__)


def test_seed(f):
    """The first example is the seed setup (seed-setup.md) in maild."""
    rc, out = maild_n(f.conf, "-v")
    t.is_(rc, 0, "seed example: maild -nv exits 0")
    ports = sorted(set(int(p) for p in re.findall(
        r"^listen on \S+ port (\d+)", out, re.M)))
    t.is_(ports, [25, 465, 587, 993], "seed example: listens on 25, 465, "
          "587 and 993")
    t.like(out, r"(?m)^listen on \S+ port 25 tls pki \"example\.jp\" .*"
           r"check \{ rdns, fcrdns \}$", "seed example: 25 has STARTTLS and "
           "checks rDNS and FCrDNS")
    t.like(out, r'(?m)^smtp rdns-message "no rDNS\."$',
           "seed example: the seed's rDNS message")
    t.like(out, r"(?m)^listen on \S+ port 587 tls-require .*auth <passwd> "
           r"mask-src$", "seed example: 587 needs STARTTLS and auth")
    t.like(out, r"(?m)^listen on \S+ port 465 smtps .*auth <passwd>",
           "seed example: 465 is smtps with auth")
    t.like(out, r"(?m)^listen on \S+ port 993 imaps .*auth <passwd>",
           "seed example: 993 is imaps with auth")
    t.is_(len(re.findall(r"(?m)^dkim \"example\.jp\"", out)), 2,
          "seed example: two DKIM selectors")
    rules = re.findall(r'(?m)^match (.*) action "(\S+)"$', out)
    t.is_(rules, [('from any for domain "example.jp"', "domain"),
                  ("from local for local", "local_mail"),
                  ("from local for any", "outbound"),
                  ("auth from any for any", "outbound")],
          "seed example: the seed's match rules, in its order")

    # Bad input: the seed author's warning, enforced.
    lines = f.text.split("\n")
    n = [i for i, x in enumerate(lines) if x.startswith("match auth from")]
    if not t.is_(len(n), 1, "seed example: one match auth rule"):
        return
    bad = list(lines)
    bad[n[0]] = bad[n[0]].replace("match auth from", "match from")
    path = os.path.join(f.dir, "open-relay.conf")
    write(path, "\n".join(bad), 0o644)
    rc, out = maild_n(path)
    t.is_(rc, 1, "without auth on the last rule: maild -n exits 1")
    t.like(out, r"open-relay\.conf:%d: this rule would make an open relay"
           % (n[0] + 1), "... and names the open relay at its line")

    # The page says passwd is mode 600: a world-readable one is refused.
    os.chmod(f.tables["passwd"], 0o644)
    rc, out = maild_n(f.conf)
    t.is_(rc, 1, "passwd readable by others: maild -n exits 1")
    t.like(out, r"passwd: holds secrets but is readable by others",
           "... and says why")
    os.chmod(f.tables["passwd"], 0o600)


def test_smarthost(f):
    rc, out = maild_n(f.conf, "-v")
    t.is_(rc, 0, "smarthost example: maild -nv exits 0")
    t.like(out, r'(?m)^action "provider" relay tls verify host '
           r'"smtp\+tls://alice@smtp\.example\.net:587" auth <secrets>$',
           "smarthost example: relay through smtp+tls://label@host:587 "
           "with auth")
    st = os.stat(f.tables["secrets"])
    t.is_(stat.S_IMODE(st.st_mode) & 0o077, 0,
          "smarthost example: secrets fixture is private")
    # The label must be in the shown secrets table.
    t.like(read(f.tables["secrets"]), r"(?m)^alice\s+\S+@\S+:\S+$",
           "smarthost example: the secrets display has the label's line")


def main():
    t.ok(os.access(t.maild_path(), os.X_OK) and os.access(MAILCTL, os.X_OK),
         "maild and mailctl are built")
    page = read(PAGE)
    t.section(test_lint)
    t.section(test_keywords, page)
    tmp = tempfile.mkdtemp(prefix="maild-44-manpages-", dir="/tmp")
    try:
        os.chmod(tmp, 0o755)
        t.section(test_examples, page, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


t.run(main)
