"""Writes lora-blocks-grads.safetensors into a Mamba-2 fixture folder: LoRA on in_proj's row blocks, from transformers.

in_proj of Mamba2Mixer emits [z (D) | x (D) | B (G*N) | C (G*N) | dt (H)]. Each block gets its own low-rank delta,
added by a forward hook on in_proj to those output rows only, plus one on out_proj:
  out[..., rows] += (alpha / r) * (x @ A.T) @ B.T          r = 2, alpha = 4, A and B 0.05 * randn (seed 7)
The loss is transformers' (labels = input_ids of the folder's reference.safetensors). Written: for each factor
layers.<i>.<target>.lora_A / lora_B its value and .grad (targets in_proj.z, in_proj.x, in_proj.B, in_proj.C,
in_proj.dt, out_proj), logits and loss. Nothing of the model is re-implemented.

Run (needs torch, transformers, safetensors):
  python3 ssm-runtime/core/src/test/python/make_reference_mamba2_lora_blocks.py \
      ssm-runtime/core/src/test/resources/fixtures/mamba2-groups2-bias-untied
"""
import sys

import torch
from safetensors.torch import load_file, save_file
from transformers import Mamba2ForCausalLM

RANK = 2
ALPHA = 4.0


def main(folder):
    torch.manual_seed(0)
    model = Mamba2ForCausalLM.from_pretrained(folder).float().eval()
    ids = load_file(folder + "/reference.safetensors")["input_ids"]
    c = model.config
    d = c.num_heads * c.head_dim
    gn = c.n_groups * c.state_size
    blocks = {"in_proj.z": (0, d), "in_proj.x": (d, d), "in_proj.B": (2 * d, gn), "in_proj.C": (2 * d + gn, gn),
              "in_proj.dt": (2 * d + 2 * gn, c.num_heads)}
    gen = torch.Generator().manual_seed(7)
    rnd = lambda *shape: (0.05 * torch.randn(shape, generator=gen)).requires_grad_(True)
    scale = ALPHA / RANK
    tensors = {}
    handles = []
    for i, layer in enumerate(model.backbone.layers):
        mixer = layer.mixer
        deltas = []
        for name, (offset, rows) in blocks.items():
            a = rnd(RANK, mixer.in_proj.in_features)
            b = rnd(rows, RANK)
            tensors["layers.%d.%s.lora_A" % (i, name)] = a
            tensors["layers.%d.%s.lora_B" % (i, name)] = b
            deltas.append((offset, rows, a, b))

        def in_proj_hook(m, inp, out, deltas=deltas):
            parts = []
            last = 0
            for offset, rows, a, b in deltas:  # the blocks tile the rows in order
                assert offset == last
                parts.append(scale * (inp[0] @ a.t()) @ b.t())
                last = offset + rows
            assert last == out.shape[-1]
            return out + torch.cat(parts, dim=-1)

        handles.append(mixer.in_proj.register_forward_hook(in_proj_hook))
        a = rnd(RANK, mixer.out_proj.in_features)
        b = rnd(mixer.out_proj.out_features, RANK)
        tensors["layers.%d.out_proj.lora_A" % i] = a
        tensors["layers.%d.out_proj.lora_B" % i] = b
        handles.append(mixer.out_proj.register_forward_hook(
            lambda m, inp, out, a=a, b=b: out + scale * (inp[0] @ a.t()) @ b.t()))
    r = model(ids, labels=ids)
    r.loss.backward()
    for h in handles:
        h.remove()
    out = {"logits": r.logits.detach().float().contiguous(), "loss": r.loss.detach().reshape(1).float()}
    for name, t in tensors.items():
        out[name] = t.detach().float().contiguous()
        out[name + ".grad"] = t.grad.detach().float().contiguous()
    save_file(out, folder + "/lora-blocks-grads.safetensors")
    print("loss", float(r.loss), "tensors", len(tensors))


if __name__ == "__main__":
    main(sys.argv[1])
