"""Optional cross-check of the tokenizer fixture against transformers 4.x.

transformers >= 5 has only the `tokenizers`-backed CLIPTokenizer (no ftfy, no
slow path).  diffusers pipelines running on transformers 4.x load the *slow*
python CLIPTokenizer, which uses ftfy.fix_text when ftfy is importable and a
BERT BasicTokenizer clean-up otherwise.  This script runs in a separate venv
with transformers<5 + ftfy (see reference/README.md) and writes
tests/data/sd_fixtures/tokenizer_ids_hf4.json with the ids of every string of
tokenizer_ids.json under: slow+ftfy, slow without ftfy, and the 4.x fast one.

usage: /work/venv-ref-tf4/bin/python reference/sd_tokenizer_hf4.py
"""
import importlib
import json
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "tests", "data", "sd_fixtures")


def encode(tok, texts):
    return [tok(t, padding="max_length", max_length=77, truncation=True)["input_ids"] for t in texts]


def main():
    import transformers
    assert transformers.__version__.startswith("4."), transformers.__version__
    tok_dir = os.path.join(FIX, "tokenizer")
    ref = json.load(open(os.path.join(FIX, "tokenizer_ids.json"), encoding="utf-8"))
    texts = [e["text"] for e in ref["entries"]]
    out = {"transformers": transformers.__version__, "variants": {}}

    from transformers import CLIPTokenizer, CLIPTokenizerFast
    import ftfy
    out["ftfy"] = ftfy.__version__
    slow = CLIPTokenizer.from_pretrained(tok_dir)
    assert slow.fix_text is not None
    out["variants"]["hf4_slow_ftfy"] = encode(slow, texts)

    # Same library without ftfy: make `import ftfy` fail, reload the module.
    sys.modules["ftfy"] = None
    import transformers.models.clip.tokenization_clip as tc
    importlib.reload(tc)
    slow_noftfy = tc.CLIPTokenizer.from_pretrained(tok_dir)
    assert slow_noftfy.fix_text is None
    out["variants"]["hf4_slow_noftfy"] = encode(slow_noftfy, texts)

    fast = CLIPTokenizerFast.from_pretrained(tok_dir)
    out["variants"]["hf4_fast"] = encode(fast, texts)

    canon = [e["input_ids"] for e in ref["entries"]]
    out["differs_from_fixture"] = {
        k: [i for i, (a, b) in enumerate(zip(v, canon)) if a != b] for k, v in out["variants"].items()}
    out["texts"] = texts
    path = os.path.join(FIX, "tokenizer_ids_hf4.json")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(out, f, ensure_ascii=False, indent=None, separators=(",", ":"))
        f.write("\n")
    for k, v in out["differs_from_fixture"].items():
        print(f"{k}: differs from fixture input_ids at entries {v}")
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
