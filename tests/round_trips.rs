//! What an API window action costs the compositor: the agent resolves the
//! window from its mirror of the desktop and the compositor answers the
//! change with the window, so each action is exactly one round trip on the
//! control socket. Counted black-box by the compositor itself.

use digios_tests::api_client::ApiClient;
use digios_tests::digios::start_desktop;
use digios_tests::round_trips::{round_trips, wait_for_mirror};
use serde_json::json;

#[test]
fn a_window_action_costs_one_compositor_round_trip() {
    let desktop = start_desktop();
    let api = ApiClient::new(&desktop.url);
    wait_for_mirror(&api);
    api.post(
        "/api/action",
        json!({"action_type": "launch_app", "params": {"command": ["foot", "--app-id", "round-trips"]}}),
    );
    let window = api.wait_window("the foot window", |w| w["app_id"] == "round-trips");
    let id = window["id"].as_u64().unwrap();
    let control = desktop.control_socket.as_path();

    let ((status, body), trips) = round_trips(control, || {
        api.post(
            "/api/action",
            json!({"action_type": "maximize_window", "params": {"window_id": id}}),
        )
    });
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["window"]["maximized"], true, "{body}");
    assert_eq!(trips, 1, "maximize_window cost {trips} compositor requests");

    let ((status, body), trips) = round_trips(control, || {
        api.post(
            &format!("/api/windows/{id}/state"),
            json!({"state": "maximized", "on": false}),
        )
    });
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["window"]["maximized"], false, "{body}");
    assert_eq!(
        trips, 1,
        "/api/windows/{id}/state cost {trips} compositor requests"
    );

    // A window named by its app id resolves from the mirror too.
    let ((status, body), trips) = round_trips(control, || {
        api.post(
            "/api/action",
            json!({"action_type": "focus_window", "params": {"window": "round-trips"}}),
        )
    });
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["window"]["focused"], true, "{body}");
    assert_eq!(trips, 1, "focus_window cost {trips} compositor requests");

    // A planner task takes the same single request for its action: the
    // window it names, what was open before and the check afterwards all
    // come from the mirror.
    let (view, trips) = round_trips(control, || {
        let submitted = api.submit_task("maximize this window");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let view = api.task(submitted.task.id);
            if view.task.state.is_finished() {
                return view;
            }
            assert!(std::time::Instant::now() < deadline, "{view:?}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
    assert_eq!(
        view.task.state,
        digios_api::TaskState::Succeeded,
        "{view:?}"
    );
    let maximized = api.windows().into_iter().find(|w| w["id"] == id).unwrap();
    assert_eq!(maximized["maximized"], true, "{maximized}");
    assert_eq!(
        trips, 1,
        "a planner's maximize cost {trips} compositor requests"
    );

    let ((status, body), trips) = round_trips(control, || {
        api.post(&format!("/api/windows/{id}/close"), json!({}))
    });
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["window_id"], id, "{body}");
    assert_eq!(trips, 1, "closing cost {trips} compositor requests");
}
