//! The named workloads and the knobs every one of them shares.
//!
//! A workload is a fleet of simulated CLI clients spread over licenses; a scenario runs it in one
//! or more phases. The presets fix what each named command means, so a figure in `BENCHMARKS.md`
//! names its scenario and any flag that changed it.

use std::time::Duration;

/// What the clients do during a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `GET /healthz` against `PING`, back to back: the ceiling that HTTP itself, the middleware
    /// and the load generator put on this machine, whatever the endpoint behind.
    Floor,
    /// Acquire, heartbeat (`heartbeats_per_session` times, or until the end), release, again;
    /// a denied client backs off and retries.
    Lifecycle,
    /// Acquire once, then heartbeat back to back: the heartbeat path at its saturation point.
    HeartbeatOnly,
    /// Acquire back to back, each time from a new machine, so every call is a new grant: the
    /// acquire path at its saturation point (the cap is set out of reach).
    AcquireOnly,
}

impl Phase {
    /// The phase called `name` (as [`Phase::name`] spells it).
    pub fn named(name: &str) -> Option<Self> {
        [
            Self::Floor,
            Self::Lifecycle,
            Self::HeartbeatOnly,
            Self::AcquireOnly,
        ]
        .into_iter()
        .find(|p| p.name() == name)
    }

    /// The phase's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Floor => "floor",
            Self::Lifecycle => "lifecycle",
            Self::HeartbeatOnly => "heartbeat-only",
            Self::AcquireOnly => "acquire-only",
        }
    }
}

/// The fleet and its pace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// Simulated CLI processes, each on its own machine (fingerprint).
    pub clients: usize,
    /// Licenses (one tenant each); clients are dealt round-robin over them.
    pub licenses: usize,
    /// `max_seats` of every license.
    pub seats: u32,
    /// Members per license the clients sign in as (round-robin); their denials take the cheap
    /// path (owners' and admins' denials also list the holders).
    pub users_per_license: usize,
    /// How long each phase runs.
    pub duration: Duration,
    /// Pause between a session's heartbeats (in the acquire-only phase, between acquires); zero
    /// means back to back (a closed loop).
    pub heartbeat_interval: Duration,
    /// Heartbeats before a session is released; `None` holds it until the phase ends.
    pub heartbeats_per_session: Option<u32>,
    /// A denied (or failed) client waits a random time in this range before trying again: a
    /// compressed `Retry-After`, which rounds up to whole seconds and would idle the fleet.
    pub backoff: (Duration, Duration),
    /// Whether an in-process server keeps its default rate limits (`contention`, the storm they
    /// exist for); the other presets measure the seat path and turn them off. A server given by
    /// `--url` has its own.
    pub rate_limits: bool,
    /// Client starts are spread evenly over this time, as CLIs do not all start at once; they
    /// stop over the last stretch of the same length, in the same order.
    pub ramp: Duration,
}

/// A named scenario: a workload and its phases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// The command that selects it.
    pub name: &'static str,
    /// One line for the report.
    pub summary: &'static str,
    /// The fleet.
    pub workload: Workload,
    /// Run in order, each for `workload.duration`, each against the HTTP service and raw Redis.
    pub phases: Vec<Phase>,
}

/// Every named scenario, for `--help`.
pub const NAMES: [&str; 4] = ["seed", "contention", "scale", "peak"];

/// A cap no run reaches, for phases that measure grants rather than denials.
pub const UNREACHABLE_SEATS: u32 = 1_000_000;

