/* tests/test_vit_grad.c — the micro CLIP's training code (micro/vit_train.h,
 * micro/clip_text_train.h, micro/clip_train.h) against central finite differences and against
 * the inference forwards it must agree with.
 *
 * Gradient check. A tiny CLIPModel (image 8, patch 4 → 5 tokens, width 8, 2 heads, 2 layers,
 * QuickGELU in the image tower and GELU in the text tower; vocabulary 11, 6 positions) maps
 * 4 random images and 4 token sequences (eos at different positions, padding after it) through
 * both towers into the multi-positive InfoNCE (two of the four pairs share a group). The loss is
 * a double computed from the towers' float outputs. For every tensor of the registry, up to
 * FD_POINTS evenly spaced elements are moved by ±h (the perturbation actually applied, x ± h
 * rounded to float, is the divisor) and
 *   fd = (L(θ + h e_i) − L(θ − h e_i)) / (2h)
 * is compared with the accumulated gradient: |g − fd| ≤ ATOL + RTOL·|fd|.
 * Error budget: weights are N(0, 0.3) (query/key weights N(0, 1), LayerNorm gains
 * 1 + N(0, 0.3)), so every nonlinearity works off its linear regime and gradients are
 * O(1e-3…1). Rounding: the embeddings carry float rounding ≈ 1e-7 relative, which moves L (≈ 1)
 * by ≲ 1e-7; with h = 1e-3 that is ≲ 5e-5 in fd. Truncation: h²/6 · |∂³L|; sharp attention
 * makes third derivatives large (at h = 1e-2 the class embedding's fd is 7% off, at 3e-3 it is
 * within tolerance, at 1e-3 converged), and at h = 1e-3 it is ≲ 1e-4 for |∂³L| ≲ 600. Hence
 * ATOL = 3e-4, RTOL = 1e-2 (observed worst with SDPO_TEST_VERBOSE=1: 0.35 of the tolerance).
 * A wrong or missing backward term changes some gradient element by O(its size), i.e. a
 * relative error of order 1, far outside RTOL for every gradient that is
 * larger than ATOL; each tensor must also have at least one checked element with
 * |fd| > 10·ATOL, so no tensor passes on zeros alone (except the attention key biases, whose
 * gradient is exactly zero: softmax is invariant to the per-row shift q·b_k they add).
 *
 * Forward agreement: the training forwards must reproduce models/vit.c's sdpo_vit_forward and
 * models/clip_text.c's sdpo_clip_text_forward — bitwise within one vit.c chunk (same ops, same
 * order, same thread count), and within 1e-6 relative for a batch vit.c splits into chunks of 8
 * (a GEMM over other row counts may round differently). */
#include "core/rng.h"
#include "micro/clip_train.h"
#include "micro/quality_train.h"
#include "models/clip_text.h"
#include "models/vit.h"
#include "nn/arena.h"
#include "nn/optim.h"
#include "tests/check_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FD_H 1e-3
#define ATOL 3e-4
#define RTOL 1e-2
#define FD_POINTS 12

enum { B = 4, L = 6, V = 11, E = 6 };

static const sdpo_clip_text_layout layout = {SDPO_CLIP_TEXT_HF, "text_model.",
                                               "text_projection.weight"};

typedef struct {
    sdpo_vit_config vc;
    sdpo_clip_text_config tc;
    nn_params p;
    sdpo_vit_train vit;
    sdpo_clip_text_train text;
    nn_arena arena;
    float *logit_scale;
    nn_ctx ctx;
} tiny;

