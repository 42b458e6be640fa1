"""``voiceflow voices clone`` as a user runs it: a real process, the fake ElevenLabs on a real socket."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

from voiceflow.testing.fakes import tts_audio
from voiceflow.testing.fakes.aiohttp_fake import serve_in_thread
from voiceflow.testing.fakes.elevenlabs_server import FakeElevenLabsServer

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voiceflow.cli", "voices", "clone", *args],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_clone_uploads_the_samples_and_prints_the_voice_id(tmp_path: Path) -> None:
    sample = tmp_path / "agent.wav"
    with wave.open(str(sample), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(tts_audio.speech("Hello, this is how I sound.", "pcm", 16000))
    with serve_in_thread(FakeElevenLabsServer) as fake:
        env = {"ELEVENLABS_API_KEY": fake.api_key, "VOICEFLOW_ELEVENLABS_URL": fake.http_url}
        done = _run("Support Sam", str(sample), "--description", "calm", env=env)
        assert done.returncode == 0, done.stderr
        (upload,) = fake.uploads
        assert upload.name == "Support Sam" and upload.files == [("agent.wav", sample.stat().st_size)]
        assert f"VOICEFLOW_ELEVENLABS_VOICE={upload.voice_id}" in done.stdout
        bad = _run("X", str(tmp_path / "missing.wav"), env=env)
        assert bad.returncode == 1 and "does not exist" in bad.stderr
        refused = _run("X", str(sample), env={**env, "ELEVENLABS_API_KEY": "wrong"})
        assert refused.returncode == 1 and "invalid_api_key" in refused.stderr
        nokey = _run("X", str(sample), env={**env, "ELEVENLABS_API_KEY": ""})
        assert nokey.returncode == 2 and "ELEVENLABS_API_KEY" in nokey.stderr
        assert len(fake.uploads) == 1
