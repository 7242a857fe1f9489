//! The outgoing side of HTTP, shared by the S3 store and the payment providers: one HTTP/1.1
//! connection per request, over TLS with the web's root certificates for `https`. Calls out are
//! few next to the API's own traffic (an upload, a checkout, a status check), which keeps this
//! free of a pool to tend.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    /// The host could not be reached, the TLS handshake failed, or the connection broke.
    #[error("{0}")]
    Unreachable(String),
    /// No whole answer came in time.
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
}

impl CallError {
    fn unreachable(e: &dyn std::fmt::Display) -> Self {
        Self::Unreachable(e.to_string())
    }
}

/// A TLS client trusting the web's root certificates.
pub(crate) fn tls_connector() -> Result<TlsConnector, tokio_rustls::rustls::Error> {
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let builder =
        ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions()?;
    Ok(TlsConnector::from(Arc::new(
        builder.with_root_certificates(roots).with_no_client_auth(),
    )))
}

/// Connects to `host:port` (over TLS when `tls` is given, checking the certificate against
/// `host`) and sends `request`; the answer with its body still to be read.
pub(crate) async fn exchange(
    host: &str,
    port: u16,
    tls: Option<&TlsConnector>,
    request: Request<Full<Bytes>>,
) -> Result<Response<Incoming>, CallError> {
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|e| CallError::unreachable(&e))?;
    let mut sender = match tls {
        None => handshake(TokioIo::new(tcp)).await?,
        Some(tls) => {
            let name =
                ServerName::try_from(host.to_owned()).map_err(|e| CallError::unreachable(&e))?;
            let stream = tls
                .connect(name, tcp)
                .await
                .map_err(|e| CallError::unreachable(&e))?;
            handshake(TokioIo::new(stream)).await?
        }
    };
    sender
        .send_request(request)
        .await
        .map_err(|e| CallError::unreachable(&e))
}

async fn handshake<T>(
    io: TokioIo<T>,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, CallError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| CallError::unreachable(&e))?;
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(error = %err, "outgoing HTTP connection ended");
        }
    });
    Ok(sender)
}

/// A whole answer, read up to a size limit.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The status code.
    pub(crate) status: u16,
    /// The body.
    pub(crate) body: Bytes,
}

/// A base URL (`https://api.example.com[:port][/prefix]`) to send whole requests to, each
/// within a deadline.
#[derive(Clone)]
pub(crate) struct Endpoint {
    host: String,
    port: u16,
    /// The `Host` header: the host, with the port when it is not the scheme's.
    authority: String,
    /// The base URL's path, without a trailing `/` (usually empty).
    prefix: String,
    tls: Option<TlsConnector>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("authority", &self.authority)
            .field("prefix", &self.prefix)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Endpoint {
    /// Parses `base_url`; `tls` is used when it is `https`. Nothing is called yet.
    pub(crate) fn parse(base_url: &str, tls: &TlsConnector) -> Result<Self, String> {
        let uri: Uri = base_url
            .parse()
            .map_err(|_| format!("`{base_url}` is not a URL"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(format!("`{base_url}` must start with http:// or https://")),
        };
        let host = uri
            .host()
            .ok_or_else(|| format!("`{base_url}` has no host"))?
            .to_owned();
        let default_port = if https { 443 } else { 80 };
        let port = uri.port_u16().unwrap_or(default_port);
        let authority = if port == default_port {
            host.clone()
        } else {
            format!("{host}:{port}")
        };
        Ok(Self {
            prefix: uri.path().trim_end_matches('/').to_owned(),
            host,
            port,
            authority,
            tls: https.then(|| tls.clone()),
        })
    }

    /// Sends `method path` (path from the base URL's, already encoded) with `headers` and
    /// `body`, and reads the answer (up to `max_body` bytes), all within `timeout`.
    pub(crate) async fn call(
        &self,
        method: hyper::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        timeout: Duration,
        max_body: usize,
    ) -> Result<Answer, CallError> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.prefix))
            .header("host", &self.authority)
            .header("content-length", body.len());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| CallError::unreachable(&e))?;
        let whole = async {
            let response = exchange(&self.host, self.port, self.tls.as_ref(), request).await?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), max_body)
                .collect()
                .await
                .map_err(|e| CallError::unreachable(&e))?
                .to_bytes();
            Ok(Answer { status, body })
        };
        tokio::time::timeout(timeout, whole)
            .await
            .map_err(|_| CallError::TimedOut(timeout))?
    }
}

/// Encodes one path segment: every byte but the unreserved ones (`A-Z a-z 0-9 - _ . ~`) as
/// `%XX`, so an id with `/` or `?` stays one segment.
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_segment_keeps_unreserved_bytes_and_encodes_the_rest() {
        assert_eq!(encode_segment("E-2026_11.28~1"), "E-2026_11.28~1");
        assert_eq!(encode_segment("a/b?c d#é"), "a%2Fb%3Fc%20d%23%C3%A9");
    }

    #[test]
    fn an_endpoint_takes_http_or_https_with_a_port_and_a_prefix() {
        let tls = tls_connector().expect("TLS");
        let plain = Endpoint::parse("http://127.0.0.1:8080/base/", &tls).expect("valid");
        assert_eq!(plain.authority, "127.0.0.1:8080");
        assert_eq!(plain.prefix, "/base");
        assert!(plain.tls.is_none());
        let secure = Endpoint::parse("https://api.sandbox.midtrans.com", &tls).expect("valid");
        assert_eq!(
            (secure.port, secure.authority.as_str()),
            (443, "api.sandbox.midtrans.com")
        );
        assert!(secure.tls.is_some());
        assert!(Endpoint::parse("ftp://host", &tls).is_err());
        assert!(Endpoint::parse("not a url", &tls).is_err());
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_and_a_silent_server_times_out() {
        let tls = tls_connector().expect("TLS");
        // A port just freed: nothing listens there.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind")
            .local_addr()
            .expect("addr");
        let endpoint = Endpoint::parse(&format!("http://{closed}"), &tls).expect("valid");
        let error = endpoint
            .call(
                hyper::Method::GET,
                "/",
                &[],
                Bytes::new(),
                Duration::from_secs(5),
                1024,
            )
            .await
            .expect_err("nothing listens");
        assert!(matches!(error, CallError::Unreachable(_)), "{error:?}");

        // Accepts and never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = Endpoint::parse(
            &format!("http://{}", silent.local_addr().expect("addr")),
            &tls,
        )
        .expect("valid");
        let error = endpoint
            .call(
                hyper::Method::GET,
                "/",
                &[],
                Bytes::new(),
                Duration::from_millis(200),
                1024,
            )
            .await
            .expect_err("no answer");
        assert!(matches!(error, CallError::TimedOut(_)), "{error:?}");
        drop(silent);
    }
}
