//! `digios model ...` as real processes against a loopback file server.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use digios_tests::file_server::FileServer;
use digios_tests::model_fixtures::{
    ArtifactSpec, EntrySpec, FileSpec, manifest_toml, random_bytes,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const MB: usize = 1 << 20;
const PROCESS_TIMEOUT: Duration = Duration::from_secs(120);

/// The `digios` binary of this build: target/<profile>/digios beside deps/.
fn digios_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("digios"))
        .expect("test executable lives in target/<profile>/deps");
    assert!(
        path.exists(),
        "{} is missing: build it first with `cargo build -p digios-boot` (cargo xtask test does)",
        path.display()
    );
    path
}

/// A private home with a configuration whose model store and manifest are the test's own.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(entries: &[EntrySpec]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("models.toml");
        std::fs::write(&manifest, manifest_toml(entries)).unwrap();
        let config = format!(
            "[paths]\ncache_dir = {:?}\n\n[models]\nmanifest = {:?}\nattempts_per_source = 3\nbackoff_initial_ms = 5\nbackoff_max_ms = 20\n",
            dir.path().join("cache"),
            manifest,
        );
        std::fs::write(dir.path().join("digios.toml"), config).unwrap();
        Self { dir }
    }

    fn models_dir(&self) -> PathBuf {
        self.dir.path().join("cache/models")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(digios_binary());
        command
            .arg("--config")
            .arg(self.dir.path().join("digios.toml"))
            .arg("model")
            .args(args)
            .env("HOME", self.dir.path())
            .env_remove("DIGIOS_CACHE_DIR")
            .env_remove("DIGIOS_CONFIG")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    async fn run(&self, args: &[&str]) -> Output {
        tokio::time::timeout(PROCESS_TIMEOUT, self.command(args).output())
            .await
            .unwrap_or_else(|_| panic!("digios model {args:?} took over {PROCESS_TIMEOUT:?}"))
            .expect("run digios")
    }
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The STATE column of `digios model list` for `file`.
fn listed_state(listing: &str, file: &str) -> String {
    let line = listing
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some(file))
        .unwrap_or_else(|| panic!("{file} not listed:\n{listing}"));
    // ID KIND FILE SIZE(2 words or "?") STATE...
    let words: Vec<&str> = line.split_whitespace().collect();
    let state_from = if words[3] == "?" { 4 } else { 5 };
    words[state_from..].join(" ")
}

fn three_models(server: &FileServer) -> (Vec<EntrySpec>, Vec<Vec<u8>>) {
    let bodies: Vec<Vec<u8>> = (0..3)
        .map(|i| random_bytes(MB + i * 1000, 20 + i as u64))
        .collect();
    let entries = ["alpha", "beta", "gamma"]
        .iter()
        .zip(&bodies)
        .map(|(id, body)| {
            let path = format!("/{id}.bin");
            server.serve(&path, body.clone());
            EntrySpec::new(
                id,
                vec![FileSpec::of(&format!("{id}.bin"), body)],
                vec![vec![ArtifactSpec::of(&server.url(&path), body)]],
            )
        })
        .collect();
    (entries, bodies)
}

#[tokio::test]
async fn list_shows_missing_present_and_verified() {
    let server = FileServer::start().await;
    let (entries, bodies) = three_models(&server);
    let home = Home::new(&entries);

    let pulled = home.run(&["pull", "alpha"]).await;
    assert!(pulled.status.success(), "{}", text(&pulled));
    // Right bytes put there by hand: present, not yet verified.
    std::fs::write(home.models_dir().join("beta.bin"), &bodies[1]).unwrap();

    let listed = home.run(&["list"]).await;
    assert!(listed.status.success(), "{}", text(&listed));
    let listing = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(
        listing.contains("ID") && listing.contains("STATE"),
        "{listing}"
    );
    assert_eq!(listed_state(&listing, "alpha.bin"), "verified", "{listing}");
    assert_eq!(listed_state(&listing, "beta.bin"), "present", "{listing}");
    assert_eq!(listed_state(&listing, "gamma.bin"), "missing", "{listing}");
    // The built-in manifest's entries are listed too.
    assert!(listing.contains("smollm2-135m-instruct"), "{listing}");

    let verified = home.run(&["verify", "beta"]).await;
    assert!(verified.status.success(), "{}", text(&verified));
    let listed = home.run(&["list"]).await;
    let listing = String::from_utf8_lossy(&listed.stdout).to_string();
    assert_eq!(listed_state(&listing, "beta.bin"), "verified", "{listing}");
}

