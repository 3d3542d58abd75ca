"""Eight gathered rows of Y at once, in LLVM vector IR: the CG weighted pass's two halves.

For the entries idx..idx+7 of a row's weighted run (rows i_r = indices[idx + r] of Y)::

    dots8(Y, indices, idx, v)      -> (y_{i_0} . v, ..., y_{i_7} . v)   over j < span
    axpy8(Y, indices, idx, t, out) :  out[j] += (sum_r t[r] * Y[i_r, j])  for j < span

``span(Y, v, out)`` is the number of leading factors they cover: k rounded down to a multiple
of 16 for float32 where ``WIDE`` (AVX-512 and the switch on), else 0 (the caller's loops do the
rest, and everything in float64). Per 16 factors a dot costs one 512-bit load and one fused
multiply-add per row, half the instructions of the 256-bit loops ``rows.weighted_pass`` keeps
for the rest. The axpy sums the eight rows' terms first and adds them to ``out`` once: its
chain through ``out``'s memory is one add per block, not eight multiply-adds. The pass is
mostly bound by gathering the rows; what this gains, alone and in whole fits (all-weighted
data only): benchmarks/RESULTS.md, "Adopted levers".

Partial kind (see ``simd``): ``gathered_dots`` / ``gathered_axpy`` do the first ``span``
factors (nothing where it is 0) and the caller's loops the rest.

The dots are summed in 16 lanes and then halved four times (lane j + 8 onto lane j, ...):
a different order from the loops', so float32 results differ from them by rounding (the
tests hold both to the NumPy reference).
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import overload

from .ir import element_pointer, fma_function, load, splat, store
from .switch import LANES, WIDE, ir_kernel, require, suits

ENTRIES = 8  # rows of Y per call


def span(Y, v, out):
    """How many leading factors ``gathered_dots``/``gathered_axpy`` cover for these arrays:
    k // 16 * 16 where they suit the IR, else 0 (compiled only)."""
    raise NotImplementedError("compiled only: call from a Numba function")


def _applies(Y, *vectors):
    return WIDE and suits((Y, *vectors), (2,) + (1,) * len(vectors))


@overload(span, inline="always")
def _span(Y, v, out):
    if _applies(Y, v, out):
        return lambda Y, v, out: Y.shape[1] // LANES * LANES
    return lambda Y, v, out: 0


def _check(Y, indices, vectors):
    require(
        suits((Y, *vectors), (2,) + (1,) * len(vectors)),
        "gathered rows need a 2-D Y and 1-D vectors, C-contiguous float32",
        Y,
        *vectors,
    )
    require(isinstance(indices, types.Array) and indices.ndim == 1, "indices: 1-D array", indices)


def _rows(context, builder, indices_type, indices, idx):
    """The 8 row numbers indices[idx..idx+7], as intp."""
    intp = context.get_value_type(types.intp)
    arr = context.make_array(indices_type)(context, builder, indices)
    rows = []
    for r in range(ENTRIES):
        at = builder.add(idx, ir.Constant(intp, r))
        pointer = cgutils.get_item_pointer(context, builder, indices_type, arr, [at])
        value = builder.load(pointer)
        rows.append(context.cast(builder, value, indices_type.dtype, types.intp))
    return rows


def _chunks(context, builder, Y_type, Y):
    """Loop bound: the number of whole 16-factor chunks of Y's rows."""
    intp = context.get_value_type(types.intp)
    shape = cgutils.unpack_tuple(builder, context.make_array(Y_type)(context, builder, Y).shape, 2)
    return builder.sdiv(shape[1], ir.Constant(intp, LANES))


def _halve_to_scalar(builder, vector):
    """Sum of a <16 x float>'s lanes: lane j + h added onto lane j for h = 8, 4, 2, 1."""
    width = LANES
    while width > 1:
        half = width // 2
        low = builder.shuffle_vector(
            vector, vector, ir.Constant(ir.VectorType(ir.IntType(32), half), list(range(half)))
        )
        high = builder.shuffle_vector(
            vector,
            vector,
            ir.Constant(ir.VectorType(ir.IntType(32), half), list(range(half, width))),
        )
        vector = builder.fadd(low, high)
        width = half
    return builder.extract_element(vector, cgutils.int32_t(0))


