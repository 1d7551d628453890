#!/usr/bin/env python3
# mailctl against a running maild (issue 5): show stats, show config,
# show queue, schedule, remove, pause and resume of smtp, relay and
# imap, log verbose|brief, and the exit codes a script relies on
# (0 done, 1 failed, 2 usage, 3 maild not running).
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
SUB = t.test_port(3)
B_PORT = t.test_port(2)


def ctl(m, *args):
    r = subprocess.run([MAILCTL, "-s", m.socket_path] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=30)
    return r.returncode, r.stdout, r.stderr


def stats(m):
    rc, out, _ = ctl(m, "show", "stats")
    d = {}
    for line in out.splitlines():
        k, _, v = line.partition("=")
        d[k] = int(v) if v.isdigit() else v
    return rc, d


def sclient_subject(m):
    """The certificate subject openssl s_client sees on the IMAPS port."""
    r = subprocess.run(["openssl", "s_client", "-connect", "%s:%d" % (
        m.addr, m.imap_port), "-servername", "mx.test"],
        input=b"a LOGOUT\r\n", stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, timeout=30)
    out = r.stdout.decode(errors="replace")
    m_ = re.search(r"^subject=(.*)$", out, re.M)
    return m_.group(1) if m_ else out


def queue(m):
    return ctl(m, "show", "queue")[1]


def submit(m, rcpt, tag):
    """alice sends a message through the submission port; its queue id."""
    c = t.SMTPConn(m.addr, SUB)
    c.ehlo()
    c.starttls()
    c.ehlo()
    r = c.cmd("AUTH PLAIN " + t.sasl_plain(
        "alice@example.org", t.IMAP_PASSWORDS["alice@example.org"]))
    t.is_(r.code, 235, "%s: alice logs in" % tag)
    _, _, _, fr = c.send_message(
        "alice@example.org", [rcpt],
        t.make_message("%s.%d@example.org" % (tag, os.getpid()),
                       sender="alice@example.org"))
    c.quit()
    t.is_(fr and fr.code, 250, "%s: accepted" % tag)
    m_ = re.search(r"queued as ([0-9a-f]{8})", fr.text if fr else "")
    return m_.group(1) if m_ else "ffffffff"


