"""Kernel micro-benchmarks: every numba kernel of ``scratchnet.kernels`` against its NumPy
reference, at the shapes the seed models use, plus each kernel's JIT compile time.

Discovery: every module of ``scratchnet.kernels`` is scanned; each ``foo_reference``
defines a kernel family, and every public numba kernel named ``foo`` or ``foo_*`` (the
``foo_parallel`` kernel and its ``foo_serial`` twin, or a lone kernel such as
``softmax_cross_entropy``) is timed against it. The plain-Python dispatcher ``foo``, which
only picks one of the two, is not a numba kernel and gets no row of its own. A kernel
found without a benchmark case below, or without a reference, is listed in the result
(``uncovered``) so that nothing goes unmeasured silently.

Timing: one warm-up call (the JIT compile, or a cache load), then ``repeats`` timed
runs, alternating kernel and reference so both see the same machine load. A run is
enough back-to-back calls to last ``min_run_time`` (timer resolution and call overhead
then do not matter); the per-call median is reported. The LSTM step kernels are timed
per sequence: T = 28 calls, as one forward or backward pass through the layer makes.

JIT compile time (``jit()``): each kernel is called twice in a fresh interpreter, at
tiny shapes (compilation depends on types, not sizes); the compile time is the first
call minus the second. *Cold* uses an empty ``NUMBA_CACHE_DIR``, so numba compiles;
*warm* is a second interpreter on the same directory, so it loads the cached machine
code. numba's own cache hit/miss counters are reported alongside, as proof.
"""

from __future__ import annotations

import importlib
import pkgutil
import shutil
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import common
import numpy as np

F32 = np.float32


@dataclass
class Case:
    """One kernel family at one shape: ``make_args()`` gives fresh float32 arguments."""

    base: str  # the family, i.e. the name before ``_reference``
    label: str  # where in the seed models this shape occurs
    shape: str  # the shapes, for the table
    make_args: Callable[[], tuple]
    calls: int = 1  # kernel calls per timed unit (T for the LSTM steps)


