#!/usr/bin/env python3
# neomutt against maild's IMAP (issue 3): neomutt needs a terminal, so it
# runs inside a private tmux server (its own socket, killed at the end)
# and is driven with send-keys, as a person would: it opens INBOX over
# imaps (certificate trusted through certificate_file), limits the index
# to one message, reads it (the pager shows its body), saves it to
# Archive, syncs (the original is expunged) and quits.  Then imaplib
# checks maild: the message is in Archive, \Seen, and gone from INBOX;
# the other message is untouched.
import os
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

ALICE = "alice@example.org"
TOKEN = "secret-body-token-%d" % os.getpid()


class Tmux:
    def __init__(self, name):
        self.sock = name

    def run(self, *args, check=False):
        return subprocess.run(["tmux", "-L", self.sock] + list(args),
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=20,
                              check=check)

    def screen(self):
        r = self.run("capture-pane", "-p", "-t", "nm")
        return r.stdout.decode(errors="replace")

    def keys(self, *keys):
        self.run("send-keys", "-t", "nm", *keys)

    def wait_screen(self, text, timeout=15):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = self.screen()
            if text in s:
                return s
            time.sleep(0.2)
        return None

    def kill(self):
        self.run("kill-server")


def muttrc(m):
    certs = os.path.join(m.dir, "neomutt-certs")
    shutil.copy(m.cert_file, certs)
    rc = os.path.join(m.dir, "neomuttrc")
    with open(rc, "w") as f:
        f.write("""\
set folder="imaps://{user}@{addr}:{port}/"
set spoolfile="+INBOX"
set imap_user="{user}"
set imap_pass="{pw}"
set certificate_file="{certs}"
set ssl_verify_host=no
set ssl_starttls=no
set imap_check_subscribed=no
set imap_passive=yes
set mail_check=60
set timeout=5
set confirmappend=no
set confirmcreate=no
set delete=yes
set quit=yes
set move=no
set mark_old=no
set wait_key=no
set record=""
set header_cache=""
set message_cachedir=""
set sort=date
set pager_stop=yes
set help=no
""".format(user=ALICE.replace("@", "%40"), addr=m.addr, port=m.imap_port,
           pw=t.IMAP_PASSWORDS[ALICE], certs=certs))
    return rc


def main():
    if not t.have("neomutt") or not t.have("tmux"):
        t.skip_all("neomutt or tmux not installed")
    m = t.Maild(imap=True)
    m.start()
    m.imap_login().logout()
    t.is_(m.deliver(t.make_message("keep.%d@client.test" % os.getpid(),
                                   subject="stays in inbox",
                                   body="nothing to see\r\n")), 250,
          "first message delivered")
    t.is_(m.deliver(t.make_message("move.%d@client.test" % os.getpid(),
                                   subject="neomutt target",
                                   body="Hello neomutt,\r\n%s\r\n" % TOKEN)),
          250, "target message delivered")
    t.ok(m.maildir("alice").wait(2), "both in alice's Maildir")
    rc = muttrc(m)
    status = os.path.join(m.dir, "neomutt.status")
    tm = Tmux("maildtest-%d" % os.getpid())
    env_cmd = ("TERM=xterm LANG=C.UTF-8 HOME=%s neomutt -n -F %s; "
               "echo $? > %s; sleep 2" % (m.dir, rc, status))
    try:
        tm.run("new-session", "-d", "-s", "nm", "-x", "160", "-y", "40",
               env_cmd, check=True)
        s = tm.wait_screen("neomutt target", 20)
        if not t.ok(s is not None, "neomutt shows INBOX with the target"):
            t.diag(tm.screen())
            return
        t.like(s, r"stays in inbox", "... and the other message")
        tm.keys("l")
        tm.wait_screen("Limit", 5)
        tm.keys("~s target", "Enter")
        time.sleep(0.5)
        s = tm.screen()
        t.unlike(s, r"stays in inbox", "index limited to the target")
        tm.keys("Enter")
        s = tm.wait_screen(TOKEN, 10)
        if not t.ok(s is not None, "the pager shows the message body"):
            t.diag(tm.screen())
        tm.keys("q")
        time.sleep(0.5)
        tm.keys("s")
        s = tm.wait_screen("Save to mailbox", 5)
        t.ok(s is not None, "save-message asks for a mailbox")
        tm.keys("C-u", "=Archive", "Enter")
        time.sleep(1.5)
        tm.keys("$")
        time.sleep(1.5)
        tm.keys("q")
        end = time.monotonic() + 20
        while not os.path.exists(status) and time.monotonic() < end:
            time.sleep(0.2)
        t.ok(os.path.exists(status), "neomutt quit")
        if os.path.exists(status):
            t.is_(open(status).read().strip(), "0", "neomutt exit status 0")
        else:
            t.diag(tm.screen())
    finally:
        tm.kill()

    M = m.imaplib()
    typ, dat = M.select("Archive", readonly=True)
    t.is_(dat, [b"1"], "Archive has one message")
    typ, dat = M.fetch("1", "(FLAGS BODY.PEEK[TEXT])")
    raw = b"".join(x[0] + x[1] if isinstance(x, tuple) else x for x in dat)
    t.like(raw, TOKEN.encode(), "it is the target message")
    t.like(raw, rb"\\Seen", "it was read: \\Seen")
    typ, dat = M.select("INBOX", readonly=True)
    t.is_(dat, [b"1"], "INBOX has one message left")
    typ, dat = M.fetch("1", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    raw = b"".join(x[0] + x[1] if isinstance(x, tuple) else x for x in dat)
    t.like(raw, rb"stays in inbox", "the other message stayed")
    t.unlike(raw, rb"\\Seen", "and is still unread")
    M.logout()
    t.ok(m.running(), "maild still running")
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
