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
        /// 服务账号: a system of the lender's (core banking) that books payments through the
        /// API with a key; it never logs in and sees no case.
        Service = "service",
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
    /// Service accounts authenticate with API keys, never with a password.
    #[error(
        "a service account never logs in: give it an API key (`arrears apikey create NAME --role service`)"
    )]
    ServiceAccount,
    /// Only a service account holds an API key.
    #[error("an API key acts for a service account: use --role service, not {0}")]
    KeyRole(Role),
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

/// What a role may do through the API and the workbench; one place decides, every route asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Have a queue of tasks for today.
    WorkQueue,
    /// Read cases (which ones is [`may_see_case`]'s business).
    ViewCases,
    /// Log contacts, take promises and request arrangements on a visible case.
    WorkCases,
    /// Move cases between collectors.
    AssignCases,
    /// Portfolio figures, roll rates, per-collector, per-agency and strategy results.
    ViewFigures,
    /// Early-warning alerts.
    ViewAlerts,
    /// Verify the audit log and read entries and proofs.
    Audit,
    /// Download a case's evidence package.
    Evidence,
    /// Create users and see who has which role.
    ManageUsers,
    /// Check and install collection strategies.
    ManageStrategies,
    /// Approve or decline arrangements, write-offs and transfers (within config/authority.toml).
    Approve,
    /// Book payments through the API (service accounts).
    BookPayments,
    /// The legal board: refer cases to legal and move legal cases through their stages.
    LegalTrack,
}

impl Capability {
    /// Every capability, for tables and tests.
    pub const ALL: [Capability; 13] = [
        Capability::WorkQueue,
        Capability::ViewCases,
        Capability::WorkCases,
        Capability::AssignCases,
        Capability::ViewFigures,
        Capability::ViewAlerts,
        Capability::Audit,
        Capability::Evidence,
        Capability::ManageUsers,
        Capability::ManageStrategies,
        Capability::Approve,
        Capability::LegalTrack,
        Capability::BookPayments,
    ];
}

impl Role {
    /// Whether this role has the capability (DESIGN.md's "does" and "sees" columns).
    pub fn can(self, cap: Capability) -> bool {
        use Capability as C;
        use Role as R;
        match cap {
            C::WorkQueue => matches!(self, R::Collector | R::Supervisor | R::Agency | R::Legal),
            // Admin sees configuration, not borrowers.
            C::ViewCases => !matches!(self, R::Admin | R::Service),
            C::WorkCases => matches!(self, R::Collector | R::Supervisor | R::Agency | R::Legal),
            C::AssignCases => self == R::Supervisor,
            C::ViewFigures => matches!(self, R::Supervisor | R::RiskAnalyst | R::Auditor),
            C::ViewAlerts => matches!(self, R::Supervisor | R::RiskAnalyst | R::Legal | R::Auditor),
            C::Audit => self == R::Auditor,
            C::Evidence => matches!(self, R::Auditor | R::Legal),
            C::ManageUsers => self == R::Admin,
            C::ManageStrategies => matches!(self, R::Supervisor | R::Admin),
            C::Approve | C::LegalTrack => matches!(self, R::Supervisor | R::Legal),
            C::BookPayments => self == R::Service,
        }
    }
}

/// The person asking, as far as case visibility depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer<'a> {
    /// Their role.
    pub role: Role,
    /// Their user name; a collector's user name is its collector id.
    pub name: &'a str,
    /// Their team (collectors and supervisors), if any.
    pub team: Option<&'a str>,
    /// Their agency (agency users only).
    pub agency: Option<&'a str>,
}

/// What decides who may see a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CaseScope<'a> {
    /// The collector the case is allocated to.
    pub collector: Option<&'a str>,
    /// That collector's team.
    pub collector_team: Option<&'a str>,
    /// The agency it is placed with now (an active placement), if any.
    pub placed_with: Option<&'a str>,
    /// Whether the case has been referred to legal.
    pub legal_referral: bool,
}

/// Whether the viewer may see the case at all; a case it may not see does not exist for
/// it (the API answers 404, so that an agency cannot even learn which case ids exist).
pub fn may_see_case(v: &Viewer<'_>, c: &CaseScope<'_>) -> bool {
    match v.role {
        Role::Admin | Role::Service => false,
        // Placed work belongs to the agency alone; the lender's collectors see it again on recall.
        Role::Agency => v.agency.is_some() && c.placed_with == v.agency,
        Role::Collector => {
            c.placed_with.is_none()
                && (c.collector == Some(v.name) || (v.team.is_some() && c.collector_team == v.team))
        }
        // A supervisor without a team steers the whole department.
        Role::Supervisor => v.team.is_none() || c.collector_team == v.team || c.collector.is_none(),
        Role::Legal => c.legal_referral,
        Role::RiskAnalyst | Role::Auditor => true,
    }
}

