#!/usr/bin/env python3
# METADATA and METADATA-SERVER (RFC 5464) against a real maild:
#   - the RFC's examples: GETMETADATA of server and mailbox entries,
#     SETMETADATA with a string, a literal over two lines, NIL to
#     remove, MAXSIZE with [METADATA LONGENTRIES n], DEPTH 1 and
#     infinity, several entries at once;
#   - the standard entries: /private/comment and /shared/comment of a
#     mailbox, the server's /shared/admin (mail.conf's imap
#     metadata-admin, read-only: NO [NOPERM]);
#   - limits: a value over the size limit, as a string and as a literal
#     bigger than any other command may send ([METADATA MAXSIZE n]),
#     too many entries ([METADATA TOOMANY]), all or nothing;
#   - entry names case-insensitive, bad names (RFC 5464 3.2) BAD,
#     binary values (literal8) kept byte for byte;
#   - entries follow RENAME, go with DELETE (not back after CREATE),
#     live in a small file beside the Maildir, survive a restart; a
#     damaged file is read as empty and replaced at the next change;
#   - after each refusal the session goes on.
import os
import re
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

REQUIRED_CAPS = ["METADATA", "METADATA-SERVER"]
ADMIN = "mailto:postmaster@example.org"
VALUE_MAX = 16384
ENTRIES_MAX = 100


def must(r, what):
    if r.status != "OK":
        raise AssertionError("%s: %s" % (what, r.text))
    return r


def metadata(r):
    """{entry: value} of the METADATA responses of r (entry lower case:
    the server sends them so)."""
    out = {}
    for u in r.untagged:
        if not u.upper().startswith(b"* METADATA "):
            continue
        v = t.imap_parse(u[len(b"* METADATA "):])
        items = v[1]
        for i in range(0, len(items) - 1, 2):
            k = items[i]
            out[k.decode() if isinstance(k, bytes) else k] = items[i + 1]
    return out


def get(c, args):
    r = must(c.command("GETMETADATA %s" % args), "GETMETADATA %s" % args)
    return r, metadata(r)


def still_usable(c, what):
    t.is_(c.command("NOOP").status, "OK", "%s: the session goes on" % what)


def caps(m):
    c = m.imap_login()
    have = c.capabilities()
    for cap in REQUIRED_CAPS:
        t.ok(cap in have, "CAPABILITY has %s" % cap)
    c.logout()


