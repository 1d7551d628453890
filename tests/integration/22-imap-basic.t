#!/usr/bin/env python3
# IMAP session and folders (issue 3), with python's imaplib and a raw
# client: greeting and CAPABILITY before and after login, LOGIN and
# AUTHENTICATE PLAIN (with and without SASL-IR), wrong passwords
# (AUTHENTICATIONFAILED, growing delay), the STARTTLS listener
# (LOGINDISABLED, no login before TLS, no pipelined plaintext after
# STARTTLS), ID, NAMESPACE, ENABLE, the SPECIAL-USE folders made on
# first login, CREATE/DELETE/RENAME (hierarchy, INBOX), SUBSCRIBE/LSUB,
# LIST patterns and LIST-EXTENDED/LIST-STATUS, STATUS, mail delivered on
# the SMTP listener seen in INBOX byte for byte, LOGOUT.
import os
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

ALICE = "alice@example.org"
PW = t.IMAP_PASSWORDS[ALICE]
SPECIAL = {"Sent": "\\SENT", "Drafts": "\\DRAFTS", "Trash": "\\TRASH",
           "Junk": "\\JUNK", "Archive": "\\ARCHIVE"}
REQUIRED_CAPS = ["IMAP4REV1", "IMAP4REV2", "SASL-IR", "LITERAL+", "ID",
                 "ENABLE", "IDLE", "NAMESPACE", "UIDPLUS", "MOVE",
                 "UNSELECT", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS",
                 "SPECIAL-USE", "ESEARCH", "CONDSTORE", "QRESYNC",
                 "APPENDLIMIT=1048576"]


def login_attempt(m, user, password):
    """One LOGIN on a new connection: (status, response code, seconds)."""
    with m.imap_connect(timeout=30) as c:
        t0 = time.monotonic()
        r = c.login(user, password)
        dt = time.monotonic() - t0
        c.logout()
    return r.status, r.code, dt


def greeting_and_caps(m):
    c = m.imap_connect()
    t.like(c.greeting, rb"^\* OK\b", "imaps: greeting is * OK")
    caps = c.capabilities()
    t.ok("IMAP4REV1" in caps, "pre-login CAPABILITY has IMAP4rev1")
    t.ok("AUTH=PLAIN" in caps, "pre-login CAPABILITY has AUTH=PLAIN")
    t.ok("LOGINDISABLED" not in caps, "imaps: no LOGINDISABLED (TLS is on)")
    t.ok("STARTTLS" not in caps, "imaps: no STARTTLS offered inside TLS")
    t.is_(c.command("NOOP").status, "OK", "NOOP before login: OK")
    r = c.command("SELECT INBOX")
    t.ok(r.status in ("NO", "BAD"), "SELECT before login refused (%s)"
         % r.text)
    r = c.command("STARTTLS")
    t.ok(r.status in ("NO", "BAD"), "STARTTLS on the imaps port refused")
    r = c.login(ALICE, PW)
    t.is_(r.status, "OK", "LOGIN with the right password: OK")
    caps = c.capabilities()
    missing = [x for x in REQUIRED_CAPS if x not in caps]
    if not t.is_(missing, [], "post-login CAPABILITY has every extension"):
        t.diag("CAPABILITY: %s" % " ".join(caps))
    r = c.login(ALICE, PW)
    t.ok(r.status in ("NO", "BAD"), "second LOGIN refused")
    r = c.command("LOGOUT")
    t.ok(r.find(rb"^\* BYE"), "LOGOUT: untagged BYE")
    t.is_(r.status, "OK", "LOGOUT: tagged OK")


def wrong_passwords(m):
    st, code, dt = login_attempt(m, ALICE, "wrong-password")
    t.is_(st, "NO", "wrong password: NO")
    t.like(code or "", r"^AUTHENTICATIONFAILED$",
           "wrong password: [AUTHENTICATIONFAILED]")
    t.ok(dt < 1.0, "first failure is not delayed (%.2fs)" % dt)
    st, code, dt = login_attempt(m, "nobody@example.org", "x")
    t.is_((st, code), ("NO", "AUTHENTICATIONFAILED"),
          "unknown user: same NO [AUTHENTICATIONFAILED]")
    st, code, dt = login_attempt(m, ALICE, PW)
    t.is_(st, "OK", "right password after failures: OK")


