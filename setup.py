"""Only here for cffi: ``cffi_modules`` has no pyproject.toml spelling yet."""

from setuptools import setup

setup()
