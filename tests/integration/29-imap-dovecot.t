#!/usr/bin/env python3
# A Maildir that Dovecot served before (issue 3): the fixture
# tests/data/imap/dovecot-maildir (dovecot-uidlist version 3 with
# extension fields, bare-LF files named ",S=...,W=...", flags ":2,FSa",
# dovecot-keywords, a folder with its own uidlist) is opened with the
# same UIDVALIDITY and UIDs, UIDNEXT after the uidlist's N, RFC822.SIZE
# the W= size, bodies with CRLF line ends, keyword flags visible; a file
# the uidlist does not know gets a new UID; the UIDs stay the same after
# a restart; keywords set later use dovecot-keywords' letters.
import os
import shutil
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

FIXTURE = os.path.join(t.REPO, "tests", "data", "imap", "dovecot-maildir")

# uid -> (file base name, flags), from the fixture's dovecot-uidlist and
# file names; uid 9's file is gone, the file in new/ without a uidlist
# line gets 12 (N12).
INBOX = {
    2: ("1700000001.M1P100.mx", ["\\Seen"]),
    5: ("1700000002.M2P101.mx", ["$Work", "\\Flagged", "\\Seen"]),
    7: ("1700000003.M3P102.mx", ["$Label2", "\\Answered"]),
    10: ("1700000005.M5P104.mx", []),
    12: ("1700000099.M9P199.mx", []),
}
LISTS = {1: ["\\Seen"], 3: []}


def fixture_file(base):
    for d, _, files in os.walk(FIXTURE):
        for f in files:
            if f.startswith(base + ","):
                return os.path.join(d, f)
    return None


def w_size(path):
    name = os.path.basename(path)
    return int(name.split(",W=")[1].split(":")[0].split(",")[0])


def norecent(flags):
    return sorted(x for x in flags if x.upper() != "\\RECENT")


def check_inbox(c, when):
    r = c.select("INBOX")
    t.is_(r.status, "OK", "%s: SELECT INBOX" % when)
    t.ok(r.find(rb"^\* OK \[UIDVALIDITY 1700000123\]"),
         "%s: UIDVALIDITY from dovecot-uidlist" % when)
    t.ok(r.find(rb"^\* OK \[UIDNEXT 13\]"), "%s: UIDNEXT 13" % when)
    t.is_(t.untagged_numbers(r.untagged, "EXISTS"), [5],
          "%s: 5 messages (uid 9's file is gone)" % when)
    r, f = c.fetch("1:*", "(UID FLAGS RFC822.SIZE)")
    got = {int(d["UID"]): d for d in f.values()}
    t.is_(sorted(got), sorted(INBOX), "%s: the same UIDs as Dovecot's"
          % when)
    for uid, (base, flags) in sorted(INBOX.items()):
        d = got.get(uid, {})
        path = fixture_file(base)
        t.is_(norecent(d.get("FLAGS", [])), flags,
              "%s: uid %d flags %s" % (when, uid, flags))
        t.is_(d.get("RFC822.SIZE"), str(w_size(path)),
              "%s: uid %d RFC822.SIZE is W=" % (when, uid))
    return got


