//! The compositor's state as protocol types.

use digios_ipc::{Error, Output, Rect, Window, WindowId};
use smithay::utils::{Logical, Rectangle};

use crate::state::State;

pub(crate) fn rect(rectangle: Rectangle<i32, Logical>) -> Rect {
    Rect::new(
        rectangle.loc.x,
        rectangle.loc.y,
        rectangle.size.w,
        rectangle.size.h,
    )
}

impl State {
    /// Every placed window, bottom of the stack first, minimized ones first of all.
    pub fn window_views(&self) -> Vec<Window> {
        let minimized = self
            .windows
            .windows
            .iter()
            .filter(|managed| managed.mapped && managed.minimized);
        let stacked = self.space.elements().filter_map(|window| {
            self.windows
                .windows
                .iter()
                .find(|managed| &managed.window == window)
        });
        minimized
            .chain(stacked)
            .filter(|managed| !managed.override_redirect)
            .map(|managed| {
                let (title, app_id) = managed.title_and_app_id();
                let pid = managed.pid(&self.display_handle);
                Window {
                    id: managed.id,
                    app_id,
                    title,
                    geometry: rect(managed.geometry()),
                    title_bar: managed.title_bar_rect().map(rect),
                    focused: self.windows.focused == Some(managed.id),
                    maximized: managed.maximized,
                    minimized: managed.minimized,
                    fullscreen: managed.fullscreen,
                    pid,
                    output: self.output_for_rect(managed.geometry()).map(|o| o.name()),
                }
            })
            .collect()
    }

    /// One listed window as `window_views` shows it.
    pub fn window_view(&self, id: WindowId) -> Result<Window, Error> {
        self.window_views()
            .into_iter()
            .find(|window| window.id == id)
            .ok_or_else(|| Error::unknown_window(id))
    }

    pub fn output_views(&self) -> Vec<Output> {
        self.space
            .outputs()
            .map(|output| {
                let logical = self.space.output_geometry(output).unwrap_or_default();
                let mode = output.current_mode();
                Output {
                    name: output.name(),
                    logical: rect(logical),
                    width: mode.map(|mode| mode.size.w).unwrap_or(0),
                    height: mode.map(|mode| mode.size.h).unwrap_or(0),
                    refresh_mhz: mode.map(|mode| mode.refresh).unwrap_or(0),
                    scale: output.current_scale().fractional_scale(),
                }
            })
            .collect()
    }
}
