"""How many threads the compiled CPU kernels (``_core``) run on.

Like OpenMP, whose threads they use, the count belongs to the calling thread:
``OMP_NUM_THREADS`` where set, else every core, until that thread sets its own
(a video worker running its kernels on one core sets 1, and the other threads
keep theirs).
"""

from __future__ import annotations

from .compiled import core

get_num_threads = core.get_num_threads
set_num_threads = core.set_num_threads

__all__ = ["get_num_threads", "set_num_threads"]
