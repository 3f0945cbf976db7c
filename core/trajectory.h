/* core/trajectory.h — the one index convention used everywhere in sdpo-harness.
 *
 * A trajectory of T denoising steps is indexed by step i = 0 … T−1 in sampling order:
 *   i = 0     is the first, noisiest step (timestep 999 with trailing spacing),
 *   i = T−1   is the last step (the one whose x̂ is "the image").
 * The paper counts t = T−1 … 0 instead; the two are related by t = T−1−i. Every array of
 * per-step values ([N, T] rewards, returns, advantages, log-probs, x̂ [N, T, D]) is stored
 * row-major with the step index fastest after the trajectory index.
 *
 * This is the official SDPO code's convention (sdpo_official_code.md, "Index convention"). */
#ifndef SDPO_CORE_TRAJECTORY_H
#define SDPO_CORE_TRAJECTORY_H

/* Paper step t for code step i (and back: the map is an involution). */
static inline int sdpo_paper_step(int i, int T) { return T - 1 - i; }

#endif
