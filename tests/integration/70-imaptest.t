#!/usr/bin/env python3
# Dovecot's imaptest, the IMAP compliance suite (issue 14): its scripted
# test groups run against maild's IMAPS listener, and none may fail.
#
# imaptest passes a group silently when the server does not advertise
# the capabilities the group's "capabilities:" header names, so this
# test counts the groups that really ran from maild's CAPABILITY and
# reports "run N of M, failed K".  NOT_RUN lists the groups allowed not
# to run, each with the reason; anything else that does not run fails.
#
# scripts/install-deps builds imaptest into /opt/imaptest (from
# tests/tools/imaptest).  With MAILD_TEST_IMAP_PEER=dovecot the same
# run goes against Dovecot (tests/lib/dovecot_peer.py), for comparison.
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

PREFIX = os.environ.get("MAILD_TEST_IMAPTEST", "/opt/imaptest")
IMAPTEST = os.path.join(PREFIX, "bin", "imaptest")
TESTS = os.path.join(PREFIX, "share", "imaptest", "tests")
ALICE = "alice@example.org"

# Groups that may not run, and why.  URLAUTH (RFC 4467) is not planned.
NOT_RUN = {
    "urlauth": "URLAUTH is not implemented",
    "urlauth2": "URLAUTH is not implemented",
    "urlauth-binary": "URLAUTH is not implemented",
}

# Groups waiting for an extension that is not in yet; each leaves this
# list when its capability is advertised (and must pass).  None now.
PENDING = {}

if os.environ.get("MAILD_TEST_IMAP_PEER"):
    PENDING = {}       # the peer is measured against the whole suite


def groups():
    """{name: [capabilities]} of the scripted test groups."""
    out = {}
    for name in sorted(os.listdir(TESTS)):
        path = os.path.join(TESTS, name)
        if name.endswith(".mbox") or not os.path.isfile(path):
            continue
        caps = []
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    break
                k, _, v = line.partition(":")
                if k.strip().lower() == "capabilities":
                    caps = v.split()
        out[name] = caps
    return out


def server_caps(m):
    c = m.imap_login(ALICE)
    try:
        return {x.upper() for x in c.capabilities()}
    finally:
        c.close()


def run_imaptest(m):
    cmd = [IMAPTEST, "host=%s" % m.addr, "port=%d" % m.imap_port,
           "user=%s" % ALICE, "pass=%s" % t.IMAP_PASSWORDS[ALICE],
           "test=%s" % TESTS, "ssl=any-cert"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    return r.returncode, r.stdout + r.stderr


def main():
    if not os.access(IMAPTEST, os.X_OK) and os.uname().sysname != "Linux":
        t.skip_all("no imaptest (scripts/install-deps builds it on Debian)")
    if not os.access(IMAPTEST, os.X_OK) or not os.path.isdir(TESTS):
        t.ok(False, "imaptest is installed in %s (scripts/install-deps)"
             % PREFIX)
        return
    all_groups = groups()
    t.ok(len(all_groups) >= 60, "imaptest has its scripted groups (%d)"
         % len(all_groups))
    with t.Maild(imap=True) as m:
        m.wait_imap()
        caps = server_caps(m)
        run = sorted(g for g, need in all_groups.items()
                     if all(x.upper() in caps for x in need))
        skipped = sorted(set(all_groups) - set(run))
        for g in skipped:
            missing = [x for x in all_groups[g] if x.upper() not in caps]
            t.ok(g in NOT_RUN or g in PENDING, "group %s runs (needs %s)"
                 % (g, " ".join(missing)))
        for g in sorted(PENDING):
            t.ok(g in skipped, "pending group %s is not advertised yet"
                 % g)
        rc, out = run_imaptest(m)
        failed = sorted({x for x in re.findall(r"^\*\*\* Test (\S+) ",
                                               out, re.M)})
        summary = re.search(r"^(\d+) test groups: (\d+) failed", out, re.M)
        if not t.ok(summary is not None, "imaptest printed its summary"):
            t.diag(out[-4000:])
            return
        t.is_(int(summary.group(1)), len(all_groups),
              "imaptest read every group")
        t.is_(int(summary.group(2)), len(failed),
              "every failed group is named in the output")
        for g in failed:
            t.ok(False, "group %s passes" % g)
        # Protocol errors imaptest notices outside a test's expectations
        # ("Keyword used without being in FLAGS", unexpected BAD, ...).
        errors = re.findall(r"^(?:Error|Panic|Fatal): .*$", out, re.M)
        t.is_(errors[:20], [], "imaptest noticed no protocol error")
        t.diag("run %d of %d, failed %d" % (len(run), len(all_groups),
                                             len(failed)))
        if failed:
            t.diag(out[-12000:])
        if not failed:
            t.is_(rc, 0, "imaptest exits 0")
        t.ok(not failed and len(run) == len(all_groups) - len(NOT_RUN) -
             len(PENDING),
             "run %d of %d, failed %d" % (len(run), len(all_groups),
                                          len(failed)))
        t.ok(m.running(), "maild still running after imaptest")


if __name__ == "__main__":
    t.run(main)
