/* cli/cmd_run_text_encoder.c — `sdpo run-text-encoder`: prompts → CLIP ids → the SD text
 * conditioning, as StableDiffusionPipeline.encode_prompt computes it (models/tokenizer_clip.h,
 * models/clip_text.h).
 * Output contract (safetensors, __metadata__ format "pt"):
 *   input_ids          I64 [B, L]     (L = 77 for prompts: SD-2 padding)
 *   last_hidden_state  F32 [B, L, D]  CLIPTextModel(ids).last_hidden_state
 *   prompt_embeds      F32 [B, L, D]  the UNet's encoder_hidden_states: last_hidden_state, or
 *                                     final_layer_norm(hidden_states[-(k + 1)]) with --clip-skip k */
#include "cli/commands.h"
#include "models/clip_text.h"
#include "models/model_dir.h"
#include "models/tokenizer_clip.h"
#include "nn/safetensors.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void run_text_encoder_help(void) {
    printf("usage: sdpo run-text-encoder --model DIR --prompt TEXT [--prompt TEXT ...]\n"
           "                             --out OUT.safetensors [--clip-skip K] [--threads N]\n"
           "       sdpo run-text-encoder --model DIR --input-ids IDS.safetensors --out OUT.safetensors\n"
           "\n"
           "Tokenizes each prompt with DIR/tokenizer (CLIP BPE; bos, ids, eos, truncated to and\n"
           "padded to model_max_length = 77 with the tokenizer's pad token, '!' = 0 for SD-2) and runs\n"
           "DIR/text_encoder (CLIPTextModel) once in float32. Writes OUT with\n"
           "  input_ids          I64 [B,L]\n"
           "  last_hidden_state  F32 [B,L,D]   final_layer_norm(output of the last layer)\n"
           "  prompt_embeds      F32 [B,L,D]   the SD conditioning (encode_prompt): equal to\n"
           "                                   last_hidden_state unless --clip-skip is given\n"
           "\n"
           "  --model DIR        diffusers model folder (model_index.json, tokenizer/, text_encoder/)\n"
           "  --prompt TEXT      one prompt (UTF-8); repeat for a batch\n"
           "  --input-ids F      already tokenized: safetensors with input_ids I64 [B,L], L <= 77,\n"
           "                     instead of --prompt (the tokenizer is not loaded)\n"
           "  --out F            output safetensors (temporary file, then rename)\n"
           "  --clip-skip K      diffusers' clip_skip: prompt_embeds from K layers before the last,\n"
           "                     with final_layer_norm (default 0)\n"
           "  --threads N        CPU threads (default: the number of online cores)\n");
}

static int parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || end == s || v < lo || v > hi) return 0;
    *out = (int)v;
    return 1;
}

/* input_ids I64 [B, L] of path into a malloc'd array. */
static sdpo_status read_ids(const char *path, int64_t **ids, int *B, int *L) {
    sdpo_safetensors st;
    sdpo_status rc = sdpo_st_open(path, &st);
    if (rc != SDPO_OK) return rc;
    const sdpo_st_tensor *t;
    rc = sdpo_st_expect(&st, "input_ids", 2, (const int64_t[]){-1, -1}, &t);
    if (rc == SDPO_OK && t->dtype != SDPO_ST_I64)
        rc = sdpo_fail(SDPO_ERR_SHAPE, "%s: tensor 'input_ids' is %s, expected I64", path,
                       sdpo_st_dtype_name(t->dtype));
    if (rc == SDPO_OK && (t->shape[0] < 1 || t->shape[1] < 1 || t->shape[0] > 1 << 16 ||
                          t->shape[1] > 1 << 16))
        rc = sdpo_fail(SDPO_ERR_SHAPE, "%s: tensor 'input_ids' must be [B,L] with B, L >= 1", path);
    if (rc == SDPO_OK && !(*ids = malloc(t->nbytes)))
        rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", path);
    if (rc == SDPO_OK) {
        memcpy(*ids, st.data + t->offset, t->nbytes);   /* little-endian I64 on this host */
        *B = (int)t->shape[0];
        *L = (int)t->shape[1];
    }
    sdpo_st_close(&st);
    return rc;
}

/* Tokenizes the prompts with DIR/tokenizer; warns on stderr about truncated ones, as diffusers
 * logs a warning. */
static sdpo_status tokenize(const sdpo_model_dir *md, char **prompts, int B, int64_t **ids,
                            int *L) {
    const sdpo_model_component *c;
    sdpo_status rc = sdpo_model_dir_require(md, "tokenizer", NULL, &c);
    sdpo_clip_tokenizer tok;
    if (rc == SDPO_OK) rc = sdpo_clip_tokenizer_load(c->dir, &tok);
    if (rc != SDPO_OK) return rc;
    *L = tok.max_length;
    if (!(*ids = malloc((size_t)B * tok.max_length * sizeof **ids)))
        rc = sdpo_fail(SDPO_ERR_NOMEM, "tokenizer: out of memory");
    for (int b = 0; b < B && rc == SDPO_OK; b++) {
        int truncated = 0;
        rc = sdpo_clip_tokenize(&tok, prompts[b], *ids + (size_t)b * tok.max_length, NULL, &truncated);
        if (rc != SDPO_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", sdpo_last_error());
            rc = sdpo_fail(rc, "--prompt %d: %s", b + 1, why);
        }
        else if (truncated)
            fprintf(stderr, "sdpo run-text-encoder: prompt %d is longer than %d tokens and was "
                    "truncated\n", b + 1, tok.max_length);
    }
    sdpo_clip_tokenizer_free(&tok);
    return rc;
}

