//! Delivery schedules: when a held queue may go out. A timetable is a list of entries such
//! as `"mon-fri 08:00-18:00"` (a window: the mail flows all the while it is open),
//! `"daily 12:30"` (a connection at that minute) or `"mon-fri 08:00-18:00 every 30m"`
//! (connections every half hour within the window), read in the administrator's time zone
//! (the system's, or a named IANA zone), daylight saving included.
//!
//! The queue asks two things each second: is a window open now ([`Timetable::open`]), and
//! did a connection time pass since it last looked ([`Timetable::fired`]).

use jiff::Timestamp;
use jiff::tz::TimeZone;

const MINUTES_PER_DAY: u16 = 24 * 60;
/// How far back a late look still counts connection times (a machine that slept).
const LOOK_BACK_SECS: i64 = 8 * 86_400;

/// One entry: on which days, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    /// Bit `n` for the `n`-th day from Monday (0) to Sunday (6).
    days: u8,
    when: When,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum When {
    /// A connection at this minute of the day.
    At(u16),
    /// Open from `from` until `until` (minutes of the day; `until < from` runs past
    /// midnight into the next day); with `every`, connections at `from`, `from + every`, …
    /// within it instead of a window that stays open.
    Window { from: u16, until: u16, every: Option<u16> },
}

/// A parsed schedule (`schedule = [...]` with an optional `timezone`).
#[derive(Clone, Debug)]
pub(crate) struct Timetable {
    entries: Vec<Entry>,
    zone: TimeZone,
    text: Vec<String>,
}

impl Timetable {
    /// Reads `entries` in `zone` (`None`: the system's time zone). An empty list, or
    /// `["on demand"]`, is a timetable that never opens.
    pub(crate) fn parse(entries: &[String], zone: Option<&str>) -> Result<Self, String> {
        let zone = match zone {
            None => TimeZone::system(),
            Some(z) if z.eq_ignore_ascii_case("utc") => TimeZone::UTC,
            Some(z) => TimeZone::get(z).map_err(|e| format!("time zone {z:?}: {e}"))?,
        };
        let mut parsed = Vec::new();
        for e in entries {
            let e = e.trim();
            if e.eq_ignore_ascii_case("on demand") {
                continue;
            }
            parsed.push(parse_entry(e).map_err(|why| format!("schedule entry {e:?}: {why}"))?);
        }
        Ok(Self { entries: parsed, zone, text: entries.to_vec() })
    }

    /// The entries as written.
    pub(crate) fn describe(&self) -> String {
        if self.entries.is_empty() { "on demand".to_owned() } else { self.text.join("; ") }
    }

    /// Whether a window (one without `every`) is open at `unix` seconds.
    pub(crate) fn open(&self, unix: i64) -> bool {
        let (day, minute) = self.local(unix);
        self.entries.iter().any(|e| match e.when {
            When::Window { from, until, every: None } => within(e.days, from, until, day, minute).is_some(),
            _ => false,
        })
    }

    /// Whether a connection time passed in `(after, upto]` (seconds; at most eight days are
    /// looked back on).
    pub(crate) fn fired(&self, after: i64, upto: i64) -> bool {
        let after = after.max(upto - LOOK_BACK_SECS);
        let mut minute = (after.div_euclid(60) + 1) * 60;
        while minute <= upto {
            if self.fires_at(minute) {
                return true;
            }
            minute += 60;
        }
        false
    }

    /// The next time (unix seconds) it opens or fires after `unix`, within eight days.
    pub(crate) fn next(&self, unix: i64) -> Option<i64> {
        let mut minute = (unix.div_euclid(60) + 1) * 60;
        while minute <= unix + LOOK_BACK_SECS {
            if self.fires_at(minute) || (self.open(minute) && !self.open(minute - 60)) {
                return Some(minute);
            }
            minute += 60;
        }
        None
    }

    fn fires_at(&self, unix: i64) -> bool {
        let (day, minute) = self.local(unix);
        self.entries.iter().any(|e| match e.when {
            When::At(at) => e.days & (1 << day) != 0 && minute == at,
            When::Window { from, until, every: Some(every) } => {
                within(e.days, from, until, day, minute).is_some_and(|since| since % every == 0)
            }
            When::Window { every: None, .. } => false,
        })
    }

