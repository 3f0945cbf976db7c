"""ImageReward fixtures (called by make_reward_fixtures.py): a tiny BLIP (ViT + MED BERT with
cross-attention) and MLP built from ImageReward 1.5's own vendored BLIP code, and WordPiece ids.

BLIP code: `pip install --no-deps image-reward==1.5` (reference/requirements-rewards.txt) ships
ImageReward/models/BLIP/{vit.py, med.py}. Its package __init__ pulls in CLIP, diffusers and
network downloads, so the two files are loaded by path, with three shims for APIs that moved
since the transformers 4.x / fairscale it was written against (none changes the math):
  - fairscale's checkpoint_wrapper (used only with gradient checkpointing) → identity;
  - transformers.modeling_utils.{apply_chunking_to_forward, prune_linear_layer} → their new home
    transformers.pytorch_utils; find_pruneable_heads_and_indices (head pruning, never called)
    → a stub that raises;
  - BertPreTrainedModel.init_weights → no-op (transformers 5's version needs tied-weight
    bookkeeping that med.py predates; every weight is drawn by randomize_ afterwards), and the
    ModuleUtilsMixin helpers transformers 5 removed (invert_attention_mask, get_head_mask) as
    transformers 4.x defined them.
The score is ImageReward.score's six lines (ImageReward.py): image_embeds = visual_encoder(x);
text_encoder(ids, attention_mask, encoder_hidden_states=image_embeds, encoder_attention_mask=1);
mlp(last_hidden_state[:, 0]); (r - mean) / std.

WordPiece: bert-base-uncased's vocab.txt is not shipped by any installed package and the
fixtures download nothing, so a small vocabulary with the real special-token ids ([PAD] 0,
[unused0-98], [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103) is built here; the tokenizer code is
the same for any vocab.txt. Expected ids come from transformers 4.57.6's slow BertTokenizer
(the class BLIP used), run in the separate venv /work/venv-ref-tf4 (reference/README.md), plus
BLIP's added [DEC]/[ENC]; the fast tokenizer of transformers 5 is recorded beside it.
"""
import importlib.util
import json
import os
import subprocess
import sys
import types
from functools import partial

import numpy as np
import torch

import reward_common as R

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TF4_PYTHON = "/work/venv-ref-tf4/bin/python"
MAX_LENGTH = 35
IMAGE_SIZE = 48            # tiny BLIP: patch 16 → 3×3 grid + cls = 10 tokens
REWARD_MEAN, REWARD_STD = 0.16717362830052426, 1.0333394966054072

TRICKY = [
    "", "   ", "A Cat!!", "dog, cat; horse: (monkey) [rabbit] {zebra}", "3 dogs and 12 cats in 2024",
    "café crème brûlée", "naïve Zoë ÀÉÎÕÜ", "İstanbul STRASSE", "Ωmega αβγ", "日本の猫 and 猫猫",
    "tab\tand\nnewline\r\nend", "\u00a0no-break\u2003em-space", "zero\u200bwidth\u200djoiner",
    "ctrl\x07bell\x1fus\ufffdrepl", "don't stop", "U.S.A. e-mail hello...world", "a" * 120,
    "hedgehogs kangaroos", "llamallama", "a [MASK] cat [SEP] x [DEC][ENC]", "[cls] lower special",
    "line\u2028sep\u2029para", "vtab\x0bform\x0c", "emoji 🐱 cat", "Ｆｕｌｌｗｉｄｔｈ",
    "the quick brown fox jumps over the lazy dog " * 4,
]


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [l.strip() for l in f if l.strip()]


def test_strings():
    base = os.path.join(ROOT, "data", "prompts")
    return (read_lines(os.path.join(base, "simple_animals_45.txt")) +
            read_lines(os.path.join(base, "dpok_unseen_prompts_4.txt")) + TRICKY)


def build_vocab(strings):
    """Special ids as bert-base-uncased; then characters, '##' characters, and words/subwords
    chosen so that words split into several pieces, some stay whole and some become [UNK]."""
    vocab = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = sorted(set("abcdefghijklmnopqrstuvwxyz0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") |
                   set("ωαβγ日本の猫") - {"γ"})      # γ and ﬀ-like leftovers must become [UNK]
    vocab += chars + ["##" + c for c in chars if c.isalnum() and c not in "日本の猫"]
    animals = read_lines(os.path.join(ROOT, "data", "prompts", "simple_animals_45.txt"))
    whole = [a for a in animals if a not in ("hedgehog", "kangaroo", "llama", "raccoon", "butterfly")]
    vocab += whole + ["a", "the", "and", "in", "on", "of", "park", "moon", "green", "colored", "four",
                      "dogs", "cats", "stop", "don", "t", "hedge", "##hog", "##s", "kang", "##aroo",
                      "llama", "##llama", "but", "##ter", "##fly", "rac", "##coon", "wol", "##ves",
                      "cafe", "creme", "brulee", "naive", "zoe", "istanbul", "strasse", "mega",
                      "quick", "brown", "fox", "jumps", "over", "lazy", "hello", "world", "mail",
                      "lower", "special", "end", "tab", "newline", "no", "break", "em", "space",
                      "zero", "width", "joiner", "ctrl", "bell", "us", "repl", "line", "sep",
                      "para", "emoji", "vtab", "form", "full", "##width", "2024", "12"]
    seen, out = set(), []
    for t in vocab:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def write_vocab(path, vocab):
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")


