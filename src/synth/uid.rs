//! Deterministic synthetic UIDs under the `2.25` root.
//!
//! PS3.5 §B.2 allows a UID to be `2.25.` followed by a UUID written as one unsigned decimal
//! integer, so no organisation root has to be registered. Here the 128 bits come from a
//! ChaCha8 stream keyed by (seed, kind, index) instead of a clock or a random device: the same
//! inputs always give the same UID, whatever order UIDs are asked for, so a fixture can change
//! one instance without renumbering the others. The key is any text naming the entity, such as
//! `study/C0001` or `sop/C0001/2`. The version and variant bits are set as for a
//! random (version 4) UUID (RFC 9562 §5.4), which keeps the integer a well-formed UUID.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The root of every synthetic UID (PS3.5 §B.2, UUID-derived UIDs).
pub const UID_ROOT: &str = "2.25";

/// The Implementation Class UID written in the file meta group of every synthetic file
/// (PS3.10 §7.1): fixed, so files do not change when dicom-rs is upgraded.
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.302398454323406416424116392712418512716";

/// The Implementation Version Name written beside [`IMPLEMENTATION_CLASS_UID`] (SH, ≤ 16 chars).
pub const IMPLEMENTATION_VERSION_NAME: &str = "ATTEST_SYNTH_1";

/// A UID `2.25.<decimal>` derived from `seed` and a `key` naming the entity (e.g. `"study/C0001"`).
///
/// Different keys give unrelated UIDs; the result is at most 44 characters, within
/// the 64 allowed for UI (PS3.5 §9.1), and has no leading zero in any component.
///
/// ```
/// use attest::synth::synthetic_uid;
/// let a = synthetic_uid(7, "study/C0001");
/// assert_eq!(a, synthetic_uid(7, "study/C0001"));
/// assert_ne!(a, synthetic_uid(7, "study/C0002"));
/// assert!(a.starts_with("2.25.") && a.len() <= 64);
/// ```
pub fn synthetic_uid(seed: u64, key: &str) -> String {
    // 128 bits of the key (two FNV-1a variants) so distinct keys do not collide in practice.
    let mut material = [0u8; 32];
    material[..8].copy_from_slice(&seed.to_le_bytes());
    material[8..16].copy_from_slice(&fnv1a64(FNV_OFFSET, key.as_bytes()).to_le_bytes());
    material[16..24].copy_from_slice(&fnv1a64(!FNV_OFFSET, key.as_bytes()).to_le_bytes());
    material[24..].copy_from_slice(b"attestUI");
    let mut rng = ChaCha8Rng::from_seed(material);
    let hi = u128::from(rng.next_u64());
    let lo = u128::from(rng.next_u64());
    let mut value = (hi << 64) | lo;
    // Version 4 in bits 76..80, variant 0b10 in bits 62..64 (RFC 9562 §4.1, §4.2).
    value &= !(0xF_u128 << 76);
    value |= 0x4_u128 << 76;
    value &= !(0x3_u128 << 62);
    value |= 0x2_u128 << 62;
    format!("{UID_ROOT}.{value}")
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a, 64 bit: a stable hash of the key (std's hasher is not stable across releases).
fn fnv1a64(offset: u64, bytes: &[u8]) -> u64 {
    let mut hash = offset;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_valid_uid(uid: &str) -> bool {
        uid.len() <= 64
            && uid.split('.').all(|c| {
                !c.is_empty()
                    && c.bytes().all(|b| b.is_ascii_digit())
                    && (c == "0" || !c.starts_with('0'))
            })
    }

    #[test]
    fn uids_are_valid_stable_and_distinct() {
        let mut seen = Vec::new();
        for kind in ["study", "series", "sop", "for"] {
            for index in 0..50 {
                let key = format!("{kind}/{index}");
                let uid = synthetic_uid(20261126, &key);
                assert!(is_valid_uid(&uid), "{uid}");
                assert_eq!(uid, synthetic_uid(20261126, &key));
                seen.push(uid);
            }
        }
        let n = seen.len();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), n);
        assert!(is_valid_uid(IMPLEMENTATION_CLASS_UID));
        assert!(IMPLEMENTATION_CLASS_UID[5..].parse::<u128>().is_ok());
        assert!(IMPLEMENTATION_VERSION_NAME.len() <= 16);
    }

    #[test]
    fn uid_is_a_version_4_uuid() {
        let uid = synthetic_uid(1, "sop/2");
        let value: u128 = uid.strip_prefix("2.25.").unwrap().parse().unwrap();
        assert_eq!((value >> 76) & 0xF, 4);
        assert_eq!((value >> 62) & 0x3, 2);
    }

    #[test]
    fn seed_changes_uid() {
        assert_ne!(synthetic_uid(1, "study/0"), synthetic_uid(2, "study/0"));
    }
}