static void tiny_init(tiny *t, int threads) {
    memset(t, 0, sizeof *t);
    t->ctx = (nn_ctx){.backend = NN_BACKEND_CPU, .n_threads = threads, .stream = NULL};
    t->vc = (sdpo_vit_config){.layout = SDPO_VIT_HF_CLIP, .prefix = "vision_model.",
                              .image_size = 8, .patch_size = 4, .width = 8, .layers = 2,
                              .heads = 2, .mlp_dim = 12, .quick_gelu = 1, .ln_eps = 1e-5f,
                              .embed_dim = E};
    t->tc = (sdpo_clip_text_config){.vocab_size = V, .hidden_size = 8, .intermediate_size = 12,
                                    .num_layers = 2, .num_heads = 2, .max_positions = L,
                                    .layer_norm_eps = 1e-5f, .act = SDPO_CLIP_ACT_GELU,
                                    .pool_argmax = 1, .eos_token_id = 2, .projection_dim = E};
    nn_params_init(&t->p);
    const int64_t one[1] = {1};
    ck_assert_int_eq(sdpo_vit_train_register(&t->vc, &t->p), SDPO_OK);
    ck_assert_int_eq(sdpo_clip_text_train_register(&t->p, &t->tc, &layout), SDPO_OK);
    ck_assert_int_eq(nn_params_add(&t->p, "logit_scale", 1, one, 1), SDPO_OK);
    ck_assert_int_eq(nn_params_finalize(&t->p), SDPO_OK);
    /* the real init first (it must know every tensor), then larger random values */
    ck_assert_int_eq(sdpo_micro_clip_init_weights(&t->p, &t->vc, &t->tc, 7), SDPO_OK);
    sdpo_rng r;
    sdpo_rng_init(&r, 11, SDPO_STREAM_PARAM_INIT);
    for (int i = 0; i < t->p.count; i++) {
        nn_param_view v = nn_params_at(&t->p, i);
        size_t n = (size_t)nn_tensor_numel(&v.value);
        sdpo_rng_normal_fill(&r, v.value.data, n);
        int gain = strstr(v.name, "norm") && strstr(v.name, ".weight");
        /* query/key weights 1.0 instead of 0.3: attention far from uniform, so the q/k
         * gradients are not tiny */
        float sc = strstr(v.name, "q_proj.weight") || strstr(v.name, "k_proj.weight") ? 1.0f : 0.3f;
        for (size_t k = 0; k < n; k++) v.value.data[k] = (gain ? 1.0f : 0.0f) + sc * v.value.data[k];
    }
    nn_param_view ls;
    ck_assert_int_eq(nn_params_get(&t->p, "logit_scale", &ls), SDPO_OK);
    t->logit_scale = ls.value.data;
    *t->logit_scale = 1.6f;   /* factor ≈ 5: soft but not flat softmaxes */
    ck_assert_int_eq(sdpo_vit_train_bind(&t->vit, &t->vc, &t->p), SDPO_OK);
    ck_assert_int_eq(sdpo_clip_text_train_bind(&t->text, &t->p, &t->tc, &layout), SDPO_OK);
    ck_assert_int_eq(nn_arena_init(&t->arena, sdpo_vit_train_arena_bytes(&t->ctx, &t->vc, B) +
                                              sdpo_clip_text_train_arena_bytes(&t->ctx, &t->tc, B, L)),
                     SDPO_OK);
}

static void tiny_free(tiny *t) {
    sdpo_vit_train_free(&t->vit);
    sdpo_clip_text_train_free(&t->text);
    nn_params_free(&t->p);
    nn_arena_free(&t->arena);
}

/* ids: eos (V − 1, the largest id) at positions 5, 2, 3, 1; padding 0 after it. */
static const int64_t ids[B * L] = {3, 4, 5, 6, 7, 10, 3, 8, 10, 0, 0, 0,
                                   9, 9, 1, 10, 0, 0, 3, 10, 0, 0, 0, 0};
static const int group[B] = {0, 1, 0, 2};

static float pixels[B * 3 * 8 * 8];

static void make_pixels(void) {
    sdpo_rng r;
    sdpo_rng_init(&r, 5, SDPO_STREAM_DATA);
    sdpo_rng_normal_fill(&r, pixels, sizeof pixels / sizeof pixels[0]);
}

