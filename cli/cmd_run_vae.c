/* cli/cmd_run_vae.c — `sdpo run-vae-decode`: latents → images with the VAE decoder of a diffusers
 * folder, as StableDiffusionPipeline does after its last step (models/vae.h).
 * Input contract: a safetensors tensor (default name "latents") [B, L, h, w], any float dtype the
 * reader converts to F32: the pipeline's latents x0, divided by scaling_factor here (unless
 * --raw: already vae.decode's input).
 * Output contract (safetensors, __metadata__ format "pt"):
 *   sample  F32 [B, 3, f·h, f·w]  vae.decode(z).sample (about [-1, 1]); f = 8 for SD-Turbo
 *   images  F32 [B, 3, f·h, f·w]  (sample / 2 + 0.5).clamp(0, 1): the pipeline's output_type="pt" */
#include "cli/commands.h"
#include "models/model_dir.h"
#include "models/vae.h"
#include "nn/safetensors.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void run_vae_help(void) {
    printf("usage: sdpo run-vae-decode --model DIR --input IN.safetensors --out OUT.safetensors\n"
           "                           [--input-name NAME] [--raw] [--threads N]\n"
           "\n"
           "Decodes latents with the VAE decoder of DIR/vae (AutoencoderKL) in float32, as\n"
           "StableDiffusionPipeline does: image = vae.decode(latents / scaling_factor).sample, then\n"
           "(image / 2 + 0.5).clamp(0, 1). Batch elements are decoded one at a time.\n"
           "\n"
           "  --model DIR        diffusers model folder (model_index.json, vae/)\n"
           "  --input F          safetensors holding the latents [B,C,h,w] (C = latent_channels)\n"
           "  --input-name NAME  tensor to read (default \"latents\")\n"
           "  --raw              the input is already vae.decode's input (no / scaling_factor)\n"
           "  --out F            output safetensors with sample and images F32 [B,3,f*h,f*w]\n"
           "                     (f = 2^(len(block_out_channels)-1) = 8 for SD-Turbo)\n"
           "  --threads N        CPU threads (default: the number of online cores)\n");
}

static int parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || end == s || v < lo || v > hi) return 0;
    *out = (int)v;
    return 1;
}

/* The latents [B, L, h, w] of tensor `name` in path, checked against the VAE's latent_channels. */
static sdpo_status read_latents(const char *path, const char *name, int L, float **z,
                                int shape[3]) {
    sdpo_safetensors st;
    sdpo_status rc = sdpo_st_open(path, &st);
    if (rc != SDPO_OK) return rc;
    const sdpo_st_tensor *t;
    rc = sdpo_st_expect(&st, name, 4, (const int64_t[]){-1, L, -1, -1}, &t);
    if (rc == SDPO_OK && (t->shape[0] < 1 || t->shape[2] < 1 || t->shape[3] < 1 ||
                          t->shape[0] > 1 << 16 || t->shape[2] > 1 << 12 || t->shape[3] > 1 << 12))
        rc = sdpo_fail(SDPO_ERR_SHAPE, "%s: tensor '%s' must be [B,%d,h,w] with B, h, w >= 1 "
                       "(h, w <= 4096)", path, name, L);
    if (rc == SDPO_OK && !(*z = malloc(t->numel * sizeof **z)))
        rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path);
    if (rc == SDPO_OK) rc = sdpo_st_read_f32(&st, t, *z, 1);
    if (rc == SDPO_OK) {
        shape[0] = (int)t->shape[0];
        shape[1] = (int)t->shape[2];
        shape[2] = (int)t->shape[3];
    }
    sdpo_st_close(&st);
    return rc;
}

int cmd_run_vae_decode(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"input", required_argument, 0, 'i'},
        {"input-name", required_argument, 0, 'n'}, {"raw", no_argument, 0, 'r'},
        {"out", required_argument, 0, 'o'}, {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *cmd = argv[0], *model = NULL, *in = NULL, *name = "latents", *out = NULL;
    int raw = 0, threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1) threads = 1;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'i': in = optarg; break;
        case 'n': name = optarg; break;
        case 'r': raw = 1; break;
        case 'o': out = optarg; break;
        case 't':
            if (!parse_int(optarg, 1, 4096, &threads))
                return cli_usage_error(cmd, "--threads must be an integer in 1..4096");
            break;
        case 'h': run_vae_help(); return SDPO_EXIT_OK;
        default: return cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!model) return cli_usage_error(cmd, "--model is required");
    if (!in) return cli_usage_error(cmd, "--input is required");
    if (!out) return cli_usage_error(cmd, "--out is required");

    sdpo_model_dir md;
    if (sdpo_model_dir_open(model, &md) != SDPO_OK) return cli_report_error();
    const sdpo_model_component *c;
    nn_params params;
    sdpo_vae vae;
    float *z = NULL, *sample = NULL, *images = NULL;
    int shape[3] = {0, 0, 0}, loaded = 0;
    nn_arena arena = {0};
    nn_ctx ctx = {.backend = NN_BACKEND_CPU, .n_threads = threads};
    sdpo_status st = sdpo_model_dir_require(&md, "vae", "AutoencoderKL", &c);
    if (st == SDPO_OK && (st = sdpo_vae_load(c, SDPO_VAE_DECODER, &params, &vae)) == SDPO_OK)
        loaded = 1;
    if (st == SDPO_OK) st = read_latents(in, name, vae.cfg.latent_channels, &z, shape);
    const int f = loaded ? 1 << (vae.cfg.n_blocks - 1) : 0;
    const size_t n =
        (size_t)shape[0] * (loaded ? vae.cfg.out_channels : 0) * shape[1] * f * shape[2] * f;
    if (st == SDPO_OK && (!(sample = malloc(n * sizeof *sample)) ||
                          !(images = malloc(n * sizeof *images))))
        st = sdpo_fail(SDPO_ERR_NOMEM, "run-vae-decode: out of memory for %zu output floats", n);
    if (st == SDPO_OK)
        st = nn_arena_init(&arena, sdpo_vae_decode_arena_bytes(&ctx, &vae, shape[1], shape[2]));
    if (st == SDPO_OK) {
        const sdpo_vae_decode_opts o = {.unscale = !raw, .to_unit_range = 0};
        st = sdpo_vae_decode(&ctx, &vae, &arena, sample, z, shape[0], shape[1], shape[2], &o);
    }
    if (st == SDPO_OK) {
        memcpy(images, sample, n * sizeof *sample);
        sdpo_vae_postprocess(&ctx, images, n);
        const int64_t s[4] = {shape[0], vae.cfg.out_channels, (int64_t)shape[1] * f,
                              (int64_t)shape[2] * f};
        const sdpo_st_entry e[2] = {{"sample", SDPO_ST_F32, 4, s, sample},
                                    {"images", SDPO_ST_F32, 4, s, images}};
        const char *mk[1] = {"format"}, *mv[1] = {"pt"};
        st = sdpo_st_write(out, e, 2, mk, mv, 1);
        if (st == SDPO_OK)
            printf("wrote %s: %d image(s) %dx%d from %dx%d latents%s\n", out, shape[0],
                   shape[1] * f, shape[2] * f, shape[1], shape[2],
                   raw ? " (raw: no / scaling_factor)" : "");
    }
    nn_arena_free(&arena);
    free(z);
    free(sample);
    free(images);
    if (loaded) {
        sdpo_vae_unbind(&vae);
        nn_params_free(&params);
    }
    sdpo_model_dir_close(&md);
    return st == SDPO_OK ? SDPO_EXIT_OK : cli_report_error();
}
