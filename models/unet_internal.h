/* models/unet_internal.h — the UNet's graph representation, shared by models/unet_*.c only.
 *
 * The UNet is a flat list of units in forward order — conv_in, ResnetBlock2D,
 * Transformer2DModel, Downsample2D, Upsample2D and the output head (conv_norm_out, SiLU,
 * conv_out) — connected through activation slots. A slot is one unit's output [B, C, H_l, W_l]
 * (level l: H_l = H >> l); a "skip" slot is also read by an up-block resnet's
 * cat([h, skip], dim=1), which is how diffusers' down_block_res_samples flow (architectures.md
 * §2.5). Each unit has:
 *   forward body  allocates what its backward needs ("saved") and then its temporaries in the
 *                 arena, computes, and releases the temporaries (and the saved part too when
 *                 nothing is to be kept). It may stop once the saved part is computed
 *                 (need_out = 0), which is what recomputation needs.
 *   backward      takes d(output), accumulates d(input) (and d(skip)) and the parameter
 *                 gradients, with its temporaries released on return.
 * Every arena request goes through unet_alloc, which in a dry run only counts: running the real
 * allocation sequence without computing is how sdpo_unet_arena_bytes gets an exact size. */
#ifndef SDPO_MODELS_UNET_INTERNAL_H
#define SDPO_MODELS_UNET_INTERNAL_H

#include <stddef.h>

#include "models/unet.h"
#include "nn/ops.h"

/* One registered tensor: its registry position and, after finalize, its value and gradient. */
typedef struct unet_tensor {
    int index;     /* nn_params_at index; −1 = absent (e.g. a Linear without bias) */
    float *w;      /* value (NULL when absent) */
    float *g;      /* gradient; NULL when frozen or absent */
} unet_tensor;

typedef struct {
    unet_tensor w, b;   /* GroupNorm / LayerNorm γ, β [C] */
} unet_norm;

typedef struct {
    unet_tensor w, b;   /* weight [C_out, C_in, k, k], bias [C_out] */
    int C_in, C_out, k, stride;
    int pad_lo, pad_hi; /* top/left and bottom/right zero padding */
} unet_conv;

/* torch.nn.Linear with an optional LoRA adapter (the attention projections). */
typedef struct {
    unet_tensor w, b;        /* weight [C_out, C_in]; bias [C_out] or absent */
    unet_tensor down, up;    /* lora_A [r, C_in], lora_B [C_out, r]; absent without LoRA */
    int C_in, C_out;
    float *h;                /* forward: LoRA bottleneck x·downᵀ [N, r] */
} unet_linear;

/* diffusers BasicTransformerBlock (layer_norm, self-attn, cross-attn, GEGLU feed-forward). */
typedef struct {
    unet_norm norm1, norm2, norm3;
    unet_linear q1, k1, v1, o1;          /* attn1.{to_q,to_k,to_v,to_out.0} */
    unet_linear q2, k2, v2, o2;          /* attn2: k/v read the text [B·L, D] */
    unet_linear ff_in, ff_out;           /* ff.net.0.proj [8C, C], ff.net.2 [C, 4C] */
    /* forward activations, N = B·HW tokens */
    float *mean1, *rstd1, *n1;           /* LN1 stats [N], LN1(s_in) [N, C] */
    float *q, *k, *v, *att1, *lse1;      /* [N, C] ×4, lse [B, heads, HW] */
    float *s1;                           /* s_in + attn1 [N, C] */
    float *mean2, *rstd2, *n2;
    float *q_x, *k_x, *v_x, *att2, *lse2; /* q [N, C], k/v [B·L, C], lse [B, heads, HW] */
    float *s2;                           /* s1 + attn2 */
    float *mean3, *rstd3, *n3;
    float *f;                            /* ff.net.0.proj(n3) [N, 8C] (GEGLU input) */
} unet_tblock;

typedef enum {
    UNET_CONV_IN = 0,   /* conv_in */
    UNET_RESNET,        /* ResnetBlock2D (up blocks: on cat([h, skip])) */
    UNET_XFORMER,       /* Transformer2DModel */
    UNET_DOWN,          /* Downsample2D */
    UNET_UP,            /* Upsample2D */
    UNET_OUT,           /* conv_norm_out, SiLU, conv_out */
} unet_unit_kind;

typedef struct unet_unit {
    unet_unit_kind kind;
    char name[64];              /* module path: "down_blocks.1.resnets.0", "conv_out", … */
    int in_slot, skip_slot;     /* skip_slot −1 unless an up resnet */
    int out_slot;               /* −1 for UNET_OUT: the caller's eps */
    int C_in, C_skip, C_out;    /* C_in counts the skip channels too */
    int level;                  /* level of the input */
    int trainable;              /* has a trainable tensor */

    /* UNET_CONV_IN / DOWN / UP / OUT: the conv; RESNET: conv1 */
    unet_conv conv;
    /* RESNET: norm1; XFORMER: norm (eps 1e-6); OUT: conv_norm_out */
    unet_norm norm;
    /* RESNET only */
    unet_conv conv2, shortcut;  /* shortcut.w.index < 0: identity */
    unet_norm norm2;
    unet_linear temb;           /* time_emb_proj [C_out, T] */
    /* XFORMER only */
    int heads, n_blocks;
    unet_linear proj_in, proj_out;
    unet_tblock *blocks;

    /* forward activations (pointers into the arena) */
    float *x;                   /* the input as the unit reads it (RESNET: the concat) */
    float *mean, *rstd;         /* first norm's stats [B, G] */
    float *h;                   /* RESNET: GN1(x); OUT: conv_norm_out(x); UP: upsample(x) */
    float *c1, *mean2, *rstd2, *h2;   /* RESNET: conv1 + temb, its GN2 stats and GN2 output */
    float *t0;                  /* XFORMER: tokens of GN(x) [N, C] */
    float **s;                  /* XFORMER: residual stream s[0..n_blocks] [N, C] */
} unet_unit;

