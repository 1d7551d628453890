#!/usr/bin/env python3
# Where tables and private keys may live (issue 10, finding 10): every
# directory above a table file, TLS key or DKIM key, up to /, must be
# owned by root (or the user running maild) and not writable by group
# or others, unless sticky like /tmp.  A symbolic link, among the
# directories or as the file itself (certbot's live/ keys), is followed
# only to a target that passes the same test.  Each refusal names the file and the reason, at "maild -n", at
# start, and at a reload (which keeps the running configuration); a
# correct setup starts.
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

MAILCTL = os.path.join(t.REPO, "mailctl")


def other_uid():
    """A user that is neither root nor the one running the test."""
    for name in ("nobody", "_maild", "daemon"):
        try:
            uid = pwd.getpwnam(name).pw_uid
        except KeyError:
            continue
        if uid not in (0, os.geteuid()):
            return uid
    return None


def check(conf):
    p = subprocess.run([t.maild_path(), "-n", "-f", conf],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=30)
    return p.returncode, p.stdout


def variant(m, name, old, new):
    """m's configuration with the path old replaced by new."""
    conf = os.path.join(m.dir, "%s.conf" % name.replace(" ", "-"))
    with open(m.conf) as f:
        text = f.read()
    assert old in text
    with open(conf, "w") as f:
        f.write(text.replace(old, new))
    return conf


def copy(src, dst, mode):
    shutil.copyfile(src, dst)
    os.chmod(dst, mode)
    return dst


def mkdir(path, mode, uid=None):
    os.mkdir(path)
    os.chmod(path, mode)
    if uid is not None:
        os.chown(path, uid, -1)
    return path


def refused(m, name, old, new, want):
    rc, out = check(variant(m, name, old, new))
    t.isnt(rc, 0, "%s: maild -n fails" % name)
    t.like(out, want, "%s: %s" % (name, out.strip()))


def accepted(m, name, old, new):
    rc, out = check(variant(m, name, old, new))
    t.is_(rc, 0, "%s: maild -n accepts it%s" % (name, "" if rc == 0 else
                                                  ": " + out.strip()))


def tables(m, base):
    v = m.virtuals_file
    # a symbolic link to a good table, in a good directory: followed
    link = os.path.join(base, "virtuals-link")
    os.symlink(v, link)
    accepted(m, "table symlink to a good file", v, link)
    # a world-writable directory, and a group-writable one
    ww = mkdir(os.path.join(base, "world-writable"), 0o777)
    bad = copy(v, os.path.join(ww, "virtuals-bad"), 0o644)
    os.symlink(bad, os.path.join(base, "virtuals-badlink"))
    refused(m, "table symlink into a world-writable directory", v,
            os.path.join(base, "virtuals-badlink"),
            r"virtuals-badlink \(a symbolic link to %s\): .*directory %s "
            r"is writable by group or others" % (bad, ww))
    refused(m, "table in a world-writable directory", v,
            copy(v, os.path.join(ww, "virtuals"), 0o644),
            r"%s.*directory %s is writable by group or others"
            % (ww, ww))
    gw = mkdir(os.path.join(base, "group-writable"), 0o775)
    refused(m, "table in a group-writable directory", v,
            copy(v, os.path.join(gw, "virtuals"), 0o644),
            r"directory %s is writable by group or others" % gw)
    # deeper down, below a good directory
    deep = mkdir(os.path.join(ww, "deep"), 0o755)
    refused(m, "table below a world-writable directory", v,
            copy(v, os.path.join(deep, "virtuals"), 0o644),
            r"directory %s is writable by group or others" % ww)
    # sticky and world-writable, as /tmp: accepted
    st = mkdir(os.path.join(base, "sticky"), 0o1777)
    accepted(m, "table in a sticky directory", v,
             copy(v, os.path.join(st, "virtuals"), 0o644))
    # a symbolic link among the directories: followed into a good
    # directory, refused into a bad one
    good = mkdir(os.path.join(base, "good"), 0o755)
    copy(v, os.path.join(good, "virtuals"), 0o644)
    os.symlink(good, os.path.join(base, "to-good"))
    accepted(m, "table through a linked good directory", v,
             os.path.join(base, "to-good", "virtuals"))
    os.symlink("world-writable/deep", os.path.join(base, "to-bad"))
    refused(m, "table through a linked bad directory", v,
            os.path.join(base, "to-bad", "virtuals"),
            r"directory %s is writable by group or others" % ww)
    # a directory owned by another user
    uid = other_uid()
    if uid is None or not t.is_root():
        t.skip("needs root and a second user", 2)
        return
    od = mkdir(os.path.join(base, "other-owner"), 0o755, uid)
    refused(m, "table in another user's directory", v,
            copy(v, os.path.join(od, "virtuals"), 0o644),
            r"directory %s is owned by uid %d" % (od, uid))
    # the file itself owned by another user (refused before, still)
    of = copy(v, os.path.join(good, "virtuals-other"), 0o644)
    os.chown(of, uid, -1)
    refused(m, "table owned by another user", v, of,
            r"%s: owned by uid %d" % (of, uid))


