//! The damage log over the control socket: a real foot drawing, typing and
//! window moves reported as changed rectangles, nothing when nothing drew.

mod support;

use digios_ipc::{DamageReport, Rect, Request, Response};
use support::Compositor;

fn damage(compositor: &Compositor, since: u64) -> DamageReport {
    match compositor.request(Request::Damage { since }) {
        Response::Damage(report) => report,
        other => panic!("unexpected {other:?}"),
    }
}

fn settle(compositor: &Compositor) {
    compositor.request(Request::WaitIdle {
        quiet_ms: 300,
        timeout_ms: 10_000,
    });
}

fn frame(window: &digios_ipc::Window) -> Rect {
    window
        .title_bar
        .map_or(window.geometry, |bar| bar.union(&window.geometry))
}

#[test]
fn typing_and_moving_report_damage_where_the_screen_changed() {
    let mut compositor = Compositor::start();
    let first = damage(&compositor, 0);
    assert!(first.full, "a client that saw nothing gets everything");
    let foot = compositor.foot("exec cat");
    settle(&compositor);
    let seen = damage(&compositor, first.seq);
    assert!(!seen.full);
    assert!(
        seen.rects.iter().any(|r| r.overlaps(&foot.geometry)),
        "{seen:?}"
    );

    // Nothing drew: nothing to report.
    settle(&compositor);
    let quiet = damage(&compositor, seen.seq).seq;
    settle(&compositor);
    let report = damage(&compositor, quiet);
    assert!(report.rects.is_empty(), "{report:?}");

    // Typing damages foot's window and nothing else (foot itself decides
    // how much of its buffer it redraws).
    compositor.request(Request::Type {
        text: "damage".into(),
    });
    settle(&compositor);
    let typed = damage(&compositor, report.seq);
    assert!(!typed.rects.is_empty());
    for rect in &typed.rects {
        assert!(
            frame(&foot).intersection(rect) == Some(*rect),
            "{rect:?} outside {foot:?}"
        );
    }

    // foot redraws one row of cells; its unmapped subsurfaces, committed
    // with every frame, add nothing.
    let typed_area: i32 = typed.rects.iter().map(|r| r.width * r.height).sum();
    assert!(
        typed_area * 4 < foot.geometry.width * foot.geometry.height,
        "typing damaged most of the window: {typed:?}"
    );

    // A move damages where the window was and where it is.
    let before = frame(&compositor.window(foot.id).unwrap());
    compositor.request(Request::Move {
        id: foot.id,
        x: 600,
        y: 400,
    });
    let moved = damage(&compositor, typed.seq);
    let after = frame(&compositor.window(foot.id).unwrap());
    for place in [before, after] {
        assert!(
            moved
                .rects
                .iter()
                .any(|r| r.intersection(&place) == Some(place)),
            "{moved:?} misses {place:?}"
        );
    }
    let area: i64 = moved
        .rects
        .iter()
        .map(|r| i64::from(r.width) * i64::from(r.height))
        .sum();
    assert!(
        area < 1280 * 800,
        "a move damaged the whole screen: {moved:?}"
    );
    // Numbers from the future (an earlier compositor run) get everything.
    assert!(damage(&compositor, moved.seq + 1000).full);
}
