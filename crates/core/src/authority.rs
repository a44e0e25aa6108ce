//! Who may approve what (maker-checker, 审批权限): `config/authority.toml`. Every arrangement
//! is requested by one user and approved by another whose role has a rule covering its kind,
//! product, the balance owed and the share of it waived; the maker never approves their own.
//!
//! ```toml
//! [[rule]]
//! role = "supervisor"
//! kinds = ["extension", "instalment_plan", "settlement", "waiver"]
//! products = []                      # empty: every product
//! max_balance = { CNY = "200000.00", USD = "30000.00" }
//! max_waived_permille = 300          # at most 30% of what is owed waived
//! ```
//!
//! A decision is allowed when any rule of the approver's role allows it.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::access::Role;
use crate::config::line_col;
use crate::money::{Amount, Currency};

/// One rule: what a role may approve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The approver's role.
    pub role: Role,
    /// Kinds of arrangement it covers.
    pub kinds: Vec<String>,
    /// Products it covers (empty: all).
    pub products: Vec<String>,
    /// The largest balance owed it covers, per currency (a currency not listed: none).
    pub max_balance: BTreeMap<Currency, Amount>,
    /// The largest share of the balance waived, in per mille.
    pub max_waived_permille: u32,
}

/// The rules of a file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Authority {
    /// In file order.
    pub rules: Vec<Rule>,
}

/// A decision to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'a> {
    /// Who requested it.
    pub maker: &'a str,
    /// Who decides.
    pub approver: &'a str,
    /// The approver's role.
    pub role: Role,
    /// The kind of arrangement.
    pub kind: &'a str,
    /// The loan's product.
    pub product: &'a str,
    /// The currency of the amounts.
    pub currency: Currency,
    /// What is owed.
    pub balance: Amount,
    /// What the arrangement waives.
    pub waived: Amount,
}

/// Why a decision is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The maker may not approve their own request.
    #[error("{0} requested it and may not also approve it (maker-checker)")]
    OwnRequest(String),
    /// No rule of the role covers the kind and product.
    #[error("role {role} may not approve a {kind} of product {product} (config/authority.toml)")]
    NotCovered {
        /// The approver's role.
        role: Role,
        /// The kind.
        kind: String,
        /// The product.
        product: String,
    },
    /// A rule covers it, but not this much.
    #[error("beyond the authority of role {role}: {detail} (config/authority.toml)")]
    Beyond {
        /// The approver's role.
        role: Role,
        /// Balance or waived share, and the limit.
        detail: String,
    },
}

/// Whether `d` is allowed.
pub fn check(authority: &Authority, d: &Decision<'_>) -> Result<(), Refusal> {
    if d.maker == d.approver {
        return Err(Refusal::OwnRequest(d.maker.to_string()));
    }
    let covering: Vec<&Rule> = authority
        .rules
        .iter()
        .filter(|r| r.role == d.role && r.kinds.iter().any(|k| k == d.kind))
        .filter(|r| r.products.is_empty() || r.products.iter().any(|p| p == d.product))
        .collect();
    if covering.is_empty() {
        return Err(Refusal::NotCovered { role: d.role, kind: d.kind.into(), product: d.product.into() });
    }
    let mut why = String::new();
    for r in covering {
        let Some(&max) = r.max_balance.get(&d.currency) else {
            why = format!("no limit set for {}", d.currency.code());
            continue;
        };
        // Per mille of the balance, in integers: waived × 1000 ≤ permille × balance.
        let share_ok = i128::from(d.waived.minor()) * 1000
            <= i128::from(r.max_waived_permille) * i128::from(d.balance.minor());
        if d.balance > max {
            why = format!("balance {} over {}", d.balance.format(d.currency), max.format(d.currency));
        } else if !share_ok {
            why = format!(
                "waives {} of {} owed, over {}‰",
                d.waived.format(d.currency),
                d.balance.format(d.currency),
                r.max_waived_permille
            );
        } else {
            return Ok(());
        }
    }
    Err(Refusal::Beyond { role: d.role, detail: why })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default, rename = "rule")]
    rules: Vec<toml::Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    role: String,
    kinds: Vec<String>,
    #[serde(default)]
    products: Vec<String>,
    #[serde(default)]
    max_balance: BTreeMap<String, String>,
    #[serde(default)]
    max_waived_permille: u32,
}

/// The kinds a rule may name.
pub const KINDS: [&str; 7] =
    ["extension", "instalment_plan", "settlement", "waiver", "write_off", "write_off_reversal", "transfer"];

