#!/usr/bin/env python3
# mbsync (isync) against maild's IMAP (issue 3): a full two-way sync of a
# 500-message INBOX (files put in alice's Maildir before her first
# login, some of them \Seen) and of the special-use folders; then a flag
# change on each side, a new message on each side and an expunge on the
# server, and a second sync that carries all of it both ways; counts and
# flags are checked on both ends (mbsync's local Maildir and maild's).
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

N = 500
ALICE = "alice@example.org"


def message(i):
    return ("From: Sender %d <s%d@client.test>\r\nTo: %s\r\n"
            "Subject: bulk message %d\r\nMessage-ID: <bulk.%d@client.test>\r\n"
            "Date: Mon, 5 Jan 2026 10:%02d:00 +0000\r\n\r\n"
            "Bulk body %d.\r\n%s" % (i, i, ALICE, i, i, i % 60, i,
                                    "filler line\r\n" * (i % 7))).encode()


def populate(box):
    """N files: new/ for most, cur/...:2,S for every 10th."""
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(box, sub), exist_ok=True)
    base = int(time.time()) - 86400
    for i in range(1, N + 1):
        data = message(i)
        name = "%d.M%dP%d.client,S=%d" % (base + i, i, os.getpid(), len(data))
        if i % 10 == 0:
            path = os.path.join(box, "cur", name + ":2,S")
        else:
            path = os.path.join(box, "new", name)
        with open(path, "wb") as f:
            f.write(data)


def maildir_state(path):
    """{message-id: flag letters} for a Maildir (mbsync's or maild's)."""
    out = {}
    for sub in ("cur", "new"):
        d = os.path.join(path, sub)
        if not os.path.isdir(d):
            continue
        for f in os.listdir(d):
            with open(os.path.join(d, f), "rb") as fh:
                head = fh.read(2048)
            m = re.search(rb"(?im)^Message-ID:\s*<([^>]+)>", head)
            if not m:
                continue
            flags = f.split(":2,", 1)[1] if ":2," in f else ""
            out[m.group(1).decode()] = "".join(sorted(
                x for x in flags if x.isupper()))
    return out


def mbsyncrc(m, local):
    rc = os.path.join(m.dir, "mbsyncrc")
    with open(rc, "w") as f:
        f.write("""\
IMAPAccount maild
Host {addr}
Port {port}
User {user}
Pass {pw}
SSLType IMAPS
CertificateFile {cert}
Timeout 30

IMAPStore remote
Account maild

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel alice
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
Sync All
""".format(addr=m.addr, port=m.imap_port, user=ALICE,
           pw=t.IMAP_PASSWORDS[ALICE], cert=m.cert_file, local=local))
    os.chmod(rc, 0o600)
    return rc


