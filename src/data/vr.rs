//! Value representation rules of DICOM PS3.5 §6.2 (Table 6.2-1): is a value, as written in a
//! file, valid for its VR? One function, one rule table; each rule cites what it enforces.

use dicom_core::VR;

/// Why `value` (one value of a possibly multi-valued element, padding removed) is not valid
/// for `vr`, or None if it is (or if the VR has no textual rule here).
pub fn invalid(vr: VR, value: &str) -> Option<String> {
    let len = value.chars().count();
    let too_long =
        |max: usize| (len > max).then(|| format!("longer than {max} characters ({len})"));
    let charset = |ok: &dyn Fn(char) -> bool, what: &str| {
        value
            .chars()
            .find(|c| !ok(*c))
            .map(|c| format!("holds {:?}, not allowed in {what}", c))
    };
    match vr {
        // AE: 16 chars, no control characters or backslash.
        VR::AE => too_long(16).or_else(|| charset(&|c| !c.is_control(), "an AE")),
        // AS: nnnD, nnnW, nnnM or nnnY.
        VR::AS => {
            let b = value.as_bytes();
            (b.len() != 4 || !b[..3].iter().all(u8::is_ascii_digit) || !b"DWMY".contains(&b[3]))
                .then(|| "not of the form nnnD, nnnW, nnnM or nnnY".to_string())
        }
        // CS: 16 chars of upper-case letters, digits, space and underscore.
        VR::CS => too_long(16).or_else(|| {
            charset(
                &|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == ' ' || c == '_',
                "a CS (upper case, digits, space, _)",
            )
        }),
        VR::DA => date(value),
        // DS: a fixed or floating point number in at most 16 characters.
        VR::DS => too_long(16).or_else(|| {
            let t = value.trim();
            let ok = !t.is_empty()
                && t.parse::<f64>().is_ok_and(f64::is_finite)
                && t.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c));
            (!ok).then(|| "not a decimal number".to_string())
        }),
        VR::DT => datetime(value),
        // IS: an integer in at most 12 characters, within -2^31..2^31-1.
        VR::IS => too_long(12).or_else(|| {
            let t = value.trim();
            let ok = t
                .chars()
                .all(|c| c.is_ascii_digit() || c == '+' || c == '-')
                && t.parse::<i64>().is_ok_and(|x| i32::try_from(x).is_ok());
            (!ok).then(|| "not an integer within the 32-bit range".to_string())
        }),
        VR::LO => too_long(64).or_else(|| charset(&|c| !c.is_control() || c == '\u{1b}', "an LO")),
        VR::SH => too_long(16).or_else(|| charset(&|c| !c.is_control() || c == '\u{1b}', "an SH")),
        // ST, LT, UT: texts that may hold the control characters of PS3.5 §6.1.3 (LF, FF, CR,
        // TAB, ESC) and no others.
        VR::ST => too_long(1024).or_else(|| charset(&text_char, "an ST")),
        VR::LT => too_long(10240).or_else(|| charset(&text_char, "an LT")),
        VR::UT => charset(&text_char, "a UT"),
        // UC: like LO without its length limit.
        VR::UC => charset(&|c| !c.is_control() || c == '\u{1b}', "a UC"),
        // UR: a URI (RFC 3986); no spaces inside, only trailing padding (removed before here).
        VR::UR => charset(
            &|c| c.is_ascii_graphic() && c != '\\',
            "a UR (printable ASCII without spaces or backslash)",
        ),
        // PN: at most 3 component groups (=), 5 components (^) each, 64 chars per group, no
        // control characters but ESC.
        VR::PN if value.chars().any(|c| c.is_control() && c != '\u{1b}') => {
            charset(&|c| !c.is_control() || c == '\u{1b}', "a PN")
        }
        VR::PN => {
            let groups: Vec<&str> = value.split('=').collect();
            if groups.len() > 3 {
                Some("more than three component groups".to_string())
            } else if let Some(g) = groups.iter().find(|g| g.chars().count() > 64) {
                Some(format!(
                    "a component group is longer than 64 characters ({})",
                    g.chars().count()
                ))
            } else if groups.iter().any(|g| g.split('^').count() > 5) {
                Some("more than five components in a group".to_string())
            } else {
                None
            }
        }
        VR::TM => time(value),
        VR::UI => uid(value),
        _ => None,
    }
}

