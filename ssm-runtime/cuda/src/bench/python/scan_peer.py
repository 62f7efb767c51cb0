#!/usr/bin/env python3
"""Side-by-side peer for the GPU selective-scan benchmark.

Times the selective scan that ships with Hugging Face transformers
(``transformers.models.mamba.modeling_mamba.mamba_selective_scan``) on the
same shape and inputs as the CUDA benchmark. Without ``mamba_ssm`` installed
that function runs its PyTorch reference path (a Python loop over L). If the
function is missing from the installed transformers, a sequential reference
written here is used instead; the ``impl`` field says which one ran.

Recurrence (no softplus, no delta bias; zero initial state):

    h_t = exp(delta_t * A) * h_{t-1} + delta_t * B_t * u_t    h: (B, D, N)
    y_t = <h_t, C_t> + D * u_t
    y   = y * silu(z)

Layout (transformers / mamba_ssm): u, delta, z, y: (B, D, L); B, C: (B, N, L);
A: (D, N); D: (D,). Inputs come from torch.manual_seed(0):
delta = softplus(randn - 3), A = -exp(0.5 * randn), D = 1 + 0.1 * randn, the
rest randn. For bf16, u, delta, z, B, C are bfloat16 and A, D stay float32.

Passes
  forward           one call, including the D skip and the z gate, under
                    torch.no_grad().
  forward+backward  forward with all seven inputs requiring grad, then
                    y.backward(dy) with dy = randn_like(y). For bf16 the leaves
                    are the bf16 tensors.

Memory-traffic floor (each tensor read or written once). With
E = element size (4 for fp32; 2 for u, delta, z, B, C, y and their gradients
in bf16 mode; A, D and their gradients are always 4):

  forward bytes  = read u, delta, z (3*B*D*L*E) + B, C (2*B*N*L*E)
                 + A (D*N*4) + D (D*4) + write y (B*D*L*E)
  fwd+bwd bytes  = forward bytes
                 + read u, delta, z, dy (4*B*D*L*E) + B, C (2*B*N*L*E)
                 + A, D (D*N*4 + D*4)
                 + write du, ddelta, dz (3*B*D*L*E) + dB, dC (2*B*N*L*E)
                 + dA, dD (D*N*4 + D*4)

For the default shape (B=4, D=1536, L=1024, N=16) at fp32 these are
101,292,032 and 278,710,272 bytes (asserted at start-up).

floor_us = bytes / copy bandwidth, where the bandwidth is measured with
y.copy_(x) on a 1 GiB float32 tensor (2 GiB of traffic counted per copy,
GB/s = 1e9 B/s). On the CPU a small copy is used instead (--copy-mib).

TF32 is disabled. Timing on CUDA uses a torch.cuda.Event pair around each
repetition after the warm-up; on the CPU time.perf_counter. Each result is
printed as one ``PEER {json}`` line, the bandwidth as ``PEER_COPY {json}``,
then a short table; --out writes everything as one JSON document.

Example:
    python3 scan_peer.py --out peer.json
    python3 scan_peer.py --device cpu --batch 1 --dim 64 --len 32 --state 4 \\
        --reps 1 --warmup 0
"""

import argparse
import importlib.util
import inspect
import json
import os
import statistics
import sys
import time
import warnings

# Never reach for the network (hub kernels, model files).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch
import torch.nn.functional as F

try:
    import transformers

    TRANSFORMERS_VERSION = transformers.__version__
except Exception as exc:  # pragma: no cover - depends on the host
    transformers = None
    TRANSFORMERS_VERSION = "unavailable (%s: %s)" % (type(exc).__name__, exc)

try:
    from transformers.models.mamba import modeling_mamba as _modeling_mamba

    HF_SCAN = getattr(_modeling_mamba, "mamba_selective_scan", None)
    HF_IMPORT_ERROR = None if HF_SCAN is not None else "mamba_selective_scan not in modeling_mamba"
except Exception as exc:  # pragma: no cover - depends on the host
    HF_SCAN = None
    HF_IMPORT_ERROR = "%s: %s" % (type(exc).__name__, exc)


DEFAULT_SHAPE = dict(batch=4, dim=1536, length=1024, state=16)
DEFAULT_FP32_BYTES = (101_292_032, 278_710_272)
GIB = 1 << 30
MIB = 1 << 20


# --------------------------------------------------------------------------
# Byte counts
# --------------------------------------------------------------------------

