"""Data augmentation layers: random geometric distortions and noise, in training only.

As Keras's preprocessing layers, they sit at a model's input and are the identity at
inference (``training=False``: evaluate, predict). In training each draws, per image, from
``self.rng``, the stream the model seeds (``Sequential.reseed``), so a run with the same
seed repeats bit for bit. Images are (N, H, W) or (N, H, W, C), channels-last.

The geometric layers map each output pixel (i, j) to a source point in the input and
sample it bilinearly; a source outside the image reads ``fill_value`` (Keras's
``fill_mode="constant"``, 0 by default: background, for handwriting). Keras's factor
conventions: a number f means the range [-f, f], a pair (lo, hi) the range [lo, hi];
rotation in fractions of a full turn, translation and zoom in fractions of the image size.
The maths: ``scratchnet.reference.augment``.
"""

from __future__ import annotations

import math

import numpy as np

from scratchnet.layers.base import Layer
from scratchnet.reference.augment import (
    affine_sample_backward,
    affine_sample_forward,
    elastic_displacement,
    gaussian_noise_backward,
    gaussian_noise_forward,
)


def factor_range(layer_name, value, what, lowest=-math.inf, highest=math.inf):
    """Keras's factor: ``f`` -> (-f, f) for f >= 0, ``(lo, hi)`` -> (lo, hi) with lo <= hi."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        if not 0 <= value < math.inf:
            raise ValueError(f"{layer_name}: {what} as one number must be >= 0 and finite "
                             f"(it means the range [-{what}, {what}]), got {value!r}; pass a "
                             "pair (lower, upper) for another range")
        lo, hi = -float(value), float(value)
    elif (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, (int, float, np.integer, np.floating))
                  and not isinstance(v, bool) for v in value)):
        lo, hi = float(value[0]), float(value[1])
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ValueError(f"{layer_name}: {what} as a pair must be finite (lower, upper) "
                             f"with lower <= upper, got {value!r}")
    else:
        raise ValueError(f"{layer_name}: {what} must be a number or a pair (lower, upper), "
                         f"got {value!r}")
    if lo < lowest or hi > highest:
        raise ValueError(f"{layer_name}: {what} must lie within [{lowest}, {highest}], "
                         f"got the range [{lo}, {hi}]")
    return lo, hi


def rotation_linear(theta):
    """(n, 2, 2) maps turning the picture counter-clockwise by theta (n,) radians.

    The row axis points down, so output (u, v) from the centre reads the source at
    (cos u + sin v, -sin u + cos v)."""
    cos, sin = np.cos(theta), np.sin(theta)
    return np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2)


def zoom_linear(zh, zw):
    """(n, 2, 2) maps reading the source zh (zw) times as far from the centre."""
    linear = np.zeros((len(zh), 2, 2))
    linear[:, 0, 0], linear[:, 1, 1] = zh, zw
    return linear


def shear_linear(kx, ky):
    """(n, 2, 2) maps reading output (u, v) at (u + ky v, v + kx u)."""
    linear = np.ones((len(kx), 2, 2))
    linear[:, 0, 1], linear[:, 1, 0] = ky, kx
    return linear


def _listed(pair):
    """A (lo, hi) range as a JSON list, None as None."""
    return None if pair is None else list(pair)


class RandomResampling(Layer):
    """Base of the geometric layers: resample each image under a random map, in training.

    Subclasses say what they draw (:meth:`draw`) and turn it into per-image affine maps and
    an optional displacement field (:meth:`maps`). Shapes: (N, H, W[, C]) -> the same.
    """

    def __init__(self, fill_mode="constant", fill_value=0.0, **kwargs):
        if kwargs.get("activation") is not None:
            raise ValueError(f"{type(self).__name__} takes no activation: it is a "
                             "preprocessing layer; add the activation to the next layer")
        super().__init__(**kwargs)
        if fill_mode != "constant":
            raise ValueError(f"{self.name}: only fill_mode='constant' is supported (a source "
                             f"point outside the image reads fill_value), got {fill_mode!r}")
        if (isinstance(fill_value, bool) or not isinstance(fill_value, (int, float))
                or not math.isfinite(fill_value)):
            raise ValueError(f"{self.name}: fill_value must be a finite number, "
                             f"got {fill_value!r}")
        self.fill_mode, self.fill_value = fill_mode, float(fill_value)

    def _build(self, input_shape, rng):
        if len(input_shape) not in (2, 3) or min(input_shape) < 1:
            raise ValueError(f"{self.name}: expected images, samples of shape (H, W) or "
                             f"(H, W, C), got sample shape {tuple(input_shape)}")
        return input_shape

    def images(self, a):
        """a (N, H, W) or (N, H, W, C) as (N, H, W, C): a view."""
        return a if a.ndim == 4 else a[..., None]

    def draw(self, n: int) -> np.ndarray:
        """This layer's random numbers for ``n`` images, from ``self.rng`` (one row each)."""
        raise NotImplementedError

    def maps(self, drawn):
        """``draw``'s rows -> (matrices (n, 2, 3), displacement (n, H, W, 2) or None)."""
        return drawn, None

    def identity(self, n: int) -> np.ndarray:
        """n identity maps (n, 2, 3): source (i, j) for output (i, j)."""
        m = np.zeros((n, 2, 3), dtype=self.dtype)
        m[:, 0, 0] = m[:, 1, 1] = 1
        return m

    def about_centre(self, linear, shift=0.0) -> np.ndarray:
        """(n, 2, 2) linear maps about the image centre, then a shift (n, 2) of the picture
        in pixels (down, right), as (n, 2, 3) affine maps in the layer's dtype.

        source - c = L (output - c) - shift, so the offset is c - L c - shift, with
        c = ((H-1)/2, (W-1)/2).
        """
        c = np.array([(self.input_shape[0] - 1) / 2, (self.input_shape[1] - 1) / 2])
        m = np.empty((len(linear), 2, 3))
        m[:, :, :2] = linear
        m[:, :, 2] = c - linear @ c - shift
        return m.astype(self.dtype)

    def forward(self, x, training):
        if not training:
            self.cache = {"identity": True}
            return x
        matrices, displacement = self.maps(self.draw(len(x)))
        y, cache = affine_sample_forward(self.images(x), matrices, displacement,
                                         self.fill_value)
        self.cache = {"identity": False, "sample": cache}
        return y.reshape(x.shape)

    def backward(self, dy):
        cache = self.backward_cache()
        if cache["identity"]:
            return dy
        return affine_sample_backward(self.images(dy), cache["sample"]).reshape(dy.shape)

    def weight_shapes(self, input_shape):
        return {}  # no parameters or state: nothing for a saved model to size-check

    def get_config(self) -> dict:
        return {**super().get_config(), "fill_mode": self.fill_mode,
                "fill_value": self.fill_value}