#[tokio::test]
async fn verify_catches_a_flipped_byte() {
    let server = FileServer::start().await;
    let (entries, _) = three_models(&server);
    let home = Home::new(&entries);
    let pulled = home.run(&["pull", "alpha"]).await;
    assert!(pulled.status.success(), "{}", text(&pulled));
    let good = home.run(&["verify", "alpha"]).await;
    assert!(good.status.success(), "{}", text(&good));

    let path = home.models_dir().join("alpha.bin");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[MB / 3] ^= 0x04;
    std::fs::write(&path, &bytes).unwrap();

    let bad = home.run(&["verify"]).await;
    assert!(!bad.status.success(), "{}", text(&bad));
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("alpha.bin") && l.contains("CORRUPT")),
        "{}",
        text(&bad)
    );
    assert!(!path.exists(), "a corrupt file must leave the model path");
    let resolved = home.run(&["path", "alpha"]).await;
    assert!(!resolved.status.success(), "{}", text(&resolved));
}

#[tokio::test]
async fn pull_path_remove_round_trip_and_from_url() {
    let server = FileServer::start().await;
    let (entries, bodies) = three_models(&server);
    let home = Home::new(&entries);
    server.serve("/elsewhere/gamma.bin", bodies[2].clone());

    let pulled = home
        .run(&[
            "pull",
            "gamma",
            "--from",
            &server.url("/elsewhere/gamma.bin"),
        ])
        .await;
    assert!(pulled.status.success(), "{}", text(&pulled));
    assert!(server.requests("/gamma.bin").is_empty());

    let resolved = home.run(&["path", "gamma"]).await;
    assert!(resolved.status.success(), "{}", text(&resolved));
    let path = PathBuf::from(String::from_utf8_lossy(&resolved.stdout).trim());
    assert_eq!(path, home.models_dir().join("gamma.bin"));
    assert_eq!(std::fs::read(&path).unwrap(), bodies[2]);

    let removed = home.run(&["remove", "gamma"]).await;
    assert!(removed.status.success(), "{}", text(&removed));
    assert!(!path.exists());
    let resolved = home.run(&["path", "gamma"]).await;
    assert!(!resolved.status.success(), "{}", text(&resolved));
    let stderr = String::from_utf8_lossy(&resolved.stderr);
    assert!(stderr.contains("digios model pull gamma"), "{stderr}");
}

#[tokio::test]
async fn pull_of_a_missing_url_fails_naming_it() {
    let server = FileServer::start().await;
    let body = random_bytes(1000, 30);
    let url = server.url("/no/such.whl");
    let home = Home::new(&[EntrySpec::new(
        "absent",
        vec![FileSpec::of("absent.bin", &body)],
        vec![vec![ArtifactSpec::of(&url, &body)]],
    )]);
    let pulled = home.run(&["pull", "absent"]).await;
    assert!(!pulled.status.success(), "{}", text(&pulled));
    let stderr = String::from_utf8_lossy(&pulled.stderr);
    assert!(stderr.contains("404") && stderr.contains(&url), "{stderr}");
    assert!(!home.models_dir().join("absent.bin").exists());
}

/// Reads `child`'s stderr lines until one contains `needle`.
async fn wait_for_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
    needle: &str,
) {
    loop {
        match lines.next_line().await.expect("read stderr") {
            Some(line) if line.contains(needle) => return,
            Some(_) => {}
            None => panic!("stderr ended before a line containing {needle:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_pulling_one_model_download_it_once() {
    let server = FileServer::start().await;
    let body = random_bytes(3 * MB, 31);
    server.serve("/once.bin", body.clone());
    server.hold_at("/once.bin", MB as u64);
    let home = Home::new(&[EntrySpec::new(
        "once",
        vec![FileSpec::of("once.bin", &body)],
        vec![vec![ArtifactSpec::of(&server.url("/once.bin"), &body)]],
    )]);

    let scenario = async {
        let first = home
            .command(&["pull", "once"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        server.wait_until_held().await;
        let mut second = home
            .command(&["pull", "once"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(second.stderr.take().unwrap()).lines();
        wait_for_line(&mut lines, "another pull is under way").await;
        server.release();
        let first = first.wait_with_output().await.unwrap();
        let second_status = second.wait().await.unwrap();
        let second_stdout = {
            let mut out = String::new();
            if let Some(mut stdout) = second.stdout.take() {
                use tokio::io::AsyncReadExt;
                stdout.read_to_string(&mut out).await.unwrap();
            }
            out
        };
        (first, second_status, second_stdout)
    };
    let (first, second_status, second_stdout) = tokio::time::timeout(PROCESS_TIMEOUT, scenario)
        .await
        .expect("concurrent pulls took too long");
    assert!(first.status.success(), "{}", text(&first));
    assert!(String::from_utf8_lossy(&first.stdout).contains("downloaded"));
    assert!(second_status.success());
    assert!(second_stdout.contains("already present"), "{second_stdout}");
    assert_eq!(server.requests("/once.bin").len(), 1);
    assert_eq!(
        std::fs::read(home.models_dir().join("once.bin")).unwrap(),
        body
    );
}
