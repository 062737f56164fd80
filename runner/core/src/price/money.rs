//! Exact fixed-point money. A price per million tokens is held in
//! millionths of the currency unit; the cost of a token count is held in
//! 10⁻¹² of the unit (tokens × millionths per million) and rounded to
//! millionths only when it is shown, so the same workload always prices to
//! the same bytes — no floating point anywhere.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Decimal places of a price in a price sheet and of every sum of money in
/// a price table.
pub const DECIMALS: u32 = 6;
/// Millionths per currency unit.
const MICROS_PER_UNIT: u64 = 1_000_000;
/// The largest price per million tokens a sheet may state (one million
/// currency units); it keeps every product of a token count and a price
/// far inside `u128`.
pub const MAX_PRICE_UNITS: u64 = 1_000_000;

/// A price per million tokens as written in a price sheet, exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PerMillion(u64);

/// A figure that is not a price a sheet may state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    /// Negative, not finite, or not a number at all.
    #[error("{0} is not a price: prices are numbers of at least 0")]
    NotAPrice(String),
    /// More decimal places than a sheet may state.
    #[error("{0} has more than {DECIMALS} decimal places")]
    TooPrecise(String),
    /// Above [`MAX_PRICE_UNITS`].
    #[error("{0} is above the largest price a sheet may state ({MAX_PRICE_UNITS})")]
    TooLarge(String),
}

impl PerMillion {
    /// Free.
    pub const ZERO: PerMillion = PerMillion(0);

    /// A price of `micros` millionths of the currency unit per million tokens.
    pub const fn from_micros(micros: u64) -> Self {
        Self(micros)
    }

    /// Millionths of the currency unit per million tokens.
    pub const fn micros(self) -> u64 {
        self.0
    }

    /// Parses a plain decimal such as `8.64` or `2` (at most
    /// [`DECIMALS`] places, no sign, no exponent).
    pub fn parse(text: &str) -> Result<Self, PriceError> {
        let not_a_price = || PriceError::NotAPrice(text.to_string());
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(fraction) {
            return Err(not_a_price());
        }
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > DECIMALS as usize {
            return Err(PriceError::TooPrecise(text.to_string()));
        }
        let whole = whole.trim_start_matches('0');
        // More digits than the maximum has cannot parse below it.
        if whole.len() > 7 {
            return Err(PriceError::TooLarge(text.to_string()));
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| not_a_price())?
        };
        let mut micros: u64 = 0;
        for (i, b) in fraction.bytes().enumerate() {
            micros += u64::from(b - b'0') * 10u64.pow(DECIMALS - 1 - i as u32);
        }
        let value = whole * MICROS_PER_UNIT + micros;
        if value > MAX_PRICE_UNITS * MICROS_PER_UNIT {
            return Err(PriceError::TooLarge(text.to_string()));
        }
        Ok(Self(value))
    }

    /// The price a JSON number (as parsed from YAML) states. A decimal
    /// arrives as the nearest `f64`; its shortest round-trip text is the
    /// decimal that was written (for the precision a sheet may use), and
    /// that text is parsed exactly.
    pub fn from_number(number: &serde_json::Number) -> Result<Self, PriceError> {
        if let Some(n) = number.as_u64() {
            return Self::parse(&n.to_string());
        }
        match number.as_f64() {
            Some(f) if f.is_finite() && f >= 0.0 => Self::parse(&format!("{f}")),
            _ => Err(PriceError::NotAPrice(number.to_string())),
        }
    }
}

impl fmt::Display for PerMillion {
    /// The shortest decimal: `2`, `0.2`, `8.64`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / MICROS_PER_UNIT;
        let fraction = self.0 % MICROS_PER_UNIT;
        if fraction == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{fraction:06}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl<'de> Deserialize<'de> for PerMillion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = serde_json::Number::deserialize(deserializer)?;
        Self::from_number(&number).map_err(serde::de::Error::custom)
    }
}

/// An exact amount in 10⁻¹² of the currency unit: a token count times a
/// price per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pico(pub(crate) u128);

impl Pico {
    /// `tokens` at `price`; `None` when the price is unknown and needed
    /// (an unknown price of zero tokens costs nothing).
    pub(crate) fn of(tokens: u64, price: Option<PerMillion>) -> Option<Pico> {
        if tokens == 0 {
            return Some(Pico(0));
        }
        Some(Pico(u128::from(tokens) * u128::from(price?.micros())))
    }

    /// `None` on overflow.
    pub(crate) fn checked_add(self, other: Pico) -> Option<Pico> {
        self.0.checked_add(other.0).map(Pico)
    }
}

