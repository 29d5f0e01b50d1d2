//! [`Backoff`]: the delays between reads of a waiter and between attempts of a request.

use std::{
    hash::{BuildHasher, RandomState},
    time::Duration,
};

/// A capped exponential backoff with jitter; see [`crate::wait`] for the maths.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    jitter: f64,
}

impl Default for Backoff {
    /// 1 s, doubling, capped at 10 s, each delay drawn from [0.91, 1.0] of its nominal value.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
            jitter: 0.09,
        }
    }
}

impl Backoff {
    /// A backoff that starts at `initial` and doubles up to `max` (at least `initial`), with
    /// the default jitter of 0.09.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max: max.max(initial),
            ..Backoff::default()
        }
    }

    /// Each delay is drawn from `[1 − jitter, 1]` of its nominal value; `jitter` is clamped
    /// to `[0, 1]`. 0 makes the schedule exact.
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        self
    }

    /// The nominal `n`-th delay (from 0): `min(initial · 2ⁿ, max)`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use quantconnect_agents::wait::Backoff;
    ///
    /// let delays: Vec<u64> = (0..6).map(|n| Backoff::default().nominal_delay(n).as_secs()).collect();
    /// assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
    /// ```
    pub fn nominal_delay(&self, n: u32) -> Duration {
        let factor = 2u32.checked_pow(n).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The `n`-th delay for a uniform draw `unit` in `[0, 1]`: the nominal delay times
    /// `1 − jitter · (1 − unit)`. Never more than the nominal delay, so never above `max`.
    pub fn delay(&self, n: u32, unit: f64) -> Duration {
        let unit = if unit.is_nan() {
            1.0
        } else {
            unit.clamp(0.0, 1.0)
        };
        self.nominal_delay(n)
            .mul_f64(1.0 - self.jitter * (1.0 - unit))
    }
}

/// A uniform draw from `[0, 1)`, from std's randomly keyed hasher: enough for jitter,
/// without a dependency.
pub(crate) fn random_unit() -> f64 {
    let bits = RandomState::new().hash_one(std::time::Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}
