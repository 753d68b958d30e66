//! Keyed pseudonyms for patient identifiers: reports never show a patient's ID or name.
//!
//! A pseudonym is HMAC-SHA256(key, patient ID), truncated to 64 bits and written as
//! `P-` + 16 hex digits. The key comes from `ATTEST_PSEUDONYM_KEY` or, failing that, from a
//! key file created once per user (`$XDG_CONFIG_HOME/attest/pseudonym.key`, else
//! `~/.config/attest/pseudonym.key`), so the same inputs give the same report on a machine,
//! while nobody without the key can recompute the mapping from a list of patient IDs.

use std::path::PathBuf;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A secret key for pseudonyms.
#[derive(Clone)]
pub struct PseudonymKey {
    key: Vec<u8>,
    /// Where the key came from, for the manifest (never the key itself).
    pub source: String,
}

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PseudonymKey({})", self.source)
    }
}

impl PseudonymKey {
    pub fn from_bytes(key: &[u8], source: &str) -> Self {
        PseudonymKey {
            key: key.to_vec(),
            source: source.to_string(),
        }
    }

    /// The key from the environment, else the per-user key file (created if absent).
    pub fn load() -> std::io::Result<Self> {
        if let Ok(k) = std::env::var("ATTEST_PSEUDONYM_KEY") {
            if !k.is_empty() {
                return Ok(Self::from_bytes(k.as_bytes(), "ATTEST_PSEUDONYM_KEY"));
            }
        }
        let path = key_path().ok_or_else(|| {
            std::io::Error::other("no HOME or XDG_CONFIG_HOME for the pseudonym key file")
        })?;
        if let Ok(bytes) = std::fs::read(&path) {
            if bytes.len() >= 16 {
                return Ok(Self::from_bytes(&bytes, &path.display().to_string()));
            }
        }
        let mut bytes = [0u8; 32];
        use std::io::Read;
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        write_private(&path, &bytes)?;
        Ok(Self::from_bytes(&bytes, &path.display().to_string()))
    }

    /// The pseudonym of an identifier.
    pub fn pseudonym(&self, id: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        mac.update(id.as_bytes());
        let out = mac.finalize().into_bytes();
        format!("P-{}", hex::encode(&out[..8]))
    }

    /// The full HMAC-SHA256 of `value` in hex (for lists of forbidden values).
    pub fn digest_hex(&self, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A fingerprint telling reports made with different keys apart, revealing nothing.
    pub fn fingerprint(&self) -> String {
        self.pseudonym("attest key fingerprint")
            .replacen("P-", "K-", 1)
    }
}

fn key_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("attest").join("pseudonym.key"))
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonym_is_hmac_sha256_truncated() {
        // RFC 4231 test case 2: HMAC-SHA256(key "Jefe", "what do ya want for nothing?")
        // = 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843.
        let k = PseudonymKey::from_bytes(b"Jefe", "test");
        assert_eq!(
            k.pseudonym("what do ya want for nothing?"),
            "P-5bdcc146bf60754e"
        );
        assert_ne!(
            k.pseudonym("a"),
            PseudonymKey::from_bytes(b"other", "t").pseudonym("a")
        );
    }
}
