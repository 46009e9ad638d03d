"""``preprocess_image``: a photo or scan of one handwritten character, made into MNIST form.

A network trained on MNIST or EMNIST has only ever seen characters normalised the way
those datasets were built, and misreads anything else (dark ink on white paper, a
character in a corner of a large canvas, a 4x larger drawing). This module repeats
the datasets' own normalisation on any image:

1. grayscale (ITU-R 601 luma, as Pillow's ``"L"``); transparent areas become background;
2. dark ink on light paper is detected and inverted (the datasets hold light ink on 0);
3. the paper (a plane fitted to the image's border, so a photo lit from one side works)
   is subtracted and thresholded to 0: ink must stand out from the paper's grain and
   reach 10% of the contrast; the ink is scaled so that the darkest is 1;
4. the image is cropped to the ink's bounding box (a lone pixel, noise, does not count);
5. the box is scaled, keeping its aspect ratio, with area (box-filter) resampling, which
   anti-aliases as the datasets' normalisation did;
6. it is placed in 28 x 28:

   ``like="mnist"``
       longer side 20 px, shifted by whole pixels so that its centre of mass sits at
       pixel (14, 14), as LeCun et al. built MNIST (the MNIST files agree: the centre of
       mass of their digits lies within half a pixel of (14, 14), the ink spans 20 px);
   ``like="emnist"``
       longer side 24 px (the 2-px border of Cohen et al. 2017), its bounding box
       centred in the frame, as EMNIST was built (in ``emnist-sample`` the characters
       span a median 24 px where they pass 1/8 or 1/4 of full intensity, and their
       boxes' centres lie at 13.5 with a standard deviation under 0.2 px).

The result is rounded to 8-bit grey levels, as the dataset files store them, and
scaled to [0, 1] by :func:`scratchnet.data.normalize`, so it holds exactly the values
a model trained through :mod:`scratchnet.data` has seen, upright (``scratchnet.data``
transposes EMNIST's files back when loading, so both ``like`` values give upright images).

Limits: one character per image, with some paper around it (the paper is read from
the border), lit evenly or from one side (not a shadow across it). Thin pen strokes on
a large canvas come out thinner than MNIST's: draw with a pen about a tenth of the
character's height.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from scratchnet.data.preprocess import normalize

__all__ = ["ImageError", "preprocess_image", "read_image", "IMAGE_SUFFIXES", "LIKE"]

#: Output height and width.
SIZE = 28
#: ``like`` -> (length of the longer side in px, placement rule).
LIKE = {"mnist": (20, "centre of mass"), "emnist": (24, "bounding box")}
#: File name endings read as images when a folder is given (``predict`` command).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm",
                  ".ppm", ".pbm", ".pnm")
#: Larger images are first reduced by an integer box filter to at most this side,
#: so a 12-megapixel photo costs a few MB, not hundreds (the result is 28 px anyway).
MAX_SIDE = 1024
#: Ink fainter than this fraction of the image's contrast counts as background: JPEG's
#: ringing around dark strokes reaches 9% of the contrast at quality 75 and would
#: otherwise widen the ink's box; an MNIST digit loses only its faintest edge pixels.
FAINT = 0.1
#: Paper grain: pixels within this many robust standard deviations of the paper's level
#: count as paper. At 5, a 400 x 300 photo with Gaussian grain has on average 0.03
#: pixels above it by chance (at 4, pairs of them widened the ink's box on test photos).
NOISE_SIGMAS = 5.0
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601-2, the weights of Pillow's "L"


class ImageError(ValueError):
    """An input that cannot be made into a character image; the message names it."""


# -- reading --------------------------------------------------------------------------------
def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as an array: (H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA.

    Pillow decodes the file (PNG, JPEG, BMP, GIF, TIFF, WebP, PNM, ...); a camera's
    EXIF orientation is applied, so a phone photo comes out the way it is shown.
    Images larger than :data:`MAX_SIDE` are reduced by an integer box filter.

    Raises
    ------
    ImageError
        If the file is missing, empty, not an image Pillow can decode, or in a pixel
        format with no defined range; the message names the file.
    """
    try:
        from PIL import Image, ImageOps, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib, a core dependency
        raise ImportError("reading image files needs Pillow: pip install pillow") from None

    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise ImageError(f"{path}: {what}; give the path of an image file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: the file is empty (0 bytes); it holds no image")
    try:
        with Image.open(path) as img:
            img = _decodable(ImageOps.exif_transpose(img))
            reduce = -(-max(img.size) // MAX_SIDE)
            if reduce > 1:
                img = img.reduce(reduce)
            return _to_array(img, path)
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file Pillow can read (tried PNG, JPEG, BMP, "
                         "GIF, TIFF, WebP and the other formats it knows)") from None
    except Image.DecompressionBombError as err:
        raise ImageError(f"{path}: too many pixels to read safely ({err})") from None
    except (OSError, SyntaxError, ValueError) as err:  # truncated or corrupt data
        if isinstance(err, ImageError):
            raise
        raise ImageError(f"{path}: the image data is damaged or truncated ({err})") from None


def _decodable(img):
    """The image in one of the modes L, RGB, RGBA (8-bit), I (16-bit values) or F."""
    mode = img.mode
    if mode in ("L", "RGB", "RGBA", "I", "F"):
        return img
    if mode.startswith("I;16"):
        return img.convert("I")
    if mode == "1":
        return img.convert("L")
    has_alpha = "A" in mode or "a" in mode or "transparency" in img.info
    return img.convert("RGBA" if has_alpha else "RGB")


def _to_array(img, path: Path) -> np.ndarray:
    arr = np.asarray(img)
    if img.mode == "I":  # 16-bit files decode to 32-bit ints
        if arr.min() < 0 or arr.max() > 65535:
            raise ImageError(f"{path}: 32-bit integer pixels outside 0..65535; save the "
                             "image as 8- or 16-bit")
        return arr.astype(np.uint16)
    return arr.astype(np.float64) if img.mode == "F" else arr


# -- to a gray image in [0, 1] ---------------------------------------------------------------
def _as_float(image: np.ndarray, name: str) -> np.ndarray:
    """Pixel values as float64 in [0, 1], by dtype: uint8 / 255, uint16 / 65535, bool, float."""
    kind = image.dtype.kind
    if image.dtype == np.uint8:
        return image / 255.0
    if image.dtype == np.uint16:
        return image / 65535.0
    if kind == "b":
        return image.astype(np.float64)
    if kind == "f":
        out = image.astype(np.float64)
        if not np.isfinite(out).all():
            raise ImageError(f"{name}: holds NaN or inf; give finite pixel values in [0, 1]")
        lo, hi = float(out.min()), float(out.max())
        if lo < 0.0 or hi > 1.0:
            raise ImageError(
                f"{name}: float pixels must lie in [0, 1], got [{lo:g}, {hi:g}]; if they are "
                "8-bit values pass the uint8 array (or divide by 255)")
        return out
    raise ImageError(f"{name}: dtype {image.dtype} is not a pixel type; give uint8, uint16, "
                     "bool, or float in [0, 1] (e.g. image.astype(np.uint8))")


def _grayscale(image: np.ndarray, name: str) -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) pixels -> (H, W) float64 gray in [0, 1].

    Transparent pixels take the colour opposite to the visible ink, so a drawing of
    dark (or light) strokes on a transparent canvas keeps its strokes.
    """
    x = _as_float(image, name)
    if x.ndim == 2:
        return x
    channels = x.shape[-1]
    if channels == 1:
        return x[..., 0]
    gray = x[..., :3] @ _LUMA if channels in (3, 4) else None
    if channels == 3:
        return gray
    if channels == 4:
        alpha = x[..., 3]
        if (alpha >= 1.0).all():
            return gray
        opaque = alpha > 0.5
        ink = float(gray[opaque].mean()) if opaque.any() else 0.0
        paper = 1.0 if ink < 0.5 else 0.0
        return gray * alpha + paper * (1.0 - alpha)
    raise ImageError(f"{name}: shape {image.shape} has {channels} channels; give (H, W) gray, "
                     "(H, W, 3) RGB or (H, W, 4) RGBA")


# -- the steps -------------------------------------------------------------------------------
def _border(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The outermost ring of pixels: (values, row indices, column indices)."""
    h, w = image.shape
    rows = np.concatenate([np.zeros(w, int), np.full(w, h - 1), np.arange(1, h - 1),
                           np.arange(1, h - 1)])
    cols = np.concatenate([np.arange(w), np.arange(w), np.zeros(h - 2, int),
                           np.full(h - 2, w - 1)])
    return image[rows, cols], rows, cols


