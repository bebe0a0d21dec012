//! The llama.cpp backend with the real SmolLM2 model.

mod llm_support;

use std::io::Write;

use digios_llm::{
    CancellationToken, ChatMessage, ChatRequest, CompletionEvent, Constraint, GenerationOptions,
    LanguageModel, LlmError, LocalModel, LocalModelSettings, StopReason,
};
use llm_support::{shared_smollm2, smollm2_path, smollm2_settings, within};

fn greeting() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("You are a friendly assistant. Answer briefly."),
        ChatMessage::user("Hello! How are you today?"),
    ]
}

#[tokio::test]
async fn smollm2_loads_and_answers_a_greeting() {
    let model = shared_smollm2();
    let description = model.describe();
    assert_eq!(description.id, "SmolLM2-135M-Instruct.Q4_1");
    assert_eq!(description.backend, "llama.cpp");
    let request = ChatRequest::new(greeting()).with_options(GenerationOptions {
        max_tokens: 48,
        ..GenerationOptions::default()
    });
    let outcome = within(
        120,
        "a greeting",
        model.complete(request, CancellationToken::new()).collect(),
    )
    .await
    .expect("the model answers");
    println!("reply: {:?} usage: {:?}", outcome.text, outcome.usage);
    assert!(!outcome.text.trim().is_empty(), "empty reply");
    assert!(outcome.usage.prompt_tokens > 10);
    assert!(outcome.usage.completion_tokens > 0);
    assert!(matches!(
        outcome.stop_reason,
        StopReason::EndOfText | StopReason::MaxTokens
    ));
}

#[tokio::test]
async fn streamed_pieces_are_the_reply_and_a_fixed_seed_repeats_it() {
    let model = shared_smollm2();
    let request = ChatRequest::new(vec![ChatMessage::user(
        "Tell me one short fact about the moon.",
    )])
    .with_options(GenerationOptions {
        max_tokens: 40,
        temperature: 0.9,
        seed: 1234,
        ..GenerationOptions::default()
    });

    let mut streamed = String::new();
    let mut pieces = 0;
    let mut completion = model.complete(request.clone(), CancellationToken::new());
    let outcome = within(120, "the streamed reply", async {
        loop {
            match completion.next_event().await.expect("a final event") {
                CompletionEvent::Piece(piece) => {
                    pieces += 1;
                    streamed.push_str(&piece);
                }
                CompletionEvent::Finished(result) => break result.expect("the model answers"),
            }
        }
    })
    .await;
    assert!(pieces > 1, "the reply came in {pieces} piece(s)");
    assert_eq!(streamed, outcome.text);

    let collected = within(
        120,
        "the collected reply",
        model.complete(request, CancellationToken::new()).collect(),
    )
    .await
    .expect("the model answers");
    assert_eq!(collected.text, streamed, "same seed, same reply");
}

/// The planner's pattern: one long system prompt, a different question each step.
#[tokio::test]
async fn kv_cache_reuse_gives_the_same_reply_as_a_cold_run() {
    let system = ChatMessage::system(llm_support::AGENT_SYSTEM_PROMPT);
    let step = |goal: &str| {
        ChatRequest::new(vec![system.clone(), ChatMessage::user(goal)]).with_options(
            GenerationOptions {
                max_tokens: 40,
                ..GenerationOptions::default()
            },
        )
    };
    // Its own model: other tests' requests on the shared one would replace the cache.
    let warm = tokio::task::spawn_blocking(|| LocalModel::load(smollm2_settings()))
        .await
        .unwrap()
        .expect("SmolLM2 loads");
    within(120, "the first step", async {
        warm.complete(step("Open the web browser."), CancellationToken::new())
            .collect()
            .await
            .expect("first step")
    })
    .await;
    let reused = within(
        120,
        "the reusing step",
        warm.complete(step("Close the file manager."), CancellationToken::new())
            .collect(),
    )
    .await
    .expect("second step");
    assert!(
        reused.usage.cached_prompt_tokens > 100,
        "the system prompt was evaluated again: {:?}",
        reused.usage
    );

    let cold_model = tokio::task::spawn_blocking(|| {
        LocalModel::load(smollm2_settings().with_kv_cache_reuse(false))
    })
    .await
    .unwrap()
    .expect("a second SmolLM2 loads");
    let cold = within(
        120,
        "the cold step",
        cold_model
            .complete(step("Close the file manager."), CancellationToken::new())
            .collect(),
    )
    .await
    .expect("cold step");
    assert_eq!(cold.usage.cached_prompt_tokens, 0);
    assert_eq!(reused.text, cold.text);
}

#[tokio::test]
async fn stop_strings_end_the_reply_before_them() {
    let model = shared_smollm2();
    let request = ChatRequest::new(vec![ChatMessage::user("Say something.")]).with_options(
        GenerationOptions {
            max_tokens: 64,
            stop: vec!["STOP".into()],
            constraint: Some(Constraint::Grammar(
                r#"root ::= "alpha beta STOP gamma delta""#.into(),
            )),
            ..GenerationOptions::default()
        },
    );
    let outcome = within(
        120,
        "a stopped reply",
        model.complete(request, CancellationToken::new()).collect(),
    )
    .await
    .expect("the model answers");
    assert_eq!(outcome.text, "alpha beta ");
    assert_eq!(outcome.stop_reason, StopReason::StopString);
}

