//! Timestamps as the API sends them. The database keeps UTC without an offset
//! (`NaiveDateTime`); a client must not guess it: RFC 3339 with `Z`, as the OpenAPI
//! `date-time` format requires. Reading accepts that form and the bare one (documents
//! stored before, such as a certificate's frozen facts).
//! Use with `#[serde(with = "crate::http::timestamps::utc")]` (or `utc_option`).

use chrono::{DateTime, NaiveDateTime, SecondsFormat};
use serde::{Deserialize, Deserializer, Serializer};

fn text(at: &NaiveDateTime) -> String {
    at.and_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn read<E: serde::de::Error>(raw: &str) -> Result<NaiveDateTime, E> {
    DateTime::parse_from_rfc3339(raw)
        .map(|at| at.naive_utc())
        .or_else(|_| raw.parse::<NaiveDateTime>())
        .map_err(E::custom)
}

pub mod utc {
    use super::*;

    pub fn serialize<S: Serializer>(at: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&text(at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
        read(&String::deserialize(d)?)
    }
}

pub mod utc_option {
    use super::*;

    pub fn serialize<S: Serializer>(at: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => s.serialize_str(&text(at)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDateTime>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|raw| read(&raw))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct At {
        #[serde(with = "super::utc")]
        at: chrono::NaiveDateTime,
        #[serde(with = "super::utc_option", default)]
        maybe: Option<chrono::NaiveDateTime>,
    }

    #[test]
    fn sent_with_z_read_with_or_without() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 12, 5)
            .unwrap()
            .and_hms_micro_opt(9, 30, 0, 123_456)
            .unwrap();
        let json = serde_json::to_string(&At {
            at,
            maybe: Some(at),
        })
        .unwrap();
        assert_eq!(
            json,
            r#"{"at":"2026-12-05T09:30:00.123456Z","maybe":"2026-12-05T09:30:00.123456Z"}"#
        );
        let back: At = serde_json::from_str(&json).unwrap();
        assert_eq!(back.at, at);
        let old: At =
            serde_json::from_str(r#"{"at":"2026-12-05T09:30:00.123456","maybe":null}"#).unwrap();
        assert_eq!((old.at, old.maybe), (at, None));
    }
}
