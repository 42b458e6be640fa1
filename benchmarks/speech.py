"""Speech benchmark: codecs, resampling, VAD, STT and TTS costs on this machine.

* G.711 μ-law / A-law encode and decode throughput (MB/s of input), with the C
  ``audioop`` module side by side (ratio = ours / audioop);
* soxr stream resampling cost per call-second in 20 ms chunks;
* Silero VAD CPU per call-second and the implied concurrent calls per core;
* pocketsphinx streaming STT real-time factor and the final-transcript delay after
  the end of speech (from ``finalize`` to the final, once the last frame was decoded), plus WER
  on the caller sentence set over the phone line, with and without phrase hints, and
  with the domain language model (its build time and clean 16 kHz WER too);
* pocketsphinx (domain LM) and Whisper tiny.en (its short window, and the 30 s window
  faster-whisper uses) side by side over the phone line, spoken by
  Piper and by espeak-ng (an unfamiliar voice): WER, keyword and digit recall, real-time
  factor, and the final's delay after the end of speech with audio paced at real time;
  ``stt_wer_phone_piper`` / ``stt_wer_phone_espeak`` (and the recalls) repeat the figures of
  the default recognizer;
* the smart-turn v3.2 audio end-of-turn model on finished and cut-off sentences, wideband
  and over the 8 kHz phone line, both voices (benchmarks/_turn_model.py says how);
* Piper TTS time to first audio and real-time factor.

    .venv/bin/python benchmarks/speech.py [--quick] [--json] [--only 'side by side']
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks._turn_model import bench_turn_model  # noqa: E402
from voiceflow.config import STTSettings  # noqa: E402
from voiceflow.core.clock import MonotonicClock  # noqa: E402
from voiceflow.processors.audio import codecs  # noqa: E402
from voiceflow.processors.audio.resample import StreamResampler  # noqa: E402
from voiceflow.processors.audio.silero import vad_cpu_per_call_second  # noqa: E402
from voiceflow.services.stt import domain_lm  # noqa: E402
from voiceflow.services.stt.engine import STTEngine  # noqa: E402
from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine  # noqa: E402
from voiceflow.services.tts.piper import PiperEngine  # noqa: E402
from voiceflow.sim.recognize import Recognition, recognize, recognize_through_vad  # noqa: E402
from voiceflow.sim.speech import (  # noqa: E402
    CallerSentence,
    caller_sentences,
    digit_strings_exact,
    from_phone_line,
    keyword_recall,
    synthesize,
    synthesize_espeak,
    to_phone_line,
    word_error_rate,
)

DIGITS = frozenset("zero one two three four five six seven eight nine".split())

REPLIES = (
    "Sure, I can help with that.",
    "Your order 1002 shipped on Monday and should arrive by Thursday afternoon.",
    "I have moved your appointment to Tuesday at ten in the morning. You will get a confirmation email.",
    "I'm sorry about the trouble. Let me look into it right away.",
    "Is there anything else I can help you with today?",
    "Thanks for calling. Goodbye!",
)


def _best_of(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_codecs(quick: bool) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop  # the stdlib C module (on 3.13+ the audioop-lts package provides it)
    rng = np.random.default_rng(7)
    pcm = rng.integers(-32768, 32767, size=(1 if quick else 4) * 1_000_000, dtype=np.int16).tobytes()
    ulaw, alaw = codecs.ulaw_encode(pcm), codecs.alaw_encode(pcm)
    repeat = 3 if quick else 7
    cases = {
        "ulaw_encode": (lambda: codecs.ulaw_encode(pcm), lambda: audioop.lin2ulaw(pcm, 2), len(pcm)),
        "ulaw_decode": (lambda: codecs.ulaw_decode(ulaw), lambda: audioop.ulaw2lin(ulaw, 2), len(ulaw)),
        "alaw_encode": (lambda: codecs.alaw_encode(pcm), lambda: audioop.lin2alaw(pcm, 2), len(pcm)),
        "alaw_decode": (lambda: codecs.alaw_decode(alaw), lambda: audioop.alaw2lin(alaw, 2), len(alaw)),
    }
    out: dict[str, float] = {}
    for name, (ours, theirs, size) in cases.items():
        ours_mbs = size / _best_of(ours, repeat) / 1e6
        theirs_mbs = size / _best_of(theirs, repeat) / 1e6
        out[f"{name}_mb_s"] = round(ours_mbs, 1)
        out[f"{name}_audioop_mb_s"] = round(theirs_mbs, 1)
        out[f"{name}_ratio"] = round(ours_mbs / theirs_mbs, 2)
    return out


def bench_resample(speech16: bytes, quick: bool) -> dict[str, float]:
    seconds = 10 if quick else 60
    out: dict[str, float] = {}
    for src, dst in ((8000, 16000), (16000, 8000), (22050, 8000), (48000, 16000)):
        audio = StreamResampler(16000, src).process(speech16, last=True) if src != 16000 else speech16
        reps = int(np.ceil(seconds * src / max(1, len(audio) // 2)))
        stream = (audio * reps)[: 2 * seconds * src]
        step = 2 * src // 50
        resampler = StreamResampler(src, dst)
        start = time.thread_time()
        for i in range(0, len(stream), step):
            resampler.process(stream[i : i + step])
        cpu = time.thread_time() - start
        name = f"resample_{src / 1000:g}k_to_{dst // 1000}k_ms_per_call_s"
        out[name] = round(1000 * cpu / seconds, 3)
    return out


def bench_vad(speech16: bytes, quick: bool) -> dict[str, float]:
    seconds = 10 if quick else 30
    reps = int(np.ceil(seconds * 16000 * 2 / len(speech16)))
    audio = (speech16 * reps)[: seconds * 32000]
    cpu = vad_cpu_per_call_second(audio, 16000)
    return {"vad_cpu_ms_per_call_s": round(1000 * cpu, 2), "vad_calls_per_core": round(1 / cpu, 1)}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _recognize_all(
    engine: STTEngine, lines: list[bytes], warm: tuple[bytes, ...] = ()
) -> tuple[list[Recognition], float]:
    """Every line through one stream of ``engine`` (after ``warm`` lines, not returned); wall seconds."""

    async def main() -> tuple[list[Recognition], float]:
        stream = await engine.open_stream()
        try:
            for pcm in warm:
                await recognize(stream, pcm)
            start = time.perf_counter()
            out = [await recognize(stream, pcm) for pcm in lines]
            return out, time.perf_counter() - start
        finally:
            await stream.aclose()

    return asyncio.run(main())


def bench_stt(quick: bool) -> dict[str, float]:
    sentences = caller_sentences()[: 8 if quick else None]
    lines = [from_phone_line(to_phone_line(synthesize(s.spoken, 16000)), 16000) for s in sentences]
    audio_s = sum(len(pcm) for pcm in lines) / 32000
    out: dict[str, float] = {}
    variants = {"hints": PocketsphinxEngine(channel="phone")}
    if not quick:
        variants["nohints"] = PocketsphinxEngine(channel="phone", hints=None)
    variants["domain"] = PocketsphinxEngine(channel="phone", domain_lm=True)  # hints on, domain LM
    for label, engine in variants.items():
        results, busy = _recognize_all(engine, lines)
        delays = [1000 * r.final_after_finalize for r in results]
        pairs = [(s, r.text) for s, r in zip(sentences, results, strict=True)]
        wer = word_error_rate([(s.spoken, h) for s, h in pairs])
        recall = keyword_recall([(s.keywords, h) for s, h in pairs])
        digits = keyword_recall(
            [(tuple(k for k in s.keywords if k in DIGITS), h) for s, h in pairs if DIGITS & set(s.keywords)]
        )
        if label in ("hints", "domain"):
            suffix = "" if label == "hints" else "_domain"
            out[f"stt_rtf{suffix}"] = round(busy / audio_s, 3)
            out[f"stt_final_delay_p50_ms{suffix}"] = round(_pct(delays, 0.5), 1)
            out[f"stt_final_delay_p95_ms{suffix}"] = round(_pct(delays, 0.95), 1)
        out[f"stt_wer_{label}"] = round(wer, 3)
        out[f"stt_keyword_recall_{label}"] = round(recall, 3)
        out[f"stt_digit_recall_{label}"] = round(digits, 3)
    out["stt_sentences"] = len(sentences)
    return out


def _phone(voice: Callable[[str, int], bytes], text: str) -> bytes:
    """``text`` said by ``voice`` with 0.25 s of lead silence, over μ-law 8 kHz, back at 16 kHz."""
    return from_phone_line(to_phone_line(bytes(8000) + voice(text, 16000)), 16000)


def _recognizers() -> dict[str, Callable[[], STTEngine]]:
    """The two offline recognizers as the offline pipeline configures them for a phone line, and
    Whisper over faster-whisper's 30 s window (the decode it replaced) and with numbers as it
    writes them (no spelled reading), in the same run. The
    lines are separate requests sent back to back: Whisper does not read one together with the
    line before (``join_secs=0``), as in a call it does not across the agent's reply."""
    from voiceflow.services.stt.whisper import WhisperEngine
    from voiceflow.services.stt.whisper_decode import Window

    return {
        "pocketsphinx": lambda: PocketsphinxEngine(channel="phone", domain_lm=True),
        "whisper": lambda: WhisperEngine(join_secs=0),
        "whisper_30s": lambda: WhisperEngine(windows=(Window(pad_s=None),), join_secs=0),
        # numbers as Whisper writes them, without the spelled-out second reading (spell_numbers)
        "whisper_written_numbers": lambda: WhisperEngine(join_secs=0, spell_numbers=False),
    }