#[tokio::test]
async fn cancellation_stops_generation_and_keeps_the_text_so_far() {
    let model = shared_smollm2();
    // The grammar forces a long reply, so only cancellation can end it early.
    let request = ChatRequest::new(vec![ChatMessage::user("Write a long line.")]).with_options(
        GenerationOptions {
            max_tokens: 600,
            constraint: Some(Constraint::Grammar(r#"root ::= [a-z ]{600}"#.into())),
            ..GenerationOptions::default()
        },
    );

    let cancel = CancellationToken::new();
    cancel.cancel();
    let outcome = within(
        60,
        "a cancelled request",
        model.complete(request.clone(), cancel).collect(),
    )
    .await
    .expect("a cancelled completion still finishes");
    assert_eq!(outcome.stop_reason, StopReason::Cancelled);
    assert_eq!(outcome.text, "");

    let cancel = CancellationToken::new();
    let mut completion = model.complete(request, cancel.clone());
    let outcome = within(120, "a completion cancelled midway", async {
        let mut streamed = String::new();
        loop {
            match completion.next_event().await.expect("a final event") {
                CompletionEvent::Piece(piece) => {
                    streamed.push_str(&piece);
                    cancel.cancel();
                }
                CompletionEvent::Finished(result) => {
                    let outcome = result.expect("a cancelled completion still finishes");
                    assert_eq!(outcome.text, streamed);
                    break outcome;
                }
            }
        }
    })
    .await;
    assert_eq!(outcome.stop_reason, StopReason::Cancelled);
    assert!(!outcome.text.is_empty());
    assert!(outcome.text.len() < 600, "{:?}", outcome.usage);
}

#[tokio::test]
async fn bad_requests_get_typed_errors() {
    let model = shared_smollm2();
    let with = |options: GenerationOptions| ChatRequest::new(greeting()).with_options(options);

    let error = model
        .complete(
            with(GenerationOptions {
                constraint: Some(Constraint::Grammar("root ::= (".into())),
                ..GenerationOptions::default()
            }),
            CancellationToken::new(),
        )
        .collect()
        .await
        .unwrap_err();
    assert!(matches!(error, LlmError::InvalidConstraint(_)), "{error}");

    let error = model
        .complete(
            with(GenerationOptions {
                constraint: Some(Constraint::JsonSchema(serde_json::json!({"type": 12}))),
                ..GenerationOptions::default()
            }),
            CancellationToken::new(),
        )
        .collect()
        .await
        .unwrap_err();
    assert!(matches!(error, LlmError::InvalidConstraint(_)), "{error}");

    let huge = "word ".repeat(6000);
    let error = within(
        120,
        "an overlong prompt",
        model
            .complete(
                ChatRequest::new(vec![ChatMessage::user(huge)]),
                CancellationToken::new(),
            )
            .collect(),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, LlmError::ContextOverflow { .. }), "{error}");

    let error = model
        .complete(ChatRequest::new(vec![]), CancellationToken::new())
        .collect()
        .await
        .unwrap_err();
    assert!(matches!(error, LlmError::InvalidRequest(_)), "{error}");

    // The model still works after all that.
    let outcome = within(
        120,
        "a request after errors",
        model
            .complete(
                with(GenerationOptions {
                    max_tokens: 8,
                    ..GenerationOptions::default()
                }),
                CancellationToken::new(),
            )
            .collect(),
    )
    .await
    .expect("the model still answers");
    assert!(!outcome.text.is_empty());
}

fn load_error(settings: LocalModelSettings) -> LlmError {
    LocalModel::load(settings).expect_err("this must not load")
}

#[test]
fn missing_and_damaged_model_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("absent.gguf");
    let error = load_error(LocalModelSettings::new(&missing));
    assert_eq!(error, LlmError::ModelMissing { path: missing });
    assert!(error.to_string().contains("cargo xtask setup"));

    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
        path
    };
    let original = std::fs::read(smollm2_path()).unwrap();
    let cases = [
        ("empty.gguf", Vec::new()),
        (
            "text.gguf",
            b"this is not a model at all, just some text".to_vec(),
        ),
        (
            "version.gguf",
            [b"GGUF".as_slice(), &[9, 0, 0, 0], &[0; 16]].concat(),
        ),
        ("header-only.gguf", original[..64].to_vec()),
        ("truncated.gguf", original[..original.len() / 2].to_vec()),
        ("metadata-cut.gguf", original[..200_000].to_vec()),
    ];
    for (name, bytes) in cases {
        let path = write(name, &bytes);
        let error = load_error(LocalModelSettings::new(&path));
        println!("{name}: {error}");
        assert!(
            matches!(&error, LlmError::ModelInvalid { path: p, .. } if *p == path),
            "{name}: {error:?}"
        );
    }

    let error = load_error(smollm2_settings().with_chat_template("no-such-template"));
    assert!(matches!(error, LlmError::ChatTemplate(_)), "{error:?}");
}