/// The characters a text VR (ST, LT, UT) may hold: anything but control characters, and of
/// those only LF, FF, CR, TAB and ESC (PS3.5 §6.1.3, Table 6.1-1).
fn text_char(c: char) -> bool {
    !c.is_control() || matches!(c, '\n' | '\u{c}' | '\r' | '\t' | '\u{1b}')
}

/// DA: YYYYMMDD, a real calendar date.
fn date(v: &str) -> Option<String> {
    let b = v.as_bytes();
    if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
        return Some("not a date YYYYMMDD".to_string());
    }
    let n = |r: std::ops::Range<usize>| v[r].parse::<u32>().unwrap_or(0);
    let (y, m, d) = (n(0..4), n(4..6), n(6..8));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Some(format!("month {m:02} does not exist")),
    };
    (d == 0 || d > days).then(|| format!("day {d:02} does not exist in month {m:02}"))
}

/// TM: HH[MM[SS[.F{1,6}]]], HH < 24, MM < 60, SS <= 60 (leap second).
fn time(v: &str) -> Option<String> {
    let (main, frac) = v.split_once('.').map_or((v, None), |(a, b)| (a, Some(b)));
    let bad = || Some("not a time HH[MM[SS[.FFFFFF]]]".to_string());
    if !(main.len() == 2 || main.len() == 4 || main.len() == 6)
        || !main.bytes().all(|b| b.is_ascii_digit())
    {
        return bad();
    }
    if let Some(f) = frac {
        if main.len() != 6 || f.is_empty() || f.len() > 6 || !f.bytes().all(|b| b.is_ascii_digit())
        {
            return bad();
        }
    }
    let n = |i: usize| main.get(i..i + 2).and_then(|s| s.parse::<u32>().ok());
    if n(0).is_some_and(|h| h > 23) || n(2).is_some_and(|m| m > 59) || n(4).is_some_and(|s| s > 60)
    {
        return Some("hour, minute or second out of range".to_string());
    }
    None
}

/// DT: YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]][&ZZXX].
fn datetime(v: &str) -> Option<String> {
    let (main, offset) = match v.find(['+', '-']) {
        Some(i) if i > 0 => (&v[..i], Some(&v[i + 1..])),
        _ => (v, None),
    };
    if let Some(o) = offset {
        if o.len() != 4 || !o.bytes().all(|b| b.is_ascii_digit()) {
            return Some("time zone offset not of the form &ZZXX".to_string());
        }
        // PS3.5 Table 6.2-1: the offset lies in -1200 to +1400, minutes below 60.
        let (h, m) = (
            o[..2].parse::<u32>().unwrap_or(99),
            o[2..].parse::<u32>().unwrap_or(99),
        );
        let west = v.as_bytes()[v.len() - 5] == b'-';
        if m > 59 || h * 100 + m > if west { 1200 } else { 1400 } {
            return Some("time zone offset outside -1200 to +1400".to_string());
        }
    }
    let (digits, frac) = main
        .split_once('.')
        .map_or((main, None), |(a, b)| (a, Some(b)));
    if ![4, 6, 8, 10, 12, 14].contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Some("not a date-time YYYY[MM[DD[HH[MM[SS[.F]]]]]]".to_string());
    }
    if digits.len() >= 8 {
        if let Some(e) = date(&digits[..8]) {
            return Some(e);
        }
    } else if digits.len() == 6 && !(1..=12).contains(&digits[4..6].parse::<u32>().unwrap_or(0)) {
        return Some("month out of range".to_string());
    }
    if digits.len() > 8 {
        let t = format!(
            "{}{}",
            &digits[8..],
            frac.map(|f| format!(".{f}")).unwrap_or_default()
        );
        return time(&t);
    }
    frac.map(|_| "a fraction needs seconds".to_string())
}

