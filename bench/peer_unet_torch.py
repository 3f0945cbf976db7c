"""bench/peer_unet_torch.py — the PyTorch/diffusers peer of bench/bench_unet.c: the same UNet
configs, batch, modes, thread count and CSV columns (impl,config,mode,shape,threads,params,
median_ms,min_ms), impl = torch.

Not part of the build or CI (bench/README.md, "UNet"); needs torch, diffusers and peft (the
reference venv, reference/requirements.txt). Run from the repository root:

    python bench/peer_unet_torch.py [--threads T] [--reps R] [--warmup W]

What diffusers runs on the CPU in float32: UNet2DConditionModel.from_config (AttnProcessor2_0,
F.scaled_dot_product_attention), eval mode. infer runs under torch.no_grad(); train_lora adds a
rank-4 peft LoRA on to_q/to_k/to_v/to_out.0 (unet.add_adapter, as SDPO/RLCM train) with only the
LoRA parameters requiring grad; train_full trains every parameter; the training modes time
zero_grad(set_to_none=True), the forward and (eps * R).sum().backward(). The small config's
weights are diffusers' default init (values do not change the time).
"""

import argparse
import json
import statistics
import time

import torch


def times_ms(fn, reps, warmup):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def build(cfg, weights, lora, train_full):
    from diffusers import UNet2DConditionModel
    torch.manual_seed(0)
    unet = UNet2DConditionModel.from_config(cfg)
    if weights:
        from safetensors.torch import load_file
        unet.load_state_dict(load_file(weights))
    unet.eval()
    unet.requires_grad_(train_full)
    if lora:
        from peft import LoraConfig
        unet.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights="gaussian",
                                    target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
        for n, p in unet.named_parameters():
            p.requires_grad_("lora_" in n)
    return unet


def run(name, cfg, weights, shape, mode, args):
    B, H, W, L = shape
    lora = mode == "train_lora"
    unet = build(cfg, weights, lora, mode == "train_full")
    n_params = sum(p.numel() for n, p in unet.named_parameters() if "lora_" not in n)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, cfg["in_channels"], H, W, generator=g)
    ehs = torch.randn(B, L, cfg["cross_attention_dim"], generator=g)
    R = torch.randn(B, cfg["out_channels"], H, W, generator=g)
    t = torch.tensor([999.0 if b % 2 == 0 else 19.0 for b in range(B)])

    if mode == "infer":
        def step():
            with torch.no_grad():
                unet(x, t, encoder_hidden_states=ehs)
    else:
        def step():
            unet.zero_grad(set_to_none=True)
            (unet(x, t, encoder_hidden_states=ehs).sample * R).sum().backward()

    ms = times_ms(step, args.reps, args.warmup)
    print(f"torch,{name},{mode},B{B}_{H}x{W}_L{L},{args.threads},{n_params},"
          f"{statistics.median(ms):.2f},{min(ms):.2f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with open("tests/data/sd_fixtures/tiny_sd/unet/config.json") as f:
        tiny = json.load(f)
    with open("configs/sd-turbo/unet/config.json") as f:
        small = json.load(f)
    small["block_out_channels"] = [64, 128, 256, 256]
    small["attention_head_dim"] = [1, 2, 4, 4]
    configs = [("tiny", tiny, "tests/data/sd_fixtures/tiny_sd/unet/diffusion_pytorch_model.safetensors",
                (2, 8, 8, 77)),
               ("small", small, None, (1, 32, 32, 77))]
    print("impl,config,mode,shape,threads,params,median_ms,min_ms")
    for name, cfg, weights, shape in configs:
        for mode in ("infer", "train_lora", "train_full"):
            run(name, cfg, weights, shape, mode, args)


if __name__ == "__main__":
    main()