/* The loss at the current weights; with backward, gradients accumulated into t->p.grads. */
static double loss_at(tiny *t, int backward) {
    float img[B * E], txt[B * E], dimg[B * E], dtxt[B * E];
    double dls;
    nn_arena_reset(&t->arena, 0);
    ck_assert_int_eq(sdpo_vit_train_forward(&t->ctx, &t->vit, &t->arena, B, pixels, img), SDPO_OK);
    ck_assert_int_eq(sdpo_clip_text_train_forward(&t->ctx, &t->text, &t->arena, ids, B, L, txt),
                     SDPO_OK);
    double loss = sdpo_micro_clip_loss(B, E, img, txt, *t->logit_scale, group, dimg, dtxt, &dls);
    if (backward) {
        ck_assert_int_eq(sdpo_clip_text_train_backward(&t->ctx, &t->text, &t->arena, dtxt), SDPO_OK);
        ck_assert_int_eq(sdpo_vit_train_backward(&t->ctx, &t->vit, &t->arena, dimg), SDPO_OK);
        float *g = sdpo_params_grad_of(&t->p, t->logit_scale);
        g[0] += (float)dls;
    }
    return loss;
}

static void check_gradients(int threads) {
    make_pixels();
    tiny t;
    tiny_init(&t, threads);
    nn_zero_grad(&t.ctx, t.p.grads, t.p.n_trainable);
    loss_at(&t, 1);
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < t.p.count; i++) {
        nn_param_view v = nn_params_at(&t.p, i);
        const size_t n = (size_t)nn_tensor_numel(&v.value);
        const size_t stride = n > FD_POINTS ? n / FD_POINTS : 1;
        double biggest = 0;
        for (size_t k = 0; k < n; k += stride) {
            float *x = v.value.data + k, x0 = *x;
            *x = (float)(x0 + FD_H);
            double up = loss_at(&t, 0), xu = *x;
            *x = (float)(x0 - FD_H);
            double down = loss_at(&t, 0), xd = *x;
            *x = x0;
            double fd = (up - down) / (xu - xd), g = v.grad[k];
            double err = fabs(g - fd), tol = ATOL + RTOL * fabs(fd);
            ck_assert_msg(err <= tol, "%s[%zu]: gradient %.8g, finite difference %.8g (tol %.3g)",
                          v.name, k, g, fd, tol);
            if (err / tol > worst) worst = err / tol, worst_name = v.name;
            if (fabs(fd) > biggest) biggest = fabs(fd);
        }
        /* The key bias shifts every score of a query row by the same q·b_k, which the softmax
         * ignores: its gradient is exactly zero (checked above, |g| ≤ ATOL). */
        if (!strstr(v.name, "k_proj.bias"))
            ck_assert_msg(biggest > 10 * ATOL, "%s: every checked gradient is below %.1g: the "
                          "check would not see a wrong backward", v.name, 10 * ATOL);
    }
    if (getenv("SDPO_TEST_VERBOSE"))
        printf("test_vit_grad (%d threads): worst |g - fd| / tol = %.3f (%s) over %d tensors\n",
               threads, worst, worst_name, t.p.count);
    tiny_free(&t);
}

START_TEST(test_gradients_1_thread) { check_gradients(1); }
END_TEST

START_TEST(test_gradients_2_threads) { check_gradients(2); }
END_TEST

/* The loss alone: its gradients (image, text, logit_scale) against double finite differences of
 * the double loss, on float inputs (h = 1e-3, truncation ≲ 1e-7: tolerance 1e-6 + 1e-5 rel). */
