"""Speech Commands v0.02 (Warden 2018): raw 16 kHz waveforms or 20 MFCCs, 10 or 35 words.

The paper's task (as in the CKConv and CCNN code): the 10 words yes, no, up, down, left, right, on,
off, stop, go (labels in that order), clips shorter than 16,000 samples dropped (34,975 clips remain
in the full data); ``num_words=35``: every word (labels in sorted order), short clips zero-padded.

Splits: the official ``validation_list.txt`` / ``testing_list.txt``. The original code instead
split its 34,975 clips at random, stratified, 70 / 15 / 15 % (scikit-learn ``train_test_split``,
seeds 0 and 1), so its test set is not the official one (see docs/experiments.md).

Layout (the archive unpacked, as torchaudio does): ``<root>/SpeechCommands/speech_commands_v0.02/<word>/<file>.wav``
with ``validation_list.txt`` and ``testing_list.txt`` naming the official validation and test
files (``<word>/<file>.wav``); every other file is training data. Folders starting with ``_``
(``_background_noise_``) are not words.

* raw: waveforms in [-1, 1], zero-padded at the end to 16,000 samples: x (1, 16000).
* MFCC, as in the CKConv code (``torchaudio.transforms.MFCC(n_mfcc=20, log_mels=True,
  melkwargs=dict(n_fft=200, n_mels=64))``): power spectrogram with a 200-sample Hann window and
  hop 100, 64 HTK mel bands, ``log(mel + 1e-6)``, orthonormal DCT-II to 20 coefficients:
  x (20, 161). torchaudio computes it when installed; otherwise :func:`mfcc` does the same
  computation with ``torch.stft``.

Both are standardised per channel with the training split's mean and std. All three splits are
read in one pass (about 105,000 files for the real data) and kept in memory for the process.
"""

from __future__ import annotations

import logging
import math
import wave
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from flexconv.data.records import DatasetNotFoundError, DatasetRecord, LoadOptions

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
N_MFCC, N_MELS, N_FFT, HOP = 20, 64, 200, 100
SPLITS = ("train", "val", "test")
PAPER_WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
NUM_WORDS = (10, 35)


def speech_folder(root: str) -> Path:
    """The unpacked archive's folder under ``root``."""
    return Path(root) / "SpeechCommands" / "speech_commands_v0.02"


def wav_length(path: Path) -> int:
    """Number of samples of a wav file (header only)."""
    with wave.open(str(path), "rb") as handle:
        return handle.getnframes()


def read_wav(path: Path) -> np.ndarray:
    """16-bit PCM mono wav -> float32 (16000,) in [-1, 1], zero-padded at the end or cut to 16,000 samples."""
    with wave.open(str(path), "rb") as handle:
        if handle.getsampwidth() != 2 or handle.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono PCM")
        frames = handle.readframes(handle.getnframes())
    audio = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    out = np.zeros(SAMPLE_RATE, dtype=np.float32)
    out[: min(len(audio), SAMPLE_RATE)] = audio[:SAMPLE_RATE]
    return out