class RandomRotation(RandomResampling):
    """Rotate each image about its centre by a random angle, counter-clockwise if positive.

    Parameters
    ----------
    factor : float or (float, float)
        In fractions of a full turn (2 pi): 0.1 draws angles uniformly in [-36, 36] degrees.
    fill_mode, fill_value : see :class:`RandomResampling`
    """

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor_range(self.name, factor, "factor")

    def draw(self, n):
        return self.about_centre(rotation_linear(2 * np.pi * self.rng.uniform(*self.factor,
                                                                              size=n)))

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}


class RandomTranslation(RandomResampling):
    """Shift each image by a random offset: down and right if positive.

    Parameters
    ----------
    height_factor, width_factor : float or (float, float)
        In fractions of the image's height and width, within [-1, 1]: 0.1 on 28 rows shifts
        by up to 2.8 pixels either way.
    """

    def __init__(self, height_factor, width_factor, **kwargs):
        super().__init__(**kwargs)
        self.height_factor = factor_range(self.name, height_factor, "height_factor", -1, 1)
        self.width_factor = factor_range(self.name, width_factor, "width_factor", -1, 1)

    def draw(self, n):
        m = self.identity(n).astype(np.float64)
        m[:, 0, 2] = -self.input_shape[0] * self.rng.uniform(*self.height_factor, size=n)
        m[:, 1, 2] = -self.input_shape[1] * self.rng.uniform(*self.width_factor, size=n)
        return m.astype(self.dtype)

    def get_config(self):
        return {**super().get_config(), "height_factor": list(self.height_factor),
                "width_factor": _listed(self.width_factor)}


