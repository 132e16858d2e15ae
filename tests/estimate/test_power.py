"""``spectra.power``: a loop's ``n`` copies in a row, by squaring — the same spectrum as ``n``
products one after another, in about ``2·log₂ n`` products."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest

from designkit.maths.distributions import Grid

spectra = importlib.import_module("designkit.estimate.spectra")


class _Counted(np.ndarray):
    """An array that counts the multiplications made of it (and of what they give)."""

    products = 0

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if ufunc is np.multiply:
            _Counted.products += 1
        plain = [x.view(np.ndarray) if isinstance(x, _Counted) else x for x in inputs]
        return np.asarray(getattr(ufunc, method)(*plain, **kwargs)).view(_Counted)


def _spectrum() -> np.ndarray:
    grid = Grid(step=0.5, size=2048)
    return grid.exponential(3.0).spectrum  # type: ignore[no-any-return]


@pytest.mark.parametrize("count", [2, 3, 7, 8, 33, 64, 100, 2.5, 33.4, 0.3, 1.75])
def test_power_is_that_many_products_in_a_row(count: float) -> None:
    spectrum = _spectrum()
    whole = int(count)
    by_hand = np.ones_like(spectrum)
    for _ in range(whole):
        by_hand = by_hand * spectrum
    frac = count - whole
    if frac:
        by_hand = (1 - frac) * by_hand + frac * (by_hand * spectrum)
    got = spectra.power(spectrum, count)
    assert np.abs(got - by_hand).max() < 1e-12
    assert got is not spectrum


def test_power_takes_logarithmically_many_products_and_leaves_its_input() -> None:
    spectrum = _spectrum()
    kept = spectrum.copy()
    counted = spectrum.view(_Counted)
    _Counted.products = 0
    spectra.power(counted, 100_000)  # the most a count may be
    assert _Counted.products <= 2 * 17  # 17 bits: 16 squarings and 6 products here
    assert np.array_equal(spectrum, kept)
    assert spectra.power(spectrum, 1.0) is spectrum and spectra.power(None, 5) is None
    assert spectra.power(spectrum, 0.0) is None
