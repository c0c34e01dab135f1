//! French formatting of what people read: dates, Paris times, numbers with a decimal comma,
//! hours, percentages, grades and durations — the one formatter of PDFs, certificates,
//! mail, exports and (through [`helpers`]) templates. Pure functions over values already
//! parsed; reading what people type is each capability's business.
//!
//! Typography: a no-break space (U+00A0) between a number and its unit (« 4,5 h »,
//! « 50 % ») and around the « h » of a time of day, as `catalog::markdown::french_spaces`
//! puts one before « % »; no thousands separator, so that exported figures stay numbers to a
//! spreadsheet. Durations (« 1 h 05 min 07 s ») keep plain spaces: they may wrap between
//! their parts. Times are stored in UTC and stated in Europe/Paris.

pub mod helpers;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::{Europe::Paris, Tz};

/// The no-break space between a number and its unit.
pub const NBSP: char = '\u{00A0}';

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// « 5 décembre 2026 », « 1er décembre 2026 ».
pub fn date(day: NaiveDate) -> String {
    let number = match day.day() {
        1 => "1er".to_owned(),
        d => d.to_string(),
    };
    format!("{number} {} {}", MONTHS[day.month0() as usize], day.year())
}

/// « 05/12/2026 ».
pub fn short_date(day: NaiveDate) -> String {
    day.format("%d/%m/%Y").to_string()
}

/// A UTC instant as the clock in Paris showed it.
pub fn paris(utc: NaiveDateTime) -> DateTime<Tz> {
    Paris.from_utc_datetime(&utc)
}

/// The day in Paris of a UTC instant (a UTC evening may already be tomorrow there).
pub fn paris_day(utc: NaiveDateTime) -> NaiveDate {
    paris(utc).date_naive()
}

/// Today in Paris: the day people here count in (from 23:00 or 22:00 UTC, tomorrow's).
pub fn paris_today() -> NaiveDate {
    paris_day(chrono::Utc::now().naive_utc())
}

/// The UTC instant at which a Paris day begins (a filter « from day D » for people who
/// count days in Paris).
pub fn paris_midnight(day: NaiveDate) -> NaiveDateTime {
    Paris
        .from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map_or_else(|| day.and_time(chrono::NaiveTime::MIN), |d| d.naive_utc())
}

/// « 05/12/2026 à 14 h 30 », Paris time: pages, mail and PDFs.
pub fn date_time(utc: NaiveDateTime) -> String {
    paris(utc)
        .format(&format!("%d/%m/%Y à %H{NBSP}h{NBSP}%M"))
        .to_string()
}

/// « 05/12/2026 17:04:12 UTC+01:00 », Paris time to the second with its offset: a printed
/// record, where the hour repeated when summer time ends must stay unambiguous.
pub fn record_time(utc: NaiveDateTime) -> String {
    paris(utc).format("%d/%m/%Y %H:%M:%S UTC%:z").to_string()
}

/// « 2026-12-05 17:04:12 +01:00 », Paris time with its offset: the column format of the
/// exports, which software reads back (Python's `%Y-%m-%d %H:%M:%S %z`).
pub fn export_time(utc: NaiveDateTime) -> String {
    paris(utc).format("%Y-%m-%d %H:%M:%S %:z").to_string()
}

/// `value` with exactly `places` decimals (halves away from zero) and a decimal comma;
/// never « -0,0 ».
pub fn fixed(value: f64, places: usize) -> String {
    let scale = 10f64.powi(places as i32);
    let rounded = (value * scale).round() / scale;
    let text = format!("{rounded:.places$}");
    let text = match text.strip_prefix('-') {
        Some(unsigned) if unsigned.chars().all(|c| c == '0' || c == '.') => unsigned.to_owned(),
        _ => text,
    };
    text.replace('.', ",")
}

/// `value` with at most `places` decimals, trailing zeros dropped: « 4,5 », « 4 », « 9,75 ».
pub fn number_upto(value: f64, places: usize) -> String {
    let text = fixed(value, places);
    if text.contains(',') {
        text.trim_end_matches('0').trim_end_matches(',').to_owned()
    } else {
        text
    }
}

/// `value` with at most one decimal: « 4,5 », « 80 », « -2,3 ».
pub fn number(value: f64) -> String {
    number_upto(value, 1)
}

/// « 4,5 h », « 7 h ».
pub fn hours(value: f64) -> String {
    format!("{}{NBSP}h", number(value))
}

/// « 50 % », « 87,5 % ».
pub fn percent(value: f64) -> String {
    format!("{}{NBSP}%", number(value))
}

/// « +47,5 points », « -3 points »: a gain between two scores.
pub fn points(value: f64) -> String {
    let text = number(value);
    let sign = if text.starts_with('-') { "" } else { "+" };
    format!("{sign}{text}{NBSP}points")
}

/// A number typed as an answer, up to three decimals: « 2,5 », « 0,125 ».
pub fn number_upto_3(value: f64) -> String {
    number_upto(value, 3)
}

/// « 12,5 », « 9,75 »: a grade out of 20 without its scale (a column titled « /20 »).
pub fn grade_value(value: f64) -> String {
    number_upto(value, 2)
}

/// « 12,5/20 », « 9,75/20 », « 0/20 ».
pub fn grade(value: f64) -> String {
    format!("{}/20", grade_value(value))
}

