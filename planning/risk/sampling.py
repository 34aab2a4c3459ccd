"""Duration sampling from three-point estimates by inverse CDF, for all iterations at once.

NumPy's own beta sampler costs about 3.5 ms for 50 × 2,000 draws, more than the whole
assessment may take, so we sample by inverse CDF from uniforms instead:

* beta-PERT (lambda = 4) has shape parameters alpha = 1 + 4(m - a)/(b - a) and
  beta = 6 - alpha, a one-parameter family. Its quantile function is tabulated once
  (alpha in [1, 5] every 1/16, u every 1/2048) from a numerically integrated CDF;
  alpha >= 1 and beta >= 1 keep the density finite, so the trapezoid CDF is accurate.
  Each task's quantile row is interpolated linearly in alpha.
* triangular has a closed-form quantile function, evaluated on the same u grid.

Uniforms are drawn as 16-bit keys (u = (key + 0.5) / 65536) and a draw interpolates its
task's row linearly at u: a handful of vector operations over a (tasks, iterations)
array. Measured against a fine numerical inverse, the error is under 0.0023 of the range
(b - a) except in the outermost 1/2048 of either tail (up to 0.12 there, where the
quantile function is steepest), and 7e-5 of the range on average; the standard error of
a 2,000-draw mean is about 0.004 of the range. Tests check mean and variance against the
closed forms.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from planning.risk import workspace

DISTRIBUTIONS = ("beta_pert", "triangular")
_U_STEPS = 2048  # quantile grid: u = k / _U_STEPS
_ALPHA_STEPS = 64  # alpha grid: 1 + 4 k / _ALPHA_STEPS
_X_STEPS = 8192  # integration grid for the CDF
_KEY_BITS = 16  # uniform draws are 16-bit keys
_SHIFT = _KEY_BITS - 11  # 2**11 == _U_STEPS
_MASK = (1 << _SHIFT) - 1
assert _U_STEPS == 1 << (_KEY_BITS - _SHIFT)


@cache
def _beta_pert_table() -> np.ndarray:
    """Quantiles of Beta(alpha, 6 - alpha) on [0, 1]: shape (_ALPHA_STEPS + 1, _U_STEPS + 1)."""
    x = np.linspace(0.0, 1.0, _X_STEPS + 1)
    u = np.linspace(0.0, 1.0, _U_STEPS + 1)
    table = np.empty((_ALPHA_STEPS + 1, _U_STEPS + 1))
    log_x = np.log(np.clip(x, 1e-300, None))
    log_1mx = np.log(np.clip(1.0 - x, 1e-300, None))
    for row, alpha in enumerate(np.linspace(1.0, 5.0, _ALPHA_STEPS + 1)):
        density = np.exp((alpha - 1.0) * log_x + (5.0 - alpha) * log_1mx)
        cdf = np.concatenate(([0.0], np.cumsum((density[1:] + density[:-1]) * 0.5)))
        cdf /= cdf[-1]
        # Flat stretches of the CDF (density 0 at an end) would make interp ambiguous.
        cdf = np.maximum.accumulate(cdf)
        table[row] = np.interp(u, cdf, x)
    table[:, 0], table[:, -1] = 0.0, 1.0
    return table


@cache
def _table(dtype: np.dtype[Any]) -> np.ndarray:
    return _beta_pert_table().astype(dtype)


def quantile_rows(optimistic: np.ndarray, most_likely: np.ndarray, pessimistic: np.ndarray,
                  distribution: str, dtype: npt.DTypeLike = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Each task's quantile function in hours on the u grid, and the steps between grid points.

    Both have shape (tasks, _U_STEPS + 1) and `dtype`, and live in the thread's workspace
    (valid until the next call).
    """
    tasks, width = len(optimistic), _U_STEPS + 1
    spread = pessimistic - optimistic
    safe = np.where(spread > 0, spread, 1.0)
    mode = np.where(spread > 0, (most_likely - optimistic) / safe, 0.5)  # relative mode in [0, 1]
    rows = workspace.array("quantile_rows", (tasks, width), dtype)
    if distribution == "beta_pert":
        table = _table(np.dtype(dtype))
        position = mode * _ALPHA_STEPS  # alpha = 1 + 4 * mode on a grid of step 4 / _ALPHA_STEPS
        low = np.minimum(position.astype(np.intp), _ALPHA_STEPS - 1)
        upper = workspace.array("quantile_rows_upper", (tasks, width), dtype)
        np.take(table, low, axis=0, out=rows)
        np.take(table, low + 1, axis=0, out=upper)
        np.subtract(upper, rows, out=upper)
        np.multiply(upper, (position - low)[:, None].astype(dtype), out=upper)
        np.add(rows, upper, out=rows)  # linear in alpha between the two table rows
    elif distribution == "triangular":
        u = np.linspace(0.0, 1.0, width)[None, :]
        c = mode[:, None]
        rows[...] = np.where(u < c, np.sqrt(u * c), 1.0 - np.sqrt((1.0 - u) * (1.0 - c)))
    else:
        raise ValueError(f"distribution must be one of {', '.join(DISTRIBUTIONS)}")
    np.multiply(rows, spread[:, None].astype(dtype), out=rows)
    np.add(rows, optimistic[:, None].astype(dtype), out=rows)
    steps = workspace.array("quantile_steps", (tasks, width), dtype)
    np.subtract(rows[:, 1:], rows[:, :-1], out=steps[:, :-1])
    steps[:, -1] = 0.0
    return rows, steps


def draw_keys(rng: np.random.Generator, tasks: int, iterations: int) -> np.ndarray:
    """Uniform draws as 16-bit keys: u = (key + 0.5) / 65536.

    16-bit keys are cheap to draw and NumPy ranks them with a radix sort, about three times
    faster than sorting floats; the quantile grid is coarser than their resolution anyway.
    """
    return workspace.keep("keys", rng.integers(0, 1 << _KEY_BITS, size=(tasks, iterations), dtype=np.uint16))


def sample(rows: np.ndarray, steps: np.ndarray, keys: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Durations into `out`: row i of the quantile rows interpolated at u = (keys[i] + 0.5) / 65536."""
    tasks, width = rows.shape
    shape, dtype = keys.shape, out.dtype
    index = workspace.array("sample_index", shape, np.intp)
    fraction = workspace.array("sample_fraction", shape, dtype)
    np.right_shift(keys, _SHIFT, out=index)  # which grid interval u falls in
    np.add(index, (np.arange(tasks, dtype=np.intp) * width)[:, None], out=index)
    low_bits = np.bitwise_and(keys, _MASK, out=workspace.array("sample_low_bits", shape, np.uint16))
    np.multiply(low_bits, 1.0 / (1 << _SHIFT), out=fraction, dtype=dtype)
    np.add(fraction, 0.5 / (1 << _SHIFT), out=fraction)  # where in the interval
    np.take(steps.ravel(), index, out=out)
    np.multiply(out, fraction, out=out)
    np.take(rows.ravel(), index, out=fraction)
    np.add(out, fraction, out=out)
    return out
