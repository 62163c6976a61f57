"""The CPU backend: one module per stage, each the twin of ``imgdiff_gpu/gpu/<stage>.py``
and ``kernels/<stage>.cu`` (``ssim``, ``strength``, ``planes``, ``histogram``), plus the
video screen (``screen``), the whole-pair analysis (``analysis``) and the warm-up that
loads the compiled kernels while the images decode (``warmup``).

Private: the public API is what :mod:`imgdiff_gpu` exports.
"""
