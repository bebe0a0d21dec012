//! layer-shell: backgrounds and panels draw in their layers, panels reserve
//! their exclusive zone, and clicks reach them.

mod support;

use digios_ipc::{Button, Request};
use support::{Compositor, TITLE_BAR_HEIGHT};

const RED: [u8; 4] = [255, 0, 0, 255];

#[test]
fn background_and_panel_layers_draw_and_shape_the_usable_area() {
    let mut compositor = Compositor::start();
    compositor.launch("swaybg", &["-c", "#ff0000"]);
    compositor.wait_until("the swaybg background", || {
        (compositor.screen().at(640, 700) == RED).then_some(())
    });
    // swaynag is a panel anchored to the top edge with an exclusive zone.
    compositor.launch("swaynag", &["-m", "digiOS panel"]);
    let panel_height = compositor.wait_until("the swaynag panel", || {
        let image = compositor.screen();
        let height = (0..200).take_while(|&y| image.at(640, y) != RED).count() as i32;
        (height > 10 && height < 200).then_some(height)
    });

    // A maximized window fills the area below the panel.
    let window = compositor.simple_shm();
    assert!(
        window.geometry.y - TITLE_BAR_HEIGHT >= panel_height,
        "placed below the panel"
    );
    compositor.request(Request::Maximize {
        id: window.id,
        on: true,
    });
    let maximized = compositor.window(window.id).unwrap();
    assert_eq!(maximized.title_bar.unwrap().y, panel_height);
    // Windows draw above the background layer and below the panel.
    let image = compositor.screen();
    assert_ne!(image.at(100, panel_height + TITLE_BAR_HEIGHT + 10), RED);
    assert_ne!(image.at(640, panel_height / 2), support::FOCUSED_BAR);

    // swaynag's close button sits at the right end of the panel; clicking it ends swaynag.
    compositor.request(Request::Click {
        x: Some(1268.0),
        y: Some(f64::from(panel_height / 2)),
        button: Button::Left,
        count: 1,
    });
    // The panel goes, and the maximized window grows into the space it left.
    compositor.wait_until("the panel to go", || {
        let image = compositor.screen();
        (image.at(1000, 5) == RED).then_some(())
    });
    let refitted = compositor.window(window.id).unwrap();
    assert!(refitted.maximized);
    assert_eq!(refitted.title_bar.unwrap().y, 0);
}
