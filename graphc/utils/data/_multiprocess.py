"""The main-process side of ``DataLoader(num_workers=N)``: start the worker processes, hand
them batches of indices round-robin (``prefetch_factor`` per worker in flight), and put
their answers back in the sampler's order, so the batches are those of ``num_workers=0``.

Start method: ``fork`` where the platform has it (Linux; PyTorch's default there), so
datasets, collate functions and ``worker_init_fn`` need not be picklable and scripts need
no ``if __name__ == "__main__":`` guard. Forking is safe for graphc: a compiled program
starts its native threads inside a call and joins them before returning, so no graphc
thread holds a lock at the fork, and workers can run eager ops and already-compiled
functions. Not safe: forking while other Python threads of the user's are inside graphc, and
CUDA in workers after the main process used it (as in PyTorch). ``multiprocessing_context=
"spawn"`` (or "forkserver") avoids both, at the price of pickling the dataset and importing
graphc in each worker.
"""
from __future__ import annotations

import itertools
import multiprocessing
import queue
from typing import Any

from ._worker import ExceptionWrapper, IterableDatasetStopIteration, ResumeIteration, worker_loop

# how often the main process, waiting for a batch, checks that its workers are alive (s)
LIVENESS_INTERVAL = 1.0


def default_context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


class MultiProcessIterator:
    """The batches of a DataLoader, loaded by worker processes: ``sampler_iter`` yields
    what the workers fetch (an index or a batch of them), ``base_seed`` seeds them."""

    def __init__(self, loader: Any, sampler_iter: Any, base_seed: int) -> None:
        self._shutdown = True  # (until the queues exist: __del__ may run on a failed start)
        ctx = loader.multiprocessing_context or default_context()
        self._num_workers = loader.num_workers
        self._prefetch = loader.prefetch_factor * loader.num_workers
        self._timeout = loader.timeout
        self._persistent = loader.persistent_workers
        self._in_order = loader.in_order
        self._data_queue = ctx.Queue()
        self._done = ctx.Event()
        self._index_queues, self._workers = [], []
        self._shutdown = False
        try:
            for worker_id in range(self._num_workers):
                self._start_worker(ctx, loader, worker_id, base_seed)
        except BaseException:  # (a dataset spawn cannot pickle): stop those started
            self.shutdown()
            raise
        self._start_epoch(sampler_iter)

    def _start_worker(self, ctx: Any, loader: Any, worker_id: int, base_seed: int) -> None:
        index_queue = ctx.Queue()
        index_queue.cancel_join_thread()  # never block the main process at exit
        worker = ctx.Process(target=worker_loop, daemon=True, args=(
            loader.dataset, index_queue, self._data_queue, self._done,
            loader.batch_sampler is not None, loader.collate_fn, loader.drop_last,
            base_seed, loader.worker_init_fn, worker_id, self._num_workers))
        self._index_queues.append(index_queue)
        worker.start()
        self._workers.append(worker)

    # ---- epochs
    def _start_epoch(self, sampler_iter: Any) -> None:
        self._sampler_iter = sampler_iter
        self._send_idx = self._rcvd_idx = 0
        self._task_info: dict[int, tuple] = {}  # task -> (worker,) or (worker, answer)
        self._tasks_outstanding = 0
        self._active = [True] * self._num_workers
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        for _ in range(self._prefetch):
            self._try_put_index()

    def reset(self, sampler_iter: Any) -> None:
        """A new epoch on persistent workers: each restarts its fetcher (a fresh iterator of
        an IterableDataset); answers still in flight from the last epoch are dropped."""
        for index_queue in self._index_queues:
            index_queue.put(ResumeIteration())
        waiting = self._num_workers
        while waiting:
            task, _ = self._get_data()
            if isinstance(task, ResumeIteration):
                waiting -= 1
        self._start_epoch(sampler_iter)

    # ---- sending work
    def _try_put_index(self) -> None:
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker = next(self._worker_cycle)
            if self._active[worker]:
                break
        else:
            return  # every worker's stream has ended
        self._index_queues[worker].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker,)
        self._tasks_outstanding += 1
        self._send_idx += 1

    # ---- receiving answers
    def _get_data(self) -> tuple[Any, Any]:
        if self._timeout > 0:
            answer = self._try_get(self._timeout)
            if answer is None:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
            return answer
        while True:
            answer = self._try_get(LIVENESS_INTERVAL)
            if answer is not None:
                return answer

    def _try_get(self, timeout: float) -> tuple[Any, Any] | None:
        try:
            return self._data_queue.get(timeout=timeout)
        except queue.Empty:
            failed = [w for w, active in zip(self._workers, self._active)
                      if active and not w.is_alive()]
            if failed:
                self.shutdown()
                pids = ", ".join(str(w.pid) for w in failed)
                raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited "
                                   "unexpectedly") from None
            return None

    def next_batch(self) -> Any:
        """The next batch in sampler order (or as they arrive, with ``in_order=False``)."""
        while True:
            if not self._skip_to_pending_task():
                if not self._persistent:
                    self.shutdown()
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:  # it came earlier, out of order
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
                return self._process(info[1])
            task, data = self._get_data()
            self._tasks_outstanding -= 1
            if isinstance(data, IterableDatasetStopIteration):
                self._worker_ended(data.worker_id)
                continue
            if task == self._rcvd_idx or not self._in_order:
                del self._task_info[task]
                self._rcvd_idx += task == self._rcvd_idx
                return self._process(data)
            self._task_info[task] += (data,)

    def _skip_to_pending_task(self) -> bool:
        """Move past tasks already answered out of order or sent to workers whose stream
        has ended; False when no task is left."""
        while self._rcvd_idx < self._send_idx:
            info = self._task_info.get(self._rcvd_idx)
            if info is not None and (len(info) == 2 or self._active[info[0]]):
                return True
            self._task_info.pop(self._rcvd_idx, None)
            self._rcvd_idx += 1
        return False

    def _worker_ended(self, worker_id: int) -> None:
        """Its copy of the IterableDataset is exhausted: send it no more work (a
        non-persistent worker exits), and keep the others busy."""
        self._active[worker_id] = False
        if not self._persistent:
            self._index_queues[worker_id].put(None)
        self._try_put_index()

    def _process(self, data: Any) -> Any:
        self._try_put_index()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return data

    # ---- shutting down
    def shutdown(self) -> None:
        """Stop the workers (asked first, terminated if they do not exit in time)."""
        if self._shutdown:
            return
        self._shutdown = True
        self._done.set()
        for worker, index_queue in zip(self._workers, self._index_queues):
            if worker.is_alive():
                index_queue.put(None)
        for worker in self._workers:
            worker.join(timeout=5.0)
            if worker.is_alive():
                worker.terminate()
        for q in (*self._index_queues, self._data_queue):
            q.cancel_join_thread()
            q.close()

    def __del__(self) -> None:
        try:
            self.shutdown()
        except Exception:  # noqa: S110 (at interpreter exit queues may be gone already;
            pass           # multiprocessing terminates daemonic workers then anyway)
