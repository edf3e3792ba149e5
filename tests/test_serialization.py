"""graphc.save / graphc.load: round trips of every supported type, and every kind of broken
file raising SerializationError (never crashing, allocating absurdly or returning wrong data)."""
import collections
import hashlib
import io
import json
import math
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc.serialization import MAGIC, SerializationError
from graphc.testing.fuzz_files import Stream
from graphc.testing.hostile_files import assemble, forge  # a valid checksum around any header

DTYPES = [graphc.bool, graphc.uint8, graphc.int8, graphc.int16, graphc.int32, graphc.int64,
          graphc.float16, graphc.float32, graphc.float64]


def roundtrip(obj, **load_kw):
    buf = io.BytesIO()
    graphc.save(obj, buf)
    buf.seek(0)
    return graphc.load(buf, **load_kw)


def saved_bytes(obj) -> bytes:
    buf = io.BytesIO()
    graphc.save(obj, buf)
    return buf.getvalue()


def assert_same(a, b):
    """Equal values and equal types, all the way down (bool is not int, tuple is not list)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, graphc.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b) and [type(k) for k in a] == [type(k) for k in b]
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    elif isinstance(a, float):
        assert a == b and math.copysign(1, a) == math.copysign(1, b)
    else:
        assert a == b


# ---------------------------------------------------------------- round trips

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_tensor_roundtrip_every_dtype_and_shape(dtype, rng):
    for shape in [(), (0,), (3, 0, 2), (5,), (2, 3, 4)]:
        values = rng.normal(size=shape) * 50
        t = graphc.tensor(values).to(dtype)
        back = roundtrip(t)
        assert_same(back, t)
    f16 = graphc.tensor([65504.0, 6e-8, -0.0, float("inf"), float("nan")], dtype=graphc.float16)
    np.testing.assert_array_equal(roundtrip(f16).numpy().view(np.uint16),
                                  f16.numpy().view(np.uint16))  # bit-exact, nan included


def test_views_requires_grad_and_independence():
    base = graphc.arange(24, dtype=graphc.float32).reshape(4, 6)
    views = [base.t(), base[:, ::2], base[1:3, 1:], base.reshape(2, 12)[1]]
    for v in views:
        assert_same(roundtrip(v), v)
    w = graphc.randn(3, 2, requires_grad=True)
    back = roundtrip({"w": w, "x": graphc.ones(2)})
    assert back["w"].requires_grad and back["w"].is_leaf and not back["x"].requires_grad
    loss = (back["w"] * 2).sum()
    loss.backward()
    assert back["w"].grad.tolist() == [[2.0, 2.0]] * 3
    x = roundtrip(base)
    x.add_(1)  # writable, and owns its memory
    assert base[0, 0].item() == 0 and x[0, 0].item() == 1


def test_containers_and_scalars_roundtrip():
    obj = {
        "none": None, "t": True, "f": False, "i": 1, "big": 2**70, "neg": -7,
        "floats": [0.1, -0.0, 1e308, 5e-324, float("inf"), float("-inf"), float("nan")],
        "str": "héllo \u2603 \"quoted\" \n", "empty": ["", [], (), {}],
        "tuple": (1, (2.0, [3, "x"]), None), "size": graphc.Size([2, 3]),
        7: "int key", -1: [1], 2.5: "float key", None: "none key", True: "bool key",
        ("a", 1): "tuple key",
        "np": [np.arange(6, dtype=np.uint32).reshape(2, 3), np.float32(1.5), np.int64(-3),
               np.bool_(True), np.zeros((0, 2), np.complex64)],
    }
    assert_same(roundtrip(obj), obj)
    for scalar in [None, 0, 3.5, "s", True, (), []]:
        assert_same(roundtrip(scalar), scalar)


def test_state_dict_like_ordered_dict():
    sd = collections.OrderedDict()
    for name, shape in [("0.weight", (4, 3)), ("0.bias", (4,)), ("1.running_mean", (4,)),
                        ("1.running_var", (4,)), ("2.weight", (2, 4)), ("2.bias", (2,))]:
        sd[name] = graphc.randn(*shape)
    sd["1.num_batches_tracked"] = graphc.tensor(5)
    back = roundtrip(sd, map_location="cpu", weights_only=True)
    assert type(back) is collections.OrderedDict and list(back) == list(sd)
    assert_same(back, sd)
    assert back["1.num_batches_tracked"].shape == () and back["1.num_batches_tracked"].item() == 5


def test_optimizer_state_like_nested_dict_with_int_keys():
    state = {
        "state": {0: {"step": graphc.tensor(3.0), "exp_avg": graphc.randn(4, 3),
                      "exp_avg_sq": graphc.rand(4, 3)},
                  1: {"step": graphc.tensor(3.0), "exp_avg": graphc.randn(4),
                      "exp_avg_sq": graphc.rand(4)}},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
                          "amsgrad": False, "foreach": None, "params": [0, 1]}],
    }
    back = roundtrip(state, map_location=None)
    assert_same(back, state)
    assert list(back["state"]) == [0, 1] and all(type(k) is int for k in back["state"])


def test_paths_shared_tensors_and_consecutive_objects(tmp_path):
    t = graphc.randn(3)
    path = tmp_path / "ckpt.pt"
    graphc.save({"a": t, "b": t}, path)
    back = graphc.load(str(path))
    assert back["a"] is back["b"]
    assert_same(back["a"], t)
    buf = io.BytesIO()
    graphc.save([1, t], buf)
    graphc.save("second", buf)
    buf.seek(0)
    assert_same(graphc.load(buf), [1, t])
    assert graphc.load(buf) == "second"


def test_layout_magic_and_alignment():
    data = saved_bytes([graphc.ones(3), graphc.zeros(5, dtype=graphc.float64)])
    assert data[:8] == MAGIC
    _, version, _, hlen, dlen = struct.unpack_from("<8sIIQQ", data)
    header = json.loads(data[32:32 + hlen])
    assert version == 1 and [b["offset"] % 64 for b in header["blobs"]] == [0, 0]
    assert len(data) == -(-(32 + hlen) // 64) * 64 + dlen + 32
    assert hashlib.sha256(data[:-32]).digest() == data[-32:]


def test_save_rejects_what_it_cannot_represent():
    with pytest.raises(TypeError, match=r"type builtins.set \(at obj\['x'\]\[1\]\)"):
        graphc.save({"x": [1, {2}]}, io.BytesIO())
    with pytest.raises(TypeError, match="object"):
        graphc.save(np.array(["a"], dtype=object), io.BytesIO())
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        graphc.save(loop, io.BytesIO())
    with pytest.raises(ValueError, match="map_location"):
        graphc.load(io.BytesIO(saved_bytes(1)), map_location="cuda")


# ---------------------------------------------------------------- broken files

SAMPLE = {"w": graphc.arange(12, dtype=graphc.float32).reshape(3, 4), "b": graphc.tensor(True),
          "meta": [1, 2.5, "x", None], 3: (graphc.zeros(0), -1)}


def load_bytes(data: bytes):
    return graphc.load(io.BytesIO(data))


def test_empty_garbage_wrong_magic_and_foreign_files(tmp_path):
    for data, msg in [(b"", "empty"), (b"hello world, not a checkpoint", "not a graphc"),
                      (bytes(range(256)) * 4, "not a graphc"),
                      (b"PK\x03\x04" + bytes(100), "zip archive"),
                      (b"\x80\x02}q\x00.", "pickle"),
                      (b"\x89GRAPHX\n" + saved_bytes(SAMPLE)[8:], "magic"),
                      (MAGIC[:5], "truncated")]:
        with pytest.raises(SerializationError, match=msg):
            load_bytes(data)
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    with pytest.raises(RuntimeError, match=r"empty\.pt: the file is empty"):
        graphc.load(path)
    with pytest.raises(graphc.GraphcError):
        graphc.load(io.BytesIO(b"junk"))


def test_truncated_at_every_point(tmp_path):
    data = saved_bytes(SAMPLE)
    for n in range(1, len(data)):
        with pytest.raises(SerializationError, match="truncated|corrupted"):
            load_bytes(data[:n])
    path = tmp_path / "t.pt"
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(SerializationError, match="t.pt: the file is truncated"):
        graphc.load(path)
    path.write_bytes(data + b"extra")  # a path must hold exactly one object
    with pytest.raises(SerializationError, match="corrupted"):
        graphc.load(path)


def test_every_byte_flipped():
    data = saved_bytes(SAMPLE)
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x41
        with pytest.raises(SerializationError):
            load_bytes(bytes(bad))


def pipe(data: bytes) -> Stream:
    """A stream that cannot seek, so its size is unknown until it ends."""
    return Stream(data, "<pipe>")


@pytest.mark.parametrize("hlen,dlen", [(2**62, 0), (0, 2**62), (2**40, 2**40), (10, 10)])
def test_tampered_sizes_never_allocate(hlen, dlen):
    data = bytearray(saved_bytes(SAMPLE))
    struct.pack_into("<QQ", data, 16, hlen, dlen)
    with pytest.raises(SerializationError, match="truncated|corrupted"):
        load_bytes(bytes(data))
    with pytest.raises(SerializationError, match="truncated|corrupted|checksum"):
        graphc.load(pipe(bytes(data)))  # read in chunks, never the size the header gives


def test_version_and_text_mode(tmp_path):
    data = bytearray(saved_bytes(1))
    data[8] = 99
    with pytest.raises(SerializationError, match="format version 99"):
        load_bytes(bytes(data))
    path = tmp_path / "x.pt"
    graphc.save(1, path)
    with open(path, encoding="latin-1") as text, pytest.raises(TypeError, match="binary"):
        graphc.load(text)
    assert graphc.load(pipe(path.read_bytes())) == 1


def blob(**kw):
    meta = {"kind": "tensor", "dtype": "float32", "shape": [2], "offset": 0, "nbytes": 8}
    meta.update(kw)
    return meta


@pytest.mark.parametrize("header,msg", [
    ({"blobs": [blob(dtype="object")], "root": {"type": "tensor", "blob": 0}}, "dtype"),
    ({"blobs": [blob(dtype="float128")], "root": {"type": "tensor", "blob": 0}}, "dtype"),
    ({"blobs": [blob(dtype="uint32")], "root": {"type": "tensor", "blob": 0}}, "dtype"),
    ({"blobs": [blob(shape=[-2])], "root": {"type": "tensor", "blob": 0}}, "shape"),
    ({"blobs": [blob(shape=[2.0])], "root": {"type": "tensor", "blob": 0}}, "shape"),
    ({"blobs": [blob(nbytes=4)], "root": {"type": "tensor", "blob": 0}}, "needs 8"),
    ({"blobs": [blob(offset=4)], "root": {"type": "tensor", "blob": 0}}, "outside"),
    ({"blobs": [blob(offset=-8)], "root": {"type": "tensor", "blob": 0}}, "offset"),
    ({"blobs": [blob(shape=[2**31, 2**31], nbytes=2**64)],
      "root": {"type": "tensor", "blob": 0}}, "too large for an array"),
    ({"blobs": [blob(kind="ndarray")], "root": {"type": "tensor", "blob": 0}}, "described"),
    ({"blobs": [blob(dtype="int32", requires_grad=True)],
      "root": {"type": "tensor", "blob": 0}}, "requires grad"),
    ({"blobs": [blob()], "root": {"type": "tensor", "blob": 1}}, "blob 1"),
    ({"blobs": [blob(), blob(shape=[1], nbytes=4, offset=4)],
      "root": {"type": "list", "items": [{"type": "tensor", "blob": i} for i in (0, 1)]}},
     "overlaps"),
    ({"blobs": [blob()], "root": {"type": "tensor", "blob": True}}, "blob True"),
    ({"blobs": [], "root": {"type": "pickle", "data": "cos\nsystem"}}, "unknown type"),
    ({"blobs": [], "root": {"type": "list"}}, "items"),
    ({"blobs": [], "root": {"type": "dict", "keys": [1], "values": []}}, "numbers of keys"),
    ({"blobs": [], "root": {"type": "dict", "keys": [{"type": "list", "items": []}],
                            "values": [1]}}, "unhashable"),
    ({"blobs": [], "root": {"type": "float", "value": "1e400"}}, "float node"),
    ({"blobs": [], "root": {"type": "size", "items": [-1]}}, "Size"),
    ({"blobs": [], "root": {"type": "size", "items": [2**63]}}, "Size"),
    ({"blobs": [], "root": [1, 2]}, "malformed node"),
    ({"root": 1}, "blobs"),
    ([1, 2], "not a JSON object"),
])
def test_forged_headers_are_checked(header, msg):
    with pytest.raises(SerializationError, match=msg):
        load_bytes(forge(header, bytes(8)))


def test_forged_header_encodings_and_bool_bytes():
    deep = b'{"blobs":[],"root":' + b'{"type":"list","items":[' * 300 + b"]}" * 300 + b"}"
    very_deep = b"[" * 100000 + b"]" * 100000
    for raw, msg in [(b"\xff\xfe{}", "JSON"), (b'{"blobs":[],"root":NaN}', "NaN"),
                     (deep, "levels deep"), (very_deep, "JSON|levels")]:
        with pytest.raises(SerializationError, match=msg):
            load_bytes(assemble(raw))
    bools = {"blobs": [blob(dtype="bool", shape=[2], nbytes=2)],
             "root": {"type": "tensor", "blob": 0}}
    with pytest.raises(SerializationError, match="bool"):
        load_bytes(forge(bools, b"\x01\x02"))
    assert load_bytes(forge(bools, b"\x01\x00")).tolist() == [True, False]  # forge is sound


# ---------------------------------------------------------------- found by the fuzzer
# (graphc.testing.fuzz_files; tests/test_serialization_fuzz.py runs it)

def tensor_file(shape, nbytes, data=bytes(64)) -> bytes:
    return forge({"blobs": [blob(shape=shape, nbytes=nbytes)],
                  "root": {"type": "tensor", "blob": 0}}, data)


@pytest.mark.parametrize("shape,nbytes,msg", [
    ([2**61, 0], 0, "too large for an array"),  # numpy: "array is too big"
    ([2**63, 0], 0, "too large for an array"),  # numpy: "Maximum allowed dimension exceeded"
    ([2**40, 2**40, 0], 0, "too large for an array"),
    ([1] * 65, 4, "at most 64 sizes"),  # numpy: "maximum supported dimension"
    ([0] + [2**63 - 1] * 60, 0, "too large for an array"),  # stops after two products
])
def test_shapes_numpy_cannot_make_are_rejected(shape, nbytes, msg):
    with pytest.raises(SerializationError, match=msg):
        load_bytes(tensor_file(shape, nbytes))


def test_the_largest_shapes_numpy_can_make_load():
    for shape, nbytes in [([2**60, 0], 0), ([1] * 64, 4), ([0, 2**61 - 1], 0)]:
        t = load_bytes(tensor_file(shape, nbytes))
        assert tuple(t.shape) == tuple(shape) and t.numel() == nbytes // 4
        assert roundtrip(t).shape == t.shape


def test_a_pipe_never_allocates_more_than_it_delivered():
    """Reading a stream of unknown size grows its buffer with what came, never to the size
    that a (tampered) preamble gives: 16 MiB for a 100-byte pipe before the fix."""
    import tracemalloc
    data = bytearray(saved_bytes(SAMPLE))
    struct.pack_into("<QQ", data, 16, 2**40, 0)
    tracemalloc.start()
    try:
        with pytest.raises(SerializationError, match="<pipe>: the file is truncated"):
            graphc.load(pipe(bytes(data[:100])))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 18, peak
    assert_same(graphc.load(pipe(saved_bytes(SAMPLE))), SAMPLE)  # in many short reads


def test_header_numbers_and_keys_are_checked():
    for raw, msg in [
            (b'{"blobs":[],"root":1e400}', "the number '1e400', beyond a float64"),
            (b'{"blobs":[],"root":[-1e999]}', "beyond a float64"),
            (b'{"blobs":[],"root":1,"root":{"type":"pickle"}}', "repeats the key 'root'"),
            (b'{"blobs":[],"root":{"type":"list","type":"tuple","items":[]}}', "key 'type'")]:
        with pytest.raises(SerializationError, match=msg) as e:
            load_bytes(assemble(raw))
        assert f"{Path(__file__).name}:" in str(e.value)  # the user's line, not json's
    many = b"".join(b'"%d":0,' % i for i in range(100_000))  # finding the repeat: linear
    with pytest.raises(SerializationError, match="repeats the key '99999'"):
        load_bytes(assemble(b'{"blobs":[],"root":{' + many + b'"99999":1}}'))
    huge = b'{"blobs":[],"root":' + b"9" * 4301 + b"}"
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # a process that lifted Python's limit: int() is quadratic
    try:
        with pytest.raises(SerializationError, match="an integer of 4301 digits"):
            load_bytes(assemble(huge))
        assert load_bytes(assemble(huge[:-2] + b"}")) == 10**4300 - 1
    finally:
        sys.set_int_max_str_digits(limit)
    with pytest.raises(SerializationError, match="integer|JSON"):
        load_bytes(assemble(huge))


def test_reserved_field_must_be_zero():
    data = bytearray(saved_bytes(1))
    struct.pack_into("<I", data, 12, 7)
    with pytest.raises(SerializationError, match="reserved field is 7, not 0"):
        load_bytes(bytes(data[:-32]) + hashlib.sha256(data[:-32]).digest())


def test_deep_json_is_refused_before_parsing_even_with_a_raised_recursion_limit():
    """json's C parser recurses once per level: with the recursion limit raised (as users
    do) a header a million levels deep overflowed the C stack (a segfault) before the fix."""
    code = textwrap.dedent("""
        import io, sys
        import graphc
        from graphc.testing.hostile_files import assemble
        sys.setrecursionlimit(10**6)
        for raw in [b"[" * 10**6 + b"]" * 10**6, b'{"a":' * 10**6]:
            try:
                graphc.load(io.BytesIO(assemble(raw)))
            except graphc.serialization.SerializationError as e:
                print(str(e).splitlines()[0])
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(graphc.__file__).parents[1], timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count("nests JSON more than 520 levels deep") == 2, out.stdout


