//! The one list of Debian packages digiOS needs on a development or CI machine.

/// Packages needed to build the workspace.
pub const BUILD: &[&str] = &[
    "pkg-config",
    "cmake",
    "clang",
    "libclang-dev",
    // compositor
    "libwayland-dev",
    "libxkbcommon-dev",
    "libudev-dev",
    "libinput-dev",
    "libgbm-dev",
    "libseat-dev",
    "libpixman-1-dev",
    // voice
    "libasound2-dev",
    "libsonic-dev",
    // vision
    "libtesseract-dev",
    "libleptonica-dev",
];

/// Packages the test suite drives as real parts: Wayland clients, reference
/// compositors and tools, speech, OCR, load generators, software rendering.
pub const TEST: &[&str] = &[
    "weston",
    "foot",
    "sway",
    "swaybg",
    "grim",
    "wtype",
    "xwayland",
    "espeak-ng",
    "sox",
    "tesseract-ocr",
    "tesseract-ocr-eng",
    "wrk",
    "mesa-vulkan-drivers",
    "libvulkan1",
    "libegl-mesa0",
    "libgl1-mesa-dri",
    "fonts-dejavu-core",
    "xkb-data",
    "xterm",
    // the disk image and QEMU (qemu-system-x86 itself is unpacked: see xtask/src/image.rs)
    "ovmf",
    "mtools",
    "dosfstools",
    "fdisk",
    "e2fsprogs",
    "kmod",
    "binutils",
    "seabios",
    "ipxe-qemu",
    "libcapstone4",
    "libfdt1",
    "libpmem1",
    "librdmacm1",
    "libibverbs1",
    "libslirp0",
    "libvdeplug2",
    "python3-venv",
    // the web console's browser tests
    "chromium",
    "chromium-driver",
];

/// Packages a hosted `digios run` needs at run time.
pub const RUN: &[&str] = &[
    "foot",
    "xkb-data",
    "fonts-dejavu-core",
    "xwayland",
    "tesseract-ocr-eng",
];
