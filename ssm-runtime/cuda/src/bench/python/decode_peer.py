#!/usr/bin/env python3
"""Side-by-side peer for the decode benchmark (DecodeBench).

Greedy decoding with Hugging Face transformers' MambaForCausalLM, random
weights (no download), the Java benchmark's shape (train_peer.py's config):

    out = model.generate(input_ids=prompt, attention_mask=ones,
                         max_new_tokens=128, min_new_tokens=128,
                         do_sample=False, num_beams=1, use_cache=True,
                         pad_token_id=0)

under torch.no_grad(), model.eval(), TF32 off; prompt = 16 uniform random
token ids per row (a smaller batch takes the first rows of the larger one);
min_new_tokens masks the EOS id (0) so generate never stops early, and the
output length is asserted to be 16 + 128. "fp32" = float32 weights; "bf16" =
the same model cast with model.to(torch.bfloat16) (no autocast), the
convention of docs/reference/anchors.md.

Times: the whole generate call (the prefill included, as anchors.md), CUDA
events around it after the warm-up, median (perf_counter on the CPU).
tokens/s = batch * new / generate time. The prefill alone
(model(prompt, use_cache=True, logits_to_keep=1)) is timed the same way, and
a step is estimated as (generate - prefill) / (new - 1): generate runs one
forward for the prompt, then one per further token.

Weight-read floor (cuda only): a decode step reads every parameter once, so
its floor is bytes per parameter (4 fp32, 2 bf16) * parameters (the tied head
once) / the copy bandwidth measured in this run (y.copy_(x) of a 1 GiB
float32 tensor, read + write counted, as anchors.md and ScanBench); x_floor =
estimated step / floor.

Which path runs: train_peer.py's PEER_PATH line (the module bound to each
Mamba helper: decoding uses mamba_selective_state_update and
causal_conv1d_update, pure PyTorch when mamba_ssm / causal_conv1d do not
import) and transformers' 'falling back' warnings, counted.

Each result is one ``PEER {json}`` line.

Examples:
    python3 decode_peer.py                                  # cuda, 130m
    python3 decode_peer.py --device cpu --shape tiny --batch 1,4 --new 16 \\
        --reps 1
"""

import argparse
import gc
import json
import os
import statistics
import sys

# Never reach for the network (hub kernels, model files).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch

import transformers
from transformers import MambaForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_peer import SHAPES, peer_setup, timed  # noqa: E402

GIB = 1 << 30
BYTES = {"fp32": 4, "bf16": 2}


def copy_bandwidth(device, reps=20):
    """GB/s of y.copy_(x) on a 1 GiB float32 tensor, read + write counted (median after 3 warm-ups); None on cpu."""
    if device.type != "cuda":
        return None
    n = GIB // 4
    x = torch.ones(n, device=device)
    y = torch.empty_like(x)
    times = []
    for i in range(3 + reps):
        t = timed(lambda: y.copy_(x), device)
        if i >= 3:
            times.append(t)
    del x, y
    torch.cuda.empty_cache()
    return 2.0 * GIB / (statistics.median(times) * 1e-3) / 1e9


def build(cfg, precision, seed, device):
    torch.manual_seed(seed)
    with torch.device(device):
        model = MambaForCausalLM(cfg)
    if precision == "bf16":
        model = model.to(torch.bfloat16)
    return model.eval()


