/* tests/test_unet_lora.c — LoRA adapters of the UNet: the initial adapter leaves the model
 * bitwise equal to the base model; save → load round-trips bitwise in diffusers/peft names
 * with rank and alpha in the metadata; the diffusers 0.17 (save_attn_procs) names load the same
 * numbers; mismatching files are refused naming the file and the tensor. */
#include <unistd.h>

#include "tests/unet_test_util.h"

static void eps_of(sdpo_unet *u, float *eps) {
    float *sample = ut_read(GOLDEN_UNET, "sample", NULL);
    float *ehs = ut_read(GOLDEN_UNET, "encoder_hidden_states", NULL);
    float *t = ut_read(GOLDEN_UNET, "timestep.mixed", NULL);
    ut_run(u, 2, SDPO_UNET_INFER, sample, t, ehs, eps, NULL, NULL, NULL);
    free(sample), free(ehs), free(t);
}

/* The LoRA tensors of u, in registration order, concatenated. */
static float *lora_values(const sdpo_unet *u, size_t *n) {
    float *out = malloc(u->params.n_floats * sizeof *out);
    *n = 0;
    for (int i = 0; i < u->params.count; i++) {
        nn_param_view v = nn_params_at(&u->params, i);
        if (!strstr(v.name, ".lora_")) continue;
        size_t k = (size_t)nn_tensor_numel(&v.value);
        memcpy(out + *n, v.value.data, k * sizeof *out);
        *n += k;
    }
    return out;
}

static void temp_path(char *buf, size_t n) {
    char dir[64] = "/tmp/sdpo_unet_lora_XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    snprintf(buf, n, "%s/pytorch_lora_weights.safetensors", dir);
}

static void remove_temp(const char *path) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    unlink(path);
    rmdir(dir);
}

/* down ~ N(0, 1/r²), up = 0 (diffusers 0.17.1 / peft "gaussian"): ε is bitwise the base ε. */
START_TEST(initial_lora_is_base) {
    sdpo_unet base, lora;
    ut_build(&base, 0, 0, TINY_WEIGHTS);
    ut_build(&lora, 4, 0, TINY_WEIGHTS);
    sdpo_unet_lora_init(&lora, 42);
    double sum2 = 0;
    size_t n_down = 0;
    for (int i = 0; i < lora.params.count; i++) {
        nn_param_view v = nn_params_at(&lora.params, i);
        size_t k = (size_t)nn_tensor_numel(&v.value);
        if (strstr(v.name, ".lora_B.")) {
            for (size_t j = 0; j < k; j++) ck_assert(v.value.data[j] == 0.0f);
        } else if (strstr(v.name, ".lora_A.")) {
            for (size_t j = 0; j < k; j++) sum2 += (double)v.value.data[j] * v.value.data[j];
            n_down += k;
        }
    }
    /* 2,752 draws: the sample std is within ~5% of 1/r = 0.25 */
    CK_CLOSE(sqrt(sum2 / (double)n_down), 0.25, 0.0125, 0);
    float a[TINY_SAMPLE_N], b[TINY_SAMPLE_N];
    eps_of(&base, a);
    eps_of(&lora, b);
    ck_assert(memcmp(a, b, sizeof a) == 0);
    sdpo_unet_free(&base);
    sdpo_unet_free(&lora);
}
END_TEST

START_TEST(save_load_roundtrip_bitwise) {
    sdpo_unet u, w;
    ut_build(&u, 4, 0, TINY_WEIGHTS);
    ck_assert(sdpo_unet_lora_load(&u, GOLDEN_LORA) == SDPO_OK);
    char path[128];
    temp_path(path, sizeof path);
    ck_assert_msg(sdpo_unet_lora_save(&u, path) == SDPO_OK, "%s", sdpo_last_error());

    /* the names and metadata diffusers' pipe.load_lora_weights reads */
    sdpo_safetensors f;
    ck_assert(sdpo_st_open(path, &f) == SDPO_OK);
    ck_assert_int_eq(f.n_tensors, 64);
    const sdpo_st_tensor *t = sdpo_st_find(
        &f, "unet.up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_k.lora_A.weight");
    ck_assert(t && t->dtype == SDPO_ST_F32 && t->shape[0] == 4 && t->shape[1] == 32);
    t = sdpo_st_find(&f, "unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_out.0.lora_B.weight");
    ck_assert(t && t->shape[0] == 32 && t->shape[1] == 4);
    ck_assert_str_eq(sdpo_st_metadata(&f, "format"), "pt");
    const char *meta = sdpo_st_metadata(&f, "lora_adapter_metadata");
    ck_assert(meta && strstr(meta, "\"unet.r\": 4") && strstr(meta, "\"unet.lora_alpha\": 4") &&
              strstr(meta, "\"to_out.0\""));
    sdpo_st_close(&f);

    ut_build(&w, 4, 0, TINY_WEIGHTS);
    sdpo_unet_lora_init(&w, 7);
    ck_assert_msg(sdpo_unet_lora_load(&w, path) == SDPO_OK, "%s", sdpo_last_error());
    size_t n1, n2;
    float *a = lora_values(&u, &n1), *b = lora_values(&w, &n2);
    ck_assert_uint_eq(n1, 5504);   /* reference/README.md: 64 tensors, 5,504 parameters */
    ck_assert_uint_eq(n1, n2);
    ck_assert(memcmp(a, b, n1 * sizeof *a) == 0);
    ck_assert(u.lora_scale == 1.0f && w.lora_scale == 1.0f);
    float e1[TINY_SAMPLE_N], e2[TINY_SAMPLE_N];
    eps_of(&u, e1);
    eps_of(&w, e2);
    ck_assert(memcmp(e1, e2, sizeof e1) == 0);
    free(a), free(b);
    remove_temp(path);
    sdpo_unet_free(&u);
    sdpo_unet_free(&w);
}
END_TEST