def failure_delay(m):
    """n-th consecutive failure waits 0, 1, 2, ... s; a success resets."""
    times = []
    for i in range(3):
        st, code, dt = login_attempt(m, ALICE, "bad-%d" % i)
        times.append(dt)
    t.diag("failed LOGIN times: %s" % ", ".join("%.2f" % x for x in times))
    t.ok(times[0] < 0.9, "1st failure: no delay")
    t.ok(times[1] >= 0.8, "2nd failure: delayed about 1 s")
    t.ok(times[2] >= 1.5, "3rd failure: delayed about 2 s")
    t.ok(times[2] < 10, "3rd failure: delay bounded")
    st, _, _ = login_attempt(m, ALICE, PW)
    t.is_(st, "OK", "success after delayed failures")
    st, _, dt = login_attempt(m, ALICE, "bad-again")
    t.ok(st == "NO" and dt < 0.9, "a success resets the delay (%.2fs)" % dt)
    st, _, _ = login_attempt(m, ALICE, PW)


def authenticate(m):
    M = m.imaplib(login=False)
    typ, _ = M.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (ALICE, PW))
                            .encode())
    t.is_(typ, "OK", "imaplib AUTHENTICATE PLAIN (continuation form): OK")
    t.is_(M.state, "AUTH", "imaplib is in the authenticated state")
    typ, data = M.noop()
    t.is_(typ, "OK", "NOOP after AUTHENTICATE")
    M.logout()

    with m.imap_connect() as c:
        r = c.command("AUTHENTICATE PLAIN " + t.sasl_plain(ALICE, PW))
        t.is_(r.status, "OK", "AUTHENTICATE PLAIN with SASL-IR: OK")
        t.is_(r.conts, [], "SASL-IR: no continuation request")
        t.ok("IMAP4REV1" in c.capabilities(), "SASL-IR session works")
        c.logout()
    with m.imap_connect() as c:
        r = c.command("AUTHENTICATE PLAIN " + t.sasl_plain(ALICE, "nope"))
        t.is_((r.status, r.code), ("NO", "AUTHENTICATIONFAILED"),
              "SASL-IR wrong password: NO [AUTHENTICATIONFAILED]")
        # Cancelling with "*" (RFC 3501 6.2.2): tagged BAD.
        tag = c.next_tag()
        c.send(tag + " AUTHENTICATE PLAIN\r\n")
        cont = c.response()
        t.like(cont, rb"^\+", "AUTHENTICATE PLAIN without IR: continuation")
        c.send("*\r\n")
        r = c._collect(tag, None)
        t.is_(r.status, "BAD", "AUTHENTICATE cancelled with *: BAD")
        r = c.command("AUTHENTICATE CRAM-MD5")
        t.ok(r.status in ("NO", "BAD"), "unknown SASL mechanism refused")
        r = c.command("AUTHENTICATE PLAIN %%%notbase64%%%")
        t.ok(r.status in ("NO", "BAD"), "bad base64 in SASL-IR refused")
        st = c.command("AUTHENTICATE PLAIN " + t.sasl_plain(ALICE, PW))
        t.is_(st.status, "OK", "then a good AUTHENTICATE succeeds")
        c.logout()


