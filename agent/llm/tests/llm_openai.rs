//! The OpenAI-compatible client against the `/v1` router serving the real SmolLM2 on
//! loopback, and against servers that fail.

mod llm_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use digios_llm::{
    CancellationToken, ChatMessage, ChatRequest, CompletionEvent, Constraint, GenerationOptions,
    LanguageModel, LlmError, OpenAiClient, RemoteSettings, StopReason, openai_router,
};
use llm_support::{ToolCall, shared_smollm2, tool_call_schema, within};

/// Serves `router` on an ephemeral loopback port; returns the `/v1` base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{address}/v1")
}

fn client(base_url: &str, stream: bool) -> OpenAiClient {
    OpenAiClient::new(
        RemoteSettings::new(base_url, "SmolLM2-135M-Instruct.Q4_1")
            .with_stream(stream)
            .with_retries(2, Duration::from_millis(10))
            .with_timeout(Duration::from_secs(120)),
    )
    .unwrap()
}

fn greeting(max_tokens: u32) -> ChatRequest {
    ChatRequest::new(vec![
        ChatMessage::system("You are a friendly assistant. Answer briefly."),
        ChatMessage::user("Hi there! What can you do?"),
    ])
    .with_options(GenerationOptions {
        max_tokens,
        ..GenerationOptions::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_talks_to_a_served_model_streaming_and_whole() {
    let model = shared_smollm2();
    let base_url = serve(openai_router(model.clone() as Arc<dyn LanguageModel>)).await;

    let streaming = client(&base_url, true);
    let models = within(30, "the model list", streaming.list_models())
        .await
        .unwrap();
    assert_eq!(models, vec!["SmolLM2-135M-Instruct.Q4_1"]);

    let mut completion = streaming.complete(greeting(32), CancellationToken::new());
    let (streamed, pieces, outcome) = within(120, "a streamed reply", async {
        let mut streamed = String::new();
        let mut pieces = 0;
        loop {
            match completion.next_event().await.unwrap() {
                CompletionEvent::Piece(piece) => {
                    pieces += 1;
                    streamed.push_str(&piece);
                }
                CompletionEvent::Finished(result) => break (streamed, pieces, result.unwrap()),
            }
        }
    })
    .await;
    println!(
        "streamed in {pieces} pieces: {streamed:?} {:?}",
        outcome.usage
    );
    assert!(pieces > 1);
    assert_eq!(streamed, outcome.text);
    assert!(!outcome.text.trim().is_empty());
    assert!(outcome.usage.prompt_tokens > 10, "{:?}", outcome.usage);

    let whole = within(
        120,
        "a whole reply",
        client(&base_url, false)
            .complete(greeting(32), CancellationToken::new())
            .collect(),
    )
    .await
    .unwrap();
    assert_eq!(whole.text, outcome.text);
    assert_eq!(whole.stop_reason, outcome.stop_reason);
    assert_eq!(
        whole.usage.completion_tokens,
        outcome.usage.completion_tokens
    );

    let direct = within(
        120,
        "the direct reply",
        model
            .complete(greeting(32), CancellationToken::new())
            .collect(),
    )
    .await
    .unwrap();
    assert_eq!(direct.text, outcome.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_schema_constraints_travel_over_the_wire() {
    let base_url = serve(openai_router(shared_smollm2() as Arc<dyn LanguageModel>)).await;
    for stream in [true, false] {
        let request = ChatRequest::new(vec![
            ChatMessage::system(llm_support::AGENT_SYSTEM_PROMPT),
            ChatMessage::user("Open a terminal."),
        ])
        .with_options(GenerationOptions {
            max_tokens: 200,
            constraint: Some(Constraint::JsonSchema(tool_call_schema())),
            ..GenerationOptions::default()
        });
        let outcome = within(
            120,
            "a constrained reply",
            client(&base_url, stream)
                .complete(request, CancellationToken::new())
                .collect(),
        )
        .await
        .unwrap();
        let call: ToolCall = outcome.parse_json().unwrap();
        println!("stream={stream}: {call:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_streamed_reply_frees_the_served_model() {
    let model = shared_smollm2();
    let base_url = serve(openai_router(model.clone() as Arc<dyn LanguageModel>)).await;
    let long = ChatRequest::new(vec![ChatMessage::user("Write a long line.")]).with_options(
        GenerationOptions {
            max_tokens: 2000,
            constraint: Some(Constraint::Grammar(r#"root ::= [a-z ]{2000}"#.into())),
            ..GenerationOptions::default()
        },
    );
    let cancel = CancellationToken::new();
    let mut completion = client(&base_url, true).complete(long, cancel.clone());
    let outcome = within(120, "a cancelled stream", async {
        loop {
            match completion.next_event().await.unwrap() {
                CompletionEvent::Piece(_) => cancel.cancel(),
                CompletionEvent::Finished(result) => break result.unwrap(),
            }
        }
    })
    .await;
    assert_eq!(outcome.stop_reason, StopReason::Cancelled);
    // Had the server kept generating 2000 tokens, this would wait behind it.
    let next = within(
        120,
        "the next request",
        model
            .complete(greeting(8), CancellationToken::new())
            .collect(),
    )
    .await
    .unwrap();
    assert!(!next.text.is_empty());
}

#[tokio::test]
async fn the_router_refuses_bad_requests_in_openai_shape() {
    let base_url = serve(openai_router(shared_smollm2() as Arc<dyn LanguageModel>)).await;
    let http = reqwest::Client::new();
    let url = format!("{base_url}/chat/completions");
    let bad_bodies = [
        "{not json".to_string(),
        r#"{"messages": "hello"}"#.to_string(),
        r#"{"messages": [{"role": "tool", "content": "x"}]}"#.to_string(),
        r#"{"messages": [{"role": "user", "content": "x"}], "grammar": "root ::= ("}"#.to_string(),
        r#"{"messages": [], "stream": true}"#.to_string(),
    ];
    for body in bad_bodies {
        let response = within(
            60,
            "a refusal",
            http.post(&url)
                .header("content-type", "application/json")
                .body(body.clone())
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let refusal: serde_json::Value = response.json().await.unwrap();
        let message = refusal["error"]["message"].as_str().unwrap();
        println!("{body} -> {message}");
        assert!(!message.is_empty());
    }

    let request = greeting(8).with_options(GenerationOptions {
        constraint: Some(Constraint::Grammar("root ::= (".into())),
        ..GenerationOptions::default()
    });
    let error = within(
        60,
        "a refused request",
        client(&base_url, true)
            .complete(request, CancellationToken::new())
            .collect(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, LlmError::Status { status: 400, message, .. } if message.contains("grammar")),
        "{error:?}"
    );
}

/// A server that answers every request with `reply(attempt)` and counts attempts.
async fn scripted_server(
    reply: impl Fn(usize) -> axum::response::Response + Clone + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let router = Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let attempt = counter.fetch_add(1, Ordering::SeqCst);
            let reply = reply.clone();
            async move { reply(attempt) }
        }),
    );
    (serve(router).await, hits)
}

async fn failure(client: OpenAiClient) -> LlmError {
    within(
        60,
        "a failing request",
        client
            .complete(greeting(8), CancellationToken::new())
            .collect(),
    )
    .await
    .expect_err("this server cannot produce a reply")
}

#[tokio::test]
async fn failing_servers_give_typed_errors() {
    let (url, hits) = scripted_server(|_| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error": {"message": "model exploded", "type": "server_error"}}"#,
        )
            .into_response()
    })
    .await;
    let error = failure(client(&url, true)).await;
    assert!(
        matches!(&error, LlmError::Status { status: 500, message, .. } if message == "model exploded"),
        "{error:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3, "one try and two retries");

    let (url, hits) =
        scripted_server(|_| (StatusCode::NOT_FOUND, "no such route").into_response()).await;
    let error = failure(client(&url, false)).await;
    assert!(
        matches!(error, LlmError::Status { status: 404, .. }),
        "{error:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1, "a 404 is not retried");

    let (url, _) =
        scripted_server(|_| (StatusCode::OK, "<html>surprise</html>").into_response()).await;
    let error = failure(client(&url, false)).await;
    assert!(matches!(error, LlmError::Protocol { .. }), "{error:?}");

    let (url, _) = scripted_server(|_| {
        (
            [("content-type", "text/event-stream")],
            "data: this is not json\n\n",
        )
            .into_response()
    })
    .await;
    let error = failure(client(&url, true)).await;
    assert!(matches!(error, LlmError::Protocol { .. }), "{error:?}");

    let cut_short = r#"data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}"#;
    let (url, _) = scripted_server(move |_| {
        (
            [("content-type", "text/event-stream")],
            format!("{cut_short}\n\n"),
        )
            .into_response()
    })
    .await;
    let error = failure(client(&url, true)).await;
    assert!(
        matches!(&error, LlmError::Protocol { reason, .. } if reason.contains("ended")),
        "{error:?}"
    );

    let (url, _) = scripted_server(|_| {
        (
            [("content-type", "text/event-stream")],
            "data: {\"error\": {\"message\": \"out of memory\"}}\n\n",
        )
            .into_response()
    })
    .await;
    let error = failure(client(&url, true)).await;
    assert!(
        matches!(&error, LlmError::Inference(message) if message.contains("out of memory")),
        "{error:?}"
    );

    // Nothing listens on a port just released.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let error = failure(client(&format!("http://{closed}/v1"), true)).await;
    assert!(matches!(error, LlmError::Connect { .. }), "{error:?}");
}

#[tokio::test]
async fn slow_servers_time_out_and_busy_ones_are_retried() {
    let hang = Router::new().route(
        "/v1/chat/completions",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            "never"
        }),
    );
    let url = serve(hang).await;
    let impatient = OpenAiClient::new(
        RemoteSettings::new(&url, "m")
            .with_retries(0, Duration::from_millis(10))
            .with_timeout(Duration::from_secs(1)),
    )
    .unwrap();
    let error = failure(impatient).await;
    assert!(matches!(error, LlmError::Timeout { .. }), "{error:?}");

    let (url, hits) = scripted_server(|attempt| {
        if attempt == 0 {
            (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response()
        } else {
            axum::Json(serde_json::json!({
                "id": "x", "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
            }))
            .into_response()
        }
    })
    .await;
    let outcome = within(
        60,
        "a retried request",
        client(&url, false)
            .complete(greeting(8), CancellationToken::new())
            .collect(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.text, "Hello!");
    assert_eq!(outcome.usage.completion_tokens, 2);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}
