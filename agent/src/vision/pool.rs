//! OCR worker threads, each with its own Tesseract engine, so recognition
//! never runs on the async runtime's workers and engines are never shared.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use super::ocr::{Band, OcrEngine, OcrError, RawLine};

type Job = Box<dyn FnOnce(&mut Result<OcrEngine, OcrError>) + Send>;

/// A fixed set of OCR threads fed from one queue.
#[derive(Clone)]
pub struct OcrPool {
    jobs: Sender<Job>,
    threads: usize,
}

impl OcrPool {
    /// Starts `threads` workers (at least one); engines start on first use.
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("ocr-{index}"))
                .spawn(move || work(&queue));
            if let Err(err) = spawned {
                tracing::error!("cannot start an OCR thread: {err}");
            }
        }
        Self { jobs, threads }
    }

    /// One worker per core, at most two: Tesseract is CPU-bound and the
    /// agent shares the machine with the compositor and the model.
    pub fn default_size() -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get().min(2))
            .unwrap_or(1)
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Recognises bands on the workers, in parallel; results keep the order
    /// of `bands`.
    pub async fn recognize(&self, bands: Vec<Band>) -> Result<Vec<Vec<RawLine>>, OcrError> {
        let mut waits = Vec::with_capacity(bands.len());
        for band in bands {
            let (reply, wait) = tokio::sync::oneshot::channel();
            let job: Job = Box::new(move |engine| {
                let result = match engine {
                    Ok(engine) => engine.recognize(&band),
                    Err(err) => Err(err.clone()),
                };
                let _ = reply.send(result);
            });
            self.jobs
                .send(job)
                .map_err(|_| OcrError::Failed("the OCR threads have stopped".into()))?;
            waits.push(wait);
        }
        let mut results = Vec::with_capacity(waits.len());
        for wait in waits {
            let lines = wait
                .await
                .map_err(|_| OcrError::Failed("an OCR thread stopped mid-job".into()))??;
            results.push(lines);
        }
        Ok(results)
    }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    let mut engine: Option<Result<OcrEngine, OcrError>> = None;
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        // A failed start (say, missing language data) is retried on the next job.
        if !matches!(engine, Some(Ok(_))) {
            engine = Some(OcrEngine::new());
        }
        if let Some(engine) = engine.as_mut() {
            job(engine);
        }
    }
}
