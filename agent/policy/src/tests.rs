use std::path::Path;
use std::time::Duration;

use super::*;

fn policy(config: &str) -> Policy {
    let config: PolicyConfig = toml::from_str(config).unwrap();
    config.validate().unwrap();
    Policy::new(&config, Some(Path::new("/home/ana"))).unwrap()
}

fn verdict(policy: &Policy, action: &str, paths: &[&str]) -> Verdict {
    let paths: Vec<&Path> = paths.iter().map(Path::new).collect();
    policy.decide(action, &paths).verdict
}

#[test]
fn defaults_read_freely_and_confirm_deletes_and_shell() {
    let policy = policy("");
    assert_eq!(
        verdict(&policy, "read_file", &["/home/ana/notes.txt"]),
        Verdict::Allow
    );
    assert_eq!(
        verdict(&policy, "list_files", &["/home/ana"]),
        Verdict::Allow
    );
    assert_eq!(verdict(&policy, "click", &[]), Verdict::Allow);
    assert_eq!(verdict(&policy, "type_text", &[]), Verdict::Allow);
    assert_eq!(verdict(&policy, "close_window", &[]), Verdict::Allow);
    assert_eq!(verdict(&policy, "launch_app", &[]), Verdict::Allow);
    assert_eq!(
        verdict(&policy, "delete_file", &["/home/ana/notes.txt"]),
        Verdict::Confirm
    );
    assert_eq!(verdict(&policy, "run_shell", &[]), Verdict::Confirm);
    assert_eq!(verdict(&policy, "shell", &[]), Verdict::Confirm);
    assert_eq!(verdict(&policy, "signal_process", &[]), Verdict::Confirm);
    assert_eq!(
        verdict(&policy, "write_file", &["/home/ana/a"]),
        Verdict::Confirm
    );
    // Unknown actions fall to the default.
    let decision = policy.decide("format_disk", &[]);
    assert_eq!(decision.verdict, Verdict::Confirm);
    assert_eq!(decision.decided_by, DecidedBy::Default);
    // Secrets are off limits even for reading.
    assert_eq!(
        verdict(&policy, "read_file", &["/home/ana/.ssh/id_ed25519"]),
        Verdict::Deny
    );
    assert_eq!(
        verdict(&policy, "read_file", &["/etc/hostname"]),
        Verdict::Confirm
    );
}

#[test]
fn first_matching_rule_wins() {
    let policy = policy(
        r#"
        [[rules]]
        action = "delete_file"
        path = "~/Downloads/**"
        verdict = "allow"

        [[rules]]
        action = "delete_*"
        verdict = "deny"

        [[rules]]
        path = "/srv/**"
        verdict = "deny"
        "#,
    );
    let decision = policy.decide("delete_file", &[Path::new("/home/ana/Downloads/a.iso")]);
    assert_eq!(decision.verdict, Verdict::Allow);
    assert_eq!(decision.decided_by, DecidedBy::UserRule(0));
    assert!(decision.reason.contains("rule 1"), "{}", decision.reason);
    assert_eq!(
        verdict(&policy, "delete_file", &["/home/ana/notes.txt"]),
        Verdict::Deny
    );
    assert_eq!(verdict(&policy, "delete_dir", &[]), Verdict::Deny);
    assert_eq!(
        verdict(&policy, "read_file", &["/srv/www/index.html"]),
        Verdict::Deny
    );
    // The user's rules come before the built-in ones.
    assert_eq!(
        verdict(&policy, "read_file", &["/home/ana/a"]),
        Verdict::Allow
    );
}

