"""The DoRA reference of interop/peft-dora: a tiny random MambaForCausalLM (transformers), a DoRA adapter made by
Hugging Face PEFT (LoraConfig(use_dora=True) on in_proj, x_proj and dt_proj) with random lora_B and magnitudes away
from their initial norms, saved with save_pretrained, and PEFT's logits on fixed tokens.

    /tmp/venv-m2/bin/python ssm-runtime/core/src/test/python/make_dora_reference.py \
        ssm-runtime/tests/src/test/resources/interop/peft-dora

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
model.save_pretrained(os.path.join(out, "base"), safe_serialization=True)
lora = LoraConfig(r=2, lora_alpha=4, target_modules=["in_proj", "x_proj", "dt_proj"], use_dora=True,
                  lora_dropout=0.0)
pm = get_peft_model(model, lora)
g = torch.Generator().manual_seed(1)
with torch.no_grad():
    for name, p in pm.named_parameters():
        if "lora_B" in name:  # B = 0 would leave the model unchanged
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        elif "lora_magnitude_vector" in name:  # away from ||W||, so m is exercised too
            p.mul_(1 + 0.2 * torch.randn(p.shape, generator=g))
pm.eval()
ids = torch.randint(0, 64, (2, 7), generator=g)
with torch.no_grad():
    logits = pm(ids).logits.float()
pm.save_pretrained(os.path.join(out, "adapter"))
os.remove(os.path.join(out, "adapter", "README.md"))
save_file({"input_ids": ids.contiguous(), "logits": logits.contiguous()}, os.path.join(out, "expected.safetensors"))
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump({"made_by": "ssm-runtime/core/src/test/python/make_dora_reference.py", "torch": torch.__version__,
               "transformers": transformers.__version__, "peft": peft.__version__,
               "lora_config": {"r": 2, "lora_alpha": 4, "target_modules": ["in_proj", "x_proj", "dt_proj"],
                               "use_dora": True},
               "expected": "PEFT's logits (2, 7, 64) of the adapted model on input_ids"}, f, indent=1)
