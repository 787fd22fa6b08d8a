//! The `Release` file of a suite: what it holds and the SHA256 of every index.

use sha2::{Digest, Sha256};

/// `dists/<suite>/Release` (Debian Repository Format, "Release files").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub suite: String,
    pub architectures: Vec<String>,
    /// Seconds since the epoch; `SOURCE_DATE_EPOCH` when set, for reproducible bytes.
    pub date: u64,
    /// Paths relative to `dists/<suite>/` with their contents, sorted by path.
    files: Vec<(String, u64, String)>,
}

impl Release {
    pub fn new(suite: &str, architectures: Vec<String>, date: u64) -> Release {
        Release {
            suite: suite.to_string(),
            architectures,
            date,
            files: Vec::new(),
        }
    }

    /// Lists an index file; `path` is relative to `dists/<suite>/`.
    pub fn add_file(&mut self, path: &str, bytes: &[u8]) {
        self.files.push((
            path.to_string(),
            bytes.len() as u64,
            hex::encode(Sha256::digest(bytes)),
        ));
        self.files.sort();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Suite and Codename are the same name: apt checks that the one named in
        // sources.list matches either (apt-secure(8)).
        for (k, v) in [
            ("Origin", "pbx-cluster"),
            ("Label", "pbx-cluster"),
            ("Suite", self.suite.as_str()),
            ("Codename", self.suite.as_str()),
        ] {
            out.push_str(&format!("{k}: {v}\n"));
        }
        out.push_str(&format!("Date: {}\n", rfc2822_date(self.date)));
        out.push_str(&format!(
            "Architectures: {}\n",
            self.architectures.join(" ")
        ));
        out.push_str(&format!("Components: {}\n", super::COMPONENT));
        out.push_str("Description: pbx-cluster packages\n");
        out.push_str("SHA256:\n");
        let width = self
            .files
            .iter()
            .map(|(_, size, _)| size.to_string().len())
            .max()
            .unwrap_or(0);
        for (path, size, sha) in &self.files {
            out.push_str(&format!(" {sha} {size:>width$} {path}\n"));
        }
        out
    }
}

/// The per-index `Release` file apt reads beside a `Packages` index.
pub fn component_release(suite: &str, arch: &str) -> String {
    format!(
        "Archive: {suite}\nOrigin: pbx-cluster\nLabel: pbx-cluster\nComponent: {}\nArchitecture: {arch}\n",
        super::COMPONENT
    )
}

/// A UTC date as the Release file's Date field wants it (RFC 2822, "UTC" zone),
/// e.g. `Thu, 01 Jan 1970 00:00:00 UTC`.
pub fn rfc2822_date(epoch: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = epoch / 86_400;
    let secs = epoch % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} UTC",
        DAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A UTC date as `YYYY-MM-DD` (for man page headers).
pub fn iso_date(epoch: u64) -> String {
    let (y, m, d) = civil_from_days((epoch / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_gnu_date() {
        // Values from `date -u -R -d @N` (with +0000 written as UTC).
        assert_eq!(rfc2822_date(0), "Thu, 01 Jan 1970 00:00:00 UTC");
        assert_eq!(rfc2822_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 UTC");
        assert_eq!(rfc2822_date(1_764_037_090), "Tue, 25 Nov 2025 02:18:10 UTC");
        assert_eq!(rfc2822_date(4_102_444_799), "Thu, 31 Dec 2099 23:59:59 UTC");
        assert_eq!(iso_date(951_782_400), "2000-02-29");
    }

    #[test]
    fn release_lists_sorted_files_with_aligned_sizes() {
        let mut r = Release::new("stable", vec!["amd64".into()], 0);
        r.add_file("main/binary-amd64/Packages", b"0123456789");
        r.add_file("main/binary-amd64/Packages.gz", b"x");
        let text = r.render();
        let expected_head = "Origin: pbx-cluster\nLabel: pbx-cluster\nSuite: stable\nCodename: stable\n\
Date: Thu, 01 Jan 1970 00:00:00 UTC\nArchitectures: amd64\nComponents: main\n\
Description: pbx-cluster packages\nSHA256:\n";
        assert!(text.starts_with(expected_head), "{text}");
        let lines: Vec<&str> = text.lines().skip(9).collect();
        assert_eq!(
            lines,
            [
                " 84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882 10 main/binary-amd64/Packages",
                " 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881  1 main/binary-amd64/Packages.gz",
            ]
        );
    }
}
