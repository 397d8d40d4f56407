//! The delays between reconnection attempts: backon's exponential
//! schedule, each step drawn with full jitter (uniformly in `[0, step]`),
//! so that clients that lost the same server do not come back in step.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

use crate::Reconnect;

#[derive(Debug)]
pub(crate) struct Backoff {
    builder: ExponentialBuilder,
    steps: ExponentialBackoff,
    max: Duration,
    rng: fastrand::Rng,
}

impl Backoff {
    pub(crate) fn new(r: &Reconnect) -> Self {
        let builder = ExponentialBuilder::new()
            .with_min_delay(r.initial_delay())
            .with_max_delay(r.max_delay())
            .with_factor(r.growth())
            .without_max_times();
        Backoff {
            steps: builder.build(),
            builder,
            max: r.max_delay(),
            rng: fastrand::Rng::new(),
        }
    }

    /// The next delay.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let step = self.steps.next().unwrap_or(self.max).min(self.max);
        let nanos = u64::try_from(step.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(self.rng.u64(0..=nanos))
    }

    /// A connection succeeded: the next loss starts from the first step.
    pub(crate) fn reset(&mut self) {
        self.steps = self.builder.build();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_jittered_under_a_growing_step_capped_at_the_max() {
        let r = Reconnect::new()
            .initial(Duration::from_millis(10))
            .max(Duration::from_millis(80));
        let mut b = Backoff::new(&r);
        // Steps 10, 20, 40, 80, 80, ...: each delay is at most its step
        // (with room for backon's f32 rounding).
        let caps = [10u64, 20, 40, 80, 80, 80];
        let mut spread = std::collections::BTreeSet::new();
        for _ in 0..200 {
            b.reset();
            for cap in caps {
                let d = b.next_delay();
                assert!(
                    d <= Duration::from_micros(cap * 1000 + 1),
                    "{d:?} > {cap} ms"
                );
                spread.insert(d);
            }
        }
        assert!(spread.len() > 100, "full jitter spreads the delays");
    }
}
