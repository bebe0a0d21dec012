//! The kernel command line's `digios.*` keys: unattended defaults for first
//! boot and settings a boot loader entry can carry.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelCmdline {
    keys: BTreeMap<String, String>,
}

pub const PREFIX: &str = "digios.";

impl KernelCmdline {
    /// `/proc/cmdline`, or empty when it cannot be read (hosted).
    pub fn current() -> Self {
        Self::parse(&std::fs::read_to_string("/proc/cmdline").unwrap_or_default())
    }

    /// Words are separated by spaces; double quotes group a value with spaces.
    pub fn parse(text: &str) -> Self {
        let mut keys = BTreeMap::new();
        let mut word = String::new();
        let mut quoted = false;
        let mut words = Vec::new();
        for c in text.trim().chars() {
            match c {
                '"' => quoted = !quoted,
                c if c.is_whitespace() && !quoted => {
                    if !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                }
                c => word.push(c),
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
        for word in words {
            if let Some(rest) = word.strip_prefix(PREFIX) {
                let (key, value) = rest.split_once('=').unwrap_or((rest, "1"));
                keys.insert(key.to_string(), value.to_string());
            }
        }
        Self { keys }
    }

    /// The value of `digios.<key>`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.keys.get(key).map(String::as_str)
    }

    pub fn flag(&self, key: &str) -> Option<bool> {
        self.get(key)
            .map(|v| matches!(v, "1" | "yes" | "on" | "true"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digios_keys_are_read_and_others_ignored() {
        let line = KernelCmdline::parse(
            "BOOT_IMAGE=/vmlinuz quiet digios.hostname=desk digios.voice=off \
             digios.model_url=\"http://10.0.2.2:8000/a b.gguf\" digios.unattended",
        );
        assert_eq!(line.get("hostname"), Some("desk"));
        assert_eq!(line.flag("voice"), Some(false));
        assert_eq!(line.get("model_url"), Some("http://10.0.2.2:8000/a b.gguf"));
        assert_eq!(line.flag("unattended"), Some(true));
        assert_eq!(line.get("quiet"), None);
    }
}
