"""Laptop modules that arrive FCC-locked, and the vendor unlock that frees their radio.

Lenovo, Dell and HP ship Quectel modules whose radio stays off ("software radio switch is OFF")
until the host sends the vendor's unlock; the laptop's own software does it on Windows, and
ModemManager's fcc-unlock scripts on Linux. For Quectel units that unlock is the Quectel
service's RADIO_STATE set on (``mbimcli --quectel-set-radio-state=on``, what ModemManager's
script for 1eac:1001 runs; libmbim data/mbim-service-quectel.json), and qcm sends it only to
the vendor and product ids below, as ModemManager only runs a script named after the ids.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

__all__ = ["FCC_LOCKED", "unlock_for"]

# (vendor, product) -> model: Quectel's PCIe ids (Linux mhi pci_generic.c) and the USB EM05-G
# (ModemManager's fcc-unlock.available.d/2c7c:030a). Every one takes the Quectel radio-state unlock.
FCC_LOCKED: Dict[Tuple[int, int], str] = {
    (0x1EAC, 0x1001): "EM120R-GL", (0x1EAC, 0x1002): "EM160R-GL", (0x1EAC, 0x1004): "RM520N-GL",
    (0x1EAC, 0x1007): "RM520N-GL (Lenovo)", (0x1EAC, 0x100D): "EM160R-GL", (0x1EAC, 0x2001): "EM120R-GL (FCCL)",
    (0x2C7C, 0x030A): "EM05-G",
}


def unlock_for(vendor: int, product: int) -> Optional[str]:
    """The model whose FCC unlock qcm sends, or None: qcm does not unlock other modules."""
    return FCC_LOCKED.get((vendor, product))