@ir_kernel
def dots8(typingctx, Y, indices, idx, v):
    """(Y[indices[idx + r], :s] . v[:s] for r < 8), s = k // 16 * 16; no bounds checks."""
    _check(Y, indices, [v])
    sig = types.UniTuple(types.float32, ENTRIES)(Y, indices, idx, v)

    def codegen(context, builder, signature, args):
        Y_type, indices_type, idx_type, v_type = signature.args
        Y_, indices_, idx_, v_ = args
        intp = context.get_value_type(types.intp)
        idx_ = context.cast(builder, idx_, idx_type, types.intp)
        vector = ir.VectorType(ir.FloatType(), LANES)
        fma = fma_function(builder, vector)
        rows = _rows(context, builder, indices_type, indices_, idx_)
        acc = [cgutils.alloca_once_value(builder, ir.Constant(vector, None)) for _ in rows]
        one = ir.Constant(intp, 1)
        n_chunks = _chunks(context, builder, Y_type, Y_)
        with cgutils.for_range_slice(builder, ir.Constant(intp, 0), n_chunks, one, intp=intp) as (
            chunk,
            _,
        ):
            j = builder.mul(chunk, ir.Constant(intp, LANES))
            vj = load(builder, element_pointer(context, builder, v_type, v_, j), vector, align=4)
            for r, row in enumerate(rows):
                y = load(builder, element_pointer(context, builder, Y_type, Y_, row, j), vector, 4)
                store(builder, builder.call(fma, [y, vj, load(builder, acc[r], vector)]), acc[r])
        sums = [_halve_to_scalar(builder, load(builder, a, vector)) for a in acc]
        return context.make_tuple(builder, signature.return_type, sums)

    return sig, codegen


@ir_kernel
def axpy8(typingctx, Y, indices, idx, t, out):
    """out[:s] += sum over r < 8 of t[r] * Y[indices[idx + r], :s], s = k // 16 * 16."""
    _check(Y, indices, [out])
    if not (isinstance(t, types.UniTuple) and t.count == ENTRIES):
        raise TypeError(f"t must be a tuple of {ENTRIES} floats, got {t}")
    sig = types.void(Y, indices, idx, t, out)

    def codegen(context, builder, signature, args):
        Y_type, indices_type, idx_type, t_type, out_type = signature.args
        Y_, indices_, idx_, t_, out_ = args
        intp = context.get_value_type(types.intp)
        idx_ = context.cast(builder, idx_, idx_type, types.intp)
        vector = ir.VectorType(ir.FloatType(), LANES)
        fma = fma_function(builder, vector)
        rows = _rows(context, builder, indices_type, indices_, idx_)
        ts = [
            splat(
                builder,
                context.cast(builder, builder.extract_value(t_, r), t_type.dtype, types.float32),
                vector,
            )
            for r in range(ENTRIES)
        ]
        one = ir.Constant(intp, 1)
        n_chunks = _chunks(context, builder, Y_type, Y_)
        with cgutils.for_range_slice(builder, ir.Constant(intp, 0), n_chunks, one, intp=intp) as (
            chunk,
            _,
        ):
            j = builder.mul(chunk, ir.Constant(intp, LANES))
            total = None  # sum_r t[r] y_r first, then one add to out: the chain through
            for tr, row in zip(ts, rows, strict=True):  # out's memory is one add per block
                y = load(builder, element_pointer(context, builder, Y_type, Y_, row, j), vector, 4)
                total = builder.fmul(tr, y) if total is None else builder.call(fma, [tr, y, total])
            pointer = element_pointer(context, builder, out_type, out_, j)
            store(builder, builder.fadd(load(builder, pointer, vector, align=4), total), pointer, 4)
        return context.get_dummy_value()

    return sig, codegen


def gathered_dots(Y, indices, idx, v):
    """``dots8`` where ``span(Y)`` > 0, else eight zeros (compiled only)."""
    raise NotImplementedError("compiled only: call from a Numba function")


def gathered_axpy(Y, indices, idx, t, out):
    """``axpy8`` where ``span(Y)`` > 0, else nothing (compiled only)."""
    raise NotImplementedError("compiled only: call from a Numba function")


@overload(gathered_dots, inline="always")
def _gathered_dots(Y, indices, idx, v):
    if _applies(Y, v):
        return lambda Y, indices, idx, v: dots8(Y, indices, idx, v)
    zero = Y.dtype(0)
    return lambda Y, indices, idx, v: (zero, zero, zero, zero, zero, zero, zero, zero)


@overload(gathered_axpy, inline="always")
def _gathered_axpy(Y, indices, idx, t, out):
    if _applies(Y, out):
        return lambda Y, indices, idx, t, out: axpy8(Y, indices, idx, t, out)
    return lambda Y, indices, idx, t, out: None