def starttls_listener(m):
    c = m.imap_connect(starttls_port=True)
    t.like(c.greeting, rb"^\* OK\b", "imap (143 style): greeting")
    caps = c.capabilities()
    t.ok("STARTTLS" in caps, "before TLS: STARTTLS offered")
    t.ok("LOGINDISABLED" in caps, "before TLS: LOGINDISABLED")
    t.ok(not [x for x in caps if x.startswith("AUTH=")],
         "before TLS: no AUTH= mechanism offered")
    r = c.login(ALICE, PW)
    t.ok(r.status in ("NO", "BAD"), "LOGIN before TLS refused, even with "
         "the right password (%s)" % r.text)
    r = c.command("AUTHENTICATE PLAIN " + t.sasl_plain(ALICE, PW))
    t.ok(r.status in ("NO", "BAD"), "AUTHENTICATE before TLS refused")
    r = c.command("SELECT INBOX")
    t.ok(r.status in ("NO", "BAD"), "still not authenticated")
    r = c.starttls()
    t.is_(r.status, "OK", "STARTTLS: OK")
    caps = c.capabilities()
    t.ok("STARTTLS" not in caps and "LOGINDISABLED" not in caps,
         "after TLS: neither STARTTLS nor LOGINDISABLED")
    t.ok("AUTH=PLAIN" in caps, "after TLS: AUTH=PLAIN")
    r = c.command("STARTTLS")
    t.ok(r.status in ("NO", "BAD"), "second STARTTLS refused")
    t.is_(c.login(ALICE, PW).status, "OK", "LOGIN after STARTTLS: OK")
    c.logout()

    # Plaintext pipelined after STARTTLS must be thrown away, not run
    # inside the TLS session (the CVE-2011-0411 class).
    c = m.imap_connect(starttls_port=True)
    c.send(b"s1 STARTTLS\r\ns2 LOGIN alice@example.org x\r\n"
           b"s3 CAPABILITY\r\n")
    r = c._collect("s1", None)
    t.is_(r.status, "OK", "pipelined STARTTLS: OK")
    t.is_(c.buf, b"", "nothing in plaintext after the STARTTLS reply")
    # Either the server drops the connection (as Dovecot does) or it
    # starts TLS and ignores what came before the handshake.
    try:
        c.sock = t.insecure_ssl_context().wrap_socket(
            c.sock, server_hostname="mx.test")
        c.tls = True
        quiet = c.no_response_within(1.0)
        r = c.command("NOOP")
    except (OSError, t.IMAPError) as e:
        t.diag("pipelined STARTTLS: connection dropped (%s)" % e)
        t.ok(True, "pipelined commands not executed (connection dropped)")
    else:
        t.ok(quiet, "pipelined commands not executed inside TLS")
        t.is_(r.status, "OK", "session usable after TLS")
        t.ok(not r.find(rb"s[23] "), "no reply to the injected commands")
        c.logout()
    c.close()


def id_namespace_enable(m):
    with m.imap_connect() as c:
        r = c.command('ENABLE CONDSTORE')
        t.ok(r.status in ("NO", "BAD") or not r.find(rb"^\* ENABLED .*CONDSTORE"),
             "ENABLE before login enables nothing (%s)" % r.text)
        r = c.command('ID ("name" "maildtest" "version" "1")')
        t.is_(r.status, "OK", "ID before login: OK")
        t.ok(r.find(rb"^\* ID (\(|NIL)"), "ID: untagged * ID")
        # RFC 2971's limits: 30 pairs, 30-octet fields, 1024-octet values
        # (about 32 KiB on one line, before login).
        pairs = " ".join('"f%028d" "%s"' % (i, "v" * 1024)
                         for i in range(30))
        r = c.command("ID (%s)" % pairs)
        t.is_(r.status, "OK", "ID at RFC 2971's limits before login: OK")
        r = c.command("ID (%s \"f\" \"v\")" % pairs)
        t.is_(r.status, "BAD", "ID with 31 pairs: BAD")
        c.login(ALICE, PW)
        r = c.command("ID NIL")
        t.is_(r.status, "OK", "ID NIL: OK")
        r = c.command("NAMESPACE")
        t.is_(r.status, "OK", "NAMESPACE: OK")
        ns = r.find(rb"^\* NAMESPACE ")
        t.like(ns[0] if ns else b"", rb'^\* NAMESPACE \(\("" "/"\)\) NIL NIL$',
               "NAMESPACE: one personal namespace, prefix \"\", sep /")
        r = c.command("ENABLE CONDSTORE")
        t.ok(r.find(rb"^\* ENABLED CONDSTORE$"), "ENABLE CONDSTORE: * ENABLED")
        r = c.command("ENABLE X-NO-SUCH-THING")
        t.is_(r.status, "OK", "ENABLE of an unknown extension: OK")
        t.ok(not r.find(rb"^\* ENABLED .*X-NO-SUCH"), "... and nothing enabled")
        c.logout()


