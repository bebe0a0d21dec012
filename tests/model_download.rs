//! The model store's downloader against a real HTTP server on 127.0.0.1.

use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use digios_agent::models::{
    FileState, Manifest, ModelStore, PullEvent, PullOutcome, RetryPolicy, StoreError,
    VerifyOutcome, ignore_progress,
};
use digios_tests::file_server::FileServer;
use digios_tests::model_fixtures::{
    ArtifactSpec, EntrySpec, FileSpec, SmallFilesystem, dead_url, files_ending_with, manifest_toml,
    random_bytes, zip_archive,
};
use rand::{Rng, SeedableRng};

const MB: usize = 1 << 20;

/// Every test is bounded: a hung download fails instead of blocking the suite.
async fn bounded<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(120), test)
        .await
        .expect("test took over 120 s")
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        stall_timeout: Duration::from_secs(20),
        connect_timeout: Duration::from_secs(5),
    }
}

fn store_at(dir: &Path, entries: &[EntrySpec]) -> ModelStore {
    let manifest = Manifest::parse(&manifest_toml(entries), "test manifest").unwrap();
    ModelStore::new(dir.to_path_buf(), manifest, quick_retries())
}

/// The single file of a single-file entry.
fn single(store: &ModelStore, id: &str) -> (FileState, std::path::PathBuf) {
    let entry = store.entry(id).unwrap();
    let file = &entry.files[0];
    (store.file_state(file), store.file_path(file))
}

/// Collects events for later assertions.
#[derive(Default, Clone)]
struct Recorder(Arc<Mutex<Vec<PullEvent>>>);

