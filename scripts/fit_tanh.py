#!/usr/bin/env python3
"""Fits the float tanh of xgrad::pointwise (xgrad/autograd/pointwise.hpp,
detail::tanh_value) and checks it on every float.

tanh(x) ~ x P(x^2) / Q(x^2), P of degree 6 and Q of degree 3 in x^2, P(0) =
Q(0) = 1, on [0, 7.9053] (past it tanh rounds to 1 in float). Linearized
weighted least squares for the relative error (Sanathanan-Koerner: divide by
the previous Q), with Lawson reweighting toward the worst points; the best
iterate is kept and its coefficients rounded to float. The check evaluates
the rational in float exactly as the C++ does (x2 = x*x; Horner with a
separate multiply and add; x*p, then / q) on every float from 0 to 2M ulps
past the clamp, against tanh in double rounded to float, and prints the
largest distance in ulps and a histogram of distances.

Needs numpy (Debian: python3-numpy). Takes about a minute (--step 16: a
sixteenth of the floats, a few seconds). Only for provenance: nothing in the
build runs it.
"""
import argparse

import numpy as np

NP, NQ = 6, 3
LIMIT = float(np.float32(7.90531110763549805))


def fit():
    s = LIMIT * LIMIT
    xs = np.concatenate([np.linspace(1e-3, LIMIT, 60000), np.geomspace(1e-7, 1e-3, 2000)])
    xs.sort()
    t = np.tanh(xs)
    u = xs * xs / s  # x^2 scaled to [0, 1] for conditioning
    q_prev = np.ones_like(xs)
    w = np.ones_like(xs)
    best = None
    for it in range(300):
        a = np.concatenate([np.stack([xs * u**i for i in range(NP + 1)], 1),
                            np.stack([-t * u**j for j in range(1, NQ + 1)], 1)], 1)
        weight = w / (t * q_prev)
        sol, *_ = np.linalg.lstsq(a * weight[:, None], t * weight, rcond=None)
        p = sol[:NP + 1]
        q = np.concatenate([[1.0], sol[NP + 1:]])
        q_prev = np.polyval(q[::-1], u)
        err = np.abs(xs * np.polyval(p[::-1], u) / q_prev / t - 1)
        if best is None or err.max() < best[0]:
            best = (err.max(), p.copy(), q.copy())
        if it >= 20:
            w = w * (err / err.max())**0.3
            w = w / w.max() + 1e-9
    _, p, q = best
    pc = np.array([p[i] / s**i for i in range(NP + 1)], dtype=np.float32)
    qc = np.array([q[j] / s**j for j in range(NQ + 1)], dtype=np.float32)
    return best[0], pc, qc


def rational(x, pc, qc):
    x = np.minimum(x, np.float32(LIMIT))
    x2 = x * x
    p = np.full_like(x, pc[-1])
    for k in range(NP - 1, -1, -1):
        p = p * x2 + pc[k]
    q = np.full_like(x, qc[-1])
    for k in range(NQ - 1, -1, -1):
        q = q * x2 + qc[k]
    return np.where(x == np.float32(LIMIT), np.float32(1), x * p / q)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--step", type=int, default=1, help="check every step-th float")
    args = ap.parse_args()
    rel, pc, qc = fit()
    print(f"relative error of the fit in double: {rel:.3g}")
    print("P (x^2 powers 0..6):", [float.hex(float(v)) for v in pc])
    print("Q (x^2 powers 0..3):", [float.hex(float(v)) for v in qc])
    top = int(np.float32(LIMIT).view(np.uint32)) + 2_000_000
    hist = np.zeros(64, dtype=np.int64)
    worst, worst_at, above_one = 0, 0.0, 0
    for start in range(0, top, 1 << 24):
        x = np.arange(start, min(start + (1 << 24), top), args.step, dtype=np.uint32).view(np.float32)
        r = rational(x, pc, qc)
        ref = np.tanh(x.astype(np.float64)).astype(np.float32)
        d = np.abs(r.view(np.int32).astype(np.int64) - ref.view(np.int32).astype(np.int64))
        hist += np.bincount(np.minimum(d, 63), minlength=64)
        i = int(d.argmax())
        if d[i] > worst:
            worst, worst_at = int(d[i]), float(x[i])
        above_one += int((r > 1).sum())
    total = int(hist.sum())
    print(f"floats checked: {total}; largest error {worst} ulp (at x = {worst_at}); above 1: {above_one}")
    print("ulps: count", {k: int(hist[k]) for k in range(8) if hist[k]})
    print(f"equal: {hist[0] / total:.4f}; within 1 ulp: {(hist[0] + hist[1]) / total:.4f}")


if __name__ == "__main__":
    main()
