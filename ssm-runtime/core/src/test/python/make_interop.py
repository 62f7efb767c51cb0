"""Interop transcripts against the Python ecosystem (issue #17): files written by PEFT and transformers for the project
to read, what PEFT and transformers compute on files the project wrote, AdamW and learning-rate schedules, generate,
and a trained byte-level BPE tokenizer. CPU, float32, no download (the base model is the committed mamba-tiny
fixture). Needs torch, transformers, peft, safetensors, tokenizers:

  python3 -m venv /tmp/venv-interop && /tmp/venv-interop/bin/pip install torch transformers peft safetensors tokenizers
  /tmp/venv-interop/bin/python ssm-runtime/core/src/test/python/make_interop.py STEP [STEP...]     (from the repo root)

Steps (each writes its files and a manifest.json saying how they were made):
  peft-out    PEFT LoRA (in_proj, x_proj, lm_head) and prompt tuning trained a few steps by PEFT and saved by
              save_pretrained, with PEFT's logits             -> ssm-runtime/tests/src/test/resources/interop/peft-out/
  peft-in     reads the folders the project wrote (project-lora, project-prompt: PeftModel.from_pretrained;
              project-merged: MambaForCausalLM.from_pretrained) and records the logits Python got for them
                                                               -> ssm-runtime/tests/src/test/resources/interop/peft-in/
              (the Java test InteropFromProjectTest writes those folders; it checks they are byte-identical to the
              committed copies that this step read)
  adamw       torch.optim.AdamW traces with transformers' warm-up schedules -> .../interop/adamw/
  generate    transformers generate (greedy, beam search) on mamba-tiny   -> .../interop/generate/
  tokenizer   a byte-level BPE trained with `tokenizers`, and its encodings of several thousand strings
                                                               -> ssm-runtime/tasks/src/test/resources/tokenizer/trained-bpe/
"""
import json
import math
import os
import random
import sys
import warnings

import torch
from safetensors.torch import save_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))
FIXTURE = os.path.join(ROOT, "ssm-runtime/core/src/test/resources/fixtures/mamba-tiny")
INTEROP = os.path.join(ROOT, "ssm-runtime/tests/src/test/resources/interop")
TOKENIZER_DIR = os.path.join(ROOT, "ssm-runtime/tasks/src/test/resources/tokenizer/trained-bpe")
SCRIPT = "ssm-runtime/core/src/test/python/make_interop.py"