def seed_cases(tiny: bool = False) -> list[Case]:
    """The benchmark cases at the seed models' shapes (``tiny``: batch 2, for tests and JIT).

    CNN at batch 128: conv1 (128,28,28,1) k3 -> 32, pool (128,26,26,32), conv2
    (128,13,13,32) k3 -> 64, pool (128,11,11,64), dense 1600 -> 128 -> 47 (the bias and
    activation kernels see each layer's output as P rows of F features);
    LSTM N=128, T=28, D=28, H=128 (the inference step at N=1024); softmax-CE (128, 47);
    Adam over 229,807 (CNN) and 86,447 (LSTM) parameters; the first conv's fused weight
    gradient at (86528, 32).
    """
    n = 2 if tiny else 128
    t_steps = 2 if tiny else 28
    hidden = 8 if tiny else 128
    classes = common.NUM_CLASSES
    cnn_params, lstm_params = (1000, 500) if tiny else (229_807, 86_447)
    rng = np.random.default_rng(0)

    def randn(*shape):
        return rng.standard_normal(shape).astype(F32)

    def im2col_args(h, c, ho):  # a valid 3x3 convolution, stride 1, ho x ho computed
        x = randn(n, h, h, c)
        return lambda: (x.copy(), 3, 3, 1, 1, 0, 0, np.empty((n, ho, ho, 9 * c), F32))

    def valid_args(h, c, ho):  # the same, for the valid case's own kernels
        x = randn(n, h, h, c)
        return lambda: (x.copy(), 3, 3, np.empty((n, ho, ho, 9 * c), F32))

    def col2im_args(h, c, ho):
        cols = randn(n, ho, ho, 9 * c)
        return lambda: (cols.copy(), 3, 3, 1, 1, 0, 0, np.empty((n, h, h, c), F32))

    def conv_pool_args():  # the first conv and its pool at inference, in one pass
        x, w = randn(n, 28, 28, 1), 0.3 * randn(3, 3, 1, 32)
        return lambda: (x.copy(), w.copy(), np.empty((n, 13, 13, 32), F32))

    def conv_pool_train_args(kind):  # the same in training (one channel): forward, then dW, db
        from scratchnet.kernels.conv_pool import conv3x3_relu_maxpool_reference

        x, w, b = randn(n, 28, 28), 0.3 * randn(9, 32), 0.1 * randn(32)
        out, arg = np.empty((n, 13, 13, 32), F32), np.empty((n, 13, 13, 32), np.uint8)
        conv3x3_relu_maxpool_reference(x, w, b, out, arg)  # a real mix of winners and zeros
        dy = randn(n, 13, 13, 32)
        if kind == "forward":
            return lambda: (x.copy(), w.copy(), b.copy(), np.empty_like(out), np.empty_like(arg))
        return lambda: (x.copy(), arg.copy(), dy.copy(), np.empty_like(w), np.empty_like(b))

    def winograd_args(kind):  # the second conv by Winograd: 13 x 13 x 32 in, 10 x 10 x 64 out
        from scratchnet.kernels.winograd import plane_rows

        tiles = n * 5 * 5
        x, dz = randn(n, 13, 13, 32), randn(n, 10, 10, 64)
        m = randn(16, plane_rows(tiles, 64 * 4), 64)
        dv = randn(16, plane_rows(tiles, 32 * 4), 32)
        return {
            "input": lambda: (x.copy(), 5, 5, np.empty_like(dv)),
            "output": lambda: (m.copy(), 5, 5, np.empty((n, 10, 10, 64), F32)),
            "output_pool": lambda: (m.copy(), 5, 5, np.empty((n, 5, 5, 64), F32)),
            "output_adjoint": lambda: (dz.copy(), 5, 5, np.empty_like(m)),
            "input_adjoint": lambda: (dv.copy(), 5, 5, np.empty_like(x)),
        }[kind]

    def pool_shapes(h, c):
        ho = h // 2
        return (n, h, h, c), (n, ho, ho, c)

    def pool_fwd_args(h, c, training=True):  # at inference the pool records no argmax
        xs, ys = pool_shapes(h, c)
        x = randn(*xs)
        return lambda: (x.copy(), 2, 2, 2, 2, 0, 0, np.empty(ys, F32),
                        np.empty(ys, np.int32) if training else None)

    def pool_bwd_args(h, c):
        from scratchnet.kernels.maxpool import maxpool_forward_reference

        xs, ys = pool_shapes(h, c)
        argmax = np.empty(ys, np.int32)
        maxpool_forward_reference(randn(*xs), 2, 2, 2, 2, 0, 0, np.empty(ys, F32), argmax)
        dy = randn(*ys)
        return lambda: (dy.copy(), argmax.copy(), np.empty(xs, F32))

    def lstm_fwd_args():
        zx, zh, c_prev = randn(n, 4 * hidden), randn(n, 4 * hidden), randn(n, hidden)
        return lambda: (zx.copy(), zh.copy(), c_prev.copy(), np.empty((n, 4 * hidden), F32),
                        *(np.empty((n, hidden), F32) for _ in range(3)))

    def lstm_infer_args(batch):  # lstm_infer_step(z, c, h) at the inference batch size
        z, c = randn(batch, 4 * hidden), randn(batch, hidden)
        return lambda: (z.copy(), c.copy(), np.empty((batch, hidden), F32))

    def lstm_bwd_args():
        z = randn(n, 4 * hidden)
        gates = 1 / (1 + np.exp(-z))
        gates[:, 2 * hidden:3 * hidden] = np.tanh(z[:, 2 * hidden:3 * hidden])
        dh, dc_next, c_prev = randn(n, hidden), randn(n, hidden), randn(n, hidden)
        tanh_c = np.tanh(randn(n, hidden))
        return lambda: (dh.copy(), dc_next.copy(), gates.copy(), c_prev.copy(), tanh_c.copy(),
                        np.empty((n, 4 * hidden), F32), np.empty((n, hidden), F32))

    def softmax_args():
        logits = 3 * randn(n, classes)
        labels = rng.integers(0, classes, n).astype(np.int64)
        return lambda: (logits.copy(), labels.copy(), np.empty((n, classes), F32), n)

    def adam_args(size):
        p, g, m = randn(size), randn(size), 0.1 * randn(size)
        v = np.abs(0.1 * randn(size))
        return lambda: (p.copy(), g.copy(), m.copy(), v.copy(), 1e-3, 0.9, 0.999, 1e-7)

    def rows_args(p, f, grad=False):  # a layer output (P, F) viewed as rows, and its bias
        z, b, dy = randn(p, f), randn(f), randn(p, f)
        if grad:  # relu_bias_backward(dy, y, dz, db): y is a ReLU output
            y = np.maximum(z, 0)
            return lambda: (dy.copy(), y.copy(), np.empty((p, f), F32), np.empty(f, F32))
        return lambda: (z.copy(), b.copy())

    def weight_grads_args(p, k, f):  # relu_weight_grads(dy, y, cols, dW, db), a first conv
        dy, y, cols = randn(p, f), np.maximum(randn(p, f), 0), randn(p, k)
        return lambda: (dy.copy(), y.copy(), cols.copy(), np.empty((k, f), F32),
                        np.empty(f, F32))

    def sums_args(p, f):
        a = randn(p, f)
        return lambda: (a.copy(), np.empty(f, F32))

    # The second conv computes only the 10 x 10 of its 11 x 11 map that its pool reads.
    conv1_rows, conv2_rows = n * 26 * 26, n * 10 * 10
    infer_n = 2 if tiny else 1024  # predict's batch size in the e2e section
    lstm_shape = f"zx, zh ({n},{4 * hidden}), c ({n},{hidden}); x{t_steps} steps"
    cases = [
        Case("im2col", "conv1", f"({n},28,28,1) k3 -> ({n},26,26,9)", im2col_args(28, 1, 26)),
        Case("im2col", "conv2", f"({n},13,13,32) k3 -> ({n},10,10,288)",
             im2col_args(13, 32, 10)),
        Case("im2col_valid", "conv1", f"({n},28,28,1) k3 -> ({n},26,26,9)",
             valid_args(28, 1, 26)),
        Case("im2col_valid", "conv2", f"({n},13,13,32) k3 -> ({n},10,10,288)",
             valid_args(13, 32, 10)),
        Case("col2im", "conv2", f"({n},10,10,288) -> ({n},13,13,32)", col2im_args(13, 32, 10)),
        Case("conv3x3_maxpool", "conv1 + pool1 (inference)",
             f"({n},28,28,1) k3 -> ({n},13,13,32)", conv_pool_args()),
        Case("conv3x3_relu_maxpool", "conv1 + pool1 (training)",
             f"({n},28,28) k3 -> ({n},13,13,32) + argmax", conv_pool_train_args("forward")),
        Case("conv3x3_maxpool_grads", "conv1 + pool1 (training)",
             f"({n},13,13,32) -> dW (9,32), db", conv_pool_train_args("grads")),
        Case("winograd_input", "conv2", f"({n},13,13,32) -> (16,{n * 25}+,32)",
             winograd_args("input")),
        Case("winograd_output", "conv2", f"(16,{n * 25}+,64) -> ({n},10,10,64)",
             winograd_args("output")),
        Case("winograd_output_pool", "conv2 + pool2 (inference)",
             f"(16,{n * 25}+,64) -> ({n},5,5,64)", winograd_args("output_pool")),
        Case("winograd_output_adjoint", "conv2", f"({n},10,10,64) -> (16,{n * 25}+,64)",
             winograd_args("output_adjoint")),
        Case("winograd_input_adjoint", "conv2", f"(16,{n * 25}+,32) -> ({n},13,13,32)",
             winograd_args("input_adjoint")),
        Case("bias_relu", "conv1", f"({conv1_rows},32) + (32,)", rows_args(conv1_rows, 32)),
        Case("bias_relu", "conv2", f"({conv2_rows},64) + (64,)", rows_args(conv2_rows, 64)),
        Case("bias_relu", "dense1", f"({n},128) + (128,)", rows_args(n, 128)),
        Case("bias_add", "dense2", f"({n},{classes}) + ({classes},)", rows_args(n, classes)),
        Case("relu_bias_backward", "conv1", f"({conv1_rows},32) -> dz, db (32,)",
             rows_args(conv1_rows, 32, grad=True)),
        Case("relu_bias_backward", "conv2", f"({conv2_rows},64) -> dz, db (64,)",
             rows_args(conv2_rows, 64, grad=True)),
        Case("relu_bias_backward", "dense1", f"({n},128) -> dz, db (128,)",
             rows_args(n, 128, grad=True)),
        Case("relu_weight_grads", "conv1", f"({conv1_rows},32), cols ({conv1_rows},9) -> "
             "dW (9,32), db (32,)", weight_grads_args(conv1_rows, 9, 32)),
        Case("column_sums", "dense2", f"({n},{classes}) -> ({classes},)", sums_args(n, classes)),
        Case("maxpool_forward", "pool1", f"({n},26,26,32) -> ({n},13,13,32)",
             pool_fwd_args(26, 32)),
        Case("maxpool_forward", "pool1 (inference)", f"({n},26,26,32) -> ({n},13,13,32), "
             "no argmax", pool_fwd_args(26, 32, training=False)),
        Case("maxpool_forward", "pool2", f"({n},10,10,64) -> ({n},5,5,64)", pool_fwd_args(10, 64)),
        Case("maxpool_backward", "pool1", f"({n},13,13,32) -> ({n},26,26,32)",
             pool_bwd_args(26, 32)),
        Case("maxpool_backward", "pool2", f"({n},5,5,64) -> ({n},10,10,64)",
             pool_bwd_args(10, 64)),
        Case("lstm_forward_step", "lstm", lstm_shape, lstm_fwd_args(), calls=t_steps),
        Case("lstm_backward_step", "lstm", lstm_shape, lstm_bwd_args(), calls=t_steps),
        Case("lstm_infer_step", "lstm (inference)",
             f"z ({infer_n},{4 * hidden}), c ({infer_n},{hidden}); x{t_steps} steps",
             lstm_infer_args(infer_n), calls=t_steps),
        Case("softmax_cross_entropy", "loss", f"({n},{classes})", softmax_args()),
        Case("adam_update", "cnn", f"{cnn_params:,} params", adam_args(cnn_params)),
        Case("adam_update", "lstm", f"{lstm_params:,} params", adam_args(lstm_params)),
    ]
    # The recurrent family's, the training toolkit's and augmentation's kernels keep their
    # rows in files of their own (imported here, not at the top: they import this module).
    import bench_augment_kernels
    import bench_rnn_kernels
    import bench_toolkit_kernels

    return (cases + bench_rnn_kernels.rnn_cases(tiny) + bench_toolkit_kernels.toolkit_cases(tiny)
            + bench_augment_kernels.augment_cases(tiny))


