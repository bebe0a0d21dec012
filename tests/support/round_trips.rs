//! Counting the requests a compositor served, black-box through its
//! control socket's `stats` request, so a test can hold an API route or a
//! planner task to its number of compositor round trips.

use std::path::Path;
use std::time::{Duration, Instant};

use digios_ipc::{Client, Request, Response};

use crate::api_client::ApiClient;

/// Requests the compositor at `control` has served so far (`stats` itself
/// not counted).
pub fn requests_served(control: &Path) -> u64 {
    let mut client = Client::connect(control).expect("connecting to the control socket");
    client
        .set_timeout(Some(Duration::from_secs(30)))
        .expect("setting a timeout");
    match client.request(&Request::Stats) {
        Ok(Response::Stats { requests }) => requests,
        other => panic!("the compositor's stats: {other:?}"),
    }
}

/// Runs `act` and counts the requests the compositor served meanwhile.
pub fn round_trips<T>(control: &Path, act: impl FnOnce() -> T) -> (T, u64) {
    let before = requests_served(control);
    let result = act();
    (result, requests_served(control) - before)
}

/// Waits until the agent follows the compositor's event stream (its
/// `compositor` service is up), so its window reads come from the mirror.
pub fn wait_for_mirror(api: &ApiClient) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, status) = api.get("/api/status");
        let up = status["services"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["name"] == "compositor" && s["state"] == "up");
        if up {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the agent never followed the compositor: {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