def traffic_bytes(batch, dim, length, state, act_bytes):
    """(forward, forward+backward) bytes; act_bytes is the size of one element
    of u, delta, z, B, C, y (and their gradients). A and D are always fp32."""
    bdl = batch * dim * length
    bnl = batch * state * length
    param = dim * state * 4 + dim * 4  # A and D
    forward = 3 * bdl * act_bytes + 2 * bnl * act_bytes + param + bdl * act_bytes
    backward_reads = 4 * bdl * act_bytes + 2 * bnl * act_bytes + param
    backward_writes = 3 * bdl * act_bytes + 2 * bnl * act_bytes + param
    return forward, forward + backward_reads + backward_writes


assert traffic_bytes(DEFAULT_SHAPE["batch"], DEFAULT_SHAPE["dim"], DEFAULT_SHAPE["length"],
                     DEFAULT_SHAPE["state"], 4) == DEFAULT_FP32_BYTES, \
    "fp32 byte formula no longer matches 101,292,032 / 278,710,272 for the default shape"


# --------------------------------------------------------------------------
# Scan implementations
# --------------------------------------------------------------------------

def reference_selective_scan(u, delta, A, B, C, D, z):
    """Sequential reference, computed in float32; y is returned in u's dtype."""
    u32, dt32, z32 = u.float(), delta.float(), z.float()
    B32, C32 = B.float(), C.float()
    A32, D32 = A.float(), D.float()
    batch, dim, length = u.shape
    h = u32.new_zeros(batch, dim, A.shape[-1])
    ys = []
    for t in range(length):
        dt_t = dt32[:, :, t, None]                                   # (B, D, 1)
        h = torch.exp(dt_t * A32) * h + dt_t * B32[:, None, :, t] * u32[:, :, t, None]
        ys.append((h * C32[:, None, :, t]).sum(-1))                 # (B, D)
    y = torch.stack(ys, dim=-1) + D32[None, :, None] * u32
    y = y * F.silu(z32)
    return y.to(u.dtype)


_ROLE_NAMES = {
    "u": ("hidden_states", "u", "x", "input"),
    "delta": ("dt", "delta", "time_step", "timestep"),
    "A": ("A",),
    "B": ("B",),
    "C": ("C",),
    "D": ("D",),
    "z": ("z", "gate"),
}


def make_hf_call(fn):
    """Build call(u, delta, A, B, C, D, z) -> y from fn's signature."""
    sig = inspect.signature(fn)
    params = sig.parameters
    mapping = {}
    for role, names in _ROLE_NAMES.items():
        for name in names:
            if name in params:
                mapping[role] = name
                break
    extra = {}
    for name in ("delta_softplus", "dt_softplus"):
        if name in params:
            extra[name] = False
    if "return_last_state" in params:
        extra["return_last_state"] = False
    by_name = len(mapping) == len(_ROLE_NAMES)

    def call(u, delta, A, B, C, D, z):
        if by_name:
            kwargs = {mapping[r]: v for r, v in
                      dict(u=u, delta=delta, A=A, B=B, C=C, D=D, z=z).items()}
            out = fn(**kwargs, **extra)
        else:  # mamba_ssm order: (u, delta, A, B, C, D, z, ...)
            out = fn(u, delta, A, B, C, D, z, **extra)
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out

    return call, sig, ("keywords " + str(mapping)) if by_name else "positional (u, delta, A, B, C, D, z)"


def upcast_wrapper(call):
    """Run call on float32 copies of the activations (differentiable casts,
    so gradients still reach the bf16 leaves); y is returned in u's dtype."""

    def wrapped(u, delta, A, B, C, D, z):
        y = call(u.float(), delta.float(), A.float(), B.float(), C.float(), D.float(), z.float())
        return y.to(u.dtype)

    return wrapped


# --------------------------------------------------------------------------
# Inputs and timing
# --------------------------------------------------------------------------

def make_inputs(batch, dim, length, state):
    """fp32 base inputs on the CPU (identical on every device)."""
    torch.manual_seed(0)
    u = torch.randn(batch, dim, length)
    delta = F.softplus(torch.randn(batch, dim, length) - 3.0)
    z = torch.randn(batch, dim, length)
    B = torch.randn(batch, state, length)
    C = torch.randn(batch, state, length)
    A = -torch.exp(0.5 * torch.randn(dim, state))
    D = 1.0 + 0.1 * torch.randn(dim)
    return dict(u=u, delta=delta, z=z, B=B, C=C, A=A, D=D)