def _paper(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """The paper's level under every pixel, and the paper's noise (a robust sigma).

    A plane fitted to the border, where the character rarely is: evenly lit paper gives
    a constant, a photo lit from one side a slope. Border pixels that are ink (further
    than 3 sigma from the median, then from the first plane) are left out of the fits.
    """
    values, rows, cols = _border(gray)
    h, w = gray.shape
    design = np.column_stack([np.ones(len(values)), rows / h, cols / w])
    residual = values - np.median(values)  # a robust start: the level, then the planes
    noise = 1.4826 * float(np.median(np.abs(residual)))
    for _ in range(2):
        keep = np.abs(residual) <= 3 * noise + 1e-12
        coef = np.linalg.lstsq(design[keep], values[keep], rcond=None)[0]
        residual = values - design @ coef
        noise = 1.4826 * float(np.median(np.abs(residual[keep])))
    grid = coef[0] + coef[1] * (np.arange(h) / h)[:, None] + coef[2] * (np.arange(w) / w)
    return grid, noise


def _ink(gray: np.ndarray, name: str) -> np.ndarray:
    """Gray (H, W) -> ink (H, W) in [0, 1]: light on 0, background exactly 0, ink up to 1.

    The paper is read from the image's border (:func:`_paper`); the ink is whichever
    side of the image's mid-range the border is not on.
    """
    lo, hi = float(gray.min()), float(gray.max())
    if hi - lo < 0.5 / 255:
        raise ImageError(f"{name}: the image is all one colour (gray level {lo:.3f}); there "
                         "is no character to read")
    if np.median(_border(gray)[0]) > (lo + hi) / 2:  # light paper: make the ink light
        gray = 1.0 - gray
    paper, noise = _paper(gray)
    ink = gray - paper
    peak = float(ink.max())
    cut = max(NOISE_SIGMAS * noise, FAINT * peak)
    if cut >= peak:
        raise ImageError(f"{name}: no ink stands out from the paper's noise (contrast "
                         f"{peak:.3f}, noise {noise:.3f}); use a sharper, evenly lit image "
                         "of the character")
    # A hard cut: what stands out keeps its level (an MNIST digit passes unchanged),
    # what does not (paper grain, JPEG ringing around strokes) becomes background.
    return np.where(ink > cut, ink / peak, 0.0)


def _has_neighbour(mask: np.ndarray) -> np.ndarray:
    """Whether any of each pixel's 8 neighbours is set."""
    padded = np.pad(mask, 1).astype(np.int8)
    h, w = mask.shape
    around = sum(padded[1 + dr:1 + dr + h, 1 + dc:1 + dc + w]
                 for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc)
    return around > 0


def _crop(ink: np.ndarray) -> np.ndarray:
    """The ink's bounding box. A lone pixel (no ink among its 8 neighbours) does not
    count: on a photo that is noise, and it would widen the box; inside the box it stays."""
    solid = (ink > 0) & _has_neighbour(ink > 0)
    if not solid.any():  # only lone pixels: a character of dots
        solid = ink > 0
    rows = np.flatnonzero(solid.any(axis=1))
    cols = np.flatnonzero(solid.any(axis=0))
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _area_weights(n_in: int, n_out: int, start: float, scale: float) -> np.ndarray:
    """(n_out, n_in) weights of area resampling along one axis.

    Input pixel j covers [start + j*scale, start + (j+1)*scale) of the output axis; an
    output pixel i = [i, i+1) is the mean of the input over it, so its weight for pixel
    j is the length of the overlap (outside the input counts as background 0). This is
    exact box-filter anti-aliasing when shrinking, and pixel mixing when enlarging.
    """
    edges = start + scale * np.arange(n_in + 1)
    out = np.arange(n_out)[:, None]
    overlap = np.minimum(out + 1, edges[None, 1:]) - np.maximum(out, edges[None, :-1])
    return np.clip(overlap, 0.0, None)


def _resample(patch: np.ndarray, shape: tuple[int, int], start: tuple[float, float],
              scale: float) -> np.ndarray:
    rows = _area_weights(patch.shape[0], shape[0], start[0], scale)
    cols = _area_weights(patch.shape[1], shape[1], start[1], scale)
    return rows @ patch @ cols.T


def _place_mnist(patch: np.ndarray, side: int) -> np.ndarray:
    """Scale the longer side to ``side``, then shift the centre of mass to pixel (14, 14)."""
    scale = side / max(patch.shape)
    h, w = (int(np.ceil(n * scale - 1e-9)) for n in patch.shape)
    small = _resample(patch, (h, w), (0.0, 0.0), scale)
    mass = small.sum()
    com = ((small.sum(axis=1) @ np.arange(h)) / mass, (small.sum(axis=0) @ np.arange(w)) / mass)
    canvas = np.zeros((SIZE, SIZE))
    # Whole-pixel shift, as MNIST's: the centre of mass lands within half a pixel of 14,
    # a tie (exactly half-way) on the lower side, as in the MNIST files; rounded first so
    # that float noise from the contrast stretch cannot flip a tie. A character so
    # lopsided that the shift would push ink off the frame stops at the edge.
    top, left = (min(max(int(np.ceil(round(SIZE // 2 - c - 0.5, 6))), 0), SIZE - n)
                 for c, n in zip(com, (h, w), strict=True))
    canvas[top:top + h, left:left + w] = small
    return canvas


def _place_emnist(patch: np.ndarray, side: int) -> np.ndarray:
    """Scale the longer side to ``side`` and centre the bounding box (fractionally)."""
    scale = side / max(patch.shape)
    start = tuple((SIZE - n * scale) / 2 for n in patch.shape)
    return _resample(patch, (SIZE, SIZE), start, scale)


def _one(image: np.ndarray, like: str, name: str) -> np.ndarray:
    """One image (any supported layout) -> uint8 (28, 28) in the dataset's form."""
    ink = _ink(_grayscale(image, name), name)
    patch = _crop(ink)
    side, rule = LIKE[like]
    canvas = (_place_mnist if rule == "centre of mass" else _place_emnist)(patch, side)
    # Stretch so the brightest pixel is full ink, as in the datasets (nearly every MNIST
    # digit reaches 255), then round to the 8-bit levels the dataset files hold.
    canvas *= 1.0 / canvas.max()
    return np.floor(canvas * 255.0 + 0.5).astype(np.uint8)


# -- the public function ---------------------------------------------------------------------
def _items(image) -> tuple[list, bool]:
    """Split the input into single images; True when it was a batch."""
    if isinstance(image, (str, os.PathLike)):
        return [image], False
    if isinstance(image, Sequence) and not isinstance(image, (bytes, bytearray)):
        return list(image), True
    arr = np.asarray(image)
    if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] <= 4):
        return [arr], False
    if arr.ndim in (3, 4):
        return list(arr), True
    raise ImageError(
        f"image: shape {arr.shape} is not an image; give (H, W), (H, W, 3) or (H, W, 4), or "
        "a batch of them, (N, H, W) or (N, H, W, C)")


def preprocess_image(image, like: str = "mnist") -> np.ndarray:
    """Make a photo or scan of one handwritten character into a model's 28 x 28 input.

    Parameters
    ----------
    image
        A path to an image file (anything Pillow reads: PNG, JPEG, BMP, ...); or an array
        of shape (H, W) gray, (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA, of dtype uint8,
        uint16, bool, or float in [0, 1]; or a batch: a list of paths and/or arrays, or an
        array (N, H, W) or (N, H, W, C). A 3-D array whose last axis has at most 4
        entries is one image with channels; any other 3-D array is a batch of gray images.
        Ink may be light on dark or dark on light.
    like : {"mnist", "emnist"}
        Whose normalisation to repeat (see the module docstring): MNIST centres the
        centre of mass and scales to 20 px, EMNIST centres the box and scales to 24 px.

    Returns
    -------
    numpy.ndarray
        float32 (28, 28), or (N, 28, 28) for a batch, in [0, 1]: light ink on 0, upright,
        as :func:`scratchnet.data.load` then :func:`scratchnet.data.normalize` give the
        dataset's images. For a Conv2D model add the channel axis: ``x[..., None]``.

    Raises
    ------
    ImageError (a ValueError)
        If an image cannot be read or holds no character (all one colour, no ink above
        the noise); the message names the file, or the image's index in a batch.
    ValueError
        If ``like`` is unknown.
    """
    if like not in LIKE:
        raise ValueError(f"like must be one of {sorted(LIKE)}, got {like!r}")
    items, batch = _items(image)
    if batch and not items:
        raise ImageError("image: the batch is empty; give at least one image")
    out = np.empty((len(items), SIZE, SIZE), dtype=np.uint8)
    for i, item in enumerate(items):
        if isinstance(item, (str, os.PathLike)):
            name, pixels = str(item), read_image(item)
        else:
            name, pixels = (f"image {i} of the batch" if batch else "image"), np.asarray(item)
            if pixels.ndim not in (2, 3):
                raise ImageError(f"{name}: shape {pixels.shape} is not an image; give (H, W), "
                                 "(H, W, 3) or (H, W, 4)")
        if min(pixels.shape[:2]) == 0:
            raise ImageError(f"{name}: the image has no pixels (shape {pixels.shape})")
        out[i] = _one(pixels, like, name)
    images = normalize(out, layout="lstm")  # uint8 -> float32 / 255, shape (N, 28, 28)
    return images if batch else images[0]
