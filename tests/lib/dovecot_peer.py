"""
Dovecot as a reference IMAP server for the IMAP integration tests.

With MAILD_TEST_IMAP_PEER=dovecot in the environment, a maildtest.Maild
started with imap=True (or imap_starttls=True) also starts Dovecot
(Debian's dovecot-imapd, never installed as a service here: only its
binaries are used) on the IMAP ports of that Maild, serving the same
Maildirs that maild's delivery writes.  maild then serves SMTP only.

This is how the IMAP tests themselves were checked: a test that fails
against Dovecot on something other than maild's documented differences
(IMAP4rev2, APPENDLIMIT, the failed-login delay schedule, ...) is more
likely wrong than the server.  Not used by `make check`.
"""

import os
import pwd
import shutil
import signal
import subprocess
import time

DOVECOT = "/usr/sbin/dovecot"


def available():
    return os.access(DOVECOT, os.X_OK) and os.geteuid() == 0


class Dovecot:
    def __init__(self, m):
        self.m = m
        self.dir = os.path.join(m.dir, "dovecot")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.proc = None

    def write(self):
        m = self.m
        os.makedirs(self.dir, exist_ok=True)
        for d in ("run", "state"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        pw = pwd.getpwnam("vmail")
        # Dovecot's passwd-file wants user:{SCHEME}hash.
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            for line in m.passwd.splitlines():
                parts = line.split()
                if len(parts) == 2 and not line.startswith("#"):
                    f.write("%s:{BLF-CRYPT}%s\n" % (parts[0], parts[1]))
        os.makedirs(m.vmail, exist_ok=True)
        os.chown(m.vmail, pw.pw_uid, pw.pw_gid)
        listeners = []
        if m.imap_starttls:
            listeners.append("  inet_listener imap {\n    address = %s\n"
                             "    port = %d\n  }" % (m.addr, m.imap_port2))
        else:
            listeners.append("  inet_listener imap {\n    port = 0\n  }")
        if m.imap:
            listeners.append("  inet_listener imaps {\n    address = %s\n"
                             "    port = %d\n    ssl = yes\n  }"
                             % (m.addr, m.imap_port))
        else:
            listeners.append("  inet_listener imaps {\n    port = 0\n  }")
        boxes = "".join(
            "  mailbox %s {\n    special_use = \\%s\n    auto = create\n"
            "  }\n" % (b, b) for b in ("Sent", "Drafts", "Trash", "Junk",
                                      "Archive"))
        conf = """\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = {addr}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_failure_delay = 1 secs
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
mail_location = maildir:~
mail_uid = {uid}
mail_gid = {gid}
maildir_broken_filename_sizes = no
imap_capability = +IDLE
mail_max_userip_connections = 100
passdb {{
  driver = passwd-file
  args = {d}/passwd
}}
userdb {{
  driver = static
  args = home={vmail}/%d/%n
}}
namespace inbox {{
  inbox = yes
  separator = /
{boxes}}}
service imap-login {{
{listeners}
}}
service anvil {{
  chroot =
}}
""".format(d=self.dir, addr=m.addr, cert=m.cert_file, key=m.key_file,
           uid=pw.pw_uid, gid=pw.pw_gid, vmail=m.vmail, boxes=boxes,
           listeners="\n".join(listeners))
        with open(self.conf, "w") as f:
            f.write(conf)

    def start(self):
        self.write()
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        time.sleep(0.5)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "dovecot.log")) as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