/// « 1 h 05 min 07 s », « 0 min 59 s »: time on task as people read it on a record.
pub fn duration(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    if h > 0 {
        format!("{h} h {m:02} min {s:02} s")
    } else {
        format!("{m} min {s:02} s")
    }
}

/// « 3 h 25 min »: a measured time to the minute.
pub fn duration_minutes(seconds: i64) -> String {
    let minutes = seconds / 60;
    format!("{} h {:02} min", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn utc(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    /// Reads the tests with plain spaces where the formatter puts no-break ones.
    fn plain(text: String) -> String {
        text.replace(NBSP, " ")
    }

    #[test]
    fn dates_read_in_french() {
        assert_eq!(date(day(2026, 12, 5)), "5 décembre 2026");
        assert_eq!(date(day(2026, 12, 1)), "1er décembre 2026");
        assert_eq!(date(day(2026, 8, 15)), "15 août 2026");
        assert_eq!(date(day(2027, 2, 28)), "28 février 2027");
        assert_eq!(short_date(day(2026, 12, 5)), "05/12/2026");
    }

    #[test]
    fn times_read_in_paris() {
        assert_eq!(
            plain(date_time(utc("2026-12-05 13:30:00"))),
            "05/12/2026 à 14 h 30"
        );
        assert_eq!(
            plain(date_time(utc("2026-07-01 10:05:00"))),
            "01/07/2026 à 12 h 05"
        );
        assert_eq!(
            date_time(utc("2026-12-05 13:30:00")),
            "05/12/2026 à 14\u{a0}h\u{a0}30"
        );
        // A UTC evening is already the next day in Paris.
        assert_eq!(paris_day(utc("2026-12-31 23:30:00")), day(2027, 1, 1));
    }

    #[test]
    fn records_and_exports_carry_the_offset_across_both_changes() {
        assert_eq!(
            export_time(utc("2026-12-05 16:04:12")),
            "2026-12-05 17:04:12 +01:00"
        );
        assert_eq!(
            export_time(utc("2026-07-01 10:00:00")),
            "2026-07-01 12:00:00 +02:00"
        );
        // Summer time ends on 25 October 2026 at 01:00 UTC: 02:30 happens twice in Paris.
        assert_eq!(
            record_time(utc("2026-10-25 00:30:00")),
            "25/10/2026 02:30:00 UTC+02:00"
        );
        assert_eq!(
            record_time(utc("2026-10-25 01:30:00")),
            "25/10/2026 02:30:00 UTC+01:00"
        );
        assert_eq!(
            export_time(utc("2026-12-31 23:30:00")),
            "2027-01-01 00:30:00 +01:00"
        );
    }

    #[test]
    fn numbers_take_a_comma_and_no_negative_zero() {
        assert_eq!(number(4.5), "4,5");
        assert_eq!(number(4.0), "4");
        assert_eq!(number(87.46), "87,5");
        assert_eq!(number(-2.25), "-2,3");
        assert_eq!(number(-0.04), "0");
        assert_eq!(number(-0.0), "0");
        assert_eq!(fixed(-0.04, 1), "0,0");
        assert_eq!(fixed(80.0, 1), "80,0");
        assert_eq!(fixed(-1.5, 1), "-1,5");
        assert_eq!(number_upto(9.75, 2), "9,75");
        assert_eq!(number_upto(10.10, 2), "10,1");
        assert_eq!(number(1234.5), "1234,5", "no thousands separator");
    }

    #[test]
    fn units_follow_a_no_break_space() {
        assert_eq!(hours(4.5), "4,5\u{a0}h");
        assert_eq!(plain(hours(7.0)), "7 h");
        assert_eq!(plain(percent(50.0)), "50 %");
        assert_eq!(plain(percent(87.5)), "87,5 %");
        assert_eq!(plain(points(47.5)), "+47,5 points");
        assert_eq!(plain(points(-3.0)), "-3 points");
        assert_eq!(plain(points(-0.01)), "+0 points");
    }

    #[test]
    fn grades_are_out_of_twenty() {
        assert_eq!(grade(12.5), "12,5/20");
        assert_eq!(grade(9.75), "9,75/20");
        assert_eq!(grade(20.0), "20/20");
        assert_eq!(grade(0.0), "0/20");
        assert_eq!(grade_value(14.5), "14,5");
    }

    #[test]
    fn durations_read_as_hours_minutes_seconds() {
        assert_eq!(duration(0), "0 min 00 s");
        assert_eq!(duration(3907), "1 h 05 min 07 s");
        assert_eq!(duration(59), "0 min 59 s");
        assert_eq!(duration_minutes(12_300), "3 h 25 min");
    }

    #[test]
    fn a_paris_day_begins_an_hour_or_two_before_utc_midnight() {
        let winter = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        assert_eq!(paris_midnight(winter).to_string(), "2026-12-05 23:00:00");
        let summer = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        assert_eq!(paris_midnight(summer).to_string(), "2026-06-30 22:00:00");
        // Completed at 23:30 UTC on 5 December: the 6th in Paris, inside a filter from the 6th.
        let late = NaiveDate::from_ymd_opt(2026, 12, 5)
            .unwrap()
            .and_hms_opt(23, 30, 0)
            .unwrap();
        assert_eq!(paris_day(late), winter);
        assert!(late >= paris_midnight(winter));
    }
}
