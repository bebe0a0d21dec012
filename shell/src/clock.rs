//! The panel's clock: local time to the minute.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `HH:MM` in local time.
pub fn now_text() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as libc::time_t;
    // SAFETY: localtime_r writes only into `tm`, which lives on this stack.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    if ok {
        format!("{:02}:{:02}", tm.tm_hour, tm.tm_min)
    } else {
        let day = secs.rem_euclid(86_400);
        format!("{:02}:{:02}", day / 3600, day % 3600 / 60)
    }
}

/// Time until the minute changes, so the clock redraws once a minute.
pub fn until_next_minute() -> Duration {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let into_minute = Duration::from_millis((since.as_millis() % 60_000) as u64);
    Duration::from_secs(60) - into_minute + Duration::from_millis(5)
}
