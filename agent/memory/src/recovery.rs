//! Moving a damaged database aside without losing or overwriting anything.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

/// SQLite's companion files, moved with the database so the copy stays
/// readable and a fresh database never replays a stale log.
const COMPANIONS: [&str; 2] = ["-wal", "-shm"];

/// Renames `path` and its companions to `<name>.corrupt-<UTC time>[-N]`
/// (companions keep their suffix after that name), companions first so the
/// database itself moves last. Returns the database's new path.
pub(crate) fn move_aside(path: &Path) -> io::Result<PathBuf> {
    let sources: Vec<(PathBuf, &str)> = std::iter::once((path.to_path_buf(), ""))
        .chain(
            COMPANIONS
                .iter()
                .map(|suffix| (with_suffix(path, suffix), *suffix)),
        )
        .filter(|(source, _)| source.exists())
        .collect();
    if sources.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} does not exist", path.display()),
        ));
    }

    let stamp = utc_stamp(std::time::SystemTime::now());
    let backup = (0u32..1000)
        .map(|n| {
            let tag = if n == 0 {
                format!(".corrupt-{stamp}")
            } else {
                format!(".corrupt-{stamp}-{n}")
            };
            with_suffix(path, &tag)
        })
        .find(|candidate| {
            std::iter::once("")
                .chain(COMPANIONS)
                .all(|suffix| !with_suffix(candidate, suffix).exists())
        })
        .ok_or_else(|| io::Error::new(io::ErrorKind::AlreadyExists, "no free backup name"))?;

    for (source, suffix) in sources.iter().rev() {
        std::fs::rename(source, with_suffix(&backup, suffix))?;
    }
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        // Make the renames themselves durable before a new file takes the name.
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(backup)
}

/// SQLite's file header starts with this.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// The fixed-size part of the header SQLite reads before anything else.
const HEADER_LEN: u64 = 100;

/// Looks at the files before SQLite does, so a file that is plainly not a
/// database is reported without SQLite touching it or its companions (on
/// close, SQLite may check-point and delete a `-wal` it was handed).
/// `Err` carries why the file cannot be a database.
pub(crate) fn preflight(path: &Path) -> Result<(), String> {
    use std::io::Read;

    let wal = with_suffix(path, "-wal");
    let len = match std::fs::metadata(path) {
        Ok(meta) => meta.len(),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            // A log without its database would be replayed into a new, empty file.
            return match std::fs::metadata(&wal) {
                Ok(meta) if meta.len() > 0 => Err(format!(
                    "the database file is missing but its write-ahead log {} is present",
                    wal.display()
                )),
                _ => Ok(()),
            };
        }
        Err(err) => return Err(format!("cannot inspect the file: {err}")),
    };
    if len == 0 {
        // SQLite treats an empty file as an empty database.
        return Ok(());
    }
    if len < HEADER_LEN {
        return Err(format!(
            "{len} bytes is shorter than an SQLite header ({HEADER_LEN} bytes)"
        ));
    }
    let mut header = [0u8; 18];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut header))
        .map_err(|err| format!("cannot read the header: {err}"))?;
    if &header[..16] != SQLITE_MAGIC {
        return Err("the file does not start with the SQLite header".into());
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        size => u32::from(size),
    };
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!("the header's page size {page_size} is invalid"));
    }
    if len < u64::from(page_size) {
        return Err(format!(
            "{len} bytes is shorter than one {page_size}-byte page"
        ));
    }
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// `YYYYMMDDTHHMMSSZ` for a time, in UTC.
fn utc_stamp(time: std::time::SystemTime) -> String {
    let secs = time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, day_secs) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        day_secs / 3600,
        day_secs % 3600 / 60,
        day_secs % 60
    )
}

/// Gregorian date of a day count since 1970-01-01 (proleptic calendar).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101T000000Z");
        // 2024-02-29 23:59:59 UTC, a leap day.
        let leap = UNIX_EPOCH + Duration::from_secs(1_709_251_199);
        assert_eq!(utc_stamp(leap), "20240229T235959Z");
        let later = UNIX_EPOCH + Duration::from_secs(1_764_077_000);
        assert_eq!(utc_stamp(later), "20251125T132320Z");
    }

    #[test]
    fn never_overwrites_an_earlier_backup() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("memory.db");
        std::fs::write(&db, b"first").unwrap();
        std::fs::write(with_suffix(&db, "-wal"), b"first wal").unwrap();
        let first = move_aside(&db).unwrap();
        std::fs::write(&db, b"second").unwrap();
        let second = move_aside(&db).unwrap();
        assert_ne!(first, second);
        assert_eq!(std::fs::read(&first).unwrap(), b"first");
        assert_eq!(
            std::fs::read(with_suffix(&first, "-wal")).unwrap(),
            b"first wal"
        );
        assert_eq!(std::fs::read(&second).unwrap(), b"second");
        assert!(!db.exists());
        assert!(move_aside(&db).is_err());
    }
}
