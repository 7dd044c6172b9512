"""The native extension; everything else is declared in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "freeorder._atomics",
            sources=["_atomics/atomics.c"],
            extra_compile_args=["-O2", "-std=c11"],
        )
    ]
)
