//! Reading the screen on real frames: a headless `digios compositor`
//! process, real foot terminals, Tesseract through the agent's vision
//! service; and the same through the public API of a real agent process.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use digios_agent::actions::{self, ActionError, ActionRequest, ActionsConfig};
use digios_agent::desktop::Desktop;
use digios_agent::vision::frame::Frame;
use digios_agent::vision::{
    Analysis, AnalyzeOptions, MarkError, MarkKind, TextLine, Vision, VisionError,
};
use digios_ipc::{CaptureTarget, Rect, Request, Response, Window};
use digios_tests::digios::{Process, command};
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(90);

/// A headless compositor process and a vision service on its socket.
struct Screen {
    _compositor: Process,
    _runtime_dir: tempfile::TempDir,
    desktop: Desktop,
    vision: Vision,
    runtime: tokio::runtime::Runtime,
}

impl Screen {
    fn start(args: &[&str]) -> Self {
        let runtime_dir = tempfile::tempdir().expect("runtime dir");
        let control = runtime_dir.path().join("control.sock");
        let home = tempfile::tempdir().expect("compositor home");
        let child = command(home.path())
            .env("XDG_RUNTIME_DIR", runtime_dir.path())
            .args([
                "compositor",
                "--headless",
                "--socket-name",
                "wl-vision-test",
            ])
            .arg("--control-socket")
            .arg(&control)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn digios compositor");
        let compositor = Process { child, home };
        let deadline = Instant::now() + DEADLINE;
        while std::os::unix::net::UnixStream::connect(&control).is_err() {
            assert!(Instant::now() < deadline, "no control socket");
            std::thread::sleep(Duration::from_millis(50));
        }
        let desktop = Desktop::new(control);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let vision = Vision::new(desktop.clone());
        Self {
            _compositor: compositor,
            _runtime_dir: runtime_dir,
            desktop,
            vision,
            runtime,
        }
    }

    fn request(&self, request: Request) -> Response {
        self.runtime
            .block_on(self.desktop.request(request))
            .expect("compositor request")
    }

    fn windows(&self) -> Vec<Window> {
        self.runtime.block_on(self.desktop.windows()).unwrap()
    }

    fn analyze(&self, options: AnalyzeOptions) -> Result<Arc<Analysis>, VisionError> {
        self.runtime.block_on(self.vision.analyze(options))
    }

    fn settle(&self) {
        self.request(Request::WaitIdle {
            quiet_ms: 300,
            timeout_ms: 10_000,
        });
    }

    /// Starts foot with a title and font size running `script`; waits for
    /// its window.
    fn foot(&self, title: &str, size: u32, script: &str) -> Window {
        let command = [
            "foot",
            "--config=/dev/null",
            "--title",
            title,
            "-o",
            &format!("font=monospace:size={size}"),
            "-e",
            "sh",
            "-c",
            script,
        ];
        self.request(Request::Spawn {
            command: command.iter().map(|s| s.to_string()).collect(),
            env: vec![("LC_ALL".into(), "C.UTF-8".into())],
        });
        self.wait(&format!("the foot window {title:?}"), || {
            self.windows()
                .into_iter()
                .find(|w| w.title.as_deref() == Some(title))
        })
    }

