//! One guard before dicom-rs parses a whole file: every value length the file declares must
//! fit in the bytes that follow it. dicom-parser allocates and zero-fills a declared length
//! before reading it, so without this a single corrupt length costs up to 4 GiB and seconds
//! per file. Used by the image pipeline and the DICOM SEG reader; the header index reads
//! lazily and checks the values it keeps as it reads them.

use super::dicom_index::part10_body;

/// Checks, before dicom-rs parses the file, that every value length the file declares fits in
/// the bytes that follow it (file meta group, data set, sequence items and pixel data
/// fragments, nested to a depth of 32). dicom-parser allocates and zero-fills a declared
/// length before reading it, so a corrupt length costs up to 4 GiB and seconds per file; here it
/// is an `unreadable-dicom` error at once. Where the structure cannot be followed cheaply
/// (deflated data sets, an undefined-length value that is not a sequence or pixel data) the
/// check stops and the parser decides.
pub fn lengths_fit(bytes: &[u8]) -> Result<(), String> {
    let Ok(body) = part10_body(bytes) else {
        return Ok(()); // the parser says why
    };
    let mut scan = Scan {
        b: body,
        pos: 4, // after `DICM`
        explicit: true,
        big: false,
    };
    let mut transfer_syntax = String::new();
    while scan.pos + 8 <= body.len() && scan.u16_at(scan.pos) == 0x0002 {
        let (tag, len, _) = match scan.header()? {
            Some(h) => h,
            None => return Ok(()),
        };
        let end = scan.fit(tag, len, body.len())?;
        if tag == (0x0002, 0x0010) {
            transfer_syntax = String::from_utf8_lossy(&body[scan.pos..end])
                .trim_end_matches(['\0', ' '])
                .to_string();
        }
        scan.pos = end;
    }
    match transfer_syntax.as_str() {
        "1.2.840.10008.1.2.1.99" => return Ok(()), // deflated
        "1.2.840.10008.1.2" => scan.explicit = false,
        "1.2.840.10008.1.2.2" => scan.big = true,
        _ => {}
    }
    scan.dataset(body.len(), 0).map(|_| ())
}

/// Where [`lengths_fit`] is in the file and how elements are encoded there.
struct Scan<'a> {
    b: &'a [u8],
    pos: usize,
    explicit: bool,
    big: bool,
}

/// Whether a scan can go on.
#[derive(PartialEq)]
enum Flow {
    Go,
    Stop,
}

const UNDEFINED: u32 = 0xFFFF_FFFF;

