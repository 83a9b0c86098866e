//! Helpers for the integration tests in `tests/tests/`: real backends when configured, emulator ID
//! tokens, the local server spawned on a free port, function binaries as processes ([`process`]),
//! the `coditect-license` CLI as a process ([`cli`]) and in a real terminal ([`terminal`]),
//! a local three-master Redis Cluster ([`redis_cluster`]), the load generator ([`load`]) and the
//! usage report's benchmark ([`usage_bench`]).
//!
//! Real-backend tests follow one rule: with `DATABASE_URL` / `REDIS_URL` set they run against those
//! servers; unset, they print that they were skipped — unless `CI` is set, where a missing variable
//! fails the test, so CI can never pass by skipping.

pub mod api;
pub mod backends;
pub mod cli;
pub mod load;
pub mod private_backends;
pub mod process;
pub mod redis_cluster;
pub mod server;
pub mod terminal;
pub mod tokens;
pub mod usage_bench;
