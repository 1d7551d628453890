#!/usr/bin/env python3
# Quotas (issue 14, RFC 9208): mail.conf's "quota" with a per-user table;
# usage kept in each Maildir's Maildir++ maildirsize file.  Over SMTP, a
# full mailbox refuses RCPT TO with 452 4.2.2 (552 5.2.2 with "quota
# over permanent"), a message that does not fit is deferred at delivery
# (or bounced, permanent) for that recipient alone and delivered on a
# retry once the user expunged mail over IMAP; the MESSAGE limit as the
# STORAGE one.  Over IMAP: QUOTA, QUOTA=RES-STORAGE, QUOTA=RES-MESSAGE,
# GETQUOTAROOT and GETQUOTA with the values of the files on disk,
# SETQUOTA refused, STATUS DELETED-STORAGE, APPEND and COPY over quota
# NO [OVERQUOTA] with nothing written, MOVE and EXPUNGE and DELETE on a
# full mailbox.  Usage stays right across a restart and a reload, and
# after files are deleted or added behind maild's back, as Maildir++
# says (file missing, 5120 bytes, other limits, full and older than 15
# minutes); a Dovecot-written maildirsize is read as it is; hostile
# maildirsize files and bad quota tables are refused with file:line.
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

MAILCTL = os.path.join(t.REPO, "mailctl")
USERS = dict(t.IMAP_PASSWORDS)
USERS["carol@example.org"] = "carol-imap-pw"
VIRTUALS = t.DEFAULT_VIRTUALS + "carol@example.org vmail\n"
# alice: the defaults (20K, 100 messages); bob: 3 messages; carol: 4K.
QUOTAS = "bob@example.org messages=3\ncarol@example.org storage=4K\n"
ROOT = '"User quota"'
SIZE_RE = re.compile(r",S=(\d+)(?:[:,]|$)")


def kib(n):
    return (n + 1023) // 1024


def ctl(m, *args):
    r = subprocess.run([MAILCTL, "-s", m.socket_path] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=30)
    return r.returncode, r.stdout, r.stderr


def queue(m):
    return ctl(m, "show", "queue")[1]


