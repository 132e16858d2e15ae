"""Fuzzing of the ``designkit`` command with generated design files (see README.md here:
``strategies`` makes the inputs, ``harness`` runs every command and checks every output,
``test_fuzz_cli`` is the budgeted suite, ``soak`` the long run)."""
