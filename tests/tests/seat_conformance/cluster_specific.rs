//! What only a Redis Cluster can do wrong: licenses must spread over every master, the scans that
//! span licenses (`pools`, `delete_all`) must visit every master, and a cluster that is down or
//! goes down must answer unavailable within a bound, never hang.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use integration_tests::redis_cluster::{LocalCluster, MASTERS, installed, shared};
use shared::seats::{RedisSeats, SeatError, SeatStore, new_session_id};
use uuid::Uuid;

use crate::{LONG, TTL, acquire, granted, on_redis, request, stranger};

/// Licenses spread over the masters: with random ids, a master holding none of 48 has odds
/// (2/3)^48 ≈ 4·10⁻⁹.
const LICENSES: usize = 48;

/// The longest one call may take against a cluster that is down: the cluster budget (4 s) and
/// some scheduling.
const DOWN_BOUND: Duration = Duration::from_secs(6);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(redis_tools), ignore = "redis-server is not installed")]
async fn pools_spread_over_every_master_and_pools_finds_each_of_them() {
    let Some(cluster) = shared() else { return };
    let prefix = format!("test:{}:", Uuid::new_v4().simple());
    let seeds = cluster.node_urls();
    let seed_refs: Vec<&str> = seeds.iter().map(String::as_str).collect();
    let seats = RedisSeats::cluster(&seed_refs, &prefix).expect("the seeds parse");
    let (nodes, under) = (seeds.clone(), prefix.clone());
    on_redis(seats.into(), move |seats| async move {
        // Arrange: one held seat in each of many licenses.
        let licenses: BTreeSet<Uuid> = (0..LICENSES).map(|_| Uuid::new_v4()).collect();
        for &license in &licenses {
            granted(acquire(&*seats, license, 1, LONG, &stranger()).await);
        }

        // Act
        let mut per_node = Vec::new();
        for node in &nodes {
            per_node.push(licenses_on(node, &under).await);
        }
        let pools: BTreeSet<Uuid> = seats
            .pools()
            .await
            .expect("pools answers")
            .into_iter()
            .collect();

        // Assert: every master holds some, the masters hold them all, and pools finds them all.
        assert_eq!(per_node.len(), MASTERS);
        for (node, held) in nodes.iter().zip(&per_node) {
            assert!(!held.is_empty(), "{node} holds no license's keys");
        }
        let union: BTreeSet<Uuid> = per_node.iter().flatten().copied().collect();
        assert_eq!(union, licenses);
        let total: usize = per_node.iter().map(BTreeSet::len).sum();
        assert_eq!(total, LICENSES, "a license's keys live on one master only");
        assert_eq!(pools, licenses);
    })
    .await;
    // And the clean-up after it reached every master.
    assert_eq!(count_on_all(&seeds, &prefix).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(redis_tools), ignore = "redis-server is not installed")]
async fn delete_all_removes_the_prefix_from_every_master() {
    let Some(cluster) = shared() else { return };
    let prefix = format!("test:{}:", Uuid::new_v4().simple());
    let seeds = cluster.node_urls();
    let seed_refs: Vec<&str> = seeds.iter().map(String::as_str).collect();
    let seats = RedisSeats::cluster(&seed_refs, &prefix).expect("the seeds parse");
    for _ in 0..LICENSES {
        granted(acquire(&seats, Uuid::new_v4(), 1, LONG, &stranger()).await);
    }
    let before: usize = count_on_all(&seeds, &prefix).await;
    assert!(before >= LICENSES, "{before} keys for {LICENSES} pools");

    seats.delete_all().await.expect("delete_all answers");

    assert_eq!(count_on_all(&seeds, &prefix).await, 0);
    assert!(seats.pools().await.expect("pools answers").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_cluster_answers_unavailable_quickly() {
    // Arrange: nothing listens on port 1.
    let seats = RedisSeats::cluster(&["redis://127.0.0.1:1"], "test:").expect("the URL parses");
    let license = Uuid::new_v4();

    // Act / Assert
    let started = Instant::now();
    let acquired = seats
        .acquire(&request(license, 1, TTL, &stranger()), &new_session_id())
        .await;
    assert!(
        matches!(acquired, Err(SeatError::Unavailable(_))),
        "{acquired:?}"
    );
    let ping = seats.ping().await;
    assert!(matches!(ping, Err(SeatError::Unavailable(_))), "{ping:?}");
    assert!(
        started.elapsed() < DOWN_BOUND,
        "two calls took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(redis_tools), ignore = "redis-server is not installed")]
async fn a_cluster_that_goes_down_answers_unavailable_within_a_bound() {
    // Arrange: a cluster of this test's own, in use.
    if installed().is_none() {
        return;
    }
    let cluster = tokio::task::spawn_blocking(LocalCluster::start)
        .await
        .expect("the start ran")
        .expect("a private cluster starts");
    let seeds = cluster.node_urls();
    let seed_refs: Vec<&str> = seeds.iter().map(String::as_str).collect();
    let seats = RedisSeats::cluster(&seed_refs, "test:down:").expect("the seeds parse");
    let license = Uuid::new_v4();
    let seat = granted(acquire(&seats, license, 1, LONG, &stranger()).await);

    // Act: every node stops.
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .expect("the nodes stopped");

    // Assert: each call fails as unavailable, each within the bound.
    let timed = Instant::now();
    let heartbeat = seats.heartbeat(license, &seat.id, LONG).await;
    assert!(
        matches!(heartbeat, Err(SeatError::Unavailable(_))),
        "{heartbeat:?}"
    );
    assert!(
        timed.elapsed() < DOWN_BOUND,
        "heartbeat took {:?}",
        timed.elapsed()
    );
    let timed = Instant::now();
    let acquired = seats
        .acquire(&request(license, 1, TTL, &stranger()), &new_session_id())
        .await;
    assert!(
        matches!(acquired, Err(SeatError::Unavailable(_))),
        "{acquired:?}"
    );
    assert!(
        timed.elapsed() < DOWN_BOUND,
        "acquire took {:?}",
        timed.elapsed()
    );
    let timed = Instant::now();
    let pools = seats.pools().await;
    assert!(matches!(pools, Err(SeatError::Unavailable(_))), "{pools:?}");
    assert!(
        timed.elapsed() < DOWN_BOUND,
        "pools took {:?}",
        timed.elapsed()
    );
}

/// The licenses whose keys under `prefix` one node holds, read from that node alone.
async fn licenses_on(node: &str, prefix: &str) -> BTreeSet<Uuid> {
    let start = prefix.len() + "{lic:".len();
    keys_on(node, prefix)
        .await
        .iter()
        .filter_map(|key| key.get(start..start + 36)?.parse().ok())
        .collect()
}

async fn count_on_all(nodes: &[String], prefix: &str) -> usize {
    let mut total = 0;
    for node in nodes {
        total += keys_on(node, prefix).await.len();
    }
    total
}

/// Every key under `prefix` on one node, by a plain (non-cluster) connection to it.
async fn keys_on(node: &str, prefix: &str) -> Vec<String> {
    let client = ::redis::Client::open(node).expect("the node URL parses");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("the node answers");
    let mut keys = Vec::new();
    let mut cursor = 0_u64;
    loop {
        let (next, batch): (u64, Vec<String>) = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}{{lic:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .expect("SCAN answers");
        keys.extend(batch);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}
