"""Simulated jets: Pythia 8 events, FastJet anti-kt jets, both views, written to a native file.

Work is split into fixed *chunks* of jets (``chunk_jets`` per chunk and process). Each chunk has
its own Pythia seed, derived from (seed, process, chunk index) only, so the file content does not
depend on ``workers`` (workers run chunks; the parent writes them in chunk order, the chunks of
all processes with the same index interleaved row by row, so classes alternate) and a ``shard``
(i, N) is a deterministic, non-overlapping slice of the chunks: the shards of a job together hold
exactly the jets of the unsharded job.

Speed: events come from ``Pythia.nextBatch`` as awkward arrays (no per-particle Python), are
clustered all at once by FastJet's multi-event interface, and selection, padding and views are
numpy. Truth matching walks only the few resonances of events that have a candidate jet. Every jet
of an event that passes the selection is kept. An event whose jets are all far below the pT window is
stopped early (``parton_veto``): first inside the shower, when the interleaved MPI + ISR + FSR
evolution reaches ``shower_veto x pt_min``, which skips the rest of the shower (most of its CPU
time), then once more after the parton level (both on wide partonic jets, R = 1.5 x jet_r), which skips
hadronization, decays, the record's conversion and the clustering (bench/results/generate.md
audits that no accepted jet comes from such an event; generate_ks_default.md compares the jets).
``physics="fast"`` is an opt-in preset that trades a measured bias for speed (docs/data.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from fpgatag.core import schema
from fpgatag.core.config import from_dict, to_dict
from fpgatag.core.errors import FpgatagError
from fpgatag.core.errors import ArgumentError
from fpgatag.data.processes import PROCESSES, Process, get_process
from fpgatag.data.views import NEUTRINOS, ViewSettings, compute_views

log = logging.getLogger(__name__)


# Default pTHat cut as a fraction of the jet pT window's lower edge. Jets reach the window from
# events with a much lower hard-scatter pT (ISR recoil, FSR into the cone): measured for QCD with
# pTHat >= 280 GeV, 0.7% / 1.1% / 2.6% / 8.5% of window jets have pTHat below 300 / 325 / 350 / 400 GeV.
# 0.6 x 550 = 330 GeV loses about 2% of QCD jets (fewer for top), all at the window's low edge.
PTHAT_FRACTION = 0.6

# Physics presets: "default" is the reference physics; "fast" (opt-in) switches MPI off and cuts pTHat at
# 0.7 x pt_min, 6-8x the jets per CPU second, with the jet-distribution bias stated in docs/data.md and
# measured in bench/results/generate_ks_fast.md. Per preset: the MPI switch and the pTHat fraction.
# "hls4ml-lhc" is the physics of the hls4ml LHC jet dataset (Zenodo 3602260: pp at 13 TeV, anti-kt R = 0.8 jets
# of about 1 TeV) with the default physics otherwise; its window and |eta| cut are fpgatag's choice (docs/data.md).
# "fixed": the settings a preset sets (None in GeneratorSettings means "the preset's, else KINEMATICS'"), and
# "processes": its classes in its own label order.
KINEMATICS = {"ecm": 14000.0, "jet_r": 0.8, "pt_min": 550.0, "pt_max": 650.0, "eta_max": 2.0}
PHYSICS = {"default": {"mpi": True, "pthat_fraction": PTHAT_FRACTION},
           "fast": {"mpi": False, "pthat_fraction": 0.7},
           "hls4ml-lhc": {"mpi": True, "pthat_fraction": PTHAT_FRACTION,
                          "fixed": {"ecm": 13000.0, "jet_r": 0.8, "pt_min": 800.0, "pt_max": 1200.0, "eta_max": 2.5},
                          "processes": ("gluon", "quark", "w", "z", "top")}}
DEFAULT_PROCESSES = ("qcd", "top")


def preset_processes(physics: str) -> tuple[str, ...]:
    """The processes (label order) a physics preset generates when none are given."""
    return tuple(PHYSICS.get(physics, {}).get("processes", DEFAULT_PROCESSES))

# The veto: an event stops when no anti-kt jet of its visible final partons (|eta| < eta_max + 2 jet_r),
# of the wide radius VETO_R x jet_r, reaches PARTON_VETO x pt_min (0.75 x 550 = 412.5 GeV). The wide radius
# counts partons just outside a cone, which the rest of the evolution and hadronization can pull in (with
# R = jet_r, a few events in 1000 with an accepted jet would be stopped). Checked twice: inside the
# shower, when the interleaved MPI + ISR + FSR evolution reaches SHOWER_VETO x pt_min (49.5 GeV for the
# default window: every emission above it has happened, and nearly all of an event's CPU time is spent
# below it), and after the parton level, before hadronization. Margins audited in bench/results/generate.md.
PARTON_VETO = 0.75
SHOWER_VETO = 0.09
VETO_R = 1.5


@dataclass
class GeneratorSettings:
    ecm: float | None = None      # pp centre-of-mass energy (GeV); None = the preset's (14000, hls4ml-lhc 13000)
    pthat_min: float | None = None  # PhaseSpace:pTHatMin; None = the preset's fraction of pt_min (docs/data.md)
    pthat_max: float = -1.0       # PhaseSpace:pTHatMax; <= 0 means no upper cut
    mpi: bool | None = None       # PartonLevel:MPI; None = the preset's (on for "default")
    isr: bool = True              # PartonLevel:ISR
    fsr: bool = True              # PartonLevel:FSR
    jet_r: float | None = None    # anti-kt radius (0.8)
    pt_min: float | None = None   # jet pT window (GeV): [550, 650], hls4ml-lhc [800, 1200]
    pt_max: float | None = None
    eta_max: float | None = None  # |eta| < eta_max: 2, hls4ml-lhc 2.5
    match_dr: float = 0.8         # truth partons within this dR of the jet axis
    max_particles: int = 200      # constituents stored per jet (pT ordered, zero padded)
    chunk_jets: int = 1000        # jets per chunk (one Pythia seed per chunk)
    events_per_batch: int = 200   # events per Pythia.nextBatch call
    max_events_without_jet: int = 5000  # give up (error) if this many events give no jet at all
    physics: str = "default"      # preset: "default", the opt-in "fast" or "hls4ml-lhc" (PHYSICS)
    parton_veto: float = PARTON_VETO  # stop events with no parton-level jet above this x pt_min; 0 = off
    shower_veto: float = SHOWER_VETO  # ... checked first inside the shower at this x pt_min (GeV); 0 = only after it

    def __post_init__(self) -> None:
        self._apply_preset()
        if not 0 <= self.parton_veto < 1:
            raise ValueError(f"parton_veto must be in [0, 1), got {self.parton_veto}")
        if not 0 <= self.shower_veto < 1:
            raise ValueError(f"shower_veto must be in [0, 1), got {self.shower_veto}")
        if not self.pt_max > self.pt_min:
            raise ValueError(f"empty pT window [{self.pt_min}, {self.pt_max}] GeV (need pt_min < pt_max)")
        if self.pt_min < 0:
            raise ValueError(f"pt_min must be >= 0, got {self.pt_min}")
        if self.pthat_max > 0 and not self.pthat_max > self.pthat_min:
            raise ValueError(f"empty pTHat window [{self.pthat_min}, {self.pthat_max}] GeV")
        if self.eta_max <= 0 or self.jet_r <= 0 or self.match_dr <= 0:
            raise ValueError("eta_max, jet_r and match_dr must be > 0")
        if not 1 <= self.max_particles <= schema.MAX_PARTICLES:
            raise ValueError(f"max_particles must be in 1..{schema.MAX_PARTICLES}")
        if not 1 <= self.chunk_jets < (1 << 16):
            raise ValueError("chunk_jets must be in 1..65535")
        if self.ecm <= 0:
            raise ValueError("ecm must be > 0")

    def _apply_preset(self) -> None:
        """Fill the kinematics, ``mpi`` and ``pthat_min`` from the preset; refuse values that contradict it."""
        if self.physics not in PHYSICS:
            raise ValueError(f"physics {self.physics!r}: unknown preset; known: {', '.join(PHYSICS)}")
        preset = PHYSICS[self.physics]
        for name, value in {**KINEMATICS, **preset.get("fixed", {})}.items():
            given = getattr(self, name)
            if given is not None and name in preset.get("fixed", {}) and float(given) != value:
                raise ValueError(f"physics {self.physics!r} sets {name} = {value:g}; do not also give {name} ({given:g})")
            setattr(self, name, float(value if given is None else given))
        pthat = round(preset["pthat_fraction"] * self.pt_min, 1)
        base = PHYSICS["default"]
        if preset["mpi"] != base["mpi"]:   # a preset that changes the default physics' MPI or pTHat cut owns them
            if self.mpi is not None and bool(self.mpi) != preset["mpi"]:
                raise ValueError(f"physics {self.physics!r} sets mpi = {preset['mpi']}; do not also give mpi")
        if preset["pthat_fraction"] != base["pthat_fraction"]:
            if self.pthat_min is not None and self.pthat_min != pthat:
                raise ValueError(f"physics {self.physics!r} sets pthat_min = {preset['pthat_fraction']} x pt_min "
                                 f"= {pthat} GeV; do not also give pthat_min ({self.pthat_min})")
        self.mpi = preset["mpi"] if self.mpi is None else bool(self.mpi)
        self.pthat_min = pthat if self.pthat_min is None else self.pthat_min

    def to_dict(self) -> dict:
        return to_dict(self)


def split_settings(settings: dict[str, Any] | None) -> tuple[GeneratorSettings, ViewSettings]:
    """Route a flat dict of overrides to the generator and view settings (unknown keys -> error)."""
    settings = dict(settings or {})
    gen_keys = {f.name for f in dataclasses.fields(GeneratorSettings)}
    view_keys = {f.name for f in dataclasses.fields(ViewSettings)}
    unknown = sorted(set(settings) - gen_keys - view_keys)
    if unknown:
        raise FpgatagError(f"settings: unknown setting(s) {', '.join(unknown)}; known: "
                           f"{', '.join(sorted(gen_keys | view_keys))}")
    gen = from_dict(GeneratorSettings, {k: v for k, v in settings.items() if k in gen_keys}, "settings")
    views = from_dict(ViewSettings, {k: v for k, v in settings.items() if k in view_keys}, "settings")
    return gen, views


def pythia_settings(proc: Process, gen: GeneratorSettings, seed: int) -> list[str]:
    """The exact Pythia configuration strings for one chunk."""
    onoff = {True: "on", False: "off"}
    return [
        f"Beams:eCM = {gen.ecm}",
        *proc.pythia,
        f"PhaseSpace:pTHatMin = {gen.pthat_min}",
        f"PhaseSpace:pTHatMax = {gen.pthat_max if gen.pthat_max > 0 else -1.0}",
        f"PartonLevel:MPI = {onoff[bool(gen.mpi)]}",
        f"PartonLevel:ISR = {onoff[bool(gen.isr)]}",
        f"PartonLevel:FSR = {onoff[bool(gen.fsr)]}",
        "Print:quiet = on",
        "Next:numberCount = 0",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
    ]


def _hash_int(*parts: Any, bits: int = 63) -> int:
    h = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(h[:8], "little") & ((1 << bits) - 1)


def chunk_seed(seed: int, proc: Process, chunk: int) -> int:
    """Pythia seed (1..900000000) of one chunk: a function of (seed, process, chunk) only."""
    return 1 + _hash_int("pythia", int(seed), proc.name, int(chunk)) % 900_000_000


def uid_base(seed: int, proc: Process, chunk: int) -> int:
    """First uid of a chunk: the seed, the process code, the chunk, then the jet (``schema.UID_BITS``).

    Each field is stored whole (never hashed or truncated), so uids differ between seeds, processes,
    chunks and shards by construction; :func:`check_uid_fields` refuses values that do not fit."""
    b = schema.UID_BITS
    return (((int(seed) << b["process"] | proc.code) << b["chunk"] | int(chunk)) << b["jet"])


def check_uid_fields(seed: int, jets_per_class: int, chunk_jets: int) -> None:
    """ArgumentError naming the argument whose value does not fit the uid layout."""
    b = schema.UID_BITS
    if not 0 <= int(seed) < 1 << b["seed"]:
        raise ArgumentError("seed", f" {seed}: must be in 0..{(1 << b['seed']) - 1} (it is part of every jet uid)")
    if not 1 <= int(chunk_jets) <= 1 << b["jet"]:
        raise ArgumentError("chunk_jets", f" {chunk_jets}: must be in 1..{1 << b['jet']}")
    n_chunks = math.ceil(int(jets_per_class) / int(chunk_jets))
    if n_chunks > 1 << b["chunk"]:
        raise ArgumentError("jets_per_class", f" {jets_per_class}: at most {(1 << b['chunk']) * int(chunk_jets)} "
                            f"in chunks of {chunk_jets} jets (the chunk number is part of every jet uid)")


def make_pythia(settings: Iterable[str], hooks=None):
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for line in settings:
        if not pythia.readString(line):
            raise FpgatagError(f"pythia: setting not accepted: {line!r}")
    if hooks is not None:
        pythia.setUserHooksPtr(hooks)
    if not pythia.init():
        raise FpgatagError("pythia: initialisation failed (see Pythia's settings above)")
    return pythia


def parton_veto_hook(gen: GeneratorSettings, apply: bool = True):
    """Pythia UserHooks that stop an event whose jets are all far below the pT window: no anti-kt jet of
    its visible final partons within |eta| < eta_max + 2R reaches ``gen.parton_veto * gen.pt_min``
    (Pythia's SlowJet, in C++, radius VETO_R x jet_r). Checked twice: inside the shower, when the
    interleaved evolution reaches ``gen.shower_veto * gen.pt_min`` (skipped if shower_veto is 0), and
    after the parton level (showers, MPI, beam remnants), before hadronization.
    Pythia then starts a new event, so the events that reach ``nextBatch`` are the unvetoed ones;
    ``vetoed`` counts all stopped events, ``vetoed_shower`` those stopped inside the shower.
    ``apply=False`` only records, per event that completes its parton level, the decision
    (``decisions``, True = either check would veto) and the leading jet pT of each check
    (``leading``, ``leading_shower``; 0 below 0.3 x pt_min, inf if the jet finder failed), for the
    benchmark's audit."""
    import pythia8mc

    threshold = gen.parton_veto * gen.pt_min
    scale = gen.shower_veto * gen.pt_min
    eta = gen.eta_max + 2 * gen.jet_r

    class PartonVeto(pythia8mc.UserHooks):
        def __init__(self):
            pythia8mc.UserHooks.__init__(self)
            # power -1 = anti-kt; select 2 = visible final-state particles; massSet 1 = keep masses
            cut = threshold if apply else 0.3 * gen.pt_min
            self.jets = pythia8mc.SlowJet(-1, VETO_R * gen.jet_r, cut, eta, 2, 1)
            self.vetoed = 0
            self.vetoed_shower = 0
            self.decisions: list[bool] = []
            self.leading: list[float] = []
            self.leading_shower: list[float] = []
            self._pending = math.inf  # this event's in-shower leading jet pT (audit)

        @staticmethod
        def _lead(finder, event) -> float:
            if not finder.analyze(event):  # the jet finder failed: never veto
                return math.inf
            return finder.pT(0) if finder.sizeJet() else 0.0

        def canVetoPT(self):
            return scale > 0

        def scaleVetoPT(self):
            return scale

        def doVetoPT(self, iPos, event):
            if iPos == 5:  # a resonance decay's own shower (after the main evolution): not checked
                return False
            lead = self._lead(self.jets, event)
            if not apply:
                self._pending = lead
                return False
            veto = lead < threshold
            self.vetoed += veto
            self.vetoed_shower += veto
            return veto

        def canVetoPartonLevel(self):
            return True

        def doVetoPartonLevel(self, event):
            lead = self._lead(self.jets, event)
            if apply:
                veto = lead < threshold
                self.vetoed += veto
                return veto
            shower, self._pending = self._pending, math.inf  # inf when the shower check is off
            self.leading.append(lead)
            self.leading_shower.append(shower)
            self.decisions.append(lead < threshold or shower < threshold)
            return False

    return PartonVeto()


_BANNERS_DONE: set[str] = set()


@contextlib.contextmanager
def _banner_to_stderr(which: str = "fastjet"):
    """FastJet prints its banner on C-level stdout at the first clustering (and Pythia's own fjcore,
    used by the parton-level veto's SlowJet, at its first event); stdout is for results, so send it to
    stderr (once per process and banner)."""
    if which in _BANNERS_DONE:
        yield
        return
    import ctypes

    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        ctypes.CDLL(None).fflush(None)
        os.dup2(saved, 1)
        os.close(saved)
        _BANNERS_DONE.add(which)


# ----------------------------------------------------------------------------------------------
# Per-batch event processing (numpy on the flattened event record)


class _Charges:
    """PDG id -> electric charge, from Pythia's particle table, cached."""

    def __init__(self, pythia):
        self.pdt = pythia.particleData
        self.cache: dict[int, float] = {}

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        uniq, inv = np.unique(ids, return_inverse=True)
        vals = np.empty(uniq.size, dtype=np.float32)
        for k, i in enumerate(uniq.tolist()):
            c = self.cache.get(i)
            if c is None:
                c = self.cache[i] = float(self.pdt.charge(i))
            vals[k] = c
        return vals[inv]


def _eta_phi(px, py, pz):
    pt = np.hypot(px, py)
    eta = np.arcsinh(np.divide(pz, pt, out=np.zeros_like(pz), where=pt > 0))
    return pt, eta, np.arctan2(py, px)


def _dphi(a, b):
    return (a - b + np.pi) % (2 * np.pi) - np.pi


class _Record:
    """An event batch from nextBatch as flat numpy arrays plus event offsets."""

    def __init__(self, batch):
        import awkward as ak

        prt = batch.prt
        self.counts = ak.num(prt).to_numpy().astype(np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)])
        flat = ak.flatten(prt)
        self.id = ak.to_numpy(flat.id).astype(np.int64)
        self.status = ak.to_numpy(flat.status)
        self.d1 = ak.to_numpy(flat.daughter1).astype(np.int64)
        self.d2 = ak.to_numpy(flat.daughter2).astype(np.int64)
        p = flat.p
        self.px = ak.to_numpy(p.px)
        self.py = ak.to_numpy(p.py)
        self.pz = ak.to_numpy(p.pz)
        self.e = ak.to_numpy(p.e)

    def __len__(self) -> int:
        return self.counts.size

    def daughters(self, g: int, ev_off: int) -> list[int]:
        d1, d2 = self.d1[g], self.d2[g]
        if d1 <= 0:
            return []
        if d2 <= 0 or d2 == d1:
            return [ev_off + d1]
        if d2 > d1:
            return list(range(ev_off + d1, ev_off + d2 + 1))
        return [ev_off + d1, ev_off + d2]

    def last_copy(self, g: int, ev_off: int) -> int:
        """Follow a particle's copies (recoils) down to the one that decays."""
        pid = self.id[g]
        for _ in range(100):
            same = [d for d in self.daughters(g, ev_off) if self.id[d] == pid]
            if not same:
                return g
            g = same[0]
        return g


