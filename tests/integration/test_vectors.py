"""The FAISS layer on real FAISS files: ids are chunk ids, saves are atomic, a file that disagrees with the
store is rebuilt, and the IVF layout (switched on by size) stays close to exact search and supports deletes."""

from __future__ import annotations

import numpy as np
import pytest

from paperlens.index.vectors import VectorIndex, ivf_nlist

DIM = 32


def clustered(n: int, seed: int = 0, clusters: int = 40, spread: float = 0.35) -> np.ndarray:
    """Normalised vectors around random centres: the shape real embeddings have, unlike uniform noise."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, DIM)).astype(np.float32)
    rows = centres[rng.integers(0, clusters, n)] + spread * rng.standard_normal((n, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def batches(ids, vectors, size=500):
    for start in range(0, len(ids), size):
        yield ids[start : start + size], vectors[start : start + size]


def test_ids_are_chunk_ids_and_remove_takes_them_out(tmp_path):
    index = VectorIndex(tmp_path / "v.faiss", DIM)
    vectors = clustered(50)
    ids = np.arange(1000, 1050)
    index.add(ids, vectors)
    (found, score), *_ = index.search(vectors[7], 3)
    assert found == 1007 and score == pytest.approx(1.0, abs=1e-5)
    assert index.remove([1007, 1008, 424242]) == 2
    assert 1007 not in [i for i, _ in index.search(vectors[7], 50)]
    assert sorted(index.ids().tolist()) == sorted(set(ids.tolist()) - {1007, 1008})
    # Restricting to allowed ids returns only those, however far they are.
    allowed = np.array([1040, 1041])
    assert {i for i, _ in index.search(vectors[7], 10, allowed_ids=allowed)} == {1040, 1041}
    assert index.search(vectors[7], 10, allowed_ids=np.array([], dtype=np.int64)) == []


def test_save_then_load_agrees_with_the_store(tmp_path):
    path = tmp_path / "v.faiss"
    vectors, ids = clustered(300), np.arange(1, 301)
    first = VectorIndex(path, DIM)
    assert first.load_or_rebuild(ids, batches(ids, vectors)) == "rebuilt"
    again = VectorIndex(path, DIM)
    assert again.load_or_rebuild(ids, iter(())) == "loaded"  # the store's batches are not read at all
    assert again.search(vectors[5], 1)[0][0] == 6
    assert (
        VectorIndex(tmp_path / "empty.faiss", DIM).load_or_rebuild(np.array([], np.int64), iter(()))
        == "empty"
    )


@pytest.mark.parametrize("damage", ["missing", "stale", "extra", "torn", "other_dim"])
def test_a_file_that_disagrees_with_the_store_is_rebuilt_from_it(tmp_path, damage):
    path = tmp_path / "v.faiss"
    vectors, ids = clustered(300), np.arange(1, 301)
    index = VectorIndex(path, DIM)
    index.load_or_rebuild(ids, batches(ids, vectors))
    if damage == "missing":
        path.unlink()
    elif damage == "stale":  # a crash after the SQLite commit, before the FAISS save
        index.remove([300])
        index.save()
    elif damage == "extra":  # a crash after a delete was committed, before the FAISS save
        index.add([999], clustered(1, seed=3))
        index.save()
    elif damage == "torn":
        path.write_bytes(path.read_bytes()[:1000])
    elif damage == "other_dim":
        other = VectorIndex(path, DIM * 2)
        other.add([1], np.ones((1, DIM * 2), np.float32) / np.sqrt(DIM * 2))
        other.save()
    reopened = VectorIndex(path, DIM)
    assert reopened.load_or_rebuild(ids, batches(ids, vectors)) == "rebuilt"
    assert sorted(reopened.ids().tolist()) == ids.tolist()
    assert reopened.search(vectors[299], 1)[0][0] == 300
    assert VectorIndex(path, DIM).load_or_rebuild(ids, iter(())) == "loaded"  # and the repair was saved


def test_a_failed_save_leaves_the_previous_file_whole_and_no_temp_files(tmp_path, monkeypatch):
    import faiss

    path = tmp_path / "v.faiss"
    index = VectorIndex(path, DIM)
    index.add([1, 2], clustered(2))
    index.save()
    before = path.read_bytes()
    index.add([3], clustered(1, seed=1))

    def crash(_index, filename):
        with open(filename, "wb") as fh:
            fh.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(faiss, "write_index", crash)
    with pytest.raises(OSError, match="disk full"):
        index.save()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["v.faiss"]


def test_ivf_is_close_to_exact_and_exact_under_filters(tmp_path):
    vectors, ids = clustered(6000, seed=1), np.arange(1, 6001)
    flat = VectorIndex(tmp_path / "flat.faiss", DIM, kind="flat")
    ivf = VectorIndex(tmp_path / "ivf.faiss", DIM, kind="ivf", nprobe=8)
    flat.load_or_rebuild(ids, batches(ids, vectors))
    ivf.load_or_rebuild(ids, batches(ids, vectors))
    assert (flat.kind, ivf.kind) == ("flat", "ivf")
    queries = clustered(50, seed=2)
    recall = np.mean(
        [len({i for i, _ in flat.search(q, 10)} & {i for i, _ in ivf.search(q, 10)}) / 10 for q in queries]
    )
    assert recall >= 0.9
    allowed = ids[::37]  # a filter: scanned exhaustively, so exactly the flat answer
    for q in queries[:10]:
        got, want = ivf.search(q, 5, allowed_ids=allowed), flat.search(q, 5, allowed_ids=allowed)
        assert [i for i, _ in got] == [i for i, _ in want]
        assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-5)

    # Deletes work on IVF, and the layout survives a save and a load.
    assert ivf.remove(ids[:100]) == 100
    ivf.save()
    reopened = VectorIndex(tmp_path / "ivf.faiss", DIM, kind="ivf", nprobe=8)
    assert reopened.load_or_rebuild(ids[100:], iter(())) == "loaded"
    assert reopened.kind == "ivf" and reopened.ntotal == 5900
    assert not set(ids[:100].tolist()) & {i for q in queries for i, _ in reopened.search(q, 10)}


def test_auto_switches_to_ivf_when_the_collection_grows_past_the_threshold(tmp_path):
    vectors, ids = clustered(3000, seed=4), np.arange(1, 3001)
    index = VectorIndex(tmp_path / "v.faiss", DIM, kind="auto", approximate_above=2500)
    index.add(ids[:2000], vectors[:2000])
    assert index.kind == "flat"
    index.add(ids[2000:], vectors[2000:])
    assert index.kind == "ivf" and sorted(index.ids().tolist()) == ids.tolist()
    assert index.search(vectors[2999], 1)[0][0] == 3000
    index.save()
    # Opening with a config that asks for exact search re-lays the same vectors out flat.
    exact = VectorIndex(tmp_path / "v.faiss", DIM, kind="flat")
    assert exact.load_or_rebuild(ids, batches(ids, vectors)) == "rebuilt" and exact.kind == "flat"


def test_ivf_cluster_count_grows_with_the_collection():
    assert ivf_nlist(2000) == 51  # capped so each cluster has >= 39 training points
    assert ivf_nlist(100_000) == 632
    assert ivf_nlist(10**7) == 6324
