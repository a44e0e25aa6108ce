//! One block of the portfolio: its borrowers, contacts, loans, payments and
//! financial statements, formatted as CSV rows into reusable buffers.
//!
//! A block depends only on (seed, block index, its first ids), so blocks can be
//! generated on any thread in any order and still give the same bytes.

use arrears_core::delinquency::{DelinquencyRules, LoanStatus, assess};
use arrears_core::ledger::{LedgerEvent, Waterfall, replay_with};
use arrears_core::schedule::{self, Installment};
use arrears_core::{Amount, BorrowerId, Currency, Loan, LoanId, Rate, RepaymentMethod};
use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use crate::SimError;
use crate::arrange::{APPROVER, Asked, Decision, arrange, as_payments};
use crate::behaviour::{Behaviour, Due, Pay, Terms, simulate};
use crate::ids::{org_code_check, resident_id_check, uscc_check};
use crate::names::*;
use crate::out::{Sink, push_amount, push_date, push_field, push_padded, push_rate_bp, push_uint};

/// Number of delinquency buckets counted (M0 … M7+).
pub(crate) const BUCKETS: usize = 8;

/// The random stream of a block: `stream` 0 draws contents, 1 the block's shape, 2 the
/// arrangements defaulters ask for (so that adding them left every other value as it was).
pub(crate) fn block_rng(seed: u64, block: u64, stream: u8) -> ChaCha8Rng {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s[8..16].copy_from_slice(&block.to_le_bytes());
    s[16] = stream;
    s[24..].copy_from_slice(b"arrears1");
    ChaCha8Rng::from_seed(s)
}

/// What the id numbering needs to know of a borrower before its block is generated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// A company rather than a person.
    pub company: bool,
    /// Chinese (CNY, zh) rather than US (USD, en).
    pub chinese: bool,
    /// Loans of this borrower in this block.
    pub loans: u64,
    /// Guarantors among the contacts.
    pub guarantors: u32,
    /// Other contacts (spouse, relatives, emergency contacts).
    pub others: u32,
}

/// Draws the next borrower's shape; `remaining` caps its loans at the block's end.
pub(crate) fn next_shape(rng: &mut ChaCha8Rng, remaining: u64) -> Shape {
    let company = rng.random_range(0..100) < 8;
    let chinese = rng.random_range(0..100) < 85;
    let loans: u64 = match rng.random_range(0..100) {
        0..78 => 1,
        78..94 => 2,
        _ => 3,
    };
    let (guarantors, others) = if company {
        (1 + rng.random_range(0..2), 0)
    } else {
        (u32::from(rng.random_range(0..100) < 30), 1 + rng.random_range(0..2))
    };
    Shape { company, chinese, loans: loans.min(remaining), guarantors, others }
}

/// Borrowers and contacts a block of `loans` loans will hold.
pub(crate) fn block_counts(seed: u64, block: u64, loans: u64) -> (u64, u64) {
    let mut rng = block_rng(seed, block, 1);
    let (mut borrowers, mut contacts, mut left) = (0, 0, loans);
    while left > 0 {
        let s = next_shape(&mut rng, left);
        left -= s.loans;
        borrowers += 1;
        contacts += u64::from(s.guarantors + s.others);
    }
    (borrowers, contacts)
}

/// Where a block starts in each id sequence.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockStart {
    /// Block index.
    pub index: u64,
    /// Number of the block's first loan (1-based).
    pub first_loan: u64,
    /// Loans in the block.
    pub loans: u64,
    /// Number of the block's first borrower.
    pub first_borrower: u64,
    /// Number of the block's first contact.
    pub first_contact: u64,
}

/// What every block shares: the run's parameters and lookup tables.
pub(crate) struct Ctx {
    /// Run seed.
    pub seed: u64,
    /// Business date of the portfolio.
    pub as_of: NaiveDate,
    /// The same as a day number.
    pub as_of_day: i32,
    /// Replay and assess every n-th loan (0: none).
    pub assess_every: u64,
    /// Digits of loan and borrower numbers.
    pub id_width: usize,
    /// Digits of contact numbers.
    pub contact_width: usize,
    /// Rates by basis point, built once because `Rate::new` normalises a Decimal.
    pub rates: Vec<Rate>,
}