impl Scan<'_> {
    fn u16_at(&self, at: usize) -> u16 {
        let x = [self.b[at], self.b[at + 1]];
        if self.big {
            u16::from_be_bytes(x)
        } else {
            u16::from_le_bytes(x)
        }
    }

    fn u32_at(&self, at: usize) -> u32 {
        let x = [self.b[at], self.b[at + 1], self.b[at + 2], self.b[at + 3]];
        if self.big {
            u32::from_be_bytes(x)
        } else {
            u32::from_le_bytes(x)
        }
    }

    /// Reads an element header at `pos` (moving past it): tag, length and VR (explicit VR,
    /// not for items and delimiters). `None` when too few bytes remain.
    #[allow(clippy::type_complexity)]
    fn header(&mut self) -> Result<Option<((u16, u16), u32, Option<[u8; 2]>)>, String> {
        let p = self.pos;
        if p + 8 > self.b.len() {
            return Ok(None);
        }
        let tag = (self.u16_at(p), self.u16_at(p + 2));
        if tag.0 == 0xFFFE || !self.explicit {
            self.pos = p + 8;
            return Ok(Some((tag, self.u32_at(p + 4), None)));
        }
        let vr = [self.b[p + 4], self.b[p + 5]];
        // PS3.5 7.1.2: these VRs have a 16-bit length; every other, and (as dicom-rs reads it)
        // an unknown VR taken for UN, has 2 reserved bytes and a 32-bit length.
        let short = matches!(
            &vr,
            b"AE"
                | b"AS"
                | b"AT"
                | b"CS"
                | b"DA"
                | b"DS"
                | b"DT"
                | b"FL"
                | b"FD"
                | b"IS"
                | b"LO"
                | b"LT"
                | b"PN"
                | b"SH"
                | b"SL"
                | b"SS"
                | b"ST"
                | b"TM"
                | b"UI"
                | b"UL"
                | b"US"
        );
        let long = !short;
        if long {
            if p + 12 > self.b.len() {
                return Ok(None);
            }
            self.pos = p + 12;
            Ok(Some((tag, self.u32_at(p + 8), Some(vr))))
        } else {
            self.pos = p + 8;
            Ok(Some((tag, u32::from(self.u16_at(p + 6)), Some(vr))))
        }
    }

    /// The end of a value of `len` bytes starting at `pos`, if it ends by `end`.
    fn fit(&self, tag: (u16, u16), len: u32, end: usize) -> Result<usize, String> {
        let left = end.saturating_sub(self.pos);
        if len as usize > left {
            return Err(format!(
                "element ({:04X},{:04X}) declares {len} bytes, only {left} follow",
                tag.0, tag.1
            ));
        }
        Ok(self.pos + len as usize)
    }

    /// Elements up to `end` (or an item delimiter).
    fn dataset(&mut self, end: usize, depth: usize) -> Result<Flow, String> {
        if depth > 32 {
            return Ok(Flow::Stop);
        }
        while self.pos < end {
            let Some((tag, len, vr)) = self.header()? else {
                return Ok(Flow::Stop);
            };
            if tag == (0xFFFE, 0xE00D) {
                return Ok(Flow::Go); // end of an undefined-length item
            }
            // Implicit VR does not say which defined-length values are sequences: skipped.
            let sequence = vr.is_some_and(|v| &v == b"SQ");
            if len == UNDEFINED {
                let nested = match vr {
                    Some(v) if &v == b"SQ" => true,
                    // Encapsulated Pixel Data: fragments, no nested data sets.
                    _ if tag == (0x7FE0, 0x0010) => false,
                    // Implicit VR: an undefined length is a sequence.
                    None => true,
                    Some(_) => return Ok(Flow::Stop),
                };
                if self.items(end, nested, depth)? == Flow::Stop {
                    return Ok(Flow::Stop);
                }
                continue;
            }
            let value_end = self.fit(tag, len, end)?;
            if sequence && self.items(value_end, true, depth)? == Flow::Stop {
                return Ok(Flow::Stop);
            }
            self.pos = value_end;
        }
        Ok(Flow::Go)
    }

    /// Items of a sequence (or pixel data fragments) up to `end` or a sequence delimiter.
    fn items(&mut self, end: usize, nested: bool, depth: usize) -> Result<Flow, String> {
        while self.pos < end {
            if self.pos + 8 > self.b.len() {
                return Ok(Flow::Stop);
            }
            let tag = (self.u16_at(self.pos), self.u16_at(self.pos + 2));
            let len = self.u32_at(self.pos + 4);
            self.pos += 8;
            match tag {
                (0xFFFE, 0xE0DD) => return Ok(Flow::Go),
                (0xFFFE, 0xE000) if len == UNDEFINED && nested => {
                    if self.dataset(end, depth + 1)? == Flow::Stop {
                        return Ok(Flow::Stop);
                    }
                }
                (0xFFFE, 0xE000) if len != UNDEFINED => {
                    let item_end = self.fit(tag, len, end)?;
                    if nested && self.dataset(item_end, depth + 1)? == Flow::Stop {
                        return Ok(Flow::Stop);
                    }
                    self.pos = item_end;
                }
                _ => return Ok(Flow::Stop),
            }
        }
        Ok(Flow::Go)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dicom_index::parse_full;

    #[test]
    fn declared_lengths_are_checked_in_every_encoding() {
        use crate::synth::{encode, CtInstance, HeaderProfile, IMPLEMENTATION_CLASS_UID};
        use dicom_object::FileMetaTableBuilder;
        // The full profile has a sequence and a private block.
        let inst = CtInstance {
            profile: HeaderProfile::Full,
            ..CtInstance::default()
        };
        let explicit = inst.to_object().unwrap();
        for ts in [
            "1.2.840.10008.1.2.1", // explicit VR little endian
            "1.2.840.10008.1.2",   // implicit VR little endian
            "1.2.840.10008.1.2.2", // explicit VR big endian
        ] {
            let obj = explicit.clone().into_inner().with_meta(
                FileMetaTableBuilder::new()
                    .transfer_syntax(ts)
                    .implementation_class_uid(IMPLEMENTATION_CLASS_UID),
            );
            let bytes = encode(&obj.unwrap()).unwrap();
            assert_eq!(lengths_fit(&bytes), Ok(()), "{ts}");
            assert!(parse_full(&bytes).is_ok(), "{ts}");
            // Study Date's length made huge: caught before the parser sees it.
            let at = bytes.windows(8).position(|w| w == b"20240612").unwrap();
            let mut bad = bytes.clone();
            let len_at = if ts == "1.2.840.10008.1.2" {
                at - 4
            } else {
                at - 2
            };
            bad[len_at] = 0xF0;
            bad[len_at + 1] = 0xF0;
            if ts == "1.2.840.10008.1.2" {
                bad[len_at + 2] = 0xF0;
            }
            let e = lengths_fit(&bad).unwrap_err();
            assert!(e.contains("(0008,0012) declares"), "{ts}: {e}"); // Instance Creation Date
        }
        // A file cut inside a value: that value no longer fits.
        let bytes = encode(&explicit).unwrap();
        let cut = bytes.windows(8).position(|w| w == b"20240612").unwrap() + 4;
        assert!(lengths_fit(&bytes[..cut]).is_err());
        assert_eq!(lengths_fit(b"not dicom"), Ok(()));
    }
}
