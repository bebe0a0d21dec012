//! The top panel: apps, chat, open windows, and digiOS's state at a glance.

use egui::{Align, Color32, Layout, RichText};

use crate::backend::Command;
use crate::model::{AgentState, Connection, Drawer, Model};

/// Height of the panel (and its exclusive zone) in points.
pub const PANEL_HEIGHT: f32 = 30.0;

pub fn panel(ui: &mut egui::Ui, model: &mut Model) {
    let rect = ui.max_rect();
    ui.painter().rect_filled(rect, 0.0, ui.visuals().panel_fill);
    ui.scope_builder(
        egui::UiBuilder::new()
            .max_rect(rect.shrink2(egui::vec2(6.0, 3.0)))
            .layout(Layout::left_to_right(Align::Center)),
        |ui| {
            let apps =
                ui.add(egui::Button::new("Apps").selected(model.drawer == Some(Drawer::Launcher)));
            if apps.clicked() {
                model.toggle_drawer(Drawer::Launcher);
            }
            let chat =
                ui.add(egui::Button::new("Chat").selected(model.drawer == Some(Drawer::Chat)));
            if chat.clicked() {
                model.toggle_drawer(Drawer::Chat);
            }
            ui.separator();
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                status_area(ui, model);
                ui.separator();
                ui.with_layout(Layout::left_to_right(Align::Center), |ui| {
                    window_list(ui, model);
                });
            });
        },
    );
}

/// Right to left: clock, kill switch, model, voice, agent state, connection.
fn status_area(ui: &mut egui::Ui, model: &mut Model) {
    ui.label(RichText::new(&model.clock).strong());
    match model.kill_switch() {
        Some(engaged) => {
            let (text, fill) = if engaged {
                ("Release kill switch", Color32::from_rgb(90, 90, 90))
            } else {
                ("Kill switch", Color32::from_rgb(170, 30, 30))
            };
            let button = egui::Button::new(RichText::new(text).color(Color32::WHITE)).fill(fill);
            if ui.add(button).clicked() {
                model.outbox.push(Command::SetKillSwitch(!engaged));
            }
        }
        None => {
            let button = egui::Button::new("Kill switch");
            ui.add_enabled(false, button)
                .on_disabled_hover_text("this agent has no kill switch route");
        }
    }
    let model_text = match &model.model_name {
        Some(Ok(name)) => format!("model: {name}"),
        Some(Err(_)) => "model: none".to_string(),
        None => "model: …".to_string(),
    };
    let label = ui.label(model_text);
    if let Some(Err(reason)) = &model.model_name {
        label.on_hover_text(reason.as_str());
    }
    // Short in the panel; why voice is off is a hover away.
    match model.voice_state() {
        Some(("up", _)) => {
            ui.label("voice: on");
        }
        Some((_, detail)) => {
            let label = ui.label("voice: unavailable");
            if let Some(detail) = detail {
                label.on_hover_text(detail);
            }
        }
        None => {
            ui.label("voice: unavailable");
        }
    }
    let state = model.agent_state();
    let color = match state {
        AgentState::Offline => Color32::from_rgb(230, 90, 80),
        AgentState::Idle => ui.visuals().text_color(),
        AgentState::WaitingForConfirmation => Color32::from_rgb(240, 190, 60),
        AgentState::Thinking | AgentState::Acting => Color32::from_rgb(110, 180, 250),
    };
    ui.label(RichText::new(format!("agent: {}", state.label())).color(color));
    match &model.connection {
        Connection::Up => {}
        Connection::Connecting => {
            ui.label("connecting to the agent…");
        }
        Connection::Down { reason, retry_at } => {
            let wait = retry_at.saturating_duration_since(std::time::Instant::now());
            let text = if model.was_connected {
                "agent restarting: reconnecting…".to_string()
            } else {
                format!("agent unreachable: retrying in {} s", wait.as_secs().max(1))
            };
            ui.label(RichText::new(text).color(Color32::from_rgb(230, 90, 80)))
                .on_hover_text(reason.as_str());
        }
    }
}

fn window_list(ui: &mut egui::Ui, model: &mut Model) {
    if model.windows.is_empty() {
        ui.weak("no windows");
        return;
    }
    let width = ui.available_width();
    let each =
        (width / model.windows.len() as f32 - ui.spacing().item_spacing.x).clamp(24.0, 180.0);
    let mut focus = None;
    for window in &model.windows {
        let label = window.label();
        let button = egui::Button::new(label.as_str())
            .selected(window.focused)
            .truncate();
        let response = ui.add_sized([each, ui.available_height()], button);
        if response.clicked() {
            focus = Some(window.id);
        }
    }
    if let Some(id) = focus {
        model.outbox.push(Command::FocusWindow(id));
    }
}