/// Reads an authority file; an error names `path`, the line and what is wrong.
pub fn parse(path: &str, text: &str) -> Result<Authority, String> {
    let at = |offset: usize, what: String| {
        let (line, col) = line_col(text, offset);
        format!("{path}:{line}:{col}: {what}")
    };
    let raw: RawFile =
        toml::from_str(text).map_err(|e| at(e.span().map_or(0, |s| s.start), e.message().to_string()))?;
    let mut rules = Vec::new();
    for spanned in raw.rules {
        let start = spanned.span().start;
        let r = spanned.into_inner();
        let role: Role = r.role.parse().map_err(|_| at(start, format!("unknown role {:?}", r.role)))?;
        if let Some(k) = r.kinds.iter().find(|k| !KINDS.contains(&k.as_str())) {
            return Err(at(start, format!("unknown kind {k:?}: use {}", KINDS.join(", "))));
        }
        if r.max_waived_permille > 1000 {
            return Err(at(start, format!("max_waived_permille {} is over 1000", r.max_waived_permille)));
        }
        let mut max_balance = BTreeMap::new();
        for (code, amount) in &r.max_balance {
            let currency =
                Currency::from_code(code).map_err(|e| at(start, format!("max_balance {code}: {e}")))?;
            let a = Amount::parse(amount, currency)
                .map_err(|e| at(start, format!("max_balance {code} {amount:?}: {e}")))?;
            max_balance.insert(currency, a);
        }
        rules.push(Rule {
            role,
            kinds: r.kinds,
            products: r.products,
            max_balance,
            max_waived_permille: r.max_waived_permille,
        });
    }
    Ok(Authority { rules })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[rule]]
role = "supervisor"
kinds = ["extension", "instalment_plan", "settlement", "waiver"]
max_balance = { CNY = "100000.00" }
max_waived_permille = 300

[[rule]]
role = "legal"
kinds = ["settlement"]
products = ["sme"]
max_balance = { CNY = "1000000.00" }
max_waived_permille = 600
"#;

    fn decide(
        role: Role,
        kind: &str,
        product: &str,
        balance: i64,
        waived: i64,
        maker: &str,
    ) -> Result<(), Refusal> {
        let a = parse("authority.toml", FILE).unwrap();
        let d = Decision {
            maker,
            approver: "boss",
            role,
            kind,
            product,
            currency: Currency::CNY,
            balance: Amount::from_minor(balance),
            waived: Amount::from_minor(waived),
        };
        check(&a, &d)
    }

    #[test]
    fn limits_hold_at_their_boundaries() {
        // (role, kind, product, balance, waived, allowed)
        let table: &[(Role, &str, &str, i64, i64, bool)] = &[
            (Role::Supervisor, "settlement", "consumer", 10_000_000, 3_000_000, true),
            (Role::Supervisor, "settlement", "consumer", 10_000_001, 0, false),
            (Role::Supervisor, "settlement", "consumer", 10_000_000, 3_000_001, false),
            (Role::Supervisor, "extension", "consumer", 10_000_000, 0, true),
            (Role::Legal, "settlement", "sme", 100_000_000, 60_000_000, true),
            (Role::Legal, "settlement", "consumer", 100, 0, false),
            (Role::Legal, "extension", "sme", 100, 0, false),
            (Role::Collector, "extension", "consumer", 100, 0, false),
        ];
        for &(role, kind, product, balance, waived, allowed) in table {
            let got = decide(role, kind, product, balance, waived, "clerk");
            assert_eq!(got.is_ok(), allowed, "{role} {kind} {product} {balance} {waived}: {got:?}");
        }
    }

    #[test]
    fn the_maker_never_approves_and_refusals_say_why() {
        let own = decide(Role::Supervisor, "extension", "consumer", 100, 0, "boss").unwrap_err();
        assert_eq!(own.to_string(), "boss requested it and may not also approve it (maker-checker)");
        let beyond = decide(Role::Supervisor, "settlement", "consumer", 20_000_000, 0, "clerk").unwrap_err();
        assert!(beyond.to_string().contains("balance 200000.00 over 100000.00"), "{beyond}");
        let share = decide(Role::Supervisor, "waiver", "consumer", 1_000, 400, "clerk").unwrap_err();
        assert!(share.to_string().contains("over 300‰"), "{share}");
        let none = decide(Role::Collector, "waiver", "consumer", 1, 0, "clerk").unwrap_err();
        assert!(none.to_string().contains("role collector may not approve a waiver"), "{none}");
    }

    #[test]
    fn bad_files_name_the_line() {
        let table = [
            ("[[rule]]\nrole = \"boss\"\nkinds = []\n", "a.toml:1:1: unknown role \"boss\""),
            ("[[rule]]\nrole = \"legal\"\nkinds = [\"refinance\"]\n", "unknown kind \"refinance\""),
            ("[[rule]]\nrole = \"legal\"\nkinds = []\nmax_waived_permille = 1001\n", "over 1000"),
            (
                "[[rule]]\nrole = \"legal\"\nkinds = []\nmax_balance = { CNY = \"1.234\" }\n",
                "max_balance CNY",
            ),
            ("[[rule]]\nrole = \"legal\"\nkinds = []\nmaximum = 3\n", "a.toml:4:1: unknown field `maximum`"),
        ];
        for (text, want) in table {
            let e = parse("a.toml", text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
