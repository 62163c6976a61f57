"""The options of one comparison, their defaults and their choices, defined once.

:func:`imgdiff_gpu.compare` takes its keyword defaults from :class:`CompareOptions`,
the job layer (``compare``, ``batch``, ``video``) carries a ``CompareOptions``, and
the command line builds its flags from the same fields. This module imports
nothing heavy, so the command line can read it before any image library loads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

DEVICE_CHOICES = ("auto", "cpu", "gpu")
SENSITIVITY_PRESETS = ("low", "normal", "high", "exact")
SIZE_MODES = ("resize", "pad")
ALIGN_METHODS = ("translation", "homography")
# 20000 x 20000 (issue-sized "huge" inputs) fits; a 100000 x 100000 header does not.
DEFAULT_MAX_PIXELS = 400_000_000


@dataclass(frozen=True)
class CompareOptions:
    """Everything that can be said about one comparison, with its default.

    ``color`` and ``thickness`` shape the pictures; the rest shape the result.
    """

    device: str = "auto"
    """One of DEVICE_CHOICES; ``auto`` is the GPU when CuPy sees one."""
    sensitivity: str = "normal"
    """One of SENSITIVITY_PRESETS (see :mod:`imgdiff_gpu.detection`)."""
    threshold: float | str = "otsu"
    """SSIM below which a pixel is structurally different, or ``otsu``."""
    min_area: int = 40
    """Smallest region kept, in differing pixels."""
    merge_distance: int = 8
    """Fragments at most this many pixels apart form one region."""
    ignore_boxes: tuple[tuple[int, int, int, int], ...] = field(default_factory=tuple)
    """(x, y, width, height) boxes left out of the score, the statistics and the regions."""
    ignore_mask: Path | None = None
    """An image whose non-black pixels are left out likewise."""
    size_mode: str | None = None
    """None (different sizes are a difference) or one of SIZE_MODES."""
    align: str | None = None
    """None or one of ALIGN_METHODS: move the right image onto the left first."""
    antialiasing: bool = False
    """Ignore changes a sub-pixel edge shift explains (screenshots)."""
    color: tuple[int, int, int] = (0, 0, 255)
    """Highlight colour of the pictures, B, G, R."""
    thickness: int = 2
    """Box line thickness of the pictures, in pixels."""
    max_pixels: int = DEFAULT_MAX_PIXELS
    """Refuse files whose header claims more pixels than this."""
    clip_noise: bool = False
    """Video only: judge each frame with its clip's own noise factor (:mod:`imgdiff_gpu.clip_noise`,
    ``low`` only). ``imgdiff video`` turns it on (:data:`VIDEO_DEFAULTS`, ``--no-clip-noise`` off);
    a comparison of images has no clip, so here it is off."""

    def thresholds(self):
        """The detection thresholds these options select, as :func:`imgdiff_gpu.compare` does."""
        from .pipeline import thresholds_of

        return thresholds_of(self.sensitivity, self.threshold)

    def settings(self) -> dict:
        """The report's ``settings``: the options, JSON-ready."""
        out = asdict(self)
        out["ignore_boxes"] = [list(b) for b in self.ignore_boxes]
        out["ignore_mask"] = str(self.ignore_mask) if self.ignore_mask else None
        out["color_bgr"] = list(out.pop("color"))
        return out


DEFAULTS = CompareOptions()

VIDEO_DEFAULTS = CompareOptions(sensitivity="low", clip_noise=True)
"""What ``imgdiff video`` compares with when no flag is given: ``low``, as two separately encoded lossy
streams drift apart by a few grey levels in places, and each frame judged against its clip's own noise
(the evaluation's VP9 specks cleared, no edit lost: README, "Video detection quality")."""

VIDEO_ONLY_OPTIONS = frozenset({"clip_noise"})
"""CompareOptions' fields that only ``imgdiff video`` takes a flag for (the others keep their defaults)."""
