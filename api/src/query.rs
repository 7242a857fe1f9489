//! Query strings read parameter by parameter: repeated parameters (`status=paid&status=paid`)
//! and comma-separated ones, values parsed with the field named when they do not, and every
//! problem of a request gathered into one 422.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use schemas::StreamId;
use serde::de::DeserializeOwned;

use crate::body::{Paging, Params};
use crate::{ApiError, FieldError};

/// The query string as its parameters, in order, repeated ones included.
pub(crate) type Pairs = Params<Vec<(String, String)>>;

/// A query string read parameter by parameter, every problem collected for one 422.
#[derive(Debug)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
    errors: Vec<FieldError>,
}

impl Query {
    /// The parameters; any not in `known` is a problem.
    pub(crate) fn new(pairs: Vec<(String, String)>, known: &[&str]) -> Self {
        let mut query = Self {
            pairs,
            errors: Vec::new(),
        };
        let unknown: Vec<String> = query
            .pairs
            .iter()
            .map(|(key, _)| key)
            .filter(|key| !known.contains(&key.as_str()))
            .cloned()
            .collect();
        for key in unknown {
            query.fail(
                &key,
                format!("unknown parameter; known: {}", known.join(", ")),
            );
        }
        query
    }

    pub(crate) fn fail(&mut self, field: &str, message: impl Into<String>) {
        if !self.errors.iter().any(|e| e.field == field) {
            self.errors.push(FieldError {
                field: field.to_owned(),
                message: message.into(),
            });
        }
    }

    /// Every non-empty value of `key`, comma-separated ones split.
    pub(crate) fn values(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The one value of `key`, parsed; absent or empty is `None`.
    pub(crate) fn one<T>(
        &mut self,
        key: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let values: Vec<&str> = self
            .pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        match values.as_slice() {
            [] => None,
            [value] => match parse(value) {
                Ok(parsed) => Some(parsed),
                Err(message) => {
                    self.fail(key, message);
                    None
                }
            },
            _ => {
                self.fail(key, "give it once");
                None
            }
        }
    }

    /// Every value of `key`, parsed.
    pub(crate) fn many<T>(
        &mut self,
        key: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Vec<T> {
        let mut parsed = Vec::new();
        for value in self.values(key) {
            match parse(&value) {
                Ok(v) => parsed.push(v),
                Err(message) => self.fail(key, message),
            }
        }
        parsed
    }

    /// `page` and `per_page`.
    pub(crate) fn paging(&mut self) -> Paging {
        let page = self.one("page", number);
        let per_page = self.one("per_page", number);
        match Paging::new(page, per_page) {
            Ok(paging) => paging,
            Err(ApiError::Validation(errors)) => {
                self.errors.extend(errors);
                Paging {
                    page: 1,
                    per_page: 20,
                }
            }
            Err(_) => Paging {
                page: 1,
                per_page: 20,
            },
        }
    }

    /// Done reading: a 422 naming every bad parameter, if any.
    pub(crate) fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

pub(crate) fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| "must be a whole number, 0 or more".to_owned())
}

pub(crate) fn boolean(text: &str) -> Result<bool, String> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("must be true or false".into()),
    }
}

pub(crate) fn id(text: &str) -> Result<String, String> {
    StreamId::parse(text)
        .map(|id| id.as_str().to_owned())
        .map_err(|e| e.to_string())
}

/// A value of an enum by its wire name.
pub(crate) fn named<T: DeserializeOwned>(
    names: &'static str,
) -> impl Fn(&str) -> Result<T, String> {
    move |text| {
        serde_json::from_value(serde_json::Value::String(text.to_owned()))
            .map_err(|_| format!("must be one of {names}"))
    }
}

pub(crate) fn day(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| "must be a date: 2026-03-01".into())
}

/// A list's time bound: a day in the tenant's time zone, or an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    /// A day in the tenant's time zone.
    Day(NaiveDate),
    /// An instant.
    At(DateTime<Utc>),
}

pub(crate) fn bound(text: &str) -> Result<Bound, String> {
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(Bound::Day(d));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| Bound::At(t.with_timezone(&Utc)))
        .map_err(|_| "must be a date (2026-03-01) or an RFC 3339 time".into())
}

/// When `day` starts in `tz`.
pub(crate) fn start_of(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight)
        .earliest()
        // A day that starts in a daylight-saving gap starts when the clocks resume.
        .unwrap_or_else(|| tz.from_utc_datetime(&midnight))
        .with_timezone(&Utc)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    /// A query of `text` (`a=1&b=2`) for routes that know `known`.
    pub(crate) fn query(text: &str, known: &[&str]) -> Query {
        let pairs = text
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        Query::new(pairs, known)
    }

    /// The fields a finished query names in its 422.
    pub(crate) fn fields(q: Query) -> Vec<String> {
        match q.finish() {
            Ok(()) => Vec::new(),
            Err(ApiError::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn sets_are_repeated_or_comma_separated_and_empty_values_are_absent() {
        let mut q = query("s=a&s=b,c&s=&one=", &["s", "one"]);
        assert_eq!(q.many("s", |v| Ok(v.to_owned())), ["a", "b", "c"]);
        assert_eq!(q.one("one", |v| Ok(v.to_owned())), None);
        assert!(fields(q).is_empty());
    }

    #[test]
    fn every_bad_parameter_is_named_in_one_422() {
        let mut q = query(
            "n=x&b=yes&d=yesterday&colour=red&per_page=500",
            &["n", "b", "d", "per_page"],
        );
        q.paging();
        q.one("n", number::<u32>);
        q.one("b", boolean);
        q.one("d", day);
        let mut bad = fields(q);
        bad.sort();
        assert_eq!(bad, ["b", "colour", "d", "n", "per_page"]);
    }

    #[test]
    fn a_parameter_given_twice_where_one_is_wanted_is_refused() {
        let mut q = query("code=E-1&code=E-2", &["code"]);
        q.one("code", |c| Ok(c.to_owned()));
        assert_eq!(fields(q), ["code"]);
    }

    #[test]
    fn bounds_are_days_or_instants() {
        assert_eq!(
            bound("2026-03-01"),
            Ok(Bound::Day(day("2026-03-01").unwrap()))
        );
        assert_eq!(
            bound("2026-03-01T10:00:00+07:00"),
            Ok(Bound::At(
                Utc.with_ymd_and_hms(2026, 3, 1, 3, 0, 0).unwrap()
            ))
        );
        assert!(bound("01/03/2026").is_err());
    }

    #[test]
    fn a_day_starts_at_midnight_in_the_time_zone() {
        let start = start_of(day("2026-03-01").unwrap(), chrono_tz::Asia::Jakarta);
        assert_eq!(start, Utc.with_ymd_and_hms(2026, 2, 28, 17, 0, 0).unwrap());
    }
}