impl Recorder {
    fn push(&self, event: PullEvent) {
        self.0.lock().unwrap().push(event);
    }
    fn events(&self) -> Vec<PullEvent> {
        self.0.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn full_download_installs_a_verified_file() {
    bounded(async {
        let server = FileServer::start().await;
        let body = random_bytes(3 * MB, 1);
        server.serve("/m.bin", body.clone());
        let dir = tempfile::tempdir().unwrap();
        let store = store_at(
            dir.path(),
            &[EntrySpec::new(
                "m",
                vec![FileSpec::of("m.bin", &body)],
                vec![vec![ArtifactSpec::of(&server.url("/m.bin"), &body)]],
            )],
        );
        assert_eq!(single(&store, "m").0, FileState::Missing);
        assert!(store.resolve("m").is_err(), "a missing model must not resolve");

        let recorder = Recorder::default();
        let outcome = store.pull("m", &|e| recorder.push(e)).await.unwrap();

        assert_eq!(outcome, PullOutcome::Downloaded);
        let (state, path) = single(&store, "m");
        assert_eq!(state, FileState::Verified);
        assert_eq!(std::fs::read(&path).unwrap(), body);
        assert_eq!(store.resolve("m").unwrap(), path);
        assert_eq!(server.requests("/m.bin").len(), 1);
        assert!(files_ending_with(dir.path(), ".part").is_empty());
        let events = recorder.events();
        assert!(
            events
                .iter()
                .any(|e| matches!(e, PullEvent::DownloadProgress { downloaded, .. } if *downloaded == body.len() as u64)),
            "progress must reach the full size: {events:?}"
        );
        assert!(events.iter().any(|e| matches!(e, PullEvent::Installed { .. })));

        // A second pull finds it and downloads nothing.
        let again = store.pull("m", &ignore_progress).await.unwrap();
        assert_eq!(again, PullOutcome::AlreadyPresent);
        assert_eq!(server.requests("/m.bin").len(), 1);
    })
    .await
}

#[tokio::test]
async fn download_resumes_with_range_after_many_cuts() {
    bounded(async {
        let server = FileServer::start().await;
        let size = 4 * MB;
        let body = random_bytes(size, 2);
        server.serve("/cut.bin", body.clone());
        let seed: u64 = std::env::var("DIGIOS_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| rand::rng().random());
        println!("cut offsets from seed {seed} (set DIGIOS_TEST_SEED to repeat)");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut cuts = std::collections::BTreeSet::new();
        while cuts.len() < 25 {
            cuts.insert(rng.random_range(1..size as u64));
        }
        server.cut_at("/cut.bin", cuts.iter().copied());

        let dir = tempfile::tempdir().unwrap();
        let store = store_at(
            dir.path(),
            &[EntrySpec::new(
                "cut",
                vec![FileSpec::of("cut.bin", &body)],
                vec![vec![ArtifactSpec::of(&server.url("/cut.bin"), &body)]],
            )],
        );
        let outcome = store.pull("cut", &ignore_progress).await.unwrap();
        assert_eq!(outcome, PullOutcome::Downloaded);
        let (state, path) = single(&store, "cut");
        assert_eq!(state, FileState::Verified);
        assert_eq!(std::fs::read(path).unwrap(), body);

        let requests = server.requests("/cut.bin");
        assert_eq!(requests.len(), cuts.len() + 1, "{requests:?}");
        // Each retry resumed exactly where the previous response stopped.
        let mut received = 0u64;
        for (index, request) in requests.iter().enumerate() {
            let expected = (index > 0).then_some(received);
            assert_eq!(
                request.range_start, expected,
                "request {index}: {requests:?}"
            );
            received += request.body_bytes;
        }
        assert_eq!(server.body_bytes_sent("/cut.bin"), size as u64);
    })
    .await
}

#[tokio::test]
async fn server_ignoring_range_restarts_from_zero_and_still_verifies() {
    bounded(async {
        let server = FileServer::start().await;
        let body = random_bytes(2 * MB, 3);
        server.serve("/plain.bin", body.clone());
        server.ignore_range("/plain.bin");
        server.cut_at("/plain.bin", [MB as u64]);
        let dir = tempfile::tempdir().unwrap();
        let store = store_at(
            dir.path(),
            &[EntrySpec::new(
                "plain",
                vec![FileSpec::of("plain.bin", &body)],
                vec![vec![ArtifactSpec::of(&server.url("/plain.bin"), &body)]],
            )],
        );
        store.pull("plain", &ignore_progress).await.unwrap();
        let (state, path) = single(&store, "plain");
        assert_eq!(state, FileState::Verified);
        assert_eq!(std::fs::read(path).unwrap(), body);
        let requests = server.requests("/plain.bin");
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[1].range_start, Some(MB as u64));
        assert_eq!(requests[1].status, 200);
    })
    .await
}

#[tokio::test]
async fn wrong_bytes_fail_the_checksum_and_leave_nothing_at_the_model_path() {
    bounded(async {
        let server = FileServer::start().await;
        let body = random_bytes(MB, 4);
        let mut served = body.clone();
        served[MB / 2] ^= 0x01;
        server.serve("/bad.bin", served.clone());
        server.serve("/bad-artifact.bin", served);
        let dir = tempfile::tempdir().unwrap();
        let store = store_at(
            dir.path(),
            &[
                // The artifact's checksum is unknown: the final file's catches it.
                EntrySpec::new(
                    "bad",
                    vec![FileSpec::of("bad.bin", &body)],
                    vec![vec![ArtifactSpec::url(&server.url("/bad.bin"))]],
                ),
                // The artifact's own checksum catches it before assembly.
                EntrySpec::new(
                    "bad-artifact",
                    vec![FileSpec::of("bad-artifact.bin", &body)],
                    vec![vec![ArtifactSpec::of(
                        &server.url("/bad-artifact.bin"),
                        &body,
                    )]],
                ),
            ],
        );
        for id in ["bad", "bad-artifact"] {
            let err = store.pull(id, &ignore_progress).await.unwrap_err();
            let StoreError::AllSourcesFailed { failures, .. } = &err else {
                panic!("{id}: unexpected error {err}");
            };
            assert!(
                matches!(failures[0], StoreError::ChecksumMismatch { .. }),
                "{id}: {err}"
            );
            assert!(err.to_string().contains("sha256"), "{err}");
            let (state, path) = single(&store, id);
            assert_eq!(state, FileState::Missing, "{id}");
            assert!(
                !path.exists(),
                "{id}: nothing may appear at {}",
                path.display()
            );
            assert!(store.resolve(id).is_err());
        }
        assert!(files_ending_with(dir.path(), ".part").is_empty());
        assert!(files_ending_with(dir.path(), ".staging").is_empty());
    })
    .await
}

#[tokio::test]
async fn not_found_names_the_url() {
    bounded(async {
        let server = FileServer::start().await;
        let url = server.url("/nowhere/model.bin");
        let body = random_bytes(1000, 5);
        let dir = tempfile::tempdir().unwrap();
        let store = store_at(
            dir.path(),
            &[EntrySpec::new(
                "gone",
                vec![FileSpec::of("gone.bin", &body)],
                vec![vec![ArtifactSpec::of(&url, &body)]],
            )],
        );
        let err = store.pull("gone", &ignore_progress).await.unwrap_err();
        let text = err.to_string();
        assert!(err.is_not_found(), "{text}");
        assert!(text.contains("404") && text.contains(&url), "{text}");
        // 404 is final: no retries against the same URL.
        assert_eq!(server.requests("/nowhere/model.bin").len(), 1);
        assert_eq!(single(&store, "gone").0, FileState::Missing);
    })
    .await
}

#[tokio::test]
async fn unreachable_server_is_reported_after_retries() {
    bounded(async {
        let url = dead_url("/model.bin");
        let body = random_bytes(1000, 6);
        let dir = tempfile::tempdir().unwrap();
        let store = store_at(
            dir.path(),
            &[EntrySpec::new(
                "offline",
                vec![FileSpec::of("offline.bin", &body)],
                vec![vec![ArtifactSpec::of(&url, &body)]],
            )],
        );
        let recorder = Recorder::default();
        let err = store
            .pull("offline", &|e| recorder.push(e))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("cannot reach") && text.contains(&url),
            "{text}"
        );
        let retries = recorder
            .events()
            .iter()
            .filter(|e| matches!(e, PullEvent::Retrying { .. }))
            .count();
        assert_eq!(retries, 2, "3 attempts = 2 retries");
    })
    .await
}

#[tokio::test]
async fn second_mirror_is_used_when_the_first_is_dead() {
    bounded(async {
        let server = FileServer::start().await;
        let body = random_bytes(2 * MB, 7);
        server.serve("/mirror2/m.bin", body.clone());
        let dir = tempfile::tempdir().unwrap();
        let store = store_at(
            dir.path(),
            &[EntrySpec::new(
                "m",
                vec![FileSpec::of("m.bin", &body)],
                vec![
                    vec![ArtifactSpec::of(&dead_url("/mirror1/m.bin"), &body)],
                    vec![ArtifactSpec::of(
                        &server.url("/mirror1-missing/m.bin"),
                        &body,
                    )],
                    vec![ArtifactSpec::of(&server.url("/mirror2/m.bin"), &body)],
                ],
            )],
        );
        let recorder = Recorder::default();
        let outcome = store.pull("m", &|e| recorder.push(e)).await.unwrap();
        assert_eq!(outcome, PullOutcome::Downloaded);
        assert_eq!(single(&store, "m").0, FileState::Verified);
        let failed: Vec<usize> = recorder
            .events()
            .iter()
            .filter_map(|e| match e {
                PullEvent::SourceFailed { index, .. } => Some(*index),
                _ => None,
            })
            .collect();
        assert_eq!(failed, vec![0, 1]);
        assert_eq!(server.requests("/mirror2/m.bin").len(), 1);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_pulls_download_once() {
    bounded(async {
        let server = FileServer::start().await;
        let body = random_bytes(3 * MB, 8);
        server.serve("/shared.bin", body.clone());
        server.hold_at("/shared.bin", MB as u64);
        let dir = tempfile::tempdir().unwrap();
        let entries = [EntrySpec::new(
            "shared",
            vec![FileSpec::of("shared.bin", &body)],
            vec![vec![ArtifactSpec::of(&server.url("/shared.bin"), &body)]],
        )];
        // Two stores: two separate lock handles, as two processes would have.
        let first = Arc::new(store_at(dir.path(), &entries));
        let second = Arc::new(store_at(dir.path(), &entries));

        let first_pull = tokio::spawn({
            let store = first.clone();
            async move { store.pull("shared", &ignore_progress).await }
        });
        server.wait_until_held().await;

        let (waiting_tx, mut waiting_rx) = tokio::sync::mpsc::unbounded_channel();
        let second_pull = tokio::spawn({
            let store = second.clone();
            async move {
                let report = move |e: PullEvent| {
                    if matches!(e, PullEvent::WaitingForLock { .. }) {
                        let _ = waiting_tx.send(());
                    }
                };
                store.pull("shared", &report).await
            }
        });
        waiting_rx
            .recv()
            .await
            .expect("the second pull waits for the first");
        server.release();

        let first_outcome = first_pull.await.unwrap().unwrap();
        let second_outcome = second_pull.await.unwrap().unwrap();
        assert_eq!(first_outcome, PullOutcome::Downloaded);
        assert_eq!(second_outcome, PullOutcome::AlreadyPresent);
        assert_eq!(server.requests("/shared.bin").len(), 1);
        assert_eq!(single(&first, "shared").0, FileState::Verified);
    })
    .await
}

#[tokio::test]
async fn zip_members_are_concatenated_across_artifacts() {
    bounded(async {
        let server = FileServer::start().await;
        let part0 = random_bytes(MB + 17, 9);
        let part1 = random_bytes(MB / 2 + 3, 10);
        let config = b"{\"sample_rate\": 22050}".to_vec();
        let first = zip_archive(&[
            ("pkg1/data/model.part00", &part0),
            ("pkg1/data/model.json", &config),
        ]);
        let second = zip_archive(&[("pkg2/data/model.part01", &part1)]);
        server.serve("/pkg1.whl", first.clone());
        server.serve("/pkg2.whl", second.clone());
        let whole = [part0.clone(), part1.clone()].concat();

        let dir = tempfile::tempdir().unwrap();
        let store = store_at(
            dir.path(),
            &[EntrySpec::new(
                "zipped",
                vec![
                    FileSpec::of("model.bin", &whole)
                        .members(&["pkg1/data/model.part00", "pkg2/data/model.part01"]),
                    FileSpec::of("model.json", &config).members(&["pkg1/data/model.json"]),
                ],
                vec![vec![
                    ArtifactSpec::of(&server.url("/pkg1.whl"), &first),
                    ArtifactSpec::of(&server.url("/pkg2.whl"), &second),
                ]],
            )],
        );
        store.pull("zipped", &ignore_progress).await.unwrap();
        let model = store.resolve_file("zipped", "model.bin").unwrap();
        let json = store.resolve_file("zipped", "model.json").unwrap();
        assert_eq!(std::fs::read(&model).unwrap(), whole);
        assert_eq!(std::fs::read(&json).unwrap(), config);
        assert_eq!(store.resolve("zipped").unwrap(), model);
        // Downloaded artifacts are cleaned up once the files are installed.
        assert!(!dir.path().join(".downloads/zipped").exists());
    })
    .await
}

#[tokio::test]
async fn pull_from_a_url_takes_a_zip_or_the_file_itself() {
    bounded(async {
        let server = FileServer::start().await;
        let body = random_bytes(MB, 11);
        let wheel = zip_archive(&[("pkg/model.bin", &body)]);
        server.serve("/raw/model.bin", body.clone());
        server.serve("/wheel/pkg.whl", wheel);
        let dir = tempfile::tempdir().unwrap();
        let store = store_at(
            dir.path(),
            &[EntrySpec::new(
                "m",
                vec![FileSpec::of("model.bin", &body).members(&["pkg/model.bin"])],
                vec![vec![ArtifactSpec::url(&dead_url("/never.whl"))]],
            )],
        );
        for url in [server.url("/raw/model.bin"), server.url("/wheel/pkg.whl")] {
            store.remove("m").unwrap();
            let outcome = store.pull_from("m", &url, &ignore_progress).await.unwrap();
            assert_eq!(outcome, PullOutcome::Downloaded, "{url}");
            let (state, path) = single(&store, "m");
            assert_eq!(state, FileState::Verified, "{url}");
            assert_eq!(std::fs::read(path).unwrap(), body, "{url}");
        }
    })
    .await
}

#[tokio::test]
async fn unknown_checksum_is_present_but_never_verified() {
    bounded(async {
        let server = FileServer::start().await;
        let body = random_bytes(MB, 12);
        server.serve("/u.bin", body.clone());
        let dir = tempfile::tempdir().unwrap();
        let mut file = FileSpec::of("u.bin", &body);
        file.size = None;
        file.sha256 = None;
        let store = store_at(
            dir.path(),
            &[EntrySpec::new(
                "u",
                vec![file],
                vec![vec![ArtifactSpec::of(&server.url("/u.bin"), &body)]],
            )],
        );
        store.pull("u", &ignore_progress).await.unwrap();
        assert_eq!(single(&store, "u").0, FileState::Present);
        let results = store.verify("u").unwrap();
        let VerifyOutcome::Unverifiable { actual } = &results[0].outcome else {
            panic!("{:?}", results[0].outcome);
        };
        assert_eq!(
            actual.to_string(),
            digios_tests::model_fixtures::sha256_hex(&body)
        );
        assert!(results[0].outcome.to_string().contains("no sha256"));
    })
    .await
}

#[tokio::test]
async fn verify_moves_a_corrupt_file_away_and_pull_replaces_it() {
    bounded(async {
        let server = FileServer::start().await;
        let body = random_bytes(2 * MB, 13);
        server.serve("/v.bin", body.clone());
        let dir = tempfile::tempdir().unwrap();
        let store = store_at(
            dir.path(),
            &[EntrySpec::new(
                "v",
                vec![FileSpec::of("v.bin", &body)],
                vec![vec![ArtifactSpec::of(&server.url("/v.bin"), &body)]],
            )],
        );
        store.pull("v", &ignore_progress).await.unwrap();
        let (_, path) = single(&store, "v");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[12345] ^= 0x80;
        std::fs::write(&path, &bytes).unwrap();

        let results = store.verify("v").unwrap();
        assert!(
            matches!(results[0].outcome, VerifyOutcome::Corrupt { .. }),
            "{:?}",
            results[0].outcome
        );
        assert_eq!(single(&store, "v").0, FileState::Missing);

        // A same-size corrupt file is also caught by pull before trusting it.
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(single(&store, "v").0, FileState::Present);
        store.pull("v", &ignore_progress).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), body);
        assert_eq!(single(&store, "v").0, FileState::Verified);
        assert_eq!(server.requests("/v.bin").len(), 2);
    })
    .await
}

#[tokio::test]
async fn disk_full_is_named_and_leaves_nothing_at_the_model_path() {
    bounded(async {
        let server = FileServer::start().await;
        let body = random_bytes(3 * MB, 14);
        server.serve("/big.bin", body.clone());
        let small = SmallFilesystem::mount(MB as u64);
        let unknown_size = {
            let mut file = FileSpec::of("unsized.bin", &body);
            file.size = None;
            file
        };
        let store = store_at(
            &small.path,
            &[
                // Sizes known: the free-space check refuses before downloading.
                EntrySpec::new(
                    "big",
                    vec![FileSpec::of("big.bin", &body)],
                    vec![vec![ArtifactSpec::of(&server.url("/big.bin"), &body)]],
                ),
                // Sizes unknown: the write itself hits ENOSPC.
                EntrySpec::new(
                    "unsized",
                    vec![unknown_size],
                    vec![vec![ArtifactSpec::url(&server.url("/big.bin"))]],
                ),
            ],
        );
        let err = store.pull("big", &ignore_progress).await.unwrap_err();
        assert!(matches!(err, StoreError::InsufficientSpace { .. }), "{err}");
        assert!(err.to_string().contains("disk full"), "{err}");
        assert!(server.requests("/big.bin").is_empty());

        let err = store.pull("unsized", &ignore_progress).await.unwrap_err();
        assert!(matches!(err, StoreError::DiskFull { .. }), "{err}");
        assert!(err.to_string().contains("ENOSPC"), "{err}");
        assert!(!small.path.join("unsized.bin").exists());
        assert!(!small.path.join("big.bin").exists());
    })
    .await
}
