//! Unit tests of configuration parsing.

use super::*;

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
}

#[test]
fn no_variables_select_the_embedded_defaults() {
    let config = config(&[]).expect("defaults parse");
    assert_eq!(config.port, 8080);
    assert!(
        matches!(&config.database, Database::Sqlite(url) if url.expose().starts_with("sqlite://data/"))
    );
    assert_eq!(
        config.lease_signing_key,
        LeaseSigningKey::File {
            path: PathBuf::from("data/lease-signing-key.pem"),
            retired: vec![],
            generate: true,
        }
    );
    assert_eq!(config.lease_public_keys, None);
    assert_eq!(config.kms, KmsEndpoints::google());
    assert!(config.redis.is_none());
    assert_eq!(config.project_id, DEFAULT_PROJECT);
    assert!(config.identity_emulated());
    assert_eq!(config.seat_ttl, Duration::from_secs(360));
    assert_eq!(config.heartbeat_interval, Duration::from_secs(120));
}

#[test]
fn a_malformed_number_names_its_variable() {
    let err = config(&[("SEAT_TTL_SECONDS", "six minutes")]).expect_err("must fail");
    assert!(err.to_string().contains("SEAT_TTL_SECONDS"), "{err}");
}

#[test]
fn a_heartbeat_interval_at_or_above_the_ttl_is_refused() {
    let err = config(&[
        ("SEAT_TTL_SECONDS", "60"),
        ("HEARTBEAT_INTERVAL_SECONDS", "60"),
    ])
    .expect_err("must fail");
    assert!(
        err.to_string().contains("HEARTBEAT_INTERVAL_SECONDS"),
        "{err}"
    );
}

#[test]
fn a_database_url_of_another_kind_is_refused_without_echoing_it() {
    let err = config(&[("DATABASE_URL", "mysql://root:hunter2@db/x")]).expect_err("must fail");
    assert!(err.to_string().contains("DATABASE_URL"));
    assert!(!err.to_string().contains("hunter2"));
}

#[test]
fn secrets_do_not_print() {
    let config = config(&[("REDIS_URL", "redis://:hunter2@host:6379")]).expect("parses");
    assert!(!format!("{config:?}").contains("hunter2"));
}

