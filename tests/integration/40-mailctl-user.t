#!/usr/bin/env python3
# mailctl user add|passwd|del|list and alias add|del|list: the passwd
# table of the listeners and the virtual table of the domain's maildir
# action edited in place (seed-style files: "user@domain:hash" and
# aligned virtual columns, comments kept byte for byte, owner, group and
# mode kept, no temporary file left, concurrent edits all kept), then
# reloaded: a new user logs in over IMAP and SMTP AUTH and receives mail
# without a restart, a new password replaces the old one, a deleted user
# can no longer log in and its mail is refused while its Maildir stays,
# an alias delivers to its targets until it is deleted.  Bad input exits
# 1 or 2 and changes nothing; with maild stopped the edit is made and
# applies at the next start.
import grp
import os
import select
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

MAILCTL = os.path.join(t.REPO, "mailctl")

VIRTUALS = """\
# virtual users and aliases, as in the seed setup
info@example.org         alice@example.org, bob@example.org
alice@example.org        vmail
bob@example.org          vmail

# catch-all of the second domain
@example.net             alice@example.org
"""


def seed_passwd():
    """passwd in OpenSMTPD's format (user@domain:hash), with a comment."""
    lines = t.imap_passwd().splitlines()
    return ("# passwd, made with smtpctl encrypt\n" +
            "".join(l.replace(" ", ":", 1) + "\n" for l in lines))


