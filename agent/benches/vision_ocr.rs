//! OCR latency on real frames: a headless compositor with a maximized foot
//! full of text. Whole 1280×800 frame and a single changed region, against
//! the `tesseract` command line on the same PNG in the same run. Prints
//! figures and ratios; asserts nothing.
//!
//! Needs the digios-compositor binary of the same profile (`cargo xtask bench` builds it).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use digios_agent::desktop::Desktop;
use digios_agent::vision::frame::Frame;
use digios_agent::vision::{AnalyzeOptions, Vision};
use digios_ipc::{CaptureRequest, CaptureTarget, ImageFormat, Rect, Request, Response};

const ROUNDS: usize = 5;
const LINE: &str = "the quick brown fox jumps over the lazy dog 0123456789 /usr/share/doc";

fn main() {
    let compositor = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("digios-compositor")))
        .filter(|path| path.exists());
    let Some(compositor) = compositor else {
        println!("vision_ocr: the digios-compositor binary of this profile is missing; skipped");
        return;
    };
    let runtime_dir = tempfile::tempdir().expect("runtime dir");
    let control = runtime_dir.path().join("control.sock");
    let mut child = Command::new(&compositor)
        .args(["--headless", "--socket-name", "wl-vision-bench"])
        .arg("--control-socket")
        .arg(&control)
        .env("XDG_RUNTIME_DIR", runtime_dir.path())
        .env("DIGIOS_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the compositor");
    let result = std::panic::catch_unwind(|| bench(control, runtime_dir.path().into()));
    let _ = child.kill();
    let _ = child.wait();
    if result.is_err() {
        println!("vision_ocr: failed");
    }
}

fn bench(control: PathBuf, scratch: PathBuf) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::os::unix::net::UnixStream::connect(&control).is_err() {
        assert!(Instant::now() < deadline, "no control socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let desktop = Desktop::new(control);
    let request = |request: Request| runtime.block_on(desktop.request(request)).unwrap();
    let script = format!("for i in $(seq 1 60); do echo \"$i {LINE}\"; done; exec cat");
    request(Request::Spawn {
        command: [
            "foot",
            "--config=/dev/null",
            "--title",
            "bench",
            "-e",
            "sh",
            "-c",
            &script,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        env: vec![("LC_ALL".into(), "C.UTF-8".into())],
    });
    let window = loop {
        let windows = runtime.block_on(desktop.windows()).unwrap();
        if let Some(window) = windows
            .into_iter()
            .find(|w| w.title.as_deref() == Some("bench"))
        {
            break window;
        }
        assert!(Instant::now() < deadline, "foot did not open");
        std::thread::sleep(Duration::from_millis(100));
    };
    request(Request::Maximize {
        id: window.id,
        on: true,
    });
    let settle = || {
        request(Request::WaitIdle {
            quiet_ms: 300,
            timeout_ms: 10_000,
        })
    };
    settle();
    std::thread::sleep(Duration::from_millis(500));
    settle();

    let capture = |target: CaptureTarget, format| match request(Request::Capture(CaptureRequest {
        target,
        format,
        ..CaptureRequest::default()
    })) {
        Response::Image(image) => image,
        other => panic!("{other:?}"),
    };
    let png = capture(CaptureTarget::Screen, ImageFormat::Png);
    let png_path = scratch.join("frame.png");
    std::fs::write(&png_path, &png.data).unwrap();
    let raw = capture(CaptureTarget::Screen, ImageFormat::Rgba);
    let frame = Frame::new(raw.area, raw.scale, raw.width, raw.height, raw.data);

    // The anchor: the command line on the same PNG, process start included
    // (that is what a caller of the CLI pays).
    let mut cli_text = String::new();
    let cli = median(|| {
        let output = Command::new("tesseract")
            .arg(&png_path)
            .arg("stdout")
            .stderr(Stdio::null())
            .output()
            .expect("tesseract CLI");
        cli_text = String::from_utf8_lossy(&output.stdout).into_owned();
    });

    let vision = Vision::new(desktop.clone());
    let mut ours_text = String::new();
    // Engines start on first use; warm them so the figure is steady state.
    runtime.block_on(vision.read_frame(&frame)).unwrap();
    let whole = median(|| {
        let lines = runtime.block_on(vision.read_frame(&frame)).unwrap();
        ours_text = lines
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n");
    });

    // A single changed region: one terminal line, captured and read.
    let line_rect = Rect::new(
        window.geometry.x,
        window.geometry.y + 28,
        window.geometry.width,
        16,
    );
    let line_frame = {
        let raw = capture(CaptureTarget::Region { rect: line_rect }, ImageFormat::Rgba);
        Frame::new(raw.area, raw.scale, raw.width, raw.height, raw.data)
    };
    let region = median(|| {
        runtime.block_on(vision.read_frame(&line_frame)).unwrap();
    });

    // The same through the cache: type into foot, analyze again; only the
    // changed rows are read.
    runtime
        .block_on(vision.analyze(AnalyzeOptions::default()))
        .unwrap();
    let mut bands = Vec::new();
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            request(Request::Type { text: "x".into() });
            settle();
            let started = Instant::now();
            let analysis = runtime
                .block_on(vision.analyze(AnalyzeOptions::default()))
                .unwrap();
            bands.push(analysis.stats.ocr_bands);
            started.elapsed()
        })
        .collect();
    times.sort();
    let incremental = times[ROUNDS / 2];

    let words = |text: &str| score(text);
    println!(
        "vision_ocr (1280x800 frame, foot maximized, {} lines of text)",
        60
    );
    println!(
        "  tesseract CLI, whole frame:        {:>8.1} ms  ({} words right)",
        ms(cli),
        words(&cli_text)
    );
    println!(
        "  digiOS OCR, whole frame:           {:>8.1} ms  ({} words right, {} threads)",
        ms(whole),
        words(&ours_text),
        vision_threads()
    );
    println!(
        "  digiOS OCR, one changed line:      {:>8.1} ms",
        ms(region)
    );
    println!(
        "  digiOS analyze after typing a key: {:>8.1} ms  (bands read: {bands:?})",
        ms(incremental)
    );
    println!(
        "  ratios: CLI / whole frame = {:.2}x; whole frame / changed line = {:.1}x; whole frame / analyze after a key = {:.1}x",
        ms(cli) / ms(whole),
        ms(whole) / ms(region),
        ms(whole) / ms(incremental)
    );
}

fn vision_threads() -> usize {
    digios_agent::vision::pool::OcrPool::default_size()
}

/// Words of the printed lines found in `text`.
fn score(text: &str) -> String {
    let expected: Vec<String> = (1..=60)
        .flat_map(|i| {
            format!("{i} {LINE}")
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut pool: Vec<&str> = text.split_whitespace().collect();
    let visible = pool.len();
    let mut matched = 0;
    for word in &expected {
        if let Some(at) = pool.iter().position(|w| w == word) {
            pool.swap_remove(at);
            matched += 1;
        }
    }
    format!("{matched}/{visible}")
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Median wall time of `ROUNDS` runs of `run`.
fn median(mut run: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[ROUNDS / 2]
}