int cmd_run_text_encoder(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"prompt", required_argument, 0, 'p'},
        {"input-ids", required_argument, 0, 'i'}, {"out", required_argument, 0, 'o'},
        {"clip-skip", required_argument, 0, 'k'}, {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *cmd = argv[0], *model = NULL, *ids_path = NULL, *out = NULL;
    int clip_skip = 0, threads = (int)sysconf(_SC_NPROCESSORS_ONLN), n_prompts = 0;
    char **prompts = calloc((size_t)argc, sizeof *prompts);   /* at most one per argument */
    if (!prompts) return cli_report_error();
    if (threads < 1) threads = 1;
    int rc = -1;
    optind = 1;
    for (int c; rc < 0 && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'p': prompts[n_prompts++] = optarg; break;
        case 'i': ids_path = optarg; break;
        case 'o': out = optarg; break;
        case 'k':
            if (!parse_int(optarg, 0, 1000, &clip_skip))
                rc = cli_usage_error(cmd, "--clip-skip must be a non-negative integer");
            break;
        case 't':
            if (!parse_int(optarg, 1, 4096, &threads))
                rc = cli_usage_error(cmd, "--threads must be an integer in 1..4096");
            break;
        case 'h': run_text_encoder_help(); rc = SDPO_EXIT_OK; break;
        default: rc = cli_usage_error(cmd, "unknown option");
        }
    }
    if (rc < 0) {
        if (optind < argc) rc = cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        else if (!model) rc = cli_usage_error(cmd, "--model is required");
        else if (!out) rc = cli_usage_error(cmd, "--out is required");
        else if (!n_prompts == !ids_path)
            rc = cli_usage_error(cmd, "give either --prompt (one or more) or --input-ids");
    }
    if (rc >= 0) {
        free(prompts);
        return rc;
    }

    sdpo_model_dir md;
    const sdpo_model_component *te;
    int64_t *ids = NULL;
    int B = n_prompts, L = 0;
    nn_params params;
    sdpo_clip_text m;
    nn_arena arena = {0};
    float *hidden = NULL, *embeds = NULL;
    int loaded = 0;
    nn_ctx ctx = {.backend = NN_BACKEND_CPU, .n_threads = threads};
    sdpo_status st = sdpo_model_dir_open(model, &md);
    if (st != SDPO_OK) {
        free(prompts);
        return cli_report_error();
    }
    st = sdpo_model_dir_require(&md, "text_encoder", "CLIPTextModel", &te);
    if (st == SDPO_OK)
        st = ids_path ? read_ids(ids_path, &ids, &B, &L) : tokenize(&md, prompts, B, &ids, &L);
    if (st == SDPO_OK)
        loaded = (st = sdpo_clip_text_load(te, &sdpo_clip_text_layout_sd, &params, &m)) == SDPO_OK;
    if (st == SDPO_OK && clip_skip >= m.cfg.num_layers)
        st = sdpo_fail(SDPO_ERR_ARG, "--clip-skip %d: the text encoder has only %d layers",
                       clip_skip, m.cfg.num_layers);
    const size_t n = (size_t)B * L * (loaded ? m.cfg.hidden_size : 0);
    if (st == SDPO_OK && (!(hidden = malloc(n * sizeof *hidden)) ||
                          !(embeds = malloc(n * sizeof *embeds))))
        st = sdpo_fail(SDPO_ERR_NOMEM, "run-text-encoder: out of memory for the outputs");
    if (st == SDPO_OK) st = nn_arena_init(&arena, sdpo_clip_text_arena_bytes(&ctx, &m.cfg, B, L));
    if (st == SDPO_OK)
        st = sdpo_clip_text_forward(&ctx, &m, &arena, ids, B, L, &sdpo_clip_text_last_hidden,
                                    hidden, NULL, NULL);
    if (st == SDPO_OK && clip_skip > 0) {
        const sdpo_clip_text_select sel = {clip_skip, 1};
        st = sdpo_clip_text_forward(&ctx, &m, &arena, ids, B, L, &sel, embeds, NULL, NULL);
    } else if (st == SDPO_OK) {
        memcpy(embeds, hidden, n * sizeof *hidden);
    }
    if (st == SDPO_OK) {
        const int64_t s_ids[2] = {B, L}, s_h[3] = {B, L, loaded ? m.cfg.hidden_size : 0};
        const sdpo_st_entry e[3] = {{"input_ids", SDPO_ST_I64, 2, s_ids, ids},
                                    {"last_hidden_state", SDPO_ST_F32, 3, s_h, hidden},
                                    {"prompt_embeds", SDPO_ST_F32, 3, s_h, embeds}};
        const char *mk[1] = {"format"}, *mv[1] = {"pt"};
        st = sdpo_st_write(out, e, 3, mk, mv, 1);
    }
    if (st == SDPO_OK)
        printf("wrote %s: %d sequence(s) x %d tokens x %d dims (%s, %d layers%s)\n", out, B, L,
               m.cfg.hidden_size, te->class_name, m.cfg.num_layers,
               clip_skip ? ", prompt_embeds with clip_skip" : "");
    nn_arena_free(&arena);
    free(hidden);
    free(embeds);
    free(ids);
    if (loaded) {
        sdpo_clip_text_unbind(&m);
        nn_params_free(&params);
    }
    sdpo_model_dir_close(&md);
    free(prompts);
    return st == SDPO_OK ? SDPO_EXIT_OK : cli_report_error();
}
