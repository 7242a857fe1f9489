//! The upload form: `multipart/form-data` with `file`, `purpose` and an optional `owner_id`,
//! read under a size limit while it streams in, and the file's type found from its first bytes.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use bytes::{Bytes, BytesMut};
use http_body_util::Limited;

use crate::{ApiError, FieldError};

/// What a form may carry besides the file (boundaries, part headers, `purpose`, `owner_id`):
/// a body announced larger than the limit plus this is refused before it is read.
pub(crate) const FORM_OVERHEAD_BYTES: u64 = 16 * 1024;

/// The longest `purpose` or `owner_id` accepted.
const MAX_TEXT_BYTES: usize = 128;

/// The longest original file name kept, in characters.
const MAX_NAME_CHARS: usize = 255;

/// What a file is for; it decides who may upload and read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Product,
    Category,
    Customer,
}

impl Purpose {
    pub(crate) const ALL: [Purpose; 3] = [Purpose::Product, Purpose::Category, Purpose::Customer];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Purpose::Product => "product",
            Purpose::Category => "category",
            Purpose::Customer => "customer",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// A read, checked form.
#[derive(Debug)]
pub(crate) struct UploadForm {
    pub(crate) bytes: Bytes,
    pub(crate) original_name: Option<String>,
    pub(crate) purpose: Purpose,
    pub(crate) owner_id: Option<String>,
}

/// The image types accepted, by their magic bytes; `None` for anything else.
pub(crate) fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn too_large(limit: u64) -> ApiError {
    ApiError::refused(
        413,
        "PAYLOAD_TOO_LARGE",
        format!("the file is larger than {limit} bytes"),
    )
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::Validation(vec![FieldError {
        field: field.to_owned(),
        message: message.to_owned(),
    }])
}

fn multipart_failed(err: &axum::extract::multipart::MultipartError, limit: u64) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(limit)
    } else {
        ApiError::Malformed(vec![FieldError {
            field: "body".into(),
            message: err.body_text(),
        }])
    }
}

/// Reads the form of `request`. Not multipart → 415 `UNSUPPORTED_MEDIA_TYPE`; announced or
/// streamed past `limit` → 413 `PAYLOAD_TOO_LARGE`, as soon as the limit is crossed; broken
/// multipart → 400 `MALFORMED_BODY`; missing or invalid fields → 422.
pub(crate) async fn read(request: Request, limit: u64) -> Result<UploadForm, ApiError> {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("multipart/form-data"));
    if !multipart {
        return Err(ApiError::refused(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the file as multipart/form-data",
        ));
    }
    let most = limit.saturating_add(FORM_OVERHEAD_BYTES);
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > most) {
        return Err(too_large(limit));
    }
    // The whole body is cut off past the file's limit plus the form's overhead (a body without
    // a length, or one with many other parts); the file part itself is counted below.
    let (parts, body) = request.into_parts();
    let body = Body::new(Limited::new(
        body,
        usize::try_from(most).unwrap_or(usize::MAX),
    ));
    let mut form = Multipart::from_request(Request::from_parts(parts, body), &())
        .await
        .map_err(|rejection| {
            ApiError::Malformed(vec![FieldError {
                field: "body".into(),
                message: rejection.body_text(),
            }])
        })?;

    let mut file: Option<(BytesMut, Option<String>)> = None;
    let mut purpose: Option<String> = None;
    let mut owner_id: Option<String> = None;
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| multipart_failed(&e, limit))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                if file.is_some() {
                    return Err(invalid("file", "send one file per request"));
                }
                let original_name = field.file_name().map(|n| {
                    n.chars()
                        .filter(|c| !c.is_control())
                        .take(MAX_NAME_CHARS)
                        .collect::<String>()
                });
                let mut bytes = BytesMut::new();
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|e| multipart_failed(&e, limit))?
                {
                    if (bytes.len() + chunk.len()) as u64 > limit {
                        return Err(too_large(limit));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                file = Some((bytes, original_name.filter(|n| !n.is_empty())));
            }
            "purpose" | "owner_id" => {
                let slot = if name == "purpose" {
                    &mut purpose
                } else {
                    &mut owner_id
                };
                if slot.is_some() {
                    return Err(invalid(&name, "send this field once"));
                }
                let mut bytes = Vec::new();
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|e| multipart_failed(&e, limit))?
                {
                    if bytes.len() + chunk.len() > MAX_TEXT_BYTES {
                        return Err(invalid(
                            &name,
                            &format!("must be at most {MAX_TEXT_BYTES} bytes"),
                        ));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                let text =
                    String::from_utf8(bytes).map_err(|_| invalid(&name, "must be UTF-8 text"))?;
                *slot = Some(text.trim().to_owned());
            }
            // Other parts are skipped (and still count toward the body's limit).
            _ => {}
        }
    }

    let mut errors = Vec::new();
    let mut error = |field: &str, message: &str| {
        errors.push(FieldError {
            field: field.to_owned(),
            message: message.to_owned(),
        });
    };
    match &file {
        None => error("file", "is required"),
        Some((bytes, _)) if bytes.is_empty() => error("file", "must not be empty"),
        Some(_) => {}
    }
    let parsed = match purpose.as_deref() {
        None | Some("") => {
            error("purpose", "is required");
            None
        }
        Some(text) => {
            let parsed = Purpose::parse(text);
            if parsed.is_none() {
                error("purpose", "must be product, category or customer");
            }
            parsed
        }
    };
    let owner_id = owner_id.filter(|o| !o.is_empty());
    if let Some(owner) = &owner_id
        && !owner.chars().all(|c| c.is_ascii_graphic())
    {
        error("owner_id", "must be visible ASCII without spaces");
    }
    match (file, parsed) {
        (Some((bytes, original_name)), Some(purpose)) if errors.is_empty() => Ok(UploadForm {
            bytes: bytes.freeze(),
            original_name,
            purpose,
            owner_id,
        }),
        _ => Err(ApiError::Validation(errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_image_types_are_known_by_their_magic_bytes_and_nothing_else_is() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"GIF87a.."), Some("image/gif"));
        assert_eq!(sniff(b"GIF89a.."), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WAVEfmt "), None);
        assert_eq!(sniff(b"\x89PNG\r\n"), None);
        assert_eq!(sniff(b"hello, I am a PNG"), None);
        assert_eq!(sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), None);
        assert_eq!(sniff(b""), None);
    }
}