def _truth_objects(rec: _Record, ev: int, proc: Process) -> list[np.ndarray]:
    """Per truth object of event ``ev``, an (k, 2) array of (eta, phi) that must lie in the jet;
    for parton matching, a (k, 3) array of (eta, phi, |id|) of the outgoing hard partons."""
    off = rec.offsets[ev]
    sl = slice(off, rec.offsets[ev + 1])
    ids = rec.id[sl]
    if proc.matching == "parton":
        g = off + np.flatnonzero(np.abs(rec.status[sl]) == 23)
        _, eta, phi = _eta_phi(rec.px[g], rec.py[g], rec.pz[g])
        return [np.stack([eta, phi, np.abs(rec.id[g])], axis=1)]
    out = []
    lasts = sorted({rec.last_copy(g, off) for g in (off + np.flatnonzero(np.abs(ids) == proc.resonance_id)).tolist()})
    for last in lasts:
        partons = [last]
        for d in rec.daughters(last, off):
            ad = abs(rec.id[d])
            if ad == 24 and proc.resonance_id == 6:
                wl = rec.last_copy(d, off)
                partons += [q for q in rec.daughters(wl, off) if 1 <= abs(rec.id[q]) <= 5]
            elif 1 <= ad <= 5:
                partons.append(d)
        if len(partons) != (4 if proc.resonance_id == 6 else 3):
            continue  # not a hadronic decay (or an unexpected record)
        idx = np.asarray(partons)
        _, eta, phi = _eta_phi(rec.px[idx], rec.py[idx], rec.pz[idx])
        out.append(np.stack([eta, phi], axis=1))
    return out