def special_use(m):
    with m.imap_login() as c:
        r = c.command('LIST "" "*" RETURN (SPECIAL-USE)')
        ls = t.list_responses(r.untagged)
        t.is_(r.status, "OK", "LIST RETURN (SPECIAL-USE): OK")
        for name, attr in SPECIAL.items():
            t.ok(name in ls and attr in ls[name][0],
                 "%s listed with %s" % (name, attr))
            d = m.mailbox_dir(name)
            t.ok(all(os.path.isdir(os.path.join(d, s))
                     for s in ("cur", "new", "tmp")),
                 "%s exists on disk as a Maildir++ folder %s"
                 % (name, os.path.basename(d)))
        t.ok("INBOX" in ls, "INBOX listed")
        t.ok(all(v[1] == "/" for v in ls.values()), "delimiter is /")
        r = c.command('LIST (SPECIAL-USE) "" "*"')
        t.is_(sorted(t.list_responses(r.untagged)), sorted(SPECIAL),
              "LIST (SPECIAL-USE): exactly the five special folders")
        r = c.command('LIST "" "*" RETURN (SPECIAL-USE STATUS '
                      '(MESSAGES UNSEEN))')
        ls = t.list_responses(r.untagged)
        st = [t.status_response([u]) for u in r.find(rb"^\* STATUS ")]
        t.ok(r.status == "OK" and "\\SENT" in ls.get("Sent", ([],))[0] and
             len(st) == len(ls) and
             all(x == {"MESSAGES": 0, "UNSEEN": 0} for x in st),
             "LIST RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN)): "
             "attributes and one STATUS per mailbox")
        c.logout()


def delivered_mail(m):
    msgid = "basic.%d@client.test" % os.getpid()
    data = t.make_message(msgid, subject="Hello IMAP",
                          body="first line\r\nsecond line\r\n")
    t.is_(m.deliver(data), 250, "SMTP: message to alice accepted")
    md = m.maildir("alice")
    t.ok(md.wait(1), "delivered to alice's Maildir")
    files = md.messages()
    M = m.imaplib()
    typ, dat = M.select("INBOX")
    t.is_((typ, dat), ("OK", [b"1"]), "imaplib SELECT INBOX: 1 message")
    typ, dat = M.fetch("1", "(BODY.PEEK[])")
    body = dat[0][1] if typ == "OK" and dat and isinstance(dat[0], tuple) \
        else None
    t.ok(body is not None and files and body == files[0],
         "FETCH BODY[] is the delivered file, byte for byte")
    typ, dat = M.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    hdr = dat[0][1] if typ == "OK" and isinstance(dat[0], tuple) else b""
    t.is_(hdr, b"Subject: Hello IMAP\r\n\r\n", "Subject as sent")
    typ, dat = M.search(None, "HEADER", "Message-ID", msgid)
    t.is_((typ, dat), ("OK", [b"1"]), "SEARCH HEADER Message-ID finds it")
    M.logout()
    return msgid


