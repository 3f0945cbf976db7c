"""Proves configs/sd-turbo/*/config.json describe the real SD-Turbo checkpoint.

Instantiates UNet2DConditionModel, AutoencoderKL and CLIPTextModel from the
committed configs on the meta device (no memory, no weights) and checks that
every state-dict name and shape equals shared/spec/sd_turbo_tensors.json and
that the parameter counts are UNet 865,910,724 / VAE 83,653,863 /
text encoder 340,387,840.  Also loads the scheduler and the tokenizer config.

usage: /work/venv-ref/bin/python reference/check_sd_turbo_configs.py [--spec PATH]
exit status 0 = all match.
"""
import argparse
import json
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
CFG = os.path.join(ROOT, "configs", "sd-turbo")
DEFAULT_SPEC = os.path.abspath(os.path.join(ROOT, "..", "shared", "spec", "sd_turbo_tensors.json"))
EXPECTED_PARAMS = {"unet": 865_910_724, "vae": 83_653_863, "text_encoder": 340_387_840}


def build(name):
    import torch
    from accelerate import init_empty_weights
    with init_empty_weights():
        if name == "unet":
            from diffusers import UNet2DConditionModel
            m = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(os.path.join(CFG, "unet")))
        elif name == "vae":
            from diffusers import AutoencoderKL
            m = AutoencoderKL.from_config(AutoencoderKL.load_config(os.path.join(CFG, "vae")))
        else:
            from transformers import CLIPTextConfig, CLIPTextModel
            m = CLIPTextModel(CLIPTextConfig.from_pretrained(os.path.join(CFG, "text_encoder")))
    for p in m.parameters():
        assert p.device == torch.device("meta"), "expected meta tensors"
    return m


def check(name, spec):
    m = build(name)
    sd = {k: list(v.shape) for k, v in m.state_dict().items()}
    if name == "text_encoder" and not any(k.startswith("text_model.") for k in sd):
        # transformers >= 5 drops the "text_model." prefix in memory (PrefixChange in
        # conversion_mapping.py) and puts it back in save_pretrained; files on disk,
        # like the spec, carry it.
        print("  note: in-memory CLIPTextModel keys lack 'text_model.'; prefixing (on-disk names)")
        sd = {"text_model." + k: v for k, v in sd.items()}
    want = {k: list(s) for k, s in spec[name]}
    ok = True
    missing = sorted(set(want) - set(sd))
    extra = sorted(set(sd) - set(want))
    # position_ids is a buffer some checkpoints carry; architectures.md says ignore it.
    extra_ignored = [k for k in extra if k.endswith("embeddings.position_ids")]
    extra = [k for k in extra if k not in extra_ignored]
    bad = sorted(k for k in set(sd) & set(want) if sd[k] != want[k])
    nparam = sum(p.numel() for p in m.parameters())
    nspec = 0
    for k, s in spec[name]:
        n = 1
        for d in s:
            n *= d
        nspec += n
    print(f"[{name}] state_dict {len(sd)} tensors, spec {len(want)}; params {nparam:,} "
          f"(spec sum {nspec:,}, expected {EXPECTED_PARAMS[name]:,})")
    for k in missing[:20]:
        print(f"  MISSING (in spec, not in model): {k} {want[k]}")
    for k in extra[:20]:
        print(f"  EXTRA (in model, not in spec): {k} {sd[k]}")
    for k in extra_ignored:
        print(f"  note: ignoring buffer {k} {sd[k]}")
    for k in bad[:20]:
        print(f"  SHAPE {k}: model {sd[k]} spec {want[k]}")
    if missing or extra or bad or nparam != EXPECTED_PARAMS[name] or nspec != EXPECTED_PARAMS[name]:
        ok = False
    same_order = list(sd) == [k for k, _ in spec[name]]
    print(f"[{name}] state_dict order {'equals' if same_order else 'differs from'} the spec's order (informational)")
    print(f"[{name}] {'OK' if ok else 'MISMATCH'}")
    return ok


def check_lora():
    """SDPO LoRA (sdpo_official_code.md §2.10): rank 4 on to_q/to_k/to_v/to_out.0 of all
    16 transformer blocks (attn1 + attn2).  Per block of width C (cross dim 1024):
    attn1 4*2*r*C, attn2 q/out 2*2*r*C + k/v 2*r*(1024+C) -> 56C + 8192; sum C = 12480."""
    from peft import LoraConfig
    u = build("unet")
    u.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights="gaussian",
                             target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    lora = [(k, p.numel()) for k, p in u.named_parameters() if "lora_" in k]
    n = sum(c for _, c in lora)
    ok = n == 56 * 12480 + 16 * 8192 == 829_952 and len(lora) == 256
    print(f"[lora] rank-4 LoRA on to_q/to_k/to_v/to_out.0: {len(lora)} tensors, {n:,} params "
          f"(expected 256 / 829,952): {'OK' if ok else 'MISMATCH'}")
    return ok


def check_scheduler_and_tokenizer():
    from diffusers import EulerDiscreteScheduler
    s = EulerDiscreteScheduler.from_pretrained(CFG, subfolder="scheduler")
    s.set_timesteps(1)
    ok = [int(t) for t in s.timesteps] == [999]
    s.set_timesteps(4)
    ok &= [int(t) for t in s.timesteps] == [999, 749, 499, 249]
    ok &= abs(float(s.sigmas[0]) - 14.61464) < 1e-4 and s.config.prediction_type == "epsilon"
    print(f"[scheduler] timesteps(1)=[999], timesteps(4)=[999,749,499,249], sigma_max {float(s.sigmas[0]):.5f}: "
          f"{'OK' if ok else 'MISMATCH'}")
    tc = json.load(open(os.path.join(CFG, "tokenizer", "tokenizer_config.json")))
    sm = json.load(open(os.path.join(CFG, "tokenizer", "special_tokens_map.json")))
    tok_ok = tc["model_max_length"] == 77 and tc["pad_token"] == "!" and sm["pad_token"] == "!"
    print(f"[tokenizer] model_max_length 77, pad_token '!': {'OK' if tok_ok else 'MISMATCH'}")
    mi = json.load(open(os.path.join(CFG, "model_index.json")))
    mi_ok = mi["_class_name"] == "StableDiffusionPipeline" and mi["scheduler"][1] == "EulerDiscreteScheduler"
    print(f"[model_index] {'OK' if mi_ok else 'MISMATCH'}")
    return ok and tok_ok and mi_ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default=DEFAULT_SPEC)
    a = ap.parse_args()
    spec = json.load(open(a.spec))
    ok = all([check(n, spec) for n in ("unet", "vae", "text_encoder")])
    ok &= check_lora()
    ok &= check_scheduler_and_tokenizer()
    print("ALL OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