typedef struct unet_slot {
    int C, level;
    int producer;      /* unit index; −1 for the sample */
    int is_skip;
    float *data;       /* forward value */
    float *grad;       /* backward: its gradient (NULL when not needed) */
} unet_slot;

/* TimestepEmbedding on top of Timesteps (flip_sin_to_cos, freq_shift). */
typedef struct unet_time {
    unet_linear l1, l2;          /* linear_1 [T, C0], linear_2 [T, T] */
    float *e, *z1, *a1, *temb, *act;   /* sinusoid [B, C0]; [B, T] each; act = SiLU(temb) */
} unet_time;

typedef struct {
    nn_arena *arena;   /* NULL in a dry run */
    size_t used, peak; /* dry run: bytes counted */
} unet_mem;

typedef struct unet_state {
    nn_ctx *ctx;
    int threads;                 /* ctx->n_threads of the pending forward (scratch is sized by it) */
    unet_mem mem;
    int dry;                     /* count allocations, compute nothing */
    sdpo_unet_mode mode;
    int pending;                 /* a training forward awaits its backward */
    int B, H, W, L;
    size_t base_mark;            /* arena mark at forward entry */
    float *scratch;              /* conv im2col / attention tiles / LoRA dh */
    const float *timestep;       /* [B] */
    const float *ehs;            /* [B, L, D] */
    float *eps;                  /* [B, C_out, H, W] */
    float *d_act;                /* backward: d SiLU(temb) [B, T] (NULL unless time_embedding trains) */
    float *d_ehs;                /* backward: [B, L, D] or NULL */
    float *ping[2];              /* backward: gradient buffers of non-skip slots */
} unet_state;

/* Returns from the calling function with the status of x when it fails. */
#define UNET_TRY(x)                                                                            \
    do {                                                                                       \
        sdpo_status unet_rc_ = (x);                                                            \
        if (unet_rc_) return unet_rc_;                                                         \
    } while (0)

/* ---------------------------------------------------------------------------------------------
 * arena (unet_run.c) */

/* n floats for unit/what (named in the error); *out is NULL in a dry run. */
sdpo_status unet_alloc(unet_state *st, size_t n, const char *unit, const char *what, float **out);
/* As unet_alloc, zero-filled (gradient accumulators). */
sdpo_status unet_alloc_zero(unet_state *st, size_t n, const char *unit, const char *what,
                            float **out);
size_t unet_mark(const unet_state *st);
void unet_reset(unet_state *st, size_t mark);

/* Spatial size of a level in this forward. */
int unet_level_h(const unet_state *st, int level);
int unet_level_w(const unet_state *st, int level);

/* ---------------------------------------------------------------------------------------------
 * shared layer helpers (unet_run.c) */

/* out [N, C_out] = Linear(inp [N, C_in]) (+ LoRA: l->h [N, r] must be allocated). */
void unet_linear_forward(sdpo_unet *u, unet_linear *l, float *out, const float *inp, int N);
/* Accumulates dinp (may be NULL) and the trainable tensors' gradients. */
void unet_linear_backward(sdpo_unet *u, unet_linear *l, float *dinp, const float *dout,
                          const float *inp, int N);
/* Allocates l->h when l has LoRA. */
sdpo_status unet_linear_alloc(sdpo_unet *u, unet_linear *l, int N, const char *unit);

/* Conv of unit-local geometry at input size H×W, batch B. */
nn_conv2d_shape unet_conv_shape(const unet_conv *c, int B, int H, int W);

/* ---------------------------------------------------------------------------------------------
 * units (unet_resnet.c: conv-type units and resnets; unet_transformer.c: Transformer2D) */

sdpo_status unet_resnet_forward(sdpo_unet *u, unet_unit *un, int save, int need_out);
sdpo_status unet_resnet_backward(sdpo_unet *u, unet_unit *un, const float *dout, float *dinp,
                                 float *dskip);
sdpo_status unet_conv_unit_forward(sdpo_unet *u, unet_unit *un, int save, int need_out);
sdpo_status unet_conv_unit_backward(sdpo_unet *u, unet_unit *un, const float *dout,
                                    float *dinp);
sdpo_status unet_xformer_forward(sdpo_unet *u, unet_unit *un, int save, int need_out);
sdpo_status unet_xformer_backward(sdpo_unet *u, unet_unit *un, const float *dout,
                                  float *dinp);

/* Floats of scratch a unit needs at this forward's shape. */
size_t unet_unit_scratch_floats(const sdpo_unet *u, const unet_unit *un);

/* Output pointer of a unit in this forward (a slot's data, or eps for UNET_OUT). */
float *unet_unit_out(sdpo_unet *u, const unet_unit *un);

#endif
