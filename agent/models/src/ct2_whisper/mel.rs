//! Slaney-style mel filter bank, as Whisper's feature extractor uses it
//! (16 kHz, 400-point FFT, area-normalised triangles).

/// FFT bins per filter for a 400-point FFT.
pub const FFT_BINS: usize = 201;
const SAMPLE_RATE: f64 = 16_000.0;

// The Slaney scale is linear below 1 kHz and logarithmic above.
const HZ_PER_MEL: f64 = 200.0 / 3.0;
const LOG_START_HZ: f64 = 1000.0;
const LOG_START_MEL: f64 = LOG_START_HZ / HZ_PER_MEL;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

fn hz_to_mel(hz: f64) -> f64 {
    if hz >= LOG_START_HZ {
        LOG_START_MEL + (hz.max(1e-10) / LOG_START_HZ).ln() / log_step()
    } else {
        hz / HZ_PER_MEL
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel >= LOG_START_MEL {
        LOG_START_HZ * (log_step() * (mel - LOG_START_MEL)).exp()
    } else {
        HZ_PER_MEL * mel
    }
}

/// `n` evenly spaced points from `start` to `stop` inclusive, computed the way
/// NumPy does so the filters match Whisper's reference bit for bit where possible.
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    let step = (stop - start) / (n - 1) as f64;
    let mut points: Vec<f64> = (0..n).map(|i| i as f64 * step + start).collect();
    if let Some(last) = points.last_mut() {
        *last = stop;
    }
    points
}

/// `n_mels` × [`FFT_BINS`] filter weights, row-major.
pub fn filters(n_mels: usize) -> Vec<f32> {
    let fft_freqs = linspace(0.0, SAMPLE_RATE / 2.0, FFT_BINS);
    let mel_points = linspace(hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2.0), n_mels + 2);
    let edges: Vec<f64> = mel_points.into_iter().map(mel_to_hz).collect();

    let mut weights = Vec::with_capacity(n_mels * FFT_BINS);
    for i in 0..n_mels {
        let (lower, centre, upper) = (edges[i], edges[i + 1], edges[i + 2]);
        let area_norm = 2.0 / (upper - lower);
        for &freq in &fft_freqs {
            let rising = -(lower - freq) / (centre - lower);
            let falling = (upper - freq) / (upper - centre);
            // An explicit comparison, not `max(0.0)`: `max` may return -0.0
            // for a -0.0 input depending on optimisation, and the output
            // must be byte-identical across builds to match its checksum.
            let weight = rising.min(falling);
            let weight = if weight > 0.0 {
                weight * area_norm
            } else {
                0.0
            };
            weights.push(weight as f32);
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_round_trips_and_is_continuous_at_1khz() {
        for hz in [0.0, 300.0, 999.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
    }

    #[test]
    fn filters_are_triangles_covering_the_spectrum() {
        let w = filters(80);
        assert_eq!(w.len(), 80 * FFT_BINS);
        assert!(w.iter().all(|&v| v >= 0.0 && v.is_finite()));
        for row in w.chunks(FFT_BINS) {
            let nonzero: Vec<usize> = (0..FFT_BINS).filter(|&j| row[j] > 0.0).collect();
            assert!(!nonzero.is_empty(), "every filter sees some bin");
            // One contiguous run: a triangle, not scattered bins.
            assert_eq!(nonzero.last().unwrap() - nonzero[0] + 1, nonzero.len());
        }
        // The first triangle starts at 0 Hz and spans about 74 Hz: bin 0 is its foot,
        // bin 1 (40 Hz) is near its peak of 2 / 74.5.
        assert_eq!(w[0], 0.0);
        assert!((w[1] - 0.0249).abs() < 2e-4, "{}", w[1]);
        // The top filter does not reach past Nyquist.
        assert_eq!(w[79 * FFT_BINS + 200], 0.0);
    }
}
