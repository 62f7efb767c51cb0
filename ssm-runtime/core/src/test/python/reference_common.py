"""What both families' reference scripts (make_reference.py, make_reference_mamba2.py) do alike: perturb a fresh
transformers model so no parameter sits at its init, find cache tensors by shape, run the forward with the residual
stream captured after every block and after norm_f, and write every parameter's gradient of the loss."""
import os

import torch
from safetensors.torch import save_file


def perturb(model, seed, dt_bias_scale=None):
    """p += s * randn from Generator(seed): s = 0.1 for A_log, D and norms, dt_bias_scale (if given) for dt_bias,
    0.02 otherwise."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            scale = 0.1 if (name.endswith("A_log") or name.endswith(".D") or "norm" in name) else 0.02
            if dt_bias_scale is not None and name.endswith("dt_bias"):
                scale = dt_bias_scale
            p.add_(scale * torch.randn(p.shape, generator=gen))


def tensors_in(obj, max_depth, depth=0):
    """Every tensor reachable from a cache object (its layout differs between transformers versions)."""
    if torch.is_tensor(obj):
        yield obj
    elif depth < max_depth and isinstance(obj, dict):
        for v in obj.values():
            yield from tensors_in(v, max_depth, depth + 1)
    elif depth < max_depth and isinstance(obj, (list, tuple)):
        for v in obj:
            yield from tensors_in(v, max_depth, depth + 1)
    elif depth < max_depth and hasattr(obj, "__dict__"):
        for v in vars(obj).values():
            yield from tensors_in(v, max_depth, depth + 1)


def forward_reference(model, ids):
    """The forward with labels = ids and a cache: (the model's output, the reference dict with input_ids, logits,
    loss and hidden_states.j, the residual stream after each block and then after norm_f)."""
    captured = []
    hooks = [layer.register_forward_hook(lambda m, i, o: captured.append(o.detach().clone()))
             for layer in model.backbone.layers]
    hooks.append(model.backbone.norm_f.register_forward_hook(lambda m, i, o: captured.append(o.detach().clone())))
    with torch.no_grad():
        r = model(ids, labels=ids, use_cache=True)
    for h in hooks:
        h.remove()
    ref = {"input_ids": ids.to(torch.int64), "logits": r.logits.float().contiguous(),
           "loss": r.loss.reshape(1).float()}
    for j, h in enumerate(captured):
        ref["hidden_states.%d" % j] = h.float().contiguous()
    return r, ref


def write_full_ft_grads(model, ids, folder):
    """full-ft-grads.safetensors: <parameter>.grad of the loss (labels = ids) for every parameter, and loss."""
    model.zero_grad()
    loss = model(ids, labels=ids).loss
    loss.backward()
    grads = {"loss": loss.detach().reshape(1).float()}
    for pname, p in model.named_parameters():
        grads[pname + ".grad"] = p.grad.detach().float().contiguous()
    save_file(grads, os.path.join(folder, "full-ft-grads.safetensors"))
    return loss
