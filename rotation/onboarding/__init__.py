"""Onboarding: bring an existing VGS credential under rotation (``vgs-rotate adopt``).

- :mod:`~rotation.onboarding.request`: what adopt is asked, checked before any call;
- :mod:`~rotation.onboarding.discover`: what VGS knows about the credential (through the
  manager) and the proof that the given secret works;
- :mod:`~rotation.onboarding.existing`: what the target secret holds now, and the refusals
  that follow from it;
- :mod:`~rotation.onboarding.publishing`: the publisher destination to set up;
- :mod:`~rotation.onboarding.adopt`: the order of it all, and the writes;
- :mod:`~rotation.onboarding.schedule`: Secrets Manager's schedule rule (at least 4 hours).

Kept import-light: nothing is imported here, so ``schedule`` can be used alone.
"""
