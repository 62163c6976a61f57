"""The compiled CPU core (imgdiff_gpu.cpu._core); everything else about the package is in pyproject.toml."""

import os
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

SOURCES_DIR = "imgdiff_gpu/cpu/c"
SOURCES = [
    "module.c",
    "ssim.c",
    "strength.c",
    "planes.c",
    "histogram.c",
    "screen.c",
    "chroma.c",
    "rules.c",
    "filters.c",
    "png_unfilter.c",
    "heat.c",
    "regions.c",
    "term_regions.c",
    "block_means.c",
]

# -ffp-contract=off: the kernels write fma() where they mean one, and nothing else is fused,
# so every value is the same whatever the compiler or CPU (see core.h). -fno-math-errno
# lets sqrt vectorize; it changes no value.
UNIX_FLAGS = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-std=c11"]


class BuildCore(build_ext):
    """Builds the core with OpenMP where the compiler has it, else single-threaded."""

    def build_extensions(self):
        if self.compiler.compiler_type == "unix":
            openmp = ["-fopenmp"] if self._compiles_with("-fopenmp") else []
            for extension in self.extensions:
                extension.extra_compile_args = UNIX_FLAGS + openmp
                extension.extra_link_args = openmp
        super().build_extensions()

    def _compiles_with(self, flag: str) -> bool:
        with tempfile.TemporaryDirectory() as folder:
            source = os.path.join(folder, "probe.c")
            with open(source, "w") as file:
                file.write("#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n")
            try:
                objects = self.compiler.compile([source], output_dir=folder, extra_postargs=[flag])
                self.compiler.link_executable(objects, "probe", output_dir=folder, extra_postargs=[flag])
            except Exception:
                return False
        return True


setup(
    ext_modules=[
        Extension(
            "imgdiff_gpu.cpu._core",
            sources=[f"{SOURCES_DIR}/{name}" for name in SOURCES],
            depends=[f"{SOURCES_DIR}/core.h"],
        )
    ],
    cmdclass={"build_ext": BuildCore},
)
