//! IMAP's `date-time` ([RFC 3501 §9](https://www.rfc-editor.org/rfc/rfc3501#section-9)):
//! `"dd-Mon-yyyy hh:mm:ss +zzzz"`, as INTERNALDATE writes it and APPEND sends it. Times are
//! seconds since the Unix epoch (the embedder reads its own clock).

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Days since 1970-01-01 of a civil date (proleptic Gregorian): what SEARCH's date keys
/// compare.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `unix` seconds as a `date-time` in UTC: `17-Jul-1996 02:44:25 +0000`.
pub fn format(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    let s = unix.rem_euclid(86_400);
    let month = MONTHS.get(m as usize - 1).copied().unwrap_or("Jan");
    format!("{d:02}-{month}-{y:04} {:02}:{:02}:{:02} +0000", s / 3600, s / 60 % 60, s % 60)
}

/// A `date-time` (quotes removed; the day may be space-padded) as Unix seconds, or `None`
/// if it is not one.
pub fn parse(text: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(text).ok()?.trim();
    let (date, rest) = text.split_once(' ')?;
    let (time, zone) = rest.split_once(' ')?;
    let mut dp = date.split('-');
    let day: u32 = dp.next()?.trim().parse().ok()?;
    let month_name = dp.next()?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month_name))? as u32 + 1;
    let year: i64 = dp.next()?.parse().ok()?;
    if dp.next().is_some() || !(0..=9999).contains(&year) {
        return None;
    }
    let mut t = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, mi, s) = (t.next()??, t.next()??, t.next()??);
    if t.next().is_some() {
        return None;
    }
    let (sign, z) = zone.split_at_checked(1)?;
    if !matches!(sign, "+" | "-") || z.len() != 4 {
        return None;
    }
    let z: i64 = z.parse().ok()?;
    let offset = (z / 100 * 60 + z % 100) * 60 * if sign == "-" { -1 } else { 1 };
    if !(1..=31).contains(&day) || !(0..=23).contains(&h) || !(0..=59).contains(&mi) || !(0..=60).contains(&s) {
        return None;
    }
    if z % 100 > 59 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + mi * 60 + s - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let t = 1_795_320_000; // 22-Nov-2026 04:00:00 UTC
        assert_eq!(format(t), "22-Nov-2026 04:00:00 +0000");
        assert_eq!(format(0), "01-Jan-1970 00:00:00 +0000");
        assert_eq!(parse(b"22-Nov-2026 04:00:00 +0000"), Some(t));
        assert_eq!(parse(b" 1-Jan-1970 02:00:00 +0200"), Some(0));
        assert_eq!(parse(b"29-Feb-2000 00:00:00 -0100").map(format).as_deref(), Some("29-Feb-2000 01:00:00 +0000"));
        for bad in [
            &b"32-Jan-2000 00:00:00 +0000"[..],
            b"1-Foo-2000 00:00:00 +0000",
            b"1-Jan-2000 24:00:00 +0000",
            b"1-Jan-2000 00:00 +0000",
            b"1-Jan-2000 00:00:00 0000",
            b"1-Jan-2000 00:00:00 +0060",
            b"",
            b"1-Jan-2000-1 00:00:00 +0000",
        ] {
            assert_eq!(parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
