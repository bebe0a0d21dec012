//! The chat: type a goal, watch its steps stream in, answer confirmations,
//! read the result; earlier tasks below.

use egui::{Color32, Key, RichText};

use crate::api::{StateLabel, Task, TaskState};
use crate::backend::Command;
use crate::model::Model;

/// Characters of a goal or result shown before "…"; the rest is a click away
/// in the task itself, and unbounded text would make every frame slower.
const SHOWN_CHARS: usize = 2000;

pub fn chat(ui: &mut egui::Ui, model: &mut Model) {
    ui.heading("Chat");
    if model.tasks_supported == Some(false) {
        ui.label("This agent cannot take goals yet: its API has no tasks routes.");
    }
    goal_input(ui, model);
    ui.separator();
    let selected = model.selected_task.and_then(|id| model.task(id)).cloned();
    egui::ScrollArea::vertical()
        .id_salt("chat-scroll")
        .auto_shrink([false, false])
        .stick_to_bottom(true)
        .max_height(ui.available_height() * 0.62)
        .show(ui, |ui| match &selected {
            Some(task) => task_detail(ui, model, task),
            None => {
                ui.weak("No task selected. Type a goal above, or pick one from the history.");
            }
        });
    ui.separator();
    history(ui, model);
}

fn goal_input(ui: &mut egui::Ui, model: &mut Model) {
    let label = ui.label("Goal");
    let mut submit = false;
    // Read before the text field consumes it.
    let enter = ui.input(|i| i.key_pressed(Key::Enter));
    ui.horizontal(|ui| {
        let enabled = !model.goal_input.trim().is_empty();
        let run_width = 56.0;
        let edit = ui.add(
            egui::TextEdit::singleline(&mut model.goal_input)
                .hint_text("what should digiOS do?")
                .char_limit(4000)
                .desired_width(ui.available_width() - run_width - ui.spacing().item_spacing.x),
        );
        let edit = edit.labelled_by(label.id);
        if !ui.ctx().memory(|m| m.focused().is_some()) {
            edit.request_focus();
        }
        if enter && (edit.has_focus() || edit.lost_focus()) {
            submit = true;
            edit.request_focus();
        }
        if ui.add_enabled(enabled, egui::Button::new("Run")).clicked() {
            submit = true;
        }
    });
    if submit {
        model.submit_goal();
    }
}

fn task_detail(ui: &mut egui::Ui, model: &mut Model, task: &Task) {
    ui.add(egui::Label::new(RichText::new(shown(&task.goal)).strong()).wrap());
    ui.label(format!("state: {}", task.state.label()));
    for step in &task.steps {
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width());
            let mark = if step.outcome == digios_api::StepOutcome::Ok {
                RichText::new(format!("Step {}", step.index + 1))
            } else {
                RichText::new(format!("Step {} ({})", step.index + 1, step.outcome))
                    .color(Color32::from_rgb(230, 120, 90))
            };
            ui.label(mark.strong());
            if !step.thought.is_empty() {
                ui.add(egui::Label::new(shown(&step.thought)).wrap());
            }
            if let Some(action) = step.action_line() {
                ui.add(egui::Label::new(RichText::new(shown(&action)).monospace()).wrap());
            }
            if let Some(observation) = &step.observation {
                ui.add(egui::Label::new(RichText::new(shown(observation)).weak()).wrap());
            }
        });
    }
    if let Some(text) = model.tokens.get(&task.id).filter(|t| !t.is_empty()) {
        ui.label(RichText::new("thinking…").italics());
        ui.add(egui::Label::new(RichText::new(text).monospace().weak()).wrap());
    }
    if let Some(pending) = &task.pending_confirmation {
        egui::Frame::group(ui.style())
            .stroke(egui::Stroke::new(1.5, Color32::from_rgb(240, 190, 60)))
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(RichText::new("Confirmation needed").strong());
                ui.add(
                    egui::Label::new(shown(&format!(
                        "{} {}",
                        pending.action_type, pending.params
                    )))
                    .wrap(),
                );
                if !pending.reason.is_empty() {
                    ui.add(egui::Label::new(format!("why: {}", shown(&pending.reason))).wrap());
                }
                if !pending.risk.is_empty() {
                    ui.label(format!("risk: {}", pending.risk));
                }
                ui.horizontal(|ui| {
                    if ui.button("Approve").clicked() {
                        model.outbox.push(Command::Confirm {
                            task: task.id,
                            approve: true,
                        });
                    }
                    if ui.button("Deny").clicked() {
                        model.outbox.push(Command::Confirm {
                            task: task.id,
                            approve: false,
                        });
                    }
                });
            });
    }
    if let Some(result) = &task.result {
        let color = if task.state == TaskState::Succeeded {
            Color32::from_rgb(120, 200, 120)
        } else {
            Color32::from_rgb(230, 110, 90)
        };
        ui.add(
            egui::Label::new(RichText::new(format!("Result: {}", shown(result))).color(color))
                .wrap(),
        );
    }
    if !task.state.is_finished() && ui.button("Cancel task").clicked() {
        model.outbox.push(Command::Cancel(task.id));
    }
}

fn history(ui: &mut egui::Ui, model: &mut Model) {
    ui.label(RichText::new("History").strong());
    if model.tasks.is_empty() {
        ui.weak("no tasks yet");
        return;
    }
    let mut picked = None;
    let row_height = ui.spacing().interact_size.y;
    egui::ScrollArea::vertical()
        .id_salt("history-scroll")
        .auto_shrink([false, false])
        .show_rows(ui, row_height, model.tasks.len(), |ui, rows| {
            for task in &model.tasks[rows] {
                let text = format!("#{} {} · {}", task.id, task.goal, task.state.label());
                let selected = model.selected_task == Some(task.id);
                let button = egui::Button::selectable(selected, text).truncate();
                if ui
                    .add_sized([ui.available_width(), row_height], button)
                    .clicked()
                {
                    picked = Some(task.id);
                }
            }
        });
    if let Some(id) = picked {
        model.selected_task = Some(id);
        model.outbox.push(Command::LoadTask(id));
    }
}

fn shown(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