START_TEST(test_loss_gradient) {
    enum { n = 5, e = 3 };
    float img[n * e], txt[n * e], di[n * e], dt[n * e], d2i[n * e], d2t[n * e];
    const int g[n] = {4, 1, 4, 4, 2};
    sdpo_rng r;
    sdpo_rng_init(&r, 3, SDPO_STREAM_DATA);
    sdpo_rng_normal_fill(&r, img, n * e);
    sdpo_rng_normal_fill(&r, txt, n * e);
    double dls, dls2;
    const float ls = 1.2f;
    sdpo_micro_clip_loss(n, e, img, txt, ls, g, di, dt, &dls);
    for (int k = 0; k < 2 * n * e + 1; k++) {
        float *x = k < n * e ? img + k : k < 2 * n * e ? txt + (k - n * e) : NULL;
        const float h = 1e-3f;
        double up, down, fd, an;
        if (x) {
            float x0 = *x;
            *x = x0 + h;
            up = sdpo_micro_clip_loss(n, e, img, txt, ls, g, d2i, d2t, &dls2);
            double xu = *x;
            *x = x0 - h;
            down = sdpo_micro_clip_loss(n, e, img, txt, ls, g, d2i, d2t, &dls2);
            fd = (up - down) / (xu - *x);
            *x = x0;
            an = k < n * e ? di[k] : dt[k - n * e];
        } else {
            up = sdpo_micro_clip_loss(n, e, img, txt, ls + h, g, d2i, d2t, &dls2);
            down = sdpo_micro_clip_loss(n, e, img, txt, ls - h, g, d2i, d2t, &dls2);
            fd = (up - down) / ((double)(ls + h) - (double)(ls - h));
            an = dls;
        }
        CK_CLOSE(an, fd, 1e-6, 1e-5);
    }
    /* with every sample in its own group this is CLIP's loss: at equal embeddings per pair
     * and orthogonal pairs, L = log(1 + (n−1)e^{−s}) */
    float a[3 * 3] = {1, 0, 0, 0, 2, 0, 0, 0, 3};
    const int own[3] = {0, 1, 2};
    double l = sdpo_micro_clip_loss(3, 3, a, a, 0.5f, own, d2i, d2t, &dls2);
    CK_CLOSE(l, log(1.0 + 2.0 * exp(-exp(0.5))), 1e-12, 1e-12);
}
END_TEST

/* Training forwards vs the inference forwards the rewards run. */
static void check_forward_agreement(int nb, int bitwise) {
    tiny t;
    tiny_init(&t, 2);
    nn_arena_free(&t.arena);
    ck_assert_int_eq(nn_arena_init(&t.arena, sdpo_vit_train_arena_bytes(&t.ctx, &t.vc, nb)),
                     SDPO_OK);
    float *px = malloc(sizeof(float) * (size_t)nb * 3 * 8 * 8);
    float *a = malloc(sizeof(float) * (size_t)nb * E), *b = malloc(sizeof(float) * (size_t)nb * E);
    sdpo_rng r;
    sdpo_rng_init(&r, 9, SDPO_STREAM_DATA);
    sdpo_rng_normal_fill(&r, px, (size_t)nb * 3 * 8 * 8);
    ck_assert_int_eq(sdpo_vit_train_forward(&t.ctx, &t.vit, &t.arena, nb, px, a), SDPO_OK);
    sdpo_vit ref;   /* bound after the weights were set: its projection copy is current */
    ck_assert_int_eq(sdpo_vit_bind(&ref, &t.vc, &t.p), SDPO_OK);
    ck_assert_int_eq(sdpo_vit_forward(&t.ctx, &ref, nb, px, b), SDPO_OK);
    for (int k = 0; k < nb * E; k++) {
        if (bitwise) ck_assert_msg(a[k] == b[k], "image_embeds[%d]: %.9g vs %.9g", k, a[k], b[k]);
        else CK_CLOSE(a[k], b[k], 1e-6, 1e-6);
    }
    sdpo_vit_free(&ref);
    /* text: every row pooled at its own eos */
    float ta[B * E], tb[B * E];
    nn_arena_free(&t.arena);
    ck_assert_int_eq(nn_arena_init(&t.arena, sdpo_clip_text_train_arena_bytes(&t.ctx, &t.tc, B, L)),
                     SDPO_OK);
    ck_assert_int_eq(sdpo_clip_text_train_forward(&t.ctx, &t.text, &t.arena, ids, B, L, ta),
                     SDPO_OK);
    nn_arena ar;
    ck_assert_int_eq(nn_arena_init(&ar, sdpo_clip_text_arena_bytes(&t.ctx, &t.tc, B, L)), SDPO_OK);
    ck_assert_int_eq(sdpo_clip_text_forward(&t.ctx, &t.text.text, &ar, ids, B, L, NULL, NULL,
                                            NULL, tb), SDPO_OK);
    for (int k = 0; k < B * E; k++)
        ck_assert_msg(ta[k] == tb[k], "text_embeds[%d]: %.9g vs %.9g", k, ta[k], tb[k]);
    nn_arena_free(&ar);
    free(px), free(a), free(b);
    tiny_free(&t);
}