class Ctl:
    def __init__(self, m):
        self.m = m
        self.sanitizer = []     # ASan/UBSan reports of mailctl itself

    def __call__(self, *args, stdin="", sock=True):
        cmd = [MAILCTL, "-f", self.m.conf]
        if sock:
            cmd += ["-s", self.m.socket_path]
        r = subprocess.run(cmd + list(args), input=stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
        if t.SANITIZER_RE.search(r.stderr):
            self.sanitizer.append((args, r.stderr))
        return r.returncode, r.stdout, r.stderr

    def edit(self, *args, stdin=""):
        """A table edit with maild running: waits for its reload."""
        n = self.m.log_text().count("configuration reloaded")
        rc, out, err = self(*args, stdin=stdin)
        if rc == 0:
            t.wait_until(lambda: self.m.log_text().count(
                "configuration reloaded") > n, 10)
        return rc, out, err


def read(path):
    with open(path, "rb") as f:
        return f.read()


def imap_ok(m, user, pw):
    c = m.imap_connect()
    try:
        return c.login(user, pw).status == "OK"
    finally:
        c.logout()


def smtp_auth(m, port, user, pw):
    c = t.SMTPConn(m.addr, port)
    try:
        c.ehlo()
        c.starttls()
        c.ehlo()
        return c.cmd("AUTH PLAIN " + t.sasl_plain(user, pw)).code
    finally:
        c.quit()


def rcpt_code(m, rcpt):
    with m.connect() as c:
        c.ehlo()
        c.cmd("MAIL FROM:<sender@client.test>")
        r = c.cmd("RCPT TO:<%s>" % rcpt)
        c.quit()
    return r.code


def on_tty(m, args, answers):
    """mailctl with a terminal as stdin/stderr, typing answers after each
    prompt; (exit status, everything it wrote)."""
    master, slave = os.openpty()
    p = subprocess.Popen([MAILCTL, "-f", m.conf, "-s", m.socket_path] +
                         args, stdin=slave, stdout=slave, stderr=slave,
                         close_fds=True)
    os.close(slave)
    out = b""
    try:
        for i, a in enumerate(answers):
            # Typed before its prompt, an answer would be flushed.
            end = time.monotonic() + 30
            while out.count(b": ") < i + 1 and time.monotonic() < end:
                r, _, _ = select.select([master], [], [], 1)
                if r:
                    out += os.read(master, 4096)
            os.write(master, a + b"\n")
        while True:
            r, _, _ = select.select([master], [], [], 30)
            if not r:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:     # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        return p.wait(30), out.decode(errors="replace")
    finally:
        os.close(master)
        if p.poll() is None:
            p.kill()
            p.wait()


def stray_files(m):
    return sorted(f for f in os.listdir(m.dir)
                  if f.startswith(("passwd.", "virtuals.")))


def main():
    sub = t.test_port(1)
    m = t.Maild(imap=True, virtuals=VIRTUALS, passwd=seed_passwd(),
                extra="listen on %s port %d tls-require pki mail auth "
                "<passwd>" % (t.test_addr(), sub))
    try:
        gid = grp.getgrnam("mail").gr_gid
    except KeyError:
        gid = 1
    os.chown(m.passwd_file, 0, gid)
    os.chmod(m.passwd_file, 0o640)
    m.start()
    ctl = Ctl(m)
    pw0, vt0 = read(m.passwd_file), read(m.virtuals_file)
    st0 = os.stat(m.passwd_file)

    # -- usage errors: exit 2, nothing changed
    for args in (["user"], ["user", "add"], ["user", "frob", "a@b.c"],
                 ["user", "del"], ["user", "list", "a", "b"],
                 ["user", "add", "a@example.org", "h", "x"],
                 ["alias"], ["alias", "add", "a@example.org"],
                 ["alias", "del"], ["alias", "list", "a", "b"]):
        rc, out, err = ctl(*args)
        t.is_(rc, 2, "usage: mailctl %s exits 2" % " ".join(args))

    # -- failures: exit 1 with a message, nothing changed
    bad = [
        (["user", "add", "bad address@example.org"], "not a valid address"),
        (["user", "add", "no-domain"], "not a valid address"),
        (["user", "add", "a:b@example.org"], "not a valid address"),
        (["user", "add", "#x@example.org"], "not a valid address"),
        (["user", "add", "a/b@example.org"], "Maildir"),
        (["user", "add", "x@elsewhere.test"], "does not deliver"),
        (["user", "add", "alice@example.org"], "already exists"),
        (["user", "add", "info@example.org"], "alias"),
        (["user", "add", "x@example.org", "plaintext"], "hash"),
        (["user", "add", "x@example.org", "{PLAIN}secret"], "hash"),
        (["user", "passwd", "nobody@example.org"], "no user"),
        (["user", "del", "nobody@example.org"], "no user"),
        (["user", "list", "not a domain"], "not a valid domain"),
        (["alias", "add", "x@example.org", "a b@example.org"],
         "not a valid address"),
        (["alias", "add", "x@example.org", "bare"], "not a valid address"),
        (["alias", "add", "x@example.org", "y@remote.test"], "no rule"),
        (["alias", "add", "x@example.org", ","], "no target"),
        (["alias", "add", "alice@example.org", "bob@example.org"],
         "is a user"),
        (["alias", "add", "info@example.org", "bob@example.org"],
         "already exists"),
        (["alias", "add", "x@elsewhere.test", "bob@example.org"],
         "does not deliver"),
        (["alias", "del", "nobody@example.org"], "no alias"),
        (["alias", "del", "bob@example.org"], "not an alias"),
    ]
    for args, msg in bad:
        rc, out, err = ctl(*args, stdin="pw-x\n")
        t.ok(rc == 1 and msg in err and err.startswith("mailctl: "),
             "mailctl %s: exit 1, %s" % (" ".join(args), msg)) or \
            t.diag("rc %d stderr %r" % (rc, err))
    rc, out, err = ctl("user", "add", "x@example.org", stdin="")
    t.is_(rc, 1, "user add without a password on standard input: exit 1")
    t.ok(read(m.passwd_file) == pw0 and read(m.virtuals_file) == vt0,
         "failed commands change neither table")

    # -- user add: the password from standard input
    rc, out, err = ctl.edit("user", "add", "carol@example.org",
                            stdin="carol-pw\n")
    t.is_(rc, 0, "user add carol@example.org exits 0") or t.diag(err)
    pw1, vt1 = read(m.passwd_file), read(m.virtuals_file)
    t.ok(pw1.startswith(pw0), "passwd: the old lines and comment stay")
    t.like(pw1[len(pw0):].decode(),
           r"^carol@example\.org:\$argon2id\$v=19\$[^\s]+\n$",
           "passwd: one new line user@domain:hash, the file's layout")
    t.is_(vt1[len(vt0):], b"carol@example.org        vmail\n",
          "virtuals: carol@example.org vmail, aligned as the others")
    t.ok(vt1.startswith(vt0), "virtuals: the old lines and comments stay")
    st = os.stat(m.passwd_file)
    t.is_((st.st_mode & 0o7777, st.st_uid, st.st_gid),
          (0o640, st0.st_uid, gid), "passwd keeps its mode, owner, group")
    t.ok(st.st_ino != st0.st_ino, "passwd replaced by a rename")
    t.is_(os.stat(m.virtuals_file).st_mode & 0o7777, 0o644,
          "virtuals keeps its mode")
    t.is_(stray_files(m), [], "no temporary file left")

    t.ok(imap_ok(m, "carol@example.org", "carol-pw"),
         "carol logs in over IMAP without a restart")
    t.is_(smtp_auth(m, sub, "carol@example.org", "carol-pw"), 235,
          "... and over SMTP AUTH")
    t.is_(m.deliver(t.make_message("c1@test", to="carol@example.org"),
                    rcpt="carol@example.org"), 250, "mail to carol: 250")
    carol = t.Maildir(os.path.join(m.vmail, "example.org", "carol"))
    t.is_(carol.wait(1), 1, "... delivered in her Maildir")

    rc, out, err = ctl("user", "list")
    t.is_(out, "alice@example.org\nbob@example.org\ncarol@example.org\n",
          "user list: every user, sorted")
    rc, out, err = ctl("user", "list", "EXAMPLE.org")
    t.is_((rc, out.count("\n")), (0, 3), "user list example.org")
    rc, out, err = ctl("user", "list", "example.net")
    t.is_((rc, out), (0, ""), "user list example.net: none")

    # -- user passwd
    rc, out, err = ctl.edit("user", "passwd", "Carol@Example.org",
                            stdin="carol-new\n")
    t.is_(rc, 0, "user passwd exits 0") or t.diag(err)
    t.ok(not imap_ok(m, "carol@example.org", "carol-pw"),
         "the old password fails over IMAP")
    t.ok(imap_ok(m, "carol@example.org", "carol-new"),
         "the new one works over IMAP")
    t.is_(smtp_auth(m, sub, "carol@example.org", "carol-pw"), 535,
          "the old password fails over SMTP AUTH")
    t.is_(smtp_auth(m, sub, "carol@example.org", "carol-new"), 235,
          "the new one works over SMTP AUTH")
    t.is_(read(m.passwd_file).count(b"carol@"), 1,
          "still one line for carol")

    # -- user add with a hash from mailctl encrypt
    h = subprocess.run([MAILCTL, "encrypt", "dave-pw"],
                       stdout=subprocess.PIPE, universal_newlines=True,
                       timeout=60).stdout.strip()
    rc, out, err = ctl.edit("user", "add", "dave@example.org", h)
    t.is_(rc, 0, "user add with a hash argument") or t.diag(err)
    t.ok(imap_ok(m, "dave@example.org", "dave-pw"), "dave logs in")

    # -- on a terminal: asked twice, without echo
    pwa = read(m.passwd_file)
    rc, out = on_tty(m, ["user", "add", "frank@example.org"],
                     [b"frank-pw", b"frank-typo"])
    t.ok(rc == 1 and "differ" in out, "tty: two different passwords: "
         "exit 1") or t.diag(out)
    t.is_(read(m.passwd_file), pwa, "... and nothing changed")
    n = m.log_text().count("configuration reloaded")
    rc, out = on_tty(m, ["user", "add", "frank@example.org"],
                     [b"frank-pw", b"frank-pw"])
    t.ok(rc == 0 and "New password:" in out and "Again:" in out,
         "tty: asked twice, the same: exit 0") or t.diag(out)
    t.ok("frank-pw" not in out, "... the password is not echoed")
    t.wait_until(lambda: m.log_text().count("configuration reloaded") > n,
                 10)
    t.ok(imap_ok(m, "frank@example.org", "frank-pw"), "frank logs in")
    rc, out, err = ctl.edit("user", "del", "frank@example.org")
    t.is_(rc, 0, "user del frank")

    # -- aliases
    rc, out, err = ctl.edit("alias", "add", "sales@example.org",
                            "carol@example.org,dave@example.org",
                            "Carol@example.org")
    t.is_(rc, 0, "alias add sales@example.org exits 0") or t.diag(err)
    t.ok(read(m.virtuals_file).endswith(
        b"sales@example.org        carol@example.org, dave@example.org\n"),
        "the alias line: targets once each, in the file's list layout")
    t.is_(m.deliver(t.make_message("s1@test", to="sales@example.org"),
                    rcpt="sales@example.org"), 250, "mail to the alias")
    dave = t.Maildir(os.path.join(m.vmail, "example.org", "dave"))
    t.ok(carol.wait(2) == 2 and dave.wait(1) == 1,
         "... arrives in both targets' Maildirs")
    rc, out, err = ctl("alias", "list")
    t.is_(out, "@example.net alice@example.org\n"
          "info@example.org alice@example.org,bob@example.org\n"
          "sales@example.org carol@example.org,dave@example.org\n",
          "alias list: every alias, sorted, users left out")
    rc, out, err = ctl("alias", "list", "example.net")
    t.is_(out, "@example.net alice@example.org\n", "alias list example.net")
    rc, out, err = ctl.edit("alias", "add", "x@example.org",
                            "ghost@example.org")
    t.ok(rc == 0 and "ghost@example.org has no entry" in err,
         "an alias to an unknown local address: a note") or t.diag(err)
    rc, out, err = ctl.edit("alias", "del", "x@example.org")
    t.is_(rc, 0, "alias del x@example.org")
    rc, out, err = ctl.edit("alias", "del", "sales@example.org")
    t.is_(rc, 0, "alias del sales@example.org exits 0") or t.diag(err)
    t.is_(rcpt_code(m, "sales@example.org"), 550,
          "mail to the deleted alias: 550")

    # -- user del
    rc, out, err = ctl.edit("user", "del", "dave@example.org")
    t.is_(rc, 0, "user del dave")
    rc, out, err = ctl.edit("user", "del", "carol@example.org")
    t.is_(rc, 0, "user del carol exits 0") or t.diag(err)
    t.like(err, r"kept in \S*/vmail/example\.org/carol",
           "... with a note saying where her mail is kept")
    t.ok(not imap_ok(m, "carol@example.org", "carol-new"),
         "carol can no longer log in over IMAP")
    t.is_(smtp_auth(m, sub, "carol@example.org", "carol-new"), 535,
          "... nor over SMTP AUTH")
    t.is_(rcpt_code(m, "carol@example.org"), 550, "mail to carol: 550")
    t.is_(carol.count(), 2, "her Maildir stays")
    t.ok(imap_ok(m, "alice@example.org",
                 t.IMAP_PASSWORDS["alice@example.org"]),
         "alice's bcrypt password still works")
    t.is_(read(m.passwd_file), pw0,
          "passwd: byte for byte as before after add and del")
    t.is_(read(m.virtuals_file), vt0,
          "virtuals: byte for byte as before after add and del")
    st = os.stat(m.passwd_file)
    t.is_((st.st_mode & 0o7777, st.st_uid, st.st_gid),
          (0o640, st0.st_uid, gid), "passwd mode, owner and group kept")
    t.is_(stray_files(m), [], "still no temporary file")

    # -- concurrent edits: the lock keeps every one
    procs = [subprocess.Popen([MAILCTL, "-f", m.conf, "-s", m.socket_path,
                               "user", "add", "u%d@example.org" % i],
                              stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL,
                              universal_newlines=True) for i in range(6)]
    for p in procs:
        p.stdin.write("pw\n")
        p.stdin.close()
    rcs = [p.wait(60) for p in procs]
    t.is_(rcs, [0] * 6, "six concurrent user add all exit 0")
    rc, out, err = ctl("user", "list")
    t.is_(sum(1 for l in out.splitlines() if l.startswith("u")), 6,
          "... and all six users are in passwd")
    vt = read(m.virtuals_file).decode()
    t.is_(sum(1 for i in range(6) if "u%d@example.org " % i in vt), 6,
          "... and in virtuals")
    t.is_(stray_files(m), [], "no temporary file after them")

    # -- maild not running: the edit is made, for the next start
    t.ok(m.stop(), "maild stops")
    rc, out, err = ctl("user", "add", "erin@example.org", stdin="erin-pw\n")
    t.ok(rc == 0 and "when it starts" in err,
         "user add with maild stopped: exit 0 and a note") or t.diag(err)
    t.ok(b"erin@example.org:" in read(m.passwd_file),
         "... the passwd line is there")
    m.start()
    t.ok(imap_ok(m, "erin@example.org", "erin-pw"),
         "erin logs in after the start")
    t.ok(m.running(), "maild still running")
    t.ok(m.stop(), "maild stops cleanly")
    t.ok(not ctl.sanitizer, "no sanitizer report from mailctl") or \
        t.diag(ctl.sanitizer[0])


t.run(main)
