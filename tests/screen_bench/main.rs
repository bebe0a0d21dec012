//! `cargo xtask bench web`: the live screen stream against a VNC-style
//! full-frame approach (a whole-screen PNG from `/api/vision/screenshot` per
//! change), measured in the same run on the same typing session into foot:
//! latency from a damage in the compositor (its `screen_changed` event) to
//! the update received by the client, and bytes per second. Also the size
//! and encoding time of the stream's rectangles in each browser-decodable
//! encoding. Prints
//! figures and ratios; asserts nothing. Uses the debug `digios` the tests use.

use std::io::Write;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use digios_ipc::{Client, Event};
use digios_tests::api_client::ApiClient;
use digios_tests::digios::start_desktop;
use digios_tests::screen::{Incoming, Patch, ScreenClient};
use serde_json::json;

/// One key every this often, a brisk typist's pace.
const PACE: Duration = Duration::from_millis(150);
/// Steps of the window-move session.
const MOVES: usize = 20;
const TEXT: &str = "the quick brown fox jumps over the lazy dog 0123456789";

#[derive(Default)]
struct Session {
    latencies: Vec<Duration>,
    bytes: usize,
    updates: usize,
    elapsed: Duration,
    patches: Vec<Patch>,
}

impl Session {
    fn bytes_per_second(&self) -> f64 {
        self.bytes as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(index).copied().unwrap_or_default()
    }
}

fn main() {
    let desktop = start_desktop();
    let api = ApiClient::new(&desktop.url);
    let damage = follow_damage(&desktop.control_socket);

    let (status, body) = api.post(
        "/api/action",
        json!({"action_type": "launch_app", "params": {"command": ["foot", "--app-id", "bench-typing", "cat"]}}),
    );
    assert_eq!(status, 200, "launching foot: {body}");
    let window = wait_for_foot(&api);
    let center = (
        window["geometry"]["x"].as_i64().unwrap()
            + window["geometry"]["width"].as_i64().unwrap() / 2,
        window["geometry"]["y"].as_i64().unwrap()
            + window["geometry"]["height"].as_i64().unwrap() / 2,
    );
    api.post("/api/input/click", json!({"x": center.0, "y": center.1}));
    std::thread::sleep(Duration::from_secs(1));

    let mut client = ScreenClient::connect(&desktop.url, "fps=60&in_flight=2");
    let first = client.next_frame();
    client.ack(first.number);
    let full_frame_bytes = first.bytes;

    // Warm both paths once, then measure.
    type_session(&api, &damage, &mut Path::Stream(&mut client), "warm ");
    type_session(&api, &damage, &mut Path::FullFrame(&api), "warm ");
    let mut stream = type_session(&api, &damage, &mut Path::Stream(&mut client), TEXT);
    let full = type_session(&api, &damage, &mut Path::FullFrame(&api), TEXT);
    println!(
        "web screen benchmark, 1280x800 headless, debug digios; stream: damage rectangles as RGBA+zlib; full frame: a screenshot PNG per change"
    );
    println!(
        "typing {} characters into foot, one per {} ms; first (full) stream frame {:.1} KiB",
        TEXT.len(),
        PACE.as_millis(),
        full_frame_bytes as f64 / 1024.0
    );
    report(&stream, &full);
    let typing_patches = std::mem::take(&mut stream.patches);

    // Large damage: the window moved step by step across the screen.
    let id = window["id"].as_u64().unwrap();
    let (x0, y0) = (
        window["geometry"]["x"].as_i64().unwrap(),
        window["geometry"]["y"].as_i64().unwrap(),
    );
    let api_ref = &api;
    let mover = |offset: i64| {
        move |step: usize| {
            let x = x0 - 200 + offset + 20 * step as i64;
            api_ref.post(&format!("/api/windows/{id}/move"), json!({"x": x, "y": y0}));
        }
    };
    let stream = session(&damage, &mut Path::Stream(&mut client), MOVES, mover(0));
    let full = session(&damage, &mut Path::FullFrame(&api), MOVES, mover(10));
    println!(
        "moving the foot window 20 px per step, {MOVES} steps, one per {} ms",
        PACE.as_millis()
    );
    report(&stream, &full);
    encodings("typing", &typing_patches);
    encodings("window moves", &stream.patches);
}

fn report(stream: &Session, full: &Session) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  {:<34} {:>14} {:>14} {:>8}",
        "measure", "stream", "full frame", "ratio"
    );
    let row = |name: &str, ours: f64, anchor: f64, unit: &str| {
        println!(
            "  {name:<34} {:>11.1} {unit:<2} {:>11.1} {unit:<2} {:>7.2}x",
            ours,
            anchor,
            anchor / ours
        );
    };
    row(
        "latency damage->client, median",
        ms(stream.percentile(0.5)),
        ms(full.percentile(0.5)),
        "ms",
    );
    row(
        "latency damage->client, p90",
        ms(stream.percentile(0.9)),
        ms(full.percentile(0.9)),
        "ms",
    );
    row(
        "bytes per second",
        stream.bytes_per_second() / 1024.0,
        full.bytes_per_second() / 1024.0,
        "KiB",
    );
    row(
        "bytes per update",
        stream.bytes as f64 / stream.updates.max(1) as f64 / 1024.0,
        full.bytes as f64 / full.updates.max(1) as f64 / 1024.0,
        "KiB",
    );
    println!(
        "  updates: stream {} frames, full frame {} screenshots",
        stream.updates, full.updates
    );
}

