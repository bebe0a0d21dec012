//! Captures return the real pixels, and the overlays draw what they promise.

mod support;

use digios_ipc::{CaptureRequest, CaptureTarget, ImageFormat, Rect, Request, Response};
use support::{BACKGROUND, Compositor, FOCUSED_BAR, FOOT_BACKGROUND, Overlays, TITLE_BAR_HEIGHT};

const RETICLE: [u8; 4] = [0xff, 0x20, 0x20, 0xff];
const MARK: [u8; 4] = [0xff, 0xd0, 0x00, 0xff];

#[test]
fn screen_capture_shows_what_clients_drew() {
    let mut compositor = Compositor::start();
    let shm = compositor.simple_shm();
    let foot = compositor.foot("sleep 60");
    compositor.request(Request::Move {
        id: foot.id,
        x: 20,
        y: 40,
    });
    compositor.request(Request::Move {
        id: shm.id,
        x: 900,
        y: 300,
    });
    let image = compositor.screen();
    assert_eq!((image.width, image.height), (1280, 800));
    // foot paints its background colour over nearly all of its area.
    let foot_area = Rect::new(20, 40, foot.geometry.width, foot.geometry.height);
    let foot_pixels = image.count_in(foot_area, FOOT_BACKGROUND);
    assert!(foot_pixels * 10 > (foot_area.width * foot_area.height) as usize * 8);
    // weston-simple-shm draws a colourful pattern, never the desktop colour.
    let shm_area = Rect::new(900 + 25, 300 + 25, 200, 200);
    assert_eq!(image.count_in(shm_area, BACKGROUND), 0);
    let distinct: std::collections::HashSet<[u8; 4]> = (0..200)
        .map(|i| image.at_logical(925 + i, 325 + i))
        .collect();
    assert!(distinct.len() > 10, "a pattern, not a flat colour");
    // Away from windows: the desktop.
    assert_eq!(image.at_logical(1270, 790), BACKGROUND);
}

#[test]
fn window_and_region_captures_cover_what_they_name() {
    let mut compositor = Compositor::start();
    let foot = compositor.foot("sleep 60");
    compositor.request(Request::Move {
        id: foot.id,
        x: 100,
        y: 100,
    });
    let window = compositor.capture(CaptureTarget::Window { id: foot.id }, Overlays::default());
    assert_eq!(
        (window.width, window.height),
        (foot.geometry.width, foot.geometry.height + TITLE_BAR_HEIGHT)
    );
    assert_eq!(
        window.at(window.width - 60, TITLE_BAR_HEIGHT / 2),
        FOCUSED_BAR
    );
    assert_eq!(window.at(10, TITLE_BAR_HEIGHT + 100), FOOT_BACKGROUND);

    let region = compositor.capture(
        CaptureTarget::Region {
            rect: Rect::new(90, 90, 40, 30),
        },
        Overlays::default(),
    );
    assert_eq!((region.width, region.height), (40, 30));
    assert_eq!(region.at(0, 0), BACKGROUND);
    assert_eq!(region.at(39, 29), FOOT_BACKGROUND);

    // PNG holds the same pixels as raw RGBA.
    let request = |format| {
        Request::Capture(CaptureRequest {
            target: CaptureTarget::Region {
                rect: Rect::new(90, 90, 40, 30),
            },
            format,
            ..CaptureRequest::default()
        })
    };
    let Response::Image(png_image) = compositor.request(request(ImageFormat::Png)) else {
        panic!("not an image");
    };
    let decoder = png::Decoder::new(std::io::Cursor::new(png_image.data));
    let mut reader = decoder.read_info().unwrap();
    let mut decoded = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut decoded).unwrap();
    assert_eq!((info.width, info.height), (40, 30));
    assert_eq!(info.color_type, png::ColorType::Rgba);
    assert_eq!(&decoded[..info.buffer_size()], &region.pixels[..]);

    // So does `rgba_raw`, whose bytes follow the reply line; the connection
    // keeps working after them.
    let mut client = compositor.client();
    for _ in 0..2 {
        let Ok(Response::Image(raw)) = client.request(&request(ImageFormat::RgbaRaw)) else {
            panic!("not an image");
        };
        assert_eq!(raw.format, ImageFormat::RgbaRaw);
        assert_eq!(raw.data, region.pixels);
    }
    assert!(matches!(
        client.request(&Request::Version),
        Ok(Response::Version { .. })
    ));
}

