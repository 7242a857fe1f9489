//! AWS Signature Version 4, as S3 checks it on every request: a canonical request (method, path,
//! query, the signed headers, the payload's SHA-256), hashed into a string to sign, signed with a
//! key derived from the secret, the date, the region and the service.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The SHA-256 of an empty payload (GET, DELETE).
pub(crate) const EMPTY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Who signs, and for which region and service.
#[derive(Clone, Copy)]
pub(crate) struct Credentials<'a> {
    pub(crate) access_key_id: &'a str,
    pub(crate) secret_access_key: &'a str,
    pub(crate) region: &'a str,
    pub(crate) service: &'a str,
}

/// The parts of a request that are signed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signed<'a> {
    pub(crate) method: &'a str,
    /// The path as sent, each segment already URI-encoded ([`encode_path`]).
    pub(crate) path: &'a str,
    /// The canonical query string (sorted, encoded); empty for none.
    pub(crate) query: &'a str,
    /// The headers to sign, with their values as sent; must include `host` and `x-amz-date`.
    pub(crate) headers: &'a [(&'a str, &'a str)],
    /// The hex SHA-256 of the payload, as sent in `x-amz-content-sha256`.
    pub(crate) payload_sha256: &'a str,
    /// `YYYYMMDDTHHMMSSZ`, as sent in `x-amz-date`.
    pub(crate) amz_date: &'a str,
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    text
}

/// The hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Encodes a path for the canonical request and the request line alike: every byte but the
/// unreserved ones (`A-Z a-z 0-9 - _ . ~`) and `/` as `%XX`.
pub(crate) fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push_str(&hex(&[b]).to_ascii_uppercase());
        }
    }
    out
}

/// The date part (`YYYYMMDD`) of an `x-amz-date`.
fn date_of(amz_date: &str) -> &str {
    amz_date.get(..8).unwrap_or(amz_date)
}

/// The credential scope: `<date>/<region>/<service>/aws4_request`.
pub(crate) fn scope(credentials: &Credentials<'_>, amz_date: &str) -> String {
    format!(
        "{}/{}/{}/aws4_request",
        date_of(amz_date),
        credentials.region,
        credentials.service
    )
}

/// Header names, lowercase, sorted and joined with `;`; and the canonical header block.
fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut sorted: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| {
            let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
            (name.to_ascii_lowercase(), value)
        })
        .collect();
    sorted.sort();
    let names = sorted
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let block = sorted.iter().fold(String::new(), |mut block, (n, v)| {
        block.push_str(n);
        block.push(':');
        block.push_str(v);
        block.push('\n');
        block
    });
    (names, block)
}

/// The hex signature of `request`.
pub(crate) fn signature(credentials: &Credentials<'_>, request: &Signed<'_>) -> String {
    let (signed_headers, header_block) = canonical_headers(request.headers);
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        request.path,
        request.query,
        header_block,
        signed_headers,
        request.payload_sha256
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{}\n{}",
        request.amz_date,
        scope(credentials, request.amz_date),
        sha256_hex(canonical.as_bytes())
    );
    let secret = format!("AWS4{}", credentials.secret_access_key);
    let key = [
        date_of(request.amz_date),
        credentials.region,
        credentials.service,
        "aws4_request",
    ]
    .iter()
    .fold(secret.into_bytes(), |key, part| {
        hmac(&key, part.as_bytes()).to_vec()
    });
    hex(&hmac(&key, to_sign.as_bytes()))
}

/// The `Authorization` header value for `request`.
pub(crate) fn authorization(credentials: &Credentials<'_>, request: &Signed<'_>) -> String {
    let (signed_headers, _) = canonical_headers(request.headers);
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{},SignedHeaders={},Signature={}",
        credentials.access_key_id,
        scope(credentials, request.amz_date),
        signed_headers,
        signature(credentials, request)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The "GET Object" example of the S3 documentation on signing with the Authorization
    /// header (examplebucket, 24 May 2013).
    #[test]
    fn the_signer_reproduces_the_published_s3_get_object_example() {
        let credentials = Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE",
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            region: "us-east-1",
            service: "s3",
        };
        let request = Signed {
            method: "GET",
            path: "/test.txt",
            query: "",
            headers: &[
                ("Host", "examplebucket.s3.amazonaws.com"),
                ("Range", "bytes=0-9"),
                ("x-amz-content-sha256", EMPTY_SHA256),
                ("x-amz-date", "20130524T000000Z"),
            ],
            payload_sha256: EMPTY_SHA256,
            amz_date: "20130524T000000Z",
        };
        assert_eq!(
            signature(&credentials, &request),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert_eq!(
            authorization(&credentials, &request),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,\
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn paths_keep_slashes_and_unreserved_bytes_and_encode_the_rest() {
        assert_eq!(encode_path("/b/t-1/a_b.c~d"), "/b/t-1/a_b.c~d");
        assert_eq!(encode_path("/a b/é+"), "/a%20b/%C3%A9%2B");
    }

    #[test]
    fn an_empty_payload_hashes_to_the_constant() {
        assert_eq!(sha256_hex(b""), EMPTY_SHA256);
    }
}
