//! Access tokens: JWTs signed with HS256 (a shared secret) or EdDSA (an Ed25519 key pair),
//! carrying who the caller is and what they may do, so verifying one needs no database.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::IdentityError;
use crate::permissions::Permissions;

/// How access tokens are signed and checked.
#[derive(Clone)]
pub struct TokenKeys {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// What a token must satisfy, built once: the algorithm, `exp` and `sub` present, audience
    /// `catat` (expiry itself is checked against the injected clock).
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    fn new(algorithm: Algorithm, encoding: EncodingKey, decoding: DecodingKey) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.validate_exp = false;
        validation.required_spec_claims = ["exp", "sub"].into_iter().map(String::from).collect();
        validation.set_audience(&[AUDIENCE]);
        Self {
            algorithm,
            encoding,
            decoding,
            validation,
        }
    }

    /// HS256 with a shared secret of at least 32 bytes.
    pub fn hs256(secret: &[u8]) -> Result<Self, IdentityError> {
        if secret.len() < 32 {
            return Err(IdentityError::Config(
                "the JWT secret must be at least 32 bytes".into(),
            ));
        }
        Ok(Self::new(
            Algorithm::HS256,
            EncodingKey::from_secret(secret),
            DecodingKey::from_secret(secret),
        ))
    }

    /// HS256 with a random secret: tokens die with the process (refresh tokens, stored in
    /// the database, survive; clients refresh).
    pub fn ephemeral() -> Self {
        let secret = crate::secrets::random_token(48);
        Self::new(
            Algorithm::HS256,
            EncodingKey::from_secret(secret.as_bytes()),
            DecodingKey::from_secret(secret.as_bytes()),
        )
    }

    /// EdDSA from an Ed25519 private key (PKCS#8 PEM) and its public key (SPKI PEM).
    pub fn ed25519(private_pem: &[u8], public_pem: &[u8]) -> Result<Self, IdentityError> {
        let bad = |what: &str, e: jsonwebtoken::errors::Error| {
            IdentityError::Config(format!("the Ed25519 {what} key does not parse: {e}"))
        };
        Ok(Self::new(
            Algorithm::EdDSA,
            EncodingKey::from_ed_pem(private_pem).map_err(|e| bad("private", e))?,
            DecodingKey::from_ed_pem(public_pem).map_err(|e| bad("public", e))?,
        ))
    }

    /// The algorithm's JOSE name.
    pub fn algorithm_name(&self) -> &'static str {
        match self.algorithm {
            Algorithm::EdDSA => "EdDSA",
            _ => "HS256",
        }
    }

    /// Signs claims.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, IdentityError> {
        jsonwebtoken::encode(&Header::new(self.algorithm), claims, &self.encoding)
            .map_err(|e| IdentityError::Internal(Box::new(e)))
    }

    /// Checks a token's signature, algorithm and expiry (at `now`, no leeway) and returns its claims.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenError> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenError::Invalid)?;
        if data.claims.exp <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(data.claims)
    }
}

/// The audience every access token names.
const AUDIENCE: &str = "catat";

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Past its expiry.
    Expired,
    /// Malformed, wrongly signed, or for another algorithm or audience.
    Invalid,
}

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: String,
    /// The tenant.
    pub tid: String,
    /// `staff` or `customer`.
    pub knd: String,
    /// Role names.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Permissions the roles resolved to when the token was issued (`orders:view`).
    #[serde(default)]
    pub perms: Vec<String>,
    /// The customer record a customer user is, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    /// Set when the user must change their password before anything else.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mcp: bool,
    /// Audience: `catat`.
    pub aud: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
}

impl AccessClaims {
    /// The permissions the token carries; an unknown string (from a newer version) grants
    /// nothing.
    pub fn permissions(&self) -> Permissions {
        self.perms
            .iter()
            .filter_map(|p| Permissions::parse(&[p]).ok())
            .fold(Permissions::NONE, Permissions::union)
    }

    pub(crate) fn audience() -> String {
        AUDIENCE.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            sub: "u1".into(),
            tid: "default".into(),
            knd: "staff".into(),
            roles: vec!["staff".into()],
            perms: vec!["orders:view".into()],
            cid: None,
            mcp: false,
            aud: AccessClaims::audience(),
            iat: 0,
            exp,
        }
    }

    #[test]
    fn a_token_verifies_until_it_expires_and_only_with_its_key() {
        let keys = TokenKeys::hs256(&[7u8; 32]).expect("key");
        let now = Utc::now();
        let token = keys.sign(&claims(now.timestamp() + 60)).expect("signs");
        assert_eq!(keys.verify(&token, now).expect("valid").sub, "u1");
        assert_eq!(
            keys.verify(&token, now + chrono::Duration::seconds(61)),
            Err(TokenError::Expired)
        );
        let other = TokenKeys::hs256(&[8u8; 32]).expect("key");
        assert_eq!(other.verify(&token, now), Err(TokenError::Invalid));
        let mut tampered = token.clone();
        tampered.insert(token.len() - 3, 'x');
        assert_eq!(keys.verify(&tampered, now), Err(TokenError::Invalid));
    }

    #[test]
    fn eddsa_tokens_verify_with_the_public_key_only() {
        let keys = TokenKeys::ed25519(
            include_bytes!("../testdata/ed25519-private.pem"),
            include_bytes!("../testdata/ed25519-public.pem"),
        )
        .expect("keys");
        assert_eq!(keys.algorithm_name(), "EdDSA");
        let now = Utc::now();
        let token = keys.sign(&claims(now.timestamp() + 60)).expect("signs");
        assert_eq!(keys.verify(&token, now).expect("valid").sub, "u1");
        // An HS256 token is refused by an EdDSA verifier, whatever its secret.
        let hs = TokenKeys::hs256(&[7u8; 32]).expect("key");
        let forged = hs.sign(&claims(now.timestamp() + 60)).expect("signs");
        assert_eq!(keys.verify(&forged, now), Err(TokenError::Invalid));
    }

    #[test]
    fn short_hs256_secrets_are_refused() {
        assert!(TokenKeys::hs256(b"too short").is_err());
    }
}
