//! Carries out one request on the compositor state.

use digios_ipc::{Error, ErrorCode, PROTOCOL_VERSION, Reply, Request, Response};
use smithay::utils::{Logical, Point};

use crate::capture::capture;
use crate::input::button_code;
use crate::state::State;

/// Most clicks one request may make, and most drag steps.
const MAX_CLICKS: u32 = 10;
const MAX_DRAG_STEPS: u32 = 1000;

pub fn dispatch(state: &mut State, request: Request) -> Result<Response, Error> {
    // A request that changes a window answers with the window afterwards,
    // so the caller needs no second request to see the outcome.
    let changed = |state: &mut State, id, result: Result<(), Error>| {
        result?;
        state
            .window_view(id)
            .map(|window| Response::Window { window })
    };
    match request {
        Request::Version => Ok(Response::Version {
            compositor: env!("CARGO_PKG_VERSION").to_string(),
            protocol: PROTOCOL_VERSION,
        }),
        Request::Outputs => Ok(Response::Outputs {
            outputs: state.output_views(),
        }),
        Request::Windows => Ok(Response::Windows {
            windows: state.window_views(),
        }),
        Request::Pointer => {
            let location = state.pointer_location();
            Ok(Response::Pointer {
                x: location.x,
                y: location.y,
            })
        }
        Request::Activity => Ok(Response::Activity {
            input_idle_ms: state.last_input.elapsed().as_millis() as u64,
        }),
        Request::Stats => Ok(Response::Stats {
            requests: state.control.requests_served,
        }),
        Request::Focus { id } => {
            state.windows.get(id)?;
            state.focus_window(Some(id));
            changed(state, id, Ok(()))
        }
        Request::Move { id, x, y } => {
            let result = state.move_window(id, x, y);
            changed(state, id, result)
        }
        Request::Resize { id, width, height } => {
            let result = state.resize_window(id, width, height);
            changed(state, id, result)
        }
        Request::Maximize { id, on } => {
            let result = state.set_maximized(id, on);
            changed(state, id, result)
        }
        Request::Minimize { id, on } => {
            let result = state.set_minimized(id, on);
            changed(state, id, result)
        }
        Request::Fullscreen { id, on } => {
            let result = state.set_fullscreen(id, on);
            changed(state, id, result)
        }
        Request::Close { id } => state.close_window(id).map(|()| Response::Closing { id }),
        Request::Spawn { command, env } => state
            .spawn(&command, &env)
            .map(|pid| Response::Spawned { pid }),
        Request::PointerMove { x, y } => {
            state.check_on_screen(x, y)?;
            state.pointer_motion((x, y).into());
            Ok(Response::Handled)
        }
        Request::PointerButton {
            button,
            state: pressed,
        } => {
            state.pointer_button(
                button_code(button),
                pressed == digios_ipc::KeyState::Pressed,
            );
            Ok(Response::Handled)
        }
        Request::Click {
            x,
            y,
            button,
            count,
        } => {
            if !(1..=MAX_CLICKS).contains(&count) {
                return Err(Error::new(
                    ErrorCode::InvalidArgument,
                    format!("click count must be 1..={MAX_CLICKS}"),
                ));
            }
            move_if_given(state, x, y)?;
            let code = button_code(button);
            for _ in 0..count {
                state.pointer_button(code, true);
                state.pointer_button(code, false);
            }
            Ok(Response::Handled)
        }
        Request::Drag {
            from,
            to,
            button,
            steps,
        } => {
            if !(1..=MAX_DRAG_STEPS).contains(&steps) {
                return Err(Error::new(
                    ErrorCode::InvalidArgument,
                    format!("drag steps must be 1..={MAX_DRAG_STEPS}"),
                ));
            }
            state.check_on_screen(from.0, from.1)?;
            state.check_on_screen(to.0, to.1)?;
            let code = button_code(button);
            let start: Point<f64, Logical> = from.into();
            state.pointer_motion(start);
            state.pointer_button(code, true);
            for step in 1..=steps {
                let t = f64::from(step) / f64::from(steps);
                let point = (from.0 + (to.0 - from.0) * t, from.1 + (to.1 - from.1) * t);
                state.pointer_motion(point.into());
            }
            state.pointer_button(code, false);
            Ok(Response::Handled)
        }
        Request::Scroll { x, y, dx, dy } => {
            if !dx.is_finite() || !dy.is_finite() {
                return Err(Error::new(
                    ErrorCode::InvalidArgument,
                    "scroll amounts must be finite",
                ));
            }
            move_if_given(state, x, y)?;
            state.pointer_scroll(dx, dy);
            Ok(Response::Handled)
        }
        Request::Key {
            keysym,
            state: key_state,
        } => handled(state.key_by_name(&keysym, key_state)),
        Request::KeyChord { keys } => handled(state.key_chord(&keys)),
        Request::Type { text } => handled(state.type_text(&text)),
        Request::Capture(request) => capture(state, &request).map(Response::Image),
        Request::Damage { since } => {
            // Window changes since the last loop turn count too.
            state.record_window_damage();
            Ok(Response::Damage(state.damage.report(since)))
        }
        // Answered later, by the idle check on the frame timer.
        Request::WaitIdle { .. } => Err(Error::new(
            ErrorCode::Internal,
            "wait_idle is answered by the idle check",
        )),
        Request::Batch { requests } => batch(state, requests),
        // Connection threads turn this into a subscription before it gets here.
        Request::EventStream => Err(Error::new(
            ErrorCode::InvalidArgument,
            "event_stream is only valid as a connection's request",
        )),
    }
}

fn handled(result: Result<(), Error>) -> Result<Response, Error> {
    result.map(|()| Response::Handled)
}

fn batch(state: &mut State, requests: Vec<Request>) -> Result<Response, Error> {
    if requests.len() > digios_ipc::MAX_BATCH {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            format!("a batch holds at most {} requests", digios_ipc::MAX_BATCH),
        ));
    }
    let replies = requests
        .into_iter()
        .map(|request| match request {
            Request::WaitIdle { .. } | Request::EventStream | Request::Batch { .. } => {
                Reply::Error(Error::new(
                    ErrorCode::InvalidArgument,
                    "wait_idle, event_stream and batch cannot be inside a batch",
                ))
            }
            request => Reply::from(dispatch(state, request)),
        })
        .collect();
    Ok(Response::Batch { replies })
}

fn move_if_given(state: &mut State, x: Option<f64>, y: Option<f64>) -> Result<(), Error> {
    match (x, y) {
        (Some(x), Some(y)) => {
            state.check_on_screen(x, y)?;
            state.pointer_motion((x, y).into());
            Ok(())
        }
        (None, None) => Ok(()),
        _ => Err(Error::new(
            ErrorCode::InvalidArgument,
            "give both x and y, or neither",
        )),
    }
}
