#!/usr/bin/env python3
"""Side-by-side peer for the training-step benchmark (TrainStepBench).

One PEFT training step of Hugging Face transformers' MambaForCausalLM with
random weights (no download), batch 4 x 1024 tokens by default, on the same
shape as the Java benchmark:

    step = opt.zero_grad(set_to_none=True)
           loss = model(input_ids=ids, labels=ids, use_cache=False).loss
           loss.backward()
           opt.step()            torch.optim.AdamW(trainable, lr=1e-4)

in model.train(), TF32 off. "bf16" = torch.autocast(dtype=torch.bfloat16)
around the forward with float32 weights; "fp32" = no autocast (the settings of
docs/reference/anchors.md).

Which path runs: transformers binds each Mamba helper (mamba_inner_fn,
mamba_selective_scan, causal_conv1d_fn, ...) to mamba_ssm / causal_conv1d when
they import, else to its own pure-PyTorch code (a Python loop over L for the
scan). The PEER_PATH line reports, per helper, the module of the function that
is actually bound, and which of mamba_ssm, causal_conv1d, kernels import.
MambaConfig(use_mambapy=False); use_associative_scan acts only under
torch.compile, so the eager step below runs the sequential loop.

Methods
  lora          peft.get_peft_model(LoraConfig(r=8, lora_alpha=16,
                lora_dropout=0.0, target_modules=[in_proj, x_proj, dt_proj])).
                transformers' mixer computes dt_proj.weight @ time_step with
                the bare weight, so peft's dt_proj LoRA tensors may never get a
                gradient: the PEER line counts trainable tensors without a
                gradient after the step ("no_grad_tensors") and the parameters
                that did get one ("trained_parameters").
  state-offset  State-offset Tuning (h), the paper's method (not in peft): every
                base weight frozen, per layer h_off (d_inner, d_state), and
                y_t += silu(z_t) * (C_t . h_off) on transformers' own scan
                output (mamba_selective_scan wrapped: its gated output plus the
                gated offset read-out). h_off starts at 0.05 * randn.
  lora-out      the same LoRA plus out_proj; peft 0.21 refuses out_proj for
                Mamba models. The refusal is reported as it comes (PEER line
                with "refused"); a peft that accepts it is run and timed.

FLOPs per token (the Java benchmark's count; l layers, d d_model, D d_inner,
N d_state, R dt_rank, V vocab):
  P_mm   = l*(d*2D + D*(R + 2N) + R*D + D*d) + V*d    weights in matmuls
  scan   = 24*l*D*N                                    8 per state element
                                                       forward, backward 2x
  model  = 6*P_mm + scan                               MFU's numerator
  needed = 4*P_mm + 6*P_adapter + scan                 frozen weights need no
                                                       weight gradient
Mamba-130M: 783,765,504 model FLOP/token (asserted). MFU = model FLOP/token *
tokens/s / the bf16 GEMM rate torch.matmul reaches in this run (8192^3 bf16 on
cuda; --gemm-size 0 skips it, the default on cpu).

Timing: torch.cuda.Event pairs around each step after the warm-up, median; on
the CPU time.perf_counter. Peak memory: torch.cuda.max_memory_allocated()
after the timed steps, reset after empty_cache before the warm-up (weights,
optimizer state and activations). Each result is one ``PEER {json}`` line.

Examples:
    python3 train_peer.py                       # cuda, 130m, fp32 and bf16
    python3 train_peer.py --device cpu --shape tiny --length 64 --steps 2 \\
        --warmup 1 --gemm-size 256
"""

import argparse
import gc
import importlib.util
import inspect
import json
import logging
import os
import statistics
import sys
import time

# Never reach for the network (hub kernels, model files).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch
import torch.nn.functional as F

import transformers
from transformers import MambaConfig, MambaForCausalLM
from transformers.models.mamba import modeling_mamba

try:
    import peft

    PEFT_VERSION = peft.__version__
except Exception as exc:  # pragma: no cover - depends on the host
    peft = None
    PEFT_VERSION = "unavailable (%s: %s)" % (type(exc).__name__, exc)

GIB = 1 << 30
HELPERS = ("mamba_inner_fn", "mamba_selective_scan", "mamba_selective_state_update",
           "causal_conv1d_fn", "causal_conv1d_update")