START_TEST(test_forward_matches_inference) { check_forward_agreement(B, 1); }
END_TEST

START_TEST(test_forward_matches_inference_chunked) { check_forward_agreement(12, 0); }
END_TEST

/* The quality predictor's objective (micro/quality_train.h): tiny tower copied from the tiny
 * CLIP, head 6-5-4-3-2-1, two (clean, degraded) pairs; every tower and head tensor against
 * finite differences with the same method and tolerances as above (the chain adds a head, an
 * L2 normalisation and the pairwise/pointwise logistic loss, all smooth). */
START_TEST(test_quality_gradients) {
    make_pixels();
    tiny t;
    tiny_init(&t, 2);
    sdpo_micro_quality_config qc = sdpo_micro_quality_defaults(E);
    const int dims[SDPO_MLP_HEAD_LAYERS + 1] = {E, 5, 4, 3, 2, 1};
    memcpy(qc.dims, dims, sizeof dims);
    qc.batch = 2;
    qc.threads = 2;
    sdpo_micro_quality q;
    ck_assert_int_eq(sdpo_micro_quality_init(&q, &qc, &t.vc, &t.p), SDPO_OK);
    /* the tower is a copy of the CLIP's */
    nn_param_view a, b;
    ck_assert_int_eq(nn_params_get(&q.tower, "visual_projection.weight", &a), SDPO_OK);
    ck_assert_int_eq(nn_params_get(&t.p, "visual_projection.weight", &b), SDPO_OK);
    ck_assert(!memcmp(a.value.data, b.value.data, sizeof(float) * E * 8));
    /* head weights ×2, so that the tower's gradients are not tiny (×3 amplifies the scores'
     * float rounding to ≈ 2e-6 in L, 1e-3 in fd at h = 1e-3: the rounding term of the budget,
     * which scales as 1/h, and fails the check; ×2 stays within it) */
    for (int i = 0; i < q.head_params.count; i++) {
        nn_param_view v = nn_params_at(&q.head_params, i);
        for (int k = 0; k < (int)nn_tensor_numel(&v.value); k++) v.value.data[k] *= 2.0f;
    }
    double loss;
    nn_zero_grad(&q.ctx, q.tower.grads, q.tower.n_trainable);
    nn_zero_grad(&q.ctx, q.head_params.grads, q.head_params.n_trainable);
    ck_assert_int_eq(sdpo_micro_quality_loss_grad(&q, 2, pixels, &loss), SDPO_OK);
    float *gt = malloc(sizeof(float) * q.tower.n_trainable);
    float *gh = malloc(sizeof(float) * q.head_params.n_trainable);
    memcpy(gt, q.tower.grads, sizeof(float) * q.tower.n_trainable);
    memcpy(gh, q.head_params.grads, sizeof(float) * q.head_params.n_trainable);
    nn_params *regs[2] = {&q.tower, &q.head_params};
    double worst = 0;
    const float *grads[2] = {gt, gh};
    for (int g = 0; g < 2; g++)
        for (int i = 0; i < regs[g]->count; i++) {
            nn_param_view v = nn_params_at(regs[g], i);
            const size_t n = (size_t)nn_tensor_numel(&v.value);
            const size_t stride = n > FD_POINTS ? n / FD_POINTS : 1;
            double biggest = 0;
            for (size_t k = 0; k < n; k += stride) {
                float *x = v.value.data + k, x0 = *x;
                double up, down;
                *x = (float)(x0 + FD_H);
                double xu = *x;
                ck_assert_int_eq(sdpo_micro_quality_loss_grad(&q, 2, pixels, &up), SDPO_OK);
                *x = (float)(x0 - FD_H);
                double xd = *x;
                ck_assert_int_eq(sdpo_micro_quality_loss_grad(&q, 2, pixels, &down), SDPO_OK);
                *x = x0;
                double fd = (up - down) / (xu - xd);
                double an = grads[g][(size_t)(v.value.data - regs[g]->params) + k];
                const double tol = ATOL + RTOL * fabs(fd);
                ck_assert_msg(fabs(an - fd) <= tol,
                              "quality %s[%zu]: gradient %.8g, finite difference %.8g", v.name, k,
                              an, fd);
                if (fabs(an - fd) / tol > worst) worst = fabs(an - fd) / tol;
                if (fabs(fd) > biggest) biggest = fabs(fd);
            }
            if (!strstr(v.name, "k_proj.bias"))
                ck_assert_msg(biggest > 10 * ATOL, "quality %s: every checked gradient is below "
                              "%.1g", v.name, 10 * ATOL);
        }
    if (getenv("SDPO_TEST_VERBOSE"))
        printf("test_vit_grad quality: worst |g - fd| / tol = %.3f\n", worst);
    free(gt);
    free(gh);
    sdpo_micro_quality_free(&q);
    tiny_free(&t);
}
END_TEST