def discover() -> tuple[dict, list[str]]:
    """Find every kernel family in ``scratchnet.kernels``.

    Returns ``({base: {"module", "reference", "kernels": {name: dispatcher}}}, orphans)``
    where ``orphans`` are public numba dispatchers that belong to no ``*_reference``.
    """
    from numba.core.dispatcher import Dispatcher

    import scratchnet.kernels as pkg

    families, orphans = {}, []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        mod = importlib.import_module(f"{pkg.__name__}.{info.name}")
        own = {name: obj for name, obj in vars(mod).items()
               if isinstance(obj, Dispatcher) and not name.startswith("_")
               and getattr(obj.py_func, "__module__", None) == mod.__name__}
        bases = sorted((name[:-len("_reference")] for name, obj in vars(mod).items()
                        if name.endswith("_reference") and not name.startswith("_")
                        and callable(obj)), key=len, reverse=True)
        for base in bases:
            families[base] = {"module": mod.__name__, "kernels": {},
                              "reference": getattr(mod, f"{base}_reference")}
        for name, obj in own.items():
            base = next((b for b in bases if name == b or name.startswith(b + "_")), None)
            if base is None:
                orphans.append(f"{mod.__name__}.{name}")
            else:
                families[base]["kernels"][name] = obj
    return families, orphans


