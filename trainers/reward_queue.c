/* trainers/reward_queue.c — batched, timed reward queries (reward_queue.h). */
#include "trainers/reward_queue.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

sdpo_status sdpo_reward_queue_init(sdpo_reward_queue *q, sdpo_policy *p, sdpo_reward *r, int cap) {
    memset(q, 0, sizeof *q);
    q->policy = p;
    q->reward = r;
    q->cap = cap;
    const size_t mb = (size_t)p->max_batch;
    q->z = malloc((size_t)cap * sizeof *q->z);
    q->prompt = malloc((size_t)cap * sizeof *q->prompt);
    q->dest = malloc((size_t)cap * sizeof *q->dest);
    q->zbuf = malloc(mb * p->D * sizeof(float));
    q->images = malloc(mb * 3 * (size_t)p->img_h * (size_t)p->img_w * sizeof(float));
    q->scores = malloc(mb * sizeof(float));
    if (!q->z || !q->prompt || !q->dest || !q->zbuf || !q->images || !q->scores) {
        sdpo_reward_queue_free(q);
        return sdpo_fail(SDPO_ERR_NOMEM, "reward queue: out of memory");
    }
    return SDPO_OK;
}

void sdpo_reward_queue_free(sdpo_reward_queue *q) {
    free(q->z);
    free(q->prompt);
    free(q->dest);
    free(q->zbuf);
    free(q->images);
    free(q->scores);
    memset(q, 0, sizeof *q);
}

sdpo_status sdpo_reward_queue_add(sdpo_reward_queue *q, const float *z, const char *prompt,
                                  float *dest, int for_log) {
    if (q->n == q->cap) return sdpo_fail(SDPO_ERR_ARG, "reward queue: full (%d)", q->cap);
    q->z[q->n] = z;
    q->prompt[q->n] = prompt;
    q->dest[q->n] = dest;
    q->n++;
    if (for_log) q->log_queries++;
    else q->train_queries++;
    return SDPO_OK;
}

sdpo_status sdpo_reward_queue_flush(sdpo_reward_queue *q) {
    sdpo_policy *p = q->policy;
    const double t0 = now_s();
    sdpo_status rc = SDPO_OK;
    for (int i0 = 0; i0 < q->n && rc == SDPO_OK; i0 += p->max_batch) {
        const int m = q->n - i0 < p->max_batch ? q->n - i0 : p->max_batch;
        for (int k = 0; k < m; k++) memcpy(q->zbuf + (size_t)k * p->D, q->z[i0 + k], p->D * sizeof(float));
        rc = p->decode(p, m, q->zbuf, q->images);
        if (rc == SDPO_OK)
            rc = q->reward->score(q->reward, m, p->img_h, p->img_w, q->images, q->prompt + i0,
                                  q->scores);
        for (int k = 0; k < m && rc == SDPO_OK; k++) {
            if (!isfinite(q->scores[k]))
                rc = sdpo_fail(SDPO_ERR_NONFINITE, "reward %s returned a non-finite score",
                               q->reward->name);
            *q->dest[i0 + k] = q->scores[k];
        }
    }
    q->n = 0;
    q->seconds += now_s() - t0;
    return rc;
}
