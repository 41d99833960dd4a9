"""Registry of the physics processes fpgatag can generate.

Each :class:`Process` says which Pythia 8 hard processes to switch on and which truth partons a
selected jet must contain (``dR < match_dr`` from the jet axis). A process is added with the
:func:`register_process` decorator on a function that returns its definition, so the registry is
explicit and one place lists everything ``fpgatag generate --process`` accepts.

Truth matching works on the event record that ``Pythia.nextBatch`` returns (see ``generate.py``):
``truth_partons(record, i_event)`` gives, per matched object, an array of (eta, phi) rows that must
all lie inside the jet, and ``accept`` says which flavour the jet must have (light-quark and gluon
jets are labelled by the nearest outgoing hard-process parton).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from fpgatag.core.errors import ArgumentError

# Hadronic decays of W and Z: d, u, s, c, b.
_W_HADRONIC = ("24:onMode = off", "24:onIfAny = 1 2 3 4 5")
_Z_HADRONIC = ("23:onMode = off", "23:onIfAny = 1 2 3 4 5")


@dataclass(frozen=True)
class Process:
    name: str
    description: str
    pythia: tuple[str, ...]
    # truth matching: "resonance" (a decayed resonance and its decay quarks inside the jet),
    # "parton" (the nearest outgoing hard parton must have one of ``parton_ids``), or "none".
    matching: str = "none"
    resonance_id: int = 0
    parton_ids: tuple[int, ...] = field(default_factory=tuple)
    code: int = 0  # stable small integer, part of every jet uid


PROCESSES: dict[str, Process] = {}


def register_process(fn: Callable[[], Process]) -> Callable[[], Process]:
    proc = fn()
    if proc.name in PROCESSES:
        raise ValueError(f"process {proc.name!r} registered twice")
    PROCESSES[proc.name] = proc
    return fn


def get_process(name: str) -> Process:
    try:
        return PROCESSES[name]
    except KeyError:
        raise ArgumentError("process", f" {name!r}: unknown process; known: {', '.join(PROCESSES)}") from None


@register_process
def _qcd() -> Process:
    return Process("qcd", "QCD dijets (all 2->2 QCD processes), any jet in the window",
                   ("HardQCD:all = on",), code=0)


@register_process
def _top() -> Process:
    return Process("top", "ttbar, both W to quarks; jet contains the top and its b, q, q'",
                   ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on") + _W_HADRONIC,
                   matching="resonance", resonance_id=6, code=1)


@register_process
def _w() -> Process:
    return Process("w", "W + jet, W to quarks; jet contains the W and its q, q'",
                   ("WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on") + _W_HADRONIC,
                   matching="resonance", resonance_id=24, code=2)


@register_process
def _z() -> Process:
    return Process("z", "Z + jet, Z to quarks; jet contains the Z and its q, qbar",
                   ("WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on",
                    "WeakZ0:gmZmode = 2") + _Z_HADRONIC,
                   matching="resonance", resonance_id=23, code=3)


@register_process
def _quark() -> Process:
    return Process("quark", "QCD dijets; nearest outgoing hard parton is a light quark (u, d, s)",
                   ("HardQCD:all = on",), matching="parton", parton_ids=(1, 2, 3), code=4)


@register_process
def _gluon() -> Process:
    return Process("gluon", "QCD dijets; nearest outgoing hard parton is a gluon",
                   ("HardQCD:all = on",), matching="parton", parton_ids=(21,), code=5)
