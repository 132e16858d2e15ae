"""Generate large, valid designs for benchmarks: layered services over shared backends."""

from __future__ import annotations

import random

import designkit as dk


def generated_design(components: int, seed: int = 0) -> dk.Design:
    """A design with about ``components`` components.

    A third are services in layers (each endpoint calls two services of the next layer),
    the rest databases, caches, queues, externals and locks that the services use. Loads are
    kept low enough that nothing saturates.
    """
    rng = random.Random(seed)
    design = dk.Design(name=f"generated-{components}")
    n_services = max(1, components // 3)
    n_backends = max(1, (components - n_services) // 5)
    databases = [f"db-{i}" for i in range(n_backends)]
    caches = [f"cache-{i}" for i in range(n_backends)]
    queues = [f"queue-{i}" for i in range(n_backends)]
    externals = [f"ext-{i}" for i in range(n_backends)]
    locks = [f"lock-{i}" for i in range(n_backends)]
    for name in databases:
        db = design.database(name, cores=16, max_connections=2000, pool_size=20)
        db.table("items", rows=rng.randint(1_000, 1_000_000)).column(
            "id", "uuid", primary_key=True).column("owner", "uuid").index("owner")
    for name in caches:
        design.cache(name, servers=4, hit_ratio=0.9, service_ms=0.2)
    for name in queues:
        design.queue(name, partitions=8)
    for name in externals:
        design.external(name, latency_ms={"p50": 40, "p95": 120}, timeout_ms=500,
                        retries={"max": 1, "backoff": "exponential", "jitter": True},
                        circuit_breaker=True, failure_rate=0.001)
    for name in locks:
        design.lock(name)
    layers = 5
    services = [f"svc-{i}" for i in range(n_services)]
    layer_of = {name: i * layers // n_services for i, name in enumerate(services)}
    for name in services:
        design.service(name, replicas=4, workers=64)
    for name in reversed(services):
        layer = layer_of[name]
        ep = design.components[name].endpoint("GET /work", cpu_ms=1)  # type: ignore[union-attr]
        deeper = [s for s in services if layer_of[s] == layer + 1]
        for target in rng.sample(deeper, min(2, len(deeper))):
            ep.call(f"{target} GET /work")
        ep.cache(rng.choice(caches)).call(rng.choice(databases), query={
            "table": "items", "where": ["id"]})
        tx = ep.transaction(rng.choice(databases))
        tx.call(tx.transaction, query={"table": "items", "kind": "insert"})
        if rng.random() < 0.2:
            ep.call(rng.choice(externals))
        if rng.random() < 0.1:
            ep.lock(rng.choice(locks)).call(rng.choice(databases), query={
                "table": "items", "where": ["owner"]})
        ep.publish(rng.choice(queues))
    for name in services:
        if layer_of[name] == 0:
            design.set_load(f"{name} GET /work", 1.0)
    return design.validate()
