//! One deb822 paragraph (deb-control(5)): ordered fields, multi-line values kept.

use std::fmt;

/// An ordered list of `Field: value` pairs. A multi-line value (Description)
/// keeps its continuation lines, each starting with a space, as deb822 writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Control {
    fields: Vec<(String, String)>,
}

impl Control {
    /// Parses the first paragraph of deb822 text; `None` on a line that is
    /// neither a field nor a continuation.
    pub fn parse(text: &str) -> Option<Control> {
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            if line.trim().is_empty() {
                if fields.is_empty() {
                    continue;
                }
                break;
            }
            if line.starts_with(' ') || line.starts_with('\t') {
                let (_, value) = fields.last_mut()?;
                value.push('\n');
                value.push_str(line);
                continue;
            }
            let (name, value) = line.split_once(':')?;
            if name.is_empty() || name.contains(char::is_whitespace) {
                return None;
            }
            fields.push((name.to_string(), value.trim().to_string()));
        }
        Some(Control { fields })
    }

    /// The value of a field; names compare case-insensitively, as deb822 says.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Sets a field, replacing it in place or appending it.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self
            .fields
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some((_, v)) => *v = value,
            None => self.fields.push((name.to_string(), value)),
        }
    }

    /// Inserts a field just before `before` (or at the end when that is absent).
    pub fn insert_before(&mut self, before: &str, name: &str, value: impl Into<String>) {
        let at = self
            .fields
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(before))
            .unwrap_or(self.fields.len());
        self.fields.insert(at, (name.to_string(), value.into()));
    }

    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl fmt::Display for Control {
    /// The paragraph without the blank line that separates it from the next.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in &self.fields {
            if value.starts_with('\n') {
                writeln!(f, "{name}:{value}")?;
            } else {
                writeln!(f, "{name}: {value}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Package: pbx-cluster\nVersion: 0.1.0-1\nArchitecture: amd64\n\
Description: HA Asterisk\n two nodes\n .\n one profile\n";

    #[test]
    fn parse_keeps_order_and_continuation_lines() {
        let c = Control::parse(SAMPLE).unwrap();
        let names: Vec<&str> = c.fields().map(|(n, _)| n).collect();
        assert_eq!(names, ["Package", "Version", "Architecture", "Description"]);
        assert_eq!(
            c.get("description").unwrap(),
            "HA Asterisk\n two nodes\n .\n one profile"
        );
        assert_eq!(c.to_string(), SAMPLE);
    }

    #[test]
    fn insert_before_and_set() {
        let mut c = Control::parse(SAMPLE).unwrap();
        c.insert_before("Description", "Size", "42");
        c.set("Version", "0.2.0-1");
        let text = c.to_string();
        assert!(text.contains("Version: 0.2.0-1\nArchitecture: amd64\nSize: 42\nDescription:"));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(Control::parse("no colon here\n"), None);
        assert_eq!(Control::parse(" continuation first\n"), None);
    }
}
