//! Notifications of task results and errors, newest at the bottom.

use egui::{Color32, RichText};

use crate::model::{Model, Severity};

pub fn notifications(ui: &mut egui::Ui, model: &mut Model) {
    let mut dismissed = None;
    ui.with_layout(egui::Layout::bottom_up(egui::Align::Max), |ui| {
        for note in model.notifications.iter().rev() {
            let stroke = match note.severity {
                Severity::Info => Color32::from_rgb(90, 150, 220),
                Severity::Error => Color32::from_rgb(220, 80, 70),
            };
            egui::Frame::popup(ui.style())
                .stroke(egui::Stroke::new(1.5, stroke))
                .show(ui, |ui| {
                    ui.set_width(ui.available_width().min(super::NOTIFICATION_WIDTH) - 16.0);
                    ui.with_layout(egui::Layout::top_down(egui::Align::Min), |ui| {
                        ui.horizontal(|ui| {
                            ui.add(
                                egui::Label::new(RichText::new(&note.title).strong()).truncate(),
                            );
                            ui.with_layout(
                                egui::Layout::right_to_left(egui::Align::Center),
                                |ui| {
                                    if ui.small_button("Dismiss").clicked() {
                                        dismissed = Some(note.id);
                                    }
                                },
                            );
                        });
                        if !note.body.is_empty() {
                            let body: String = note.body.chars().take(400).collect();
                            ui.add(egui::Label::new(body).wrap());
                        }
                    });
                });
        }
    });
    if let Some(id) = dismissed {
        model.dismiss(id);
    }
}