def versions():
    import transformers
    out = {"python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__}
    for mod in ("peft", "safetensors", "tokenizers"):
        try:
            out[mod] = __import__(mod).__version__
        except ImportError:
            pass
    out["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    return out


def manifest(folder, step, **fields):
    m = {"made_by": SCRIPT + " " + step, "versions": versions(), "device": "cpu, float32"}
    m.update(fields)
    with open(os.path.join(folder, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(m, f, indent=1, ensure_ascii=False)
        f.write("\n")


def base_model():
    from transformers import MambaForCausalLM
    model = MambaForCausalLM.from_pretrained(FIXTURE, dtype=torch.float32).eval()
    # what adapter configs record as base_model_name_or_path (instead of this machine's absolute path)
    model.name_or_path = "mamba-tiny"
    return model


def fixed_ids(seed, batch=2, length=16, vocab=256):
    return torch.randint(0, vocab, (batch, length), generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------------------------------------------
def peft_out():
    from peft import LoraConfig, PromptTuningConfig, get_peft_model
    out = os.path.join(INTEROP, "peft-out")
    os.makedirs(out, exist_ok=True)
    ids = fixed_ids(1701)
    train = fixed_ids(1702, batch=4, length=20)
    tensors = {"input_ids": ids}
    notes = {}

    def fit(model, steps, lr):
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
        losses = []
        for _ in range(steps):
            opt.zero_grad()
            loss = model(input_ids=train, labels=train).loss
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        return losses

    # LoRA on in_proj, x_proj and the (tied) head
    torch.manual_seed(17)
    lora_cfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["in_proj", "x_proj", "lm_head"],
                          task_type="CAUSAL_LM")
    model = get_peft_model(base_model(), lora_cfg)
    model.train()
    losses = fit(model, 6, 1e-2)
    model.eval()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.save_pretrained(os.path.join(out, "lora"))
    notes["lora_save_warnings"] = sorted({str(w.message) for w in caught})
    with torch.no_grad():
        tensors["lora.logits"] = model(input_ids=ids).logits.float().contiguous()
        with model.disable_adapter():
            base_logits = model(input_ids=ids).logits.float()
    notes["lora"] = {"config": "LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=[in_proj, x_proj,"
                               " lm_head], task_type=CAUSAL_LM)", "torch.manual_seed": 17,
                     "training": "6 steps of torch.optim.AdamW(lr=1e-2, weight_decay=0) on model(input_ids=train,"
                                 " labels=train).loss, train = randint(0, 256, (4, 20), seed 1702)",
                     "losses": losses,
                     "adapter_moves_logits_by_max_abs": float((tensors["lora.logits"] - base_logits).abs().max())}

    # prompt tuning, 5 virtual tokens
    torch.manual_seed(18)
    # MambaConfig has no attention heads; PEFT asks for the number (unused by prompt tuning)
    prompt_cfg = PromptTuningConfig(num_virtual_tokens=5, num_attention_heads=1, task_type="CAUSAL_LM")
    model = get_peft_model(base_model(), prompt_cfg)
    model.train()
    losses = fit(model, 6, 3e-2)
    model.eval()
    model.save_pretrained(os.path.join(out, "prompt"))
    with torch.no_grad():
        tensors["prompt.logits"] = model(input_ids=ids).logits.float().contiguous()
    notes["prompt"] = {"config": "PromptTuningConfig(num_virtual_tokens=5, num_attention_heads=1, task_type=CAUSAL_LM) (init RANDOM;"
                                 " PEFT refuses a Mamba config without num_attention_heads)",
                       "torch.manual_seed": 18,
                       "training": "6 steps of torch.optim.AdamW(lr=3e-2, weight_decay=0), as for LoRA",
                       "losses": losses,
                       "logits_shape": list(tensors["prompt.logits"].shape)}

    # what PEFT refuses, and what transformers bypasses
    refused = {}
    for target in ("out_proj", "conv1d"):
        try:
            get_peft_model(base_model(), LoraConfig(r=4, target_modules=[target]))
            refused[target] = "accepted"
        except ValueError as e:
            refused[target] = str(e)
    notes["peft_refuses"] = refused
    torch.manual_seed(19)
    model = get_peft_model(base_model(), LoraConfig(r=4, lora_alpha=8, target_modules=["dt_proj", "x_proj"]))
    model.train()
    model(input_ids=train, labels=train).loss.backward()
    grads = {}
    for n, p in model.named_parameters():
        if "lora_A" in n or "lora_B" in n:
            grads[n] = None if p.grad is None else float(p.grad.abs().max())
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "dt_proj" in n and "lora_B" in n:
                p.fill_(1.0)
        model.eval()
        with model.disable_adapter():
            off = model(input_ids=ids).logits
        on = model(input_ids=ids).logits
    notes["dt_proj_lora_bypassed"] = {
        "setup": "LoraConfig(r=4, lora_alpha=8, target_modules=[dt_proj, x_proj]), one backward of the loss",
        "max_abs_grad_per_lora_tensor (None = no gradient)": grads,
        "logits_change_with_dt_proj_lora_B_set_to_1_and_x_proj_lora_B_zero": float((on - off).abs().max()),
        "why": "transformers' MambaMixer computes `self.dt_proj.weight @ time_step` with the bare weight"
               " instead of calling the dt_proj module, so PEFT's LoRA wrapper around dt_proj never runs"}
    save_file(tensors, os.path.join(out, "peft-logits.safetensors"))
    manifest(out, "peft-out", base_model=os.path.relpath(FIXTURE, ROOT) + " (MambaForCausalLM.from_pretrained)",
             files={"lora/": "PeftModel.save_pretrained of the trained LoRA adapter",
                    "prompt/": "PeftModel.save_pretrained of the trained prompt-tuning adapter",
                    "peft-logits.safetensors": "input_ids (2, 16) = randint(0, 256, seed 1701); lora.logits (2, 16,"
                                               " 256) and prompt.logits (2, 21, 256): PeftModel(input_ids=ids).logits"
                                               " after training, in eval mode"},
             **notes)
    print("peft-out:", json.dumps(notes, indent=1)[:3000])


# ---------------------------------------------------------------------------------------------------------------------
def peft_in():
    from peft import PeftModel
    from transformers import MambaForCausalLM
    folder = os.path.join(INTEROP, "peft-in")
    ids = fixed_ids(1801)
    tensors = {"input_ids": ids}
    notes = {}
    for name in ("lora", "prompt"):
        d = os.path.join(folder, "project-" + name)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = PeftModel.from_pretrained(base_model(), d).eval()
        with torch.no_grad():
            tensors[name + ".logits"] = model(input_ids=ids).logits.float().contiguous()
        notes[name] = {"loaded_by": "PeftModel.from_pretrained(MambaForCausalLM.from_pretrained(mamba-tiny), "
                                    "'project-" + name + "')", "peft_config_read": str(model.peft_config["default"]),
                       "warnings": sorted({str(w.message) for w in caught})}
    # a project LoRA folder naming out_proj (the project has LoRA there): what PEFT does with it
    import shutil
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        for f in os.listdir(os.path.join(folder, "project-lora")):
            shutil.copy(os.path.join(folder, "project-lora", f), tmp)
        with open(os.path.join(tmp, "adapter_config.json"), encoding="utf-8") as fh:
            cfg = json.load(fh)
        cfg["target_modules"] = cfg["target_modules"] + ["out_proj"]
        with open(os.path.join(tmp, "adapter_config.json"), "w", encoding="utf-8") as fh:
            json.dump(cfg, fh)
        try:
            PeftModel.from_pretrained(base_model(), tmp)
            notes["out_proj_folder"] = "loaded"
        except ValueError as e:
            notes["out_proj_folder"] = "PeftModel.from_pretrained refuses project-lora with out_proj added to" \
                                       " target_modules: " + str(e)
    merged = MambaForCausalLM.from_pretrained(os.path.join(folder, "project-merged"), dtype=torch.float32).eval()
    with torch.no_grad():
        tensors["merged.logits"] = merged(input_ids=ids).logits.float().contiguous()
    notes["merged"] = {"loaded_by": "MambaForCausalLM.from_pretrained('project-merged')",
                       "tie_word_embeddings": merged.config.tie_word_embeddings}
    sha = {}
    import hashlib
    for sub in ("project-lora", "project-prompt", "project-merged"):
        for f in sorted(os.listdir(os.path.join(folder, sub))):
            with open(os.path.join(folder, sub, f), "rb") as fh:
                sha[sub + "/" + f] = hashlib.sha256(fh.read()).hexdigest()
    save_file(tensors, os.path.join(folder, "python-logits.safetensors"))
    manifest(folder, "peft-in", base_model=os.path.relpath(FIXTURE, ROOT),
             files={"project-lora/, project-prompt/, project-merged/": "written by the project (Java test"
                    " InteropFromProjectTest, which re-creates them and checks they are byte-identical)",
                    "python-logits.safetensors": "input_ids (2, 16) = randint(0, 256, seed 1801); lora.logits,"
                    " prompt.logits, merged.logits: what PEFT / transformers computed on those folders"},
             sha256_of_the_files_read=sha, **notes)
    print("peft-in:", json.dumps(notes, indent=1))


# ---------------------------------------------------------------------------------------------------------------------
def adamw():
    from transformers import (get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup,
                              get_linear_schedule_with_warmup)
    folder = os.path.join(INTEROP, "adamw")
    os.makedirs(folder, exist_ok=True)
    sizes = {"p0": (37,), "p1": (8, 16), "p2": (203,)}
    steps = 8
    runs = {
        "linear_wd0": dict(schedule="linear", warmup=3, weight_decay=0.0, lr=1e-2),
        "cosine_wd01": dict(schedule="cosine", warmup=2, weight_decay=0.1, lr=3e-3),
        "constant_wd001": dict(schedule="constant", warmup=1, weight_decay=0.01, lr=5e-2),
    }
    make = {"linear": get_linear_schedule_with_warmup, "cosine": get_cosine_schedule_with_warmup,
            "constant": lambda opt, w, t: get_constant_schedule_with_warmup(opt, w)}
    gen = torch.Generator().manual_seed(2024)
    init = {k: torch.randn(s, generator=gen) for k, s in sizes.items()}
    grads = [{k: torch.randn(s, generator=gen) * (10.0 ** (i % 3 - 1)) for k, s in sizes.items()}
             for i in range(steps)]
    tensors = {}
    for k in sizes:
        tensors["init." + k] = init[k].clone()
        for i in range(steps):
            tensors["grad.%d.%s" % (i, k)] = grads[i][k].clone()
    lrs = {}
    for name, r in runs.items():
        params = [torch.nn.Parameter(init[k].clone()) for k in sizes]
        opt = torch.optim.AdamW(params, lr=r["lr"], betas=(0.9, 0.999), eps=1e-8, weight_decay=r["weight_decay"])
        sched = make[r["schedule"]](opt, r["warmup"], steps)
        lrs[name] = []
        for i in range(steps):
            lrs[name].append(opt.param_groups[0]["lr"])
            for p, k in zip(params, sizes):
                p.grad = grads[i][k].clone()
            opt.step()
            sched.step()
            for p, k in zip(params, sizes):
                st = opt.state[p]
                tensors["%s.%d.%s.param" % (name, i, k)] = p.detach().clone()
                tensors["%s.%d.%s.exp_avg" % (name, i, k)] = st["exp_avg"].clone()
                tensors["%s.%d.%s.exp_avg_sq" % (name, i, k)] = st["exp_avg_sq"].clone()
        tensors["%s.lr" % name] = torch.tensor(lrs[name], dtype=torch.float64)
    save_file(tensors, os.path.join(folder, "adamw-trace.safetensors"))
    manifest(folder, "adamw", runs=runs, steps=steps, sizes={k: list(s) for k, s in sizes.items()},
             optimizer="torch.optim.AdamW(params, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay) with defaults"
                       " otherwise (foreach/fused None: on CPU the single-tensor path)",
             schedules="transformers get_linear_schedule_with_warmup / get_cosine_schedule_with_warmup (num_cycles"
                       " 0.5) / get_constant_schedule_with_warmup(opt, warmup), stepped after every opt.step()",
             data="torch.Generator().manual_seed(2024): init.<p> = randn(size) for p0, p1, p2, then grad.<i>.<p> ="
                  " randn(size) * 10^(i mod 3 - 1) for step i and p0, p1, p2",
             tensors="<run>.lr (float64, the lr used by step i); <run>.<i>.<p>.param / exp_avg / exp_avg_sq after"
                     " step i")
    print("adamw: lrs", lrs)


# ---------------------------------------------------------------------------------------------------------------------
def generate():
    folder = os.path.join(INTEROP, "generate")
    os.makedirs(folder, exist_ok=True)
    model = base_model()
    rng = random.Random(77)
    prompts = [[rng.randrange(256) for _ in range(n)] for n in (1, 3, 5, 8, 12)]
    cases = []
    for pi, prompt in enumerate(prompts):
        ids = torch.tensor([prompt])
        with torch.no_grad():
            free = model.generate(ids, do_sample=False, num_beams=1, max_new_tokens=12, min_new_tokens=0,
                                  eos_token_id=None, pad_token_id=0)[0, len(prompt):].tolist()
        with torch.no_grad():
            free_beams = model.generate(ids, do_sample=False, num_beams=5, max_new_tokens=6, eos_token_id=None,
                                        pad_token_id=0)[0, len(prompt):].tolist()
        # eos ids the model actually produces: the greedy continuation's third token (it repeats the prompt's last
        # token) and the token the beams settle on, so that hypotheses finish at several lengths
        eos_a, eos_b = free[2], free_beams[1]
        settings = [dict(num_beams=1, max_new_tokens=12, min_new_tokens=0, eos_token_id=None),
                    dict(num_beams=5, max_new_tokens=10, min_new_tokens=0, eos_token_id=None, length_penalty=1.0)]
        for eos in (eos_a, eos_b):
            settings += [
                dict(num_beams=1, max_new_tokens=12, min_new_tokens=0, eos_token_id=eos),
                dict(num_beams=1, max_new_tokens=12, min_new_tokens=4, eos_token_id=eos),
                dict(num_beams=5, max_new_tokens=10, min_new_tokens=0, eos_token_id=eos, length_penalty=1.0),
                dict(num_beams=5, max_new_tokens=12, min_new_tokens=3, eos_token_id=eos, length_penalty=0.6),
                dict(num_beams=5, max_new_tokens=12, min_new_tokens=5, eos_token_id=eos, length_penalty=2.0),
                dict(num_beams=5, max_new_tokens=8, min_new_tokens=2, eos_token_id=eos, length_penalty=-1.0),
                dict(num_beams=5, max_new_tokens=12, min_new_tokens=3, eos_token_id=eos, length_penalty=1.0,
                     early_stopping=True),
                dict(num_beams=3, max_new_tokens=9, min_new_tokens=1, eos_token_id=eos, length_penalty=1.3),
                # long hypotheses favoured while eos is often the best candidate: where the early-stop heuristic
                # decides (transformers 5 compares the best running beam, not the best candidate, with the worst
                # finished hypothesis)
                dict(num_beams=2, max_new_tokens=12, min_new_tokens=0, eos_token_id=eos, length_penalty=2.0),
                dict(num_beams=4, max_new_tokens=12, min_new_tokens=0, eos_token_id=eos, length_penalty=2.0),
                dict(num_beams=5, max_new_tokens=14, min_new_tokens=1, eos_token_id=eos, length_penalty=1.5),
                dict(num_beams=5, max_new_tokens=14, min_new_tokens=0, eos_token_id=eos, length_penalty=3.0),
            ]
        for s in settings:
            kwargs = dict(s)
            with torch.no_grad():
                out = model.generate(ids, do_sample=False, pad_token_id=0, num_return_sequences=1,
                                     return_dict_in_generate=True, output_scores=True, **kwargs)
            new = out.sequences[0, len(prompt):].tolist()
            case = {"prompt": prompt, **{k: v for k, v in s.items()}, "new_tokens": new}
            if s["num_beams"] > 1:
                case["sequence_score"] = float(out.sequences_scores[0])
            cases.append(case)
    with open(os.path.join(folder, "generate.json"), "w", encoding="utf-8") as f:
        json.dump({"cases": cases}, f, indent=1)
        f.write("\n")
    manifest(folder, "generate", base_model=os.path.relpath(FIXTURE, ROOT),
             call="model.generate(torch.tensor([prompt]), do_sample=False, pad_token_id=0, num_return_sequences=1,"
                  " return_dict_in_generate=True, output_scores=True, **setting); early_stopping False unless the"
                  " case says; new_tokens = sequences[0, len(prompt):] (a stop token included; beam outputs may end"
                  " with pad 0 fill)",
             prompts="random.Random(77): lengths 1, 3, 5, 8, 12 of randrange(256)",
             eos="per prompt, the third token of its free greedy continuation (12 tokens, no eos), and the second token of its free 5-beam continuation (6 tokens, no eos)")
    print("generate:", len(cases), "cases")


# ---------------------------------------------------------------------------------------------------------------------
WORDS = ("the of and to in is was for on that with as by at from select where count table name group order "
         "sql query model state space mamba token value offset lora prompt data text number café naïve résumé "
         "straße Ünïcödé żółć Ελληνικά русский язык 日本語 中文 한국어 עברית العربية हिन्दी ไทย "
         "emoji 🙂 🚀 👩‍💻 🇫🇷 ∑ ∫ √ ≤ ≥ → ← ½ ™ © ° µ").split()
SPACES = [" ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \t ", "\u00a0", "\u3000", "    "]
PUNCT = list(".,;:!?'\"()[]{}-_/\\@#$%^&*+=<>|~`") + ["...", "--", "'s", "'re", "n't"]
SPECIAL = ["<|endoftext|>", "<|padding|>"]


def random_text(rng, max_words):
    parts = []
    if rng.random() < 0.15:
        parts.append(rng.choice(SPACES))
    for _ in range(rng.randint(1, max_words)):
        r = rng.random()
        if r < 0.6:
            w = rng.choice(WORDS)
            w = w.capitalize() if rng.random() < 0.1 else (w.upper() if rng.random() < 0.03 else w)
            parts.append(w)
        elif r < 0.72:
            parts.append(str(rng.randint(0, 10 ** rng.randint(1, 7))))
        elif r < 0.85:
            parts.append(rng.choice(PUNCT))
        elif r < 0.9:
            parts.append(rng.choice(SPECIAL))
        elif r < 0.95:
            parts.append("".join(chr(rng.randint(0x20, 0x2FFF)) for _ in range(rng.randint(1, 4))))
        else:
            parts.append(chr(rng.choice([0x1F600, 0x1F680, 0x1F4A9, 0x20000, 0x1D11E]) + rng.randint(0, 20)))
        parts.append(rng.choice(SPACES) if rng.random() < 0.8 else "")
    if rng.random() < 0.15:
        parts.append(rng.choice(SPACES))
    return "".join(parts)


def tokenizer():
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    os.makedirs(TOKENIZER_DIR, exist_ok=True)
    train_rng = random.Random(4242)
    train = [random_text(train_rng, 14) for _ in range(5000)]
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, min_frequency=2, special_tokens=SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(train, trainer=trainer)
    tok.save(os.path.join(TOKENIZER_DIR, "tokenizer.json"))
    tok = Tokenizer.from_file(os.path.join(TOKENIZER_DIR, "tokenizer.json"))
    test_rng = random.Random(4343)
    tests = [random_text(test_rng, 8) for _ in range(3000)]
    tests += ["", " ", "  ", "\n", "\t\t", "<|endoftext|>", "<|endoftext|><|padding|>", "a<|endoftext|>b",
              "e\u0301", "\u00e9", "A\u030a", "ﬁ", "\ufeffBOM", "\u200b\u200d", "x" * 300, " " * 40 + "y"]
    import gzip
    # mtime 0: the same bytes on every run
    with gzip.GzipFile(os.path.join(TOKENIZER_DIR, "encodings.jsonl.gz"), "wb", mtime=0) as gz:
        for t in tests:
            e = tok.encode(t)
            rec = {"text": t, "ids": e.ids, "offsets": [x for o in e.offsets for x in o],
                   "decoded": tok.decode(e.ids, skip_special_tokens=False),
                   "decoded_skip_special": tok.decode(e.ids, skip_special_tokens=True)}
            gz.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
    with open(os.path.join(TOKENIZER_DIR, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
                   "add_prefix_space": False}, f, indent=1)
        f.write("\n")
    manifest(TOKENIZER_DIR, "tokenizer",
             tokenizer="tokenizers.Tokenizer(models.BPE()), normalizer NFC, pre_tokenizer ByteLevel(add_prefix_space"
                       "=False, trim_offsets=True, use_regex=True), post_processor ByteLevel(trim_offsets=True),"
                       " decoder ByteLevel (GPT-NeoX's pipeline); BpeTrainer(vocab_size=700, min_frequency=2,"
                       " special_tokens=[<|endoftext|>, <|padding|>], initial_alphabet=ByteLevel.alphabet())",
             training_data="5000 strings random_text(random.Random(4242), 14): words (ASCII, accented, Greek,"
                           " Cyrillic, CJK, Hangul, Hebrew, Arabic, Devanagari, Thai, emoji incl. ZWJ and flags,"
                           " symbols), numbers, punctuation, special tokens, random BMP characters and astral code"
                           " points, joined by whitespace runs (spaces, tabs, newlines, CRLF, NBSP, U+3000)",
             encodings="encodings.jsonl.gz (gzip of JSON lines): %d strings (3000 random_text(random.Random(4343), 8),"
                       " then edge cases); per line text, ids and offsets of Tokenizer.encode(text) (offsets flattened"
                       " [start0, end0, start1, ...], in code points of the original text),"
                       " decoded = decode(ids, skip_special_tokens=False), decoded_skip_special" % len(tests))
    print("tokenizer: vocab", tok.get_vocab_size(), "tests", len(tests))


if __name__ == "__main__":
    torch.set_default_dtype(torch.float32)
    steps = {"peft-out": peft_out, "peft-in": peft_in, "adamw": adamw, "generate": generate, "tokenizer": tokenizer}
    for s in sys.argv[1:] or ["peft-out", "adamw", "generate", "tokenizer"]:
        steps[s]()
