//! Bad input gets a typed error and the compositor keeps running; crashing
//! and flooding clients do not take it down.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use digios_ipc::{
    CaptureRequest, CaptureTarget, ClientError, ErrorCode, MAX_REQUEST_BYTES, Rect, Reply, Request,
    Response,
};
use support::Compositor;

fn error_code(compositor: &Compositor, request: Request) -> ErrorCode {
    match compositor.try_request(request.clone()) {
        Err(ClientError::Compositor(error)) => error.code,
        other => panic!("{request:?} should fail with a typed error, got {other:?}"),
    }
}

/// Sends raw bytes as one line and reads the reply line.
fn raw_exchange(stream: &mut UnixStream, line: &[u8]) -> Reply {
    stream.write_all(line).unwrap();
    stream.write_all(b"\n").unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut reply = String::new();
    reader.read_line(&mut reply).unwrap();
    serde_json::from_str(&reply).unwrap_or_else(|err| panic!("bad reply {reply:?}: {err}"))
}

fn raw_connection(compositor: &Compositor) -> UnixStream {
    let stream = UnixStream::connect(&compositor.control).unwrap();
    stream.set_read_timeout(Some(support::DEADLINE)).unwrap();
    stream.set_write_timeout(Some(support::DEADLINE)).unwrap();
    stream
}

fn still_answers(compositor: &mut Compositor) {
    assert!(compositor.alive(), "compositor died:\n{}", compositor.log());
    assert!(matches!(
        compositor.request(Request::Version),
        Response::Version { .. }
    ));
}

#[test]
fn unknown_window_ids_are_typed_errors() {
    let mut compositor = Compositor::start();
    let id = 4242;
    for request in [
        Request::Focus { id },
        Request::Move { id, x: 10, y: 10 },
        Request::Resize {
            id,
            width: 100,
            height: 100,
        },
        Request::Maximize { id, on: true },
        Request::Minimize { id, on: true },
        Request::Fullscreen { id, on: true },
        Request::Close { id },
        Request::Capture(CaptureRequest {
            target: CaptureTarget::Window { id },
            ..CaptureRequest::default()
        }),
    ] {
        assert_eq!(error_code(&compositor, request), ErrorCode::UnknownWindow);
    }
    still_answers(&mut compositor);
}

#[test]
fn out_of_screen_coordinates_are_typed_errors() {
    let mut compositor = Compositor::start();
    let window = compositor.simple_shm();
    let out = ErrorCode::OutOfBounds;
    assert_eq!(
        error_code(&compositor, Request::PointerMove { x: 5000.0, y: 10.0 }),
        out
    );
    assert_eq!(
        error_code(&compositor, Request::PointerMove { x: -1.0, y: 10.0 }),
        out
    );
    assert_eq!(
        error_code(
            &compositor,
            Request::PointerMove {
                x: f64::NAN,
                y: 1.0
            }
        ),
        ErrorCode::MalformedRequest,
        "NaN is not valid JSON, so it never parses"
    );
    assert_eq!(
        error_code(
            &compositor,
            Request::Click {
                x: Some(10.0),
                y: Some(900.0),
                button: digios_ipc::Button::Left,
                count: 1
            }
        ),
        out
    );
    assert_eq!(
        error_code(
            &compositor,
            Request::Drag {
                from: (10.0, 10.0),
                to: (10.0, 10_000.0),
                button: digios_ipc::Button::Left,
                steps: 4
            }
        ),
        out
    );
    assert_eq!(
        error_code(
            &compositor,
            Request::Move {
                id: window.id,
                x: 2000,
                y: 2000
            }
        ),
        out
    );
    assert_eq!(
        error_code(
            &compositor,
            Request::Capture(CaptureRequest {
                target: CaptureTarget::Region {
                    rect: Rect::new(5000, 5000, 10, 10)
                },
                ..CaptureRequest::default()
            })
        ),
        out
    );
    assert_eq!(
        error_code(
            &compositor,
            Request::Capture(CaptureRequest {
                target: CaptureTarget::Region {
                    rect: Rect::new(0, 0, 0, 10)
                },
                ..CaptureRequest::default()
            })
        ),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        error_code(
            &compositor,
            Request::Resize {
                id: window.id,
                width: -5,
                height: 10
            }
        ),
        ErrorCode::InvalidArgument
    );
    // Nothing moved.
    assert_eq!(
        compositor.window(window.id).unwrap().geometry,
        window.geometry
    );
    still_answers(&mut compositor);
}