#[test]
fn reticle_marks_the_pointer_with_a_crosshair_and_label() {
    let compositor = Compositor::start();
    compositor.pointer_move(400.0, 300.0);
    let plain = compositor.screen();
    let marked = compositor.capture(
        CaptureTarget::Screen,
        Overlays {
            reticle: true,
            ..Overlays::default()
        },
    );
    // Crosshair arms left, right, above and below the hotspot; the hotspot itself stays visible.
    for (x, y) in [(392, 300), (408, 300), (400, 292), (400, 308)] {
        assert_eq!(marked.at(x, y), RETICLE, "arm pixel ({x}, {y})");
    }
    assert_eq!(marked.at(400, 300), BACKGROUND);
    // Everything drawn lies near the pointer (crosshair box plus label).
    let changed = plain.differences(&marked);
    assert!(changed.len() > 100);
    assert!(
        changed
            .iter()
            .all(|&(x, y)| (385..520).contains(&x) && (285..340).contains(&y))
    );
    // The label is white text below-right of the crosshair.
    let label_white = changed
        .iter()
        .filter(|&&(x, y)| x > 412 && y > 312 && marked.at(x, y) == [255, 255, 255, 255])
        .count();
    assert!(label_white > 20, "label text pixels: {label_white}");

    // Moving the pointer moves the reticle.
    compositor.pointer_move(1000.0, 700.0);
    let moved = compositor.capture(
        CaptureTarget::Screen,
        Overlays {
            reticle: true,
            ..Overlays::default()
        },
    );
    assert_eq!(moved.at(992, 700), RETICLE);
    assert_eq!(moved.at(392, 300), BACKGROUND);
}

#[test]
fn grid_and_marks_change_the_image() {
    let mut compositor = Compositor::start();
    let foot = compositor.foot("sleep 60");
    compositor.request(Request::Move {
        id: foot.id,
        x: 300,
        y: 200,
    });
    compositor.pointer_move(1200.0, 780.0);
    let plain = compositor.screen();

    let grid = compositor.capture(
        CaptureTarget::Screen,
        Overlays {
            grid: Some(100),
            ..Overlays::default()
        },
    );
    assert_ne!(
        grid.at(100, 150),
        plain.at(100, 150),
        "a vertical grid line at x=100"
    );
    assert_ne!(
        grid.at(250, 100),
        plain.at(250, 100),
        "a horizontal grid line at y=100"
    );
    assert_eq!(
        grid.at(150, 150),
        plain.at(150, 150),
        "nothing between lines"
    );

    let marks = compositor.capture(
        CaptureTarget::Screen,
        Overlays {
            marks: true,
            ..Overlays::default()
        },
    );
    let frame_top = 200 - TITLE_BAR_HEIGHT;
    let right = 300 + foot.geometry.width - 1;
    let bottom = 200 + foot.geometry.height - 1;
    assert_eq!(marks.at(right, 400), MARK, "right edge of the frame");
    assert_eq!(marks.at(500, bottom), MARK, "bottom edge");
    assert_eq!(marks.at(500, frame_top), MARK, "top edge");
    // The number label (the window id) sits above the frame's top-left corner.
    let label = Rect::new(300, frame_top - 20, 20, 20);
    assert!(marks.count_in(label, MARK) > 50);
    assert!(marks.count_in(label, [0, 0, 0, 255]) > 5);
    assert_eq!(marks.at(150, 150), plain.at(150, 150));
}

#[test]
fn scaled_outputs_capture_at_their_scale() {
    let mut compositor = Compositor::start_with(&["--size", "1280x800", "--scale", "2"]);
    let foot = compositor.foot("sleep 60");
    compositor.request(Request::Move {
        id: foot.id,
        x: 10,
        y: 40,
    });
    let image = compositor.screen();
    assert_eq!((image.width, image.height), (1280, 800));
    assert_eq!(image.area, Rect::new(0, 0, 640, 400));
    assert_eq!(image.at(30, 120), FOOT_BACKGROUND);
    assert_eq!(image.at(10, 10), BACKGROUND);
}
