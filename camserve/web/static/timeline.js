// The camera page's timeline: the recorded stretches of time, from minutes
// to weeks across (the wheel or the buttons zoom, a sideways wheel pans),
// and the playback of the recording in the page's picture. A click or drag
// on the timeline plays from that time (a gap plays from the next recorded
// frame); pause, step, speed and LIVE control the playback's session; LIVE
// goes back to the live stream. An admin of a camera recorded on demand
// starts and stops its recording; a span marked on the timeline exports.
// What moved (activity and motion events) is drawn by activity.js.
"use strict";

(() => {
  const section = document.getElementById("timeline");
  if (!section) return;
  const { PartReader, TimeScale, activityLayer, live } = window.camserve;
  const api = section.dataset.api;
  const canvas = document.getElementById("timeline-canvas");
  const img = document.getElementById("stream");
  const badge = document.getElementById("mode-badge");
  const shownTime = document.getElementById("shown-time");
  const spanLabel = document.getElementById("span-label");
  const play = document.getElementById("play");
  const stepBack = document.getElementById("step-back");
  const stepForward = document.getElementById("step-forward");
  const speed = document.getElementById("speed");
  const liveButton = document.getElementById("live");
  const record = document.getElementById("record");
  const exportLink = document.getElementById("export");
  const REFRESH_MS = 5000;

  let session = null; // the playback's session while one plays
  let controller = null;
  let shown = null; // the capture time of the recorded frame shown
  let paused = false;
  let frameUrl = null;

  const now = () => Date.now() / 1000;
  const moved = activityLayer(canvas, api, (x) => scale.timeAt(x), () => draw());
  const scale = new TimeScale(canvas, {
    head: () => (session ? shown : now()),
    headColor: () => (session ? "#8ab4f8" : "#ea4335"),
    onSeek: (when) => seek(when),
    onChange: () => {
      draw();
      refresh();
    },
    decorate: (context, x, width, height) => moved.draw(context, x, height),
  });
  const marks = scale.marks;

  function draw() {
    scale.draw();
    spanLabel.textContent = scale.describe();
  }

  let asking = null;
  async function refresh() {
    const from = scale.left() - scale.span;
    const to = scale.right() + scale.span;
    const mine = new AbortController();
    asking?.abort();
    asking = mine;
    moved.refresh(scale.left(), scale.right(), canvas.clientWidth, from, to);
    try {
      const response = await fetch(`${api}recordings?start=${from}&end=${to}`, { cache: "no-store", signal: mine.signal });
      if (response.ok) scale.rows = [await response.json()];
    } catch (error) {
      return;
    }
    draw();
  }

  function showState() {
    const playing = session !== null;
    badge.textContent = !playing ? "LIVE" : paused ? "PAUSED" : "PLAYBACK";
    if (playing) delete badge.dataset.live;
    else badge.dataset.live = "";
    section.dataset.playing = String(playing);
    // The playback's controls show while a recording plays, in place of
    // the live picture's Pause (see camera.js).
    for (const button of [play, stepBack, stepForward, liveButton]) button.hidden = !playing;
    play.disabled = !playing;
    liveButton.disabled = !playing;
    stepBack.disabled = !playing || !paused;
    stepForward.disabled = !playing || !paused;
    play.textContent = paused ? "Play" : "Pause";
    play.setAttribute("aria-pressed", String(paused));
    shownTime.textContent = playing && shown !== null ? new Date(shown * 1000).toLocaleString() : "";
    draw();
  }

  function showFrame(jpeg, stamp) {
    const url = URL.createObjectURL(new Blob([jpeg], { type: "image/jpeg" }));
    const old = frameUrl;
    frameUrl = url;
    img.src = url;
    if (old) URL.revokeObjectURL(old);
    shown = stamp;
    img.dataset.timestamp = String(stamp);
    showState();
  }

  // Play the recording from `when` in the picture, on a stream of its own.
  async function start(when) {
    controller?.abort();
    live.leave();
    const mine = new AbortController();
    controller = mine;
    paused = false;
    session = "";
    shown = when;
    showState();
    try {
      const response = await fetch(`playback?start=${when}&speed=${speed.value}`, { cache: "no-store", signal: mine.signal });
      if (!response.ok || !response.body) throw new Error(await response.text());
      session = response.headers.get("x-playback-session");
      const parts = new PartReader((headers, jpeg) => {
        if (controller === mine) showFrame(jpeg, parseFloat(headers["x-timestamp"]));
      });
      const reader = response.body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parts.push(value);
      }
    } catch (error) {
      // Aborted by the page, or refused: either way the stream is over.
    }
    if (controller === mine) backToLive();
  }

  function backToLive() {
    controller?.abort();
    controller = null;
    session = null;
    paused = false;
    delete img.dataset.timestamp;
    live.back();
    showState();
  }

  async function control(asked) {
    if (!session) return;
    const response = await fetch(`playback/${encodeURIComponent(session)}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(asked),
    });
    const answer = await response.json();
    if (response.status === 404 && answer.error === "no such playback") {
      backToLive();
      return;
    }
    if (response.ok) {
      paused = answer.paused;
      showState();
    }
  }

  function seek(when) {
    if (session) control({ action: "seek", time: when });
    else start(when);
  }

  const middle = () => (session && shown !== null ? shown : scale.right() - scale.span / 2);
  document.getElementById("zoom-in").addEventListener("click", () => scale.zoom(0.5, middle()));
  document.getElementById("zoom-out").addEventListener("click", () => scale.zoom(2, middle()));

  play.addEventListener("click", () => control({ action: paused ? "resume" : "pause" }));
  stepBack.addEventListener("click", () => control({ action: "step", frames: -1 }));
  stepForward.addEventListener("click", () => control({ action: "step", frames: 1 }));
  speed.addEventListener("change", () => control({ action: "speed", speed: Number(speed.value) }));
  liveButton.addEventListener("click", backToLive);

  function mark(which) {
    marks[which] = session && shown !== null ? shown : now();
    if (marks[0] !== null && marks[1] !== null) {
      const [first, last] = [Math.min(...marks), Math.max(...marks)];
      // X-Timestamp rounds the capture times to the microsecond: half a
      // millisecond more each way takes in the frames marked, and no other.
      exportLink.href = `${api}export?start=${first - 0.0005}&end=${last + 0.0005}`;
      exportLink.hidden = false;
    }
    draw();
  }
  document.getElementById("mark-start").addEventListener("click", () => mark(0));
  document.getElementById("mark-end").addEventListener("click", () => mark(1));

  function showRecording(state) {
    if (!record) return;
    const on = state === "recording";
    record.setAttribute("aria-pressed", String(on));
    record.textContent = on ? "Stop recording" : "Record";
  }
  if (record) {
    showRecording(section.dataset.recording);
    record.addEventListener("click", async () => {
      const on = record.getAttribute("aria-pressed") === "true";
      record.disabled = true;
      try {
        const response = await fetch(`${api}recording`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ action: on ? "stop" : "start" }),
        });
        const answer = await response.json();
        if (response.ok) showRecording(answer.state);
      } finally {
        record.disabled = false;
        refresh();
      }
    });
  }

  window.addEventListener("resize", draw);
  setInterval(refresh, REFRESH_MS);
  setInterval(draw, 1000);
  showState();
  refresh();
})();