SHAPES = {
    # Mamba-130M's shape (anchors.md): 129,135,360 parameters
    "130m": dict(vocab_size=50280, hidden_size=768, num_hidden_layers=24, state_size=16),
    # the Java benchmark's tiny shape
    "tiny": dict(vocab_size=512, hidden_size=64, num_hidden_layers=2, state_size=16),
}
LORA_TARGETS = ["in_proj", "x_proj", "dt_proj"]


# --------------------------------------------------------------------------
# FLOPs
# --------------------------------------------------------------------------

def flops(cfg, adapter_parameters=0):
    """(model, needed) FLOP per token of one training step, as documented above."""
    l, d, di = cfg.num_hidden_layers, cfg.hidden_size, cfg.intermediate_size
    n, r, v = cfg.state_size, int(cfg.time_step_rank), cfg.vocab_size
    p_mm = l * (d * 2 * di + di * (r + 2 * n) + r * di + di * d) + v * d
    scan = 24 * l * di * n
    return 6 * p_mm + scan, 4 * p_mm + 6 * adapter_parameters + scan


def make_config(shape):
    return MambaConfig(**SHAPES[shape], expand=2, conv_kernel=4, time_step_rank="auto", use_bias=False,
                       use_conv_bias=True, tie_word_embeddings=True, layer_norm_epsilon=1e-5,
                       residual_in_fp32=True, use_mambapy=False)


assert flops(make_config("130m"))[0] == 783_765_504, "the FLOP count no longer gives 783,765,504 for 130m"


# --------------------------------------------------------------------------
# Which path transformers runs
# --------------------------------------------------------------------------

def bound_path():
    """Per helper, the module of the implementation transformers bound."""
    out = {}
    for name in HELPERS:
        fn = getattr(modeling_mamba, name, None)
        if fn is None:
            out[name] = "absent"
            continue
        try:
            impl = inspect.getclosurevars(fn).nonlocals.get("implementation", fn)
        except (TypeError, ValueError):
            impl = fn
        out[name] = getattr(impl, "__module__", "?")
    packages = {p: importlib.util.find_spec(p) is not None for p in ("mamba_ssm", "causal_conv1d", "kernels")}
    pure = all(m == modeling_mamba.__name__ for m in out.values() if m != "absent")
    return {"pure_pytorch": pure, "helpers": out, "packages": packages}


class FallbackMessages(logging.Handler):
    """Collects transformers' 'falling back to its reference PyTorch implementation' warnings."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        msg = record.getMessage()
        if "falling back" in msg and msg not in self.messages:
            self.messages.append(msg)


# --------------------------------------------------------------------------
# State offset (h) on transformers' own scan
# --------------------------------------------------------------------------

_TORCH_SCAN = modeling_mamba.mamba_selective_scan
_OFFSET = {"h": None}


def _scan_with_offset(hidden_states, dt, A, B, C, D=None, z=None, *args, **kwargs):
    """transformers' scan, plus silu(z_t) * (C_t . h_off) of the layer running now. C: (B, N, L)."""
    out = _TORCH_SCAN(hidden_states, dt, A, B, C, D, z, *args, **kwargs)
    h = _OFFSET["h"]
    if h is None:
        return out
    y, rest = (out[0], out[1:]) if isinstance(out, tuple) else (out, None)
    read = torch.einsum("bnl,dn->bdl", C, h.to(C.dtype))
    y = y + (F.silu(z) * read if z is not None else read)
    return (y,) + tuple(rest) if rest is not None else y


def add_state_offset(model, generator):
    """Freezes the base, adds h_off per layer, routes the scan through _scan_with_offset."""
    for p in model.parameters():
        p.requires_grad_(False)
    offsets = []
    for layer in model.backbone.layers:
        mixer = layer.mixer
        w = mixer.A_log
        h = torch.nn.Parameter(0.05 * torch.randn(w.shape, generator=generator).to(w.device))
        mixer.register_parameter("h_off", h)

        def pre(module, args):
            _OFFSET["h"] = module.h_off

        def post(module, args, output):
            _OFFSET["h"] = None

        mixer.register_forward_pre_hook(pre)
        mixer.register_forward_hook(post)
        offsets.append(h)
    modeling_mamba.mamba_selective_scan = _scan_with_offset
    return offsets


