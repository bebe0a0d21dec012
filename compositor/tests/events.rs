//! The event stream: full state first, then deltas.

mod support;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use digios_ipc::{DesktopState, Event, Request, Response};
use support::Compositor;

fn next_matching(
    stream: &mut digios_ipc::EventStream,
    what: &str,
    predicate: impl Fn(&Event) -> bool,
) -> Event {
    let mut seen = 0;
    while seen < 200 {
        let event = stream
            .next_event()
            .unwrap_or_else(|err| panic!("waiting for {what}: {err}"));
        if predicate(&event) {
            return event;
        }
        // A client drawing every frame sends these without end.
        if !matches!(event, Event::ScreenChanged { .. }) {
            seen += 1;
        }
    }
    panic!("no {what} among 200 events");
}

#[test]
fn events_start_with_the_full_state_then_report_changes() {
    let mut compositor = Compositor::start();
    let first = compositor.simple_shm();

    let mut stream = compositor.client().event_stream().unwrap();
    stream.set_timeout(Some(Duration::from_secs(30))).unwrap();
    match stream.next_event().unwrap() {
        Event::State { outputs, windows } => {
            assert_eq!(outputs.len(), 1);
            assert_eq!(windows.len(), 1);
            assert_eq!(windows[0].id, first.id);
        }
        other => panic!("the first event must be the state, got {other:?}"),
    }

    let foot = compositor.foot("sleep 60");
    let opened = next_matching(
        &mut stream,
        "window opened",
        |e| matches!(e, Event::WindowOpened { window } if window.id == foot.id),
    );
    if let Event::WindowOpened { window } = opened {
        assert_eq!(window.app_id.as_deref(), Some("foot"));
    }
    next_matching(
        &mut stream,
        "focus on foot",
        |e| matches!(e, Event::WindowFocused { id: Some(id) } if *id == foot.id),
    );

    // The screen changing is announced with the damage log's number, so a
    // client asks `damage` only when there is something to ask for.
    let Response::Damage(report) = compositor.request(Request::Damage { since: 0 }) else {
        panic!("no damage report");
    };
    compositor.request(Request::PointerMove { x: 77.0, y: 66.0 });
    next_matching(
        &mut stream,
        "screen change",
        |e| matches!(e, Event::ScreenChanged { damage_seq, x, y } if *damage_seq >= report.seq && (*x, *y) == (77.0, 66.0)),
    );

    compositor.request(Request::Move {
        id: foot.id,
        x: 10,
        y: 50,
    });
    next_matching(
        &mut stream,
        "window moved",
        |e| matches!(e, Event::WindowMoved { id, geometry, .. } if *id == foot.id && (geometry.x, geometry.y) == (10, 50)),
    );

    compositor.request(Request::Focus { id: first.id });
    next_matching(
        &mut stream,
        "focus back on simple-shm",
        |e| matches!(e, Event::WindowFocused { id: Some(id) } if *id == first.id),
    );

    compositor.request(Request::Minimize {
        id: first.id,
        on: true,
    });
    next_matching(
        &mut stream,
        "state change",
        |e| matches!(e, Event::WindowStateChanged { window } if window.id == first.id && window.minimized),
    );

    compositor.request(Request::Close { id: foot.id });
    next_matching(
        &mut stream,
        "window closed",
        |e| matches!(e, Event::WindowClosed { id } if *id == foot.id),
    );
}

#[test]
fn retitling_a_window_is_an_event() {
    let mut compositor = Compositor::start();
    let mut stream = compositor.client().event_stream().unwrap();
    stream.set_timeout(Some(Duration::from_secs(30))).unwrap();
    assert!(matches!(stream.next_event().unwrap(), Event::State { .. }));
    // foot sets its title from the OSC 2 escape the shell prints.
    let foot = compositor.foot("sleep 1; printf '\\033]2;renamed by test\\007'; sleep 60");
    next_matching(
        &mut stream,
        "retitle",
        |e| matches!(e, Event::WindowRetitled { id, title, .. } if *id == foot.id && title.as_deref() == Some("renamed by test")),
    );
}

/// Applies streamed events to `mirror` until it holds what a fresh
/// `windows` and `outputs` answer; panics if it never does.
fn catch_up(
    compositor: &Compositor,
    events: &mpsc::Receiver<Event>,
    mirror: &mut DesktopState,
    after: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let Response::Outputs { outputs } = compositor.request(Request::Outputs) else {
            panic!("no outputs");
        };
        let fresh = DesktopState::from_lists(compositor.windows(), outputs);
        let same = (&mirror.windows, mirror.focus, &mirror.outputs)
            == (&fresh.windows, fresh.focus, &fresh.outputs);
        if same {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "after {after} the mirror holds {:#?}\nbut the compositor lists {:#?}",
            mirror.windows,
            fresh.windows
        );
        // The compositor may still be sending the deltas of the change; a
        // client drawing every frame never lets the stream go quiet.
        let until = Instant::now() + Duration::from_millis(100);
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match events.recv_timeout(left) {
                Ok(event) => mirror.apply(&event),
                Err(_) => break,
            }
        }
    }
}

#[test]
fn a_mirror_fed_by_the_stream_matches_fresh_lists() {
    let mut compositor = Compositor::start();
    let shm = compositor.simple_shm();
    let mut stream = compositor.client().event_stream().unwrap();
    let (sender, events) = mpsc::channel();
    std::thread::spawn(move || {
        while let Ok(event) = stream.next_event() {
            if sender.send(event).is_err() {
                break;
            }
        }
    });
    let mut mirror = DesktopState::default();
    mirror.apply(&events.recv_timeout(Duration::from_secs(30)).unwrap());
    assert!(mirror.synced);
    catch_up(&compositor, &events, &mut mirror, "the first state");

    let foot = compositor.foot("sleep 60");
    catch_up(&compositor, &events, &mut mirror, "foot opening");
    let steps = [
        Request::Move {
            id: foot.id,
            x: 40,
            y: 60,
        },
        Request::Focus { id: shm.id },
        Request::Maximize {
            id: foot.id,
            on: true,
        },
        Request::Minimize {
            id: shm.id,
            on: true,
        },
        Request::Fullscreen {
            id: foot.id,
            on: true,
        },
        Request::Focus { id: shm.id },
        Request::Fullscreen {
            id: foot.id,
            on: false,
        },
        Request::Close { id: foot.id },
    ];
    for step in steps {
        compositor.request(step.clone());
        catch_up(&compositor, &events, &mut mirror, &format!("{step:?}"));
    }
    assert!(mirror.damage_seq > 0, "no screen_changed was applied");
}

#[test]
fn stats_count_the_requests_served() {
    let compositor = Compositor::start();
    let served = || match compositor.request(Request::Stats) {
        Response::Stats { requests } => requests,
        other => panic!("unexpected {other:?}"),
    };
    let before = served();
    compositor.request(Request::Version);
    compositor.request(Request::Batch {
        requests: vec![Request::Pointer, Request::Version],
    });
    // Asking for the count is not counted; a batch is one round trip.
    assert_eq!(served(), before + 2);
}