class RandomZoom(RandomResampling):
    """Zoom each image about its centre: out (smaller) for positive factors, in for negative.

    Parameters
    ----------
    height_factor : float or (float, float)
        The zoom is 1 + f with f drawn in this range (> -1): the output reads the source
        (1 + f) times as far from the centre, as in Keras.
    width_factor : float or (float, float), optional
        Drawn on its own if given; None keeps the aspect ratio (the height's draw).
    """

    def __init__(self, height_factor, width_factor=None, **kwargs):
        super().__init__(**kwargs)
        self.height_factor = factor_range(self.name, height_factor, "height_factor", -1, math.inf)
        self.width_factor = (None if width_factor is None else
                             factor_range(self.name, width_factor, "width_factor", -1, math.inf))
        for f in (self.height_factor, self.width_factor):
            if f is not None and f[0] == -1:
                raise ValueError(f"{self.name}: a zoom factor of -1 shrinks the source to "
                                 "a point; keep the lower bound above -1")

    def draw(self, n):
        zh = 1 + self.rng.uniform(*self.height_factor, size=n)
        zw = zh if self.width_factor is None else 1 + self.rng.uniform(*self.width_factor,
                                                                       size=n)
        return self.about_centre(zoom_linear(zh, zw))

    def get_config(self):
        return {**super().get_config(), "height_factor": list(self.height_factor),
                "width_factor": _listed(self.width_factor)}


class RandomShear(RandomResampling):
    """Shear each image about its centre (Keras has no such layer; this one is scratchnet's).

    Output (u, v) from the centre reads the source (u + ky v, v + kx u): each row slides
    sideways in proportion to its height (kx), each column up or down (ky).

    Parameters
    ----------
    x_factor, y_factor : float or (float, float)
        The ranges of kx and ky (the tangent of the shear angle), within [-1, 1].
    """

    def __init__(self, x_factor, y_factor=0.0, **kwargs):
        super().__init__(**kwargs)
        self.x_factor = factor_range(self.name, x_factor, "x_factor", -1, 1)
        self.y_factor = factor_range(self.name, y_factor, "y_factor", -1, 1)

    def draw(self, n):
        kx = self.rng.uniform(*self.x_factor, size=n)
        ky = self.rng.uniform(*self.y_factor, size=n)
        return self.about_centre(shear_linear(kx, ky))

    def get_config(self):
        return {**super().get_config(), "x_factor": list(self.x_factor),
                "y_factor": list(self.y_factor)}


class RandomElastic(RandomResampling):
    """Elastic distortion (Simard, Steinkraus and Platt, 2003): each pixel reads the source
    displaced by a random field, uniform(-1, 1) per pixel and axis, smoothed by a Gaussian
    of std ``sigma`` pixels and scaled by ``alpha`` pixels.

    Parameters
    ----------
    alpha : float >= 0
        Strength, in pixels (Simard et al. used 34 on 29 x 29 MNIST; smaller is milder).
    sigma : float > 0
        Smoothness, in pixels (4 in the paper): small sigma is noise, large a near-shift.
    """

    def __init__(self, alpha, sigma, **kwargs):
        super().__init__(**kwargs)
        for what, v, low in (("alpha", alpha, 0), ("sigma", sigma, 1e-300)):
            if (isinstance(v, bool) or not isinstance(v, (int, float))
                    or not low <= v < math.inf):
                raise ValueError(f"{self.name}: {what} must be a finite number "
                                 f"{'>= 0' if low == 0 else '> 0'}, got {v!r}")
        self.alpha, self.sigma = float(alpha), float(sigma)

    def draw(self, n):
        uniform = self.rng.uniform(-1, 1, size=(n, 2, *self.input_shape[:2]))
        return np.ascontiguousarray(elastic_displacement(uniform, self.alpha, self.sigma),
                                    dtype=self.dtype)

    def maps(self, drawn):
        return self.identity(len(drawn)), drawn

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "sigma": self.sigma}


