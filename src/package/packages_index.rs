//! The `Packages` index of one architecture: one stanza per .deb.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::Deb;

/// The stanzas of `dists/<suite>/main/binary-<arch>/Packages`, sorted by
/// package, version and architecture so the bytes depend only on the .debs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackagesIndex {
    pub arch: String,
    text: String,
}

impl PackagesIndex {
    /// The index for `arch`: its own packages and the `Architecture: all` ones,
    /// which apt looks for in every architecture's index.
    pub fn new(arch: &str, debs: &[Deb]) -> PackagesIndex {
        let mut chosen: Vec<&Deb> = debs
            .iter()
            .filter(|d| d.architecture() == arch || d.architecture() == "all")
            .collect();
        chosen.sort_by(|a, b| {
            (a.package(), a.version(), a.architecture()).cmp(&(
                b.package(),
                b.version(),
                b.architecture(),
            ))
        });
        let text = chosen
            .iter()
            .map(|d| stanza(d))
            .collect::<Vec<_>>()
            .join("\n");
        PackagesIndex {
            arch: arch.to_string(),
            text,
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// `Packages.gz`: gzip with no file name and mtime 0 (flate2's default
    /// header), so two builds give the same bytes.
    pub fn gzip(&self) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        enc.write_all(self.text.as_bytes())
            .expect("writing to a Vec cannot fail");
        enc.finish().expect("writing to a Vec cannot fail")
    }
}

/// The control fields plus where apt finds the file and how to check it
/// (Filename, Size, SHA256), placed before Description as dpkg-scanpackages does.
fn stanza(deb: &Deb) -> String {
    let mut c = deb.control.clone();
    c.insert_before("Description", "Filename", deb.pool_path());
    c.insert_before("Description", "Size", deb.size.to_string());
    c.insert_before("Description", "SHA256", deb.sha256.clone());
    c.to_string()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::package::Control;

    fn deb(name: &str, arch: &str) -> Deb {
        Deb {
            path: PathBuf::from(format!("{name}.deb")),
            control: Control::parse(&format!(
                "Package: {name}\nVersion: 1.0-1\nArchitecture: {arch}\nDescription: d\n long\n"
            ))
            .unwrap(),
            size: 10,
            sha256: "ab".repeat(32),
        }
    }

    #[test]
    fn index_holds_own_and_all_packages_sorted() {
        let debs = [
            deb("zeta", "amd64"),
            deb("alpha", "all"),
            deb("arm", "arm64"),
        ];
        let idx = PackagesIndex::new("amd64", &debs);
        let names: Vec<&str> = idx
            .text()
            .lines()
            .filter_map(|l| l.strip_prefix("Package: "))
            .collect();
        assert_eq!(names, ["alpha", "zeta"]);
        assert!(idx.text().contains(&format!(
            "Filename: pool/main/z/zeta/zeta_1.0-1_amd64.deb\nSize: 10\nSHA256: {}\nDescription: d\n long\n",
            "ab".repeat(32)
        )));
        // Stanzas are separated by exactly one blank line.
        assert_eq!(idx.text().matches("\n\n").count(), 1);
    }

    #[test]
    fn gzip_is_deterministic_and_round_trips() {
        use std::io::Read;
        let idx = PackagesIndex::new("amd64", &[deb("a", "amd64")]);
        assert_eq!(idx.gzip(), idx.gzip());
        let mut text = String::new();
        flate2::read::GzDecoder::new(&idx.gzip()[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, idx.text());
    }
}
