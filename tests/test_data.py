"""graphc.utils.data: datasets, samplers, collation and the DataLoader (against PyTorch's
when it is installed)."""
import collections
import itertools
import os
import pickle
import time
import tracemalloc
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
    get_worker_info,
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


# ---------------------------------------------------------------- worker processes

class Sharded(IterableDataset):
    """range(n), split between workers with get_worker_info() (PyTorch's recipe)."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        per = -(-self.n // info.num_workers)
        return iter(range(info.id * per, min(self.n, (info.id + 1) * per)))


class Probe(Dataset):
    """Samples that say where and how they were made: in which worker, with which seed, a
    draw from graphc's default generator, whether worker_init_fn ran there."""

    ran_init = False

    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = get_worker_info()
        if i == 7 and info is not None and info.dataset is not self:
            raise AssertionError("info.dataset is not the worker's copy of the dataset")
        return {"i": i, "worker": info.id, "seed": info.seed, "of": info.num_workers,
                "draw": graphc.rand(()).item(), "init": Probe.ran_init}


def _mark_init(worker_id):
    Probe.ran_init = worker_id + 1


def _epochs(loader, n=3):
    return [[[v.tolist() for v in batch] for batch in loader] for _ in range(n)]


def test_workers_give_the_batches_of_num_workers_0():
    """Same generator, same batches in the same order, epoch after epoch: worker
    processes, persistent ones (answers come back out of order and are reordered)."""
    x, y = _xy(23)
    ds = TensorDataset(x, y)

    def loader(**kw):
        return DataLoader(ds, batch_size=4, shuffle=True,
                          generator=graphc.Generator().manual_seed(11), **kw)
    want = _epochs(loader())
    assert want[0] != want[1] and sorted(v for b in want[0] for v in b[1]) == y.tolist()
    assert _epochs(loader(num_workers=2)) == want
    assert _epochs(loader(num_workers=3, persistent_workers=True, prefetch_factor=1)) == want
    custom = DataLoader(Squares(9), batch_size=2, num_workers=2, drop_last=True,
                        collate_fn=lambda s: [d["name"] for d in s])
    assert list(custom) == [["s0", "s1"], ["s2", "s3"], ["s4", "s5"], ["s6", "s7"]]
    loose = DataLoader(ds, batch_size=3, num_workers=2, in_order=False)
    assert sorted(v for (_, b) in loose for v in b.tolist()) == y.tolist()