class RandomDistortion(RandomResampling):
    """Rotation, shift, zoom, shear and elastic distortion, composed into one resampling.

    Each layer above resamples the image, and bilinear sampling softens it a little; five
    of them in a row soften it five times. This layer draws the same distortions and
    samples each image once, under one map (as Keras's old ImageDataGenerator did)::

        source - c = R Sh Z (output - c) - shift + elastic(output)

    with R, Sh, Z and shift drawn as :class:`RandomRotation`, :class:`RandomShear`
    (``x_factor``), :class:`RandomZoom` (aspect kept) and :class:`RandomTranslation`, and
    the elastic field as :class:`RandomElastic`'s; c is the image centre.

    Parameters
    ----------
    rotation, height_shift, width_shift, zoom, shear : float or (float, float)
        Each layer's factor, as there; 0 leaves that distortion out.
    elastic_alpha, elastic_sigma : float
        :class:`RandomElastic`'s; ``elastic_alpha=0`` (the default) leaves it out.
    """

    def __init__(self, rotation=0.0, height_shift=0.0, width_shift=0.0, zoom=0.0, shear=0.0,
                 elastic_alpha=0.0, elastic_sigma=4.0, **kwargs):
        super().__init__(**kwargs)
        self.rotation = factor_range(self.name, rotation, "rotation")
        self.height_shift = factor_range(self.name, height_shift, "height_shift", -1, 1)
        self.width_shift = factor_range(self.name, width_shift, "width_shift", -1, 1)
        self.zoom = factor_range(self.name, zoom, "zoom", -1, math.inf)
        if self.zoom[0] == -1:
            raise ValueError(f"{self.name}: a zoom of -1 shrinks the source to a point; "
                             "keep the lower bound above -1")
        self.shear = factor_range(self.name, shear, "shear", -1, 1)
        self.elastic = RandomElastic(elastic_alpha, elastic_sigma, name=f"{self.name}_elastic")

    def _build(self, input_shape, rng):
        shape = super()._build(input_shape, rng)
        self.elastic.build(input_shape, self.dtype, rng)
        return shape

    def draw(self, n):
        """(n, 6 + H*W*2) rows, one per image: its affine map, then its elastic field."""
        u = self.rng.uniform
        theta = 2 * np.pi * u(*self.rotation, size=n)
        shift = np.stack([self.input_shape[0] * u(*self.height_shift, size=n),
                          self.input_shape[1] * u(*self.width_shift, size=n)], -1)
        z = 1 + u(*self.zoom, size=n)
        kx = u(*self.shear, size=n)
        linear = rotation_linear(theta) @ shear_linear(kx, np.zeros(n)) @ zoom_linear(z, z)
        rows = [self.about_centre(linear, shift).reshape(n, 6)]
        if self.elastic.alpha:
            self.elastic.rng = self.rng  # the same stream, drawn after the affine part
            rows.append(self.elastic.draw(n).reshape(n, -1))
        return np.concatenate(rows, axis=1)

    def maps(self, drawn):
        n = len(drawn)
        matrices = np.ascontiguousarray(drawn[:, :6]).reshape(n, 2, 3)
        if drawn.shape[1] == 6:
            return matrices, None
        return matrices, np.ascontiguousarray(drawn[:, 6:]).reshape(n, *self.input_shape[:2], 2)

    def get_config(self):
        return {**super().get_config(), "rotation": list(self.rotation),
                "height_shift": list(self.height_shift), "width_shift": list(self.width_shift),
                "zoom": list(self.zoom), "shear": list(self.shear),
                "elastic_alpha": self.elastic.alpha, "elastic_sigma": self.elastic.sigma}


class GaussianNoise(Layer):
    """Add zero-mean Gaussian noise of std ``stddev`` to every input in training.

    Any shape: x (N, ...) -> y (N, ...). Identity at inference, as Keras's GaussianNoise.
    """

    def __init__(self, stddev, **kwargs):
        if kwargs.get("activation") is not None:
            raise ValueError("GaussianNoise takes no activation; add it to the next layer")
        super().__init__(**kwargs)
        if (isinstance(stddev, bool) or not isinstance(stddev, (int, float))
                or not 0 <= stddev < math.inf):
            raise ValueError(f"{self.name}: stddev must be a finite number >= 0, "
                             f"got {stddev!r}")
        self.stddev = float(stddev)

    def weight_shapes(self, input_shape):
        return {}

    def draw(self, n: int) -> np.ndarray:
        """(n, *input_shape) draws of N(0, stddev^2) from ``self.rng``, in the layer's dtype."""
        noise = self.rng.standard_normal((n, *self.input_shape), dtype=self.dtype)
        return noise * self.dtype.type(self.stddev)

    def forward(self, x, training):
        if not training:
            self.cache = {}
            return x
        y, self.cache = gaussian_noise_forward(x, self.draw(len(x)))
        return y

    def backward(self, dy):
        return gaussian_noise_backward(dy, self.backward_cache())

    def get_config(self) -> dict:
        return {**super().get_config(), "stddev": self.stddev}
