//! What both daemons' configuration checks share: a problem found in a
//! YAML file with the field's path and line, the path steps, the line
//! locator, and the checker that collects errors and warnings. One
//! locator, so `mip6-ha check` and `mip6-mn check` point at lines the same
//! way.

use std::fmt;
use std::path::PathBuf;

/// A configuration problem: the file when known, the field, its line when
/// known, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: Option<PathBuf>,
    /// The field's path, e.g. `interfaces[1].iid_mode`; empty for the
    /// document as a whole.
    pub field: String,
    /// 1-based line of the field in the file, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some(l) = self.line {
                write!(f, ":{l}")?;
            }
            write!(f, ": ")?;
        } else if let Some(l) = self.line {
            write!(f, "line {l}: ")?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(&'static str),
    Index(usize),
}

/// `a.b[2].c` for the path `[Key(a), Key(b), Index(2), Key(c)]`.
pub fn path_text(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Finds the line (1-based) of a field in block-style YAML, or of its
/// nearest ancestor the text shows (a field left to its default has no line
/// of its own): good enough for error messages, `None` for flow style or a
/// missing top-level field.
pub fn locate(text: &str, path: &[Seg]) -> Option<usize> {
    // Logical entries (line, indent, text); "- key: v" is split into a
    // "-" entry and a "key: v" entry two columns deeper.
    let mut entries: Vec<(usize, usize, &str)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.is_empty() || t.starts_with('#') || t.starts_with("---") {
            continue;
        }
        let indent = line.len() - t.len();
        if t == "-" || t.starts_with("- ") {
            entries.push((n + 1, indent, "-"));
            let rest = t[1..].trim_start();
            if !rest.is_empty() && !rest.starts_with('#') {
                let extra = t.len() - rest.len();
                entries.push((n + 1, indent + extra, rest));
            }
        } else {
            entries.push((n + 1, indent, t));
        }
    }
    let mut pos = 0;
    let mut parent: isize = -1;
    // Whether the node is a key's value, whose block sequence may sit at
    // the key's own indentation ("list:\n- a").
    let mut under_key = false;
    let mut found = None;
    for seg in path {
        let mut child = None;
        let mut count = 0;
        let mut hit = None;
        for (j, &(_, ind, t)) in entries.iter().enumerate().skip(pos) {
            let ind_i = isize::try_from(ind).unwrap_or(isize::MAX);
            if ind_i < parent || (ind_i == parent && !(under_key && t == "-")) {
                break;
            }
            let ci = *child.get_or_insert(ind);
            if ind != ci {
                continue;
            }
            match seg {
                Seg::Key(k) => {
                    let key = t.split(':').next().unwrap_or("").trim();
                    let key = key.trim_matches(|c| c == '"' || c == '\'');
                    if t.contains(':') && key == *k {
                        hit = Some(j);
                        break;
                    }
                }
                Seg::Index(n) => {
                    if t == "-" {
                        if count == *n {
                            hit = Some(j);
                            break;
                        }
                        count += 1;
                    }
                }
            }
        }
        let Some(j) = hit else {
            return found;
        };
        found = Some(entries[j].0);
        parent = isize::try_from(entries[j].1).unwrap_or(isize::MAX);
        under_key = matches!(seg, Seg::Key(_));
        pos = j + 1;
    }
    found
}

/// Collects a check's errors and warnings with their lines in `text`.
#[derive(Debug)]
pub struct Checker<'a> {
    text: &'a str,
    pub errors: Vec<ConfigError>,
    /// Things that work but should change (a deprecated name).
    pub warnings: Vec<ConfigError>,
}

impl<'a> Checker<'a> {
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub fn fail(&mut self, path: &[Seg], message: impl Into<String>) {
        let e = self.located(path, message.into());
        self.errors.push(e);
    }

    pub fn warn(&mut self, path: &[Seg], message: impl Into<String>) {
        let e = self.located(path, message.into());
        self.warnings.push(e);
    }

    fn located(&self, path: &[Seg], message: String) -> ConfigError {
        ConfigError {
            file: None,
            field: path_text(path),
            line: locate(self.text, path),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_handles_lists() {
        let text = "a: 1\nlist:\n  - x: 1\n    y: 2\n  - x: 3\n    # c\n    y: 4\nb: 2\n";
        use Seg::{Index, Key};
        assert_eq!(locate(text, &[Key("b")]), Some(8));
        assert_eq!(locate(text, &[Key("list"), Index(1), Key("y")]), Some(7));
        assert_eq!(locate(text, &[Key("list"), Index(0), Key("x")]), Some(3));
        assert_eq!(locate(text, &[Key("list"), Index(5)]), Some(2));
        assert_eq!(locate(text, &[Key("zzz")]), None);
        // A sequence at its key's own indentation, and the key after it.
        let text = "list:\n- x: 1\n- x: 2\n  y: 3\nb:\n- 4\n";
        assert_eq!(locate(text, &[Key("list"), Index(1), Key("y")]), Some(4));
        assert_eq!(locate(text, &[Key("list"), Index(2)]), Some(1));
        assert_eq!(locate(text, &[Key("b"), Index(0)]), Some(6));
    }

    #[test]
    fn display_names_file_line_and_field() {
        let mut e = ConfigError {
            file: None,
            field: "a.b".into(),
            line: Some(3),
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "line 3: a.b: bad");
        e.field.clear();
        assert_eq!(e.to_string(), "line 3: bad");
        e.line = None;
        assert_eq!(e.to_string(), "bad");
        e.file = Some("/etc/x.yaml".into());
        e.line = Some(4);
        assert_eq!(e.to_string(), "/etc/x.yaml:4: bad");
    }
}
