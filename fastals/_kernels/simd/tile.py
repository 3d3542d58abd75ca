"""The register tile of the scoring product, written as LLVM vector IR.

``score_tile(Q, YP, out, q, j, c)`` computes, for r = 0..ROWS-1 and the COLS columns from c
(a multiple of COLS)::

    out[j + r, c:c + COLS] = sum over f of Q[q + r, f] * YT[f, c:c + COLS]

the ``ROWS x COLS`` block of scores kept in vector registers through all the factors: per
factor, COLS / TILE_LANES vector loads of Y^T, ROWS broadcasts of ``Q`` and
ROWS * COLS / TILE_LANES fused multiply-adds; the scores are written once at the end. With
AVX-512 (``WIDE``) the tile is 8 x 32 (16 accumulators of 16 lanes, of 32 registers); elsewhere
6 x 16 in 256-bit vectors (12 accumulators of 8 lanes, of 16 registers: the shape of BLIS's
Haswell kernel). Y^T comes as ``panels(YT)``:
each COLS-column panel's f rows contiguous (4 * COLS * f bytes), which the tile reads in one
stream instead of f rows 4 * n_c bytes apart. The sums run over the factors in order (the
first a product, then one multiply-add per factor), as the loop in
``topk._score_block_loops`` adds them (with ``..fma``), so the two give the same floats.

Why IR: Numba compiles the loop nest above with LLVM's auto-vectoriser, which on this
machine's CPUs prefers 256-bit vectors and does not keep a block of scores in registers
across the factor loop, so every few factors it reloads and stores the scores: that loop
is bound by cache traffic, not by the FMA units. An ``<16 x float>`` in IR is one AVX-512
register, and the two 512-bit FMA units do twice the 256-bit work per cycle; an ``<8 x
float>`` one AVX2 register. What each step gained: benchmarks/RESULTS.md, "Adopted levers".

Partial kind (see ``simd``): ``score_tiles`` does the whole tiles inside a block and says
which; ``topk`` runs its loops on the rest, and on all of it with ``FASTALS_SIMD=0`` or where
the arrays do not suit.
"""

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import overload

from .ir import element_pointer, fma_function, load, splat, store
from .switch import ENABLED, LANES, WIDE, ir_kernel, require, suits

if WIDE:  # AVX-512 (or FASTALS_SIMD=force)
    ROWS, COLS, TILE_LANES = 8, 2 * LANES, LANES  # queries, candidates, lanes of a vector
else:
    ROWS, COLS, TILE_LANES = 6, 16, 8


def panels(YT):
    """``YT`` (f, n_c) as its whole COLS-column panels: (n_c // COLS * f, COLS), panel p's
    rows at p * f.. (f, COLS) = YT[:, p * COLS:(p + 1) * COLS]. Empty (0, COLS) where
    ``score_tile`` does not apply (not float32, or FASTALS_SIMD=0): the loops do it all."""
    n_factors, n_c = YT.shape
    if not ENABLED or YT.dtype != np.float32:
        return np.empty((0, COLS), YT.dtype)
    n_panels = n_c // COLS
    blocks = YT[:, : n_panels * COLS].reshape(n_factors, n_panels, COLS).transpose(1, 0, 2)
    return np.ascontiguousarray(blocks).reshape(n_panels * n_factors, COLS)


