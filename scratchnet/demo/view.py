"""How the demo shows its results: the model cards, the agreement banner, the network's input.

Plain strings and arrays, so that what the page says is tested without a browser. The
classes (``sn-*``) are styled by :data:`CSS`; ``data-*`` attributes carry the same facts
for the end-to-end test.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

from .inference import DemoModel, Prediction, disagreements

__all__ = ["CSS", "banner_html", "card_html", "network_view", "rivals"]

CSS = """
.sn-card { border: 2px solid #d4d4d8; border-radius: 10px; padding: 10px 14px;
           height: 100%; box-sizing: border-box; }
.sn-card-box .html-container, .sn-card-box .prose { height: 100%; }
.sn-card.sn-disagrees { border-color: #dc2626; background: #fef2f2; }
.sn-card.sn-agrees { border-color: #16a34a; background: #f0fdf4; }
.sn-name { font-size: 1.25em; font-weight: 700; }
.sn-guess { font-size: 1.1em; margin-top: 2px; }
.sn-guess b { font-size: 1.4em; }
.sn-time { color: #3f3f46; font-variant-numeric: tabular-nums; }
.sn-flag { color: #b91c1c; font-weight: 700; margin-top: 4px; }
.sn-origin { color: #71717a; font-size: 0.85em; margin-top: 6px; overflow-wrap: anywhere; }
.sn-banner { border-radius: 10px; padding: 10px 14px; font-size: 1.1em; }
.sn-banner.sn-agree { background: #dcfce7; color: #14532d; border: 2px solid #16a34a; }
.sn-banner.sn-disagree { background: #fee2e2; color: #7f1d1d; border: 2px solid #dc2626; }
.sn-banner.sn-idle { background: #f4f4f5; color: #3f3f46; border: 2px dashed #a1a1aa; }
.sn-banner ul { margin: 4px 0 0 1.2em; }
"""


def _guess(p: Prediction) -> str:
    return f"{escape(p.name)} says <b>{escape(p.label)}</b> ({p.confidence:.1%})"


def rivals(predictions: Sequence[Prediction]) -> list[list[str]]:
    """For each prediction, the names of the models that disagree with it."""
    out: list[list[str]] = [[] for _ in predictions]
    for i, j in disagreements(predictions):
        out[i].append(predictions[j].name)
        out[j].append(predictions[i].name)
    return out


def card_html(entry: DemoModel, prediction: Prediction | None = None,
              rivals: Sequence[str] = ()) -> str:
    """The header of one model's column: its guess, its time and whom it disagrees with."""
    state = "" if prediction is None else ("sn-disagrees" if rivals else "sn-agrees")
    lines = [f'<div class="sn-name">{escape(entry.name)}</div>']
    if prediction is None:
        lines.append('<div class="sn-guess">waiting for a character</div>')
    else:
        lines.append(f'<div class="sn-guess">says <b>{escape(prediction.label)}</b> '
                     f'({prediction.confidence:.1%})</div>')
        lines.append(f'<div class="sn-time">inference {prediction.seconds * 1e3:.2f} ms</div>')
        if rivals:
            lines.append('<div class="sn-flag">disagrees with '
                         f'{escape(", ".join(rivals))}</div>')
    lines.append(f'<div class="sn-origin">{escape(entry.origin)}</div>')
    attrs = ""
    if prediction is not None:
        attrs = (f' data-label="{escape(prediction.label)}"'
                 f' data-ms="{prediction.seconds * 1e3:.3f}"'
                 f' data-disagrees="{"yes" if rivals else "no"}"')
    return (f'<div class="sn-card {state}" data-model="{escape(entry.name)}"{attrs}>'
            + "".join(lines) + "</div>")


def banner_html(predictions: Sequence[Prediction], message: str | None = None) -> str:
    """The line under the models: all agree, or each disagreeing pair, or ``message``."""
    if message is not None or not predictions:
        text = escape(message or "Draw a character or upload an image.")
        return f'<div class="sn-banner sn-idle" data-state="idle">{text}</div>'
    pairs = disagreements(predictions)
    if not pairs:
        n = len(predictions)
        who = "The model" if n == 1 else ("Both models" if n == 2 else f"All {n} models")
        return (f'<div class="sn-banner sn-agree" data-state="agree">{who} say '
                f'<b>{escape(predictions[0].label)}</b></div>')
    items = "".join(f"<li>{_guess(predictions[i])} &nbsp;vs&nbsp; {_guess(predictions[j])}</li>"
                    for i, j in pairs)
    title = "1 pair of models disagrees" if len(pairs) == 1 else \
        f"{len(pairs)} pairs of models disagree"
    return (f'<div class="sn-banner sn-disagree" data-state="disagree" '
            f'data-pairs="{len(pairs)}"><b>{title}</b><ul>{items}</ul></div>')


def network_view(images: Sequence[np.ndarray], scale: int = 8, gap: int = 2) -> np.ndarray:
    """The network's inputs as one picture: each (28, 28) image in [0, 1], enlarged.

    Returns
    -------
    numpy.ndarray
        uint8 (28 * scale, n * 28 * scale + (n - 1) * gap), white ink on black as the
        network reads it; every pixel a ``scale`` x ``scale`` block (no smoothing, so
        what is shown is what the network got), images side by side, a grey gap between.
    """
    if not images:
        raise ValueError("network_view needs at least one image")
    tiles = []
    for k, image in enumerate(images):
        pixels = np.rint(np.clip(np.asarray(image, dtype=np.float64), 0, 1) * 255)
        tile = np.kron(pixels.astype(np.uint8), np.ones((scale, scale), dtype=np.uint8))
        if k:
            tiles.append(np.full((tile.shape[0], gap), 128, dtype=np.uint8))
        tiles.append(tile)
    return np.concatenate(tiles, axis=1)
