//! Every rejection the framework makes before a handler runs answers `application/problem+json`
//! with a stable code, on every function's routes (all mounted on the local server): a body over
//! the limit (with a `Content-Length` or streamed chunked without one), a bad query string, a
//! malformed path parameter, malformed JSON, JSON of the wrong type, a missing or wrong
//! `Content-Type`, a method the route does not allow (with its `Allow` header) and an unknown path.
//!
//! Run: `cargo test -p integration-tests --test framework_rejections`

use integration_tests::api::{Reply, register};
use integration_tests::server::TestServer;
use integration_tests::tokens::Person;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use shared::api::{ProblemCode, RegisterResponse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ACQUIRE: &str = "/api/v1/licenses/acquire";
const HEARTBEAT: &str = "/api/v1/licenses/heartbeat";
const RELEASE: &str = "/api/v1/licenses/release";
const REGISTER: &str = "/api/v1/register";
const WEBHOOK: &str = "/api/v1/stripe/webhook";
/// The webhook's own limit (`stripe_webhook::WEBHOOK_BODY_LIMIT`), above `MAX_BODY_BYTES`.
const WEBHOOK_LIMIT: usize = 1024 * 1024;

/// A request as a hostile or careless client sends it: any method, headers and raw body.
async fn raw(
    server: &TestServer,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Reply {
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", server.url));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().await.expect("the server answers");
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.expect("a body"),
    }
}

/// `POST path` with a body of `size` bytes streamed chunked (no `Content-Length`), over a raw
/// connection; the answer is read while the body is still being sent, as the server may answer
/// as soon as the limit is passed.
async fn chunked(server: &TestServer, path: &str, headers: &[(&str, &str)], size: usize) -> Reply {
    let address = server.url.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let (mut read, mut write) = stream.into_split();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: {address}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let sending = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await?;
        let chunk = vec![b' '; 16 * 1024];
        let mut sent = 0;
        while sent < size {
            write
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            write.write_all(&chunk).await?;
            write.write_all(b"\r\n").await?;
            sent += chunk.len();
        }
        write.write_all(b"0\r\n\r\n").await?;
        write.shutdown().await
    });
    let mut answer = Vec::new();
    let read_all = read.read_to_end(&mut answer);
    // A reset after the answer arrived (the server stops reading the body) is fine.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), read_all)
        .await
        .expect("the server answers within 10 s");
    sending.abort();
    parse_http1(&answer)
}

/// A raw HTTP/1.1 answer with a `Content-Length` body, as a [`Reply`].
#[track_caller]
fn parse_http1(answer: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete answer: {text:?}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {status_line:?}"));
    let mut headers = HeaderMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':')
            && let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.trim().as_bytes()),
                HeaderValue::from_str(value.trim()),
            )
        {
            headers.append(name, value);
        }
    }
    Reply {
        status: StatusCode::from_u16(status).expect("a status"),
        headers,
        text: body.to_owned(),
    }
}

/// Asserts `reply` is a problem+json of `status` and `code`.
#[track_caller]
fn assert_problem(reply: &Reply, status: StatusCode, code: ProblemCode, what: &str) {
    assert_eq!(
        (reply.status, reply.code()),
        (status, Some(code)),
        "{what}: {} {}",
        reply.content_type(),
        reply.text
    );
    let problem = reply.problem();
    assert_eq!(problem.status, status.as_u16(), "{what}");
    assert!(problem.request_id.is_some(), "{what}: no request id");
}

