"""``graphc.save`` / ``graphc.load``: tensors and nested containers in a format that loads
without executing code (no pickle, no eval).

A file is, in this order::

    magic    8 bytes   b"\\x89GRAPHC\\n"
    version  u32 LE    FORMAT_VERSION
    reserved u32 LE    0
    hlen     u64 LE    length of the header
    dlen     u64 LE    length of the data section
    header   hlen      UTF-8 JSON: {"blobs": [...], "root": <node>}
    padding            zeros up to a multiple of 64
    data     dlen      raw little-endian arrays, each at a 64-byte-aligned offset
    sha256   32 bytes  of everything before it

A node is a JSON null, bool, int, string or finite float, or an object with a "type" key:
``list``/``tuple`` (items), ``dict``/``odict`` (keys and values, themselves nodes, so int
keys stay ints), ``float`` (inf, -inf, nan), ``size`` (a graphc.Size), ``tensor`` or
``ndarray`` (blob: an index into "blobs", each {dtype, shape, offset, nbytes, ...}).
``load`` checks the sizes against the file before reading, then the checksum, then the
header's nesting, numbers and keys before and while parsing it, then every field, and raises
SerializationError on anything that does not fit: it never allocates more than the file's
size (and what its header parses into), never recurses without bound, never resolves a name
to code. ``graphc.testing.fuzz_files`` holds it to that.

``format`` holds the constants, ``writer`` saves, ``reader`` turns a file into a checked
header and data section, ``decoder`` turns those into objects (where loading whole modules,
``weights_only=False``, would add its node types).
"""

from .decoder import load
from .format import FORMAT_VERSION, MAGIC, SerializationError
from .writer import save

__all__ = ["FORMAT_VERSION", "MAGIC", "SerializationError", "load", "save"]
