//! Input devices read straight from evdev nodes (`/dev/input/event*`).
//!
//! libinput decides what a device is from the `ID_INPUT_*` properties udevd
//! writes; with no udevd (digiOS as PID 1) it ignores every device. So the
//! DRM backend reads evdev itself: keys, buttons, relative motion (mice),
//! absolute motion (tablets, QEMU's usb-tablet) and wheels, each frame
//! applied at `SYN_REPORT` through the compositor's one input path. Devices
//! are grabbed so the text console does not see the keystrokes too. New
//! nodes are picked up by a rescan every two seconds; a node that goes away
//! is dropped on its first failed read.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use smithay::backend::session::Session;
use smithay::input::keyboard::Keycode;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::calloop::{Interest, LoopHandle, Mode, PostAction};
use smithay::reexports::rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
use smithay::utils::{Logical, Point, Rectangle};

use crate::input::SCROLL_NOTCH;
use crate::state::State;

const EV_SYN: u16 = 0x00;
const EV_KEY: u16 = 0x01;
const EV_REL: u16 = 0x02;
const EV_ABS: u16 = 0x03;
const SYN_REPORT: u16 = 0;
const SYN_DROPPED: u16 = 3;
const REL_X: u16 = 0x00;
const REL_Y: u16 = 0x01;
const REL_HWHEEL: u16 = 0x06;
const REL_WHEEL: u16 = 0x08;
const REL_WHEEL_HI_RES: u16 = 0x0b;
const REL_HWHEEL_HI_RES: u16 = 0x0c;
const ABS_X: u16 = 0x00;
const ABS_Y: u16 = 0x01;
/// Mouse buttons: BTN_LEFT ..= BTN_TASK.
const MOUSE_BUTTONS: std::ops::RangeInclusive<u16> = 0x110..=0x117;
/// Evdev key codes are X keycodes minus this.
const XKB_OFFSET: u32 = 8;
const RESCAN: Duration = Duration::from_secs(2);

/// `struct input_event` on 64-bit Linux.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct InputEvent {
    seconds: i64,
    microseconds: i64,
    kind: u16,
    code: u16,
    value: i32,
}

/// `struct input_absinfo`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct AbsInfo {
    value: i32,
    minimum: i32,
    maximum: i32,
    fuzz: i32,
    flat: i32,
    resolution: i32,
}

const fn ioc(direction: u64, number: u64, size: u64) -> u64 {
    (direction << 30) | (size << 16) | ((b'E' as u64) << 8) | number
}
const IOC_WRITE: u64 = 1;
const IOC_READ: u64 = 2;

fn eviocgbit(kind: u16, length: usize) -> u64 {
    ioc(IOC_READ, 0x20 + u64::from(kind), length as u64)
}
fn eviocgabs(axis: u16) -> u64 {
    ioc(
        IOC_READ,
        0x40 + u64::from(axis),
        std::mem::size_of::<AbsInfo>() as u64,
    )
}
const EVIOCGRAB: u64 = ioc(IOC_WRITE, 0x90, 4);
fn eviocgname(length: usize) -> u64 {
    ioc(IOC_READ, 0x06, length as u64)
}

/// Nodes open now, so a rescan opens only new ones; a reader removes its
/// node when the device goes away.
type OpenNodes = Rc<RefCell<HashSet<PathBuf>>>;

