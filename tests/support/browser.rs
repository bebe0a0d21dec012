//! Headless Chromium driven over WebDriver (Debian `chromium` and
//! `chromium-driver`): a small blocking client of the W3C protocol.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The W3C key for an element reference in WebDriver JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running chromedriver with one browser session; both end when dropped.
pub struct Browser {
    driver: Child,
    http: reqwest::blocking::Client,
    session: String,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium window of 1600×1000.
    pub fn start() -> Browser {
        Self::start_with(&[])
    }

    /// Like [`Browser::start`], with extra Chromium switches.
    pub fn start_with(extra_args: &[String]) -> Browser {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
            assert!(
                std::path::Path::new(tool).exists(),
                "{tool} is missing: install Debian's chromium and chromium-driver (cargo xtask setup does)"
            );
        }
        let port = free_port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .no_proxy()
            .build()
            .expect("an HTTP client");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = http
                .get(format!("{base}/status"))
                .send()
                .ok()
                .and_then(|r| r.json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().expect("browser profile");
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1600,1000",
            "--force-device-scale-factor=1",
            "--no-first-run",
        ]
        .map(String::from)
        .to_vec();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.extend_from_slice(extra_args);
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args},
        }}});
        let mut browser = Browser {
            driver,
            http,
            session: base.clone(),
            _profile: profile,
        };
        let created = browser.call("POST", "/session", capabilities);
        let id = created["sessionId"]
            .as_str()
            .expect("a WebDriver session id")
            .to_string();
        browser.session = format!("{base}/session/{id}");
        browser
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.session);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let response = request.send().expect("chromedriver answers");
        let status = response.status();
        let value: Value = response.json().expect("WebDriver JSON");
        assert!(status.is_success(), "WebDriver {method} {path}: {value}");
        value["value"].clone()
    }

    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", json!({"url": url}));
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub fn eval(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
    }

    /// Runs `script`, an async function body whose result is awaited.
    pub fn eval_async(&self, script: &str, args: Value) -> Value {
        let wrapped = format!(
            "const done = arguments[arguments.length - 1];\
             (async (...arguments) => {{ {script} }})(...Array.from(arguments).slice(0, -1))\
             .then(done, (e) => done({{thrown: String(e && (e.code || e.message) || e)}}));"
        );
        self.call(
            "POST",
            "/execute/async",
            json!({"script": wrapped, "args": args}),
        )
    }

    /// Polls `script` until it returns a truthy value; returns it.
    pub fn wait_for(&self, what: &str, script: &str, timeout: Duration) -> Value {
        self.wait_for_or_explain(what, script, String::new, timeout)
    }

    /// As [`Browser::wait_for`]; on timeout the failure carries what
    /// `explain` returns (the page's and the desktop's state, to tell why).
    pub fn wait_for_or_explain(
        &self,
        what: &str,
        script: &str,
        explain: impl Fn() -> String,
        timeout: Duration,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.eval(script, json!([]));
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value != json!(0)
                && value != json!("");
            if truthy {
                return value;
            }
            if Instant::now() >= deadline {
                panic!("timed out waiting for {what}; {}", explain());
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    fn element(&self, css: &str) -> String {
        let found = self.call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        found[ELEMENT]
            .as_str()
            .expect("an element reference")
            .to_string()
    }

    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.call("POST", &format!("/element/{id}/click"), json!({}));
    }

    /// Types into an input element.
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            json!({"text": text}),
        );
    }

    /// A left click at viewport coordinates, as a real mouse would.
    pub fn click_at(&self, x: i64, y: i64) {
        let actions = json!({"actions": [{"type": "pointer", "id": "mouse",
        "parameters": {"pointerType": "mouse"},
        "actions": [
            {"type": "pointerMove", "duration": 0, "origin": "viewport", "x": x, "y": y},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerUp", "button": 0},
        ]}]});
        self.call("POST", "/actions", actions);
        self.call("DELETE", "/actions", json!({}));
    }

    /// Holds the left button on the element `css` for `held`, as a person
    /// holds a push-to-talk button.
    pub fn hold(&self, css: &str, held: Duration) {
        let id = self.element(css);
        let actions = json!({"actions": [{"type": "pointer", "id": "mouse",
        "parameters": {"pointerType": "mouse"},
        "actions": [
            {"type": "pointerMove", "duration": 0, "origin": {ELEMENT: id}, "x": 0, "y": 0},
            {"type": "pointerDown", "button": 0},
            {"type": "pause", "duration": held.as_millis() as u64},
            {"type": "pointerUp", "button": 0},
        ]}]});
        self.call("POST", "/actions", actions);
        self.call("DELETE", "/actions", json!({}));
    }

    /// A left-button drag between viewport coordinates.
    pub fn drag(&self, from: (i64, i64), to: (i64, i64)) {
        let actions = json!({"actions": [{"type": "pointer", "id": "mouse",
        "parameters": {"pointerType": "mouse"},
        "actions": [
            {"type": "pointerMove", "duration": 0, "origin": "viewport", "x": from.0, "y": from.1},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerMove", "duration": 200, "origin": "viewport", "x": to.0, "y": to.1},
            {"type": "pointerUp", "button": 0},
        ]}]});
        self.call("POST", "/actions", actions);
        self.call("DELETE", "/actions", json!({}));
    }

    /// Presses `key` while `modifier` (a WebDriver key code such as
    /// `\u{E009}`, Control) is held.
    pub fn press_chord(&self, modifier: &str, key: &str) {
        let actions = json!([
            {"type": "keyDown", "value": modifier},
            {"type": "keyDown", "value": key},
            {"type": "keyUp", "value": key},
            {"type": "keyUp", "value": modifier},
        ]);
        self.call(
            "POST",
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}),
        );
        self.call("DELETE", "/actions", json!({}));
    }

    /// Presses keys on whatever has focus; `keys` may hold WebDriver key
    /// codes such as `\u{E007}` (Enter).
    pub fn press_keys(&self, keys: &str) {
        let mut actions = Vec::new();
        for key in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": key.to_string()}));
            actions.push(json!({"type": "keyUp", "value": key.to_string()}));
        }
        self.call(
            "POST",
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}),
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.http.delete(&self.session).send();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
