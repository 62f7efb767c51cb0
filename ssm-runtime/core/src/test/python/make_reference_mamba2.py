"""Writes Mamba-2 reference fixtures from Hugging Face transformers (Mamba2ForCausalLM, pure-PyTorch path, CPU, float32).

The public fixture mamba2-tiny covers one configuration (n_groups 1, no biases, tied head, no dt clamp, a length that
is a multiple of the chunk) and has no gradients. These folders add what it does not:
  mamba2-groups2-bias-untied   n_groups 2 (heads 8, two groups of 4), linear biases, untied head, conv kernel 3,
                               chunk 4 with 13 tokens (3 full chunks and one of 1), no conv bias... see CONFIGS
  mamba2-dtclamp               a finite time_step_limit that binds on both sides, chunk 5 with 13 tokens
Each folder holds what save_pretrained writes (config.json, model.safetensors) plus
  reference.safetensors      input_ids (2, 13) int64; logits; loss (labels = input_ids); ssm_state.layers.i
                             (B, H, P, N) and conv_state.layers.i (B, conv_dim, K) after the forward; hidden_states.j
                             (after each block, then after norm_f); step_logits (one token at a time through the cache,
                             with the decoding step patched to clamp dt as the forward does, see below)
  full-ft-grads.safetensors  <parameter>.grad for every parameter, and loss
  peft-grads.safetensors     per hook kind its tensor values (0.05·randn), their .grad, logits and loss:
                             state_offset_h  h_off (H, P, N) per layer: y[b,t,h,p] += Σ_n C[b,t,g(h),n]·h_off[h,p,n],
                                             added to the scan output before the gated norm
                             state_offset_y  y_off (D) per layer, added to the scan output before the gated norm
                             initial_state   h0 (H, P, N) per layer, the scan's initial state for every batch row
                             lora            r 4, alpha 8 on in_proj and out_proj: y += (alpha/r)·(x·Aᵀ)·Bᵀ
                             prompt_tuning   5 virtual embeddings prepended, labels [-100]·5 + input_ids
The hooks are applied by wrapping transformers' own mamba2_chunk_scan (offsets, initial_states) and Linear forward
hooks (LoRA); nothing of the model is re-implemented here.

dt clamp (issue #13's trap): transformers' chunked forward clamps dt = softplus(dt + dt_bias) to time_step_limit, its
decoding step (mamba2_selective_state_update) does not; state-spaces/mamba is the same (mamba_chunk_scan_combined
clamps to dt_limit in _chunk_cumsum_fwd, Mamba2.step does not). The model is what the forward computes (the kernels it
was trained with), so step_logits here come from the step with the clamp added; manifest.json records how far the
unpatched step is from the forward.

Run (needs torch, transformers, safetensors):
  python3 ssm-runtime/core/src/test/python/make_reference_mamba2.py OUT_DIR
then copy OUT_DIR/<name>/ into ssm-runtime/core/src/test/resources/fixtures/.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
import transformers
from transformers import Mamba2Config, Mamba2ForCausalLM
from transformers.models.mamba2 import modeling_mamba2 as mm

from reference_common import forward_reference, perturb, tensors_in, write_full_ft_grads

CONFIGS = {
    "mamba2-groups2-bias-untied": dict(vocab_size=97, hidden_size=32, num_hidden_layers=2, state_size=8, expand=2,
                                       head_dim=8, num_heads=8, n_groups=2, conv_kernel=3, chunk_size=4,
                                       use_bias=True, use_conv_bias=True, tie_word_embeddings=False),
    "mamba2-dtclamp": dict(vocab_size=61, hidden_size=24, num_hidden_layers=2, state_size=6, expand=2, head_dim=12,
                           num_heads=4, n_groups=1, conv_kernel=4, chunk_size=5, use_bias=False,
                           use_conv_bias=False, tie_word_embeddings=True, time_step_limit=(0.02, 0.06)),
}
LENGTH = 13

# what the wrappers add, set per call: {layer: tensor}
HOOKS = {"h_off": {}, "y_off": {}, "h0": {}}
CURRENT = {"layer": None, "limit": None, "clamp_step": False}

original_chunk_scan = mm.mamba2_chunk_scan
original_state_update = mm.mamba2_selective_state_update


def chunk_scan(hidden_states, dt, A, B, C, chunk_size, **kw):
    layer = CURRENT["layer"]
    h0 = HOOKS["h0"].get(layer)
    if h0 is not None and kw.get("initial_states") is None:
        kw["initial_states"] = h0.unsqueeze(0).expand(hidden_states.shape[0], *h0.shape)
    out = original_chunk_scan(hidden_states, dt, A, B, C, chunk_size, **kw)
    y, rest = (out[0], out[1:]) if isinstance(out, tuple) else (out, None)
    heads, groups = hidden_states.shape[2], B.shape[2]
    if layer in HOOKS["h_off"]:
        cg = C.float().repeat_interleave(heads // groups, dim=2)  # (b, l, h, n)
        y = y + torch.einsum("blhn,hpn->blhp", cg, HOOKS["h_off"][layer])
    if layer in HOOKS["y_off"]:
        y = y + HOOKS["y_off"][layer].view(heads, -1)
    return (y, *rest) if rest is not None else y


def state_update(state, hidden_states, dt, A, B, C, D=None, dt_bias=None, dt_softplus=False, z=None, **kw):
    if CURRENT["clamp_step"]:
        lo, hi = CURRENT["limit"]
        if dt_bias is not None:
            dt = dt + dt_bias.to(dt.dtype)
        if dt_softplus:
            dt = torch.nn.functional.softplus(dt)
        dt = torch.clamp(dt, min=lo, max=hi)
        dt_bias, dt_softplus = None, False
    return original_state_update(state, hidden_states, dt, A, B, C, D, dt_bias=dt_bias, dt_softplus=dt_softplus,
                                 z=z, **kw)


mm.mamba2_chunk_scan = chunk_scan
mm.mamba2_selective_state_update = state_update


def build(seed, kwargs):
    torch.manual_seed(seed)
    model = Mamba2ForCausalLM(Mamba2Config(layer_norm_epsilon=1e-5, residual_in_fp32=True, **kwargs)).float().eval()
    perturb(model, seed + 1, dt_bias_scale=0.5)  # dt_bias spread across the clamp's bounds
    for i, layer in enumerate(model.backbone.layers):
        layer.mixer.register_forward_pre_hook(lambda m, a, i=i: CURRENT.update(layer=i))
    CURRENT["limit"] = tuple(model.config.time_step_limit)
    return model


def states(cache, c, batch):
    ssm_shape = (batch, c.num_heads, c.head_dim, c.state_size)
    conv_shape = (batch, c.num_heads * c.head_dim + 2 * c.n_groups * c.state_size, c.conv_kernel)
    ssm = [t for t in tensors_in(cache, 5) if tuple(t.shape) == ssm_shape]
    conv = [t for t in tensors_in(cache, 5) if tuple(t.shape) == conv_shape]
    if len(ssm) != c.num_hidden_layers or len(conv) != c.num_hidden_layers:
        raise RuntimeError("cannot find the states in %s: %d ssm, %d conv" % (type(cache), len(ssm), len(conv)))
    return [t.detach().clone().contiguous() for t in ssm], [t.detach().clone().contiguous() for t in conv]


def step_logits(model, ids, clamp):
    CURRENT["clamp_step"] = clamp
    out, cache = [], None
    with torch.no_grad():
        for t in range(ids.shape[1]):
            r = model(ids[:, t:t + 1], cache_params=cache, use_cache=True)
            cache = r.cache_params
            out.append(r.logits[:, -1:, :])
    CURRENT["clamp_step"] = False
    return torch.cat(out, dim=1).float().contiguous()


def lora_hook(A, B, scale):
    return lambda m, inp, out: out + scale * (inp[0] @ A.t()) @ B.t()


def peft(model, ids, seed):
    c = model.config
    gen = torch.Generator().manual_seed(seed + 3)
    rnd = lambda *shape: (0.05 * torch.randn(shape, generator=gen)).requires_grad_(True)
    layers = range(c.num_hidden_layers)
    hp = (c.num_heads, c.head_dim, c.state_size)
    d_inner = c.num_heads * c.head_dim
    kinds = {
        "state_offset_h": {"layers.%d.h_off" % i: rnd(*hp) for i in layers},
        "state_offset_y": {"layers.%d.y_off" % i: rnd(d_inner) for i in layers},
        "initial_state": {"layers.%d.h0" % i: rnd(*hp) for i in layers},
    }
    lora = {}
    for i in layers:
        mixer = model.backbone.layers[i].mixer
        for mod in ("in_proj", "out_proj"):
            lin = getattr(mixer, mod)
            lora["layers.%d.%s.lora_A" % (i, mod)] = rnd(4, lin.in_features)
            lora["layers.%d.%s.lora_B" % (i, mod)] = rnd(lin.out_features, 4)
    kinds["lora"] = lora
    kinds["prompt_tuning"] = {"virtual_embeddings": rnd(5, c.hidden_size)}
    out = {}
    for kind, tensors in kinds.items():
        for k in HOOKS:
            HOOKS[k].clear()
        handles = []
        for name, t in tensors.items():
            parts = name.split(".")
            if kind == "lora" and parts[-1] == "lora_A":
                i, mod = int(parts[1]), parts[2]
                B = tensors[name[:-1] + "B"]
                lin = getattr(model.backbone.layers[i].mixer, mod)
                handles.append(lin.register_forward_hook(lora_hook(t, B, 8 / 4)))
            elif kind != "lora" and kind != "prompt_tuning":
                HOOKS[parts[-1]][int(parts[1])] = t
        model.zero_grad()
        if kind == "prompt_tuning":
            p = tensors["virtual_embeddings"]
            emb = model.backbone.embeddings(ids)
            inputs = torch.cat([p.unsqueeze(0).expand(ids.shape[0], -1, -1), emb], dim=1)
            labels = torch.cat([torch.full((ids.shape[0], p.shape[0]), -100), ids], dim=1)
            r = model(inputs_embeds=inputs, labels=labels)
        else:
            r = model(ids, labels=ids)
        r.loss.backward()
        for h in handles:
            h.remove()
        out[kind + ".logits"] = r.logits.detach().float().contiguous()
        out[kind + ".loss"] = r.loss.detach().reshape(1).float()
        for name, t in tensors.items():
            out[kind + "." + name] = t.detach().float().contiguous()
            out[kind + "." + name + ".grad"] = t.grad.detach().float().contiguous()
    for k in HOOKS:
        HOOKS[k].clear()
    return out


def write(name, kwargs, seed, out_dir):
    model = build(seed, kwargs)
    for p in model.parameters():
        p.requires_grad_(False)
    folder = os.path.join(out_dir, name)
    model.save_pretrained(folder)
    c = model.config
    ids = torch.randint(0, c.vocab_size, (2, LENGTH), generator=torch.Generator().manual_seed(seed + 2))

    r, ref = forward_reference(model, ids)
    ssm, conv = states(r.cache_params, c, 2)
    for i in range(c.num_hidden_layers):
        ref["ssm_state.layers.%d" % i] = ssm[i].float()
        ref["conv_state.layers.%d" % i] = conv[i].float()
    ref["step_logits"] = step_logits(model, ids, clamp=True)
    unclamped = step_logits(model, ids, clamp=False)
    save_file(ref, os.path.join(folder, "reference.safetensors"))

    for p in model.parameters():
        p.requires_grad_(True)
    loss = write_full_ft_grads(model, ids, folder)
    for p in model.parameters():
        p.requires_grad_(False)
    save_file(peft(model, ids, seed), os.path.join(folder, "peft-grads.safetensors"))

    logits = ref["logits"]
    manifest = {
        "fixture": name, "config_kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
        "seed": seed, "length": LENGTH, "torch": torch.__version__, "transformers": transformers.__version__,
        "made_by": "ssm-runtime/core/src/test/python/make_reference_mamba2.py",
        "perturbation": "every parameter p += s * randn from Generator(seed+1): s = 0.1 for A_log, D and norms, 0.5 for"
                        " dt_bias, 0.02 otherwise",
        "adapters": {"values": "0.05 * randn from Generator(seed+3), in the order of peft() in the script",
                     "lora": "r = 4, alpha = 8, on in_proj and out_proj of every layer"},
        "step_logits": "decoding step with dt clamped to time_step_limit, as the forward does",
        "self_checks_max_abs_diff": {
            "step_logits_clamped_vs_logits": float((ref["step_logits"] - logits).abs().max()),
            "step_logits_transformers_unpatched_vs_logits": float((unclamped - logits).abs().max()),
        },
    }
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(name, "loss", float(loss), manifest["self_checks_max_abs_diff"])


if __name__ == "__main__":
    torch.set_default_dtype(torch.float32)
    out = sys.argv[1]
    for k, (name, kwargs) in enumerate(CONFIGS.items()):
        write(name, kwargs, 1234 + 10 * k, out)