def _matched(jet_eta: float, jet_phi: float, objs: list[np.ndarray], proc: Process, dr_max: float) -> bool:
    if proc.matching == "none":
        return True
    if proc.matching == "parton":
        partons = objs[0]
        if partons.shape[0] == 0:
            return False
        dr = np.hypot(partons[:, 0] - jet_eta, _dphi(partons[:, 1], jet_phi))
        k = int(np.argmin(dr))
        return bool(dr[k] < dr_max and int(partons[k, 2]) in proc.parton_ids)
    for o in objs:
        dr = np.hypot(o[:, 0] - jet_eta, _dphi(o[:, 1], jet_phi))
        if np.all(dr < dr_max):
            return True
    return False


class _Clustered:
    """Anti-kt jets above half the window's lower edge of one batch: per jet its event, four-momentum,
    (pt, eta, phi, mass), and per constituent its jet and its index into the final-state arrays."""

    def __init__(self, rec: _Record, gen: GeneratorSettings):
        import awkward as ak
        import fastjet

        nev = len(rec)
        final = (rec.status > 0) & ~np.isin(np.abs(rec.id), NEUTRINOS)
        # particles far outside the acceptance cannot enter a selected jet (|eta_jet| < eta_max,
        # constituents within ~R of the axis): leave them out of the clustering (2R margin)
        pt_all = np.hypot(rec.px, rec.py)
        final &= np.abs(np.arcsinh(np.divide(rec.pz, pt_all, out=np.full_like(pt_all, 1e9), where=pt_all > 0))) \
            < gen.eta_max + 2 * gen.jet_r
        self.fidx = fidx = np.flatnonzero(final)
        n_final = np.bincount(np.repeat(np.arange(nev), rec.counts)[fidx], minlength=nev)
        self.px, self.py, self.pz, self.e = rec.px[fidx], rec.py[fidx], rec.pz[fidx], rec.e[fidx]
        self.n = 0
        if fidx.size == 0:
            return
        events = ak.unflatten(ak.zip({"px": self.px, "py": self.py, "pz": self.pz, "E": self.e}), n_final)
        with _banner_to_stderr():
            cs = fastjet.ClusterSequence(events, fastjet.JetDefinition(fastjet.antikt_algorithm, gen.jet_r))
            ci = cs.constituent_index(0.5 * gen.pt_min)
        n_jets = ak.to_numpy(ak.num(ci, axis=1)).astype(np.int64)
        n_const = ak.to_numpy(ak.flatten(ak.num(ci, axis=2))).astype(np.int64)
        local = ak.to_numpy(ak.flatten(ci, axis=None)).astype(np.int64)
        self.n = n_const.size
        self.event = np.repeat(np.arange(nev), n_jets)
        self.jet_of_c = np.repeat(np.arange(self.n), n_const)
        f_off = np.concatenate([[0], np.cumsum(n_final)])
        self.cidx = local + f_off[self.event][self.jet_of_c]  # index into the final-state arrays
        self.p4 = [np.bincount(self.jet_of_c, weights=v[self.cidx], minlength=self.n)
                   for v in (self.px, self.py, self.pz, self.e)]
        jpx, jpy, jpz, je = self.p4
        self.pt, self.eta, self.phi = _eta_phi(jpx, jpy, jpz)
        self.mass = np.sqrt(np.maximum(je ** 2 - jpx ** 2 - jpy ** 2 - jpz ** 2, 0.0))


