#!/usr/bin/env python3
"""Dump diffusers' SD-Turbo DDIM schedule and a torch DDIM-with-logprob step as test fixtures.

Writes tests/data/ddim/:
  alphas_cumprod.txt   1000 float32 values of DDIMScheduler(SD-Turbo config).alphas_cumprod,
                       as printed by float.hex() so the C test can compare them bit for bit
  timesteps.txt        "N t0 t1 ..." for N in 1 2 4 8 16 50 (trailing spacing)
  step_case.txt        one DDIM step in float32 torch, written as DDPO's ddim_step_with_logprob
                       (baselines.md §1: prev_t = clamp(t - 1000//N, 0, 999), σ with η = 1,
                       log-prob = mean over elements): inputs x_t, eps, x_prev and outputs
                       logp, x0_hat, and d logp / d eps from autograd.

Run with the reference venv (see reference/README.md):  python reference/dump_ddim_reference.py
"""
import os

import numpy as np
import torch
from diffusers import DDIMScheduler

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "ddim")

# SD-Turbo's scheduler config as quoted in sdpo_official_code.md §2.1.
sched = DDIMScheduler(
    num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
    clip_sample=False, set_alpha_to_one=False, steps_offset=1, timestep_spacing="trailing",
    prediction_type="epsilon")


def main():
    os.makedirs(OUT, exist_ok=True)
    ac = sched.alphas_cumprod.to(torch.float32)
    with open(os.path.join(OUT, "alphas_cumprod.txt"), "w") as f:
        f.write("# float32 alphas_cumprod of DDIMScheduler (diffusers %s), float.hex()\n"
                % __import__("diffusers").__version__)
        for v in ac.tolist():
            f.write(float(v).hex() + "\n")
    with open(os.path.join(OUT, "timesteps.txt"), "w") as f:
        f.write("# N then the N trailing timesteps of DDIMScheduler.set_timesteps(N)\n")
        for n in (1, 2, 4, 8, 16, 50):
            sched.set_timesteps(n)
            f.write(" ".join(str(x) for x in [n] + sched.timesteps.tolist()) + "\n")

    # One step, N = 4 at t = 749, D = 24 elements, float32 throughout as the upstream code.
    g = torch.Generator().manual_seed(0)
    D, N, t = 24, 4, 749
    x_t = torch.randn(D, generator=g)
    eps = torch.randn(D, generator=g, requires_grad=True)
    prev_t = max(0, min(999, t - 1000 // N))
    a_t, a_prev = ac[t], ac[prev_t]
    b_t = 1 - a_t
    x0 = (x_t - b_t ** 0.5 * eps) / a_t ** 0.5
    var = (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
    std = var ** 0.5
    mean = a_prev ** 0.5 * x0 + (1 - a_prev - std ** 2) ** 0.5 * eps
    x_prev = (mean + std * torch.randn(D, generator=g)).detach()
    logp = (-((x_prev - mean) ** 2) / (2 * std ** 2) - torch.log(std)
            - torch.log(torch.sqrt(2 * torch.as_tensor(np.pi)))).mean()
    logp.backward()
    with open(os.path.join(OUT, "step_case.txt"), "w") as f:
        f.write("# D N t, then lines: x_t, eps, x_prev, x0_hat (D values each), logp, dlogp_deps (D)\n")
        f.write("%d %d %d\n" % (D, N, t))
        for arr in (x_t, eps.detach(), x_prev, x0.detach()):
            f.write(" ".join(float(v).hex() for v in arr.tolist()) + "\n")
        f.write(float(logp.item()).hex() + "\n")
        f.write(" ".join(float(v).hex() for v in eps.grad.tolist()) + "\n")


if __name__ == "__main__":
    main()
