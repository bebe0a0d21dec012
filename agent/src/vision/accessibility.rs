//! The seam for toolkit accessibility trees. A source (the egui shell's
//! AccessKit tree, reported to the agent over the API, is the first planned)
//! lists the widgets it shows with their roles, names and screen boxes; the
//! vision service turns each into a `widget` mark, so a model can press a
//! shell button by number like any other target. OCR cannot see a button's
//! role or an empty input's name; an accessibility tree can.

use digios_ipc::Rect;
use serde::Serialize;
use utoipa::ToSchema;

/// One actionable widget, in global logical coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Widget {
    /// The accessibility role: `button`, `text_input`, `check_box`, ...
    pub role: String,
    /// The accessible name (label) of the widget.
    pub name: String,
    #[schema(value_type = super::RectSchema)]
    pub bbox: Rect,
    /// The window showing it; `None` for layer surfaces such as the panel.
    pub window_id: Option<u64>,
}

/// Something that can list the widgets on screen right now.
pub trait AccessibilitySource: Send + Sync {
    /// The source's name, for logs (`shell`).
    fn name(&self) -> &str;
    /// Widgets currently shown; an empty list when the source is not running.
    fn widgets(&self) -> Vec<Widget>;
}
