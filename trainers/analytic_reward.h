/* trainers/analytic_reward.h — rewards with a closed form, for tests and small runs: rewards
 * a short seeded run can raise measurably, with no model to load.
 *
 * toy-mode(image) = −mean over the 3·H·W pixels of (image − target)², where target is the image
 * of the mean of one mixture mode (decoded as the toy policy decodes samples). It lies in
 * [−1, 0] and is highest for samples at the target mode, so a policy that moves probability
 * mass toward that mode raises it: the simple reward the trainer tests require to go up.
 *
 * brightness(image) = mean over the 3·H·W pixels in [0, 1] (D3PO's light reward, the mean
 * pixel value; baselines.md §5), for any policy: what the tiny fixture UNet is trained on.
 *
 * Both implement the rewards/reward.h interface, so the trainers score them like any other. */
#ifndef SDPO_TRAINERS_ANALYTIC_REWARD_H
#define SDPO_TRAINERS_ANALYTIC_REWARD_H

#include "rewards/reward.h"
#include "trainers/policy.h"

/* toy-mode for mode `target_mode` of toy policy p (sdpo_policy_toy_create). */
sdpo_status sdpo_toy_reward_create(sdpo_policy *p, int target_mode, sdpo_reward **out);

/* brightness. */
sdpo_status sdpo_brightness_reward_create(sdpo_reward **out);

#endif
