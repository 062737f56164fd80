//! Polite mode: a request answered 429 is sent again after waiting as its
//! `Retry-After` says, every attempt is kept as evidence, and the judge
//! takes the last one.

use std::net::{Ipv4Addr, SocketAddr};

use serde_json::json;
use tokencert_core::evidence::read_exchanges;
use tokencert_core::suite::{Case, RateLimit};
use tokencert_drive::{Client, Limits, Target};

/// Concurrent requests to the limited model: more than its 5 per second.
const REQUESTS: usize = 8;

fn case() -> Case {
    serde_json::from_value(json!({
        "id": "test.polite",
        "clause": "TS-REL-RATE-LIMIT-429",
        "description": "one request to the rate-limited model",
        "request": {"endpoint": "chat", "body": {
            "model": "${rate_limited_model}", "max_tokens": 2,
            "messages": [{"role": "user", "content": "Hi"}]}},
        "checks": ["usage_adds_up"]
    }))
    .expect("the case deserializes")
}

/// Sends [`REQUESTS`] copies of the case at once; the statuses of each
/// one's attempts, in order.
async fn statuses(polite_retries: u32) -> Vec<Vec<(u16, u32)>> {
    let config = tokencert_reference::Config {
        api_key: None,
        ..Default::default()
    };
    let limit = config.rate_limit;
    let server = tokencert_reference::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("the reference service starts");
    let target = Target {
        base_url: server.base_url(),
        model: tokencert_reference::DEFAULT_MODEL.into(),
        api_key: None,
        limits: Default::default(),
        rate_limit: Some(RateLimit {
            model: Some(tokencert_reference::LIMITED_MODEL.into()),
            requests: limit.requests,
            window_seconds: 1,
            tokens: None,
        }),
        dialects: Default::default(),
    };
    let limits = Limits {
        polite_retries,
        ..Limits::default()
    };
    let client = Client::new(target, limits).expect("client");
    let dir = tempfile::tempdir().expect("temp dir");
    let case = case();
    let sends = (0..REQUESTS).map(|i| {
        let (client, case) = (client.clone(), &case);
        let path = dir.path().join(format!("{i}.jsonl"));
        async move {
            client.execute(case, &path).await.expect("evidence written");
            read_exchanges(&path)
                .expect("evidence reads")
                .iter()
                .map(|e| (e.response.as_ref().map_or(0, |h| h.status), e.attempt))
                .collect::<Vec<_>>()
        }
    });
    futures_util::future::join_all(sends).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polite_mode_retries_after_a_429_and_keeps_every_attempt() {
    let impolite = statuses(0).await;
    assert!(
        impolite.iter().all(|attempts| attempts.len() == 1),
        "{impolite:?}"
    );
    assert!(
        impolite.iter().any(|attempts| attempts[0].0 == 429),
        "{REQUESTS} requests at once exceed the limit: {impolite:?}"
    );

    let polite = statuses(3).await;
    for attempts in &polite {
        let (last, refused) = attempts.split_last().expect("at least one attempt");
        assert_eq!(last.0, 200, "the last attempt is served: {attempts:?}");
        assert!(refused.iter().all(|a| a.0 == 429), "{attempts:?}");
        let numbers: Vec<u32> = attempts.iter().map(|a| a.1).collect();
        let expected: Vec<u32> = (0..).take(attempts.len()).collect();
        assert_eq!(numbers, expected, "attempts are numbered from 0");
    }
    assert!(
        polite.iter().any(|attempts| attempts.len() > 1),
        "some request was retried: {polite:?}"
    );
}
