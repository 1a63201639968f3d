//! Timestamps as X-Ray writes them: seconds since the Unix epoch, with microsecond precision.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The time `t` in seconds since the Unix epoch, rounded to the microsecond. Times before 1970 give `0.0`.
pub fn epoch_seconds(t: SystemTime) -> f64 {
    let micros = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_micros();
    micros as f64 / 1e6
}

/// The current time in seconds since the Unix epoch, rounded to the microsecond.
pub fn now() -> f64 {
    epoch_seconds(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsecond_precision() {
        let t = UNIX_EPOCH + Duration::from_nanos(1_500_000_000_250_001_999);
        assert_eq!(epoch_seconds(t), 1_500_000_000.250_001);
        assert_eq!(
            serde_json::to_string(&epoch_seconds(t)).unwrap(),
            "1500000000.250001"
        );
    }
}
