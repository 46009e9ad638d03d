"""The Gradio interface of ``scratchnet demo``: draw or upload, and compare the models.

Layout, top to bottom: where the models came from; the sketchpad, the upload and the
input as the network sees it; the agreement banner; a card per model, side by side (its
guess, its inference time, whom it disagrees with, where it came from), and under each
card the model's top five as probability bars.

Gradio is imported only here, and only when the demo starts (the ``[demo]`` extra).
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from .canvas import drawing
from .inference import DemoModel, Prediction, predict_all
from .view import CSS, banner_html, card_html, network_view, rivals

__all__ = ["DemoUnavailable", "build", "load_models", "main", "serve"]

TOP = 5
SEEN = "As the network sees it: 28 x 28, {} framing"
# The sketchpad starts with no tool chosen, and clearing it drops the tool: pick the brush
# then, so that one can draw at once.
PICK_BRUSH = """() => {
  const pick = (tries) => {
    const brush = document.querySelector('#sn-sketch button[aria-label="Brush"]');
    if (brush) brush.click(); else if (tries < 100) setTimeout(() => pick(tries + 1), 100);
  };
  pick(0);
  document.addEventListener('click', (event) => {
    if (event.target.closest('#sn-sketch button[aria-label="Clear canvas"]'))
      setTimeout(() => pick(0), 300);
  }, true);
}"""


class DemoUnavailable(RuntimeError):
    """The demo cannot start: an extra is missing or the port is taken."""


def _gradio():
    try:
        import gradio
    except ModuleNotFoundError as exc:
        raise DemoUnavailable(
            f"the demo needs Gradio, which is not installed ({exc}); install the extra: "
            "pip install 'scratchnet[demo]'") from None
    return gradio


def _require_gradio() -> None:
    """Fail early, before any model is trained, without paying for Gradio's import."""
    try:
        found = importlib.util.find_spec("gradio") is not None
    except ValueError:  # a None placeholder in sys.modules
        found = False
    if not found:
        _gradio()  # raises, naming the extra


def load_models(paths: Sequence[str | Path]) -> list[DemoModel]:
    """Load saved models for the demo, each named after its file (made unique)."""
    import scratchnet

    entries, seen = [], set()
    for path in paths:
        model = scratchnet.load_model(path)
        name, n = Path(path).stem, 2
        while name in seen:
            name, n = f"{Path(path).stem} ({n})", n + 1
        seen.add(name)
        entries.append(DemoModel.check(name, model, getattr(model, "class_names", None),
                                       f"loaded from {path}"))
    return entries


class _Session:
    """Turns a widget value into every output of the page (one prediction at a time:
    the models' buffers are reused between calls)."""

    def __init__(self, entries: Sequence[DemoModel]):
        self.entries = list(entries)
        self.lock = threading.Lock()

    def idle(self, message: str | None = None) -> list:
        return [None, banner_html([], message), *[card_html(e) for e in self.entries],
                *[None] * len(self.entries)]

    def respond(self, image) -> list:
        if image is None:
            return self.idle()
        with self.lock:
            try:
                inputs, predictions = predict_all(self.entries, image, TOP)
            except (ValueError, TypeError, OSError) as exc:
                return self.idle(f"This image cannot be read as a character: {exc}")
        return self.render(inputs, predictions)

    def render(self, inputs: dict, predictions: list[Prediction]) -> list:
        against = rivals(predictions)
        cards = [card_html(e, p, r) for e, p, r in zip(self.entries, predictions, against,
                                                       strict=True)]
        labels = [{name: prob for name, prob in p.top} for p in predictions]
        return [network_view(list(inputs.values())), banner_html(predictions), *cards,
                *labels]


def _first(*images):
    return next((image for image in images if image is not None), None)


def _seen_label(entries: Sequence[DemoModel]) -> str:
    framings = dict.fromkeys(e.framing.upper() for e in entries)
    return SEEN.format(" | ".join(framings))


def build(entries: Sequence[DemoModel], summary: str):
    """The Gradio Blocks of the demo (not launched)."""
    gr = _gradio()
    session = _Session(entries)
    with gr.Blocks(title="scratchnet demo", analytics_enabled=False) as blocks:
        gr.Markdown(f"## scratchnet: draw a character, compare the models\n{summary}",
                    elem_id="sn-summary")
        with gr.Row(equal_height=True):
            sketch = gr.Sketchpad(
                label="Draw a character", type="numpy", image_mode="RGBA",
                canvas_size=(400, 400), fixed_canvas=True, layers=False, transforms=(),
                brush=gr.Brush(default_size=20, colors=["#000000"], color_mode="fixed"),
                elem_id="sn-sketch")
            # filepath with image_mode=None: the uploaded file itself, as
            # `scratchnet predict` would read it (no re-encoding by Gradio).
            upload = gr.Image(label="...or upload an image", type="filepath",
                              image_mode=None, sources=["upload", "clipboard"],
                              elem_id="sn-upload")
            seen = gr.Image(label=_seen_label(entries), interactive=False, format="png",
                            buttons=[], elem_id="sn-seen")
        banner = gr.HTML(banner_html([]), elem_id="sn-banner")
        # Cards and bars in two rows, so each row lines up whatever the cards' lengths.
        with gr.Row(equal_height=True):
            cards = [gr.HTML(card_html(entry), elem_id=f"sn-card-{i}", min_width=220,
                             elem_classes="sn-card-box") for i, entry in enumerate(entries)]
        with gr.Row(equal_height=True):
            labels = [gr.Label(num_top_classes=TOP, label=f"{entry.name}: top {TOP}",
                               show_heading=False, min_width=220, elem_id=f"sn-label-{i}")
                      for i, entry in enumerate(entries)]
        outputs = [seen, banner, *cards, *labels]
        # The input just changed is shown; when it is cleared, the other one (if any).
        sketch.change(lambda s, u: session.respond(_first(drawing(s), u)), [sketch, upload],
                      outputs, show_progress="hidden")
        upload.change(lambda u, s: session.respond(_first(u, drawing(s))), [upload, sketch],
                      outputs, show_progress="hidden")
    return blocks


def serve(entries: Sequence[DemoModel], summary: str, host: str, port: int) -> None:
    """Run the demo at ``http://host:port`` until Ctrl+C."""
    gr = _gradio()
    blocks = build(entries, summary)
    theme = gr.themes.Default(primary_hue="blue", font=["system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])
    try:
        # ssr_mode=False: no Node server; the fonts above are local (the page loads offline).
        blocks.launch(server_name=host, server_port=port, quiet=True, prevent_thread_lock=True,
                      theme=theme, css=CSS, js=PICK_BRUSH, ssr_mode=False,
                      footer_links=[])
    except OSError as exc:
        raise DemoUnavailable(f"cannot serve on {host}:{port} ({exc}); pass another --port"
                              ) from None
    print(f"scratchnet demo: http://{host}:{port}  (Ctrl+C stops it)", flush=True)
    try:
        while blocks.is_running:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        blocks.close()


def main(models: Sequence[str] | None, sample: str, host: str, port: int) -> int:
    """The ``scratchnet demo`` command; returns the exit status."""
    import scratchnet

    try:
        _require_gradio()
        if models:
            entries = load_models(models)
            summary = (f"{len(entries)} model{'s' if len(entries) > 1 else ''} from --models; "
                       "each card below names its file.")
        else:
            from .defaults import default_models

            entries, summary = default_models(sample)
    except (DemoUnavailable, scratchnet.ModelFileError, ValueError) as exc:
        # ValueError: a model the demo cannot feed or read (DemoModel.check names it).
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        serve(entries, summary, host, port)
    except DemoUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
