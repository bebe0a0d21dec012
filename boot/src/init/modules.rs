//! Loading kernel modules from the image's module tree, the way modprobe
//! does: dependencies from `modules.dep` (first the last listed), drivers
//! for present hardware by matching each device's `modalias` against
//! `modules.alias` (coldplug), each file handed to `finit_module(2)`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no module named {0} in the module tree")]
    Unknown(String),
    #[error("loading {path}: {source}")]
    Load { path: PathBuf, source: nix::Error },
}

struct Alias {
    /// The pattern's text before its first wildcard: a cheap first test.
    prefix: String,
    pattern: String,
    module: String,
}

pub struct ModuleTree {
    dir: PathBuf,
    /// Module name → its file and its dependencies' files, as `modules.dep` lists them.
    deps: HashMap<String, (String, Vec<String>)>,
    /// (pattern, module name) from `modules.alias`.
    aliases: Vec<Alias>,
    builtin: HashSet<String>,
    /// Module name → names (or aliases) to load before it, from `modules.softdep`.
    softdeps: HashMap<String, Vec<String>>,
    loaded: HashSet<String>,
}

impl ModuleTree {
    /// `/lib/modules/<running kernel's release>`.
    pub fn for_running_kernel() -> Result<Self, ModuleError> {
        let release = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::open(&Path::new("/lib/modules").join(release))
    }

    pub fn open(dir: &Path) -> Result<Self, ModuleError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| ModuleError::Read { path, source })
        };
        let mut deps = HashMap::new();
        for line in read("modules.dep")?.lines() {
            let Some((file, rest)) = line.split_once(':') else {
                continue;
            };
            let list = rest.split_whitespace().map(String::from).collect();
            deps.insert(module_name(file), (file.to_string(), list));
        }
        let mut aliases = Vec::new();
        for line in read("modules.alias")?.lines() {
            let mut words = line.split_whitespace();
            if let (Some("alias"), Some(pattern), Some(module)) =
                (words.next(), words.next(), words.next())
            {
                let prefix = pattern
                    .split(['*', '?', '['])
                    .next()
                    .unwrap_or("")
                    .to_string();
                aliases.push(Alias {
                    prefix,
                    pattern: pattern.to_string(),
                    module: normalise(module),
                });
            }
        }
        let builtin = read("modules.builtin")
            .unwrap_or_default()
            .lines()
            .map(module_name)
            .collect();
        let mut softdeps = HashMap::new();
        for line in read("modules.softdep").unwrap_or_default().lines() {
            let mut words = line.split_whitespace();
            if let (Some("softdep"), Some(module)) = (words.next(), words.next()) {
                let mut pre = Vec::new();
                let mut in_pre = false;
                for word in words {
                    match word {
                        "pre:" => in_pre = true,
                        "post:" => in_pre = false,
                        name if in_pre => pre.push(name.to_string()),
                        _ => {}
                    }
                }
                softdeps.insert(normalise(module), pre);
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            deps,
            aliases,
            builtin,
            softdeps,
            loaded: HashSet::new(),
        })
    }

    /// Loads `name` and what it depends on. Built-in and already loaded
    /// modules are fine.
    pub fn load(&mut self, name: &str) -> Result<(), ModuleError> {
        let name = normalise(name);
        if self.builtin.contains(&name) || self.loaded.contains(&name) {
            return Ok(());
        }
        let (file, deps) = self
            .deps
            .get(&name)
            .cloned()
            .ok_or_else(|| ModuleError::Unknown(name.clone()))?;
        for dep in deps.iter().rev().chain(std::iter::once(&file)) {
            let dep_name = module_name(dep);
            if self.loaded.contains(&dep_name) {
                continue;
            }
            // Soft dependencies first (ext4 wants crc32c): best effort, like
            // modprobe. Taken out of the map, so a cycle cannot recurse.
            for pre in self.softdeps.remove(&dep_name).unwrap_or_default() {
                if let Err(err) = self.load_name_or_alias(&pre) {
                    tracing::debug!("soft dependency {pre} of {dep_name}: {err}");
                }
            }
            let start = std::time::Instant::now();
            insert(&self.dir.join(dep))?;
            tracing::debug!("loaded {dep_name} in {:?}", start.elapsed());
            self.loaded.insert(dep_name);
        }
        Ok(())
    }

    /// The modules whose alias patterns match `modalias`.
    pub fn matching(&self, modalias: &str) -> BTreeSet<String> {
        self.aliases
            .iter()
            .filter(|a| modalias.starts_with(&a.prefix))
            .filter(|a| glob_match(a.pattern.as_bytes(), modalias.as_bytes()))
            .map(|a| a.module.clone())
            .collect()
    }

    /// Loads drivers for every device in sysfs, again and again while new
    /// devices appear (a bus driver reveals the devices behind it). Returns
    /// the modules loaded.
    pub fn coldplug(&mut self) -> Vec<String> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut newly = Vec::new();
        for _round in 0..6 {
            let aliases: BTreeSet<String> = device_modaliases()
                .into_iter()
                .filter(|a| !seen.contains(a))
                .collect();
            if aliases.is_empty() {
                break;
            }
            for alias in &aliases {
                for module in self.matching(alias) {
                    if self.loaded.contains(&module) {
                        continue;
                    }
                    match self.load(&module) {
                        Ok(()) => newly.push(module),
                        // A driver may refuse a device it matched: not an error for boot.
                        Err(err) => tracing::debug!("{module} for {alias}: {err}"),
                    }
                }
            }
            seen.extend(aliases);
            // Devices behind a freshly bound bus appear asynchronously.
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        newly
    }
}

