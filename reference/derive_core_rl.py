#!/usr/bin/env python3
"""reference/derive_core_rl.py — an independent NumPy re-derivation of the RL math core
(core/returns, core/stat_tracker, core/weights, core/losses) that writes fixed random cases and
their expected outputs under tests/data/core_rl/ for the C tests to compare against.

Needs python3 + numpy only; CI never runs it (the outputs are committed). Re-run from the repo
root after changing a formula:  python3 reference/derive_core_rl.py

Each formula follows the upstream Python it reproduces (line numbers as in the C headers):
  returns          sdpo scripts/train_sdpo.py L631-635
  trackers         sdpo sdpo_pytorch/stat_tracking.py (per step-prompt), ddpo-pytorch
                   stat_tracking.py (per prompt, generalised to T values per row, row-major),
                   train_sdpo.py L643-644 (global)
  SDPO loss        train_sdpo.py L771-808; DDPO loss ddpo-pytorch scripts/train.py L538-551
  REBEL loss       rlcm rebel_training_loop.py L268-331 with the per-pair sum (bug not copied)
  D3PO loss        d3po scripts/rm/train_d3po.py L183-198, L595-599
Gradients are written out by hand with PyTorch's autograd rules (torch.maximum: 1/2 each on a
tie; torch.clamp: gradient where lo <= x <= hi) and checked here against central finite
differences before anything is written.

File format (read by tests/test_returns.c, test_stat_tracker.c, test_losses.c): '#' lines are
comments; a block is a header line "[name] d0 d1 ..." (no dims for a scalar) followed by
prod(dims) lines with one number each, written with %.17g. Inputs are float32 values (exact in
%.17g); expected outputs are float64.
"""
from collections import deque
import os

import numpy as np

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "core_rl")
SEED = 20240607


class Writer:
    def __init__(self, name, description):
        self.path = os.path.join(OUT_DIR, name)
        self.lines = [f"# {name}: written by reference/derive_core_rl.py (seed {SEED}); do not edit",
                      f"# {description}"]

    def block(self, name, values):
        a = np.asarray(values, dtype=np.float64)
        dims = " ".join(str(d) for d in a.shape)
        self.lines.append(f"[{name}] {dims}".rstrip())
        self.lines.extend("%.17g" % v for v in a.ravel())

    def close(self):
        with open(self.path, "w") as f:
            f.write("\n".join(self.lines) + "\n")


def f32(a):
    """Inputs live in float32 on the C side; compute with their exact float64 values."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def central_fd(fn, x, h):
    g = np.zeros_like(x)
    for k in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp.flat[k] += h
        xm.flat[k] -= h
        g.flat[k] = (fn(xp) - fn(xm)) / (2 * h)
    return g


def assert_fd(name, fn, grad, x, h=1e-6, tol=1e-7):
    fd = central_fd(fn, x, h)
    err = np.max(np.abs(fd - grad) / (1.0 + np.abs(grad)))
    assert err < tol, f"{name}: analytic gradient differs from central FD by {err}"


# ---- returns --------------------------------------------------------------------------------
def discounted_returns(rewards, gamma):
    g = rewards.copy()
    if gamma > 0:
        T = g.shape[1]
        for t in reversed(range(T)):
            nxt = g[:, t + 1] if t < T - 1 else 0.0
            g[:, t] += gamma * nxt
    return g


# ---- trackers -------------------------------------------------------------------------------
class PerStepPromptStatTracker:
    def __init__(self, buffer_size, min_count):
        self.buffer_size, self.min_count, self.stats = buffer_size, min_count, {}

    def update(self, prompts, rewards):
        prompts = np.array(prompts)
        adv = np.empty_like(rewards)
        for prompt in np.unique(prompts):
            for step in range(rewards.shape[1]):
                vals = rewards[prompts == prompt, step]
                buf = self.stats.setdefault(prompt, {}).setdefault(step, deque(maxlen=self.buffer_size))
                buf.extend(vals)
                if len(buf) < self.min_count:
                    mean, std = np.mean(rewards[:, step]), np.std(rewards[:, step]) + 1e-6
                else:
                    mean, std = np.mean(buf), np.std(buf) + 1e-6
                adv[prompts == prompt, step] = (vals - mean) / std
        return adv


class PerPromptStatTracker:
    """DDPO's tracker; a row contributes its T values in order (DDPO itself has T = 1)."""

    def __init__(self, buffer_size, min_count):
        self.buffer_size, self.min_count, self.stats = buffer_size, min_count, {}

    def update(self, prompts, rewards):
        prompts = np.array(prompts)
        adv = np.empty_like(rewards)
        for prompt in np.unique(prompts):
            vals = rewards[prompts == prompt]
            buf = self.stats.setdefault(prompt, deque(maxlen=self.buffer_size))
            buf.extend(vals.ravel())
            if len(buf) < self.min_count:
                mean, std = np.mean(rewards), np.std(rewards) + 1e-6
            else:
                mean, std = np.mean(buf), np.std(buf) + 1e-6
            adv[prompts == prompt] = (vals - mean) / std
        return adv