    fn wait<T>(&self, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(value) = probe() {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Analyzes until the window's text holds `needle` (foot draws a little
    /// after it maps).
    fn text_of(&self, window: u64, needle: &str) -> Arc<Analysis> {
        let mut last = None;
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            self.settle();
            let analysis = self.analyze(AnalyzeOptions::default()).unwrap();
            if window_text(&analysis, window).contains(needle) {
                return analysis;
            }
            last = Some(analysis);
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "{needle:?} never appeared in window {window}: {:?}",
            last.map(|a| window_text(&a, window))
        );
    }

    fn click(&self, params: serde_json::Value) -> Result<serde_json::Value, ActionError> {
        let request = ActionRequest {
            action_type: "click".into(),
            params,
        };
        let action = actions::parse(&request)?;
        self.runtime
            .block_on(actions::perform(
                &self.desktop,
                &ActionsConfig::default(),
                action,
            ))
            .map(|outcome| outcome.result)
    }
}

fn lines_of(analysis: &Analysis, window: u64) -> Vec<&TextLine> {
    analysis
        .text
        .iter()
        .filter(|line| line.window_id == Some(window))
        .collect()
}

fn window_text(analysis: &Analysis, window: u64) -> String {
    lines_of(analysis, window)
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Text a terminal user sees: prose, paths, flags, numbers, identifiers.
const SAMPLE: [&str; 8] = [
    "The quick brown fox jumps over the lazy dog",
    "Release notes for digiOS version 0.1.0",
    "error: cannot open file /etc/digios/digios.toml",
    "total 1234 drwxr-xr-x root /usr/share/doc",
    "Hello vision_test_42 accuracy check passed",
    "make install PREFIX=/usr/local DESTDIR=/tmp/stage",
    "Connected to 192.168.1.20 on port 8765",
    "Warning: 3 packages can be upgraded today",
];

fn printf_script(lines: &[&str]) -> String {
    let body = lines.join("\\n");
    format!("printf '{body}\\n'; exec sleep 300")
}

/// Matches expected words against recognised ones, each used once.
fn word_matches(expected: &[&str], recognised: &str) -> usize {
    let mut pool: Vec<&str> = recognised.split_whitespace().collect();
    let mut matched = 0;
    for word in expected.iter().flat_map(|line| line.split_whitespace()) {
        if let Some(at) = pool.iter().position(|w| *w == word) {
            pool.swap_remove(at);
            matched += 1;
        }
    }
    matched
}

#[test]
fn ocr_reads_text_printed_in_foot_at_several_font_sizes() {
    let screen = Screen::start(&[]);
    let expected_words: usize = SAMPLE.iter().map(|l| l.split_whitespace().count()).sum();
    let mut matched_total = 0;
    let mut expected_total = 0;
    for size in [8, 11, 14] {
        let title = format!("ocr size {size}");
        let window = screen.foot(&title, size, &printf_script(&SAMPLE));
        screen.request(Request::Maximize {
            id: window.id,
            on: true,
        });
        let analysis = screen.text_of(window.id, "upgraded");
        let text = window_text(&analysis, window.id);
        let matched = word_matches(&SAMPLE, &text);
        println!("size {size}: {matched}/{expected_words} words\n{text}\n");
        matched_total += matched;
        expected_total += expected_words;
        // Every line's words sit inside its box; boxes lie in the window.
        for line in lines_of(&analysis, window.id) {
            let geometry = screen
                .windows()
                .into_iter()
                .find(|w| w.id == window.id)
                .unwrap()
                .geometry;
            assert!(
                geometry.intersection(&line.bbox) == Some(line.bbox),
                "{line:?}"
            );
            for word in &line.words {
                assert_eq!(line.bbox.intersection(&word.bbox), Some(word.bbox));
                assert!((0.0..=100.0).contains(&word.confidence));
            }
        }
        screen.request(Request::Close { id: window.id });
        screen.wait("the window to close", || {
            (!screen.windows().iter().any(|w| w.id == window.id)).then_some(())
        });
    }
    let accuracy = matched_total as f64 / expected_total as f64;
    println!(
        "word accuracy {:.1} % ({matched_total}/{expected_total})",
        accuracy * 100.0
    );
    assert!(accuracy >= 0.95, "word accuracy {:.1} %", accuracy * 100.0);
}

/// Ink pixels (differing from the background) of `frame` inside `rect`,
/// as their bounding box in global coordinates.
fn ink_box(frame: &Frame, rect: Rect) -> Option<Rect> {
    let pixels = frame.to_pixels(rect)?;
    let background = &frame.rgba[..4];
    let mut found: Option<Rect> = None;
    for y in pixels.y..pixels.y + pixels.height {
        for x in pixels.x..pixels.x + pixels.width {
            let at = (y * frame.width as usize + x) * 4;
            let pixel = &frame.rgba[at..at + 4];
            let distance: i32 = pixel[..3]
                .iter()
                .zip(&background[..3])
                .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
                .sum();
            if distance > 120 {
                let point = Rect::new(frame.area.x + x as i32, frame.area.y + y as i32, 1, 1);
                found = Some(found.map_or(point, |all| all.union(&point)));
            }
        }
    }
    found
}

#[test]
fn marks_list_the_foot_title_and_text_lines_with_boxes_around_the_text() {
    let screen = Screen::start(&[]);
    let lines = ["first mark line", "second line of marks", "third one here"];
    let window = screen.foot("marked terminal", 11, &printf_script(&lines));
    let analysis = screen.text_of(window.id, "third");
    let window = analysis
        .windows
        .iter()
        .find(|w| w.id == window.id)
        .unwrap()
        .clone();
    let title = analysis
        .marks
        .iter()
        .find(|m| m.kind == MarkKind::Window && m.window_id == Some(window.id))
        .expect("a mark for the title bar");
    assert_eq!(title.label, "marked terminal");
    let bar = window.title_bar.unwrap();
    assert!(bar.contains(title.click.x, title.click.y));
    assert!(
        analysis
            .marks
            .iter()
            .any(|m| m.kind == MarkKind::CloseButton
                && m.window_id == Some(window.id)
                && bar.contains(m.click.x, m.click.y))
    );
    let content = screen.runtime.block_on(Frame::capture(
        &screen.desktop,
        CaptureTarget::Region {
            rect: window.geometry,
        },
    ));
    let content = content.unwrap();
    for expected in lines {
        let mark = analysis
            .marks
            .iter()
            .find(|m| m.kind == MarkKind::Text && m.label == expected)
            .unwrap_or_else(|| panic!("no text mark {expected:?}: {:#?}", analysis.marks));
        assert!(mark.bbox.contains(mark.click.x, mark.click.y));
        // The rendered glyphs around the box lie inside it (1 px slack for
        // anti-aliasing), so clicking anywhere in it hits the text.
        let around = Rect::new(
            mark.bbox.x - 3,
            mark.bbox.y - 2,
            mark.bbox.width + 6,
            mark.bbox.height + 4,
        );
        let ink = ink_box(&content, around).expect("ink near the mark");
        let slack = Rect::new(
            mark.bbox.x - 1,
            mark.bbox.y - 1,
            mark.bbox.width + 2,
            mark.bbox.height + 2,
        );
        assert_eq!(slack.intersection(&ink), Some(ink), "{mark:?} ink {ink:?}");
    }
    let numbers: Vec<u32> = analysis.marks.iter().map(|m| m.number).collect();
    assert_eq!(
        numbers,
        (1..=analysis.marks.len() as u32).collect::<Vec<_>>()
    );
}

#[test]
fn clicking_marks_focuses_windows_and_presses_close_and_refuses_bad_numbers() {
    let screen = Screen::start(&[]);
    let below = screen.foot("window below", 8, "exec sleep 300");
    let above = screen.foot("window above", 8, "exec sleep 300");
    screen.request(Request::Move {
        id: above.id,
        x: 500,
        y: 300,
    });
    screen.settle();
    let focused = |id| screen.windows().iter().any(|w| w.id == id && w.focused);
    assert!(focused(above.id));
    // No analysis yet.
    assert!(matches!(
        screen.click(json!({"mark": 1})),
        Err(ActionError::Mark(MarkError::NoAnalysis))
    ));
    let analysis = screen.analyze(AnalyzeOptions::default()).unwrap();
    let number_of = |kind, id| {
        analysis
            .marks
            .iter()
            .find(|m| m.kind == kind && m.window_id == Some(id))
            .map(|m| m.number)
            .unwrap()
    };
    let result = screen
        .click(json!({"mark": number_of(MarkKind::Window, below.id), "analysis_id": analysis.id}))
        .unwrap();
    assert_eq!(result["mark"]["label"], "window below");
    screen.wait("the clicked window to take focus", || {
        focused(below.id).then_some(())
    });
    // Unknown numbers, and numbers from an older analysis, are refused.
    assert!(matches!(
        screen.click(json!({"mark": 999})),
        Err(ActionError::Mark(MarkError::Unknown { mark: 999, .. }))
    ));
    assert!(matches!(
        screen.click(json!({"mark": 1, "analysis_id": analysis.id + 7})),
        Err(ActionError::Mark(MarkError::Stale { .. }))
    ));
    assert!(matches!(
        screen.click(json!({"mark": 1, "x": 3, "y": 4})),
        Err(ActionError::InvalidParams { .. })
    ));
    // A window that moved makes its marks stale rather than mis-clicked.
    let close_above = number_of(MarkKind::CloseButton, above.id);
    screen.request(Request::Move {
        id: above.id,
        x: 520,
        y: 320,
    });
    assert!(matches!(
        screen.click(json!({"mark": close_above})),
        Err(ActionError::Mark(MarkError::Stale { .. }))
    ));
    let analysis = screen.analyze(AnalyzeOptions::default()).unwrap();
    let close_above = analysis
        .marks
        .iter()
        .find(|m| m.kind == MarkKind::CloseButton && m.window_id == Some(above.id))
        .unwrap()
        .number;
    screen.click(json!({"mark": close_above})).unwrap();
    screen.wait("the closed window to go", || {
        (!screen.windows().iter().any(|w| w.id == above.id)).then_some(())
    });
    // The maximize button maximizes.
    let analysis = screen.analyze(AnalyzeOptions::default()).unwrap();
    let maximize = analysis
        .marks
        .iter()
        .find(|m| m.kind == MarkKind::MaximizeButton && m.window_id == Some(below.id))
        .unwrap();
    assert_eq!(maximize.label, "maximize window below");
    screen.click(json!({"mark": maximize.number})).unwrap();
    screen.wait("the window to maximize", || {
        screen
            .windows()
            .iter()
            .any(|w| w.id == below.id && w.maximized)
            .then_some(())
    });
}

#[test]
fn typing_into_foot_reports_the_changed_region_and_the_new_text() {
    let screen = Screen::start(&[]);
    let window = screen.foot("typing", 11, "printf 'ready to type\\n'; exec cat");
    screen.text_of(window.id, "ready");
    let token = screen
        .runtime
        .block_on(screen.vision.change_token())
        .unwrap();
    screen.request(Request::Type {
        text: "changed_text_77 appears\n".into(),
    });
    let report = screen
        .runtime
        .block_on(screen.vision.changes_since(&token, true))
        .unwrap();
    assert!(report.changed(), "{report:?}");
    let geometry = screen
        .windows()
        .into_iter()
        .find(|w| w.id == window.id)
        .unwrap()
        .geometry;
    for region in &report.regions {
        assert!(
            region.overlaps(&geometry),
            "{region:?} is outside {geometry:?}"
        );
    }
    let added: Vec<&str> = report.added_text.iter().map(|l| l.text.as_str()).collect();
    assert!(
        added.iter().any(|t| t.contains("changed_text_77")),
        "added text: {added:?}"
    );
    for line in &report.added_text {
        assert!(report.regions.iter().any(|r| r.overlaps(&line.bbox)));
    }
    assert!(!report.removed_text.iter().any(|l| l.text.contains("ready")));
    // The analysis after the change read only what changed.
    let after = screen.vision.latest().unwrap();
    assert!(after.stats.reused_lines >= 1, "{:?}", after.stats);
    // Nothing typed: nothing changed.
    let token = screen
        .runtime
        .block_on(screen.vision.change_token())
        .unwrap();
    let report = screen
        .runtime
        .block_on(screen.vision.changes_since(&token, true))
        .unwrap();
    assert!(!report.changed(), "{report:?}");
}

#[test]
fn bad_input_gives_empty_results_or_typed_errors() {
    let screen = Screen::start(&[]);
    // A blank screen: no windows, no text, no marks.
    let blank = screen.analyze(AnalyzeOptions::default()).unwrap();
    assert!(blank.text.is_empty() && blank.marks.is_empty() && blank.windows.is_empty());
    let region = |x, y, w, h| AnalyzeOptions {
        window: None,
        region: Some(Rect::new(x, y, w, h)),
    };
    assert!(
        screen
            .analyze(region(0, 0, 1280, 800))
            .unwrap()
            .text
            .is_empty()
    );
    assert!(matches!(
        screen.analyze(region(5000, 5000, 100, 100)),
        Err(VisionError::OutsideScreen(_))
    ));
    assert!(matches!(
        screen.analyze(region(10, 10, 0, 5)),
        Err(VisionError::EmptyRegion(_))
    ));
    assert!(matches!(
        screen.analyze(AnalyzeOptions {
            window: Some(4242),
            region: None
        }),
        Err(VisionError::Desktop(_))
    ));
    let window = screen.foot("tiny", 11, "printf 'some words here\\n'; exec sleep 300");
    screen.text_of(window.id, "words");
    // A region hanging off the screen is clipped; one smaller than a glyph reads nothing.
    let clipped = screen.analyze(region(-500, -500, 3000, 3000)).unwrap();
    assert!(clipped.text.iter().any(|l| l.text.contains("words")));
    let geometry = window.geometry;
    let dot = screen
        .analyze(region(geometry.x + 2, geometry.y + 2, 3, 3))
        .unwrap();
    assert!(dot.text.is_empty());
    // A window squeezed below a glyph's size.
    screen.request(Request::Resize {
        id: window.id,
        width: 4,
        height: 4,
    });
    screen.settle();
    let squeezed = screen
        .analyze(AnalyzeOptions {
            window: Some(window.id),
            region: None,
        })
        .unwrap();
    assert!(squeezed.text.iter().all(|l| l.window_id == Some(window.id)));
}

#[test]
fn a_huge_output_is_read_in_strips() {
    let screen = Screen::start(&["--size", "7680x4320"]);
    let window = screen.foot("huge", 11, "printf 'big screen text\\n'; exec sleep 300");
    let analysis = screen.text_of(window.id, "screen");
    assert_eq!(analysis.screen, vec![Rect::new(0, 0, 7680, 4320)]);
    // The whole output as one region: captured and read in strips.
    let whole = screen
        .analyze(AnalyzeOptions {
            window: None,
            region: Some(Rect::new(0, 0, 7680, 4320)),
        })
        .unwrap();
    assert!(whole.text.iter().any(|l| l.text.contains("screen")));
}

#[test]
fn the_api_analyzes_clicks_marks_draws_them_and_reports_changes() {
    use serde_json::Value;
    let desktop = digios_tests::digios::start_desktop();
    let url = desktop.url.clone();
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let get = |path: &str| -> (u16, Value) {
        let response = http.get(format!("{url}{path}")).send().unwrap();
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    };
    let action = |action_type: &str, params: Value| -> (u16, Value) {
        let response = http
            .post(format!("{url}/api/action"))
            .json(&json!({"action_type": action_type, "params": params}))
            .send()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    };
    let (_, openapi) = get("/api/openapi.json");
    assert!(openapi["paths"]["/api/vision/analyze"]["get"].is_object());

    let (status, _) = action(
        "launch_app",
        json!({"command": ["foot", "--config=/dev/null", "--title", "api vision", "-e",
                            "sh", "-c", "printf 'api text line\\n'; exec cat"]}),
    );
    assert_eq!(status, 200);
    let deadline = Instant::now() + DEADLINE;
    let analysis = loop {
        let (status, analysis) = get("/api/vision/analyze");
        assert_eq!(status, 200, "{analysis}");
        let texts: Vec<&str> = analysis["text"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|l| l["text"].as_str())
            .collect();
        if texts.iter().any(|t| t.contains("api text line")) {
            break analysis;
        }
        assert!(Instant::now() < deadline, "no text read: {analysis}");
        std::thread::sleep(Duration::from_millis(300));
    };
    let marks = analysis["marks"].as_array().unwrap();
    let title = marks
        .iter()
        .find(|m| m["kind"] == "window" && m["label"] == "api vision")
        .unwrap_or_else(|| panic!("no title mark: {analysis}"));
    for field in ["number", "kind", "label", "bbox", "click"] {
        assert!(!title[field].is_null(), "{field} missing in {title}");
    }
    let line = marks
        .iter()
        .find(|m| m["kind"] == "text" && m["label"] == "api text line")
        .unwrap_or_else(|| panic!("no text mark: {analysis}"));
    assert!(analysis["text"][0]["words"][0]["confidence"].is_number());

    // Follow the vision topic, then act: the change arrives as an event.
    let ws_url = format!("{}/api/ws", url.replace("http://", "ws://"));
    let (mut socket, _) = tungstenite::connect(ws_url).unwrap();
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
    }
    socket
        .send(tungstenite::Message::Text(
            json!({"type": "subscribe", "topics": ["vision"]})
                .to_string()
                .into(),
        ))
        .unwrap();
    let (status, clicked) = action("click", json!({"mark": line["number"]}));
    assert_eq!(status, 200, "{clicked}");
    assert_eq!(clicked["result"]["mark"]["label"], "api text line");
    let (status, _) = action("type_text", json!({"text": "typed_via_api\n"}));
    assert_eq!(status, 200);
    let deadline = Instant::now() + DEADLINE;
    loop {
        assert!(
            Instant::now() < deadline,
            "no screen_changed event with the typed text"
        );
        let message = socket.read().unwrap();
        let tungstenite::Message::Text(text) = message else {
            continue;
        };
        let event: Value = serde_json::from_str(&text).unwrap();
        if event["topic"] != "vision" || event["kind"] != "screen_changed" {
            continue;
        }
        assert!(!event["data"]["regions"].as_array().unwrap().is_empty());
        let added = event["data"]["added_text"].to_string();
        println!(
            "screen_changed after {}: {added}",
            event["data"]["action_type"]
        );
        if added.contains("typed_via_api") {
            break;
        }
    }

    // Bad numbers are typed errors.
    let (status, body) = action("click", json!({"mark": 10_000}));
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "unknown_mark");
    let (status, body) = get("/api/vision/analyze?region=9000,9000,10,10");
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "out_of_bounds");
    let (status, _) = get("/api/vision/analyze?region=1,2");
    assert_eq!(status, 422);

    // The screenshot draws the same numbered marks.
    let shot = |query: &str| {
        let response = http
            .get(format!("{url}/api/vision/screenshot{query}"))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().unwrap().to_vec()
    };
    let decode = |png: Vec<u8>| {
        let mut reader = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap();
        let mut pixels = vec![0; reader.output_buffer_size()];
        reader.next_frame(&mut pixels).unwrap();
        pixels
    };
    let plain = decode(shot(""));
    let marked = decode(shot("?marks=true"));
    assert_eq!(plain.len(), marked.len());
    assert_ne!(plain, marked);
}
