"""The textbook path: what every scratchnet layer, activation and loss computes.

Plain-NumPy function pairs in the style of CS231n's ``layers.py``:
``*_forward(x, <params>, <hyperparameters>) -> (y, cache)`` and
``*_backward(dy, cache) -> (dx, <dparams>)``, each readable on one screen, with the
cache a dict of named fields. No numba, no threads, no buffers: this package imports
only NumPy. The fast path in ``scratchnet.kernels`` is a second implementation of the
same math, tested equal to this one; these functions also train models on their own
(``engine="reference"``).
"""

from .activations import (
    relu_backward,
    relu_forward,
    sigmoid,
    sigmoid_backward,
    sigmoid_forward,
    softmax_backward,
    softmax_forward,
    tanh_backward,
    tanh_forward,
)
from .augment import (
    affine_grid,
    affine_sample_backward,
    affine_sample_forward,
    bilinear_sample_backward,
    bilinear_sample_forward,
    elastic_displacement,
    gaussian_noise_backward,
    gaussian_noise_forward,
    gaussian_smooth,
)
from .batchnorm import (
    batchnorm_backward,
    batchnorm_forward,
    batchnorm_inference_backward,
    batchnorm_inference_forward,
)
from .bidirectional import merge_backward, merge_forward, reverse_time
from .conv import (
    col2im,
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_forward,
    conv2d_forward_naive,
    im2col,
)
from .dense import dense_backward, dense_forward
from .dropout import dropout_backward, dropout_forward
from .geometry import conv_output_size
from .gru import (
    gru_backward,
    gru_backward_with_state,
    gru_forward,
    gru_reset_before_step_backward,
    gru_reset_before_step_forward,
    gru_step_backward,
    gru_step_forward,
)
from .losses import (
    binary_crossentropy_backward,
    binary_crossentropy_forward,
    categorical_crossentropy_backward,
    categorical_crossentropy_forward,
    mae_backward,
    mae_forward,
    mse_backward,
    mse_forward,
    sigmoid_binary_crossentropy_backward,
    sigmoid_binary_crossentropy_forward,
    smooth_labels,
    softmax_categorical_crossentropy_backward,
    softmax_categorical_crossentropy_forward,
    softmax_cross_entropy_backward,
    softmax_cross_entropy_forward,
    weighted_batch_mean,
)
from .lstm import (
    lstm_backward,
    lstm_backward_with_state,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
)
from .pooling import maxpool_backward, maxpool_forward
from .reshape import flatten_backward, flatten_forward, reshape_backward, reshape_forward
from .simple_rnn import (
    simple_rnn_backward,
    simple_rnn_backward_with_state,
    simple_rnn_forward,
    simple_rnn_step_backward,
    simple_rnn_step_forward,
)

__all__ = [
    "affine_grid", "affine_sample_backward", "affine_sample_forward",
    "bilinear_sample_backward", "bilinear_sample_forward", "elastic_displacement",
    "gaussian_noise_backward", "gaussian_noise_forward", "gaussian_smooth",
    "batchnorm_backward", "batchnorm_forward", "batchnorm_inference_backward",
    "batchnorm_inference_forward", "binary_crossentropy_backward",
    "binary_crossentropy_forward", "categorical_crossentropy_backward",
    "categorical_crossentropy_forward", "mae_backward", "mae_forward", "mse_backward",
    "mse_forward", "sigmoid_binary_crossentropy_backward", "sigmoid_binary_crossentropy_forward",
    "smooth_labels", "softmax_categorical_crossentropy_backward",
    "softmax_categorical_crossentropy_forward", "weighted_batch_mean", "col2im", "conv2d_backward",
    "conv2d_backward_naive", "conv2d_forward",
    "conv2d_forward_naive", "conv_output_size", "dense_backward", "dense_forward",
    "dropout_backward", "dropout_forward", "flatten_backward", "flatten_forward",
    "gru_backward", "gru_backward_with_state", "gru_forward", "gru_reset_before_step_backward",
    "gru_reset_before_step_forward", "gru_step_backward",
    "gru_step_forward", "im2col", "lstm_backward", "lstm_backward_with_state", "lstm_forward",
    "lstm_step_backward", "lstm_step_forward", "maxpool_backward", "maxpool_forward",
    "merge_backward", "merge_forward", "relu_backward", "relu_forward", "reshape_backward",
    "reshape_forward", "reverse_time", "sigmoid", "sigmoid_backward", "sigmoid_forward",
    "simple_rnn_backward", "simple_rnn_backward_with_state", "simple_rnn_forward",
    "simple_rnn_step_backward", "simple_rnn_step_forward",
    "softmax_backward", "softmax_cross_entropy_backward", "softmax_cross_entropy_forward",
    "softmax_forward", "tanh_backward", "tanh_forward",
]
