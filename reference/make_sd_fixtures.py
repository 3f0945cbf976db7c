"""Regenerates every SD-Turbo fixture with one command (CPU, float32, deterministic).

    HF_HUB_OFFLINE=1 /work/venv-ref/bin/python reference/make_sd_fixtures.py

Writes (paths relative to the repository root):
  configs/sd-turbo/                      real SD-Turbo component configs (no weights)
  tests/data/sd_fixtures/tokenizer/      vocab.json, merges.txt (+ SD-2 tokenizer configs)
  tests/data/sd_fixtures/tokenizer_ids.json
  tests/data/sd_fixtures/tiny_sd/        tiny random StableDiffusionPipeline folder
  tests/data/sd_fixtures/golden/         golden inputs/outputs (safetensors)
and prints every file's size.  The tensor names of the golden files are listed in
reference/README.md ("SD fixtures").  Nothing is downloaded: the BPE merges come
from the open_clip_torch package, everything else is built here.
"""
import argparse
import hashlib
import json
import os
import shutil
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
ROOT = os.path.abspath(os.path.join(HERE, ".."))
FIX = os.path.join(ROOT, "tests", "data", "sd_fixtures")
CFG = os.path.join(ROOT, "configs", "sd-turbo")

import torch  # noqa: E402
from safetensors.torch import save_file, load_file  # noqa: E402

import sd_configs as C  # noqa: E402
import sd_tokenizer as T  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

B = 2                      # golden batch
LATENT_HW = 8              # tiny latent side (tiny UNet sample_size)
TIMESTEP_CASES = {"t999": [999.0, 999.0], "t499": [499.0, 499.0], "t19": [19.0, 19.0], "mixed": [999.0, 19.0]}
GRAD_CASE = "t499"
LORA_RANK = 4
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
LORA_UP_STD = 0.1
META = {"format": "pt"}


