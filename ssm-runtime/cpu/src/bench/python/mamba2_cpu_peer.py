"""The CPU peer of BackendBench's Mamba-2 row: transformers' Mamba2ForCausalLM (its torch path, chunked SSD) with
the same 130M shape, random weights, B 1, T 512, on the same cores, in the same terms (tokens/s, median of the
measured calls after a warm-up). fwd+bwd trains PEFT's LoRA r 8 on in_proj only: PEFT refuses out_proj (and conv1d) on
Mamba models, so the peer's adapter is a little smaller than BackendBench's (in_proj and out_proj).

    python mamba2_cpu_peer.py [--iterations 2] [--threads N]
"""
import argparse
import os
import statistics
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import Mamba2Config, Mamba2ForCausalLM


def timed(fn, warmup, iterations):
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(iterations):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--len", type=int, default=512)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = Mamba2Config(vocab_size=50280, hidden_size=768, num_hidden_layers=24, head_dim=64, num_heads=24,
                       state_size=128, n_groups=1, chunk_size=256, expand=2, tie_word_embeddings=True)
    model = Mamba2ForCausalLM(cfg).eval()
    ids = torch.randint(0, cfg.vocab_size, (1, a.len))
    print(f"torch {torch.__version__}, {a.threads} threads, load average {os.getloadavg()}")

    def forward():
        with torch.no_grad():
            model(ids)

    s = timed(forward, a.warmup, a.iterations)
    print(f"forward: {s:.2f} s per call, {a.len / s:.1f} tokens/s")
    peft_model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["in_proj"]))
    peft_model.train()

    def train():
        out = peft_model(input_ids=ids, labels=ids)
        out.loss.backward()
        peft_model.zero_grad(set_to_none=True)

    s = timed(train, a.warmup, a.iterations)
    print(f"fwd+bwd, LoRA r 8 on in_proj: {s:.2f} s per call, {a.len / s:.1f} tokens/s")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
