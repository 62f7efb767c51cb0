#!/usr/bin/env python3
"""Side-by-side peer for the GPU Mamba-2 SSD benchmark (SsdBench).

Times the chunked SSD scan of Hugging Face transformers' Mamba-2 PyTorch path
on the same shape as the CUDA benchmark. Without ``mamba_ssm`` (and without
the ``kernels`` hub package) transformers runs its PyTorch reference: the
module-level ``transformers.models.mamba2.modeling_mamba2.mamba2_chunk_scan``
(transformers 5.x; the chunk form ``Mamba2Mixer``'s PyTorch forward calls).
Where that function is missing (older transformers, whose
``Mamba2Mixer.torch_forward`` holds the same computation inline), this script
runs its own formulation, ``chunk_scan`` below, written after torch_forward's
steps (segment sum, chunked einsums, inter-chunk recurrence, D residual), with
transformers' module-level helpers ``segment_sum``, ``pad_tensor_by_size`` and
``reshape_into_chunks`` where they import, its own otherwise. The ``impl``
field says which one ran. transformers' chunk scan takes no gate in its PyTorch
path (its mixer gates in the RMSNorm), so the gate is applied here on its
output, as mamba_ssm's ``mamba_chunk_scan_combined(..., z=z)`` and the Java
kernels do.

Computation (no softplus, no dt bias, zero initial state), per head h of
group g = h // (H / G):

    h_t = exp(dt_t * A_h) * h_{t-1} + dt_t * x_t (outer) B_t    h: (P, N)
    y_t = (h_t . C_t + D_h * x_t) * silu(z_t)

chunked with chunk length Q. Layout (Mamba-2's mixer): xbc (B, L, D + 2GN),
split into x (B, L, H, P), B, C (B, L, G, N) as views, as the mixer splits its
conv output; dt (B, L, H); z (B, L, H, P); A, D (H,). The transformers PyTorch
path computes in float32 internally (it upcasts x, B, C); for bf16 the inputs
xbc, dt, z are bfloat16 (A, D float32) and y is cast back to bfloat16.

Inputs come from torch.manual_seed(0): x, B, C, z ~ 0.5 * randn,
dt = exp(U(log 0.001, log 0.1)), A = -exp(U(-1, 1.5)), D ~ U(0.5, 1.5),
dy ~ randn (seed 1), as SsdBench draws them (not the same numbers).

Passes
  forward           one call, D residual and z gate included, under
                    torch.no_grad().
  forward+backward  forward with xbc, dt, z, A, D requiring grad, then
                    y.backward(dy). For bf16 the leaves are the bf16 tensors.

Memory-traffic floor (each tensor read or written once; E = 4 for fp32, 2 for
the token tensors xbc, dt, z, y, dy and their gradients in bf16; A, D and
their gradients always 4):

  forward bytes  = read xbc (B*L*(D+2GN)*E) + dt (B*L*H*E) + z (B*L*D*E)
                 + A, D (2*H*4) + write y (B*L*D*E)
  fwd+bwd bytes  = forward bytes + read xbc, dt, z, dy, A, D
                 + write dxbc, ddt, dz, dA, dD

For the default shape (B=4, L=1024, H=24, P=64, G=1, N=128, Q=256) at fp32
these are 80,085,184 and 215,089,728 bytes (asserted at start-up), the same
formula as SsdBench.

floor_us = bytes / copy bandwidth, measured with y.copy_(x) on a 1 GiB float32
tensor (2 GiB of traffic counted per copy, GB/s = 1e9 B/s); on the CPU a small
copy (--copy-mib).

TF32 is disabled. Timing on CUDA uses a torch.cuda.Event pair around each
repetition after the warm-up; on the CPU time.perf_counter. Each result is
printed as one ``PEER {json}`` line, the bandwidth as ``PEER_COPY {json}``,
then a short table; --out writes everything as one JSON document. With
--check (default with --small) the forward is first compared with the plain
recurrence in float64 and printed as ``PEER_CHECK {json}``.

Example:
    python3 ssd_peer.py --out peer.json
    python3 ssd_peer.py --device cpu --small
"""