TF4_SCRIPT = r"""
import json, sys
from transformers import BertTokenizer
vocab, max_length, strings = sys.argv[1], int(sys.argv[2]), json.load(sys.stdin)
tok = BertTokenizer(vocab, do_lower_case=True)
tok.add_special_tokens({"bos_token": "[DEC]"})
tok.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
enc = tok(strings, padding="max_length", truncation=True, max_length=max_length)
import transformers
json.dump({"version": transformers.__version__, "input_ids": enc.input_ids,
           "attention_mask": enc.attention_mask}, sys.stdout)
"""


def slow_ids(vocab_path, strings):
    out = subprocess.run([TF4_PYTHON, "-c", TF4_SCRIPT, vocab_path, str(MAX_LENGTH)],
                         input=json.dumps(strings), capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def fast_tokenizer(vocab_path):
    from transformers import BertTokenizer
    tok = BertTokenizer(vocab_path, do_lower_case=True)
    tok.add_special_tokens({"bos_token": "[DEC]"})
    tok.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    return tok


def make_wordpiece_ids(fix, vocab_path):
    strings = test_strings()
    slow = slow_ids(vocab_path, strings)
    fast = fast_tokenizer(vocab_path)(strings, padding="max_length", truncation=True,
                                      max_length=MAX_LENGTH).input_ids
    import transformers
    cases = [{"text": s, "input_ids": i, "attention_mask": m, "fast_same": i == f}
             for s, i, m, f in zip(strings, slow["input_ids"], slow["attention_mask"], fast)]
    head = {"vocab": "imagereward/vocab.txt", "max_length": MAX_LENGTH,
            "reference": f"transformers {slow['version']} slow BertTokenizer + [DEC]/[ENC]",
            "fast_reference": f"transformers {transformers.__version__} BertTokenizer (tokenizers)"}
    with open(os.path.join(fix, "wordpiece_ids.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": [\n')
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n]}\n")
    return sum(not c["fast_same"] for c in cases)


def load_blip_code():
    """ImageReward 1.5's BLIP vit.py and med.py, loaded by path with the shims above."""
    import transformers.modeling_utils as mu
    import transformers.pytorch_utils as pu
    fs = types.ModuleType("fairscale.nn.checkpoint.checkpoint_activations")
    fs.checkpoint_wrapper = lambda module, *a, **k: module
    for name in ("fairscale", "fairscale.nn", "fairscale.nn.checkpoint"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["fairscale.nn.checkpoint.checkpoint_activations"] = fs
    for name in ("apply_chunking_to_forward", "prune_linear_layer"):
        if not hasattr(mu, name):
            setattr(mu, name, getattr(pu, name))
    if not hasattr(mu, "find_pruneable_heads_and_indices"):
        def find_pruneable_heads_and_indices(*a, **k):
            raise NotImplementedError("head pruning is not used by ImageReward")
        mu.find_pruneable_heads_and_indices = find_pruneable_heads_and_indices
    pkg = importlib.util.find_spec("ImageReward")      # located, not imported
    blip_dir = os.path.join(pkg.submodule_search_locations[0], "models", "BLIP")
    mods = {}
    for name in ("vit", "med"):
        spec = importlib.util.spec_from_file_location(f"imagereward_blip_{name}", os.path.join(blip_dir, f"{name}.py"))
        mods[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mods[name])
    # transformers 5's PreTrainedModel.init_weights expects tied-weight bookkeeping med.py's
    # BertModel predates; every weight is redrawn by randomize_ anyway.
    base = mods["med"].BertPreTrainedModel
    base.init_weights = lambda self: None
    # ModuleUtilsMixin helpers transformers 5 dropped, as transformers 4.x defined them (the
    # image mask is all ones, so the cross-attention mask is 0 either way).
    if not hasattr(base, "invert_attention_mask"):
        def invert_attention_mask(self, m):
            ext = m[:, None, :, :] if m.dim() == 3 else m[:, None, None, :]
            ext = ext.to(dtype=self.dtype)
            return (1.0 - ext) * torch.finfo(self.dtype).min
        base.invert_attention_mask = invert_attention_mask
    if not hasattr(base, "get_head_mask"):
        base.get_head_mask = lambda self, head_mask, n, *a: [None] * n if head_mask is None else head_mask
    return mods["vit"], mods["med"]


class TinyImageReward(torch.nn.Module):
    """ImageReward's module tree (blip.visual_encoder, blip.text_encoder, blip.vision_proj,
    blip.text_proj, mlp.layers) at tiny widths."""

    def __init__(self, vit, med, vocab_size):
        super().__init__()
        self.blip = torch.nn.Module()
        self.blip.visual_encoder = vit.VisionTransformer(
            img_size=IMAGE_SIZE, patch_size=16, embed_dim=32, depth=2, num_heads=4, mlp_ratio=4,
            qkv_bias=True, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6))
        cfg = med.BertConfig(vocab_size=vocab_size, hidden_size=24, num_hidden_layers=2,
                             num_attention_heads=3, intermediate_size=37, max_position_embeddings=40,
                             layer_norm_eps=1e-12, hidden_act="gelu", pad_token_id=0, type_vocab_size=2,
                             add_cross_attention=True)
        cfg.encoder_width = 32
        self.med_config = cfg
        self.blip.text_encoder = med.BertModel(config=cfg, add_pooling_layer=False)
        self.blip.vision_proj = torch.nn.Linear(32, 16)    # in ImageReward.pt, unused by the score
        self.blip.text_proj = torch.nn.Linear(24, 16)
        self.mlp = torch.nn.Module()
        self.mlp.layers = torch.nn.Sequential(
            torch.nn.Linear(24, 20), torch.nn.Dropout(0.2), torch.nn.Linear(20, 12), torch.nn.Dropout(0.2),
            torch.nn.Linear(12, 8), torch.nn.Dropout(0.1), torch.nn.Linear(8, 4), torch.nn.Linear(4, 1))

    def score(self, pixels, ids, mask):
        """ImageReward.score after preprocessing and tokenisation."""
        image_embeds = self.blip.visual_encoder(pixels)
        image_atts = torch.ones(image_embeds.size()[:-1], dtype=torch.long)
        out = self.blip.text_encoder(ids, attention_mask=mask, encoder_hidden_states=image_embeds,
                                     encoder_attention_mask=image_atts, return_dict=True)
        raw = self.mlp.layers(out.last_hidden_state[:, 0, :]).squeeze(1)
        return image_embeds, out.last_hidden_state, raw, (raw - REWARD_MEAN) / REWARD_STD


def make_imagereward(fix, imgs, prompts):
    import convert_imagereward
    out = os.path.join(fix, "imagereward")
    os.makedirs(out, exist_ok=True)
    vocab = build_vocab(test_strings())
    vocab_path = os.path.join(fix, "tmp_vocab.txt")
    write_vocab(vocab_path, vocab)
    n_fast_differ = make_wordpiece_ids(fix, vocab_path)

    vit, med = load_blip_code()
    torch.manual_seed(501)
    m = TinyImageReward(vit, med, len(vocab) + 2).eval()
    R.randomize_(m, 502)
    pt = os.path.join(fix, "tmp_ImageReward.pt")
    torch.save(m.state_dict(), pt)
    med_json = {k: v for k, v in m.med_config.to_dict().items()
                if k in ("architectures", "hidden_act", "hidden_size", "intermediate_size", "layer_norm_eps",
                         "max_position_embeddings", "num_attention_heads", "num_hidden_layers",
                         "pad_token_id", "type_vocab_size", "vocab_size", "encoder_width",
                         "add_cross_attention", "model_type")}
    med_path = os.path.join(fix, "tmp_med_config.json")
    R.write_json(med_path, med_json)
    config = {"architecture": "ImageReward", "image_size": IMAGE_SIZE, "vision_patch_size": 16,
              "vision_width": 32, "vision_layers": 2, "vision_heads": 4, "vision_mlp_ratio": 4,
              "vision_layer_norm_eps": 1e-6, "max_length": MAX_LENGTH,
              "reward_mean": REWARD_MEAN, "reward_std": REWARD_STD}
    convert_imagereward.convert(pt, med_path, out, vocab_path=vocab_path, config=config)
    for p in (pt, med_path, vocab_path):
        os.remove(p)

    tok = fast_tokenizer(os.path.join(out, "vocab.txt"))
    enc = tok(prompts, padding="max_length", truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
    pixels = torch.from_numpy(np.stack([R.clip_processor(im, IMAGE_SIZE) for im in imgs]))
    with torch.no_grad():
        img, hidden, raw, score = m.score(pixels, enc.input_ids, enc.attention_mask)
    R.save({"pixel_values": pixels, "input_ids": enc.input_ids, "attention_mask": enc.attention_mask,
            "image_embeds": img, "last_hidden_state": hidden, "raw": raw, "scores": score},
           os.path.join(fix, "golden", "imagereward.safetensors"))
    return n_fast_differ
