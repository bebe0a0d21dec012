//! wp-fractional-scale and wl_surface's preferred buffer scale: each surface
//! is told the scale of the output its window (or layer) is on, so clients
//! draw sharp at 2× or 1.5× instead of being stretched.

use smithay::delegate_fractional_scale;
use smithay::desktop::layer_map_for_output;
use smithay::output::Output;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::compositor::{
    TraversalAction, send_surface_state, with_surface_tree_downward,
};
use smithay::wayland::fractional_scale::{FractionalScaleHandler, with_fractional_scale};

use crate::state::State;

impl FractionalScaleHandler for State {
    fn new_fractional_scale(&mut self, surface: WlSurface) {
        // Until its window is placed, a surface gets the first output's scale.
        if let Some(output) = self.space.outputs().next().cloned() {
            tell_scale(&surface, &output);
        }
    }
}

delegate_fractional_scale!(State);

/// Tells a surface tree the scale and transform of `output` (sent only when
/// they change).
fn tell_scale(root: &WlSurface, output: &Output) {
    let scale = output.current_scale();
    let transform = output.current_transform();
    with_surface_tree_downward(
        root,
        (),
        |_, _, _| TraversalAction::DoChildren(()),
        |surface, states, _| {
            send_surface_state(surface, states, scale.integer_scale(), transform);
            with_fractional_scale(states, |fractional| {
                fractional.set_preferred_scale(scale.fractional_scale());
            });
        },
        |_, _, _| true,
    );
}

/// Tells every window and layer surface the scale of the output it is on.
pub fn refresh_surface_scales(state: &State) {
    for managed in state.windows.windows.iter().filter(|m| m.visible()) {
        let (Some(surface), Some(output)) = (
            managed.wl_surface(),
            state.output_for_rect(managed.geometry()),
        ) else {
            continue;
        };
        tell_scale(&surface, &output);
    }
    for output in state.space.outputs() {
        for layer in layer_map_for_output(output).layers() {
            tell_scale(layer.wl_surface(), output);
        }
    }
}
