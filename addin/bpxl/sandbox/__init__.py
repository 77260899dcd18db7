"""A local stand-in for BillingPlatform REST 2.0: real HTTP on loopback, records in SQLite."""

from .faults import FaultPlan
from .server import Sandbox, SandboxConfig

__all__ = ["FaultPlan", "Sandbox", "SandboxConfig"]