def keys(m, base):
    k = m.key_file
    link = os.path.join(base, "key-link.pem")
    os.symlink(k, link)
    accepted(m, "pki key symlink to a good file, as certbot's", k, link)
    ww = os.path.join(base, "world-writable")
    wwk = copy(k, os.path.join(ww, "key-bad.pem"), 0o600)
    os.symlink(wwk, os.path.join(base, "key-badlink.pem"))
    refused(m, "pki key symlink into a world-writable directory", k,
            os.path.join(base, "key-badlink.pem"),
            r"key-badlink.pem \(a symbolic link to .*writable by group or "
            r"others")
    refused(m, "pki key in a world-writable directory", k,
            copy(k, os.path.join(ww, "key.pem"), 0o600),
            r"directory %s is writable by group or others" % ww)
    gwk = copy(k, os.path.join(base, "good", "key-gw.pem"), 0o620)
    refused(m, "pki key writable by its group", k, gwk,
            r"%s.* writable by group or others" % gwk)
    # DKIM keys are read the same way
    dk = os.path.join(base, "good", "dkim.pem")
    r = subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519",
                        "-out", dk], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    os.chmod(dk, 0o600)
    t.is_(r.returncode, 0, "an Ed25519 DKIM key")
    dlink = os.path.join(base, "dkim-link.pem")
    os.symlink(dk, dlink)
    with open(m.conf) as f:
        text = f.read()
    for name, path, want in (
            ("dkim key", dk, None),
            ("dkim key symlink", dlink, None),
            ("dkim key in a world-writable directory",
             copy(dk, os.path.join(ww, "dkim.pem"), 0o600),
             r"directory %s is writable by group or others" % ww)):
        conf = os.path.join(m.dir, "%s.conf" % name.replace(" ", "-"))
        with open(conf, "w") as f:
            f.write(text + 'dkim example.org selector s1 key "%s"\n' % path)
        rc, out = check(conf)
        if want is None:
            t.is_(rc, 0, "%s: accepted%s" % (name, "" if rc == 0 else
                                               ": " + out.strip()))
        else:
            t.isnt(rc, 0, "%s: maild -n fails" % name)
            t.like(out, want, "%s: %s" % (name, out.strip()))
    uid = other_uid()
    if uid is None or not t.is_root():
        t.skip("needs root and a second user", 2)
        return
    ok = copy(k, os.path.join(base, "good", "key-other.pem"), 0o600)
    os.chown(ok, uid, -1)
    refused(m, "pki key owned by another user", k, ok,
            r"%s.*owned by uid %d" % (ok, uid))


def start_and_reload(m, base):
    """A correct setup starts; a table or key linked into a world-writable
    directory at reload is refused, with the reason, and the running
    configuration stays."""
    m.start()
    t.ok(m.running(), "the correct setup starts")
    v = m.virtuals_file
    real = copy(v, os.path.join(base, "world-writable", "virtuals-real"),
                0o644)
    os.unlink(v)
    os.symlink(real, v)
    r = subprocess.run([MAILCTL, "-s", m.socket_path, "reload"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=30)
    t.isnt(r.returncode, 0, "mailctl reload with a table linked into a bad directory fails")
    t.like(r.stdout, r"%s \(a symbolic link to .*writable by group" % v,
           "mailctl reload says why: %s" % r.stdout.strip())
    t.ok(m.running(), "maild keeps running")
    with m.connect() as c:
        c.ehlo()
        rep = c.cmd("MAIL FROM:<s@client.test>")
        rep = c.cmd("RCPT TO:<alice@example.org>")
        t.is_(rep.code, 250, "the running tables still answer")
    # the same at start
    m.stop()
    try:
        m.start(timeout=5)
        started = True
    except t.MaildError:
        started = False
    t.ok(not started, "maild does not start with it")
    t.like(m.log_text(), r"%s \(a symbolic link to .*writable by group" % v, "and says why")
    # back to a file: SIGHUP reload works again
    os.unlink(v)
    copy(real, v, 0o644)
    m.start()
    k = m.key_file
    kreal = copy(k, os.path.join(base, "world-writable", "key-real.pem"),
                 0o600)
    os.unlink(k)
    os.symlink(kreal, k)
    os.kill(m.pid, signal.SIGHUP)
    # (the log holds the refused reload of the table above too)
    t.ok(t.wait_until(lambda: m.log_text().count(
        "keeping the running configuration") >= 2, 10),
         "SIGHUP with a key linked into a bad directory: reload refused")
    t.like(m.log_text(), r"%s \(a symbolic link to .*writable by group" % k,
           "the log says why")
    t.ok(m.running(), "maild keeps running")
    os.unlink(k)
    copy(kreal, k, 0o600)


def main():
    m = t.Maild()
    base = tempfile.mkdtemp(prefix="maild-52-dirs-", dir="/tmp")
    os.chmod(base, 0o755)
    try:
        accepted(m, "the harness's own setup", m.virtuals_file,
                 m.virtuals_file)
        t.section(tables, m, base)
        t.section(keys, m, base)
        t.section(start_and_reload, m, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


t.run(main)
