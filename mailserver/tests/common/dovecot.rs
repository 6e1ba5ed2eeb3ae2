//! A private Dovecot (Debian's dovecot-pop3d and dovecot-imapd) on 127.0.0.1: its own
//! configuration, passwd file, Maildirs and certificate (a private authority made with
//! rcgen), stopped when dropped. The remote POP3/IMAP server of the collection tests.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub struct Dovecot {
    pub dir: PathBuf,
    pub pop3: u16,
    pub imap: u16,
    /// The authority that signed its certificate (for `ca_file`).
    pub ca: PathBuf,
    config: PathBuf,
}

fn free() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Dovecot {
    /// Starts one with these users (`address`, `password`).
    pub fn start(users: &[(&str, &str)]) -> Self {
        // Short and world-traversable: Dovecot's sockets live here, its users read the mail.
        let dir = PathBuf::from(format!(
            "/tmp/sansmail-dovecot-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("home")).unwrap();
        let (ca, _, _) = super::private_ca(&dir);
        let passwd: String = users.iter().map(|(u, p)| format!("{u}:{{PLAIN}}{p}\n")).collect();
        std::fs::write(dir.join("passwd"), passwd).unwrap();
        let (pop3, imap) = (free(), free());
        let d = dir.display();
        let config = dir.join("dovecot.conf");
        std::fs::write(
            &config,
            format!(
                "base_dir = {d}/run\ninstance_name = {}\nprotocols = pop3 imap\nlisten = 127.0.0.1\n\
                 ssl = yes\nssl_cert = <{d}/cert.pem\nssl_key = <{d}/key.pem\n\
                 disable_plaintext_auth = yes\nauth_mechanisms = plain login\n\
                 passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {d}/passwd\n}}\n\
                 userdb {{\n  driver = static\n  args = uid=dovecot gid=dovecot home={d}/home/%u\n}}\n\
                 mail_location = maildir:{d}/home/%u/Maildir\nfirst_valid_uid = 1\n\
                 service pop3-login {{\n  inet_listener pop3 {{\n    port = {pop3}\n  }}\n  inet_listener pop3s {{\n    port = 0\n  }}\n}}\n\
                 service imap-login {{\n  inet_listener imap {{\n    port = {imap}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
                 log_path = {d}/dovecot.log\ndefault_internal_user = dovecot\ndefault_login_user = dovenull\n",
                dir.file_name().unwrap().to_string_lossy()
            ),
        )
        .unwrap();
        let mut perms = std::fs::metadata(&dir).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&dir, perms).unwrap();
        let d = Self { dir, pop3, imap, ca, config };
        let st = Command::new("/usr/sbin/dovecot")
            .arg("-c")
            .arg(&d.config)
            .status()
            .expect("dovecot is installed (scripts/test.sh)");
        assert!(st.success(), "dovecot did not start");
        assert!(
            super::wait_until(|| std::net::TcpStream::connect(("127.0.0.1", d.pop3)).is_ok()
                && std::net::TcpStream::connect(("127.0.0.1", d.imap)).is_ok()),
            "dovecot did not listen: {}",
            std::fs::read_to_string(d.dir.join("dovecot.log")).unwrap_or_default()
        );
        d
    }

    fn maildir(&self, user: &str) -> PathBuf {
        self.dir.join("home").join(user).join("Maildir")
    }

    /// Puts messages straight into a user's Maildir (`new/`), owned by Dovecot's user.
    pub fn put(&self, user: &str, messages: &[String]) {
        let m = self.maildir(user);
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(m.join(sub)).unwrap();
        }
        for (i, body) in messages.iter().enumerate() {
            let name = format!("{}.M{i}P{}.test,S={}", 1_700_000_000 + i, std::process::id(), body.len());
            std::fs::write(m.join("new").join(name), body).unwrap();
        }
        let st = Command::new("chown").args(["-R", "dovecot:dovecot"]).arg(self.dir.join("home")).status().unwrap();
        assert!(st.success());
    }

    /// The messages a user's Maildir holds (new and cur).
    pub fn count(&self, user: &str) -> usize {
        ["new", "cur"].iter().map(|s| std::fs::read_dir(self.maildir(user).join(s)).map_or(0, |d| d.count())).sum()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dovecot.log")).unwrap_or_default()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("/usr/sbin/dovecot").arg("-c").arg(&self.config).arg("stop").status();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
