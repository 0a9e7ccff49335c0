"""A small thread pipeline over a fixed pool of reusable chunk slots (constant memory).

A producer thread fills slots; each middle stage runs in its own thread; the last stage runs in
the caller's thread (so writes to the destination and progress callbacks happen there). Chunks
go through the stages strictly in order, and different chunks are in different stages at the
same time, which overlaps work that releases the GIL (file I/O, OpenSSL, strxor, blake3).

On the first exception anywhere, every thread stops doing work, drains what is queued, and the
exception is re-raised in the caller's thread once all threads have finished.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

S = TypeVar("S")
_END = object()


class Pipeline(Generic[S]):
    """Run `produce(slot) -> bool` (fill one slot; False when the source is exhausted), then
    `stages[0..k-2]` in worker threads and `stages[-1]` in the calling thread, for every slot."""

    def __init__(self, slots: Iterable[S], produce: Callable[[S], bool],
                 stages: list[Callable[[S], None]]) -> None:
        if not stages:
            raise ValueError("a pipeline needs at least one stage")
        self._free: queue.Queue = queue.Queue()
        for slot in slots:
            self._free.put(slot)
        self._produce = produce
        self._stages = stages
        self._queues: list[queue.Queue] = [queue.Queue() for _ in stages]
        self._failed = threading.Event()
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            if self._error is None:
                self._error = exc
        self._failed.set()

    def _producer(self) -> None:
        out = self._queues[0]
        try:
            while not self._failed.is_set():
                slot = self._free.get()
                if slot is _END:  # the consumer gave up
                    break
                try:
                    more = self._produce(slot)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                    self._fail(exc)
                    self._free.put(slot)
                    break
                if not more:
                    self._free.put(slot)
                    break
                out.put(slot)
        finally:
            out.put(_END)

    def _worker(self, index: int) -> None:
        inbox, outbox, stage = self._queues[index], self._queues[index + 1], self._stages[index]
        while True:
            slot = inbox.get()
            if slot is _END:
                outbox.put(_END)
                return
            if self._failed.is_set():
                self._free.put(slot)
                continue
            try:
                stage(slot)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                self._fail(exc)
                self._free.put(slot)
                continue
            outbox.put(slot)

    def run(self) -> None:
        threads = [threading.Thread(target=self._producer, name="pipeline-produce", daemon=True)]
        threads += [threading.Thread(target=self._worker, args=(i,), name=f"pipeline-{i}",
                                     daemon=True) for i in range(len(self._stages) - 1)]
        for thread in threads:
            thread.start()
        last, inbox = self._stages[-1], self._queues[-1]
        try:
            while True:
                slot = inbox.get()
                if slot is _END:
                    break
                if not self._failed.is_set():
                    try:
                        last(slot)
                    except BaseException as exc:  # noqa: BLE001 - re-raised below
                        self._fail(exc)
                self._free.put(slot)
        except BaseException as exc:  # e.g. KeyboardInterrupt while waiting: stop the threads
            self._fail(exc)
            raise
        finally:
            if self._failed.is_set():
                self._free.put(_END)  # wake a producer waiting for a free slot
            for thread in threads:
                thread.join()
        if self._error is not None:
            raise self._error
