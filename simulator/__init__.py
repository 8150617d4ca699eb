"""The offline OpenAI API simulator: a real HTTP server on loopback that the official SDK talks to unchanged.

Its models are simulations following documented rules (:mod:`ftplug.simulator.behaviour.rules`); nothing
they answer is a measurement of a real model.
"""

from ftplug.simulator.behaviour.faults import FaultRule
from ftplug.simulator.http.server import Simulator, serve
from ftplug.simulator.state.clock import Clock, ManualClock, SystemClock
from ftplug.simulator.state.store import JobTiming, LatencyModel, SimulatorOptions

__all__ = ["Clock", "FaultRule", "JobTiming", "LatencyModel", "ManualClock", "Simulator", "SimulatorOptions",
           "SystemClock", "serve"]
