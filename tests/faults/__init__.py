"""Fault-schedule machinery shared by the fault tests and ``bench/fault_bench.py``.

- ``memstore``: an in-memory SecretStore with Secrets Manager's version and stage rules;
- ``inproc``: an httpx transport that serves the VGS emulator in-process (no sockets),
  plus a client-side "late timeout" fault (VGS did the work, the answer never came back);
- ``schedules``: seeded schedules of step retries, crashes, VGS faults, store throttling
  and concurrent rotations, the drive to completion and the invariant checks;
- ``corpus``: the bad-input corpus with its zero-write check.
"""