@ir_kernel
def score_tile(typingctx, Q, YP, out, q, j, c):
    """out[j + r, c:c + COLS] = Q[q + r] . YT[:, c:c + COLS], r < ROWS (no bounds checks).

    Q (n_q, f), ``YP = panels(YT)`` and out: 2-D C-contiguous float32; f >= 1; c a
    multiple of COLS.
    """
    require(suits((Q, YP, out), 2), "score_tile needs 2-D C-contiguous float32 arrays", Q, YP, out)
    sig = types.void(Q, YP, out, types.intp, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        q_type, yp_type, out_type = signature.args[:3]
        Q_, YP_, out_, q_, j_, c_ = args
        intp = context.get_value_type(types.intp)
        vector = ir.VectorType(ir.FloatType(), TILE_LANES)
        fma = fma_function(builder, vector)
        queries = context.make_array(q_type)(context, builder, Q_)
        n_factors = cgutils.unpack_tuple(builder, queries.shape, 2)[1]
        rows = [builder.add(q_, ir.Constant(intp, r)) for r in range(ROWS)]
        lanes = [ir.Constant(intp, v * TILE_LANES) for v in range(COLS // TILE_LANES)]
        cols = [builder.add(c_, lane) for lane in lanes]
        panel = builder.mul(builder.sdiv(c_, ir.Constant(intp, COLS)), n_factors)

        def terms(f):
            """Q[q + r, f] as vectors, r < ROWS; YT[f, c:c + COLS] as COLS / TILE_LANES
            vectors."""
            panel_row = builder.add(panel, f)
            qs = [
                splat(
                    builder,
                    load(
                        builder,
                        element_pointer(context, builder, q_type, Q_, row, f),
                        ir.FloatType(),
                    ),
                    vector,
                )
                for row in rows
            ]
            ys = [
                load(
                    builder,
                    element_pointer(context, builder, yp_type, YP_, panel_row, lane),
                    vector,
                    align=4,
                )
                for lane in lanes
            ]
            return qs, ys

        # the accumulators: allocas that LLVM promotes to registers
        acc = [[cgutils.alloca_once(builder, vector) for _ in cols] for _ in rows]
        qs, ys = terms(ir.Constant(intp, 0))  # factor 0: products
        for r, qr in enumerate(qs):
            for v, yv in enumerate(ys):
                store(builder, builder.fmul(qr, yv), acc[r][v])
        with cgutils.for_range_slice(
            builder, ir.Constant(intp, 1), n_factors, ir.Constant(intp, 1), intp=intp
        ) as (f, _):
            qs, ys = terms(f)
            for r, qr in enumerate(qs):
                for v, yv in enumerate(ys):
                    total = builder.call(fma, [qr, yv, load(builder, acc[r][v], vector)])
                    store(builder, total, acc[r][v])
        for r in range(ROWS):
            row = builder.add(j_, ir.Constant(intp, r))
            for v, col in enumerate(cols):
                pointer = element_pointer(context, builder, out_type, out_, row, col)
                store(builder, load(builder, acc[r][v], vector), pointer, align=4)
        return context.get_dummy_value()

    return sig, codegen


def score_tiles(Q, YP, q0, q1, c_lo, c_hi, scores):
    """Score queries q0..q_end-1 against columns c_start..c_end-1 by tiles.

    scores[q - q0, c] as in ``topk._score_block``; returns (q_end, c_start, c_end), the
    whole tiles inside the block. The rest is the caller's: everything where ``YP`` is
    empty or the arrays do not suit ``score_tile`` (not float32, or not C-contiguous).
    """
    raise NotImplementedError("compiled only: call from a Numba function")


@overload(score_tiles, jit_options={"cache": True})
def _score_tiles(Q, YP, q0, q1, c_lo, c_hi, scores):
    if not (ENABLED and suits((Q, YP, scores), 2)):
        return lambda Q, YP, q0, q1, c_lo, c_hi, scores: (q0, c_lo, c_lo)

    def tiles(Q, YP, q0, q1, c_lo, c_hi, scores):
        c_start = (c_lo + COLS - 1) // COLS * COLS
        c_end = c_hi // COLS * COLS
        if YP.shape[0] == 0 or Q.shape[1] == 0 or c_end <= c_start:
            return q0, c_lo, c_lo
        q_end = q0 + (q1 - q0) // ROWS * ROWS
        for c in range(c_start, c_end, COLS):  # a panel of Y^T stays in L1 for all rows
            for q in range(q0, q_end, ROWS):
                score_tile(Q, YP, scores, q, q - q0, c)
        return q_end, c_start, c_end

    return tiles
