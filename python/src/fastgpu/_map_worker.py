"""Runs one element of ``fastgpu.map(fn, inputs)`` on a node: loads ``fn`` from its file, calls it
with the JSON in ``$FASTGPU_INPUT`` and writes the JSON of what it returns to ``$FASTGPU_RESULT``.

Usage: ``python -m fastgpu._map_worker --map|--reduce /path/to/module.py:qualname``; ``--reduce``
calls ``fn`` with the list in ``$FASTGPU_RESULTS`` (every element's result, by index). The module is loaded under a
name of its own, so a script's ``if __name__ == "__main__":`` block does not run again.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from typing import Any


def load(ref: str) -> Any:
    path, _, qualname = ref.rpartition(":")
    spec = importlib.util.spec_from_file_location("_fastgpu_map_target", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"fastgpu map: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("--map", "--reduce"):
        print("usage: python -m fastgpu._map_worker --map|--reduce FILE.py:FUNCTION", file=sys.stderr)
        return 2
    fn = load(argv[1])
    value = json.loads(os.environ["FASTGPU_INPUT" if argv[0] == "--map" else "FASTGPU_RESULTS"])
    result = fn(value)
    with open(os.environ["FASTGPU_RESULT"], "w", encoding="utf-8") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
