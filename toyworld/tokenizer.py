"""A CLIP tokenizer whose vocabulary is the toy world's words (plus single characters).

It is a standard `CLIPTokenizer` (vocab.json + merges.txt), so the embedded pipeline loads
exactly like a Hub Stable Diffusion model. Each known word is one token; an unknown word
falls back to its characters, so any prompt can be tokenized.
"""
from __future__ import annotations

import string
from pathlib import Path

from transformers import CLIPTokenizer

MAX_LENGTH = 16  # toy-world captions are short; the pipeline pads/truncates to this


def build_vocab(words: list[str]) -> tuple[dict[str, int], list[str]]:
    """Learn BPE merges on the word list until every word is a single token."""
    chars = list(string.ascii_lowercase + string.digits + ",.!?'-")
    tokens = ["<|startoftext|>", "<|endoftext|>"] + chars + [c + "</w>" for c in chars]
    seqs = [list(w[:-1]) + [w[-1] + "</w>"] for w in sorted(set(words))]
    merges: list[str] = []
    while True:
        counts: dict[tuple[str, str], int] = {}
        for s in seqs:
            for pair in zip(s, s[1:]):
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(f"{best[0]} {best[1]}")
        tokens.append(best[0] + best[1]) if best[0] + best[1] not in tokens else None
        for s in seqs:
            i = 0
            while i < len(s) - 1:
                if (s[i], s[i + 1]) == best:
                    s[i:i + 2] = [s[i] + s[i + 1]]
                i += 1
    return {t: i for i, t in enumerate(tokens)}, merges


def save_tokenizer(words: list[str], folder: str | Path, max_length: int = MAX_LENGTH) -> CLIPTokenizer:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab, merges = build_vocab(words)
    tok = CLIPTokenizer(vocab=vocab, merges=[tuple(m.split()) for m in merges], model_max_length=max_length)
    tok.save_pretrained(folder)
    return tok
