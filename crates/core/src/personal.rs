//! Personal data as people may see it: masking and the normal forms that the blind
//! indexes are computed over.
//!
//! Masking never reveals more than its rule (ID: first 3 and last 4; mobile: first 3 and
//! last 4; e-mail: first character of the local part and the domain). A value too short
//! for its rule to leave enough hidden shows less, down to nothing at all: a rule that
//! would reveal the whole of a short value protects nothing.

/// The mask character.
const STAR: char = '*';

/// An identity document number masked as `110***********1234`: first 3 and last 4 shown
/// when at least 4 characters stay hidden; only the last 4 when at least 6 stay hidden
/// otherwise; nothing for shorter values.
pub fn mask_national_id(id: &str) -> String {
    mask_ends(id.trim(), 3, 4)
}

/// A phone number masked as `138****5678` (first 3, last 4), with the same fall-backs as
/// [`mask_national_id`] for short or odd numbers.
pub fn mask_phone(phone: &str) -> String {
    mask_ends(phone.trim(), 3, 4)
}

/// An e-mail address masked as `z***@example.com`: the first character of the local part,
/// always three stars (the length is not revealed), and the domain. A local part of one
/// character, or text that is not an address, shows no character of its own.
pub fn mask_email(email: &str) -> String {
    let email = email.trim();
    if email.is_empty() {
        return String::new();
    }
    match email.rsplit_once('@') {
        Some((local, domain)) if !domain.is_empty() && !local.is_empty() => {
            let mut chars = local.chars();
            let first = chars.next().filter(|_| chars.next().is_some());
            let mut out = String::with_capacity(email.len() + 3);
            out.extend(first);
            out.push_str("***@");
            out.push_str(domain);
            out
        }
        _ => "***".to_string(),
    }
}

/// `head` first and `tail` last characters shown with the rest starred, if at least 4 stay
/// hidden; else the last `tail` if at least 6 stay hidden; else all starred.
fn mask_ends(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let (show_head, show_tail) = if n >= head + tail + 4 {
        (head, tail)
    } else if n >= tail + 6 {
        (0, tail)
    } else {
        (0, 0)
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < show_head || i >= n - show_tail { *c } else { STAR })
        .collect()
}

/// The normal form of an identity document number for equality: no spaces or dashes,
/// ASCII letters upper-cased (the check character `x` of a resident ID is `X`).
pub fn normalise_national_id(id: &str) -> String {
    id.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect()
}

/// The normal form of a phone number for equality: its digits only, without a leading
/// Chinese country code on a mobile number (`+86 138 0013 8000` is `13800138000`).
pub fn normalise_phone(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix("86") {
        Some(rest) if rest.len() == 11 && rest.starts_with('1') => rest.to_string(),
        _ => digits,
    }
}

/// The normal form of an e-mail address for equality: trimmed and lower-cased.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Years after the last case closed that a pack keeps personal data (cn 5, us 3).
pub fn retention_years(pack: &str) -> Option<u32> {
    match pack {
        "cn" => Some(5),
        "us" => Some(3),
        _ => None,
    }
}

