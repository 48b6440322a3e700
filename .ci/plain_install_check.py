"""Import every module of the raxdoc that `import raxdoc` finds, as a plain `pip install .` leaves it.

    python .ci/plain_install_check.py [MODULE_TO_BLOCK ...]

Modules named on the command line are made unimportable first (the test suite blocks the test-only
packages this way; CI runs it in a venv that never had them). The Triton kernel modules may fail
for want of Triton alone: a CPU install has none, and only the CUDA paths load them. Prints the
number of modules imported; any other failure is raised, naming the module.
"""

import ast
import importlib
import pkgutil
import sys
from pathlib import Path

for blocked in sys.argv[1:]:
    sys.modules[blocked] = None

import raxdoc  # noqa: E402


def _imports_triton_at_top(path: Path) -> bool:
    body = ast.parse(path.read_text()).body
    return any(isinstance(n, ast.Import) and any(a.name == "triton" for a in n.names) for n in body)


names = [m.name for m in pkgutil.walk_packages(raxdoc.__path__, "raxdoc.") if m.name != "raxdoc.__main__"]
for name in names:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        spec = importlib.util.find_spec(name)
        if not (exc.name == "triton" and spec and spec.origin and _imports_triton_at_top(Path(spec.origin))):
            raise
print(f"{len(names)} modules of {Path(raxdoc.__file__).parent} import")
