#!/usr/bin/env python3
# maild -n: broken configurations are reported as "file:line: message"
# with exit status 1, a good one says "configuration OK" with status 0;
# a key file that is not 0600 or a group-writable table stops the daemon.
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402


def check(conf, *flags):
    r = subprocess.run([t.maild_path()] + list(flags) + ["-f", conf],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=20, cwd=t.REPO)
    return r.returncode, r.stdout.decode("utf-8", errors="replace")


def start_should_fail(m, what):
    """Start maild -d on m's config; it must exit non-zero by itself."""
    with open(m.log, "ab") as log:
        p = subprocess.Popen(m.command(), cwd=t.REPO, stdout=log,
                             stderr=log, stdin=subprocess.DEVNULL)
        try:
            rc = p.wait(8)
        except subprocess.TimeoutExpired:
            rc = None
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    t.ok(rc is not None and rc != 0,
         "maild refuses to start with %s (status %r)" % (what, rc))
    return m.log_text()


def main():
    m = t.Maild()		# writes cert, tables, mail.conf; not started
    good = open(m.conf).read()
    lines = good.splitlines()

    # -- the good file
    rc, out = check(m.conf, "-n")
    t.is_(rc, 0, "good config: maild -n exits 0")
    t.like(out, r"configuration OK", "good config: says configuration OK")
    rc, out = check(m.conf, "-n", "-v")
    t.is_(rc, 0, "good config: maild -nv exits 0")
    t.like(out, r"configuration OK", "good config -nv: configuration OK")
    t.like(out, r"127\.0\.0\.\d+.*%d|%d.*127\.0\.0\.\d+" % (m.port, m.port),
           "-nv prints the parsed listener")
    t.like(out, r"example\.org", "-nv prints the match rule's domain")

    # -- broken files: (name, index to insert at or replace, line, kind)
    def variant(name, mutate):
        ls = list(lines)
        lineno = mutate(ls)
        path = os.path.join(m.dir, name)
        with open(path, "w") as f:
            f.write("\n".join(ls) + "\n")
        return path, lineno

    def insert_at(idx, text):
        def f(ls):
            ls.insert(idx, text)
            return idx + 1
        return f

    def replace(prefix, text):
        def f(ls):
            for i, line in enumerate(ls):
                if line.startswith(prefix):
                    ls[i] = text
                    return i + 1
            raise AssertionError("no line starting with %r" % prefix)
        return f

    cases = [
        ("bad-keyword.conf", insert_at(2, "frobnicate yes"),
         "unknown keyword"),
        ("bad-action.conf",
         insert_at(len(lines),
                   'match from any for domain "example.com" action "nosuch"'),
         "match with an undefined action"),
        ("bad-pki.conf", replace("listen on", "listen on %s port %d tls "
                                 "pki nosuch" % (m.addr, m.port)),
         "listener with an undefined pki"),
        ("bad-quote.conf", replace("hostname", 'hostname "mx.test'),
         "unterminated string"),
        ("bad-size.conf", replace("smtp max-message-size",
                                  "smtp max-message-size lots"),
         "bad size"),
        ("bad-table.conf", replace("action", 'action "domain" maildir '
                                   '"%s/%%{dest.user}" virtual <nosuch>'
                                   % m.vmail),
         "action with an undefined table"),
        ("bad-port.conf", replace("listen on", "listen on %s port 99999"
                                  % m.addr), "port out of range"),
    ]
    for name, mutate, what in cases:
        path, lineno = variant(name, mutate)
        rc, out = check(path, "-n")
        t.is_(rc, 1, "%s: maild -n exits 1" % what)
        if not t.like(out, r"(^|/)%s:%d: \S" % (name.replace(".", r"\."),
                                               lineno),
                      "%s: reported as %s:%d: message" % (what, name, lineno)):
            t.diag(out)
        t.unlike(out, r"configuration OK", "%s: not OK" % what)

    rc, out = check(os.path.join(m.dir, "does-not-exist.conf"), "-n")
    t.is_(rc, 1, "missing config file: exit 1")

    # -- unsafe modes stop the daemon (not only -n)
    os.chmod(m.key_file, 0o644)
    out = start_should_fail(m, "a 0644 key file")
    t.like(out, r"%s" % os.path.basename(m.key_file),
           "the error names the key file")
    os.chmod(m.key_file, 0o600)

    os.chmod(m.virtuals_file, 0o664)
    out = start_should_fail(m, "a group-writable table file")
    t.like(out, r"virtuals", "the error names the table file")
    os.chmod(m.virtuals_file, 0o644)

    os.chmod(m.virtuals_file, 0o646)
    start_should_fail(m, "an other-writable table file")
    os.chmod(m.virtuals_file, 0o644)

    # -- listeners that pass -n but cannot all listen (on Linux a wildcard
    # and a specific address on one port): the error names file:line.
    port = t.test_port(5)
    for first, second in (("*", m.addr), (m.addr, "*")):
        m.extra = "listen on %s port %d\nlisten on %s port %d" % (
            first, port, second, port)
        m.write_files()
        if not sys.platform.startswith("linux"):
            break
        out = start_should_fail(m, "%s, then %s on one port" % (first,
                                                                 second))
        n = len(m.config_text().splitlines())
        t.like(out, r"mail\.conf:(%d|%d): listen on port %d: Address "
               r"already in use" % (n - 1, n, port),
               "the error names file:line, the port and the reason")
    m.extra = ""
    m.write_files()

    # -- and with the modes fixed it starts and stops
    m.start()
    t.ok(m.running(), "starts with the modes fixed")
    time.sleep(0.2)
    t.ok(m.stop(), "stops cleanly on SIGTERM")


t.run(main)
