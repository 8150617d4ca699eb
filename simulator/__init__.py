"""The offline OpenAI API simulator: a real HTTP server on loopback that the official SDK talks to unchanged.

Its models are simulations following documented rules (:mod:`ftplug.simulator.behaviour`); nothing
they answer is a measurement of a real model.
"""

from ftplug.simulator.clock import Clock, ManualClock, SystemClock
from ftplug.simulator.faults import FaultRule
from ftplug.simulator.server import Simulator, serve
from ftplug.simulator.state import JobTiming, LatencyModel, SimulatorOptions

__all__ = ["Clock", "FaultRule", "JobTiming", "LatencyModel", "ManualClock", "Simulator", "SimulatorOptions",
           "SystemClock", "serve"]
