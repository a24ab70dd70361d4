"""An independent float64 GPTQ (Frantar et al., arXiv 2210.17323, Algorithm 1) with AutoGPTQ's
semantics as described in ../shared/reference/gptq.md sections 1.3-1.5, in numpy. Written from
those descriptions for the test suite, not from lmforge's C++ (src/gptq/).

All matrices are numpy float64: W [rows, cols] (rows = output features), X [tokens, cols].
"""

import numpy as np


def hessian(x, n_samples):
    """H = 2 X^T X / n_samples (AutoGPTQ counts sequences, not tokens)."""
    x = np.asarray(x, dtype=np.float64)
    return 2.0 * (x.T @ x) / n_samples


def minmax_params(w, bits, sym):
    """Per-row (scale, zero) of the min/max grid over the columns of w [rows, n]."""
    maxq = 2 ** bits - 1
    lo = np.minimum(w.min(axis=1), 0.0)
    hi = np.maximum(w.max(axis=1), 0.0)
    if sym:
        hi = np.maximum(np.abs(lo), hi)
        lo = np.where(lo < 0, -hi, lo)
    both_zero = (lo == 0) & (hi == 0)
    lo = np.where(both_zero, -1.0, lo)
    hi = np.where(both_zero, 1.0, hi)
    scale = (hi - lo) / maxq
    if sym:
        zero = np.full_like(scale, (maxq + 1) / 2)
    else:
        zero = np.round(-lo / scale)  # numpy rounds half to even, like torch.round
    return scale, zero


def quantize_codes(w, scale, zero, bits):
    maxq = 2 ** bits - 1
    return np.clip(np.round(w / scale) + zero, 0, maxq)


def gptq(w, h, bits, group_size, act_order, sym, damp, block=128, keep_prerounding=False):
    """Returns dict(codes [rows, cols] int, scales [G, rows], zeros [G, rows], g_idx [cols],
    dequantized [rows, cols], prerounding [rows, cols] (w / scale + zero before rounding, in the
    original column order, when keep_prerounding))."""
    w = np.array(w, dtype=np.float64)
    h = np.array(h, dtype=np.float64)
    rows, cols = w.shape
    row_scale = row_zero = None
    if group_size == -1:                       # from W before dead columns are zeroed
        row_scale, row_zero = minmax_params(w, bits, sym)
    dead = np.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    if act_order:
        # descending diagonal; a stable sort of the negated values breaks ties by column index
        perm = np.argsort(-np.diag(h), kind="stable")
    else:
        perm = np.arange(cols)
    w = w[:, perm]
    h = h[perm][:, perm]
    h[np.diag_indices(cols)] += damp * np.mean(np.diag(h))
    # The upper Cholesky factor of H^-1: H^-1 = U^T U.
    hinv = np.linalg.inv(h)
    hinv = (hinv + hinv.T) / 2
    u = np.linalg.cholesky(hinv).T

    gs = cols if group_size == -1 else group_size
    n_groups = (cols + gs - 1) // gs
    scales = np.zeros((n_groups, rows))
    zeros = np.zeros((n_groups, rows))
    codes = np.zeros((rows, cols))
    pre = np.zeros((rows, cols))
    scale, zero = row_scale, row_zero
    for i1 in range(0, cols, block):
        i2 = min(i1 + block, cols)
        w1 = w[:, i1:i2].copy()
        err1 = np.zeros_like(w1)
        for i in range(i2 - i1):
            c = i1 + i
            if group_size != -1 and c % gs == 0:
                # from W as the earlier blocks left it, not from this block's working copy
                scale, zero = minmax_params(w[:, c:c + gs], bits, sym)
                scales[c // gs], zeros[c // gs] = scale, zero
            col = w1[:, i]
            pre[:, c] = col / scale + zero
            q = quantize_codes(col, scale, zero, bits)
            codes[:, c] = q
            deq = scale * (q - zero)
            e = (col - deq) / u[c, c]
            w1[:, i:] -= np.outer(e, u[c, i1 + i:i2])
            err1[:, i] = e
        w[:, i2:] -= err1 @ u[i1:i2, i2:]
    if group_size == -1:
        scales[0], zeros[0] = row_scale, row_zero
    g_idx_perm = np.arange(cols) // gs
    inv = np.argsort(perm)
    codes = codes[:, inv].astype(np.int64)
    pre = pre[:, inv]
    g_idx = g_idx_perm[inv]
    deq = scales[g_idx].T * (codes - zeros[g_idx].T)
    out = dict(codes=codes, scales=scales, zeros=zeros, g_idx=g_idx, dequantized=deq)
    if keep_prerounding:
        out["prerounding"] = pre
    return out


def rtn(w, bits, group_size, sym):
    w = np.array(w, dtype=np.float64)
    rows, cols = w.shape
    gs = cols if group_size == -1 else group_size
    n_groups = (cols + gs - 1) // gs
    scales = np.zeros((n_groups, rows))
    zeros = np.zeros((n_groups, rows))
    codes = np.zeros((rows, cols), dtype=np.int64)
    for g in range(n_groups):
        s, z = minmax_params(w[:, g * gs:(g + 1) * gs], bits, sym)
        scales[g], zeros[g] = s, z
        codes[:, g * gs:(g + 1) * gs] = quantize_codes(w[:, g * gs:(g + 1) * gs], s[:, None], z[:, None], bits)
    g_idx = np.arange(cols) // gs
    return dict(codes=codes, scales=scales, zeros=zeros, g_idx=g_idx)


def relative_error(w, wq, x):
    """||W X^T - Wq X^T|| / ||W X^T|| on the inputs x [tokens, cols]."""
    w = np.asarray(w, dtype=np.float64)
    wq = np.asarray(wq, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    return np.linalg.norm((w - wq) @ x.T) / np.linalg.norm(w @ x.T)
