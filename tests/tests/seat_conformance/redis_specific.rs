//! What only Redis can do wrong: an unreachable server must answer unavailable quickly, and the
//! scripts must reload after a `SCRIPT FLUSH`.

use std::time::{Duration, Instant};

use integration_tests::backends::{backend_url, redis_seats};
use shared::seats::{RedisSeats, SeatError, SeatStore, new_session_id};
use uuid::Uuid;

use crate::{LONG, TTL, acquire, granted, heartbeat, live, on_redis, release, request, stranger};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_redis_answers_unavailable_quickly() {
    // Arrange: nothing listens on port 1.
    let seats = RedisSeats::new("redis://127.0.0.1:1", "test:").expect("the URL parses");
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
    let heartbeat = seats.heartbeat(license, "gone", TTL).await;
    assert!(
        matches!(heartbeat, Err(SeatError::Unavailable(_))),
        "{heartbeat:?}"
    );
    let ping = seats.ping().await;
    assert!(matches!(ping, Err(SeatError::Unavailable(_))), "{ping:?}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "three calls took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(real_redis), ignore = "REDIS_URL is not set")]
async fn the_scripts_survive_a_script_flush() {
    let (Some(url), Some(seats)) = (backend_url("REDIS_URL"), redis_seats()) else {
        return;
    };
    on_redis(seats, move |seats| async move {
        // Arrange: the scripts are loaded, then Redis forgets them (as after a restart). One
        // flush only: the Redis is shared, and others' scripts reload once, not twice.
        let license = Uuid::new_v4();
        let laptop = stranger();
        let seat = granted(acquire(&*seats, license, 1, LONG, &laptop).await);
        assert_eq!(live(&*seats, license).await, vec![seat.id.clone()]);
        assert_eq!(seats.reap(license).await.expect("reap answers"), 0);
        let client = ::redis::Client::open(url).expect("REDIS_URL parses");
        let mut admin = client
            .get_multiplexed_async_connection()
            .await
            .expect("a second connection");
        let () = ::redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut admin)
            .await
            .expect("SCRIPT FLUSH");

        // Act / Assert: every script runs again.
        assert!(heartbeat(&*seats, license, &seat.id).await.is_some());
        assert!(granted(acquire(&*seats, license, 1, LONG, &laptop).await).renewed);
        assert_eq!(live(&*seats, license).await, vec![seat.id.clone()]);
        assert_eq!(seats.reap(license).await.expect("reap answers"), 0);
        assert!(release(&*seats, license, &seat.id).await);
    })
    .await;
}
