//! An independent, deliberately naive implementation of RFC 6962 section 2.1, written from
//! the RFC's definitions only (MTH, PATH, PROOF, SUBPROOF) and sharing no code with the
//! crate but `sha2`. It cross-checks the production tree, which answers from stored
//! complete subtrees, and the production verifiers, which follow RFC 9162's iterative
//! algorithms: two different readings of the RFC have to agree.

use arrears_audit::{MemoryStore, MerkleLog, verify_consistency, verify_inclusion};
use sha2::{Digest, Sha256};

type H = [u8; 32];

/// MTH({}) = SHA-256(); MTH({d0}) = SHA-256(0x00 || d0);
/// MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])), k the largest power of 2 < n.
fn mth(d: &[Vec<u8>]) -> H {
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
fn path(m: usize, d: &[Vec<u8>]) -> Vec<H> {
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
fn proof(m: usize, d: &[Vec<u8>]) -> Vec<H> {
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

fn data(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("leaf #{i}").into_bytes()).collect()
}

fn build(d: &[Vec<u8>]) -> MerkleLog<MemoryStore> {
    let mut log = MerkleLog::new(MemoryStore::new());
    for leaf in d {
        log.append(arrears_audit::leaf_hash(leaf)).unwrap();
    }
    log
}

fn check_pair(log: &MerkleLog<MemoryStore>, d: &[Vec<u8>], m: usize, n: usize) {
    let root_n = mth(&d[..n]);
    if m < n {
        let want = path(m, &d[..n]);
        let got = log.inclusion_proof(m as u64, n as u64).unwrap();
        assert_eq!(got, want, "inclusion proof of leaf {m} in tree {n}");
        verify_inclusion(m as u64, n as u64, &mth(&d[m..m + 1]), &got, &root_n)
            .unwrap_or_else(|e| panic!("leaf {m} of {n}: {e}"));
    }
    if m <= n {
        // RFC 6962 defines PROOF for 0 < m < n; m = 0 and m = n need no hashes.
        let want = if m == 0 || m == n { vec![] } else { proof(m, &d[..n]) };
        let got = log.consistency_proof(m as u64, n as u64).unwrap();
        assert_eq!(got, want, "consistency proof {m} -> {n}");
        verify_consistency(m as u64, n as u64, &mth(&d[..m]), &root_n, &got)
            .unwrap_or_else(|e| panic!("consistency {m} -> {n}: {e}"));
    }
}

#[test]
fn every_pair_up_to_64() {
    let d = data(64);
    let log = build(&d);
    for n in 0..=64 {
        assert_eq!(log.root_at(n as u64).unwrap(), mth(&d[..n]), "root of {n}");
        for m in 0..=n {
            check_pair(&log, &d, m, n);
        }
    }
}

#[test]
fn random_larger_sizes() {
    // A fixed xorshift so a failure reproduces; no need for a rand dependency.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let d = data(1200);
    let log = build(&d);
    for _ in 0..30 {
        let n = 65 + next(1200 - 65);
        assert_eq!(log.root_at(n as u64).unwrap(), mth(&d[..n]), "root of {n}");
        for _ in 0..3 {
            let m = next(n + 1);
            check_pair(&log, &d, m, n);
        }
        check_pair(&log, &d, n - 1, n);
        check_pair(&log, &d, 1, n);
    }
}

#[test]
fn the_split_is_the_rfcs_not_the_midpoint() {
    // For n = 6 a midpoint split (3 + 3) gives a different root than the RFC's (4 + 2).
    let d = data(6);
    let mid = {
        let l = mth(&d[..3]);
        let r = mth(&d[3..]);
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(l);
        h.update(r);
        <H>::from(h.finalize())
    };
    let root = build(&d).root();
    assert_eq!(root, mth(&d));
    assert_ne!(root, mid);
}