def rfc_examples(m):
    c = m.imap_login()
    # 4.2.1: a server entry that is not there is NIL.
    _, md = get(c, '"" /private/comment')
    t.is_(md, {"/private/comment": None}, "server /private/comment: NIL")
    must(c.command('SETMETADATA "" (/private/comment "My own comment")'),
         "SETMETADATA server /private/comment")
    _, md = get(c, '"" /private/comment')
    t.is_(md, {"/private/comment": b"My own comment"},
          "GETMETADATA \"\" /private/comment")
    # 4.3: a literal over two lines, then NIL removes it.
    r = c.command_literal("SETMETADATA INBOX (/private/comment",
                          b"My new comment across\r\ntwo lines.", b")")
    must(r, "SETMETADATA INBOX with a literal")
    _, md = get(c, "INBOX /private/comment")
    t.is_(md.get("/private/comment"),
          b"My new comment across\r\ntwo lines.", "the literal's value")
    must(c.command("SETMETADATA INBOX (/private/comment NIL)"),
         "SETMETADATA NIL")
    _, md = get(c, "INBOX /private/comment")
    t.is_(md, {"/private/comment": None}, "removed: NIL")
    # 4.2.2: several entries, the standard mailbox ones.
    must(c.command('SETMETADATA INBOX (/private/comment "My comment" '
                   '/shared/comment "Its sunny outside!")'),
         "SETMETADATA two entries")
    _, md = get(c, 'INBOX (/private/comment /shared/comment)')
    t.is_(md, {"/private/comment": b"My comment",
               "/shared/comment": b"Its sunny outside!"},
          "GETMETADATA INBOX (/private/comment /shared/comment)")
    # MAXSIZE: entries over it left out, the longest one said.
    big = "x" * 1100
    must(c.command('SETMETADATA INBOX (/private/comment "%s")' % big),
         "SETMETADATA 1100 bytes")
    r, md = get(c, '(MAXSIZE 1024) INBOX (/private/comment '
                   '/shared/comment)')
    t.is_(md, {"/shared/comment": b"Its sunny outside!"},
          "MAXSIZE 1024: the long entry is left out")
    t.is_(r.code, "METADATA LONGENTRIES 1100",
          "OK [METADATA LONGENTRIES 1100]")
    r, md = get(c, '(MAXSIZE 2000) INBOX /private/comment')
    t.ok(r.code is None and md.get("/private/comment") == big.encode(),
         "MAXSIZE 2000: all there, no LONGENTRIES")
    # DEPTH.
    must(c.command('SETMETADATA INBOX (/private/filters/values/small '
                   '"SMALLER than 500" /private/filters/values/big '
                   '"BIGGER than 500" /private/filters/values/big/x "y")'),
         "SETMETADATA filters")
    _, md = get(c, "(DEPTH 1) INBOX /private/filters/values")
    t.is_(md, {"/private/filters/values/small": b"SMALLER than 500",
               "/private/filters/values/big": b"BIGGER than 500"},
          "DEPTH 1: the children")
    _, md = get(c, "(DEPTH infinity) INBOX /private/filters")
    t.is_(sorted(md), ["/private/filters/values/big",
                       "/private/filters/values/big/x",
                       "/private/filters/values/small"],
          "DEPTH infinity: all below")
    _, md = get(c, "(DEPTH 0) INBOX /private/filters")
    t.is_(md, {"/private/filters": None}, "DEPTH 0: the entry itself")
    r, md = get(c, "(DEPTH infinity MAXSIZE 15) INBOX /private")
    t.is_(sorted(md), ["/private/filters/values/big",
                       "/private/filters/values/big/x"],
          "DEPTH with MAXSIZE")
    t.is_(r.code, "METADATA LONGENTRIES 1100", "... LONGENTRIES")
    _, md = get(c, "(DEPTH 1) INBOX /private/nothing")
    t.is_(md, {}, "DEPTH 1 of a missing entry: no response")
    # Names are case-insensitive.
    must(c.command('SETMETADATA INBOX (/Private/Vendor/Maild/Test "v")'),
         "SETMETADATA mixed case")
    r, md = get(c, "INBOX /PRIVATE/vendor/MAILD/test")
    t.is_(md, {"/private/vendor/maild/test": b"v"},
          "names are case-insensitive")
    t.ok(any(b"/private/vendor/maild/test" in u for u in r.untagged),
         "sent as an atom, in lower case")
    c.logout()


def server(m):
    c = m.imap_login()
    _, md = get(c, '"" /shared/admin')
    t.is_(md, {"/shared/admin": ADMIN.encode()},
          "/shared/admin is mail.conf's imap metadata-admin")
    r = c.command('SETMETADATA "" (/shared/admin "mailto:me@example.org")')
    t.is_((r.status, r.code), ("NO", "NOPERM"),
          "server /shared entries are read-only: NO [NOPERM]")
    r = c.command('SETMETADATA "" (/private/a "1" /shared/comment "2")')
    t.is_(r.status, "NO", "a /shared one among others: all refused")
    _, md = get(c, '"" /private/a')
    t.is_(md, {"/private/a": None}, "... nothing was set")
    _, md = get(c, '(DEPTH 1) "" (/private /shared)')
    t.ok(md.get("/shared/admin") == ADMIN.encode() and
         md.get("/private/comment") == b"My own comment",
         "DEPTH 1 of both trees of the server")
    # bob sees the same /shared/admin, not alice's private entries.
    b = m.imap_login(user="bob@example.org")
    _, md = get(b, '(DEPTH infinity) "" (/private /shared)')
    t.is_(md, {"/shared/admin": ADMIN.encode()},
          "another user: the server's shared entry, no private ones")
    b.logout()
    c.logout()


