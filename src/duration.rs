//! Durations as people write and read them, one syntax for the whole crate and `qc-agents`:
//! `90` (seconds), `90s`, `2m`, `1h30m`, `1h 30m`.

use std::time::Duration;

/// The longest duration taken: 100 years (of 365.25 days). A longer one could overflow the
/// clock it is added to.
pub const LONGEST: Duration = Duration::from_secs(3_155_760_000);

/// A duration written as a bare number of seconds (`90`, `0.5`) or with units (`90s`, `2m`,
/// `1h30m`, `1h 30m`: humantime's syntax), more than zero and at most [`LONGEST`].
///
/// ```
/// use std::time::Duration;
/// use quantconnect_agents::duration;
///
/// assert_eq!(duration::parse("90"), Ok(Duration::from_secs(90)));
/// assert_eq!(duration::parse("2m"), Ok(Duration::from_secs(120)));
/// assert_eq!(duration::parse("1h30m"), Ok(Duration::from_secs(5400)));
/// assert!(duration::parse("0").is_err());
/// ```
///
/// # Errors
/// What is wrong with `text`, in a sentence that quotes it.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let duration = match text.parse::<f64>() {
        Ok(seconds) => Duration::try_from_secs_f64(seconds)
            .map_err(|_| format!("`{text}` is not a duration (a number of seconds from 0)"))?,
        Err(_) => humantime::parse_duration(text)
            .map_err(|e| format!("`{text}` is not a duration like 90, 90s, 2m or 1h30m: {e}"))?,
    };
    if duration.is_zero() {
        return Err(format!("`{text}` is zero: a duration must be longer"));
    }
    if duration > LONGEST {
        return Err(format!(
            "`{text}` is too long: a duration is at most 100 years ({} s)",
            LONGEST.as_secs()
        ));
    }
    Ok(duration)
}

/// `7.9s`, `4m 05s`, `1h 02m 03s`: tenths under a minute, whole seconds above.
///
/// ```
/// use std::time::Duration;
/// use quantconnect_agents::duration::for_people;
///
/// assert_eq!(for_people(Duration::from_millis(1_001)).to_string(), "1.0s");
/// assert_eq!(for_people(Duration::from_secs(123)).to_string(), "2m 03s");
/// ```
pub fn for_people(duration: Duration) -> impl std::fmt::Display {
    ForPeople(duration)
}

struct ForPeople(Duration);

impl std::fmt::Display for ForPeople {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0.as_secs();
        match (s / 3600, s / 60 % 60, s % 60) {
            (0, 0, _) => write!(f, "{:.1}s", (self.0.as_millis() / 100) as f64 / 10.0),
            (0, m, s) => write!(f, "{m}m {s:02}s"),
            (h, m, s) => write!(f, "{h}h {m:02}m {s:02}s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_syntax_with_zero_and_overflow_refused() {
        for (text, seconds) in [
            ("90", 90.0),
            ("90s", 90.0),
            ("2m", 120.0),
            ("1h30m", 5400.0),
        ] {
            assert_eq!(parse(text), Ok(Duration::from_secs_f64(seconds)), "{text}");
        }
        assert_eq!(parse(" 0.5 "), Ok(Duration::from_millis(500)));
        assert_eq!(parse("100y"), Ok(LONGEST));
        for bad in ["", "0", "0s", "-3", "NaN", "inf", "soon", "1e19", "101y"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse("0").unwrap_err().contains("zero"));
    }

    #[test]
    fn durations_for_people() {
        let shown = |d| for_people(d).to_string();
        assert_eq!(shown(Duration::from_millis(7_960)), "7.9s");
        assert_eq!(shown(Duration::from_millis(40)), "0.0s");
        assert_eq!(shown(Duration::from_secs(245)), "4m 05s");
        assert_eq!(shown(Duration::from_secs(3723)), "1h 02m 03s");
    }
}
