"""FPGA parts: short names, full part strings and resource totals.

Totals are from the AMD/Xilinx product tables (DS890 UltraScale/UltraScale+ family overview,
DS891 Zynq UltraScale+ MPSoC, DS190 Zynq-7000, DS962/DS1000 Alveo U200/U250 data sheets).
``bram18`` counts RAMB18 halves (2 per RAMB36 block).
"""

from __future__ import annotations

from dataclasses import dataclass

from fpgatag.core.errors import FpgatagError

DEFAULT_PART = "xcvu9p"   # the VU9P of the CMS/ATLAS Level-1 trigger boards, and hls4ml's default part


@dataclass(frozen=True)
class Part:
    name: str          # short name (the device)
    full: str          # full part string given to hls4ml / the vendor tool
    dsp: int
    lut: int
    ff: int
    bram18: int
    family: str

    def totals(self) -> dict[str, int]:
        return {"dsp": self.dsp, "lut": self.lut, "ff": self.ff, "bram18": self.bram18}


PARTS: dict[str, Part] = {
    p.name: p
    for p in (
        # CMS/ATLAS Level-1 trigger boards (Serenity, APx, ...) and hls4ml's default part
        Part("xcvu9p", "xcvu9p-flga2104-2L-e", 6840, 1_182_240, 2_364_480, 4320, "Virtex UltraScale+"),
        Part("xcvu13p", "xcvu13p-flga2577-2-e", 12288, 1_728_000, 3_456_000, 5376, "Virtex UltraScale+"),
        Part("xcvu7p", "xcvu7p-flvb2104-2-e", 4560, 788_160, 1_576_320, 2880, "Virtex UltraScale+"),
        # Alveo accelerator cards (U200 = VU9P die, U250 = VU13P die)
        Part("xcu200", "xcu200-fsgd2104-2-e", 6840, 1_182_240, 2_364_480, 4320, "Alveo"),
        Part("xcu250", "xcu250-figd2104-2L-e", 12288, 1_728_000, 3_456_000, 5376, "Alveo"),
        # Kintex (the hls4ml tutorial's historical default, and UltraScale+)
        Part("xcku115", "xcku115-flvb2104-2-i", 5520, 663_360, 1_326_720, 4320, "Kintex UltraScale"),
        Part("xcku15p", "xcku15p-ffva1760-2-e", 1968, 522_720, 1_045_440, 1968, "Kintex UltraScale+"),
        # Zynq MPSoC / SoC (edge and test stands)
        Part("xczu9eg", "xczu9eg-ffvb1156-2-e", 2520, 274_080, 548_160, 1824, "Zynq UltraScale+"),
        Part("xczu3eg", "xczu3eg-sbva484-1-e", 360, 70_560, 141_120, 432, "Zynq UltraScale+"),
        Part("xc7z020", "xc7z020clg400-1", 220, 53_200, 106_400, 280, "Zynq-7000"),
    )
}


def known_parts() -> list[str]:
    return sorted(PARTS)


def resolve_part(name: str) -> Part:
    """A short name (``xcvu9p``) or a full part string (``xcvu9p-flgb2104-2-i``) -> :class:`Part`.

    A full part string is kept as given; its totals come from the device it names. A full string
    of a device not in the table is accepted with unknown totals (zeros, fractions not reported).
    An unknown short name is refused with the list of known parts.
    """
    key = str(name).strip().lower()
    if key in PARTS:
        return PARTS[key]
    for p in PARTS.values():
        if key == p.full or (key.startswith(p.name) and (key[len(p.name):len(p.name) + 1] in ("-", "c"))):
            return Part(p.name, key, p.dsp, p.lut, p.ff, p.bram18, p.family)
    if "-" in key and key.startswith("x"):
        return Part(key.split("-")[0], key, 0, 0, 0, 0, "unknown")
    raise FpgatagError(f"part: unknown part {name!r}; known parts: {', '.join(known_parts())} (or give a full part string)")