/// UI: at most 64 characters, components of digits separated by dots, no empty component and
/// no leading zero except for the component "0" (PS3.5 §9.1).
fn uid(v: &str) -> Option<String> {
    if v.len() > 64 {
        return Some(format!("longer than 64 characters ({})", v.len()));
    }
    for c in v.split('.') {
        if c.is_empty() || !c.bytes().all(|b| b.is_ascii_digit()) {
            return Some("components must be digits separated by single dots".to_string());
        }
        if c.len() > 1 && c.starts_with('0') {
            return Some("a component has a leading zero".to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_from_ps3_5() {
        // PS3.5 Table 6.2-1 examples and rules.
        assert_eq!(invalid(VR::DA, "19930822"), None); // "August 22, 1993"
        assert!(invalid(VR::DA, "1993-08-22").is_some()); // ACR-NEMA form, not allowed
        assert!(invalid(VR::DA, "20230229").is_some()); // not a leap year
        assert_eq!(invalid(VR::DA, "20240229"), None);
        assert_eq!(invalid(VR::TM, "070907.0705"), None); // "7:09:07.0705"
        assert_eq!(invalid(VR::TM, "1010"), None); // "10:10"
        assert!(invalid(VR::TM, "25").is_some());
        assert_eq!(invalid(VR::DT, "20230101120000.5+0800"), None);
        assert_eq!(invalid(VR::AS, "045Y"), None);
        assert!(invalid(VR::AS, "45Y").is_some());
        assert_eq!(invalid(VR::CS, "ORIGINAL"), None);
        assert!(invalid(VR::CS, "original").is_some());
        assert!(invalid(VR::CS, "ABCDEFGHIJKLMNOPQ").is_some()); // 17 characters
        assert_eq!(invalid(VR::DS, "0.703125"), None);
        assert_eq!(invalid(VR::DS, "-1.5e-3"), None);
        assert!(invalid(VR::DS, "0.70312500000000001").is_some()); // 19 characters
        assert!(invalid(VR::DS, "1,5").is_some());
        assert_eq!(invalid(VR::IS, "-42"), None);
        assert!(invalid(VR::IS, "2147483648").is_some()); // beyond 2^31-1
        assert_eq!(invalid(VR::UI, "1.2.840.10008.5.1.4.1.1.2"), None);
        assert!(invalid(VR::UI, "1.2.840.010008").is_some()); // leading zero
        assert!(invalid(VR::UI, "1..2").is_some());
        assert_eq!(
            invalid(VR::PN, "Adams^John Robert Quincy^^Rev.^B.A. M.Div."),
            None
        ); // PS3.5 6.2.1.1
        assert!(invalid(VR::PN, "a=b=c=d").is_some());
        // PS3.5 Table 6.2-1, DT: "&ZZXX ... -1200 to +1400".
        assert_eq!(invalid(VR::DT, "20230101120000-1200"), None);
        assert!(invalid(VR::DT, "20230101120000+1500").is_some());
        assert!(invalid(VR::DT, "20230101120000-1300").is_some());
        assert!(invalid(VR::DT, "20230101120000+0860").is_some());
        // PS3.5 §6.1.3: LF, FF, CR, TAB and ESC are the only control characters in texts.
        assert_eq!(invalid(VR::LT, "line one\r\nline two\tend"), None);
        assert!(invalid(VR::ST, "bell\u{7}").is_some());
        assert!(invalid(VR::UT, "nul\u{0}inside").is_some());
        assert!(invalid(VR::PN, "Doe^Jane\n").is_some());
        assert_eq!(invalid(VR::UR, "https://example.org/a?b=c"), None);
        assert!(invalid(VR::UR, "https://example.org/a b").is_some());
        assert!(invalid(VR::UC, "tab\tinside").is_some());
    }
}
