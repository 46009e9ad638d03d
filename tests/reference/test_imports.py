"""The reference package imports only NumPy: no numba anywhere on its import path."""

import ast
import subprocess
import sys
from pathlib import Path

import scratchnet.reference

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_reference_loads_no_numba():
    result = subprocess.run(
        [sys.executable, "-c",
         "import scratchnet.reference, sys; print('numba' in sys.modules)"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False", (
        "importing scratchnet.reference loaded numba: the package (or scratchnet/__init__.py "
        "on its import path) must not import the kernels")


def test_every_public_name_is_exported():
    names = set(scratchnet.reference.__all__)
    assert all(callable(getattr(scratchnet.reference, n)) for n in names)
    modules = ["activations", "conv", "dense", "dropout", "losses", "lstm", "pooling",
               "reshape"]
    for module in modules:
        mod = getattr(scratchnet.reference, module)
        public = {n for n in vars(mod) if callable(getattr(mod, n)) and not n.startswith("_")
                  and getattr(getattr(mod, n), "__module__", "") == mod.__name__}
        assert public <= names, f"{module} defines {public - names} outside __all__"


def test_the_package_source_imports_only_numpy_and_the_standard_library():
    # Holds whatever scratchnet/__init__.py imports: the reference's own import lines.
    package = REPO_ROOT / "scratchnet" / "reference"
    allowed = {"numpy"} | set(sys.stdlib_module_names)
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [node.module.split(".")[0]]
            else:
                continue
            assert set(roots) <= allowed, f"{path.name} imports {roots}"
