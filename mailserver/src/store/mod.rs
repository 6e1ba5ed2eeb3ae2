//! The mail store and spool: the durable spool of accepted messages, local delivery into
//! Maildirs (with autoreplies and loop detection), quotas, and the file modes they keep.

pub(crate) mod autoreply;
pub(crate) mod changes;
pub(crate) mod delivery;
pub(crate) mod loops;
pub(crate) mod outbound_queue;
pub(crate) mod perms;
pub(crate) mod quota;
pub(crate) mod spool;
