//! Who spent the CPU of a phase: the in-process server's threads (named `server`), the load
//! generator's own threads, and Redis (its `INFO cpu`). Divided by the requests of the phase this
//! is the CPU cost of one request on each side, the figure that says whether a ratio to raw Redis
//! measures the service or the machine it shares.
//!
//! Thread times come from `/proc/self/task/*/stat` (Linux); elsewhere, or for a server in another
//! process (`--url`), that part is left out rather than guessed.

use std::collections::HashMap;
use std::time::Duration;

use shared::config::RedisTarget;

/// Clock ticks per second of `/proc` times: the kernel's `USER_HZ`, 100 on every architecture this
/// runs on (asking `sysconf` would need `unsafe`, which the workspace forbids).
const USER_HZ: f64 = 100.0;

/// Cumulative CPU seconds at one instant.
#[derive(Debug, Clone, Default)]
struct Sample {
    /// Per thread id: whether it is one of the server's (named `server`: its runtime and blocking
    /// pool) and its CPU seconds so far.
    threads: HashMap<u64, (bool, f64)>,
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
    /// Where to ask Redis for its CPU time: the instance, or each seed node of a cluster.
    redis: Vec<redis::aio::MultiplexedConnection>,
}

/// A started measurement.
pub struct Running {
    start: Option<Sample>,
}

impl CpuMeter {
    /// A meter for a server in this process or not, and the Redis `redis` if any (a Redis that
    /// cannot be reached is left out of the figures, not an error). A cluster's figure is the sum
    /// over its seed nodes, all of them when the seeds list every node (the local cluster does).
    pub async fn new(in_process: bool, redis: Option<&RedisTarget>) -> Self {
        let mut connections = Vec::new();
        for url in redis.map(RedisTarget::urls).unwrap_or_default() {
            if let Ok(client) = redis::Client::open(url)
                && let Ok(conn) = client.get_multiplexed_async_connection().await
            {
                connections.push(conn);
            }
        }
        Self {
            in_process,
            redis: connections,
        }
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
        // Per thread, so that a thread ending meanwhile (an idle blocking-pool thread) takes only
        // its own time away rather than making a total go negative; one born meanwhile counts whole.
        let (mut server, mut generator) = (0.0, 0.0);
        for (tid, (is_server, seconds)) in &end.threads {
            let before = start.threads.get(tid).map_or(0.0, |(_, s)| *s);
            let spent = (seconds - before).max(0.0);
            if *is_server {
                server += spent;
            } else {
                generator += spent;
            }
        }
        Some(CpuUse {
            server: self.in_process.then_some(server),
            generator,
            redis: start.redis.zip(end.redis).map(|(a, b)| b - a),
        })
    }

    async fn sample(&self) -> Option<Sample> {
        let threads = thread_times()?;
        // A node that does not answer leaves the Redis figure out rather than understate it.
        let mut redis = (!self.redis.is_empty()).then_some(0.0);
        for conn in &self.redis {
            redis = match (redis, redis_cpu(conn.clone()).await) {
                (Some(sum), Some(node)) => Some(sum + node),
                _ => None,
            };
        }
        Some(Sample { threads, redis })
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

/// Each living thread of this process: whether it is the server's, and its CPU seconds.
fn thread_times() -> Option<HashMap<u64, (bool, f64)>> {
    let mut threads = HashMap::new();
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        if let Some((name, seconds)) = parse_stat(&stat) {
            threads.insert(tid, (name == "server", seconds));
        }
    }
    Some(threads)
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

    /// Busy for `cpu` of this thread's own CPU time (not wall time: on a loaded machine the
    /// scheduler may give a spinning thread a fraction of a core), at most 30 s of wall time.
    fn spin(cpu: Duration) {
        let own = || {
            std::fs::read_to_string("/proc/thread-self/stat")
                .ok()
                .and_then(|stat| parse_stat(&stat).map(|(_, seconds)| seconds))
                .unwrap_or(0.0)
        };
        let (started, wall) = (own(), std::time::Instant::now());
        let mut x = 0u64;
        while own() - started < cpu.as_secs_f64() && wall.elapsed() < Duration::from_secs(30) {
            for _ in 0..10_000 {
                x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
            }
        }
    }

    #[tokio::test]
    async fn a_phases_work_is_counted_and_a_thread_that_ends_meanwhile_takes_nothing_negative() {
        // A busy thread that lives through the start and ends before the stop: its time vanishes
        // from /proc, which must not make the figures negative.
        let (spun, spun_rx) = std::sync::mpsc::channel();
        let (end, end_rx) = std::sync::mpsc::channel::<()>();
        let short_lived = std::thread::spawn(move || {
            spin(Duration::from_millis(300));
            let _ = spun.send(());
            let _ = end_rx.recv();
        });
        spun_rx.recv().expect("the thread ran");
        let meter = CpuMeter::new(false, None).await;
        let running = meter.start().await;
        end.send(()).expect("the thread waits");
        short_lived.join().expect("joins");
        spin(Duration::from_millis(300));

        let used = meter.stop(running).await.expect("/proc is readable");

        assert!(used.generator >= 0.1, "this thread's work counts: {used:?}");
        assert_eq!(used.server, None, "no server in process was declared");
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