import argparse
import importlib.util
import inspect
import json
import math
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

HF_CHUNK_SCAN = None
HF_HELPERS = {}
HF_IMPORT_ERROR = None
try:
    from transformers.models.mamba2 import modeling_mamba2 as _modeling_mamba2

    HF_CHUNK_SCAN = getattr(_modeling_mamba2, "mamba2_chunk_scan", None)
    for _name in ("segment_sum", "pad_tensor_by_size", "reshape_into_chunks"):
        if getattr(_modeling_mamba2, _name, None) is not None:
            HF_HELPERS[_name] = getattr(_modeling_mamba2, _name)
    if HF_CHUNK_SCAN is None:
        HF_IMPORT_ERROR = "mamba2_chunk_scan not in modeling_mamba2"
except Exception as exc:  # pragma: no cover - depends on the host
    HF_IMPORT_ERROR = "%s: %s" % (type(exc).__name__, exc)


DEFAULT_SHAPE = dict(batch=4, length=1024, heads=24, head_dim=64, groups=1, state=128, chunk=256)
SMALL_SHAPE = dict(batch=2, length=70, heads=4, head_dim=8, groups=2, state=16, chunk=32)
DEFAULT_FP32_BYTES = (80_085_184, 215_089_728)
MIB = 1 << 20


# --------------------------------------------------------------------------
# Byte counts
# --------------------------------------------------------------------------

def traffic_bytes(batch, length, heads, head_dim, groups, state, act_bytes):
    """(forward, forward+backward) bytes; act_bytes is the size of one token
    element (xbc, dt, z, y, dy and their gradients). A and D are fp32."""
    m = batch * length
    d = heads * head_dim
    xbc = m * (d + 2 * groups * state) * act_bytes
    dt = m * heads * act_bytes
    tokens = m * d * act_bytes  # z, y, dy, dz each
    params = 2 * heads * 4
    forward = xbc + dt + tokens + params + tokens
    backward_reads = xbc + dt + tokens + tokens + params
    backward_writes = xbc + dt + tokens + params
    return forward, forward + backward_reads + backward_writes


assert traffic_bytes(DEFAULT_SHAPE["batch"], DEFAULT_SHAPE["length"], DEFAULT_SHAPE["heads"],
                     DEFAULT_SHAPE["head_dim"], DEFAULT_SHAPE["groups"], DEFAULT_SHAPE["state"], 4) \
    == DEFAULT_FP32_BYTES, "fp32 byte formula no longer matches 80,085,184 / 215,089,728 for the default shape"


# --------------------------------------------------------------------------
# The chunked scan in the einsum formulation of Mamba2Mixer.torch_forward
# (used where transformers has no module-level mamba2_chunk_scan)
# --------------------------------------------------------------------------

def own_segment_sum(v):
    """(..., T) -> (..., T, T): out[..., i, j] = sum_{j < k <= i} v[..., k] for
    j <= i, -inf above the diagonal (so exp gives the causal decay matrix).
    Summed by a cumulative sum over masked copies (no difference of two
    cumulative sums, which loses precision)."""
    t = v.size(-1)
    rep = v[..., None].expand(*v.shape, t)                      # rep[..., k, j] = v[k]
    strict = torch.tril(torch.ones(t, t, dtype=torch.bool, device=v.device), diagonal=-1)
    rep = rep.masked_fill(~strict, 0)                           # keep k > j
    out = torch.cumsum(rep, dim=-2)                             # sum over k <= i
    lower = torch.tril(torch.ones(t, t, dtype=torch.bool, device=v.device), diagonal=0)
    return out.masked_fill(~lower, -torch.inf)


