"""The register tile of the scoring product, written as LLVM vector IR.

``score_tile(Q, YT, out, q, j, c)`` computes, for r = 0..ROWS-1 and the COLS columns from c::

    out[j + r, c:c + COLS] = sum over f of Q[q + r, f] * YT[f, c:c + COLS]

the ``ROWS x COLS`` block of scores kept in vector registers through all the factors: per
factor, COLS / 16 vector loads of ``YT``, ROWS broadcasts of ``Q`` and ROWS * COLS / 16
fused multiply-adds; the scores are written once at the end. The sums run over the factors
in order (the first a product, then one multiply-add per factor), as the loop in
``topk._score_block_loops`` adds them, so the two give the same floats.

Why IR: Numba compiles the loop nest above with LLVM's auto-vectoriser, which on this
machine's CPUs prefers 256-bit vectors and does not keep a block of scores in registers
across the factor loop, so every few factors it reloads and stores the scores: that loop
is bound by cache traffic at ~60% of the 256-bit peak. An ``<16 x float>`` in IR is one
AVX-512 register, and the two 512-bit FMA units do twice the 256-bit work per cycle.
Where the CPU lacks AVX-512 (``WIDE`` is False), ``topk`` keeps the loop instead.
"""

from llvmlite import binding as ll
from llvmlite import ir
from numba import types
from numba.core import cgutils, config
from numba.extending import intrinsic, overload

from ._ir import element_pointer, load, splat, store

LANES = 16  # float32 lanes of a 512-bit register
ROWS = 8  # queries of a tile
COLS = 2 * LANES  # candidates of a tile: 16 accumulators of 32 registers


def _has_avx512() -> bool:
    """Whether Numba compiles for a CPU with AVX-512F (NUMBA_CPU_FEATURES, else the host)."""
    features = config.CPU_FEATURES
    if features is None:
        features = "" if config.CPU_NAME else ll.get_host_cpu_features().flatten()
    return "+avx512f" in features.split(",")


WIDE = _has_avx512()


@intrinsic
def score_tile(typingctx, Q, YT, out, q, j, c):
    """out[j + r, c:c + COLS] = Q[q + r] . YT[:, c:c + COLS], r < ROWS (no bounds checks).

    Q (n_q, f), YT (f, n_c) and out: 2-D C-contiguous float32; f >= 1.
    """
    for array in (Q, YT, out):
        if not (
            isinstance(array, types.Array)
            and array.ndim == 2
            and array.layout == "C"
            and array.dtype == types.float32
        ):
            raise TypeError(f"score_tile needs 2-D C-contiguous float32 arrays, got {array}")
    sig = types.void(Q, YT, out, types.intp, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        q_type, yt_type, out_type = signature.args[:3]
        Q_, YT_, out_, q_, j_, c_ = args
        intp = context.get_value_type(types.intp)
        vector = ir.VectorType(ir.FloatType(), LANES)
        fma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vector, [vector] * 3), f"llvm.fma.v{LANES}f32"
        )
        yt = context.make_array(yt_type)(context, builder, YT_)
        n_factors = cgutils.unpack_tuple(builder, yt.shape, 2)[0]
        rows = [builder.add(q_, ir.Constant(intp, r)) for r in range(ROWS)]
        cols = [builder.add(c_, ir.Constant(intp, v * LANES)) for v in range(COLS // LANES)]

        def terms(f):
            """Q[q + r, f] as vectors, r < ROWS; YT[f, c:c + COLS] as COLS / LANES vectors."""
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
                    element_pointer(context, builder, yt_type, YT_, f, col),
                    vector,
                    align=4,
                )
                for col in cols
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


def score_tiles(Q, YT, q0, q1, c_lo, c_hi, scores):
    """Score the queries q0..q_end-1 against columns c_lo..c_end-1 by tiles; (q_end, c_end).

    scores[q - q0, c] as in ``topk._score_block``. The rest (rows q_end..q1-1, columns
    c_end..c_hi-1) is the caller's: everything, where the arrays or the CPU do not suit
    ``score_tile`` (not float32 or not C-contiguous, or no AVX-512).
    """
    raise NotImplementedError("compiled only: call from a Numba function")


def _suits_tile(*arrays):
    return all(
        isinstance(a, types.Array) and a.ndim == 2 and a.layout == "C" and a.dtype == types.float32
        for a in arrays
    )


@overload(score_tiles, jit_options={"cache": True})
def _score_tiles(Q, YT, q0, q1, c_lo, c_hi, scores):
    if not (WIDE and _suits_tile(Q, YT, scores)):
        return lambda Q, YT, q0, q1, c_lo, c_hi, scores: (q0, c_lo)

    def tiles(Q, YT, q0, q1, c_lo, c_hi, scores):
        q_end = q0 + (q1 - q0) // ROWS * ROWS
        c_end = c_lo + (c_hi - c_lo) // COLS * COLS
        if Q.shape[1] == 0:
            return q0, c_lo
        for c in range(c_lo, c_end, COLS):  # a column panel of YT stays in L1 for all rows
            for q in range(q0, q_end, ROWS):
                score_tile(Q, YT, scores, q, q - q0, c)
        return q_end, c_end

    return tiles
