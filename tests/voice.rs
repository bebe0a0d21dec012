//! The voice loop end to end: real `digios agent`, `digios-voice` (Whisper
//! and Piper) and, for commands, `digios compositor` processes, driven over
//! the public API with espeak-ng and Piper speech.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use digios_tests::digios::{start_desktop, start_desktop_with_config};
use digios_tests::voice::{
    espeak, socket_in, start_agent_in, start_voice, wav_level, word_error_rate,
};
use serde_json::{Value, json};

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap()
}

fn transcribe(http: &reqwest::blocking::Client, url: &str, wav: Vec<u8>) -> (u16, Value) {
    let response = http
        .post(format!("{url}/api/voice/transcribe"))
        .header("content-type", "audio/wav")
        .body(wav)
        .send()
        .unwrap();
    (response.status().as_u16(), response.json().unwrap())
}

fn speak(http: &reqwest::blocking::Client, url: &str, text: &str, speed: f32) -> Vec<u8> {
    let response = http
        .post(format!("{url}/api/voice/speak"))
        .json(&json!({ "text": text, "speed": speed }))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "audio/wav");
    response.bytes().unwrap().to_vec()
}

/// Waits until the agent reports the voice service in `state`.
fn wait_for_voice_service(http: &reqwest::blocking::Client, url: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status: Value = http
            .get(format!("{url}/api/status"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let voice = status["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "voice")
            .cloned()
            .unwrap_or(Value::Null);
        if voice["state"] == state {
            return voice;
        }
        assert!(
            Instant::now() < deadline,
            "voice service never {state}: {voice}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A 16-bit mono WAV of `samples` at `rate`.
fn wav_of(samples: impl Iterator<Item = f32>, rate: u32) -> Vec<u8> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for s in samples {
        writer.write_sample((s * 32767.0) as i16).unwrap();
    }
    writer.finalize().unwrap();
    cursor.into_inner()
}

fn sox(input: &Path, output: &Path, args: &[&str]) -> Vec<u8> {
    let status = std::process::Command::new("sox")
        .arg(input)
        .args(args)
        .arg(output)
        .status()
        .expect("sox runs (apt-get install sox)");
    assert!(status.success());
    std::fs::read(output).unwrap()
}

#[test]
fn voice_routes_are_503_while_the_voice_service_is_down() {
    let runtime = tempfile::tempdir().unwrap();
    let (_agent, url) = start_agent_in(runtime.path());
    let http = client();
    let voice = wait_for_voice_service(&http, &url, "disabled");
    assert!(
        voice["detail"].as_str().unwrap().contains("not running"),
        "{voice}"
    );

    let silence = wav_of(std::iter::repeat_n(0.0, 16_000), 16_000);
    let (status, body) = transcribe(&http, &url, silence.clone());
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("voice unavailable") && message.contains("digios-voice"),
        "{message}"
    );
    for (path, body) in [
        ("/api/voice/speak", json!({"text": "hello"})),
        ("/api/voice/listen", json!({})),
    ] {
        let response = http
            .post(format!("{url}{path}"))
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(response.status(), 503, "{path}");
    }

    // Up while it runs, down (with a `voice` event) when it goes away.
    let voice = start_voice(&socket_in(runtime.path()), &url);
    wait_for_voice_service(&http, &url, "up");
    let (status, body) = transcribe(&http, &url, silence.clone());
    assert_eq!(status, 200, "{body}");
    drop(voice);
    let down = wait_for_voice_service(&http, &url, "down");
    assert!(
        down["detail"].as_str().unwrap().contains("stopped"),
        "{down}"
    );
    let (status, _) = transcribe(&http, &url, silence);
    assert_eq!(status, 503);

    let openapi: Value = http
        .get(format!("{url}/api/openapi.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    for path in [
        "/api/voice",
        "/api/voice/transcribe",
        "/api/voice/speak",
        "/api/voice/converse",
        "/api/voice/listen",
        "/api/voice/stop",
    ] {
        assert!(
            openapi["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
}

const COMMANDS: &[&str] = &[
    "open the terminal",
    "close this window",
    "open the file manager",
    "switch to the next window",
    "scroll down",
];

#[test]
fn speech_is_heard_and_spoken_through_the_public_api() {
    let runtime = tempfile::tempdir().unwrap();
    let (_agent, url) = start_agent_in(runtime.path());
    let _voice = start_voice(&socket_in(runtime.path()), &url);
    let http = client();
    wait_for_voice_service(&http, &url, "up");
    let dir = tempfile::tempdir().unwrap();

    // espeak-ng in several voices and speeds, and Piper.
    let (mut errors, mut words) = (0.0f32, 0usize);
    let mut score = |reference: &str, heard: &Value, how: &str| {
        let wer = word_error_rate(reference, heard["normalized"].as_str().unwrap());
        eprintln!(
            "{how:>22} | WER {wer:.2} | {reference:?} -> {:?}",
            heard["text"]
        );
        let n = reference.split_whitespace().count();
        errors += wer * n as f32;
        words += n;
    };
    for (v, (voice, wpm)) in [("en-us", 175), ("en-gb", 140), ("en-us+f3", 210)]
        .into_iter()
        .enumerate()
    {
        for (c, command) in COMMANDS.iter().enumerate() {
            let wav = std::fs::read(espeak(dir.path(), &format!("{v}-{c}"), command, voice, wpm))
                .unwrap();
            let (status, heard) = transcribe(&http, &url, wav);
            assert_eq!(status, 200, "{heard}");
            score(command, &heard, &format!("espeak {voice} {wpm}"));
        }
    }
    for (c, command) in COMMANDS.iter().enumerate() {
        let speed = [0.8, 1.0, 1.3][c % 3];
        let wav = speak(&http, &url, command, speed);
        let (status, heard) = transcribe(&http, &url, wav);
        assert_eq!(status, 200, "{heard}");
        score(command, &heard, &format!("piper joe x{speed}"));
    }
    let wer = errors / words as f32;
    eprintln!("normalised WER over {words} words: {wer:.3}");
    assert!(wer <= 0.10, "WER {wer:.3}");

    // A spoken reply is real speech, and says what it was asked to.
    let reply = "I opened the terminal. It is ready for you.";
    let wav = speak(&http, &url, reply, 1.0);
    let (level, secs) = wav_level(&wav);
    assert!(level > -35.0 && secs > 1.0, "{level} dB, {secs} s");
    let (_, heard) = transcribe(&http, &url, wav);
    let wer = word_error_rate(reply, heard["text"].as_str().unwrap());
    assert!(wer <= 0.2, "heard {heard}");

    // Other rates and channel counts are resampled, not refused.
    let clip = espeak(dir.path(), "rates", "open the terminal", "en-us", 175);
    for (name, args) in [
        ("8k.wav", &["-r", "8000"][..]),
        ("48k-stereo.wav", &["-r", "48000", "-c", "2"][..]),
        ("float.wav", &["-e", "floating-point", "-b", "32"][..]),
    ] {
        let wav = sox(&clip, &dir.path().join(name), args);
        let (status, heard) = transcribe(&http, &url, wav);
        assert_eq!(status, 200, "{name}: {heard}");
        assert_eq!(heard["normalized"], "open the terminal", "{name}: {heard}");
    }
}

#[test]
fn bad_audio_and_text_are_clear_errors() {
    let runtime = tempfile::tempdir().unwrap();
    let (_agent, url) = start_agent_in(runtime.path());
    let _voice = start_voice(&socket_in(runtime.path()), &url);
    let http = client();
    wait_for_voice_service(&http, &url, "up");

    let (status, body) = transcribe(&http, &url, b"RIFF\x24\x00\x00\x00WAVEjunk".to_vec());
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_audio")),
        "{body}"
    );
    let (status, body) = transcribe(&http, &url, b"not audio at all".to_vec());
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_audio")),
        "{body}"
    );
    let (status, body) = transcribe(&http, &url, Vec::new());
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_audio")),
        "{body}"
    );
    // A header that promises more than the file holds.
    let mut truncated = wav_of((0..16_000).map(|i| (i as f32 / 10.0).sin() * 0.3), 16_000);
    truncated.truncate(truncated.len() / 2 + 1);
    let (status, body) = transcribe(&http, &url, truncated);
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("truncated"),
        "{body}"
    );

    // Silence is heard as nothing, without running Whisper.
    let (status, body) = transcribe(
        &http,
        &url,
        wav_of(std::iter::repeat_n(0.0, 48_000), 16_000),
    );
    assert_eq!(status, 200);
    assert_eq!(
        (body["silent"].as_bool(), body["text"].as_str()),
        (Some(true), Some(""))
    );

    // Ten minutes of sound: refused by its length, without being decoded.
    let loud = (0..16_000 * 600).map(|i| if i / 40 % 2 == 0 { 0.3 } else { -0.3 });
    let started = Instant::now();
    let (status, body) = transcribe(&http, &url, wav_of(loud, 16_000));
    eprintln!("10-minute input refused in {:?}", started.elapsed());
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("audio_too_long")),
        "{body}"
    );
    assert!(
        body["error"]["message"].as_str().unwrap().contains("30 s"),
        "{body}"
    );
    // Past the upload limit: refused from its announced length, before the
    // body is read or reaches the voice service.
    let status_line = {
        use std::io::{Read, Write};
        let address = url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        write!(
            stream,
            "POST /api/voice/transcribe HTTP/1.1\r\nHost: {address}\r\n\
             Content-Type: audio/wav\r\nContent-Length: {}\r\n\r\nRIFF",
            40u64 << 20
        )
        .unwrap();
        let mut reply = [0u8; 64];
        let n = stream.read(&mut reply).unwrap();
        String::from_utf8_lossy(&reply[..n]).to_string()
    };
    assert!(status_line.starts_with("HTTP/1.1 413"), "{status_line}");

    for (body, code) in [
        (json!({"text": "  "}), 422),
        (json!({"text": "x".repeat(5000)}), 422),
        (json!({"words": "hello"}), 422),
        (json!({"text": "hello", "speed": 9.0}), 422),
    ] {
        let response = http
            .post(format!("{url}/api/voice/speak"))
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(response.status(), code, "{body}");
    }

    // No sound card here: the loop is unavailable, and says why; nothing crashed.
    if !Path::new("/dev/snd").exists() {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            let status: Value = http
                .get(format!("{url}/api/voice"))
                .send()
                .unwrap()
                .json()
                .unwrap();
            if status["state"] == "unavailable" || Instant::now() > deadline {
                break status;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert_eq!(status["state"], "unavailable", "{status}");
        assert_eq!(status["detail"], "voice unavailable: no input device");
        let response = http.post(format!("{url}/api/voice/listen")).send().unwrap();
        assert_eq!(response.status(), 503);
        let body: Value = response.json().unwrap();
        assert_eq!(
            body["error"]["message"],
            "voice unavailable: no input device"
        );
        // Still serving.
        let (status, _) = transcribe(&http, &url, wav_of(std::iter::repeat_n(0.0, 1600), 16_000));
        assert_eq!(status, 200);
    }
}

/// Reads WebSocket events until one of `kind` arrives on the `voice` topic.
fn voice_events_until(
    socket: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
    last: &str,
) -> Vec<String> {
    let mut kinds = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        let Ok(tungstenite::Message::Text(text)) = socket.read() else {
            continue;
        };
        let message: Value = serde_json::from_str(&text).unwrap();
        if message["type"] == "event" && message["topic"] == "voice" {
            let kind = message["kind"].as_str().unwrap().to_string();
            kinds.push(kind.clone());
            if kind == last {
                break;
            }
        }
    }
    kinds
}

#[test]
fn a_spoken_command_opens_the_terminal_and_the_reply_is_spoken() {
    let desktop = start_desktop();
    let url = desktop.url.clone();
    let _voice = start_voice(&socket_in(desktop.runtime_dir.path()), &url);
    let http = client();
    wait_for_voice_service(&http, &url, "up");

    let ws_url = format!("{}/api/ws", url.replace("http://", "ws://"));
    let (mut socket, _) = tungstenite::connect(ws_url).unwrap();
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
    }
    socket
        .send(tungstenite::Message::Text(
            json!({"type": "subscribe", "topics": ["voice"]})
                .to_string()
                .into(),
        ))
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let wav = std::fs::read(espeak(
        dir.path(),
        "command",
        "Open the terminal.",
        "en-us",
        170,
    ))
    .unwrap();
    let turn = converse(&http, &url, wav);
    assert_eq!(
        turn["transcript"]["normalized"], "open the terminal",
        "{turn}"
    );
    assert_eq!(turn["command"], "open the terminal");
    assert_eq!(turn["task_state"], "succeeded", "{turn}");
    let task_id = turn["task_id"].as_i64().expect("a task was made");

    // The task is the agent's, visible to every client.
    let task: Value = http
        .get(format!("{url}/api/tasks/{task_id}"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(task["goal"], "open the terminal");
    // foot is on the headless desktop.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let windows: Value = http
            .get(format!("{url}/api/windows"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        if windows
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["app_id"] == "foot")
        {
            break;
        }
        assert!(Instant::now() < deadline, "no foot window: {windows}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The reply was spoken: real speech, whose own transcript is the reply.
    let reply = turn["reply"].as_str().unwrap();
    assert!(!reply.is_empty());
    let audio = base64::engine::general_purpose::STANDARD
        .decode(turn["audio_wav_base64"].as_str().unwrap())
        .unwrap();
    let (level, secs) = wav_level(&audio);
    eprintln!("reply {reply:?}: {secs:.2} s at {level:.1} dB");
    assert!(level > -35.0 && secs > 0.3, "{level} dB, {secs} s");
    let (status, heard) = transcribe(&http, &url, audio);
    assert_eq!(status, 200);
    let wer = word_error_rate(reply, heard["normalized"].as_str().unwrap());
    eprintln!("reply heard back as {:?} (WER {wer:.2})", heard["text"]);
    assert!(wer <= 0.25, "reply {reply:?} heard as {heard}");

    // The loop's states went out on the WebSocket, in order.
    let kinds = voice_events_until(&mut socket, "reply");
    let mut kinds = kinds;
    kinds.extend(voice_events_until(&mut socket, "speaking"));
    let order: Vec<&str> = kinds
        .iter()
        .map(String::as_str)
        .filter(|k| {
            [
                "transcribing",
                "transcript",
                "thinking",
                "reply",
                "speaking",
            ]
            .contains(k)
        })
        .collect();
    assert_eq!(
        order,
        [
            "transcribing",
            "transcript",
            "thinking",
            "reply",
            "speaking"
        ],
        "{kinds:?}"
    );
}

fn converse(http: &reqwest::blocking::Client, url: &str, wav: Vec<u8>) -> Value {
    let response = http
        .post(format!("{url}/api/voice/converse"))
        .header("content-type", "audio/wav")
        .body(wav)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let turn: Value = response.json().unwrap();
    eprintln!(
        "heard {:?} -> task {} {} -> said {:?}",
        turn["transcript"]["text"], turn["task_id"], turn["task_state"], turn["reply"]
    );
    turn
}

fn foot_windows(http: &reqwest::blocking::Client, url: &str) -> usize {
    let windows: Value = http
        .get(format!("{url}/api/windows"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    windows
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["app_id"] == "foot")
        .count()
}

#[test]
fn a_spoken_question_is_answered_by_voice() {
    // Closing a window asks first here, so the task waits for a spoken yes or no.
    let desktop = start_desktop_with_config(
        "[policy]\nrules = [{ action = \"close_window\", verdict = \"confirm\" }]\n",
    );
    let url = desktop.url.clone();
    let _voice = start_voice(&socket_in(desktop.runtime_dir.path()), &url);
    let http = client();
    wait_for_voice_service(&http, &url, "up");
    let dir = tempfile::tempdir().unwrap();
    let say = |name: &str, text: &str| {
        std::fs::read(espeak(dir.path(), name, text, "en-us", 165)).unwrap()
    };

    let opened = converse(&http, &url, say("open", "Open the terminal."));
    assert_eq!(opened["task_state"], "succeeded", "{opened}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while foot_windows(&http, &url) == 0 {
        assert!(Instant::now() < deadline, "foot never opened");
        std::thread::sleep(Duration::from_millis(200));
    }

    // "No" keeps the window.
    let asked = converse(&http, &url, say("close", "Close the terminal."));
    assert_eq!(asked["task_state"], "awaiting_confirmation", "{asked}");
    assert_eq!(asked["awaiting_answer"], true);
    let question = asked["reply"].as_str().unwrap();
    assert!(question.ends_with("Say yes or no."), "{question}");
    let answered = converse(&http, &url, say("no", "No."));
    assert_eq!(answered["task_id"], asked["task_id"], "{answered}");
    assert_ne!(answered["task_state"], "succeeded", "{answered}");
    assert_eq!(foot_windows(&http, &url), 1);

    // An unclear answer is asked again; "yes" closes it.
    let asked = converse(&http, &url, say("close-again", "Close the terminal."));
    assert_eq!(asked["awaiting_answer"], true, "{asked}");
    let again = converse(&http, &url, say("maybe", "Banana."));
    assert_eq!(again["awaiting_answer"], true, "{again}");
    assert_eq!(again["reply"], "Please say yes or no.");
    let answered = converse(&http, &url, say("yes", "Yes, go ahead."));
    assert_eq!(answered["task_id"], asked["task_id"], "{answered}");
    assert_eq!(answered["task_state"], "succeeded", "{answered}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while foot_windows(&http, &url) != 0 {
        assert!(Instant::now() < deadline, "foot was not closed");
        std::thread::sleep(Duration::from_millis(200));
    }
}
