//! xdg-activation: a client may pass focus to another window with a token it
//! got while it had focus (for example when it launches an app).

use std::time::Duration;

use smithay::delegate_xdg_activation;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::xdg_activation::{
    XdgActivationHandler, XdgActivationState, XdgActivationToken, XdgActivationTokenData,
};

use crate::state::State;

/// Tokens older than this no longer grant focus.
const TOKEN_LIFETIME: Duration = Duration::from_secs(10);

impl XdgActivationHandler for State {
    fn activation_state(&mut self) -> &mut XdgActivationState {
        &mut self.xdg_activation_state
    }

    fn request_activation(
        &mut self,
        token: XdgActivationToken,
        token_data: XdgActivationTokenData,
        surface: WlSurface,
    ) {
        if token_data.timestamp.elapsed() < TOKEN_LIFETIME
            && let Some(id) = self.windows.by_surface(&surface).map(|managed| managed.id)
        {
            self.focus_window(Some(id));
        }
        self.xdg_activation_state.remove_token(&token);
    }
}

delegate_xdg_activation!(State);
