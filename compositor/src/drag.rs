//! A window held by the pointer: moved by its title bar, or resized by an
//! edge or corner of its frame, until the button is released.

use digios_ipc::WindowId;
use smithay::utils::{Logical, Point, Rectangle};

use crate::state::State;
use crate::windows::MAX_WINDOW_SIZE;

/// Smallest content size a pointer resize leaves.
const MIN_SIZE: (i32, i32) = (64, 32);

/// Which sides of a window a resize moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Edges {
    pub left: bool,
    pub right: bool,
    pub top: bool,
    pub bottom: bool,
}

#[derive(Debug, Clone, Copy)]
pub enum PointerDrag {
    Move {
        id: WindowId,
        /// Pointer position minus content location when the drag began.
        grab_offset: Point<f64, Logical>,
    },
    Resize {
        id: WindowId,
        edges: Edges,
        start_pointer: Point<f64, Logical>,
        start_geometry: Rectangle<i32, Logical>,
    },
}

impl PointerDrag {
    pub fn window(&self) -> WindowId {
        match self {
            PointerDrag::Move { id, .. } | PointerDrag::Resize { id, .. } => *id,
        }
    }
}

impl State {
    pub fn start_move(&mut self, id: WindowId, pointer: Point<f64, Logical>) {
        if let Ok(managed) = self.windows.get(id) {
            self.pointer_drag = Some(PointerDrag::Move {
                id,
                grab_offset: pointer - managed.location.to_f64(),
            });
        }
    }

    pub fn start_resize(&mut self, id: WindowId, edges: Edges, pointer: Point<f64, Logical>) {
        if let Ok(managed) = self.windows.get(id) {
            if managed.maximized || managed.fullscreen {
                return;
            }
            self.pointer_drag = Some(PointerDrag::Resize {
                id,
                edges,
                start_pointer: pointer,
                start_geometry: managed.geometry(),
            });
        }
    }

    /// Follows the pointer with the held window.
    pub fn continue_drag(&mut self, pointer: Point<f64, Logical>) {
        let Some(drag) = self.pointer_drag else {
            return;
        };
        let Ok(managed) = self.windows.get_mut(drag.window()) else {
            self.pointer_drag = None;
            return;
        };
        match drag {
            PointerDrag::Move { grab_offset, .. } => {
                managed.location = (pointer - grab_offset).to_i32_round();
                managed.sync_position();
            }
            PointerDrag::Resize {
                edges,
                start_pointer,
                start_geometry: start,
                ..
            } => {
                let delta = (pointer - start_pointer).to_i32_round::<i32>();
                let grow_x = if edges.right {
                    delta.x
                } else if edges.left {
                    -delta.x
                } else {
                    0
                };
                let grow_y = if edges.bottom {
                    delta.y
                } else if edges.top {
                    -delta.y
                } else {
                    0
                };
                let width = (start.size.w + grow_x).clamp(MIN_SIZE.0, MAX_WINDOW_SIZE);
                let height = (start.size.h + grow_y).clamp(MIN_SIZE.1, MAX_WINDOW_SIZE);
                // Left and top edges move the window so the opposite side stays put.
                let x = if edges.left {
                    start.loc.x + start.size.w - width
                } else {
                    start.loc.x
                };
                let y = if edges.top {
                    start.loc.y + start.size.h - height
                } else {
                    start.loc.y
                };
                managed.location = (x, y).into();
                managed.request_size((width, height).into());
            }
        }
        if managed.visible() {
            let (window, location) = (managed.window.clone(), managed.location);
            self.space.map_element(window, location, false);
        }
    }
}
