//! wlr-virtual-pointer: privileged tools move the pointer, click and scroll
//! through the same input path as the control socket.

use smithay::output::Output;
use smithay::reexports::wayland_protocols_wlr::virtual_pointer::v1::server::{
    zwlr_virtual_pointer_manager_v1::{self, ZwlrVirtualPointerManagerV1},
    zwlr_virtual_pointer_v1::{self, ZwlrVirtualPointerV1},
};
use smithay::reexports::wayland_server::backend::GlobalId;
use smithay::reexports::wayland_server::protocol::{wl_pointer, wl_pointer::ButtonState};
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, WEnum,
};
use smithay::utils::{Logical, Point, Rectangle};

use crate::state::{State, is_privileged};

const VERSION: u32 = 2;

pub struct VirtualPointerState {
    _global: GlobalId,
}

impl VirtualPointerState {
    /// Advertises the global to privileged clients only.
    pub fn new(display: &DisplayHandle) -> Self {
        let global = display.create_global::<State, ZwlrVirtualPointerManagerV1, _>(VERSION, ());
        Self { _global: global }
    }
}

/// The output absolute motion maps onto (the whole layout when `None`).
pub struct VirtualPointerData {
    output: Option<Output>,
}

impl GlobalDispatch<ZwlrVirtualPointerManagerV1, ()> for State {
    fn bind(
        _state: &mut State,
        _display: &DisplayHandle,
        _client: &Client,
        resource: New<ZwlrVirtualPointerManagerV1>,
        _global_data: &(),
        data_init: &mut DataInit<'_, State>,
    ) {
        data_init.init(resource, ());
    }

    fn can_view(client: Client, _global_data: &()) -> bool {
        is_privileged(&client)
    }
}

impl Dispatch<ZwlrVirtualPointerManagerV1, ()> for State {
    fn request(
        _state: &mut State,
        _client: &Client,
        _manager: &ZwlrVirtualPointerManagerV1,
        request: zwlr_virtual_pointer_manager_v1::Request,
        _data: &(),
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        match request {
            zwlr_virtual_pointer_manager_v1::Request::CreateVirtualPointer { id, .. } => {
                data_init.init(id, VirtualPointerData { output: None });
            }
            zwlr_virtual_pointer_manager_v1::Request::CreateVirtualPointerWithOutput {
                id,
                output,
                ..
            } => {
                let output = output.as_ref().and_then(Output::from_resource);
                data_init.init(id, VirtualPointerData { output });
            }
            _ => {}
        }
    }
}

impl Dispatch<ZwlrVirtualPointerV1, VirtualPointerData> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        _pointer: &ZwlrVirtualPointerV1,
        request: zwlr_virtual_pointer_v1::Request,
        data: &VirtualPointerData,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
        match request {
            zwlr_virtual_pointer_v1::Request::Motion { dx, dy, .. } => {
                let target = state.pointer_location() + Point::from((dx, dy));
                let target = state.clamp_to_layout(target);
                state.pointer_motion(target);
            }
            zwlr_virtual_pointer_v1::Request::MotionAbsolute {
                x,
                y,
                x_extent,
                y_extent,
                ..
            } => {
                if x_extent == 0 || y_extent == 0 {
                    return;
                }
                let area = match &data.output {
                    Some(output) => state.space.output_geometry(output),
                    None => state.layout_bounds(),
                };
                let Some(area) = area else {
                    return;
                };
                let target = Point::<f64, Logical>::from((
                    f64::from(area.loc.x)
                        + f64::from(x) / f64::from(x_extent) * f64::from(area.size.w),
                    f64::from(area.loc.y)
                        + f64::from(y) / f64::from(y_extent) * f64::from(area.size.h),
                ));
                let target = state.clamp_to_layout(target);
                state.pointer_motion(target);
            }
            zwlr_virtual_pointer_v1::Request::Button {
                button,
                state: button_state,
                ..
            } => {
                let pressed = matches!(button_state, WEnum::Value(ButtonState::Pressed));
                state.pointer_button(button, pressed);
            }
            zwlr_virtual_pointer_v1::Request::Axis { axis, value, .. }
            | zwlr_virtual_pointer_v1::Request::AxisDiscrete { axis, value, .. } => match axis {
                WEnum::Value(wl_pointer::Axis::HorizontalScroll) => {
                    state.pointer_scroll(value, 0.0)
                }
                WEnum::Value(wl_pointer::Axis::VerticalScroll) => state.pointer_scroll(0.0, value),
                _ => {}
            },
            // Frames, sources and stops: every event above is already framed.
            _ => {}
        }
    }
}

impl State {
    /// The rectangle enclosing every output.
    pub fn layout_bounds(&self) -> Option<Rectangle<i32, Logical>> {
        self.space
            .outputs()
            .filter_map(|output| self.space.output_geometry(output))
            .reduce(|all, one| all.merge(one))
    }

    /// The nearest point that lies on the layout's bounding box.
    pub fn clamp_to_layout(&self, point: Point<f64, Logical>) -> Point<f64, Logical> {
        let Some(bounds) = self.layout_bounds() else {
            return point;
        };
        let max_x = f64::from(bounds.loc.x + bounds.size.w) - 1.0;
        let max_y = f64::from(bounds.loc.y + bounds.size.h) - 1.0;
        (
            point.x.clamp(f64::from(bounds.loc.x), max_x),
            point.y.clamp(f64::from(bounds.loc.y), max_y),
        )
            .into()
    }
}
