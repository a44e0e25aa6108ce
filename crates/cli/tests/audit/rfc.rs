//! RFC 6962 section 2.1 written from its definitions only (MTH, PATH, PROOF, SUBPROOF),
//! sharing no code with arrears but `sha2`: the reference the binary's proofs must match.

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type H = [u8; 32];

/// MTH({}) = SHA-256(); MTH({d0}) = SHA-256(0x00 || d0);
/// MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])), k the largest power of 2 < n.
pub fn mth(d: &[Vec<u8>]) -> H {
    match d.len() {
        0 => Sha256::digest([]).into(),
        1 => {
            let mut h = Sha256::new();
            h.update([0u8]);
            h.update(&d[0]);
            h.finalize().into()
        }
        n => {
            let k = k_of(n);
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(mth(&d[..k]));
            h.update(mth(&d[k..]));
            h.finalize().into()
        }
    }
}

/// "k be the largest power of two smaller than n (i.e., k < n <= 2k)", by counting.
fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// PATH(m, D[n]): empty for n = 1; else PATH(m, D[0:k]) : MTH(D[k:n]) for m < k,
/// PATH(m - k, D[k:n]) : MTH(D[0:k]) for m >= k.
pub fn path(m: usize, d: &[Vec<u8>]) -> Vec<H> {
    let n = d.len();
    if n == 1 {
        return vec![];
    }
    let k = k_of(n);
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

/// PROOF(m, D[n]) = SUBPROOF(m, D[n], true).
pub fn proof(m: usize, d: &[Vec<u8>]) -> Vec<H> {
    subproof(m, d, true)
}

/// SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])};
/// for m <= k: SUBPROOF(m, D[0:k], b) : MTH(D[k:n]);
/// for m > k: SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]).
fn subproof(m: usize, d: &[Vec<u8>], b: bool) -> Vec<H> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}
