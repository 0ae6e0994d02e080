"""Lists hopflow's packages under the `hopflow.` prefix; everything else is in pyproject.toml.

The folders stay at the top of the repository (models/, tasks/, flows/, deployments/, examples/) and
pyproject's [tool.setuptools.package-dir] maps them onto `hopflow.*`. find_packages cannot add that
prefix itself, so it is added here: a new subpackage is shipped without editing a list.
"""

from setuptools import find_packages, setup

FOLDERS = ("models", "tasks", "flows", "deployments", "examples")

setup(
    packages=[
        f"hopflow.{name}"
        for name in find_packages(include=[f"{f}" for f in FOLDERS] + [f"{f}.*" for f in FOLDERS])
    ]
)
