"""The model a page follows on disk: reloaded on a save, the last good one kept while
the file is broken or gone, and never written."""
import os
import time

import graphdsl
from graphdsl.serve.follow import FixedModel, FollowedFile


def save(path, text):
    """Write as an editor does, and make sure the change is visible to stat (and to the
    0.1 s throttle) at once."""
    path.write_text(text)
    stamp = time.time_ns() + 10**9
    os.utime(path, ns=(stamp, stamp))
    time.sleep(0.11)


def test_a_save_is_seen_and_a_broken_save_keeps_the_last_good_program(tmp_path):
    path = tmp_path / "m.graph"
    path.write_text("input x = 2\noutput f = x * x\n")
    model = FollowedFile(str(path))
    assert model.error is None and model.program.run().outputs["f"] == 4.0
    first = model.version
    save(path, "input x = 3\noutput f = x * x * x\n")
    model.refresh()
    assert model.version == first + 1 and model.program.run().outputs["f"] == 27.0
    good = model.program
    save(path, "input x = 3\noutput f = x *\n")
    model.refresh()
    assert model.program is good and model.error is not None
    assert (model.error.line, model.error.column) == (2, 15)
    path.unlink()
    time.sleep(0.11)
    model.refresh()
    assert model.program is good and "no such file" in model.error.message
    save(path, "input x = 5\noutput f = -x\n")
    model.refresh()
    assert model.error is None and model.program.run().grads["x"] == -1.0


def test_an_unchanged_file_is_not_read_again(tmp_path, monkeypatch):
    path = tmp_path / "m.graph"
    path.write_text("input x = 2\noutput f = x\n")
    model = FollowedFile(str(path))
    loads = []
    monkeypatch.setattr("graphdsl.serve.follow.load", lambda *a, **k: loads.append(a))
    for _ in range(3):
        time.sleep(0.11)
        model.refresh()
    assert loads == [] and model.version == 1


def test_an_editor_that_replaces_the_file_is_followed(tmp_path):
    path = tmp_path / "m.graph"
    path.write_text("input x = 2\noutput f = x\n")
    model = FollowedFile(str(path))
    replacement = tmp_path / ".m.graph.swp"
    replacement.write_text("input x = 2\noutput g = x + 1\n")
    os.replace(replacement, path)
    time.sleep(0.11)
    model.refresh()
    assert model.program.outputs == ("g",)


def test_the_file_is_never_written(tmp_path):
    path = tmp_path / "m.graph"
    path.write_text("input x = 2\noutput f = x\n")
    os.chmod(path, 0o444)  # read-only: a write would fail loudly
    before = os.stat(path)
    model = FollowedFile(str(path))
    for _ in range(3):
        model.refresh(force=True)
    after = os.stat(path)
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)
    assert os.listdir(tmp_path) == ["m.graph"]


def test_a_fixed_model_never_changes():
    program = graphdsl.loads("input x\noutput f = x")
    model = FixedModel(program)
    model.refresh()
    assert (model.program, model.error, model.version, model.follows) == (program, None, 1, False)
