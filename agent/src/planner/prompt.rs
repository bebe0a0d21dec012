//! What the model reads. The system prompt never changes between steps, so
//! the backend's KV cache keeps it; each step appends the last result and a
//! fresh observation.

use crate::actions::{self, ActionsConfig};
use crate::llm::ChatMessage;

use super::observe::Observation;
use super::tools::{FINISH, SKILL};
use crate::skills::SkillVersion;

pub fn system_prompt() -> String {
    system_prompt_with_skills(&[])
}

/// The system prompt with the active skills listed as `skill` tools.
pub fn system_prompt_with_skills(skills: &[SkillVersion]) -> String {
    let mut text = String::from(
        "You are digiOS, an assistant that operates a Linux desktop for the user. \
         Each turn you see the goal and the desktop, and you answer with exactly one JSON \
         tool call: {\"action\": NAME, \"params\": {...}}. Take one small step at a time. \
         Name windows by their id from the list. When the goal is reached, call finish \
         with a short summary.\nTools:\n",
    );
    for spec in actions::catalogue() {
        text.push_str(&format!("- {}: {}\n", spec.action_type, spec.description));
    }
    if !skills.is_empty() {
        text.push_str(&format!(
            "- {SKILL}: Run a skill (a saved procedure) by name: \
             {{\"action\": \"{SKILL}\", \"params\": {{\"name\": NAME, \"args\": {{...}}}}}}. Skills:\n"
        ));
        for skill in skills {
            text.push_str(&format!(
                "  - {}: {} args: {}\n",
                skill.name, skill.description, skill.params
            ));
        }
        text.push_str("When a skill does what the goal asks, call it rather than its steps.\n");
    }
    text.push_str(&format!(
        "- {FINISH}: End the task; summary says what was achieved.\n"
    ));
    text.push_str(
        "Examples:\n\
         Goal: open the editor -> {\"action\": \"launch_app\", \"params\": {\"app\": \"editor\"}}\n\
         Goal: close window 7 -> {\"action\": \"close_window\", \"params\": {\"window_id\": 7}}\n\
         Result: verified: window 9 opened -> {\"action\": \"finish\", \"params\": {\"summary\": \"the app is open\"}}\n\
         If nothing you can do helps with the goal, call finish and say so.\n",
    );
    if let Some(skill) = skills.first() {
        text.push_str(&format!(
            "Goal: {description} -> {{\"action\": \"{SKILL}\", \"params\": {{\"name\": \"{name}\", \"args\": {{...}}}}}}\n\
             Result: verified: skill {name} finished -> {{\"action\": \"{FINISH}\", \"params\": {{\"summary\": \"done with {name}\"}}}}\n",
            name = skill.name,
            description = skill.description.trim_end_matches('.').to_lowercase()
        ));
    }
    text
}

/// The first user message: the goal (with what is already done, when a
/// fast path started it) and what the desktop looks like.
pub fn first_turn(
    goal: &str,
    handed_over: Option<&(String, String)>,
    observation: &Observation,
    actions: &ActionsConfig,
) -> ChatMessage {
    let goal = match handed_over {
        Some((done, rest)) => format!("{goal}\nAlready {done}\nStill to do: {rest}"),
        None => goal.to_string(),
    };
    ChatMessage::user(format!(
        "Goal: {goal}\n{}{}",
        observation.describe(),
        apps_line(actions)
    ))
}

/// A later user message: how the last call went and the desktop now.
pub fn next_turn(
    goal: &str,
    result: &str,
    observation: &Observation,
    actions: &ActionsConfig,
) -> ChatMessage {
    ChatMessage::user(format!(
        "Result: {result}\nGoal: {goal}\n{}{}",
        observation.describe(),
        apps_line(actions)
    ))
}

fn apps_line(actions: &ActionsConfig) -> String {
    let apps: Vec<&str> = actions.apps.keys().map(String::as_str).collect();
    format!("Apps: {}\n", apps.join(", "))
}
