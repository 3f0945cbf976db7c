/* tests/test_nn_params.c — parameter slabs (layout, views, lookup), the activation arena
 * (alignment, overflow error, mark/reset) and tensor-view shape checks. */
#include "core/error.h"
#include "nn/arena.h"
#include "nn/params.h"
#include "nn/tensor.h"
#include "tests/check_util.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Registers a small LoRA-like model: frozen base weights interleaved with trainable ones. */
static void build_registry(nn_params *p) {
    nn_params_init(p);
    ck_assert_int_eq(nn_params_add(p, "to_q.weight", 2, (int64_t[]){8, 6}, 0), SDPO_OK);
    ck_assert_int_eq(nn_params_add(p, "to_q_lora.down.weight", 2, (int64_t[]){4, 6}, 1), SDPO_OK);
    ck_assert_int_eq(nn_params_add(p, "to_q_lora.up.weight", 2, (int64_t[]){8, 4}, 1), SDPO_OK);
    ck_assert_int_eq(nn_params_add(p, "conv.weight", 4, (int64_t[]){3, 2, 3, 3}, 0), SDPO_OK);
    ck_assert_int_eq(nn_params_add(p, "conv.bias", 1, (int64_t[]){3}, 0), SDPO_OK);
    ck_assert_int_eq(nn_params_add(p, "norm.weight", 1, (int64_t[]){17}, 1), SDPO_OK);
}

START_TEST(slab_layout_sizes_and_views) {
    nn_params p;
    build_registry(&p);
    ck_assert_int_eq(nn_params_finalize(&p), SDPO_OK);
    /* Trainable: 24 → 32, 32 → 32, 17 → 32 floats (16-float alignment) = 96.
     * Frozen: 48, 54 → 64, 3 → 16 = 128. */
    ck_assert_uint_eq(p.n_trainable, 96);
    ck_assert_uint_eq(p.n_floats, 96 + 128);
    ck_assert_uint_eq(p.n_trainable_elems, 24 + 32 + 17);
    ck_assert_uint_eq(p.n_elems, 48 + 24 + 32 + 54 + 3 + 17);
    ck_assert_ptr_nonnull(p.grads);
    ck_assert_ptr_nonnull(p.m);
    ck_assert_ptr_nonnull(p.v);

    /* Every view lies inside its slab, is 64-byte aligned, zero-initialised, and no two views
     * overlap (checked by painting each view's floats with its index). */
    int owner[224];
    for (int i = 0; i < 224; i++) owner[i] = -1;
    for (int i = 0; i < p.count; i++) {
        nn_param_view v = nn_params_at(&p, i);
        size_t n = (size_t)nn_tensor_numel(&v.value);
        size_t off = (size_t)(v.value.data - p.params);
        ck_assert_uint_le(off + n, p.n_floats);
        ck_assert_uint_eq((uintptr_t)v.value.data % 64, 0);
        for (size_t j = 0; j < n; j++) {
            ck_assert_float_eq(v.value.data[j], 0.0f);
            ck_assert_msg(owner[off + j] < 0, "%s overlaps %d", v.name, owner[off + j]);
            owner[off + j] = i;
        }
        if (v.trainable) {
            /* grads/m/v share the params offset and lie in the trainable prefix */
            ck_assert_uint_le(off + n, p.n_trainable);
            ck_assert_ptr_eq(v.grad, p.grads + off);
            ck_assert_ptr_eq(v.m, p.m + off);
            ck_assert_ptr_eq(v.v, p.v + off);
            for (size_t j = 0; j < n; j++) ck_assert_float_eq(v.grad[j] + v.m[j] + v.v[j], 0.0f);
        } else {
            ck_assert_uint_ge(off, p.n_trainable);
            ck_assert_ptr_null(v.grad);
            ck_assert_ptr_null(v.m);
            ck_assert_ptr_null(v.v);
        }
    }
    nn_params_free(&p);
}
END_TEST

