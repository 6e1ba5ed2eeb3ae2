//! Sender authentication: DKIM signing of the mail that leaves (`keys.rs`, `sign.rs`), and
//! SPF, DKIM, DMARC and ARC checks of the mail that arrives. The cryptography, the record
//! parsing and the SPF/DMARC evaluation are `mail-auth`'s; DNS is hickory-resolver's.

pub(crate) mod fields;
pub(crate) mod keys;
pub(crate) mod sign;
pub(crate) mod spf_syntax;
pub(crate) mod verify;