def main():
    m = t.Maild(imap=True)
    box = m.mailbox_dir()
    os.makedirs(os.path.dirname(box), exist_ok=True)
    shutil.copytree(FIXTURE, box)
    for d in (box, os.path.join(box, ".Lists")):
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
    t.chown_vmail(box, upto=m.vmail)
    m.start()

    c = m.imap_login()
    check_inbox(c, "first login")
    uid_by_seq = {}
    r, f = c.fetch("1:*", "(UID)")
    for n, d in f.items():
        uid_by_seq[int(d["UID"])] = n
    # bodies: CRLF, same bytes otherwise
    for uid in (2, 12):
        path = fixture_file(INBOX[uid][0])
        with open(path, "rb") as fh:
            raw = fh.read()
        r, f = c.fetch(str(uid), "(BODY.PEEK[])", uid=True)
        body = list(f.values())[0].get("BODY[]") if f else None
        t.is_(body, raw.replace(b"\n", b"\r\n"),
              "uid %d: BODY[] is the file with CRLF line ends" % uid)
    r, f = c.fetch("5", "(BODY.PEEK[HEADER.FIELDS (X-NOTE)] ENVELOPE)",
                   uid=True)
    d = list(f.values())[0] if f else {}
    t.is_(d.get("BODY[HEADER.FIELDS (X-NOTE)]"), b"X-Note: kept\r\n\r\n",
          "uid 5: header fields")
    env = d.get("ENVELOPE") or [None] * 10
    t.is_(env[1], b"flagged with a keyword", "uid 5: ENVELOPE subject")
    r = c.command("UID SEARCH KEYWORD $Work")
    s = r.find(rb"^\* SEARCH")
    t.is_(s[0].split()[2:] if s else None, [b"5"],
          "SEARCH KEYWORD $Work (letter a of dovecot-keywords)")
    r = c.command("UID SEARCH KEYWORD $Label2")
    s = r.find(rb"^\* SEARCH")
    t.is_(s[0].split()[2:] if s else None, [b"7"], "SEARCH KEYWORD $Label2")

    # a keyword set now: the letter dovecot-keywords gives it
    r = c.command("UID STORE 7 +FLAGS ($Work)")
    t.is_(r.status, "OK", "UID STORE 7 +FLAGS ($Work)")
    names = [f for f in os.listdir(os.path.join(box, "cur"))
             if f.startswith("1700000003.")]
    t.is_(len(names), 1, "uid 7 is one file")
    t.like(names[0] if names else "", r":2,Rab$",
           "its name now has a and b (keywords 0 and 1)")
    kw = open(os.path.join(box, "dovecot-keywords")).read()
    t.like(kw, r"(?m)^0 \$Work$", "dovecot-keywords still maps 0 to $Work")
    t.like(kw, r"(?m)^1 \$Label2$", "dovecot-keywords still maps 1 to $Label2")

    r = c.command('LIST "" "*"')
    t.ok("Lists" in t.list_responses(r.untagged), "LIST shows Lists")
    # Dovecot's subscriptions file ("V\t2" format) is kept: maild's own
    # list starts from it (plus the special-use folders it creates).
    specials = ["Archive", "Drafts", "Junk", "Sent", "Trash"]
    r = c.command('LSUB "" "*"')
    t.is_(sorted(t.list_responses(r.untagged, "LSUB")),
          sorted(["INBOX", "Lists"] + specials),
          "LSUB: the folders subscribed under Dovecot, and the new ones")
    r = c.command('LIST (SUBSCRIBED) "" "*"')
    t.is_(sorted(t.list_responses(r.untagged)),
          sorted(["INBOX", "Lists"] + specials), "LIST (SUBSCRIBED): the same")
    t.is_(c.command('SUBSCRIBE "Lists/Old"').status, "OK", "SUBSCRIBE")
    t.is_(c.command('UNSUBSCRIBE "Junk"').status, "OK", "UNSUBSCRIBE")
    with open(os.path.join(box, "maild-subscriptions")) as fh:
        t.is_(sorted(fh.read().split("\n")),
              sorted(["", "INBOX", "Lists", "Lists/Old", "Archive", "Drafts",
                      "Sent", "Trash"]),
              "maild-subscriptions: Dovecot's, the changes, the specials")
    r = c.select("Lists")
    t.ok(r.find(rb"^\* OK \[UIDVALIDITY 1700000456\]"),
         "Lists: its own UIDVALIDITY")
    t.ok(r.find(rb"^\* OK \[UIDNEXT 4\]"), "Lists: UIDNEXT 4")
    r, f = c.fetch("1:*", "(UID FLAGS)")
    t.is_({int(d["UID"]): norecent(d.get("FLAGS", [])) for d in f.values()},
          LISTS, "Lists: UIDs 1 and 3 with their flags")
    c.logout()

    # New mail after the import gets UIDs above everything.
    t.is_(m.deliver(t.make_message("after.%d@client.test" % os.getpid())),
          250, "a new delivery")
    t.ok(m.maildir("alice").wait(6), "delivered")
    c = m.imap_login()
    r = c.select("INBOX")
    r, f = c.fetch("*", "(UID)")
    t.is_([d.get("UID") for d in f.values()], ["13"],
          "the delivered message gets UID 13")
    c.logout()

    # Restart: the UIDs stay.
    t.ok(m.stop(), "maild stops")
    del INBOX[7]
    INBOX[7] = ("1700000003.M3P102.mx", ["$Label2", "$Work", "\\Answered"])
    INBOX[13] = (None, [])
    m.start()
    c = m.imap_login()
    r = c.select("INBOX")
    t.ok(r.find(rb"^\* OK \[UIDVALIDITY 1700000123\]"),
         "after restart: same UIDVALIDITY")
    r, f = c.fetch("1:*", "(UID FLAGS)")
    got = {int(d["UID"]): norecent(d.get("FLAGS", [])) for d in f.values()}
    t.is_(sorted(got), [2, 5, 7, 10, 12, 13], "after restart: same UIDs")
    t.is_(got.get(7), INBOX[7][1], "after restart: uid 7 kept $Work")
    c.logout()
    t.ok(m.running(), "maild still running")
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
