"""Speech Commands v0.02 (Warden 2018), 35 words: raw 16 kHz waveforms or 20 MFCCs.

Layout (as unpacked by torchaudio): ``<root>/SpeechCommands/speech_commands_v0.02/<word>/<file>.wav``
with ``validation_list.txt`` and ``testing_list.txt``; every other file is training data.
Waveforms are zero-padded at the end to 16,000 samples: (1, 16000). MFCC features, as in the
CKConv paper: 20 coefficients from a 64-band mel spectrogram with a 200-sample window and hop 100
(``torchaudio.transforms.MFCC`` when torchaudio is installed, else the same computation here):
(20, 161).
"""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

from flexconv.data.records import DatasetNotFoundError, get_record

SAMPLE_RATE = 16000
N_MFCC, N_MELS, N_FFT, HOP = 20, 64, 200, 100


def speech_folder(root: str) -> Path:
    return Path(root) / "SpeechCommands" / "speech_commands_v0.02"


def read_wav(path: Path) -> np.ndarray:
    """16-bit PCM mono wav -> float32 in [-1, 1], zero-padded / cut to 16,000 samples."""
    with wave.open(str(path), "rb") as handle:
        frames = handle.readframes(handle.getnframes())
    audio = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    out = np.zeros(SAMPLE_RATE, dtype=np.float32)
    out[: min(len(audio), SAMPLE_RATE)] = audio[:SAMPLE_RATE]
    return out


def _mel_filterbank(n_freqs: int, n_mels: int, sample_rate: int) -> torch.Tensor:
    """Triangular HTK-mel filterbank (n_freqs, n_mels), as torchaudio's default."""
    hz_to_mel = lambda f: 2595.0 * math.log10(1.0 + f / 700.0)  # noqa: E731
    mels = torch.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), n_mels + 2)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    freqs = torch.linspace(0, sample_rate / 2, n_freqs)
    lower = (freqs.unsqueeze(1) - hz[:-2]) / (hz[1:-1] - hz[:-2])
    upper = (hz[2:] - freqs.unsqueeze(1)) / (hz[2:] - hz[1:-1])
    return torch.clamp(torch.minimum(lower, upper), min=0.0)


def mfcc(waves: torch.Tensor) -> torch.Tensor:
    """(N, 16000) waveforms -> (N, 20, 161) MFCCs."""
    try:
        import torchaudio

        transform = torchaudio.transforms.MFCC(SAMPLE_RATE, N_MFCC, melkwargs={"n_fft": N_FFT, "n_mels": N_MELS, "hop_length": HOP})
        return transform(waves)
    except ImportError:
        pass
    spec = torch.stft(waves, N_FFT, HOP, window=torch.hann_window(N_FFT), center=True, pad_mode="reflect", return_complex=True)
    power = spec.abs().square()  # (N, F, T)
    mel = torch.einsum("nft,fm->nmt", power, _mel_filterbank(power.shape[1], N_MELS, SAMPLE_RATE))
    db = 10.0 * torch.log10(mel.clamp_min(1e-10))
    db = torch.maximum(db, db.amax(dim=(1, 2), keepdim=True) - 80.0)
    n = torch.arange(N_MELS, dtype=torch.float32)
    dct = torch.cos(math.pi / N_MELS * (n + 0.5).unsqueeze(0) * torch.arange(N_MFCC, dtype=torch.float32).unsqueeze(1))
    dct = dct * math.sqrt(2.0 / N_MELS)
    dct[0] /= math.sqrt(2.0)
    return torch.einsum("km,nmt->nkt", dct, db)


def speech_commands(root: str, split: str, features: str) -> Dataset:
    """Split "train"/"val"/"test" of Speech Commands as (1, 16000) waves or (20, 161) MFCCs."""
    folder = speech_folder(root)
    if not (folder / "testing_list.txt").is_file():
        name = "speech_commands_raw" if features == "raw" else "speech_commands_mfcc"
        hint = get_record(name).download_hint.replace("<root>", str(root))
        raise DatasetNotFoundError(f"{name}: no Speech Commands v0.02 in {folder}. To fix: {hint}")
    words = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("_"))
    lists = {s: set((folder / f"{s}_list.txt").read_text().split()) for s in ("validation", "testing")}
    files, labels = [], []
    for label, word in enumerate(words):
        for path in sorted((folder / word).glob("*.wav")):
            relative = f"{word}/{path.name}"
            in_split = {"val": relative in lists["validation"], "test": relative in lists["testing"]}
            keep = in_split.get(split, not (in_split["val"] or in_split["test"]))
            if keep:
                files.append(path)
                labels.append(label)
    waves = torch.from_numpy(np.stack([read_wav(p) for p in files])) if files else torch.zeros(0, SAMPLE_RATE)
    x = waves.unsqueeze(1) if features == "raw" else mfcc(waves)
    return TensorDataset(x, torch.tensor(labels, dtype=torch.long))
