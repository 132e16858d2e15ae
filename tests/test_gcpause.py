"""The collector pause is the main thread's alone."""

from __future__ import annotations

import gc
import threading

from designkit.gcpause import gc_paused


def test_another_thread_leaves_the_collector_on() -> None:
    seen: list[bool] = []

    def build() -> None:
        with gc_paused():
            seen.append(gc.isenabled())

    worker = threading.Thread(target=build)
    worker.start()
    worker.join()
    assert seen == [True] and gc.isenabled()


def test_the_main_thread_pauses_and_restores_it_even_on_error() -> None:
    try:
        with gc_paused():
            assert not gc.isenabled()
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_user_stays_off() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
