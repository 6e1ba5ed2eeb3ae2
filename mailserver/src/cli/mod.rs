//! Command-line subcommands beyond `serve` that work on the data directory.

pub(crate) mod checks;
pub(crate) mod dkim;
pub(crate) mod fetch;
pub(crate) mod gateway;
pub(crate) mod news;
pub(crate) mod queue;