def _selected(rec: _Record, cl: _Clustered, proc: Process, gen: GeneratorSettings) -> np.ndarray:
    """Indices of the jets in the pT and eta window that pass the truth match: every such jet of an
    event, in event order."""
    if cl.n == 0:
        return np.zeros(0, dtype=np.int64)
    cand = np.flatnonzero((cl.pt >= gen.pt_min) & (cl.pt < gen.pt_max) & (np.abs(cl.eta) < gen.eta_max))
    keep = []
    truth_cache: dict[int, list[np.ndarray]] = {}
    for j in cand.tolist():
        ev = int(cl.event[j])
        if proc.matching != "none" and ev not in truth_cache:
            truth_cache[ev] = _truth_objects(rec, ev, proc)
        if _matched(cl.eta[j], cl.phi[j], truth_cache.get(ev, []), proc, gen.match_dr):
            keep.append(j)
    return np.asarray(keep, dtype=np.int64)


def process_events(batch, proc: Process, gen: GeneratorSettings, charges: _Charges) -> dict[str, np.ndarray]:
    """Jets of one nextBatch: selected (all window jets of every event), truth matched, pT-ordered
    constituents padded to ``max_particles``. Returns particles, n_particles and jet arrays in event
    order, and ``_event``: each jet's event index in the batch."""
    rec = _Record(batch)
    cl = _Clustered(rec, gen)
    keep = _selected(rec, cl, proc, gen)
    if keep.size == 0:
        return _empty_jets(gen.max_particles)
    # constituents of kept jets, pT ordered
    in_keep = np.zeros(cl.n, dtype=bool)
    in_keep[keep] = True
    csel = np.flatnonzero(in_keep[cl.jet_of_c])
    cj, ci_f = cl.jet_of_c[csel], cl.cidx[csel]
    gi = cl.fidx[ci_f]
    cpx, cpy, cpz, ce = cl.px[ci_f], cl.py[ci_f], cl.pz[ci_f], cl.e[ci_f]
    cpt, ceta, cphi = _eta_phi(cpx, cpy, cpz)
    order = np.lexsort((-cpt, cj))
    cj, cpt, ceta, cphi, ce, cpx, cpy, cpz, gi = (a[order] for a in (cj, cpt, ceta, cphi, ce, cpx, cpy, cpz, gi))
    row = np.searchsorted(keep, cj)
    counts = np.bincount(row, minlength=keep.size)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(cj.size) - first[row]
    m = rank < gen.max_particles
    pid = rec.id[gi]
    cols = np.stack([cpt, ceta, cphi, ce, cpx, cpy, cpz, charges(pid), pid.astype(np.float64)], axis=1)
    parts = np.zeros((keep.size, gen.max_particles, len(schema.PARTICLE_COLUMNS)), dtype=np.float32)
    parts[row[m], rank[m]] = cols[m]
    jet = np.stack([cl.pt[keep], cl.eta[keep], cl.phi[keep], cl.mass[keep], cl.p4[3][keep]], axis=1)
    return {
        "particles": parts,
        "n_particles": np.minimum(counts, gen.max_particles).astype(np.int16),
        "jet": jet.astype(np.float32),
        "_event": cl.event[keep],
    }


