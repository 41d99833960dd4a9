"""Peer for bench_teacher.py: training throughput of weaver-core's PyTorch ParticleNet.

Runs inside the peer virtual environment (bench/.venv-peer: torch + weaver-core), never imports
fpgatag. Reads the benchmark inputs from an .npz (x (N, P, F) zero padded, y (N,)), trains
weaver's ``ParticleNet`` with the paper's block sizes (``use_fusion=False``: the paper's
architecture; weaver's default adds a fusion block) and prints one JSON object with the timings.

    python peer_weaver_particlenet.py --inputs in.npz --preset particlenet-lite --batch-size 256 --steps 10
"""

from __future__ import annotations

import argparse
import json
import sys
import time

PRESETS = {
    "particlenet": {"conv_params": [(16, (64, 64, 64)), (16, (128, 128, 128)), (16, (256, 256, 256))],
                    "fc_params": [(256, 0.1)]},
    "particlenet-lite": {"conv_params": [(7, (32, 32, 32)), (7, (64, 64, 64))], "fc_params": [(128, 0.1)]},
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--preset", choices=sorted(PRESETS), required=True)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    ap.add_argument("--trim", action="store_true", help="weaver's SequenceTrimmer (drops padding beyond the batch's longest jets)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    import numpy as np
    import torch
    from weaver.nn.model.ParticleNet import ParticleNet

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = np.load(args.inputs)
    x, y = data["x"], data["y"].astype(np.int64)
    mask = np.any(x != 0, axis=-1)[:, None, :].astype(np.float32)       # (N, 1, P)
    feats = np.ascontiguousarray(np.transpose(x, (0, 2, 1)))            # (N, F, P)
    points = np.ascontiguousarray(feats[:, :2])                          # (N, 2, P): deta, dphi
    dev = torch.device(args.device)
    model = ParticleNet(input_dims=x.shape[-1], num_classes=int(y.max()) + 1, use_fusion=False,
                        trim=args.trim, **PRESETS[args.preset]).to(dev)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    b = args.batch_size
    n_batches = x.shape[0] // b
    tensors = [(torch.from_numpy(points[i * b:(i + 1) * b]).to(dev), torch.from_numpy(feats[i * b:(i + 1) * b]).to(dev),
                torch.from_numpy(mask[i * b:(i + 1) * b]).to(dev), torch.from_numpy(y[i * b:(i + 1) * b]).to(dev))
               for i in range(n_batches)]
    model.train()

    def step(i):
        p, f, m, t = tensors[i % n_batches]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(p, f, m), t)
        loss.backward()
        opt.step()
        return loss

    for i in range(args.warmup):
        step(i)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(args.steps):
        loss = step(i)
    float(loss)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    json.dump({"framework": f"torch {torch.__version__} + weaver-core", "preset": args.preset, "trim": args.trim,
               "batch_size": b, "steps": args.steps, "seconds": dt, "jets_per_second": args.steps * b / dt,
               "n_parameters": int(n_params), "threads": torch.get_num_threads()}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
