"""The GPU backend (CuPy and the CUDA C of ``kernels/``): one module per stage, each the
twin of ``imgdiff_gpu/cpu/<stage>.py`` (``ssim``, ``planes``, ``histogram``, ``analysis``),
plus what only the device needs: the kernel loader (``kernels``), the banded uploads
(``staging``), the per-pixel noise rules (``noise_rules``) and regions on the device
(``regions``).

Private: importing this package needs no CuPy; its modules import it when called.
"""
