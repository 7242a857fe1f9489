//! Passwords (argon2id, hashed on the blocking pool), random tokens and their stored digests.

use std::sync::{Arc, Mutex, OnceLock, mpsc};

use std::cell::RefCell;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::IdentityError;

/// The argon2id parameters: memory in KiB, iterations, lanes. OWASP's first recommendation
/// (19 MiB, 2 passes, 1 lane): about 20–40 ms per hash on one core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PasswordParams {
    /// Memory, KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for PasswordParams {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl PasswordParams {
    fn hasher(self) -> Result<Argon2<'static>, IdentityError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| IdentityError::Internal(format!("argon2 parameters: {e}").into()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Passwords are 8 to 256 characters.
pub fn check_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < 8 {
        Err("must be at least 8 characters".into())
    } else if n > 256 {
        Err("must be at most 256 characters".into())
    } else {
        Ok(())
    }
}

type Job = Box<dyn FnOnce() + Send>;

static HASHERS: OnceLock<mpsc::Sender<Job>> = OnceLock::new();

/// Runs `work` on the password threads: one per core, started on first use. Each argon2 hash
/// takes `memory_kib` of memory; on a fixed set of threads a login storm queues instead of
/// taking every core, and the allocator keeps one arena per hashing thread instead of one per
/// blocking-pool thread (seen as hundreds of MB retained under load).
async fn on_password_threads<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, IdentityError> {
    let jobs = HASHERS.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        for i in 0..threads {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("catat-password-{i}"))
                .spawn(move || {
                    loop {
                        let job = match receiver.lock() {
                            Ok(r) => r.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        let Ok(job) = job else { break };
                        // A panicking hash answers its caller with an error (its reply is
                        // dropped); the thread lives on.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start a password thread");
            }
        }
        sender
    });
    let (reply, answer) = tokio::sync::oneshot::channel();
    jobs.send(Box::new(move || {
        let _ = reply.send(work());
    }))
    .map_err(|_| IdentityError::Internal("the password threads are gone".into()))?;
    answer
        .await
        .map_err(|_| IdentityError::Internal("a password hash failed".into()))
}

thread_local! {
    /// argon2's working memory, kept by each password thread and reused for every hash, so
    /// memory stays at one `memory_kib` per thread however many logins come.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

fn internal(what: &str, e: impl std::fmt::Display) -> IdentityError {
    IdentityError::Internal(format!("{what}: {e}").into())
}

/// argon2 of `password` and `salt` into `out`, with this thread's reused memory.
fn argon2_into(
    hasher: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), IdentityError> {
    BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        let needed = hasher.params().block_count();
        if blocks.len() < needed {
            blocks.resize(needed, Block::default());
        }
        hasher
            .hash_password_into_with_memory(password, salt, out, &mut blocks[..needed])
            .map_err(|e| internal("argon2", e))
    })
}

/// A new argon2id PHC string for `password`.
fn hash_phc(params: PasswordParams, password: &[u8]) -> Result<String, IdentityError> {
    let hasher = params.hasher()?;
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| internal("salt", e))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(&hasher, password, salt_bytes, &mut out)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(hasher.params()).map_err(|e| internal("argon2", e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| internal("argon2", e))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `stored`, with the parameters it was made with.
fn verify_phc(password: &[u8], stored: &str) -> Result<bool, IdentityError> {
    let parsed = PasswordHash::new(stored).map_err(|e| internal("stored password hash", e))?;
    let algorithm =
        Algorithm::try_from(parsed.algorithm).map_err(|e| internal("stored password hash", e))?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| internal("stored password hash", e))?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(|e| internal("stored password hash", e))?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(internal("stored password hash", "no salt or hash"));
    };
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| internal("stored password hash", e))?;
    let mut out = vec![0u8; expected.len()];
    argon2_into(
        &Argon2::new(algorithm, version, params),
        password,
        salt_bytes,
        &mut out,
    )?;
    Ok(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
}

/// Hashes a password (PHC string) off the async threads.
pub async fn hash_password(
    params: PasswordParams,
    password: String,
) -> Result<String, IdentityError> {
    on_password_threads(move || hash_phc(params, password.as_bytes())).await?
}

/// Whether `password` matches the PHC string `hash`, checked off the async threads. Without a
/// hash (an unknown user) a dummy hash is computed, so the answer takes as long either way.
pub async fn verify_password(
    params: PasswordParams,
    password: String,
    hash: Option<String>,
) -> Result<bool, IdentityError> {
    on_password_threads(move || match hash {
        Some(hash) => verify_phc(password.as_bytes(), &hash),
        None => hash_phc(params, password.as_bytes()).map(|_| false),
    })
    .await?
}

/// `bytes` random bytes from the OS, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A random string of `len` characters from `alphabet`.
pub fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut byte = [0u8; 1];
        OsRng.fill_bytes(&mut byte);
        // Reject the top of the range so every character is equally likely.
        let limit = 256 - 256 % alphabet.len();
        if usize::from(byte[0]) < limit {
            out.push(char::from(alphabet[usize::from(byte[0]) % alphabet.len()]));
        }
    }
    out
}

/// Six random digits.
pub fn random_otp() -> String {
    random_from(b"0123456789", 6)
}

/// A readable generated password: 16 letters and digits without look-alikes.
pub fn random_password() -> String {
    random_from(
        b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789",
        16,
    )
}

/// The stored form of a high-entropy secret (refresh token, API key): SHA-256, hex.
pub fn digest(secret: &str) -> String {
    let hash = Sha256::digest(secret.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether two digests are equal, in constant time.
pub fn digests_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordParams {
        PasswordParams {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[tokio::test]
    async fn a_password_verifies_only_against_its_own_argon2id_hash() {
        let hash = hash_password(cheap(), "correct horse".into())
            .await
            .expect("hashes");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(
            verify_password(cheap(), "correct horse".into(), Some(hash.clone()))
                .await
                .expect("verifies")
        );
        assert!(
            !verify_password(cheap(), "wrong horse".into(), Some(hash))
                .await
                .expect("verifies")
        );
        assert!(
            !verify_password(cheap(), "anything".into(), None)
                .await
                .expect("verifies")
        );
    }

    #[test]
    fn stored_hashes_are_standard_phc_strings_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = hash_phc(cheap(), b"correct horse").expect("hashes");
        let parsed = PasswordHash::new(&ours).expect("PHC");
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok(),
            "the argon2 crate does not accept {ours}"
        );
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let theirs = cheap()
            .hasher()
            .expect("params")
            .hash_password(b"correct horse", &salt)
            .expect("hashes")
            .to_string();
        assert!(verify_phc(b"correct horse", &theirs).expect("verifies"));
        assert!(!verify_phc(b"wrong horse", &theirs).expect("verifies"));
    }

    #[test]
    fn passwords_shorter_than_eight_characters_are_refused() {
        assert!(check_password("1234567").is_err());
        assert!(check_password("12345678").is_ok());
        assert!(check_password("ééééééé").is_err());
    }

    #[test]
    fn otps_are_six_digits() {
        for _ in 0..100 {
            let otp = random_otp();
            assert_eq!(otp.len(), 6);
            assert!(otp.chars().all(|c| c.is_ascii_digit()));
        }
    }
}
