"""The simulated caller: synthesized caller speech, a phone line that carries it at real
time, a Twilio Media Streams client, and scripted calls (``voiceflow call``, benchmarks)."""
