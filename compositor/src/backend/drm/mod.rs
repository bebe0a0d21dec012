//! DRM/KMS backend: digiOS on the display hardware, as PID 1 or on a VT.
//!
//! - Devices are opened through libseat. As root with neither seatd nor
//!   logind running (digiOS as PID 1), the `noop` libseat backend is chosen,
//!   which opens device nodes directly.
//! - The first `/dev/dri/card*` node with a connected monitor is used; each
//!   connected connector gets a CRTC and its preferred mode.
//! - Frames are drawn with pixman straight into two mapped dumb buffers per
//!   output and page-flipped, one flip in flight per CRTC: a new frame is
//!   drawn only after the previous flip's vblank event. Dumb buffers need
//!   neither GBM nor dma-buf export, so any KMS driver works (virtio-gpu,
//!   bochs, simpledrm, real GPUs).
//! - The pointer is drawn in software into the frame (damage-tracked, so a
//!   move redraws only the cursor's old and new squares).
//! - Input comes from evdev nodes read directly (see `evdev`), so no udevd
//!   is needed.
//! - Hot-plug: kernel uevents (which need no udevd) are logged, and a
//!   changed connector set is reported; outputs are fixed at start.

mod scanout;
mod uevent;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use smithay::backend::drm::{
    DrmDevice, DrmDeviceFd, DrmEvent, DrmSurface, PlaneConfig, PlaneState,
};
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::backend::session::libseat::LibSeatSession;
use smithay::backend::session::{Event as SessionEvent, Session};
use smithay::output::{Mode as OutputMode, Output, PhysicalProperties, Scale, Subpixel};
use smithay::reexports::calloop::LoopHandle;
use smithay::reexports::drm::control::{Device as ControlDevice, ModeTypeFlags, connector, crtc};
use smithay::reexports::rustix::fs::OFlags;
use smithay::utils::{DeviceFd, Rectangle, Transform};

use self::scanout::ScanoutBuffer;
use super::{Backend, Scene, Started, evdev};
use crate::config::CompositorConfig;
use crate::cursor::Cursor;
use crate::render::{draw_frame, scene_elements};
use crate::state::State;

/// Whether a DRM card node exists (for `--backend auto`).
pub fn has_card_node() -> bool {
    !card_nodes().is_empty()
}

/// `/dev/dri/card*`, in name order.
fn card_nodes() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/dev/dri") else {
        return Vec::new();
    };
    let mut nodes: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("card"))
        .map(|entry| entry.path())
        .collect();
    nodes.sort();
    nodes
}

pub struct DrmBackend {
    renderer: PixmanRenderer,
    #[allow(dead_code)] // devices opened through it stay valid while it lives
    session: LibSeatSession,
    device: DrmDevice,
    path: PathBuf,
    outputs: Vec<DrmOutput>,
    cursor: Cursor,
    /// Connectors connected at start, to tell hot-plug changes apart.
    connected: Vec<connector::Handle>,
}

struct DrmOutput {
    output: Output,
    crtc: crtc::Handle,
    surface: DrmSurface,
    buffers: [ScanoutBuffer; 2],
    /// The buffer the next frame is drawn into.
    back: usize,
    damage: OutputDamageTracker,
    /// The first frame sets the mode (a commit); later ones page-flip.
    mode_set: bool,
    flip_pending: bool,
    needs_frame: bool,
}