def run(model, precision, batch, prompts, args, device, copy_gb_s, common):
    """warm-up + timed generate calls and prefills of one batch; the PEER record and row 0's tokens."""
    ids = prompts[:batch]
    mask = torch.ones_like(ids)

    def generate():
        return model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=args.new,
                              min_new_tokens=args.new, do_sample=False, num_beams=1, use_cache=True,
                              pad_token_id=0)

    def prefill():
        return model(input_ids=ids, use_cache=True, logits_to_keep=1)

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    outputs = []
    gen_times, pre_times = [], []
    with torch.no_grad():
        for i in range(args.warmup + args.reps):
            t = timed(lambda: outputs.append(generate()), device)
            p = timed(prefill, device)
            if i >= args.warmup:
                gen_times.append(t)
                pre_times.append(p)
    out = outputs[-1]
    if tuple(out.shape) != (batch, args.prompt + args.new):
        raise RuntimeError("generate returned %s, expected (%d, %d): it stopped early"
                           % (tuple(out.shape), batch, args.prompt + args.new))
    if any(not torch.equal(o, out) for o in outputs):
        raise RuntimeError("batch %d %s: repeated generate calls decoded different tokens" % (batch, precision))
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    gen, pre = statistics.median(gen_times), statistics.median(pre_times)
    step = (gen - pre) / (args.new - 1) if args.new > 1 else None
    params = sum(p.numel() for p in model.parameters())  # a tied head is one parameter, counted once
    param_bytes = BYTES[precision] * params
    floor_us = param_bytes / (copy_gb_s * 1e9) * 1e6 if copy_gb_s else None
    record = dict(common, precision=precision, batch=batch, prompt=args.prompt, new_tokens=args.new,
                  warmup=args.warmup, reps=args.reps, generate_ms=gen, generate_min_ms=min(gen_times),
                  generate_max_ms=max(gen_times), prefill_ms=pre, step_ms_estimate=step,
                  tokens_per_s=batch * args.new / (gen * 1e-3),
                  decode_tokens_per_s=batch / (step * 1e-3) if step and step > 0 else None,
                  parameters=params, parameter_bytes=param_bytes, copy_gb_s=copy_gb_s, floor_us=floor_us,
                  x_floor=step * 1e3 / floor_us if floor_us and step else None, peak_memory_bytes=peak)
    return record, out[0, args.prompt:].tolist()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--shape", choices=sorted(SHAPES), default="130m")
    p.add_argument("--batch", default="1,16", help="comma list of batch sizes")
    p.add_argument("--prompt", type=int, default=16)
    p.add_argument("--new", type=int, default=128)
    p.add_argument("--precision", default="fp32,bf16", help="comma list of fp32, bf16")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write all results to this JSON file")
    args = p.parse_args(argv)
    try:
        args.batch = list(dict.fromkeys(int(b) for b in args.batch.split(",") if b.strip()))
    except ValueError:
        p.error("--batch expects a comma list of whole numbers, found %r" % args.batch)
    args.precision = [x.strip() for x in args.precision.split(",") if x.strip()]
    for x in args.precision:
        if x not in BYTES:
            p.error("unknown precision %r; expected fp32, bf16" % x)
    if not args.batch or min(args.batch) < 1 or args.prompt < 1 or args.new < 1 or args.reps < 1 \
            or args.warmup < 0:
        p.error("--batch, --prompt, --new and --reps must be >= 1 and --warmup >= 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    device, fallback, cfg, path, common = peer_setup(args, "transformers-generate")
    print("decode peer: %s, torch %s, transformers %s; shape %s (%d layers, d_model %d, d_inner %d, d_state %d, "
          "vocab %d), prompt %d, %d new tokens, greedy, batch %s; warm-up %d, timed %d; load %s"
          % (common["device"], torch.__version__, transformers.__version__, args.shape, cfg.num_hidden_layers,
             cfg.hidden_size, cfg.intermediate_size, cfg.state_size, cfg.vocab_size, args.prompt, args.new,
             ",".join(map(str, args.batch)), args.warmup, args.reps, common["load"]), flush=True)
    print("path: %s" % ("transformers' pure-PyTorch helpers (no mamba_ssm / causal_conv1d bound)"
                        if path["pure_pytorch"] else "kernels bound: %s" % path["helpers"]), flush=True)
    copy_gb_s = copy_bandwidth(device)
    if copy_gb_s:
        print("PEER_COPY " + json.dumps(dict(common, bytes=GIB, copy_gb_s=copy_gb_s)), flush=True)

    g = torch.Generator().manual_seed(args.seed)
    prompts = torch.randint(0, cfg.vocab_size, (max(args.batch), args.prompt), generator=g).to(device)
    results, checks = [], []
    for precision in args.precision:
        model = build(cfg, precision, args.seed, device)
        row0 = {}
        for batch in args.batch:
            r, tokens = run(model, precision, batch, prompts, args, device, copy_gb_s, common)
            r["fallback_messages"] = len(fallback.messages)
            row0[batch] = tokens
            print("PEER " + json.dumps(r), flush=True)
            results.append(r)
        # row 0 of every batch against the smallest batch's (informational: batched bf16 may round differently)
        ref = row0[min(args.batch)]
        agree = {b: t == ref for b, t in row0.items()}
        check = dict(common, precision=precision, check="rows", rows_agree=all(agree.values()),
                     per_batch={str(b): a for b, a in agree.items()}, row0_distinct_tokens=len(set(ref)))
        print("PEER " + json.dumps(check), flush=True)
        checks.append(check)
        del model
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()

    print()
    print("batch  precision  generate ms   prefill ms  step ms (est.)    tokens/s  decode tokens/s  floor us  x floor"
          "  peak GiB")
    for r in results:
        print("%5d  %-9s %12.1f %12.2f %15.3f %11.1f %16.1f %9s %8s %9s"
              % (r["batch"], r["precision"], r["generate_ms"], r["prefill_ms"], r["step_ms_estimate"] or float("nan"),
                 r["tokens_per_s"], r["decode_tokens_per_s"] or float("nan"),
                 "%.1f" % r["floor_us"] if r["floor_us"] else "n/a",
                 "%.1f" % r["x_floor"] if r["x_floor"] else "n/a",
                 "%.2f" % (r["peak_memory_bytes"] / GIB) if r["peak_memory_bytes"] else "n/a"))
    for c in checks:
        print("%s: row 0 of batch %s %s" % (c["precision"], ", ".join(c["per_batch"]),
                                           "agree" if c["rows_agree"] else "DIFFER: %s" % c["per_batch"]))
    for m in fallback.messages:
        print("transformers: " + m)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"path": path, "fallback_messages": fallback.messages, "results": results, "checks": checks},
                      f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
