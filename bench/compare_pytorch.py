#!/usr/bin/python3
"""xgrad vs PyTorch: one training step (forward, backward, Adam) per zoo shape.

Run through bench/compare_pytorch.sh (Debian's /usr/bin/python3 has torch
1.13). For every shape and thread count, xgrad (build/bench/xgrad_bench) and
PyTorch run in alternating fresh processes, ROUNDS times; each process times
STEPS steps after 3 warm-up steps and reports its median. The table shows the
median over rounds:

  xgrad ms, PyTorch ms at its best thread setting (for 2 threads: the best of
  1 thread, 2 threads, 2 threads with OPENBLAS_NUM_THREADS=1, and that with
  OMP_WAIT_POLICY=passive), ratio xgrad / PyTorch, xgrad GFLOP/s of LSTM GEMM
  work (forward 2 B (E+H) 4H per time step, backward twice that) and its
  fraction of the measured sgemm peak at that thread count, and each
  process's peak RSS (ru_maxrss).

--mode eval times inference instead: a forward of the batch in eval mode
under no_grad (xgrad's BM_Predict with batch 0, torch.no_grad()); --mode
latency the same for one sequence of the batch (batch 1: one review in the
sentiment example). GFLOP/s then counts the forward's GEMM work only.

xgrad uses the OpenBLAS core that OPENBLAS_CORETYPE selects (printed).
PyTorch's best setting is also sought with each core of --torch-cores:
by default, on a CPU with AVX-512, SkylakeX (OpenBLAS's AVX-512 kernels,
which PyTorch gets by default where OpenBLAS recognizes the CPU), so
xgrad's own AVX-512 kernel is never measured against a PyTorch held to
AVX2 kernels.
PyTorch's imdb-keras step has no recurrent dropout (nn.LSTM has none); its
input dropout is one mask per sequence, like Keras's and xgrad's.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SHAPES = {
    # name: (index in xgrad_bench, B, T, E, H, vocab, outputs)
    "sine": (0, 950, 50, 1, 50, 0, 1),
    "sum": (1, 800, 10, 1, 32, 0, 2),
    "imdb_torch": (2, 64, 200, 64, 128, 10000, 1),
    "imdb_keras": (3, 64, 200, 128, 128, 10000, 1),
}


def gemm_gflop(shape):
    _, b, t, e, h, _, _ = SHAPES[shape]
    return 3.0 * 2.0 * b * (e + h) * 4 * h * t * 1e-9


# ---- the PyTorch side (runs in a child process) ----------------------------

def torch_worker(shape, threads, steps, mode="train"):
    import ctypes
    import resource

    import torch
    import torch.nn as nn

    torch.set_num_threads(threads)
    # xgrad flushes denormals by default (xgrad/autograd/denormals.hpp); so
    # does PyTorch here unless --torch-keep-denormals, so both do the same
    # arithmetic (on some CPUs denormals cost 10x a whole training step).
    torch.set_flush_denormal(os.environ.get("XGRAD_BENCH_TORCH_FLUSH", "1") == "1")
    torch.manual_seed(0)
    _, B, T, E, H, vocab, outputs = SHAPES[shape]

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab, E) if vocab else None
            self.lstm = nn.LSTM(E, H)
            self.fc = nn.Linear(H, outputs)
            self.dropout = nn.Dropout(0.5) if shape == "imdb_torch" else None

        def forward(self, x):
            if self.embedding is not None:
                x = self.embedding(x)  # (T, B, E)
            if shape == "imdb_keras" and self.training:
                # Keras `dropout=0.2`: one input mask per sequence, all steps.
                keep = (torch.rand(1, x.shape[1], x.shape[2]) >= 0.2).float() / 0.8
                x = x * keep
            _, (h_n, _) = self.lstm(x)
            last = h_n[0]
            if self.dropout is not None:
                last = self.dropout(last)
            return self.fc(last)

    g = torch.Generator().manual_seed(1234)
    if vocab:
        x = torch.randint(0, vocab, (T, B), generator=g)
    else:
        x = torch.rand(T, B, E, generator=g) * 2 - 1
    if shape == "sine":
        y = torch.rand(B, 1, generator=g) * 2 - 1
        loss_fn = nn.MSELoss()
    elif shape == "sum":
        y = torch.randint(0, 2, (B,), generator=g)
        loss_fn = nn.CrossEntropyLoss()
    elif shape == "imdb_torch":
        y = torch.randint(0, 2, (B, 1), generator=g).float()
        loss_fn = nn.BCEWithLogitsLoss()
    else:
        y = torch.randint(0, 2, (B, 1), generator=g).float()
        bce = nn.BCELoss()
        loss_fn = lambda out, target: bce(torch.sigmoid(out), target)

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model = Model()
    opt = torch.optim.Adam(model.parameters())

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    if mode != "train":
        # Inference: eval mode, no_grad; the whole batch, or one sequence.
        model.eval()
        inputs = x if mode == "eval" else x[:, :1]

        def step():
            with torch.no_grad():
                return model(inputs)

        if mode == "latency":
            steps *= 10  # as xgrad's BM_Predict: short calls, more of them
    for _ in range(3):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    core = "unknown"
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "libopenblas" in line or "libblas" in line}
        for lib in libs:
            blas = ctypes.CDLL(lib)
            if hasattr(blas, "openblas_get_corename"):
                blas.openblas_get_corename.restype = ctypes.c_char_p
                core = blas.openblas_get_corename().decode()
                break
    except OSError:
        pass
    print(json.dumps({"median_ms": statistics.median(times), "core": core, "torch": torch.__version__,
                      "rss_before_kib": rss_before}))


# ---- the driver --------------------------------------------------------------

def spawn(cmd, env):
    """Runs cmd with stdout captured; returns (stdout, peak RSS MiB of that process)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.dup2(w, 1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            os.execvpe(cmd[0], cmd, env)
        finally:
            os._exit(127)
    os.close(w)
    chunks = []
    with os.fdopen(r) as f:
        chunks.append(f.read())
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed with status {status}")
    return "".join(chunks), usage.ru_maxrss / 1024.0


def cpu_busy_fraction(seconds=0.5):
    """Fraction of all CPUs busy over `seconds` (other processes' load)."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return v[3] + v[4], sum(v)
    i0, t0 = sample()
    time.sleep(seconds)
    i1, t1 = sample()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


QUIET = {"waited_s": 0.0, "loaded_runs": 0}


def wait_quiet(max_wait):
    """Waits (up to max_wait s) until other processes use < 5% of the CPUs."""
    start = time.time()
    while time.time() - start < max_wait:
        if cpu_busy_fraction() < 0.05:
            QUIET["waited_s"] += time.time() - start
            return
    QUIET["waited_s"] += time.time() - start
    QUIET["loaded_runs"] += 1


def xgrad_run(bench, shape, threads, steps, env, mode="train"):
    index = SHAPES[shape][0]
    env = dict(env, XGRAD_BENCH_STEPS=str(steps))
    if mode == "train":
        name = f"BM_TrainStep/shape:{index}/threads:{threads}/"
    else:
        name = f"BM_Predict/shape:{index}/threads:{threads}/batch:{0 if mode == 'eval' else 1}/"
    out, rss = spawn([bench, f"--benchmark_filter={name}", "--benchmark_format=json"], env)
    data = json.loads(out)["benchmarks"][0]
    return data["median_ms"], rss, data.get("label", "")


TORCH_CORES = []  # extra OPENBLAS_CORETYPE values for PyTorch (--torch-cores)


def default_torch_cores():
    """SkylakeX on a CPU with AVX-512F, unless OPENBLAS_CORETYPE already names an AVX-512 core."""
    current = os.environ.get("OPENBLAS_CORETYPE", "").lower()
    if current in ("skylakex", "cooperlake", "sapphirerapids"):
        return []
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return []
    return ["SkylakeX"] if "avx512f" in flags else []


def torch_settings(threads):
    one = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    if threads == 1:
        settings = [("1 thread", 1, one)]
    else:
        settings = [
            ("1 thread", 1, one),
            ("2 threads", 2, {"OMP_NUM_THREADS": "2"}),
            ("2 thr, OPENBLAS 1", 2, {"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "1"}),
            ("2 thr, OPENBLAS 1, passive", 2,
             {"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "1", "OMP_WAIT_POLICY": "passive"}),
        ]
    # With another core, the settings that win with the inherited one (the
    # other two never have in bench/RESULTS.md).
    for core in TORCH_CORES:
        for name, n, extra in settings[:1] + settings[2:3]:
            settings.append((f"{name}, {core}", n, dict(extra, OPENBLAS_CORETYPE=core)))
    return settings


def torch_run(shape, name_threads_env, steps, env, mode="train"):
    _, threads, extra = name_threads_env
    child_env = dict(env)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY"):
        child_env.pop(k, None)
    child_env.update(extra)
    out, rss = spawn([sys.executable, os.path.abspath(__file__), "--torch-worker", shape, str(threads), str(steps),
                      "--mode", mode], child_env)
    data = json.loads(out.strip().splitlines()[-1])
    return data["median_ms"], rss, data


def sgemm_peak(bench, threads, env):
    out, _ = spawn([bench, f"--benchmark_filter=BM_SgemmPeak/m:1536/n:1536/k:1536/threads:{threads}/",
                    "--benchmark_format=json"], env)
    data = json.loads(out)["benchmarks"][0]
    return data["gflops"] * 1e-9


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--torch-worker", nargs=3, metavar=("SHAPE", "THREADS", "STEPS"), help=argparse.SUPPRESS)
    ap.add_argument("--bench", default=os.path.join(os.path.dirname(__file__), "..", "build", "bench", "xgrad_bench"))
    ap.add_argument("--baseline", metavar="XGRAD_BENCH",
                    help="another build's xgrad_bench (e.g. before a change), run alternating with --bench")
    ap.add_argument("--torch-keep-denormals", action="store_true",
                    help="run PyTorch with its default (denormals kept) instead of torch.set_flush_denormal(True)")
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--mode", choices=("train", "eval", "latency"), default="train",
                    help="train: one training step; eval: a no_grad forward of the batch in eval mode; "
                         "latency: the same for one sequence (batch 1)")
    ap.add_argument("--torch-cores", default="auto", metavar="CORES",
                    help="comma-separated OPENBLAS_CORETYPE values PyTorch also runs with (its best setting counts); "
                         "auto: SkylakeX on a CPU with AVX-512F unless OPENBLAS_CORETYPE is an AVX-512 core; none")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                    help="before each run, wait up to SECONDS for other processes to leave the CPUs idle")
    args = ap.parse_args()
    if args.torch_worker:
        shape, threads, steps = args.torch_worker
        torch_worker(shape, int(threads), int(steps), args.mode)
        return

    TORCH_CORES[:] = (default_torch_cores() if args.torch_cores == "auto" else
                      [] if args.torch_cores == "none" else args.torch_cores.split(","))
    env = dict(os.environ)
    for k in ("XGRAD_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY"):
        env.pop(k, None)
    env["XGRAD_BENCH_TORCH_FLUSH"] = "0" if args.torch_keep_denormals else "1"
    print(f"mode {args.mode}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; PyTorch "
          f"{'keeps denormals' if args.torch_keep_denormals else 'flushes denormals (as xgrad)'}"
          f"{'; PyTorch also with ' + ', '.join(TORCH_CORES) if TORCH_CORES else ''}")
    thread_counts = [int(t) for t in args.threads.split(",")]
    peaks = {}
    for t in thread_counts:
        if args.wait_quiet:
            wait_quiet(args.wait_quiet)
        peaks[t] = sgemm_peak(args.bench, t, env)
    for t, p in peaks.items():
        print(f"sgemm peak (1536^3), {t} thread(s): {p:.1f} GFLOP/s", flush=True)
    rows = []
    cores = set()
    for shape in args.shapes.split(","):
        for threads in thread_counts:
            xs, xrss, bs = [], [], []
            ts = {s[0]: [] for s in torch_settings(threads)}
            trss = {s[0]: [] for s in torch_settings(threads)}
            for _ in range(args.rounds):  # alternate xgrad and PyTorch
                if args.wait_quiet:
                    wait_quiet(args.wait_quiet)
                ms, rss, label = xgrad_run(args.bench, shape, threads, args.steps, env, args.mode)
                xs.append(ms)
                xrss.append(rss)
                cores.add("xgrad: " + label.split("blas_core=")[-1])
                if args.baseline:
                    if args.wait_quiet:
                        wait_quiet(args.wait_quiet)
                    bs.append(xgrad_run(args.baseline, shape, threads, args.steps, env, args.mode)[0])
                for setting in torch_settings(threads):
                    if args.wait_quiet:
                        wait_quiet(args.wait_quiet)
                    ms, rss, data = torch_run(shape, setting, args.steps, env, args.mode)
                    ts[setting[0]].append(ms)
                    trss[setting[0]].append(rss)
                    cores.add(f"torch {data['torch']}: {data['core']}")
            x_ms = statistics.median(xs)
            best = min(ts, key=lambda k: statistics.median(ts[k]))
            t_ms = statistics.median(ts[best])
            # Training: forward + backward GEMM work; inference: the forward's (a third).
            work = gemm_gflop(shape) / (1 if args.mode == "train" else 3)
            if args.mode == "latency":
                work /= SHAPES[shape][1]  # one sequence of the batch
            gflops = work / (x_ms * 1e-3)
            row = {
                "shape": shape, "threads": threads, "xgrad_ms": x_ms, "torch_ms": t_ms, "torch_setting": best,
                "ratio": x_ms / t_ms, "gflops": gflops, "peak_fraction": gflops / peaks[threads],
                "xgrad_rss_mib": max(xrss), "torch_rss_mib": max(trss[best]),
                "torch_all": {k: statistics.median(v) for k, v in ts.items()},
            }
            if bs:
                row["baseline_ms"] = statistics.median(bs)
            rows.append(row)
            print(f"  {shape} x{threads}: xgrad {x_ms:.1f} ms, torch {t_ms:.1f} ms ({best})" +
                  (f", baseline xgrad {row['baseline_ms']:.1f} ms" if bs else ""), flush=True)
    print("BLAS cores: " + "; ".join(sorted(cores)))
    if args.wait_quiet:
        print(f"waited {QUIET['waited_s']:.0f} s for a quiet machine; {QUIET['loaded_runs']} runs started on a loaded one")
    print()
    hdr = ("shape", "thr", "xgrad ms", "torch ms", "ratio", "GFLOP/s", "% peak", "xgrad RSS", "torch RSS",
           "torch best setting")
    print("| " + " | ".join(hdr) + " |")
    print("|" + "|".join("---" for _ in hdr) + "|")
    for r in rows:
        print(f"| {r['shape']} | {r['threads']} | {r['xgrad_ms']:.1f} | {r['torch_ms']:.1f} | {r['ratio']:.2f} | "
              f"{r['gflops']:.0f} | {100 * r['peak_fraction']:.0f}% | {r['xgrad_rss_mib']:.0f} MiB | "
              f"{r['torch_rss_mib']:.0f} MiB | {r['torch_setting']} |")
    if args.baseline:
        print()
        print("| shape | thr | xgrad ms | baseline ms | xgrad / baseline |")
        print("|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['shape']} | {r['threads']} | {r['xgrad_ms']:.1f} | {r['baseline_ms']:.1f} | "
                  f"{r['xgrad_ms'] / r['baseline_ms']:.2f} |")
    print()
    print("PyTorch, every setting (median ms): ")
    for r in rows:
        print(f"  {r['shape']} x{r['threads']}: " + ", ".join(f"{k} {v:.1f}" for k, v in r["torch_all"].items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"peaks": peaks, "rows": rows, "cores": sorted(cores)}, f, indent=1)


if __name__ == "__main__":
    main()
