"""graphc.utils.data: datasets, samplers, collation and the DataLoader (against PyTorch's
when it is installed)."""
import collections
import warnings

import numpy as np
import pytest

import graphc
from graphc.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    random_split,
)
from graphc.utils.data import collate as collate_module
from graphc.utils.data.dataset import batch_fetcher

Point = collections.namedtuple("Point", "x y")


def _xy(n=10):
    x = graphc.arange(n * 3, dtype=graphc.float32).reshape(n, 3)
    y = graphc.arange(n) * 10
    return x, y


class Squares(Dataset):
    """A plain map-style dataset of dict samples."""

    def __init__(self, n=7):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"i": i, "sq": float(i * i), "v": np.full(2, i, dtype=np.float32), "name": f"s{i}"}


class Count(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


# ---------------------------------------------------------------- datasets

def test_tensor_dataset_items_and_len():
    x, y = _xy()
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    a, b = ds[3]
    assert a.tolist() == [9.0, 10.0, 11.0] and b.item() == 30
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(x, graphc.zeros(9))


def test_subset_concat_and_add():
    x, y = _xy()
    ds = TensorDataset(x, y)
    sub = Subset(ds, [4, 1, 7])
    assert len(sub) == 3 and sub[0][1].item() == 40 and sub[2][1].item() == 70
    both = ConcatDataset([sub, ds])
    assert len(both) == 13 and both[3][1].item() == 0 and both[-1][1].item() == 90
    assert len(sub + ds) == 13


def test_random_split_lengths_fractions_and_reproducibility():
    ds = TensorDataset(graphc.arange(10))
    parts = random_split(ds, [3, 7], generator=graphc.Generator().manual_seed(1))
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))
    again = random_split(ds, [3, 7], generator=graphc.Generator().manual_seed(1))
    assert again[0].indices == parts[0].indices
    other = random_split(ds, [3, 7], generator=graphc.Generator().manual_seed(2))
    assert other[0].indices + other[1].indices != parts[0].indices + parts[1].indices
    assert [len(p) for p in random_split(ds, [0.5, 0.25, 0.25])] == [6, 2, 2]  # round robin
    graphc.manual_seed(3)
    a = random_split(ds, [5, 5])[0].indices
    graphc.manual_seed(3)
    assert random_split(ds, [5, 5])[0].indices == a
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [3, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert [len(p) for p in random_split(TensorDataset(graphc.arange(2)), [0.9, 0.1])] == [
            2, 0]


# ---------------------------------------------------------------- samplers

def test_samplers():
    ds = list(range(5))
    assert list(SequentialSampler(ds)) == [0, 1, 2, 3, 4]
    g = graphc.Generator().manual_seed(0)
    perm = list(RandomSampler(ds, generator=g))
    assert sorted(perm) == ds
    drawn = list(RandomSampler(ds, replacement=True, num_samples=20, generator=g))
    assert len(drawn) == 20 and set(drawn) <= set(ds)
    many = list(RandomSampler(ds, num_samples=12, generator=g))
    assert len(many) == 12 and sorted(many[:5]) == ds and sorted(many[5:10]) == ds
    assert list(BatchSampler(range(7), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3 and len(BatchSampler(range(7), 3, True)) == 2
    assert sorted(SubsetRandomSampler([10, 20, 30], generator=g)) == [10, 20, 30]
    heavy = list(WeightedRandomSampler([0.0, 0.0, 1.0], 6, generator=g))
    assert heavy == [2] * 6
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler([])
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(range(3), 0, False)


# ---------------------------------------------------------------- collation

def test_default_collate_types():
    out = default_collate([(graphc.tensor([1.0, 2.0]), 3, 0.5, True, "a"),
                           (graphc.tensor([3.0, 4.0]), 4, 1.5, False, "b")])
    assert isinstance(out, list) and len(out) == 5  # a tuple of fields becomes a list
    assert out[0].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert out[1].dtype == graphc.int64 and out[1].tolist() == [3, 4]
    assert out[2].dtype == graphc.float64 and out[2].tolist() == [0.5, 1.5]
    assert out[3].dtype == graphc.bool and out[3].tolist() == [True, False]
    assert out[4] == ("a", "b")  # strings stay as they come, as in PyTorch
    d = default_collate([collections.OrderedDict(a=np.zeros(2, np.float16), b=[1, 2]),
                         collections.OrderedDict(a=np.ones(2, np.float16), b=[3, 4])])
    assert type(d) is collections.OrderedDict and list(d) == ["a", "b"]
    assert d["a"].dtype == graphc.float16 and d["a"].shape == (2, 2)
    assert [t.tolist() for t in d["b"]] == [[1, 3], [2, 4]]
    p = default_collate([Point(1, np.float32(2)), Point(3, np.float32(4))])
    assert type(p) is Point and p.x.tolist() == [1, 3] and p.y.dtype == graphc.float32
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object(), object()])
    with pytest.raises(RuntimeError):
        default_collate([graphc.zeros(2), graphc.zeros(3)])


# ---------------------------------------------------------------- DataLoader

def test_loader_batches_in_order_and_len():
    x, y = _xy()
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert [b[1].tolist() for b in batches] == [[0, 10, 20, 30], [40, 50, 60, 70], [80, 90]]
    assert batches[0][0].shape == (4, 3) and batches[2][0].shape == (2, 3)
    assert batches[0][0].dtype == graphc.float32 and batches[0][1].dtype == graphc.int64
    dropped = DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [b[1].shape[0] for b in dropped] == [4, 4]
    assert len(DataLoader(TensorDataset(x, y))) == 10


def test_fast_path_matches_per_sample_collation(monkeypatch):
    x, y = _xy(11)
    ds = TensorDataset(x, y, graphc.arange(11) % 2 == 0)
    sub = random_split(ds, [6, 5], generator=graphc.Generator().manual_seed(0))[1]
    assert batch_fetcher(ds) is not None and batch_fetcher(sub) is not None

    class Custom(TensorDataset):
        def __getitem__(self, i):
            return super().__getitem__(i)
    assert batch_fetcher(Custom(x)) is None
    for data in (ds, sub):
        slow = list(DataLoader(data, batch_size=3, collate_fn=lambda b: default_collate(b)))
        monkeypatch.setattr(collate_module, "stack", None)  # the fast path never stacks
        fast = list(DataLoader(data, batch_size=3))
        monkeypatch.undo()
        assert len(fast) == len(slow)
        for f, s in zip(fast, slow):
            assert isinstance(f, list)
            for a, b in zip(f, s):
                assert a.dtype == b.dtype and a.shape == b.shape and a.tolist() == b.tolist()


def test_fast_path_keeps_autograd():
    w = graphc.ones(4, 2, requires_grad=True)
    (xb,) = next(iter(DataLoader(TensorDataset(w), batch_size=2, sampler=[3, 1])))
    (xb * graphc.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert w.grad.tolist() == [[0, 0], [3, 4], [0, 0], [1, 2]]


def test_shuffle_reproducible_with_manual_seed_and_generator():
    ds = TensorDataset(graphc.arange(20))

    def order(loader):
        return [v for (b,) in loader for v in b.tolist()]
    graphc.manual_seed(7)
    loader = DataLoader(ds, batch_size=6, shuffle=True)
    first, second = order(loader), order(loader)
    assert sorted(first) == list(range(20)) and first != list(range(20))
    assert second != first  # each epoch a new order
    graphc.manual_seed(7)
    assert order(loader) == first and order(loader) == second
    state = graphc.get_rng_state()
    g = graphc.Generator().manual_seed(5)
    with_g = order(DataLoader(ds, batch_size=6, shuffle=True, generator=g))
    assert graphc.get_rng_state().tolist() == state.tolist()  # the default one is untouched
    assert order(DataLoader(ds, batch_size=6, shuffle=True,
                            generator=graphc.Generator().manual_seed(5))) == with_g


def test_dict_dataset_and_custom_collate():
    loader = DataLoader(Squares(7), batch_size=3, drop_last=True)
    batches = list(loader)
    assert len(loader) == 2 == len(batches)
    b = batches[1]
    assert b["i"].tolist() == [3, 4, 5] and b["sq"].dtype == graphc.float64
    assert b["v"].shape == (3, 2) and b["name"] == ["s3", "s4", "s5"]
    names = list(DataLoader(Squares(5), batch_size=2, collate_fn=lambda s: [d["name"] for d in s]))
    assert names == [["s0", "s1"], ["s2", "s3"], ["s4"]]


def test_no_auto_batching_samplers_and_iterable():
    one = list(DataLoader(Squares(3), batch_size=None))
    assert len(one) == 3 and one[1]["i"] == 1 and isinstance(one[1]["v"], graphc.Tensor)
    ds = TensorDataset(graphc.arange(6))
    got = [b.tolist() for (b,) in DataLoader(ds, batch_sampler=[[5, 0], [2]])]
    assert got == [[5, 0], [2]]
    assert [b.tolist() for (b,) in DataLoader(ds, batch_size=2, sampler=[4, 3, 1])] == [[4, 3],
                                                                                          [1]]
    stream = DataLoader(Count(7), batch_size=3)
    assert len(stream) == 3 and [b.tolist() for b in stream] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(list(DataLoader(Count(7), batch_size=3, drop_last=True))) == 2
    for bad in (dict(shuffle=True, sampler=[0]), dict(batch_sampler=[[0]], batch_size=2),
                dict(batch_size=None, drop_last=True)):
        with pytest.raises(ValueError):
            DataLoader(ds, **bad)
    with pytest.raises(ValueError, match="IterableDataset"):
        DataLoader(Count(3), shuffle=True)


def test_loader_accepts_multiprocessing_arguments():
    ds = TensorDataset(graphc.arange(4))
    loader = DataLoader(ds, batch_size=2, num_workers=2, pin_memory=True,
                        persistent_workers=True, prefetch_factor=2)
    assert [b.tolist() for (b,) in loader] == [[0, 1], [2, 3]]


# ---------------------------------------------------------------- against PyTorch

def _same_structure(g, t, torch):
    if isinstance(t, torch.Tensor):
        assert isinstance(g, graphc.Tensor)
        assert g.dtype.name == str(t.dtype).removeprefix("torch.")
        assert tuple(g.shape) == tuple(t.shape)
        np.testing.assert_array_equal(g.detach().numpy(), t.detach().numpy())
    elif isinstance(t, (list, tuple)):
        assert type(g) is type(t) and len(g) == len(t)
        for a, b in zip(g, t):
            _same_structure(a, b, torch)
    elif isinstance(t, dict):
        assert type(g) is type(t) and list(g) == list(t)
        for k in t:
            _same_structure(g[k], t[k], torch)
    else:
        assert g == t


class Mixed:
    """Samples of every kind default_collate takes, for graphc and for torch."""

    def __init__(self, lib):
        self.lib = lib

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return (self.lib.tensor([i, i + 1.0]), np.arange(3, dtype=np.int32) + i, i, i / 2,
                i % 2 == 0, np.float32(i), f"n{i}", Point(i, [i, -i]),
                collections.OrderedDict(z=np.eye(2) * i, a={"k": i}))


@pytest.mark.parametrize("kw", [dict(batch_size=2), dict(batch_size=2, drop_last=True),
                                dict(batch_size=None), dict(batch_size=3, sampler=[4, 0, 2, 1])])
def test_batches_match_torch(kw):
    torch = pytest.importorskip("torch")
    tdata = torch.utils.data
    ours = list(DataLoader(Mixed(graphc), **kw))
    theirs = list(tdata.DataLoader(Mixed(torch), **kw))
    assert len(ours) == len(theirs) == len(DataLoader(Mixed(graphc), **kw))
    for g, t in zip(ours, theirs):
        _same_structure(g, t, torch)
    x = np.arange(24, dtype=np.float32).reshape(8, 3)
    ours = list(DataLoader(TensorDataset(graphc.tensor(x), graphc.arange(8)), **kw))
    theirs = list(tdata.DataLoader(tdata.TensorDataset(torch.tensor(x), torch.arange(8)), **kw))
    assert len(ours) == len(theirs)
    for g, t in zip(ours, theirs):
        _same_structure(g, t, torch)
