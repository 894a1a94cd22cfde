#!/usr/bin/env python3
"""Training tokens/s of sffn's dense model in PyTorch eager FP32, the yardstick for sffn's GPU
training in scripts/gpu-check: the same architecture as a model config of configs/model (pre-norm
blocks, LayerNorm (with its bias whatever "bias" says, as in sffn) or RMSNorm with eps 1e-5, tanh-GELU or SwiGLU, bias on or off, rotate-half RoPE
or absolute positions, GQA, tied embeddings), AdamW (0.9, 0.999, wd 0.1) with gradient clipping
at 1.0, random tokens, no dropout, TF32 off. Prints one JSON object.
  python3 bench/torch_train.py --config configs/model/transformer-s.json --batch-size 16 --seq-len 1024
"""
import argparse
import json
import math
import statistics
import sys
import time


def build(cfg, torch):
    nn = torch.nn
    F = torch.nn.functional
    d, nq, nkv = cfg["hidden_dim"], cfg["num_q_heads"], cfg["num_kv_heads"]
    attn = cfg.get("attn_dim", d)
    hd = attn // nq
    bias = cfg.get("bias", True)
    ffn = cfg["ffn_dim"]
    act = cfg.get("act", "gelu")
    rope = cfg.get("pos_emb", "rope") == "rope"
    base = cfg.get("rotary_base", 10000)

    def norm():
        return nn.LayerNorm(d, eps=1e-5) if cfg.get("ln", "layernorm") == "layernorm" else nn.RMSNorm(d, eps=1e-5)

    def rotate(x, cos, sin):  # x [B, H, T, hd], rotate-half form over the whole head
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        return x * cos + torch.cat((-x2, x1), dim=-1) * sin

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = norm(), norm()
            self.qkv = nn.Linear(d, (nq + 2 * nkv) * hd, bias=bias)
            self.o = nn.Linear(nq * hd, d, bias=bias)
            self.fc1 = nn.Linear(d, 2 * ffn if act == "swiglu" else ffn, bias=bias)
            self.fc2 = nn.Linear(ffn, d, bias=bias)

        def forward(self, x, cos, sin):
            b, t, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).split([nq * hd, nkv * hd, nkv * hd], dim=-1)
            q = q.view(b, t, nq, hd).transpose(1, 2)
            k = k.view(b, t, nkv, hd).transpose(1, 2)
            v = v.view(b, t, nkv, hd).transpose(1, 2)
            if rope:
                q, k = rotate(q, cos, sin), rotate(k, cos, sin)
            if nkv != nq:
                k = k.repeat_interleave(nq // nkv, dim=1)
                v = v.repeat_interleave(nq // nkv, dim=1)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.o(y.transpose(1, 2).reshape(b, t, nq * hd))
            h = self.fc1(self.ln2(x))
            if act == "swiglu":
                a, g = h.chunk(2, dim=-1)
                h = F.silu(a) * g
            else:
                h = F.gelu(h, approximate="tanh")
            return x + self.fc2(h)

    class Gpt(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(cfg["vocab_size"], d)
            self.wpe = None if rope else nn.Embedding(cfg["max_position_embeddings"], d)
            self.layers = nn.ModuleList(Block() for _ in range(cfg["num_layers"]))
            self.ln_f = norm()
            self.lm_head = None if cfg.get("tie_word_embeddings", True) else nn.Linear(d, cfg["vocab_size"], bias=False)
            for p in self.parameters():
                if p.dim() >= 2:
                    nn.init.normal_(p, 0.0, cfg.get("initializer_range", 0.02))

        def forward(self, idx, targets):
            t = idx.shape[1]
            x = self.wte(idx)
            cos = sin = None
            if rope:
                inv = base ** (-torch.arange(0, hd // 2, device=idx.device, dtype=torch.float32) * 2 / hd)
                ang = torch.outer(torch.arange(t, device=idx.device, dtype=torch.float32), inv)
                ang = torch.cat((ang, ang), dim=-1)
                cos, sin = ang.cos(), ang.sin()
            else:
                x = x + self.wpe(torch.arange(t, device=idx.device))
            for blk in self.layers:
                x = blk(x, cos, sin)
            x = self.ln_f(x)
            logits = x @ (self.wte.weight if self.lm_head is None else self.lm_head.weight).t()
            return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    return Gpt()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=1024)
    p.add_argument("--steps", type=int, default=20, help="timed steps after 3 warm-up steps")
    p.add_argument("--device", default="cuda")
    args = p.parse_args()
    import torch
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(json.dumps({"skipped": "torch %s sees no CUDA device" % torch.__version__}))
        return 0
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    with open(args.config) as f:
        cfg = json.load(f)
    dev = torch.device(args.device)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    model = build(cfg, torch).to(dev)
    decay = [q for q in model.parameters() if q.dim() >= 2]
    other = [q for q in model.parameters() if q.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.999))
    b, t = args.batch_size, args.seq_len
    gen = torch.Generator(device="cpu").manual_seed(1)
    losses, times = [], []
    for i in range(3 + args.steps):
        tokens = torch.randint(0, cfg["vocab_size"], (b, t + 1), generator=gen).to(dev)
        sync()
        t0 = time.perf_counter()
        loss = model(tokens[:, :-1], tokens[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sync()
        if i >= 3:
            times.append(time.perf_counter() - t0)
        losses.append(loss.item())
    s = statistics.median(times)
    print(json.dumps({"model": args.config, "batch_size": b, "seq_len": t, "steps": args.steps,
                      "tokens_per_s": round(b * t / s, 1), "step_ms": round(s * 1e3, 2),
                      "parameters": sum(q.numel() for q in model.parameters()), "first_loss": round(losses[0], 4),
                      "expected_first_loss": round(math.log(cfg["vocab_size"]), 4),
                      "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu", "torch": torch.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