def main():
    b = t.Maild(port=B_PORT, name="maild-b", domains=("example.net",),
                virtuals="carol@example.net vmail\n")
    a = t.Maild(port=t.test_port(0), imap=True, imap_starttls=True,
                domains=("example.org",),
                extra="\n".join([
                    "listen on %s port %d tls-require pki mail auth <passwd>"
                    % (t.test_addr(), SUB),
                    "queue retry-remote 1h",
                    'action "out" relay host smtp://%s:%d'
                    % (t.test_addr(), B_PORT),
                    'match auth from any for domain "example.net" '
                    'action "out"']))
    a.start()

    # Usage and "not running" exit codes, checked by mailctl itself.
    for args in (["show"], ["show", "nothing"], ["pause", "queue"],
                 ["log", "loud"], ["schedule"], ["remove", "xyz"],
                 ["remove", "1", "2"], ["bogus"]):
        rc, out, err = ctl(a, *args)
        t.ok(rc == 2 and err != "" and out == "",
             "mailctl %s: usage, exit 2" % " ".join(args))
    r = subprocess.run([MAILCTL, "-s", a.dir + "/nosuch.sock", "show",
                        "stats"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    t.ok(r.returncode == 3 and "is maild running?" in r.stderr,
         "no daemon on the socket: exit 3, says so")

    # show config: the running configuration, as maild -nv prints it.
    rc, out, _ = ctl(a, "show", "config")
    nv = subprocess.run([t.maild_path(), "-nv", "-f", a.conf],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                        universal_newlines=True).stdout
    t.is_(rc, 0, "show config exits 0")
    t.ok(out.strip() != "" and out + "configuration OK\n" == nv,
         "show config prints what maild -nv prints")
    t.like(out, r'action "out" relay host "smtp://', "... the relay action")

    # show stats: counters move with what happens.
    rc, s0 = stats(a)
    t.is_(rc, 0, "show stats exits 0")
    t.ok(all(k in s0 for k in (
        "maild.uptime", "smtp.sessions", "smtp.sessions.active",
        "smtp.sessions.tls", "smtp.auth.ok", "smtp.auth.fail",
        "smtp.messages", "imap.sessions", "imap.auth.ok", "imap.auth.fail",
        "queue.envelopes", "queue.delivered.local", "queue.delivered.relay",
        "queue.deferred", "queue.bounces", "relay.sessions",
        "relay.sessions.tls")), "every counter is listed")
    with a.connect() as c:
        c.ehlo()
        _, _, _, fr = c.send_message(
            "x@client.test", ["bob@example.org"],
            t.make_message("stat.%d@client.test" % os.getpid()))
        c.quit()
    t.ok(a.maildir("bob").wait(1), "a local message is delivered")
    c = a.imap_connect()
    t.is_(c.login("bob@example.org", "wrong").status, "NO", "a bad login")
    c.close()
    c = a.imap_connect()
    t.is_(c.login("bob@example.org",
                  t.IMAP_PASSWORDS["bob@example.org"]).status, "OK",
          "a good login, kept open")
    rc, s1 = stats(a)
    t.ok(s1["smtp.messages"] == s0["smtp.messages"] + 1 and
         s1["smtp.recipients"] == s0["smtp.recipients"] + 1,
         "smtp.messages and smtp.recipients count the message")
    t.is_(s1["queue.delivered.local"], s0["queue.delivered.local"] + 1,
          "queue.delivered.local counts its delivery")
    t.ok(s1["imap.auth.ok"] == s0["imap.auth.ok"] + 1 and
         s1["imap.auth.fail"] == s0["imap.auth.fail"] + 1,
         "imap.auth.ok and imap.auth.fail count the logins")
    t.ok(s1["imap.sessions.active"] >= 1 and
         s1["imap.sessions.tls"] >= s0["imap.sessions.tls"] + 2,
         "the open IMAP session is active, both went TLS")

    # pause imap: new clients are told to come back, the open one goes on.
    rc, out, _ = ctl(a, "pause", "imap")
    t.ok(rc == 0 and "imap paused" in out, "pause imap")
    p = t.IMAPConn(a.addr, a.imap_port2, tls=False, greet=False)
    g = p.readline(timeout=5)
    t.like(g, rb"^\* BYE Service paused", "a new IMAP client gets BYE")
    p.close()
    t.is_(c.command("NOOP").status, "OK", "the open IMAP session goes on")
    rc, out, _ = ctl(a, "resume", "imap")
    t.ok(rc == 0 and "imap resumed" in out, "resume imap")
    a.wait_imap(5)
    t.ok(True, "IMAP greets again after resume")
    c.command("LOGOUT")
    c.close()

    # pause smtp: 421 for new sessions, an open session still delivers.
    held = a.connect()
    held.ehlo()
    rc, out, _ = ctl(a, "pause", "smtp")
    t.ok(rc == 0 and "smtp paused" in out, "pause smtp")
    n = t.SMTPConn(a.addr, a.port, greet=False)
    r = n.reply(timeout=5)
    t.ok(r.code == 421 and r.enhanced == "4.3.2",
         "a new SMTP client gets 421 4.3.2")
    n.close()
    _, _, _, fr = held.send_message(
        "x@client.test", ["alice@example.org"],
        t.make_message("held.%d@client.test" % os.getpid()))
    held.quit()
    t.is_(fr and fr.code, 250, "the session opened before the pause "
          "still sends")
    _, s = stats(a)
    t.is_(s["smtp.paused"], 1, "show stats says smtp.paused=1")
    rc, out, _ = ctl(a, "resume", "smtp")
    t.ok(rc == 0 and "smtp resumed" in out, "resume smtp")
    with a.connect() as c2:
        t.is_(c2.greeting.code if hasattr(c2, "greeting") else 220, 220,
              "SMTP greets again")
        c2.quit()

    # schedule: the remote server was down, the retry is an hour away.
    mid = submit(a, "carol@example.net", "sched")
    t.ok(t.wait_until(lambda: re.search(
        r"waiting .*carol@example\.net retries=1", queue(a)), 10),
         "relay to a server that is down: waiting, retries=1")
    rc, out, err = ctl(a, "schedule", "0123456789abcdef")
    t.ok(rc == 1 and "no such" in err, "schedule an unknown id: exit 1")
    b.start()
    rc, out, _ = ctl(a, "schedule", mid)
    t.ok(rc == 0 and "1 envelope scheduled" in out,
         "schedule MSGID: one envelope scheduled")
    t.ok(b.maildir("carol", "example.net").wait(1, 10),
         "... and relayed at once, not in an hour")
    t.ok(t.wait_until(lambda: queue(a).strip() == "", 5), "queue empty")

    # pause relay: remote mail waits in the queue until resume.
    rc, out, _ = ctl(a, "pause", "relay")
    t.ok(rc == 0 and "relay paused" in out, "pause relay")
    submit(a, "carol@example.net", "paused")
    time.sleep(1)
    t.like(queue(a), r"ready .*carol@example\.net retries=0",
           "relay paused: the message waits as ready")
    t.is_(b.maildir("carol", "example.net").count(), 1,
          "... and has not reached the remote server")
    rc, out, _ = ctl(a, "resume", "relay")
    t.ok(rc == 0 and "relay resumed" in out, "resume relay")
    t.ok(b.maildir("carol", "example.net").wait(2, 10),
         "resumed: relayed")

    # remove: no delivery, no bounce.
    b.stop()
    alice_before = a.maildir("alice").count()
    mid = submit(a, "carol@example.net", "remove")
    t.ok(t.wait_until(lambda: "waiting" in queue(a), 10),
         "another message waits for the server that is down")
    evp = queue(a).split()[0]
    t.ok(evp.startswith(mid), "show queue's envelope id starts with the "
         "message id")
    rc, out, _ = ctl(a, "remove", evp)
    t.ok(rc == 0 and "1 envelope removed" in out, "remove EVPID")
    t.is_(queue(a).strip(), "", "queue empty after remove")
    rc, out, err = ctl(a, "remove", evp)
    t.ok(rc == 1 and "no such" in err, "removing it again: exit 1")
    time.sleep(1.5)
    t.is_(a.maildir("alice").count(), alice_before,
          "no bounce for a removed message")
    rc, out, _ = ctl(a, "remove", "all")
    t.ok(rc == 0 and "0 envelopes removed" in out, "remove all, empty queue")
    rc, s = stats(a)
    t.ok(s["queue.removed"] == 1 and s["queue.delivered.relay"] == 2 and
         s["queue.deferred"] >= 2 and s["relay.sessions"] >= 2,
         "queue.removed, queue.delivered.relay, queue.deferred, "
         "relay.sessions")

    # log verbose / brief: debug lines appear, then stop.
    rc, out, _ = ctl(a, "log", "verbose")
    t.ok(rc == 0 and "logging verbose" in out, "log verbose")
    with a.connect() as c3:
        c3.ehlo()
        c3.starttls()
        c3.quit()
    t.ok(t.wait_until(lambda: "smtp tls ok" in a.log_text(), 5),
         "verbose: debug lines in the log")
    rc, out, _ = ctl(a, "log", "brief")
    t.ok(rc == 0 and "logging brief" in out, "log brief")
    n0 = a.log_text().count("smtp tls ok")
    with a.connect() as c3:
        c3.ehlo()
        c3.starttls()
        c3.quit()
    time.sleep(0.5)
    t.is_(a.log_text().count("smtp tls ok"), n0, "brief: no debug lines")

    # A renewed certificate (acme-client writes new files, then cron runs
    # mailctl reload): new clients get it, open sessions stay up.
    t.like(sclient_subject(a), r"CN\s*=\s*mx\.test", "IMAPS: first cert")
    im = a.imap_connect()
    t.is_(im.login("bob@example.org",
                   t.IMAP_PASSWORDS["bob@example.org"]).status, "OK",
          "an IMAP session open across the reload")
    t.is_(im.command("SELECT INBOX").status, "OK", "... with INBOX selected")
    sm = a.connect()
    sm.ehlo()
    newdir = os.path.join(a.dir, "renewed")
    os.mkdir(newdir)
    cert, key = t.make_cert(newdir, cn="renewed.test")
    os.replace(cert, a.cert_file)
    os.replace(key, a.key_file)
    rc, out, _ = ctl(a, "reload")
    t.ok(rc == 0 and "configuration reloaded" in out, "reload: exit 0")
    t.ok(t.wait_until(lambda: re.search(r"CN\s*=\s*renewed\.test",
                                        sclient_subject(a)), 5),
         "openssl s_client on IMAPS sees the renewed certificate")
    t.is_(im.command("NOOP").status, "OK", "the open IMAP session is up")
    r = im.command("FETCH 1 (FLAGS)")
    t.is_(r.status, "OK", "... and still reads its mailbox")
    im.command("LOGOUT")
    im.close()
    _, _, _, fr = sm.send_message(
        "x@client.test", ["bob@example.org"],
        t.make_message("across.%d@client.test" % os.getpid()))
    sm.quit()
    t.is_(fr and fr.code, 250, "an SMTP session open across the reload "
          "still sends")

    # mailctl reload returns once every process has the new tables: a
    # script may use them on the next line.
    okall = True
    for i in range(5):
        with open(a.virtuals_file, "a") as f:
            f.write("new%d@example.org vmail\n" % i)
        rc, out, _ = ctl(a, "reload")
        with a.connect() as c4:
            c4.ehlo()
            c4.cmd("MAIL FROM:<x@client.test>")
            r = c4.cmd("RCPT TO:<new%d@example.org>" % i)
            c4.quit()
        okall = okall and rc == 0 and r.code == 250
    t.ok(okall, "a recipient added to a table is accepted right after "
         "mailctl reload returns (5 times)")

    # reload: a broken file gives exit 1 with file:line.
    with open(a.conf, "a") as f:
        f.write("bogus keyword\n")
    rc, out, err = ctl(a, "reload")
    t.ok(rc == 1 and re.search(r"mail\.conf:\d+: ", err),
         "reload of a broken file: exit 1, file:line on stderr")
    t.ok(a.running(), "maild still running")

    # A maild without IMAP: pause imap fails with a reason.
    b.start()
    rc, out, err = ctl(b, "pause", "imap")
    t.ok(rc == 1 and "imap is not running" in err,
         "pause imap without IMAP listeners: exit 1")
    t.ok(a.stop(), "maild stops cleanly")
    t.ok(b.stop(), "maild-b stops cleanly")


t.run(main)
