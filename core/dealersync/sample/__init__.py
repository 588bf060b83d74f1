"""The sample dealership: a deterministic, realistically dirty generic-layout extract."""

from dealersync.sample.generator import generate

__all__ = ["generate"]
