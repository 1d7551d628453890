#!/usr/bin/env python3
# mailctl dkim keygen (issue 5): RSA and Ed25519 keys written with mode
# 0600, never over an existing file, with the mail.conf line and the TXT
# record printed (split into strings of at most 255 bytes); maild signs
# with the keys, and dkimpy verifies the signatures with exactly the
# records mailctl printed.
import os
import re
import stat
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

MAILCTL = os.path.join(t.REPO, "mailctl")
VERIFY = os.path.join(t.REPO, "tests", "unit", "dkim-verify.py")


def mailctl(*args):
    r = subprocess.run([MAILCTL] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=120)
    return r.returncode, r.stdout, r.stderr


def main():
    if subprocess.run(["/usr/bin/python3", "-c", "import dkim"],
                      stderr=subprocess.DEVNULL).returncode != 0:
        t.skip_all("python3-dkim is not installed (scripts/install-deps)")
    m = t.Maild()
    conf, records = [], []
    for typ, sel in (("rsa", "r1"), ("ed25519", "e1")):
        key = os.path.join(m.dir, "%s.key" % sel)
        rc, out, err = mailctl("dkim", "keygen", "-t", typ, "-s", sel,
                               "-o", key, "example.org")
        t.is_(rc, 0, "keygen %s exits 0" % typ)
        st = os.stat(key)
        t.is_(stat.S_IMODE(st.st_mode), 0o600, "%s key mode 0600" % typ)
        line = re.search(r"^; mail\.conf: (dkim .*)$", out, re.M)
        txt = re.search(r"^(\S+)\. IN TXT \((.*)\)$", out, re.M)
        t.ok(line and txt, "%s: mail.conf line and TXT record" % typ)
        if not (line and txt):
            continue
        parts = re.findall(r'"([^"]*)"', txt.group(2))
        t.ok(parts and all(len(p) <= 255 for p in parts),
             "%s: TXT strings of at most 255 bytes (%d)" % (typ,
                                                           len(parts)))
        conf.append(line.group(1))
        records.append("%s %s" % (txt.group(1), "".join(parts)))
        rc, out, err = mailctl("dkim", "keygen", "-t", typ, "-s", sel,
                               "-o", key, "example.org")
        t.ok(rc == 1 and "exists" in err, "%s: an existing file is kept"
             % typ)
    rc, out, err = mailctl("dkim", "keygen", "-t", "dsa", "-o",
                           os.path.join(m.dir, "x"), "example.org")
    t.is_(rc, 1, "-t dsa refused")
    rc, out, err = mailctl("dkim", "keygen", "-b", "512", "-o",
                           os.path.join(m.dir, "x"), "example.org")
    t.is_(rc, 1, "-b 512 refused")
    t.ok(not os.path.exists(os.path.join(m.dir, "x")), "nothing written")

    # (port 25 from this machine: signed for "dkim local" domains)
    m.extra = "\n".join(conf + ['dkim local domain "example.org"'])
    m.write_files()
    m.start()
    c = m.connect()
    c.ehlo()
    c.send_message("alice@example.org", ["bob@example.org"],
                   "From: alice@example.org\r\nSubject: keygen\r\n\r\n"
                   "signed with mailctl's keys\r\n")
    c.quit()
    md = m.maildir("bob")
    t.wait_until(lambda: md.count() >= 1, 5)
    msg = md.messages()[0] if md.messages() else b""
    t.is_(msg.count(b"DKIM-Signature:"), 2, "signed with both keys")
    path = os.path.join(m.dir, "msg.eml")
    rec = os.path.join(m.dir, "records")
    with open(path, "wb") as f:
        f.write(msg)
    with open(rec, "w") as f:
        f.write("\n".join(records) + "\n")
    r = subprocess.run(["/usr/bin/python3", VERIFY, path, rec],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=60)
    if not t.is_(r.returncode, 0, "dkimpy verifies with mailctl's records"):
        t.diag(r.stdout)
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