def _empty_jets(p: int) -> dict[str, np.ndarray]:
    return {
        "particles": np.zeros((0, p, len(schema.PARTICLE_COLUMNS)), dtype=np.float32),
        "n_particles": np.zeros(0, dtype=np.int16),
        "jet": np.zeros((0, len(schema.JET_COLUMNS)), dtype=np.float32),
        "_event": np.zeros(0, dtype=np.int64),
    }


# ----------------------------------------------------------------------------------------------
# Chunks


@dataclass(frozen=True)
class ChunkTask:
    process: str
    label: int
    chunk: int
    n_jets: int
    seed: int        # the job's seed
    gen: dict
    views: dict
    lund: dict | None = None  # LundSettings: also build the Lund trees (fpgatag.data.lund)


def run_chunk(task: ChunkTask) -> dict[str, np.ndarray]:
    """Generate one chunk: ``task.n_jets`` jets, a full schema batch (deterministic in the task)."""
    proc = get_process(task.process)
    gen = GeneratorSettings(**task.gen)
    views = ViewSettings(**task.views)
    t0 = time.process_time()
    hooks = parton_veto_hook(gen) if gen.parton_veto > 0 else None
    pythia = make_pythia(pythia_settings(proc, gen, chunk_seed(task.seed, proc, task.chunk)), hooks)
    init_cpu = time.process_time() - t0
    charges = _Charges(pythia)
    parts: list[dict[str, np.ndarray]] = []
    have = 0
    events = 0  # events that reached nextBatch (the vetoed ones are counted by the hook)
    pythia_cpu = 0.0
    while have < task.n_jets:
        vetoed = hooks.vetoed if hooks is not None else 0
        if events + vetoed >= gen.max_events_without_jet and have == 0:
            raise FpgatagError(
                f"generate: no {proc.name} jet passed the selection in {events + vetoed} events "
                f"(pT window [{gen.pt_min}, {gen.pt_max}] GeV, |eta| < {gen.eta_max}, "
                f"pTHat >= {gen.pthat_min} GeV); check the pT window and the pTHat cut")
        # ask for roughly the events still needed, so the last call does not overshoot much
        rate = have / events if events else 0.0
        need = gen.events_per_batch if rate == 0 else int(math.ceil(1.2 * (task.n_jets - have) / rate)) + 5
        nb = int(min(gen.events_per_batch, max(need, 10)))
        t0 = time.process_time()
        with _banner_to_stderr("fjcore"):
            batch = pythia.nextBatch(nb)
        pythia_cpu += time.process_time() - t0
        events += len(batch)
        if _STOP.is_set():
            raise KeyboardInterrupt
        if len(batch) == 0:
            raise FpgatagError(f"generate: Pythia produced no {proc.name} events (every event failed)")
        out = process_events(batch, proc, gen, charges)
        out.pop("_event")
        if out["jet"].shape[0]:
            parts.append(out)
            have += out["jet"].shape[0]
    res = {k: np.concatenate([p[k] for p in parts])[: task.n_jets] for k in parts[0]}
    n = task.n_jets
    res["uid"] = (uid_base(task.seed, proc, task.chunk) + np.arange(n, dtype=np.int64)).astype(np.int64)
    res["label"] = np.full(n, task.label, dtype=np.int8)
    res.update(compute_views(res["particles"], res["n_particles"], res["uid"], views))
    if task.lund is not None:
        from fpgatag.data.lund import LundSettings, lund_trees

        res.update(lund_trees(res["particles"], res["n_particles"], LundSettings(**task.lund)))
    vetoed, in_shower = (hooks.vetoed, hooks.vetoed_shower) if hooks is not None else (0, 0)
    res["_events"] = np.asarray([events + vetoed, vetoed, in_shower], dtype=np.int64)  # generated, vetoed (in shower)
    res["_pythia_cpu"] = np.asarray([init_cpu, pythia_cpu])  # CPU seconds in Pythia's init, events (benchmark)
    return res


