#!/usr/bin/python3
"""PyTorch fp32 baseline of qlab-bench's training figures.

Trains the model qlab builds (core/src/nn/model.c: LeNet-5, the MLP,
ResNet-20) on the same Fashion-MNIST slice, with the same batch, optimizer
and thread count, and prints one JSON line: the images per second of one
timed pass over the slice (after one untimed warm-up pass, as qlab-bench
warms its own side). qlab-bench starts this script as its own process, so
the baseline runs idle, never next to qlab's thread pools.

Needs Debian's python3-torch (`make bench-deps`); without it the line says
"skipped" with the reason and the exit status is 0, so a bench run still
reports every other figure.
"""

import argparse
import gzip
import json
import os
import struct
import sys
import time

MEAN, STD = 0.2860, 0.3530  # core/src/data/data.c, fashion-mnist


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return dims, data[4 + 4 * ndim :]


def find(directory, base):
    for name in (base, base + ".gz"):
        p = os.path.join(directory, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(os.path.join(directory, base) + "[.gz]")


def load(torch, directory, limit, size):
    dims, pix = read_idx(find(directory, "train-images-idx3-ubyte"))
    _, lab = read_idx(find(directory, "train-labels-idx1-ubyte"))
    n = min(limit, dims[0]) if limit > 0 else dims[0]
    h, w = dims[1], dims[2]
    x = torch.frombuffer(bytearray(pix[: n * h * w]), dtype=torch.uint8)
    x = x.reshape(n, 1, h, w).float().div_(255.0).sub_(MEAN).div_(STD)
    if size > h:  # zero pixels around the image (qlab's fashion-mnist:size=32)
        p = (size - h) // 2
        pad_value = (0.0 - MEAN) / STD
        x = torch.nn.functional.pad(x, (p, size - w - p, p, size - h - p), value=pad_value)
    y = torch.tensor(list(lab[:n]), dtype=torch.long)
    return x, y


def lenet5(nn, h):
    pad = 2 if h < 32 else 0
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=pad), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def mlp(nn, h):
    return nn.Sequential(nn.Flatten(), nn.Linear(h * h, 256), nn.ReLU(),
                         nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def resnet20(nn):
    def conv_bn(cin, cout, k, stride, relu):
        layers = [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout)]
        if relu:
            layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.main = nn.Sequential(conv_bn(cin, cout, 3, stride, True),
                                      conv_bn(cout, cout, 3, 1, False))
            self.short = (conv_bn(cin, cout, 1, stride, False)
                          if stride != 1 or cin != cout else nn.Identity())
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.main(x) + self.short(x))

    layers = [conv_bn(1, 16, 3, 1, True)]
    ch = 16
    for s in range(3):
        oc = 16 << s
        for b in range(3):
            layers.append(Block(ch, oc, 2 if s > 0 and b == 0 else 1))
            ch = oc
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(ch, 10)]
    return nn.Sequential(*layers)


def status_bytes(field):
    """A "<field>: N kB" line of /proc/self/status in bytes. The parent's
    getrusage cannot tell the peak: a child spawned by vfork starts from
    the parent's mark."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=["lenet5", "mlp", "resnet20"], required=True)
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=28, help="image side (32: zero-padded)")
    ap.add_argument("--passes", type=int, default=1, help="timed passes (the best is kept)")
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    out = {"bench": "torch_" + a.model, "threads": a.threads}
    try:
        import torch
        import torch.nn as nn
    except ImportError as e:
        out.update(skipped=True, reason="python3-torch is not installed (make bench-deps): %s" % e)
        print(json.dumps(out))
        return 0
    start_rss = status_bytes("VmRSS")  # interpreter and torch's libraries
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    try:
        x, y = load(torch, a.data_dir, a.images, a.size)
    except OSError as e:
        out.update(skipped=True, reason="Fashion-MNIST: %s" % e)
        print(json.dumps(out))
        return 0
    h = x.shape[2]
    model = {"lenet5": lambda: lenet5(nn, h), "mlp": lambda: mlp(nn, h),
             "resnet20": lambda: resnet20(nn)}[a.model]()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    model.train()

    def one_pass():
        perm = torch.randperm(x.shape[0])
        t0 = time.perf_counter()
        for pos in range(0, x.shape[0], a.batch):
            idx = perm[pos : pos + a.batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        return time.perf_counter() - t0

    one_pass()  # warm-up: allocator, thread pool, oneDNN primitives
    best = min(one_pass() for _ in range(max(1, a.passes)))
    out.update(images=int(x.shape[0]), batch=a.batch, seconds=best,
               images_per_s=x.shape[0] / best, torch=torch.__version__,
               peak_rss_bytes=status_bytes("VmHWM"), start_rss_bytes=start_rss)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