impl Ctx {
    /// Builds the shared context.
    pub(crate) fn new(seed: u64, as_of: NaiveDate, assess_every: u64, loans: u64, contacts: u64) -> Ctx {
        let rates =
            (0..=MAX_BP).map(|bp| Rate::new(Decimal::new(i64::from(bp), 4)).unwrap_or(Rate::ZERO)).collect();
        Ctx {
            seed,
            as_of,
            as_of_day: as_of.num_days_from_ce(),
            assess_every,
            id_width: crate::out::digit_count(loans).max(7),
            contact_width: crate::out::digit_count(contacts).max(7),
            rates,
        }
    }
}

/// Highest rate in the table, basis points (penalty of the dearest product).
const MAX_BP: u32 = 4000;

/// Row and delinquency counts of a block (or, summed, of the run).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    pub borrowers: u64,
    pub contacts: u64,
    pub loans: u64,
    pub payments: u64,
    pub financial_rows: u64,
    pub arrangements: u64,
    pub assessed: u64,
    pub active: u64,
    pub by_bucket: [u64; BUCKETS],
}

impl Counts {
    /// Adds another block's counts.
    pub(crate) fn add(&mut self, o: &Counts) {
        self.borrowers += o.borrowers;
        self.contacts += o.contacts;
        self.loans += o.loans;
        self.payments += o.payments;
        self.financial_rows += o.financial_rows;
        self.arrangements += o.arrangements;
        self.assessed += o.assessed;
        self.active += o.active;
        for (a, b) in self.by_bucket.iter_mut().zip(o.by_bucket) {
            *a += b;
        }
    }
}

/// A generated block: one CSV fragment per file plus its counts.
#[derive(Debug, Default)]
pub(crate) struct BlockOut {
    pub borrowers: Vec<u8>,
    pub contacts: Vec<u8>,
    pub loans: Vec<u8>,
    pub payments: Vec<u8>,
    pub financials: Vec<u8>,
    pub arrangements: Vec<u8>,
    pub counts: Counts,
}

impl BlockOut {
    fn clear(&mut self) {
        self.borrowers.clear();
        self.contacts.clear();
        self.loans.clear();
        self.payments.clear();
        self.financials.clear();
        self.arrangements.clear();
        self.counts = Counts::default();
    }
}