# ------------------------------------------------------------------ utilities
def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save(tensors, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_file({k: v.detach().clone().contiguous() for k, v in tensors.items()}, path, metadata=META)


def randomize_(model, seed):
    """Overwrite every parameter with a non-trivial deterministic random value:
    Linear/Conv weights N(0, 1/fan_in), biases N(0, 0.1^2), norm gammas
    1 + N(0, 0.1^2), norm betas N(0, 0.1^2), embeddings N(0, 1) / N(0, 0.5^2)
    (default inits leave norms at 1/0 and HF zeroes biases, which would hide
    gamma/beta/bias bugs; HF's 0.02 std would make attention nearly uniform)."""
    g = torch.Generator().manual_seed(seed)
    norm_types = (torch.nn.GroupNorm, torch.nn.LayerNorm)
    with torch.no_grad():
        for name, mod in sorted(model.named_modules(), key=lambda kv: kv[0]):
            params = dict(mod.named_parameters(recurse=False))
            if not params:
                continue
            for pname in sorted(params):
                p = params[pname]
                if isinstance(mod, norm_types):
                    v = torch.randn(p.shape, generator=g) * 0.1 + (1.0 if pname == "weight" else 0.0)
                elif isinstance(mod, torch.nn.Embedding):
                    std = 0.5 if "position" in name else 1.0
                    v = torch.randn(p.shape, generator=g) * std
                elif pname == "weight" and p.dim() >= 2:
                    fan_in = p[0].numel()
                    v = torch.randn(p.shape, generator=g) / fan_in ** 0.5
                elif pname == "bias":
                    v = torch.randn(p.shape, generator=g) * 0.1
                else:
                    raise RuntimeError(f"unhandled parameter {name}.{pname} {tuple(p.shape)} in {type(mod)}")
                p.copy_(v)


def tiny_cfg(d, version_key, version):
    d = dict(d)
    d[version_key] = version
    return d


# ------------------------------------------------------------------ builders
def build_unet():
    import diffusers
    from diffusers import UNet2DConditionModel
    cfg = tiny_cfg(C.TINY_UNET, "_diffusers_version", diffusers.__version__)
    torch.manual_seed(1)
    m = UNet2DConditionModel.from_config(cfg)
    randomize_(m, 101)
    return m.eval()


def build_vae():
    import diffusers
    from diffusers import AutoencoderKL
    cfg = tiny_cfg(C.TINY_VAE, "_diffusers_version", diffusers.__version__)
    torch.manual_seed(2)
    m = AutoencoderKL.from_config(cfg)
    randomize_(m, 102)
    return m.eval()


def build_text_encoder():
    from transformers import CLIPTextConfig, CLIPTextModel
    cfg = dict(C.TINY_TEXT_ENCODER)
    cfg.pop("transformers_version")
    cfg.pop("architectures")
    cfg.pop("model_type")
    torch.manual_seed(3)
    conf = CLIPTextConfig(**cfg)
    conf._attn_implementation = "eager"
    m = CLIPTextModel(conf)
    randomize_(m, 103)
    return m.eval()


def load_tokenizer(path):
    from transformers import CLIPTokenizer
    return CLIPTokenizer.from_pretrained(path)


# ------------------------------------------------------------------ 1+2: configs, tokenizer
def make_configs_and_tokenizer():
    C.write_real_configs(CFG)
    tok_dir = os.path.join(FIX, "tokenizer")
    T.write_vocab_and_merges(tok_dir)
    C.write_json(os.path.join(tok_dir, "tokenizer_config.json"), C.REAL_TOKENIZER_CONFIG)
    C.write_json(os.path.join(tok_dir, "special_tokens_map.json"), C.REAL_SPECIAL_TOKENS_MAP)
    return tok_dir


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [l.strip() for l in f if l.strip()]


def find_prompts():
    base = os.path.abspath(os.path.join(ROOT, "..", "shared", "paper", "prompts"))
    train = read_lines(os.path.join(base, "simple_animals_45.txt"))
    unseen = read_lines(os.path.join(base, "dpok_unseen_prompts_4.txt"))
    assert len(train) == 45 and len(unseen) == 4, (len(train), len(unseen))
    return train, unseen


def make_tokenizer_ids(tok_dir):
    import transformers
    import ftfy
    import open_clip
    tok = load_tokenizer(tok_dir)
    assert tok.pad_token == "!" and tok.pad_token_id == 0 and tok.model_max_length == 77
    assert len(tok) == 49408, len(tok)
    train, unseen = find_prompts()
    groups = [("train", s) for s in train] + [("unseen", s) for s in unseen] + [("tricky", s) for s in T.TRICKY]
    texts = [s for _, s in groups]
    hf = T.hf_encode(tok, texts)
    oc = T.open_clip_encode(texts)
    entries = []
    for (grp, s), a, b in zip(groups, hf, oc):
        assert len(a) == 77 and a[0] == 49406
        untrunc = tok(s, truncation=False)["input_ids"]
        n = min(len(untrunc), 77)
        e = {"group": grp, "text": s, "input_ids": a, "n_tokens": n, "truncated": len(untrunc) > 77,
             "untruncated_len": len(untrunc), "same_as_open_clip": a == b}
        if a != b:
            e["open_clip_ids"] = b
        entries.append(e)
    out = {
        "description": ("CLIP BPE ids for SD-Turbo (SD-2 tokenizer): input_ids = "
                        "CLIPTokenizer(text, padding='max_length', max_length=77, truncation=True).input_ids "
                        "with tests/data/sd_fixtures/tokenizer (pad '!' = 0, bos 49406, eos 49407). "
                        "open_clip_ids (only where different) = open_clip SimpleTokenizer "
                        "(ftfy + html.unescape, '!' is ordinary BPE). See reference/README.md."),
        "reference": {"transformers": transformers.__version__, "tokenizer_class": type(tok).__name__,
                      "ftfy_used_by_fixture": False, "ftfy_installed": ftfy.__version__,
                      "open_clip": open_clip.__version__},
        "max_length": 77, "pad_id": 0, "bos_id": 49406, "eos_id": 49407,
        "entries": entries,
    }
    path = os.path.join(FIX, "tokenizer_ids.json")
    with open(path, "w", encoding="utf-8", newline="\n") as f:   # one entry per line
        head = {k: v for k, v in out.items() if k != "entries"}
        f.write(json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ',\n "entries": [\n')
        f.write(",\n".join("  " + json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in entries))
        f.write("\n ]\n}\n")
    assert json.load(open(path, encoding="utf-8")) == out
    ndiff = sum(not e["same_as_open_clip"] for e in entries)
    print(f"tokenizer_ids.json: {len(entries)} strings, {ndiff} differ from open_clip (ftfy) tokenization")
    return tok


# ------------------------------------------------------------------ 3: tiny_sd folder
def make_tiny_sd(unet, vae, te):
    import diffusers
    d = os.path.join(FIX, "tiny_sd")
    if os.path.lexists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    unet.save_pretrained(os.path.join(d, "unet"), safe_serialization=True)
    unet_h = build_unet()
    unet_h.load_state_dict(unet.state_dict())
    unet_h.to(torch.float16).save_pretrained(os.path.join(d, "unet"), safe_serialization=True, variant="fp16")
    vae.save_pretrained(os.path.join(d, "vae"), safe_serialization=True)
    te.save_pretrained(os.path.join(d, "text_encoder"), safe_serialization=True)
    # transformers writes a generation_config.json for some models; keep the folder minimal.
    for extra in ("generation_config.json",):
        p = os.path.join(d, "text_encoder", extra)
        if os.path.exists(p):
            os.remove(p)
    sch = dict(C.REAL_SCHEDULER)
    sch["_diffusers_version"] = diffusers.__version__
    C.write_json(os.path.join(d, "scheduler", "scheduler_config.json"), sch)
    mi = dict(C.TINY_MODEL_INDEX)
    mi["_diffusers_version"] = diffusers.__version__
    C.write_json(os.path.join(d, "model_index.json"), mi)
    os.symlink(os.path.join("..", "tokenizer"), os.path.join(d, "tokenizer"))
    # On-disk names must be the real checkpoint's: text_model.embeddings..., as
    # transformers 4.x writes them and SD-Turbo ships them.  transformers >= 5 keeps
    # CLIPTextModel without the "text_model." level and save_pretrained writes the
    # keys WITHOUT the prefix, so rewrite the file with the prefix (from_pretrained
    # accepts both: PrefixChange("text_model") in transformers' conversion_mapping).
    te_file = os.path.join(d, "text_encoder", "model.safetensors")
    sd = load_file(te_file)
    sd = {(k if k.startswith("text_model.") else "text_model." + k): v for k, v in sd.items()}
    sd = {k: v for k, v in sd.items() if not k.endswith("position_ids")}
    save(dict(sorted(sd.items())), te_file)
    from transformers import CLIPTextModel
    te2 = CLIPTextModel.from_pretrained(os.path.join(d, "text_encoder")).eval()
    ids = torch.arange(77).reshape(1, 77) * 13 % C.TINY_TEXT_VOCAB
    with torch.no_grad():
        # te2 runs SDPA attention, te eager: equal up to float rounding
        _d = (te2(ids).last_hidden_state - te(ids).last_hidden_state).abs().max().item()
        assert _d < 1e-5, _d
    return d


# ------------------------------------------------------------------ 4: goldens
def add_lora(unet, seed):
    from peft import LoraConfig
    cfg = LoraConfig(r=LORA_RANK, lora_alpha=LORA_RANK, init_lora_weights="gaussian",
                     target_modules=LORA_TARGETS)
    unet.add_adapter(cfg)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in sorted(unet.named_parameters(), key=lambda kv: kv[0]):
            if "lora_A" in n:
                p.copy_(torch.randn(p.shape, generator=g) / LORA_RANK ** 0.5)  # N(0, 1/r), as gaussian init
            elif "lora_B" in n:
                p.copy_(torch.randn(p.shape, generator=g) * LORA_UP_STD)      # non-zero up
    return unet


def lora_file_state_dict(unet):
    """{'unet.<module>.lora_A.weight': [r,in], 'unet.<module>.lora_B.weight': [out,r]}
    exactly as StableDiffusionPipeline.save_lora_weights writes it."""
    from peft.utils import get_peft_model_state_dict
    sd = get_peft_model_state_dict(unet)
    return {"unet." + k: v for k, v in sd.items()}


def legacy_attn_procs_state_dict(lora_sd):
    """diffusers 0.17 `unet.save_attn_procs` (LoRAAttnProcessor) names, as SDPO's code saves:
    <attn>.processor.{to_q,to_k,to_v,to_out}_lora.{down,up}.weight."""
    out = {}
    for k, v in lora_sd.items():
        k = k[len("unet."):]
        for proj in ("to_q", "to_k", "to_v", "to_out.0"):
            for ab, du in (("lora_A", "down"), ("lora_B", "up")):
                suffix = f".{proj}.{ab}.weight"
                if k.endswith(suffix):
                    base = k[: -len(suffix)]
                    pname = "to_out" if proj == "to_out.0" else proj
                    out[f"{base}.processor.{pname}_lora.{du}.weight"] = v
    assert len(out) == len(lora_sd)
    return out


def unet_eps(unet, sample, ehs, t):
    return unet(sample, torch.tensor(t, dtype=torch.float32), encoder_hidden_states=ehs).sample


def make_unet_goldens(unet, golden):
    g = torch.Generator().manual_seed(201)
    sample = torch.randn(B, 4, LATENT_HW, LATENT_HW, generator=g)
    ehs = torch.randn(B, 77, 32, generator=g)
    R = torch.randn(B, 4, LATENT_HW, LATENT_HW, generator=g)
    out = {"sample": sample, "encoder_hidden_states": ehs, "grad_R": R}
    with torch.no_grad():
        for name, t in TIMESTEP_CASES.items():
            out[f"timestep.{name}"] = torch.tensor(t, dtype=torch.float32)
            out[f"eps.{name}"] = unet_eps(unet, sample, ehs, t)

        # fp16-rounded weights, fp32 compute (what loading diffusion_pytorch_model.fp16.safetensors
        # and upcasting gives)
        u16 = build_unet()
        u16.load_state_dict({k: v.half().float() for k, v in unet.state_dict().items()})
        for name, t in TIMESTEP_CASES.items():
            out[f"eps_fp16w.{name}"] = unet_eps(u16, sample, ehs, t)
        del u16

    # full-parameter gradients, no LoRA: L = sum(eps * R)
    t = TIMESTEP_CASES[GRAD_CASE]
    s = sample.clone().requires_grad_(True)
    c = ehs.clone().requires_grad_(True)
    unet.zero_grad(set_to_none=True)
    eps = unet_eps(unet, s, c, t)
    loss = (eps * R).sum()
    loss.backward()
    out["loss.base"] = loss.detach().reshape(1)
    out["grad_sample.base"] = s.grad
    out["grad_encoder_hidden_states.base"] = c.grad
    full_grads = {k: p.grad.detach().clone() for k, p in unet.named_parameters()}
    assert set(full_grads) == set(unet.state_dict())
    unet.zero_grad(set_to_none=True)

    # LoRA
    lunet = build_unet()
    lunet.load_state_dict(unet.state_dict())
    add_lora(lunet, 301)
    lunet.eval()
    with torch.no_grad():
        for name, t2 in TIMESTEP_CASES.items():
            out[f"eps_lora.{name}"] = unet_eps(lunet, sample, ehs, t2)
            assert (out[f"eps_lora.{name}"] - out[f"eps.{name}"]).abs().max() > 1e-2, "LoRA has no effect"
    lora_sd = lora_file_state_dict(lunet)
    lunet.requires_grad_(False)
    name_of = {}
    for n, p in lunet.named_parameters():
        if "lora_" in n:
            p.requires_grad_(True)
            name_of[n] = "unet." + n.replace(".default", "")
    s = sample.clone().requires_grad_(True)
    c = ehs.clone().requires_grad_(True)
    eps = unet_eps(lunet, s, c, t)
    loss = (eps * R).sum()
    loss.backward()
    out["loss.lora"] = loss.detach().reshape(1)
    out["grad_sample.lora"] = s.grad
    out["grad_encoder_hidden_states.lora"] = c.grad
    lora_grads = {name_of[n]: p.grad.detach().clone() for n, p in lunet.named_parameters() if "lora_" in n}
    assert set(lora_grads) == set(lora_sd), (sorted(lora_grads)[:2], sorted(lora_sd)[:2])

    save(out, os.path.join(golden, "unet.safetensors"))
    # written by diffusers itself (byte-identical to save(lora_sd, ...))
    from diffusers import StableDiffusionPipeline
    from peft.utils import get_peft_model_state_dict
    StableDiffusionPipeline.save_lora_weights(os.path.join(golden, "unet_lora"),
                                              unet_lora_layers=get_peft_model_state_dict(lunet))
    assert load_file(os.path.join(golden, "unet_lora", "pytorch_lora_weights.safetensors")).keys() == lora_sd.keys()
    save(legacy_attn_procs_state_dict(lora_sd), os.path.join(golden, "unet_lora_legacy", "pytorch_lora_weights.safetensors"))
    save(lora_grads, os.path.join(golden, "unet_lora_grads.safetensors"))
    save(full_grads, os.path.join(golden, "unet_full_grads.safetensors"))
    return out, lora_sd


def make_vae_goldens(vae, golden):
    g = torch.Generator().manual_seed(202)
    z = torch.randn(B, 4, LATENT_HW, LATENT_HW, generator=g)  # vae.decode input (already / scaling_factor)
    img = torch.rand(B, 3, 2 * LATENT_HW, 2 * LATENT_HW, generator=g) * 2 - 1
    Rimg = torch.randn(B, 3, 2 * LATENT_HW, 2 * LATENT_HW, generator=g)
    out = {"decode.latents": z, "encode.image": img, "decode.grad_R": Rimg}
    with torch.no_grad():
        out["decode.image"] = vae.decode(z).sample
        post = vae.encode(img).latent_dist
        out["encode.mean"] = post.mean
        out["encode.logvar"] = post.logvar
    zz = z.clone().requires_grad_(True)
    loss = (vae.decode(zz).sample * Rimg).sum()
    loss.backward()
    out["decode.loss"] = loss.detach().reshape(1)
    out["decode.grad_latents"] = zz.grad
    vae.zero_grad(set_to_none=True)
    save(out, os.path.join(golden, "vae.safetensors"))
    return out


TEXT_PROMPTS = ["cat", "A dog on the moon", T.LONG_PROMPT]


def make_text_goldens(te, tok, golden):
    real = torch.tensor(T.hf_encode(tok, TEXT_PROMPTS), dtype=torch.int64)
    ids = real % C.TINY_TEXT_VOCAB
    with torch.no_grad():
        o = te(ids, output_hidden_states=True)
    out = {"input_ids_real": real, "input_ids": ids, "last_hidden_state": o.last_hidden_state,
           "prompt_embeds": o.last_hidden_state}
    for i, h in enumerate(o.hidden_states):
        out[f"hidden_states.{i}"] = h
    nl = C.TINY_TEXT_ENCODER["num_hidden_layers"]
    assert len(o.hidden_states) == nl + 1
    assert torch.equal(te.final_layer_norm(o.hidden_states[-1]), o.last_hidden_state)
    with torch.no_grad():
        out["clip_skip1_embeds"] = te.final_layer_norm(o.hidden_states[-2])
    save(out, os.path.join(golden, "text_encoder.safetensors"))
    return out


def make_pipeline_golden(tiny_dir, golden, text_out):
    """One-step SD-Turbo generation through the real diffusers StableDiffusionPipeline
    on the tiny folder (tokenizer ids mapped id % 1024 for the tiny vocab)."""
    from diffusers import StableDiffusionPipeline
    pipe = StableDiffusionPipeline.from_pretrained(tiny_dir, safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    orig_call = pipe.tokenizer.__class__.__call__

    class ModTok(pipe.tokenizer.__class__):
        def __call__(self, *a, **k):
            r = orig_call(self, *a, **k)
            if "input_ids" in r and isinstance(r["input_ids"], torch.Tensor):
                r["input_ids"] = r["input_ids"] % C.TINY_TEXT_VOCAB
            return r

    pipe.tokenizer.__class__ = ModTok
    # encode_prompt == text_encoder(ids)[0] == last_hidden_state (no attention mask, clip_skip None)
    pe, _ = pipe.encode_prompt(TEXT_PROMPTS[1], "cpu", 1, False)
    d = (pe[0] - text_out["prompt_embeds"][1]).abs().max().item()  # SDPA (pipeline) vs eager (golden)
    assert d < 1e-5, f"pipeline prompt_embeds != last_hidden_state ({d})"
    g = torch.Generator().manual_seed(203)
    z = torch.randn(1, 4, LATENT_HW, LATENT_HW, generator=g)
    with torch.no_grad():
        img = pipe(TEXT_PROMPTS[1], num_inference_steps=1, guidance_scale=0.0, latents=z,
                   output_type="pt", height=2 * LATENT_HW, width=2 * LATENT_HW).images
        # the same by hand.  NOTE (differs from architectures.md §1.7): with
        # timestep_spacing "trailing", EulerDiscreteScheduler.init_noise_sigma is
        # sigma_max (14.6146), not sqrt(sigma_max^2+1); so latents = z*sigma_max,
        # unet_in = latents/sqrt(sigma^2+1) = z*sigma/sqrt(sigma^2+1) (= z*0.997667),
        # x0 = latents - sigma*eps = sigma*(z - eps).
        sched = pipe.scheduler
        sched.set_timesteps(1)
        t = sched.timesteps[0]
        sigma = sched.sigmas[0]
        latents = z * sched.init_noise_sigma
        unet_in = latents / ((sigma ** 2 + 1) ** 0.5)
        eps = pipe.unet(unet_in, t, encoder_hidden_states=pe).sample
        x0 = latents - sigma * eps
        dec = pipe.vae.decode(x0 / pipe.vae.config.scaling_factor).sample
        img2 = (dec / 2 + 0.5).clamp(0, 1)
    err = (img - img2).abs().max().item()
    assert err < 1e-5, err
    out = {"input_ids": text_out["input_ids"][1:2], "z": z, "latents": latents, "unet_in": unet_in,
           "timestep": t.reshape(1).float(), "sigma": sigma.reshape(1).float(),
           "init_noise_sigma": torch.as_tensor(sched.init_noise_sigma).reshape(1).float(),
           "prompt_embeds": pe, "eps": eps, "x0": x0, "vae_in": x0 / pipe.vae.config.scaling_factor,
           "vae_out": dec, "image": img2}
    save(out, os.path.join(golden, "pipeline_1step.safetensors"))
    return pipe


# ------------------------------------------------------------------ verification
def verify(tiny_dir, golden, unet_out):
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    pipe = StableDiffusionPipeline.from_pretrained(tiny_dir, safety_checker=None, requires_safety_checker=False)
    u = pipe.unet.eval()
    s, c = unet_out["sample"], unet_out["encoder_hidden_states"]
    with torch.no_grad():
        for name, t in TIMESTEP_CASES.items():
            assert torch.equal(unet_eps(u, s, c, t), unet_out[f"eps.{name}"]), name
        u16 = UNet2DConditionModel.from_pretrained(os.path.join(tiny_dir, "unet"), variant="fp16",
                                                   torch_dtype=torch.float16)
        assert next(u16.parameters()).dtype == torch.float16
        u16 = u16.float().eval()
        for name, t in TIMESTEP_CASES.items():
            assert torch.equal(unet_eps(u16, s, c, t), unet_out[f"eps_fp16w.{name}"]), name
        for sub in ("unet_lora", "unet_lora_legacy"):
            p2 = StableDiffusionPipeline.from_pretrained(tiny_dir, safety_checker=None, requires_safety_checker=False)
            if sub == "unet_lora":   # diffusers/peft format, "unet." prefix
                p2.load_lora_weights(os.path.join(golden, sub), weight_name="pytorch_lora_weights.safetensors")
                how = "pipe.load_lora_weights(dir)"
            else:                    # diffusers 0.17 attn-procs names, no prefix
                p2.unet.load_lora_adapter(os.path.join(golden, sub), weight_name="pytorch_lora_weights.safetensors",
                                          prefix=None)
                how = "pipe.unet.load_lora_adapter(dir, prefix=None)"
            for name, t in TIMESTEP_CASES.items():
                e = unet_eps(p2.unet.eval(), s, c, t)
                d = (e - unet_out[f"eps_lora.{name}"]).abs().max().item()
                assert d < 1e-5, (sub, name, d)
            print(f"verify: {sub} loads with {how} and reproduces eps_lora.* (max |diff| {d:.2e})")
    print("verify: tiny_sd reloads (fp32 and fp16 variant) and reproduces eps.* / eps_fp16w.* exactly")


def all_files():
    out = []
    for base in (CFG, FIX):
        for dp, dn, fn in os.walk(base):
            for f in fn:
                out.append(os.path.join(dp, f))
    return sorted(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-verify", action="store_true", help="skip reloading the written files")
    a = ap.parse_args()
    import diffusers, transformers, peft, safetensors, numpy, open_clip
    print(f"torch {torch.__version__} diffusers {diffusers.__version__} transformers {transformers.__version__} "
          f"peft {peft.__version__} safetensors {safetensors.__version__} numpy {numpy.__version__} "
          f"open_clip {open_clip.__version__}")
    golden = os.path.join(FIX, "golden")
    if os.path.isdir(golden):
        shutil.rmtree(golden)
    tok_dir = make_configs_and_tokenizer()
    tok = make_tokenizer_ids(tok_dir)
    unet, vae, te = build_unet(), build_vae(), build_text_encoder()
    for n, m in (("unet", unet), ("vae", vae), ("text_encoder", te)):
        print(f"tiny {n}: {sum(p.numel() for p in m.parameters()):,} params")
    tiny_dir = make_tiny_sd(unet, vae, te)
    unet_out, _ = make_unet_goldens(unet, golden)
    make_vae_goldens(vae, golden)
    text_out = make_text_goldens(te, tok, golden)
    make_pipeline_golden(tiny_dir, golden, text_out)
    if not a.no_verify:
        verify(tiny_dir, golden, unet_out)
    total = 0
    for p in all_files():
        sz = os.path.getsize(p)
        total += sz
        print(f"{sz:>10,}  {os.path.relpath(p, ROOT)}  {sha256(p)[:16]}")
    print(f"{total:>10,}  total bytes")


if __name__ == "__main__":
    main()