    /// The day of the week (Monday 0) and minute of the day at `unix` in the zone.
    fn local(&self, unix: i64) -> (u8, u16) {
        let Ok(t) = Timestamp::from_second(unix) else { return (0, 0) };
        let z = t.to_zoned(self.zone.clone());
        let day = z.weekday().to_monday_zero_offset() as u8;
        (day, z.hour() as u16 * 60 + z.minute() as u16)
    }
}

/// Minutes since the window opened, if `minute` of `day` lies within it.
fn within(days: u8, from: u16, until: u16, day: u8, minute: u16) -> Option<u16> {
    let yesterday = (day + 6) % 7;
    if from <= until {
        (days & (1 << day) != 0 && (from..until).contains(&minute)).then(|| minute - from)
    } else if days & (1 << day) != 0 && minute >= from {
        Some(minute - from)
    } else if days & (1 << yesterday) != 0 && minute < until {
        Some(MINUTES_PER_DAY - from + minute)
    } else {
        None
    }
}

fn parse_entry(e: &str) -> Result<Entry, String> {
    let words: Vec<&str> = e.split_ascii_whitespace().collect();
    let (days, rest) = match words.first() {
        Some(w) if w.starts_with(|c: char| c.is_ascii_digit()) => (0x7f, &words[..]),
        Some(w) => (parse_days(w)?, &words[1..]),
        None => return Err("empty".into()),
    };
    let (time, every) = match rest {
        [time] => (*time, None),
        [time, kw, n] if kw.eq_ignore_ascii_case("every") => (*time, Some(parse_interval(n)?)),
        _ => return Err("expected DAYS HH:MM, DAYS HH:MM-HH:MM or DAYS HH:MM-HH:MM every N(m|h)".into()),
    };
    let when = match time.split_once('-') {
        Some((from, until)) => {
            let (from, until) = (parse_time(from)?, parse_time(until)?);
            if from == until {
                return Err("a window must not start and end at the same minute".into());
            }
            When::Window { from, until, every }
        }
        None if every.is_some() => return Err("`every` needs a window (HH:MM-HH:MM)".into()),
        None => When::At(parse_time(time)?),
    };
    Ok(Entry { days, when })
}

fn parse_days(w: &str) -> Result<u8, String> {
    match w.to_ascii_lowercase().as_str() {
        "daily" | "*" => return Ok(0x7f),
        "weekdays" => return Ok(0x1f),
        "weekends" => return Ok(0x60),
        _ => {}
    }
    let mut days = 0u8;
    for part in w.split(',') {
        let bits = match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                let mut bits = 0u8;
                let mut d = a;
                loop {
                    bits |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
                bits
            }
            None => 1 << day(part)?,
        };
        days |= bits;
    }
    Ok(days)
}

fn day(name: &str) -> Result<u8, String> {
    const DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let lower = name.to_ascii_lowercase();
    DAYS.iter()
        .position(|d| lower.len() >= 3 && d.starts_with(&lower))
        .map(|i| i as u8)
        .ok_or_else(|| format!("{name:?} is not a day (mon, tue, …, sun, daily, weekdays, weekends)"))
}

fn parse_time(t: &str) -> Result<u16, String> {
    let bad = || format!("{t:?} is not a time (HH:MM, 00:00 to 24:00)");
    let (h, m) = t.split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) || t.len() > 5 {
        return Err(bad());
    }
    Ok((h * 60 + m) % MINUTES_PER_DAY)
}