def remove_state_offset():
    modeling_mamba.mamba_selective_scan = _TORCH_SCAN
    _OFFSET["h"] = None


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------

def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device):
    """ms of fn, by CUDA events on cuda, else perf_counter."""
    if device.type == "cuda":
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        sync(device)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end)
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def gemm_rate(device, n, reps=20):
    """FLOP/s of a bf16 n x n x n torch.matmul (median of reps after 10 warm-ups); None when n is 0."""
    if n <= 0:
        return None
    g = torch.Generator(device="cpu").manual_seed(7)
    a = (torch.rand(n, n, generator=g) * 2 - 1).to(device=device, dtype=torch.bfloat16)
    b = (torch.rand(n, n, generator=g) * 2 - 1).to(device=device, dtype=torch.bfloat16)
    times = []
    for i in range(10 + reps):
        t = timed(lambda: torch.matmul(a, b), device)
        if i >= 10:
            times.append(t)
    del a, b
    return 2.0 * n ** 3 / (statistics.median(times) * 1e-3)


# --------------------------------------------------------------------------
# One method at one precision
# --------------------------------------------------------------------------

def run(method, precision, args, cfg, device, rate, common):
    """Builds a fresh model, trains warmup + steps steps, returns the PEER record."""
    torch.manual_seed(args.seed)
    with torch.device(device):
        model = MambaForCausalLM(cfg)
    model.train()
    record = dict(common, method=method, precision=precision)
    try:
        if method in ("lora", "lora-out"):
            if peft is None:
                return dict(record, skipped="peft is not installed: " + PEFT_VERSION)
            targets = LORA_TARGETS + (["out_proj"] if method == "lora-out" else [])
            try:
                model = peft.get_peft_model(model, peft.LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0,
                                                                   target_modules=targets))
            except Exception as exc:
                return dict(record, targets=targets, refused="%s: %s" % (type(exc).__name__, exc))
            record["targets"] = targets
        elif method == "state-offset":
            add_state_offset(model, torch.Generator().manual_seed(args.seed + 1))
        else:
            raise ValueError("unknown method %r" % method)
        trainable = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(trainable, lr=1e-4)
        g = torch.Generator().manual_seed(args.seed)
        batches = [torch.randint(0, cfg.vocab_size, (args.batch, args.length), generator=g).to(device)
                   for _ in range(2)]
        cast = (torch.autocast(device_type=device.type, dtype=torch.bfloat16) if precision == "bf16"
                else torch.autocast(device_type=device.type, enabled=False))
        losses = []

        def step(ids):
            opt.zero_grad(set_to_none=True)
            with cast:
                loss = model(input_ids=ids, labels=ids, use_cache=False).loss
            loss.backward()
            opt.step()
            losses.append(loss.detach())

        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        for i in range(args.warmup):
            step(batches[i % 2])
        no_grad = [p for p in trainable if p.grad is None]
        times = [timed(lambda: step(batches[i % 2]), device) for i in range(args.steps)]
        if not no_grad:
            no_grad = [p for p in trainable if p.grad is None]
        peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
        losses = [float(x) for x in losses]
        if not all(map(lambda x: x == x and abs(x) != float("inf"), losses)):
            raise RuntimeError("%s %s: non-finite loss %s" % (method, precision, losses))
        total = sum(p.numel() for p in trainable)
        trained = total - sum(p.numel() for p in no_grad)
        med = statistics.median(times)
        tokens_per_s = args.batch * args.length / (med * 1e-3)
        model_flops, needed_flops = flops(cfg, trained)
        record.update(
            batch=args.batch, length=args.length, warmup=args.warmup, steps=args.steps,
            trainable_parameters=total, trained_parameters=trained, no_grad_tensors=len(no_grad),
            median_ms=med, min_ms=min(times), max_ms=max(times), tokens_per_s=tokens_per_s,
            peak_memory_bytes=peak, flops_per_token=model_flops, needed_flops_per_token=needed_flops,
            bf16_gemm_flop_s=rate,
            mfu=model_flops * tokens_per_s / rate if rate else None,
            mfu_needed=needed_flops * tokens_per_s / rate if rate else None,
            loss_first=losses[0], loss_last=losses[-1])
        return record
    finally:
        remove_state_offset()
        del model
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--shape", choices=sorted(SHAPES), default="130m")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--length", type=int, default=1024)
    p.add_argument("--methods", default="lora,state-offset,lora-out",
                   help="comma list of lora, state-offset, lora-out (run in this order)")
    p.add_argument("--precision", default="fp32,bf16", help="comma list of fp32, bf16")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--gemm-size", type=int, default=None,
                   help="side of the bf16 GEMM whose rate is MFU's denominator (default 8192 on cuda, 0 = skip on cpu)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write all results to this JSON file")
    args = p.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in args.methods:
        if m not in ("lora", "state-offset", "lora-out"):
            p.error("unknown method %r; expected lora, state-offset, lora-out" % m)
    args.precision = [x.strip() for x in args.precision.split(",") if x.strip()]
    for x in args.precision:
        if x not in ("fp32", "bf16"):
            p.error("unknown precision %r; expected fp32, bf16" % x)
    if args.steps < 1 or args.warmup < 0:
        p.error("--steps must be >= 1 and --warmup >= 0")
    return args


