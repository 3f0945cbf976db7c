#!/usr/bin/env python3
"""reference/derive_dense_reward.py — independent NumPy derivation of the dense-reward fixtures.

Re-derives, without any of the C code, the dense reward predictions of paper Sec. 3.2 (Eq. 9-11,
official code train L554-572; see core/dense_reward.h) for every deterministic strategy, and the
Table-3 metrics (paper App. C; see core/table3.h), on one seeded random case, and writes them to
tests/data/dense_reward/case_n6_t10_d16.txt for tests/test_dense_reward.c and tests/test_table3.c.
CI never runs this script; rerun it by hand (python3 reference/derive_dense_reward.py from the
repository root) only when the definitions change, and commit its output.

Computation differs from the C code on purpose: all cosines come from one Gram matrix per
trajectory (X @ X.T, made exactly symmetric), and predictions are whole-vector expressions.

File format (plain text): a '#' comment line, then sections. A section is a header line
"name ndim d0 d1 ..." followed by prod(d) values, one per line, C (row-major) order, written
with %.17g. Inputs xhat and reward are float32 values (written exactly); expected outputs are
float64.
  xhat [N,T,D], reward [N,T]                               inputs (float32)
  pred_<strategy> [N,T] for copy, interp2, sim2, sim3-fixed, sim3-adaptive, full, and
  pred_sim3-adaptive-all [N,T] (anchor_all_steps = 1)      expected predictions
  anchor_sim3-adaptive [N], anchor_sim3-adaptive-all [N]   expected adaptive anchors
  pred_sim3_by_anchor [N,T-2,T]                            sim3 prediction for anchor k = 1+j
  table3_<strategy> [3] (same names as pred_)              cosine, L1, L2 of Table 3 metrics
"""
import os
import sys

import numpy as np

N, T, D = 6, 10, 16
EPS = 1e-8  # torch.nn.functional.cosine_similarity default
OUT = os.path.join("tests", "data", "dense_reward", "case_n6_t10_d16.txt")