def folders(m):
    M = m.imaplib()
    t.is_(M.create("Projects")[0], "OK", "CREATE Projects")
    d = m.mailbox_dir("Projects")
    t.ok(os.path.isdir(os.path.join(d, "cur")), "on disk as .Projects")
    t.ok(os.path.exists(os.path.join(d, "maildirfolder")),
         ".Projects has the maildirfolder marker")
    t.is_(M.create("Projects")[0], "NO", "CREATE of an existing name: NO")
    t.is_(M.create("INBOX")[0], "NO", "CREATE INBOX: NO")
    t.is_(M.create("Projects/2026/Q1")[0], "OK", "CREATE Projects/2026/Q1")
    t.ok(os.path.isdir(os.path.join(m.mailbox_dir("Projects/2026/Q1"),
                                    "cur")), "on disk as .Projects.2026.Q1")
    t.is_(M.create("Projects/2026")[0] in ("OK", "NO"), True,
          "CREATE of the implied parent answers")
    t.is_(M.create("v1.2")[0], "OK", "CREATE of a name with a dot")
    typ, dat = M.list('""', '"*"')
    names = t.list_responses([b"* LIST " + x for x in dat if x])
    for n in ("INBOX", "Projects", "Projects/2026", "Projects/2026/Q1",
              "v1.2", "Sent"):
        t.ok(n in names, "LIST * has %s" % n)
    t.ok("\\HASCHILDREN" in names.get("Projects", ([],))[0],
         "Projects \\HasChildren")
    t.ok("\\HASNOCHILDREN" in names.get("Projects/2026/Q1", ([],))[0],
         "Projects/2026/Q1 \\HasNoChildren")
    t.ok("\\HASNOCHILDREN" in names.get("v1.2", ([],))[0],
         "v1.2 is one name, not v1 with child 2")
    typ, dat = M.list('""', '"%"')
    top = t.list_responses([b"* LIST " + x for x in dat if x])
    t.ok("Projects" in top and "Projects/2026" not in top,
         "LIST %: top level only")
    typ, dat = M.list('""', '"Projects/%"')
    t.is_(sorted(t.list_responses([b"* LIST " + x for x in dat if x])),
          ["Projects/2026"], "LIST Projects/%: one level down")
    typ, dat = M.list('"Projects/"', '"%"')
    t.is_(sorted(t.list_responses([b"* LIST " + x for x in dat if x])),
          ["Projects/2026"], "LIST with a reference name")
    typ, dat = M.list('""', '""')
    t.like(dat[0] if dat else b"", rb'^\(.*\\Noselect.*\) "/" ""$',
           'LIST "" "": the hierarchy delimiter')

    # DELETE
    t.is_(M.delete("Projects/2026/Q1")[0], "OK", "DELETE a leaf")
    t.ok(not os.path.exists(m.mailbox_dir("Projects/2026/Q1")),
         "its directory is gone")
    typ, dat = M.delete("No/Such")
    t.is_(typ, "NO", "DELETE of a missing mailbox: NO")
    t.is_(M.delete("INBOX")[0], "NO", "DELETE INBOX: NO")
    M.create("Tmp/Child")
    M.delete("Tmp")
    t.ok(os.path.isdir(m.mailbox_dir("Tmp/Child")),
         "DELETE of a parent never removes its children")
    M.create("Projects/Keep")

    # RENAME moves the children along (RFC 3501 6.3.5)
    t.is_(M.rename("Projects", "Work")[0], "OK", "RENAME Projects Work")
    typ, dat = M.list('""', '"*"')
    names = t.list_responses([b"* LIST " + x for x in dat if x])
    t.ok("Work/Keep" in names and "Projects/Keep" not in names,
         "the child followed: Work/Keep")
    t.ok(os.path.isdir(m.mailbox_dir("Work/Keep")) and
         not os.path.exists(m.mailbox_dir("Projects/Keep")),
         "on disk: .Work.Keep, no .Projects.Keep")
    M.create("Other")
    t.is_(M.rename("Work/Keep", "Other")[0], "NO",
          "RENAME onto an existing: NO")
    t.is_(M.rename("Work", "INBOX")[0], "NO", "RENAME onto INBOX: NO")
    t.is_(M.rename("Gone", "Other")[0], "NO", "RENAME of a missing: NO")
    M.logout()


def rename_inbox(m, msgid):
    M = m.imaplib()
    typ, _ = M.rename("INBOX", "Old-Inbox")
    if not t.is_(typ, "OK", "RENAME INBOX Old-Inbox"):
        M.logout()
        return False
    typ, dat = M.status("Old-Inbox", "(MESSAGES)")
    t.like(dat[0] if dat else b"", rb"MESSAGES 1\)",
           "Old-Inbox got INBOX's message")
    typ, dat = M.select("INBOX")
    t.is_((typ, dat), ("OK", [b"0"]), "INBOX still exists, empty")
    M.select("Old-Inbox")
    typ, dat = M.search(None, "HEADER", "Message-ID", msgid)
    t.is_(dat, [b"1"], "the message in Old-Inbox is the delivered one")
    typ, dat = M.list('""', '"*"')
    names = t.list_responses([b"* LIST " + x for x in dat if x])
    t.ok("Sent" in names and "Work/Keep" in names,
         "other folders were not moved with INBOX")
    M.logout()
    return True