def test_overlaps_are_found_among_many_blobs_in_any_order():
    """Checked once, sorted, after the root is built (inserting each blob's range into a
    sorted list took quadratic time: 6 s for 80000 blobs in descending order)."""
    n = 2000

    def many(offsets):
        blobs = [{"kind": "ndarray", "dtype": "uint8", "shape": [8], "offset": o, "nbytes": 8}
                 for o in offsets]
        root = {"type": "list", "items": [{"type": "ndarray", "blob": i} for i in range(n)]}
        return forge({"blobs": blobs, "root": root}, bytes(8 * n + 8))

    descending = [8 * i for i in reversed(range(n))]
    arrays = load_bytes(many(descending))
    assert [a.shape for a in arrays] == [(8,)] * n
    shifted = descending.copy()
    shifted[n // 3] += 4  # half over the blob after it
    with pytest.raises(SerializationError, match="overlaps another blob"):
        load_bytes(many(shifted))


def test_dict_keys_chosen_to_collide_are_refused():
    """hash(i * (2**61 - 1)) == 0 for every int: a dict of 20000 such keys took 4 s to build
    (quadratic; minutes for a few MB). Up to 64 keys of one hash load."""
    def dict_file(keys):
        return forge({"blobs": [], "root": {"type": "dict", "keys": keys,
                                            "values": list(range(len(keys)))}})

    colliding = [i * (2**61 - 1) for i in range(20000)]
    with pytest.raises(SerializationError, match="more than 64 keys of one hash"):
        load_bytes(dict_file(colliding))
    assert load_bytes(dict_file(colliding[:64])) == {k: i for i, k in enumerate(colliding[:64])}
    assert load_bytes(dict_file([-1, -2])) == {-1: 0, -2: 1}  # hash(-1) == hash(-2)


def test_the_deepest_savable_objects_load():
    """save allows 256 levels of containers; the header's JSON then nests at most 520 deep."""
    for make in (lambda x: [x], lambda x: {"k": x}, lambda x: ({1: (x,)},)):
        obj = graphc.ones(1)
        for _ in range(300):
            try:
                graphc.save(make(obj), io.BytesIO())
            except ValueError:
                break
            obj = make(obj)
        assert_same(roundtrip(obj), obj)


# ---------------------------------------------------------------- models and optimizers

def _model():
    return graphc.nn.Sequential(graphc.nn.Linear(4, 8), graphc.nn.BatchNorm1d(8),
                                graphc.nn.ReLU(), graphc.nn.Linear(8, 3))


def _train(model, opt, x, y, steps):
    loss_fn = graphc.nn.CrossEntropyLoss()
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()


def test_model_and_optimizer_checkpoint_resumes_exactly(tmp_path, rng, monkeypatch):
    """Train, save model + optimizer, load both into fresh objects: training continues on
    exactly the same path as without the interruption. (Bit for bit, so backward() stays
    in numpy: a structure's backward is compiled after its 8th replay, whose sums round
    differently, and the two runs here share one structure at different replay counts.)"""
    monkeypatch.setenv("GRAPHC_COMPILE_BACKWARD", "0")
    x = graphc.tensor(rng.standard_normal((16, 4)).astype(np.float32))
    y = graphc.tensor(rng.integers(0, 3, 16))
    graphc.manual_seed(0)
    model = _model()
    opt = graphc.optim.Adam(model.parameters(), lr=1e-2)
    _train(model, opt, x, y, 3)
    path = tmp_path / "ckpt.graphc"
    graphc.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}, path)
    _train(model, opt, x, y, 4)  # the uninterrupted run

    ckpt = graphc.load(path)
    assert ckpt["epoch"] == 3 and list(ckpt["model"]) == list(model.state_dict())
    assert ckpt["model"]["1.num_batches_tracked"].dtype == graphc.int64
    fresh = _model()
    fresh.load_state_dict(ckpt["model"])
    fresh_opt = graphc.optim.Adam(fresh.parameters(), lr=1e-2)
    fresh_opt.load_state_dict(ckpt["optim"])
    _train(fresh, fresh_opt, x, y, 4)
    for (k, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


def test_a_corrupted_checkpoint_is_rejected(tmp_path):
    path = tmp_path / "ckpt.graphc"
    graphc.save(_model().state_dict(), path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(SerializationError, match="ckpt.graphc"):
        graphc.load(path)


def test_parameters_load_as_parameters(tmp_path):
    p = graphc.nn.Parameter(graphc.ones(2, 3))
    graphc.save({"p": p, "t": graphc.zeros(2)}, tmp_path / "p")
    out = graphc.load(tmp_path / "p")
    assert isinstance(out["p"], graphc.nn.Parameter) and out["p"].requires_grad
    assert not isinstance(out["t"], graphc.nn.Parameter)
