"""bench/peer_torch.py — the PyTorch peer of bench/bench_ops.c: same ops, shapes, thread count,
FLOP formulas and CSV columns (impl,op,shape,threads,gflop,median_ms,min_ms,gflops), impl = torch.

Not part of the build or CI (bench/README.md): run it from a venv with bench/requirements.txt.

    python bench/peer_torch.py [--threads T] [--reps R] [--warmup W]

Ops are what diffusers runs for the same layers on the CPU: F.conv2d (oneDNN), F.linear,
and F.scaled_dot_product_attention on [B, H, L, dh] views of [B, L, H*dh] tensors (diffusers
AttnProcessor2_0; PyTorch's CPU flash-attention kernel). Forward-only rows run under
torch.no_grad(); fwd+bwd rows run the forward with autograd and backward(grad) into fresh
.grad buffers, as a training step does. The sgemm_ceiling row is torch.mm on 2048³ float32.
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def times_ms(fn, reps, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def row(op, shape, flop, fn, args):
    t = times_ms(fn, args.reps, args.warmup)
    ms = statistics.median(t)
    print(f"torch,{op},{shape},{args.threads},{flop * 1e-9:.4f},{ms:.3f},{min(t):.3f},"
          f"{flop * 1e-9 / (ms * 1e-3):.2f}", flush=True)


def leaf(*shape):
    return torch.randn(*shape, dtype=torch.float32).requires_grad_(True)


def bench_conv(B, C, HW, args):
    x, w, b = leaf(B, C, HW, HW), leaf(C, C, 3, 3), leaf(C)
    dout = torch.randn(B, C, HW, HW)
    flop = 2.0 * B * C * HW * HW * C * 9
    shape = f"B{B}_C{C}-{C}_{HW}x{HW}"

    def fwd():
        with torch.no_grad():
            F.conv2d(x, w, b, stride=1, padding=1)

    def fwdbwd():
        x.grad = w.grad = b.grad = None
        F.conv2d(x, w, b, stride=1, padding=1).backward(dout)

    row("conv3x3_fwd", shape, flop, fwd, args)
    row("conv3x3_fwdbwd", shape, 3 * flop, fwdbwd, args)


def bench_linear(N, C_in, C_out, args):
    x, w, b = leaf(N, C_in), leaf(C_out, C_in), leaf(C_out)
    dout = torch.randn(N, C_out)

    def fwdbwd():
        x.grad = w.grad = b.grad = None
        F.linear(x, w, b).backward(dout)

    row("linear_fwdbwd", f"N{N}_{C_in}-{C_out}", 3 * 2.0 * N * C_in * C_out, fwdbwd, args)


def bench_attention(B, H, Lq, Lk, dh, args):
    q, k, v = leaf(B, Lq, H * dh), leaf(B, Lk, H * dh), leaf(B, Lk, H * dh)
    dout = torch.randn(B, Lq, H * dh)

    def attn():
        qh = q.view(B, Lq, H, dh).transpose(1, 2)
        kh = k.view(B, Lk, H, dh).transpose(1, 2)
        vh = v.view(B, Lk, H, dh).transpose(1, 2)
        o = F.scaled_dot_product_attention(qh, kh, vh)
        return o.transpose(1, 2).reshape(B, Lq, H * dh)

    def fwd():
        with torch.no_grad():
            attn()

    def fwdbwd():
        q.grad = k.grad = v.grad = None
        attn().backward(dout)

    flop = 4.0 * B * H * Lq * Lk * dh
    shape = f"B{B}_H{H}_Lq{Lq}_Lk{Lk}_dh{dh}"
    row("attn_fwd", shape, flop, fwd, args)
    row("attn_fwdbwd", shape, 3 * flop, fwdbwd, args)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"# peer_torch: torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"median of {args.reps} reps after {args.warmup} warm-up")
    print("impl,op,shape,threads,gflop,median_ms,min_ms,gflops")

    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    row("sgemm_ceiling", f"M{n}_N{n}_K{n}", 2.0 * n * n * n, lambda: torch.mm(a, b), args)

    bench_conv(8, 64, 32, args)
    bench_conv(8, 128, 16, args)
    bench_linear(8 * 256, 320, 320, args)
    bench_linear(8 * 256, 320, 1280, args)
    bench_attention(8, 5, 256, 256, 64, args)
    bench_attention(8, 5, 256, 77, 64, args)


if __name__ == "__main__":
    main()
