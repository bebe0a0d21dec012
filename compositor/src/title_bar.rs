//! The server-side title bar: the window's title for the agent to read and a
//! handle for a human to drag, with maximize and close boxes at the right
//! end (their layout is `digios_ipc::title_buttons`, which the agent's marks
//! use too).

use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::element::memory::MemoryRenderBuffer;
use smithay::utils::Transform;

use crate::canvas::{Canvas, GLYPH_SIZE, Rgba};
use crate::windows::{CLOSE_BOX_WIDTH, TITLE_BAR_HEIGHT};

pub const FOCUSED_BAR: Rgba = [0x2b, 0x4f, 0x8a, 0xff];
pub const UNFOCUSED_BAR: Rgba = [0x4a, 0x4a, 0x4a, 0xff];
const TITLE_TEXT: Rgba = [0xff, 0xff, 0xff, 0xff];
const CLOSE_BOX: Rgba = [0xc0, 0x39, 0x2b, 0xff];
const MAXIMIZE_BOX: Rgba = [0x5a, 0x6e, 0x82, 0xff];

/// A drawn title bar, redrawn only when what it shows changes.
pub struct TitleBar {
    shown: (String, i32, bool),
    pub buffer: MemoryRenderBuffer,
}

impl TitleBar {
    /// Reuses `previous` if title, width and focus are unchanged.
    pub fn update(previous: Option<TitleBar>, title: &str, width: i32, focused: bool) -> TitleBar {
        let shown = (title.to_string(), width, focused);
        if let Some(previous) = previous.filter(|bar| bar.shown == shown) {
            return previous;
        }
        let width = width.max(CLOSE_BOX_WIDTH * 2);
        let background = if focused { FOCUSED_BAR } else { UNFOCUSED_BAR };
        let mut canvas = Canvas::new(width, TITLE_BAR_HEIGHT, background);
        let text_top = (TITLE_BAR_HEIGHT - GLYPH_SIZE) / 2;
        let (_, maximize) =
            digios_ipc::title_buttons(digios_ipc::Rect::new(0, 0, width, TITLE_BAR_HEIGHT));
        let buttons = if maximize.is_some() { 2 } else { 1 };
        let room = ((width - buttons * CLOSE_BOX_WIDTH - 16) / GLYPH_SIZE).max(0) as usize;
        let shown_title: String = if title.chars().count() > room {
            let mut cut: String = title.chars().take(room.saturating_sub(1)).collect();
            cut.push('~');
            cut
        } else {
            title.to_string()
        };
        canvas.draw_text(8, text_top, &shown_title, 1, TITLE_TEXT);
        let close_x = width - CLOSE_BOX_WIDTH;
        canvas.fill_rect(
            close_x + 4,
            4,
            CLOSE_BOX_WIDTH - 8,
            TITLE_BAR_HEIGHT - 8,
            CLOSE_BOX,
        );
        canvas.draw_text(
            close_x + (CLOSE_BOX_WIDTH - GLYPH_SIZE) / 2,
            text_top,
            "x",
            1,
            TITLE_TEXT,
        );
        if let Some(maximize) = maximize {
            canvas.fill_rect(
                maximize.x + 4,
                4,
                maximize.width - 8,
                TITLE_BAR_HEIGHT - 8,
                MAXIMIZE_BOX,
            );
            // A window outline as the button's symbol.
            canvas.outline_rect(
                maximize.x + 7,
                7,
                maximize.width - 14,
                TITLE_BAR_HEIGHT - 14,
                1,
                TITLE_TEXT,
            );
            canvas.fill_rect(maximize.x + 7, 7, maximize.width - 14, 2, TITLE_TEXT);
        }
        let buffer = MemoryRenderBuffer::from_slice(
            &canvas.pixels,
            Fourcc::Abgr8888,
            (width, TITLE_BAR_HEIGHT),
            1,
            Transform::Normal,
            None,
        );
        TitleBar { shown, buffer }
    }
}