/* SDPO's own checkpoints (diffusers 0.17 LoRAAttnProcessor names) give the same numbers. */
START_TEST(legacy_names_load) {
    sdpo_unet u, w;
    ut_build(&u, 4, 0, TINY_WEIGHTS);
    ut_build(&w, 4, 0, TINY_WEIGHTS);
    ck_assert(sdpo_unet_lora_load(&u, GOLDEN_LORA) == SDPO_OK);
    ck_assert_msg(sdpo_unet_lora_load(&w, GOLDEN_LORA_LEGACY) == SDPO_OK, "%s", sdpo_last_error());
    size_t n1, n2;
    float *a = lora_values(&u, &n1), *b = lora_values(&w, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert(memcmp(a, b, n1 * sizeof *a) == 0);
    free(a), free(b);
    sdpo_unet_free(&u);
    sdpo_unet_free(&w);
}
END_TEST

/* alpha ≠ rank survives the file (diffusers would otherwise assume alpha = r). */
START_TEST(alpha_roundtrip) {
    int rank;
    double alpha;
    ck_assert(sdpo_unet_lora_probe(GOLDEN_LORA, &rank, &alpha) == SDPO_OK);
    ck_assert_int_eq(rank, 4);
    ck_assert(alpha == 4.0);   /* no metadata: alpha = r */
    sdpo_unet_config cfg;
    ck_assert(sdpo_unet_config_load(TINY_CONFIG, &cfg) == SDPO_OK);
    sdpo_unet u, w;
    sdpo_unet_options opt = sdpo_unet_options_default();
    opt.lora_alpha = 8;
    ck_assert(sdpo_unet_init(&u, &cfg, &opt) == SDPO_OK);
    ck_assert(sdpo_unet_finalize(&u) == SDPO_OK);
    ck_assert(u.lora_scale == 2.0f);
    sdpo_unet_lora_init(&u, 1);
    char path[128];
    temp_path(path, sizeof path);
    ck_assert(sdpo_unet_lora_save(&u, path) == SDPO_OK);
    ck_assert(sdpo_unet_lora_probe(path, &rank, &alpha) == SDPO_OK);
    ck_assert_int_eq(rank, 4);
    ck_assert(alpha == 8.0);
    ut_build(&w, 4, 0, TINY_WEIGHTS);
    ck_assert(w.lora_scale == 1.0f);
    ck_assert(sdpo_unet_lora_load(&w, path) == SDPO_OK);
    ck_assert(w.lora_scale == 2.0f);
    remove_temp(path);
    sdpo_unet_free(&u);
    sdpo_unet_free(&w);
}
END_TEST

START_TEST(mismatches_named) {
    sdpo_unet u;
    ut_build(&u, 2, 0, TINY_WEIGHTS);   /* rank 2 model, rank 4 file */
    ck_assert_int_eq(sdpo_unet_lora_load(&u, GOLDEN_LORA), SDPO_ERR_SHAPE);
    ck_assert_msg(strstr(sdpo_last_error(), "rank 4") && strstr(sdpo_last_error(), GOLDEN_LORA),
                  "%s", sdpo_last_error());
    sdpo_unet_free(&u);

    /* a file missing one tensor, and one with a tensor the model does not have */
    ut_build(&u, 4, 0, TINY_WEIGHTS);
    sdpo_safetensors f;
    ck_assert(sdpo_st_open(GOLDEN_LORA, &f) == SDPO_OK);
    sdpo_st_entry e[64];
    float *data[64];
    for (int i = 0; i < f.n_tensors; i++) {
        data[i] = malloc(f.tensors[i].numel * sizeof(float));
        ck_assert(sdpo_st_read_f32(&f, &f.tensors[i], data[i], 1) == SDPO_OK);
        e[i] = (sdpo_st_entry){f.tensors[i].name, SDPO_ST_F32, f.tensors[i].ndim,
                               f.tensors[i].shape, data[i]};
    }
    char path[128];
    temp_path(path, sizeof path);
    ck_assert(sdpo_st_write(path, e + 1, f.n_tensors - 1, NULL, NULL, 0) == SDPO_OK);
    ck_assert_int_eq(sdpo_unet_lora_load(&u, path), SDPO_ERR_SHAPE);
    ck_assert_msg(strstr(sdpo_last_error(), "missing LoRA tensor") &&
                      strstr(sdpo_last_error(), f.tensors[0].name),
                  "%s", sdpo_last_error());
    e[0].name = "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_x.lora_A.weight";
    ck_assert(sdpo_st_write(path, e, f.n_tensors, NULL, NULL, 0) == SDPO_OK);
    ck_assert_int_eq(sdpo_unet_lora_load(&u, path), SDPO_ERR_SHAPE);
    ck_assert_msg(strstr(sdpo_last_error(), "attn1.to_x.lora_A.weight' is not a LoRA tensor"),
                  "%s", sdpo_last_error());
    for (int i = 0; i < f.n_tensors; i++) free(data[i]);
    sdpo_st_close(&f);
    remove_temp(path);
    sdpo_unet_free(&u);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("unet_lora");
    TCase *tc = tcase_create("lora");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, initial_lora_is_base);
    tcase_add_test(tc, save_load_roundtrip_bitwise);
    tcase_add_test(tc, legacy_names_load);
    tcase_add_test(tc, alpha_roundtrip);
    tcase_add_test(tc, mismatches_named);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }
