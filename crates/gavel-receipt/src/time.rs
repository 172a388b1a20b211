//! Timestamps as receipts carry them: RFC 3339, UTC, milliseconds, `Z`.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset, macros::format_description};

/// Formats `t` as `2026-11-25T19:30:00.123Z`.
pub fn format_millis(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    // The description has no component that can fail for a UTC date in range.
    t.format(&fmt)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00.000Z"))
}

/// The current time in receipt form.
pub fn now_millis() -> String {
    format_millis(OffsetDateTime::now_utc())
}

/// Parses an RFC 3339 timestamp (any offset, any precision).
pub fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_and_z() {
        let t = parse("2026-11-25T20:30:00.123456+01:00").unwrap();
        assert_eq!(format_millis(t), "2026-11-25T19:30:00.123Z");
        let t = parse("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(format_millis(t), "2026-01-01T00:00:00.000Z");
        assert!(parse("yesterday").is_none());
        assert_eq!(now_millis().len(), 24);
    }
}
