//! Request counts, error rates and latencies of a node or an edge.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One request: its duration (when it ended) and its status flags.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// `end_time - start_time`, seconds; `None` while in progress.
    pub duration: Option<f64>,
    /// `error: true` (a 4xx, throttles included).
    pub error: bool,
    /// `throttle: true` (a 429).
    pub throttle: bool,
    /// `fault: true` (a 5xx).
    pub fault: bool,
}

impl Sample {
    /// The sample of a segment or subsegment.
    pub fn of(entity: &Value) -> Sample {
        let flag = |key: &str| entity.get(key).and_then(Value::as_bool) == Some(true);
        let start = entity.get("start_time").and_then(Value::as_f64);
        let end = entity.get("end_time").and_then(Value::as_f64);
        let duration = match (start, end) {
            (Some(start), Some(end)) if !flag("in_progress") && end >= start => Some(end - start),
            _ => None,
        };
        Sample {
            duration,
            error: flag("error"),
            throttle: flag("throttle"),
            fault: flag("fault"),
        }
    }
}

/// Latency over the requests that ended, seconds (rounded to microseconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// The mean.
    pub avg: f64,
    /// The 95th percentile (nearest rank).
    pub p95: f64,
    /// The longest.
    pub max: f64,
}

/// What a node or an edge counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests (segments for a service, calls for an edge or a resource).
    pub requests: u64,
    /// Requests with `error` (4xx, throttles included).
    pub errors: u64,
    /// Requests with `throttle` (429).
    pub throttles: u64,
    /// Requests with `fault` (5xx).
    pub faults: u64,
    /// `errors / requests`.
    pub error_rate: f64,
    /// `throttles / requests`.
    pub throttle_rate: f64,
    /// `faults / requests`.
    pub fault_rate: f64,
    /// Latency of the requests that ended; `None` when none has.
    pub latency: Option<Latency>,
}

fn round_micros(seconds: f64) -> f64 {
    (seconds * 1e6).round() / 1e6
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64 * 1e4).round() / 1e4
    }
}

impl Stats {
    /// The stats of these requests.
    pub fn from_samples(samples: &[Sample]) -> Stats {
        let requests = samples.len() as u64;
        let count = |f: fn(&Sample) -> bool| samples.iter().filter(|s| f(s)).count() as u64;
        let errors = count(|s| s.error);
        let throttles = count(|s| s.throttle);
        let faults = count(|s| s.fault);
        let mut durations: Vec<f64> = samples.iter().filter_map(|s| s.duration).collect();
        durations.sort_by(f64::total_cmp);
        let latency = durations.last().map(|&max| {
            let n = durations.len();
            // Nearest rank: the smallest value with at least 95% of the values at or below it.
            let rank = (n * 95).div_ceil(100).max(1);
            Latency {
                avg: round_micros(durations.iter().sum::<f64>() / n as f64),
                p95: round_micros(durations[rank - 1]),
                max: round_micros(max),
            }
        });
        Stats {
            requests,
            errors,
            throttles,
            faults,
            error_rate: rate(errors, requests),
            throttle_rate: rate(throttles, requests),
            fault_rate: rate(faults, requests),
            latency,
        }
    }
}