/// The first closing date still within retention on `date`: cases closed before it are
/// more than `years` years old (29 February counts back to 28 February).
pub fn retention_cutoff(date: chrono::NaiveDate, years: u32) -> Option<chrono::NaiveDate> {
    date.checked_sub_months(chrono::Months::new(years.checked_mul(12)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many characters of `masked` are not stars: what it reveals.
    fn revealed(masked: &str) -> usize {
        masked.chars().filter(|c| *c != STAR).count()
    }

    #[test]
    fn national_ids() {
        let cases = [
            ("110101199003071234", "110***********1234"),
            ("11010119900307123X", "110***********123X"),
            (" 110101199003071234 ", "110***********1234"),
            ("110101900307123", "110********7123"),
            // 11 characters: first 3 + last 4 leaves exactly 4 hidden.
            ("12345678901", "123****8901"),
            // 10: too short for the head, the tail alone leaves 6 hidden.
            ("1234567890", "******7890"),
            ("123456789", "*********"),
            ("1234", "****"),
            ("1", "*"),
            ("", ""),
            ("身份证号码一二三四五六七八九十", "身份证********七八九十"),
        ];
        for (input, want) in cases {
            let got = mask_national_id(input);
            assert_eq!(got, want, "mask_national_id({input:?})");
            assert!(revealed(&got) <= 7, "{input:?} reveals {got:?}");
        }
    }

    #[test]
    fn phones() {
        let cases = [
            ("13812345678", "138****5678"),
            ("+8613812345678", "+86*******5678"),
            ("010-62345678", "010*****5678"),
            ("2025550143", "******0143"),
            ("5550143", "*******"),
            ("123", "***"),
            ("", ""),
            ("１３８１２３４５６７８", "１３８****５６７８"),
        ];
        for (input, want) in cases {
            let got = mask_phone(input);
            assert_eq!(got, want, "mask_phone({input:?})");
            let n = input.trim().chars().count();
            assert!(revealed(&got) <= 7 && n - revealed(&got) >= n.min(4), "{input:?} reveals {got:?}");
        }
    }

    #[test]
    fn emails() {
        let cases = [
            ("zhang.san@example.com", "z***@example.com"),
            ("Li@qq.com", "L***@qq.com"),
            ("a@b.cn", "***@b.cn"),
            ("张三@例子.中国", "张***@例子.中国"),
            ("not-an-address", "***"),
            ("@example.com", "***"),
            ("user@", "***"),
            ("a@b@c.com", "a***@c.com"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(mask_email(input), want, "mask_email({input:?})");
        }
    }

    #[test]
    fn masks_never_contain_the_hidden_middle() {
        // A long value's middle is never shown, whatever its characters.
        for s in ["110101199003071234", "13812345678", "ab@cd.ef", "x", "多字节字符的身份证号码测试值"]
        {
            let m = mask_national_id(s);
            assert_eq!(m.chars().count(), s.chars().count(), "the mask keeps the length of {s:?}");
            if s.chars().count() > 8 {
                let middle: String = s.chars().skip(3).take(s.chars().count() - 7).collect();
                assert!(!m.contains(&middle), "{m:?} shows the middle of {s:?}");
            }
        }
    }

    #[test]
    fn retention() {
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let cases = [
            ("2026-06-30", 5, Some("2021-06-30")),
            ("2024-02-29", 3, Some("2021-02-28")),
            ("2024-02-29", 4, Some("2020-02-29")),
            ("2026-01-01", 0, Some("2026-01-01")),
            ("2026-01-01", u32::MAX, None),
        ];
        for (date, years, want) in cases {
            assert_eq!(retention_cutoff(d(date), years), want.map(d), "{date} - {years}y");
        }
        assert_eq!(
            (retention_years("cn"), retention_years("us"), retention_years("eu")),
            (Some(5), Some(3), None)
        );
    }

    #[test]
    fn normal_forms() {
        type Normalise = fn(&str) -> String;
        let cases: [(Normalise, &str, &str); 8] = [
            (normalise_national_id, "11010119900307123x", "11010119900307123X"),
            (normalise_national_id, "110101 19900307-1234", "110101199003071234"),
            (normalise_phone, "+86 138 0013 8000", "13800138000"),
            (normalise_phone, "138-0013-8000", "13800138000"),
            (normalise_phone, "8610 6234 5678", "861062345678"),
            (normalise_phone, "(202) 555-0143", "2025550143"),
            (normalise_email, " Zhang.San@Example.COM ", "zhang.san@example.com"),
            (normalise_email, "", ""),
        ];
        for (f, input, want) in cases {
            assert_eq!(f(input), want, "{input:?}");
        }
    }
}