START_TEST(registration_order_and_lookup) {
    nn_params p;
    build_registry(&p);
    ck_assert_int_eq(nn_params_finalize(&p), SDPO_OK);
    static const char *order[] = {"to_q.weight", "to_q_lora.down.weight", "to_q_lora.up.weight",
                                  "conv.weight", "conv.bias", "norm.weight"};
    ck_assert_int_eq(p.count, 6);
    for (int i = 0; i < p.count; i++) ck_assert_str_eq(nn_params_at(&p, i).name, order[i]);

    nn_param_view v;
    ck_assert_int_eq(nn_params_get(&p, "conv.weight", &v), SDPO_OK);
    ck_assert_int_eq(v.value.ndim, 4);
    ck_assert_int_eq(v.value.shape[0], 3);
    ck_assert_int_eq(v.value.shape[3], 3);
    ck_assert_int_eq(v.trainable, 0);
    ck_assert_ptr_eq(v.value.data, nn_params_at(&p, 3).value.data);
    /* a write through the view is what the next lookup sees */
    v.value.data[5] = 2.5f;
    nn_param_view again;
    ck_assert_int_eq(nn_params_get(&p, "conv.weight", &again), SDPO_OK);
    ck_assert_float_eq(again.value.data[5], 2.5f);

    ck_assert_int_eq(nn_params_expect(&p, "to_q_lora.up.weight", 2, (int64_t[]){8, -1}, &v),
                     SDPO_OK);
    ck_assert_int_eq(v.trainable, 1);

    sdpo_clear_error();
    ck_assert_int_eq(nn_params_get(&p, "to_k.weight", &v), SDPO_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "unknown parameter 'to_k.weight'"));
    ck_assert_int_eq(nn_params_expect(&p, "conv.bias", 1, (int64_t[]){4}, &v), SDPO_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "'conv.bias' has shape [3], expected [4]"));
    nn_params_free(&p);
}
END_TEST

START_TEST(registration_errors) {
    nn_params p;
    nn_params_init(&p);
    ck_assert_int_eq(nn_params_add(&p, "w", 2, (int64_t[]){2, 2}, 1), SDPO_OK);
    ck_assert_int_eq(nn_params_add(&p, "w", 1, (int64_t[]){3}, 0), SDPO_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "'w' registered twice"));
    ck_assert_int_eq(nn_params_add(&p, "", 1, (int64_t[]){3}, 0), SDPO_ERR_ARG);
    ck_assert_int_eq(nn_params_add(&p, "x", 0, NULL, 0), SDPO_ERR_ARG);
    ck_assert_int_eq(nn_params_add(&p, "x", 5, (int64_t[]){1, 1, 1, 1, 1}, 0), SDPO_ERR_ARG);
    ck_assert_int_eq(nn_params_add(&p, "x", 2, (int64_t[]){2, -1}, 0), SDPO_ERR_ARG);
    ck_assert_int_eq(p.count, 1);
    /* a registry that outgrows its initial capacity keeps every entry */
    for (int i = 0; i < 200; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%d", i);
        ck_assert_int_eq(nn_params_add(&p, name, 1, (int64_t[]){i + 1}, i % 3 == 0), SDPO_OK);
    }
    ck_assert_int_eq(nn_params_finalize(&p), SDPO_OK);
    ck_assert_int_eq(p.count, 201);
    nn_param_view v;
    ck_assert_int_eq(nn_params_get(&p, "t199", &v), SDPO_OK);
    ck_assert_int_eq(v.value.shape[0], 200);
    ck_assert_int_eq(v.trainable, 0);
    nn_params_free(&p);

    /* nothing trainable: no gradient or moment slabs at all */
    nn_params_init(&p);
    ck_assert_int_eq(nn_params_add(&p, "frozen", 1, (int64_t[]){5}, 0), SDPO_OK);
    ck_assert_int_eq(nn_params_finalize(&p), SDPO_OK);
    ck_assert_uint_eq(p.n_trainable, 0);
    ck_assert_ptr_null(p.grads);
    ck_assert_ptr_null(nn_params_at(&p, 0).grad);
    nn_params_free(&p);
}
END_TEST

