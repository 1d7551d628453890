#!/usr/bin/env python3
# UIDVALIDITY is never reused for a mailbox name whose UIDs changed
# (review issue 10, finding 5: DELETE, CREATE and APPEND of a same-name
# mailbox within one second gave the same UIDVALIDITY, so one
# "APPENDUID <v> 1" named two different messages; RFC 3501 2.3.1.1,
# RFC 9051 2.3.1.1).  With python's imaplib against a real maild, each
# way of making a mailbox again, several times in a row within a second
# or two: DELETE + CREATE; RENAME onto a deleted name; RENAME of a
# mailbox away and another onto its old name (also two folders that
# share one UIDVALIDITY, as maild before the fix gave the folders it
# made at a first login); the folder's directory removed behind maild's
# back (rm -rf) and made again by CREATE, and a user's whole Maildir
# removed and made again by a delivery; and across a restart, after the
# counter ran ahead of the clock.  Every UIDVALIDITY a name ever had
# must differ.  A Maildir Dovecot served keeps Dovecot's values.
import os
import re
import shutil
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

ALICE = "alice@example.org"
BOB = "bob@example.org"
FIXTURE = os.path.join(t.REPO, "tests", "data", "imap", "dovecot-maildir")
ROUNDS = 5


def msg(n):
    return t.make_message("uv-%s@client.test" % n, subject=str(n),
                          body="message %s\r\n" % n)


def ok_(typ, data, what):
    if typ != "OK":
        raise AssertionError("%s: %s %r" % (what, typ, data))
    return data


def append(M, box, n):
    """APPEND one message; (uidvalidity, uid) of its APPENDUID."""
    data = ok_(*M.append(box, None, None, msg(n)), what="APPEND %s" % box)
    r = re.search(rb"\[APPENDUID (\d+) (\d+)\]", data[0] or b"")
    if not r:
        raise AssertionError("no APPENDUID: %r" % data)
    return int(r.group(1)), int(r.group(2))


def status_uv(M, box):
    data = ok_(*M.status(box, "(UIDVALIDITY)"), what="STATUS %s" % box)
    r = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
    return int(r.group(1)) if r else None


def all_distinct(values, what):
    if not t.is_(len(set(values)), len(values),
                 "%s: every UIDVALIDITY differs" % what):
        t.diag("values: %s" % values)


def delete_create(m):
    M = m.imaplib(ALICE)
    seen = []
    ok_(*M.create("Again"), what="CREATE")
    t0 = time.monotonic()
    seen.append(append(M, "Again", 0))
    for i in range(1, ROUNDS):
        ok_(*M.delete("Again"), what="DELETE")
        ok_(*M.create("Again"), what="CREATE")
        seen.append(append(M, "Again", i))
    dt = time.monotonic() - t0
    t.diag("%d DELETE/CREATE/APPEND rounds in %.2fs" % (ROUNDS, dt))
    t.is_([uid for _, uid in seen], [1] * ROUNDS,
          "DELETE + CREATE: each new mailbox starts at UID 1")
    all_distinct([uv for uv, _ in seen], "DELETE + CREATE + APPEND")
    t.ok(all(b > a for (a, _), (b, _) in zip(seen, seen[1:])),
         "DELETE + CREATE: each one above the one before")
    M.logout()
    return [uv for uv, _ in seen]


def rename_onto_deleted(m):
    M = m.imaplib(ALICE)
    seen = []
    for i in range(ROUNDS):
        ok_(*M.create("Src%d" % i), what="CREATE")
        uv, _ = append(M, "Src%d" % i, "r%d" % i)
        if i > 0:
            ok_(*M.delete("Target"), what="DELETE Target")
        ok_(*M.rename("Src%d" % i, "Target"), what="RENAME")
        seen.append(status_uv(M, "Target"))
    all_distinct(seen, "RENAME onto a deleted name")
    M.logout()


def rename_swap(m):
    M = m.imaplib(ALICE)
    ok_(*M.create("A"), what="CREATE A")
    ok_(*M.create("B"), what="CREATE B")
    seen = [append(M, "A", "a")[0]]
    append(M, "B", "b")
    for i in range(ROUNDS):
        # A goes away, B takes its name, a new B appears.
        ok_(*M.rename("A", "Old%d" % i), what="RENAME A away")
        ok_(*M.rename("B", "A"), what="RENAME B onto A")
        seen.append(status_uv(M, "A"))
        ok_(*M.create("B"), what="CREATE B")
        append(M, "B", "b%d" % i)
    all_distinct(seen, "RENAME away and another onto the old name")
    M.logout()