def check_space(output: Path, n_jets: int, bytes_per_jet: int = 1000) -> None:
    """Refuse, before the simulation, a job whose file cannot fit on the output's file system (files
    take about 3 kB per jet; 1 kB is taken as the floor)."""
    import shutil

    here = Path(output).resolve()
    where = next((p for p in here.parents if p.exists()), None)
    if where is None:
        return
    free, need = shutil.disk_usage(where).free, int(n_jets) * bytes_per_jet
    if free < need:
        raise FpgatagError(f"{output}: {free / 1e6:.1f} MB free on {where}, {n_jets} jets need at least "
                           f"{need / 1e6:.1f} MB")


def plan_chunks(processes: Sequence[str], jets_per_class: int, seed: int, shard: tuple[int, int] | None,
                gen: GeneratorSettings, views: ViewSettings, lund=None) -> list[ChunkTask]:
    """The chunks this job (or shard) generates, in file order (chunk-major, then process)."""
    return list(iter_chunks(processes, jets_per_class, seed, shard, gen, views, lund))


def shard_chunks(n_chunks: int, shard: tuple[int, int] | None) -> range:
    """The chunk numbers of shard i of N: ``np.array_split`` of ``range(n_chunks)``, without the array."""
    i, n = shard if shard is not None else (0, 1)
    size, extra = divmod(n_chunks, n)
    lo = i * size + min(i, extra)
    return range(lo, lo + size + (1 if i < extra else 0))


