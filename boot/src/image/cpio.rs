//! A reproducible initramfs: a `newc` cpio archive written from a sorted
//! tree, every timestamp fixed, inode numbers in order.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub enum Node {
    Dir,
    /// A file copied from the build machine, with its mode.
    File {
        source: PathBuf,
        mode: u32,
    },
    Bytes {
        data: Vec<u8>,
        mode: u32,
    },
    Symlink(String),
    /// A character device (major, minor): `/dev/console` must exist before
    /// devtmpfs is mounted, for the kernel to give init its stdio.
    CharDevice(u32, u32),
}

/// The root file system, keyed by absolute path without the leading `/`.
#[derive(Debug, Default)]
pub struct Tree {
    nodes: BTreeMap<String, Node>,
}

impl Tree {
    /// Adds `path`, creating its parent directories.
    pub fn insert(&mut self, path: &str, node: Node) {
        let path = path.trim_start_matches('/').to_string();
        let mut parent = String::new();
        for part in path
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map(|(_, p)| p)
            .unwrap_or(&[])
        {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            self.nodes.entry(parent.clone()).or_insert(Node::Dir);
        }
        self.nodes.insert(path, node);
    }

    /// The sum of every file's size.
    pub fn content_bytes(&self) -> u64 {
        self.nodes
            .values()
            .map(|node| match node {
                Node::File { source, .. } => std::fs::metadata(source).map_or(0, |m| m.len()),
                Node::Bytes { data, .. } => data.len() as u64,
                _ => 0,
            })
            .sum()
    }

    /// Writes the archive; `mtime` stamps every entry.
    pub fn write_cpio(&self, out: &mut impl Write, mtime: u32) -> io::Result<()> {
        let mut written = 0u64;
        for (ino, (path, node)) in self.nodes.iter().enumerate() {
            let mut device = (0, 0);
            let (mode, data): (u32, Vec<u8>) = match node {
                Node::Dir => (0o040755, Vec::new()),
                Node::File { source, mode } => (
                    0o100000 | mode,
                    std::fs::read(source).map_err(|e| {
                        io::Error::new(e.kind(), format!("{}: {e}", source.display()))
                    })?,
                ),
                Node::Bytes { data, mode } => (0o100000 | mode, data.clone()),
                Node::Symlink(target) => (0o120777, target.as_bytes().to_vec()),
                Node::CharDevice(major, minor) => {
                    device = (*major, *minor);
                    (0o020600, Vec::new())
                }
            };
            let header = Header {
                ino: ino as u32 + 1,
                mode,
                mtime,
                device,
            };
            written += entry(out, &header, path, &data, written)?;
        }
        let trailer = Header {
            ino: 0,
            mode: 0,
            mtime: 0,
            device: (0, 0),
        };
        entry(out, &trailer, "TRAILER!!!", &[], written)?;
        Ok(())
    }
}

struct Header {
    ino: u32,
    mode: u32,
    mtime: u32,
    /// For device nodes: (major, minor).
    device: (u32, u32),
}

/// One entry; returns the bytes written (header, name and data, padded).
fn entry(
    out: &mut impl Write,
    h: &Header,
    name: &str,
    data: &[u8],
    offset: u64,
) -> io::Result<u64> {
    let (ino, mode, mtime) = (h.ino, h.mode, h.mtime);
    let name_size = name.len() + 1;
    let header = format!(
        "070701{ino:08x}{mode:08x}{uid:08x}{gid:08x}{nlink:08x}{mtime:08x}{size:08x}{maj:08x}{min:08x}{rmaj:08x}{rmin:08x}{namesize:08x}{check:08x}",
        uid = 0,
        gid = 0,
        nlink = if mode & 0o040000 != 0 { 2 } else { 1 },
        size = data.len(),
        maj = 0,
        min = 0,
        rmaj = h.device.0,
        rmin = h.device.1,
        namesize = name_size,
        check = 0,
    );
    let mut total = 0u64;
    out.write_all(header.as_bytes())?;
    out.write_all(name.as_bytes())?;
    out.write_all(&[0])?;
    total += (header.len() + name_size) as u64;
    total += pad(out, offset + total)?;
    out.write_all(data)?;
    total += data.len() as u64;
    total += pad(out, offset + total)?;
    Ok(total)
}

fn pad(out: &mut impl Write, at: u64) -> io::Result<u64> {
    let padding = (4 - at % 4) % 4;
    out.write_all(&[0u8; 3][..padding as usize])?;
    Ok(padding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_is_deterministic_and_aligned() {
        let mut tree = Tree::default();
        tree.insert(
            "/usr/bin/hello",
            Node::Bytes {
                data: b"hi\n".to_vec(),
                mode: 0o755,
            },
        );
        tree.insert("/init", Node::Symlink("/usr/bin/hello".into()));
        let mut first = Vec::new();
        tree.write_cpio(&mut first, 0).unwrap();
        let mut second = Vec::new();
        tree.write_cpio(&mut second, 0).unwrap();
        assert_eq!(first, second);
        assert_eq!(first.len() % 4, 0);
        assert!(first.starts_with(b"070701"));
        let text = String::from_utf8_lossy(&first);
        for name in [
            "usr\0",
            "usr/bin\0",
            "usr/bin/hello\0",
            "init\0",
            "TRAILER!!!\0",
        ] {
            assert!(text.contains(name), "{name}");
        }
    }
}
