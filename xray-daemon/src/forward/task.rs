//! The forwarding task: batches, calls in flight, retries.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_xray::config::http::HttpResponse;
use aws_sdk_xray::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_xray::operation::put_trace_segments::PutTraceSegmentsError;
use rand::Rng;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{BATCH_WAIT, DROP_LOG_INTERVAL, ForwardDocument, ForwardStats, MAX_BATCH};

/// The first backoff; each retry doubles it, up to the configured cap.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// How many times documents X-Ray lists as unprocessed are sent again before they are dropped.
const MAX_UNPROCESSED_RETRIES: u32 = 5;

/// Batches the documents of `queue` and sends them until the queue's senders are gone and everything is
/// delivered or given up.
pub(crate) async fn run(
    mut queue: mpsc::UnboundedReceiver<ForwardDocument>,
    client: aws_sdk_xray::Client,
    stats: Arc<ForwardStats>,
    concurrency: usize,
    max_backoff: Duration,
) {
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut calls = JoinSet::new();
    let mut drop_log = tokio::time::interval(DROP_LOG_INTERVAL);
    let mut dropped_logged = 0;
    loop {
        let first = tokio::select! {
            document = queue.recv() => document,
            _ = drop_log.tick() => {
                log_drops(&stats, &mut dropped_logged);
                continue;
            }
        };
        let Some(first) = first else { break };
        let mut batch = vec![first];
        let deadline = Instant::now() + BATCH_WAIT;
        while batch.len() < MAX_BATCH {
            match tokio::time::timeout_at(deadline, queue.recv()).await {
                Ok(Some(document)) => batch.push(document),
                Ok(None) | Err(_) => break,
            }
        }
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let (client, stats) = (client.clone(), stats.clone());
        calls.spawn(async move {
            send(&client, &stats, batch, max_backoff).await;
            drop(slot);
        });
        while calls.try_join_next().is_some() {}
    }
    while calls.join_next().await.is_some() {}
    log_drops(&stats, &mut dropped_logged);
}

fn log_drops(stats: &ForwardStats, logged: &mut u64) {
    let dropped = stats.dropped();
    if dropped > *logged {
        log::warn!(
            "forwarding: dropped {} documents (buffer full or refused by X-Ray), {dropped} in all",
            dropped - *logged
        );
        *logged = dropped;
    }
}

/// What to do after a failed call.
enum Failure {
    /// Try again later.
    Retry(String),
    /// Give the documents up.
    Drop(String),
}

type PutError = SdkError<PutTraceSegmentsError, HttpResponse>;

fn classify(error: &PutError) -> Failure {
    match error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or("unknown");
            let message = format!(
                "X-Ray answered {status} {code}: {}",
                service.err().message().unwrap_or("")
            );
            if code.contains("Throttl") || status == 429 || status >= 500 {
                Failure::Retry(message)
            } else {
                Failure::Drop(message)
            }
        }
        SdkError::ConstructionFailure(_) => Failure::Drop(format!(
            "cannot build the request: {}",
            super::error_chain(error)
        )),
        _ => Failure::Retry(format!("cannot reach X-Ray: {}", super::error_chain(error))),
    }
}

/// The wait before retry number `attempt` (1-based): full jitter over an exponential ceiling.
fn backoff(attempt: u32, max: Duration) -> Duration {
    let ceiling = FIRST_BACKOFF
        .saturating_mul(1 << attempt.min(16))
        .min(max)
        .max(Duration::from_millis(1));
    let millis = ceiling.as_millis().max(1) as u64;
    Duration::from_millis(rand::rng().random_range(millis / 2..=millis))
}

/// Sends one batch until every document is delivered or given up.
async fn send(
    client: &aws_sdk_xray::Client,
    stats: &ForwardStats,
    mut documents: Vec<ForwardDocument>,
    max_backoff: Duration,
) {
    let mut attempt = 0;
    let mut unprocessed_rounds = 0;
    loop {
        let result = client
            .put_trace_segments()
            .set_trace_segment_documents(Some(documents.iter().map(|d| d.body.clone()).collect()))
            .send()
            .await;
        match result {
            Ok(output) => {
                let unprocessed: HashSet<&str> = output
                    .unprocessed_trace_segments()
                    .iter()
                    .filter_map(|u| u.id())
                    .collect();
                let (again, done): (Vec<ForwardDocument>, Vec<ForwardDocument>) = documents
                    .into_iter()
                    .partition(|d| unprocessed.contains(d.id.as_str()));
                stats.add_sent(done.len());
                stats.release(&done);
                if again.is_empty() {
                    return;
                }
                let first = output.unprocessed_trace_segments().first();
                stats.set_error(format!(
                    "X-Ray left {} documents unprocessed: {} {}",
                    again.len(),
                    first.and_then(|u| u.error_code()).unwrap_or(""),
                    first.and_then(|u| u.message()).unwrap_or("")
                ));
                unprocessed_rounds += 1;
                if unprocessed_rounds > MAX_UNPROCESSED_RETRIES {
                    stats.add_dropped(again.len());
                    stats.release(&again);
                    return;
                }
                documents = again;
            }
            Err(error) => match classify(&error) {
                Failure::Retry(message) => {
                    log::debug!("forwarding: {message}; retrying");
                    stats.set_error(message);
                }
                Failure::Drop(message) => {
                    log::warn!(
                        "forwarding: {message}; dropping {} documents",
                        documents.len()
                    );
                    stats.set_error(message);
                    stats.add_dropped(documents.len());
                    stats.release(&documents);
                    return;
                }
            },
        }
        attempt += 1;
        tokio::time::sleep(backoff(attempt, max_backoff)).await;
        stats.add_retried(documents.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_jitter() {
        let max = Duration::from_secs(2);
        for attempt in 1..20 {
            let wait = backoff(attempt, max);
            let ceiling = FIRST_BACKOFF.saturating_mul(1 << attempt.min(16)).min(max);
            assert!(
                wait <= ceiling && wait >= ceiling / 2,
                "{attempt}: {wait:?}"
            );
        }
    }
}