/// Whether the viewer may log contacts and take promises on the case (it must see it, too).
pub fn may_work_case(v: &Viewer<'_>, c: &CaseScope<'_>) -> bool {
    v.role.can(Capability::WorkCases)
        && may_see_case(v, c)
        && (c.placed_with.is_none() || v.role == Role::Agency)
}

/// Checks a new user's name, role, agency and password against the rules above.
pub fn check_new_user(
    name: &str,
    role: Role,
    agency: Option<&str>,
    password: &str,
) -> Result<(), AccessError> {
    check_name(name)?;
    if role == Role::Service {
        return Err(AccessError::ServiceAccount);
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

/// Checks a new API key's name and role: a name like a user's, for a service account.
pub fn check_new_key(name: &str, role: Role) -> Result<(), AccessError> {
    check_name(name)?;
    if role != Role::Service {
        return Err(AccessError::KeyRole(role));
    }
    Ok(())
}

/// A name people type: 1 to 64 characters, no spaces or control characters.
fn check_name(name: &str) -> Result<(), AccessError> {
    let name_ok = !name.is_empty()
        && name.chars().count() <= 64
        && !name.chars().any(|c| c.is_whitespace() || c.is_control());
    if name_ok { Ok(()) } else { Err(AccessError::BadName(name.to_string())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_service_accounts_hold_keys_and_never_log_in() {
        assert_eq!(check_new_key("core-banking", Role::Service), Ok(()));
        assert_eq!(check_new_key("core-banking", Role::Admin), Err(AccessError::KeyRole(Role::Admin)));
        assert_eq!(
            check_new_key("core banking", Role::Service),
            Err(AccessError::BadName("core banking".into()))
        );
        assert_eq!(
            check_new_user("svc", Role::Service, None, "long enough"),
            Err(AccessError::ServiceAccount)
        );
        for role in Role::ALL {
            assert_eq!(role.can(Capability::BookPayments), *role == Role::Service, "{role}");
        }
        let service: Vec<Capability> =
            Capability::ALL.into_iter().filter(|c| Role::Service.can(*c)).collect();
        assert_eq!(service, [Capability::BookPayments], "a service account books payments and nothing else");
    }

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

    #[test]
    fn case_visibility_by_role() {
        let mine = CaseScope { collector: Some("c1"), collector_team: Some("east"), ..CaseScope::default() };
        let teams = CaseScope { collector: Some("c2"), collector_team: Some("east"), ..CaseScope::default() };
        let other = CaseScope { collector: Some("c9"), collector_team: Some("west"), ..CaseScope::default() };
        let placed = CaseScope { placed_with: Some("ACME"), ..mine };
        let placed_b = CaseScope { placed_with: Some("BETA"), ..mine };
        let legal = CaseScope { legal_referral: true, ..other };
        let v = |role, name, team, agency| Viewer { role, name, team, agency };
        let c1 = v(Role::Collector, "c1", Some("east"), None);
        let c1_alone = v(Role::Collector, "c1", None, None);
        let acme = v(Role::Agency, "a", None, Some("ACME"));
        let sup_east = v(Role::Supervisor, "s", Some("east"), None);
        let sup_all = v(Role::Supervisor, "s", None, None);
        let lawyer = v(Role::Legal, "l", None, None);
        let admin = v(Role::Admin, "root", None, None);
        let auditor = v(Role::Auditor, "au", None, None);
        type Row<'a> = (&'a Viewer<'a>, &'a CaseScope<'a>, bool, bool);
        let table: [Row; 16] = [
            (&c1, &mine, true, true),
            (&c1, &teams, true, true),
            (&c1, &other, false, false),
            (&c1_alone, &teams, false, false),
            (&c1, &placed, false, false),
            (&acme, &placed, true, true),
            (&acme, &placed_b, false, false),
            (&acme, &mine, false, false),
            (&sup_east, &teams, true, true),
            (&sup_east, &other, false, false),
            (&sup_all, &other, true, true),
            (&sup_all, &placed, true, false),
            (&lawyer, &legal, true, true),
            (&lawyer, &other, false, false),
            (&admin, &mine, false, false),
            (&auditor, &placed, true, false),
        ];
        for (viewer, scope, see, work) in table {
            assert_eq!(may_see_case(viewer, scope), see, "see {viewer:?} {scope:?}");
            assert_eq!(may_work_case(viewer, scope), work, "work {viewer:?} {scope:?}");
        }
    }

    #[test]
    fn read_only_roles_have_no_changing_capability() {
        for role in Role::ALL {
            if role.read_only() {
                for cap in [
                    Capability::WorkCases,
                    Capability::AssignCases,
                    Capability::ManageUsers,
                    Capability::ManageStrategies,
                    Capability::Approve,
                    Capability::LegalTrack,
                ] {
                    assert!(!role.can(cap), "{role} {cap:?}");
                }
            }
        }
        assert!(
            Capability::ALL.iter().all(|c| Role::ALL.iter().any(|r| r.can(*c))),
            "a capability nobody has"
        );
    }
}
