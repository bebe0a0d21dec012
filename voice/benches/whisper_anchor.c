/* The benchmark's anchor: whisper.cpp driven through its own C API, as its
 * command-line tool drives it, with the parameters digiOS uses for commands.
 * Usage: whisper_anchor MODEL THREADS MIN_AUDIO_CTX CLIP.f32...
 * Each clip is raw 32-bit float, 16 kHz mono. Prints one line per clip:
 * the milliseconds whisper_full took, a tab, and the text. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "whisper.h"

static void quiet(enum ggml_log_level level, const char *text, void *data) {
    (void)level; (void)text; (void)data;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s MODEL THREADS MIN_AUDIO_CTX CLIP.f32...\n", argv[0]);
        return 2;
    }
    whisper_log_set(quiet, NULL);
    struct whisper_context_params cparams = whisper_context_default_params();
    cparams.use_gpu = false;
    struct whisper_context *ctx = whisper_init_from_file_with_params(argv[1], cparams);
    if (!ctx) {
        fprintf(stderr, "cannot load %s\n", argv[1]);
        return 1;
    }
    int threads = atoi(argv[2]);
    int min_ctx = atoi(argv[3]);
    for (int i = 4; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) { perror(argv[i]); return 1; }
        fseek(f, 0, SEEK_END);
        long bytes = ftell(f);
        fseek(f, 0, SEEK_SET);
        int n = (int)(bytes / sizeof(float));
        float *samples = malloc(bytes);
        if (fread(samples, sizeof(float), n, f) != (size_t)n) { perror(argv[i]); return 1; }
        fclose(f);

        /* The same narrowing digiOS applies: the context covers the clip,
         * decoding is capped at twice the speech rate plus a margin. */
        float secs = n / 16000.0f;
        int audio_ctx = (int)ceilf(secs * 50.0f) + 64;
        if (audio_ctx < min_ctx) audio_ctx = min_ctx;
        if (audio_ctx > 1500) audio_ctx = 1500;

        struct whisper_full_params params = whisper_full_default_params(WHISPER_SAMPLING_GREEDY);
        params.greedy.best_of = 1;
        params.n_threads = threads;
        params.audio_ctx = audio_ctx;
        params.language = "en";
        params.single_segment = true;
        params.no_context = true;
        params.no_timestamps = true;
        params.max_tokens = (int)ceilf(48.0f + 8.0f * secs);
        params.suppress_blank = true;
        params.suppress_nst = true;
        params.print_special = false;
        params.print_progress = false;
        params.print_realtime = false;
        params.print_timestamps = false;

        double start = now_ms();
        if (whisper_full(ctx, params, samples, n) != 0) {
            fprintf(stderr, "whisper_full failed on %s\n", argv[i]);
            return 1;
        }
        double elapsed = now_ms() - start;
        printf("%.1f\t", elapsed);
        for (int s = 0; s < whisper_full_n_segments(ctx); s++) {
            printf("%s", whisper_full_get_segment_text(ctx, s));
        }
        printf("\n");
        fflush(stdout);
        free(samples);
    }
    whisper_free(ctx);
    return 0;
}
