"""Large buffers are stored as fixed-size chunks, each hashed from the copy that is written."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from ipyckpt import Store, StoreFormatError
from ipyckpt.store.chunks import CHUNK_SIZE, chunk_spans


def blob_files(store: Store) -> set[str]:
    return {p.name for p in (store.directory / "blobs").glob("*/*")}


def test_chunk_spans_cover_the_buffer_exactly() -> None:
    assert chunk_spans(0) == []
    assert chunk_spans(5, chunk=2) == [(0, 2), (2, 4), (4, 5)]
    assert chunk_spans(4, chunk=2) == [(0, 2), (2, 4)]


def test_one_element_change_writes_one_chunk(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    big = np.random.default_rng(0).standard_normal(8 * CHUNK_SIZE // 8 + 1000)  # 9 chunks
    first = store.save({"big": big, "step": 1})
    before = blob_files(store)
    big[len(big) // 2] += 1.0
    second = store.save({"big": big, "step": 1})
    new = blob_files(store) - before
    # one new chunk plus the (tiny) pickle segment, nothing else
    assert first.bytes_written > big.nbytes
    assert CHUNK_SIZE <= second.bytes_written < CHUNK_SIZE + 10_000
    assert len(new) <= 2
    np.testing.assert_array_equal(Store(tmp_path / "s").load().values["big"], big)


@pytest.mark.parametrize(
    "value",
    [
        np.arange(2 * CHUNK_SIZE // 8 + 3, dtype=np.float64),  # not a multiple of the chunk size
        np.arange(3 * CHUNK_SIZE // 4, dtype=np.int32).reshape(-1, 2, order="F"),
        np.zeros(0),
        np.frombuffer(bytes(range(256)) * 70_000, dtype=np.uint8),
    ],
    ids=["tail", "fortran", "empty", "bytes"],
)
def test_chunked_buffers_round_trip(tmp_path: Path, value: np.ndarray) -> None:
    Store(tmp_path / "s").save({"v": value, "w": [value, 1]})
    got = Store(tmp_path / "s").load().values
    np.testing.assert_array_equal(got["v"], value)
    assert got["v"].dtype == value.dtype and got["v"].flags.f_contiguous == value.flags.f_contiguous
    np.testing.assert_array_equal(got["w"][0], value)


def test_a_damaged_chunk_is_detected(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    store.save({"big": np.ones(3 * CHUNK_SIZE // 8)})
    chunk = next(
        p for p in (store.directory / "blobs").glob("*/*") if p.stat().st_size == CHUNK_SIZE
    )
    data = bytearray(chunk.read_bytes())
    data[100] ^= 1
    chunk.write_bytes(bytes(data))
    report = store.verify()
    assert not report.ok and "damaged" in str(report)


def test_a_store_of_the_previous_format_is_a_clear_error(tmp_path: Path) -> None:
    Store(tmp_path / "s").save({"x": 1})
    marker = tmp_path / "s" / "ipyckpt-store.json"
    marker.write_text(json.dumps({"format": "ipyckpt-store", "version": 2}))
    with pytest.raises(StoreFormatError, match=r"store format 2.*move it away"):
        Store(tmp_path / "s")


def test_a_thread_writing_into_an_array_never_damages_a_generation(tmp_path: Path) -> None:
    """The race of issue 12 item 1: a buffer hashed, then written later from live memory."""
    store = Store(tmp_path / "s", keep=5)
    data = np.zeros(128 << 17)  # 128 MB
    untouched = np.arange(1000.0)
    saving = threading.Event()
    stop = threading.Event()

    def mutate() -> None:
        while not stop.is_set():
            np.add(data, 1.0, out=data)  # in place; numpy releases the GIL
            saving.set()

    writer = threading.Thread(target=mutate)
    writer.start()
    try:
        saving.wait()
        for _ in range(3):
            store.save({"data": data, "untouched": untouched})
    finally:
        stop.set()
        writer.join()
    report = store.verify()
    assert report.ok, str(report)
    for gid in (1, 2, 3):
        values = Store(tmp_path / "s").load(generation=gid).values
        np.testing.assert_array_equal(values["untouched"], untouched)
        assert values["data"].shape == data.shape
