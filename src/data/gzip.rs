//! gzip members for synthetic files, byte-identical whatever backend flate2 was built with.
//!
//! flate2's compressor is chosen by cargo feature unification, not by attest: burn's PyTorch
//! reader enables `zip/deflate-flate2-zlib-rs`, which switches every flate2 encoder in the
//! build from miniz_oxide to zlib-rs, and zlib-rs compresses the same data to other bytes.
//! The committed test data (`testdata/`) must regenerate byte for byte, so the deflate stream
//! comes from miniz_oxide directly. The output equals flate2's
//! `GzBuilder::new().mtime(0).write(_, Compression::best())` with its miniz_oxide backend
//! (checked on the 80 generated `.nii.gz` files in `testdata/`).

/// `data` as one gzip member (RFC 1952): no file name, MTIME 0, XFL 2 (best compression),
/// OS 255 (unknown, flate2's default), deflate at level 9, CRC-32 and size.
pub(crate) fn gzip_best(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255];
    out.extend(miniz_oxide::deflate::compress_to_vec(data, 9));
    let mut crc = flate2::Crc::new();
    crc.update(data);
    out.extend(crc.sum().to_le_bytes());
    // ISIZE is the length modulo 2^32.
    out.extend((data.len() as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    #[test]
    fn round_trips_through_flate2() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let gz = super::gzip_best(&data);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }
}
