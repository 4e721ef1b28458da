"""The MBIM backend (backend.py), its dial sequence (dial.py), what answers mean (readings.py),
why a session was refused (calls.py), and the FCC-locked units it may unlock (unlock.py)."""