def limits(m):
    c = m.imap_login()
    must(c.command("CREATE Lim"), "CREATE Lim")
    v = "a" * VALUE_MAX
    must(c.command('SETMETADATA Lim (/private/max "%s")' % v),
         "a value of %d bytes" % VALUE_MAX)
    r = c.command('SETMETADATA Lim (/private/max "%sa")' % v)
    t.is_((r.status, r.code), ("NO", "METADATA MAXSIZE %d" % VALUE_MAX),
          "one byte more: NO [METADATA MAXSIZE %d]" % VALUE_MAX)
    still_usable(c, "MAXSIZE")
    # Over what any literal outside APPEND may be: refused at once.
    r = c.command_literal("SETMETADATA Lim (/private/huge", b"h" * 70000,
                          b")")
    t.is_((r.status, r.code), ("NO", "METADATA MAXSIZE %d" % VALUE_MAX),
          "a 70000-byte literal: NO [METADATA MAXSIZE]")
    t.is_(r.conts, [], "... before the literal was sent")
    r = c.command_literal("SETMETADATA Lim (/private/huge", b"h" * 70000,
                          b")", plus=True)
    t.is_((r.status, r.code), ("NO", "METADATA MAXSIZE %d" % VALUE_MAX),
          "the same as a LITERAL+ one: NO [METADATA MAXSIZE]")
    still_usable(c, "huge literal")
    _, md = get(c, "Lim /private/max")
    t.is_(len(md.get("/private/max") or b""), VALUE_MAX,
          "the old value is kept")
    pairs = " ".join('/private/n%03d "x"' % i for i in range(ENTRIES_MAX))
    r = c.command("SETMETADATA Lim (%s)" % pairs)
    t.is_((r.status, r.code), ("NO", "METADATA TOOMANY"),
          "%d more entries: NO [METADATA TOOMANY]" % ENTRIES_MAX)
    _, md = get(c, "(DEPTH 1) Lim /private")
    t.is_(sorted(md), ["/private/max"], "... and none of them was set")
    pairs = " ".join('/private/n%03d "x"' % i
                     for i in range(ENTRIES_MAX - 1))
    must(c.command("SETMETADATA Lim (%s)" % pairs),
         "%d entries in one command" % (ENTRIES_MAX - 1))
    r = c.command('SETMETADATA Lim (/shared/one-more "x")')
    t.is_((r.status, r.code), ("NO", "METADATA TOOMANY"),
          "the %dth entry: TOOMANY" % (ENTRIES_MAX + 1))
    must(c.command('SETMETADATA Lim (/private/n000 "changed")'),
         "a full mailbox still changes an entry")
    _, md = get(c, "(DEPTH 1) Lim /private")
    t.is_(len(md), ENTRIES_MAX, "%d entries" % ENTRIES_MAX)
    # Binary values: literal8 in, literal8 out, byte for byte.
    c.send(b'a900 SETMETADATA Lim (/private/max ~{7}\r\n')
    cont = c.response()
    c.send(b"a\x00b\r\nc\xff)\r\n")
    r = c._collect("a900", None, [], [cont])
    t.is_(r.status, "OK", "SETMETADATA with a literal8 holding a NUL")
    r, md = get(c, "Lim /private/max")
    t.is_(md.get("/private/max"), b"a\x00b\r\nc\xff", "binary value kept")
    t.ok(any(b"~{7}" in u for u in r.untagged), "sent as a literal8")
    c.logout()


