"""The PiSSA reference of interop/peft-pissa: a tiny random MambaForCausalLM (transformers), saved before PEFT touches
it; a PiSSA adapter made by Hugging Face PEFT (LoraConfig(init_lora_weights="pissa") on in_proj, x_proj and dt_proj,
which replaces each W by its residual W - s*B0*A0), with lora_A and lora_B then moved away from their start, saved with
save_pretrained; PEFT's logits on fixed tokens, and PEFT's s*B0*A0 of layer 0's x_proj at the start.

    /tmp/venv-m2/bin/python ssm-runtime/core/src/test/python/make_pissa_reference.py \
        ssm-runtime/tests/src/test/resources/interop/peft-pissa

Run once; the folder it writes is committed. torch 2.13 (CPU), transformers 5.18, peft 0.21.
"""
import json
import os
import sys

import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from transformers import MambaConfig, MambaForCausalLM

out = sys.argv[1]
torch.manual_seed(0)
cfg = MambaConfig(vocab_size=64, hidden_size=16, state_size=4, num_hidden_layers=2, expand=2, conv_kernel=4,
                  time_step_rank=2, use_bias=False, use_conv_bias=True, tie_word_embeddings=True)
model = MambaForCausalLM(cfg).eval()
model.save_pretrained(os.path.join(out, "base"), safe_serialization=True)  # W, before PEFT takes its residual
g = torch.Generator().manual_seed(1)
ids = torch.randint(0, 64, (2, 7), generator=g)
with torch.no_grad():
    base_logits = model(ids).logits.float().clone()
targets = ["in_proj", "x_proj", "dt_proj"]
lora = LoraConfig(r=2, lora_alpha=4, target_modules=targets, init_lora_weights="pissa", lora_dropout=0.0)
pm = get_peft_model(model, lora)
pm.eval()
x_proj = pm.base_model.model.backbone.layers[0].mixer.x_proj
s = x_proj.scaling["default"]
with torch.no_grad():
    start_logits = pm(ids).logits.float()
    start_product = (s * x_proj.lora_B["default"].weight @ x_proj.lora_A["default"].weight).float().contiguous()
    for name, p in pm.named_parameters():
        if "lora_A" in name or "lora_B" in name:  # away from the start, so the residual and the factors both count
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
    logits = pm(ids).logits.float()
# the same model in float64 from a float64 SVD of the original W: W + s*B*A - s*B0*A0, where PEFT's float32 residual
# and SVD round
exact = MambaForCausalLM.from_pretrained(os.path.join(out, "base")).eval().double()
params = dict(pm.named_parameters())
with torch.no_grad():
    for i, layer in enumerate(exact.backbone.layers):
        for t in targets:
            mod = getattr(layer.mixer, t)
            w = mod.weight.data
            u, sv, vh = torch.linalg.svd(w, full_matrices=False)
            b0 = u[:, :2] * torch.sqrt(sv[:2] / s)
            a0 = torch.sqrt(sv[:2] / s)[:, None] * vh[:2]
            key = f"base_model.model.backbone.layers.{i}.mixer.{t}."
            a = params[key + "lora_A.default.weight"].double()
            b = params[key + "lora_B.default.weight"].double()
            mod.weight.data = w + s * b @ a - s * b0 @ a0
    exact_logits = exact(ids).logits.float()
pm.save_pretrained(os.path.join(out, "adapter"))
os.remove(os.path.join(out, "adapter", "README.md"))
save_file({"input_ids": ids.contiguous(), "logits": logits.contiguous(), "exact_logits": exact_logits.contiguous(),
           "x_proj_start_product": start_product}, os.path.join(out, "expected.safetensors"))
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump({"made_by": "ssm-runtime/core/src/test/python/make_pissa_reference.py", "torch": torch.__version__,
               "transformers": transformers.__version__, "peft": peft.__version__,
               "lora_config": {"r": 2, "lora_alpha": 4, "target_modules": targets, "init_lora_weights": "pissa"},
               "start_vs_base_max_abs_logit_difference": float((start_logits - base_logits).abs().max()),
               "peft_vs_float64_max_abs_logit_difference": float((logits - exact_logits).abs().max()),
               "expected": "PEFT's logits (2, 7, 64) of the adapted model (A, B moved by 0.1*N(0,1)) on input_ids;"
                           " exact_logits: the same model in float64 (float64 SVD of the original W);"
                           " x_proj_start_product: s*B0*A0 of layer 0's x_proj at the start"}, f, indent=1)