def _paced_delays(engine: STTEngine, lines: list[bytes]) -> list[float]:
    """Final after the end of speech (ms), audio paced at real time, ``finalize`` after the VAD's
    0.25 s stop window of silence: what the endpointer waits for."""

    async def main() -> list[float]:
        clock = MonotonicClock()
        stream = await engine.open_stream()
        try:
            out = []
            for pcm in lines:
                r = await recognize(stream, pcm, trailing_silence_ms=250, clock=clock)
                out.append(1000 * r.final_after_speech)
            return out
        finally:
            await stream.aclose()

    return asyncio.run(main())


def _scores(key: str, sentences: list[CallerSentence], heard: list[str]) -> dict[str, float]:
    pairs = list(zip(sentences, heard, strict=True))
    digit_items = [
        (tuple(k for k in s.keywords if k in DIGITS), h) for s, h in pairs if DIGITS & set(s.keywords)
    ]
    return {
        f"stt_wer_{key}": round(word_error_rate([(s.spoken, h) for s, h in pairs]), 3),
        f"stt_keyword_recall_{key}": round(keyword_recall([(s.keywords, h) for s, h in pairs]), 3),
        f"stt_digit_recall_{key}": round(keyword_recall(digit_items), 3),
        f"stt_digit_strings_exact_{key}": round(digit_strings_exact([(s.spoken, h) for s, h in pairs]), 3),
    }