/// A registered owner's token and tenant id.
async fn owner(server: &TestServer) -> (String, String) {
    let person = Person::at("rejections.test");
    let reply = register(&server.url, &person).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    (
        person.token(),
        reply.json::<RegisterResponse>().tenant.id.to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_a_413_problem_with_or_without_a_content_length() {
    let server = TestServer::embedded(&[("MAX_BODY_BYTES", "4096")]).await;
    let (token, tenant) = owner(&server).await;
    let bearer = format!("Bearer {token}");
    let json = [
        ("content-type", "application/json"),
        ("authorization", bearer.as_str()),
    ];
    let invitations = format!("/api/v1/tenants/{tenant}/invitations");
    let mut too_big = b"{\"x\":\"".to_vec();
    too_big.extend(vec![b'a'; 8192]);
    too_big.extend(b"\"}");
    for path in [ACQUIRE, REGISTER, invitations.as_str()] {
        let sized = raw(&server, Method::POST, path, &json, Some(too_big.clone())).await;
        assert_problem(
            &sized,
            StatusCode::PAYLOAD_TOO_LARGE,
            ProblemCode::PayloadTooLarge,
            &format!("{path} with a Content-Length"),
        );
        let streamed = chunked(&server, path, &json, 64 * 1024).await;
        assert_problem(
            &streamed,
            StatusCode::PAYLOAD_TOO_LARGE,
            ProblemCode::PayloadTooLarge,
            &format!("{path} chunked"),
        );
    }
    let webhook = [("content-type", "application/json")];
    let over = vec![b' '; WEBHOOK_LIMIT + 1];
    let sized = raw(&server, Method::POST, WEBHOOK, &webhook, Some(over)).await;
    assert_problem(
        &sized,
        StatusCode::PAYLOAD_TOO_LARGE,
        ProblemCode::PayloadTooLarge,
        "webhook with a Content-Length",
    );
    let streamed = chunked(&server, WEBHOOK, &webhook, 2 * WEBHOOK_LIMIT).await;
    assert_problem(
        &streamed,
        StatusCode::PAYLOAD_TOO_LARGE,
        ProblemCode::PayloadTooLarge,
        "webhook chunked",
    );
    let within = raw(
        &server,
        Method::POST,
        WEBHOOK,
        &webhook,
        Some(vec![b' '; 8192]),
    )
    .await;
    assert_problem(
        &within,
        StatusCode::BAD_REQUEST,
        ProblemCode::InvalidSignature,
        "a webhook body within its own limit, above MAX_BODY_BYTES, reaches the signature check",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_json_and_media_types_are_problems_with_their_own_codes() {
    let server = TestServer::embedded(&[]).await;
    let (token, tenant) = owner(&server).await;
    let bearer = format!("Bearer {token}");
    let invitations = format!("/api/v1/tenants/{tenant}/invitations");
    for path in [ACQUIRE, invitations.as_str()] {
        let cases: [(&str, Option<&str>, &str, StatusCode, ProblemCode); 5] = [
            (
                "malformed JSON",
                Some("application/json"),
                "{ not json",
                StatusCode::BAD_REQUEST,
                ProblemCode::MalformedJson,
            ),
            (
                "JSON of the wrong type",
                Some("application/json"),
                "[1, 2, 3]",
                StatusCode::UNPROCESSABLE_ENTITY,
                ProblemCode::ValidationFailed,
            ),
            (
                "no Content-Type",
                None,
                "{}",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ProblemCode::UnsupportedMediaType,
            ),
            (
                "a text/plain body",
                Some("text/plain"),
                "{}",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ProblemCode::UnsupportedMediaType,
            ),
            (
                "a form body",
                Some("application/x-www-form-urlencoded"),
                "a=b",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ProblemCode::UnsupportedMediaType,
            ),
        ];
        for (what, content_type, body, status, code) in cases {
            let mut headers = vec![("authorization", bearer.as_str())];
            if let Some(content_type) = content_type {
                headers.push(("content-type", content_type));
            }
            let reply = raw(
                &server,
                Method::POST,
                path,
                &headers,
                Some(body.as_bytes().to_vec()),
            )
            .await;
            assert_problem(&reply, status, code, &format!("{path}: {what}"));
        }
    }
}

/// serde's derived structs also read an array of their fields in order; no body is an array, so
/// each such body is refused as the wrong type (schemathesis found `[]` registering an owner).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_an_array_of_the_fields_is_refused() {
    let server = TestServer::embedded(&[]).await;
    let (token, tenant) = owner(&server).await;
    let bearer = format!("Bearer {token}");
    let invitations = format!("/api/v1/tenants/{tenant}/invitations");
    let fingerprint = "a".repeat(64);
    let acquire_fields = format!(r#"["{fingerprint}", "host", "1.0"]"#);
    let cases: [(&str, &str); 6] = [
        (REGISTER, "[]"),
        (REGISTER, "[null]"),
        (REGISTER, r#"["Acme"]"#),
        (REGISTER, r#""Acme""#),
        (ACQUIRE, acquire_fields.as_str()),
        (invitations.as_str(), r#"["ana@example.com", "MEMBER"]"#),
    ];
    for (path, body) in cases {
        let headers = [
            ("authorization", bearer.as_str()),
            ("content-type", "application/json"),
        ];
        let reply = raw(
            &server,
            Method::POST,
            path,
            &headers,
            Some(body.as_bytes().to_vec()),
        )
        .await;
        assert_problem(
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::ValidationFailed,
            &format!("{path}: {body}"),
        );
        assert!(
            reply.problem().detail.contains("expected a JSON object"),
            "{path}: {body}: {}",
            reply.text
        );
    }
    // The forms a client does send still work: no body, `null`, an object.
    for body in ["", "null", r#"{"tenant_name": "Acme"}"#] {
        let headers = [
            ("authorization", bearer.as_str()),
            ("content-type", "application/json"),
        ];
        let reply = raw(
            &server,
            Method::POST,
            REGISTER,
            &headers,
            Some(body.as_bytes().to_vec()),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{body:?}: {}", reply.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_paths_queries_methods_and_unknown_routes_are_problems() {
    let server = TestServer::embedded(&[]).await;
    let (token, tenant) = owner(&server).await;
    let bearer = format!("Bearer {token}");
    let auth = [("authorization", bearer.as_str())];

    for path in [
        "/api/v1/tenants/not-a-uuid/members",
        "/api/v1/tenants/not-a-uuid/license",
        "/api/v1/tenants/0193a6f2-c1e0-7b5c-9d3e-4f5a6b7c8d9e/invitations/nope",
    ] {
        let reply = raw(&server, Method::GET, path, &auth, None).await;
        let reply = if reply.status == StatusCode::METHOD_NOT_ALLOWED {
            raw(&server, Method::DELETE, path, &auth, None).await
        } else {
            reply
        };
        assert_problem(&reply, StatusCode::NOT_FOUND, ProblemCode::NotFound, path);
    }
    // A parameter the document does not name is refused, not silently ignored (schemathesis ST201).
    for query in [
        "limit=abc",
        "limit=1&limit=2",
        "limit=99999999999999999999",
        "limti=5",
        "%00%1E%7B=2",
    ] {
        let path = format!("/api/v1/tenants/{tenant}/audit?{query}");
        let reply = raw(&server, Method::GET, &path, &auth, None).await;
        assert_problem(
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::ValidationFailed,
            &path,
        );
    }
    let wrong_methods = [
        (Method::GET, ACQUIRE, "POST"),
        (Method::POST, HEARTBEAT, "PUT"),
        (Method::GET, RELEASE, "DELETE"),
        (Method::PUT, REGISTER, "POST"),
        (Method::DELETE, "/api/v1/me", "GET"),
        (Method::GET, WEBHOOK, "POST"),
        (Method::PATCH, "/healthz", "GET"),
    ];
    for (method, path, allowed) in wrong_methods {
        let reply = raw(&server, method.clone(), path, &auth, None).await;
        let what = format!("{method} {path}");
        assert_problem(
            &reply,
            StatusCode::METHOD_NOT_ALLOWED,
            ProblemCode::MethodNotAllowed,
            &what,
        );
        let allow = reply
            .headers
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(allow.contains(allowed), "{what}: Allow is {allow:?}");
    }
    for path in [
        "/nope",
        "/api/v1/licenses",
        "/api/v1/stripe/webhook/x",
        "/api/v2/me",
    ] {
        for method in [Method::GET, Method::POST] {
            let reply = raw(&server, method.clone(), path, &auth, None).await;
            assert_problem(
                &reply,
                StatusCode::NOT_FOUND,
                ProblemCode::NotFound,
                &format!("{method} {path}"),
            );
        }
    }
}