START_TEST(arena_alignment_overflow_and_mark_reset) {
    nn_arena a;
    ck_assert_int_eq(nn_arena_init(&a, 1000), SDPO_OK);
    ck_assert_uint_eq(a.cap, 1024);   /* rounded up to NN_ARENA_ALIGN */
    float *x, *y, *z;
    ck_assert_int_eq(nn_arena_alloc_f32(&a, 10, "x", &x), SDPO_OK);   /* 40 → 64 bytes */
    ck_assert_uint_eq((uintptr_t)x % NN_ARENA_ALIGN, 0);
    ck_assert_uint_eq(a.used, nn_arena_bytes_f32(10));
    size_t mark = nn_arena_mark(&a);
    ck_assert_int_eq(nn_arena_alloc_f32(&a, 100, "y", &y), SDPO_OK);  /* 400 → 448 */
    ck_assert_uint_eq((uintptr_t)y % NN_ARENA_ALIGN, 0);
    ck_assert_ptr_eq(y, (float *)((unsigned char *)x + 64));
    ck_assert_uint_eq(a.used, 64 + 448);

    /* 600 bytes do not fit in the 512 left: error names the request and its size */
    sdpo_clear_error();
    ck_assert_int_eq(nn_arena_alloc_f32(&a, 150, "unet.attn.lse", &z), SDPO_ERR_NOMEM);
    ck_assert_ptr_null(z);
    ck_assert_ptr_nonnull(strstr(sdpo_last_error(), "'unet.attn.lse' requests 600 bytes"));
    ck_assert_uint_eq(a.used, 512);   /* unchanged by the failure */

    /* recomputation: reset to the mark, the same request lands where y was */
    nn_arena_reset(&a, mark);
    ck_assert_uint_eq(a.used, 64);
    ck_assert_int_eq(nn_arena_alloc_f32(&a, 100, "y again", &z), SDPO_OK);
    ck_assert_ptr_eq(z, y);
    ck_assert_uint_eq(a.high_water, 512);
    /* exactly full is fine, one more byte is not */
    void *rest;
    ck_assert_int_eq(nn_arena_alloc(&a, 1024 - 512, "rest", &rest), SDPO_OK);
    ck_assert_uint_eq(a.used, a.cap);
    ck_assert_int_eq(nn_arena_alloc(&a, 1, "one", &rest), SDPO_ERR_NOMEM);
    nn_arena_reset(&a, 0);
    ck_assert_uint_eq(a.used, 0);
    ck_assert_uint_eq(a.high_water, 1024);
    nn_arena_free(&a);

    /* an impossible size fails cleanly, naming it */
    ck_assert_int_eq(nn_arena_init(&a, SIZE_MAX - 8), SDPO_ERR_NOMEM);
    ck_assert_ptr_null(a.base);
}
END_TEST

START_TEST(tensor_views_and_shape_checks) {
    float buf[24];
    nn_tensor t = nn_tensor_3d(buf, 2, 3, 4);
    ck_assert_int_eq(nn_tensor_numel(&t), 24);
    ck_assert_int_eq(t.shape[3], 0);
    nn_tensor u = nn_tensor_2d(buf, 6, 4);
    ck_assert_int_eq(nn_tensor_same_shape(&t, &u), 0);
    ck_assert_int_eq(nn_tensor_numel(&u), 24);
    nn_tensor w = nn_tensor_4d(buf, 2, 3, 4, 1);
    ck_assert_int_eq(nn_tensor_numel(&w), 24);
    ck_assert_int_eq(nn_tensor_numel(&(nn_tensor){.data = buf, .ndim = 0}), 1);

    ck_assert_int_eq(nn_tensor_expect(&t, "x", 3, (int64_t[]){2, 3, 4}), SDPO_OK);
    ck_assert_int_eq(nn_tensor_expect(&t, "x", 3, (int64_t[]){-1, 3, -1}), SDPO_OK);
    ck_assert_int_eq(nn_tensor_expect(&t, "x", 3, (int64_t[]){2, 3, 5}), SDPO_ERR_SHAPE);
    ck_assert_str_eq(sdpo_last_error(), "tensor 'x' has shape [2, 3, 4], expected [2, 3, 5]");
    ck_assert_int_eq(nn_tensor_expect(&t, "x", 2, (int64_t[]){2, 3}), SDPO_ERR_SHAPE);
    ck_assert_int_eq(nn_tensor_expect_same(&t, "a", &u, "b"), SDPO_ERR_SHAPE);
    ck_assert_str_eq(sdpo_last_error(), "tensor 'a' has shape [2, 3, 4] but 'b' has shape [6, 4]");
    nn_tensor t2 = nn_tensor_3d(buf, 2, 3, 4);
    ck_assert_int_eq(nn_tensor_expect_same(&t, "a", &t2, "b"), SDPO_OK);
    char s[8];
    ck_assert_str_eq(nn_shape_format(s, sizeof s, 3, t.shape), "[2, 3, ");   /* truncated */
    ck_assert_str_eq(nn_shape_format(s, sizeof s, 0, t.shape), "[]");
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("nn_params");
    TCase *tc = tcase_create("params");
    tcase_add_test(tc, slab_layout_sizes_and_views);
    tcase_add_test(tc, registration_order_and_lookup);
    tcase_add_test(tc, registration_errors);
    tcase_add_test(tc, arena_alignment_overflow_and_mark_reset);
    tcase_add_test(tc, tensor_views_and_shape_checks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return sdpo_check_main(suite()); }
