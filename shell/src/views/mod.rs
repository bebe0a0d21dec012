//! The shell's views: plain egui code over [`Model`], so they run the same
//! on a Wayland surface and in a test harness. Every widget carries an
//! accessible name, which is how tests and the agent find it.

mod chat;
mod launcher;
mod notifications;
mod panel;

pub use chat::chat;
pub use launcher::launcher;
pub use notifications::notifications;
pub use panel::{PANEL_HEIGHT, panel};

use crate::model::{Drawer, Model};

/// Size of a drawer (launcher or chat) in points.
pub const DRAWER_SIZE: egui::Vec2 = egui::vec2(440.0, 560.0);
/// Width of the notification column in points.
pub const NOTIFICATION_WIDTH: f32 = 360.0;

/// The whole shell in one area: the panel on top, the open drawer and the
/// notifications below. Tests drive this; on Wayland each part has its
/// own surface.
pub fn desktop(ui: &mut egui::Ui, model: &mut Model) {
    let full = ui.max_rect();
    let panel_rect = egui::Rect::from_min_size(full.min, egui::vec2(full.width(), PANEL_HEIGHT));
    ui.scope_builder(egui::UiBuilder::new().max_rect(panel_rect), |ui| {
        panel(ui, model)
    });
    let below = full.min + egui::vec2(0.0, PANEL_HEIGHT);
    if let Some(drawer) = model.drawer {
        let x = match drawer {
            Drawer::Launcher => below.x,
            Drawer::Chat => full.max.x - DRAWER_SIZE.x,
        };
        let rect = egui::Rect::from_min_size(egui::pos2(x, below.y), DRAWER_SIZE);
        ui.scope_builder(egui::UiBuilder::new().max_rect(rect), |ui| {
            drawer_frame(ui, |ui| match drawer {
                Drawer::Launcher => launcher(ui, model),
                Drawer::Chat => chat(ui, model),
            })
        });
    }
    if !model.notifications.is_empty() {
        let rect = egui::Rect::from_min_max(
            egui::pos2(full.max.x - NOTIFICATION_WIDTH, full.max.y - 260.0),
            full.max,
        );
        ui.scope_builder(egui::UiBuilder::new().max_rect(rect), |ui| {
            notifications(ui, model)
        });
    }
}

/// The frame a drawer's surface is painted in.
pub fn drawer_frame(ui: &mut egui::Ui, content: impl FnOnce(&mut egui::Ui)) {
    egui::Frame::window(ui.style())
        .corner_radius(0.0)
        .show(ui, |ui| {
            ui.set_min_size(ui.available_size());
            content(ui)
        });
}

/// One look for the whole shell: no animations (a frame is drawn only when
/// something changed, so nothing may need a next frame), dark theme.
pub fn configure(ctx: &egui::Context) {
    ctx.set_theme(egui::Theme::Dark);
    ctx.all_styles_mut(|style| {
        style.animation_time = 0.0;
        style.interaction.tooltip_delay = 0.0;
    });
}
