//! Recording folders that never overwrite: `<out_dir>/<UTC yyyymmddThhmmssZ>-<call id>/`,
//! created with create-new semantics; a clash gets a suffix (`-2`, `-3`, …), never a reuse.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// How many suffixes are tried before giving up.
const MAX_SUFFIX: u32 = 1_000;

/// `yyyymmddThhmmssZ` for `at`.
pub(crate) fn utc_stamp(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A call id (or any label) as one safe path component: `[A-Za-z0-9_-]`, at most 64 bytes.
pub(crate) fn safe_component(label: &str) -> String {
    let out: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    let out = out.trim_matches('-').to_string();
    if out.is_empty() { "call".into() } else { out }
}

/// Creates a new folder `<parent>/<stamp>-<label>` (or with a `-n` suffix when that exists) and
/// returns it. Never returns a folder that existed before.
pub(crate) fn create_call_dir(
    parent: &Path,
    at: SystemTime,
    label: &str,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(parent)?;
    let base = format!("{}-{}", utc_stamp(at), safe_component(label));
    for n in 1..=MAX_SUFFIX {
        let name = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let dir = parent.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("{MAX_SUFFIX} folders named {base} exist"),
    ))
}

/// `path` itself if nothing is there, else `stem-2.ext`, `stem-3.ext`, … (first free).
pub(crate) fn free_file_name(path: &Path) -> PathBuf {
    if !path.exists() {
        return path.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (2..)
        .map(|n| path.with_file_name(format!("{stem}-{n}{ext}")))
        .find(|p| !p.exists())
        .expect("an unbounded range finds a free name")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101T000000Z");
        // 2026-12-01T17:34:33Z
        let at = UNIX_EPOCH + Duration::from_secs(1_796_146_473);
        assert_eq!(utc_stamp(at), "20261201T173433Z");
        // A leap day.
        let at = UNIX_EPOCH + Duration::from_secs(1_709_164_800);
        assert_eq!(utc_stamp(at), "20240229T000000Z");
    }

    #[test]
    fn reports_keep_join_urls_without_their_passcode() {
        use crate::orchestrator::without_passcode;
        assert_eq!(
            without_passcode("https://teams.microsoft.com/meet/3131000001?p=sim123"),
            "https://teams.microsoft.com/meet/3131000001"
        );
        assert_eq!(
            without_passcode("https://teams.microsoft.com/meet/3?a=1&P=x&b=2"),
            "https://teams.microsoft.com/meet/3?a=1&b=2"
        );
        let long =
            "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0?context=%7b%7d";
        assert_eq!(without_passcode(long), long);
        assert_eq!(without_passcode("not a url"), "not a url");
    }

    #[test]
    fn folders_are_never_reused() {
        let root = std::env::temp_dir().join(format!("mediabot-folders-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let at = UNIX_EPOCH + Duration::from_secs(1_796_146_473);
        let a = create_call_dir(&root, at, "abc/../../etc").unwrap();
        let b = create_call_dir(&root, at, "abc/../../etc").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(&root) && b.starts_with(&root));
        assert_eq!(
            a.file_name().unwrap().to_string_lossy(),
            "20261201T173433Z-abc-------etc"
        );
        assert!(b.file_name().unwrap().to_string_lossy().ends_with("-2"));
        let long = create_call_dir(&root, at, &"x".repeat(10_000)).unwrap();
        assert!(long.file_name().unwrap().len() < 100);
        assert_eq!(safe_component("%%%"), "call");
        std::fs::write(a.join("f.wav"), b"1").unwrap();
        assert_eq!(free_file_name(&a.join("f.wav")), a.join("f-2.wav"));
        assert_eq!(free_file_name(&a.join("g.wav")), a.join("g.wav"));
        let _ = std::fs::remove_dir_all(&root);
    }
}
