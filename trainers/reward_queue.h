/* trainers/reward_queue.h — batched reward queries with their count and wall time.
 *
 * The sampler enqueues the samples whose reward it needs — only the steps a dense-reward
 * strategy queries, the final image of a sparse reward, the optional first-step log query —
 * each with its prompt and where the score goes; flush decodes them (policy->decode: the VAE,
 * or the toy pixel map) and scores them in one reward call per chunk. Queries are counted
 * separately for training and for logging only, and decode + score time is accumulated
 * (the "reward query" cost of Sec. 4.3 / Fig. 5 middle). */
#ifndef SDPO_TRAINERS_REWARD_QUEUE_H
#define SDPO_TRAINERS_REWARD_QUEUE_H

#include "rewards/reward.h"
#include "trainers/policy.h"

typedef struct {
    sdpo_policy *policy;
    sdpo_reward *reward;
    int cap, n;
    const float **z;           /* [cap] samples to decode ([D] each) */
    const char **prompt;       /* [cap] */
    float **dest;              /* [cap] where each score goes */
    float *zbuf, *images, *scores;  /* [max_batch, D], [max_batch, 3, H, W], [max_batch] */
    long long train_queries, log_queries;
    double seconds;
} sdpo_reward_queue;

sdpo_status sdpo_reward_queue_init(sdpo_reward_queue *q, sdpo_policy *p, sdpo_reward *r, int cap);
void sdpo_reward_queue_free(sdpo_reward_queue *q);

/* Adds one query; `for_log` marks a query made only for train.csv. The pointers must stay
 * valid until flush. Fails if the queue is full. */
sdpo_status sdpo_reward_queue_add(sdpo_reward_queue *q, const float *z, const char *prompt,
                                  float *dest, int for_log);

/* Decodes and scores every queued sample, writes the scores, empties the queue. A non-finite
 * score fails with SDPO_ERR_NONFINITE. */
sdpo_status sdpo_reward_queue_flush(sdpo_reward_queue *q);

#endif