def _through_vad(engine: STTEngine, lines: list[bytes]) -> list[str]:
    """Each line as the agent hears it: resampled, cut by Silero VAD, each utterance decoded."""

    async def main() -> list[str]:
        return [(await recognize_through_vad(engine, pcm, 16000))[0] for pcm in lines]

    return asyncio.run(main())


def bench_stt_compare(quick: bool) -> dict[str, float]:
    """pocketsphinx and Whisper side by side over the phone line, Piper's voice and espeak-ng's:
    each line decoded whole, and as the agent hears it (``_vad`` keys: through Silero VAD)."""
    sentences = caller_sentences()[: 8 if quick else None]
    voices: dict[str, Callable[[str, int], bytes]] = {"piper": synthesize, "espeak": synthesize_espeak}
    lines = {v: [_phone(voice, s.spoken) + bytes(16000) for s in sentences] for v, voice in voices.items()}
    paced = [_phone(synthesize, s.spoken) for s in sentences[: 4 if quick else 10]]
    out: dict[str, float] = {}
    for name, make in _recognizers().items():
        for voice in voices:
            results, busy = _recognize_all(make(), lines[voice])
            key = f"phone_{voice}_{name}"
            out |= _scores(key, sentences, [r.text for r in results])
            out |= _scores(f"{key}_vad", sentences, _through_vad(make(), lines[voice]))
            out[f"stt_rtf_{key}"] = round(busy / (sum(len(p) for p in lines[voice]) / 32000), 3)
        delays = _paced_delays(make(), paced)
        out[f"stt_final_after_speech_p50_ms_{name}"] = round(_pct(delays, 0.5), 1)
        out[f"stt_final_after_speech_p95_ms_{name}"] = round(_pct(delays, 0.95), 1)
    # the targets' keys, for the recognizer the offline agent uses by default (VOICEFLOW_STT)
    default = STTSettings().engine
    for voice in voices:
        for measure in ("wer", "keyword_recall", "digit_recall", "digit_strings_exact"):
            out[f"stt_{measure}_phone_{voice}"] = out[f"stt_{measure}_phone_{voice}_{default}"]
            out[f"stt_{measure}_phone_{voice}_vad"] = out[f"stt_{measure}_phone_{voice}_{default}_vad"]
    out["stt_compare_sentences"] = len(sentences)
    out["stt_compare_paced_sentences"] = len(paced)
    return out


