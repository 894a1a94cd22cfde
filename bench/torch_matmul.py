#!/usr/bin/env python3
"""PyTorch's FP32 matmul on the shapes of `sffn bench kernels` (KernelBench.MATMUL_SHAPES), the
yardstick for the GPU kernels in scripts/gpu-check: one JSON object per line on stdout.

Forms as in sffn (M x N x K of the forward): forward C = A W^T (A [M,K], W [N,K]); backwardInput
dA = dC W; backwardWeight dW = dC^T A. Median of timed rounds after warm-up, CUDA-synchronised.
  python3 bench/torch_matmul.py [--device cuda] [--tf32 off|on|both]
"""
import argparse
import json
import statistics
import sys
import time

SHAPES = [(4096, 3072, 768), (4096, 768, 3072), (16, 3072, 768)]


def timed(fn, sync, seconds=0.05, rounds=7):
    fn()
    sync()
    # calls per round: enough for about `seconds` of work
    t0 = time.perf_counter()
    fn()
    sync()
    once = max(time.perf_counter() - t0, 1e-6)
    calls = max(1, int(seconds / once))
    for _ in range(calls):  # warm-up
        fn()
    sync()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        times.append((time.perf_counter() - t0) / calls)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--tf32", choices=["off", "on", "both"], default="both")
    args = p.parse_args()
    import torch
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(json.dumps({"skipped": "torch %s sees no CUDA device" % torch.__version__}))
        return 0
    dev = torch.device(args.device)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    g = torch.Generator(device="cpu").manual_seed(0)
    for tf32 in (["off", "on"] if args.tf32 == "both" else [args.tf32]):
        torch.backends.cuda.matmul.allow_tf32 = tf32 == "on"
        for m, n, k in SHAPES:
            a = torch.randn(m, k, generator=g).to(dev)
            w = torch.randn(n, k, generator=g).to(dev)
            dc = torch.randn(m, n, generator=g).to(dev)
            flops = 2.0 * m * n * k
            forms = {
                "matmul.forward": lambda: a @ w.t(),
                "matmul.backwardInput": lambda: dc @ w,
                "matmul.backwardWeight": lambda: dc.t() @ a,
            }
            for op, fn in forms.items():
                s = timed(fn, sync)
                print(json.dumps({"op": op, "shape": "%dx%dx%d" % (m, n, k), "tf32": tf32 == "on", "ms": round(s * 1e3, 4),
                                  "gflops": round(flops / s / 1e9, 1), "device": name, "torch": torch.__version__}))
                sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
