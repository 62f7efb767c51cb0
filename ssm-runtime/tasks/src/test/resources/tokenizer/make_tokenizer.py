#!/usr/bin/env python3
"""Writes byte-bpe/tokenizer.json: a GPT-NeoX-style byte-level BPE with a tiny vocabulary, for the tokenizer tests.

Run from this folder: python3 make_tokenizer.py (standard library only; no download). Ids: 0 <|endoftext|>,
1 <|padding|> (as in GPT-NeoX), 2..257 the 256 byte-level symbols in byte order, then one token per merge.
"""
import json


def bytes_to_unicode():
    # the byte -> printable character table of GPT-2's byte-level BPE
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


alphabet = bytes_to_unicode()
vocab = {"<|endoftext|>": 0, "<|padding|>": 1}
for b in range(256):
    vocab[alphabet[b]] = len(vocab)
merges = ["Ġ t", "h e", "Ġt he", "# #", "## #", "i n", "Ġ in", "e r", "Ġ s", "q l", "Ġs ql"]
for m in merges:
    vocab[m.replace(" ", "")] = len(vocab)

byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
special = {"single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
tokenizer = {
    "version": "1.0",
    "truncation": None,
    "padding": None,
    "added_tokens": [dict(id=0, content="<|endoftext|>", **special), dict(id=1, content="<|padding|>", **special)],
    "normalizer": {"type": "NFC"},
    "pre_tokenizer": byte_level,
    "post_processor": byte_level,
    "decoder": byte_level,
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
              "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
              "merges": merges},
}
with open("byte-bpe/tokenizer.json", "w", encoding="utf-8") as f:
    json.dump(tokenizer, f, ensure_ascii=False, indent=1)
    f.write("\n")
with open("byte-bpe/tokenizer_config.json", "w", encoding="utf-8") as f:
    json.dump({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
               "add_prefix_space": False, "tokenizer_class": "GPTNeoXTokenizer"}, f, indent=1)
    f.write("\n")
