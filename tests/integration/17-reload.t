#!/usr/bin/env python3
# Reload on SIGHUP and with mailctl: a new table entry, a new rule and a
# new certificate take effect without a restart; a broken configuration
# or table is refused and the running one keeps working; `mailctl show
# queue` lists what waits.
import os
import signal
import ssl
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

MAILCTL = os.path.join(t.REPO, "mailctl")


def rcpt_code(m, rcpt):
    with m.connect() as c:
        c.ehlo()
        c.cmd("MAIL FROM:<s@client.test>")
        r = c.cmd("RCPT TO:<%s>" % rcpt)
        c.quit()
    return r.code


def peer_cert_cn(m):
    """CN of the certificate maild presents after STARTTLS."""
    with m.connect() as c:
        c.ehlo()
        c.starttls()
        der = c.sock.getpeercert(binary_form=True)
        c.close()
    pem = ssl.DER_cert_to_PEM_cert(der)
    r = subprocess.run(["openssl", "x509", "-noout", "-subject"],
                       input=pem.encode(), stdout=subprocess.PIPE,
                       timeout=30)
    return r.stdout.decode().strip()


def mailctl(m, *args):
    r = subprocess.run([MAILCTL, "-s", m.socket_path] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    return r.returncode, r.stdout.decode(errors="replace")


def main():
    m = t.Maild().start()
    t.is_(rcpt_code(m, "carol@example.org"), 550, "carol unknown at start")
    t.like(peer_cert_cn(m), r"CN\s*=\s*mx\.test", "first certificate")

    # 1. a new virtual entry, SIGHUP
    m.virtuals += "carol@example.org vmail\n"
    m.write_files()
    os.kill(m.pid, signal.SIGHUP)
    t.ok(t.wait_until(lambda: rcpt_code(m, "carol@example.org") == 250, 10),
         "carol accepted after SIGHUP")
    with m.connect() as c:
        c.ehlo()
        _, _, _, fr = c.send_message(
            "s@client.test", ["carol@example.org"],
            t.make_message("reload1.%d@client.test" % os.getpid()))
        c.quit()
    t.is_(fr and fr.code, 250, "message to carol accepted")
    t.ok(m.maildir("carol").wait(1), "carol's Maildir got it")

    # 2. a new rule and a new certificate, through mailctl
    t.is_(rcpt_code(m, "alice@example.com"), 550, "example.com not ours yet")
    t.make_cert(m.dir, "ecdsa", cn="new.test", name="new")
    m.domains = tuple(m.domains) + ("example.com",)
    m.virtuals += "@example.com alice@example.org\n"
    m.cert_kind = "new"
    m.write_files()
    rc, out = mailctl(m, "reload")
    t.is_(rc, 0, "mailctl reload exits 0")
    t.like(out, r"reload", "mailctl reload answers")
    t.ok(t.wait_until(lambda: rcpt_code(m, "x@example.com") == 250, 10),
         "new rule for example.com active")
    t.ok(t.wait_until(lambda: "new.test" in peer_cert_cn(m), 10),
         "new certificate presented without a restart")

    # 3. a broken configuration is refused, the running one stays
    good = open(m.conf).read()
    with open(m.conf, "a") as f:
        f.write("listen on 127.0.0.1 port 25 bogus-option\n")
    os.kill(m.pid, signal.SIGHUP)
    t.ok(t.wait_until(lambda: "keeping the running configuration" in
                      m.log_text(), 10), "broken config: reload refused")
    t.like(m.log_text(), r"mail\.conf:\d+: ", "the error names file:line")
    t.is_(rcpt_code(m, "carol@example.org"), 250, "still accepts carol")
    t.ok(m.running(), "daemon still running")

    # 4. a table with a syntax error is refused as a whole
    with open(m.conf, "w") as f:
        f.write(good)
    with open(m.virtuals_file, "w") as f:
        f.write(m.virtuals + "dup@example.org vmail\ndup@example.org vmail\n")
    os.kill(m.pid, signal.SIGHUP)
    t.ok(t.wait_until(lambda: m.log_text().count(
        "keeping the running configuration") >= 2, 10),
         "broken table: reload refused")
    t.like(m.log_text(), r"virtuals:\d+: duplicate key", "table error file:line")
    t.is_(rcpt_code(m, "carol@example.org"), 250, "old table still used")

    # 5. mailctl show queue, with one message stuck (read-only Maildir)
    rc, out = mailctl(m, "show", "queue")
    t.is_(rc, 0, "mailctl show queue exits 0")
    t.is_(out.strip(), "", "queue empty")
    # A Maildir the deliver process cannot write to: temporary failure.
    box = m.maildir("alice").path
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(box, sub), exist_ok=True)
    if t.is_root():
        for d in (box, box + "/cur", box + "/new", box + "/tmp"):
            os.chown(d, 0, 0)       # deliver runs as vmail: EACCES
            os.chmod(d, 0o755)
    else:
        os.chmod(box + "/tmp", 0o500)
    with m.connect() as c:
        c.ehlo()
        _, _, _, fr = c.send_message(
            "s@client.test", ["alice@example.org"],
            t.make_message("stuck.%d@client.test" % os.getpid()))
        c.quit()
    t.is_(fr and fr.code, 250, "message to alice accepted")
    t.ok(t.wait_until(lambda: "alice@example.org" in
                      mailctl(m, "show", "queue")[1], 10),
         "show queue lists the waiting envelope")
    rc, out = mailctl(m, "bogus")
    t.isnt(rc, 0, "unknown mailctl command fails")
    m.stop()


t.run(main)
