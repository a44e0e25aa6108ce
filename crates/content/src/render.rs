//! Filling a message template's placeholders (`{name}`, `{dpd}`, …) with their values, so that
//! the text a person would receive can be scanned before it is sent.

use std::borrow::Cow;

/// The template with each `{placeholder}` whose value `value` knows replaced by that value;
/// placeholders it does not know, and braces that are not a placeholder (a name of ASCII
/// letters, digits and `_`), stay as written.
pub fn render<'v>(template: &str, value: impl Fn(&str) -> Option<Cow<'v, str>>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        let name = &after[..name_len];
        let closed = after[name_len..].starts_with('}');
        match (closed && !name.is_empty()).then(|| value(name)).flatten() {
            Some(v) => {
                out.push_str(&v);
                rest = &after[name_len + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_placeholders_are_filled_and_the_rest_stay() {
        let value = |k: &str| -> Option<Cow<'static, str>> {
            match k {
                "name" => Some("张三".into()),
                "dpd" => Some("12".into()),
                "empty" => Some("".into()),
                _ => None,
            }
        };
        let cases: &[(&str, &str)] = &[
            ("{name}您好，已逾期{dpd}天", "张三您好，已逾期12天"),
            ("【{lender}】{name}", "【{lender}】张三"),
            ("{name}{name}", "张三张三"),
            ("{}{ name}{name", "{}{ name}{name"),
            ("{{name}}", "{张三}"),
            ("a{empty}b", "ab"),
            ("no placeholders", "no placeholders"),
            ("", ""),
            ("尾巴{", "尾巴{"),
        ];
        for (template, want) in cases {
            assert_eq!(render(template, value), *want, "{template}");
        }
    }
}
