"""Writes reference fixtures for `peft parity` from Hugging Face transformers (pure-PyTorch path, CPU, float32).

Each fixture folder holds what `save_pretrained` writes (config.json, model.safetensors) plus
  reference.safetensors      input_ids (B, T) int64; logits; step_logits (one token at a time through the cache);
                             ssm_state.layers.i / conv_state.layers.i after the forward; hidden_states.j (the
                             residual stream after each block, then after norm_f); loss (labels = input_ids)
  full-ft-grads.safetensors  <parameter>.grad for every parameter, and loss
The configurations vary what the public fixture does not: linear biases, untied head, conv kernel, dt rank, state
size, vocabulary, expand, no conv bias. Run (needs torch, transformers, safetensors):
  python3 ssm-runtime/src/test/python/make_reference.py OUT_DIR
then copy OUT_DIR/<name>/ into ssm-runtime/src/test/resources/fixtures/ (the tests read them from there).
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import MambaConfig, MambaForCausalLM

from reference_common import forward_reference, perturb, tensors_in, write_full_ft_grads

CONFIGS = {
    # biases on every linear map, untied head, odd sizes everywhere
    "mamba-bias-untied": dict(vocab_size=101, hidden_size=48, num_hidden_layers=3, state_size=8, expand=2,
                              conv_kernel=3, time_step_rank=7, use_bias=True, use_conv_bias=True,
                              tie_word_embeddings=False),
    # no conv bias, kernel 2, tiny state, expand 3, "auto" dt rank (ceil(40/16) = 3), one layer
    "mamba-noconvbias-k2": dict(vocab_size=77, hidden_size=40, num_hidden_layers=1, state_size=4, expand=3,
                                conv_kernel=2, time_step_rank="auto", use_bias=False, use_conv_bias=False,
                                tie_word_embeddings=True),
}


def build(seed, kwargs):
    torch.manual_seed(seed)
    cfg = MambaConfig(layer_norm_epsilon=1e-5, residual_in_fp32=True, **kwargs)
    model = MambaForCausalLM(cfg).float().eval()
    perturb(model, seed + 1)
    return model


def states(cache, layer, batch, d_inner, n, k):
    """The layer's SSM state (B, D, N) and conv state (B, D, K), found by shape in the cache (in layer order;
    the configurations keep N != K so the two cannot be confused)."""
    ssm = [t for t in tensors_in(cache, 4) if tuple(t.shape) == (batch, d_inner, n)]
    conv = [t for t in tensors_in(cache, 4) if tuple(t.shape) == (batch, d_inner, k)]
    if len(ssm) != len(conv) or len(ssm) <= layer:
        raise RuntimeError("cannot find layer %d states in %s (%d ssm, %d conv candidates)"
                           % (layer, type(cache), len(ssm), len(conv)))
    return ssm[layer].detach().clone().contiguous(), conv[layer].detach().clone().contiguous()


def step_logits(model, ids, kernel):
    out = []
    cache = None
    for t in range(ids.shape[1]):
        pos = torch.arange(0, kernel) if t == 0 else torch.tensor([t])
        r = model(ids[:, t:t + 1], cache_params=cache, use_cache=True, cache_position=pos)
        cache = r.cache_params
        out.append(r.logits[:, -1:, :])
    return torch.cat(out, dim=1)


def write(name, kwargs, seed, out_dir):
    model = build(seed, kwargs)
    folder = os.path.join(out_dir, name)
    model.save_pretrained(folder)
    vocab = model.config.vocab_size
    gen = torch.Generator().manual_seed(seed + 2)
    ids = torch.randint(0, vocab, (2, 13), generator=gen)

    r, ref = forward_reference(model, ids)
    for i in range(model.config.num_hidden_layers):
        c = model.config
        ssm, conv = states(r.cache_params, i, 2, c.intermediate_size, c.state_size, c.conv_kernel)
        ref["ssm_state.layers.%d" % i] = ssm.float()
        ref["conv_state.layers.%d" % i] = conv.float()
    try:
        with torch.no_grad():
            ref["step_logits"] = step_logits(model, ids, model.config.conv_kernel).float().contiguous()
    except Exception as e:  # the cache API differs between transformers versions; parity then skips it
        print("step logits not written:", e)
    save_file(ref, os.path.join(folder, "reference.safetensors"))

    loss = write_full_ft_grads(model, ids, folder)
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump({"fixture": name, "config_kwargs": kwargs, "seed": seed, "torch": torch.__version__,
                   "transformers": __import__("transformers").__version__,
                   "made_by": "ssm-runtime/src/test/python/make_reference.py"}, f, indent=1)
    print(name, "loss", float(loss), "files", sorted(os.listdir(folder)))


if __name__ == "__main__":
    torch.set_default_dtype(torch.float32)
    out = sys.argv[1]
    for k, (name, kwargs) in enumerate(CONFIGS.items()):
        write(name, kwargs, 4321 + 10 * k, out)