pub fn start(
    config: &CompositorConfig,
    event_loop: &LoopHandle<'static, State>,
) -> anyhow::Result<Started> {
    let cards = card_nodes();
    if cards.is_empty() {
        bail!(
            "no DRM device: /dev/dri/card* does not exist (is the GPU's kernel module, \
             e.g. virtio-gpu, loaded?); use --backend headless to run without a display"
        );
    }
    let mut session = open_session(event_loop)?;
    let mut last_error = None;
    for card in &cards {
        match open_card(&mut session, card, config) {
            Ok(opened) => return finish(session, opened, config, event_loop),
            Err(err) => {
                tracing::warn!("{}: {err:#}", card.display());
                last_error = Some(err);
            }
        }
    }
    let err = last_error.expect("at least one card was tried");
    Err(err.context(format!(
        "no usable DRM device among {}; use --backend headless to run without a display",
        cards
            .iter()
            .map(|card| card.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// Opens a libseat session. As root with no seat daemon (digiOS as PID 1),
/// libseat's `noop` backend is chosen unless `LIBSEAT_BACKEND` says otherwise.
fn open_session(event_loop: &LoopHandle<'static, State>) -> anyhow::Result<LibSeatSession> {
    let root = smithay::reexports::rustix::process::getuid().is_root();
    let seat_daemon = ["/run/seatd.sock", "/run/systemd/seats"]
        .iter()
        .any(|path| Path::new(path).exists());
    if root && !seat_daemon && std::env::var_os("LIBSEAT_BACKEND").is_none() {
        // SAFETY: the compositor has started no threads yet (the control
        // socket's threads start after the backend), so nothing reads the
        // environment concurrently.
        unsafe { std::env::set_var("LIBSEAT_BACKEND", "noop") };
        tracing::info!("no seat daemon and running as root: libseat backend `noop`");
    }
    let (session, notifier) = LibSeatSession::new().map_err(|err| {
        anyhow::anyhow!(
            "cannot open a libseat session ({err}); run as root (LIBSEAT_BACKEND=noop) \
             or under seatd or logind"
        )
    })?;
    event_loop
        .insert_source(notifier, |event, _, _| match event {
            SessionEvent::PauseSession => tracing::info!("session paused (VT switched away)"),
            SessionEvent::ActivateSession => tracing::info!("session active again"),
        })
        .map_err(|err| anyhow::anyhow!("adding the session to the event loop: {err}"))?;
    Ok(session)
}

struct OpenedCard {
    path: PathBuf,
    device: DrmDevice,
    notifier: smithay::backend::drm::DrmDeviceNotifier,
    outputs: Vec<DrmOutput>,
    connected: Vec<connector::Handle>,
}

fn open_card(
    session: &mut LibSeatSession,
    path: &Path,
    config: &CompositorConfig,
) -> anyhow::Result<OpenedCard> {
    let fd = session
        .open(
            path,
            OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        )
        .with_context(|| format!("opening {}", path.display()))?;
    let fd = DrmDeviceFd::new(DeviceFd::from(fd));
    let (mut device, notifier) =
        DrmDevice::new(fd.clone(), true).context("initialising the DRM device")?;
    let resources = fd.resource_handles().context("reading the DRM resources")?;

    let mut connected = Vec::new();
    let mut used_crtcs: Vec<crtc::Handle> = Vec::new();
    let mut outputs = Vec::new();
    for &handle in resources.connectors() {
        let info = match fd.get_connector(handle, true) {
            Ok(info) => info,
            Err(err) => {
                tracing::warn!("reading connector {handle:?}: {err}");
                continue;
            }
        };
        if info.state() != connector::State::Connected || info.modes().is_empty() {
            continue;
        }
        connected.push(handle);
        let name = format!("{}-{}", info.interface().as_str(), info.interface_id());
        let mode = info
            .modes()
            .iter()
            .find(|mode| mode.mode_type().contains(ModeTypeFlags::PREFERRED))
            .copied()
            .unwrap_or(info.modes()[0]);
        let Some(crtc) = info
            .encoders()
            .iter()
            .filter_map(|encoder| fd.get_encoder(*encoder).ok())
            .flat_map(|encoder| resources.filter_crtcs(encoder.possible_crtcs()))
            .find(|crtc| !used_crtcs.contains(crtc))
        else {
            tracing::warn!("{name}: no free CRTC, not used");
            continue;
        };
        let surface = device
            .create_surface(crtc, mode, &[handle])
            .with_context(|| format!("{name}: creating the DRM surface"))?;
        let (width, height) = mode.size();
        let buffers = [
            ScanoutBuffer::new(&fd, width.into(), height.into())?,
            ScanoutBuffer::new(&fd, width.into(), height.into())?,
        ];
        let scale = config
            .outputs
            .get(outputs.len())
            .map(|spec| spec.scale)
            .unwrap_or(1.0);
        let (mm_width, mm_height) = info.size().unwrap_or((0, 0));
        let output = Output::new(
            name.clone(),
            PhysicalProperties {
                size: (mm_width as i32, mm_height as i32).into(),
                subpixel: Subpixel::Unknown,
                make: "digiOS".into(),
                model: name.clone(),
            },
        );
        let output_mode = OutputMode::from(mode);
        output.change_current_state(
            Some(output_mode),
            Some(Transform::Normal),
            Some(Scale::Fractional(scale)),
            None,
        );
        output.set_preferred(output_mode);
        tracing::info!(
            output = %name,
            "{}x{}@{} Hz, scale {scale}",
            width,
            height,
            mode.vrefresh()
        );
        used_crtcs.push(crtc);
        outputs.push(DrmOutput {
            output,
            crtc,
            surface,
            buffers,
            back: 0,
            damage: OutputDamageTracker::new(
                (i32::from(width), i32::from(height)),
                scale,
                Transform::Normal,
            ),
            mode_set: false,
            flip_pending: false,
            needs_frame: true,
        });
    }
    if outputs.is_empty() {
        bail!(
            "no connected monitor on {} (connectors: {}); use --backend headless to run \
             without a display",
            path.display(),
            resources.connectors().len()
        );
    }
    Ok(OpenedCard {
        path: path.to_path_buf(),
        device,
        notifier,
        outputs,
        connected,
    })
}

fn finish(
    session: LibSeatSession,
    card: OpenedCard,
    _config: &CompositorConfig,
    event_loop: &LoopHandle<'static, State>,
) -> anyhow::Result<Started> {
    let renderer = PixmanRenderer::new().context("creating the pixman renderer")?;
    event_loop
        .insert_source(card.notifier, |event, _, state| match event {
            DrmEvent::VBlank(crtc) => {
                if let Some(drm) = state.backend.drm() {
                    drm.vblank(crtc);
                }
            }
            DrmEvent::Error(err) => tracing::warn!("DRM device error: {err}"),
        })
        .map_err(|err| anyhow::anyhow!("adding the DRM device to the event loop: {err}"))?;
    uevent::watch(event_loop);
    evdev::start(session.clone(), event_loop)?;
    tracing::info!(
        device = %card.path.display(),
        atomic = card.device.is_atomic(),
        outputs = card.outputs.len(),
        "DRM backend ready"
    );
    let outputs = card.outputs.iter().map(|o| o.output.clone()).collect();
    Ok(Started {
        backend: Backend::Drm(Box::new(DrmBackend {
            renderer,
            session,
            device: card.device,
            path: card.path,
            outputs: card.outputs,
            cursor: Cursor::default(),
            connected: card.connected,
        })),
        outputs,
    })
}

impl DrmBackend {
    fn vblank(&mut self, crtc: crtc::Handle) {
        for output in &mut self.outputs {
            if output.crtc == crtc {
                output.flip_pending = false;
            }
        }
    }

    /// A DRM uevent arrived: report connectors that came or went.
    pub fn connectors_changed(&mut self) {
        let fd = self.device.device_fd().clone();
        let Ok(resources) = fd.resource_handles() else {
            return;
        };
        let now: Vec<connector::Handle> = resources
            .connectors()
            .iter()
            .copied()
            .filter(|&handle| {
                fd.get_connector(handle, true)
                    .is_ok_and(|info| info.state() == connector::State::Connected)
            })
            .collect();
        if now != self.connected {
            tracing::warn!(
                device = %self.path.display(),
                before = self.connected.len(),
                now = now.len(),
                "monitors changed; outputs stay as they were at start"
            );
            self.connected = now;
        }
        self.schedule_render();
    }

    fn present_output(
        renderer: &mut PixmanRenderer,
        cursor: &Cursor,
        output: &mut DrmOutput,
        scene: &Scene<'_>,
    ) -> anyhow::Result<()> {
        let Some(region) = scene.space.output_geometry(&output.output) else {
            return Ok(());
        };
        let scale = output.output.current_scale().fractional_scale();
        let mut elements = cursor.elements(renderer, scene.cursor, scene.pointer, region, scale);
        elements.extend(scene_elements(
            renderer,
            scene.space,
            scene.windows,
            region,
            scale,
        )?);
        let back = &mut output.buffers[output.back];
        let age = back.age;
        let drawn = {
            let mut framebuffer = back.bind(renderer)?;
            draw_frame(
                renderer,
                &mut framebuffer,
                &mut output.damage,
                age,
                &elements,
            )?
        };
        output.needs_frame = false;
        if !drawn && output.mode_set {
            return Ok(());
        }
        let (width, height) = back.size;
        let plane = PlaneState {
            handle: output.surface.plane(),
            config: Some(PlaneConfig {
                src: Rectangle::from_size((f64::from(width), f64::from(height)).into()),
                dst: Rectangle::from_size((width as i32, height as i32).into()),
                transform: Transform::Normal,
                alpha: 1.0,
                damage_clips: None,
                fb: back.framebuffer,
                fence: None,
            }),
        };
        if output.mode_set {
            output
                .surface
                .page_flip([plane], true)
                .context("page flip")?;
        } else {
            output
                .surface
                .commit([plane], true)
                .context("setting the mode")?;
            output.mode_set = true;
        }
        output.flip_pending = true;
        for (index, buffer) in output.buffers.iter_mut().enumerate() {
            if index == output.back {
                buffer.age = 1;
            } else if buffer.age > 0 {
                buffer.age += 1;
            }
        }
        output.back = 1 - output.back;
        Ok(())
    }
}

/// What [`Backend`] asks of this backend.
impl DrmBackend {
    pub fn renderer(&mut self) -> &mut PixmanRenderer {
        &mut self.renderer
    }

    pub fn schedule_render(&mut self) {
        for output in &mut self.outputs {
            output.needs_frame = true;
        }
    }

    pub fn present(&mut self, scene: Scene<'_>) {
        for output in &mut self.outputs {
            if !output.needs_frame || output.flip_pending {
                continue;
            }
            if let Err(err) = Self::present_output(&mut self.renderer, &self.cursor, output, &scene)
            {
                tracing::warn!(output = %output.output.name(), "presenting a frame: {err:#}");
            }
        }
    }
}
