//! `cargo xtask bench` (boot): QEMU launch → digiOS's API answering and →
//! the compositor's first frame, against a bare static init on the same
//! kernel, boot loader, disk layout and QEMU command line, in the same run;
//! and the image's size. Prints figures; asserts none.

use std::time::{Duration, Instant};

use digios_tests::qemu::{self, Vm, VmOptions};

fn main() {
    let dir = tempfile::tempdir().expect("scratch dir");
    let runs: usize = std::env::var("DIGIOS_BOOT_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);

    let bare = dir.path().join("bare.img");
    qemu::build_image(&bare, "", &["--bare", "--serial-console"]);
    // The model comes from loopback, as in the QEMU test.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(digios_tests::file_server::FileServer::start());
    let model =
        digios_tests::digios::model_cache_dir().join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    server.serve("/model.gguf", std::fs::read(model).unwrap());
    let port = server
        .url("/")
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches('/')
        .to_string();
    let image = dir.path().join("digios.img");
    let token = "boot-bench";
    qemu::build_image(
        &image,
        &format!(
            "digios.unattended digios.api_token={token} digios.model_url=http://10.0.2.2:{port}/model.gguf"
        ),
        &["--serial-console"],
    );

    let mut bare_times = Vec::new();
    for run in 0..runs {
        let vars = dir.path().join(format!("bare-vars-{run}.fd"));
        let vm = Vm::boot(VmOptions {
            image: &bare,
            vars: &vars,
            dir: dir.path(),
            api_port: qemu::free_port(),
        });
        vm.wait_for_line("bare init ready", 0, Duration::from_secs(300));
        bare_times.push(vm.started.elapsed());
    }

    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let vars = dir.path().join("vars.fd");
    let api_up = |vm: &Vm| {
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            let answered = http
                .get(format!("{}/api/status", vm.url()))
                .bearer_auth(token)
                .send()
                .is_ok_and(|r| r.status().is_success());
            if answered {
                return vm.started.elapsed();
            }
            assert!(Instant::now() < deadline, "the API never answered");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // First boot (setup, model download) is not what is measured: every later boot is.
    let first = {
        let mut vm = Vm::boot(VmOptions {
            image: &image,
            vars: &vars,
            dir: dir.path(),
            api_port: qemu::free_port(),
        });
        let first = api_up(&vm);
        let _ = http
            .post(format!("{}/api/system/poweroff", vm.url()))
            .bearer_auth(token)
            .send();
        vm.wait_exit(Duration::from_secs(180));
        first
    };
    let mut api_times = Vec::new();
    let mut frame_times = Vec::new();
    for _ in 0..runs {
        let vm = Vm::boot(VmOptions {
            image: &image,
            vars: &vars,
            dir: dir.path(),
            api_port: qemu::free_port(),
        });
        frame_times.push(first_ready(&vm, "compositor"));
        api_times.push(api_up(&vm));
    }

    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let bare = median(&mut bare_times);
    let api = median(&mut api_times);
    let frame = median(&mut frame_times);
    let size = std::fs::metadata(&image).unwrap().len();
    let allocated = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&image).unwrap().blocks() * 512
    };
    println!("boot (QEMU TCG, OVMF, median of {runs}):");
    println!(
        "  bare static init ready:      {:>6.1} s (anchor)",
        bare.as_secs_f64()
    );
    println!(
        "  digiOS compositor ready:     {:>6.1} s ({:.2}x the anchor)",
        frame.as_secs_f64(),
        frame.as_secs_f64() / bare.as_secs_f64()
    );
    println!(
        "  digiOS API answering:        {:>6.1} s ({:.2}x the anchor; target <= 1.5x)",
        api.as_secs_f64(),
        api.as_secs_f64() / bare.as_secs_f64()
    );
    println!(
        "  first boot (setup, 98 MB model download from loopback, API answering): {:.1} s",
        first.as_secs_f64()
    );
    println!(
        "image: {} MiB disk, {} MiB written (sparse)",
        size / (1024 * 1024),
        allocated / (1024 * 1024)
    );
}

/// When the serial console first said `service` was ready, as time since
/// QEMU started: the supervisor logs "ready" for it.
fn first_ready(vm: &Vm, service: &str) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if vm
            .lines()
            .iter()
            .any(|l| l.contains("ready") && l.contains(&format!("service=\"{service}\"")))
        {
            return vm.started.elapsed();
        }
        assert!(Instant::now() < deadline, "{service} never ready");
        std::thread::sleep(Duration::from_millis(50));
    }
}