def bad_input(m):
    c = m.imap_login()
    for args in ['INBOX (/private/a* "x")', 'INBOX ("/private/a%" "x")',
                 'INBOX (/private// "x")', 'INBOX ("/private//a" "x")',
                 'INBOX ("/private/a/" "x")', 'INBOX (/other/a "x")',
                 'INBOX (private/a "x")', 'INBOX ("/private/\x01" "x")',
                 'INBOX ("/private/\xc3\xa9" "x")', 'INBOX (/private "x")',
                 'INBOX ("' + "/private/" + "n" * 300 + '" "x")',
                 'INBOX (/private/a)', 'INBOX (/private/a b)',
                 'INBOX (/private/a ("x"))', 'INBOX /private/a "x"',
                 'INBOX ()', "INBOX", ""]:
        r = c.command(("SETMETADATA " + args).encode())
        t.is_(r.status, "BAD", "SETMETADATA %s: BAD" % args[:50])
        # (20 BADs in a row end a session: each one is followed by an OK)
        must(c.command("NOOP"), "NOOP after it")
    for args in ['(DEPTH 2) INBOX /private/a', '(DEPTH) INBOX /private/a',
                 '(MAXSIZE -1) INBOX /private/a',
                 '(MAXSIZE 99999999999) INBOX /private/a',
                 '(FOO 1) INBOX /private/a', '() INBOX /private/a',
                 'INBOX', 'INBOX ()', 'INBOX /private/a /private/b',
                 'INBOX /other', 'INBOX (/private/a NIL)',
                 'INBOX (' + " ".join("/private/%d" % i
                                      for i in range(101)) + ')']:
        r = c.command("GETMETADATA " + args)
        t.is_(r.status, "BAD", "GETMETADATA %s: BAD" % args[:50])
        must(c.command("NOOP"), "NOOP after it")
    for cmd in ["GETMETADATA Nope /private/comment",
                'SETMETADATA Nope (/private/comment "x")']:
        r = c.command(cmd)
        t.is_((r.status, r.code), ("NO", "NONEXISTENT"),
              "%s: NO [NONEXISTENT]" % cmd)
    still_usable(c, "bad METADATA commands")
    c.logout()
    c = m.imap_connect()
    r = c.command('GETMETADATA "" /shared/admin')
    t.is_(r.status, "BAD", "GETMETADATA before login: BAD")
    c.close()


def lifecycle(m):
    c = m.imap_login()
    must(c.command("CREATE Proj"), "CREATE Proj")
    must(c.command('SETMETADATA Proj (/private/comment "project")'),
         "SETMETADATA Proj")
    path = os.path.join(m.mailbox_dir("Proj"), "maild-metadata")
    t.ok(os.path.isfile(path), "kept beside the Maildir (%s)"
         % os.path.relpath(path, m.dir))
    must(c.command("RENAME Proj Done"), "RENAME Proj Done")
    _, md = get(c, "Done /private/comment")
    t.is_(md, {"/private/comment": b"project"}, "entries follow RENAME")
    must(c.command("DELETE Done"), "DELETE Done")
    r = c.command("GETMETADATA Done /private/comment")
    t.is_((r.status, r.code), ("NO", "NONEXISTENT"),
          "DELETE: the mailbox and its entries are gone")
    must(c.command("CREATE Done"), "CREATE Done again")
    _, md = get(c, "Done /private/comment")
    t.is_(md, {"/private/comment": None}, "CREATE again: no old entries")
    c.logout()
    # Across a restart.
    t.ok(m.stop(), "maild stops")
    m.start()
    c = m.imap_login()
    _, md = get(c, 'INBOX (/private/comment /shared/comment)')
    t.ok(md.get("/shared/comment") == b"Its sunny outside!" and
         len(md.get("/private/comment") or b"") == 1100,
         "after a restart: INBOX's entries")
    _, md = get(c, '"" /private/comment')
    t.is_(md, {"/private/comment": b"My own comment"},
          "after a restart: the server entry")
    # A damaged file: read as empty, replaced at the next change.
    path = os.path.join(m.mailbox_dir("Done"), "maild-metadata")
    with open(path, "wb") as fh:
        fh.write(b"maild-metadata 1 C1\n5 /private/x\nabc\n")
    _, md = get(c, "(DEPTH infinity) Done /private")
    t.is_(md, {}, "damaged file: no entries")
    must(c.command('SETMETADATA Done (/private/x "fixed")'),
         "SETMETADATA replaces it")
    _, md = get(c, "Done /private/x")
    t.is_(md, {"/private/x": b"fixed"}, "readable again")
    t.like(m.log_text(), r"maild-metadata: damaged, ignored",
           "the damage was logged")
    c.logout()


def main():
    m = t.Maild(imap=True, extra='imap metadata-admin "%s"' % ADMIN)
    m.start()
    t.section(caps, m)
    t.section(rfc_examples, m)
    t.section(server, m)
    t.section(limits, m)
    t.section(bad_input, m)
    t.section(lifecycle, m)
    t.ok(m.running(), "maild still running")
    t.ok(not t.SANITIZER_RE.search(m.log_text()),
         "no sanitizer report in the log")
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
