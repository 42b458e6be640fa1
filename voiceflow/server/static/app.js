// voiceflow call page: the browser's own RTCPeerConnection against POST /webrtc/offer.
// Events from the server arrive as JSON on the "events" data channel (see
// voiceflow/transports/webrtc/events.py); the page sends {"type": "hangup"} to end the call.
"use strict";

(() => {
  const $ = (sel) => document.querySelector(sel);
  const callButton = $("#call");
  const hangupButton = $("#hangup");
  const statusEl = $("#status");
  const speakingEl = $("#speaking");
  const transcriptEl = $("#transcript");
  const latencyBody = $("#latency tbody");
  const audioEl = $("#agent-audio");
  const ICE_GATHER_TIMEOUT_MS = 3000;

  let pc = null;
  let channel = null;
  let microphone = null;
  let userLine = null; // the caller's line being spoken (interim until final)
  let agentLine = null; // the agent's reply of the current turn

  function setState(state, text) {
    document.body.dataset.state = state;
    statusEl.textContent = text || state;
    callButton.disabled = state === "connecting" || state === "connected";
    hangupButton.disabled = !(state === "connecting" || state === "connected");
  }

  function newLine(role) {
    const line = document.createElement("div");
    line.className = `line ${role}`;
    line.dataset.role = role;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = role === "user" ? "You" : "Agent";
    const text = document.createElement("span");
    text.className = "text";
    line.append(who, text);
    transcriptEl.append(line);
    transcriptEl.scrollTop = transcriptEl.scrollHeight;
    return line;
  }

  function showUser(text, final) {
    if (!userLine) userLine = newLine("user");
    userLine.querySelector(".text").textContent = text;
    userLine.classList.toggle("interim", !final);
    if (final) {
      userLine = null;
      agentLine = null; // the agent's answer to this turn starts a new line
    }
  }

  function showAgent(text, final) {
    if (!agentLine) {
      agentLine = newLine("agent");
      agentLine.sentences = [];
      agentLine.tokens = "";
    }
    if (final) agentLine.sentences.push(text.trim());
    else agentLine.tokens += text;
    // sentences sent to synthesis are what is spoken; streamed tokens show until the first one arrives
    const shown = agentLine.sentences.length ? agentLine.sentences.join(" ") : agentLine.tokens;
    agentLine.querySelector(".text").textContent = shown;
    agentLine.classList.toggle("streaming", !agentLine.sentences.length);
    transcriptEl.scrollTop = transcriptEl.scrollHeight;
  }

  function showLatency(event) {
    const id = `turn-${event.turn}`;
    let row = latencyBody.querySelector(`tr[data-turn="${event.turn}"]`);
    if (!row) {
      row = document.createElement("tr");
      row.id = id;
      row.dataset.turn = String(event.turn);
      row.innerHTML = "<td></td><td></td>";
      latencyBody.append(row);
    }
    row.cells[0].textContent = String(event.turn);
    row.cells[1].textContent = `${Math.round(event.v2v_ms)} ms`;
  }

  function onEvent(message) {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch (err) {
      console.warn("ignored a non-JSON event", err);
      return;
    }
    switch (event.type) {
      case "transcript":
        if (event.role === "user") showUser(event.text, event.final);
        else showAgent(event.text, event.final);
        break;
      case "latency":
        showLatency(event);
        break;
      case "speaking":
        speakingEl.hidden = !event.active;
        break;
      case "interrupt":
        if (agentLine) agentLine.classList.add("interrupted");
        agentLine = null;
        speakingEl.hidden = true;
        break;
      default:
        break; // metrics and future event types are not shown
    }
  }

  function iceGatheringDone(peer) {
    if (peer.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ICE_GATHER_TIMEOUT_MS); // host candidates arrive in ms
      peer.addEventListener("icegatheringstatechange", () => {
        if (peer.iceGatheringState === "complete") {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  async function call() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      setState("error", "the microphone needs https or localhost");
      return;
    }
    setState("connecting", "connecting…");
    try {
      microphone = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
      pc = new RTCPeerConnection({ iceServers: [] });
      const peer = pc;
      microphone.getTracks().forEach((track) => peer.addTrack(track, microphone));
      channel = peer.createDataChannel("events");
      channel.onmessage = onEvent;
      peer.ontrack = (e) => {
        audioEl.srcObject = e.streams[0] || new MediaStream([e.track]);
        audioEl.play().catch((err) => console.warn("autoplay blocked", err));
      };
      peer.onconnectionstatechange = () => {
        if (pc !== peer) return;
        const s = peer.connectionState;
        if (s === "connected") setState("connected", "connected — speak now");
        else if (s === "failed" || s === "closed") hangup(`call ${s}`);
      };
      await peer.setLocalDescription(await peer.createOffer());
      await iceGatheringDone(peer);
      const grant = await fetch("/token", { cache: "no-store" });
      if (!grant.ok) throw new Error(`no call token (server answered ${grant.status})`);
      const { token } = await grant.json();
      const response = await fetch("/webrtc/offer", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Voiceflow-Token": token },
        body: JSON.stringify({ sdp: peer.localDescription.sdp, type: peer.localDescription.type }),
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(answer.error || `server answered ${response.status}`);
      if (pc !== peer) return; // hung up while waiting
      document.body.dataset.peerId = answer.peer_id || "";
      await peer.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
    } catch (err) {
      console.error(err);
      hangup();
      setState("error", `call failed: ${err.message || err}`);
    }
  }

  function hangup(reason) {
    if (channel && channel.readyState === "open") {
      try {
        channel.send(JSON.stringify({ type: "hangup" }));
      } catch (err) {
        console.warn(err);
      }
    }
    if (pc) pc.close();
    if (microphone) microphone.getTracks().forEach((track) => track.stop());
    pc = null;
    channel = null;
    microphone = null;
    audioEl.srcObject = null;
    speakingEl.hidden = true;
    setState("ended", reason || "call ended");
  }

  callButton.addEventListener("click", call);
  hangupButton.addEventListener("click", () => hangup());
  window.addEventListener("pagehide", () => hangup());
  window.voiceflowCall = { call, hangup }; // for tests and the console
})();
