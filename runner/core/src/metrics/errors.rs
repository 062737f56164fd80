//! Error rates by class.

use serde::{Deserialize, Serialize};

use super::{ErrorClass, ExchangeMetrics};

/// A number per [`ErrorClass`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassCounts {
    /// `ok`.
    pub ok: u64,
    /// `http_429`.
    pub http_429: u64,
    /// `http_4xx` (other than 429).
    pub http_4xx: u64,
    /// `http_5xx`.
    pub http_5xx: u64,
    /// `timeout`.
    pub timeout: u64,
    /// `transport`.
    pub transport: u64,
    /// `protocol`.
    pub protocol: u64,
}

impl ClassCounts {
    /// The number for `class`.
    pub fn get(&self, class: ErrorClass) -> u64 {
        match class {
            ErrorClass::Ok => self.ok,
            ErrorClass::Http429 => self.http_429,
            ErrorClass::Http4xx => self.http_4xx,
            ErrorClass::Http5xx => self.http_5xx,
            ErrorClass::Timeout => self.timeout,
            ErrorClass::Transport => self.transport,
            ErrorClass::Protocol => self.protocol,
        }
    }

    /// Counts one exchange of `class`.
    pub fn add(&mut self, class: ErrorClass) {
        *self.slot(class) += 1;
    }

    fn slot(&mut self, class: ErrorClass) -> &mut u64 {
        match class {
            ErrorClass::Ok => &mut self.ok,
            ErrorClass::Http429 => &mut self.http_429,
            ErrorClass::Http4xx => &mut self.http_4xx,
            ErrorClass::Http5xx => &mut self.http_5xx,
            ErrorClass::Timeout => &mut self.timeout,
            ErrorClass::Transport => &mut self.transport,
            ErrorClass::Protocol => &mut self.protocol,
        }
    }
}

/// Exchanges by class, as counts and as parts per million of all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRates {
    /// All exchanges.
    pub total: u64,
    /// Exchanges not of class `ok`.
    pub errors: u64,
    /// `errors` per million exchanges, rounded down (0 when there are none).
    pub error_ppm: u64,
    /// Exchanges of each class.
    pub counts: ClassCounts,
    /// Exchanges of each class per million exchanges, rounded down.
    pub ppm: ClassCounts,
}

impl ErrorRates {
    /// Counts the classes of these exchanges.
    pub fn of<'a>(metrics: impl IntoIterator<Item = &'a ExchangeMetrics>) -> Self {
        Self::of_classes(metrics.into_iter().map(|m| m.class))
    }

    /// Counts these classes.
    pub fn of_classes(classes: impl IntoIterator<Item = ErrorClass>) -> Self {
        let mut counts = ClassCounts::default();
        let mut total = 0u64;
        for class in classes {
            *counts.slot(class) += 1;
            total += 1;
        }
        let ppm_of = |n: u64| {
            if total == 0 {
                0
            } else {
                u64::try_from(u128::from(n) * 1_000_000 / u128::from(total)).unwrap_or(u64::MAX)
            }
        };
        let mut ppm = ClassCounts::default();
        for class in ErrorClass::ALL {
            *ppm.slot(class) = ppm_of(counts.get(class));
        }
        let errors = total - counts.ok;
        ErrorRates {
            total,
            errors,
            error_ppm: ppm_of(errors),
            counts,
            ppm,
        }
    }
}
