//! National identifiers with their check characters: Chinese resident ID numbers
//! (GB 11643), unified social credit codes (GB 32100) and the organisation code
//! inside them (GB 11714), and US SSN- and EIN-shaped numbers.
//!
//! Synthetic data that fails the check digit would be rejected by any real
//! validation step downstream, so the generator computes them properly.

/// Weights of the first 17 digits of a resident ID number (GB 11643-1999).
const RESIDENT_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check characters of a resident ID number, indexed by the weighted sum mod 11.
const RESIDENT_CHECK: &[u8; 11] = b"10X98765432";

/// The GB 11643 check character of the 17 digits `body`.
pub fn resident_id_check(body: &[u8; 17]) -> u8 {
    let sum: u32 = body.iter().zip(RESIDENT_WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    RESIDENT_CHECK[(sum % 11) as usize]
}

/// True when `id` is 18 characters whose last one is the GB 11643 check of the rest.
pub fn resident_id_valid(id: &str) -> bool {
    let b = id.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut body = [0u8; 17];
    body.copy_from_slice(&b[..17]);
    resident_id_check(&body) == b[17]
}

/// Characters of a unified social credit code (no I, O, S, V, Z), in value order.
const USCC_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of the first 17 characters of a unified social credit code (GB 32100-2015).
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

fn uscc_value(c: u8) -> Option<u32> {
    USCC_CHARS.iter().position(|x| *x == c).map(|p| p as u32)
}

/// The GB 32100 check character of the first 17 characters `body`, if they are all valid.
pub fn uscc_check(body: &[u8]) -> Option<u8> {
    if body.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in body.iter().zip(USCC_WEIGHTS) {
        sum += uscc_value(*c)? * w;
    }
    Some(USCC_CHARS[((31 - sum % 31) % 31) as usize])
}

/// The GB 11714 check character of an 8-character organisation code body (digits and capitals).
pub fn org_code_check(body: &[u8; 8]) -> Option<u8> {
    const W: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let mut sum = 0u32;
    for (c, w) in body.iter().zip(W) {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return None,
        };
        sum += v * w;
    }
    Some(match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        d => b'0' + d as u8,
    })
}

/// True when `code` is a unified social credit code with valid GB 32100 and GB 11714 checks.
pub fn uscc_valid(code: &str) -> bool {
    let b = code.as_bytes();
    if b.len() != 18 {
        return false;
    }
    let mut org = [0u8; 8];
    org.copy_from_slice(&b[8..16]);
    org_code_check(&org) == Some(b[16]) && uscc_check(&b[..17]) == Some(b[17])
}

/// True when `ssn` is `AAA-GG-SSSS` with an area the SSA could have issued (not 000, 666 or 9xx)
/// and non-zero group and serial.
pub fn ssn_valid(ssn: &str) -> bool {
    let b = ssn.as_bytes();
    if b.len() != 11 || b[3] != b'-' || b[6] != b'-' {
        return false;
    }
    let num = |s: &[u8]| -> Option<u32> {
        s.iter().try_fold(0u32, |acc, c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
    };
    match (num(&b[0..3]), num(&b[4..6]), num(&b[7..11])) {
        (Some(area), Some(group), Some(serial)) => {
            area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_id_known_answers() {
        // The standard's own example and a widely published sample number.
        assert!(resident_id_valid("11010519491231002X"));
        assert!(resident_id_valid("440524188001010014"));
        assert!(!resident_id_valid("110105194912310021"));
        assert!(!resident_id_valid("11010519491231002"));
    }

    #[test]
    fn uscc_known_answers() {
        // Published codes of well-known companies.
        assert!(uscc_valid("91350100M000100Y43"));
        assert!(uscc_valid("914403001922038216"));
        assert!(!uscc_valid("914403001922038217"));
        assert_eq!(org_code_check(b"19220382"), Some(b'1'));
    }

    #[test]
    fn ssn_shapes() {
        assert!(ssn_valid("123-45-6789"));
        for bad in ["000-12-3456", "666-12-3456", "912-12-3456", "123-00-4567", "123-45-0000", "123456789"] {
            assert!(!ssn_valid(bad), "{bad}");
        }
    }
}