def subscriptions(m, renamed):
    M = m.imaplib()
    t.is_(M.subscribe("Work/Keep")[0], "OK", "SUBSCRIBE Work/Keep")
    t.is_(M.subscribe("Sent")[0], "OK", "SUBSCRIBE Sent")
    typ, dat = M.lsub('""', '"*"')
    lsub = t.list_responses([b"* LSUB " + x for x in dat if x], "LSUB")
    t.ok("Work/Keep" in lsub and "Sent" in lsub, "LSUB shows both")
    # (the special-use folders may be subscribed from the start)
    t.ok("Other" not in lsub, "LSUB: not the unsubscribed")
    M.logout()

    with m.imap_login() as c:   # a new session: persistent
        r = c.command('LIST (SUBSCRIBED) "" "*"')
        ls = t.list_responses(r.untagged)
        t.ok({"Sent", "Work/Keep"} <= set(ls) and "Other" not in ls,
             "LIST (SUBSCRIBED) in a new session (%s)" % sorted(ls))
        t.ok(all("\\SUBSCRIBED" in v[0] for v in ls.values()),
             "each with \\Subscribed")
        r = c.command('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
        ls = t.list_responses(r.untagged)
        t.ok("Work" in ls and "CHILDINFO" in repr(ls["Work"][2]).upper(),
             "RECURSIVEMATCH: Work with CHILDINFO (\"SUBSCRIBED\")")
        t.ok("Sent" in ls, "RECURSIVEMATCH: Sent itself")
        t.is_(c.command('UNSUBSCRIBE "Work/Keep"').status, "OK",
              "UNSUBSCRIBE")
        r = c.command('LSUB "" "*"')
        ls = t.list_responses(r.untagged, "LSUB")
        t.ok("Sent" in ls and "Work/Keep" not in ls,
             "LSUB after UNSUBSCRIBE (%s)" % sorted(ls))
        r = c.command('LIST "" "*" RETURN (CHILDREN)')
        ls = t.list_responses(r.untagged)
        t.ok("\\HASCHILDREN" in ls.get("Work", ([],))[0] and
             "\\HASNOCHILDREN" in ls.get("Sent", ([],))[0],
             "RETURN (CHILDREN)")
        r = c.command('LIST "" ("INBOX" "Sent")')
        t.is_(sorted(t.list_responses(r.untagged)), ["INBOX", "Sent"],
              "LIST with several patterns")
        r = c.command('LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN))')
        t.is_(r.status, "OK", "LIST RETURN (STATUS ...): OK")
        st = {}
        for u in r.find(rb"^\* STATUS "):
            v = t.imap_parse(u[9:])
            name = v[0].decode() if isinstance(v[0], bytes) else v[0]
            st[name] = t.status_response([u])
        box = "Old-Inbox" if renamed else "INBOX"
        t.is_(st.get(box), {"MESSAGES": 1, "UNSEEN": 1},
              "LIST-STATUS: %s 1 message, 1 unseen" % box)
        if renamed:
            t.is_(st.get("INBOX"), {"MESSAGES": 0, "UNSEEN": 0},
                  "LIST-STATUS: INBOX empty")
        t.ok("Work" in st and "Sent" in st, "LIST-STATUS for each mailbox")
        r = c.command('STATUS "%s" (MESSAGES RECENT UIDNEXT '
                      'UIDVALIDITY UNSEEN HIGHESTMODSEQ)' % box)
        s = t.status_response(r.untagged) or {}
        t.is_(r.status, "OK", "STATUS: OK")
        t.is_(sorted(s), ["HIGHESTMODSEQ", "MESSAGES", "RECENT", "UIDNEXT",
                          "UIDVALIDITY", "UNSEEN"], "STATUS: every item")
        t.ok(s.get("UIDNEXT", 0) >= 2 and s.get("UIDVALIDITY", 0) > 0,
             "STATUS: UIDNEXT > 1, UIDVALIDITY > 0")
        r = c.command('STATUS "No/Such" (MESSAGES)')
        t.is_(r.status, "NO", "STATUS of a missing mailbox: NO")
        c.logout()


def main():
    m = t.Maild(imap=True, imap_starttls=True)
    m.start()
    t.section(greeting_and_caps, m)
    t.section(wrong_passwords, m)
    t.section(authenticate, m)
    t.section(starttls_listener, m)
    t.section(id_namespace_enable, m)
    t.section(special_use, m)
    msgid = t.section(delivered_mail, m)
    t.section(folders, m)
    renamed = t.section(rename_inbox, m, msgid)
    t.section(subscriptions, m, renamed)
    t.section(failure_delay, m)
    t.ok(m.running(), "maild still running")
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