def iter_chunks(processes: Sequence[str], jets_per_class: int, seed: int, shard: tuple[int, int] | None,
                gen: GeneratorSettings, views: ViewSettings, lund=None) -> Iterator[ChunkTask]:
    """:func:`plan_chunks` one task at a time (a huge job is never held in memory)."""
    g, v = gen.to_dict(), views.to_dict()
    lw = lund.to_dict() if lund is not None else None
    for c in shard_chunks(math.ceil(jets_per_class / gen.chunk_jets), shard):
        size = min(gen.chunk_jets, jets_per_class - c * gen.chunk_jets)
        for label, name in enumerate(processes):
            yield ChunkTask(name, label, c, size, int(seed), g, v, lw)


# Set by SIGINT/SIGTERM while generate() runs in this process. A signal that arrives inside a long C++
# call (Pythia's nextBatch, FastJet) raises KeyboardInterrupt only when Python runs again, and native
# code that checks and clears Python's error state can swallow it; the flag survives that, and the
# event loop checks it after every batch.
_STOP = threading.Event()


@contextlib.contextmanager
def _stop_on_signals():
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def handler(signum, frame):  # noqa: ARG001
        # a flag, not an exception: an exception raised in a signal handler can land in a callback
        # (a weakref's, a C library's) that prints and swallows it; the loops check the flag after
        # every Pythia batch and while they wait for workers, and raise KeyboardInterrupt there
        _STOP.set()

    _STOP.clear()
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.getsignal(sig)
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        _STOP.clear()