def global_norm(rewards):
    return (rewards - rewards.mean()) / (rewards.std() + 1e-8)


# ---- losses ---------------------------------------------------------------------------------
def max_grad(a, b):
    ga = np.where(a > b, 1.0, np.where(a < b, 0.0, 0.5))
    return ga, 1.0 - ga


def clamp_mask(x, lo, hi):
    return ((lo <= x) & (x <= hi)).astype(np.float64)


def sdpo_loss(logp_a, old_a, adv_a, logp_b, old_b, adv_b, w, M, eps):
    B = logp_a.size
    ra, rb = logp_a - old_a, logp_b - old_b
    dA = np.clip(adv_a, -M, M) - np.clip(adv_b, -M, M)
    du = w * (ra - rb) - dA
    lu = du ** 2
    dc = w * (np.clip(ra, -eps, eps) - np.clip(rb, -eps, eps)) - dA
    lc = dc ** 2
    gu, gc = max_grad(lu, lc)
    ga = (gu * 2 * du * w + gc * 2 * dc * w * clamp_mask(ra, -eps, eps)) / B
    gb = (-gu * 2 * du * w - gc * 2 * dc * w * clamp_mask(rb, -eps, eps)) / B
    info = dict(loss=np.mean(np.maximum(lu, lc)), clipfrac=np.mean(lc > lu),
                adv_clipfrac=(np.mean(np.clip(adv_a, -M, M) > adv_a)
                              + np.mean(np.clip(adv_b, -M, M) > adv_b)) / 2)
    return info, ga, gb


def ddpo_loss(logp, old, adv, M, eps):
    B = logp.size
    r = np.exp(logp - old)
    A = np.clip(adv, -M, M)
    tu, tc = -A * r, -A * np.clip(r, 1 - eps, 1 + eps)
    gu, gc = max_grad(tu, tc)
    g = (gu * (-A * r) + gc * (-A * r * clamp_mask(r, 1 - eps, 1 + eps))) / B
    info = dict(loss=np.mean(np.maximum(tu, tc)), approx_kl=0.5 * np.mean((logp - old) ** 2),
                clipfrac=np.mean(np.abs(r - 1) > eps))
    return info, g


def rebel_loss(lr, logp1, old1, adv1, logp2, old2, adv2):
    B = logp1.shape[0]
    ld = (logp1.sum(1) - old1.sum(1)) - (logp2.sum(1) - old2.sum(1))
    resid = lr * ld - (adv1 - adv2)
    g = np.repeat((2 * resid * lr / B)[:, None], logp1.shape[1], axis=1)
    return dict(loss=np.mean(resid ** 2), mean_abs_log_diff=np.mean(np.abs(ld))), g, -g


def d3po_loss(beta, eps, logp0, ref0, r0, logp1, ref1, r1):
    B = logp0.size
    h0 = np.where(r0 < r1, -1.0, np.where(r0 > r1, 1.0, 0.0))
    h1 = -h0
    e0, e1 = np.exp(logp0 - ref0), np.exp(logp1 - ref1)
    z = beta * np.log(np.clip(e0, 1 - eps, 1 + eps)) * h0 + beta * np.log(np.clip(e1, 1 - eps, 1 + eps)) * h1
    loss = np.mean(-np.log(1 / (1 + np.exp(-z))))
    dz = -(1 / (1 + np.exp(z))) / B
    g0 = dz * beta * h0 * clamp_mask(e0, 1 - eps, 1 + eps)
    g1 = dz * beta * h1 * clamp_mask(e1, 1 - eps, 1 + eps)
    outside = (1 - clamp_mask(e0, 1 - eps, 1 + eps)) + (1 - clamp_mask(e1, 1 - eps, 1 + eps))
    return dict(loss=loss, clipfrac=np.mean(outside) / 2, tie_frac=np.mean(h0 == 0)), g0, g1


