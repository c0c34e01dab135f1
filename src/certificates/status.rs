//! Revocation as a W3C Bitstring Status List (v1.0): every certificate owns one bit of a
//! list of [`LIST_SIZE`] entries; a set bit means revoked. The list travels GZIP-compressed,
//! base64url-encoded with the multibase prefix `u`; bit 0 is the left-most bit of byte 0.

use std::io::{Read, Write};

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
    fn positions_split_the_global_index() {
        assert_eq!(position(5), (0, 5));
        assert_eq!(position(LIST_SIZE + 2), (1, 2));
    }
}
