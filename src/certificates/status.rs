//! Revocation as a W3C Bitstring Status List (v1.0): every certificate owns one bit of a
//! list of [`LIST_SIZE`] entries; a set bit means revoked. The list travels GZIP-compressed,
//! base64url-encoded with the multibase prefix `u`; bit 0 is the left-most bit of byte 0.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

/// Entries per list: the specification's minimum, 16 KiB uncompressed.
pub const LIST_SIZE: i64 = 131_072;

/// (list number, index within the list) of a global status index.
pub fn position(status_index: i64) -> (i64, i64) {
    (status_index / LIST_SIZE, status_index % LIST_SIZE)
}

/// A random position in the first `lists` lists.
pub fn random_index(lists: i64) -> i32 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    let span = (lists.max(1) * LIST_SIZE) as u64;
    i32::try_from(u64::from_le_bytes(bytes) % span).expect("fewer than 16,384 lists")
}

/// The `encodedList` of a list whose set bits are `revoked` (indices within the list).
pub fn encode(revoked: impl IntoIterator<Item = i64>) -> String {
    let mut bits = vec![0u8; (LIST_SIZE / 8) as usize];
    for index in revoked {
        if (0..LIST_SIZE).contains(&index) {
            bits[(index / 8) as usize] |= 0x80 >> (index % 8);
        }
    }
    let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
    gzip.write_all(&bits).expect("writing to memory");
    let compressed = gzip.finish().expect("writing to memory");
    format!("u{}", URL_SAFE_NO_PAD.encode(compressed))
}

/// Whether bit `index` is set in an `encodedList`; None if the list is not well formed.
pub fn is_set(encoded: &str, index: i64) -> Option<bool> {
    let compressed = URL_SAFE_NO_PAD.decode(encoded.strip_prefix('u')?).ok()?;
    let mut bits = Vec::new();
    // Bounded read: a hostile list cannot inflate without limit.
    GzDecoder::new(compressed.as_slice())
        .take(16 * 1024 * 1024)
        .read_to_end(&mut bits)
        .ok()?;
    let byte = bits.get(usize::try_from(index / 8).ok()?)?;
    Some(byte & (0x80 >> (index % 8)) != 0)
}

/// Signed lists kept for a minute: anonymous verifiers fetch them often, and each costs a
/// scan, a GZIP and an RSA signature. A revocation here drops the cache at once; other
/// instances serve the new bit within the minute (the `max-age` verifiers are told).
/// A published list: (issuing organisation, or none for the platform's, list number).
pub type ListKey = (Option<String>, i64);

#[derive(Default)]
pub struct Cache {
    lists: Mutex<HashMap<ListKey, (Instant, String)>>,
}

pub const CACHE_SECONDS: u64 = 60;

impl Cache {
    pub fn get(&self, list: &ListKey) -> Option<String> {
        let lists = self.lists.lock().expect("not poisoned");
        lists
            .get(list)
            .filter(|(at, _)| at.elapsed() < Duration::from_secs(CACHE_SECONDS))
            .map(|(_, jwt)| jwt.clone())
    }

    pub fn put(&self, list: ListKey, jwt: String) {
        let mut lists = self.lists.lock().expect("not poisoned");
        // Lists of organisations that do not exist are never put; the rest are few.
        lists.insert(list, (Instant::now(), jwt));
    }

    pub fn clear(&self) {
        self.lists.lock().expect("not poisoned").clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_set_left_to_right_and_read_back() {
        let list = encode([0, 9, LIST_SIZE - 1]);
        assert!(list.starts_with('u'));
        assert!(
            list.len() < 400,
            "a sparse list compresses well: {}",
            list.len()
        );
        for (index, set) in [
            (0, true),
            (1, false),
            (8, false),
            (9, true),
            (LIST_SIZE - 1, true),
        ] {
            assert_eq!(is_set(&list, index), Some(set), "bit {index}");
        }
        assert_eq!(is_set(&list, LIST_SIZE), None);
        // Byte 1 holds bit 9 as its second most significant bit.
        let raw = URL_SAFE_NO_PAD.decode(&list[1..]).unwrap();
        let mut bits = Vec::new();
        GzDecoder::new(raw.as_slice())
            .read_to_end(&mut bits)
            .unwrap();
        assert_eq!(bits.len() as i64, LIST_SIZE / 8);
        assert_eq!((bits[0], bits[1]), (0x80, 0x40));
        assert_eq!(is_set("xyz", 0), None);
    }

    #[test]
    fn random_indices_stay_within_the_lists_in_use() {
        for _ in 0..1000 {
            assert!((0..LIST_SIZE as i32).contains(&random_index(1)));
            assert!((0..2 * LIST_SIZE as i32).contains(&random_index(2)));
        }
    }

    #[test]
    fn positions_split_the_global_index() {
        assert_eq!(position(5), (0, 5));
        assert_eq!(position(LIST_SIZE + 2), (1, 2));
    }
}
