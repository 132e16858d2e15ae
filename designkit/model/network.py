"""Where components run, and what a round trip between them costs.

A component may say its ``region`` and its availability zone(s) (``az``: one, or a list its
replicas are spread over evenly). When a design places any component — or states
``network:`` — every synchronous hop from a service to a database, cache, queue or another
service's endpoint costs a round trip: :attr:`Network.cross_region_ms` between regions,
:attr:`Network.cross_zone_ms` between zones of one region, :attr:`Network.same_zone_ms`
within one (a component with no placement is taken to be beside its caller). A design that
places nothing has no network time: its ``service_ms`` are taken to include it.
"""

from __future__ import annotations

from designkit.model.base import Strict
from designkit.model.bounds import Millis

__all__ = ["Network", "Placement", "placement_of", "round_trip"]


class Network(Strict):
    """Round-trip times between placed components (defaults: docs/estimator.md, "Network
    time", with their sources).

    Args:
        same_zone_ms: A round trip within one availability zone.
        cross_zone_ms: A round trip between two zones of one region.
        cross_region_ms: A round trip between two regions.

    Example:
        >>> Network().cross_zone_ms, Network(cross_region_ms=80).cross_region_ms
        (1.0, 80.0)
    """

    same_zone_ms: Millis = 0.1
    cross_zone_ms: Millis = 1.0
    cross_region_ms: Millis = 60.0


Placement = tuple[str | None, tuple[str, ...]]
"""A component's region (``None``: not said) and its zones (``()``: not said)."""


def placement_of(component: object) -> Placement:
    """A component's placement (anything without one: not placed).

    Example:
        >>> from designkit.model.components import Cache
        >>> placement_of(Cache(kind="cache", region="eu", az=["eu-a", "eu-b"]))
        ('eu', ('eu-a', 'eu-b'))
    """
    region = getattr(component, "region", None)
    az = getattr(component, "az", None)
    zones = () if az is None else (az,) if isinstance(az, str) else tuple(az)
    return region, zones


def round_trip(network: Network, caller: Placement, target: Placement) -> tuple[float, float,
                                                                                 float]:
    """One hop's round trip as ``(low, high, p)``: ``high`` ms with probability ``p``,
    else ``low`` — a caller's replicas spread over zones reach a target in one zone across
    zones from the others.

    Example:
        >>> n = Network()
        >>> round_trip(n, ("eu", ("a", "b", "c")), ("eu", ("a",)))   # 2 replicas of 3 cross
        (0.1, 1.0, 0.6666666666666667)
        >>> round_trip(n, ("eu", ()), ("us", ()))
        (60.0, 60.0, 1.0)
    """
    (region_a, zones_a), (region_b, zones_b) = caller, target
    if region_a is not None and region_b is not None and region_a != region_b:
        return network.cross_region_ms, network.cross_region_ms, 1.0
    if not zones_a or not zones_b:
        return network.same_zone_ms, network.same_zone_ms, 0.0
    same = sum(zones_b.count(z) for z in zones_a) / (len(zones_a) * len(zones_b))
    return network.same_zone_ms, network.cross_zone_ms, 1.0 - same