def body(size):
    """About size bytes of body, in lines of 72."""
    line = "x" * 70 + "\r\n"
    return line * max(1, size // len(line))


def send(m, rcpts, size=1000, sender="sender@client.test", tag="q"):
    """One SMTP transaction: ([RCPT replies], final reply or None)."""
    tag = "%s.%f@client.test" % (tag, time.time())
    with m.connect() as c:
        c.ehlo()
        _, rr, _, fr = c.send_message(sender, rcpts, t.make_message(
            tag, body=body(size), sender=sender, to=rcpts[0]))
        c.quit()
    return rr, fr


def rcpt_reply(m, rcpt):
    """The reply to RCPT TO alone (the transaction is reset)."""
    with m.connect() as c:
        c.ehlo()
        c.cmd("MAIL FROM:<sender@client.test>")
        r = c.cmd("RCPT TO:<%s>" % rcpt)
        c.cmd("RSET")
        c.quit()
    return r


def usage_on_disk(root):
    """(bytes, messages) as a scan counts them: new/ and cur/ of the
    root and its .folders, a file's size from ",S=" in its name, else
    its own."""
    total = count = 0
    dirs = [root] + [os.path.join(root, d) for d in os.listdir(root)
                     if d.startswith(".") and d not in (".", "..") and
                     os.path.isdir(os.path.join(root, d)) and
                     not os.path.islink(os.path.join(root, d))]
    for d in dirs:
        for sub in ("new", "cur"):
            p = os.path.join(d, sub)
            if not os.path.isdir(p) or os.path.islink(p):
                continue
            for f in os.listdir(p):
                if f.startswith("."):
                    continue
                m = SIZE_RE.search(f)
                if m:
                    total += int(m.group(1))
                else:
                    total += os.lstat(os.path.join(p, f)).st_size
                count += 1
    return total, count


def quota_values(r):
    """{RESOURCE: (usage, limit)} of the "* QUOTA" line of a result."""
    for u in r.untagged:
        m = re.match(rb'\* QUOTA "User quota" \(([^)]*)\)', u)
        if m:
            w = m.group(1).decode().split()
            return {w[i]: (int(w[i + 1]), int(w[i + 2]))
                    for i in range(0, len(w), 3)}
    return None


def getquota(c):
    return quota_values(c.command("GETQUOTA %s" % ROOT))


def login(m, user):
    return m.imap_login(user, USERS[user])


def disk_quota(m, user, limit_kib, limit_msgs):
    """What GETQUOTA must say for user, from the files on disk."""
    b, n = usage_on_disk(m.mailbox_dir(user=user.split("@")[0]))
    return {"STORAGE": (kib(b), limit_kib), "MESSAGE": (n, limit_msgs)}


def msfile(m, user):
    return os.path.join(m.mailbox_dir(user=user.split("@")[0]),
                        "maildirsize")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data, mtime=None):
    if os.path.lexists(path):
        os.unlink(path)
    with open(path, "wb") as f:
        f.write(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


# ------------------------------------------------------------ sections

def imap_commands(m):
    """Capabilities, the RFC 9208 examples, bad input."""
    c = t.IMAPConn(m.addr, m.imap_port)
    r = c.command("GETQUOTAROOT INBOX")
    t.is_(r.status, "BAD", "GETQUOTAROOT before login: BAD")
    c.close()
    c = login(m, "alice@example.org")
    caps = c.capabilities()
    for cap in ("QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"):
        t.ok(cap in caps, "CAPABILITY has %s" % cap)
    t.ok("QUOTASET" not in caps, "... not QUOTASET (limits are the "
         "administrator's)")
    # RFC 9208 4.1.2: GETQUOTAROOT INBOX -> QUOTAROOT and QUOTA.
    r = c.command("GETQUOTAROOT INBOX")
    t.is_(r.status, "OK", "GETQUOTAROOT INBOX: OK")
    t.ok(r.find(rb'^\* QUOTAROOT "?INBOX"? "User quota"$'),
         "... * QUOTAROOT INBOX \"User quota\"")
    t.is_(quota_values(r), {"STORAGE": (0, 20), "MESSAGE": (0, 100)},
          "... * QUOTA \"User quota\" (STORAGE 0 20 MESSAGE 0 100)")
    r = c.command("GETQUOTAROOT Sent")
    t.ok(r.status == "OK" and r.find(rb'QUOTAROOT "?Sent"? "User quota"'),
         "GETQUOTAROOT of a folder: the same root")
    # RFC 9208 4.1.1: GETQUOTA.
    r = c.command("GETQUOTA %s" % ROOT)
    t.ok(r.status == "OK" and quota_values(r) == {
        "STORAGE": (0, 20), "MESSAGE": (0, 100)}, "GETQUOTA \"User quota\"")
    for bad, status, what in (
            ('GETQUOTA ""', "NO", "a root that does not exist"),
            ('GETQUOTA "user quota"', "NO", "root names are exact"),
            ("GETQUOTAROOT nosuch", "NO", "a mailbox that does not exist"),
            ("GETQUOTA", "BAD", "GETQUOTA without a root"),
            ("GETQUOTAROOT", "BAD", "GETQUOTAROOT without a mailbox"),
            ("GETQUOTAROOT INBOX Sent", "BAD", "two mailboxes"),
            # RFC 9208 4.1.3: SETQUOTA; the server may refuse.
            ('SETQUOTA %s (STORAGE 512)' % ROOT, "NO", "SETQUOTA refused"),
            ('SETQUOTA %s ()' % ROOT, "NO", "SETQUOTA with no limits "
             "refused"),
            ('SETQUOTA %s (STORAGE)' % ROOT, "BAD", "SETQUOTA without a "
             "limit"),
            ('SETQUOTA %s (STORAGE -1)' % ROOT, "BAD", "SETQUOTA with a "
             "negative limit"),
            ('SETQUOTA %s (STORAGE 1 MESSAGE x)' % ROOT, "BAD", "SETQUOTA "
             "with a bad limit"),
            ('SETQUOTA %s STORAGE 1' % ROOT, "BAD", "SETQUOTA without a "
             "list"),
            ('SETQUOTA %s (STORAGE 99999999999999999999999)' % ROOT, "BAD",
             "SETQUOTA with a huge limit")):
        r = c.command(bad)
        t.is_(r.status, status, "%s: %s" % (what, status))
    r = c.command('SETQUOTA %s (STORAGE 512)' % ROOT)
    t.is_(r.code, "NOPERM", "... SETQUOTA: NO [NOPERM]")
    t.is_(c.command("NOOP").status, "OK", "the session goes on")
    c.logout()


def smtp_limits(m):
    """bob's MESSAGE limit at RCPT TO, a message to two users, the
    recipient over quota deferred alone and delivered on a retry."""
    md = m.maildir("bob")
    for i in range(3):
        rr, fr = send(m, ["bob@example.org"], tag="bob%d" % i)
        t.ok(rr[0].code == 250 and fr is not None and fr.code == 250,
             "bob's message %d of 3: accepted" % (i + 1))
        t.is_(md.wait(i + 1), i + 1, "... delivered")
    r = rcpt_reply(m, "bob@example.org")
    t.is_((r.code, r.enhanced), (452, "4.2.2"),
          "bob full (3 messages): RCPT TO 452 4.2.2")
    t.like(r.text, r"Mailbox full", "... Mailbox full")
    # Two recipients, one full: the other gets it, the full one nothing,
    # not even an envelope in the queue.
    alice = m.maildir("alice").count()
    rr, fr = send(m, ["alice@example.org", "bob@example.org"], tag="two")
    t.is_([x.code for x in rr], [250, 452], "RCPT alice 250, bob 452")
    t.ok(fr is not None and fr.code == 250, "... the message is accepted")
    t.is_(m.maildir("alice").wait(alice + 1), alice + 1,
          "... delivered to alice")
    t.ok("bob@example.org" not in queue(m), "... nothing queued for bob")
    t.is_(md.count(), 3, "... bob's mailbox unchanged")
    # An alias of both: accepted (alice has room), bob's copy deferred.
    rr, fr = send(m, ["info@example.org"], tag="alias")
    t.ok(rr[0].code == 250 and fr.code == 250,
         "info@ (alice and bob): accepted")
    t.is_(m.maildir("alice").wait(alice + 2), alice + 2,
          "... delivered to alice")
    t.ok(t.wait_until(lambda: re.search(
        r"waiting \S+ -> bob@example\.org retries=[1-9].*452 4\.2\.2",
        queue(m)), 10), "... bob's copy waits: 452 4.2.2 at delivery")
    t.like(m.log_text(), r"452 4\.2\.2 <bob@example\.org>: Mailbox full "
           r"\(over its message quota\)", "... the log says why")
    t.is_(md.count(), 3, "... bob still has 3")
    # bob expunges one over IMAP: the retry delivers.
    c = login(m, "bob@example.org")
    t.is_(getquota(c)["MESSAGE"], (3, 3), "bob: GETQUOTA MESSAGE 3 3")
    c.select("INBOX")
    c.command("STORE 1 +FLAGS (\\Deleted)")
    t.is_(c.command("EXPUNGE").status, "OK", "bob expunges one")
    t.is_(getquota(c)["MESSAGE"], (2, 3), "... MESSAGE 2 3")
    c.logout()
    rc, out, _ = ctl(m, "schedule", "all")
    t.is_(rc, 0, "mailctl schedule all")
    t.ok(t.wait_until(lambda: "bob@example.org" not in queue(m), 10) and
         md.count() == 3, "... bob's copy is delivered on the retry")
    t.is_((rcpt_reply(m, "bob@example.org").code), 452,
          "... and bob is full again")


def smtp_storage(m):
    """carol's STORAGE limit: deferred at delivery, APPEND refused with
    nothing written, delivered once she expunged."""
    md = m.maildir("carol")
    for i in range(2):
        rr, fr = send(m, ["carol@example.org"], size=1400, tag="c%d" % i)
        t.ok(fr is not None and fr.code == 250, "carol's message %d: "
             "accepted" % (i + 1))
        t.is_(md.wait(i + 1), i + 1, "... delivered")
    used = usage_on_disk(md.path)[0]
    t.ok(2800 < used < 4096 - 100, "carol uses %d of 4096 bytes" % used)
    rr, fr = send(m, ["carol@example.org"], size=1400, tag="c2")
    t.ok(rr[0].code == 250 and fr.code == 250,
         "a third: RCPT 250 (there is room), accepted")
    t.ok(t.wait_until(lambda: re.search(
        r"waiting \S+ -> carol@example\.org retries=[1-9].*452 4\.2\.2",
        queue(m)), 10), "... deferred at delivery: it does not fit")
    t.like(m.log_text(), r"<carol@example\.org>: Mailbox full \(over its "
           r"storage quota\)", "... over its storage quota, says the log")
    t.is_(md.count(), 2, "... not written")
    c = login(m, "carol@example.org")
    t.is_(getquota(c), disk_quota(m, "carol@example.org", 4, 100),
          "carol: GETQUOTA = the files on disk")
    before = read(msfile(m, "carol@example.org"))
    r = c.command_literal("APPEND INBOX", t.make_message(
        "app@x", body=body(1400)))
    t.ok(r.status == "NO" and r.code == "OVERQUOTA",
         "APPEND that does not fit: NO [OVERQUOTA]")
    t.is_(md.count(), 2, "... nothing written")
    t.is_(os.listdir(os.path.join(md.path, "tmp")), [], "... nothing in tmp/")
    t.is_(read(msfile(m, "carol@example.org")), before,
          "... maildirsize unchanged")
    c.select("INBOX")
    c.command("STORE 1 +FLAGS (\\Deleted)")
    r = c.command("STATUS INBOX (MESSAGES DELETED DELETED-STORAGE)")
    first = sorted(md.files("cur"))[0]
    size = int(SIZE_RE.search(first).group(1))
    t.ok(r.find(rb"\* STATUS \"?INBOX\"? \(MESSAGES 2 DELETED 1 "
                rb"DELETED-STORAGE %d\)" % kib(size)),
         "STATUS DELETED-STORAGE: what an EXPUNGE frees (%d KiB)"
         % kib(size))
    c.command("EXPUNGE")
    t.is_(getquota(c), disk_quota(m, "carol@example.org", 4, 100),
          "expunged: GETQUOTA = the disk")
    c.logout()
    ctl(m, "schedule", "all")
    t.ok(t.wait_until(lambda: "carol@example.org" not in queue(m), 10) and
         md.count() == 2, "the retry delivers the deferred message")


def imap_writes(m):
    """alice: APPEND up to the limit, COPY refused whole, MOVE and
    EXPUNGE and DELETE on a full mailbox, usage = the disk each time."""
    c = login(m, "alice@example.org")
    md = m.maildir("alice")
    want = lambda: disk_quota(m, "alice@example.org", 20, 100)  # noqa
    t.is_(getquota(c), want(), "alice: GETQUOTA = the disk")
    appended = 0
    for i in range(10):
        r = c.command_literal("APPEND INBOX", t.make_message(
            "big%d@x" % i, body=body(3000)))
        if r.status != "OK":
            break
        appended += 1
    used = usage_on_disk(md.path)[0]
    t.ok(r.status == "NO" and r.code == "OVERQUOTA" and appended >= 3 and
         used + 3000 > 20480, "APPEND until full: %d stored (%d bytes), "
         "then NO [OVERQUOTA]" % (appended, used))
    t.is_(getquota(c), want(), "... GETQUOTA = the disk")
    c.command("CREATE Archive")
    c.select("INBOX")
    n = md.count()
    r = c.command("COPY 1:* Archive")
    t.ok(r.status == "NO" and r.code == "OVERQUOTA",
         "COPY of %d messages that do not fit: NO [OVERQUOTA]" % n)
    t.is_(t.Maildir(m.mailbox_dir("Archive")).count(), 0,
          "... nothing copied")
    # RFC 9208 4.3.3 leaves MOVE alone when nothing grows: it may go on.
    before = getquota(c)
    r = c.command("MOVE 1:2 Archive")
    t.is_(r.status, "OK", "MOVE on a full mailbox: OK")
    t.is_(t.Maildir(m.mailbox_dir("Archive")).count(), 2, "... moved")
    t.is_(getquota(c), before, "... usage unchanged")
    t.is_(getquota(c), want(), "... = the disk")
    r = c.command("COPY 1 INBOX")
    t.is_(r.code, "OVERQUOTA", "COPY of one more: NO [OVERQUOTA]")
    c.command("STORE 1:2 +FLAGS (\\Deleted)")
    names = sorted(md.files("cur"))
    r = c.command("STATUS INBOX (DELETED DELETED-STORAGE)")
    t.ok(r.find(rb"\(DELETED 2 DELETED-STORAGE \d+\)"),
         "STATUS (DELETED DELETED-STORAGE): %r" % r.untagged)
    r = c.command("EXPUNGE")
    t.is_(getquota(c), want(), "EXPUNGE: usage down, = the disk")
    t.ok(len(md.files("cur")) == len(names) - 2, "... two files fewer")
    r = c.command("COPY 1 Archive")
    t.is_(r.status, "OK", "now a COPY fits")
    t.is_(getquota(c), want(), "... counted")
    c.command("SELECT Archive")
    c.command("UNSELECT")
    r = c.command("DELETE Archive")
    t.is_(r.status, "OK", "DELETE of a folder with 3 messages")
    t.is_(getquota(c), want(), "... its messages left the quota")
    c.logout()
    # The MESSAGE limit at APPEND: bob has 3 of 3.
    c = login(m, "bob@example.org")
    r = c.command_literal("APPEND INBOX", t.make_message("small@x"))
    t.ok(r.status == "NO" and r.code == "OVERQUOTA",
         "bob (3 of 3 messages): APPEND NO [OVERQUOTA]")
    c.logout()


def check_all(m, what):
    for user, lim in (("alice@example.org", (20, 100)),
                      ("bob@example.org", (20, 3)),
                      ("carol@example.org", (4, 100))):
        c = login(m, user)
        t.is_(getquota(c), disk_quota(m, user, *lim),
              "%s: %s GETQUOTA = the files on disk" % (user, what))
        c.logout()


def restart(m):
    check_all(m, "before a restart:")
    t.ok(m.stop(), "maild stops")
    m.start()
    check_all(m, "after the restart:")


def behind_the_back(m):
    """Changes maildirsize does not record: noticed as Maildir++ says."""
    user = "alice@example.org"
    root = m.mailbox_dir(user="alice")
    ms = msfile(m, user)
    want = lambda: disk_quota(m, user, 20, 100)  # noqa
    c = login(m, user)
    before = getquota(c)
    # A message removed by hand, one added (a name without ,S=).
    victim = sorted(m.maildir("alice").files("cur"))[0]
    extra = os.path.join(root, "cur", "1700000000.M1P1.byhand:2,S")
    with open(extra, "wb") as f:
        f.write(t.make_message("byhand@x", body=body(500)))
    os.unlink(victim)
    t.is_(getquota(c), before, "files changed by hand: the file still "
          "says what it said (Maildir++)")
    os.unlink(ms)
    t.is_(getquota(c), want(), "maildirsize removed: recalculated, = the "
          "disk")
    t.like(read(ms).decode(), r"^20480S,100C\n\d+ \d+\n$",
           "... written anew: \"20480S,100C\" and one line")
    # Other limits in it (an old configuration): recalculated.
    write(ms, b"1S,1C\n5 5\n")
    t.is_(getquota(c), want(), "other limits in maildirsize: recalculated")
    t.ok(read(ms).startswith(b"20480S,100C\n"), "... with ours")
    # 5120 bytes and more: recalculated.
    write(ms, b"20480S,100C\n" + b"1 0\n" * 1300)
    t.is_(getquota(c), want(), "maildirsize of 5212 bytes: recalculated")
    t.ok(len(read(ms)) < 100, "... and short again")
    # Hostile contents: recalculated, never believed.
    for what, data in (("garbage", b"20480S,100C\nrm -rf /\n"),
                       ("a NUL byte", b"20480S,100C\n1 1\0\n"),
                       ("a negative total", b"20480S,100C\n-99999 -5\n"),
                       ("a number past 2^63", b"20480S,100C\n"
                        b"99999999999999999999 1\n"),
                       ("a 100 KB line", b"20480S,100C\n" + b"7" * 100000),
                       ("no header", b"1 1\n"), ("nothing", b"")):
        write(ms, data)
        t.is_(getquota(c), want(), "maildirsize with %s: recalculated"
              % what)
    # A symbolic link: replaced, never followed.
    outside = os.path.join(m.dir, "outside")
    with open(outside, "wb") as f:
        f.write(b"20480S,100C\n1 1\n")
    os.unlink(ms)
    os.symlink(outside, ms)
    t.is_(getquota(c), want(), "maildirsize a symbolic link: recalculated")
    t.ok(not os.path.islink(ms) and read(outside) == b"20480S,100C\n1 1\n",
         "... replaced by a file, its target untouched")
    c.logout()

    # carol: full in a fresh one-line file is believed; stale, scanned.
    user = "carol@example.org"
    ms = msfile(m, user)
    c = login(m, user)
    write(ms, b"4096S,100C\n4096 2\n")
    t.is_(getquota(c)["STORAGE"], (4, 4), "a fresh file saying \"full\": "
          "believed")
    r = rcpt_reply(m, user)
    t.is_(r.code, 452, "... RCPT TO carol: 452")
    write(ms, b"4096S,100C\n4096 2\n", mtime=time.time() - 20 * 60)
    t.is_(getquota(c), disk_quota(m, user, 4, 100),
          "the same, older than 15 minutes: recalculated")
    t.is_(rcpt_reply(m, user).code, 250, "... RCPT TO carol: 250 again")
    write(ms, b"4096S,100C\n4000 1\n96 1\n")
    t.is_(getquota(c), disk_quota(m, user, 4, 100),
          "full in two lines: recalculated")
    # A file as Dovecot writes it ("%lld %d" lines): read as it is.
    write(ms, b"4096S,100C\n1234 5\n100 1\n")
    t.is_(getquota(c), {"STORAGE": (2, 4), "MESSAGE": (6, 100)},
          "a Dovecot maildirsize (1334 bytes, 6 messages): read as it is, "
          "not rescanned")
    c.logout()
    os.unlink(ms)


def mailctl_quota(m):
    """mailctl user quota: the usage as maild sees it, nothing written."""
    root = m.mailbox_dir(user="alice")
    ms = msfile(m, "alice@example.org")
    b, n = usage_on_disk(root)
    r = subprocess.run([MAILCTL, "-f", m.conf, "user", "quota",
                        "alice@example.org"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=30)
    t.ok(r.returncode == 0 and "storage: %d bytes of 20480 (" % b in
         r.stdout and "messages: %d of 100 (" % n in r.stdout and
         "counted" not in r.stdout, "mailctl user quota alice: %d bytes, "
         "%d messages, from maildirsize" % (b, n))
    if r.returncode != 0:
        t.diag(r.stderr)
    os.unlink(ms)
    r = subprocess.run([MAILCTL, "-f", m.conf, "user", "quota",
                        "alice@example.org"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=30)
    t.ok(r.returncode == 0 and "storage: %d bytes" % b in r.stdout and
         "counted" in r.stdout and not os.path.exists(ms),
         "... without maildirsize: counted, nothing written")
    r = subprocess.run([MAILCTL, "-f", m.conf, "user", "quota",
                        "carol@example.org"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=30)
    t.like(r.stdout, r"storage: \d+ bytes of 4096 \(",
           "mailctl user quota carol: her limit from the table")
    r = subprocess.run([MAILCTL, "-f", m.conf, "user", "quota",
                        "alice@nowhere.test"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=30)
    t.ok(r.returncode == 1 and "does not deliver" in r.stderr,
         "mailctl user quota of a domain not delivered here: exit 1")


def reload_table(m):
    """A reload brings the new table to deliver and imap."""
    qf = os.path.join(m.dir, "quotas")
    with open(qf, "w") as f:
        f.write(QUOTAS.replace("messages=3", "messages=5"))
    rc, out, err = ctl(m, "reload")
    t.is_(rc, 0, "mailctl reload with bob at 5 messages")
    t.is_(rcpt_reply(m, "bob@example.org").code, 250,
          "... RCPT TO bob: 250 (3 of 5)")
    c = login(m, "bob@example.org")
    t.is_(getquota(c)["MESSAGE"], (3, 5), "... GETQUOTA MESSAGE 3 5")
    c.logout()


def permanent():
    """quota over permanent: 552 5.2.2 at RCPT TO, bounced at delivery."""
    m = t.Maild(imap=True, passwd=t.imap_passwd(USERS), virtuals=VIRTUALS,
                name="permanent")
    qf = os.path.join(m.dir, "quotas")
    with open(qf, "w") as f:
        f.write("bob@example.org messages=2\n"
                "carol@example.org storage=none\n")
    m.extra = ("table quotas file:%s\nquota storage 3K table <quotas> "
               "over permanent\n" % qf)
    m.write_files()
    m.start()
    for i in range(2):
        send(m, ["bob@example.org"], tag="p%d" % i)
        m.maildir("bob").wait(i + 1)
    r = rcpt_reply(m, "bob@example.org")
    t.is_((r.code, r.enhanced), (552, "5.2.2"),
          "permanent: bob full, RCPT TO 552 5.2.2")
    # alice: 2K fits, a second 2K does not: bounced to carol.
    rr, fr = send(m, ["alice@example.org"], size=2000,
                  sender="carol@example.org", tag="a1")
    t.is_(m.maildir("alice").wait(1), 1, "alice's first 2K: delivered")
    rr, fr = send(m, ["alice@example.org"], size=2000,
                  sender="carol@example.org", tag="a2")
    t.ok(rr[0].code == 250 and fr.code == 250,
         "a second 2K: RCPT 250 (there is room), accepted")
    t.is_(m.maildir("carol").wait(1), 1, "... bounced to the sender")
    dsn = b"".join(m.maildir("carol").messages())
    t.like(dsn, rb"Status: 5\.2\.2", "... Status: 5.2.2")
    t.like(dsn, rb"552 5\.2\.2 <alice@example\.org>: Mailbox full",
           "... the diagnostic")
    t.is_(m.maildir("alice").count(), 1, "... alice got nothing more")
    t.ok(t.wait_until(lambda: queue(m).strip() == "", 10),
         "... nothing left in the queue")
    m.stop()


def bad_tables(m):
    """maild -n with a bad quota table: file:line, exit 1."""
    for name, text, want in (
            ("huge", "bob@example.org storage=5000T\n",
             r"quotas-huge:1: storage \"5000T\" out of range"),
            ("negative", "# x\nbob@example.org messages=-1\n",
             r"quotas-negative:2: messages \"-1\""),
            ("garbage", "bob@example.org \x7f\n",
             r"quotas-garbage:1: control character"),
            ("key", "bob storage=1G\n",
             r"quotas-key:1: quota key \"bob\""),
            ("empty", "bob@example.org\n",
             r"quotas-empty:1: expected storage=SIZE")):
        qf = os.path.join(m.dir, "quotas-%s" % name)
        with open(qf, "w") as f:
            f.write(text)
        conf = os.path.join(m.dir, "bad-%s.conf" % name)
        with open(conf, "w") as f:
            f.write(m.config_text().replace(
                "file:%s/quotas\n" % m.dir, "file:%s\n" % qf))
        r = subprocess.run([t.maild_path(), "-n", "-f", conf],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=30)
        t.ok(r.returncode == 1 and re.search(want, r.stdout),
             "maild -n, quota table with %s: exit 1, %s" % (name, want))
        if r.returncode != 1 or not re.search(want, r.stdout):
            t.diag(r.stdout)


def main():
    m = t.Maild(imap=True, passwd=t.imap_passwd(USERS), virtuals=VIRTUALS)
    qf = os.path.join(m.dir, "quotas")
    with open(qf, "w") as f:
        f.write(QUOTAS)
    m.extra = ("table quotas file:%s\nquota storage 20K messages 100 "
               "table <quotas>\n" % qf)
    m.write_files()
    m.start()
    t.section(imap_commands, m)
    t.section(smtp_limits, m)
    t.section(smtp_storage, m)
    t.section(imap_writes, m)
    t.section(restart, m)
    t.section(behind_the_back, m)
    t.section(mailctl_quota, m)
    t.section(reload_table, m)
    t.section(bad_tables, m)
    m.stop()
    t.section(permanent)


t.run(main)
