"""A row's weighted outer products, sum_i w_i y_i y_i^T, by register tiles in LLVM vector IR.

Cholesky (both objectives) and iALS++'s block step spend their time adding, for each stored
entry of a row, w_i y_i y_i^T to the row's k x k matrix (lower triangle). The loops
(``outer_products_loops``) add four entries per pass over the matrix and are bound by loading
and storing it (~10-15 GFMA/s per core). Here a row's entries are taken a chunk at a time
(about CHUNK_FLOATS / k of them, 8 to 64: what measured fastest) and packed (``pack``: the
rows y_i and w_i y_i, contiguous); ``outer_tile`` then keeps a ROWS x COLS block of the
matrix in vector registers through the chunk: per entry ROWS broadcasts, two vector loads
and eight fused multiply-adds, the block loaded and stored once per chunk. 4 x 16 floats in
256-bit vectors (8 accumulators) keeps both FMA units of an AVX2 core busy: 24-33 GFMA/s per
core on Zen 3 for k = 48..512, 1.5-2.5x the loops (benchmarks/RESULTS.md).

The tiles cover the lower triangle by whole blocks, so a diagonal block also writes the upper
triangle just above its diagonal (zeroed first; the factorisation never reads it). Where k
is not a multiple of COLS the tiles work on a copy padded with zeros (``P``: unaligned rows
measured 2-3x slower). Each element is A's value plus one fused multiply-add per entry in
order, which is how LLVM compiles the loops' four-entry sums too: the two agreed bit for bit
where measured, though nothing guarantees it.

Partial kind (see ``simd``): ``add_outer_products`` runs the tiles on rows of at least
MIN_ENTRIES entries where the switch is on and the arrays are C-contiguous float32, else the
loops.
"""

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import overload

from .._jit import jit
from .ir import element_pointer, fma_function, load, splat, store
from .switch import ENABLED, FLOAT32, ir_kernel, require, suits

ROWS = 4  # rows of the matrix per tile
WIDTH = 8  # float32 lanes of a 256-bit vector
COLS = 2 * WIDTH  # columns of the matrix per tile
CHUNK_FLOATS = 4096  # entries per chunk x padded k: 16 KiB per packed buffer (measured best)
MIN_ENTRIES = 4  # shorter rows: the loops (packing and the tiles' set-up cost more)


