//! A blocking JSON client of a running agent's API, for end-to-end tests.

use std::time::{Duration, Instant};

use serde_json::Value;

/// A blocking HTTP client that gives up on a request after `timeout`.
pub fn http_client(timeout: Duration) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .build()
        .expect("an HTTP client")
}

pub struct ApiClient {
    pub http: reqwest::blocking::Client,
    pub url: String,
}

impl ApiClient {
    /// A client of the API at `url` (e.g. `http://127.0.0.1:41234`).
    pub fn new(url: &str) -> Self {
        Self {
            http: http_client(Duration::from_secs(60)),
            url: url.to_string(),
        }
    }

    /// GET `path`: the status and the JSON body (`null` when not JSON).
    pub fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .expect("GET reaches the agent");
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// POST `body` (a `digios_api` request type, or any JSON) to `path`:
    /// the status and the JSON body.
    pub fn post(&self, path: &str, body: impl serde::Serialize) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .expect("POST reaches the agent");
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// Submits `goal` as a task; the task as the API answers it.
    pub fn submit_task(&self, goal: &str) -> digios_api::TaskView {
        let (status, body) = self.post("/api/tasks", digios_api::NewTask::new(goal));
        assert_eq!(status, 202, "{body}");
        serde_json::from_value(body).expect("a task view")
    }

    /// The task with its steps.
    pub fn task(&self, id: i64) -> digios_api::TaskView {
        let (status, body) = self.get(&format!("/api/tasks/{id}"));
        assert_eq!(status, 200, "{body}");
        serde_json::from_value(body).expect("a task view")
    }

    /// The error code of a refusal's body, e.g. `ErrorCode::NotFound`.
    pub fn error_code(body: &Value) -> Option<digios_api::ErrorCode> {
        serde_json::from_value::<digios_api::ErrorBody>(body.clone())
            .ok()
            .map(|body| body.error.code)
    }

    /// The compositor's windows, through `/api/windows`.
    pub fn windows(&self) -> Vec<Value> {
        let (status, body) = self.get("/api/windows");
        assert_eq!(status, 200, "{body}");
        body.as_array().cloned().unwrap_or_default()
    }

    /// Polls the window list until `pred` holds for some window; that window.
    pub fn wait_window(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(window) = self.windows().into_iter().find(|w| pred(w)) {
                return window;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {:?}",
                self.windows()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `/api/vision/screenshot` with `query` (e.g. `reticle=true`), decoded
    /// to straight RGBA: width, height, pixels.
    pub fn screenshot(&self, query: &str) -> (u32, u32, Vec<u8>) {
        let response = self
            .http
            .get(format!("{}/api/vision/screenshot?{query}", self.url))
            .send()
            .expect("GET reaches the agent");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "image/png");
        crate::screen::decode_png(&response.bytes().expect("the PNG's bytes"))
    }
}
