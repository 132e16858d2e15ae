"""Calibration: a design fitted to what load tests and traces measured.

:func:`calibrate` fits the times of a design's components — their scale, their shape and how
they slow down as they fill — so that the estimate reproduces every measured run, reports the
miss of every measured statistic, and records how far the measurements reach.
"""

from designkit.calibration.api import CalibrationError, calibrate
from designkit.calibration.result import CalibrationFit, Row

__all__ = ["CalibrationError", "CalibrationFit", "Row", "calibrate"]