def _loop(fn, args, calls):
    if calls == 1:
        return lambda: fn(*args)

    def run():
        for _ in range(calls):
            fn(*args)
    return run


def run(repeats: int = 15, min_run_time: float = 0.02, tiny: bool = False,
        cases: list[Case] | None = None) -> dict:
    """Time every kernel and its reference; see the module docstring for the method.

    ``cases``: only these (a family's own benchmark file); by default every seed case,
    and then ``uncovered`` lists the kernels that have none.

    Returns ``{"rows": [...], "uncovered": [...], "errors": [...], "settings": {...}}``;
    each row has ``kernel``, ``family``, ``case``, ``shape``, ``calls_per_unit``,
    ``kernel`` and ``reference`` timing summaries (seconds per unit), and ``speedup``.
    """
    families, orphans = discover()
    uncovered = []
    if cases is None:
        cases = seed_cases(tiny)
        covered = {c.base for c in cases}
        uncovered = [f"{fam['module']}.{name}: no benchmark case"
                     for base, fam in families.items() if base not in covered
                     for name in fam["kernels"]]
        uncovered += [f"{name}: no *_reference" for name in orphans]
    rows, errors = [], []
    for case in cases:
        fam = families.get(case.base)
        if fam is None or not fam["kernels"]:
            errors.append(f"{case.base}: not found in scratchnet.kernels")
            continue
        try:
            ref = _loop(fam["reference"], case.make_args(), case.calls)
            fns = {name: _loop(k, case.make_args(), case.calls)
                   for name, k in sorted(fam["kernels"].items())}
            for fn in (ref, *fns.values()):  # warm-up: JIT compile or cache load
                fn()
            numbers = {name: common.calibrate(fn, min_run_time) for name, fn in fns.items()}
            ref_number = common.calibrate(ref, min_run_time)
            times = {name: [] for name in fns}
            ref_times = []
            for _ in range(repeats):
                for name, fn in fns.items():
                    times[name].append(common.time_run(fn, numbers[name]))
                ref_times.append(common.time_run(ref, ref_number))
        except Exception as exc:  # a changed signature must not sink the whole run
            errors.append(f"{case.base} [{case.label}]: {type(exc).__name__}: {exc}")
            continue
        ref_summary = common.summary(ref_times)
        for name in fns:
            k_summary = common.summary(times[name])
            rows.append({
                "kernel": name, "family": case.base, "module": fam["module"],
                "case": case.label, "shape": case.shape, "calls_per_unit": case.calls,
                "kernel_time": k_summary, "reference_time": ref_summary,
                "speedup": ref_summary["median_s"] / k_summary["median_s"],
            })
    return {"rows": rows, "uncovered": uncovered, "errors": errors,
            "settings": {"repeats": repeats, "min_run_time_s": min_run_time, "tiny": tiny,
                         "dtype": "float32"}}


