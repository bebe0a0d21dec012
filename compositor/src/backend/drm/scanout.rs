//! A scan-out buffer: a DRM dumb buffer with a framebuffer, mapped into the
//! compositor so pixman draws straight into what the display shows.

use std::ptr::NonNull;

use anyhow::Context;
use smithay::backend::drm::DrmDeviceFd;
use smithay::backend::renderer::Bind;
use smithay::backend::renderer::pixman::{PixmanRenderer, PixmanTarget};
use smithay::reexports::drm::buffer::{Buffer as _, DrmFourcc};
use smithay::reexports::drm::control::{Device as ControlDevice, dumbbuffer::DumbBuffer, framebuffer};
use smithay::reexports::pixman;
use smithay::reexports::rustix::mm::{MapFlags, ProtFlags, mmap, munmap};
use std::os::fd::AsFd;

pub struct ScanoutBuffer {
    /// Points into the mapping.
    image: pixman::Image<'static, 'static>,
    map: NonNull<u8>,
    map_len: usize,
    pub framebuffer: framebuffer::Handle,
    dumb: Option<DumbBuffer>,
    fd: DrmDeviceFd,
    pub size: (u32, u32),
    /// Frames since this buffer was last drawn; 0 when never drawn.
    pub age: usize,
}

impl ScanoutBuffer {
    pub fn new(fd: &DrmDeviceFd, width: u32, height: u32) -> anyhow::Result<Self> {
        let dumb = fd
            .create_dumb_buffer((width, height), DrmFourcc::Xrgb8888, 32)
            .context("creating a dumb buffer")?;
        let framebuffer = match fd.add_framebuffer(&dumb, 24, 32) {
            Ok(framebuffer) => framebuffer,
            Err(err) => {
                let _ = fd.destroy_dumb_buffer(dumb);
                return Err(err).context("adding a framebuffer");
            }
        };
        let pitch = dumb.pitch() as usize;
        let map_len = pitch * height as usize;
        let mapped = drm_ffi::mode::dumbbuffer::map(fd.as_fd(), dumb.handle().into(), 0, 0)
            .context("preparing the dumb buffer's mapping")
            .and_then(|map| {
                // SAFETY: maps the buffer's pages from the DRM device at the
                // offset the kernel gave for it; length is pitch × height.
                unsafe {
                    mmap(
                        std::ptr::null_mut(),
                        map_len,
                        ProtFlags::READ | ProtFlags::WRITE,
                        MapFlags::SHARED,
                        fd.as_fd(),
                        map.offset,
                    )
                }
                .context("mapping the dumb buffer")
            });
        let map = match mapped {
            Ok(pointer) => NonNull::new(pointer.cast::<u8>()).expect("mmap never returns null"),
            Err(err) => {
                let _ = fd.destroy_framebuffer(framebuffer);
                let _ = fd.destroy_dumb_buffer(dumb);
                return Err(err);
            }
        };
        // SAFETY: the mapping is pitch × height bytes, page aligned, and is
        // unmapped only in Drop, after which the image is never drawn to.
        let image = unsafe {
            pixman::Image::from_raw_mut(
                pixman::FormatCode::X8R8G8B8,
                width as usize,
                height as usize,
                map.as_ptr().cast::<u32>(),
                pitch,
                false,
            )
        };
        let image = match image {
            Ok(image) => image,
            Err(_) => {
                // SAFETY: unmapping what was mapped above, nothing refers to it.
                let _ = unsafe { munmap(map.as_ptr().cast(), map_len) };
                let _ = fd.destroy_framebuffer(framebuffer);
                let _ = fd.destroy_dumb_buffer(dumb);
                anyhow::bail!("cannot wrap the dumb buffer in a pixman image");
            }
        };
        Ok(Self {
            image,
            map,
            map_len,
            framebuffer,
            dumb: Some(dumb),
            fd: fd.clone(),
            size: (width, height),
            age: 0,
        })
    }

    pub fn bind<'a>(
        &'a mut self,
        renderer: &mut PixmanRenderer,
    ) -> anyhow::Result<PixmanTarget<'a>> {
        renderer
            .bind(&mut self.image)
            .context("binding the scan-out buffer")
    }
}

impl Drop for ScanoutBuffer {
    fn drop(&mut self) {
        // SAFETY: the mapping was made in `new` with this length. The image
        // still points into it but is only unreferenced after this, which
        // never touches its pixels.
        let _ = unsafe { munmap(self.map.as_ptr().cast(), self.map_len) };
        let _ = self.fd.destroy_framebuffer(self.framebuffer);
        if let Some(dumb) = self.dumb.take() {
            let _ = self.fd.destroy_dumb_buffer(dumb);
        }
    }
}
