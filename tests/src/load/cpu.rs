//! Who spent the CPU of a phase: the in-process server's threads (named `server`), the load
//! generator's own threads, and Redis (its `INFO cpu`). Divided by the requests of the phase this
//! is the CPU cost of one request on each side, the figure that says whether a ratio to raw Redis
//! measures the service or the machine it shares.
//!
//! Thread times come from `/proc/self/task/*/stat` (Linux); elsewhere, or for a server in another
//! process (`--url`), that part is left out rather than guessed.

use std::time::Duration;

/// Clock ticks per second of `/proc` times: the kernel's `USER_HZ`, 100 on every architecture this
/// runs on (asking `sysconf` would need `unsafe`, which the workspace forbids).
const USER_HZ: f64 = 100.0;

/// Cumulative CPU seconds at one instant.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    /// Threads named `server`: the in-process server's runtime.
    server: f64,
    /// Every other thread of this process: the load generator.
    generator: f64,
    /// Redis's user + system time, when a Redis was given and answered.
    redis: Option<f64>,
}

/// CPU used during a phase, in seconds per side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuUse {
    /// The in-process server; `None` when the server runs elsewhere.
    pub server: Option<f64>,
    /// The load generator.
    pub generator: f64,
    /// Redis; `None` without a Redis to ask.
    pub redis: Option<f64>,
}

/// Takes [`CpuUse`] figures around a phase.
pub struct CpuMeter {
    /// Whether the server runs in this process (its threads are counted apart).
    in_process: bool,
    /// Where to ask Redis for its CPU time.
    redis: Option<redis::aio::MultiplexedConnection>,
}

/// A started measurement.
pub struct Running {
    start: Option<Sample>,
}

impl CpuMeter {
    /// A meter for a server in this process or not, and the Redis at `redis_url` if any (a Redis
    /// that cannot be reached is left out of the figures, not an error).
    pub async fn new(in_process: bool, redis_url: Option<&str>) -> Self {
        let redis = match redis_url {
            Some(url) => match redis::Client::open(url) {
                Ok(client) => client.get_multiplexed_async_connection().await.ok(),
                Err(_) => None,
            },
            None => None,
        };
        Self { in_process, redis }
    }

    /// Starts measuring.
    pub async fn start(&self) -> Running {
        Running {
            start: self.sample().await,
        }
    }

    /// The CPU used since `running` started; `None` where `/proc` cannot be read.
    pub async fn stop(&self, running: Running) -> Option<CpuUse> {
        let (start, end) = (running.start?, self.sample().await?);
        Some(CpuUse {
            server: self.in_process.then_some(end.server - start.server),
            generator: end.generator - start.generator,
            redis: start.redis.zip(end.redis).map(|(a, b)| b - a),
        })
    }

    async fn sample(&self) -> Option<Sample> {
        let (server, generator) = thread_times()?;
        let redis = match &self.redis {
            Some(conn) => redis_cpu(conn.clone()).await,
            None => None,
        };
        Some(Sample {
            server,
            generator,
            redis,
        })
    }
}

impl CpuUse {
    /// Microseconds of CPU per request of each side, from cores (as [`Self::cores`] gives) and
    /// the requests per second they served.
    pub fn per_request(&self, per_second: f64) -> CpuUse {
        let per = |cores: f64| cores * 1e6 / per_second.max(f64::EPSILON);
        CpuUse {
            server: self.server.map(per),
            generator: per(self.generator),
            redis: self.redis.map(per),
        }
    }

    /// Each side's CPU in cores (seconds of CPU per second of `elapsed`).
    pub fn cores(&self, elapsed: Duration) -> CpuUse {
        let per = |seconds: f64| seconds / elapsed.as_secs_f64().max(f64::EPSILON);
        CpuUse {
            server: self.server.map(per),
            generator: per(self.generator),
            redis: self.redis.map(per),
        }
    }
}

/// CPU seconds of this process's `server` threads and of the others, living threads only (a
/// thread that ended since the start takes its time with it, which the phases' long-lived
/// runtimes never do).
fn thread_times() -> Option<(f64, f64)> {
    let (mut server, mut generator) = (0.0, 0.0);
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let Some((name, seconds)) = parse_stat(&stat) else {
            continue;
        };
        if name == "server" {
            server += seconds;
        } else {
            generator += seconds;
        }
    }
    Some((server, generator))
}

/// The thread name and user + system seconds of a `/proc/<pid>/task/<tid>/stat` line.
fn parse_stat(stat: &str) -> Option<(&str, f64)> {
    // The name is in parentheses and may itself hold spaces or parentheses: take the last `)`.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?;
    let mut fields = stat.get(close + 2..)?.split(' ');
    // After the name: state is field 3, utime field 14 and stime field 15 (man 5 proc).
    let utime: f64 = fields.nth(11)?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((name, (utime + stime) / USER_HZ))
}

/// Redis's `used_cpu_user + used_cpu_sys`, in seconds.
async fn redis_cpu(mut conn: redis::aio::MultiplexedConnection) -> Option<f64> {
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(&mut conn)
        .await
        .ok()?;
    let field = |name: &str| -> Option<f64> {
        info.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))?
            .trim()
            .parse()
            .ok()
    };
    Some(field("used_cpu_user")? + field("used_cpu_sys")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_the_thread_name_and_its_cpu_seconds() {
        let line = "4242 (tokio-rt-worker) S 1 2 3 0 -1 4194368 10 0 0 0 250 75 0 0 20 0 4 0 99";
        assert_eq!(parse_stat(line), Some(("tokio-rt-worker", 3.25)));
    }

    #[test]
    fn a_thread_name_with_spaces_and_parentheses_is_read_whole() {
        let line = "7 (a (b) c) R 1 2 3 0 -1 0 0 0 0 0 100 100 0 0 20 0 1 0 5";
        assert_eq!(parse_stat(line), Some(("a (b) c", 2.0)));
    }

    #[test]
    fn this_threads_time_is_found_and_grows_with_work() {
        let (_, before) = thread_times().expect("/proc is readable");
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
        let (_, after) = thread_times().expect("/proc is readable");
        assert!(after - before >= 0.1, "{before} → {after}");
    }

    #[test]
    fn cores_and_cost_per_request_divide_each_side() {
        let used = CpuUse {
            server: Some(2.0),
            generator: 1.0,
            redis: None,
        };
        assert_eq!(
            used.per_request(100_000.0),
            CpuUse {
                server: Some(20.0),
                generator: 10.0,
                redis: None
            }
        );
        assert_eq!(
            used.cores(Duration::from_secs(4)),
            CpuUse {
                server: Some(0.5),
                generator: 0.25,
                redis: None
            }
        );
    }
}