enum Path<'a> {
    Stream(&'a mut ScreenClient),
    FullFrame(&'a ApiClient),
}

/// Types `text` one key per [`PACE`].
fn type_session(
    api: &ApiClient,
    damage: &Receiver<Instant>,
    path: &mut Path,
    text: &str,
) -> Session {
    let chars: Vec<char> = text.chars().collect();
    session(damage, path, chars.len(), |step| {
        api.post("/api/input/text", json!({"text": chars[step].to_string()}));
    })
}

/// Runs `steps` actions one per [`PACE`]; per action, the latency from the
/// first compositor damage after it to the first update the client holds,
/// and every byte the client received.
fn session(
    damage: &Receiver<Instant>,
    path: &mut Path,
    steps: usize,
    act: impl Fn(usize),
) -> Session {
    let mut session = Session::default();
    let started = Instant::now();
    for step in 0..steps {
        let slot_end = Instant::now() + PACE;
        while damage.try_recv().is_ok() {}
        act(step);
        let Ok(damaged) = damage.recv_timeout(Duration::from_secs(5)) else {
            continue;
        };
        match path {
            Path::Stream(client) => {
                client.set_timeout(Some(Duration::from_secs(10)));
                let mut first = true;
                loop {
                    let frame = match client.try_receive() {
                        Ok(Incoming::Frame(frame)) => frame,
                        Ok(_) => continue,
                        Err(_) => break,
                    };
                    if first {
                        session.latencies.push(damaged.elapsed());
                        first = false;
                    }
                    client.ack(frame.number);
                    session.bytes += frame.bytes;
                    session.updates += 1;
                    session.patches.extend(frame.patches);
                    // Later commits of the same key arrive within its slot.
                    let left = slot_end.saturating_duration_since(Instant::now());
                    client.set_timeout(Some(left.max(Duration::from_millis(1))));
                }
            }
            Path::FullFrame(api) => {
                let mut changed = Some(damaged);
                while let Some(at) = changed {
                    let bytes = screenshot(api);
                    if at == damaged {
                        session.latencies.push(at.elapsed());
                    }
                    session.bytes += bytes;
                    session.updates += 1;
                    let left = slot_end.saturating_duration_since(Instant::now());
                    changed = damage.recv_timeout(left).ok();
                }
            }
        }
        std::thread::sleep(slot_end.saturating_duration_since(Instant::now()));
    }
    session.elapsed = started.elapsed();
    session
}

fn screenshot(api: &ApiClient) -> usize {
    let response = api
        .http
        .get(format!("{}/api/vision/screenshot", api.url))
        .send()
        .expect("screenshot");
    response.bytes().expect("screenshot bytes").len()
}

fn wait_for_foot(api: &ApiClient) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(window) = api
            .windows()
            .into_iter()
            .find(|w| w["app_id"] == "bench-typing")
        {
            return window;
        }
        assert!(Instant::now() < deadline, "foot never mapped");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// When the compositor's damage log advances, as its event stream says.
fn follow_damage(control: &std::path::Path) -> Receiver<Instant> {
    let (sender, receiver) = mpsc::channel();
    let client = Client::connect(control).expect("the control socket");
    let mut events = client.event_stream().expect("an event stream");
    std::thread::spawn(move || {
        let mut last = 0;
        while let Ok(event) = events.next_event() {
            if let Event::ScreenChanged { damage_seq, .. } = event
                && damage_seq != last
            {
                last = damage_seq;
                if sender.send(Instant::now()).is_err() {
                    return;
                }
            }
        }
    });
    receiver
}

/// The stream's rectangles of the typing session in each encoding a
/// browser decodes with built-ins (PNG via createImageBitmap; raw RGBA via
/// DecompressionStream), so the stream's choice stays a measured one.
fn encodings(session: &str, patches: &[Patch]) {
    let raw: usize = patches.iter().map(|p| p.rgba.len()).sum();
    println!(
        "encodings of the {session} session's {} rectangles ({:.1} KiB raw RGBA):",
        patches.len(),
        raw as f64 / 1024.0
    );
    let measure = |name: &str, encode: &dyn Fn(&Patch) -> usize| {
        let started = Instant::now();
        let bytes: usize = patches.iter().map(encode).sum();
        println!(
            "  {name:<34} {:>9.1} KiB  {:>7.1} ms to encode",
            bytes as f64 / 1024.0,
            started.elapsed().as_secs_f64() * 1000.0
        );
    };
    measure("RGBA + zlib, fastest (sent)", &|p| {
        deflate_size(&p.rgba, flate2::Compression::fast())
    });
    measure("RGBA + zlib, default level", &|p| {
        deflate_size(&p.rgba, flate2::Compression::default())
    });
    measure("PNG, Sub filter, fastest", &|p| {
        png_size(p, png::Compression::Fast)
    });
    measure("PNG, Sub filter, default level", &|p| {
        png_size(p, png::Compression::Default)
    });
}

fn png_size(patch: &Patch, compression: png::Compression) -> usize {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(
        &mut bytes,
        patch.rect.width as u32,
        patch.rect.height as u32,
    );
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(compression);
    encoder.set_filter(png::FilterType::Sub);
    encoder.set_adaptive_filter(png::AdaptiveFilterType::NonAdaptive);
    let mut writer = encoder.write_header().expect("PNG header");
    writer.write_image_data(&patch.rgba).expect("PNG data");
    writer.finish().expect("PNG end");
    bytes.len()
}

fn deflate_size(bytes: &[u8], level: flate2::Compression) -> usize {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), level);
    encoder.write_all(bytes).expect("deflate");
    encoder.finish().expect("deflate end").len()
}
