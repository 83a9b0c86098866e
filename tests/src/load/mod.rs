//! The load generator of `loadgen` and `cargo bench-*`: simulated CLI clients against the
//! service, the same workload straight on Redis as a baseline, the seat invariant checked
//! throughout, and the release binaries' start-up time and memory.
//!
//! # Layout
//!
//! - [`scenario`]: the named workloads (`seed`, `contention`, `scale`, `peak`) and their knobs.
//! - [`args`]: the `loadgen` command line.
//! - [`target`]: the server under load, in process on either backend or at a URL.
//! - [`tenants`]: the tenants, members and seat counts set up on it.
//! - [`transport`]: a client's acquire, heartbeat and release, over HTTP (the SDK) or as raw
//!   EVALSHA of the very same Lua scripts.
//! - [`driver`]: the clients' loops for one phase.
//! - [`stats`]: latencies and error codes per endpoint.
//! - [`ledger`]: the seat invariant, from the clients' side and from the seat store's.
//! - [`run`]: one run of a scenario, phase by phase, baseline then service.
//! - [`report`]: the printed tables, ratios, targets, medians and JSON lines.
//! - [`binaries`]: size, cold start, idle and peak RSS of each release binary.

pub mod args;
pub mod binaries;
pub mod cpu;
pub mod driver;
pub mod ledger;
pub mod report;
pub mod run;
pub mod scenario;
pub mod stats;
pub mod target;
pub mod tenants;
pub mod transport;