def bench_domain_lm(quick: bool) -> dict[str, float]:
    """Domain LM build time (corpus + Kneser-Ney + ARPA) and generic vs domain WER on clean 16 kHz."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        model = domain_lm.build_domain_lm(Path(tmp) / "domain.arpa")
        build_s = time.perf_counter() - start
        size_kb = (Path(tmp) / "domain.arpa").stat().st_size / 1024
    out: dict[str, float] = {
        "domain_lm_build_s": round(build_s, 2),
        "domain_lm_size_kb": round(size_kb),
        **{f"domain_lm_{n}grams": len(model[n]) for n in model},
    }
    sentences = caller_sentences()[: 8 if quick else None]
    clean = [bytes(8000) + synthesize(s.spoken, 16000) + bytes(16000) for s in sentences]
    # the channel mean of clean speech, learnt from one sentence that is not scored
    warm = (synthesize("hello i am calling about the bill i got last month", 16000),)
    for label, options in (("generic", {}), ("domain", {"domain_lm": True})):
        engine = PocketsphinxEngine(**options)  # type: ignore[arg-type]
        results, _ = _recognize_all(engine, clean, warm)
        out[f"stt_wer_clean_{label}"] = round(
            word_error_rate([(s.spoken, r.text) for s, r in zip(sentences, results, strict=True)]), 3
        )
    return out


async def _tts(engine: PiperEngine, text: str) -> tuple[float, float, float]:
    start = time.perf_counter()
    first = None
    samples = 0
    async for chunk in engine.synthesize(text):
        if first is None:
            first = time.perf_counter() - start
        samples += len(chunk) // 2
    total = time.perf_counter() - start
    return 1000 * (first or total), total, samples / engine.sample_rate


def bench_tts(quick: bool) -> dict[str, float]:
    engine = PiperEngine()
    engine.load()
    replies = REPLIES[:3] if quick else REPLIES * 3

    async def run() -> list[tuple[float, float, float]]:
        await _tts(engine, "Warm up.")
        return [await _tts(engine, text) for text in replies]

    results = asyncio.run(run())
    firsts = [r[0] for r in results]
    return {
        "tts_first_audio_p50_ms": round(statistics.median(firsts), 1),
        "tts_first_audio_p95_ms": round(_pct(firsts, 0.95), 1),
        "tts_rtf": round(sum(r[1] for r in results) / sum(r[2] for r in results), 3),
        "tts_sample_rate_hz": engine.sample_rate,
    }


def _table(figures: dict[str, float]) -> str:
    width = max(len(k) for k in figures)
    return "\n".join(f"  {k:<{width}}  {v}" for k, v in figures.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short run (fewer sentences, less audio)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--only", default="", help="run only the sections whose title contains this text")
    args = ap.parse_args()
    speech16 = b"".join(synthesize(s.spoken, 16000) for s in caller_sentences()[:6])
    runs: dict[str, Callable[[], dict[str, float]]] = {
        "codecs (MB/s of input; ratio = voiceflow / audioop)": lambda: bench_codecs(args.quick),
        "resampling (ms CPU per call-second, 20 ms chunks)": lambda: bench_resample(speech16, args.quick),
        "VAD (Silero, 16 kHz)": lambda: bench_vad(speech16, args.quick),
        "STT (pocketsphinx, phone line, 20 ms feeds; domain = domain LM)": lambda: bench_stt(args.quick),
        "STT side by side (phone line; Piper and espeak-ng voices)": lambda: bench_stt_compare(args.quick),
        "domain LM (build; generic vs domain WER on clean 16 kHz)": lambda: bench_domain_lm(args.quick),
        "turn model (smart-turn v3.2; wideband, phone line; Piper, espeak-ng)": lambda: bench_turn_model(
            args.quick
        ),
        "TTS (Piper joe-medium)": lambda: bench_tts(args.quick),
    }
    sections = {title: run() for title, run in runs.items() if args.only.lower() in title.lower()}
    figures = {k: v for section in sections.values() for k, v in section.items()}
    figures["quick"] = int(args.quick)
    if args.json:
        print(json.dumps(figures))
        return
    for title, section in sections.items():
        print(title)
        print(_table(section))


if __name__ == "__main__":
    main()
