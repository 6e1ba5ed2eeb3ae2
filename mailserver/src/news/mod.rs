//! The news service's parts that are not the protocol: the spool ([`store`]).
//!
//! The NNTP listeners, the newsgroups' configuration, feeds and the mail↔news gateway come
//! with the rest of their issue; the spool lands first, with its tests, so that what they
//! build on is settled: durable articles, numbers never given twice, and a spool a crash
//! cannot leave inconsistent.

pub(crate) mod store;