def cast_inputs(base, dtype, device):
    act = torch.bfloat16 if dtype == "bf16" else torch.float32
    out = {}
    for k, v in base.items():
        t = v.to(device=device, dtype=act if k in ("u", "delta", "z", "B", "C") else torch.float32)
        out[k] = t.contiguous()
    return out


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_reps(fn, device, warmup, reps, before=None):
    """Run fn warmup + reps times; return the timed durations in ms.
    before() runs untimed ahead of every call (e.g. to clear gradients)."""
    for _ in range(warmup):
        if before:
            before()
        fn()
    sync(device)
    times = []
    for _ in range(reps):
        if before:
            before()
        if device.type == "cuda":
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            sync(device)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    return times


def measure_copy(device, size_mib, reps):
    n = size_mib * MIB // 4
    x = torch.randn(n, device=device)
    y = torch.empty_like(x)
    times = time_reps(lambda: y.copy_(x), device, 3, reps)
    moved = 2 * n * 4
    med = statistics.median(times)
    result = {
        "size_mib": size_mib,
        "bytes_per_copy": moved,
        "reps": reps,
        "median_ms": med,
        "min_ms": min(times),
        "max_ms": max(times),
        "gb_per_s": moved / (med * 1e-3) / 1e9,
    }
    del x, y
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=DEFAULT_SHAPE["batch"])
    p.add_argument("--dim", type=int, default=DEFAULT_SHAPE["dim"])
    p.add_argument("--len", dest="length", type=int, default=DEFAULT_SHAPE["length"])
    p.add_argument("--state", type=int, default=DEFAULT_SHAPE["state"])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--warmup", type=int, default=2, help="untimed scan repetitions")
    p.add_argument("--reps", type=int, default=5, help="timed scan repetitions")
    p.add_argument("--copy-reps", type=int, default=20)
    p.add_argument("--copy-mib", type=int, default=None,
                   help="copy tensor size in MiB (default 1024 on cuda, 64 on cpu; 0 skips)")
    p.add_argument("--dtypes", default="fp32,bf16", help="comma list of fp32, bf16")
    p.add_argument("--impl", choices=("auto", "transformers", "reference"), default="auto",
                   help="auto: transformers if present, else the in-script reference")
    p.add_argument("--out", default=None, help="write all results to this JSON file")
    args = p.parse_args(argv)
    args.dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    for d in args.dtypes:
        if d not in ("fp32", "bf16"):
            p.error("unknown dtype %r" % d)
    if args.reps < 1:
        p.error("--reps must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")

    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    common = {
        "device": device_name,
        "torch": torch.__version__,
        "transformers": TRANSFORMERS_VERSION,
        "shape": {"batch": args.batch, "dim": args.dim, "len": args.length, "state": args.state},
    }

    # ---- choose the implementation
    signature = None
    call_style = None
    if args.impl != "reference" and HF_SCAN is not None:
        call, sig, call_style = make_hf_call(HF_SCAN)
        signature = "mamba_selective_scan" + str(sig)
        backend = "mamba_ssm kernel" if importlib.util.find_spec("mamba_ssm") else "torch reference path"
        impl = "transformers.models.mamba.modeling_mamba.mamba_selective_scan"
        impl_detail = "%s; call %s" % (backend, call_style)
        print("PEER_SIGNATURE " + signature, flush=True)
    else:
        if args.impl == "transformers":
            sys.exit("transformers mamba_selective_scan unavailable: %s" % HF_IMPORT_ERROR)
        call = reference_selective_scan
        impl = "scan_peer.reference_selective_scan"
        impl_detail = ("forced by --impl reference" if args.impl == "reference"
                       else "fallback: %s" % HF_IMPORT_ERROR)
        print("PEER_SIGNATURE unavailable (%s); using %s" % (impl_detail, impl), flush=True)

    # ---- copy bandwidth
    copy_mib = args.copy_mib if args.copy_mib is not None else (1024 if device.type == "cuda" else 64)
    copy = None
    if copy_mib > 0:
        copy = dict(measure_copy(device, copy_mib, args.copy_reps), **common)
        print("PEER_COPY " + json.dumps(copy), flush=True)
    bandwidth = copy["gb_per_s"] * 1e9 if copy else None

    base = make_inputs(args.batch, args.dim, args.length, args.state)
    results = []
    for dtype in args.dtypes:
        x = cast_inputs(base, dtype, device)
        notes = []
        run_call = call

        # Probe once (untimed): checks mixed dtypes and gives y's shape/dtype.
        with torch.no_grad():
            try:
                y_probe = run_call(x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], x["z"])
            except Exception as exc:
                if dtype != "bf16":
                    raise
                notes.append("bf16 call failed (%s: %s); activations upcast to fp32 inside a "
                             "wrapper, y cast back to bf16" % (type(exc).__name__, exc))
                run_call = upcast_wrapper(call)
                y_probe = run_call(x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], x["z"])
        y_dtype = str(y_probe.dtype).replace("torch.", "")
        if dtype == "bf16" and y_probe.dtype != torch.bfloat16:
            notes.append("y comes back as %s for bf16 inputs (fp32 A/D promote it); dy is the "
                         "same dtype; the floor still counts y and dy at 2 bytes" % y_dtype)
        torch.manual_seed(1)
        dy = torch.randn(y_probe.shape, dtype=y_probe.dtype).to(device)
        del y_probe

        act_bytes = 2 if dtype == "bf16" else 4
        fwd_bytes, fb_bytes = traffic_bytes(args.batch, args.dim, args.length, args.state, act_bytes)

        # ---- forward
        def forward():
            with torch.no_grad():
                return run_call(x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], x["z"])

        fwd_times = time_reps(forward, device, args.warmup, args.reps)

        # ---- forward + backward
        leaves = {k: v.detach().clone().requires_grad_(True) for k, v in x.items()}

        def clear_grads():
            for t in leaves.values():
                t.grad = None

        def forward_backward():
            y = run_call(leaves["u"], leaves["delta"], leaves["A"], leaves["B"],
                         leaves["C"], leaves["D"], leaves["z"])
            y.backward(dy)

        fb_times = time_reps(forward_backward, device, args.warmup, args.reps, before=clear_grads)
        missing = [k for k, t in leaves.items() if t.grad is None]
        if missing:
            notes.append("no gradient reached: " + ",".join(missing))

        for pass_name, times, nbytes in (("forward", fwd_times, fwd_bytes),
                                         ("forward+backward", fb_times, fb_bytes)):
            med = statistics.median(times)
            floor_us = nbytes / bandwidth * 1e6 if bandwidth else None
            rec = {
                "impl": impl,
                "impl_detail": impl_detail,
                "dtype": dtype,
                "pass": pass_name,
                "median_ms": med,
                "min_ms": min(times),
                "max_ms": max(times),
                "reps": args.reps,
                "warmup": args.warmup,
                "bytes": nbytes,
                "floor_us": floor_us,
                "ratio_to_floor": (med * 1e3 / floor_us) if floor_us else None,
                "y_dtype": y_dtype,
                "note": "; ".join(notes),
            }
            rec.update(common)
            results.append(rec)
            print("PEER " + json.dumps(rec), flush=True)

        del x, leaves, dy
        if device.type == "cuda":
            torch.cuda.empty_cache()

    # ---- human table
    print()
    print("peer: %s (%s)" % (impl, impl_detail))
    print("device: %s | torch %s | transformers %s | B=%d D=%d L=%d N=%d | TF32 off"
          % (device_name, torch.__version__, TRANSFORMERS_VERSION,
             args.batch, args.dim, args.length, args.state))
    if copy:
        print("copy bandwidth: %.1f GB/s (%d MiB, median of %d)"
              % (copy["gb_per_s"], copy_mib, args.copy_reps))
    header = "%-5s %-17s %12s %12s %12s %14s %12s %10s" % (
        "dtype", "pass", "median ms", "min ms", "max ms", "bytes", "floor us", "x floor")
    print(header)
    print("-" * len(header))
    for r in results:
        print("%-5s %-17s %12.3f %12.3f %12.3f %14d %12s %10s" % (
            r["dtype"], r["pass"], r["median_ms"], r["min_ms"], r["max_ms"], r["bytes"],
            "%.1f" % r["floor_us"] if r["floor_us"] else "-",
            "%.0f" % r["ratio_to_floor"] if r["ratio_to_floor"] else "-"))
    for r in results:
        if r["note"] and r["pass"] == "forward":
            print("note (%s): %s" % (r["dtype"], r["note"]))

    if args.out:
        doc = {
            "impl": impl,
            "impl_detail": impl_detail,
            "signature": signature,
            "args": {k: v for k, v in vars(args).items() if k != "out"},
            "tf32": False,
            "copy": copy,
            "results": results,
        }
        doc.update(common)
        out_dir = os.path.dirname(os.path.abspath(args.out))
        os.makedirs(out_dir, exist_ok=True)
        with open(args.out, "w") as fh:
            json.dump(doc, fh, indent=2)
        print("wrote " + args.out)


if __name__ == "__main__":
    main()
