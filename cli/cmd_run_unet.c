/* cli/cmd_run_unet.c — `sdpo run-unet`: one UNet forward on tensors from a safetensors file,
 * for debugging the port against diffusers (models/unet.h).
 * Input contract: sample [B, C_in, H, W], timestep [B] (or [1] / [] for the whole batch),
 * encoder_hidden_states [B, L, D]; any float or integer dtype the reader converts to F32.
 * Output: eps F32 [B, C_out, H, W]. */
#include "cli/commands.h"
#include "models/unet.h"
#include "models/weights.h"
#include "nn/safetensors.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void run_unet_help(void) {
    printf("usage: sdpo run-unet --model DIR --input IN.safetensors --out OUT.safetensors\n"
           "                     [--lora F] [--weights F] [--threads N]\n"
           "\n"
           "Runs the UNet of a diffusers model folder (DIR/unet/config.json and\n"
           "DIR/unet/diffusion_pytorch_model.safetensors, or its .fp16 variant) once, in float32:\n"
           "eps = unet(sample, timestep, encoder_hidden_states).sample, as diffusers computes it.\n"
           "\n"
           "  --model DIR    model folder with unet/ inside (e.g. a StableDiffusionPipeline folder)\n"
           "  --input F      safetensors with sample [B,C,H,W], timestep [B] (or one value for the\n"
           "                 batch) and encoder_hidden_states [B,L,D]\n"
           "  --out F        safetensors receiving eps F32 [B,C_out,H,W] (temporary file, then rename)\n"
           "  --lora F       LoRA file in diffusers/peft names (unet.<module>.lora_A/B.weight) or\n"
           "                 diffusers 0.17 attn-procs names; rank and alpha are read from it\n"
           "  --weights F    weights file to use instead of the one found in DIR/unet\n"
           "  --threads N    CPU threads (default 1)\n");
}

typedef struct {
    float *sample, *timestep, *ehs;
    sdpo_unet_shape shape;
    int C;
} unet_inputs;

static void inputs_free(unet_inputs *in) {
    free(in->sample);
    free(in->timestep);
    free(in->ehs);
}

/* Reads and shape-checks the three inputs against the model's config. */
static sdpo_status load_inputs(const char *path, const sdpo_unet_config *cfg, unet_inputs *in) {
    memset(in, 0, sizeof *in);
    sdpo_safetensors st;
    sdpo_status rc = sdpo_st_open(path, &st);
    if (rc != SDPO_OK) return rc;
    const sdpo_st_tensor *ts = NULL, *tt = NULL, *te = NULL;
    rc = sdpo_st_expect(&st, "sample", 4, (const int64_t[]){-1, cfg->in_channels, -1, -1}, &ts);
    if (rc == SDPO_OK)
        rc = sdpo_st_expect(&st, "encoder_hidden_states", 3,
                            (const int64_t[]){ts->shape[0], -1, cfg->cross_attention_dim}, &te);
    if (rc == SDPO_OK) {
        tt = sdpo_st_find(&st, "timestep");
        if (!tt) rc = sdpo_fail(SDPO_ERR_SHAPE, "%s: missing tensor 'timestep'", path);
        else if (tt->ndim > 1 || (tt->numel != 1 && tt->numel != (size_t)ts->shape[0]))
            rc = sdpo_fail(SDPO_ERR_SHAPE, "%s: tensor 'timestep' must be [B] (B = %lld) or a "
                           "single value", path, (long long)ts->shape[0]);
    }
    if (rc == SDPO_OK && (ts->shape[0] > 1 << 16 || ts->shape[2] > 1 << 14 ||
                          ts->shape[3] > 1 << 14 || te->shape[1] > 1 << 16))
        rc = sdpo_fail(SDPO_ERR_SHAPE, "%s: sample/encoder_hidden_states sizes out of range", path);
    if (rc == SDPO_OK) {
        in->shape = (sdpo_unet_shape){.B = (int)ts->shape[0], .H = (int)ts->shape[2],
                                      .W = (int)ts->shape[3], .L = (int)te->shape[1]};
        in->sample = malloc(ts->numel * sizeof(float));
        in->ehs = malloc(te->numel * sizeof(float));
        in->timestep = malloc((size_t)in->shape.B * sizeof(float));
        if (!in->sample || !in->ehs || !in->timestep)
            rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path);
    }
    if (rc == SDPO_OK) rc = sdpo_st_read_f32(&st, ts, in->sample, 1);
    if (rc == SDPO_OK) rc = sdpo_st_read_f32(&st, te, in->ehs, 1);
    if (rc == SDPO_OK) rc = sdpo_st_read_f32(&st, tt, in->timestep, 1);
    if (rc == SDPO_OK)   /* one timestep for the whole batch: diffusers' timesteps.expand(B) */
        for (int b = (int)tt->numel; b < in->shape.B; b++) in->timestep[b] = in->timestep[0];
    sdpo_st_close(&st);
    if (rc != SDPO_OK) inputs_free(in);
    return rc;
}

