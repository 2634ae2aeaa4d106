"""Only here for cffi: ``cffi_modules`` has no pyproject.toml spelling yet.

Builds ``native._sorts`` (C sorts) from ``native/_ffi_build.py``.  When the C
compiler is missing or fails, the build stops with what to install.
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, CompileError, ExecError, LinkError, PlatformError

NO_COMPILER = (
    "greenbench: native extension not built (C compiler missing or failed): "
    "install a C compiler and the Python headers "
    "(Debian/Ubuntu: apt-get install build-essential python3-dev; Fedora: dnf install gcc python3-devel; "
    "macOS: xcode-select --install) and reinstall with pip install -e ."
)


class BuildExtExplained(build_ext):
    """build_ext whose compiler failures say what to install."""

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except (CCompilerError, CompileError, ExecError, LinkError, PlatformError) as exc:
            raise CompileError(f"{NO_COMPILER} (building {ext.name}: {exc})") from exc


setup(
    cffi_modules=["native/_ffi_build.py:ffibuilder"],
    cmdclass={"build_ext": BuildExtExplained},
)