def main():
    rng = np.random.default_rng(SEED)
    os.makedirs(OUT_DIR, exist_ok=True)

    # ---- returns: N = 3 trajectories × T = 5 steps, three discount factors
    w = Writer("returns.txt", "discounted returns G_i = R_i + gamma*G_{i+1}, rows = trajectories")
    rewards = f32(rng.normal(5.0, 2.0, size=(3, 5)))
    w.block("rewards", rewards)
    for name, gamma in (("g099", 0.99), ("g09", 0.9), ("g1", 1.0)):
        w.block(f"gamma_{name}", gamma)
        w.block(f"returns_{name}", discounted_returns(rewards, gamma))
    w.close()

    # ---- normalisation: two consecutive updates, N = 6 rows × T = 4 steps, prompts 0..2 (the C
    # test names them "prompt-<id>"). Sizes chosen so both updates hit fallback and buffer
    # statistics and FIFO eviction (see tests/test_stat_tracker.c).
    w = Writer("norm.txt", "advantages of the three normalisations over two consecutive updates")
    ids = [np.array([0, 0, 0, 1, 1, 2]), np.array([1, 1, 0, 2, 0, 0])]
    vals = [f32(rng.normal(3.0, 1.5, size=(6, 4))) for _ in range(2)]
    psp = PerStepPromptStatTracker(buffer_size=5, min_count=3)
    pp = PerPromptStatTracker(buffer_size=10, min_count=6)
    w.block("psp_buffer_size", 5)
    w.block("psp_min_count", 3)
    w.block("pp_buffer_size", 10)
    w.block("pp_min_count", 6)
    for u in range(2):
        w.block(f"prompt_ids_{u + 1}", ids[u])
        w.block(f"values_{u + 1}", vals[u])
        w.block(f"adv_per_step_prompt_{u + 1}", psp.update(ids[u], vals[u]))
        w.block(f"adv_per_prompt_{u + 1}", pp.update(ids[u], vals[u]))
        w.block(f"adv_global_{u + 1}", global_norm(vals[u]))
    w.close()

    # ---- losses
    w = Writer("losses.txt", "SDPO, DDPO, REBEL, D3PO losses and d(loss)/d(logp)")
    B, T, lam, M, eps = 8, 10, 0.9, 1.5, 0.05
    old_a, old_b = f32(rng.normal(-1.0, 0.3, B)), f32(rng.normal(-1.0, 0.3, B))
    # |rho| kept at least 1e-3 away from eps so no comparison sits at a kink
    rho_a = rng.choice([-1, 1], B) * rng.uniform(0.0, 0.1, B)
    rho_b = rng.choice([-1, 1], B) * rng.uniform(0.0, 0.1, B)
    rho_a[np.abs(np.abs(rho_a) - eps) < 1e-3] += 3e-3
    rho_b[np.abs(np.abs(rho_b) - eps) < 1e-3] += 3e-3
    logp_a, logp_b = f32(old_a + rho_a), f32(old_b + rho_b)
    adv_a, adv_b = f32(rng.normal(0.0, 1.5, B)), f32(rng.normal(0.0, 1.5, B))
    steps = rng.integers(0, T, B)
    weight = lam ** steps.astype(np.float64)
    info, ga, gb = sdpo_loss(logp_a, old_a, adv_a, logp_b, old_b, adv_b, weight, M, eps)
    assert 0 < info["clipfrac"] < 1, "the SDPO case must exercise both branches of the max"
    assert_fd("sdpo a", lambda x: sdpo_loss(x, old_a, adv_a, logp_b, old_b, adv_b, weight, M, eps)[0]["loss"], ga, logp_a)
    assert_fd("sdpo b", lambda x: sdpo_loss(logp_a, old_a, adv_a, x, old_b, adv_b, weight, M, eps)[0]["loss"], gb, logp_b)
    for k, v in (("sdpo_adv_clip_max", M), ("sdpo_clip_range", eps), ("sdpo_logp_a", logp_a),
                 ("sdpo_old_logp_a", old_a), ("sdpo_adv_a", adv_a), ("sdpo_logp_b", logp_b),
                 ("sdpo_old_logp_b", old_b), ("sdpo_adv_b", adv_b), ("sdpo_weight", weight),
                 ("sdpo_loss", info["loss"]), ("sdpo_clipfrac", info["clipfrac"]),
                 ("sdpo_adv_clipfrac", info["adv_clipfrac"]), ("sdpo_dlogp_a", ga), ("sdpo_dlogp_b", gb)):
        w.block(k, v)

    old = f32(rng.normal(-1.0, 0.3, B))
    rho = rng.choice([-1, 1], B) * rng.uniform(0.0, 0.1, B)
    rho[np.abs(np.abs(rho) - eps) < 2e-3] += 5e-3
    logp = f32(old + rho)
    adv = f32(rng.normal(0.0, 1.5, B))
    info, g = ddpo_loss(logp, old, adv, M, eps)
    assert 0 < info["clipfrac"] < 1, "the DDPO case must have clipped and unclipped ratios"
    assert_fd("ddpo", lambda x: ddpo_loss(x, old, adv, M, eps)[0]["loss"], g, logp)
    for k, v in (("ddpo_adv_clip_max", M), ("ddpo_clip_range", eps), ("ddpo_logp", logp),
                 ("ddpo_old_logp", old), ("ddpo_adv", adv), ("ddpo_loss", info["loss"]),
                 ("ddpo_approx_kl", info["approx_kl"]), ("ddpo_clipfrac", info["clipfrac"]),
                 ("ddpo_dlogp", g)):
        w.block(k, v)

    Br, Tr, lr = 3, 4, 0.7
    old1, old2 = f32(rng.normal(-1.0, 0.3, (Br, Tr))), f32(rng.normal(-1.0, 0.3, (Br, Tr)))
    logp1, logp2 = f32(old1 + rng.normal(0, 0.05, (Br, Tr))), f32(old2 + rng.normal(0, 0.05, (Br, Tr)))
    adv1, adv2 = f32(rng.normal(0, 1, Br)), f32(rng.normal(0, 1, Br))
    info, g1, g2 = rebel_loss(lr, logp1, old1, adv1, logp2, old2, adv2)
    assert_fd("rebel 1", lambda x: rebel_loss(lr, x, old1, adv1, logp2, old2, adv2)[0]["loss"], g1, logp1)
    assert_fd("rebel 2", lambda x: rebel_loss(lr, logp1, old1, adv1, x, old2, adv2)[0]["loss"], g2, logp2)
    for k, v in (("rebel_lr", lr), ("rebel_logp1", logp1), ("rebel_old_logp1", old1), ("rebel_adv1", adv1),
                 ("rebel_logp2", logp2), ("rebel_old_logp2", old2), ("rebel_adv2", adv2),
                 ("rebel_loss", info["loss"]), ("rebel_mean_abs_log_diff", info["mean_abs_log_diff"]),
                 ("rebel_dlogp1", g1), ("rebel_dlogp2", g2)):
        w.block(k, v)

    beta, deps = 0.5, 0.1
    ref0, ref1 = f32(rng.normal(-1.0, 0.3, B)), f32(rng.normal(-1.0, 0.3, B))
    # log(1 - eps) = -0.1054, log(1 + eps) = 0.0953: draws in ±0.15 hit both sides; keep them
    # at least 2e-3 away from the clamp edges
    d0, d1 = rng.uniform(-0.15, 0.15, B), rng.uniform(-0.15, 0.15, B)
    for d in (d0, d1):
        for edge in (np.log(1 - deps), np.log(1 + deps)):
            d[np.abs(d - edge) < 2e-3] += 5e-3
    lp0, lp1 = f32(ref0 + d0), f32(ref1 + d1)
    rw0, rw1 = f32(rng.normal(5, 1, B)), f32(rng.normal(5, 1, B))
    rw1[3] = rw0[3]  # one tie: loss log 2, zero gradient
    info, g0, g1 = d3po_loss(beta, deps, lp0, ref0, rw0, lp1, ref1, rw1)
    assert 0 < info["clipfrac"] < 1 and info["tie_frac"] > 0
    assert_fd("d3po 0", lambda x: d3po_loss(beta, deps, x, ref0, rw0, lp1, ref1, rw1)[0]["loss"], g0, lp0)
    assert_fd("d3po 1", lambda x: d3po_loss(beta, deps, lp0, ref0, rw0, x, ref1, rw1)[0]["loss"], g1, lp1)
    for k, v in (("d3po_beta", beta), ("d3po_eps", deps), ("d3po_logp0", lp0), ("d3po_ref_logp0", ref0),
                 ("d3po_reward0", rw0), ("d3po_logp1", lp1), ("d3po_ref_logp1", ref1),
                 ("d3po_reward1", rw1), ("d3po_loss", info["loss"]), ("d3po_clipfrac", info["clipfrac"]),
                 ("d3po_tie_frac", info["tie_frac"]), ("d3po_dlogp0", g0), ("d3po_dlogp1", g1)):
        w.block(k, v)
    w.close()


if __name__ == "__main__":
    main()
