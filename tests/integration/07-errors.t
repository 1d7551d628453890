#!/usr/bin/env python3
# Refusals: unknown user (550 5.1.1), relaying (550 5.7.1), bad syntax
# (501/553 with enhanced codes), commands out of order (503 5.5.1),
# unknown commands, overlong lines, too many recipients.  Nothing refused
# is delivered, and the session survives each error.
import os
import re
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402


def expect(c, line, codes, enh, name):
    """Send line; the reply code must be in codes, the enhanced code
    must match the regex enh."""
    r = c.cmd(line)
    if enh is None:     # HELO/EHLO replies carry no enhanced code
        good = r.code in codes
    else:
        good = r.code in codes and r.enhanced is not None and \
            re.match(enh + "$", r.enhanced) is not None
    if not t.ok(good, "%s -> %s" % (name, r)):
        t.diag("expected %s %s" % ("/".join(map(str, codes)), enh))
    return r


def session(m):
    """A fresh EHLO'd session: maild closes sessions after ten errors."""
    c = m.connect()
    c.ehlo()
    return c


def main():
    m = t.Maild(max_rcpt=10).start()

    # order
    c = session(m)
    expect(c, "DATA", [503], r"5\.5\.1", "DATA before MAIL")
    expect(c, "RCPT TO:<alice@example.org>", [503], r"5\.5\.1",
           "RCPT before MAIL")
    expect(c, "MAIL FROM:<sender@client.test>", [250], r"2\.1\.0", "MAIL")
    expect(c, "DATA", [503], r"5\.5\.1", "DATA before any accepted RCPT")
    expect(c, "MAIL FROM:<sender@client.test>", [503], r"5\.5\.1",
           "nested MAIL")
    c.quit()

    # recipients
    c = session(m)
    expect(c, "MAIL FROM:<sender@client.test>", [250], r"2\.1\.0", "MAIL")
    expect(c, "RCPT TO:<nosuchuser@example.org>", [550], r"5\.1\.1",
           "unknown user")
    expect(c, "RCPT TO:<alice@elsewhere.test>", [550], r"5\.7\.1",
           "relay to a domain without a match rule")
    expect(c, "RCPT TO:<alice@example.org.evil.test>", [550], r"5\.7\.1",
           "relay to a suffix of a local domain")
    expect(c, "RCPT TO:<alice%elsewhere.test@example.org>", [550, 553, 501],
           r"5\.\d\.\d", "percent hack")
    expect(c, "RCPT TO:<@other.test:alice@elsewhere.test>", [550],
           r"5\.7\.1", "source route to a foreign domain")
    expect(c, "DATA", [503], r"5\.5\.1", "DATA after only refused RCPTs")
    expect(c, "RSET", [250], r"2\.0\.0", "RSET")
    c.quit()

    # syntax
    c = session(m)
    expect(c, "MAIL FROM:sender@client.test", [501, 553], r"5\.\d\.\d",
           "MAIL without angle brackets")
    expect(c, "MAIL FROM:<sender@client.test", [501, 553], r"5\.\d\.\d",
           "MAIL with an unterminated path")
    expect(c, "MAIL FROM:<a@b@c.test>", [501, 553], r"5\.\d\.\d",
           "MAIL with two @")
    expect(c, "MAIL FROM:<sender@client.test> FROB=1", [501, 555],
           r"5\.5\.\d", "MAIL with an unknown parameter")
    expect(c, "MAIL TO:<sender@client.test>", [501], r"5\.5\.\d",
           "MAIL TO:")
    expect(c, "MAIL FROM:<sender@client.test>", [250], r"2\.1\.0",
           "MAIL after the syntax errors")
    c.quit()
    c = session(m)
    expect(c, "MAIL FROM:<sender@client.test>", [250], r"2\.1\.0", "MAIL")
    expect(c, "RCPT TO:<>", [501, 553], r"5\.\d\.\d", "RCPT TO:<>")
    expect(c, "RCPT TO:<alice@@example.org>", [501, 553], r"5\.\d\.\d",
           "RCPT with @@")
    expect(c, "RCPT TO:<alice@exa mple.org>", [501, 553], r"5\.\d\.\d",
           "RCPT with a space in the domain")
    expect(c, "RCPT TO:<alice\x01@example.org>", [501, 553], r"5\.\d\.\d",
           "RCPT with a control character")
    expect(c, "RCPT TO:<../../etc@example.org>", [501, 550, 553],
           r"5\.\d\.\d", "RCPT with a path in the local part")
    expect(c, "RCPT TO:alice@example.org", [501, 553], r"5\.\d\.\d",
           "RCPT without angle brackets")
    expect(c, "RCPT TO:<%s@example.org>" % ("a" * 300), [501, 553, 550],
           r"5\.\d\.\d", "RCPT with a 300-byte local part")
    expect(c, "RCPT TO:<alice@example.org>", [250], r"2\.1\.5",
           "valid RCPT after the syntax errors")
    c.quit()

    # commands
    c = session(m)
    expect(c, "FROBNICATE", [500, 502], r"5\.5\.[12]", "unknown command")
    expect(c, "EHLO", [501], r"5\.5\.\d", "EHLO without argument")
    expect(c, "NOOP", [250], r"2\.0\.0", "NOOP")
    expect(c, "A" * 5000, [500], r"5\.5\.\d", "5000-byte command line")
    expect(c, "NOOP", [250], r"2\.0\.0", "session alive after the long line")
    c.quit()

    # too many recipients (limit 10 here)
    c = session(m)
    expect(c, "MAIL FROM:<sender@client.test>", [250], r"2\.1\.0", "MAIL")
    codes = [c.cmd("RCPT TO:<alice+%d@example.org>" % i) for i in range(11)]
    t.is_([x.code for x in codes[:10]], [250] * 10,
          "10 plus-addressed recipients accepted")
    last = codes[10]
    t.ok(last.code in (452, 552) and last.enhanced and
         re.match(r"[45]\.5\.3$", last.enhanced),
         "11th RCPT: 452/552 x.5.3 (%s)" % last)
    expect(c, "RSET", [250], r"2\.0\.0", "RSET")
    r = c.cmd("QUIT")
    t.is_(r.code, 221, "QUIT 221")
    t.ok(c.no_reply_within(2) is False, "connection closed after QUIT")
    c.close()

    # a client that insists on errors is disconnected
    c = session(m)
    codes = []
    try:
        for _ in range(50):
            codes.append(c.cmd("FROBNICATE").code)
            if codes[-1] == 421:
                break
        c.reply(2)
    except (OSError, t.SMTPError):
        pass
    t.ok(len(codes) < 50 and codes[-1] == 421,
         "50 bad commands: 421 and disconnect after %d" % len(codes))
    t.ok(c.closed, "connection closed after the 421")
    c.close()

    # the same, pipelined with more junk behind: the 421 must reach the
    # client intact (no RST from closing with unread input)
    c = session(m)
    c.send(b"FROBNICATE\r\n" * 40 + b"x" * 4000 + b"\r\n")
    codes = []
    try:
        while True:
            codes.append(c.reply(5).code)
    except (OSError, t.SMTPError) as e:
        err = e
    t.is_(codes[-1:], [421], "pipelined junk: the 421 is received")
    t.ok(not isinstance(err, ConnectionResetError),
         "pipelined junk: closed cleanly, not reset (%r)" % (err,))
    c.close()

    # HELO (not EHLO) still works, and the transaction after an error.
    c = m.connect()
    expect(c, "HELO client.test", [250], None, "HELO")
    mr, rr, dr, fr = c.send_message("sender@client.test",
                                    ["alice@example.org",
                                     "nosuchuser@example.org"],
                                    t.make_message("ok.%d@x" % os.getpid()))
    t.is_([x.code for x in rr], [250, 550], "mixed recipients: 250, 550")
    t.is_(fr and fr.code, 250, "message to the valid recipient accepted")
    c.quit()

    t.is_(m.maildir("alice").wait(1, 5), 1, "alice got exactly that message")
    msgs = m.maildir("alice").messages()
    prefix = b"".join(v for _, v in t.parse_message(msgs[0])[0]) \
        if msgs else b""
    t.unlike(prefix, rb"nosuchuser", "the Received header does not name "
             "the refused recipient")
    t.ok(b"for <" not in prefix or b"for <alice@example.org>" in prefix,
         "a Received 'for' clause names the one accepted recipient")
    time.sleep(0.5)
    t.is_(m.maildirs(), {"example.org/alice": 1},
          "no other Maildir was created")
    t.ok(not os.path.exists(os.path.join(m.dir, "etc")) and
         not os.path.exists(os.path.join(m.vmail, "etc")),
         "no directory escaped the vmail root")
    t.ok(m.stop(), "stops cleanly")


t.run(main)