/// Per-thread buffers reused across blocks so the hot loop does not allocate.
pub(crate) struct Scratch {
    loan: Loan,
    dues: Vec<Due>,
    pays: Vec<Pay>,
    name: String,
    latin: String,
    email: String,
    phone: String,
    id: String,
    rules: DelinquencyRules,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            loan: Loan {
                id: LoanId::new("L").expect("static id"),
                borrower_id: BorrowerId::new("B").expect("static id"),
                product: String::new(),
                currency: Currency::CNY,
                principal: Amount::ZERO,
                annual_rate: Rate::ZERO,
                term_months: 1,
                disbursed_on: NaiveDate::MIN,
                method: RepaymentMethod::Annuity,
                penalty_rate: Rate::ZERO,
                grace_days: 0,
            },
            dues: Vec::with_capacity(64),
            pays: Vec::with_capacity(128),
            name: String::new(),
            latin: String::new(),
            email: String::new(),
            phone: String::new(),
            id: String::new(),
            rules: DelinquencyRules::default(),
        }
    }
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn word(rng: &mut ChaCha8Rng, items: &[&'static str]) -> &'static str {
    items[rng.random_range(0..items.len())]
}

fn pct(rng: &mut ChaCha8Rng, p: u32) -> bool {
    rng.random_range(0..100) < p
}

fn push_digits(out: &mut String, rng: &mut ChaCha8Rng, n: usize) {
    for _ in 0..n {
        out.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
}

fn date_of(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day).unwrap_or(NaiveDate::MIN)
}

/// One contact number in this many that is a guarantor has the previous borrower's phone.
const GUARANTOR_OF_BORROWER: u64 = 8;

/// Generates block `start` into `out`.
pub(crate) fn generate_block(
    ctx: &Ctx,
    start: &BlockStart,
    out: &mut BlockOut,
    s: &mut Scratch,
) -> Result<(), SimError> {
    out.clear();
    let mut shapes = block_rng(ctx.seed, start.index, 1);
    let mut rng = block_rng(ctx.seed, start.index, 0);
    let mut asks = block_rng(ctx.seed, start.index, 2);
    let mut left = start.loans;
    let mut loan_no = start.first_loan;
    let mut borrower_no = start.first_borrower;
    let mut contact_no = start.first_contact;
    // The phone of the block's borrower before this one: every GUARANTOR_OF_BORROWER-th
    // contact, when a guarantor, is that borrower (the same mobile number), so that a
    // guarantor's own delinquency can be seen on generated books.
    let mut previous_phone = String::new();
    while left > 0 {
        let shape = next_shape(&mut shapes, left);
        left -= shape.loans;
        let currency = if shape.chinese { Currency::CNY } else { Currency::USD };
        let city = *pick(&mut rng, CN_CITIES);
        write_borrower(ctx, &mut rng, s, out, &shape, borrower_no, city);
        let own_phone = s.phone.clone();
        for k in 0..shape.guarantors + shape.others {
            let relation = if k < shape.guarantors {
                "guarantor"
            } else if k == shape.guarantors {
                *pick(&mut rng, &["spouse", "spouse", "relative", "emergency", "emergency", "other"])
            } else {
                *pick(&mut rng, &["relative", "emergency", "emergency", "other"])
            };
            // Decided by number, not drawn, so the random stream and every other value stay
            // as they were.
            let same = (relation == "guarantor"
                && contact_no.is_multiple_of(GUARANTOR_OF_BORROWER)
                && !previous_phone.is_empty())
            .then_some(previous_phone.as_str());
            write_contact(ctx, &mut rng, s, out, &shape, contact_no, borrower_no, relation, same);
            contact_no += 1;
        }
        previous_phone = own_phone;
        let behaviour = Behaviour::draw(&mut rng);
        let mut first_principal = 0;
        for _ in 0..shape.loans {
            let rngs = (&mut rng, &mut asks);
            let p = write_loan(ctx, rngs, s, out, &shape, currency, behaviour, loan_no, borrower_no)?;
            if first_principal == 0 {
                first_principal = p;
            }
            loan_no += 1;
        }
        if shape.company {
            write_financials(ctx, &mut rng, out, currency, borrower_no, first_principal);
        }
        out.counts.borrowers += 1;
        borrower_no += 1;
    }
    Ok(())
}

fn push_id(out: &mut impl Sink, prefix: &str, n: u64, width: usize) {
    out.push_str(prefix);
    push_padded(out, n, width);
}

/// A Chinese person's name into `s.name` and its pinyin into `s.latin`.
fn cn_name(rng: &mut ChaCha8Rng, s: &mut Scratch) {
    s.name.clear();
    s.latin.clear();
    let (sur, sur_py) = *pick(rng, CN_SURNAMES);
    s.name.push_str(sur);
    s.latin.push_str(sur_py);
    for _ in 0..1 + usize::from(pct(rng, 70)) {
        let (g, g_py) = *pick(rng, CN_GIVEN);
        s.name.push_str(g);
        s.latin.push_str(g_py);
    }
}

/// A US person's name into `s.name` and `first.last` into `s.latin`.
fn en_name(rng: &mut ChaCha8Rng, s: &mut Scratch) {
    s.name.clear();
    s.latin.clear();
    let first = *pick(rng, EN_FIRST);
    let last = *pick(rng, EN_LAST);
    s.name.push_str(first);
    s.name.push(' ');
    s.name.push_str(last);
    for c in first.chars() {
        s.latin.push(c.to_ascii_lowercase());
    }
    s.latin.push('.');
    for c in last.chars() {
        s.latin.push(c.to_ascii_lowercase());
    }
}

/// A personal e-mail from `s.latin` into `s.email`; empty `empty_pct` per cent of the time.
fn person_email(rng: &mut ChaCha8Rng, s: &mut Scratch, chinese: bool, empty_pct: u32) {
    s.email.clear();
    if pct(rng, empty_pct) {
        return;
    }
    if chinese && pct(rng, 30) {
        // QQ mail addresses are the account number.
        s.email.push(char::from(b'1' + rng.random_range(0..9u8)));
        let n = rng.random_range(5..=9);
        push_digits(&mut s.email, rng, n);
        s.email.push_str("@qq.com");
        return;
    }
    s.email.push_str(&s.latin);
    if pct(rng, 60) {
        push_uint(&mut s.email, rng.random_range(1..=9999));
    }
    s.email.push('@');
    s.email.push_str(if chinese { word(rng, CN_MAIL) } else { word(rng, EN_MAIL) });
}

/// A mobile number: `1[3-9]` and 9 digits in China, `+1 NXX-NXX-XXXX` in the US.
fn phone(rng: &mut ChaCha8Rng, out: &mut String, chinese: bool) {
    out.clear();
    if chinese {
        out.push('1');
        out.push(char::from(b'0' + rng.random_range(3..=9u8)));
        push_digits(out, rng, 9);
    } else {
        out.push_str("+1 ");
        for _ in 0..2 {
            out.push(char::from(b'0' + rng.random_range(2..=9u8)));
            // N11 codes are service numbers, not subscriber exchanges.
            let xx = match rng.random_range(0..100) {
                11 => 12,
                v => v,
            };
            push_padded(out, xx, 2);
            out.push('-');
        }
        push_padded(out, rng.random_range(0..10_000), 4);
    }
}

/// An 18-digit resident ID number (GB 11643) for someone born in `city`, aged 20–65 on the as-of date.
fn resident_id(ctx: &Ctx, rng: &mut ChaCha8Rng, out: &mut String, region: u32) {
    let age_days = rng.random_range(20 * 365 + 5..65 * 365);
    let birth = date_of(ctx.as_of_day - age_days);
    let mut body = [0u8; 17];
    let mut fill = |from: usize, v: u32, width: usize| {
        let mut v = v;
        for i in (from..from + width).rev() {
            body[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    fill(0, region, 6);
    fill(6, birth.year() as u32, 4);
    fill(10, birth.month(), 2);
    fill(12, birth.day(), 2);
    fill(14, rng.random_range(1..1000), 3);
    let check = resident_id_check(&body);
    out.clear();
    for b in body {
        out.push(char::from(b));
    }
    out.push(char::from(check));
}

/// An 18-character unified social credit code (GB 32100) of a company registered in `region`.
fn uscc(rng: &mut ChaCha8Rng, out: &mut String, region: u32) {
    let mut code = [0u8; 18];
    // 9 = registered by market regulation, 1 = enterprise.
    code[0] = b'9';
    code[1] = b'1';
    let mut r = region;
    for i in (2..8).rev() {
        code[i] = b'0' + (r % 10) as u8;
        r /= 10;
    }
    let mut org = [0u8; 8];
    for b in &mut org {
        *b = b'0' + rng.random_range(0..10u8);
    }
    code[8..16].copy_from_slice(&org);
    code[16] = org_code_check(&org).unwrap_or(b'0');
    code[17] = uscc_check(&code[..17]).unwrap_or(b'0');
    out.clear();
    for b in code {
        out.push(char::from(b));
    }
}

fn write_borrower(
    ctx: &Ctx,
    rng: &mut ChaCha8Rng,
    s: &mut Scratch,
    out: &mut BlockOut,
    shape: &Shape,
    no: u64,
    (city, region): (&str, u32),
) {
    match (shape.company, shape.chinese) {
        (false, true) => {
            cn_name(rng, s);
            resident_id(ctx, rng, &mut s.id, region);
            person_email(rng, s, true, 15);
        }
        (false, false) => {
            en_name(rng, s);
            s.id.clear();
            let area = match rng.random_range(1..900) {
                666 => 667,
                a => a,
            };
            push_padded(&mut s.id, area, 3);
            s.id.push('-');
            push_padded(&mut s.id, rng.random_range(1..100), 2);
            s.id.push('-');
            push_padded(&mut s.id, rng.random_range(1..10_000), 4);
            person_email(rng, s, false, 10);
        }
        (true, true) => {
            let (trade, trade_py) = *pick(rng, CN_TRADE_NAMES);
            s.name.clear();
            s.name.push_str(city);
            s.name.push_str(trade);
            s.name.push_str(word(rng, CN_INDUSTRIES));
            s.name.push_str("有限公司");
            uscc(rng, &mut s.id, region);
            s.email.clear();
            if !pct(rng, 10) {
                s.email.push_str(word(rng, &["finance", "info", "service", "contact"]));
                s.email.push('@');
                s.email.push_str(trade_py);
                push_uint(&mut s.email, rng.random_range(1..1000));
                s.email.push_str(".com.cn");
            }
        }
        (true, false) => {
            let first = word(rng, EN_COMPANY_WORDS);
            s.name.clear();
            s.name.push_str(first);
            s.name.push(' ');
            s.name.push_str(word(rng, EN_INDUSTRIES));
            s.name.push(' ');
            s.name.push_str(word(rng, EN_SUFFIXES));
            s.id.clear();
            push_padded(&mut s.id, u64::from(*pick(rng, EIN_PREFIXES)), 2);
            s.id.push('-');
            push_padded(&mut s.id, rng.random_range(0..10_000_000), 7);
            s.email.clear();
            if !pct(rng, 10) {
                s.email.push_str(word(rng, &["accounts", "info", "office", "billing"]));
                s.email.push('@');
                for c in first.chars().filter(|c| c.is_ascii_alphabetic()) {
                    s.email.push(c.to_ascii_lowercase());
                }
                push_uint(&mut s.email, rng.random_range(1..100));
                s.email.push_str(".com");
            }
        }
    }
    phone(rng, &mut s.phone, shape.chinese);
    let b = &mut out.borrowers;
    push_id(b, "B", no, ctx.id_width);
    b.push_str(if shape.company { ",company," } else { ",individual," });
    push_field(b, &s.name);
    b.push_str(",");
    b.push_str(&s.id);
    b.push_str(",");
    push_field(b, &s.phone);
    b.push_str(",");
    push_field(b, &s.email);
    if shape.chinese {
        b.push_str(",Asia/Shanghai,zh\n");
    } else {
        b.push_str(",");
        b.push_str(word(rng, US_ZONES));
        b.push_str(",en\n");
    }
}

#[allow(clippy::too_many_arguments)]
fn write_contact(
    ctx: &Ctx,
    rng: &mut ChaCha8Rng,
    s: &mut Scratch,
    out: &mut BlockOut,
    shape: &Shape,
    no: u64,
    borrower_no: u64,
    relation: &str,
    same_phone_as: Option<&str>,
) {
    if shape.chinese {
        cn_name(rng, s);
    } else {
        en_name(rng, s);
    }
    person_email(rng, s, shape.chinese, 50);
    phone(rng, &mut s.phone, shape.chinese);
    if let Some(p) = same_phone_as {
        s.phone.clear();
        s.phone.push_str(p);
    }
    let consent = if relation == "guarantor" { pct(rng, 97) } else { pct(rng, 88) };
    let c = &mut out.contacts;
    push_id(c, "C", no, ctx.contact_width);
    c.push_str(",");
    push_id(c, "B", borrower_no, ctx.id_width);
    c.push_str(",");
    c.push_str(relation);
    c.push_str(",");
    push_field(c, &s.name);
    c.push_str(",");
    push_field(c, &s.phone);
    c.push_str(",");
    push_field(c, &s.email);
    c.push_str(if consent { ",true\n" } else { ",false\n" });
    out.counts.contacts += 1;
}

/// Draws from `lo..=hi` in steps of `step`, skewed towards `lo` (small loans are common).
fn skewed(rng: &mut ChaCha8Rng, lo: i64, hi: i64, step: i64) -> i64 {
    let u = rng.random_range(0..1000i64);
    let v = lo + (hi - lo) * u * u / 1_000_000;
    (v / step * step).max(lo)
}

/// Writes one loan and its payments; returns the principal in major units.
#[allow(clippy::too_many_arguments)]
fn write_loan(
    ctx: &Ctx,
    (rng, asks): (&mut ChaCha8Rng, &mut ChaCha8Rng),
    s: &mut Scratch,
    out: &mut BlockOut,
    shape: &Shape,
    currency: Currency,
    behaviour: Behaviour,
    loan_no: u64,
    borrower_no: u64,
) -> Result<i64, SimError> {
    use RepaymentMethod::*;
    let (product, method, term, principal, rate_bp): (&str, RepaymentMethod, u32, i64, u32) = if shape.company
    {
        let (method, term) = match rng.random_range(0..100) {
            0..40 => (InterestOnly, *pick(rng, &[12, 24, 36])),
            40..65 => (Bullet, *pick(rng, &[6, 9, 12])),
            _ => (Annuity, *pick(rng, &[12, 18, 24, 36])),
        };
        let principal = skewed(rng, 100_000, 5_000_000, 10_000);
        ("sme_loan", method, term, principal, 5 * rng.random_range(90..=240))
    } else if pct(rng, 70) {
        let method = if pct(rng, 65) { Annuity } else { EqualPrincipal };
        let term = *pick(rng, &[6, 9, 12, 12, 18, 24, 24, 36]);
        let principal = skewed(rng, 3_000, 200_000, 100);
        ("consumer_loan", method, term, principal, 5 * rng.random_range(120..=480))
    } else {
        let method = if pct(rng, 50) { Annuity } else { EqualPrincipal };
        let term = *pick(rng, &[3, 6, 6, 12, 12, 18, 24]);
        let principal = skewed(rng, 1_000, 50_000, 100);
        ("card_instalment", method, term, principal, 5 * rng.random_range(200..=360))
    };
    // 1.5 × the annual rate, rounded half-up to 4 places.
    let penalty_bp = (3 * rate_bp).div_ceil(2);
    let grace = rng.random_range(0..=3u32);
    let disbursed = ctx.as_of_day - rng.random_range(1..=3 * 365);
    let disbursed_on = date_of(disbursed);

    let loan = &mut s.loan;
    loan.currency = currency;
    loan.principal = Amount::from_minor(principal * 100);
    loan.annual_rate = ctx.rates[rate_bp as usize];
    loan.term_months = term;
    loan.disbursed_on = disbursed_on;
    loan.method = method;
    loan.penalty_rate = ctx.rates[penalty_bp as usize];
    loan.grace_days = grace;
    let sched = schedule::generate(loan).map_err(|source| SimError::Schedule { loan_no, source })?;

    let l = &mut out.loans;
    push_id(l, "L", loan_no, ctx.id_width);
    l.push_str(",");
    push_id(l, "B", borrower_no, ctx.id_width);
    l.push_str(",");
    l.push_str(product);
    l.push_str(",");
    l.push_str(currency.code());
    l.push_str(",");
    push_amount(l, loan.principal.minor(), currency);
    l.push_str(",");
    push_rate_bp(l, rate_bp);
    l.push_str(",");
    push_uint(l, u64::from(term));
    l.push_str(",");
    push_date(l, disbursed_on);
    l.push_str(",");
    l.push_str(method.as_str());
    l.push_str(",");
    push_rate_bp(l, penalty_bp);
    l.push_str(",");
    push_uint(l, u64::from(grace));
    l.push_str("\n");
    out.counts.loans += 1;

    s.dues.clear();
    s.dues.extend(sched.iter().map(|i| Due {
        day: i.due_on.num_days_from_ce(),
        total: i.total().minor(),
        principal: i.principal.minor(),
    }));
    s.pays.clear();
    let terms = Terms { grace_days: grace as i32, penalty_bp: i64::from(penalty_bp) };
    let episode = simulate(rng, behaviour, &s.dues, &terms, ctx.as_of_day, &mut s.pays);
    let mut event = None;
    if let Some(episode) = episode {
        s.id.clear();
        push_id(&mut s.id, "A", loan_no, ctx.id_width);
        let asked = arrange(asks, &s.loan, &sched, &s.rules, episode, ctx.as_of_day, &s.id, &mut s.pays);
        if let Some((asked, approved)) = asked {
            write_arrangement(ctx, out, &asked, &s.id, loan_no, currency);
            event = approved;
        }
    }

    let channel = usual_channel(rng, shape.chinese);
    for (k, p) in s.pays.iter().enumerate() {
        let w = &mut out.payments;
        w.push_str("P");
        push_padded(w, loan_no, ctx.id_width);
        push_padded(w, k as u64 + 1, 3);
        w.push_str(",");
        push_id(w, "L", loan_no, ctx.id_width);
        w.push_str(",");
        push_date(w, date_of(p.day));
        w.push_str(",");
        push_amount(w, p.amount, currency);
        w.push_str(",");
        w.push_str(if p.collected { "agency" } else { channel });
        w.push_str("\n");
    }
    out.counts.payments += s.pays.len() as u64;

    if ctx.assess_every > 0 && loan_no.is_multiple_of(ctx.assess_every) {
        assess_loan(ctx, s, &sched, event.as_slice(), &mut out.counts);
    }
    Ok(principal)
}

/// Writes a loan's arrangement request (`id`) to `arrangements.csv`.
fn write_arrangement(ctx: &Ctx, out: &mut BlockOut, a: &Asked, id: &str, loan_no: u64, currency: Currency) {
    let w = &mut out.arrangements;
    w.push_str(id);
    w.push_str(",");
    push_id(w, "L", loan_no, ctx.id_width);
    w.push_str(",");
    w.push_str(a.kind.as_str());
    w.push_str(",");
    if let Some(m) = a.months {
        push_uint(w, u64::from(m));
    }
    w.push_str(",");
    if let Some(minor) = a.amount {
        push_amount(w, minor, currency);
    }
    w.push_str(",");
    push_date(w, date_of(a.requested));
    w.push_str(",");
    w.push_str(a.requested_by);
    w.push_str(",");
    w.push_str(a.decision.status());
    w.push_str(",");
    match a.decision {
        Decision::Requested => w.push_str(","),
        Decision::Declined(day) | Decision::Approved(day) => {
            push_date(w, date_of(day));
            w.push_str(",");
            w.push_str(APPROVER);
        }
    }
    w.push_str("\n");
    out.counts.arrangements += 1;
}

/// The channel a borrower usually pays through.
fn usual_channel(rng: &mut ChaCha8Rng, chinese: bool) -> &'static str {
    if chinese {
        match rng.random_range(0..100) {
            0..50 => "auto_debit",
            50..70 => "bank_transfer",
            70..85 => "alipay",
            _ => "wechat_pay",
        }
    } else {
        match rng.random_range(0..100) {
            0..60 => "ach",
            60..85 => "card",
            _ => "check",
        }
    }
}

/// Replays the loan with core's ledger and counts its bucket if active.
fn assess_loan(ctx: &Ctx, s: &Scratch, sched: &[Installment], events: &[LedgerEvent], counts: &mut Counts) {
    let payments = as_payments(&s.loan, &s.pays);
    let pos = replay_with(&s.loan, sched, &payments, events, ctx.as_of, &Waterfall::default());
    let d = assess(&pos, s.loan.disbursed_on, &s.rules);
    counts.assessed += 1;
    if d.status == LoanStatus::Active {
        counts.active += 1;
        counts.by_bucket[d.bucket_index.min(BUCKETS - 1)] += 1;
    }
}

/// Writes 2–4 yearly statements ending Dec 31 before the as-of date, some of a firm in decline.
fn write_financials(
    ctx: &Ctx,
    rng: &mut ChaCha8Rng,
    out: &mut BlockOut,
    currency: Currency,
    borrower_no: u64,
    principal: i64,
) {
    let periods = rng.random_range(2..=4);
    let last_year = ctx.as_of.year() - 1;
    let declining = pct(rng, 25);
    // Figures in whole major units; scaled per mille so no floating point is involved.
    let mut assets = principal.max(100_000) * rng.random_range(2..=12);
    let mut leverage: i64 = if declining { rng.random_range(550..=750) } else { rng.random_range(300..=650) };
    let mut turnover: i64 = rng.random_range(600..=1800);
    let mut margin: i64 = if declining { rng.random_range(10..=60) } else { rng.random_range(30..=120) };
    for k in 0..periods {
        let year = last_year - periods + 1 + k;
        let liabilities = assets * leverage / 1000;
        let current_assets = assets * rng.random_range(300..=700) / 1000;
        let inventory = current_assets * rng.random_range(100..=500) / 1000;
        let current_liabilities = liabilities * rng.random_range(400..=800) / 1000;
        let revenue = assets * turnover / 1000;
        let net_income = revenue * margin / 1000;
        let cash_flow =
            net_income * rng.random_range(600..=1400) / 1000 + revenue * rng.random_range(-30..=30) / 1000;
        let f = &mut out.financials;
        push_id(f, "B", borrower_no, ctx.id_width);
        f.push_str(",");
        push_date(f, NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(NaiveDate::MIN));
        for v in [
            current_assets,
            current_liabilities,
            inventory,
            assets,
            liabilities,
            revenue,
            net_income,
            cash_flow,
        ] {
            f.push_str(",");
            push_amount(f, v * 100, currency);
        }
        f.push_str("\n");
        out.counts.financial_rows += 1;
        // Next year: healthy firms grow; declining ones shrink, borrow more and lose money.
        if declining {
            assets = assets * rng.random_range(850..=1020) / 1000;
            leverage = (leverage + rng.random_range(50..=120)).min(1100);
            turnover = turnover * rng.random_range(780..=950) / 1000;
            margin -= rng.random_range(30..=60);
        } else {
            assets = assets * rng.random_range(1000..=1150) / 1000;
            leverage = (leverage + rng.random_range(-30..=30)).clamp(200, 750);
            turnover = turnover * rng.random_range(950..=1080) / 1000;
            margin = (margin + rng.random_range(-15..=15)).clamp(-20, 150);
        }
    }
}
