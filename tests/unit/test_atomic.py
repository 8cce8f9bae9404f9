from pathlib import Path

import pytest

from paperlens.index.atomic import replace_atomically


def test_the_new_file_replaces_the_old_and_no_temp_file_stays(tmp_path):
    target = tmp_path / "index.bin"
    target.write_bytes(b"old")

    replace_atomically(target, lambda tmp: Path(tmp).write_bytes(b"new"))

    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["index.bin"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_fragment(tmp_path):
    target = tmp_path / "index.bin"
    target.write_bytes(b"old")

    def disk_full(tmp: str) -> None:
        Path(tmp).write_bytes(b"half of the n")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        replace_atomically(target, disk_full)

    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["index.bin"]


def test_the_folder_is_created(tmp_path):
    target = tmp_path / "cache" / "onnx" / "graph.onnx"
    replace_atomically(target, lambda tmp: Path(tmp).write_bytes(b"graph"))
    assert target.read_bytes() == b"graph"