def run_mbsync(rc, what):
    t0 = time.monotonic()
    try:
        r = subprocess.run(["mbsync", "-c", rc, "-a"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=120, stdin=subprocess.DEVNULL)
        out, rcode = r.stdout.decode(errors="replace"), r.returncode
    except subprocess.TimeoutExpired as e:
        out, rcode = (e.stdout or b"").decode(errors="replace"), "timeout"
    dt = time.monotonic() - t0
    if not t.is_(rcode, 0, "%s: mbsync exits 0 (%.1f s)" % (what, dt)):
        t.diag(out[-3000:])
    return out


def imap_state(m, box="INBOX"):
    """{message-id: flag letters} through IMAP."""
    c = m.imap_login(timeout=60)
    c.select(box)
    r, f = c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    c.logout()
    letters = {"\\SEEN": "S", "\\FLAGGED": "F", "\\ANSWERED": "R",
               "\\DELETED": "T", "\\DRAFT": "D"}
    out = {}
    for d in f.values():
        h = d.get("BODY[HEADER.FIELDS (MESSAGE-ID)]", b"")
        mm = re.search(rb"<([^>]+)>", h)
        if mm:
            out[mm.group(1).decode()] = "".join(sorted(
                letters[x.upper()] for x in d.get("FLAGS", [])
                if x.upper() in letters))
    return out


def main():
    if not t.have("mbsync"):
        t.skip_all("mbsync (isync) not installed")
    m = t.Maild(imap=True)
    box = m.mailbox_dir()
    populate(box)
    t.chown_vmail(box, upto=m.vmail)
    # mbsync checks the name: a certificate for the listener's address.
    t.make_cert(m.dir, "rsa", cn=m.addr, san="DNS:%s,IP:%s,DNS:mx.test"
                % (m.addr, m.addr))
    m.start()
    local = os.path.join(m.dir, "local")
    os.makedirs(local)
    rc = mbsyncrc(m, local)

    # 1. first sync: everything comes down
    run_mbsync(rc, "first sync")
    loc = maildir_state(os.path.join(local, "INBOX"))
    t.is_(len(loc), N, "local INBOX has all %d messages" % N)
    t.is_(sorted(k for k, v in loc.items() if "S" in v),
          sorted("bulk.%d@client.test" % i for i in range(10, N + 1, 10)),
          "the \\Seen ones are seen locally, only those")
    for name in ("Sent", "Drafts", "Trash", "Junk", "Archive"):
        t.ok(os.path.isdir(os.path.join(local, name, "cur")),
             "local folder %s made" % name)
    srv = imap_state(m)
    t.is_(len(srv), N, "maild still has %d" % N)
    t.is_(srv, loc, "flags agree on both sides after the first sync")

    # 2. changes on both sides
    c = m.imap_login(timeout=60)
    c.select("INBOX")
    r = c.command("STORE 1:20 +FLAGS.SILENT (\\Flagged)")
    t.is_(r.status, "OK", "server side: \\Flagged on messages 1:20")
    r, f = c.fetch("1:20", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    flagged = sorted(re.search(rb"<([^>]+)>", list(d.values())[0])
                     .group(1).decode() for d in f.values())
    # expunge the last message on the server
    c.command("STORE %d +FLAGS.SILENT (\\Deleted)" % N)
    r, f = c.fetch(str(N), "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    gone = re.search(rb"<([^>]+)>", list(f[N].values())[0]).group(1).decode()
    c.command("EXPUNGE")
    c.logout()
    t.is_(m.deliver(t.make_message("new-on-server@client.test",
                                   subject="server side new")), 250,
          "server side: a new message delivered over SMTP")
    t.ok(m.maildir("alice").wait(N + 1 - 1 + 1, 10) >= N,
         "delivered")
    # local: mark 30 messages seen (rename), add one message
    cur = os.path.join(local, "INBOX", "cur")
    seen_local = []
    files = [(sub, f) for sub in ("new", "cur")
             for f in sorted(os.listdir(os.path.join(local, "INBOX", sub)))]
    for sub, f in files:
        if len(seen_local) == 30:
            break
        flags = f.split(":2,", 1)[1] if ":2," in f else ""
        if "S" in flags:
            continue
        p = os.path.join(local, "INBOX", sub, f)
        with open(p, "rb") as fh:
            mid = re.search(rb"(?im)^Message-ID:\s*<([^>]+)>",
                            fh.read(2048)).group(1).decode()
        if mid in flagged or mid == gone:
            continue
        # What a mail reader does: to cur/ with S among the flags.
        os.rename(p, os.path.join(cur, f.split(":2,")[0] + ":2," +
                                  "".join(sorted(flags + "S"))))
        seen_local.append(mid)
    t.is_(len(seen_local), 30, "local side: 30 messages marked seen")
    newloc = message(9999).replace(b"bulk.9999", b"new-on-client")
    name = "%d.local.client" % int(time.time())
    with open(os.path.join(local, "INBOX", "new", name), "wb") as fh:
        fh.write(newloc)

    # 3. second sync carries all of it
    run_mbsync(rc, "second sync")
    loc = maildir_state(os.path.join(local, "INBOX"))
    srv = imap_state(m)
    t.is_(len(srv), N + 1, "maild: %d - 1 expunged + 2 new" % N)
    t.is_(len(loc), N + 1, "local: the same count")
    t.is_(sorted(srv), sorted(loc), "the same messages on both sides")
    t.ok("new-on-client@client.test" in srv, "the local message was "
         "uploaded")
    t.ok("new-on-server@client.test" in loc, "the server's new message "
         "came down")
    t.ok(gone not in loc, "the server's expunge removed it locally")
    t.is_(sorted(k for k, v in loc.items() if "F" in v), flagged,
          "server's \\Flagged arrived locally (20)")
    t.ok(all("S" in srv.get(k, "") for k in seen_local),
         "local \\Seen arrived on the server (30)")
    t.is_(srv, loc, "every flag agrees on both sides")
    onsrv = maildir_state(box)
    t.is_(onsrv, srv, "maild's Maildir file names agree with IMAP FLAGS")

    # 4. a third sync changes nothing
    out = run_mbsync(rc, "third sync")
    t.is_(maildir_state(os.path.join(local, "INBOX")), loc,
          "third sync: local unchanged")
    t.is_(imap_state(m), srv, "third sync: server unchanged")
    t.ok(m.running(), "maild still running")
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