impl Scenario {
    /// The preset called `name`.
    pub fn named(name: &str) -> Option<Self> {
        let ms = Duration::from_millis;
        let secs = Duration::from_secs;
        let scenario = match name {
            "seed" => Self {
                name: "seed",
                summary: "the seed's load test: 100 concurrent users, each looping acquire, 10 \
                          heartbeats, release with no pause (closed loop), 10 licenses of 10 seats",
                workload: Workload {
                    clients: 100,
                    licenses: 10,
                    seats: 10,
                    users_per_license: 10,
                    duration: secs(20),
                    heartbeat_interval: Duration::ZERO,
                    heartbeats_per_session: Some(10),
                    backoff: (ms(50), ms(150)),
                    ramp: ms(500),
                    rate_limits: false,
                },
                phases: vec![Phase::Lifecycle],
            },
            "contention" => Self {
                name: "contention",
                summary: "1 000 clients racing for the 10 seats of one license: hold a seat for 5 \
                          heartbeats 100 ms apart, release, retry 100-300 ms after a denial",
                workload: Workload {
                    clients: 1000,
                    licenses: 1,
                    seats: 10,
                    users_per_license: 10,
                    duration: secs(20),
                    heartbeat_interval: ms(100),
                    heartbeats_per_session: Some(5),
                    backoff: (ms(100), ms(300)),
                    ramp: ms(500),
                    rate_limits: true,
                },
                phases: vec![Phase::Lifecycle],
            },
            "scale" => Self {
                name: "scale",
                summary: "10 000 live sessions (100 licenses of 100 seats) heartbeating every 5 s \
                          (the 120 s interval compressed 24x), held for the whole run",
                workload: Workload {
                    clients: 10_000,
                    licenses: 100,
                    seats: 100,
                    users_per_license: 10,
                    duration: secs(30),
                    heartbeat_interval: secs(5),
                    heartbeats_per_session: None,
                    backoff: (ms(500), ms(1500)),
                    ramp: secs(5),
                    rate_limits: false,
                },
                phases: vec![Phase::Lifecycle],
            },
            "peak" => Self {
                name: "peak",
                summary: "the targets' measurement: 50 closed-loop clients calling /healthz (the \
                          HTTP floor), then heartbeating back to back, then acquiring back to back \
                          (a new machine each time)",
                workload: Workload {
                    clients: 50,
                    licenses: 50,
                    seats: UNREACHABLE_SEATS,
                    users_per_license: 1,
                    duration: secs(10),
                    heartbeat_interval: Duration::ZERO,
                    heartbeats_per_session: None,
                    backoff: (ms(10), ms(20)),
                    ramp: Duration::ZERO,
                    rate_limits: false,
                },
                phases: vec![Phase::Floor, Phase::HeartbeatOnly, Phase::AcquireOnly],
            },
            _ => return None,
        };
        Some(scenario)
    }
}

impl Workload {
    /// The license client `index` draws from.
    pub fn license_of(&self, client: usize) -> usize {
        client % self.licenses
    }

    /// Members to register per license: no more than the clients that will sign in there.
    pub fn members_per_license(&self) -> usize {
        let clients_here = self.clients.div_ceil(self.licenses.max(1));
        self.users_per_license.clamp(1, clients_here.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_scenario_has_a_preset() {
        for name in NAMES {
            let scenario = Scenario::named(name).expect("preset");
            assert_eq!(scenario.name, name);
            assert!(scenario.workload.clients >= scenario.workload.licenses);
        }
        assert!(Scenario::named("nope").is_none());
    }

    #[test]
    fn members_never_outnumber_the_clients_of_a_license() {
        let mut workload = Scenario::named("peak").expect("peak").workload;
        assert_eq!(workload.members_per_license(), 1);
        workload.users_per_license = 0;
        assert_eq!(workload.members_per_license(), 1);
        // One client per license (50 for 50): five users would leave four never signing in.
        workload.users_per_license = 5;
        assert_eq!(workload.members_per_license(), 1);
        // 10 clients on 3 licenses: at most 4 sign in on one, so 9 users are cut to 4; 2 stay 2.
        (
            workload.clients,
            workload.licenses,
            workload.users_per_license,
        ) = (10, 3, 9);
        assert_eq!(workload.members_per_license(), 4);
        workload.users_per_license = 2;
        assert_eq!(workload.members_per_license(), 2);
    }
}
