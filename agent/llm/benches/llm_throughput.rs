//! Measures prompt and generation speed of SmolLM2 through our backend with 1 and 2 threads.
//! It reports numbers (run with `--nocapture`) and asserts none: speed is not correctness.

#[path = "../tests/llm_support.rs"]
mod llm_support;

use digios_llm::{
    CancellationToken, ChatMessage, ChatRequest, GenerationOptions, LanguageModel, LocalModel,
};
use llm_support::{smollm2_settings, within};

/// Runs per thread count; `DIGIOS_BENCH_LLM_RUNS` overrides (the harness
/// alternates single runs with llama-bench's).
fn runs() -> usize {
    std::env::var("DIGIOS_BENCH_LLM_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3)
}

#[tokio::main]
async fn main() {
    // About 64 prompt tokens with the chat template, like llama-bench's pp64.
    let prompt = "Summarise the following notes in one sentence. ".to_string()
        + &"The desktop agent observes the window list, decides one action, acts, and checks \
            the result again before the next step. "
            .repeat(2);
    let request = ChatRequest::new(vec![
        ChatMessage::system("You are a helpful writer."),
        ChatMessage::user(prompt),
    ])
    .with_options(GenerationOptions {
        max_tokens: 64,
        ..GenerationOptions::default()
    });
    let story = ChatRequest::new(vec![ChatMessage::user(
        "Write a long story about a dragon who learns to fly.",
    )])
    .with_options(GenerationOptions {
        max_tokens: 64,
        ..GenerationOptions::default()
    });

    let runs = runs();
    for threads in [1, 2] {
        let model = tokio::task::spawn_blocking(move || {
            LocalModel::load(
                smollm2_settings()
                    .with_threads(threads)
                    .with_kv_cache_reuse(false),
            )
        })
        .await
        .unwrap()
        .expect("SmolLM2 loads");
        // One untimed run first, as llama-bench warms up.
        within(
            300,
            "a warm-up",
            model
                .complete(request.clone(), CancellationToken::new())
                .collect(),
        )
        .await
        .unwrap();
        // Averages over the runs, as llama-bench reports.
        let mut prompt_speed: f64 = 0.0;
        let mut generation_speed: f64 = 0.0;
        let mut prompt_tokens = 0;
        let mut generated = 0;
        for _ in 0..runs {
            let outcome = within(
                300,
                "a measured prompt",
                model
                    .complete(request.clone(), CancellationToken::new())
                    .collect(),
            )
            .await
            .unwrap();
            prompt_tokens = outcome.usage.prompt_tokens;
            prompt_speed += outcome.usage.prompt_tokens_per_second().unwrap() / runs as f64;
            let outcome = within(
                300,
                "a measured generation",
                model
                    .complete(story.clone(), CancellationToken::new())
                    .collect(),
            )
            .await
            .unwrap();
            generated = outcome.usage.completion_tokens;
            generation_speed += outcome.usage.generation_tokens_per_second().unwrap() / runs as f64;
        }
        println!(
            "SmolLM2-135M Q4_1, {threads} thread(s): prompt {prompt_speed:.0} tok/s \
             ({prompt_tokens} tokens), generation {generation_speed:.1} tok/s ({generated} tokens), \
             mean of {runs}"
        );
        assert!(prompt_speed > 0.0 && generation_speed > 0.0);
    }
}
