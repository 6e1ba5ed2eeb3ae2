//! The protocol drivers: each protocol crate's server session run over a socket by the
//! one [`driver`] loop, its events answered by the protocol's handler with the policy,
//! identity and store layers.

pub(crate) mod driver;
pub(crate) mod imap;
pub(crate) mod pop3;
pub(crate) mod smtp;
