//! Password hashing on a fixed pool of threads, with a bounded queue that sheds load.
//!
//! argon2id is slow and memory-hard on purpose: one hash takes tens of milliseconds and 19 MiB. Run on tokio's
//! blocking pool, a flood of logins (which need no credentials) started hundreds of hashes at once: gigabytes of
//! memory, kept by the allocator's per-thread arenas after the flood, and every core busy, so that signed-in readers
//! waited seconds. Here a fixed number of threads hash, each with its argon2 memory allocated once and reused, so the
//! memory is `threads × 19 MiB` for good and at most `threads` cores are taken. Requests wait in a queue of bounded
//! length; when it is full, [`Passwords::verify`] and [`Passwords::hash`] answer [`ApiError::Busy`] at once (HTTP 503
//! with `Retry-After`), before any work.
//!
//! The hashes are standard PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$…`), the same as before this pool existed.

use crate::error::{ApiError, ApiResult};
use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// The longest password accepted, in bytes: enough for any passphrase, small enough that a request cannot make the
/// server hash megabytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// How long a client told "busy" should wait before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

enum Work {
    Hash(String, oneshot::Sender<Result<String, String>>),
    Verify(String, String, oneshot::Sender<bool>),
}

/// The pool. Cloning shares it.
#[derive(Clone)]
pub struct Passwords {
    tx: SyncSender<Work>,
}

impl Passwords {
    /// `threads` hashing threads (at least one) and room for `queue` waiting requests.
    pub fn new(threads: usize, queue: usize) -> Self {
        let threads = threads.max(1);
        let (tx, rx) = sync_channel(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || run(rx))
                .expect("starting a password hashing thread");
        }
        Passwords { tx }
    }

    /// An argon2id PHC string of `password`, with a random salt.
    pub async fn hash(&self, password: String) -> ApiResult<String> {
        let (tx, rx) = oneshot::channel();
        self.submit(Work::Hash(password, tx))?;
        rx.await.map_err(|_| ApiError::Internal("a hashing thread stopped".into()))?.map_err(ApiError::Internal)
    }

    /// Whether `password` matches the PHC string `hash`. A malformed hash matches nothing.
    pub async fn verify(&self, password: String, hash: String) -> ApiResult<bool> {
        let (tx, rx) = oneshot::channel();
        self.submit(Work::Verify(password, hash, tx))?;
        rx.await.map_err(|_| ApiError::Internal("a hashing thread stopped".into()))
    }

    fn submit(&self, work: Work) -> ApiResult<()> {
        match self.tx.try_send(work) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                metrics::counter!("bindery_password_hash_shed_total").increment(1);
                Err(ApiError::Busy(RETRY_AFTER))
            }
            Err(TrySendError::Disconnected(_)) => Err(ApiError::Internal("the hashing threads stopped".into())),
        }
    }
}

/// One hashing thread: takes work until every sender is gone, reusing one argon2 memory.
fn run(rx: Arc<Mutex<Receiver<Work>>>) {
    // Allocated on first use and kept: the same 19 MiB for every hash this thread makes.
    let mut memory = Vec::new();
    loop {
        let work = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match work {
            Ok(Work::Hash(password, reply)) => {
                let _ = reply.send(hash_with(&mut memory, password.as_bytes()));
            }
            Ok(Work::Verify(password, hash, reply)) => {
                let _ = reply.send(verify_with(&mut memory, password.as_bytes(), &hash));
            }
            Err(_) => return,
        }
    }
}

fn hash_with(memory: &mut Vec<Block>, password: &[u8]) -> Result<String, String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt.as_salt().decode_b64(&mut salt_bytes).map_err(|e| e.to_string())?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon
        .hash_password_into_with_memory(password, salt_raw, &mut out, blocks(memory, &params))
        .map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(|e: argon2::password_hash::Error| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

fn verify_with(memory: &mut Vec<Block>, password: &[u8], hash: &str) -> bool {
    let mut check = || -> Option<bool> {
        let phc = PasswordHash::new(hash).ok()?;
        let algorithm = Algorithm::try_from(phc.algorithm).ok()?;
        let version = phc.version.map(Version::try_from).transpose().ok()?.unwrap_or_default();
        let params = Params::try_from(&phc).ok()?;
        let expected = phc.hash?;
        let mut salt_bytes = [0u8; 64];
        let salt = phc.salt?.decode_b64(&mut salt_bytes).ok()?;
        let mut out = vec![0u8; expected.len()];
        Argon2::new(algorithm, version, params.clone())
            .hash_password_into_with_memory(password, salt, &mut out, blocks(memory, &params))
            .ok()?;
        // `Output`'s equality runs in constant time.
        Some(Output::new(&out).ok()? == expected)
    };
    check().unwrap_or(false)
}

/// The part of the thread's memory that `params` needs, grown (once) if a stored hash asks for more than the
/// default.
fn blocks<'a>(memory: &'a mut Vec<Block>, params: &Params) -> &'a mut [Block] {
    let need = params.block_count();
    if memory.len() < need {
        memory.resize(need, Block::default());
    }
    &mut memory[..need]
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordHasher as _;

    #[tokio::test]
    async fn passwords_verify_only_against_their_hash() {
        let pool = Passwords::new(1, 4);
        let h = pool.hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(pool.verify("correct horse".into(), h.clone()).await.unwrap());
        assert!(!pool.verify("Correct horse".into(), h).await.unwrap());
        assert!(!pool.verify("x".into(), "not a hash".into()).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_made_by_the_argon2_crate_itself_still_verify() {
        // Stored hashes from before the pool, made by `PasswordHasher::hash_password`.
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let old = Argon2::default().hash_password(b"an older password", &salt).unwrap().to_string();
        let pool = Passwords::new(1, 4);
        assert!(pool.verify("an older password".into(), old.clone()).await.unwrap());
        assert!(!pool.verify("another".into(), old).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_sheds_load_at_once() {
        let pool = Passwords::new(1, 1);
        let h = pool.hash("x".into()).await.unwrap();
        let attempts = (0..16).map(|_| pool.verify("y".into(), h.clone()));
        let results = futures::future::join_all(attempts).await;
        let busy = results.iter().filter(|r| matches!(r, Err(ApiError::Busy(_)))).count();
        assert!(busy >= 1, "{results:?}");
        assert!(results.iter().any(|r| matches!(r, Ok(false))), "{results:?}");
    }
}
