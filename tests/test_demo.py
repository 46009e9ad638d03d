"""``scratchnet demo`` (issue 14): what it computes, and the real app in a real browser.

The first tests check the plain modules behind the page (predictions, disagreements,
the HTML, the network's view, the default models) without Gradio. The end-to-end test
starts ``python -m scratchnet demo --models ...`` on 127.0.0.1, drives Debian's Chromium
headless through Playwright (a stroke on the sketchpad, an MNIST test digit uploaded),
checks the page against the models' own ``predict`` on the same preprocessed input, and
keeps a screenshot in ``results/test-artifacts/demo/`` (or ``$SCRATCHNET_ARTIFACTS``).
It skips, saying why, without the ``[demo]`` extra or without ``/usr/bin/chromium``.
"""

from __future__ import annotations

import io
import math
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from scratchnet import Input, Sequential, load_model, preprocess_image
from scratchnet.data import load
from scratchnet.demo.canvas import drawing
from scratchnet.demo.defaults import Recipe, default_models
from scratchnet.demo.inference import (
    DemoModel,
    Prediction,
    disagreements,
    framing_for,
    predict,
    predict_all,
    top_k,
)
from scratchnet.demo.view import banner_html, card_html, network_view, rivals
from scratchnet.layers import Dense, Flatten

ROOT = Path(__file__).resolve().parents[1]
DIGITS = tuple("0123456789")
# One epoch on 1,500 images each: real models, if weak ones (the demo's own defaults train
# longer on all 4,000), in a few seconds.
QUICK = (Recipe("cnn", "seed_cnn", "conv2d", epochs=1, split="train[:1500]"),
         Recipe("lstm", "seed_lstm", "lstm", epochs=1, split="train[:1500]"))


def tiny(input_shape=(28, 28), classes=10, activation="softmax", seed=0):
    model = Sequential([Input(input_shape), Flatten(), Dense(classes, activation=activation)],
                       seed=seed)
    model.build()
    return model


def prediction(name, *top):
    return Prediction(name, tuple(top), 0.001)


# -- the pieces, without a browser -------------------------------------------------------------
def test_top_k_is_best_first_with_ties_by_class_index():
    p = np.array([0.1, 0.3, 0.1, 0.5], dtype=np.float32)
    assert top_k(p, "abcd", 3) == (("d", pytest.approx(0.5)), ("b", pytest.approx(0.3)),
                                   ("a", pytest.approx(0.1)))


def test_disagreements_lists_every_pair_whose_best_guesses_differ():
    a, b, c = prediction("a", ("3", 0.9)), prediction("b", ("3", 0.6)), prediction("c", ("5", .7))
    assert disagreements([a, b]) == []
    assert disagreements([a, b, c]) == [(0, 2), (1, 2)]
    assert rivals([a, b, c]) == [["c"], ["c"], ["a", "b"]]


def test_framing_follows_the_classes():
    assert framing_for(DIGITS) == "mnist"
    assert framing_for(tuple("0123456789ABC")) == "emnist"


@pytest.mark.parametrize("shape", [(28, 28), (28, 28, 1)])
def test_predict_is_the_models_own_predict(shape):
    model = tiny(shape)
    entry = DemoModel.check("m", model, DIGITS, "made here")
    image = np.random.default_rng(0).random((28, 28), dtype=np.float32)
    got = predict(entry, image)
    want = model.predict(image.reshape(1, *shape))[0]
    order = np.argsort(-want)[:5]
    assert [name for name, _ in got.top] == [DIGITS[i] for i in order]
    assert [p for _, p in got.top] == [float(want[i]) for i in order]
    assert got.seconds > 0


def test_check_refuses_what_the_demo_cannot_feed_or_read():
    with pytest.raises(ValueError, match=r"\(32, 32\).*28 x 28"):
        DemoModel.check("big", tiny((32, 32)), DIGITS, "")
    with pytest.raises(ValueError, match="10 outputs but 3 class names"):
        DemoModel.check("m", tiny(), ("a", "b", "c"), "")
    with pytest.raises(ValueError, match="does not output probabilities.*softmax"):
        DemoModel.check("logits", tiny(activation=None), DIGITS, "")
    # No class names: the class indices stand in.
    assert DemoModel.check("m", tiny(), None, "").class_names == DIGITS


