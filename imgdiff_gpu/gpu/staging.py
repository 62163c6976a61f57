"""Uploading a sequence of host arrays to the GPU through pinned, double-buffered staging.

Pageable host memory crosses PCIe at about a quarter of the speed of pinned
memory, and a plain ``cupy.asarray`` blocks the host until its copy is done.
Here each item is copied into one of two pinned buffers and sent up on that
buffer's own non-blocking stream, so the upload of item i + 1 overlaps the work
the caller queues on item i; the caller's stream waits for an item's copy
before using it, and a buffer is refilled only once the work queued on its
previous item has run. GPU memory stays at two items, however long the sequence.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np


class _Slot:
    """Pinned host buffers, device buffers and a stream for one item in flight."""

    def __init__(self, layout: tuple[tuple[tuple[int, ...], np.dtype], ...]):
        import cupy
        import cupyx

        self.layout = layout
        self.host = [cupyx.empty_pinned(shape, dtype) for shape, dtype in layout]
        self.device = [cupy.empty(shape, dtype) for shape, dtype in layout]
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.uploaded = None  # event: the copy of the current item is done
        self.consumed = None  # event: the work queued on the previous item is done


def _layout(item) -> tuple[tuple[tuple[int, ...], np.dtype], ...]:
    return tuple((np.shape(array), np.asarray(array).dtype) for array in item)


def staged_uploads(items: Iterable[tuple[np.ndarray, ...]], *, slots: int = 2) -> Iterator[tuple]:
    """Device copies (CuPy) of each tuple of host arrays, uploaded ahead through pinned buffers.

    A yielded item's arrays are valid until the item after it is requested: then
    their buffers start to receive a later item. Items may change shape; the
    buffers follow.
    """
    import cupy

    ring: list[_Slot | None] = [None] * slots
    compute = cupy.cuda.get_current_stream()

    def upload(index: int, item) -> _Slot:
        layout = _layout(item)
        slot = ring[index % slots]
        if slot is None or slot.layout != layout:
            if slot is not None and slot.uploaded is not None:
                slot.uploaded.synchronize()
            slot = ring[index % slots] = _Slot(layout)
        elif slot.uploaded is not None:
            slot.uploaded.synchronize()  # the pinned buffer is free once its last copy is done
        for host, array in zip(slot.host, item, strict=True):
            np.copyto(host, array)
        if slot.consumed is not None:
            slot.stream.wait_event(slot.consumed)
        for device, host in zip(slot.device, slot.host, strict=True):
            device.set(host, stream=slot.stream)
        slot.uploaded = slot.stream.record()
        return slot

    iterator = iter(items)
    first = next(iterator, None)
    if first is None:
        return
    pending, index = upload(0, first), 0
    while True:
        following = next(iterator, None)
        upcoming = upload(index + 1, following) if following is not None else None  # overlaps the work on pending
        compute.wait_event(pending.uploaded)
        yield tuple(pending.device)
        pending.consumed = compute.record()
        if upcoming is None:
            return
        pending, index = upcoming, index + 1