/// Opens every input node now and rescans for new ones periodically.
pub fn start<S>(session: S, event_loop: &LoopHandle<'static, State>) -> anyhow::Result<()>
where
    S: Session + 'static,
{
    let mut session = session;
    let open = OpenNodes::default();
    let opened = scan(&mut session, &open, event_loop);
    if opened == 0 {
        tracing::warn!(
            "no input devices in /dev/input; the desktop is driven through the control socket \
             until one appears"
        );
    }
    let handle = event_loop.clone();
    event_loop
        .insert_source(Timer::from_duration(RESCAN), move |_, _, _| {
            scan(&mut session, &open, &handle);
            TimeoutAction::ToDuration(RESCAN)
        })
        .map_err(|err| anyhow::anyhow!("adding the input rescan timer: {err}"))?;
    Ok(())
}

fn scan<S: Session>(
    session: &mut S,
    open: &OpenNodes,
    event_loop: &LoopHandle<'static, State>,
) -> usize {
    let Ok(entries) = std::fs::read_dir("/dev/input") else {
        return 0;
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("event"))
        .map(|entry| entry.path())
        .filter(|path| !open.borrow().contains(path))
        .collect();
    paths.sort();
    let mut opened = 0;
    for path in paths {
        match open_device(session, &path, open) {
            Ok(Some(device)) => {
                let name = device.name.clone();
                let fd = device.fd.try_clone();
                let Ok(fd) = fd else { continue };
                let mut reader = device;
                let inserted = event_loop.insert_source(
                    Generic::new(fd, Interest::READ, Mode::Level),
                    move |_, _, state| Ok(reader.read(state)),
                );
                match inserted {
                    Ok(_) => {
                        tracing::info!(device = %path.display(), %name, "input device added");
                        open.borrow_mut().insert(path);
                        opened += 1;
                    }
                    Err(err) => tracing::warn!("{}: {err}", path.display()),
                }
            }
            // Not an input device we use; looked at again on the next scan
            // only if it reappears.
            Ok(None) => {
                open.borrow_mut().insert(path);
            }
            Err(err) => tracing::warn!("{}: {err:#}", path.display()),
        }
    }
    opened
}

/// An open evdev node and the frame being collected.
struct Device {
    fd: OwnedFd,
    name: String,
    path: PathBuf,
    open: OpenNodes,
    absolute: Option<(AbsInfo, AbsInfo)>,
    frame: Frame,
}

#[derive(Default)]
struct Frame {
    dx: f64,
    dy: f64,
    abs_x: Option<i32>,
    abs_y: Option<i32>,
    wheel: [i32; 2],
    wheel_hi_res: [i32; 2],
    /// Keys and buttons in arrival order: (code, pressed).
    presses: Vec<(u16, bool)>,
}

fn open_device<S: Session>(
    session: &mut S,
    path: &Path,
    open: &OpenNodes,
) -> anyhow::Result<Option<Device>> {
    let fd = session
        .open(
            path,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY,
        )
        .map_err(|err| anyhow::anyhow!("opening: {err:?}"))?;
    // libseat may open devices blocking; reads drain until EAGAIN.
    let flags = fcntl_getfl(&fd).map_err(|err| anyhow::anyhow!("reading flags: {err}"))?;
    fcntl_setfl(&fd, flags | OFlags::NONBLOCK)
        .map_err(|err| anyhow::anyhow!("making the device non-blocking: {err}"))?;
    let raw = fd.as_raw_fd();
    let mut types = [0u8; 4];
    // SAFETY: the kernel writes at most `types.len()` bytes.
    if unsafe { libc::ioctl(raw, eviocgbit(0, types.len()) as _, types.as_mut_ptr()) } < 0 {
        return Ok(None);
    }
    let has = |kind: u16| types[usize::from(kind / 8)] & (1 << (kind % 8)) != 0;
    if !has(EV_KEY) && !has(EV_REL) && !has(EV_ABS) {
        return Ok(None);
    }
    let absolute = if has(EV_ABS) {
        let axis = |code: u16| {
            let mut info = AbsInfo::default();
            // SAFETY: the kernel writes one `input_absinfo`.
            let ok = unsafe { libc::ioctl(raw, eviocgabs(code) as _, &mut info) } >= 0;
            (ok && info.maximum > info.minimum).then_some(info)
        };
        axis(ABS_X).zip(axis(ABS_Y))
    } else {
        None
    };
    let mut name = [0u8; 128];
    // SAFETY: the kernel writes at most `name.len()` bytes.
    unsafe { libc::ioctl(raw, eviocgname(name.len()) as _, name.as_mut_ptr()) };
    let name = String::from_utf8_lossy(&name)
        .trim_end_matches('\0')
        .to_string();
    // SAFETY: EVIOCGRAB takes an int flag by value.
    if unsafe { libc::ioctl(raw, EVIOCGRAB as _, 1 as libc::c_int) } < 0 {
        tracing::debug!(device = %path.display(), "cannot grab; the console may see input too");
    }
    Ok(Some(Device {
        fd,
        name,
        path: path.to_path_buf(),
        open: open.clone(),
        absolute,
        frame: Frame::default(),
    }))
}

impl Device {
    fn read(&mut self, state: &mut State) -> PostAction {
        let mut events = [InputEvent::default(); 64];
        loop {
            let size = std::mem::size_of_val(&events);
            // SAFETY: reads whole `input_event`s into a buffer of `size` bytes.
            let read =
                unsafe { libc::read(self.fd.as_raw_fd(), events.as_mut_ptr().cast(), size) };
            if read < 0 {
                let err = std::io::Error::last_os_error();
                if err.kind() == std::io::ErrorKind::WouldBlock {
                    return PostAction::Continue;
                }
                tracing::info!(device = %self.path.display(), "input device removed ({err})");
                self.open.borrow_mut().remove(&self.path);
                return PostAction::Remove;
            }
            if read == 0 {
                self.open.borrow_mut().remove(&self.path);
                return PostAction::Remove;
            }
            let count = read as usize / std::mem::size_of::<InputEvent>();
            for event in &events[..count] {
                self.event(state, *event);
            }
        }
    }

    fn event(&mut self, state: &mut State, event: InputEvent) {
        let frame = &mut self.frame;
        match (event.kind, event.code) {
            (EV_SYN, SYN_REPORT) => self.apply(state),
            (EV_SYN, SYN_DROPPED) => self.frame = Frame::default(),
            (EV_REL, REL_X) => frame.dx += f64::from(event.value),
            (EV_REL, REL_Y) => frame.dy += f64::from(event.value),
            (EV_REL, REL_WHEEL) => frame.wheel[1] += event.value,
            (EV_REL, REL_HWHEEL) => frame.wheel[0] += event.value,
            (EV_REL, REL_WHEEL_HI_RES) => frame.wheel_hi_res[1] += event.value,
            (EV_REL, REL_HWHEEL_HI_RES) => frame.wheel_hi_res[0] += event.value,
            (EV_ABS, ABS_X) => frame.abs_x = Some(event.value),
            (EV_ABS, ABS_Y) => frame.abs_y = Some(event.value),
            // 2 is auto-repeat: clients repeat keys themselves.
            (EV_KEY, code) if event.value != 2 => frame.presses.push((code, event.value != 0)),
            _ => {}
        }
    }

    /// Applies one frame: motion first, then keys and buttons, then scrolling.
    fn apply(&mut self, state: &mut State) {
        let frame = std::mem::take(&mut self.frame);
        let Some(area) = desktop_area(state) else {
            return;
        };
        let current = state.pointer_location();
        let mut target = None;
        if let (Some((info_x, info_y)), true) =
            (self.absolute, frame.abs_x.is_some() || frame.abs_y.is_some())
        {
            let map = |value: Option<i32>, info: AbsInfo, origin: i32, length: i32, now: f64| {
                value.map_or(now, |value| {
                    let fraction = f64::from(value - info.minimum)
                        / f64::from(info.maximum - info.minimum);
                    f64::from(origin) + fraction * f64::from(length)
                })
            };
            target = Some(Point::<f64, Logical>::from((
                map(frame.abs_x, info_x, area.loc.x, area.size.w, current.x),
                map(frame.abs_y, info_y, area.loc.y, area.size.h, current.y),
            )));
        } else if frame.dx != 0.0 || frame.dy != 0.0 {
            target = Some(current + Point::from((frame.dx, frame.dy)));
        }
        if let Some(target) = target {
            state.pointer_motion(clamp_to_outputs(state, area, target));
        }
        for (code, pressed) in frame.presses {
            if MOUSE_BUTTONS.contains(&code) {
                state.pointer_button(u32::from(code), pressed);
            } else if code < 0x100 || code >= 0x160 {
                state.key(Keycode::new(u32::from(code) + XKB_OFFSET), pressed);
            }
        }
        let scroll = |hi_res: i32, notches: i32| {
            if hi_res != 0 {
                f64::from(hi_res) / 120.0
            } else {
                f64::from(notches)
            }
        };
        let horizontal = scroll(frame.wheel_hi_res[0], frame.wheel[0]);
        let vertical = scroll(frame.wheel_hi_res[1], frame.wheel[1]);
        if horizontal != 0.0 || vertical != 0.0 {
            // Evdev's wheel is positive away from the user, which scrolls up.
            state.pointer_scroll(horizontal * SCROLL_NOTCH, -vertical * SCROLL_NOTCH);
        }
    }
}

/// The bounding box of every output.
fn desktop_area(state: &State) -> Option<Rectangle<i32, Logical>> {
    state
        .space
        .outputs()
        .filter_map(|output| state.space.output_geometry(output))
        .reduce(|area, geometry| area.merge(geometry))
}

/// Keeps the pointer on some output (outputs of different heights leave
/// gaps in their bounding box).
fn clamp_to_outputs(
    state: &State,
    area: Rectangle<i32, Logical>,
    point: Point<f64, Logical>,
) -> Point<f64, Logical> {
    let clamp = |value: f64, low: i32, length: i32| {
        value.clamp(f64::from(low), f64::from(low + length) - 1.0)
    };
    let mut point = Point::from((
        clamp(point.x, area.loc.x, area.size.w),
        clamp(point.y, area.loc.y, area.size.h),
    ));
    if !state.on_some_output(point.x, point.y)
        && let Some(geometry) = state
            .space
            .outputs()
            .filter_map(|output| state.space.output_geometry(output))
            .find(|geometry| {
                (f64::from(geometry.loc.x)..f64::from(geometry.loc.x + geometry.size.w))
                    .contains(&point.x)
            })
    {
        point.y = clamp(point.y, geometry.loc.y, geometry.size.h);
    }
    point
}
