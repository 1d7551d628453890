#!/usr/bin/env python3
# The offline directory: what maild-sendmail could not hand to maild
# (maild stopped, smtp paused) is submitted later by maild, as the user
# who sent it: at start, and after mailctl reload.  Nothing is lost;
# nothing in the directory can make maild read or send as someone else:
# symlinks and hard links are left alone, a malformed file of a user is
# removed, a message refused for good is logged and removed.
import os
import pwd
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

SENDMAIL = os.path.join(t.REPO, "maild-sendmail")
MAILCTL = os.path.join(t.REPO, "mailctl")


def as_nobody(cmd, data):
    return subprocess.run(["setpriv", "--reuid", "nobody", "--regid",
                           "nogroup", "--clear-groups"] + cmd, input=data,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60)


def sendmail(m, rcpt, subject):
    return as_nobody([SENDMAIL, "-C", m.conf, rcpt],
                     ("Subject: %s\n\nhello from cron\n" % subject).encode())


def offline_files(m):
    d = os.path.join(m.spool, "offline")
    return sorted(x for x in os.listdir(d) if not x.startswith("."))


def write_offline(m, name, text, uid, gid):
    p = os.path.join(m.spool, "offline", name)
    with open(p, "wb") as f:
        f.write(text)
    os.chown(p, uid, gid)
    os.chmod(p, 0o600)
    return p


def subjects(md):
    out = []
    for msg in md.messages():
        v = t.header_value(msg, "Subject")
        out.append(v.decode() if isinstance(v, bytes) else v)
    return out


def main():
    if not t.is_root():
        t.skip_all("needs root (files of another user)")
    nobody = pwd.getpwnam("nobody")
    m = t.Maild(virtuals=t.DEFAULT_VIRTUALS)
    m.start()
    od = os.path.join(m.spool, "offline")
    st = os.stat(od)
    t.ok(st.st_uid == 0 and (st.st_mode & 0o7777) == 0o1777,
         "maild made <spool>/offline: root, 1777")
    t.is_(os.stat(m.spool).st_mode & 0o7777, 0o711,
          "the spool lets others through to it, no more")
    t.ok(m.stop(), "maild stops")

    # 1. maild stopped: queued offline as nobody, sent at the next start.
    r = sendmail(m, "alice@example.org", "while down")
    t.is_(r.returncode, 0, "maild-sendmail with maild down: exit 0") or \
        t.diag(r.stderr)
    files = offline_files(m)
    t.is_(len(files), 1, "one file in offline/")
    if files:
        fst = os.stat(os.path.join(od, files[0]))
        t.ok(fst.st_uid == nobody.pw_uid and (fst.st_mode & 0o777) == 0o600,
             "owned by nobody, 0600")
    md = m.maildir("alice")
    m.start()
    t.ok(md.wait(1, 10), "maild submits it after its start")
    t.ok(t.wait_until(lambda: offline_files(m) == [], 5),
         "and removes the file")
    msgs = md.messages()
    t.like(msgs[0] if msgs else b"", rb"(?m)^Return-Path: <nobody@mx\.test>",
           "sent as nobody, the file's owner")
    t.like(m.log_text(), r"offline: \S+ from nobody \(uid %d\): submitted"
           % nobody.pw_uid, "the log says whose it was")

    # 2. smtp paused: 421, queued offline; reload looks at once.
    r = subprocess.run([MAILCTL, "-s", m.socket_path, "pause", "smtp"],
                       stdout=subprocess.PIPE, timeout=30)
    t.is_(r.returncode, 0, "mailctl pause smtp")
    r = sendmail(m, "alice@example.org", "while paused")
    t.is_(r.returncode, 0, "maild-sendmail while paused: exit 0")
    t.is_(len(offline_files(m)), 1, "queued offline")
    subprocess.run([MAILCTL, "-s", m.socket_path, "resume", "smtp"],
                   stdout=subprocess.PIPE, timeout=30)
    r = subprocess.run([MAILCTL, "-s", m.socket_path, "reload"],
                       stdout=subprocess.PIPE, timeout=30)
    t.ok(md.wait(2, 10), "after resume and reload: submitted")
    t.ok(t.wait_until(lambda: offline_files(m) == [], 5), "file removed")
    t.ok("while paused" in subjects(md), "it is the paused one")

    # 3. Hostile entries.
    uid, gid = nobody.pw_uid, nobody.pw_gid
    link = os.path.join(od, "evil-link")
    os.symlink("/etc/shadow", link)
    good = write_offline(m, "hardlinked", b"maild-offline 1\nfrom "
                         b"nobody@mx.test\nto alice@example.org\n\n"
                         b"Subject: hard\r\n\r\nx\r\n", uid, gid)
    os.link(good, os.path.join(m.dir, "second-name"))
    bad = write_offline(m, "garbage", b"not the format\n", uid, gid)
    refused = write_offline(m, "refused", b"maild-offline 1\nfrom "
                            b"nobody@mx.test\nto nosuchuser@example.org\n\n"
                            b"Subject: refused\r\n\r\nx\r\n", uid, gid)
    root_file = write_offline(m, "root-owned", b"maild-offline 1\nfrom "
                              b"root@mx.test\nto alice@example.org\n\n"
                              b"Subject: from root\r\n\r\nx\r\n", 0, 0)
    subprocess.run([MAILCTL, "-s", m.socket_path, "reload"],
                   stdout=subprocess.PIPE, timeout=30)
    t.ok(md.wait(3, 10), "root's own file is submitted")
    t.ok(t.wait_until(lambda: not os.path.exists(bad) and
                      not os.path.exists(refused) and
                      not os.path.exists(root_file), 10),
         "the malformed, the refused and root's files are gone")
    log = m.log_text()
    t.like(log, r"offline: garbage from nobody \(uid \d+\): .*removed",
           "the malformed file: logged and removed")
    t.like(log, r"offline: refused from nobody .*refused, removed: .*550",
           "the refused one: logged with the reply")
    t.ok(os.path.islink(link) and os.path.exists(good),
         "the symlink and the hard-linked file are left alone")
    t.like(log, r"offline: evil-link: not a plain file, left alone",
           "... and logged")
    t.ok("hard" not in subjects(md) and "refused" not in subjects(md),
         "neither was delivered")
    os.unlink(link)
    os.unlink(os.path.join(m.dir, "second-name"))
    os.unlink(good)
    t.ok(m.running(), "maild still running")
    t.ok(m.stop(), "maild stops cleanly")
    time.sleep(0.1)


t.run(main)