def make_case():
    """A trajectory-like case: x̂ drifts from a to b with noise (so the cosines are positive and
    the weighted averages well-conditioned), rewards have a trend plus noise. The noise level
    grows with n: nearly straight paths make an endpoint the all-steps argmin (§7 item 1), bent
    ones an interior step, so both anchor rules are exercised."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((N, 1, D))
    b = rng.standard_normal((N, 1, D))
    alpha = (np.arange(T) / (T - 1)).reshape(1, T, 1)
    noise = np.linspace(0.05, 0.8, N).reshape(N, 1, 1)
    xhat = (1 - alpha) * a + alpha * b + noise * rng.standard_normal((N, T, D))
    trend = rng.standard_normal((N, 1))
    reward = rng.standard_normal((N, 1)) + trend * np.arange(T) / (T - 1) \
        + 0.3 * rng.standard_normal((N, T))
    return xhat.astype(np.float32), reward.astype(np.float32)


def cosine_matrix(x):
    """cos(x̂_i, x̂_j) for all i, j of one trajectory x [T, D] (float64)."""
    g = x @ x.T
    g = (g + g.T) / 2  # exact symmetry, as the C formula has
    sq = np.maximum(np.diag(g), EPS * EPS)
    return g / np.sqrt(np.outer(sq, sq))


def predict(x, r, refs):
    """Eq. 11: similarity-weighted average of r[refs] at every step, then the queried steps are
    overwritten in the official order first, last, anchor (refs = [first, (anchor,) last])."""
    c = cosine_matrix(x)[:, refs]  # [T, m]
    w = c.sum(axis=1)
    queried = np.zeros(T, dtype=bool)
    queried[refs] = True
    assert np.all(np.abs(w[~queried]) > 0.1), "ill-conditioned weights; change the case"
    pred = (c * r[refs]).sum(axis=1) / w
    pred[refs[0]] = r[refs[0]]
    pred[refs[-1]] = r[refs[-1]]
    pred[refs[len(refs) // 2]] = r[refs[len(refs) // 2]]
    return pred


def adaptive_anchor(x, all_steps):
    c = cosine_matrix(x)
    s = c[:, 0] + c[:, T - 1]
    cand = np.arange(T) if all_steps else np.arange(1, T - 1)
    k = int(cand[np.argmin(s[cand])])
    # The C code must reach the same anchor through a different summation order: demand a clear
    # winner, except for the two endpoints, which tie exactly by construction (see
    # sdpo_cosine in core/dense_reward.h) and go to step 0.
    close = [int(i) for i in cand if s[i] - s[k] < 1e-9]
    assert close == [k] or (close == [0, T - 1] and s[0] == s[T - 1] and k == 0), (close, s)
    return k


def table3(target, pred):
    pred = pred.astype(np.float32).astype(np.float64)  # the C predictions are float32
    mu = target.mean(axis=1, keepdims=True)
    sd = target.std(axis=1, keepdims=True)
    assert np.all(sd > 0)
    z = ((target - mu) / sd).ravel()
    p = ((pred - mu) / sd).ravel()
    cos = np.dot(p, z) / np.sqrt(max(np.dot(p, p), EPS * EPS) * max(np.dot(z, z), EPS * EPS))
    return np.array([cos, np.abs(p - z).sum(), np.sqrt(((p - z) ** 2).sum())])


def main():
    xhat32, reward32 = make_case()
    xhat, reward = xhat32.astype(np.float64), reward32.astype(np.float64)
    steps = np.arange(T)
    preds, anchors = {}, {}
    preds["copy"] = np.repeat(reward[:, T - 1:T], T, axis=1)
    preds["interp2"] = reward[:, :1] + (reward[:, T - 1:T] - reward[:, :1]) * steps / (T - 1)
    preds["sim2"] = np.stack([predict(xhat[n], reward[n], [0, T - 1]) for n in range(N)])
    preds["sim3-fixed"] = np.stack([predict(xhat[n], reward[n], [0, T // 2, T - 1])
                                    for n in range(N)])
    for name, all_steps in (("sim3-adaptive", False), ("sim3-adaptive-all", True)):
        anchors[name] = np.array([adaptive_anchor(xhat[n], all_steps) for n in range(N)])
        preds[name] = np.stack([predict(xhat[n], reward[n], [0, anchors[name][n], T - 1])
                                for n in range(N)])
    preds["full"] = reward.copy()
    by_anchor = np.stack([np.stack([predict(xhat[n], reward[n], [0, k, T - 1])
                                    for k in range(1, T - 1)]) for n in range(N)])
    assert np.any(anchors["sim3-adaptive"] != T // 2), "fixed and adaptive anchors coincide"
    assert np.any(anchors["sim3-adaptive-all"] == 0), "no endpoint anchor in the all-steps case"
    assert np.any(anchors["sim3-adaptive-all"] == anchors["sim3-adaptive"]), "no interior one"

    sections = [("xhat", xhat32), ("reward", reward32)]
    sections += [("pred_" + k, v) for k, v in preds.items()]
    sections += [("anchor_" + k, v) for k, v in anchors.items()]
    sections.append(("pred_sim3_by_anchor", by_anchor))
    sections += [("table3_" + k, table3(reward, v)) for k, v in preds.items()]

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write("# generated by reference/derive_dense_reward.py (numpy %s, default_rng(0)); "
                "do not edit\n" % np.__version__)
        for name, arr in sections:
            arr = np.asarray(arr, dtype=np.float64)
            f.write("%s %d %s\n" % (name, arr.ndim, " ".join(str(d) for d in arr.shape)))
            f.writelines("%.17g\n" % v for v in arr.ravel())
    for k, v in anchors.items():
        print("anchors %-18s %s" % (k, v.tolist()), file=sys.stderr)
    for k, v in preds.items():
        print("table3 %-18s cos %.4f L1 %.3f L2 %.3f" % ((k,) + tuple(table3(reward, v))),
              file=sys.stderr)


if __name__ == "__main__":
    main()