#[test]
fn the_strictest_path_of_an_action_decides() {
    let policy = policy(
        r#"
        [[rules]]
        action = "move_file"
        path = "/home/**"
        verdict = "allow"
        "#,
    );
    assert_eq!(
        verdict(&policy, "move_file", &["/home/ana/a", "/home/ana/b"]),
        Verdict::Allow
    );
    assert_eq!(
        verdict(&policy, "move_file", &["/home/ana/a", "/sys/power/state"]),
        Verdict::Deny
    );
    // The user's rule comes first, so it also covers what a built-in rule would deny.
    assert_eq!(
        verdict(
            &policy,
            "move_file",
            &["/home/ana/a", "/home/ana/.ssh/config"]
        ),
        Verdict::Allow
    );
    assert_eq!(
        verdict(&policy, "move_file", &["/home/ana/a", "/etc/passwd"]),
        Verdict::Confirm
    );
}

#[test]
fn dot_dot_and_relative_paths_cannot_slip_past() {
    let policy = policy("");
    assert_eq!(
        verdict(&policy, "read_file", &["/home/ana/../ana/./.ssh/id_rsa"]),
        Verdict::Deny
    );
    assert_eq!(
        verdict(&policy, "read_file", &["/home/ana/../../proc/self/environ"]),
        Verdict::Deny
    );
    let decision = policy.decide("read_file", &[Path::new("notes.txt")]);
    assert_eq!(decision.verdict, Verdict::Deny);
    assert_eq!(decision.decided_by, DecidedBy::UnjudgeablePath);
}

#[test]
fn configuration_is_strict() {
    assert!(toml::from_str::<PolicyConfig>("defualt = \"allow\"").is_err());
    assert!(toml::from_str::<PolicyConfig>("[[rules]]\naction = \"x\"").is_err());
    assert!(toml::from_str::<PolicyConfig>("[[rules]]\nverdict = \"maybe\"").is_err());
    assert!(
        toml::from_str::<PolicyConfig>("[[rules]]\nverdict = \"deny\"\nwhen = \"later\"").is_err()
    );
    let relative: PolicyConfig =
        toml::from_str("[[rules]]\npath = \"notes/*\"\nverdict = \"deny\"").unwrap();
    let (key, message) = relative.validate().unwrap_err();
    assert_eq!(key, "rules");
    assert!(message.contains("rule 1"), "{message}");
    assert!(matches!(
        Policy::new(&relative, None),
        Err(PolicyError::InvalidRule { index: 1, .. })
    ));
    let home: PolicyConfig =
        toml::from_str("[[rules]]\npath = \"~/x/**\"\nverdict = \"deny\"").unwrap();
    assert!(matches!(
        Policy::new(&home, None),
        Err(PolicyError::NoHome { index: 1 })
    ));
    // Without a home, the built-in home rules are skipped, not an error.
    Policy::new(&PolicyConfig::default(), None).unwrap();
    let strict: PolicyConfig = toml::from_str("default = \"deny\"\nbuiltin_rules = false").unwrap();
    let policy = Policy::new(&strict, None).unwrap();
    assert_eq!(verdict(&policy, "click", &[]), Verdict::Deny);
    // The defaults round-trip through TOML.
    let text = toml::to_string(&PolicyConfig::default()).unwrap();
    assert_eq!(
        toml::from_str::<PolicyConfig>(&text).unwrap(),
        PolicyConfig::default()
    );
}

#[test]
fn kill_switch_blocks_until_released() {
    let switch = KillSwitch::new();
    let clone = switch.clone();
    assert!(switch.check_input().is_ok());
    assert!(switch.check_task().is_ok());
    assert!(clone.engage());
    assert!(!switch.engage());
    assert_eq!(switch.check_input(), Err(KillSwitchEngaged));
    assert_eq!(switch.check_task(), Err(KillSwitchEngaged));
    assert!(switch.release());
    assert!(!clone.release());
    assert!(clone.check_input().is_ok());
}

#[tokio::test]
async fn kill_switch_wakes_a_waiting_task() {
    let switch = KillSwitch::new();
    let waiter = {
        let switch = switch.clone();
        tokio::spawn(async move { switch.engaged().await })
    };
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished());
    switch.engage();
    tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the waiting task was not woken")
        .unwrap();
    // Already engaged: resolves at once.
    tokio::time::timeout(Duration::from_secs(10), switch.engaged())
        .await
        .unwrap();
}