fn parse_interval(n: &str) -> Result<u16, String> {
    let bad = || format!("{n:?} is not an interval (such as 15m or 2h)");
    let (num, unit) = n.split_at(n.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let num: u16 = num.parse().map_err(|_| bad())?;
    let minutes = match unit {
        "m" | "min" | "mins" => num,
        "h" => num.checked_mul(60).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    if minutes == 0 || minutes >= MINUTES_PER_DAY {
        return Err(bad());
    }
    Ok(minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[&str]) -> Timetable {
        let v: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        Timetable::parse(&v, Some("UTC")).unwrap()
    }

    /// 2026-12-07 was a Monday; seconds at `hh:mm` UTC on the `day`-th day after it.
    fn at(day: i64, hh: i64, mm: i64) -> i64 {
        let monday: Timestamp = "2026-12-07T00:00:00Z".parse().unwrap();
        monday.as_second() + day * 86_400 + hh * 3600 + mm * 60
    }

    #[test]
    fn windows_open_on_their_days_only() {
        let t = table(&["mon-fri 08:00-18:00"]);
        assert!(t.open(at(0, 8, 0)) && t.open(at(4, 17, 59)));
        assert!(!t.open(at(0, 7, 59)) && !t.open(at(0, 18, 0)));
        assert!(!t.open(at(5, 12, 0)), "Saturday");
        assert!(!t.fired(at(0, 7, 0), at(0, 19, 0)), "a window without `every` has no connection times");
    }

    #[test]
    fn a_window_past_midnight_belongs_to_the_day_it_starts() {
        let t = table(&["fri 22:00-02:00"]);
        assert!(t.open(at(4, 23, 0)) && t.open(at(5, 1, 59)));
        assert!(!t.open(at(5, 2, 0)) && !t.open(at(0, 1, 0)), "Monday 01:00 follows Sunday, not Friday");
    }

    #[test]
    fn connection_times_fire_once_each() {
        let t = table(&["daily 12:30", "sat,sun 09:00-10:00 every 20m"]);
        assert!(t.fired(at(1, 12, 29) + 59, at(1, 12, 30)));
        assert!(!t.fired(at(1, 12, 30), at(1, 12, 31) - 1), "the same minute is not counted twice");
        let fired: Vec<i64> = (0..24 * 60).map(|m| at(5, 0, 0) + m * 60).filter(|&s| t.fired(s - 60, s)).collect();
        let expected = [at(5, 9, 0), at(5, 9, 20), at(5, 9, 40), at(5, 12, 30)];
        assert_eq!(fired, expected, "10:00 closes the window, so it is not a connection time");
        assert!(!t.fired(at(2, 13, 0), at(3, 12, 0)));
        assert!(t.fired(at(2, 13, 0), at(3, 13, 0)), "a late look still sees the time it missed");
        assert_eq!(t.next(at(1, 13, 0)), Some(at(2, 12, 30)));
    }

    #[test]
    fn day_names_and_ranges() {
        assert_eq!(parse_days("weekdays"), Ok(0x1f));
        assert_eq!(parse_days("Monday,wed"), Ok(0b101));
        assert_eq!(parse_days("sat-mon"), Ok(0b110_0001), "a range may wrap past Sunday");
        for bad in ["mo", "funday", "mon-", "sunday2"] {
            assert!(parse_days(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nonsense_is_refused_and_on_demand_never_opens() {
        for bad in ["", "mon", "25:00", "12:60", "mon 08:00-08:00", "08:00 every 5m", "09:00-10:00 every 0m", "9:00:00"]
        {
            assert!(Timetable::parse(&[bad.to_owned()], Some("UTC")).is_err(), "{bad:?}");
        }
        assert!(Timetable::parse(&["daily 10:00".to_owned()], Some("Nowhere/Atlantis")).is_err());
        let t = table(&["on demand"]);
        assert!(t.entries.is_empty() && !t.open(at(0, 12, 0)) && t.next(at(0, 0, 0)).is_none());
        assert_eq!(table(&["24:00"]).next(at(0, 0, 0)), Some(at(1, 0, 0)));
    }

    #[test]
    fn local_time_follows_daylight_saving() {
        let v = vec!["daily 09:00".to_owned()];
        let t = Timetable::parse(&v, Some("Europe/London")).unwrap();
        // 09:00 in London is 09:00 UTC in December and 08:00 UTC in July.
        assert!(t.fired(at(0, 8, 59), at(0, 9, 0)));
        let july: Timestamp = "2026-07-06T08:00:00Z".parse().unwrap();
        assert!(t.fired(july.as_second() - 1, july.as_second()));
    }
}