def to_markdown(result: dict) -> str:
    rows = [[f"`{r['kernel']}`", r["case"], r["shape"],
             common.fmt_time(r["kernel_time"]["median_s"]),
             common.fmt_time(r["reference_time"]["median_s"]),
             f"{r['speedup']:.1f}x", r["kernel_time"]["runs"]] for r in result["rows"]]
    text = common.md_table(["kernel", "where", "shapes (float32)", "numba (median)",
                            "NumPy reference (median)", "speed-up", "runs"], rows,
                           right={3, 4, 5, 6})
    notes = [*(f"- not measured: {u}" for u in result["uncovered"]),
             *(f"- error: {e}" for e in result["errors"])]
    return text + ("\n\n" + "\n".join(notes) if notes else "")


# -- JIT compile time ----------------------------------------------------------------------------
def jit_child(base: str, label: str, kernel: str) -> dict:
    """In a fresh interpreter: call ``kernel`` twice at tiny shapes; time both calls.

    numba's one-time start in a process (LLVM and its type system) is paid first, by
    compiling a trivial uncached function, and reported apart as ``numba_init_s``, so
    the kernel's figures are its own compile (or cache load) only.
    """
    import time

    from numba import njit

    families, _ = discover()
    fn = families[base]["kernels"][kernel]
    case = next(c for c in seed_cases(tiny=True) if c.base == base and c.label == label)
    args = case.make_args()
    t_init = time.perf_counter()
    njit(lambda a: a + 1)(1.0)
    t0 = time.perf_counter()
    fn(*args)
    t1 = time.perf_counter()
    fn(*args)
    t2 = time.perf_counter()
    stats = fn.stats
    return {"numba_init_s": t0 - t_init, "first_call_s": t1 - t0, "second_call_s": t2 - t1,
            "compile_s": max((t1 - t0) - (t2 - t1), 0.0),
            "cache_hits": sum(stats.cache_hits.values()),
            "cache_misses": sum(stats.cache_misses.values())}