def test_cards_and_banner_say_who_disagrees():
    entry = DemoModel.check("<cnn>", tiny(), DIGITS, "from a & b")
    idle = card_html(entry)
    assert "&lt;cnn&gt;" in idle and "from a &amp; b" in idle and "waiting" in idle
    a, b = prediction("<cnn>", ("3", 0.873)), prediction("lstm", ("5", 0.61))
    card = card_html(entry, a, rivals([a, b])[0])
    assert "sn-disagrees" in card and 'data-label="3"' in card and "(87.3%)" in card
    assert "disagrees with lstm" in card and "inference 1.00 ms" in card
    banner = banner_html([a, b])
    assert 'data-state="disagree"' in banner and "1 pair of models disagrees" in banner
    assert "&lt;cnn&gt; says <b>3</b> (87.3%)" in banner and "lstm says <b>5</b>" in banner
    agree = banner_html([a, prediction("lstm", ("3", 0.5))])
    assert 'data-state="agree"' in agree and "Both models say <b>3</b>" in agree
    assert 'data-state="idle"' in banner_html([])
    assert "cannot be read" in banner_html([a], "cannot be read")


def test_network_view_shows_each_pixel_as_a_block():
    image = np.zeros((28, 28), dtype=np.float32)
    image[3, 5] = 1.0
    image[10, 20] = 0.5
    view = network_view([image, image], scale=4, gap=2)
    assert view.shape == (112, 226) and view.dtype == np.uint8
    assert (view[12:16, 20:24] == 255).all() and view[12:16, 20:24].sum() == view[:, :112][
        view[:, :112] == 255].sum()
    assert (view[40:44, 80:84] == 128).all()  # 0.5 -> 127.5 -> 128
    assert (view[:, 112:114] == 128).all()  # the gap
    assert (view[:, 114:] == view[:, :112]).all()


def test_an_empty_sketchpad_is_no_image():
    assert drawing(None) is None
    assert drawing({"composite": None, "layers": [], "background": None}) is None
    blank = np.zeros((50, 40, 4), dtype=np.uint8)
    assert drawing({"composite": blank}) is None
    blank[10, 10] = (0, 0, 0, 255)
    assert drawing({"composite": blank}) is blank


def test_predict_all_frames_the_image_once_per_framing(tmp_path):
    x, _ = load("mnist-sample", "test")
    mnist = DemoModel.check("digits", tiny(), DIGITS, "")
    letters = DemoModel.check("letters", tiny(classes=12), tuple("0123456789AB"), "")
    inputs, predictions = predict_all([mnist, letters, mnist], x[0])
    assert list(inputs) == ["mnist", "emnist"]
    np.testing.assert_array_equal(inputs["mnist"], preprocess_image(x[0], like="mnist"))
    np.testing.assert_array_equal(inputs["emnist"], preprocess_image(x[0], like="emnist"))
    assert [p.name for p in predictions] == ["digits", "letters", "digits"]
    assert predictions[0].top == predictions[2].top


@pytest.fixture(scope="module")
def quick_models(tmp_path_factory):
    """The demo's default models, one epoch each, trained into a fresh cache folder."""
    folder = tmp_path_factory.mktemp("demo-cache")
    lines = []
    entries, summary = default_models("mnist-sample", folder, lines.append, recipes=QUICK)
    return folder, entries, summary, lines


@pytest.fixture(scope="module")
def letters_model(tmp_path_factory):
    """A third model of another kind: an MLP that read EMNIST's 47 classes for one epoch."""
    folder = tmp_path_factory.mktemp("demo-letters")
    default_models("emnist-sample", folder, lambda line: None,
                   recipes=(Recipe("mlp", "mlp_baseline", "conv2d", epochs=1,
                                   split="train[:2000]"),))
    return next(folder.glob("*.scratchnet"))


def test_default_models_are_trained_once_then_loaded_from_the_cache(quick_models):
    folder, trained, summary, lines = quick_models
    assert "trained just now" in summary and "mnist-sample" in summary
    assert [e.name for e in trained] == ["cnn", "lstm"]
    assert all("trained just now on mnist-sample (1,500 images, 1 epoch," in e.origin
               for e in trained)
    assert len(lines) == 2 and all("training the default" in line for line in lines)
    files = sorted(folder.glob("*.scratchnet"))
    assert len(files) == 2
    lines.clear()
    loaded, summary = default_models("mnist-sample", folder, lines.append, recipes=QUICK)
    assert "loaded from the cache" in summary and lines == []
    assert all(e.origin.startswith(f"loaded from the cache {folder}") for e in loaded)
    x = preprocess_image(load("mnist-sample", "test")[0][7])
    for a, b in zip(trained, loaded, strict=True):
        assert b.class_names == DIGITS
        assert predict(a, x).top == predict(b, x).top
        # The accuracy said in the interface is measured, and the same for both.
        assert a.origin.rsplit("; ", 1)[1] == b.origin.rsplit("; ", 1)[1]