def test_worker_info_seeds_and_init_fn():
    assert get_worker_info() is None  # in the main process
    loader = DataLoader(Probe(), batch_size=3, num_workers=2, worker_init_fn=_mark_init,
                        generator=graphc.Generator().manual_seed(0))
    batches = list(loader)
    assert [b["i"].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    assert [b["worker"].tolist() for b in batches] == [[0] * 3, [1] * 3, [0] * 3, [1] * 3]
    seeds = {w: s for b in batches for w, s in zip(b["worker"].tolist(), b["seed"].tolist())}
    assert seeds[1] == seeds[0] + 1  # base_seed + worker_id
    assert [b["init"].tolist() for b in batches] == [[1] * 3, [2] * 3, [1] * 3, [2] * 3]
    assert all(b["of"].tolist() == [2] * 3 for b in batches)
    draws = [v for b in batches for v in b["draw"].tolist()]
    assert len(set(draws)) == 12  # each worker seeded differently
    again = list(DataLoader(Probe(), batch_size=3, num_workers=2,
                            generator=graphc.Generator().manual_seed(0)))
    assert [v for b in again for v in b["draw"].tolist()] == draws  # reproducible
    assert Probe.ran_init is False  # worker_init_fn ran in the workers only


def test_iterable_dataset_in_workers_is_copied_into_each():
    want = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert [b.tolist() for b in DataLoader(Sharded(10), batch_size=3)] == want
    # each worker yields its share; batches alternate between workers, as PyTorch's
    sharded = [[0, 1, 2], [5, 6, 7], [3, 4], [8, 9]]
    assert [b.tolist() for b in DataLoader(Sharded(10), batch_size=3, num_workers=2)] == sharded
    persistent = DataLoader(Sharded(10), batch_size=3, num_workers=2, persistent_workers=True)
    assert [[b.tolist() for b in persistent] for _ in range(2)] == [sharded, sharded]
    # without sharding every worker yields the whole stream: each sample once per worker
    copies = [v for b in DataLoader(Count(5), batch_size=2, num_workers=2) for v in b.tolist()]
    assert sorted(copies) == sorted(list(range(5)) * 2)
    dropped = DataLoader(Sharded(10), batch_size=3, num_workers=2, drop_last=True)
    assert [b.tolist() for b in dropped] == [[0, 1, 2], [5, 6, 7]]


class Faulty(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise KeyError(f"no sample {i}")
        return i


def _failing_init(worker_id):
    raise ValueError(f"worker {worker_id} cannot start")


def test_worker_errors_are_reraised_with_the_worker_traceback():
    loader = DataLoader(Faulty(), batch_size=2, num_workers=2)
    seen = []
    with pytest.raises(KeyError) as caught:
        for batch in loader:
            seen.append(batch.tolist())
    assert seen == [[0, 1], [2, 3]]  # the batches before the failing one
    message = str(caught.value)
    assert "Caught KeyError in DataLoader worker process 0." in message
    assert "Original Traceback (most recent call last)" in message
    assert 'raise KeyError(f"no sample {i}")' in message and "KeyError: 'no sample 5'" in message
    with pytest.raises(ValueError, match=r"(?s)Caught ValueError in DataLoader worker process "
                                         r"\d.*worker \d cannot start"):
        list(DataLoader(Faulty(), num_workers=1, worker_init_fn=_failing_init))


class Slow(Dataset):
    def __len__(self):
        return 3

    def __getitem__(self, i):
        time.sleep(1.0)
        return i


class Dies(Dataset):
    def __len__(self):
        return 3

    def __getitem__(self, i):
        os._exit(3)


def test_worker_timeout_and_death_raise():
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.2 seconds"):
        list(DataLoader(Slow(), num_workers=1, timeout=0.2))
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+.*\) exited "
                                           "unexpectedly"):
        list(DataLoader(Dies(), num_workers=2))


def test_spawned_workers_give_the_same_batches():
    ds = TensorDataset(graphc.arange(14).reshape(7, 2))
    want = [b.tolist() for (b,) in DataLoader(ds, batch_size=3)]
    spawned = DataLoader(ds, batch_size=3, num_workers=1, multiprocessing_context="spawn")
    assert [b.tolist() for (b,) in spawned] == want


def test_random_sampler_with_replacement_is_lazy():
    """num_samples=10**12 iterates at once, in constant memory (it drew every index up
    front before), and reproducibly with a generator."""
    def first(n):
        sampler = RandomSampler(range(10), replacement=True, num_samples=10**12,
                                generator=graphc.Generator().manual_seed(4))
        return list(itertools.islice(iter(sampler), n)), len(sampler)
    tracemalloc.start()
    drawn, size = first(5000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert size == 10**12 and peak < 2_000_000 and set(drawn) == set(range(10))
    assert first(70)[0] == drawn[:70]
    short = list(RandomSampler(range(3), replacement=True, num_samples=70,
                               generator=graphc.Generator().manual_seed(4)))
    assert len(short) == 70  # two chunks of 32 and 6 more
    loader = DataLoader(range(10), batch_size=4, sampler=RandomSampler(
        range(10), replacement=True, num_samples=10**12))
    assert len(loader) == 25 * 10**10 and len(next(iter(loader))) == 4


def test_worker_option_checks():
    ds = TensorDataset(graphc.arange(4))
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="valid start method"):
        DataLoader(ds, num_workers=1, multiprocessing_context="teleport")
    with pytest.raises(ValueError, match="num_workers > 0"):
        DataLoader(ds, multiprocessing_context="spawn")
    assert DataLoader(ds, num_workers=2).prefetch_factor == 2
    unpicklable = DataLoader(Unpicklable(), num_workers=2, multiprocessing_context="spawn")
    with pytest.raises((AttributeError, pickle.PicklingError), match="pickle"):
        list(unpicklable)  # (spawn pickles the dataset; fork, the default, would not)


class Unpicklable(Dataset):
    def __init__(self):
        self.transform = lambda i: i

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return self.transform(i)


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