@jit()
def outer_scratch(k, like):
    """Scratch for ``add_outer_products`` on k x k matrices of ``like``'s dtype: (W, G, P).
    W and G hold a chunk's packed rows, k rounded up to a multiple of COLS (the extra columns
    stay 0); P is the matrix padded the same way where k is not a multiple of COLS (else
    empty). Small; allocated also where the loops run (float64, the switch off)."""
    padded = -(-k // COLS) * COLS
    side = padded if padded != k else 0
    entries = min(64, max(8, CHUNK_FLOATS // padded))
    dtype = like.dtype
    W = np.zeros((entries, padded), dtype)
    return W, np.zeros((entries, padded), dtype), np.zeros((side, side), dtype)


def _applies(*arrays):
    return ENABLED and suits(arrays, 2, FLOAT32)


@ir_kernel
def outer_tile(typingctx, W, G, n, A, p, q):
    """A[ROWS p + r, COLS q + c] += sum_{j < n} W[j, ROWS p + r] G[j, COLS q + c] for r < ROWS,
    c < COLS: one fused multiply-add per entry, in order (no bounds checks)."""
    require(suits((W, G, A), 2), "outer_tile needs 2-D C-contiguous float32 arrays", W, G, A)
    sig = types.void(W, G, types.intp, A, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        w_type, g_type, _, a_type = signature.args[:4]
        W_, G_, n_, A_, p_, q_ = args
        intp = context.get_value_type(types.intp)
        vector = ir.VectorType(ir.FloatType(), WIDTH)
        fma = fma_function(builder, vector)

        def const(value):
            return ir.Constant(intp, value)

        rows = [builder.add(builder.mul(p_, const(ROWS)), const(r)) for r in range(ROWS)]
        cols = [
            builder.add(builder.mul(q_, const(COLS)), const(v * WIDTH))
            for v in range(COLS // WIDTH)
        ]
        tile = [[element_pointer(context, builder, a_type, A_, a, c) for c in cols] for a in rows]
        acc = [[cgutils.alloca_once(builder, vector) for _ in cols] for _ in rows]
        for r in range(ROWS):
            for v in range(len(cols)):
                store(builder, load(builder, tile[r][v], vector, align=4), acc[r][v])
        with cgutils.for_range_slice(builder, const(0), n_, const(1), intp=intp) as (j, _):
            ws = [
                splat(
                    builder,
                    load(
                        builder, element_pointer(context, builder, w_type, W_, j, a), ir.FloatType()
                    ),
                    vector,
                )
                for a in rows
            ]
            ys = [
                load(builder, element_pointer(context, builder, g_type, G_, j, c), vector, align=4)
                for c in cols
            ]
            for r in range(ROWS):
                for v in range(len(cols)):
                    total = builder.call(fma, [ws[r], ys[v], load(builder, acc[r][v], vector)])
                    store(builder, total, acc[r][v])
        for r in range(ROWS):
            for v in range(len(cols)):
                store(builder, load(builder, acc[r][v], vector), tile[r][v], align=4)
        return context.get_dummy_value()

    return sig, codegen


@jit()
def pack(indices, data, idx, n, Y, offset, W, G):
    """The entries idx..idx+n-1's rows: G[j] = Y[i_j], W[j] = (|c_j| - offset) Y[i_j]."""
    for j in range(n):
        i = indices[idx + j]
        w = abs(data[idx + j]) - offset
        for a in range(Y.shape[1]):
            G[j, a] = Y[i, a]
            W[j, a] = w * Y[i, a]


@jit()
def _tiles(indices, data, start, end, Y, T, offset, W, G):
    """T += the entries' outer products, T's size a multiple of COLS: tiles only."""
    size = T.shape[0]
    for q in range(size // COLS):  # rows of the diagonal block above its diagonal: 0
        for a in range(q * COLS, (q + 1) * COLS):
            for m in range(a + 1, (q + 1) * COLS):
                T[a, m] = 0
    entries = W.shape[0]
    for idx in range(start, end, entries):
        n = min(entries, end - idx)
        pack(indices, data, idx, n, Y, offset, W, G)
        for q in range(size // COLS):  # G's column panel q stays in L1 for all its tiles
            for p in range(q * COLS // ROWS, size // ROWS):
                outer_tile(W, G, n, T, p, q)


# Compiled once and called, not inlined into each kernel (that cost ~6 s of compile per
# kernel): its arithmetic is single multiplies and LLVM's fma, which round the same in every
# copy, so the rule of ``_jit`` (inline what computes) does not apply.
@jit(inline="never")
def tiled_outer_products(indices, data, start, end, Y, A, offset, scratch):
    """A += sum over entries start..end-1 of (|c| - offset) y_i y_i^T, lower triangle (some of
    the upper triangle is overwritten), by ``outer_tile``; ``scratch`` from ``outer_scratch``."""
    W, G, P = scratch
    padded = P.shape[0] > 0
    k = A.shape[0]
    if padded:
        for a in range(k):
            for m in range(a + 1):
                P[a, m] = A[a, m]
    _tiles(indices, data, start, end, Y, P if padded else A, offset, W, G)
    if padded:
        for a in range(k):
            for m in range(a + 1):
                A[a, m] = P[a, m]


@jit()
def outer_products_loops(indices, data, start, end, Y, A, offset):
    """A += sum over entries start..end-1 of (|c| - offset) y_i y_i^T, lower triangle only.

    Four entries at a time: each element of A is loaded and stored once per four rank-1
    updates (the update is bound by those loads and stores, not by the multiply-adds).
    """
    k = A.shape[0]
    idx = start
    while idx + 4 <= end:
        i0, i1, i2, i3 = indices[idx], indices[idx + 1], indices[idx + 2], indices[idx + 3]
        w0 = abs(data[idx]) - offset
        w1 = abs(data[idx + 1]) - offset
        w2 = abs(data[idx + 2]) - offset
        w3 = abs(data[idx + 3]) - offset
        for a in range(k):
            v0, v1, v2, v3 = w0 * Y[i0, a], w1 * Y[i1, a], w2 * Y[i2, a], w3 * Y[i3, a]
            for m in range(a + 1):
                A[a, m] += v0 * Y[i0, m] + v1 * Y[i1, m] + v2 * Y[i2, m] + v3 * Y[i3, m]
        idx += 4
    while idx < end:
        i = indices[idx]
        w = abs(data[idx]) - offset
        for a in range(k):
            wa = w * Y[i, a]
            for m in range(a + 1):
                A[a, m] += wa * Y[i, m]
        idx += 1


def add_outer_products(indices, data, start, end, Y, A, offset, scratch):
    """A += sum over entries start..end-1 of (|c| - offset) y_i y_i^T (``offset``: 1 for
    implicit's objective, 0 for iALS's), lower triangle; ``scratch`` = ``outer_scratch(k, A)``.
    The tiles where they apply, else ``outer_products_loops`` (compiled only)."""
    raise NotImplementedError("compiled only: call from a Numba function")


@overload(add_outer_products, inline="always")
def _add_outer_products(indices, data, start, end, Y, A, offset, scratch):
    if not _applies(Y, A):
        return lambda indices, data, start, end, Y, A, offset, scratch: outer_products_loops(
            indices, data, start, end, Y, A, offset
        )

    def add(indices, data, start, end, Y, A, offset, scratch):
        if end - start >= MIN_ENTRIES:
            tiled_outer_products(indices, data, start, end, Y, A, offset, scratch)
        else:
            outer_products_loops(indices, data, start, end, Y, A, offset)

    return add