def _worker_init() -> None:
    # the parent handles Ctrl-C and terminates the pool
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def check_job(processes, jets_per_class, seed, workers, shard, settings):
    """Check a job's arguments (ArgumentError naming the argument) before any work; returns the processes,
    jets per class and shard normalised, the generator and view settings and the shard's chunks."""
    processes = tuple(processes)
    if not processes:
        raise ArgumentError("processes", ": give at least one process")
    for name in processes:
        get_process(name)
    if len(set(processes)) != len(processes):
        raise ArgumentError("processes", f": a process is listed twice: {', '.join(processes)}")
    if int(jets_per_class) < 1:
        raise ArgumentError("jets_per_class", f": must be >= 1, got {jets_per_class}")
    if int(workers) < 1:
        raise ArgumentError("workers", f": must be >= 1, got {workers}")
    if shard is not None:
        si, sn = (int(v) for v in shard)
        if sn < 1 or not 0 <= si < sn:
            raise ArgumentError("shard", f" {si}/{sn}: need 0 <= i < N (shards are numbered 0..N-1)")
        shard = (si, sn)
    gen, views = split_settings(settings)
    check_uid_fields(seed, int(jets_per_class), gen.chunk_jets)
    n_chunks = math.ceil(int(jets_per_class) / gen.chunk_jets)
    chunks = shard_chunks(n_chunks, shard)
    if not chunks:
        raise ArgumentError("shard", f" {shard[0]}/{shard[1]}: this shard is empty (the job has only "
                            f"{n_chunks} chunk(s) of {gen.chunk_jets} jets per class); use fewer shards")
    return processes, int(jets_per_class), shard, gen, views, chunks


def generate(output, processes=("qcd", "top"), jets_per_class=1000, seed=1, workers=1, shard=None,
             settings=None, lund=None, scheduler=None, executor=None) -> Path:
    """Generate ``jets_per_class`` jets of each process into the native file ``output`` (atomically).

    Label index = position in ``processes``. ``shard`` = (i, N) generates the i-th of N
    deterministic slices of the job. ``settings`` overrides GeneratorSettings / ViewSettings fields.
    ``lund`` (a ``fpgatag.data.lund.LundSettings``) also stores each jet's Lund tree.
    The chunks run on ``executor`` (any ``concurrent.futures.Executor``), on the Dask cluster at
    ``scheduler``, or on ``workers`` local processes (:mod:`fpgatag.core.executor`); the file is the same.
    """
    from fpgatag.core.executor import open_engine
    from fpgatag.core.io import atomic_path
    from fpgatag.core.logs import progress
    from fpgatag.core.provenance import provenance
    from fpgatag.data.io import NativeWriter

    output = Path(output)
    processes, jets_per_class, shard, gen, views, chunks = check_job(processes, jets_per_class, seed, workers,
                                                                     shard, settings)
    n_tasks = len(chunks) * len(processes)
    n_chunks = math.ceil(jets_per_class / gen.chunk_jets)
    short = n_chunks * gen.chunk_jets - jets_per_class if chunks[-1] == n_chunks - 1 else 0  # the last chunk's
    total = len(processes) * (len(chunks) * gen.chunk_jets - short)
    check_space(output, total)
    tasks = iter_chunks(processes, jets_per_class, seed, shard, gen, views, lund)
    attrs = {
        "classes": list(processes),
        "generator": {**gen.to_dict(), "processes": {p: dataclasses.asdict(PROCESSES[p]) for p in processes},
                      "jets_per_class": jets_per_class, "shard": list(shard) if shard else None},
        "views": views.to_dict(),
        "seed": int(seed),
        **({"lund": lund.to_dict()} if lund is not None else {}),
        "provenance": provenance({"jets_per_class": jets_per_class, "workers": int(workers),
                                 **({"scheduler": str(scheduler)} if scheduler is not None else {})}),
    }
    n_events = 0
    local = 1 if n_tasks == 1 else min(int(workers), n_tasks)
    with _stop_on_signals(), open_engine(local, scheduler, executor, _worker_init) as engine, \
            atomic_path(output) as tmp:
        log.info("generating %d jets (%s) in %d chunk(s) on %s -> %s",
                 total, ", ".join(processes), n_tasks, engine.description, output)
        with NativeWriter(tmp, attrs, n_particles=gen.max_particles, n_towers=views.n_towers,
                          n_candidates=views.n_candidates,
                          n_lund=lund.max_nodes if lund is not None else None) as writer:
            with progress(total=total, unit="jet", desc="generate") as bar:
                group: list[dict[str, np.ndarray]] = []
                for res in _run_tasks(tasks, engine):
                    n_events += int(res.pop("_events")[0])
                    res.pop("_pythia_cpu")
                    group.append(res)
                    bar.update(len(res["label"]))
                    if len(group) == len(processes):  # one chunk of every process: write interleaved
                        writer.append(interleave(group))
                        group = []
                    if _STOP.is_set():
                        raise KeyboardInterrupt
            writer.set_attr("n_events", n_events)
        os.chmod(tmp, 0o644)
    log.info("wrote %s (%d jets from %d events)", output, total, n_events)
    return output


def interleave(batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Equal-size batches (one per process) -> one batch with rows alternating between them, so
    any contiguous slice of a file is balanced between classes (good for streaming)."""
    return {k: np.stack([b[k] for b in batches], axis=1).reshape(-1, *batches[0][k].shape[1:])
            for k in batches[0]}


def _run_tasks(tasks: Iterable[ChunkTask], engine):
    """Every chunk's result, in chunk order, whichever worker ran it (a chunk lost with its worker is rerun
    by Dask and still arrives in its place)."""
    from fpgatag.core.executor import map_ordered

    yield from map_ordered(engine, run_chunk, tasks, stop=_STOP)