#[test]
fn unknown_keysyms_and_overlong_text_are_typed_errors() {
    let mut compositor = Compositor::start();
    let unknown = ErrorCode::UnknownKeysym;
    assert_eq!(
        error_code(
            &compositor,
            Request::Key {
                keysym: "NoSuchKey".into(),
                state: digios_ipc::KeyState::Pressed
            }
        ),
        unknown
    );
    assert_eq!(
        error_code(
            &compositor,
            Request::KeyChord {
                keys: "ctrl+bogus".into()
            }
        ),
        unknown
    );
    assert_eq!(
        error_code(
            &compositor,
            Request::KeyChord {
                keys: "ctrl+".into()
            }
        ),
        ErrorCode::InvalidArgument
    );
    let too_varied: String = ('\u{4e00}'..'\u{4f00}').collect();
    assert_eq!(
        error_code(&compositor, Request::Type { text: too_varied }),
        ErrorCode::InvalidArgument
    );
    still_answers(&mut compositor);
}

#[test]
fn malformed_and_oversized_messages_are_typed_errors_on_a_live_connection() {
    let mut compositor = Compositor::start();
    let mut stream = raw_connection(&compositor);
    let expect = |reply: Reply, code: ErrorCode| match reply {
        Reply::Error(error) => assert_eq!(error.code, code, "{error:?}"),
        other => panic!("expected {code:?}, got {other:?}"),
    };
    expect(
        raw_exchange(&mut stream, b"this is not json"),
        ErrorCode::MalformedRequest,
    );
    expect(
        raw_exchange(&mut stream, br#"{"request":"explode"}"#),
        ErrorCode::MalformedRequest,
    );
    expect(
        raw_exchange(&mut stream, br#"{"request":"move","id":"one","x":1,"y":2}"#),
        ErrorCode::MalformedRequest,
    );
    expect(
        raw_exchange(&mut stream, &[0xff, 0xfe, 0x00]),
        ErrorCode::MalformedRequest,
    );
    let huge = vec![b'x'; MAX_REQUEST_BYTES * 3];
    expect(raw_exchange(&mut stream, &huge), ErrorCode::TooLarge);
    // The same connection still works afterwards.
    match raw_exchange(&mut stream, br#"{"request":"version"}"#) {
        Reply::Ok(Response::Version { .. }) => {}
        other => panic!("unexpected {other:?}"),
    }
    still_answers(&mut compositor);
}

#[test]
fn a_crashing_client_does_not_take_the_compositor_down() {
    let mut compositor = Compositor::start();
    let pid = compositor.launch("weston-simple-shm", &[]);
    let window = compositor.wait_for_window("weston-simple-shm", |w| {
        w.pid.is_some_and(|p| support::is_child_of(p as u32, pid))
    });
    compositor.kill_client(pid);
    compositor.wait_until("the crashed client's window to go", || {
        compositor.window(window.id).is_none().then_some(())
    });
    // A control client that disconnects mid-request is harmless too.
    let mut stream = raw_connection(&compositor);
    stream
        .write_all(br#"{"request":"capture","reticle":true}"#)
        .unwrap();
    drop(stream);
    still_answers(&mut compositor);
    let image = compositor.screen();
    assert_eq!(image.at_logical(640, 400), support::BACKGROUND);
}

#[test]
fn flooding_clients_do_not_take_the_compositor_down() {
    let mut compositor = Compositor::start();
    compositor.simple_shm();
    // A subscriber that never reads its events.
    let mut lazy = raw_connection(&compositor);
    lazy.write_all(b"{\"request\":\"event_stream\"}\n").unwrap();
    // Many connections sending requests as fast as they can.
    let floods: Vec<_> = (0..8)
        .map(|n| {
            let path = compositor.control.clone();
            std::thread::spawn(move || {
                let mut client = digios_ipc::Client::connect(&path).unwrap();
                client.set_timeout(Some(support::DEADLINE)).unwrap();
                for i in 0..150 {
                    let request = match (n + i) % 4 {
                        0 => Request::Windows,
                        1 => Request::PointerMove {
                            x: f64::from(i % 1280),
                            y: 400.0,
                        },
                        2 => Request::Focus { id: 999_999 },
                        _ => Request::Outputs,
                    };
                    let _ = client.request(&request);
                }
            })
        })
        .collect();
    // And one that writes garbage without newlines, then hangs up.
    let mut garbage = raw_connection(&compositor);
    for _ in 0..64 {
        let _ = garbage.write_all(&[b'{'; 4096]);
    }
    drop(garbage);
    // Connections opened and dropped at once, beyond the connection limit.
    let storm: Vec<UnixStream> = (0..100)
        .filter_map(|_| UnixStream::connect(&compositor.control).ok())
        .collect();
    drop(storm);
    for flood in floods {
        flood.join().unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    still_answers(&mut compositor);
    assert_eq!(compositor.windows().len(), 1);
}

#[test]
fn spawning_nothing_or_a_missing_program_is_a_typed_error() {
    let mut compositor = Compositor::start();
    assert_eq!(
        error_code(
            &compositor,
            Request::Spawn {
                command: vec![],
                env: vec![]
            }
        ),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        error_code(
            &compositor,
            Request::Spawn {
                command: vec!["/nonexistent/digios-app".into()],
                env: vec![]
            }
        ),
        ErrorCode::SpawnFailed
    );
    assert_eq!(
        error_code(
            &compositor,
            Request::WaitIdle {
                quiet_ms: 100,
                timeout_ms: u32::MAX
            }
        ),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        error_code(
            &compositor,
            Request::Capture(CaptureRequest {
                grid: Some(1),
                ..CaptureRequest::default()
            })
        ),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        error_code(
            &compositor,
            Request::Capture(CaptureRequest {
                target: CaptureTarget::Output {
                    name: "NOPE-1".into()
                },
                ..CaptureRequest::default()
            })
        ),
        ErrorCode::UnknownOutput
    );
    still_answers(&mut compositor);
}

#[test]
fn a_batch_answers_each_request_in_order_and_refuses_what_cannot_be_batched() {
    let mut compositor = Compositor::start();
    let response = compositor.request(Request::Batch {
        requests: vec![
            Request::PointerMove { x: 10.0, y: 20.0 },
            Request::PointerMove {
                x: -5000.0,
                y: 20.0,
            },
            Request::WaitIdle {
                quiet_ms: 10,
                timeout_ms: 100,
            },
            Request::Batch { requests: vec![] },
            Request::PointerMove { x: 30.0, y: 40.0 },
            Request::Pointer,
        ],
    });
    let Response::Batch { replies } = response else {
        panic!("a batch is answered with replies, got {response:?}");
    };
    let codes: Vec<Option<ErrorCode>> = replies
        .iter()
        .map(|reply| match reply {
            Reply::Ok(_) => None,
            Reply::Error(error) => Some(error.code),
        })
        .collect();
    assert_eq!(
        codes,
        [
            None,
            Some(ErrorCode::OutOfBounds),
            Some(ErrorCode::InvalidArgument),
            Some(ErrorCode::InvalidArgument),
            None,
            None
        ]
    );
    // Carried out in order: the pointer is where the last move put it.
    assert_eq!(
        replies[5],
        Reply::Ok(Response::Pointer { x: 30.0, y: 40.0 })
    );
    let too_many = Request::Batch {
        requests: vec![Request::Pointer; digios_ipc::MAX_BATCH + 1],
    };
    assert_eq!(
        error_code(&compositor, too_many),
        ErrorCode::InvalidArgument
    );
    still_answers(&mut compositor);
}
