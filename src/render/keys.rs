//! Keys derived from the cluster secret, so that both nodes render the same bytes
//! from the same profile without copying key files between them.

use sha2::{Digest, Sha256};

use crate::model::Secret;

/// `len` bytes derived from the secret for one purpose (`label`): SHA-256 in
/// counter mode over label, secret and block number. Distinct labels give
/// unrelated keys, so one leaked file does not reveal the others.
pub fn derive(secret: &Secret, label: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut block: u32 = 0;
    while out.len() < len {
        let mut h = Sha256::new();
        h.update(b"pbx-cluster\0");
        h.update(label.as_bytes());
        h.update([0]);
        h.update(secret.expose().as_bytes());
        h.update(block.to_be_bytes());
        out.extend_from_slice(&h.finalize());
        block += 1;
    }
    out.truncate(len);
    out
}

/// Corosync's authkey: 256 bytes, as corosync-keygen makes them.
pub fn corosync_authkey(secret: &Secret) -> Vec<u8> {
    derive(secret, "corosync-authkey", 256)
}

/// DRBD's peer-authentication secret (drbd.conf allows at most 64 characters).
pub fn drbd_shared_secret(secret: &Secret) -> String {
    hex::encode(derive(secret, "drbd-shared-secret", 16))
}

/// DUNDi's key pair, shared by both nodes (DUNDi peers authenticate each other
/// with RSA; astgenkey would make a different pair on each node, and the nodes
/// have no channel to swap public keys). Derived from the secret: a ChaCha RNG
/// seeded from it drives the key generation, so both nodes get the same pair.
/// Returns (private key as PKCS#1 PEM, public key as SubjectPublicKeyInfo PEM),
/// the forms Asterisk's res_crypto reads (mode::load_balanced::DUNDI_KEY_DIR).
pub fn dundi_keypair(secret: &Secret) -> (String, String) {
    use rand_chacha::rand_core::SeedableRng;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    let seed: [u8; 32] = derive(secret, "dundi-rsa-seed", 32)
        .try_into()
        .expect("32 bytes");
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(seed);
    // 1024 bits: what astgenkey makes and every Asterisk reads.
    let key = rsa::RsaPrivateKey::new(&mut rng, 1024).expect("RSA key generation");
    let private = key
        .to_pkcs1_pem(LineEnding::LF)
        .expect("PEM encoding")
        .to_string();
    let public = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("PEM encoding");
    (private, public)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_depend_on_secret_and_label() {
        let a = Secret::new("a-long-enough-secret-1");
        let b = Secret::new("a-long-enough-secret-2");
        assert_eq!(corosync_authkey(&a), corosync_authkey(&a));
        assert_ne!(corosync_authkey(&a), corosync_authkey(&b));
        assert_eq!(corosync_authkey(&a).len(), 256);
        assert_ne!(derive(&a, "x", 32), derive(&a, "y", 32));
        let s = drbd_shared_secret(&a);
        assert_eq!(s.len(), 32);
        assert!(!s.contains("a-long-enough"));
    }
}