def rename_shared(m):
    """Two folders with one UIDVALIDITY (maild before the fix gave the
    same value to every folder made in one second, such as the
    SPECIAL-USE ones of a first login): renaming one onto the other's
    name must still give a new value."""
    M = m.imaplib(ALICE)
    ok_(*M.create("L1"), what="CREATE L1")
    ok_(*M.create("L2"), what="CREATE L2")
    uv1, _ = append(M, "L1", "l1")
    append(M, "L2", "l2")
    M.logout()
    path = os.path.join(m.mailbox_dir("L2"), "maild-uidlist")
    with open(path) as fh:
        text = fh.read()
    with open(path, "w") as fh:
        fh.write(re.sub(r" V\d+ ", " V%d " % uv1, text, count=1))
    M = m.imaplib(ALICE)
    t.is_(status_uv(M, "L2"), uv1, "L2 made to share L1's UIDVALIDITY")
    ok_(*M.rename("L1", "L1-old"), what="RENAME L1 away")
    ok_(*M.rename("L2", "L1"), what="RENAME L2 onto L1")
    t.isnt(status_uv(M, "L1"), uv1,
           "RENAME onto a name whose old value it shares: a new value")
    M.logout()


def rm_rf_folder(m):
    M = m.imaplib(ALICE)
    seen = []
    for i in range(ROUNDS):
        ok_(*M.create("Gone"), what="CREATE Gone")
        seen.append(append(M, "Gone", "g%d" % i)[0])
        # Behind maild's back: the folder vanishes, nothing is open.
        shutil.rmtree(m.mailbox_dir("Gone"))
    all_distinct(seen, "rm -rf of the folder, then CREATE")
    M.logout()


def rm_rf_user(m):
    seen = []
    bob = m.maildir("bob").path
    for i in range(ROUNDS):
        t.is_(m.deliver(msg("bob%d" % i), rcpt=BOB), 250,
              "deliver to bob (%d)" % i)
        t.wait_until(lambda: m.maildir("bob").count() >= 1, 10)
        M = m.imaplib(BOB)
        seen.append(status_uv(M, "INBOX"))
        M.logout()
        # The whole Maildir goes; the next delivery makes it again.
        shutil.rmtree(bob)
    all_distinct(seen, "rm -rf of the user's Maildir, then delivery")


def dovecot_kept(m):
    box = m.maildir("bob").path
    if os.path.exists(box):
        shutil.rmtree(box)
    shutil.copytree(FIXTURE, box)
    for d in (box, os.path.join(box, ".Lists")):
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
    t.chown_vmail(box, upto=m.vmail)
    M = m.imaplib(BOB)
    t.is_(status_uv(M, "INBOX"), 1700000123, "Dovecot's INBOX value kept")
    t.is_(status_uv(M, "Lists"), 1700000456, "Dovecot's folder value kept")
    ok_(*M.delete("Lists"), what="DELETE Lists")
    ok_(*M.create("Lists"), what="CREATE Lists")
    uv = status_uv(M, "Lists")
    t.ok(uv not in (1700000123, 1700000456),
         "Lists made again: a new value (%s)" % uv)
    M.logout()
    return uv


def restart(m, before):
    """Many values in a row run ahead of the clock; a restart at once
    must not hand out any of them again, even for a mailbox whose old
    list is gone (removed while maild was down): only the counter on
    disk knows them then."""
    M = m.imaplib(ALICE)
    ok_(*M.create("Run"), what="CREATE Run")
    seen = [append(M, "Run", "run")[0]]
    for i in range(20):
        ok_(*M.delete("Run"), what="DELETE")
        ok_(*M.create("Run"), what="CREATE")
        seen.append(status_uv(M, "Run"))
    M.logout()
    t.diag("before the restart: %d..%d, clock %d" % (
        min(seen), max(seen), int(time.time())))
    t.ok(m.stop(), "maild stops")
    shutil.rmtree(m.mailbox_dir("Run"))
    m.start()
    M = m.imaplib(ALICE)
    ok_(*M.create("Run"), what="CREATE after restart")
    uv, uid = append(M, "Run", "after")
    t.ok(uv not in seen and uv > max(seen),
         "after a restart: a value above all before (%d)" % uv)
    all_distinct(seen + [uv], "DELETE + CREATE across a restart")
    t.is_(status_uv(M, "Again"), before[-1], "an untouched folder keeps "
          "its value across the restart")
    M.logout()
    state = os.path.join(m.vmail, "maild-uidvalidity")
    t.ok(os.path.exists(state), "the counter lives in the mail root")


def main():
    m = t.Maild(imap=True)
    m.start()
    M = m.imaplib(ALICE)   # first login: INBOX and the special folders
    M.logout()
    before = t.section(delete_create, m) or [0]
    t.section(rename_onto_deleted, m)
    t.section(rename_swap, m)
    t.section(rename_shared, m)
    t.section(rm_rf_folder, m)
    t.section(rm_rf_user, m)
    t.section(dovecot_kept, m)
    t.section(restart, m, before)
    m.stop()
    t.unlike(m.log_text(), t.SANITIZER_RE, "no sanitizer report")


t.run(main)
