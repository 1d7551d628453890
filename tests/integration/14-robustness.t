#!/usr/bin/env python3
# Hostile or broken clients: too many connections from one address, a
# client that disconnects in the middle of DATA, garbage instead of a TLS
# handshake, an old TLS version, NUL bytes and an overlong line in DATA,
# hundreds of pipelined commands in one write.  The daemon answers each
# correctly, keeps nothing half-received, and no process dies.
import os
import ssl
import sys
import time
import warnings

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

PER_IP = 5


def alive(m, what):
    c = m.connect()
    r = c.ehlo()
    t.is_(r.code, 250, "daemon still answers after %s" % what)
    c.quit()


def main():
    m = t.Maild(extra="smtp limit max-per-ip %d" % PER_IP).start()
    kids = sorted(m.children())
    names = sorted(t.proc_comm(k) for k in kids)

    # -- connections per address
    conns = [m.connect() for _ in range(PER_IP)]
    t.is_([c.greeting.code for c in conns], [220] * PER_IP,
          "%d sessions from one address accepted" % PER_IP)
    extra = m.connect(greet=False)
    try:
        r = extra.reply(5)
        t.is_(r.code, 421, "session %d refused with 421 (%s)" % (PER_IP + 1,
                                                                r))
        t.like(r.enhanced or "", r"^4\.\d\.\d$", "the 421 has an enhanced "
               "code")
        t.ok(not extra.no_reply_within(2), "and the connection is closed")
    except (OSError, t.SMTPError) as e:
        t.ok(False, "session %d refused with 421 (%s)" % (PER_IP + 1, e))
        t.skip("no reply", 2)
    extra.close()
    conns.pop().quit()

    def one_more():
        try:
            c = m.connect(timeout=2)
        except (OSError, t.SMTPError):
            return False
        ok = c.greeting.code == 220
        if ok:
            conns.append(c)
        else:
            c.close()
        return ok
    t.ok(t.wait_until(one_more, 3, interval=0.2),
         "after one session ends, a new one is accepted")
    for c in conns:
        c.quit()

    # -- disconnect in the middle of DATA
    c = m.connect()
    c.ehlo()
    c.send(b"MAIL FROM:<sender@client.test>\r\nRCPT TO:<bob@example.org>\r\n"
           b"DATA\r\n")
    t.is_([c.reply().code for _ in range(3)], [250, 250, 354],
          "MAIL RCPT DATA before the disconnect")
    c.send(t.make_message("aborted@x", body=b"x" * 76 + b"\r\n") +
           b"y" * 76 + b"\r\n" * 1000)
    c.close()
    t.ok(t.wait_until(lambda: m.queue_entries()["incoming"] == [], 5),
         "the half-received message is removed from incoming/")
    time.sleep(0.5)
    t.is_(m.maildir("bob").count(), 0, "and nothing is delivered")
    t.is_(m.queue_entries()["queue"], [], "and nothing is queued")

    # -- garbage instead of a TLS handshake
    c = m.connect()
    c.ehlo()
    r = c.cmd("STARTTLS")
    t.is_(r.code, 220, "STARTTLS 220")
    c.send(b"this is not a TLS ClientHello\r\n" * 20)
    t.ok(not c.no_reply_within(5), "the session ends after a bad handshake")
    c.close()
    alive(m, "a bad TLS handshake")

    # -- TLS 1.0 only client
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        can_tls10 = True
    except (ValueError, ssl.SSLError):
        can_tls10 = False
    if can_tls10:
        c = m.connect()
        c.ehlo()
        c.cmd("STARTTLS")
        try:
            s = ctx.wrap_socket(c.sock, server_hostname="mx.test")
            t.ok(False, "TLS 1.0 refused (negotiated %s)" % s.version())
            s.close()
        except (ssl.SSLError, OSError) as e:
            t.ok(True, "TLS 1.0 refused (%s)" % e.__class__.__name__)
        c.close()
    else:
        t.skip("python's OpenSSL cannot offer TLS 1.0")
    alive(m, "a TLS 1.0 client")

    # -- NUL bytes and an overlong line in DATA: refused, or kept intact
    accepted = {}
    for i, (what, body) in enumerate((
            ("NUL bytes", b"a\x00b\r\n\x00\r\n"),
            ("a 70000-byte line", b"z" * 70000 + b"\r\n"),
            ("a 1 MB line", b"w" * (1000 * 1000) + b"\r\n"))):
        c = m.connect()
        c.ehlo()
        c.send(b"MAIL FROM:<sender@client.test>\r\n"
               b"RCPT TO:<alice@example.org>\r\nDATA\r\n")
        codes = [c.reply().code for _ in range(3)]
        msgid = "odd%d.%d@x" % (i, os.getpid())
        original = t.make_message(msgid, body=body)
        c.send(t.dot_stuff(original))
        t.ok(c.no_reply_within(0.5), "%s: no reply before the dot" % what)
        c.send(b".\r\n")
        try:
            r = c.reply(30)
            t.ok(codes == [250, 250, 354] and
                 (r.code == 250 or 500 <= r.code < 600),
                 "%s: 250 or 5xx after the dot (%s)" % (what, r))
            if r.code == 250:
                accepted["<%s>" % msgid] = (what, original)
            r = c.cmd("NOOP")
            t.is_(r.code, 250, "%s: session usable afterwards" % what)
            c.quit()
        except (OSError, t.SMTPError) as e:
            t.ok(False, "%s: a reply after the dot (%s)" % (what, e))
            t.skip("no session", 1)
        c.close()
    al = m.maildir("alice")
    t.wait_until(lambda: al.count() >= len(accepted), 5)
    stored = {t.header_value(x, "Message-ID"): x for x in al.messages()}
    for msgid, (what, original) in sorted(accepted.items()):
        x = stored.get(msgid)
        t.ok(x is not None and t.parse_message(x)[1] == original,
             "%s: accepted, so stored byte for byte" % what)

    # -- many pipelined commands in one write
    c = m.connect()
    c.ehlo()
    n = 300
    c.send(b"NOOP\r\n" * n + b"RSET\r\n")
    codes = []
    try:
        for _ in range(n + 1):
            codes.append(c.reply(10).code)
    except (OSError, t.SMTPError) as e:
        t.diag("after %d replies: %s" % (len(codes), e))
    t.is_(codes, [250] * (n + 1), "%d pipelined commands: %d replies in "
          "order" % (n + 1, n + 1))
    t.ok(c.no_reply_within(0.3), "no extra reply")
    c.quit()

    # -- nothing died, nothing left over
    t.is_(sorted(m.children()), kids, "same child processes as at start (%s)"
          % ", ".join(names))
    t.ok(m.running(), "parent still running")
    t.wait_until(lambda: not any(m.queue_entries().values()), 5)
    t.is_(m.queue_entries(), {"queue": [], "incoming": [], "corrupt": []},
          "spool empty")
    t.ok(m.stop(), "stops cleanly")


t.run(main)
