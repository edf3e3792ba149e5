"""The DataLoader's worker processes: what runs inside each one (``worker_loop``), what it
can ask about itself (``get_worker_info``), and how its errors travel back to the main
process (``ExceptionWrapper``, PyTorch's: the worker's traceback as text)."""
from __future__ import annotations

import os
import queue
import random
import sys
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...random import manual_seed
from ...runtime.cpu import set_num_threads
from ._fetch import IterableFetcher, make_fetcher

# how often a waiting worker checks that the main process is alive and still wants it (s):
# a shutdown from a garbage collection may not get its "stop" message through the queue
STATUS_CHECK_INTERVAL = 0.2


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: its ``id`` (0 to
    ``num_workers - 1``), ``num_workers``, its ``seed`` and its copy of the ``dataset``."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """In a DataLoader worker process, its :class:`WorkerInfo`; in the main process, None.

    An IterableDataset is copied into every worker, so each would yield the whole stream;
    its ``__iter__`` uses this to yield only its share (``info.id`` of ``info.num_workers``).
    """
    return _worker_info


@dataclass(frozen=True)
class IterableDatasetStopIteration:
    """A worker's answer once its copy of an IterableDataset is exhausted."""

    worker_id: int


@dataclass(frozen=True)
class ResumeIteration:
    """Sent to persistent workers at the start of each epoch after the first."""


class KeyErrorMessage(str):
    """A KeyError shows ``repr`` of its argument: keep the traceback's line breaks."""

    def __repr__(self) -> str:
        return self


class ExceptionWrapper:
    """An exception caught in a worker, as its type and formatted traceback (picklable);
    ``reraise()`` raises the same type in the main process, with the worker's traceback in
    the message."""

    def __init__(self, where: str) -> None:
        exc_type, exc, tb = sys.exc_info()
        self.exc_type = exc_type
        self.exc_msg = "".join(traceback.format_exception(exc_type, exc, tb))
        self.where = where

    def reraise(self) -> None:
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:  # a type whose constructor wants other arguments
            raise RuntimeError(msg) from None
        try:
            raise exception
        finally:  # no cycle through this frame: the iterator is freed (and its workers
            del exception  # stopped) as soon as the user drops the exception



def _seed_worker(base_seed: int, worker_id: int) -> int:
    """Seed the worker's random number generators (graphc's default generator, Python's
    and numpy's global ones) from the loader's base seed, differently in each worker."""
    seed = base_seed + worker_id
    random.seed(seed)
    manual_seed(seed)
    np.random.seed(np.random.SeedSequence([base_seed & 0xFFFFFFFFFFFFFFFF, worker_id])
                   .generate_state(1)[0])
    return seed


def worker_loop(dataset: Any, index_queue: Any, data_queue: Any, done_event: Any,
                auto_collation: bool, collate_fn: Any, drop_last: bool, base_seed: int,
                init_fn: Any, worker_id: int, num_workers: int) -> None:
    """Answer ``(task, index)`` requests from ``index_queue`` with ``(task, batch)`` on
    ``data_queue`` until ``None`` arrives or the main process is gone."""
    global _worker_info
    try:
        set_num_threads(1)  # the workers share the machine's cores already
        seed = _seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        where = f"in DataLoader worker process {worker_id}"
        init_error = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = make_fetcher(dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_error = ExceptionWrapper(where)
        ended = False
        parent = os.getppid()
        while os.getppid() == parent:
            try:
                request = index_queue.get(timeout=STATUS_CHECK_INTERVAL)
            except queue.Empty:
                if done_event.is_set():
                    break
                continue
            if request is None:
                break
            if isinstance(request, ResumeIteration):
                data_queue.put((request, None))
                ended = False
                fetcher = make_fetcher(dataset, auto_collation, collate_fn, drop_last)
                continue
            if done_event.is_set() or ended:
                continue
            task, index = request
            if init_error is not None:  # a worker that could not start answers with why
                data = init_error
            else:
                data, ended = _fetch(fetcher, index, worker_id, where)
            data_queue.put((task, data))
            del data, request, index
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        data_queue.cancel_join_thread()
        data_queue.close()


def _fetch(fetcher: Any, index: Any, worker_id: int, where: str) -> tuple[Any, bool]:
    """(the batch or what went wrong, whether the worker's stream has ended)."""
    try:
        return fetcher.fetch(index), False
    except StopIteration:
        if isinstance(fetcher, IterableFetcher):  # its stream ended: not an error
            return IterableDatasetStopIteration(worker_id), True
        return ExceptionWrapper(where), False
    except Exception:
        return ExceptionWrapper(where), False
