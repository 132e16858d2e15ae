"""Pure maths under the estimator: special functions, closed queueing forms, and
distributions on grids. Nothing here knows about designs."""