/* Builds the model of DIR/unet with its weights and the optional LoRA. */
static sdpo_status load_model(const char *dir, const char *weights, const char *lora,
                              sdpo_unet *u) {
    char path[4096], wpath[4096];
    snprintf(path, sizeof path, "%s/unet", dir);
    sdpo_status rc = SDPO_OK;
    if (!weights) {
        rc = sdpo_weights_find(path, wpath, sizeof wpath);
        weights = wpath;
    }
    sdpo_unet_config cfg;
    snprintf(path, sizeof path, "%s/unet/config.json", dir);
    if (rc == SDPO_OK) rc = sdpo_unet_config_load(path, &cfg);
    sdpo_unet_options opt = sdpo_unet_options_default();
    opt.lora_rank = 0;
    if (rc == SDPO_OK && lora) rc = sdpo_unet_lora_probe(lora, &opt.lora_rank, &opt.lora_alpha);
    if (rc != SDPO_OK) return rc;
    if ((rc = sdpo_unet_init(u, &cfg, &opt)) != SDPO_OK) return rc;
    if ((rc = sdpo_unet_finalize(u)) == SDPO_OK && (rc = sdpo_unet_load_weights(u, weights)) == SDPO_OK &&
        lora)
        rc = sdpo_unet_lora_load(u, lora);
    if (rc != SDPO_OK) sdpo_unet_free(u);
    return rc;
}

int cmd_run_unet(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"input", required_argument, 0, 'i'},
        {"out", required_argument, 0, 'o'}, {"lora", required_argument, 0, 'l'},
        {"weights", required_argument, 0, 'w'}, {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *cmd = argv[0], *model = NULL, *in_path = NULL, *out_path = NULL, *lora = NULL,
               *weights = NULL;
    int threads = 1;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'i': in_path = optarg; break;
        case 'o': out_path = optarg; break;
        case 'l': lora = optarg; break;
        case 'w': weights = optarg; break;
        case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 1024)
                return cli_usage_error(cmd, "--threads must be an integer in 1..1024");
            threads = (int)v;
            break;
        }
        case 'h': run_unet_help(); return SDPO_EXIT_OK;
        default: return cli_usage_error(cmd, "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!model) return cli_usage_error(cmd, "--model is required");
    if (!in_path) return cli_usage_error(cmd, "--input is required");
    if (!out_path) return cli_usage_error(cmd, "--out is required");

    sdpo_unet u;
    if (load_model(model, weights, lora, &u) != SDPO_OK) return cli_report_error();
    unet_inputs in;
    if (load_inputs(in_path, &u.cfg, &in) != SDPO_OK) {
        sdpo_unet_free(&u);
        return cli_report_error();
    }
    nn_ctx ctx = {.backend = NN_BACKEND_CPU, .n_threads = threads};
    const size_t n_out = (size_t)in.shape.B * u.cfg.out_channels * in.shape.H * in.shape.W;
    float *eps = malloc(n_out * sizeof *eps);
    nn_arena arena = {0};
    size_t bytes;
    sdpo_status rc = eps ? SDPO_OK : sdpo_fail(SDPO_ERR_NOMEM, "run-unet: out of memory");
    if (rc == SDPO_OK) rc = sdpo_unet_arena_bytes(&u, &ctx, SDPO_UNET_INFER, &in.shape, &bytes);
    if (rc == SDPO_OK) rc = nn_arena_init(&arena, bytes);
    if (rc == SDPO_OK)
        rc = sdpo_unet_forward(&u, &ctx, &arena, SDPO_UNET_INFER, &in.shape, in.sample,
                               in.timestep, in.ehs, eps);
    if (rc == SDPO_OK) {
        const int64_t shape[4] = {in.shape.B, u.cfg.out_channels, in.shape.H, in.shape.W};
        const sdpo_st_entry e = {"eps", SDPO_ST_F32, 4, shape, eps};
        const char *keys[1] = {"format"}, *vals[1] = {"pt"};
        rc = sdpo_st_write(out_path, &e, 1, keys, vals, 1);
    }
    nn_arena_free(&arena);
    free(eps);
    inputs_free(&in);
    sdpo_unet_free(&u);
    return rc == SDPO_OK ? SDPO_EXIT_OK : cli_report_error();
}
