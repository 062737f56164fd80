//! How figures are written on pages.

/// Seconds as milliseconds, 3 significant digits or more.
pub fn ms(seconds: f64) -> String {
    let v = seconds * 1000.0;
    match v.abs() {
        a if a >= 100.0 => format!("{v:.0} ms"),
        a if a >= 10.0 => format!("{v:.1} ms"),
        _ => format!("{v:.2} ms"),
    }
}

/// A ratio as a percentage.
pub fn pct(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

/// A plain number, 3 significant digits or more.
pub fn num(v: f64) -> String {
    match v.abs() {
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        _ => format!("{v:.3}"),
    }
}

/// Micro-units of a currency as units, trailing zeros cut.
pub fn money(micros: i64, currency: &str) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let m = micros.unsigned_abs();
    let frac = format!("{:06}", m % 1_000_000);
    let frac = frac.trim_end_matches('0');
    let frac = if frac.len() < 2 {
        format!("{frac:0<2}")
    } else {
        frac.to_string()
    };
    format!("{sign}{}.{frac} {currency}", m / 1_000_000)
}

/// The first `n` characters of a digest, with an ellipsis when cut.
pub fn short(digest: &str, n: usize) -> String {
    if digest.chars().count() > n {
        format!("{}…", digest.chars().take(n).collect::<String>())
    } else {
        digest.to_string()
    }
}

/// Unix seconds as RFC 3339 UTC (`2026-12-07T09:03:00Z`).
pub fn utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_written_for_people() {
        assert_eq!(ms(0.1234), "123 ms");
        assert_eq!(ms(0.01234), "12.3 ms");
        assert_eq!(pct(0.995), "99.5%");
        assert_eq!(money(1_250, "USD"), "0.00125 USD");
        assert_eq!(money(2_000_000, "EUR"), "2.00 EUR");
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_796_634_180), "2026-12-07T09:03:00Z");
    }
}
