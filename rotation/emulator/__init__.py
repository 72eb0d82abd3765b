"""A local VGS for development and tests: token server, Accounts and vault-management APIs,
probes, fault injection. See ``docs/ARCHITECTURE.md`` for the contract."""

from rotation.emulator.emulator import Emulator
from rotation.emulator.faults import ROUTES, Faults

__all__ = ["ROUTES", "Emulator", "Faults"]
