//! Who may do what: the roles of DESIGN.md and the rules that depend on them, pure so
//! that the command line and the web server decide the same way.

use crate::book::text_enum;

text_enum!(
    /// A user's role (DESIGN.md, "Who uses it").
    Role {
        /// 催收员: works a queue of cases.
        Collector = "collector",
        /// Designs strategies, moves work, approves settlements.
        Supervisor = "supervisor",
        /// Lawyer letters, litigation, enforcement.
        Legal = "legal",
        /// Scorecards and portfolio analytics, read-only on cases.
        RiskAnalyst = "risk_analyst",
        /// 外包机构: an outside collection agency.
        Agency = "agency",
        /// Audit and compliance: reads everything, changes nothing.
        Auditor = "auditor",
        /// Users, roles, products, configuration.
        Admin = "admin",
    }
);

/// Why a user record is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// An agency user must name the agency whose placed cases it sees.
    #[error("a user with role agency needs --agency (the agency whose placed cases it sees)")]
    AgencyMissing,
    /// Only agency users belong to an agency.
    #[error("only agency users belong to an agency; role {0} has none")]
    AgencyNotAllowed(Role),
    /// User names are what people type to log in.
    #[error("user name {0:?} must be 1 to 64 characters without spaces or control characters")]
    BadName(String),
    /// A password too short to resist guessing.
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
}

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;

impl Role {
    /// Whether this role may see national ID numbers, phone numbers and e-mail addresses
    /// unmasked. Legal needs them for letters, filings and enforcement; auditors for
    /// reviewing contacts and complaints. Collectors work from masked numbers (the dialler
    /// places the call); everyone else has no need for them.
    pub fn may_unmask(self) -> bool {
        matches!(self, Role::Legal | Role::Auditor)
    }

    /// Whether this role may create users and change roles.
    pub fn may_manage_users(self) -> bool {
        self == Role::Admin
    }

    /// Whether this role only reads (never changes cases, actions or configuration).
    pub fn read_only(self) -> bool {
        matches!(self, Role::RiskAnalyst | Role::Auditor)
    }
}

/// Checks a new user's name, role, agency and password against the rules above.
pub fn check_new_user(
    name: &str,
    role: Role,
    agency: Option<&str>,
    password: &str,
) -> Result<(), AccessError> {
    let name_ok = !name.is_empty()
        && name.chars().count() <= 64
        && !name.chars().any(|c| c.is_whitespace() || c.is_control());
    if !name_ok {
        return Err(AccessError::BadName(name.to_string()));
    }
    match (role, agency.filter(|a| !a.trim().is_empty())) {
        (Role::Agency, None) => return Err(AccessError::AgencyMissing),
        (r, Some(_)) if r != Role::Agency => return Err(AccessError::AgencyNotAllowed(r)),
        _ => {}
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccessError::WeakPassword);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_legal_and_auditor_unmask() {
        for role in Role::ALL {
            let want = matches!(role, Role::Legal | Role::Auditor);
            assert_eq!(role.may_unmask(), want, "{role}");
        }
    }

    #[test]
    fn roles_round_trip_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(*role));
        }
        assert!("root".parse::<Role>().is_err());
        assert!("Legal".parse::<Role>().is_err());
    }

    #[test]
    fn new_user_rules() {
        let pw = "correct horse";
        type Case<'a> = (&'a str, Role, Option<&'a str>, &'a str, Result<(), AccessError>);
        let cases: [Case; 9] = [
            ("wang", Role::Collector, None, pw, Ok(())),
            ("agent7", Role::Agency, Some("ACME"), pw, Ok(())),
            ("agent7", Role::Agency, None, pw, Err(AccessError::AgencyMissing)),
            ("agent7", Role::Agency, Some("  "), pw, Err(AccessError::AgencyMissing)),
            ("li", Role::Legal, Some("ACME"), pw, Err(AccessError::AgencyNotAllowed(Role::Legal))),
            ("", Role::Admin, None, pw, Err(AccessError::BadName(String::new()))),
            ("a b", Role::Admin, None, pw, Err(AccessError::BadName("a b".into()))),
            ("zhao", Role::Auditor, None, "1234567", Err(AccessError::WeakPassword)),
            ("zhao", Role::Auditor, None, "12345678", Ok(())),
        ];
        for (name, role, agency, password, want) in cases {
            assert_eq!(check_new_user(name, role, agency, password), want, "{name:?} {role} {agency:?}");
        }
    }
}