/// `modprobe` as the kernel runs it for `request_module` (`modprobe -q --
/// NAME`): NAME is a module or an alias (`fs-vfat`, `crypto-crc32c`,
/// `net-pf-10`). `/usr/bin/modprobe` in the image is `digios`.
pub fn modprobe_main() -> std::process::ExitCode {
    let names: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let Ok(mut tree) = ModuleTree::for_running_kernel() else {
        return std::process::ExitCode::FAILURE;
    };
    let mut failed = false;
    for name in names {
        if let Err(err) = tree.load_name_or_alias(&name) {
            eprintln!("modprobe: {err}");
            failed = true;
        }
    }
    if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

impl ModuleTree {
    /// Loads the module `name`, else every module `name` is an alias of.
    pub fn load_name_or_alias(&mut self, name: &str) -> Result<(), ModuleError> {
        let normalised = normalise(name);
        if self.deps.contains_key(&normalised) || self.builtin.contains(&normalised) {
            return self.load(&normalised);
        }
        let modules = self.matching(name);
        if modules.is_empty() {
            return Err(ModuleError::Unknown(name.to_string()));
        }
        let mut result = Ok(());
        for module in modules {
            if let Err(err) = self.load(&module) {
                result = Err(err);
            }
        }
        result
    }
}

fn insert(path: &Path) -> Result<(), ModuleError> {
    let file = std::fs::File::open(path).map_err(|source| ModuleError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    match nix::kmod::finit_module(file.as_fd(), c"", nix::kmod::ModuleInitFlags::empty()) {
        Ok(()) | Err(nix::Error::EEXIST) => Ok(()),
        Err(source) => Err(ModuleError::Load {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// `kernel/drivers/net/virtio_net.ko` → `virtio_net`.
fn module_name(file: &str) -> String {
    let base = file.rsplit('/').next().unwrap_or(file);
    let stem = base.split(".ko").next().unwrap_or(base);
    normalise(stem)
}

/// Module names treat `-` and `_` alike.
fn normalise(name: &str) -> String {
    name.replace('-', "_")
}

/// Every distinct `modalias` of the devices in sysfs.
fn device_modaliases() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let Ok(buses) = std::fs::read_dir("/sys/bus") else {
        return found;
    };
    for bus in buses.flatten() {
        let Ok(devices) = std::fs::read_dir(bus.path().join("devices")) else {
            continue;
        };
        for device in devices.flatten() {
            if let Ok(alias) = std::fs::read_to_string(device.path().join("modalias")) {
                let alias = alias.trim();
                if !alias.is_empty() {
                    found.insert(alias.to_string());
                }
            }
        }
    }
    found
}

/// fnmatch(3) without flags: `*`, `?` and `[...]` (with ranges and `!`/`^`).
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = class_match(&pattern[p..], text[t])
                        && matched
                    {
                        p += next;
                        t += 1;
                        continue;
                    }
                }
                c if c == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((star_p, star_t)) => {
                p = star_p + 1;
                t = star_t + 1;
                star = Some((star_p, star_t + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the bracket class at the start of `pattern`; returns
/// whether it matched and the class's length, or `None` if it is unterminated.
fn class_match(pattern: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(pattern.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < pattern.len() {
        if pattern[i] == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if i + 2 < pattern.len() && pattern[i + 1] == b'-' && pattern[i + 2] != b']' {
            if (pattern[i]..=pattern[i + 2]).contains(&c) {
                matched = true;
            }
            i += 3;
        } else {
            if pattern[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_fnmatch() {
        let m = |p: &str, t: &str| glob_match(p.as_bytes(), t.as_bytes());
        assert!(m(
            "pci:v00001AF4d00001000sv*sd*bc*sc*i*",
            "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00"
        ));
        assert!(m("virtio:d00000001v*", "virtio:d00000001v00001AF4"));
        assert!(!m("virtio:d00000002v*", "virtio:d00000001v00001AF4"));
        assert!(m(
            "usb:v*p*d*dc*dsc*dp*ic03isc*ip*in*",
            "usb:v0627p0001d0000dc00dsc00dp00ic03isc00ip00in00"
        ));
        assert!(m("a[0-9]c", "a5c"));
        assert!(!m("a[!0-9]c", "a5c"));
        assert!(m("*", ""));
        assert!(!m("a?", "a"));
    }

    #[test]
    fn module_names_come_from_paths() {
        assert_eq!(
            module_name("kernel/drivers/net/virtio_net.ko"),
            "virtio_net"
        );
        assert_eq!(
            module_name("kernel/sound/snd-hda-intel.ko.xz"),
            "snd_hda_intel"
        );
    }
}