def jit(kernels: list[str] | None = None) -> dict:
    """Cold and warm JIT compile time of every kernel, one child each.

    ``kernels`` limits it to the kernels named, or to every kernel of the families named
    (``"adam_update"``: ``adam_update_parallel`` and ``adam_update_serial``).
    """
    families, _ = discover()
    first_case = {}
    for case in seed_cases(tiny=True):
        first_case.setdefault(case.base, case)
    rows, errors = [], []
    for base, fam in families.items():
        case = first_case.get(base)
        for name in sorted(fam["kernels"]):
            if case is None or (kernels and name not in kernels and base not in kernels):
                continue
            cache = tempfile.mkdtemp(prefix="bench-numba-cache-")
            try:
                env = {"NUMBA_CACHE_DIR": cache}
                cold = common.run_child("bench_kernels", "jit_child",
                                        {"base": base, "label": case.label, "kernel": name}, env)
                warm = common.run_child("bench_kernels", "jit_child",
                                        {"base": base, "label": case.label, "kernel": name}, env)
                rows.append({"kernel": name, "module": fam["module"], "cold": cold, "warm": warm})
            except Exception as exc:
                errors.append(f"{name}: {type(exc).__name__}: {str(exc)[-500:]}")
            finally:
                shutil.rmtree(cache, ignore_errors=True)
    return {"rows": rows, "errors": errors}


def jit_to_markdown(result: dict) -> str:
    rows = [[f"`{r['kernel']}`", common.fmt_time(r["cold"]["compile_s"]),
             f"{r['cold']['cache_misses']}/{r['cold']['cache_hits']}",
             common.fmt_time(r["warm"]["compile_s"]),
             f"{r['warm']['cache_misses']}/{r['warm']['cache_hits']}"] for r in result["rows"]]
    total_cold = sum(r["cold"]["compile_s"] for r in result["rows"])
    total_warm = sum(r["warm"]["compile_s"] for r in result["rows"])
    rows.append(["**sum**", f"**{common.fmt_time(total_cold)}**", "",
                 f"**{common.fmt_time(total_warm)}**", ""])
    text = common.md_table(["kernel", "cold: compile", "cold: misses/hits",
                            "warm cache: load", "warm: misses/hits"], rows)
    inits = [r[c].get("numba_init_s") for r in result["rows"] for c in ("cold", "warm")]
    inits = [i for i in inits if i is not None]
    if inits:
        text += (f"\n\nNot included above: numba's one-time start in each process (LLVM, "
                 f"types, a trivial compile), median {common.fmt_time(statistics.median(inits))}. "
                 "misses/hits: numba's own cache counters for the kernel.")
    return text + "".join(f"\n- error: {e}" for e in result["errors"])
