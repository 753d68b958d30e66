"""PyTorch side of bench/burn/run.sh.

  make DIR           seeded ResNet-18 weights (width 64, 3 channels, 1000 classes; He-normal
                     convolutions, batch norm statistics away from identity: the generator of
                     tests/fixtures/burn/reference.py) as DIR/resnet18.safetensors, and a seeded
                     batch of 8 x 3 x 224 x 224 images as DIR/input.safetensors
  time DIR ITERS     loads the same weights into a torch ResNet-18 (torchvision's layout and
                     names, reference.py's module), eval mode, torch.set_num_threads(2),
                     inference_mode; one warm-up pass, ITERS timed passes; one JSON line
  compare DIR FILE   largest difference between torch's logits and burn's (raw f32 FILE)
"""
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../tests/fixtures/burn"))
import reference as ref  # noqa: E402

LAYERS = [2, 2, 2, 2]


def read_safetensors(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": np.float32, "I64": np.int64}[info["dtype"]]
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=dtype).reshape(info["shape"])
    return out


def make(d):
    rng = np.random.default_rng(2026)
    p = ref.draw(ref.resnet_spec(3, 1000, 64, LAYERS), rng)
    ref.write_safetensors(os.path.join(d, "resnet18.safetensors"), ref.with_num_batches_tracked(p, 0))
    x = rng.normal(0.0, 1.0, (8, 3, 224, 224)).astype(np.float32)
    ref.write_safetensors(os.path.join(d, "input.safetensors"), {"input": x})


def torch_model(d):
    torch, ResNet, _ = ref.torch_modules()
    m = ResNet(3, 1000, 64, LAYERS)
    state = {k: torch.from_numpy(v.copy()) for k, v in read_safetensors(os.path.join(d, "resnet18.safetensors")).items()}
    m.load_state_dict(state, strict=True)
    return torch, m.eval()


def time_torch(d, iters):
    torch, m = torch_model(d)
    torch.set_num_threads(2)
    x = torch.from_numpy(read_safetensors(os.path.join(d, "input.safetensors"))["input"].copy())
    times = []
    with torch.inference_mode():
        y = m(x)
        for _ in range(iters):
            t = time.perf_counter()
            y = m(x)
            times.append(time.perf_counter() - t)
    np.save(os.path.join(d, "torch_logits.npy"), y.numpy())
    times.sort()
    best, median = times[0], times[len(times) // 2]
    print(json.dumps({
        "backend": "torch", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "batch": x.shape[0], "iters": iters, "best_s": round(best, 4), "median_s": round(median, 4),
        "images_per_s": round(x.shape[0] / best, 2), "images_per_s_median": round(x.shape[0] / median, 2),
    }))


def compare(d, path):
    t = np.load(os.path.join(d, "torch_logits.npy"))
    b = np.fromfile(path, dtype="<f4").reshape(t.shape)
    print(json.dumps({"max_abs_diff": float(np.abs(t - b).max()), "max_abs_logit": float(np.abs(t).max()),
                      "same_argmax": bool((t.argmax(1) == b.argmax(1)).all())}))


if __name__ == "__main__":
    cmd, d = sys.argv[1], sys.argv[2]
    if cmd == "make":
        make(d)
    elif cmd == "time":
        time_torch(d, int(sys.argv[3]))
    elif cmd == "compare":
        compare(d, sys.argv[3])