/* The *_arena_bytes functions count exactly what a forward + backward allocates: an arena of
 * that size is used to the last byte (a smaller one would fail with SDPO_ERR_NOMEM). */
START_TEST(test_arena_sizes_exact) {
    make_pixels();
    tiny t;
    tiny_init(&t, 2);
    float out[B * E], dout[B * E];
    for (int k = 0; k < B * E; k++) dout[k] = 0.1f * (float)(k % 7) - 0.3f;
    nn_arena_free(&t.arena);
    ck_assert_int_eq(nn_arena_init(&t.arena, sdpo_vit_train_arena_bytes(&t.ctx, &t.vc, B)), SDPO_OK);
    ck_assert_int_eq(sdpo_vit_train_forward(&t.ctx, &t.vit, &t.arena, B, pixels, out), SDPO_OK);
    ck_assert_int_eq(sdpo_vit_train_backward(&t.ctx, &t.vit, &t.arena, dout), SDPO_OK);
    ck_assert_uint_eq(t.arena.high_water, t.arena.cap);
    nn_arena_free(&t.arena);
    ck_assert_int_eq(nn_arena_init(&t.arena, sdpo_clip_text_train_arena_bytes(&t.ctx, &t.tc, B, L)),
                     SDPO_OK);
    ck_assert_int_eq(sdpo_clip_text_train_forward(&t.ctx, &t.text, &t.arena, ids, B, L, out),
                     SDPO_OK);
    ck_assert_int_eq(sdpo_clip_text_train_backward(&t.ctx, &t.text, &t.arena, dout), SDPO_OK);
    ck_assert_uint_eq(t.arena.high_water, t.arena.cap);
    tiny_free(&t);
}
END_TEST

/* The gradient slot of a bound tensor: its offset in grads, NULL when frozen. */
START_TEST(test_grad_of) {
    nn_params p;
    nn_params_init(&p);
    const int64_t s[1] = {4};
    ck_assert_int_eq(nn_params_add(&p, "a", 1, s, 1), SDPO_OK);
    ck_assert_int_eq(nn_params_add(&p, "b", 1, s, 0), SDPO_OK);
    ck_assert_int_eq(nn_params_finalize(&p), SDPO_OK);
    nn_param_view a, b;
    nn_params_get(&p, "a", &a);
    nn_params_get(&p, "b", &b);
    ck_assert_ptr_eq(sdpo_params_grad_of(&p, a.value.data), a.grad);
    ck_assert_ptr_eq(sdpo_params_grad_of(&p, a.value.data + 2), a.grad + 2);
    ck_assert_ptr_null(sdpo_params_grad_of(&p, b.value.data));
    ck_assert_ptr_null(sdpo_params_grad_of(&p, NULL));
    nn_params_free(&p);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("vit_grad");
    TCase *tc = tcase_create("core");
    /* Central differences over all 78 tensors: seconds alone, minutes when CTest runs other
     * suites beside it on a 2-core machine. */
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_loss_gradient);
    tcase_add_test(tc, test_gradients_1_thread);
    tcase_add_test(tc, test_gradients_2_threads);
    tcase_add_test(tc, test_forward_matches_inference);
    tcase_add_test(tc, test_forward_matches_inference_chunked);
    tcase_add_test(tc, test_quality_gradients);
    tcase_add_test(tc, test_arena_sizes_exact);
    tcase_add_test(tc, test_grad_of);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }
