"""LLVM IR helpers shared by the IR kernels (``masks``, ``tile``, ``gathered``, and ``..fma``).

llvmlite 0.44 moved to opaque pointers (a load names the type it reads); older releases
have typed pointers (cast the pointer instead). These helpers work with both.
"""

from llvmlite import ir
from numba.core import cgutils


def _typed(builder, pointer, typ):
    if getattr(pointer.type, "is_opaque", False):
        return pointer
    return builder.bitcast(pointer, typ.as_pointer())


def load(builder, pointer, typ, align=None):
    """The ``typ`` value at ``pointer``."""
    if getattr(pointer.type, "is_opaque", False):
        return builder.load(pointer, typ=typ, align=align)
    return builder.load(_typed(builder, pointer, typ), align=align)


def store(builder, value, pointer, align=None):
    builder.store(value, _typed(builder, pointer, value.type), align=align)


def element_pointer(context, builder, array_type, array, *indices):
    """Address of array[indices] in a C-contiguous array (no bounds checks)."""
    arr = context.make_array(array_type)(context, builder, array)
    shape = cgutils.unpack_tuple(builder, arr.shape, array_type.ndim)
    offset = indices[0]
    for extent, index in zip(shape[1:], indices[1:], strict=True):
        offset = builder.add(builder.mul(offset, extent), index)
    return builder.gep(arr.data, [offset])


def splat(builder, value, vector):
    """``vector`` with every lane ``value``."""
    one = builder.insert_element(ir.Constant(vector, ir.Undefined), value, cgutils.int32_t(0))
    lanes = ir.Constant(ir.VectorType(ir.IntType(32), vector.count), None)
    return builder.shuffle_vector(one, ir.Constant(vector, ir.Undefined), lanes)


def fma_function(builder, typ):
    """LLVM's fused multiply-add for a float, double or vector of them: a * b + c, rounded once."""
    element = typ.element if isinstance(typ, ir.VectorType) else typ
    suffix = "f32" if isinstance(element, ir.FloatType) else "f64"
    if isinstance(typ, ir.VectorType):
        suffix = f"v{typ.count}{suffix}"
    return cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(typ, [typ] * 3), f"llvm.fma.{suffix}"
    )
