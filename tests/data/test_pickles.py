"""The CIFAR and downsampled-ImageNet pickles are read without running code: a crafted file in the data
root is refused with an error naming it, and files in the datasets' own formats still load."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from flexconv.data.fake import make_fake_tree, write_imagenet
from flexconv.data.readers import ForbiddenPickleError, load_data_pickle, read_cifar, read_downsampled_imagenet
from flexconv.data.records import get_record


class RunsACommand:
    """Unpickling this calls ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple:
        return os.system, (self.command,)


def test_a_cifar_batch_that_would_run_a_command_is_refused_and_named(tmp_path: Path) -> None:
    root = make_fake_tree("cifar10", tmp_path / "data", n_train=4, n_test=4)
    crafted = root / "cifar-10-batches-py" / "data_batch_3"
    marker = tmp_path / "ran"
    with crafted.open("wb") as handle:
        pickle.dump({"data": RunsACommand(f"touch {marker}"), "labels": [0]}, handle, protocol=2)

    with pytest.raises(ForbiddenPickleError, match=rf"{crafted} is not a dataset pickle: it names (posix|nt)\.system"):
        read_cifar(root, train=True)
    assert not marker.exists()
    assert read_cifar(root, train=False)[0].shape == (4, 32, 32, 3)  # the untouched test batch still loads


def test_imagenet_pickles_load(tmp_path: Path) -> None:
    record = get_record("imagenet32")
    write_imagenet(record, tmp_path, 3, 2, np.random.default_rng(0), npz=False)  # the pickled distribution
    images, labels = read_downsampled_imagenet(tmp_path / record.name, train=True)
    assert images.shape == (6, 32, 32, 3) and labels.min() >= 0 and labels.max() <= 999


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_every_pickle_protocol_of_numpy_arrays_loads(protocol: int, tmp_path: Path) -> None:
    entry = {
        "data": np.arange(12, dtype=np.uint8).reshape(2, 6),
        b"labels": [3, 4],
        "mean": np.zeros(3),
        "batch_label": "training batch 1 of 5",
        "filenames": [b"a.png"],
        "count": np.int64(2),
    }
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps(entry, protocol=protocol))
    loaded = load_data_pickle(path)
    assert loaded.keys() == entry.keys() and np.array_equal(loaded["data"], entry["data"])
    assert loaded[b"labels"] == [3, 4] and loaded["filenames"] == [b"a.png"] and loaded["count"] == 2


def test_a_python2_cifar_batch_loads(tmp_path: Path) -> None:
    # What CIFAR-10's files hold: protocol 2, numpy 1 module names, the image bytes as a Python 2 str.
    data = bytes(range(6))
    py2 = (
        b"\x80\x02}q\x00(U\x06labelsq\x01]q\x02(K\x01K\x02eU\x04dataq\x03cnumpy.core.multiarray\n_reconstruct\n"
        b"q\x04cnumpy\nndarray\nq\x05K\x00\x85U\x01b\x87Rq\x06(K\x01K\x02K\x03\x86cnumpy\ndtype\nq\x07U\x02u1K\x00K\x01"
        b"\x87Rq\x08(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89U\x06" + data + b"tbu."
    )
    path = tmp_path / "data_batch_1"
    path.write_bytes(py2)
    loaded = load_data_pickle(path, encoding="latin1")
    assert loaded["labels"] == [1, 2] and np.array_equal(loaded["data"], np.arange(6, dtype=np.uint8).reshape(2, 3))