#[test]
fn connection_limits_default_and_refuse_zero() {
    let defaults = config(&[]).expect("defaults parse");
    assert_eq!(defaults.header_read_timeout, Duration::from_secs(10));
    assert_eq!(defaults.keep_alive_timeout, Duration::from_secs(75));
    assert_eq!(defaults.max_connections, 10_000);
    assert_eq!(defaults.bind_address, None);
    for name in [
        "HEADER_READ_TIMEOUT_SECONDS",
        "KEEP_ALIVE_TIMEOUT_SECONDS",
        "MAX_CONNECTIONS",
    ] {
        let err = config(&[(name, "0")]).expect_err("0 is refused");
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn a_bind_address_must_be_an_ip_address() {
    let set = config(&[("BIND_ADDRESS", "::1")]).expect("parses");
    assert_eq!(set.bind_address, Some("::1".parse().expect("an address")));
    let err = config(&[("BIND_ADDRESS", "localhost")]).expect_err("a name is refused");
    assert!(err.to_string().contains("BIND_ADDRESS"), "{err}");
}

#[test]
fn a_redis_ca_is_read_as_a_path_with_a_tls_url() {
    let config = config(&[
        ("REDIS_URL", "rediss://:auth@10.0.0.3:6378"),
        ("REDIS_CA_CERT", "/etc/redis-ca/ca.pem"),
    ])
    .expect("parses");
    assert_eq!(
        config.redis_ca_cert,
        Some(PathBuf::from("/etc/redis-ca/ca.pem"))
    );
}

#[test]
fn a_redis_ca_with_a_plain_redis_url_names_both_variables() {
    let err = config(&[
        ("REDIS_URL", "redis://10.0.0.3:6379"),
        ("REDIS_CA_CERT", "/etc/redis-ca/ca.pem"),
    ])
    .expect_err("must fail");
    let message = err.to_string();
    assert!(message.contains("REDIS_CA_CERT"), "{message}");
    assert!(message.contains("REDIS_URL"), "{message}");
    let err = config(&[("REDIS_CA_CERT", "/etc/redis-ca/ca.pem")]).expect_err("must fail");
    assert!(err.to_string().contains("REDIS_CA_CERT"), "{err}");
}

#[test]
fn pem_content_in_place_of_the_redis_ca_path_is_refused() {
    let err = config(&[
        ("REDIS_URL", "rediss://10.0.0.3:6378"),
        ("REDIS_CA_CERT", "-----BEGIN CERTIFICATE-----\nMIIB\n"),
    ])
    .expect_err("must fail");
    assert!(err.to_string().contains("REDIS_CA_CERT"), "{err}");
    assert!(!err.to_string().contains("MIIB"), "{err}");
}

#[test]
fn a_real_project_is_not_emulated_unless_the_emulator_is_named() {
    let config = config(&[("GOOGLE_CLOUD_PROJECT", "coditect-prod")]).expect("parses");
    assert!(!config.identity_emulated());
}

const V1: &str = "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1";
const V2: &str = "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/2";

fn version(name: &str) -> KeyVersionName {
    KeyVersionName::parse(name).expect("a key version name")
}

#[test]
fn the_database_kind_is_decided_once() {
    let pg = config(&[("DATABASE_URL", "postgresql://u:p@10.0.0.5/licensing")]).expect("parses");
    assert!(matches!(pg.database, Database::Postgres(_)));
    let file = config(&[("DATABASE_URL", "sqlite:///tmp/x.db")]).expect("parses");
    assert!(matches!(file.database, Database::Sqlite(_)));
}

#[test]
fn a_kms_signing_key_and_its_retired_versions_are_typed() {
    let config = config(&[
        ("LEASE_SIGNING_KEY", V2),
        ("LEASE_RETIRED_KEYS", &format!(" {V1} ,")),
        ("LEASE_PUBLIC_KEYS", &format!("{V1},{V2}")),
    ])
    .expect("parses");
    assert_eq!(
        config.lease_signing_key,
        LeaseSigningKey::Kms {
            version: version(V2),
            retired: vec![version(V1)],
        }
    );
    assert_eq!(
        config.lease_public_keys,
        Some(LeasePublicKeys::Kms(vec![version(V1), version(V2)]))
    );
}

#[test]
fn a_configured_key_file_is_never_generated() {
    let config = config(&[
        ("LEASE_SIGNING_KEY", "/secrets/lease.pem"),
        ("LEASE_RETIRED_KEYS", "/secrets/old.pem"),
        ("LEASE_PUBLIC_KEYS", "/secrets/jwks.json"),
    ])
    .expect("parses");
    assert_eq!(
        config.lease_signing_key,
        LeaseSigningKey::File {
            path: PathBuf::from("/secrets/lease.pem"),
            retired: vec![PathBuf::from("/secrets/old.pem")],
            generate: false,
        }
    );
    assert_eq!(
        config.lease_public_keys,
        Some(LeasePublicKeys::JwksFile(PathBuf::from(
            "/secrets/jwks.json"
        )))
    );
}

#[test]
fn a_kms_signing_key_must_be_published_first() {
    let err = config(&[("LEASE_SIGNING_KEY", V2), ("LEASE_PUBLIC_KEYS", V1)]).expect_err("refused");
    assert!(
        err.to_string().contains("not in LEASE_PUBLIC_KEYS"),
        "{err}"
    );
}

#[test]
fn retired_keys_are_of_the_signing_key_kind() {
    for vars in [
        [("LEASE_SIGNING_KEY", V2), ("LEASE_RETIRED_KEYS", "old.pem")],
        [("LEASE_SIGNING_KEY", "key.pem"), ("LEASE_RETIRED_KEYS", V1)],
    ] {
        let err = config(&vars).expect_err("refused");
        assert!(err.to_string().contains("LEASE_RETIRED_KEYS"), "{err}");
    }
}

#[test]
fn a_partial_kms_name_is_refused_where_it_is_written() {
    for name in [
        "LEASE_SIGNING_KEY",
        "LEASE_PUBLIC_KEYS",
        "LEASE_RETIRED_KEYS",
    ] {
        let vars = [(name, "projects/p/keyRings/r")];
        let err = config(&vars).expect_err("refused");
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn kms_endpoints_can_point_at_fakes() {
    let config = config(&[
        ("CLOUD_KMS_ENDPOINT", "http://127.0.0.1:9000/"),
        ("GCE_METADATA_HOST", "127.0.0.1:9001"),
    ])
    .expect("parses");
    assert_eq!(config.kms.kms_api, "http://127.0.0.1:9000");
    assert_eq!(config.kms.metadata, "http://127.0.0.1:9001");
}

#[test]
fn the_embedded_default_offers_the_demo_sign_in_with_the_emulator_api_key() {
    let config = config(&[]).expect("parses");
    assert!(config.demo_sign_in());
    assert_eq!(config.sign_in.api_key.as_deref(), Some("fake-api-key"));
    assert!(!config.sign_in.emulator);
}

#[test]
fn an_emulator_host_points_sign_in_at_the_emulator_and_ends_the_demo_sign_in() {
    let config = config(&[("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")]).expect("parses");
    assert!(!config.demo_sign_in());
    assert!(config.sign_in.emulator);
    assert_eq!(
        config.sign_in.identity_toolkit_url,
        "http://127.0.0.1:9099/identitytoolkit.googleapis.com"
    );
    assert_eq!(
        config.sign_in.secure_token_url,
        "http://127.0.0.1:9099/securetoken.googleapis.com"
    );
}

#[test]
fn a_real_project_signs_in_at_google_with_the_configured_api_key_only() {
    let unset = config(&[("GOOGLE_CLOUD_PROJECT", "coditect-prod")]).expect("parses");
    assert_eq!(unset.sign_in.api_key, None);
    assert!(!unset.demo_sign_in());
    let set = config(&[
        ("GOOGLE_CLOUD_PROJECT", "coditect-prod"),
        ("IDENTITY_API_KEY", " AIzaPublicKey "),
    ])
    .expect("parses");
    assert_eq!(set.sign_in.api_key.as_deref(), Some("AIzaPublicKey"));
    assert_eq!(
        set.sign_in.identity_toolkit_url,
        "https://identitytoolkit.googleapis.com"
    );
    assert_eq!(
        set.sign_in.secure_token_url,
        "https://securetoken.googleapis.com"
    );
}

#[test]
fn rate_limits_default_to_ten_a_minute_per_machine_and_thirty_per_seat() {
    let limits = config(&[]).expect("defaults parse").rate_limits;
    assert_eq!(limits, RateLimits::default());
    let minute = Duration::from_secs(60);
    let acquire = limits.acquire(5);
    assert_eq!(acquire.per_machine, crate::seats::Rate::new(10, minute));
    assert_eq!(acquire.per_license, crate::seats::Rate::new(150, minute));
    assert_eq!(limits.release(), crate::seats::Rate::new(10, minute));
}

#[test]
fn a_rate_of_zero_turns_that_limit_off_and_a_zero_window_is_refused() {
    let limits = config(&[
        ("ACQUIRE_RATE_PER_MACHINE", "0"),
        ("ACQUIRE_RATE_PER_SEAT", "2"),
        ("RELEASE_RATE_PER_MACHINE", "0"),
        ("RATE_LIMIT_WINDOW_SECONDS", "10"),
    ])
    .expect("parses")
    .rate_limits;
    let acquire = limits.acquire(3);
    assert_eq!(acquire.per_machine, None);
    assert_eq!(
        acquire.per_license,
        crate::seats::Rate::new(6, Duration::from_secs(10))
    );
    assert_eq!(limits.release(), None);
    let err = config(&[("RATE_LIMIT_WINDOW_SECONDS", "0")]).expect_err("must fail");
    assert!(
        err.to_string().contains("RATE_LIMIT_WINDOW_SECONDS"),
        "{err}"
    );
}

#[test]
fn metrics_are_served_only_where_asked_and_never_on_cloud_run() {
    assert_eq!(config(&[]).expect("parses").metrics_address, None);
    let set = config(&[("METRICS_ADDRESS", "127.0.0.1:9464")]).expect("parses");
    assert_eq!(
        set.metrics_address,
        Some("127.0.0.1:9464".parse().expect("an address"))
    );
    let err = config(&[("METRICS_ADDRESS", "9464")]).expect_err("a port alone is refused");
    assert!(err.to_string().contains("METRICS_ADDRESS"), "{err}");
    let err = config(&[
        ("METRICS_ADDRESS", "127.0.0.1:9464"),
        ("K_SERVICE", "acquire"),
    ])
    .expect_err("refused on Cloud Run");
    assert!(err.to_string().contains("Cloud Monitoring"), "{err}");
}

#[test]
fn one_redis_url_is_one_instance() {
    let config = config(&[("REDIS_URL", " redis://10.0.0.3:6379 ")]).expect("parses");
    assert_eq!(
        config.redis,
        Some(RedisTarget::Instance(Secret::new("redis://10.0.0.3:6379")))
    );
}

#[test]
fn a_cluster_takes_its_seed_nodes_from_redis_url() {
    let config = config(&[
        ("REDIS_URL", "redis://10.0.0.3:6379, redis://10.0.0.4:6379,"),
        ("REDIS_CLUSTER", "true"),
    ])
    .expect("parses");
    assert_eq!(
        config.redis,
        Some(RedisTarget::Cluster(vec![
            Secret::new("redis://10.0.0.3:6379"),
            Secret::new("redis://10.0.0.4:6379"),
        ]))
    );
    let discovery = config_of_one_seed();
    assert_eq!(
        discovery.redis,
        Some(RedisTarget::Cluster(vec![Secret::new(
            "rediss://10.0.0.5:6379"
        )]))
    );
    assert_eq!(
        discovery.redis_ca_cert,
        Some(PathBuf::from("/etc/redis-ca/ca.pem"))
    );
}

fn config_of_one_seed() -> Config {
    config(&[
        ("REDIS_URL", "rediss://10.0.0.5:6379"),
        ("REDIS_CLUSTER", "TRUE"),
        ("REDIS_CA_CERT", "/etc/redis-ca/ca.pem"),
    ])
    .expect("a discovery endpoint with TLS parses")
}

#[test]
fn several_redis_urls_without_redis_cluster_are_refused_naming_it() {
    let err = config(&[(
        "REDIS_URL",
        "redis://:pw@10.0.0.3:6379,redis://:pw@10.0.0.4:6379",
    )])
    .expect_err("must fail");
    let message = err.to_string();
    assert!(message.contains("REDIS_URL"), "{message}");
    assert!(message.contains("REDIS_CLUSTER=true"), "{message}");
    assert!(!message.contains("pw@"), "{message}");
    let err = config(&[
        ("REDIS_URL", "redis://10.0.0.3:6379"),
        ("REDIS_CLUSTER", "false"),
    ])
    .map(|c| c.redis);
    assert!(matches!(err, Ok(Some(RedisTarget::Instance(_)))), "{err:?}");
}

#[test]
fn a_cluster_without_seeds_or_with_mixed_tls_is_refused() {
    let err = config(&[("REDIS_CLUSTER", "true")]).expect_err("no seeds");
    assert!(err.to_string().contains("REDIS_URL"), "{err}");
    let err = config(&[
        ("REDIS_URL", "rediss://10.0.0.3:6379,redis://10.0.0.4:6379"),
        ("REDIS_CLUSTER", "true"),
    ])
    .expect_err("mixed TLS");
    assert!(err.to_string().contains("rediss://"), "{err}");
    let err = config(&[
        ("REDIS_URL", "redis://10.0.0.3:6379,http://10.0.0.4"),
        ("REDIS_CLUSTER", "true"),
    ])
    .expect_err("not a Redis URL");
    assert!(err.to_string().contains("REDIS_URL"), "{err}");
}

#[test]
fn redis_cluster_must_be_a_boolean() {
    let err = config(&[
        ("REDIS_URL", "redis://10.0.0.3:6379"),
        ("REDIS_CLUSTER", "sometimes"),
    ])
    .expect_err("must fail");
    assert!(err.to_string().contains("REDIS_CLUSTER"), "{err}");
}

#[test]
fn a_redis_ca_with_a_plain_cluster_is_refused() {
    let err = config(&[
        ("REDIS_URL", "redis://10.0.0.3:6379,redis://10.0.0.4:6379"),
        ("REDIS_CLUSTER", "true"),
        ("REDIS_CA_CERT", "/etc/redis-ca/ca.pem"),
    ])
    .expect_err("must fail");
    assert!(err.to_string().contains("REDIS_CA_CERT"), "{err}");
}