def mel_filterbank(n_freqs: int, n_mels: int, sample_rate: int) -> torch.Tensor:
    """Triangular HTK-mel filterbank (n_freqs, n_mels) from 0 Hz to Nyquist, unnormalised (torchaudio's default)."""
    hz_to_mel = lambda f: 2595.0 * math.log10(1.0 + f / 700.0)  # noqa: E731
    mels = torch.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), n_mels + 2)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    freqs = torch.linspace(0, sample_rate // 2, n_freqs).unsqueeze(1)
    rising = (freqs - hz[:-2]) / (hz[1:-1] - hz[:-2])
    falling = (hz[2:] - freqs) / (hz[2:] - hz[1:-1])
    return torch.clamp(torch.minimum(rising, falling), min=0.0)


def _mfcc_torch(waves: torch.Tensor) -> torch.Tensor:
    """(N, 16000) -> (N, 20, 161) without torchaudio: STFT power, mel bands, log, orthonormal DCT-II."""
    spec = torch.stft(
        waves, N_FFT, HOP, window=torch.hann_window(N_FFT), center=True, pad_mode="reflect", return_complex=True
    )
    mel = torch.einsum("nft,fm->nmt", spec.abs().square(), mel_filterbank(spec.shape[1], N_MELS, SAMPLE_RATE))
    log_mel = torch.log(mel + 1e-6)
    k = torch.arange(N_MFCC, dtype=torch.float32).unsqueeze(1)
    m = torch.arange(N_MELS, dtype=torch.float32).unsqueeze(0)
    dct = torch.cos(math.pi / N_MELS * (m + 0.5) * k) * math.sqrt(2.0 / N_MELS)
    dct[0] /= math.sqrt(2.0)
    return torch.einsum("km,nmt->nkt", dct, log_mel)


def mfcc(waves: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """(N, 16000) waveforms -> (N, 20, 161) MFCCs, computed ``chunk`` waveforms at a time (bounded memory)."""
    try:
        import torchaudio

        transform = torchaudio.transforms.MFCC(
            SAMPLE_RATE, N_MFCC, log_mels=True, melkwargs={"n_fft": N_FFT, "n_mels": N_MELS}
        )
        compute = transform.__call__
    except ImportError:
        compute = _mfcc_torch
    with torch.no_grad():
        return torch.cat([compute(part) for part in waves.split(chunk)]) if len(waves) else torch.zeros(0, N_MFCC, 161)


def _split_files(folder: Path, num_words: int) -> tuple[list[str], dict[str, list[tuple[Path, int]]]]:
    """The words (label order) and, per split, the (wav path, label) pairs.

    10 words: the paper's, clips shorter than 16,000 samples left out; 35: every word folder, sorted.
    """
    if num_words == 10:
        words = list(PAPER_WORDS)
        missing = [w for w in words if not (folder / w).is_dir()]
        if missing:
            raise FileNotFoundError(f"Speech Commands in {folder} lacks the word folders {missing}")
    else:
        words = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("_"))
    listed = {s: set((folder / f"{s}_list.txt").read_text().split()) for s in ("validation", "testing")}
    files: dict[str, list[tuple[Path, int]]] = {s: [] for s in SPLITS}
    for label, word in enumerate(words):
        for path in sorted((folder / word).glob("*.wav")):
            if num_words == 10 and wav_length(path) < SAMPLE_RATE:
                continue
            relative = f"{word}/{path.name}"
            split = "val" if relative in listed["validation"] else "test" if relative in listed["testing"] else "train"
            files[split].append((path, label))
    return words, files


@lru_cache(maxsize=2)
def _load(root: str, features: str, num_words: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """All three splits of ``features`` ("raw" or "mfcc"), standardised with the training statistics."""
    folder = speech_folder(root)
    words, files = _split_files(folder, num_words)
    log.info("Speech Commands: %d words, %s files", len(words), {s: len(f) for s, f in files.items()})
    out = {}
    for split, pairs in files.items():
        waves = torch.from_numpy(np.stack([read_wav(p) for p, _ in pairs])) if pairs else torch.zeros(0, SAMPLE_RATE)
        x = waves.unsqueeze(1) if features == "raw" else mfcc(waves)
        out[split] = (x, torch.tensor([label for _, label in pairs], dtype=torch.long))
    train = out["train"][0]
    mean, std = train.mean(dim=(0, 2), keepdim=True), train.std(dim=(0, 2), keepdim=True).clamp_min(1e-6)
    return {split: ((x - mean) / std, y) for split, (x, y) in out.items()}


def speech_commands(root: str, split: str, features: str, num_words: int = 10) -> TensorDataset:
    """Official split "train", "val" or "test" as (1, 16000) waveforms (``features="raw"``) or (20, 161) MFCCs ("mfcc").

    num_words: 10 (the paper's words, full-length clips only) or 35 (every word).
    """
    if split not in SPLITS or features not in ("raw", "mfcc"):
        raise ValueError(f"split must be one of {SPLITS} and features 'raw' or 'mfcc', got {split!r}, {features!r}")
    if num_words not in NUM_WORDS:
        raise ValueError(f"num_words must be one of {NUM_WORDS}, got {num_words!r}")
    return TensorDataset(*_load(str(Path(root).resolve()), features, num_words)[split])


def _record_split(record: DatasetRecord, split: str, options: LoadOptions, features: str) -> TensorDataset:
    """:func:`speech_commands` with ``record.num_classes`` words; DatasetNotFoundError (with the fix) when absent."""
    folder = speech_folder(options.root)
    if not ((folder / "testing_list.txt").is_file() and (folder / "validation_list.txt").is_file()):
        raise DatasetNotFoundError(
            f"{record.name}: no Speech Commands v0.02 (validation_list.txt, testing_list.txt, <word>/*.wav) in "
            f"{folder.resolve()}. To fix: {record.hint(str(Path(options.root).resolve()))}"
        )
    return speech_commands(options.root, split, features, num_words=record.num_classes)


# -- the loaders of the records (flexconv.data.records) ----------------------------------------------
def load_raw(record: DatasetRecord, split: str, options: LoadOptions) -> TensorDataset:
    """Waveforms (1, 16000) of the official split (train, val or test)."""
    return _record_split(record, split, options, "raw")


def load_mfcc(record: DatasetRecord, split: str, options: LoadOptions) -> TensorDataset:
    """MFCCs (20, 161) of the official split (train, val or test)."""
    return _record_split(record, split, options, "mfcc")
