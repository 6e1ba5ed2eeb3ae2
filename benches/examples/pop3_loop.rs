//! Parses the POP3 bench corpus 20,000 times, for instruction counts under callgrind:
//!
//! ```sh
//! cargo build --release -p sansmail-benches --example pop3_loop
//! valgrind --tool=callgrind target/release/examples/pop3_loop
//! ```
#![allow(missing_docs, clippy::panic)]
use sansmail_pop3_proto::Command;
use sansmail_pop3_proto::Status;
fn main() {
    let mut t = String::from(
        "CAPA\r\nSTLS\r\nCAPA\r\nUSER alice@example.org\r\nPASS correct horse battery staple\r\nSTAT\r\nUIDL\r\nLIST\r\n",
    );
    for i in 1..=20 {
        t.push_str(&format!("TOP {i} 0\r\nRETR {i}\r\nDELE {i}\r\n"));
    }
    let input = t.into_bytes();
    let mut n = 0;
    for _ in 0..20000 {
        let mut rest = std::hint::black_box(&input[..]);
        while let Ok(Status::Complete((cmd, used))) = Command::parse(rest) {
            std::hint::black_box(&cmd);
            rest = &rest[used..];
            n += 1;
        }
    }
    assert!(n > 0);
}