def test_an_unreadable_cached_model_is_trained_again(quick_models, tmp_path):
    folder = quick_models[0]
    recipe = QUICK[1:]
    path = tmp_path / next(folder.glob("mnist-sample-lstm-*.scratchnet")).name
    path.write_bytes(next(folder.glob("mnist-sample-lstm-*.scratchnet")).read_bytes()[:100])
    lines = []
    (entry,), summary = default_models("mnist-sample", tmp_path, lines.append, recipes=recipe)
    assert "unreadable" in lines[0] and str(path) in lines[0] and "trained just now" in summary
    assert load_model(path).class_names == list(DIGITS)


# -- the command ---------------------------------------------------------------------------------
def run_python(code: str, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_core_and_command_line_do_not_import_gradio():
    result = run_python(
        "import sys, scratchnet, scratchnet.cli, scratchnet.demo.inference, "
        "scratchnet.demo.view, scratchnet.demo.defaults\n"
        "scratchnet.cli.build_parser()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('gradio', 'playwright')))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_without_gradio_the_command_says_how_to_install_it():
    # A None entry in sys.modules makes `import gradio` fail as if it were not installed.
    result = run_python("import sys; sys.modules['gradio'] = None\n"
                        "from scratchnet.cli import main; sys.exit(main(['demo']))")
    assert result.returncode == 2
    assert "pip install 'scratchnet[demo]'" in result.stderr
    assert "Traceback" not in result.stderr and "training" not in result.stderr


def test_a_model_the_demo_cannot_use_is_refused_by_name(tmp_path):
    pytest.importorskip("gradio", reason="the [demo] extra is not installed")
    model = tiny((32, 32))
    path = tmp_path / "big.scratchnet"
    model.save(path)
    result = run_python("import sys\nfrom scratchnet.cli import main\n"
                        f"sys.exit(main(['demo', '--models', {str(path)!r}]))")
    assert result.returncode == 2
    assert "model 'big' reads inputs of shape (32, 32)" in result.stderr
    assert "Traceback" not in result.stderr


# -- the real app in a real browser -------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As root in a container, and with no network: no sandbox, no background connections.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]


def artifacts_folder() -> Path:
    folder = Path(os.environ.get("SCRATCHNET_ARTIFACTS") or ROOT / "results" / "test-artifacts")
    folder = folder / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DemoServer:
    """``python -m scratchnet demo`` in a child process, until its address is printed."""

    def __init__(self, *args: str, temp: Path, timeout: float = 90):
        self.port = free_port()
        # Gradio's uploads go to the test's own folder, not a shared /tmp/gradio.
        env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False",
               "GRADIO_TEMP_DIR": str(temp)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scratchnet", "demo", *args, "--host", "127.0.0.1",
             "--port", str(self.port)], cwd=ROOT, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.output: list[str] = []
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(lines,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.close()
                raise AssertionError(f"the demo did not start in {timeout} s:\n"
                                     + "".join(self.output)) from None
            if line.startswith("scratchnet demo: http://"):
                self.url = line.split()[2]
                return
            if self.proc.poll() is not None and lines.empty():
                raise AssertionError(f"the demo exited ({self.proc.returncode}):\n"
                                     + "".join(self.output))

    def _read(self, lines: queue.Queue) -> None:
        for line in self.proc.stdout:
            self.output.append(line)
            lines.put(line)

    def close(self) -> int:
        """Stop it as a user does, with Ctrl+C (SIGINT); return its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def draw_stroke(page, points) -> None:
    """Press, move through ``points`` (fractions of the canvas), release."""
    box = page.locator("#sn-sketch canvas").first.bounding_box()
    at = [(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy) for fx, fy in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for (x0, y0), (x1, y1) in zip(at[:-1], at[1:], strict=True):
        for t in np.linspace(0, 1, 12)[1:]:
            page.mouse.move(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
    page.mouse.up()


def shown_top(page, i: int) -> list[tuple[str, str]]:
    """Model ``i``'s probability bars as shown: [(class, "74%"), ...], best first."""
    text = page.locator(f"#sn-label-{i}").inner_text().split("\n")
    rows = [t.strip() for t in text if t.strip()][1:]  # the first line is the label's title
    return list(zip(rows[::2], rows[1::2], strict=True))


def expected_top(entry: DemoModel, x: np.ndarray) -> list[tuple[str, str]]:
    probs = entry.model.predict(x.reshape(1, *entry.model.input_shape))[0]
    # As the page rounds them: JavaScript's Math.round, halves up.
    return [(entry.class_names[k], f"{math.floor(float(probs[k]) * 100 + 0.5)}%")
            for k in np.argsort(-probs, kind="stable")[:5]]


def test_the_demo_in_a_real_browser(quick_models, letters_model, tmp_path):
    pytest.importorskip("gradio", reason="the [demo] extra is not installed: "
                        "pip install 'scratchnet[demo]'")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the [demo] extra (playwright) "
                                   "is not installed: pip install 'scratchnet[demo]'")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (as .ci/run does)")
    from PIL import Image

    # Two digit models (MNIST framing) and a letters model (EMNIST framing, 47 classes).
    folder = quick_models[0]
    sources = {"cnn": next(folder.glob("mnist-sample-cnn-*.scratchnet")),
               "lstm": next(folder.glob("mnist-sample-lstm-*.scratchnet")),
               "emnist-mlp": letters_model}
    paths = [tmp_path / f"{name}.scratchnet" for name in sources]
    for path, source in zip(paths, sources.values(), strict=True):
        shutil.copyfile(source, path)
    # The models exactly as the app loads them, from the files it is given.
    entries = [DemoModel.check(p.stem, m, m.class_names, "")
               for p, m in ((p, load_model(p)) for p in paths)]
    x_test, y_test = load("mnist-sample", "test")
    digit = tmp_path / "digit.png"
    Image.fromarray(x_test[0]).save(digit)
    seen = {f: preprocess_image(digit, like=f) for f in ("mnist", "emnist")}
    want = [expected_top(e, seen[e.framing]) for e in entries]
    best = [w[0][0] for w in want]
    against = [[e.name for e, b in zip(entries, best, strict=True) if b != mine]
               for mine in best]
    pairs = sum(map(len, against)) // 2

    server = DemoServer("--models", *map(str, paths), temp=tmp_path / "gradio")
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(server.url)
            expect = sync_api.expect
            banner = page.locator("#sn-banner .sn-banner")
            expect(banner).to_have_attribute("data-state", "idle")
            # The app picks the sketchpad's brush for the user: draw at once.
            expect(page.locator("#sn-sketch")).not_to_contain_text("select the draw tool")

            draw_stroke(page, [(0.35, 0.3), (0.65, 0.3), (0.45, 0.75)])  # a 7
            expect(banner).not_to_have_attribute("data-state", "idle", timeout=20_000)
            for i, entry in enumerate(entries):
                top = shown_top(page, i)
                assert len(top) == 5 and {c for c, _ in top} <= set(entry.class_names)
                card = page.locator(f"#sn-card-{i} .sn-card")
                expect(card).to_have_attribute("data-label", top[0][0])
            page.screenshot(path=artifacts_folder() / "demo-drawn.png", full_page=True)

            page.click("#sn-sketch button[aria-label='Clear canvas']")
            expect(banner).to_have_attribute("data-state", "idle")
            page.set_input_files("#sn-upload input[type=file]", digit)
            expect(banner).to_have_attribute("data-state", "disagree" if pairs else "agree",
                                             timeout=20_000)
            if pairs:
                expect(banner).to_have_attribute("data-pairs", str(pairs))
            for i, entry in enumerate(entries):
                card = page.locator(f"#sn-card-{i} .sn-card")
                expect(card).to_have_attribute("data-label", best[i])
                expect(card).to_have_attribute("data-disagrees", "yes" if against[i] else "no")
                if against[i]:
                    expect(card).to_contain_text(f"disagrees with {', '.join(against[i])}")
                assert float(card.get_attribute("data-ms")) > 0
                assert shown_top(page, i) == want[i], entry.name
            # The input as the network sees it: the exact pixels of the preprocessed digit,
            # in MNIST's framing, then EMNIST's.
            src = page.locator("#sn-seen img").get_attribute("src")
            png = page.request.get(src).body()
            np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png)).convert("L")),
                                          network_view([seen["mnist"], seen["emnist"]]))
            shot = artifacts_folder() / "demo-uploaded.png"
            page.screenshot(path=shot, full_page=True)
            browser.close()
    finally:
        status = server.close()
    said = ", ".join(f"{e.name} says {b}" for e, b in zip(entries, best, strict=True))
    print(f"\nscreenshots: {shot.parent} (an MNIST {y_test[0]}; {said})")
    # Ctrl+C ends it cleanly, and it said nothing but its address (and Gradio its goodbye):
    # no warning, no traceback.
    output = "".join(server.output)
    assert status == 0, output
    assert output.splitlines() == [f"scratchnet demo: {server.url}  (Ctrl+C stops it)",
                                   f"Closing server running on port: {server.port}"], output