def peer_setup(args, peer, **versions):
    """The device (fp32 matmuls exact: no tf32), transformers' fallback messages counted, the model config, which
    helpers transformers bound, and the fields every PEER line carries; PEER_PATH printed. Shared with decode_peer.py."""
    device = torch.device(args.device)
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")

    fallback = FallbackMessages()
    logging.getLogger("transformers").addHandler(fallback)
    cfg = make_config(args.shape)
    path = bound_path()
    common = dict({
        "peer": peer,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__, "transformers": transformers.__version__,
    }, **versions)
    common.update({
        "shape": args.shape, "pure_pytorch": path["pure_pytorch"],
        "load": " ".join(open("/proc/loadavg").read().split()[:3]) if os.path.exists("/proc/loadavg") else None,
    })
    print("PEER_PATH " + json.dumps(path), flush=True)
    return device, fallback, cfg, path, common


def main(argv=None):
    args = parse_args(argv)
    device, fallback, cfg, path, common = peer_setup(args, "transformers+peft", peft=PEFT_VERSION)
    print("train peer: %s, torch %s, transformers %s, peft %s; shape %s (%d layers, d_model %d, d_inner %d, "
          "d_state %d, vocab %d), batch %d, length %d; warm-up %d, timed %d; load %s"
          % (common["device"], torch.__version__, transformers.__version__, PEFT_VERSION, args.shape,
             cfg.num_hidden_layers, cfg.hidden_size, cfg.intermediate_size, cfg.state_size, cfg.vocab_size,
             args.batch, args.length, args.warmup, args.steps, common["load"]), flush=True)
    print("path: %s" % ("transformers' pure-PyTorch helpers (no mamba_ssm / causal_conv1d bound)"
                        if path["pure_pytorch"] else "kernels bound: %s" % path["helpers"]), flush=True)

    gemm_size = args.gemm_size if args.gemm_size is not None else (8192 if device.type == "cuda" else 0)
    rate = gemm_rate(device, gemm_size)
    if rate:
        print("PEER_GEMM " + json.dumps(dict(common, size=gemm_size, bf16_flop_s=rate)), flush=True)

    results = []
    for precision in args.precision:
        for method in args.methods:
            r = run(method, precision, args, cfg, device, rate, common)
            r["fallback_messages"] = len(fallback.messages)
            print("PEER " + json.dumps(r), flush=True)
            results.append(r)

    print()
    print("method        precision  trained/trainable      median ms    tokens/s  peak GiB     MFU  loss first->last")
    for r in results:
        if "refused" in r or "skipped" in r:
            print("%-13s %-9s  %s" % (r["method"], r["precision"], "refused: " + r["refused"][:160]
                                      if "refused" in r else "skipped: " + r["skipped"]))
            continue
        print("%-13s %-9s %9d/%-9d %12.1f %11.1f %9s %7s  %.4f->%.4f"
              % (r["method"], r["precision"], r["trained_parameters"], r["trainable_parameters"], r["median_ms"],
                 r["tokens_per_s"], "%.2f" % (r["peak_memory_bytes"] / GIB) if r["peak_memory_bytes"] else "n/a",
                 "%.2f%%" % (100 * r["mfu"]) if r["mfu"] else "n/a", r["loss_first"], r["loss_last"]))
    for m in fallback.messages:
        print("transformers: " + m)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"path": path, "fallback_messages": fallback.messages, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
