//! Success checks on real state: the compositor's window list and pixels,
//! and files under the task's home. Rust code, out of the improvement loop's reach.

use digios_ipc::{CaptureRequest, CaptureTarget, ImageFormat, Request, Response, Window};

use super::sandbox::Sandbox;
use super::suite::Check;

/// `Ok` when the check holds, else what was found instead.
pub async fn verify(check: &Check, sandbox: &Sandbox) -> Result<(), String> {
    match check {
        Check::Window {
            app_id,
            title_contains,
            focused,
            maximized,
            minimized,
            fullscreen,
        } => {
            let windows = windows(sandbox).await?;
            let matches = |w: &Window| {
                app_matches(w, app_id.as_deref())
                    && title_contains.as_deref().is_none_or(|t| {
                        w.title
                            .as_deref()
                            .is_some_and(|title| title.to_lowercase().contains(&t.to_lowercase()))
                    })
                    && focused.is_none_or(|v| w.focused == v)
                    && maximized.is_none_or(|v| w.maximized == v)
                    && minimized.is_none_or(|v| w.minimized == v)
                    && fullscreen.is_none_or(|v| w.fullscreen == v)
            };
            if windows.iter().any(matches) {
                Ok(())
            } else {
                Err(format!(
                    "no window matches {check:?}; open: {}",
                    describe(&windows)
                ))
            }
        }
        Check::WindowCount { app_id, count } => {
            let windows = windows(sandbox).await?;
            let found = windows
                .iter()
                .filter(|w| app_matches(w, app_id.as_deref()))
                .count();
            if found == *count {
                Ok(())
            } else {
                Err(format!(
                    "{found} window(s) of {} open, wanted {count}; open: {}",
                    app_id.as_deref().unwrap_or("any app"),
                    describe(&windows)
                ))
            }
        }
        Check::File {
            path,
            exists,
            contains,
            equals,
        } => {
            let full = sandbox.path(path);
            match (std::fs::read(&full), exists) {
                (Err(_), false) => Ok(()),
                (Ok(_), false) => Err(format!("{path} still exists")),
                (Err(err), true) => Err(format!("{path}: {err}")),
                (Ok(bytes), true) => {
                    let text = String::from_utf8_lossy(&bytes);
                    if let Some(wanted) = contains
                        && !text.contains(wanted.as_str())
                    {
                        return Err(format!("{path} holds {text:?}, not {wanted:?}"));
                    }
                    if let Some(wanted) = equals
                        && text != wanted.as_str()
                    {
                        return Err(format!("{path} holds {text:?}, wanted {wanted:?}"));
                    }
                    Ok(())
                }
            }
        }
        Check::Pixels { app_id, min_colors } => {
            let windows = windows(sandbox).await?;
            let Some(window) = windows.iter().find(|w| app_matches(w, Some(app_id))) else {
                return Err(format!("no {app_id} window to look at"));
            };
            let capture = Request::Capture(CaptureRequest {
                target: CaptureTarget::Window { id: window.id },
                format: ImageFormat::Rgba,
                ..CaptureRequest::default()
            });
            let image = match sandbox.desktop.request(capture).await {
                Ok(Response::Image(image)) => image,
                Ok(other) => return Err(format!("capture answered {other:?}")),
                Err(err) => return Err(format!("capture: {err}")),
            };
            let mut colors = std::collections::HashSet::new();
            for pixel in image.data.chunks_exact(4) {
                colors.insert([pixel[0], pixel[1], pixel[2]]);
                if colors.len() >= *min_colors {
                    return Ok(());
                }
            }
            Err(format!(
                "the {app_id} window shows {} colour(s), wanted {min_colors}",
                colors.len()
            ))
        }
    }
}

async fn windows(sandbox: &Sandbox) -> Result<Vec<Window>, String> {
    sandbox
        .desktop
        .windows()
        .await
        .map_err(|err| format!("window list: {err}"))
}

fn app_matches(window: &Window, app_id: Option<&str>) -> bool {
    app_id.is_none_or(|id| window.app_id.as_deref() == Some(id))
}

fn describe(windows: &[Window]) -> String {
    if windows.is_empty() {
        return "none".into();
    }
    windows
        .iter()
        .map(|w| {
            let mut flags = Vec::new();
            for (on, name) in [
                (w.focused, "focused"),
                (w.maximized, "maximized"),
                (w.minimized, "minimized"),
                (w.fullscreen, "fullscreen"),
            ] {
                if on {
                    flags.push(name);
                }
            }
            format!(
                "{} {:?} [{}]",
                w.app_id.as_deref().unwrap_or("?"),
                w.title.as_deref().unwrap_or(""),
                flags.join(",")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
