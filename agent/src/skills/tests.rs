use serde_json::json;

use super::*;

fn version(calls: i64, failures: i64) -> SkillVersion {
    SkillVersion {
        name: "s".into(),
        version: 1,
        description: "d".into(),
        params: json!({"type": "object"}),
        code: String::new(),
        author_model: None,
        parent_version: None,
        tests: Vec::new(),
        replaced_version: None,
        state: VersionState::Active,
        state_reason: None,
        live_calls: calls,
        live_failures: failures,
        created_at_ms: 0,
    }
}

#[test]
fn the_failure_rate_rule_needs_enough_calls_and_a_worse_rate() {
    let before = version(10, 1);
    assert!(!auto_rollback_due(&version(4, 4), &before), "too few calls");
    assert!(auto_rollback_due(&version(5, 1), &before), "20 % > 10 %");
    assert!(
        !auto_rollback_due(&version(10, 1), &before),
        "equal is not worse"
    );
    assert!(auto_rollback_due(&version(5, 1), &version(0, 0)));
    assert!(!auto_rollback_due(&version(5, 0), &version(0, 0)));
}

#[test]
fn expectations_judge_values_and_errors() {
    let call = |result| {
        Ok(SkillCall {
            name: "s".into(),
            version: 1,
            result,
            actions: vec![],
            log: vec![],
            duration_ms: 0,
        })
    };
    assert!(judge(&Expectation::Returns(json!(3)), &call(json!(3))).0);
    assert!(!judge(&Expectation::Returns(json!(3)), &call(json!(4))).0);
    assert!(
        judge(
            &Expectation::Matches(json!({"a": 1})),
            &call(json!({"a": 1, "b": 2}))
        )
        .0
    );
    assert!(
        !judge(
            &Expectation::Matches(json!({"a": 2})),
            &call(json!({"a": 1}))
        )
        .0
    );
    let failed = Err(SkillError::Failed {
        message: "Error: no window".into(),
        line: Some(2),
    });
    assert!(judge(&Expectation::Throws("no window".into()), &failed).0);
    assert!(!judge(&Expectation::Returns(json!(1)), &failed).0);
}

fn draft(code: &str) -> SkillDraft {
    SkillDraft {
        name: "sum".into(),
        description: "adds".into(),
        params: json!({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}),
        code: code.into(),
        author_model: None,
        parent_version: None,
        tests: vec![],
    }
}

#[test]
fn manifests_are_checked() {
    assert!(validate_manifest(&draft("function run(p) { return p.a; }")).is_ok());
    let mut bad = draft("");
    bad.name = "Open Terminal".into();
    assert!(matches!(
        validate_manifest(&bad),
        Err(SkillError::InvalidManifest(_))
    ));
    let mut bad = draft("");
    bad.params = json!({"type": "string"});
    assert!(matches!(
        validate_manifest(&bad),
        Err(SkillError::InvalidManifest(_))
    ));
}

#[test]
fn syntax_errors_name_their_line() {
    let err = sandbox::compile(
        "function run(p) {\n  return p.a +;\n}\n",
        SkillLimits::default(),
    )
    .unwrap_err();
    let SkillError::Compile(err) = err else {
        panic!("{err:?}")
    };
    assert_eq!(err.line, Some(2), "{err:?}");
    assert!(err.message.contains("SyntaxError"), "{err:?}");
}

#[test]
fn code_without_run_does_not_compile() {
    let err = sandbox::compile("const x = 1;", SkillLimits::default()).unwrap_err();
    assert!(matches!(err, SkillError::Compile(_)), "{err:?}");
    assert!(sandbox::compile("const run = (p) => 1;", SkillLimits::default()).is_ok());
}

#[test]
fn the_top_level_cannot_reach_the_host_or_loop_forever() {
    let limits = SkillLimits {
        cpu_ms: 200,
        ..SkillLimits::default()
    };
    let err = sandbox::compile("digios.windows(); function run() {}", limits).unwrap_err();
    assert!(
        err.to_string().contains("only available inside run"),
        "{err}"
    );
    let err = sandbox::compile("while (true) {} function run() {}", limits).unwrap_err();
    assert!(err.to_string().contains("CPU"), "{err}");
}

#[test]
fn runaway_recursion_is_an_error_not_a_crash() {
    let err = sandbox::compile(
        "(function f() { return f() + 1; })(); function run() {}",
        SkillLimits::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("stack"), "{err}");
}
