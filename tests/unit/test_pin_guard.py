"""The rejected-PIN record: what may be sent to which SIM (pure decisions, and the file they live in)."""

import pytest

from qcm.connect.pin_guard import PinGuard, PinMarks, PinRefused

SIM, OTHER = "iccid:8930", "iccid:8931"


def test_a_rejected_pin_is_refused_for_that_sim_only():
    marks = PinMarks()
    marks.sending(SIM, "9999", 3, 1.0)
    marks.answered(SIM, "9999", accepted=False, now=2.0)
    assert marks.refusal(SIM, "9999", 2)
    assert marks.refusal(SIM, "1234", 2) is None            # a different PIN may go
    assert marks.refusal(OTHER, "9999", 3) is None          # another SIM's record is its own


def test_every_rejected_pin_is_remembered_until_one_is_accepted():
    marks = PinMarks()
    for pin in ("1111", "2222"):
        marks.answered(SIM, pin, accepted=False, now=1.0)
    assert marks.refusal(SIM, "1111", 1) and marks.refusal(SIM, "2222", 1)  # alternating would reach the PUK
    marks.answered(SIM, "0123", accepted=True, now=2.0)
    assert marks.empty


@pytest.mark.parametrize("tries_now,refused", [(3, False), (2, True), (None, True)])
def test_a_pin_whose_answer_was_lost_goes_again_only_if_the_sim_shows_it_never_arrived(tries_now, refused):
    marks = PinMarks()
    marks.sending(SIM, "9999", 3, 1.0)
    assert bool(marks.refusal(SIM, "9999", tries_now)) is refused


def test_the_record_survives_the_process_and_is_root_only(tmp_path):
    directory = tmp_path / "state" / "pin"
    PinGuard(directory).sending(SIM, "9999", 3)
    PinGuard(directory).answered(SIM, "9999", accepted=False)
    files = list(directory.glob("*.json"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o777 == 0o600
    assert directory.stat().st_mode & 0o777 == 0o700
    assert "9999" not in files[0].read_text() and "8930" not in files[0].name
    with pytest.raises(PinRefused, match="rejected this PIN before"):
        PinGuard(directory).check(SIM, "9999", 2, "ICCID ...8930")
    PinGuard(directory).forget(SIM)
    assert not list(directory.glob("*.json"))


def test_a_damaged_record_refuses_rather_than_forgets(tmp_path):
    directory = tmp_path / "pin"
    guard = PinGuard(directory)
    guard.answered(SIM, "9999", accepted=False)
    next(directory.glob("*.json")).write_text("{not json")
    with pytest.raises(PinRefused, match="cannot read the record"):
        PinGuard(directory).check(SIM, "1234", 3, "x")


def test_an_unwritable_state_directory_still_protects_this_process(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    guard = PinGuard(blocker / "pin")  # cannot be created: a file is in the way
    guard.answered(SIM, "9999", accepted=False)
    with pytest.raises(PinRefused):
        guard.check(SIM, "9999", 2, "x")