def own_pad(v, pad):
    """Zero-pads dim 1 (the sequence) of a 3- or 4-d tensor by pad steps."""
    if pad == 0:
        return v
    widths = [0, 0] * (v.dim() - 2) + [0, pad]
    return F.pad(v, widths)


def own_chunks(v, pad, chunk):
    """(B, L, ...) -> (B, chunks, Q, ...) after padding L to a multiple of Q."""
    v = own_pad(v, pad)
    return v.reshape(v.shape[0], -1, chunk, *v.shape[2:])


def chunk_scan(x, dt, A, B, C, chunk, D=None, segment_sum=None, pad_fn=None, chunks_fn=None):
    """x (b, l, h, p), dt (b, l, h), A (h), B, C (b, l, g, n), D (h) -> y
    (b, l, h, p) in float32, zero initial state; the steps of
    Mamba2Mixer.torch_forward's chunk form (the helpers may be transformers')."""
    segment_sum = segment_sum or own_segment_sum
    pad_fn = pad_fn or own_pad
    chunks_fn = chunks_fn or own_chunks
    b, l, h, p = x.shape
    g = B.shape[2]
    x = x.float()
    dt = dt.float()
    B = B.float().repeat_interleave(h // g, dim=2)
    C = C.float().repeat_interleave(h // g, dim=2)
    pad = (chunk - l % chunk) % chunk
    residual = D.float()[:, None] * pad_fn(x, pad) if D is not None else None
    u = x * dt[..., None]                                       # dt * x
    a = A.float() * dt                                          # dt * A, (b, l, h)
    u, a, B, C = [chunks_fn(t, pad, chunk) for t in (u, a, B, C)]
    a = a.permute(0, 3, 1, 2)                                   # (b, h, c, q)
    a_cum = torch.cumsum(a, dim=-1)
    # intra-chunk: y_i = sum_{s <= i} exp(c_i - c_s) (C_i . B_s) u_s
    decay = torch.exp(segment_sum(a))                           # (b, h, c, q, q)
    scores = torch.einsum("bclhn,bcshn->bclsh", C, B)
    y_diag = torch.einsum("bclsh,bcshp->bclhp", scores * decay.permute(0, 2, 3, 4, 1), u)
    # each chunk's own state: sum_s exp(c_last - c_s) u_s (outer) B_s
    to_end = torch.exp(a_cum[..., -1:] - a_cum)                 # (b, h, c, q)
    states = torch.einsum("bclhn,bhcl,bclhp->bchpn", B, to_end, u)
    # inter-chunk recurrence: the state entering each chunk
    states = torch.cat([torch.zeros_like(states[:, :1]), states], dim=1)
    chunk_decay = torch.exp(segment_sum(F.pad(a_cum[..., -1], (1, 0))))   # (b, h, c+1, c+1)
    entering = torch.einsum("bhzc,bchpn->bzhpn", chunk_decay, states)[:, :-1]
    # its read-out: exp(c_i) C_i . h_in
    y_off = torch.einsum("bclhn,bchpn,bhcl->bclhp", C, entering, torch.exp(a_cum))
    y = (y_diag + y_off).reshape(b, -1, h, p)
    if residual is not None:
        y = y + residual
    return y[:, :l]


def sequential_scan(x, dt, A, B, C, D, z):
    """The recurrence step by step in float64 (the --check reference); y with the gate."""
    x, dt, A, B, C, D, z = [t.detach().double().cpu() for t in (x, dt, A, B, C, D, z)]
    b, l, h, p = x.shape
    g, n = B.shape[2], B.shape[3]
    B = B.repeat_interleave(h // g, dim=2)
    C = C.repeat_interleave(h // g, dim=2)
    state = torch.zeros(b, h, p, n, dtype=torch.float64)
    ys = []
    for t in range(l):
        e = torch.exp(dt[:, t] * A)                             # (b, h)
        state = e[..., None, None] * state + (dt[:, t, :, None] * x[:, t])[..., None] * B[:, t, :, None, :]
        ys.append(torch.einsum("bhpn,bhn->bhp", state, C[:, t]) + D[:, None] * x[:, t])
    y = torch.stack(ys, dim=1)
    return y * F.silu(z)


# --------------------------------------------------------------------------
# The call: xbc split as the mixer splits it, the chunk scan, the gate
# --------------------------------------------------------------------------

def make_call(impl, shape):
    """call(xbc, dt, A, D, z) -> y in xbc's dtype, and a description."""
    h, p, g, n, q = shape["heads"], shape["head_dim"], shape["groups"], shape["state"], shape["chunk"]
    d = h * p

    if impl == "transformers":
        params = inspect.signature(HF_CHUNK_SCAN).parameters

        def scan(x, dt, A, B, C, D):
            kwargs = {"chunk_size": q, "D": D}
            if "return_final_states" in params:
                kwargs["return_final_states"] = False
            out = HF_CHUNK_SCAN(x, dt, A, B, C, **kwargs)
            return out[0] if isinstance(out, (tuple, list)) else out

        backend = "mamba_ssm kernel" if importlib.util.find_spec("mamba_ssm") else "torch reference path"
        detail = "transformers.models.mamba2.modeling_mamba2.mamba2_chunk_scan (%s)" % backend
    else:
        helpers = dict(HF_HELPERS) if impl == "reference-hf-helpers" else {}

        def scan(x, dt, A, B, C, D):
            return chunk_scan(x, dt, A, B, C, q, D=D, segment_sum=helpers.get("segment_sum"),
                              pad_fn=helpers.get("pad_tensor_by_size"),
                              chunks_fn=helpers.get("reshape_into_chunks"))

        detail = "Mamba2Mixer.torch_forward's einsums, with %s helpers" % (
            "transformers' " + ", ".join(sorted(helpers)) if helpers else "its own")

    def call(xbc, dt, A, D, z):
        b, l = xbc.shape[0], xbc.shape[1]
        x, B, C = torch.split(xbc, [d, g * n, g * n], dim=-1)
        y = scan(x.reshape(b, l, h, p), dt, A, B.reshape(b, l, g, n), C.reshape(b, l, g, n), D)
        y = y * F.silu(z.float())
        return y.to(xbc.dtype)

    return call, detail


# --------------------------------------------------------------------------
# Inputs and timing
# --------------------------------------------------------------------------

def make_inputs(shape):
    """fp32 base inputs on the CPU (identical on every device)."""
    b, l, h, p, g, n = (shape[k] for k in ("batch", "length", "heads", "head_dim", "groups", "state"))
    torch.manual_seed(0)
    xbc = 0.5 * torch.randn(b, l, h * p + 2 * g * n)
    dt = torch.exp(math.log(0.001) + (math.log(0.1) - math.log(0.001)) * torch.rand(b, l, h))
    z = 0.5 * torch.randn(b, l, h, p)
    A = -torch.exp(-1 + 2.5 * torch.rand(h))
    D = 0.5 + torch.rand(h)
    return dict(xbc=xbc, dt=dt, z=z, A=A, D=D)


def cast_inputs(base, dtype, device):
    act = torch.bfloat16 if dtype == "bf16" else torch.float32
    return {k: v.to(device=device, dtype=act if k in ("xbc", "dt", "z") else torch.float32).contiguous()
            for k, v in base.items()}


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
    result = {"size_mib": size_mib, "bytes_per_copy": moved, "reps": reps, "median_ms": med,
              "min_ms": min(times), "max_ms": max(times), "gb_per_s": moved / (med * 1e-3) / 1e9}
    del x, y
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def rel_error(got, want):
    got, want = got.detach().double().cpu(), want.detach().double().cpu()
    return (torch.linalg.vector_norm(got - want) / torch.linalg.vector_norm(want).clamp_min(1e-30)).item()


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--len", dest="length", type=int, default=None)
    p.add_argument("--heads", type=int, default=None)
    p.add_argument("--head-dim", dest="head_dim", type=int, default=None)
    p.add_argument("--groups", type=int, default=None)
    p.add_argument("--state", type=int, default=None)
    p.add_argument("--chunk", type=int, default=None)
    p.add_argument("--small", action="store_true",
                   help="a tiny shape (B 2, L 70, H 4, P 8, G 2, N 16, Q 32) for a smoke run; implies --check")
    p.add_argument("--check", action="store_true",
                   help="compare the forward with the float64 recurrence first (slow beyond small shapes)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--warmup", type=int, default=None, help="untimed repetitions (default 3, 1 with --small)")
    p.add_argument("--reps", type=int, default=None, help="timed repetitions (default 20, 3 with --small)")
    p.add_argument("--copy-reps", type=int, default=20)
    p.add_argument("--copy-mib", type=int, default=None,
                   help="copy tensor size in MiB (default 1024 on cuda, 64 on cpu; 0 skips)")
    p.add_argument("--dtypes", default="fp32,bf16", help="comma list of fp32, bf16")
    p.add_argument("--impl", choices=("auto", "transformers", "reference"), default="auto",
                   help="auto: transformers' mamba2_chunk_scan if present, else this script's chunk_scan")
    p.add_argument("--out", default=None, help="write all results to this JSON file")
    args = p.parse_args(argv)
    base = SMALL_SHAPE if args.small else DEFAULT_SHAPE
    args.shape = {k: (getattr(args, k) if getattr(args, k) is not None else v) for k, v in base.items()}
    s = args.shape
    if min(s.values()) < 1:
        p.error("every dimension must be >= 1: %s" % s)
    if s["heads"] % s["groups"] != 0:
        p.error("--heads %d is not a multiple of --groups %d" % (s["heads"], s["groups"]))
    args.check = args.check or args.small
    args.warmup = args.warmup if args.warmup is not None else (1 if args.small else 3)
    args.reps = args.reps if args.reps is not None else (3 if args.small else 20)
    args.dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    for d in args.dtypes:
        if d not in ("fp32", "bf16"):
            p.error("unknown dtype %r" % d)
    if args.reps < 1:
        p.error("--reps must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    shape = args.shape
    device = torch.device(args.device)
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")

    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    common = {"device": device_name, "torch": torch.__version__, "transformers": TRANSFORMERS_VERSION,
              "shape": shape}

    # ---- choose the implementation
    if args.impl != "reference" and HF_CHUNK_SCAN is not None:
        impl = "transformers.mamba2_chunk_scan"
        call, detail = make_call("transformers", shape)
    else:
        if args.impl == "transformers":
            sys.exit("transformers mamba2_chunk_scan unavailable: %s" % HF_IMPORT_ERROR)
        use_hf = len(HF_HELPERS) == 3
        impl = "ssd_peer.chunk_scan"
        call, detail = make_call("reference-hf-helpers" if use_hf else "reference", shape)
        detail += "; %s" % ("forced by --impl reference" if args.impl == "reference"
                            else "fallback: %s" % HF_IMPORT_ERROR)
    signature = str(inspect.signature(HF_CHUNK_SCAN)) if HF_CHUNK_SCAN is not None else None
    print("PEER_IMPL %s: %s" % (impl, detail), flush=True)
    if signature:
        print("PEER_SIGNATURE mamba2_chunk_scan" + signature, flush=True)

    # ---- copy bandwidth
    copy_mib = args.copy_mib if args.copy_mib is not None else (1024 if device.type == "cuda" else 64)
    copy = None
    if copy_mib > 0:
        copy = dict(measure_copy(device, copy_mib, args.copy_reps), **common)
        print("PEER_COPY " + json.dumps(copy), flush=True)
    bandwidth = copy["gb_per_s"] * 1e9 if copy else None

    base = make_inputs(shape)
    dims = [shape[k] for k in ("batch", "length", "heads", "head_dim", "groups", "state")]
    checks = []
    results = []
    for dtype in args.dtypes:
        x = cast_inputs(base, dtype, device)
        notes = []
        with torch.no_grad():
            y_probe = call(x["xbc"], x["dt"], x["A"], x["D"], x["z"])
        y_dtype = str(y_probe.dtype).replace("torch.", "")
        if args.check:
            h, p, g, n = shape["heads"], shape["head_dim"], shape["groups"], shape["state"]
            b, l = shape["batch"], shape["length"]
            xs, Bs, Cs = torch.split(x["xbc"], [h * p, g * n, g * n], dim=-1)
            want = sequential_scan(xs.reshape(b, l, h, p), x["dt"], x["A"], Bs.reshape(b, l, g, n),
                                   Cs.reshape(b, l, g, n), x["D"], x["z"])
            check = {"dtype": dtype, "impl": impl, "y_rel_error_vs_float64_recurrence": rel_error(y_probe, want)}
            if impl != "ssd_peer.chunk_scan":
                own, _ = make_call("reference", shape)
                with torch.no_grad():
                    check["y_rel_error_vs_ssd_peer_chunk_scan"] = rel_error(
                        y_probe, own(x["xbc"], x["dt"], x["A"], x["D"], x["z"]))
            checks.append(check)
            print("PEER_CHECK " + json.dumps(check), flush=True)
        torch.manual_seed(1)
        dy = torch.randn(y_probe.shape, dtype=y_probe.dtype).to(device)
        del y_probe

        act_bytes = 2 if dtype == "bf16" else 4
        fwd_bytes, fb_bytes = traffic_bytes(*dims, act_bytes)

        def forward():
            with torch.no_grad():
                return call(x["xbc"], x["dt"], x["A"], x["D"], x["z"])

        fwd_times = time_reps(forward, device, args.warmup, args.reps)

        leaves = {k: v.detach().clone().requires_grad_(True) for k, v in x.items()}

        def clear_grads():
            for t in leaves.values():
                t.grad = None

        def forward_backward():
            y = call(leaves["xbc"], leaves["dt"], leaves["A"], leaves["D"], leaves["z"])
            y.backward(dy)

        fb_times = time_reps(forward_backward, device, args.warmup, args.reps, before=clear_grads)
        missing = [k for k, t in leaves.items() if t.grad is None]
        if missing:
            notes.append("no gradient reached: " + ",".join(missing))
        if device.type == "cuda":
            notes.append("peak memory %.2f GiB" % (torch.cuda.max_memory_allocated(device) / (1 << 30)))
            torch.cuda.reset_peak_memory_stats(device)

        for pass_name, times, nbytes in (("forward", fwd_times, fwd_bytes),
                                         ("forward+backward", fb_times, fb_bytes)):
            med = statistics.median(times)
            floor_us = nbytes / bandwidth * 1e6 if bandwidth else None
            rec = {
                "bench": "ssd",
                "impl": impl,
                "impl_detail": detail,
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
    print("peer: %s (%s)" % (impl, detail))
    print("device: %s | torch %s | transformers %s | B=%d L=%d H=%d P=%d G=%d N=%d Q=%d | D, z | TF32 off"
          % ((device_name, torch.__version__, TRANSFORMERS_VERSION) + tuple(shape.values())))
    if copy:
        print("copy bandwidth: %.1f GB/s (%d MiB, median of %d)" % (copy["gb_per_s"], copy_mib, args.copy_reps))
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
        doc = {"impl": impl, "impl_detail": detail, "signature": signature,
               "args": {k: v for k, v in vars(args).items() if k != "out"},
               "tf32": False, "copy": copy, "checks": checks, "results": results}
        doc.update(common)
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as fh:
            json.dump(doc, fh, indent=2)
        print("wrote " + args.out)


if __name__ == "__main__":
    main()
