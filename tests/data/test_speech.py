"""Speech Commands: the paper's 10 words (35 as an option), the official split lists, raw waveforms and MFCCs."""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from flexconv.data import FlexDataModule
from flexconv.data.fake import make_fake_tree
from flexconv.data.records import get_record
from flexconv.data.speech import (
    PAPER_WORDS,
    _mfcc_torch,
    _split_files,
    mel_filterbank,
    read_wav,
    speech_commands,
    speech_folder,
)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(make_fake_tree("speech_commands_raw", tmp_path_factory.mktemp("speech")))


def test_the_papers_ten_words_and_full_length_clips(root: str) -> None:
    """Default: yes..go as labels 0..9, clips shorter than 16,000 samples dropped, official lists."""
    sizes = {split: len(speech_commands(root, split, "raw")) for split in ("train", "val", "test")}
    assert sizes == {"train": 10, "val": 10, "test": 10}  # fake: 3 full clips + 1 short training clip per word
    x, y = speech_commands(root, "val", "raw")[:]
    assert x.shape == (10, 1, 16000) and sorted(y.tolist()) == list(range(10))
    assert PAPER_WORDS == ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
    _, files = _split_files(speech_folder(root), 10)
    assert {path.parent.name for path, label in files["test"] if label == 0} == {"yes"}
    assert all(path.name != "clip3.wav" for pairs in files.values() for path, _ in pairs)  # the short clips


def test_35_words_keep_every_clip(root: str) -> None:
    sizes = {split: len(speech_commands(root, split, "raw", num_words=35)) for split in ("train", "val", "test")}
    assert sizes == {"train": 70, "val": 35, "test": 35}
    x, y = speech_commands(root, "val", "raw", num_words=35)[:]
    assert x.shape == (35, 1, 16000) and sorted(y.tolist()) == list(range(35))
    with pytest.raises(ValueError, match="num_words"):
        speech_commands(root, "val", "raw", num_words=12)


def test_records_and_datamodule_default_to_ten_classes(root: str) -> None:
    assert (get_record("speech_commands_raw").num_classes, get_record("speech_commands_mfcc").num_classes) == (10, 10)
    assert (get_record("speech_commands35_raw").num_classes, get_record("speech_commands35_mfcc").num_classes) == (
        35,
        35,
    )
    dm = FlexDataModule("speech_commands35_raw", root=root, batch_size=4)
    dm.setup()
    assert len(dm.val_set) == 35 and int(dm.train_set[:][1].max()) == 34


def test_raw_waveforms_are_padded_and_standardised(root: str) -> None:
    x, _ = speech_commands(root, "train", "raw", num_words=35)[:]
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1) < 1e-2
    path = next(Path(speech_folder(root), "word20").glob("clip3.wav"))
    with wave.open(str(path)) as handle:
        frames = handle.getnframes()
    wav = read_wav(path)
    assert frames < 16000 and wav.shape == (16000,) and wav.dtype == np.float32 and np.all(wav[frames:] == 0)


def test_mfcc_features(root: str) -> None:
    dm = FlexDataModule("speech_commands_mfcc", root=root, batch_size=8)
    dm.setup()
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (8, 20, 161) and y.dtype == torch.long and torch.isfinite(x).all()
    assert len(dm.val_set) == 10  # official list, not val_fraction


def test_mfcc_fallback_matches_the_definition() -> None:
    t = torch.arange(16000) / 16000
    waves = torch.stack(
        [torch.sin(2 * math.pi * 1000 * t), 0.1 * torch.randn(16000, generator=torch.Generator().manual_seed(0))]
    )
    features = _mfcc_torch(waves)
    assert features.shape == (2, 20, 161)
    # Reference: power spectrum per frame with numpy, mel filterbank, log, orthonormal DCT-II (scipy).
    from scipy.fft import dct

    padded = np.pad(waves.numpy(), ((0, 0), (100, 100)), mode="reflect")
    window = np.hanning(201)[:-1]  # periodic Hann
    frames = np.stack([padded[:, i * 100 : i * 100 + 200] * window for i in range(161)], axis=-1)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # (2, 101, 161)
    mel = np.einsum("nft,fm->nmt", power, mel_filterbank(101, 64, 16000).numpy())
    expected = dct(np.log(mel + 1e-6), type=2, norm="ortho", axis=1)[:, :20]
    np.testing.assert_allclose(features.numpy(), expected, rtol=1e-3, atol=1e-3)


def test_mel_filterbank_triangles() -> None:
    bank = mel_filterbank(101, 64, 16000)
    assert bank.shape == (101, 64) and float(bank.min()) == 0 and float(bank.max()) <= 1
    # Band m peaks at the bin nearest to its centre, equally spaced on the HTK mel scale.
    mel_max = 2595 * math.log10(1 + 8000 / 700)
    centres = 700 * (10 ** (torch.linspace(0, mel_max, 66)[1:-1] / 2595) - 1)
    bins = torch.linspace(0, 8000, 101)
    for band in range(64):
        if float(bank[:, band].max()) > 0:  # the lowest bands are narrower than a bin and may be empty
            assert abs(float(bins[bank[:, band].argmax()] - centres[band])) <= 80.0
