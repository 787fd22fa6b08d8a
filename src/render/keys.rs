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

/// The SSH key pair `pbx-cluster` uses to reach the other node (ed25519; the
/// peer's authorized_keys forces it to `pbx-cluster peer`). Derived from the
/// secret like the other keys: both nodes hold it from the same profile, with no
/// key exchange before the nodes can talk. Returns (private key in OpenSSH's own
/// format, public key as an authorized_keys key: "ssh-ed25519 BASE64").
pub fn peer_ssh_keypair(secret: &Secret) -> (String, String) {
    use base64::Engine;
    let seed: [u8; 32] = derive(secret, "peer-ssh-ed25519", 32)
        .try_into()
        .expect("32 bytes");
    let public = ed25519_dalek::SigningKey::from_bytes(&seed)
        .verifying_key()
        .to_bytes();
    let key_type = b"ssh-ed25519";
    let mut public_blob = Vec::new();
    ssh_string(&mut public_blob, key_type);
    ssh_string(&mut public_blob, &public);
    // PROTOCOL.key: "openssh-key-v1", no cipher, no KDF, one key; the private
    // section starts with a check number twice (random in ssh-keygen, derived
    // here so renders stay byte-identical) and is padded to the block size 8.
    let check = derive(secret, "peer-ssh-check", 4);
    let mut private = Vec::new();
    private.extend_from_slice(&check);
    private.extend_from_slice(&check);
    ssh_string(&mut private, key_type);
    ssh_string(&mut private, &public);
    let mut pair = seed.to_vec();
    pair.extend_from_slice(&public);
    ssh_string(&mut private, &pair);
    ssh_string(&mut private, b"pbx-cluster-peer");
    let mut pad = 1u8;
    while private.len() % 8 != 0 {
        private.push(pad);
        pad += 1;
    }
    let mut blob = b"openssh-key-v1\0".to_vec();
    ssh_string(&mut blob, b"none");
    ssh_string(&mut blob, b"none");
    ssh_string(&mut blob, b"");
    blob.extend_from_slice(&1u32.to_be_bytes());
    ssh_string(&mut blob, &public_blob);
    ssh_string(&mut blob, &private);
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = b64.encode(&blob);
    let mut pem = String::from("-----BEGIN OPENSSH PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(70) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END OPENSSH PRIVATE KEY-----\n");
    (pem, format!("ssh-ed25519 {}", b64.encode(&public_blob)))
}

/// An SSH wire-format string: its length (u32, big-endian), then its bytes.
fn ssh_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_ssh_key_is_one_openssh_reads_and_follows_the_secret() {
        let a = Secret::new("a-long-enough-secret-1");
        let (private, public) = peer_ssh_keypair(&a);
        assert_eq!(peer_ssh_keypair(&a), (private.clone(), public.clone()));
        assert_ne!(
            peer_ssh_keypair(&Secret::new("a-long-enough-secret-2")).1,
            public
        );
        assert!(public.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"));
        // OpenSSH itself: the public half it computes from the private file is ours.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        crate::fsutil::write_atomic(&path, private.as_bytes(), 0o600).unwrap();
        let out = std::process::Command::new("ssh-keygen")
            .arg("-y")
            .arg("-f")
            .arg(&path)
            .output()
            .expect("ssh-keygen (openssh-client) is installed");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let derived = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            derived
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" "),
            public
        );
    }

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
