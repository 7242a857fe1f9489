//! Request bodies and query strings that fail as problems with field errors, and the paginated
//! list shape every list route answers with.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{ApiError, FieldError};

/// The largest request body accepted (1 MiB); larger ones are a 413 problem.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON request body. Not JSON (or not UTF-8) → 400 `MALFORMED_BODY`; a missing field or a
/// wrong type → 422 `VALIDATION_FAILED` naming the field; too large → 413; another content type
/// → 415.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

fn field(message: &str, path: &str) -> FieldError {
    // serde names a missing field only in its message: "missing field `name` at line 1 column 2".
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let field = match (missing, path) {
        (Some(name), "." | "") => name.to_owned(),
        (Some(name), path) => format!("{path}.{name}"),
        (None, "." | "") => "body".to_owned(),
        (None, path) => path.to_owned(),
    };
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_owned();
    FieldError { field, message }
}

/// Parses JSON bytes into `T`, with errors as [`JsonBody`] describes.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let error = field(&inner.to_string(), &path);
        if inner.is_data() {
            ApiError::Validation(vec![error])
        } else {
            ApiError::Malformed(vec![FieldError {
                field: "body".into(),
                message: error.message,
            }])
        }
    })?;
    deserializer.end().map_err(|e| {
        ApiError::Malformed(vec![FieldError {
            field: "body".into(),
            message: field(&e.to_string(), "").message,
        }])
    })?;
    Ok(value)
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .is_some_and(|v| v == "application/json" || v.ends_with("+json"));
        if !json {
            return Err(ApiError::refused(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "send the body as application/json",
            ));
        }
        let too_large = || {
            ApiError::refused(
                413,
                "PAYLOAD_TOO_LARGE",
                format!("the body is larger than {MAX_BODY_BYTES} bytes"),
            )
        };
        // Refused from its announced length, before a byte of it is read; a body without one
        // (chunked) is cut off at the limit while it is read.
        let announced = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Err(too_large());
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large()
                } else {
                    ApiError::Malformed(vec![FieldError {
                        field: "body".into(),
                        message: rejection.body_text(),
                    }])
                }
            })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Query parameters; a bad one → 422 naming it.
#[derive(Debug, Clone)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|q| Params(q.0))
            .map_err(|rejection| {
                let text = rejection.body_text();
                let message = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                let field = message
                    .strip_prefix("missing field `")
                    .or_else(|| message.split_once(": ").map(|(f, _)| f))
                    .and_then(|f| f.split('`').next())
                    .unwrap_or("query");
                ApiError::Validation(vec![FieldError {
                    field: field.to_owned(),
                    message: message.to_owned(),
                }])
            })
    }
}

/// `page` (from 1) and `per_page` (1 to 100, default 20), checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// The page, from 1.
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
}

impl Paging {
    /// Checks the query's values.
    pub fn new(page: Option<u32>, per_page: Option<u32>) -> Result<Self, ApiError> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(20);
        let mut errors = Vec::new();
        if page == 0 {
            errors.push(FieldError {
                field: "page".into(),
                message: "must be 1 or more".into(),
            });
        }
        if !(1..=100).contains(&per_page) {
            errors.push(FieldError {
                field: "per_page".into(),
                message: "must be 1 to 100".into(),
            });
        }
        if errors.is_empty() {
            Ok(Self { page, per_page })
        } else {
            Err(ApiError::Validation(errors))
        }
    }

    /// SQL `LIMIT`.
    pub fn limit(self) -> i64 {
        i64::from(self.per_page)
    }

    /// SQL `OFFSET`.
    pub fn offset(self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }

    /// The list answer for `data` out of `total`.
    pub fn page<T>(self, data: Vec<T>, total: i64) -> Page<T> {
        let per_page = i64::from(self.per_page);
        Page {
            data,
            pagination: Pagination {
                page: self.page,
                per_page: self.per_page,
                total,
                last_page: ((total + per_page - 1) / per_page).max(1),
            },
        }
    }
}

/// The `page` and `per_page` of a list query.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageQuery {
    /// The page, from 1.
    pub page: Option<u32>,
    /// Items per page, 1 to 100.
    pub per_page: Option<u32>,
}

/// A page of a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items.
    pub data: Vec<T>,
    /// Where they are in the whole list.
    pub pagination: Pagination,
}

/// Where a page is.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Pagination {
    /// This page, from 1.
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
    /// Items in the whole list.
    pub total: i64,
    /// The last page (1 for an empty list).
    pub last_page: i64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Login {
        identifier: String,
        attempts: u32,
    }

    fn errors(err: ApiError) -> (String, Vec<FieldError>) {
        let code = err.status_and_code().1;
        match err {
            ApiError::Validation(e) | ApiError::Malformed(e) => (code, e),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_missing_field_is_a_422_naming_it() {
        let (code, e) = errors(parse_json::<Login>(br#"{"attempts": 1}"#).unwrap_err());
        assert_eq!(code, "VALIDATION_FAILED");
        assert_eq!(e[0].field, "identifier");
    }

    #[test]
    fn a_wrong_type_is_a_422_naming_the_field() {
        let (code, e) =
            errors(parse_json::<Login>(br#"{"identifier": "a", "attempts": "x"}"#).unwrap_err());
        assert_eq!(code, "VALIDATION_FAILED");
        assert_eq!(e[0].field, "attempts");
    }

    #[test]
    fn broken_json_and_invalid_utf8_are_400_malformed_body() {
        for body in [
            &b"{\"identifier\": "[..],
            b"{\"identifier\": \"\xff\xfe\", \"attempts\": 1}",
            br#"{"identifier": "a", "attempts": 1} []"#,
        ] {
            let (code, e) = errors(parse_json::<Login>(body).unwrap_err());
            assert_eq!(code, "MALFORMED_BODY");
            assert_eq!(e[0].field, "body");
        }
    }

    #[test]
    fn a_body_of_the_wrong_shape_is_a_422_about_the_body() {
        let (code, e) = errors(parse_json::<Login>(b"[]").unwrap_err());
        assert_eq!(code, "VALIDATION_FAILED");
        assert_eq!(e[0].field, "body");
    }

    #[test]
    fn paging_is_checked_and_counts_pages() {
        assert!(Paging::new(Some(0), None).is_err());
        assert!(Paging::new(None, Some(101)).is_err());
        let p = Paging::new(Some(3), Some(10)).unwrap();
        assert_eq!((p.limit(), p.offset()), (10, 20));
        assert_eq!(p.page(Vec::<u8>::new(), 21).pagination.last_page, 3);
        assert_eq!(p.page(Vec::<u8>::new(), 0).pagination.last_page, 1);
    }
}
