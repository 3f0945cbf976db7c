"""CLIP BPE tokenizer helpers for the SD-Turbo fixtures.

build_vocab_and_merges() rebuilds vocab.json / merges.txt from open_clip's
bpe_simple_vocab_16e6.txt.gz exactly the way openai/CLIP's SimpleTokenizer builds
its vocabulary (256 byte symbols, 256 byte symbols + "</w>", 48,894 merges,
<|startoftext|>, <|endoftext|> = 49,408 entries).
"""
import gzip
import json
import os
from functools import lru_cache

N_MERGES = 49152 - 256 - 2  # 48,894 (the slice openai/CLIP takes from the gz file)
BOS = "<|startoftext|>"
EOS = "<|endoftext|>"


@lru_cache()
def bytes_to_unicode():
    """openai/CLIP byte -> printable unicode symbol map (identical to GPT-2's)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def default_bpe_gz():
    import open_clip
    return os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz")


def build_vocab_and_merges(bpe_gz=None):
    """Returns (vocab: list[str] in id order, merges: list[tuple[str,str]])."""
    bpe_gz = bpe_gz or default_bpe_gz()
    lines = gzip.open(bpe_gz).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1:N_MERGES + 1]]
    assert len(merges) == N_MERGES and all(len(m) == 2 for m in merges)
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += [BOS, EOS]
    assert len(vocab) == 49408 and len(set(vocab)) == 49408
    return vocab, merges


def write_vocab_and_merges(out_dir, bpe_gz=None):
    """Writes plain-text vocab.json (one line, ids ascending, UTF-8, no ASCII
    escaping) and merges.txt ("#version: 0.2" header + 48,894 "a b" lines, LF)."""
    vocab, merges = build_vocab_and_merges(bpe_gz)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False, separators=(",", ":")))
        f.write("\n")
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    return vocab, merges


def hf_encode(tok, texts, max_length=77):
    """SD-2 pipeline style: padding='max_length', truncation, max_length=77."""
    out = tok(texts, padding="max_length", max_length=max_length, truncation=True, return_tensors=None)
    return out["input_ids"]


def open_clip_encode(texts, context_length=77):
    """open_clip / openai-CLIP SimpleTokenizer (ftfy.fix_text + html.unescape x2 +
    whitespace collapse + lower), [sot] + bpe + [eot], truncated to 77 with the
    last token forced to eot, zero padded."""
    from open_clip.tokenizer import SimpleTokenizer
    t = SimpleTokenizer(context_length=context_length)
    return t(texts, context_length=context_length).tolist()


# --- tricky strings for tokenizer_ids.json ------------------------------------
LONG_PROMPT = ("a highly detailed photograph of a fluffy orange cat sitting on a wooden windowsill, "
               "golden hour sunlight, shallow depth of field, bokeh, 85mm lens, award winning, trending on "
               "artstation, ultra realistic, 8k, sharp focus, intricate fur texture, soft shadows, warm colors, "
               "cozy atmosphere, a small potted plant and an old book beside it, rain drops on the glass, "
               "city lights in the background, cinematic composition")

TRICKY = [
    "",
    "A photo of a cat.",
    "Hello, World!!! How's it going?",
    "it's a dog's life; they're here, we've won, I'm sure, you'll see, he'd go",
    "IT'S A DOG'S LIFE",
    "café naïve résumé jalapeño",
    "Ünïcödé ÅNGSTRÖM",
    "multiple    spaces\tand\ttabs\nand\nnewlines   ",
    "   leading and trailing spaces   ",
    "UPPERCASE PROMPT WITH MiXeD CaSe",
    "numbers 1234567890 and 3.14159 and 1,000,000",
    "a cat 🐱 and a dog 🐶 emoji 🎉🎉",
    "punctuation: ... --- !!! ??? (brackets) [square] {curly} <angle> \"quotes\" 'single'",
    "hyphen-ated words, e-mail@example.com, http://example.com/path?x=1&y=2",
    "Tom &amp; Jerry &lt;3 &quot;quoted&quot;",
    "ﬁne ligatures and full-width ＡＢＣ１２３",
    "日本語のテキスト and 中文 and 한국어",
    "e\u0301 decomposed accent vs \u00e9 composed",
    "mojibake cafÃ© naÃ¯ve",
    "zero\u200bwidth space and non\u00a0breaking space",
    "<|startoftext|> literal special tokens <|endoftext|>",
    "wow!amazing!! hi !",
    " ".join(["cat"] * 75),   # exactly 75 content tokens: fills 77, no truncation
    " ".join(["cat"] * 76),   # 76 content tokens: truncated, last id forced to eos
    LONG_PROMPT,
]
