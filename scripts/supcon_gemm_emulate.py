#!/usr/bin/env python3
# Developer check (no GPU): emulates the GEMM calls of CudaOps.supConGemm (column-major cuBLAS
# semantics over flat buffers, the same trans flags, offsets and leading dimensions) and the
# kernels' math, against a direct float64 SupCon gradient that is itself checked by finite
# differences. Run: /usr/bin/python3 scripts/supcon_gemm_emulate.py (numpy). Update it with the Java.
import numpy as np
rng = np.random.default_rng(0)

def gemm(transA, transB, m, n, k, alpha, A, aoff, lda, B, boff, ldb, beta, C, coff, ldc):
    def view(buf, off, rows, cols, ld):
        # column-major rows x cols at buf[off:], leading dim ld
        idx = off + np.arange(rows)[:, None] + ld * np.arange(cols)[None, :]
        return idx
    ar, ac = (k, m) if transA else (m, k)
    br, bc = (n, k) if transB else (k, n)
    ia = view(A, aoff, ar, ac, lda); ib = view(B, boff, br, bc, ldb); ic = view(C, coff, m, n, ldc)
    a = A[ia]; b = B[ib]
    if transA: a = a.T
    if transB: b = b.T
    C[ic] = alpha * (a @ b) + (beta * C[ic] if beta != 0 else 0)

def reference(Z, labels, act, tau, taub):
    M = Z.shape[0]
    S = Z @ Z.T / tau
    loss = 0; A = 0
    P = np.zeros((M, M))
    for a in range(M):
        if not act[a]: continue
        ks = [k for k in range(M) if k != a and act[k]]
        pos = [k for k in ks if labels[k] == labels[a]]
        if not pos: continue
        lse = np.log(np.sum(np.exp(S[a, ks])))
        loss += lse - np.mean(S[a, pos]); A += 1
        for k in ks:
            P[a, k] = np.exp(S[a, k] - lse) - (1.0 / len(pos) if labels[k] == labels[a] else 0)
    c = (tau / taub) / A
    return c * loss, c / tau * (P + P.T) @ Z, S

def loss_only(Z, labels, act, tau, taub):
    return reference(Z, labels, act, tau, taub)[0]

def emulate(Z, labels, act, tau, taub, block, symmetric):
    M, D = Z.shape
    ld = (M + 31) // 32 * 32
    ws = np.zeros(M * D * 2 + 64)
    zoff, dzoff = 0, M * D + 16
    ws[zoff:zoff + M * D] = (Z * act[:, None]).ravel()  # row-major [M, D], masked rows zero
    S = np.full(block * ld, np.nan)
    lse = np.zeros(M); invn = np.zeros(M); valid = np.zeros(M, bool); rl = np.zeros(M)
    def rows_kernel(r0, b, write_p):
        for i in range(b):
            a = r0 + i
            row = S[i * ld: i * ld + M]
            ks = [k for k in range(M) if k != a and act[k]]
            pos = [k for k in ks if labels[k] == labels[a]]
            if act[a] and pos:
                valid[a] = True; lse[a] = np.log(np.sum(np.exp(row[ks]))); invn[a] = 1 / len(pos)
                rl[a] = lse[a] - np.sum(row[pos]) * invn[a]
            if write_p:
                newrow = np.zeros(M)
                if valid[a]:
                    for k in ks:
                        newrow[k] = np.exp(row[k] - lse[a]) - (invn[a] if labels[k] == labels[a] else 0)
                S[i * ld: i * ld + M] = newrow
    if symmetric:
        gemm(True, False, M, M, D, 1 / tau, ws, zoff, D, ws, zoff, D, 0, S, 0, ld)
        rows_kernel(0, M, False)
        for a in range(M):
            row = S[a * ld: a * ld + M].copy()
            new = np.zeros(M)
            for k in range(M):
                if not act[a] or k == a or not act[k]: continue
                w = 0
                if valid[a]: w += np.exp(row[k] - lse[a])
                if valid[k]: w += np.exp(row[k] - lse[k])
                if labels[k] == labels[a]: w -= invn[a] + invn[k]
                new[k] = w
            S[a * ld: a * ld + M] = new
        gemm(False, False, D, M, M, 1, ws, zoff, D, S, 0, ld, 0, ws, dzoff, D)
    else:
        ws[dzoff:dzoff + M * D] = 0
        for r0 in range(0, M, block):
            b = min(block, M - r0)
            gemm(True, False, M, b, D, 1 / tau, ws, zoff, D, ws, zoff + r0 * D, D, 0, S, 0, ld)
            rows_kernel(r0, b, True)
            gemm(False, False, D, b, M, 1, ws, zoff, D, S, 0, ld, 1, ws, dzoff + r0 * D, D)
            gemm(False, True, D, M, b, 1, ws, zoff + r0 * D, D, S, 0, ld, 1, ws, dzoff, D)
    A = valid.sum()
    c = (tau / taub) / A
    return c * rl[valid].sum(), c / tau * ws[dzoff:dzoff + M * D].reshape(M, D)

M, D = 37, 5
Z = rng.normal(size=(M, D)) * 0.7
labels = rng.integers(0, 6, M)
act = rng.random(M) < 0.8
tau, taub = 0.5, 0.07
L, G, _ = reference(Z, labels, act, tau, taub)
# finite differences on the reference
eps = 1e-6; fd = np.zeros_like(Z)
for i in range(M):
    for d in range(D):
        Zp = Z.copy(); Zp[i, d] += eps; Zm = Z.copy(); Zm[i, d] -= eps
        fd[i, d] = (loss_only(Zp, labels, act, tau, taub) - loss_only(Zm, labels, act, tau, taub)) / (2 * eps)
print("reference vs finite differences:", np.abs(fd - G).max() / np.abs(G).max())
for block, sym in [(M, True), (M, False), (10, False), (1, False), (36, False)]:
    l2, g2 = emulate(Z, labels, act, tau, taub, block, sym)
    print(f"block {block:3d} sym {sym!s:5}: loss err {abs(l2 - L) / abs(L):.2e} grad err {np.abs(g2 - G * act[:, None]).max() / np.abs(G).max():.2e}")
