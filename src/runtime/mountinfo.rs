//! Is a path a mount point? Answered from /proc/self/mountinfo (proc(5)).
//!
//! Hand-written rather than a crate: the whole format we need is "field 5 is the
//! mount point, with space, tab, newline and backslash escaped as octal", and the
//! crates that parse mountinfo (procfs, ...) bring far more than that.

use std::path::{Path, PathBuf};

/// The mount points listed in a mountinfo text, unescaped.
pub fn mount_points(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape(field)))
        .collect()
}

/// True when `path` (absolute, as on the node) is listed as a mount point.
pub fn is_mounted(text: &str, path: &Path) -> bool {
    let want = normalize(path);
    mount_points(text).iter().any(|p| normalize(p) == want)
}

fn normalize(path: &Path) -> PathBuf {
    path.components().collect()
}

/// proc(5): "\040" for space and so on; any other backslash is kept as is.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|digits| {
            if bytes[i] != b'\\' || !digits.iter().all(|b| (b'0'..=b'7').contains(b)) {
                return None;
            }
            let value = digits
                .iter()
                .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
            u8::try_from(value).ok()
        });
        if let Some(value) = octal {
            out.push(value);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
36 22 147:0 / /mnt/share rw,noatime shared:2 - xfs /dev/drbd0 rw,attr2
37 22 0:40 / /srv/with\\040space rw - tmpfs tmpfs rw
";

    #[test]
    fn finds_mount_points_and_unescapes_octal() {
        assert!(is_mounted(SAMPLE, Path::new("/mnt/share")));
        assert!(is_mounted(SAMPLE, Path::new("/mnt/share/")));
        assert!(is_mounted(SAMPLE, Path::new("/srv/with space")));
        assert!(!is_mounted(SAMPLE, Path::new("/mnt")));
        assert!(!is_mounted(SAMPLE, Path::new("/mnt/share/etc")));
    }

    #[test]
    fn real_mountinfo_lists_root() {
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(is_mounted(&text, Path::new("/")));
    }
}
