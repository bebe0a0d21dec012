//! The launcher: type to filter, click (or Enter for the first match) to start.

use egui::{Key, RichText};

use crate::backend::Command;
use crate::model::Model;

pub fn launcher(ui: &mut egui::Ui, model: &mut Model) {
    ui.horizontal(|ui| {
        ui.heading("Apps");
    });
    // Read before the text field consumes it.
    let enter = ui.input(|i| i.key_pressed(Key::Enter));
    let label = ui.label("Filter apps");
    let filter = ui.add(
        egui::TextEdit::singleline(&mut model.launcher_filter)
            .hint_text("type to filter")
            .desired_width(f32::INFINITY),
    );
    let filter = filter.labelled_by(label.id);
    if !filter.has_focus() && !ui.ctx().memory(|m| m.focused().is_some()) {
        filter.request_focus();
    }
    let enter = enter && (filter.has_focus() || filter.lost_focus());
    if ui.input(|i| i.key_pressed(Key::Escape)) {
        model.drawer = None;
        return;
    }
    ui.separator();
    let mut chosen = None;
    let matches: Vec<usize> = model
        .apps
        .iter()
        .enumerate()
        .filter(|(_, app)| app.matches(&model.launcher_filter))
        .map(|(i, _)| i)
        .collect();
    if matches.is_empty() {
        ui.weak("no app matches");
    }
    let row_height = ui.spacing().interact_size.y * 2.0 + ui.spacing().item_spacing.y;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show_rows(ui, row_height, matches.len(), |ui, rows| {
            for &index in &matches[rows] {
                let app = &model.apps[index];
                let text = if app.comment.is_empty() {
                    RichText::new(&app.name).strong()
                } else {
                    RichText::new(format!("{}\n{}", app.name, app.comment))
                };
                let button = egui::Button::new(text)
                    .min_size(egui::vec2(ui.available_width(), row_height - 4.0));
                if ui.add(button).clicked() {
                    chosen = Some(index);
                }
            }
        });
    if enter {
        chosen = chosen.or(matches.first().copied());
    }
    if let Some(index) = chosen {
        let app = &model.apps[index];
        model.outbox.push(Command::Launch {
            name: app.name.clone(),
            launch: app.launch.clone(),
        });
        model.drawer = None;
    }
}