/// A sum of money in a row's currency, or why there is none.
///
/// Serialized as a string: the amount with exactly [`DECIMALS`] places
/// (`"1.250000"`), `"unknown"` or `"n/a"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// This many millionths of the currency unit, rounded half up from the
    /// exact value.
    Micros(u128),
    /// A price the computation needs is not known.
    Unknown,
    /// Nothing to divide by: no successful attempt.
    NotApplicable,
}

const UNKNOWN: &str = "unknown";
const NOT_APPLICABLE: &str = "n/a";

impl Cost {
    /// `total / count`, rounded half up to millionths; `NotApplicable`
    /// when `count` is 0, `Unknown` when `total` is.
    pub(crate) fn per(total: Option<Pico>, count: u64) -> Cost {
        if count == 0 {
            return Cost::NotApplicable;
        }
        match total {
            Some(p) => Cost::Micros(round_div(
                p.0,
                u128::from(count) * u128::from(MICROS_PER_UNIT),
            )),
            None => Cost::Unknown,
        }
    }
}

/// `numerator / denominator` rounded half up; `denominator` > 0.
pub(crate) fn round_div(numerator: u128, denominator: u128) -> u128 {
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder >= denominator - remainder {
        quotient + 1
    } else {
        quotient
    }
}

impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cost::Micros(m) => write!(
                f,
                "{}.{:06}",
                m / u128::from(MICROS_PER_UNIT),
                m % u128::from(MICROS_PER_UNIT)
            ),
            Cost::Unknown => f.write_str(UNKNOWN),
            Cost::NotApplicable => f.write_str(NOT_APPLICABLE),
        }
    }
}

impl Serialize for Cost {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cost {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            UNKNOWN => Ok(Cost::Unknown),
            NOT_APPLICABLE => Ok(Cost::NotApplicable),
            _ => parse_fixed(&text).map(Cost::Micros).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{text:?} is not an amount with {DECIMALS} decimals, {UNKNOWN:?} or {NOT_APPLICABLE:?}"
                ))
            }),
        }
    }
}

/// Parses exactly `<digits>.<six digits>`.
fn parse_fixed(text: &str) -> Option<u128> {
    let (whole, fraction) = text.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) || fraction.len() != DECIMALS as usize {
        return None;
    }
    let whole: u128 = whole.parse().ok()?;
    let fraction: u128 = fraction.parse().ok()?;
    whole
        .checked_mul(u128::from(MICROS_PER_UNIT))?
        .checked_add(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_exactly() {
        assert_eq!(PerMillion::parse("8.64"), Ok(PerMillion(8_640_000)));
        assert_eq!(PerMillion::parse("0.2"), Ok(PerMillion(200_000)));
        assert_eq!(PerMillion::parse("43.200"), Ok(PerMillion(43_200_000)));
        assert_eq!(PerMillion::parse("0.000001"), Ok(PerMillion(1)));
        assert_eq!(
            PerMillion::parse("1000000"),
            Ok(PerMillion(1_000_000_000_000))
        );
        assert!(matches!(
            PerMillion::parse("0.0000001"),
            Err(PriceError::TooPrecise(_))
        ));
        assert!(matches!(
            PerMillion::parse("1000000.5"),
            Err(PriceError::TooLarge(_))
        ));
        for bad in ["", ".5", "-1", "1e3", "1.2.3", " 1"] {
            assert!(PerMillion::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn yaml_decimals_arrive_as_written() {
        for (text, micros) in [("8.64", 8_640_000), ("0.2", 200_000), ("43.2", 43_200_000)] {
            let number: serde_json::Number = serde_json::from_str(text).expect("number");
            assert_eq!(PerMillion::from_number(&number), Ok(PerMillion(micros)));
            assert_eq!(PerMillion(micros).to_string(), text);
        }
        let number: serde_json::Number = serde_json::from_str("-1").expect("number");
        assert!(PerMillion::from_number(&number).is_err());
    }

    #[test]
    fn costs_round_half_up_and_round_trip() {
        assert_eq!(Cost::per(Some(Pico(1_500_000)), 3), Cost::Micros(1));
        assert_eq!(Cost::per(Some(Pico(1_499_999)), 3), Cost::Micros(0));
        assert_eq!(Cost::per(Some(Pico(5)), 0), Cost::NotApplicable);
        assert_eq!(Cost::per(None, 2), Cost::Unknown);
        for cost in [Cost::Micros(1_250_000), Cost::Unknown, Cost::NotApplicable] {
            let json = serde_json::to_string(&cost).expect("serialize");
            assert_eq!(serde_json::from_str::<Cost>(&json).expect("parse"), cost);
        }
        assert_eq!(Cost::Micros(1_250_000).to_string(), "1.250000");
        assert!(serde_json::from_str::<Cost>("\"1.25\"").is_err());
    }
}
