"""The Locust user that produced ``locust/shop_*.csv`` (see ``run_locust.sh``)."""

import random

from locust import HttpUser, between, task


class Shopper(HttpUser):
    wait_time = between(0.05, 0.15)

    @task(6)
    def product(self) -> None:
        self.client.get(f"/products/{random.randint(1, 500)}", name="/products/{id}")

    @task(2)
    def search(self) -> None:
        self.client.get("/search?q=lamp", name="/search")

    @task(2)
    def order(self) -> None:
        self.client.post("/orders", json={"product": random.randint(1, 500)})
